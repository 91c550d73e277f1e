//! The seams: reads of committed state and durable commits, as traits a
//! caller can implement over another store.

use alloy_primitives::{Address, B256, Bytes, U256};

use crate::entry::{AccountHeader, CommitInfo, Entry};

/// Reads of committed state. Implemented by [`AccountsDb`](crate::AccountsDb)
/// (the newest commit) and by [`ReadView`](crate::ReadView) (one fixed commit).
pub trait AccountsRead {
    /// The error reads can fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The header of the account at `address`, `None` if it does not exist.
    fn get_account(&self, address: &Address) -> Result<Option<AccountHeader>, Self::Error>;
    /// The value of a storage slot (zero when unset).
    fn get_storage(&self, address: &Address, slot: &B256) -> Result<U256, Self::Error>;
    /// Code by its keccak256 hash, `None` if unknown.
    fn get_code(&self, code_hash: &B256) -> Result<Option<Bytes>, Self::Error>;
}

/// Durable commits of state changes.
pub trait AccountsCommit {
    /// The error commits can fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Writes `changes` and a commit record for `block_number`, durably.
    fn commit(
        &self,
        block_number: u64,
        commitment: B256,
        changes: &[Entry],
    ) -> Result<CommitInfo, Self::Error>;
    /// The last durable commit.
    fn last_commit(&self) -> Option<CommitInfo>;
}
