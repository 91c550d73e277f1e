//! The pool's tests: nonce order, limits, replacement, requeue, predictions.
use super::*;
use alloy_primitives::U256;
use lanes_runtime::Transaction;
use lanes_runtime::native::NativeTx;

fn limits() -> PoolLimits {
    PoolLimits {
        max_pool: 8,
        max_per_sender: 3,
        price_bump_percent: 10,
        base_fee: 0,
        block_gas_limit: 1_000_000,
    }
}

fn tx(from: u8, nonce: u64, fee: u64) -> NativeTx {
    let to = Address::repeat_byte(0xaa);
    NativeTx::transfer(Address::repeat_byte(from), nonce, to, U256::from(1), U256::from(fee))
}

#[test]
fn test_nonce_order_gaps_and_priority() {
    let mut pool = TxPool::new(limits());
    // Sender 1 from nonce 5, sent out of order; sender 2 pays more.
    for n in [7, 5, 6] {
        pool.insert_tx(tx(1, n, 21_000), |_| 5).unwrap();
    }
    pool.insert_tx(tx(2, 0, 42_000 * 3), |_| 0).unwrap();
    pool.insert_tx(tx(3, 2, 21_000 * 9), |_| 0).unwrap(); // a gap: nonce 0 missing
    let p = pool.pop().unwrap();
    assert_eq!((p.tx.sender(), p.tx.nonce()), (Address::repeat_byte(2), 0));
    let p = pool.pop().unwrap();
    assert_eq!(p.tx.nonce(), 5);
    assert!(pool.pop().is_none(), "sender 1 is out, sender 3 has a gap");
    assert_eq!(pool.pending_nonce(&Address::repeat_byte(1)), Some(8));
    pool.finish(&p, true);
    assert_eq!(pool.pop().unwrap().tx.nonce(), 6);
    assert_eq!(pool.len(), 4);
}

#[test]
fn test_errors() {
    let mut pool = TxPool::new(limits());
    let first = tx(1, 0, 21_000);
    pool.insert_tx(first.clone(), |_| 0).unwrap();
    assert_eq!(
        pool.insert_tx(first, |_| 0),
        Err(SubmitError::AlreadyKnown(tx(1, 0, 21_000).hash()))
    );
    assert_eq!(
        pool.insert_tx(tx(4, 1, 21_000), |_| 3),
        Err(SubmitError::NonceTooLow { next: 3, got: 1 })
    );
    // A 5% bump is not enough, 10% is.
    let err = pool.insert_tx(tx(1, 0, 22_050), |_| 0).unwrap_err();
    assert_eq!(err, SubmitError::ReplacementUnderpriced { needed: 2 });
    let replacement = pool.insert_tx(tx(1, 0, 42_000), |_| 0).unwrap();
    assert_eq!(pool.len(), 1, "a replacement takes the old one's place");
    let discarded = pool.take_discarded();
    assert_eq!(discarded.len(), 1);
    assert_eq!(discarded[0].0, tx(1, 0, 21_000).hash());
    assert!(discarded[0].1.contains(&format!("replaced by {replacement}")), "{discarded:?}");
    assert!(pool.holds(&replacement) && !pool.holds(&discarded[0].0));
    pool.insert_tx(tx(1, 1, 21_000), |_| 0).unwrap();
    pool.insert_tx(tx(1, 2, 21_000), |_| 0).unwrap();
    assert_eq!(
        pool.insert_tx(tx(1, 3, 21_000), |_| 0),
        Err(SubmitError::SenderOverLimit { limit: 3 })
    );
    // The running transaction is known; its nonce cannot be reused.
    let out = pool.pop().unwrap();
    assert_eq!(out.tip, 2);
    assert_eq!(pool.insert_tx(tx(1, 0, 42_000), |_| 0), Err(SubmitError::AlreadyKnown(out.hash)));
    assert_eq!(
        pool.insert_tx(tx(1, 1, 21_000), |_| 0),
        Err(SubmitError::AlreadyKnown(tx(1, 1, 21_000).hash())),
        "queued behind the running one",
    );
    assert_eq!(
        pool.insert_tx(tx(1, 0, 99_000), |_| 0),
        Err(SubmitError::NonceTooLow { next: 1, got: 0 })
    );
    for s in 10..15 {
        pool.insert_tx(tx(s, 0, 21_000), |_| 0).unwrap();
    }
    assert_eq!(pool.insert_tx(tx(20, 0, 21_000), |_| 0), Err(SubmitError::PoolFull { limit: 8 }));
    // A dropped transaction keeps the nonce open for a new one.
    pool.finish(&out, false);
    assert_eq!(pool.pending_nonce(&Address::repeat_byte(1)), Some(0));
}

