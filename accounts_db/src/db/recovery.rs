//! Recovery on open: scan every segment, keep exactly what the last valid
//! commit record covers, and cut the torn tail off, durably, before any write.
//!
//! Damage is told apart from a torn tail by what lies after it. At most one
//! commit is ever in flight, and a commit never spans two segments, so a torn
//! tail is damage followed by nothing but (at most) the in-flight commit's own
//! commit record in the same segment. Any other valid commit record after the
//! damage means data that was durable is now bad: that is
//! [`StorageError::Corrupted`], and nothing is cut.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use crate::config::AccountsDbConfig;
use crate::db::checkpoint;
use crate::db::{History, new_digest, sync_dir};
use crate::entry::{CommitInfo, Key};
use crate::error::{FormatError, OpenError, StorageError, io_err};
use crate::index::{Index, Loc};
use crate::record::{self, ALIGN, FLAG_NO_BLOCK, Frame, Kind};
use crate::segment::{
    SEGMENT_HEADER_LEN, Segment, SegmentTable, check_header, header_version, parse_segment_name,
    segment_path,
};

/// What recovery hands to the database.
pub(crate) struct Recovered {
    pub(crate) table: SegmentTable,
    pub(crate) active: Arc<Segment>,
    pub(crate) tail: u64,
    pub(crate) next_id: u32,
    pub(crate) seq: u64,
    pub(crate) last: Option<CommitInfo>,
    pub(crate) history: History,
    /// Log bytes scanned after the checkpoint (all of them without one).
    pub(crate) replayed: u64,
    /// Replaced records whose bytes are still counted live in their
    /// segments ([`crate::db::Inner::count_uncounted`]): those the checkpoint
    /// listed and those the scan found.
    pub(crate) uncounted: Vec<Loc>,
}

struct Damage {
    segment: usize,
    offset: u64,
    reason: &'static str,
}

/// Where the scan starts: after a checkpoint's commit, or at the log's start.
struct Start {
    /// Index in `segs` of the first segment scanned.
    segment: usize,
    offset: u64,
}

