//! The block driver: the steps of a block after its transactions ran, kept
//! apart so each can happen on its own — *open* a bank on the head, *seal* it
//! into a [`BuiltBlock`], then *commit* it (persist to the [`BlockSink`],
//! commit to the chain, move the served head) and *publish* it as a
//! [`ProducedBlock`], or *discard* it and return its transactions to the pool. A consensus engine holds a built block
//! until it is decided; a lost round discards it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use alloy_primitives::B256;
use crossbeam_channel::{SendTimeoutError, Sender};
use lanes_runtime::{Bank, Block, BlockHeader, Chain, Receipt, SealedBlock, TxError};

use crate::error::StageError;
use crate::pool::Held;
use crate::shared::{Latest, Shared};
use crate::stats::{BlockStats, BuildCounters};

/// A block the stage produced and committed.
#[derive(Debug)]
pub struct ProducedBlock {
    /// The block, as committed.
    pub block: Block,
    /// Its receipts, in block order.
    pub receipts: Vec<Receipt>,
    /// Transactions dropped at execution in this block, and why.
    pub rejected: Vec<(B256, TxError)>,
    /// Transactions the pool let go without running them since the block
    /// before, and why ([`crate::BankingStage::take_discarded`]).
    pub discarded: Vec<(B256, String)>,
    /// What the stage did for it.
    pub stats: BlockStats,
    /// What each transaction read and wrote, where the chain's banks record
    /// it ([`lanes_runtime::BankConfig::record_accesses`]).
    pub accesses: Option<lanes_runtime::BlockAccesses>,
}

/// Makes each sealed block durable somewhere else before the stage commits it
/// to the accounts database: a node's ledger, used as a write-ahead log. A
/// block the sink has persisted may be lost from the accounts database by a
/// crash, never the other way round, so the node can replay it on restart.
pub trait BlockSink: Send + 'static {
    /// Persists `sealed` (the block, its receipts, and where the chain's
    /// banks record them, its accesses); an error stops the stage before
    /// the block is committed.
    fn persist(
        &mut self,
        sealed: &SealedBlock,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;

    /// Called on the stage's thread once `produced` is committed, before it
    /// goes out on [`crate::BankingStage::blocks`]: where a node serves the
    /// block and answers those waiting for it, with no other thread to wake.
    fn committed(&mut self, produced: &ProducedBlock) {
        let _ = produced;
    }

    /// Drops the blocks after `number` ([`crate::BankingStage::revert_to`]),
    /// before the chain's state goes back to it. A sink that cannot cut
    /// (the default) refuses, and the stage's state stays where it is.
    fn truncate(&mut self, number: u64) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Err(format!("this block sink cannot drop the blocks after block {number}").into())
    }
}

/// A block the stage built and sealed, not yet committed.
pub(crate) struct BuiltBlock<T> {
    /// The block, its receipts and state changes.
    pub(crate) sealed: SealedBlock,
    /// Its transactions in their pool boxes, for a discard to requeue.
    pub(crate) included: Vec<Held<T>>,
    /// Transactions dropped while building it, and why.
    pub(crate) rejected: Vec<(B256, TxError)>,
    /// What the scheduler counted while building it.
    pub(crate) counters: BuildCounters,
    /// Time taken to seal it.
    pub(crate) seal_time: Duration,
}

/// Opens, seals, commits, publishes and discards blocks on one chain.
pub(crate) struct BlockDriver<T> {
    chain: Chain,
    shared: Arc<Shared<T>>,
    sink: Option<Box<dyn BlockSink>>,
    blocks: Sender<ProducedBlock>,
}

impl<T: lanes_runtime::PoolTransaction> BlockDriver<T> {
    pub(crate) fn new(
        chain: Chain,
        shared: Arc<Shared<T>>,
        sink: Option<Box<dyn BlockSink>>,
        blocks: Sender<ProducedBlock>,
    ) -> Self {
        Self { chain, shared, sink, blocks }
    }

    /// The chain, for its head and bank settings.
    pub(crate) fn chain(&self) -> &Chain {
        &self.chain
    }

    /// Takes the chain back to the block `header` heads, in place: the sink
    /// drops the later blocks first (a write-ahead log records the revert
    /// before the state moves), then the chain's state goes back
    /// ([`Chain::revert_to`]) and is served as the head, with the block
    /// clock `offset` seconds from the wall clock; a set next base fee and
    /// gas limit are forgotten.
    pub(crate) fn revert(
        &mut self,
        header: BlockHeader,
        older: Vec<B256>,
        offset: i64,
    ) -> Result<(), StageError> {
        let number = header.number;
        self.chain.check_revert(&header)?;
        if let Some(sink) = &mut self.sink {
            sink.truncate(number).map_err(|source| StageError::SinkTruncate { number, source })?;
        }
        self.chain.revert_to(header, older)?;
        self.shared.clock().set_offset(offset);
        let latest = Latest::of(&self.chain, self.shared.coinbase(), &self.shared.clock());
        let base_fee = latest.next_base_fee();
        self.shared.set_latest(latest);
        *self.shared.next_base_fee.lock() = None;
        *self.shared.next_gas_limit.lock() = None;
        let mut pool = self.shared.pool();
        pool.set_base_fee(base_fee);
        pool.set_block_gas_limit(self.chain.head().gas_limit);
        Ok(())
    }

    /// Hands back the chain.
    pub(crate) fn into_chain(self) -> Chain {
        self.chain
    }

