//! The engine's own cases, with runs held so each interleaving is fixed:
//! a read of a version written back unchanged, changed, deleted; a read of
//! an estimate; credits and debits folded at the commit; the coinbase read
//! mid-block; a panic in a run.

use alloy_primitives::{B256, U256};

use super::*;
use crate::Admitted;
use crate::error::{DecodeError, TxError};
use crate::executor::{BlockEnv, Executor, Transaction};
use crate::native::{NativeExecutor, NativeTx};
use crate::outcome::Outcome;
use crate::view::StateView;

/// The native executor, holding the runs of the `held` transactions until
/// a run of each opener has finished: a test fixes which runs read state
/// before which commits, however the threads are scheduled. Runs it as
/// many threads as transactions. It panics on a run of `panics`, if set.
struct Gated {
    held: Vec<B256>,
    panics: Option<B256>,
    /// The openers that have not run yet: open once none is left.
    closed: parking_lot::Mutex<Vec<B256>>,
    opened: parking_lot::Condvar,
}

impl Gated {
    fn new(held: &[&NativeTx], opener: &NativeTx) -> Self {
        Self::after(held, &[opener])
    }

    /// Holding `held` until a run of each of `openers` has finished.
    fn after(held: &[&NativeTx], openers: &[&NativeTx]) -> Self {
        Self {
            held: held.iter().map(|t| t.hash()).collect(),
            panics: None,
            closed: parking_lot::Mutex::new(openers.iter().map(|t| t.hash()).collect()),
            opened: parking_lot::Condvar::new(),
        }
    }

    /// Holding nothing, panicking on a run of `tx`.
    fn panicking_on(tx: &NativeTx) -> Self {
        Self { panics: Some(tx.hash()), ..Self::new(&[], tx) }
    }
}

impl Executor for Gated {
    type Tx = NativeTx;
    type Worker<'b> = ();

    fn decode(&self, bytes: &[u8]) -> Result<NativeTx, DecodeError> {
        NativeExecutor.decode(bytes)
    }

    fn worker<'b>(&'b self, _env: &'b BlockEnv) {}

    fn execute<'b>(
        &self,
        _worker: &mut (),
        tx: &NativeTx,
        state: StateView<'b>,
    ) -> (Result<Outcome, TxError>, StateView<'b>) {
        assert_ne!(Some(tx.hash()), self.panics, "the executor panics on this one");
        if self.held.contains(&tx.hash()) {
            let mut closed = self.closed.lock();
            while !closed.is_empty() {
                self.opened.wait(&mut closed);
            }
        }
        let ran = NativeExecutor.execute(&mut (), tx, state);
        let mut closed = self.closed.lock();
        if let Some(at) = closed.iter().position(|h| *h == tx.hash()) {
            closed.swap_remove(at);
            if closed.is_empty() {
                self.opened.notify_all();
            }
        }
        ran
    }
}

/// `writes` run (held) while a reader of slot (0, 1) (genesis value 2) runs
/// first on the parent state. The block equals one by one; answers whether
/// the reader's first run stood and how often it ran again.
fn reader_after(writes: &[u8]) -> (bool, usize) {
    let target = slot(0, 1);
    let mut txs: Vec<NativeTx> = writes
        .iter()
        .enumerate()
        .map(|(i, v)| NativeTx::set(sender(i as u8 + 1), 0, target, U256::from(*v), U256::from(1)))
        .collect();
    let reader = NativeTx::touch(sender(4), 0, vec![target], vec![slot(1, 2)], U256::from(1));
    txs.push(reader.clone());
    let gate = Gated::new(&txs.iter().take(writes.len()).collect::<Vec<_>>(), &reader);
    let (_dir, chain) = new_chain();
    let reference = one_by_one(&chain, &txs);
    let (sealed, report) = ordered(&gate, &chain, &txs, OrderedSets::Run, txs.len()).unwrap();
    assert_eq!(sealed.changes, reference.changes, "writes {writes:?}");
    assert_eq!(sealed.receipts, reference.receipts, "writes {writes:?}");
    let last = report.txs.last().unwrap();
    (last.stood, last.reruns())
}

#[test]
fn test_a_run_stands_when_what_it_read_was_written_back_unchanged() {
    assert_eq!(reader_after(&[2]), (true, 0));
}

