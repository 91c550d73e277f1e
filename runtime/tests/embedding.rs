//! An embedding of lanes-runtime that names nothing but `lanes_runtime`:
//! the store of `examples/custom_executor.rs` (its executor is this test's),
//! and the runtime's side of the contract with an executor — what the bank
//! refuses whatever the executor says.

#[path = "../examples/custom_executor.rs"]
#[allow(dead_code, unreachable_pub)]
mod store;

use lanes_runtime::ReplayErrorKind;
use lanes_runtime::prelude::*;
use store::{KvExecutor, KvTx, MOVE_GAS, PUT_GAS, STORE};

struct Dir(std::path::PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "lanes-embedding-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        Self(path)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn chain(dir: &Dir, genesis: &Genesis) -> Chain {
    Chain::create(&dir.0, AccountsDbConfig::default(), genesis).unwrap()
}

/// Runs `txs` one by one, each as a block of one entry on one thread: the
/// sequential reference.
fn sequential_state(txs: &[KvTx]) -> (Vec<U256>, Vec<U256>) {
    let dir = Dir::new("sequential");
    let mut c = chain(&dir, &store::genesis());
    let mut bank = c.new_bank(1, Address::ZERO);
    for tx in txs {
        let report = bank.execute_entry(&KvExecutor, vec![tx.clone()], 1).unwrap();
        assert_eq!(report.included.len(), 1, "{:?}", report.rejected);
    }
    c.commit(&bank.seal().unwrap()).unwrap();
    state(&c)
}

fn state(c: &Chain) -> (Vec<U256>, Vec<U256>) {
    let values =
        (0..100u8).map(|k| c.db().get_storage(&STORE, &B256::with_last_byte(k)).unwrap()).collect();
    let balances =
        store::people().iter().map(|a| c.db().get_account(a).unwrap().unwrap().balance).collect();
    (values, balances)
}

#[test]
fn test_the_example_runs() {
    store::main().unwrap();
}

#[test]
fn test_a_block_with_conflicts_runs_in_one_call_and_replays_in_one_call() {
    let txs = store::busy_block();
    let (dir_a, dir_b) = (Dir::new("producer"), Dir::new("replica"));
    let (mut producer, mut replica) =
        (chain(&dir_a, &store::genesis()), chain(&dir_b, &store::genesis()));
    let run = producer
        .new_bank(1, Address::ZERO)
        .execute_block(&KvExecutor, &txs, &BlockOptions::new(2))
        .unwrap();
    assert_eq!(run.included(), txs.len());
    assert!(run.entries_run < txs.len(), "{} entries", run.entries_run);
    // Conflicting transactions run one after another in a lane of their entry.
    let entries = &run.sealed.block.entries;
    assert!(entries.iter().any(|e| !e.lanes.is_empty()), "no lane holds two transactions");
    // Each outcome points at its receipt; the block keeps the given order.
    for (tx, r) in txs.iter().zip(&run.txs) {
        let TxStatus::Included { index, exclusive: false } = r.status else {
            panic!("{:?}", r.status)
        };
        assert_eq!(run.sealed.receipts[index].tx_hash, tx.hash());
    }
    let gas: u64 = run.sealed.receipts.iter().map(|r| r.outcome.gas_used).sum();
    assert_eq!(gas, 500 * PUT_GAS + 500 * MOVE_GAS);
    producer.commit(&run.sealed).unwrap();
    assert_eq!(state(&producer), sequential_state(&txs));

    replica.replay_block(&KvExecutor, &run.sealed.block, 2).unwrap();
    assert_eq!(replica.head_hash(), producer.head_hash());
    assert_eq!(state(&replica), state(&producer));
}

#[test]
fn test_a_fixed_order_block_predicts_undeclared_transactions_and_equals_sequential() {
    let txs: Vec<KvTx> =
        store::busy_block().into_iter().take(200).map(|t| t.declaring(None)).collect();
    let dir = Dir::new("fixed");
    let mut c = chain(&dir, &store::genesis());
    let options = BlockOptions::new(2).with_order(BlockOrder::Fixed);
    let run = c.new_bank(1, Address::ZERO).execute_block(&KvExecutor, &txs, &options).unwrap();
    assert_eq!(run.included(), 200);
    assert!(run.txs.iter().all(|t| t.source == AccessSource::Predicted), "{:?}", run.txs[0]);
    c.commit(&run.sealed).unwrap();
    assert_eq!(state(&c), sequential_state(&txs));
}

#[test]
fn test_a_transaction_that_leaves_its_set_is_named_with_the_key() {
    let people = store::people();
    let narrow = AccessSet::unbounded([], [StateKey::Account(people[0])]);
    let txs = [
        KvTx::transfer(1, people[2], people[3], U256::from(1)),
        KvTx::transfer(2, people[0], people[1], U256::from(1)).declaring(Some(narrow)),
    ];
    let dir = Dir::new("stray");
    let mut c = chain(&dir, &store::genesis());
    let run = c
        .new_bank(1, Address::ZERO)
        .execute_block(&KvExecutor, &txs, &BlockOptions::new(2))
        .unwrap();
    assert_eq!(run.txs[0].strayed, None);
    assert_eq!(run.txs[1].strayed, Some(StateKey::Account(people[1])));
    assert!(matches!(run.txs[1].status, TxStatus::Included { exclusive: true, .. }));
    c.commit(&run.sealed).unwrap();
    assert_eq!(c.db().get_account(&people[1]).unwrap().unwrap().balance, U256::from(1_001));
}

