//! Transactions this stage decoded (sender recovered) at admission, by their
//! encoded bytes: a held-block stage (a validator) re-executes other nodes'
//! blocks of the very transactions its pool took in, and takes them from
//! here instead of recovering every sender again.

use alloy_primitives::Bytes;
use lanes_runtime::PoolTransaction;
use schnellru::{ByLength, LruMap};

/// Most transactions remembered; the least recently used are forgotten first.
pub const DECODED_CACHE_ENTRIES: usize = 65_536;

/// A bounded map from a transaction's encoding to its decoding.
pub(crate) struct DecodedCache<T>(LruMap<Bytes, T, ByLength, ahash::RandomState>);

impl<T: PoolTransaction> DecodedCache<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = u32::try_from(capacity).unwrap_or(u32::MAX).max(1);
        Self(LruMap::with_hasher(ByLength::new(capacity), ahash::RandomState::new()))
    }

    /// Remembers `tx`, forgetting the least recently used past the capacity.
    pub(crate) fn put(&mut self, tx: &T) {
        self.0.get_or_insert(tx.encoded().clone(), || tx.clone());
    }

    /// The decoding of `raw`, when remembered.
    pub(crate) fn get(&mut self, raw: &Bytes) -> Option<T> {
        self.0.get(raw).cloned()
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Address, U256};
    use lanes_runtime::Transaction;
    use lanes_runtime::native::NativeTx;

    use super::*;

    #[test]
    fn test_the_oldest_are_forgotten_past_the_capacity() {
        let tx = |n: u64| {
            NativeTx::transfer(Address::repeat_byte(1), n, Address::ZERO, U256::from(1), U256::ZERO)
        };
        let mut cache = DecodedCache::new(2);
        for n in 0..3 {
            cache.put(&tx(n));
        }
        cache.put(&tx(2));
        assert!(cache.get(tx(0).encoded()).is_none());
        assert_eq!(cache.get(tx(1).encoded()).map(|t| t.hash()), Some(tx(1).hash()));
        assert_eq!(cache.get(tx(2).encoded()).map(|t| t.hash()), Some(tx(2).hash()));
    }
}
