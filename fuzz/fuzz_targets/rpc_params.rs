//! Every RPC method's parameters, through the server: one in-process `--dev`
//! node for the whole run, one HTTP/1.1 keep-alive connection to it on
//! loopback, one JSON-RPC call per input. The node must answer each with a
//! well-formed JSON-RPC response (the call's id and a result or an error
//! object), keep the connection open, and never panic.
//!
//! Input: byte 0 picks the method ([`RPC_METHODS`]); if byte 1 is even, the
//! rest is the params as JSON text (seeds are real request params), else
//! (or when that is not JSON) the params are built from the rest: hex
//! quantities and data, addresses, hashes, block tags, call and filter
//! objects with the keys the methods read, nested arrays. Left out:
//! [`lanes_fuzz::RPC_EXCLUDED`]; mining is capped at [`MAX_MINED`] blocks.
//! `LANES_FUZZ_PRINT=1` prints each request (to replay a crash by hand).
#![no_main]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;

use parking_lot::Mutex;
use std::time::Duration;

use arbitrary::{Result, Unstructured};
use lanes_banking_stage::Mining;
use lanes_fuzz::{MAX_MINED, RPC_METHODS, account};
use lanes_node::{ChainChoice, Node, NodeConfig, RpcLimits, client_version};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

struct Server {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
    id: u64,
    // Kept for the run: the node, its runtime and its data folder.
    _node: Node,
    _runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn server() -> &'static Mutex<Server> {
    static SERVER: OnceLock<Mutex<Server>> = OnceLock::new();
    SERVER.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temp dir");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let config = NodeConfig {
            data_dir: dir.path().join("data"),
            chain: ChainChoice::Dev(lanes_eth::genesis::DEV_FORK),
            load_state: None,
            rpc_addr: "127.0.0.1:0".parse().expect("an address"),
            block_time: Duration::from_millis(400),
            mining: Mining::OnDemand,
            workers: 1,
            pin_threads: false,
            fsync: false,
            history_blocks: None,
            blob_retention: lanes_node::BLOB_RETENTION,
            index_memory_bytes: None,
            allow_unprotected: true,
            max_per_sender: 10_000,
            max_pool: 10_000,
            predict: true,
            limits: RpcLimits { cors_origins: vec!["*".into()], ..RpcLimits::default() },
            client_version: client_version(true),
            hold_blocks: false,
            unlock_dev_accounts: false,
            mpt_state_root: false,
            lattice_state_root: false,
            block_base_fee: None,
            explorer: None,
            fork: None,
        };
        let node = runtime.block_on(Node::start(config)).expect("the dev node starts");
        let addr = node.rpc_addr();
        Mutex::new(Server { addr, conn: None, id: 0, _node: node, _runtime: runtime, _dir: dir })
    })
}

