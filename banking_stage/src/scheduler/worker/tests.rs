//! A block's worker threads are joined before the block is sealed, and a
//! stopped or dropped stage leaves none running.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, U256};
use lanes_accounts_db::{AccountHeader, AccountsDbConfig, Entry};
use lanes_runtime::native::{NativeExecutor, NativeTx};
use lanes_runtime::{
    BlockEnv, Chain, DecodeError, Executor, Genesis, Outcome, StateView, Transaction, TxError,
};

use super::allowed_cores;
use crate::{BankingStage, BankingStageConfig};

const WORKERS: usize = 2;
const ROUNDS: u64 = 4;
const SENDERS: u8 = 6;

/// Counts a thread's exit: a thread-local dropped as the thread ends, before
/// a join of it returns.
struct Exit(Arc<AtomicUsize>);

impl Drop for Exit {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

thread_local! {
    static EXIT: RefCell<Option<Exit>> = const { RefCell::new(None) };
}

/// The native executor, noting the worker threads that run transactions,
/// and the cores each may run on, and counting those that have exited.
#[derive(Default)]
struct Recording {
    threads: Mutex<HashSet<ThreadId>>,
    allowed: Mutex<Vec<Vec<usize>>>,
    exited: Arc<AtomicUsize>,
}

impl Recording {
    fn seen(&self) {
        let thread = std::thread::current();
        if !thread.name().is_some_and(|n| n.starts_with("lanes-worker-")) {
            return;
        }
        if self.threads.lock().unwrap().insert(thread.id()) {
            EXIT.with(|e| *e.borrow_mut() = Some(Exit(self.exited.clone())));
            self.allowed.lock().unwrap().push(allowed_cores());
        }
    }

    fn threads(&self) -> usize {
        self.threads.lock().unwrap().len()
    }
}

impl Executor for Recording {
    type Tx = NativeTx;
    type Worker<'b> = ();

    fn decode(&self, bytes: &[u8]) -> Result<NativeTx, DecodeError> {
        NativeExecutor.decode(bytes)
    }

    fn worker<'b>(&'b self, _env: &'b BlockEnv) {}

    fn execute<'b>(
        &self,
        worker: &mut (),
        tx: &NativeTx,
        state: StateView<'b>,
    ) -> (Result<Outcome, TxError>, StateView<'b>) {
        self.seen();
        NativeExecutor.execute(worker, tx, state)
    }
}

fn sender(i: u8) -> Address {
    Address::repeat_byte(i.wrapping_add(1))
}

/// A stage of `workers` workers that has run [`ROUNDS`] blocks with
/// transactions, each round's included before the next is sent.
fn stage_after_blocks(
    workers: usize,
) -> (tempfile::TempDir, Arc<Recording>, BankingStage<Recording>) {
    let dir = tempfile::tempdir().unwrap();
    let funded = AccountHeader { balance: U256::from(10u64.pow(18)), ..Default::default() };
    let genesis = Genesis {
        alloc: (0..SENDERS).map(|i| Entry::Account(sender(i), funded)).collect(),
        timestamp: 0,
        coinbase: Address::ZERO,
        base_fee: 0,
        gas_limit: 30_000_000,
        ..Default::default()
    };
    let chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis).unwrap();
    let config = BankingStageConfig {
        workers,
        sigverify_threads: 1,
        block_time: Duration::from_millis(20),
        max_wait: Duration::from_millis(20),
        ..Default::default()
    };
    let executor = Arc::new(Recording::default());
    let stage = BankingStage::start(executor.clone(), chain, config);
    let mut blocks = 0;
    for nonce in 0..ROUNDS {
        let txs = (0..SENDERS).map(|i| {
            let fee = U256::from(21_000);
            NativeTx::transfer(sender(i), nonce, sender(i + 1), U256::from(1), fee)
        });
        let mut waiting: HashSet<B256> =
            txs.map(|tx| stage.submit(tx.encoded().clone()).unwrap()).collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !waiting.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let block = stage.blocks().recv_timeout(left);
            let block = block.unwrap_or_else(|_| panic!("round {nonce} not included"));
            blocks += usize::from(!block.receipts.is_empty());
            for receipt in &block.receipts {
                waiting.remove(&receipt.tx_hash);
            }
        }
    }
    assert!(blocks >= ROUNDS as usize, "{blocks} blocks with transactions");
    (dir, executor, stage)
}

#[test]
fn test_each_blocks_workers_are_joined_before_it_is_sealed() {
    let (_dir, executor, mut stage) = stage_after_blocks(WORKERS);
    // Every block that ran transactions was sealed: its workers have ended.
    let threads = executor.threads();
    assert!(threads >= ROUNDS as usize, "{threads} worker threads ran {ROUNDS} blocks");
    assert_eq!(executor.exited.load(Ordering::SeqCst), threads, "every worker joined");
    stage.shutdown().unwrap();
    assert_eq!(executor.exited.load(Ordering::SeqCst), threads);
}

#[test]
fn test_dropping_the_stage_leaves_no_worker_running() {
    let (_dir, executor, stage) = stage_after_blocks(WORKERS);
    drop(stage);
    assert_eq!(executor.exited.load(Ordering::SeqCst), executor.threads(), "every worker joined");
}

#[test]
fn test_the_scheduler_keeps_a_core_apart_from_its_workers() {
    let cores = allowed_cores();
    let workers = cores.len().saturating_sub(1).max(1);
    let (_dir, executor, mut stage) = stage_after_blocks(workers);
    stage.shutdown().unwrap();
    let allowed = executor.allowed.lock().unwrap().clone();
    assert!(!allowed.is_empty(), "no worker ran a transaction");
    // With a core beyond the workers' the last is the scheduler's alone.
    let apart = workers < lanes_runtime::cores() && cores.len() > workers;
    let expected = if apart { &cores[..cores.len() - 1] } else { &cores[..] };
    for worker in allowed {
        assert_eq!(worker, expected, "a worker's cores, of {cores:?}");
    }
}
