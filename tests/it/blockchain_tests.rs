//! Ethereum's blockchain tests (`../shared/fixtures/ethereum-tests/BlockchainTests`:
//! `ValidBlocks`, `InvalidBlocks` and the blockchain form of the state tests,
//! 865 tests) through `lanes-validator import`'s own code ([`Importer`]): each
//! test's genesis becomes a geth genesis.json, block 0's hash must be the
//! test's, each block's RLP is imported (a block the test marks invalid must
//! be refused, for a reason, not a crash), and the last block hash and the
//! post-state must match.

use std::path::Path;

use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256};
use lanes_accounts_db::{AccountHeader, AccountsRead, Entry};
use lanes_evm_adapter::eth::{EthBlock, state_root, state_root_of};
use lanes_node::import::{ImportOptions, Importer};
use serde_json::{Value, json};

/// Tests that do not pass, each with its reason. Empty means all pass.
const EXCEPTIONS: &[(&str, &str)] = &[];

fn hex_u256(v: &Value) -> U256 {
    let s = v.as_str().unwrap_or("0x0");
    U256::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_default()
}

/// The geth `config` of a test's network: a fork from block 0, or a
/// transition (`FrontierToHomesteadAt5`, `BerlinToLondonAt5`,
/// `ArrowGlacierToMergeAtDiffC0000`, `MergeToShanghaiAtTime15k`, ...), with
/// the fields geth's test configs set.
fn network_config(network: &str) -> Result<Value, String> {
    // Forks in order, each with the geth fields it sets.
    const FORKS: [(&str, &[&str]); 17] = [
        ("Frontier", &[]),
        ("Homestead", &["homesteadBlock"]),
        ("EIP150", &["eip150Block"]),
        ("EIP158", &["eip155Block", "eip158Block"]),
        ("Byzantium", &["byzantiumBlock"]),
        ("Constantinople", &["constantinopleBlock"]),
        ("ConstantinopleFix", &["petersburgBlock"]),
        ("Istanbul", &["istanbulBlock"]),
        ("MuirGlacier", &["muirGlacierBlock"]),
        ("Berlin", &["berlinBlock"]),
        ("London", &["londonBlock"]),
        ("ArrowGlacier", &["arrowGlacierBlock"]),
        ("GrayGlacier", &["grayGlacierBlock"]),
        ("Merge", &["mergeNetsplitBlock"]),
        ("Shanghai", &["shanghaiTime"]),
        ("Cancun", &["cancunTime"]),
        ("Prague", &["pragueTime"]),
    ];
    fn alias(n: &str) -> &str {
        match n {
            "Paris" => "Merge",
            "Petersburg" => "ConstantinopleFix",
            other => other,
        }
    }
    // "XToYAt5", "XToYAtTime15k", "XToYAtDiffC0000", or a plain fork.
    let (from, to, at) = match network.split_once("To") {
        Some((from, rest)) => {
            let (to, at) = rest.split_once("At").ok_or(format!("network {network}"))?;
            (alias(from), Some(alias(to)), at)
        }
        None => (alias(network), None, ""),
    };
    let index = |name: &str| {
        FORKS.iter().position(|(n, _)| *n == name).ok_or(format!("network {network}: {name}"))
    };
    let mut config = serde_json::Map::new();
    let set = |config: &mut serde_json::Map<String, Value>, upto: usize, value: Value| {
        for (_, fields) in &FORKS[..=upto] {
            for f in *fields {
                config.entry(f.to_string()).or_insert(value.clone());
            }
        }
    };
    set(&mut config, index(from)?, json!(0));
    if let Some(to) = to {
        let value = if let Some(time) = at.strip_prefix("Time") {
            json!(time.replace('k', "000").parse::<u64>().map_err(|e| e.to_string())?)
        } else if let Some(diff) = at.strip_prefix("Diff") {
            // The merge at a total difficulty: no netsplit block.
            config.insert(
                "terminalTotalDifficulty".into(),
                json!(u64::from_str_radix(diff, 16).map_err(|e| e.to_string())?),
            );
            Value::Null
        } else {
            json!(at.parse::<u64>().map_err(|e| e.to_string())?)
        };
        if to == "Dao" {
            config.insert("daoForkBlock".into(), value);
            config.insert("daoForkSupport".into(), json!(true));
        } else if !value.is_null() {
            set(&mut config, index(to)?, value);
        }
    }
    let merged = config.contains_key("mergeNetsplitBlock");
    if merged {
        config.insert("terminalTotalDifficulty".into(), json!(0));
        config.insert("terminalTotalDifficultyPassed".into(), json!(true));
    }
    config.insert("chainId".into(), json!(1));
    if config.contains_key("cancunTime") {
        config.insert(
            "depositContractAddress".into(),
            json!("0x00000000219ab540356cbb839cbe05303d7705fa"),
        );
    }
    Ok(Value::Object(config))
}

