//! Amsterdam blocks (EIP-7928) through `lanes-validator import`: a chain whose
//! headers commit to their access lists, each block's RLP carrying its list
//! after the withdrawals. Imported with the real binary, each block runs
//! from its list as declared writes (no prediction) and the list it rebuilds
//! must equal the one carried and hash to the header's; the chain is then
//! served with each block's list. A list that says one value wrong is
//! refused, naming the account, the field and the index; a header whose
//! hash is wrong is refused naming the field; without their lists the
//! blocks import by prediction and are checked against the headers alone.
//!
//! The blocks are made by lanes' importer itself, on a chain of its own
//! (`made_blocks`).

use alloy_consensus::{Header, SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip4895::Withdrawals;
use alloy_eips::eip7928::BlockAccessList;
use alloy_genesis::{Genesis as GethGenesis, GenesisAccount};
use alloy_primitives::{B256, Bytes, TxKind, U256, keccak256};
use alloy_rlp::Encodable;
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use lanes_eth::EthSpec;
use lanes_eth::genesis::DevFork;
use lanes_evm_adapter::block_access_list;
use lanes_runtime::Chain;
use serde_json::json;

use crate::import_chain::import;
use crate::made_blocks::{self, COINBASE};
use crate::validator::Validator;

const CHAIN_ID: u64 = 7928;

fn signer(i: u64) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256(format!("amsterdam {i}"))).unwrap()
}

fn genesis() -> GethGenesis {
    let funded = GenesisAccount::default().with_balance(U256::from(10u128.pow(21)));
    let alloc = (0..4).map(|i| (signer(i).address(), funded.clone()));
    made_blocks::genesis(DevFork::Amsterdam, CHAIN_ID, alloc)
}

fn board_deploy() -> Bytes {
    let artifact: serde_json::Value =
        serde_json::from_str(include_str!("../../contracts/artifacts/Board.json")).unwrap();
    let code = artifact["bytecode"].as_str().unwrap().trim_start_matches("0x").to_owned();
    format!("0x{code}{:064x}", 3).parse().unwrap() // constructor(uint256 fee_ = 3)
}

fn call(signature: &str, arg: Option<u64>) -> Bytes {
    let mut data = keccak256(signature)[..4].to_vec();
    if let Some(a) = arg {
        data.extend_from_slice(&B256::from(U256::from(a))[..]);
    }
    data.into()
}

fn tx(from: u64, nonce: u64, to: TxKind, value: u64, input: Bytes) -> TxEnvelope {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 2_000_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value: U256::from(value),
        access_list: Default::default(),
        input,
    };
    let signature = signer(from).sign_hash_sync(&tx.signature_hash()).unwrap();
    tx.into_signed(signature).into()
}

/// A made block: its header, transactions and access list.
struct Made {
    header: Header,
    txs: Vec<TxEnvelope>,
    list: BlockAccessList,
}

impl Made {
    /// Its RLP: header, transactions, ommers, withdrawals and (`with_list`)
    /// its access list.
    fn rlp(&self, with_list: bool, list: Option<&BlockAccessList>) -> Vec<u8> {
        let withdrawals = Withdrawals::default();
        let list = list.unwrap_or(&self.list);
        let mut payload = Vec::new();
        self.header.encode(&mut payload);
        self.txs.encode(&mut payload);
        Vec::<Header>::new().encode(&mut payload);
        withdrawals.encode(&mut payload);
        if with_list {
            list.encode(&mut payload);
        }
        let mut out = Vec::new();
        alloy_rlp::Header { list: true, payload_length: payload.len() }.encode(&mut out);
        out.extend(payload);
        out
    }
}

/// Makes the next block of `chain` holding `txs` ([`made_blocks::make_block`])
/// and commits it.
fn make_block(chain: &mut Chain, eth: &EthSpec, parent: &Header, txs: Vec<TxEnvelope>) -> Made {
    let (header, imported) = made_blocks::make_block(chain, eth, parent, &txs, None);
    let accesses = imported.sealed.accesses.as_ref().unwrap();
    let list = block_access_list(accesses, &imported.sealed.receipts);
    chain.commit(&imported.sealed).unwrap();
    Made { header, txs, list }
}

