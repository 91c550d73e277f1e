//! Index checkpoints: the index as it stood after one commit, which is also
//! the on-disk part of the index ([`Base`]). `open` maps it, reading only
//! its small tail, and replays the log after it; reads look a key up in the
//! in-memory changes since, then in its blocks.
//!
//! A checkpoint is a merge: between two commits the in-memory changes are
//! frozen ([`Index::freeze`]) and new ones go to fresh tables; a thread of
//! the database's own then writes the old checkpoint's pairs merged with
//! the frozen ones, shard by shard, into a new file and swaps it in
//! ([`Index::install`]), while commits and reads go on.
//!
//! The file, `index.ckpt` in the database's directory, little-endian:
//!
//! ```text
//!  page 0 (4 KiB):   magic "LNSIDXCK" | version u32 | zeros
//!  blocks, 4 KiB each (base.rs): xxh3-64 | count u32 | 0 u32 | (key u64, location u64) × count
//!  meta:
//!    shard bits u32 | pairs u64 | blocks u64
//!    seed [u64; 4] | fingerprint u64          the key hashes' seed (hash.rs)
//!    seq u64 | end u64 | commit checksum u64  the commit it stands after
//!    last: flag u8, block u64, commitment [32]
//!    kept: count u32, (block u64, end u64, commitment [32]) each
//!    segments: count u32, (id u32, data end u64, live bytes u64) each
//!    overflow: count u32, (record kind u8, key [52, zero-padded], location u64) each
//!    uncounted: count u64, location u64 each  replaced records the live bytes still count
//!    fences: first key of each block, u64 each
//!  xxh3-64 of meta | meta length u64 | "LNSIDXOK"
//! ```
//!
//! It is written to `index.ckpt.tmp`, synced, exchanged with the old one
//! (`renameat2(RENAME_EXCHANGE)`) and the directory synced, so a crash
//! leaves the old checkpoint or the new one whole. The old one, now
//! `index.ckpt.tmp`, is written over by the next checkpoint once nothing
//! reads it: deleting a file of a gigabyte or more stalls every other sync
//! on the disk while its blocks are freed. `open` uses one only if its version is this build's
//! (or version 2, the same without the uncounted records), its meta
//! checksum holds, it was written for the same number of index shards, its
//! seed can be this process's (no key hashed before) and hashes the same,
//! and the log still has, at `end`, the commit record it names (same
//! sequence number and checksum: a log cut back and written again differs
//! there). Anything else is said in a warning and the whole log is
//! replayed: a checkpoint can make `open` slow, never wrong. Each block's
//! checksum is checked when the block is read; a damaged block makes the
//! reads that need it fail, naming the file and offset, and the file is
//! moved aside (`index.ckpt.damaged`) so the next `open` rebuilds the index
//! from the log. Version 1 (the whole index, loaded at open) is such an
//! unusable file: the log is replayed and a version 3 written after.
//!
//! Compaction may delete a segment the checkpoint points into after it was
//! written: the records it moved are in the log after `end`, and a
//! tombstone it dropped is gone for good, so pairs into a segment the
//! checkpoint lists but the directory no longer has are not there.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Seek, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use alloy_primitives::B256;
use xxhash_rust::xxh3::xxh3_64;

use crate::base::{self, BLOCK, Base, BlockWriter, order};
use crate::db::{Inner, Kept, Meta, Pending, SegmentState, read_table, sync_dir};
use crate::entry::{CommitInfo, Key};
use crate::error::{StorageError, io_err};
use crate::hash::{adopt_seed, fingerprint, seed_words};
use crate::index::{Index, Loc, REMOVED};
use crate::mmap;
use crate::record::{self, COMMIT_RECORD_LEN, Kind};
use crate::segment::Segment;

/// The checkpoint's file name in the database's directory.
pub(crate) const FILE: &str = "index.ckpt";
const TMP: &str = "index.ckpt.tmp";
const MAGIC: &[u8; 8] = b"LNSIDXCK";
const END_MAGIC: &[u8; 8] = b"LNSIDXOK";
const VERSION: u32 = 3;
/// The version before, readable: it lacks the uncounted records (it was
/// written only when there were none).
const VERSION_NO_UNCOUNTED: u32 = 2;
/// Bytes the file is written in, each write at a multiple of it: 2 MiB,
/// so the page cache holds the file in 2 MiB folios where the file system
/// makes them, which the kernel maps with huge pages ([`base::map`]).
const WRITE_LEN: usize = 2 << 20;
/// Key bytes in an overflow entry: the longest key's, zero-padded.
const KEY_LEN: usize = 52;

