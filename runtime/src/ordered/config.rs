//! How an ordered block runs ([`OrderedConfig`]) and why it may not
//! ([`OrderedError`]).

use crate::access::DEFAULT_MAX_ACCESS_KEYS;
use crate::error::{BankError, TxError};
use crate::key::StateKey;

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
