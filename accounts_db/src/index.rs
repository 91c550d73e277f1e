//! The index: key -> location of the key's newest record.
//!
//! The keys changed since the last checkpoint are in memory; the rest are
//! in the checkpoint's file, read where it lies ([`Base`]), so memory holds
//! what a budget allows ([`crate::AccountsDbConfig::index_memory_bytes`])
//! and the page cache what is read. The index does not store keys. Each shard maps the key's 64-bit hash ([`Key::hash64`], which
//! a caller may have computed already) to a [`Loc`]; the key itself is
//! compared against the record the location points at, which a read fetches
//! anyway. Two keys whose 64-bit hashes collide are rare; the second one goes
//! to a small overflow map keyed by the full key, so a collision costs speed,
//! never a wrong answer.

use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockUpgradableReadGuard};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use crate::base::{self, Base};
use crate::error::StorageError;

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

/// What a shard's newer layer holds for a hash it removed (in the layers
/// below, the key is still there). No location has every bit set.
pub(crate) const REMOVED: u64 = u64::MAX;

/// One shard, in three layers, newest first: the changes since the last
/// checkpoint began, the changes a checkpoint in progress is merging
/// (frozen), and the checkpoint's pairs on disk.
#[derive(Debug)]
struct Shard {
    delta: LocMap,
    frozen: Option<Arc<LocMap>>,
    base: Arc<Base>,
}

impl Shard {
    /// Starts loading the first slot of `hash`'s probe in the shard's
    /// tables.
    fn prefetch(&self, hash: KeyHash) {
        self.delta.prefetch(hash);
        if let Some(frozen) = &self.frozen {
            frozen.prefetch(hash);
        }
    }

    /// What the frozen changes and the base hold for `hash`.
    fn below(&self, hash: KeyHash) -> Result<Option<u64>, StorageError> {
        if let Some(loc) = self.frozen.as_ref().and_then(|f| f.get(hash)) {
            return Ok(Some(loc).filter(|&l| l != REMOVED));
        }
        self.base.get(hash)
    }

    fn get(&self, hash: KeyHash) -> Result<Option<u64>, StorageError> {
        match self.delta.get(hash) {
            Some(loc) => Ok(Some(loc).filter(|&l| l != REMOVED)),
            None => self.below(hash),
        }
    }

    /// Whether a newer layer than the base holds `hash`.
    fn shadows(&self, hash: KeyHash) -> bool {
        self.delta.get(hash).is_some()
            || self.frozen.as_ref().is_some_and(|f| f.get(hash).is_some())
    }
}

/// The least share of its capacity, in 1/256ths, a shard's table grows at
/// ([`LocMap::with_growth`]); shards spread evenly from there to full.
const LEAST_GROWTH_SHARE: usize = 160;

/// The sharded index. Reads take one shard's read lock. The single writer
/// takes one shard's upgradable lock per update, which readers go on
/// beside ([`LocMap`]: its readers never wait), and a write lock only to
/// swap in a grown table or, for a checkpoint, a shard's layers.
#[derive(Debug)]
pub(crate) struct Index {
    shards: Box<[RwLock<Shard>]>,
    shard_mask: usize,
    overflow: RwLock<HashMap<Key, Loc, ahash::RandomState>>,
    overflow_len: AtomicUsize,
    /// Keys the shards hold, all layers together.
    len: AtomicUsize,
    /// Bytes of the shards' newest tables.
    delta_bytes: AtomicUsize,
    /// Bytes of the frozen tables.
    frozen_bytes: AtomicUsize,
    /// The base every shard reads.
    base: Mutex<Arc<Base>>,
    /// The base [`Self::install`] replaced, until its last reader lets go:
    /// its file is the next checkpoint's to write over.
    retired: Mutex<Weak<Base>>,
}

/// Where a key is filed ([`Index::find`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// In its shard, at this location.
    Primary(Loc),
    /// In the overflow map of colliding keys, at this location.
    Overflow(Loc),
    /// Nowhere; its shard's slot is free.
    Vacant,
    /// Nowhere; its shard's slot holds another key with the same hash.
    Taken,
}