/// Fills `index` from the checkpoint (if one is usable) and a scan of the
/// log after it (all of it without one), and cuts the torn tail.
pub(crate) fn recover(
    dir: &Path,
    config: &AccountsDbConfig,
    index: &mut Index,
) -> Result<Recovered, OpenError> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        if let Some(id) = entry.file_name().to_str().and_then(parse_segment_name) {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    let present: HashSet<u32> = ids.iter().copied().collect();
    let opened = match checkpoint::read(dir, index.shard_bits(), |id| present.contains(&id)) {
        Ok(opened) => opened,
        Err(reason) => {
            tracing::warn!(target: "lanes::accounts_db", %reason, "index checkpoint not used: replaying the whole log");
            None
        }
    };
    let meta = opened.as_ref().map(|o| &o.meta);
    // Segments wholly before the checkpoint's commit are not scanned, so
    // not read up front either.
    let scan_from = meta.as_ref().map_or(0, |m| Loc::from_raw(m.end).segment());
    let mut segs = Vec::with_capacity(ids.len());
    for (i, &id) in ids.iter().enumerate() {
        // Only the newest file may be written again; give it back its full
        // length if a crash or a person cut it short.
        let min_len = if i + 1 == ids.len() { recorded_size(dir, id) } else { 0 };
        segs.push(Segment::open(dir, id, min_len, id >= scan_from)?);
    }
    // A segment of another version is refused before recovery could cut it.
    for seg in &segs {
        let header = seg.file.read(0, SEGMENT_HEADER_LEN as usize).unwrap_or(&[]);
        if let Some((found, reads)) = header_version(header).filter(|(f, r)| f != r) {
            return Err(FormatError { path: segment_path(dir, seg.id), found, reads }.into());
        }
    }
    let position: HashMap<u32, usize> = ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();

    let mut data_end = vec![SEGMENT_HEADER_LEN; segs.len()];
    let mut good: Option<(usize, u64)> = None;
    let mut seq = 0u64;
    let mut last = None;
    let mut history = History::new(config.history_blocks);
    let mut start = Start { segment: 0, offset: SEGMENT_HEADER_LEN };
    let mut uncounted = Vec::new();
    if let Some(opened) = opened {
        let meta = opened.meta;
        match checkpoint_start(&meta, &segs, &position) {
            Ok(at) => {
                for s in &meta.segments {
                    if let Some(&i) = position.get(&s.id) {
                        segs[i].add_live(s.live);
                        if i < at.segment {
                            data_end[i] = s.data_end;
                        }
                    }
                }
                data_end[at.segment] = at.offset;
                good = Some((at.segment, at.offset));
                seq = meta.seq;
                last = meta.last;
                history = History::from_kept(config.history_blocks, meta.kept);
                start = at;
                uncounted = meta.uncounted;
                index.load(opened.base, opened.overflow);
            }
            Err(reason) => {
                tracing::warn!(target: "lanes::accounts_db", reason, "index checkpoint not used: replaying the whole log");
            }
        }
    }
    let holds = |loc: Loc, key: &Key| {
        position
            .get(&loc.segment())
            .is_none_or(|&i| segs[i].record_at(loc).map_or(true, |r| r.has_key(key)))
    };

    let mut damage = None;
    let mut pending: Vec<(Key, Loc, usize, u64)> = Vec::new();
    'segments: for (i, seg) in segs.iter().enumerate().skip(start.segment) {
        let mut offset = SEGMENT_HEADER_LEN;
        if i == start.segment && start.offset > SEGMENT_HEADER_LEN {
            offset = start.offset;
        } else {
            let header = seg.file.read(0, SEGMENT_HEADER_LEN as usize).unwrap_or(&[]);
            if let Err(reason) = check_header(header, seg.id) {
                damage = Some(Damage { segment: i, offset: 0, reason });
                break;
            }
        }
        let mut digest = new_digest();
        pending.clear();
        loop {
            match seg.frame_at(offset) {
                Frame::End => break,
                Frame::Invalid(reason) => {
                    damage = Some(Damage { segment: i, offset, reason });
                    break 'segments;
                }
                Frame::Record(r) if r.kind == Kind::Commit => {
                    let c = r.commit();
                    // No log reaches 2^64 commits; the next one could not be numbered.
                    if c.seq == u64::MAX {
                        let reason = "commit sequence number at its limit";
                        damage = Some(Damage { segment: i, offset, reason });
                        break 'segments;
                    }
                    if c.seq <= seq
                        || c.records as usize != pending.len()
                        || c.digest != digest.digest()
                    {
                        let reason = "commit record does not match the records before it";
                        damage = Some(Damage { segment: i, offset, reason });
                        break 'segments;
                    }
                    for (key, loc, size, prev) in pending.drain(..) {
                        seg.add_live(size as u64);
                        // A record's `prev` is its key's version before it:
                        // where the index holds that, it holds this key, and
                        // no old record is read (they are not in memory).
                        let same = |l: Loc| l.raw() == prev || holds(l, &key);
                        if let Some(old) = index.insert(&key, loc, same)? {
                            uncounted.push(old);
                        }
                    }
                    digest = new_digest();
                    seq = c.seq;
                    // Maintenance commits repeat the last block (compaction may
                    // have deleted the segment of the block's own commit).
                    let block = (c.flags & FLAG_NO_BLOCK == 0).then_some(CommitInfo {
                        block_number: c.block_number,
                        commitment: c.commitment,
                    });
                    if block.is_some() {
                        last = block;
                    }
                    offset += r.size as u64;
                    // A maintenance commit names the newest block (whose own
                    // commit record compaction may have deleted): it moves
                    // that block's end, or brings the block back.
                    history.push(block, Loc::new(seg.id, offset as u32, false).pos());
                    data_end[i] = offset;
                    good = Some((i, offset));
                }
                Frame::Record(r) => {
                    digest.update(&r.checksum.to_le_bytes());
                    let loc = Loc::new(seg.id, offset as u32, r.tombstone);
                    pending.push((r.key(), loc, r.size, r.links().prev));
                    offset += r.size as u64;
                }
            }
        }
        if !pending.is_empty() {
            let offset = u64::from(pending[0].1.offset());
            let reason = "records without a commit record";
            damage = Some(Damage { segment: i, offset, reason });
            break;
        }
    }

    if let Some(d) = damage {
        if let Some(found) = durable_commit_after(&segs, &d, seq) {
            tracing::error!(
                target: "lanes::accounts_db",
                file = %segs[d.segment].path().display(),
                offset = d.offset,
                later_commit_at = found,
                "damage before a durable commit"
            );
            return Err(StorageError::Corrupted {
                file: segs[d.segment].path().to_owned(),
                offset: d.offset,
                reason: d.reason,
            }
            .into());
        }
        tracing::warn!(
            target: "lanes::accounts_db",
            file = %segs[d.segment].path().display(),
            offset = d.offset,
            reason = d.reason,
            "cutting torn tail"
        );
        let keep = match good {
            Some((g, end)) if g == d.segment => {
                zero_tail(&mut segs[g], end)?;
                g + 1
            }
            _ => d.segment,
        };
        for seg in segs.drain(keep..) {
            let path = seg.path().to_owned();
            drop(seg);
            std::fs::remove_file(&path).map_err(io_err(&path))?;
        }
        sync_dir(dir)?;
    }

    // New commits go to the last segment, after its last commit record, so
    // what lies there must be zero (step 4), also in a segment that became the
    // last by the cut above: non-zero bytes after a zero header (a torn write
    // that reached a later page first) are a torn tail, or damage if a
    // durable commit record follows.
    if let Some(last) = segs.len().checked_sub(1)
        && !zero_from(&segs[last], data_end[last])
    {
        let reason = "non-zero bytes after the last record";
        let d = Damage { segment: last, offset: data_end[last], reason };
        if durable_commit_after(&segs, &d, seq).is_some() {
            let file = segs[last].path().to_owned();
            return Err(StorageError::Corrupted { file, offset: d.offset, reason }.into());
        }
        tracing::warn!(target: "lanes::accounts_db", file = %segs[last].path().display(), offset = d.offset, reason, "cutting torn tail");
        zero_tail(&mut segs[last], d.offset)?;
    }

    // (Nothing when the cut above left no segment at or after the start.)
    let replayed = data_end.iter().take(segs.len()).skip(start.segment).sum::<u64>();
    let replayed = replayed.saturating_sub(start.offset);
    let mut next_id = ids.last().map_or(1, |&id| id + 1);
    for (seg, &end) in segs.iter_mut().zip(&data_end) {
        seg.file.cut_readable(end);
    }
    // The scan touched every page; the open database keeps only what it reads.
    for seg in &segs {
        seg.file.release_pages().map_err(io_err(seg.path()))?;
    }
    let mut segs: Vec<Arc<Segment>> = segs.into_iter().map(Arc::new).collect();
    if segs.is_empty() {
        segs.push(Arc::new(Segment::create(dir, next_id, config.segment_size)?));
        sync_dir(dir)?;
        next_id += 1;
    }
    let active = segs.last().expect("at least one segment").clone();
    let tail = active.data_end();
    let mut table = SegmentTable::new();
    for seg in segs {
        let id = seg.id as usize;
        if table.len() <= id {
            table.resize(id + 1, None);
        }
        table[id] = Some(seg);
    }
    Ok(Recovered { table, active, tail, next_id, seq, last, history, replayed, uncounted })
}

