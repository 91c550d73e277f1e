//! Ordered blocks against the one-by-one reference: same state, receipts
//! and fees, whatever the sets, the threads and the prediction policy; the
//! recorded sets replay to the same block; bad blocks are refused.

use alloy_primitives::{Address, B256, U256};
use lanes_accounts_db::{AccountHeader, AccountsDbConfig, AccountsRead, Entry};
use proptest::prelude::*;

use super::*;
use crate::admission::DeclaredAccess;
use crate::bank::SealedBlock;
use crate::chain::{Chain, Genesis};
use crate::executor::Transaction;
use crate::native::{NativeAdmission, NativeExecutor, NativeTx};
use crate::view::Access;

const SENDERS: u8 = 5;
const POINTERS: Address = Address::repeat_byte(0xf0);

fn sender(i: u8) -> Address {
    Address::repeat_byte(0x10 + i)
}

/// Sender 0 is also the coinbase: transfers from and to it read the fees.
fn coinbase() -> Address {
    sender(0)
}

fn new_chain() -> (tempfile::TempDir, Chain) {
    let funded = AccountHeader { balance: U256::from(1_000_000_000u64), ..Default::default() };
    let alloc = (0..SENDERS).map(|i| Entry::Account(sender(i), funded)).collect();
    let genesis = Genesis { alloc, gas_limit: 1 << 40, ..Default::default() };
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis).unwrap();
    (dir, chain)
}

/// The reference: each transaction alone, in order, its fee credited to
/// the coinbase before the next runs (as in Ethereum).
fn one_by_one(chain: &Chain, txs: &[NativeTx]) -> SealedBlock {
    let bank = chain.new_bank(1, coinbase());
    for tx in txs {
        let outcome = bank.run_one(&NativeExecutor, &mut (), tx, Access::Exclusive).unwrap();
        bank.credit_coinbase(outcome.fee, tx.hash()).unwrap();
        bank.record_entry(crate::BlockEntry::default(), vec![(tx.hash(), outcome)]);
    }
    bank.seal().unwrap()
}

#[derive(Clone, Debug)]
enum Op {
    Transfer(u8),
    Touch(Vec<(u8, u8)>, Vec<(u8, u8)>),
    Follow(u8),
}

fn op() -> impl Strategy<Value = Op> {
    let slot = (0u8..4, 0u8..3);
    prop_oneof![
        (0..SENDERS + 2).prop_map(Op::Transfer),
        (prop::collection::vec(slot.clone(), 0..3), prop::collection::vec(slot, 1..3))
            .prop_map(|(r, w)| Op::Touch(r, w)),
        (0u8..2).prop_map(Op::Follow),
    ]
}

/// Transactions with correct nonces; `declare`: 0 exactly, 1 one key short,
/// 2 nothing (predicted). `Follow`s never declare.
fn make_txs(specs: &[(u8, Op, u8)]) -> Vec<NativeTx> {
    let mut nonces = [0u64; SENDERS as usize];
    let slot = |(a, s): &(u8, u8)| (Address::repeat_byte(0xa0 + a), B256::with_last_byte(*s));
    specs
        .iter()
        .map(|(from, op, declare)| {
            let nonce = &mut nonces[*from as usize];
            let (from, fee) = (sender(*from), U256::from(3));
            let tx = match op {
                Op::Transfer(to) => {
                    NativeTx::transfer(from, *nonce, sender(to % SENDERS), U256::from(10), fee)
                }
                Op::Touch(r, w) => NativeTx::touch(
                    from,
                    *nonce,
                    r.iter().map(slot).collect(),
                    w.iter().map(slot).collect(),
                    fee,
                ),
                Op::Follow(p) => {
                    NativeTx::follow(from, *nonce, (POINTERS, B256::with_last_byte(*p)), fee)
                }
            };
            *nonce += 1;
            match (declare, tx.access_set().cloned()) {
                (1, Some(set)) => {
                    let writes = set.writes().iter().skip(1).copied();
                    tx.with_declared(Some(AccessSet::unbounded(
                        set.reads().iter().copied(),
                        writes,
                    )))
                }
                (2, _) => tx.with_declared(None),
                _ => tx,
            }
        })
        .collect()
}

fn config(threads: usize, reuse_predictions: bool) -> OrderedConfig {
    OrderedConfig { threads, reuse_predictions, ..OrderedConfig::default() }
}

