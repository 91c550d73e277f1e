//! Wallet traffic (no access lists) through the banking stage with the EVM
//! admission: value transfers known from state, contract calls predicted,
//! mispredictions predicted again, and every block equal to sequential revm
//! in block order and replayable on 1 and N threads.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_eips::eip2930::AccessList;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_signer_local::PrivateKeySigner;
use lanes_accounts_db::AccountsRead;
use lanes_banking_stage::{BankingStage, BankingStageConfig, ProducedBlock};
use lanes_evm_adapter::{AdmissionLimits, EvmAdmission, block_access_list};
use lanes_runtime::{Block, Chain, StateKey};
use proptest::prelude::*;

use crate::evm_parallel::{
    CHAIN_ID, COINBASE, RefReceipt, World, assert_same_state, executor, key, lanes_receipts,
    reference_access_lists, reference_blocks, signed,
};

const TOKEN: Address = Address::repeat_byte(0x70);
const BOARD: Address = Address::repeat_byte(0xb0);
const FEE: u64 = 7;

fn artifact(name: &str) -> Bytes {
    let json = match name {
        "Token" => include_str!("../../contracts/artifacts/Token.json"),
        _ => include_str!("../../contracts/artifacts/Board.json"),
    };
    let artifact: serde_json::Value = serde_json::from_str(json).expect("artifact");
    artifact["deployedBytecode"].as_str().expect("hex").parse().expect("bytecode")
}

fn selector(signature: &str) -> Vec<u8> {
    keccak256(signature)[..4].to_vec()
}

/// `f(args)` with each argument a 32-byte word.
fn call(signature: &str, args: &[B256]) -> Bytes {
    let mut data = selector(signature);
    for a in args {
        data.extend_from_slice(a.as_slice());
    }
    data.into()
}

fn word(v: u64) -> B256 {
    B256::from(U256::from(v))
}

fn address_word(a: Address) -> B256 {
    B256::left_padding_from(a.as_slice())
}

/// Slot of `mapping[key]` for a mapping at slot `at`.
fn mapping_slot(key: B256, at: u64) -> B256 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(key.as_slice());
    buf[32..].copy_from_slice(word(at).as_slice());
    keccak256(buf)
}

/// What a test transaction does.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// ETH to a fresh account: known from state.
    Transfer,
    /// Token transfer to the next holder: predicted.
    Erc20,
    /// `Board.post`: reads the shared fee slot, writes the sender's post.
    Post,
    /// `Board.bump`: moves the counter on.
    Bump,
    /// `Board.mark`: writes the mark the counter names (mispredicts after a bump).
    Mark,
    /// `Board.post` with an exact EIP-2930 list: declared.
    DeclaredPost,
}

struct Setup {
    signers: Vec<PrivateKeySigner>,
    world: World,
}

fn setup(senders: usize) -> Setup {
    let signers: Vec<PrivateKeySigner> = (100..100 + senders as u64).map(key).collect();
    let mut world = World::default();
    world.contract(TOKEN, &artifact("Token"), U256::ZERO);
    world.contract(BOARD, &artifact("Board"), U256::ZERO);
    world.slot(BOARD, word(0), U256::from(FEE));
    for s in &signers {
        world.fund(s.address(), U256::from(10u128.pow(20)));
        world.slot(TOKEN, mapping_slot(address_word(s.address()), 0), U256::from(1_000_000));
    }
    Setup { signers, world }
}

fn receiver(i: usize) -> Address {
    Address::from_word(keccak256(format!("predict receiver {i}")))
}

/// Transaction `i` of kind `kind` from signer `from` at `nonce`.
fn tx(s: &Setup, kind: Kind, from: usize, nonce: u64, i: usize) -> Bytes {
    let signer = &s.signers[from];
    let none = AccessList::default();
    let to = |a| TxKind::Call(a);
    match kind {
        Kind::Transfer => signed(signer, nonce, to(receiver(i)), U256::from(1), Bytes::new(), none),
        Kind::Erc20 => {
            let next = s.signers[(from + 1) % s.signers.len()].address();
            let data = call("transfer(address,uint256)", &[address_word(next), word(3)]);
            signed(signer, nonce, to(TOKEN), U256::ZERO, data, none)
        }
        Kind::Post => {
            let data = call("post(uint256)", &[word(i as u64)]);
            signed(signer, nonce, to(BOARD), U256::ZERO, data, none)
        }
        Kind::Bump => signed(signer, nonce, to(BOARD), U256::ZERO, call("bump()", &[]), none),
        Kind::Mark => signed(signer, nonce, to(BOARD), U256::ZERO, call("mark()", &[]), none),
        Kind::DeclaredPost => {
            let slot = mapping_slot(address_word(signer.address()), 2);
            let list = AccessList(vec![alloy_eips::eip2930::AccessListItem {
                address: BOARD,
                storage_keys: vec![word(0), slot],
            }]);
            let data = call("post(uint256)", &[word(i as u64)]);
            signed(signer, nonce, to(BOARD), U256::ZERO, data, list)
        }
    }
}

