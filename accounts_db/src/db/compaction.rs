//! Compaction: rewrite the live records of mostly-dead sealed segments at the
//! head of the log, then delete the segments.
//!
//! A segment is read without holding the writer, to find the records that are
//! still the newest of their key; they are then copied by *maintenance
//! commits* of at most [`CHUNK_RECORDS`] records each: copies (each pointing
//! back at its original, so older views still resolve) closed by a commit
//! record that changes no state, written and synced like any commit. Each
//! holds the writer only for its own records, checking again under it that
//! each is still the newest (a commit in between may have replaced it), so
//! commits wait for one small commit at most. The index switches to the
//! copies as each is published; the last one deletes the file. A crash
//! before a commit record is durable loses only its copies; a crash after
//! it leaves records that recovery replays harmlessly (older than their
//! copies).
//!
//! Kept history ([`crate::AccountsDbConfig::history_blocks`]) is left alone:
//! while blocks older than the newest are kept, only segments wholly before
//! the oldest kept block's end are candidates, and a segment holding any
//! record that block reads (so any record a kept block reads) is skipped.
//! What a compacted segment then holds is dead for every kept block.
//!
//! A tombstone must outlive every older record of its key on disk, so it is
//! copied forward, except from the oldest segment, where nothing older exists:
//! there it is dropped (and its key leaves the index) once no view older than
//! the deletion is alive.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::db::{AccountsDb, Batch, Inner, Version, read_table};
use crate::entry::Key;
use crate::error::{CommitError, StorageError};
use crate::index::Loc;
use crate::record::{CommitRecord, FLAG_MAINTENANCE, FLAG_NO_BLOCK, Frame, Kind};
use crate::segment::{SEGMENT_HEADER_LEN, Segment};

/// Most records one maintenance commit copies: the writer is held for one
/// such commit at a time (a few milliseconds).
pub(crate) const CHUNK_RECORDS: usize = 4096;

/// What one [`AccountsDb::compact`] call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompactionStats {
    /// Segments rewritten and deleted.
    pub segments: usize,
    /// Live records copied to the head of the log.
    pub records_moved: usize,
    /// Tombstones dropped for good.
    pub tombstones_dropped: usize,
    /// Bytes of segment files deleted.
    pub bytes_reclaimed: u64,
}

impl AccountsDb {
    /// Compacts every sealed segment whose live bytes are below
    /// `compaction_live_percent` of its written bytes, oldest first. Readers
    /// and commits go on meanwhile (a commit waits for one maintenance
    /// commit of 4,096 records at most). With
    /// [`crate::AccountsDbConfig::compact_in_background`] the database's own
    /// thread calls this whenever there is work.
    pub fn compact(&self) -> Result<CompactionStats, CommitError> {
        self.inner().compact(&AtomicBool::new(false))
    }
}

/// Why a segment was left as it is.
enum Left {
    /// A kept block still reads one of its records.
    Kept,
    /// Told to stop.
    Stopped,
}

/// What a record of a segment being compacted is.
enum Standing {
    /// The newest record of its key, which no kept block reads: it is copied.
    Newest,
    /// The oldest kept block reads it.
    Kept,
    /// Replaced, and no kept block reads it.
    Dead,
}

impl Inner {
    /// What the record of `key` at `loc` is, at `version`, with `kept` the
    /// oldest kept block's version.
    fn standing(
        &self,
        version: &Version,
        kept: Option<&Version>,
        key: &Key,
        loc: Loc,
    ) -> Result<Standing, StorageError> {
        let head = self.index.get(key, |l| self.holds(version, l, key))?;
        // (The newest record too: a copy could not take its place in the
        // chain an older view walks.)
        if let (Some(kept), Some(head)) = (kept, head)
            && self.visible_record(kept, head)? == Some(loc)
        {
            return Ok(Standing::Kept);
        }
        Ok(if head == Some(loc) { Standing::Newest } else { Standing::Dead })
    }

    /// [`AccountsDb::compact`], stopping between maintenance commits when
    /// `stop` is raised.
    pub(crate) fn compact(&self, stop: &AtomicBool) -> Result<CompactionStats, CommitError> {
        let _one = self.compacting.lock();
        self.count_uncounted();
        let candidates: Vec<Arc<Segment>> = {
            let w = self.writer.lock();
            self.check_poisoned()?;
            let percent = u64::from(self.config.compaction_live_percent);
            let kept = self.oldest_kept_version();
            let before = kept.as_ref().map_or(u32::MAX, |v| Loc::from_raw(v.end).segment());
            read_table(self)
                .iter()
                .flatten()
                .filter(|s| s.id != w.active.id && s.id < before)
                .filter(|s| s.live() * 100 < s.data_end() * percent)
                .cloned()
                .collect()
        };
        let mut stats = CompactionStats::default();
        if !candidates.is_empty() {
            // Blocks before the oldest kept one are not protected below.
            let oldest = self.history.read().range().map_or(0, |(oldest, _)| oldest);
            self.raise_horizon(oldest)?;
        }
        for seg in candidates {
            match self.compact_segment(&seg, &mut stats, stop)? {
                Ok(()) => {}
                Err(Left::Kept) => continue,
                Err(Left::Stopped) => break,
            }
        }
        if stats.segments > 0 {
            tracing::info!(target: "lanes::accounts_db", ?stats, "compacted");
        }
        Ok(stats)
    }

