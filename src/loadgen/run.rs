//! One run against one target: setup (RPC targets), presigning, the timed
//! phase (open or closed loop), inclusion tracked from blocks, the report.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy_consensus::TxEip1559;
use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_primitives::{Address, B256, Bytes, TxKind, U64, U256};
use indicatif::{ProgressBar, ProgressStyle};
use lanes_banking_stage::{BankingStage, BankingStageConfig};
use lanes_evm_adapter::{EvmConfig, EvmExecutor};
use lanes_runtime::Chain;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::loadgen::client::{ClientError, RpcClient, RpcErrorObject};
use crate::loadgen::keys::Key;
use crate::loadgen::plan::Plan;
use crate::loadgen::report::{Latency, Report};
use crate::node::genesis::ChainSpec;

/// How transactions are paced.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// Open loop: send at this many transactions per second, whatever the
    /// node does.
    Rate(f64),
    /// Closed loop: keep this many sent and not yet included (or refused).
    ClosedLoop(usize),
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mode::Rate(r) => write!(f, "open loop, {r} tx/s"),
            Mode::ClosedLoop(c) => write!(f, "closed loop, {c} in flight"),
        }
    }
}

/// Where the transactions go.
#[derive(Clone, Debug)]
pub enum Target {
    /// Any Ethereum JSON-RPC node over HTTP.
    Rpc(String),
    /// An embedded banking stage (no RPC, no ledger) on a temporary chain
    /// made from the loadgen genesis.
    InProcess {
        /// Worker threads.
        threads: usize,
        /// Slot length.
        block_time: Duration,
    },
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Rpc(url) => f.write_str(url),
            Target::InProcess { threads, .. } => write!(f, "in-process, {threads} threads"),
        }
    }
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Pacing.
    pub mode: Mode,
    /// Transactions per JSON-RPC batch (or per in-process submission).
    pub batch: usize,
    /// Keep-alive connections sending in parallel.
    pub connections: usize,
    /// How long to wait for inclusions after the last send.
    pub drain_timeout: Duration,
    /// Funds the accounts and the deployer on RPC targets.
    pub funder: Key,
    /// Chain id of the in-process chain.
    pub chain_id: u64,
    /// Draw a progress bar (on a terminal).
    pub progress: bool,
}

/// The priority fee every transaction offers when the node suggests none.
const DEFAULT_TIP: u128 = 1_000_000_000;
/// The fee cap in base fees at the start (plus the tip).
const MAX_FEE_BASE_FEES: u128 = 50;
/// How often the tracker asks for new blocks.
const POLL: Duration = Duration::from_millis(10);
/// Calls per batch in setup and tracking.
const SETUP_BATCH: usize = 200;

type Result<T, E = String> = std::result::Result<T, E>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Runs `plan` against `target`.
pub async fn run(plan: Arc<Plan>, target: &Target, config: &RunConfig) -> Result<Report> {
    match target {
        Target::Rpc(url) => run_rpc(plan, url, config).await,
        Target::InProcess { threads, block_time } => {
            run_in_process(plan, *threads, *block_time, config).await
        }
    }
}

/// What the senders and the tracker share.
struct Shared {
    total: usize,
    batch: usize,
    start: Instant,
    /// Nanoseconds from `start` to the (scheduled) send, plus 1; 0: unsent.
    sent_at: Vec<AtomicU64>,
    /// Nanoseconds from `start` to the moment the block was seen, plus 1.
    included_at: Vec<AtomicU64>,
    next_batch: AtomicUsize,
    senders_left: AtomicUsize,
    sending_done_at: AtomicU64,
    /// When a send or an inclusion last happened (as `sent_at`).
    last_progress: AtomicU64,
    aborted: AtomicBool,
    sent: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    included: AtomicU64,
    failed: AtomicU64,
    reasons: Mutex<BTreeMap<String, u64>>,
    blocks: Mutex<BTreeSet<u64>>,
    permits: Option<Semaphore>,
}

