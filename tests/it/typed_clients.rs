//! The node's typed clients (`lanes-rpc`'s `…Client` traits over its
//! keep-alive `RpcClient`) against the real binary, `lanes_stats`, and the
//! messages of bad parameters.

use std::time::{Duration, Instant};

use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::U256;
use serde_json::{Value, json};

use crate::validator::{DEV_KEYS, Validator, WebSocket, hex, http, receiver, signed, wait_receipt};

/// A raw send's sender is recovered on the RPC task that received it; the
/// block that took the transaction reports that time as sigverify time.
#[test]
fn test_stats_count_sigverify_time_of_rpc_sends() {
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let tx = signed(DEV_KEYS[2], 31337, 0, receiver(11), 5, 21_000);
    let hash = v.result("eth_sendRawTransaction", json!([hex(&tx)]));
    let receipt = wait_receipt(&v, &hash);
    let stats = v.result("lanes_stats", json!([]));
    let last = &stats["lastBlock"];
    let number = receipt["blockNumber"].as_str().unwrap();
    assert_eq!(last["number"].as_u64(), u64::from_str_radix(&number[2..], 16).ok(), "{stats}");
    assert!(last["sigverifyMs"].as_f64().unwrap() > 0.0, "{stats}");
    v.stop();
}

#[test]
fn test_validator_typed_clients() {
    use alloy_eips::{BlockId, BlockNumberOrTag};
    use alloy_primitives::U64;
    use jsonrpsee::core::client::{ClientT, Error};
    use jsonrpsee::core::params::BatchRequestBuilder;
    use lanes_rpc::api::{EthApiClient, LanesApiClient, NetApiClient, Web3ApiClient};
    use lanes_rpc::client::RpcClient;
    use lanes_rpc::types::NodeStats;

    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev", "--block-time", "100ms"]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = RpcClient::connect(&v.url()).await.unwrap();
        assert_eq!(client.chain_id().await.unwrap(), U64::from(31337));
        assert_eq!(client.version().await.unwrap(), "31337");
        // --dev answers as an anvil-compatible node that names lanes.
        assert!(client.client_version().await.unwrap().starts_with("anvil/lanes-v"));
        let before = client.stats().await.unwrap();

        let tx = signed(DEV_KEYS[3], 31337, 0, receiver(9), 7, 21_000);
        let hash = client.send_raw_transaction(tx.encoded_2718().into()).await.unwrap();
        assert_eq!(hash, *tx.tx_hash());
        let deadline = Instant::now() + Duration::from_secs(30);
        let receipt = loop {
            if let Some(r) = client.transaction_receipt(hash).await.unwrap() {
                break r;
            }
            assert!(Instant::now() < deadline, "no receipt for {hash}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let number = receipt.block_number.unwrap();
        let latest = Some(BlockId::latest());
        assert_eq!(
            client.balance(receiver(9), latest.map(Into::into)).await.unwrap(),
            U256::from(7)
        );

        // lanes_*: the typed answers are the JSON the node sends.
        let stats = client.stats().await.unwrap();
        assert!(stats.transactions > before.transactions, "{stats:?}");
        assert!(stats.blocks >= 1 && stats.last_block.is_some(), "{stats:?}");
        let raw: NodeStats = serde_json::from_value(v.result("lanes_stats", json!([]))).unwrap();
        assert!(raw.head >= stats.head);
        let entries = client
            .get_block_entries(BlockNumberOrTag::Number(number).into())
            .await
            .unwrap()
            .expect("the block is produced");
        assert_eq!(entries.number, U64::from(number));
        assert!(entries.entries.iter().any(|e| e.transactions.contains(&hash)), "{entries:?}");
        let widths: u64 = entries.entries.iter().map(|e| e.width).sum();
        assert_eq!(widths, entries.transactions);
        let answer = v.result("lanes_getBlockEntries", json!([U64::from(number)]));
        assert_eq!(answer, serde_json::to_value(&entries).unwrap());
        let far = BlockNumberOrTag::Number(number + 1_000_000);
        assert_eq!(client.get_block_entries(far.into()).await.unwrap(), None);

        // Errors keep their codes through the client.
        let Err(Error::Call(e)) = client.fill_transaction().await else { panic!("-32004") };
        assert_eq!(e.code(), -32004);
        let past = Some(BlockId::number(number + 1_000_000));
        let Err(Error::Call(e)) = client.balance(receiver(9), past.map(Into::into)).await else {
            panic!("state past the head must be refused");
        };
        assert_eq!(e.code(), -32001);
        assert!(e.message().contains("past the head"), "{e:?}");
        let genesis = client.balance(receiver(9), Some(BlockId::number(0).into())).await.unwrap();
        assert_eq!(genesis, U256::ZERO, "state at the genesis is kept");

        // A batch through the same client.
        let mut batch = BatchRequestBuilder::new();
        batch.insert("eth_blockNumber", jsonrpsee::rpc_params![]).unwrap();
        batch.insert("eth_getBalance", jsonrpsee::rpc_params!["0x1234"]).unwrap();
        let answers = client.batch_request::<U64>(batch).await.unwrap();
        let answers: Vec<_> = answers.into_iter().collect();
        assert!(answers[0].as_ref().is_ok_and(|n| n.to::<u64>() >= number));
        let e = answers[1].as_ref().unwrap_err();
        assert_eq!(e.code(), -32602);
        assert!(e.message().starts_with("invalid params: invalid string length"), "{e:?}");
    });
    v.stop();
}

