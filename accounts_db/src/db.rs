//! The database handle: reads through versioned views, and the commit path.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock, Weak};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use borsh::{BorshDeserialize, BorshSerialize};
use xxhash_rust::xxh3::Xxh3;

use crate::config::AccountsDbConfig;
use crate::entry::{AccountHeader, CommitInfo, Entry, Key};
use crate::error::{CommitError, OpenError, StorageError, io_err};
use crate::hash::KeyHash;
use crate::index::{Index, Loc};
use crate::record::{self, CommitRecord, NO_PREV, RawRecord};
use crate::recovery;
use crate::segment::{SEGMENT_HEADER_LEN, Segment, SegmentTable, segment_path};

/// Reads of committed state. Implemented by [`AccountsDb`] (the newest commit)
/// and by [`ReadView`] (one fixed commit).
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

/// A memory-mapped, append-only accounts database. See the crate docs.
#[derive(Debug)]
pub struct AccountsDb {
    inner: Arc<Inner>,
}

/// A consistent read-only view of one commit. It keeps seeing that commit while
/// later commits and compactions go on, and never blocks them.
#[derive(Debug, Clone)]
pub struct ReadView {
    inner: Arc<Inner>,
    version: Arc<Version>,
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
    /// Memory of the in-memory index (its tables live in their own
    /// anonymous mappings, outside the heap).
    pub index_bytes: usize,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) dir: PathBuf,
    pub(crate) config: AccountsDbConfig,
    _lock: File,
    pub(crate) index: Index,
    /// The live segments (copy on write; the writer replaces it).
    pub(crate) segments: RwLock<Arc<SegmentTable>>,
    current: RwLock<Arc<Version>>,
    /// Every version from the oldest one still referenced to the current one.
    versions: Mutex<VecDeque<Weak<Version>>>,
    pub(crate) writer: Mutex<Writer>,
    poisoned: AtomicBool,
    /// Test hook: the next sync fails with this error.
    #[cfg(test)]
    pub(crate) fail_next_sync: Mutex<Option<std::io::ErrorKind>>,
}

/// One published state: records before `end` (a [`Loc::pos`]) are visible.
#[derive(Debug)]
pub(crate) struct Version {
    pub(crate) end: u64,
    last: Option<CommitInfo>,
    /// The version published after this one. Old versions keep newer ones
    /// alive, so "no reference to version k" means "no view at k or older".
    next: OnceLock<Arc<Version>>,
    /// The segments live when this version was published. Holding them keeps
    /// segments that compaction deletes later mapped for views of this version.
    segments: Arc<SegmentTable>,
}

impl Drop for Version {
    fn drop(&mut self) {
        // Unlink the chain iteratively, so dropping a long-held old view does
        // not recurse once per later version.
        let mut next = self.next.take();
        while let Some(version) = next {
            next = match Arc::into_inner(version) {
                Some(mut v) => v.next.take(),
                None => None,
            };
        }
    }
}

/// State of the single writer.
#[derive(Debug)]
pub(crate) struct Writer {
    pub(crate) active: Arc<Segment>,
    pub(crate) tail: u64,
    pub(crate) next_id: u32,
    pub(crate) seq: u64,
    pub(crate) last: Option<CommitInfo>,
}

/// Records encoded for one commit, before they have a place on disk.
#[derive(Default)]
pub(crate) struct Batch {
    buf: Vec<u8>,
    records: Vec<Pending>,
    digest: Xxh3,
}

struct Pending {
    key: Key,
    offset: u32,
    size: u32,
    tombstone: bool,
}

impl Batch {
    /// Adds a record with `value` (`None`: a tombstone).
    pub(crate) fn push(&mut self, key: Key, prev: u64, value: Option<&[u8]>) {
        let offset = self.buf.len() as u32;
        let checksum = record::put_data(&mut self.buf, &key, prev, value);
        self.add(key, offset, value.is_none(), checksum);
    }

