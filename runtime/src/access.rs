//! Access sets: the reads and writes a transaction declares, normalised.

use std::io;
use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use lanes_accounts_db::KeyHash;

use crate::key::StateKey;
use crate::marks::{Mark, marks, marks_with};

/// Where the set a transaction runs under came from. Recorded in blocks:
/// its borsh encoding is the variant's place, so variants are only ever
/// added at the end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
#[non_exhaustive]
pub enum AccessSource {
    /// It declares nothing usable: it runs alone, in the exclusive lane.
    #[default]
    Undeclared,
    /// The transaction declared it ([`Transaction::access_set`](crate::Transaction::access_set)).
    Declared,
    /// Known from state without running the transaction.
    Known,
    /// Predicted by running the transaction against recent state.
    Predicted,
}

/// Default bound on the keys of one access set (like Solana's account limit).
pub const DEFAULT_MAX_ACCESS_KEYS: usize = 256;

/// An access set over its size limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("access set declares {count} keys, over the limit of {limit}")]
pub struct AccessSetTooLarge {
    /// Keys after normalisation.
    pub count: usize,
    /// The limit.
    pub limit: usize,
}

/// The state a transaction declares, normalised: each list sorted and free of
/// duplicates, and no read that a write already covers (a written key, or a
/// `Storage(a, _)` under a written or read `AllStorage(a)`). Cloning is cheap
/// (one shared allocation holds both lists, writes first, another their
/// hashes and lock marks), so blocks record sets without copying them.
///
/// Each key is hashed once, when the set is made ([`StateKey::hash64`]): a
/// node makes sets when it decodes transactions, on its sigverify threads,
/// and the worker running one then files its keys by these hashes in the
/// bank's write cache, the entry filter and the accounts_db index, without
/// hashing them again (a transfer's two keys were hashed ten times). The
/// same pass lays the keys out as the hash-keyed lock tables file them
/// (a slot key also marks its address's `AllStorage` hash), so a scheduler
/// or a worker tests a set against its table without hashing anything.
#[derive(Clone, Debug)]
pub struct AccessSet {
    keys: Arc<[StateKey]>,
    /// The keys as the hash-keyed tables file them ([`marks`]): `marks[i]`
    /// is `keys[i]`'s, under `keys[i].hash64()`, and slot keys add more.
    marks: Arc<[Mark]>,
    /// How many of `keys` are writes.
    writes: usize,
}

impl PartialEq for AccessSet {
    fn eq(&self, other: &Self) -> bool {
        self.writes == other.writes && self.keys == other.keys
    }
}

impl Eq for AccessSet {}

impl std::hash::Hash for AccessSet {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.keys.hash(state);
        self.writes.hash(state);
    }
}

impl Default for AccessSet {
    fn default() -> Self {
        Self { keys: Arc::new([]), marks: Arc::new([]), writes: 0 }
    }
}

/// Scratch of the sets a thread makes from runs' logs
/// ([`AccessSet::from_hashed`]): their keys before the set is made, and the
/// marks.
type Scratch = (Vec<(StateKey, bool, KeyHash)>, Vec<Mark>);

/// Entries of scratch a thread keeps between sets.
const SCRATCH_KEPT: usize = 1024;

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = const {
        std::cell::RefCell::new((Vec::new(), Vec::new()))
    };
}

impl AccessSet {
    /// Normalises `reads` and `writes`; fails when more than `limit` keys remain.
    pub fn new(
        reads: impl IntoIterator<Item = StateKey>,
        writes: impl IntoIterator<Item = StateKey>,
        limit: usize,
    ) -> Result<Self, AccessSetTooLarge> {
        let mut writes: Vec<StateKey> = writes.into_iter().collect();
        writes.sort_unstable();
        writes.dedup();
        let covered = |list: &[StateKey], key: &StateKey| match key {
            StateKey::Storage(a, _) => list.binary_search(&StateKey::AllStorage(*a)).is_ok(),
            _ => false,
        };
        let snapshot = writes.clone();
        writes.retain(|k| !covered(&snapshot, k));
        let mut reads: Vec<StateKey> = reads.into_iter().collect();
        reads.sort_unstable();
        reads.dedup();
        let all_reads = reads.clone();
        reads.retain(|k| {
            writes.binary_search(k).is_err() && !covered(&writes, k) && !covered(&all_reads, k)
        });
        let count = reads.len() + writes.len();
        if count > limit {
            return Err(AccessSetTooLarge { count, limit });
        }
        let split = writes.len();
        writes.extend(reads);
        let marks = marks(&writes, split).into();
        Ok(Self { keys: writes.into(), marks, writes: split })
    }

