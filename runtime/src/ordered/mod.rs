//! Ordered blocks: blocks whose transactions come in a fixed order (an
//! Ethereum block), run in lanes to exactly the result of running them one by
//! one in that order ([`Bank::execute_ordered`]).
//!
//! Three ways to get each transaction's set ([`OrderedSets`]):
//! - **run** ([`optimistic`](self::optimistic)): workers run the transactions
//!   in order on the state as far as the block has come, logging what each
//!   read; at its turn a run stands if every value it read still holds,
//!   else the transaction runs again then. One run per transaction where
//!   the block allows it; its set is what the standing run touched.
//! - **recorded** ([`replay`](self::replay)): the block's own sets, locked
//!   as they were recorded; a transaction runs once every earlier one
//!   whose set conflicts with its own has finished ([`graph`](self::graph)).
//! - **versioned** ([`versioned`](self::versioned)): every transaction's
//!   writes declared ahead, value by value (a block access list): all run at
//!   once, their writes applied in order.
//!
//! Fees: in an ordered block a transaction that reads the coinbase sees the
//! fees of every transaction before it, as in Ethereum; the rest are
//! credited at the seal.
//!
//! The block records the transactions in order, cut into entries of
//! transactions whose final sets do not conflict, each with its set and where
//! the set came from; [`OrderedSets::Recorded`] replays it with those sets.

mod graph;
mod optimistic;
mod parallel;
mod replay;
mod simulate;
#[cfg(test)]
mod tests;
mod versioned;

pub use versioned::Versions;

use std::time::Duration;

use crate::access::{AccessSet, DEFAULT_MAX_ACCESS_KEYS};
use crate::admission::{AccessSource, Admitted};
use crate::bank::{Bank, BankError};
use crate::executor::{Executor, Transaction, TxError};
use crate::key::StateKey;

/// Where the transactions of an ordered block get their sets.
#[derive(Clone, Copy)]
pub enum OrderedSets<'a> {
    /// From running them: each runs once on the state as far as the block
    /// has come, and stands if every value it read still holds at its turn
    /// (else it runs again then); its set is what that run read and wrote.
    Run,
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

impl std::fmt::Debug for OrderedSets<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Run => f.write_str("Run"),
            Self::Recorded(sets) => write!(f, "Recorded({} sets)", sets.len()),
            Self::Versioned(v) => write!(f, "Versioned({} keys)", v.len()),
        }
    }
}

/// Default most keys of a run's set in an ordered block: past it the
/// transaction is recorded without a set (a replay runs it alone). Higher
/// than the bound of a declared set ([`DEFAULT_MAX_ACCESS_KEYS`]): these
/// sets are made here, not sent in.
pub const DEFAULT_ORDERED_MAX_KEYS: usize = 16 * DEFAULT_MAX_ACCESS_KEYS;

/// Settings of [`Bank::execute_ordered`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderedConfig {
    /// Worker threads, the caller's among them.
    pub threads: usize,
    /// Most keys of a run's set; a transaction touching more is recorded
    /// without one.
    pub max_keys: usize,
    /// Whether a block too small or too cheap to gain from more threads
    /// runs on fewer: at least [`MIN_TXS_PER_THREAD`] transactions other
    /// than plain transfers per thread (a transfer's few microseconds of
    /// work cost less than a parallel run's hand-offs). Off, a block runs on
    /// `threads` (the parallel engine's tests).
    pub adaptive: bool,
}

/// Fewest transactions worth a thread of an ordered block
/// ([`OrderedConfig::adaptive`]).
pub const MIN_TXS_PER_THREAD: usize = 10;

impl Default for OrderedConfig {
    fn default() -> Self {
        Self { threads: crate::cores(), max_keys: DEFAULT_ORDERED_MAX_KEYS, adaptive: true }
    }
}

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
    /// Its first run's set ([`OrderedSets::Run`]): what was found before
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
    /// declared writes, [`OrderedSets::Versioned`]).
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
    /// // Two transfers from alice that declare nothing: their sets found by
    /// // running them, in order.
    /// let send = |nonce| NativeTx::transfer(alice, nonce, bob, U256::from(30), U256::from(1)).with_declared(None);
    /// let bank = chain.new_bank(1, Address::ZERO);
    /// let report = bank.execute_ordered(&NativeExecutor, &[send(0), send(1)], OrderedSets::Run, &OrderedConfig::default())?;
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
        sets: OrderedSets<'_>,
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
        self.reserve_kept(txs.len());
        match sets {
            OrderedSets::Run => optimistic::run(self, executor, txs, config),
            OrderedSets::Recorded(sets) => replay::run(self, executor, txs, sets, config),
            OrderedSets::Versioned(versions) => {
                versioned::run(self, executor, txs, versions, config)
            }
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
