//! Index checkpoints: the index as it stood after one commit, written while
//! commits go on, so that `open` reads it and replays only the log after it
//! instead of the whole log.
//!
//! The file, `index.ckpt` in the database's directory, little-endian:
//!
//! ```text
//!  magic "LNSIDXCK" | version u32 | shards u32 | pairs u64
//!  seed [u64; 4] | fingerprint u64            the key hashes' seed (hash.rs)
//!  seq u64 | end u64 | commit checksum u64    the commit it stands after
//!  last: flag u8, block u64, commitment [32]
//!  kept: count u32, (block u64, end u64, commitment [32]) each
//!  segments: count u32, (id u32, data end u64, live bytes u64) each
//!  overflow: count u32, (record kind u8, key [52, zero-padded], location u64) each
//!  per shard: count u64, (hash u64, location u64) each
//!  xxh3-64 of all of the above | "LNSIDXOK"
//! ```
//!
//! It is written to `index.ckpt.tmp`, synced, renamed over the old one and
//! the directory synced, so a crash leaves the old checkpoint or the new
//! one whole. `open` uses one only if its checksum holds, its seed can be
//! this process's (no key hashed before) and hashes the same, and the log
//! still has, at `end`, the commit record it names (same sequence number
//! and checksum: a log cut back and written again differs there). Anything
//! else is said in a warning and the whole log is replayed: a checkpoint
//! can make `open` slow, never wrong.
//!
//! Compaction may delete a segment the checkpoint points into after it was
//! written: the records it moved are in the log after `end`, and a
//! tombstone it dropped is gone for good, so pairs into a missing segment
//! are skipped on load.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use alloy_primitives::B256;
use xxhash_rust::xxh3::Xxh3;

use crate::db::{Inner, Kept, read_table, sync_dir};
use crate::entry::{CommitInfo, Key};
use crate::error::{StorageError, io_err};
use crate::hash::{KeyHash, adopt_seed, fingerprint, seed_words};
use crate::index::{Index, Loc};
use crate::record::{self, COMMIT_RECORD_LEN, Kind};
use crate::segment::Segment;

/// The checkpoint's file name in the database's directory.
pub(crate) const FILE: &str = "index.ckpt";
const TMP: &str = "index.ckpt.tmp";
const MAGIC: &[u8; 8] = b"LNSIDXCK";
const END_MAGIC: &[u8; 8] = b"LNSIDXOK";
const VERSION: u32 = 1;
/// Pairs read or written per buffer.
const CHUNK: usize = 1 << 16;
/// Bytes of checkpoint written between two syncs.
const SYNC_EVERY: usize = 16 << 20;

/// What a checkpoint says besides the index's pairs.
#[derive(Debug)]
pub(crate) struct Meta {
    pub(crate) seq: u64,
    /// Log position right after the commit record it stands after.
    pub(crate) end: u64,
    pub(crate) commit_checksum: u64,
    pub(crate) last: Option<CommitInfo>,
    pub(crate) kept: Vec<Kept>,
    pub(crate) segments: Vec<SegmentState>,
}

/// A segment as the checkpoint saw it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SegmentState {
    pub(crate) id: u32,
    pub(crate) data_end: u64,
    pub(crate) live: u64,
}

/// A writer that hashes what it writes.
struct Hashed<W> {
    out: W,
    hash: Xxh3,
}

impl<W: Write> Hashed<W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.hash.update(bytes);
        self.out.write_all(bytes)
    }

    fn u32(&mut self, v: u32) -> io::Result<()> {
        self.put(&v.to_le_bytes())
    }

    fn u64(&mut self, v: u64) -> io::Result<()> {
        self.put(&v.to_le_bytes())
    }
}

/// A reader that hashes what it reads.
struct Reading<R> {
    input: R,
    hash: Xxh3,
}

impl<R: Read> Reading<R> {
    fn take(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.input.read_exact(buf)?;
        self.hash.update(buf);
        Ok(())
    }

    fn array<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut buf = [0; N];
        self.take(&mut buf)?;
        Ok(buf)
    }

    fn u32(&mut self) -> io::Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> io::Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A count of items of `size` bytes each, refused when the file could
    /// not hold them.
    fn count(&mut self, wide: bool, size: u64, file_len: u64) -> io::Result<usize> {
        let n = if wide { self.u64()? } else { u64::from(self.u32()?) };
        if n.saturating_mul(size) > file_len {
            return Err(invalid("a count larger than the file"));
        }
        Ok(n as usize)
    }
}