    /// [`AccessSet::new`] for keys that come with their hashes
    /// ([`StateKey::hash64`]) and hold no `AllStorage` key: what a run read
    /// and wrote, each key hashed as it was read. Nothing is hashed again.
    pub(crate) fn from_hashed(
        reads: impl ExactSizeIterator<Item = (StateKey, KeyHash)>,
        writes: impl ExactSizeIterator<Item = (StateKey, KeyHash)>,
        limit: usize,
    ) -> Result<Self, AccessSetTooLarge> {
        // One list, each key with whether it was written; sorted so a key's
        // write comes before its reads, the first of each key kept. The
        // list and the marks are the thread's scratch, reused from set to
        // set: the set itself is two allocations, its keys and its marks.
        SCRATCH.with_borrow_mut(|(all, marks)| {
            all.clear();
            all.extend(writes.map(|(k, h)| (k, false, h)));
            all.extend(reads.map(|(k, h)| (k, true, h)));
            debug_assert!(all.iter().all(|(k, ..)| !matches!(k, StateKey::AllStorage(_))));
            all.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
            all.dedup_by(|a, b| a.0 == b.0);
            let count = all.len();
            if count > limit {
                return Err(AccessSetTooLarge { count, limit });
            }
            // Writes first, each list in key order: the keys are unique and
            // in key order now, so a stable sort by kind keeps that order.
            all.sort_by_key(|(_, read, _)| *read);
            let split = all.partition_point(|(_, read, _)| !*read);
            let keys: Arc<[StateKey]> = all.iter().map(|e| e.0).collect();
            marks_with(&keys, split, |i| all[i].2, marks);
            let set = Self { keys, marks: Arc::from(&marks[..]), writes: split };
            // A set of many keys leaves no large scratch behind.
            all.shrink_to(SCRATCH_KEPT);
            marks.shrink_to(SCRATCH_KEPT);
            Ok(set)
        })
    }

    /// Normalises a set without a size limit (for sets already bounded
    /// elsewhere, such as ones read back from a block).
    pub fn unbounded(
        reads: impl IntoIterator<Item = StateKey>,
        writes: impl IntoIterator<Item = StateKey>,
    ) -> Self {
        Self::new(reads, writes, usize::MAX).expect("usize::MAX keys cannot fit in memory")
    }

    /// Keys locked for reading (shared).
    pub fn reads(&self) -> &[StateKey] {
        &self.keys[self.writes..]
    }

    /// Keys locked for writing (exclusive).
    pub fn writes(&self) -> &[StateKey] {
        &self.keys[..self.writes]
    }

    /// Every key, writes first.
    pub fn keys(&self) -> &[StateKey] {
        &self.keys
    }

    /// The hashes of [`Self::keys`] ([`StateKey::hash64`]), in the same order.
    pub fn hashes(&self) -> impl ExactSizeIterator<Item = KeyHash> + '_ {
        self.marks[..self.keys.len()].iter().map(|m| m.hash)
    }

    /// The keys as the hash-keyed lock tables file them.
    pub(crate) fn marks(&self) -> &[Mark] {
        &self.marks
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set declares nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn holds(list: &[StateKey], key: &StateKey) -> bool {
        list.binary_search(key).is_ok()
            || matches!(key, StateKey::Storage(a, _) if list.binary_search(&StateKey::AllStorage(*a)).is_ok())
    }

    /// Whether the set lets a transaction read `key` (`AllStorage` keys count
    /// only through the slots they cover).
    pub fn allows_read(&self, key: &StateKey) -> bool {
        Self::holds(self.writes(), key) || Self::holds(self.reads(), key)
    }

    /// Whether the set lets a transaction write `key`.
    pub fn allows_write(&self, key: &StateKey) -> bool {
        Self::holds(self.writes(), key)
    }

    /// `key`'s hash if the set lets a transaction write it (`write`) or read
    /// it: the set's own hash of a declared key, a fresh one for a slot that
    /// an `AllStorage` key covers. A set of a few keys is scanned, not
    /// searched: over a handful of keys a scan costs less than two binary
    /// searches, and it runs on every state access.
    pub(crate) fn permits(&self, key: &StateKey, write: bool) -> Option<KeyHash> {
        const SCAN: usize = 8;
        let at = if self.keys.len() <= SCAN {
            self.keys.iter().position(|k| k == key)
        } else {
            let found = |from: usize, list: &[StateKey]| Some(from + list.binary_search(key).ok()?);
            found(0, self.writes()).or_else(|| found(self.writes, self.reads()))
        };
        match at {
            Some(i) if !write || i < self.writes => Some(self.marks[i].hash),
            // A read-only key: normal form leaves no written `AllStorage`
            // over a listed read.
            Some(_) => None,
            // Not listed: allowed only as a slot its `AllStorage` key covers.
            None => {
                let StateKey::Storage(a, _) = key else { return None };
                let all = StateKey::AllStorage(*a);
                let in_list = |list: &[StateKey]| list.binary_search(&all).is_ok();
                let covered = in_list(self.writes()) || (!write && in_list(self.reads()));
                covered.then(|| key.hash64())
            }
        }
    }

    /// Whether two sets conflict: one writes state the other reads or writes.
    pub fn conflicts_with(&self, other: &AccessSet) -> bool {
        let hits = |ws: &[StateKey], keys: &[StateKey]| {
            ws.iter().any(|w| keys.iter().any(|k| w.overlaps(k)))
        };
        hits(self.writes(), other.writes())
            || hits(self.writes(), other.reads())
            || hits(other.writes(), self.reads())
    }
}