/// A chain of three Amsterdam blocks: a deployment, calls (every post
/// reads a shared slot), transfers, one to the coinbase.
fn make_chain() -> (GethGenesis, Vec<Made>) {
    let geth = genesis();
    let dir = tempfile::tempdir().unwrap();
    let (eth, mut chain, mut parent) = made_blocks::chain(dir.path(), &geth);
    let board = signer(0).address().create(0);
    let to = |i: u64| TxKind::Call(signer(i).address());
    let blocks = [
        vec![
            tx(0, 0, TxKind::Create, 0, board_deploy()),
            tx(1, 0, to(2), 1_000, Bytes::new()),
            tx(2, 0, to(3), 2_000, Bytes::new()),
        ],
        vec![
            tx(1, 1, TxKind::Call(board), 0, call("post(uint256)", Some(7))),
            tx(2, 1, TxKind::Call(board), 0, call("post(uint256)", Some(8))),
            tx(3, 0, TxKind::Call(COINBASE), 5, Bytes::new()),
            tx(0, 1, TxKind::Call(board), 0, call("bump()", None)),
        ],
        vec![
            tx(3, 1, TxKind::Call(board), 0, call("mark()", None)),
            tx(1, 2, TxKind::Call(board), 0, call("mark()", None)),
            tx(2, 2, to(0), 3, Bytes::new()),
        ],
    ];
    let mut made = Vec::new();
    for txs in blocks {
        let block = make_block(&mut chain, &eth, &parent, txs);
        parent = block.header.clone();
        made.push(block);
    }
    (geth, made)
}

#[test]
fn test_amsterdam_blocks_run_from_their_access_lists_and_a_wrong_one_is_named() {
    let (geth, blocks) = make_chain();
    assert!(blocks.iter().all(|b| !b.list.is_empty()));
    let dir = tempfile::tempdir().unwrap();
    let genesis = dir.path().join("genesis.json");
    std::fs::write(&genesis, serde_json::to_vec(&geth).unwrap()).unwrap();
    let write = |name: &str, rlp: Vec<Vec<u8>>| {
        let path = dir.path().join(name);
        std::fs::write(&path, rlp.concat()).unwrap();
        path
    };

    // With their lists: each block runs from it and gives it back.
    let chain = write("with.rlp", blocks.iter().map(|b| b.rlp(true, None)).collect());
    let data = dir.path().join("with");
    let out = import(&data, &genesis, &chain);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = Validator::start(&data, &[]);
    for (i, b) in blocks.iter().enumerate() {
        let number = format!("{:#x}", i + 1);
        let served = v.result("eth_getBlockByNumber", json!([number, false]));
        assert_eq!(served["hash"], json!(b.header.hash_slow()));
        assert_eq!(served["blockAccessListHash"], json!(b.header.block_access_list_hash));
        let list = v.result("eth_getBlockAccessList", json!([number]));
        assert_eq!(list, serde_json::to_value(&b.list).unwrap(), "block {}", i + 1);
        let raw = v.result("eth_getBlockAccessListRaw", json!([number]));
        let raw = alloy_primitives::hex::decode(raw.as_str().unwrap()).unwrap();
        assert_eq!(Some(keccak256(raw)), b.header.block_access_list_hash);
        // Every transaction ran under a set the list declared.
        let entries = v.result("lanes_getBlockEntries", json!([number]));
        let sources: Vec<&str> = entries["entries"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| e["sources"].as_array().unwrap())
            .map(|s| s.as_str().unwrap())
            .collect();
        assert!(sources.iter().all(|s| *s == "declared"), "{entries}");
        assert_eq!(sources.len(), b.txs.len());
    }
    v.stop();

    // Without them: predicted, and still checked against the headers.
    let chain = write("without.rlp", blocks.iter().map(|b| b.rlp(false, None)).collect());
    let out = import(&dir.path().join("without"), &genesis, &chain);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // A list that says one slot's value wrong: refused, named.
    let mut wrong = blocks[1].list.clone();
    let account = wrong.iter_mut().find(|a| !a.storage_changes.is_empty()).unwrap();
    let address = account.address;
    let slot = &mut account.storage_changes[0];
    let (key, index) = (slot.slot, slot.changes[0].block_access_index.0);
    slot.changes[0].new_value += U256::from(1);
    let rlp = vec![blocks[0].rlp(true, None), blocks[1].rlp(true, Some(&wrong))];
    let out = import(&dir.path().join("wrong"), &genesis, &write("wrong.rlp", rlp));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let named = format!("access list: account {address}: storage slot {key:#x} at index {index}");
    assert!(stderr.contains("block 2") && stderr.contains(&named), "{stderr}");

    // A header whose list hash is wrong (no list carried): refused, named.
    let mut tampered = Made {
        header: blocks[0].header.clone(),
        txs: blocks[0].txs.clone(),
        list: blocks[0].list.clone(),
    };
    tampered.header.block_access_list_hash = Some(keccak256(b"not the list"));
    let out = import(
        &dir.path().join("hash"),
        &genesis,
        &write("hash.rlp", vec![tampered.rlp(false, None)]),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("blockAccessListHash"), "{stderr}");
}
