//! `lanes-loadgen`: load for lanes or any Ethereum JSON-RPC node, or for an
//! embedded banking stage. What it does lives in `lanes_loadgen::cli`.

use std::process::ExitCode;

use clap::Parser;
use lanes_loadgen::cli::Cli;

/// mimalloc: threads allocate from heaps of their own (glibc's arenas made
/// the parallel engine's workers wait on one another's frees).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match lanes_loadgen::cli::run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
