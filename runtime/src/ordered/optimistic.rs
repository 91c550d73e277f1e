//! [`OrderedSets::Run`]: an ordered block whose sets are found by running
//! it, one run per transaction where the block allows it.
//!
//! Workers take the transactions in block order and run each on the state
//! as far as the block has come (the writes of the transactions committed
//! so far), logging every value it reads ([`ReadLog`]). Commits go in block
//! order, one at a time, on whichever worker finds the lowest uncommitted
//! transaction finished: its run stands if every value it read still holds
//! (validation by value: a value written back unchanged, or changed and
//! changed back, does not undo it); otherwise it runs again right there, on
//! exactly the state every earlier transaction left. Its writes are then
//! applied, and its set is what the standing run read and wrote.
//!
//! ```text
//!   workers: run i (state so far, values logged) ──> finished runs
//!                                                         │ lowest first
//!   one committer at a time: every value i read still holds? ── yes ──┐
//!                            └── no: run i again (state exact now) ───┤
//!                                                apply i's writes <───┘
//! ```
//!
//! What a transaction is known to write ([`Transaction::known_writes`]: an
//! EVM sender's nonce) orders it without a wasted run: it starts only once
//! the latest earlier transaction that writes one of those keys has
//! committed, so a sender's chain of transactions runs one after another
//! while other workers take other transactions. One that knows it writes
//! the coinbase waits for every earlier transaction (their fees).
//!
//! Fees are credited to the coinbase at the seal; a run reads the coinbase
//! with the fees of every committed transaction added
//! ([`StateView::with_credit`]), and a transaction that read it has those
//! fees credited before its writes are applied.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, U256};
use lanes_accounts_db::KeyHash;
use parking_lot::{Condvar, Mutex};

use super::{OrderedConfig, OrderedError, OrderedReport, Run, RunKind, TxReport, record_in_order};
use crate::access::AccessSet;
use crate::admission::AccessSource;
use crate::bank::{Bank, BankError};
use crate::executor::{Executor, KnownWrites, Outcome, Transaction, TxError};
use crate::key::StateKey;
use crate::view::{Access, BankState, ReadLog, StateView, Writes};

/// A committed transaction's set and outcome.
type Done = (Option<AccessSet>, Outcome);

/// A finished run of a transaction.
struct Ran {
    result: Result<Outcome, TxError>,
    writes: Writes,
    log: ReadLog,
    /// Accounts its writes only credited ([`StateView::note_credit`]).
    credits: Vec<Address>,
    set: Option<AccessSet>,
    /// Transactions committed when it started: all earlier ones when it
    /// equals the transaction's index, so that, reading nothing from an
    /// earlier run, it ran on exactly its state.
    base: usize,
    /// A bit per key hash it read, of 256: which commits may touch it.
    filter: [u64; 4],
    /// Whether it is the transaction's first run.
    first: bool,
}

/// A key hash's bit in a run's filter ([`Ran::filter`]).
fn filter_bit(hash: KeyHash) -> (usize, u64) {
    let bit = (hash.raw() >> 56) as usize;
    (bit / 64, 1 << (bit % 64))
}

/// What a worker does next.
enum Task {
    /// A run of the transaction (its first, or again where one it read
    /// changed: `again`), with the transactions committed and the
    /// coinbase's uncredited fees at its start.
    Run {
        i: usize,
        base: usize,
        credit: U256,
        again: bool,
        /// What its predecessor's run wrote, which it reads first.
        over: Option<Box<Writes>>,
        /// What an earlier run of it read, when it runs again.
        prior: Option<Box<ReadLog>>,
    },
    /// Commit the lowest uncommitted transaction, whose run finished, with
    /// the fees not yet credited to the coinbase.
    Commit(usize, Box<Ran>, U256),
}

enum Next {
    Task(Task),
    Wait,
    Stop,
}

