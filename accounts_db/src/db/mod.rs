//! The database handle: [`AccountsDb`] and the state its handles and views
//! share, and everything that works on it. The read path is in `read.rs`, a
//! commit's batch and how it is written in `batch.rs`, views in `view.rs`,
//! versions in `version.rs`; opening in `recovery.rs` (from the index's
//! checkpoint, `checkpoint.rs`); reclaiming space in `compaction.rs`, and
//! the database's own thread in `maintenance.rs`.

mod batch;
pub(crate) mod checkpoint;
mod compaction;
mod history;
mod inner;
mod kept;
mod maintenance;
mod pending;
mod read;
mod recovery;
mod traits;
mod version;
mod view;

use parking_lot::{Mutex, RwLock};
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use borsh::BorshSerialize;

use crate::config::AccountsDbConfig;
use crate::entry::{AccountHeader, CommitInfo, Entry, Key};
use crate::error::{CommitError, OpenError, StorageError, io_err};
use crate::hash::KeyHash;
use crate::index::{Index, Loc};
use crate::record::CommitRecord;
use crate::segment::Segment;

pub(crate) use batch::{Batch, new_digest};
pub use compaction::CompactionStats;
pub use history::Reverted;
pub(crate) use inner::{Inner, SlotIndex, Spare, Writer, read_horizon, read_table, sync_dir};
pub(crate) use kept::{History, Kept};
pub(crate) use pending::{Meta, Pending, SegmentState};
pub use traits::{AccountsCommit, AccountsRead};
pub(crate) use version::Version;
pub use view::ReadView;

/// A memory-mapped, append-only accounts database. See the crate docs.
#[derive(Debug)]
pub struct AccountsDb {
    inner: Arc<Inner>,
    /// The database's own threads (checkpoints and compaction; the spare
    /// segment), joined on drop.
    threads: Vec<JoinHandle<()>>,
}

/// What wakes the database's threads: a commit, or the handle's drop.
#[derive(Debug)]
pub(crate) struct Woken {
    /// A checkpoint is due ([`Inner::wake`]).
    pub(crate) maintenance: Receiver<()>,
    /// The writer wants the next segment ([`Inner::want_spare`]).
    pub(crate) spare: Receiver<()>,
}

impl Drop for AccountsDb {
    fn drop(&mut self) {
        let inner = &*self.inner;
        inner.stop.store(true, Ordering::Release);
        let _ = inner.wake.try_send(());
        let _ = inner.want_spare.try_send(());
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        // An unused spare would open as an empty newest segment: harmless,
        // but a clean close leaves none.
        if let Some(Err(e)) = inner.spare.lock().ready.take().map(Segment::delete) {
            tracing::debug!(target: "lanes::accounts_db", %e, "spare segment left");
        }
        // A clean close leaves little for the next open to replay: a
        // checkpoint the thread had begun is finished, then a second one
        // written if the first stood too far back. Dead records an open left
        // to count go into it uncounted, for the next open to count.
        let behind = || {
            let since = inner.since_checkpoint.load(Ordering::Acquire);
            inner.config.checkpoint_bytes.is_some_and(|limit| since >= limit / 8)
        };
        for _ in 0..2 {
            if !behind() || self.is_poisoned() {
                break;
            }
            if let Err(e) = inner.write_checkpoint(&AtomicBool::new(false)) {
                tracing::warn!(target: "lanes::accounts_db", %e, "no index checkpoint at close");
                break;
            }
        }
    }
}

/// Sizes and counts, for monitoring and benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DbStats {
    /// Keys in the index (deleted keys whose tombstone is still needed included).
    pub indexed_keys: usize,
    /// Segment files.
    pub segments: usize,
    /// Bytes written to segment files, headers included.
    pub written_bytes: u64,
    /// Bytes of records the index points at.
    pub live_bytes: u64,
    /// Memory of the index's in-memory part (on the heap): its tables of
    /// the keys changed since the last checkpoint, and the first key of
    /// each block of its on-disk part.
    pub index_bytes: usize,
    /// Blocks whose state is kept readable.
    pub kept_blocks: usize,
    /// Memory those blocks take: one entry each (their records are on disk).
    pub history_bytes: usize,
    /// Log bytes `open` scanned: those after the index checkpoint it read,
    /// or the whole log without one.
    pub replayed_at_open: u64,
}