#[test]
fn test_a_run_whose_read_changed_runs_again() {
    // Changed; cleared (the reader read a key an earlier transaction
    // deleted); changed back and changed again.
    for writes in [&[5][..], &[0], &[2, 7]] {
        let (stood, reruns) = reader_after(writes);
        assert!(!stood && reruns >= 1, "writes {writes:?}");
    }
    // Changed and changed back, cleared and put back: the block is right
    // however the reader's runs met the commits (`changed`'s own test
    // shows the value put back holds).
    for writes in [&[5, 2][..], &[0, 2]] {
        reader_after(writes);
    }
}

#[test]
fn test_credits_to_one_account_stand_whatever_order_they_ran_in() {
    // Three transfers to sender 4: the later two run (and read its balance)
    // before the first commits; each only credited it, so each stands and
    // its credit lands on the balance it finds at its turn.
    let to = sender(4);
    let txs: Vec<NativeTx> = (1..=3)
        .map(|i| {
            NativeTx::transfer(sender(i), 0, to, U256::from(100 * u64::from(i)), U256::from(1))
        })
        .collect();
    let gate = Gated::new(&[&txs[0]], &txs[2]);
    let (_dir, chain) = new_chain();
    let reference = one_by_one(&chain, &txs);
    let (sealed, report) = ordered(&gate, &chain, &txs, OrderedSets::Run, txs.len()).unwrap();
    assert_eq!(sealed.changes, reference.changes);
    assert_eq!(report.reruns(), 0);
    assert!(report.txs.iter().all(|t| t.waited_for.is_none()));
    // A transfer from the credited account does not wait for the credits:
    // it only takes from its balance, which covers it with or without them.
    // It credits sender 1, whose nonce the first transfer steps: run before
    // that one (gated) or after, its credit stands on the nonce it finds.
    let mut txs = txs;
    txs.push(NativeTx::transfer(to, 0, sender(1), U256::from(7), U256::from(1)));
    let reference = one_by_one(&chain, &txs);
    let gate = Gated::new(&[&txs[0]], &txs[3]);
    // 0: gated, a thread per transaction.
    for threads in [0, 1, 4] {
        let (sealed, report) = match threads {
            0 => ordered(&gate, &chain, &txs, OrderedSets::Run, txs.len()),
            _ => ordered(&NativeExecutor, &chain, &txs, OrderedSets::Run, threads),
        }
        .unwrap();
        assert_eq!(sealed.changes, reference.changes);
        let t = &report.txs[3];
        assert!(t.waited_for.is_none() && t.stood && t.debited == vec![to], "{t:?}");
        assert!(t.credited == vec![sender(1)], "{t:?}");
    }
}

#[test]
fn test_a_senders_transfers_run_at_once_and_each_takes_from_the_balance_at_its_turn() {
    // Ten transfers from one sender between another sender's writes: none
    // waits for the one before it; each runs showing its own nonce, and
    // stands with what it took coming off the balance at its turn. The
    // other sender's writes, which are not transfers, wait for their
    // predecessor's run.
    let mut txs = Vec::new();
    for nonce in 0..10 {
        txs.push(NativeTx::transfer(sender(1), nonce, sender(2), U256::from(1), U256::from(1)));
        txs.push(NativeTx::touch(sender(3), nonce, vec![], vec![slot(2, 0)], U256::from(1)));
    }
    let (_dir, chain) = new_chain();
    let reference = one_by_one(&chain, &txs);
    for threads in [1, 2, 4] {
        let (sealed, report) =
            ordered(&NativeExecutor, &chain, &txs, OrderedSets::Run, threads).unwrap();
        assert_eq!(sealed.changes, reference.changes);
        assert_eq!(sealed.receipts, reference.receipts);
        assert_eq!(report.reruns(), 0, "{threads} threads: {:?}", ran_again(&report));
        for (i, t) in report.txs.iter().enumerate().step_by(2).skip(1) {
            assert!(t.waited_for.is_none() && t.debited == vec![sender(1)], "{i}: {t:?}");
        }
        // One worker runs the block in order: nothing waits.
        assert_eq!(report.txs[3].waited_for, (threads > 1).then_some(1));
    }
}

