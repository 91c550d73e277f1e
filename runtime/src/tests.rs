//! Whole-runtime tests with the native executor: parallel == sequential,
//! replay, tampered blocks, the exclusive lane and the lattice hash.

use alloy_primitives::{Address, B256, U256};
use lanes_accounts_db::{AccountHeader, AccountsDbConfig, AccountsRead, Entry, OpenError};
use proptest::prelude::*;
use std::sync::atomic::Ordering;

use crate::native::{NativeExecutor, NativeTx};
use crate::view::Access;
use crate::{
    AccessSet, Bank, BankConfig, Block, Chain, ChainError, Executed, Genesis, LatticeHash,
    MIN_PARALLEL_WORK, Receipt, ReplayErrorKind, StateKey, Transaction,
};

const SENDERS: u8 = 6;

fn sender(i: u8) -> Address {
    Address::repeat_byte(0x10 + i)
}

fn genesis() -> Genesis {
    let alloc = (0..SENDERS)
        .map(|i| {
            Entry::Account(
                sender(i),
                AccountHeader { balance: U256::from(1_000_000u64), ..Default::default() },
            )
        })
        .chain([Entry::Storage(Address::repeat_byte(0xee), B256::ZERO, U256::from(7))])
        .collect();
    Genesis { alloc, gas_limit: 30_000_000, base_fee: 1, ..Default::default() }
}

fn new_chain() -> (tempfile::TempDir, Chain) {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis()).unwrap();
    (dir, chain)
}

const COINBASE: Address = Address::repeat_byte(0xcb);

/// Builds one block from `txs` on `threads` threads and commits it.
fn build(chain: &mut Chain, txs: &[NativeTx], threads: usize) -> (Block, Vec<Receipt>) {
    let bank = chain.new_bank(chain.head().number + 1, COINBASE);
    let run = bank.execute_block(&NativeExecutor, txs, &crate::BlockOptions::new(threads)).unwrap();
    assert!(run.txs.iter().all(|t| !matches!(t.status, crate::TxStatus::Deferred)));
    let sealed = run.sealed;
    let out = (sealed.block.clone(), sealed.receipts.clone());
    chain.commit(&sealed).unwrap();
    out
}

/// The reference: every transaction of `block`, one at a time, in block order,
/// with every key available.
fn sequential(chain: &Chain, block: &Block) -> (B256, Vec<Receipt>) {
    let bank: Bank = chain.new_bank(block.header.timestamp, block.header.coinbase);
    for entry in &block.entries {
        for recorded in &entry.txs {
            let tx = crate::Executor::decode(&NativeExecutor, &recorded.tx).unwrap();
            let outcome = bank.run_one(&NativeExecutor, &mut (), &tx, Access::Exclusive).unwrap();
            bank.record_entry(crate::BlockEntry::default(), vec![(tx.hash(), outcome)]);
        }
    }
    let sealed = bank.seal().unwrap();
    (sealed.block.header.state_commitment, sealed.receipts)
}

#[derive(Clone, Debug)]
struct TxSpec {
    sender: u8,
    touch: bool,
    to: u8,
    reads: Vec<(u8, u8)>,
    writes: Vec<(u8, u8)>,
    /// 0: declared exactly, 1: declares one key less, 2: declares nothing.
    declare: u8,
}

