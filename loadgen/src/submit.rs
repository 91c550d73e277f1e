//! The senders of the timed phase: batches of presigned transactions to a
//! node (or an embedded banking stage), paced open or closed loop.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use alloy_primitives::Bytes;
use indicatif::{ProgressBar, ProgressStyle};
use lanes_banking_stage::BankingStage;
use lanes_evm_adapter::EvmExecutor;

use crate::config::Mode;
use crate::error::Result;
use crate::tracking::RunProgress;
use lanes_rpc::client::{RpcClient, RpcErrorObject};

/// The short form of a refusal, to group by: the message up to its first
/// `:` (what follows names the transaction's own numbers), at most 80 chars.
pub(crate) fn short_reason(message: &str) -> String {
    message.split(':').next().unwrap_or_default().trim().chars().take(80).collect()
}

/// A node's refusal to group by: its short form and the code.
fn reason(e: &RpcErrorObject) -> String {
    format!("{} ({})", short_reason(&e.message), e.code)
}

/// Most bytes of raw transactions (hex) one JSON-RPC batch carries.
const MAX_BATCH_BYTES: usize = 1 << 20;

/// Every this many batches, one transaction goes by
/// `eth_sendRawTransactionSync` (where the node has it), timed to its receipt.
pub(crate) const SYNC_SAMPLE_EVERY: usize = 20;

/// The sampled `eth_sendRawTransactionSync` sends: on a connection of their
/// own, one at a time (a batch due while one waits is sent as usual), so
/// the senders never wait for an inclusion.
pub(crate) struct SyncProbe {
    client: RpcClient,
    busy: std::sync::atomic::AtomicBool,
}

impl SyncProbe {
    pub(crate) fn new(client: RpcClient) -> Self {
        Self { client, busy: false.into() }
    }

    /// Takes the probe if it is free: whether `quoted[i]` went to it.
    fn try_send(self: &Arc<Self>, raw: &str, shared: &Arc<RunProgress>) -> bool {
        if self.busy.swap(true, Ordering::AcqRel) {
            return false;
        }
        let raw: serde_json::Value = serde_json::from_str(raw).unwrap_or_default();
        let (probe, shared) = (self.clone(), shared.clone());
        tokio::spawn(async move {
            let went = shared.now();
            let params = serde_json::json!([raw]);
            let answer =
                probe.client.call::<serde_json::Value>("eth_sendRawTransactionSync", params).await;
            shared.sends.lock().push(crate::report::SendTiming {
                method: "eth_sendRawTransactionSync".into(),
                at_ns: went,
                took_ns: shared.now().saturating_sub(went),
                count: 1,
            });
            match answer {
                Ok(_) => drop(shared.accepted.fetch_add(1, Ordering::Relaxed)),
                Err(lanes_rpc::client::ClientError::Rpc { error, .. }) => {
                    shared.reject(reason(&error))
                }
                Err(e) => shared.reject(format!(
                    "eth_sendRawTransactionSync: {}",
                    short_reason(&e.to_string())
                )),
            }
            probe.busy.store(false, Ordering::Release);
        });
        true
    }
}

/// Sends transactions until every batch is taken.
pub(crate) enum Submitter {
    /// `sync`: where the node has `eth_sendRawTransactionSync` (probed once).
    Rpc {
        client: RpcClient,
        quoted: Arc<Vec<String>>,
        sync: Option<Arc<SyncProbe>>,
    },
    InProcess {
        stage: Arc<BankingStage<EvmExecutor>>,
        raw: Arc<Vec<Bytes>>,
    },
}