fn invalid(reason: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason.to_owned())
}

/// Key bytes in an overflow entry: the longest key's, zero-padded.
const KEY_LEN: usize = 52;
impl Inner {
    /// Writes a checkpoint of the index as it stands after the newest
    /// commit, while commits go on (each waits at most for the copy of one
    /// shard). Returns whether one was written: not before the first
    /// commit, nor while the records `open` found replaced are still being
    /// counted, nor when `stop` was raised part way.
    pub(crate) fn write_checkpoint(&self, stop: &AtomicBool) -> Result<bool, StorageError> {
        let _one = self.checkpointing.lock();
        if self.check_poisoned().is_err() {
            return Ok(false);
        }
        // The live bytes it saves must not count what `open` left uncounted.
        if !self.uncounted.lock().is_empty() {
            return Ok(false);
        }
        let (meta, overflow, since, sync) = {
            let w = self.writer.lock();
            if w.seq == 0 {
                return Ok(false);
            }
            let version = self.version();
            let end = Loc::from_raw(version.end);
            let sync: Vec<Arc<Segment>> = read_table(self).iter().flatten().cloned().collect();
            let commit_checksum = sync
                .iter()
                .find(|s| s.id == end.segment())
                .and_then(|seg| commit_ending(seg, end))
                .map_or(0, |(_, checksum)| checksum);
            let segments: Vec<SegmentState> = sync
                .iter()
                .map(|s| SegmentState { id: s.id, data_end: s.data_end(), live: s.live() })
                .collect();
            let meta = Meta {
                seq: w.seq,
                end: version.end,
                commit_checksum,
                last: w.last,
                kept: self.history.read().kept().copied().collect(),
                segments,
            };
            let overflow = self.index.overflow_entries();
            self.index.begin_snapshot();
            (meta, overflow, self.since_checkpoint.swap(0, Ordering::AcqRel), sync)
        };
        let result = (|| {
            // Without `sync`, the log up to the checkpoint is made durable
            // first: a checkpoint never stands after a commit a crash loses.
            if !self.config.sync {
                for seg in &sync {
                    seg.file.sync().map_err(io_err(seg.path()))?;
                }
            }
            write(&self.dir, &meta, &overflow, &self.index, stop)
        })();
        if !matches!(result, Ok(true)) {
            self.index.end_snapshot();
            self.since_checkpoint.fetch_add(since, Ordering::AcqRel);
        }
        if let Ok(true) = result {
            tracing::debug!(target: "lanes::accounts_db", seq = meta.seq, keys = self.index.len(), "index checkpoint written");
        }
        result
    }
}

/// The sequence number and checksum of the commit record that ends at
/// `end`, if one does.
pub(crate) fn commit_ending(seg: &Segment, end: Loc) -> Option<(u64, u64)> {
    seg.commit_at(u64::from(end.offset()).checked_sub(COMMIT_RECORD_LEN as u64)?)
}

