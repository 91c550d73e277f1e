//! Serving a committed block, on the banking stage's thread as the block is
//! committed ([`PublishingSink`]): counted, served, its drops noted and the
//! sends waiting for it answered, so a lone send's answer needs no other
//! thread to wake. The follower thread then feeds the subscriptions.

use std::collections::HashMap;
use std::sync::Arc;

use alloy_primitives::B256;
use lanes_banking_stage::{BlockSink, BlockStats, ProducedBlock};
use lanes_runtime::SealedBlock;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::ledger::{Ledger, LedgerBlock, LedgerSink};

/// A send's wait for its transaction's block.
pub(crate) type Waiting = oneshot::Receiver<()>;

/// Totals over the blocks produced since start.
#[derive(Clone, Debug, Default)]
pub(crate) struct Totals {
    pub(crate) blocks: u64,
    pub(crate) transactions: u64,
    pub(crate) entries: u64,
    pub(crate) exclusive: u64,
    pub(crate) declared: u64,
    pub(crate) known: u64,
    pub(crate) predicted: u64,
    pub(crate) mispredicted: u64,
    pub(crate) predictions_held: u64,
    pub(crate) over_predicted: u64,
    pub(crate) conflicts: u64,
    pub(crate) rejected: u64,
    pub(crate) last: Option<BlockStats>,
}

/// Most dropped transactions `lanes_transactionStatus` remembers; the
/// oldest are forgotten first (then answered `unknown`).
pub(crate) const MAX_DROPPED_REMEMBERED: usize = 100_000;

/// Transactions the node acknowledged and then dropped, with why.
#[derive(Default)]
pub(crate) struct Dropped {
    reasons: HashMap<B256, String>,
    order: std::collections::VecDeque<B256>,
}

impl Dropped {
    /// Notes `hash` dropped for `reason` (logged at debug: callers say what
    /// a block or a command lost in one line).
    pub(crate) fn note(&mut self, hash: B256, reason: String) {
        tracing::debug!(target: "lanes::node", %hash, %reason, "transaction dropped");
        if self.reasons.insert(hash, reason).is_none() {
            self.order.push_back(hash);
        }
        while self.order.len() > MAX_DROPPED_REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.reasons.remove(&old);
            }
        }
    }

    /// Why `hash` was dropped, if it was.
    pub(crate) fn reason(&self, hash: &B256) -> Option<&str> {
        self.reasons.get(hash).map(String::as_str)
    }
}

/// Blocks whose run notes [`Runs`] keeps; older ones are forgotten first
/// (then drawn with where each set came from, not how it ran).
pub(crate) const RUNS_REMEMBERED: usize = 4_096;

/// How the transactions of the blocks this node built ran, beyond what the
/// block records: which were predicted again and re-run, which left their
/// set and ran alone. Kept in memory for the last [`RUNS_REMEMBERED`].
#[derive(Default)]
pub(crate) struct Runs {
    blocks: std::collections::VecDeque<(B256, Arc<RunNotes>)>,
}

/// One block's [`Runs`] entry.
#[derive(Debug, Default)]
pub(crate) struct RunNotes {
    pub(crate) reran: std::collections::HashSet<B256>,
    pub(crate) strayed: std::collections::HashSet<B256>,
}

impl Runs {
    fn note(&mut self, block: B256, stats: &BlockStats) {
        let notes = RunNotes {
            reran: stats.reran.iter().copied().collect(),
            strayed: stats.strayed.iter().copied().collect(),
        };
        self.blocks.push_back((block, Arc::new(notes)));
        while self.blocks.len() > RUNS_REMEMBERED {
            self.blocks.pop_front();
        }
    }

    /// The notes of the block hashed `block`, where this node built it
    /// recently.
    pub(crate) fn of(&self, block: &B256) -> Option<Arc<RunNotes>> {
        self.blocks.iter().rev().find(|(hash, _)| hash == block).map(|(_, n)| n.clone())
    }
}

/// Sends waiting for their transaction's block, by transaction hash.
#[derive(Default)]
pub(crate) struct Waiters(Mutex<HashMap<B256, Vec<oneshot::Sender<()>>>>);

