//! An [`OrderedSets::Run`](super::OrderedSets::Run) block on more than one
//! thread ([`run`]): workers share the runs, one at a time commits.
//!
//! Each worker loops: commit what it can, else take a transaction and run
//! it on the state as far as the block has come
//! ([`optimistic::run_once`](super::optimistic)).
//! - **Runs.** A transaction whose wait is over (it read an earlier run, or
//!   that one committed), else the next in block order not yet taken (an
//!   atomic counter). One that waits for an earlier one's run
//!   ([`Wait`]) is parked on that one's slot; the worker that finishes that
//!   run takes it next, reading what the run wrote. One that needs every
//!   earlier fee runs at its turn, on the committer.
//! - **Commits.** One worker at a time holds the committer (a try-lock); it
//!   commits the lowest transactions while their runs are done, each
//!   validated by value or run again there ([`optimistic::commit`](super::optimistic)),
//!   and runs at their turn those no worker has started, so a committer
//!   that catches up runs the block in order while the others run ahead.
//! - **Early checks.** A run that ends after commits it did not see checks
//!   itself against them and runs again at once where a value it read
//!   changed (twice at most). A 256-bit filter of each commit's written keys
//!   against one of the run's reads answers most checks without reading
//!   state, at the end of a run and at its commit.
//!
//! No lock is shared by all workers for each transaction: the counter, the
//! committer's try-lock and each transaction's own slot. A worker with
//! nothing to do spins briefly, then sleeps until a run ends or a commit
//! lands (or a short timeout).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use alloy_primitives::U256;
use parking_lot::{Condvar, Mutex};

use super::config::{OrderedConfig, OrderedError};
use super::report::{Run, RunKind, TxReport};
use super::steps::{Done, Ran, Start, changed, commit, run_once, state_error};
use crate::bank::Bank;
use crate::executor::Executor;
use crate::view::Writes;

/// Where a transaction is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Stage {
    /// Not taken yet (it may be parked on an earlier one, or ready).
    #[default]
    Waiting,
    /// A worker runs it, or the committer commits it.
    Running,
    /// Its run is done, not committed.
    Ran,
    /// Committed.
    Committed,
}

/// One transaction's state, behind its own lock.
#[derive(Default)]
struct Slot {
    stage: Stage,
    ran: Option<Box<Ran>>,
    report: TxReport,
    /// Later transactions parked until its run is done: they read what it
    /// wrote.
    waiters: Vec<usize>,
    /// Later transactions parked until it commits (its run failed, or
    /// only debited its sender: [`Ran::readable`]).
    commit_waiters: Vec<usize>,
    done: Option<Done>,
    /// The fees not credited to the coinbase once it committed.
    uncredited: U256,
}

/// How far past the last commit idle workers look for stale runs.
const REFRESH_WINDOW: usize = 64;

/// [`Engine::fresh`] of a transaction with no run a refresh may take.
const UNSEEN: usize = usize::MAX;

/// A task: a transaction to run, with the earlier run it reads first.
type Task = (usize, Option<Box<Writes>>);

struct Engine<'a, E: Executor> {
    bank: &'a Bank,
    executor: &'a E,
    txs: &'a [E::Tx],
    config: &'a OrderedConfig,
    starts: &'a [Start],
    slots: Box<[Mutex<Slot>]>,
    /// Each committed transaction's written keys, a bit per key hash
    /// ([`super::optimistic::filter_bit`]).
    written: Box<[[AtomicU64; 4]]>,
    /// Each finished run's read filter and the commits it was checked
    /// against ([`Ran::checked`]; [`UNSEEN`] where no refresh may take it),
    /// published for a scan without locks.
    reads: Box<[[AtomicU64; 4]]>,
    fresh: Box<[AtomicUsize]>,
    /// The next transaction in block order not yet taken for a run.
    next: AtomicUsize,
    /// Transactions `..committed` are committed.
    committed: AtomicUsize,
    /// Held by the worker committing; the fees not yet credited.
    committer: Mutex<U256>,
    /// Parked transactions whose wait is over, lowest first.
    ready: Mutex<BTreeSet<usize>>,
    ready_count: AtomicUsize,
    stop: AtomicBool,
    error: Mutex<Option<OrderedError>>,
    /// Bumped by every finished run and every commit.
    progress: AtomicU64,
    sleepers: AtomicUsize,
    sleep: Mutex<()>,
    wake: Condvar,
}

