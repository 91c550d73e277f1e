//! EVM transactions on the runtime against plain sequential revm.
//!
//! The reference is revm 43 alone over an in-memory `CacheDB`, running the
//! block's transactions one by one in block order with the mainnet handler.
//! lanes builds the same block on 1, 2 and 4 threads; balances, nonces,
//! storage and receipts must match.

use std::collections::BTreeSet;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use lanes_accounts_db::{AccountHeader, AccountsDbConfig, AccountsRead, Entry};
use lanes_evm_adapter::{EvmConfig, EvmExecutor, EvmReceiptData, EvmTx, SpecId, block_env, tx_env};
use lanes_runtime::{Block, Chain, Genesis, Receipt};
use revm::bytecode::Bytecode;
use revm::context::{CfgEnv, Context};
use revm::database::{CacheDB, EmptyDB};
use revm::handler::{MainBuilder, MainContext};
use revm::state::AccountInfo;
use revm::{DatabaseRef, ExecuteCommitEvm};

pub(crate) const CHAIN_ID: u64 = 31337;
pub(crate) const COINBASE: Address = Address::repeat_byte(0xcb);
pub(crate) const BASE_FEE: u64 = 1_000_000_000;

/// Deterministic keys.
pub(crate) fn key(i: u64) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256(format!("lanes test key {i}"))).expect("valid key")
}

/// A signed EIP-1559 transaction.
pub(crate) fn signed(
    signer: &PrivateKeySigner,
    nonce: u64,
    to: TxKind,
    value: U256,
    input: Bytes,
    access_list: AccessList,
) -> Bytes {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 200_000,
        max_fee_per_gas: 3 * u128::from(BASE_FEE),
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value,
        access_list,
        input,
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    TxEnvelope::from(tx.into_signed(signature)).encoded_2718().into()
}

/// The pre-state of a test: accounts (with code) and storage.
#[derive(Default)]
pub(crate) struct World {
    pub(crate) alloc: Vec<Entry>,
}

impl World {
    pub(crate) fn fund(&mut self, address: Address, wei: U256) {
        self.alloc
            .push(Entry::Account(address, AccountHeader { balance: wei, ..Default::default() }));
    }

    pub(crate) fn contract(&mut self, address: Address, code: &[u8], balance: U256) {
        let hash = keccak256(code);
        self.alloc
            .push(Entry::Account(address, AccountHeader { nonce: 1, balance, code_hash: hash }));
        self.alloc.push(Entry::Code(hash, Bytes::copy_from_slice(code)));
    }

    pub(crate) fn slot(&mut self, address: Address, slot: B256, value: U256) {
        self.alloc.push(Entry::Storage(address, slot, value));
    }

    pub(crate) fn chain(&self, dir: &std::path::Path) -> Chain {
        let genesis = Genesis {
            alloc: self.alloc.clone(),
            gas_limit: 1_000_000_000,
            base_fee: BASE_FEE,
            ..Default::default()
        };
        let chain =
            Chain::create(dir, AccountsDbConfig::default().with_segment_size(8 << 20), &genesis)
                .expect("genesis");
        // As a node's: every block's accesses recorded (its access list).
        let banks = lanes_runtime::BankConfig { record_accesses: true, ..Default::default() };
        chain.with_bank_config(banks)
    }

    /// The same pre-state in revm's in-memory database.
    pub(crate) fn reference_db(&self) -> CacheDB<EmptyDB> {
        let mut db = CacheDB::new(EmptyDB::default());
        let code: std::collections::HashMap<B256, Bytes> = self
            .alloc
            .iter()
            .filter_map(|e| match e {
                Entry::Code(h, c) => Some((*h, c.clone())),
                _ => None,
            })
            .collect();
        for e in &self.alloc {
            match e {
                Entry::Account(a, h) => {
                    let bytecode = code.get(&h.code_hash).map(|c| Bytecode::new_raw(c.clone()));
                    let info = AccountInfo {
                        balance: h.balance,
                        nonce: h.nonce,
                        code_hash: h.code_hash,
                        code: bytecode,
                        ..Default::default()
                    };
                    db.insert_account_info(*a, info);
                }
                Entry::Storage(a, s, v) => {
                    db.insert_account_storage(*a, U256::from_be_bytes(s.0), *v).expect("storage");
                }
                Entry::Code(..) => {}
            }
        }
        db
    }
}

pub(crate) fn executor() -> EvmExecutor {
    EvmExecutor::new(EvmConfig::new(CHAIN_ID))
}

