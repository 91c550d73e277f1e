//! Block-level access lists (EIP-7928) from what lanes' execution touched
//! ([`block_access_list`]).
//!
//! The runtime records, per kept transaction, the keys it read and its
//! writes with their new values, and the parent state's value of every key
//! written ([`BlockAccesses`]); this module walks them in block order and
//! writes the EIP's form: every
//! address accessed, its storage slots changed (post-value per index) or
//! only read, and its balance, nonce and code changes per index — index 0
//! for what the block writes before its transactions, `i + 1` for
//! transaction `i`, `n + 1` after them. A write that leaves a value as it
//! was before its index is a read.
//!
//! The coinbase: lanes pays each transaction's priority fee at the seal (or
//! before a transaction that reads the coinbase), where Ethereum pays it as
//! the transaction ends; its balance here is Ethereum's, lanes' balance
//! plus the fees not yet credited. Every transaction accesses it, as revm
//! loads it to pay the fee.

use std::collections::{BTreeMap, HashMap};

use alloy_eips::eip7928::{
    AccountChanges, BalanceChange, BlockAccessIndex, BlockAccessList, CodeChange, NonceChange,
    SlotChanges, StorageChange,
};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use lanes_accounts_db::AccountHeader;
use lanes_runtime::{BlockAccesses, Receipt, StateKey, TxAccesses};

use crate::db::has_code;

/// What one address collects: slots (an empty list: only read), and the
/// balance, nonce and code changes, each in index order.
#[derive(Default)]
struct Collected {
    slots: BTreeMap<B256, Vec<(u64, U256)>>,
    balance: Vec<(u64, U256)>,
    nonce: Vec<(u64, u64)>,
    code: Vec<(u64, Bytes)>,
}

/// Pushes `(index, value)`, replacing a change of the same index.
fn change<T>(changes: &mut Vec<(u64, T)>, index: u64, value: T) {
    match changes.last_mut() {
        Some(last) if last.0 == index => last.1 = value,
        _ => changes.push((index, value)),
    }
}

/// The walk's state: values as of the index being walked (at first the
/// parent's).
struct Walk<'a> {
    /// Code stored by the block, by hash.
    code: HashMap<B256, &'a Bytes>,
    coinbase: Address,
    accounts: HashMap<Address, AccountHeader>,
    slots: HashMap<(Address, B256), U256>,
    /// Fees paid by transactions so far and not yet credited in lanes'
    /// state: the coinbase's balance in Ethereum's sense is lanes' plus these.
    owed: U256,
    out: BTreeMap<Address, Collected>,
}

impl Walk<'_> {
    fn account(&self, address: Address) -> AccountHeader {
        self.accounts.get(&address).copied().unwrap_or_default()
    }

    fn slot(&self, address: Address, slot: B256) -> U256 {
        self.slots.get(&(address, slot)).copied().unwrap_or_default()
    }

    /// The coinbase's balance in Ethereum's sense.
    fn coinbase_balance(&self) -> U256 {
        self.account(self.coinbase).balance.saturating_add(self.owed)
    }

    fn code_of(&self, hash: &B256) -> Bytes {
        match has_code(hash) {
            true => self.code.get(hash).map(|c| (*c).clone()).unwrap_or_default(),
            false => Bytes::new(),
        }
    }

    /// Walks one index's record; `fee` is the transaction's priority fee
    /// (`None` for the block's own writes before and after them).
    fn record(&mut self, index: u64, record: &TxAccesses, fee: Option<U256>) {
        let coinbase_before = self.coinbase_balance();
        for key in &record.reads {
            match *key {
                StateKey::Account(a) => {
                    self.out.entry(a).or_default();
                }
                StateKey::Storage(a, s) => {
                    self.out.entry(a).or_default().slots.entry(s).or_default();
                }
                StateKey::AllStorage(_) => {}
            }
        }
        // The last write of each key wins.
        let mut accounts: Vec<(Address, AccountHeader)> = Vec::new();
        for &(a, h) in &record.accounts {
            match accounts.iter_mut().find(|(b, _)| *b == a) {
                Some(slot) => slot.1 = h,
                None => accounts.push((a, h)),
            }
        }
        for (address, new) in accounts {
            let old = self.account(address);
            let code_hash = |h: &AccountHeader| match has_code(&h.code_hash) {
                true => h.code_hash,
                false => B256::ZERO,
            };
            let new_code =
                (code_hash(&old) != code_hash(&new)).then(|| self.code_of(&new.code_hash));
            let out = self.out.entry(address).or_default();
            if address != self.coinbase && old.balance != new.balance {
                change(&mut out.balance, index, new.balance);
            }
            if old.nonce != new.nonce {
                change(&mut out.nonce, index, new.nonce);
            }
            if let Some(code) = new_code {
                change(&mut out.code, index, code);
            }
            self.accounts.insert(address, new);
        }
        let mut slots: Vec<(Address, B256, U256)> = Vec::new();
        for &(a, s, v) in &record.slots {
            match slots.iter_mut().find(|(b, t, _)| *b == a && *t == s) {
                Some(slot) => slot.2 = v,
                None => slots.push((a, s, v)),
            }
        }
        for (address, slot, new) in slots {
            let old = self.slot(address, slot);
            let changes = self.out.entry(address).or_default().slots.entry(slot).or_default();
            if old != new {
                change(changes, index, new);
            }
            self.slots.insert((address, slot), new);
        }
        if let Some(fee) = fee {
            self.owed = self.owed.saturating_add(fee);
            self.out.entry(self.coinbase).or_default();
        }
        let coinbase_after = self.coinbase_balance();
        if coinbase_after != coinbase_before {
            let out = self.out.entry(self.coinbase).or_default();
            change(&mut out.balance, index, coinbase_after);
        }
    }

    /// Fees credited to the coinbase in lanes' state: Ethereum's balance
    /// does not move.
    fn credit(&mut self, amount: U256) {
        let mut coinbase = self.account(self.coinbase);
        coinbase.balance = coinbase.balance.saturating_add(amount);
        self.accounts.insert(self.coinbase, coinbase);
        self.owed = self.owed.saturating_sub(amount);
    }
}