/// A sender at its limit: a nonce below its highest takes that one's place
/// (sends arriving out of order still leave the next nonce in the pool).
#[test]
fn test_a_lower_nonce_takes_the_place_of_a_full_senders_highest() {
    let mut pool = TxPool::new(limits());
    for nonce in 1..=3 {
        pool.insert_tx(tx(1, nonce, 21_000), |_| 0).unwrap();
    }
    assert_eq!(
        pool.insert_tx(tx(1, 4, 21_000), |_| 0),
        Err(SubmitError::SenderOverLimit { limit: 3 })
    );
    assert!(pool.pop().is_none(), "nonce 0 is missing: nothing runs");
    let first = pool.insert_tx(tx(1, 0, 21_000), |_| 0).unwrap();
    assert_eq!(pool.len(), 3, "still the sender's limit");
    let discarded = pool.take_discarded();
    assert_eq!(discarded.len(), 1);
    assert_eq!(discarded[0].0, tx(1, 3, 21_000).hash(), "the highest nonce made room");
    assert!(discarded[0].1.contains("nonce 0 came in below it"), "{discarded:?}");
    assert!(!pool.holds(&discarded[0].0));
    assert_eq!(pool.pop().map(|p| p.hash), Some(first), "the next nonce runs");
}

#[test]
fn test_a_pruned_senders_place_is_reused_and_stale_entries_skipped() {
    let mut pool = TxPool::new(limits());
    pool.insert_tx(tx(1, 0, 21_000), |_| 0).unwrap();
    // A replacement leaves the first one's heap entry stale.
    pool.insert_tx(tx(1, 0, 42_000), |_| 0).unwrap();
    let p = pool.pop().unwrap();
    assert_eq!(p.tip, 2);
    pool.finish(&p, true);
    pool.prune_idle();
    assert_eq!(pool.pending_nonce(&Address::repeat_byte(1)), None, "sender 1 pruned");
    // Sender 2 takes sender 1's place, under the stale entry pointing at it.
    pool.insert_tx(tx(2, 4, 21_000), |_| 4).unwrap();
    assert_eq!(pool.queues.len(), 1, "the freed place is reused");
    let p = pool.pop().unwrap();
    assert_eq!((p.tx.sender(), p.tx.nonce()), (Address::repeat_byte(2), 4));
    assert!(pool.pop().is_none(), "the stale entry names no transaction");
    pool.finish(&p, false);
    assert_eq!(pool.pending_nonce(&Address::repeat_byte(2)), Some(4));
    assert_eq!(pool.len(), 0);
    // Sender 1 comes back with its nonce read from state again.
    pool.insert_tx(tx(1, 1, 21_000), |_| 1).unwrap();
    assert_eq!(pool.pop().unwrap().tx.nonce(), 1);
}

#[test]
fn test_requeued_transactions_run_again_from_the_lowest_nonce() {
    let mut pool = TxPool::new(limits());
    for n in 0..3 {
        pool.insert_tx(tx(1, n, 21_000), |_| 0).unwrap();
    }
    pool.insert_tx(tx(2, 0, 21_000 * 3), |_| 0).unwrap();
    // Sender 2's nonce 0 (the best tip) and sender 1's nonces 0 and 1 run
    // and are included; sender 1's nonce 2 is taken out and held.
    let mut included = Vec::new();
    for _ in 0..3 {
        let p = pool.pop().unwrap();
        pool.finish(&p, true);
        included.push(p);
    }
    let held = pool.pop().unwrap();
    assert_eq!((held.tx.sender(), held.tx.nonce()), (Address::repeat_byte(1), 2));
    assert_eq!(pool.len(), 1);
    // The block is discarded: everything goes back.
    pool.requeue(included.into_iter().chain([held]));
    assert_eq!(pool.len(), 4);
    assert_eq!(pool.pending_nonce(&Address::repeat_byte(1)), Some(3));
    let mut order = Vec::new();
    while let Some(p) = pool.pop() {
        order.push((p.tx.sender(), p.tx.nonce()));
        pool.finish(&p, true);
    }
    order.sort();
    let one = Address::repeat_byte(1);
    assert_eq!(order, [(one, 0), (one, 1), (one, 2), (Address::repeat_byte(2), 0)]);
    assert_eq!(pool.len(), 0);
}

