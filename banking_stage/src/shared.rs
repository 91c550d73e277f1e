//! [`Shared`]: the state the stage's threads share (the pool, the head,
//! the admission hook and the prediction queue, the time and fee controls,
//! the counters a block's stats take), and the [`Failure`] that stopped
//! them.

use parking_lot::{Mutex, MutexGuard, RwLock};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use alloy_primitives::{Address, B256};
use crossbeam_channel::Sender;
use lanes_accounts_db::ReadView;
use lanes_runtime::{Admission, Bank, BankConfig, BlockEnv, BlockHeader, Chain, LatticeHash};

use crate::clock::BlockClock;
use crate::config::{BankingStageConfig, Mining};
use crate::decoded::{DECODED_CACHE_ENTRIES, DecodedCache};
use crate::error::{StageError, SubmitError};
use crate::pool::{PoolLimits, TxPool};
use crate::predict_queue::PredictQueue;
use crate::signal::WorkSignal;

/// Why a stage stopped producing blocks (a block it could not persist or
/// commit), once it has; a handle any thread can keep and read.
#[derive(Clone, Debug, Default)]
pub struct Failure(Arc<OnceLock<String>>);

impl Failure {
    /// The failure, once block production has stopped on one.
    pub fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

/// The committed head, its state, and a bank on it for the next block that
/// admission simulates against (never sealed; made on first use, so a block
/// no admission looks at costs none).
#[derive(Debug, Clone)]
pub(crate) struct Latest {
    pub(crate) header: BlockHeader,
    pub(crate) hash: B256,
    pub(crate) view: ReadView,
    sim: Arc<(BlockEnv, OnceLock<Arc<Bank>>)>,
}

impl Latest {
    /// The head of `chain`, with a bank for its next block (stamped by
    /// `clock`, paying `coinbase`).
    pub(crate) fn of(chain: &Chain, coinbase: Address, clock: &BlockClock) -> Self {
        let header = chain.head().clone();
        let env = chain.next_env(clock.now().max(header.timestamp), coinbase);
        let (hash, view) = (chain.head_hash(), chain.db().view());
        Self { header, hash, view, sim: Arc::new((env, OnceLock::new())) }
    }

    /// The next block's base fee by the chain's rule ([`BankConfig::base_fee`]).
    pub(crate) fn next_base_fee(&self) -> u64 {
        self.sim.0.base_fee
    }

