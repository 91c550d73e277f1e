//! [`Ran`]: a finished run of an ordered block's transaction on the
//! multi-version memory — what it read (each value with where it came
//! from), what it wrote, and which accounts it only debited or credited —
//! and what the engine makes of it: its versions ([`Ran::patch`]), its set
//! ([`Ran::set`]).

use alloy_primitives::Address;
use lanes_accounts_db::AccountHeader;

use crate::access::AccessSet;
use crate::error::TxError;
use crate::key::StateKey;
use crate::mv::{Origin, PAIRWISE, Patch};
use crate::outcome::Outcome;
use crate::spare::{AccountRead, Debit, SlotRead};
use crate::view::{ExactChain, Writes, read_write_set};

/// A finished run of a transaction.
#[derive(Debug)]
pub(super) struct Ran {
    pub(super) incarnation: u32,
    pub(super) result: Result<Outcome, TxError>,
    /// The key it touched outside its recorded set ([`Source::Recorded`]).
    pub(super) violation: Option<StateKey>,
    /// What it read: (hash, address, header, where from).
    pub(super) accounts: Vec<AccountRead>,
    /// (hash, address, slot, value, where from).
    pub(super) slots: Vec<SlotRead>,
    /// The state's headers of the accounts it was shown.
    pub(super) shown: [Option<(Address, AccountHeader)>; 2],
    pub(super) writes: Writes,
    /// Accounts it only credited ([`StateView::note_credit`]).
    pub(super) credits: Vec<Address>,
    /// Accounts it only debited, with the balance that covers it.
    pub(super) debits: Vec<Debit>,
}

impl Ran {
    /// The header it read of `address` first.
    pub(super) fn read(&self, address: &Address) -> Option<AccountHeader> {
        self.accounts.iter().find(|(_, a, ..)| a == address).map(|r| r.2)
    }

    /// Whether its writes to `address` are a delta.
    pub(super) fn lazy(&self, address: &Address) -> bool {
        self.credits.contains(address) || self.debits.iter().any(|(a, _)| a == address)
    }

    /// What it read and wrote, as a set (`None`: nothing, or more than
    /// `limit` keys).
    pub(super) fn set(&self, limit: usize) -> Option<AccessSet> {
        let accounts = self.accounts.iter().map(|r| (StateKey::Account(r.1), r.0));
        let slots = self.slots.iter().map(|r| (StateKey::Storage(r.1, r.2), r.0));
        let set = read_write_set(ExactChain(accounts, slots), &self.writes, limit).ok()?;
        (!set.is_empty()).then_some(set)
    }

    /// Whether it debited or credited any account.
    pub(super) fn lazy_any(&self) -> bool {
        !self.credits.is_empty() || !self.debits.is_empty()
    }

    /// The state's header of `address`, where its run read it there (or was
    /// shown it): a commit's fold starts from it, not a second read.
    pub(super) fn state_of(&self, address: &Address) -> Option<AccountHeader> {
        if let Some((_, header)) = self.shown.iter().flatten().find(|(a, _)| a == address) {
            return Some(*header);
        }
        let read = self.accounts.iter().find(|r| r.1 == *address)?;
        (read.3 == Origin::Storage).then_some(read.2)
    }

    /// Its write of `header` to `address` as a version: a debit or credit
    /// of the balance it read where it only debited or credited it (the
    /// read looked up only then: a run may have read thousands of accounts).
    pub(super) fn patch(&self, address: &Address, header: AccountHeader) -> Patch {
        let read = || self.read(address).unwrap_or_default();
        if self.debits.iter().any(|(a, _)| a == address) {
            let take = read().balance.saturating_sub(header.balance);
            Patch::Debit { take, nonce: header.nonce, code_hash: header.code_hash }
        } else if self.credits.contains(address) {
            let add = header.balance.saturating_sub(read().balance);
            Patch::Credit { add, code_hash: header.code_hash }
        } else {
            Patch::Account(header)
        }
    }
}

/// Which entries of a run's list of writes are the last of their key (a
/// later write to a key wins). A short list is checked pair by pair; a
/// long one (a call that wrote hundreds of accounts, as the 2016 attacks'
/// did) is marked once from its end through a set of the keys seen, where
/// pair by pair it took time in the square of its length.
pub(super) enum LastWrites {
    Pairwise,
    Marked(Vec<bool>),
}

impl LastWrites {
    /// The last writes of `list`, whose entries' keys `key` gives.
    pub(super) fn of<T, K: Eq + std::hash::Hash>(list: &[T], key: impl Fn(&T) -> K) -> Self {
        if list.len() <= PAIRWISE {
            return Self::Pairwise;
        }
        let mut seen: hashbrown::HashSet<K, ahash::RandomState> =
            hashbrown::HashSet::with_capacity_and_hasher(list.len(), Default::default());
        let mut last = vec![false; list.len()];
        for (k, entry) in list.iter().enumerate().rev() {
            last[k] = seen.insert(key(entry));
        }
        Self::Marked(last)
    }

    /// Whether `list[k]` is the last write of its key (`list` and `key` as
    /// given to [`Self::of`]).
    pub(super) fn is_last<T, K: Eq>(&self, list: &[T], k: usize, key: impl Fn(&T) -> K) -> bool {
        match self {
            Self::Marked(last) => last[k],
            Self::Pairwise => {
                let own = key(&list[k]);
                !list[k + 1..].iter().any(|entry| key(entry) == own)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LastWrites;

    /// Whether `list[k]` is the last of its key, by definition.
    fn naive(list: &[(u8, u32)], k: usize) -> bool {
        !list[k + 1..].iter().any(|e| e.0 == list[k].0)
    }

    #[test]
    fn test_the_last_write_of_each_key_is_found_in_short_and_long_lists() {
        // Keys repeat every 7 entries: short lists checked pair by pair,
        // long ones marked through a set, the same answer either way.
        for len in [0usize, 1, 5, 16, 17, 40, 300] {
            let list: Vec<(u8, u32)> = (0..len).map(|i| ((i * 5 % 7) as u8, i as u32)).collect();
            let key = |e: &(u8, u32)| e.0;
            let last = LastWrites::of(&list, key);
            assert_eq!(matches!(last, LastWrites::Marked(_)), len > crate::mv::PAIRWISE);
            for k in 0..len {
                assert_eq!(last.is_last(&list, k, key), naive(&list, k), "entry {k} of {len}");
            }
        }
    }
}