struct Schedule {
    /// Finished runs not yet committed.
    ran: Vec<Option<Box<Ran>>>,
    reports: Vec<TxReport>,
    /// Each committed transaction's set and outcome.
    done: Vec<Option<Done>>,
    /// The next transaction in order not yet taken for a first run.
    next: usize,
    /// Transactions whose wait was not over when their turn came, by the
    /// one they wait for.
    parked: BTreeMap<usize, Vec<usize>>,
    /// Parked transactions whose wait is over, each with the run it reads
    /// before the state (`None`: the one it waited for had committed).
    ready: BTreeMap<usize, Option<Box<Writes>>>,
    /// Finished runs found to have read a value a commit changed, with what
    /// they read: they run again before their turn, on the state then.
    stale: BTreeMap<usize, Box<ReadLog>>,
    /// Transactions `..committed` are committed.
    committed: usize,
    /// A worker is committing.
    committing: bool,
    /// Fees of committed transactions not yet credited to the coinbase.
    uncredited: U256,
    error: Option<OrderedError>,
}

struct Shared<'a, E: Executor> {
    bank: &'a Bank,
    executor: &'a E,
    txs: &'a [E::Tx],
    config: &'a OrderedConfig,
    coinbase: Address,
    /// For each transaction, what it waits for before it starts ([`waits`]).
    waits: Vec<Option<Wait>>,
    schedule: Mutex<Schedule>,
    wake: Condvar,
}

/// What a transaction waits for before its first run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Wait {
    /// The earlier transaction.
    after: usize,
    /// Whether it waits for that one's commit, not just its run: a
    /// transaction whose sequence key is the coinbase needs every earlier
    /// fee.
    commit: bool,
}

/// For each transaction, the one it waits for: the latest earlier one known
/// to write its sequence key ([`KnownWrites`]), whose run it then reads
/// before the state; or, where that key is the coinbase's account, the one
/// just before it, committed (it needs every earlier fee). A credit waits
/// for nothing.
fn waits<T: Transaction>(txs: &[T], coinbase: &StateKey) -> Vec<Option<Wait>> {
    let mut last: HashMap<StateKey, usize, ahash::RandomState> = HashMap::default();
    let mut waits = Vec::with_capacity(txs.len());
    for (i, tx) in txs.iter().enumerate() {
        let KnownWrites { sequence, credit } = tx.known_writes();
        waits.push(sequence.and_then(|key| match key == *coinbase {
            true => i.checked_sub(1).map(|after| Wait { after, commit: true }),
            false => last.get(&key).map(|&after| Wait { after, commit: false }),
        }));
        for key in sequence.into_iter().chain(credit) {
            last.insert(key, i);
        }
    }
    waits
}

