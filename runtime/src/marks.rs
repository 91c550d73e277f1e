//! How a set's keys are filed in the hash-keyed lock tables: each key as a
//! [`Mark`] (its hash, the flags it must not meet there, the one it sets),
//! made once when the set is made ([`marks`]).

use alloy_primitives::Address;
use lanes_accounts_db::KeyHash;

use crate::key::StateKey;

/// Flags per hash. A `Storage(a, s)` key also marks `AllStorage(a)`'s hash with
/// `SLOT_READ`/`SLOT_WRITE`, so an `AllStorage` set sees every slot of `a`.
pub(crate) const READ: u8 = 1;
pub(crate) const WRITE: u8 = 2;
pub(crate) const SLOT_READ: u8 = 4;
pub(crate) const SLOT_WRITE: u8 = 8;
/// Flags a [`Mark`] can set, one bit each.
pub(crate) const FLAGS: usize = 4;

/// One key of a set as the hash-keyed tables (`EntryKeys`, `ThreadLocks` in `locks.rs`)
/// file it: a hash, the flags it must not meet there, and the one it sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mark {
    pub(crate) hash: KeyHash,
    pub(crate) forbids: u8,
    pub(crate) sets: u8,
}

/// The marks of a normal-form set's `keys` (writes first, `writes` of them):
/// first each key's own, in order, filed under its [`StateKey::hash64`];
/// then, for each `Storage(a, _)` key, one under `AllStorage(a)`'s hash
/// (hashed once for a run of one address's slots, which sort together).
pub(crate) fn marks(keys: &[StateKey], writes: usize) -> Vec<Mark> {
    let mut marks = Vec::new();
    marks_with(keys, writes, |i| keys[i].hash64(), &mut marks);
    marks
}

/// [`marks`] into `marks` (cleared first), with `keys[i]`'s hash given by
/// `hash(i)`.
pub(crate) fn marks_with(
    keys: &[StateKey],
    writes: usize,
    hash: impl Fn(usize) -> KeyHash,
    marks: &mut Vec<Mark>,
) {
    let flags = |i: usize| if i < writes { (READ | WRITE, WRITE) } else { (WRITE, READ) };
    let slots = keys.iter().filter(|k| matches!(k, StateKey::Storage(..))).count();
    marks.clear();
    marks.reserve(keys.len() + slots);
    marks.extend(keys.iter().enumerate().map(|(i, key)| {
        let (forbids, sets) = flags(i);
        let forbids = match key {
            StateKey::AllStorage(_) if i < writes => forbids | SLOT_READ | SLOT_WRITE,
            StateKey::AllStorage(_) => forbids | SLOT_WRITE,
            _ => forbids,
        };
        Mark { hash: hash(i), forbids, sets }
    }));
    let mut all_storage: Option<(Address, KeyHash)> = None;
    for (i, key) in keys.iter().enumerate() {
        let StateKey::Storage(a, _) = key else { continue };
        let hash = match all_storage {
            Some((cached, h)) if cached == *a => h,
            _ => {
                let h = StateKey::AllStorage(*a).hash64();
                all_storage = Some((*a, h));
                h
            }
        };
        let (forbids, _) = flags(i);
        let sets = if i < writes { SLOT_WRITE } else { SLOT_READ };
        marks.push(Mark { hash, forbids, sets });
    }
}