fn tx_spec(addresses: u8) -> impl Strategy<Value = TxSpec> {
    let slot = (0..addresses, 0u8..3);
    (
        0..SENDERS,
        any::<bool>(),
        0..SENDERS + 2,
        prop::collection::vec(slot.clone(), 0..3),
        prop::collection::vec(slot, 1..3),
        prop_oneof![8 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
    )
        .prop_map(|(sender, touch, to, reads, writes, declare)| TxSpec {
            sender,
            touch,
            to,
            reads,
            writes,
            declare,
        })
}

/// Turns specs into transactions with correct nonces.
fn make_txs(specs: &[TxSpec], nonces: &mut [u64; SENDERS as usize]) -> Vec<NativeTx> {
    let slot = |(a, s): &(u8, u8)| (Address::repeat_byte(0xa0 + a), B256::with_last_byte(*s));
    specs
        .iter()
        .map(|spec| {
            let from = sender(spec.sender);
            let nonce = &mut nonces[spec.sender as usize];
            let tx = if spec.touch {
                let reads = spec.reads.iter().map(slot).collect();
                let writes = spec.writes.iter().map(slot).collect();
                NativeTx::touch(from, *nonce, reads, writes, U256::from(3))
            } else {
                NativeTx::transfer(
                    from,
                    *nonce,
                    sender(spec.to % SENDERS),
                    U256::from(10),
                    U256::from(2),
                )
            };
            *nonce += 1;
            match spec.declare {
                1 => {
                    let set = tx.access_set().expect("declared");
                    let writes = set.writes().iter().skip(1).copied();
                    tx.clone().with_declared(Some(AccessSet::unbounded(
                        set.reads().iter().copied(),
                        writes,
                    )))
                }
                2 => tx.with_declared(None),
                _ => tx,
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// From no conflicts (many addresses) to all-conflicting (one address):
    /// blocks built on 1, 2 and 8 threads are identical, equal sequential
    /// execution, and replay on 1 and 4 threads to the same commitment.
    #[test]
    fn test_parallel_equals_sequential_and_replays(
        addresses in 1u8..12,
        blocks in prop::collection::vec(prop::collection::vec(tx_spec(12), 1..40), 1..3),
    ) {
        let blocks: Vec<Vec<TxSpec>> = blocks
            .into_iter()
            .map(|b| b.into_iter().map(|mut s| {
                s.reads.iter_mut().chain(s.writes.iter_mut()).for_each(|(a, _)| *a %= addresses);
                s
            }).collect())
            .collect();
        let mut built: Vec<(tempfile::TempDir, Chain)> = (0..3).map(|_| new_chain()).collect();
        let mut replayed: Vec<(tempfile::TempDir, Chain)> = (0..2).map(|_| new_chain()).collect();
        let mut nonces = [0u64; SENDERS as usize];
        for specs in &blocks {
            let txs = make_txs(specs, &mut nonces);
            let (block, receipts) = build(&mut built[0].1, &txs, 1);
            for (threads, (_, chain)) in [2usize, 8].into_iter().zip(&mut built[1..]) {
                let (other, other_receipts) = build(chain, &txs, threads);
                prop_assert_eq!(&other, &block, "{} threads", threads);
                prop_assert_eq!(&other_receipts, &receipts);
            }
            // No entry holds two conflicting sets in different lanes.
            for entry in &block.entries {
                prop_assert!(entry.lanes_are_canonical(), "{:?}", entry.lanes);
                let lane = |i: usize| entry.lanes.get(i).map_or(i, |l| *l as usize);
                for (i, a) in entry.txs.iter().enumerate() {
                    for (j, b) in entry.txs.iter().enumerate().skip(i + 1) {
                        prop_assert!(lane(i) == lane(j) || !a.access.conflicts_with(&b.access));
                    }
                }
            }
            let (commitment, seq_receipts) = sequential(&replayed[0].1, &block);
            prop_assert_eq!(commitment, block.header.state_commitment);
            prop_assert_eq!(&seq_receipts, &receipts);
            for (threads, (_, chain)) in [1usize, 4].into_iter().zip(&mut replayed) {
                let got = chain.replay_block(&NativeExecutor, &block, threads).unwrap();
                prop_assert_eq!(&got, &receipts);
                prop_assert_eq!(chain.head(), &block.header);
            }
        }
        let (_, chain) = &built[0];
        prop_assert_eq!(&LatticeHash::from_scratch(&chain.db().view()).unwrap(), chain.lattice());
    }
}

/// A block with two entries, the second conflicting with both lanes of the
/// first, and a lane of two in the second.
fn two_entry_block() -> (tempfile::TempDir, Chain, Block) {
    let (dir, mut chain) = new_chain();
    let (a, b) = (sender(0), sender(1));
    let txs = vec![
        NativeTx::transfer(a, 0, b, U256::from(5), U256::from(1)),
        NativeTx::transfer(sender(2), 0, sender(3), U256::from(5), U256::from(1)),
        NativeTx::transfer(b, 0, sender(3), U256::from(1), U256::from(1)),
        NativeTx::transfer(b, 1, a, U256::from(1), U256::from(1)),
        NativeTx::transfer(sender(4), 0, sender(5), U256::from(1), U256::from(1)),
    ];
    let (block, _) = build(&mut chain, &txs, 2);
    assert_eq!(block.entries.len(), 2, "the third transfer meets both lanes of the first entry");
    assert_eq!(block.entries[0].lanes, Vec::<u32>::new());
    assert_eq!(block.entries[1].lanes, [0, 0, 1], "the fourth follows the third in its lane");
    drop(chain);
    let (fresh_dir, fresh) = new_chain();
    drop(dir);
    (fresh_dir, fresh, block)
}

fn rejected(chain: &mut Chain, block: &Block) -> ReplayErrorKind {
    let before = (chain.head().clone(), chain.db().last_commit(), chain.lattice().clone());
    let err = chain.replay_block(&NativeExecutor, block, 2).unwrap_err();
    let after = (chain.head().clone(), chain.db().last_commit(), chain.lattice().clone());
    assert_eq!(before, after, "a rejected block changes nothing");
    match err {
        ChainError::Rejected(e) => {
            assert!(e.to_string().contains(&format!("block {}", block.header.number)), "{e}");
            e.kind
        }
        other => panic!("expected a rejection, got {other}"),
    }
}

#[test]
fn test_tampered_blocks_are_rejected() {
    let (_dir, mut chain, block) = two_entry_block();

    let mut conflicting = block.clone();
    let moved = conflicting.entries.remove(1).txs;
    conflicting.entries[0].txs.extend(moved);
    assert!(matches!(rejected(&mut chain, &conflicting), ReplayErrorKind::ConflictingEntry(_)));

    // Lanes out of their one form, or a lane that conflicts with another.
    let mut renumbered = block.clone();
    renumbered.entries[1].lanes = vec![1, 1, 0];
    assert_eq!(rejected(&mut chain, &renumbered), ReplayErrorKind::BadLanes);
    let mut short = block.clone();
    short.entries[1].lanes = vec![0, 0];
    assert_eq!(rejected(&mut chain, &short), ReplayErrorKind::BadLanes);
    let mut apart = block.clone();
    apart.entries[1].lanes = vec![];
    assert!(matches!(rejected(&mut chain, &apart), ReplayErrorKind::ConflictingEntry(_)));
    let mut joined = block.clone();
    let moved = joined.entries.remove(1).txs;
    joined.entries[0].txs.extend(moved);
    joined.entries[0].lanes = vec![0, 1, 1, 1, 2];
    assert!(matches!(rejected(&mut chain, &joined), ReplayErrorKind::ConflictingEntry(_)));

    let mut undeclared = block.clone();
    let recorded = &mut undeclared.entries[1].txs[0];
    let writes = recorded.access.writes()[..1].to_vec();
    recorded.access = AccessSet::unbounded([], writes);
    assert!(matches!(
        rejected(&mut chain, &undeclared),
        ReplayErrorKind::LeftItsSet(StateKey::Account(_))
    ));

    let mut wrong_commitment = block.clone();
    wrong_commitment.header.state_commitment = B256::repeat_byte(1);
    let kind = rejected(&mut chain, &wrong_commitment);
    assert!(matches!(kind, ReplayErrorKind::Mismatch { field: "state_commitment", .. }), "{kind}");

    let mut wrong_root = block.clone();
    wrong_root.header.transactions_root = B256::repeat_byte(2);
    let kind = rejected(&mut chain, &wrong_root);
    assert!(matches!(kind, ReplayErrorKind::Mismatch { field: "transactions_root", .. }), "{kind}");

    let mut wrong_parent = block.clone();
    wrong_parent.header.parent_hash = B256::ZERO;
    assert_eq!(rejected(&mut chain, &wrong_parent), ReplayErrorKind::NotNext);

    // The untouched block still replays.
    chain.replay_block(&NativeExecutor, &block, 2).unwrap();
    assert_eq!(chain.head(), &block.header);
}

#[test]
fn test_violators_and_undeclared_run_in_a_bounded_exclusive_lane() {
    let (_dir, chain) = new_chain();
    let config = BankConfig { max_exclusive_per_block: 2, ..BankConfig::default() };
    let chain = chain.with_bank_config(config);
    let mut bank = chain.new_bank(1, COINBASE);
    let shared = (Address::repeat_byte(0xee), B256::ZERO);
    // Declares the slot it writes but not its sender account: a violation.
    let under = NativeTx::touch(sender(0), 0, vec![], vec![shared], U256::from(1));
    let under = under
        .with_declared(Some(AccessSet::unbounded([], [StateKey::Storage(shared.0, shared.1)])));
    let txs = vec![
        under,
        NativeTx::transfer(sender(1), 0, sender(2), U256::from(1), U256::from(1))
            .with_declared(None),
        NativeTx::transfer(sender(3), 0, sender(4), U256::from(1), U256::from(1))
            .with_declared(None),
        NativeTx::transfer(sender(5), 0, COINBASE, U256::from(1), U256::from(1)),
    ];
    let report = bank.execute_entry(&NativeExecutor, txs, 2).unwrap();
    assert_eq!(report.included.len(), 3);
    assert_eq!(report.exclusive, 2);
    assert_eq!(report.deferred.len(), 1, "the lane holds two per block");
    let entries = bank.entries();
    assert_eq!(entries.len(), 3, "the parallel entry, then one entry per exclusive tx");
    assert!(!entries[0].exclusive && entries[1].exclusive && entries[2].exclusive);
    // The violator's retry ran whole: sender nonce and the slot are set.
    let sealed = bank.seal().unwrap();
    let slot = sealed.changes.iter().find(|e| matches!(e, Entry::Storage(a, ..) if *a == shared.0));
    assert_eq!(slot, Some(&Entry::Storage(shared.0, shared.1, U256::from(7 + 1))));
    // Fees (1 each) reach the coinbase at seal, on top of the transfer to it.
    let coinbase = sealed.changes.iter().find_map(|e| match e {
        Entry::Account(a, h) if *a == COINBASE => Some(h.balance),
        _ => None,
    });
    assert_eq!(coinbase, Some(U256::from(1 + 3)));
}

#[test]
fn test_invalid_transactions_are_left_out() {
    let (_dir, chain) = new_chain();
    let mut bank = chain.new_bank(1, COINBASE);
    let txs = vec![
        NativeTx::transfer(sender(0), 5, sender(1), U256::from(1), U256::from(1)),
        NativeTx::transfer(sender(2), 0, sender(3), U256::MAX, U256::from(1)),
    ];
    let report = bank.execute_entry(&NativeExecutor, txs, 2).unwrap();
    assert!(report.included.is_empty());
    assert_eq!(report.rejected.len(), 2);
    let sealed = bank.seal().unwrap();
    assert!(sealed.changes.is_empty() && sealed.block.entries.is_empty());
}

/// A fork's upstream: every key the chain never held has a value there.
#[derive(Debug)]
struct Upstream;

impl lanes_accounts_db::Backing for Upstream {
    fn account(
        &self,
        _: &Address,
    ) -> Result<Option<AccountHeader>, lanes_accounts_db::StorageError> {
        Ok(Some(AccountHeader { balance: U256::from(500), nonce: 3, ..Default::default() }))
    }
    fn storage(&self, _: &Address, _: &B256) -> Result<U256, lanes_accounts_db::StorageError> {
        Ok(U256::from(3))
    }
    fn code(
        &self,
        _: &B256,
    ) -> Result<Option<alloy_primitives::Bytes>, lanes_accounts_db::StorageError> {
        Ok(None)
    }
}

/// On a chain with a backing the commitment sums what the database holds,
/// so it is the same built block by block as recomputed from the state.
#[test]
fn test_lattice_with_a_backing_equals_scratch() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis()).unwrap();
    chain.db().set_backing(std::sync::Arc::new(Upstream)).unwrap();
    let mut nonces = [0u64; SENDERS as usize];
    let specs: Vec<TxSpec> = (0..20u8)
        .map(|i| TxSpec {
            sender: i % SENDERS,
            touch: i % 2 == 0,
            to: i,
            reads: vec![(i % 4, 0)],
            writes: vec![((i + 1) % 4, i % 3)],
            declare: 0,
        })
        .collect();
    let (block, _) = build(&mut chain, &make_txs(&specs, &mut nonces), 2);
    assert!(!block.entries.is_empty());
    // The coinbase's fees landed on the upstream's account.
    assert_eq!(chain.db().view().held_account(&COINBASE).unwrap().map(|a| a.nonce), Some(3));
    assert_eq!(&LatticeHash::from_scratch(&chain.db().view()).unwrap(), chain.lattice());
}

#[test]
fn test_lattice_incremental_equals_scratch_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis()).unwrap();
    let mut nonces = [0u64; SENDERS as usize];
    // Blocks of 100 (at least HASH_AHEAD_MIN_TXS) on one thread: on a
    // machine of two cores or more the walker hashes ahead.
    for round in 0..4u8 {
        let specs: Vec<TxSpec> = (0..100u8)
            .map(|i| TxSpec {
                sender: i % SENDERS,
                touch: i % 3 != 0,
                to: i,
                reads: vec![(i % 4, round)],
                writes: vec![((i + 1) % 4, i % 3)],
                declare: 0,
            })
            .collect();
        build(&mut chain, &make_txs(&specs, &mut nonces), 1);
        assert_eq!(&LatticeHash::from_scratch(&chain.db().view()).unwrap(), chain.lattice());
    }
    let head = chain.head().clone();
    let lattice = chain.lattice().clone();
    drop(chain);
    let chain = Chain::open(dir.path(), AccountsDbConfig::default(), None).unwrap();
    assert_eq!((chain.head(), chain.lattice()), (&head, &lattice));
    drop(chain);
    // Without the head file the caller's header is checked and the lattice
    // recomputed from the state.
    std::fs::remove_file(dir.path().join("head.bin")).unwrap();
    assert!(matches!(
        Chain::open(dir.path(), AccountsDbConfig::default(), None),
        Err(ChainError::HeadUnknown(_))
    ));
    let stale = crate::BlockHeader { state_commitment: B256::ZERO, ..head.clone() };
    assert!(matches!(
        Chain::open(dir.path(), AccountsDbConfig::default(), Some(stale)),
        Err(ChainError::HeadMismatch { .. })
    ));
    let chain = Chain::open(dir.path(), AccountsDbConfig::default(), Some(head.clone())).unwrap();
    assert_eq!((chain.head(), chain.lattice()), (&head, &lattice));
    assert!(chain.db().get_account(&sender(0)).unwrap().unwrap().nonce > 0);
    // The accounts database's own errors come through whole.
    assert!(matches!(
        Chain::open(dir.path(), AccountsDbConfig::default(), None),
        Err(ChainError::AccountsDb(lanes_accounts_db::Error::Open(OpenError::Locked { .. })))
    ));
}