impl Server {
    /// Posts `body`; the HTTP status and the response body. Panics if the
    /// node drops the connection or does not answer within a minute.
    fn post(&mut self, body: &[u8]) -> (u16, Vec<u8>) {
        let conn = self.conn.get_or_insert_with(|| {
            let s = TcpStream::connect(self.addr).expect("connecting to the node");
            s.set_read_timeout(Some(Duration::from_secs(60))).expect("a timeout");
            s.set_nodelay(true).expect("nodelay");
            BufReader::new(s)
        });
        let head = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        let stream = conn.get_mut();
        stream.write_all(head.as_bytes()).expect("the node keeps the connection (write)");
        stream.write_all(body).expect("the node keeps the connection (write)");
        let mut line = String::new();
        let n = conn.read_line(&mut line).expect("the node answers (status line)");
        assert!(n > 0, "the node closed the connection instead of answering");
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {line:?}"));
        let (mut len, mut chunked, mut close) = (None, false, false);
        loop {
            line.clear();
            conn.read_line(&mut line).expect("the node answers (headers)");
            let h = line.trim_end();
            if h.is_empty() {
                break;
            }
            let (name, value) = h.split_once(':').unwrap_or_else(|| panic!("bad header {h:?}"));
            let (name, value) = (name.to_ascii_lowercase(), value.trim().to_ascii_lowercase());
            match name.as_str() {
                "content-length" => len = Some(value.parse::<usize>().expect("a length")),
                "transfer-encoding" => chunked = value.contains("chunked"),
                "connection" => close = value == "close",
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                conn.read_line(&mut line).expect("a chunk size");
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .unwrap_or_else(|_| panic!("bad chunk size {line:?}"));
                let mut chunk = vec![0; size + 2];
                conn.read_exact(&mut chunk).expect("a chunk");
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(len) = len {
            body.resize(len, 0);
            conn.read_exact(&mut body).expect("the whole body");
        } else {
            conn.read_to_end(&mut body).expect("the body");
            close = true;
        }
        if close {
            self.conn = None;
        }
        (status, body)
    }
}

/// Names a JSON value's keys may have: what the methods read.
const KEYS: &[&str] = &[
    "from",
    "to",
    "data",
    "input",
    "value",
    "gas",
    "gasPrice",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "nonce",
    "chainId",
    "type",
    "accessList",
    "authorizationList",
    "fromBlock",
    "toBlock",
    "blockHash",
    "address",
    "topics",
    "storageKeys",
    "blocks",
    "timestamp",
    "tracer",
    "tracerConfig",
    "timeout",
    "onlyTopCall",
    "withLog",
    "enableMemory",
    "disableStack",
    "disableStorage",
    "enableReturnData",
    "stateOverrides",
    "blockOverrides",
    "balance",
    "code",
    "state",
    "stateDiff",
    "types",
    "domain",
    "primaryType",
    "message",
    "forking",
];

const TAGS: &[&str] = &["latest", "pending", "earliest", "safe", "finalized", "0x0", "0x1"];
const TRACERS: &[&str] =
    &["callTracer", "prestateTracer", "4byteTracer", "noopTracer", "muxTracer", "flatCallTracer"];

fn hex(bytes: &[u8]) -> String {
    format!("0x{}", alloy_primitives::hex::encode(bytes))
}

fn quantity(u: &mut Unstructured<'_>) -> Result<Value> {
    Ok(match u.int_in_range(0..=4)? {
        0 => json!(format!("{:#x}", u.int_in_range(0u64..=8)?)),
        1 => json!(format!("{:#x}", u.arbitrary::<u64>()?)),
        2 => json!(format!("{:#x}", u.arbitrary::<u128>()?)),
        3 => json!(u.arbitrary::<u64>()?),
        _ => {
            let len = u.int_in_range(0..=40)?;
            json!(hex(u.bytes(len)?))
        }
    })
}

fn address(u: &mut Unstructured<'_>) -> Result<Value> {
    Ok(match u.int_in_range(0..=3)? {
        0 | 1 => json!(account(u.int_in_range(0..=9)?)),
        2 => json!(hex(&[0; 20])),
        _ => json!(hex(u.bytes(20)?)),
    })
}

fn value(u: &mut Unstructured<'_>, depth: u32) -> Result<Value> {
    let top = if depth >= 3 { 9 } else { 12 };
    Ok(match u.int_in_range(0..=top)? {
        0 => Value::Null,
        1 => json!(u.arbitrary::<bool>()?),
        2 => quantity(u)?,
        3 => address(u)?,
        4 => json!(hex(u.bytes(32)?)),
        5 => {
            let len = u.int_in_range(0..=64)?;
            json!(hex(u.bytes(len)?))
        }
        6 => json!(*u.choose(TAGS)?),
        7 => json!(*u.choose(TRACERS)?),
        8 => json!(u.arbitrary::<i64>()?),
        9 => json!(u.arbitrary::<String>()?),
        10 | 11 => {
            let mut map = Map::new();
            for _ in 0..u.int_in_range(0..=6)? {
                let key = if u.ratio(7, 8)? {
                    (*u.choose(KEYS)?).to_owned()
                } else {
                    u.arbitrary::<String>()?
                };
                map.insert(key, value(u, depth + 1)?);
            }
            Value::Object(map)
        }
        _ => {
            let n = u.int_in_range(0..=4)?;
            Value::Array((0..n).map(|_| value(u, depth + 1)).collect::<Result<_>>()?)
        }
    })
}

fn params(u: &mut Unstructured<'_>) -> Result<Value> {
    if u.ratio(1, 16)? {
        return value(u, 0); // an object, or something params must not be
    }
    let n = u.int_in_range(0..=4)?;
    Ok(Value::Array((0..n).map(|_| value(u, 0)).collect::<Result<_>>()?))
}

/// A block count as the mining methods read it, capped at [`MAX_MINED`].
fn cap(v: &mut Value) {
    let n = match &*v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s
            .strip_prefix("0x")
            .and_then(|h| u128::from_str_radix(h, 16).ok())
            .map(|n| n.min(u128::from(u64::MAX)) as u64),
        _ => return,
    };
    if n.is_none_or(|n| n > MAX_MINED) {
        *v = json!(format!("{MAX_MINED:#x}"));
    }
}

fn cap_mining(method: &str, params: &mut Value) {
    let Some(first) = params.as_array_mut().and_then(|a| a.first_mut()) else {
        if let Some(blocks) = params.get_mut("blocks") {
            cap(blocks);
        }
        return;
    };
    match method {
        "anvil_mine" | "hardhat_mine" => cap(first),
        "evm_mine" => {
            if let Some(blocks) = first.get_mut("blocks") {
                cap(blocks);
            }
        }
        _ => {}
    }
    if method.ends_with("_mine")
        && let Some(blocks) = params.get_mut("blocks")
    {
        cap(blocks);
    }
}

fuzz_target!(|data: &[u8]| {
    let [pick, mode, rest @ ..] = data else { return };
    let method = RPC_METHODS[*pick as usize % RPC_METHODS.len()];
    let json = if mode & 1 == 0 { serde_json::from_slice::<Value>(rest).ok() } else { None };
    let mut params = match json {
        Some(p) => p,
        None => match params(&mut Unstructured::new(rest)) {
            Ok(p) => p,
            Err(_) => return,
        },
    };
    if method.ends_with("_mine") {
        cap_mining(method, &mut params);
    }
    let mut server = server().lock();
    server.id += 1;
    let id = server.id;
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    let body = serde_json::to_vec(&body).expect("JSON serialises");
    if std::env::var_os("LANES_FUZZ_PRINT").is_some() {
        eprintln!("request: {}", String::from_utf8_lossy(&body));
    }
    let (status, answer) = server.post(&body);
    let text = String::from_utf8_lossy(&answer);
    assert_eq!(status, 200, "{method}: HTTP {status}: {text}");
    let answer: Value = serde_json::from_slice(&answer)
        .unwrap_or_else(|e| panic!("{method}: the answer is not JSON ({e}): {text}"));
    assert_eq!(answer["jsonrpc"], "2.0", "{method}: {text}");
    assert_eq!(answer["id"], json!(id), "{method}: {text}");
    let object = answer.as_object().unwrap_or_else(|| panic!("{method}: {text}"));
    match (object.get("result"), object.get("error")) {
        (Some(_), None) => {}
        (None, Some(error)) => {
            assert!(error["code"].is_i64(), "{method}: error code: {text}");
            assert!(error["message"].is_string(), "{method}: error message: {text}");
            // An internal error is the node failing, not the params.
            assert_ne!(error["code"], json!(-32603), "{method}: internal error: {text}");
        }
        _ => panic!("{method}: neither a result nor an error, or both: {text}"),
    }
});
