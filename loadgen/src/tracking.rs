//! What the senders and the tracker share during a run, and the tracking of
//! inclusions from a node's blocks.

use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use alloy_primitives::{B256, U64};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::config::{Mode, POLL, RunConfig};
use crate::error::{Result, RunError};
use crate::plan::Plan;
use crate::report::{BlockFacts, Latency, Report, SendTiming, Timeline, TxTimes};
use crate::wire::{hex, typed};
use lanes_rpc::api::EthApiClient;
use lanes_rpc::client::{ClientError, RpcClient};

/// What the senders and the tracker share.
pub(crate) struct RunProgress {
    pub(crate) total: usize,
    pub(crate) batch: usize,
    pub(crate) start: Instant,
    /// With `--duration`: senders take no batch after this.
    pub(crate) send_until: Option<Instant>,
    /// Senders take no batch once it is set ([`RunConfig::stop`]).
    pub(crate) stop_sending: Option<std::sync::Arc<AtomicBool>>,
    /// Nanoseconds from `start` to the (scheduled) send, plus 1; 0: unsent.
    pub(crate) sent_at: Vec<AtomicU64>,
    /// Nanoseconds from `start` to the moment the block was seen, plus 1.
    included_at: Vec<AtomicU64>,
    /// The block that included it.
    included_in: Vec<AtomicU64>,
    /// The blocks that included the run's transactions, as served.
    pub(crate) block_facts: Mutex<Vec<BlockFacts>>,
    /// Each send batch's round trip.
    pub(crate) sends: Mutex<Vec<SendTiming>>,
    pub(crate) next_batch: AtomicUsize,
    senders_left: AtomicUsize,
    sending_done_at: AtomicU64,
    /// When a send or an inclusion last happened (as `sent_at`).
    pub(crate) last_progress: AtomicU64,
    pub(crate) aborted: AtomicBool,
    pub(crate) sent: AtomicU64,
    pub(crate) accepted: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) included: AtomicU64,
    pub(crate) failed: AtomicU64,
    reasons: Mutex<BTreeMap<String, u64>>,
    blocks: Mutex<BTreeSet<u64>>,
    pub(crate) permits: Option<Semaphore>,
    /// New blocks seen since the start (per-block pacing waits on it).
    pub(crate) new_blocks: AtomicU64,
    pub(crate) block_seen: tokio::sync::Notify,
}

