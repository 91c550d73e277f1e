//! The banking stage in process: pre-signed transactions → sigverify →
//! schedule → execute → commit, on four workloads, against sequential revm.
//!
//! - `transfers`: plain ETH transfers, distinct senders and receivers.
//! - `zipf`: transfers to receivers drawn Zipf(s = 1.0) from as many receivers.
//! - `erc20`: transfers of the compiled ERC-20 among the holders of one token
//!   (each sender to a uniformly drawn other holder).
//! - `amm`: swaps on one constant-product pool (contracts/Pool.sol): every
//!   swap writes the pool's reserves.
//!
//! Every transaction is EIP-1559 with the access list lanes locks, from its
//! own sender. For each workload and each worker count of
//! `LANES_BENCH_WORKERS` (default 1 and 2):
//! - pipeline tx/s: raw transactions submitted in chunks of 512, until the
//!   block holding the last one is committed (a 50 ms block time, so sealing
//!   waits at most that long; block gas limit high enough for all of them);
//! - execution: the same transactions with senders recovered beforehand,
//!   admitted to a paused stage (`submit_decoded`), timed from `resume` at
//!   the start of a block until the pool is empty (all executed), in the default
//!   400 ms block time so no seal or commit falls in the window, and
//!   its speedup over sequential revm 43 `transact_commit` over an in-memory
//!   `CacheDB` on the same transactions; and the same with 1 worker and
//!   `pin_threads` (the worker and the scheduler on a core each);
//! - replay: the execution run's blocks run again by a replica
//!   (`Chain::reexecute_with`, to the sealed block) on as many threads, each
//!   transaction taken as decoded (no sender recovered again), as a node
//!   that admitted them does;
//! - the sigverify share of the pipeline's busy time (sigverify + scheduler +
//!   workers) and the mean entry width, of the last pipeline run (the last
//!   worker count), and the conflict bound: the longest chain of
//!   transactions whose sets conflict, in submission order.
//!
//! It ends with the scaling table: a row per workload, a column per worker
//! count, each cell the execution time and its speedup over sequential revm.
//!
//! Medians of 5 rounds; a speedup is the median of the rounds' own ratios
//! (each round runs revm and the stage back to back, so a slow stretch of
//! this noisy host hits both alike). Run: `cargo bench --bench banking`
//! (`LANES_BENCH_TXS=2000` for a quick run; `LANES_BENCH_WORKERS=1,2,4,8,16`
//! for more worker counts; `LANES_BENCH_TXS=300 cargo test --bench banking`
//! for a small run in a dev build, to see the tables). For a profiler:
//! `LANES_PROFILE_ONLY=<workload> [LANES_PROFILE_WORKERS=n]` runs only the
//! execution measurement of that workload 20 times (the pipeline one with
//! `LANES_PROFILE_PIPELINE`; threads pinned with `LANES_PROFILE_PIN`).
//! `LANES_BENCH_STATE_ROOT=mpt` makes the chains' headers carry Ethereum's
//! Merkle-Patricia state root (`--state-root mpt`): its cost is in the
//! pipeline figures, which seal and commit every block.
#![allow(missing_docs)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_eips::eip2930::AccessListItem;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_signer_local::PrivateKeySigner;
use common::{
    BASE_FEE, CHAIN_ID, ScalingRow, cache_db, contract, deployed_code, mapping_slot, median,
    median_ratio, print_scaling_table, revm_sequential, sign, txs_count, worker_counts,
};
use lanes_accounts_db::{AccountHeader, AccountsDbConfig, Entry};
use lanes_banking_stage::{BankingStage, BankingStageConfig, BlockStats, SubmitError};
use lanes_evm_adapter::{EvmConfig, EvmExecutor, EvmReceiptData, EvmTx, tx_env};
use lanes_runtime::{Block, Chain, Executor, Genesis, StateKey};
use rand::{Rng, SeedableRng};
use revm::context::TxEnv;

const TOKEN: Address = Address::repeat_byte(0x70);
const POOL: Address = Address::repeat_byte(0x71);
const BLOCK_TIME: Duration = Duration::from_millis(50);
/// Rounds per workload.
const ROUNDS: usize = 5;
/// Block time of the execution runs: the default, so no seal falls in the window.
const EXEC_BLOCK_TIME: Duration = lanes_banking_stage::DEFAULT_BLOCK_TIME;

