use std::time::Duration;

use alloy_consensus::{Header, Transaction as _};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_eth::simulate::{SimBlock, SimulatePayload};
use alloy_rpc_types_eth::state::{AccountOverride, StateOverride};
use alloy_rpc_types_eth::{BlockOverrides, TransactionRequest};
use lanes_accounts_db::{AccountHeader, AccountsDb, AccountsDbConfig, Entry};

use super::*;
use crate::state_root_of;
use lanes_evm_adapter::SpecId;

const ETH: u64 = 1_000_000_000_000_000_000;

struct Chain {
    _dir: tempfile::TempDir,
    db: AccountsDb,
    genesis: Vec<Entry>,
}

fn chain() -> Chain {
    let dir = tempfile::tempdir().unwrap();
    let db = AccountsDb::open(dir.path(), AccountsDbConfig::default()).unwrap();
    let genesis = vec![Entry::Account(
        Address::repeat_byte(0xa),
        AccountHeader { balance: U256::from(ETH), ..Default::default() },
    )];
    db.commit(0, B256::ZERO, &genesis).unwrap();
    Chain { _dir: dir, db, genesis }
}

fn base(chain: &Chain) -> SimBase<'static> {
    let header = Header {
        number: 0,
        timestamp: 1_000,
        gas_limit: 30_000_000,
        base_fee_per_gas: Some(7),
        state_root: state_root_of(&chain.genesis),
        ..Header::default()
    };
    SimBase {
        view: chain.db.view(),
        hash: header.hash_slow(),
        hashes: vec![header.hash_slow()],
        header,
        rules: SimRules::Lanes(SpecId::PRAGUE),
        chain_id: 1337,
        gas_cap: 50_000_000,
        timeout: Duration::from_secs(5),
    }
}

fn payload(blocks: Vec<SimBlock>) -> SimulatePayload {
    SimulatePayload {
        block_state_calls: blocks,
        trace_transfers: false,
        validation: false,
        return_full_transactions: false,
    }
}

fn call(from: Address, to: Address, value: u64) -> TransactionRequest {
    TransactionRequest::default().from(from).to(to).value(U256::from(value))
}

fn numbered(number: u64) -> SimBlock {
    SimBlock::default().with_block_overrides(BlockOverrides {
        number: Some(U256::from(number)),
        ..Default::default()
    })
}

#[test]
fn test_a_transfer_block_seals_with_the_state_root_of_its_balances() {
    let chain = chain();
    let base = base(&chain);
    let (a, b) = (Address::repeat_byte(0xa), Address::repeat_byte(0xb));
    let blocks =
        simulate_v1(&base, &payload(vec![SimBlock::default().call(call(a, b, 1_000))])).unwrap();
    let block = &blocks[0];
    assert_eq!(block.header.number, 1);
    assert_eq!(block.header.timestamp, 1_000 + SIMULATED_BLOCK_TIME);
    assert_eq!(block.header.parent_hash, base.hash);
    assert_eq!(block.header.base_fee_per_gas, Some(0), "no validation: no base fee");
    assert_eq!(block.hash, block.header.hash_slow());
    assert!(block.calls[0].status);
    assert_eq!(block.calls[0].gas_used, 21_000);
    assert_eq!(block.header.gas_used, 21_000);
    let after = [
        Entry::Account(
            a,
            AccountHeader { nonce: 1, balance: U256::from(ETH - 1_000), ..Default::default() },
        ),
        Entry::Account(b, AccountHeader { balance: U256::from(1_000), ..Default::default() }),
    ];
    assert_eq!(block.header.state_root, state_root_of(&after));
    // Hashed with a zero signature: the sender is not part of the hash.
    let hash = |from| {
        let p = payload(vec![SimBlock::default().call(call(from, b, 0))]);
        *simulate_v1(&base, &p).unwrap()[0].txs[0].inner().tx_hash()
    };
    assert_eq!(hash(a), hash(Address::repeat_byte(0xc)));
}

