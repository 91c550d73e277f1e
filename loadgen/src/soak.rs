//! `lanes-loadgen soak`: the workload sent at a steady rate for a long time
//! to a node that may be killed and restarted under it.
//!
//! The node's pool does not survive a kill, so nothing is presigned: each
//! sender's transaction with nonce `n` is the plan's transaction
//! `sender + accounts × (n mod per_sender)` signed with nonce `n` and fees
//! fixed for the run, so a transaction signed again is the same transaction
//! (same hash). When the node cannot be reached the soak waits for it, then
//! reads every sender's nonce (`eth_getTransactionCount` at `latest`) and
//! signs again from there: what the node lost with its pool is sent again,
//! what it included is kept and its receipt fetched. A sender whose oldest
//! transaction has no receipt after `stall` (dropped, refused) is read again
//! the same way.
//!
//! Every receipt `eth_getTransactionReceipt` serves is appended to a file at
//! once ([`crate::receipts`]); `verify-receipts` checks them later.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::{B256, U64};
use serde::Serialize;
use serde_json::json;

use crate::error::RunError;
use crate::keys::Key;
use crate::plan::{Plan, Workload};
use crate::receipts::{AckedReceipt, ReceiptLog, ReceiptsError, ServedReceipt};
use crate::setup::setup;
use crate::submit::short_reason;
use crate::wire::{fees, quoted, typed};
use lanes_rpc::api::EthApiClient;
use lanes_rpc::client::{ClientError, RpcClient};

/// How often the soak sends what is due.
const TICK: Duration = Duration::from_millis(50);
/// How often it asks for the receipts of what is in flight.
const POLL: Duration = Duration::from_millis(250);
/// How often it tries to reach a node that is away.
const PROBE: Duration = Duration::from_millis(200);
/// Longest wait for one call; past it the node counts as away.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// Calls per batch of receipt or nonce reads.
const READ_BATCH: usize = 500;
/// How long a refused sender waits before its nonce is read again.
const REFUSAL_BACKOFF: Duration = Duration::from_secs(1);
/// How often a progress line is printed.
const PROGRESS: Duration = Duration::from_secs(10);
/// Node errors printed (the rest only counted).
const ERRORS_PRINTED: u64 = 10;

/// How a soak runs.
#[derive(Clone, Debug)]
pub struct SoakConfig {
    /// Transactions sent per second (resends included).
    pub rate: f64,
    /// Most transactions a sender has sent without a receipt yet.
    pub depth: usize,
    /// Transactions per `eth_sendRawTransaction` batch.
    pub batch: usize,
    /// How long to send; `None`: until `stop`.
    pub duration: Option<Duration>,
    /// Where every receipt served is appended (JSON lines).
    pub receipts_out: PathBuf,
    /// How long the node may stay unreachable before the soak gives up.
    pub down_timeout: Duration,
    /// A sender whose oldest transaction has no receipt after this long has
    /// its nonce read again and what follows sent again.
    pub stall: Duration,
    /// How long to wait for receipts after the last send.
    pub drain_timeout: Duration,
    /// Funds the accounts and the deployer where the chain has not.
    pub funder: Key,
}

