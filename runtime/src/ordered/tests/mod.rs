//! Ordered blocks against the one-by-one reference: same state, receipts
//! and fees, whatever the transactions and the threads; a run stands where
//! the values it read hold, and runs again where one changed; the recorded
//! sets replay to the same block; bad blocks are refused.

use alloy_primitives::{Address, B256, U256};
use lanes_accounts_db::{AccountHeader, AccountsDbConfig, Entry};
use proptest::prelude::*;

use super::*;
use crate::Versions;
use crate::access::{AccessSet, AccessSource};
use crate::bank::SealedBlock;
use crate::chain::{Chain, Genesis};
use crate::executor::{Executor, Transaction};
use crate::native::{NativeExecutor, NativeTx};
use crate::view::Access;

mod engine;

pub(super) const SENDERS: u8 = 5;
const POINTERS: Address = Address::repeat_byte(0xf0);

pub(super) fn sender(i: u8) -> Address {
    Address::repeat_byte(0x10 + i)
}

/// Sender 0 is also the coinbase: transfers from and to it read the fees.
pub(super) fn coinbase() -> Address {
    sender(0)
}

/// Slot `s` of contract `a`: the first two slots of each hold a value
/// from genesis (`s + 1`), so writes may clear them or put it back.
pub(super) fn slot(a: u8, s: u8) -> (Address, B256) {
    (Address::repeat_byte(0xa0 + a), B256::with_last_byte(s))
}

pub(super) fn new_chain() -> (tempfile::TempDir, Chain) {
    let funded = AccountHeader { balance: U256::from(1_000_000_000u64), ..Default::default() };
    let mut alloc: Vec<Entry> = (0..SENDERS).map(|i| Entry::Account(sender(i), funded)).collect();
    for (a, s) in (0..4).flat_map(|a| (0..2).map(move |s| (a, s))) {
        let (address, key) = slot(a, s);
        alloc.push(Entry::Storage(address, key, U256::from(s + 1)));
    }
    let genesis = Genesis { alloc, gas_limit: 1 << 40, ..Default::default() };
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis).unwrap();
    (dir, chain)
}

/// The reference: each transaction alone, in order, its fee credited to
/// the coinbase before the next runs (as in Ethereum).
pub(super) fn one_by_one(chain: &Chain, txs: &[NativeTx]) -> SealedBlock {
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
    /// A slot set to a value of 0..3: cleared, put back to its genesis
    /// value, or left as it is.
    Set((u8, u8), u8),
}

fn op() -> impl Strategy<Value = Op> {
    let slot = (0u8..4, 0u8..3);
    prop_oneof![
        (0..SENDERS + 2).prop_map(Op::Transfer),
        (prop::collection::vec(slot.clone(), 0..3), prop::collection::vec(slot.clone(), 1..3))
            .prop_map(|(r, w)| Op::Touch(r, w)),
        (0u8..2).prop_map(Op::Follow),
        (slot, 0u8..3).prop_map(|(s, v)| Op::Set(s, v)),
    ]
}

/// Up to 40 transactions as (sender, op, declare): 3 in 6 declare
/// exactly, 1 one key short, 2 nothing ([`make_txs`]).
fn specs() -> impl Strategy<Value = Vec<(u8, Op, u8)>> {
    let declare = prop_oneof![3 => Just(0u8), 1 => Just(1u8), 2 => Just(2u8)];
    prop::collection::vec((0..SENDERS, op(), declare), 1..40)
}

/// [`specs`], every one declaring exactly.
fn declared_specs() -> impl Strategy<Value = Vec<(u8, Op, u8)>> {
    prop::collection::vec((0..SENDERS, op(), Just(0u8)), 1..40)
}

/// Up to 30 payouts as (recipient, amount, pays part back, writes a slot).
fn payouts() -> impl Strategy<Value = Vec<(u8, u64, bool, bool)>> {
    prop::collection::vec((1u8..SENDERS, 1u64..400, any::<bool>(), any::<bool>()), 1..30)
}

