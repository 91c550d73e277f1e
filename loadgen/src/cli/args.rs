//! `lanes-loadgen`'s arguments: its subcommands and their flags.
// The fields' doc comments are the command's --help, written for a terminal
// (`<chain id>` is a placeholder there, not HTML).
#![allow(rustdoc::invalid_html_tags, rustdoc::broken_intra_doc_links)]

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use super::kept_runs::{ExportArgs, ReportArgs, RunsArgs};
use super::rate::{Rate, parse_rate};
use super::read_load::{ReadsArgs, SinkArgs};
use crate::{AccessListMode, Workload, WorkloadConfig};

/// Accounts of a built-in workload.
pub(crate) const DEFAULT_ACCOUNTS: usize = 2_000;
/// Accounts in each pool of a scenario.
pub(crate) const DEFAULT_POOL_ACCOUNTS: usize = 100;

/// anvil's (and lanes --dev's) first account: funds setup on other nodes.
/// The open-loop rate of a run given no pacing flag, tx/s.
pub(crate) const DEFAULT_RATE: f64 = 20.0;
/// How long a run given no pacing flag (nor --duration) sends.
pub(crate) const DEFAULT_DURATION: Duration = Duration::from_secs(10);

pub(crate) const DEV_KEY: &str =
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// `lanes-loadgen`'s command line (`long_about = None`: this comment is not
/// its help).
#[derive(Parser)]
#[command(
    name = "lanes-loadgen",
    version,
    about = "Load generator for lanes and any Ethereum JSON-RPC node",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Sends a workload and reports throughput and latency.
    Run(RunArgs),
    /// Writes a lanes genesis with the workload's accounts funded and its
    /// contracts deployed, so a run against it needs no setup.
    Genesis(GenesisArgs),
    /// Sends a workload for a long time, riding through restarts of the node.
    ///
    /// Sends at --rate until --duration or SIGTERM/SIGINT (then waits up to
    /// --drain-timeout for receipts and prints its report). While the node is
    /// away the soak waits for it, then re-reads each sender's nonce and
    /// signs and sends again what the node lost. Every receipt served is
    /// appended to --receipts-out at once. Each account cycles through its
    /// share of the --txs drawn.
    Soak(SoakArgs),
    /// Checks a soak's receipts against a node.
    ///
    /// Every receipt in --receipts must be served in the same block (number
    /// and hash), still the block at that number; fails if any is gone or
    /// moved.
    VerifyReceipts(VerifyArgs),
    /// Lists the runs kept in the runs database.
    Runs(RunsArgs),
    /// Writes kept runs as JSON: each run's report, every transaction's send
    /// and inclusion times, the blocks, the send batches.
    Export(ExportArgs),
    /// Writes kept runs as one self-contained HTML page of charts (SVG):
    /// included tx/s over time, inclusion latency histogram and CDF, gas per
    /// block, pending transactions, send round-trip percentiles, and on lanes
    /// entry width and set sources. Several runs share the axes.
    Report(ReportArgs),
    /// Sends read calls (eth_call, eth_getLogs, eth_getBlockByNumber,
    /// eth_getBalance) open loop at a sweep of rates and reports latency
    /// percentiles and error rates per method and rate, as flood does.
    ///
    /// The calls' parameters come from the node's recent blocks. Each call
    /// is timed from when it was due (no coordinated omission). Kept in
    /// the runs database and drawn by `report`.
    Reads(ReadsArgs),
    /// Serves the sink on a port of its own: a JSON-RPC endpoint that takes
    /// every transaction and runs none (`run --sink` serves one in process).
    Sink(SinkArgs),
}

#[derive(Args)]
pub(crate) struct WorkloadArgs {
    /// What to send.
    #[arg(long, value_enum, default_value = "transfer")]
    pub(crate) workload: Workload,
    /// Transactions.
    #[arg(long, default_value_t = 20_000)]
    pub(crate) txs: usize,
    /// Accounts; they send round robin and receive (default 2000; with
    /// --scenario, accounts in each pool, default 100).
    #[arg(long)]
    pub(crate) accounts: Option<usize>,
    /// Draw receivers Zipf(S) over the accounts instead of uniformly.
    #[arg(long, value_name = "S")]
    pub(crate) zipf: Option<f64>,
    /// Pairs the swaps use (amm, mixed).
    #[arg(long, default_value_t = 8)]
    pub(crate) pools: usize,
    /// Share of swaps on pair 0, the hot pool (0 to 1; the rest spread evenly).
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub(crate) hot_pool_share: f64,
    /// Seeds the keys and every random choice (same seed, same run).
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Whether transactions carry their exact EIP-2930 access list, or none
    /// (as wallets send them).
    #[arg(long, value_enum, default_value = "exact")]
    pub(crate) access_list: AccessListMode,
}

