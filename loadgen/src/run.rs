//! One run against one target: setup (RPC targets, `setup.rs`), presigning,
//! the timed phase (open or closed loop, `submit.rs`), inclusion tracked from
//! blocks (`tracking.rs`), the report. The in-process target is
//! `in_process.rs`.
//!
//! The node is asked for lanes_* and the plain reads through the typed
//! clients of [`lanes_rpc::api`]; the timed phase sends hand-built
//! batches ([`RpcClient::send_raw_batch`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::{B256, U64};
use serde_json::{Value, json};

use crate::config::{RunConfig, SETUP_BATCH, Target, effective_batch};
use crate::error::{Result, RunError};
use crate::in_process::run_in_process;
use crate::plan::Plan;
use crate::report::{Latency, Report, SetCounts};
use crate::setup::setup;
use crate::submit::{Submitter, SyncProbe, progress_bar};
use crate::tracking::{RunProgress, count_failed, track_rpc};
use crate::wire::{fees, quoted, typed};
use lanes_rpc::api::{EthApiClient, LanesApiClient, Web3ApiClient};
use lanes_rpc::client::{ClientError, RpcClient};
use lanes_rpc::types::NodeStats;

/// Runs `plan` against `target`.
pub async fn run(plan: Arc<Plan>, target: &Target, config: &RunConfig) -> Result<Report> {
    match target {
        Target::Rpc(url) => run_rpc(plan, url, config).await,
        Target::InProcess { threads, block_time } => {
            run_in_process(plan, *threads, *block_time, config).await
        }
        Target::Sink => {
            let at =
                crate::sink::start(([127, 0, 0, 1], 0).into()).await.map_err(RunError::Sink)?;
            let mut report = run_rpc(plan, &format!("http://{at}"), config).await?;
            report.target = target.to_string();
            Ok(report)
        }
    }
}

/// Runs `scenario` against `target`: its contracts deployed and its setup
/// made on the node first (counted in the report's setup time).
pub async fn run_scenario(
    scenario: &crate::Scenario,
    options: &crate::ScenarioOptions,
    target: &Target,
    config: &RunConfig,
) -> Result<Report> {
    let started = Instant::now();
    let plan = prepare_scenario(scenario, options, target, config).await?;
    let prepared = started.elapsed().as_secs_f64();
    let mut report = run(Arc::new(plan), target, config).await?;
    report.setup_seconds += prepared;
    Ok(report)
}

/// Runs `plan` against `target` round after round, each signed with the
/// accounts' next nonces (and its setup topping up the accounts that ran
/// short), until SIGINT or SIGTERM or `duration`; `each` hears every
/// round's report as it ends. Answers the transactions included in all and
/// the rounds' windows in seconds.
pub async fn forever(
    plan: Arc<Plan>,
    target: &Target,
    config: RunConfig,
    duration: Option<Duration>,
    mut each: impl FnMut(u64, &Report),
) -> Result<(u64, f64)> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::signal::unix::{SignalKind, signal};
    let stop = Arc::new(AtomicBool::new(false));
    let config = RunConfig { stop: Some(stop.clone()), ..config };
    let signal_error = |e| RunError::Signal(e);
    let mut term = signal(SignalKind::terminate()).map_err(signal_error)?;
    let mut int = signal(SignalKind::interrupt()).map_err(signal_error)?;
    let deadline = duration.map(|d| tokio::time::Instant::now() + d);
    let stopper = stop.clone();
    let watch = tokio::spawn(async move {
        let until = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
            _ = until => {}
        }
        stopper.store(true, Ordering::Relaxed);
    });
    let (mut included, mut seconds) = (0u64, 0.0f64);
    for round in 1.. {
        let report = run(plan.clone(), target, &config).await?;
        included += report.included;
        seconds += report.window_seconds;
        each(round, &report);
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    watch.abort();
    Ok((included, seconds))
}

