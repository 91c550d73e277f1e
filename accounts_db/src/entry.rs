//! What the database stores: account headers, storage slots and code.

use std::hash::{Hash, Hasher};

use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256};
use borsh::{BorshDeserialize, BorshSerialize};

use crate::hash::{KeyHash, hash_key_words, key_hash};

/// The header of an account: everything but its storage and code bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub struct AccountHeader {
    /// Number of transactions sent (or contracts created) by the account.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// keccak256 of the account's code; [`KECCAK256_EMPTY`] when it has none.
    pub code_hash: B256,
}

impl Default for AccountHeader {
    fn default() -> Self {
        Self { nonce: 0, balance: U256::ZERO, code_hash: KECCAK256_EMPTY }
    }
}

impl AccountHeader {
    /// An account with no nonce, no balance and no code (EIP-161's empty account).
    /// Storing it deletes the account. A zero code hash also counts as no code.
    pub fn is_empty(&self) -> bool {
        self.nonce == 0
            && self.balance.is_zero()
            && (self.code_hash == KECCAK256_EMPTY || self.code_hash.is_zero())
    }
}

/// One key of the database and its value, as committed or as visited.
///
/// In a commit an empty value deletes the key: an empty account header
/// ([`AccountHeader::is_empty`]) or a zero storage value. Code is addressed by
/// its keccak256 hash and never deleted.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Entry {
    /// The header of the account at an address.
    Account(Address, AccountHeader),
    /// One storage slot of an address.
    Storage(Address, B256, U256),
    /// Contract code by its keccak256 hash.
    Code(B256, Bytes),
}

impl Entry {
    /// The key this entry is stored under.
    pub fn key(&self) -> Key {
        match self {
            Self::Account(address, _) => Key::Account(*address),
            Self::Storage(address, slot, _) => Key::Storage(*address, *slot),
            Self::Code(hash, _) => Key::Code(*hash),
        }
    }

    /// Whether committing this entry deletes its key.
    pub fn is_deletion(&self) -> bool {
        match self {
            Self::Account(_, header) => header.is_empty(),
            Self::Storage(_, _, value) => value.is_zero(),
            Self::Code(..) => false,
        }
    }
}

/// A key of the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    /// An account header.
    Account(Address),
    /// A storage slot.
    Storage(Address, B256),
    /// Code by hash.
    Code(B256),
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (tag, address, word) = self.parts();
        hash_key_words(state, tag, address, word);
    }
}

impl Key {
    /// The key as [`hash_key_words`] takes it.
    fn parts(&self) -> (u8, &Address, Option<&B256>) {
        match self {
            Self::Account(a) => (0, a, None),
            Self::Storage(a, s) => (1, a, Some(s)),
            Self::Code(h) => (2, &Address::ZERO, Some(h)),
        }
    }

    /// The key's hash under the process's key seed ([`key_hash`]): what the
    /// index files it under. A caller that hashed the key already passes the
    /// hash to [`crate::ReadView::get_account_hashed`] and its siblings.
    pub fn hash64(&self) -> KeyHash {
        let (tag, address, word) = self.parts();
        key_hash(tag, address, word)
    }
}

/// A durable commit: the block it closed and the state commitment given with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CommitInfo {
    /// Block number passed to `commit`.
    pub block_number: u64,
    /// State commitment passed to `commit`, stored verbatim.
    pub commitment: B256,
}
