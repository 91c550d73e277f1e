//! Unit tests of the scheduler's decisions: one pass over a hand-built pool
//! and window, with the clock handed in.

use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, U256};
use lanes_runtime::native::{NativeTx, SLOT_GAS, TRANSFER_GAS};
use lanes_runtime::{AccessSet, PoolTransaction, StateKey, ThreadLocks};

use crate::pool::{Held, PoolLimits, TxPool};
use crate::scheduler::{Budget, Window, Workers, pass};

const MAX_WAIT: Duration = Duration::from_millis(100);

fn sender(i: u8) -> Address {
    Address::repeat_byte(i)
}

/// A transfer from `from` to a receiver of its own, paying `tip` per gas.
fn transfer(from: u8, nonce: u64, tip: u64) -> NativeTx {
    let fee = U256::from(tip * TRANSFER_GAS);
    NativeTx::transfer(sender(from), nonce, Address::with_last_byte(from), U256::from(1), fee)
}

/// A transaction writing the slots `hot` (and its sender), paying `tip`
/// per gas; `extra` more read slots raise its gas.
fn touch(from: u8, tip: u64, hot: &[u8], extra: u8) -> NativeTx {
    let slot = |i: u8| (Address::repeat_byte(0xee), B256::with_last_byte(i));
    let reads = (0..extra).map(|i| slot(0x80 + i)).collect();
    let writes: Vec<_> = hot.iter().map(|i| slot(*i)).collect();
    let gas = TRANSFER_GAS + SLOT_GAS * (hot.len() as u64 + u64::from(extra));
    NativeTx::touch(sender(from), 0, reads, writes, U256::from(tip * gas))
}

struct Setup {
    pool: TxPool<NativeTx>,
    window: Window<NativeTx>,
    locks: ThreadLocks,
    workers: Workers,
}

fn setup_test(workers: usize, txs: impl IntoIterator<Item = NativeTx>) -> Setup {
    let limits = PoolLimits {
        max_pool: 1000,
        max_per_sender: 16,
        price_bump_percent: 10,
        base_fee: 0,
        block_gas_limit: 30_000_000,
    };
    let mut pool = TxPool::new(limits);
    for tx in txs {
        pool.insert_tx(tx, |_| 0).unwrap();
    }
    Setup {
        pool,
        window: Window::new(MAX_WAIT),
        locks: ThreadLocks::new(workers + 1),
        workers: Workers::new(workers, 2),
    }
}

fn budget() -> Budget {
    Budget { gas_limit: 30_000_000, gas_used: 0, batch_size: 64, lane_room: usize::MAX }
}

/// (sender, nonce) of a transaction, to compare orders.
fn id(p: &Held<NativeTx>) -> (u8, u64) {
    (p.tx.sender().0[0], p.tx.nonce())
}

struct Outcome {
    /// The batches sent, in order: worker and transactions.
    batches: Vec<(usize, Vec<(u8, u64)>)>,
    /// The transactions sent, to finish in the pool.
    sent: Vec<Held<NativeTx>>,
    exclusive: Vec<(u8, u64)>,
    conflicts: u64,
    /// The window after the pass, in rank order.
    left: Vec<(u8, u64)>,
}

impl Setup {
    /// One pass at `now`, as the controller runs it.
    fn pass(&mut self, now: Instant, budget: Budget) -> Outcome {
        let pool = &mut self.pool;
        let mut candidates = self.window.take(now, 64, || pool.pop());
        let mut sent = Vec::new();
        let mut batches = Vec::new();
        let decided =
            pass(&mut candidates, &mut self.locks, &mut self.workers, budget, |w, txs| {
                batches.push((w, txs.iter().map(id).collect()));
                sent.extend(txs);
            });
        let left = candidates.iter().map(|c| id(&c.p)).collect();
        self.window.put_back(candidates);
        let exclusive = decided.exclusive.iter().map(id).collect();
        Outcome { batches, sent, exclusive, conflicts: decided.conflicts, left }
    }

    /// Completes everything sent: locks released, included in the pool.
    fn finish(&mut self, sent: Vec<Held<NativeTx>>) {
        for w in 0..self.workers.load.len() {
            self.workers.batches[w] = 0;
            self.workers.load[w] = 0;
            self.locks.unlock_all(w);
        }
        for p in sent {
            self.pool.finish(&p, true);
        }
    }
}

