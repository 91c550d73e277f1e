//! After the engine: each committed run's writes (its deltas as its commit
//! resolved them) applied to the bank, the coinbase's fees noted where a
//! transaction wrote it with them in, and each transaction's set and
//! report — on the block's workers ([`finish`]).

use alloy_primitives::U256;

use super::config::OrderedError;
use super::config::{Done, Source};
use super::engine::Engine;
use super::ran::Ran;
use super::report::{RunKind, TxReport};
use crate::access::AccessSource;
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
    let failed = parallel_map(n, threads, || (), |_, i| prepare(&engine, i).err());
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

/// Transaction `i`'s committed run as its kept writes (its deltas as its
/// commit resolved them), set, source and outcome, and its report; nothing
/// where that is done (an idle worker prepared it while the block ran).
pub(super) fn prepare<E: Executor>(engine: &Engine<'_, E>, i: usize) -> Result<(), OrderedError> {
    let mut slot = engine.slots[i].lock();
    let slot = &mut *slot;
    if slot.done.is_some() {
        return Ok(());
    }
    let ran = slot
        .ran
        .take()
        .ok_or_else(|| super::sequential::state_error(format!("transaction {i} has no run")))?;
    let (set, source) = match engine.source {
        Source::Recorded(sets) => {
            let set = sets[i].access.clone().filter(|s| !s.is_empty());
            let source = if set.is_some() { sets[i].source } else { AccessSource::Undeclared };
            (set, source)
        }
        Source::Run | Source::Versioned(_) => {
            let set = match slot.set.take() {
                Some((at, set)) if at == ran.incarnation => set,
                _ => ran.set(engine.config.max_keys),
            };
            let source = match (&set, engine.source) {
                (None, _) => AccessSource::Undeclared,
                (Some(_), Source::Versioned(_)) => AccessSource::Declared,
                (Some(_), _) => AccessSource::Predicted,
            };
            (set, source)
        }
    };
    let Ran { result, accounts, mut writes, credits, debits, .. } = ran;
    let outcome = result.map_err(|error| OrderedError::Invalid { index: i, error })?;
    for (address, header) in std::mem::take(&mut slot.resolved) {
        for w in writes.accounts.iter_mut().filter(|w| w.1 == address) {
            w.2 = header;
        }
    }
    let coinbase = engine.bank.env().coinbase;
    let report = &mut slot.report;
    report.access.clone_from(&set);
    report.source = source;
    report.stood = !report.runs.iter().any(|r| r.kind == RunKind::Rerun);
    report.reads_coinbase = accounts.iter().any(|r| r.1 == coinbase);
    if report.first_prediction.is_none() {
        report.first_prediction.clone_from(&set);
    }
    report.debited = debits.iter().map(|(a, _)| *a).collect();
    report.credited = credits;
    slot.done = Some((writes, (set, source, outcome)));
    Ok(())
}
