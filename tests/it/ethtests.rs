//! Ethereum state tests (`../shared/ethtests`, 284 Cancun cases): each
//! case's `pre` goes into a fresh chain (accounts_db on disk), its `txbytes`
//! runs through the EVM adapter in the exclusive lane, and the post-state root
//! (Ethereum MPT, alloy-trie) and the logs hash must match the fixture.

use std::collections::BTreeMap;
use std::path::Path;

use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, Log, U256, keccak256};
use alloy_trie::TrieAccount;
use lanes_accounts_db::{AccountHeader, AccountsDbConfig, Entry};
use lanes_evm_adapter::{EvmConfig, EvmExecutor, EvmReceiptData, EvmTx, SpecId};
use lanes_runtime::{BlockEnv, Chain, Executor, Genesis};
use serde_json::Value;

/// Cases that do not pass, each with its reason. Empty means all pass.
const EXCEPTIONS: &[(&str, &str)] = &[];

#[derive(Clone, Debug, Default)]
struct Account {
    header: AccountHeader,
    code: Bytes,
    storage: BTreeMap<B256, U256>,
}

type State = BTreeMap<Address, Account>;

fn hex_u256(v: &Value) -> U256 {
    let s = v.as_str().expect("hex string");
    U256::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex number")
}

fn hex_u64(v: &Value) -> u64 {
    hex_u256(v).to::<u64>()
}

fn hex_bytes(v: &Value) -> Bytes {
    v.as_str().expect("hex string").parse().expect("hex bytes")
}

fn hex_b256(v: &Value) -> B256 {
    v.as_str().expect("hex string").parse().expect("32-byte hex")
}

fn pre_state(pre: &Value) -> State {
    let mut state = State::new();
    for (address, a) in pre.as_object().expect("pre is an object") {
        let code = hex_bytes(&a["code"]);
        let code_hash = if code.is_empty() { KECCAK256_EMPTY } else { keccak256(&code) };
        let storage = a["storage"]
            .as_object()
            .expect("storage is an object")
            .iter()
            .map(|(k, v)| (B256::from(hex_u256(&Value::String(k.clone()))), hex_u256(v)))
            .filter(|(_, v)| !v.is_zero())
            .collect();
        let header = AccountHeader {
            nonce: hex_u64(&a["nonce"]),
            balance: hex_u256(&a["balance"]),
            code_hash,
        };
        state.insert(address.parse().expect("address"), Account { header, code, storage });
    }
    state
}

fn genesis_entries(state: &State) -> Vec<Entry> {
    let mut alloc = Vec::new();
    for (address, a) in state {
        alloc.push(Entry::Account(*address, a.header));
        if !a.code.is_empty() {
            alloc.push(Entry::Code(a.header.code_hash, a.code.clone()));
        }
        alloc.extend(a.storage.iter().map(|(s, v)| Entry::Storage(*address, *s, *v)));
    }
    alloc
}

fn apply(state: &mut State, changes: &[Entry]) {
    for change in changes {
        match change {
            Entry::Account(address, header) if header.is_empty() => {
                state.remove(address);
            }
            Entry::Account(address, header) => state.entry(*address).or_default().header = *header,
            Entry::Storage(address, slot, value) => {
                let storage = &mut state.entry(*address).or_default().storage;
                if value.is_zero() {
                    storage.remove(slot);
                } else {
                    storage.insert(*slot, *value);
                }
            }
            Entry::Code(..) => {}
        }
    }
}

fn state_root(state: &State) -> B256 {
    alloy_trie::root::state_root_unhashed(state.iter().map(|(address, a)| {
        let storage_root =
            alloy_trie::root::storage_root_unhashed(a.storage.iter().map(|(k, v)| (*k, *v)));
        let account = TrieAccount {
            nonce: a.header.nonce,
            balance: a.header.balance,
            storage_root,
            code_hash: a.header.code_hash,
        };
        (*address, account)
    }))
}

fn logs_hash(logs: &[(Address, Vec<B256>, Bytes)]) -> B256 {
    let logs: Vec<Log> = logs
        .iter()
        .map(|(a, topics, data)| Log::new_unchecked(*a, topics.clone(), data.clone()))
        .collect();
    keccak256(alloy_rlp::encode(&logs))
}

