//! The lock table: all-or-nothing locking of access sets.
//!
//! ```text
//!            held:  Account(a)   Storage(a,s)   AllStorage(a)
//! want              R     W      R      W       R      W
//! Account(a)    R   ok    -      .      .       .      .
//!               W   -     -      .      .       .      .
//! Storage(a,s)  R   .     .      ok     -       ok     -
//!               W   .     .      -      -       -      -
//! AllStorage(a) R   .     .      ok     -       ok     -
//!               W   .     .      -      -       -      -
//! ```
//! (`-` conflict, `.` unrelated; `Storage(a,s)` against another slot of `a` is
//! unrelated.) Nothing waits here: a set that cannot be locked whole is refused.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use alloy_primitives::{Address, B256};
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use lanes_accounts_db::KeyHash;

use crate::access::AccessSet;
use crate::key::StateKey;
use crate::marks::{FLAGS, Mark};

/// A set could not be locked because `key` is in use. An expected outcome, not
/// a failure: the scheduler tries the set again later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{key:?} is in use")]
pub struct LockConflict {
    /// The first key found in use.
    pub key: StateKey,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Lock {
    readers: u32,
    /// More than one only through [`AccountLocks::lock_unchecked`].
    writers: u32,
}

impl Lock {
    fn is_free(self) -> bool {
        self.readers == 0 && self.writers == 0
    }

    fn has_writer(self) -> bool {
        self.writers > 0
    }
}

#[derive(Debug)]
struct AddressLocks {
    account: Lock,
    all_storage: Lock,
    slots: HashMap<B256, Lock, ahash::RandomState>,
    /// Read and write locks held on single slots, for `AllStorage` checks.
    slot_readers: u32,
    slot_writers: u32,
}

impl AddressLocks {
    fn new(hasher: &ahash::RandomState) -> Self {
        Self {
            account: Lock::default(),
            all_storage: Lock::default(),
            slots: HashMap::with_hasher(hasher.clone()),
            slot_readers: 0,
            slot_writers: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.account.is_free() && self.all_storage.is_free() && self.slots.is_empty()
    }
}

/// Read/write locks over state keys, held per in-flight transaction.
#[derive(Debug, Default)]
pub struct AccountLocks {
    addresses: HashMap<Address, AddressLocks, ahash::RandomState>,
    /// Seeds for the per-address slot maps, drawn once per table.
    hasher: ahash::RandomState,
}

impl AccountLocks {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty table with room for keys of `addresses` addresses.
    pub fn with_capacity(addresses: usize) -> Self {
        let hasher = ahash::RandomState::new();
        Self { addresses: HashMap::with_capacity_and_hasher(addresses, hasher.clone()), hasher }
    }

    /// Whether no lock is held.
    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty()
    }

    fn can(&self, key: &StateKey, write: bool) -> bool {
        let Some(l) = self.addresses.get(&key.address()) else { return true };
        match key {
            StateKey::Account(_) => {
                if write {
                    l.account.is_free()
                } else {
                    !l.account.has_writer()
                }
            }
            StateKey::Storage(_, s) => {
                let slot = l.slots.get(s).copied().unwrap_or_default();
                if write {
                    slot.is_free() && l.all_storage.is_free()
                } else {
                    !slot.has_writer() && !l.all_storage.has_writer()
                }
            }
            StateKey::AllStorage(_) => {
                if write {
                    l.all_storage.is_free() && l.slot_readers == 0 && l.slot_writers == 0
                } else {
                    !l.all_storage.has_writer() && l.slot_writers == 0
                }
            }
        }
    }

    /// Whether `set` could be locked now.
    pub fn can_lock(&self, set: &AccessSet) -> Result<(), LockConflict> {
        let writes = set.writes().iter().map(|k| (k, true));
        let reads = set.reads().iter().map(|k| (k, false));
        match writes.chain(reads).find(|(k, w)| !self.can(k, *w)) {
            Some((key, _)) => Err(LockConflict { key: *key }),
            None => Ok(()),
        }
    }