/// What a soak did.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SoakReport {
    /// The node's URL.
    pub target: String,
    /// The workload.
    pub workload: Option<Workload>,
    /// Accounts sending.
    pub accounts: usize,
    /// From the first send to the end of the drain.
    pub seconds: f64,
    /// Transactions sent, resends included.
    pub sent: u64,
    /// Sends of a nonce sent before (after a restart, a refusal or a stall).
    pub resent: u64,
    /// Receipts served (and written to the receipts file).
    pub acknowledged: u64,
    /// Of them, failed on chain (status 0).
    pub failed: u64,
    /// Transactions the node refused (other than "already known" and
    /// "nonce too low", which a resend meets).
    pub refused: u64,
    /// Refusals by the node's reason.
    pub refused_by_reason: BTreeMap<String, u64>,
    /// Times the node came back after being unreachable.
    pub reconnects: u64,
    /// Seconds the node was unreachable, in all.
    pub down_seconds: f64,
    /// Times a sender's nonce was read again.
    pub resyncs: u64,
    /// Times a sender's nonce on chain was below one whose receipt had been
    /// served: acknowledged transactions the node lost.
    pub nonce_regressions: u64,
    /// Transactions below the sender's nonce on chain whose receipt never
    /// came (dropped after twice the stall time).
    pub unreceipted: u64,
    /// Calls the node answered with an error (not refusals).
    pub call_errors: u64,
    /// Sent and without a receipt at the end.
    pub unacknowledged: u64,
    /// Receipts per second over the run.
    pub acknowledged_per_second: f64,
    /// Why the soak ended early (the node away past the down timeout, the
    /// receipts file unwritable, ...); `None`: it ran its course.
    pub error: Option<String>,
}

/// Why a soak could not start, or ended early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SoakError {
    /// The plan's transactions do not divide evenly among its senders.
    #[error(
        "a soak plan needs a whole number of transactions per sender: {txs} transactions over {accounts} accounts"
    )]
    Uneven {
        /// Transactions in the plan.
        txs: usize,
        /// Senders.
        accounts: usize,
    },
    /// The rate or the depth cannot send anything.
    #[error(
        "--rate must be above zero and --depth at least 1 (got --rate {rate}, --depth {depth})"
    )]
    Pacing {
        /// Transactions per second asked for.
        rate: f64,
        /// Transactions in flight per sender asked for.
        depth: usize,
    },
    /// The receipts file could not be opened or written.
    #[error(transparent)]
    Receipts(#[from] ReceiptsError),
    /// The URL is not one the client speaks, or a call before the soak
    /// started failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Reading the fees or the setup (funding, deploying) failed.
    #[error(transparent)]
    Setup(#[from] RunError),
    /// The node did not answer within the down timeout.
    #[error("{url}: unreachable for {seconds}s")]
    Unreachable {
        /// The node.
        url: String,
        /// How long the soak waited (`SoakConfig::down_timeout`).
        seconds: u64,
    },
    /// The node came back serving another chain.
    #[error("{url}: came back with chain id {found}, not {expected}")]
    ChainChanged {
        /// The node.
        url: String,
        /// The chain id the soak started on.
        expected: u64,
        /// The chain id it answers now.
        found: u64,
    },
}

type Result<T, E = SoakError> = std::result::Result<T, E>;

/// Why a step stopped: the node (the soak goes on) or the receipts file
/// (the soak ends).
enum StepError {
    Node(ClientError),
    Fatal(ReceiptsError),
}

impl From<ClientError> for StepError {
    fn from(e: ClientError) -> Self {
        Self::Node(e)
    }
}

struct InFlight {
    nonce: u64,
    hash: B256,
    sent_at: Instant,
    /// When a nonce read first showed it included (its receipt is due).
    included_at: Option<Instant>,
}

#[derive(Default)]
struct Sender {
    /// The nonce the next transaction is signed with.
    next: u64,
    /// The highest nonce ever sent.
    highest_sent: Option<u64>,
    /// The highest nonce whose receipt was served.
    acked: Option<u64>,
    inflight: VecDeque<InFlight>,
    /// Read the nonce again at this moment (and send nothing before).
    resync_at: Option<Instant>,
    /// When the nonce was last read.
    resynced_at: Option<Instant>,
}

struct Soak<'a> {
    plan: &'a Plan,
    url: &'a str,
    config: &'a SoakConfig,
    client: Option<RpcClient>,
    chain_id: u64,
    max_fee: u128,
    tip: u128,
    per_sender: u64,
    senders: Vec<Sender>,
    cursor: usize,
    tokens: f64,
    last_fill: Instant,
    last_probe: Instant,
    last_poll: Instant,
    last_progress: Instant,
    down_since: Option<Instant>,
    /// The client's connection count last seen ([`RpcClient::connections`]).
    connections: u64,
    log: ReceiptLog,
    started: Instant,
    report: SoakReport,
}

