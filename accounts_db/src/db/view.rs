//! [`ReadView`]: a consistent read-only view of one commit.

use std::sync::Arc;

use alloy_primitives::{Address, B256, Bytes, U256};

use super::inner::Inner;
use super::read::decode_entry;
use super::traits::AccountsRead;
use super::version::Version;
use crate::entry::{AccountHeader, CommitInfo, Entry, Key};
use crate::error::StorageError;
use crate::hash::KeyHash;

/// A consistent read-only view of one commit. It keeps seeing that commit while
/// later commits and compactions go on, and never blocks them.
#[derive(Debug, Clone)]
pub struct ReadView {
    pub(super) inner: Arc<Inner>,
    pub(super) version: Arc<Version>,
}

impl ReadView {
    /// The commit this view shows.
    pub fn last_commit(&self) -> Option<CommitInfo> {
        self.version.last
    }

    /// Every slot `address` holds in this view's state, in no particular
    /// order, where the database keeps its slot index
    /// ([`crate::AccountsDbConfig::slot_index`]) and this view shows the
    /// commit it is of (the newest); `None` otherwise, and with a backing
    /// ([`crate::AccountsDb::set_backing`]), whose slots it never saw.
    pub fn slots_of(&self, address: &Address) -> Option<Vec<B256>> {
        self.with_slot_index(|slots| slots.get(address).map(|s| s.iter().copied().collect()))
            .map(Option::unwrap_or_default)
    }

    /// Whether [`Self::slots_of`] answers for this view.
    pub fn knows_slots(&self) -> bool {
        self.with_slot_index(|_| ()).is_some()
    }

    /// Whether `address` holds any slot in this view's state, where
    /// [`Self::slots_of`] knows.
    pub fn holds_storage(&self, address: &Address) -> Option<bool> {
        self.with_slot_index(|slots| slots.contains_key(address))
    }

    fn with_slot_index<T>(
        &self,
        f: impl FnOnce(&std::collections::HashMap<Address, std::collections::HashSet<B256>>) -> T,
    ) -> Option<T> {
        if self.inner.backing.get().is_some() {
            return None;
        }
        let index = self.inner.slots.get()?.read();
        (index.at == self.version.last).then(|| f(&index.slots))
    }

    /// Brings the records of the keys hashing to `hashes`
    /// ([`Key::hash64`]) into the CPU cache, so that the reads of them that
    /// follow find them there: a pass over many keys overlaps their cache
    /// misses, where reads one at a time, between other work, each wait for
    /// theirs. It looks every key up in the index and prefetches the record
    /// it points at, with the CPU's prefetch hint, which does not wait for
    /// the line. Answers nothing; a key it cannot
    /// find or read is left to the real read.
    pub fn prefetch(&self, hashes: &[KeyHash]) {
        let inner = &*self.inner;
        let version = &*self.version;
        let mut locs = Vec::new();
        inner.index.primaries(hashes, &mut locs);
        for loc in &locs {
            let offset = u64::from(loc.offset());
            inner.with_segment(version, loc.segment(), |seg| seg.file.prefetch_record(offset));
        }
    }

    /// Calls `f` for every live key with its value, in no particular order.
    pub fn for_each(&self, mut f: impl FnMut(Entry)) -> Result<(), StorageError> {
        let inner = &*self.inner;
        let version = &*self.version;
        let mut result = Ok(());
        let scanned = inner.index.for_each_chunk(|locs| {
            for &head in locs {
                if result.is_err() {
                    return;
                }
                let entry = inner.visible(version, head).and_then(|loc| match loc {
                    Some(loc) => inner.read_record(version, loc, decode_entry).map(Some),
                    None => Ok(None),
                });
                match entry {
                    Ok(Some(entry)) => f(entry),
                    Ok(None) => {}
                    Err(e) => result = Err(e),
                }
            }
        });
        scanned.and(result)
    }
}

impl ReadView {
    /// [`AccountsRead::get_account`] for a caller that hashed the key already:
    /// `hash` is `Key::Account(*address).hash64()`.
    pub fn get_account_hashed(
        &self,
        address: &Address,
        hash: KeyHash,
    ) -> Result<Option<AccountHeader>, StorageError> {
        self.inner.account(&self.version, address, hash)
    }

    /// [`AccountsRead::get_storage`] for a caller that hashed the key already:
    /// `hash` is `Key::Storage(*address, *slot).hash64()`.
    pub fn get_storage_hashed(
        &self,
        address: &Address,
        slot: &B256,
        hash: KeyHash,
    ) -> Result<U256, StorageError> {
        self.inner.storage(&self.version, address, slot, hash)
    }
}

impl ReadView {
    /// Whether reads of keys the database never held go to a backing
    /// ([`crate::Backing`]).
    pub fn has_backing(&self) -> bool {
        self.inner.backing().is_some()
    }

    /// The account at `address` as the database itself holds it, its
    /// backing left out: what the state commitment sums.
    pub fn held_account(&self, address: &Address) -> Result<Option<AccountHeader>, StorageError> {
        self.inner.held_account(&self.version, address, Key::Account(*address).hash64())
    }

    /// A slot as the database itself holds it, as [`Self::held_account`].
    pub fn held_storage(&self, address: &Address, slot: &B256) -> Result<U256, StorageError> {
        let hash = Key::Storage(*address, *slot).hash64();
        self.inner.held_storage(&self.version, address, slot, hash)
    }
}

impl AccountsRead for ReadView {
    type Error = StorageError;

    fn get_account(&self, address: &Address) -> Result<Option<AccountHeader>, StorageError> {
        self.get_account_hashed(address, Key::Account(*address).hash64())
    }

    fn get_storage(&self, address: &Address, slot: &B256) -> Result<U256, StorageError> {
        self.get_storage_hashed(address, slot, Key::Storage(*address, *slot).hash64())
    }

    fn get_code(&self, code_hash: &B256) -> Result<Option<Bytes>, StorageError> {
        self.inner.code(&self.version, code_hash)
    }
}
