//! [`Table`]: the write cache's map, entries in insertion order under a flat
//! index of one 8-byte slot per place.
//!
//! Entries `(hash, key, value)` append to a dense vector, as in `IndexMap`.
//! The index is open addressing with linear probing over 8-byte slots: the
//! entry's position + 1 in the low 32 bits (0 is an empty slot) and its
//! hash's [`KeyHash::tag`] above, so a probe rarely reads an entry that is
//! not the one sought. A lookup starts at the hash's [`KeyHash::home_slot`]
//! and touches one cache line of the index where hashbrown (under
//! `IndexMap`) touched a control byte and, in another line, the bucket.
//! Nothing is ever removed. The load factor stays at or below 3/4.

use lanes_accounts_db::KeyHash;

/// Slots of an empty table's first index.
const MIN_SLOTS: usize = 16;
/// Entries a table can hold: positions + 1 fit the slot's low 32 bits.
const MAX_ENTRIES: usize = u32::MAX as usize - 1;

/// A map from keys with precomputed hashes to values, in insertion order.
/// Keys are compared, so two keys with one hash are both kept.
#[derive(Debug)]
pub(crate) struct Table<K, V> {
    slots: Box<[u64]>,
    entries: Vec<(KeyHash, K, V)>,
}

impl<K, V> Default for Table<K, V> {
    fn default() -> Self {
        Self { slots: Box::default(), entries: Vec::new() }
    }
}

impl<K: PartialEq, V> Table<K, V> {
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// The tag a slot keeps: its bits above the position, where
    /// [`KeyHash::tag`] puts it.
    fn slot_tag(slot: u64) -> u64 {
        slot & !u64::from(u32::MAX)
    }

    /// The slot filing entry `at`, whose key hashes to `hash`.
    fn slot(hash: KeyHash, at: usize) -> u64 {
        hash.tag() | (at as u64 + 1)
    }

    /// The entry of `key` (hashing to `hash`), or the empty slot where it goes.
    fn find(&self, hash: KeyHash, key: &K) -> Result<usize, usize> {
        let mask = self.mask();
        let mut i = hash.home_slot(mask);
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return Err(i);
            }
            if Self::slot_tag(slot) == hash.tag() {
                let at = (slot as u32 - 1) as usize;
                let (h, k, _) = &self.entries[at];
                if *h == hash && k == key {
                    return Ok(at);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// The value of `key`, which hashes to `hash`.
    pub(crate) fn get(&self, hash: KeyHash, key: &K) -> Option<&V> {
        if self.entries.is_empty() {
            return None;
        }
        self.find(hash, key).ok().map(|at| &self.entries[at].2)
    }

    /// Sets `key` (hashing to `hash`) to `value`.
    pub(crate) fn insert(&mut self, hash: KeyHash, key: K, value: V) {
        if (self.entries.len() + 1) * 4 > self.slots.len() * 3 {
            self.grow(self.entries.len() + 1);
        }
        match self.find(hash, &key) {
            Ok(at) => self.entries[at].2 = value,
            Err(slot) => {
                let at = self.entries.len();
                assert!(at < MAX_ENTRIES, "a write cache table holds fewer than 2^32 keys");
                self.slots[slot] = Self::slot(hash, at);
                self.entries.push((hash, key, value));
            }
        }
    }

    /// Makes room for `additional` more keys without growing.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let want = self.entries.len().saturating_add(additional);
        self.entries.reserve(additional);
        if want.saturating_mul(4) > self.slots.len() * 3 {
            self.grow(want);
        }
    }

    /// Rebuilds the index with room for `keys` keys at load 3/4 or less.
    fn grow(&mut self, keys: usize) {
        let slots = (keys.saturating_mul(4) / 3 + 1).next_power_of_two().max(MIN_SLOTS);
        self.slots = vec![0; slots].into_boxed_slice();
        let mask = self.mask();
        for (at, &(hash, _, _)) in self.entries.iter().enumerate() {
            let mut i = hash.home_slot(mask);
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = Self::slot(hash, at);
        }
    }

    /// Every key and value, in insertion order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.entries.iter().map(|(_, k, v)| (k, v))
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
        /// Against std's HashMap, with hashes that collide in the low bits
        /// (long probe runs, wrap-around), in the tag, and in full (distinct
        /// keys with one hash), and reserves between inserts.
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
            let listed: Vec<(u32, u16)> = table.iter().map(|(k, v)| (*k, *v)).collect();
            let expected: Vec<(u32, u16)> = order.iter().map(|k| (*k, model[k])).collect();
            prop_assert_eq!(listed, expected);
        }
    }

    #[test]
    fn test_reserve_keeps_room() {
        let mut table = Table::default();
        table.reserve(1000);
        let slots = table.slots.len();
        let hash = |key: u64| KeyHash::from_raw(key.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        for key in 0..1000u64 {
            table.insert(hash(key), key, key);
        }
        assert_eq!(table.slots.len(), slots, "1000 inserts after reserve(1000) grew the index");
        assert_eq!(table.get(hash(5), &5), Some(&5));
        assert_eq!(table.get(KeyHash::from_raw(1), &1001), None);
    }
}
