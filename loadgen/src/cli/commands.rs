//! `lanes-loadgen genesis`, `soak` and `verify-receipts`.

use std::sync::Arc;

use super::args::{GenesisArgs, SoakArgs, VerifyArgs};
use super::error::CliError;
use crate::{Key, Plan, SoakConfig, WorkloadConfig};

/// Writes a genesis with the workload's accounts funded and its contracts
/// deployed.
pub(super) fn genesis(args: GenesisArgs) -> Result<(), CliError> {
    let plan = Plan::new(WorkloadConfig { txs: 1, ..args.workload.config() })?;
    let genesis = crate::genesis::build(&plan, args.chain_id)?;
    let json = serde_json::to_vec_pretty(&genesis)?;
    std::fs::write(&args.out, json)
        .map_err(|source| CliError::Write { path: args.out.clone(), source })?;
    eprintln!(
        "wrote {}: chain id {}, {} accounts funded, {} setup transactions applied (seed {})",
        args.out.display(),
        args.chain_id,
        plan.accounts.len(),
        plan.setup.len(),
        plan.config.seed
    );
    eprintln!(
        "run a node on it: lanes-validator --genesis {} --data-dir <DIR>",
        args.out.display()
    );
    Ok(())
}

/// Sends at a steady rate until a signal or `--duration`, checking every
/// acknowledged transaction.
pub(super) fn soak(args: SoakArgs) -> Result<(), CliError> {
    let mut workload = args.workload.config();
    workload.txs = workload.txs.max(1).div_ceil(workload.accounts.max(1)) * workload.accounts;
    let plan = Arc::new(Plan::new(workload)?);
    let config = SoakConfig {
        rate: args.rate,
        depth: args.depth,
        batch: args.batch,
        duration: args.duration,
        receipts_out: args.receipts_out,
        down_timeout: args.down_timeout,
        stall: args.stall,
        drain_timeout: args.drain_timeout,
        funder: Key::from_hex(&args.funder_key).map_err(CliError::FunderKey)?,
    };
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    let report = runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(CliError::Signal)?;
        let mut int = signal(SignalKind::interrupt()).map_err(CliError::Signal)?;
        let stop = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        Ok::<_, CliError>(crate::soak::soak(plan, &args.rpc, &config, stop).await?)
    })?;
    let text = if args.json {
        serde_json::to_string_pretty(&report)
    } else {
        serde_json::to_string(&report)
    };
    println!("{}", text?);
    report.error.map_or(Ok(()), |e| Err(CliError::SoakStopped(e)))
}

/// Checks a soak's receipts file against the chain.
pub(super) fn verify_receipts(args: VerifyArgs) -> Result<(), CliError> {
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    let v = runtime.block_on(async {
        let client = lanes_rpc::client::RpcClient::connect(&args.rpc).await?;
        Ok::<_, CliError>(crate::receipts::verify(&client, &args.receipts).await?)
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "{} acknowledged in {} blocks, {} lost ({} gone, {} moved)",
            v.acknowledged, v.blocks, v.lost, v.gone, v.moved
        );
        for e in &v.examples {
            println!(
                "  lost {} (block {} {}): {}",
                e.acked.hash, e.acked.block_number, e.acked.block_hash, e.why
            );
        }
    }
    if v.lost > 0 {
        return Err(CliError::ReceiptsLost { lost: v.lost, acknowledged: v.acknowledged });
    }
    Ok(())
}