pub(super) fn run<E: Executor>(
    bank: &Bank,
    executor: &E,
    txs: &[E::Tx],
    config: &OrderedConfig,
) -> Result<OrderedReport, OrderedError> {
    let start = Instant::now();
    let n = txs.len();
    let coinbase = bank.env().coinbase;
    let waits = waits(txs, &StateKey::Account(coinbase));
    let threads = threads_for(config.threads, &waits);
    let waited = waits.iter().map(|w| w.map(|w| w.after));
    let (reports, done) = match threads {
        1 => in_order(bank, executor, txs, config, waited.collect())?,
        _ => {
            let reports = waited.map(|waited_for| TxReport { waited_for, ..TxReport::default() });
            let shared = Shared {
                bank,
                executor,
                txs,
                config,
                coinbase,
                schedule: Mutex::new(Schedule {
                    ran: (0..n).map(|_| None).collect(),
                    reports: reports.collect(),
                    done: vec![None; n],
                    next: 0,
                    parked: BTreeMap::new(),
                    ready: BTreeMap::new(),
                    stale: BTreeMap::new(),
                    committed: 0,
                    committing: false,
                    uncredited: U256::ZERO,
                    error: None,
                }),
                wake: Condvar::new(),
                waits,
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
            let done = schedule.done.into_iter().map(|d| d.expect("every transaction committed"));
            (schedule.reports, done.collect())
        }
    };
    let limit = bank.env().gas_limit;
    let mut used = 0u64;
    let mut runs = Vec::with_capacity(n);
    for (index, (set, outcome)) in done.into_iter().enumerate() {
        if used.saturating_add(outcome.gas_used) > limit {
            let error = TxError::BlockFull { used: outcome.gas_used, left: limit - used };
            return Err(OrderedError::Invalid { index, error });
        }
        used += outcome.gas_used;
        let source = if set.is_some() { AccessSource::Predicted } else { AccessSource::Undeclared };
        runs.push((set, source, outcome));
    }
    let mut reports = reports;
    for (report, (set, source, _)) in reports.iter_mut().zip(&runs) {
        report.access = set.clone();
        report.source = *source;
    }
    record_in_order(bank, txs, runs);
    Ok(OrderedReport {
        txs: reports,
        threads,
        elapsed: start.elapsed(),
        independent: false,
        serial: Duration::ZERO,
    })
}

/// The threads worth running a block on: one where most of its
/// transactions wait for the one before them in a single chain (a pool's
/// payouts, one sender's sweep), which would run one after another anyway.
fn threads_for(threads: usize, waits: &[Option<Wait>]) -> usize {
    let mut depth = vec![0u32; waits.len()];
    let mut longest = 0;
    for (i, wait) in waits.iter().enumerate() {
        depth[i] = wait.map_or(1, |w| depth[w.after] + 1);
        longest = longest.max(depth[i] as usize);
    }
    match longest * 4 >= waits.len() * 3 {
        true => 1,
        false => threads.clamp(1, waits.len().max(1)),
    }
}

/// The block on the calling thread, one transaction after another: each
/// runs once, on exactly the state it must see.
fn in_order<E: Executor>(
    bank: &Bank,
    executor: &E,
    txs: &[E::Tx],
    config: &OrderedConfig,
    waits: Vec<Option<usize>>,
) -> Result<(Vec<TxReport>, Vec<Done>), OrderedError> {
    let coinbase = bank.env().coinbase;
    let mut worker = executor.worker(bank.env());
    let mut uncredited = U256::ZERO;
    let mut reports = Vec::with_capacity(txs.len());
    let mut done = Vec::with_capacity(txs.len());
    for ((index, tx), waited_for) in txs.iter().enumerate().zip(waits) {
        let started = Instant::now();
        let view = StateView::new(bank.state(), Access::Logged).with_credit(coinbase, uncredited);
        let (result, view) = executor.execute(&mut worker, tx, view);
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(TxError::State(e)) => return Err(state_error(e)),
            Err(error) => return Err(OrderedError::Invalid { index, error }),
        };
        let set = view.logged_set(config.max_keys).ok().filter(|s| !s.is_empty());
        let ran = started.elapsed();
        let reads_coinbase = view.log.read_account(&coinbase);
        uncredited = credit_if_read(bank, tx.hash(), reads_coinbase, uncredited)?;
        let credited = view.credits;
        bank.keep(tx.hash(), view.writes);
        uncredited = uncredited.saturating_add(outcome.fee);
        let runs = vec![
            Run { kind: RunKind::Run, time: ran },
            Run { kind: RunKind::Commit, time: started.elapsed().saturating_sub(ran) },
        ];
        let first_prediction = set.clone();
        reports.push(TxReport {
            runs,
            stood: true,
            reads_coinbase,
            first_prediction,
            waited_for,
            credited,
            ..TxReport::default()
        });
        done.push((set, outcome));
    }
    Ok((reports, done))
}

/// Before a transaction that read the coinbase has its writes applied, the
/// fees not yet credited (`uncredited`) go to the coinbase, as it saw them.
/// Answers the fees still not credited.
fn credit_if_read(
    bank: &Bank,
    tx: B256,
    reads_coinbase: bool,
    uncredited: U256,
) -> Result<U256, OrderedError> {
    if !reads_coinbase {
        return Ok(uncredited);
    }
    bank.credit_coinbase(uncredited, tx)?;
    Ok(U256::ZERO)
}

fn state_error(e: String) -> OrderedError {
    OrderedError::Bank(BankError::State(e))
}

fn tx_state_error(e: TxError) -> OrderedError {
    state_error(e.to_string())
}

