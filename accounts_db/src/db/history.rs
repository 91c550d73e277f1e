//! Reading and going back to older blocks: [`ReadView::at_block`],
//! [`AccountsDb::revert_to`] (in place, while open) and
//! [`AccountsDb::truncate_after`] (a closed database), over the kept blocks
//! (`kept.rs`).
//!
//! The records themselves are the history: every record links back to the
//! previous version of its key (`prev`, and `jump` further back), so nothing
//! is copied to keep an old state.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::path::Path;

use super::AccountsDb;
use super::inner::{Inner, read_table, sync_dir};
use super::version::Version;
use super::view::ReadView;
use crate::AccountsRead;
use crate::config::AccountsDbConfig;
use crate::entry::{CommitInfo, Entry, Key};
use crate::error::{CommitError, HistoryError, OpenError, StorageError, io_err};
use crate::index::Loc;
use crate::record::{Frame, Kind};
use crate::segment::{SEGMENT_HEADER_LEN, segment_path};

/// What [`AccountsDb::revert_to`] did: the block the state is now at, and
/// each key that changed, as it was before the revert and as it is now
/// (the value after that block; an empty one where the key did not exist),
/// for a caller that keeps a hash of the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reverted {
    /// The block's commit: the state's last commit from now on.
    pub info: CommitInfo,
    /// Each changed key: (before the revert, after it).
    pub changes: Vec<(Entry, Entry)>,
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
        // The index checkpoint stands after a commit that is about to go.
        let checkpoint = dir.join(crate::db::checkpoint::FILE);
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

    /// Takes the state back to block `block` in place: the next commit is
    /// `block + 1`, and views of the blocks after it are gone (views held
    /// already keep reading what they read). `block` must be kept
    /// ([`AccountsDbConfig::history_blocks`]); where the kept block at or
    /// before it is an older one, the state goes back to that one.
    ///
    /// The revert is itself a commit, as durable as any (the log is never
    /// cut): it writes each key changed after the block back to its value
    /// then, found by reading the log written since (so it takes time in
    /// proportion to the changes, not to the state), under a commit record
    /// of that block. A block number before the newest is how the log
    /// tells a revert, on open as here: the kept blocks after it are
    /// dropped. A crash before it is durable opens at the state before it.
    pub fn revert_to(&self, block: u64) -> Result<Reverted, CommitError> {
        let inner = &*self.inner;
        let mut w = inner.writer.lock();
        let target = inner.version_at(block)?;
        let info = target.last.ok_or(HistoryError::Empty)?;
        let current = inner.version();
        let then = ReadView { inner: self.inner.clone(), version: target.clone() };
        let now = ReadView { inner: self.inner.clone(), version: current.clone() };
        let mut changes = Vec::new();
        for key in inner.keys_written(&current, target.end, current.end)? {
            let (before, after) = match key {
                Key::Account(a) => (
                    Entry::Account(a, now.get_account(&a)?.unwrap_or_default()),
                    Entry::Account(a, then.get_account(&a)?.unwrap_or_default()),
                ),
                Key::Storage(a, slot) => (
                    Entry::Storage(a, slot, now.get_storage(&a, &slot)?),
                    Entry::Storage(a, slot, then.get_storage(&a, &slot)?),
                ),
                // Code is stored by its hash and read through an account's
                // code hash: what a later block stored is read by nothing.
                Key::Code(_) => continue,
            };
            if before != after {
                changes.push((before, after));
            }
        }
        drop((then, now, target, current));
        let writes: Vec<Entry> = changes.iter().map(|(_, after)| after.clone()).collect();
        self.commit_locked(&mut w, info.block_number, info.commitment, &writes)?;
        tracing::debug!(target: "lanes::accounts_db", block = info.block_number, keys = writes.len(), "reverted");
        Ok(Reverted { info, changes })
    }
}

impl Inner {
    /// The keys of the data records in the log from position `from` to
    /// `to` (each once, in the order first written), read from the
    /// segments `version` sees.
    fn keys_written(
        &self,
        version: &Version,
        from: u64,
        to: u64,
    ) -> Result<Vec<Key>, StorageError> {
        let (from, to) = (Loc::from_raw(from), Loc::from_raw(to));
        let mut seen = HashSet::new();
        let mut keys = Vec::new();
        for id in from.segment()..=to.segment() {
            let start =
                if id == from.segment() { u64::from(from.offset()) } else { SEGMENT_HEADER_LEN };
            let end = if id == to.segment() { u64::from(to.offset()) } else { u64::MAX };
            // A segment deleted since (compaction) held nothing live: what it
            // held after `from` was moved on, to later in the log.
            let scanned = self.with_segment(version, id, |seg| {
                let mut offset = start;
                while offset < end {
                    match seg.frame_at(offset) {
                        Frame::End => break,
                        Frame::Invalid(reason) => {
                            let file = seg.path().to_owned();
                            return Err(StorageError::Corrupted { file, offset, reason });
                        }
                        Frame::Record(r) => {
                            if r.kind != Kind::Commit {
                                let key = r.key();
                                if seen.insert(key) {
                                    keys.push(key);
                                }
                            }
                            offset += r.size as u64;
                        }
                    }
                }
                Ok(())
            });
            scanned.transpose()?;
        }
        Ok(keys)
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
