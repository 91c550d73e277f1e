//! The dev node as anvil's and hardhat's users drive it: automine answers a
//! send once its block is committed, mining modes switch at run time, one
//! sender's thousand transactions sent at once all land in nonce order, and
//! the dev controls (time, coinbase, state, impersonation, snapshots) work
//! through viem's test client and hardhat-network-helpers and survive a
//! restart and a replay.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::validator::{Client, DEV_KEYS, Validator, hex, receiver, repo_path, signed};

fn number(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().expect("a quantity").trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn test_automine_answers_a_send_once_its_block_is_committed() {
    let Some(clients) = Client::Web3Py.installed() else { return };
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let url = v.url();
    let stdout =
        Client::Web3Py.run(&clients, &v, "latency.py", &[url.as_ref(), "20".as_ref()], "latency:");
    let last = stdout.lines().last().unwrap_or_default().to_string();
    // Every receipt is there on the first look right after the send.
    assert!(last.ends_with("first-poll 20/20"), "{last}");
    let median: f64 = last
        .split("median ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|m| m.parse().ok())
        .expect("a median");
    assert!(median < 250.0, "median send-to-receipt {median} ms: {last}");
    // One block each, no empty blocks between them.
    let head = number(&v.result("eth_blockNumber", json!([])));
    assert_eq!(head, 20, "a block per sequential transaction");
    v.stop();
}

#[test]
fn test_mining_modes_switch_as_on_anvil() {
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let head = |v: &Validator| number(&v.result("eth_blockNumber", json!([])));
    let send = |v: &Validator, nonce| {
        let tx = signed(DEV_KEYS[2], 31337, nonce, receiver(nonce), 1, 21_000);
        v.result("eth_sendRawTransaction", json!([hex(&tx)]))
    };
    assert_eq!(v.result("anvil_getAutomine", json!([])), json!(true));
    assert_eq!(v.result("hardhat_getAutomine", json!([])), json!(true));
    // Idle: no empty blocks.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(head(&v), 0);
    // Automine: the receipt is there when the send answers.
    let h = send(&v, 0);
    assert!(!v.result("eth_getTransactionReceipt", json!([h])).is_null());
    assert_eq!(head(&v), 1);

    // Automine off: the transaction waits in the pool for evm_mine.
    v.result("evm_setAutomine", json!([false]));
    assert_eq!(v.result("anvil_getAutomine", json!([])), json!(false));
    let h = send(&v, 1);
    std::thread::sleep(Duration::from_millis(300));
    assert!(v.result("eth_getTransactionReceipt", json!([h])).is_null());
    assert_eq!(number(&v.result("eth_getTransactionCount", json!([signer(), "pending"]))), 2);
    // A pooled transaction is found by hash, without a block.
    let pooled = v.result("eth_getTransactionByHash", json!([h]));
    assert_eq!((pooled["hash"].clone(), pooled["blockNumber"].clone()), (h.clone(), Value::Null));
    assert_eq!(v.result("evm_mine", json!([])), json!("0x0"));
    let receipt = v.result("eth_getTransactionReceipt", json!([h]));
    assert_eq!(number(&receipt["blockNumber"]), 2);

    // hardhat_mine: three empty blocks ten seconds apart; anvil_mine: two more.
    let before = v.result("eth_getBlockByNumber", json!(["latest", false]));
    assert_eq!(v.result("hardhat_mine", json!(["0x3", "0xa"])), json!(true));
    let stamp = |n: u64| {
        number(&v.result("eth_getBlockByNumber", json!([format!("{n:#x}"), false]))["timestamp"])
    };
    assert_eq!(head(&v), 5);
    // As hardhat: the first at the clock's time, the others ten seconds apart.
    assert!(stamp(3) > number(&before["timestamp"]));
    assert_eq!((stamp(4) - stamp(3), stamp(5) - stamp(4)), (10, 10));
    v.result("anvil_mine", json!([2]));
    assert_eq!(head(&v), 7);
    // evm_mine at a given timestamp.
    let at = stamp(7) + 1000;
    v.result("evm_mine", json!([at]));
    assert_eq!(stamp(8), at);

    // Interval mining every second: empty blocks keep coming; 0 stops them.
    v.result("evm_setIntervalMining", json!([1]));
    let started = head(&v);
    let deadline = Instant::now() + Duration::from_secs(10);
    while head(&v) < started + 2 {
        assert!(Instant::now() < deadline, "interval mining sealed no blocks");
        std::thread::sleep(Duration::from_millis(100));
    }
    v.result("evm_setIntervalMining", json!([0]));
    std::thread::sleep(Duration::from_millis(1500));
    let stopped = head(&v);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(head(&v), stopped, "no blocks without a mode that seals them");

    // Automine back on.
    v.result("evm_setAutomine", json!([true]));
    let h = send(&v, 2);
    assert!(!v.result("eth_getTransactionReceipt", json!([h])).is_null());
    v.stop();
}

fn signer() -> String {
    let key: alloy_signer_local::PrivateKeySigner = DEV_KEYS[2].parse().unwrap();
    key.address().to_string()
}

#[test]
fn test_a_thousand_transactions_from_one_sender_sent_at_once_all_land_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let calls: Vec<Value> = (0..1000u64)
        .map(|n| {
            let tx = signed(DEV_KEYS[3], 31337, n, receiver(n), 1, 21_000);
            json!({"jsonrpc": "2.0", "id": n, "method": "eth_sendRawTransaction", "params": [hex(&tx)]})
        })
        .collect();
    let started = Instant::now();
    let answers = v.call_batch(Value::Array(calls));
    let answers = answers.as_array().expect("a batch answer");
    assert_eq!(answers.len(), 1000);
    assert!(
        answers.iter().all(|a| a.get("result").is_some()),
        "{:?}",
        answers.iter().find(|a| a.get("error").is_some())
    );
    // Under automine the batch answers once its blocks are committed.
    let head = number(&v.result("eth_blockNumber", json!([])));
    assert!((1..=20).contains(&head), "{head} blocks for 1000 transactions");
    let mut nonces = Vec::new();
    for n in 1..=head {
        let block = v.result("eth_getBlockByNumber", json!([format!("{n:#x}"), true]));
        for tx in block["transactions"].as_array().unwrap() {
            nonces.push(number(&tx["nonce"]));
        }
    }
    assert_eq!(nonces, (0..1000).collect::<Vec<u64>>(), "all included, in nonce order");
    eprintln!("1000 transactions from one sender: {head} blocks, {:?}", started.elapsed());
    v.stop();
}

/// The deterministic deployment proxy's deployment, signed without a chain
/// id by a key nobody holds ("Nick's method"): the same bytes deploy it at
/// the same address on every chain that funds its signer.
const NICKS_TX: &str = "0xf8a58085174876e800830186a08080b853604580600e600039806000f350fe7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe03601600081602082378035828234f58015156039578182fd5b8082525050506014600cf31ba02222222222222222222222222222222222222222222222222222222222222222a02222222222222222222222222222222222222222222222222222222222222222";
const NICKS_SIGNER: &str = "0x3fab184622dc19b6109349b94811493bf2a45362";

/// A dev key's EIP-1559 call to `to` with `input`.
fn call_tx(key: &str, nonce: u64, to: alloy_primitives::Address, input: Vec<u8>) -> String {
    use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_signer::SignerSync;
    let signer: alloy_signer_local::PrivateKeySigner = key.parse().unwrap();
    let tx = TxEip1559 {
        chain_id: 31337,
        nonce,
        gas_limit: 200_000,
        max_fee_per_gas: 3_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: alloy_primitives::TxKind::Call(to),
        value: alloy_primitives::U256::ZERO,
        access_list: Default::default(),
        input: input.into(),
    };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    let envelope: TxEnvelope = tx.into_signed(sig).into();
    format!("0x{}", alloy_primitives::hex::encode(envelope.encoded_2718()))
}

#[test]
fn test_the_create2_deployer_deploys_by_nicks_method_and_deploys_by_create2() {
    use lanes_eth::genesis::{CREATE2_DEPLOYER, dev_genesis};
    let deployer = CREATE2_DEPLOYER.to_string().to_lowercase();
    let dir = tempfile::tempdir().unwrap();
    // A non-dev chain (the dev template without the deployer) that funds
    // the signer of Nick's transaction.
    let mut genesis = dev_genesis();
    genesis.alloc.remove(&CREATE2_DEPLOYER);
    let signer: alloy_primitives::Address = NICKS_SIGNER.parse().unwrap();
    let funded = alloy_genesis::GenesisAccount::default()
        .with_balance(alloy_primitives::U256::from(10u128.pow(18)));
    genesis.alloc.insert(signer, funded);
    let file = dir.path().join("genesis.json");
    std::fs::write(&file, serde_json::to_vec(&genesis).unwrap()).unwrap();
    let data = dir.path().join("data");
    let args = ["--genesis", file.to_str().unwrap(), "--block-time", "100ms"];

    // Without the flag: refused, and the message names it.
    let v = Validator::start(&data, &args);
    let (code, message, _) = v.error("eth_sendRawTransaction", json!([NICKS_TX]));
    assert_eq!(code, -32003);
    assert!(message.contains("--allow-unprotected-txs"), "{message}");
    v.stop();

    // With it: accepted, and the proxy lands at its address.
    let mut with_flag = args.to_vec();
    with_flag.push("--allow-unprotected-txs");
    let v = Validator::start(&data, &with_flag);
    let hash = v.result("eth_sendRawTransaction", json!([NICKS_TX]));
    let receipt = crate::validator::wait_receipt(&v, &hash);
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    assert_eq!(receipt["from"].as_str().unwrap().to_lowercase(), NICKS_SIGNER);
    assert_eq!(receipt["contractAddress"].as_str().unwrap().to_lowercase(), deployer);

    // A CREATE2 deployment through it: salt, then init code that returns
    // the one-byte runtime code 0x00.
    let salt = [7u8; 32];
    let init = alloy_primitives::hex!("60016000f3").to_vec();
    let mut input = salt.to_vec();
    input.extend(&init);
    let hash = v.result(
        "eth_sendRawTransaction",
        json!([call_tx(DEV_KEYS[0], 0, CREATE2_DEPLOYER, input)]),
    );
    let receipt = crate::validator::wait_receipt(&v, &hash);
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    let expected = CREATE2_DEPLOYER.create2(salt, alloy_primitives::keccak256(&init));
    assert_eq!(v.result("eth_getCode", json!([expected, "latest"])), "0x00");
    v.stop();

    // A --dev chain holds the deployer from genesis, as anvil's does.
    let dev = tempfile::tempdir().unwrap();
    let v = Validator::start(&dev.path().join("data"), &["--dev"]);
    let code = v.result("eth_getCode", json!([deployer, "latest"]));
    assert!(code.as_str().unwrap().len() > 100, "{code}");
    v.stop();
}

#[test]
fn test_an_eip7702_delegation_set_by_type_4_transactions_runs_calls_through_the_account() {
    let Some(clients) = Client::Ethers.installed() else { return };
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let (url, board) = (v.url(), repo_path("contracts/artifacts/Board.json"));
    let args = [url.as_ref(), board.as_os_str(), DEV_KEYS[4].as_ref()];
    Client::Ethers.run(&clients, &v, "ethers_7702.cjs", &args, "ethers 7702: ok");
    v.stop();
}

#[test]
fn test_viem_test_client_cheats_survive_kill_9_and_replay_on_dev_chains_only() {
    use alloy_primitives::Address;
    use lanes_accounts_db::AccountsDbConfig;
    use lanes_eth::genesis::ChainSpec;
    use lanes_evm_adapter::{EvmConfig, EvmExecutor};
    use lanes_node::ledger::Ledger;
    use lanes_runtime::{BankConfig, Chain};

    let Some(clients) = Client::Viem.installed() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let v = Validator::start(&data, &["--dev"]);
    let url = v.url();
    let args = [url.as_ref(), DEV_KEYS[4].as_ref()];
    let out = Client::Viem.run(&clients, &v, "viem_test_client.cjs", &args, "viem test client: ok");
    let facts: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let mined_at: u64 = facts["minedAt"].as_str().unwrap().parse().unwrap();
    let block =
        |v: &Validator, n: u64| v.result("eth_getBlockByNumber", json!([format!("{n:#x}"), false]));
    let before = block(&v, mined_at);
    let head = number(&v.result("eth_blockNumber", json!([])));
    v.kill9();

    // The cheats are header fields: a restart serves them, and a replay of
    // the whole ledger from genesis reaches the same head.
    let v = Validator::start(&data, &["--dev"]);
    let again = block(&v, mined_at);
    assert_eq!(
        (&again["hash"], &again["miner"], &again["timestamp"]),
        (&before["hash"], &before["miner"], &before["timestamp"])
    );
    assert_eq!(again["miner"], facts["coinbase"]);
    // The state controls too.
    let someone = &facts["someone"];
    assert_eq!(v.result("eth_getCode", json!([someone, "latest"])), facts["code"]);
    assert_eq!(v.result("eth_getStorageAt", json!([someone, "0x7", "latest"])), facts["word"]);
    assert_eq!(v.result("eth_getTransactionCount", json!([someone, "latest"])), "0x2a");
    // The chain as reverted: the dropped transfer is gone, the head is the
    // block after the snapshot's.
    let head_after: u64 = facts["head"].as_str().unwrap().parse().unwrap();
    assert_eq!(number(&v.result("eth_blockNumber", json!([]))), head_after);
    assert!(v.result("eth_getTransactionReceipt", json!([facts["dropped"]])).is_null());
    let whale = v.result("eth_getTransactionReceipt", json!([facts["asWhale"]]));
    assert_eq!((&whale["from"], &whale["status"]), (&facts["whale"], &json!("0x1")));
    // Raw impersonated bytes from outside are refused.
    let raw = format!("0x{}", alloy_primitives::hex::encode(lanes_evm_adapter::IMPERSONATED_TAG));
    let (_, message, _) = v.error("eth_sendRawTransaction", json!([raw]));
    assert!(message.contains("anvil_impersonateAccount"), "{message}");
    v.stop();
    let spec = ChainSpec::from_file(&data.join("genesis.json")).unwrap();
    let config = EvmConfig { spec: spec.spec, ..EvmConfig::new(spec.chain_id) };
    let executor = EvmExecutor::new(EvmConfig { allow_impersonated: true, ..config.clone() });
    let plain_executor = EvmExecutor::new(config);
    let ledger = Ledger::open(&data.join("ledger")).unwrap();
    let replica_dir = tempfile::tempdir().unwrap();
    let dev = BankConfig { allow_system: true, ..spec.bank_config() };
    let mut replica =
        Chain::create_with(replica_dir.path(), AccountsDbConfig::default(), &spec.genesis, dev)
            .unwrap();
    let blocks: Vec<_> =
        (1..=ledger.last_appended().unwrap()).map(|n| ledger.read(n).unwrap().block).collect();
    assert!(blocks.iter().any(|b| !b.system.is_empty()), "the state controls are in the ledger");
    for block in &blocks {
        replica.replay_block(&executor, block, 2).unwrap();
    }
    // A chain that is not a dev chain refuses the first block with them.
    let plain_dir = tempfile::tempdir().unwrap();
    let mut plain = Chain::create_with(
        plain_dir.path(),
        AccountsDbConfig::default(),
        &spec.genesis,
        spec.bank_config(),
    )
    .unwrap();
    // The first block only a dev chain makes: system writes, or a base fee
    // other than the chain's rule gives (genesis is block 0, `blocks[0]`
    // block 1).
    let genesis = spec.genesis_block().header;
    let base_fee = |i: usize| match i {
        0 => spec.base_fee.after(&genesis),
        i => spec.base_fee.after(&blocks[i - 1].header),
    };
    let first = (0..blocks.len())
        .find(|&i| !blocks[i].system.is_empty() || blocks[i].header.base_fee != base_fee(i))
        .unwrap();
    for block in &blocks[..first] {
        plain.replay_block(&plain_executor, block, 2).unwrap();
    }
    let err = plain.replay_block(&plain_executor, &blocks[first], 2).unwrap_err().to_string();
    assert!(err.contains("not a dev chain") || err.contains("base_fee differs"), "{err}");
    // An executor that is not a dev chain's refuses the impersonated transaction.
    let as_whale: alloy_primitives::B256 = facts["asWhale"].as_str().unwrap().parse().unwrap();
    let raw = blocks
        .iter()
        .flat_map(|b| b.txs())
        .map(|t| &t.tx)
        .find(|raw| alloy_primitives::keccak256(raw) == as_whale)
        .expect("the impersonated transaction is in the ledger");
    let refused = lanes_runtime::Executor::decode(&plain_executor, raw).unwrap_err();
    assert!(refused.0.contains("impersonated"), "{}", refused.0);
    assert!(replica.head().number >= head);
    let coinbase: Address = facts["coinbase"].as_str().unwrap().parse().unwrap();
    assert_eq!(ledger.read(mined_at).unwrap().block.header.coinbase, coinbase);
    assert_eq!(replica.head_hash(), ledger.read(replica.head().number).unwrap().block.hash);
}

#[test]
fn test_hardhat_network_helpers_drive_the_dev_node() {
    let Some(clients) = Client::Hardhat.installed() else { return };
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let url = v.url();
    Client::Hardhat.run(&clients, &v, "helpers.cjs", &[url.as_ref()], "hardhat helpers: ok");
    v.stop();
}

#[test]
fn test_a_revert_cut_short_after_the_ledger_is_finished_at_restart() {
    use lanes_node::ledger::Ledger;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let v = Validator::start(&data, &["--dev"]);
    for nonce in 0..4 {
        let tx = signed(DEV_KEYS[1], 31337, nonce, receiver(nonce), 1, 21_000);
        v.result("eth_sendRawTransaction", json!([hex(&tx)]));
    }
    assert_eq!(number(&v.result("eth_blockNumber", json!([]))), 4);
    v.kill9();
    // evm_revert cuts the ledger first; a crash before the state moved back
    // leaves the state ahead of the ledger.
    Ledger::open(&data.join("ledger")).unwrap().truncate(2).unwrap();

    // Not a dev node: refused, nothing changed.
    let out = Command::new(env!("CARGO_BIN_EXE_lanes-validator"))
        .args(["--data-dir", data.to_str().unwrap(), "--rpc-addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("ahead of the ledger"), "{stderr}");
    // A dev node finishes the revert: the state is rebuilt to block 2.
    let v = Validator::start(&data, &["--dev"]);
    assert_eq!(number(&v.result("eth_blockNumber", json!([]))), 2);
    assert_eq!(v.result("eth_getBalance", json!([receiver(2), "latest"])), "0x0");
    assert_eq!(v.result("eth_getBalance", json!([receiver(1), "latest"])), "0x1");
    let next = signed(DEV_KEYS[1], 31337, 2, receiver(9), 1, 21_000);
    v.result("eth_sendRawTransaction", json!([hex(&next)]));
    assert_eq!(number(&v.result("eth_blockNumber", json!([]))), 3);
    v.stop();
}

#[test]
fn test_anvil_reset_goes_back_to_the_genesis_and_a_fork_it_cannot_make_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let tx = signed(DEV_KEYS[2], 31337, 0, receiver(77), 5, 21_000);
    v.result("eth_sendRawTransaction", json!([hex(&tx)]));
    let snapshot = v.result("evm_snapshot", json!([]));
    assert_eq!(number(&v.result("eth_blockNumber", json!([]))), 1);
    // What viem's testClient.reset() sends.
    v.result("anvil_reset", json!([{"forking": {"blockNumber": null}}]));
    assert_eq!(number(&v.result("eth_blockNumber", json!([]))), 0);
    assert_eq!(v.result("eth_getBalance", json!([receiver(77), "latest"])), "0x0");
    assert_eq!(v.result("evm_revert", json!([snapshot])), json!(false), "snapshots are forgotten");
    // Forking an upstream that does not answer fails, naming it; the chain
    // stays as it was.
    let dead = format!("http://127.0.0.1:{}", crate::validator::free_port());
    let (_, message, _) = v.error("anvil_reset", json!([{"forking": {"jsonRpcUrl": dead}}]));
    assert!(message.contains(&dead) && message.contains("eth_chainId"), "{message}");
    assert_eq!(number(&v.result("eth_blockNumber", json!([]))), 0);
    // The same transaction goes in again, at block 1.
    v.result("eth_sendRawTransaction", json!([hex(&tx)]));
    assert_eq!(v.result("eth_getBalance", json!([receiver(77), "latest"])), "0x5");
    v.stop();
}

#[test]
fn test_evm_revert_puts_back_the_pool_of_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev", "--no-mining"]);
    let tx = signed(DEV_KEYS[2], 31337, 0, receiver(80), 1, 21_000);
    let hash = v.result("eth_sendRawTransaction", json!([hex(&tx)]));
    let snapshot = v.result("evm_snapshot", json!([]));
    v.result("evm_mine", json!([]));
    assert!(!v.result("eth_getTransactionReceipt", json!([hash])).is_null());
    assert_eq!(v.result("evm_revert", json!([snapshot])), json!(true));
    // Back in the pool, as at the snapshot: no receipt, no block.
    assert_eq!(number(&v.result("eth_blockNumber", json!([]))), 0);
    assert!(v.result("eth_getTransactionReceipt", json!([hash])).is_null());
    let pooled = v.result("eth_getTransactionByHash", json!([hash]));
    assert_eq!((&pooled["hash"], &pooled["blockNumber"]), (&hash, &Value::Null));
    // Still manual mining: the next mine includes it.
    v.result("evm_mine", json!([]));
    let receipt = v.result("eth_getTransactionReceipt", json!([hash]));
    assert_eq!(number(&receipt["blockNumber"]), 1);
    v.stop();
}

#[test]
fn test_dev_controls_refuse_code_the_store_cannot_keep_and_never_reuse_snapshot_ids() {
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let too_long = format!("0x{}", "60".repeat(lanes_accounts_db::DEFAULT_MAX_CODE_LEN + 1));
    let (_, message, _) = v.error("anvil_setCode", json!([receiver(1), too_long]));
    assert!(message.contains("limit"), "{message}");
    // Nothing was written, and blocks are still made.
    let tx = signed(DEV_KEYS[2], 31337, 0, receiver(2), 1, 21_000);
    v.result("eth_sendRawTransaction", json!([hex(&tx)]));
    assert_eq!(number(&v.result("eth_blockNumber", json!([]))), 1);

    // A raised base fee: the node's own fill pays it, in the very next block.
    v.result("anvil_setNextBlockBaseFeePerGas", json!(["0xb2d05e00"])); // 3 gwei
    assert_eq!(v.result("eth_gasPrice", json!([])), "0xee6b2800"); // 3 gwei + a 1 gwei tip
    let from = v.result("eth_accounts", json!([]))[0].clone();
    let sent =
        v.result("eth_sendTransaction", json!([{"from": from, "to": receiver(3), "value": "0x1"}]));
    let receipt = v.result("eth_getTransactionReceipt", json!([sent]));
    assert_eq!(number(&receipt["blockNumber"]), 2);
    let block = v.result("eth_getBlockByNumber", json!(["0x2", false]));
    assert_eq!(block["baseFeePerGas"], "0xb2d05e00");

    let first = v.result("evm_snapshot", json!([]));
    let second = v.result("evm_snapshot", json!([]));
    assert_eq!(v.result("evm_revert", json!([first])), json!(true));
    let third = v.result("evm_snapshot", json!([]));
    assert!(third != first && third != second, "{first} {second} {third}");
    assert_eq!(v.result("evm_revert", json!([second])), json!(false), "used up by the revert");
    assert_eq!(v.result("evm_revert", json!([third])), json!(true));
    v.stop();
}

/// State at older blocks: every kept block reads as it was, a block past
/// `--history-blocks` answers -32000 naming the oldest block kept, and the
/// history is back after kill -9 (rebuilt from the commit records on disk).
#[test]
fn test_state_at_older_blocks_is_kept_pruned_past_the_limit_and_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The address of DEV_KEYS[0] (anvil's second account).
    const SENDER: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
    // The index's smallest memory budget: its flag is taken, and the node
    // works with it.
    let args = ["--dev", "--history-blocks", "5", "--index-memory", "1MiB"];
    let v = Validator::start(&data, &args);
    for nonce in 0..8 {
        let tx = signed(DEV_KEYS[0], 31337, nonce, receiver(1), 1, 21_000);
        v.result("eth_sendRawTransaction", json!([hex(&tx)]));
    }
    let check = |v: &Validator| {
        assert_eq!(number(&v.result("eth_blockNumber", json!([]))), 8);
        for block in 3..=8u64 {
            let at = format!("0x{block:x}");
            let balance = v.result("eth_getBalance", json!([receiver(1), at]));
            assert_eq!(number(&balance), block, "block {block}");
            let nonce = v.result("eth_getTransactionCount", json!([SENDER, at]));
            assert_eq!(number(&nonce), block, "block {block}");
            let hash = v.result("eth_getBlockByNumber", json!([at, false]))["hash"].clone();
            let by_hash = v.result("eth_getBalance", json!([receiver(1), {"blockHash": hash}]));
            assert_eq!(number(&by_hash), block, "block {block} by hash");
        }
        let (code, message, _) = v.error("eth_getBalance", json!([receiver(1), "0x2"]));
        assert_eq!(code, -32000, "{message}");
        assert!(message.contains("oldest block kept is 3"), "{message}");
        let (_, message, _) = v.error("eth_getBalance", json!([receiver(1), "0x9"]));
        assert!(message.contains("past the head"), "{message}");
    };
    check(&v);
    v.kill9();
    let v = Validator::start(&data, &args);
    check(&v);
    v.stop();
    // A budget that is not a size is refused, naming the form it takes.
    let out = Command::new(env!("CARGO_BIN_EXE_lanes-validator"))
        .args(["--dev", "--data-dir", data.to_str().unwrap(), "--index-memory", "12 parsecs"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("such as 512MiB"), "{stderr}");
}

/// `lanes_transactionStatus`: every acknowledged transaction is pending,
/// included, or dropped with a reason; a dropped one is also logged.
#[test]
fn test_an_acknowledged_transaction_is_pending_included_or_dropped_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev", "--no-mining"]);
    let status = |hash: &Value| v.result("lanes_transactionStatus", json!([hash]));
    let unknown = format!("0x{}", "ab".repeat(32));
    assert_eq!(status(&json!(unknown)), json!({"status": "unknown"}));

    // Pending while mining waits; dropped at execution once its sender
    // cannot pay, with the reason.
    let tx = signed(DEV_KEYS[3], 31337, 0, receiver(81), 1, 21_000);
    let hash = v.result("eth_sendRawTransaction", json!([hex(&tx)]));
    assert_eq!(status(&hash), json!({"status": "pending"}));
    let sender = v.result("eth_getTransactionByHash", json!([hash]))["from"].clone();
    v.result("anvil_setBalance", json!([sender, "0x0"]));
    v.result("evm_mine", json!([]));
    let dropped = status(&hash);
    assert_eq!(dropped["status"], "dropped", "{dropped}");
    let reason = dropped["reason"].as_str().unwrap();
    assert!(reason.contains("dropped at execution") && reason.contains("funds"), "{reason}");
    assert!(v.result("eth_getTransactionByHash", json!([hash])).is_null());

    // What execution would refuse is refused at submission, with the reason:
    // a signed transaction from an account with code (EIP-3607).
    let signer: alloy_signer_local::PrivateKeySigner = DEV_KEYS[2].parse().unwrap();
    v.result("anvil_setCode", json!([signer.address(), "0x602a60005260206000f3"]));
    let tx = signed(DEV_KEYS[2], 31337, 0, receiver(84), 1, 21_000);
    let (_, message, _) = v.error("eth_sendRawTransaction", json!([hex(&tx)]));
    assert!(message.contains("has code") && message.contains("EIP-3607"), "{message}");

    // Replaced by a higher tip, and then left behind by its sender's nonce.
    let from = v.result("eth_accounts", json!([]))[7].clone();
    let send = |tip: &str| {
        let tx = json!({"from": from, "to": format!("{:#x}", receiver(83)), "value": "0x1",
            "nonce": "0x0", "gas": "0x5208", "maxFeePerGas": "0x2540be400", "maxPriorityFeePerGas": tip});
        v.result("eth_sendTransaction", json!([tx]))
    };
    let (first, second) = (send("0x3b9aca00"), send("0x77359400"));
    let replaced = status(&first);
    assert_eq!(replaced["status"], "dropped", "{replaced}");
    let reason = replaced["reason"].as_str().unwrap();
    assert!(reason.contains(&format!("replaced by {}", second.as_str().unwrap())), "{reason}");
    assert_eq!(status(&second), json!({"status": "pending"}));
    v.result("anvil_setNonce", json!([from, "0x5"]));
    v.result("evm_mine", json!([]));
    let passed = status(&second);
    assert_eq!(passed["status"], "dropped", "{passed}");
    assert!(passed["reason"].as_str().unwrap().contains("nonce"), "{passed}");

    // Included, with its block; dropped by a revert past its block.
    let snapshot = v.result("evm_snapshot", json!([]));
    let tx = signed(DEV_KEYS[4], 31337, 0, receiver(82), 1, 21_000);
    let hash = v.result("eth_sendRawTransaction", json!([hex(&tx)]));
    v.result("evm_mine", json!([]));
    let block = number(&v.result("eth_blockNumber", json!([])));
    let included = status(&hash);
    assert_eq!(
        (&included["status"], number(&included["blockNumber"])),
        (&json!("included"), block)
    );
    assert_eq!(v.result("evm_revert", json!([snapshot])), json!(true));
    // The snapshot's pool did not hold it: dropped, not pending.
    let reverted = status(&hash);
    assert_eq!(reverted["status"], "dropped", "{reverted}");
    assert!(reverted["reason"].as_str().unwrap().contains("went back to block"), "{reverted}");
    let log = v.log_text();
    let logged = log
        .lines()
        .any(|l| l.contains("transactions dropped") && l.contains(hash.as_str().unwrap()));
    assert!(logged, "no log line names {hash}:\n{log}");
    v.stop();
}