/// `Chain::revert_to` puts the head, hash, lattice hash and state back to
/// an earlier block in place; the blocks built after it equal those a
/// chain that never went past it builds, and a reopen serves the reverted
/// head. A header that is not the block's is refused and changes nothing.
#[test]
fn test_revert_in_place_equals_never_having_gone_past_the_block() {
    let (_dir, mut chain) = new_chain();
    let (_twin_dir, mut twin) = new_chain();
    let mut nonces = [0u64; SENDERS as usize];
    let specs = |round: u8| -> Vec<TxSpec> {
        (0..12u8)
            .map(|i| TxSpec {
                sender: i % SENDERS,
                touch: i % 2 == 0,
                to: i.wrapping_add(round),
                reads: vec![(i % 4, round)],
                writes: vec![((i + round) % 4, i % 3)],
                declare: 0,
            })
            .collect()
    };
    let mut heads = vec![(chain.head().clone(), chain.head_hash(), chain.lattice().clone())];
    for round in 0..3u8 {
        let txs = make_txs(&specs(round), &mut nonces);
        let (block, _) = build(&mut chain, &txs, 2);
        twin.replay_block(&NativeExecutor, &block, 1).unwrap();
        heads.push((chain.head().clone(), chain.head_hash(), chain.lattice().clone()));
    }
    let saved_nonces = nonces;
    for round in 3..6u8 {
        build(&mut chain, &make_txs(&specs(round), &mut nonces), 2);
    }
    let (header, hash, lattice) = heads[3].clone();
    let wrong = crate::BlockHeader { state_commitment: B256::ZERO, ..header.clone() };
    assert!(matches!(chain.revert_to(wrong, []), Err(ChainError::HeadMismatch { number: 3 })));
    assert_eq!(chain.head().number, 6, "a refused revert changes nothing");
    let older: Vec<B256> = heads[..3].iter().rev().map(|h| h.1).collect();
    chain.revert_to(header.clone(), older).unwrap();
    assert_eq!((chain.head(), chain.head_hash(), chain.lattice()), (&header, hash, &lattice));
    assert_eq!(&LatticeHash::from_scratch(&chain.db().view()).unwrap(), chain.lattice());
    assert_eq!(chain.db().view().history_range().map(|r| r.1), Some(3));
    // The same blocks again, built on each: the same hashes.
    nonces = saved_nonces;
    let mut twin_nonces = saved_nonces;
    for round in 6..8u8 {
        let (block, _) = build(&mut chain, &make_txs(&specs(round), &mut nonces), 2);
        let (other, _) = build(&mut twin, &make_txs(&specs(round), &mut twin_nonces), 1);
        assert_eq!(block.hash, other.hash, "round {round}");
        assert_eq!(chain.lattice(), twin.lattice());
    }
    let head = chain.head().clone();
    let dir = chain.db().dir().parent().unwrap().to_owned();
    drop(chain);
    let chain = Chain::open(&dir, AccountsDbConfig::default(), None).unwrap();
    assert_eq!(chain.head(), &head);
    assert_eq!(chain.lattice(), twin.lattice());
}