    /// Locks all of `set`, or nothing.
    pub fn try_lock(&mut self, set: &AccessSet) -> Result<(), LockConflict> {
        self.can_lock(set)?;
        self.lock_unchecked(set);
        Ok(())
    }

    /// Takes every lock of `set` even where it conflicts with locks held. For a
    /// holder whose conflicting sets run one after another anyway (one worker
    /// thread's queue, in a scheduler's per-thread table), or for a table that
    /// only marks keys (work a scheduler must not overtake). Each call is
    /// undone by one [`Self::unlock`].
    pub fn lock_unchecked(&mut self, set: &AccessSet) {
        for key in set.writes() {
            self.apply(key, true, true);
        }
        for key in set.reads() {
            self.apply(key, false, true);
        }
    }

    /// Releases a set locked by [`Self::try_lock`].
    pub fn unlock(&mut self, set: &AccessSet) {
        for key in set.writes() {
            self.apply(key, true, false);
        }
        for key in set.reads() {
            self.apply(key, false, false);
        }
    }

    fn apply(&mut self, key: &StateKey, write: bool, acquire: bool) {
        let address = key.address();
        let hasher = &self.hasher;
        let l = self.addresses.entry(address).or_insert_with(|| AddressLocks::new(hasher));
        let change = |lock: &mut Lock| match (write, acquire) {
            (true, true) => lock.writers += 1,
            (true, false) => lock.writers = lock.writers.saturating_sub(1),
            (false, true) => lock.readers += 1,
            (false, false) => lock.readers = lock.readers.saturating_sub(1),
        };
        match key {
            StateKey::Account(_) => change(&mut l.account),
            StateKey::AllStorage(_) => change(&mut l.all_storage),
            StateKey::Storage(_, s) => {
                let slot = l.slots.entry(*s).or_default();
                change(slot);
                if slot.is_free() {
                    l.slots.remove(s);
                }
                let counter = if write { &mut l.slot_writers } else { &mut l.slot_readers };
                *counter = if acquire { *counter + 1 } else { counter.saturating_sub(1) };
            }
        }
        if l.is_empty() {
            self.addresses.remove(&address);
        }
    }
}

/// The keys an entry being built uses, as 64-bit hashes: a cheaper test than
/// [`AccountLocks`] for cutting a sequence into conflict-free entries, where
/// nothing is ever unlocked and a false conflict only starts an entry early.
/// Two keys with the same hash can only make it report a conflict that is not
/// there; it never misses one. So alone it cannot judge a recorded entry
/// (replay must not refuse a valid block): [`first_conflict`] confirms what
/// it reports with the exact table.
///
/// The hashes are the sets' own marks ([`Mark`]: each key's hash, and for a
/// slot key its address's `AllStorage` hash, computed when the set was made),
/// filed by [`KeyHash::table_hash`] in a hashbrown table with the flags set
/// at each; a new entry clears the table and keeps its room.
#[derive(Debug, Default)]
pub(crate) struct EntryKeys {
    flags: HashTable<(KeyHash, u8)>,
}

impl EntryKeys {
    /// A filter with room for `keys` keys before it grows.
    pub(crate) fn with_capacity(keys: usize) -> Self {
        Self { flags: HashTable::with_capacity(keys) }
    }

    /// The flags set at `hash` in the current entry (0 where none is).
    fn get(&self, hash: KeyHash) -> u8 {
        self.flags.find(hash.table_hash(), |&(h, _)| h == hash).map_or(0, |&(_, flags)| flags)
    }

    /// Adds `set`'s keys to the entry, whatever they meet.
    pub(crate) fn add(&mut self, set: &AccessSet) {
        self.flags.reserve(set.marks().len(), |&(h, _)| h.table_hash());
        for &Mark { hash, sets, .. } in set.marks() {
            match self.flags.entry(hash.table_hash(), |&(h, _)| h == hash, |&(h, _)| h.table_hash())
            {
                Entry::Occupied(mut at) => at.get_mut().1 |= sets,
                Entry::Vacant(at) => {
                    at.insert((hash, sets));
                }
            }
        }
    }

