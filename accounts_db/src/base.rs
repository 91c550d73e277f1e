//! [`Base`]: the on-disk part of the index, the index checkpoint's pairs
//! read where they lie instead of loaded into memory.
//!
//! The pairs (hash, location) sit sorted in 4 KiB blocks of a file mapped
//! read-only, so the page cache, not the process, holds the part in use.
//! They are sorted by [`order`]: the hash turned so that its index-shard
//! bits come first, which puts each shard's pairs in one run and lets a
//! shard be merged with its in-memory changes on its own. A lookup finds
//! its block by binary search over the first key of every block (kept in
//! memory: 8 bytes per block of [`PER_BLOCK`] pairs) and reads that one
//! block, whose checksum is checked the first time it is read. The file's
//! layout is in `checkpoint.rs`; this module reads and writes the blocks.

use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use xxhash_rust::xxh3::xxh3_64;

use crate::error::StorageError;
use crate::hash::KeyHash;
use crate::mmap::MappedFile;

/// Bytes of one block: a checksum, a count, then pairs.
pub(crate) const BLOCK: usize = 4096;
/// Bytes before a block's pairs: xxh3-64 of the rest of the block, the
/// count of pairs (u32), four bytes unused.
const BLOCK_HEAD: usize = 16;
/// Pairs in a full block.
pub(crate) const PER_BLOCK: usize = (BLOCK - BLOCK_HEAD) / 16;

/// The sort key of the pair of `hash` in a base written for `2^shard_bits`
/// index shards: the shard's bits ([`KeyHash::index_shard`], from bit 32 up)
/// on top, so shard `s`'s pairs are the keys with `s` in their top bits.
pub(crate) fn order(hash: u64, shard_bits: u32) -> u64 {
    hash.rotate_right(32 + shard_bits)
}

/// The hash of the pair filed under `key` ([`order`] undone).
pub(crate) fn hash_of(key: u64, shard_bits: u32) -> KeyHash {
    KeyHash::from_raw(key.rotate_left(32 + shard_bits))
}

/// The keys of shard `s`'s pairs: `lo..=hi`.
fn shard_range(s: usize, shard_bits: u32) -> (u64, u64) {
    if shard_bits == 0 {
        return (0, u64::MAX);
    }
    let lo = (s as u64) << (64 - shard_bits);
    (lo, lo | (u64::MAX >> shard_bits))
}

/// Steps a guessed position is walked before a binary search takes over.
const WALK: usize = 8;

/// Most interpolation steps [`Base::find_block`] takes before it walks.
const LEAPS: usize = 3;

/// Where `offset` of `span` falls among `n` evenly spread items.
fn guess(offset: u64, span: u64, n: usize) -> usize {
    let at = (u128::from(offset) * n as u128) / (u128::from(span) + 1);
    (at as usize).min(n - 1)
}

/// `i`, a guess of where `key` sits among `n` sorted keys (`key_at`)
/// spread evenly `gap` apart, moved by the key's distance from the one at
/// `i` over the gap, up to [`LEAPS`] times: a guess from the key's value
/// alone is off by about the square root of the keys before it (20 blocks
/// at 100M keys), more than a walk should take.
fn leap(mut i: usize, n: usize, key: u64, gap: u64, key_at: impl Fn(usize) -> u64) -> usize {
    let gap = gap.max(1);
    for _ in 0..LEAPS {
        let at = key_at(i);
        let steps = usize::try_from(key.abs_diff(at) / gap).unwrap_or(usize::MAX);
        if steps < 2 {
            break;
        }
        i = if key > at { i.saturating_add(steps).min(n - 1) } else { i - steps.min(i) };
    }
    i
}

/// Where `key` is among `n` sorted keys (`key_at`), walking from `j`, at
/// most [`WALK`] steps, then by binary search.
fn search(mut j: usize, n: usize, key: u64, key_at: impl Fn(usize) -> u64) -> Option<usize> {
    for _ in 0..WALK {
        let k = key_at(j);
        if k == key {
            return Some(j);
        }
        if k < key {
            if j + 1 == n || key_at(j + 1) > key {
                return None;
            }
            j += 1;
        } else {
            if j == 0 || key_at(j - 1) < key {
                return None;
            }
            j -= 1;
        }
    }
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        match key_at(mid).cmp(&key) {
            std::cmp::Ordering::Equal => return Some(mid),
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
        }
    }
    None
}