#[test]
fn test_best_tip_first() {
    // Three independent transfers: one batch on the one worker, best tip first.
    // The pass's clock is read before the pool's: none has aged, however
    // long the thread stalls in between.
    let now = Instant::now();
    let mut s = setup_test(1, [transfer(1, 0, 1), transfer(2, 0, 3), transfer(3, 0, 2)]);
    let out = s.pass(now, budget());
    assert_eq!(out.batches, [(0, vec![(2, 0), (3, 0), (1, 0)])]);
    assert!(out.left.is_empty() && out.exclusive.is_empty());
}

#[test]
fn test_a_sender_never_overtakes_itself() {
    // Sender 1's nonces 0..3 pay the most, sender 2 less: only one
    // transaction of a sender is out at a time, so a pass takes sender 1's
    // next nonce only after the one before it finished.
    let txs = [transfer(1, 0, 9), transfer(1, 1, 9), transfer(1, 2, 9), transfer(2, 0, 1)];
    let mut s = setup_test(2, txs);
    let now = Instant::now();
    let first = s.pass(now, budget());
    let sent: Vec<(u8, u64)> = first.batches.iter().flat_map(|(_, b)| b.clone()).collect();
    assert_eq!(sent, [(1, 0), (2, 0)]);
    s.finish(first.sent);
    let second = s.pass(now, budget());
    assert_eq!(second.batches, [(0, vec![(1, 1)])]);
    s.finish(second.sent);
    assert_eq!(s.pass(now, budget()).batches, [(0, vec![(1, 2)])]);
}

/// Sender 1 pays little and arrived at `t0`; sender 2 pays more and arrived
/// half a `MAX_WAIT` later. Both write slot 7, and sit in the window.
fn aging_setup(t0: Instant) -> Setup {
    let mut s = setup_test(1, [touch(1, 1, &[7], 0), touch(2, 5, &[7], 0)]);
    while let Some(mut p) = s.pool.pop() {
        p.arrived = if id(&p) == (1, 0) { t0 } else { t0 + MAX_WAIT / 2 };
        s.window.hold(p, t0);
    }
    s
}

#[test]
fn test_a_transaction_waiting_past_max_wait_goes_first() {
    let t0 = Instant::now();
    // Within max_wait of both arrivals: the better tip goes first.
    let out = aging_setup(t0).pass(t0 + MAX_WAIT * 3 / 4, budget());
    assert_eq!(out.batches, [(0, vec![(2, 0), (1, 0)])]);
    // Past max_wait of sender 1's arrival only: sender 1 goes first.
    let out = aging_setup(t0).pass(t0 + MAX_WAIT * 5 / 4, budget());
    assert_eq!(out.batches, [(0, vec![(1, 0), (2, 0)])]);
}

#[test]
fn test_an_undeclared_transaction_is_a_barrier() {
    // Sender 2 declares nothing: it waits for the exclusive lane, sender 4
    // (also without a set) joins its run, and sender 3, behind sender 2 in
    // rank, does not overtake it.
    let undeclared = |from, tip| transfer(from, 0, tip).with_declared(None);
    let txs = [transfer(1, 0, 4), undeclared(2, 3), transfer(3, 0, 2), undeclared(4, 1)];
    let mut s = setup_test(2, txs.clone());
    let out = s.pass(Instant::now(), budget());
    assert_eq!(out.batches, [(0, vec![(1, 0)])]);
    assert_eq!(out.exclusive, [(2, 0), (4, 0)]);
    assert_eq!(out.left, [(3, 0)]);

    // With room for one in the block's exclusive lane, the other waits for
    // the next block.
    let mut s = setup_test(2, txs.clone());
    let out = s.pass(Instant::now(), Budget { lane_room: 1, ..budget() });
    assert_eq!((out.exclusive, out.left), (vec![(2, 0)], vec![(3, 0), (4, 0)]));

    // With none, both wait, and the rest runs.
    let mut s = setup_test(2, txs);
    let out = s.pass(Instant::now(), Budget { lane_room: 0, ..budget() });
    let sent: Vec<(u8, u64)> = out.batches.iter().flat_map(|(_, b)| b.clone()).collect();
    assert_eq!(sent, [(1, 0), (3, 0)]);
    assert_eq!((out.exclusive, out.left), (vec![], vec![(2, 0), (4, 0)]));
}