/// Runs `txs` on `threads` threads (the caller's among them): each
/// transaction's report and its committed set and outcome, in block order.
pub(super) fn run<E: Executor>(
    bank: &Bank,
    executor: &E,
    txs: &[E::Tx],
    config: &OrderedConfig,
    starts: &[Start],
    threads: usize,
) -> Result<(Vec<TxReport>, Vec<Done>), OrderedError> {
    let n = txs.len();
    let slots = starts
        .iter()
        .map(|s| {
            let report = TxReport { waited_for: s.wait.map(|w| w.after), ..TxReport::default() };
            Mutex::new(Slot { report, ..Slot::default() })
        })
        .collect();
    let engine = Engine {
        bank,
        executor,
        txs,
        config,
        starts,
        slots,
        written: (0..n).map(|_| Default::default()).collect(),
        reads: (0..n).map(|_| Default::default()).collect(),
        fresh: (0..n).map(|_| AtomicUsize::new(UNSEEN)).collect(),
        next: AtomicUsize::new(0),
        committed: AtomicUsize::new(0),
        committer: Mutex::new(U256::ZERO),
        ready: Mutex::default(),
        ready_count: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        error: Mutex::new(None),
        progress: AtomicU64::new(0),
        sleepers: AtomicUsize::new(0),
        sleep: Mutex::new(()),
        wake: Condvar::new(),
    };
    crate::threads::on_helpers(threads.saturating_sub(1), || engine.work());
    if let Some(e) = engine.error.into_inner() {
        return Err(e);
    }
    let mut reports = Vec::with_capacity(n);
    let mut done = Vec::with_capacity(n);
    for slot in engine.slots {
        let slot = slot.into_inner();
        reports.push(slot.report);
        done.push(slot.done.ok_or_else(|| state_error("a transaction was not committed".into()))?);
    }
    Ok((reports, done))
}

/// Stops the other workers when a worker unwinds from a panic.
struct PanicGuard<'g, 'a, E: Executor>(&'g Engine<'a, E>);

impl<E: Executor> Drop for PanicGuard<'_, '_, E> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.fail(state_error("a worker running the block panicked".into()));
        }
    }
}

impl<'a, E: Executor> Engine<'a, E> {
    fn work(&self) {
        let _guard = PanicGuard(self);
        let n = self.txs.len();
        // A helper that starts after the block is done has nothing to do.
        if self.stop.load(Ordering::Acquire) || self.committed.load(Ordering::Acquire) >= n {
            return;
        }
        let mut worker = self.executor.worker(self.bank.env());
        let mut own: Vec<Task> = Vec::new();
        let mut scanned = 0;
        loop {
            let seen = self.progress.load(Ordering::Acquire);
            self.try_commit(&mut worker);
            if self.stop.load(Ordering::Acquire) || self.committed.load(Ordering::Acquire) >= n {
                return;
            }
            let mut task = own.pop().or_else(|| self.take_ready());
            // Stale runs near the commit go before new ones far ahead of it.
            let now = self.committed.load(Ordering::Acquire);
            if task.is_none() && now != scanned {
                scanned = now;
                if self.refresh(&mut worker, &mut own) {
                    continue;
                }
            }
            task = task.or_else(|| self.take_next());
            match task {
                Some((i, over)) => {
                    if self.claim(i) {
                        self.run_first(&mut worker, i, over, &mut own);
                    }
                }
                None => {
                    if !self.refresh(&mut worker, &mut own) {
                        self.idle(seen);
                    }
                }
            }
        }
    }

    /// Takes `i` for a run, unless the committer or another worker has.
    fn claim(&self, i: usize) -> bool {
        let mut slot = self.slots[i].lock();
        let free = slot.stage == Stage::Waiting;
        if free {
            slot.stage = Stage::Running;
        }
        free
    }

    /// The lowest parked transaction whose wait is over.
    fn take_ready(&self) -> Option<Task> {
        if self.ready_count.load(Ordering::Acquire) == 0 {
            return None;
        }
        let i = self.ready.lock().pop_first()?;
        self.ready_count.fetch_sub(1, Ordering::AcqRel);
        Some((i, None))
    }

