//! Blob transactions (EIP-4844, and EIP-7594's cell-proof sidecars) on a
//! `--dev` chain: sent signed in their network form, their KZG proofs
//! checked, their blob gas in receipts and headers, a fork's worth of blobs
//! per block with the excess priced into the next, and the blobs kept in the
//! data folder and served (`anvil_getBlobsByTransactionHash`,
//! `anvil_getBlobByHash`) across a restart. Foundry's `cast send --blob`
//! sends them as it does to anvil.

use std::process::Command;

use alloy_consensus::{
    SignableTransaction, TxEip4844, TxEip4844Variant, TxEip4844WithSidecar, TxEnvelope,
};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip4844::DATA_GAS_PER_BLOB;
use alloy_eips::eip4844::builder::{SidecarBuilder, SimpleCoder};
use alloy_eips::eip7594::BlobTransactionSidecarVariant;
use alloy_eips::eip7840::BlobParams;
use alloy_primitives::{Address, B256, Bytes, U256, hex};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use serde_json::{Value, json};

use crate::anvil_surface::Anvil;
use crate::validator::{Client, DEV_KEYS, Validator, wait_receipt};

const CHAIN_ID: u64 = 31337;

/// A sidecar of `blobs` blobs of bytes from `seed`, EIP-7594's form when
/// `cells`, else EIP-4844's.
fn sidecar(seed: u8, blobs: usize, cells: bool) -> BlobTransactionSidecarVariant {
    // SimpleCoder packs 31 bytes per field element, 4096 per blob.
    let data: Vec<u8> = (0..blobs * 31 * 4096 - 64).map(|i| seed ^ (i % 251) as u8).collect();
    let builder = SidecarBuilder::<SimpleCoder>::from_slice(&data);
    match cells {
        true => BlobTransactionSidecarVariant::Eip7594(builder.build_7594().unwrap()),
        false => BlobTransactionSidecarVariant::Eip4844(builder.build().unwrap()),
    }
}

/// A blob transaction from dev account `key` carrying `sidecar`, signed.
fn blob_tx(key: &str, nonce: u64, sidecar: &BlobTransactionSidecarVariant) -> TxEnvelope {
    let signer: PrivateKeySigner = key.parse().unwrap();
    let tx = TxEip4844 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 3_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: Address::repeat_byte(0xb1),
        value: U256::from(7),
        access_list: Default::default(),
        blob_versioned_hashes: sidecar.versioned_hashes().collect(),
        max_fee_per_blob_gas: 1_000_000,
        input: Bytes::new(),
    };
    let with = TxEip4844WithSidecar::from_tx_and_sidecar(tx, sidecar.clone());
    let sig = signer.sign_hash_sync(&with.tx.signature_hash()).unwrap();
    let signed = with.tx.clone().into_signed(sig);
    let (_, sig, hash) = signed.into_parts();
    let variant = TxEip4844Variant::TxEip4844WithSidecar(with);
    TxEnvelope::Eip4844(alloy_consensus::Signed::new_unchecked(variant, sig, hash))
}

fn raw(tx: &TxEnvelope) -> String {
    format!("0x{}", hex::encode(tx.encoded_2718()))
}

/// The blobs of `sidecar` as JSON strings.
fn blobs_json(sidecar: &BlobTransactionSidecarVariant) -> Value {
    json!(sidecar.blobs().iter().map(|b| format!("0x{}", hex::encode(b))).collect::<Vec<_>>())
}

