//! The explorer (`/explorer` on the RPC port) and the `lanes_*` methods it
//! draws from, over loopback against the real binary; the page itself in
//! headless Chromium, driven by puppeteer-core (tests/clients/explorer.cjs).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::scenarios::chromium;
use crate::validator::{Client, DEV_KEYS, Validator, hex, receiver, repo_path, signed};

/// The page's assets, all inlined: the goal's bound.
const MAX_PAGE_BYTES: usize = 300 * 1024;

/// One HTTP/1.1 request; the status, the headers (lower-cased) and the body.
fn request(v: &Validator, method: &str, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(v.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", v.addr).unwrap();
    let mut response = Vec::new();
    s.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, head.to_lowercase(), body.to_owned())
}

#[test]
fn test_the_explorer_is_one_self_contained_page_served_with_dev_and_off_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let (status, head, page) = request(&v, "GET", "/explorer");
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(
        head.contains("content-security-policy: default-src 'none'")
            && head.contains("connect-src 'self'"),
        "the browser lets the page reach nothing but the node: {head}"
    );
    assert!(page.len() < MAX_PAGE_BYTES, "the page is {} bytes", page.len());
    assert!(page.contains("<script>") && page.contains("lanes_getBlockLanes"), "script inlined");
    for outside in ["<script src", "<link rel=\"stylesheet", "http://", "https://", "url("] {
        assert!(!page.contains(outside), "the page loads nothing from elsewhere: {outside}");
    }
    // Every view has its own URL, answered with the same page.
    for path in ["/explorer/", "/explorer/block/1", "/explorer/tx/0x01", "/explorer/address/0x02"] {
        let (status, _, body) = request(&v, "GET", path);
        assert_eq!((status, body.len()), (200, page.len()), "{path}");
    }
    let (status, head, body) = request(&v, "HEAD", "/explorer/block/1");
    assert_eq!((status, body.as_str()), (200, ""), "{head}");
    // JSON-RPC beside it, and Otterscan's API as before.
    assert_eq!(v.result("ots_getApiLevel", json!([])), 8);
    let (status, _, body) = request(&v, "GET", "/explorers");
    assert!(status != 200 || !body.contains("<script>"), "only /explorer and below: {status}");
    v.stop();

    let off = Validator::start(&dir.path().join("off"), &["--dev", "--no-explorer"]);
    let (status, _, body) = request(&off, "GET", "/explorer");
    assert!(status != 200 && !body.contains("<script>"), "--no-explorer serves no page: {status}");
    off.stop();
}

/// The position in `block`'s transactions of `hash`.
fn position(block: &Value, hash: &Value) -> usize {
    block["transactions"].as_array().unwrap().iter().position(|h| h == hash).unwrap()
}