    /// Adds a copy of `record`, whose previous version is at `prev`.
    pub(crate) fn push_moved(&mut self, record: &RawRecord<'_>, prev: Loc) {
        let offset = self.buf.len() as u32;
        let checksum = record::put_moved(&mut self.buf, record, prev.raw());
        self.add(record.key(), offset, record.tombstone, checksum);
    }

    fn add(&mut self, key: Key, offset: u32, tombstone: bool, checksum: u64) {
        let size = self.buf.len() as u32 - offset;
        self.digest.update(&checksum.to_le_bytes());
        self.records.push(Pending { key, offset, size, tombstone });
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }
}

/// The running digest of a commit's record checksums, as recovery recomputes it.
pub(crate) fn new_digest() -> Xxh3 {
    Xxh3::new()
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn read_table(inner: &Inner) -> Arc<SegmentTable> {
    read(&inner.segments).clone()
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}

impl AccountsDb {
    /// Opens (or creates) the database in `dir`, recovering the last complete
    /// commit. Holds an exclusive lock on the directory until dropped.
    pub fn open(dir: impl AsRef<Path>, config: AccountsDbConfig) -> Result<Self, OpenError> {
        config.validate().map_err(OpenError::Config)?;
        let dir = dir.as_ref().to_owned();
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let lock_path = dir.join("LOCK");
        let lock_file = File::create(&lock_path).map_err(io_err(&lock_path))?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(OpenError::Locked { path: lock_path });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&lock_path)(e).into()),
        }
        let index = Index::new(config.index_shards);
        let rec = recovery::recover(&dir, &config, &index)?;
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
            next_id: rec.next_id,
            seq: rec.seq,
            last: rec.last,
        };
        tracing::debug!(
            target: "lanes::accounts_db",
            dir = %dir.display(),
            keys = index.len(),
            last = ?rec.last,
            "opened"
        );
        Ok(Self {
            inner: Arc::new(Inner {
                dir,
                config,
                _lock: lock_file,
                index,
                segments: RwLock::new(table),
                versions: Mutex::new(VecDeque::from([Arc::downgrade(&version)])),
                current: RwLock::new(version),
                writer: Mutex::new(writer),
                poisoned: AtomicBool::new(false),
                #[cfg(test)]
                fail_next_sync: Mutex::new(None),
            }),
        })
    }

    /// A consistent view of the newest commit.
    pub fn view(&self) -> ReadView {
        ReadView { inner: self.inner.clone(), version: self.inner.version() }
    }

    /// The directory the database lives in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
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
        let inner = &*self.inner;
        let mut w = lock(&inner.writer);
        inner.check_poisoned()?;
        let limit = inner.config.max_changes_per_commit;
        if changes.len() > limit {
            return Err(CommitError::TooManyChanges { count: changes.len(), limit });
        }
        if let Some(last) = w.last
            && block_number <= last.block_number
        {
            return Err(CommitError::NotIncreasing { last: last.block_number, block_number });
        }
        let mut winner: HashMap<Key, usize, ahash::RandomState> =
            HashMap::with_capacity_and_hasher(changes.len(), ahash::RandomState::new());
        for (i, entry) in changes.iter().enumerate() {
            winner.insert(entry.key(), i);
        }
        let version = inner.version();
        let mut batch = Batch::default();
        let mut value = Vec::with_capacity(128);
        for (i, entry) in changes.iter().enumerate() {
            let key = entry.key();
            if winner[&key] != i {
                continue;
            }
            let existing = inner.index.get(&key, |l| inner.holds(&version, l, &key));
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
                _ if !exists => continue, // deleting what is not there
                _ => {}
            }
            let prev = existing.map_or(NO_PREV, Loc::raw);
            batch.push(key, prev, (!entry.is_deletion()).then_some(&value[..]));
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
        inner.write_batch(&mut w, batch, commit, Some(info), &[], None)?;
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
        }
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }
}

impl Inner {
    pub(crate) fn version(&self) -> Arc<Version> {
        read(&self.current).clone()
    }

