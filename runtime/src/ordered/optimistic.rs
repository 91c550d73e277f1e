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

use alloy_primitives::{Address, B256, U256};
use lanes_accounts_db::KeyHash;

use super::{
    MIN_TXS_PER_THREAD, OrderedConfig, OrderedError, OrderedReport, Run, RunKind, TxReport,
    record_in_order,
};
use crate::access::AccessSet;
use crate::admission::AccessSource;
use crate::bank::{Bank, BankError};
use crate::executor::{Executor, KnownWrites, Outcome, Transaction, TxError};
use crate::key::StateKey;
use crate::view::{Access, BankState, ReadLog, StateView, Writes};

/// A committed transaction's set and outcome.
pub(super) type Done = (Option<AccessSet>, Outcome);

/// A finished run of a transaction.
pub(super) struct Ran {
    pub(super) result: Result<Outcome, TxError>,
    pub(super) writes: Writes,
    pub(super) log: ReadLog,
    /// Accounts its writes only credited ([`StateView::note_credit`]).
    pub(super) credits: Vec<Address>,
    /// Accounts its writes only debited, with the balance that covers it
    /// ([`StateView::note_debit`]).
    pub(super) debits: Vec<(Address, U256)>,
    pub(super) set: Option<AccessSet>,
    /// Transactions committed when it started: all earlier ones when it
    /// equals the transaction's index, so that, reading nothing from an
    /// earlier run and assuming no nonce, it ran on exactly its state.
    pub(super) base: usize,
    /// Transactions committed when its reads were last found to hold
    /// before its turn ([`changed`] with `turn` false): a commit from here
    /// on may have changed them.
    pub(super) checked: usize,
    /// A bit per key hash it read, of 256 ([`filter_bit`]): which commits
    /// may have changed what it read.
    pub(super) filter: [u64; 4],
    /// Whether it is the transaction's first run.
    pub(super) first: bool,
}

impl Ran {
    /// Whether a later transaction may read what this run wrote before its
    /// commit: it ran valid, and its writes are not debits, whose balances
    /// are only known at its turn.
    pub(super) fn readable(&self) -> bool {
        self.result.is_ok() && self.debits.is_empty()
    }
}

/// A key hash's bit in a 256-bit filter of keys ([`Ran::filter`]).
pub(super) fn filter_bit(hash: KeyHash) -> (usize, u64) {
    let bit = (hash.raw() >> 56) as usize;
    (bit / 64, 1 << (bit % 64))
}

/// The 256-bit filter of `hashes`.
pub(super) fn filter_of(hashes: impl Iterator<Item = KeyHash>) -> [u64; 4] {
    let mut filter = [0u64; 4];
    for hash in hashes {
        let (word, bit) = filter_bit(hash);
        filter[word] |= bit;
    }
    filter
}

/// What a transaction waits for before its first run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Wait {
    /// The earlier transaction.
    pub(super) after: usize,
    /// Whether it waits for that one's commit, not just its run: a
    /// transaction whose sequence key is the coinbase needs every earlier
    /// fee (it then runs at its turn).
    pub(super) commit: bool,
}

/// How a transaction starts in block order ([`starts`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Start {
    /// What it waits for before its first run.
    pub(super) wait: Option<Wait>,
    /// The account it runs showing this nonce, without waiting for the
    /// earlier transactions that step it ([`StateView::assume_nonce`]).
    pub(super) assume: Option<(Address, u64)>,
    /// A plain transfer to an account without code.
    pub(super) transfer: bool,
}

/// For each transaction, how it starts: a plain transfer (a credit with a
/// known nonce, to an account the parent state holds no code at) whose
/// sequence key an earlier transaction writes runs at once, assuming its
/// nonce; any other waits for the latest earlier one known to write its
/// sequence key ([`KnownWrites`]), whose run it then reads before the
/// state, or, where that key is the coinbase's account, for the one just
/// before it, committed (it needs every earlier fee). (A transfer to code
/// runs that code, which may read its sender's balance.)
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
pub(super) fn credit_if_read(
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

pub(super) fn state_error(e: String) -> OrderedError {
    OrderedError::Bank(BankError::State(e))
}

fn tx_state_error(e: TxError) -> OrderedError {
    state_error(e.to_string())
}

/// Runs `tx` on `bank`'s state as far as the block has come (`base`
/// transactions committed, the coinbase owed `credit` in fees), reading
/// `over` (an earlier transaction's run) and `prior` (what an earlier run of
/// it read) before the state and showing an `assume`d nonce; logs what it
/// reads and builds its set when it ran valid.
#[allow(clippy::too_many_arguments)]
pub(super) fn run_once<'a, E: Executor>(
    bank: &'a Bank,
    executor: &E,
    worker: &mut E::Worker<'a>,
    tx: &E::Tx,
    config: &OrderedConfig,
    (base, credit): (usize, U256),
    over: Option<Box<Writes>>,
    prior: Option<Box<ReadLog>>,
    assume: Option<(Address, u64)>,
) -> Ran {
    let coinbase = bank.env().coinbase;
    let mut view = StateView::new(bank.state(), Access::Logged).with_credit(coinbase, credit);
    if let Some(over) = over {
        view = view.over(*over);
    }
    if let Some(prior) = prior {
        view = view.prior(*prior);
    }
    if let Some((address, nonce)) = assume {
        view = view.assume_nonce(address, nonce);
    }
    let (result, view) = executor.execute(worker, tx, view);
    let set = match &result {
        Ok(_) => view.logged_set(config.max_keys).ok().filter(|s| !s.is_empty()),
        Err(_) => None,
    };
    let hashes = view.log.accounts.iter().map(|r| r.0);
    let filter = filter_of(hashes.chain(view.log.slots.iter().map(|r| r.0)));
    let (writes, log, credits, debits) = (view.writes, view.log, view.credits, view.debits);
    Ran { result, set, writes, log, credits, debits, base, checked: base, filter, first: true }
}