    /// The next transaction in block order free to run now; those that
    /// must wait are parked on the one they wait for.
    fn take_next(&self) -> Option<Task> {
        loop {
            let i = self.next.fetch_add(1, Ordering::AcqRel);
            if i >= self.txs.len() {
                return None;
            }
            let Some(wait) = self.starts[i].wait else { return Some((i, None)) };
            if wait.commit {
                // It needs every earlier fee: it runs at its turn.
                continue;
            }
            let mut after = self.slots[wait.after].lock();
            match after.stage {
                Stage::Committed => return Some((i, None)),
                Stage::Ran if after.ran.as_ref().is_some_and(|r| r.readable()) => {
                    let writes = after.ran.as_ref().map(|r| Box::new(r.writes.values()));
                    return Some((i, writes));
                }
                Stage::Ran => after.commit_waiters.push(i),
                Stage::Waiting | Stage::Running => after.waiters.push(i),
            }
        }
    }

    /// The transactions committed and the fees not credited then.
    fn base(&self) -> (usize, U256) {
        let base = self.committed.load(Ordering::Acquire);
        let credit = match base {
            0 => U256::ZERO,
            _ => self.slots[base - 1].lock().uncredited,
        };
        (base, credit)
    }

    /// [`Self::touched`] for a published filter.
    fn touched_by(&self, filter: &[AtomicU64; 4], from: usize, to: usize) -> bool {
        let filter = filter.each_ref().map(|w| w.load(Ordering::Relaxed));
        self.touched(&filter, from, to)
    }

    /// Whether a commit of `from..to` wrote a key whose bit `filter` holds.
    fn touched(&self, filter: &[u64; 4], from: usize, to: usize) -> bool {
        self.written[from..to]
            .iter()
            .any(|w| w.iter().zip(filter).any(|(w, f)| w.load(Ordering::Relaxed) & f != 0))
    }

    /// Runs `i` (taken) and files its run; a run that ends after commits
    /// it did not see runs again at once where a value it read changed
    /// (twice at most). Transactions parked on its run go to `own`.
    fn run_first(
        &self,
        worker: &mut E::Worker<'a>,
        i: usize,
        mut over: Option<Box<Writes>>,
        own: &mut Vec<Task>,
    ) {
        let (mut base, mut credit) = self.base();
        let (tx, assume) = (&self.txs[i], self.starts[i].assume);
        let mut runs = Vec::with_capacity(1);
        let mut prior = None;
        let mut first_set = None;
        let ran = loop {
            let started = Instant::now();
            let read_over = over.is_some();
            let mut ran = run_once(
                self.bank,
                self.executor,
                worker,
                tx,
                self.config,
                (base, credit),
                over.take(),
                prior.take(),
                assume,
            );
            let kind = if runs.is_empty() { RunKind::Run } else { RunKind::Rerun };
            runs.push(Run { kind, time: started.elapsed() });
            ran.first = kind == RunKind::Run;
            if ran.first {
                first_set = ran.set.clone();
            }
            let now = self.committed.load(Ordering::Acquire);
            // A run that read an earlier run is checked at its turn.
            if now == base || runs.len() > 2 || read_over {
                break ran;
            }
            let again = match &ran.result {
                Ok(_) => self.touched(&ran.filter, base, now) && !self.reads_hold(&ran, assume),
                Err(_) => true,
            };
            if !again {
                ran.checked = now;
                break ran;
            }
            (base, credit) = self.base();
            prior = Some(Box::new(ran.log));
        };
        self.slots[i].lock().report.first_prediction = first_set;
        self.file(i, Box::new(ran), runs, own);
    }

    /// Files `i`'s finished run `ran` (its `runs`); transactions parked on
    /// the run go to `own`, reading what it wrote, or wait for its commit.
    fn file(
        &self,
        i: usize,
        ran: Box<Ran>,
        runs: impl IntoIterator<Item = Run>,
        own: &mut Vec<Task>,
    ) {
        let mut slot = self.slots[i].lock();
        slot.report.runs.extend(runs);
        let waiters = std::mem::take(&mut slot.waiters);
        let ok = ran.readable();
        let writes = (ok && !waiters.is_empty()).then(|| ran.writes.values());
        if !ok {
            slot.commit_waiters.extend(&waiters);
        }
        let published = match ran.log.over.is_empty() {
            true => {
                for (word, bits) in self.reads[i].iter().zip(ran.filter) {
                    word.store(bits, Ordering::Relaxed);
                }
                ran.checked
            }
            false => UNSEEN,
        };
        self.fresh[i].store(published, Ordering::Release);
        slot.ran = Some(ran);
        slot.stage = Stage::Ran;
        drop(slot);
        if let Some(writes) = writes {
            own.extend(waiters.into_iter().rev().map(|k| (k, Some(Box::new(writes.clone())))));
        }
        self.notify(false);
    }

