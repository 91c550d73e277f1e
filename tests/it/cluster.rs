//! A multi-node chain end to end: `lanes-validator testnet`, four validator
//! processes and two replicas (one joining late) on loopback agreeing through
//! Malachite.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, keccak256};
use alloy_signer_local::PrivateKeySigner;
use lanes_node::cluster::config::{ClusterFile, NodeRole, NodesFile};
use serde_json::{Value, json};

use crate::validator::{BIN, Client, DEV_KEYS, hex, http, receiver, repo_path, signed};

const CHAIN_ID: u64 = 31337;

/// One node process of the testnet.
struct Node {
    name: String,
    config: PathBuf,
    addr: SocketAddr,
    child: Option<Child>,
    log: PathBuf,
}

impl Node {
    fn start(&mut self, args: &[&str]) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let child = Command::new(BIN)
            .args(["--config", self.config.to_str().unwrap()])
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawning lanes-validator");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.try_call("eth_chainId", json!([])).is_none() {
            let status = self.child.as_mut().unwrap().try_wait().unwrap();
            assert!(status.is_none(), "{} exited at start:\n{}", self.name, self.log_text());
            assert!(Instant::now() < deadline, "{} not ready:\n{}", self.name, self.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill9(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn try_call(&self, method: &str, params: Value) -> Option<Value> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (_, text) = http(self.addr, body.to_string().as_bytes()).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn result(&self, method: &str, params: Value) -> Value {
        let answer = self
            .try_call(method, params)
            .unwrap_or_else(|| panic!("{}: {method}: no answer", self.name));
        assert!(answer.get("error").is_none(), "{}: {method}: {answer}", self.name);
        answer["result"].clone()
    }

    fn head(&self) -> u64 {
        quantity(&self.result("eth_blockNumber", json!([])))
    }

    fn block(&self, number: u64) -> Value {
        self.result("eth_getBlockByNumber", json!([format!("{number:#x}"), false]))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub(crate) fn quantity(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// A base port with the twelve ports after it free, below Linux's ephemeral
/// range (32768 up) so that no client socket or `free_port()` of a test
/// running beside this one takes a port before a late node binds it.
fn free_base_port() -> u16 {
    for _ in 0..200 {
        let base = 10_000 + (rand::random::<u16>() % 22_000);
        if (base..base + 12).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return base;
        }
    }
    panic!("no free port range");
}

fn wait_until(
    what: &str,
    within: Duration,
    mut done: impl FnMut() -> bool,
    logs: impl Fn() -> String,
) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}\n{}", logs());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The consensus address (and coinbase) of the node whose config is `file`.
fn address_of(dir: &Path, name: &str) -> Address {
    // Another node lists its public key.
    let other = if name == "validator-0" { "validator-1" } else { "validator-0" };
    let text = std::fs::read_to_string(dir.join(other).join("config.toml")).unwrap();
    let file: ClusterFile = toml::from_str(&text).unwrap();
    let peer = file.peers.iter().find(|p| p.name == name).unwrap();
    let key = alloy_primitives::hex::decode(&peer.public_key).unwrap();
    Address::from_slice(&keccak256(&key)[12..])
}

#[test]
fn test_four_validators_and_two_replicas_agree_through_a_kill_a_hang_and_a_tamperer() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("net");
    let base = free_base_port().to_string();
    let status = Command::new(BIN)
        .args(["testnet", "--validators", "4", "--replicas", "2", "--out"])
        .arg(&out)
        .args(["--base-port", &base, "--block-time", "1s", "--timeout-propose", "2s"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let nodes: NodesFile =
        serde_json::from_slice(&std::fs::read(out.join("nodes.json")).unwrap()).unwrap();
    let roles: Vec<NodeRole> = nodes.nodes.iter().map(|n| n.role).collect();
    assert_eq!(roles, [[NodeRole::Validator; 4].as_slice(), &[NodeRole::Replica; 2]].concat());
    let mut net: Vec<Node> = nodes
        .nodes
        .iter()
        .map(|n| Node {
            name: n.name.clone(),
            config: out.join(&n.config),
            addr: n.rpc.trim_start_matches("http://").parse().unwrap(),
            child: None,
            log: dir.path().join(format!("{}.log", n.name)),
        })
        .collect();
    let logs = |net: &[Node]| {
        net.iter()
            .map(|n| format!("--- {}\n{}", n.name, tail(&n.log_text(), 40)))
            .collect::<String>()
    };
    // validator-3 tampers with every block it proposes.
    // replica-1 joins later, as a new node.
    for (i, node) in net.iter_mut().enumerate().take(5) {
        node.start(if i == 3 { &["--test-tamper-proposals"] } else { &[] });
    }
    let tamperer = address_of(&out, "validator-3");
    wait_until(
        "block 2 everywhere",
        Duration::from_secs(90),
        || net[..5].iter().all(|n| n.head() >= 2),
        || logs(&net),
    );

    // Dev-only methods are refused on a multi-validator chain.
    let refused = net[0].try_call("evm_mine", json!([])).unwrap();
    assert!(refused.get("error").is_some(), "evm_mine served: {refused}");

    // Transactions sent to every node (the replica forwards): each included once.
    let mut sent: Vec<(usize, u64, Value)> = Vec::new(); // key, nonce, hash
    let send =
        |net: &[Node], sent: &mut Vec<(usize, u64, Value)>, via: usize, key: usize, nonce: u64| {
            let tx =
                signed(DEV_KEYS[key], CHAIN_ID, nonce, receiver(nonce), 1 + key as u64, 21_000);
            let hash = net[via].result("eth_sendRawTransaction", json!([hex(&tx)]));
            sent.push((key, nonce, hash));
        };
    for nonce in 0..4 {
        for via in 0..5 {
            send(&net, &mut sent, via, via, nonce);
        }
    }
    // The dev accounts are unlocked on a testnet from the dev genesis:
    // eth_sendTransaction works on any node, back to back on the replica
    // (its pending nonce counts what it forwarded).
    let dev0 = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
    assert_eq!(net[4].result("eth_accounts", json!([]))[0], json!(dev0));
    let mut by_node_key = Vec::new();
    for via in [4, 4, 2] {
        let request = json!([{"from": dev0, "to": receiver(99), "value": "0x5"}]);
        by_node_key.push(net[via].result("eth_sendTransaction", request));
    }
    let included = |net: &[Node], sent: &[(usize, u64, Value)], reader: usize| {
        sent.iter()
            .all(|(_, _, h)| !net[reader].result("eth_getTransactionReceipt", json!([h])).is_null())
    };
    wait_until(
        "the first transactions' receipts",
        Duration::from_secs(60),
        || included(&net, &sent, 0),
        || logs(&net),
    );
    let receipt = |hash: &Value| net[0].result("eth_getTransactionReceipt", json!([hash]));
    wait_until(
        "eth_sendTransaction receipts",
        Duration::from_secs(60),
        || by_node_key.iter().all(|h| !receipt(h).is_null()),
        || logs(&net),
    );
    for hash in &by_node_key {
        assert_eq!(receipt(hash)["status"], json!("0x1"), "eth_sendTransaction {hash}");
    }
    // The replica serves a block once it has imported it, after validator-0.
    let last = by_node_key.iter().map(|h| quantity(&receipt(h)["blockNumber"])).max().unwrap();
    wait_until(
        "the replica at that block",
        Duration::from_secs(30),
        || net[4].head() >= last,
        || logs(&net),
    );
    let dev0_nonce = net[4].result("eth_getTransactionCount", json!([dev0, "latest"]));
    assert_eq!(quantity(&dev0_nonce), 3, "each eth_sendTransaction included once");

    // kill -9 of validator-1 under load: the chain goes on with 3 of 4.
    let mut next_nonce = 4;
    let mut more = |net: &[Node], sent: &mut Vec<(usize, u64, Value)>, rounds: u64, skip: usize| {
        for _ in 0..rounds {
            for via in (0..5).filter(|v| *v != skip) {
                send(net, sent, via, via, next_nonce);
            }
            next_nonce += 1;
        }
    };
    more(&net, &mut sent, 2, usize::MAX);
    net[1].kill9();
    let head = net[0].head();
    more(&net, &mut sent, 3, 1);
    wait_until(
        "3 more blocks with validator-1 down",
        Duration::from_secs(90),
        || net[0].head() >= head + 3,
        || logs(&net),
    );

    // Restarted, it catches up through sync.
    net[1].start(&[]);
    let target = net[0].head();
    wait_until(
        "validator-1 catching up",
        Duration::from_secs(90),
        || net[1].head() >= target,
        || logs(&net),
    );
    // A hung validator (SIGSTOP) holds a send back at most one relay
    // timeout, then is skipped.
    let hung = net[2].child.as_ref().unwrap().id().to_string();
    Command::new("kill").args(["-STOP", &hung]).status().unwrap();
    // A send through the replica meanwhile: its validator relays to the
    // hung one for up to a relay timeout, so the replica may move on to the
    // next validator, which has it already (relayed): answered with its
    // hash all the same, and the replica's pending nonce counts it.
    let key4: PrivateKeySigner = DEV_KEYS[4].parse().unwrap();
    let pending = |net: &[Node]| {
        quantity(&net[4].result("eth_getTransactionCount", json!([key4.address(), "pending"])))
    };
    let before = pending(&net);
    send(&net, &mut sent, 4, 4, before);
    assert_eq!(pending(&net), before + 1, "the replica counts what it forwarded");
    let mut waits = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        send(&net, &mut sent, 0, 0, next_nonce);
        next_nonce += 1;
        waits.push(started.elapsed());
    }
    Command::new("kill").args(["-CONT", &hung]).status().unwrap();
    assert!(waits[0] < Duration::from_secs(5), "first send beside a hung peer took {waits:?}");
    assert!(
        waits[1..].iter().all(|w| *w < Duration::from_secs(1)),
        "sends kept waiting: {waits:?}"
    );
    wait_until(
        "every receipt",
        Duration::from_secs(90),
        || included(&net, &sent, 0),
        || logs(&net),
    );

    // A new node (replica-1) catches up from the genesis by sync.
    net[5].start(&[]);
    let target = net[0].head();
    wait_until(
        "replica-1 catching up, and every node at validator-0's head",
        Duration::from_secs(90),
        || net.iter().all(|n| n.head() >= target),
        || logs(&net),
    );

    // Every node: the same blocks and state, every receipt, each sender's
    // transactions each once (nonces count them).
    let common = net.iter().map(Node::head).min().unwrap();
    for number in [1, common / 2, common] {
        let reference = net[0].block(number);
        for node in &net[1..] {
            let block = node.block(number);
            assert_eq!(
                (&block["hash"], &block["stateRoot"]),
                (&reference["hash"], &reference["stateRoot"]),
                "{} disagrees at block {number}",
                node.name
            );
        }
    }
    for (_, _, hash) in &sent {
        let receipts: Vec<Value> =
            net.iter().map(|n| n.result("eth_getTransactionReceipt", json!([hash]))).collect();
        assert_eq!(receipts[0]["status"], json!("0x1"), "{hash}");
        for (node, r) in net.iter().zip(&receipts) {
            assert_eq!(r, &receipts[0], "{} serves another receipt for {hash}", node.name);
        }
    }
    for (key, secret) in DEV_KEYS.iter().enumerate() {
        let count = sent.iter().filter(|(k, _, _)| *k == key).count() as u64;
        let from: alloy_signer_local::PrivateKeySigner = secret.parse().unwrap();
        let nonce = net[4].result("eth_getTransactionCount", json!([from.address(), "latest"]));
        assert_eq!(quantity(&nonce), count, "sender {key}: included once each");
    }

    // web3.py through the replica and the validators, as a dapp script.
    if let Some(clients) = Client::Web3Py.installed() {
        let urls = nodes.nodes.iter().map(|n| n.rpc.clone());
        let out = Command::new("python3")
            .arg(repo_path("tests/clients/web3_cluster.py"))
            .arg(repo_path("contracts/artifacts/Token.json"))
            .args(urls)
            .env("PYTHONPATH", clients)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("web3 cluster: ok"),
            "web3_cluster.py failed:\n{stdout}\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            logs(&net)
        );
    }

    // The tamperer's proposals were refused: none of its blocks was decided,
    // and the others say why; its heights were decided in a later round.
    let miners: Vec<Value> = (1..=common).map(|n| net[0].block(n)["miner"].clone()).collect();
    assert!(
        !miners.contains(&json!(tamperer.to_string().to_lowercase())),
        "a tampered block was decided"
    );
    // Heights the tamperer proposed at round 0 were decided in a later round
    // by another proposer, after the others refused its block.
    let log = net[0].log_text();
    let field = |line: &str, name: &str| {
        let at = line.find(&format!(" {name}="))? + name.len() + 2;
        line[at..].split_whitespace().next().map(str::to_owned)
    };
    let refused: Vec<String> = log
        .lines()
        .filter(|l| l.contains("proposal refused"))
        .filter(|l| field(l, "proposer").is_some_and(|p| p == tamperer.to_string().to_lowercase()))
        .filter_map(|l| field(l, "height"))
        .collect();
    assert!(!refused.is_empty(), "no proposal of the tamperer refused\n{}", logs(&net));
    let later: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("decided and committed"))
        .filter(|l| field(l, "height").is_some_and(|h| refused.contains(&h)))
        .filter(|l| field(l, "round").is_some_and(|r| r != "0"))
        .collect();
    assert!(
        !later.is_empty(),
        "the tamperer's heights {refused:?} not decided in a later round\n{}",
        logs(&net)
    );
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n") + "\n"
}

#[test]
fn test_a_node_refuses_an_address_its_host_does_not_have_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("net");
    let base = free_base_port().to_string();
    // Laid out over two hosts, this one (127.0.0.1) and one it is not
    // (192.0.2.7, TEST-NET-1).
    let status = Command::new(BIN)
        .args(["testnet", "--validators", "2", "--out"])
        .arg(&out)
        .args(["--base-port", &base, "--hosts", "127.0.0.1,192.0.2.7"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let config = |name: &str| out.join(name).join("config.toml");
    let text = std::fs::read_to_string(config("validator-1")).unwrap();
    assert!(text.contains("rpc = \"192.0.2.7:") && text.contains("p2p = \"192.0.2.7:"), "{text}");
    let start = |path: &Path| {
        let out = Command::new(BIN).arg("--config").arg(path).output().unwrap();
        assert!(!out.status.success(), "{} must be refused", path.display());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let stderr = start(&config("validator-1"));
    assert!(stderr.contains("rpc = \"192.0.2.7:") && stderr.contains("config.toml"), "{stderr}");
    // Its own RPC address kept, the peer-to-peer one another host's.
    let own = text.replacen("rpc = \"192.0.2.7:", "rpc = \"127.0.0.1:", 1);
    std::fs::write(config("validator-1"), own).unwrap();
    let stderr = start(&config("validator-1"));
    assert!(
        stderr.contains("p2p = \"192.0.2.7:") && stderr.contains("cannot be listened on"),
        "{stderr}"
    );
}
