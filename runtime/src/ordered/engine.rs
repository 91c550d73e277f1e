//! The workers and the shared schedule of [`Bank::execute_ordered`].
//!
//! Every worker runs the same loop: take the most urgent task under the
//! schedule's lock, run it without the lock, report it under the lock. The
//! tasks, most urgent first:
//! - the lowest transaction that left its set, once it is the lowest
//!   unfinished one and nothing else is running: it runs alone;
//! - the lowest transaction whose turn is open (no earlier unfinished
//!   transaction holds a conflicting lock), if it is below every transaction
//!   waiting to run alone;
//! - the next prediction, in block order.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use alloy_primitives::U256;
use lanes_accounts_db::KeyHash;
use parking_lot::{Condvar, Mutex};

use super::graph::Graph;
use super::{
    OrderedConfig, OrderedError, OrderedReport, OrderedSets, Run, RunKind, TxReport,
    record_in_order,
};
use crate::access::AccessSet;
use crate::admission::{AccessSource, AdmitContext, Admitted};
use crate::bank::{Bank, BankError};
use crate::executor::{Executor, Outcome, Transaction, TxError};
use crate::key::StateKey;
use crate::locks::{EntryKeys, SLOT_WRITE, WRITE};
use crate::view::{Access, BankState, StateView, Writes};

/// Where a transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    /// Its set is not known yet.
    Unknown,
    /// Its set is known; not yet in the graph (an earlier one is unknown).
    Known,
    /// In the graph, waiting for its turn.
    Waiting,
    /// A worker runs it.
    Running,
    /// It left its set (or has none): it runs alone.
    Stray,
    /// Finished.
    Done,
}

/// A finished run and how to undo it.
#[derive(Debug)]
struct Finished {
    result: Result<Outcome, TxError>,
    undo: Writes,
    seq: u64,
}

#[derive(Debug)]
struct Slot {
    status: Status,
    access: Option<AccessSet>,
    source: AccessSource,
    /// Its run against the parent state, when that was valid.
    prediction: Option<(Outcome, Writes)>,
    /// No earlier set writes what its prediction touched.
    may_stand: bool,
    /// A finished run was undone, or an earlier transaction's new set writes
    /// what it touches: its prediction no longer stands.
    must_run: bool,
    /// Its set locks the coinbase account.
    coinbase: bool,
    finished: Option<Finished>,
    report: TxReport,
}

impl Default for Slot {
    fn default() -> Self {
        Self {
            status: Status::Unknown,
            access: None,
            source: AccessSource::Undeclared,
            prediction: None,
            may_stand: false,
            must_run: false,
            coinbase: false,
            finished: None,
            report: TxReport::default(),
        }
    }
}

/// What a worker does next.
enum Task {
    Predict(usize),
    /// Run under the set, or apply the prediction that stands.
    /// Whether what it writes must be kept undoable (an earlier
    /// transaction is unfinished, and may turn out to conflict with it).
    Execute(usize, AccessSet, Option<Box<(Outcome, Writes)>>, bool),
    Alone(usize),
}

enum Next {
    Task(Task),
    Wait,
    Stop,
}

/// A prediction task's answer.
struct Predicted {
    admitted: Admitted,
    prediction: Option<(Outcome, Writes)>,
    run: Option<Run>,
}

/// What a run under locks came to.
enum Executed {
    Finished(Result<Outcome, TxError>, Writes),
    Strayed(StateKey),
}

#[derive(Debug)]
struct Schedule {
    slots: Vec<Slot>,
    next_predict: usize,
    /// Transactions `..registered` are known and past `Known`.
    registered: usize,
    graph: Graph,
    ready: BTreeSet<usize>,
    strays: BTreeSet<usize>,
    lowest_unfinished: usize,
    /// Runs under locks or alone in flight (not predictions).
    running: usize,
    /// A transaction runs alone: nothing else may run but predictions.
    alone: bool,
    seq: u64,
    /// Write flags of every registered set, by key hash.
    written: HashMap<KeyHash, u8, ahash::RandomState>,
    /// Fees of transactions `..fees_credited` are credited to the coinbase.
    fees_credited: usize,
    error: Option<OrderedError>,
}

