//! [`LocMap`]: the index's hash table, hash -> location, a hashbrown
//! [`HashTable`] of `(hash, location)` pairs filed by
//! [`KeyHash::table_hash`].

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use crate::hash::KeyHash;

/// A hash -> location table (the location a raw `u64`).
#[derive(Debug, Default)]
pub(crate) struct LocMap {
    table: HashTable<(KeyHash, u64)>,
}

fn table_hash(&(hash, _): &(KeyHash, u64)) -> u64 {
    hash.table_hash()
}

impl LocMap {
    pub(crate) fn get(&self, hash: KeyHash) -> Option<u64> {
        self.table.find(hash.table_hash(), |&(h, _)| h == hash).map(|&(_, loc)| loc)
    }

    /// Sets `hash` to `loc`; returns the location replaced.
    pub(crate) fn insert(&mut self, hash: KeyHash, loc: u64) -> Option<u64> {
        match self.table.entry(hash.table_hash(), |&(h, _)| h == hash, table_hash) {
            Entry::Occupied(mut at) => Some(std::mem::replace(&mut at.get_mut().1, loc)),
            Entry::Vacant(at) => {
                at.insert((hash, loc));
                None
            }
        }
    }

    /// Removes `hash`; returns its location.
    pub(crate) fn remove(&mut self, hash: KeyHash) -> Option<u64> {
        let at = self.table.find_entry(hash.table_hash(), |&(h, _)| h == hash).ok()?;
        Some(at.remove().0.1)
    }

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