impl Inner {
    /// Writes a checkpoint of the index as it stands after the newest
    /// commit (or finishes one begun before), while commits go on (each
    /// waits at most for one shard's tables to be swapped). Returns
    /// whether one was written: not before the first commit, nor when
    /// `stop` was raised part way.
    pub(crate) fn write_checkpoint(&self, stop: &AtomicBool) -> Result<bool, StorageError> {
        let mut pending = self.checkpointing.lock();
        if self.check_poisoned().is_err() {
            return Ok(false);
        }
        let mut frozen = Duration::ZERO;
        if pending.is_none() {
            let w = self.writer.lock();
            if w.seq == 0 {
                return Ok(false);
            }
            let freezing = Instant::now();
            *pending = Some(self.freeze(w.seq, w.last));
            frozen = freezing.elapsed();
        }
        let p = pending.as_ref().expect("set above");
        // Without `sync`, the log up to the checkpoint is made durable
        // first: a checkpoint never stands after a commit a crash loses.
        if !self.config.sync {
            for seg in &p.sync {
                seg.file.sync().map_err(io_err(seg.path()))?;
            }
        }
        let live: Vec<bool> = read_table(self).iter().map(Option::is_some).collect();
        let writing = Instant::now();
        let Some(base) = write(&self.dir, p, &self.index, &live, stop)? else {
            return Ok(false);
        };
        let installing = Instant::now();
        self.index.install(Arc::new(base));
        let seq = p.meta.seq;
        let releasing = Instant::now();
        *pending = None;
        tracing::debug!(
            target: "lanes::accounts_db",
            seq,
            keys = self.index.len(),
            freeze = ?frozen,
            write = ?(installing - writing),
            install = ?(releasing - installing),
            release = ?releasing.elapsed(),
            "index checkpoint written"
        );
        Ok(true)
    }

    /// Freezes the index's changes after the newest commit (the writer held).
    fn freeze(&self, seq: u64, last: Option<CommitInfo>) -> Pending {
        let version = self.version();
        let end = Loc::from_raw(version.end);
        let sync: Vec<Arc<Segment>> = read_table(self).iter().flatten().cloned().collect();
        let commit_checksum = sync
            .iter()
            .find(|s| s.id == end.segment())
            .and_then(|seg| commit_ending(seg, end))
            .map_or(0, |(_, checksum)| checksum);
        // Held while the live bytes are read: a count takes records off the
        // list and out of the live bytes under it, so the two agree.
        let uncounted = self.uncounted.lock();
        let segments = sync
            .iter()
            .map(|s| SegmentState { id: s.id, data_end: s.data_end(), live: s.live() })
            .collect();
        let meta = Meta {
            seq,
            end: version.end,
            commit_checksum,
            last,
            kept: self.history.read().kept().copied().collect(),
            segments,
            uncounted: uncounted.clone(),
        };
        drop(uncounted);
        self.since_checkpoint.store(0, Ordering::Release);
        Pending { meta, overflow: self.index.overflow_entries(), frozen: self.index.freeze(), sync }
    }
}

/// The sequence number and checksum of the commit record that ends at
/// `end`, if one does.
pub(crate) fn commit_ending(seg: &Segment, end: Loc) -> Option<(u64, u64)> {
    seg.commit_at(u64::from(end.offset()).checked_sub(COMMIT_RECORD_LEN as u64)?)
}

