//! An ordered block whose writes are declared ahead, value by value, per
//! transaction ([`Versions`]: an EVM block's access list, EIP-7928): each
//! transaction reads what every earlier one wrote from the declaration, so
//! none waits for another; all run side by side, and their writes are
//! applied in block order ([`OrderedSets::Versioned`]).
//!
//! ```text
//!   declared writes by index ──> tx i reads: its own writes, then the
//!                                declared values before index i + 1, then
//!                                the parent state (and index 0's writes)
//!   all transactions on N threads, no order between them
//!        │
//!        v
//!   in block order: each one's writes applied, recorded as entries of
//!   neighbours whose touched sets do not conflict
//! ```
//!
//! Whether each transaction wrote exactly what the declaration says, and
//! read nothing it does not list, is the declaration's owner's to check
//! afterwards from the block's accesses ([`crate::BlockAccesses`]): an EVM
//! block's list, rebuilt from what ran, must equal the one it came with.

use std::collections::HashMap;
use std::time::Instant;

use alloy_primitives::{Address, B256, Bytes, U256};
use lanes_accounts_db::AccountHeader;

use super::{OrderedConfig, OrderedError, OrderedReport, Run, RunKind, TxReport, record_in_order};
use crate::admission::AccessSource;
use crate::bank::Bank;
use crate::executor::{Executor, Transaction, TxError};
use crate::threads::parallel_map;
use crate::view::{Access, StateView};

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

    /// Whether it writes nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Runs `txs` with `versions` declaring their writes: every transaction at
/// once on up to `config.threads` threads, then their writes in block order.
pub(super) fn run<E: Executor>(
    bank: &Bank,
    executor: &E,
    txs: &[E::Tx],
    versions: &Versions,
    config: &OrderedConfig,
) -> Result<OrderedReport, OrderedError> {
    let start = Instant::now();
    let base = bank.fork_parent();
    let threads = config.threads.clamp(1, txs.len().max(1));
    let ran = parallel_map(
        txs.len(),
        threads,
        || executor.worker(bank.env()),
        |worker, i| {
            let started = Instant::now();
            let view = StateView::versioned(base.state(), Access::Record, versions, i as u64 + 1);
            let (result, view) = executor.execute(worker, &txs[i], view);
            let set = view.touched_set(config.max_keys).ok().filter(|s| !s.is_empty());
            (result, view.writes, set, started.elapsed())
        },
    );
    let serial = Instant::now();
    let coinbase = bank.env().coinbase;
    let limit = bank.env().gas_limit;
    let (mut used, mut credited) = (0u64, 0usize);
    let mut runs = Vec::with_capacity(txs.len());
    let mut reports = Vec::with_capacity(txs.len());
    for (index, (result, writes, set, time)) in ran.into_iter().enumerate() {
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(TxError::State(e)) => {
                return Err(OrderedError::Bank(crate::bank::BankError::State(e)));
            }
            Err(error) => return Err(OrderedError::Invalid { index, error }),
        };
        if used.saturating_add(outcome.gas_used) > limit {
            let error = TxError::BlockFull { used: outcome.gas_used, left: limit - used };
            return Err(OrderedError::Invalid { index, error });
        }
        used += outcome.gas_used;
        // It read the coinbase as of its index, earlier fees in: what it
        // wrote there holds them, so the seal must not pay them again.
        if writes.accounts.iter().any(|(_, a, _)| *a == coinbase) {
            let fees = runs[credited..].iter().map(|(_, _, o): &(_, _, crate::Outcome)| o.fee);
            bank.note_credited(fees.fold(U256::ZERO, U256::saturating_add), txs[index].hash());
            credited = index;
        }
        let hash = txs[index].hash();
        bank.keep(hash, writes);
        reports.push(TxReport {
            access: set.clone(),
            source: AccessSource::Declared,
            runs: vec![Run { kind: RunKind::Execute, time }],
            ..TxReport::default()
        });
        runs.push((set, AccessSource::Declared, outcome));
    }
    record_in_order(bank, txs, runs);
    let (independent, serial) = (true, serial.elapsed());
    let coinbase = bank.env().coinbase;
    let elapsed = start.elapsed();
    Ok(OrderedReport { txs: reports, threads, elapsed, independent, serial, coinbase })
}
