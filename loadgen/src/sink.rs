//! The sink: a JSON-RPC endpoint that takes every transaction and does
//! nothing with it, so a run against it measures lanes-loadgen alone.
//!
//! It answers what a run asks (`run --sink`, or `lanes-loadgen sink` in a
//! process of its own): `eth_sendRawTransaction` hashes the raw bytes (an
//! EIP-2718 transaction's hash is keccak256 of its encoding) and queues the
//! hash; every [`SINK_BLOCK_TIME`] the queue becomes a block that
//! `eth_getBlockByNumber` serves. Accounts look funded and set up (a huge
//! balance, nonce 2^32, code at every address), so every workload's setup
//! is skipped. Nothing is decoded, recovered or executed. For another load
//! generator (contender) it also estimates every transaction at 21,000 gas,
//! answers `eth_call` with nothing and `eth_feeHistory` with 1 gwei, and
//! gives a receipt (status 1) for a transaction in a kept block: the index
//! of hashes that takes is kept only once some receipt is asked for, so a
//! run that asks none pays nothing for it.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy_primitives::{B256, keccak256};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// How often queued transactions become a block.
pub const SINK_BLOCK_TIME: Duration = Duration::from_millis(10);
/// Blocks the sink keeps; older ones are answered `null`.
pub const SINK_KEPT_BLOCKS: usize = 100_000;
/// The largest request body the sink reads.
pub const SINK_MAX_BODY: usize = 64 << 20;
/// The chain id the sink answers (anvil's and lanes --dev's).
pub const SINK_CHAIN_ID: u64 = 31337;

const GAS_PER_TX: u64 = 21_000;
const ONE_GWEI: &str = "0x3b9aca00";

/// The sink's chain: sealed blocks of transaction hashes and the queue of
/// the next.
#[derive(Default)]
struct Chain {
    /// Number of `blocks[0]`.
    first: u64,
    blocks: VecDeque<Block>,
    queued: Vec<B256>,
    /// Each kept transaction's block and index in it, once a receipt was
    /// asked for (`None` until then).
    receipts: Option<std::collections::HashMap<B256, (u64, u64)>>,
}

struct Block {
    timestamp: u64,
    hashes: Vec<B256>,
}

impl Chain {
    fn head(&self) -> u64 {
        self.first + self.blocks.len() as u64 - 1
    }

    fn seal(&mut self) {
        let hashes = std::mem::take(&mut self.queued);
        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let number = self.first + self.blocks.len() as u64;
        if let Some(index) = &mut self.receipts {
            index.extend(hashes.iter().enumerate().map(|(i, h)| (*h, (number, i as u64))));
        }
        self.blocks.push_back(Block { timestamp, hashes });
        if self.blocks.len() > SINK_KEPT_BLOCKS {
            if let (Some(old), Some(index)) = (self.blocks.pop_front(), &mut self.receipts) {
                for h in &old.hashes {
                    index.remove(h);
                }
            }
            self.first += 1;
        }
    }

    /// The receipt of `hash` (status 1, 21,000 gas) where a kept block
    /// holds it; the index is built on the first ask.
    fn receipt(&mut self, hash: B256) -> Value {
        let first = self.first;
        let blocks = &self.blocks;
        let index = self.receipts.get_or_insert_with(|| {
            let mut index = std::collections::HashMap::new();
            for (k, block) in blocks.iter().enumerate() {
                for (i, h) in block.hashes.iter().enumerate() {
                    index.insert(*h, (first + k as u64, i as u64));
                }
            }
            index
        });
        let Some(&(number, i)) = index.get(&hash) else { return Value::Null };
        json!({
            "transactionHash": hash,
            "transactionIndex": format!("0x{i:x}"),
            "blockHash": keccak256(number.to_be_bytes()),
            "blockNumber": format!("0x{number:x}"),
            "from": alloy_primitives::Address::ZERO,
            "to": null,
            "cumulativeGasUsed": format!("0x{:x}", (i + 1) * GAS_PER_TX),
            "gasUsed": format!("0x{GAS_PER_TX:x}"),
            "effectiveGasPrice": ONE_GWEI,
            "contractAddress": null,
            "logs": [],
            "logsBloom": format!("0x{}", "0".repeat(512)),
            "status": "0x1",
            "type": "0x2",
        })
    }

