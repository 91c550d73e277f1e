//! What the EVM benchmarks share: sizes, signed EIP-1559 transactions,
//! compiled contract code, the sequential-revm baseline over an in-memory
//! database, and the scaling table.
//!
//! Variables every EVM bench reads:
//! - `LANES_BENCH_TXS`: transactions per workload (default 10k);
//! - `LANES_BENCH_WORKERS`: the worker (or thread) counts to run lanes on, a
//!   comma-separated list such as `1,2,4,8,16` (default `1,2`). Each bench
//!   ends with one scaling table: a row per workload, a column per count,
//!   each cell lanes' time and its speedup over sequential revm.
#![allow(dead_code)] // each bench uses its own part

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use lanes_accounts_db::{AccountHeader, Entry};
use lanes_evm_adapter::{EvmTx, SpecId, block_env, tx_env};
use lanes_runtime::BlockEnv;
use revm::bytecode::Bytecode;
use revm::context::{CfgEnv, Context, TxEnv};
use revm::database::{CacheDB, EmptyDB};
use revm::handler::{MainBuilder, MainContext};
use revm::state::AccountInfo;
use revm::{ExecuteCommitEvm, ExecuteEvm};

pub(crate) const CHAIN_ID: u64 = 31337;
pub(crate) const BASE_FEE: u64 = 1_000_000_000;

