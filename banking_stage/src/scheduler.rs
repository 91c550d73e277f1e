//! The scheduler thread: takes transactions from the pool in priority order,
//! locks their sets, hands non-conflicting batches to worker threads, and
//! seals a block at every slot boundary.
//!
//! Locks are thread-aware (Agave's): one table ([`ThreadLocks`]) answers which
//! workers hold locks a set conflicts with. A
//! set that conflicts with the locks of exactly one worker goes to that worker,
//! whose batches run one after another in order; a set that conflicts with
//! two or more waits. A transaction held back marks its keys for the rest of
//! the pass, so a later conflicting one cannot jump it, and one held longer
//! than `max_wait` goes ahead of newer ones, so a hot key cannot starve it.
//! A batch is recorded as entries by the worker when it finishes (a new entry
//! where its transactions conflict), before its locks are released here, so
//! entries replay in an order execution saw.
//! Transactions without a declaration, and those that left it, run in the
//! exclusive lane: a barrier, once the work in flight has drained.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy_primitives::B256;
use crossbeam_channel::{Receiver, SendTimeoutError, Sender, bounded, select};
use lanes_runtime::{
    AccessSet, Bank, Chain, Executed, Executor, ThreadLocks, Transaction, TxError, key_counts,
};

use crate::config::{BankingStageConfig, MAX_WORKERS};
use crate::pool::Held;
use crate::stage::{BlockSink, Latest, ProducedBlock, Shared, StageError};
use crate::stats::BlockStats;

/// Most transactions a slot reserves room for up front (about 40 MiB of
/// write cache); a slot that runs more grows its cache as it goes.
const MAX_RESERVED_TXS: usize = 100_000;

/// A batch handed to a worker, and handed back with its results. The
/// transactions stay in the boxes the pool put them in: moving each (an EVM
/// transaction is over 500 bytes) out of its box and back, with its pool
/// data beside it, was about a seventh of the scheduler's busy time on
/// transfers (34 ms of it for 10k, 29 ms without).
struct Batch<T> {
    worker: usize,
    txs: Vec<Held<T>>,
}

struct Done<T> {
    batch: Batch<T>,
    results: Result<Vec<Executed>, lanes_runtime::BankError>,
    elapsed: Duration,
}

/// A transaction in the look-ahead window, with the key that orders it:
/// long-waiting ones first, oldest first; then the best tip, then arrival.
/// The key sits beside the box, so keeping the window in order reads the
/// window's own memory, not each transaction's box (re-collecting the keys
/// from the boxes, 2048 cache misses per pass, was about a tenth of the
/// scheduler's busy time on transfers).
///
/// 40 bytes: the tip's complement in two words (a `u128` would align the
/// whole to 16 bytes and make it 48), the arrival read from the box only
/// when the window is re-ranked for age.
struct Candidate<T> {
    /// (not aged, high and low word of `u128::MAX - tip` (0 when aged), seq).
    rank: (bool, u64, u64, u64),
    p: Held<T>,
}

const _: () = assert!(std::mem::size_of::<Candidate<()>>() == 40);

impl<T> Candidate<T> {
    fn new(p: Held<T>, aged_if_before: Option<Instant>) -> Self {
        let mut c = Self { rank: (true, 0, 0, p.seq), p };
        c.rerank(aged_if_before);
        c
    }

    /// Ranks it as aged when it arrived before `aged_if_before`.
    fn rerank(&mut self, aged_if_before: Option<Instant>) {
        let aged = aged_if_before.is_some_and(|t| self.p.arrived <= t);
        let behind = if aged { 0 } else { u128::MAX - self.p.tip };
        self.rank = (!aged, (behind >> 64) as u64, behind as u64, self.p.seq);
    }
}

/// How much later than `max_wait` a transaction may be ranked as aged: the
/// window is re-ranked for age once per `max_wait / AGE_CHECKS`, not on
/// every pass.
const AGE_CHECKS: u32 = 16;