    fn block(&self, number: u64) -> Value {
        let Some(block) =
            number.checked_sub(self.first).and_then(|i| self.blocks.get(usize::try_from(i).ok()?))
        else {
            return Value::Null;
        };
        let n = block.hashes.len() as u64;
        json!({
            "number": format!("0x{number:x}"),
            "hash": keccak256(number.to_be_bytes()),
            "parentHash": keccak256(number.wrapping_sub(1).to_be_bytes()),
            "timestamp": format!("0x{:x}", block.timestamp),
            "gasUsed": format!("0x{:x}", n * GAS_PER_TX),
            "gasLimit": format!("0x{:x}", (n * GAS_PER_TX).max(30_000_000)),
            "size": format!("0x{:x}", 600 + n * 110),
            "baseFeePerGas": ONE_GWEI,
            "transactions": block.hashes,
            // The header's other fields, as a client's block type wants them.
            "sha3Uncles": alloy_consensus::EMPTY_OMMER_ROOT_HASH,
            "miner": alloy_primitives::Address::ZERO,
            "stateRoot": B256::ZERO,
            "transactionsRoot": B256::ZERO,
            "receiptsRoot": B256::ZERO,
            "logsBloom": format!("0x{}", "0".repeat(512)),
            "difficulty": "0x0",
            "extraData": "0x",
            "mixHash": B256::ZERO,
            "nonce": "0x0000000000000000",
            "uncles": [],
        })
    }
}

#[derive(Deserialize)]
struct Call<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    method: &'a str,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
}

/// One call's answer: its result, or an error code and message.
fn answer(chain: &Mutex<Chain>, call: &Call<'_>) -> Result<Value, (i32, String)> {
    let params = || -> Result<Vec<Value>, (i32, String)> {
        match call.params {
            None => Ok(Vec::new()),
            Some(p) => serde_json::from_str(p.get()).map_err(|e| (-32602, e.to_string())),
        }
    };
    Ok(match call.method {
        "eth_sendRawTransaction" => {
            let raw: [&str; 1] = call
                .params
                .and_then(|p| serde_json::from_str(p.get()).ok())
                .ok_or((-32602, "expected [\"0x…\"]".to_string()))?;
            let bytes = alloy_primitives::hex::decode(raw[0])
                .map_err(|e| (-32602, format!("not hex: {e}")))?;
            let hash = keccak256(&bytes);
            chain.lock().queued.push(hash);
            json!(hash)
        }
        "eth_chainId" => json!(format!("0x{SINK_CHAIN_ID:x}")),
        "net_version" => json!(SINK_CHAIN_ID.to_string()),
        "web3_clientVersion" => json!(concat!("lanes-loadgen-sink/", env!("CARGO_PKG_VERSION"))),
        "eth_blockNumber" => json!(format!("0x{:x}", chain.lock().head())),
        "eth_getBlockByNumber" => {
            let p = params()?;
            let chain = chain.lock();
            let number = match p.first().and_then(Value::as_str) {
                Some("latest" | "pending" | "safe" | "finalized") | None => chain.head(),
                Some("earliest") => 0,
                Some(n) => u64::from_str_radix(n.trim_start_matches("0x"), 16)
                    .map_err(|e| (-32602, format!("block number {n}: {e}")))?,
            };
            chain.block(number)
        }
        "eth_gasPrice" | "eth_maxPriorityFeePerGas" => json!(ONE_GWEI),
        "eth_getBalance" => json!(format!("0x{:x}", u128::MAX)),
        "eth_getTransactionCount" => json!("0x100000000"),
        "eth_getCode" => json!("0x00"),
        "eth_estimateGas" => json!(format!("0x{GAS_PER_TX:x}")),
        "eth_call" => json!("0x"),
        "eth_feeHistory" => {
            let head = chain.lock().head();
            json!({
                "oldestBlock": format!("0x{head:x}"),
                "baseFeePerGas": [ONE_GWEI, ONE_GWEI],
                "gasUsedRatio": [0.5],
                "reward": [[ONE_GWEI]],
            })
        }
        "eth_getTransactionReceipt" => {
            let p = params()?;
            let hash: B256 = p
                .first()
                .and_then(|h| serde_json::from_value(h.clone()).ok())
                .ok_or((-32602, "expected [\"0x…\" (a transaction hash)]".to_string()))?;
            chain.lock().receipt(hash)
        }
        other => return Err((-32601, format!("the sink does not serve {other}"))),
    })
}

fn reply(chain: &Mutex<Chain>, call: &Call<'_>) -> String {
    let id = call.id.map_or("null", RawValue::get);
    match answer(chain, call) {
        Ok(result) => format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#),
        Err((code, message)) => {
            let error = json!({"code": code, "message": message});
            format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{error}}}"#)
        }
    }
}

