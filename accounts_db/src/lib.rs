//! lanes-accounts-db: a memory-mapped, append-only accounts database.
//!
//! It stores three kinds of value: account headers by address, storage slots
//! by (address, slot) and code by its keccak256 hash. Writes arrive as commits,
//! one per block; a commit is atomic and durable when [`AccountsDb::commit`]
//! returns, and recovery on [`AccountsDb::open`] keeps exactly the last
//! complete one. Reads take `&self` from any number of threads and never wait
//! for a commit's I/O; a [`ReadView`] keeps seeing one commit while later ones
//! land.
//!
//! ```text
//!  commit(block, commitment, changes)            get_* / view()
//!        |                                              |
//!        v                                              v
//!  encode records -> pwrite -> fdatasync      index: ahash(key) -> Loc (segment, offset)
//!        |                                              |
//!        v                                              v
//!  publish: index updates, then a new Version    mmap'd segment files (read-only maps)
//!           (records before Version.end are visible; newer ones chain back via `prev`)
//! ```
//!
//! The byte layout, the commit protocol and the recovery rules are in
//! `accounts_db/DESIGN.md`.
//!
//! ```
//! use lanes_accounts_db::{AccountHeader, AccountsDb, AccountsDbConfig, AccountsRead, Entry};
//! use alloy_primitives::{Address, B256, U256};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let alice = Address::repeat_byte(0xa1);
//! let header = AccountHeader { nonce: 1, balance: U256::from(100), ..Default::default() };
//! {
//!     let db = AccountsDb::open(dir.path(), AccountsDbConfig::default())?;
//!     db.commit(1, B256::repeat_byte(1), &[
//!         Entry::Account(alice, header),
//!         Entry::Storage(alice, B256::ZERO, U256::from(7)),
//!     ])?;
//! }
//! // Reopen: the commit is there.
//! let db = AccountsDb::open(dir.path(), AccountsDbConfig::default())?;
//! assert_eq!(db.last_commit().map(|c| c.block_number), Some(1));
//! assert_eq!(db.get_account(&alice)?, Some(header));
//! assert_eq!(db.get_storage(&alice, &B256::ZERO)?, U256::from(7));
//! # Ok(())
//! # }
//! ```
//!
//! ## Layers
//!
//! Each module uses only those on its line or below (a test in
//! `tests/it/layout.rs` keeps it so):
//!
//! ```text
//!  db/maintenance            the database's own thread: checkpoints, compaction
//!  db/{compaction, history}  reclaiming space; reading and cutting back to older blocks
//!  db (AccountsDb)           open, commit, reads
//!  db/{batch, read, view, recovery, checkpoint}
//!  db/{kept, version, inner, pending} what an open database and its views share
//!  entry, loc_map, error, index, base, record, segment, backing
//!  config, hash, mmap        settings, hashing, the one unsafe module
//! ```
#![deny(unsafe_code)]
#![deny(clippy::host_endian_bytes, clippy::big_endian_bytes)]

mod backing;
mod base;
mod config;
mod db;
mod entry;
mod error;
mod hash;
mod index;
mod loc_map;
#[allow(unsafe_code)]
mod mmap;
mod record;
mod segment;

pub use backing::Backing;
pub use config::{
    AccountsDbConfig, DEFAULT_CHECKPOINT_BYTES, DEFAULT_COMPACTION_LIVE_PERCENT,
    DEFAULT_HISTORY_BLOCKS, DEFAULT_INDEX_MEMORY_BYTES, DEFAULT_INDEX_SHARDS,
    DEFAULT_MAX_CHANGES_PER_COMMIT, DEFAULT_MAX_CODE_LEN, DEFAULT_SEGMENT_SIZE, MAINTENANCE_NICER,
};
pub use db::{
    AccountsCommit, AccountsDb, AccountsRead, CompactionStats, DbStats, ReadView, Reverted,
};
pub use entry::{AccountHeader, CommitInfo, Entry, Key};
pub use error::{CommitError, Error, FormatError, HistoryError, OpenError, StorageError};
pub use hash::{KeyHash, hash_key_words, key_hash};

#[cfg(test)]
mod tests;
