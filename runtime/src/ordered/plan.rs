//! How each transaction of an ordered block starts ([`Start`], [`plan`]),
//! from what it is known to write ([`Transaction::known_writes`]), and how
//! many workers the block is worth ([`threads_for`]).
//!
//! A plain transfer (a credit with a known nonce, to an account the state
//! holds no code at) whose sender or recipient an earlier transaction is
//! known to write shows that account to its first run without the
//! versions: the sender with the transaction's own nonce, the recipient as
//! the state holds it. Its run then only debits and credits them, as deltas
//! its commit checks against the balances folded by then; so a sender's
//! payouts, or an exchange's deposits, run side by side. Any other
//! transaction reads its sender's versions: the key an earlier transaction
//! is known to write starts as that one's estimate, and the run waits for
//! it rather than read a nonce about to change.

use std::collections::HashMap;

use alloy_primitives::{Address, KECCAK256_EMPTY};

use super::config::{MIN_PARALLEL_GAS, MIN_TXS_PER_THREAD};
use crate::executor::{KnownWrites, Transaction};
use crate::key::StateKey;
use crate::view::BankState;

/// How a transaction starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Start {
    /// Shown to its first run with this nonce and any balance.
    pub(super) sender: Option<(Address, u64)>,
    /// Shown to its first run as the state holds it.
    pub(super) recipient: Option<Address>,
    /// The latest earlier transaction known to write a key it reads first
    /// (its sender), whose run it waits for.
    pub(super) after: Option<usize>,
    /// A plain transfer to an account without code.
    pub(super) transfer: bool,
    /// Its gas budget ([`Transaction::gas_budget`]).
    pub(super) gas: Option<u64>,
}

/// For each transaction, how it starts; and, for each, the keys it is known
/// to write that a later transaction reads first from the versions: they
/// start as its estimates. `state` tells whether a transfer's recipient
/// holds code. One worker plans nothing: it runs the block in order.
pub(super) fn plan<T: Transaction>(
    txs: &[T],
    coinbase: Address,
    state: &BankState,
) -> (Vec<Start>, Vec<(usize, StateKey)>) {
    // A sender and a recipient per transaction at most.
    let mut last: HashMap<StateKey, usize, ahash::RandomState> =
        HashMap::with_capacity_and_hasher(2 * txs.len(), Default::default());
    let mut starts = Vec::with_capacity(txs.len());
    let mut estimates = Vec::new();
    let codeless = |a: &Address| {
        let key = StateKey::Account(*a);
        state
            .account(a, key.hash64())
            .is_ok_and(|h| h.code_hash == KECCAK256_EMPTY || h.code_hash.is_zero())
    };
    for (i, tx) in txs.iter().enumerate() {
        let KnownWrites { sequence, credit, nonce } = tx.known_writes();
        let transfer = match (sequence, nonce, credit) {
            (Some(StateKey::Account(from)), Some(nonce), Some(StateKey::Account(to)))
                if from != to =>
            {
                Some((from, nonce, to))
            }
            _ => None,
        };
        // Shown only where an earlier transaction writes the account, and
        // only to a transfer to an account without code (a state read, so
        // looked up only then).
        let earlier = |a: Address| a == coinbase || last.contains_key(&StateKey::Account(a));
        let mut shows = transfer.filter(|(from, _, to)| earlier(*from) || earlier(*to));
        if let Some((.., to)) = shows
            && !codeless(&to)
        {
            shows = None;
        }
        let sender = shows.filter(|(from, ..)| earlier(*from)).map(|(f, n, _)| (f, n));
        let recipient = shows.filter(|(.., to)| earlier(*to)).map(|(.., t)| t);
        // The keys it reads first from the versions: its sender (unless
        // shown), and the recipient of a transfer (unless shown).
        let reads = [
            sequence.filter(|_| sender.is_none()),
            credit.filter(|_| transfer.is_some() && recipient.is_none()),
        ];
        let mut after = None;
        for key in reads.into_iter().flatten() {
            if let Some(&j) = last.get(&key) {
                estimates.push((j, key));
                if Some(key) == sequence {
                    after = Some(j);
                }
            }
        }
        let gas = tx.gas_budget();
        starts.push(Start { sender, recipient, after, transfer: transfer.is_some(), gas });
        for key in sequence.into_iter().chain(credit) {
            last.insert(key, i);
        }
    }
    estimates.sort_unstable();
    estimates.dedup();
    (starts, estimates)
}

/// The workers worth running a block on: one where most of its
/// transactions wait for the one before them in a single chain (one
/// sender's calls), which run one after another anyway; where `adaptive`,
/// no more than one per [`MIN_TXS_PER_THREAD`] transactions other than
/// plain transfers (a transfer's few microseconds of work do not pay a
/// worker's hand-offs), and one where those transactions' gas budgets add
/// up to less than [`MIN_PARALLEL_GAS`].
pub(super) fn threads_for(threads: usize, starts: &[Start], adaptive: bool) -> usize {
    let n = starts.len();
    let mut depth = vec![0u32; n];
    let mut longest = 0;
    for (i, start) in starts.iter().enumerate() {
        depth[i] = start.after.map_or(1, |j| depth[j] + 1);
        longest = longest.max(depth[i] as usize);
    }
    let transfers = starts.iter().filter(|s| s.transfer).count();
    let gas: Option<u64> = starts.iter().filter(|s| !s.transfer).map(|s| s.gas).sum();
    let cheap = gas.is_some_and(|gas| gas < MIN_PARALLEL_GAS);
    match (longest * 4 >= n * 3, adaptive) {
        (true, _) => 1,
        (false, false) => threads.clamp(1, n.max(1)),
        (false, true) if cheap => 1,
        (false, true) => threads.clamp(1, ((n - transfers) / MIN_TXS_PER_THREAD).max(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // Calls whose gas budgets add up to less than the least worth a
        // second thread; a budget unknown judges by the count alone.
        let budget = |gas| Start { gas: Some(gas), ..call };
        assert_eq!(threads_for(8, &[budget(100_000); 79], true), 1, "7.9M gas");
        assert_eq!(threads_for(8, &[budget(100_000); 80], true), 8, "8M gas");
        let mut unknown = vec![budget(100_000); 40];
        unknown.push(call);
        assert_eq!(threads_for(8, &unknown, true), 4);
        let chain: Vec<Start> =
            (0..40usize).map(|i| Start { after: i.checked_sub(1), ..call }).collect();
        assert_eq!(threads_for(8, &chain, false), 1, "one sender's chain");
    }
}