#[test]
fn test_a_transaction_being_predicted_waits_and_holds_its_sender_back() {
    let mut pool = TxPool::new(limits());
    let undeclared = |nonce| tx(1, nonce, 21_000).with_declared(None);
    pool.insert(undeclared(0), None, |_| 0).unwrap();
    pool.insert(undeclared(1), None, |_| 0).unwrap();
    pool.insert_tx(tx(2, 0, 42_000), |_| 0).unwrap();
    assert_eq!(pool.len(), 3);
    assert_eq!(pool.pending_nonce(&Address::repeat_byte(1)), Some(2));
    // Only sender 2 is ready: sender 1's first waits for its set.
    assert_eq!(pool.pop().unwrap().tx.sender(), Address::repeat_byte(2));
    assert!(pool.pop().is_none());
    // Nonce 1's set arrives first: still nothing, nonce 0 comes first.
    let set = |nonce| Admitted {
        access: tx(1, nonce, 21_000).access_set().cloned(),
        source: AccessSource::Predicted,
    };
    pool.predicted(&Address::repeat_byte(1), 1, undeclared(1).hash(), set(1));
    assert!(pool.pop().is_none());
    // A prediction for a transaction the pool does not hold changes nothing.
    pool.predicted(&Address::repeat_byte(1), 0, tx(1, 0, 21_000).hash(), set(0));
    assert!(pool.pop().is_none());
    pool.predicted(&Address::repeat_byte(1), 0, undeclared(0).hash(), set(0));
    let p = pool.pop().unwrap();
    assert_eq!((p.tx.nonce(), p.admitted.source), (0, AccessSource::Predicted));
    assert!(p.admitted.access.is_some());
    pool.finish(&p, true);
    assert_eq!(pool.pop().unwrap().tx.nonce(), 1, "predicted already: ready at once");
}

#[test]
fn test_a_refused_first_transaction_leaves_no_queue() {
    let mut pool = TxPool::new(limits());
    for s in 0..8 {
        pool.insert_tx(tx(s, 0, 21_000), |_| 0).unwrap();
    }
    assert_eq!(pool.insert_tx(tx(20, 0, 21_000), |_| 0), Err(SubmitError::PoolFull { limit: 8 }));
    assert_eq!(
        pool.insert_tx(tx(21, 0, 21_000), |_| 5),
        Err(SubmitError::NonceTooLow { next: 5, got: 0 })
    );
    assert_eq!(pool.pending_nonce(&Address::repeat_byte(20)), None);
    assert_eq!(pool.pending_nonce(&Address::repeat_byte(21)), None);
    assert_eq!(
        (pool.senders.len(), pool.queues.len(), pool.free.len()),
        (8, 9, 1),
        "one place, freed"
    );
}

#[test]
fn test_stale_entries_never_read_as_ready_work() {
    let mut pool = TxPool::new(limits());
    pool.insert_tx(tx(1, 0, 21_000), |_| 0).unwrap();
    pool.insert_tx(tx(2, 3, 21_000), |_| 3).unwrap();
    assert!(pool.has_ready());
    // A block built elsewhere used both nonces: the transactions leave, and
    // their entries in the ready order name nothing.
    pool.learn_nonces(|sender| if *sender == Address::repeat_byte(1) { 1 } else { 4 });
    assert_eq!(pool.len(), 0);
    assert!(!pool.has_ready(), "stale entries are not work");
    assert!(pool.pop().is_none());
    // A replacement's stale predecessor does not hide the live one.
    pool.insert_tx(tx(1, 1, 21_000), |_| 1).unwrap();
    pool.insert_tx(tx(1, 1, 42_000), |_| 1).unwrap();
    assert!(pool.has_ready());
    assert_eq!(pool.pop().unwrap().tip, 2);
    assert!(!pool.has_ready(), "its sender is out");
}
