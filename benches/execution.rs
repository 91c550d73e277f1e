//! EVM execution: lanes on one thread against sequential revm over an
//! in-memory database (the baseline), on the same pre-signed transactions with
//! senders recovered beforehand.
//!
//! - `transfers`: 10k plain ETH transfers, distinct senders and receivers.
//! - `erc20`: 10k transfers of the compiled ERC-20 (contracts/Token.sol)
//!   between distinct holders.
//!
//! lanes: `Bank::execute_batch` on batches of 64 with one worker, as a
//! banking-stage worker runs them (state read from the on-disk accounts_db,
//! every key checked against the declared set, writes into the bank's
//! cache). Baseline: revm 43 `transact_commit` of each
//! transaction in order over a `CacheDB<EmptyDB>` holding the same state, fed
//! `TxEnv`s built before the clock starts; "revm + TxEnv" builds them in the
//! loop from the same decoded transactions lanes runs (the work lanes' worker
//! does per transaction too). The summary prints medians of 15 interleaved
//! rounds and, per workload, the lanes/revm ratio as the median of the
//! rounds' own ratios (goal: <= 1.15), plus lanes' entry path
//! (`Bank::execute_entry`, the replay path) on each thread count of
//! `LANES_BENCH_WORKERS`. It ends with the scaling table: a row per
//! workload, a column per thread count, each cell the entry path's time and
//! its speedup over sequential revm.
//!
//! It also times sender recovery (decode + recover) of the same signed
//! transactions with libsecp256k1 (what `EvmTx::decode` uses) against k256
//! (alloy's default backend), the choice `docs/design.md` §5 records.
//!
//! Run: `cargo bench --bench execution` (`LANES_BENCH_TXS=2000` for a quick run).
//! `LANES_BENCH_WORKERS=1,2,4,8,16` sets the thread counts of the entry path
//! (default `1,2`); `LANES_BENCH_TXS=300 cargo test --bench execution` runs
//! it once, small, in a dev build, to see the tables.
//! For a profiler, without criterion: `LANES_PROFILE_ONLY=transfers|erc20`
//! runs only that workload's lanes batch path, 30 rounds
//! (`LANES_PROFILE_ROUNDS`), and prints the mean; with `LANES_PROFILE_REVM`,
//! only revm instead. With `LANES_PROFILE_ALL`, it interleaves rounds of the
//! batch path, the entry path (on `LANES_PROFILE_THREADS` threads, default 1)
//! and revm, and prints each one's median and the median per-round lanes/revm
//! ratio.
#![allow(missing_docs)]

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use alloy_consensus::TxEnvelope;
use alloy_eips::eip2930::AccessListItem;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_signer_local::PrivateKeySigner;
use common::{
    BASE_FEE, CHAIN_ID, ScalingRow, cache_db, contract, deployed_code, mapping_slot, median,
    median_ratio, print_scaling_table, revm_sequential, revm_sequential_decoded, sign, txs_count,
    worker_counts, workers_label,
};
use criterion::{Criterion, criterion_group, criterion_main};
use lanes_accounts_db::{AccountHeader, AccountsDbConfig, Entry};
use lanes_evm_adapter::{EvmConfig, EvmExecutor, EvmTx, tx_env};
use lanes_runtime::{Chain, Executed, Executor, Genesis, key_counts};
use revm::context::TxEnv;
use revm::database::{CacheDB, EmptyDB};

const TOKEN: Address = Address::repeat_byte(0x70);
/// Interleaved rounds of the summary.
const ROUNDS: usize = 15;

struct Workload {
    name: &'static str,
    alloc: Vec<Entry>,
    raw: Vec<Bytes>,
}

fn workloads(n: usize) -> Vec<Workload> {
    let keys: Vec<PrivateKeySigner> = (0..n)
        .map(|i| PrivateKeySigner::from_bytes(&keccak256(format!("bench {i}"))).expect("key"))
        .collect();
    let funded = AccountHeader { balance: U256::from(10u128.pow(20)), ..Default::default() };
    let receiver = |i: usize| Address::from_word(keccak256(format!("receiver {i}")));

    let mut alloc: Vec<Entry> = keys.iter().map(|k| Entry::Account(k.address(), funded)).collect();
    let raw = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let to = receiver(i);
            let list = AccessListItem { address: to, storage_keys: vec![] };
            sign(k, to, U256::from(1000), Bytes::new(), list)
        })
        .collect();
    let transfers = Workload { name: "transfers", alloc: alloc.clone(), raw };

    contract(&mut alloc, TOKEN, deployed_code("Token"));
    for k in &keys {
        alloc.push(Entry::Storage(TOKEN, mapping_slot(k.address(), 0), U256::from(1_000_000)));
    }
    let raw = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let to = receiver(i);
            let mut data = vec![0xa9, 0x05, 0x9c, 0xbb];
            data.extend_from_slice(B256::left_padding_from(to.as_slice()).as_slice());
            data.extend_from_slice(&U256::from(5).to_be_bytes::<32>());
            let slots = vec![mapping_slot(k.address(), 0), mapping_slot(to, 0)];
            let list = AccessListItem { address: TOKEN, storage_keys: slots };
            sign(k, TOKEN, U256::ZERO, data.into(), list)
        })
        .collect();
    vec![transfers, Workload { name: "erc20", alloc, raw }]
}