/// Deploys and sets up `scenario` on `target` and draws its spam: the plan
/// to run (once, or truncated per step of a ramp).
pub async fn prepare_scenario(
    scenario: &crate::Scenario,
    options: &crate::ScenarioOptions,
    target: &Target,
    config: &RunConfig,
) -> Result<Plan> {
    let Target::Rpc(url) = target else { return Err(RunError::ScenarioInProcess) };
    let client = RpcClient::connect(url).await?;
    let chain_id = client.chain_id().await.map_err(typed("eth_chainId"))?.to::<u64>();
    let (max_fee, tip) = fees(&client).await?;
    let fees = (chain_id, max_fee, tip);
    crate::scenario::prepare(scenario, options, &client, &config.funder, fees).await
}

async fn run_rpc(plan: Arc<Plan>, url: &str, config: &RunConfig) -> Result<Report> {
    let client = RpcClient::connect(url).await?;
    let chain_id = client.chain_id().await.map_err(typed("eth_chainId"))?.to::<u64>();
    let node = client.client_version().await.ok();
    let (max_fee, tip) = fees(&client).await?;

    let setup_started = Instant::now();
    setup(&client, &plan, &config.funder, chain_id, max_fee, tip).await?;
    let setup_seconds = setup_started.elapsed().as_secs_f64();

    let addresses: Vec<Value> =
        plan.accounts.iter().map(|k| json!([k.address(), "pending"])).collect();
    let mut nonces = Vec::with_capacity(addresses.len());
    for chunk in addresses.chunks(SETUP_BATCH) {
        for n in client.batch::<U64>("eth_getTransactionCount", chunk.iter().cloned()).await? {
            nonces.push(n?.to::<u64>());
        }
    }
    let presign_started = Instant::now();
    let signed = {
        let plan = plan.clone();
        tokio::task::spawn_blocking(move || {
            let signed = plan.presign(&nonces, chain_id, max_fee, tip);
            let quoted: Vec<String> = signed.iter().map(|(raw, _)| quoted(raw)).collect();
            (quoted, signed.into_iter().map(|(_, h)| h).collect::<Vec<_>>())
        })
        .await?
    };
    let (quoted, hashes) = signed;
    let index: HashMap<B256, u32> =
        hashes.iter().enumerate().map(|(i, h)| (*h, i as u32)).collect();
    let presign_seconds = presign_started.elapsed().as_secs_f64();

    // Other nodes lack lanes_stats: the report then has no entry width.
    let stats_before = client.stats().await.ok();
    let from_block = client.block_number().await.map_err(typed("eth_blockNumber"))?;
    let batch = effective_batch(config);
    let shared = Arc::new(RunProgress::new(plan.txs.len(), batch, config));
    let (bar, ticker) = progress_bar(&shared, config.progress);
    let quoted = Arc::new(quoted);
    let sync = match config.sync_sample && has_sync_send(&client).await {
        true => Some(Arc::new(SyncProbe::new(RpcClient::connect(url).await?))),
        false => None,
    };
    let mut senders = Vec::new();
    for _ in 0..config.connections {
        let client = RpcClient::connect(url).await?;
        let submitter = Submitter::Rpc { client, quoted: quoted.clone(), sync: sync.clone() };
        senders.push(tokio::spawn(submitter.run(shared.clone(), config.mode)));
    }
    let tracked =
        track_rpc(&client, &shared, &index, from_block.to::<u64>(), config.drain_timeout).await;
    shared.stop();
    let mut send_error = None;
    for s in senders {
        if let Err(e) = s.await? {
            send_error.get_or_insert(e);
        }
    }
    ticker.abort();
    bar.finish_and_clear();
    tracked?;
    if let Some(e) = send_error {
        return Err(RunError::Send { to: url.into(), source: Box::new(e) });
    }

    let failed = count_failed(&client, &shared, &index).await?;
    entries_of_blocks(&client, &shared).await?;
    let stats_after = client.stats().await.ok();
    let mut report = shared.report(&plan, url.to_string(), config.mode, failed);
    report.node = node;
    report.setup_seconds = setup_seconds;
    report.presign_seconds = presign_seconds;
    report.mean_entry_width = entry_width(stats_before.as_ref(), stats_after.as_ref());
    report.sets = set_counts(stats_before.as_ref(), stats_after.as_ref());
    let mut sync_ns: Vec<u64> = report
        .timeline
        .sends
        .iter()
        .filter(|s| s.method == "eth_sendRawTransactionSync")
        .map(|s| s.took_ns)
        .collect();
    report.sync_latency_ms = (!sync_ns.is_empty()).then(|| Latency::of(&mut sync_ns));
    Ok(report)
}

