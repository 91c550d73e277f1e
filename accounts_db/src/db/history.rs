//! Reading and cutting back to older blocks: [`ReadView::at_block`] and
//! [`AccountsDb::truncate_after`], over the kept blocks (`kept.rs`).
//!
//! The records themselves are the history: every record links back to the
//! previous version of its key (`prev`, and `jump` further back), so nothing
//! is copied to keep an old state.

use std::fs::OpenOptions;
use std::path::Path;

use super::AccountsDb;
use super::inner::{read_table, sync_dir};
use super::view::ReadView;
use crate::config::AccountsDbConfig;
use crate::entry::CommitInfo;
use crate::error::{HistoryError, OpenError, io_err};
use crate::index::Loc;
use crate::segment::segment_path;

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
        // The index checkpoint stands after a commit that is about to go.
        let checkpoint = dir.join(crate::checkpoint::FILE);
        match std::fs::remove_file(&checkpoint) {
            Ok(()) => sync_dir(dir)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&checkpoint)(e).into()),
        }
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