impl Waiters {
    /// Answers when `hash` is in a committed block (or dropped at execution).
    pub(crate) fn register(&self, hash: B256) -> Waiting {
        let (done, wait) = oneshot::channel();
        self.0.lock().entry(hash).or_default().push(done);
        wait
    }

    /// Forgets the waits for `hash` (its submission failed).
    pub(crate) fn forget(&self, hash: &B256) {
        self.0.lock().remove(hash);
    }

    /// Wakes the waits for `hashes`.
    pub(crate) fn settle(&self, hashes: impl Iterator<Item = B256>) {
        let mut waiting = self.0.lock();
        if waiting.is_empty() {
            return;
        }
        for hash in hashes {
            for done in waiting.remove(&hash).into_iter().flatten() {
                let _ = done.send(());
            }
        }
    }
}

/// What serving a block touches, shared with the node's state.
#[derive(Clone)]
pub(crate) struct Publisher {
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) totals: Arc<Mutex<Totals>>,
    pub(crate) dropped: Arc<Mutex<Dropped>>,
    pub(crate) waiters: Arc<Waiters>,
    pub(crate) runs: Arc<Mutex<Runs>>,
    /// The blocks the stage's sink cut at a revert, read just before the
    /// cut. The node lists what a revert drops, and the stage takes the
    /// revert between two blocks; a block it made between the two is
    /// among these, so its transactions are noted dropped, not lost.
    pub(crate) cut: Arc<Mutex<Vec<LedgerBlock>>>,
}

impl Publisher {
    /// Serves `produced` (its state is already committed).
    fn publish(&self, produced: &ProducedBlock) {
        // Counted before it is served: a client that sees the block sees
        // its counts.
        {
            let mut t = self.totals.lock();
            let s = &produced.stats;
            t.blocks += 1;
            t.transactions += s.transactions as u64;
            t.entries += s.entries as u64;
            t.exclusive += s.exclusive as u64;
            t.declared += s.declared as u64;
            t.known += s.known as u64;
            t.predicted += s.predicted as u64;
            t.mispredicted += s.mispredicted;
            t.predictions_held += s.predictions_held as u64;
            t.over_predicted += s.over_predicted as u64;
            t.conflicts += s.conflicts;
            t.rejected += s.rejected as u64;
            t.last = Some(s.clone());
        }
        if !produced.stats.imported {
            self.runs.lock().note(produced.block.hash, &produced.stats);
        }
        self.ledger.publish(produced.block.header.number);
        // Those dropped at execution are among the pool's discards; those a
        // block built elsewhere included (their nonce is taken by
        // themselves) were not lost. One line says what the pool lost.
        if !produced.discarded.is_empty() {
            let included: std::collections::HashSet<B256> =
                produced.receipts.iter().map(|r| r.tx_hash).collect();
            let mut dropped = self.dropped.lock();
            let mut lost = produced.discarded.iter().filter(|(h, _)| !included.contains(h));
            if let Some((first, why)) = lost.next() {
                dropped.note(*first, why.clone());
                let mut count = 1;
                for (hash, reason) in lost {
                    dropped.note(*hash, reason.clone());
                    count += 1;
                }
                let number = produced.block.header.number;
                tracing::info!(target: "lanes::node", block = number, count, first = %first, reason = %why, "pool lost transactions (lanes_transactionStatus says why each)");
            }
        }
        // Sends waiting for their block (automine) answer now: the block is
        // committed and served.
        let done = produced.receipts.iter().map(|r| r.tx_hash);
        self.waiters.settle(done.chain(produced.rejected.iter().map(|(h, _)| *h)));
    }
}

/// The node's sink: the ledger first (a write-ahead log), and once the
/// block is committed, [`Publisher`].
pub(crate) struct PublishingSink {
    pub(crate) ledger: LedgerSink,
    pub(crate) publisher: Publisher,
}

impl BlockSink for PublishingSink {
    fn persist(
        &mut self,
        sealed: &SealedBlock,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.ledger.persist(sealed)
    }

    fn committed(&mut self, produced: &ProducedBlock) {
        self.publisher.publish(produced);
    }

    fn truncate(&mut self, number: u64) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let cut = self.publisher.ledger.blocks_after(number);
        self.ledger.truncate(number)?;
        self.publisher.cut.lock().extend(cut);
        Ok(())
    }
}