struct Shared<'a, E: Executor> {
    bank: &'a Bank,
    parent: &'a Bank,
    executor: &'a E,
    txs: &'a [E::Tx],
    sets: OrderedSets<'a, E::Tx>,
    config: &'a OrderedConfig,
    coinbase: StateKey,
    schedule: Mutex<Schedule>,
    wake: Condvar,
}

pub(super) fn run<E: Executor>(
    bank: &Bank,
    executor: &E,
    txs: &[E::Tx],
    sets: OrderedSets<'_, E::Tx>,
    config: &OrderedConfig,
) -> Result<OrderedReport, OrderedError> {
    let start = Instant::now();
    let n = txs.len();
    let parent = bank.fork_parent();
    let threads = config.threads.clamp(1, n.max(1));
    let shared = Shared {
        bank,
        parent: &parent,
        executor,
        txs,
        sets,
        config,
        coinbase: StateKey::Account(bank.env().coinbase),
        schedule: Mutex::new(Schedule {
            slots: (0..n).map(|_| Slot::default()).collect(),
            next_predict: 0,
            registered: 0,
            graph: Graph::default(),
            ready: BTreeSet::new(),
            strays: BTreeSet::new(),
            lowest_unfinished: 0,
            running: 0,
            alone: false,
            seq: 0,
            written: HashMap::default(),
            fees_credited: 0,
            error: None,
        }),
        wake: Condvar::new(),
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(|| shared.work());
        }
        shared.work();
    });
    let schedule = shared.schedule.into_inner();
    if let Some(e) = schedule.error {
        return Err(e);
    }
    // The block's gas limit holds over the block-order sums.
    let limit = bank.env().gas_limit;
    let mut used = 0u64;
    for (index, slot) in schedule.slots.iter().enumerate() {
        let gas =
            slot.finished.as_ref().and_then(|f| f.result.as_ref().ok()).map_or(0, |o| o.gas_used);
        if used.saturating_add(gas) > limit {
            let error = TxError::BlockFull { used: gas, left: limit - used };
            return Err(OrderedError::Invalid { index, error });
        }
        used += gas;
    }
    Ok(record(bank, txs, schedule.slots, threads, start))
}

/// Records the finished block in order ([`record_in_order`]) and reports
/// each transaction.
fn record<T: Transaction>(
    bank: &Bank,
    txs: &[T],
    slots: Vec<Slot>,
    threads: usize,
    start: Instant,
) -> OrderedReport {
    let mut runs = Vec::with_capacity(slots.len());
    let mut reports = Vec::with_capacity(slots.len());
    for slot in slots {
        let outcome = match slot.finished.map(|f| f.result) {
            Some(Ok(outcome)) => outcome,
            _ => unreachable!("every transaction finished valid, or the run failed"),
        };
        let mut report = slot.report;
        report.access = slot.access.clone();
        report.source = slot.source;
        reports.push(report);
        runs.push((slot.access, slot.source, outcome));
    }
    record_in_order(bank, txs, runs);
    OrderedReport {
        txs: reports,
        threads,
        elapsed: start.elapsed(),
        independent: false,
        serial: Duration::ZERO,
    }
}

/// The old values of what `writes` writes, as writes that restore them.
fn undo_of(state: &BankState, writes: &Writes) -> Result<Writes, TxError> {
    let mut undo = Writes::default();
    for &(hash, address, _) in &writes.accounts {
        undo.accounts.push((hash, address, state.account(&address, hash)?));
    }
    for &(hash, address, slot, _) in &writes.slots {
        undo.slots.push((hash, address, slot, state.storage(&address, &slot, hash)?));
    }
    Ok(undo)
}

fn state_error(e: String) -> OrderedError {
    OrderedError::Bank(BankError::State(e))
}

/// Sets an error for the other workers when a worker unwinds from a panic.
struct PanicGuard<'s>(&'s Mutex<Schedule>, &'s Condvar);

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut s = self.0.lock();
            s.error.get_or_insert(OrderedError::Bank(BankError::State(
                "a worker running the block panicked".into(),
            )));
            self.1.notify_all();
        }
    }
}

