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

use std::time::Instant;

use alloy_primitives::U256;

use super::config::{OrderedConfig, OrderedError};
use super::report::{OrderedReport, Run, RunKind, TxReport, record_in_order};
use crate::access::AccessSource;
use crate::bank::Bank;
use crate::error::TxError;
use crate::executor::{Executor, Transaction};
use crate::threads::parallel_map;
use crate::versions::Versions;
use crate::view::{Access, StateView};

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
                return Err(OrderedError::Bank(crate::error::BankError::State(e)));
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
