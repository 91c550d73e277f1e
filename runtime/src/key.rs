//! State keys: what a transaction declares and what the lock table locks.

use std::hash::{Hash, Hasher};

use alloy_primitives::{Address, B256};
use borsh::{BorshDeserialize, BorshSerialize};
use lanes_accounts_db::{KeyHash, hash_key_words, key_hash};

/// One unit of state a transaction can declare.
///
/// Code is content-addressed and immutable, so reading it needs no key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
pub enum StateKey {
    /// The account header at an address: nonce, balance, code hash.
    Account(Address),
    /// One storage slot of an address.
    Storage(Address, B256),
    /// Every storage slot of an address (the coarse, Solana-like lock).
    AllStorage(Address),
}

/// Hashed as a few fixed-size words ([`hash_key_words`]), with the tags of
/// the accounts_db `Key` for the same state: keys are hashed on every state
/// access, and the derived impl writes a length and a byte slice per field.
impl Hash for StateKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (tag, address, slot) = self.parts();
        hash_key_words(state, tag, address, slot);
    }
}

impl StateKey {
    /// The key's hash under the process's key seed
    /// ([`lanes_accounts_db::key_hash`]); for a stored key, the same as the
    /// accounts_db `Key`'s ([`lanes_accounts_db::Key::hash64`]). Access sets
    /// hash their keys once, when they are made; the bank's write cache, the
    /// entry filter, the lock tables and the accounts_db index all file keys
    /// by it, each through its own bits ([`KeyHash`]).
    pub fn hash64(&self) -> KeyHash {
        let (tag, address, slot) = self.parts();
        key_hash(tag, address, slot)
    }

    /// The key as [`hash_key_words`] takes it: the accounts_db `Key`'s tags
    /// for accounts and slots, one of its own for `AllStorage`.
    fn parts(&self) -> (u8, &Address, Option<&B256>) {
        match self {
            Self::Account(a) => (0, a, None),
            Self::Storage(a, s) => (1, a, Some(s)),
            Self::AllStorage(a) => (3, a, None),
        }
    }

    /// The address the key belongs to.
    pub fn address(&self) -> Address {
        match self {
            Self::Account(a) | Self::Storage(a, _) | Self::AllStorage(a) => *a,
        }
    }

    /// The accounts_db key holding this state (`AllStorage` is many keys).
    pub(crate) fn stored(&self) -> Option<lanes_accounts_db::Key> {
        match *self {
            Self::Account(a) => Some(lanes_accounts_db::Key::Account(a)),
            Self::Storage(a, s) => Some(lanes_accounts_db::Key::Storage(a, s)),
            Self::AllStorage(_) => None,
        }
    }

    /// Whether the two keys name overlapping state: equal keys, or
    /// `AllStorage(a)` and any `Storage(a, _)`.
    pub fn overlaps(&self, other: &StateKey) -> bool {
        match (self, other) {
            (Self::AllStorage(a), Self::Storage(b, _) | Self::AllStorage(b))
            | (Self::Storage(b, _), Self::AllStorage(a)) => a == b,
            _ => self == other,
        }
    }
}
