//! [`OrderedSets::Run`]: an ordered block whose sets are found by running
//! it, one run per transaction where the block allows it.
//!
//! Workers take the transactions in block order and run each on the state
//! as far as the block has come (the writes of the transactions committed
//! so far), logging every value it reads ([`ReadLog`]). Commits go in block
//! order, one at a time: a transaction's run stands if every value it read
//! still holds (validation by value: a value written back unchanged, or
//! changed and changed back, does not undo it); otherwise it runs again
//! right there, on exactly the state every earlier transaction left. Its
//! writes are then applied, and its set is what the standing run read and
//! wrote. One thread runs the block in order ([`in_order`]); more share it
//! ([`super::parallel`]).
//!
//! ```text
//!   workers: run i (state so far, values logged) ──> finished runs
//!                                                         │ lowest first
//!   one committer at a time: every value i read still holds? ── yes ──┐
//!                            └── no: run i again (state exact now) ───┤
//!                                                apply i's writes <───┘
//! ```
//!
//! What a transaction is known to write ([`Transaction::known_writes`]: an
//! EVM sender's nonce) orders it without a wasted run ([`starts`]): it
//! starts once the latest earlier transaction that writes one of those keys
//! has run, reading what that run wrote. A plain transfer does not wait:
//! it runs showing its own nonce for its sender ([`StateView::assume_nonce`])
//! and stands where, at its turn, the sender holds that nonce and a balance
//! that covers it ([`StateView::note_debit`]); what it took comes off the
//! balance found there, as a credit lands on it ([`StateView::note_credit`]).
//! So a sender's payouts, or the coinbase's, run side by side.
//!
//! Fees are credited to the coinbase at the seal; a run reads the coinbase
//! with the fees of every committed transaction added
//! ([`StateView::with_credit`]), and a transaction that read it has those
//! fees credited before its writes are applied.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use alloy_primitives::U256;

use super::config::{MIN_TXS_PER_THREAD, OrderedConfig, OrderedError};
use super::report::{OrderedReport, Run, RunKind, TxReport, record_in_order};
use super::steps::{Done, Start, Wait, credit_if_read, state_error};
use crate::access::AccessSource;
use crate::bank::Bank;
use crate::error::TxError;
use crate::executor::{Executor, KnownWrites, Transaction};
use crate::key::StateKey;
use crate::view::{Access, BankState, StateView};

/// A committed transaction's set and outcome.
fn starts<T: Transaction>(txs: &[T], coinbase: &StateKey, state: &BankState) -> Vec<Start> {
    let mut last: HashMap<StateKey, usize, ahash::RandomState> = HashMap::default();
    let mut starts = Vec::with_capacity(txs.len());
    let codeless = |key: StateKey| match key {
        StateKey::Account(a) => state.account(&a, key.hash64()).is_ok_and(|h| {
            h.code_hash == alloy_primitives::KECCAK256_EMPTY || h.code_hash.is_zero()
        }),
        _ => false,
    };
    for (i, tx) in txs.iter().enumerate() {
        let KnownWrites { sequence, credit, nonce } = tx.known_writes();
        let transfer = match (sequence, nonce, credit) {
            (Some(StateKey::Account(a)), Some(nonce), Some(to))
                if Some(to) != sequence && codeless(to) =>
            {
                Some((a, nonce))
            }
            _ => None,
        };
        let assume = transfer.filter(|(a, _)| {
            sequence == Some(*coinbase) || last.contains_key(&StateKey::Account(*a))
        });
        let wait = sequence.filter(|_| assume.is_none()).and_then(|key| match key == *coinbase {
            true => i.checked_sub(1).map(|after| Wait { after, commit: true }),
            false => last.get(&key).map(|&after| Wait { after, commit: false }),
        });
        starts.push(Start { wait, assume, transfer: transfer.is_some() });
        for key in sequence.into_iter().chain(credit) {
            last.insert(key, i);
        }
    }
    starts
}