fn write(
    dir: &Path,
    meta: &Meta,
    overflow: &[(Key, Loc)],
    index: &Index,
    stop: &AtomicBool,
) -> Result<bool, StorageError> {
    let tmp = dir.join(TMP);
    let io = io_err(&tmp);
    let file = File::create(&tmp).map_err(io_err(&tmp))?;
    let mut out = Hashed { out: BufWriter::with_capacity(1 << 20, file), hash: Xxh3::new() };
    let mut pairs = Vec::new();
    let written = (|| -> io::Result<bool> {
        out.put(MAGIC)?;
        out.u32(VERSION)?;
        out.u32(index.shard_count() as u32)?;
        out.u64(index.len() as u64)?;
        for word in seed_words() {
            out.u64(word)?;
        }
        out.u64(fingerprint())?;
        out.u64(meta.seq)?;
        out.u64(meta.end)?;
        out.u64(meta.commit_checksum)?;
        let last = meta.last.unwrap_or(CommitInfo { block_number: 0, commitment: B256::ZERO });
        out.put(&[u8::from(meta.last.is_some())])?;
        out.u64(last.block_number)?;
        out.put(last.commitment.as_slice())?;
        out.u32(meta.kept.len() as u32)?;
        for k in &meta.kept {
            out.u64(k.block)?;
            out.u64(k.end)?;
            out.put(k.commitment.as_slice())?;
        }
        out.u32(meta.segments.len() as u32)?;
        for s in &meta.segments {
            out.u32(s.id)?;
            out.u64(s.data_end)?;
            out.u64(s.live)?;
        }
        out.u32(overflow.len() as u32)?;
        let mut bytes = Vec::with_capacity(KEY_LEN);
        for (key, loc) in overflow {
            bytes.clear();
            record::put_key(&mut bytes, key);
            bytes.resize(KEY_LEN, 0);
            out.put(&[record::key_kind(key) as u8])?;
            out.put(&bytes)?;
            out.u64(loc.raw())?;
        }
        let mut bytes = Vec::with_capacity(CHUNK * 16);
        let mut unsynced = 0;
        for i in 0..index.shard_count() {
            if stop.load(Ordering::Acquire) {
                return Ok(false);
            }
            index.snapshot_shard(i, &mut pairs);
            out.u64(pairs.len() as u64)?;
            for chunk in pairs.chunks(CHUNK) {
                bytes.clear();
                for &(hash, loc) in chunk {
                    bytes.extend_from_slice(&hash.to_le_bytes());
                    bytes.extend_from_slice(&loc.to_le_bytes());
                }
                out.put(&bytes)?;
                unsynced += bytes.len();
                // Written back a little at a time: a burst of dirty pages
                // would make the commits' own syncs wait behind it.
                if unsynced >= SYNC_EVERY {
                    out.out.flush()?;
                    let file = out.out.get_ref();
                    file.sync_data()?;
                    // Nor does it crowd the data's pages out of the cache.
                    let advice = rustix::fs::Advice::DontNeed;
                    rustix::fs::fadvise(file, 0, None, advice).map_err(io::Error::from)?;
                    unsynced = 0;
                }
            }
        }
        let digest = out.hash.digest();
        out.out.write_all(&digest.to_le_bytes())?;
        out.out.write_all(END_MAGIC)?;
        let file = out.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(true)
    })();
    match written {
        Ok(true) => {
            let path = dir.join(FILE);
            std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
            sync_dir(dir)?;
            Ok(true)
        }
        Ok(false) => {
            let _ = std::fs::remove_file(&tmp);
            Ok(false)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(io(e))
        }
    }
}

/// Why a checkpoint was not used.
pub(crate) type Unused = String;

