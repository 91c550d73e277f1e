//! `lanes-loadgen run`: the pacing the flags ask for, the load (a
//! workload's plan or a scenario), and the run's four shapes: a ramp to the
//! sustained rate, rounds until stopped, repeated rounds, or one run per
//! target.

use std::sync::Arc;

use super::args::{DEFAULT_DURATION, DEFAULT_POOL_ACCOUNTS, DEFAULT_RATE, RunArgs};
use super::error::CliError;
use super::rate::Rate;
use crate::ramp::{RampConfig, RampStep};
use crate::store::{RunStore, default_path};
use crate::{
    Key, Mode, Plan, Report, RunConfig, Scenario, ScenarioOptions, Target, WorkloadConfig,
};

/// What the run sends.
enum Load {
    Workload(Arc<Plan>),
    Scenario(Box<Scenario>, ScenarioOptions),
}

/// Where the run's reports are kept (none with `--no-db`), with the
/// scenario's text.
struct Keeper {
    store: Option<RunStore>,
    scenario_text: Option<String>,
}

impl Keeper {
    fn open(args: &RunArgs) -> Result<Self, CliError> {
        let store = match args.no_db {
            true => None,
            false => Some(RunStore::open(&args.db.clone().unwrap_or_else(default_path))?),
        };
        let scenario_text = args.scenario.as_ref().and_then(|p| std::fs::read_to_string(p).ok());
        Ok(Self { store, scenario_text })
    }

    /// Keeps `report`; a run the database cannot keep is still reported.
    fn keep(&mut self, report: &Report) {
        if let Some(store) = self.store.as_mut() {
            match store.save(report, self.scenario_text.as_deref()) {
                Ok(id) => eprintln!("kept as run {id} in {}", store.path().display()),
                Err(e) => eprintln!("warning: the run was not kept: {e}"),
            }
        }
    }
}

/// A run's parts once the flags are read.
struct Session {
    runtime: tokio::runtime::Runtime,
    config: RunConfig,
    load: Load,
    targets: Vec<Target>,
    json: bool,
}

impl Session {
    /// The plan to send to `target`: the workload's, or the scenario made
    /// ready there (deployed, set up, drawn).
    fn plan_for(&self, target: &Target) -> Result<Arc<Plan>, CliError> {
        match &self.load {
            Load::Workload(plan) => Ok(plan.clone()),
            Load::Scenario(scenario, options) => {
                let prepare = crate::run::prepare_scenario(scenario, options, target, &self.config);
                Ok(Arc::new(self.runtime.block_on(prepare).map_err(failed(target))?))
            }
        }
    }
}

/// The error of a run against `target`.
fn failed(target: &Target) -> impl FnOnce(crate::RunError) -> CliError {
    let target = target.clone();
    move |e| CliError::Run { target, source: Box::new(e) }
}

/// Runs `lanes-loadgen run`.
pub(super) fn run(mut args: RunArgs) -> Result<(), CliError> {
    let mut keeper = Keeper::open(&args)?;
    let (mode, txs, ramp) = pacing(&mut args)?;
    if args.repeat.is_some() && ramp.is_some() {
        return Err(CliError::RepeatRamp);
    }
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
    let load = load(&args, txs)?;
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    let session = Session { runtime, config, load, targets, json: args.json };
    if let Some(ramp) = ramp {
        ramp_each(&session, &ramp, &mut keeper)
    } else if args.forever {
        forever(&session, args.duration, &mut keeper)
    } else if let Some(n) = args.repeat {
        repeat(&session, n, &mut keeper)
    } else {
        once(&session, &mut keeper)
    }
}

/// The run's pacing, how many transactions it draws, and its ramp; with no
/// pacing flag, as contender's spam paces: a modest open-loop rate, for a
/// while.
fn pacing(args: &mut RunArgs) -> Result<(Mode, usize, Option<RampConfig>), CliError> {
    let mut txs = args.workload.txs;
    if args.rate.is_none() && args.closed_loop.is_none() && args.tpb.is_none() {
        let duration = *args.duration.get_or_insert(DEFAULT_DURATION);
        args.rate = Some(Rate::Fixed(DEFAULT_RATE));
        eprintln!(
            "no --rate, --closed-loop or --tpb: sending at {DEFAULT_RATE} tx/s for {duration:?} \
             (--rate and --duration set them)"
        );
    }
    let mut ramp = None;
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
    Ok((mode, txs, ramp))
}

/// What the run sends: `--scenario`'s file, or the workload's plan.
fn load(args: &RunArgs, txs: usize) -> Result<Load, CliError> {
    if let Some(path) = &args.scenario {
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
        return Ok(Load::Scenario(Box::new(scenario), options));
    }
    let config = WorkloadConfig { txs, ..args.workload.config() };
    eprintln!(
        "drawing the plan: {} {:?} transactions over {} accounts",
        config.txs, config.workload, config.accounts
    );
    Ok(Load::Workload(Arc::new(Plan::new(config)?)))
}