/// The first key `ran` read whose value no longer holds in `state`, with
/// `uncredited` fees added to the `coinbase`'s balance; `None` when every
/// one holds (validation by value: a key written back unchanged, or changed
/// and changed back, holds). Of an account it only credited, only the
/// nonce and code must hold. A key whose bit in the bank's written-key
/// filter is clear was never written in this block: it holds the parent's
/// value, which is what the run read, unless the run read it from an
/// earlier run. Before the transaction's turn (`turn` false) a key read
/// from an earlier run is not checked (that run may not have committed),
/// nor is the coinbase (its fees are known at the turn). An account read
/// with an `assumed` nonce is always checked; one the run only debited
/// holds where, at its turn, its nonce and code are as read and its balance
/// covers the debit.
pub(super) fn changed(
    state: &BankState,
    coinbase: Address,
    ran: &Ran,
    uncredited: U256,
    turn: bool,
    assumed: Option<Address>,
) -> Result<Option<StateKey>, OrderedError> {
    let from_run = |hash: &KeyHash| ran.log.over.contains(hash);
    let skip = |hash: &KeyHash| match from_run(hash) {
        true => !turn,
        false => !state.maybe_written(*hash),
    };
    for (hash, address, header) in &ran.log.accounts {
        let debit = StateView::debit_of(&ran.debits, address);
        let is_coinbase = *address == coinbase;
        let checked = is_coinbase || assumed == Some(*address);
        // A debited account, and the coinbase, hold or not at the
        // transaction's turn only: until then the earlier ones that step
        // its nonce, or pay it fees, may not have.
        if (!checked && skip(hash)) || ((debit.is_some() || is_coinbase) && !turn) {
            continue;
        }
        let mut now = state.account(address, *hash).map_err(tx_state_error)?;
        if is_coinbase {
            now.balance = now.balance.saturating_add(uncredited);
        }
        if ran.credits.contains(address) {
            now.balance = header.balance;
        }
        if let Some(covers) = debit {
            let holds = now.nonce == header.nonce
                && now.code_hash == header.code_hash
                && now.balance >= covers;
            match holds {
                true => continue,
                false => return Ok(Some(StateKey::Account(*address))),
            }
        }
        if now != *header {
            return Ok(Some(StateKey::Account(*address)));
        }
    }
    for (hash, address, slot, value) in &ran.log.slots {
        if !skip(hash) && state.storage(address, slot, *hash).map_err(tx_state_error)? != *value {
            return Ok(Some(StateKey::Storage(*address, *slot)));
        }
    }
    Ok(None)
}

/// What committing a transaction came to.
pub(super) struct Committed {
    pub(super) outcome: Outcome,
    pub(super) set: Option<AccessSet>,
    /// Whether its first run stood.
    pub(super) stood: bool,
    pub(super) reads_coinbase: bool,
    pub(super) changed: Option<StateKey>,
    pub(super) credited: Vec<Address>,
    pub(super) debited: Vec<Address>,
    /// A bit per key it wrote ([`filter_bit`]).
    pub(super) written: [u64; 4],
    /// The runs its commit made: its commit, and its run again if it ran.
    pub(super) runs: Vec<Run>,
    /// The fees not credited to the coinbase after it.
    pub(super) uncredited: U256,
}

