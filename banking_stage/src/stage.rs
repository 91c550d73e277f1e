//! [`BankingStage`]: the handle that starts the threads, takes submissions and
//! hands out produced blocks.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, Bytes};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError, bounded};
use lanes_accounts_db::ReadView;
use lanes_runtime::{
    Admission, BankError, Block, BlockHeader, Chain, DeclaredAccess, Executor, PoolTransaction,
    ReplayError,
};

use crate::config::{BankingStageConfig, Mining};
use crate::control::{Control, Decision, SystemWrites};
use crate::driver::{BlockDriver, BlockSink, ProducedBlock};
use crate::error::{StageError, SubmitError};
use crate::predict;
use crate::scheduler::Scheduler;
use crate::shared::{Failure, Shared};
use crate::signal::WorkSignal;
use crate::sigverify::{self, Answers, Job};

/// Transactions per sigverify job; a larger submission is split.
const JOB_SIZE: usize = 64;

/// The longest [`BankingStage::set_mining`] waits for the scheduler to take
/// a new mode in.
pub const SET_MINING_WAIT: Duration = Duration::from_secs(5);

/// The banking stage: txpool, sigverify threads, the scheduler thread and its
/// workers, producing a block every block time on `chain`.
pub struct BankingStage<E: Executor<Tx: PoolTransaction>> {
    shared: Arc<Shared<E::Tx>>,
    ingress: Option<Sender<Job>>,
    stop: Sender<()>,
    blocks: Receiver<ProducedBlock>,
    control: Sender<Control>,
    /// With [`BankingStageBuilder::hold_blocks`]: built blocks out,
    /// decisions in.
    held: Option<(Receiver<Block>, Sender<Decision>)>,
    sigverify: Vec<JoinHandle<()>>,
    predict: Vec<JoinHandle<()>>,
    scheduler: Option<JoinHandle<Result<Chain, StageError>>>,
}

impl<E: Executor<Tx: PoolTransaction>> std::fmt::Debug for BankingStage<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankingStage").finish_non_exhaustive()
    }
}

impl<E: Executor<Tx: PoolTransaction> + 'static> BankingStage<E> {
    /// A builder for a stage running `executor` on `chain`, producing
    /// blocks from its head on.
    pub fn builder(executor: Arc<E>, chain: Chain) -> BankingStageBuilder<E> {
        BankingStageBuilder {
            executor,
            chain,
            config: BankingStageConfig::default(),
            sink: None,
            admission: Arc::new(DeclaredAccess),
            hold: false,
        }
    }

    /// Starts the stage on `chain`, producing blocks from its head on; each
    /// transaction runs under its own declaration.
    pub fn start(executor: Arc<E>, chain: Chain, config: BankingStageConfig) -> Self {
        Self::builder(executor, chain).config(config).start()
    }

    /// [`Self::start`], with every sealed block handed to `sink` before it is
    /// committed.
    pub fn start_with_sink(
        executor: Arc<E>,
        chain: Chain,
        config: BankingStageConfig,
        sink: Option<Box<dyn BlockSink>>,
    ) -> Self {
        let builder = Self::builder(executor, chain).config(config);
        match sink {
            Some(sink) => builder.sink(sink).start(),
            None => builder.start(),
        }
    }
}

/// Sets up a [`BankingStage`]: [`BankingStage::builder`], then the optional
/// parts, then [`BankingStageBuilder::start`].
pub struct BankingStageBuilder<E: Executor<Tx: PoolTransaction>> {
    executor: Arc<E>,
    chain: Chain,
    config: BankingStageConfig,
    sink: Option<Box<dyn BlockSink>>,
    admission: Arc<dyn Admission<E::Tx>>,
    hold: bool,
}

impl<E: Executor<Tx: PoolTransaction>> std::fmt::Debug for BankingStageBuilder<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankingStageBuilder").field("config", &self.config).finish_non_exhaustive()
    }
}

