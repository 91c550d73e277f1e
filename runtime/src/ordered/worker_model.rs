//! What an ordered block would take on more workers than this host has:
//! its measured runs scheduled on N simulated workers
//! ([`OrderedReport::time_on_workers`]).
//!
//! The model of the engine with what it reads known: a transaction's
//! dependencies are the earlier ones that write a key its final set holds
//! (every earlier one, where it read the coinbase; none for an account it
//! only credited or debited, a delta). Workers take the transactions in
//! block order, each on the worker free first, starting once every
//! dependency's run has ended; each run takes its measured time (its last
//! run's) and, on more than one worker, [`ENGINE_COST`] more for the
//! versions it publishes and the check of what it read; the plan before
//! the runs and the finish after them add [`SERIAL_COST`] of the runs'
//! time, which more workers do not shorten. Runs the engine
//! wasted (stopped at an estimate, or found stale) are left out: the
//! model is what the engine reaches when it guesses right, and
//! `scripts/mainnet-blocks.sh` prints how far it lands from the measured
//! runs.
//!
//! A block run from declared writes ([`OrderedReport::independent`]) has
//! no dependencies: every run may start at once.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use alloy_primitives::Address;
use lanes_accounts_db::KeyHash;

use super::report::{OrderedReport, RunKind, TxReport};
use crate::key::StateKey;
use crate::marks::{SLOT_WRITE, WRITE};

/// What the engine adds to a run on more than one worker, as a share of
/// it: publishing its versions, checking what it read, committing it.
/// Measured: the 42 fixture blocks' runs at 2 workers against 1
/// (docs/figures.md).
pub const ENGINE_COST: f64 = 0.25;

/// What the engine spends on more than one worker outside the runs, as a
/// share of the block's runs' time: the plan before them (what each
/// transaction is known to write) and the finish after them (the
/// committed runs made into the bank's writes, sets and reports), on one
/// thread or barely shortened by more. Measured: `plan_ms` and
/// `finish_ms` at 2 to 16 workers over the 1-worker runs' time, 0.036 to
/// 0.044 on the 42 fixture blocks on a 16-core machine
/// (docs/figures.md).
pub const SERIAL_COST: f64 = 0.04;

/// One transaction as the simulation sees it.
struct Model {
    run: Duration,
    /// Earlier transactions that write a key it holds (for a coinbase
    /// reader: every earlier one).
    deps: Vec<usize>,
}

fn model(txs: &[TxReport], independent: bool, coinbase: Address) -> Vec<Model> {
    let mut writers: HashMap<KeyHash, Vec<(usize, u8)>, ahash::RandomState> = HashMap::default();
    let mut out = Vec::with_capacity(txs.len());
    for (i, tx) in txs.iter().enumerate() {
        let mut deps = Vec::new();
        // A coinbase it only paid from depends on no fee.
        let coinbase_read =
            tx.reads_coinbase && !tx.debited.iter().chain(&tx.credited).any(|a| *a == coinbase);
        if coinbase_read && !independent {
            deps.extend(0..i);
        } else if let Some(set) = tx.access.as_ref().filter(|_| !independent) {
            for (k, m) in set.marks().iter().enumerate() {
                let seen = writers.entry(m.hash).or_default();
                // An account it only credited or debited: earlier writes
                // there do not undo its run.
                let delta = set.keys().get(k).is_some_and(|key| {
                    matches!(key, StateKey::Account(a) if tx.credited.contains(a) || tx.debited.contains(a))
                });
                if !delta {
                    deps.extend(
                        seen.iter().filter(|(_, sets)| sets & m.forbids != 0).map(|(j, _)| *j),
                    );
                }
                if m.sets & (WRITE | SLOT_WRITE) != 0 {
                    seen.push((i, m.sets));
                }
            }
        }
        deps.sort_unstable();
        deps.dedup();
        // Its last run: the one that stood.
        let run = tx
            .runs
            .iter()
            .rev()
            .find(|r| matches!(r.kind, RunKind::Run | RunKind::Rerun))
            .map_or(Duration::ZERO, |r| r.time);
        out.push(Model { run, deps });
    }
    out
}