    pub(crate) fn check_poisoned(&self) -> Result<(), CommitError> {
        if self.poisoned.load(Ordering::Acquire) { Err(CommitError::Poisoned) } else { Ok(()) }
    }

    /// The versions from the oldest one still referenced to the current one,
    /// with the dropped ones at the front pruned.
    fn live_versions(&self) -> MutexGuard<'_, VecDeque<Weak<Version>>> {
        let mut versions = lock(&self.versions);
        while versions.front().is_some_and(|v| v.strong_count() == 0) {
            versions.pop_front();
        }
        versions
    }

    /// The end position of the oldest version a view still holds.
    pub(crate) fn oldest_live_end(&self) -> u64 {
        self.live_versions().front().and_then(Weak::upgrade).map_or(u64::MAX, |v| v.end)
    }

    /// Runs `f` on segment `id`: from `version`'s own table (no lock), else
    /// from the tables of later versions (a segment made, or made and deleted,
    /// after `version`), else from the live table (one being written now).
    fn with_segment<R>(
        &self,
        version: &Version,
        id: u32,
        f: impl FnOnce(&Segment) -> R,
    ) -> Option<R> {
        let mut ver = version;
        loop {
            if let Some(Some(seg)) = ver.segments.get(id as usize) {
                return Some(f(seg));
            }
            if let Some(next) = ver.next.get() {
                ver = next;
                continue;
            }
            let table = read(&self.segments).clone();
            if let Some(Some(seg)) = table.get(id as usize) {
                return Some(f(seg));
            }
            // Not live either: it was made after `ver` was current and has been
            // deleted since, so a later version (which holds it) now follows
            // `ver`. Without one the segment never existed.
            ver = ver.next.get()?;
        }
    }

    /// Runs `f` on the data record at `loc`; `f`'s error is a reason the bytes
    /// are corrupted.
    pub(crate) fn read_record<R>(
        &self,
        version: &Version,
        loc: Loc,
        f: impl FnOnce(RawRecord<'_>) -> Result<R, &'static str>,
    ) -> Result<R, StorageError> {
        self.with_segment(version, loc.segment(), |seg| {
            let record = seg.record_at(loc)?;
            f(record).map_err(|reason| StorageError::Corrupted {
                file: seg.path().to_owned(),
                offset: loc.offset().into(),
                reason,
            })
        })
        .unwrap_or_else(|| {
            Err(StorageError::Corrupted {
                file: segment_path(&self.dir, loc.segment()),
                offset: loc.offset().into(),
                reason: "index points into a missing segment",
            })
        })
    }

    /// Whether the record at `loc` stores `key`. An unreadable record answers
    /// yes, so the read that follows reports the damage.
    pub(crate) fn holds(&self, version: &Version, loc: Loc, key: &Key) -> bool {
        self.read_record(version, loc, |r| Ok(r.has_key(key))).unwrap_or(true)
    }

    /// Follows `loc`'s chain of versions back to the one visible in `version`.
    fn visible(&self, version: &Version, mut loc: Loc) -> Result<Option<Loc>, StorageError> {
        while loc.pos() >= version.end {
            let prev = self.read_record(version, loc, |r| Ok(r.prev()))?;
            if prev == NO_PREV {
                return Ok(None);
            }
            loc = Loc::from_raw(prev);
        }
        Ok((!loc.is_tombstone()).then_some(loc))
    }

    /// Reads `key`, whose [`Key::hash64`] is `hash`, as of `version`: one
    /// index probe and, in the common case, one record read.
    fn get<T>(
        &self,
        version: &Version,
        key: &Key,
        hash: KeyHash,
        decode: impl Fn(&[u8]) -> Option<T>,
    ) -> Result<Option<T>, StorageError> {
        if let Some(head) = self.index.primary(hash)
            && let Some(found) = self.lookup(version, head, key, &decode)?
        {
            return Ok(found);
        }
        match self.index.overflow(key) {
            Some(head) => Ok(self.lookup(version, head, key, &decode)?.flatten()),
            None => Ok(None),
        }
    }

    /// `None` if the record at `head` stores another key; else `key`'s value
    /// as of `version`.
    fn lookup<T>(
        &self,
        version: &Version,
        head: Loc,
        key: &Key,
        decode: &impl Fn(&[u8]) -> Option<T>,
    ) -> Result<Option<Option<T>>, StorageError> {
        enum Step<T> {
            Other,
            Found(Option<T>),
            Older(u64),
        }
        let step = self.read_record(version, head, |r| {
            Ok(if !r.has_key(key) {
                Step::Other
            } else if head.pos() >= version.end {
                Step::Older(r.prev())
            } else if r.tombstone {
                Step::Found(None)
            } else {
                Step::Found(Some(decode(r.value()).ok_or("stored value does not decode")?))
            })
        })?;
        match step {
            Step::Other => Ok(None),
            Step::Found(value) => Ok(Some(value)),
            Step::Older(NO_PREV) => Ok(Some(None)),
            Step::Older(prev) => match self.visible(version, Loc::from_raw(prev))? {
                None => Ok(Some(None)),
                Some(loc) => self.read_record(version, loc, |r| {
                    decode(r.value()).map(|v| Some(Some(v))).ok_or("stored value does not decode")
                }),
            },
        }
    }

    /// Size on disk of the record at `loc` (0 if unreadable).
    pub(crate) fn record_size(&self, version: &Version, loc: Loc) -> u64 {
        self.read_record(version, loc, |r| Ok(r.size as u64)).unwrap_or(0)
    }

    fn poison(&self, path: &Path) -> impl FnOnce(std::io::Error) -> CommitError {
        let path = path.to_owned();
        move |e| {
            self.poisoned.store(true, Ordering::Release);
            tracing::error!(target: "lanes::accounts_db", path = %path.display(), %e, "write failed; poisoned");
            if e.kind() == std::io::ErrorKind::StorageFull {
                CommitError::DiskFull { path }
            } else {
                CommitError::Storage(StorageError::Io { path, source: e })
            }
        }
    }

    /// Writes `batch` and its commit record into one segment, syncs, then
    /// publishes: index updates, `removals` (keys whose record at the given
    /// location is dropped), a new version, and the retirement of `retire`.
    pub(crate) fn write_batch(
        &self,
        w: &mut Writer,
        mut batch: Batch,
        mut commit: CommitRecord,
        info: Option<CommitInfo>,
        removals: &[(Key, Loc)],
        retire: Option<u32>,
    ) -> Result<(), CommitError> {
        commit.records = batch.records.len() as u32;
        commit.digest = batch.digest.digest();
        record::put_commit(&mut batch.buf, &commit);
        let total = batch.buf.len() as u64;
        if SEGMENT_HEADER_LEN + total > u64::from(u32::MAX) - 8 {
            let limit = batch.records.len().saturating_sub(1);
            return Err(CommitError::TooManyChanges { count: batch.records.len(), limit });
        }
        if w.tail + total > w.active.file.len() {
            let size = self.config.segment_size.max(SEGMENT_HEADER_LEN + total);
            let path = segment_path(&self.dir, w.next_id);
            let seg = Segment::create(&self.dir, w.next_id, size).map_err(|e| {
                self.poisoned.store(true, Ordering::Release);
                match e {
                    StorageError::Io { path, source }
                        if source.kind() == std::io::ErrorKind::StorageFull =>
                    {
                        CommitError::DiskFull { path }
                    }
                    e => CommitError::Storage(e),
                }
            })?;
            File::open(&self.dir).and_then(|d| d.sync_all()).map_err(self.poison(&path))?;
            let seg = Arc::new(seg);
            self.update_table(|table| {
                let id = seg.id as usize;
                if table.len() <= id {
                    table.resize(id + 1, None);
                }
                table[id] = Some(seg.clone());
            });
            w.active = seg;
            w.tail = SEGMENT_HEADER_LEN;
            w.next_id += 1;
        }
        let seg = w.active.clone();
        let base = w.tail;
        seg.file.write_at(base, &batch.buf).map_err(self.poison(seg.path()))?;
        #[cfg(test)]
        if let Some(kind) = lock(&self.fail_next_sync).take() {
            return Err(self.poison(seg.path())(kind.into()));
        }
        seg.file.sync().map_err(self.poison(seg.path()))?;

        // Durable. Publish: bytes, index, then the version that makes them visible.
        w.tail = base + total;
        w.seq = commit.seq;
        if info.is_some() {
            w.last = info;
        }
        seg.file.publish(w.tail);
        let current = self.version();
        for p in &batch.records {
            let loc = Loc::new(seg.id, (base + u64::from(p.offset)) as u32, p.tombstone);
            seg.add_live(p.size.into());
            if let Some(old) = self.index.insert(&p.key, loc, |l| self.holds(&current, l, &p.key)) {
                self.sub_live(&current, old);
            }
        }
        for (key, loc) in removals {
            if self.index.remove_if(key, *loc) {
                self.sub_live(&current, *loc);
            }
        }
        if let Some(id) = retire {
            self.update_table(|table| table[id as usize] = None);
        }
        let version = Arc::new(Version {
            end: Loc::new(seg.id, w.tail as u32, false).pos(),
            last: w.last,
            next: OnceLock::new(),
            segments: read(&self.segments).clone(),
        });
        {
            let mut cur = write(&self.current);
            let previous = std::mem::replace(&mut *cur, version.clone());
            let _ = previous.next.set(version.clone());
        }
        self.live_versions().push_back(Arc::downgrade(&version));
        if let Some(id) = retire {
            // Views of older versions keep the file mapped; unlinking it now is
            // safe, the mapping outlives the name. A failed unlink leaves a dead
            // segment that recovery replays harmlessly.
            let path = segment_path(&self.dir, id);
            match std::fs::remove_file(&path)
                .map_err(io_err(&path))
                .and_then(|()| sync_dir(&self.dir))
            {
                Ok(()) => {
                    tracing::debug!(target: "lanes::accounts_db", path = %path.display(), "segment deleted")
                }
                Err(e) => {
                    tracing::warn!(target: "lanes::accounts_db", %e, "could not delete a compacted segment")
                }
            }
        }
        Ok(())
    }

    /// Replaces the live segment table with an edited copy.
    fn update_table(&self, edit: impl FnOnce(&mut SegmentTable)) {
        let mut table = write(&self.segments);
        let mut copy = SegmentTable::clone(&table);
        edit(&mut copy);
        *table = Arc::new(copy);
    }

    fn sub_live(&self, version: &Version, loc: Loc) {
        let size = self.record_size(version, loc);
        self.with_segment(version, loc.segment(), |s| s.sub_live(size));
    }
}