/// The first key `ran` read whose value no longer holds in `state`, with
/// `uncredited` fees added to the `coinbase`'s balance; `None` when every
/// one holds (validation by value: a key written back unchanged, or changed
/// and changed back, holds). Of an account it only credited, only the
/// nonce and code must hold. A key whose bit in the bank's written-key
/// filter is clear was never written in this block: it holds the parent's
/// value, which is what the run read, unless the run read it from an
/// earlier run. Before the transaction's turn (`turn` false) a key read
/// from an earlier run is not checked: that run may not have committed.
fn changed(
    state: &BankState,
    coinbase: Address,
    ran: &Ran,
    uncredited: U256,
    turn: bool,
) -> Result<Option<StateKey>, OrderedError> {
    let from_run = |hash: &KeyHash| ran.log.over.contains(hash);
    let skip = |hash: &KeyHash| match from_run(hash) {
        true => !turn,
        false => !state.maybe_written(*hash),
    };
    for (hash, address, header) in &ran.log.accounts {
        let is_coinbase = *address == coinbase;
        if !is_coinbase && skip(hash) {
            continue;
        }
        let mut now = state.account(address, *hash).map_err(tx_state_error)?;
        if is_coinbase {
            now.balance = now.balance.saturating_add(uncredited);
        }
        if ran.credits.contains(address) {
            now.balance = header.balance;
        }
        if now != *header {
            return Ok(Some(StateKey::Account(*address)));
        }
    }
    for (hash, address, slot, value) in &ran.log.slots {
        if !skip(hash) && state.storage(address, slot, *hash).map_err(tx_state_error)? != *value {
            return Ok(Some(StateKey::Storage(*address, *slot)));
        }
    }
    Ok(None)
}

/// Sets an error for the other workers when a worker unwinds from a panic.
struct PanicGuard<'s>(&'s Mutex<Schedule>, &'s Condvar);

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut s = self.0.lock();
            s.error.get_or_insert(state_error("a worker running the block panicked".into()));
            self.1.notify_all();
        }
    }
}

impl<'a, E: Executor> Shared<'a, E> {
    fn work(&self) {
        let _guard = PanicGuard(&self.schedule, &self.wake);
        let mut worker = self.executor.worker(self.bank.env());
        let mut s = self.schedule.lock();
        loop {
            let task = match self.next(&mut s) {
                Next::Task(task) => task,
                Next::Wait => {
                    self.wake.wait(&mut s);
                    continue;
                }
                Next::Stop => return,
            };
            drop(s);
            s = match task {
                Task::Run { i, base, credit, again, over, prior } => {
                    self.run_task(&mut worker, i, (base, credit), again, over, prior)
                }
                Task::Commit(i, ran, uncredited) => {
                    let committed = self.commit(&mut worker, i, *ran, uncredited);
                    let mut s = self.schedule.lock();
                    s.committing = false;
                    match committed {
                        Ok(c) => {
                            let report = &mut s.reports[i];
                            report.runs.extend(c.runs);
                            report.stood = c.stood;
                            report.reads_coinbase = c.reads_coinbase;
                            report.changed = report.changed.or(c.changed);
                            report.credited = c.credited;
                            s.uncredited = if c.reads_coinbase { U256::ZERO } else { uncredited }
                                .saturating_add(c.outcome.fee);
                            s.done[i] = Some((c.set, c.outcome));
                            s.committed = i + 1;
                            self.mark_stale(&mut s, &c.written);
                        }
                        Err(e) => {
                            s.error.get_or_insert(e);
                        }
                    }
                    s
                }
            };
            self.wake.notify_all();
        }
    }

