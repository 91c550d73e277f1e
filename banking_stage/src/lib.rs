//! lanes-banking-stage: from submitted transactions to sealed blocks, generic
//! over the runtime's [`lanes_runtime::Executor`].
//!
//! ```text
//! submit ──> bounded ingress ──> sigverify threads: Executor::decode (sender recovery),
//!                                      │             then the Admission hook: the set each
//!                                      │             transaction is locked and run with
//!                                      v
//!             TxPool: per-sender nonce queues, ready heap by tip per gas
//!                                      │ pop into the look-ahead window
//!                                      v
//!   scheduler thread (controller: threads, channels, clock)
//!     └─ pass: window in rank order + ThreadLocks ──> batches ──> workers: Bank::execute_batch
//!                                      │ when the block time ends
//!                                      v
//!   block driver: seal ──> [held for a Decision] ──> commit (sink, then chain) ──> publish
//!                                 └─ discard: transactions back to the pool
//! ```
//!
//! [`BankingStage::start`] (or [`BankingStage::builder`], for a block sink,
//! an [`lanes_runtime::Admission`] hook or held blocks) spawns the threads;
//! [`BankingStage::submit`] answers with the transaction hash or a
//! [`SubmitError`]; [`BankingStage::blocks`] yields each committed block with
//! its [`BlockStats`]; [`BankingStage::shutdown`] stops intake, drains, seals
//! and commits.
//!
//! ```
//! use std::sync::Arc;
//! use alloy_primitives::{Address, U256};
//! use lanes_accounts_db::{AccountHeader, AccountsDbConfig, Entry};
//! use lanes_banking_stage::{BankingStage, BankingStageConfig};
//! use lanes_runtime::native::{NativeExecutor, NativeTx};
//! use lanes_runtime::{Chain, Genesis, Transaction};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let alice = Address::repeat_byte(1);
//! let funded = AccountHeader { balance: U256::from(100_000), ..Default::default() };
//! let genesis = Genesis { alloc: vec![Entry::Account(alice, funded)], gas_limit: 1_000_000, ..Default::default() };
//! let chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis)?;
//!
//! let config = BankingStageConfig { workers: 2, ..Default::default() };
//! let mut stage = BankingStage::start(Arc::new(NativeExecutor), chain, config);
//! let tx = NativeTx::transfer(alice, 0, Address::repeat_byte(2), U256::from(5), U256::from(21_000));
//! let hash = stage.submit(tx.encoded().clone())?;
//! let block = stage.blocks().iter().find(|b| b.receipts.iter().any(|r| r.tx_hash == hash));
//! assert_eq!(block.map(|b| b.stats.transactions), Some(1));
//! stage.shutdown()?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Layers
//!
//! Each module uses only those on its line or below (a test in
//! `tests/it/layout.rs` keeps it so):
//!
//! ```text
//!  stage                     BankingStage: starts and stops the rest
//!  scheduler, driver, predict, sigverify
//!  pool, shared, control, scheduler/{window, pass, worker}
//!  clock, config, decoded, error, signal, stats, predict_queue
//! ```
#![forbid(unsafe_code)]

mod clock;
mod config;
mod control;
mod decoded;
mod driver;
mod error;
mod pool;
mod predict;
mod predict_queue;
mod scheduler;
mod shared;
mod signal;
mod sigverify;
mod stage;
mod stats;

pub use config::{
    BankingStageConfig, DEFAULT_ADMIT_TIMEOUT, DEFAULT_BATCH_SIZE, DEFAULT_BLOCK_QUEUE,
    DEFAULT_BLOCK_TIME, DEFAULT_COALESCE, DEFAULT_INGRESS_QUEUE, DEFAULT_LOOKAHEAD,
    DEFAULT_MAX_PER_SENDER, DEFAULT_MAX_POOL, DEFAULT_MAX_REPREDICTIONS, DEFAULT_PREDICT_QUEUE,
    DEFAULT_PRICE_BUMP_PERCENT, DEFAULT_WORKER_QUEUE, MAX_WORKERS, Mining,
};
pub use control::{Decision, SystemWrites};
pub use decoded::DECODED_CACHE_ENTRIES;
pub use driver::{BlockSink, ProducedBlock};
pub use error::{StageError, SubmitError};
pub use shared::Failure;
pub use signal::WorkSignal;
pub use stage::{BankingStage, BankingStageBuilder, SET_MINING_WAIT};
pub use stats::BlockStats;

#[cfg(test)]
mod tests;
