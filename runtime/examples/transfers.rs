//! Embedding lanes-runtime: a chain with the native executor, one block of
//! transfers run side by side on two threads, committed, then replayed by a
//! second node (another directory) to the same state commitment.
//!
//! Run: `cargo run -p lanes-runtime --example transfers`

use alloy_primitives::{Address, U256};
use lanes_accounts_db::{AccountHeader, AccountsDbConfig, AccountsRead, Entry};
use lanes_runtime::native::{NativeExecutor, NativeTx};
use lanes_runtime::{Chain, Genesis};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let people: Vec<Address> = (1..=8u8).map(Address::repeat_byte).collect();
    let funded = AccountHeader { balance: U256::from(1_000), ..Default::default() };
    let genesis = Genesis {
        alloc: people.iter().map(|a| Entry::Account(*a, funded)).collect(),
        gas_limit: 30_000_000,
        ..Default::default()
    };
    let (dir_a, dir_b) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let mut producer = Chain::create(dir_a.path(), AccountsDbConfig::default(), &genesis)?;
    let mut replica = Chain::create(dir_b.path(), AccountsDbConfig::default(), &genesis)?;

    // Four transfers between disjoint pairs: one entry, run on two threads.
    let txs: Vec<NativeTx> = people
        .chunks(2)
        .map(|pair| NativeTx::transfer(pair[0], 0, pair[1], U256::from(100), U256::from(1)))
        .collect();
    let coinbase = Address::repeat_byte(0xcb);
    let mut bank = producer.new_bank(1, coinbase);
    let report = bank.execute_entry(&NativeExecutor, txs, 2)?;
    println!(
        "included {} transactions, {} in the exclusive lane",
        report.included.len(),
        report.exclusive
    );
    let sealed = bank.seal()?;
    let block = sealed.block.clone();
    producer.commit(&sealed)?;
    println!(
        "block {}: {} entries, state commitment {}",
        block.header.number,
        block.entries.len(),
        block.header.state_commitment
    );

    // Another node checks and applies the same block.
    replica.replay_block(&NativeExecutor, &block, 4)?;
    assert_eq!(replica.head(), producer.head());
    let balance = replica.db().get_account(&people[1])?.map(|h| h.balance);
    println!("replica agrees; {} now holds {:?} wei; coinbase got the fees", people[1], balance);
    Ok(())
}
