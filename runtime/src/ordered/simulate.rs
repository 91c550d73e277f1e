//! What an ordered block would take on more workers than this host has:
//! its measured runs scheduled on N simulated workers as the executor
//! schedules them ([`OrderedReport::simulate`]).
//!
//! The model of a block whose sets were found by running it
//! ([`OrderedSets::Run`](super::OrderedSets::Run)), with the times the
//! real run measured. A transaction's dependencies are the earlier ones
//! that write a key its final set holds (every earlier one, where it read
//! the coinbase); the one it waits for ([`TxReport::waited_for`]) it reads
//! from that one's run.
//! - a free worker commits first, then runs a stale transaction again,
//!   then starts the next transaction in block order (its `Run`) whose wait
//!   is over: the one it waits for has run (or, where it reads the
//!   coinbase, committed);
//! - commits go in block order, one at a time (its `Commit` time), each once
//!   its transaction's latest run is done;
//! - a run is stale where a dependency committed after it started (or, for
//!   the one it waited for, ran its last run after it started): a stale run
//!   that ends runs again at once (twice at most); a finished run made
//!   stale by a commit runs again on the next free worker; one still stale
//!   at its commit runs again there. A run again takes its `Rerun` time
//!   (its first run's where it had none).
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

use alloy_primitives::Address;
use lanes_accounts_db::KeyHash;

use super::report::{OrderedReport, RunKind, TxReport};
use crate::key::StateKey;
use crate::marks::{SLOT_WRITE, WRITE};

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
                let credit = set.keys().get(k).is_some_and(|key| {
                    matches!(key, StateKey::Account(a) if tx.credited.contains(a) || tx.debited.contains(a))
                });
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
        let txs = model(&self.txs, self.independent, self.coinbase);
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
        let txs = model(&self.txs, self.independent, self.coinbase);
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
        Sim::new(&self.txs, &txs).run(workers)
    }
}

/// The state of [`OrderedReport::simulate`]'s event simulation.
struct Sim<'m> {
    txs: &'m [Model],
    /// Whether it waits for the one before it to commit (it reads the
    /// coinbase), not just to run.
    commit_wait: Vec<bool>,
    /// Its latest run's start, and end once it ended.
    start: Vec<Option<Duration>>,
    end: Vec<Option<Duration>>,
    /// When it committed.
    committed_at: Vec<Option<Duration>>,
    /// Runs again before its turn, once a worker is free.
    stale: std::collections::BTreeSet<usize>,
    tries: Vec<u8>,
    next: usize,
    committed: usize,
    committing: bool,
    now: Duration,
    events: BinaryHeap<Reverse<(Duration, Event)>>,
}

impl<'m> Sim<'m> {
    fn new(reports: &[TxReport], txs: &'m [Model]) -> Self {
        let n = txs.len();
        let commit_wait = reports
            .iter()
            .enumerate()
            .map(|(i, r)| r.reads_coinbase && r.waited_for.is_some_and(|j| j + 1 == i))
            .collect();
        Self {
            txs,
            commit_wait,
            start: vec![None; n],
            end: vec![None; n],
            committed_at: vec![None; n],
            stale: Default::default(),
            tries: vec![0; n],
            next: 0,
            committed: 0,
            committing: false,
            now: Duration::ZERO,
            events: BinaryHeap::new(),
        }
    }

    /// Whether `i`'s latest run, started at `start`, read a value that has
    /// changed since: a dependency committed after it started, or the one
    /// it read the run of ran again after it started.
    fn stale_run(&self, i: usize, start: Duration) -> bool {
        let t = &self.txs[i];
        t.deps.iter().any(|&j| {
            let read_run = t.waits == Some(j) && !self.commit_wait[i];
            match read_run {
                true => {
                    self.end[j].is_none_or(|end| end > start)
                        && self.committed_at[j].is_none_or(|c| c > start)
                }
                false => self.committed_at[j].is_some_and(|c| c > start),
            }
        })
    }

    fn can_start(&self, i: usize) -> bool {
        self.start[i].is_none()
            && self.txs[i].waits.is_none_or(|j| {
                j < self.committed || (!self.commit_wait[i] && self.end[j].is_some())
            })
    }

    fn begin(&mut self, i: usize, time: Duration) {
        self.start[i] = Some(self.now);
        self.end[i] = None;
        self.events.push(Reverse((self.now + time, Event::Ran(i))));
    }

    fn run(mut self, workers: usize) -> Duration {
        let n = self.txs.len();
        let mut free = workers;
        loop {
            while free > 0 {
                let c = self.committed;
                if !self.committing && c < n && self.end[c].is_some() && !self.stale.contains(&c) {
                    let t = &self.txs[c];
                    let start = self.start[c].expect("a finished run started");
                    let again = self.stale_run(c, start);
                    let time = t.commit + if again { t.rerun } else { Duration::ZERO };
                    self.committing = true;
                    self.events.push(Reverse((self.now + time, Event::Committed(c))));
                } else if let Some(i) = self.stale.pop_first() {
                    self.begin(i, self.txs[i].rerun);
                } else if let Some(i) = (self.next..n).find(|&i| self.can_start(i)) {
                    self.begin(i, self.txs[i].run);
                    while self.next < n && self.start[self.next].is_some() {
                        self.next += 1;
                    }
                } else {
                    break;
                }
                free -= 1;
            }
            let Some(Reverse((at, event))) = self.events.pop() else { break };
            self.now = at;
            match event {
                Event::Ran(i) => {
                    let start = self.start[i].expect("a run that ends started");
                    if self.tries[i] < 2 && self.stale_run(i, start) {
                        self.tries[i] += 1;
                        self.begin(i, self.txs[i].rerun);
                        continue;
                    }
                    self.end[i] = Some(self.now);
                }
                Event::Committed(i) => {
                    self.committed_at[i] = Some(self.now);
                    self.committed = i + 1;
                    self.committing = false;
                    for k in i + 1..self.next.min(n) {
                        let finished = self.end[k].is_some() && !self.stale.contains(&k);
                        let read_run = self.txs[k].waits == Some(i) && !self.commit_wait[k];
                        if finished
                            && !read_run
                            && self.start[k].is_some_and(|s| s < self.now)
                            && self.txs[k].deps.contains(&i)
                        {
                            self.stale.insert(k);
                        }
                    }
                }
            }
            free += 1;
        }
        self.now
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
    fn test_a_transaction_that_waits_starts_once_the_one_it_waits_for_has_run() {
        // 1 waits for 0 (same sender) and reads 0's run: on two workers 0
        // and 2 run first (0..2); 1 runs 2..4 while 0 commits 2..3; 1
        // commits 4..5 (what it read of 0 held), 2 commits 5..6.
        let mut txs = vec![tx(1, 2, 1), tx(1, 2, 1), tx(3, 2, 1)];
        txs[1].waited_for = Some(0);
        assert_eq!(report(txs.clone()).simulate(2), Duration::from_millis(6));
        // Had it read the coinbase (every earlier fee), it would wait for
        // 0's commit: 1 runs 3..5, commits 5..6; 2 commits 6..7.
        txs[1].reads_coinbase = true;
        assert_eq!(report(txs).simulate(2), Duration::from_millis(7));
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