impl ReadView {
    /// The commit this view shows.
    pub fn last_commit(&self) -> Option<CommitInfo> {
        self.version.last
    }

    /// Brings the index slots and records of the keys hashing to `hashes`
    /// ([`Key::hash64`]) into the CPU cache, so that the reads of them that
    /// follow find them there: a pass over many keys overlaps their cache
    /// misses, where reads one at a time, between other work, each wait for
    /// theirs. It prefetches every key's home slot, then reads the slots and
    /// prefetches the records they point at, with the CPU's prefetch hint,
    /// which does not wait for the line. Answers nothing; a key it cannot
    /// find or read is left to the real read.
    pub fn prefetch(&self, hashes: &[KeyHash]) {
        let inner = &*self.inner;
        let version = &*self.version;
        let mut locs = Vec::new();
        inner.index.primaries(hashes, &mut locs);
        for loc in &locs {
            let offset = u64::from(loc.offset());
            inner.with_segment(version, loc.segment(), |seg| seg.file.prefetch_record(offset));
        }
    }

    /// Calls `f` for every live key with its value, in no particular order.
    pub fn for_each(&self, mut f: impl FnMut(Entry)) -> Result<(), StorageError> {
        let inner = &*self.inner;
        let version = &*self.version;
        let mut result = Ok(());
        inner.index.for_each_chunk(|locs| {
            for &head in locs {
                if result.is_err() {
                    return;
                }
                let entry = inner.visible(version, head).and_then(|loc| match loc {
                    Some(loc) => inner.read_record(version, loc, decode_entry).map(Some),
                    None => Ok(None),
                });
                match entry {
                    Ok(Some(entry)) => f(entry),
                    Ok(None) => {}
                    Err(e) => result = Err(e),
                }
            }
        });
        result
    }
}