/// The on-disk pairs of an index, or none (a database without a checkpoint).
#[derive(Debug, Default)]
pub(crate) struct Base {
    /// The mapped file; `None`: no pairs.
    file: Option<MappedFile>,
    /// First key of each block.
    fences: Vec<u64>,
    shard_bits: u32,
    /// Pairs in the file.
    pairs: u64,
    /// Segments the checkpoint saw that are gone (compaction deleted them
    /// after it): pairs into them are tombstones compaction dropped, not
    /// there any more.
    missing: Vec<u32>,
    /// Blocks whose checksum was checked, a bit each: a block is checked
    /// the first time it is read, not on every lookup.
    checked: Box<[AtomicU64]>,
    /// A block failed its checksum (and the file was set aside).
    damaged: AtomicBool,
}

/// Where a checkpoint with a damaged block is moved, beside it: the next
/// `open` finds none and rebuilds the index from the log.
pub(crate) const DAMAGED: &str = "index.ckpt.damaged";

impl Base {
    /// A base of `file`'s blocks: `fences.len()` of them after its first
    /// page (the header).
    pub(crate) fn new(
        file: MappedFile,
        fences: Vec<u64>,
        shard_bits: u32,
        pairs: u64,
        mut missing: Vec<u32>,
    ) -> Self {
        missing.sort_unstable();
        let checked = (0..fences.len().div_ceil(64)).map(|_| AtomicU64::new(0)).collect();
        let damaged = AtomicBool::new(false);
        Self { file: Some(file), fences, shard_bits, pairs, missing, checked, damaged }
    }

    /// Pairs in the file (some may point into missing segments).
    pub(crate) fn pairs(&self) -> u64 {
        self.pairs
    }

