//! [`OrderedSets::Recorded`]: an ordered block replayed with the sets it
//! was recorded with. A transaction runs under its set's locks once every
//! earlier transaction whose set conflicts with it has finished
//! ([`Graph`]); one recorded without a set runs alone, once everything
//! before it has finished and nothing else runs. A transaction that leaves
//! its set makes the block invalid. A transaction whose set reads the
//! coinbase waits for every earlier one, whose fees are credited first.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use alloy_primitives::U256;
use parking_lot::{Condvar, Mutex};

use super::config::{OrderedConfig, OrderedError};
use super::graph::Graph;
use super::report::{OrderedReport, Run, RunKind, TxReport, record_in_order};
use crate::access::AccessSet;
use crate::admitted::Admitted;
use crate::bank::Bank;
use crate::error::{BankError, TxError};
use crate::executor::{Executor, Transaction};
use crate::key::StateKey;
use crate::outcome::Outcome;
use crate::view::{Access, StateView};

struct Schedule {
    /// Which transactions have been taken to run.
    started: Vec<bool>,
    /// Each finished transaction's outcome.
    done: Vec<Option<Outcome>>,
    reports: Vec<TxReport>,
    graph: Graph,
    /// Transactions whose turn is open, not yet taken.
    ready: BTreeSet<usize>,
    /// Unfinished transactions without a set: none after the first of them
    /// starts before it has run.
    unset: BTreeSet<usize>,
    /// Transactions `..lowest` are finished.
    lowest: usize,
    /// Runs in flight.
    running: usize,
    /// A transaction without a set runs: nothing else may start.
    alone: bool,
    /// Fees of transactions `..fees_credited` are credited to the coinbase.
    fees_credited: usize,
    error: Option<OrderedError>,
}

struct Shared<'a, E: Executor> {
    bank: &'a Bank,
    executor: &'a E,
    txs: &'a [E::Tx],
    schedule: Mutex<Schedule>,
    wake: Condvar,
}

