//! Ethereum's blockchain tests (`../shared/fixtures/ethereum-tests/BlockchainTests`:
//! `ValidBlocks`, `InvalidBlocks` and the blockchain form of the state tests,
//! 865 tests) through `lanes-validator import`'s own code ([`Importer`]): each
//! test's genesis becomes a geth genesis.json, block 0's hash must be the
//! test's, each block's RLP is imported (a block the test marks invalid must
//! be refused, for a reason, not a crash), and the last block hash and the
//! post-state must match.

use std::path::{Path, PathBuf};

use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256};
use lanes_accounts_db::{AccountHeader, AccountsRead, Entry};
use lanes_eth::{EthBlock, state_root, state_root_of};
use lanes_node::import::{ImportOptions, Importer, read_chain_file};
use serde_json::{Value, json};

/// Tests that do not pass, each with its reason. Empty means all pass.
const EXCEPTIONS: &[(&str, &str)] = &[];

fn hex_u64(v: &Value) -> u64 {
    hex_u256(v).saturating_to()
}

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
    const FORKS: [(&str, &[&str]); 23] = [
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
        ("Osaka", &["osakaTime"]),
        ("BPO1", &["bpo1Time"]),
        ("BPO2", &["bpo2Time"]),
        ("BPO3", &["bpo3Time"]),
        ("BPO4", &["bpo4Time"]),
        ("BPO5", &["bpo5Time"]),
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

/// EEST's own `config` over the network's: its chain id, each fork's blob
/// schedule (hex numbers, fork names as the test writes them) and the deposit
/// contract.
fn with_test_config(config: &mut Value, test: &Value) {
    let Some(given) = test.get("config") else { return };
    if let Some(id) = given.get("chainid") {
        config["chainId"] = json!(hex_u64(id));
    }
    if let Some(schedule) = given.get("blobSchedule").and_then(Value::as_object) {
        let mut out = serde_json::Map::new();
        for (fork, params) in schedule {
            out.insert(
                fork.to_ascii_lowercase(),
                json!({
                    "target": hex_u64(&params["target"]),
                    "max": hex_u64(&params["max"]),
                    "baseFeeUpdateFraction": hex_u64(&params["baseFeeUpdateFraction"]),
                }),
            );
        }
        config["blobSchedule"] = Value::Object(out);
    }
    if let Some(address) = given.get("depositContractAddress") {
        config["depositContractAddress"] = address.clone();
    }
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
    let mut config = network_config(test["network"].as_str().unwrap_or_default())?;
    with_test_config(&mut config, test);
    let mut genesis = json!({
        "config": config,
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

/// Judges a refused block's reason: the test's `expectException` and lanes'
/// error; `Err` says why the reason is not the test's.
pub(crate) type Reason<'a> = &'a (dyn Fn(&str, &str) -> Result<(), String> + Sync);

/// Runs one test; returns why it failed.
fn run(test: &Value, dir: &Path, reason: Reason<'_>) -> Result<(), String> {
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
        history_blocks: None,
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
        // `expectException`, or before EEST one per network
        // (`expectExceptionByzantium`, ...), or in the oldest tests no
        // `blockHeader` (the RLP alone: a block that must not decode or pass).
        let expected = block.as_object().and_then(|o| {
            o.iter().find(|(k, _)| k.starts_with("expectException")).map(|(_, v)| v.clone())
        });
        let invalid = expected.is_some() || block.get("blockHeader").is_none();
        let rlp: Bytes = block["rlp"].as_str().unwrap_or("0x").parse().unwrap_or_default();
        let result = EthBlock::decode_exact(&rlp)
            .map_err(|e| {
                let detail = EthBlock::undecodable_detail(&rlp);
                format!("undecodable: {e}{}", detail.map(|d| format!(" ({d})")).unwrap_or_default())
            })
            .and_then(|b| importer.import(&b).map(drop).map_err(|e| e.to_string()));
        match (result, invalid) {
            (Err(e), true) => {
                let expected = expected.as_ref().and_then(Value::as_str).unwrap_or_default();
                reason(expected, &e).map_err(|why| format!("block {i} refused: {e}; {why}"))?;
                // The rest of the test builds on the valid blocks only.
                continue;
            }
            (Ok(()), true) => {
                return Err(format!(
                    "block {i} imported; the test expects {}",
                    expected.unwrap_or_default()
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

/// The test files under `dir` (`.json`, or `.json.gz` as ../shared keeps
/// EEST's), sorted.
fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("fixture dir").flatten() {
            let path = e.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if path.is_dir() {
                stack.push(path);
            } else if name.ends_with(".json") || name.ends_with(".json.gz") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The tests of one file, each named `<file>/<test>`; an unreadable file is
/// an error naming it.
fn file_tests(dir: &Path, file: &Path) -> Result<Vec<(String, Value)>, String> {
    // As `lanes-validator import` reads a chain file: gunzipped where `.gz`.
    let raw = read_chain_file(file).map_err(|e| e.to_string())?;
    let json: serde_json::Map<String, Value> = serde_json::from_slice(&raw)
        .map_err(|e| format!("{}: not a JSON object ({e})", file.display()))?;
    let rel = file.strip_prefix(dir).unwrap_or(file).display().to_string();
    let rel = rel.trim_end_matches(".gz").to_string();
    Ok(json.into_iter().map(|(name, test)| (format!("{rel}/{name}"), test)).collect())
}

/// What a folder's run gave.
pub(crate) struct FolderRun {
    /// Tests found (those selected or not).
    pub count: usize,
    /// Tests run.
    pub ran: usize,
    /// Tests that passed.
    pub passed: usize,
    /// Known failures that failed.
    pub known: usize,
    /// Each new failure, and each known one that passes now.
    pub failures: Vec<String>,
}

/// Runs the tests under `dir` that `select` picks (and whose name contains
/// `LANES_BLOCKCHAIN_TEST`, when set), one file per worker at a time, each
/// refused block judged by `reason`; `known` names the tests known to fail.
pub(crate) fn run_folder(
    dir: &Path,
    select: &(dyn Fn(&str) -> bool + Sync),
    reason: Reason<'_>,
    known: &[(&str, &str)],
) -> FolderRun {
    let files = test_files(dir);
    let only = std::env::var("LANES_BLOCKCHAIN_TEST").ok();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let results = lanes_runtime::parallel_map(
        files.len(),
        threads,
        || (),
        |(), i| {
            let tests = match file_tests(dir, &files[i]) {
                Ok(tests) => tests,
                Err(e) => return (0, vec![(files[i].display().to_string(), Err(e))]),
            };
            let found = tests.len();
            let mut out = Vec::new();
            for (name, test) in tests {
                if !select(&name) || only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
                    continue;
                }
                let tmp = tempfile::tempdir().expect("tempdir");
                let run = std::panic::AssertUnwindSafe(|| run(&test, tmp.path(), reason));
                let result =
                    std::panic::catch_unwind(run).unwrap_or_else(|_| Err("panicked".into()));
                out.push((name, result));
            }
            (found, out)
        },
    );
    let mut run = FolderRun { count: 0, ran: 0, passed: 0, known: 0, failures: Vec::new() };
    for (found, results) in results {
        run.count += found;
        for (name, result) in results {
            run.ran += 1;
            let is_known = known.iter().any(|(n, _)| *n == name);
            match (result, is_known) {
                (Ok(()), false) => run.passed += 1,
                (Ok(()), true) => run
                    .failures
                    .push(format!("{name}: passes now; drop it from the known failures")),
                (Err(e), false) => run.failures.push(format!("{name}: {e}")),
                (Err(_), true) => run.known += 1,
            }
        }
    }
    run
}

/// ethereum/tests' files: any refusal is a reason (they predate named
/// exceptions).
fn any_reason(_: &str, _: &str) -> Result<(), String> {
    Ok(())
}

#[test]
fn test_ethereum_blockchain_tests_through_the_import_path() {
    let Some(dir) = crate::fixtures::shared("fixtures/ethereum-tests/BlockchainTests") else {
        return;
    };
    let run = run_folder(&dir, &|_| true, &any_reason, EXCEPTIONS);
    assert_eq!(run.count, 865, "the fixture holds 865 blockchain tests");
    assert!(
        run.failures.is_empty(),
        "{} passed, {} failed:\n{}",
        run.passed,
        run.failures.len(),
        run.failures.join("\n")
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
    let run = run_folder(Path::new(&dir), &|_| true, &any_reason, EXCEPTIONS);
    for f in &run.failures {
        eprintln!("{f}");
    }
    eprintln!("{} tests, {} passed, {} failed", run.count, run.passed, run.failures.len());
    assert!(run.failures.is_empty());
}
