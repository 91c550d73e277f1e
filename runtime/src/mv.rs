//! [`MvMemory`]: the multi-version memory of an ordered block run on many
//! workers ([`crate::Bank::execute_ordered`]). Every run of a transaction
//! publishes what it wrote as versions of (key, transaction index,
//! incarnation); a run of transaction `i` reads, per key, the newest version
//! below `i`, else the bank's state.
//!
//! ```text
//!   key ──> [(tx 3, Data(inc 0, Slot 7)), (tx 9, Estimate), (tx 12, Data(inc 1, Slot 8))]
//!           a read at index 10 finds tx 9's estimate: it waits for tx 9's next run
//!           a read at index 13 finds tx 12's value (version 12.1)
//! ```
//!
//! A version is a [`Patch`]: a value (an account header, a slot), or, for
//! an account a plain transfer only credited or debited, the balance it
//! added or took (Block-STM's lazy updates, as pevm keeps them): a read
//! folds the deltas down to the newest value, so transfers to or from one
//! account do not wait for one another. The coinbase's fees are one more
//! delta per transaction, kept apart ([`MvMemory::set_fee`]): every
//! transaction pays one, and a transaction that reads the coinbase folds
//! every earlier fee in.
//!
//! An aborted run's versions become estimates ([`MvMemory::estimate`]) until
//! its next run replaces them: a reader of an estimate waits for that run
//! instead of reading a value about to change. Keys a transaction is known
//! to write, or declared to, start as estimates or declared values
//! ([`MvMemory::prefill`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use alloy_primitives::{Address, B256, Bytes, U256};
use crossbeam_utils::CachePadded;
use hashbrown::HashTable;
use lanes_accounts_db::{AccountHeader, KeyHash};
use parking_lot::{Mutex, RwLock};

use crate::key::StateKey;

/// The incarnation of a version that a declaration put there before any
/// run ([`MvMemory::prefill`]).
pub(crate) const DECLARED: u32 = u32::MAX;

/// A transaction's run: its index in the block and its incarnation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Version {
    pub(crate) tx: u32,
    pub(crate) incarnation: u32,
}

/// What a run left at a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Patch {
    /// An account header (the empty header: no account).
    Account(AccountHeader),
    /// A slot's value.
    Slot(U256),
    /// A credit: `add` on the balance found, the nonce found, the code hash
    /// written.
    Credit { add: U256, code_hash: B256 },
    /// A debit: `take` off the balance found, the nonce and code hash
    /// written.
    Debit { take: U256, nonce: u64, code_hash: B256 },
}