pub(super) fn run<E: Executor>(
    bank: &Bank,
    executor: &E,
    txs: &[E::Tx],
    sets: &[Admitted],
    config: &OrderedConfig,
) -> Result<OrderedReport, OrderedError> {
    let start = Instant::now();
    let n = txs.len();
    let threads = config.threads.clamp(1, n.max(1));
    let coinbase = StateKey::Account(bank.env().coinbase);
    let mut graph = Graph::default();
    let mut unset = BTreeSet::new();
    let mut reports = vec![TxReport::default(); n];
    for (i, (admitted, report)) in sets.iter().zip(&mut reports).enumerate() {
        report.access = admitted.access.clone().filter(|set| !set.is_empty());
        report.source = admitted.source;
        match &report.access {
            Some(set) => {
                graph.insert(i, set);
                report.reads_coinbase = set.allows_read(&coinbase);
            }
            None => {
                unset.insert(i);
            }
        }
    }
    let shared = Shared {
        bank,
        executor,
        txs,
        schedule: Mutex::new(Schedule {
            started: vec![false; n],
            done: vec![None; n],
            reports,
            graph,
            ready: BTreeSet::new(),
            unset,
            lowest: 0,
            running: 0,
            alone: false,
            fees_credited: 0,
            error: None,
        }),
        wake: Condvar::new(),
    };
    {
        let mut s = shared.schedule.lock();
        for i in 0..n {
            shared.check_ready(&mut s, i);
        }
    }
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
    let limit = bank.env().gas_limit;
    let mut used = 0u64;
    let mut runs = Vec::with_capacity(n);
    for (index, (outcome, report)) in schedule.done.into_iter().zip(&schedule.reports).enumerate() {
        let outcome = outcome.expect("every transaction finished");
        if used.saturating_add(outcome.gas_used) > limit {
            let error = TxError::BlockFull { used: outcome.gas_used, left: limit - used };
            return Err(OrderedError::Invalid { index, error });
        }
        used += outcome.gas_used;
        runs.push((report.access.clone(), report.source, outcome));
    }
    record_in_order(bank, txs, runs);
    Ok(OrderedReport {
        txs: schedule.reports,
        threads,
        elapsed: start.elapsed(),
        independent: false,
        serial: Duration::ZERO,
        coinbase: bank.env().coinbase,
    })
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
            let n = self.txs.len();
            if s.error.is_some() || s.lowest >= n {
                return;
            }
            let Some((i, set)) = self.take(&mut s) else {
                self.wake.wait(&mut s);
                continue;
            };
            drop(s);
            let started = Instant::now();
            let access = match &set {
                Some(set) => Access::Declared(set.clone()),
                None => Access::Exclusive,
            };
            let view = StateView::new(self.bank.state(), access);
            let (result, view) = self.executor.execute(&mut worker, &self.txs[i], view);
            let left = view.violation().or(match &result {
                Err(TxError::AccessViolation(key)) => Some(*key),
                _ => None,
            });
            let outcome = match (left, result) {
                (Some(key), _) => Err(OrderedError::LeftItsSet { index: i, key }),
                (None, Ok(outcome)) => {
                    self.bank.keep(self.txs[i].hash(), view.writes);
                    Ok(outcome)
                }
                (None, Err(TxError::State(e))) => Err(state_error(e)),
                (None, Err(error)) => Err(OrderedError::Invalid { index: i, error }),
            };
            let kind = if set.is_some() { RunKind::Execute } else { RunKind::Alone };
            let run = Run { kind, time: started.elapsed() };
            s = self.schedule.lock();
            s.running -= 1;
            s.alone = false;
            s.reports[i].runs.push(run);
            match outcome {
                Ok(outcome) => self.finish(&mut s, i, set.as_ref(), outcome),
                Err(e) => {
                    s.error.get_or_insert(e);
                }
            }
            self.wake.notify_all();
        }
    }

    /// The lowest transaction whose turn is open, with its set; a
    /// transaction without a set once everything before it has finished
    /// and nothing runs.
    fn take(&self, s: &mut Schedule) -> Option<(usize, Option<AccessSet>)> {
        if s.alone {
            return None;
        }
        let first_unset = s.unset.first().copied();
        let i = match first_unset {
            Some(i) if i == s.lowest && s.running == 0 => {
                s.unset.remove(&i);
                s.alone = true;
                i
            }
            _ => {
                let i = s.ready.first().copied().filter(|&i| first_unset.is_none_or(|u| i < u))?;
                s.ready.remove(&i);
                i
            }
        };
        let set = s.reports[i].access.clone();
        if (set.is_none() || s.reports[i].reads_coinbase)
            && let Err(e) = self.credit_fees_before(s, i)
        {
            s.error.get_or_insert(e);
            s.alone = false;
            return None;
        }
        s.running += 1;
        s.started[i] = true;
        Some((i, set))
    }

    /// Credits the fees of every transaction before `i` not yet credited
    /// (all of them are finished).
    fn credit_fees_before(&self, s: &mut Schedule, i: usize) -> Result<(), OrderedError> {
        let fees = s.done[s.fees_credited..i]
            .iter()
            .flatten()
            .fold(U256::ZERO, |fees, outcome| fees.saturating_add(outcome.fee));
        s.fees_credited = s.fees_credited.max(i);
        Ok(self.bank.credit_coinbase(fees, self.txs[i].hash())?)
    }

    /// Puts `i` in the ready set if its turn is open: it has a set, no
    /// earlier unfinished transaction holds a conflicting lock, and, if it
    /// reads the coinbase, every earlier one has finished.
    fn check_ready(&self, s: &mut Schedule, i: usize) {
        if s.started[i] {
            return;
        }
        let Some(set) = &s.reports[i].access else { return };
        if (!s.reports[i].reads_coinbase || s.lowest == i) && s.graph.clear_before(i, set) {
            s.ready.insert(i);
        }
    }

    /// Marks `i` finished and opens the turns it held.
    fn finish(&self, s: &mut Schedule, i: usize, set: Option<&AccessSet>, outcome: Outcome) {
        s.done[i] = Some(outcome);
        if let Some(set) = set {
            let mut candidates = Vec::new();
            s.graph.remove(i, set, &mut candidates);
            for c in candidates {
                self.check_ready(s, c);
            }
        }
        while s.lowest < self.txs.len() && s.done[s.lowest].is_some() {
            s.lowest += 1;
        }
        if s.lowest < self.txs.len() {
            let lowest = s.lowest;
            self.check_ready(s, lowest);
        }
    }
}