/// Transaction `i` at its turn, every earlier one committed: its `ran`
/// stands if what it read still holds (where it ran on exactly this state,
/// it does), else it runs again now, exactly; `ran` is `None` for a
/// transaction that runs only at its turn. Then the fees not yet credited
/// go to the coinbase where it read it, a standing run's credits and
/// debits land on the balances found now, and its writes are applied.
#[allow(clippy::too_many_arguments)]
pub(super) fn commit<'a, E: Executor>(
    bank: &'a Bank,
    executor: &E,
    worker: &mut E::Worker<'a>,
    tx: &E::Tx,
    config: &OrderedConfig,
    (i, start): (usize, &Start),
    ran: Option<Ran>,
    uncredited: U256,
) -> Result<Committed, OrderedError> {
    let started = Instant::now();
    let coinbase = bank.env().coinbase;
    let mut runs = Vec::with_capacity(2);
    let mut exactly = |kind, prior, runs: &mut Vec<Run>| {
        let t = Instant::now();
        let ran = run_once(bank, executor, worker, tx, config, (i, uncredited), None, prior, None);
        runs.push(Run { kind, time: t.elapsed() });
        ran
    };
    let (ran, stood, rebase, changed) = match ran {
        None => (exactly(RunKind::Run, None, &mut runs), true, false, None),
        Some(ran) => {
            // A run that started once every earlier transaction had
            // committed, reading nothing from an earlier run and assuming no
            // nonce, saw exactly its state.
            let exact = ran.base == i && ran.log.over.is_empty() && start.assume.is_none();
            let changed = match exact {
                true => None,
                false => {
                    let assumed = start.assume.map(|a| a.0);
                    changed(bank.state(), coinbase, &ran, uncredited, true, assumed)?
                }
            };
            match ran.result.is_ok() && changed.is_none() {
                true => {
                    let first = ran.first;
                    (ran, first, !exact, None)
                }
                false => {
                    let prior = Some(Box::new(ran.log));
                    (exactly(RunKind::Rerun, prior, &mut runs), false, false, changed)
                }
            }
        }
    };
    let Ran { result, mut writes, log, credits, debits, set, .. } = ran;
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(TxError::State(e)) => return Err(state_error(e)),
        Err(error) => return Err(OrderedError::Invalid { index: i, error }),
    };
    let hash = tx.hash();
    let reads_coinbase = log.read_account(&coinbase);
    let uncredited = credit_if_read(bank, hash, reads_coinbase, uncredited)?;
    if rebase {
        rebase_credits(bank.state(), &log, &credits, &mut writes)?;
        rebase_debits(bank.state(), &log, &debits, &mut writes)?;
    }
    let written =
        filter_of(writes.accounts.iter().map(|w| w.0).chain(writes.slots.iter().map(|w| w.0)));
    bank.keep(hash, writes);
    let debited = debits.into_iter().map(|(a, _)| a).collect();
    let time = started.elapsed().saturating_sub(runs.iter().map(|r| r.time).sum());
    runs.insert(0, Run { kind: RunKind::Commit, time });
    let uncredited = uncredited.saturating_add(outcome.fee);
    Ok(Committed {
        outcome,
        set,
        stood,
        reads_coinbase,
        changed,
        credited: credits,
        debited,
        written,
        runs,
        uncredited,
    })
}

/// Adds what a run wrote to each account it only `credits` to the balance
/// there now, where that changed since it read the balance.
fn rebase_credits(
    state: &BankState,
    log: &ReadLog,
    credits: &[Address],
    writes: &mut Writes,
) -> Result<(), OrderedError> {
    for address in credits {
        let Some((hash, _, read)) = log.accounts.iter().find(|(_, a, _)| a == address) else {
            continue;
        };
        let now = state.account(address, *hash).map_err(tx_state_error)?;
        if now.balance == read.balance {
            continue;
        }
        for (_, _, header) in writes.accounts.iter_mut().filter(|(_, a, _)| a == address) {
            let credit = header.balance.saturating_sub(read.balance);
            header.balance = now.balance.saturating_add(credit);
        }
    }
    Ok(())
}

/// Takes what a run took from each account it only `debits` from the
/// balance there now (its nonce and code were checked to be as read).
fn rebase_debits(
    state: &BankState,
    log: &ReadLog,
    debits: &[(Address, U256)],
    writes: &mut Writes,
) -> Result<(), OrderedError> {
    for (address, _) in debits {
        let Some((hash, _, read)) = log.accounts.iter().find(|(_, a, _)| a == address) else {
            continue;
        };
        let now = state.account(address, *hash).map_err(tx_state_error)?;
        for (_, _, header) in writes.accounts.iter_mut().filter(|(_, a, _)| a == address) {
            let taken = read.balance.saturating_sub(header.balance);
            header.balance = now.balance.saturating_sub(taken);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use alloy_primitives::B256;
    use lanes_accounts_db::{AccountsDbConfig, Entry};

    use super::*;
    use crate::chain::{Chain, Genesis};

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