#[test]
fn test_the_block_gas_limit_holds_back_without_letting_conflicts_jump() {
    // gas_limit 60k. Sender 1's transfer (21k) runs. Sender 2 writes slot 7
    // with 4 more read slots (41k): over what is left, so it waits. Sender
    // 3 also writes slot 7 and would fit (26k), but must not jump sender 2.
    // Sender 4's independent transfer (21k) fits and runs.
    let big = touch(2, 4, &[7], 3);
    assert_eq!(big.gas_limit(), TRANSFER_GAS + 4 * SLOT_GAS);
    let txs = [transfer(1, 0, 5), big, touch(3, 3, &[7], 0), transfer(4, 0, 2)];
    let mut s = setup_test(1, txs);
    let out = s.pass(Instant::now(), Budget { gas_limit: 60_000, ..budget() });
    assert_eq!(out.batches, [(0, vec![(1, 0), (4, 0)])]);
    assert_eq!(out.left, [(2, 0), (3, 0)]);
    // Nothing of the pass's marks is left in the lock table.
    let free = AccessSet::unbounded(
        [],
        [StateKey::Storage(Address::repeat_byte(0xee), B256::with_last_byte(7))],
    );
    assert_eq!(s.locks.conflicts(&free), 0);
}

#[test]
fn test_conflicts_go_to_their_worker_or_wait() {
    // Worker 0 runs a transaction writing slot 1, worker 1 one writing slot
    // 2. A transaction on slot 1 queues behind worker 0; one on slots 1 and
    // 2 waits (two workers hold them) and marks them, so one on slot 2 that
    // ranks after it waits too; a free one goes to the less loaded worker.
    let mut s = setup_test(2, [touch(1, 9, &[1], 0), touch(2, 8, &[2], 0)]);
    let out = s.pass(Instant::now(), budget());
    assert_eq!(out.batches, [(0, vec![(1, 0)]), (1, vec![(2, 0)])]);
    for tx in
        [touch(3, 7, &[1], 0), touch(4, 6, &[1, 2], 0), touch(5, 5, &[2], 0), transfer(6, 0, 4)]
    {
        s.pool.insert_tx(tx, |_| 0).unwrap();
    }
    let out = s.pass(Instant::now(), budget());
    assert_eq!(out.batches, [(0, vec![(3, 0)]), (1, vec![(6, 0)])]);
    assert_eq!(out.left, [(4, 0), (5, 0)]);
    assert_eq!(out.conflicts, 2);
    // Once the work in flight is done, both run, in rank order: sender 5
    // queues behind sender 4 on the same worker.
    s.finish(out.sent);
    let out = s.pass(Instant::now(), budget());
    assert_eq!(out.batches, [(0, vec![(4, 0), (5, 0)])]);
}

#[test]
fn test_full_workers_leave_the_window_unexamined() {
    // Each worker may have 2 batches out; with batch size 1, four
    // transactions fill them and the rest stay in the window, in order.
    let txs = (1..=6).map(|i| transfer(i, 0, u64::from(10 - i)));
    let mut s = setup_test(2, txs);
    let out = s.pass(Instant::now(), Budget { batch_size: 1, ..budget() });
    assert_eq!(out.batches.len(), 4);
    assert_eq!(out.left, [(5, 0), (6, 0)]);
    assert_eq!(out.conflicts, 0);
}

#[test]
fn test_a_pass_stops_looking_behind_a_run_of_held_transactions() {
    // Every transaction writes slot 1: worker 0 takes two batches of one
    // (its depth), and the rest conflict with them. The pass holds back
    // four batches' worth in a row and leaves the rest unexamined, in
    // order, though worker 1 could take a batch.
    let txs = (1..=10).map(|i| touch(i, 20 - u64::from(i), &[1], 0));
    let mut s = setup_test(2, txs);
    let out = s.pass(Instant::now(), Budget { batch_size: 1, ..budget() });
    assert_eq!(out.batches, [(0, vec![(1, 0)]), (0, vec![(2, 0)])]);
    assert_eq!(out.conflicts, crate::scheduler::pass::HELD_BATCHES_IN_A_ROW as u64);
    assert_eq!(out.left, (3..=10).map(|i| (i, 0)).collect::<Vec<_>>());
    // Once worker 0's batches are done, the next ones go, in rank order.
    s.finish(out.sent);
    let out = s.pass(Instant::now(), Budget { batch_size: 1, ..budget() });
    assert_eq!(out.batches, [(0, vec![(3, 0)]), (0, vec![(4, 0)])]);
}