/// Transactions with correct nonces; `declare`: 0 exactly, 1 one key short,
/// 2 nothing (predicted). `Follow`s never declare.
fn make_txs(specs: &[(u8, Op, u8)]) -> Vec<NativeTx> {
    let mut nonces = [0u64; SENDERS as usize];
    let slot = |&(a, s): &(u8, u8)| slot(a, s);
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
                Op::Set(s, v) => NativeTx::set(from, *nonce, slot(s), U256::from(*v), fee),
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

pub(super) fn config(threads: usize) -> OrderedConfig {
    OrderedConfig { threads, adaptive: false, ..OrderedConfig::default() }
}

pub(super) fn ordered<E: Executor<Tx = NativeTx>>(
    executor: &E,
    chain: &Chain,
    txs: &[NativeTx],
    sets: OrderedSets<'_>,
    threads: usize,
) -> Result<(SealedBlock, OrderedReport), OrderedError> {
    let bank = chain.new_bank(1, coinbase());
    let report = bank.execute_ordered(executor, txs, sets, &config(threads))?;
    Ok((bank.seal()?, report))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the transactions (declared or not, dependent on state,
    /// writes that clear a slot, put a value back or leave it) and the
    /// threads: the state, receipts and fees of running them one by one;
    /// and the recorded sets replay to the same block.
    #[test]
    fn test_ordered_equals_one_by_one_and_replays(
        specs in specs(),
        threads in 1usize..5,
    ) {
        equals_one_by_one_and_replays(&specs, threads)?;
    }
}

proptest! {
    // Enough cases that a race the points open shows in most runs
    // (48 found the engine's last one in one run of three).
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The same with the engine's race points pausing workers now and then
    /// ([`crate::races`]): the interleavings a loaded machine shows.
    #[test]
    fn test_ordered_equals_one_by_one_under_races(
        specs in specs(),
        threads in 2usize..5,
    ) {
        let _races = crate::races::Races::on();
        equals_one_by_one_and_replays(&specs, threads)?;
    }
}

/// [`test_ordered_equals_one_by_one_and_replays`]'s check of one case.
fn equals_one_by_one_and_replays(
    specs: &[(u8, Op, u8)],
    threads: usize,
) -> Result<(), TestCaseError> {
    let txs = make_txs(specs);
    let (_dir, chain) = new_chain();
    let reference = one_by_one(&chain, &txs);
    let (sealed, report) =
        ordered(&NativeExecutor, &chain, &txs, OrderedSets::Run, threads).unwrap();
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
    if threads == 1 {
        prop_assert_eq!(report.stood(), txs.len(), "one worker: each runs once, in order");
    }

    let recorded = recorded_sets(&report);
    for replay_threads in [1, 3] {
        let (again, _) = ordered(
            &NativeExecutor,
            &chain,
            &txs,
            OrderedSets::Recorded(&recorded),
            replay_threads,
        )
        .unwrap();
        prop_assert_eq!(&again.block, &sealed.block);
        prop_assert_eq!(&again.receipts, &reference.receipts);
    }
    Ok(())
}

/// A payer's balance at genesis in [`test_ordered_payouts_equal_one_by_one`].
const PAYER_BALANCE: u64 = 4_000;

/// [`one_by_one`], on a chain where `payer` holds [`PAYER_BALANCE`]:
/// the sealed block, or the index of the first transaction that cannot run.
fn payouts_one_by_one(chain: &Chain, txs: &[NativeTx]) -> Result<SealedBlock, usize> {
    let bank = chain.new_bank(1, coinbase());
    for (i, tx) in txs.iter().enumerate() {
        let outcome =
            bank.run_one(&NativeExecutor, &mut (), tx, Access::Exclusive).map_err(|_| i)?;
        bank.credit_coinbase(outcome.fee, tx.hash()).unwrap();
        bank.record_entry(crate::BlockEntry::default(), vec![(tx.hash(), outcome)]);
    }
    Ok(bank.seal().unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A payer with a small balance pays plain transfers (some recipients
    /// pay part back, crediting it) between other senders' writes, on any
    /// threads: each transfer runs at once showing its own nonce, and at its
    /// turn what it took comes off the balance found there. The block
    /// equals running them one by one: the same state and receipts, or the
    /// same first transaction refused where the payer could not cover it.
    #[test]
    fn test_ordered_payouts_equal_one_by_one(
        payouts in payouts(),
        threads in 1usize..5,
        payer_is_coinbase in any::<bool>(),
    ) {
        payouts_equal_one_by_one(&payouts, threads, payer_is_coinbase)?;
    }
}

proptest! {
    // Enough cases that a race the points open shows in most runs
    // (48 found the engine's last one in one run of three).
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The same with the engine's race points pausing workers now and then.
    #[test]
    fn test_ordered_payouts_equal_one_by_one_under_races(
        payouts in payouts(),
        threads in 2usize..5,
        payer_is_coinbase in any::<bool>(),
    ) {
        let _races = crate::races::Races::on();
        payouts_equal_one_by_one(&payouts, threads, payer_is_coinbase)?;
    }
}

/// [`test_ordered_payouts_equal_one_by_one`]'s check of one case.
fn payouts_equal_one_by_one(
    payouts: &[(u8, u64, bool, bool)],
    threads: usize,
    payer_is_coinbase: bool,
) -> Result<(), TestCaseError> {
    let payer = if payer_is_coinbase { coinbase() } else { Address::repeat_byte(0x77) };
    let funded = AccountHeader { balance: U256::from(PAYER_BALANCE), ..Default::default() };
    let rich = AccountHeader { balance: U256::from(1_000_000_000u64), ..Default::default() };
    let mut alloc: Vec<Entry> = (1..SENDERS).map(|i| Entry::Account(sender(i), rich)).collect();
    alloc.push(Entry::Account(payer, funded));
    alloc.push(Entry::Storage(slot(0, 0).0, slot(0, 0).1, U256::from(1)));
    let genesis = Genesis { alloc, gas_limit: 1 << 40, ..Default::default() };
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis).unwrap();
    let (mut nonce, mut nonces) = (0u64, [0u64; SENDERS as usize]);
    let mut txs = Vec::new();
    for &(to, amount, pays_back, work) in payouts {
        txs.push(NativeTx::transfer(payer, nonce, sender(to), U256::from(amount), U256::from(3)));
        nonce += 1;
        let other = &mut nonces[to as usize];
        if pays_back {
            txs.push(NativeTx::transfer(
                sender(to),
                *other,
                payer,
                U256::from(amount / 2),
                U256::from(1),
            ));
            *other += 1;
        }
        if work {
            txs.push(NativeTx::touch(
                sender(to),
                *other,
                vec![slot(0, 0)],
                vec![slot(0, 0)],
                U256::from(1),
            ));
            *other += 1;
        }
    }
    let reference = payouts_one_by_one(&chain, &txs);
    let got = ordered(&NativeExecutor, &chain, &txs, OrderedSets::Run, threads);
    match (reference, got) {
        (Ok(reference), Ok((sealed, _))) => {
            prop_assert_eq!(&sealed.receipts, &reference.receipts);
            prop_assert_eq!(&sealed.changes, &reference.changes);
        }
        (Err(index), Err(OrderedError::Invalid { index: got, .. })) => prop_assert_eq!(got, index),
        (reference, got) => prop_assert!(
            false,
            "one by one {:?}, ordered {:?}",
            reference.map(|_| ()),
            got.map(|_| ())
        ),
    }
    Ok(())
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
        let kept = bank.kept.lock().pop().filter(|(h, _)| *h == tx.hash()).unwrap_or_default();
        let kept = crate::TxAccesses::of(&kept.1);
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
        specs in declared_specs(),
        threads in 1usize..5,
    ) {
        versioned_equals_one_by_one(&specs, threads)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The same with the engine's race points pausing workers now and then.
    #[test]
    fn test_versioned_equals_one_by_one_under_races(
        specs in declared_specs(),
        threads in 2usize..5,
    ) {
        let _races = crate::races::Races::on();
        versioned_equals_one_by_one(&specs, threads)?;
    }
}

/// [`test_versioned_equals_one_by_one`]'s check of one case.
fn versioned_equals_one_by_one(
    specs: &[(u8, Op, u8)],
    threads: usize,
) -> Result<(), TestCaseError> {
    let txs = make_txs(specs);
    let (_dir, chain) = new_chain();
    let reference = one_by_one(&chain, &txs);
    let versions = declared(&chain, &txs);
    let (sealed, report) =
        ordered(&NativeExecutor, &chain, &txs, OrderedSets::Versioned(&versions), threads).unwrap();
    prop_assert_eq!(&sealed.receipts, &reference.receipts);
    prop_assert_eq!(&sealed.changes, &reference.changes);
    for (i, t) in report.txs.iter().enumerate() {
        prop_assert!(
            t.source == AccessSource::Declared && t.reruns() == 0,
            "transaction {} ran again: {:?}, its runs {:?}, changed {:?}, waited for {:?}",
            i,
            t.source,
            t.runs,
            t.changed,
            t.waited_for
        );
    }
    let recorded = recorded_sets(&report);
    let (again, _) =
        ordered(&NativeExecutor, &chain, &txs, OrderedSets::Recorded(&recorded), 2).unwrap();
    prop_assert_eq!(&again.block, &sealed.block);
    Ok(())
}