/// Writes the base of `p`: the index's current base merged with the frozen
/// changes, without pairs into segments `live` (by id) does not hold.
/// `Ok(None)`: `stop` was raised.
fn write(
    dir: &Path,
    p: &Pending,
    index: &Index,
    live: &[bool],
    stop: &AtomicBool,
) -> Result<Option<Base>, StorageError> {
    let tmp = dir.join(TMP);
    // The spare file holds the checkpoint before the current one, written
    // over in place: freeing a file that large stalls every sync for
    // hundreds of milliseconds. One a reader may still map is unlinked
    // instead (its mapping keeps it), never written into or truncated.
    if index.retired_in_use() || !p.frozen.base.at_path() {
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err(&tmp)(e)),
            _ => {}
        }
    }
    let file = OpenOptions::new().write(true).create(true).truncate(false).open(&tmp);
    let file = Trickle { file: file.map_err(io_err(&tmp))?, at: 0, pending: None };
    let mut out = BufWriter::with_capacity(WRITE_LEN, file);
    let mut last_sync = Duration::ZERO;
    let written = (|| -> Result<Option<BlockWriter>, StorageError> {
        let io = |e: io::Error| io_err(&tmp)(e);
        let mut page = vec![0u8; BLOCK];
        page[..8].copy_from_slice(MAGIC);
        page[8..12].copy_from_slice(&VERSION.to_le_bytes());
        out.write_all(&page).map_err(io)?;
        let bits = index.shard_bits();
        let old = &p.frozen.base;
        let mut blocks = BlockWriter::new();
        let (mut olds, mut news) = (Vec::new(), Vec::new());
        for s in 0..index.shard_count() {
            if stop.load(Ordering::Acquire) {
                return Ok(None);
            }
            old.shard(s, &mut olds)?;
            news.clear();
            news.extend(p.frozen.maps[s].iter().map(|(h, loc)| (order(h.raw(), bits), loc)));
            news.sort_unstable();
            let (mut i, mut j) = (0, 0);
            while i < olds.len() || j < news.len() {
                // The frozen change wins over the old pair of its key.
                let newer = j < news.len() && (i == olds.len() || news[j].0 <= olds[i].0);
                let (key, loc) = if newer {
                    i += usize::from(i < olds.len() && olds[i].0 == news[j].0);
                    j += 1;
                    news[j - 1]
                } else {
                    i += 1;
                    olds[i - 1]
                };
                let segment = Loc::from_raw(loc).segment() as usize;
                if loc != REMOVED && live.get(segment) == Some(&true) {
                    blocks.push(&mut out, key, loc).map_err(io)?;
                }
            }
        }
        blocks.flush(&mut out).map_err(io)?;
        let meta = meta_bytes(p, bits, &blocks);
        out.write_all(&meta).map_err(io)?;
        out.write_all(&xxh3_64(&meta).to_le_bytes()).map_err(io)?;
        out.write_all(&(meta.len() as u64).to_le_bytes()).map_err(io)?;
        out.write_all(END_MAGIC).map_err(io)?;
        let mut file = out.into_inner().map_err(|e| io(e.into_error()))?.file;
        let len = file.stream_position().map_err(io)?;
        file.set_len(len).map_err(io)?;
        let syncing = Instant::now();
        file.sync_all().map_err(io)?;
        last_sync = syncing.elapsed();
        Ok(Some(blocks))
    })();
    let blocks = match written {
        Ok(Some(blocks)) => blocks,
        Ok(None) => return Ok(None),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let path = dir.join(FILE);
    let exchanging = Instant::now();
    exchange(&tmp, &path).map_err(io_err(&path))?;
    sync_dir(dir)?;
    let mapping = Instant::now();
    let file = base::map(&path, true).map_err(io_err(&path))?;
    tracing::debug!(
        target: "lanes::accounts_db",
        last_sync = ?last_sync,
        exchange = ?(mapping - exchanging),
        map = ?mapping.elapsed(),
        "index checkpoint file in place"
    );
    Ok(Some(Base::new(file, blocks.fences, index.shard_bits(), blocks.pairs, Vec::new())))
}

/// The checkpoint's file, each write sent to the disk as it lands
/// ([`mmap::write_back`]) and the one before waited for: a checkpoint is
/// gigabytes at 100M keys, and its dirty pages let pile up went to the disk
/// in bursts that every commit's sync arriving meanwhile queued behind.
/// Two writes (of [`WRITE_LEN`], from the `BufWriter` over it) are in
/// flight at most; the final sync makes it durable.
struct Trickle {
    file: File,
    /// Where the next write lands.
    at: u64,
    /// The write before, still being written back.
    pending: Option<(u64, u64)>,
}

impl Write for Trickle {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        mmap::write_back(&self.file, self.at, n as u64, false)?;
        if let Some((at, len)) = self.pending.replace((self.at, n as u64)) {
            mmap::write_back(&self.file, at, len, true)?;
        }
        self.at += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Puts `tmp` at `path` in one step, and what was at `path` at `tmp`,
/// to be written over by the next checkpoint; a plain rename where there
/// was nothing at `path` or the file system cannot exchange.
fn exchange(tmp: &Path, path: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, tmp, CWD, path, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(()),
        Err(_) => std::fs::rename(tmp, path),
    }
}

