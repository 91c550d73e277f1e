//! The rest of anvil's surface on `lanes-validator --dev`, against anvil from
//! npm on the same machine: state files both ways (over RPC and as files
//! with `--state`, `--load-state`, `--dump-state`), chain controls, Parity
//! traces and Otterscan's methods, each answer compared with anvil's
//! (tests/clients/anvil_surface.cjs, with viem's test client), and
//! `eth_simulateV1` (tests/clients/simulate.cjs).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::validator::{
    BIN, Client, DEV_KEYS, Validator, free_port, hex, http, receiver, repo_path, signed,
    wait_receipt,
};

/// anvil, from npm, on a free loopback port; killed when dropped.
pub(crate) struct Anvil {
    child: Child,
    pub(crate) url: String,
}

impl Anvil {
    /// On a fresh port; another port where the one drawn was taken before
    /// anvil bound it (anvil then exits), as [`Validator::start`].
    pub(crate) fn start(install: &Path, args: &[&str]) -> Self {
        (0..5)
            .find_map(|_| Self::launch(install, free_port(), args))
            .expect("anvil exited at start on five ports")
    }

    /// Starts one on `port` and waits until it answers; `None` where it
    /// exited (an answer from that port counts only while it runs).
    fn launch(install: &Path, port: u16, args: &[&str]) -> Option<Self> {
        let child = Command::new(binary(install))
            .args(["--port", &port.to_string(), "--silent"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning anvil");
        let mut anvil = Self { child, url: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answered = anvil.try_call("eth_chainId", json!([])).is_some();
            if anvil.child.try_wait().unwrap().is_some() {
                return None;
            }
            if answered {
                return Some(anvil);
            }
            assert!(Instant::now() < deadline, "anvil did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn try_call(&self, method: &str, params: Value) -> Option<Value> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let addr = self.url.trim_start_matches("http://").parse().unwrap();
        let (_, text) = http(addr, body.to_string().as_bytes()).ok()?;
        serde_json::from_str::<Value>(&text).ok()?.get("result").cloned()
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// anvil's own binary, under npm's node wrapper (killing the wrapper would
/// leave it running): `@foundry-rs/anvil-<platform>/bin/anvil`.
fn binary(install: &Path) -> PathBuf {
    let packages = install.join("node_modules/@foundry-rs");
    let found = std::fs::read_dir(&packages).ok().and_then(|dir| {
        dir.flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("anvil-"))
            .map(|e| e.path().join("bin/anvil"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| install.join("node_modules/.bin/anvil"))
}

fn installed() -> Option<(PathBuf, PathBuf)> {
    Some((Client::Viem.installed()?, Client::Anvil.installed()?))
}

#[test]
fn test_state_files_chain_controls_traces_and_otterscan_answer_as_anvil_does() {
    let Some((viem, anvil_dir)) = installed() else { return };
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let anvil = Anvil::start(&anvil_dir, &[]);
    let (url, token, pair) = (
        v.url(),
        repo_path("contracts/artifacts/Token.json"),
        repo_path("contracts/artifacts/Pair.json"),
    );
    let args = [
        url.as_ref(),
        anvil.url.as_ref(),
        token.as_os_str(),
        pair.as_os_str(),
        DEV_KEYS[3].as_ref(),
    ];
    Client::Viem.run(&viem, &v, "anvil_surface.cjs", &args, "anvil surface: ok");
    v.stop();
}

#[test]
fn test_a_state_file_round_trips_with_anvil_and_a_loaded_state_survives_kill_9() {
    let Some((_, anvil_dir)) = installed() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.json");
    let file_arg = file.to_str().unwrap();
    let who = "0x00000000000000000000000000000000005ea7e1";

    // --state: nothing to load the first time; dumped at exit.
    let v = Validator::start(&dir.path().join("a"), &["--dev", "--state", file_arg]);
    v.result("anvil_setBalance", json!([who, "0x1234"]));
    v.result("anvil_setStorageAt", json!([who, "0x9", format!("0x{:064x}", 0xabc)]));
    v.stop();
    let dumped: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(dumped["accounts"][who]["balance"], "0x1234", "{dumped:#}");
    assert_eq!(
        dumped["accounts"][who]["storage"][format!("0x{:064x}", 9)],
        format!("0x{:064x}", 0xabc)
    );

    // anvil --load-state serves it.
    let anvil = Anvil::start(&anvil_dir, &["--load-state", file_arg]);
    assert_eq!(anvil.try_call("eth_getBalance", json!([who, "latest"])), Some(json!("0x1234")));
    // anvil's own dump (--dump-state at exit is the same JSON) loads into lanes.
    anvil.try_call("anvil_setNonce", json!([who, "0x11"])).unwrap();
    let gz = anvil.try_call("anvil_dumpState", json!([])).unwrap();
    drop(anvil);

    let data = dir.path().join("b");
    let v = Validator::start(&data, &["--dev", "--load-state", file_arg]);
    assert_eq!(v.result("eth_getBalance", json!([who, "latest"])), "0x1234");
    assert_eq!(v.result("anvil_loadState", json!([gz])), true);
    assert_eq!(v.result("eth_getTransactionCount", json!([who, "latest"])), "0x11");
    v.kill9();
    // Loaded states are blocks of the ledger: a restart without the file
    // still serves them.
    let v = Validator::start(&data, &["--dev"]);
    assert_eq!(v.result("eth_getTransactionCount", json!([who, "latest"])), "0x11");
    assert_eq!(
        v.result("eth_getStorageAt", json!([who, "0x9", "latest"])),
        format!("0x{:064x}", 0xabc)
    );
    v.stop();
    // A file that is not a state is refused at start, naming it.
    std::fs::write(&file, b"{\"accounts\": 5}").unwrap();
    let out = Command::new(BIN)
        .args(["--dev", "--data-dir", data.to_str().unwrap(), "--load-state", file_arg])
        .args(["--rpc-addr", &format!("127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("state.json") && stderr.contains("anvil's format"), "{stderr}");
}

#[test]
fn test_eth_simulate_v1_answers_as_anvil_and_the_specification_do() {
    let Some((viem, anvil_dir)) = installed() else { return };
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let anvil = Anvil::start(&anvil_dir, &[]);
    let (url, token) = (v.url(), repo_path("contracts/artifacts/Token.json"));
    let args = [url.as_ref(), anvil.url.as_ref(), token.as_os_str()];
    Client::Viem.run(&viem, &v, "simulate.cjs", &args, "simulate: ok");
    v.stop();
}

#[test]
fn test_set_chain_id_changes_what_transactions_carry_through_revert_and_kill9() {
    let Some((_, anvil_dir)) = installed() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let v = Validator::start(&data, &["--dev"]);
    let anvil = Anvil::start(&anvil_dir, &[]);
    // CHAINID returned as one word, run through eth_call's code override.
    let probe = "0x4660005260206000f3";
    let chain_id_in_call = |call: &dyn Fn(&str, Value) -> Value| {
        let params =
            json!([{"to": receiver(9)}, "latest", {receiver(9).to_string(): {"code": probe}}]);
        call("eth_call", params)
    };
    let send = |chain_id: u64, nonce: u64| {
        let hash = v.result(
            "eth_sendRawTransaction",
            json!([hex(&signed(DEV_KEYS[0], chain_id, nonce, receiver(1), 1, 21_000))]),
        );
        wait_receipt(&v, &hash)
    };
    let first = send(31337, 0);
    let snapshot = v.result("evm_snapshot", json!([]));

    for (node, call) in [
        ("lanes", &(|m: &str, p: Value| v.result(m, p)) as &dyn Fn(&str, Value) -> Value),
        ("anvil", &|m: &str, p: Value| anvil.try_call(m, p).unwrap()),
    ] {
        call("anvil_setChainId", json!([1234]));
        assert_eq!(call("eth_chainId", json!([])), "0x4d2", "{node}");
        assert_eq!(call("net_version", json!([])), "1234", "{node}");
        assert_eq!(chain_id_in_call(call), format!("0x{:064x}", 1234), "{node}");
    }
    // A transaction for the old id is refused, one for the new id runs.
    let old = hex(&signed(DEV_KEYS[0], 31337, 1, receiver(1), 1, 21_000));
    let (code, message, _) = v.error("eth_sendRawTransaction", json!([old]));
    assert!(message.contains("chain id"), "{code} {message}");
    let second = send(1234, 1);
    assert_eq!(second["status"], "0x1");

    // Back to the snapshot: the old id again; then the new one, kept.
    assert_eq!(v.result("evm_revert", json!([snapshot])), true);
    assert_eq!(v.result("eth_chainId", json!([])), "0x7a69");
    v.result("anvil_setChainId", json!(["0x4d2"]));
    let third = send(1234, 1);
    v.kill9();

    let v = Validator::start(&data, &["--dev"]);
    assert_eq!(v.result("eth_chainId", json!([])), "0x4d2", "the chain id survives kill -9");
    assert_eq!(chain_id_in_call(&|m, p| v.result(m, p)), format!("0x{:064x}", 1234));
    // Blocks of either id read back whole, and replay in traces.
    for receipt in [&first, &third] {
        let block = v.result("eth_getBlockByNumber", json!([receipt["blockNumber"], true]));
        assert_eq!(block["transactions"][0]["hash"], receipt["transactionHash"]);
        let hash = &receipt["transactionHash"];
        let trace = v.result("debug_traceTransaction", json!([hash, {"tracer": "callTracer"}]));
        assert_eq!(trace["to"], json!(receiver(1).to_string().to_lowercase()));
        let parity = v.result("trace_transaction", json!([hash]));
        assert_eq!(parity[0]["transactionHash"], *hash);
    }
    let again = hex(&signed(DEV_KEYS[0], 1234, 2, receiver(1), 1, 21_000));
    let hash = v.result("eth_sendRawTransaction", json!([again]));
    assert_eq!(wait_receipt(&v, &hash)["status"], "0x1");
    // A dump does not carry the chain id (anvil's does not either): loaded
    // into anvil, it brings the accounts and nothing at the record's address.
    let dumped = v.result("anvil_dumpState", json!([]));
    v.stop();
    let anvil = Anvil::start(&anvil_dir, &[]);
    assert_eq!(anvil.try_call("anvil_loadState", json!([dumped])), Some(json!(true)));
    let sender = DEV_KEYS[0].parse::<alloy_signer_local::PrivateKeySigner>().unwrap().address();
    let nonce = anvil.try_call("eth_getTransactionCount", json!([sender, "latest"]));
    assert_eq!(nonce, Some(json!("0x3")));
    let record = "0x00000000000000000000000000006c616e657321";
    let slot = anvil.try_call("eth_getStorageAt", json!([record, "0x0", "latest"]));
    assert_eq!(slot, Some(json!(format!("0x{:064x}", 0))));
}
