//! Writes the seed corpus of every target under `fuzz/seeds/<target>/`, from
//! real data: signed transactions of each type, real JSON-RPC request params,
//! real ledger files and accounts databases, the reference chain's blocks.
//! Deterministic: running it again writes the same bytes.
//!
//! `cargo run --release --manifest-path fuzz/Cargo.toml --example gen_seeds [-- OUT_DIR]`

use std::path::{Path, PathBuf};

use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, U256, hex};
use lanes_accounts_db::{AccountHeader, AccountsDb, Entry};
use lanes_fuzz::{
    BLOCKS, RPC_METHODS, account, raw_txs, reference_chain, signed_txs, spec, store_config,
};
use lanes_node::ledger::Ledger;
use serde_json::{Value, json};

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("a seed folder");
    std::fs::write(dir.join(name), bytes).expect("writing a seed");
}

fn tx_decode(out: &Path) {
    let dir = out.join("tx_decode");
    for (i, raw) in raw_txs().iter().enumerate() {
        for flags in [0u8, 6] {
            let mut seed = vec![flags];
            seed.extend_from_slice(raw);
            write(&dir, &format!("tx{i}-rules{flags}"), &seed);
        }
    }
}

fn rpc_params(out: &Path) {
    let dir = out.join("rpc_params");
    let (a0, a1) = (account(0), account(1));
    let raw = format!("0x{}", hex::encode(signed_txs(3, 0)[3].encoded_2718()));
    let call = json!({"from": a0, "to": a1, "value": "0x1", "data": "0x", "gas": "0x5208"});
    let hash = B256::repeat_byte(0x11);
    let filter = json!({"fromBlock": "0x0", "toBlock": "latest", "address": a1,
        "topics": [null, [hash]]});
    let calls: Vec<(&str, Value)> = vec![
        ("eth_chainId", json!([])),
        ("eth_getBalance", json!([a0, "latest"])),
        ("eth_getTransactionCount", json!([a0, "pending"])),
        ("eth_getStorageAt", json!([a1, "0x0", "latest"])),
        ("eth_call", json!([call, "latest"])),
        ("eth_estimateGas", json!([call])),
        ("eth_createAccessList", json!([call, "latest"])),
        ("eth_sendRawTransaction", json!([raw])),
        ("eth_sendTransaction", json!([call])),
        ("eth_newFilter", json!([filter])),
        ("eth_getFilterChanges", json!(["0x1"])),
        ("eth_sign", json!([a0, "0xdeadbeef"])),
        (
            "eth_signTypedData_v4",
            json!([a0, {"types": {"EIP712Domain": [{"name": "name", "type": "string"}]}, "primaryType": "EIP712Domain", "domain": {"name": "x"}, "message": {}}]),
        ),
        ("eth_getTransactionByHash", json!([hash])),
        ("eth_getBlockByNumber", json!(["latest", true])),
        ("eth_getBlockReceipts", json!(["0x1"])),
        ("eth_getLogs", json!([filter])),
        ("eth_feeHistory", json!(["0x4", "latest", [25.0, 75.0]])),
        ("eth_subscribe", json!(["newHeads"])),
        ("personal_sign", json!(["0xdeadbeef", a0])),
        ("lanes_getBlockEntries", json!(["latest"])),
        ("debug_traceCall", json!([call, "latest", {"tracer": "callTracer"}])),
        ("debug_traceBlockByNumber", json!(["0x1", {"tracer": "prestateTracer"}])),
        ("evm_mine", json!([{"blocks": "0x2", "timestamp": "0x70000000"}])),
        ("anvil_mine", json!(["0x2", "0x1"])),
        ("evm_increaseTime", json!(["0x3c"])),
        ("anvil_setNextBlockBaseFeePerGas", json!(["0x3b9aca00"])),
        ("anvil_setBalance", json!([a1, "0xde0b6b3a7640000"])),
        ("anvil_setCode", json!([account(5), "0x60006000a000"])),
        ("anvil_setStorageAt", json!([account(5), "0x1", format!("{:#066x}", 7)])),
    ];
    for (method, params) in calls {
        let index = RPC_METHODS.iter().position(|m| *m == method).expect("a listed method");
        let mut seed = vec![index as u8, 0];
        seed.extend(serde_json::to_vec(&params).expect("JSON"));
        write(&dir, method, &seed);
    }
}

