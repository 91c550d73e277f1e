//! Read load, in the spirit of paradigm's flood: a mix of read methods
//! (`eth_call`, `eth_getLogs`, `eth_getBlockByNumber`, `eth_getBalance`)
//! sent open loop at each of a sweep of rates, with latency percentiles and
//! error rates per method and rate.
//!
//! The parameters come from the node's own recent blocks (their senders,
//! callees, calls and block numbers), so the same run works against lanes
//! and any other node. Each call is timed from when it was due, not from
//! when a connection was free to send it: a node that falls behind shows
//! as latency, not as a lower rate (no coordinated omission).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, Bytes, U64};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::SETUP_BATCH;
use crate::report::Latency;
use crate::wire::{hex, typed};
use lanes_rpc::api::Web3ApiClient;
use lanes_rpc::client::{ClientError, RpcClient};

/// The read methods a mix draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReadMethod {
    /// `eth_call` of a call seen in the sampled blocks, at `latest`.
    Call,
    /// `eth_getLogs` over [`LOG_SPAN`] sampled blocks (of one sampled
    /// contract, where the blocks called any).
    GetLogs,
    /// `eth_getBlockByNumber` of a sampled block, transaction hashes only.
    GetBlockByNumber,
    /// `eth_getBalance` of a sampled account at `latest`.
    GetBalance,
}

impl ReadMethod {
    /// Every method, in the order a report lists them.
    pub const ALL: [ReadMethod; 4] = [
        ReadMethod::Call,
        ReadMethod::GetLogs,
        ReadMethod::GetBlockByNumber,
        ReadMethod::GetBalance,
    ];

    /// Its JSON-RPC name.
    pub fn name(self) -> &'static str {
        match self {
            ReadMethod::Call => "eth_call",
            ReadMethod::GetLogs => "eth_getLogs",
            ReadMethod::GetBlockByNumber => "eth_getBlockByNumber",
            ReadMethod::GetBalance => "eth_getBalance",
        }
    }

    /// The method of a JSON-RPC name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// The default mix: `eth_call=4,eth_getBalance=3,eth_getBlockByNumber=2,eth_getLogs=1`.
pub const DEFAULT_MIX: &str = "eth_call=4,eth_getBalance=3,eth_getBlockByNumber=2,eth_getLogs=1";
/// Blocks one `eth_getLogs` spans.
pub const LOG_SPAN: u64 = 10;
/// Calls and accounts kept from the sampled blocks, at most.
pub const MAX_SAMPLED: usize = 10_000;

/// Parses a mix `name=weight,…` (weights whole numbers above zero).
pub fn parse_mix(s: &str) -> Result<Vec<(ReadMethod, u32)>, String> {
    let mut mix = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, weight) = part.split_once('=').unwrap_or((part, "1"));
        let method = ReadMethod::from_name(name.trim()).ok_or_else(|| {
            let names: Vec<&str> = ReadMethod::ALL.iter().map(|m| m.name()).collect();
            format!("`{name}` is not one of {}", names.join(", "))
        })?;
        let weight: u32 = weight
            .trim()
            .parse()
            .ok()
            .filter(|w| *w > 0)
            .ok_or_else(|| format!("`{part}`: the weight must be a whole number above zero"))?;
        if mix.iter().any(|(m, _)| *m == method) {
            return Err(format!("`{name}` is given twice"));
        }
        mix.push((method, weight));
    }
    if mix.is_empty() {
        return Err("the mix names no method".into());
    }
    Ok(mix)
}

/// How to run a read sweep.
#[derive(Clone, Debug)]
pub struct ReadConfig {
    /// Calls per second of each step, in order.
    pub rates: Vec<f64>,
    /// How long each step sends.
    pub step_time: Duration,
    /// Methods and their weights.
    pub mix: Vec<(ReadMethod, u32)>,
    /// Keep-alive connections (each carries one call at a time).
    pub connections: usize,
    /// A call not answered this long after it was due counts as an error.
    pub timeout: Duration,
    /// Recent blocks read for the calls' parameters.
    pub sample_blocks: u64,
    /// Seeds the draws (same seed, same calls).
    pub seed: u64,
    /// A step holds when its p99 stays within this (and under 1% errors);
    /// the sweep stops at the first step that does not.
    pub latency_p99: Option<Duration>,
}