/// Transactions per workload: `LANES_BENCH_TXS`, default 10k.
pub(crate) fn txs_count() -> usize {
    std::env::var("LANES_BENCH_TXS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
}

/// Worker counts to run lanes on, in the order given: `LANES_BENCH_WORKERS`,
/// a comma-separated list of counts of at least 1 (default `1,2`).
///
/// # Panics
/// If the variable is set to anything else, so a typo does not silently
/// bench the default.
pub(crate) fn worker_counts() -> Vec<usize> {
    let Ok(list) = std::env::var("LANES_BENCH_WORKERS") else { return vec![1, 2] };
    let counts: Vec<usize> = list
        .split(',')
        .map(|w| match w.trim().parse() {
            Ok(n) if n > 0 => n,
            _ => panic!("LANES_BENCH_WORKERS={list:?}: {w:?} is not a worker count"),
        })
        .collect();
    counts
}

/// `n worker(s)`, for column titles.
pub(crate) fn workers_label(n: usize, unit: &str) -> String {
    if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
}

/// One workload's row of a scaling table: the baseline's time and, per
/// worker count, lanes' time and its speedup over the baseline (baseline
/// time / lanes time, the median of the rounds' own ratios).
pub(crate) struct ScalingRow {
    pub(crate) workload: &'static str,
    pub(crate) baseline: Duration,
    pub(crate) lanes: Vec<(Duration, f64)>,
}

/// Prints the scaling table: a row per workload, a column per entry of
/// `counts` (`unit`: what is counted, "worker" or "thread").
pub(crate) fn print_scaling_table(
    title: &str,
    baseline: &str,
    counts: &[usize],
    unit: &str,
    rows: &[ScalingRow],
) {
    const CELL: usize = 20;
    println!(
        "
scaling: {title}; speedup = {baseline} time / lanes time"
    );
    let mut line = format!("{:<10} {:>12}", "workload", baseline);
    for &n in counts {
        let _ = write!(line, " | {:>CELL$}", workers_label(n, unit));
    }
    println!("{line}");
    for row in rows {
        let mut line = format!("{:<10} {:>12.2?}", row.workload, row.baseline);
        for (time, speedup) in &row.lanes {
            let cell = format!("{time:.2?} {speedup:>5.2}x");
            let _ = write!(line, " | {cell:>CELL$}");
        }
        println!("{line}");
    }
}

/// The storage slot of `holder` in a Solidity `mapping(address => _)` at `slot`.
pub(crate) fn mapping_slot(holder: Address, slot: u64) -> B256 {
    let mut buf = [0u8; 64];
    buf[12..32].copy_from_slice(holder.as_slice());
    buf[56..].copy_from_slice(&slot.to_be_bytes());
    keccak256(buf)
}

/// The deployed bytecode of contracts/artifacts/`name`.json.
pub(crate) fn deployed_code(name: &str) -> Bytes {
    let path = format!("{}/contracts/artifacts/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let artifact: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("artifact")).expect("json");
    artifact["deployedBytecode"].as_str().expect("hex").parse().expect("bytecode")
}

/// Genesis entries of a contract account holding `code` at `at`.
pub(crate) fn contract(alloc: &mut Vec<Entry>, at: Address, code: Bytes) {
    let hash = keccak256(&code);
    alloc
        .push(Entry::Account(at, AccountHeader { nonce: 1, balance: U256::ZERO, code_hash: hash }));
    alloc.push(Entry::Code(hash, code));
}

/// A signed EIP-1559 call with nonce 0 and one access-list item.
pub(crate) fn sign(
    signer: &PrivateKeySigner,
    to: Address,
    value: U256,
    input: Bytes,
    list: AccessListItem,
) -> Bytes {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce: 0,
        gas_limit: 120_000,
        max_fee_per_gas: 2 * u128::from(BASE_FEE),
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(to),
        value,
        access_list: AccessList(vec![list]),
        input,
    };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

/// revm's in-memory database holding `alloc`.
pub(crate) fn cache_db(alloc: &[Entry]) -> CacheDB<EmptyDB> {
    let mut db = CacheDB::new(EmptyDB::default());
    let code: std::collections::HashMap<B256, Bytes> = alloc
        .iter()
        .filter_map(|e| if let Entry::Code(h, c) = e { Some((*h, c.clone())) } else { None })
        .collect();
    for e in alloc {
        match e {
            Entry::Account(a, h) => {
                let info = AccountInfo {
                    balance: h.balance,
                    nonce: h.nonce,
                    code_hash: h.code_hash,
                    code: code.get(&h.code_hash).map(|c| Bytecode::new_raw(c.clone())),
                    ..Default::default()
                };
                db.insert_account_info(*a, info);
            }
            Entry::Storage(a, s, v) => {
                db.insert_account_storage(*a, U256::from_be_bytes(s.0), *v).expect("slot")
            }
            Entry::Code(..) => {}
        }
    }
    db
}

/// The baseline: revm 43 `transact_commit` of each transaction in order over
/// `db`; only the loop is timed, and every transaction must succeed.
#[inline(never)] // a symbol of its own, for profilers (scripts/bench-instructions.sh)
pub(crate) fn revm_sequential(db: CacheDB<EmptyDB>, envs: Vec<TxEnv>) -> Duration {
    revm_timed(db, envs, |env| env)
}

/// The baseline starting where lanes starts: from the decoded transactions
/// with their senders, building each revm `TxEnv` inside the timed loop.
pub(crate) fn revm_sequential_decoded(db: CacheDB<EmptyDB>, txs: &[EvmTx]) -> Duration {
    revm_timed(db, txs, |tx| tx_env(tx.envelope(), tx.sender()))
}

fn revm_timed<T>(
    db: CacheDB<EmptyDB>,
    txs: impl IntoIterator<Item = T>,
    env_of: impl Fn(T) -> TxEnv,
) -> Duration {
    let env = BlockEnv {
        number: 1,
        timestamp: 1,
        coinbase: Address::repeat_byte(0xcb),
        base_fee: BASE_FEE,
        gas_limit: u64::MAX / 2,
        ..Default::default()
    };
    let mut evm = Context::mainnet()
        .with_db(db)
        .with_cfg(CfgEnv::new_with_spec(SpecId::PRAGUE).with_chain_id(CHAIN_ID))
        .with_block(block_env(&env, SpecId::PRAGUE))
        .build_mainnet();
    let start = Instant::now();
    for tx in txs {
        assert!(evm.transact_commit(env_of(tx)).expect("valid").is_success());
    }
    let elapsed = start.elapsed();
    std::hint::black_box(evm.finalize());
    elapsed
}

/// The median of the ratios `a[i] / b[i]` of runs made side by side, so a
/// slow stretch of the host, which hits both runs of a pair alike, cancels.
pub(crate) fn median_ratio(a: &[Duration], b: &[Duration]) -> f64 {
    median(a.iter().zip(b).map(|(a, b)| a.as_secs_f64() / b.as_secs_f64()).collect())
}

pub(crate) fn median<T: PartialOrd>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).expect("comparable"));
    v.swap_remove(v.len() / 2)
}
