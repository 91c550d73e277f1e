//! Ethereum's JSON-RPC conformance suite (execution-apis' rpc-compat
//! fixtures, `../shared/fixtures/execution-apis/tests`) against the real
//! binary, as hive's rpc-compat simulator runs it: the fixtures' chain
//! (`genesis.json`, `chain.rlp`) imported with `lanes-validator import`,
//! served, and every `.io` file's requests sent in order on one node, each
//! answer compared with geth's as JSON (error messages aside; a `speconly`
//! file only by the answer's kind).
//!
//! A file that fails must be in [`KNOWN`], with why; one there that passes
//! fails the test too, so the list shrinks as methods come right. The same
//! list, with the same reasons, is in docs/dev-node.md.

use std::path::{Path, PathBuf};

use alloy_primitives::U256;
use serde_json::{Value, json};

use crate::fixtures;
use crate::import_chain::import;
use crate::validator::{Validator, http};

/// The files that fail today, each with why (docs/dev-node.md lists them).
const KNOWN: &[(&str, &str)] = &[
    ("debug_getRawReceipts/get-block-n.io", PRE_BYZANTIUM_ROOT),
    ("eth_getBlockReceipts/get-block-receipts-by-hash.io", PRE_BYZANTIUM_ROOT),
    ("eth_getBlockReceipts/get-block-receipts-n.io", PRE_BYZANTIUM_ROOT),
    ("eth_getTransactionReceipt/get-legacy-contract.io", PRE_BYZANTIUM_ROOT),
    ("eth_getTransactionReceipt/get-legacy-input.io", PRE_BYZANTIUM_ROOT),
    ("eth_getTransactionReceipt/get-legacy-receipt.io", PRE_BYZANTIUM_ROOT),
    ("debug_getRawTransaction/get-invalid-hash.io", "a hash without 0x is read (alloy's parser)"),
    ("eth_call/call-callenv.io", CALL_BASE_FEE),
    ("eth_createAccessList/create-al-value-transfer.io", CALLEE_LISTED),
    ("eth_sendRawTransaction/send-access-list-transaction.io", IMPORTED_TAKES_NONE),
    ("eth_sendRawTransaction/send-blob-tx.io", IMPORTED_TAKES_NONE),
    ("eth_sendRawTransaction/send-dynamic-fee-access-list-transaction.io", IMPORTED_TAKES_NONE),
    ("eth_sendRawTransaction/send-dynamic-fee-transaction.io", IMPORTED_TAKES_NONE),
    ("eth_sendRawTransaction/send-legacy-transaction.io", IMPORTED_TAKES_NONE),
    ("testing_buildBlockV1/build-block-empty-transactions.io", NOT_YET),
    ("testing_buildBlockV1/build-block-from-mempool.io", NOT_YET),
    ("testing_buildBlockV1/build-block-invalid-transaction.io", NOT_YET),
    ("testing_buildBlockV1/build-block-with-transactions.io", NOT_YET),
];

const PRE_BYZANTIUM_ROOT: &str =
    "a pre-Byzantium receipt carries status, not the state root after its transaction (not kept)";
const CALL_BASE_FEE: &str =
    "BASEFEE in a call without a gas price is the block's, as anvil answers (geth: 0)";
const NOT_YET: &str = "not served yet (issue 53)";
const CALLEE_LISTED: &str = "the callee is always listed, so the list declares the call's set";
const IMPORTED_TAKES_NONE: &str = "an imported chain takes no transactions";

/// Drops `message` wherever an error object is.
fn strip_messages(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !(k.as_str() == "message" && map.contains_key("code")))
                .map(|(k, v)| (k.clone(), strip_messages(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_messages).collect()),
        other => other.clone(),
    }
}

