//! Spare lists of an ordered block's runs on many workers: the read logs,
//! debits and versions' keys a run fills, given back by the thread that
//! prepares the committed transaction and taken by that thread's next run,
//! so a run's lists are memory already grown rather than a fresh allocation
//! that another thread frees ([`crate::ordered`]'s engine).
//!
//! Each thread keeps its own lists of each kind, up to [`SPARE_BYTES`] of
//! their room and none with room for more than [`SPARE_CAPACITY`] entries
//! (a run that read many keys gives its memory back to the allocator).

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

/// The most room, in bytes, a thread keeps in spare lists of one kind:
/// about a thousand transfers' lists, a block's share of a worker on two.
const SPARE_BYTES: usize = 512 * 1024;

/// The most entries a kept list may hold room for.
const SPARE_CAPACITY: usize = 32;

/// A thread's emptied lists of one kind, and the bytes of room they hold.
struct Spares<T>(RefCell<(Vec<Vec<T>>, usize)>);

impl<T> Spares<T> {
    const fn new() -> Self {
        Self(RefCell::new((Vec::new(), 0)))
    }

    fn take(&self) -> Vec<T> {
        let mut spares = self.0.borrow_mut();
        let list = spares.0.pop().unwrap_or_default();
        spares.1 -= list.capacity() * size_of::<T>();
        list
    }

    fn give(&self, mut list: Vec<T>) {
        let bytes = list.capacity() * size_of::<T>();
        if list.capacity() == 0 || list.capacity() > SPARE_CAPACITY {
            return;
        }
        let mut spares = self.0.borrow_mut();
        if spares.1 + bytes <= SPARE_BYTES {
            list.clear();
            spares.0.push(list);
            spares.1 += bytes;
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

    #[test]
    fn test_a_thread_keeps_no_more_than_its_budget_of_spare_room() {
        let room = SPARE_CAPACITY * size_of::<Debit>();
        let fits = SPARE_BYTES / room;
        for _ in 0..fits + 10 {
            give(Vec::new(), Vec::new(), Vec::with_capacity(SPARE_CAPACITY));
        }
        let kept = DEBITS.with(|s| {
            let spares = s.0.borrow();
            assert!(spares.1 <= SPARE_BYTES, "{} bytes kept", spares.1);
            spares.0.len()
        });
        assert!(kept >= fits && kept < fits + 10, "{kept} lists kept, {fits} fit");
        let taken: Vec<Vec<Debit>> = (0..kept).map(|_| super::debits()).collect();
        assert!(taken.iter().all(|l| l.capacity() >= SPARE_CAPACITY));
        assert_eq!(DEBITS.with(|s| s.0.borrow().1), 0, "every byte taken back out");
    }
}