/// One method's figures at one step. A call the node answered with a
/// result, or with `eth_call`'s revert (code 3), is answered; any other
/// JSON-RPC error, a transport failure or a time-out is an error.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodFigures {
    /// Calls due.
    pub calls: u64,
    /// Answered with a result.
    pub ok: u64,
    /// Answered with an error, failed in transport, or timed out.
    pub errors: u64,
    /// `errors / calls`.
    pub error_rate: f64,
    /// Due-to-answer latency of the answered, ms.
    pub latency_ms: Latency,
    /// The first error seen, for the reader.
    pub first_error: Option<String>,
}

/// One step of the sweep.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadStep {
    /// Calls per second asked for.
    pub rate: f64,
    /// Answered calls per second, over the step's window (first due to
    /// last answer).
    pub answered_per_second: f64,
    /// All methods together.
    pub all: MethodFigures,
    /// Per method, by JSON-RPC name.
    pub methods: BTreeMap<String, MethodFigures>,
    /// Why the step broke the bound, if it did.
    pub broke: Option<String>,
}

/// One call as it went, for the runs database.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadSample {
    /// Its step's index.
    pub step: u32,
    /// The method's name.
    pub method: &'static str,
    /// When it was due, ns from the sweep's start.
    pub due_ns: u64,
    /// Due to answer, ns.
    pub took_ns: u64,
    /// Answered with a result.
    pub ok: bool,
}

/// What a read sweep measured against one node.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadReport {
    /// Always `"reads"`: tells the runs database's reports apart.
    pub kind: &'static str,
    /// The node's URL.
    pub target: String,
    /// `web3_clientVersion`, where the node answers it.
    pub node: Option<String>,
    /// The mix, as given.
    pub mix: String,
    /// Seconds each step sent.
    pub step_seconds: f64,
    /// Connections.
    pub connections: usize,
    /// What the sampled blocks gave: blocks, calls, accounts, contracts.
    pub sampled: SampleCounts,
    /// The steps run, in order.
    pub steps: Vec<ReadStep>,
    /// The highest rate whose step held (with `latency_p99`), or the
    /// highest answered rate of any step.
    pub sustained: Option<f64>,
    /// Every call, for the runs database (not in `--json`).
    #[serde(skip)]
    pub samples: Vec<ReadSample>,
}

/// How much the sample found.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SampleCounts {
    /// Blocks read.
    pub blocks: u64,
    /// Calls (transactions to a contract with input).
    pub calls: usize,
    /// Senders and recipients.
    pub accounts: usize,
    /// Called contracts.
    pub contracts: usize,
}

/// Why a sweep failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The node could not be reached while sampling.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A task failed.
    #[error("a read task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SampledTx {
    from: Address,
    to: Option<Address>,
    #[serde(default)]
    input: Bytes,
}

#[derive(Deserialize)]
struct SampledBlock {
    number: U64,
    transactions: Vec<SampledTx>,
}

/// Parameters drawn from the node's recent blocks.
struct Sample {
    blocks: Vec<u64>,
    calls: Vec<(Address, Address, Bytes)>,
    accounts: Vec<Address>,
    contracts: Vec<Address>,
}

async fn sample(client: &RpcClient, blocks: u64) -> Result<Sample, ReadError> {
    use lanes_rpc::api::EthApiClient;
    let head = client.block_number().await.map_err(typed("eth_blockNumber"))?.to::<u64>();
    let from = head.saturating_sub(blocks.max(1) - 1);
    let mut s = Sample {
        blocks: Vec::new(),
        calls: Vec::new(),
        accounts: Vec::new(),
        contracts: Vec::new(),
    };
    let numbers: Vec<u64> = (from..=head).collect();
    for chunk in numbers.chunks(SETUP_BATCH / 4) {
        let params = chunk.iter().map(|n| json!([hex(*n), true]));
        for block in client.batch::<Option<SampledBlock>>("eth_getBlockByNumber", params).await? {
            let Some(block) = block? else { continue };
            s.blocks.push(block.number.to::<u64>());
            for tx in block.transactions {
                if s.accounts.len() < MAX_SAMPLED {
                    s.accounts.push(tx.from);
                    s.accounts.extend(tx.to);
                }
                if let Some(to) = tx.to.filter(|_| !tx.input.is_empty()) {
                    if s.calls.len() < MAX_SAMPLED {
                        s.calls.push((tx.from, to, tx.input));
                    }
                    if !s.contracts.contains(&to) && s.contracts.len() < 1_000 {
                        s.contracts.push(to);
                    }
                }
            }
        }
    }
    s.accounts.sort_unstable();
    s.accounts.dedup();
    if s.blocks.is_empty() {
        s.blocks.push(head);
    }
    if s.accounts.is_empty() {
        s.accounts.push(Address::ZERO);
    }
    Ok(s)
}

