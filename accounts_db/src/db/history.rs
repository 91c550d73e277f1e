//! [`History`]: which log position each kept block's state ends at, so a view
//! of an older block is a version like any other (records before its end).
//!
//! The records themselves are the history: every record links back to the
//! previous version of its key (`prev`, and `jump` further back), so nothing
//! is copied to keep an old state. What stays in memory is one entry per kept
//! block; it is rebuilt from the commit records on open.

use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use alloy_primitives::B256;

use super::{AccountsDb, Inner, ReadView, Version, read_table, sync_dir};
use crate::config::AccountsDbConfig;
use crate::entry::CommitInfo;
use crate::error::{HistoryError, OpenError, io_err};
use crate::index::Loc;
use crate::segment::segment_path;

/// One kept block: its state is the records before `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Kept {
    pub(crate) block: u64,
    pub(crate) end: u64,
    pub(crate) commitment: B256,
}

/// The kept blocks, oldest first, at most `limit + 1` of them (`None`: all).
#[derive(Debug)]
pub(crate) struct History {
    kept: VecDeque<Kept>,
    limit: Option<u64>,
}

impl History {
    pub(crate) fn new(limit: Option<u64>) -> Self {
        Self { kept: VecDeque::new(), limit }
    }

    /// Records a block commit ending at `end`; a maintenance commit (no new
    /// block) moves the newest block's end, since its state did not change.
    pub(crate) fn push(&mut self, block: Option<CommitInfo>, end: u64) {
        match block {
            Some(c) if self.kept.back().is_none_or(|k| k.block != c.block_number) => {
                self.kept.push_back(Kept { block: c.block_number, end, commitment: c.commitment });
                let newest = c.block_number;
                while let (Some(limit), Some(oldest)) = (self.limit, self.kept.front())
                    && newest.saturating_sub(oldest.block) > limit
                {
                    self.kept.pop_front();
                }
            }
            _ => {
                if let Some(last) = self.kept.back_mut() {
                    last.end = end;
                }
            }
        }
    }

    /// The kept block that `block`'s state is: the newest at or before it.
    fn find(&self, block: u64) -> Result<Kept, HistoryError> {
        let (Some(oldest), Some(newest)) = (self.kept.front(), self.kept.back()) else {
            return Err(HistoryError::Empty);
        };
        if block > newest.block {
            return Err(HistoryError::Ahead { block, newest: newest.block });
        }
        if block < oldest.block {
            return Err(HistoryError::Pruned { block, oldest: oldest.block });
        }
        let i = self.kept.partition_point(|k| k.block <= block);
        Ok(self.kept[i - 1])
    }

    /// The oldest and newest kept block numbers.
    pub(crate) fn range(&self) -> Option<(u64, u64)> {
        Some((self.kept.front()?.block, self.kept.back()?.block))
    }

    /// Blocks kept.
    pub(crate) fn len(&self) -> usize {
        self.kept.len()
    }

    /// Memory the kept entries take.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.kept.capacity() * std::mem::size_of::<Kept>()
    }
}

impl Inner {
    /// A version showing the state after block `block`.
    pub(super) fn version_at(&self, block: u64) -> Result<Arc<Version>, HistoryError> {
        let current = self.version();
        let kept = self.history.read().find(block)?;
        if current.last.is_some_and(|c| c.block_number == kept.block) {
            return Ok(current);
        }
        let next = OnceLock::new();
        let segments = current.segments.clone();
        let _ = next.set(current);
        let last = Some(CommitInfo { block_number: kept.block, commitment: kept.commitment });
        let version = Arc::new(Version { end: kept.end, last, next, segments });
        // Compaction must not drop a tombstone such a view still reads.
        let mut older = self.older_views.lock();
        older.retain(|v| v.strong_count() > 0);
        older.push(Arc::downgrade(&version));
        Ok(version)
    }

    /// The version of the oldest kept block, when blocks older than the
    /// newest are kept.
    pub(crate) fn oldest_kept_version(&self) -> Option<Arc<Version>> {
        let (oldest, newest) = self.history.read().range()?;
        (oldest < newest).then(|| self.version_at(oldest).ok()).flatten()
    }

