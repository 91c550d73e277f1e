//! The in-memory index: key -> location of the key's newest record.
//!
//! To stay small (the goal is at most 64 bytes per key) the index does not
//! store keys. Each shard maps the key's 64-bit hash ([`Key::hash64`], which
//! a caller may have computed already) to a [`Loc`]; the key itself is
//! compared against the record the location points at, which a read fetches
//! anyway. Two keys whose 64-bit hashes collide are rare; the second one goes
//! to a small overflow map keyed by the full key, so a collision costs speed,
//! never a wrong answer.

use parking_lot::{RwLock, RwLockReadGuard};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::entry::Key;
use crate::hash::KeyHash;
use crate::loc_map::LocMap;

/// Where a record lives: segment id in the high 32 bits, byte offset in the low
/// 32. Offsets are multiples of 8, so bit 0 is free and marks a tombstone.
/// Ordering by [`Loc::pos`] is log order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Loc(u64);

impl Loc {
    pub(crate) fn new(segment: u32, offset: u32, tombstone: bool) -> Self {
        Self((u64::from(segment) << 32) | u64::from(offset) | u64::from(tombstone))
    }

    pub(crate) fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    pub(crate) fn raw(self) -> u64 {
        self.0
    }

    /// Position in the log, without the tombstone bit.
    pub(crate) fn pos(self) -> u64 {
        self.0 & !1
    }

    pub(crate) fn segment(self) -> u32 {
        (self.0 >> 32) as u32
    }

    pub(crate) fn offset(self) -> u32 {
        (self.0 as u32) & !1
    }

    pub(crate) fn is_tombstone(self) -> bool {
        self.0 & 1 == 1
    }
}

/// One shard: its table, and while a checkpoint copies the index, what
/// each hash changed since it began held then (the first change wins).
#[derive(Debug, Default)]
struct Shard {
    map: LocMap,
    undo: Option<HashMap<KeyHash, Option<u64>, ahash::RandomState>>,
}

impl Shard {
    fn get(&self, hash: KeyHash) -> Option<u64> {
        self.map.get(hash)
    }

    fn insert(&mut self, hash: KeyHash, loc: u64) -> Option<u64> {
        let old = self.map.insert(hash, loc);
        if let Some(undo) = &mut self.undo {
            undo.entry(hash).or_insert(old);
        }
        old
    }

