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
use lanes_runtime::{BlockAccesses, Receipt, StateKey, TxAccesses, Versions};

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
/// (`accesses`; its `receipts` for the fees). Sorted as the EIP orders it:
/// addresses, then slots, then indices.
pub fn block_access_list(accesses: &BlockAccesses, receipts: &[Receipt]) -> BlockAccessList {
    let mut walk = Walk {
        code: accesses.records().flat_map(|r| r.code.iter().map(|(h, c)| (*h, c))).collect(),
        coinbase: accesses.coinbase,
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

/// The writes `bal` declares, by index, as the runtime reads them
/// ([`Versions`]): each account's header after every index that changes
/// its balance, nonce or code (the fields it leaves alone as `parent`
/// holds them, or as the last index before that changed them), and each
/// slot's value after every index that writes it. What a transaction of the
/// block reads is then what the list says the earlier ones left
/// ([`lanes_runtime::OrderedSets::Versioned`]).
pub fn bal_versions<R: lanes_accounts_db::AccountsRead>(
    bal: &BlockAccessList,
    parent: &R,
) -> Result<Versions, R::Error> {
    let mut versions = Versions::default();
    for account in bal {
        let address = account.address;
        for slot in &account.storage_changes {
            let key = B256::from(slot.slot);
            for change in &slot.changes {
                versions.set_slot(address, key, change.block_access_index.0, change.new_value);
            }
        }
        let mut indices: Vec<u64> = account
            .balance_changes
            .iter()
            .map(|c| c.block_access_index.0)
            .chain(account.nonce_changes.iter().map(|c| c.block_access_index.0))
            .chain(account.code_changes.iter().map(|c| c.block_access_index.0))
            .collect();
        if indices.is_empty() {
            continue;
        }
        indices.sort_unstable();
        indices.dedup();
        let mut header = parent.get_account(&address)?.unwrap_or_default();
        if !has_code(&header.code_hash) {
            header.code_hash = alloy_primitives::KECCAK256_EMPTY;
        }
        for index in indices {
            let at = |i: &BlockAccessIndex| i.0 == index;
            if let Some(c) = account.balance_changes.iter().find(|c| at(&c.block_access_index)) {
                header.balance = c.post_balance;
            }
            if let Some(c) = account.nonce_changes.iter().find(|c| at(&c.block_access_index)) {
                header.nonce = c.new_nonce;
            }
            if let Some(c) = account.code_changes.iter().find(|c| at(&c.block_access_index)) {
                header.code_hash = match c.new_code.is_empty() {
                    true => alloy_primitives::KECCAK256_EMPTY,
                    false => keccak256(&c.new_code),
                };
                if !c.new_code.is_empty() {
                    versions.add_code(header.code_hash, c.new_code.clone());
                }
            }
            // An account left empty is no account (EIP-161).
            let empty = header.balance.is_zero()
                && header.nonce == 0
                && header.code_hash == alloy_primitives::KECCAK256_EMPTY;
            versions.set_account(
                address,
                index,
                if empty { AccountHeader::default() } else { header },
            );
        }
    }
    Ok(versions)
}

/// Where two access lists first differ: the account, the field and the
/// index (or slot) whose value differs, or `None` when they are equal.
pub fn first_difference(ours: &BlockAccessList, theirs: &BlockAccessList) -> Option<String> {
    let mut a = ours.iter().peekable();
    let mut b = theirs.iter().peekable();
    loop {
        match (a.peek(), b.peek()) {
            (None, None) => return None,
            (Some(x), None) => {
                return Some(format!("account {}: touched, but not in the list", x.address));
            }
            (None, Some(y)) => {
                return Some(format!("account {}: in the list, but not touched", y.address));
            }
            (Some(x), Some(y)) if x.address < y.address => {
                return Some(format!("account {}: touched, but not in the list", x.address));
            }
            (Some(x), Some(y)) if x.address > y.address => {
                return Some(format!("account {}: in the list, but not touched", y.address));
            }
            (Some(x), Some(y)) => {
                if let Some(field) = account_difference(x, y) {
                    return Some(format!("account {}: {field}", x.address));
                }
                a.next();
                b.next();
            }
        }
    }
}

/// The first field of one account two lists give differently.
fn account_difference(
    ours: &alloy_eips::eip7928::AccountChanges,
    theirs: &alloy_eips::eip7928::AccountChanges,
) -> Option<String> {
    fn changes<T: PartialEq + std::fmt::Display>(
        field: &str,
        ours: &[(u64, T)],
        theirs: &[(u64, T)],
    ) -> Option<String> {
        for i in 0..ours.len().max(theirs.len()) {
            let ours_only = |at: &u64, v: &T| {
                format!("{field} at index {at}: execution gives {v}, the list has none")
            };
            return Some(match (ours.get(i), theirs.get(i)) {
                (Some(x), Some(y)) if x == y => continue,
                (Some((at, v)), Some((their_at, w))) if at == their_at => {
                    format!("{field} at index {at}: execution gives {v}, the list says {w}")
                }
                (Some((at, v)), Some((their_at, _))) if at < their_at => ours_only(at, v),
                (Some((at, v)), None) => ours_only(at, v),
                (_, Some((at, w))) => {
                    format!("{field} at index {at}: the list says {w}, execution gives none")
                }
                (None, None) => return None,
            });
        }
        None
    }
    let idx = |i: BlockAccessIndex| i.0;
    let slots = |a: &alloy_eips::eip7928::AccountChanges| -> Vec<(U256, Vec<(u64, U256)>)> {
        let changes = a.storage_changes.iter().map(|s| {
            (s.slot, s.changes.iter().map(|c| (idx(c.block_access_index), c.new_value)).collect())
        });
        changes.collect()
    };
    let (our_slots, their_slots) = (slots(ours), slots(theirs));
    for i in 0..our_slots.len().max(their_slots.len()) {
        match (our_slots.get(i), their_slots.get(i)) {
            (Some((s, x)), Some((t, y))) if s == t => {
                if let Some(d) = changes(&format!("storage slot {s:#x}"), x, y) {
                    return Some(d);
                }
            }
            (Some((s, _)), other) if other.is_none_or(|(t, _)| s < t) => {
                return Some(format!(
                    "storage slot {s:#x}: written by execution, not in the list's changes"
                ));
            }
            (_, Some((t, _))) => {
                return Some(format!("storage slot {t:#x}: changed in the list, not by execution"));
            }
            _ => {}
        }
    }
    if ours.storage_reads != theirs.storage_reads {
        let slot = ours
            .storage_reads
            .iter()
            .zip(&theirs.storage_reads)
            .find(|(x, y)| x != y)
            .map(|(x, _)| *x)
            .or_else(|| {
                let n = ours.storage_reads.len().min(theirs.storage_reads.len());
                ours.storage_reads.get(n).or(theirs.storage_reads.get(n)).copied()
            });
        return Some(format!("storage reads differ first at slot {:#x}", slot.unwrap_or_default()));
    }
    let balances = |a: &alloy_eips::eip7928::AccountChanges| -> Vec<(u64, U256)> {
        a.balance_changes.iter().map(|c| (idx(c.block_access_index), c.post_balance)).collect()
    };
    let nonces = |a: &alloy_eips::eip7928::AccountChanges| -> Vec<(u64, u64)> {
        a.nonce_changes.iter().map(|c| (idx(c.block_access_index), c.new_nonce)).collect()
    };
    let codes = |a: &alloy_eips::eip7928::AccountChanges| -> Vec<(u64, B256)> {
        a.code_changes.iter().map(|c| (idx(c.block_access_index), keccak256(&c.new_code))).collect()
    };
    changes("balance", &balances(ours), &balances(theirs))
        .or_else(|| changes("nonce", &nonces(ours), &nonces(theirs)))
        .or_else(|| changes("code (hash)", &codes(ours), &codes(theirs)))
}
