//! How an ordered block ran ([`OrderedReport`]: each transaction's runs and
//! set), and the block recorded from it in order ([`record_in_order`]).

use std::time::Duration;

use crate::access::{AccessSet, AccessSource};
use crate::admitted::Admitted;
use crate::bank::Bank;
use crate::executor::Transaction;
use crate::key::StateKey;

/// What one run of a transaction was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunKind {
    /// Its first run (one worker: its only run, in order; more: on the
    /// newest versions earlier runs had written).
    Run,
    /// A run again: a value an earlier run read had changed.
    Rerun,
    /// A check of a finished run: every value it read still the same.
    Validate,
    /// A run stopped at a read of an estimate: it waits for that
    /// transaction's next run.
    Stopped,
}

/// One run of a transaction and how long it took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// What it was.
    pub kind: RunKind,
    /// How long it took.
    pub time: Duration,
}

/// How one transaction of an ordered block ran.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxReport {
    /// The set it is recorded with (`None`: it ran alone with every key).
    pub access: Option<AccessSet>,
    /// Where that set came from.
    pub source: AccessSource,
    /// Every run, in order.
    pub runs: Vec<Run>,
    /// Whether its first run stood as its result.
    pub stood: bool,
    /// Whether it read the coinbase, so it saw every earlier transaction's
    /// fees.
    pub reads_coinbase: bool,
    /// Its first run's set ([`OrderedSets::Run`](crate::OrderedSets::Run)): what was found before
    /// its turn, to judge against what it did.
    pub first_prediction: Option<AccessSet>,
    /// The earlier transaction it waited for before its first run (one
    /// known to write a key it writes: [`Transaction::known_writes`]).
    pub waited_for: Option<usize>,
    /// The first key its first run read whose value had changed by its
    /// turn (it ran again), if one had.
    pub changed: Option<StateKey>,
    /// Accounts its standing run only credited ([`crate::StateView::note_credit`]):
    /// an earlier write there did not undo it.
    pub credited: Vec<alloy_primitives::Address>,
    /// Accounts its standing run only debited ([`crate::StateView::note_debit`]):
    /// it ran before the earlier transactions that step their nonce, and
    /// what it took came off the balance found at its turn.
    pub debited: Vec<alloy_primitives::Address>,
}

impl TxReport {
    /// Runs beyond the one it needed.
    pub fn reruns(&self) -> usize {
        self.runs.iter().filter(|r| r.kind == RunKind::Rerun).count()
    }

    /// What its first run's missing the mark cost: the time of its reruns.
    pub fn misprediction_cost(&self) -> Duration {
        self.runs.iter().filter(|r| r.kind == RunKind::Rerun).map(|r| r.time).sum()
    }

    /// The time of its runs of `kinds`.
    pub fn time(&self, kinds: &[RunKind]) -> Duration {
        self.runs.iter().filter(|r| kinds.contains(&r.kind)).map(|r| r.time).sum()
    }
}

/// How an ordered block ran.
#[derive(Clone, Debug, Default)]
pub struct OrderedReport {
    /// One report per transaction, in block order.
    pub txs: Vec<TxReport>,
    /// Threads it ran on.
    pub threads: usize,
    /// Wall time of the whole call.
    pub elapsed: Duration,
    /// Whether its transactions did not wait for one another (run from
    /// declared writes, [`OrderedSets::Versioned`](crate::OrderedSets::Versioned)).
    pub independent: bool,
    /// The time of the runs themselves: on one worker, every transaction
    /// in order; on more, the engine's workers from the first run to the
    /// last commit.
    pub run: Duration,
    /// The time around the runs, which more workers barely shorten: the
    /// plan before them (what each transaction is known to write), and
    /// after them the writes applied to the bank, the sets and the block's
    /// entries.
    pub serial: Duration,
    /// Of [`serial`](Self::serial), the time before the first run: the
    /// claim of the block's hashes and, on more than one worker, the plan
    /// (one worker plans nothing).
    pub plan: Duration,
    /// Of [`serial`](Self::serial), the finish after the runs: the
    /// committed runs made into the bank's writes, sets and reports (zero
    /// on one worker, whose runs leave them made).
    pub finish: Duration,
    /// Of [`run`](Self::run), on more than one worker, the time workers
    /// held the commit (which moves over the block in order, one worker at
    /// a time): where it nears `run`, the commit bounds the block.
    pub commit: Duration,
    /// The block's coinbase.
    pub coinbase: alloy_primitives::Address,
}

impl OrderedReport {
    /// Transactions whose first run stood.
    pub fn stood(&self) -> usize {
        self.txs.iter().filter(|t| t.stood).count()
    }

    /// Runs beyond the one each transaction needed ([`TxReport::reruns`]).
    pub fn reruns(&self) -> usize {
        self.txs.iter().map(TxReport::reruns).sum()
    }
}

/// Records an ordered block's transactions as they ran, in order: entries of
/// neighbours whose sets do not conflict, an exclusive entry for one
/// without a set.
pub(super) fn record_in_order<T: Transaction>(
    bank: &Bank,
    txs: &[T],
    runs: Vec<(Option<AccessSet>, AccessSource, crate::Outcome)>,
) {
    use crate::block::{BlockEntry, EntryTx};
    use crate::locks::EntryKeys;
    let mut keys = EntryKeys::default();
    let mut entry = BlockEntry::default();
    let mut outcomes = Vec::new();
    for (tx, (access, source, outcome)) in txs.iter().zip(runs) {
        let starts = match &access {
            Some(set) => entry.exclusive || !keys.try_add(set),
            None => true,
        };
        if starts && !entry.txs.is_empty() {
            bank.record_entry(std::mem::take(&mut entry), outcomes.drain(..));
        }
        if starts {
            keys.clear();
            entry.exclusive = access.is_none();
            if let Some(set) = &access {
                keys.add(set);
            }
        }
        let (access, source) = match access {
            Some(set) => (set, source),
            None => (AccessSet::default(), AccessSource::Undeclared),
        };
        entry.txs.push(EntryTx { tx: tx.encoded().clone(), access, source });
        outcomes.push((tx.hash(), outcome));
    }
    if !entry.txs.is_empty() {
        bank.record_entry(entry, outcomes);
    }
}

/// The recorded form of `report`'s sets: what [`OrderedSets::Recorded`](crate::OrderedSets::Recorded)
/// replays the block with.
pub fn recorded_sets(report: &OrderedReport) -> Vec<Admitted> {
    report.txs.iter().map(|t| Admitted { access: t.access.clone(), source: t.source }).collect()
}