/// The geth genesis.json of a test.
pub(crate) fn genesis_json(test: &Value) -> Result<Value, String> {
    let h = &test["genesisBlockHeader"];
    let mut alloc = serde_json::Map::new();
    for (address, a) in test["pre"].as_object().ok_or("pre is not an object")? {
        alloc.insert(
            address.clone(),
            json!({
                "balance": a["balance"],
                "nonce": a["nonce"],
                "code": a["code"],
                "storage": a["storage"],
            }),
        );
    }
    let mut genesis = json!({
        "config": network_config(test["network"].as_str().unwrap_or_default())?,
        "nonce": h["nonce"],
        "timestamp": h["timestamp"],
        "extraData": h["extraData"],
        "gasLimit": h["gasLimit"],
        "difficulty": h["difficulty"],
        "mixHash": h["mixHash"],
        "coinbase": h["coinbase"],
        "alloc": alloc,
    });
    for (from, to) in [
        ("baseFeePerGas", "baseFeePerGas"),
        ("excessBlobGas", "excessBlobGas"),
        ("blobGasUsed", "blobGasUsed"),
    ] {
        if let Some(v) = h.get(from) {
            genesis[to] = v.clone();
        }
    }
    Ok(genesis)
}

/// The post-state a test expects, as accounts_db entries.
fn post_entries(post: &Value) -> Vec<Entry> {
    let mut out = Vec::new();
    for (address, a) in post.as_object().into_iter().flatten() {
        let address: Address = address.parse().unwrap_or_default();
        let code: Bytes = a["code"].as_str().unwrap_or("0x").parse().unwrap_or_default();
        let code_hash = if code.is_empty() { KECCAK256_EMPTY } else { keccak256(&code) };
        let header = AccountHeader {
            nonce: hex_u256(&a["nonce"]).to::<u64>(),
            balance: hex_u256(&a["balance"]),
            code_hash,
        };
        // A listed empty account exists (before EIP-161 it stays).
        let header = if header.is_empty() {
            AccountHeader { code_hash: lanes_evm_adapter::EXISTING_EMPTY, ..header }
        } else {
            header
        };
        out.push(Entry::Account(address, header));
        for (slot, value) in a["storage"].as_object().into_iter().flatten() {
            let value = hex_u256(value);
            if !value.is_zero() {
                let slot = B256::from(hex_u256(&Value::String(slot.clone())));
                out.push(Entry::Storage(address, slot, value));
            }
        }
    }
    out
}

/// Runs one test; returns why it failed.
fn run(test: &Value, dir: &Path) -> Result<(), String> {
    let genesis = genesis_json(test)?;
    let genesis_path = dir.join("test-genesis.json");
    std::fs::write(&genesis_path, genesis.to_string()).map_err(|e| e.to_string())?;
    // Every block of two or more transactions on the parallel engine, however
    // small: the tests' corner cases (self-destructs, creation collisions,
    // the coinbase's fees) meet its versions and checks.
    let options = ImportOptions {
        workers: 2,
        adaptive: false,
        fsync: false,
        history_blocks: Some(16),
        segment_size: 1 << 20,
        ..Default::default()
    };
    let data = dir.join("data");
    let mut importer =
        Importer::open(&data, Some(&genesis_path), &options).map_err(|e| e.to_string())?;
    let genesis_hash: B256 =
        test["genesisBlockHeader"]["hash"].as_str().unwrap_or_default().parse().unwrap_or_default();
    if importer.head().1 != genesis_hash {
        return Err(format!("genesis hash {}, expected {genesis_hash}", importer.head().1));
    }
    for (i, block) in test["blocks"].as_array().ok_or("no blocks")?.iter().enumerate() {
        let invalid = block.get("expectException").is_some();
        let rlp: Bytes = block["rlp"].as_str().unwrap_or("0x").parse().unwrap_or_default();
        let result = EthBlock::decode_exact(&rlp)
            .map_err(|e| format!("undecodable: {e}"))
            .and_then(|b| importer.import(&b).map(drop).map_err(|e| e.to_string()));
        match (result, invalid) {
            (Ok(()), true) => {
                return Err(format!(
                    "block {i} imported; the test expects {}",
                    block["expectException"]
                ));
            }
            (Err(e), false) => return Err(format!("block {i} refused: {e}")),
            _ => {}
        }
    }
    let last: B256 = test["lastblockhash"].as_str().unwrap_or_default().parse().unwrap_or_default();
    if importer.head().1 != last {
        return Err(format!("head {}, expected last block {last}", importer.head().1));
    }
    let view = importer.chain().db().view();
    let root = state_root(&view, &[]).map_err(|e| e.to_string())?;
    let expected = match test.get("postStateHash") {
        Some(hash) => hash.as_str().unwrap_or_default().parse().unwrap_or_default(),
        None => {
            let entries = post_entries(&test["postState"]);
            for entry in &entries {
                if let Entry::Account(address, header) = entry {
                    let got = view.get_account(address).map_err(|e| e.to_string())?;
                    let got = got.unwrap_or_default();
                    if got.nonce != header.nonce || got.balance != header.balance {
                        return Err(format!("{address}: {got:?}, expected {header:?}"));
                    }
                }
            }
            state_root_of(&entries)
        }
    };
    if root != expected {
        return Err(format!("state root {root}, expected {expected}"));
    }
    Ok(())
}

