//! [`Batch`]: the records of one commit, encoded, and how a batch is written,
//! synced and published.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use xxhash_rust::xxh3::Xxh3;

use super::inner::{Inner, Spare, Writer, sync_dir};
use super::version::Version;
use crate::entry::{CommitInfo, Key};
use crate::error::{CommitError, StorageError, io_err};
use crate::hash::KeyHash;
use crate::index::{Found, Loc};
use crate::record::{self, CommitRecord, Links, RawRecord};
use crate::segment::{SEGMENT_HEADER_LEN, Segment, SegmentTable, segment_path};

/// A commit (or compaction step) that holds the writer this long is logged
/// at debug level with where its time went.
pub(crate) const SLOW_WRITE: Duration = Duration::from_millis(50);

/// Index updates a commit's publish hints together
/// ([`crate::index::Index::prefetch_tables`]).
const PUBLISH_CHUNK: usize = 64;
/// Replaced records counted per turn of [`Inner::count_uncounted_while`].
const COUNT_CHUNK: usize = 4096;

/// Records encoded for one commit, before they have a place on disk.
#[derive(Default)]
pub(crate) struct Batch {
    buf: Vec<u8>,
    records: Vec<Pending>,
    digest: Xxh3,
}

struct Pending {
    key: Key,
    hash: KeyHash,
    offset: u32,
    size: u32,
    tombstone: bool,
    /// Where the index had the key when the commit looked (a moved record:
    /// `None`, looked up again).
    found: Option<Found>,
}

impl Batch {
    /// Adds a record with `value` (`None`: a tombstone) of a key (hashing
    /// to `hash`) `found` where the index has it.
    pub(crate) fn push(
        &mut self,
        key: Key,
        hash: KeyHash,
        found: Found,
        links: Links,
        value: Option<&[u8]>,
    ) {
        let offset = self.buf.len() as u32;
        let checksum = record::put_data(&mut self.buf, &key, links, value);
        self.add(key, hash, offset, value.is_none(), checksum, Some(found));
    }

    /// Adds a copy of `record` with `links` (whose `prev` is the original).
    pub(crate) fn push_moved(&mut self, record: &RawRecord<'_>, links: Links) {
        let offset = self.buf.len() as u32;
        let checksum = record::put_moved(&mut self.buf, record, links);
        let key = record.key();
        self.add(key, key.hash64(), offset, record.tombstone, checksum, None);
    }

    fn add(
        &mut self,
        key: Key,
        hash: KeyHash,
        offset: u32,
        tombstone: bool,
        checksum: u64,
        found: Option<Found>,
    ) {
        let size = self.buf.len() as u32 - offset;
        self.digest.update(&checksum.to_le_bytes());
        self.records.push(Pending { key, hash, offset, size, tombstone, found });
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }
}

/// The running digest of a commit's record checksums, as recovery recomputes it.
pub(crate) fn new_digest() -> Xxh3 {
    Xxh3::new()
}

impl Inner {
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

    /// Poisons the database after an index read failed part way through a
    /// commit's publish (a damaged checkpoint block): the commit is on
    /// disk, the index is not whole; reopening rebuilds it.
    fn poisoned(&self) -> impl Fn(StorageError) -> CommitError {
        move |e| {
            self.poisoned.store(true, Ordering::Release);
            tracing::error!(target: "lanes::accounts_db", %e, "index read failed while publishing a commit; poisoned");
            CommitError::Storage(e)
        }
    }

    /// Whether a checkpoint is due: enough log since the last one, or the
    /// index's in-memory part past half its budget.
    pub(crate) fn checkpoint_due(&self) -> bool {
        let since = self.since_checkpoint.load(Ordering::Acquire);
        self.config.checkpoint_bytes.is_some_and(|limit| since >= limit)
            || self
                .config
                .index_memory_bytes
                .is_some_and(|budget| self.index.delta_bytes() as u64 >= budget / 2)
    }

    /// The segment after the active one, at least `need` bytes long: the
    /// spare when one is ready and large enough, else one made now.
    fn next_segment(&self, need: u64) -> Result<Arc<Segment>, StorageError> {
        let mut spare = self.spare.lock();
        if let Some(seg) = spare.ready.take() {
            if seg.file.len() >= need {
                return Ok(Arc::new(seg));
            }
            seg.delete()?;
        }
        Ok(Arc::new(self.create_segment(&mut spare, need)?))
    }

    /// Makes the spare segment when none is ready (the spare thread, asked
    /// by the writer once the active segment is half full).
    pub(crate) fn make_spare(&self) {
        let mut spare = self.spare.lock();
        if spare.ready.is_some() || self.check_poisoned().is_err() {
            return;
        }
        match self.create_segment(&mut spare, 0) {
            Ok(seg) => spare.ready = Some(seg),
            Err(e) => {
                tracing::warn!(target: "lanes::accounts_db", %e, "no spare segment: the next commit past this segment makes its own");
            }
        }
    }

    /// Creates segment `spare.next_id`, at least `need` bytes, durably: the
    /// file and its directory entry. A file left by a failed sync of the
    /// directory is removed.
    fn create_segment(&self, spare: &mut Spare, need: u64) -> Result<Segment, StorageError> {
        let size = self.config.segment_size.max(need);
        let seg = Segment::create(&self.dir, spare.next_id, size).inspect_err(|e| {
            // Ids from `next_id` on name no segment: what a failed create
            // (a full disk) left is removed, so the next try can make it.
            if !matches!(e, StorageError::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists) {
                let _ = std::fs::remove_file(segment_path(&self.dir, spare.next_id));
            }
        })?;
        spare.next_id += 1;
        if let Err(e) = sync_dir(&self.dir) {
            let _ = seg.delete();
            return Err(e);
        }
        Ok(seg)
    }

