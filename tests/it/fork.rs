//! `lanes-validator --dev --fork-url`: a dev node forking a live chain on
//! loopback. The same web3.py script (tests/clients/fork.py, written
//! against `anvil --fork-url`) runs against lanes and anvil forking one
//! anvil upstream, each through a counting proxy (tests/clients/
//! fork_proxy.py); lanes never asks for a key twice, and its cache survives
//! kill -9. A lanes `--dev` upstream shows the faults: a dead or silent
//! upstream answers a clear error naming it and the method, in bounded
//! time, without holding other calls, and the request budget is kept.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::anvil_surface::Anvil;
use crate::validator::{Client, Validator, free_port, http, repo_path, script_output};

/// tests/clients/fork_proxy.py in front of `upstream`; killed when dropped.
struct Proxy {
    child: Child,
    url: String,
}

impl Proxy {
    fn start(upstream: &str) -> Self {
        let mut child = Command::new("python3")
            .arg(repo_path("tests/clients/fork_proxy.py"))
            .arg(upstream)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("listening ").expect("the proxy's port").to_owned();
        Self { child, url: format!("http://127.0.0.1:{port}") }
    }

    /// What the upstream was asked through it.
    fn counts(&self) -> Value {
        let addr: std::net::SocketAddr = self.url.trim_start_matches("http://").parse().unwrap();
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        use std::io::{Read, Write};
        write!(s, "GET /counts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs tests/clients/fork.py with `args`; its output, failing the test
/// (with `log`) unless it printed `ok`.
fn script(python: &Path, args: &[&str], ok: &str, log: &dyn Fn() -> String) -> String {
    let mut command = Command::new("python3");
    command.arg(repo_path("tests/clients/fork.py")).args(args).env("PYTHONPATH", python);
    script_output(command, "python3", &format!("fork.py {args:?}"), ok, log)
}

/// Runs tests/clients/viem_fork.cjs with `args`, as [`script`].
fn viem_script(clients: &Path, args: &[&str], log: &dyn Fn() -> String) -> String {
    let mut command = Command::new("node");
    command
        .arg(repo_path("tests/clients/viem_fork.cjs"))
        .args(args)
        .env("LANES_NODE_CLIENTS", clients);
    script_output(command, "node", &format!("viem_fork.cjs {args:?}"), "viem fork: ok", log)
}

/// Calls asked of the upstream for state: each key once.
const STATE_METHODS: [&str; 4] =
    ["eth_getBalance", "eth_getTransactionCount", "eth_getCode", "eth_getStorageAt"];

fn state_calls(counts: &Value) -> u64 {
    STATE_METHODS.iter().map(|m| counts["methods"][m].as_u64().unwrap_or(0)).sum()
}

#[test]
fn test_the_same_forked_chain_script_passes_on_lanes_and_anvil_and_the_cache_survives_kill_9() {
    let (Some(python), Some(anvil_dir)) = (Client::Web3Py.installed(), Client::Anvil.installed())
    else {
        return;
    };
    let viem = Client::Viem.installed();
    let dir = tempfile::tempdir().unwrap();
    let artifacts = repo_path("contracts/artifacts");
    let artifacts = artifacts.to_str().unwrap();
    let state = dir.path().join("state.json");
    let state = state.to_str().unwrap();
    let upstream = Anvil::start(&anvil_dir, &[]);
    let none = || String::new();
    script(&python, &["setup", &upstream.url, artifacts, state], "fork setup: ok", &none);
    let made: Value = serde_json::from_slice(&std::fs::read(state).unwrap()).unwrap();
    let n = made["forkBlock"].as_u64().unwrap().to_string();

    // lanes, forking the upstream through a counting proxy.
    let proxy = Proxy::start(&upstream.url);
    let data = dir.path().join("data");
    let fork_args = ["--dev", "--fork-url", &proxy.url, "--fork-block-number", &n];
    let v = Validator::start(&data, &fork_args);
    let log = || v.log_text();
    let check = ["check", &upstream.url, &v.url(), state, artifacts, &proxy.url];
    script(&python, &check, "fork check: ok", &log);
    let lanes = proxy.counts();
    for method in STATE_METHODS {
        assert!(lanes["repeated"].get(method).is_none(), "{method} asked twice: {lanes}");
    }
    assert!(state_calls(&lanes) > 0, "the fork read the upstream's state: {lanes}");
    let folder = data.join(format!("fork-31337-{n}"));
    assert!(folder.join("fork.json").is_file() && folder.join("fork-cache.bin").is_file());

    // Without a fork, lanes' chain is fresh (anvil's keeps what it fetched);
    // forked again, the fork block's state is back.
    let token = made["tokenA"].as_str().unwrap();
    v.result("anvil_reset", json!([]));
    assert_eq!(v.result("eth_getCode", json!([token, "latest"])), "0x");
    assert!(data.join("ledger").is_dir(), "the data folder's own chain");
    let at = made["forkBlock"].clone();
    v.result("anvil_reset", json!([{"forking": {"jsonRpcUrl": proxy.url, "blockNumber": at}}]));
    assert_ne!(v.result("eth_getCode", json!([token, "latest"])), "0x");

    // Killed and started again, the fork reads what it fetched from its cache.
    v.kill9();
    let v = Validator::start(&data, &fork_args);
    let log = || v.log_text();
    let check = ["check", &upstream.url, &v.url(), state, artifacts, &proxy.url];
    script(&python, &check, "fork check: ok", &log);
    let again = proxy.counts();
    assert_eq!(state_calls(&again), state_calls(&lanes), "nothing fetched twice: {again}");
    // viem's test client forks, impersonates and resets as on anvil.
    if let Some(viem) = &viem {
        viem_script(viem, &[&v.url(), &proxy.url, state], &log);
    }
    v.stop();

    // anvil, forking the same upstream through its own proxy.
    let anvil_proxy = Proxy::start(&upstream.url);
    let fork =
        Anvil::start(&anvil_dir, &["--fork-url", &anvil_proxy.url, "--fork-block-number", &n]);
    let check = ["check", &upstream.url, &fork.url, state, artifacts, &anvil_proxy.url];
    script(&python, &check, "fork check: ok", &none);
    let anvil = anvil_proxy.counts();
    if let Some(viem) = &viem {
        viem_script(viem, &[&fork.url, &anvil_proxy.url, state], &none);
    }
    eprintln!(
        "upstream requests for one run of fork.py: lanes {} requests ({} calls), anvil {} requests ({} calls)",
        lanes["requests"], lanes["calls"], anvil["requests"], anvil["calls"]
    );
}

/// A TCP listener that accepts and never answers.
fn silent_upstream() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

#[test]
fn test_a_failing_upstream_answers_a_clear_error_in_bounded_time_and_holds_no_other_call() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Validator::start(&dir.path().join("upstream"), &["--dev"]);
    let to = format!("{:#x}", alloy_primitives::Address::repeat_byte(0x42));
    upstream.result("anvil_setBalance", json!([to, "0x1234"]));
    let args = [
        "--dev",
        "--fork-url",
        &upstream.url(),
        "--timeout",
        "1000",
        "--retries",
        "1",
        "--fork-retry-backoff",
        "10",
    ];
    let v = Validator::start(&dir.path().join("fork"), &args);
    assert_eq!(v.result("eth_getBalance", json!([to, "latest"])), "0x1234");
    let head = v.result("eth_blockNumber", json!([]));
    assert_eq!(head, upstream.result("eth_blockNumber", json!([])), "forked at the latest block");

    // A silent upstream: the fetch gives up after its tries; other calls
    // answer meanwhile.
    let (listener, silent) = silent_upstream();
    v.result("anvil_setRpcUrl", json!([silent]));
    let fresh = format!("{:#x}", alloy_primitives::Address::repeat_byte(0x43));
    let slow = {
        let addr = v.addr;
        let fresh = fresh.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let body = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": [fresh, "latest"]});
            let (_, text) = http(addr, body.to_string().as_bytes()).unwrap();
            (started.elapsed(), serde_json::from_str::<Value>(&text).unwrap())
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    assert_eq!(v.result("eth_blockNumber", json!([])), head);
    assert_eq!(v.result("eth_getBalance", json!([to, "latest"])), "0x1234", "cached");
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "other calls wait: {:?}",
        started.elapsed()
    );
    let (took, answer) = slow.join().unwrap();
    let message = answer["error"]["message"].as_str().unwrap_or_default().to_owned();
    assert!(
        message.contains(&silent)
            && message.contains("eth_getBalance")
            && message.contains("--timeout"),
        "{answer}"
    );
    assert!(took < Duration::from_secs(10), "bounded: {took:?}");

    // A dead upstream: a transaction needing a key it never fetched is
    // refused with the cause; the node goes on.
    v.result("anvil_setRpcUrl", json!([format!("http://127.0.0.1:{}", free_port())]));
    let (_, message, _) = v.error(
        "eth_sendTransaction",
        json!([{"from": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "to": fresh, "value": "0x1"}]),
    );
    assert!(message.contains("fork upstream"), "{message}");
    v.result("anvil_setRpcUrl", json!([upstream.url()]));
    let hash = v.result(
        "eth_sendTransaction",
        json!([{"from": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "to": fresh, "value": "0x1"}]),
    );
    assert_eq!(v.result("eth_getTransactionReceipt", json!([hash]))["status"], "0x1");
    assert_eq!(v.result("eth_getBalance", json!([fresh, "latest"])), "0x1");
    assert_eq!(
        upstream.result("eth_getBalance", json!([fresh, "latest"])),
        "0x0",
        "upstream untouched"
    );
    // A fork at another block that cannot be made leaves the chain as it was.
    let head = v.result("eth_blockNumber", json!([]));
    v.result("anvil_setRpcUrl", json!([silent]));
    let (_, message, _) = v.error("anvil_reset", json!([{"forking": {"blockNumber": 1}}]));
    assert!(message.contains(&silent), "{message}");
    v.result("anvil_setRpcUrl", json!([upstream.url()]));
    assert_eq!(v.result("eth_blockNumber", json!([])), head);
    assert_eq!(v.result("eth_getBalance", json!([fresh, "latest"])), "0x1");
    drop((v, listener));

    // The request budget: past it a fetch names the flag.
    let args = ["--dev", "--fork-url", &upstream.url(), "--fork-request-budget", "8"];
    let v = Validator::start(&dir.path().join("budget"), &args);
    let mut refused = None;
    for i in 0..16u8 {
        let who = format!("{:#x}", alloy_primitives::Address::repeat_byte(0x60 + i));
        if let Some(e) = v.call("eth_getBalance", json!([who, "latest"])).get("error") {
            refused = Some(e["message"].as_str().unwrap().to_owned());
            break;
        }
    }
    let refused = refused.expect("the budget ran out");
    assert!(refused.contains("--fork-request-budget"), "{refused}");
    drop(v);

    // --reset wipes the forks' folders with the rest.
    let budget = dir.path().join("budget");
    let forks = || {
        let entries = std::fs::read_dir(&budget).unwrap().flatten();
        entries.filter(|e| e.file_name().to_string_lossy().starts_with("fork-")).count()
    };
    assert_eq!(forks(), 1);
    Validator::start(&budget, &["--dev", "--reset"]).stop();
    assert_eq!(forks(), 0);
}

/// A node started without a fork forks at run time (anvil_reset with
/// `forking`, or with the forking object itself); a fork block the
/// upstream no longer has is refused for the chain it runs and made again
/// for a folder it left.
#[test]
fn test_a_node_forks_at_run_time_and_a_fork_block_the_upstream_replaced_is_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Validator::start(&dir.path().join("upstream"), &["--dev"]);
    let snapshot = upstream.result("evm_snapshot", json!([]));
    for _ in 0..3 {
        upstream.result("evm_mine", json!([]));
    }
    let hash = |v: &Validator, n: &str| {
        v.result("eth_getBlockByNumber", json!([n, false]))["hash"].clone()
    };
    let v = Validator::start(&dir.path().join("node"), &["--dev"]);
    v.result("anvil_reset", json!([{"forking": {"jsonRpcUrl": upstream.url(), "blockNumber": 2}}]));
    assert_eq!(v.result("eth_blockNumber", json!([])), "0x2");
    assert_eq!(hash(&v, "latest"), hash(&upstream, "0x2"), "the upstream's block 2");
    v.result("anvil_reset", json!([{"jsonRpcUrl": upstream.url(), "blockNumber": 3}]));
    assert_eq!(hash(&v, "latest"), hash(&upstream, "0x3"), "the forking object itself");

    // The upstream's blocks 2 and 3 are replaced by others.
    assert_eq!(upstream.result("evm_revert", json!([snapshot])), json!(true));
    upstream.result("evm_increaseTime", json!([100]));
    for _ in 0..3 {
        upstream.result("evm_mine", json!([]));
    }
    let (_, message, _) = v.error("anvil_reset", json!([{"forking": {"blockNumber": 3}}]));
    assert!(message.contains("fork another block"), "{message}");
    assert_eq!(v.result("eth_blockNumber", json!([])), "0x3", "the node as it was");
    v.result("anvil_reset", json!([{"forking": {"blockNumber": 2}}]));
    assert_eq!(hash(&v, "latest"), hash(&upstream, "0x2"), "the folder of block 2 made again");
}
