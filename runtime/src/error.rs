//! Why a transaction did not run ([`TxError`]), could not be decoded
//! ([`DecodeError`]), or a bank failed ([`BankError`]): beneath everything
//! that runs transactions.

use alloy_primitives::B256;

use crate::key::StateKey;

/// Why a transaction did not produce an [`Outcome`](crate::Outcome).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxError {
    /// It touched `key`, outside its access set. Nothing it did is kept; the
    /// bank runs it again in the exclusive lane.
    #[error("access violation: {0:?} is outside the declared set")]
    AccessViolation(StateKey),
    /// It cannot be included (bad nonce, cannot pay, malformed); it is left
    /// out of the block.
    #[error("invalid transaction: {0}")]
    Invalid(String),
    /// Committed state could not be read (a storage failure, not the
    /// transaction's fault); the bank stops with an error.
    #[error("state read failed: {0}")]
    State(String),
    /// Its hash is in the block already: a block holds each hash once.
    #[error("transaction {0} is in this block already")]
    Duplicate(B256),
    /// Its run used more gas than the block had left; nothing it did is
    /// kept. It fits a later block unless `used` exceeds the block's whole
    /// gas limit.
    #[error("it used {used} gas, more than the {left} the block has left")]
    BlockFull {
        /// Gas its run used.
        used: u64,
        /// Gas the block had left.
        left: u64,
    },
    /// It takes more of the block's budget besides gas
    /// ([`Transaction::block_units`](crate::Transaction::block_units)) than the block has left; nothing it
    /// did is kept. It fits a later block unless `units` exceeds the whole
    /// budget.
    #[error("it takes {units} of the block's units besides gas, more than the {left} left")]
    BlockUnits {
        /// What it takes.
        units: u64,
        /// What the block had left.
        left: u64,
    },
}

/// A transaction could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable transaction: {0}")]
pub struct DecodeError(pub String);

/// A failure of the bank itself (not of a transaction).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BankError {
    /// Two transactions given as one entry declare conflicting sets.
    #[error("transaction {tx} conflicts with an earlier one of its entry on {key:?}")]
    ConflictingEntry {
        /// The later transaction.
        tx: B256,
        /// The key in use.
        key: StateKey,
    },
    /// Committed state could not be read; this bank must be dropped.
    #[error("state read failed: {0}")]
    State(String),
    /// The fees overflow the coinbase balance.
    #[error("coinbase balance overflows")]
    BalanceOverflow,
    /// System writes on a chain that does not allow them, or after a
    /// transaction ran.
    #[error("system writes refused: {0}")]
    System(&'static str),
    /// The block's transactions used more gas than its limit (an executor
    /// whose outcomes the bank could not check before keeping them).
    #[error("the block used {used} gas, over its limit of {limit}")]
    GasLimit {
        /// Gas used.
        used: u64,
        /// The block's gas limit.
        limit: u64,
    },
}