    /// Adds `set` to the entry if none of its keys conflicts with one already
    /// there (up to hash collisions, which answer no); otherwise leaves the
    /// filter as it was and answers false.
    pub(crate) fn try_add(&mut self, set: &AccessSet) -> bool {
        let clear = set.marks().iter().all(|m| self.get(m.hash) & m.forbids == 0);
        if clear {
            self.add(set);
        }
        clear
    }

    /// Starts a new entry.
    pub(crate) fn clear(&mut self) {
        self.flags.clear();
    }
}

/// The keys of an entry planned in lanes ([`crate::BlockEntry::lanes`]):
/// for each hash and each flag set there, the lane that set it (plus one; 0
/// where none did), or [`SHARED`] where several lanes did (only readers
/// can). A hash collision can only put a set in a lane it need not join, or
/// end the entry early: slower, never wrong.
#[derive(Debug, Default)]
pub(crate) struct LaneKeys {
    owners: HashTable<(KeyHash, [u32; FLAGS])>,
    lanes: u32,
}

/// The owner of a flag several lanes set.
const SHARED: u32 = u32::MAX;

impl LaneKeys {
    /// Places `set` in the entry: in the one lane whose keys it conflicts
    /// with, or a new lane when it conflicts with none; `None` (the filter
    /// unchanged) when it conflicts with two lanes or more, so it needs a
    /// new entry.
    pub(crate) fn place(&mut self, set: &AccessSet) -> Option<u32> {
        let mut lane = None;
        for m in set.marks() {
            let found = self.owners.find(m.hash.table_hash(), |&(h, _)| h == m.hash);
            let Some((_, owners)) = found else { continue };
            for (bit, &owner) in owners.iter().enumerate() {
                if owner == 0 || m.forbids & (1 << bit) == 0 {
                    continue;
                }
                match lane {
                    _ if owner == SHARED => return None,
                    None => lane = Some(owner - 1),
                    Some(l) if l == owner - 1 => {}
                    Some(_) => return None,
                }
            }
        }
        let lane = lane.unwrap_or_else(|| {
            self.lanes += 1;
            self.lanes - 1
        });
        self.claim(set, lane);
        Some(lane)
    }

    /// Adds `set` to lane `lane` (a recorded entry's, which a replica
    /// checks) unless it conflicts with another lane's keys; `false` then,
    /// and the filter is left part-filled. A hash collision can refuse a set
    /// that does not conflict, never admit one that does: a caller checks a
    /// refusal exactly.
    pub(crate) fn admit(&mut self, set: &AccessSet, lane: u32) -> bool {
        for m in set.marks() {
            let found = self.owners.find(m.hash.table_hash(), |&(h, _)| h == m.hash);
            let Some((_, owners)) = found else { continue };
            for (bit, &owner) in owners.iter().enumerate() {
                if owner != 0 && m.forbids & (1 << bit) != 0 && owner != lane.saturating_add(1) {
                    return false;
                }
            }
        }
        self.claim(set, lane);
        true
    }

    /// Files `set`'s marks under `lane`.
    fn claim(&mut self, set: &AccessSet, lane: u32) {
        self.owners.reserve(set.marks().len(), |&(h, _)| h.table_hash());
        for &Mark { hash, sets, .. } in set.marks() {
            let bit = sets.trailing_zeros() as usize;
            let at =
                self.owners.entry(hash.table_hash(), |&(h, _)| h == hash, |&(h, _)| h.table_hash());
            let owners = &mut at.or_insert((hash, [0; FLAGS])).into_mut().1;
            owners[bit] = match owners[bit] {
                0 => lane + 1,
                owner if owner == lane + 1 => owner,
                _ => SHARED,
            };
        }
    }