impl Patch {
    /// The header this account patch leaves on `before`; `None` where a
    /// debit takes more than `before` holds, or a credit overflows.
    pub(crate) fn apply(&self, before: AccountHeader) -> Option<AccountHeader> {
        match *self {
            Self::Account(header) => Some(header),
            Self::Slot(_) => None,
            Self::Credit { add, code_hash } => {
                let balance = before.balance.checked_add(add)?;
                Some(AccountHeader { balance, code_hash, ..before })
            }
            Self::Debit { take, nonce, code_hash } => {
                let balance = before.balance.checked_sub(take)?;
                Some(AccountHeader { nonce, balance, code_hash })
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Cell {
    /// Written by a run that was aborted: its next run likely writes it.
    Estimate,
    Data(u32, Patch),
}

/// One key's versions, by transaction index.
struct Key {
    hash: KeyHash,
    key: StateKey,
    cells: Cells,
}

/// A key's cells in index order: most keys have one writer, kept inline
/// (a run of a block publishes a few keys, each a fresh allocation
/// otherwise).
enum Cells {
    Empty,
    One((u32, Cell)),
    Many(Vec<(u32, Cell)>),
}

impl Cells {
    fn as_slice(&self) -> &[(u32, Cell)] {
        match self {
            Self::Empty => &[],
            Self::One(cell) => std::slice::from_ref(cell),
            Self::Many(cells) => cells,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [(u32, Cell)] {
        match self {
            Self::Empty => &mut [],
            Self::One(cell) => std::slice::from_mut(cell),
            Self::Many(cells) => cells,
        }
    }

    fn insert(&mut self, at: usize, cell: (u32, Cell)) {
        *self = match std::mem::replace(self, Self::Empty) {
            Self::Empty => Self::One(cell),
            Self::One(first) => {
                let mut cells = Vec::with_capacity(4);
                cells.push(first);
                cells.insert(at, cell);
                Self::Many(cells)
            }
            Self::Many(mut cells) => {
                cells.insert(at, cell);
                Self::Many(cells)
            }
        };
    }

    fn remove(&mut self, at: usize) -> (u32, Cell) {
        match self {
            Self::Many(cells) => cells.remove(at),
            _ => match std::mem::replace(self, Self::Empty) {
                Self::One(cell) => cell,
                _ => unreachable!("a cell at {at} of none"),
            },
        }
    }
}

impl Key {
    /// The position of `tx`'s cell, or where it goes.
    fn position(&self, tx: u32) -> Result<usize, usize> {
        let cells = self.cells.as_slice();
        // Runs mostly publish in block order: look at the end first.
        match cells.last() {
            Some((last, _)) if *last < tx => Err(cells.len()),
            _ => cells.binary_search_by_key(&tx, |(t, _)| *t),
        }
    }

    /// The cells below index `at`, newest first.
    fn below(&self, at: u32) -> impl Iterator<Item = &(u32, Cell)> {
        let cells = self.cells.as_slice();
        let end = cells.partition_point(|(t, _)| *t < at);
        cells[..end].iter().rev()
    }
}

/// Where a read's value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The bank's state: no version below the reader.
    Storage,
    /// One version, a value.
    Version(Version),
    /// Several versions folded (deltas, fees).
    Fold,
    /// Not read from the versions at all: a plain transfer's account shown
    /// as the run needs it ([`crate::StateView`]'s engine reads), checked at
    /// the transaction's commit.
    Shown,
}

/// An account as the versions below a reader leave it: a header, or the
/// state's, with deltas on it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Folded {
    /// The newest value below the deltas; `None`: the state's.
    pub(crate) base: Option<AccountHeader>,
    pub(crate) add: U256,
    pub(crate) take: U256,
    /// The newest debit's nonce.
    pub(crate) nonce: Option<u64>,
    /// The newest delta's code hash.
    pub(crate) code_hash: Option<B256>,
    pub(crate) origin: Origin,
}

impl Folded {
    /// Nothing below the reader: the state's value.
    const STORAGE: Self = Self {
        base: None,
        add: U256::ZERO,
        take: U256::ZERO,
        nonce: None,
        code_hash: None,
        origin: Origin::Storage,
    };

    /// Whether it needs the state's value.
    pub(crate) fn needs_state(&self) -> bool {
        self.base.is_none()
    }

    /// The header, on `state` where no value is below the deltas (a fold
    /// in flight may be of state that never was: it saturates).
    pub(crate) fn over(&self, state: AccountHeader) -> AccountHeader {
        let base = self.base.unwrap_or(state);
        AccountHeader {
            nonce: self.nonce.unwrap_or(base.nonce),
            balance: base.balance.saturating_add(self.add).saturating_sub(self.take),
            code_hash: self.code_hash.unwrap_or(base.code_hash),
        }
    }
}

/// Bits of the filter of keys that have versions, per transaction of the
/// block (at most [`KeyHash::MAX_FILTER_BITS`]): most reads are of keys no
/// run of the block wrote, and a clear bit answers them without a lock.
/// Sized to the block, since a block's memory is made and zeroed anew.
const FILTER_BITS_PER_TX: usize = 64;

/// Readers' slots per filter bit: one slot (four bytes) per 4 bits, 16
/// per transaction.
const READER_BITS_DIVISOR: usize = 4;

/// The multi-version memory of one ordered block (see the module).
pub(crate) struct MvMemory {
    shards: Box<[CachePadded<RwLock<HashTable<Key>>>]>,
    written: Box<[AtomicU64]>,
    /// By a hash of the key, the highest index (plus one) of a run that read
    /// it through the versions: a run that publishes keys no run above it
    /// read changes no one's reads, so those runs need no new check
    /// ([`Self::record`]).
    readers: Box<[AtomicU32]>,
    /// `written`'s bits less one (a power of two).
    filter_mask: usize,
    /// Each transaction's fee to the coinbase, `None` until its run is
    /// recorded (and again once aborted).
    fees: Box<[Mutex<Option<U256>>]>,
    code: RwLock<HashMap<B256, Bytes, ahash::RandomState>>,
    coinbase: Address,
}

impl std::fmt::Debug for MvMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MvMemory").field("txs", &self.fees.len()).finish_non_exhaustive()
    }
}

/// Lists of a run's writes up to this long are compared pair by pair;
/// longer ones (a call that wrote hundreds of keys) through a set, where
/// pair by pair took time in the square of their length.
pub(crate) const PAIRWISE: usize = 16;

/// Shards of the versions: enough that workers rarely meet on one.
const SHARDS: usize = 64;

impl MvMemory {
    /// An empty memory for `txs` transactions paying `coinbase`.
    pub(crate) fn new(txs: usize, coinbase: Address) -> Self {
        let bits =
            (txs * FILTER_BITS_PER_TX).next_power_of_two().clamp(4096, KeyHash::MAX_FILTER_BITS);
        // Room for about three keys a transaction without growing.
        let per_shard = (txs * 3).div_ceil(SHARDS);
        Self {
            shards: (0..SHARDS)
                .map(|_| CachePadded::new(RwLock::new(HashTable::with_capacity(per_shard))))
                .collect(),
            written: (0..bits / 64).map(|_| AtomicU64::new(0)).collect(),
            readers: (0..(bits / READER_BITS_DIVISOR).max(1024))
                .map(|_| AtomicU32::new(0))
                .collect(),
            filter_mask: bits - 1,
            fees: (0..txs).map(|_| Mutex::new(None)).collect(),
            code: RwLock::default(),
            coinbase,
        }
    }

    fn shard(&self, hash: KeyHash) -> &RwLock<HashTable<Key>> {
        &self.shards[(hash.raw() >> 40) as usize % SHARDS]
    }

    fn filter(&self, hash: KeyHash) -> (&AtomicU64, u64) {
        let bit = hash.filter_bit(self.filter_mask);
        (&self.written[bit / 64], 1 << (bit % 64))
    }

    fn readers(&self, hash: KeyHash) -> &AtomicU32 {
        &self.readers[hash.filter_bit(self.filter_mask) % self.readers.len()]
    }

    /// Whether some version of the key may exist, for a read by run `at`,
    /// which is noted first. Every step sequentially consistent: a reader
    /// notes itself before it looks at the `written` bit, a writer sets
    /// that bit before it publishes and looks at the readers after
    /// ([`Self::record`]), so at least one sees the other (the reader then
    /// the versions, under the shard's lock, or the writer the reader).
    fn maybe_written(&self, hash: KeyHash, at: u32) -> bool {
        let readers = self.readers(hash);
        if readers.load(Ordering::SeqCst) <= at {
            readers.fetch_max(at + 1, Ordering::SeqCst);
        }
        crate::race_point();
        let (word, mask) = self.filter(hash);
        word.load(Ordering::SeqCst) & mask != 0
    }

    /// Whether a run above `tx` may have read the key.
    fn read_above(&self, hash: KeyHash, tx: u32) -> bool {
        self.readers(hash).load(Ordering::SeqCst) > tx + 1
    }

    /// Calls `f` with `tx`'s place among `key`'s versions, write-locked.
    fn with_key<R>(&self, hash: KeyHash, key: &StateKey, f: impl FnOnce(&mut Key) -> R) -> R {
        let (word, mask) = self.filter(hash);
        if word.load(Ordering::SeqCst) & mask == 0 {
            word.fetch_or(mask, Ordering::SeqCst);
        }
        crate::race_point();
        let mut shard = self.shard(hash).write();
        let entry = shard.entry(
            hash.table_hash(),
            |k| k.hash == hash && k.key == *key,
            |k| k.hash.table_hash(),
        );
        let entry = entry.or_insert_with(|| Key { hash, key: *key, cells: Cells::Empty });
        f(entry.into_mut())
    }

    /// Puts a cell for `tx` at `key` before any run: an estimate (a key it
    /// is known to write), or a declared value (its incarnation
    /// [`DECLARED`]).
    pub(crate) fn prefill(&self, tx: u32, hash: KeyHash, key: &StateKey, value: Option<Patch>) {
        let cell = value.map_or(Cell::Estimate, |p| Cell::Data(DECLARED, p));
        self.with_key(hash, key, |k| match k.position(tx) {
            Ok(at) => k.cells.as_mut_slice()[at].1 = cell,
            Err(at) => k.cells.insert(at, (tx, cell)),
        });
    }

    /// Publishes run `incarnation` of `tx`, which wrote `writes`; `last`
    /// holds the keys `tx`'s cells are at, and is set to `writes`' keys.
    /// Answers whether a reader above `tx` may now find what it did not
    /// before: a key written that had no cell of `tx`, a cell removed that
    /// held a value, or a value replaced by a different one (a declared
    /// value) — not an estimate replaced, which no reader could have used —
    /// at a key a run above `tx` may have read through the versions (else
    /// no read changes).
    pub(crate) fn record(
        &self,
        tx: u32,
        incarnation: u32,
        writes: &[(KeyHash, StateKey, Patch)],
        last: &mut Vec<(KeyHash, StateKey)>,
    ) -> bool {
        // Whether a reader above `tx` finds something new: each key's
        // readers looked at once its change is published (its shard's lock
        // released).
        let mut new = false;
        // A long list of writes ([`PAIRWISE`]) is looked up through a set.
        let written: Option<hashbrown::HashSet<&StateKey, ahash::RandomState>> =
            (writes.len() > PAIRWISE && !last.is_empty())
                .then(|| writes.iter().map(|w| &w.1).collect());
        for (hash, key) in last.iter() {
            let rewritten = match &written {
                Some(written) => written.contains(key),
                None => writes.iter().any(|(h, k, _)| h == hash && k == key),
            };
            if rewritten {
                continue;
            }
            let removed = {
                let mut shard = self.shard(*hash).write();
                let found = shard.find_mut(hash.table_hash(), |k| k.hash == *hash && k.key == *key);
                match found.map(|k| (k.position(tx), k)) {
                    Some((Ok(at), k)) => matches!(k.cells.remove(at).1, Cell::Data(..)),
                    _ => false,
                }
            };
            new |= removed && self.read_above(*hash, tx);
        }
        last.clear();
        for (hash, key, patch) in writes {
            let data = Cell::Data(incarnation, *patch);
            let changed = self.with_key(*hash, key, |k| match k.position(tx) {
                Ok(at) => {
                    let was = std::mem::replace(&mut k.cells.as_mut_slice()[at].1, data);
                    matches!(was, Cell::Data(_, old) if old != *patch)
                }
                Err(at) => {
                    k.cells.insert(at, (tx, data));
                    true
                }
            });
            crate::race_point();
            new |= changed && self.read_above(*hash, tx);
            last.push((*hash, *key));
        }
        new
    }

    /// Marks `tx`'s cells at `keys` as estimates (its run was aborted), and
    /// its fee unknown.
    pub(crate) fn estimate(&self, tx: u32, keys: &[(KeyHash, StateKey)]) {
        *self.fees[tx as usize].lock() = None;
        for (hash, key) in keys {
            let mut shard = self.shard(*hash).write();
            let found = shard.find_mut(hash.table_hash(), |k| k.hash == *hash && k.key == *key);
            if let Some(k) = found
                && let Ok(at) = k.position(tx)
            {
                k.cells.as_mut_slice()[at].1 = Cell::Estimate;
            }
        }
    }

    /// Sets `tx`'s fee to the coinbase (`None`: unknown).
    pub(crate) fn set_fee(&self, tx: u32, fee: Option<U256>) {
        *self.fees[tx as usize].lock() = fee;
    }

    /// The newest version of slot `key` below index `at`: `Ok(None)` where
    /// there is none (the state's value holds), `Err(k)` where it is
    /// transaction `k`'s estimate.
    pub(crate) fn slot(
        &self,
        hash: KeyHash,
        key: &StateKey,
        at: u32,
    ) -> Result<Option<(U256, Version)>, u32> {
        if !self.maybe_written(hash, at) {
            return Ok(None);
        }
        let shard = self.shard(hash).read();
        let Some(k) = shard.find(hash.table_hash(), |k| k.hash == hash && k.key == *key) else {
            return Ok(None);
        };
        match k.below(at).next() {
            None => Ok(None),
            Some((tx, Cell::Estimate)) => Err(*tx),
            Some((tx, Cell::Data(incarnation, patch))) => {
                let value = match patch {
                    Patch::Slot(v) => *v,
                    _ => U256::ZERO,
                };
                Ok(Some((value, Version { tx: *tx, incarnation: *incarnation })))
            }
        }
    }

    /// Account `address` (whose key hashes to `hash`) as the versions below
    /// index `at` leave it, the coinbase with every fee below `at` from
    /// its newest value on; `Err(k)` where the fold meets transaction `k`'s
    /// estimate (or, for the coinbase, an unknown fee).
    pub(crate) fn account(&self, hash: KeyHash, address: &Address, at: u32) -> Result<Folded, u32> {
        let coinbase = *address == self.coinbase;
        let mut folded = Folded::STORAGE;
        // The read is registered first (a write below must find its
        // reader); the coinbase's cells are looked at whatever the filter
        // said then.
        if !self.maybe_written(hash, at) && !coinbase {
            return Ok(folded);
        }
        // The coinbase's fees are read under its shard's lock, which a run
        // takes to publish its cells before it sets its fee: a fee found
        // is then of a run whose cells were found, not one value mixed
        // from two moments (a balance and a nonce that never were, a
        // wasted run).
        let key = StateKey::Account(*address);
        let shard = self.shard(hash).read();
        // The index the fees start at: the newest value's, else 0.
        let mut from = 0;
        let found = shard.find(hash.table_hash(), |k| k.hash == hash && k.key == key);
        if let Some(k) = found {
            let mut count = 0;
            for (tx, cell) in k.below(at) {
                let Cell::Data(incarnation, patch) = cell else { return Err(*tx) };
                count += 1;
                match *patch {
                    Patch::Account(header) => {
                        folded.base = Some(header);
                        from = *tx;
                        if count == 1 {
                            let version = Version { tx: *tx, incarnation: *incarnation };
                            folded.origin = Origin::Version(version);
                        }
                        break;
                    }
                    Patch::Credit { add, code_hash } => {
                        folded.add = folded.add.saturating_add(add);
                        folded.code_hash.get_or_insert(code_hash);
                    }
                    Patch::Debit { take, nonce, code_hash } => {
                        folded.take = folded.take.saturating_add(take);
                        folded.nonce.get_or_insert(nonce);
                        folded.code_hash.get_or_insert(code_hash);
                    }
                    Patch::Slot(_) => {}
                }
                folded.origin = Origin::Fold;
            }
        }
        crate::race_point();
        if coinbase && at > from {
            // Fees of `from..at`, checked newest first so a read waits for
            // the nearest unknown one.
            for tx in (from..at).rev() {
                match *self.fees[tx as usize].lock() {
                    None => return Err(tx),
                    Some(fee) => folded.add = folded.add.saturating_add(fee),
                }
            }
            folded.origin = Origin::Fold;
        }
        drop(shard);
        Ok(folded)
    }

    /// Stores `code` under its hash (any run's: code is content-addressed).
    pub(crate) fn put_code(&self, code: &[(B256, Bytes)]) {
        if !code.is_empty() {
            self.code.write().extend(code.iter().cloned());
        }
    }

    /// Code a run of the block stored.
    pub(crate) fn code(&self, hash: &B256) -> Option<Bytes> {
        self.code.read().get(hash).cloned()
    }

    /// The coinbase.
    pub(crate) fn coinbase(&self) -> Address {
        self.coinbase
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(balance: u64, nonce: u64) -> AccountHeader {
        AccountHeader { balance: U256::from(balance), nonce, ..AccountHeader::default() }
    }

    #[test]
    fn test_a_key_read_only_below_the_writer_needs_no_new_check_above_it() {
        let key = StateKey::Storage(Address::repeat_byte(3), B256::with_last_byte(4));
        let hash = key.hash64();
        let mv = MvMemory::new(10, Address::ZERO);
        assert_eq!(mv.slot(hash, &key, 1), Ok(None), "run 1 reads the state's value");
        let write = |incarnation, value: u64| {
            mv.record(
                4,
                incarnation,
                &[(hash, key, Patch::Slot(U256::from(value)))],
                &mut Vec::new(),
            )
        };
        assert!(!write(0, 1), "only run 1, below 4, read the key");
        assert_eq!(mv.slot(hash, &key, 6).map(|v| v.map(|(v, _)| v)), Ok(Some(U256::from(1))));
        assert!(write(1, 2), "run 6 read 4's value, which changed");
    }

    #[test]
    fn test_a_read_finds_the_newest_version_below_it() {
        // slot:  tx 2 writes 7, tx 5 is an estimate, tx 8 writes 9
        let key = StateKey::Storage(Address::repeat_byte(1), B256::with_last_byte(1));
        let hash = key.hash64();
        let mv = MvMemory::new(10, Address::ZERO);
        let mut last = Vec::new();
        assert!(
            !mv.record(2, 0, &[(hash, key, Patch::Slot(U256::from(7)))], &mut Vec::new()),
            "no run read the key: no reader above finds anything new"
        );
        assert_eq!(
            mv.slot(hash, &key, 9),
            Ok(Some((U256::from(7), Version { tx: 2, incarnation: 0 })))
        );
        assert!(mv.record(2, 0, &[], &mut vec![(hash, key)]), "a read value dropped");
        assert!(mv.record(2, 0, &[(hash, key, Patch::Slot(U256::from(7)))], &mut last));
        mv.prefill(5, hash, &key, None);
        mv.record(8, 1, &[(hash, key, Patch::Slot(U256::from(9)))], &mut Vec::new());
        assert_eq!(mv.slot(hash, &key, 2), Ok(None));
        let at_2 = Version { tx: 2, incarnation: 0 };
        assert_eq!(mv.slot(hash, &key, 3), Ok(Some((U256::from(7), at_2))));
        assert_eq!(mv.slot(hash, &key, 6), Err(5));
        let at_8 = Version { tx: 8, incarnation: 1 };
        assert_eq!(mv.slot(hash, &key, 9), Ok(Some((U256::from(9), at_8))));
        // Rewriting the same value is nothing new; dropping the key is.
        assert!(!mv.record(2, 1, &[(hash, key, Patch::Slot(U256::from(7)))], &mut last));
        assert!(mv.record(2, 2, &[], &mut last));
        assert_eq!(mv.slot(hash, &key, 3), Ok(None));
    }

    #[test]
    fn test_deltas_fold_down_to_the_newest_value_and_the_coinbase_adds_its_fees() {
        let coinbase = Address::repeat_byte(9);
        let key = StateKey::Account(coinbase);
        let hash = key.hash64();
        let mv = MvMemory::new(6, coinbase);
        let code_hash = AccountHeader::default().code_hash;
        mv.record(1, 0, &[(hash, key, Patch::Account(header(100, 4)))], &mut Vec::new());
        let debit = Patch::Debit { take: U256::from(30), nonce: 5, code_hash };
        mv.record(3, 0, &[(hash, key, debit)], &mut Vec::new());
        for tx in 0..6 {
            mv.set_fee(tx, Some(U256::from(1)));
        }
        // Below 5: tx 1's 100, its fee and those of 2..5, less 30.
        let folded = mv.account(hash, &coinbase, 5).unwrap();
        assert_eq!(folded.over(header(0, 0)), header(100 + 4 - 30, 5));
        assert_eq!(folded.origin, Origin::Fold);
        mv.set_fee(2, None);
        assert_eq!(mv.account(hash, &coinbase, 5).unwrap_err(), 2);
        // Another account with a credit over the state's value.
        let other = Address::repeat_byte(3);
        let key = StateKey::Account(other);
        let credit = Patch::Credit { add: U256::from(5), code_hash };
        mv.record(2, 0, &[(key.hash64(), key, credit)], &mut Vec::new());
        let folded = mv.account(key.hash64(), &other, 3).unwrap();
        assert!(folded.needs_state());
        assert_eq!(folded.over(header(10, 2)), header(15, 2));
        assert!(mv.account(key.hash64(), &other, 2).unwrap().needs_state());
    }
}
