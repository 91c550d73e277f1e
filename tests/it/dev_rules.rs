//! The rules a dev node keeps that OpenZeppelin's Hardhat suite leans on
//! (issue 82): `pending` is the next block, node-signed sends from one
//! account are numbered in arrival order, a block parameter may be a JSON
//! number or an EIP-1898 object, a call at `latest` never sees half a
//! commit, and `evm_revert` goes back in place.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::validator::{DEV_KEYS, Validator, hex, receiver, signed};

fn number(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().expect("a quantity").trim_start_matches("0x"), 16).unwrap()
}

/// Init code that returns one block-environment word (`op`: TIMESTAMP 0x42,
/// NUMBER 0x43, GASLIMIT 0x45, BASEFEE 0x48): an `eth_call` without `to`
/// answers with what the code sees.
fn env_word(op: u8) -> String {
    format!("0x{op:02x}60005260206000f3")
}

fn dev_account(v: &Validator) -> Value {
    v.result("eth_accounts", json!([]))[0].clone()
}

#[test]
fn test_pending_runs_as_the_next_block_with_a_set_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let word =
        |op: u8, tag: &str| number(&v.result("eth_call", json!([{"data": env_word(op)}, tag])));
    let latest = v.result("eth_getBlockByNumber", json!(["latest", false]));
    let head_time = number(&latest["timestamp"]);
    assert_eq!(word(0x43, "pending"), number(&latest["number"]) + 1);
    assert_eq!(word(0x43, "latest"), number(&latest["number"]));
    assert_eq!(word(0x42, "latest"), head_time);
    assert!(word(0x42, "pending") > head_time, "after the head");
    // A set next timestamp is the pending block's, for calls and estimates.
    let next = head_time + 100_000;
    v.result("evm_setNextBlockTimestamp", json!([next]));
    assert_eq!(word(0x42, "pending"), next);
    assert_eq!(word(0x42, "latest"), head_time);
    // Code that runs out of gas unless TIMESTAMP >= next: an estimate at the
    // pending block (the default) passes; at latest it fails.
    let guarded = format!("0x63{next:08x}42101560105760006000fd5b00");
    let call = json!({"from": dev_account(&v), "data": guarded});
    let (_, message, _) = v.error("eth_estimateGas", json!([call, "latest"]));
    assert!(message.contains("revert"), "{message}");
    v.result("eth_estimateGas", json!([call]));
    // The block that includes a transaction is the one pending was.
    let hash = v.result(
        "eth_sendTransaction",
        json!([{"from": dev_account(&v), "to": receiver(1), "value": "0x1"}]),
    );
    let receipt = v.result("eth_getTransactionReceipt", json!([hash]));
    let block = v.result("eth_getBlockByNumber", json!([receipt["blockNumber"], false]));
    assert_eq!(number(&block["timestamp"]), next);
    // The next base fee, not the head's.
    v.result("anvil_setNextBlockBaseFeePerGas", json!(["0x77359400"]));
    assert_eq!(word(0x48, "pending"), 2_000_000_000);
    assert_ne!(word(0x48, "latest"), 2_000_000_000);
    v.stop();
}

#[test]
fn test_anvils_clock_controls_stamp_blocks_as_anvil_does() {
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let head_time = |v: &Validator| {
        number(&v.result("eth_getBlockByNumber", json!(["latest", false]))["timestamp"])
    };
    // An interval stamps each block that many seconds after its parent,
    // whatever the clock says, until removed.
    assert_eq!(v.result("anvil_removeBlockTimestampInterval", json!([])), json!(false));
    v.result("anvil_setBlockTimestampInterval", json!([3600]));
    let before = head_time(&v);
    v.result("anvil_mine", json!(["0x3"]));
    assert_eq!(head_time(&v), before + 3 * 3600);
    assert_eq!(v.result("anvil_removeBlockTimestampInterval", json!([])), json!(true));
    // anvil_setTime (evm_setTime) sets the clock: time goes on from it,
    // each block after its parent; it answers the seconds it moved forward.
    let far = head_time(&v) + 1_000_000;
    let moved = v.result("anvil_setTime", json!([far])).as_u64().expect("seconds");
    assert!(moved >= 1_000_000 - 5, "{moved}");
    v.result("evm_mine", json!([]));
    let t = head_time(&v);
    assert!((far..far + 5).contains(&t), "{t} against {far}");
    // Back in time: the answer is 0 and the next block is still after the head.
    assert_eq!(v.result("evm_setTime", json!([1_000])), json!(0));
    v.result("evm_mine", json!([]));
    assert_eq!(head_time(&v), t + 1);
    // Taken and changes nothing, as scripts for anvil and hardhat call it.
    assert_eq!(v.result("anvil_setLoggingEnabled", json!([false])), Value::Null);
    assert_eq!(v.result("hardhat_setLoggingEnabled", json!([true])), Value::Null);
    v.stop();
}