    /// Writes `batch` and its commit record into one segment, syncs, then
    /// publishes: index updates, `removals` (keys whose record at the given
    /// location is dropped), a new version, and the retirement of `retire`.
    /// `started`: when the caller took the writer (for [`SLOW_WRITE`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn write_batch(
        &self,
        w: &mut Writer,
        started: Instant,
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
            let seg = self.next_segment(SEGMENT_HEADER_LEN + total).map_err(|e| {
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
            self.update_table(|table| {
                let id = seg.id as usize;
                if table.len() <= id {
                    table.resize(id + 1, None);
                }
                table[id] = Some(seg.clone());
            });
            w.active = seg;
            w.tail = SEGMENT_HEADER_LEN;
            w.asked_spare = false;
        }
        let seg = w.active.clone();
        let base = w.tail;
        let writing = Instant::now();
        seg.file.write_at(base, &batch.buf).map_err(self.poison(seg.path()))?;
        let syncing = Instant::now();
        #[cfg(test)]
        if let Some(kind) = self.fail_next_sync.lock().take() {
            return Err(self.poison(seg.path())(kind.into()));
        }
        if self.config.sync {
            seg.file.sync().map_err(self.poison(seg.path()))?;
        }

        // Durable (or, without sync, written to the operating system). Publish: bytes, index, then the version that makes them visible.
        let publishing = Instant::now();
        w.tail = base + total;
        w.seq = commit.seq;
        if info.is_some() {
            w.last = info;
        }
        seg.file.publish(w.tail);
        if !w.asked_spare && w.tail > seg.file.len() / 2 {
            w.asked_spare = true;
            let _ = self.want_spare.try_send(());
        }
        let current = self.version();
        for chunk in batch.records.chunks(PUBLISH_CHUNK) {
            // The slots these updates write and the records they replace
            // (whose sizes leave the live bytes), hinted together: the
            // commit's lookups hinted them too, but a write and a sync ago.
            self.index.prefetch_tables(chunk.iter().map(|p| p.hash));
            for old in chunk.iter().filter_map(|p| p.found.and_then(Found::loc)) {
                self.prefetch_record(&current, old);
            }
            for p in chunk {
                let loc = Loc::new(seg.id, (base + u64::from(p.offset)) as u32, p.tombstone);
                seg.add_live(p.size.into());
                let holds = |l| self.holds(&current, l, &p.key);
                let old = match p.found {
                    Some(found) => self.index.insert_found(&p.key, p.hash, loc, found),
                    None => self.index.insert(&p.key, loc, holds).map_err(self.poisoned())?,
                };
                if let Some(old) = old {
                    self.sub_live(&current, old);
                }
            }
        }
        for (key, loc) in removals {
            if self.index.remove_if(key, *loc).map_err(self.poisoned())? {
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
            segments: self.segments.read().clone(),
        });
        {
            let mut cur = self.current.write();
            let previous = std::mem::replace(&mut *cur, version.clone());
            let _ = previous.next.set(version.clone());
        }
        self.record_history(info, version.end);
        self.live_versions().push_back(Arc::downgrade(&version));
        self.since_checkpoint.fetch_add(total, Ordering::AcqRel);
        if self.checkpoint_due() {
            let _ = self.wake.try_send(());
        }
        let total = started.elapsed();
        if total >= SLOW_WRITE {
            tracing::debug!(
                target: "lanes::accounts_db",
                records = batch.records.len(),
                total = ?total,
                prepare = ?(writing - started),
                write = ?(syncing - writing),
                sync = ?(publishing - syncing),
                publish = ?publishing.elapsed(),
                "slow commit"
            );
        }
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
        let mut table = self.segments.write();
        let mut copy = SegmentTable::clone(&table);
        edit(&mut copy);
        *table = Arc::new(copy);
    }

    fn sub_live(&self, version: &Version, loc: Loc) {
        let size = self.record_size(version, loc);
        self.with_segment(version, loc.segment(), |s| s.sub_live(size));
    }

    /// Takes the records `open` found replaced out of their segments' live
    /// bytes: each is a read of a record that may be on disk only, so
    /// `open` leaves it to the database's thread (or does it itself when
    /// there is none). Until then compaction sees those segments fuller
    /// than they are, and leaves them be.
    pub(crate) fn count_uncounted(&self) {
        self.count_uncounted_while(|| !self.stop.load(Ordering::Acquire));
    }

    /// [`Self::count_uncounted`], [`COUNT_CHUNK`] records a turn while `go`
    /// says so. Records are read with the list unlocked (a checkpoint's
    /// freeze takes it, the writer held), then taken off it and out of the
    /// live bytes together.
    pub(crate) fn count_uncounted_while(&self, go: impl Fn() -> bool) {
        // Held throughout, so a compaction that calls this waits for the end.
        let _one = self.counting.lock();
        while go() {
            let version = self.version();
            let chunk: Vec<Loc> = {
                let dead = self.uncounted.lock();
                dead[dead.len().saturating_sub(COUNT_CHUNK)..].to_vec()
            };
            if chunk.is_empty() {
                self.uncounted.lock().shrink_to_fit();
                return;
            }
            let sizes: Vec<u64> =
                chunk.iter().map(|&loc| self.record_size(&version, loc)).collect();
            let mut dead = self.uncounted.lock();
            for (loc, size) in chunk.iter().zip(sizes) {
                self.with_segment(&version, loc.segment(), |s| s.sub_live(size));
            }
            let left = dead.len() - chunk.len();
            dead.truncate(left);
        }
    }
}
