//! Blocks as Ethereum clients check them: a block hash recomputed from the
//! served header (alloy's RLP) equals the served hash, transactionsRoot and
//! receiptsRoot equal the ordered trie roots recomputed from the served
//! transactions and receipts, and extraData carries the root of the
//! block's parallel structure, which `lanes_getBlockEntries` shows.

use alloy_consensus::{ReceiptEnvelope, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip7702::Authorization;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_eth::{Block, TransactionReceipt};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use serde_json::{Value, json};

use crate::validator::{DEV_KEYS, Validator, receiver};

fn board_bytecode() -> String {
    let artifact: Value =
        serde_json::from_str(include_str!("../../contracts/artifacts/Board.json")).unwrap();
    let code = artifact["bytecode"].as_str().unwrap().trim_start_matches("0x").to_owned();
    // constructor(uint256 fee_ = 3)
    format!("0x{code}{:064x}", 3)
}

fn address_of(key: &str) -> Address {
    key.parse::<PrivateKeySigner>().unwrap().address()
}

/// Recomputes the served block's hash and roots and checks them.
fn check_block(v: &Validator, number: u64) -> Block {
    let raw = v.result("eth_getBlockByNumber", json!([format!("{number:#x}"), true]));
    let block: Block = serde_json::from_value(raw.clone()).expect("an Ethereum block");
    let header = &block.header;
    assert_eq!(header.inner.hash_slow(), header.hash, "block {number}: keccak256(RLP(header))");
    let by_hash = v.result("eth_getBlockByHash", json!([header.hash, false]));
    assert_eq!(by_hash["number"], raw["number"]);

    let txs: Vec<TxEnvelope> = block.transactions.txns().map(|t| t.inner.inner().clone()).collect();
    let encoded: Vec<Vec<u8>> = txs.iter().map(|t| t.encoded_2718()).collect();
    assert_eq!(
        alloy_trie::root::ordered_trie_root_encoded(&encoded),
        header.transactions_root,
        "block {number}: transactionsRoot"
    );
    let receipts: Vec<TransactionReceipt> =
        serde_json::from_value(v.result("eth_getBlockReceipts", json!([format!("{number:#x}")])))
            .expect("receipts");
    assert_eq!(receipts.len(), txs.len());
    let envelopes: Vec<ReceiptEnvelope> =
        receipts.iter().map(|r| r.inner.clone().map_logs(|l| l.inner)).collect();
    assert_eq!(
        alloy_trie::root::ordered_trie_root_with_encoder(&envelopes, |r, buf| r.encode_2718(buf)),
        header.receipts_root,
        "block {number}: receiptsRoot"
    );
    let mut bloom = alloy_primitives::Bloom::ZERO;
    for r in &envelopes {
        bloom.accrue_bloom(r.logs_bloom());
    }
    assert_eq!(bloom, header.logs_bloom, "block {number}: logsBloom");
    assert_eq!(header.extra_data.len(), 32, "extraData holds the entries root");
    // From Amsterdam the header commits to the block's access list.
    let raw_list = v.result("eth_getBlockAccessListRaw", json!([format!("{number:#x}")]));
    if let Some(committed) = header.block_access_list_hash {
        let listed = match raw_list.as_str() {
            Some(raw) => alloy_primitives::keccak256(alloy_primitives::hex::decode(raw).unwrap()),
            None => alloy_eips::eip7928::EMPTY_BLOCK_ACCESS_LIST_HASH, // block 0
        };
        assert_eq!(committed, listed, "block {number}: blockAccessListHash");
    }
    if number > 0 {
        let parent = v.result("eth_getBlockByNumber", json!([format!("{:#x}", number - 1), false]));
        assert_eq!(parent["hash"], json!(header.parent_hash), "parentHash is the parent's hash");
        assert_eq!(
            header.mix_hash, header.parent_hash,
            "mixHash (PREVRANDAO) is the parent's hash"
        );
    }
    block
}

#[test]
fn test_served_block_hashes_and_roots_recompute_as_ethereum_does() {
    blocks_recompute(&["--dev", "--no-mining"]);
}

/// An Amsterdam dev chain: every header carries `blockAccessListHash`, the
/// keccak256 of the block's access list as `eth_getBlockAccessListRaw`
/// serves it, and the block hash (alloy's RLP) commits to it.
#[test]
fn test_an_amsterdam_chain_s_headers_commit_to_their_access_lists() {
    let headers = blocks_recompute(&["--dev", "--no-mining", "--hardfork", "amsterdam"]);
    assert!(headers.iter().all(|h| h.block_access_list_hash.is_some()), "{headers:?}");
    let empty = alloy_eips::eip7928::EMPTY_BLOCK_ACCESS_LIST_HASH;
    assert_eq!(headers[0].block_access_list_hash, Some(empty), "block 0's list is empty");
    assert!(headers[1..].iter().all(|h| h.block_access_list_hash != Some(empty)));
}

/// Builds blocks on a node started with `args` and checks each as Ethereum
/// clients do; the headers of blocks 0, 2 and 3.
fn blocks_recompute(args: &[&str]) -> Vec<alloy_consensus::Header> {
    let amsterdam = args.contains(&"amsterdam");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let v = Validator::start(&data, args);
    let genesis = check_block(&v, 0);
    assert_eq!(genesis.header.transactions_root, alloy_trie::EMPTY_ROOT_HASH);
    assert!(genesis.header.requests_hash.is_some(), "Prague headers carry requestsHash");
    assert_eq!(genesis.header.block_access_list_hash.is_some(), amsterdam);

    // Block 1: the node's account deploys Board.
    let from = address_of(DEV_KEYS[0]);
    v.result("eth_sendTransaction", json!([{"from": from, "data": board_bytecode()}]));
    v.result("evm_mine", json!([]));
    let deploy = &check_block(&v, 1).transactions.hashes().next().expect("the deployment");
    let board = v.result("eth_getTransactionReceipt", json!([deploy]))["contractAddress"].clone();

    // Block 2: every transaction type, a log, a revert, side by side.
    let authority: PrivateKeySigner = DEV_KEYS[4].parse().unwrap();
    let auth = Authorization {
        chain_id: U256::from(31337),
        address: board.as_str().unwrap().parse().unwrap(),
        nonce: 0,
    };
    let signature = authority.sign_hash_sync(&auth.signature_hash()).unwrap();
    let auth = auth.into_signed(signature);
    let accounts = v.result("eth_accounts", json!([]));
    let mark = Bytes::from(alloy_primitives::keccak256("mark()")[..4].to_vec());
    let sends = [
        json!({"from": from, "to": receiver(1), "value": "0x1", "gasPrice": "0x77359400"}),
        json!({"from": address_of(DEV_KEYS[1]), "to": receiver(2), "value": "0x2",
               "gasPrice": "0x77359400",
               "accessList": [{"address": receiver(2), "storageKeys": [B256::ZERO]}]}),
        json!({"from": address_of(DEV_KEYS[2]), "to": board, "data": mark}),
        json!({"from": address_of(DEV_KEYS[3]), "to": authority.address(), "data": mark,
               "authorizationList": [auth]}),
        json!({"from": accounts[6], "to": receiver(3), "value": "0x3"}),
    ];
    for send in sends {
        v.result("eth_sendTransaction", json!([send]));
    }
    v.result("evm_mine", json!([]));
    let block = check_block(&v, 2);
    let types: Vec<u8> =
        block.transactions.txns().map(|t| t.inner.inner().tx_type() as u8).collect();
    let mut sorted = types.clone();
    sorted.sort();
    assert_eq!(sorted, [0, 1, 2, 2, 4], "every type in one block: {types:?}");
    assert_ne!(block.header.logs_bloom, alloy_primitives::Bloom::ZERO, "mark() logged");
    let entries = v.result("lanes_getBlockEntries", json!(["0x2"]));
    assert_eq!(entries["hash"], json!(block.header.hash), "{entries}");

    // The same hashes after a restart, and a block after it chains to them.
    v.stop();
    let v = Validator::start(&data, args);
    assert_eq!(check_block(&v, 2).header.hash, block.header.hash);
    v.result("eth_sendTransaction", json!([{"from": from, "to": receiver(4), "value": "0x4"}]));
    v.result("evm_mine", json!([]));
    let last = check_block(&v, 3);
    v.stop();
    // Blocks 0, 2 (every transaction type) and 3.
    vec![genesis.header.inner, block.header.inner, last.header.inner]
}