fn number(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn blob_transactions_run_on_a_dev_chain_and_their_blobs_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let v = Validator::start(&data, &["--dev"]);

    // Both sidecar forms are taken; the receipt carries the blob gas and
    // its price, the header the block's blob gas.
    let mut sent = Vec::new();
    for (nonce, cells) in [(0, true), (1, false)] {
        let car = sidecar(nonce as u8, 1, cells);
        let tx = blob_tx(DEV_KEYS[0], nonce, &car);
        let hash = v.result("eth_sendRawTransaction", json!([raw(&tx)]));
        assert_eq!(hash, json!(tx.tx_hash()));
        let receipt = wait_receipt(&v, &hash);
        assert_eq!(receipt["status"], "0x1");
        assert_eq!(receipt["type"], "0x3");
        assert_eq!(number(&receipt["blobGasUsed"]), DATA_GAS_PER_BLOB);
        assert_eq!(receipt["blobGasPrice"], "0x1");
        let block = v.result("eth_getBlockByNumber", json!([receipt["blockNumber"], false]));
        assert_eq!(number(&block["blobGasUsed"]), DATA_GAS_PER_BLOB);
        // The block holds the consensus form: the same hash, no blobs.
        let got = v.result("eth_getTransactionByHash", json!([hash]));
        assert_eq!(got["blobVersionedHashes"], json!(car.versioned_hashes().collect::<Vec<_>>()));
        assert!(got.get("blobs").is_none(), "{got}");
        assert_eq!(v.result("anvil_getBlobsByTransactionHash", json!([hash])), blobs_json(&car));
        sent.push((hash, car));
    }

    // A blob that does not match its commitment, and a blob transaction
    // without its blobs, are refused, naming why.
    let mut bad = sidecar(9, 1, false);
    if let BlobTransactionSidecarVariant::Eip4844(s) = &mut bad {
        s.blobs[0][100] ^= 1;
    }
    let tx = blob_tx(DEV_KEYS[0], 2, &bad);
    let (_, message, _) = v.error("eth_sendRawTransaction", json!([raw(&tx)]));
    assert!(message.contains("invalid blob sidecar"), "{message}");
    let bare = match blob_tx(DEV_KEYS[0], 2, &sidecar(9, 1, false)) {
        TxEnvelope::Eip4844(s) => {
            let (tx, sig, hash) = s.into_parts();
            let TxEip4844Variant::TxEip4844WithSidecar(with) = tx else { unreachable!() };
            TxEnvelope::Eip4844(alloy_consensus::Signed::new_unchecked(
                TxEip4844Variant::TxEip4844(with.tx),
                sig,
                hash,
            ))
        }
        _ => unreachable!(),
    };
    let (_, message, _) = v.error("eth_sendRawTransaction", json!([raw(&bare)]));
    assert!(message.contains("without its blobs"), "{message}");

    // A block holds Prague's 9 blobs at most: of three transactions of 8
    // blobs, one goes in each block; past the target of 6, the excess
    // grows and prices the next block's blobs.
    assert_eq!(v.result("evm_setAutomine", json!([false])), Value::Null);
    let params = BlobParams::prague();
    let mut hashes = Vec::new();
    for i in 0..3u64 {
        let tx = blob_tx(DEV_KEYS[1], i, &sidecar(20 + i as u8, 8, false));
        hashes.push(v.result("eth_sendRawTransaction", json!([raw(&tx)])));
    }
    let first = number(&v.result("eth_blockNumber", json!([]))) + 1;
    for _ in 0..4 {
        v.result("evm_mine", json!([]));
    }
    let mut excess = 0u64;
    for (i, hash) in hashes.iter().enumerate() {
        let receipt = v.result("eth_getTransactionReceipt", json!([hash]));
        let n = first + i as u64;
        assert_eq!(number(&receipt["blockNumber"]), n, "{receipt}");
        let block = v.result("eth_getBlockByNumber", json!([format!("{n:#x}"), false]));
        assert_eq!(number(&block["blobGasUsed"]), 8 * DATA_GAS_PER_BLOB);
        assert_eq!(number(&block["excessBlobGas"]), excess, "block {n}");
        assert_eq!(number(&receipt["blobGasPrice"]), params.calc_blob_fee(excess) as u64);
        let base_fee = number(&block["baseFeePerGas"]);
        excess = params.next_block_excess_blob_gas_osaka(excess, 8 * DATA_GAS_PER_BLOB, base_fee);
    }
    assert!(excess > 0);
    let after = v.result("eth_getBlockByNumber", json!([format!("{:#x}", first + 3), false]));
    assert_eq!(number(&after["excessBlobGas"]), excess);
    assert_eq!(number(&after["blobGasUsed"]), 0);

    // eth_feeHistory prices blobs per block: the blob base fee each block's
    // excess gives (at least 1 wei), the share of Prague's 9 blobs it used,
    // and the next block's after the newest.
    let newest = format!("{:#x}", first + 2);
    let history = v.result("eth_feeHistory", json!(["0x3", newest, []]));
    let fees: Vec<u64> =
        history["baseFeePerBlobGas"].as_array().unwrap().iter().map(number).collect();
    let mut excess = 0u64;
    for (i, fee) in fees.iter().take(3).enumerate() {
        assert_eq!(*fee, params.calc_blob_fee(excess) as u64, "block {}", first + i as u64);
        excess = params.next_block_excess_blob_gas_osaka(excess, 8 * DATA_GAS_PER_BLOB, 0);
    }
    assert_eq!(fees[3], params.calc_blob_fee(excess) as u64, "the block after the newest");
    assert!(fees.iter().all(|f| *f >= 1), "{history}");
    let ratios = history["blobGasUsedRatio"].as_array().unwrap();
    assert!(ratios.iter().all(|r| (r.as_f64().unwrap() - 8.0 / 9.0).abs() < 1e-9), "{history}");

    // eth_getAccountInfo: balance, nonce and code in one answer, at any block.
    let sender = DEV_KEYS[1].parse::<PrivateKeySigner>().unwrap().address();
    for at in ["latest", "0x1"] {
        let info = v.result("eth_getAccountInfo", json!([sender, at]));
        assert_eq!(info["balance"], v.result("eth_getBalance", json!([sender, at])));
        assert_eq!(info["nonce"], v.result("eth_getTransactionCount", json!([sender, at])));
        assert_eq!(info["code"], "0x");
    }
    let absent = v.result("eth_getAccountInfo", json!([Address::repeat_byte(0x5a), "latest"]));
    assert_eq!(absent, json!({"balance": "0x0", "nonce": "0x0", "code": "0x"}));

    // The blobs outlive a restart, by transaction and by versioned hash.
    v.stop();
    let v = Validator::start(&data, &["--dev"]);
    for (hash, car) in &sent {
        assert_eq!(v.result("anvil_getBlobsByTransactionHash", json!([hash])), blobs_json(car));
        let versioned: B256 = car.versioned_hashes().next().unwrap();
        assert_eq!(v.result("anvil_getBlobByHash", json!([versioned])), blobs_json(car)[0]);
    }
    assert_eq!(v.result("anvil_getBlobByHash", json!([B256::repeat_byte(1)])), Value::Null);
    v.stop();

    // A chain before Cancun takes none, and says how to get one that does.
    let old = Validator::start(&dir.path().join("shanghai"), &["--dev", "--hardfork", "shanghai"]);
    let tx = blob_tx(DEV_KEYS[0], 0, &sidecar(1, 1, false));
    let (_, message, _) = old.error("eth_sendRawTransaction", json!([raw(&tx)]));
    assert!(message.contains("--hardfork cancun"), "{message}");
}