pub(super) fn run<E: Executor>(
    bank: &Bank,
    executor: &E,
    txs: &[E::Tx],
    config: &OrderedConfig,
) -> Result<OrderedReport, OrderedError> {
    let start = Instant::now();
    let n = txs.len();
    let coinbase = bank.env().coinbase;
    let starts = starts(txs, &StateKey::Account(coinbase), bank.state());
    let threads = threads_for(config.threads, &starts, config.adaptive);
    let (mut reports, done) = match threads {
        1 => in_order(bank, executor, txs, config, &starts)?,
        _ => super::parallel::run(bank, executor, txs, config, &starts, threads)?,
    };
    let limit = bank.env().gas_limit;
    let mut used = 0u64;
    let mut runs = Vec::with_capacity(n);
    for (index, (set, outcome)) in done.into_iter().enumerate() {
        if used.saturating_add(outcome.gas_used) > limit {
            let error = TxError::BlockFull { used: outcome.gas_used, left: limit - used };
            return Err(OrderedError::Invalid { index, error });
        }
        used += outcome.gas_used;
        let source = if set.is_some() { AccessSource::Predicted } else { AccessSource::Undeclared };
        runs.push((set, source, outcome));
    }
    for (report, (set, source, _)) in reports.iter_mut().zip(&runs) {
        report.access = set.clone();
        report.source = *source;
    }
    record_in_order(bank, txs, runs);
    Ok(OrderedReport {
        txs: reports,
        threads,
        elapsed: start.elapsed(),
        independent: false,
        serial: Duration::ZERO,
        coinbase,
    })
}

/// The threads worth running a block on: one where most of its
/// transactions wait for the one before them in a single chain (one
/// sender's calls), which would run one after another anyway; where
/// `adaptive` ([`OrderedConfig::adaptive`]), no more than one per
/// [`MIN_TXS_PER_THREAD`] transactions other than plain transfers (a
/// transfer's few microseconds of work do not pay a thread's hand-offs).
fn threads_for(threads: usize, starts: &[Start], adaptive: bool) -> usize {
    let n = starts.len();
    let mut depth = vec![0u32; n];
    let mut longest = 0;
    for (i, start) in starts.iter().enumerate() {
        depth[i] = start.wait.map_or(1, |w| depth[w.after] + 1);
        longest = longest.max(depth[i] as usize);
    }
    let transfers = starts.iter().filter(|s| s.transfer).count();
    match (longest * 4 >= n * 3, adaptive) {
        (true, _) => 1,
        (false, false) => threads.clamp(1, n.max(1)),
        (false, true) => threads.clamp(1, ((n - transfers) / MIN_TXS_PER_THREAD).max(1)),
    }
}

/// The block on the calling thread, one transaction after another: each
/// runs once, on exactly the state it must see.
fn in_order<E: Executor>(
    bank: &Bank,
    executor: &E,
    txs: &[E::Tx],
    config: &OrderedConfig,
    starts: &[Start],
) -> Result<(Vec<TxReport>, Vec<Done>), OrderedError> {
    let coinbase = bank.env().coinbase;
    let mut worker = executor.worker(bank.env());
    let mut uncredited = U256::ZERO;
    let mut reports = Vec::with_capacity(txs.len());
    let mut done = Vec::with_capacity(txs.len());
    // One clock reading a transaction: each one's time runs from the end
    // of the one before, its commit counted in its run.
    let mut started = Instant::now();
    for ((index, tx), start) in txs.iter().enumerate().zip(starts) {
        let view = StateView::new(bank.state(), Access::Logged).with_credit(coinbase, uncredited);
        let (result, view) = executor.execute(&mut worker, tx, view);
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(TxError::State(e)) => return Err(state_error(e)),
            Err(error) => return Err(OrderedError::Invalid { index, error }),
        };
        let set = view.logged_set(config.max_keys).ok().filter(|s| !s.is_empty());
        let reads_coinbase = view.log.read_account(&coinbase);
        uncredited = credit_if_read(bank, tx.hash(), reads_coinbase, uncredited)?;
        let credited = view.credits;
        // What the engine on more threads would have taken as a debit (it
        // runs such a transaction before the earlier ones of its sender).
        let debited = match start.assume {
            Some(_) => view.debits.iter().map(|(a, _)| *a).collect(),
            None => Vec::new(),
        };
        bank.keep(tx.hash(), view.writes);
        uncredited = uncredited.saturating_add(outcome.fee);
        let now = Instant::now();
        let runs = vec![Run { kind: RunKind::Run, time: now.duration_since(started) }];
        started = now;
        let first_prediction = set.clone();
        reports.push(TxReport {
            runs,
            stood: true,
            reads_coinbase,
            first_prediction,
            waited_for: start.wait.map(|w| w.after),
            credited,
            debited,
            ..TxReport::default()
        });
        done.push((set, outcome));
    }
    Ok((reports, done))
}

/// Before a transaction that read the coinbase has its writes applied, the
/// fees not yet credited (`uncredited`) go to the coinbase, as it saw them.
/// Answers the fees still not credited.
#[cfg(test)]
mod tests {
    use alloy_primitives::{Address, B256};
    use lanes_accounts_db::{AccountsDbConfig, Entry};

