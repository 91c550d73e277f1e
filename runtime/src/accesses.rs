//! What a block's transactions touched, as they were kept: each one's reads
//! and its writes with their new values, in block order, with the writes
//! the block derives before and after them ([`BlockAccesses`]). The
//! executor-neutral material of an EVM block-level access list (EIP-7928),
//! which `lanes-evm-adapter` builds from it; any executor can note its reads
//! ([`crate::StateView::note_read`]) and get the same record.
//!
//! Recorded only when the bank is asked to ([`crate::BankConfig::record_accesses`]).

use alloy_primitives::{Address, B256, Bytes, U256};
use lanes_accounts_db::AccountHeader;

use crate::key::StateKey;
use crate::view::Writes;

/// What one transaction (or a block's derived writes) read and wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxAccesses {
    /// Keys it read, as the executor noted them ([`crate::StateView::note_read`]);
    /// a key it also wrote may be among them.
    pub reads: Vec<StateKey>,
    /// Accounts it wrote, with their new headers, in the order written (a
    /// later write to an address wins).
    pub accounts: Vec<(Address, AccountHeader)>,
    /// Slots it wrote, with their new values, in the order written.
    pub slots: Vec<(Address, B256, U256)>,
    /// Code it stored, by hash.
    pub code: Vec<(B256, Bytes)>,
}

impl TxAccesses {
    pub(crate) fn of(writes: &Writes) -> Self {
        Self {
            reads: writes.reads.clone(),
            accounts: writes.accounts.iter().map(|&(_, a, h)| (a, h)).collect(),
            slots: writes.slots.iter().map(|&(_, a, s, v)| (a, s, v)).collect(),
            code: writes.code.clone(),
        }
    }

    /// Each of `hashes`' accesses from `kept`, the runs kept in the order
    /// they were kept (a later one of a transaction wins); a transaction
    /// with none kept touched nothing. An ordered block keeps its runs in
    /// block order, which is walked as it is; a block whose entries ran on
    /// many threads (or that ran a transaction again) is matched by hash.
    pub(crate) fn in_order(kept: Vec<(B256, Writes)>, hashes: &[B256]) -> Vec<TxAccesses> {
        let in_order =
            kept.len() == hashes.len() && kept.iter().zip(hashes).all(|(k, h)| k.0 == *h);
        if in_order {
            return kept.iter().map(|(_, w)| Self::of(w)).collect();
        }
        let mut by_hash: hashbrown::HashMap<B256, Writes, ahash::RandomState> =
            kept.into_iter().collect();
        hashes
            .iter()
            .map(|h| by_hash.remove(h).map_or_else(Self::default, |w| Self::of(&w)))
            .collect()
    }

    /// Adds `other`'s reads and writes after its own.
    pub(crate) fn extend(&mut self, other: TxAccesses) {
        self.reads.extend(other.reads);
        self.accounts.extend(other.accounts);
        self.slots.extend(other.slots);
        self.code.extend(other.code);
    }

    /// Whether `set` allows everything it read and wrote: a prediction
    /// (or declaration) that covered what the transaction did.
    pub fn covered_by(&self, set: &crate::AccessSet) -> bool {
        self.reads.iter().all(|k| set.allows_read(k) || self.wrote(k))
            && self.accounts.iter().all(|(a, _)| set.allows_write(&StateKey::Account(*a)))
            && self.slots.iter().all(|(a, s, _)| set.allows_write(&StateKey::Storage(*a, *s)))
    }

    /// How many keys of `set` it neither read nor wrote: what a prediction
    /// locked beyond what the transaction did (an all-storage key counts
    /// as used where any slot of its address was).
    pub fn unused_in(&self, set: &crate::AccessSet) -> usize {
        set.keys().iter().filter(|k| !self.touched(k)).count()
    }

    fn wrote(&self, key: &StateKey) -> bool {
        match *key {
            StateKey::Account(a) => self.accounts.iter().any(|(b, _)| *b == a),
            StateKey::Storage(a, s) => self.slots.iter().any(|(b, t, _)| *b == a && *t == s),
            StateKey::AllStorage(_) => false,
        }
    }

    fn touched(&self, key: &StateKey) -> bool {
        if let StateKey::AllStorage(a) = *key {
            let read = self.reads.iter().any(|k| matches!(k, StateKey::Storage(b, _) if *b == a));
            return read || self.slots.iter().any(|(b, _, _)| *b == a);
        }
        self.reads.contains(key) || self.wrote(key)
    }

    /// Whether it read or wrote nothing.
    pub fn is_empty(&self) -> bool {
        self.reads.is_empty()
            && self.accounts.is_empty()
            && self.slots.is_empty()
            && self.code.is_empty()
    }
}

/// What a block touched, in block order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockAccesses {
    /// The block's coinbase, whose fees the seal pays.
    pub coinbase: Address,
    /// Before its first transaction: the block's system writes and the
    /// writes it derives then ([`crate::Bank::apply_derived`]: an EVM
    /// block's system calls).
    pub before: TxAccesses,
    /// Each transaction's, in block order (the receipts' order).
    pub txs: Vec<TxAccesses>,
    /// After its transactions: derived writes (rewards, withdrawals, the
    /// EVM's request system calls). The fees the seal pays the coinbase
    /// are not here: each transaction's is in its receipt.
    pub after: TxAccesses,
    /// Fees credited to the coinbase ahead of the seal: (the transaction
    /// they were credited before, by its place in `txs`, the amount).
    pub credits: Vec<(usize, U256)>,
    /// The parent state's value of every account the block wrote, and of
    /// its coinbase: with `parent_slots`, what the first write of each key
    /// is measured against.
    pub parent_accounts: Vec<(Address, AccountHeader)>,
    /// The parent state's value of every slot the block wrote.
    pub parent_slots: Vec<(Address, B256, U256)>,
}

impl BlockAccesses {
    /// Reads from `parent` the value of every key the records write, and
    /// of the coinbase, into `parent_accounts` and `parent_slots`.
    pub(crate) fn read_parent_values(
        &mut self,
        parent: &lanes_accounts_db::ReadView,
    ) -> Result<(), lanes_accounts_db::StorageError> {
        use lanes_accounts_db::AccountsRead;
        let mut addresses: Vec<Address> =
            self.records().flat_map(|r| r.accounts.iter().map(|a| a.0)).collect();
        addresses.push(self.coinbase);
        addresses.sort_unstable();
        addresses.dedup();
        let mut slots: Vec<(Address, B256)> =
            self.records().flat_map(|r| r.slots.iter().map(|s| (s.0, s.1))).collect();
        slots.sort_unstable();
        slots.dedup();
        for address in addresses {
            let header = parent.get_account(&address)?.unwrap_or_default();
            self.parent_accounts.push((address, header));
        }
        for (address, slot) in slots {
            let value = parent.get_storage(&address, &slot)?;
            self.parent_slots.push((address, slot, value));
        }
        Ok(())
    }

    /// Every record in block order: before, each transaction's, after.
    pub fn records(&self) -> impl Iterator<Item = &TxAccesses> {
        std::iter::once(&self.before).chain(&self.txs).chain(std::iter::once(&self.after))
    }
}