impl WorkloadArgs {
    pub(crate) fn config(&self) -> WorkloadConfig {
        WorkloadConfig {
            workload: self.workload,
            txs: self.txs,
            accounts: self.accounts.unwrap_or(DEFAULT_ACCOUNTS),
            zipf: self.zipf,
            pools: self.pools,
            hot_pool_share: self.hot_pool_share,
            seed: self.seed,
            access_list: self.access_list,
        }
    }
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("pacing").args(["rate", "closed_loop", "tpb"]))]
#[command(group = clap::ArgGroup::new("target").required(true).args(["rpc", "in_process", "sink"]))]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) workload: WorkloadArgs,
    /// Send a scenario file instead of a built-in workload: lanes' TOML,
    /// which reads contender's scenarios as they stand (docs/loadgen.md).
    /// --txs caps its spam transactions, --accounts sets each pool's size.
    #[arg(long, value_name = "FILE.toml")]
    pub(crate) scenario: Option<PathBuf>,
    /// Overrides a scenario's [env] value (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", requires = "scenario", value_parser = parse_env)]
    pub(crate) env: Vec<(String, String)>,
    /// Open loop: send at R transactions per second; `A..B` ramps from A to
    /// B by --step, --step-time each, until a step breaks --latency-p99,
    /// and prints the highest rate that held.
    #[arg(long, visible_alias = "tps", value_name = "R|A..B", value_parser = parse_rate)]
    pub(crate) rate: Option<Rate>,
    /// Closed loop: keep C transactions sent and not yet included.
    #[arg(long, value_name = "C")]
    pub(crate) closed_loop: Option<usize>,
    /// Per block: N transactions at the start and N more on each new block.
    #[arg(long, value_name = "N")]
    pub(crate) tpb: Option<usize>,
    /// Send for this long: at --rate R, R x DURATION transactions (in place
    /// of --txs); otherwise stop sending then (--txs caps).
    #[arg(long, value_name = "DURATION", value_parser = lanes_rpc::parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// Send until SIGINT or SIGTERM (or --duration): round after round of
    /// --txs transactions, each signed with the accounts' next nonces, kept
    /// as a run of its own and printed as it ends; each round first tops
    /// up the accounts that ran short, so a long run keeps them funded.
    #[arg(long, conflicts_with_all = ["step", "tpb"])]
    pub(crate) forever: bool,
    /// Run the same load N times against each node (each signed with the
    /// accounts' next nonces, each kept) and report each figure's median
    /// and the 95% confidence interval of its mean.
    #[arg(long, value_name = "N", conflicts_with = "forever", value_parser = clap::value_parser!(u64).range(2..))]
    pub(crate) repeat: Option<u64>,
    /// A ramp's rise per step, tx/s (default: a tenth of the range).
    #[arg(long, value_name = "R", requires = "rate")]
    pub(crate) step: Option<f64>,
    /// How long each step of a ramp sends.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = lanes_rpc::parse_duration)]
    pub(crate) step_time: Duration,
    /// The inclusion latency's p99 a ramp's step must stay within.
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = lanes_rpc::parse_duration)]
    pub(crate) latency_p99: Duration,
    /// A node's JSON-RPC URL; give it twice or more to run the same workload
    /// against each in turn and print them side by side.
    #[arg(long, value_name = "URL")]
    pub(crate) rpc: Vec<String>,
    /// Drive an embedded banking stage instead (no RPC, no ledger).
    #[arg(long, requires = "threads")]
    pub(crate) in_process: bool,
    /// Send to the sink, served in this process on loopback: it takes every
    /// transaction and runs none, so the figures are lanes-loadgen's own
    /// ceiling (built-in workloads; setup is skipped).
    #[arg(long)]
    pub(crate) sink: bool,
    /// Worker threads of the embedded stage.
    #[arg(long, value_name = "T")]
    pub(crate) threads: Option<usize>,
    /// Slot length of the embedded stage.
    #[arg(long, value_name = "DURATION", default_value = "400ms", value_parser = lanes_rpc::parse_duration)]
    pub(crate) block_time: Duration,
    /// Transactions per JSON-RPC batch.
    #[arg(long, default_value_t = 100)]
    pub(crate) batch: usize,
    /// Keep-alive connections sending in parallel.
    #[arg(long, default_value_t = 4)]
    pub(crate) connections: usize,
    /// How long to wait for inclusions after the last send.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = lanes_rpc::parse_duration)]
    pub(crate) drain_timeout: Duration,
    /// Private key that funds accounts and the deployer on RPC targets
    /// (default: the dev mnemonic's first account, as anvil and lanes --dev fund it).
    #[arg(long, value_name = "HEX", default_value = DEV_KEY, hide_default_value = true)]
    pub(crate) funder_key: String,
    /// Chain id of the embedded chain.
    #[arg(long, default_value_t = 31337)]
    pub(crate) chain_id: u64,
    /// Print the report(s) as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Keep the run in this runs database (default as `runs --db`).
    #[arg(long, value_name = "FILE", conflicts_with = "no_db")]
    pub(crate) db: Option<PathBuf>,
    /// Keep nothing.
    #[arg(long)]
    pub(crate) no_db: bool,
    /// Send every transaction by eth_sendRawTransaction (by default, where
    /// the node has eth_sendRawTransactionSync, one of every 20 batches'
    /// first goes by it, and its round trip is reported as `sync send`).
    #[arg(long)]
    pub(crate) no_sync: bool,
}

