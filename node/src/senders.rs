//! Senders the node recovered when their transactions were sent, by hash.
//! Serving those transactions again (a receipt, a block with its
//! transactions, a trace) needs each one's sender; recovering it costs what
//! taking the transaction in did (about 30 µs of libsecp256k1 on this
//! project's 2-core machine), so under load a client that reads its receipts
//! doubled the node's recovery. Those reads take the sender from here.

use alloy_primitives::{Address, B256};
use parking_lot::Mutex;
use schnellru::{ByLength, LruMap};

/// Senders remembered (about 60 bytes each); the least recently used are
/// forgotten first. A few blocks' worth at the node's highest rates.
pub(crate) const SENDERS_KEPT: u32 = 262_144;

/// A bounded map from a transaction's hash to its recovered sender.
pub(crate) struct Senders(Mutex<LruMap<B256, Address, ByLength, ahash::RandomState>>);

impl Default for Senders {
    fn default() -> Self {
        Self::new(SENDERS_KEPT)
    }
}

impl Senders {
    pub(crate) fn new(capacity: u32) -> Self {
        let map = LruMap::with_hasher(ByLength::new(capacity.max(1)), ahash::RandomState::new());
        Self(Mutex::new(map))
    }

    /// Remembers that `hash` was sent by `sender`.
    pub(crate) fn put(&self, hash: B256, sender: Address) {
        self.0.lock().insert(hash, sender);
    }

    /// The sender of `hash`, when remembered.
    pub(crate) fn get(&self, hash: &B256) -> Option<Address> {
        self.0.lock().get(hash).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_the_oldest_senders_are_forgotten_past_the_capacity() {
        let senders = Senders::new(2);
        for i in 0..3u8 {
            senders.put(B256::repeat_byte(i), Address::repeat_byte(i));
        }
        assert_eq!(senders.get(&B256::repeat_byte(0)), None);
        assert_eq!(senders.get(&B256::repeat_byte(2)), Some(Address::repeat_byte(2)));
    }
}
