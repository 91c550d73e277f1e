//! lanes-banking-stage: from submitted transactions to sealed blocks.
//!
//! Not built yet. This crate will hold the txpool, the sigverify pool, the
//! one-thread scheduler that hands non-conflicting batches to worker threads,
//! and slot sealing, generic over the runtime's `Executor`.
#![forbid(unsafe_code)]