/// Whether the answer is what the file says: equal JSON (error messages
/// aside), or with `speconly` an answer of the same shape: an error where
/// geth gave one, else a result of the same JSON type.
fn matches(expected: &Value, got: &Value, speconly: bool) -> bool {
    let kind = |v: &Value| match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    };
    match speconly {
        true => match (expected.get("result"), got.get("result")) {
            (Some(e), Some(g)) => kind(e) == kind(g),
            (e, g) => e.is_none() && g.is_none() && got.get("error").is_some(),
        },
        false => strip_messages(expected) == strip_messages(got),
    }
}

/// The first request of `file` whose answer differs: (request, expected,
/// got); `None` when every one matches.
fn first_difference(v: &Validator, file: &Path) -> Option<(String, Value, Value)> {
    let text = std::fs::read_to_string(file).unwrap();
    let speconly = text.lines().any(|l| l.starts_with("//") && l.contains("speconly"));
    let sent = text.lines().filter_map(|l| l.strip_prefix(">> "));
    let wanted = text.lines().filter_map(|l| l.strip_prefix("<< "));
    for (request, expected) in sent.zip(wanted) {
        let expected: Value = serde_json::from_str(expected).unwrap();
        let (_, answer) = http(v.addr, request.as_bytes()).expect("an answer");
        let got: Value = serde_json::from_str(&answer).unwrap_or(Value::String(answer));
        if !matches(&expected, &got, speconly) {
            return Some((request.to_owned(), expected, got));
        }
    }
    None
}

/// The fixtures' folder, and their chain imported into a scratch folder
/// and served; `None` (the test skips) without ../shared.
fn serve_chain() -> Option<(PathBuf, tempfile::TempDir, Validator)> {
    let tests = fixtures::shared("fixtures/execution-apis/tests")?;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = import(&data, &tests.join("genesis.json"), &tests.join("chain.rlp"));
    assert!(out.status.success(), "import failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let v = Validator::start(&data, &[]);
    Some((tests, tmp, v))
}

/// A JSON-RPC quantity (`"0x…"`).
fn quantity(v: &Value) -> U256 {
    U256::from_str_radix(&v.as_str().expect("a hex string")[2..], 16).expect("a quantity")
}

#[test]
fn test_the_rpc_compat_fixtures_pass_but_the_known_ones() {
    let Some((tests, _tmp, v)) = serve_chain() else { return };
    let mut methods: Vec<_> = std::fs::read_dir(&tests)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    methods.sort();
    let (mut passed, mut total) = (0, 0);
    let mut unexpected = Vec::new();
    let mut fixed = Vec::new();
    for method in methods {
        let mut files: Vec<_> = std::fs::read_dir(&method)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "io"))
            .collect();
        files.sort();
        for file in files {
            let name = file.strip_prefix(&tests).unwrap().to_string_lossy().into_owned();
            let known = KNOWN.iter().any(|(k, _)| *k == name);
            total += 1;
            match (first_difference(&v, &file), known) {
                (None, false) => passed += 1,
                (None, true) => fixed.push(name),
                (Some(_), true) => {}
                (Some((request, expected, got)), false) => unexpected.push(format!(
                    "{name}\n  sent     {request}\n  expected {expected}\n  got      {got}"
                )),
            }
        }
    }
    eprintln!("rpc-compat: {passed} of {total} files pass, {} known to fail", KNOWN.len());
    assert!(unexpected.is_empty(), "files that fail:\n{}", unexpected.join("\n"));
    assert!(
        fixed.is_empty(),
        "these pass now: take them out of KNOWN and docs/dev-node.md: {fixed:?}"
    );
    assert!(total >= 200, "only {total} fixture files found in {}", tests.display());
}