/// The reference chain's blocks, in a ledger of 1, 3 and all blocks.
fn ledger_and_blocks(out: &Path) {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let (_chain, sealed) = reference_chain(&tmp.path().join("chain"));
    let genesis = spec().genesis_block();
    for keep in [0, 2, BLOCKS as usize] {
        let dir = tmp.path().join(format!("ledger{keep}"));
        let ledger = Ledger::open_with(&dir, false).expect("a ledger");
        ledger.append(&genesis, &[], None).expect("block 0");
        for s in &sealed[..keep] {
            ledger.append(&s.block, &s.receipts, None).expect("a block");
        }
        drop(ledger);
        let file = std::fs::read(dir.join("blocks.log")).expect("the ledger file");
        for flags in [0u8, 1] {
            let mut seed = vec![flags];
            seed.extend_from_slice(&file);
            write(&out.join("ledger_records"), &format!("blocks{}-flags{flags}", keep + 1), &seed);
        }
    }
    for (parent, s) in sealed.iter().enumerate() {
        let mut seed = vec![parent as u8];
        seed.extend(borsh::to_vec(&s.block).expect("borsh"));
        write(&out.join("block_replay"), &format!("block{}", parent + 1), &seed);
    }
}

/// A database's segment files as one input (see the target's docs).
fn db_seed(dir: &Path, flags: u8) -> Option<Vec<u8>> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the db")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    names.sort();
    if names.is_empty() || names.len() > 3 {
        return None;
    }
    let mut seed = vec![flags | ((names.len() as u8 - 1) << 1)];
    for (i, name) in names.iter().enumerate() {
        let bytes = std::fs::read(name).expect("a segment");
        if i + 1 < names.len() {
            seed.extend((bytes.len() as u16).to_le_bytes());
        }
        seed.extend(bytes);
    }
    Some(seed)
}

fn accounts_db(out: &Path) {
    let out = out.join("accounts_db_recovery");
    let tmp = tempfile::tempdir().expect("a temp dir");
    let a = |i: u8| Address::repeat_byte(i);
    let header = |nonce: u64| AccountHeader {
        nonce,
        balance: U256::from(nonce * 1000),
        ..Default::default()
    };
    // (name, commits): each commit a list of changes.
    let code = Bytes::from_static(&[0x60, 0x00, 0x60, 0x00, 0xa0]);
    let code_hash = alloy_primitives::keccak256(&code);
    let dbs: Vec<(&str, Vec<Vec<Entry>>)> = vec![
        ("one-commit", vec![vec![Entry::Account(a(1), header(1))]]),
        (
            "kinds",
            vec![
                vec![
                    Entry::Account(a(1), header(1)),
                    Entry::Storage(a(1), B256::with_last_byte(1), U256::from(7)),
                    Entry::Code(code_hash, code.clone()),
                ],
                vec![
                    Entry::Account(a(1), header(2)),
                    Entry::Storage(a(1), B256::with_last_byte(1), U256::ZERO),
                    Entry::Account(a(2), header(3)),
                ],
                vec![Entry::Account(a(2), AccountHeader::default())],
            ],
        ),
        (
            "segments",
            (1..=10u8)
                .map(|i| {
                    (0..4u8)
                        .map(|j| Entry::Storage(a(i % 5), B256::with_last_byte(j), U256::from(i)))
                        .collect()
                })
                .collect(),
        ),
    ];
    for (name, commits) in dbs {
        let dir = tmp.path().join(name);
        let db = AccountsDb::open(&dir, store_config()).expect("a db");
        for (n, changes) in commits.iter().enumerate() {
            db.commit(n as u64 + 1, B256::with_last_byte(n as u8), changes).expect("a commit");
        }
        drop(db);
        for flags in [0u8, 1] {
            match db_seed(&dir, flags) {
                Some(seed) => write(&out, &format!("{name}-flags{flags}"), &seed),
                None => eprintln!("{name}: not 1 to 3 segments, left out"),
            }
        }
    }
}

fn main() {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds"));
    tx_decode(&out);
    rpc_params(&out);
    ledger_and_blocks(&out);
    accounts_db(&out);
    println!("seeds written to {}", out.display());
}
