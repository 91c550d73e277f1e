//! What an ordered block would take on more workers than this host has:
//! its measured runs scheduled on N simulated workers as the executor
//! schedules them ([`OrderedReport::simulate`]).
//!
//! The model of a block whose sets were found by running it
//! ([`OrderedSets::Run`](super::OrderedSets::Run)), with the times the
//! real run measured:
//! - a transaction's first run (its `Run`) starts when a worker is free, in
//!   block order, once the transaction it waits for
//!   ([`TxReport::waited_for`]) has committed;
//! - commits go in block order, one at a time (its `Commit` time), each once
//!   its transaction's run is done; a free worker commits before it runs;
//! - a commit runs the transaction again (its `Rerun` time, else its first
//!   run's) when an earlier transaction that writes a key its final set
//!   holds (any earlier one, where it read the coinbase) committed after
//!   its first run started: the value it read changed.
//!
//! Hand-offs cost nothing, and a run takes as long as it took on the
//! measured host; `scripts/mainnet-blocks.sh` prints how far the 1- and
//! 2-worker simulations land from the measured runs.
//!
//! A block run from declared writes ([`OrderedReport::independent`]) has
//! no dependencies: every run may start at once; applying their writes in
//! block order afterwards is one thread's measured work
//! ([`OrderedReport::serial`]), added whole.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use lanes_accounts_db::KeyHash;

use super::{OrderedReport, RunKind, TxReport};
use crate::key::StateKey;
use crate::locks::{SLOT_WRITE, WRITE};

/// One transaction as the simulation sees it.
struct Model {
    run: Duration,
    commit: Duration,
    rerun: Duration,
    waits: Option<usize>,
    /// Earlier transactions that write a key it holds (for a coinbase
    /// reader: every earlier one).
    deps: Vec<usize>,
}

