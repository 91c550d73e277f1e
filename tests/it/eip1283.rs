//! EIP-1283's net gas metering, which a chain with `constantinopleBlock` and
//! no `petersburgBlock` runs (revm 43 has no such spec: lanes replaces its
//! SSTORE). EIP-1283's own test vector: `SSTORE(0, 1); SSTORE(0, 0)` on a
//! fresh slot uses 20,212 gas and refunds 19,800; under Petersburg it uses
//! 25,012 and refunds 15,000.

use alloy_consensus::{SignableTransaction, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use lanes_accounts_db::{AccountHeader, AccountsDbConfig, Entry};
use lanes_eth::EthSpec;
use lanes_evm_adapter::{EvmConfig, EvmExecutor, SpecId};
use lanes_runtime::{BlockEnv, Chain, Executor, Genesis, OrderedConfig, OrderedSets};

use crate::evm_parallel::key;

const CONTRACT: Address = Address::repeat_byte(0xc0);

/// Gas used by a call of the contract, at `spec`, EIP-1283 on or off.
fn gas_used(eip1283: bool) -> u64 {
    let sender = key(0).address();
    // PUSH1 1 PUSH1 0 SSTORE PUSH1 0 PUSH1 0 SSTORE
    let code = Bytes::from_static(&[0x60, 0x01, 0x60, 0x00, 0x55, 0x60, 0x00, 0x60, 0x00, 0x55]);
    let funded = AccountHeader { balance: U256::from(10u128.pow(18)), ..Default::default() };
    let alloc = vec![
        Entry::Account(sender, funded),
        Entry::Account(
            CONTRACT,
            AccountHeader { code_hash: keccak256(&code), ..Default::default() },
        ),
        Entry::Code(keccak256(&code), code),
    ];
    let dir = tempfile::tempdir().unwrap();
    let genesis = Genesis { alloc, gas_limit: 30_000_000, ..Default::default() };
    let chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis).unwrap();
    let config =
        EvmConfig { spec: SpecId::PETERSBURG, allow_unprotected: true, ..EvmConfig::new(1) };
    let exec = EvmExecutor::new(config).with_eip1283(eip1283);
    let tx = TxLegacy {
        chain_id: Some(1),
        nonce: 0,
        gas_price: 1,
        gas_limit: 100_000,
        to: TxKind::Call(CONTRACT),
        value: U256::ZERO,
        input: Bytes::new(),
    };
    let signature = key(0).sign_hash_sync(&tx.signature_hash()).unwrap();
    let raw: Bytes = TxEnvelope::from(tx.into_signed(signature)).encoded_2718().into();
    let tx = exec.decode(&raw).unwrap();
    let env = BlockEnv { number: 1, timestamp: 1, gas_limit: 30_000_000, ..BlockEnv::default() };
    let bank = chain.new_bank_with(env);
    let ordered = OrderedConfig { threads: 1, ..OrderedConfig::default() };
    bank.execute_ordered(&exec, &[tx], OrderedSets::Run, &ordered).unwrap();
    bank.seal().unwrap().receipts[0].outcome.gas_used
}

#[test]
fn test_constantinople_without_petersburg_meters_sstore_by_eip_1283() {
    // 21,000 + 20,212 - 19,800 (under half the gas used: all of it refunded).
    assert_eq!(gas_used(true), 21_412);
    // 21,000 + 25,012 - 15,000.
    assert_eq!(gas_used(false), 31_012);
    // Which blocks run it: Constantinople's, until Petersburg's.
    let mut config = alloy_genesis::ChainConfig {
        homestead_block: Some(0),
        eip150_block: Some(0),
        eip155_block: Some(0),
        eip158_block: Some(0),
        byzantium_block: Some(0),
        constantinople_block: Some(5),
        ..Default::default()
    };
    let spec = EthSpec::new(config.clone());
    assert!(!spec.eip1283_at(4) && spec.eip1283_at(5) && spec.eip1283_at(1_000));
    config.petersburg_block = Some(8);
    let spec = EthSpec::new(config.clone());
    assert!(spec.eip1283_at(7) && !spec.eip1283_at(8));
    config.istanbul_block = Some(7);
    assert!(!EthSpec::new(config).eip1283_at(7), "Istanbul's EIP-2200 from its block");
}