    /// Copies `seg`'s live records forward and deletes it.
    fn compact_segment(
        &self,
        seg: &Arc<Segment>,
        stats: &mut CompactionStats,
        stop: &AtomicBool,
    ) -> Result<Result<(), Left>, CommitError> {
        // Without the writer: the records that are the newest of their key.
        let mut live = Vec::new();
        {
            let kept = self.oldest_kept_version();
            let version = self.version();
            let mut offset = SEGMENT_HEADER_LEN;
            seg.will_need();
            loop {
                let record = match seg.frame_at(offset) {
                    Frame::End => break,
                    Frame::Invalid(reason) => {
                        let file = seg.path().to_owned();
                        return Err(StorageError::Corrupted { file, offset, reason }.into());
                    }
                    Frame::Record(r) => r,
                };
                let at = offset;
                offset += record.size as u64;
                if record.kind == Kind::Commit {
                    continue;
                }
                let loc = Loc::new(seg.id, at as u32, record.tombstone);
                match self.standing(&version, kept.as_deref(), &record.key(), loc)? {
                    Standing::Kept => return Ok(Err(Left::Kept)),
                    Standing::Newest => live.push(at),
                    Standing::Dead => {}
                }
            }
        }
        let chunks: Vec<&[u64]> =
            if live.is_empty() { vec![&[]] } else { live.chunks(CHUNK_RECORDS).collect() };
        let last_chunk = chunks.len() - 1;
        for (n, chunk) in chunks.into_iter().enumerate() {
            if stop.load(Ordering::Acquire) {
                return Ok(Err(Left::Stopped));
            }
            let mut w = self.writer.lock();
            let started = Instant::now();
            self.check_poisoned()?;
            let kept = self.oldest_kept_version();
            let version = self.version();
            let oldest = read_table(self).iter().flatten().next().map(|s| s.id);
            let droppable_before = self.oldest_live_end();
            let mut batch = Batch::default();
            let mut removals = Vec::new();
            for &offset in chunk {
                let Frame::Record(record) = seg.frame_at(offset) else {
                    let file = seg.path().to_owned();
                    let reason = "a record compaction read is gone";
                    return Err(StorageError::Corrupted { file, offset, reason }.into());
                };
                let loc = Loc::new(seg.id, offset as u32, record.tombstone);
                let key = record.key();
                match self.standing(&version, kept.as_deref(), &key, loc)? {
                    // Replaced since the scan, and a kept block reads it now.
                    Standing::Kept => return Ok(Err(Left::Kept)),
                    Standing::Dead => continue, // replaced since the scan
                    Standing::Newest => {}
                }
                // With a backing, a tombstone is what keeps the key deleted.
                if record.tombstone
                    && self.backing().is_none()
                    && oldest == Some(seg.id)
                    && loc.pos() < droppable_before
                {
                    removals.push((key, loc));
                } else {
                    batch.push_moved(&record, self.links_after(&version, Some(loc))?);
                }
            }
            stats.records_moved += batch.len();
            stats.tombstones_dropped += removals.len();
            let last = w.last;
            let commit = CommitRecord {
                seq: w.seq + 1,
                block_number: last.map_or(0, |c| c.block_number),
                commitment: last.map(|c| c.commitment).unwrap_or_default(),
                records: 0,
                flags: FLAG_MAINTENANCE | if last.is_none() { FLAG_NO_BLOCK } else { 0 },
                digest: 0,
            };
            let retire = (n == last_chunk).then_some(seg.id);
            self.write_batch(&mut w, started, batch, commit, None, &removals, retire)?;
        }
        stats.segments += 1;
        stats.bytes_reclaimed += seg.file.len();
        #[cfg(test)]
        self.index.for_each_chunk(|locs| {
            let stale = locs.iter().find(|l| l.segment() == seg.id);
            assert!(
                stale.is_none(),
                "index still points into compacted segment {}: {stale:?}",
                seg.id
            );
        })?;
        Ok(Ok(()))
    }
}
