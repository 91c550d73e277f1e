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
    ("debug_getRawTransaction/get-invalid-hash.io", UNPREFIXED_HASH),
    ("eth_call/call-callenv.io", CALL_BASE_FEE),
    ("eth_createAccessList/create-al-value-transfer.io", CALLEE_LISTED),
];

const UNPREFIXED_HASH: &str = "a hash without 0x is read, as anvil reads it (alloy's parser)";
const CALL_BASE_FEE: &str =
    "BASEFEE in a call without a gas price is the block's, as anvil answers (geth: 0)";
const CALLEE_LISTED: &str = "the callee is always listed, so the list declares the call's set";

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

/// An imported chain's pool takes a sent transaction (and builds no block
/// of it); `testing_buildBlockV1` builds the head's child from the pool,
/// the same block as from the transaction named, and keeps nothing.
#[test]
fn test_a_block_built_from_the_pool_is_the_one_built_from_its_transactions() {
    let Some((tests, _tmp, v)) = serve_chain() else { return };
    // The suite's own sends, in its order (one sender's nonces in turn).
    let mut files: Vec<_> = std::fs::read_dir(tests.join("eth_sendRawTransaction"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut hashes = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        let line = text.lines().find_map(|l| l.strip_prefix(">> ")).unwrap();
        let sent: Value = serde_json::from_str(line).unwrap();
        hashes.push(v.result("eth_sendRawTransaction", sent["params"].clone()));
    }
    let head = v.result("eth_getBlockByNumber", json!(["latest", false]));
    let attributes = json!({
        "timestamp": format!("{:#x}", quantity(&head["timestamp"]) + U256::from(12)),
        "prevRandao": format!("0x{}", "11".repeat(32)),
        "suggestedFeeRecipient": format!("0x{}", "22".repeat(20)),
        "withdrawals": [{"index": "0x0", "validatorIndex": "0x1",
            "address": format!("0x{}", "33".repeat(20)), "amount": "0x64"}],
        "parentBeaconBlockRoot": format!("0x{}", "44".repeat(32)),
    });
    let from_pool =
        v.result("testing_buildBlockV1", json!([head["hash"], attributes, null, "0x6c616e6573"]));
    let payload = &from_pool["executionPayload"];
    let raws = payload["transactions"].clone();
    assert!(raws.as_array().unwrap().len() >= 2, "{raws}");
    let named =
        v.result("testing_buildBlockV1", json!([head["hash"], attributes, raws, "0x6c616e6573"]));
    assert_eq!(from_pool["executionPayload"], named["executionPayload"]);
    assert_eq!(from_pool["blockValue"], named["blockValue"]);
    // The pool's blob transaction came with its blobs; the block holds it
    // without them, so named from the block it brings none.
    let bundle = &from_pool["blobsBundle"];
    assert_eq!(bundle["commitments"].as_array().map(Vec::len), Some(1));
    assert_eq!(bundle["blobs"].as_array().map(Vec::len), Some(1));
    assert_eq!(named["blobsBundle"]["blobs"], json!([]));
    assert_eq!(payload["parentHash"], head["hash"]);
    assert_eq!(quantity(&payload["blockNumber"]), quantity(&head["number"]) + U256::from(1));
    assert_eq!(payload["extraData"], "0x6c616e6573");
    assert!(quantity(&payload["gasUsed"]) > U256::ZERO);
    assert!(quantity(&from_pool["blockValue"]) > U256::ZERO);
    assert_ne!(payload["stateRoot"], head["stateRoot"]);
    // Nothing kept: the head and the pool are as they were.
    assert_eq!(v.result("eth_getBlockByNumber", json!(["latest", false]))["hash"], head["hash"]);
    for hash in &hashes {
        let pooled = v.result("eth_getTransactionByHash", json!([hash]));
        assert_eq!(pooled["blockNumber"], Value::Null);
    }
    // A transaction named that cannot apply refuses the block (geth's code).
    let empty = v.result("testing_buildBlockV1", json!([head["hash"], attributes, [], "0x"]));
    assert_eq!(empty["executionPayload"]["transactions"], json!([]));
    let twice = json!([raws[0], raws[0]]);
    let (code, message, _) =
        v.error("testing_buildBlockV1", json!([head["hash"], attributes, twice, "0x"]));
    assert_eq!(code, -32000, "{message}");
}
