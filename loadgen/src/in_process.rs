//! The in-process mode: no RPC, no ledger, the banking stage driven directly.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use alloy_primitives::B256;
use lanes_banking_stage::{BankingStage, BankingStageConfig};
use lanes_evm_adapter::{AdmissionLimits, EvmAdmission, EvmConfig, EvmExecutor};
use lanes_runtime::Chain;

use crate::config::{DEFAULT_TIP, RunConfig, Target, effective_batch};
use crate::error::{Result, RunError};
use crate::plan::Plan;
use crate::report::{Report, SetCounts};
use crate::submit::{Submitter, progress_bar, short_reason};
use crate::tracking::RunProgress;
use lanes_eth::genesis::ChainSpec;

/// Runs `plan` on an embedded banking stage over a temporary chain made
/// from the loadgen genesis; inclusions come from its produced blocks.
pub(crate) async fn run_in_process(
    plan: Arc<Plan>,
    threads: usize,
    block_time: Duration,
    config: &RunConfig,
) -> Result<Report> {
    let chain_id = config.chain_id;
    let setup_started = Instant::now();
    let dir =
        tempfile::Builder::new().prefix("lanes-loadgen-").tempdir().map_err(RunError::TempDir)?;
    let (stage, spec) = {
        let plan = plan.clone();
        let path = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || -> Result<_> {
            let geth = crate::genesis::build(&plan, chain_id)?;
            let spec = ChainSpec::from_geth(geth)?;
            let chain =
                Chain::create_with(&path, Default::default(), &spec.genesis, spec.bank_config())?;
            let executor = Arc::new(EvmExecutor::new(EvmConfig {
                spec: spec.spec,
                ..EvmConfig::new(chain_id)
            }));
            let admission = EvmAdmission::new(executor.clone(), AdmissionLimits::default());
            let stage = BankingStage::builder(executor, chain)
                .config(BankingStageConfig {
                    workers: threads.max(1),
                    block_time,
                    ..BankingStageConfig::default()
                })
                .admission(Arc::new(admission))
                .start();
            Ok((Arc::new(stage), spec))
        })
        .await??
    };
    let setup_seconds = setup_started.elapsed().as_secs_f64();
    let base_fee = u128::from(spec.genesis.base_fee);
    let (tip, max_fee) = (DEFAULT_TIP, 2 * base_fee + DEFAULT_TIP);

    let presign_started = Instant::now();
    let signed = {
        let plan = plan.clone();
        tokio::task::spawn_blocking(move || {
            plan.presign(&vec![0; plan.accounts.len()], chain_id, max_fee, tip)
        })
        .await?
    };
    let presign_seconds = presign_started.elapsed().as_secs_f64();
    let index: HashMap<B256, u32> =
        signed.iter().enumerate().map(|(i, (_, h))| (*h, i as u32)).collect();
    let raw = Arc::new(signed.into_iter().map(|(r, _)| r).collect::<Vec<_>>());

    let batch = effective_batch(config);
    let shared = Arc::new(RunProgress::new(plan.txs.len(), batch, config));
    let (bar, ticker) = progress_bar(&shared, config.progress);
    let tracker = {
        let (shared, stage, drain) = (shared.clone(), stage.clone(), config.drain_timeout);
        std::thread::spawn(move || {
            let mut width = (0u64, 0u64);
            let mut sets = SetCounts::default();
            let blocks = stage.blocks();
            while !shared.finished(drain) {
                let Ok(produced) = blocks.recv_timeout(Duration::from_millis(50)) else { continue };
                let at = shared.now();
                let number = produced.block.header.number;
                shared.blocks_seen(1);
                let stats = &produced.stats;
                let header = &produced.block.header;
                let widest = produced.block.entries.iter().map(|e| e.txs.len() as u64).max();
                shared.block_facts.lock().push(crate::report::BlockFacts {
                    number,
                    seen_ns: at,
                    timestamp: header.timestamp,
                    gas_used: stats.gas_used,
                    gas_limit: header.gas_limit,
                    size: 0,
                    transactions: stats.transactions as u64,
                    entries: Some(stats.entries as u64),
                    widest,
                    declared: Some(stats.declared as u64),
                    known: Some(stats.known as u64),
                    predicted: Some(stats.predicted as u64),
                    exclusive: Some(stats.exclusive as u64),
                });
                width.0 += stats.transactions as u64;
                width.1 += stats.entries as u64;
                sets.declared += stats.declared as u64;
                sets.known += stats.known as u64;
                sets.predicted += stats.predicted as u64;
                sets.exclusive += stats.exclusive as u64;
                sets.mispredicted += stats.mispredicted;
                sets.predictions_held += stats.predictions_held as u64;
                sets.over_predicted += stats.over_predicted as u64;
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
            (width, sets)
        })
    };
    let mut senders = Vec::new();
    for _ in 0..config.connections {
        let submitter = Submitter::InProcess { stage: stage.clone(), raw: raw.clone() };
        senders.push(tokio::spawn(submitter.run(shared.clone(), config.mode)));
    }
    let mut send_error = None;
    for s in senders {
        if let Err(e) = s.await? {
            send_error.get_or_insert(e);
        }
    }
    let (width, sets) = tokio::task::spawn_blocking(move || tracker.join())
        .await?
        .map_err(|_| RunError::TrackerPanicked)?;
    ticker.abort();
    bar.finish_and_clear();
    if let Some(e) = send_error {
        let to = "the embedded banking stage".to_string();
        return Err(RunError::Send { to, source: Box::new(e) });
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
    report.sets = Some(sets);
    tokio::task::spawn_blocking(move || {
        if let Ok(mut stage) = Arc::try_unwrap(stage) {
            let _ = stage.shutdown();
        }
        drop(dir);
    })
    .await?;
    Ok(report)
}