/// The look-ahead window: transactions taken from the pool and not yet run
/// (held back by conflicts, the gas limit, full worker queues or a full
/// exclusive lane), kept in rank order between passes.
struct Window<T> {
    /// In rank order unless `unsorted`.
    held: VecDeque<Candidate<T>>,
    /// Whether `held` may be out of rank order.
    unsorted: bool,
    /// When `held` is next re-ranked for age.
    next_age_check: Instant,
    /// A transaction waiting this long ranks as aged.
    max_wait: Duration,
}

impl<T> Window<T> {
    fn new(max_wait: Duration) -> Self {
        Self { held: VecDeque::new(), unsorted: false, next_age_check: Instant::now(), max_wait }
    }

    /// Puts `p` back in the window, out of order until the next pass sorts it.
    fn hold(&mut self, p: Held<T>) {
        let aged_if_before = Instant::now().checked_sub(self.max_wait);
        self.held.push_back(Candidate::new(p, aged_if_before));
        self.unsorted = true;
    }

    /// The window for a pass, in rank order: re-ranked for age when due, and
    /// topped up to `lookahead` from `pop` (the pool, best first). The pass
    /// puts back what it does not run.
    fn take(
        &mut self,
        lookahead: usize,
        mut pop: impl FnMut() -> Option<Held<T>>,
    ) -> VecDeque<Candidate<T>> {
        let now = Instant::now();
        let aged_if_before = now.checked_sub(self.max_wait);
        let mut candidates = std::mem::take(&mut self.held);
        if now >= self.next_age_check {
            for c in &mut candidates {
                c.rerank(aged_if_before);
            }
            self.unsorted = true;
            self.next_age_check = now.checked_add(self.max_wait / AGE_CHECKS).unwrap_or(now);
        }
        while candidates.len() < lookahead {
            let Some(p) = pop() else { break };
            let c = Candidate::new(p, aged_if_before);
            // The pool gives its best first; one that outranks the window's
            // last (a better tip than what is held) needs a sort.
            self.unsorted |= candidates.back().is_some_and(|last| last.rank > c.rank);
            candidates.push_back(c);
        }
        if std::mem::take(&mut self.unsorted) {
            // Stable, so mostly ordered runs merge in one pass.
            candidates.make_contiguous().sort_by_key(|c| c.rank);
        }
        candidates
    }
}

fn declared<T: Transaction>(tx: &T) -> Option<&AccessSet> {
    tx.access_set().filter(|set| !set.is_empty())
}

/// The cores to pin threads to, one per worker and then the scheduler's;
/// none where the process may use no more cores than there are workers.
fn pin_plan(workers: usize) -> Option<Vec<core_affinity::CoreId>> {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    if cores.len() <= workers {
        tracing::warn!(
            target: "lanes::banking",
            workers,
            cores = cores.len(),
            "pin_threads needs more cores than workers; threads left unpinned"
        );
        return None;
    }
    Some(cores[..=workers].to_vec())
}

/// Pins the calling thread to `core`; a refusal leaves it unpinned.
fn pin(core: core_affinity::CoreId) {
    if !core_affinity::set_for_current(core) {
        tracing::warn!(target: "lanes::banking", core = core.id, "could not pin a thread; left unpinned");
    }
}

/// The scheduler's state for one slot.
struct Slot<T> {
    /// Locks of the work each worker has (thread `w`), and, as one more
    /// thread, the keys of transactions held back in the current pass.
    locks: ThreadLocks,
    /// Transactions sent to each worker and not yet done.
    load: Vec<usize>,
    /// Batches sent to each worker and not yet done.
    batches: Vec<usize>,
    reserved_gas: u64,
    /// Whether the bank has reserved room for the slot's work.
    reserved: bool,
    exclusive: Vec<Held<T>>,
    rejected: Vec<(B256, TxError)>,
    conflicts: u64,
    scheduler_time: Duration,
    worker_time: Duration,
}