    pub(super) fn record_history(&self, block: Option<CommitInfo>, end: u64) {
        self.history.write().push(block, end);
    }
}

impl AccountsDb {
    /// Drops every commit after block `block` from the (closed) database in
    /// `dir`, so that it opens at the state after that block, as a chain
    /// going back to a snapshot needs; `block` must be kept
    /// ([`AccountsDbConfig::history_blocks`]). Returns that block's commit.
    ///
    /// Crash-safe without a journal: the later segments are deleted newest
    /// first, then the block's own segment is cut right after its commit
    /// record (one `ftruncate`, then grown back with zeros), each step
    /// synced. A crash at any point leaves a prefix of the log that ends at
    /// a commit at or after `block`, which opens as that commit's state; the
    /// caller sees it is still ahead and truncates again.
    pub fn truncate_after(
        dir: impl AsRef<Path>,
        config: AccountsDbConfig,
        block: u64,
    ) -> Result<CommitInfo, OpenError> {
        let dir = dir.as_ref();
        let db = Self::open(dir, config)?;
        let version = db.inner.version_at(block)?;
        let info = version.last.ok_or(HistoryError::Empty)?;
        let end = Loc::from_raw(version.end);
        let later: Vec<u32> = read_table(&db.inner)
            .iter()
            .flatten()
            .map(|s| s.id)
            .filter(|&id| id > end.segment())
            .collect();
        // Cut with the directory still locked, and nothing of it mapped by
        // this process any more but what the handle holds.
        let _lock = db.inner._lock.try_clone().map_err(io_err(dir))?;
        drop(version);
        drop(db);
        for id in later.into_iter().rev() {
            let path = segment_path(dir, id);
            std::fs::remove_file(&path).map_err(io_err(&path))?;
            sync_dir(dir)?;
        }
        let path = segment_path(dir, end.segment());
        let file = OpenOptions::new().write(true).open(&path).map_err(io_err(&path))?;
        let size = file.metadata().map_err(io_err(&path))?.len();
        file.set_len(u64::from(end.offset())).map_err(io_err(&path))?;
        crate::mmap::grow(&file, size).map_err(io_err(&path))?;
        file.sync_all().map_err(io_err(&path))?;
        sync_dir(dir)?;
        tracing::info!(target: "lanes::accounts_db", dir = %dir.display(), block, "truncated after block");
        Ok(info)
    }
}

impl ReadView {
    /// A view of the state after block `block` (the newest commit at or
    /// before it), while the database keeps that block
    /// ([`crate::AccountsDbConfig::history_blocks`]).
    pub fn at_block(&self, block: u64) -> Result<ReadView, HistoryError> {
        Ok(ReadView { inner: self.inner.clone(), version: self.inner.version_at(block)? })
    }

    /// The oldest and newest block whose state can be read, `None` before the
    /// first commit.
    pub fn history_range(&self) -> Option<(u64, u64)> {
        self.inner.history.read().range()
    }

    /// How many blocks behind the newest keep their state readable
    /// ([`crate::AccountsDbConfig::history_blocks`]; `None`: every block).
    pub fn history_blocks(&self) -> Option<u64> {
        self.inner.config.history_blocks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(n: u64) -> Option<CommitInfo> {
        Some(CommitInfo { block_number: n, commitment: B256::with_last_byte(n as u8) })
    }

    #[test]
    fn test_keeps_limit_blocks_behind_the_newest_and_finds_gaps() {
        let mut h = History::new(Some(3));
        for (n, end) in [(0, 10), (2, 20), (3, 30), (5, 50)] {
            h.push(info(n), end);
        }
        assert_eq!(h.range(), Some((2, 5)));
        assert_eq!(h.find(4).map(|k| k.end), Ok(30), "a block without a commit is the one before");
        assert_eq!(h.find(1), Err(HistoryError::Pruned { block: 1, oldest: 2 }));
        assert_eq!(h.find(6), Err(HistoryError::Ahead { block: 6, newest: 5 }));
        h.push(None, 55);
        assert_eq!(h.find(5).map(|k| k.end), Ok(55), "maintenance moves the newest end");
        let mut all = History::new(None);
        for n in 0..100 {
            all.push(info(n), n);
        }
        assert_eq!(all.range(), Some((0, 99)));
    }
}