/// Where the scan after checkpoint `meta` starts, if the log still holds
/// what the checkpoint stands on: the commit it names, where it names it,
/// and no older segment it did not know of (one compaction emptied but
/// could not delete is replayed, which only a whole scan does right).
fn checkpoint_start(
    meta: &crate::db::Meta,
    segs: &[Segment],
    position: &HashMap<u32, usize>,
) -> Result<Start, &'static str> {
    let end = Loc::from_raw(meta.end);
    let &at = position.get(&end.segment()).ok_or("the segment of its commit is gone")?;
    let seg = &segs[at];
    if checkpoint::commit_ending(seg, end) != Some((meta.seq, meta.commit_checksum)) {
        return Err("the log no longer has its commit where it says");
    }
    let known: HashSet<u32> = meta.segments.iter().map(|s| s.id).collect();
    if segs.iter().any(|s| s.id < end.segment() && !known.contains(&s.id)) {
        return Err("an older segment it does not list");
    }
    if meta.segments.iter().any(|s| {
        s.id < end.segment()
            && position.get(&s.id).is_some_and(|&i| segs[i].data_end() < s.data_end)
    }) {
        return Err("an older segment shorter than it was");
    }
    Ok(Start { segment: at, offset: u64::from(end.offset()) })
}

/// The size a segment's header records, or 0 if the header is unreadable.
fn recorded_size(dir: &Path, id: u32) -> u64 {
    let mut header = [0; SEGMENT_HEADER_LEN as usize];
    File::open(segment_path(dir, id))
        .and_then(|mut f| f.read_exact(&mut header))
        .ok()
        .and_then(|()| check_header(&header, id).ok())
        .unwrap_or(0)
}