impl Shared {
    fn new(total: usize, batch: usize, senders: usize, mode: Mode) -> Self {
        let atomics = || (0..total).map(|_| AtomicU64::new(0)).collect();
        Self {
            total,
            batch,
            start: Instant::now(),
            sent_at: atomics(),
            included_at: atomics(),
            next_batch: AtomicUsize::new(0),
            senders_left: AtomicUsize::new(senders),
            sending_done_at: AtomicU64::new(0),
            last_progress: AtomicU64::new(1),
            aborted: AtomicBool::new(false),
            sent: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            included: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            reasons: Mutex::default(),
            blocks: Mutex::default(),
            permits: match mode {
                Mode::ClosedLoop(c) => Some(Semaphore::new(c)),
                Mode::Rate(_) => None,
            },
        }
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64 + 1
    }

    fn reject(&self, reason: String) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        *self.reasons.lock().unwrap_or_else(|e| e.into_inner()).entry(reason).or_default() += 1;
        if let Some(p) = &self.permits {
            p.add_permits(1);
        }
    }

    fn include(&self, index: usize, at: u64, block: u64) {
        if self.included_at[index]
            .compare_exchange(0, at, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.included.fetch_add(1, Ordering::Relaxed);
            self.last_progress.fetch_max(at, Ordering::Relaxed);
            self.blocks.lock().unwrap_or_else(|e| e.into_inner()).insert(block);
            if let Some(p) = &self.permits {
                p.add_permits(1);
            }
        }
    }

    fn sender_finished(&self) {
        if self.senders_left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.sending_done_at.store(self.now(), Ordering::Release);
        }
    }

    /// Every transaction sent and accounted for, or the drain time is up, or
    /// nothing was sent or included for that long (a closed loop whose
    /// window is full of transactions the node will never include).
    fn finished(&self, drain: Duration) -> bool {
        if self.aborted.load(Ordering::Acquire) {
            return true;
        }
        let now = self.now();
        let stalled = now > self.last_progress.load(Ordering::Relaxed) + drain.as_nanos() as u64;
        if self.permits.is_some() && stalled {
            return true;
        }
        let done_at = self.sending_done_at.load(Ordering::Acquire);
        if done_at == 0 {
            return false;
        }
        let resolved =
            self.included.load(Ordering::Relaxed) + self.rejected.load(Ordering::Relaxed);
        resolved >= self.sent.load(Ordering::Relaxed) || now > done_at + drain.as_nanos() as u64
    }

    /// Ends the timed phase: senders stop taking batches (and stop waiting
    /// for room in a closed loop).
    fn stop(&self) {
        self.aborted.store(true, Ordering::Release);
        if let Some(p) = &self.permits {
            p.close();
        }
    }

    fn report(&self, plan: &Plan, target: String, mode: Mode, failed: Option<u64>) -> Report {
        let mut latencies: Vec<u64> = Vec::new();
        let mut first_sent = u64::MAX;
        let mut last_included = 0;
        for (s, i) in self.sent_at.iter().zip(&self.included_at) {
            let (s, i) = (s.load(Ordering::Relaxed), i.load(Ordering::Relaxed));
            if s > 0 {
                first_sent = first_sent.min(s);
            }
            if s > 0 && i > 0 {
                latencies.push(i.saturating_sub(s));
                last_included = last_included.max(i);
            }
        }
        let done = self.sending_done_at.load(Ordering::Relaxed);
        let secs = |ns: u64| ns as f64 / 1e9;
        let send_seconds = secs(done.saturating_sub(first_sent.min(done)));
        let window = secs(last_included.saturating_sub(first_sent.min(last_included)));
        let sent = self.sent.load(Ordering::Relaxed);
        let included = self.included.load(Ordering::Relaxed);
        let rejected = self.rejected.load(Ordering::Relaxed);
        let per_second = |n: u64, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
        Report {
            target,
            node: None,
            workload: plan.config.workload,
            txs: plan.txs.len(),
            accounts: plan.accounts.len(),
            mode: mode.to_string(),
            submitted: sent,
            accepted: self.accepted.load(Ordering::Relaxed),
            rejected,
            rejected_by_reason: self.reasons.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            included,
            failed,
            not_included: sent.saturating_sub(included + rejected),
            send_seconds,
            window_seconds: window,
            sent_per_second: per_second(sent, send_seconds),
            included_per_second: per_second(included, window),
            latency_ms: Latency::of(&mut latencies),
            blocks: self.blocks.lock().unwrap_or_else(|e| e.into_inner()).len() as u64,
            mean_entry_width: None,
            setup_seconds: 0.0,
            presign_seconds: 0.0,
        }
    }
}