#[derive(Args)]
pub(crate) struct SoakArgs {
    #[command(flatten)]
    pub(crate) workload: WorkloadArgs,
    /// The node's JSON-RPC URL.
    #[arg(long, value_name = "URL")]
    pub(crate) rpc: String,
    /// Transactions per second, resends included.
    #[arg(long, value_name = "R", default_value_t = 200.0)]
    pub(crate) rate: f64,
    /// Most transactions one account has sent without a receipt yet.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub(crate) depth: usize,
    /// Transactions per JSON-RPC batch.
    #[arg(long, default_value_t = 100)]
    pub(crate) batch: usize,
    /// How long to send (default: until SIGTERM or SIGINT).
    #[arg(long, value_name = "DURATION", value_parser = lanes_rpc::parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// Where to append every receipt served, one JSON line each
    /// (hash, blockNumber, blockHash, status, sender, nonce).
    #[arg(long, value_name = "FILE")]
    pub(crate) receipts_out: PathBuf,
    /// How long the node may stay unreachable before the soak fails.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = lanes_rpc::parse_duration)]
    pub(crate) down_timeout: Duration,
    /// Re-read an account's nonce and resend when its oldest transaction has
    /// no receipt after this long.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = lanes_rpc::parse_duration)]
    pub(crate) stall: Duration,
    /// How long to wait for receipts after the last send.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = lanes_rpc::parse_duration)]
    pub(crate) drain_timeout: Duration,
    /// Private key that funds the accounts where the chain has not (default:
    /// the dev mnemonic's first account).
    #[arg(long, value_name = "HEX", default_value = DEV_KEY, hide_default_value = true)]
    pub(crate) funder_key: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct VerifyArgs {
    /// A soak's --receipts-out file.
    #[arg(long, value_name = "FILE")]
    pub(crate) receipts: PathBuf,
    /// The node's JSON-RPC URL.
    #[arg(long, value_name = "URL")]
    pub(crate) rpc: String,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct GenesisArgs {
    #[command(flatten)]
    pub(crate) workload: WorkloadArgs,
    /// Where to write the genesis.
    #[arg(long, default_value = "loadgen-genesis.json")]
    pub(crate) out: PathBuf,
    /// Chain id.
    #[arg(long, default_value_t = 31337)]
    pub(crate) chain_id: u64,
}

pub(crate) fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}