impl BorshSerialize for AccessSet {
    fn serialize<W: io::Write>(&self, writer: &mut W) -> io::Result<()> {
        // The same bytes as two `Vec<StateKey>`s.
        self.reads().serialize(writer)?;
        self.writes().serialize(writer)
    }
}

impl BorshDeserialize for AccessSet {
    fn deserialize_reader<R: io::Read>(reader: &mut R) -> io::Result<Self> {
        let reads = Vec::<StateKey>::deserialize_reader(reader)?;
        let writes = Vec::<StateKey>::deserialize_reader(reader)?;
        let set = Self::unbounded(reads.iter().copied(), writes.iter().copied());
        // Accept only the normal form, so one set has one encoding (and one hash).
        if set.reads() != reads || set.writes() != writes {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "access set not normalised"));
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, B256};

    fn a(i: u8) -> Address {
        Address::repeat_byte(i)
    }

    /// `keys`, each with its hash, as a run logs them.
    fn hashed(keys: &[StateKey]) -> Vec<(StateKey, KeyHash)> {
        keys.iter().map(|k| (*k, k.hash64())).collect()
    }

    #[test]
    fn test_normalisation() {
        let s = |i| StateKey::Storage(a(1), B256::repeat_byte(i));
        let set = AccessSet::new(
            [StateKey::Account(a(1)), StateKey::Account(a(2)), s(1), s(1), s(3)],
            [StateKey::Account(a(1)), StateKey::AllStorage(a(1)), s(2)],
            10,
        )
        .unwrap();
        // a(1) is written, so not read; all slots of a(1) are written.
        assert_eq!(set.reads(), &[StateKey::Account(a(2))]);
        assert_eq!(set.writes(), &[StateKey::Account(a(1)), StateKey::AllStorage(a(1))]);
        assert!(set.allows_write(&s(9)) && set.allows_read(&s(9)));
        assert!(!set.allows_write(&StateKey::Account(a(2))));
        assert!(!set.allows_read(&StateKey::Account(a(3))));
        let err = AccessSet::new((0..5).map(|i| StateKey::Account(a(i))), [], 4).unwrap_err();
        assert_eq!(err, AccessSetTooLarge { count: 5, limit: 4 });
    }

    #[test]
    fn test_a_set_from_hashed_keys_equals_the_normalised_one() {
        let s = |i| StateKey::Storage(a(1), B256::repeat_byte(i));
        let reads = [StateKey::Account(a(2)), s(3), s(1), StateKey::Account(a(1)), s(3)];
        let writes = [s(1), StateKey::Account(a(1)), s(2), s(1)];
        let set =
            AccessSet::from_hashed(hashed(&reads).into_iter(), hashed(&writes).into_iter(), 10)
                .unwrap();
        let normal = AccessSet::new(reads, writes, 10).unwrap();
        assert_eq!(set, normal);
        assert_eq!(set.marks(), normal.marks());
        let err =
            AccessSet::from_hashed(hashed(&reads).into_iter(), hashed(&writes).into_iter(), 4)
                .unwrap_err();
        assert_eq!(err, AccessSetTooLarge { count: 5, limit: 4 });
    }

    proptest::proptest! {
        /// Any reads and writes (repeated, overlapping, several slots of one
        /// address) give the normalised set from their hashes.
        #[test]
        fn test_any_set_from_hashed_keys_equals_the_normalised_one(
            reads in proptest::collection::vec((0u8..4, proptest::option::of(0u8..4)), 0..40),
            writes in proptest::collection::vec((0u8..4, proptest::option::of(0u8..4)), 0..40),
        ) {
            let key = |(address, slot): (u8, Option<u8>)| match slot {
                Some(s) => StateKey::Storage(a(address), B256::repeat_byte(s)),
                None => StateKey::Account(a(address)),
            };
            let reads: Vec<StateKey> = reads.into_iter().map(key).collect();
            let writes: Vec<StateKey> = writes.into_iter().map(key).collect();
            let set = AccessSet::from_hashed(
                hashed(&reads).into_iter(),
                hashed(&writes).into_iter(),
                usize::MAX,
            )
            .unwrap();
            let normal = AccessSet::unbounded(reads, writes);
            proptest::prop_assert_eq!(&set, &normal);
            proptest::prop_assert_eq!(set.marks(), normal.marks());
        }
    }

    #[test]
    fn test_hashes_are_the_keys_hash64_as_the_store_files_them() {
        let slot = StateKey::Storage(a(1), B256::repeat_byte(7));
        let set = AccessSet::new(
            [slot, StateKey::Account(a(2))],
            [StateKey::Account(a(1)), StateKey::AllStorage(a(3))],
            8,
        )
        .unwrap();
        assert_eq!(set.hashes().len(), set.len());
        for (key, hash) in set.keys().iter().zip(set.hashes()) {
            assert_eq!(hash, key.hash64());
            if let Some(stored) = key.stored() {
                assert_eq!(hash, stored.hash64(), "{key:?}");
            }
        }
        assert_eq!(set.permits(&slot, false), Some(slot.hash64()));
        assert_eq!(set.permits(&slot, true), None);
        let covered = StateKey::Storage(a(3), B256::ZERO);
        assert_eq!(set.permits(&covered, true), Some(covered.hash64()));
        assert_ne!(StateKey::AllStorage(a(1)).hash64(), StateKey::Account(a(1)).hash64());
    }

    #[test]
    fn test_permits_answers_as_allows_on_small_and_large_sets() {
        // Keys over two addresses: accounts, all-storage and three slots each.
        let universe: Vec<StateKey> = (1..=2u8)
            .flat_map(|i| {
                let slots = (0..3u8).map(move |s| StateKey::Storage(a(i), B256::repeat_byte(s)));
                [StateKey::Account(a(i)), StateKey::AllStorage(a(i))].into_iter().chain(slots)
            })
            .collect();
        // Deterministic picks of reads and writes (xorshift), small and large.
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut large = false;
        for round in 0..400 {
            let size = if round % 2 == 0 { 3 } else { universe.len() };
            let pick = |r: u64| {
                let picked = universe.iter().enumerate().filter(move |(i, _)| (r >> i) & 1 == 1);
                picked.map(|(_, k)| *k)
            };
            let (r, w) = (next(), next());
            let set = AccessSet::unbounded(pick(r).take(size), pick(w).take(size));
            large |= set.len() > 8;
            for key in &universe {
                for write in [false, true] {
                    let allowed = if write { set.allows_write(key) } else { set.allows_read(key) };
                    assert_eq!(
                        set.permits(key, write),
                        allowed.then(|| key.hash64()),
                        "{set:?} {key:?} {write}"
                    );
                }
            }
        }
        assert!(large, "some sets are searched, not scanned");
    }

    #[test]
    fn test_conflicts() {
        let slot = StateKey::Storage(a(1), B256::ZERO);
        let r = |k| AccessSet::new([k], [], 8).unwrap();
        let w = |k| AccessSet::new([], [k], 8).unwrap();
        assert!(!r(slot).conflicts_with(&r(slot)));
        assert!(w(slot).conflicts_with(&r(slot)) && r(slot).conflicts_with(&w(slot)));
        assert!(w(StateKey::AllStorage(a(1))).conflicts_with(&r(slot)));
        assert!(r(StateKey::AllStorage(a(1))).conflicts_with(&w(slot)));
        assert!(!w(StateKey::AllStorage(a(2))).conflicts_with(&w(slot)));
        assert!(!w(StateKey::Account(a(1))).conflicts_with(&w(slot)));
    }

    #[test]
    fn test_borsh_refuses_unnormalised_sets() {
        let set = AccessSet::new([StateKey::Account(a(2))], [StateKey::Account(a(1))], 8).unwrap();
        let bytes = borsh::to_vec(&set).unwrap();
        assert_eq!(borsh::from_slice::<AccessSet>(&bytes).unwrap(), set);
        let raw = (vec![StateKey::Account(a(1))], vec![StateKey::Account(a(1))]);
        let bad = borsh::to_vec(&raw).unwrap();
        assert!(borsh::from_slice::<AccessSet>(&bad).is_err());
    }
}