#[test]
fn test_block_lanes_name_the_keys_that_made_each_transaction_wait() {
    let dir = tempfile::tempdir().unwrap();
    let artifacts = repo_path("contracts/artifacts");
    let v = Validator::start(
        &dir.path().join("data"),
        &["--dev", "--explorer-abis", artifacts.to_str().unwrap()],
    );
    // Four transfers in one block: three write receiver 1's account (two
    // from key 0, one from key 1); key 2's to receiver 2 touches neither.
    v.result("evm_setAutomine", json!([false]));
    let sends = [
        signed(DEV_KEYS[0], 31337, 0, receiver(1), 1, 21_000),
        signed(DEV_KEYS[0], 31337, 1, receiver(1), 1, 21_000),
        signed(DEV_KEYS[1], 31337, 0, receiver(1), 1, 21_000),
        signed(DEV_KEYS[2], 31337, 0, receiver(2), 1, 21_000),
    ];
    let hashes: Vec<Value> =
        sends.iter().map(|tx| v.result("eth_sendRawTransaction", json!([hex(tx)]))).collect();
    v.result("evm_mine", json!([]));
    let block = v.result("eth_getBlockByNumber", json!(["latest", false]));
    assert_eq!(block["transactions"].as_array().unwrap().len(), 4);
    let lanes = v.result("lanes_getBlockLanes", json!(["latest"]));
    assert_eq!(lanes["hash"], block["hash"]);
    assert_eq!(lanes["runsKnown"], true, "this node built it");
    let txs = lanes["transactions"].as_array().unwrap();
    let of = |hash: &Value| &txs[position(&block, hash)];
    let keys = lanes["keys"].as_array().unwrap();
    let key_of = |i: &Value| &keys[i.as_u64().unwrap() as usize];
    let r1 = format!("{:#x}", receiver(1));
    let names_r1 = |wait: &Value| {
        wait["keys"].as_array().unwrap().iter().any(|k| {
            key_of(k)["address"].as_str().unwrap().eq_ignore_ascii_case(&r1)
                && key_of(k)["kind"] == "account"
        })
    };
    // Key 0's second waited on its first (the sender's account) and on
    // receiver 1's last writer; key 1's on one of key 0's, for receiver 1's
    // account; key 2's waited on nothing.
    let second = of(&hashes[1])["waits"].as_array().unwrap();
    let on_first = position(&block, &hashes[0]) as u64;
    assert!(second.iter().any(|w| w["on"] == on_first), "{lanes:#}");
    assert!(second.iter().any(names_r1), "{lanes:#}");
    let other = of(&hashes[2]);
    assert!(other["waits"].as_array().unwrap().iter().any(names_r1), "{lanes:#}");
    assert_eq!(of(&hashes[3])["waits"], json!([]), "{lanes:#}");
    for t in txs {
        assert_eq!((t["source"].as_str(), t["run"].as_str()), (Some("known"), Some("stood")));
        assert_eq!(t["gasUsed"], "0x5208");
    }
    // Receiver 1's account is the hottest key: three writers.
    let hot = &lanes["hotKeys"][0];
    assert!(key_of(&hot["key"])["address"].as_str().unwrap().eq_ignore_ascii_case(&r1));
    assert_eq!((hot["transactions"].as_u64(), hot["writers"].as_u64()), (Some(3), Some(3)));
    // The entries hold every transaction once, in lanes.
    let mut seen: Vec<u64> = lanes["entries"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["lanes"].as_array().unwrap().clone())
        .flat_map(|l| l["transactions"].as_array().unwrap().clone())
        .map(|i| i.as_u64().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, [0, 1, 2, 3]);

    // One transaction's set: the two accounts it wrote.
    let set = v.result("lanes_getTransactionSet", json!([hashes[2]]));
    assert_eq!(set["blockNumber"], block["number"]);
    assert_eq!(set["index"], position(&block, &hashes[2]));
    assert_eq!(set["source"], "known");
    let writes: Vec<String> = set["writes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["address"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(writes.contains(&r1), "{set:#}");
    // Its wait, named by hash, for receiver 1's account.
    let wait = &set["waits"][0];
    assert!(hashes[..2].contains(&wait["hash"]), "one of key 0's: {set:#}");
    assert_eq!(wait["keys"][0]["address"].as_str().map(str::to_lowercase), Some(r1.clone()));
    let unknown = format!("{:#x}", alloy_primitives::B256::repeat_byte(7));
    assert_eq!(v.result("lanes_getTransactionSet", json!([unknown])), Value::Null);
    assert_eq!(v.result("lanes_getBlockLanes", json!(["0x999"])), Value::Null);

    // A contract from the verified-source folder, named by its code.
    v.result("evm_setAutomine", json!([true]));
    let board: Value =
        serde_json::from_str(&std::fs::read_to_string(artifacts.join("Board.json")).unwrap())
            .unwrap();
    let code = format!("{}{:064x}", board["bytecode"].as_str().unwrap(), 7);
    let from = v.result("eth_accounts", json!([]))[0].clone();
    let hash =
        v.result("eth_sendTransaction", json!([{"from": from, "data": code, "gas": "0x2dc6c0"}]));
    let receipt = crate::validator::wait_receipt(&v, &hash);
    let abi = v.result("lanes_getContractAbi", json!([receipt["contractAddress"]]));
    assert_eq!(
        (abi["name"].as_str(), abi["artifact"].as_str()),
        (Some("Board"), Some("Board.json"))
    );
    assert_eq!(abi["abi"], board["abi"]);
    assert_eq!(
        v.result("lanes_getContractAbi", json!([format!("{:#x}", receiver(1))])),
        Value::Null
    );
    // Signatures: a standard one, one of the folder's, an unknown one left out.
    let post = board["abi"].as_array().unwrap().iter().find(|i| i["name"] == "post").unwrap();
    let selector = format!(
        "0x{}",
        alloy_primitives::hex::encode(
            &alloy_primitives::keccak256(
                format!(
                    "post({})",
                    post["inputs"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|i| i["type"].as_str().unwrap())
                        .collect::<Vec<_>>()
                        .join(",")
                )
                .as_bytes(),
            )[..4]
        )
    );
    let found = v.result("lanes_lookupSignatures", json!([["0xa9059cbb", selector, "0x01020304"]]));
    assert_eq!(found["0xa9059cbb"][0]["name"], "transfer");
    assert_eq!(found[&selector][0]["name"], "post");
    assert!(found.get("0x01020304").is_none(), "{found:#}");
    let too_many: Vec<String> = (0..1025).map(|i| format!("0x{i:08x}")).collect();
    let (_, message, _) = v.error("lanes_lookupSignatures", json!([too_many]));
    assert!(message.contains("1025") && message.contains("1024"), "{message}");
    v.stop();
}

#[test]
fn test_the_explorer_draws_a_busy_dev_node_in_headless_chromium() {
    let Some(clients) = Client::Puppeteer.installed() else { return };
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let artifacts = repo_path("contracts/artifacts");
    let v = Validator::start(
        &dir.path().join("data"),
        &["--dev", "--explorer-abis", artifacts.to_str().unwrap()],
    );
    // LANES_EXPLORER_SHOTS=docs/explorer refreshes the documentation's.
    let shots = std::env::var_os("LANES_EXPLORER_SHOTS")
        .map_or_else(|| dir.path().join("shots"), PathBuf::from);
    std::fs::create_dir_all(&shots).unwrap();
    let url = v.url();
    let token = artifacts.join("Token.json");
    let args = [url.as_ref(), token.as_os_str(), chromium.as_os_str(), shots.as_os_str()];
    let out = Client::Puppeteer.run(&clients, &v, "explorer.cjs", &args, "explorer: ok");
    let draws = out.lines().find(|l| l.starts_with("draw ms")).expect("the draw timed");
    eprintln!("{draws}");
    out.lines().filter(|l| l.contains(" renders ")).for_each(|l| eprintln!("{l}"));
    for shot in ["explorer-home", "explorer-block", "explorer-tx", "explorer-address"] {
        let png = std::fs::read(shots.join(format!("{shot}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{shot}: {} bytes", png.len());
    }
    v.stop();
}