impl Sample {
    /// The JSON-RPC request body of one `method` call.
    fn body(&self, method: ReadMethod, rng: &mut impl Rng) -> String {
        let pick = |rng: &mut dyn rand::RngCore, n: usize| rng.random_range(0..n.max(1));
        let params = match method {
            ReadMethod::Call => match self.calls.len() {
                0 => {
                    json!([{"to": self.accounts[pick(rng, self.accounts.len())], "data": "0x"}, "latest"])
                }
                n => {
                    let (from, to, input) = &self.calls[pick(rng, n)];
                    json!([{"from": from, "to": to, "data": input}, "latest"])
                }
            },
            ReadMethod::GetLogs => {
                let start = self.blocks[pick(rng, self.blocks.len())];
                let end = start + LOG_SPAN - 1;
                let last = *self.blocks.last().expect("at least the head");
                let mut filter = json!({"fromBlock": hex(start), "toBlock": hex(end.min(last))});
                if !self.contracts.is_empty() {
                    filter["address"] = json!(self.contracts[pick(rng, self.contracts.len())]);
                }
                json!([filter])
            }
            ReadMethod::GetBlockByNumber => {
                json!([hex(self.blocks[pick(rng, self.blocks.len())]), false])
            }
            ReadMethod::GetBalance => {
                json!([self.accounts[pick(rng, self.accounts.len())], "latest"])
            }
        };
        json!({"jsonrpc": "2.0", "id": 1, "method": method.name(), "params": params}).to_string()
    }
}

/// Draws methods by weight, spread evenly (smooth weighted round robin).
struct Mixer {
    methods: Vec<(ReadMethod, i64)>,
    current: Vec<i64>,
}

impl Mixer {
    fn new(mix: &[(ReadMethod, u32)]) -> Self {
        Self {
            methods: mix.iter().map(|(m, w)| (*m, i64::from(*w))).collect(),
            current: vec![0; mix.len()],
        }
    }

    fn next(&mut self) -> ReadMethod {
        let total: i64 = self.methods.iter().map(|m| m.1).sum();
        for (c, (_, w)) in self.current.iter_mut().zip(&self.methods) {
            *c += w;
        }
        let best =
            (0..self.current.len()).max_by_key(|i| (self.current[*i], -(*i as i64))).unwrap_or(0);
        self.current[best] -= total;
        self.methods[best].0
    }
}

/// One call due at `due` (from the step's start).
struct Due {
    method: ReadMethod,
    due: Instant,
    body: String,
}

/// What became of one call.
struct Outcome {
    method: ReadMethod,
    due: Instant,
    took: Duration,
    error: Option<String>,
}

async fn call_once(client: &RpcClient, body: String) -> Result<(), String> {
    let bytes = client.post(body).await.map_err(|e| e.to_string())?;
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        error: Option<Value>,
    }
    match serde_json::from_slice::<Answer>(&bytes) {
        Ok(Answer { error: None }) => Ok(()),
        // A reverted eth_call is an answer: the node ran it.
        Ok(Answer { error: Some(e) }) if e["code"] == 3 => Ok(()),
        Ok(Answer { error: Some(e) }) => Err(format!("error {e}")),
        Err(e) => Err(format!("not a JSON-RPC answer: {e}")),
    }
}