fn meta_bytes(p: &Pending, bits: u32, blocks: &BlockWriter) -> Vec<u8> {
    let meta = &p.meta;
    let mut out = Vec::with_capacity(256 + blocks.fences.len() * 8);
    let u32 = |out: &mut Vec<u8>, v: u32| out.extend_from_slice(&v.to_le_bytes());
    let u64 = |out: &mut Vec<u8>, v: u64| out.extend_from_slice(&v.to_le_bytes());
    u32(&mut out, bits);
    u64(&mut out, blocks.pairs);
    u64(&mut out, blocks.fences.len() as u64);
    for word in seed_words() {
        u64(&mut out, word);
    }
    u64(&mut out, fingerprint());
    u64(&mut out, meta.seq);
    u64(&mut out, meta.end);
    u64(&mut out, meta.commit_checksum);
    let last = meta.last.unwrap_or(CommitInfo { block_number: 0, commitment: B256::ZERO });
    out.push(u8::from(meta.last.is_some()));
    u64(&mut out, last.block_number);
    out.extend_from_slice(last.commitment.as_slice());
    u32(&mut out, meta.kept.len() as u32);
    for k in &meta.kept {
        u64(&mut out, k.block);
        u64(&mut out, k.end);
        out.extend_from_slice(k.commitment.as_slice());
    }
    u32(&mut out, meta.segments.len() as u32);
    for s in &meta.segments {
        u32(&mut out, s.id);
        u64(&mut out, s.data_end);
        u64(&mut out, s.live);
    }
    u32(&mut out, p.overflow.len() as u32);
    for (key, loc) in &p.overflow {
        out.push(record::key_kind(key) as u8);
        let at = out.len();
        record::put_key(&mut out, key);
        out.resize(at + KEY_LEN, 0);
        u64(&mut out, loc.raw());
    }
    u64(&mut out, meta.uncounted.len() as u64);
    for loc in &meta.uncounted {
        u64(&mut out, loc.raw());
    }
    for &fence in &blocks.fences {
        u64(&mut out, fence);
    }
    out
}

/// Why a checkpoint was not used.
pub(crate) type Unused = String;

/// A checkpoint opened: what it says, its pairs, its colliding keys.
pub(crate) struct Opened {
    pub(crate) meta: Meta,
    pub(crate) base: Base,
    pub(crate) overflow: Vec<(Key, Loc)>,
}

/// Opens the checkpoint in `dir` for an index of `shard_bits`; `present`
/// says which segments the directory holds. `Ok(None)`: there is none.
/// `Err`: there is one that cannot be used, and why.
pub(crate) fn read(
    dir: &Path,
    shard_bits: u32,
    present: impl Fn(u32) -> bool,
) -> Result<Option<Opened>, Unused> {
    let path = dir.join(FILE);
    match std::fs::metadata(&path) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    }
    let file = base::map(&path, false).map_err(|e| format!("{}: {e}", path.display()))?;
    open(file, shard_bits, present).map(Some).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads little-endian values off a slice.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or("meta cut short")?;
        self.0 = rest;
        Ok(*head)
    }

    fn u32(&mut self) -> Result<u32, &'static str> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, &'static str> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A count of items of `size` bytes each, refused when the rest could
    /// not hold them.
    fn count(&mut self, n: u64, size: usize) -> Result<usize, &'static str> {
        if n.saturating_mul(size as u64) > self.0.len() as u64 {
            return Err("a count larger than the file");
        }
        Ok(n as usize)
    }
}