#[test]
fn test_the_block_gas_limit_holds() {
    // Room for two moves: the third waits for a later block.
    let genesis = Genesis { gas_limit: 2 * MOVE_GAS, ..store::genesis() };
    let people = store::people();
    let txs: Vec<KvTx> = (0..3)
        .map(|i| KvTx::transfer(i, people[i as usize], people[8 + i as usize], U256::from(1)))
        .collect();
    let dir = Dir::new("gas");
    let mut c = chain(&dir, &genesis);
    let run = c
        .new_bank(1, Address::ZERO)
        .execute_block(&KvExecutor, &txs, &BlockOptions::new(2))
        .unwrap();
    assert_eq!(run.included(), 2);
    assert_eq!(run.txs.iter().filter(|t| t.status == TxStatus::Deferred).count(), 1);
    assert!(run.sealed.block.header.gas_used <= genesis.gas_limit);
    c.commit(&run.sealed).unwrap();

    // A put uses more gas than a whole block holds: refused, never deferred.
    let big = [KvTx::put(9, B256::ZERO, U256::from(1))];
    let run = c
        .new_bank(2, Address::ZERO)
        .execute_block(&KvExecutor, &big, &BlockOptions::new(1))
        .unwrap();
    assert_eq!(
        run.txs[0].status,
        TxStatus::Rejected(TxError::BlockFull { used: PUT_GAS, left: 2 * MOVE_GAS })
    );

    // The same through the lower-level call, and a fixed-order block over
    // its limit is invalid as a whole.
    let mut bank = c.new_bank(2, Address::ZERO);
    let report = bank.execute_entry(&KvExecutor, txs.clone(), 2).unwrap();
    assert_eq!((report.included.len(), report.deferred.len()), (2, 1));
    let fixed = BlockOptions::new(2).with_order(BlockOrder::Fixed);
    let err = c.new_bank(2, Address::ZERO).execute_block(&KvExecutor, &txs, &fixed).unwrap_err();
    assert!(
        err.to_string().contains("transaction 2 is invalid: it used 1000 gas, more than the 0"),
        "{err}"
    );
}

#[test]
fn test_a_replayed_block_over_the_gas_limit_is_refused() {
    // A block made on a chain with room for three moves, replayed on one
    // with room for two whose head it is made to follow.
    let people = store::people();
    let txs: Vec<KvTx> =
        (0..3).map(|i| KvTx::transfer(i, people[i as usize], people[8], U256::from(1))).collect();
    let (dir_a, dir_b) = (Dir::new("gas-a"), Dir::new("gas-b"));
    let mut roomy = chain(&dir_a, &store::genesis());
    let tight = chain(&dir_b, &Genesis { gas_limit: 2 * MOVE_GAS, ..store::genesis() });
    let run = roomy
        .new_bank(1, Address::ZERO)
        .execute_block(&KvExecutor, &txs, &BlockOptions::new(1))
        .unwrap();
    roomy.commit(&run.sealed).unwrap();
    let mut block = run.sealed.block.clone();
    block.header.parent_hash = tight.head_hash();
    let err = tight.reexecute(&KvExecutor, &block, 2).unwrap_err();
    assert!(
        matches!(err.kind, ReplayErrorKind::InvalidTx(ref m) if m.contains("more than the")),
        "{err}"
    );
}

#[test]
fn test_a_hash_appears_once_per_block() {
    let people = store::people();
    let tx = KvTx::transfer(1, people[0], people[1], U256::from(1));
    let other = KvTx::transfer(2, people[2], people[3], U256::from(1));
    let dir = Dir::new("dup");
    let mut c = chain(&dir, &store::genesis());

    let txs = [tx.clone(), other.clone(), tx.clone()];
    let run = c
        .new_bank(1, Address::ZERO)
        .execute_block(&KvExecutor, &txs, &BlockOptions::new(2))
        .unwrap();
    assert_eq!(run.included(), 2);
    assert_eq!(run.txs[2].status, TxStatus::Rejected(TxError::Duplicate(tx.hash())));

    // Given twice to the lower-level calls, and to a fixed-order block.
    let mut bank = c.new_bank(1, Address::ZERO);
    let report = bank.execute_entry(&KvExecutor, vec![tx.clone()], 2).unwrap();
    assert_eq!(report.included, vec![tx.hash()]);
    let report = bank.execute_entry(&KvExecutor, vec![tx.clone()], 2).unwrap();
    assert_eq!(report.rejected, vec![(tx.hash(), TxError::Duplicate(tx.hash()))]);
    let again = bank.execute_entry(&KvExecutor, vec![tx.clone().declaring(None)], 1).unwrap();
    assert_eq!(again.rejected, vec![(tx.hash(), TxError::Duplicate(tx.hash()))]);
    let fixed = BlockOptions::new(2).with_order(BlockOrder::Fixed);
    let err = c.new_bank(1, Address::ZERO).execute_block(&KvExecutor, &txs, &fixed).unwrap_err();
    assert!(err.to_string().contains("transaction 2 is invalid"), "{err}");

    // A block that holds one transaction twice does not replay.
    c.commit(&run.sealed).unwrap();
    let dir_b = Dir::new("dup-replica");
    let replica = chain(&dir_b, &store::genesis());
    let mut block = run.sealed.block.clone();
    let first = block.entries[0].txs[0].clone();
    block.entries.last_mut().unwrap().txs.push(first);
    let err = replica.reexecute(&KvExecutor, &block, 2).unwrap_err();
    assert_eq!(err.kind, ReplayErrorKind::DuplicateTx(tx.hash()), "{err}");
}
