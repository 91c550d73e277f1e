//! `lanes-loadgen`'s command line, here so that tests and embedders reach
//! what the binary does: [`Cli`] and [`run`]. The binary parses its
//! arguments and calls [`run`].
//!
//! ```text
//!  mod.rs        run: one subcommand
//!  run_cmd.rs    run: pacing, the load, a ramp / rounds / repeats / one run per target
//!  commands.rs   genesis, soak, verify-receipts
//!  kept_runs.rs  runs, export, report (the runs kept)
//!  read_load.rs  reads, sink
//!  args.rs       the subcommands and their flags (clap); rate.rs: --rate
//!  error.rs      CliError
//! ```

mod args;
mod commands;
mod error;
mod kept_runs;
mod rate;
mod read_load;
mod run_cmd;

pub use args::Cli;
use args::Command;

/// Runs the subcommand `cli` names.
pub fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let result = match cli.command {
        Command::Run(args) => run_cmd::run(args),
        Command::Genesis(args) => commands::genesis(args),
        Command::Soak(args) => commands::soak(args),
        Command::VerifyReceipts(args) => commands::verify_receipts(args),
        Command::Runs(args) => kept_runs::runs(args),
        Command::Export(args) => kept_runs::export(args),
        Command::Report(args) => kept_runs::report(args),
        Command::Reads(args) => read_load::reads(args),
        Command::Sink(args) => read_load::sink(args),
    };
    Ok(result?)
}
