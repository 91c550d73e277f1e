//! State keys: what a transaction declares and what the lock table locks.

use alloy_primitives::{Address, B256};
use borsh::{BorshDeserialize, BorshSerialize};

/// One unit of state a transaction can declare.
///
/// Code is content-addressed and immutable, so reading it needs no key.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, BorshSerialize, BorshDeserialize,
)]
pub enum StateKey {
    /// The account header at an address: nonce, balance, code hash.
    Account(Address),
    /// One storage slot of an address.
    Storage(Address, B256),
    /// Every storage slot of an address (the coarse, Solana-like lock).
    AllStorage(Address),
}

impl StateKey {
    /// The address the key belongs to.
    pub fn address(&self) -> Address {
        match self {
            Self::Account(a) | Self::Storage(a, _) | Self::AllStorage(a) => *a,
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
