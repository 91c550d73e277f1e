//! `lanes-loadgen`: load for lanes or any Ethereum JSON-RPC node, or for an
//! embedded banking stage. See `lanes_loadgen`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// mimalloc: threads allocate from heaps of their own (glibc's arenas made
/// the parallel engine's workers wait on one another's frees).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod error;
mod rate;
mod reads;
mod store;

use clap::{Args, Parser, Subcommand};
use error::CliError;
use lanes_loadgen::ramp::{RampConfig, RampStep};
use lanes_loadgen::store::{RunStore, default_path};
use lanes_loadgen::{
    AccessListMode, Key, Mode, Plan, Report, RunConfig, Scenario, ScenarioOptions, SoakConfig,
    Target, Workload, WorkloadConfig,
};
use rate::{Rate, parse_rate};
use reads::{ReadsArgs, SinkArgs};
use store::{ExportArgs, ReportArgs, RunsArgs};

/// Accounts of a built-in workload.
const DEFAULT_ACCOUNTS: usize = 2_000;
/// Accounts in each pool of a scenario.
const DEFAULT_POOL_ACCOUNTS: usize = 100;

/// anvil's (and lanes --dev's) first account: funds setup on other nodes.
/// The open-loop rate of a run given no pacing flag, tx/s.
const DEFAULT_RATE: f64 = 20.0;
/// How long a run given no pacing flag (nor --duration) sends.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);

const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

#[derive(Parser)]
#[command(
    name = "lanes-loadgen",
    version,
    about = "Load generator for lanes and any Ethereum JSON-RPC node"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
struct WorkloadArgs {
    /// What to send.
    #[arg(long, value_enum, default_value = "transfer")]
    workload: Workload,
    /// Transactions.
    #[arg(long, default_value_t = 20_000)]
    txs: usize,
    /// Accounts; they send round robin and receive (default 2000; with
    /// --scenario, accounts in each pool, default 100).
    #[arg(long)]
    accounts: Option<usize>,
    /// Draw receivers Zipf(S) over the accounts instead of uniformly.
    #[arg(long, value_name = "S")]
    zipf: Option<f64>,
    /// Pairs the swaps use (amm, mixed).
    #[arg(long, default_value_t = 8)]
    pools: usize,
    /// Share of swaps on pair 0, the hot pool (0 to 1; the rest spread evenly).
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    hot_pool_share: f64,
    /// Seeds the keys and every random choice (same seed, same run).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Whether transactions carry their exact EIP-2930 access list, or none
    /// (as wallets send them).
    #[arg(long, value_enum, default_value = "exact")]
    access_list: AccessListMode,
}

