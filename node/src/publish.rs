//! Serving a committed block, on the banking stage's thread as the block is
//! committed ([`PublishingSink`]): counted, served, its drops noted and the
//! sends waiting for it answered, so a lone send's answer needs no other
//! thread to wake. The follower thread then feeds the subscriptions.

use std::sync::Arc;

use lanes_banking_stage::{BlockSink, ProducedBlock};
use lanes_runtime::SealedBlock;
use parking_lot::Mutex;

use crate::ledger::{Ledger, LedgerSink};
use crate::state::{Dropped, Totals, Waiters};

/// What serving a block touches, shared with the node's state.
#[derive(Clone)]
pub(crate) struct Publisher {
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) totals: Arc<Mutex<Totals>>,
    pub(crate) dropped: Arc<Mutex<Dropped>>,
    pub(crate) waiters: Arc<Waiters>,
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
        self.ledger.publish(produced.block.header.number);
        // Those dropped at execution are among the pool's discards.
        if !produced.discarded.is_empty() {
            let mut dropped = self.dropped.lock();
            for (hash, reason) in &produced.discarded {
                dropped.note(*hash, reason.clone());
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
}