impl RunProgress {
    pub(crate) fn new(total: usize, batch: usize, config: &RunConfig) -> Self {
        let (senders, mode) = (config.connections, config.mode);
        let atomics = || (0..total).map(|_| AtomicU64::new(0)).collect();
        let start = Instant::now();
        Self {
            total,
            batch,
            start,
            send_until: config.duration.map(|d| start + d),
            stop_sending: config.stop.clone(),
            sent_at: atomics(),
            included_at: atomics(),
            included_in: atomics(),
            block_facts: Mutex::default(),
            sends: Mutex::default(),
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
                Mode::Rate(_) | Mode::PerBlock(_) => None,
            },
            new_blocks: AtomicU64::new(0),
            block_seen: tokio::sync::Notify::new(),
        }
    }

    pub(crate) fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64 + 1
    }

    pub(crate) fn reject(&self, reason: String) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        *self.reasons.lock().entry(reason).or_default() += 1;
        if let Some(p) = &self.permits {
            p.add_permits(1);
        }
    }

    pub(crate) fn include(&self, index: usize, at: u64, block: u64) {
        if self.included_at[index]
            .compare_exchange(0, at, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.included_in[index].store(block, Ordering::Relaxed);
            self.included.fetch_add(1, Ordering::Relaxed);
            self.last_progress.fetch_max(at, Ordering::Relaxed);
            self.blocks.lock().insert(block);
            if let Some(p) = &self.permits {
                p.add_permits(1);
            }
        }
    }

    /// The tracker saw `n` new blocks.
    pub(crate) fn blocks_seen(&self, n: u64) {
        if n > 0 {
            self.new_blocks.fetch_add(n, Ordering::Release);
            self.block_seen.notify_waiters();
        }
    }

    /// The inclusion latencies so far, in nanoseconds, and the included
    /// count (for the live progress line).
    pub(crate) fn latencies(&self) -> Vec<u64> {
        let pairs = self.sent_at.iter().zip(&self.included_at);
        pairs
            .filter_map(|(s, i)| {
                let (s, i) = (s.load(Ordering::Relaxed), i.load(Ordering::Relaxed));
                (s > 0 && i > 0).then(|| i.saturating_sub(s))
            })
            .collect()
    }

    pub(crate) fn sender_finished(&self) {
        if self.senders_left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.sending_done_at.store(self.now(), Ordering::Release);
        }
    }

    /// Every transaction sent and accounted for, or the drain time is up, or
    /// nothing was sent or included for that long (a closed loop whose
    /// window is full of transactions the node will never include).
    pub(crate) fn finished(&self, drain: Duration) -> bool {
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
    pub(crate) fn stop(&self) {
        self.aborted.store(true, Ordering::Release);
        if let Some(p) = &self.permits {
            p.close();
        }
    }

    pub(crate) fn report(
        &self,
        plan: &Plan,
        target: String,
        mode: Mode,
        failed: Option<u64>,
    ) -> Report {
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
        // Included while the run was still sending: the load the node kept
        // up with; the rest came in the drain after it.
        let observed = self
            .included_at
            .iter()
            .map(|i| i.load(Ordering::Relaxed))
            .filter(|&i| i > 0 && i <= done)
            .count() as u64;
        let secs = |ns: u64| ns as f64 / 1e9;
        let send_seconds = secs(done.saturating_sub(first_sent.min(done)));
        let window = secs(last_included.saturating_sub(first_sent.min(last_included)));
        let sent = self.sent.load(Ordering::Relaxed);
        let included = self.included.load(Ordering::Relaxed);
        let rejected = self.rejected.load(Ordering::Relaxed);
        let per_second = |n: u64, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
        // Before the literal: its lock guards live to the statement's end.
        let timeline = self.timeline();
        let blocks = self.blocks.lock().len() as u64;
        let rejected_by_reason = self.reasons.lock().clone();
        Report {
            target,
            node: None,
            workload: plan.name.clone(),
            txs: plan.txs.len(),
            accounts: plan.accounts.len(),
            mode: mode.to_string(),
            submitted: sent,
            accepted: self.accepted.load(Ordering::Relaxed),
            rejected,
            rejected_by_reason,
            included,
            failed,
            not_included: sent.saturating_sub(included + rejected),
            send_seconds,
            window_seconds: window,
            sent_per_second: per_second(sent, send_seconds),
            included_per_second: per_second(included, window),
            observed: observed.min(included),
            late: included.saturating_sub(observed),
            observed_per_second: per_second(observed.min(included), send_seconds),
            latency_ms: Latency::of(&mut latencies),
            blocks,
            sync_latency_ms: None,
            mean_entry_width: None,
            sets: None,
            setup_seconds: 0.0,
            presign_seconds: 0.0,
            timeline,
        }
    }

    /// Each transaction's times, the blocks and the sends, as seen so far.
    fn timeline(&self) -> Timeline {
        let txs = (0..self.total)
            .map(|i| TxTimes {
                sent_ns: self.sent_at[i].load(Ordering::Relaxed),
                included_ns: self.included_at[i].load(Ordering::Relaxed),
                block: self.included_in[i].load(Ordering::Relaxed),
            })
            .collect();
        let included: BTreeSet<u64> = self.blocks.lock().clone();
        let mut blocks: Vec<BlockFacts> = self.block_facts.lock().clone();
        blocks.retain(|b| included.contains(&b.number));
        blocks.sort_by_key(|b| b.number);
        blocks.dedup_by_key(|b| b.number);
        Timeline { txs, blocks, sends: self.sends.lock().clone() }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockHashes {
    transactions: Vec<B256>,
    #[serde(default)]
    timestamp: Option<U64>,
    #[serde(default)]
    gas_used: Option<U64>,
    #[serde(default)]
    gas_limit: Option<U64>,
    #[serde(default)]
    size: Option<U64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReceiptStatus {
    pub(crate) transaction_hash: B256,
    pub(crate) status: Option<U64>,
}

/// Follows new blocks until the run is finished: each block's transaction
/// hashes mark inclusions (one `eth_getBlockByNumber` per block, batched).
pub(crate) async fn track_rpc(
    client: &RpcClient,
    shared: &RunProgress,
    index: &HashMap<B256, u32>,
    from_block: u64,
    drain: Duration,
) -> Result<()> {
    let mut next = from_block + 1;
    while !shared.finished(drain) {
        let head = client.block_number().await.map_err(typed("eth_blockNumber"))?.to::<u64>();
        while next <= head {
            let to = head.min(next + 99);
            let blocks = client
                .batch::<Option<BlockHashes>>(
                    "eth_getBlockByNumber",
                    (next..=to).map(|n| json!([hex(n), false])),
                )
                .await?;
            let at = shared.now();
            for (number, block) in (next..=to).zip(blocks) {
                let Some(block) = block? else {
                    let url = client.url().into();
                    return Err(RunError::MissingBlock { url, number, head });
                };
                let n = |v: Option<U64>| v.map_or(0, |v| v.to::<u64>());
                let mut ours = false;
                for hash in &block.transactions {
                    if let Some(&i) = index.get(hash) {
                        shared.include(i as usize, at, number);
                        ours = true;
                    }
                }
                if ours {
                    shared.block_facts.lock().push(BlockFacts {
                        number,
                        seen_ns: at,
                        timestamp: n(block.timestamp),
                        gas_used: n(block.gas_used),
                        gas_limit: n(block.gas_limit),
                        size: n(block.size),
                        transactions: block.transactions.len() as u64,
                        ..BlockFacts::default()
                    });
                }
            }
            shared.blocks_seen(to + 1 - next);
            next = to + 1;
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}

/// Failed (status 0) transactions of the run, from `eth_getBlockReceipts`
/// of the blocks that included them; `None` where the node lacks it.
pub(crate) async fn count_failed(
    client: &RpcClient,
    shared: &RunProgress,
    index: &HashMap<B256, u32>,
) -> Result<Option<u64>> {
    let blocks: Vec<u64> = shared.blocks.lock().iter().copied().collect();
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
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(failed))
}