impl<T> Slot<T> {
    fn in_flight(&self) -> bool {
        self.batches.iter().any(|b| *b > 0)
    }
}

pub(crate) struct Scheduler<E: Executor> {
    executor: Arc<E>,
    chain: Chain,
    config: BankingStageConfig,
    shared: Arc<Shared<E::Tx>>,
    doorbell: Receiver<()>,
    stop: Receiver<()>,
    blocks: Sender<ProducedBlock>,
    sink: Option<Box<dyn BlockSink>>,
    /// Transactions taken from the pool and not yet run.
    window: Window<E::Tx>,
    stopping: bool,
    /// Worker threads per slot.
    workers: usize,
    /// With `pin_threads`: a core for each worker, then the scheduler's.
    cores: Option<Vec<core_affinity::CoreId>>,
}

impl<E: Executor> Scheduler<E> {
    #[expect(clippy::too_many_arguments, reason = "the stage hands over each part once")]
    pub(crate) fn new(
        executor: Arc<E>,
        chain: Chain,
        config: BankingStageConfig,
        shared: Arc<Shared<E::Tx>>,
        doorbell: Receiver<()>,
        stop: Receiver<()>,
        blocks: Sender<ProducedBlock>,
        sink: Option<Box<dyn BlockSink>>,
    ) -> Self {
        let workers = config.workers.clamp(1, MAX_WORKERS);
        let cores = config.pin_threads.then(|| pin_plan(workers)).flatten();
        let window = Window::new(config.max_wait);
        Self {
            workers,
            cores,
            executor,
            chain,
            config,
            shared,
            doorbell,
            stop,
            blocks,
            sink,
            window,
            stopping: false,
        }
    }

    /// Produces blocks until asked to stop; returns the chain.
    pub(crate) fn run(mut self) -> Result<Chain, StageError> {
        if let Some(cores) = &self.cores {
            pin(cores[self.workers]);
        }
        while !self.stopping {
            if let Err(e) = self.slot() {
                tracing::error!(target: "lanes::banking", %e, "banking stage stopped");
                return Err(e);
            }
        }
        Ok(self.chain)
    }

    /// One slot: schedule until its end, drain, seal, commit, publish.
    fn slot(&mut self) -> Result<(), StageError> {
        let slot_end = Instant::now() + self.config.slot_time;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let timestamp = now.max(self.chain.head().timestamp);
        let bank = self.chain.new_bank(timestamp, self.config.coinbase);
        let slot = self.fill(&bank, slot_end)?;

        let seal_start = Instant::now();
        let sealed = bank.seal()?;
        if let Some(sink) = &mut self.sink {
            sink.persist(&sealed.block, &sealed.receipts).map_err(|source| StageError::Sink {
                number: sealed.block.header.number,
                source,
            })?;
        }
        self.chain.commit(&sealed)?;
        let header = sealed.block.header.clone();
        self.shared.set_latest(Latest { header: header.clone(), view: self.chain.db().view() });
        let pool_len = {
            let mut pool = self.shared.pool();
            pool.prune_idle();
            pool.len()
        };
        let entries = &sealed.block.entries;
        let transactions = sealed.receipts.len();
        let stats = BlockStats {
            number: header.number,
            transactions,
            entries: entries.len(),
            mean_entry_width: if entries.is_empty() {
                0.0
            } else {
                transactions as f64 / entries.len() as f64
            },
            exclusive: entries.iter().filter(|e| e.exclusive).count(),
            conflicts: slot.conflicts,
            rejected: slot.rejected.len(),
            gas_used: header.gas_used,
            sigverify_time: Duration::from_nanos(
                self.shared.sigverify_nanos.swap(0, Ordering::Relaxed),
            ),
            scheduler_time: slot.scheduler_time,
            worker_time: slot.worker_time,
            seal_time: seal_start.elapsed(),
            pool_len,
        };
        tracing::info!(
            target: "lanes::banking",
            number = stats.number,
            txs = stats.transactions,
            entries = stats.entries,
            width = format_args!("{:.1}", stats.mean_entry_width),
            exclusive = stats.exclusive,
            conflicts = stats.conflicts,
            rejected = stats.rejected,
            gas = stats.gas_used,
            sigverify = ?stats.sigverify_time,
            scheduler = ?stats.scheduler_time,
            workers = ?stats.worker_time,
            seal = ?stats.seal_time,
            pool = stats.pool_len,
            "block"
        );
        let mut produced = ProducedBlock {
            block: sealed.block,
            receipts: sealed.receipts,
            rejected: slot.rejected,
            stats,
        };
        loop {
            match self.blocks.send_timeout(produced, Duration::from_millis(50)) {
                Ok(()) | Err(SendTimeoutError::Disconnected(_)) => break,
                Err(SendTimeoutError::Timeout(back)) => {
                    if self.shared.closed.load(Ordering::Acquire) {
                        tracing::warn!(target: "lanes::banking", number = header.number, "block queue full at shutdown; block committed but not handed out");
                        break;
                    }
                    produced = back;
                }
            }
        }
        Ok(())
    }