fn ordered(
    chain: &Chain,
    txs: &[NativeTx],
    sets: OrderedSets<'_, NativeTx>,
    config: &OrderedConfig,
) -> Result<(SealedBlock, OrderedReport), OrderedError> {
    let bank = chain.new_bank(1, coinbase());
    let report = bank.execute_ordered(&NativeExecutor, txs, sets, config)?;
    Ok((bank.seal()?, report))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the sets (exact, short, none, state-dependent), threads and
    /// prediction policy: the state, receipts and fees of running them one
    /// by one; and the recorded sets replay to the same block.
    #[test]
    fn test_ordered_equals_one_by_one_and_replays(
        specs in prop::collection::vec((0..SENDERS, op(), prop_oneof![3 => Just(0u8), 1 => Just(1u8), 2 => Just(2u8)]), 1..40),
        threads in 1usize..5,
        reuse in any::<bool>(),
    ) {
        let txs = make_txs(&specs);
        let (_dir, chain) = new_chain();
        let reference = one_by_one(&chain, &txs);
        let (sealed, report) =
            ordered(&chain, &txs, OrderedSets::Predict(&NativeAdmission), &config(threads, reuse)).unwrap();
        prop_assert_eq!(&sealed.receipts, &reference.receipts);
        prop_assert_eq!(sealed.block.header.state_commitment, reference.block.header.state_commitment);
        prop_assert_eq!(&sealed.changes, &reference.changes);
        let order: Vec<_> = sealed.block.txs().map(|t| t.tx.clone()).collect();
        let given: Vec<_> = txs.iter().map(|t| t.encoded().clone()).collect();
        prop_assert_eq!(order, given, "recorded in block order");
        for entry in &sealed.block.entries {
            for (i, a) in entry.txs.iter().enumerate() {
                for b in &entry.txs[i + 1..] {
                    prop_assert!(!a.access.conflicts_with(&b.access));
                }
            }
        }

        let recorded = recorded_sets(&report);
        for replay_threads in [1, 3] {
            let (again, _) = ordered(&chain, &txs, OrderedSets::Recorded(&recorded), &config(replay_threads, reuse)).unwrap();
            prop_assert_eq!(&again.block, &sealed.block);
            prop_assert_eq!(&again.receipts, &reference.receipts);
        }
    }
}

#[test]
fn test_a_misprediction_is_run_again_and_a_later_run_it_conflicts_with_is_undone() {
    // 0 and 1 follow the same pointer (at 0): predicted against the parent,
    // 1 predicts slot 0 but writes slot 1. 2 writes slot 1 directly and
    // conflicts with nothing predicted, so it may finish before 1 strays.
    let pointer = (POINTERS, B256::ZERO);
    let target = (POINTERS, B256::with_last_byte(1));
    let txs = vec![
        NativeTx::follow(sender(1), 0, pointer, U256::from(1)),
        NativeTx::follow(sender(2), 0, pointer, U256::from(1)),
        NativeTx::touch(sender(3), 0, vec![], vec![target], U256::from(1)).with_declared(None),
    ];
    let (_dir, chain) = new_chain();
    let reference = one_by_one(&chain, &txs);
    for threads in [1, 2, 3] {
        let (sealed, report) =
            ordered(&chain, &txs, OrderedSets::Predict(&NativeAdmission), &config(threads, true))
                .unwrap();
        assert_eq!(sealed.block.header.state_commitment, reference.block.header.state_commitment);
        assert_eq!(sealed.receipts, reference.receipts);
        let kinds: Vec<RunKind> = report.txs[1].runs.iter().map(|r| r.kind).collect();
        assert!(
            kinds.contains(&RunKind::Alone),
            "tx 1 ran alone after its prediction missed: {kinds:?}"
        );
        assert!(report.txs[0].stood, "tx 0's prediction stands: nothing before it");
        let set = report.txs[1].access.as_ref().unwrap();
        assert!(set.allows_write(&crate::StateKey::Storage(target.0, target.1)));
    }
}