/// The blocks a stage produced, and its chain (in its folder).
struct Run {
    blocks: Vec<ProducedBlock>,
    chain: Chain,
    _dir: tempfile::TempDir,
}

/// Runs `raw` through a stage with the EVM admission on `workers` workers
/// until all are included.
fn run_stage(s: &Setup, raw: Vec<Bytes>, workers: usize) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let chain = s.world.chain(dir.path());
    let exec = Arc::new(executor());
    let admission = EvmAdmission::new(exec.clone(), AdmissionLimits::default());
    let config = BankingStageConfig {
        workers,
        sigverify_threads: 2,
        predict_threads: 2,
        block_time: Duration::from_millis(50),
        coinbase: COINBASE,
        ..Default::default()
    };
    let mut stage =
        BankingStage::builder(exec, chain).config(config).admission(Arc::new(admission)).start();
    stage.pause();
    let n = raw.len();
    for r in stage.submit_many(raw) {
        r.expect("admitted");
    }
    // Every set is predicted against the state before the first block, so
    // what a transaction ahead changes makes the ones behind mispredict.
    let deadline = Instant::now() + Duration::from_secs(60);
    while stage.predicting() > 0 {
        assert!(Instant::now() < deadline, "predictions not done");
        std::thread::sleep(Duration::from_millis(2));
    }
    stage.resume();
    let mut blocks: Vec<ProducedBlock> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while blocks.iter().map(|b| b.receipts.len()).sum::<usize>() < n {
        assert!(Instant::now() < deadline, "timed out; pool {}", stage.pool_len());
        if let Ok(b) = stage.blocks().recv_timeout(Duration::from_secs(1)) {
            assert!(b.rejected.is_empty(), "{:?}", b.rejected);
            blocks.push(b);
        }
    }
    let chain = stage.shutdown().unwrap();
    blocks.extend(stage.blocks().try_iter());
    Run { blocks, chain, _dir: dir }
}

/// Checks the blocks against sequential revm and replays them on 1 and 4
/// threads to the same commitment.
fn check(s: &Setup, blocks: &[ProducedBlock], chain: &Chain) {
    let plain: Vec<Block> = blocks.iter().map(|b| b.block.clone()).collect();
    let (db, ref_receipts) = reference_blocks(s.world.reference_db(), &plain);
    let ours: Vec<RefReceipt> = blocks.iter().flat_map(|b| lanes_receipts(&b.receipts)).collect();
    assert_eq!(ours, ref_receipts, "receipts equal sequential revm's");
    // Each block's access list equals revm's own builder's over the same
    // transactions run one by one, field for field.
    let reference = reference_access_lists(s.world.reference_db(), &plain);
    for (b, theirs) in blocks.iter().zip(reference) {
        let accesses = b.accesses.as_ref().expect("the chain's banks record accesses");
        let ours = block_access_list(accesses, &b.receipts);
        assert_eq!(
            ours,
            theirs,
            "block {}: {}",
            b.block.header.number,
            alloy_eips::eip7928::first_bal_divergence(&ours, &theirs)
        );
    }
    let mut addresses: BTreeSet<Address> = s.signers.iter().map(|k| k.address()).collect();
    addresses.extend([TOKEN, BOARD, COINBASE]);
    let mut slots = vec![(BOARD, word(0)), (BOARD, word(1))];
    for (i, k) in s.signers.iter().enumerate() {
        slots.push((TOKEN, mapping_slot(address_word(k.address()), 0)));
        slots.push((BOARD, mapping_slot(address_word(k.address()), 2)));
        slots.push((BOARD, mapping_slot(word(i as u64), 3)));
    }
    assert_same_state(chain, &db, &addresses, &slots);
    for threads in [1, 4] {
        let dir = tempfile::tempdir().unwrap();
        let mut replica = s.world.chain(dir.path());
        for b in blocks {
            replica.replay_block(&executor(), &b.block, threads).expect("replay");
        }
        assert_eq!(replica.head(), chain.head(), "replay on {threads} threads");
    }
}

fn total(blocks: &[ProducedBlock], f: impl Fn(&ProducedBlock) -> usize) -> usize {
    blocks.iter().map(f).sum()
}

