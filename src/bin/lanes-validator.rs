//! `lanes-validator`: the lanes node. `--dev` runs a ready local chain (chain
//! id 31337, the ten test-mnemonic accounts funded) with Ethereum JSON-RPC on
//! 127.0.0.1:8545. What it does lives in `lanes_node::cli`.

use std::process::ExitCode;

use clap::Parser;
use lanes_node::cli::Cli;

/// mimalloc: threads allocate from heaps of their own (glibc's arenas made
/// the parallel engine's workers wait on one another's frees).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Plain text into a log file; colours on a terminal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match lanes_node::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