/// The state tests' BLOCKHASH: keccak256 of the decimal block number.
fn recent_hashes(number: u64) -> Vec<B256> {
    (1..=number.min(256)).map(|back| keccak256((number - back).to_string())).collect()
}

struct Case {
    name: String,
    env: Value,
    pre: Value,
    txbytes: Bytes,
    hash: B256,
    logs: B256,
    expect_exception: bool,
}

fn cases(dir: &Path) -> Vec<Case> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("fixture dir") {
            let path = e.expect("entry").path();
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
        for (name, test) in json.as_object().expect("object") {
            let Some(posts) = test["post"].get("Cancun").and_then(Value::as_array) else {
                continue;
            };
            for (i, post) in posts.iter().enumerate() {
                out.push(Case {
                    name: format!("{}/{name}#{i}", file.file_name().unwrap().to_string_lossy()),
                    env: test["env"].clone(),
                    pre: test["pre"].clone(),
                    txbytes: hex_bytes(&post["txbytes"]),
                    hash: hex_b256(&post["hash"]),
                    logs: hex_b256(&post["logs"]),
                    expect_exception: post.get("expectException").is_some(),
                });
            }
        }
    }
    out
}

/// Runs one case; returns why it failed.
fn run(case: &Case, executor: &EvmExecutor) -> Result<(), String> {
    let mut state = pre_state(&case.pre);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = AccountsDbConfig::default().with_segment_size(1 << 20);
    let genesis = Genesis { alloc: genesis_entries(&state), ..Default::default() };
    let chain = Chain::create(dir.path(), config, &genesis).map_err(|e| e.to_string())?;
    let number = hex_u64(&case.env["currentNumber"]);
    let env = BlockEnv {
        number,
        timestamp: hex_u64(&case.env["currentTimestamp"]),
        coinbase: case.env["currentCoinbase"]
            .as_str()
            .unwrap_or_default()
            .parse()
            .map_err(|e| format!("{e}"))?,
        base_fee: hex_u64(&case.env["currentBaseFee"]),
        gas_limit: hex_u64(&case.env["currentGasLimit"]),
        recent_hashes: recent_hashes(number),
        random: case.env.get("currentRandom").map(|r| B256::from(hex_u256(r))).unwrap_or_default(),
        parent: None,
    };
    let mut logs = Vec::new();
    match executor.decode(&case.txbytes) {
        Err(e) if case.expect_exception => drop(e),
        Err(e) => return Err(format!("decode failed: {e}")),
        Ok(tx) => {
            let mut bank = chain.new_bank_with(env);
            let tx: EvmTx = tx.undeclared();
            let report = bank.execute_entry(executor, vec![tx], 1).map_err(|e| e.to_string())?;
            if let Some((_, reason)) = report.rejected.first()
                && !case.expect_exception
            {
                return Err(format!("rejected: {reason}"));
            }
            let sealed = bank.seal().map_err(|e| e.to_string())?;
            if let Some(receipt) = sealed.receipts.first() {
                let data = EvmReceiptData::from_outcome(&receipt.outcome).ok_or("receipt data")?;
                logs = data.logs;
            }
            apply(&mut state, &sealed.changes);
        }
    }
    let root = state_root(&state);
    if root != case.hash {
        return Err(format!("state root {root}, expected {}", case.hash));
    }
    let got = logs_hash(&logs);
    if got != case.logs {
        return Err(format!("logs hash {got}, expected {}", case.logs));
    }
    Ok(())
}

#[test]
fn test_ethereum_state_tests_cancun() {
    let Some(dir) = crate::fixtures::shared("ethtests/GeneralStateTests") else { return };
    let cases = cases(&dir);
    assert_eq!(cases.len(), 284, "the fixture holds 284 Cancun cases");
    let config = EvmConfig { spec: SpecId::CANCUN, allow_unprotected: true, ..EvmConfig::new(1) };
    let executor = EvmExecutor::new(config);
    let mut failures = Vec::new();
    for case in &cases {
        let known = EXCEPTIONS.iter().find(|(name, _)| *name == case.name);
        match (run(case, &executor), known) {
            (Ok(()), Some(_)) => {
                failures.push(format!("{}: passes now; drop it from EXCEPTIONS", case.name))
            }
            (Err(e), None) => failures.push(format!("{}: {e}", case.name)),
            _ => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
