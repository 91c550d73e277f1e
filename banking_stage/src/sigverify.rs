//! Sigverify: threads that decode submitted transactions, recover their
//! senders (the executor's `decode`) and admit them to the pool.

use std::sync::atomic::Ordering;
use std::time::Instant;

use alloy_primitives::{B256, Bytes};
use crossbeam_channel::{Receiver, Sender};
use lanes_accounts_db::AccountsRead;
use lanes_runtime::{AdmitContext, Admitted, DecodeError, Executor, Transaction};

use crate::error::SubmitError;
use crate::stage::Shared;

/// Transactions submitted together, answered together.
pub(crate) struct Job {
    pub(crate) first: usize,
    pub(crate) raws: Vec<Bytes>,
    pub(crate) reply: Sender<(usize, Vec<Result<B256, SubmitError>>)>,
}

/// One sigverify thread: runs until the submission queue closes.
pub(crate) fn run<E: Executor>(executor: &E, jobs: Receiver<Job>, shared: &Shared<E::Tx>) {
    for job in jobs {
        let start = Instant::now();
        let decoded: Vec<_> = job.raws.iter().map(|raw| executor.decode(raw)).collect();
        let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        shared.sigverify_nanos.fetch_add(nanos, Ordering::Relaxed);
        let results = admit(shared, decoded);
        let _ = job.reply.send((job.first, results));
    }
}

/// Transactions admitted per hold of the pool lock: the scheduler can take
/// work between chunks (and is woken after each) while a large submission is
/// admitted.
const ADMIT_CHUNK: usize = 256;

/// Admits decoded transactions to the pool, one result each, and wakes the
/// scheduler. Each gets its set from the stage's [`lanes_runtime::Admission`]
/// first, outside the pool lock, against the latest state.
pub(crate) fn admit<T: Transaction>(
    shared: &Shared<T>,
    decoded: impl IntoIterator<Item = Result<T, DecodeError>>,
) -> Vec<Result<B256, SubmitError>> {
    let latest = shared.latest();
    let ctx = AdmitContext::new(&latest.view, &latest.header);
    let admitted: Vec<Result<(T, Admitted), SubmitError>> = decoded
        .into_iter()
        .map(|tx| {
            let tx = tx.map_err(|e| SubmitError::Invalid(e.0))?;
            let admitted = shared.admission.admit(&tx, ctx).map_err(SubmitError::Refused)?;
            Ok((tx, admitted))
        })
        .collect();
    let mut admitted = admitted.into_iter().peekable();
    let mut results = Vec::with_capacity(admitted.len());
    while admitted.peek().is_some() {
        // Pool first: the scheduler publishes a new head before it prunes
        // idle senders under the pool lock, so a sender missing from the pool
        // has its latest nonce in the head read here. (Read before the lock,
        // the head can be a block behind, and the sender's next nonce one too
        // low: a gap that never fills.)
        let mut pool = shared.pool();
        let latest = shared.latest();
        results.extend(admitted.by_ref().take(ADMIT_CHUNK).map(|tx| {
            let (tx, admitted) = tx?;
            pool.insert(tx, admitted, |sender| {
                // A read failure counts as nonce 0: execution checks again.
                latest.view.get_account(sender).ok().flatten().map_or(0, |a| a.nonce)
            })
        }));
        drop(pool);
        // Wake the scheduler; a full doorbell already says there is work.
        let _ = shared.doorbell.try_send(());
    }
    results
}