#[test]
fn test_a_transfer_its_sender_cannot_pay_at_its_turn_makes_the_block_invalid() {
    // Sender 1 (1e9) sends nearly all it has, then a transfer it can no
    // longer pay: the second's run, made before the first committed, saw
    // the full balance; at its turn the balance does not cover it.
    let txs = vec![
        NativeTx::transfer(sender(1), 0, sender(2), U256::from(999_999_995u64), U256::from(1)),
        NativeTx::transfer(sender(3), 0, sender(4), U256::from(5), U256::from(1)),
        NativeTx::transfer(sender(1), 1, sender(2), U256::from(5), U256::from(1)),
    ];
    let gate = Gated::new(&[&txs[0]], &txs[2]);
    let (_dir, chain) = new_chain();
    let err = ordered(&gate, &chain, &txs, OrderedSets::Run, txs.len()).unwrap_err();
    assert!(matches!(err, OrderedError::Invalid { index: 2, .. }), "{err}");
    for threads in [1, 2] {
        let err = ordered(&NativeExecutor, &chain, &txs, OrderedSets::Run, threads).unwrap_err();
        assert!(matches!(err, OrderedError::Invalid { index: 2, .. }), "{err}");
    }
    // Paid a credit first, it can.
    let mut txs = txs;
    txs.insert(1, NativeTx::transfer(sender(4), 0, sender(1), U256::from(50), U256::from(1)));
    let reference = one_by_one(&chain, &txs);
    let gate = Gated::new(&[&txs[0], &txs[1]], &txs[3]);
    let (sealed, report) = ordered(&gate, &chain, &txs, OrderedSets::Run, txs.len()).unwrap();
    assert_eq!(sealed.changes, reference.changes);
    assert!(report.txs[3].stood && report.txs[3].debited == vec![sender(1)]);
}

#[test]
fn test_a_senders_chain_runs_in_turn_without_a_wasted_run() {
    // Ten writes from one sender between others': each waits for the run
    // of the one before it, so none runs on a nonce that is about to change.
    let mut txs = Vec::new();
    for nonce in 0..10 {
        txs.push(NativeTx::touch(sender(1), nonce, vec![], vec![slot(1, 0)], U256::from(1)));
        txs.push(NativeTx::touch(sender(3), nonce, vec![], vec![slot(2, 0)], U256::from(1)));
    }
    let (_dir, chain) = new_chain();
    let reference = one_by_one(&chain, &txs);
    for threads in [1, 2, 4] {
        let (sealed, report) =
            ordered(&NativeExecutor, &chain, &txs, OrderedSets::Run, threads).unwrap();
        assert_eq!(sealed.changes, reference.changes);
        assert_eq!(report.reruns(), 0, "{threads} threads: {:?}", ran_again(&report));
        // One worker runs the block in order: nothing waits.
        assert_eq!(report.txs[2].waited_for, (threads > 1).then_some(0));
        assert_eq!(report.txs[3].waited_for, (threads > 1).then_some(1));
    }
}

#[test]
fn test_a_transaction_that_reads_the_coinbase_sees_earlier_fees() {
    // Sender 0 is the coinbase: its transfer's balance check and its
    // recipient's credit come after the fees of 1 and 2. A transfer only
    // takes from the coinbase's balance, so it runs at once and stands;
    // what it took comes off the balance with every earlier fee.
    let txs = vec![
        NativeTx::transfer(sender(1), 0, sender(3), U256::from(5), U256::from(7)),
        NativeTx::transfer(sender(2), 0, sender(4), U256::from(5), U256::from(11)),
        NativeTx::transfer(coinbase(), 0, sender(4), U256::from(5), U256::from(1))
            .with_declared(None),
        NativeTx::transfer(sender(3), 0, sender(1), U256::from(5), U256::from(13)),
    ];
    let (_dir, chain) = new_chain();
    let reference = one_by_one(&chain, &txs);
    for threads in [1, 2, 4] {
        let (sealed, report) =
            ordered(&NativeExecutor, &chain, &txs, OrderedSets::Run, threads).unwrap();
        assert_eq!(sealed.changes, reference.changes);
        assert_eq!(sealed.receipts, reference.receipts);
        let t = &report.txs[2];
        assert!(t.reads_coinbase && t.stood && t.waited_for.is_none(), "{t:?}");
        assert_eq!(t.debited, vec![coinbase()]);
    }
}