#[test]
fn test_concurrent_sends_from_one_account_each_get_their_own_nonce() {
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let from = dev_account(&v);
    for automine in [false, true] {
        v.result("evm_setAutomine", json!([automine]));
        let head = number(&v.result("eth_blockNumber", json!([])));
        let sends = 12;
        let hashes: Vec<Value> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..sends)
                .map(|i| {
                    let (v, from) = (&v, from.clone());
                    s.spawn(move || {
                        let tx = json!({"from": from, "to": receiver(i), "value": "0x1"});
                        v.result("eth_sendTransaction", json!([tx]))
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let mut distinct = hashes.clone();
        distinct.sort_by_key(|h| h.to_string());
        distinct.dedup();
        assert_eq!(distinct.len(), sends as usize, "automine {automine}: {hashes:?}");
        if !automine {
            // The pending block holds them, as the next block.
            let pending = v.result("eth_getBlockByNumber", json!(["pending", false]));
            assert_eq!(number(&pending["number"]), head + 1);
            let mut listed = pending["transactions"].as_array().unwrap().clone();
            listed.sort_by_key(|h| h.to_string());
            assert_eq!(listed, distinct);
            v.result("evm_mine", json!([]));
            let block =
                v.result("eth_getBlockByNumber", json!([format!("{:#x}", head + 1), false]));
            assert_eq!(block["transactions"].as_array().unwrap().len(), sends as usize);
        }
        for hash in &hashes {
            let receipt = v.result("eth_getTransactionReceipt", json!([hash]));
            assert_eq!(receipt["status"], "0x1", "automine {automine}");
        }
    }
    v.stop();
}

#[test]
fn test_block_parameters_in_every_form_hardhat_takes() {
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let tx = signed(DEV_KEYS[2], 31337, 0, receiver(5), 7, 21_000);
    v.result("eth_sendRawTransaction", json!([hex(&tx)]));
    let block1 = v.result("eth_getBlockByNumber", json!(["0x1", false]));
    let hash = block1["hash"].clone();
    let forms = [
        json!(1),
        json!("0x1"),
        json!({"blockNumber": 1}),
        json!({"blockNumber": "0x1"}),
        json!({"blockHash": hash}),
        json!({"blockHash": hash, "requireCanonical": true}),
        hash.clone(),
    ];
    let account = receiver(5);
    for form in &forms {
        assert_eq!(v.result("eth_getBalance", json!([account, form])), "0x7", "{form}");
        assert_eq!(v.result("eth_getTransactionCount", json!([account, form])), "0x0", "{form}");
        assert_eq!(v.result("eth_getCode", json!([account, form])), "0x", "{form}");
        let slot = v.result("eth_getStorageAt", json!([account, "0x0", form]));
        assert_eq!(number(&slot), 0, "{form}");
        let at = v.result("eth_call", json!([{"data": env_word(0x43)}, form]));
        assert_eq!(number(&at), 1, "{form}");
    }
    // Number-or-tag parameters: a JSON number as Hardhat takes it.
    for form in [json!(1), json!("0x1")] {
        let block = v.result("eth_getBlockByNumber", json!([form, false]));
        assert_eq!(block["hash"], hash, "{form}");
        let count = v.result("eth_getBlockTransactionCountByNumber", json!([form]));
        assert_eq!(count, "0x1", "{form}");
        let tx = v.result("eth_getTransactionByBlockNumberAndIndex", json!([form, "0x0"]));
        assert_eq!(tx["blockHash"], hash, "{form}");
        let history = v.result("eth_feeHistory", json!(["0x1", form, []]));
        assert_eq!(number(&history["oldestBlock"]), 1, "{form}");
    }
    // What names no block is refused, saying why.
    for bad in [json!(-1), json!(1.5), json!("1"), json!({})] {
        let (code, message, _) = v.error("eth_getBalance", json!([account, bad]));
        assert_eq!(code, -32602, "{bad}: {message}");
    }
    v.stop();
}

#[test]
fn test_calls_at_latest_never_see_half_a_commit() {
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let from = dev_account(&v);
    let until = Instant::now() + Duration::from_secs(2);
    let (sent, called) = std::thread::scope(|s| {
        // Blocks sealed one after another (a block per send under automine).
        let sender = s.spawn(|| {
            let mut sent = 0u64;
            while Instant::now() < until {
                let tx = json!({"from": from, "to": receiver(sent), "value": "0x1"});
                v.result("eth_sendTransaction", json!([tx]));
                sent += 1;
            }
            sent
        });
        let callers: Vec<_> = (0..1)
            .map(|_| {
                s.spawn(|| {
                    let mut calls = 0u64;
                    while Instant::now() < until {
                        let call = json!({"from": from, "data": env_word(0x43)});
                        let before = number(&v.result("eth_blockNumber", json!([])));
                        let got = number(&v.result("eth_call", json!([call, "latest"])));
                        let after = number(&v.result("eth_blockNumber", json!([])));
                        // The block the call ran at is a head of that time
                        // (one committed and about to be served at most).
                        assert!(before <= got && got <= after + 1, "{before} {got} {after}");
                        let list = v.result("eth_createAccessList", json!([call, "latest"]));
                        assert!(list["error"].is_null(), "{list}");
                        v.result("eth_estimateGas", json!([call, "latest"]));
                        calls += 3;
                    }
                    calls
                })
            })
            .collect();
        let called: u64 = callers.into_iter().map(|c| c.join().unwrap()).sum();
        (sender.join().unwrap(), called)
    });
    assert!(sent >= 5 && called >= 15, "sent {sent}, called {called}");
    v.stop();
}

#[test]
fn test_evm_revert_goes_back_in_place_and_a_restart_serves_the_reverted_head() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let v = Validator::start(&data, &["--dev"]);
    let from = dev_account(&v);
    let send = |to: u64| {
        let tx = json!({"from": from, "to": receiver(to), "value": "0x5"});
        v.result("eth_sendTransaction", json!([tx]))
    };
    send(1);
    let head = v.result("eth_getBlockByNumber", json!(["latest", false]));
    let balance = v.result("eth_getBalance", json!([from, "latest"]));
    for round in 0..5u64 {
        let snapshot = v.result("evm_snapshot", json!([]));
        let mut hashes = Vec::new();
        for i in 0..6 {
            hashes.push(send(100 + round * 10 + i));
        }
        assert_eq!(v.result("evm_revert", json!([snapshot])), json!(true));
        assert_eq!(v.result("eth_getBlockByNumber", json!(["latest", false])), head);
        assert_eq!(v.result("eth_getBalance", json!([from, "latest"])), balance);
        assert_eq!(
            v.result("eth_getBalance", json!([receiver(100 + round * 10), "latest"])),
            "0x0"
        );
        for hash in hashes {
            assert!(v.result("eth_getTransactionReceipt", json!([hash])).is_null());
        }
    }
    // Blocks go on from the snapshot's, with the nonce it had.
    let after = send(2);
    let receipt = v.result("eth_getTransactionReceipt", json!([after]));
    assert_eq!(number(&receipt["blockNumber"]), number(&head["number"]) + 1);
    let log = v.log_text();
    assert!(
        !log.contains("head file stale") && !log.contains("WARN"),
        "a routine revert warns of nothing:\n{log}"
    );
    let served = v.result("eth_getBlockByNumber", json!(["latest", false]));
    v.kill9();
    let v = Validator::start(&data, &["--dev"]);
    assert_eq!(v.result("eth_getBlockByNumber", json!(["latest", false])), served);
    assert_eq!(v.result("eth_getBalance", json!([receiver(100), "latest"])), "0x0");
    assert_eq!(v.result("eth_getBalance", json!([receiver(2), "latest"])), "0x5");
    v.stop();
}