#[test]
fn test_a_head_file_of_the_last_block_format_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis()).unwrap();
    drop(chain);
    // The same head as a lanes before BLAKE3 roots wrote it: version 2.
    let path = dir.path().join("head.bin");
    let bytes = std::fs::read(&path).unwrap();
    let mut body = bytes[..bytes.len() - 32].to_vec();
    assert_eq!(&body[..8], b"LANESHD3");
    body[7] = b'2';
    let sum = *blake3::hash(&body).as_bytes();
    body.extend(sum);
    std::fs::write(&path, &body).unwrap();
    let err = Chain::open(dir.path(), AccountsDbConfig::default(), None).unwrap_err();
    assert!(
        matches!(&err, ChainError::Format(f) if f.found == 2 && f.reads == 3 && f.path == path),
        "{err}"
    );
    assert!(err.to_string().contains("--reset"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), body, "the file is left as it was");
}

#[test]
fn test_batches_on_shared_bank_record_entries_that_replay() {
    let (_dir, mut chain) = new_chain();
    let (replica_dir, mut replica) = new_chain();
    let bank = chain.new_bank(1, COINBASE);
    // Two workers share the bank; each runs its own non-conflicting batch.
    let a: Vec<NativeTx> = (0..3)
        .map(|i| NativeTx::transfer(sender(i), 0, sender(i + 3), U256::from(5), U256::from(1)))
        .collect();
    let b = vec![
        NativeTx::transfer(sender(0), 1, sender(1), U256::from(9), U256::from(1)),
        // Declares nothing: handed back for the exclusive lane, not run.
        NativeTx::transfer(sender(2), 1, sender(1), U256::from(1), U256::from(1))
            .with_declared(None),
    ];
    let (ra, rb) = std::thread::scope(|s| {
        let first = s.spawn(|| {
            bank.execute_batch(&NativeExecutor, &mut bank.worker(&NativeExecutor), &a).unwrap()
        });
        let ra = first.join().unwrap();
        // b conflicts with a (sender 0), so it runs after a has finished.
        let second = s.spawn(|| {
            bank.execute_batch(&NativeExecutor, &mut bank.worker(&NativeExecutor), &b).unwrap()
        });
        (ra, second.join().unwrap())
    });
    assert!(ra.iter().all(|r| matches!(r, Executed::Included { .. })), "{ra:?}");
    assert!(matches!(rb[0], Executed::Included { .. }));
    assert_eq!(rb[1], Executed::NeedsExclusive(None));
    let lane = bank.execute_exclusive(&NativeExecutor, &b[1]).unwrap();
    assert!(matches!(lane, Executed::Included { .. }), "{lane:?}");
    let entries = bank.entries();
    assert_eq!(
        entries.iter().map(|e| (e.exclusive, e.txs.len())).collect::<Vec<_>>(),
        [(false, 3), (false, 1), (true, 1)]
    );
    assert_eq!(bank.tx_count(), 5);
    let sealed = bank.seal().unwrap();
    let block = sealed.block.clone();
    chain.commit(&sealed).unwrap();
    replica.replay_block(&NativeExecutor, &block, 1).unwrap();
    assert_eq!(replica.head(), chain.head());
    let balance = |c: &Chain, i| c.db().get_account(&sender(i)).unwrap().unwrap().balance;
    // Sender 1 sent 5 and paid a fee of 1, then got 9 and 1.
    assert_eq!(balance(&replica, 1), U256::from(1_000_000u64 - 5 - 1 + 9 + 1));
    assert_eq!(balance(&chain, 1), balance(&replica, 1));
    drop(replica_dir);
}