/// Builds and commits one block of `raw` transactions on `threads` threads.
pub(crate) fn build(chain: &mut Chain, raw: &[Bytes], threads: usize) -> (Block, Vec<Receipt>) {
    let exec = executor();
    let txs: Vec<EvmTx> =
        raw.iter().map(|r| lanes_runtime::Executor::decode(&exec, r).expect("decode")).collect();
    let mut bank = chain.new_bank(1, COINBASE);
    for entry in lanes_runtime::entries_in_order(txs) {
        let report = bank.execute_entry(&exec, entry, threads).expect("entry");
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        assert!(report.deferred.is_empty());
    }
    let sealed = bank.seal().expect("seal");
    let out = (sealed.block.clone(), sealed.receipts.clone());
    chain.commit(&sealed).expect("commit");
    out
}

/// What sequential revm produced: per transaction (success, gas used, logs).
pub(crate) type RefReceipt = (bool, u64, Vec<(Address, Vec<B256>, Bytes)>);

/// Runs the block's transactions in block order on plain revm.
pub(crate) fn reference(
    db: CacheDB<EmptyDB>,
    chain_before: &Chain,
    block: &Block,
) -> (CacheDB<EmptyDB>, Vec<RefReceipt>) {
    assert_eq!(block.header.parent_hash, chain_before.head_hash());
    reference_blocks(db, std::slice::from_ref(block))
}

/// The runtime's environment of a lanes block, as the reference runs it.
fn block_env_of(block: &Block) -> lanes_runtime::BlockEnv {
    lanes_runtime::BlockEnv {
        number: block.header.number,
        timestamp: block.header.timestamp,
        coinbase: block.header.coinbase,
        base_fee: block.header.base_fee,
        gas_limit: block.header.gas_limit,
        recent_hashes: vec![block.header.parent_hash],
        random: block.header.parent_hash,
        parent: None,
    }
}

/// Runs the blocks' transactions in order on plain revm, each block in its
/// own environment.
pub(crate) fn reference_blocks(
    mut db: CacheDB<EmptyDB>,
    blocks: &[Block],
) -> (CacheDB<EmptyDB>, Vec<RefReceipt>) {
    let exec = executor();
    let spec = SpecId::PRAGUE;
    let mut receipts = Vec::new();
    for block in blocks {
        let env = block_env_of(block);
        let mut evm = Context::mainnet()
            .with_db(db)
            .with_cfg(CfgEnv::new_with_spec(spec).with_chain_id(CHAIN_ID))
            .with_block(block_env(&env, spec))
            .build_mainnet();
        for recorded in block.txs() {
            let tx = lanes_runtime::Executor::decode(&exec, &recorded.tx).expect("decode");
            let result = evm.transact_commit(tx_env(tx.envelope(), tx.sender())).expect("valid");
            let logs = result
                .logs()
                .iter()
                .map(|l| (l.address, l.data.topics().to_vec(), l.data.data.clone()))
                .collect();
            receipts.push((result.is_success(), result.tx_gas_used(), logs));
        }
        db = evm.ctx.journaled_state.database;
    }
    (db, receipts)
}

/// Each block's access list (EIP-7928) as revm's own builder makes it: the
/// blocks' transactions one by one in block order over revm's `State`
/// with its BAL builder, each at its index (the first at 1).
pub(crate) fn reference_access_lists(
    db: CacheDB<EmptyDB>,
    blocks: &[Block],
) -> Vec<alloy_eips::eip7928::BlockAccessList> {
    let exec = executor();
    let spec = SpecId::PRAGUE;
    let mut state = revm::database::State::builder().with_database(db).build();
    let mut lists = Vec::new();
    for block in blocks {
        let env = block_env_of(block);
        state.bal_state.bal_builder = Some(Default::default());
        let mut evm = Context::mainnet()
            .with_db(&mut state)
            .with_cfg(CfgEnv::new_with_spec(spec).with_chain_id(CHAIN_ID))
            .with_block(block_env(&env, spec))
            .build_mainnet();
        for recorded in block.txs() {
            let tx = lanes_runtime::Executor::decode(&exec, &recorded.tx).expect("decode");
            evm.ctx.journaled_state.database.bump_bal_index();
            evm.transact_commit(tx_env(tx.envelope(), tx.sender())).expect("valid");
        }
        drop(evm);
        lists.push(state.take_built_alloy_bal().unwrap_or_default());
    }
    lists
}

pub(crate) fn lanes_receipts(receipts: &[Receipt]) -> Vec<RefReceipt> {
    receipts
        .iter()
        .map(|r| {
            let data = EvmReceiptData::from_outcome(&r.outcome).expect("evm receipt");
            (r.outcome.success, r.outcome.gas_used, data.logs)
        })
        .collect()
}