impl<E: Executor<Tx: PoolTransaction> + 'static> BankingStageBuilder<E> {
    /// Limits and timings (default: [`BankingStageConfig::default`]).
    pub fn config(mut self, config: BankingStageConfig) -> Self {
        self.config = config;
        self
    }

    /// Hands every sealed block to `sink` before it is committed.
    pub fn sink(mut self, sink: Box<dyn BlockSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Decides each transaction's set at admission (default:
    /// [`DeclaredAccess`], the transaction's own declaration). It runs on the
    /// sigverify threads, never on the scheduler's.
    pub fn admission(mut self, admission: Arc<dyn Admission<E::Tx>>) -> Self {
        self.admission = admission;
        self
    }

    /// Holds each block once built and sealed, until a [`Decision`] on it
    /// ([`BankingStage::decide`]): building the next waits, as a consensus
    /// engine decides one height at a time. Built blocks come out on
    /// [`BankingStage::held`]. A block still undecided at shutdown is
    /// discarded.
    pub fn hold_blocks(mut self) -> Self {
        self.hold = true;
        self
    }

    /// Spawns the stage's threads.
    pub fn start(self) -> BankingStage<E> {
        let Self { executor, chain, config, sink, admission, hold } = self;
        let (doorbell, rings) = bounded(1);
        let shared = Arc::new(Shared::new(&chain, &config, admission, doorbell, hold));
        let (ingress, jobs) = bounded(config.ingress_queue.max(1));
        let sigverify = (0..config.sigverify_threads.max(1))
            .map(|i| {
                let (executor, jobs, shared) = (executor.clone(), jobs.clone(), shared.clone());
                std::thread::Builder::new()
                    .name(format!("lanes-sigverify-{i}"))
                    .spawn(move || sigverify::run(&*executor, jobs, &shared))
                    .expect("spawning a thread")
            })
            .collect();
        let predict = (0..config.predict_threads.max(1))
            .map(|i| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("lanes-predict-{i}"))
                    .spawn(move || predict::run(&shared))
                    .expect("spawning a thread")
            })
            .collect();
        let (stop, stopped) = bounded(1);
        let (blocks_out, blocks) = bounded(config.block_queue.max(1));
        let driver = BlockDriver::new(chain, shared.clone(), sink, blocks_out);
        let (held, hold) = if hold {
            let (built_out, built) = bounded(1);
            let (decide, decisions) = bounded(16);
            (Some((built, decide)), Some((built_out, decisions)))
        } else {
            (None, None)
        };
        let (control, controls) = bounded(64);
        let channels = (rings, stopped, controls);
        let scheduler = Scheduler::new(executor, driver, config, shared.clone(), channels, hold);
        let scheduler = std::thread::Builder::new()
            .name("lanes-scheduler".into())
            .spawn(move || scheduler.run())
            .expect("spawning a thread");
        BankingStage {
            shared,
            ingress: Some(ingress),
            stop,
            blocks,
            control,
            held,
            sigverify,
            predict,
            scheduler: Some(scheduler),
        }
    }
}

impl<E: Executor<Tx: PoolTransaction>> BankingStage<E> {
    /// Decodes `raw`, recovers its sender and admits it to the pool. Blocks
    /// while a sigverify thread handles it.
    pub fn submit(&self, raw: Bytes) -> Result<B256, SubmitError> {
        self.submit_many(vec![raw]).pop().expect("one result per transaction")
    }

    /// [`Self::submit`] for many transactions, verified in parallel; one result
    /// per transaction, in order. Waits at most
    /// [`BankingStageConfig::admit_timeout`] for their admission.
    pub fn submit_many(&self, raws: Vec<Bytes>) -> Vec<Result<B256, SubmitError>> {
        let n = raws.len();
        let Some(ingress) =
            self.ingress.as_ref().filter(|_| !self.shared.closed.load(Ordering::Acquire))
        else {
            return vec![Err(self.shared.closed_error()); n];
        };
        let deadline = Instant::now() + self.shared.admit_timeout;
        let answers = Answers::new(n);
        let mut raws = raws.into_iter();
        for first in (0..n).step_by(JOB_SIZE) {
            let raws = raws.by_ref().take(JOB_SIZE).collect();
            let job = Job { first, raws, reply: answers.reply().clone() };
            let refused = match ingress.try_send(job) {
                Ok(()) => continue,
                Err(TrySendError::Full(job)) => (job, SubmitError::Busy),
                Err(TrySendError::Disconnected(job)) => (job, SubmitError::ShuttingDown),
            };
            let (job, error) = refused;
            for i in 0..job.raws.len() {
                job.reply.send(first + i, Err(error.clone()));
            }
        }
        answers.collect(&self.shared, n, deadline)
    }