/// A transfer of 5 from `sender(from)` to `to`, paying a fee of 1.
fn pay(from: u8, nonce: u64, to: Address) -> NativeTx {
    NativeTx::transfer(sender(from), nonce, to, U256::from(5), U256::from(1))
}

/// A batch records a run on a hot key as one lane of its entry, not an
/// entry per transaction; one that meets two lanes starts the next entry.
/// A replica replays the lanes side by side to the same state.
#[test]
fn test_a_batch_records_a_hot_key_as_one_lane() {
    let (_dir, mut chain) = new_chain();
    let (_replica_dir, mut replica) = new_chain();
    let bank = chain.new_bank(1, COINBASE);
    let hot = sender(9);
    let batch = vec![
        pay(0, 0, hot),
        pay(1, 0, sender(5)),
        pay(2, 0, hot),
        pay(3, 0, hot),
        // Meets the hot lane (its recipient) and sender 1's (its sender).
        pay(5, 0, hot),
        pay(4, 0, sender(7)),
    ];
    let ran = bank.execute_batch(&NativeExecutor, &mut (), &batch).unwrap();
    assert!(ran.iter().all(|r| matches!(r, Executed::Included { .. })), "{ran:?}");
    let entries = bank.entries();
    let shape: Vec<(usize, Vec<u32>)> =
        entries.iter().map(|e| (e.txs.len(), e.lanes.clone())).collect();
    assert_eq!(shape, [(4, vec![0, 1, 0, 0]), (2, vec![])]);
    assert!(entries.iter().all(crate::BlockEntry::lanes_are_canonical));
    let sealed = bank.seal().unwrap();
    chain.commit(&sealed).unwrap();
    replica.replay_block(&NativeExecutor, &sealed.block, 2).unwrap();
    assert_eq!(replica.head(), chain.head());
    let balance = |c: &Chain| c.db().get_account(&hot).unwrap().unwrap().balance;
    assert_eq!(balance(&chain), balance(&replica));
}

