//! `lanes-loadgen`: a load generator that speaks plain Ethereum JSON-RPC, so
//! the same run measures lanes and any other node, plus an in-process mode
//! that drives an embedded banking stage (`docs/design.md` §8).
//!
//! ```text
//!  Plan (seed) --keys, contracts, txs + access lists--> presign (all cores)
//!       |                                                   |
//!   genesis.rs: the setup pre-applied              submit.rs: JSON-RPC batches over
//!   (lanes-loadgen genesis)                        keep-alive connections, open
//!                                                  or closed loop
//!   setup.rs: funding and deploying                         |
//!   by transactions (other nodes)                  tracking.rs: new blocks' tx hashes
//!                                                           |
//!                                                  report: counts, tx/s, latency
//! ```
//!
//! `run.rs` drives a run; `in_process.rs` is the target without RPC.
//! `soak.rs` sends for a long time to a node that may be killed and
//! restarted under it, writing every receipt served (`receipts.rs`, which
//! also checks them against the node afterwards: `verify-receipts`).
//!
//! Layers, each module using only those on its line or below (a test in
//! `tests/it/layout.rs` keeps it so):
//!
//! ```text
//!  cli/                      lanes-loadgen's command line: its subcommands and run
//!  ramp                      steps of runs
//!  run                       one run: chooses the RPC or the in-process target
//!  in_process, soak, html, scenario/prepare
//!  setup, submit, tracking, reads, receipts, store
//!  wire                      what a run says to a node: quoted txs, hex, fees
//!  error                     RunError, Result
//!  genesis, plan, scenario, config (Mode, Target, RunConfig)
//!  keys, report, sink, scenario/{file, template}
//! ```

pub use lanes_rpc::client;
pub mod cli;
mod config;
mod error;
pub mod genesis;
pub mod html;
mod in_process;
pub mod keys;
pub mod plan;
pub mod ramp;
pub mod reads;
pub mod receipts;
pub mod report;
pub mod run;
pub mod scenario;
mod setup;
pub mod sink;
pub mod soak;
pub mod store;
mod submit;
mod tracking;
mod wire;

pub use config::{Mode, RunConfig, Target};
pub use error::RunError;
pub use keys::Key;
pub use plan::{AccessListMode, Plan, Workload, WorkloadConfig};
pub use reads::{ReadConfig, ReadMethod, ReadReport};
pub use receipts::Verification;
pub use report::Report;
pub use scenario::{Scenario, ScenarioError, ScenarioOptions};
pub use soak::{SoakConfig, SoakReport};

/// Every core: presigning and key derivation run on all of them.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |t| t.get())
}
