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

use super::config::{MIN_PARALLEL_GAS, MIN_TXS_PER_THREAD, PARALLEL_GAS_PER_TRANSFER};
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
        let known = tx.known_writes();
        let KnownWrites { sequence, credit, .. } = known;
        let transfer = plain_transfer(&known);
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
        starts.push(Start { sender, recipient, after });
        for key in sequence.into_iter().chain(credit) {
            last.insert(key, i);
        }
    }
    estimates.sort_unstable();
    estimates.dedup();
    (starts, estimates)
}

/// A plain transfer's sender, nonce and recipient (another account), as
/// its known writes show it.
fn plain_transfer(known: &KnownWrites) -> Option<(Address, u64, Address)> {
    match (known.sequence, known.nonce, known.credit) {
        (Some(StateKey::Account(from)), Some(nonce), Some(StateKey::Account(to))) if from != to => {
            Some((from, nonce, to))
        }
        _ => None,
    }
}

/// The workers a block's work is worth, judged before any plan (no state
/// read): where `adaptive`, no more than one per [`MIN_TXS_PER_THREAD`]
/// transactions other than plain transfers (a transfer's few microseconds
/// of work do not pay a worker's hand-offs), and one where those
/// transactions' gas budgets add up to less than [`MIN_PARALLEL_GAS`] and
/// [`PARALLEL_GAS_PER_TRANSFER`] (at 2 threads) for each plain transfer. A
/// block judged worth one worker is not planned: the plan only decides
/// what a parallel run is shown and waits for.
pub(super) fn threads_for_work<T: Transaction>(threads: usize, txs: &[T], adaptive: bool) -> usize {
    let n = txs.len();
    if !adaptive {
        return threads.clamp(1, n.max(1));
    }
    let (mut calls, mut gas) = (0usize, Some(0u64));
    for tx in txs {
        if plain_transfer(&tx.known_writes()).is_none() {
            calls += 1;
            gas = gas.zip(tx.gas_budget()).map(|(sum, budget)| sum.saturating_add(budget));
        }
    }
    let transfers = (n - calls) as u64;
    let per_transfer = PARALLEL_GAS_PER_TRANSFER * 2 / threads.max(2) as u64;
    let least = MIN_PARALLEL_GAS.saturating_add(transfers.saturating_mul(per_transfer));
    match gas.is_some_and(|gas| gas < least) {
        true => 1,
        false => threads.clamp(1, (calls / MIN_TXS_PER_THREAD).max(1)),
    }
}

/// Of `threads` ([`threads_for_work`]), the workers worth running a
/// planned block on: one where most of its transactions wait for the one
/// before them in a single chain (one sender's calls), which run one after
/// another anyway.
pub(super) fn threads_for(threads: usize, starts: &[Start]) -> usize {
    let n = starts.len();
    let mut depth = vec![0u32; n];
    let mut longest = 0;
    for (i, start) in starts.iter().enumerate() {
        depth[i] = start.after.map_or(1, |j| depth[j] + 1);
        longest = longest.max(depth[i] as usize);
    }
    match longest * 4 >= n * 3 {
        true => 1,
        false => threads,
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{B256, Bytes};

    use super::*;
    use crate::access::AccessSet;

    /// A transaction that is only its shape: a plain transfer or a call,
    /// with a gas budget or none.
    #[derive(Clone)]
    struct Shape {
        transfer: bool,
        gas: Option<u64>,
    }

    impl Transaction for Shape {
        fn hash(&self) -> B256 {
            B256::ZERO
        }
        fn access_set(&self) -> Option<&AccessSet> {
            None
        }
        fn encoded(&self) -> &Bytes {
            unreachable!("not encoded")
        }
        fn known_writes(&self) -> KnownWrites {
            let to = Address::repeat_byte(2);
            KnownWrites {
                sequence: Some(StateKey::Account(Address::repeat_byte(1))),
                credit: self.transfer.then_some(StateKey::Account(to)),
                nonce: Some(0),
            }
        }
        fn gas_budget(&self) -> Option<u64> {
            self.gas
        }
    }

    #[test]
    fn test_a_block_of_few_calls_runs_on_fewer_threads() {
        let call = Shape { transfer: false, gas: None };
        let transfer = Shape { transfer: true, gas: Some(21_000) };
        let of = |shape: &Shape, n| vec![shape.clone(); n];
        assert_eq!(threads_for_work(8, &of(&call, 9), true), 1);
        assert_eq!(threads_for_work(8, &of(&call, 35), true), 3);
        assert_eq!(threads_for_work(8, &of(&call, 200), true), 8);
        assert_eq!(threads_for_work(8, &of(&call, 9), false), 8);
        let mixed: Vec<Shape> =
            (0..100).map(|i| if i % 2 == 0 { transfer.clone() } else { call.clone() }).collect();
        assert_eq!(threads_for_work(8, &mixed, true), 5, "50 calls");
        assert_eq!(threads_for_work(8, &mixed, false), 8);
        assert_eq!(threads_for_work(8, &mixed[..30], true), 1, "15 calls");
        assert_eq!(threads_for_work(8, &of(&transfer, 600), true), 1);
        // Calls whose gas budgets add up to less than the least worth a
        // second thread; a budget unknown judges by the count alone.
        let budget = Shape { transfer: false, gas: Some(100_000) };
        assert_eq!(threads_for_work(8, &of(&budget, 79), true), 1, "7.9M gas");
        assert_eq!(threads_for_work(8, &of(&budget, 80), true), 8, "8M gas");
        let mut unknown = of(&budget, 40);
        unknown.push(call);
        assert_eq!(threads_for_work(8, &unknown, true), 4);
        // Each plain transfer raises the least gas worth a second thread.
        let mut payouts = of(&budget, 100);
        payouts.extend(of(&transfer, 300));
        assert_eq!(threads_for_work(2, &payouts, true), 1, "10M gas, 300 transfers at 2");
        assert_eq!(threads_for_work(8, &payouts, true), 8, "the same at 8");
        assert_eq!(threads_for_work(2, &payouts[..300], true), 2, "10M gas, 200 transfers");
    }

    #[test]
    fn test_a_block_of_one_chain_runs_on_one_thread() {
        let chain: Vec<Start> =
            (0..40usize).map(|i| Start { after: i.checked_sub(1), ..Start::default() }).collect();
        assert_eq!(threads_for(8, &chain), 1, "one sender's chain");
        let half: Vec<Start> = (0..40usize)
            .map(|i| Start { after: (i % 2 == 1).then(|| i - 1), ..Start::default() })
            .collect();
        assert_eq!(threads_for(8, &half), 8, "pairs");
    }
}
