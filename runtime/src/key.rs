//! State keys: what a transaction declares and what the lock table locks.

use std::hash::{Hash, Hasher};

use alloy_primitives::{Address, B256};
use borsh::{BorshDeserialize, BorshSerialize};

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

/// Hashed as a tag byte and the raw bytes, without the length prefixes the
/// derived impl writes for each array (keys are hashed on every state access).
impl Hash for StateKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Self::Account(a) => {
                state.write_u8(0);
                state.write(a.as_slice());
            }
            Self::Storage(a, s) => {
                state.write_u8(1);
                state.write(a.as_slice());
                state.write(s.as_slice());
            }
            Self::AllStorage(a) => {
                state.write_u8(2);
                state.write(a.as_slice());
            }
        }
    }
}

impl StateKey {
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