    /// Starts a new entry.
    pub(crate) fn clear(&mut self) {
        self.owners.clear();
        self.lanes = 0;
    }
}

/// The first of `sets` that conflicts with one before it, with the key in
/// use: [`EntryKeys`] scans them, and only where it reports a conflict (a
/// real one, or a hash collision) does an exact [`AccountLocks`] pass decide.
/// The same answer as locking them one by one, at the filter's cost.
pub(crate) fn first_conflict(sets: &[&AccessSet]) -> Option<(usize, LockConflict)> {
    let keys: usize = sets.iter().map(|s| s.len()).sum();
    let mut filter = EntryKeys::with_capacity(2 * keys);
    for set in sets {
        if !filter.try_add(set) {
            let mut locks = AccountLocks::with_capacity(keys);
            return sets
                .iter()
                .enumerate()
                .find_map(|(i, set)| Some((i, locks.try_lock(set).err()?)));
        }
    }
    None
}

/// Most threads a [`ThreadLocks`] tracks (a thread is a bit of a `u64`).
pub const MAX_LOCK_THREADS: usize = 64;

/// A map keyed by whole key hashes, which it uses as they are.
type HashMap64<V> = HashMap<KeyHash, V, BuildHasherDefault<Prehashed>>;

/// Locks held by threads, for a scheduler that hands sets to worker threads
/// (Agave's thread-aware locks): it answers, in one probe per mark (a key,
/// and for a slot key also its address's `AllStorage` hash), which
/// threads hold locks a set conflicts with, and a thread may stack sets that
/// conflict with its own, since it runs them in order.
///
/// Keys are filed by the hashes their set computed when it was made, with a
/// flag per kind of use (a slot key also marks its address's `AllStorage`
/// hash), so locking hashes nothing and a table entry is a few words, where
/// [`AccountLocks`] hashes each address and nests a map of slots under it.
/// Two keys with one hash can only make it report a conflict that is not
/// there, never miss one: a scheduler then holds a set back or queues it
/// behind that thread's work, which is slower but still right.
#[derive(Debug)]
pub struct ThreadLocks {
    /// Per key hash, per flag: the threads holding it, and while one thread
    /// alone holds it, how many of that thread's sets do.
    held: HashMap64<Holders>,
    /// Per (key hash, thread), per flag, how many of the thread's sets hold
    /// it, for a flag two or more threads have held at once since it was
    /// last free (shared reads, or a scheduler's marks over a worker's).
    shared: HashMap<(KeyHash, usize), [u32; FLAGS], ahash::RandomState>,
    /// Per thread, at how many hashes it holds something.
    live: Vec<usize>,
}

/// The holders of one key hash. A flag that one thread alone holds keeps
/// that thread's count here, so locking and unlocking a set whose keys no
/// other thread holds (the common case) is one probe per mark; a count per
/// thread in a table of its own, beside the holders, was two, and locking
/// and unlocking is much of the scheduler thread's work.
#[derive(Debug, Default)]
struct Holders {
    /// Per flag, the threads holding it (bit `t`: thread `t`).
    threads: [u64; FLAGS],
    /// Per flag, the count of its one holder; 0 once two threads have held
    /// it (their counts are then in `ThreadLocks::shared`) or when free.
    solo: [u32; FLAGS],
}

impl Holders {
    fn holds(&self, bit: u64) -> bool {
        self.threads.iter().any(|t| t & bit != 0)
    }

    fn is_free(&self) -> bool {
        self.threads.iter().all(|t| *t == 0)
    }
}

impl ThreadLocks {
    /// A table for `threads` threads, numbered from 0.
    ///
    /// # Panics
    /// If `threads` is over [`MAX_LOCK_THREADS`].
    pub fn new(threads: usize) -> Self {
        assert!(threads <= MAX_LOCK_THREADS, "at most {MAX_LOCK_THREADS} threads, not {threads}");
        Self { held: HashMap64::default(), shared: HashMap::default(), live: vec![0; threads] }
    }

    /// Threads this table tracks.
    pub fn threads(&self) -> usize {
        self.live.len()
    }