fn decode_entry(r: RawRecord<'_>) -> Result<Entry, &'static str> {
    let bad = "stored value does not decode";
    Ok(match r.key() {
        Key::Account(a) => Entry::Account(a, decode_account(r.value()).ok_or(bad)?),
        Key::Storage(a, s) => Entry::Storage(a, s, decode_storage(r.value()).ok_or(bad)?),
        Key::Code(h) => Entry::Code(h, decode_code(r.value()).ok_or(bad)?),
    })
}

fn decode_account(v: &[u8]) -> Option<AccountHeader> {
    AccountHeader::try_from_slice(v).ok()
}

fn decode_storage(v: &[u8]) -> Option<U256> {
    U256::try_from_slice(v).ok()
}

fn decode_code(v: &[u8]) -> Option<Bytes> {
    let (len, code) = v.split_first_chunk::<4>()?;
    (u32::from_le_bytes(*len) as usize == code.len()).then(|| Bytes::copy_from_slice(code))
}

impl ReadView {
    /// [`AccountsRead::get_account`] for a caller that hashed the key already:
    /// `hash` is `Key::Account(*address).hash64()`.
    pub fn get_account_hashed(
        &self,
        address: &Address,
        hash: KeyHash,
    ) -> Result<Option<AccountHeader>, StorageError> {
        self.inner.get(&self.version, &Key::Account(*address), hash, decode_account)
    }

    /// [`AccountsRead::get_storage`] for a caller that hashed the key already:
    /// `hash` is `Key::Storage(*address, *slot).hash64()`.
    pub fn get_storage_hashed(
        &self,
        address: &Address,
        slot: &B256,
        hash: KeyHash,
    ) -> Result<U256, StorageError> {
        let key = Key::Storage(*address, *slot);
        Ok(self.inner.get(&self.version, &key, hash, decode_storage)?.unwrap_or_default())
    }
}

impl AccountsRead for ReadView {
    type Error = StorageError;

    fn get_account(&self, address: &Address) -> Result<Option<AccountHeader>, StorageError> {
        self.get_account_hashed(address, Key::Account(*address).hash64())
    }

    fn get_storage(&self, address: &Address, slot: &B256) -> Result<U256, StorageError> {
        self.get_storage_hashed(address, slot, Key::Storage(*address, *slot).hash64())
    }

    fn get_code(&self, code_hash: &B256) -> Result<Option<Bytes>, StorageError> {
        let key = Key::Code(*code_hash);
        self.inner.get(&self.version, &key, key.hash64(), decode_code)
    }
}

impl AccountsRead for AccountsDb {
    type Error = StorageError;

    fn get_account(&self, address: &Address) -> Result<Option<AccountHeader>, StorageError> {
        let (inner, key) = (&*self.inner, Key::Account(*address));
        inner.get(&inner.version(), &key, key.hash64(), decode_account)
    }

    fn get_storage(&self, address: &Address, slot: &B256) -> Result<U256, StorageError> {
        let (inner, key) = (&*self.inner, Key::Storage(*address, *slot));
        Ok(inner.get(&inner.version(), &key, key.hash64(), decode_storage)?.unwrap_or_default())
    }

    fn get_code(&self, code_hash: &B256) -> Result<Option<Bytes>, StorageError> {
        let (inner, key) = (&*self.inner, Key::Code(*code_hash));
        inner.get(&inner.version(), &key, key.hash64(), decode_code)
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