#[test]
fn test_gap_blocks_fill_the_numbers_and_disorder_is_refused() {
    let chain = chain();
    let base = base(&chain);
    let blocks = simulate_v1(&base, &payload(vec![numbered(4), SimBlock::default()])).unwrap();
    let numbers: Vec<u64> = blocks.iter().map(|b| b.header.number).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
    for pair in blocks.windows(2) {
        assert_eq!(pair[1].header.parent_hash, pair[0].hash);
        assert_eq!(pair[1].header.timestamp, pair[0].header.timestamp + SIMULATED_BLOCK_TIME);
    }
    let code = |p: SimulatePayload| simulate_v1(&base, &p).unwrap_err().code;
    assert_eq!(code(payload(vec![])), codes::INVALID_PARAMS);
    assert_eq!(code(payload(vec![numbered(5), numbered(3)])), codes::BLOCK_NUMBER_ORDER);
    assert_eq!(code(payload(vec![numbered(MAX_SIMULATED_BLOCKS + 1)])), codes::TOO_MANY);
    let at = |time| {
        SimBlock::default()
            .with_block_overrides(BlockOverrides { time: Some(time), ..Default::default() })
    };
    assert_eq!(code(payload(vec![at(2_000), at(2_000)])), codes::BLOCK_TIME_ORDER);
}

#[test]
fn test_failures_are_coded_and_validation_refuses_what_it_checks() {
    let chain = chain();
    let base = base(&chain);
    let (a, c) = (Address::repeat_byte(0xa), Address::repeat_byte(0xc));
    // REVERT(0, 1) after MSTORE8(0, 0x2a); and an endless loop.
    let reverter = Bytes::from_static(&[0x60, 0x2a, 0x60, 0, 0x53, 0x60, 1, 0x60, 0, 0xfd]);
    let looper = Bytes::from_static(&[0x5b, 0x60, 0, 0x56]);
    let d = Address::repeat_byte(0xd);
    let overrides: StateOverride = [
        (c, AccountOverride { code: Some(reverter), ..Default::default() }),
        (d, AccountOverride { code: Some(looper), ..Default::default() }),
    ]
    .into_iter()
    .collect();
    let block = SimBlock::default()
        .with_state_overrides(overrides)
        .call(call(a, c, 0))
        .call(call(a, d, 0).gas_limit(100_000))
        .call(call(a, c, 0));
    let blocks = simulate_v1(&base, &payload(vec![block])).unwrap();
    let calls = &blocks[0].calls;
    let revert = calls[0].error.as_ref().unwrap();
    assert_eq!(
        (revert.code, revert.data.clone()),
        (codes::REVERTED, Some(Bytes::from_static(&[0x2a])))
    );
    assert_eq!(calls[1].error.as_ref().unwrap().code, codes::HALTED);
    assert_eq!(calls[1].gas_used, 100_000, "a halt uses all its gas");
    assert_eq!(blocks[0].txs[2].inner().nonce(), 2, "nonces rise call by call");

    let mut checked = payload(vec![SimBlock::default().call(call(a, c, 0).nonce(5))]);
    checked.validation = true;
    checked.block_state_calls[0].block_overrides =
        Some(BlockOverrides { base_fee: Some(U256::ZERO), ..Default::default() });
    assert_eq!(simulate_v1(&base, &checked).unwrap_err().code, codes::NONCE_TOO_HIGH);
    let poor = payload(vec![SimBlock::default().call(call(c, a, 1))]);
    assert_eq!(simulate_v1(&base, &poor).unwrap_err().code, codes::INSUFFICIENT_FUNDS);
}

#[test]
fn test_the_time_budget_holds_across_blocks() {
    let chain = chain();
    let mut base = base(&chain);
    base.timeout = Duration::ZERO;
    let err = simulate_v1(&base, &payload(vec![numbered(200)])).unwrap_err();
    assert_eq!(err.code, codes::INTERNAL);
    assert!(err.message.contains("timeout"), "{}", err.message);
}