    /// With nothing else to run: takes the lowest finished run, not yet
    /// committed, that commits since it was last checked may have made
    /// stale, checks it by value and runs it again where a value it read
    /// changed, so that it stands at its turn instead of running again on
    /// the committer (Block-STM's validation tasks). False where there was
    /// none.
    fn refresh(&self, worker: &mut E::Worker<'a>, own: &mut Vec<Task>) -> bool {
        let now = self.committed.load(Ordering::Acquire);
        let end = self.next.load(Ordering::Acquire).min(self.txs.len());
        let window = end.min(now.saturating_add(REFRESH_WINDOW));
        for j in now..window {
            let checked = self.fresh[j].load(Ordering::Acquire);
            if checked >= now || !self.touched_by(&self.reads[j], checked, now) {
                continue;
            }
            let Some(mut slot) = self.slots[j].try_lock() else { continue };
            let stale = slot.stage == Stage::Ran
                && slot.ran.as_ref().is_some_and(|r| {
                    r.log.over.is_empty()
                        && r.checked < now
                        && self.touched(&r.filter, r.checked, now)
                });
            if !stale {
                continue;
            }
            slot.stage = Stage::Running;
            self.fresh[j].store(UNSEEN, Ordering::Release);
            let Some(mut ran) = slot.ran.take() else { continue };
            drop(slot);
            let assume = self.starts[j].assume;
            let holds = ran.result.is_ok() && self.reads_hold(&ran, assume);
            let mut runs = None;
            if holds {
                ran.checked = now;
            } else {
                let (base, credit) = self.base();
                let started = Instant::now();
                let prior = Some(Box::new(std::mem::take(&mut ran.log)));
                let mut again = run_once(
                    self.bank,
                    self.executor,
                    worker,
                    &self.txs[j],
                    self.config,
                    (base, credit),
                    None,
                    prior,
                    assume,
                );
                runs = Some(Run { kind: RunKind::Rerun, time: started.elapsed() });
                again.first = false;
                ran = Box::new(again);
            }
            self.file(j, ran, runs, own);
            return true;
        }
        false
    }

    fn coinbase(&self) -> alloy_primitives::Address {
        self.bank.env().coinbase
    }

    /// Whether every value `ran` read (showing the `assume`d nonce) still
    /// holds before its transaction's turn ([`changed`] with `turn` false);
    /// a state that cannot be read counts as changed.
    fn reads_hold(&self, ran: &Ran, assume: Option<(alloy_primitives::Address, u64)>) -> bool {
        let assumed = assume.map(|a| a.0);
        matches!(
            changed(self.bank.state(), self.coinbase(), ran, U256::ZERO, false, assumed),
            Ok(None)
        )
    }

    /// Commits the lowest transactions while it can, if no other worker
    /// is committing: those whose runs are done, and those no worker has
    /// started, run at their turn.
    fn try_commit(&self, worker: &mut E::Worker<'a>) {
        let n = self.txs.len();
        loop {
            let Some(mut uncredited) = self.committer.try_lock() else { return };
            while !self.stop.load(Ordering::Acquire) {
                let i = self.committed.load(Ordering::Acquire);
                if i >= n {
                    break;
                }
                let ran = {
                    let mut slot = self.slots[i].lock();
                    match slot.stage {
                        Stage::Ran => {
                            slot.stage = Stage::Running;
                            slot.ran.take()
                        }
                        Stage::Waiting => {
                            slot.stage = Stage::Running;
                            None
                        }
                        Stage::Running | Stage::Committed => break,
                    }
                };
                if !self.commit_one(worker, i, ran.map(|r| *r), &mut uncredited) {
                    break;
                }
            }
            drop(uncredited);
            // A run may have ended after this worker looked and before it
            // let the committer go: look again.
            let i = self.committed.load(Ordering::Acquire);
            if i >= n || self.stop.load(Ordering::Acquire) {
                return;
            }
            if !matches!(self.slots[i].lock().stage, Stage::Ran | Stage::Waiting) {
                return;
            }
        }
    }