impl<'a, E: Executor> Shared<'a, E> {
    fn work(&self) {
        let _guard = PanicGuard(&self.schedule, &self.wake);
        let mut worker = self.executor.worker(self.bank.env());
        loop {
            let task = {
                let mut s = self.schedule.lock();
                loop {
                    match self.next(&mut s) {
                        Next::Task(task) => break task,
                        Next::Wait => self.wake.wait(&mut s),
                        Next::Stop => return,
                    }
                }
            };
            match task {
                Task::Predict(i) => {
                    let predicted = self.predict(&mut worker, i);
                    let mut s = self.schedule.lock();
                    match predicted {
                        Ok(p) => self.predicted(&mut s, i, p),
                        Err(e) => {
                            s.error.get_or_insert(e);
                        }
                    }
                }
                Task::Execute(i, set, prediction, undoable) => {
                    let start = Instant::now();
                    let (executed, kind) = match prediction {
                        Some(prediction) => {
                            let (outcome, writes) = *prediction;
                            (self.apply(i, Ok(outcome), writes, undoable), RunKind::Apply)
                        }
                        None => (self.execute(&mut worker, i, set, undoable), RunKind::Execute),
                    };
                    let run = Run { kind, time: start.elapsed() };
                    let mut s = self.schedule.lock();
                    self.executed(&mut s, i, executed, run);
                }
                Task::Alone(i) => self.alone(&mut worker, i),
            }
            self.wake.notify_all();
        }
    }

    /// The next task, or why there is none.
    fn next(&self, s: &mut Schedule) -> Next {
        let n = self.txs.len();
        if s.error.is_some() || s.lowest_unfinished >= n {
            return Next::Stop;
        }
        let first_stray = s.strays.first().copied();
        if s.alone {
            return self.next_prediction(s);
        }
        if let Some(i) = first_stray
            && i == s.lowest_unfinished
            && s.running == 0
        {
            s.strays.remove(&i);
            s.slots[i].status = Status::Running;
            s.running += 1;
            s.alone = true;
            if let Err(e) = self.credit_fees_before(s, i) {
                return self.fail(s, e);
            }
            return Next::Task(Task::Alone(i));
        }
        if let Some(i) = s.ready.first().copied()
            && first_stray.is_none_or(|stray| i < stray)
        {
            s.ready.remove(&i);
            let slot = &mut s.slots[i];
            slot.status = Status::Running;
            let set = slot.access.clone().expect("a ready transaction has a set");
            let stands = self.config.reuse_predictions && slot.may_stand && !slot.must_run;
            let prediction = if stands { slot.prediction.take().map(Box::new) } else { None };
            slot.report.stood = prediction.is_some();
            let coinbase = slot.coinbase;
            s.running += 1;
            if coinbase && let Err(e) = self.credit_fees_before(s, i) {
                return self.fail(s, e);
            }
            let undoable = i != s.lowest_unfinished;
            return Next::Task(Task::Execute(i, set, prediction, undoable));
        }
        self.next_prediction(s)
    }

    fn next_prediction(&self, s: &mut Schedule) -> Next {
        if s.next_predict < self.txs.len() {
            s.next_predict += 1;
            return Next::Task(Task::Predict(s.next_predict - 1));
        }
        Next::Wait
    }

    fn fail(&self, s: &mut Schedule, e: OrderedError) -> Next {
        s.error.get_or_insert(e);
        Next::Stop
    }

    /// Credits the fees of every transaction before `i` not yet credited (all
    /// of them are finished).
    fn credit_fees_before(&self, s: &mut Schedule, i: usize) -> Result<(), OrderedError> {
        let mut fees = U256::ZERO;
        for slot in &s.slots[s.fees_credited..i] {
            if let Some(Finished { result: Ok(outcome), .. }) = &slot.finished {
                fees = fees.saturating_add(outcome.fee);
            }
        }
        s.fees_credited = s.fees_credited.max(i);
        Ok(self.bank.credit_coinbase(fees, self.txs[i].hash())?)
    }

