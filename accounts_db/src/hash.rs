//! [`KeyHash`]: the one 64-bit hash of a state key, and how every table that
//! files keys by it splits its bits.

use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

use alloy_primitives::{Address, B256};

/// The hash of a state key under the process's key seed ([`key_hash`]).
///
/// A key is hashed once (a transaction's declared keys, when it is decoded)
/// and this one value files it everywhere: in this crate's index and in the
/// runtime's write cache, written-key filter and lock tables. Each of those
/// takes its own range of bits through a method here, never by shifting the
/// raw value itself, so the layout below is the whole story:
///
/// ```text
///  63      58 57                           32 31      25 24                 0
/// +----------+-------------------------------+----------+-------------------+
/// |  cache   |                               |  table control byte source   |
/// |  shard   |                               |          |  table bucket ... |
/// +----------+-------------------------------+----------+-------------------+
///            |<- index shard: bits 32.., under the shard mask
///                              |<- written-key filter bit: bits 20..40 ->|
/// ```
///
/// - [`Self::table_hash`]: what a hashbrown table (the write cache's
///   tables, the runtime's entry filter) files the key under: bits 0..32
///   as they are, where hashbrown takes the bucket from the low end, and
///   bits 25..32 folded into the top seven, where it takes the control
///   byte that tells keys in one group apart.
/// - [`Self::index_slot`], bits 0..32 from the low end: where a probe in
///   an index shard's table (`LocMap`) starts.
/// - [`Self::cache_shard`], bits 58..64: which shard of the bank's write
///   cache holds the key (at most [`Self::MAX_CACHE_SHARDS`]).
/// - [`Self::index_shard`], bits 32.. from the low end: which shard of the
///   accounts_db index holds the key.
/// - [`Self::filter_bit`], bits 20..40: the key's bit in the bank's filter of
///   written keys (at most [`Self::MAX_FILTER_BITS`]).
///
/// Why some ranges must not overlap: the keys in one shard share their shard
/// bits, so if the bits a shard's table uses were taken from the same range,
/// they would be the same for every key there: the keys would crowd into
/// part of the buckets, or the control byte would tell none of them apart.
/// Hence both shards sit above bit 32, and the table hash takes its top bits
/// from below it (the raw top bits are the cache shard's). Overlaps between
/// ranges of unrelated structures are harmless (the filter bit with the
/// table's bits): the filter is one bitset over every key, not a table
/// inside a shard. The runtime's `ThreadLocks`, one map over every key,
/// files the raw value.
///
/// Every method is a shift, a mask or an xor: no branch, no hashing.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyHash(u64);

/// The low bits a table takes as they are; shards sit above them.
const TABLE_BITS: u32 = 32;
/// First bit of the cache-shard range: the top six bits.
const CACHE_SHARD_SHIFT: u32 = 58;
/// First bit of the index-shard range: above the table's bits.
const INDEX_SHARD_SHIFT: u32 = TABLE_BITS;
/// First bit of the written-key filter's range.
const FILTER_SHIFT: u32 = 20;

impl KeyHash {
    /// Most shards [`Self::cache_shard`] can tell apart.
    pub const MAX_CACHE_SHARDS: usize = 1 << (64 - CACHE_SHARD_SHIFT);
    /// Most bits [`Self::filter_bit`] can tell apart.
    pub const MAX_FILTER_BITS: usize = 1 << 20;

    /// A hash from its raw bits: one computed by [`key_hash`] and kept
    /// elsewhere (a table entry), or one made up by a test.
    #[inline]
    pub const fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    /// The raw 64 bits.
    #[inline]
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// The hash a hashbrown table files this key under: the low
    /// 32 bits as they are, xor'ed into the high half, so the top
    /// seven bits (the control byte) come from bits 25..32, which differ
    /// between keys of one shard.
    #[inline]
    pub const fn table_hash(self) -> u64 {
        self.0 ^ (self.0 << TABLE_BITS)
    }

    /// The slot a probe for the key starts at in an index shard's table of
    /// `mask + 1` slots (a power of two; bits above 32 are the shard's).
    #[inline]
    pub const fn index_slot(self, mask: usize) -> usize {
        self.0 as u32 as usize & mask
    }

    /// The shard of the accounts_db index, among `mask + 1` shards (a power of
    /// two).
    #[inline]
    pub const fn index_shard(self, mask: usize) -> usize {
        (self.0 >> INDEX_SHARD_SHIFT) as usize & mask
    }

    /// The shard of a bank's write cache, among `mask + 1` shards (a power of
    /// two, at most [`Self::MAX_CACHE_SHARDS`]).
    #[inline]
    pub const fn cache_shard(self, mask: usize) -> usize {
        (self.0 >> CACHE_SHARD_SHIFT) as usize & mask
    }

