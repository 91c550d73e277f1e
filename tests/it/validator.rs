//! The `lanes-validator` binary end to end: a real client from PyPI, bad input
//! over raw HTTP, kill -9 during a stream of transactions, genesis checks.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use lanes_accounts_db::AccountsDbConfig;
use lanes_eth::genesis::ChainSpec;
use lanes_evm_adapter::{EvmConfig, EvmExecutor};
use lanes_node::ledger::Ledger;
use lanes_runtime::Chain;
use serde_json::{Value, json};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_lanes-validator");
/// Keys 1..=5 of the dev mnemonic (anvil's accounts 1..=5).
pub(crate) const DEV_KEYS: [&str; 5] = [
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
];

/// A validator child process on a free loopback port.
pub(crate) struct Validator {
    child: Child,
    pub(crate) addr: SocketAddr,
    log: PathBuf,
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Validator {
    /// On a fresh port; another port where one taken between the test's
    /// look and the validator's bind (other tests start processes too).
    pub(crate) fn start(data_dir: &Path, args: &[&str]) -> Self {
        let fresh = !data_dir.exists();
        for _ in 0..4 {
            let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            match Self::launch(data_dir, addr, args) {
                Ok(v) => return v,
                Err(log) if log.contains("Address already in use") => {
                    // It made its folder before it tried the port: start afresh.
                    if fresh {
                        let _ = std::fs::remove_dir_all(data_dir);
                    }
                }
                Err(log) => panic!("{log}"),
            }
        }
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        Self::start_at(data_dir, addr, args)
    }

    /// As [`Validator::start`], on `addr` (a restart on the same port).
    pub(crate) fn start_at(data_dir: &Path, addr: SocketAddr, args: &[&str]) -> Self {
        Self::launch(data_dir, addr, args).unwrap_or_else(|log| panic!("{log}"))
    }

    /// Starts one and waits until it answers; what it logged where it exited.
    fn launch(data_dir: &Path, addr: SocketAddr, args: &[&str]) -> Result<Self, String> {
        let log = data_dir.with_extension(format!("{}.log", addr.port()));
        let child = Command::new(BIN)
            .args(["--data-dir", data_dir.to_str().unwrap(), "--rpc-addr", &addr.to_string()])
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawning lanes-validator");
        let mut v = Self { child, addr, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = v.child.try_wait().unwrap() {
                return Err(format!("validator exited at start ({status}):\n{}", v.log_text()));
            }
            if v.try_call("eth_chainId", json!([])).is_some() {
                return Ok(v);
            }
            assert!(Instant::now() < deadline, "validator not ready:\n{}", v.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn try_call(&self, method: &str, params: Value) -> Option<Value> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (_, text) = http(self.addr, body.to_string().as_bytes()).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The answer to a batch (or any request body).
    pub(crate) fn call_batch(&self, body: Value) -> Value {
        let (_, text) = http(self.addr, body.to_string().as_bytes()).expect("an answer");
        serde_json::from_str(&text).expect("JSON")
    }

    /// The whole response object.
    pub(crate) fn call(&self, method: &str, params: Value) -> Value {
        self.try_call(method, params).unwrap_or_else(|| panic!("{method}: no answer"))
    }

    /// The result; panics on an error.
    pub(crate) fn result(&self, method: &str, params: Value) -> Value {
        let answer = self.call(method, params);
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// The error; panics on a result.
    pub(crate) fn error(&self, method: &str, params: Value) -> (i64, String, Value) {
        let answer = self.call(method, params);
        let e = answer.get("error").unwrap_or_else(|| panic!("{method} should fail: {answer}"));
        (e["code"].as_i64().unwrap(), e["message"].as_str().unwrap().to_owned(), e["data"].clone())
    }

    /// Waits for the process to exit on its own; its status and log.
    pub(crate) fn wait_exit(&mut self, within: Duration) -> (std::process::ExitStatus, String) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, self.log_text());
            }
            assert!(Instant::now() < deadline, "still running:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn kill9(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }

    /// SIGTERM; asserts a clean exit (0) within 30 s.
    pub(crate) fn stop(mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "no exit after SIGTERM:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "exit after SIGTERM: {status}\n{}", self.log_text());
    }
}

impl Drop for Validator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 POST; returns the status and body.
pub(crate) fn http(addr: SocketAddr, body: &[u8]) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    let _ = s.write_all(body); // the server may answer and close before reading it all
    let mut response = Vec::new();
    s.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    // A chunked body: keep the JSON between the chunk sizes.
    let body = match (body.find(['{', '[']), body.rfind(['}', ']'])) {
        (Some(a), Some(b)) if a <= b => body[a..=b].to_owned(),
        _ => body,
    };
    Ok((status, body))
}

pub(crate) fn signed(
    key: &str,
    chain_id: u64,
    nonce: u64,
    to: Address,
    value: u64,
    gas: u64,
) -> TxEnvelope {
    let signer: PrivateKeySigner = key.parse().unwrap();
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 3_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value: U256::from(value),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    tx.into_signed(sig).into()
}

pub(crate) fn hex(tx: &TxEnvelope) -> String {
    format!("0x{}", alloy_primitives::hex::encode(tx.encoded_2718()))
}

pub(crate) fn receiver(i: u64) -> Address {
    Address::from_word(B256::from(U256::from(0xbeef_0000 + i)))
}

pub(crate) fn wait_receipt(v: &Validator, hash: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = v.result("eth_getTransactionReceipt", json!([hash]));
        if !r.is_null() {
            return r;
        }
        assert!(Instant::now() < deadline, "no receipt for {hash}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A client library the end-to-end tests drive, as scripts/install-clients.sh
/// installs it.
#[derive(Clone, Copy)]
pub(crate) enum Client {
    /// web3.py and eth-account from PyPI (`python3`).
    Web3Py,
    /// ethers v6 from npm (`node`).
    Ethers,
    /// viem from npm (`node`).
    Viem,
    /// puppeteer-core from npm (`node`), driving Debian's Chromium.
    Puppeteer,
    /// hardhat 2 and hardhat-network-helpers 1 from npm (`node`).
    Hardhat,
    /// anvil 1.x from npm (`@foundry-rs/anvil`): the node lanes answers as,
    /// run beside it to compare answers.
    Anvil,
    /// Foundry's cast 1.x from npm (`@foundry-rs/cast`), beside anvil.
    Cast,
}

impl Client {
    /// Where it is installed, or `None` (the test is skipped) when it is
    /// not; with `LANES_REQUIRE_CLIENTS` set, a missing client fails the test.
    pub(crate) fn installed(self) -> Option<PathBuf> {
        let (var, sub, probe) = match self {
            Client::Web3Py => ("LANES_PYTHON_CLIENTS", "target/clients/python", "web3"),
            Client::Ethers => ("LANES_NODE_CLIENTS", "target/clients/node", "node_modules/ethers"),
            Client::Viem => ("LANES_NODE_CLIENTS", "target/clients/node", "node_modules/viem"),
            Client::Puppeteer => {
                ("LANES_NODE_CLIENTS", "target/clients/node", "node_modules/puppeteer-core")
            }
            Client::Hardhat => (
                "LANES_HARDHAT_CLIENTS",
                "target/clients/hardhat",
                "node_modules/@nomicfoundation/hardhat-network-helpers",
            ),
            Client::Anvil => {
                ("LANES_ANVIL_CLIENT", "target/clients/anvil", "node_modules/.bin/anvil")
            }
            Client::Cast => {
                ("LANES_ANVIL_CLIENT", "target/clients/anvil", "node_modules/.bin/cast")
            }
        };
        let dir = std::env::var_os(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(sub));
        if dir.join(probe).exists() {
            return Some(dir);
        }
        assert!(
            std::env::var_os("LANES_REQUIRE_CLIENTS").is_none(),
            "{probe} is not installed; run scripts/install-clients.sh"
        );
        eprintln!("SKIPPED: {probe} not installed (scripts/install-clients.sh installs it)");
        None
    }

    /// Runs tests/clients/`script` with `args` against `v` and returns what
    /// it printed; fails the test, with its output and the node's log,
    /// unless it exits 0 having printed `ok`.
    pub(crate) fn run(
        self,
        clients: &Path,
        v: &Validator,
        script: &str,
        args: &[&std::ffi::OsStr],
        ok: &str,
    ) -> String {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let scripts = root.join("tests/clients");
        // hardhat runs scripts in a project: a scratch copy of
        // tests/clients/hardhat, its modules from the install; `args[0]` is
        // the node's URL.
        let project = tempfile::tempdir().unwrap();
        let (program, command) = match self {
            Client::Web3Py => {
                let mut c = Command::new("python3");
                c.arg(scripts.join(script)).args(args).env("PYTHONPATH", clients);
                ("python3", c)
            }
            Client::Ethers | Client::Viem | Client::Puppeteer => {
                let mut c = Command::new("node");
                c.arg(scripts.join(script)).args(args).env("LANES_NODE_CLIENTS", clients);
                ("node", c)
            }
            Client::Anvil => panic!("anvil is a node, not a client script: see Anvil::start"),
            Client::Cast => panic!("cast is a command: run node_modules/.bin/cast"),
            Client::Hardhat => {
                for file in ["hardhat.config.cjs", script] {
                    std::fs::copy(scripts.join("hardhat").join(file), project.path().join(file))
                        .unwrap();
                }
                let modules = clients.join("node_modules");
                let mut c = Command::new("node");
                c.arg(modules.join("hardhat/internal/cli/bootstrap.js"))
                    .args(["--config", "hardhat.config.cjs", "run", "--no-compile", script])
                    .current_dir(project.path())
                    .env("NODE_PATH", modules)
                    .env("LANES_URL", args[0]);
                ("hardhat", c)
            }
        };
        script_output(command, program, script, ok, &|| v.log_text())
    }
}

/// Runs a client script's `command` (`program`); its output, failing the
/// test as `what` (with the node's `log`) unless it printed `ok`.
pub(crate) fn script_output(
    mut command: Command,
    program: &str,
    what: &str,
    ok: &str,
    log: &dyn Fn() -> String,
) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("running {program}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains(ok),
        "{what} failed ({}):\n{stdout}\n{}\nnode log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        log()
    );
    stdout
}

/// A repository path as a script argument.
pub(crate) fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A WebSocket text exchange by hand (client frames masked, as RFC 6455
/// requires; the zero mask leaves the payload as it is).
pub(crate) struct WebSocket(TcpStream);

impl WebSocket {
    pub(crate) fn connect(addr: SocketAddr) -> Self {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        Self(s)
    }

    fn send(&mut self, value: &Value) {
        let payload = value.to_string().into_bytes();
        let mut frame = vec![0x81];
        match payload.len() {
            n @ 0..126 => frame.push(0x80 | n as u8),
            n => {
                frame.push(0x80 | 126);
                frame.extend((n as u16).to_be_bytes());
            }
        }
        frame.extend([0; 4]);
        frame.extend(payload);
        self.0.write_all(&frame).unwrap();
    }

    pub(crate) fn recv(&mut self) -> Value {
        let mut head = [0u8; 2];
        self.0.read_exact(&mut head).unwrap();
        assert_eq!(head[0] & 0x0f, 1, "a text frame");
        let len = match head[1] & 0x7f {
            126 => {
                let mut n = [0u8; 2];
                self.0.read_exact(&mut n).unwrap();
                u16::from_be_bytes(n) as usize
            }
            127 => {
                let mut n = [0u8; 8];
                self.0.read_exact(&mut n).unwrap();
                u64::from_be_bytes(n) as usize
            }
            n => n as usize,
        };
        let mut payload = vec![0; len];
        self.0.read_exact(&mut payload).unwrap();
        serde_json::from_slice(&payload).unwrap()
    }

    /// The answer to a call, skipping notifications.
    pub(crate) fn call(&mut self, method: &str, params: Value) -> Value {
        self.send(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}));
        loop {
            let answer = self.recv();
            if answer.get("id").is_some() {
                return answer;
            }
        }
    }
}

#[test]
fn test_validator_with_web3_py() {
    let Some(clients) = Client::Web3Py.installed() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let v = Validator::start(&data, &["--dev", "--workers", "2"]);
    let (http, ws) = (v.url(), format!("ws://{}", v.addr));
    let token = repo_path("contracts/artifacts/Token.json");
    let args = [http.as_ref(), ws.as_ref(), token.as_os_str()];
    Client::Web3Py.run(&clients, &v, "web3_e2e.py", &args, "web3 e2e: ok");
    v.stop();
}

#[test]
fn test_validator_with_ethers_node_signer() {
    let Some(clients) = Client::Ethers.installed() else { return };
    let dir = tempfile::tempdir().unwrap();
    let v = Validator::start(&dir.path().join("data"), &["--dev"]);
    let (url, token) = (v.url(), repo_path("contracts/artifacts/Token.json"));
    let args = [url.as_ref(), token.as_os_str()];
    Client::Ethers.run(&clients, &v, "ethers_e2e.cjs", &args, "ethers e2e: ok");
    // The token transfer ran under a predicted set, not alone, and its
    // prediction held.
    let stats = v.result("lanes_stats", json!([]));
    assert!(stats["predicted"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(stats["predictionsHeld"], stats["predicted"], "{stats}");
    assert_eq!(stats["overPredicted"], 0, "{stats}");
    v.stop();
}

#[test]
fn test_validator_answers_bad_input_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let v = Validator::start(
        &data,
        &["--dev", "--block-time", "100ms", "--max-request-bytes", "65536", "--max-batch", "10"],
    );

    let (_, body) = http(v.addr, b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":").unwrap();
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["error"]["code"], -32700, "malformed JSON: {answer}");

    // geth's words, which ethers matches to fall back from filters to eth_getLogs.
    let (code, message, _) = v.error("eth_noSuchMethod", json!([]));
    let expected = "the method eth_noSuchMethod does not exist/is not available";
    assert_eq!((code, message.as_str()), (-32601, expected));

    let (code, message, _) = v.error("eth_getBalance", json!(["0x1234"]));
    assert_eq!(code, -32602);
    assert!(message.contains("invalid params") && message.contains("length"), "{message}");
    let (code, message, _) = v.error("eth_getBlockByNumber", json!([]));
    assert_eq!(code, -32602, "{message}");

    // Oversized body and batch.
    let big = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_sendRawTransaction\",\"params\":[\"0x{}\"]}}",
        "00".repeat(40_000)
    );
    let (status, body) = http(v.addr, big.as_bytes()).unwrap();
    assert!(
        status == 413 || body.contains("too big") || body.contains("too large"),
        "oversized body: {status} {body}"
    );
    let batch: Vec<Value> = (0..11)
        .map(|i| json!({"jsonrpc":"2.0","id":i,"method":"eth_chainId","params":[]}))
        .collect();
    let (_, body) = http(v.addr, serde_json::to_string(&batch).unwrap().as_bytes()).unwrap();
    let answer: Value = serde_json::from_str(&body).unwrap();
    let text = answer.to_string();
    assert!(text.contains("batch") && text.contains("10"), "oversized batch: {text}");
    let batch: Vec<Value> = (0..3)
        .map(|i| json!({"jsonrpc":"2.0","id":i,"method":"eth_blockNumber","params":[]}))
        .collect();
    let (_, body) = http(v.addr, serde_json::to_string(&batch).unwrap().as_bytes()).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap().as_array().unwrap().len(), 3);

    // Raw transactions.
    let (code, message, _) = v.error("eth_sendRawTransaction", json!(["0xzz"]));
    assert_eq!(code, -32602);
    assert!(message.contains("hex"), "bad hex: {message}");
    let (code, message, _) = v.error("eth_sendRawTransaction", json!(["0x02c0ffee"]));
    assert_eq!(code, -32602);
    assert!(message.contains("malformed transaction"), "bad RLP: {message}");

    let good = signed(DEV_KEYS[0], 31337, 0, receiver(1), 1, 21_000);
    let TxEnvelope::Eip1559(signed_tx) = &good else { unreachable!() };
    let sig = signed_tx.signature();
    let n = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let malleable = Signature::new(sig.r(), n - sig.s(), !sig.v());
    let bad_sig: TxEnvelope = signed_tx.tx().clone().into_signed(malleable).into();
    let (code, message, _) = v.error("eth_sendRawTransaction", json!([hex(&bad_sig)]));
    assert_eq!((code, message.as_str()), (-32003, "invalid signature"));

    let other_chain = signed(DEV_KEYS[0], 1, 0, receiver(1), 1, 21_000);
    let (code, message, _) = v.error("eth_sendRawTransaction", json!([hex(&other_chain)]));
    assert_eq!(code, -32003);
    assert!(message.contains("wrong chain id: expected 31337"), "{message}");

    let stranger = "0x1111111111111111111111111111111111111111111111111111111111111111";
    let broke = signed(stranger, 31337, 0, receiver(1), 1, 21_000);
    let (code, message, _) = v.error("eth_sendRawTransaction", json!([hex(&broke)]));
    assert_eq!(code, -32003);
    assert!(message.starts_with("insufficient funds for gas * price + value"), "{message}");

    let huge = signed(DEV_KEYS[0], 31337, 0, receiver(1), 1, 40_000_000);
    let (code, message, _) = v.error("eth_sendRawTransaction", json!([hex(&huge)]));
    assert_eq!(code, -32003);
    assert!(message.contains("exceeds block gas limit"), "{message}");

    let short = signed(DEV_KEYS[0], 31337, 0, receiver(1), 1, 20_000);
    let (code, message, _) = v.error("eth_sendRawTransaction", json!([hex(&short)]));
    assert_eq!(code, -32000, "anvil's code for it");
    assert!(message.starts_with("intrinsic gas too low"), "{message}");

    let hash = v.result("eth_sendRawTransaction", json!([hex(&good)]));
    assert_eq!(wait_receipt(&v, &hash)["status"], "0x1");
    let (code, message, _) = v.error("eth_sendRawTransaction", json!([hex(&good)]));
    assert_eq!(code, -32003);
    assert!(message.starts_with("nonce too low"), "{message}");

    // A reverting call: code 3, the revert bytes in `data`.
    // Init code: mstore(0, 0x2a); revert(0, 32).
    let (code, message, data) =
        v.error("eth_call", json!([{"data": "0x602a60005260206000fd"}, "latest"]));
    assert_eq!((code, message.as_str()), (3, "execution reverted"));
    assert_eq!(data, json!(format!("0x{:064x}", 0x2a)));
    // State past the head: not found, naming the head.
    let (code, message, _) = v.error("eth_getBalance", json!([receiver(1), "0xffffff"]));
    assert_eq!(code, -32001);
    assert!(message.contains("past the head"), "{message}");

    // Still serving.
    assert_eq!(v.result("eth_chainId", json!([])), "0x7a69");
    assert_eq!(v.result("eth_getBalance", json!([receiver(1), "latest"])), "0x1");
    v.stop();
}

#[test]
fn test_validator_kill_9_keeps_every_acknowledged_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = ["--dev", "--block-time", "50ms", "--workers", "2"];
    // hash -> (block number, block hash) of every receipt the client saw.
    let mut seen: Vec<(Value, Value, Value)> = Vec::new();
    let mut sent = 0u64;
    for round in 0..3u64 {
        let v = Validator::start(&data, &args);
        for (hash, number, block_hash) in &seen {
            let r = v.result("eth_getTransactionReceipt", json!([hash]));
            assert_eq!((&r["blockNumber"], &r["blockHash"]), (number, block_hash), "round {round}");
        }
        let mut nonces: Vec<u64> = DEV_KEYS
            .iter()
            .map(|k| {
                let a = k.parse::<PrivateKeySigner>().unwrap().address();
                let n = v.result("eth_getTransactionCount", json!([a, "latest"]));
                u64::from_str_radix(n.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
            })
            .collect();
        let mut waiting: Vec<Value> = Vec::new();
        let kill_after = 60 + 25 * round;
        for i in 0..kill_after {
            let k = (i % DEV_KEYS.len() as u64) as usize;
            let tx = signed(DEV_KEYS[k], 31337, nonces[k], receiver(sent % 7), 1, 21_000);
            nonces[k] += 1;
            sent += 1;
            waiting.push(v.result("eth_sendRawTransaction", json!([hex(&tx)])));
            waiting.retain(|hash| {
                let r = v.result("eth_getTransactionReceipt", json!([hash]));
                if r.is_null() {
                    return true;
                }
                seen.push((hash.clone(), r["blockNumber"].clone(), r["blockHash"].clone()));
                false
            });
            std::thread::sleep(Duration::from_millis(3));
        }
        v.kill9();
    }
    assert!(seen.len() > 50, "the client saw {} receipts of {sent}", seen.len());

    let v = Validator::start(&data, &args);
    for (hash, number, block_hash) in &seen {
        let r = v.result("eth_getTransactionReceipt", json!([hash]));
        assert_eq!((&r["blockNumber"], &r["blockHash"]), (number, block_hash));
        let block = v.result("eth_getBlockByNumber", json!([number, false]));
        assert!(block["transactions"].as_array().unwrap().contains(hash));
    }
    v.stop();

    // Replaying the ledger from genesis gives the head's state commitment.
    let spec = ChainSpec::from_file(&data.join("genesis.json")).unwrap();
    let ledger = Ledger::open(&data.join("ledger")).unwrap();
    let last = ledger.last_appended().unwrap();
    let executor = EvmExecutor::new(EvmConfig { spec: spec.spec, ..EvmConfig::new(spec.chain_id) });
    let replica_dir = tempfile::tempdir().unwrap();
    let mut replica = Chain::create_with(
        replica_dir.path(),
        AccountsDbConfig::default(),
        &spec.genesis,
        spec.bank_config(),
    )
    .unwrap();
    for n in 1..=last {
        replica.replay_block(&executor, &ledger.read(n).unwrap().block, 2).unwrap();
    }
    let node =
        Chain::open_with(data.join("chain"), AccountsDbConfig::default(), None, spec.bank_config())
            .unwrap();
    assert_eq!(node.head().number, last);
    assert_eq!(replica.head(), node.head(), "replayed head equals the node's");
    assert_eq!(replica.head_hash(), ledger.read(last).unwrap().block.hash);
    // The lattice hash is kept whatever the header commits to (a new --dev
    // chain's headers carry the Merkle-Patricia root).
    assert_eq!(replica.lattice(), node.lattice());
}

#[test]
fn test_validator_refuses_a_worker_count_out_of_range() {
    for bad in ["0", "64", "many"] {
        let out = Command::new(BIN).args(["--dev", "--workers", bad]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "--workers {bad} must be refused");
        assert!(stderr.contains("workers must be a number from 1 to 63"), "{stderr}");
    }
}

#[test]
fn test_validator_genesis_init_and_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("genesis.json");
    let out = Command::new(BIN)
        .args(["init", "--out", file.to_str().unwrap(), "--chain-id", "7"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let data = dir.path().join("data");
    let v = Validator::start(&data, &["--genesis", file.to_str().unwrap()]);
    assert_eq!(v.result("eth_chainId", json!([])), "0x7");
    assert_eq!(v.result("eth_accounts", json!([])), json!([]), "only --dev unlocks accounts");
    v.stop();

    // Same folder, no genesis flag: the stored chain.
    let v = Validator::start(&data, &[]);
    assert_eq!(v.result("eth_chainId", json!([])), "0x7");
    v.stop();

    // Same folder, another genesis: refused.
    let stderr = refused_start(&data, &["--dev"]);
    assert!(stderr.contains("another genesis"), "{stderr}");
}

/// What a validator started on `data_dir` with `args` printed as it
/// refused to start (the test fails if it started).
pub(crate) fn refused_start(data_dir: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["--data-dir", data_dir.to_str().unwrap(), "--rpc-addr"])
        .arg(format!("127.0.0.1:{}", free_port()))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} on {} must be refused", data_dir.display());
    stderr
}

