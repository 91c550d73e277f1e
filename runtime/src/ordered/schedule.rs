//! [`Schedule`]: which run or check each worker of an ordered block takes
//! next, Block-STM's collaborative scheduler with a commit index.
//!
//! Two counters sweep the block: `execution` hands out transactions to run
//! (each incarnation once), `validation` hands out finished runs to check
//! (every value each read still the same). A check is preferred while the
//! validation sweep is behind the execution sweep, so a stale run is found
//! early. A run that finds a version it read rewritten, or a check that
//! fails, makes the transaction's next incarnation ready and lowers the
//! validation sweep to the transaction above it: everything above is
//! checked again, in a new *wave*.
//!
//! ```text
//!   Ready ──take──> Executing ──finish──> Executed ──commit──> Committed
//!     ^                  │ reads an estimate  │ a check fails
//!     │                  v                    v
//!     └──resume── Aborting (waits for the run  Aborting ──> Ready (incarnation + 1)
//!                 it read the estimate of)
//! ```
//!
//! **Commit.** Transactions commit in block order, one index moving over
//! them ([`Schedule::committed`]). Transaction `i` may commit once every
//! earlier one has and its latest run was checked in a wave at least as new
//! as every lowering of the validation sweep to `i` or below
//! ([`Schedule::required`]): nothing below `i` has changed since that check.
//! A run that started with every earlier transaction committed read only
//! final values and needs no check.
//!
//! What makes a check's wave mean that: a check of `i` counts for wave `w`
//! only where the sweep of wave `w` had passed `i` when it was handed out
//! (its index and wave read in one load); and a run of `j` below `i` that
//! publishes something new, finding the sweep past `j`, lowers it before
//! `j` may commit (under `j`'s lock, which the committer reads `j`'s status
//! under). So a run below `i` published after `i`'s check either lowers the
//! sweep (a newer wave: `i` is checked again) or finds the sweep below
//! itself, which a lowering newer than `w` put there.
//!
//! Locks: each transaction's state has its own; holding two, the lower
//! index's is taken first. The waves' list is taken alone.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crossbeam_utils::CachePadded;
use parking_lot::{Condvar, Mutex, MutexGuard};

/// Where a transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Status {
    /// Its next incarnation may run.
    Ready,
    /// A worker runs it.
    Executing,
    /// Its run is done and published.
    Executed,
    /// Its run was stopped or failed a check: its next incarnation is not
    /// ready yet (it waits for an earlier transaction's run, or for its
    /// versions to become estimates).
    Aborting,
    /// Final.
    Committed,
}

/// One transaction's scheduling state.
#[derive(Debug)]
pub(super) struct TxState {
    pub(super) incarnation: u32,
    pub(super) status: Status,
    /// The newest wave its current incarnation was checked in.
    pub(super) checked: Option<u32>,
    /// Transactions waiting for its next run to finish.
    dependents: Vec<u32>,
}

/// A task for a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Task {
    /// Run incarnation `1` of transaction `0`.
    Execute(u32, u32),
    /// Check incarnation `1` of transaction `0`, in wave `2`.
    Validate(u32, u32, u32),
}

/// A wave no lowering ever reaches: the check of a run that read only final
/// values.
pub(super) const EXACT: u32 = u32::MAX;

/// The scheduler of one ordered block (see the module).
pub(super) struct Schedule {
    n: u32,
    txs: Box<[CachePadded<Mutex<TxState>>]>,
    execution: CachePadded<AtomicUsize>,
    /// The validation sweep: the wave in the high 32 bits, the next index
    /// in the low ones.
    validation: CachePadded<AtomicU64>,
    committed: CachePadded<AtomicUsize>,
    /// Lowerings of the validation sweep still in force, as (target, wave):
    /// targets and waves both rising (a lowering to `t` in wave `w`
    /// replaces every earlier one to `t` or above).
    waves: Mutex<Vec<(u32, u32)>>,
    stop: AtomicBool,
    /// Whether each transaction's latest run is done and not taken back:
    /// what a would-be committer looks at before taking the committer.
    executed: Box<[AtomicBool]>,
    /// Bumped whenever a worker may find new work, while one waits for it.
    progress: CachePadded<AtomicU64>,
    /// Workers waiting for work ([`Self::enter_idle`]).
    idlers: CachePadded<AtomicUsize>,
    sleepers: AtomicUsize,
    sleep: Mutex<()>,
    wake: Condvar,
}