/// `cast send --blob` (EIP-7594's cell proofs, cast's default) and
/// `--blob --eip4844` work against lanes as against anvil, and both keep
/// the same blobs.
#[test]
fn cast_sends_blob_transactions_as_to_anvil() {
    let (Some(cast), Some(anvil_dir)) = (Client::Cast.installed(), Client::Anvil.installed())
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("blob.bin");
    std::fs::write(&file, (0..5000u32).map(|i| (i % 253) as u8).collect::<Vec<_>>()).unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let anvil = Anvil::start(&anvil_dir, &[]);
    let cast = cast.join("node_modules/.bin/cast");
    for extra in [&[][..], &["--eip4844"][..]] {
        let mut blobs = Vec::new();
        for url in [v.url(), anvil.url.clone()] {
            let out = Command::new(&cast)
                .args(["send", "--json", "--blob", "--path"])
                .arg(&file)
                .args(extra)
                .args(["--private-key", DEV_KEYS[3], "--rpc-url", &url])
                .arg(Address::repeat_byte(0xb2).to_string())
                .output()
                .expect("running cast");
            assert!(out.status.success(), "{url}: {}", String::from_utf8_lossy(&out.stderr));
            let receipt: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(receipt["status"], "0x1", "{receipt}");
            assert_eq!(number(&receipt["blobGasUsed"]), DATA_GAS_PER_BLOB);
            let body = json!({"jsonrpc": "2.0", "id": 1, "method": "anvil_getBlobsByTransactionHash",
                "params": [receipt["transactionHash"]]});
            let addr = url.trim_start_matches("http://").parse().unwrap();
            let (_, text) = crate::validator::http(addr, body.to_string().as_bytes()).unwrap();
            blobs.push(serde_json::from_str::<Value>(&text).unwrap()["result"].clone());
        }
        assert_eq!(blobs[0], blobs[1], "lanes and anvil keep the same blobs ({extra:?})");
        assert_eq!(blobs[0].as_array().map(Vec::len), Some(1));
    }
}

