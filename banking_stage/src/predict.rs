//! The prediction threads: each takes jobs from the prediction queue
//! ([`crate::predict_queue`]), predicts their sets with the admission hook
//! ([`lanes_runtime::Admission::predict_many`]) against the head, and hands
//! the sets to the pool, where their transactions are then ready.

use lanes_runtime::{AdmitContext, PoolTransaction};

use crate::shared::Shared;

/// Jobs a prediction thread takes at once: the hook sets its engine up once
/// for them (under load; an idle queue hands out one at a time).
const PREDICT_BATCH: usize = 16;
/// Most gas (by gas limits) a prediction thread takes at once: the answers
/// of a batch wait for its last prediction, so expensive ones go alone.
const PREDICT_BATCH_GAS: u64 = 2_000_000;

/// One prediction thread: runs until the queue closes and drains. Each
/// set goes to the pool's copy of its transaction, which is then ready.
pub(crate) fn run<T: PoolTransaction>(shared: &Shared<T>) {
    loop {
        let jobs = shared.predictions.pop_many(PREDICT_BATCH, PREDICT_BATCH_GAS);
        if jobs.is_empty() {
            return;
        }
        let sim = shared.latest().sim();
        let start = std::time::Instant::now();
        let txs: Vec<&T> = jobs.iter().map(|job| &job.tx).collect();
        let admitted = shared.admission.predict_many(&txs, AdmitContext::new(&sim));
        let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        shared.predict_nanos.fetch_add(nanos, std::sync::atomic::Ordering::Relaxed);
        let mut pool = shared.pool();
        for (tx, admitted) in txs.into_iter().zip(admitted) {
            pool.predicted(&tx.sender(), tx.nonce(), tx.hash(), admitted);
        }
        drop(pool);
        shared.work_arrived();
    }
}