fn pack(wave: u32, index: u32) -> u64 {
    (u64::from(wave) << 32) | u64::from(index)
}

fn unpack(v: u64) -> (u32, u32) {
    ((v >> 32) as u32, v as u32)
}

impl Schedule {
    pub(super) fn new(n: usize) -> Self {
        let txs = (0..n)
            .map(|_| {
                let state = TxState {
                    incarnation: 0,
                    status: Status::Ready,
                    checked: None,
                    dependents: Vec::new(),
                };
                CachePadded::new(Mutex::new(state))
            })
            .collect();
        Self {
            n: u32::try_from(n).expect("a block holds fewer than 2^32 transactions"),
            txs,
            execution: CachePadded::new(AtomicUsize::new(0)),
            validation: CachePadded::new(AtomicU64::new(0)),
            committed: CachePadded::new(AtomicUsize::new(0)),
            waves: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            executed: (0..n).map(|_| AtomicBool::new(false)).collect(),
            progress: CachePadded::new(AtomicU64::new(0)),
            idlers: CachePadded::new(AtomicUsize::new(0)),
            sleepers: AtomicUsize::new(0),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    pub(super) fn tx(&self, i: u32) -> MutexGuard<'_, TxState> {
        self.txs[i as usize].lock()
    }

    /// Transactions `..committed()` are committed.
    pub(super) fn committed(&self) -> usize {
        self.committed.load(Ordering::Acquire)
    }

    /// Whether the block is done or stopped.
    pub(super) fn finished(&self) -> bool {
        self.stop.load(Ordering::Acquire) || self.committed() >= self.n as usize
    }

    /// Stops every worker.
    pub(super) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.notify(true);
    }

    /// The next task, if one is ready now.
    pub(super) fn next_task(&self) -> Option<Task> {
        let n = self.n as usize;
        loop {
            if self.stop.load(Ordering::Acquire) {
                return None;
            }
            let (_, checking) = unpack(self.validation.load(Ordering::Acquire));
            let executing = self.execution.load(Ordering::Acquire);
            if (checking as usize) < executing.min(n) {
                let (wave, i) = unpack(self.validation.fetch_add(1, Ordering::AcqRel));
                crate::race_point();
                if i < self.n {
                    let mut tx = self.tx(i);
                    match tx.status {
                        // A run lowered the sweep below one not yet taken:
                        // take its run here.
                        Status::Ready => {
                            tx.status = Status::Executing;
                            return Some(Task::Execute(i, tx.incarnation));
                        }
                        // A run that read only final values needs no check.
                        Status::Executed if tx.checked == Some(EXACT) => continue,
                        Status::Executed => return Some(Task::Validate(i, tx.incarnation, wave)),
                        Status::Executing | Status::Aborting | Status::Committed => continue,
                    }
                }
                continue;
            }
            if executing >= n {
                return None;
            }
            let i = self.execution.fetch_add(1, Ordering::AcqRel);
            crate::race_point();
            if let Some(task) = self.try_execute(i) {
                return Some(task);
            }
        }
    }

    /// Takes `i`'s next incarnation to run, if it is ready.
    fn try_execute(&self, i: usize) -> Option<Task> {
        if i >= self.n as usize {
            return None;
        }
        let mut tx = self.txs[i].lock();
        if tx.status != Status::Ready {
            return None;
        }
        tx.status = Status::Executing;
        Some(Task::Execute(i as u32, tx.incarnation))
    }

    /// Makes `i`'s run wait for `blocking`'s next run (it read its
    /// estimate); false where that run is already done (read again).
    pub(super) fn add_dependency(&self, i: u32, blocking: u32) -> bool {
        debug_assert!(blocking < i);
        let mut b = self.tx(blocking);
        if matches!(b.status, Status::Executed | Status::Committed) {
            return false;
        }
        let mut tx = self.tx(i);
        tx.status = Status::Aborting;
        b.dependents.push(i);
        true
    }