fn handle(chain: &Mutex<Chain>, body: &[u8]) -> String {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        match serde_json::from_slice::<Vec<Call<'_>>>(body) {
            Ok(calls) => {
                let answers: Vec<String> = calls.iter().map(|c| reply(chain, c)).collect();
                format!("[{}]", answers.join(","))
            }
            Err(e) => parse_error(&e),
        }
    } else {
        match serde_json::from_slice::<Call<'_>>(body) {
            Ok(call) => reply(chain, &call),
            Err(e) => parse_error(&e),
        }
    }
}

fn parse_error(e: &serde_json::Error) -> String {
    json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": e.to_string()}})
        .to_string()
}

async fn serve(
    chain: Arc<Mutex<Chain>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = http_body_util::Limited::new(request.into_body(), SINK_MAX_BODY).collect().await;
    let text = match body {
        Ok(body) => handle(&chain, &body.to_bytes()),
        Err(e) => parse_error(&serde_json::Error::io(std::io::Error::other(e.to_string()))),
    };
    let response = Response::builder()
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(text)))
        .expect("a valid response");
    Ok(response)
}

/// Binds the sink to `addr` (port 0: any free one) and serves it on the
/// current tokio runtime until the runtime stops; the address it took.
pub async fn start(addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let chain = Arc::new(Mutex::new(Chain::default()));
    chain.lock().seal(); // block 0
    let sealer = chain.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SINK_BLOCK_TIME);
        loop {
            tick.tick().await;
            let mut chain = sealer.lock();
            if !chain.queued.is_empty() {
                chain.seal();
            }
        }
    });
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let _ = socket.set_nodelay(true);
            let chain = chain.clone();
            tokio::spawn(async move {
                let service = service_fn(move |r| serve(chain.clone(), r));
                let _ = http1::Builder::new().serve_connection(TokioIo::new(socket), service).await;
            });
        }
    });
    Ok(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_a_sent_transaction_is_in_the_next_block_by_its_hash() {
        let chain = Mutex::new(Chain::default());
        chain.lock().seal();
        let raw = "0x02f86b827a6980843b9aca00";
        let sent = handle(
            &chain,
            format!(r#"[{{"jsonrpc":"2.0","id":7,"method":"eth_sendRawTransaction","params":["{raw}"]}}]"#)
                .as_bytes(),
        );
        let sent: Value = serde_json::from_str(&sent).unwrap();
        let hash = alloy_primitives::hex::decode(raw).map(keccak256).unwrap();
        assert_eq!(sent[0]["id"], 7);
        assert_eq!(sent[0]["result"], json!(hash));
        chain.lock().seal();
        let block: Value = serde_json::from_str(&handle(
            &chain,
            br#"{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x1",false]}"#,
        ))
        .unwrap();
        assert_eq!(block["result"]["transactions"], json!([hash]));
        assert_eq!(block["result"]["gasUsed"], "0x5208");
        // A receipt, for a generator that asks (the index built on asking).
        let ask = |h: &B256| {
            let body = format!(
                r#"{{"jsonrpc":"2.0","id":3,"method":"eth_getTransactionReceipt","params":["{h}"]}}"#
            );
            serde_json::from_str::<Value>(&handle(&chain, body.as_bytes())).unwrap()
        };
        assert!(chain.lock().receipts.is_none(), "no index before a receipt is asked");
        let receipt = ask(&hash);
        assert_eq!(receipt["result"]["blockNumber"], "0x1");
        assert_eq!(receipt["result"]["status"], "0x1");
        assert_eq!(ask(&B256::repeat_byte(9))["result"], Value::Null);
        // Later blocks join the index as they are sealed.
        let again = "0x02f86b827a6980843b9aca01";
        handle(
            &chain,
            format!(r#"{{"jsonrpc":"2.0","id":8,"method":"eth_sendRawTransaction","params":["{again}"]}}"#)
                .as_bytes(),
        );
        chain.lock().seal();
        let later = alloy_primitives::hex::decode(again).map(keccak256).unwrap();
        assert_eq!(ask(&later)["result"]["blockNumber"], "0x2");
        let unknown: Value = serde_json::from_str(&handle(
            &chain,
            br#"{"jsonrpc":"2.0","id":2,"method":"eth_getBlockReceipts","params":["0x1"]}"#,
        ))
        .unwrap();
        assert_eq!(unknown["error"]["code"], -32601);
        let bad: Value = serde_json::from_str(&handle(&chain, b"{nope")).unwrap();
        assert_eq!(bad["error"]["code"], -32700);
    }
}
