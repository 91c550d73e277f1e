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
    /// Its first run, on the state as far as the block had come (earlier
    /// transactions may still have been running), every value read logged.
    Run,
    /// Its turn: checking that what its run read still held, and applying
    /// its writes.
    Commit,
    /// Run again at its turn, on exactly the state every earlier
    /// transaction left: a value its first run read had changed since.
    Rerun,
    /// Under its recorded set's locks (a replay), or from declared writes.
    Execute,
    /// Alone with every key, once every earlier transaction had finished (a
    /// replay of a transaction recorded without a set).
    Alone,
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
    /// Work done on one thread after the transactions ran (applying a
    /// versioned block's writes in order), which more workers do not shorten.
    pub serial: Duration,
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
            bank.record_entry(std::mem::take(&mut entry), std::mem::take(&mut outcomes));
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
