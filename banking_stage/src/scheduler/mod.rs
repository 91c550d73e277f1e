//! The scheduler thread, the controller of block production: it owns the
//! worker threads, the channels and the clock. For each block it opens a
//! bank, starts the block's worker threads with it ([`worker`]; a lone
//! transaction's block runs on this thread), runs scheduling passes ([`pass`]) over the look-ahead
//! window ([`window`]), sending them batches, until the block is done, takes
//! the bank back from them, hands it to the block driver to seal, and
//! commits and publishes what the driver built.
//!
//! While fewer of its workers are busy than there are cores, the scheduler
//! waits for them by polling instead of sleeping, and where the process
//! has a core beyond its workers' it keeps that core to itself (the last
//! one; the workers run on the others, or each on its own with
//! `pin_threads`). A sleeping scheduler woken by a finished batch was run
//! by the kernel on the waking worker's core, preempting the worker for
//! every batch while the other core idled, and a polling one the kernel
//! had put there shared that core with it (docs/figures.md, "A scheduler
//! on a core of its own"). While as many workers are busy as there are
//! cores it sleeps, as they need them all.
//!
//! A batch is recorded as entries by the worker when it finishes (a new
//! entry where its transactions conflict), before its locks are released
//! here, so entries replay in an order execution saw. Transactions without
//! a set, and those that left it, run in the exclusive lane: a barrier, once
//! the work in flight has drained.

mod head;
mod pass;
mod wait;
mod window;
mod worker;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use alloy_primitives::B256;
use crossbeam_channel::{Receiver, Sender, select};
use lanes_runtime::{
    Bank, BankError, Block, BlockHeader, Chain, Executed, Executor, PoolTransaction, ReplayError,
    Runnable, SealedBlock, ThreadLocks, TxError, key_counts,
};

use crate::config::{BankingStageConfig, MAX_WORKERS, Mining};
use crate::control::{Control, Decision, Reverted, SystemWrites};
use crate::driver::{BlockDriver, BuiltBlock};
use crate::error::StageError;
use crate::pool::Held;
use crate::shared::Shared;
use crate::stats::BuildCounters;

pub(crate) use pass::{Budget, Workers, pass};
pub(crate) use window::Window;

use worker::{Batch, Crew, Done, Setup, apart_plan, pin, pin_plan, run_on};

/// Most transactions a block reserves room for up front; a block that runs
/// more grows its write cache as it goes.
const MAX_RESERVED_TXS: usize = 100_000;

/// What one turn of the controller found.
struct Turn {
    /// The block time is up, or the stage is stopping: nothing new goes out.
    ending: bool,
    /// It sent work, or queued some for the exclusive lane, or ran that lane.
    progressed: bool,
}

/// When a block being built is done.
#[derive(Clone, Copy, Debug)]
enum Until {
    /// At the end of the block time (interval mining).
    IntervalEnd,
    /// Once nothing is runnable and nothing runs, and no new work arrived
    /// within `coalesce` (on-demand mining, and mine requests).
    Idle { coalesce: Duration },
}

/// System writes asked for by [`crate::BankingStage::apply_system`], and
/// where the block's number (or the refusal) goes.
type System = (SystemWrites, Sender<Result<u64, BankError>>);

/// Blocks asked for by [`crate::BankingStage::mine`].
struct Mine {
    /// Still to seal.
    blocks: u64,
    /// The first one's timestamp, until it is sealed.
    first: Option<u64>,
    /// Seconds between their timestamps.
    interval: Option<u64>,
    /// Whether the first one is sealed.
    started: bool,
    /// Since when it waits for transactions still being predicted.
    waiting: Option<Instant>,
    /// Where the last one's number goes.
    reply: Sender<u64>,
}

/// Longest a mine request waits for transactions accepted before it whose
/// sets are still being predicted (they belong in the block it asks for).
const MINE_PREDICTION_WAIT: Duration = Duration::from_secs(10);

