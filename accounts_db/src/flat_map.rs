//! [`FlatMap`]: the index's hash table, hash -> location, built for one
//! dependent memory access per lookup.
//!
//! Open addressing with linear probing over 16-byte slots `[hash u64][loc u64]`
//! (in-memory only, native little-endian order as on every target we build),
//! so the probed hash and its location share a cache line. A probe starts at
//! the hash's [`KeyHash::home_slot`] and compares whole hashes. Slots live in an
//! anonymous mapping advised for transparent huge pages and aligned to 2 MiB,
//! so a random probe into a large table rarely misses the TLB. An empty slot
//! has location 0 (segment ids start at 1). Deletion shifts later slots back,
//! leaving no tombstones. The load factor stays at or below 3/4.

use memmap2::{Advice, MmapMut};

use crate::hash::KeyHash;
use crate::mmap::prefetch;

const SLOT: usize = 16;
const HUGE_PAGE: usize = 2 << 20;
const MIN_SLOTS: usize = 64;

/// A hash -> location table (the location a raw `u64`; 0 is not allowed).
#[derive(Debug)]
pub(crate) struct FlatMap {
    mem: MmapMut,
    /// Byte offset of slot 0 in `mem` (2 MiB aligned when the table is large).
    base: usize,
    mask: usize,
    len: usize,
}

impl Default for FlatMap {
    fn default() -> Self {
        Self::with_slots(MIN_SLOTS)
    }
}

impl FlatMap {
    fn with_slots(slots: usize) -> Self {
        let bytes = slots * SLOT;
        let huge = bytes >= HUGE_PAGE;
        let extra = if huge { HUGE_PAGE } else { 0 };
        // An anonymous map: zeroed, ours alone. Failure here is out of memory,
        // which the global allocator also treats as fatal.
        let mem = MmapMut::map_anon(bytes + extra).expect("out of memory for the index");
        let base = if huge {
            let _ = mem.advise(Advice::HugePage);
            (HUGE_PAGE - mem.as_ptr() as usize % HUGE_PAGE) % HUGE_PAGE
        } else {
            0
        };
        Self { mem, base, mask: slots - 1, len: 0 }
    }

    fn slot(&self, i: usize) -> (KeyHash, u64) {
        let at = self.base + i * SLOT;
        let s = &self.mem[at..at + SLOT];
        let hash = u64::from_le_bytes(s[..8].try_into().expect("8 bytes"));
        let loc = u64::from_le_bytes(s[8..].try_into().expect("8 bytes"));
        (KeyHash::from_raw(hash), loc)
    }

    fn set(&mut self, i: usize, hash: KeyHash, loc: u64) {
        let at = self.base + i * SLOT;
        self.mem[at..at + 8].copy_from_slice(&hash.raw().to_le_bytes());
        self.mem[at + 8..at + SLOT].copy_from_slice(&loc.to_le_bytes());
    }

    /// The slot holding `hash`, or the empty slot where it would go.
    fn find(&self, hash: KeyHash) -> (usize, Option<u64>) {
        let mut i = hash.home_slot(self.mask);
        loop {
            match self.slot(i) {
                (_, 0) => return (i, None),
                (h, loc) if h == hash => return (i, Some(loc)),
                _ => i = (i + 1) & self.mask,
            }
        }
    }

    /// Starts loading the cache line of `hash`'s home slot ([`prefetch`]),
    /// where its lookup starts.
    pub(crate) fn prefetch(&self, hash: KeyHash) {
        prefetch(&self.mem[self.base + hash.home_slot(self.mask) * SLOT]);
    }

    pub(crate) fn get(&self, hash: KeyHash) -> Option<u64> {
        self.find(hash).1
    }

    /// Sets `hash` to `loc`; returns the location replaced.
    pub(crate) fn insert(&mut self, hash: KeyHash, loc: u64) -> Option<u64> {
        debug_assert_ne!(loc, 0);
        let (i, old) = self.find(hash);
        self.set(i, hash, loc);
        if old.is_none() {
            self.len += 1;
            if self.len * 4 > (self.mask + 1) * 3 {
                self.grow();
            }
        }
        old
    }

    /// Removes `hash`; returns its location.
    pub(crate) fn remove(&mut self, hash: KeyHash) -> Option<u64> {
        let (mut hole, old) = self.find(hash);
        old?;
        self.set(hole, KeyHash::default(), 0);
        self.len -= 1;
        // Shift back every later slot of the cluster that may live in the hole.
        let mut j = hole;
        loop {
            j = (j + 1) & self.mask;
            let (h, loc) = self.slot(j);
            if loc == 0 {
                return old;
            }
            let home = h.home_slot(self.mask);
            if (j.wrapping_sub(home) & self.mask) >= (j.wrapping_sub(hole) & self.mask) {
                self.set(hole, h, loc);
                self.set(j, KeyHash::default(), 0);
                hole = j;
            }
        }
    }

    fn grow(&mut self) {
        let mut bigger = Self::with_slots((self.mask + 1) * 2);
        for (hash, loc) in self.iter() {
            bigger.insert(hash, loc);
        }
        *self = bigger;
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes of slots (the mapping's alignment slack is never touched, so
    /// it takes no memory).
    pub(crate) fn memory_bytes(&self) -> usize {
        (self.mask + 1) * SLOT
    }

    /// Every (hash, location) pair.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (KeyHash, u64)> + '_ {
        (0..=self.mask).map(|i| self.slot(i)).filter(|&(_, loc)| loc != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        /// Against std's HashMap, with few distinct low bits so clusters and
        /// wrap-around are common.
        #[test]
        fn test_matches_hashmap(ops in prop::collection::vec((0u64..300, 1u64..5, any::<bool>()), 1..2000)) {
            let mut flat = FlatMap::default();
            let mut model = HashMap::new();
            for (key, loc, insert) in ops {
                let hash = KeyHash::from_raw((key.wrapping_mul(0x9e37_79b9) << 20) | (key % 7));
                if insert {
                    prop_assert_eq!(flat.insert(hash, loc), model.insert(hash, loc));
                } else {
                    prop_assert_eq!(flat.remove(hash), model.remove(&hash));
                }
                prop_assert_eq!(flat.len(), model.len());
            }
            for (hash, loc) in &model {
                prop_assert_eq!(flat.get(*hash), Some(*loc));
            }
            prop_assert_eq!(flat.iter().count(), model.len());
        }
    }

    #[test]
    fn test_large_table_is_huge_page_aligned() {
        let mut flat = FlatMap::default();
        for i in 1..=200_000u64 {
            flat.insert(KeyHash::from_raw(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)), i);
        }
        assert!(flat.mask + 1 >= HUGE_PAGE / SLOT);
        assert_eq!((flat.mem.as_ptr() as usize + flat.base) % HUGE_PAGE, 0);
        assert_eq!(flat.get(KeyHash::from_raw(7u64.wrapping_mul(0x9e37_79b9_7f4a_7c15))), Some(7));
    }
}