impl Found {
    /// The location, where there is one.
    pub(crate) fn loc(self) -> Option<Loc> {
        match self {
            Found::Primary(loc) | Found::Overflow(loc) => Some(loc),
            Found::Vacant | Found::Taken => None,
        }
    }
}

/// The changes a checkpoint merges: each shard's frozen table, and the
/// base they go over.
#[derive(Debug)]
pub(crate) struct Frozen {
    pub(crate) maps: Vec<Arc<LocMap>>,
    pub(crate) base: Arc<Base>,
}

impl Index {
    /// An empty index with `shards` shards (rounded up to a power of two).
    pub(crate) fn new(shards: usize) -> Self {
        let n = shards.max(1).next_power_of_two();
        let share = |i: usize| (256 - i * (256 - LEAST_GROWTH_SHARE) / n) as u16;
        let base = Arc::new(Base::default());
        let shard =
            |i| Shard { delta: LocMap::with_growth(share(i)), frozen: None, base: base.clone() };
        Self {
            shards: (0..n).map(|i| RwLock::new(shard(i))).collect(),
            shard_mask: n - 1,
            overflow: RwLock::new(HashMap::default()),
            overflow_len: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            delta_bytes: AtomicUsize::new(0),
            frozen_bytes: AtomicUsize::new(0),
            base: Mutex::new(base),
            retired: Mutex::new(Weak::new()),
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
    pub(crate) fn get(
        &self,
        key: &Key,
        holds: impl Fn(Loc) -> bool,
    ) -> Result<Option<Loc>, StorageError> {
        Ok(self.find(key, holds)?.loc())
    }

    /// Where `key` is filed, for [`Self::insert_found`].
    pub(crate) fn find(
        &self,
        key: &Key,
        holds: impl Fn(Loc) -> bool,
    ) -> Result<Found, StorageError> {
        Ok(self.resolve(key, self.primary(key.hash64())?, holds))
    }

    /// [`Self::find`] with the key's [`Self::primary`] looked up already
    /// (a batch looks up every key's first, then hints their records, then
    /// compares keys).
    pub(crate) fn resolve(
        &self,
        key: &Key,
        primary: Option<Loc>,
        holds: impl Fn(Loc) -> bool,
    ) -> Found {
        if let Some(loc) = primary
            && holds(loc)
        {
            return Found::Primary(loc);
        }
        match (self.overflow(key), primary) {
            (Some(loc), _) => Found::Overflow(loc),
            (None, Some(_)) => Found::Taken,
            (None, None) => Found::Vacant,
        }
    }

    /// Points `key` (hashing to `hash`) at `loc`, where [`Self::find`] found
    /// it with nothing changed since (the writer held throughout): no
    /// lookup again.
    pub(crate) fn insert_found(
        &self,
        key: &Key,
        hash: KeyHash,
        loc: Loc,
        found: Found,
    ) -> Option<Loc> {
        match found {
            Found::Primary(old) => {
                self.put(self.shard(hash).upgradable_read(), hash, loc.raw());
                Some(old)
            }
            Found::Vacant => {
                self.put(self.shard(hash).upgradable_read(), hash, loc.raw());
                self.len.fetch_add(1, Ordering::AcqRel);
                None
            }
            Found::Overflow(_) | Found::Taken => self.overflow_insert(key, loc),
        }
    }

    /// The location filed under the key hashing to `hash` ([`Key::hash64`]):
    /// that key's newest record, or (after a hash collision) another key's;
    /// the caller compares keys.
    pub(crate) fn primary(&self, hash: KeyHash) -> Result<Option<Loc>, StorageError> {
        Ok(self.shard(hash).read().get(hash)?.map(Loc::from_raw))
    }

    /// The locations in the shard tables of the keys hashing to `hashes`,
    /// appended to `locs` (a key the base cannot be read for is left out).
    /// The lines they read are hinted first, as [`Self::prefetch`] does. Each
    /// shard's read lock is taken once and held for the whole call (a
    /// batch's keys: microseconds), so the hints and the probes run without
    /// atomics between them. No lock is taken while a guard is held but other
    /// shards' read locks, and no writer holds two shards, so this cannot
    /// deadlock.
    pub(crate) fn primaries(&self, hashes: &[KeyHash], locs: &mut Vec<Loc>) {
        self.prefetch_base(hashes);
        let mut guards: Vec<Option<RwLockReadGuard<'_, Shard>>> =
            self.shards.iter().map(|_| None).collect();
        // The tables' first slots under the guards the probes use, not a
        // shard's lock per key as `prefetch_tables` takes.
        for &hash in hashes {
            let i = hash.index_shard(self.shard_mask);
            guards[i].get_or_insert_with(|| self.shards[i].read()).prefetch(hash);
        }
        for &hash in hashes {
            let i = hash.index_shard(self.shard_mask);
            if let Some(shard) = &guards[i] {
                locs.extend(shard.get(hash).ok().flatten().map(Loc::from_raw));
            }
        }
    }

    /// Starts loading the lines the lookups of `hashes` will read: first
    /// the base's ([`Base::prefetch`]; the base is taken once, not a
    /// shard's lock per key, so that pass runs without atomics and its
    /// misses overlap), then the first slot of each key's probe in its
    /// shard's tables.
    pub(crate) fn prefetch(&self, hashes: &[KeyHash]) {
        self.prefetch_base(hashes);
        self.prefetch_tables(hashes.iter().copied());
    }

    /// Starts loading the base's lines for `hashes` ([`Base::prefetch`]),
    /// the base taken once.
    fn prefetch_base(&self, hashes: &[KeyHash]) {
        let base = self.base.lock().clone();
        for &hash in hashes {
            base.prefetch(hash);
        }
    }

    /// Starts loading the first slot of each key's probe in its shard's
    /// tables.
    pub(crate) fn prefetch_tables(&self, hashes: impl Iterator<Item = KeyHash>) {
        for hash in hashes {
            self.shard(hash).read().prefetch(hash);
        }
    }

    /// The location of `key` in the overflow map of colliding keys.
    pub(crate) fn overflow(&self, key: &Key) -> Option<Loc> {
        if self.overflow_len.load(Ordering::Acquire) == 0 {
            return None;
        }
        self.overflow.read().get(key).copied()
    }

    /// Sets `hash` to `loc` in the shard's newest table, in place while
    /// readers go on. A full table is copied into one twice its size beside
    /// it, readers still reading the old one, and swapped in under the
    /// write lock for a moment; the old one is freed after.
    fn put(&self, shard: RwLockUpgradableReadGuard<'_, Shard>, hash: KeyHash, loc: u64) {
        if shard.delta.insert(hash, loc).is_ok() {
            return;
        }
        let grown = shard.delta.grown();
        grown.insert(hash, loc).expect("a grown table has room for one more");
        let added = grown.memory_bytes() - shard.delta.memory_bytes();
        let old = std::mem::replace(&mut RwLockUpgradableReadGuard::upgrade(shard).delta, grown);
        self.delta_bytes.fetch_add(added, Ordering::AcqRel);
        drop(old);
    }

    /// Points `key` at `loc`; returns the location it replaced.
    pub(crate) fn insert(
        &self,
        key: &Key,
        loc: Loc,
        holds: impl Fn(Loc) -> bool,
    ) -> Result<Option<Loc>, StorageError> {
        let hash = key.hash64();
        let shard = self.shard(hash).upgradable_read();
        match shard.get(hash)?.map(Loc::from_raw) {
            Some(slot) if holds(slot) => {
                self.put(shard, hash, loc.raw());
                Ok(Some(slot))
            }
            Some(_) => Ok(self.overflow_insert(key, loc)),
            None => {
                if self.overflow_len.load(Ordering::Acquire) > 0
                    && self.overflow.read().contains_key(key)
                {
                    return Ok(self.overflow_insert(key, loc));
                }
                self.put(shard, hash, loc.raw());
                self.len.fetch_add(1, Ordering::AcqRel);
                Ok(None)
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
    pub(crate) fn remove_if(&self, key: &Key, expected: Loc) -> Result<bool, StorageError> {
        let hash = key.hash64();
        let shard = self.shard(hash).upgradable_read();
        if shard.get(hash)? == Some(expected.raw()) {
            if shard.below(hash)?.is_some() {
                self.put(shard, hash, REMOVED);
            } else {
                shard.delta.remove(hash);
            }
            self.len.fetch_sub(1, Ordering::AcqRel);
            return Ok(true);
        }
        drop(shard);
        let mut overflow = self.overflow.write();
        if overflow.get(key) == Some(&expected) {
            overflow.remove(key);
            self.overflow_len.store(overflow.len(), Ordering::Release);
            return Ok(true);
        }
        Ok(false)
    }

    /// Number of keys indexed (tombstones included; after an `open`, also
    /// tombstones compaction dropped after the checkpoint, until the next
    /// one).
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire) + self.overflow_len.load(Ordering::Acquire)
    }

    /// Bytes of the shards' newest tables: what the memory budget bounds
    /// ([`crate::AccountsDbConfig::index_memory_bytes`]).
    pub(crate) fn delta_bytes(&self) -> usize {
        self.delta_bytes.load(Ordering::Acquire)
    }

    /// Memory the index takes: the in-memory tables, the base's fences,
    /// plus an estimate for the overflow map (a hashbrown entry and its
    /// control byte at 7/8 load).
    pub(crate) fn memory_bytes(&self) -> usize {
        let entry = std::mem::size_of::<(Key, Loc)>() + 1;
        self.delta_bytes()
            + self.frozen_bytes.load(Ordering::Acquire)
            + self.base.lock().memory_bytes()
            + self.overflow_len.load(Ordering::Acquire) * entry * 8 / 7
    }

    /// Every location in the index, one shard at a time (no lock is held while
    /// `f` runs). Each shard is read under its upgradable lock, which keeps
    /// the writer out: a key the writer put in the newest table between the
    /// pass over the older layers and the pass over that table would come
    /// out twice.
    pub(crate) fn for_each_chunk(&self, mut f: impl FnMut(&[Loc])) -> Result<(), StorageError> {
        let (mut buf, mut pairs) = (Vec::new(), Vec::new());
        let bits = self.shard_bits();
        let push = |buf: &mut Vec<Loc>, loc: u64| {
            if loc != REMOVED {
                buf.push(Loc::from_raw(loc));
            }
        };
        for (i, shard) in self.shards.iter().enumerate() {
            buf.clear();
            {
                let shard = shard.upgradable_read();
                shard.base.shard(i, &mut pairs)?;
                for &(key, loc) in &pairs {
                    if !shard.shadows(base::hash_of(key, bits)) {
                        push(&mut buf, loc);
                    }
                }
                for (hash, loc) in shard.frozen.iter().flat_map(|f| f.iter()) {
                    if shard.delta.get(hash).is_none() {
                        push(&mut buf, loc);
                    }
                }
                for (_, loc) in shard.delta.iter() {
                    push(&mut buf, loc);
                }
            }
            f(&buf);
        }
        buf.clear();
        buf.extend(self.overflow.read().values().copied());
        f(&buf);
        Ok(())
    }
}

/// Checkpoints: the writer calls [`Index::freeze`] between two commits; a
/// thread merges the frozen tables into a new base, then
/// [`Index::install`]s it.
impl Index {
    /// Number of shards.
    pub(crate) fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Bits of [`KeyHash::index_shard`] the shards take.
    pub(crate) fn shard_bits(&self) -> u32 {
        self.shards.len().trailing_zeros()
    }

    /// Freezes every shard's newest table (call between commits, with the
    /// writer held, and with none frozen) and starts empty ones.
    pub(crate) fn freeze(&self) -> Frozen {
        let mut maps = Vec::with_capacity(self.shards.len());
        for shard in self.shards.iter() {
            let mut shard = shard.write();
            debug_assert!(shard.frozen.is_none(), "a checkpoint is in progress");
            let fresh = shard.delta.empty_like();
            let map = Arc::new(std::mem::replace(&mut shard.delta, fresh));
            shard.frozen = Some(map.clone());
            maps.push(map);
        }
        let bytes = self.delta_bytes.swap(0, Ordering::AcqRel);
        self.frozen_bytes.store(bytes, Ordering::Release);
        Frozen { maps, base: self.base.lock().clone() }
    }

    /// Swaps in `base`, the old base merged with the frozen tables, which
    /// every shard then lets go of.
    pub(crate) fn install(&self, base: Arc<Base>) {
        for shard in self.shards.iter() {
            let mut shard = shard.write();
            shard.base = base.clone();
            shard.frozen = None;
        }
        let old = std::mem::replace(&mut *self.base.lock(), base);
        *self.retired.lock() = Arc::downgrade(&old);
        self.frozen_bytes.store(0, Ordering::Release);
    }

    /// The base every shard reads.
    #[cfg(test)]
    pub(crate) fn base(&self) -> Arc<Base> {
        self.base.lock().clone()
    }

    /// Whether the base [`Self::install`] last replaced is still read.
    pub(crate) fn retired_in_use(&self) -> bool {
        self.retired.lock().strong_count() > 0
    }

    /// Sets an opened checkpoint's base and colliding keys (before any
    /// change).
    pub(crate) fn load(&mut self, base: Base, overflow: Vec<(Key, Loc)>) {
        *self.len.get_mut() = base.pairs() as usize;
        let base = Arc::new(base);
        for shard in self.shards.iter_mut() {
            shard.get_mut().base = base.clone();
        }
        *self.base.get_mut() = base;
        let map = self.overflow.get_mut();
        map.extend(overflow);
        *self.overflow_len.get_mut() = map.len();
    }

    /// The overflow map's entries (the writer changes it, so with the writer
    /// held this is the state between two commits).
    pub(crate) fn overflow_entries(&self) -> Vec<(Key, Loc)> {
        self.overflow.read().iter().map(|(k, l)| (*k, *l)).collect()
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
    fn test_frozen_changes_read_under_newer_ones() {
        let index = Index::new(4);
        let key = |i: u8| Key::Account(Address::repeat_byte(i));
        let at = |g: u32, i: u8| Loc::new(g, u32::from(i) * 8, false);
        for i in 0..50 {
            assert_eq!(index.insert(&key(i), at(1, i), |_| true).unwrap(), None);
        }
        let frozen = index.freeze();
        assert_eq!(frozen.maps.iter().map(|m| m.len()).sum::<usize>(), 50);
        assert_eq!(index.delta_bytes(), 0, "the newest tables start empty");
        for i in 25..75 {
            index.insert(&key(i), at(2, i), |_| true).unwrap();
        }
        for i in 0..10 {
            assert!(index.remove_if(&key(i), at(1, i)).unwrap());
            assert!(!index.remove_if(&key(i), at(1, i)).unwrap(), "gone already");
        }
        assert_eq!(index.len(), 65);
        for i in 0..80 {
            let want = match i {
                0..10 | 75.. => None,
                10..25 => Some(at(1, i)),
                _ => Some(at(2, i)),
            };
            assert_eq!(index.get(&key(i), |_| true).unwrap(), want, "key {i}");
        }
        let mut seen = Vec::new();
        index.for_each_chunk(|locs| seen.extend_from_slice(locs)).unwrap();
        assert_eq!(seen.len(), 65);
        // The frozen tables never change after the freeze.
        assert_eq!(frozen.maps.iter().map(|m| m.len()).sum::<usize>(), 50);
    }

    #[test]
    fn test_colliding_hashes_go_to_overflow() {
        // Force collisions by pretending every location holds some other key.
        let index = Index::new(1);
        let a = Key::Account(Address::repeat_byte(1));
        let b = Key::Account(Address::repeat_byte(2));
        let la = Loc::new(1, 8, false);
        let lb = Loc::new(1, 16, false);
        assert_eq!(index.insert(&a, la, |_| false).unwrap(), None);
        // With a real collision `holds` is false for the other key's location.
        let hash_b = b.hash64();
        index.shard(hash_b).write().delta.insert(hash_b, la.raw()).unwrap();
        assert_eq!(index.insert(&b, lb, |l| l == lb).unwrap(), None, "b goes to overflow");
        assert_eq!(index.get(&b, |l| l == lb).unwrap(), Some(lb));
        assert_eq!(index.get(&a, |l| l == la).unwrap(), Some(la));
        assert!(index.remove_if(&b, lb).unwrap());
        assert_eq!(index.get(&b, |l| l == lb).unwrap(), None);
    }
}