    /// Memory this takes besides the mapped file: the fences and the
    /// checked bits.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.fences.capacity() * 8 + self.checked.len() * 8
    }

    /// Whether its file's path still names it (or it has none): false once
    /// a checkpoint's exchange moved it to the spare name.
    pub(crate) fn at_path(&self) -> bool {
        self.file.as_ref().is_none_or(MappedFile::is_at_path)
    }

    fn present(&self, loc: u64) -> bool {
        self.missing.is_empty() || self.missing.binary_search(&((loc >> 32) as u32)).is_err()
    }

    /// Block `i`'s pairs, its checksum checked.
    fn block(&self, i: usize) -> Result<&[u8], StorageError> {
        let file = self.file.as_ref().expect("a base with blocks has a file");
        let offset = ((i + 1) * BLOCK) as u64;
        let corrupted =
            |reason| StorageError::Corrupted { file: file.path().to_owned(), offset, reason };
        let block =
            file.read(offset, BLOCK).ok_or_else(|| corrupted("index block past the file's end"))?;
        let (word, bit) = (&self.checked[i / 64], 1u64 << (i % 64));
        if word.load(Ordering::Relaxed) & bit == 0 {
            let sum = u64::from_le_bytes(block[..8].try_into().expect("8 bytes"));
            if sum != xxh3_64(&block[8..]) {
                self.set_aside(file);
                return Err(corrupted("index block checksum mismatch"));
            }
            word.fetch_or(bit, Ordering::Relaxed);
        }
        let count = u32::from_le_bytes(block[8..12].try_into().expect("4 bytes")) as usize;
        if count == 0 || count > PER_BLOCK {
            return Err(corrupted("index block pair count out of range"));
        }
        Ok(&block[BLOCK_HEAD..BLOCK_HEAD + count * 16])
    }

    /// Moves the file aside, once, if its name still names it.
    fn set_aside(&self, file: &MappedFile) {
        if self.damaged.swap(true, Ordering::AcqRel) || !file.is_at_path() {
            return;
        }
        let to = file.path().with_file_name(DAMAGED);
        match std::fs::rename(file.path(), &to) {
            Ok(()) => {
                tracing::error!(target: "lanes::accounts_db", path = %to.display(), "index checkpoint damaged: moved aside; reopen to rebuild the index from the log")
            }
            Err(e) => {
                tracing::error!(target: "lanes::accounts_db", %e, "index checkpoint damaged and not moved aside")
            }
        }
    }

    /// The location filed under `hash`.
    ///
    /// Keys are hashes, spread evenly, so where a key sits is guessed from
    /// its value (among the fences, then among its block's pairs) and
    /// walked from there: a cache line or two each, where a binary search
    /// takes a miss per step. A walk that goes on falls back to one.
    pub(crate) fn get(&self, hash: KeyHash) -> Result<Option<u64>, StorageError> {
        let key = order(hash.raw(), self.shard_bits);
        let Some(i) = self.find_block(key) else {
            return Ok(None);
        };
        let pairs = self.block(i)?;
        let n = pairs.len() / 16;
        let key_at =
            |j: usize| u64::from_le_bytes(pairs[j * 16..j * 16 + 8].try_into().expect("8"));
        let (lo, hi) = self.span(i);
        let j = leap(guess(key - lo, hi - lo, n), n, key, (hi - lo) / n as u64, key_at);
        let Some(j) = search(j, n, key, key_at) else {
            return Ok(None);
        };
        let loc = u64::from_le_bytes(pairs[j * 16 + 8..j * 16 + 16].try_into().expect("8 bytes"));
        Ok(Some(loc).filter(|&l| self.present(l)))
    }

    /// Starts loading what a lookup of `hash` ([`Self::get`]) reads first:
    /// its block's head and the pairs where the key is guessed to sit in it
    /// (as if the block were full, as all but the last are). A hint, which
    /// waits for nothing: a pass of these over a commit's keys has their
    /// blocks' misses in flight together, where the lookups, each behind
    /// its shard's lock, take them one after another.
    pub(crate) fn prefetch(&self, hash: KeyHash) {
        let Some(file) = &self.file else { return };
        let key = order(hash.raw(), self.shard_bits);
        let Some(i) = self.find_block(key) else { return };
        let (lo, hi) = self.span(i);
        let j = guess(key - lo, hi - lo, PER_BLOCK);
        let block = ((i + 1) * BLOCK) as u64;
        file.prefetch_at(block);
        file.prefetch_at(block + (BLOCK_HEAD + j * 16) as u64);
    }

    /// The keys block `i` covers: from its fence up to the next one's.
    fn span(&self, i: usize) -> (u64, u64) {
        (self.fences[i], self.fences.get(i + 1).copied().unwrap_or(u64::MAX))
    }

    /// The block whose keys' range holds `key`: the last whose fence is at
    /// most `key`.
    fn find_block(&self, key: u64) -> Option<usize> {
        let n = self.fences.len();
        if n == 0 || key < self.fences[0] {
            return None;
        }
        let mut i = leap(guess(key, u64::MAX, n), n, key, u64::MAX / n as u64, |i| self.fences[i]);
        for _ in 0..WALK {
            if self.fences[i] > key {
                i -= 1;
            } else if i + 1 < n && self.fences[i + 1] <= key {
                i += 1;
            } else {
                return Some(i);
            }
        }
        Some(self.fences.partition_point(|&f| f <= key) - 1)
    }

    /// Shard `s`'s pairs as (key, location), sorted by key, into `out`.
    pub(crate) fn shard(&self, s: usize, out: &mut Vec<(u64, u64)>) -> Result<(), StorageError> {
        out.clear();
        let (lo, hi) = shard_range(s, self.shard_bits);
        let first = self.fences.partition_point(|&f| f <= lo).saturating_sub(1);
        let last = self.fences.partition_point(|&f| f <= hi);
        if let Some(file) = &self.file {
            file.will_need(((first + 1) * BLOCK) as u64, ((last - first) * BLOCK) as u64);
        }
        for i in first..last {
            for pair in self.block(i)?.chunks_exact(16) {
                let key = u64::from_le_bytes(pair[..8].try_into().expect("8 bytes"));
                let loc = u64::from_le_bytes(pair[8..].try_into().expect("8 bytes"));
                if (lo..=hi).contains(&key) && self.present(loc) {
                    out.push((key, loc));
                }
            }
        }
        Ok(())
    }
}

/// Writes pairs, in key order, as blocks.
pub(crate) struct BlockWriter {
    block: Vec<u8>,
    count: usize,
    last: Option<u64>,
    /// First key of each block written.
    pub(crate) fences: Vec<u64>,
    pub(crate) pairs: u64,
}

impl BlockWriter {
    pub(crate) fn new() -> Self {
        Self { block: vec![0; BLOCK], count: 0, last: None, fences: Vec::new(), pairs: 0 }
    }

