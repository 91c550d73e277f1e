//! lanes-banking-stage: from submitted transactions to sealed blocks, generic
//! over the runtime's [`lanes_runtime::Executor`].
//!
//! ```text
//! submit ──> bounded ingress ──> sigverify threads (Executor::decode: sender recovery)
//!                                      │ admit
//!                                      v
//!             TxPool: per-sender nonce queues, ready heap by tip per gas
//!                                      │ pop (look-ahead window)
//!                                      v
//!   scheduler thread: ThreadLocks (thread-aware), batches of 64, exclusive-lane barrier,
//!   block gas limit ──> worker threads: Bank::execute_batch (records an entry each)
//!                                      │ every slot (400 ms)
//!                                      v
//!          Bank::seal ──> Chain::commit ──> ProducedBlock on a bounded channel
//! ```
//!
//! [`BankingStage::start`] spawns the threads; [`BankingStage::submit`] answers
//! with the transaction hash or a [`SubmitError`]; [`BankingStage::blocks`]
//! yields each committed block with its [`BlockStats`];
//! [`BankingStage::shutdown`] stops intake, drains, seals and commits.
#![forbid(unsafe_code)]

mod config;
mod error;
mod pool;
mod scheduler;
mod sigverify;
mod stage;
mod stats;

pub use config::{
    BankingStageConfig, DEFAULT_BATCH_SIZE, DEFAULT_BLOCK_QUEUE, DEFAULT_INGRESS_QUEUE,
    DEFAULT_LOOKAHEAD, DEFAULT_MAX_PER_SENDER, DEFAULT_MAX_POOL, DEFAULT_PRICE_BUMP_PERCENT,
    DEFAULT_SLOT_TIME, DEFAULT_WORKER_QUEUE, MAX_WORKERS,
};
pub use error::SubmitError;
pub use stage::{BankingStage, BlockSink, ProducedBlock, StageError};
pub use stats::BlockStats;

#[cfg(test)]
mod tests;
