//! An ordered block on one worker: each transaction once, in order, on
//! exactly the state every earlier one left — no versions, no checks. The
//! engine's path where one worker is all the block is worth
//! ([`super::plan::threads_for_work`], [`super::plan::threads_for`]).
//!
//! Fees are credited to the coinbase at the seal; a run reads the
//! coinbase with the fees of every earlier transaction added
//! ([`StateView::with_credit`]), and a transaction that read it has those
//! fees credited before its writes are applied.

use std::time::Instant;

use alloy_primitives::{B256, U256};

use super::config::{Done, Source};
use super::config::{OrderedConfig, OrderedError};
use super::plan::Start;
use super::report::{Run, RunKind, TxReport};
use crate::bank::Bank;
use crate::error::{BankError, TxError};
use crate::executor::{Executor, Transaction};
use crate::key::StateKey;
use crate::view::{Access, ReadLog, StateView};

pub(super) fn state_error(e: String) -> OrderedError {
    OrderedError::Bank(BankError::State(e))
}

/// Credits the fees not yet credited (`uncredited`) to the coinbase before
/// transaction `tx`, which read it; answers the fees still owed.
fn credit_if_read(
    bank: &Bank,
    tx: B256,
    reads_coinbase: bool,
    uncredited: U256,
) -> Result<U256, OrderedError> {
    if !reads_coinbase {
        return Ok(uncredited);
    }
    bank.credit_coinbase(uncredited, tx)?;
    Ok(U256::ZERO)
}

/// Runs `txs` on the calling thread, one after another, each on exactly
/// the state it must see, and keeps each one's writes; answers each one's
/// report and its set, source and outcome.
pub(super) fn run<E: Executor>(
    bank: &Bank,
    executor: &E,
    txs: &[E::Tx],
    source: Source<'_>,
    config: &OrderedConfig,
    starts: &[Start],
) -> Result<(Vec<TxReport>, Vec<Done>), OrderedError> {
    let coinbase = bank.env().coinbase;
    let coinbase_key = StateKey::Account(coinbase);
    let mut worker = executor.worker(bank.env());
    let mut uncredited = U256::ZERO;
    let mut reports = Vec::with_capacity(txs.len());
    // The read log's memory, passed from each run to the next.
    let mut log = ReadLog::default();
    let mut done = Vec::with_capacity(txs.len());
    // One clock reading a transaction: each one's time runs from the end
    // of the one before.
    let mut started = Instant::now();
    for (index, tx) in txs.iter().enumerate() {
        let recorded = source.recorded(index);
        let held = recorded.is_some();
        // A recorded set that reads the coinbase sees every earlier fee.
        let recorded_reads_coinbase =
            recorded.as_ref().map(|set| set.as_ref().is_none_or(|s| s.allows_read(&coinbase_key)));
        let view = match recorded {
            Some(set) => {
                uncredited = credit_if_read(
                    bank,
                    tx.hash(),
                    recorded_reads_coinbase == Some(true),
                    uncredited,
                )?;
                StateView::new(bank.state(), set.map_or(Access::Exclusive, Access::Declared))
            }
            None => StateView::new(bank.state(), Access::Logged).with_credit(coinbase, uncredited),
        }
        .with_log(std::mem::take(&mut log));
        let (result, view) = executor.execute(&mut worker, tx, view);
        if let (Some(key), true) = (view.violation(), held) {
            return Err(OrderedError::LeftItsSet { index, key });
        }
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(TxError::AccessViolation(key)) if held => {
                return Err(OrderedError::LeftItsSet { index, key });
            }
            Err(TxError::State(e)) => return Err(state_error(e)),
            Err(error) => return Err(OrderedError::Invalid { index, error }),
        };
        let (set, source) =
            source.kept(index, || view.logged_set(config.max_keys).ok().filter(|s| !s.is_empty()));
        let reads_coinbase = match recorded_reads_coinbase {
            Some(reads) => reads,
            None => {
                let reads = view.log.read_account(&coinbase);
                uncredited = credit_if_read(bank, tx.hash(), reads, uncredited)?;
                reads
            }
        };
        let credited = view.credits;
        log = view.log;
        let debited = view.debits.iter().map(|(a, _)| *a).collect();
        bank.keep(tx.hash(), view.writes);
        uncredited = uncredited.saturating_add(outcome.fee);
        let now = Instant::now();
        let runs = vec![Run { kind: RunKind::Run, time: now.duration_since(started) }];
        started = now;
        reports.push(TxReport {
            access: set.clone(),
            source,
            runs,
            stood: true,
            reads_coinbase,
            first_prediction: set.clone(),
            waited_for: starts.get(index).and_then(|s| s.after),
            credited,
            debited,
            ..TxReport::default()
        });
        done.push((set, source, outcome));
    }
    Ok((reports, done))
}