struct Workload {
    name: &'static str,
    alloc: Vec<Entry>,
    raw: Vec<Bytes>,
}

fn word(v: u128) -> [u8; 32] {
    U256::from(v).to_be_bytes::<32>()
}

fn workloads(n: usize) -> Vec<Workload> {
    let keys: Vec<PrivateKeySigner> = (0..n)
        .map(|i| PrivateKeySigner::from_bytes(&keccak256(format!("banking {i}"))).expect("key"))
        .collect();
    let funded = AccountHeader { balance: U256::from(10u128.pow(20)), ..Default::default() };
    let base: Vec<Entry> = keys.iter().map(|k| Entry::Account(k.address(), funded)).collect();
    let receiver = |i: usize| Address::from_word(keccak256(format!("receiver {i}")));
    let transfer = |k: &PrivateKeySigner, to: Address| {
        sign(
            k,
            to,
            U256::from(1000),
            Bytes::new(),
            AccessListItem { address: to, storage_keys: vec![] },
        )
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);

    let transfers = keys.iter().enumerate().map(|(i, k)| transfer(k, receiver(i))).collect();

    // Zipf(s = 1): P(rank r) ∝ 1 / r over n receivers, by inverse CDF.
    let cdf: Vec<f64> = (1..=n)
        .scan(0.0, |acc, r| {
            *acc += 1.0 / r as f64;
            Some(*acc)
        })
        .collect();
    let total = *cdf.last().expect("n > 0");
    let zipf = keys
        .iter()
        .map(|k| {
            let x = rng.random::<f64>() * total;
            transfer(k, receiver(cdf.partition_point(|c| *c < x)))
        })
        .collect();

    let mut erc20_alloc = base.clone();
    contract(&mut erc20_alloc, TOKEN, deployed_code("Token"));
    for k in &keys {
        erc20_alloc.push(Entry::Storage(
            TOKEN,
            mapping_slot(k.address(), 0),
            U256::from(1_000_000),
        ));
    }
    let erc20 = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let j = (i + rng.random_range(1..n.max(2))) % n;
            let to = keys[j].address();
            let mut data = vec![0xa9, 0x05, 0x9c, 0xbb];
            data.extend_from_slice(B256::left_padding_from(to.as_slice()).as_slice());
            data.extend_from_slice(&word(5));
            let slots = vec![mapping_slot(k.address(), 0), mapping_slot(to, 0)];
            sign(
                k,
                TOKEN,
                U256::ZERO,
                data.into(),
                AccessListItem { address: TOKEN, storage_keys: slots },
            )
        })
        .collect();

    let mut amm_alloc = base.clone();
    contract(&mut amm_alloc, POOL, deployed_code("Pool"));
    let reserve = U256::from(10u128.pow(24));
    amm_alloc.push(Entry::Storage(POOL, B256::ZERO, reserve | (reserve << 128)));
    for k in &keys {
        for slot in [1, 2] {
            amm_alloc.push(Entry::Storage(
                POOL,
                mapping_slot(k.address(), slot),
                U256::from(10u128.pow(21)),
            ));
        }
    }
    let amm = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            // swap(uint256 amountIn, bool zeroForOne)
            let mut data = keccak256("swap(uint256,bool)")[..4].to_vec();
            data.extend_from_slice(&word(10u128.pow(18)));
            data.extend_from_slice(&word(u128::from(i % 2 == 0)));
            let slots =
                vec![B256::ZERO, mapping_slot(k.address(), 1), mapping_slot(k.address(), 2)];
            sign(
                k,
                POOL,
                U256::ZERO,
                data.into(),
                AccessListItem { address: POOL, storage_keys: slots },
            )
        })
        .collect();

    vec![
        Workload { name: "transfers", alloc: base.clone(), raw: transfers },
        Workload { name: "zipf", alloc: base, raw: zipf },
        Workload { name: "erc20", alloc: erc20_alloc, raw: erc20 },
        Workload { name: "amm", alloc: amm_alloc, raw: amm },
    ]
}

fn genesis(w: &Workload) -> Genesis {
    Genesis {
        alloc: w.alloc.clone(),
        gas_limit: u64::MAX / 2,
        base_fee: BASE_FEE,
        ..Default::default()
    }
}