    /// Whether no thread holds a lock.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// The threads holding locks that `set` conflicts with, as a bit mask
    /// (bit `t` for thread `t`).
    pub fn conflicts(&self, set: &AccessSet) -> u64 {
        let mut threads = 0;
        for mark in set.marks() {
            if let Some(held) = self.held.get(&mark.hash) {
                for (flag, holders) in held.threads.iter().enumerate() {
                    if mark.forbids & (1 << flag) != 0 {
                        threads |= holders;
                    }
                }
            }
        }
        threads
    }

    /// Takes `set`'s locks for `thread`, whatever they conflict with (the
    /// caller checks [`Self::conflicts`] first). Each call is undone by one
    /// [`Self::unlock`].
    ///
    /// # Panics
    /// If `thread` is not below [`Self::threads`].
    pub fn lock(&mut self, thread: usize, set: &AccessSet) {
        assert!(thread < self.live.len(), "thread {thread} of {}", self.live.len());
        let bit = 1 << thread;
        for mark in set.marks() {
            let flag = mark.sets.trailing_zeros() as usize;
            let held = self.held.entry(mark.hash).or_default();
            if !held.holds(bit) {
                self.live[thread] += 1;
            }
            let holders = held.threads[flag];
            if holders == 0 {
                held.threads[flag] = bit;
                held.solo[flag] = 1;
            } else if holders == bit && held.solo[flag] > 0 {
                held.solo[flag] += 1;
            } else {
                if held.solo[flag] > 0 {
                    // A second thread: the first one's count moves out.
                    let first = holders.trailing_zeros() as usize;
                    self.shared.entry((mark.hash, first)).or_default()[flag] += held.solo[flag];
                    held.solo[flag] = 0;
                }
                self.shared.entry((mark.hash, thread)).or_default()[flag] += 1;
                held.threads[flag] |= bit;
            }
        }
    }

    /// Releases one [`Self::lock`] of `set` by `thread`.
    pub fn unlock(&mut self, thread: usize, set: &AccessSet) {
        let bit = 1 << thread;
        for mark in set.marks() {
            let flag = mark.sets.trailing_zeros() as usize;
            let Some(held) = self.held.get_mut(&mark.hash) else { continue };
            if held.threads[flag] & bit == 0 {
                continue; // not held: an unlock without its lock
            }
            let released = if held.solo[flag] > 0 {
                held.solo[flag] -= 1;
                held.solo[flag] == 0
            } else {
                let Some(own) = self.shared.get_mut(&(mark.hash, thread)) else { continue };
                own[flag] = own[flag].saturating_sub(1);
                let released = own[flag] == 0;
                if own.iter().all(|c| *c == 0) {
                    self.shared.remove(&(mark.hash, thread));
                }
                released
            };
            if released {
                held.threads[flag] &= !bit;
                if !held.holds(bit) {
                    self.live[thread] -= 1;
                }
                if held.is_free() {
                    self.held.remove(&mark.hash);
                }
            }
        }
    }

    /// Releases every lock `thread` holds: a walk over the table when it
    /// holds any.
    pub fn unlock_all(&mut self, thread: usize) {
        if self.live[thread] == 0 {
            return;
        }
        let bit = 1 << thread;
        self.held.retain(|_, held| {
            for flag in 0..FLAGS {
                if held.threads[flag] & bit != 0 {
                    held.threads[flag] &= !bit;
                    held.solo[flag] = 0; // it was the only holder, or the counts are shared
                }
            }
            !held.is_free()
        });
        if !self.shared.is_empty() {
            self.shared.retain(|(_, t), _| *t != thread);
        }
        self.live[thread] = 0;
    }
}

/// A `Hasher` for keys that are already hashes: a [`KeyHash`] passes through
/// whole (hashbrown then takes its bucket from the low bits and its control
/// byte from the top seven, as the [`KeyHash`] layout notes).
#[derive(Debug, Default)]
pub(crate) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed with it; fold anything else in.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(kind: u8, a: u8, s: u8) -> StateKey {
        let a = Address::repeat_byte(a);
        match kind {
            0 => StateKey::Account(a),
            1 => StateKey::AllStorage(a),
            _ => StateKey::Storage(a, B256::repeat_byte(s)),
        }
    }