#[test]
fn test_an_invalid_transaction_makes_the_block_invalid() {
    let txs = vec![
        NativeTx::transfer(sender(1), 0, sender(2), U256::from(5), U256::from(1)),
        NativeTx::transfer(sender(1), 5, sender(2), U256::from(5), U256::from(1)),
        NativeTx::transfer(sender(3), 0, sender(2), U256::from(5), U256::from(1)),
    ];
    let (_dir, chain) = new_chain();
    for threads in [1, 3] {
        let err = ordered(&NativeExecutor, &chain, &txs, OrderedSets::Run, threads).unwrap_err();
        assert!(matches!(err, OrderedError::Invalid { index: 1, .. }), "{err}");
    }
}

#[test]
fn test_a_recorded_set_that_misses_a_key_makes_the_block_invalid() {
    let txs = vec![
        NativeTx::transfer(sender(1), 0, sender(2), U256::from(5), U256::from(1)),
        NativeTx::transfer(sender(3), 0, sender(4), U256::from(5), U256::from(1)),
    ];
    let (_dir, chain) = new_chain();
    let (_, report) = ordered(&NativeExecutor, &chain, &txs, OrderedSets::Run, 2).unwrap();
    let mut recorded = recorded_sets(&report);
    let short = crate::AccessSet::unbounded([], [crate::StateKey::Account(sender(3))]);
    recorded[1].access = Some(short);
    let err =
        ordered(&NativeExecutor, &chain, &txs, OrderedSets::Recorded(&recorded), 2).unwrap_err();
    assert_eq!(
        err,
        OrderedError::LeftItsSet { index: 1, key: crate::StateKey::Account(sender(4)) }
    );
    let err = ordered(&NativeExecutor, &chain, &txs, OrderedSets::Recorded(&recorded[..1]), 2)
        .unwrap_err();
    assert_eq!(err, OrderedError::SetCount { sets: 1, txs: 2 });
    // Without a set, a recorded transaction runs alone with every key.
    recorded[1] = Admitted::default();
    let (sealed, _) =
        ordered(&NativeExecutor, &chain, &txs, OrderedSets::Recorded(&recorded), 2).unwrap();
    assert!(sealed.block.entries.last().unwrap().exclusive);
    assert_eq!(
        sealed
            .changes
            .iter()
            .filter(|e| matches!(e, Entry::Account(a, _) if *a == sender(4)))
            .count(),
        1
    );
}

#[test]
fn test_a_read_of_an_estimate_waits_for_the_next_run_of_its_writer() {
    // 0 sets slot S (held until 1 and 2 have run); 1 reads S and writes W;
    // 2 reads W. 1 and 2 run first, on S's genesis value; 0's version of S
    // sends 1 back, its W an estimate that 2's check (or its run again)
    // meets.
    let (s, w) = (slot(0, 0), slot(1, 0));
    let txs = vec![
        NativeTx::set(sender(1), 0, s, U256::from(5), U256::from(1)),
        NativeTx::touch(sender(2), 0, vec![s], vec![w], U256::from(1)),
        NativeTx::touch(sender(3), 0, vec![w], vec![slot(2, 0)], U256::from(1)),
    ];
    let (_dir, chain) = new_chain();
    let reference = one_by_one(&chain, &txs);
    let gate = Gated::after(&[&txs[0]], &[&txs[1], &txs[2]]);
    let (sealed, report) = ordered(&gate, &chain, &txs, OrderedSets::Run, txs.len()).unwrap();
    assert_eq!(sealed.changes, reference.changes);
    assert_eq!(sealed.receipts, reference.receipts);
    assert!(report.txs[1].reruns() >= 1, "{:?}", report.txs[1]);
    assert_eq!(report.txs[1].changed, Some(crate::StateKey::Storage(s.0, s.1)));
    let again = &report.txs[2];
    assert!(again.reruns() >= 1 || again.runs.iter().any(|r| r.kind == RunKind::Stopped));
}