/// How long [`AccountsDb::open`] tries a held lock again before it reports
/// the directory locked.
const LOCK_RETRY: std::time::Duration = std::time::Duration::from_millis(250);

/// Keys a commit looks up together ([`Inner::find_changes`]): enough that
/// their cache misses overlap, few enough that the pages they touch still
/// fit the TLB when the reads that follow the hints come (a whole
/// commit's thousands of keys did not).
const LOOKUP_CHUNK: usize = 128;

impl AccountsDb {
    /// Opens the database in `dir` as [`AccountsDb::open`] does, without
    /// its thread: the shared state, and the receiving end of its wake-ups.
    pub(crate) fn open_inner(
        dir: &Path,
        config: AccountsDbConfig,
    ) -> Result<(Arc<Inner>, Woken), OpenError> {
        config.validate().map_err(OpenError::Config)?;
        let dir = dir.to_owned();
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let lock_path = dir.join("LOCK");
        let lock_file = File::create(&lock_path).map_err(io_err(&lock_path))?;
        // A handle this process just dropped can stay locked a moment: a
        // child that another thread forks holds a copy of the descriptor
        // until it execs. So a held lock is tried again for a short while.
        let started = std::time::Instant::now();
        loop {
            match lock_file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_RETRY => {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(OpenError::Locked { path: lock_path });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&lock_path)(e).into()),
            }
        }
        let mut index = Index::new(config.index_shards);
        let rec = match recovery::recover(&dir, &config, &mut index) {
            // A damaged block of the checkpoint, found by the replay after
            // it: the file is set aside, and the whole log replayed.
            Err(OpenError::Storage(StorageError::Corrupted { file, .. }))
                if file.ends_with(crate::db::checkpoint::FILE) =>
            {
                tracing::warn!(target: "lanes::accounts_db", path = %file.display(), "index checkpoint damaged: replaying the whole log");
                index = Index::new(config.index_shards);
                recovery::recover(&dir, &config, &mut index)?
            }
            rec => rec?,
        };
        let mut history = rec.history;
        history.drop_before(read_horizon(&dir)?);
        let table = Arc::new(rec.table);
        let version = Arc::new(Version {
            end: Loc::new(rec.active.id, rec.tail as u32, false).pos(),
            last: rec.last,
            next: OnceLock::new(),
            segments: table.clone(),
        });
        let writer = Writer {
            active: rec.active,
            tail: rec.tail,
            seq: rec.seq,
            last: rec.last,
            asked_spare: false,
        };
        tracing::debug!(
            target: "lanes::accounts_db",
            dir = %dir.display(),
            keys = index.len(),
            last = ?rec.last,
            replayed = rec.replayed,
            "opened"
        );
        let (wake, woken) = std::sync::mpsc::sync_channel(1);
        let (want_spare, wanted) = std::sync::mpsc::sync_channel(1);
        let inner = Arc::new(Inner {
            dir,
            config,
            _lock: lock_file,
            index,
            segments: RwLock::new(table),
            history: RwLock::new(history),
            versions: Mutex::new(VecDeque::from([Arc::downgrade(&version)])),
            older_views: Mutex::default(),
            current: RwLock::new(version),
            writer: Mutex::new(writer),
            poisoned: AtomicBool::new(false),
            backing: std::sync::OnceLock::new(),
            since_checkpoint: AtomicU64::new(rec.replayed),
            replayed_at_open: rec.replayed,
            uncounted: Mutex::new(rec.uncounted),
            counting: Mutex::new(()),
            checkpointing: Mutex::new(None),
            compacting: Mutex::new(()),
            wake,
            spare: Mutex::new(Spare { next_id: rec.next_id, ready: None }),
            want_spare,
            stop: AtomicBool::new(false),
            slots: OnceLock::new(),
            #[cfg(test)]
            fail_next_sync: Mutex::new(None),
        });
        if inner.config.slot_index {
            let view = ReadView { inner: inner.clone(), version: inner.version() };
            let mut index = SlotIndex { at: view.last_commit(), ..SlotIndex::default() };
            view.for_each(|entry| index.take(&entry))?;
            // Nothing else has the database yet: the cell is empty.
            let _ = inner.slots.set(RwLock::new(index));
        }
        Ok((inner, Woken { maintenance: woken, spare: wanted }))
    }

    /// A handle over opened state and its threads.
    pub(crate) fn from_parts(inner: Arc<Inner>, threads: Vec<JoinHandle<()>>) -> Self {
        Self { inner, threads }
    }

    /// Writes a checkpoint of the index now (see
    /// [`AccountsDbConfig::checkpoint_bytes`]), while commits go on; returns
    /// whether one was written (none before the first commit).
    pub fn checkpoint(&self) -> Result<bool, StorageError> {
        self.inner.write_checkpoint(&AtomicBool::new(false))
    }

    /// A consistent view of the newest commit.
    pub fn view(&self) -> ReadView {
        ReadView { inner: self.inner.clone(), version: self.inner.version() }
    }

    /// A view of the state after block `block`; see [`ReadView::at_block`].
    pub fn view_at(&self, block: u64) -> Result<ReadView, crate::HistoryError> {
        self.view().at_block(block)
    }

    /// The directory the database lives in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Makes every read of a key this database never held (not written, not
    /// deleted) answer from `backing` ([`crate::Backing`]: a forked chain's
    /// upstream), for this handle and every view. Set once; a second call
    /// hands `backing` back. Compaction then keeps every tombstone.
    pub fn set_backing(
        &self,
        backing: Arc<dyn crate::Backing>,
    ) -> Result<(), Arc<dyn crate::Backing>> {
        self.inner.backing.set(backing)
    }

    /// The last durable commit, `None` before the first.
    pub fn last_commit(&self) -> Option<CommitInfo> {
        self.inner.version().last
    }

    /// Whether a failed flush has stopped this handle from committing.
    pub fn is_poisoned(&self) -> bool {
        self.inner.poisoned.load(Ordering::Acquire)
    }

    /// Writes `changes` and closes them with a commit record for
    /// `block_number`; returns once all of it is on disk. Readers see all of
    /// it or none of it. When a key appears more than once, its last change
    /// wins; an empty value deletes the key.
    pub fn commit(
        &self,
        block_number: u64,
        commitment: B256,
        changes: &[Entry],
    ) -> Result<CommitInfo, CommitError> {
        let mut w = self.inner.writer.lock();
        if let Some(last) = w.last
            && block_number <= last.block_number
        {
            return Err(CommitError::NotIncreasing { last: last.block_number, block_number });
        }
        self.commit_locked(&mut w, block_number, commitment, changes)
    }

    /// [`Self::commit`] with the writer held and the block number checked
    /// by the caller: a block after the last one, or (a revert,
    /// `history.rs`) a kept one at or before it.
    fn commit_locked(
        &self,
        w: &mut Writer,
        block_number: u64,
        commitment: B256,
        changes: &[Entry],
    ) -> Result<CommitInfo, CommitError> {
        let inner = &*self.inner;
        let started = Instant::now();
        inner.check_poisoned()?;
        let limit = inner.config.max_changes_per_commit;
        if changes.len() > limit {
            return Err(CommitError::TooManyChanges { count: changes.len(), limit });
        }
        let mut winner: HashMap<Key, usize, ahash::RandomState> =
            HashMap::with_capacity_and_hasher(changes.len(), ahash::RandomState::new());
        for (i, entry) in changes.iter().enumerate() {
            winner.insert(entry.key(), i);
        }
        let version = inner.version();
        let hashes: Vec<KeyHash> = changes.iter().map(|entry| entry.key().hash64()).collect();
        let mut batch = Batch::default();
        let mut value = Vec::with_capacity(128);
        // A chunk of keys at a time (`LOOKUP_CHUNK`): each pass of hints
        // covers a chunk, so what it brings in is still in the caches, and
        // its pages in the TLB, when the reads of that chunk come.
        for (n, chunk) in changes.chunks(LOOKUP_CHUNK).enumerate() {
            let first = n * LOOKUP_CHUNK;
            let hashes = &hashes[first..first + chunk.len()];
            let found = inner
                .find_changes(&version, chunk, hashes, |i| winner[&chunk[i].key()] == first + i)
                .map_err(CommitError::Storage)?;
            // `found` is `None` exactly for a change a later one of its key overrides.
            for ((entry, &hash), &at) in chunk.iter().zip(hashes).zip(&found) {
                let Some(at) = at else { continue };
                let key = entry.key();
                let existing = at.loc();
                let exists = existing.is_some_and(|l| !l.is_tombstone());
                value.clear();
                match entry {
                    Entry::Code(hash, code) => {
                        if code.len() > inner.config.max_code_len {
                            let limit = inner.config.max_code_len;
                            return Err(CommitError::ValueTooLarge { key, len: code.len(), limit });
                        }
                        let actual = keccak256(code);
                        if actual != *hash {
                            return Err(CommitError::CodeHashMismatch { key: *hash, actual });
                        }
                        if exists {
                            continue; // content-addressed: the same bytes are stored
                        }
                        value.extend_from_slice(&(code.len() as u32).to_le_bytes());
                        value.extend_from_slice(code);
                    }
                    Entry::Account(_, header) if !header.is_empty() => {
                        header.serialize(&mut value).expect("writing to a Vec cannot fail");
                    }
                    Entry::Storage(_, _, v) if !v.is_zero() => {
                        v.serialize(&mut value).expect("writing to a Vec cannot fail");
                    }
                    // Deleting what is not there; with a backing, a key never
                    // held may exist there, and its tombstone is its deletion.
                    _ if !exists && (existing.is_some() || inner.backing().is_none()) => continue,
                    _ => {}
                }
                let links = inner.links_after(&version, existing)?;
                batch.push(key, hash, at, links, (!entry.is_deletion()).then_some(&value[..]));
            }
        }
        let info = CommitInfo { block_number, commitment };
        let commit = CommitRecord {
            seq: w.seq + 1,
            block_number,
            commitment,
            records: 0,
            flags: 0,
            digest: 0,
        };
        inner.write_batch(w, started, batch, commit, Some(info), &[], None)?;
        if let Some(slots) = inner.slots.get() {
            slots.write().apply(changes, Some(info));
        }
        Ok(info)
    }

    /// Sizes and counts.
    pub fn stats(&self) -> DbStats {
        let inner = &*self.inner;
        let table = read_table(inner);
        let live = table.iter().flatten();
        DbStats {
            indexed_keys: inner.index.len(),
            segments: live.clone().count(),
            written_bytes: live.clone().map(|s| s.data_end()).sum(),
            live_bytes: live.map(|s| s.live()).sum(),
            index_bytes: inner.index.memory_bytes(),
            kept_blocks: inner.history.read().len(),
            history_bytes: inner.history.read().memory_bytes(),
            replayed_at_open: inner.replayed_at_open,
        }
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }
}

impl AccountsRead for AccountsDb {
    type Error = StorageError;

    fn get_account(&self, address: &Address) -> Result<Option<AccountHeader>, StorageError> {
        let inner = &*self.inner;
        inner.account(&inner.version(), address, Key::Account(*address).hash64())
    }

    fn get_storage(&self, address: &Address, slot: &B256) -> Result<U256, StorageError> {
        let inner = &*self.inner;
        inner.storage(&inner.version(), address, slot, Key::Storage(*address, *slot).hash64())
    }

    fn get_code(&self, code_hash: &B256) -> Result<Option<Bytes>, StorageError> {
        let inner = &*self.inner;
        inner.code(&inner.version(), code_hash)
    }
}

impl AccountsCommit for AccountsDb {
    type Error = CommitError;

    fn commit(
        &self,
        block_number: u64,
        commitment: B256,
        changes: &[Entry],
    ) -> Result<CommitInfo, CommitError> {
        AccountsDb::commit(self, block_number, commitment, changes)
    }

    fn last_commit(&self) -> Option<CommitInfo> {
        AccountsDb::last_commit(self)
    }
}