struct Prepared {
    _dir: tempfile::TempDir,
    chain: Chain,
    txs: Vec<EvmTx>,
    tx_envs: Vec<TxEnv>,
    db: CacheDB<EmptyDB>,
}

fn prepare(w: &Workload, exec: &EvmExecutor) -> Prepared {
    let dir = tempfile::tempdir().expect("tempdir");
    let genesis = Genesis {
        alloc: w.alloc.clone(),
        gas_limit: u64::MAX / 2,
        base_fee: BASE_FEE,
        ..Default::default()
    };
    let chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis).expect("genesis");
    // Senders recovered here, outside every timing.
    let txs: Vec<EvmTx> = w.raw.iter().map(|r| exec.decode(r).expect("decode")).collect();
    let tx_envs = txs.iter().map(|t| tx_env(t.envelope(), t.sender())).collect();
    let db = cache_db(&w.alloc);
    Prepared { _dir: dir, chain, txs, tx_envs, db }
}

/// What a banking-stage worker does: `Bank::execute_batch` on batches of 64
/// with one worker, the batches' locks held by the caller (here the sets are
/// known not to conflict).
#[inline(never)] // a symbol of its own, for profilers (scripts/bench-instructions.sh)
fn lanes_batches(p: &Prepared, exec: &EvmExecutor) -> Duration {
    let bank = p.chain.new_bank(1, Address::repeat_byte(0xcb));
    let (accounts, slots) = key_counts(p.txs.iter().filter_map(|t| t.access_set()));
    bank.reserve(p.txs.len(), accounts, slots);
    let start = Instant::now();
    let mut worker = bank.worker(exec);
    let mut included = 0;
    for batch in p.txs.chunks(64) {
        let results = bank.execute_batch(exec, &mut worker, batch).expect("batch");
        included += results.iter().filter(|r| matches!(r, Executed::Included { .. })).count();
    }
    drop(worker);
    let elapsed = start.elapsed();
    assert_eq!(included, p.txs.len());
    elapsed
}

/// `Bank::execute_entry` of the whole set as one entry: the lock check of
/// every set, then execution on `threads` threads (the replay path).
fn lanes_entry(p: &Prepared, exec: &EvmExecutor, threads: usize) -> Duration {
    let mut bank = p.chain.new_bank(1, Address::repeat_byte(0xcb));
    let txs = p.txs.clone();
    let start = Instant::now();
    let report = bank.execute_entry(exec, txs, threads).expect("entry");
    let elapsed = start.elapsed();
    assert_eq!(report.included.len(), p.txs.len(), "{:?}", report.rejected.first());
    assert_eq!(report.exclusive, 0);
    elapsed
}

fn revm_run(p: &Prepared) -> Duration {
    revm_sequential(p.db.clone(), p.tx_envs.clone())
}

/// revm from the decoded transactions, as lanes: `TxEnv`s built in the loop.
fn revm_decoded_run(p: &Prepared) -> Duration {
    revm_sequential_decoded(p.db.clone(), &p.txs)
}

/// Sender recovery with k256, as alloy does by default.
fn recover_k256(raw: &[u8]) -> Address {
    use alloy_eips::eip2718::Decodable2718;
    let tx = TxEnvelope::decode_2718(&mut &raw[..]).expect("decode");
    let sig = tx.signature();
    let signature = k256::ecdsa::Signature::from_scalars(
        sig.r().to_be_bytes::<32>(),
        sig.s().to_be_bytes::<32>(),
    )
    .expect("scalars");
    let id = k256::ecdsa::RecoveryId::from_byte(u8::from(sig.v())).expect("recovery id");
    let key = k256::ecdsa::VerifyingKey::recover_from_prehash(
        tx.signature_hash().as_slice(),
        &signature,
        id,
    )
    .expect("recover");
    Address::from_slice(&keccak256(&key.to_encoded_point(false).as_bytes()[1..])[12..])
}