    fn set_strategy() -> impl Strategy<Value = AccessSet> {
        let k = (0u8..3, 0u8..3, 0u8..3).prop_map(|(t, a, s)| key(t, a, s));
        (prop::collection::vec(k.clone(), 0..4), prop::collection::vec(k, 0..4))
            .prop_map(|(r, w)| AccessSet::new(r, w, 64).unwrap())
    }

    #[test]
    fn test_all_storage_against_slots() {
        // held: W Storage(1, 0)      want: R AllStorage(1) -> conflict
        //                            want: W Storage(1, 1) -> ok
        let mut locks = AccountLocks::new();
        let slot0 = AccessSet::new([], [key(2, 1, 0)], 8).unwrap();
        locks.try_lock(&slot0).unwrap();
        let all = AccessSet::new([key(1, 1, 0)], [], 8).unwrap();
        assert_eq!(locks.try_lock(&all), Err(LockConflict { key: key(1, 1, 0) }));
        locks.try_lock(&AccessSet::new([], [key(2, 1, 1)], 8).unwrap()).unwrap();
        locks.unlock(&slot0);
        locks.unlock(&AccessSet::new([], [key(2, 1, 1)], 8).unwrap());
        locks.try_lock(&all).unwrap();
        locks.unlock(&all);
        assert!(locks.is_empty());
    }