    /// Admits transactions whose senders the caller recovered itself, which
    /// took it `recovered_in`: the path for callers that decode on their own
    /// thread (a node's RPC tasks, sparing a lone transaction a hop to a
    /// sigverify thread; a benchmark of the stages after sigverify). That
    /// time counts into the next block's
    /// [`sigverify_time`](crate::BlockStats::sigverify_time), as the
    /// sigverify threads' does. The admission hook's [`Admission::admit`]
    /// runs on the calling thread, predictions on the stage's. Waits at most
    /// [`BankingStageConfig::admit_timeout`].
    pub fn submit_decoded(
        &self,
        txs: Vec<E::Tx>,
        recovered_in: Duration,
    ) -> Vec<Result<B256, SubmitError>> {
        let n = txs.len();
        if self.shared.closed.load(Ordering::Acquire) {
            return vec![Err(self.shared.closed_error()); n];
        }
        self.shared.count_sigverify(recovered_in);
        let deadline = Instant::now() + self.shared.admit_timeout;
        let answers = Answers::new(n);
        sigverify::admit(&self.shared, 0, txs.into_iter().map(Ok), answers.reply());
        answers.collect(&self.shared, n, deadline)
    }

    /// Stops scheduling: what is admitted stays in the pool, work already
    /// handed to workers finishes, and blocks go on being sealed (empty once
    /// that work is in). For letting the pool fill before the stage runs it,
    /// as a benchmark of execution does.
    pub fn pause(&self) {
        self.shared.paused.store(true, Ordering::Release);
    }

    /// Undoes [`Self::pause`]: the scheduler takes from the pool again at once.
    pub fn resume(&self) {
        self.shared.paused.store(false, Ordering::Release);
        self.shared.work_arrived();
    }

    /// Why block production stopped, once a failure stopped it (the
    /// [`Self::blocks`] channel then ends).
    pub fn failure(&self) -> Failure {
        self.shared.failure.clone()
    }

    /// Produced blocks, in order. Production waits while
    /// [`BankingStageConfig::block_queue`] of them are unread.
    pub fn blocks(&self) -> &Receiver<ProducedBlock> {
        &self.blocks
    }

    /// How blocks are sealed now.
    pub fn mining(&self) -> Mining {
        *self.shared.mining.lock()
    }

