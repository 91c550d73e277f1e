//! The parallel engine of an ordered block: Block-STM's workers over the
//! multi-version memory ([`MvMemory`]) and the scheduler ([`Schedule`]).
//!
//! Each worker loops: move the commit index if it can, else take a task —
//! run a transaction's next incarnation on the versions below it, or check
//! a finished run by value — else wait for progress.
//!
//! ```text
//!   run i:   reads: own writes > newest version below i > bank state
//!            (an estimate: wait for that run) ──> publish versions ──> Executed
//!   check i: every value read still resolves the same? no ──> estimates, i again
//!   commit:  lowest i, checked since the last change below it (else checked
//!            now), its credits' and debits' balances folded and covered ──> Committed
//! ```
//!
//! Nothing runs on the committer that another worker could not run: a
//! commit that finds its run stale sends the transaction back to the
//! schedule, where the next free worker, the committer among them, takes
//! it first (it is the lowest).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use alloy_primitives::{Address, B256, U256};
use crossbeam_utils::CachePadded;
use lanes_accounts_db::{AccountHeader, KeyHash};
use parking_lot::Mutex;

use super::config::Source;
use super::config::{OrderedConfig, OrderedError};
use super::plan::Start;
use super::ran::{LastWrites, Ran};
use super::report::{Run, RunKind, TxReport};
use super::schedule::{Schedule, Task};
use super::sequential::state_error;
use crate::bank::Bank;
use crate::error::TxError;
use crate::executor::{Executor, Transaction};
use crate::key::StateKey;
use crate::mv::{MvMemory, Origin, Patch};
use crate::spare;
use crate::view::{Access, EngineReads, StateView, Writes};

/// One transaction's place in the engine.
#[derive(Default)]
pub(super) struct Slot {
    pub(super) ran: Option<Ran>,
    /// The keys its cells are at in the versions.
    last: Vec<spare::Placed>,
    pub(super) report: TxReport,
    /// The set of its run of this incarnation (found sources only).
    pub(super) set: Option<(u32, Option<crate::access::AccessSet>)>,
    /// Its kept writes and result once the block is done
    /// ([`super::finish`]).
    pub(super) done: Option<(Writes, super::config::Done)>,
}

/// Most times a run reads an estimate of a transaction whose run is done
/// (a race with that run's publishing) before the engine gives up.
const MAX_RETRIES: u32 = 1_000;

/// A worker's clock: one reading per task, each task's time running from
/// the end of the one before (a reading costs more than a map lookup here).
pub(super) struct Clock(pub(super) Instant);

impl Clock {
    /// The time since the last lap.
    pub(super) fn lap(&mut self) -> std::time::Duration {
        let now = Instant::now();
        let since = now.duration_since(self.0);
        self.0 = now;
        since
    }

    /// Starts again from now (after a wait that is no task's).
    fn reset(&mut self) {
        self.0 = Instant::now();
    }
}

/// Balances the committer folds, of accounts written as deltas: each as
/// every committed transaction left it.
pub(super) type Folds = HashMap<Address, AccountHeader, ahash::RandomState>;

/// What the worker committing holds: the folds, and how long workers have
/// held it (the commit is the one path through the block in order).
#[derive(Default)]
pub(super) struct Committer {
    pub(super) folds: Folds,
    pub(super) held: std::time::Duration,
}

