//! Parallel == sequential for EVM workloads, and the simulation helpers, on the
//! real compiled ERC-20 (contracts/Token.sol, contracts/artifacts/Token.json).

use std::collections::BTreeSet;

use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_signer_local::PrivateKeySigner;
use lanes_evm_adapter::{CallRequest, EvmReceipt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::evm_parallel::{
    BASE_FEE, COINBASE, World, assert_same_state, build, executor, key, lanes_receipts, reference,
    signed,
};

const TOKEN: Address = Address::repeat_byte(0x70);
const TRANSFER: [u8; 4] = [0xa9, 0x05, 0x9c, 0xbb];
const BALANCE_OF: [u8; 4] = [0x70, 0xa0, 0x82, 0x31];
const INSUFFICIENT_BALANCE: [u8; 4] = [0xe4, 0x50, 0xd3, 0x8c];

fn runtime_code() -> Bytes {
    let artifact: serde_json::Value =
        serde_json::from_str(include_str!("../../contracts/artifacts/Token.json"))
            .expect("artifact");
    artifact["deployedBytecode"].as_str().expect("hex").parse().expect("bytecode")
}

/// Slot of `balanceOf[holder]` (the mapping is at slot 0).
fn balance_slot(holder: Address) -> B256 {
    let mut buf = [0u8; 64];
    buf[12..32].copy_from_slice(holder.as_slice());
    keccak256(buf)
}

fn transfer_call(to: Address, amount: u64) -> Bytes {
    let mut data = TRANSFER.to_vec();
    data.extend_from_slice(B256::left_padding_from(to.as_slice()).as_slice());
    data.extend_from_slice(&U256::from(amount).to_be_bytes::<32>());
    data.into()
}

fn token_list(from: Address, to: Address) -> AccessList {
    AccessList(vec![AccessListItem {
        address: TOKEN,
        storage_keys: vec![balance_slot(from), balance_slot(to)],
    }])
}

/// `holders` funded with ETH and 1e6 tokens each.
fn token_world(holders: &[PrivateKeySigner]) -> World {
    let mut world = World::default();
    world.contract(TOKEN, &runtime_code(), U256::ZERO);
    for h in holders {
        world.fund(h.address(), U256::from(10u128.pow(20)));
        world.slot(TOKEN, balance_slot(h.address()), U256::from(1_000_000));
    }
    world.slot(TOKEN, B256::with_last_byte(2), U256::from(1_000_000 * holders.len() as u64));
    world
}

/// Builds the block on 1, 2 and 4 threads, checks all three agree with each
/// other and with sequential revm on every account and slot in `slots`.
fn check_parallel_equals_sequential(
    world: &World,
    raw: &[Bytes],
    accounts: BTreeSet<Address>,
    slots: &[(Address, B256)],
) {
    let mut blocks = Vec::new();
    let mut dirs = Vec::new();
    for threads in [1, 2, 4] {
        let dir = tempfile::tempdir().unwrap();
        let mut chain = world.chain(dir.path());
        let (block, receipts) = build(&mut chain, raw, threads);
        blocks.push((block, receipts, chain));
        dirs.push(dir);
    }
    let (block, receipts, chain) = &blocks[0];
    for (other, other_receipts, _) in &blocks[1..] {
        assert_eq!(other, block);
        assert_eq!(other_receipts, receipts);
    }
    assert!(block.entries.len() < raw.len(), "some transactions ran side by side");
    assert!(block.entries.iter().all(|e| !e.exclusive), "every transaction was declared correctly");
    let genesis_dir = tempfile::tempdir().unwrap();
    let (db, ref_receipts) =
        reference(world.reference_db(), &world.chain(genesis_dir.path()), block);
    assert_eq!(lanes_receipts(receipts), ref_receipts);
    assert!(ref_receipts.iter().all(|r| r.0), "all succeed");
    assert_same_state(chain, &db, &accounts, slots);
}

#[test]
fn test_erc20_transfers_among_many_holders() {
    let holders: Vec<PrivateKeySigner> = (0..120).map(key).collect();
    let world = token_world(&holders);
    let mut rng = StdRng::seed_from_u64(7);
    let mut nonces = vec![0u64; holders.len()];
    let raw: Vec<Bytes> = (0..240)
        .map(|_| {
            let (s, r) = (rng.random_range(0..holders.len()), rng.random_range(0..holders.len()));
            let (from, to) = (holders[s].address(), holders[r].address());
            let tx = signed(
                &holders[s],
                nonces[s],
                TxKind::Call(TOKEN),
                U256::ZERO,
                transfer_call(to, 7),
                token_list(from, to),
            );
            nonces[s] += 1;
            tx
        })
        .collect();
    let accounts: BTreeSet<Address> =
        holders.iter().map(|h| h.address()).chain([TOKEN, COINBASE]).collect();
    let mut slots: Vec<(Address, B256)> =
        holders.iter().map(|h| (TOKEN, balance_slot(h.address()))).collect();
    slots.push((TOKEN, B256::with_last_byte(2)));
    check_parallel_equals_sequential(&world, &raw, accounts, &slots);
}

#[test]
fn test_transfers_to_zipf_hot_receivers() {
    let senders: Vec<PrivateKeySigner> = (0..200).map(key).collect();
    let receivers: Vec<Address> = (0..50u8).map(|i| Address::repeat_byte(0x80 + i)).collect();
    let mut world = World::default();
    for s in &senders {
        world.fund(s.address(), U256::from(10u128.pow(20)));
    }
    // Zipf, s = 1.0: receiver k is hit in proportion to 1 / (k + 1).
    let weights: Vec<f64> = (0..receivers.len()).map(|k| 1.0 / (k as f64 + 1.0)).collect();
    let total: f64 = weights.iter().sum();
    let mut rng = StdRng::seed_from_u64(9);
    let mut zipf = || {
        let mut x = rng.random::<f64>() * total;
        weights
            .iter()
            .position(|w| {
                x -= w;
                x <= 0.0
            })
            .unwrap_or(receivers.len() - 1)
    };
    let raw: Vec<Bytes> = senders
        .iter()
        .map(|s| {
            let to = receivers[zipf()];
            let list = AccessList(vec![AccessListItem { address: to, storage_keys: vec![] }]);
            signed(s, 0, TxKind::Call(to), U256::from(1000), Bytes::new(), list)
        })
        .collect();
    let accounts = senders
        .iter()
        .map(|s| s.address())
        .chain(receivers.iter().copied())
        .chain([COINBASE])
        .collect();
    check_parallel_equals_sequential(&world, &raw, accounts, &[]);
}

#[test]
fn test_call_estimate_and_access_list_on_the_token() {
    let holders: Vec<PrivateKeySigner> = (0..3).map(key).collect();
    let world = token_world(&holders);
    let dir = tempfile::tempdir().unwrap();
    let mut chain = world.chain(dir.path());
    let exec = executor();
    let (a, b) = (holders[0].address(), holders[1].address());

    // eth_call balanceOf.
    let bank = chain.new_bank(1, COINBASE);
    let mut data = BALANCE_OF.to_vec();
    data.extend_from_slice(B256::left_padding_from(a.as_slice()).as_slice());
    let call = CallRequest { to: Some(TOKEN), data: data.into(), ..Default::default() };
    let sim = exec.call(&bank, &call).unwrap();
    assert!(sim.success);
    assert_eq!(U256::from_be_slice(&sim.output), U256::from(1_000_000));

    // A transfer of more than the balance reverts with the custom error.
    let too_much = CallRequest {
        from: Some(a),
        to: Some(TOKEN),
        data: transfer_call(b, 2_000_000),
        ..Default::default()
    };
    let sim = exec.call(&bank, &too_much).unwrap();
    assert!(sim.reverted && !sim.success);
    assert_eq!(&sim.output[..4], &INSUFFICIENT_BALANCE);

    // Estimates: 21000 for a plain transfer; the token transfer's estimate is
    // the least gas that works.
    let plain =
        CallRequest { from: Some(a), to: Some(b), value: U256::from(1), ..Default::default() };
    assert_eq!(exec.estimate_gas(&bank, &plain).unwrap(), 21_000);
    let transfer = CallRequest {
        from: Some(a),
        to: Some(TOKEN),
        data: transfer_call(b, 5),
        ..Default::default()
    };
    let gas = exec.estimate_gas(&bank, &transfer).unwrap();
    assert!(gas > 21_000);
    assert!(exec.call(&bank, &CallRequest { gas: Some(gas), ..transfer.clone() }).unwrap().success);
    assert!(
        !exec.call(&bank, &CallRequest { gas: Some(gas - 1), ..transfer.clone() }).unwrap().success
    );
    assert!(exec.estimate_gas(&bank, &too_much).is_err(), "a reverting call has no estimate");

    // createAccessList gives exactly what lanes locks; sent with it, two
    // transfers between disjoint pairs share one parallel entry.
    let (list, sim) = exec.create_access_list(&bank, &transfer).unwrap();
    let mut keys = vec![balance_slot(a), balance_slot(b)];
    keys.sort();
    assert_eq!(list, AccessList(vec![AccessListItem { address: TOKEN, storage_keys: keys }]));
    assert!(sim.success);
    drop(bank);
    let c = holders[2].address();
    let d = Address::repeat_byte(0xdd);
    let raw = vec![
        signed(&holders[0], 0, TxKind::Call(TOKEN), U256::ZERO, transfer_call(b, 5), list),
        signed(
            &holders[2],
            0,
            TxKind::Call(TOKEN),
            U256::ZERO,
            transfer_call(d, 5),
            token_list(c, d),
        ),
    ];
    let (block, receipts) = build(&mut chain, &raw, 2);
    assert_eq!(block.entries.len(), 1, "both in one entry");
    assert_eq!(block.entries[0].txs.len(), 2);
    assert!(receipts.iter().all(|r| r.outcome.success));

    // The Ethereum-shaped receipt: one Transfer log, bloom, effective price.
    let tx = lanes_runtime::Executor::decode(&exec, &raw[0]).unwrap();
    let receipt = EvmReceipt::new(&receipts[0], &tx, BASE_FEE).unwrap();
    assert!(receipt.status && receipt.contract_address.is_none());
    assert_eq!(receipt.cumulative_gas_used, receipt.gas_used);
    assert_eq!(receipt.logs.len(), 1);
    assert_eq!(receipt.logs[0].address, TOKEN);
    assert_eq!(receipt.logs[0].topics()[0], keccak256("Transfer(address,address,uint256)"));
    assert!(receipt.logs_bloom.contains_input(alloy_primitives::BloomInput::Raw(TOKEN.as_slice())));
    assert!(
        !receipt.logs_bloom.contains_input(alloy_primitives::BloomInput::Raw(COINBASE.as_slice()))
    );
    assert_eq!(receipt.effective_gas_price, u128::from(BASE_FEE) + 1_000_000_000);
}
