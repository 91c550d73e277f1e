//! How an ordered block runs ([`OrderedConfig`]) and why it may not
//! ([`OrderedError`]).

use crate::access::{AccessSet, AccessSource, DEFAULT_MAX_ACCESS_KEYS};
use crate::admitted::Admitted;
use crate::error::{BankError, TxError};
use crate::key::StateKey;
use crate::outcome::Outcome;
use crate::versions::Versions;

/// Default most keys of a run's set in an ordered block: past it the
/// transaction is recorded without a set (a replay runs it alone). Higher
/// than the bound of a declared set ([`DEFAULT_MAX_ACCESS_KEYS`]): these
/// sets are made here, not sent in.
pub const DEFAULT_ORDERED_MAX_KEYS: usize = 16 * DEFAULT_MAX_ACCESS_KEYS;

/// Settings of [`Bank::execute_ordered`](crate::Bank::execute_ordered).
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
    /// work cost less than a parallel run's hand-offs), and one thread where
    /// those transactions' gas budgets ([`Transaction::gas_budget`]) add up
    /// to less than [`MIN_PARALLEL_GAS`] and [`PARALLEL_GAS_PER_TRANSFER`]
    /// for each plain transfer. Off, a block runs on `threads`
    /// (the parallel engine's tests).
    ///
    /// [`Transaction::gas_budget`]: crate::Transaction::gas_budget
    pub adaptive: bool,
}

/// Fewest transactions worth a thread of an ordered block
/// ([`OrderedConfig::adaptive`]).
pub const MIN_TXS_PER_THREAD: usize = 10;

/// Least gas, summed over the gas limits of an ordered block's
/// transactions other than plain transfers, worth more than one thread
/// ([`OrderedConfig::adaptive`]). Measured on 62 mainnet blocks on 16
/// cores (docs/figures.md, "One Block-STM engine"): below it, a second
/// worker made blocks slower about as often as faster, and the slowest
/// (payouts and 2016–2017 blocks of 5–10 µs calls) up to 2.6x slower.
pub const MIN_PARALLEL_GAS: u64 = 8_000_000;

/// Gas each plain transfer of an ordered block adds to
/// [`MIN_PARALLEL_GAS`] at 2 threads, `2 / threads` of it at more
/// ([`OrderedConfig::adaptive`]): on more than one thread every transaction
/// pays for its versions, its check and its share of the plan and the
/// finish (about 2.5 µs on 2 cores, more than a transfer's own run), so a
/// block of payouts beside a few calls ran slower on 2 workers than on 1.
/// Measured on 2 cores (docs/figures.md, "One Block-STM engine": 15274915,
/// 1,152 transfers beside 13.1M gas of calls, lost; 13217637, 983 beside
/// 27.8M, gained; any value from 5,000 to 19,000 parts them); the scaling
/// with threads follows the model (a transfer's cost shared by the
/// workers), not a measurement.
pub const PARALLEL_GAS_PER_TRANSFER: u64 = 10_000;

impl Default for OrderedConfig {
    fn default() -> Self {
        Self { threads: crate::cores(), max_keys: DEFAULT_ORDERED_MAX_KEYS, adaptive: true }
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

/// Where the transactions of an ordered block get their sets.
#[derive(Clone, Copy)]
pub enum OrderedSets<'a> {
    /// From running them: each reads the newest versions earlier runs
    /// wrote, and stands once every value it read is checked to hold; its
    /// set is what its standing run read and wrote.
    Run,
    /// The sets the block recorded, one per transaction in order (a replay):
    /// nothing is predicted, a transaction with no set may touch any key,
    /// and one that leaves its set makes the block invalid.
    Recorded(&'a [Admitted]),
    /// Every transaction's writes declared ahead, value by value ([`Versions`]:
    /// an EVM block's access list): each reads what the earlier ones wrote
    /// from the declaration until their runs replace it, so none waits. The
    /// block's result is the runs', whatever the declaration says; the
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

/// [`OrderedSets`] inside the engine.
pub(super) type Source<'a> = OrderedSets<'a>;

impl OrderedSets<'_> {
    /// Transaction `i`'s recorded set where the block's sets are recorded
    /// (`Some(None)`: recorded without one; an empty set is none).
    pub(super) fn recorded(&self, i: usize) -> Option<Option<AccessSet>> {
        match self {
            Self::Recorded(sets) => Some(sets[i].access.clone().filter(|s| !s.is_empty())),
            Self::Run | Self::Versioned(_) => None,
        }
    }

    /// The set transaction `i` keeps and where it came from: its recorded
    /// set, else `found` (what its run touched); without a set, undeclared.
    pub(super) fn kept(
        &self,
        i: usize,
        found: impl FnOnce() -> Option<AccessSet>,
    ) -> (Option<AccessSet>, AccessSource) {
        let (set, source) = match self {
            Self::Recorded(sets) => (self.recorded(i).flatten(), sets[i].source),
            Self::Versioned(_) => (found(), AccessSource::Declared),
            Self::Run => (found(), AccessSource::Predicted),
        };
        let source = if set.is_some() { source } else { AccessSource::Undeclared };
        (set, source)
    }
}

/// A committed transaction's set, where it came from, and its outcome.
pub(super) type Done = (Option<AccessSet>, AccessSource, Outcome);
