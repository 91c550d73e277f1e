//! Ethereum's blockchain tests (`../shared/fixtures/ethereum-tests/BlockchainTests`:
//! `ValidBlocks`, `InvalidBlocks` and the blockchain form of the state tests,
//! 865 tests) through `lanes-validator import`'s own code ([`Importer`]): each
//! test's genesis becomes a geth genesis.json, block 0's hash must be the
//! test's, each block's RLP is imported (a block the test marks invalid must
//! be refused, for a reason, not a crash), and the last block hash and the
//! post-state must match.

use std::collections::BTreeMap;
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

/// The geth `config` of a test's network.
fn network_config(network: &str) -> Result<Value, String> {
    const BLOCK_FORKS: [&str; 12] = [
        "homesteadBlock",
        "eip150Block",
        "eip155Block",
        "eip158Block",
        "byzantiumBlock",
        "constantinopleBlock",
        "petersburgBlock",
        "istanbulBlock",
        "berlinBlock",
        "londonBlock",
        "arrowGlacierBlock",
        "grayGlacierBlock",
    ];
    let upto = |last: &str| -> serde_json::Map<String, Value> {
        let end = BLOCK_FORKS.iter().position(|f| *f == last).unwrap_or(BLOCK_FORKS.len() - 1);
        BLOCK_FORKS[..=end].iter().map(|f| (f.to_string(), json!(0))).collect()
    };
    let mut config = match network {
        "Frontier" => serde_json::Map::new(),
        "Homestead" => upto("homesteadBlock"),
        "EIP150" => upto("eip150Block"),
        "EIP158" => upto("eip158Block"),
        "Byzantium" => upto("byzantiumBlock"),
        "Constantinople" => {
            let mut c = upto("constantinopleBlock");
            c.insert("petersburgBlock".into(), json!(u64::MAX));
            c
        }
        "ConstantinopleFix" | "Petersburg" => upto("petersburgBlock"),
        "Istanbul" => upto("istanbulBlock"),
        "Berlin" => upto("berlinBlock"),
        "London" => upto("londonBlock"),
        "Paris" | "Merge" | "Shanghai" | "Cancun" | "Prague" | "Osaka" => {
            let mut c = upto("grayGlacierBlock");
            c.insert("mergeNetsplitBlock".into(), json!(0));
            c.insert("terminalTotalDifficulty".into(), json!(0));
            c.insert("terminalTotalDifficultyPassed".into(), json!(true));
            let times = ["shanghaiTime", "cancunTime", "pragueTime", "osakaTime"];
            let n = match network {
                "Shanghai" => 1,
                "Cancun" => 2,
                "Prague" => 3,
                "Osaka" => 4,
                _ => 0,
            };
            for t in &times[..n] {
                c.insert(t.to_string(), json!(0));
            }
            c
        }
        other => return Err(format!("network {other} is not one this runner sets up")),
    };
    config.insert("chainId".into(), json!(1));
    if network == "Cancun" || network == "Prague" || network == "Osaka" {
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
    let options = ImportOptions {
        workers: 2,
        fsync: false,
        history_blocks: Some(16),
        segment_size: 1 << 20,
        ..ImportOptions::default()
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
        let json: Value =
            serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
        let rel = file.strip_prefix(dir).unwrap_or(&file).display().to_string();
        for (name, test) in json.as_object().expect("object") {
            out.push((format!("{rel}/{name}"), test.clone()));
        }
    }
    out
}

#[test]
fn test_ethereum_blockchain_tests_through_the_import_path() {
    let Some(dir) = crate::fixtures::shared("fixtures/ethereum-tests/BlockchainTests") else {
        return;
    };
    let tests = tests(&dir);
    assert_eq!(tests.len(), 865, "the fixture holds 865 blockchain tests");
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
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(test, tmp.path())))
                    .unwrap_or_else(|_| Err("panicked".into()));
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
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for f in &failures {
        *by_kind
            .entry(f.split(':').next().unwrap_or("").split('/').next().unwrap_or("").to_string())
            .or_default() += 1;
    }
    assert!(
        failures.is_empty(),
        "{passed} passed, {} failed ({by_kind:?}):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