/// The scheduler's state while it builds one block.
struct Build<T> {
    /// Locks of the work each worker has (thread `w`), and, as one more
    /// thread, the keys of transactions held back in the current pass.
    locks: ThreadLocks,
    workers: Workers,
    /// Gas (by gas limits) of the work out.
    reserved_gas: u64,
    /// Whether the bank has reserved room for the block's work.
    reserved: bool,
    /// Transactions waiting for the exclusive lane.
    exclusive: Vec<Held<T>>,
    /// Transactions in the block, in their boxes.
    included: Vec<Held<T>>,
    rejected: Vec<(B256, TxError)>,
    counters: BuildCounters,
}

impl<T> Build<T> {
    /// Nothing built yet, for `workers` workers taking up to `depth`
    /// batches each.
    fn new(workers: usize, depth: usize) -> Self {
        Self {
            locks: ThreadLocks::new(workers + 1),
            workers: Workers::new(workers, depth),
            reserved_gas: 0,
            reserved: false,
            exclusive: Vec::new(),
            included: Vec::new(),
            rejected: Vec::new(),
            counters: BuildCounters::default(),
        }
    }
}

pub(crate) struct Scheduler<E: Executor<Tx: PoolTransaction>> {
    executor: Arc<E>,
    driver: BlockDriver<E::Tx>,
    config: BankingStageConfig,
    shared: Arc<Shared<E::Tx>>,
    doorbell: Receiver<()>,
    stop: Receiver<()>,
    control: Receiver<Control>,
    /// How blocks are sealed now, and the block time.
    mining: Mining,
    block_time: Duration,
    /// Blocks asked for by [`crate::BankingStage::mine`], oldest first.
    mines: VecDeque<Mine>,
    /// System writes to seal, each in a block of its own.
    systems: VecDeque<System>,
    /// [`Control::Revert`]s waiting for the block being built to end.
    reverts: VecDeque<Revert>,
    /// Transactions taken from the pool and not yet run.
    window: Window<E::Tx>,
    stopping: bool,
    /// Worker threads.
    workers: usize,
    /// With `pin_threads`: a core for each worker, then the scheduler's.
    cores: Option<Vec<core_affinity::CoreId>>,
    /// Otherwise, with a core beyond the workers': every core the process
    /// may use ([`apart_plan`]). The scheduler runs on the last while a
    /// block's workers run and on all of them between (threads it starts,
    /// such as the seal's helpers, which live for the process, must not
    /// inherit one core).
    apart: Option<Vec<usize>>,
    /// What each block's worker threads are started with.
    setup: Setup<E>,
    /// The current block's worker threads.
    crew: Crew<E::Tx>,
    /// Held-block mode: where built blocks go, and decisions come from.
    hold: Option<(Sender<Block>, Receiver<Decision>)>,
    /// Other nodes' blocks to commit, in order.
    imports: VecDeque<Import>,
    /// The last block [`Control::Verify`] checked, while the head has not
    /// moved: an import of the same block commits it without running it
    /// again.
    verified: Option<SealedBlock>,
}

/// A [`Control::Revert`] waiting its turn: the header, the hashes before
/// it, the clock's offset and where to answer.
type Revert = (Box<BlockHeader>, Vec<B256>, i64, Sender<Reverted>);

/// A [`Control::Import`] waiting its turn.
type Import = (Box<Block>, Sender<Result<u64, Box<ReplayError>>>);