/// Where a batch's plan cuts the entry at a transaction that does not run
/// (already in the block), the cut stands: the next one was planned in the
/// new entry, and would otherwise land in a lane of the old one it
/// conflicts with.
#[test]
fn test_a_batch_cuts_its_entry_where_planned_at_a_duplicate() {
    let (_dir, mut chain) = new_chain();
    let (_replica_dir, mut replica) = new_chain();
    let bank = chain.new_bank(1, COINBASE);
    let hot = sender(9);
    let first = [pay(5, 0, hot)];
    assert!(matches!(
        bank.execute_batch(&NativeExecutor, &mut (), &first).unwrap()[0],
        Executed::Included { .. }
    ));
    // The duplicate meets both lanes; the one after it, sender 0's next,
    // meets only the first lane.
    let batch = [pay(0, 0, hot), pay(1, 0, sender(5)), first[0].clone(), pay(0, 1, sender(8))];
    let ran = bank.execute_batch(&NativeExecutor, &mut (), &batch).unwrap();
    assert!(matches!(ran[2], Executed::Rejected(crate::TxError::Duplicate(_))), "{ran:?}");
    let shape: Vec<(usize, Vec<u32>)> =
        bank.entries().iter().map(|e| (e.txs.len(), e.lanes.clone())).collect();
    assert_eq!(shape, [(1, vec![]), (2, vec![]), (1, vec![])]);
    let sealed = bank.seal().unwrap();
    chain.commit(&sealed).unwrap();
    replica.replay_block(&NativeExecutor, &sealed.block, 2).unwrap();
    assert_eq!(replica.head(), chain.head());
}