/// Each block runs under its own fork, whatever the head's: every
/// transaction of the chain (Frontier rules at block 1 to Osaka and its
/// blob forks) traces to the gas its receipt says, and a call at a block
/// before Shanghai has no PUSH0.
#[test]
fn test_old_blocks_trace_and_call_under_their_own_fork() {
    let Some((_, _tmp, v)) = serve_chain() else { return };
    let head = quantity(&v.result("eth_blockNumber", json!([]))).to::<u64>();
    let mut traced = 0;
    for number in 1..=head {
        let block = format!("{number:#x}");
        let receipts = v.result("eth_getBlockReceipts", json!([block]));
        let traces = v.result(
            "debug_traceBlockByNumber",
            json!([block, {"disableStorage": true, "disableStack": true}]),
        );
        let (receipts, traces) = (receipts.as_array().unwrap(), traces.as_array().unwrap());
        assert_eq!(receipts.len(), traces.len(), "block {number}");
        for (receipt, trace) in receipts.iter().zip(traces) {
            let used = quantity(&receipt["gasUsed"]).to::<u64>();
            assert_eq!(
                trace["result"]["gas"],
                json!(used),
                "block {number}: {}",
                receipt["transactionHash"]
            );
            traced += 1;
        }
    }
    assert!(traced > 200, "{traced} transactions traced");
    // PUSH0 (Shanghai) as init code: it creates an empty contract where the
    // opcode exists and fails before Shanghai (block 1 runs Frontier rules).
    let call = json!({"from": "0x7435ed30a8b4aeb0877cef0c6e8cffe834eb865f", "data": "0x5f5ff3", "gas": "0x30000"});
    let before = v.call("eth_call", json!([call, "0x1"]));
    assert!(before.get("error").is_some(), "PUSH0 at block 1: {before}");
    let after = v.call("eth_call", json!([call, "latest"]));
    assert!(after.get("error").is_none(), "PUSH0 at the head: {after}");
}

/// `eth_capabilities` says what the node keeps: the head, state and its
/// proofs back to the oldest block its history window keeps
/// (`--history-blocks`, 10,000 by default for an import) with that window,
/// and every block's transactions, logs, receipts and bodies.
#[test]
fn test_capabilities_say_what_the_node_keeps() {
    let Some((_, _tmp, v)) = serve_chain() else { return };
    let caps = v.result("eth_capabilities", json!([]));
    let head = v.result("eth_getBlockByNumber", json!(["latest", false]));
    assert_eq!(caps["head"]["number"], head["number"]);
    assert_eq!(caps["head"]["hash"], head["hash"]);
    assert_eq!(caps["state"]["oldestBlock"], json!("0x0"), "54 blocks, all in the window");
    assert_eq!(
        caps["state"]["deleteStrategy"],
        json!({"type": "window", "retentionBlocks": "0x2710"})
    );
    for kept in ["tx", "logs", "receipts", "blocks"] {
        assert_eq!(caps[kept], json!({"disabled": false, "oldestBlock": "0x0"}), "{kept}");
    }
    assert_eq!(caps["stateproofs"], caps["state"], "eth_getProof wherever the state is kept");
    // What it says holds: state at block 0 is served.
    let genesis_balance =
        v.call("eth_getBalance", json!(["0x7435ed30a8b4aeb0877cef0c6e8cffe834eb865f", "0x0"]));
    assert!(genesis_balance.get("result").is_some(), "{genesis_balance}");
}

/// `eth_getProof` at every fifth block of the chain and at its head, for
/// every account the blocks so far touched, one that never existed, and
/// each account's first slots: each proof verifies (alloy-trie) against
/// that block's `stateRoot`, for the value `eth_getBalance`,
/// `eth_getStorageAt`, ... give there.
#[test]
fn test_proofs_verify_against_each_blocks_state_root() {
    use alloy_primitives::{Address, B256};
    let Some((_, _tmp, v)) = serve_chain() else { return };
    let mut addresses = vec![Address::repeat_byte(0xee)];
    let head = quantity(&v.result("eth_blockNumber", json!([]))).to::<u64>();
    let (mut present, mut absent) = (0, 0);
    for number in (1..=head).step_by(5).chain([head]) {
        let block = v.result("eth_getBlockByNumber", json!([format!("{number:#x}"), true]));
        let root: B256 = serde_json::from_value(block["stateRoot"].clone()).unwrap();
        for tx in block["transactions"].as_array().unwrap() {
            for who in [&tx["from"], &tx["to"]] {
                if let Ok(a) = serde_json::from_value::<Address>(who.clone()) {
                    addresses.push(a);
                }
            }
        }
        addresses.sort();
        addresses.dedup();
        let (p, a) = verify_proofs(&v, number, root, &addresses, &["0x0", "0x1", "0x2"]);
        present += p;
        absent += a;
    }
    assert!(present > 50 && absent > 0, "{present} accounts proved present, {absent} absent");
}