/// Sends one step: calls due at `rate` for `config.step_time`, spread over
/// `config.connections` keep-alive connections.
async fn step(
    url: &str,
    sample: &Arc<Sample>,
    config: &ReadConfig,
    rate: f64,
    mixer: &mut Mixer,
    rng: &mut rand::rngs::StdRng,
) -> Result<Vec<Outcome>, ReadError> {
    let n = (rate * config.step_time.as_secs_f64()).round().max(1.0) as usize;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Due>();
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let timeout = config.timeout;
    let mut workers = Vec::new();
    for _ in 0..config.connections.max(1) {
        let (rx, url) = (rx.clone(), url.to_string());
        workers.push(tokio::spawn(async move {
            let mut client: Option<RpcClient> = None;
            let mut out = Vec::new();
            loop {
                let Some(call) = rx.lock().await.recv().await else { break };
                let deadline = call.due + timeout;
                let error = if Instant::now() >= deadline {
                    Some("timed out waiting for a free connection".to_string())
                } else {
                    if client.is_none() {
                        client = RpcClient::connect(&url).await.ok();
                    }
                    match &client {
                        None => Some(format!("{url}: cannot connect")),
                        Some(c) => {
                            match tokio::time::timeout_at(deadline.into(), call_once(c, call.body))
                                .await
                            {
                                Ok(r) => r.err(),
                                Err(_) => {
                                    // A request cut off mid-way leaves its connection unusable.
                                    client = None;
                                    Some(format!("no answer within {timeout:?}"))
                                }
                            }
                        }
                    }
                };
                out.push(Outcome {
                    method: call.method,
                    due: call.due,
                    took: call.due.elapsed(),
                    error,
                });
            }
            out
        }));
    }
    let start = Instant::now() + Duration::from_millis(5);
    for i in 0..n {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        let method = mixer.next();
        let body = sample.body(method, rng);
        tokio::time::sleep_until(due.into()).await;
        let _ = tx.send(Due { method, due, body });
    }
    drop(tx);
    let mut outcomes = Vec::with_capacity(n);
    for w in workers {
        outcomes.extend(w.await?);
    }
    Ok(outcomes)
}

fn figures<'a>(outcomes: impl Iterator<Item = &'a Outcome>) -> MethodFigures {
    let mut f = MethodFigures::default();
    let mut nanos = Vec::new();
    for o in outcomes {
        f.calls += 1;
        match &o.error {
            None => {
                f.ok += 1;
                nanos.push(o.took.as_nanos() as u64);
            }
            Some(e) => {
                f.errors += 1;
                f.first_error.get_or_insert_with(|| e.chars().take(200).collect());
            }
        }
    }
    f.error_rate = if f.calls > 0 { f.errors as f64 / f.calls as f64 } else { 0.0 };
    f.latency_ms = Latency::of(&mut nanos);
    f
}

/// Runs the sweep against `url`; `say` hears each step as it ends.
pub async fn sweep(
    url: &str,
    config: &ReadConfig,
    mut say: impl FnMut(&ReadStep),
) -> Result<ReadReport, ReadError> {
    let client = RpcClient::connect(url).await?;
    let node = client.client_version().await.ok();
    let sample = Arc::new(sample(&client, config.sample_blocks).await?);
    let mut rng = rand::rngs::StdRng::seed_from_u64(config.seed);
    let mut mixer = Mixer::new(&config.mix);
    let origin = Instant::now();
    let mut report = ReadReport {
        kind: "reads",
        target: url.to_string(),
        node,
        mix: config
            .mix
            .iter()
            .map(|(m, w)| format!("{}={w}", m.name()))
            .collect::<Vec<_>>()
            .join(","),
        step_seconds: config.step_time.as_secs_f64(),
        connections: config.connections,
        sampled: SampleCounts {
            blocks: sample.blocks.len() as u64,
            calls: sample.calls.len(),
            accounts: sample.accounts.len(),
            contracts: sample.contracts.len(),
        },
        steps: Vec::new(),
        sustained: None,
        samples: Vec::new(),
    };
    for (i, rate) in config.rates.iter().copied().enumerate() {
        let outcomes = step(url, &sample, config, rate, &mut mixer, &mut rng).await?;
        let first = outcomes.iter().map(|o| o.due).min();
        let last = outcomes.iter().map(|o| o.due + o.took).max();
        let window = match (first, last) {
            (Some(a), Some(b)) => (b - a).as_secs_f64().max(1e-9),
            _ => 1.0,
        };
        let mut methods = BTreeMap::new();
        for m in ReadMethod::ALL {
            if outcomes.iter().any(|o| o.method == m) {
                methods.insert(
                    m.name().to_string(),
                    figures(outcomes.iter().filter(|o| o.method == m)),
                );
            }
        }
        let all = figures(outcomes.iter());
        let broke = config.latency_p99.and_then(|bound| {
            let bound_ms = bound.as_secs_f64() * 1e3;
            if all.error_rate > 0.01 {
                Some(format!("{:.1}% errors", all.error_rate * 100.0))
            } else if all.latency_ms.p99 > bound_ms {
                Some(format!("p99 {:.0} ms past {bound_ms:.0} ms", all.latency_ms.p99))
            } else {
                None
            }
        });
        let step =
            ReadStep { rate, answered_per_second: all.ok as f64 / window, all, methods, broke };
        say(&step);
        report.samples.extend(outcomes.iter().map(|o| ReadSample {
            step: i as u32,
            method: o.method.name(),
            due_ns: (o.due - origin).as_nanos() as u64,
            took_ns: o.took.as_nanos() as u64,
            ok: o.error.is_none(),
        }));
        let stop = step.broke.is_some();
        report.steps.push(step);
        if stop {
            break;
        }
    }
    report.sustained = match config.latency_p99 {
        Some(_) => {
            report.steps.iter().filter(|s| s.broke.is_none()).map(|s| s.rate).reduce(f64::max)
        }
        None => report.steps.iter().map(|s| s.answered_per_second).reduce(f64::max),
    };
    Ok(report)
}