impl WorkloadArgs {
    fn config(&self) -> WorkloadConfig {
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
struct RunArgs {
    #[command(flatten)]
    workload: WorkloadArgs,
    /// Send a scenario file instead of a built-in workload: lanes' TOML,
    /// which reads contender's scenarios as they stand (docs/loadgen.md).
    /// --txs caps its spam transactions, --accounts sets each pool's size.
    #[arg(long, value_name = "FILE.toml")]
    scenario: Option<PathBuf>,
    /// Overrides a scenario's [env] value (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", requires = "scenario", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Open loop: send at R transactions per second; `A..B` ramps from A to
    /// B by --step, --step-time each, until a step breaks --latency-p99,
    /// and prints the highest rate that held.
    #[arg(long, visible_alias = "tps", value_name = "R|A..B", value_parser = parse_rate)]
    rate: Option<Rate>,
    /// Closed loop: keep C transactions sent and not yet included.
    #[arg(long, value_name = "C")]
    closed_loop: Option<usize>,
    /// Per block: N transactions at the start and N more on each new block.
    #[arg(long, value_name = "N")]
    tpb: Option<usize>,
    /// Send for this long: at --rate R, R x DURATION transactions (in place
    /// of --txs); otherwise stop sending then (--txs caps).
    #[arg(long, value_name = "DURATION", value_parser = lanes_rpc::parse_duration)]
    duration: Option<Duration>,
    /// Send until SIGINT or SIGTERM (or --duration): round after round of
    /// --txs transactions, each signed with the accounts' next nonces, kept
    /// as a run of its own and printed as it ends; each round first tops
    /// up the accounts that ran short, so a long run keeps them funded.
    #[arg(long, conflicts_with_all = ["step", "tpb"])]
    forever: bool,
    /// Run the same load N times against each node (each signed with the
    /// accounts' next nonces, each kept) and report each figure's median
    /// and the 95% confidence interval of its mean.
    #[arg(long, value_name = "N", conflicts_with = "forever", value_parser = clap::value_parser!(u64).range(2..))]
    repeat: Option<u64>,
    /// A ramp's rise per step, tx/s (default: a tenth of the range).
    #[arg(long, value_name = "R", requires = "rate")]
    step: Option<f64>,
    /// How long each step of a ramp sends.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = lanes_rpc::parse_duration)]
    step_time: Duration,
    /// The inclusion latency's p99 a ramp's step must stay within.
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = lanes_rpc::parse_duration)]
    latency_p99: Duration,
    /// A node's JSON-RPC URL; give it twice or more to run the same workload
    /// against each in turn and print them side by side.
    #[arg(long, value_name = "URL")]
    rpc: Vec<String>,
    /// Drive an embedded banking stage instead (no RPC, no ledger).
    #[arg(long, requires = "threads")]
    in_process: bool,
    /// Send to the sink, served in this process on loopback: it takes every
    /// transaction and runs none, so the figures are lanes-loadgen's own
    /// ceiling (built-in workloads; setup is skipped).
    #[arg(long)]
    sink: bool,
    /// Worker threads of the embedded stage.
    #[arg(long, value_name = "T")]
    threads: Option<usize>,
    /// Slot length of the embedded stage.
    #[arg(long, value_name = "DURATION", default_value = "400ms", value_parser = lanes_rpc::parse_duration)]
    block_time: Duration,
    /// Transactions per JSON-RPC batch.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Keep-alive connections sending in parallel.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// How long to wait for inclusions after the last send.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = lanes_rpc::parse_duration)]
    drain_timeout: Duration,
    /// Private key that funds accounts and the deployer on RPC targets
    /// (default: the dev mnemonic's first account, as anvil and lanes --dev fund it).
    #[arg(long, value_name = "HEX", default_value = DEV_KEY, hide_default_value = true)]
    funder_key: String,
    /// Chain id of the embedded chain.
    #[arg(long, default_value_t = 31337)]
    chain_id: u64,
    /// Print the report(s) as JSON.
    #[arg(long)]
    json: bool,
    /// Keep the run in this runs database (default as `runs --db`).
    #[arg(long, value_name = "FILE", conflicts_with = "no_db")]
    db: Option<PathBuf>,
    /// Keep nothing.
    #[arg(long)]
    no_db: bool,
    /// Send every transaction by eth_sendRawTransaction (by default, where
    /// the node has eth_sendRawTransactionSync, one of every 20 batches'
    /// first goes by it, and its round trip is reported as `sync send`).
    #[arg(long)]
    no_sync: bool,
}