fn bench(c: &mut Criterion) {
    let n = txs_count();
    let exec = EvmExecutor::new(EvmConfig::new(CHAIN_ID));
    if let Ok(only) = std::env::var("LANES_PROFILE_ONLY") {
        for w in workloads(n).into_iter().filter(|w| w.name == only) {
            let p = prepare(&w, &exec);
            let rounds: u32 = std::env::var("LANES_PROFILE_ROUNDS")
                .ok()
                .and_then(|r| r.parse().ok())
                .unwrap_or(30);
            if std::env::var("LANES_PROFILE_REVM").is_ok() {
                let r: Duration = (0..rounds).map(|_| revm_run(&p)).sum();
                println!("{only}: revm {:?}", r / rounds);
                continue;
            }
            if std::env::var("LANES_PROFILE_ALL").is_ok() {
                // Interleaved, so a slow stretch of the host hits both alike.
                let threads: usize = std::env::var("LANES_PROFILE_THREADS")
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(1);
                let (mut b, mut e, mut r) = (Vec::new(), Vec::new(), Vec::new());
                for _ in 0..rounds {
                    b.push(lanes_batches(&p, &exec));
                    e.push(lanes_entry(&p, &exec, threads));
                    r.push(revm_run(&p));
                }
                let ratio = median_ratio(&b, &r);
                println!(
                    "{only}: medians batches {:?} entry {:?} revm {:?} ratio {ratio:.3}",
                    median(b),
                    median(e),
                    median(r),
                );
            } else {
                let b: Duration = (0..rounds).map(|_| lanes_batches(&p, &exec)).sum();
                println!("{only}: batches {:?}", b / rounds);
            }
        }
        return;
    }
    let threads = worker_counts();
    let mut summary = Vec::new();
    let mut scaling = Vec::new();
    let mut workloads_raw = Vec::new();
    for w in workloads(n) {
        workloads_raw.extend(w.raw.iter().cloned());
        let p = prepare(&w, &exec);
        let mut group = c.benchmark_group(format!("execution_{}_{n}", w.name));
        group.sample_size(10);
        group.bench_function("lanes_1_thread", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| lanes_batches(&p, &exec)).sum())
        });
        group.bench_function("revm_sequential", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| revm_run(&p)).sum())
        });
        group.finish();

        // Per round: batches, revm, the entry path on each thread count,
        // revm + TxEnv.
        let (mut batches, mut revm, mut revm_decoded) = (Vec::new(), Vec::new(), Vec::new());
        let mut entries: Vec<Vec<Duration>> = threads.iter().map(|_| Vec::new()).collect();
        for _ in 0..ROUNDS {
            batches.push(lanes_batches(&p, &exec));
            revm.push(revm_run(&p));
            for (entry, &t) in entries.iter_mut().zip(&threads) {
                entry.push(lanes_entry(&p, &exec, t));
            }
            revm_decoded.push(revm_decoded_run(&p));
        }
        // Each ratio is the median of the rounds' own ratios.
        let ratios = (median_ratio(&batches, &revm), median_ratio(&batches, &revm_decoded));
        let entry_ratios: Vec<f64> = entries.iter().map(|e| median_ratio(e, &revm)).collect();
        let lanes = entries.iter().map(|e| (median(e.clone()), median_ratio(&revm, e))).collect();
        let entries: Vec<Duration> = entries.into_iter().map(median).collect();
        let (batches, revm, revm_decoded) = (median(batches), median(revm), median(revm_decoded));
        scaling.push(ScalingRow { workload: w.name, baseline: revm, lanes });
        summary.push((w.name, [batches, revm, revm_decoded], ratios, entries, entry_ratios));
    }
    // Sender recovery: libsecp256k1 (EvmTx::decode) against k256.
    let raw = &workloads_raw;
    let (mut secp, mut k) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let t = Instant::now();
        for r in raw {
            black_box(exec.decode(r).expect("decode").sender());
        }
        secp.push(t.elapsed());
        let t = Instant::now();
        for r in raw {
            black_box(recover_k256(r));
        }
        k.push(t.elapsed());
    }
    let (secp, k) = (median(secp), median(k));
    assert_eq!(exec.decode(&raw[0]).expect("decode").sender(), recover_k256(&raw[0]));
    println!(
        "\nsender recovery of {} transactions: libsecp256k1 {:.0}/s, k256 {:.0}/s: libsecp256k1 is {:.2}x faster",
        raw.len(),
        raw.len() as f64 / secp.as_secs_f64(),
        raw.len() as f64 / k.as_secs_f64(),
        k.as_secs_f64() / secp.as_secs_f64(),
    );
    println!(
        "\nEVM execution, {n} transactions, medians of {ROUNDS} interleaved rounds; each ratio is the median of the rounds' ratios (goal: lanes 1 thread / revm <= 1.15)"
    );
    let mut header = format!(
        "{:<10} {:>22} {:>10} {:>8} {:>16} {:>8}",
        "workload", "lanes 1 thread batches", "revm", "ratio", "revm + TxEnv", "ratio",
    );
    for &t in &threads {
        let title = format!("entry {} (ratio)", workers_label(t, "thread"));
        header.push_str(&format!(" {title:>24}"));
    }
    println!("{header}");
    for (name, [batches, revm, revm_decoded], (r, r_decoded), entries, entry_ratios) in summary {
        let mut line = format!(
            "{name:<10} {batches:>22.2?} {revm:>10.2?} {r:>7.2}x {revm_decoded:>16.2?} {r_decoded:>7.2}x",
        );
        for (entry, ratio) in entries.iter().zip(entry_ratios) {
            line.push_str(&format!(" {entry:>15.2?} ({ratio:.2}x)"));
        }
        println!("{line}");
    }
    print_scaling_table(
        "lanes' entry path (Bank::execute_entry) by thread count, medians of the rounds",
        "revm",
        &threads,
        "thread",
        &scaling,
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