/// The steps as a table for people.
pub fn table(report: &ReadReport) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "{} ({}), {} connections, {:.0} s per step; sampled {} blocks, {} calls, {} accounts\n",
        report.target,
        report.node.as_deref().unwrap_or("?"),
        report.connections,
        report.step_seconds,
        report.sampled.blocks,
        report.sampled.calls,
        report.sampled.accounts,
    );
    let _ = writeln!(
        out,
        "{:>8}  {:22}  {:>7}  {:>6}  {:>8}  {:>8}  {:>8}  {:>8}  {:>9}",
        "rate", "method", "calls", "err %", "p50 ms", "p90 ms", "p99 ms", "max ms", "answered/s"
    );
    for s in &report.steps {
        let rows = s.methods.iter().map(|(m, f)| (m.as_str(), f)).chain([("all", &s.all)]);
        for (name, f) in rows {
            let _ = writeln!(
                out,
                "{:>8.0}  {:22}  {:>7}  {:>6.2}  {:>8.2}  {:>8.2}  {:>8.2}  {:>8.2}  {:>9}",
                s.rate,
                name,
                f.calls,
                f.error_rate * 100.0,
                f.latency_ms.p50,
                f.latency_ms.p90,
                f.latency_ms.p99,
                f.latency_ms.max,
                if name == "all" { format!("{:.0}", s.answered_per_second) } else { String::new() },
            );
        }
        if let Some(why) = &s.broke {
            let _ = writeln!(out, "{:>8.0}  broke: {why}", s.rate);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_a_mix_is_parsed_and_drawn_by_weight() {
        let mix = parse_mix("eth_call=3, eth_getBalance").unwrap();
        assert_eq!(mix, vec![(ReadMethod::Call, 3), (ReadMethod::GetBalance, 1)]);
        let mut m = Mixer::new(&mix);
        let drawn: Vec<ReadMethod> = (0..8).map(|_| m.next()).collect();
        assert_eq!(drawn.iter().filter(|d| **d == ReadMethod::Call).count(), 6);
        // Spread evenly: never the light method twice in a row.
        assert!(drawn.windows(2).all(|w| w != [ReadMethod::GetBalance; 2]), "{drawn:?}");
        assert!(parse_mix("eth_foo=1").unwrap_err().contains("eth_foo"));
        assert!(parse_mix("eth_call=0").is_err());
        assert!(parse_mix("eth_call=1,eth_call=2").unwrap_err().contains("twice"));
        assert!(parse_mix("").is_err());
    }

    #[test]
    fn test_bodies_use_the_sample() {
        let to = Address::repeat_byte(7);
        let s = Sample {
            blocks: vec![5, 6, 7],
            calls: vec![(Address::ZERO, to, Bytes::from(vec![1, 2]))],
            accounts: vec![to],
            contracts: vec![to],
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let call: Value = serde_json::from_str(&s.body(ReadMethod::Call, &mut rng)).unwrap();
        assert_eq!(call["method"], "eth_call");
        assert_eq!(call["params"][0]["data"], "0x0102");
        let logs: Value = serde_json::from_str(&s.body(ReadMethod::GetLogs, &mut rng)).unwrap();
        assert_eq!(logs["params"][0]["toBlock"], "0x7", "never past the sampled head");
        assert_eq!(logs["params"][0]["address"], json!(to));
    }
}