#[derive(Args)]
struct SoakArgs {
    #[command(flatten)]
    workload: WorkloadArgs,
    /// The node's JSON-RPC URL.
    #[arg(long, value_name = "URL")]
    rpc: String,
    /// Transactions per second, resends included.
    #[arg(long, value_name = "R", default_value_t = 200.0)]
    rate: f64,
    /// Most transactions one account has sent without a receipt yet.
    #[arg(long, value_name = "N", default_value_t = 8)]
    depth: usize,
    /// Transactions per JSON-RPC batch.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// How long to send (default: until SIGTERM or SIGINT).
    #[arg(long, value_name = "DURATION", value_parser = lanes_rpc::parse_duration)]
    duration: Option<Duration>,
    /// Where to append every receipt served, one JSON line each
    /// (hash, blockNumber, blockHash, status, sender, nonce).
    #[arg(long, value_name = "FILE")]
    receipts_out: PathBuf,
    /// How long the node may stay unreachable before the soak fails.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = lanes_rpc::parse_duration)]
    down_timeout: Duration,
    /// Re-read an account's nonce and resend when its oldest transaction has
    /// no receipt after this long.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = lanes_rpc::parse_duration)]
    stall: Duration,
    /// How long to wait for receipts after the last send.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = lanes_rpc::parse_duration)]
    drain_timeout: Duration,
    /// Private key that funds the accounts where the chain has not (default:
    /// the dev mnemonic's first account).
    #[arg(long, value_name = "HEX", default_value = DEV_KEY, hide_default_value = true)]
    funder_key: String,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct VerifyArgs {
    /// A soak's --receipts-out file.
    #[arg(long, value_name = "FILE")]
    receipts: PathBuf,
    /// The node's JSON-RPC URL.
    #[arg(long, value_name = "URL")]
    rpc: String,
    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct GenesisArgs {
    #[command(flatten)]
    workload: WorkloadArgs,
    /// Where to write the genesis.
    #[arg(long, default_value = "loadgen-genesis.json")]
    out: PathBuf,
    /// Chain id.
    #[arg(long, default_value_t = 31337)]
    chain_id: u64,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Genesis(args) => genesis(args),
        Command::Soak(args) => soak(args),
        Command::VerifyReceipts(args) => verify_receipts(args),
        Command::Runs(args) => store::runs(args),
        Command::Export(args) => store::export(args),
        Command::Report(args) => store::report(args),
        Command::Reads(args) => reads::reads(args),
        Command::Sink(args) => reads::sink(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn genesis(args: GenesisArgs) -> Result<(), CliError> {
    let plan = Plan::new(WorkloadConfig { txs: 1, ..args.workload.config() })?;
    let genesis = lanes_loadgen::genesis::build(&plan, args.chain_id)?;
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

fn run(args: RunArgs) -> Result<(), CliError> {
    let mut store = match args.no_db {
        true => None,
        false => Some(RunStore::open(&args.db.clone().unwrap_or_else(default_path))?),
    };
    let scenario_text = match &args.scenario {
        Some(path) => std::fs::read_to_string(path).ok(),
        None => None,
    };
    // A run the database cannot keep is still reported.
    let mut keep = |report: &Report| {
        if let Some(store) = store.as_mut() {
            match store.save(report, scenario_text.as_deref()) {
                Ok(id) => eprintln!("kept as run {id} in {}", store.path().display()),
                Err(e) => eprintln!("warning: the run was not kept: {e}"),
            }
        }
    };
    let mut txs = args.workload.txs;
    let mut ramp = None;
    let mut args = args;
    if args.rate.is_none() && args.closed_loop.is_none() && args.tpb.is_none() {
        // As contender's spam paces: a modest open-loop rate, for a while.
        let duration = *args.duration.get_or_insert(DEFAULT_DURATION);
        args.rate = Some(Rate::Fixed(DEFAULT_RATE));
        eprintln!(
            "no --rate, --closed-loop or --tpb: sending at {DEFAULT_RATE} tx/s for {duration:?} \
             (--rate and --duration set them)"
        );
    }
    let mode = match (args.rate, args.closed_loop, args.tpb) {
        (Some(Rate::Fixed(r)), ..) => {
            if let Some(d) = args.duration.filter(|_| !args.forever) {
                txs = (r * d.as_secs_f64()).ceil().max(1.0) as usize;
            }
            Mode::Rate(r)
        }
        (Some(Rate::Ramp(..)), ..) if args.forever => return Err(CliError::ForeverRamp),
        (Some(Rate::Ramp(from, to)), ..) => {
            let step = args.step.unwrap_or((to - from) / 10.0).max(1.0);
            let r = RampConfig {
                from,
                to,
                step,
                step_time: args.step_time,
                latency_p99: args.latency_p99,
            };
            txs = r.most_txs();
            ramp = Some(r);
            Mode::Rate(from)
        }
        (None, Some(c), _) if c > 0 => Mode::ClosedLoop(c),
        (None, None, Some(n)) if n > 0 => Mode::PerBlock(n),
        (None, ..) => return Err(CliError::Pacing),
    };
    let targets: Vec<Target> = if args.in_process {
        vec![Target::InProcess { threads: args.threads.unwrap_or(1), block_time: args.block_time }]
    } else if args.sink {
        vec![Target::Sink]
    } else {
        args.rpc.iter().cloned().map(Target::Rpc).collect()
    };
    let config = RunConfig {
        mode,
        batch: args.batch,
        connections: args.connections.max(1),
        drain_timeout: args.drain_timeout,
        funder: Key::from_hex(&args.funder_key).map_err(CliError::FunderKey)?,
        chain_id: args.chain_id,
        progress: true,
        duration: if matches!(mode, Mode::Rate(_)) || args.forever { None } else { args.duration },
        sync_sample: !args.no_sync,
        stop: None,
    };
    /// What the run sends.
    enum Load {
        Workload(Arc<Plan>),
        Scenario(Box<Scenario>, ScenarioOptions),
    }
    let load = match &args.scenario {
        Some(path) => {
            let scenario = Scenario::load(path, &args.env)?;
            let options = ScenarioOptions {
                txs,
                accounts: args.workload.accounts.unwrap_or(DEFAULT_POOL_ACCOUNTS),
                seed: args.workload.seed,
            };
            eprintln!(
                "scenario {}: {} spam transactions, {} pool(s) of {} accounts",
                path.display(),
                options.txs,
                scenario.pools().len(),
                options.accounts
            );
            Load::Scenario(Box::new(scenario), options)
        }
        None => {
            let config = WorkloadConfig { txs, ..args.workload.config() };
            eprintln!(
                "drawing the plan: {} {:?} transactions over {} accounts",
                config.txs, config.workload, config.accounts
            );
            Load::Workload(Arc::new(Plan::new(config)?))
        }
    };
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    let failed = |target: &Target| {
        let target = target.clone();
        move |e| CliError::Run { target, source: Box::new(e) }
    };
    // The plan to send to `target`: the workload's, or the scenario made
    // ready there (deployed, set up, drawn).
    let plan_for = |target: &Target| -> Result<Arc<Plan>, CliError> {
        match &load {
            Load::Workload(plan) => Ok(plan.clone()),
            Load::Scenario(scenario, options) => Ok(Arc::new(
                runtime
                    .block_on(lanes_loadgen::run::prepare_scenario(
                        scenario, options, target, &config,
                    ))
                    .map_err(failed(target))?,
            )),
        }
    };
    if args.repeat.is_some() && ramp.is_some() {
        return Err(CliError::RepeatRamp);
    }
    if let Some(ramp) = ramp {
        let mut found = Vec::new();
        for target in &targets {
            eprintln!("ramping against {target}: {:?} tx/s", ramp.rates());
            let plan = plan_for(target)?;
            let say = |step: &RampStep| {
                let r = &step.report;
                keep(r);
                eprintln!(
                    "  {:>8.0} tx/s: {:.0} included tx/s, p50 {:.0} ms, p99 {:.0} ms: {}",
                    step.rate,
                    r.included_per_second,
                    r.latency_ms.p50,
                    r.latency_ms.p99,
                    step.broke.as_deref().unwrap_or("held")
                );
            };
            let report = runtime
                .block_on(lanes_loadgen::ramp::ramp(&plan, target, &config, &ramp, say))
                .map_err(failed(target))?;
            found.push(report);
        }
        if args.json {
            println!("{}", serde_json::to_string_pretty(&found)?);
        } else {
            for r in &found {
                match r.sustained {
                    Some(rate) => println!(
                        "{}: sustained {rate:.0} tx/s (inclusion p99 within {:.0} ms)",
                        r.target, r.latency_p99_bound_ms
                    ),
                    None => println!(
                        "{}: no rate held (from {:.0} tx/s, p99 within {:.0} ms)",
                        r.target, ramp.from, r.latency_p99_bound_ms
                    ),
                }
            }
        }
        return Ok(());
    }
    if args.forever {
        let [target] = &targets[..] else { return Err(CliError::ForeverTargets) };
        let plan = plan_for(target)?;
        let mut error = None;
        let each = |round: u64, report: &Report| {
            keep(report);
            eprintln!(
                "round {round}: {} included, {:.0} tx/s, p50 {:.0} ms, p99 {:.0} ms",
                report.included,
                report.included_per_second,
                report.latency_ms.p50,
                report.latency_ms.p99
            );
            if args.json {
                match serde_json::to_string(report) {
                    Ok(json) => println!("{json}"),
                    Err(e) => error = Some(e),
                }
            }
        };
        let (included, seconds) = runtime
            .block_on(lanes_loadgen::run::forever(plan, target, config, args.duration, each))
            .map_err(failed(target))?;
        if let Some(e) = error {
            return Err(e.into());
        }
        eprintln!(
            "stopped: {included} included, {:.0} tx/s over the rounds' windows",
            included as f64 / seconds.max(1e-9)
        );
        return Ok(());
    }
    if let Some(n) = args.repeat {
        let mut all = Vec::new();
        for target in &targets {
            let plan = plan_for(target)?;
            let mut reports = Vec::new();
            for round in 1..=n {
                let report = runtime
                    .block_on(lanes_loadgen::run::run(plan.clone(), target, &config))
                    .map_err(failed(target))?;
                keep(&report);
                eprintln!(
                    "{target} run {round}/{n}: {:.0} included tx/s, {:.0} observed tx/s, p50 {:.0} ms, p99 {:.0} ms",
                    report.included_per_second,
                    report.observed_per_second,
                    report.latency_ms.p50,
                    report.latency_ms.p99
                );
                reports.push(report);
            }
            let repeated = lanes_loadgen::report::Repeated::of(reports);
            if !args.json {
                print!("{}", repeated.table());
            }
            all.push(repeated);
        }
        if args.json {
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
        return Ok(());
    }
    let mut reports: Vec<Report> = Vec::new();
    for target in &targets {
        eprintln!("running against {target}");
        let report = match &load {
            Load::Workload(plan) => {
                runtime.block_on(lanes_loadgen::run::run(plan.clone(), target, &config))
            }
            Load::Scenario(scenario, options) => runtime
                .block_on(lanes_loadgen::run::run_scenario(scenario, options, target, &config)),
        }
        .map_err(failed(target))?;
        keep(&report);
        if !args.json && targets.len() > 1 {
            eprintln!("{}", lanes_loadgen::report::table(std::slice::from_ref(&report)));
        }
        reports.push(report);
    }
    if args.json {
        let value = if reports.len() == 1 {
            serde_json::to_value(&reports[0])
        } else {
            serde_json::to_value(&reports)
        };
        println!("{}", serde_json::to_string_pretty(&value?)?);
    } else if reports.len() > 1 {
        println!("{}", lanes_loadgen::report::table(&reports));
    } else {
        print!("{}", lanes_loadgen::report::table(&reports));
    }
    Ok(())
}

fn soak(args: SoakArgs) -> Result<(), CliError> {
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
        Ok::<_, CliError>(lanes_loadgen::soak::soak(plan, &args.rpc, &config, stop).await?)
    })?;
    let text = if args.json {
        serde_json::to_string_pretty(&report)
    } else {
        serde_json::to_string(&report)
    };
    println!("{}", text?);
    report.error.map_or(Ok(()), |e| Err(CliError::SoakStopped(e)))
}

fn verify_receipts(args: VerifyArgs) -> Result<(), CliError> {
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    let v = runtime.block_on(async {
        let client = lanes_rpc::client::RpcClient::connect(&args.rpc).await?;
        Ok::<_, CliError>(lanes_loadgen::receipts::verify(&client, &args.receipts).await?)
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