/// A call bounded by [`CALL_TIMEOUT`]; a timeout is a transport error.
async fn bounded<T>(
    url: &str,
    call: impl Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    tokio::time::timeout(CALL_TIMEOUT, call).await.unwrap_or_else(|_| {
        Err(ClientError::Transport { url: url.into(), what: "no answer in time".into() })
    })
}

/// Waits until the node at `url` answers, at most `timeout`; `None` when
/// `stop` came first.
async fn connect_when_up(
    url: &str,
    timeout: Duration,
    stop: &mut (impl Future<Output = ()> + Unpin),
) -> Result<Option<RpcClient>> {
    let deadline = Instant::now() + timeout;
    loop {
        match RpcClient::connect(url).await {
            Ok(client) if client.chain_id().await.is_ok() => return Ok(Some(client)),
            Err(e @ ClientError::Url(_)) => return Err(e.into()),
            _ if Instant::now() > deadline => {
                return Err(SoakError::Unreachable { url: url.into(), seconds: timeout.as_secs() });
            }
            _ => {}
        }
        tokio::select! {
            _ = &mut *stop => return Ok(None),
            _ = tokio::time::sleep(PROBE) => {}
        }
    }
}

/// Runs a soak of `plan` (whose transactions are a whole number per
/// sender) against `url` until `config.duration` is up or `stop` resolves,
/// then waits up to the drain timeout for the receipts still due. An error
/// once the soak has started ends it with the report's `error` set; one
/// before (no node, a failed setup) is returned.
pub async fn soak(
    plan: Arc<Plan>,
    url: &str,
    config: &SoakConfig,
    stop: impl Future<Output = ()>,
) -> Result<SoakReport> {
    let m = plan.accounts.len();
    if plan.txs.is_empty() || !plan.txs.len().is_multiple_of(m) {
        return Err(SoakError::Uneven { txs: plan.txs.len(), accounts: m });
    }
    if !(config.rate > 0.0 && config.rate.is_finite()) || config.depth == 0 {
        return Err(SoakError::Pacing { rate: config.rate, depth: config.depth });
    }
    let mut stop = std::pin::pin!(stop);
    let log = ReceiptLog::open(&config.receipts_out)?;
    let Some(client) = connect_when_up(url, config.down_timeout, &mut stop).await? else {
        return Ok(SoakReport { target: url.into(), ..Default::default() });
    };
    let chain_id = client.chain_id().await.map_err(typed("eth_chainId"))?.to::<u64>();
    let (max_fee, tip) = fees(&client).await?;
    setup(&client, &plan, &config.funder, chain_id, max_fee, tip).await?;
    let connections = client.connections();
    let now = Instant::now();
    let mut soak = Soak {
        plan: &plan,
        url,
        config,
        client: Some(client),
        chain_id,
        max_fee,
        tip,
        per_sender: (plan.txs.len() / m) as u64,
        senders: (0..m).map(|_| Sender { resync_at: Some(now), ..Default::default() }).collect(),
        cursor: 0,
        tokens: 0.0,
        last_fill: now,
        last_probe: now,
        last_poll: now,
        last_progress: now,
        down_since: None,
        connections,
        log,
        started: now,
        report: SoakReport {
            target: url.into(),
            workload: Some(plan.config.workload),
            accounts: m,
            ..Default::default()
        },
    };
    eprintln!(
        "soak: {url}, {:?} workload over {m} accounts at {} tx/s, receipts to {}",
        plan.config.workload,
        config.rate,
        config.receipts_out.display()
    );
    let deadline = config.duration.map(|d| now + d);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let error = loop {
        tokio::select! {
            _ = &mut stop => break None,
            _ = tick.tick() => {}
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break None;
        }
        if let Err(e) = soak.step().await {
            break Some(e);
        }
    };
    let error = match error {
        Some(e) => Some(e),
        None => soak.drain().await.err(),
    };
    if let Some(e) = &error {
        eprintln!("soak: stopped: {e}");
    }
    soak.report.error = error.map(|e| e.to_string());
    Ok(soak.finish())
}

