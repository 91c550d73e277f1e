//! The steps an ordered block's runs are made of, shared by the one-thread
//! path (`optimistic.rs`) and the parallel engine (`parallel.rs`): where a
//! transaction starts ([`Start`]), one run with its reads logged
//! ([`run_once`]), whether what it read still holds ([`changed`]), and its
//! commit in block order ([`commit`]).

use std::time::Instant;

use alloy_primitives::{Address, B256, U256};
use lanes_accounts_db::KeyHash;

use super::config::{OrderedConfig, OrderedError};
use super::report::{Run, RunKind};
use crate::access::AccessSet;
use crate::bank::Bank;
use crate::error::{BankError, TxError};
use crate::executor::{Executor, Transaction};
use crate::key::StateKey;
use crate::outcome::Outcome;
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
/// code must hold. A key whose bit in the bank's written-key
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
        // A credit lands on the balance and nonce found at its turn; no
        // code ran, so only the code must be as read.
        if ran.credits.contains(address) {
            match now.code_hash == header.code_hash {
                true => continue,
                false => return Ok(Some(StateKey::Account(*address))),
            }
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
/// there now, and takes the nonce there now, where the account changed
/// since it was read (its code was checked to be as read).
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
        if now == *read {
            continue;
        }
        for (_, _, header) in writes.accounts.iter_mut().filter(|(_, a, _)| a == address) {
            let credit = header.balance.saturating_sub(read.balance);
            header.balance = now.balance.saturating_add(credit);
            header.nonce = now.nonce;
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
