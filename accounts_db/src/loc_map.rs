//! [`LocMap`]: the index's hash table, hash -> location, whose readers
//! never wait for its writer.
//!
//! Open addressing with linear probing over slots of two atomic words, the
//! hash and the location. One writer at a time changes a table (the index
//! holds its shard's upgradable lock for that), and readers probe it
//! meanwhile with plain loads: a new pair's location is stored before its
//! hash, which is stored with `Release`, so a reader that sees the hash sees
//! the location; a location replaced in place is one word, old or new. A
//! slot once filed is never emptied (a removed pair's location becomes
//! [`ABSENT`]), so no probe chain a reader walks is ever cut. The table
//! does not grow in place: when it is full the writer builds a table twice
//! the size beside it, readers still reading the old one, and swaps it in
//! under the shard's lock for a moment (`Index::put`).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::hash::KeyHash;
use crate::mmap::prefetch;

/// A removed pair's location: the slot stays filed, so probes pass it, but
/// it holds nothing. No location has this value (offsets are multiples of
/// 8, and bit 0 is the tombstone flag).
const ABSENT: u64 = u64::MAX - 1;

/// A slot's hash word while nothing is filed there. The one key that hashes
/// to it has a slot of its own ([`LocMap::zero`]).
const EMPTY: u64 = 0;

/// Slots of the first table a pair goes into.
const MIN_SLOTS: usize = 16;

/// The most a table is filled before it doubles: 3/4 of its slots, where a
/// probe for a hash that is not there reads about 8 slots (two cache lines).
const MAX_LOAD: (usize, usize) = (3, 4);

#[derive(Debug, Default)]
struct Slot {
    hash: AtomicU64,
    loc: AtomicU64,
}

/// A hash -> location table (the location a raw `u64`); see the module docs.
///
/// The index's keys hash evenly, so tables that grew at one load would all
/// reach it within a few commits of each other and make their copies
/// together; each table instead doubles at its own share of its greatest
/// load ([`Self::with_growth`]), spreading the copies over the fill.
#[derive(Debug)]
pub(crate) struct LocMap {
    slots: Box<[Slot]>,
    /// The location of the key whose hash is [`EMPTY`], or [`ABSENT`].
    zero: AtomicU64,
    /// Slots filed (removed pairs' included): only the writer changes it.
    used: AtomicUsize,
    /// Share of the greatest load, in 1/256ths, at which the table doubles.
    grow_share: u16,
}

impl Default for LocMap {
    fn default() -> Self {
        Self::with_growth(256)
    }
}

/// The table is full: [`LocMap::grown`] makes the next one.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Full;

impl LocMap {
    /// An empty table that doubles when its length reaches `share`/256 of
    /// its greatest load (128..=256).
    pub(crate) fn with_growth(share: u16) -> Self {
        Self::with_slots(0, share.clamp(128, 256))
    }

    fn with_slots(slots: usize, grow_share: u16) -> Self {
        Self {
            slots: (0..slots).map(|_| Slot::default()).collect(),
            zero: AtomicU64::new(ABSENT),
            used: AtomicUsize::new(0),
            grow_share,
        }
    }

    /// An empty table that grows as this one does.
    pub(crate) fn empty_like(&self) -> Self {
        Self::with_growth(self.grow_share)
    }

    /// Slots filed when the next new hash doubles the table.
    fn grow_at(&self) -> usize {
        let most = self.slots.len() * MAX_LOAD.0 / MAX_LOAD.1;
        most * usize::from(self.grow_share) / 256
    }

    /// Where a probe for `hash` starts.
    fn home(&self, hash: u64) -> usize {
        KeyHash::from_raw(hash).index_slot(self.slots.len() - 1)
    }

    /// The slot filed under `hash`, or the empty slot that ends its probe
    /// (the table is never full, so there is one); `None` for an empty
    /// table.
    fn probe(&self, hash: u64) -> Option<&Slot> {
        if self.slots.is_empty() {
            return None;
        }
        let mut i = self.home(hash);
        loop {
            let slot = &self.slots[i];
            match slot.hash.load(Ordering::Acquire) {
                h if h == hash || h == EMPTY => return Some(slot),
                _ => i = (i + 1) & (self.slots.len() - 1),
            }
        }
    }

    /// The location filed under `hash`, where it is a pair's.
    fn filed(slot: &AtomicU64) -> Option<u64> {
        Some(slot.load(Ordering::Acquire)).filter(|&loc| loc != ABSENT)
    }

    pub(crate) fn get(&self, hash: KeyHash) -> Option<u64> {
        let hash = hash.raw();
        if hash == EMPTY {
            return Self::filed(&self.zero);
        }
        let slot = self.probe(hash)?;
        if slot.hash.load(Ordering::Acquire) == hash { Self::filed(&slot.loc) } else { None }
    }

    /// Starts loading the slot a probe for `hash` begins at.
    pub(crate) fn prefetch(&self, hash: KeyHash) {
        if !self.slots.is_empty() {
            prefetch(&self.slots[self.home(hash.raw())]);
        }
    }