    /// The key's bit in a filter of `mask + 1` bits (a power of two, at most
    /// [`Self::MAX_FILTER_BITS`]).
    #[inline]
    pub const fn filter_bit(self, mask: usize) -> usize {
        (self.0 >> FILTER_SHIFT) as usize & (Self::MAX_FILTER_BITS - 1) & mask
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
/// computed ahead; an index checkpoint keeps it in the database's folder, and
/// the first database a process opens before hashing a key lends it its
/// seed, so that its checkpoint can be read.
pub fn key_hash(tag: u8, address: &Address, word: Option<&B256>) -> KeyHash {
    let mut state = seed(None).state.build_hasher();
    hash_key_words(&mut state, tag, address, word);
    KeyHash(state.finish())
}

/// The process's key seed: its four words (kept with an index checkpoint,
/// which files keys by their hashes) and the hasher built from them.
struct Seed {
    words: [u64; 4],
    state: ahash::RandomState,
}

static SEED: OnceLock<Seed> = OnceLock::new();

/// The process's seed; the first call sets it, to `words` when given, else
/// to random words.
fn seed(words: Option<[u64; 4]>) -> &'static Seed {
    SEED.get_or_init(|| {
        let words = words.unwrap_or_else(|| {
            let random = ahash::RandomState::new();
            [0u64, 1, 2, 3].map(|i| random.hash_one(i))
        });
        let [a, b, c, d] = words;
        Seed { words, state: ahash::RandomState::with_seeds(a, b, c, d) }
    })
}

/// The words of the process's key seed.
pub(crate) fn seed_words() -> [u64; 4] {
    seed(None).words
}

/// Makes `words` the process's key seed if no key was hashed yet; whether
/// the seed is now `words`.
pub(crate) fn adopt_seed(words: [u64; 4]) -> bool {
    seed(Some(words)).words == words
}

/// What the process's hasher makes of a fixed key: two processes with the
/// same seed words whose hashes differ (another ahash build, another CPU
/// path) tell apart by it.
pub(crate) fn fingerprint() -> u64 {
    key_hash(2, &Address::repeat_byte(0x5a), Some(&B256::repeat_byte(0xa5))).raw()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bits of the hash that `f`'s answer depends on: bit `b` counts if
    /// flipping it changes the answer, from any of a few starting values.
    fn used_bits(f: impl Fn(KeyHash) -> u64) -> u64 {
        let starts = [0, u64::MAX, 0x9e37_79b9_7f4a_7c15, 0x0123_4567_89ab_cdef];
        (0..64)
            .filter(|b| starts.iter().any(|&h| f(KeyHash(h)) != f(KeyHash(h ^ (1 << b)))))
            .fold(0, |bits, b| bits | (1 << b))
    }

    fn range(bits: std::ops::Range<u32>) -> u64 {
        bits.fold(0, |mask, b| mask | (1 << b))
    }

    #[test]
    fn test_layout_ranges_do_not_overlap_where_they_must_not() {
        // The largest masks each structure may use.
        let bucket = used_bits(|h| h.table_hash() & u64::from(u32::MAX));
        let control = used_bits(|h| h.table_hash() >> 57);
        let cache_shard = used_bits(|h| h.cache_shard(KeyHash::MAX_CACHE_SHARDS - 1) as u64);
        let index_shard = used_bits(|h| h.index_shard(usize::MAX) as u64);
        let index_slot = used_bits(|h| h.index_slot(usize::MAX) as u64);
        let filter = used_bits(|h| h.filter_bit(KeyHash::MAX_FILTER_BITS - 1) as u64);

        // The ranges drawn in the type's doc.
        assert_eq!(bucket, range(0..32));
        assert_eq!(control & range(0..32), range(25..32));
        assert_eq!(cache_shard, range(58..64));
        assert_eq!(index_shard, range(32..64));
        assert_eq!(filter, range(20..40));

        // Inside a shard, a table's bucket and the part of its control byte
        // that varies there are apart from the shard's bits.
        assert_eq!(cache_shard & (bucket | range(25..32)), 0, "the cache shard and its tables");
        assert_eq!(index_shard & (bucket | range(25..32)), 0, "the index shard and its table");
        assert_eq!(index_slot, range(0..32));
        assert_eq!(index_shard & index_slot, 0, "the index shard and its slots");
        // Smaller masks take the low end of their range.
        assert_eq!(used_bits(|h| h.cache_shard(3) as u64), range(58..60));
        assert_eq!(used_bits(|h| h.index_shard(15) as u64), range(32..36));
        assert_eq!(used_bits(|h| h.filter_bit(usize::MAX) as u64), range(20..40));
    }

    #[test]
    fn test_key_hash_is_stable_within_the_process() {
        let a = Address::repeat_byte(7);
        let s = B256::repeat_byte(9);
        assert_eq!(key_hash(1, &a, Some(&s)), key_hash(1, &a, Some(&s)));
        assert_ne!(key_hash(0, &a, None), key_hash(1, &a, Some(&s)));
        assert_eq!(KeyHash::from_raw(5).raw(), 5);
    }
}
