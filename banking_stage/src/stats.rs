//! [`BlockStats`]: what the banking stage did for one block.

use std::time::Duration;

/// Statistics of one produced block, logged as one `tracing` line and handed
/// out with the block.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BlockStats {
    /// Block number.
    pub number: u64,
    /// Transactions included.
    pub transactions: usize,
    /// Entries recorded.
    pub entries: usize,
    /// Transactions per entry, on average.
    pub mean_entry_width: f64,
    /// Transactions that ran in the exclusive lane.
    pub exclusive: usize,
    /// Times the scheduler held a transaction back because its set conflicted
    /// with work in flight or with a transaction ahead of it.
    pub conflicts: u64,
    /// Transactions dropped at execution (bad nonce, cannot pay, ...).
    pub rejected: usize,
    /// Gas used.
    pub gas_used: u64,
    /// Sender recovery time since the previous block, summed over the
    /// sigverify threads.
    pub sigverify_time: Duration,
    /// Time the scheduler thread spent scheduling and completing batches.
    pub scheduler_time: Duration,
    /// Time spent executing batches, summed over the workers.
    pub worker_time: Duration,
    /// Time to seal and commit the block.
    pub seal_time: Duration,
    /// Transactions in the pool after the block.
    pub pool_len: usize,
}