/// A replay decodes the whole block first, yet names the first fault in
/// entry order: a duplicate in the second entry before an undecodable
/// transaction in the third; the undecodable one where it is the only
/// fault. The replica is left as it was.
#[test]
fn test_a_replay_names_the_first_fault_in_entry_order() {
    let (_dir, mut chain) = new_chain();
    let (_replica_dir, mut replica) = new_chain();
    let bank = chain.new_bank(1, COINBASE);
    let batches = [
        (0..3)
            .map(|i| NativeTx::transfer(sender(i), 0, sender(i + 3), U256::from(5), U256::from(1)))
            .collect::<Vec<_>>(),
        vec![NativeTx::transfer(sender(0), 1, sender(1), U256::from(9), U256::from(1))],
        vec![NativeTx::transfer(sender(1), 1, sender(2), U256::from(9), U256::from(1))],
    ];
    for batch in &batches {
        let ran = bank.execute_batch(&NativeExecutor, &mut (), batch).unwrap();
        assert!(ran.iter().all(|r| matches!(r, Executed::Included { .. })), "{ran:?}");
    }
    let sealed = bank.seal().unwrap();
    chain.commit(&sealed).unwrap();
    let good = sealed.block;
    assert_eq!(good.entries.len(), 3);
    let undecodable = |mut block: Block| {
        block.entries[2].txs[0].tx = alloy_primitives::Bytes::from_static(b"not a transaction");
        block
    };
    let mut both = undecodable(good.clone());
    both.entries[1].txs[0].tx = good.entries[0].txs[0].tx.clone();
    for threads in [1, 2] {
        let err = replica.reexecute(&NativeExecutor, &both, threads).unwrap_err();
        assert!(matches!(err.kind, ReplayErrorKind::DuplicateTx(_)), "{err}");
        assert_eq!((err.entry, err.tx), (Some(1), Some(0)), "{err}");
        let err = replica.reexecute(&NativeExecutor, &undecodable(good.clone()), threads);
        let err = err.unwrap_err();
        assert!(matches!(err.kind, ReplayErrorKind::Undecodable(_)), "{err}");
        assert_eq!((err.entry, err.tx), (Some(2), Some(0)), "{err}");
    }
    assert_eq!(replica.head().number, 0, "nothing committed");
    replica.replay_block(&NativeExecutor, &good, 2).unwrap();
    assert_eq!(replica.head(), chain.head());
}

#[test]
fn test_system_writes_replay_on_a_dev_chain_only() {
    let dev = BankConfig { allow_system: true, ..BankConfig::default() };
    let make = |config: BankConfig| {
        let dir = tempfile::tempdir().unwrap();
        let chain = Chain::create_with(dir.path(), AccountsDbConfig::default(), &genesis(), config)
            .unwrap();
        (dir, chain)
    };
    let (_d, mut chain) = make(dev.clone());
    let rich = AccountHeader { balance: U256::from(5u64) << 100, ..Default::default() };
    let system = vec![
        Entry::Account(sender(0), rich),
        Entry::Storage(Address::repeat_byte(0xee), B256::ZERO, U256::from(9)),
    ];
    let bank = chain.new_bank(1, COINBASE);
    bank.apply_system(system.clone()).unwrap();
    let sealed = bank.seal().unwrap();
    assert_eq!(sealed.block.system, system);
    chain.commit(&sealed).unwrap();
    let view = chain.db().view();
    assert_eq!(view.get_account(&sender(0)).unwrap().unwrap(), rich);

    // Another dev chain replays it to the same hash and commitment.
    let (_r, mut replica) = make(dev);
    replica.replay_block(&NativeExecutor, &sealed.block, 2).unwrap();
    assert_eq!(replica.head_hash(), chain.head_hash());
    assert_eq!(replica.lattice().commitment(), chain.lattice().commitment());
    // A block whose system writes were changed fails on its structure root.
    let (_t, mut tampered) = make(BankConfig { allow_system: true, ..BankConfig::default() });
    let mut changed = sealed.block.clone();
    changed.system.pop();
    assert!(tampered.replay_block(&NativeExecutor, &changed, 1).is_err());
    // A chain that is not a dev chain refuses it, and writes before it too.
    let (_n, mut plain) = make(BankConfig::default());
    let err = plain.replay_block(&NativeExecutor, &sealed.block, 1).unwrap_err();
    assert!(err.to_string().contains("system writes refused"), "{err}");
    assert!(plain.new_bank(1, COINBASE).apply_system(system).is_err());
}