/// The EIP-7928 access list of a block whose accesses lanes recorded
/// (`accesses`; its `receipts` for the fees), with `coinbase` as its fee
/// recipient. Sorted as the EIP orders it: addresses, then slots, then
/// indices.
pub fn block_access_list(
    accesses: &BlockAccesses,
    receipts: &[Receipt],
    coinbase: Address,
) -> BlockAccessList {
    let mut walk = Walk {
        code: accesses.records().flat_map(|r| r.code.iter().map(|(h, c)| (*h, c))).collect(),
        coinbase,
        accounts: accesses.parent_accounts.iter().copied().collect(),
        slots: accesses.parent_slots.iter().map(|&(a, s, v)| ((a, s), v)).collect(),
        owed: U256::ZERO,
        out: BTreeMap::new(),
    };
    walk.record(0, &accesses.before, None);
    let mut credits = accesses.credits.iter().peekable();
    for (i, (record, receipt)) in accesses.txs.iter().zip(receipts).enumerate() {
        while let Some((_, amount)) = credits.next_if(|(at, _)| *at == i) {
            walk.credit(*amount);
        }
        walk.record(i as u64 + 1, record, Some(receipt.outcome.fee));
    }
    walk.record(accesses.txs.len() as u64 + 1, &accesses.after, None);
    walk.out
        .into_iter()
        .map(|(address, c)| {
            let (reads, writes): (Vec<_>, Vec<_>) =
                c.slots.into_iter().partition(|(_, changes)| changes.is_empty());
            let index = BlockAccessIndex::new;
            AccountChanges {
                address,
                storage_changes: writes
                    .into_iter()
                    .map(|(slot, changes)| {
                        let changes =
                            changes.into_iter().map(|(i, v)| StorageChange::new(index(i), v));
                        SlotChanges::new(slot.into(), changes.collect())
                    })
                    .collect(),
                storage_reads: reads.into_iter().map(|(slot, _)| slot.into()).collect(),
                balance_changes: c
                    .balance
                    .into_iter()
                    .map(|(i, v)| BalanceChange::new(index(i), v))
                    .collect(),
                nonce_changes: c
                    .nonce
                    .into_iter()
                    .map(|(i, v)| NonceChange::new(index(i), v))
                    .collect(),
                code_changes: c
                    .code
                    .into_iter()
                    .map(|(i, v)| CodeChange::new(index(i), v))
                    .collect(),
            }
        })
        .collect()
}

/// The hash the header commits to (`block_access_list_hash`):
/// keccak256 of the list's RLP.
pub fn block_access_list_hash(bal: &BlockAccessList) -> B256 {
    keccak256(alloy_rlp::encode(bal))
}