/// `eth_getProof` of each of `addresses` with `slots` at block `number`,
/// checked as a light client checks it: the account proof verifies against
/// `root` (alloy-trie) for the balance, nonce and code `eth_getBalance` ...
/// give (or proves the account absent, and it is shown empty), and each
/// slot's proof verifies against the account's storage root for the value
/// `eth_getStorageAt` reads. Returns the accounts proved present and absent.
pub(crate) fn verify_proofs(
    v: &Validator,
    number: u64,
    root: alloy_primitives::B256,
    addresses: &[alloy_primitives::Address],
    slots: &[&str],
) -> (usize, usize) {
    use alloy_primitives::{B256, Bytes, keccak256};
    use alloy_trie::{Nibbles, TrieAccount, proof::verify_proof};
    let (mut present, mut absent) = (0, 0);
    let at = json!(format!("{number:#x}"));
    for address in addresses {
        let p = v.result("eth_getProof", json!([address, slots, at]));
        let nodes = |v: &Value| serde_json::from_value::<Vec<Bytes>>(v.clone()).unwrap();
        let balance = quantity(&v.result("eth_getBalance", json!([address, at])));
        assert_eq!(quantity(&p["balance"]), balance, "{address} at {number}");
        let nonce = quantity(&v.result("eth_getTransactionCount", json!([address, at])));
        assert_eq!(quantity(&p["nonce"]), nonce, "{address} at {number}");
        let code: Bytes =
            serde_json::from_value(v.result("eth_getCode", json!([address, at]))).unwrap();
        let code_hash: B256 = serde_json::from_value(p["codeHash"].clone()).unwrap();
        assert_eq!(code_hash, keccak256(&code), "{address} at {number}");
        let account = TrieAccount {
            nonce: nonce.to::<u64>(),
            balance,
            storage_root: serde_json::from_value(p["storageHash"].clone()).unwrap(),
            code_hash,
        };
        // In the trie with these fields, or absent (proved so) and shown empty.
        let key = Nibbles::unpack(keccak256(address));
        let proof = nodes(&p["accountProof"]);
        if verify_proof(root, key, Some(alloy_rlp::encode(account)), &proof).is_ok() {
            present += 1;
        } else {
            let empty = TrieAccount {
                storage_root: alloy_trie::EMPTY_ROOT_HASH,
                code_hash: alloy_primitives::KECCAK256_EMPTY,
                ..TrieAccount::default()
            };
            assert_eq!(account, empty, "{address} at {number}: not in the trie, yet not empty");
            verify_proof(root, key, None, &proof)
                .unwrap_or_else(|e| panic!("{address} at {number}: {e}"));
            absent += 1;
        }
        for (slot, sp) in slots.iter().zip(p["storageProof"].as_array().unwrap()) {
            let value = quantity(&sp["value"]);
            let read = v.result("eth_getStorageAt", json!([address, slot, at]));
            assert_eq!(value, quantity(&read), "{address} slot {slot} at {number}");
            let key = keccak256(B256::from(U256::from_str_radix(&slot[2..], 16).unwrap()));
            let expected = (!value.is_zero()).then(|| alloy_rlp::encode(value));
            verify_proof(
                account.storage_root,
                Nibbles::unpack(key),
                expected,
                &nodes(&sp["proof"]),
            )
            .unwrap_or_else(|e| panic!("{address} slot {slot} at {number}: {e}"));
        }
    }
    (present, absent)
}
