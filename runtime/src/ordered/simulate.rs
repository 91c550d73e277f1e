//! What an ordered block would take on more workers than this host has:
//! its measured runs scheduled on N simulated workers under its dependency
//! graph ([`OrderedReport::simulate`]).
//!
//! The model, one task per prediction and one per commit of each
//! transaction, with the times the real run measured:
//! - a prediction (its `Predict` run) may start at any time, in block order;
//! - a transaction's commit (its `Execute`/`Apply` runs, undone runs
//!   included) starts once its prediction is done and every earlier
//!   transaction whose final set conflicts with its own has committed; one
//!   that reads the coinbase waits for every earlier transaction;
//! - a transaction that ran alone (`Strayed` and `Alone` runs) starts once
//!   every earlier transaction has committed and no other commit runs, and
//!   nothing else commits until it is done;
//! - a free worker takes the lowest ready commit, else the next prediction
//!   (the engine's own order). Hand-offs cost nothing.
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

/// One transaction as the simulation sees it.
struct Model {
    predict: Duration,
    commit: Duration,
    alone: bool,
    all_before: bool,
    deps: Vec<usize>,
}

fn model(txs: &[TxReport], independent: bool) -> Vec<Model> {
    let mut history: HashMap<KeyHash, Vec<(usize, u8)>, ahash::RandomState> = HashMap::default();
    let mut out = Vec::with_capacity(txs.len());
    for (i, tx) in txs.iter().enumerate() {
        let time = |kinds: &[RunKind]| -> Duration {
            tx.runs.iter().filter(|r| kinds.contains(&r.kind)).map(|r| r.time).sum()
        };
        let alone = tx.runs.iter().any(|r| r.kind == RunKind::Alone) || tx.access.is_none();
        let mut deps = Vec::new();
        if let Some(set) = tx.access.as_ref().filter(|_| !independent) {
            for m in set.marks() {
                let seen = history.entry(m.hash).or_default();
                deps.extend(seen.iter().filter(|(_, sets)| sets & m.forbids != 0).map(|(j, _)| *j));
                seen.push((i, m.sets));
            }
        }
        deps.sort_unstable();
        deps.dedup();
        out.push(Model {
            predict: time(&[RunKind::Predict]),
            commit: time(&[RunKind::Execute, RunKind::Apply, RunKind::Strayed, RunKind::Alone]),
            alone: alone && !independent,
            all_before: tx.reads_coinbase && !independent,
            deps,
        });
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Predicted(usize),
    Committed(usize),
}

impl OrderedReport {
    /// The block's longest chain of transactions each of which had to wait
    /// for the one before (by the final sets; a coinbase reader or a
    /// transaction that ran alone waits for every earlier one): its length
    /// in transactions, and in the measured commit time along it.
    pub fn critical_path(&self) -> (usize, Duration) {
        let txs = model(&self.txs, self.independent);
        let mut len: Vec<usize> = Vec::with_capacity(txs.len());
        let mut time: Vec<Duration> = Vec::with_capacity(txs.len());
        let (mut max_len, mut max_time) = (0, Duration::ZERO);
        for t in &txs {
            let (mut l, mut d) = (0, Duration::ZERO);
            if t.alone || t.all_before {
                (l, d) = (max_len, max_time);
            }
            for &j in &t.deps {
                l = l.max(len[j]);
                d = d.max(time[j]);
            }
            len.push(l + 1);
            time.push(d + t.commit);
            max_len = max_len.max(l + 1);
            max_time = max_time.max(d + t.commit);
        }
        (max_len, max_time)
    }

    /// The time this block's measured runs take on `workers` simulated
    /// workers (the module doc gives the model). With the workers the block
    /// really ran on, it says how much of the measured time scheduling and
    /// hand-offs took.
    pub fn simulate(&self, workers: usize) -> Duration {
        let workers = workers.max(1);
        let txs = model(&self.txs, self.independent);
        let n = txs.len();
        let mut predicted = vec![false; n];
        let mut committed = vec![false; n];
        let mut started = vec![false; n];
        let mut next_predict = 0;
        let mut lowest = 0; // lowest uncommitted
        let mut committing = 0; // commits in flight
        let mut alone_running = false;
        let mut free = workers;
        let mut now = Duration::ZERO;
        let mut events: BinaryHeap<Reverse<(Duration, Event)>> = BinaryHeap::new();
        loop {
            // Free workers take tasks.
            while free > 0 {
                let ready = |i: usize| -> bool {
                    let t = &txs[i];
                    !started[i]
                        && predicted[i]
                        && if t.alone {
                            lowest == i && committing == 0
                        } else {
                            !alone_running
                                && (!t.all_before || lowest == i)
                                && t.deps.iter().all(|&d| committed[d])
                        }
                };
                if let Some(i) = (lowest..n).find(|&i| ready(i)) {
                    started[i] = true;
                    committing += 1;
                    alone_running |= txs[i].alone;
                    events.push(Reverse((now + txs[i].commit, Event::Committed(i))));
                } else if next_predict < n {
                    events.push(Reverse((
                        now + txs[next_predict].predict,
                        Event::Predicted(next_predict),
                    )));
                    next_predict += 1;
                } else {
                    break;
                }
                free -= 1;
            }
            let Some(Reverse((at, event))) = events.pop() else { break };
            now = at;
            free += 1;
            match event {
                Event::Predicted(i) => predicted[i] = true,
                Event::Committed(i) => {
                    committed[i] = true;
                    committing -= 1;
                    if txs[i].alone {
                        alone_running = false;
                    }
                    while lowest < n && committed[lowest] {
                        lowest += 1;
                    }
                }
            }
        }
        now + self.serial
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::Address;

    use super::*;
    use crate::access::AccessSet;
    use crate::key::StateKey;
    use crate::ordered::Run;

    fn tx(writes: u8, predict_ms: u64, commit_ms: u64) -> TxReport {
        TxReport {
            access: Some(AccessSet::unbounded(
                [],
                [StateKey::Account(Address::repeat_byte(writes))],
            )),
            runs: vec![
                Run { kind: RunKind::Predict, time: Duration::from_millis(predict_ms) },
                Run { kind: RunKind::Execute, time: Duration::from_millis(commit_ms) },
            ],
            ..TxReport::default()
        }
    }

    #[test]
    fn test_independent_transactions_split_across_workers() {
        // Four independent transactions, 1 ms prediction and 1 ms commit each.
        let report =
            OrderedReport { txs: (1..=4).map(|i| tx(i, 1, 1)).collect(), ..Default::default() };
        assert_eq!(report.simulate(1), Duration::from_millis(8));
        assert_eq!(report.simulate(2), Duration::from_millis(4));
        assert_eq!(report.simulate(4), Duration::from_millis(2));
    }

    #[test]
    fn test_the_critical_path_follows_conflicts() {
        // 0 and 2 write key 1, 1 writes key 2, 3 reads the coinbase.
        let mut txs = vec![tx(1, 1, 2), tx(2, 1, 5), tx(1, 1, 3), tx(3, 1, 1)];
        assert_eq!(
            OrderedReport { txs: txs.clone(), ..Default::default() }.critical_path(),
            (2, Duration::from_millis(5))
        );
        txs[3].reads_coinbase = true;
        let report = OrderedReport { txs, ..Default::default() };
        assert_eq!(report.critical_path(), (3, Duration::from_millis(6)));
    }

    #[test]
    fn test_a_chain_of_conflicts_bounds_the_time() {
        // All four write one key: the commits form a chain of 4 ms whatever
        // the workers; predictions overlap it.
        let report =
            OrderedReport { txs: (0..4).map(|_| tx(1, 1, 1)).collect(), ..Default::default() };
        assert_eq!(report.simulate(1), Duration::from_millis(8));
        assert_eq!(report.simulate(16), Duration::from_millis(5));
    }

    #[test]
    fn test_a_transaction_alone_waits_for_all_and_blocks_the_rest() {
        let mut txs: Vec<TxReport> = (1..=3).map(|i| tx(i, 1, 1)).collect();
        txs[1].runs.push(Run { kind: RunKind::Alone, time: Duration::from_millis(3) });
        let report = OrderedReport { txs, ..Default::default() };
        // Predictions done at 1 (3 workers); txs 0 and 2 commit 1..2 (2 does
        // not conflict with 1's set); tx 1, alone, takes its strayed and
        // alone runs, 1 + 3 ms, once 0 has committed: 2..6.
        assert_eq!(report.simulate(3), Duration::from_millis(6));
        // Had tx 2 waited for it: a later transaction in its set.
        let mut txs = report.txs.clone();
        txs[2] = tx(2, 1, 1);
        txs[1].access =
            Some(AccessSet::unbounded([], [StateKey::Account(Address::repeat_byte(2))]));
        let report = OrderedReport { txs, ..Default::default() };
        assert_eq!(report.simulate(3), Duration::from_millis(7));
    }
}
