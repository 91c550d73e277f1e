//! `lanes-validator`'s command line, here so that tests and embedders reach
//! what the binary does: [`Cli`] (its flags and subcommands) and [`run`].
//! The binary parses its arguments and calls [`run`].
//!
//! ```text
//!  mod.rs       run: a subcommand, or a node
//!  serve.rs     a node from the flags (single, or one of a multi-node chain), until a signal
//!  commands.rs  import, execute-block, init, testnet
//!  args.rs      the flags and subcommands (clap)
//! ```

mod args;
mod commands;
mod serve;

pub use args::{Cli, Command, DEV_MAX_PER_SENDER, Kept, StateRoot};

/// Runs what `cli` asks for: a subcommand, or a node until SIGTERM or
/// SIGINT.
pub fn run(mut cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command.take() {
        Some(command) => commands::run(command),
        None => serve::run(cli),
    }
}
