//! `lanes-loadgen runs`, `export` and `report`: the runs kept.

use std::path::PathBuf;

use crate::store::{RunStore, default_path, utc};
use clap::Args;

use super::error::CliError;

#[derive(Args)]
pub(crate) struct ReportArgs {
    /// The runs database (as `runs --db`).
    #[arg(long, value_name = "FILE")]
    pub(crate) db: Option<PathBuf>,
    /// Where to write the page.
    #[arg(long, value_name = "FILE.html", default_value = "lanes-loadgen-report.html")]
    pub(crate) out: PathBuf,
    /// The runs' ids (default: the latest).
    #[arg(value_name = "RUN")]
    pub(crate) runs: Vec<i64>,
}

#[derive(Args)]
pub(crate) struct RunsArgs {
    /// The runs database (default: $LANES_LOADGEN_DB, else
    /// $XDG_DATA_HOME/lanes/loadgen.sqlite, else ~/.local/share/lanes/loadgen.sqlite).
    #[arg(long, value_name = "FILE")]
    pub(crate) db: Option<PathBuf>,
    /// Print them as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct ExportArgs {
    /// The runs database (as `runs --db`).
    #[arg(long, value_name = "FILE")]
    pub(crate) db: Option<PathBuf>,
    /// Where to write (default: standard output).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// The runs' ids (default: the latest).
    #[arg(value_name = "RUN")]
    pub(crate) runs: Vec<i64>,
}

pub(crate) fn runs(args: RunsArgs) -> Result<(), CliError> {
    let store = RunStore::open(&args.db.unwrap_or_else(default_path))?;
    let runs = store.list()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(());
    }
    println!(
        "{:>5}  {:5}  {:19}  {:28}  {:16}  {:26}  {:>9}  {:>9}  {:>7}  {:>7}",
        "run",
        "kind",
        "started (UTC)",
        "target",
        "workload",
        "mode",
        "included",
        "tx/s",
        "p50 ms",
        "p99 ms"
    );
    for r in runs {
        println!(
            "{:>5}  {:5}  {:19}  {:28}  {:16}  {:26}  {:>9}  {:>9.0}  {:>7.0}  {:>7.0}",
            r.id,
            r.kind,
            utc(r.started_at),
            r.target,
            r.workload,
            r.mode,
            r.included,
            r.included_per_second,
            r.p50_ms,
            r.p99_ms
        );
    }
    Ok(())
}

/// The runs `ids` (default: the latest) of the database at `db`.
fn stored_runs(
    db: Option<PathBuf>,
    ids: Vec<i64>,
) -> Result<Vec<crate::store::StoredRun>, CliError> {
    let path = db.unwrap_or_else(default_path);
    let store = RunStore::open(&path)?;
    let ids = match ids.is_empty() {
        true => vec![store.latest()?.ok_or_else(|| CliError::NoRuns(path.clone()))?],
        false => ids,
    };
    ids.into_iter().map(|id| Ok(store.load(id)?)).collect()
}

pub(crate) fn report(args: ReportArgs) -> Result<(), CliError> {
    let runs = stored_runs(args.db, args.runs)?;
    let html = crate::html::render(&runs).map_err(CliError::Draw)?;
    std::fs::write(&args.out, html)
        .map_err(|source| CliError::Write { path: args.out.clone(), source })?;
    let ids: Vec<String> = runs.iter().map(|r| r.summary.id.to_string()).collect();
    eprintln!("wrote {} (runs {})", args.out.display(), ids.join(", "));
    Ok(())
}

pub(crate) fn export(args: ExportArgs) -> Result<(), CliError> {
    let runs: Vec<serde_json::Value> =
        stored_runs(args.db, args.runs)?.iter().map(|r| r.to_json()).collect();
    let json = serde_json::to_string_pretty(&runs)?;
    match args.out {
        Some(out) => {
            std::fs::write(&out, json).map_err(|source| CliError::Write { path: out, source })?
        }
        None => println!("{json}"),
    }
    Ok(())
}