    use super::*;
    use crate::chain::{Chain, Genesis};
    use crate::ordered::steps::{Ran, changed};
    use crate::outcome::Outcome;
    use crate::view::{ReadLog, Writes};

    /// A run that read slot `slot` of `contract` as `value`.
    fn read(contract: Address, slot: B256, value: U256) -> Ran {
        let hash = StateKey::Storage(contract, slot).hash64();
        let log = ReadLog { slots: vec![(hash, contract, slot, value)], ..ReadLog::default() };
        Ran {
            result: Ok(Outcome::default()),
            writes: Writes::default(),
            log,
            credits: Vec::new(),
            debits: Vec::new(),
            set: None,
            base: 0,
            checked: 0,
            filter: [0; 4],
            first: true,
        }
    }

    #[test]
    fn test_a_block_of_few_calls_runs_on_fewer_threads() {
        let call = Start::default();
        let transfer = Start { transfer: true, ..Start::default() };
        assert_eq!(threads_for(8, &[call; 9], true), 1);
        assert_eq!(threads_for(8, &[call; 35], true), 3);
        assert_eq!(threads_for(8, &[call; 200], true), 8);
        assert_eq!(threads_for(8, &[call; 9], false), 8);
        let mixed: Vec<Start> =
            (0..100).map(|i| if i % 2 == 0 { transfer } else { call }).collect();
        assert_eq!(threads_for(8, &mixed, true), 5, "50 calls");
        assert_eq!(threads_for(8, &mixed, false), 8);
        assert_eq!(threads_for(8, &mixed[..30], true), 1, "15 calls");
        assert_eq!(threads_for(8, &[transfer; 600], true), 1);
    }

    #[test]
    fn test_a_read_holds_by_value_not_by_whether_it_was_written() {
        let (contract, slot) = (Address::repeat_byte(0xc0), B256::with_last_byte(1));
        let key = StateKey::Storage(contract, slot);
        let alloc = vec![Entry::Storage(contract, slot, U256::from(2))];
        let dir = tempfile::tempdir().unwrap();
        let genesis = Genesis { alloc, ..Default::default() };
        let chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis).unwrap();
        let bank = chain.new_bank(1, Address::ZERO);
        let set = |value: u64| {
            let slots = vec![(key.hash64(), contract, slot, U256::from(value))];
            bank.state().apply(&Writes { slots, ..Writes::default() });
        };
        let ran = read(contract, slot, U256::from(2));
        let holds = || changed(bank.state(), Address::ZERO, &ran, U256::ZERO, true, None).unwrap();
        assert_eq!(holds(), None, "never written");
        set(2);
        assert_eq!(holds(), None, "written back unchanged");
        set(5);
        assert_eq!(holds(), Some(key), "changed");
        set(2);
        assert_eq!(holds(), None, "changed and changed back");
        set(0);
        assert_eq!(holds(), Some(key), "deleted");
        let deleted = read(contract, slot, U256::ZERO);
        assert_eq!(
            changed(bank.state(), Address::ZERO, &deleted, U256::ZERO, true, None).unwrap(),
            None
        );
    }

    #[test]
    fn test_a_run_again_reads_unwritten_keys_from_what_it_read_before() {
        let (contract, slot) = (Address::repeat_byte(0xc0), B256::with_last_byte(1));
        let other = B256::with_last_byte(2);
        let alloc = vec![
            Entry::Storage(contract, slot, U256::from(2)),
            Entry::Storage(contract, other, U256::from(3)),
        ];
        let dir = tempfile::tempdir().unwrap();
        let genesis = Genesis { alloc, ..Default::default() };
        let chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis).unwrap();
        let bank = chain.new_bank(1, Address::ZERO);
        // What the first run read, marked so the test sees where a read
        // comes from (a real log holds the state's values).
        let mut prior = read(contract, slot, U256::from(20)).log;
        prior.slots.extend(read(contract, other, U256::from(30)).log.slots);
        let written = StateKey::Storage(contract, other).hash64();
        let slots = vec![(written, contract, other, U256::from(4))];
        bank.state().apply(&Writes { slots, ..Writes::default() });
        let mut view = StateView::new(bank.state(), Access::Logged).prior(prior);
        assert_eq!(view.storage(&contract, &slot).unwrap(), U256::from(20), "from the first run");
        assert_eq!(view.storage(&contract, &other).unwrap(), U256::from(4), "written since");
    }
}