impl Submitter {
    /// Sends `range`; per transaction not handed to the sync probe, `Ok` or
    /// the refusal's short reason (what the report groups by, not an error).
    async fn send(
        &mut self,
        range: Range<usize>,
        sample: bool,
        shared: &Arc<RunProgress>,
    ) -> Result<Vec<Result<(), String>>> {
        match self {
            Submitter::Rpc { client, quoted, sync } => {
                let mut rest = range.clone();
                let probe = sync.as_ref().filter(|_| sample);
                if probe.is_some_and(|p| p.try_send(&quoted[range.start], shared)) {
                    rest.start += 1;
                }
                if rest.is_empty() {
                    return Ok(Vec::new());
                }
                // Blob transactions are large: a batch stays under a body
                // every node takes (anvil's limit is 2 MiB), in as many as it takes.
                let mut answers = Vec::with_capacity(rest.len());
                let mut at = rest.start;
                while at < rest.end {
                    let mut end = at + 1;
                    let mut bytes = quoted[at].len();
                    while end < rest.end && bytes + quoted[end].len() <= MAX_BATCH_BYTES {
                        bytes += quoted[end].len();
                        end += 1;
                    }
                    answers.extend(client.send_raw_batch(&quoted[at..end]).await?);
                    at = end;
                }
                Ok(answers.into_iter().map(|r| r.map_err(|e| reason(&e))).collect())
            }
            Submitter::InProcess { stage, raw } => {
                let raws = raw[range].to_vec();
                let stage = stage.clone();
                let results = tokio::task::spawn_blocking(move || stage.submit_many(raws)).await?;
                Ok(results
                    .into_iter()
                    .map(|r| r.map(drop).map_err(|e| short_reason(&e.to_string())))
                    .collect())
            }
        }
    }

    pub(crate) async fn run(mut self, shared: Arc<RunProgress>, mode: Mode) -> Result<()> {
        let result = async {
            loop {
                if shared.aborted.load(Ordering::Acquire) {
                    return Ok(());
                }
                if shared.send_until.is_some_and(|t| Instant::now() >= t)
                    || shared.stop_sending.as_ref().is_some_and(|s| s.load(Ordering::Relaxed))
                {
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
                    Mode::PerBlock(n) => {
                        // Batch `start` may go once the node has made
                        // start / n blocks since the run began.
                        let due = (start / n.max(1)) as u64;
                        loop {
                            let seen = shared.block_seen.notified();
                            if shared.new_blocks.load(Ordering::Acquire) >= due
                                || shared.aborted.load(Ordering::Acquire)
                            {
                                break;
                            }
                            let _ = tokio::time::timeout(Duration::from_millis(50), seen).await;
                        }
                        if shared.aborted.load(Ordering::Acquire) {
                            return Ok(());
                        }
                        shared.now()
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
                let (count, went) = (range.len() as u64, shared.now());
                let sample = k.is_multiple_of(SYNC_SAMPLE_EVERY);
                let results = self.send(range, sample, &shared).await?;
                let method = match self {
                    Submitter::Rpc { .. } => "eth_sendRawTransaction",
                    Submitter::InProcess { .. } => "submit",
                };
                shared.sends.lock().push(crate::report::SendTiming {
                    method: method.into(),
                    at_ns: went,
                    took_ns: shared.now().saturating_sub(went),
                    count,
                });
                for result in results {
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

pub(crate) fn progress_bar(
    shared: &Arc<RunProgress>,
    show: bool,
) -> (ProgressBar, tokio::task::JoinHandle<()>) {
    let bar = if show { ProgressBar::new(shared.total as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:20}] {pos}/{len} included  {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let ticker = {
        let (bar, shared) = (bar.clone(), shared.clone());
        tokio::spawn(async move {
            // (when, included) every tick, for the rate over the last 10 s.
            let mut window: std::collections::VecDeque<(Instant, u64)> = Default::default();
            let mut p50 = String::from("-");
            for tick in 0u64.. {
                let (sent, included) =
                    (shared.sent.load(Ordering::Relaxed), shared.included.load(Ordering::Relaxed));
                let in_flight =
                    sent.saturating_sub(included + shared.rejected.load(Ordering::Relaxed));
                let now = Instant::now();
                window.push_back((now, included));
                while window.front().is_some_and(|(t, _)| now - *t > Duration::from_secs(10)) {
                    window.pop_front();
                }
                let rate = |(t, n): (Instant, u64)| {
                    let secs = (now - t).as_secs_f64();
                    if secs > 0.0 { (included - n) as f64 / secs } else { 0.0 }
                };
                let recent = window.front().copied().map_or(0.0, rate);
                let overall = rate((shared.start, 0));
                if tick % 10 == 0 {
                    let mut l = shared.latencies();
                    if !l.is_empty() {
                        let mid = l.len() / 2;
                        p50 = format!("{:.0} ms", *l.select_nth_unstable(mid).1 as f64 / 1e6);
                    }
                }
                bar.set_position(included);
                bar.set_message(format!(
                    "sent {sent}  in flight {in_flight}  {recent:.0} tx/s (10 s)  {overall:.0} tx/s overall  p50 {p50}"
                ));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    (bar, ticker)
}