    /// Runs the slot's work on scoped worker threads until the slot ends (or
    /// a stop is asked) and nothing is in flight.
    fn fill(&mut self, bank: &Bank, slot_end: Instant) -> Result<Slot<E::Tx>, StageError> {
        let workers = self.workers;
        let depth = self.config.worker_queue + 1;
        let executor = self.executor.clone();
        let mut slot = Slot {
            locks: ThreadLocks::new(workers + 1),
            load: vec![0; workers],
            batches: vec![0; workers],
            reserved_gas: 0,
            reserved: false,
            exclusive: Vec::new(),
            rejected: Vec::new(),
            conflicts: 0,
            scheduler_time: Duration::ZERO,
            worker_time: Duration::ZERO,
        };
        std::thread::scope(|s| -> Result<(), StageError> {
            let (done_tx, done_rx) = bounded::<Done<E::Tx>>(workers * depth);
            let queues: Vec<Sender<Batch<E::Tx>>> = (0..workers)
                .map(|w| {
                    let (queue, batches) = bounded::<Batch<E::Tx>>(depth);
                    let (done, executor) = (done_tx.clone(), &*executor);
                    let core = self.cores.as_ref().map(|cores| cores[w]);
                    std::thread::Builder::new()
                        .name(format!("lanes-worker-{w}"))
                        .spawn_scoped(s, move || {
                            if let Some(core) = core {
                                pin(core);
                            }
                            let mut worker = bank.worker(executor);
                            for batch in batches {
                                let start = Instant::now();
                                let results = bank.execute_batch(executor, &mut worker, &batch.txs);
                                let elapsed = start.elapsed();
                                if done.send(Done { batch, results, elapsed }).is_err() {
                                    break;
                                }
                            }
                        })
                        .expect("spawning a thread");
                    queue
                })
                .collect();
            drop(done_tx);
            loop {
                let busy = Instant::now();
                while let Ok(done) = done_rx.try_recv() {
                    self.complete(&mut slot, done)?;
                }
                let ending = self.stopping || Instant::now() >= slot_end;
                if !ending {
                    if !slot.exclusive.is_empty() && !slot.in_flight() {
                        self.run_exclusive(bank, &mut slot)?;
                    }
                    self.schedule(bank, &mut slot, &queues);
                }
                slot.scheduler_time += busy.elapsed();
                if ending && !slot.in_flight() {
                    break;
                }
                if !slot.exclusive.is_empty() && !slot.in_flight() {
                    continue; // the exclusive lane can run now; nothing else would wake us
                }
                let wait = slot_end.saturating_duration_since(Instant::now());
                let wait = if ending { Duration::from_secs(3600) } else { wait };
                select! {
                    recv(done_rx) -> done => {
                        let busy = Instant::now();
                        if let Ok(done) = done {
                            self.complete(&mut slot, done)?;
                        }
                        slot.scheduler_time += busy.elapsed();
                    }
                    recv(self.doorbell) -> _ => {}
                    recv(self.stop) -> _ => self.stopping = true,
                    default(wait) => {}
                }
            }
            drop(queues);
            Ok(())
        })?;
        // What did not run this slot waits for the next.
        for p in std::mem::take(&mut slot.exclusive) {
            self.window.hold(p);
        }
        Ok(slot)
    }