    /// Commits `i` (its run `ran`, or none: it runs now); false where the
    /// block stops.
    fn commit_one(
        &self,
        worker: &mut E::Worker<'a>,
        i: usize,
        ran: Option<Ran>,
        uncredited: &mut U256,
    ) -> bool {
        // Nothing committed since the run began wrote a key it read (nor
        // did it read the coinbase, an earlier run or an assumed nonce): it
        // holds as if it had run on exactly this state.
        let ran = ran.map(|mut ran| {
            // Checks before the turn pass over debited accounts.
            let from = if ran.debits.is_empty() { ran.checked } else { ran.base };
            let quiet = ran.log.over.is_empty()
                && self.starts[i].assume.is_none()
                && !ran.log.read_account(&self.coinbase())
                && !self.touched(&ran.filter, from, i);
            if quiet {
                ran.base = i;
            }
            ran
        });
        let start = &self.starts[i];
        let committed = commit(
            self.bank,
            self.executor,
            worker,
            &self.txs[i],
            self.config,
            (i, start),
            ran,
            *uncredited,
        );
        let c = match committed {
            Ok(c) => c,
            Err(e) => {
                self.fail(e);
                return false;
            }
        };
        for (word, bits) in self.written[i].iter().zip(c.written) {
            word.store(bits, Ordering::Relaxed);
        }
        *uncredited = c.uncredited;
        let mut slot = self.slots[i].lock();
        let report = &mut slot.report;
        if report.runs.is_empty() {
            report.first_prediction = c.set.clone();
        }
        report.runs.extend(c.runs);
        report.stood = c.stood;
        report.reads_coinbase = c.reads_coinbase;
        report.changed = report.changed.or(c.changed);
        report.credited = c.credited;
        report.debited = c.debited;
        slot.done = Some((c.set, c.outcome));
        slot.uncredited = c.uncredited;
        slot.stage = Stage::Committed;
        let mut released = std::mem::take(&mut slot.waiters);
        released.append(&mut slot.commit_waiters);
        drop(slot);
        let count = released.len();
        if count > 0 {
            self.ready.lock().extend(released);
            self.ready_count.fetch_add(count, Ordering::AcqRel);
        }
        self.committed.store(i + 1, Ordering::Release);
        // Sleepers wake for work a commit frees, and when the block is done;
        // the worker whose run the next commit waits for commits it.
        self.notify(count > 0 || i + 1 == self.txs.len());
        true
    }

    /// Stops the block with `error` (the first one stands).
    fn fail(&self, error: OrderedError) {
        self.error.lock().get_or_insert(error);
        self.stop.store(true, Ordering::Release);
        self.notify(true);
    }

    /// Tells spinning workers something changed, and wakes sleeping ones
    /// where `wake`: a wake-up is a system call for each of them.
    fn notify(&self, wake: bool) {
        self.progress.fetch_add(1, Ordering::AcqRel);
        if wake && self.sleepers.load(Ordering::Acquire) > 0 {
            let _sleep = self.sleep.lock();
            self.wake.notify_all();
        }
    }

    /// Waits, with nothing to do, until something changed since `seen`:
    /// a short spin, then yielding, then sleep (at most a millisecond, so a
    /// missed wake-up costs only that).
    fn idle(&self, seen: u64) {
        let moved = || self.progress.load(Ordering::Acquire) != seen;
        for _ in 0..128 {
            if moved() {
                return;
            }
            std::hint::spin_loop();
        }
        for _ in 0..8 {
            std::thread::yield_now();
            if moved() {
                return;
            }
        }
        let mut sleep = self.sleep.lock();
        self.sleepers.fetch_add(1, Ordering::AcqRel);
        if !moved() && !self.stop.load(Ordering::Acquire) {
            self.wake.wait_for(&mut sleep, Duration::from_millis(1));
        }
        self.sleepers.fetch_sub(1, Ordering::AcqRel);
    }
}