/// The shared state of one ordered block's workers.
pub(super) struct Engine<'a, E: Executor> {
    pub(super) bank: &'a Bank,
    pub(super) executor: &'a E,
    pub(super) txs: &'a [E::Tx],
    pub(super) config: &'a OrderedConfig,
    pub(super) starts: &'a [Start],
    pub(super) source: Source<'a>,
    pub(super) memory: &'a MvMemory,
    pub(super) schedule: Schedule,
    pub(super) slots: Box<[CachePadded<Mutex<Slot>>]>,
    /// Held by the worker committing.
    pub(super) committer: Mutex<Committer>,
    pub(super) error: Mutex<Option<OrderedError>>,
    /// The next committed transaction to prepare for the block (its writes,
    /// set and report, [`Engine::prepare`]): idle workers take
    /// them while the block runs.
    pub(super) prepared: AtomicUsize,
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
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        bank: &'a Bank,
        executor: &'a E,
        txs: &'a [E::Tx],
        config: &'a OrderedConfig,
        starts: &'a [Start],
        source: Source<'a>,
        memory: &'a MvMemory,
    ) -> Self {
        let slots = starts
            .iter()
            .map(|s| {
                let report = TxReport { waited_for: s.after, ..TxReport::default() };
                CachePadded::new(Mutex::new(Slot { report, ..Slot::default() }))
            })
            .collect();
        Self {
            bank,
            executor,
            txs,
            config,
            starts,
            source,
            memory,
            schedule: Schedule::new(txs.len()),
            slots,
            committer: Mutex::default(),
            error: Mutex::new(None),
            prepared: AtomicUsize::new(0),
        }
    }

    /// Notes the cells the versions were seeded with, by transaction: its
    /// first run clears those it does not write.
    pub(super) fn place(&self, placed: Vec<(u32, StateKey)>) {
        for (tx, key) in placed {
            let mut slot = self.slots[tx as usize].lock();
            let hash = key.hash64();
            if !slot.last.iter().any(|(h, k)| *h == hash && *k == key) {
                slot.last.push((hash, key));
            }
        }
    }

    /// A worker's loop, until the block is committed or stopped.
    pub(super) fn work(&self) {
        let _guard = PanicGuard(self);
        if self.schedule.finished() {
            return;
        }
        let mut worker = self.executor.worker(self.bank.env());
        let mut clock = Clock(Instant::now());
        let mut task = None;
        loop {
            if task.is_none() {
                task = self.try_commit(&mut clock).1;
            }
            if self.schedule.finished() {
                return;
            }
            task = task.or_else(|| self.schedule.next_task());
            task = match task.take() {
                Some(Task::Execute(i, incarnation)) => {
                    self.execute(&mut worker, &mut clock, i, incarnation)
                }
                Some(Task::Validate(i, incarnation, wave)) => {
                    self.validate(&mut clock, i, incarnation, wave)
                }
                None => self.wait(&mut clock),
            };
        }
    }

    /// With nothing to do: looks once more, counted among the waiting (so
    /// what changes from here on is notified), then waits for a change.
    fn wait(&self, clock: &mut Clock) -> Option<Task> {
        let seen = self.schedule.enter_idle();
        let found = match self.try_commit(clock) {
            (_, Some(task)) => Some(task),
            (true, None) => None,
            (false, None) => match self.schedule.next_task() {
                Some(task) => Some(task),
                None if self.schedule.finished() => None,
                None if self.prepare_committed() => None,
                None => {
                    self.schedule.idle(seen);
                    clock.reset();
                    None
                }
            },
        };
        self.schedule.leave_idle();
        found
    }

    /// Prepares a few committed transactions for the block, if any wait:
    /// the finish's work, done here beside the runs. Answers whether it
    /// prepared one.
    fn prepare_committed(&self) -> bool {
        const AT_ONCE: usize = 4;
        let mut any = false;
        for _ in 0..AT_ONCE {
            let next = self.prepared.load(Ordering::Acquire);
            if next >= self.schedule.committed() {
                break;
            }
            if self
                .prepared
                .compare_exchange(next, next + 1, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                continue;
            }
            if let Err(e) = self.prepare(next) {
                self.fail(e);
                return false;
            }
            any = true;
        }
        any
    }

    /// Transaction `i`'s committed run as its kept writes (its deltas as its
    /// commit resolved them), set, source and outcome, and its report; nothing
    /// where that is done (an idle worker prepared it while the block ran).
    pub(super) fn prepare(&self, i: usize) -> Result<(), OrderedError> {
        let mut slot = self.slots[i].lock();
        let slot = &mut *slot;
        if slot.done.is_some() {
            return Ok(());
        }
        let ran = slot
            .ran
            .take()
            .ok_or_else(|| super::sequential::state_error(format!("transaction {i} has no run")))?;
        let (set, source) = self.source.kept(i, || match slot.set.take() {
            Some((at, set)) if at == ran.incarnation => set,
            _ => ran.set(self.config.max_keys),
        });
        let Ran { result, accounts, slots, writes, credits, debits, .. } = ran;
        let outcome = result.map_err(|error| OrderedError::Invalid { index: i, error })?;
        let coinbase = self.bank.env().coinbase;
        let report = &mut slot.report;
        report.access.clone_from(&set);
        report.source = source;
        report.stood = !report.runs.iter().any(|r| r.kind == RunKind::Rerun);
        report.reads_coinbase = accounts.iter().any(|r| r.1 == coinbase);
        if report.first_prediction.is_none() {
            report.first_prediction.clone_from(&set);
        }
        report.debited = debits.iter().map(|(a, _)| *a).collect();
        report.credited = credits;
        spare::give(accounts, slots, debits);
        // Committed: its versions stay, and no run of it moves them again.
        spare::give_placed(std::mem::take(&mut slot.last));
        slot.done = Some((writes, (set, source, outcome)));
        Ok(())
    }

    /// Stops the block with `error` (the first one stands).
    pub(super) fn fail(&self, error: OrderedError) {
        self.error.lock().get_or_insert(error);
        self.schedule.stop();
    }

    /// Runs incarnation `incarnation` of `i` and publishes it; answers a
    /// check of it to do now, if the schedule has one.
    fn execute(
        &self,
        worker: &mut E::Worker<'a>,
        clock: &mut Clock,
        i: u32,
        mut incarnation: u32,
    ) -> Option<Task> {
        let index = i as usize;
        // Reads of a run that is done find its versions, not an estimate:
        // a read that keeps finding one is the engine's fault, not a wait.
        let mut retries = 0u32;
        loop {
            let exact = self.schedule.committed() == index;
            crate::race_point();
            // Its first whole run (one stopped at an estimate is not) may
            // be shown its transfer's accounts; a run again reads them.
            let first = !self.slots[index]
                .lock()
                .report
                .runs
                .iter()
                .any(|r| matches!(r.kind, RunKind::Run | RunKind::Rerun));
            let mut reads = EngineReads::new(self.memory, i);
            if first {
                (reads.sender, reads.recipient) =
                    (self.starts[index].sender, self.starts[index].recipient);
            }
            let access =
                self.source.recorded(index).flatten().map_or(Access::Exclusive, Access::Declared);
            let mut view = StateView::new(self.bank.state(), access).with_engine(reads);
            view.debits = spare::debits();
            let (result, mut view) = self.executor.execute(worker, &self.txs[index], view);
            let time = clock.lap();
            let reads = *view.engine.take().expect("set above");
            let kind = if first { RunKind::Run } else { RunKind::Rerun };
            if let Some(blocking) = reads.blocked {
                spare::give(reads.accounts, reads.slots, std::mem::take(&mut view.debits));
                let mut slot = self.slots[index].lock();
                slot.report.runs.push(Run { kind: RunKind::Stopped, time });
                slot.report.waited_for.get_or_insert(blocking as usize);
                drop(slot);
                if self.schedule.add_dependency(i, blocking) {
                    return None;
                }
                retries += 1;
                if retries > MAX_RETRIES {
                    let why = format!(
                        "transaction {i} keeps reading an estimate of {blocking}, whose run is done"
                    );
                    self.fail(state_error(why));
                    return None;
                }
                continue;
            }
            if let Err(TxError::State(e)) = &result {
                self.fail(state_error(e.clone()));
                return None;
            }
            let ran = Ran {
                incarnation,
                violation: view.violation(),
                result,
                accounts: reads.accounts,
                slots: reads.slots,
                shown: reads.shown,
                writes: std::mem::take(&mut view.writes),
                credits: std::mem::take(&mut view.credits),
                debits: std::mem::take(&mut view.debits),
            };
            // An account shown without the versions must have been only
            // debited or credited; else the run stands on nothing real.
            let shown = ran.accounts.iter().filter(|r| r.3 == Origin::Shown);
            if shown.clone().any(|r| !ran.lazy(&r.1)) || (ran.result.is_err() && shown.count() > 0)
            {
                let mut slot = self.slots[index].lock();
                slot.report.runs.push(Run { kind, time });
                drop(slot);
                incarnation = self.restart(i);
                continue;
            }
            let patches = self.patches(index, &ran);
            let set = match self.source {
                Source::Recorded(_) => None,
                Source::Run | Source::Versioned(_) => Some(ran.set(self.config.max_keys)),
            };
            let wrote_new = {
                let mut slot = self.slots[index].lock();
                let slot = &mut *slot;
                slot.report.runs.push(Run { kind, time });
                let fee = ran.result.as_ref().map_or(U256::ZERO, |o| o.fee);
                if slot.last.capacity() == 0 {
                    slot.last = spare::placed();
                }
                let new = self.memory.record(i, incarnation, &patches, &mut slot.last);
                self.memory.set_fee(i, Some(fee));
                slot.ran = Some(ran);
                slot.set = set.map(|s| (incarnation, s));
                new
            };
            crate::race_point();
            return self.schedule.finish_execution(i, incarnation, wrote_new, exact);
        }
    }

    /// Takes `i` (executing, its run discarded before publishing) straight
    /// to its next incarnation on this worker.
    fn restart(&self, i: u32) -> u32 {
        let mut tx = self.schedule.tx(i);
        tx.incarnation += 1;
        tx.incarnation
    }

    /// `ran` (a run of `index`)'s writes as versions (its code stored): the
    /// last write of each key, an account it only debited or credited as a
    /// delta, its sender's account last; none where it failed.
    ///
    /// The sender last: its next transaction waits for that key (an
    /// estimate until this run publishes it, [`super::plan`]), so once it
    /// finds the new nonce it finds every other key this run wrote, not a
    /// value about to be replaced (a wasted run).
    fn patches(&self, index: usize, ran: &Ran) -> Vec<(KeyHash, StateKey, Patch)> {
        if ran.result.is_err() || ran.violation.is_some() {
            return Vec::new();
        }
        let (accounts, slots) = (&ran.writes.accounts, &ran.writes.slots);
        let mut patches = Vec::with_capacity(accounts.len() + slots.len());
        let account = |w: &(KeyHash, Address, AccountHeader)| w.1;
        let last = LastWrites::of(accounts, account);
        for (k, &(hash, address, header)) in accounts.iter().enumerate() {
            if last.is_last(accounts, k, account) {
                patches.push((hash, StateKey::Account(address), ran.patch(&address, header)));
            }
        }
        let slot = |w: &(KeyHash, Address, B256, U256)| (w.1, w.2);
        let last = LastWrites::of(slots, slot);
        for (k, &(hash, address, key, value)) in slots.iter().enumerate() {
            if last.is_last(slots, k, slot) {
                patches.push((hash, StateKey::Storage(address, key), Patch::Slot(value)));
            }
        }
        if let Some(sender) = self.txs[index].known_writes().sequence
            && let Some(at) = patches.iter().position(|p| p.1 == sender)
        {
            let last = patches.len() - 1;
            patches.swap(at, last);
        }
        self.memory.put_code(&ran.writes.code);
        patches
    }

    /// Checks `i`'s run `incarnation` in `wave`; a stale one goes back to
    /// the schedule, its versions estimates. Answers its run to do now,
    /// if the schedule has one.
    fn validate(&self, clock: &mut Clock, i: u32, incarnation: u32, wave: u32) -> Option<Task> {
        let changed = {
            let slot = self.slots[i as usize].lock();
            let ran = slot.ran.as_ref().filter(|r| r.incarnation == incarnation)?;
            self.changed(i, ran)
        };
        let changed = match changed {
            Ok(changed) => changed,
            Err(e) => {
                self.fail(e);
                return None;
            }
        };
        crate::race_point();
        let time = clock.lap();
        match changed {
            None => {
                self.slots[i as usize]
                    .lock()
                    .report
                    .runs
                    .push(Run { kind: RunKind::Validate, time });
                self.schedule.validated(i, incarnation, wave);
                None
            }
            Some(key) => self.abort(i, incarnation, key, time),
        }
    }

    /// Sends `i`'s run `incarnation` back (`key` changed): its versions
    /// become estimates and its next incarnation is ready.
    pub(super) fn abort(
        &self,
        i: u32,
        incarnation: u32,
        key: StateKey,
        time: std::time::Duration,
    ) -> Option<Task> {
        crate::race_point();
        if !self.schedule.try_abort(i, incarnation) {
            return None;
        }
        {
            let mut slot = self.slots[i as usize].lock();
            slot.report.runs.push(Run { kind: RunKind::Validate, time });
            slot.report.changed.get_or_insert(key);
            if incarnation == 0 && slot.report.first_prediction.is_none() {
                slot.report.first_prediction = slot.set.take().and_then(|(_, set)| set);
            }
            self.memory.estimate(i, &slot.last);
        }
        crate::race_point();
        self.schedule.finish_abort(i)
    }

    /// The first key `ran` (a run of `i`) read whose value no longer
    /// resolves the same below `i`; the accounts it only credited or
    /// debited are its commit's to check.
    pub(super) fn changed(&self, i: u32, ran: &Ran) -> Result<Option<StateKey>, OrderedError> {
        let state = self.bank.state();
        let state_err = |e: TxError| state_error(e.to_string());
        for &(hash, address, header, origin) in &ran.accounts {
            if origin == Origin::Shown || ran.lazy(&address) {
                continue;
            }
            let key = StateKey::Account(address);
            let Ok(folded) = self.memory.account(hash, &address, i) else { return Ok(Some(key)) };
            let same = match (origin, folded.origin) {
                (Origin::Version(a), Origin::Version(b)) if a == b => true,
                (Origin::Storage, Origin::Storage) => true,
                _ => {
                    let base = match folded.needs_state() {
                        true => state.account(&address, hash).map_err(state_err)?,
                        false => AccountHeader::default(),
                    };
                    folded.over(base) == header
                }
            };
            if !same {
                return Ok(Some(key));
            }
        }
        for &(hash, address, slot, value, origin) in &ran.slots {
            let key = StateKey::Storage(address, slot);
            let same = match (self.memory.slot(hash, &key, i), origin) {
                (Err(_), _) => false,
                (Ok(None), Origin::Storage) => true,
                (Ok(Some((_, a))), Origin::Version(b)) if a == b => true,
                (Ok(Some((now, _))), _) => now == value,
                (Ok(None), _) => state.storage(&address, &slot, hash).map_err(state_err)? == value,
            };
            if !same {
                return Ok(Some(key));
            }
        }
        Ok(None)
    }
}