    /// A worker finished a batch: release its locks and settle each transaction.
    fn complete(&mut self, slot: &mut Slot<E::Tx>, done: Done<E::Tx>) -> Result<(), StageError> {
        let Done { batch, results, elapsed } = done;
        let results = results?;
        let w = batch.worker;
        slot.worker_time += elapsed;
        slot.batches[w] -= 1;
        let mut pool = self.shared.pool();
        for (p, executed) in batch.txs.into_iter().zip(results) {
            let tx = &p.tx;
            if let Some(set) = declared(tx) {
                slot.locks.unlock(w, set);
            }
            slot.load[w] -= 1;
            slot.reserved_gas = slot.reserved_gas.saturating_sub(tx.gas_limit());
            match executed {
                Executed::Included { .. } => pool.finish(&p, true),
                Executed::Rejected(e) => {
                    pool.finish(&p, false);
                    slot.rejected.push((p.hash, e));
                }
                Executed::NeedsExclusive(_) => slot.exclusive.push(p),
                Executed::Deferred => self.window.hold(p),
            }
        }
        Ok(())
    }

    /// Runs the exclusive lane on this thread; nothing is in flight.
    fn run_exclusive(&mut self, bank: &Bank, slot: &mut Slot<E::Tx>) -> Result<(), StageError> {
        let mut pool = self.shared.pool();
        for p in std::mem::take(&mut slot.exclusive) {
            match bank.execute_exclusive(&*self.executor, &p.tx)? {
                Executed::Included { .. } => pool.finish(&p, true),
                Executed::Rejected(e) => {
                    pool.finish(&p, false);
                    slot.rejected.push((p.hash, e));
                }
                _ => self.window.hold(p),
            }
        }
        Ok(())
    }