fn open(
    file: crate::mmap::MappedFile,
    shard_bits: u32,
    present: impl Fn(u32) -> bool,
) -> Result<Opened, String> {
    let len = file.len();
    let head = file.read(0, 12).ok_or("shorter than its header")?;
    if &head[..8] != MAGIC {
        return Err("not an index checkpoint".into());
    }
    let version = u32::from_le_bytes(head[8..12].try_into().expect("4 bytes"));
    if version != VERSION && version != VERSION_NO_UNCOUNTED {
        return Err(format!(
            "format version {version}, this build reads {VERSION_NO_UNCOUNTED} and {VERSION}"
        ));
    }
    let tail_len = 24u64;
    if len < BLOCK as u64 + tail_len {
        return Err("shorter than its header and trailer".into());
    }
    let tail = file.read(len - tail_len, tail_len as usize).expect("inside the file");
    let sum = u64::from_le_bytes(tail[..8].try_into().expect("8 bytes"));
    let meta_len = u64::from_le_bytes(tail[8..16].try_into().expect("8 bytes"));
    if &tail[16..] != END_MAGIC {
        return Err("torn: no trailer".into());
    }
    let meta_at = (len - tail_len).checked_sub(meta_len).filter(|&at| at >= BLOCK as u64);
    let meta_at = meta_at.ok_or("a meta length larger than the file")?;
    file.will_need(meta_at, meta_len);
    let bytes = file.read(meta_at, meta_len as usize).expect("inside the file");
    if xxh3_64(bytes) != sum {
        return Err("checksum mismatch".into());
    }
    let mut c = Cursor(bytes);
    let bits = c.u32()?;
    if bits != shard_bits {
        return Err(format!(
            "written for {} index shards, this database opens with {}",
            1u64 << bits.min(63),
            1u64 << shard_bits
        ));
    }
    let pairs = c.u64()?;
    let blocks = c.u64()?;
    if blocks.checked_mul(BLOCK as u64).and_then(|b| b.checked_add(BLOCK as u64)) != Some(meta_at) {
        return Err("its blocks do not fill the file".into());
    }
    let seed = [c.u64()?, c.u64()?, c.u64()?, c.u64()?];
    let print = c.u64()?;
    if !adopt_seed(seed) {
        return Err("written under another key seed (this process hashed keys first)".into());
    }
    if print != fingerprint() {
        return Err("keys hash differently in this build".into());
    }
    let seq = c.u64()?;
    let end = c.u64()?;
    let commit_checksum = c.u64()?;
    let [has_last] = c.array()?;
    let block_number = c.u64()?;
    let commitment = B256::from(c.array::<32>()?);
    let last = (has_last == 1).then_some(CommitInfo { block_number, commitment });
    let n = c.u32()?;
    let mut kept = Vec::with_capacity(c.count(n.into(), 48)?);
    for _ in 0..n {
        let block = c.u64()?;
        let end = c.u64()?;
        kept.push(Kept { block, end, commitment: B256::from(c.array::<32>()?) });
    }
    let n = c.u32()?;
    let mut segments = Vec::with_capacity(c.count(n.into(), 20)?);
    for _ in 0..n {
        let id = c.u32()?;
        segments.push(SegmentState { id, data_end: c.u64()?, live: c.u64()? });
    }
    let n = c.u32()?;
    let mut overflow = Vec::with_capacity(c.count(n.into(), 61)?);
    for _ in 0..n {
        let [tag] = c.array()?;
        let bytes: [u8; KEY_LEN] = c.array()?;
        let kind = Kind::from_byte(tag).filter(|k| *k != Kind::Commit);
        let kind = kind.ok_or("an unknown key kind")?;
        let key = record::key_of(kind, &bytes[..kind.key_len()]);
        let loc = Loc::from_raw(c.u64()?);
        if present(loc.segment()) {
            overflow.push((key, loc));
        }
    }
    let mut uncounted = Vec::new();
    if version != VERSION_NO_UNCOUNTED {
        let n = c.u64()?;
        uncounted.reserve_exact(c.count(n, 8)?);
        for _ in 0..n {
            let loc = Loc::from_raw(c.u64()?);
            if present(loc.segment()) {
                uncounted.push(loc);
            }
        }
    }
    let n = c.count(blocks, 8)?;
    let mut fences = Vec::with_capacity(n);
    for _ in 0..n {
        fences.push(c.u64()?);
    }
    if !c.0.is_empty() {
        return Err("bytes after its fences".into());
    }
    if !fences.is_sorted() {
        return Err("fences out of order".into());
    }
    if pairs > blocks * base::PER_BLOCK as u64 {
        return Err(format!("{pairs} pairs, more than its {blocks} blocks hold"));
    }
    let missing = segments.iter().map(|s| s.id).filter(|&id| !present(id)).collect();
    let base = Base::new(file, fences, bits, pairs, missing);
    let meta = Meta { seq, end, commit_checksum, last, kept, segments, uncounted };
    Ok(Opened { meta, base, overflow })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::Address;

    fn key(i: u32) -> Key {
        Key::Storage(Address::repeat_byte(7), B256::from(alloy_primitives::U256::from(i)))
    }

    fn at(segment: u32, i: u32) -> Loc {
        Loc::new(segment, i * 8, i.is_multiple_of(7))
    }

    fn meta(seq: u64) -> Meta {
        let commitment = B256::repeat_byte(9);
        Meta {
            seq,
            end: Loc::new(1, 4096, false).pos(),
            commit_checksum: 77,
            last: Some(CommitInfo { block_number: 4, commitment }),
            kept: vec![Kept { block: 4, end: 4096, commitment }],
            segments: vec![
                SegmentState { id: 1, data_end: 4096, live: 900 },
                SegmentState { id: 2, data_end: 4096, live: 900 },
            ],
            uncounted: vec![at(1, 3), at(2, 5)],
        }
    }

    /// What `write` puts down, `read` gives back: the meta, every pair
    /// (over many blocks, merged with the base before it) and the colliding
    /// keys of each kind with their locations.
    #[test]
    fn test_a_checkpoint_reads_back_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::new(8);
        let n = 3 * base::PER_BLOCK as u32 * 8;
        for i in 0..n {
            index.insert(&key(i), at(1, i), |_| true).unwrap();
        }
        let overflow = vec![
            (Key::Account(Address::repeat_byte(0xa1)), Loc::new(1, 8, false)),
            (Key::Storage(Address::repeat_byte(0xa2), B256::repeat_byte(3)), Loc::new(1, 16, true)),
            (Key::Code(B256::repeat_byte(0xc0)), Loc::new(2, 24, false)),
        ];
        let live = [false, true, true];
        let stop = AtomicBool::new(false);
        let pending = |seq, index: &Index| Pending {
            meta: meta(seq),
            overflow: overflow.clone(),
            frozen: index.freeze(),
            sync: Vec::new(),
        };
        let p = pending(5, &index);
        let base = write(dir.path(), &p, &index, &live, &stop).unwrap().unwrap();
        assert_eq!(base.pairs(), u64::from(n));
        index.install(Arc::new(base));
        // Over the base: overwrites into segment 2, removals, new keys.
        for i in (0..n).step_by(3) {
            index.insert(&key(i), at(2, i), |_| true).unwrap();
        }
        for i in (1..n).step_by(5) {
            let now = index.get(&key(i), |_| true).unwrap().unwrap();
            assert!(index.remove_if(&key(i), now).unwrap());
        }
        for i in n..n + 100 {
            index.insert(&key(i), at(2, i), |_| true).unwrap();
        }
        let want: Vec<_> = (0..n + 200).map(|i| index.get(&key(i), |_| true).unwrap()).collect();
        let p = pending(6, &index);
        let base = write(dir.path(), &p, &index, &live, &stop).unwrap().unwrap();
        index.install(Arc::new(base));
        let got: Vec<_> = (0..n + 200).map(|i| index.get(&key(i), |_| true).unwrap()).collect();
        assert_eq!(got, want, "the merged base reads as the layers did");

        let opened = read(dir.path(), 3, |id| id == 1).unwrap().unwrap();
        let (got_meta, mut loaded) = (opened.meta, Index::new(8));
        assert_eq!((got_meta.seq, got_meta.end, got_meta.commit_checksum), (6, p.meta.end, 77));
        assert_eq!((got_meta.last, got_meta.kept), (p.meta.last, p.meta.kept));
        assert_eq!(got_meta.uncounted, p.meta.uncounted[..1], "none in a missing segment");
        assert_eq!(opened.overflow, overflow[..2], "the key into a missing segment is not there");
        loaded.load(opened.base, opened.overflow);
        let got: Vec<_> = (0..n + 200)
            .map(|i| loaded.get(&key(i), |_| true).unwrap())
            .zip(&want)
            .filter(|(got, want)| got != *want)
            .map(|(got, want)| (got, *want))
            .collect();
        // Pairs into segment 2, which the directory no longer has, are gone.
        assert!(got.iter().all(|(g, w)| g.is_none() && w.unwrap().segment() == 2), "{got:?}");
        assert_eq!(got.len(), want.iter().flatten().filter(|l| l.segment() == 2).count());
        assert!(read(dir.path(), 4, |_| true).is_err(), "another shard count");
        // A stop part way leaves the old file in place.
        let p = pending(7, &index);
        stop.store(true, Ordering::Release);
        assert!(write(dir.path(), &p, &index, &live, &stop).unwrap().is_none());
        assert_eq!(read(dir.path(), 3, |_| true).unwrap().unwrap().meta.seq, 6);
    }

    /// A version 2 file (the same, without the uncounted records) is read
    /// as one with none.
    #[test]
    fn test_a_version_2_checkpoint_reads_with_nothing_uncounted() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::new(8);
        for i in 0..2000 {
            index.insert(&key(i), at(1, i), |_| true).unwrap();
        }
        let mut meta = meta(3);
        meta.uncounted.clear();
        let p = Pending { meta, overflow: Vec::new(), frozen: index.freeze(), sync: Vec::new() };
        write(dir.path(), &p, &index, &[false, true, true], &AtomicBool::new(false)).unwrap();
        // Rewritten as version 2 wrote it: no uncounted count before the fences.
        let path = dir.path().join(FILE);
        let mut file = std::fs::read(&path).unwrap();
        let len = file.len();
        let meta_len = u64::from_le_bytes(file[len - 16..len - 8].try_into().unwrap()) as usize;
        let meta_at = len - 24 - meta_len;
        let blocks = meta_at / BLOCK - 1;
        let count_at = meta_at + meta_len - blocks * 8 - 8;
        assert_eq!(file[count_at..count_at + 8], [0; 8]);
        file.drain(count_at..count_at + 8);
        file[8..12].copy_from_slice(&VERSION_NO_UNCOUNTED.to_le_bytes());
        let meta = file[meta_at..meta_at + meta_len - 8].to_vec();
        let tail = len - 8 - 24;
        file[tail..tail + 8].copy_from_slice(&xxh3_64(&meta).to_le_bytes());
        file[tail + 8..tail + 16].copy_from_slice(&(meta.len() as u64).to_le_bytes());
        std::fs::write(&path, &file).unwrap();
        let opened = read(dir.path(), 3, |_| true).unwrap().unwrap();
        assert_eq!((opened.meta.seq, opened.meta.uncounted.len()), (3, 0));
        assert_eq!(opened.base.pairs(), 2000);
        file[8..12].copy_from_slice(&(VERSION + 1).to_le_bytes());
        std::fs::write(&path, &file).unwrap();
        let refused = read(dir.path(), 3, |_| true).err().unwrap();
        assert!(refused.contains("format version 4, this build reads 2 and 3"), "{refused}");
    }

    /// Each checkpoint is written over the file of the one before the last
    /// (exchanged to the spare name), never over a file a reader still maps.
    #[test]
    fn test_the_old_checkpoint_is_written_over_once_nothing_reads_it() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let index = Index::new(8);
        let (live, stop) = ([false, true, true], AtomicBool::new(false));
        let ino = |name| std::fs::metadata(dir.path().join(name)).unwrap().ino();
        let checkpoint = |seq: u64| {
            let from = (seq as u32 - 1) * 700;
            for i in from..from + 700 {
                index.insert(&key(i), at(1, i), |_| true).unwrap();
            }
            let (overflow, sync) = (Vec::new(), Vec::new());
            let p = Pending { meta: meta(seq), overflow, frozen: index.freeze(), sync };
            index.install(Arc::new(write(dir.path(), &p, &index, &live, &stop).unwrap().unwrap()));
        };
        checkpoint(1);
        let first = ino(FILE);
        assert!(!dir.path().join(TMP).exists(), "nothing to exchange with the first");
        checkpoint(2);
        let second = ino(FILE);
        assert_eq!(ino(TMP), first, "the first checkpoint's file is kept as the spare");
        let held = index.base();
        checkpoint(3);
        assert_eq!((ino(FILE), ino(TMP)), (first, second), "the third is written over the first");
        // The second's base is still held: its file is set aside, not written into.
        checkpoint(4);
        let fourth = ino(FILE);
        assert!(![first, second].contains(&fourth), "a new file for the fourth");
        let mut pairs = Vec::new();
        for s in 0..8 {
            held.shard(s, &mut pairs).unwrap();
        }
        for i in 0..2800 {
            assert_eq!(index.get(&key(i), |_| true).unwrap(), Some(at(1, i)), "key {i}");
        }
        assert_eq!(read(dir.path(), 3, |_| true).unwrap().unwrap().meta.seq, 4);
        drop(held);
        checkpoint(5);
        assert_eq!((ino(FILE), ino(TMP)), (first, fourth), "the fifth over the third's file");
    }
}
