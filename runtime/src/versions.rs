//! [`Versions`]: the values a block's transactions write, declared ahead
//! by index (an EVM block's access list, EIP-7928), which a
//! [`StateView`](crate::StateView) reads as of its transaction's index
//! ([`crate::OrderedSets::Versioned`]).

use std::collections::HashMap;

use alloy_primitives::{Address, B256, Bytes, U256};
use lanes_accounts_db::AccountHeader;

use crate::key::StateKey;
use crate::mv::Patch;

/// Values a block's transactions write, by the index that writes them
/// (0: before the first transaction, `i + 1`: transaction `i`), as a
/// block's declaration gives them: what a transaction reads of a key is
/// the value of the latest index before its own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Versions {
    accounts: HashMap<Address, Vec<(u64, AccountHeader)>, ahash::RandomState>,
    slots: HashMap<(Address, B256), Vec<(u64, U256)>, ahash::RandomState>,
    code: HashMap<B256, Bytes, ahash::RandomState>,
}

/// The value of the latest write before index `at` (writes in index order).
fn before<T: Copy>(writes: &[(u64, T)], at: u64) -> Option<T> {
    let i = writes.partition_point(|(index, _)| *index < at);
    i.checked_sub(1).map(|i| writes[i].1)
}

fn insert<T>(writes: &mut Vec<(u64, T)>, index: u64, value: T) {
    let i = writes.partition_point(|(at, _)| *at < index);
    match writes.get_mut(i) {
        Some(w) if w.0 == index => w.1 = value,
        _ => writes.insert(i, (index, value)),
    }
}

impl Versions {
    /// Declares that index `index` leaves `address` with `header` (the
    /// empty header: no account).
    pub fn set_account(&mut self, address: Address, index: u64, header: AccountHeader) {
        insert(self.accounts.entry(address).or_default(), index, header);
    }

    /// Declares that index `index` leaves `slot` of `address` at `value`.
    pub fn set_slot(&mut self, address: Address, slot: B256, index: u64, value: U256) {
        insert(self.slots.entry((address, slot)).or_default(), index, value);
    }

    /// Code an index stores, by its hash.
    pub fn add_code(&mut self, hash: B256, code: Bytes) {
        self.code.insert(hash, code);
    }

    /// `address`'s header as of before index `at`, if an earlier index
    /// writes it.
    pub fn account_at(&self, address: &Address, at: u64) -> Option<AccountHeader> {
        before(self.accounts.get(address)?, at)
    }

    /// A slot's value as of before index `at`, if an earlier index writes it.
    pub fn slot_at(&self, address: &Address, slot: &B256, at: u64) -> Option<U256> {
        before(self.slots.get(&(*address, *slot))?, at)
    }

    /// Code the declaration stores.
    pub fn code(&self, hash: &B256) -> Option<&Bytes> {
        self.code.get(hash)
    }

    /// How many accounts and slots it writes.
    pub fn len(&self) -> usize {
        self.accounts.len() + self.slots.len()
    }

    /// Calls `f` with every declared write: the key, the index that writes
    /// it, and the value as a version.
    pub(crate) fn for_each(&self, mut f: impl FnMut(StateKey, u64, Patch)) {
        for (address, writes) in &self.accounts {
            for (index, header) in writes {
                f(StateKey::Account(*address), *index, Patch::Account(*header));
            }
        }
        for ((address, slot), writes) in &self.slots {
            for (index, value) in writes {
                f(StateKey::Storage(*address, *slot), *index, Patch::Slot(*value));
            }
        }
    }

    /// Whether it writes nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