    fn remove(&mut self, hash: KeyHash) -> Option<u64> {
        let old = self.map.remove(hash);
        if let Some(undo) = &mut self.undo {
            undo.entry(hash).or_insert(old);
        }
        old
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

/// The least share of its capacity, in 1/256ths, a shard's table grows at
/// ([`LocMap::with_growth`]); shards spread evenly from there to full.
const LEAST_GROWTH_SHARE: usize = 160;

/// The sharded index. Reads take one shard's read lock; the single writer
/// takes one shard's write lock per update.
#[derive(Debug)]
pub(crate) struct Index {
    shards: Box<[RwLock<Shard>]>,
    shard_mask: usize,
    overflow: RwLock<HashMap<Key, Loc, ahash::RandomState>>,
    overflow_len: AtomicUsize,
}

impl Index {
    /// An empty index with `shards` shards (rounded up to a power of two).
    pub(crate) fn new(shards: usize) -> Self {
        let n = shards.max(1).next_power_of_two();
        let share = |i: usize| (256 - i * (256 - LEAST_GROWTH_SHARE) / n) as u16;
        let shard = |i| Shard { map: LocMap::with_growth(share(i)), undo: None };
        Self {
            shards: (0..n).map(|i| RwLock::new(shard(i))).collect(),
            shard_mask: n - 1,
            overflow: RwLock::new(HashMap::default()),
            overflow_len: AtomicUsize::new(0),
        }
    }

    /// The shard of the key hashing to `hash` ([`KeyHash::index_shard`]: bits
    /// clear of those its table uses, so a shard's keys still spread over
    /// all its buckets).
    fn shard(&self, hash: KeyHash) -> &RwLock<Shard> {
        &self.shards[hash.index_shard(self.shard_mask)]
    }

    /// The location of `key`'s newest record. `holds(loc, key)` says whether the
    /// record at `loc` stores `key`.
    pub(crate) fn get(&self, key: &Key, holds: impl Fn(Loc) -> bool) -> Option<Loc> {
        match self.primary(key.hash64()) {
            Some(loc) if holds(loc) => Some(loc),
            _ => self.overflow(key),
        }
    }

    /// The location filed under the key hashing to `hash` ([`Key::hash64`]):
    /// that key's newest record, or (after a hash collision) another key's;
    /// the caller compares keys.
    pub(crate) fn primary(&self, hash: KeyHash) -> Option<Loc> {
        self.shard(hash).read().get(hash).map(Loc::from_raw)
    }

    /// The locations in the shard tables of the keys hashing to `hashes`,
    /// appended to `locs`. Each shard's read lock is taken once and held for
    /// the whole call (a batch's keys: microseconds), so the probes run
    /// without atomics between them. No lock is taken while a guard is held
    /// but other shards' read locks, and no writer holds two shards, so this
    /// cannot deadlock.
    pub(crate) fn primaries(&self, hashes: &[KeyHash], locs: &mut Vec<Loc>) {
        let mut guards: Vec<Option<RwLockReadGuard<'_, Shard>>> =
            self.shards.iter().map(|_| None).collect();
        for &hash in hashes {
            let i = hash.index_shard(self.shard_mask);
            let shard = guards[i].get_or_insert_with(|| self.shards[i].read());
            locs.extend(shard.get(hash).map(Loc::from_raw));
        }
    }

    /// The location of `key` in the overflow map of colliding keys.
    pub(crate) fn overflow(&self, key: &Key) -> Option<Loc> {
        if self.overflow_len.load(Ordering::Acquire) == 0 {
            return None;
        }
        self.overflow.read().get(key).copied()
    }

    /// Points `key` at `loc`; returns the location it replaced.
    pub(crate) fn insert(&self, key: &Key, loc: Loc, holds: impl Fn(Loc) -> bool) -> Option<Loc> {
        let hash = key.hash64();
        let mut shard = self.shard(hash).write();
        match shard.get(hash).map(Loc::from_raw) {
            Some(slot) if holds(slot) => shard.insert(hash, loc.raw()).map(Loc::from_raw),
            Some(_) => self.overflow_insert(key, loc),
            None => {
                if self.overflow_len.load(Ordering::Acquire) > 0
                    && self.overflow.read().contains_key(key)
                {
                    return self.overflow_insert(key, loc);
                }
                shard.insert(hash, loc.raw());
                None
            }
        }
    }

    fn overflow_insert(&self, key: &Key, loc: Loc) -> Option<Loc> {
        let mut overflow = self.overflow.write();
        let old = overflow.insert(*key, loc);
        self.overflow_len.store(overflow.len(), Ordering::Release);
        old
    }

    /// Removes `key` if it still points at `expected`.
    pub(crate) fn remove_if(&self, key: &Key, expected: Loc) -> bool {
        let hash = key.hash64();
        let mut shard = self.shard(hash).write();
        if shard.get(hash) == Some(expected.raw()) {
            shard.remove(hash);
            return true;
        }
        drop(shard);
        let mut overflow = self.overflow.write();
        if overflow.get(key) == Some(&expected) {
            overflow.remove(key);
            self.overflow_len.store(overflow.len(), Ordering::Release);
            return true;
        }
        false
    }

    /// Number of keys indexed (tombstones included).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().len()).sum::<usize>()
            + self.overflow_len.load(Ordering::Acquire)
    }

    /// Memory the index takes: the shards' tables, plus an estimate for the
    /// overflow map (a hashbrown entry and its control byte at 7/8 load).
    pub(crate) fn memory_bytes(&self) -> usize {
        let tables: usize = self.shards.iter().map(|s| s.read().map.memory_bytes()).sum();
        let entry = std::mem::size_of::<(Key, Loc)>() + 1;
        tables + self.overflow_len.load(Ordering::Acquire) * entry * 8 / 7
    }

    /// Every location in the index, one shard at a time (no lock is held while
    /// `f` runs).
    pub(crate) fn for_each_chunk(&self, mut f: impl FnMut(&[Loc])) {
        let mut buf = Vec::new();
        for shard in self.shards.iter() {
            buf.clear();
            buf.extend(shard.read().map.iter().map(|(_, loc)| Loc::from_raw(loc)));
            f(&buf);
        }
        buf.clear();
        buf.extend(self.overflow.read().values().copied());
        f(&buf);
    }
}

/// Copying the index for a checkpoint while commits go on: the writer
/// calls [`Index::begin_snapshot`] between two commits; each
/// [`Index::snapshot_shard`] then gives that shard as it was at that point.
impl Index {
    /// Number of shards.
    pub(crate) fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Starts recording, in every shard, what each changed hash held before
    /// (call between commits, with the writer held).
    pub(crate) fn begin_snapshot(&self) {
        for shard in self.shards.iter() {
            shard.write().undo = Some(HashMap::default());
        }
    }

    /// Stops recording (after a checkpoint that stopped part way).
    pub(crate) fn end_snapshot(&self) {
        for shard in self.shards.iter() {
            shard.write().undo = None;
        }
    }