#[test]
fn test_validator_replays_a_block_the_state_missed() {
    use lanes_runtime::Executor as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    Validator::start(&data, &["--dev", "--block-time", "50ms"]).stop();

    // A crash between the ledger's append and the state's commit, by hand:
    // block N+1 is in the ledger, the accounts database is still at N.
    let spec = ChainSpec::from_file(&data.join("genesis.json")).unwrap();
    let executor = EvmExecutor::new(EvmConfig { spec: spec.spec, ..EvmConfig::new(spec.chain_id) });
    let ledger = Ledger::open(&data.join("ledger")).unwrap();
    let chain =
        Chain::open_with(data.join("chain"), AccountsDbConfig::default(), None, spec.bank_config())
            .unwrap();
    let tx = signed(DEV_KEYS[2], 31337, 0, receiver(42), 777, 21_000);
    let mut bank = chain.new_bank(chain.head().timestamp + 1, spec.genesis.coinbase);
    bank.execute_entry(&executor, vec![executor.decode(&tx.encoded_2718()).unwrap()], 1).unwrap();
    let sealed = bank.seal().unwrap();
    ledger.append(&sealed.block, &sealed.receipts, None).unwrap();
    let number = sealed.block.header.number;
    drop((ledger, chain));

    let v = Validator::start(&data, &["--block-time", "50ms"]);
    let r = v.result("eth_getTransactionReceipt", json!([tx.tx_hash()]));
    assert_eq!(r["blockNumber"], json!(format!("{number:#x}")), "{r}");
    assert_eq!(r["status"], "0x1");
    assert_eq!(v.result("eth_getBalance", json!([receiver(42), "latest"])), "0x309");
    // Not a dev node: its own version, and no time or coinbase controls.
    assert!(v.result("web3_clientVersion", json!([])).as_str().unwrap().starts_with("lanes/v"));
    let (_, message, _) = v.error("evm_increaseTime", json!([60]));
    assert!(message.contains("--dev"), "{message}");
    v.stop();
    let node =
        Chain::open_with(data.join("chain"), AccountsDbConfig::default(), None, spec.bank_config())
            .unwrap();
    assert!(node.head().number > number, "production went on after the replay");
}