/// The offset of a valid commit record after the damage that proves the
/// damaged bytes were durable: any one in a later segment or after a damaged
/// header, or, in the damaged segment, any but the single in-flight commit.
/// (Sequence numbers increase along the log but have gaps where compaction
/// deleted whole segments.)
fn durable_commit_after(segs: &[Segment], d: &Damage, last_seq: u64) -> Option<u64> {
    for (i, seg) in segs.iter().enumerate().skip(d.segment) {
        let start = if i == d.segment && d.offset > 0 { d.offset } else { SEGMENT_HEADER_LEN };
        let mut in_flight_seen = false;
        let mut offset = start;
        while offset + record::HEADER_LEN as u64 <= seg.data_end() {
            if let Some((seq, _)) = seg.commit_at(offset) {
                let in_flight = i == d.segment && d.offset > 0 && !in_flight_seen && seq > last_seq;
                if !in_flight {
                    return Some(offset);
                }
                in_flight_seen = true;
            }
            offset += ALIGN as u64;
        }
    }
    None
}

/// Whether every readable byte of `seg` from `offset` on is zero.
fn zero_from(seg: &Segment, offset: u64) -> bool {
    let end = seg.data_end();
    offset >= end || seg.file.read(offset, (end - offset) as usize).is_none_or(all_zero)
}

/// Whether `bytes` are all zero (compared a page at a time: a newest
/// segment's tail is most of its 64 MiB, scanned at every open).
fn all_zero(bytes: &[u8]) -> bool {
    const PAGE: [u8; 4096] = [0; 4096];
    bytes.chunks(PAGE.len()).all(|c| c == &PAGE[..c.len()])
}

/// Overwrites everything after `end` that is not already zero, and syncs.
fn zero_tail(seg: &mut Segment, end: u64) -> Result<(), StorageError> {
    let readable = seg.data_end();
    let stop = match seg.file.read(end, (readable - end) as usize) {
        Some(rest) => rest.iter().rposition(|&b| b != 0).map_or(end, |p| end + p as u64 + 1),
        None => end,
    };
    seg.file.cut_readable(end);
    let path = seg.path().to_owned();
    let zeros = vec![0u8; 1 << 20];
    let mut at = end;
    while at < stop {
        let n = (stop - at).min(zeros.len() as u64) as usize;
        seg.file.write_at(at, &zeros[..n]).map_err(io_err(&path))?;
        at += n as u64;
    }
    seg.file.sync().map_err(io_err(&path))
}