impl Soak<'_> {
    /// One tick: reach the node if it is away, read nonces again where due,
    /// send what the rate allows, fetch receipts.
    async fn step(&mut self) -> Result<()> {
        if self.client.is_none() && !self.probe().await? {
            return Ok(());
        }
        self.check_connection();
        if let Err(e) = self.resync().await {
            return self.failed(e);
        }
        if let Err(e) = self.send_due().await {
            return self.failed(e);
        }
        if self.last_poll.elapsed() >= POLL {
            self.last_poll = Instant::now();
            if let Err(e) = self.poll().await {
                return self.failed(e);
            }
        }
        if self.last_progress.elapsed() >= PROGRESS {
            self.last_progress = Instant::now();
            self.progress();
        }
        Ok(())
    }

    fn progress(&self) {
        let r = &self.report;
        eprintln!(
            "soak: {:.0}s sent {} (resent {}) acknowledged {} in flight {} reconnects {} refused {}",
            self.started.elapsed().as_secs_f64(),
            r.sent,
            r.resent,
            r.acknowledged,
            self.senders.iter().map(|s| s.inflight.len()).sum::<usize>(),
            r.reconnects,
            r.refused
        );
    }

    /// Handles a call's error: the node is away (transport), or answered
    /// with an error (counted; the soak goes on).
    fn failed(&mut self, e: impl Into<StepError>) -> Result<()> {
        let e = match e.into() {
            StepError::Node(e) => e,
            StepError::Fatal(e) => return Err(e.into()),
        };
        match e {
            ClientError::Transport { .. } => {
                if self.down_since.is_none() {
                    eprintln!(
                        "soak: {:.1}s node unreachable ({e}); waiting for it",
                        self.started.elapsed().as_secs_f64()
                    );
                    self.down_since = Some(Instant::now());
                }
                self.client = None;
            }
            ClientError::Url(_) => return Err(e.into()),
            ClientError::Rpc { .. } | ClientError::Decode { .. } => {
                self.report.call_errors += 1;
                if self.report.call_errors <= ERRORS_PRINTED {
                    eprintln!("soak: the node answered an error: {e}");
                }
            }
        }
        Ok(())
    }

    /// Tries to reach the node that is away; when it answers, every sender
    /// reads its nonce again. `false`: still away.
    async fn probe(&mut self) -> Result<bool> {
        let since = *self.down_since.get_or_insert_with(Instant::now);
        if self.last_probe.elapsed() < PROBE {
            return Ok(false);
        }
        self.last_probe = Instant::now();
        let attempt = async {
            let client = RpcClient::connect(self.url).await?;
            let id = client
                .chain_id()
                .await
                .map_err(|e| lanes_rpc::client::typed_error("eth_chainId", e))?;
            Ok::<_, ClientError>((client, id.to::<u64>()))
        };
        match bounded(self.url, attempt).await {
            Ok((client, id)) => {
                if id != self.chain_id {
                    let (url, expected) = (self.url.into(), self.chain_id);
                    return Err(SoakError::ChainChanged { url, expected, found: id });
                }
                let away = since.elapsed().as_secs_f64();
                self.report.down_seconds += away;
                self.down_since = None;
                self.connections = client.connections();
                self.client = Some(client);
                self.reconnected(&format!("node back after {away:.1}s"));
                Ok(true)
            }
            Err(e @ ClientError::Url(_)) => Err(e.into()),
            Err(_) if since.elapsed() > self.config.down_timeout => Err(SoakError::Unreachable {
                url: self.url.into(),
                seconds: self.config.down_timeout.as_secs(),
            }),
            Err(_) => Ok(false),
        }
    }

    /// Every sender reads its nonce again: the node may have restarted and
    /// lost its pool.
    fn reconnected(&mut self, what: &str) {
        self.report.reconnects += 1;
        eprintln!(
            "soak: {:.1}s {what}; reading every sender's nonce",
            self.started.elapsed().as_secs_f64()
        );
        let now = Instant::now();
        for s in &mut self.senders {
            s.resync_at = Some(now);
        }
        (self.tokens, self.last_fill) = (0.0, now);
    }

    /// A node that restarted between two calls is only seen as a reopened
    /// connection (the client reopens it on the next call).
    fn check_connection(&mut self) {
        let Some(opened) = self.client.as_ref().map(RpcClient::connections) else { return };
        if opened > self.connections {
            self.connections = opened;
            self.reconnected("connection to the node reopened");
        }
    }

    fn client(&self) -> Result<&RpcClient, ClientError> {
        self.client.as_ref().ok_or_else(|| ClientError::Transport {
            url: self.url.into(),
            what: "not connected".into(),
        })
    }

    /// Reads the nonce of every sender due (stalled, refused, or all after
    /// a reconnect) and rewinds it there: transactions the chain has stay
    /// in flight for their receipts, the rest are signed and sent again.
    async fn resync(&mut self) -> Result<(), ClientError> {
        let now = Instant::now();
        for s in &mut self.senders {
            let stall = self.config.stall;
            let stalled = s.inflight.front().is_some_and(|f| now - f.sent_at > stall)
                && s.resynced_at.is_none_or(|t| now - t > stall);
            if stalled && s.resync_at.is_none() {
                s.resync_at = Some(now);
            }
        }
        let due: Vec<usize> = (0..self.senders.len())
            .filter(|&i| self.senders[i].resync_at.is_some_and(|t| t <= now))
            .collect();
        for chunk in due.chunks(READ_BATCH) {
            let params = chunk.iter().map(|&i| json!([self.plan.accounts[i].address(), "latest"]));
            let counts =
                bounded(self.url, self.client()?.batch::<U64>("eth_getTransactionCount", params))
                    .await?;
            for (&i, count) in chunk.iter().zip(counts) {
                let on_chain = count?.to::<u64>();
                self.rewind(i, on_chain);
            }
        }
        Ok(())
    }

    fn rewind(&mut self, i: usize, on_chain: u64) {
        let give_up = 2 * self.config.stall;
        let s = &mut self.senders[i];
        if let Some(acked) = s.acked.filter(|a| *a >= on_chain) {
            self.report.nonce_regressions += 1;
            eprintln!(
                "soak: WARNING sender {i} ({}) is at nonce {on_chain} on chain, yet the receipt of its nonce {acked} was served",
                self.plan.accounts[i].address()
            );
        }
        // Below the nonce: included, so their receipts are due; one still
        // missing `give_up` after a nonce read first showed it included is
        // given up on (and reported). At or above it: lost, sent again.
        let now = Instant::now();
        let mut unreceipted = 0;
        s.inflight.retain_mut(|f| {
            if f.nonce >= on_chain {
                return false;
            }
            let due_since = *f.included_at.get_or_insert(now);
            let keep = now - due_since < give_up;
            unreceipted += usize::from(!keep);
            keep
        });
        if unreceipted > 0 {
            self.report.unreceipted += unreceipted as u64;
            eprintln!(
                "soak: WARNING sender {i}: {unreceipted} transaction(s) below its nonce {on_chain} got no receipt in {}s",
                give_up.as_secs()
            );
        }
        s.next = on_chain;
        s.resync_at = None;
        s.resynced_at = Some(now);
        self.report.resyncs += 1;
    }

    /// Signs and sends what the rate allows, round robin over the senders
    /// with room.
    async fn send_due(&mut self) -> Result<(), ClientError> {
        let now = Instant::now();
        let cap = self.config.rate.max(self.config.batch as f64);
        let elapsed = (now - self.last_fill).as_secs_f64();
        self.tokens = (self.tokens + self.config.rate * elapsed).min(cap);
        self.last_fill = now;
        let n = self.tokens.floor() as usize;
        let m = self.senders.len();
        let mut picked: Vec<(usize, u64, String)> = Vec::with_capacity(n);
        let mut scanned = 0;
        while picked.len() < n && scanned < m {
            let i = self.cursor;
            self.cursor = (self.cursor + 1) % m;
            let s = &mut self.senders[i];
            if s.resync_at.is_some() || s.inflight.len() >= self.config.depth {
                scanned += 1;
                continue;
            }
            scanned = 0;
            let nonce = s.next;
            let index = i + m * (nonce % self.per_sender) as usize;
            let (raw, hash) = self.plan.sign(index, nonce, self.chain_id, self.max_fee, self.tip);
            if s.highest_sent.is_some_and(|h| nonce <= h) {
                self.report.resent += 1;
            }
            s.highest_sent = Some(s.highest_sent.map_or(nonce, |h| h.max(nonce)));
            s.next += 1;
            s.inflight.push_back(InFlight { nonce, hash, sent_at: now, included_at: None });
            picked.push((i, nonce, quoted(&raw)));
        }
        self.tokens -= picked.len() as f64;
        for chunk in picked.chunks(self.config.batch.max(1)) {
            let quoted: Vec<String> = chunk.iter().map(|(_, _, q)| q.clone()).collect();
            self.report.sent += chunk.len() as u64;
            let results = bounded(self.url, self.client()?.send_raw_batch(&quoted)).await?;
            for ((i, nonce, _), result) in chunk.iter().zip(results) {
                let Err(e) = result else { continue };
                let reason = short_reason(&e.message);
                // A resend of what the pool or the chain already has.
                if reason.starts_with("already known") || reason.starts_with("nonce too low") {
                    continue;
                }
                self.report.refused += 1;
                *self
                    .report
                    .refused_by_reason
                    .entry(format!("{reason} ({})", e.code))
                    .or_default() += 1;
                let s = &mut self.senders[*i];
                s.inflight.retain(|f| f.nonce != *nonce);
                s.resync_at.get_or_insert(now + REFUSAL_BACKOFF);
            }
        }
        Ok(())
    }

    /// Asks for the receipt of every transaction in flight and writes those
    /// served.
    async fn poll(&mut self) -> Result<(), StepError> {
        let waiting: Vec<(usize, u64, B256)> = self
            .senders
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.inflight.iter().map(move |f| (i, f.nonce, f.hash)))
            .collect();
        for chunk in waiting.chunks(READ_BATCH) {
            let answers = bounded(
                self.url,
                self.client()?.batch::<Option<ServedReceipt>>(
                    "eth_getTransactionReceipt",
                    chunk.iter().map(|(_, _, h)| json!([h])),
                ),
            )
            .await?;
            let mut served = Vec::new();
            let mut error = None;
            for (&(i, nonce, hash), answer) in chunk.iter().zip(answers) {
                let r = match answer {
                    Ok(Some(r)) => r,
                    Ok(None) => continue,
                    Err(e) => {
                        error.get_or_insert(e);
                        continue;
                    }
                };
                served.push(AckedReceipt {
                    hash,
                    block_number: r.block_number.to::<u64>(),
                    block_hash: r.block_hash,
                    status: r.status.map_or(1, |s| s.to::<u64>()),
                    sender: i as u32,
                    nonce,
                });
            }
            // Written before anything else can fail.
            self.log.append(&served).map_err(StepError::Fatal)?;
            let hashes: HashSet<B256> = served.iter().map(|r| r.hash).collect();
            for r in &served {
                let s = &mut self.senders[r.sender as usize];
                s.acked = Some(s.acked.map_or(r.nonce, |a| a.max(r.nonce)));
                s.inflight.retain(|f| !hashes.contains(&f.hash));
                self.report.acknowledged += 1;
                self.report.failed += u64::from(r.status == 0);
            }
            if let Some(e) = error {
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Fetches receipts, sending nothing, until none is in flight, the
    /// drain timeout, or the node goes away.
    async fn drain(&mut self) -> Result<()> {
        let deadline = Instant::now() + self.config.drain_timeout;
        while self.client.is_some() && Instant::now() < deadline {
            if let Err(e) = self.poll().await {
                self.failed(e)?;
            }
            if self.senders.iter().all(|s| s.inflight.is_empty()) {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(())
    }

    fn finish(mut self) -> SoakReport {
        if let Some(since) = self.down_since {
            self.report.down_seconds += since.elapsed().as_secs_f64();
        }
        let seconds = self.started.elapsed().as_secs_f64();
        self.progress();
        let r = &mut self.report;
        r.seconds = seconds;
        r.unacknowledged = self.senders.iter().map(|s| s.inflight.len() as u64).sum();
        r.acknowledged_per_second =
            if seconds > 0.0 { r.acknowledged as f64 / seconds } else { 0.0 };
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AccessListMode, WorkloadConfig};

    fn in_flight(nonce: u64, included_at: Option<Instant>) -> InFlight {
        InFlight {
            nonce,
            hash: B256::with_last_byte(nonce as u8),
            sent_at: Instant::now(),
            included_at,
        }
    }

    #[test]
    fn rewind_keeps_the_included_resends_the_rest_and_flags_a_lost_receipt() {
        let dir = tempfile::tempdir().unwrap();
        let plan = Plan::new(WorkloadConfig {
            workload: Workload::Transfer,
            txs: 4,
            accounts: 2,
            zipf: None,
            pools: 1,
            hot_pool_share: 0.0,
            seed: 1,
            access_list: AccessListMode::Exact,
        })
        .unwrap();
        let config = SoakConfig {
            rate: 10.0,
            depth: 8,
            batch: 10,
            duration: None,
            receipts_out: dir.path().join("r.jsonl"),
            down_timeout: Duration::from_secs(1),
            stall: Duration::from_secs(15),
            drain_timeout: Duration::from_secs(1),
            funder: plan.deployer.clone(),
        };
        let now = Instant::now();
        let mut soak = Soak {
            plan: &plan,
            url: "http://127.0.0.1:1",
            config: &config,
            client: None,
            chain_id: 1,
            max_fee: 2,
            tip: 1,
            per_sender: 2,
            senders: (0..2).map(|_| Sender::default()).collect(),
            cursor: 0,
            tokens: 0.0,
            last_fill: now,
            last_probe: now,
            last_poll: now,
            last_progress: now,
            down_since: None,
            connections: 1,
            log: ReceiptLog::open(&config.receipts_out).unwrap(),
            started: now,
            report: SoakReport::default(),
        };
        // Nonces 0..=2 acknowledged, 3 and 4 in flight; the node restarted
        // with 3 included and 4 lost with its pool.
        let s = &mut soak.senders[0];
        (s.next, s.acked) = (5, Some(2));
        s.inflight.extend([in_flight(3, None), in_flight(4, None)]);
        soak.rewind(0, 4);
        let s = &soak.senders[0];
        assert_eq!(s.next, 4, "4 is signed and sent again");
        assert_eq!(s.inflight.iter().map(|f| f.nonce).collect::<Vec<_>>(), [3]);
        assert_eq!(soak.report.nonce_regressions, 0);

        // Included long ago and never receipted: given up on, and counted.
        let long_ago = now.checked_sub(Duration::from_secs(31)).unwrap();
        soak.senders[0].inflight[0].included_at = Some(long_ago);
        soak.rewind(0, 4);
        assert!(soak.senders[0].inflight.is_empty());
        assert_eq!(soak.report.unreceipted, 1);

        // The chain went back below a nonce whose receipt was served.
        soak.rewind(0, 2);
        assert_eq!((soak.senders[0].next, soak.report.nonce_regressions), (2, 1));
    }
}