/// Whether the node has `eth_sendRawTransactionSync`: asked once with an
/// empty transaction, which a node with the method refuses as undecodable
/// and one without as an unknown method.
async fn has_sync_send(client: &RpcClient) -> bool {
    match client.call::<Value>("eth_sendRawTransactionSync", json!(["0x"])).await {
        Err(ClientError::Rpc { error, .. }) => error.code != -32601,
        Ok(_) => true,
        Err(_) => false,
    }
}

/// On lanes, how each block of the run ran (`lanes_getBlockEntries`):
/// entries, the widest, where sets came from. Other nodes lack the method.
async fn entries_of_blocks(client: &RpcClient, shared: &RunProgress) -> Result<()> {
    use lanes_rpc::types::SetSource;
    let numbers: Vec<u64> = shared.block_facts.lock().iter().map(|b| b.number).collect();
    for number in numbers {
        let tag = alloy_eips::BlockNumberOrTag::Number(number);
        let entries = match client.get_block_entries(tag.into()).await {
            Ok(Some(entries)) => entries,
            Ok(None) => continue,
            Err(_) => return Ok(()), // not lanes
        };
        let count = |source: SetSource| {
            let all = entries.entries.iter().flat_map(|e| e.sources.iter());
            Some(all.filter(|s| **s == source).count() as u64)
        };
        let mut facts = shared.block_facts.lock();
        for b in facts.iter_mut().filter(|b| b.number == number) {
            b.entries = Some(entries.entries.len() as u64);
            b.widest = entries.entries.iter().map(|e| e.width).max();
            b.declared = count(SetSource::Declared);
            b.known = count(SetSource::Known);
            b.predicted = count(SetSource::Predicted);
            b.exclusive = count(SetSource::Exclusive);
        }
    }
    Ok(())
}

/// The set sources between two `lanes_stats` answers.
fn set_counts(before: Option<&NodeStats>, after: Option<&NodeStats>) -> Option<SetCounts> {
    let (b, a) = (before?, after?);
    a.transactions.checked_sub(b.transactions)?;
    Some(SetCounts {
        declared: a.declared.saturating_sub(b.declared),
        known: a.known.saturating_sub(b.known),
        predicted: a.predicted.saturating_sub(b.predicted),
        exclusive: a.exclusive.saturating_sub(b.exclusive),
        mispredicted: a.mispredicted.saturating_sub(b.mispredicted),
        predictions_held: a.predictions_held.saturating_sub(b.predictions_held),
        over_predicted: a.over_predicted.saturating_sub(b.over_predicted),
    })
}

/// Transactions per entry between two `lanes_stats` answers.
fn entry_width(before: Option<&NodeStats>, after: Option<&NodeStats>) -> Option<f64> {
    let (before, after) = (before?, after?);
    let txs = after.transactions.checked_sub(before.transactions)?;
    let entries = after.entries.checked_sub(before.entries)?;
    (entries > 0).then(|| txs as f64 / entries as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_entry_width_needs_both_answers() {
        let at = |transactions, entries| NodeStats { transactions, entries, ..Default::default() };
        assert_eq!(entry_width(Some(&at(10, 5)), Some(&at(40, 15))), Some(3.0));
        assert_eq!(entry_width(None, Some(&at(40, 15))), None, "not a lanes node");
        assert_eq!(entry_width(Some(&at(10, 5)), Some(&at(10, 5))), None, "no new entry");
        assert_eq!(entry_width(Some(&at(10, 5)), Some(&at(0, 0))), None, "a restarted node");
    }
}