fn model(txs: &[TxReport], independent: bool) -> Vec<Model> {
    let mut writers: HashMap<KeyHash, Vec<(usize, u8)>, ahash::RandomState> = HashMap::default();
    let mut out = Vec::with_capacity(txs.len());
    for (i, tx) in txs.iter().enumerate() {
        let mut deps = Vec::new();
        if tx.reads_coinbase && !independent {
            deps.extend(0..i);
        } else if let Some(set) = tx.access.as_ref().filter(|_| !independent) {
            for (k, m) in set.marks().iter().enumerate() {
                let seen = writers.entry(m.hash).or_default();
                // An account it only credited: earlier writes there do not
                // undo its run.
                let credit = set.keys().get(k).is_some_and(
                    |key| matches!(key, StateKey::Account(a) if tx.credited.contains(a)),
                );
                if !credit {
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
        let run = tx.time(&[RunKind::Run, RunKind::Execute, RunKind::Alone]);
        let rerun = tx.runs.iter().find(|r| r.kind == RunKind::Rerun).map_or(run, |r| r.time);
        out.push(Model {
            run,
            commit: tx.time(&[RunKind::Commit]),
            rerun,
            waits: tx.waited_for.filter(|_| !independent),
            deps,
        });
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Ran(usize),
    Committed(usize),
}

impl OrderedReport {
    /// The block's longest chain of transactions each of which depends on
    /// the one before (it holds a key that one writes, or waits for it):
    /// its length in transactions, and in the time of the runs along it.
    pub fn critical_path(&self) -> (usize, Duration) {
        let txs = model(&self.txs, self.independent);
        let mut len: Vec<usize> = Vec::with_capacity(txs.len());
        let mut time: Vec<Duration> = Vec::with_capacity(txs.len());
        let (mut max_len, mut max_time) = (0, Duration::ZERO);
        for t in &txs {
            let (mut l, mut d) = (0, Duration::ZERO);
            for &j in t.deps.iter().chain(&t.waits) {
                l = l.max(len[j]);
                d = d.max(time[j]);
            }
            let own = if t.deps.is_empty() { t.run } else { t.rerun };
            len.push(l + 1);
            time.push(d + own + t.commit);
            max_len = max_len.max(l + 1);
            max_time = max_time.max(d + own + t.commit);
        }
        (max_len, max_time)
    }

    /// The time this block's measured runs take on `workers` simulated
    /// workers (the module doc gives the model).
    pub fn simulate(&self, workers: usize) -> Duration {
        let workers = workers.max(1);
        let txs = model(&self.txs, self.independent);
        let n = txs.len();
        if self.independent {
            let mut free: BinaryHeap<Reverse<Duration>> =
                (0..workers).map(|_| Reverse(Duration::ZERO)).collect();
            let mut end = Duration::ZERO;
            for t in &txs {
                let Reverse(at) = free.pop().expect("at least one worker");
                end = end.max(at + t.run);
                free.push(Reverse(at + t.run));
            }
            return end + self.serial;
        }
        let mut started = vec![None; n];
        let mut ran = vec![false; n];
        let mut committed_at: Vec<Option<Duration>> = vec![None; n];
        let mut next = 0; // lowest transaction whose first run has not started
        let mut committed = 0;
        let mut committing = false;
        let mut free = workers;
        let mut now = Duration::ZERO;
        let mut events: BinaryHeap<Reverse<(Duration, Event)>> = BinaryHeap::new();
        loop {
            while free > 0 {
                if !committing && committed < n && ran[committed] {
                    let i = committed;
                    let t = &txs[i];
                    let start = started[i].expect("a finished run started");
                    let stale =
                        t.deps.iter().any(|&j| committed_at[j].is_some_and(|at| at > start));
                    let time = t.commit + if stale { t.rerun } else { Duration::ZERO };
                    committing = true;
                    events.push(Reverse((now + time, Event::Committed(i))));
                } else if let Some(i) = (next..n)
                    .find(|&i| started[i].is_none() && txs[i].waits.is_none_or(|j| j < committed))
                {
                    started[i] = Some(now);
                    while next < n && started[next].is_some() {
                        next += 1;
                    }
                    events.push(Reverse((now + txs[i].run, Event::Ran(i))));
                } else {
                    break;
                }
                free -= 1;
            }
            let Some(Reverse((at, event))) = events.pop() else { break };
            now = at;
            free += 1;
            match event {
                Event::Ran(i) => ran[i] = true,
                Event::Committed(i) => {
                    committed_at[i] = Some(now);
                    committed = i + 1;
                    committing = false;
                }
            }
        }
        now
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::Address;

    use super::*;
    use crate::access::AccessSet;
    use crate::ordered::Run;

    /// A transaction writing account `writes`, whose first run took
    /// `run_ms` and its commit `commit_ms`.
    fn tx(writes: u8, run_ms: u64, commit_ms: u64) -> TxReport {
        TxReport {
            access: Some(AccessSet::unbounded(
                [],
                [StateKey::Account(Address::repeat_byte(writes))],
            )),
            runs: vec![
                Run { kind: RunKind::Run, time: Duration::from_millis(run_ms) },
                Run { kind: RunKind::Commit, time: Duration::from_millis(commit_ms) },
            ],
            ..TxReport::default()
        }
    }

    fn report(txs: Vec<TxReport>) -> OrderedReport {
        OrderedReport { txs, ..Default::default() }
    }

    #[test]
    fn test_independent_transactions_split_across_workers() {
        // Four independent transactions, 2 ms run and 1 ms commit each: on
        // one worker 12 ms; on two, runs in pairs and commits between.
        let report = report((1..=4).map(|i| tx(i, 2, 1)).collect());
        assert_eq!(report.simulate(1), Duration::from_millis(12));
        // 0..2 runs 0 and 1; 2..3 commits 0 and runs 2 (2..4); 3..4 commits
        // 1; 4..5 commits 2 and runs 3 (4..6); 6..7 commits 3.
        assert_eq!(report.simulate(2), Duration::from_millis(7));
        // Commits, one at a time, bound it: 2 ms of runs, then 4 commits.
        assert_eq!(report.simulate(8), Duration::from_millis(6));
    }

    #[test]
    fn test_a_run_that_read_a_key_committed_after_it_started_runs_again() {
        // 0 and 1 write one key: on two workers both start at 0, so 1's run
        // read the key before 0 committed and runs again (3 ms) at its turn.
        let mut txs = vec![tx(1, 2, 1), tx(1, 2, 1)];
        txs[1].runs.push(Run { kind: RunKind::Rerun, time: Duration::from_millis(3) });
        let report = report(txs);
        assert_eq!(report.simulate(2), Duration::from_millis(2 + 1 + 1 + 3));
        // On one worker 1 starts after 0 committed: no rerun.
        assert_eq!(report.simulate(1), Duration::from_millis(6));
        assert_eq!(report.critical_path(), (2, Duration::from_millis(3 + 3 + 1)));
    }

    #[test]
    fn test_a_transaction_that_waits_starts_after_the_one_it_waits_for_commits() {
        // 1 waits for 0 (same sender): on two workers 0 and 2 run first.
        let mut txs = vec![tx(1, 2, 1), tx(1, 2, 1), tx(3, 2, 1)];
        txs[1].waited_for = Some(0);
        let report = report(txs);
        // 0..2 runs 0 and 2; 2..3 commits 0; 3..5 runs 1; 5..6 commits 1;
        // 6..7 commits 2 (its run was done).
        assert_eq!(report.simulate(2), Duration::from_millis(7));
    }

    #[test]
    fn test_a_coinbase_reader_depends_on_every_earlier_transaction() {
        let mut txs = vec![tx(1, 1, 1), tx(2, 1, 1), tx(3, 1, 1)];
        txs[2].reads_coinbase = true;
        let report = report(txs);
        assert_eq!(report.critical_path().0, 2);
        // Three workers run all at once; 2's run started before 0 and 1
        // committed, so it runs again (1 ms) at its commit.
        assert_eq!(report.simulate(3), Duration::from_millis(1 + 1 + 1 + 1 + 1));
    }
}
