//! Compaction: rewrite the live records of mostly-dead sealed segments at the
//! head of the log, then delete the segments.
//!
//! Each segment is compacted by one *maintenance commit*: copies of its live
//! records (each pointing back at its original, so older views still resolve)
//! closed by a commit record that changes no state, written and synced like any
//! commit. Only then does the index switch to the copies and the file go away.
//! A crash before the commit record is durable loses only the copies; a crash
//! after it and before the unlink leaves a dead segment that recovery replays
//! harmlessly (its records are older than their copies).
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

use crate::db::{AccountsDb, Batch};
use crate::error::{CommitError, StorageError};
use crate::index::Loc;
use crate::record::{CommitRecord, FLAG_MAINTENANCE, FLAG_NO_BLOCK, Frame, Kind};
use crate::segment::{SEGMENT_HEADER_LEN, Segment};

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
    /// `compaction_live_percent` of its written bytes, oldest first. Readers go
    /// on reading meanwhile; commits wait for it.
    pub fn compact(&self) -> Result<CompactionStats, CommitError> {
        let inner = self.inner();
        let mut w = inner.writer.lock();
        inner.check_poisoned()?;
        let percent = u64::from(inner.config.compaction_live_percent);
        let kept = inner.oldest_kept_version();
        let before = kept.as_ref().map_or(u32::MAX, |v| Loc::from_raw(v.end).segment());
        let candidates: Vec<Arc<Segment>> = crate::db::read_table(inner)
            .iter()
            .flatten()
            .filter(|s| s.id != w.active.id && s.id < before)
            .filter(|s| s.live() * 100 < s.data_end() * percent)
            .cloned()
            .collect();
        let mut stats = CompactionStats::default();
        'segments: for seg in candidates {
            let oldest = crate::db::read_table(inner).iter().flatten().next().map(|s| s.id);
            let droppable_before = inner.oldest_live_end();
            let version = inner.version();
            let mut batch = Batch::default();
            let mut removals = Vec::new();
            let mut offset = SEGMENT_HEADER_LEN;
            loop {
                let record = match seg.frame_at(offset) {
                    Frame::End => break,
                    Frame::Invalid(reason) => {
                        let file = seg.path().to_owned();
                        return Err(StorageError::Corrupted { file, offset, reason }.into());
                    }
                    Frame::Record(r) => r,
                };
                offset += record.size as u64;
                if record.kind == Kind::Commit {
                    continue;
                }
                let loc = Loc::new(seg.id, (offset - record.size as u64) as u32, record.tombstone);
                let key = record.key();
                let head = inner.index.get(&key, |l| inner.holds(&version, l, &key));
                if let (Some(kept), Some(head)) = (&kept, head)
                    && inner.visible_record(kept, head)? == Some(loc)
                {
                    continue 'segments; // a kept block reads it
                }
                if head != Some(loc) {
                    continue; // superseded
                }
                // With a backing, a tombstone is what keeps the key deleted.
                if record.tombstone
                    && inner.backing().is_none()
                    && oldest == Some(seg.id)
                    && loc.pos() < droppable_before
                {
                    removals.push((key, loc));
                } else {
                    batch.push_moved(&record, inner.links_after(&version, Some(loc))?);
                }
            }
            stats.segments += 1;
            stats.records_moved += batch.len();
            stats.tombstones_dropped += removals.len();
            stats.bytes_reclaimed += seg.file.len();
            let last = w.last;
            let commit = CommitRecord {
                seq: w.seq + 1,
                block_number: last.map_or(0, |c| c.block_number),
                commitment: last.map(|c| c.commitment).unwrap_or_default(),
                records: 0,
                flags: FLAG_MAINTENANCE | if last.is_none() { FLAG_NO_BLOCK } else { 0 },
                digest: 0,
            };
            inner.write_batch(&mut w, batch, commit, None, &removals, Some(seg.id))?;
            #[cfg(test)]
            inner.index.for_each_chunk(|locs| {
                let stale = locs.iter().find(|l| l.segment() == seg.id);
                assert!(
                    stale.is_none(),
                    "index still points into compacted segment {}: {stale:?}",
                    seg.id
                );
            });
        }
        if stats.segments > 0 {
            tracing::info!(target: "lanes::accounts_db", ?stats, "compacted");
        }
        Ok(stats)
    }
}