/// The longest chain of transactions whose sets conflict, in order.
fn conflict_bound(txs: &[EvmTx]) -> usize {
    // Per key: depth of its last writer, and the deepest reader since.
    let mut last: HashMap<StateKey, (usize, usize)> = HashMap::new();
    let mut longest = 0;
    for tx in txs {
        let set = tx.access_set().expect("declared");
        let after_writes = set.writes().iter().map(|k| last.get(k).map_or(0, |(w, r)| *w.max(r)));
        let after_reads = set.reads().iter().map(|k| last.get(k).map_or(0, |(w, _)| *w));
        let depth = 1 + after_writes.chain(after_reads).max().unwrap_or(0);
        for k in set.writes() {
            last.insert(*k, (depth, 0));
        }
        for k in set.reads() {
            let e = last.entry(*k).or_default();
            e.1 = e.1.max(depth);
        }
        longest = longest.max(depth);
    }
    longest
}

fn revm_run(w: &Workload, envs: &[TxEnv]) -> Duration {
    revm_sequential(cache_db(&w.alloc), envs.to_vec())
}

struct Run {
    elapsed: Duration,
    stats: BlockStats,
    /// An execution run's blocks replayed by a replica ([`replay_time`]).
    replay: Option<Duration>,
}

fn assert_accepted(accepted: &[Result<B256, SubmitError>]) {
    assert!(accepted.iter().all(Result::is_ok), "{:?}", accepted.iter().find(|r| r.is_err()));
}

/// The workload's chain at its genesis, in `dir`;
/// `LANES_BENCH_STATE_ROOT=mpt`: headers carry the Merkle-Patricia root.
fn new_chain(dir: &std::path::Path, w: &Workload) -> Chain {
    let mpt = std::env::var("LANES_BENCH_STATE_ROOT").is_ok_and(|v| v == "mpt");
    let bank = lanes_runtime::BankConfig {
        commitment: mpt.then(|| {
            Arc::new(lanes_eth::MptCommitment::default()) as Arc<dyn lanes_runtime::StateCommitment>
        }),
        ..Default::default()
    };
    Chain::create_with(dir, AccountsDbConfig::default(), &genesis(w), bank).expect("genesis")
}

/// The time a replica takes to run `blocks` again (`Chain::reexecute_with`,
/// to the sealed block, uncommitted) on `threads` threads, each transaction
/// taken from `txs` by its bytes as a node that admitted it does (no sender
/// recovered again); a block without transactions is replayed untimed.
fn replay_time(
    w: &Workload,
    exec: &EvmExecutor,
    txs: &[EvmTx],
    blocks: &[Block],
    threads: usize,
) -> Duration {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut replica = new_chain(dir.path(), w);
    let known: HashMap<&Bytes, &EvmTx> = txs.iter().map(|t| (t.encoded(), t)).collect();
    let decode = |raw: &Bytes| match known.get(raw) {
        Some(tx) => Ok((*tx).clone()),
        None => exec.decode(raw),
    };
    let mut total = Duration::ZERO;
    for block in blocks {
        let start = Instant::now();
        let sealed = replica.reexecute_with(exec, block, threads, &decode).expect("replays");
        if !block.entries.is_empty() {
            total += start.elapsed();
        }
        replica.commit(&sealed).expect("commit");
    }
    total
}

