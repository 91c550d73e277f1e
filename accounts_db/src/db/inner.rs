//! [`Inner`]: what an open database and its views share (the directory,
//! the index, the live segments, the versions and the kept blocks), and the
//! single [`Writer`]'s state. Beneath every other part of `db`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, OnceLock, Weak};

use alloy_primitives::{Address, B256};
use parking_lot::{Mutex, MutexGuard, RwLock};

use super::kept::History;
use super::version::Version;
use crate::config::AccountsDbConfig;
use crate::entry::{CommitInfo, Entry};
use crate::error::{CommitError, HistoryError, StorageError, io_err};
use crate::index::Index;
use crate::segment::{Segment, SegmentTable};

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) dir: PathBuf,
    pub(crate) config: AccountsDbConfig,
    pub(super) _lock: File,
    pub(crate) index: Index,
    /// The live segments (copy on write; the writer replaces it).
    pub(crate) segments: RwLock<Arc<SegmentTable>>,
    pub(super) current: RwLock<Arc<Version>>,
    /// The kept blocks' versions, for views of older blocks.
    pub(crate) history: RwLock<History>,
    /// Every version from the oldest one still referenced to the current one.
    pub(super) versions: Mutex<VecDeque<Weak<Version>>>,
    /// Versions of older blocks made for views ([`ReadView::at_block`]).
    pub(super) older_views: Mutex<Vec<Weak<Version>>>,
    pub(crate) writer: Mutex<Writer>,
    pub(super) poisoned: AtomicBool,
    /// What reads fall back on for keys never held ([`AccountsDb::set_backing`]).
    pub(super) backing: std::sync::OnceLock<Arc<dyn crate::Backing>>,
    /// Replaced records `open` left counted live (`count_uncounted`).
    pub(crate) uncounted: Mutex<Vec<crate::index::Loc>>,
    /// Held while those are counted (one count at a time).
    pub(crate) counting: Mutex<()>,
    /// Log bytes `open` scanned.
    pub(crate) replayed_at_open: u64,
    /// Log bytes written since the newest checkpoint's commit.
    pub(crate) since_checkpoint: AtomicU64,
    /// Held while a checkpoint is written (one at a time), with the one
    /// begun and not yet written.
    pub(crate) checkpointing: Mutex<Option<super::pending::Pending>>,
    /// Held while compaction runs (one at a time).
    pub(crate) compacting: Mutex<()>,
    /// Wakes the maintenance thread (`maintenance.rs`).
    pub(crate) wake: SyncSender<()>,
    /// The segment the writer moves to next, made ahead of it.
    pub(crate) spare: Mutex<Spare>,
    /// Asks the spare thread (`maintenance.rs`) to make [`Self::spare`].
    pub(crate) want_spare: SyncSender<()>,
    /// Tells the maintenance thread, and what it runs, to stop.
    pub(crate) stop: AtomicBool,
    /// Each address's slots, where kept ([`AccountsDbConfig::slot_index`]).
    pub(crate) slots: OnceLock<RwLock<SlotIndex>>,
    /// Test hook: the next sync fails with this error.
    #[cfg(test)]
    pub(crate) fail_next_sync: Mutex<Option<std::io::ErrorKind>>,
}

/// State of the single writer.
#[derive(Debug)]
pub(crate) struct Writer {
    pub(crate) active: Arc<Segment>,
    pub(crate) tail: u64,
    pub(crate) seq: u64,
    pub(crate) last: Option<CommitInfo>,
    /// Whether the spare thread was asked for the segment after `active`.
    pub(crate) asked_spare: bool,
}

/// The next segment, made by a thread of the database's own when the active
/// one is half full, so that no commit waits for a file to be created and
/// synced (two syncs, each behind whatever the disk has queued). Ids are
/// given out here only, under this lock.
#[derive(Debug)]
pub(crate) struct Spare {
    /// The id the next segment made gets.
    pub(crate) next_id: u32,
    /// An empty segment, durable, not yet in the segment table: one a crash
    /// leaves opens as an empty newest segment.
    pub(crate) ready: Option<Segment>,
}