    /// Shard `i`'s (hash, location) pairs as they were at
    /// [`Self::begin_snapshot`], into `out`; the shard stops recording.
    /// Holds the shard's read lock while copying it (the writer waits on
    /// that shard meanwhile; readers do not).
    pub(crate) fn snapshot_shard(&self, i: usize, out: &mut Vec<(u64, u64)>) {
        out.clear();
        {
            let shard = self.shards[i].read();
            out.reserve(shard.len());
            out.extend(shard.map.iter().map(|(h, l)| (h.raw(), l)));
        }
        let undo = self.shards[i].write().undo.take().unwrap_or_default();
        if !undo.is_empty() {
            out.retain(|(h, _)| !undo.contains_key(&KeyHash::from_raw(*h)));
            out.extend(undo.into_iter().filter_map(|(h, l)| Some((h.raw(), l?))));
        }
    }

    /// The overflow map's entries (the writer changes it, so with the writer
    /// held this is the state between two commits).
    pub(crate) fn overflow_entries(&self) -> Vec<(Key, Loc)> {
        self.overflow.read().iter().map(|(k, l)| (*k, *l)).collect()
    }

    /// Makes room in shard `i` (every shard: `None`) for `n` more hashes.
    pub(crate) fn reserve(&mut self, i: Option<usize>, n: usize) {
        for (at, shard) in self.shards.iter_mut().enumerate() {
            if i.is_none_or(|i| i == at) {
                shard.get_mut().map.reserve(n);
            }
        }
    }

    /// Adds a checkpoint's pair: `hash`, which no shard holds, at `loc`.
    pub(crate) fn load(&mut self, hash: KeyHash, loc: Loc) {
        let i = hash.index_shard(self.shard_mask);
        self.shards[i].get_mut().map.insert_new(hash, loc.raw());
    }

    /// Adds a checkpoint's colliding key.
    pub(crate) fn load_overflow(&mut self, key: Key, loc: Loc) {
        let overflow = self.overflow.get_mut();
        overflow.insert(key, loc);
        *self.overflow_len.get_mut() = overflow.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::Address;

    #[test]
    fn test_loc_bits() {
        let loc = Loc::new(7, 1024, true);
        assert_eq!((loc.segment(), loc.offset(), loc.is_tombstone()), (7, 1024, true));
        assert_eq!(loc.pos(), Loc::new(7, 1024, false).raw());
        assert!(Loc::new(8, 0, false).pos() > Loc::new(7, u32::MAX - 7, true).pos());
    }

    #[test]
    fn test_a_snapshot_is_the_index_when_it_began() {
        let index = Index::new(4);
        let key = |i: u8| Key::Account(Address::repeat_byte(i));
        let all = |index: &Index| {
            let mut pairs: Vec<(u64, u64)> = Vec::new();
            let mut buf = Vec::new();
            for i in 0..index.shard_count() {
                index.snapshot_shard(i, &mut buf);
                pairs.extend(&buf);
            }
            pairs.sort_unstable();
            pairs
        };
        for i in 0..50 {
            index.insert(&key(i), Loc::new(1, u32::from(i) * 8, false), |_| true);
        }
        let before = all(&index);
        index.begin_snapshot();
        for i in 25..75 {
            index.insert(&key(i), Loc::new(2, u32::from(i) * 8, false), |_| true);
        }
        for i in 0..10 {
            assert!(index.remove_if(&key(i), Loc::new(1, u32::from(i) * 8, false)));
        }
        index.insert(&key(3), Loc::new(3, 0, true), |_| true);
        assert_eq!(all(&index), before, "changes after it began are undone");
        assert_eq!(all(&index).len(), 66, "a finished snapshot records no more");
        // Loading the pairs back gives the same index.
        let mut loaded = Index::new(16);
        loaded.reserve(None, 10);
        for (h, l) in all(&index) {
            loaded.load(KeyHash::from_raw(h), Loc::from_raw(l));
        }
        assert_eq!(all(&loaded), all(&index));
        index.end_snapshot();
    }

    #[test]
    fn test_colliding_hashes_go_to_overflow() {
        // Force collisions by pretending every location holds some other key.
        let index = Index::new(1);
        let a = Key::Account(Address::repeat_byte(1));
        let b = Key::Account(Address::repeat_byte(2));
        let la = Loc::new(1, 8, false);
        let lb = Loc::new(1, 16, false);
        assert_eq!(index.insert(&a, la, |_| false), None);
        // With a real collision `holds` is false for the other key's location.
        let hash_b = b.hash64();
        index.shard(hash_b).write().insert(hash_b, la.raw());
        assert_eq!(index.insert(&b, lb, |l| l == lb), None, "b goes to overflow");
        assert_eq!(index.get(&b, |l| l == lb), Some(lb));
        assert_eq!(index.get(&a, |l| l == la), Some(la));
        assert!(index.remove_if(&b, lb));
        assert_eq!(index.get(&b, |l| l == lb), None);
    }
}