    proptest! {
        /// The table against a naive model: a list of held sets, where a set
        /// can be locked iff it conflicts with none of them.
        #[test]
        fn test_lock_table_matches_naive_model(
            ops in prop::collection::vec((set_strategy(), any::<bool>(), any::<prop::sample::Index>()), 1..60)
        ) {
            let mut locks = AccountLocks::new();
            let mut held: Vec<AccessSet> = Vec::new();
            for (set, lock, pick) in ops {
                if lock || held.is_empty() {
                    let expect = held.iter().all(|h| !h.conflicts_with(&set));
                    prop_assert_eq!(locks.try_lock(&set).is_ok(), expect, "{:?} over {:?}", set, held);
                    if expect {
                        held.push(set);
                    }
                } else {
                    let set = held.swap_remove(pick.index(held.len()));
                    locks.unlock(&set);
                }
            }
            for set in held.drain(..) {
                locks.unlock(&set);
            }
            prop_assert!(locks.is_empty(), "residue: {:?}", locks);
        }

        /// The entry filter takes a set exactly when it conflicts with no set
        /// added since the last clear (these keys do not collide).
        #[test]
        fn test_entry_keys_match_naive_model(
            ops in prop::collection::vec((set_strategy(), any::<bool>()), 1..60)
        ) {
            let mut keys = EntryKeys::default();
            let mut entry: Vec<AccessSet> = Vec::new();
            for (set, clear) in ops {
                if clear {
                    keys.clear();
                    entry.clear();
                }
                let expect = entry.iter().all(|h| !h.conflicts_with(&set));
                prop_assert_eq!(keys.try_add(&set), expect, "{:?} after {:?}", set, entry);
                if !expect {
                    keys.add(&set);
                }
                entry.push(set);
            }
        }

        /// Lanes against a naive model: a set joins the one lane whose sets
        /// it conflicts with, a new lane when none, and is refused when it
        /// conflicts with sets of two lanes (these keys do not collide).
        #[test]
        fn test_lane_keys_match_naive_model(sets in prop::collection::vec(set_strategy(), 1..40)) {
            let mut keys = LaneKeys::default();
            let mut lanes: Vec<Vec<AccessSet>> = Vec::new();
            for set in sets {
                let met: Vec<usize> = (0..lanes.len())
                    .filter(|&l| lanes[l].iter().any(|h| h.conflicts_with(&set)))
                    .collect();
                let expect = match met[..] {
                    [] => Some(lanes.len() as u32),
                    [l] => Some(l as u32),
                    _ => None,
                };
                prop_assert_eq!(keys.place(&set), expect, "{:?} after {:?}", set, lanes);
                match expect {
                    Some(l) if l as usize == lanes.len() => lanes.push(vec![set]),
                    Some(l) => lanes[l as usize].push(set),
                    None => {
                        keys.clear();
                        lanes.clear();
                        prop_assert_eq!(keys.place(&set), Some(0));
                        lanes.push(vec![set]);
                    }
                }
            }
        }

        /// A recorded entry's lanes against a naive model: a set is admitted
        /// to its lane iff it conflicts with no set of another lane (these
        /// keys do not collide); once one is refused, the check stops.
        #[test]
        fn test_lane_keys_admit_matches_naive_model(
            sets in prop::collection::vec((set_strategy(), 0u32..4), 1..40)
        ) {
            let mut keys = LaneKeys::default();
            let mut admitted: Vec<(AccessSet, u32)> = Vec::new();
            for (set, lane) in sets {
                let expect = admitted.iter().all(|(h, l)| *l == lane || !h.conflicts_with(&set));
                prop_assert_eq!(keys.admit(&set, lane), expect, "{:?} in {} after {:?}", set, lane, admitted);
                if !expect {
                    break;
                }
                admitted.push((set, lane));
            }
        }

        /// `first_conflict` answers as locking the sets one by one does.
        #[test]
        fn test_first_conflict_matches_the_lock_table(sets in prop::collection::vec(set_strategy(), 0..12)) {
            let mut locks = AccountLocks::new();
            let expect = sets.iter().enumerate().find_map(|(i, s)| Some((i, locks.try_lock(s).err()?)));
            let refs: Vec<&AccessSet> = sets.iter().collect();
            prop_assert_eq!(first_conflict(&refs), expect);
        }

        /// `ThreadLocks` against a naive model: the sets each thread holds
        /// (a thread stacks sets whatever they meet; `unlock_all` drops a
        /// thread's); a set conflicts with a thread iff it conflicts with one
        /// of that thread's sets.
        #[test]
        fn test_thread_locks_match_naive_model(
            ops in prop::collection::vec(
                (set_strategy(), 0usize..3, 0u8..8, any::<prop::sample::Index>()),
                1..80,
            )
        ) {
            let mut locks = ThreadLocks::new(3);
            let mut held: [Vec<AccessSet>; 3] = Default::default();
            for (set, thread, op, pick) in ops {
                let expect = held.iter().enumerate().fold(0u64, |mask, (t, sets)| {
                    let hit = sets.iter().any(|h| h.conflicts_with(&set));
                    mask | (u64::from(hit) << t)
                });
                prop_assert_eq!(locks.conflicts(&set), expect, "{:?} over {:?}", set, held);
                match op {
                    0..4 => {
                        locks.lock(thread, &set);
                        held[thread].push(set);
                    }
                    4..7 if !held[thread].is_empty() => {
                        let set = held[thread].swap_remove(pick.index(held[thread].len()));
                        locks.unlock(thread, &set);
                    }
                    _ => {
                        locks.unlock_all(thread);
                        held[thread].clear();
                    }
                }
            }
            for (thread, sets) in held.iter_mut().enumerate() {
                for set in sets.drain(..) {
                    locks.unlock(thread, &set);
                }
            }
            prop_assert!(locks.is_empty());
            prop_assert!(locks.shared.is_empty(), "{:?}", locks.shared);
            prop_assert!(locks.live.iter().all(|l| *l == 0), "{:?}", locks.live);
        }
    }

    #[test]
    #[should_panic(expected = "at most 64 threads")]
    fn test_thread_locks_refuse_more_threads_than_bits() {
        ThreadLocks::new(MAX_LOCK_THREADS + 1);
    }
}
