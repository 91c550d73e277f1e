//! One scheduling pass: decides, from the window in rank order, which
//! transactions run next and on which worker. It owns no thread, channel or
//! clock: the controller hands it the window, the lock table and what the
//! workers have out, and sends the batches it forms.
//!
//! Locks are thread-aware (Agave's): one table ([`ThreadLocks`]) answers
//! which workers hold locks a set conflicts with. A set that conflicts with
//! the locks of exactly one worker goes to that worker, whose batches run one
//! after another in order; a set that conflicts with two or more waits. A
//! transaction held back marks its keys for the rest of the pass (as one more
//! lock-table thread), so a later conflicting one cannot jump it. A
//! transaction without a set is a barrier: it runs in the exclusive lane once
//! the work in flight drains, with every other transaction without a set the
//! pass finds behind it (one drain for the run), and nothing else behind it
//! overtakes it.
//!
//! A pass stops looking once [`HELD_BATCHES_IN_A_ROW`] batches' worth of
//! transactions in a row were held back: behind a hot key (one pool's
//! swaps) the rest of the window conflicts too, and walking all of it after
//! every finished batch took the scheduler thread much of a core beside
//! the one busy worker (docs/figures.md, issue 85).

use std::collections::VecDeque;

use lanes_runtime::{PoolTransaction, Runnable, ThreadLocks};

use crate::pool::Held;
use crate::scheduler::window::Candidate;

/// Batches' worth of transactions (`batch_size` each) a pass may hold back
/// in a row before it stops looking: the rest wait, unexamined, for the
/// next pass (after the next finished batch). One pool's swaps fill the
/// whole look-ahead window; each pass walked it all, its locks and
/// conflicts, while one worker ran the pool's lane and the other idled.
pub(crate) const HELD_BATCHES_IN_A_ROW: usize = 4;

/// What the workers have out, as the pass sees and updates it.
#[derive(Debug)]
pub(crate) struct Workers {
    /// Transactions sent to each worker and not yet done.
    pub(crate) load: Vec<usize>,
    /// Batches sent to each worker and not yet done.
    pub(crate) batches: Vec<usize>,
    /// Most batches out per worker.
    pub(crate) depth: usize,
}

impl Workers {
    pub(crate) fn new(workers: usize, depth: usize) -> Self {
        Self { load: vec![0; workers], batches: vec![0; workers], depth: depth.max(1) }
    }

    /// Whether any batch is out.
    pub(crate) fn in_flight(&self) -> bool {
        self.batches.iter().any(|b| *b > 0)
    }

    /// The lock-table thread that marks transactions held back in a pass.
    pub(crate) fn blocked(&self) -> usize {
        self.load.len()
    }
}

/// The limits a pass schedules within.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    /// The block's gas limit.
    pub(crate) gas_limit: u64,
    /// Gas the block has used or reserved (by gas limits) for work out.
    pub(crate) gas_used: u64,
    /// Most transactions per batch.
    pub(crate) batch_size: usize,
    /// How many more transactions the block's exclusive lane takes.
    pub(crate) lane_room: usize,
}

/// What a pass decided besides the batches it sent.
#[derive(Debug)]
pub(crate) struct Decided<T> {
    /// Transactions without a set, in rank order, to run one after another
    /// in the exclusive lane once nothing is in flight.
    pub(crate) exclusive: Vec<Held<T>>,
    /// Times a transaction was held back by a conflict.
    pub(crate) conflicts: u64,
    /// Gas (by gas limits) of the transactions sent.
    pub(crate) gas: u64,
}

/// One pass over `candidates` (the window, in rank order). Batches go out
/// through `send(worker, txs)` as they fill and at the end; what is not run
/// stays in `candidates`, in rank order, for the next pass.
pub(crate) fn pass<T: PoolTransaction>(
    candidates: &mut VecDeque<Candidate<T>>,
    locks: &mut ThreadLocks,
    workers: &mut Workers,
    budget: Budget,
    mut send: impl FnMut(usize, Vec<Held<T>>),
) -> Decided<T> {
    let n = workers.load.len();
    let blocked = workers.blocked();
    let batch_size = budget.batch_size.max(1);
    let mut decided = Decided { exclusive: Vec::new(), conflicts: 0, gas: 0 };
    let mut pending: Vec<Vec<Held<T>>> = (0..n).map(|_| Vec::new()).collect();
    let mut flush = |w: usize, txs: Vec<Held<T>>, workers: &mut Workers| {
        workers.batches[w] += 1;
        send(w, txs);
    };
    // Examined and held back, in order; they go back before the rest.
    let mut kept = Vec::new();
    // Held back since the last one sent.
    let mut held = 0;
    let most_held = HELD_BATCHES_IN_A_ROW.saturating_mul(batch_size);
    while let Some(c) = candidates.pop_front() {
        // Whether worker `w` can take this transaction: into its open batch,
        // or a new one while it has fewer than `depth` out.
        let takes = |w: usize| !pending[w].is_empty() || workers.batches[w] < workers.depth;
        // Once no worker can take another batch, the rest wait for the next
        // pass unexamined, where they are (the pass after each finished
        // batch would otherwise re-check the whole window).
        let barrier = !decided.exclusive.is_empty();
        if !barrier && (held >= most_held || !(0..n).any(takes)) {
            candidates.push_front(c);
            break;
        }
        if barrier && c.p.access().is_some() {
            // Behind the exclusive lane's barrier: only transactions for the
            // lane itself join the run, so it drains the work in flight once.
            kept.push(c);
            continue;
        }
        let gas = c.p.tx.gas_limit();
        let spent = budget.gas_used.saturating_add(decided.gas);
        if spent.saturating_add(gas) > budget.gas_limit {
            // It may fit once running work reports its real use, or in the
            // next block; what conflicts with it waits behind it.
            if let Some(set) = c.p.access() {
                locks.lock(blocked, set);
            }
            held += 1;
            kept.push(c);
            continue;
        }
        let Some(set) = c.p.access() else {
            if decided.exclusive.len() < budget.lane_room {
                // Runs alone once in-flight work drains; nothing jumps it.
                decided.gas = decided.gas.saturating_add(gas);
                decided.exclusive.push(c.p);
            } else {
                kept.push(c); // the block's lane is full: next block
            }
            continue;
        };
        let holders = locks.conflicts(set);
        let target = match holders.count_ones() {
            _ if holders & (1 << blocked) != 0 => None,
            // Conflicts only with work of `w`: queue it behind that work (the
            // worker runs its batches in order, and a batch records a new
            // entry where its transactions conflict).
            1 => Some(holders.trailing_zeros() as usize).filter(|w| takes(*w)),
            // Free: the least loaded worker that can take it.
            0 => (0..n).filter(|w| takes(*w)).min_by_key(|w| workers.load[*w] + pending[*w].len()),
            _ => None,
        };
        let Some(w) = target else {
            decided.conflicts += 1;
            locks.lock(blocked, set);
            held += 1;
            kept.push(c);
            continue;
        };
        held = 0;
        locks.lock(w, set);
        workers.load[w] += 1;
        decided.gas = decided.gas.saturating_add(gas);
        pending[w].push(c.p);
        if pending[w].len() >= batch_size {
            flush(w, std::mem::take(&mut pending[w]), workers);
        }
    }
    for c in kept.into_iter().rev() {
        candidates.push_front(c);
    }
    for (w, txs) in pending.into_iter().enumerate() {
        if !txs.is_empty() {
            flush(w, txs, workers);
        }
    }
    locks.unlock_all(blocked);
    decided
}
