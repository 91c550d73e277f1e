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

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, U256};
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
    /// equals the transaction's index, so it ran on exactly its state.
    base: usize,
}

/// What a worker does next.
enum Task {
    /// A first run of the transaction, with the transactions committed and
    /// the coinbase's uncredited fees at its start.
    Run(usize, usize, U256),
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
    /// Transactions whose known writes an earlier one had not committed
    /// when their turn came: (the one they wait for, themselves).
    parked: BinaryHeap<Reverse<(usize, usize)>>,
    /// Parked transactions whose wait is over.
    ready: BTreeSet<usize>,
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
    /// For each transaction, the one it waits for before it starts
    /// ([`waits`]).
    waits: Vec<Option<usize>>,
    schedule: Mutex<Schedule>,
    wake: Condvar,
}

/// For each transaction, the one it waits for: the latest earlier one known
/// to write its sequence key ([`KnownWrites`]), or, where that key is the
/// coinbase's account, the one just before it (it needs every earlier fee).
/// A credit waits for nothing.
fn waits<T: Transaction>(txs: &[T], coinbase: &StateKey) -> Vec<Option<usize>> {
    let mut last: HashMap<StateKey, usize, ahash::RandomState> = HashMap::default();
    let mut waits = Vec::with_capacity(txs.len());
    for (i, tx) in txs.iter().enumerate() {
        let KnownWrites { sequence, credit } = tx.known_writes();
        waits.push(sequence.and_then(|key| match key == *coinbase {
            true => i.checked_sub(1),
            false => last.get(&key).copied(),
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
    let (reports, done) = match threads {
        1 => in_order(bank, executor, txs, config, waits)?,
        _ => {
            let reports =
                waits.iter().map(|&waited_for| TxReport { waited_for, ..TxReport::default() });
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
                    parked: BinaryHeap::new(),
                    ready: BTreeSet::new(),
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
fn threads_for(threads: usize, waits: &[Option<usize>]) -> usize {
    let mut depth = vec![0u32; waits.len()];
    let mut longest = 0;
    for (i, wait) in waits.iter().enumerate() {
        depth[i] = wait.map_or(1, |j| depth[j] + 1);
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
            match task {
                Task::Run(i, base, credit) => {
                    let started = Instant::now();
                    let ran = self.run(&mut worker, i, base, credit);
                    let run = Run { kind: RunKind::Run, time: started.elapsed() };
                    s = self.schedule.lock();
                    s.reports[i].runs.push(run);
                    s.ran[i] = Some(Box::new(ran));
                }
                Task::Commit(i, ran, uncredited) => {
                    let committed = self.commit(&mut worker, i, *ran, uncredited);
                    s = self.schedule.lock();
                    s.committing = false;
                    match committed {
                        Ok(c) => {
                            s.reports[i].runs.extend(c.runs);
                            s.reports[i].stood = c.stood;
                            s.reports[i].reads_coinbase = c.reads_coinbase;
                            s.reports[i].first_prediction = c.first;
                            s.reports[i].changed = c.changed;
                            s.reports[i].credited = c.credited;
                            s.uncredited = if c.reads_coinbase { U256::ZERO } else { uncredited }
                                .saturating_add(c.outcome.fee);
                            s.done[i] = Some((c.set, c.outcome));
                            s.committed = i + 1;
                        }
                        Err(e) => {
                            s.error.get_or_insert(e);
                        }
                    }
                }
            }
            self.wake.notify_all();
        }
    }

    /// The next task, or why there is none. A finished lowest transaction
    /// is committed first; then the lowest transaction free to start.
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
        while let Some(&Reverse((after, i))) = s.parked.peek() {
            if after >= s.committed {
                break;
            }
            s.parked.pop();
            s.ready.insert(i);
        }
        // Parked transactions are all below `next`: the lowest goes first.
        if let Some(i) = s.ready.pop_first() {
            return Next::Task(Task::Run(i, s.committed, s.uncredited));
        }
        loop {
            if s.next >= n {
                return Next::Wait;
            }
            let i = s.next;
            s.next += 1;
            match self.waits[i] {
                Some(after) if after >= s.committed => s.parked.push(Reverse((after, i))),
                _ => return Next::Task(Task::Run(i, s.committed, s.uncredited)),
            }
        }
    }

    /// Runs transaction `i` on the state as far as the block has come,
    /// logging what it reads; builds its set when it ran valid.
    fn run(&self, worker: &mut E::Worker<'a>, i: usize, base: usize, credit: U256) -> Ran {
        let view =
            StateView::new(self.bank.state(), Access::Logged).with_credit(self.coinbase, credit);
        let (result, view) = self.executor.execute(worker, &self.txs[i], view);
        let set = match &result {
            Ok(_) => view.logged_set(self.config.max_keys).ok().filter(|s| !s.is_empty()),
            Err(_) => None,
        };
        Ran { result, set, writes: view.writes, log: view.log, credits: view.credits, base }
    }

    /// The first key `ran` read whose value no longer holds, with
    /// `uncredited` fees added to the coinbase's balance; `None` when every
    /// one holds. Of an account it only credited, only the nonce and code
    /// must hold. A key whose bit in the bank's written-key filter is clear
    /// was never written in this block: it holds the parent's value, which
    /// is what the run read.
    fn changed(&self, ran: &Ran, uncredited: U256) -> Result<Option<StateKey>, OrderedError> {
        let state: &BankState = self.bank.state();
        for (hash, address, header) in &ran.log.accounts {
            let coinbase = *address == self.coinbase;
            if !coinbase && !state.maybe_written(*hash) {
                continue;
            }
            let mut now = state.account(address, *hash).map_err(tx_state_error)?;
            if coinbase {
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
            if state.maybe_written(*hash)
                && state.storage(address, slot, *hash).map_err(tx_state_error)? != *value
            {
                return Ok(Some(StateKey::Storage(*address, *slot)));
            }
        }
        Ok(None)
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
        let first = ran.set.clone();
        let changed = match ran.base == i {
            true => None,
            false => self.changed(&ran, uncredited)?,
        };
        let stands = ran.result.is_ok() && changed.is_none();
        let mut runs = Vec::with_capacity(2);
        let ran = if stands {
            ran
        } else {
            let again = Instant::now();
            let ran = self.run(worker, i, i, uncredited);
            runs.push(Run { kind: RunKind::Rerun, time: again.elapsed() });
            ran
        };
        let Ran { result, mut writes, log, credits, set, base } = ran;
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(TxError::State(e)) => return Err(state_error(e)),
            Err(error) => return Err(OrderedError::Invalid { index: i, error }),
        };
        let hash = self.txs[i].hash();
        let reads_coinbase = log.read_account(&self.coinbase);
        credit_if_read(self.bank, hash, reads_coinbase, uncredited)?;
        if stands && base != i {
            self.rebase_credits(&log, &credits, &mut writes)?;
        }
        self.bank.keep(hash, writes);
        let credited = credits;
        let time = started.elapsed().saturating_sub(runs.iter().map(|r| r.time).sum());
        runs.insert(0, Run { kind: RunKind::Commit, time });
        Ok(Committed {
            outcome,
            set,
            first,
            stood: stands,
            reads_coinbase,
            changed,
            credited,
            runs,
        })
    }
}

/// What committing a transaction came to.
struct Committed {
    outcome: Outcome,
    set: Option<AccessSet>,
    first: Option<AccessSet>,
    stood: bool,
    reads_coinbase: bool,
    changed: Option<StateKey>,
    credited: Vec<Address>,
    runs: Vec<Run>,
}