/// With `record_accesses`, the sealed block says what each transaction
/// wrote (the new headers) in block order, whatever thread ran it; and a
/// bank that does not record says nothing.
#[test]
fn test_a_recording_bank_keeps_each_transaction_s_writes_in_block_order() {
    let (_dir, chain) = new_chain();
    let recording = BankConfig { record_accesses: true, ..chain.bank_config().clone() };
    let chain = chain.with_bank_config(recording);
    let txs: Vec<NativeTx> = (0..4u8)
        .map(|i| NativeTx::transfer(sender(i), 0, sender(i + 1), U256::from(10), U256::from(1)))
        .collect();
    let mut bank = chain.new_bank(1, COINBASE);
    for entry in crate::entries_in_order(txs.clone()) {
        bank.execute_entry(&NativeExecutor, entry, 2).unwrap();
    }
    let sealed = bank.seal().unwrap();
    let accesses = sealed.accesses.expect("recorded");
    assert!(accesses.before.is_empty() && accesses.after.is_empty() && accesses.credits.is_empty());
    assert_eq!(accesses.txs.len(), 4);
    for (receipt, (tx, record)) in sealed.receipts.iter().zip(txs.iter().zip(&accesses.txs)) {
        assert_eq!(receipt.tx_hash, tx.hash(), "block order");
        let wrote: Vec<Address> = record.accounts.iter().map(|(a, _)| *a).collect();
        assert!(wrote.contains(&tx.from()), "{record:?}");
        let (_, sender_after) = record.accounts.iter().find(|(a, _)| *a == tx.from()).unwrap();
        assert_eq!(sender_after.nonce, 1);
    }
    let (_dir, plain) = new_chain();
    let bank = plain.new_bank(1, COINBASE);
    bank.execute_exclusive(&NativeExecutor, &txs[0]).unwrap();
    assert!(bank.seal().unwrap().accesses.is_none());
}

#[test]
fn test_an_entry_too_small_to_gain_runs_on_the_callers_thread() {
    let (_dir, chain) = new_chain();
    let mut bank = chain.new_bank(1, COINBASE);
    assert_eq!(bank.entry_threads(2, 2), 2, "before any run the block knows no cost");
    let txs: Vec<NativeTx> = (0..SENDERS)
        .map(|i| {
            NativeTx::transfer(
                sender(i),
                0,
                Address::repeat_byte(0x70 + i),
                U256::from(1),
                U256::from(1),
            )
        })
        .collect();
    bank.execute_entry(&NativeExecutor, txs, 2).unwrap();
    // The entry's run time became the block's mean; the decision follows it
    // at whatever speed this machine runs a transfer.
    let measured = bank.tx_nanos.load(Ordering::Relaxed);
    assert!(measured > 0, "running the entry measured its transactions");
    let cheap = 2 * measured < MIN_PARALLEL_WORK.as_nanos() as u64;
    assert_eq!(bank.entry_threads(2, 2), if cheap { 1 } else { 2 }, "mean {measured} ns");
    assert_eq!(bank.entry_threads(1_000_000, 2), 2, "a wide entry still takes both");
    assert_eq!(bank.entry_threads(2, 1), 1);
    // At a set mean on either side of the bound.
    let bound = MIN_PARALLEL_WORK.as_nanos() as u64;
    bank.tx_nanos.store(bound / 4, Ordering::Relaxed);
    assert_eq!(bank.entry_threads(2, 2), 1, "two cheap transactions stay on one thread");
    assert_eq!(bank.entry_threads(4, 2), 2, "work at the bound takes both threads");
    bank.tx_nanos.store(bound, Ordering::Relaxed);
    assert_eq!(bank.entry_threads(2, 2), 2, "two expensive transactions take both");
    assert_eq!(bank.entry_threads(1, 2), 2);
}
