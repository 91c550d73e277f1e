//! [`LocMap`]: the index's hash table, hash -> location, a hashbrown
//! [`HashTable`] of `(hash, location)` pairs filed by
//! [`KeyHash::table_hash`].

use hashbrown::HashTable;

use crate::hash::KeyHash;

/// A hash -> location table (the location a raw `u64`).
///
/// A table grows by rehashing all of it at once, under its shard's lock.
/// The index's keys hash evenly, so tables that grew at their full load
/// would all reach it within a few commits of each other and stall them
/// together; each table instead doubles at its own share of its capacity
/// ([`Self::with_growth`]), spreading the index's rehashes over the fill.
#[derive(Debug)]
pub(crate) struct LocMap {
    table: HashTable<(KeyHash, u64)>,
    /// Share of the capacity, in 1/256ths, at which the table doubles.
    grow_share: u16,
    /// Length at which the next insert of a new hash doubles the table.
    grow_at: usize,
}

impl Default for LocMap {
    fn default() -> Self {
        Self::with_growth(256)
    }
}

fn table_hash(&(hash, _): &(KeyHash, u64)) -> u64 {
    hash.table_hash()
}

impl LocMap {
    /// An empty table that doubles when its length reaches `share`/256 of
    /// its capacity (128..=256).
    pub(crate) fn with_growth(share: u16) -> Self {
        Self { table: HashTable::new(), grow_share: share.clamp(128, 256), grow_at: 0 }
    }

    /// An empty table that grows as this one does.
    pub(crate) fn empty_like(&self) -> Self {
        Self::with_growth(self.grow_share)
    }

    pub(crate) fn get(&self, hash: KeyHash) -> Option<u64> {
        self.table.find(hash.table_hash(), |&(h, _)| h == hash).map(|&(_, loc)| loc)
    }

    /// Sets `hash` to `loc`; returns the location replaced.
    pub(crate) fn insert(&mut self, hash: KeyHash, loc: u64) -> Option<u64> {
        if let Some(at) = self.table.find_mut(hash.table_hash(), |&(h, _)| h == hash) {
            return Some(std::mem::replace(&mut at.1, loc));
        }
        self.insert_new(hash, loc);
        None
    }

    /// Adds `hash`, which the table does not hold.
    pub(crate) fn insert_new(&mut self, hash: KeyHash, loc: u64) {
        if self.table.len() >= self.grow_at {
            // One past the capacity: the next number of buckets, twice these.
            let double = self.table.capacity() - self.table.len() + 1;
            self.table.reserve(double, table_hash);
            self.grow_at = self.table.capacity() * usize::from(self.grow_share) / 256;
        }
        self.table.insert_unique(hash.table_hash(), (hash, loc), table_hash);
    }

    /// Removes `hash`; returns its location.
    pub(crate) fn remove(&mut self, hash: KeyHash) -> Option<u64> {
        let at = self.table.find_entry(hash.table_hash(), |&(h, _)| h == hash).ok()?;
        Some(at.remove().0.1)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Bytes the table has allocated: its buckets and control bytes.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.table.allocation_size()
    }

    /// Every (hash, location) pair.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (KeyHash, u64)> + '_ {
        self.table.iter().copied()
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
            let mut map = LocMap::default();
            let mut model = HashMap::new();
            for (key, loc, insert) in ops {
                let hash = KeyHash::from_raw((key.wrapping_mul(0x9e37_79b9) << 20) | (key % 7));
                if insert {
                    prop_assert_eq!(map.insert(hash, loc), model.insert(hash, loc));
                } else {
                    prop_assert_eq!(map.remove(hash), model.remove(&hash));
                }
                prop_assert_eq!(map.len(), model.len());
            }
            for (hash, loc) in &model {
                prop_assert_eq!(map.get(*hash), Some(*loc));
            }
            prop_assert_eq!(map.iter().count(), model.len());
        }
    }
}