#[test]
fn test_wallet_traffic_is_known_or_predicted_and_runs_side_by_side() {
    let s = setup(12);
    let mut raw = Vec::new();
    for from in 0..12 {
        let kind = [Kind::Transfer, Kind::Erc20, Kind::Post][from % 3];
        raw.push(tx(&s, kind, from, 0, from));
        raw.push(tx(&s, kind, from, 1, 100 + from));
    }
    let Run { blocks, chain, .. } = run_stage(&s, raw, 2);
    assert_eq!(total(&blocks, |b| b.stats.known), 8, "plain transfers are known from state");
    assert_eq!(total(&blocks, |b| b.stats.predicted), 16, "calls are predicted");
    assert_eq!(total(&blocks, |b| b.stats.predictions_held), 16, "every first prediction held");
    // A prediction runs the call as it will run: it locks nothing it does not touch.
    assert_eq!(total(&blocks, |b| b.stats.over_predicted), 0);
    assert_eq!(total(&blocks, |b| b.stats.exclusive), 0);
    assert_eq!(total(&blocks, |b| b.stats.mispredicted as usize), 0);
    // Posts read the fee slot and write their own: several in one entry,
    // each reading (not writing) slot 0.
    let fee = StateKey::Storage(BOARD, word(0));
    let widest = blocks
        .iter()
        .flat_map(|b| &b.block.entries)
        .map(|e| e.txs.iter().filter(|t| t.access.reads().contains(&fee)).count())
        .max();
    assert!(widest >= Some(2), "posts sharing the fee slot ran side by side: {widest:?}");
    assert!(
        blocks.iter().flat_map(|b| b.block.txs()).all(|t| !t.access.writes().contains(&fee)),
        "nothing writes the fee slot"
    );
    check(&s, &blocks, &chain);
}

#[test]
fn test_a_slot_chosen_by_state_an_earlier_transaction_changes_is_predicted_again() {
    // A bump (best tip first) moves the counter; the marks were predicted
    // against the counter before it, so each leaves its set once, is
    // predicted again against the block so far, and is included once.
    let s = setup(6);
    let mut raw = vec![tx(&s, Kind::Bump, 0, 0, 0)];
    for from in 1..6 {
        raw.push(tx(&s, Kind::Mark, from, 0, from));
    }
    let Run { blocks, chain, .. } = run_stage(&s, raw, 2);
    assert_eq!(total(&blocks, |b| b.receipts.len()), 6);
    assert!(total(&blocks, |b| b.stats.mispredicted as usize) >= 1);
    let (predicted, held) =
        (total(&blocks, |b| b.stats.predicted), total(&blocks, |b| b.stats.predictions_held));
    assert!(held < predicted, "a mark's first prediction missed: {held} of {predicted}");
    check(&s, &blocks, &chain);
    // Each mark wrote the slot the counter named when it ran: the last one's
    // address is at marks[1], after the bump.
    let last = chain.db().get_storage(&BOARD, &mapping_slot(word(1), 3)).unwrap();
    assert!(!last.is_zero());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    /// Random mixes of declared, known, predicted and mispredicting
    /// transactions: the stage's blocks equal sequential revm bit for bit.
    #[test]
    fn test_random_mixes_equal_sequential_revm(
        kinds in prop::collection::vec(0usize..6, 8..40),
        workers in 1usize..4,
    ) {
        let s = setup(8);
        let all = [Kind::Transfer, Kind::Erc20, Kind::Post, Kind::Bump, Kind::Mark, Kind::DeclaredPost];
        let mut nonces = [0u64; 8];
        let raw: Vec<Bytes> = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let from = i % 8;
                nonces[from] += 1;
                tx(&s, all[*k], from, nonces[from] - 1, i)
            })
            .collect();
        let n = raw.len();
        let Run { blocks, chain, .. } = run_stage(&s, raw, workers);
        prop_assert_eq!(total(&blocks, |b| b.receipts.len()), n);
        check(&s, &blocks, &chain);
    }
}

/// A signed EIP-1559 call to `to` with `gas` and no access list.
fn call_with_gas(s: &Setup, from: usize, nonce: u64, to: Address, data: Bytes, gas: u64) -> Bytes {
    use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_signer::SignerSync;
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 3_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value: U256::ZERO,
        access_list: AccessList::default(),
        input: data,
    };
    let signature = s.signers[from].sign_hash_sync(&tx.signature_hash()).expect("sign");
    TxEnvelope::from(tx.into_signed(signature)).encoded_2718().into()
}