    /// Runs `i` and files the run, schedule locked. Where something
    /// committed while it ran, what it read is checked at once, and a run
    /// that read a value since changed runs again right away (twice at
    /// most; its commit checks it again in any case).
    fn run_task(
        &self,
        worker: &mut E::Worker<'a>,
        i: usize,
        (mut base, mut credit): (usize, U256),
        mut again: bool,
        mut over: Option<Box<Writes>>,
        mut prior: Option<Box<ReadLog>>,
    ) -> parking_lot::MutexGuard<'_, Schedule> {
        let mut tries = 0;
        loop {
            let started = Instant::now();
            let ran = self.run(worker, i, base, credit, over.take(), prior.take());
            let kind = if again { RunKind::Rerun } else { RunKind::Run };
            let run = Run { kind, time: started.elapsed() };
            let mut s = self.schedule.lock();
            s.reports[i].runs.push(run);
            if !again {
                s.reports[i].first_prediction = ran.set.clone();
            }
            let (committed, uncredited) = (s.committed, s.uncredited);
            if committed > base && tries < 2 && s.error.is_none() {
                drop(s);
                // A state error here shows again at the commit, which
                // stops the block.
                let changed = match &ran.result {
                    Ok(_) => changed(self.bank.state(), self.coinbase, &ran, uncredited, false)
                        .unwrap_or(None),
                    Err(_) => None,
                };
                if changed.is_some() || ran.result.is_err() {
                    let mut s = self.schedule.lock();
                    s.reports[i].changed = s.reports[i].changed.or(changed);
                    drop(s);
                    (base, credit, again) = (committed, uncredited, true);
                    prior = Some(Box::new(ran.log));
                    tries += 1;
                    continue;
                }
                s = self.schedule.lock();
            }
            // Transactions waiting for this run (not its commit) read what
            // it wrote.
            if ran.result.is_ok()
                && let Some(waiting) = s.parked.remove(&i)
            {
                let (commit, run): (Vec<usize>, Vec<usize>) =
                    waiting.into_iter().partition(|&k| self.waits[k].is_some_and(|w| w.commit));
                for k in run {
                    s.ready.insert(k, Some(Box::new(ran.writes.values())));
                }
                if !commit.is_empty() {
                    s.parked.insert(i, commit);
                }
            }
            s.ran[i] = Some(Box::new(Ran { first: !again && tries == 0, ..ran }));
            return s;
        }
    }

    /// After a commit that wrote `written`: finished runs of later
    /// transactions that read one of those keys with another value, having
    /// started before the commit, are stale; they run again before their
    /// turn.
    fn mark_stale(&self, s: &mut Schedule, written: &Writes) {
        let committed = s.committed;
        for i in committed..s.next {
            let Some(ran) = &s.ran[i] else { continue };
            if ran.base >= committed || !self.reads_changed(ran, written) {
                continue;
            }
            let stale = s.ran[i].take().expect("checked above");
            s.stale.insert(i, Box::new(stale.log));
        }
    }

    /// Whether `ran` read a key `written` gives another value (the
    /// coinbase, and keys it read from an earlier run, left to its commit;
    /// an account it only credited compared by nonce and code).
    fn reads_changed(&self, ran: &Ran, written: &Writes) -> bool {
        let hit = |hash: &KeyHash| {
            let (word, bit) = filter_bit(*hash);
            ran.filter[word] & bit != 0 && !ran.log.over.contains(hash)
        };
        let accounts = written.accounts.iter().filter(|(h, a, _)| hit(h) && *a != self.coinbase);
        for (_, address, header) in accounts {
            let Some((_, _, read)) = ran.log.accounts.iter().find(|(_, a, _)| a == address) else {
                continue;
            };
            let mut now = *header;
            if ran.credits.contains(address) {
                now.balance = read.balance;
            }
            if now != *read {
                return true;
            }
        }
        written.slots.iter().filter(|(h, ..)| hit(h)).any(|(_, address, slot, value)| {
            let read = ran.log.slots.iter().find(|(_, a, s, _)| a == address && s == slot);
            read.is_some_and(|(_, _, _, v)| v != value)
        })
    }

    /// The next task, or why there is none. A finished lowest transaction
    /// is committed first; then the lowest stale run runs again; then the
    /// lowest transaction free to start runs.
    fn next(&self, s: &mut Schedule) -> Next {
        let n = self.txs.len();
        if s.error.is_some() || s.committed >= n {
            return Next::Stop;
        }
        if !s.committing
            && let Some(ran) = s.ran[s.committed].take()
        {
            s.committing = true;
            return Next::Task(Task::Commit(s.committed, ran, s.uncredited));
        }
        let (base, credit) = (s.committed, s.uncredited);
        if let Some((i, prior)) = s.stale.pop_first() {
            let (over, prior) = (None, Some(prior));
            return Next::Task(Task::Run { i, base, credit, again: true, over, prior });
        }
        while let Some(entry) = s.parked.first_entry()
            && *entry.key() < s.committed
        {
            for i in entry.remove() {
                s.ready.insert(i, None);
            }
        }
        // Parked transactions are all below `next`: the lowest goes first.
        if let Some((i, over)) = s.ready.pop_first() {
            // Once the one it waited for has committed, the state has it.
            let over = over.filter(|_| self.waits[i].is_some_and(|w| w.after >= s.committed));
            return Next::Task(Task::Run { i, base, credit, again: false, over, prior: None });
        }
        loop {
            if s.next >= n {
                return Next::Wait;
            }
            let i = s.next;
            s.next += 1;
            let over = match self.waits[i] {
                None => None,
                Some(w) if w.after < s.committed => None,
                // Its predecessor's run is done: it reads what that wrote.
                Some(w)
                    if !w.commit && s.ran[w.after].as_ref().is_some_and(|r| r.result.is_ok()) =>
                {
                    s.ran[w.after].as_ref().map(|r| Box::new(r.writes.values()))
                }
                Some(w) => {
                    s.parked.entry(w.after).or_default().push(i);
                    continue;
                }
            };
            return Next::Task(Task::Run { i, base, credit, again: false, over, prior: None });
        }
    }

    /// Runs transaction `i` on the state as far as the block has come,
    /// logging what it reads; builds its set when it ran valid.
    fn run(
        &self,
        worker: &mut E::Worker<'a>,
        i: usize,
        base: usize,
        credit: U256,
        over: Option<Box<Writes>>,
        prior: Option<Box<ReadLog>>,
    ) -> Ran {
        let view =
            StateView::new(self.bank.state(), Access::Logged).with_credit(self.coinbase, credit);
        let view = match over {
            Some(over) => view.over(*over),
            None => view,
        };
        let view = match prior {
            Some(prior) => view.prior(*prior),
            None => view,
        };
        let (result, view) = self.executor.execute(worker, &self.txs[i], view);
        let set = match &result {
            Ok(_) => view.logged_set(self.config.max_keys).ok().filter(|s| !s.is_empty()),
            Err(_) => None,
        };
        let mut filter = [0u64; 4];
        let hashes = view.log.accounts.iter().map(|r| r.0);
        for hash in hashes.chain(view.log.slots.iter().map(|r| r.0)) {
            let (word, bit) = filter_bit(hash);
            filter[word] |= bit;
        }
        let (writes, log, credits) = (view.writes, view.log, view.credits);
        Ran { result, set, writes, log, credits, base, filter, first: true }
    }

    /// Adds what a run wrote to each account it only `credits` to the
    /// balance there now, where that changed since it read the balance.
    fn rebase_credits(
        &self,
        log: &ReadLog,
        credits: &[Address],
        writes: &mut Writes,
    ) -> Result<(), OrderedError> {
        let state: &BankState = self.bank.state();
        for address in credits {
            let Some((hash, _, read)) = log.accounts.iter().find(|(_, a, _)| a == address) else {
                continue;
            };
            let now = state.account(address, *hash).map_err(tx_state_error)?;
            if now.balance == read.balance {
                continue;
            }
            for (_, _, header) in writes.accounts.iter_mut().filter(|(_, a, _)| a == address) {
                let credit = header.balance.saturating_sub(read.balance);
                header.balance = now.balance.saturating_add(credit);
            }
        }
        Ok(())
    }

    /// Commits transaction `i`, the lowest uncommitted one: its run stands
    /// if what it read still holds, else it runs again on the state now
    /// (exactly what it must see); then its writes are applied.
    fn commit(
        &self,
        worker: &mut E::Worker<'a>,
        i: usize,
        ran: Ran,
        uncredited: U256,
    ) -> Result<Committed, OrderedError> {
        let started = Instant::now();
        let first_run = ran.first;
        // A run that started once every earlier transaction had committed,
        // reading nothing from an earlier run, saw exactly its state.
        let exact = ran.base == i && ran.log.over.is_empty();
        let changed = match exact {
            true => None,
            false => changed(self.bank.state(), self.coinbase, &ran, uncredited, true)?,
        };
        let stands = ran.result.is_ok() && changed.is_none();
        let mut runs = Vec::with_capacity(2);
        let ran = if stands {
            ran
        } else {
            let again = Instant::now();
            let ran = self.run(worker, i, i, uncredited, None, Some(Box::new(ran.log)));
            runs.push(Run { kind: RunKind::Rerun, time: again.elapsed() });
            ran
        };
        let Ran { result, mut writes, log, credits, set, .. } = ran;
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(TxError::State(e)) => return Err(state_error(e)),
            Err(error) => return Err(OrderedError::Invalid { index: i, error }),
        };
        let hash = self.txs[i].hash();
        let reads_coinbase = log.read_account(&self.coinbase);
        credit_if_read(self.bank, hash, reads_coinbase, uncredited)?;
        if stands && !exact {
            self.rebase_credits(&log, &credits, &mut writes)?;
        }
        let written = writes.values();
        self.bank.keep(hash, writes);
        let credited = credits;
        let time = started.elapsed().saturating_sub(runs.iter().map(|r| r.time).sum());
        runs.insert(0, Run { kind: RunKind::Commit, time });
        Ok(Committed {
            outcome,
            set,
            stood: stands && first_run,
            reads_coinbase,
            changed,
            credited,
            written,
            runs,
        })
    }
}