/// Every block's access list is kept with it: served by number and hash
/// after a kill -9 and a restart as before, and a reverted block's goes
/// with it.
#[test]
fn test_access_lists_survive_a_kill_and_go_with_a_reverted_block() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let v = Validator::start(&data, &["--dev"]);
    let from = json!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
    let mut lists = Vec::new();
    for i in 1..=3u64 {
        let to = receiver(i);
        let hash =
            v.result("eth_sendTransaction", json!([{"from": from, "to": to, "value": "0x5"}]));
        let receipt = wait_receipt(&v, &hash);
        let list = v.result("eth_getBlockAccessList", json!([receipt["blockNumber"]]));
        let entry = list.as_array().unwrap().iter().find(|a| a["address"] == json!(to)).unwrap();
        assert_eq!(entry["balanceChanges"], json!([{"index": "0x1", "value": "0x5"}]), "{list}");
        lists.push((receipt["blockNumber"].clone(), receipt["blockHash"].clone(), list));
    }
    let snapshot = v.result("evm_snapshot", json!([]));
    let hash =
        v.result("eth_sendTransaction", json!([{"from": from, "to": receiver(9), "value": "0x1"}]));
    let reverted = wait_receipt(&v, &hash)["blockNumber"].clone();
    assert!(!v.result("eth_getBlockAccessList", json!([reverted])).is_null());
    assert_eq!(v.result("evm_revert", json!([snapshot])), json!(true));
    assert!(v.result("eth_getBlockAccessList", json!([reverted])).is_null(), "gone with its block");
    v.kill9();
    let v = Validator::start(&data, &["--dev"]);
    for (number, hash, list) in &lists {
        assert_eq!(&v.result("eth_getBlockAccessList", json!([number])), list);
        assert_eq!(&v.result("eth_getBlockAccessListByBlockHash", json!([hash])), list);
        let raw = v.result("eth_getBlockAccessListRaw", json!([number]));
        let decoded: alloy_eips::eip7928::BlockAccessList = alloy_rlp::Decodable::decode(
            &mut &alloy_primitives::hex::decode(raw.as_str().unwrap()).unwrap()[..],
        )
        .unwrap();
        assert_eq!(&serde_json::to_value(decoded).unwrap(), list, "the raw list is the same list");
    }
    v.stop();
}