#[test]
fn test_reverts_halts_loops_and_wide_transactions_are_admitted_by_their_rules() {
    let s = setup(4);
    let too_much = call("transfer(address,uint256)", &[address_word(receiver(1)), word(1 << 40)]);
    let transfer = call("transfer(address,uint256)", &[address_word(receiver(2)), word(5)]);
    let spin = call("spin(uint256)", &[word(10_000_000)]);
    let fill = call("fill(uint256,uint256)", &[word(1_000), word(300)]);
    let raw = vec![
        // Reverts (more than its balance): predicted as it ran, included, status 0.
        call_with_gas(&s, 0, 0, TOKEN, too_much, 200_000),
        // Runs out of its own gas: predicted as it ran, included, status 0.
        call_with_gas(&s, 1, 0, TOKEN, transfer, 30_000),
        // Loops past the prediction's gas cap: no set, the exclusive lane.
        call_with_gas(&s, 2, 0, BOARD, spin, 2 * lanes_evm_adapter::DEFAULT_MAX_PREDICT_GAS),
        // Writes 300 slots, more than a set holds: no set, the exclusive lane.
        call_with_gas(&s, 3, 0, BOARD, fill, 10_000_000),
    ];
    let Run { blocks, chain, .. } = run_stage(&s, raw, 2);
    let receipts: Vec<bool> =
        blocks.iter().flat_map(|b| b.receipts.iter().map(|r| r.outcome.success)).collect();
    assert_eq!(receipts.len(), 4, "all included");
    assert_eq!(total(&blocks, |b| b.stats.predicted), 2);
    assert_eq!(total(&blocks, |b| b.stats.exclusive), 2);
    let sources: Vec<_> = blocks.iter().flat_map(|b| b.block.txs()).map(|t| t.source).collect();
    assert_eq!(
        sources.iter().filter(|s| **s == lanes_runtime::AccessSource::Undeclared).count(),
        2
    );
    assert_eq!(
        receipts.iter().filter(|ok| !**ok).count(),
        3,
        "the revert, the halt and the spin fail"
    );
    check(&s, &blocks, &chain);
}

#[test]
fn test_a_flood_of_expensive_predictions_does_not_starve_cheap_ones() {
    // Senders 0..8 flood: 8 spins each, each prediction burning the
    // prediction's whole gas cap. Senders 8..12 then send one ERC-20
    // transfer each. Admission answers at once; predictions are served
    // round robin across senders, so the transfers are predicted, and
    // included, long before the flood is.
    let s = setup(12);
    let dir = tempfile::tempdir().unwrap();
    let chain = s.world.chain(dir.path());
    let exec = Arc::new(executor());
    let admission = EvmAdmission::new(exec.clone(), AdmissionLimits::default());
    let config = BankingStageConfig {
        workers: 2,
        sigverify_threads: 2,
        predict_threads: 1,
        admit_timeout: Duration::from_secs(120),
        block_time: Duration::from_millis(50),
        coinbase: COINBASE,
        ..Default::default()
    };
    let mut stage =
        BankingStage::builder(exec, chain).config(config).admission(Arc::new(admission)).start();
    let spin = call("spin(uint256)", &[word(100_000_000)]);
    let gas = lanes_evm_adapter::DEFAULT_MAX_PREDICT_GAS;
    let flood: Vec<Bytes> = (0..8)
        .flat_map(|from| (0..8).map(move |n| (from, n)))
        .map(|(from, n)| call_with_gas(&s, from, n, BOARD, spin.clone(), gas))
        .collect();
    let cheap: Vec<Bytes> = (8..12).map(|from| tx(&s, Kind::Erc20, from, 0, from)).collect();
    let cheap_hashes: Vec<B256> = cheap.iter().map(keccak256).collect();
    let started = Instant::now();
    for r in stage.submit_many(flood) {
        r.expect("admitted");
    }
    for r in stage.submit_many(cheap) {
        r.expect("admitted");
    }
    assert!(started.elapsed() < Duration::from_secs(1), "admission does not wait for predictions");
    // When the last cheap transaction, and the last of all, are included.
    let mut waiting: std::collections::HashSet<B256> = cheap_hashes.into_iter().collect();
    let (mut cheap_in, mut included) = (None, 0);
    let deadline = Instant::now() + Duration::from_secs(120);
    while included < 68 {
        assert!(Instant::now() < deadline, "{included} of 68 included");
        if let Ok(b) = stage.blocks().recv_timeout(Duration::from_secs(1)) {
            included += b.receipts.len();
            for r in &b.receipts {
                waiting.remove(&r.tx_hash);
            }
            if waiting.is_empty() {
                cheap_in.get_or_insert(started.elapsed());
            }
        }
    }
    let (cheap_in, all_in) = (cheap_in.expect("cheap ones included"), started.elapsed());
    eprintln!("cheap transactions included after {cheap_in:?}, the flood after {all_in:?}");
    assert!(cheap_in * 3 < all_in, "cheap included after {cheap_in:?}, all after {all_in:?}");
    stage.shutdown().unwrap();
}
