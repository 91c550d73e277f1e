//! `--state-root mpt` (a new `--dev` chain's default): a dev chain whose
//! headers carry Ethereum's Merkle-Patricia state root instead of lanes'
//! lattice hash, kept as a
//! trie from block to block. With the real binary: a contract with storage
//! deployed, transfers, a dev-control write, a snapshot reverted; after each,
//! every block's hash recomputes from its header (as a light client checks
//! it) and `eth_getProof` of every account touched verifies against that
//! block's `stateRoot`. Foundry's `cast proof` prints the same proof. A
//! restart keeps the chain's commitment (the trie rebuilt from the state);
//! a `--dev --state-root lattice` chain refuses proofs, naming the flag.

use std::process::Command;

use alloy_primitives::{Address, B256};
use alloy_rpc_types_eth::Block;
use serde_json::{Value, json};

use crate::rpc_compat::verify_proofs;
use crate::validator::{Client, Validator, wait_receipt};

/// Init code storing 42 in slot 1, leaving the one-byte code STOP.
const DEPLOY_WITH_STORAGE: &str = "0x602a60015560016000f3";

/// Sends `tx` (eth_sendTransaction) and returns its receipt.
fn send(v: &Validator, tx: Value) -> Value {
    let hash = v.result("eth_sendTransaction", json!([tx]));
    wait_receipt(v, &hash)
}

/// Checks every block of the chain: its hash recomputes from its header,
/// and the proofs of `addresses` verify against its state root.
fn check_chain(v: &Validator, addresses: &[Address]) -> usize {
    let head = v.result("eth_blockNumber", json!([]));
    let head = u64::from_str_radix(head.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    let mut present = 0;
    for number in 0..=head {
        let raw = v.result("eth_getBlockByNumber", json!([format!("{number:#x}"), false]));
        let block: Block = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(block.header.inner.hash_slow(), block.header.hash, "block {number}'s hash");
        let root: B256 = block.header.inner.state_root;
        present += verify_proofs(v, number, root, addresses, &["0x0", "0x1", "0x2"]).0;
    }
    present
}

#[test]
fn test_a_dev_chain_with_the_mpt_state_root_proves_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let v = Validator::start(&data, &["--dev"]);
    let accounts: Vec<Address> =
        serde_json::from_value(v.result("eth_accounts", json!([]))).unwrap();
    let (a, b) = (accounts[0], accounts[1]);
    let deployed = send(&v, json!({"from": a, "data": DEPLOY_WITH_STORAGE}));
    let contract: Address = serde_json::from_value(deployed["contractAddress"].clone()).unwrap();
    send(&v, json!({"from": b, "to": a, "value": "0x1234"}));
    let storage = v.call(
        "anvil_setStorageAt",
        json!([
            contract,
            "0x2",
            "0x00000000000000000000000000000000000000000000000000000000000000ff"
        ]),
    );
    assert!(storage.get("result").is_some(), "{storage}");
    v.result("evm_mine", json!([]));
    let mut addresses = vec![a, b, contract, Address::repeat_byte(0xee)];
    let slot = v.result("eth_getStorageAt", json!([contract, "0x1", "latest"]));
    assert_eq!(slot, json!(format!("0x{:064x}", 42)));
    assert!(check_chain(&v, &addresses) >= 8);

    // A snapshot reverted: the next block's root starts from the state
    // reverted to.
    let snapshot = v.result("evm_snapshot", json!([]));
    send(&v, json!({"from": a, "to": Address::repeat_byte(0x77), "value": "0x99"}));
    assert_eq!(v.result("evm_revert", json!([snapshot])), json!(true));
    send(&v, json!({"from": b, "to": Address::repeat_byte(0x78), "value": "0x98"}));
    addresses.extend([Address::repeat_byte(0x77), Address::repeat_byte(0x78)]);
    check_chain(&v, &addresses);

    // Foundry's cast reads the same proof.
    if let Some(clients) = Client::Cast.installed() {
        let out = Command::new(clients.join("node_modules/.bin/cast"))
            .args(["proof", "--rpc-url", &v.url(), "--json"])
            .arg(contract.to_string())
            .args(["1", "2"])
            .output()
            .expect("running cast");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
        let asked = v.result("eth_getProof", json!([contract, ["0x1", "0x2"], "latest"]));
        assert_eq!(printed["accountProof"], asked["accountProof"]);
        assert_eq!(printed["storageHash"], asked["storageHash"]);
        assert_eq!(printed["storageProof"][1]["proof"], asked["storageProof"][1]["proof"]);
    }

    // Restarted without the flag: the chain keeps its state root, the
    // trie built again from the state.
    v.stop();
    let v = Validator::start(&data, &["--dev"]);
    send(&v, json!({"from": a, "to": b, "value": "0x5"}));
    check_chain(&v, &addresses);
    v.stop();

    // A chain made with the lattice hash has no Merkle-Patricia root to
    // prove against.
    let plain = Validator::start(&dir.path().join("plain"), &["--dev", "--state-root", "lattice"]);
    let (code, message, _) = plain.error("eth_getProof", json!([a, [], "latest"]));
    assert_eq!(code, -32004, "{message}");
    assert!(message.contains("--state-root mpt"), "{message}");
}