    /// A bank for the head's child, stamped `at` (default: the block
    /// clock's time when it seals, `seals_in` from now), and always after
    /// the head: timestamps strictly increase, so blocks sealed within one
    /// second take the head's timestamp plus one.
    pub(crate) fn open(&self, at: Option<u64>, seals_in: Duration) -> Bank {
        let head = self.chain.head().timestamp;
        let timestamp = self.shared.clock().next_block(head, at, seals_in);
        let mut env = self.chain.next_env(timestamp, self.shared.coinbase());
        // A set base fee stays set until a block with it is committed.
        if let Some(base_fee) = self.shared.next_base_fee() {
            env.base_fee = base_fee;
        }
        if let Some(gas_limit) = self.shared.next_gas_limit() {
            env.gas_limit = gas_limit;
        }
        self.chain.new_bank_with(env)
    }

    /// The block clock's time now.
    pub(crate) fn clock_now(&self) -> u64 {
        self.shared.clock().now()
    }

    /// The head's timestamp.
    pub(crate) fn head_timestamp(&self) -> u64 {
        self.chain.head().timestamp
    }

    /// Seals `bank`, which ran `included`.
    pub(crate) fn seal(
        &self,
        bank: Bank,
        included: Vec<Held<T>>,
        rejected: Vec<(B256, TxError)>,
        counters: BuildCounters,
    ) -> Result<BuiltBlock<T>, StageError> {
        let start = Instant::now();
        let sealed = bank.seal()?;
        Ok(BuiltBlock { sealed, included, rejected, counters, seal_time: start.elapsed() })
    }

    /// Wraps `sealed`, another node's block re-executed here, for
    /// [`Self::commit`]: none of its transactions came from this pool.
    pub(crate) fn seal_imported(&self, sealed: SealedBlock) -> BuiltBlock<T> {
        let counters = BuildCounters { imported: true, ..BuildCounters::default() };
        let (included, rejected, seal_time) = (Vec::new(), Vec::new(), Duration::ZERO);
        BuiltBlock { sealed, included, rejected, counters, seal_time }
    }

    /// Makes `built` durable: the sink first (a write-ahead log), then the
    /// chain; then serves its state as the head and forgets idle senders.
    pub(crate) fn commit(&mut self, built: BuiltBlock<T>) -> Result<ProducedBlock, StageError> {
        let BuiltBlock { sealed, included, rejected, counters, seal_time } = built;
        let start = Instant::now();
        if let Some(sink) = &mut self.sink {
            sink.persist(&sealed).map_err(|source| StageError::Sink {
                number: sealed.block.header.number,
                source,
            })?;
        }
        self.chain.commit(&sealed)?;
        let latest = Latest::of(&self.chain, self.shared.coinbase(), &self.shared.clock());
        let ruled = latest.next_base_fee();
        self.shared.set_latest(latest);
        // What the committed block used up of the time and fee controls.
        let head = self.chain.head();
        self.shared.clock().committed(head.timestamp);
        let base_fee = {
            let mut next = self.shared.next_base_fee.lock();
            if *next == Some(head.base_fee) {
                *next = None;
            }
            next.unwrap_or(ruled)
        };
        {
            let mut next = self.shared.next_gas_limit.lock();
            if *next == Some(head.gas_limit) {
                *next = None;
            }
        }
        let (pool_len, discarded) = {
            let mut pool = self.shared.pool();
            pool.persisted(included.iter().map(|p| p.hash));
            pool.set_base_fee(base_fee);
            pool.prune_idle();
            (pool.len(), pool.take_discarded())
        };
        drop(included);
        let taken =
            |n: &std::sync::atomic::AtomicU64| Duration::from_nanos(n.swap(0, Ordering::Relaxed));
        let admission = (taken(&self.shared.sigverify_nanos), taken(&self.shared.predict_nanos));
        let seal_time = seal_time + start.elapsed();
        let stats = BlockStats::new(
            &sealed.block,
            sealed.accesses.as_ref(),
            &counters,
            rejected.len(),
            admission,
            seal_time,
            pool_len,
        );
        stats.log();
        let SealedBlock { block, receipts, accesses, .. } = sealed;
        Ok(ProducedBlock { block, receipts, rejected, discarded, stats, accesses })
    }

    /// Hands a committed block to the consumer of the stage's blocks,
    /// waiting while its queue is full (but not past shutdown).
    pub(crate) fn publish(&mut self, mut produced: ProducedBlock) {
        if let Some(sink) = &mut self.sink {
            sink.committed(&produced);
        }
        let number = produced.block.header.number;
        loop {
            match self.blocks.send_timeout(produced, Duration::from_millis(50)) {
                Ok(()) | Err(SendTimeoutError::Disconnected(_)) => break,
                Err(SendTimeoutError::Timeout(back)) => {
                    if self.shared.closed.load(Ordering::Acquire) {
                        tracing::warn!(target: "lanes::banking", number, "block queue full at shutdown; block committed but not handed out");
                        break;
                    }
                    produced = back;
                }
            }
        }
    }

    /// Drops `built` without committing it: its transactions go back to the
    /// pool with `held` (what the scheduler took and did not run), as if
    /// never taken, and the next block is built on the same head.
    pub(crate) fn discard(&self, built: BuiltBlock<T>, held: impl IntoIterator<Item = Held<T>>) {
        let number = built.sealed.block.header.number;
        let returned = built.included.len();
        self.shared.pool().requeue(built.included.into_iter().chain(held));
        if returned > 0 {
            tracing::info!(target: "lanes::banking", number, returned, "block discarded");
        }
    }
}
