//! What a database falls back on for a key it has never held
//! ([`Backing`]): a forked chain's upstream, whose state at the fork block
//! is the chain's starting state, read a key at a time as it is needed.
//!
//! A key the database holds (written by any block, or deleted: a tombstone)
//! never reaches the backing, so a local write or deletion always wins; a
//! database with a backing keeps its tombstones through compaction, or a
//! deleted key would read the backing's value again.

use alloy_primitives::{Address, B256, Bytes, U256};

use crate::entry::AccountHeader;
use crate::error::StorageError;

/// Values for the keys a database never held. Called from any reader's
/// thread; it answers from its own cache or fetches, and a failure it
/// cannot recover from is [`StorageError::Backing`], naming its cause.
pub trait Backing: Send + Sync + std::fmt::Debug {
    /// The account at `address` (`None`: no account).
    fn account(&self, address: &Address) -> Result<Option<AccountHeader>, StorageError>;
    /// A storage slot (zero when unset).
    fn storage(&self, address: &Address, slot: &B256) -> Result<U256, StorageError>;
    /// Code by its hash (of an account the backing answered).
    fn code(&self, hash: &B256) -> Result<Option<Bytes>, StorageError>;
}