/// One stage run; `decoded` feeds pre-recovered transactions and stops the
/// clock when the last batch finished, else raw ones until the last commit.
fn stage_run(
    w: &Workload,
    exec: &Arc<EvmExecutor>,
    decoded: Option<&[EvmTx]>,
    workers: usize,
    pin_threads: bool,
) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = new_chain(dir.path(), w);
    let n = w.raw.len();
    let config = BankingStageConfig {
        workers,
        pin_threads,
        sigverify_threads: 2,
        block_time: if decoded.is_some() { EXEC_BLOCK_TIME } else { BLOCK_TIME },
        max_pool: n + 1,
        ingress_queue: n,
        coinbase: Address::repeat_byte(0xcb),
        ..Default::default()
    };
    let mut stage = BankingStage::start(exec.clone(), chain, config);
    // An execution run's blocks, for the replay.
    let mut blocks = Vec::new();
    if let Some(txs) = decoded {
        // The whole set in the pool before the clock starts, and the clock
        // started as a block begins.
        stage.pause();
        // Senders recovered once, before all the rounds: no recovery time
        // to report here (the sigverify share comes from the pipeline runs).
        assert_accepted(&stage.submit_decoded(txs.to_vec(), Duration::ZERO));
        let empty = stage.blocks().recv_timeout(Duration::from_secs(60)).expect("a block");
        assert!(empty.receipts.is_empty(), "ran while paused");
        blocks.push(empty.block);
    }
    let start = Instant::now();
    match decoded {
        Some(_) => stage.resume(),
        None => {
            let accepted: Vec<_> =
                w.raw.chunks(512).flat_map(|c| stage.submit_many(c.to_vec())).collect();
            assert_accepted(&accepted);
        }
    }
    // An execution run's clock stops when the last batch finished on its
    // worker (the blocks' stats say when), not when a poll of the pool finds
    // it empty: the poll's period rounded the figure up, and the last batch
    // still ran after the pool emptied.
    let mut last_done = None;
    let mut included = 0;
    let mut stats = BlockStats::default();
    while included < n {
        let b = stage.blocks().recv_timeout(Duration::from_secs(60)).expect("a block");
        for r in &b.receipts {
            assert!(r.outcome.success, "{:?}", EvmReceiptData::from_outcome(&r.outcome));
        }
        assert!(b.rejected.is_empty(), "{:?}", b.rejected.first());
        included += b.receipts.len();
        if decoded.is_some() {
            blocks.push(b.block);
        }
        let s = &b.stats;
        stats.transactions += s.transactions;
        stats.entries += s.entries;
        stats.exclusive += s.exclusive;
        stats.conflicts += s.conflicts;
        stats.sigverify_time += s.sigverify_time;
        stats.scheduler_time += s.scheduler_time;
        stats.worker_time += s.worker_time;
        last_done = last_done.max(s.last_batch_done);
    }
    let elapsed = match decoded {
        Some(_) => last_done.expect("an execution run ran batches") - start,
        None => start.elapsed(),
    };
    stage.shutdown().expect("shutdown");
    assert_eq!(stats.exclusive, 0);
    stats.mean_entry_width = stats.transactions as f64 / stats.entries.max(1) as f64;
    let replay = decoded.map(|txs| replay_time(w, exec, txs, &blocks, workers));
    Run { elapsed, stats, replay }
}

