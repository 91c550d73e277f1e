//! [`Ran`]: a finished run of an ordered block's transaction on the
//! multi-version memory — what it read (each value with where it came
//! from), what it wrote, and which accounts it only debited or credited —
//! and what the engine makes of it: its versions ([`Ran::patch`]), its set
//! ([`Ran::set`]).

use alloy_primitives::{Address, B256, U256};
use lanes_accounts_db::{AccountHeader, KeyHash};

use crate::access::AccessSet;
use crate::error::TxError;
use crate::key::StateKey;
use crate::mv::{Origin, Patch};
use crate::outcome::Outcome;
use crate::view::{ExactChain, Writes, read_write_set};

/// A finished run of a transaction.
#[derive(Debug)]
pub(super) struct Ran {
    pub(super) incarnation: u32,
    pub(super) result: Result<Outcome, TxError>,
    /// The key it touched outside its recorded set ([`Source::Recorded`]).
    pub(super) violation: Option<StateKey>,
    /// What it read: (hash, address, header, where from).
    pub(super) accounts: Vec<(KeyHash, Address, AccountHeader, Origin)>,
    /// (hash, address, slot, value, where from).
    pub(super) slots: Vec<(KeyHash, Address, B256, U256, Origin)>,
    /// The state's headers of the accounts it was shown.
    pub(super) shown: [Option<(Address, AccountHeader)>; 2],
    pub(super) writes: Writes,
    /// Accounts it only credited ([`StateView::note_credit`]).
    pub(super) credits: Vec<Address>,
    /// Accounts it only debited, with the balance that covers it.
    pub(super) debits: Vec<(Address, U256)>,
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
    /// of the balance it read where it only debited or credited it.
    pub(super) fn patch(&self, address: &Address, header: AccountHeader) -> Patch {
        let read = self.read(address).unwrap_or_default();
        if self.debits.iter().any(|(a, _)| a == address) {
            let take = read.balance.saturating_sub(header.balance);
            Patch::Debit { take, nonce: header.nonce, code_hash: header.code_hash }
        } else if self.credits.contains(address) {
            let add = header.balance.saturating_sub(read.balance);
            Patch::Credit { add, code_hash: header.code_hash }
        } else {
            Patch::Account(header)
        }
    }
}
