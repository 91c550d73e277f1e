//! [`BlockStats`]: what the banking stage did for one block.

use std::time::{Duration, Instant};

use lanes_runtime::{AccessSource, Block};

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
    /// Transactions included under the set they declared.
    pub declared: usize,
    /// Transactions included under a set known from state.
    pub known: usize,
    /// Transactions included under a predicted set.
    pub predicted: usize,
    /// Times a transaction left the set it ran with (it was predicted again
    /// or sent to the exclusive lane; nothing of the attempt was kept).
    pub mispredicted: u64,
    /// Of the transactions included under a predicted set, those whose
    /// first prediction held (it covered what the transaction did).
    pub predictions_held: usize,
    /// Of the transactions included under a predicted set, those whose set
    /// locked a key they did not touch (judged by the block's record of
    /// what each transaction did, where the chain's banks keep one).
    pub over_predicted: usize,
    /// Times the scheduler held a transaction back because its set conflicted
    /// with work in flight or with a transaction ahead of it.
    pub conflicts: u64,
    /// Transactions dropped at execution (bad nonce, cannot pay, ...).
    pub rejected: usize,
    /// Gas used.
    pub gas_used: u64,
    /// Sender recovery time since the previous block, summed over the
    /// sigverify threads and the times callers of
    /// [`crate::BankingStage::submit_decoded`] report for their own.
    pub sigverify_time: Duration,
    /// Time spent predicting sets since the previous block (at admission,
    /// and again after a transaction left its set), summed over threads.
    pub predict_time: Duration,
    /// Time the scheduler thread spent scheduling and completing batches.
    pub scheduler_time: Duration,
    /// Time spent executing batches, summed over the workers.
    pub worker_time: Duration,
    /// When the block's last batch finished on its worker (`None` where the
    /// block ran no batch): with the moment its transactions became ready,
    /// the block's execution time, read without polling the stage.
    pub last_batch_done: Option<Instant>,
    /// Time to seal and commit the block.
    pub seal_time: Duration,
    /// Transactions in the pool after the block.
    pub pool_len: usize,
    /// Included transactions that left a predicted set and ran again under
    /// one predicted against the block so far.
    pub reran: Vec<alloy_primitives::B256>,
    /// Transactions that left their set and ran alone, in the exclusive lane.
    pub strayed: Vec<alloy_primitives::B256>,
    /// Another node's block, re-executed here: none of its transactions came
    /// from this stage's pool, and how each ran there is not known.
    pub imported: bool,
}

/// What the scheduler counted while building one block.
#[derive(Debug, Default)]
pub(crate) struct BuildCounters {
    /// Times a transaction was held back by a conflict.
    pub(crate) conflicts: u64,
    /// Included transactions by the source of their set.
    pub(crate) declared: usize,
    pub(crate) known: usize,
    pub(crate) predicted: usize,
    /// Times a transaction left its set.
    pub(crate) mispredicted: u64,
    /// Included under a predicted set that was their first.
    pub(crate) predictions_held: usize,
    /// Time spent scheduling and completing batches.
    pub(crate) scheduler_time: Duration,
    /// Time spent executing batches, summed over the workers.
    pub(crate) worker_time: Duration,
    /// See [`BlockStats::last_batch_done`].
    pub(crate) last_batch_done: Option<Instant>,
    /// See [`BlockStats::reran`] and [`BlockStats::strayed`].
    pub(crate) reran: Vec<alloy_primitives::B256>,
    pub(crate) strayed: Vec<alloy_primitives::B256>,
    /// See [`BlockStats::imported`].
    pub(crate) imported: bool,
}

impl BuildCounters {
    /// Counts an included transaction by the source of its set, and (for a
    /// predicted one) whether it was predicted again before it ran.
    pub(crate) fn included(&mut self, source: AccessSource, repredicted: bool) {
        match source {
            AccessSource::Declared => self.declared += 1,
            AccessSource::Known => self.known += 1,
            AccessSource::Predicted => {
                self.predicted += 1;
                self.predictions_held += usize::from(!repredicted);
            }
            _ => {}
        }
    }
}

impl BlockStats {
    /// The stats of a committed block.
    pub(crate) fn new(
        block: &Block,
        accesses: Option<&lanes_runtime::BlockAccesses>,
        counters: &BuildCounters,
        rejected: usize,
        (sigverify_time, predict_time): (Duration, Duration),
        seal_time: Duration,
        pool_len: usize,
    ) -> Self {
        let entries = &block.entries;
        let transactions = block.tx_count();
        let over_predicted = accesses.map_or(0, |a| {
            let txs = block.txs().zip(&a.txs);
            let over = txs.filter(|(t, did)| {
                t.source == AccessSource::Predicted && did.unused_in(&t.access) > 0
            });
            over.count()
        });
        Self {
            number: block.header.number,
            transactions,
            entries: entries.len(),
            mean_entry_width: if entries.is_empty() {
                0.0
            } else {
                transactions as f64 / entries.len() as f64
            },
            exclusive: entries.iter().filter(|e| e.exclusive).count(),
            declared: counters.declared,
            known: counters.known,
            predicted: counters.predicted,
            mispredicted: counters.mispredicted,
            predictions_held: counters.predictions_held,
            over_predicted,
            conflicts: counters.conflicts,
            rejected,
            gas_used: block.header.gas_used,
            sigverify_time,
            predict_time,
            scheduler_time: counters.scheduler_time,
            worker_time: counters.worker_time,
            last_batch_done: counters.last_batch_done,
            seal_time,
            pool_len,
            reran: counters.reran.clone(),
            strayed: counters.strayed.clone(),
            imported: counters.imported,
        }
    }

    /// Logs the stats as one line.
    pub(crate) fn log(&self) {
        tracing::info!(
            target: "lanes::banking",
            number = self.number,
            txs = self.transactions,
            entries = self.entries,
            width = format_args!("{:.1}", self.mean_entry_width),
            exclusive = self.exclusive,
            predicted = self.predicted,
            mispredicted = self.mispredicted,
            conflicts = self.conflicts,
            rejected = self.rejected,
            gas = self.gas_used,
            sigverify = ?self.sigverify_time,
            predict = ?self.predict_time,
            scheduler = ?self.scheduler_time,
            workers = ?self.worker_time,
            seal = ?self.seal_time,
            pool = self.pool_len,
            "block"
        );
    }
}