    /// Finds transaction `i`'s set.
    fn predict(&self, worker: &mut E::Worker<'a>, i: usize) -> Result<Predicted, OrderedError> {
        let tx = &self.txs[i];
        let none = |admitted, run| Predicted { admitted, prediction: None, run };
        let admission = match self.sets {
            OrderedSets::Recorded(sets) => return Ok(none(sets[i].clone(), None)),
            OrderedSets::Versioned(_) => return Ok(none(Admitted::default(), None)),
            OrderedSets::Predict(admission) => admission,
        };
        let ctx = AdmitContext::new(self.parent);
        match admission.admit(tx, ctx) {
            Ok(Some(admitted)) => return Ok(none(admitted, None)),
            Ok(None) => {}
            Err(TxError::State(e)) => return Err(state_error(e)),
            Err(_) => return Ok(none(Admitted::default(), None)),
        }
        let start = Instant::now();
        let view = StateView::new(self.parent.state(), Access::Record);
        let (result, view) = self.executor.execute(worker, tx, view);
        let run = Some(Run { kind: RunKind::Predict, time: start.elapsed() });
        match result {
            Ok(outcome) => {
                let set = view.touched_set(self.config.max_keys).ok().filter(|s| !s.is_empty());
                let admitted = Admitted {
                    source: if set.is_some() {
                        AccessSource::Predicted
                    } else {
                        AccessSource::Undeclared
                    },
                    access: set,
                };
                Ok(Predicted { admitted, prediction: Some((outcome, view.writes)), run })
            }
            Err(TxError::State(e)) => Err(state_error(e)),
            // Not valid on the parent state (a later nonce of a sender, a
            // sender funded earlier in the block): run again with those
            // checks relaxed, for its set only.
            Err(_) => {
                let start = Instant::now();
                let view = StateView::new(self.parent.state(), Access::Record);
                let (result, view) = self.executor.execute_unchecked(worker, tx, view);
                let again = Run { kind: RunKind::Predict, time: start.elapsed() };
                let set = view.touched_set(self.config.max_keys).ok().filter(|s| !s.is_empty());
                let admitted = match (result, set) {
                    (Ok(_), Some(set)) => {
                        Admitted { access: Some(set), source: AccessSource::Predicted }
                    }
                    (Err(TxError::State(e)), _) => return Err(state_error(e)),
                    _ => admission.predict(tx, ctx),
                };
                let time = run.map_or(Duration::ZERO, |r| r.time) + again.time;
                Ok(none(admitted, Some(Run { kind: RunKind::Predict, time })))
            }
        }
    }

    /// Files a finished prediction, and registers every transaction whose
    /// turn in order has come.
    fn predicted(&self, s: &mut Schedule, i: usize, p: Predicted) {
        let slot = &mut s.slots[i];
        slot.access = p.admitted.access.filter(|set| !set.is_empty());
        slot.source = p.admitted.source;
        if slot.source == AccessSource::Predicted {
            slot.report.first_prediction = slot.access.clone();
        }
        slot.prediction = p.prediction;
        slot.report.runs.extend(p.run);
        slot.status = Status::Known;
        while s.registered < self.txs.len() && s.slots[s.registered].status == Status::Known {
            let at = s.registered;
            s.registered += 1;
            self.register(s, at);
        }
    }

    fn register(&self, s: &mut Schedule, i: usize) {
        let Some(set) = s.slots[i].access.clone() else {
            s.slots[i].status = Status::Stray;
            s.strays.insert(i);
            return;
        };
        let coinbase = set.allows_read(&self.coinbase);
        let unwritten = set
            .marks()
            .iter()
            .all(|m| s.written.get(&m.hash).is_none_or(|&flags| flags & m.forbids == 0));
        for m in set.marks() {
            if m.sets & (WRITE | SLOT_WRITE) != 0 {
                *s.written.entry(m.hash).or_default() |= m.sets;
            }
        }
        let slot = &mut s.slots[i];
        slot.coinbase = coinbase;
        slot.report.reads_coinbase = coinbase;
        slot.may_stand = slot.prediction.is_some() && unwritten && (!coinbase || i == 0);
        slot.status = Status::Waiting;
        s.graph.insert(i, &set);
        self.check_ready(s, i);
    }

    /// Puts `i` in the ready set if its turn is open.
    fn check_ready(&self, s: &mut Schedule, i: usize) {
        let slot = &s.slots[i];
        if slot.status != Status::Waiting {
            return;
        }
        let Some(set) = &slot.access else { return };
        if (!slot.coinbase || s.lowest_unfinished == i) && s.graph.clear_before(i, set) {
            s.ready.insert(i);
        }
    }