#[test]
fn test_a_call_from_the_coinbase_mid_block_sees_every_earlier_fee() {
    // The coinbase (sender 0) sends a call (not a transfer) between others'
    // transfers: it reads its own balance with every earlier fee in, and
    // the fees after it are paid on top.
    let mut txs = Vec::new();
    for i in 1..4 {
        txs.push(NativeTx::transfer(
            sender(i),
            0,
            sender(4),
            U256::from(5),
            U256::from(7 * u64::from(i)),
        ));
    }
    txs.push(NativeTx::touch(coinbase(), 0, vec![slot(0, 0)], vec![slot(0, 1)], U256::from(2)));
    for i in 1..4 {
        txs.push(NativeTx::transfer(sender(i), 1, coinbase(), U256::from(9), U256::from(3)));
    }
    let (_dir, chain) = new_chain();
    let reference = one_by_one(&chain, &txs);
    for threads in [1, 2, 4] {
        let (sealed, report) =
            ordered(&NativeExecutor, &chain, &txs, OrderedSets::Run, threads).unwrap();
        assert_eq!(sealed.changes, reference.changes, "{threads} threads");
        assert_eq!(sealed.receipts, reference.receipts);
        assert!(report.txs[3].reads_coinbase, "{:?}", report.txs[3]);
    }
}

#[test]
fn test_a_panic_in_a_run_reaches_the_caller_once_and_the_engine_stays_usable() {
    let txs: Vec<NativeTx> = (1..5)
        .flat_map(|i| {
            (0..8).map(move |n| {
                NativeTx::touch(
                    sender(i),
                    n,
                    vec![slot(0, 0)],
                    vec![slot(i, n as u8)],
                    U256::from(1),
                )
            })
        })
        .collect();
    let (_dir, chain) = new_chain();
    let reference = one_by_one(&chain, &txs);
    for threads in [1, 2, 4] {
        let panics = Gated::panicking_on(&txs[13]);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ordered(&panics, &chain, &txs, OrderedSets::Run, threads)
        }));
        let message = caught.expect_err("the panic reaches the caller");
        let text = message.downcast_ref::<String>().map(String::as_str).unwrap_or_default();
        assert!(text.contains("the executor panics on this one"), "{threads}: {text}");
        // The next block on the same workers runs to the one-by-one result.
        let (sealed, _) =
            ordered(&NativeExecutor, &chain, &txs, OrderedSets::Run, threads).unwrap();
        assert_eq!(sealed.changes, reference.changes, "{threads} threads, after the panic");
    }
}

#[test]
fn test_a_key_a_recorded_set_writes_but_its_run_does_not_is_no_estimate_after_the_run() {
    // 0's recorded set says it writes slot X, which it does not; 1 reads X.
    // X starts as 0's estimate, which 0's run, not writing X, must clear:
    // else 1 waits for a run that is done, for ever.
    let (x, a) = (slot(3, 0), slot(3, 1));
    let txs = vec![
        NativeTx::set(sender(1), 0, a, U256::from(5), U256::from(1)),
        NativeTx::touch(sender(2), 0, vec![x], vec![slot(2, 0)], U256::from(1)),
    ];
    let (_dir, chain) = new_chain();
    let reference = one_by_one(&chain, &txs);
    let (_, report) = ordered(&NativeExecutor, &chain, &txs, OrderedSets::Run, 1).unwrap();
    let mut recorded = recorded_sets(&report);
    let first = recorded[0].access.clone().unwrap();
    let over = crate::StateKey::Storage(x.0, x.1);
    let writes = first.writes().iter().copied().chain([over]);
    recorded[0].access = Some(crate::AccessSet::unbounded(first.reads().iter().copied(), writes));
    for threads in [2, 4] {
        let (sealed, _) =
            ordered(&NativeExecutor, &chain, &txs, OrderedSets::Recorded(&recorded), threads)
                .unwrap();
        assert_eq!(sealed.changes, reference.changes, "{threads} threads");
    }
}

/// The transactions of `report` that ran again: each with the key its
/// check found changed and its runs, what a failed count of reruns shows.
fn ran_again(report: &OrderedReport) -> Vec<(usize, Option<StateKey>, Vec<RunKind>)> {
    let runs = |t: &TxReport| t.runs.iter().map(|r| r.kind).collect();
    report
        .txs
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.stood)
        .map(|(k, t)| (k, t.changed, runs(t)))
        .collect()
}