    /// One scheduling pass over the held transactions and the pool's best.
    fn schedule(&mut self, bank: &Bank, slot: &mut Slot<E::Tx>, queues: &[Sender<Batch<E::Tx>>]) {
        if !slot.exclusive.is_empty() || self.shared.paused.load(Ordering::Acquire) {
            return; // the exclusive lane is a barrier; a paused stage takes nothing
        }
        let (mut candidates, queued) = {
            let mut pool = self.shared.pool();
            let candidates = self.window.take(self.config.lookahead, || pool.pop());
            (candidates, pool.len())
        };
        if !slot.reserved && !candidates.is_empty() {
            // The slot's first work: room in the bank's write cache and ledger
            // for what is queued now, up to what the block's gas could hold at
            // the smallest gas limit in view (the scheduler counts gas by
            // limits too), so a busy slot does not grow them while workers
            // write. Growing, for 10k transfers on one worker, took about a
            // quarter of the worker's time (copies, rehashing, page faults).
            // The window's sets stand for the queue's: each transaction gets
            // their mean count of account and of storage keys, and at least
            // its sender.
            let least = candidates.iter().map(|c| c.p.tx.gas_limit()).min().unwrap_or(1).max(1);
            let fits = usize::try_from(bank.env().gas_limit / least).unwrap_or(usize::MAX);
            let txs = queued.saturating_add(candidates.len()).min(fits).min(MAX_RESERVED_TXS);
            let (accounts, slots) = key_counts(candidates.iter().filter_map(|c| declared(&c.p.tx)));
            let per_tx = |keys: usize| keys.saturating_mul(txs) / candidates.len();
            bank.reserve(txs, per_tx(accounts).max(txs), per_tx(slots));
            slot.reserved = true;
        }
        if candidates.is_empty() {
            return;
        }
        let workers = slot.load.len();
        // The pseudo-thread of `slot.locks` marking held-back transactions.
        let blocked = workers;
        let depth = self.config.worker_queue + 1;
        let batch_size = self.config.batch_size.max(1);
        let gas_limit = bank.env().gas_limit;
        let gas_used = bank.gas_used();
        let mut lane_room =
            bank.exclusive_count() < self.chain.bank_config().max_exclusive_per_block;
        let mut barrier = false;
        let mut pending: Vec<Vec<Held<E::Tx>>> = (0..workers).map(|_| Vec::new()).collect();
        let send = |w: usize, txs: Vec<Held<E::Tx>>, slot: &mut Slot<E::Tx>| {
            slot.batches[w] += 1;
            // Never blocks: at most `depth` batches are out per worker.
            let _ = queues[w].send(Batch { worker: w, txs });
        };
        // Examined and held back, in order; they go back before the rest.
        let mut kept = Vec::new();
        while let Some(c) = candidates.pop_front() {
            // Whether worker `w` can take this transaction: into its open
            // batch, or a new one while it has fewer than `depth` out.
            let takes = |w: usize| !pending[w].is_empty() || slot.batches[w] < depth;
            // Once no worker can take another batch, the rest wait for the
            // next pass unexamined, where they are (the pass after each
            // finished batch would otherwise re-check the whole window).
            let room = (0..workers).any(takes);
            if barrier || !room {
                candidates.push_front(c);
                break;
            }
            let gas = c.p.tx.gas_limit();
            if gas_used.saturating_add(slot.reserved_gas).saturating_add(gas) > gas_limit {
                // It may fit once running work reports its real use, or in
                // the next block; what conflicts with it waits behind it.
                if let Some(set) = declared(&c.p.tx) {
                    slot.locks.lock(blocked, set);
                }
                kept.push(c);
                continue;
            }
            let Some(set) = declared(&c.p.tx) else {
                if lane_room {
                    // Runs alone once in-flight work drains; nothing jumps it.
                    slot.exclusive.push(c.p);
                    lane_room = false;
                    barrier = true;
                } else {
                    kept.push(c); // the block's lane is full: next block
                }
                continue;
            };
            let holders = slot.locks.conflicts(set);
            let target = match holders.count_ones() {
                _ if holders & (1 << blocked) != 0 => None,
                // Conflicts only with work of `w`: queue it behind that work
                // (the worker runs its batches in order, and a batch records
                // a new entry where its transactions conflict).
                1 => Some(holders.trailing_zeros() as usize).filter(|w| takes(*w)),
                // Free: the least loaded worker that can take it, into its
                // open batch or a new one.
                0 => (0..workers)
                    .filter(|w| takes(*w))
                    .min_by_key(|w| slot.load[*w] + pending[*w].len()),
                _ => None,
            };
            let Some(w) = target else {
                slot.conflicts += 1;
                slot.locks.lock(blocked, set);
                kept.push(c);
                continue;
            };
            slot.locks.lock(w, set);
            slot.load[w] += 1;
            slot.reserved_gas = slot.reserved_gas.saturating_add(gas);
            pending[w].push(c.p);
            if pending[w].len() >= batch_size {
                send(w, std::mem::take(&mut pending[w]), slot);
            }
        }
        for c in kept.into_iter().rev() {
            candidates.push_front(c);
        }
        self.window.held = candidates;
        for (w, txs) in pending.into_iter().enumerate() {
            if !txs.is_empty() {
                send(w, txs, slot);
            }
        }
        slot.locks.unlock_all(blocked);
    }
}