    /// Runs `i` under `set`'s locks.
    fn execute(
        &self,
        worker: &mut E::Worker<'a>,
        i: usize,
        set: AccessSet,
        undoable: bool,
    ) -> Executed {
        let view = StateView::new(self.bank.state(), Access::Declared(set));
        let (result, view) = self.executor.execute(worker, &self.txs[i], view);
        if let Some(key) = view.violation() {
            return Executed::Strayed(key);
        }
        if let Err(TxError::AccessViolation(key)) = result {
            return Executed::Strayed(key);
        }
        self.apply(i, result, view.writes, undoable)
    }

    /// Applies a valid run's writes, keeping what undoes them when
    /// `undoable` (the lowest unfinished transaction is never undone: only
    /// an earlier one that leaves its set undoes a later one).
    fn apply(
        &self,
        i: usize,
        result: Result<Outcome, TxError>,
        writes: Writes,
        undoable: bool,
    ) -> Executed {
        let state = self.bank.state();
        if result.is_err() || !undoable {
            if result.is_ok() {
                self.bank.keep_accesses(self.txs[i].hash(), &writes);
                state.apply(writes);
            }
            return Executed::Finished(result, Writes::default());
        }
        match undo_of(state, &writes) {
            Ok(undo) => {
                self.bank.keep_accesses(self.txs[i].hash(), &writes);
                state.apply(writes);
                Executed::Finished(result, undo)
            }
            Err(e) => Executed::Finished(Err(e), Writes::default()),
        }
    }

    fn executed(&self, s: &mut Schedule, i: usize, executed: Executed, run: Run) {
        s.running -= 1;
        let strayed = matches!(executed, Executed::Strayed(_));
        let kind = if strayed { RunKind::Strayed } else { run.kind };
        s.slots[i].report.runs.push(Run { kind, ..run });
        match executed {
            Executed::Finished(Err(TxError::State(e)), _) => {
                s.error.get_or_insert(state_error(e));
            }
            Executed::Finished(result, undo) => self.finish(s, i, result, undo),
            Executed::Strayed(key) => {
                if let OrderedSets::Recorded(_) = self.sets {
                    s.error.get_or_insert(OrderedError::LeftItsSet { index: i, key });
                    return;
                }
                let slot = &mut s.slots[i];
                slot.status = Status::Stray;
                slot.report.strayed.get_or_insert(key);
                s.strays.insert(i);
            }
        }
    }

    /// Marks `i` finished and opens the turns it held.
    fn finish(&self, s: &mut Schedule, i: usize, result: Result<Outcome, TxError>, undo: Writes) {
        let seq = s.seq;
        s.seq += 1;
        let slot = &mut s.slots[i];
        slot.status = Status::Done;
        slot.finished = Some(Finished { result, undo, seq });
        if let Some(set) = slot.access.clone() {
            let mut candidates = Vec::new();
            s.graph.remove(i, &set, &mut candidates);
            for c in candidates {
                self.check_ready(s, c);
            }
        }
        self.advance(s);
    }

    /// Moves the lowest unfinished transaction on; a finished transaction it
    /// passes that was invalid makes the block invalid.
    fn advance(&self, s: &mut Schedule) {
        let n = self.txs.len();
        while s.lowest_unfinished < n && s.slots[s.lowest_unfinished].status == Status::Done {
            let i = s.lowest_unfinished;
            if let Some(Finished { result: Err(error), .. }) = &s.slots[i].finished {
                s.error.get_or_insert(OrderedError::Invalid { index: i, error: error.clone() });
                return;
            }
            s.lowest_unfinished += 1;
        }
        if s.lowest_unfinished < n {
            let lowest = s.lowest_unfinished;
            self.check_ready(s, lowest);
        }
    }