/// The short form of a refusal, to group by: the message up to its first
/// `:` (what follows names the transaction's own numbers), at most 80 chars.
fn short_reason(message: &str) -> String {
    message.split(':').next().unwrap_or_default().trim().chars().take(80).collect()
}

/// A node's refusal to group by: its short form and the code.
fn reason(e: &RpcErrorObject) -> String {
    format!("{} ({})", short_reason(&e.message), e.code)
}

/// A raw transaction as the quoted JSON string `eth_sendRawTransaction` takes.
fn quoted(raw: &Bytes) -> String {
    format!("\"0x{}\"", alloy_primitives::hex::encode(raw))
}

/// Sends transactions until every batch is taken.
enum Submitter {
    Rpc { client: RpcClient, quoted: Arc<Vec<String>> },
    InProcess { stage: Arc<BankingStage<EvmExecutor>>, raw: Arc<Vec<Bytes>> },
}

impl Submitter {
    async fn send(&mut self, range: Range<usize>) -> Result<Vec<Result<(), String>>> {
        match self {
            Submitter::Rpc { client, quoted } => Ok(client
                .send_raw_batch(&quoted[range])
                .await
                .map_err(err)?
                .into_iter()
                .map(|r| r.map_err(|e| reason(&e)))
                .collect()),
            Submitter::InProcess { stage, raw } => {
                let raws = raw[range].to_vec();
                let stage = stage.clone();
                let results = tokio::task::spawn_blocking(move || stage.submit_many(raws))
                    .await
                    .map_err(err)?;
                Ok(results
                    .into_iter()
                    .map(|r| r.map(drop).map_err(|e| short_reason(&e.to_string())))
                    .collect())
            }
        }
    }

    async fn run(mut self, shared: Arc<Shared>, mode: Mode) -> Result<()> {
        let result = async {
            loop {
                if shared.aborted.load(Ordering::Acquire) {
                    return Ok(());
                }
                let k = shared.next_batch.fetch_add(1, Ordering::Relaxed);
                let start = k.saturating_mul(shared.batch);
                if start >= shared.total {
                    return Ok(());
                }
                let range = start..(start + shared.batch).min(shared.total);
                let at = match mode {
                    Mode::Rate(rate) => {
                        let due = shared.start + Duration::from_secs_f64(start as f64 / rate);
                        while Instant::now() < due {
                            if shared.aborted.load(Ordering::Acquire) {
                                return Ok(());
                            }
                            let step = due.saturating_duration_since(Instant::now());
                            tokio::time::sleep(step.min(Duration::from_millis(50))).await;
                        }
                        due.duration_since(shared.start).as_nanos() as u64 + 1
                    }
                    Mode::ClosedLoop(_) => {
                        let permits = shared.permits.as_ref().expect("closed loop has permits");
                        match permits.acquire_many(range.len() as u32).await {
                            Ok(p) => p.forget(),
                            Err(_) => return Ok(()), // closed: the run is over
                        }
                        shared.now()
                    }
                };
                if shared.aborted.load(Ordering::Acquire) {
                    return Ok(());
                }
                for i in range.clone() {
                    shared.sent_at[i].store(at, Ordering::Relaxed);
                }
                shared.sent.fetch_add(range.len() as u64, Ordering::Relaxed);
                shared.last_progress.fetch_max(shared.now(), Ordering::Relaxed);
                for result in self.send(range).await? {
                    match result {
                        Ok(()) => drop(shared.accepted.fetch_add(1, Ordering::Relaxed)),
                        Err(reason) => shared.reject(reason),
                    }
                }
            }
        }
        .await;
        if result.is_err() {
            shared.aborted.store(true, Ordering::Release);
        }
        shared.sender_finished();
        result
    }
}

