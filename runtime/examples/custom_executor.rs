//! Embedding lanes-runtime with an executor of your own: a key-value store
//! with balances, not the EVM. Its state maps onto the runtime's
//! [`StateKey`]s: each stored value is a storage slot of one namespace
//! address (`Storage(STORE, key)`), each balance the balance of an account
//! (`Account(owner)`). A block of 1,000 transactions with conflicts runs on
//! two threads in one call, a second node replays it in one call to the
//! same state commitment, and a tampered block is refused.
//!
//! The only dependency is `lanes-runtime` (it re-exports what an embedding
//! names). Run: `cargo run -p lanes-runtime --example custom_executor`

use lanes_runtime::alloy_primitives::keccak256;
use lanes_runtime::prelude::*;

/// The namespace address whose storage slots hold the store's values.
pub const STORE: Address = Address::repeat_byte(0x5e);
/// Gas a `Put` uses.
pub const PUT_GAS: u64 = 5_000;
/// Gas a `Move` uses.
pub const MOVE_GAS: u64 = 1_000;

/// What a transaction of the store does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Sets `key` to `value`.
    Put {
        /// The key.
        key: B256,
        /// Its new value.
        value: U256,
    },
    /// Moves `amount` of balance from `from` to `to`; invalid if `from` has
    /// less.
    Move {
        /// Payer.
        from: Address,
        /// Receiver.
        to: Address,
        /// How much.
        amount: U256,
    },
}

/// A transaction of the store: an operation, a tag that makes equal
/// operations distinct transactions, and the set it declares.
#[derive(Clone, Debug)]
pub struct KvTx {
    op: Op,
    encoded: Bytes,
    hash: B256,
    access: Option<AccessSet>,
}

impl KvTx {
    /// Sets `key` to `value`, declaring the one slot it writes.
    pub fn put(tag: u64, key: B256, value: U256) -> Self {
        Self::new(tag, Op::Put { key, value })
    }

    /// Moves `amount` from `from` to `to`, declaring the two accounts.
    pub fn transfer(tag: u64, from: Address, to: Address, amount: U256) -> Self {
        Self::new(tag, Op::Move { from, to, amount })
    }

    fn new(tag: u64, op: Op) -> Self {
        let mut bytes = tag.to_be_bytes().to_vec();
        match &op {
            Op::Put { key, value } => {
                bytes.push(0);
                bytes.extend_from_slice(key.as_slice());
                bytes.extend_from_slice(&value.to_be_bytes::<32>());
            }
            Op::Move { from, to, amount } => {
                bytes.push(1);
                bytes.extend_from_slice(from.as_slice());
                bytes.extend_from_slice(to.as_slice());
                bytes.extend_from_slice(&amount.to_be_bytes::<32>());
            }
        }
        let access = Some(declared(&op));
        Self { hash: keccak256(&bytes), encoded: bytes.into(), op, access }
    }

    /// The same transaction declaring `access` instead (`None`: nothing; it
    /// then runs alone, in the exclusive lane).
    pub fn declaring(mut self, access: Option<AccessSet>) -> Self {
        self.access = access;
        self
    }
}

/// The set an operation touches: what a transaction declares by default.
fn declared(op: &Op) -> AccessSet {
    match op {
        Op::Put { key, .. } => AccessSet::unbounded([], [StateKey::Storage(STORE, *key)]),
        Op::Move { from, to, .. } => {
            AccessSet::unbounded([], [StateKey::Account(*from), StateKey::Account(*to)])
        }
    }
}

impl Transaction for KvTx {
    fn hash(&self) -> B256 {
        self.hash
    }

    fn access_set(&self) -> Option<&AccessSet> {
        self.access.as_ref()
    }

    fn encoded(&self) -> &Bytes {
        &self.encoded
    }
}

/// The store's executor.
#[derive(Clone, Copy, Debug, Default)]
pub struct KvExecutor;

impl Executor for KvExecutor {
    type Tx = KvTx;
    type Worker<'b> = ();

    /// Replay decodes what [`Transaction::encoded`] wrote; the set comes
    /// from the block, not from the bytes.
    fn decode(&self, bytes: &[u8]) -> Result<KvTx, DecodeError> {
        let bad = || DecodeError(format!("{} bytes are no store transaction", bytes.len()));
        let (tag, rest) = bytes.split_first_chunk::<8>().ok_or_else(bad)?;
        let tag = u64::from_be_bytes(*tag);
        let op = match rest {
            [0, body @ ..] if body.len() == 64 => Op::Put {
                key: B256::from_slice(&body[..32]),
                value: U256::from_be_slice(&body[32..]),
            },
            [1, body @ ..] if body.len() == 72 => Op::Move {
                from: Address::from_slice(&body[..20]),
                to: Address::from_slice(&body[20..40]),
                amount: U256::from_be_slice(&body[40..]),
            },
            _ => return Err(bad()),
        };
        Ok(KvTx::new(tag, op))
    }