    /// Lowers the validation sweep to `target`, in a new wave, where it is
    /// above it.
    fn lower(&self, target: u32) {
        let mut waves = self.waves.lock();
        let mut current = self.validation.load(Ordering::Acquire);
        loop {
            let (wave, index) = unpack(current);
            if index <= target {
                return;
            }
            let lowered = pack(wave + 1, target);
            match self.validation.compare_exchange_weak(
                current,
                lowered,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    while waves.last().is_some_and(|(t, _)| *t >= target) {
                        waves.pop();
                    }
                    waves.push((target, wave + 1));
                    return;
                }
                Err(now) => current = now,
            }
        }
    }

    /// Whether a check of `i` in `wave` still counts: no lowering to `i`
    /// or below came in a newer wave ([`Self::required`]). A check in the
    /// sweep's own wave counts without looking at the lowerings: each one
    /// moves the sweep to its wave before it is listed, so none is newer.
    pub(super) fn current(&self, i: u32, wave: u32) -> bool {
        let (now, _) = unpack(self.validation.load(Ordering::Acquire));
        wave >= now || wave >= self.required(i)
    }

    /// The newest wave that lowered the sweep to `i` or below: a check of
    /// `i` from an older wave may have missed a change below it.
    pub(super) fn required(&self, i: u32) -> u32 {
        let waves = self.waves.lock();
        let at = waves.partition_point(|(t, _)| *t <= i);
        at.checked_sub(1).map_or(0, |k| waves[k].1)
    }

    /// `i`'s run `incarnation` is done and published (`exact`: it read
    /// only final values); `wrote_new`: a reader above may now find what it
    /// did not. Resumes the transactions waiting for it; answers a check of
    /// `i` to do now where the sweep is past it.
    pub(super) fn finish_execution(
        &self,
        i: u32,
        incarnation: u32,
        wrote_new: bool,
        exact: bool,
    ) -> Option<Task> {
        let mut tx = self.tx(i);
        debug_assert_eq!((tx.status, tx.incarnation), (Status::Executing, incarnation));
        tx.status = Status::Executed;
        tx.checked = exact.then_some(EXACT);
        self.executed[i as usize].store(true, Ordering::Release);
        // The sweep's index and wave from one load, `i` executed: where the
        // sweep had passed `i`, this check counts for that wave; else the
        // sweep finds `i` executed. (A wave read apart from the index may
        // be a lowering below `i` whose sweep has not reached it: a run
        // below publishing a new key then lowers nothing, and `i`'s check
        // would look current.)
        let (wave, checking) = unpack(self.validation.load(Ordering::Acquire));
        crate::race_point();
        let check = checking > i;
        // Lowered before `i`'s lock is let go: the committer reads `i`'s
        // status under it, so nothing above `i` commits on a check made
        // before this run was published.
        if check && wrote_new {
            self.lower(i + 1);
        }
        let dependents = std::mem::take(&mut tx.dependents);
        let mut lowest = usize::MAX;
        for d in dependents {
            let mut dep = self.tx(d);
            if dep.status == Status::Aborting {
                dep.status = Status::Ready;
                dep.incarnation += 1;
                lowest = lowest.min(d as usize);
            }
        }
        drop(tx);
        if lowest != usize::MAX {
            self.execution.fetch_min(lowest, Ordering::AcqRel);
        }
        let task = (check && !exact).then_some(Task::Validate(i, incarnation, wave));
        self.notify(lowest != usize::MAX);
        task
    }

    /// `i`'s run `incarnation` passed a check in `wave`.
    pub(super) fn validated(&self, i: u32, incarnation: u32, wave: u32) {
        let mut tx = self.tx(i);
        if tx.incarnation == incarnation && tx.status == Status::Executed {
            tx.checked = Some(tx.checked.map_or(wave, |w| w.max(wave)));
        }
        drop(tx);
        self.notify(false);
    }

    /// Takes `i`'s run `incarnation` back (a check failed), if no one has:
    /// the caller then makes its versions estimates and calls
    /// [`Self::finish_abort`].
    pub(super) fn try_abort(&self, i: u32, incarnation: u32) -> bool {
        let mut tx = self.tx(i);
        let taken = tx.incarnation == incarnation && tx.status == Status::Executed;
        if taken {
            tx.status = Status::Aborting;
            tx.checked = None;
            self.executed[i as usize].store(false, Ordering::Release);
        }
        taken
    }

    /// `i`'s next incarnation is ready (its old versions are estimates);
    /// everything above it is checked again. Answers its run where the
    /// execution sweep is past it.
    pub(super) fn finish_abort(&self, i: u32) -> Option<Task> {
        // Lowered before `i` is ready: a next run of `i` may then commit,
        // and a check above `i` made before its versions became estimates
        // must no longer look current by then.
        self.lower(i + 1);
        crate::race_point();
        {
            let mut tx = self.tx(i);
            tx.status = Status::Ready;
            tx.incarnation += 1;
        }
        let task = match self.execution.load(Ordering::Acquire) > i as usize {
            true => self.try_execute(i as usize),
            false => None,
        };
        self.notify(task.is_none());
        task
    }

    /// Moves the commit index past `i` (the caller committed it). The
    /// committer tells the waiting workers once it lets the commit go
    /// ([`Self::notify`]), not at each transaction: each telling wakes
    /// every idle worker.
    pub(super) fn commit(&self, i: u32) {
        self.committed.store(i as usize + 1, Ordering::Release);
    }

    /// Whether `i`'s latest run is done and not taken back (a hint: the
    /// committer checks under `i`'s lock).
    pub(super) fn is_executed(&self, i: usize) -> bool {
        self.executed.get(i).is_some_and(|e| e.load(Ordering::Acquire))
    }

    /// Tells waiting workers something changed, and wakes sleeping ones
    /// where `wake`. With none waiting it writes nothing: every worker's
    /// runs and checks end here, and one shared counter written by each
    /// would be a line every core fights over.
    pub(super) fn notify(&self, wake: bool) {
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.idlers.load(Ordering::Relaxed) == 0 {
            return;
        }
        self.progress.fetch_add(1, Ordering::AcqRel);
        if wake && self.sleepers.load(Ordering::Acquire) > 0 {
            let _sleep = self.sleep.lock();
            self.wake.notify_all();
        }
    }

    /// Counts the caller among the waiting workers, who then looks for work
    /// once more before [`Self::idle`]: any change after this is notified.
    /// Answers what `idle` compares against.
    pub(super) fn enter_idle(&self) -> u64 {
        self.idlers.fetch_add(1, Ordering::SeqCst);
        std::sync::atomic::fence(Ordering::SeqCst);
        self.progress.load(Ordering::Acquire)
    }

    /// The caller is no longer waiting.
    pub(super) fn leave_idle(&self) {
        self.idlers.fetch_sub(1, Ordering::AcqRel);
    }

    /// Waits, with nothing to do, until something changed since `seen`
    /// ([`Self::enter_idle`]): a short spin, then yielding, then sleep (at
    /// most 200 µs, so a missed wake-up costs only that).
    pub(super) fn idle(&self, seen: u64) {
        let moved = || self.progress.load(Ordering::Acquire) != seen;
        for _ in 0..256 {
            if moved() {
                return;
            }
            std::hint::spin_loop();
        }
        for _ in 0..16 {
            std::thread::yield_now();
            if moved() {
                return;
            }
        }
        let mut sleep = self.sleep.lock();
        self.sleepers.fetch_add(1, Ordering::AcqRel);
        if !moved() && !self.finished() {
            self.wake.wait_for(&mut sleep, Duration::from_micros(200));
        }
        self.sleepers.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_the_sweeps_hand_out_runs_then_checks_and_a_lowering_opens_a_wave() {
        let s = Schedule::new(3);
        assert_eq!(s.next_task(), Some(Task::Execute(0, 0)));
        // The validation sweep passes 0 (running) before the next run.
        assert_eq!(s.next_task(), Some(Task::Execute(1, 0)));
        // 0 done, the sweep past it: its check comes with it.
        assert_eq!(s.finish_execution(0, 0, true, false), Some(Task::Validate(0, 0, 0)));
        s.validated(0, 0, 0);
        assert_eq!(s.next_task(), Some(Task::Execute(2, 0)));
        assert_eq!(s.finish_execution(1, 0, true, false), Some(Task::Validate(1, 0, 0)));
        assert_eq!(s.required(0), 0);
        // The sweep passes 2 (still running); a failed check of 1: its next
        // run is ready, and the sweep comes back to 2 in a new wave.
        assert_eq!(s.next_task(), None);
        assert!(s.try_abort(1, 0));
        assert_eq!(s.finish_abort(1), Some(Task::Execute(1, 1)));
        assert_eq!((s.required(1), s.required(2)), (0, 1));
    }

    #[test]
    fn test_a_run_that_read_an_estimate_resumes_when_the_blocking_run_ends() {
        let s = Schedule::new(2);
        assert_eq!(s.next_task(), Some(Task::Execute(0, 0)));
        assert_eq!(s.next_task(), Some(Task::Execute(1, 0)));
        assert!(s.add_dependency(1, 0));
        s.finish_execution(0, 0, false, true);
        assert_eq!(s.tx(1).status, Status::Ready);
        assert_eq!(s.next_task(), Some(Task::Execute(1, 1)));
        // Once 0 has run, a read of it needs no wait.
        assert!(!s.add_dependency(1, 0));
    }
}