    /// Seals blocks `mining`'s way from the next block on; `block_time`, when
    /// given, becomes the interval of interval mining. Returns once the
    /// scheduler has taken it in (at most [`SET_MINING_WAIT`]).
    pub fn set_mining(
        &self,
        mining: Mining,
        block_time: Option<Duration>,
    ) -> Result<(), StageError> {
        *self.shared.mining.lock() = mining;
        let (reply, taken) = bounded(1);
        let set = Control::SetMining(mining, block_time, reply);
        self.control.send(set).map_err(|_| StageError::Stopped)?;
        // Taken in before the caller's next request: a transaction sent right
        // after turning automine off waits for a mine request. (A stage
        // holding a block for a decision takes it in after the decision.)
        match taken.recv_timeout(SET_MINING_WAIT) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => Ok(()),
            Err(RecvTimeoutError::Disconnected) => Err(StageError::Stopped),
        }
    }

    /// Seals `blocks` blocks now (at least one), each running what is ready,
    /// empty or not: the first stamped `first` (default: the block clock,
    /// which a set next timestamp and `increase_time` move), the others
    /// `interval` seconds after the one before (default, or 0: the block
    /// clock), and each always after the block before. Waits until they
    /// are committed and returns the last one's number.
    pub fn mine(
        &self,
        blocks: u64,
        first: Option<u64>,
        interval: Option<u64>,
    ) -> Result<u64, StageError> {
        let (reply, answer) = bounded(1);
        let mine = Control::Mine { blocks: blocks.max(1), first, interval, reply };
        self.control.send(mine).map_err(|_| StageError::Stopped)?;
        let _ = self.shared.doorbell.try_send(());
        answer.recv().map_err(|_| StageError::Stopped)
    }

    /// Seals a block now that holds only the writes `writes` makes from the
    /// state that block opens on (so a change to one field of an account
    /// keeps what the blocks before it did to the others), written before
    /// any transaction (a dev node's state controls), and waits until it is
    /// committed; returns its number. Refused by a chain without
    /// [`lanes_runtime::BankConfig::allow_system`].
    pub fn apply_system(&self, writes: SystemWrites) -> Result<Result<u64, BankError>, StageError> {
        let (reply, answer) = bounded(1);
        self.control.send(Control::System { writes, reply }).map_err(|_| StageError::Stopped)?;
        let _ = self.shared.doorbell.try_send(());
        answer.recv().map_err(|_| StageError::Stopped)
    }

    /// Takes the chain back to the block `header` heads (a dev node's
    /// `evm_revert`), in place, between blocks: the sink drops the later
    /// blocks ([`BlockSink::truncate`]), the state goes back in time
    /// proportional to what changed since ([`Chain::revert_to`]), and the
    /// pool is emptied; the hashes it held. `older`: the hashes of the
    /// blocks before it, newest first (BLOCKHASH). A set next base fee and
    /// gas limit are forgotten, and the block clock runs `offset` seconds
    /// from the wall clock ([`Self::set_time_offset`]). Refused with
    /// [`StageError::RevertBusy`], changing nothing, while transactions are
    /// on their way into the pool.
    pub fn revert_to(
        &self,
        header: BlockHeader,
        older: Vec<B256>,
        offset: i64,
    ) -> Result<Vec<B256>, StageError> {
        let (reply, answer) = bounded(1);
        let revert = Control::Revert { header: Box::new(header), older, offset, reply };
        self.control.send(revert).map_err(|_| StageError::Stopped)?;
        let _ = self.shared.doorbell.try_send(());
        answer.recv().map_err(|_| StageError::Stopped)?
    }

    /// Moves block time `seconds` forward (`evm_increaseTime`) from the
    /// later of the clock's time and the head's timestamp, so the next block
    /// is at least the head's timestamp plus `seconds`; returns the total
    /// offset from the wall clock.
    pub fn increase_time(&self, seconds: u64) -> i64 {
        let head = self.head().timestamp;
        self.shared.clock().increase(seconds, head)
    }

    /// Stamps the next block `timestamp` (`evm_setNextBlockTimestamp`);
    /// time goes on from it. Refused unless it is after the head's.
    pub fn set_next_timestamp(&self, timestamp: u64) -> Result<(), StageError> {
        let head = self.head().timestamp;
        if timestamp <= head {
            return Err(StageError::TimestampNotAfterHead { timestamp, head });
        }
        self.shared.clock().set_next(timestamp);
        Ok(())
    }

    /// Sets the block clock to `timestamp` (`anvil_setTime`): time goes on
    /// from it, and a set next timestamp is forgotten; blocks stay after
    /// their parents. Answers the seconds from the clock's time before to
    /// `timestamp` (0 when it went back).
    pub fn set_time(&self, timestamp: u64) -> u64 {
        self.shared.clock().set_time(timestamp)
    }

    /// Stamps each later block `seconds` after its parent, whatever the
    /// clock says (`anvil_setBlockTimestampInterval`), or (`None`) from the
    /// clock again (`anvil_removeBlockTimestampInterval`); answers whether
    /// an interval was set before.
    pub fn set_block_interval(&self, seconds: Option<u64>) -> bool {
        self.shared.clock().set_interval(seconds).is_some()
    }

    /// Seconds the block clock runs ahead of (or behind) the wall clock.
    pub fn time_offset(&self) -> i64 {
        self.shared.clock().offset()
    }

    /// Sets [`Self::time_offset`] and forgets a set next timestamp.
    pub fn set_time_offset(&self, offset: i64) {
        self.shared.clock().set_offset(offset);
    }

    /// The block clock's time now: the wall clock moved by the time controls.
    pub fn now(&self) -> u64 {
        self.shared.clock().now()
    }

    /// Pays the fees of the blocks opened from now on to `coinbase`.
    pub fn set_coinbase(&self, coinbase: Address) {
        *self.shared.coinbase.lock() = coinbase;
    }

    /// Sets the next block's base fee per gas; later blocks follow the
    /// chain's rule from it (a dev node's `anvil_setNextBlockBaseFeePerGas`).
    /// A chain whose replay does not allow system writes refuses such a
    /// block.
    pub fn set_next_base_fee(&self, base_fee: u64) {
        *self.shared.next_base_fee.lock() = Some(base_fee);
        // Admission checks a new transaction against the next block's fee.
        self.shared.pool().set_base_fee(base_fee);
    }

    /// Sets the next block's gas limit; later blocks keep it (a dev node's
    /// `anvil_setBlockGasLimit`). The pool refuses transactions over it
    /// from now on.
    pub fn set_next_gas_limit(&self, gas_limit: u64) {
        *self.shared.next_gas_limit.lock() = Some(gas_limit);
        self.shared.pool().set_block_gas_limit(gas_limit);
    }

    /// The gas limit of the next block: one set for it, or the head's.
    pub fn next_gas_limit(&self) -> u64 {
        self.shared.next_gas_limit().unwrap_or_else(|| self.head().gas_limit)
    }

    /// The base fee the next block charges: one set for it, or the chain's
    /// rule's from the head ([`lanes_runtime::BankConfig::base_fee`]).
    pub fn next_base_fee(&self) -> u64 {
        self.shared.next_base_fee().unwrap_or_else(|| self.shared.latest().next_base_fee())
    }

    /// The account the next block pays its fees to.
    pub fn coinbase(&self) -> Address {
        self.shared.coinbase()
    }

    /// With [`BankingStageBuilder::hold_blocks`]: each block as built and
    /// sealed, not yet committed; the stage waits for [`Self::decide`].
    pub fn held(&self) -> Option<&Receiver<Block>> {
        self.held.as_ref().map(|(built, _)| built)
    }

    /// Re-executes `block`, built by another node on this stage's head, on
    /// the stage's threads without committing it: `Ok(Err(_))` names why it
    /// does not check (conflicting entries, a transaction outside its set,
    /// a header that is not what execution produced). Answered even while
    /// the stage holds a block of its own.
    pub fn verify(&self, block: Block) -> Result<Result<(), Box<ReplayError>>, StageError> {
        let (reply, answer) = bounded(1);
        let verify = Control::Verify { block: Box::new(block), reply };
        self.control.send(verify).map_err(|_| StageError::Stopped)?;
        let _ = self.shared.doorbell.try_send(());
        answer.recv().map_err(|_| StageError::Stopped)
    }

    /// Commits `block`, decided by a consensus engine and built by any node,
    /// as the head's child: re-executed unless [`Self::verify`] just checked
    /// it, persisted to the sink, committed and published on
    /// [`Self::blocks`] like a block of its own. A block the stage holds is
    /// dropped first (its transactions return to the pool), and the pool
    /// learns the block: its transactions leave, nonces advance. Returns the
    /// block's number, or `Ok(Err(_))` when it does not check.
    pub fn import(&self, block: Block) -> Result<Result<u64, Box<ReplayError>>, StageError> {
        let (reply, answer) = bounded(1);
        let import = Control::Import { block: Box::new(block), reply };
        self.control.send(import).map_err(|_| StageError::Stopped)?;
        let _ = self.shared.doorbell.try_send(());
        answer.recv().map_err(|_| StageError::Stopped)
    }

    /// Builds one block now from what is ready, empty or not, stamped `at`
    /// (default: the block clock), and returns it sealed and held: with
    /// [`BankingStageBuilder::hold_blocks`], for a proposer, which then
    /// [`Self::decide`]s it or [`Self::import`]s another.
    pub fn build_held(&self, at: Option<u64>) -> Result<Block, StageError> {
        let held = self.held().ok_or(StageError::NotHolding)?;
        // The mine's own answer comes once the block is decided: not awaited.
        let (reply, _answer) = bounded(1);
        let mine = Control::Mine { blocks: 1, first: at, interval: None, reply };
        self.control.send(mine).map_err(|_| StageError::Stopped)?;
        let _ = self.shared.doorbell.try_send(());
        held.recv().map_err(|_| StageError::Stopped)
    }

    /// Commits or discards the block the stage holds. A decision naming
    /// another block is ignored. Fails when the stage holds no blocks
    /// ([`BankingStageBuilder::hold_blocks`]) or has stopped.
    pub fn decide(&self, decision: Decision) -> Result<(), StageError> {
        let (_, decide) = self.held.as_ref().ok_or(StageError::NotHolding)?;
        decide.send(decision).map_err(|_| StageError::Stopped)
    }

    /// The last committed block's header.
    pub fn head(&self) -> BlockHeader {
        self.shared.latest().header
    }

    /// The last committed block's hash.
    pub fn head_hash(&self) -> B256 {
        self.shared.latest().hash
    }

    /// The state after the last committed block.
    pub fn state(&self) -> ReadView {
        self.shared.latest().view
    }

    /// The last committed block's header, its hash and the state after it,
    /// taken together: a commit that lands meanwhile changes all three or
    /// none ([`Self::head`], [`Self::state`] each read the head anew).
    pub fn head_state(&self) -> (BlockHeader, B256, ReadView) {
        let latest = self.shared.latest();
        (latest.header, latest.hash, latest.view)
    }

    /// The timestamp the next block would carry if it were opened now: a
    /// set next timestamp ([`Self::set_next_timestamp`]), else the block
    /// clock's time, always after the head's (what `pending` runs at).
    pub fn next_timestamp(&self) -> u64 {
        let head = self.shared.latest().header.timestamp;
        self.shared.clock().next_block(head, None, Duration::ZERO)
    }

    /// The signal rung when transactions become ready: a thread waiting for
    /// work ([`Self::has_work`]) parks on it.
    pub fn work_signal(&self) -> Arc<WorkSignal> {
        self.shared.work.clone()
    }

    /// Whether the pool may hold a transaction ready to run (never while
    /// paused): a consensus proposer waits for one before building.
    pub fn has_work(&self) -> bool {
        !self.shared.paused.load(Ordering::Acquire) && self.shared.pool().has_ready()
    }

    /// The nonce a sender's next new transaction should carry, counting what
    /// the pool holds; `None` when the pool holds nothing of the sender (then
    /// the committed account nonce is the answer).
    pub fn pending_nonce(&self, sender: &Address) -> Option<u64> {
        self.shared.pool().pending_nonce(sender)
    }

    /// The pooled transaction `hash`, while it waits in the pool (not while
    /// it is taken out to run). Scans the pool.
    pub fn pooled(&self, hash: &B256) -> Option<E::Tx> {
        self.shared.pool().find(hash)
    }

    /// Whether the stage holds `hash`: waiting in the pool, running, or in
    /// the block being built and not yet persisted. Scans the pool.
    pub fn holds(&self, hash: &B256) -> bool {
        self.shared.pool().holds(hash)
    }

    /// The transactions the pool let go without running them since the last
    /// call (and since the last block, whose [`ProducedBlock::discarded`]
    /// carries them), and why: replaced by a higher tip, or a nonce used up.
    pub fn take_discarded(&self) -> Vec<(B256, String)> {
        self.shared.pool().take_discarded()
    }

    /// Copies of the transactions waiting in the pool with whether each is
    /// next in line for its sender (`txpool_content`'s pending) or behind a
    /// nonce gap (its queued). Scans the pool.
    pub fn pool_listing(&self) -> Vec<(E::Tx, bool)> {
        self.shared.pool().listing()
    }

    /// Removes from the pool the waiting transactions `pick` chooses (a dev
    /// node's `anvil_dropTransaction`); their hashes. One already taken out
    /// to run is not removed.
    pub fn remove_pooled(&self, pick: impl FnMut(&E::Tx) -> bool) -> Vec<B256> {
        self.shared.pool().remove_where(pick)
    }

    /// Copies of the transactions waiting in the pool, each sender's in
    /// nonce order (a dev node's `evm_snapshot` keeps them).
    pub fn queued(&self) -> Vec<E::Tx> {
        self.shared.pool().queued()
    }

    /// Transactions accepted and not yet in a block or dropped.
    pub fn pool_len(&self) -> usize {
        self.shared.pool().len()
    }

    /// Pooled transactions whose access set is still being predicted (not
    /// yet ready to run).
    pub fn predicting(&self) -> usize {
        self.shared.pool().predicting()
    }

    /// Stops intake, drains the work in flight, seals and commits the current
    /// block, and returns the chain. Blocks not yet read stay readable from
    /// [`Self::blocks`] until the stage is dropped.
    pub fn shutdown(&mut self) -> Result<Chain, StageError> {
        self.shared.closed.store(true, Ordering::Release);
        // A waiter on the work signal looks again, and finds the stage gone.
        self.shared.work.ring();
        self.ingress = None;
        for handle in self.sigverify.drain(..) {
            handle.join().map_err(|_| StageError::Panicked)?;
        }
        self.shared.predictions.close();
        for handle in self.predict.drain(..) {
            handle.join().map_err(|_| StageError::Panicked)?;
        }
        let _ = self.stop.try_send(());
        let scheduler = self.scheduler.take().ok_or(StageError::Panicked)?;
        scheduler.join().map_err(|_| StageError::Panicked)?
    }
}

impl<E: Executor<Tx: PoolTransaction>> Drop for BankingStage<E> {
    fn drop(&mut self) {
        if self.scheduler.is_some() {
            let _ = self.shutdown();
        }
    }
}