    fn worker<'b>(&'b self, _env: &'b BlockEnv) -> Self::Worker<'b> {}

    fn execute<'b>(
        &self,
        _worker: &mut (),
        tx: &KvTx,
        mut state: StateView<'b>,
    ) -> (Result<Outcome, TxError>, StateView<'b>) {
        let result = run(&tx.op, &mut state);
        (result, state)
    }
}

/// Runs `op` through the lock-checked view: a key outside the transaction's
/// set is refused there, and nothing of the run is kept.
fn run(op: &Op, state: &mut StateView<'_>) -> Result<Outcome, TxError> {
    let gas_used = match op {
        Op::Put { key, value } => {
            state.set_storage(&STORE, key, *value)?;
            PUT_GAS
        }
        Op::Move { from, to, amount } => {
            let mut payer = state.account(from)?;
            payer.balance = payer.balance.checked_sub(*amount).ok_or_else(|| {
                TxError::Invalid(format!("{from} holds {}, less than {amount}", payer.balance))
            })?;
            state.set_account(from, payer)?;
            let mut payee = state.account(to)?;
            payee.balance = payee.balance.saturating_add(*amount);
            state.set_account(to, payee)?;
            MOVE_GAS
        }
    };
    Ok(Outcome { success: true, gas_used, fee: U256::ZERO, data: Bytes::new() })
}

/// The example's accounts, each funded at genesis.
pub fn people() -> Vec<Address> {
    (1..=16u8).map(Address::repeat_byte).collect()
}

/// A genesis funding [`people`] with 1,000 each.
pub fn genesis() -> Genesis {
    let funded = AccountHeader { balance: U256::from(1_000), ..Default::default() };
    Genesis {
        alloc: people().iter().map(|a| Entry::Account(*a, funded)).collect(),
        ..Default::default()
    }
}

/// 1,000 transactions: puts on 100 keys (so later puts of a key conflict
/// with earlier ones) and moves among 16 accounts (which conflict often).
pub fn busy_block() -> Vec<KvTx> {
    let people = people();
    (0..1_000u64)
        .map(|i| {
            if i % 2 == 0 {
                KvTx::put(i, B256::with_last_byte((i % 100) as u8), U256::from(i))
            } else {
                let from = people[(i % 16) as usize];
                let to = people[((i * 7 + 3) % 16) as usize];
                KvTx::transfer(i, from, to, U256::from(1))
            }
        })
        .collect()
}

/// Runs the example: produce, replay, refuse a tampered block.
pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::temp_dir().join(format!("lanes-custom-executor-{}", std::process::id()));
    let (dir_a, dir_b) = (base.join("producer"), base.join("replica"));
    let mut producer = Chain::create(&dir_a, AccountsDbConfig::default(), &genesis())?;
    let mut replica = Chain::create(&dir_b, AccountsDbConfig::default(), &genesis())?;

    // One call runs the block: entries of non-conflicting neighbours, each
    // on two threads, then sealed.
    let txs = busy_block();
    let (timestamp, coinbase) = (1, Address::ZERO);
    let bank = producer.new_bank(timestamp, coinbase);
    let run = bank.execute_block(&KvExecutor, &txs, &BlockOptions::new(2))?;
    println!(
        "block 1: {} of {} transactions in {} entries as run, {} as recorded",
        run.included(),
        txs.len(),
        run.entries_run,
        run.sealed.block.entries.len()
    );
    producer.commit(&run.sealed)?;

    // The mirror call: a replica re-runs the block in parallel from the sets
    // it records and checks every header field.
    replica.replay_block(&KvExecutor, &run.sealed.block, 2)?;
    assert_eq!(replica.head_hash(), producer.head_hash());
    let value = replica.db().get_storage(&STORE, &B256::with_last_byte(8))?;
    println!("replica agrees at block 1; key 8 holds {value:?}");

    // Block 2: a block whose recorded set was narrowed is refused, naming
    // the entry, the transaction and the key; the true block then replays.
    let people = people();
    let moves: Vec<KvTx> =
        (0..4).map(|i| KvTx::transfer(2_000 + i, people[0], people[1], U256::from(5))).collect();
    let run =
        producer.new_bank(2, coinbase).execute_block(&KvExecutor, &moves, &BlockOptions::new(2))?;
    producer.commit(&run.sealed)?;
    let mut tampered = run.sealed.block.clone();
    tampered.entries[0].txs[0].access = AccessSet::unbounded([], [StateKey::Account(people[0])]);
    let refused = replica.replay_block(&KvExecutor, &tampered, 2).unwrap_err();
    println!("tampered block 2: {refused}");
    replica.replay_block(&KvExecutor, &run.sealed.block, 2)?;
    assert_eq!(replica.head_hash(), producer.head_hash());
    let balance = replica.db().get_account(&people[1])?.map(|a| a.balance);
    println!("block 2 replayed; {} holds {balance:?}", people[1]);

    std::fs::remove_dir_all(&base)?;
    Ok(())
}