    /// Adds the pair `(key, loc)`; keys must come in rising order.
    pub(crate) fn push(&mut self, out: &mut impl Write, key: u64, loc: u64) -> io::Result<()> {
        debug_assert!(self.last.is_none_or(|l| l < key), "pairs out of order");
        self.last = Some(key);
        if self.count == 0 {
            self.fences.push(key);
        }
        let at = BLOCK_HEAD + self.count * 16;
        self.block[at..at + 8].copy_from_slice(&key.to_le_bytes());
        self.block[at + 8..at + 16].copy_from_slice(&loc.to_le_bytes());
        self.count += 1;
        self.pairs += 1;
        if self.count == PER_BLOCK { self.flush(out) } else { Ok(()) }
    }

    /// Writes the block in progress, if it holds any pair.
    pub(crate) fn flush(&mut self, out: &mut impl Write) -> io::Result<()> {
        if self.count == 0 {
            return Ok(());
        }
        self.block[BLOCK_HEAD + self.count * 16..].fill(0);
        self.block[8..12].copy_from_slice(&(self.count as u32).to_le_bytes());
        let sum = xxh3_64(&self.block[8..]);
        self.block[..8].copy_from_slice(&sum.to_le_bytes());
        self.count = 0;
        out.write_all(&self.block)
    }
}

/// Opens `path` mapped, for a [`Base`]; `populate`: its page tables filled
/// up front (a file just written, whose pages are in the cache: the
/// lookups after it then take no page fault each). A checkpoint is written
/// in 2 MiB pieces, so where the file system keeps the page cache in 2 MiB
/// folios (ext4 on Linux 6.18 does) the kernel maps them with huge pages,
/// and a lookup misses the TLB once per 2 MiB instead of once per block.
pub(crate) fn map(path: &Path, populate: bool) -> io::Result<MappedFile> {
    let file = MappedFile::open(path, 0, false)?;
    if populate {
        file.populate();
    }
    Ok(file)
}

impl Drop for Base {
    /// Lets go of the mapping's pages a pass at a time first: unmapping a
    /// gigabyte of filled page tables in one call stalls the other threads.
    fn drop(&mut self) {
        if let Some(file) = &self.file {
            let _ = file.release_pages();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_search_finds_every_key_from_any_guess() {
        let keys: Vec<u64> = (0..100u64).map(|i| i * i * 1000 + 5).collect();
        let key_at = |j: usize| keys[j];
        for start in [0, 13, 50, 99] {
            for (j, &k) in keys.iter().enumerate() {
                assert_eq!(search(start, keys.len(), k, key_at), Some(j));
                assert_eq!(search(start, keys.len(), k + 1, key_at), None);
            }
            assert_eq!(search(start, keys.len(), 0, key_at), None);
        }
        assert_eq!(guess(u64::MAX, u64::MAX, 10), 9);
        assert_eq!(guess(0, u64::MAX, 10), 0);
    }

    #[test]
    fn test_leap_lands_near_a_key_among_evenly_spread_ones() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut keys: Vec<u64> = (0..100_000)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            })
            .collect();
        keys.sort_unstable();
        let n = keys.len();
        let (mut far_guess, mut far_leap) = (0, 0);
        for (j, &k) in keys.iter().enumerate().step_by(97) {
            let g = guess(k, u64::MAX, n);
            let l = leap(g, n, k, u64::MAX / n as u64, |i| keys[i]);
            far_guess += usize::from(g.abs_diff(j) > WALK);
            far_leap += usize::from(l.abs_diff(j) > WALK);
            assert_eq!(search(l, n, k, |i| keys[i]), Some(j));
        }
        assert!(far_leap * 10 < far_guess.max(1), "leap {far_leap} vs guess {far_guess}");
        // Keys not spread evenly: a leap may land anywhere, the search still finds.
        let skewed: Vec<u64> = (0..1_000u64).map(|i| i * i * i).collect();
        for (j, &k) in skewed.iter().enumerate() {
            let l = leap(guess(k, u64::MAX, 1_000), 1_000, k, u64::MAX / 1_000, |i| skewed[i]);
            assert_eq!(search(l, 1_000, k, |i| skewed[i]), Some(j));
        }
    }

    #[test]
    fn test_order_puts_the_shard_on_top_and_is_undone() {
        for bits in [0, 1, 4, 10] {
            for raw in [0u64, 1, 0xdead_beef_1234_5678, u64::MAX, 7 << 32] {
                let hash = KeyHash::from_raw(raw);
                let key = order(raw, bits);
                assert_eq!(hash_of(key, bits), hash);
                let s = hash.index_shard((1 << bits) - 1);
                let (lo, hi) = shard_range(s, bits);
                assert!((lo..=hi).contains(&key), "bits {bits} raw {raw:x}");
            }
        }
    }
}