fn progress_bar(shared: &Arc<Shared>, show: bool) -> (ProgressBar, tokio::task::JoinHandle<()>) {
    let bar = if show { ProgressBar::new(shared.total as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} included  {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let ticker = {
        let (bar, shared) = (bar.clone(), shared.clone());
        tokio::spawn(async move {
            loop {
                bar.set_position(shared.included.load(Ordering::Relaxed));
                bar.set_message(format!(
                    "sent {}  rejected {}",
                    shared.sent.load(Ordering::Relaxed),
                    shared.rejected.load(Ordering::Relaxed)
                ));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    (bar, ticker)
}

/// Signs every transaction on all cores: `nonces[s]` is sender `s`'s first.
fn presign(
    plan: &Plan,
    nonces: &[u64],
    chain_id: u64,
    max_fee: u128,
    tip: u128,
) -> Vec<(Bytes, B256)> {
    let m = plan.accounts.len();
    crate::loadgen::par_map(plan.txs.len(), |i| {
        let sender = plan.txs[i].sender as usize;
        plan.sign(i, nonces[sender] + (i / m) as u64, chain_id, max_fee, tip)
    })
}

#[derive(Deserialize)]
struct BlockHashes {
    transactions: Vec<B256>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReceiptStatus {
    transaction_hash: B256,
    status: Option<U64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeadBlock {
    base_fee_per_gas: Option<U256>,
}

fn hex(n: u64) -> String {
    format!("0x{n:x}")
}

async fn run_rpc(plan: Arc<Plan>, url: &str, config: &RunConfig) -> Result<Report> {
    let mut client = RpcClient::connect(url).await.map_err(err)?;
    let chain_id: U64 = client.call("eth_chainId", json!([])).await.map_err(err)?;
    let chain_id = chain_id.to::<u64>();
    let node: Option<String> = client.call("web3_clientVersion", json!([])).await.ok();
    let head: HeadBlock =
        client.call("eth_getBlockByNumber", json!(["latest", false])).await.map_err(err)?;
    let base_fee = match head.base_fee_per_gas {
        Some(b) => b.to::<u128>(),
        None => client.call::<U256>("eth_gasPrice", json!([])).await.map_err(err)?.to::<u128>(),
    };
    let tip = client
        .call::<U256>("eth_maxPriorityFeePerGas", json!([]))
        .await
        .map(|t| t.to::<u128>())
        .unwrap_or(DEFAULT_TIP)
        .max(1);
    // Full blocks raise an EIP-1559 base fee by 12.5% each (anvil's do, lanes'
    // is fixed): leave room for ~30 of them, so the node, not the fee cap,
    // sets the pace. Transactions pay base fee + tip, not the cap.
    let max_fee = MAX_FEE_BASE_FEES * base_fee.max(1) + tip;

    let setup_started = Instant::now();
    setup(&mut client, &plan, &config.funder, chain_id, max_fee, tip).await?;
    let setup_seconds = setup_started.elapsed().as_secs_f64();

    let addresses: Vec<Value> =
        plan.accounts.iter().map(|k| json!([k.address(), "pending"])).collect();
    let mut nonces = Vec::with_capacity(addresses.len());
    for chunk in addresses.chunks(SETUP_BATCH) {
        for n in client
            .batch::<U64>("eth_getTransactionCount", chunk.iter().cloned())
            .await
            .map_err(err)?
        {
            nonces.push(n.map_err(err)?.to::<u64>());
        }
    }
    let presign_started = Instant::now();
    let signed = {
        let plan = plan.clone();
        tokio::task::spawn_blocking(move || {
            let signed = presign(&plan, &nonces, chain_id, max_fee, tip);
            let quoted: Vec<String> = signed.iter().map(|(raw, _)| quoted(raw)).collect();
            (quoted, signed.into_iter().map(|(_, h)| h).collect::<Vec<_>>())
        })
        .await
        .map_err(err)?
    };
    let (quoted, hashes) = signed;
    let index: HashMap<B256, u32> =
        hashes.iter().enumerate().map(|(i, h)| (*h, i as u32)).collect();
    let presign_seconds = presign_started.elapsed().as_secs_f64();

    let stats_before: Option<Value> = client.call("lanes_stats", json!([])).await.ok();
    let from_block: U64 = client.call("eth_blockNumber", json!([])).await.map_err(err)?;
    let batch = effective_batch(config);
    let shared = Arc::new(Shared::new(plan.txs.len(), batch, config.connections, config.mode));
    let (bar, ticker) = progress_bar(&shared, config.progress);
    let quoted = Arc::new(quoted);
    let mut senders = Vec::new();
    for _ in 0..config.connections {
        let client = RpcClient::connect(url).await.map_err(err)?;
        let submitter = Submitter::Rpc { client, quoted: quoted.clone() };
        senders.push(tokio::spawn(submitter.run(shared.clone(), config.mode)));
    }
    let tracked =
        track_rpc(&mut client, &shared, &index, from_block.to::<u64>(), config.drain_timeout).await;
    shared.stop();
    let mut send_error = None;
    for s in senders {
        if let Err(e) = s.await.map_err(err)? {
            send_error.get_or_insert(e);
        }
    }
    ticker.abort();
    bar.finish_and_clear();
    tracked?;
    if let Some(e) = send_error {
        return Err(format!("sending to {url}: {e}"));
    }

    let failed = count_failed(&mut client, &shared, &index).await?;
    let stats_after: Option<Value> = client.call("lanes_stats", json!([])).await.ok();
    let mut report = shared.report(&plan, url.to_string(), config.mode, failed);
    report.node = node;
    report.setup_seconds = setup_seconds;
    report.presign_seconds = presign_seconds;
    report.mean_entry_width = entry_width(stats_before.as_ref(), stats_after.as_ref());
    Ok(report)
}

fn effective_batch(config: &RunConfig) -> usize {
    let batch = config.batch.max(1);
    match config.mode {
        // A batch must fit in the window, or no sender could take one.
        Mode::ClosedLoop(c) => batch.min((c / config.connections.max(1)).max(1)),
        Mode::Rate(_) => batch,
    }
}

/// Transactions per entry between two `lanes_stats` answers.
fn entry_width(before: Option<&Value>, after: Option<&Value>) -> Option<f64> {
    let get = |v: Option<&Value>, k: &str| v.and_then(|v| v.get(k)).and_then(Value::as_u64);
    let txs = get(after, "transactions")?.checked_sub(get(before, "transactions")?)?;
    let entries = get(after, "entries")?.checked_sub(get(before, "entries")?)?;
    (entries > 0).then(|| txs as f64 / entries as f64)
}

/// Follows new blocks until the run is finished: each block's transaction
/// hashes mark inclusions (one `eth_getBlockByNumber` per block, batched).
async fn track_rpc(
    client: &mut RpcClient,
    shared: &Shared,
    index: &HashMap<B256, u32>,
    from_block: u64,
    drain: Duration,
) -> Result<()> {
    let mut next = from_block + 1;
    while !shared.finished(drain) {
        let head: U64 = client.call("eth_blockNumber", json!([])).await.map_err(err)?;
        let head = head.to::<u64>();
        while next <= head {
            let to = head.min(next + 99);
            let blocks = client
                .batch::<Option<BlockHashes>>(
                    "eth_getBlockByNumber",
                    (next..=to).map(|n| json!([hex(n), false])),
                )
                .await
                .map_err(err)?;
            let at = shared.now();
            for (number, block) in (next..=to).zip(blocks) {
                let Some(block) = block.map_err(err)? else {
                    return Err(format!(
                        "{}: block {number} is missing below head {head}",
                        client.url()
                    ));
                };
                for hash in block.transactions {
                    if let Some(&i) = index.get(&hash) {
                        shared.include(i as usize, at, number);
                    }
                }
            }
            next = to + 1;
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}

/// Failed (status 0) transactions of the run, from `eth_getBlockReceipts`
/// of the blocks that included them; `None` where the node lacks it.
async fn count_failed(
    client: &mut RpcClient,
    shared: &Shared,
    index: &HashMap<B256, u32>,
) -> Result<Option<u64>> {
    let blocks: Vec<u64> =
        shared.blocks.lock().unwrap_or_else(|e| e.into_inner()).iter().copied().collect();
    let mut failed = 0;
    // One block per request: a block of swaps has receipts of many MB.
    for n in blocks {
        match client.call::<Vec<ReceiptStatus>>("eth_getBlockReceipts", json!([hex(n)])).await {
            Ok(receipts) => {
                failed += receipts
                    .iter()
                    .filter(|r| {
                        index.contains_key(&r.transaction_hash) && r.status == Some(U64::ZERO)
                    })
                    .count() as u64;
            }
            Err(ClientError::Rpc { error, .. }) if [-32601, -32004].contains(&error.code) => {
                return Ok(None);
            }
            Err(e) => return Err(err(e)),
        }
    }
    Ok(Some(failed))
}

/// Funds the accounts and the deployer from `funder` where they lack what
/// the run spends, and sends the deployer's setup transactions not yet sent
/// (the deployer's nonce says how far a setup got; a loadgen genesis has
/// done it all).
async fn setup(
    client: &mut RpcClient,
    plan: &Plan,
    funder: &Key,
    chain_id: u64,
    max_fee: u128,
    tip: u128,
) -> Result<()> {
    let eth = U256::from(10u128.pow(18));
    let setup_gas: u64 = plan.setup.iter().map(|c| c.gas_limit).sum();
    let mut needs: Vec<(Address, U256)> = plan
        .spend(max_fee)
        .into_iter()
        .zip(&plan.accounts)
        .map(|(spend, key)| (key.address(), spend * U256::from(2) + eth / U256::from(100)))
        .collect();
    needs.push((
        plan.deployer.address(),
        U256::from(setup_gas) * U256::from(max_fee) * U256::from(2) + eth,
    ));
    let mut balances = Vec::with_capacity(needs.len());
    for chunk in needs.chunks(SETUP_BATCH) {
        let params = chunk.iter().map(|(a, _)| json!([a, "latest"]));
        for b in client.batch::<U256>("eth_getBalance", params).await.map_err(err)? {
            balances.push(b.map_err(err)?);
        }
    }
    let short: Vec<(Address, U256)> = needs
        .iter()
        .zip(&balances)
        .filter(|((_, need), have)| *have < need)
        // Enough for a few such runs, so a rerun does not fund again.
        .map(|((a, need), have)| (*a, *need * U256::from(4) - *have))
        .collect();
    if !short.is_empty() {
        let start: U64 = client
            .call("eth_getTransactionCount", json!([funder.address(), "pending"]))
            .await
            .map_err(err)?;
        let start = start.to::<u64>();
        let txs: Vec<(Bytes, B256)> = short
            .iter()
            .enumerate()
            .map(|(i, (to, value))| {
                funder.sign(TxEip1559 {
                    chain_id,
                    nonce: start + i as u64,
                    gas_limit: 23_400,
                    max_fee_per_gas: max_fee,
                    max_priority_fee_per_gas: tip,
                    to: TxKind::Call(*to),
                    value: *value,
                    access_list: AccessList(vec![AccessListItem {
                        address: *to,
                        storage_keys: vec![],
                    }]),
                    input: Bytes::new(),
                })
            })
            .collect();
        send_all(client, &txs, "funding the accounts").await?;
        wait_for_nonce(client, funder.address(), start + txs.len() as u64).await?;
        check_receipts(client, &txs, |i| format!("funding {}", short[i].0)).await?;
    }

    let deployer = plan.deployer.address();
    let done: U64 =
        client.call("eth_getTransactionCount", json!([deployer, "latest"])).await.map_err(err)?;
    let done = done.to::<u64>() as usize;
    if done < plan.setup.len() {
        let txs: Vec<(Bytes, B256)> = plan.setup[done..]
            .iter()
            .enumerate()
            .map(|(i, call)| {
                plan.deployer.sign(TxEip1559 {
                    chain_id,
                    nonce: (done + i) as u64,
                    gas_limit: call.gas_limit,
                    max_fee_per_gas: max_fee,
                    max_priority_fee_per_gas: tip,
                    to: call.to.map_or(TxKind::Create, TxKind::Call),
                    value: U256::ZERO,
                    access_list: AccessList::default(),
                    input: call.input.clone(),
                })
            })
            .collect();
        send_all(client, &txs, "setting up the contracts").await?;
        wait_for_nonce(client, deployer, plan.setup.len() as u64).await?;
        check_receipts(client, &txs, |i| plan.setup[done + i].what.clone()).await?;
    }
    let contracts: Vec<Address> = plan
        .layout
        .token_a
        .iter()
        .chain(&plan.layout.token_b)
        .chain(&plan.layout.pairs)
        .copied()
        .collect();
    let codes = client
        .batch::<Bytes>("eth_getCode", contracts.iter().map(|a| json!([a, "latest"])))
        .await
        .map_err(err)?;
    for (address, code) in contracts.iter().zip(codes) {
        if code.map_err(err)?.is_empty() {
            return Err(format!(
                "no contract at {address}: the deployer {deployer} used its nonces for something else; use another --seed"
            ));
        }
    }
    Ok(())
}

async fn send_all(client: &mut RpcClient, txs: &[(Bytes, B256)], what: &str) -> Result<()> {
    let quoted: Vec<String> = txs.iter().map(|(raw, _)| quoted(raw)).collect();
    for chunk in quoted.chunks(50) {
        for r in client.send_raw_batch(chunk).await.map_err(err)? {
            r.map_err(|e| format!("{what}: the node refused a transaction: {e}"))?;
        }
    }
    Ok(())
}

async fn wait_for_nonce(client: &mut RpcClient, address: Address, nonce: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let n: U64 = client
            .call("eth_getTransactionCount", json!([address, "latest"]))
            .await
            .map_err(err)?;
        if n.to::<u64>() >= nonce {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "setup: {address}'s transactions were not all included after 5 minutes"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn check_receipts(
    client: &mut RpcClient,
    txs: &[(Bytes, B256)],
    what: impl Fn(usize) -> String,
) -> Result<()> {
    for (c, chunk) in txs.chunks(SETUP_BATCH).enumerate() {
        let answers = client
            .batch::<Option<ReceiptStatus>>(
                "eth_getTransactionReceipt",
                chunk.iter().map(|(_, h)| json!([h])),
            )
            .await
            .map_err(err)?;
        for (i, answer) in answers.into_iter().enumerate() {
            let ok = answer.map_err(err)?.is_some_and(|r| r.status != Some(U64::ZERO));
            if !ok {
                return Err(format!("setup: `{}` failed on chain", what(c * SETUP_BATCH + i)));
            }
        }
    }
    Ok(())
}

async fn run_in_process(
    plan: Arc<Plan>,
    threads: usize,
    block_time: Duration,
    config: &RunConfig,
) -> Result<Report> {
    let chain_id = config.chain_id;
    let setup_started = Instant::now();
    let dir = tempfile::Builder::new().prefix("lanes-loadgen-").tempdir().map_err(err)?;
    let (stage, spec) = {
        let plan = plan.clone();
        let path = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || -> Result<_> {
            let geth = crate::loadgen::genesis::build(&plan, chain_id)?;
            let spec = ChainSpec::from_geth(geth).map_err(err)?;
            let chain = Chain::create(&path, Default::default(), &spec.genesis).map_err(err)?;
            let executor = Arc::new(EvmExecutor::new(EvmConfig {
                spec: spec.spec,
                ..EvmConfig::new(chain_id)
            }));
            let stage = BankingStage::start(
                executor,
                chain,
                BankingStageConfig {
                    workers: threads.max(1),
                    slot_time: block_time,
                    ..BankingStageConfig::default()
                },
            );
            Ok((Arc::new(stage), spec))
        })
        .await
        .map_err(err)??
    };
    let setup_seconds = setup_started.elapsed().as_secs_f64();
    let base_fee = u128::from(spec.genesis.header().base_fee);
    let (tip, max_fee) = (DEFAULT_TIP, 2 * base_fee + DEFAULT_TIP);

    let presign_started = Instant::now();
    let signed = {
        let plan = plan.clone();
        tokio::task::spawn_blocking(move || {
            presign(&plan, &vec![0; plan.accounts.len()], chain_id, max_fee, tip)
        })
        .await
        .map_err(err)?
    };
    let presign_seconds = presign_started.elapsed().as_secs_f64();
    let index: HashMap<B256, u32> =
        signed.iter().enumerate().map(|(i, (_, h))| (*h, i as u32)).collect();
    let raw = Arc::new(signed.into_iter().map(|(r, _)| r).collect::<Vec<_>>());

    let batch = effective_batch(config);
    let shared = Arc::new(Shared::new(plan.txs.len(), batch, config.connections, config.mode));
    let (bar, ticker) = progress_bar(&shared, config.progress);
    let tracker = {
        let (shared, stage, drain) = (shared.clone(), stage.clone(), config.drain_timeout);
        std::thread::spawn(move || {
            let mut width = (0u64, 0u64);
            let blocks = stage.blocks();
            while !shared.finished(drain) {
                let Ok(produced) = blocks.recv_timeout(Duration::from_millis(50)) else { continue };
                let at = shared.now();
                let number = produced.block.header.number;
                width.0 += produced.stats.transactions as u64;
                width.1 += produced.stats.entries as u64;
                for r in &produced.receipts {
                    if let Some(&i) = index.get(&r.tx_hash) {
                        shared.include(i as usize, at, number);
                        if !r.outcome.success {
                            shared.failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                for (hash, error) in &produced.rejected {
                    if index.contains_key(hash) {
                        let reason = short_reason(&error.to_string());
                        shared.reject(format!("dropped at execution: {reason}"));
                    }
                }
            }
            shared.stop();
            width
        })
    };
    let mut senders = Vec::new();
    for _ in 0..config.connections {
        let submitter = Submitter::InProcess { stage: stage.clone(), raw: raw.clone() };
        senders.push(tokio::spawn(submitter.run(shared.clone(), config.mode)));
    }
    let mut send_error = None;
    for s in senders {
        if let Err(e) = s.await.map_err(err)? {
            send_error.get_or_insert(e);
        }
    }
    let width = tokio::task::spawn_blocking(move || tracker.join())
        .await
        .map_err(err)?
        .map_err(|_| "the tracker panicked")?;
    ticker.abort();
    bar.finish_and_clear();
    if let Some(e) = send_error {
        return Err(format!("submitting in process: {e}"));
    }
    let failed = shared.failed.load(Ordering::Relaxed);
    let mut report = shared.report(
        &plan,
        Target::InProcess { threads, block_time }.to_string(),
        config.mode,
        Some(failed),
    );
    report.node = Some(format!("lanes/v{} (embedded banking stage)", env!("CARGO_PKG_VERSION")));
    report.setup_seconds = setup_seconds;
    report.presign_seconds = presign_seconds;
    report.mean_entry_width = (width.1 > 0).then(|| width.0 as f64 / width.1 as f64);
    tokio::task::spawn_blocking(move || {
        if let Ok(mut stage) = Arc::try_unwrap(stage) {
            let _ = stage.shutdown();
        }
        drop(dir);
    })
    .await
    .map_err(err)?;
    Ok(report)
}