/// The file that names the oldest block whose state compaction left whole
/// (`horizon`): blocks before it are not offered, whatever the window.
pub(crate) const HORIZON: &str = "horizon";

/// The block in `dir`'s horizon file, 0 without one.
pub(crate) fn read_horizon(dir: &Path) -> Result<u64, StorageError> {
    let path = dir.join(HORIZON);
    match std::fs::read(&path) {
        Ok(bytes) => match <[u8; 8]>::try_from(bytes.as_slice()) {
            Ok(b) => Ok(u64::from_le_bytes(b)),
            Err(_) => Err(StorageError::Corrupted { file: path, offset: 0, reason: "not 8 bytes" }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(io_err(&path)(e)),
    }
}

pub(crate) fn read_table(inner: &Inner) -> Arc<SegmentTable> {
    inner.segments.read().clone()
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}

impl Inner {
    pub(crate) fn version(&self) -> Arc<Version> {
        self.current.read().clone()
    }

    pub(crate) fn check_poisoned(&self) -> Result<(), CommitError> {
        if self.poisoned.load(Ordering::Acquire) { Err(CommitError::Poisoned) } else { Ok(()) }
    }

    /// The versions from the oldest one still referenced to the current one,
    /// with the dropped ones at the front pruned.
    pub(super) fn live_versions(&self) -> MutexGuard<'_, VecDeque<Weak<Version>>> {
        let mut versions = self.versions.lock();
        while versions.front().is_some_and(|v| v.strong_count() == 0) {
            versions.pop_front();
        }
        versions
    }

    /// The end position of the oldest version a view still holds, views of
    /// older blocks included.
    pub(crate) fn oldest_live_end(&self) -> u64 {
        let live = self.live_versions().front().and_then(Weak::upgrade).map_or(u64::MAX, |v| v.end);
        let older = self.older_views.lock().iter().filter_map(Weak::upgrade).map(|v| v.end).min();
        older.map_or(live, |o| o.min(live))
    }
}

impl Inner {
    /// The backing reads fall back on, if one is set.
    pub(crate) fn backing(&self) -> Option<&dyn crate::Backing> {
        self.backing.get().map(|b| &**b)
    }
}

impl Inner {
    /// A version showing the state after block `block`.
    pub(crate) fn version_at(&self, block: u64) -> Result<Arc<Version>, HistoryError> {
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

    /// Records, durably and before compaction deletes anything, that blocks
    /// before `block` may have lost records: a later open with a larger
    /// window must not offer them.
    pub(crate) fn raise_horizon(&self, block: u64) -> Result<(), StorageError> {
        if read_horizon(&self.dir)? >= block {
            return Ok(());
        }
        let tmp = self.dir.join("horizon.tmp");
        let path = self.dir.join(HORIZON);
        let write = || -> std::io::Result<()> {
            let file = File::create(&tmp)?;
            std::io::Write::write_all(&mut &file, &block.to_le_bytes())?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(io_err(&path))?;
        sync_dir(&self.dir)
    }

    pub(crate) fn record_history(&self, block: Option<CommitInfo>, end: u64) {
        self.history.write().push(block, end);
    }
}

/// The slots each address holds in one commit's state
/// ([`AccountsDbConfig::slot_index`]): the newest, as the writer leaves it.
#[derive(Debug, Default)]
pub(crate) struct SlotIndex {
    /// The commit the index is of.
    pub(crate) at: Option<CommitInfo>,
    pub(crate) slots: HashMap<Address, HashSet<B256>>,
}

impl SlotIndex {
    /// Takes in written storage, of the commit `at`.
    pub(crate) fn apply(&mut self, changes: &[Entry], at: Option<CommitInfo>) {
        changes.iter().for_each(|change| self.take(change));
        self.at = at;
    }

    /// Takes in one change: a slot set to zero is deleted; other kinds of
    /// entry change nothing.
    pub(crate) fn take(&mut self, change: &Entry) {
        let Entry::Storage(address, slot, value) = change else { return };
        if !value.is_zero() {
            self.slots.entry(*address).or_default().insert(*slot);
        } else if let Some(held) = self.slots.get_mut(address) {
            held.remove(slot);
            if held.is_empty() {
                self.slots.remove(address);
            }
        }
    }
}