/// Reads the checkpoint in `dir` into `index` (empty, with the shards the
/// database opens with), skipping pairs into segments `exists` denies.
/// `Ok(None)`: there is none. `Err`: there is one that cannot be used, and
/// why; `index` then holds part of it and must be thrown away.
pub(crate) fn read(
    dir: &Path,
    index: &mut Index,
    exists: impl Fn(u32) -> bool,
) -> Result<Option<Meta>, Unused> {
    let path = dir.join(FILE);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let mut input = Reading { input: BufReader::with_capacity(1 << 20, file), hash: Xxh3::new() };
    read_from(&mut input, len, index, exists)
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn read_from(
    input: &mut Reading<BufReader<File>>,
    len: u64,
    index: &mut Index,
    exists: impl Fn(u32) -> bool,
) -> io::Result<Meta> {
    if &input.array::<8>()? != MAGIC {
        return Err(invalid("not an index checkpoint"));
    }
    let version = input.u32()?;
    if version != VERSION {
        return Err(invalid(&format!("format version {version}, this build reads {VERSION}")));
    }
    let shards = input.u32()? as usize;
    let total = input.count(true, 16, len)?;
    let seed = [input.u64()?, input.u64()?, input.u64()?, input.u64()?];
    let print = input.u64()?;
    if !adopt_seed(seed) {
        return Err(invalid("written under another key seed (this process hashed keys first)"));
    }
    if print != fingerprint() {
        return Err(invalid("keys hash differently in this build"));
    }
    let seq = input.u64()?;
    let end = input.u64()?;
    let commit_checksum = input.u64()?;
    let [has_last] = input.array()?;
    let block_number = input.u64()?;
    let commitment = B256::from(input.array::<32>()?);
    let last = (has_last == 1).then_some(CommitInfo { block_number, commitment });
    let n = input.count(false, 48, len)?;
    let mut kept = Vec::with_capacity(n);
    for _ in 0..n {
        let block = input.u64()?;
        let end = input.u64()?;
        kept.push(Kept { block, end, commitment: B256::from(input.array::<32>()?) });
    }
    let n = input.count(false, 20, len)?;
    let mut segments = Vec::with_capacity(n);
    for _ in 0..n {
        let id = input.u32()?;
        segments.push(SegmentState { id, data_end: input.u64()?, live: input.u64()? });
    }
    let n = input.count(false, 61, len)?;
    for _ in 0..n {
        let [tag] = input.array()?;
        let bytes: [u8; KEY_LEN] = input.array()?;
        let kind = Kind::from_byte(tag).filter(|k| *k != Kind::Commit);
        let kind = kind.ok_or_else(|| invalid("an unknown key kind"))?;
        let key = record::key_of(kind, &bytes[..kind.key_len()]);
        let loc = Loc::from_raw(input.u64()?);
        if exists(loc.segment()) {
            index.load_overflow(key, loc);
        }
    }
    let same_shards = shards == index.shard_count();
    if !same_shards {
        index.reserve(None, total / index.shard_count() + 1);
    }
    let mut bytes = vec![0u8; CHUNK * 16];
    let mut read = 0usize;
    for i in 0..shards {
        let mut n = input.count(true, 16, len)?;
        read += n;
        if read > total {
            return Err(invalid("more pairs than its header says"));
        }
        if same_shards {
            index.reserve(Some(i), n);
        }
        while n > 0 {
            let take = n.min(CHUNK);
            let buf = &mut bytes[..take * 16];
            input.take(buf)?;
            for pair in buf.chunks_exact(16) {
                let hash = u64::from_le_bytes(pair[..8].try_into().expect("8 bytes"));
                let loc = Loc::from_raw(u64::from_le_bytes(pair[8..].try_into().expect("8 bytes")));
                if exists(loc.segment()) {
                    index.load(KeyHash::from_raw(hash), loc);
                }
            }
            n -= take;
        }
    }
    if read != total {
        return Err(invalid("fewer pairs than its header says"));
    }
    let digest = input.hash.digest();
    let mut trailer = [0u8; 16];
    input.input.read_exact(&mut trailer)?;
    if trailer[..8] != digest.to_le_bytes() || &trailer[8..] != END_MAGIC {
        return Err(invalid("checksum mismatch"));
    }
    Ok(Meta { seq, end, commit_checksum, last, kept, segments })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::Address;

    /// What `write` puts down, `read` gives back: the meta, every pair and
    /// the colliding keys of each kind with their locations.
    #[test]
    fn test_a_checkpoint_reads_back_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::new(8);
        for i in 0..100u8 {
            let key = Key::Account(Address::repeat_byte(i));
            index.insert(&key, Loc::new(1, u32::from(i) * 8, i % 7 == 0), |_| true);
        }
        let overflow = vec![
            (Key::Account(Address::repeat_byte(0xa1)), Loc::new(1, 8, false)),
            (Key::Storage(Address::repeat_byte(0xa2), B256::repeat_byte(3)), Loc::new(1, 16, true)),
            (Key::Code(B256::repeat_byte(0xc0)), Loc::new(1, 24, false)),
        ];
        let commitment = B256::repeat_byte(9);
        let meta = Meta {
            seq: 5,
            end: Loc::new(1, 4096, false).pos(),
            commit_checksum: 77,
            last: Some(CommitInfo { block_number: 4, commitment }),
            kept: vec![Kept { block: 4, end: 4096, commitment }],
            segments: vec![SegmentState { id: 1, data_end: 4096, live: 900 }],
        };
        index.begin_snapshot();
        assert!(write(dir.path(), &meta, &overflow, &index, &AtomicBool::new(false)).unwrap());

        let mut loaded = Index::new(4);
        let read = read(dir.path(), &mut loaded, |id| id == 1).unwrap().unwrap();
        assert_eq!((read.seq, read.end, read.commit_checksum), (5, meta.end, 77));
        assert_eq!((read.last, read.kept), (meta.last, meta.kept));
        assert_eq!(loaded.len(), index.len() + overflow.len());
        for (key, loc) in &overflow {
            assert_eq!(loaded.overflow(key), Some(*loc), "{key:?}");
        }
        for i in 0..100u8 {
            let key = Key::Account(Address::repeat_byte(i));
            assert_eq!(loaded.get(&key, |_| true), index.get(&key, |_| true));
        }
    }
}
