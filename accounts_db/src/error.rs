//! Errors, one type per operation (open, commit, read) plus an umbrella.

use std::io;
use std::path::PathBuf;

use alloy_primitives::B256;

use crate::entry::Key;

/// A failure to read stored data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// An I/O call on a file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Bytes on disk are not what the format allows.
    #[error("corrupted data in {file} at offset {offset}: {reason}")]
    Corrupted {
        /// The segment file.
        file: PathBuf,
        /// Byte offset of the bad record (or header) in that file.
        offset: u64,
        /// What is wrong there.
        reason: &'static str,
    },
    /// The database's backing ([`crate::Backing`]: a fork's upstream) could
    /// not answer for a key the database never held. Nothing stored is
    /// wrong: the read may succeed later.
    #[error("{0}")]
    Backing(String),
}

impl StorageError {
    /// Whether the store can no longer be trusted: every error but a
    /// backing's, which says nothing about what is stored.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, StorageError::Backing(_))
    }
}

/// A file in another format version than this build reads. lanes' one rule
/// for the files it writes (accounts segments, the chain's head file, the
/// node's ledger): each carries its format version in its header; a reader
/// reads its own version and refuses a whole file or record of another with
/// this error, changing nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{path} is in format version {found}, this build of lanes reads version {reads}: it was written by another lanes; wipe the data folder (lanes-validator --reset) or run the lanes that wrote it"
)]
pub struct FormatError {
    /// The file.
    pub path: PathBuf,
    /// Its version.
    pub found: u32,
    /// The version this build reads.
    pub reads: u32,
}

/// A block whose state the database does not keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// Older than the oldest block kept ([`crate::AccountsDbConfig::history_blocks`]).
    #[error("the state at block {block} is pruned; the oldest block kept is {oldest}")]
    Pruned {
        /// The block asked for.
        block: u64,
        /// The oldest block whose state is kept.
        oldest: u64,
    },
    /// Past the newest committed block.
    #[error("block {block} is past the newest committed block {newest}")]
    Ahead {
        /// The block asked for.
        block: u64,
        /// The newest committed block.
        newest: u64,
    },
    /// Nothing has been committed yet.
    #[error("no block has been committed yet")]
    Empty,
}

/// A failure to open a database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Another `AccountsDb` (in this or another process) has the directory open.
    #[error("the accounts database in {path} is locked by another process or handle")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The configuration cannot work (for example a segment too small for the
    /// largest value).
    #[error("invalid configuration: {0}")]
    Config(&'static str),
    /// A segment of another format version than this build reads; nothing
    /// was changed.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// Reading or recovering the stored data failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// [`crate::AccountsDb::truncate_after`] was asked for a block the
    /// database does not keep; nothing was changed.
    #[error(transparent)]
    History(#[from] HistoryError),
}

impl OpenError {
    /// Whether retrying cannot help without someone fixing the files or the config.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, Self::Locked { .. })
    }
}

/// A failure to commit. The commit did not happen unless the error says it may have.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommitError {
    /// An earlier flush failed, so this handle refuses all further commits; the
    /// durable state is whatever a reopen recovers.
    #[error("the accounts database is poisoned by an earlier failed flush; reopen it")]
    Poisoned,
    /// The disk is full. Nothing of this commit is visible; when the error came
    /// from the final flush the handle is poisoned as well.
    #[error("disk full while writing {path}")]
    DiskFull {
        /// The file being written.
        path: PathBuf,
    },
    /// Block numbers must increase from commit to commit.
    #[error("block {block_number} does not follow the last committed block {last}")]
    NotIncreasing {
        /// The last committed block.
        last: u64,
        /// The block number given.
        block_number: u64,
    },
    /// A value is larger than the configured bound.
    #[error("value of {key:?} is {len} bytes, over the limit of {limit}")]
    ValueTooLarge {
        /// The key.
        key: Key,
        /// Its encoded length.
        len: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A commit holds more changes than the configured bound.
    #[error("{count} changes in one commit, over the limit of {limit}")]
    TooManyChanges {
        /// Changes given.
        count: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A code entry's key is not the keccak256 of its bytes.
    #[error("code stored under {key} hashes to {actual}")]
    CodeHashMismatch {
        /// The key given.
        key: B256,
        /// keccak256 of the bytes.
        actual: B256,
    },
    /// Writing or flushing failed. When the flush failed the handle is poisoned.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A revert ([`crate::AccountsDb::revert_to`]) to a block the database
    /// does not keep.
    #[error(transparent)]
    History(#[from] HistoryError),
}

impl CommitError {
    /// Whether this handle can take no more commits.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Self::Poisoned | Self::Storage(_))
    }
}

/// Any error of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// From [`crate::AccountsDb::open`].
    #[error(transparent)]
    Open(#[from] OpenError),
    /// From a commit or a compaction.
    #[error(transparent)]
    Commit(#[from] CommitError),
    /// From a read.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Error {
    /// Whether the handle that returned it can no longer be used for writes.
    pub fn is_fatal(&self) -> bool {
        match self {
            Self::Open(e) => e.is_fatal(),
            Self::Commit(e) => e.is_fatal(),
            Self::Storage(e) => e.is_fatal(),
        }
    }
}

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> StorageError {
    move |source| StorageError::Io { path: path.into(), source }
}
