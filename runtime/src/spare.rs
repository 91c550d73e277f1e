//! Spare lists of an ordered block's runs on many workers: the read logs,
//! debits and versions' keys a run fills, given back by the thread that prepares the
//! committed transaction and taken by that thread's next run, so a run's
//! lists are memory already grown rather than a fresh allocation that
//! another thread frees ([`crate::ordered`]'s engine).
//!
//! Each thread keeps its own lists, up to [`SPARES_KEPT`] of each kind and
//! none that grew past [`SPARE_CAPACITY`] entries (a run that read many
//! keys gives its memory back to the allocator).

use std::cell::RefCell;

use alloy_primitives::{Address, B256, U256};
use lanes_accounts_db::{AccountHeader, KeyHash};

use crate::key::StateKey;
use crate::mv::Origin;

/// An account a run read: (hash, address, header as read, where from).
pub(crate) type AccountRead = (KeyHash, Address, AccountHeader, Origin);
/// A slot a run read: (hash, address, slot, value as read, where from).
pub(crate) type SlotRead = (KeyHash, Address, B256, U256, Origin);
/// An account a run only debited, with the balance that covers it.
pub(crate) type Debit = (Address, U256);

/// A key a run's versions are at.
pub(crate) type Placed = (KeyHash, StateKey);

/// Lists of each kind a thread keeps.
const SPARES_KEPT: usize = 2048;

/// The most entries a kept list may hold room for.
const SPARE_CAPACITY: usize = 32;

/// A thread's emptied lists of one kind.
struct Spares<T>(RefCell<Vec<Vec<T>>>);

impl<T> Spares<T> {
    const fn new() -> Self {
        Self(RefCell::new(Vec::new()))
    }

    fn take(&self) -> Vec<T> {
        self.0.borrow_mut().pop().unwrap_or_default()
    }

    fn give(&self, mut list: Vec<T>) {
        if list.capacity() == 0 || list.capacity() > SPARE_CAPACITY {
            return;
        }
        list.clear();
        let mut spares = self.0.borrow_mut();
        if spares.len() < SPARES_KEPT {
            spares.push(list);
        }
    }
}

thread_local! {
    static ACCOUNTS: Spares<AccountRead> = const { Spares::new() };
    static SLOTS: Spares<SlotRead> = const { Spares::new() };
    static DEBITS: Spares<Debit> = const { Spares::new() };
    static PLACED: Spares<Placed> = const { Spares::new() };
}

/// Empty lists for a run's reads: (accounts, slots).
pub(crate) fn reads() -> (Vec<AccountRead>, Vec<SlotRead>) {
    (ACCOUNTS.with(Spares::take), SLOTS.with(Spares::take))
}

/// An empty list for a run's debits.
pub(crate) fn debits() -> Vec<Debit> {
    DEBITS.with(Spares::take)
}

/// An empty list for the keys of a run's versions.
pub(crate) fn placed() -> Vec<Placed> {
    PLACED.with(Spares::take)
}

/// Gives a run's lists back to this thread's spares.
pub(crate) fn give(accounts: Vec<AccountRead>, slots: Vec<SlotRead>, debits: Vec<Debit>) {
    ACCOUNTS.with(|s| s.give(accounts));
    SLOTS.with(|s| s.give(slots));
    DEBITS.with(|s| s.give(debits));
}

/// Gives the keys of a committed transaction's versions back to this
/// thread's spares.
pub(crate) fn give_placed(placed: Vec<Placed>) {
    PLACED.with(|s| s.give(placed));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_a_list_given_back_is_taken_again_empty_and_a_grown_one_is_not_kept() {
        let mut debits = debits();
        debits.push((Address::repeat_byte(1), U256::from(1)));
        let at = debits.as_ptr();
        give(Vec::new(), Vec::new(), debits);
        let again = super::debits();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), at, "the same memory comes back");
        let grown: Vec<Debit> = Vec::with_capacity(SPARE_CAPACITY + 1);
        give(Vec::new(), Vec::new(), grown);
        assert_eq!(super::debits().capacity(), 0, "a list past the capacity is not kept");
    }
}