impl<E: Executor<Tx: PoolTransaction> + 'static> Scheduler<E> {
    pub(crate) fn new(
        executor: Arc<E>,
        driver: BlockDriver<E::Tx>,
        config: BankingStageConfig,
        shared: Arc<Shared<E::Tx>>,
        (doorbell, stop, control): (Receiver<()>, Receiver<()>, Receiver<Control>),
        hold: Option<(Sender<Block>, Receiver<Decision>)>,
    ) -> Self {
        let workers = config.workers.clamp(1, MAX_WORKERS);
        let cores = config.pin_threads.then(|| pin_plan(workers)).flatten();
        let spare = workers < lanes_runtime::cores();
        let apart = if spare && cores.is_none() { apart_plan(workers) } else { None };
        let window = Window::new(config.max_wait);
        let setup = Setup {
            executor: executor.clone(),
            shared: shared.clone(),
            max_repredictions: config.max_repredictions,
            cores: cores.clone(),
            apart: apart.as_ref().map(|all| all[..all.len() - 1].to_vec()),
        };
        let crew = Crew::idle(config.worker_queue + 1);
        Self {
            workers,
            cores,
            apart,
            setup,
            crew,
            executor,
            driver,
            mining: config.mining,
            block_time: config.block_time,
            config,
            shared,
            doorbell,
            stop,
            control,
            mines: VecDeque::new(),
            systems: VecDeque::new(),
            reverts: VecDeque::new(),
            window,
            stopping: false,
            hold,
            imports: VecDeque::new(),
            verified: None,
        }
    }

    /// Produces blocks until asked to stop; returns the chain. Each block's
    /// worker threads are joined before the block is sealed (on a failure
    /// too, as the scheduler is dropped).
    pub(crate) fn run(mut self) -> Result<Chain, StageError> {
        if let Some(cores) = &self.cores {
            pin(cores[self.workers]);
        }
        while !self.stopping {
            if let Err(e) = self.next_block() {
                tracing::error!(target: "lanes::banking", %e, "banking stage stopped");
                self.shared.fail(&e);
                return Err(e);
            }
        }
        Ok(self.driver.into_chain())
    }

    /// Builds the next block as the mining mode (or a mine request) says,
    /// then commits and publishes it, or in held-block mode hands it out and
    /// does what is decided. Waits for work where the mode seals nothing
    /// without it.
    fn next_block(&mut self) -> Result<(), StageError> {
        if let Some((header, older, offset, reply)) = self.reverts.pop_front() {
            let _ = reply.send(self.revert(*header, older, offset));
            return Ok(());
        }
        if let Some((block, reply)) = self.imports.pop_front() {
            return self.import(&block, &reply);
        }
        if let Some((writes, reply)) = self.systems.pop_front() {
            let entries = match writes(&self.driver.chain().db().view()) {
                Ok(entries) => entries,
                Err(e) => {
                    let _ = reply.send(Err(e));
                    return Ok(());
                }
            };
            let bank = self.driver.open(None, Duration::ZERO);
            if let Err(e) = bank.apply_system(entries) {
                let _ = reply.send(Err(e));
                return Ok(());
            }
            let built = self.driver.seal(bank, Vec::new(), Vec::new(), BuildCounters::default())?;
            let number = built.sealed.block.header.number;
            self.finish(built)?;
            let _ = reply.send(Ok(number));
            return Ok(());
        }
        if let Some(mine) = self.mines.front_mut() {
            let since = *mine.waiting.get_or_insert_with(Instant::now);
            if !mine.started
                && since.elapsed() < MINE_PREDICTION_WAIT
                && self.shared.pool().predicting() > 0
            {
                // A prediction's end rings the doorbell.
                self.wait_for_work_within(Duration::from_millis(10));
                return Ok(());
            }
            mine.blocks -= 1;
            // The first block at `first` or the clock's time (as hardhat), the
            // others `interval` after the one before, unless the clock was
            // moved further.
            let at = match (mine.first.take(), std::mem::replace(&mut mine.started, true)) {
                (Some(first), _) => Some(first),
                (None, false) => None,
                (None, true) => mine.interval.filter(|i| *i > 0).map(|i| {
                    self.driver.head_timestamp().saturating_add(i).max(self.driver.clock_now())
                }),
            };
            let built = self.build(Until::Idle { coalesce: Duration::ZERO }, at)?;
            let number = built.sealed.block.header.number;
            self.finish(built)?;
            if self.mines.front().is_some_and(|m| m.blocks == 0) {
                let mine = self.mines.pop_front().expect("checked above");
                let _ = mine.reply.send(number);
            }
            return Ok(());
        }
        match self.mining {
            Mining::Interval => {
                let built = self.build(Until::IntervalEnd, None)?;
                self.finish(built)
            }
            Mining::OnDemand if self.has_work() => {
                let built = self.build(Until::Idle { coalesce: self.config.coalesce }, None)?;
                if built.sealed.block.tx_count() == 0 {
                    // Nothing ran after all (it was not ready): no empty block.
                    self.discard(built);
                    return Ok(());
                }
                self.finish(built)
            }
            Mining::OnDemand | Mining::Manual => {
                self.wait_for_work();
                Ok(())
            }
        }
    }

    /// Whether the window or the pool may hold a transaction ready to run
    /// (never while paused).
    fn has_work(&self) -> bool {
        !self.shared.paused.load(Ordering::Acquire)
            && (self.window.has_candidates() || self.shared.pool().has_ready())
    }

    /// Whether what is queued is at most one transaction: its block runs on
    /// this thread ([`Crew::inline`]) and seals without waiting for more.
    fn lone(&self) -> bool {
        !self.window.has_candidates() && self.shared.pool().len() <= 1
    }

    /// Waits for a doorbell, a control request or a stop.
    fn wait_for_work(&mut self) {
        select! {
            recv(self.doorbell) -> _ => {}
            recv(self.control) -> c => match c {
                Ok(c) => self.handle(c),
                Err(_) => self.stopping = true,
            },
            recv(self.stop) -> _ => self.stopping = true,
        }
    }

    /// As [`Self::wait_for_work`], for at most `within`.
    fn wait_for_work_within(&mut self, within: Duration) {
        select! {
            recv(self.doorbell) -> _ => {}
            recv(self.control) -> c => match c {
                Ok(c) => self.handle(c),
                Err(_) => self.stopping = true,
            },
            recv(self.stop) -> _ => self.stopping = true,
            default(within) => {}
        }
    }

    /// Takes in a control request: a new mode from the next block on, or
    /// blocks to mine.
    fn handle(&mut self, control: Control) {
        match control {
            Control::SetMining(mining, block_time, taken) => {
                self.mining = mining;
                if let Some(block_time) = block_time {
                    self.block_time = block_time;
                }
                let _ = taken.send(());
            }
            Control::Mine { blocks, first, interval, reply } => {
                let mine = Mine { blocks, first, interval, started: false, waiting: None, reply };
                self.mines.push_back(mine);
            }
            Control::System { writes, reply } => self.systems.push_back((writes, reply)),
            Control::Verify { block, reply } => {
                let _ = reply.send(self.verify(*block));
            }
            // Between blocks: the head must not move under a block being built.
            Control::Import { block, reply } => self.imports.push_back((block, reply)),
            Control::Revert { header, older, offset, reply } => {
                self.reverts.push_back((header, older, offset, reply));
            }
        }
    }

    /// Commits and publishes `built`, or in held-block mode hands it out
    /// and does what is decided.
    fn finish(&mut self, built: BuiltBlock<E::Tx>) -> Result<(), StageError> {
        // An import of this very block (decided by consensus) commits it.
        let mut imported = None;
        let commit = match self.hold.clone() {
            None => true,
            // Stopping: nobody is left to decide.
            Some(_) if self.stopping => false,
            Some((out, decisions)) => {
                let hash = built.sealed.block.hash();
                select! {
                    send(out, built.sealed.block.clone()) -> _ => {}
                    recv(self.stop) -> _ => self.stopping = true,
                }
                let mut commit = false;
                while !self.stopping {
                    select! {
                        recv(decisions) -> d => match d {
                            Ok(Decision::Commit(h)) if h == hash => {
                                commit = true;
                                break;
                            }
                            Ok(Decision::Discard(h)) if h == hash => break,
                            Ok(other) => {
                                tracing::warn!(target: "lanes::banking", ?other, %hash, "decision on a block not held; ignored");
                            }
                            Err(_) => break,
                        },
                        recv(self.control) -> c => match c {
                            // A block decided: this one, or another, which
                            // replaces it.
                            Ok(Control::Import { block, reply }) => {
                                if *block == built.sealed.block {
                                    commit = true;
                                    imported = Some(reply);
                                } else {
                                    self.imports.push_front((block, reply));
                                }
                                break;
                            }
                            Ok(c) => self.handle(c),
                            Err(_) => self.stopping = true,
                        },
                        recv(self.stop) -> _ => self.stopping = true,
                    }
                }
                commit
            }
        };
        if commit {
            let number = built.sealed.block.header.number;
            let produced = self.driver.commit(built)?;
            self.verified = None;
            self.driver.publish(produced);
            if let Some(reply) = imported {
                let _ = reply.send(Ok(number));
            }
        } else {
            self.discard(built);
        }
        Ok(())
    }

    /// Builds one block, stamped `at` (default: the wall clock): schedules
    /// on worker threads started for the block until `until` says the block
    /// is done and nothing is in flight, then joins them and seals.
    fn build(&mut self, until: Until, at: Option<u64>) -> Result<BuiltBlock<E::Tx>, StageError> {
        let deadline = Instant::now() + self.block_time;
        let seals_in = match until {
            Until::IntervalEnd => self.block_time,
            Until::Idle { .. } => Duration::ZERO,
        };
        let bank = Arc::new(self.driver.open(at, seals_in));
        let depth = self.config.worker_queue + 1;
        // A lone transaction's block runs here and seals at once (more
        // queued may draw more). An interval block takes what comes during
        // its time: it keeps its workers.
        let lone = matches!(until, Until::Idle { .. }) && self.lone();
        let until = if lone { Until::Idle { coalesce: Duration::ZERO } } else { until };
        self.crew = if lone {
            Crew::inline(depth, &bank, &self.setup)
        } else {
            Crew::start(self.workers, depth, &bank, &self.setup)
        };
        if let Some(all) = &self.apart {
            run_on(&all[all.len() - 1..]);
        }
        let build = self.fill(&bank, until, deadline);
        if let Some(all) = &self.apart {
            run_on(all);
        }
        // Joined before sealing: each worker's clone of the bank is gone.
        self.crew.stop()?;
        let build = build?;
        let bank = Arc::try_unwrap(bank).map_err(|_| StageError::BankHeld)?;
        self.driver.seal(bank, build.included, build.rejected, build.counters)
    }

    /// Drops `built` and returns its transactions, and all the scheduler
    /// holds, to the pool.
    fn discard(&mut self, built: BuiltBlock<E::Tx>) {
        self.driver.discard(built, self.window.drain().collect::<Vec<_>>());
    }

    /// Runs the block's work on the workers, which hold `bank`, until
    /// `until` says the block is done (by `deadline` at the latest, or at a
    /// stop) and nothing is in flight.
    fn fill(
        &mut self,
        bank: &Bank,
        until: Until,
        deadline: Instant,
    ) -> Result<Build<E::Tx>, StageError> {
        let mut build = Build::new(self.crew.lanes(), self.crew.depth());
        self.drive(bank, until, deadline, &mut build)?;
        // What did not run in this block waits for the next.
        let now = Instant::now();
        for p in std::mem::take(&mut build.exclusive) {
            self.window.hold(p, now);
        }
        Ok(build)
    }

    /// The controller's loop for one block: turns of settling and
    /// scheduling, and between them a wait, until the block is done.
    fn drive(
        &mut self,
        bank: &Bank,
        until: Until,
        deadline: Instant,
        build: &mut Build<E::Tx>,
    ) -> Result<(), StageError> {
        loop {
            let Turn { ending, progressed } = self.turn(bank, deadline, build)?;
            let in_flight = build.workers.in_flight();
            if ending && !in_flight {
                return Ok(());
            }
            if !build.exclusive.is_empty() && !in_flight {
                continue; // the exclusive lane can run now; nothing else would wake us
            }
            if progressed && !in_flight {
                // What it took has run (the exclusive lane, or work run on
                // this thread): look again now, not at the next wake-up
                // (nothing in flight would bring one before the deadline).
                continue;
            }
            if let Until::Idle { coalesce } = until
                && !ending
                && !progressed
                && !in_flight
            {
                // Nothing runnable and nothing running: the block is done
                // unless more work arrives within `coalesce`.
                if self.wait_for_more_work(coalesce) {
                    continue;
                }
                return Ok(());
            }
            // Ending: only the work in flight is left, however long it takes.
            let wait = if ending {
                Duration::from_secs(3600)
            } else {
                deadline.saturating_duration_since(Instant::now())
            };
            self.wait_for_completion(build, wait)?;
        }
    }

    /// One turn of the controller, counted as scheduler time: settles the
    /// batches the workers finished, then, unless the block is ending (its
    /// time is up, or the stage is stopping), runs the exclusive lane if
    /// nothing is in flight, and a scheduling pass.
    fn turn(
        &mut self,
        bank: &Bank,
        deadline: Instant,
        build: &mut Build<E::Tx>,
    ) -> Result<Turn, StageError> {
        let busy = Instant::now();
        while let Ok(done) = self.crew.done.try_recv() {
            self.complete(build, done)?;
        }
        let ending = self.stopping || Instant::now() >= deadline;
        let mut progressed = false;
        if !ending {
            if !build.exclusive.is_empty() && !build.workers.in_flight() {
                self.run_exclusive(bank, build)?;
                progressed = true;
            }
            progressed |= self.schedule(bank, build);
        }
        build.counters.scheduler_time += busy.elapsed();
        Ok(Turn { ending, progressed })
    }

    /// A worker finished a batch: release its locks and settle each transaction.
    fn complete(&mut self, build: &mut Build<E::Tx>, done: Done<E::Tx>) -> Result<(), StageError> {
        let Done { batch, results, elapsed, finished } = done;
        let results = results?;
        let w = batch.worker;
        build.counters.worker_time += elapsed;
        build.counters.last_batch_done = build.counters.last_batch_done.max(Some(finished));
        build.workers.batches[w] -= 1;
        let now = Instant::now();
        let mut pool = self.shared.pool();
        for (mut p, executed) in batch.txs.into_iter().zip(results) {
            if let Some(set) = p.access() {
                build.locks.unlock(w, set);
            }
            build.workers.load[w] -= 1;
            let rerun = p.repredicted.as_ref().is_some_and(|a| a.access.is_some());
            if !matches!(&executed, Executed::NeedsExclusive(_)) || rerun {
                // Done, or back to the window. One going to the exclusive lane
                // keeps its gas reserved until it runs there.
                build.reserved_gas = build.reserved_gas.saturating_sub(p.tx.gas_limit());
            }
            match executed {
                Executed::Included { .. } => {
                    pool.finish(&p, true);
                    build.counters.included(p.admitted.source, p.repredictions > 0);
                    if p.repredictions > 0 {
                        build.counters.reran.push(p.hash);
                    }
                    build.included.push(p);
                }
                Executed::Rejected(e) => {
                    pool.finish(&p, false);
                    pool.rejected(p.hash, &e);
                    build.rejected.push((p.hash, e));
                }
                Executed::NeedsExclusive(left) => {
                    build.counters.mispredicted += u64::from(left.is_some());
                    match p.repredicted.take() {
                        // Predicted again against the block so far: run it again.
                        Some(admitted) if rerun => {
                            p.admitted = admitted;
                            p.repredictions += 1;
                            self.window.hold(p, now);
                        }
                        _ => {
                            if left.is_some() {
                                build.counters.strayed.push(p.hash);
                            }
                            build.exclusive.push(p);
                        }
                    }
                }
                Executed::Deferred => self.window.hold(p, now),
            }
        }
        Ok(())
    }

    /// Runs the exclusive lane on this thread; nothing is in flight.
    fn run_exclusive(&mut self, bank: &Bank, build: &mut Build<E::Tx>) -> Result<(), StageError> {
        let now = Instant::now();
        let mut pool = self.shared.pool();
        for p in std::mem::take(&mut build.exclusive) {
            build.reserved_gas = build.reserved_gas.saturating_sub(p.tx.gas_limit());
            match bank.execute_exclusive(&*self.executor, &p.tx)? {
                // Counted as exclusive (by its entry), whatever its set was.
                Executed::Included { .. } => {
                    pool.finish(&p, true);
                    build.included.push(p);
                }
                Executed::Rejected(e) => {
                    pool.finish(&p, false);
                    pool.rejected(p.hash, &e);
                    build.rejected.push((p.hash, e));
                }
                _ => self.window.hold(p, now),
            }
        }
        Ok(())
    }

    /// One scheduling pass over the window and the pool's best; whether it
    /// sent work or queued some for the exclusive lane.
    fn schedule(&mut self, bank: &Bank, build: &mut Build<E::Tx>) -> bool {
        if !build.exclusive.is_empty() || self.shared.paused.load(Ordering::Acquire) {
            return false; // the exclusive lane is a barrier; a paused stage takes nothing
        }
        let mut sent = false;
        let now = Instant::now();
        let (mut candidates, queued) = {
            let mut pool = self.shared.pool();
            let candidates = self.window.take(now, self.config.lookahead, || pool.pop());
            (candidates, pool.len())
        };
        if !build.reserved && !candidates.is_empty() {
            // The block's first work: room in the bank's write cache and
            // ledger for what is queued now, up to what the block's gas could
            // hold at the smallest gas limit in view, so a busy block does not
            // grow them while workers write. The window's sets stand for the
            // queue's: each transaction gets their mean count of account and
            // of storage keys, and at least its sender.
            let least = candidates.iter().map(|c| c.p.tx.gas_limit()).min().unwrap_or(1).max(1);
            let fits = usize::try_from(bank.env().gas_limit / least).unwrap_or(usize::MAX);
            let txs = queued.saturating_add(candidates.len()).min(fits).min(MAX_RESERVED_TXS);
            let (accounts, slots) = key_counts(candidates.iter().filter_map(|c| c.p.access()));
            let per_tx = |keys: usize| keys.saturating_mul(txs) / candidates.len();
            bank.reserve(txs, per_tx(accounts).max(txs), per_tx(slots));
            build.reserved = true;
        }
        if !candidates.is_empty() {
            let budget = Budget {
                gas_limit: bank.env().gas_limit,
                gas_used: bank.gas_used().saturating_add(build.reserved_gas),
                batch_size: self.config.batch_size,
                lane_room: self
                    .driver
                    .chain()
                    .bank_config()
                    .max_exclusive_per_block
                    .saturating_sub(bank.exclusive_count()),
            };
            let decided =
                pass(&mut candidates, &mut build.locks, &mut build.workers, budget, |w, txs| {
                    // Never blocks: at most `depth` batches are out per worker.
                    self.crew.send(Batch { worker: w, txs });
                    sent = true;
                });
            build.reserved_gas = build.reserved_gas.saturating_add(decided.gas);
            build.counters.conflicts += decided.conflicts;
            sent |= !decided.exclusive.is_empty();
            build.exclusive.extend(decided.exclusive);
        }
        self.window.put_back(candidates);
        sent
    }
}
