//! What importing an Ethereum block costs as the state grows (issue 53):
//! the same kind of blocks imported over a state of `ACCOUNTS` accounts and
//! over one ten times larger.
//!
//! For each size a Prague chain is made here, by lanes' importer on a chain
//! of its own (`tests/it/made_blocks.rs`, as `tests/it/amsterdam.rs` makes
//! its blocks): a genesis
//! of that many funded accounts, then `BLOCKS` blocks of `TXS` transfers
//! from distinct senders to accounts spread over the whole state. The chain
//! is then imported into a fresh data folder by `lanes_node`'s `Importer`
//! (what `lanes-validator import` runs, with `--no-fsync`). Prints, per
//! size, the median per block of: the import (checks, execution, state root,
//! ledger and state commit), its state root (the kept trie, updated by the
//! block's changes), and the state root computed the way the importer did
//! before the trie was kept (every record of the parent state loaded and
//! its trie built whole); the first block imported, which builds the
//! head's trie, is shown apart. Then the larger state's medians over the
//! smaller's.
//!
//! Run: `cargo bench --bench import_cost` (`ACCOUNTS`, default 50,000;
//! `BLOCKS`, default 20; `TXS`, default 200), or `scripts/import-cost.sh`.
#![allow(missing_docs)]

#[path = "../tests/it/made_blocks.rs"]
mod made_blocks;

use std::path::Path;
use std::time::{Duration, Instant};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_genesis::{Genesis as GethGenesis, GenesisAccount};
use alloy_primitives::{Address, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use lanes_eth::genesis::DevFork;
use lanes_eth::{EthBlock, StateTrie, state_root};
use lanes_node::import::{ImportOptions, Importer};

const CHAIN_ID: u64 = 7953;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn signer(i: usize) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256(format!("import cost {i}"))).unwrap()
}

/// The `i`th account of the state's bulk.
fn holder(i: usize) -> Address {
    Address::from_slice(&keccak256(i.to_be_bytes())[12..])
}

fn genesis(accounts: usize, senders: usize) -> GethGenesis {
    let holders = (0..accounts)
        .map(|i| (holder(i), GenesisAccount::default().with_balance(U256::from(i + 1))));
    let funded = GenesisAccount::default().with_balance(U256::from(10u128.pow(21)));
    let senders = (0..senders).map(|i| (signer(i).address(), funded.clone()));
    made_blocks::genesis(DevFork::Prague, CHAIN_ID, holders.chain(senders))
}

fn transfer(from: &PrivateKeySigner, nonce: u64, to: Address) -> TxEnvelope {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value: U256::from(1),
        access_list: Default::default(),
        input: Default::default(),
    };
    let signature = from.sign_hash_sync(&tx.signature_hash()).unwrap();
    tx.into_signed(signature).into()
}

/// The chain's blocks, made by importing templates and filling in what
/// the importer computes; with the whole-state root of each, timed.
fn make_chain(
    dir: &Path,
    geth: &GethGenesis,
    accounts: usize,
    blocks: usize,
    txs: usize,
) -> (Vec<EthBlock>, Vec<Duration>) {
    let (eth, mut chain, mut parent) = made_blocks::chain(dir, geth);
    let senders: Vec<PrivateKeySigner> = (0..txs).map(signer).collect();
    let mut trie = StateTrie::load(&chain.db().view()).unwrap();
    let (mut made, mut whole) = (Vec::new(), Vec::new());
    for b in 0..blocks {
        let body: Vec<TxEnvelope> = senders
            .iter()
            .enumerate()
            .map(|(i, s)| transfer(s, b as u64, holder((b * txs + i) * 7919 % accounts)))
            .collect();
        let (header, imported) = made_blocks::make_block(&chain, &eth, &parent, &body, Some(&trie));
        let start = Instant::now();
        let root = state_root(&chain.db().view(), &imported.sealed.changes).unwrap();
        whole.push(start.elapsed());
        assert_eq!(root, header.state_root, "the whole-state root and the kept trie's agree");
        chain.commit(&imported.sealed).unwrap();
        trie = imported.trie;
        made.push(made_blocks::eth_block(&header, &body));
        parent = header;
    }
    (made, whole)
}

fn median(mut d: Vec<Duration>) -> f64 {
    d.sort_unstable();
    d[d.len() / 2].as_secs_f64() * 1e3
}

/// Medians (ms) of one size: import, its state root, the whole-state
/// root; and the first block's import and root.
struct Row {
    accounts: usize,
    import: f64,
    root: f64,
    whole: f64,
    first: (f64, f64),
}

fn run(accounts: usize, blocks: usize, txs: usize) -> Row {
    let dir = tempfile::tempdir().unwrap();
    let geth = genesis(accounts, txs);
    let genesis_path = dir.path().join("genesis.json");
    std::fs::write(&genesis_path, serde_json::to_vec(&geth).unwrap()).unwrap();
    let (made, whole) = make_chain(&dir.path().join("made"), &geth, accounts, blocks, txs);
    let options = ImportOptions { fsync: false, ..ImportOptions::default() };
    let data = dir.path().join("data");
    let mut importer = Importer::open(&data, Some(&genesis_path), &options).unwrap();
    let (mut import, mut root) = (Vec::new(), Vec::new());
    for block in &made {
        let stats = importer.import(block).unwrap();
        import.push(stats.total);
        root.push(stats.state_root);
    }
    let first = (import.remove(0).as_secs_f64() * 1e3, root.remove(0).as_secs_f64() * 1e3);
    Row { accounts, import: median(import), root: median(root), whole: median(whole), first }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the line.
    let accounts = env("ACCOUNTS", 50_000);
    let (blocks, txs) = (env("BLOCKS", 20), env("TXS", 200));
    println!(
        "import cost: {blocks} blocks of {txs} transfers each, over {accounts} and {} accounts",
        accounts * 10
    );
    println!(
        "{:>10}  {:>13}  {:>15}  {:>17}  {:>22}",
        "accounts", "import ms/blk", "state root ms", "whole-state ms", "first block (root) ms"
    );
    let rows: Vec<Row> = [accounts, accounts * 10].iter().map(|&n| run(n, blocks, txs)).collect();
    for r in &rows {
        println!(
            "{:>10}  {:>13.2}  {:>15.3}  {:>17.1}  {:>14.1} ({:.1})",
            r.accounts, r.import, r.root, r.whole, r.first.0, r.first.1
        );
    }
    let (small, large) = (&rows[0], &rows[1]);
    println!(
        "state 10x: import per block {:.2}x, its state root {:.2}x; the whole-state root {:.2}x",
        large.import / small.import,
        large.root / small.root,
        large.whole / small.whole
    );
}
