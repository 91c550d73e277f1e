//! `lanes-loadgen reads` and `lanes-loadgen sink`.

use std::path::PathBuf;
use std::time::Duration;

use crate::store::{RunStore, default_path};
use clap::Args;

use super::error::CliError;
use super::rate::{Rate, parse_rate};

#[derive(Args)]
pub(crate) struct ReadsArgs {
    /// A node's JSON-RPC URL; give it twice or more to sweep each in turn.
    #[arg(long, value_name = "URL", required = true)]
    pub(crate) rpc: Vec<String>,
    /// Calls per second of each step: `R1,R2,…`, or `A..B` with --step.
    #[arg(long, value_name = "RATES", default_value = "100,500,1000,2000")]
    pub(crate) rates: String,
    /// A ramp's rise per step, calls/s (default: a tenth of the range).
    #[arg(long, value_name = "R")]
    pub(crate) step: Option<f64>,
    /// How long each rate sends.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = lanes_rpc::parse_duration)]
    pub(crate) duration: Duration,
    /// Methods and weights.
    #[arg(long, default_value = crate::reads::DEFAULT_MIX, value_parser = crate::reads::parse_mix)]
    pub(crate) mix: std::vec::Vec<(crate::ReadMethod, u32)>,
    /// Keep-alive connections (each carries one call at a time).
    #[arg(long, default_value_t = 32)]
    pub(crate) connections: usize,
    /// A call unanswered this long after it was due is an error.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = lanes_rpc::parse_duration)]
    pub(crate) timeout: Duration,
    /// Recent blocks read for the calls' parameters.
    #[arg(long, default_value_t = 256)]
    pub(crate) sample_blocks: u64,
    /// Seeds the draws.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Stop at the first rate whose p99 passes this (or with over 1%
    /// errors), and print the highest rate that held.
    #[arg(long, value_name = "DURATION", value_parser = lanes_rpc::parse_duration)]
    latency_p99: Option<Duration>,
    /// Print the report(s) as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Keep the sweep in this runs database (default as `runs --db`).
    #[arg(long, value_name = "FILE", conflicts_with = "no_db")]
    pub(crate) db: Option<PathBuf>,
    /// Keep nothing.
    #[arg(long)]
    pub(crate) no_db: bool,
}

#[derive(Args)]
pub(crate) struct SinkArgs {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8546")]
    pub(crate) listen: std::net::SocketAddr,
}

/// `--rates`: `R1,R2,…` or `A..B` stepped by `step` (default a tenth).
fn read_rates(rates: &str, step: Option<f64>) -> Result<Vec<f64>, CliError> {
    match parse_rate(rates) {
        Ok(Rate::Ramp(from, to)) => {
            let step = step.unwrap_or((to - from) / 10.0).max(1.0);
            let n = ((to - from) / step).floor() as usize;
            Ok((0..=n).map(|i| from + step * i as f64).collect())
        }
        _ => rates
            .split(',')
            .map(|r| match parse_rate(r) {
                Ok(Rate::Fixed(r)) => Ok(r),
                Ok(Rate::Ramp(..)) => {
                    Err(CliError::Rates(format!("`{rates}`: a list or one range")))
                }
                Err(e) => Err(CliError::Rates(e)),
            })
            .collect(),
    }
}

pub(crate) fn reads(args: ReadsArgs) -> Result<(), CliError> {
    let config = crate::ReadConfig {
        rates: read_rates(&args.rates, args.step)?,
        step_time: args.duration,
        mix: args.mix,
        connections: args.connections.max(1),
        timeout: args.timeout,
        sample_blocks: args.sample_blocks.max(1),
        seed: args.seed,
        latency_p99: args.latency_p99,
    };
    let mut store = match args.no_db {
        true => None,
        false => Some(RunStore::open(&args.db.unwrap_or_else(default_path))?),
    };
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    let mut reports = Vec::new();
    for url in &args.rpc {
        eprintln!("reads against {url}: {:?} calls/s, {:?} each", config.rates, config.step_time);
        let say = |s: &crate::reads::ReadStep| {
            eprintln!(
                "  {:>8.0} calls/s: {:.0} answered/s, p50 {:.2} ms, p99 {:.2} ms, {:.2}% errors{}",
                s.rate,
                s.answered_per_second,
                s.all.latency_ms.p50,
                s.all.latency_ms.p99,
                s.all.error_rate * 100.0,
                s.broke.as_ref().map(|b| format!(": broke, {b}")).unwrap_or_default()
            )
        };
        let report = runtime
            .block_on(crate::reads::sweep(url, &config, say))
            .map_err(|source| CliError::Reads { url: url.clone(), source })?;
        if let Some(store) = store.as_mut() {
            match store.save_reads(&report) {
                Ok(id) => eprintln!("kept as run {id} in {}", store.path().display()),
                Err(e) => eprintln!("warning: the sweep was not kept: {e}"),
            }
        }
        reports.push(report);
    }
    if args.json {
        let value = match reports.len() {
            1 => serde_json::to_value(&reports[0])?,
            _ => serde_json::to_value(&reports)?,
        };
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        for r in &reports {
            print!("{}", crate::reads::table(r));
            if let (Some(rate), Some(bound)) = (r.sustained, args.latency_p99) {
                println!("{}: sustained {rate:.0} calls/s (p99 within {bound:?})", r.target);
            }
        }
    }
    Ok(())
}

pub(crate) fn sink(args: SinkArgs) -> Result<(), CliError> {
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    runtime.block_on(async {
        let at = crate::sink::start(args.listen).await.map_err(CliError::Sink)?;
        eprintln!("sink listening on http://{at}");
        tokio::signal::ctrl_c().await.map_err(CliError::Signal)
    })
}
