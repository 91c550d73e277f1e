//! After the engine: each committed run's writes (its deltas as its commit
//! resolved them) applied to the bank, the coinbase's fees noted where a
//! transaction wrote it with them in, and each transaction's set and
//! report — on the block's workers ([`finish`]).

use alloy_primitives::U256;

use super::config::Done;
use super::config::OrderedError;
use super::engine::Engine;
use super::report::TxReport;
use crate::executor::{Executor, Transaction};
use crate::threads::parallel_map;

/// Turns the engine's committed runs into the block: writes kept in order
/// (applied on `threads` threads), fees noted, sets and reports.
pub(super) fn finish<E: Executor>(
    engine: Engine<'_, E>,
    threads: usize,
) -> Result<(Vec<TxReport>, Vec<Done>), OrderedError> {
    if let Some(e) = engine.error.lock().take() {
        return Err(e);
    }
    let n = engine.txs.len();
    // Each slot's run made into its kept writes, report and result in
    // place, on the workers (those idle workers did not prepare while the
    // block ran); then moved out once, in order.
    let failed = parallel_map(n, threads, || (), |_, i| engine.prepare(i).err());
    if let Some(e) = failed.into_iter().flatten().next() {
        return Err(e);
    }
    let coinbase = engine.bank.env().coinbase;
    let mut kept = Vec::with_capacity(n);
    let mut reports = Vec::with_capacity(n);
    let mut done = Vec::with_capacity(n);
    // A transaction that wrote the coinbase wrote it with every earlier
    // fee in: those are paid, not owed at the seal.
    let mut owed = U256::ZERO;
    for (tx, slot) in engine.txs.iter().zip(engine.slots.iter()) {
        let mut slot = slot.lock();
        let Some((writes, result)) = slot.done.take() else {
            return Err(super::sequential::state_error("a transaction was not prepared".into()));
        };
        let hash = tx.hash();
        if writes.accounts.iter().any(|w| w.1 == coinbase) {
            engine.bank.note_credited(owed, hash);
            owed = U256::ZERO;
        }
        owed = owed.saturating_add(result.2.fee);
        kept.push((hash, writes));
        reports.push(std::mem::take(&mut slot.report));
        done.push(result);
    }
    engine.bank.keep_all(kept, threads);
    Ok((reports, done))
}