    /// Sets `hash` to `loc`; returns the location replaced. The caller is the
    /// table's one writer. [`Full`]: `hash` is new and the table must grow
    /// first; nothing changed.
    pub(crate) fn insert(&self, hash: KeyHash, loc: u64) -> Result<Option<u64>, Full> {
        debug_assert_ne!(loc, ABSENT);
        let raw = hash.raw();
        if raw == EMPTY {
            return Ok(Some(self.zero.swap(loc, Ordering::AcqRel)).filter(|&l| l != ABSENT));
        }
        match self.probe(raw) {
            Some(slot) if slot.hash.load(Ordering::Acquire) == raw => {
                Ok(Some(slot.loc.swap(loc, Ordering::AcqRel)).filter(|&l| l != ABSENT))
            }
            Some(slot) if self.used.load(Ordering::Relaxed) < self.grow_at() => {
                slot.loc.store(loc, Ordering::Relaxed);
                slot.hash.store(raw, Ordering::Release);
                self.used.fetch_add(1, Ordering::Relaxed);
                Ok(None)
            }
            _ => Err(Full),
        }
    }

    /// This table's pairs in one twice its size (the first: [`MIN_SLOTS`]),
    /// removed pairs left out. Readers may go on reading this one meanwhile.
    pub(crate) fn grown(&self) -> Self {
        let next = Self::with_slots((self.slots.len() * 2).max(MIN_SLOTS), self.grow_share);
        for (hash, loc) in self.iter() {
            next.insert(hash, loc).expect("a doubled table holds every pair of the old one");
        }
        next
    }

    /// Removes `hash`; returns its location. The caller is the table's one
    /// writer.
    pub(crate) fn remove(&self, hash: KeyHash) -> Option<u64> {
        let raw = hash.raw();
        if raw == EMPTY {
            return Some(self.zero.swap(ABSENT, Ordering::AcqRel)).filter(|&l| l != ABSENT);
        }
        let slot = self.probe(raw).filter(|s| s.hash.load(Ordering::Acquire) == raw)?;
        Some(slot.loc.swap(ABSENT, Ordering::AcqRel)).filter(|&l| l != ABSENT)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.iter().count()
    }

    /// Bytes the table has allocated: its slots.
    pub(crate) fn memory_bytes(&self) -> usize {
        std::mem::size_of_val::<[Slot]>(&self.slots)
    }

    /// Every (hash, location) pair.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (KeyHash, u64)> + '_ {
        let zero = Self::filed(&self.zero).map(|loc| (KeyHash::from_raw(EMPTY), loc));
        let slots = self.slots.iter().filter_map(|slot| {
            let hash = slot.hash.load(Ordering::Acquire);
            let loc = Self::filed(&slot.loc)?;
            (hash != EMPTY).then(|| (KeyHash::from_raw(hash), loc))
        });
        zero.into_iter().chain(slots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    /// Inserts `hash`, growing the table as `Index::put` does.
    fn put(map: &mut LocMap, hash: KeyHash, loc: u64) -> Option<u64> {
        match map.insert(hash, loc) {
            Ok(old) => old,
            Err(Full) => {
                *map = map.grown();
                map.insert(hash, loc).expect("room after growing")
            }
        }
    }

    proptest! {
        /// Against std's HashMap, with few distinct low bits so clusters and
        /// wrap-around are common, and hash 0 among the keys.
        #[test]
        fn test_matches_hashmap(
            ops in prop::collection::vec((0u64..300, 1u64..5, any::<bool>()), 1..2000),
            share in 128u16..=256,
        ) {
            let mut map = LocMap::with_growth(share);
            let mut model = HashMap::new();
            for (key, loc, insert) in ops {
                let hash = KeyHash::from_raw((key.wrapping_mul(0x9e37_79b9) << 20) | (key % 7));
                if insert {
                    prop_assert_eq!(put(&mut map, hash, loc * 8), model.insert(hash, loc * 8));
                } else {
                    prop_assert_eq!(map.remove(hash), model.remove(&hash));
                }
                prop_assert_eq!(map.len(), model.len());
                prop_assert!(map.used.load(Ordering::Relaxed) <= map.grow_at().max(1));
            }
            for (hash, loc) in &model {
                prop_assert_eq!(map.get(*hash), Some(*loc));
            }
            prop_assert_eq!(map.iter().count(), model.len());
        }
    }

    #[test]
    fn test_a_reader_beside_the_writer_sees_every_pair_filed_before_it_looked() {
        // The writer files hash i at location 8 * i, in order, and publishes
        // how far it got; a reader then finds every hash up to there, and
        // never a location that was not filed.
        let map = Arc::new(LocMap::with_slots(1 << 16, 256));
        let done = Arc::new(AtomicUsize::new(0));
        let (started, stop) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let hash = |i: u64| KeyHash::from_raw(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let reader = {
            let (map, done) = (map.clone(), done.clone());
            let (started, stop) = (started.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut checked = 0;
                while !stop.load(Ordering::Acquire) {
                    let upto = done.load(Ordering::Acquire) as u64;
                    for i in upto.saturating_sub(64)..upto {
                        assert_eq!(map.get(hash(i)), Some(8 * i), "hash {i}, {upto} filed");
                    }
                    if let Some(loc) = map.get(hash(upto)) {
                        assert_eq!(loc, 8 * upto, "a pair being filed");
                    }
                    started.store(true, Ordering::Release);
                    checked += 1;
                }
                checked
            })
        };
        while !started.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        for i in 0..40_000u64 {
            map.insert(hash(i), 8 * i).unwrap();
            done.store(i as usize + 1, Ordering::Release);
        }
        stop.store(true, Ordering::Release);
        assert!(reader.join().unwrap() > 0);
    }
}