/// What committing a transaction came to.
struct Committed {
    outcome: Outcome,
    set: Option<AccessSet>,
    stood: bool,
    reads_coinbase: bool,
    changed: Option<StateKey>,
    credited: Vec<Address>,
    /// The accounts and slots it wrote, as applied.
    written: Writes,
    runs: Vec<Run>,
}

#[cfg(test)]
mod tests {
    use alloy_primitives::B256;
    use lanes_accounts_db::{AccountsDbConfig, Entry};

    use super::*;
    use crate::chain::{Chain, Genesis};

    /// A run that read slot `slot` of `contract` as `value`.
    fn read(contract: Address, slot: B256, value: U256) -> Ran {
        let hash = StateKey::Storage(contract, slot).hash64();
        let log = ReadLog { slots: vec![(hash, contract, slot, value)], ..ReadLog::default() };
        Ran {
            result: Ok(Outcome::default()),
            writes: Writes::default(),
            log,
            credits: Vec::new(),
            set: None,
            base: 0,
            filter: [0; 4],
            first: true,
        }
    }

    #[test]
    fn test_a_read_holds_by_value_not_by_whether_it_was_written() {
        let (contract, slot) = (Address::repeat_byte(0xc0), B256::with_last_byte(1));
        let key = StateKey::Storage(contract, slot);
        let alloc = vec![Entry::Storage(contract, slot, U256::from(2))];
        let dir = tempfile::tempdir().unwrap();
        let genesis = Genesis { alloc, ..Default::default() };
        let chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis).unwrap();
        let bank = chain.new_bank(1, Address::ZERO);
        let set = |value: u64| {
            let slots = vec![(key.hash64(), contract, slot, U256::from(value))];
            bank.state().apply(&Writes { slots, ..Writes::default() });
        };
        let ran = read(contract, slot, U256::from(2));
        let holds = || changed(bank.state(), Address::ZERO, &ran, U256::ZERO, true).unwrap();
        assert_eq!(holds(), None, "never written");
        set(2);
        assert_eq!(holds(), None, "written back unchanged");
        set(5);
        assert_eq!(holds(), Some(key), "changed");
        set(2);
        assert_eq!(holds(), None, "changed and changed back");
        set(0);
        assert_eq!(holds(), Some(key), "deleted");
        let deleted = read(contract, slot, U256::ZERO);
        assert_eq!(changed(bank.state(), Address::ZERO, &deleted, U256::ZERO, true).unwrap(), None);
    }

    #[test]
    fn test_a_run_again_reads_unwritten_keys_from_what_it_read_before() {
        let (contract, slot) = (Address::repeat_byte(0xc0), B256::with_last_byte(1));
        let other = B256::with_last_byte(2);
        let alloc = vec![
            Entry::Storage(contract, slot, U256::from(2)),
            Entry::Storage(contract, other, U256::from(3)),
        ];
        let dir = tempfile::tempdir().unwrap();
        let genesis = Genesis { alloc, ..Default::default() };
        let chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis).unwrap();
        let bank = chain.new_bank(1, Address::ZERO);
        // What the first run read, marked so the test sees where a read
        // comes from (a real log holds the state's values).
        let mut prior = read(contract, slot, U256::from(20)).log;
        prior.slots.extend(read(contract, other, U256::from(30)).log.slots);
        let written = StateKey::Storage(contract, other).hash64();
        let slots = vec![(written, contract, other, U256::from(4))];
        bank.state().apply(&Writes { slots, ..Writes::default() });
        let mut view = StateView::new(bank.state(), Access::Logged).prior(prior);
        assert_eq!(view.storage(&contract, &slot).unwrap(), U256::from(20), "from the first run");
        assert_eq!(view.storage(&contract, &other).unwrap(), U256::from(4), "written since");
    }
}