    /// The bank admission simulates against.
    pub(crate) fn sim(&self) -> Arc<Bank> {
        let (env, bank) = &*self.sim;
        let parent = self.hash;
        bank.get_or_init(|| {
            // Never sealed: the codec does not matter.
            let config = BankConfig::default();
            Arc::new(Bank::new(
                self.view.clone(),
                parent,
                LatticeHash::identity(),
                env.clone(),
                config,
            ))
        })
        .clone()
    }
}

/// What the stage's threads share.
pub(crate) struct Shared<T> {
    pool: Mutex<TxPool<T>>,
    latest: RwLock<Latest>,
    /// Decides each transaction's set at admission.
    pub(crate) admission: Arc<dyn Admission<T>>,
    /// Transactions waiting for a prediction.
    pub(crate) predictions: PredictQueue<T>,
    /// Longest a submission waits for admission.
    pub(crate) admit_timeout: Duration,
    pub(crate) doorbell: Sender<()>,
    /// Rung with the doorbell when transactions become ready, for waiters
    /// outside the stage.
    pub(crate) work: Arc<WorkSignal>,
    /// Sender recovery time since the last block, summed over threads
    /// ([`Self::count_sigverify`]).
    pub(crate) sigverify_nanos: AtomicU64,
    /// Time spent predicting sets since the last block, summed over threads.
    pub(crate) predict_nanos: AtomicU64,
    /// Set by shutdown: intake stops, and a full block queue no longer holds
    /// the scheduler back.
    pub(crate) closed: AtomicBool,
    /// Set by [`crate::BankingStage::pause`]: the scheduler takes nothing new.
    pub(crate) paused: AtomicBool,
    /// Why block production stopped, once a failure stopped it.
    pub(crate) failure: Failure,
    /// How blocks are sealed (the scheduler's copy is authoritative).
    pub(crate) mining: Mutex<Mining>,
    /// Block timestamps.
    pub(crate) clock: Mutex<BlockClock>,
    /// Receives the fees of the blocks opened from now on.
    pub(crate) coinbase: Mutex<Address>,
    /// The next block's base fee, when set (later blocks keep it).
    pub(crate) next_base_fee: Mutex<Option<u64>>,
    /// The next block's gas limit, when set (later blocks keep it).
    pub(crate) next_gas_limit: Mutex<Option<u64>>,
    /// With held blocks: what admission decoded, for verifying and
    /// importing other nodes' blocks without recovering senders again.
    pub(crate) decoded: Option<Mutex<DecodedCache<T>>>,
}

impl<T: lanes_runtime::PoolTransaction> Shared<T> {
    /// The state shared by a stage on `chain`, whose scheduler is rung
    /// through `doorbell`.
    pub(crate) fn new(
        chain: &Chain,
        config: &BankingStageConfig,
        admission: Arc<dyn Admission<T>>,
        doorbell: Sender<()>,
        remember_decoded: bool,
    ) -> Self {
        let latest = Latest::of(chain, config.coinbase, &BlockClock::default());
        let header = &latest.header;
        let limits = PoolLimits {
            max_pool: config.max_pool,
            max_per_sender: config.max_per_sender,
            price_bump_percent: config.price_bump_percent,
            base_fee: latest.next_base_fee(),
            block_gas_limit: header.gas_limit,
        };
        Self {
            pool: Mutex::new(TxPool::new(limits)),
            latest: RwLock::new(latest),
            admission,
            predictions: PredictQueue::new(config.predict_queue, config.max_per_sender),
            admit_timeout: config.admit_timeout,
            doorbell,
            work: Arc::default(),
            sigverify_nanos: AtomicU64::new(0),
            predict_nanos: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            failure: Failure::default(),
            mining: Mutex::new(config.mining),
            clock: Mutex::new(BlockClock::new(config.same_second_blocks)),
            coinbase: Mutex::new(config.coinbase),
            next_base_fee: Mutex::new(None),
            next_gas_limit: Mutex::new(None),
            decoded: remember_decoded.then(|| Mutex::new(DecodedCache::new(DECODED_CACHE_ENTRIES))),
        }
    }
}

impl<T> Shared<T> {
    /// Transactions became ready (or may have): wakes the scheduler, and
    /// whoever waits on [`WorkSignal`]. A full doorbell already says there
    /// is work.
    pub(crate) fn work_arrived(&self) {
        let _ = self.doorbell.try_send(());
        self.work.ring();
    }

    /// Records why block production stopped and closes intake: submissions
    /// from now on answer [`SubmitError::Stopped`].
    pub(crate) fn fail(&self, error: &StageError) {
        let _ = self.failure.0.set(error.to_string());
        self.closed.store(true, Ordering::Release);
    }

    /// Why a closed stage refuses a submission.
    pub(crate) fn closed_error(&self) -> SubmitError {
        match self.failure.get() {
            Some(reason) => SubmitError::Stopped(reason.to_owned()),
            None => SubmitError::ShuttingDown,
        }
    }

    /// Counts `took`, spent recovering senders (on a sigverify thread, or
    /// by a caller of [`crate::BankingStage::submit_decoded`]), into the
    /// next block's stats.
    pub(crate) fn count_sigverify(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sigverify_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The base fee set for the next block, if any.
    pub(crate) fn next_base_fee(&self) -> Option<u64> {
        *self.next_base_fee.lock()
    }

    /// The gas limit set for the next block, if any.
    pub(crate) fn next_gas_limit(&self) -> Option<u64> {
        *self.next_gas_limit.lock()
    }

    pub(crate) fn clock(&self) -> MutexGuard<'_, BlockClock> {
        self.clock.lock()
    }

    pub(crate) fn coinbase(&self) -> Address {
        *self.coinbase.lock()
    }

    pub(crate) fn pool(&self) -> MutexGuard<'_, TxPool<T>> {
        self.pool.lock()
    }

    pub(crate) fn latest(&self) -> Latest {
        self.latest.read().clone()
    }

    pub(crate) fn set_latest(&self, latest: Latest) {
        *self.latest.write() = latest;
    }
}