/// A ramp against each target, each step kept; prints the sustained rates.
fn ramp_each(s: &Session, ramp: &RampConfig, keeper: &mut Keeper) -> Result<(), CliError> {
    let mut found = Vec::new();
    for target in &s.targets {
        eprintln!("ramping against {target}: {:?} tx/s", ramp.rates());
        let plan = s.plan_for(target)?;
        let say = |step: &RampStep| {
            let r = &step.report;
            keeper.keep(r);
            eprintln!(
                "  {:>8.0} tx/s: {:.0} included tx/s, p50 {:.0} ms, p99 {:.0} ms: {}",
                step.rate,
                r.included_per_second,
                r.latency_ms.p50,
                r.latency_ms.p99,
                step.broke.as_deref().unwrap_or("held")
            );
        };
        let report = s
            .runtime
            .block_on(crate::ramp::ramp(&plan, target, &s.config, ramp, say))
            .map_err(failed(target))?;
        found.push(report);
    }
    if s.json {
        println!("{}", serde_json::to_string_pretty(&found)?);
        return Ok(());
    }
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
    Ok(())
}

/// Rounds against one target until a signal stops them, each kept.
fn forever(
    s: &Session,
    round_time: Option<std::time::Duration>,
    keeper: &mut Keeper,
) -> Result<(), CliError> {
    let [target] = &s.targets[..] else { return Err(CliError::ForeverTargets) };
    let plan = s.plan_for(target)?;
    let mut error = None;
    let each = |round: u64, report: &Report| {
        keeper.keep(report);
        eprintln!(
            "round {round}: {} included, {:.0} tx/s, p50 {:.0} ms, p99 {:.0} ms",
            report.included,
            report.included_per_second,
            report.latency_ms.p50,
            report.latency_ms.p99
        );
        if s.json {
            match serde_json::to_string(report) {
                Ok(json) => println!("{json}"),
                Err(e) => error = Some(e),
            }
        }
    };
    let (included, seconds) = s
        .runtime
        .block_on(crate::run::forever(plan, target, s.config.clone(), round_time, each))
        .map_err(failed(target))?;
    if let Some(e) = error {
        return Err(e.into());
    }
    eprintln!(
        "stopped: {included} included, {:.0} tx/s over the rounds' windows",
        included as f64 / seconds.max(1e-9)
    );
    Ok(())
}

/// `n` runs against each target, each kept; prints their spread.
fn repeat(s: &Session, n: u64, keeper: &mut Keeper) -> Result<(), CliError> {
    let mut all = Vec::new();
    for target in &s.targets {
        let plan = s.plan_for(target)?;
        let mut reports = Vec::new();
        for round in 1..=n {
            let report = s
                .runtime
                .block_on(crate::run::run(plan.clone(), target, &s.config))
                .map_err(failed(target))?;
            keeper.keep(&report);
            eprintln!(
                "{target} run {round}/{n}: {:.0} included tx/s, {:.0} observed tx/s, p50 {:.0} ms, p99 {:.0} ms",
                report.included_per_second,
                report.observed_per_second,
                report.latency_ms.p50,
                report.latency_ms.p99
            );
            reports.push(report);
        }
        let repeated = crate::report::Repeated::of(reports);
        if !s.json {
            print!("{}", repeated.table());
        }
        all.push(repeated);
    }
    if s.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    }
    Ok(())
}

/// One run against each target, kept; prints the reports side by side.
fn once(s: &Session, keeper: &mut Keeper) -> Result<(), CliError> {
    let mut reports: Vec<Report> = Vec::new();
    for target in &s.targets {
        eprintln!("running against {target}");
        let report = match &s.load {
            Load::Workload(plan) => {
                s.runtime.block_on(crate::run::run(plan.clone(), target, &s.config))
            }
            Load::Scenario(scenario, options) => {
                s.runtime.block_on(crate::run::run_scenario(scenario, options, target, &s.config))
            }
        }
        .map_err(failed(target))?;
        keeper.keep(&report);
        if !s.json && s.targets.len() > 1 {
            eprintln!("{}", crate::report::table(std::slice::from_ref(&report)));
        }
        reports.push(report);
    }
    if s.json {
        let value = if reports.len() == 1 {
            serde_json::to_value(&reports[0])
        } else {
            serde_json::to_value(&reports)
        };
        println!("{}", serde_json::to_string_pretty(&value?)?);
    } else if reports.len() > 1 {
        println!("{}", crate::report::table(&reports));
    } else {
        print!("{}", crate::report::table(&reports));
    }
    Ok(())
}
