//! Embedding lanes-runtime: a chain with the native executor; one block of
//! transfers run side by side on two threads, then a batch of transfers that
//! declare nothing, run in parallel lanes under sets an [`Admission`] hook
//! supplies from state; both blocks committed, then replayed by a second
//! node (another directory) to the same state commitment.
//!
//! Run: `cargo run -p lanes-runtime --example transfers`

use alloy_primitives::{Address, U256};
use lanes_accounts_db::{AccountHeader, AccountsDbConfig, AccountsRead, Entry};
use lanes_runtime::native::{NativeExecutor, NativeOp, NativeTx};
use lanes_runtime::{
    AccessSet, AccessSource, Admission, AdmitContext, Admitted, Chain, Executed, Genesis, StateKey,
    TxError,
};

/// Knows what a native transfer writes without running it: its two accounts.
struct KnownTransfers;

impl Admission<NativeTx> for KnownTransfers {
    fn admit(&self, tx: &NativeTx, _ctx: AdmitContext<'_>) -> Result<Option<Admitted>, TxError> {
        let NativeOp::Transfer { to, .. } = tx.op() else { return Ok(None) };
        let writes = [StateKey::Account(tx.from()), StateKey::Account(*to)];
        let access = Some(AccessSet::unbounded([], writes));
        Ok(Some(Admitted { access, source: AccessSource::Known }))
    }
}

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
    let coinbase = Address::repeat_byte(0xcb);

    // Block 1: four transfers between disjoint pairs, each declaring its
    // two accounts: one entry, run on two threads.
    let txs: Vec<NativeTx> = people
        .chunks(2)
        .map(|pair| NativeTx::transfer(pair[0], 0, pair[1], U256::from(100), U256::from(1)))
        .collect();
    let mut bank = producer.new_bank(1, coinbase);
    let report = bank.execute_entry(&NativeExecutor, txs, 2)?;
    println!(
        "block 1: included {} transactions, {} in the exclusive lane",
        report.included.len(),
        report.exclusive
    );
    let sealed = bank.seal()?;
    let mut blocks = vec![sealed.block.clone()];
    producer.commit(&sealed)?;

    // Block 2: the same pairs send back, declaring nothing. The admission
    // hook supplies each set from the head's state, so they run as one
    // entry instead of one by one in the exclusive lane.
    let bank = producer.new_bank(2, coinbase);
    let batch: Vec<(NativeTx, Admitted)> = people
        .chunks(2)
        .map(|pair| {
            let tx = NativeTx::transfer(pair[1], 0, pair[0], U256::from(50), U256::from(1))
                .with_declared(None);
            let admitted = KnownTransfers.admit(&tx, AdmitContext::new(&bank))?;
            Ok((tx, admitted.unwrap_or_default()))
        })
        .collect::<Result<_, TxError>>()?;
    let results = bank.execute_batch(&NativeExecutor, &mut (), &batch)?;
    let included = results.iter().filter(|r| matches!(r, Executed::Included { .. })).count();
    let sealed = bank.seal()?;
    println!(
        "block 2: {included} undeclared transfers admitted with known sets, in {} entry",
        sealed.block.entries.len()
    );
    blocks.push(sealed.block.clone());
    producer.commit(&sealed)?;

    // Another node checks and applies the same blocks, from the sets they
    // record: it needs no admission hook.
    for block in &blocks {
        replica.replay_block(&NativeExecutor, block, 4)?;
    }
    assert_eq!(replica.head(), producer.head());
    println!(
        "replica agrees at block {}: state commitment {}",
        replica.head().number,
        replica.head().state_commitment
    );
    let balance = replica.db().get_account(&people[1])?.map(|h| h.balance);
    println!("{} now holds {:?} wei; the coinbase got the fees", people[1], balance);
    Ok(())
}