#[test]
fn test_a_transaction_that_reads_the_coinbase_sees_earlier_fees() {
    // Sender 0 is the coinbase: its transfer's balance check and its
    // recipient's credit come after the fees of 1 and 2.
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
            ordered(&chain, &txs, OrderedSets::Predict(&NativeAdmission), &config(threads, true))
                .unwrap();
        assert_eq!(sealed.changes, reference.changes);
        assert!(report.txs[2].reads_coinbase && !report.txs[2].stood);
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
        let err =
            ordered(&chain, &txs, OrderedSets::Predict(&DeclaredAccess), &config(threads, true))
                .unwrap_err();
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
    let (_, report) =
        ordered(&chain, &txs, OrderedSets::Predict(&DeclaredAccess), &config(2, true)).unwrap();
    let mut recorded = recorded_sets(&report);
    let short = crate::AccessSet::unbounded([], [crate::StateKey::Account(sender(3))]);
    recorded[1].access = Some(short);
    let err =
        ordered(&chain, &txs, OrderedSets::Recorded(&recorded), &config(2, true)).unwrap_err();
    assert_eq!(
        err,
        OrderedError::LeftItsSet { index: 1, key: crate::StateKey::Account(sender(4)) }
    );
    let err =
        ordered(&chain, &txs, OrderedSets::Recorded(&recorded[..1]), &config(2, true)).unwrap_err();
    assert_eq!(err, OrderedError::SetCount { sets: 1, txs: 2 });
    // Without a set, a recorded transaction runs alone with every key.
    recorded[1] = Admitted::default();
    let (sealed, _) =
        ordered(&chain, &txs, OrderedSets::Recorded(&recorded), &config(2, true)).unwrap();
    assert!(sealed.block.entries.last().unwrap().exclusive);
    assert_eq!(
        sealed
            .changes
            .iter()
            .filter(|e| matches!(e, Entry::Account(a, _) if *a == sender(4)))
            .count(),
        1
    );
    let _ = chain.db().get_account(&sender(4));
}

/// The reference run one by one, noting after each transaction (its fee
/// credited, as Ethereum pays it) the values of what it wrote and of the
/// coinbase: the writes a block's declaration gives, by index.
fn declared(chain: &Chain, txs: &[NativeTx]) -> Versions {
    let recording = crate::BankConfig { record_accesses: true, ..chain.bank_config().clone() };
    let bank = crate::Bank::new(
        chain.db().view(),
        chain.head_hash(),
        chain.lattice().clone(),
        chain.next_env(1, coinbase()),
        recording,
    );
    let mut versions = Versions::default();
    for (i, tx) in txs.iter().enumerate() {
        let index = i as u64 + 1;
        let outcome = bank.run_one(&NativeExecutor, &mut (), tx, Access::Exclusive).unwrap();
        bank.credit_coinbase(outcome.fee, tx.hash()).unwrap();
        let kept = bank.kept.lock().remove(&tx.hash()).unwrap_or_default();
        let state = bank.state();
        let mut addresses: Vec<Address> = kept.accounts.iter().map(|(a, _)| *a).collect();
        addresses.push(coinbase());
        for a in addresses {
            let header = state.account(&a, crate::StateKey::Account(a).hash64()).unwrap();
            versions.set_account(a, index, header);
        }
        for (a, s, _) in kept.slots {
            let value = state.storage(&a, &s, crate::StateKey::Storage(a, s).hash64()).unwrap();
            versions.set_slot(a, s, index, value);
        }
    }
    versions
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// With every transaction's writes declared by index, all run at once
    /// on any number of threads and give the one-by-one state, receipts and
    /// fees (the coinbase read and written as of each index); the sets they
    /// touched replay to the same block.
    #[test]
    fn test_versioned_equals_one_by_one(
        specs in prop::collection::vec((0..SENDERS, op(), Just(0u8)), 1..40),
        threads in 1usize..5,
    ) {
        let txs = make_txs(&specs);
        let (_dir, chain) = new_chain();
        let reference = one_by_one(&chain, &txs);
        let versions = declared(&chain, &txs);
        let (sealed, report) =
            ordered(&chain, &txs, OrderedSets::Versioned(&versions), &config(threads, true)).unwrap();
        prop_assert_eq!(&sealed.receipts, &reference.receipts);
        prop_assert_eq!(&sealed.changes, &reference.changes);
        prop_assert!(report.txs.iter().all(|t| t.source == AccessSource::Declared && t.runs.len() == 1));
        let recorded = recorded_sets(&report);
        let (again, _) = ordered(&chain, &txs, OrderedSets::Recorded(&recorded), &config(2, true)).unwrap();
        prop_assert_eq!(&again.block, &sealed.block);
    }
}
