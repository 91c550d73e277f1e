//! [`BankingStageConfig`]: limits and timings of the banking stage.

use std::time::Duration;

use alloy_primitives::Address;

/// Default block time: a block is sealed this often in interval mining,
/// and an on-demand block is sealed at the latest this long after it opened.
pub const DEFAULT_BLOCK_TIME: Duration = Duration::from_millis(400);
/// Default wait, in on-demand mining, for more transactions once nothing is
/// runnable and nothing runs, before the block is sealed.
pub const DEFAULT_COALESCE: Duration = Duration::from_micros(200);

/// When the stage seals blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mining {
    /// At every boundary of [`BankingStageConfig::block_time`], empty or not.
    #[default]
    Interval,
    /// As soon as the transactions that are ready have run and nothing more
    /// is runnable (after [`BankingStageConfig::coalesce`] without new
    /// work), or [`BankingStageConfig::block_time`] after the block opened;
    /// never an empty block. A dev node's automine.
    OnDemand,
    /// Only when asked ([`crate::BankingStage::mine`]).
    Manual,
}
/// Default most transactions per batch handed to a worker.
pub const DEFAULT_BATCH_SIZE: usize = 64;
/// Default most queued transactions per sender.
pub const DEFAULT_MAX_PER_SENDER: usize = 64;
/// Default most transactions in the pool (queued, held and in flight).
pub const DEFAULT_MAX_POOL: usize = 100_000;
/// Default look-ahead window of the scheduler, in transactions.
pub const DEFAULT_LOOKAHEAD: usize = 2048;
/// Default depth of the submission queue in front of sigverify, in requests.
pub const DEFAULT_INGRESS_QUEUE: usize = 4096;
/// Default most produced blocks waiting for their consumer.
pub const DEFAULT_BLOCK_QUEUE: usize = 64;
/// Default fee bump a replacement needs, in percent.
pub const DEFAULT_PRICE_BUMP_PERCENT: u128 = 10;
/// Default batches queued per worker beyond the one it runs.
pub const DEFAULT_WORKER_QUEUE: usize = 4;
/// Default most transactions waiting for a prediction; past it (or past
/// [`BankingStageConfig::max_per_sender`] of one sender) a transaction is
/// admitted without a set and runs in the exclusive lane.
pub const DEFAULT_PREDICT_QUEUE: usize = 8192;
/// Default longest a submission waits for its transactions to be admitted
/// (decoded, checked and in the pool; a prediction does not hold it up);
/// what is not admitted by then is refused with
/// [`crate::SubmitError::AdmissionTimeout`].
pub const DEFAULT_ADMIT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default times a transaction that left its set is predicted again before
/// it runs in the exclusive lane.
pub const DEFAULT_MAX_REPREDICTIONS: u8 = 2;
/// Most worker threads a stage runs (its lock table tracks each worker, and
/// the transactions a pass holds back, as a bit of a `u64`); a larger
/// [`BankingStageConfig::workers`] runs this many.
pub const MAX_WORKERS: usize = lanes_runtime::MAX_LOCK_THREADS - 1;

/// Settings of a [`crate::BankingStage`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BankingStageConfig {
    /// Worker threads executing batches (default: available cores, at most
    /// [`MAX_WORKERS`]).
    pub workers: usize,
    /// Threads recovering senders and admitting transactions (default:
    /// available cores).
    pub sigverify_threads: usize,
    /// Threads predicting sets with the admission hook (default: available
    /// cores).
    pub predict_threads: usize,
    /// Most transactions waiting for a prediction.
    pub predict_queue: usize,
    /// Longest a submission waits for admission.
    pub admit_timeout: Duration,
    /// Times a transaction that left its set is predicted again (against the
    /// block built so far) before it runs in the exclusive lane.
    pub max_repredictions: u8,
    /// Most transactions per batch.
    pub batch_size: usize,
    /// When blocks are sealed (changeable at run time with
    /// [`crate::BankingStage::set_mining`]).
    pub mining: Mining,
    /// Block time: the interval of interval mining, and the longest an
    /// on-demand block stays open.
    pub block_time: Duration,
    /// On-demand mining's wait for more work before sealing.
    pub coalesce: Duration,
    /// Most queued transactions of one sender.
    pub max_per_sender: usize,
    /// Most transactions in the pool.
    pub max_pool: usize,
    /// Transactions the scheduler considers at once.
    pub lookahead: usize,
    /// Submission requests waiting for sigverify; past it `submit` fails with
    /// [`crate::SubmitError::Busy`].
    pub ingress_queue: usize,
    /// Produced blocks waiting for the consumer of [`crate::BankingStage::blocks`];
    /// past it block production waits.
    pub block_queue: usize,
    /// Batches queued per worker.
    pub worker_queue: usize,
    /// Fee bump a replacement needs, in percent.
    pub price_bump_percent: u128,
    /// A transaction held back by conflicts this long goes ahead of newer,
    /// better-paying ones, so a hot key cannot starve it. (The scheduler
    /// checks ages once per `max_wait / 16`, so it goes ahead at most that
    /// much later.)
    pub max_wait: Duration,
    /// Receives the fees of the blocks.
    pub coinbase: Address,
    /// Lets a block share its parent's timestamp, for a consensus chain
    /// that decides heights faster than one a second; off (the default),
    /// each block is stamped at least its parent's + 1, as anvil stamps
    /// them.
    pub same_second_blocks: bool,
    /// Pins each worker and the scheduler to a core of its own, where the
    /// process may use more cores than there are workers (otherwise threads
    /// stay unpinned). Without it, where there are more cores than workers,
    /// the scheduler still keeps the last core to itself and the workers
    /// share the others (each free to move among them), so the kernel never
    /// runs a worker and the scheduler that each wakes the other on one
    /// core in turn while another idles (docs/figures.md, "Pinned threads"
    /// and "A scheduler on a core of its own"); with as many workers as
    /// cores every thread runs anywhere. Off by default, since a pinned
    /// thread cannot move off a core that other work needs.
    pub pin_threads: bool,
}

impl Default for BankingStageConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            workers: cores.min(MAX_WORKERS),
            sigverify_threads: cores,
            predict_threads: cores,
            predict_queue: DEFAULT_PREDICT_QUEUE,
            admit_timeout: DEFAULT_ADMIT_TIMEOUT,
            max_repredictions: DEFAULT_MAX_REPREDICTIONS,
            batch_size: DEFAULT_BATCH_SIZE,
            mining: Mining::Interval,
            block_time: DEFAULT_BLOCK_TIME,
            coalesce: DEFAULT_COALESCE,
            max_per_sender: DEFAULT_MAX_PER_SENDER,
            max_pool: DEFAULT_MAX_POOL,
            lookahead: DEFAULT_LOOKAHEAD,
            ingress_queue: DEFAULT_INGRESS_QUEUE,
            block_queue: DEFAULT_BLOCK_QUEUE,
            worker_queue: DEFAULT_WORKER_QUEUE,
            price_bump_percent: DEFAULT_PRICE_BUMP_PERCENT,
            max_wait: DEFAULT_BLOCK_TIME,
            coinbase: Address::ZERO,
            same_second_blocks: false,
            pin_threads: false,
        }
    }
}
