//! Ordered blocks: blocks whose transactions come in a fixed order (an
//! Ethereum block), run in lanes to exactly the result of running them one by
//! one in that order ([`Bank::execute_ordered`]).
//!
//! Each transaction gets a set: recorded with the block (replay), known
//! without running it, or predicted by running it against the parent state,
//! all predictions in parallel. A transaction runs once every earlier
//! transaction whose set conflicts with its own has finished
//! ([`graph`](self::graph)); transactions whose turns are open run side by
//! side on the workers, each through a lock-checked [`StateView`].
//!
//! ```text
//!   predict (parallel, parent state) ──> register in block order ──> ready?
//!        │ prediction stands: no earlier set writes what it touched      │
//!        └──────────────> apply its writes <────────────────── yes ──────┤
//!                          run under its set <──────────────── no ───────┘
//!                                 │ left its set
//!                                 v
//!        alone, once every earlier transaction has finished: run against the
//!        state they left, noting what it touches (its set re-predicted); later
//!        transactions that finished and conflict with that set are undone and
//!        run again
//! ```
//!
//! Fees: in an ordered block a transaction that reads the coinbase sees the
//! fees of every transaction before it, as in Ethereum: it waits for all of
//! them, and their fees are credited to the coinbase first; the rest are
//! credited at the seal.
//!
//! The block records the transactions in order, cut into entries of
//! transactions whose final sets do not conflict, each with its set and where
//! the set came from; [`OrderedSets::Recorded`] replays it with those sets and
//! no prediction.

mod engine;
mod graph;
mod simulate;
#[cfg(test)]
mod tests;
mod versioned;

pub use versioned::Versions;

use std::time::Duration;

use crate::access::{AccessSet, DEFAULT_MAX_ACCESS_KEYS};
use crate::admission::{AccessSource, Admission, Admitted};
use crate::bank::{Bank, BankError};
use crate::executor::{Executor, Transaction, TxError};
use crate::key::StateKey;

/// Where the transactions of an ordered block get their sets.
pub enum OrderedSets<'a, T> {
    /// From the hook: [`Admission::admit`] (known without running), else a
    /// run against the parent state, or, when that run is invalid on the
    /// parent state (a later nonce of a sender, say), [`Admission::predict`].
    /// A transaction that leaves its set runs again, alone, against the state
    /// every earlier transaction left.
    Predict(&'a dyn Admission<T>),
    /// The sets the block recorded, one per transaction in order (a replay):
    /// nothing is predicted, a transaction with no set runs alone with every
    /// key, and one that leaves its set makes the block invalid.
    Recorded(&'a [Admitted]),
    /// Every transaction's writes declared ahead, value by value ([`Versions`]:
    /// an EVM block's access list): each reads what the earlier ones wrote
    /// from the declaration, so all run at once and none is predicted. The
    /// declaration's owner checks afterwards that what ran wrote and read
    /// what it declares.
    Versioned(&'a Versions),
}

impl<T> Clone for OrderedSets<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for OrderedSets<'_, T> {}

impl<T> std::fmt::Debug for OrderedSets<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Predict(_) => f.write_str("Predict"),
            Self::Recorded(sets) => write!(f, "Recorded({} sets)", sets.len()),
            Self::Versioned(v) => write!(f, "Versioned({} keys)", v.len()),
        }
    }
}

/// Default most keys of a predicted set in an ordered block: past it the
/// transaction runs alone. Higher than the bound of a declared set
/// ([`DEFAULT_MAX_ACCESS_KEYS`]): these sets are made here, not sent in.
pub const DEFAULT_ORDERED_MAX_KEYS: usize = 16 * DEFAULT_MAX_ACCESS_KEYS;

/// Settings of [`Bank::execute_ordered`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderedConfig {
    /// Worker threads, the caller's among them.
    pub threads: usize,
    /// Whether a prediction whose set no earlier transaction writes stands
    /// as the transaction's result (its writes applied, one run instead of
    /// two). On by default: `scripts/mainnet-blocks.sh` measures both.
    pub reuse_predictions: bool,
    /// Most keys of a predicted set; a transaction touching more runs alone.
    pub max_keys: usize,
}

impl Default for OrderedConfig {
    fn default() -> Self {
        Self {
            threads: crate::cores(),
            reuse_predictions: true,
            max_keys: DEFAULT_ORDERED_MAX_KEYS,
        }
    }
}

/// What one run of a transaction was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunKind {
    /// Against the parent state, noting what it touched: its prediction.
    Predict,
    /// Its prediction stood: the prediction's writes were applied.
    Apply,
    /// Under its set's locks.
    Execute,
    /// Under its set's locks, and it left the set: discarded.
    Strayed,
    /// Alone, once every earlier transaction had finished: against the state
    /// they left, noting what it touched (or, replaying, with every key).
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
    /// Whether its prediction stood as its result.
    pub stood: bool,
    /// How many times a finished run of it was undone (an earlier
    /// transaction left its set and turned out to conflict with it).
    pub undone: u32,
    /// Whether its set reads the coinbase, so it waited for every earlier
    /// transaction (whose fees it must see).
    pub reads_coinbase: bool,
    /// The key it first touched outside its set, if it did.
    pub strayed: Option<StateKey>,
    /// Its first predicted set, where its set was predicted (what admission
    /// would have locked for it), to judge the prediction by what it did.
    pub first_prediction: Option<AccessSet>,
}

