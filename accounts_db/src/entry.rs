//! What the database stores: account headers, storage slots and code.

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::OnceLock;

use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256};
use borsh::{BorshDeserialize, BorshSerialize};

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
#[derive(Clone, Debug, PartialEq, Eq)]
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
    pub fn hash64(&self) -> u64 {
        let (tag, address, word) = self.parts();
        key_hash(tag, address, word)
    }
}

/// Feeds a key (a tag, an address, and a slot or hash) to `state` as two
/// 16-byte words and one 8-byte word, or as one and one without `word`. The
/// table hashers in use (ahash, foldhash) mix a 16-byte word with one
/// multiply, where the derived impl writes a discriminant, a length and a
/// byte slice per field (each a multiply or more); keys are hashed on every
/// state access. `Key` and the runtime's `StateKey` hash through this, with
/// the same tags for the same state.
pub fn hash_key_words<H: Hasher>(state: &mut H, tag: u8, address: &Address, word: Option<&B256>) {
    let (head, tail) = address.0.split_at(16);
    let word16 = |b: &[u8]| u128::from_le_bytes(b.try_into().expect("16 bytes"));
    state.write_u128(word16(head));
    if let Some(w) = word {
        let (lo, hi) = w.0.split_at(16);
        state.write_u128(word16(lo));
        state.write_u128(word16(hi));
    }
    let tail = u32::from_le_bytes(tail.try_into().expect("4 bytes"));
    state.write_u64(u64::from(tail) | u64::from(tag) << 32 | u64::from(word.is_some()) << 40);
}

/// The hash of a key's words ([`hash_key_words`]) under one seed drawn per
/// process, so that a key hashed once (a transaction's declared keys, when
/// it is decoded) serves every table that files keys by it: the index here,
/// and the runtime's write cache and lock filters. The seed is secret to the
/// process, as a per-table seed would be, so keys chosen to collide cannot be
/// computed ahead.
pub fn key_hash(tag: u8, address: &Address, word: Option<&B256>) -> u64 {
    static SEED: OnceLock<ahash::RandomState> = OnceLock::new();
    let mut state = SEED.get_or_init(ahash::RandomState::new).build_hasher();
    hash_key_words(&mut state, tag, address, word);
    state.finish()
}

/// A durable commit: the block it closed and the state commitment given with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CommitInfo {
    /// Block number passed to `commit`.
    pub block_number: u64,
    /// State commitment passed to `commit`, stored verbatim.
    pub commitment: B256,
}