/// Asserts lanes' committed state equals the reference on `addresses` and `slots`.
pub(crate) fn assert_same_state(
    chain: &Chain,
    db: &CacheDB<EmptyDB>,
    addresses: &BTreeSet<Address>,
    slots: &[(Address, B256)],
) {
    for address in addresses {
        let ours = chain.db().get_account(address).expect("read").unwrap_or_default();
        let theirs = db.basic_ref(*address).expect("read").unwrap_or_default();
        let theirs = AccountHeader {
            nonce: theirs.nonce,
            balance: theirs.balance,
            code_hash: if theirs.code_hash.is_zero() { KECCAK256_EMPTY } else { theirs.code_hash },
        };
        assert_eq!(ours, theirs, "account {address}");
    }
    for (address, slot) in slots {
        let ours = chain.db().get_storage(address, slot).expect("read");
        let theirs = db.storage_ref(*address, U256::from_be_bytes(slot.0)).expect("read");
        assert_eq!(ours, theirs, "slot {slot} of {address}");
    }
}

#[test]
fn test_declared_runs_in_parallel_and_violations_rerun_exclusively() {
    let dir = tempfile::tempdir().unwrap();
    let mut world = World::default();
    let signers: Vec<PrivateKeySigner> = (0..4).map(key).collect();
    for s in &signers {
        world.fund(s.address(), U256::from(10u128.pow(20)));
    }
    // C copies its slot 5 into slot 1: PUSH1 5 SLOAD PUSH1 1 SSTORE STOP.
    let c = Address::repeat_byte(0xc0);
    world.contract(c, &[0x60, 0x05, 0x54, 0x60, 0x01, 0x55, 0x00], U256::ZERO);
    world.slot(c, B256::with_last_byte(5), U256::from(7));
    // D sends 1 wei to E: CALL(gas, E, 1, 0, 0, 0, 0).
    let (d, e) = (Address::repeat_byte(0xd0), Address::repeat_byte(0xe0));
    let mut code = vec![0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, 0x01, 0x73];
    code.extend_from_slice(e.as_slice());
    code.extend_from_slice(&[0x5a, 0xf1, 0x00]);
    world.contract(d, &code, U256::from(1000));
    let mut chain = world.chain(dir.path());
    let reference_db = world.reference_db();

    let list = |address: Address, slots: &[u8]| {
        AccessList(vec![AccessListItem {
            address,
            storage_keys: slots.iter().map(|s| B256::with_last_byte(*s)).collect(),
        }])
    };
    let to = |a| TxKind::Call(a);
    let raw = vec![
        // Declares slots 1 and 5 of C: runs in the parallel entry.
        signed(&signers[0], 0, to(c), U256::ZERO, Bytes::new(), list(c, &[1, 5])),
        // Declares slot 1 only; its SLOAD(5) is an undeclared read.
        signed(&signers[1], 0, to(c), U256::ZERO, Bytes::new(), list(c, &[1])),
        // Declares D (read, value 0) and E (read): D's call writes both balances.
        signed(&signers[2], 0, to(d), U256::ZERO, Bytes::new(), list(e, &[])),
        // A plain transfer declaring its receiver.
        signed(&signers[3], 0, to(e), U256::from(5), Bytes::new(), list(e, &[])),
    ];
    let before = chain.head().clone();
    let (block, receipts) = build(&mut chain, &raw, 2);
    let exclusive: Vec<bool> = block.entries.iter().map(|e| e.exclusive).collect();
    // tx0 alone (tx1 conflicts with it on slot 1 of C) ... exactly two reruns.
    assert_eq!(exclusive.iter().filter(|x| **x).count(), 2, "entries: {exclusive:?}");
    assert_eq!(block.tx_count(), 4);
    assert!(receipts.iter().all(|r| r.outcome.success));

    // Same final state and receipts as sequential revm over the block order.
    let dummy = tempfile::tempdir().unwrap();
    let chain_before = world.chain(dummy.path());
    assert_eq!(chain_before.head(), &before);
    let (db, ref_receipts) = reference(reference_db, &chain_before, &block);
    assert_eq!(lanes_receipts(&receipts), ref_receipts);
    let addresses: BTreeSet<Address> =
        signers.iter().map(|s| s.address()).chain([c, d, e, COINBASE]).collect();
    let slots = [(c, B256::with_last_byte(1)), (c, B256::with_last_byte(5))];
    assert_same_state(&chain, &db, &addresses, &slots);
    assert_eq!(chain.db().get_storage(&c, &B256::with_last_byte(1)).unwrap(), U256::from(7));
    assert_eq!(chain.db().get_account(&e).unwrap().unwrap().balance, U256::from(1 + 5));

    // And a second node replays the block (with its exclusive entries) to the same state.
    let replica_dir = tempfile::tempdir().unwrap();
    let mut replica = world.chain(replica_dir.path());
    replica.replay_block(&executor(), &block, 4).expect("replay");
    assert_eq!(replica.head(), chain.head());
}