    /// Runs stray `i` alone: every earlier transaction has finished and
    /// nothing else runs. Replaying, with every key; otherwise noting what
    /// it touches, undoing finished later transactions that conflict with
    /// that (and running it again, since it may have read their writes).
    fn alone(&self, worker: &mut E::Worker<'a>, i: usize) {
        let tx = &self.txs[i];
        let mut undone = false;
        loop {
            let replay = matches!(self.sets, OrderedSets::Recorded(_));
            let access = if replay { Access::Exclusive } else { Access::Record };
            let start = Instant::now();
            let view = StateView::new(self.bank.state(), access);
            let (result, view) = self.executor.execute(worker, tx, view);
            let run = Run { kind: RunKind::Alone, time: start.elapsed() };
            let set = if replay {
                None
            } else {
                view.touched_set(self.config.max_keys).ok().filter(|s| !s.is_empty())
            };
            let mut s = self.schedule.lock();
            s.slots[i].report.runs.push(run);
            if !replay && self.undo_conflicting(&mut s, i, set.as_ref()) > 0 {
                undone = true;
                continue;
            }
            if result.is_ok() {
                self.bank.keep_accesses(tx.hash(), &view.writes);
                self.bank.state().apply(view.writes);
            }
            s.running -= 1;
            s.alone = false;
            if let Err(TxError::State(e)) = result {
                s.error.get_or_insert(state_error(e));
                return;
            }
            let old = std::mem::replace(&mut s.slots[i].access, set.clone());
            if !replay {
                s.slots[i].source =
                    if set.is_some() { AccessSource::Predicted } else { AccessSource::Undeclared };
            }
            let mut candidates = Vec::new();
            if let Some(old) = old {
                s.graph.remove(i, &old, &mut candidates);
            }
            s.slots[i].access = None; // not in the graph any more
            self.finish(&mut s, i, result, Writes::default());
            s.slots[i].access = set.clone();
            let candidates = if undone { Vec::new() } else { candidates };
            self.after_alone(&mut s, i, set.as_ref(), candidates, undone);
            return;
        }
    }

    /// Undoes every finished transaction after `i` whose set conflicts with
    /// `set` (`None`: every one), and those after it that conflict with an
    /// undone one, latest first; they wait again. Returns how many.
    fn undo_conflicting(&self, s: &mut Schedule, i: usize, set: Option<&AccessSet>) -> usize {
        let mut keys = EntryKeys::default();
        if let Some(set) = set {
            keys.add(set);
        }
        let mut undone = Vec::new();
        for k in i + 1..s.registered {
            if s.slots[k].status != Status::Done {
                continue;
            }
            let Some(sk) = s.slots[k].access.as_ref() else { continue };
            if set.is_none() || keys.conflicts(sk) {
                keys.add(sk);
                undone.push(k);
            }
        }
        if undone.is_empty() {
            return 0;
        }
        // Turns judged open may close again: every waiting one is checked
        // anew once `i` is done (`after_alone`).
        s.ready.clear();
        undone.sort_by_key(|&k| std::cmp::Reverse(s.slots[k].finished.as_ref().map(|f| f.seq)));
        for &k in &undone {
            let slot = &mut s.slots[k];
            if let Some(finished) = slot.finished.take() {
                self.bank.state().apply(finished.undo);
            }
            slot.status = Status::Waiting;
            slot.must_run = true;
            slot.report.undone += 1;
            slot.report.stood = false;
            let set = slot.access.clone().expect("a finished later transaction has a set");
            s.graph.insert(k, &set);
        }
        undone.len()
    }

    /// After stray `i` finished with `set`: later transactions whose sets
    /// it conflicts with no longer stand on their predictions; the turns it
    /// held (`candidates`), or after an undo every waiting transaction's
    /// (`recheck_all`: the undo cleared the ready set), are checked again.
    fn after_alone(
        &self,
        s: &mut Schedule,
        i: usize,
        set: Option<&AccessSet>,
        candidates: Vec<usize>,
        recheck_all: bool,
    ) {
        let mut keys = EntryKeys::default();
        if let Some(set) = set {
            keys.add(set);
            for m in set.marks() {
                if m.sets & (WRITE | SLOT_WRITE) != 0 {
                    *s.written.entry(m.hash).or_default() |= m.sets;
                }
            }
        }
        for k in i + 1..s.registered {
            let slot = &mut s.slots[k];
            if slot.status != Status::Waiting || slot.must_run {
                continue;
            }
            if slot.access.as_ref().is_none_or(|sk| set.is_none() || keys.conflicts(sk)) {
                slot.must_run = true;
            }
        }
        if recheck_all {
            for k in i + 1..s.registered {
                self.check_ready(s, k);
            }
        }
        for k in candidates {
            self.check_ready(s, k);
        }
    }
}
