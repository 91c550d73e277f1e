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
        let mut bytes = [0u8; LATTICE_LANES * 2];
        hasher.finalize_xof().fill(&mut bytes);
        let mut lanes = Box::new([0u16; LATTICE_LANES]);
        for (lane, pair) in lanes.iter_mut().zip(bytes.chunks_exact(2)) {
            *lane = u16::from_le_bytes([pair[0], pair[1]]);
        }
        Self(lanes)
    }

    /// The element of an account header.
    pub fn of_account(address: &Address, header: &AccountHeader) -> Self {
        let mut h = blake3::Hasher::new();
        h.update(b"lanes/account");
        h.update(address.as_slice());
        h.update(&header.nonce.to_le_bytes());
        h.update(&header.balance.to_le_bytes::<32>());
        h.update(header.code_hash.as_slice());
        Self::from_hasher(&h)
    }

    /// The element of a storage slot.
    pub fn of_storage(address: &Address, slot: &B256, value: &U256) -> Self {
        let mut h = blake3::Hasher::new();
        h.update(b"lanes/storage");
        h.update(address.as_slice());
        h.update(slot.as_slice());
        h.update(&value.to_le_bytes::<32>());
        Self::from_hasher(&h)
    }

    /// The element of a stored entry; code has none (the account header
    /// commits to it by hash).
    pub fn of_entry(entry: &Entry) -> Option<Self> {
        match entry {
            Entry::Account(a, h) => Some(Self::of_account(a, h)),
            Entry::Storage(a, s, v) => Some(Self::of_storage(a, s, v)),
            Entry::Code(..) => None,
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
        view.for_each(|entry| {
            if let Some(element) = Self::of_entry(&entry) {
                sum.add(&element);
            }
        })?;
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
}