fn tests(dir: &Path) -> Vec<(String, Value)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("fixture dir").flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for file in files {
        // An unreadable file is named and left out (the count checks it).
        let json: Value = match serde_json::from_slice(&std::fs::read(&file).expect("read")) {
            Ok(json) => json,
            Err(e) => {
                eprintln!("{}: not JSON ({e}), left out", file.display());
                continue;
            }
        };
        let rel = file.strip_prefix(dir).unwrap_or(&file).display().to_string();
        for (name, test) in json.as_object().expect("object") {
            out.push((format!("{rel}/{name}"), test.clone()));
        }
    }
    out
}

/// Runs every test under `dir` (or those whose name contains
/// `LANES_BLOCKCHAIN_TEST`); the count that passed, and each failure.
fn run_folder(dir: &Path) -> (usize, usize, Vec<String>) {
    let tests = tests(dir);
    let only = std::env::var("LANES_BLOCKCHAIN_TEST").ok();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let results = lanes_runtime::parallel_map(
        tests.len(),
        threads,
        || (),
        |(), i| {
            let (name, test) = &tests[i];
            if only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
                return None;
            }
            let tmp = tempfile::tempdir().expect("tempdir");
            let run = std::panic::AssertUnwindSafe(|| run(test, tmp.path()));
            let result = std::panic::catch_unwind(run).unwrap_or_else(|_| Err("panicked".into()));
            Some((name.clone(), result))
        },
    );
    let mut failures = Vec::new();
    let mut passed = 0;
    for (name, result) in results.into_iter().flatten() {
        let known = EXCEPTIONS.iter().find(|(n, _)| *n == name);
        match (result, known) {
            (Ok(()), None) => passed += 1,
            (Ok(()), Some(_)) => {
                failures.push(format!("{name}: passes now; drop it from EXCEPTIONS"))
            }
            (Err(e), None) => failures.push(format!("{name}: {e}")),
            (Err(_), Some(_)) => {}
        }
    }
    (tests.len(), passed, failures)
}

#[test]
fn test_ethereum_blockchain_tests_through_the_import_path() {
    let Some(dir) = crate::fixtures::shared("fixtures/ethereum-tests/BlockchainTests") else {
        return;
    };
    let (count, passed, failures) = run_folder(&dir);
    assert_eq!(count, 865, "the fixture holds 865 blockchain tests");
    assert!(
        failures.is_empty(),
        "{passed} passed, {} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Blockchain tests from a folder of one's own (`LANES_BLOCKCHAIN_TESTS`,
/// e.g. an ethereum/tests checkout's `BlockchainTests`, any fork):
/// `cargo test --release --test it blockchain_tests::test_a_folder -- --ignored`.
#[test]
#[ignore = "needs LANES_BLOCKCHAIN_TESTS, a folder of blockchain tests"]
fn test_a_folder_of_blockchain_tests() {
    let Some(dir) = std::env::var_os("LANES_BLOCKCHAIN_TESTS") else {
        eprintln!("skipped: set LANES_BLOCKCHAIN_TESTS to a folder of blockchain tests");
        return;
    };
    let (count, passed, failures) = run_folder(Path::new(&dir));
    for f in &failures {
        eprintln!("{f}");
    }
    eprintln!("{count} tests, {passed} passed, {} failed", failures.len());
    assert!(failures.is_empty());
}