fn main() {
    let n = txs_count();
    let workers = worker_counts();
    let last_workers = *workers.last().expect("at least one worker count");
    let exec = Arc::new(EvmExecutor::new(EvmConfig::new(CHAIN_ID)));
    println!(
        "banking stage, {n} transactions per workload, medians of {ROUNDS} rounds, block time {BLOCK_TIME:?}"
    );
    let mut header = format!("{:<10} {:>6} |", "workload", "bound");
    for w in &workers {
        header.push_str(&format!(" {:>10}", format!("pipe {w}w/s")));
    }
    header.push_str(&format!(" | {:>9}", "revm"));
    for w in &workers {
        header.push_str(&format!(" {:>9}", format!("exec {w}w")));
    }
    header.push_str(&format!(
        " {:>9} | {:>8} {:>9} {:>6}",
        "1w pinned",
        "sigver%",
        format!("width {last_workers}w"),
        "confl"
    ));
    println!("{header}");
    if let Ok(only) = std::env::var("LANES_PROFILE_ONLY") {
        let workers = std::env::var("LANES_PROFILE_WORKERS").map_or(1, |w| w.parse().expect("n"));
        let pin = std::env::var("LANES_PROFILE_PIN").is_ok();
        for w in workloads(n).into_iter().filter(|w| w.name == only) {
            let txs: Vec<EvmTx> = w.raw.iter().map(|r| exec.decode(r).expect("decode")).collect();
            let pipeline = std::env::var("LANES_PROFILE_PIPELINE").is_ok();
            let runs: Vec<Duration> = (0..20)
                .map(|_| {
                    let run = stage_run(&w, &exec, (!pipeline).then_some(&txs[..]), workers, pin);
                    let s = &run.stats;
                    println!(
                        "{:.2?}: scheduler busy {:.2?}, workers busy {:.2?}, {} entries",
                        run.elapsed, s.scheduler_time, s.worker_time, s.entries
                    );
                    run.elapsed
                })
                .collect();
            println!("{only}: execution with {workers} workers, median {:?}", median(runs));
        }
        return;
    }
    let mut scaling = Vec::new();
    for w in workloads(n) {
        let txs: Vec<EvmTx> = w.raw.iter().map(|r| exec.decode(r).expect("decode")).collect();
        let envs: Vec<TxEnv> = txs.iter().map(|t| tx_env(t.envelope(), t.sender())).collect();
        let bound = conflict_bound(&txs);
        // Per worker count, the pipeline's and the execution's times.
        let mut pipe: Vec<Vec<Duration>> = workers.iter().map(|_| Vec::new()).collect();
        let mut execs: Vec<Vec<Duration>> = workers.iter().map(|_| Vec::new()).collect();
        let mut replays: Vec<Vec<Duration>> = workers.iter().map(|_| Vec::new()).collect();
        let (mut pinned, mut revm) = (Vec::new(), Vec::new());
        let mut last = None;
        for _ in 0..ROUNDS {
            revm.push(revm_run(&w, &envs));
            for (i, &count) in workers.iter().enumerate() {
                let run = stage_run(&w, &exec, Some(&txs), count, false);
                execs[i].push(run.elapsed);
                replays[i].push(run.replay.expect("an execution run replays"));
                let run = stage_run(&w, &exec, None, count, false);
                pipe[i].push(run.elapsed);
                last = Some(run.stats);
            }
            pinned.push(stage_run(&w, &exec, Some(&txs), 1, true).elapsed);
        }
        let stats = last.expect("ran");
        let busy = stats.sigverify_time + stats.scheduler_time + stats.worker_time;
        let speedups: Vec<f64> = execs.iter().map(|e| median_ratio(&revm, e)).collect();
        let s1p = median_ratio(&revm, &pinned);
        let revm = median(revm);
        let pipe: Vec<Duration> = pipe.into_iter().map(median).collect();
        let execs: Vec<Duration> = execs.into_iter().map(median).collect();
        let replays: Vec<Duration> = replays.into_iter().map(median).collect();
        let e1p = median(pinned);
        let rate = |d: Duration| n as f64 / d.as_secs_f64();
        let mut line = format!("{:<10} {:>6} |", w.name, bound);
        for p in &pipe {
            line.push_str(&format!(" {:>10.0}", rate(*p)));
        }
        line.push_str(&format!(" | {revm:>9.2?}"));
        for s in speedups.iter().chain([&s1p]) {
            line.push_str(&format!(" {s:>5.2}x {:>3}", ""));
        }
        line.push_str(&format!(
            " | {:>7.1}% {:>9.1} {:>6}",
            100.0 * stats.sigverify_time.as_secs_f64() / busy.as_secs_f64(),
            stats.mean_entry_width,
            stats.conflicts,
        ));
        println!("{line}");
        let join = |times: &[Duration]| {
            times.iter().map(|t| format!("{t:.2?}")).collect::<Vec<_>>().join(" / ")
        };
        let counts = workers.iter().map(usize::to_string).collect::<Vec<_>>().join(" / ");
        println!(
            "{:<10} {:>6}   pipeline {} ({counts} workers), execution {} / {e1p:.2?} ({counts} / 1 pinned workers)",
            "",
            "",
            join(&pipe),
            join(&execs),
        );
        println!(
            "{:<10} {:>6}   a replica's replay of the execution's blocks (to the seal) {} ({counts} threads)",
            "",
            "",
            join(&replays),
        );
        let lanes = execs.into_iter().zip(speedups).collect();
        scaling.push(ScalingRow { workload: w.name, baseline: revm, lanes });
    }
    print_scaling_table(
        "the stage's execution (pool filled beforehand) by worker count, medians of the rounds",
        "revm",
        &workers,
        "worker",
        &scaling,
    );
    print_goals(&workers, &scaling);
}

/// Issue 85's goals for the stage's execution against sequential revm, each
/// beside the measured speedup: every workload at least 0.95x at 1 worker
/// and 1.6x at 2 (the one-pool amm 1.2x at 2).
fn print_goals(workers: &[usize], scaling: &[ScalingRow]) {
    println!("\ngoals (issue 85, a 2-core machine), the stage's execution / revm:");
    for row in scaling {
        let mut line = format!("{:<10}", row.workload);
        for (&count, &(_, speedup)) in workers.iter().zip(&row.lanes) {
            let goal = match count {
                1 => 0.95,
                2 if row.workload == "amm" => 1.2,
                2 => 1.6,
                _ => continue,
            };
            let verdict = if speedup >= goal { "met" } else { "MISSED" };
            line.push_str(&format!(" | {count}w >= {goal:.2}x: {verdict} ({speedup:.2}x)"));
        }
        println!("{line}");
    }
}
