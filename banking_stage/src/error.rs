//! [`SubmitError`]: why a transaction was not accepted; [`StageError`]: why
//! the stage stopped or refused a request.

use alloy_primitives::B256;
use lanes_runtime::{BankError, ChainError};

/// Why [`crate::BankingStage::submit`] refused a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// It does not decode or its signature does not recover.
    #[error("invalid transaction: {0}")]
    Invalid(String),
    /// The stage's admission refused it (see [`lanes_runtime::Admission`]).
    #[error("refused at admission: {0}")]
    Refused(lanes_runtime::TxError),
    /// The pool holds its limit of transactions.
    #[error("txpool is full ({limit} transactions)")]
    PoolFull {
        /// The pool's limit.
        limit: usize,
    },
    /// The sender already has this many queued transactions.
    #[error("sender has {limit} queued transactions, the most allowed")]
    SenderOverLimit {
        /// The per-sender limit.
        limit: usize,
    },
    /// Its nonce is already used, or taken by one that is running.
    #[error("nonce too low: next nonce {next}, transaction has {got}")]
    NonceTooLow {
        /// The sender's next usable nonce.
        next: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// It replaces a queued transaction without paying enough more.
    #[error("replacement transaction underpriced: needs a tip of at least {needed} per gas")]
    ReplacementUnderpriced {
        /// The least tip per gas that would replace it.
        needed: u128,
    },
    /// The pool already has it.
    #[error("already known: {0}")]
    AlreadyKnown(B256),
    /// Its fee cap does not cover the base fee.
    #[error("max fee per gas less than block base fee {base_fee}")]
    FeeTooLow {
        /// The base fee.
        base_fee: u64,
    },
    /// It asks for more gas than a block has.
    #[error("exceeds block gas limit: {gas} > {limit}")]
    GasLimitExceeded {
        /// Its gas limit.
        gas: u64,
        /// The block gas limit.
        limit: u64,
    },
    /// It was not admitted within the stage's admission timeout (the
    /// sigverify threads were busy); it is not in the pool.
    #[error("not admitted within {waited:?} (admission busy); try again")]
    AdmissionTimeout {
        /// How long the submission waited.
        waited: std::time::Duration,
    },
    /// The submission queue is full; try again shortly.
    #[error("banking stage busy: submission queue full")]
    Busy,
    /// The stage is shutting down.
    #[error("banking stage is shutting down")]
    ShuttingDown,
    /// Block production stopped on a failure (a block that could not be
    /// persisted, such as on a full disk); nothing is accepted.
    #[error("block production stopped: {0}")]
    Stopped(String),
}

impl SubmitError {
    /// Whether the same transaction may succeed if sent again later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::PoolFull { .. }
                | Self::SenderOverLimit { .. }
                | Self::Busy
                | Self::AdmissionTimeout { .. }
        )
    }
}

/// The banking stage stopped on a failure it cannot go past.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StageError {
    /// [`crate::BankingStage::set_next_timestamp`] with a timestamp not after the
    /// head's.
    #[error("timestamp {timestamp} is not after the latest block's ({head})")]
    TimestampNotAfterHead {
        /// The timestamp asked for.
        timestamp: u64,
        /// The head block's.
        head: u64,
    },
    /// The bank failed (committed state unreadable).
    #[error(transparent)]
    Bank(#[from] BankError),
    /// A block could not be committed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The block sink failed to persist a block; it was not committed.
    #[error("persisting block {number} failed: {source}")]
    Sink {
        /// The block's number.
        number: u64,
        /// What the sink reported.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stage thread panicked.
    #[error("banking stage thread panicked")]
    Panicked,
    /// A worker thread still held the block's bank when the block was to
    /// be sealed (a bug: the block's workers are joined before the seal).
    #[error("a worker thread still holds the block's bank; the block cannot be sealed")]
    BankHeld,
    /// [`crate::BankingStage::decide`] on a stage that does not hold blocks.
    #[error("the banking stage does not hold blocks for decisions")]
    NotHolding,
    /// The stage has stopped.
    #[error("the banking stage has stopped")]
    Stopped,
    /// [`crate::BankingStage::revert_to`] while transactions were still on
    /// their way into the pool (being predicted) or out of it: nothing was
    /// changed; stop the stage and reopen the chain instead.
    #[error("the banking stage is busy with transactions; it cannot go back in place now")]
    RevertBusy,
    /// The block sink cannot cut its blocks ([`crate::BlockSink::truncate`]).
    #[error("cutting the blocks after block {number} failed: {source}")]
    SinkTruncate {
        /// The block kept.
        number: u64,
        /// The sink's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}