impl TxReport {
    /// Runs beyond the one it needed: runs under locks after a prediction
    /// that did not stand, strayed runs, alone runs and undone runs.
    pub fn reruns(&self) -> usize {
        self.runs.iter().filter(|r| r.kind != RunKind::Apply).count().saturating_sub(1)
    }

    /// What its misprediction cost: the time of its runs that left their
    /// set or ran alone, and of the runs undone (taken as its last run
    /// under locks, once per undo).
    pub fn misprediction_cost(&self) -> Duration {
        let time = |kinds: &[RunKind]| -> Duration {
            self.runs.iter().filter(|r| kinds.contains(&r.kind)).map(|r| r.time).sum()
        };
        let last = self.runs.iter().rev().find(|r| r.kind == RunKind::Execute);
        let undone = last.map_or(Duration::ZERO, |r| r.time * self.undone);
        time(&[RunKind::Strayed, RunKind::Alone]) + undone
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
    /// declared writes, [`OrderedSets::Versioned`]).
    pub independent: bool,
    /// Work done on one thread after the transactions ran (applying a
    /// versioned block's writes in order), which more workers do not shorten.
    pub serial: Duration,
}

impl OrderedReport {
    /// Transactions whose prediction stood.
    pub fn stood(&self) -> usize {
        self.txs.iter().filter(|t| t.stood).count()
    }

    /// Runs beyond the one each transaction needed ([`TxReport::reruns`]).
    pub fn reruns(&self) -> usize {
        self.txs.iter().map(TxReport::reruns).sum()
    }
}

/// Why an ordered block could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OrderedError {
    /// A transaction is invalid on the state every earlier one left (a bad
    /// nonce, a sender that cannot pay): the block is invalid.
    #[error("transaction {index} is invalid: {error}")]
    Invalid {
        /// Its place in the block.
        index: usize,
        /// Why.
        error: TxError,
    },
    /// A transaction touched a key outside the set the block recorded.
    #[error("transaction {index} touches {key:?}, outside its recorded set")]
    LeftItsSet {
        /// Its place in the block.
        index: usize,
        /// The key.
        key: StateKey,
    },
    /// The recorded sets do not match the transactions one for one.
    #[error("{sets} recorded sets for {txs} transactions")]
    SetCount {
        /// Sets given.
        sets: usize,
        /// Transactions given.
        txs: usize,
    },
    /// The bank failed (state unreadable, a worker panicked).
    #[error(transparent)]
    Bank(#[from] BankError),
}

impl Bank {
    /// Runs `txs`, an ordered block's transactions, to exactly the result of
    /// running them one by one in this order, on up to `config.threads`
    /// threads, and records them in this order (receipts, cumulative gas and
    /// entries). Sets come from `sets`. Nothing must have run on this bank
    /// but [`Bank::apply_derived`] writes.
    ///
    /// ```
    /// use lanes_runtime::{AccessSource, Admitted, Chain, Genesis, OrderedConfig, OrderedSets};
    /// use lanes_runtime::native::{NativeExecutor, NativeTx};
    /// use lanes_accounts_db::{AccountHeader, AccountsDbConfig, AccountsRead, Entry};
    /// use alloy_primitives::{Address, U256};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let (alice, bob) = (Address::repeat_byte(1), Address::repeat_byte(2));
    /// let funded = AccountHeader { balance: U256::from(100), ..Default::default() };
    /// let genesis = Genesis { alloc: vec![Entry::Account(alice, funded)], gas_limit: 1_000_000, ..Default::default() };
    /// let mut chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis)?;
    ///
    /// // Two transfers from alice that declare nothing: predicted, in order.
    /// let send = |nonce| NativeTx::transfer(alice, nonce, bob, U256::from(30), U256::from(1)).with_declared(None);
    /// let bank = chain.new_bank(1, Address::ZERO);
    /// let hook = lanes_runtime::native::NativeAdmission;
    /// let report = bank.execute_ordered(&NativeExecutor, &[send(0), send(1)], OrderedSets::Predict(&hook), &OrderedConfig::default())?;
    /// assert_eq!(report.txs.len(), 2);
    /// chain.commit(&bank.seal()?)?;
    /// assert_eq!(chain.db().get_account(&bob)?.unwrap().balance, U256::from(60));
    /// # Ok(())
    /// # }
    /// ```
    pub fn execute_ordered<E: Executor>(
        &self,
        executor: &E,
        txs: &[E::Tx],
        sets: OrderedSets<'_, E::Tx>,
        config: &OrderedConfig,
    ) -> Result<OrderedReport, OrderedError> {
        if let OrderedSets::Recorded(recorded) = sets
            && recorded.len() != txs.len()
        {
            return Err(OrderedError::SetCount { sets: recorded.len(), txs: txs.len() });
        }
        let fresh = self.claim(txs.iter().map(Transaction::hash));
        if let Some(index) = fresh.iter().position(|fresh| !fresh) {
            let error = TxError::Duplicate(txs[index].hash());
            return Err(OrderedError::Invalid { index, error });
        }
        match sets {
            OrderedSets::Versioned(versions) => {
                versioned::run(self, executor, txs, versions, config)
            }
            _ => engine::run(self, executor, txs, sets, config),
        }
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

/// The recorded form of `report`'s sets: what [`OrderedSets::Recorded`]
/// replays the block with.
pub fn recorded_sets(report: &OrderedReport) -> Vec<Admitted> {
    report.txs.iter().map(|t| Admitted { access: t.access.clone(), source: t.source }).collect()
}
