//! `lanes-loadgen`: a load generator that speaks plain Ethereum JSON-RPC, so
//! the same run measures lanes and any other node, plus an in-process mode
//! that drives an embedded banking stage (DESIGN.md §8).
//!
//! ```text
//!  Plan (seed) --keys, contracts, txs + access lists--> presign (all cores)
//!       |                                                   |
//!   genesis.rs: the setup pre-applied              senders: JSON-RPC batches over
//!   (lanes-loadgen genesis)                        keep-alive connections, open
//!                                                  or closed loop
//!   run.rs setup: funding and deploying                     |
//!   by transactions (other nodes)                  tracker: new blocks' tx hashes
//!                                                           |
//!                                                  report: counts, tx/s, latency
//! ```

pub mod client;
pub mod genesis;
pub mod keys;
pub mod plan;
pub mod report;
pub mod run;

pub use keys::Key;
pub use plan::{Plan, Workload, WorkloadConfig};
pub use report::Report;
pub use run::{Mode, RunConfig, Target};
