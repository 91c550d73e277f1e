//! [`Table`]: the write cache's map, entries in insertion order under a
//! hashbrown [`HashTable`] of their positions, as in `IndexMap`.
//!
//! Keys come with their hash, so nothing is hashed again: the index files a
//! position under its entry's [`KeyHash::table_hash`]. Nothing is ever
//! removed.

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use lanes_accounts_db::KeyHash;

/// A map from keys with precomputed hashes to values, in insertion order.
/// Keys are compared, so two keys with one hash are both kept.
#[derive(Debug)]
pub(crate) struct Table<K, V> {
    index: HashTable<u32>,
    entries: Vec<(KeyHash, K, V)>,
}

impl<K, V> Default for Table<K, V> {
    fn default() -> Self {
        Self { index: HashTable::new(), entries: Vec::new() }
    }
}

impl<K: PartialEq, V> Table<K, V> {
    /// The value of `key`, which hashes to `hash`.
    pub(crate) fn get(&self, hash: KeyHash, key: &K) -> Option<&V> {
        let entries = &self.entries;
        let at = self.index.find(hash.table_hash(), |&at| {
            let (h, k, _) = &entries[at as usize];
            *h == hash && k == key
        })?;
        Some(&entries[*at as usize].2)
    }

    /// Sets `key` (hashing to `hash`) to `value`.
    pub(crate) fn insert(&mut self, hash: KeyHash, key: K, value: V) {
        let entries = &mut self.entries;
        let found = self.index.entry(
            hash.table_hash(),
            |&at| {
                let (h, k, _) = &entries[at as usize];
                *h == hash && *k == key
            },
            |&at| entries[at as usize].0.table_hash(),
        );
        match found {
            Entry::Occupied(at) => entries[*at.get() as usize].2 = value,
            Entry::Vacant(slot) => {
                let at = u32::try_from(entries.len())
                    .expect("a write cache table holds fewer than 2^32 keys");
                slot.insert(at);
                entries.push((hash, key, value));
            }
        }
    }

    /// Makes room for `additional` more keys without growing.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let entries = &self.entries;
        self.index.reserve(additional, |&at| entries[at as usize].0.table_hash());
        self.entries.reserve(additional);
    }

    /// Every entry with its key's hash, in insertion order: an entry keeps
    /// its position for the table's life.
    pub(crate) fn entries(&self) -> &[(KeyHash, K, V)] {
        &self.entries
    }

    /// How many entries it holds.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        /// Against std's HashMap, with hashes that collide in the low bits,
        /// in the top bits, and in full (distinct keys with one hash), and
        /// reserves between inserts.
        #[test]
        fn test_matches_hashmap(ops in prop::collection::vec((0u32..400, any::<u16>(), 0usize..3), 1..1500)) {
            let hash_of = |key: u32| {
                let low = u64::from(key % 5);
                let tag = u64::from(key % 3) << 32;
                let raw = if key.is_multiple_of(11) { 7 } else { low | tag | u64::from(key / 15) << 40 };
                KeyHash::from_raw(raw)
            };
            let mut table = Table::default();
            let mut model = HashMap::new();
            let mut order = Vec::new();
            for (key, value, op) in ops {
                match op {
                    0 => prop_assert_eq!(table.get(hash_of(key), &key), model.get(&key)),
                    1 => table.reserve(usize::from(value % 100)),
                    _ => {
                        table.insert(hash_of(key), key, value);
                        if model.insert(key, value).is_none() {
                            order.push(key);
                        }
                    }
                }
                prop_assert_eq!(table.len(), model.len());
            }
            for (key, value) in &model {
                prop_assert_eq!(table.get(hash_of(*key), key), Some(value));
            }
            let listed: Vec<(u32, u16)> = table.entries().iter().map(|(_, k, v)| (*k, *v)).collect();
            let expected: Vec<(u32, u16)> = order.iter().map(|k| (*k, model[k])).collect();
            prop_assert_eq!(listed, expected);
        }
    }

    #[test]
    fn test_reserve_keeps_room() {
        let mut table = Table::default();
        table.reserve(1000);
        let buckets = table.index.capacity();
        let hash = |key: u64| KeyHash::from_raw(key.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        for key in 0..1000u64 {
            table.insert(hash(key), key, key);
        }
        assert_eq!(
            table.index.capacity(),
            buckets,
            "1000 inserts after reserve(1000) grew the index"
        );
        assert_eq!(table.get(hash(5), &5), Some(&5));
        assert_eq!(table.get(KeyHash::from_raw(1), &1001), None);
    }
}
