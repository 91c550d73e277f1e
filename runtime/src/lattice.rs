//! The state commitment: a lattice hash in the manner of Solana's SIMD-0215.
//!
//! Each account header and storage slot hashes (BLAKE3 in XOF mode) to 1024
//! 16-bit lanes; the state's hash is the lane-wise wrapping sum over all of
//! them. Changing a key subtracts its old element and adds its new one, so a
//! block updates the hash in time proportional to the keys it changed, in any
//! order and in parallel. The 32-byte commitment is BLAKE3 of the lanes.

use alloy_primitives::{Address, B256, U256};
use lanes_accounts_db::{AccountHeader, Entry, ReadView, StorageError};

/// Lanes of the lattice.
pub const LATTICE_LANES: usize = 1024;

/// A lattice hash: 1024 wrapping 16-bit lanes.
#[derive(Clone, PartialEq, Eq)]
pub struct LatticeHash(Box<[u16; LATTICE_LANES]>);

impl std::fmt::Debug for LatticeHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LatticeHash({})", self.commitment())
    }
}

impl Default for LatticeHash {
    fn default() -> Self {
        Self(Box::new([0; LATTICE_LANES]))
    }
}

impl LatticeHash {
    /// The hash of the empty state.
    pub fn identity() -> Self {
        Self::default()
    }

    fn from_hasher(hasher: &blake3::Hasher) -> Self {
        let mut sum = Self::identity();
        sum.fold(hasher, u16::wrapping_add);
        sum
    }

    /// Folds the element `hasher` gives into each lane with `op`, without
    /// building the element (a seal folds two per changed key).
    fn fold(&mut self, hasher: &blake3::Hasher, op: fn(u16, u16) -> u16) {
        let mut bytes = [0u8; LATTICE_LANES * 2];
        hasher.finalize_xof().fill(&mut bytes);
        for (lane, pair) in self.0.iter_mut().zip(bytes.chunks_exact(2)) {
            *lane = op(*lane, u16::from_le_bytes([pair[0], pair[1]]));
        }
    }

    fn account_hasher(address: &Address, header: &AccountHeader) -> blake3::Hasher {
        let mut h = blake3::Hasher::new();
        h.update(b"lanes/account");
        h.update(address.as_slice());
        h.update(&header.nonce.to_le_bytes());
        h.update(&header.balance.to_le_bytes::<32>());
        h.update(header.code_hash.as_slice());
        h
    }

    fn storage_hasher(address: &Address, slot: &B256, value: &U256) -> blake3::Hasher {
        let mut h = blake3::Hasher::new();
        h.update(b"lanes/storage");
        h.update(address.as_slice());
        h.update(slot.as_slice());
        h.update(&value.to_le_bytes::<32>());
        h
    }

    fn entry_hasher(entry: &Entry) -> Option<blake3::Hasher> {
        match entry {
            Entry::Account(a, h) => Some(Self::account_hasher(a, h)),
            Entry::Storage(a, s, v) => Some(Self::storage_hasher(a, s, v)),
            Entry::Code(..) => None,
        }
    }

    /// The element of an account header.
    pub fn of_account(address: &Address, header: &AccountHeader) -> Self {
        Self::from_hasher(&Self::account_hasher(address, header))
    }

    /// The element of a storage slot.
    pub fn of_storage(address: &Address, slot: &B256, value: &U256) -> Self {
        Self::from_hasher(&Self::storage_hasher(address, slot, value))
    }

    /// The element of a stored entry; code has none (the account header
    /// commits to it by hash).
    pub fn of_entry(entry: &Entry) -> Option<Self> {
        Self::entry_hasher(entry).map(|h| Self::from_hasher(&h))
    }

    /// Adds [`Self::of_entry`] of `entry` in place (nothing for code).
    pub fn add_entry(&mut self, entry: &Entry) {
        if let Some(h) = Self::entry_hasher(entry) {
            self.fold(&h, u16::wrapping_add);
        }
    }

    /// Subtracts [`Self::of_entry`] of `entry` in place (nothing for code).
    pub fn sub_entry(&mut self, entry: &Entry) {
        if let Some(h) = Self::entry_hasher(entry) {
            self.fold(&h, u16::wrapping_sub);
        }
    }

    /// Lane-wise wrapping addition.
    pub fn add(&mut self, other: &Self) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = a.wrapping_add(*b);
        }
    }

    /// Lane-wise wrapping subtraction.
    pub fn sub(&mut self, other: &Self) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = a.wrapping_sub(*b);
        }
    }

    /// The 32-byte state commitment.
    pub fn commitment(&self) -> B256 {
        B256::from(*blake3::hash(&self.to_bytes()).as_bytes())
    }

    /// The lanes as 2048 little-endian bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|l| l.to_le_bytes()).collect()
    }

    /// Parses [`Self::to_bytes`]'s output.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != LATTICE_LANES * 2 {
            return None;
        }
        let mut lanes = Box::new([0u16; LATTICE_LANES]);
        for (lane, pair) in lanes.iter_mut().zip(bytes.chunks_exact(2)) {
            *lane = u16::from_le_bytes([pair[0], pair[1]]);
        }
        Some(Self(lanes))
    }

    /// Computes the hash of every account header and slot in `view`.
    pub fn from_scratch(view: &ReadView) -> Result<Self, StorageError> {
        let mut sum = Self::identity();
        view.for_each(|entry| sum.add_entry(&entry))?;
        Ok(sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_add_sub_order_free() {
        let a = LatticeHash::of_storage(&Address::ZERO, &B256::ZERO, &U256::from(1));
        let b = LatticeHash::of_account(&Address::ZERO, &AccountHeader::default());
        let mut x = LatticeHash::identity();
        x.add(&a);
        x.add(&b);
        let mut y = LatticeHash::identity();
        y.add(&b);
        y.add(&a);
        assert_eq!(x, y);
        x.sub(&a);
        x.sub(&b);
        assert_eq!(x, LatticeHash::identity());
        assert_ne!(a.commitment(), b.commitment());
        assert_eq!(LatticeHash::from_bytes(&a.to_bytes()), Some(a));
    }

    #[test]
    fn test_adding_an_entry_in_place_equals_adding_its_element() {
        let entry = Entry::Storage(Address::repeat_byte(3), B256::repeat_byte(4), U256::from(9));
        let mut x = LatticeHash::of_account(&Address::ZERO, &AccountHeader::default());
        let mut y = x.clone();
        x.add(&LatticeHash::of_entry(&entry).unwrap());
        y.add_entry(&entry);
        assert_eq!(x, y);
        y.sub_entry(&entry);
        x.sub(&LatticeHash::of_entry(&entry).unwrap());
        assert_eq!(x, y);
        assert_ne!(x, LatticeHash::identity());
        y.add_entry(&Entry::Code(B256::ZERO, Default::default()));
        assert_eq!(x, y, "code has no element");
    }
}