impl OrderedReport {
    /// The block's longest chain of transactions each of which depends on
    /// the one before (it holds a key that one writes): its length in
    /// transactions, and in the time of the runs along it.
    pub fn critical_path(&self) -> (usize, Duration) {
        let txs = model(&self.txs, self.independent, self.coinbase);
        let mut len: Vec<usize> = Vec::with_capacity(txs.len());
        let mut time: Vec<Duration> = Vec::with_capacity(txs.len());
        let (mut max_len, mut max_time) = (0, Duration::ZERO);
        for t in &txs {
            let (mut l, mut d) = (0, Duration::ZERO);
            for &j in &t.deps {
                l = l.max(len[j]);
                d = d.max(time[j]);
            }
            len.push(l + 1);
            time.push(d + t.run);
            max_len = max_len.max(l + 1);
            max_time = max_time.max(d + t.run);
        }
        (max_len, max_time)
    }

    /// The time this block's measured runs take on `workers` simulated
    /// workers (the module doc gives the model).
    pub fn time_on_workers(&self, workers: usize) -> Duration {
        let workers = workers.max(1);
        let txs = model(&self.txs, self.independent, self.coinbase);
        let cost = if workers > 1 { 1.0 + ENGINE_COST } else { 1.0 };
        let mut free: BinaryHeap<Reverse<Duration>> =
            (0..workers).map(|_| Reverse(Duration::ZERO)).collect();
        let mut ends: Vec<Duration> = Vec::with_capacity(txs.len());
        let mut end = Duration::ZERO;
        let mut runs = Duration::ZERO;
        for t in &txs {
            runs += t.run;
            let Reverse(at) = free.pop().expect("at least one worker");
            let ready = t.deps.iter().map(|&j| ends[j]).max().unwrap_or_default();
            let done = at.max(ready) + t.run.mul_f64(cost);
            ends.push(done);
            end = end.max(done);
            free.push(Reverse(done));
        }
        let serial = match workers {
            1 => Duration::ZERO,
            _ => runs.mul_f64(SERIAL_COST),
        };
        end + self.serial + serial
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::AccessSet;
    use crate::ordered::Run;

    /// A transaction writing account `writes`, whose run took `run_ms`.
    fn tx(writes: u8, run_ms: u64) -> TxReport {
        TxReport {
            access: Some(AccessSet::unbounded(
                [],
                [StateKey::Account(Address::repeat_byte(writes))],
            )),
            runs: vec![Run { kind: RunKind::Run, time: Duration::from_millis(run_ms) }],
            ..TxReport::default()
        }
    }

    fn report(txs: Vec<TxReport>) -> OrderedReport {
        OrderedReport { txs, ..Default::default() }
    }

    fn ms(d: Duration) -> f64 {
        d.as_secs_f64() * 1e3
    }

    #[test]
    fn test_independent_transactions_split_across_workers() {
        // Four independent 2 ms runs: 8 ms on one worker; two at a time on
        // two, each with the engine's cost.
        let report = report((1..=4).map(|i| tx(i, 2)).collect());
        // The plan and the finish: a share of the 8 ms of runs.
        assert_eq!(report.time_on_workers(1), Duration::from_millis(8));
        let serial = 8.0 * SERIAL_COST;
        assert!((ms(report.time_on_workers(2)) - 4.0 * (1.0 + ENGINE_COST) - serial).abs() < 1e-6);
        assert!((ms(report.time_on_workers(8)) - 2.0 * (1.0 + ENGINE_COST) - serial).abs() < 1e-6);
    }

    #[test]
    fn test_a_dependent_transaction_starts_once_its_dependency_ran() {
        // 0 and 1 write one key; 2 another: on two workers 0 and 2 run
        // first, 1 after 0.
        let report = report(vec![tx(1, 2), tx(1, 3), tx(2, 2)]);
        let sim = ms(report.time_on_workers(2));
        assert!((sim - 5.0 * (1.0 + ENGINE_COST) - 7.0 * SERIAL_COST).abs() < 1e-6, "{sim}");
        assert_eq!(report.critical_path(), (2, Duration::from_millis(5)));
    }

    #[test]
    fn test_a_coinbase_reader_depends_on_every_earlier_transaction() {
        let mut txs = vec![tx(1, 1), tx(2, 1), tx(3, 1)];
        txs[2].reads_coinbase = true;
        let report = report(txs);
        assert_eq!(report.critical_path().0, 2);
        let sim = ms(report.time_on_workers(3));
        assert!((sim - 2.0 * (1.0 + ENGINE_COST) - 3.0 * SERIAL_COST).abs() < 1e-6, "{sim}");
    }
}