#[test]
fn test_validator_bad_params_name_their_cause() {
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev", "--block-time", "100ms"]);
    let a = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
    let cases = [
        (
            "eth_getBlockByNumber",
            json!(["0x0", "yes"]),
            "invalid type: string \\\"yes\\\", expected a boolean",
        ),
        ("eth_getTransactionCount", json!(["0xzz"]), "invalid string length"),
        ("eth_getStorageAt", json!([a, "zz"]), "hex string without 0x prefix"),
        ("eth_getStorageAt", json!([a, format!("0x{}", "00".repeat(33))]), "storage key too long"),
        ("eth_call", json!([5]), "expected struct TransactionRequest"),
        ("eth_estimateGas", json!([{"gas": "zz"}]), "expected a 8 byte hex string"),
        ("eth_getLogs", json!([{"address": "zz"}]), "did not match any variant"),
        ("eth_feeHistory", json!(["0x1"]), "No more params"),
        ("lanes_getBlockEntries", json!(["x"]), "hex string without 0x prefix"),
    ];
    for (method, params, cause) in &cases {
        let (code, message, data) = v.error(method, params.clone());
        assert_eq!(code, -32602, "{method}: {message}");
        assert!(
            message.starts_with("invalid params: ") && message.contains(cause),
            "{method}: {message}"
        );
        assert!(data.is_null(), "{method}: the cause is in the message, not in data: {data}");
    }
    // The same in a batch, beside a good call.
    let batch = json!([
        {"jsonrpc": "2.0", "id": 0, "method": "eth_getTransactionCount", "params": ["0xzz"]},
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
    ]);
    let (_, body) = http(v.addr, batch.to_string().as_bytes()).unwrap();
    let answers: Value = serde_json::from_str(&body).unwrap();
    let by_id =
        |id: u64| answers.as_array().unwrap().iter().find(|a| a["id"] == id).unwrap().clone();
    assert_eq!(
        by_id(0)["error"]["message"],
        "invalid params: invalid string length at line 1 column 6"
    );
    assert_eq!(by_id(1)["result"], "0x7a69");
    // Params are not parsed where a method takes none, or refuses all.
    let (code, _, _) = v.error("eth_fillTransaction", json!(["junk"]));
    assert_eq!(code, -32004);
    assert_eq!(v.result("eth_chainId", json!({})), "0x7a69");

    // eth_subscribe over WebSocket: refusals name their cause, then a head.
    let mut ws = WebSocket::connect(v.addr);
    for (params, cause) in [
        (
            json!(["bogus"]),
            "unsupported subscription `bogus` (lanes offers newHeads, logs and newPendingTransactions)",
        ),
        (json!([5]), "invalid type: integer `5`, expected a string"),
        (json!([]), "No more params"),
        (json!(["logs", {"address": "zz"}]), "did not match any variant"),
    ] {
        let answer = ws.call("eth_subscribe", params.clone());
        assert_eq!(answer["error"]["code"], -32602, "{params}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("invalid params: ") && message.contains(cause), "{message}");
    }
    let id = ws.call("eth_subscribe", json!(["newHeads", {"includeTransactions": true}]))["result"]
        .clone();
    assert!(id.as_str().is_some_and(|s| s.starts_with("0x") && s.len() == 34), "{id}");
    let head = loop {
        let message = ws.recv();
        if message["method"] == "eth_subscription" {
            break message;
        }
    };
    assert_eq!(head["params"]["subscription"], id);
    assert!(head["params"]["result"]["number"].is_string(), "{head}");
    assert_eq!(ws.call("eth_unsubscribe", json!([id]))["result"], true);
    v.stop();
}