/// Sidecars are kept while their transaction is pending or in a block of
/// the retention window, and no longer: a refused one's at once, one whose
/// block was reverted away at the next pass, and an included one once the
/// head is `--blob-retention` past its block.
#[test]
fn blob_sidecars_go_when_their_transaction_is_gone_or_past_the_retention() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Passes every 2 s (a quarter of the 8 s window).
    let v = Validator::start(&data, &["--dev", "--blob-retention", "8"]);
    let kept = || std::fs::read_dir(data.join("blobs")).map_or(0, |d| d.count());
    let blobs_of = |hash: &Value| v.result("anvil_getBlobsByTransactionHash", json!([hash]));
    let until = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "{what}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };

    let kept_car = sidecar(1, 1, false);
    let kept_tx =
        v.result("eth_sendRawTransaction", json!([raw(&blob_tx(DEV_KEYS[0], 0, &kept_car))]));
    wait_receipt(&v, &kept_tx);
    assert_eq!(blobs_of(&kept_tx), blobs_json(&kept_car));
    let files = kept();
    assert_eq!(files, 2, "the sidecar and its blob's link");

    // Refused (its nonce is taken): nothing of it stays.
    let refused = blob_tx(DEV_KEYS[0], 0, &sidecar(2, 1, false));
    v.error("eth_sendRawTransaction", json!([raw(&refused)]));
    assert_eq!(kept(), files);
    assert_eq!(blobs_of(&json!(refused.tx_hash())), Value::Null);

    // Included, then reverted away: gone at the next pass.
    let snapshot = v.result("evm_snapshot", json!([]));
    let car = sidecar(3, 1, true);
    let reverted = v.result("eth_sendRawTransaction", json!([raw(&blob_tx(DEV_KEYS[0], 1, &car))]));
    wait_receipt(&v, &reverted);
    assert_eq!(blobs_of(&reverted), blobs_json(&car));
    assert_eq!(v.result("evm_revert", json!([snapshot])), json!(true));
    until("the reverted transaction's sidecar goes", &|| blobs_of(&reverted).is_null());
    assert_eq!(blobs_of(&kept_tx), blobs_json(&kept_car), "the included one stays");
    assert_eq!(kept(), files);

    // Past the window by the head's time: gone.
    v.result("evm_increaseTime", json!([100]));
    v.result("evm_mine", json!([]));
    until("the old sidecar goes", &|| blobs_of(&kept_tx).is_null());
    assert_eq!(kept(), 0);
    v.stop();
}
