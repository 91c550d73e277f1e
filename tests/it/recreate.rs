//! A contract destroyed before Cancun takes its whole storage with it, on an
//! imported chain: the slots its block's parent held, and the slots an
//! earlier transaction of the same block gave it, which its destroying run
//! never loaded. A contract CREATE2 makes again at its address starts with
//! none of them (EEST's `test_recreate` covers the slots its parent held).

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_genesis::GenesisAccount;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, bytes, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use lanes_accounts_db::AccountsRead;
use lanes_eth::genesis::DevFork;

use crate::made_blocks;

const CHAIN_ID: u64 = 7610;

/// CALLDATACOPY the input, CREATE2 it with salt 0.
const FACTORY: Bytes = bytes!("36600060003760003660006000f5");
/// Init code of a contract that stores CALLVALUE at slot 0 when called with
/// value, and destroys itself when called without.
const INIT: Bytes = bytes!("610010600081600b8239f334600014600c5734600055005b6000ff");

fn signer() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256("recreate")).unwrap()
}

fn call(nonce: u64, to: Address, value: u64, input: Bytes) -> TxEnvelope {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 200_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value: U256::from(value),
        access_list: Default::default(),
        input,
    };
    let signature = signer().sign_hash_sync(&tx.signature_hash()).unwrap();
    tx.into_signed(signature).into()
}

/// Runs `blocks` on a Shanghai chain holding the factory, each made and
/// committed in turn: the chain, the child's address and each block's gas
/// per transaction.
fn run(blocks: &[Vec<TxEnvelope>]) -> (tempfile::TempDir, lanes_runtime::Chain, Vec<Vec<u64>>) {
    let factory = Address::repeat_byte(0xfa);
    let funded = GenesisAccount::default().with_balance(U256::from(10u128.pow(21)));
    let alloc = [
        (signer().address(), funded),
        (factory, GenesisAccount::default().with_nonce(Some(1)).with_code(Some(FACTORY))),
    ];
    let geth = made_blocks::genesis(DevFork::Shanghai, CHAIN_ID, alloc);
    let dir = tempfile::tempdir().unwrap();
    let (eth, mut chain, mut parent) = made_blocks::chain(dir.path(), &geth);
    let mut trie = None;
    let mut gas = Vec::new();
    for txs in blocks {
        let (header, imported) = made_blocks::make_block(&chain, &eth, &parent, txs, trie.as_ref());
        chain.commit(&imported.sealed).unwrap();
        gas.push(crate::coinbase::gas_per_tx(&imported));
        assert!(imported.sealed.receipts.iter().all(|r| r.outcome.success), "every call succeeds");
        trie = Some(imported.trie);
        parent = header;
    }
    (dir, chain, gas)
}

fn child() -> Address {
    Address::repeat_byte(0xfa).create2_from_code(B256::ZERO, INIT)
}

#[test]
fn test_a_contract_destroyed_after_a_store_in_its_block_keeps_no_slot() {
    let (factory, child) = (Address::repeat_byte(0xfa), child());
    // One block: made, given slot 0, destroyed. The next: made again.
    let blocks = [
        vec![
            call(0, factory, 0, INIT),
            call(1, child, 5, Bytes::new()),
            call(2, child, 0, Bytes::new()),
        ],
        vec![call(3, factory, 0, INIT)],
    ];
    let (_dir, chain, _) = run(&blocks[..1]);
    let view = chain.db().view();
    assert_eq!(view.get_account(&child).unwrap(), None, "destroyed");
    assert_eq!(view.get_storage(&child, &B256::ZERO).unwrap(), U256::ZERO, "its slot with it");
    drop((view, chain));
    let (_dir, chain, _) = run(&blocks);
    let view = chain.db().view();
    assert!(
        view.get_account(&child)
            .unwrap()
            .is_some_and(|h| lanes_evm_adapter::has_code(&h.code_hash))
    );
    assert_eq!(view.get_storage(&child, &B256::ZERO).unwrap(), U256::ZERO, "made again empty");
}

#[test]
fn test_a_contract_made_again_in_the_block_that_destroyed_it_starts_empty() {
    let (factory, child) = (Address::repeat_byte(0xfa), child());
    let block = vec![
        call(0, factory, 0, INIT),
        call(1, child, 5, Bytes::new()),
        call(2, child, 0, Bytes::new()),
        call(3, factory, 0, INIT),
        call(4, child, 7, Bytes::new()),
    ];
    let (_dir, chain, gas) = run(&[block]);
    let view = chain.db().view();
    assert_eq!(view.get_storage(&child, &B256::ZERO).unwrap(), U256::from(7));
    // Setting a zero slot costs 20,000 gas beside the call's 21,000 (one
    // still holding 5 would cost 2,900 to reset).
    assert!(gas[0][4] > 41_000, "slot 0 was set from zero: {} gas", gas[0][4]);
}

/// The dev node takes the same rules from its slot index, over JSON-RPC:
/// a contract destroyed before Cancun leaves no slot behind, one made again
/// at its address starts empty, and a creation at an address that holds
/// only storage collides (EIP-7610; anvil creates it).
#[test]
fn test_a_dev_node_destroys_whole_storage_and_refuses_creations_over_storage() {
    use crate::validator::Validator;
    use serde_json::json;

    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev", "--hardfork", "shanghai"]);
    let from = v.result("eth_accounts", json!([]))[0].clone();
    let factory = Address::repeat_byte(0xfa);
    v.result("anvil_setCode", json!([factory, FACTORY]));
    let send = |to: Address, value: u64, data: &Bytes| {
        let tx = json!({"from": from, "to": to, "value": format!("{value:#x}"),
            "data": data, "gas": "0x30d40"});
        let hash = v.result("eth_sendTransaction", json!([tx]));
        let receipt = v.result("eth_getTransactionReceipt", json!([hash]));
        assert_eq!(receipt["status"], json!("0x1"), "{receipt}");
    };
    let code = |a: Address| v.result("eth_getCode", json!([a, "latest"]));
    let slot0 = |a: Address| {
        let word = v.result("eth_getStorageAt", json!([a, "0x0", "latest"]));
        word.as_str().unwrap().parse::<U256>().unwrap()
    };
    let child = child();
    send(factory, 0, &INIT);
    send(child, 5, &Bytes::new());
    assert_eq!(slot0(child), U256::from(5));
    send(child, 0, &Bytes::new());
    assert_eq!(code(child), json!("0x"), "destroyed");
    assert_eq!(slot0(child), U256::ZERO, "its slot went with it");
    send(factory, 0, &INIT);
    assert_ne!(code(child), json!("0x"), "made again");
    assert_eq!(slot0(child), U256::ZERO);
    // A trailing byte makes other init code (the same contract): an address
    // given only storage.
    let other: Bytes = [&INIT[..], &[0]].concat().into();
    let target = factory.create2_from_code(B256::ZERO, &other);
    v.result("anvil_setStorageAt", json!([target, "0x0", B256::with_last_byte(1)]));
    send(factory, 0, &other);
    assert_eq!(code(target), json!("0x"), "the creation collided");
    v.stop();
}
