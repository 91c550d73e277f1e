//! A block's worker threads: started for the block with its bank, each
//! runs the batches the controller sends it and hands them back with their
//! results; joined before the block is sealed, so the bank comes back
//! whole. A lone transaction's block has no threads: its batch runs on the
//! controller's thread as it is sent ([`Crew::inline`]), with no thread to
//! start and none to wake. Threads that live across blocks (Agave's) were
//! measured against these and lost (docs/figures.md, "Worker threads per
//! block, or for the stage's life").

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};
use lanes_runtime::{
    Admission, AdmitContext, Bank, BankError, Executed, Executor, PoolTransaction,
};

use crate::error::StageError;
use crate::pool::Held;
use crate::shared::Shared;

#[cfg(test)]
mod tests;

/// A batch handed to a worker, and handed back with its results. The
/// transactions stay in the boxes the pool put them in: an EVM transaction
/// is large, and moving each out of its box and back is work for the
/// scheduler thread, which every worker waits on.
pub(super) struct Batch<T> {
    pub(super) worker: usize,
    pub(super) txs: Vec<Held<T>>,
}

/// A batch a worker ran, with its results, how long it took and when it
/// finished.
pub(super) struct Done<T> {
    pub(super) batch: Batch<T>,
    pub(super) results: Result<Vec<Executed>, BankError>,
    pub(super) elapsed: Duration,
    pub(super) finished: Instant,
}

/// What each worker needs besides its channels.
pub(super) struct Setup<E: Executor<Tx: PoolTransaction>> {
    pub(super) executor: Arc<E>,
    pub(super) shared: Arc<Shared<E::Tx>>,
    pub(super) max_repredictions: u8,
    /// With `pin_threads`: a core for each worker.
    pub(super) cores: Option<Vec<core_affinity::CoreId>>,
    /// Otherwise, where the scheduler has a core apart: the cores the
    /// workers may run on (every other one).
    pub(super) apart: Option<Vec<usize>>,
}

/// Runs a batch where it is sent, and gives it back done.
type RunHere<T> = Box<dyn FnMut(Batch<T>) -> Done<T> + Send>;

/// A block's workers, as the controller sees them: a queue to each, the
/// channel their finished batches come back on, and their threads.
/// Dropping it closes the queues and joins the threads.
pub(super) struct Crew<T> {
    queues: Vec<Sender<Batch<T>>>,
    /// Finished batches, from every worker.
    pub(super) done: Receiver<Done<T>>,
    threads: Vec<JoinHandle<()>>,
    /// Batches a worker takes at once.
    depth: usize,
    /// A crew of no threads: one lane, run on the controller's thread.
    here: Option<(RunHere<T>, Sender<Done<T>>)>,
}

impl<T: PoolTransaction + 'static> Crew<T> {
    /// Starts `workers` threads on `bank`, named `lanes-worker-{w}` (pinned
    /// where `setup` has cores), each taking up to `depth` batches at once.
    pub(super) fn start<E: Executor<Tx = T> + 'static>(
        workers: usize,
        depth: usize,
        bank: &Arc<Bank>,
        setup: &Setup<E>,
    ) -> Self {
        let (done_out, done) = bounded(workers * depth);
        let mut queues = Vec::with_capacity(workers);
        let mut threads = Vec::with_capacity(workers);
        for w in 0..workers {
            let (queue, batches) = bounded(depth);
            let done = done_out.clone();
            let (executor, shared, bank) =
                (setup.executor.clone(), setup.shared.clone(), bank.clone());
            let max_repredictions = setup.max_repredictions;
            let core = setup.cores.as_ref().map(|cores| cores[w]);
            let apart = setup.apart.clone();
            let thread = std::thread::Builder::new()
                .name(format!("lanes-worker-{w}"))
                .spawn(move || {
                    if let Some(core) = core {
                        pin(core);
                    } else if let Some(cores) = apart {
                        run_on(&cores);
                    }
                    work(&*executor, &bank, &shared, max_repredictions, &batches, &done);
                })
                .expect("spawning a thread");
            queues.push(queue);
            threads.push(thread);
        }
        Self { queues, done, threads, depth, here: None }
    }

    /// One lane and no thread: each batch runs on `bank` on the caller's
    /// thread as it is sent, and waits on `done` like a worker's.
    pub(super) fn inline<E: Executor<Tx = T> + 'static>(
        depth: usize,
        bank: &Arc<Bank>,
        setup: &Setup<E>,
    ) -> Self {
        let (done_out, done) = bounded(depth);
        let (executor, shared, bank) = (setup.executor.clone(), setup.shared.clone(), bank.clone());
        let max_repredictions = setup.max_repredictions;
        let run: RunHere<T> = Box::new(move |mut batch: Batch<T>| {
            let start = Instant::now();
            let mut worker = bank.worker(&*executor);
            let results = bank.execute_batch(&*executor, &mut worker, &batch.txs);
            drop(worker);
            if let Ok(results) = &results {
                let (admission, predict_nanos) = (&*shared.admission, &shared.predict_nanos);
                let txs = &mut batch.txs;
                repredict(admission, &bank, max_repredictions, predict_nanos, txs, results);
            }
            let finished = Instant::now();
            Done { batch, results, elapsed: finished - start, finished }
        });
        Self { queues: Vec::new(), done, threads: Vec::new(), depth, here: Some((run, done_out)) }
    }
}

impl<T> Crew<T> {
    /// No workers: the scheduler's crew between blocks.
    pub(super) fn idle(depth: usize) -> Self {
        Self { queues: Vec::new(), done: bounded(0).1, threads: Vec::new(), depth, here: None }
    }

    /// Its lanes: one per worker thread, or the one of an inline crew.
    pub(super) fn lanes(&self) -> usize {
        if self.here.is_some() { 1 } else { self.queues.len() }
    }

    /// Batches a worker takes at once.
    pub(super) fn depth(&self) -> usize {
        self.depth
    }

    /// Sends a batch to its worker; never blocks while at most `depth`
    /// batches are out per worker.
    pub(super) fn send(&mut self, batch: Batch<T>) {
        if let Some((run, done)) = &mut self.here {
            let _ = done.send(run(batch));
            return;
        }
        let _ = self.queues[batch.worker].send(batch);
    }

    /// Closes the queues and joins the threads (each drops its clone of the
    /// bank as it ends). Fails when one panicked.
    pub(super) fn stop(&mut self) -> Result<(), StageError> {
        self.queues.clear();
        self.here = None;
        let mut result = Ok(());
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                result = Err(StageError::Panicked);
            }
        }
        result
    }
}

impl<T> Drop for Crew<T> {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// The cores to pin threads to, one per worker and then the scheduler's;
/// none where the process may use no more cores than there are workers.
pub(super) fn pin_plan(workers: usize) -> Option<Vec<core_affinity::CoreId>> {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    if cores.len() <= workers {
        tracing::warn!(
            target: "lanes::banking",
            workers,
            cores = cores.len(),
            "pin_threads needs more cores than workers; threads left unpinned"
        );
        return None;
    }
    Some(cores[..=workers].to_vec())
}

/// The cores the calling thread may run on, ascending (none where they
/// cannot be read).
pub(super) fn allowed_cores() -> Vec<usize> {
    core_affinity::get_core_ids().unwrap_or_default().into_iter().map(|c| c.id).collect()
}

/// Without `pin_threads`, where the process may use more cores than there
/// are workers: every core it may use, the last kept for the scheduler and
/// the others for its workers, so a worker and the scheduler never share a
/// core while the scheduler polls for finished batches; each stays free to
/// move among its own. None otherwise, or where the cores cannot be read.
pub(super) fn apart_plan(workers: usize) -> Option<Vec<usize>> {
    let cores = allowed_cores();
    (cores.len() > workers.max(1)).then_some(cores)
}

/// Lets the calling thread run only on `cores`; a refusal leaves it where
/// it was.
pub(super) fn run_on(cores: &[usize]) {
    let mut set = nix::sched::CpuSet::new();
    for &core in cores {
        if set.set(core).is_err() {
            return; // beyond what the set holds: leave the thread as it is
        }
    }
    if let Err(e) = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set) {
        tracing::warn!(target: "lanes::banking", ?cores, %e, "could not set a thread's cores; left as it was");
    }
}

/// Pins the calling thread to `core`; a refusal leaves it unpinned.
pub(super) fn pin(core: core_affinity::CoreId) {
    if !core_affinity::set_for_current(core) {
        tracing::warn!(target: "lanes::banking", core = core.id, "could not pin a thread; left unpinned");
    }
}

/// On a worker, right after its batch ran: predicts again, against the
/// block built so far, the set of each transaction that left its own, while
/// it has predictions left. The scheduler takes the new set once the old
/// one's locks are released.
fn repredict<T: PoolTransaction>(
    admission: &dyn Admission<T>,
    bank: &Bank,
    max_repredictions: u8,
    predict_nanos: &AtomicU64,
    txs: &mut [Held<T>],
    results: &[Executed],
) {
    for (p, executed) in txs.iter_mut().zip(results) {
        if matches!(executed, Executed::NeedsExclusive(Some(_)))
            && p.repredictions < max_repredictions
        {
            let start = Instant::now();
            p.repredicted = Some(admission.predict(&p.tx, AdmitContext::new(bank)));
            let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            predict_nanos.fetch_add(nanos, Ordering::Relaxed);
        }
    }
}

/// A worker thread for one block: runs each batch it is sent on `bank`
/// with one executor state, predicts again the sets its transactions left,
/// and hands the batch back with its results, until its queue closes (or
/// the controller is gone).
fn work<E: Executor<Tx: PoolTransaction>>(
    executor: &E,
    bank: &Bank,
    shared: &Shared<E::Tx>,
    max_repredictions: u8,
    batches: &Receiver<Batch<E::Tx>>,
    done: &Sender<Done<E::Tx>>,
) {
    let mut worker = bank.worker(executor);
    for mut batch in batches {
        let start = Instant::now();
        let results = bank.execute_batch(executor, &mut worker, &batch.txs);
        if let Ok(results) = &results {
            let (admission, predict_nanos) = (&*shared.admission, &shared.predict_nanos);
            repredict(admission, bank, max_repredictions, predict_nanos, &mut batch.txs, results);
        }
        let finished = Instant::now();
        let elapsed = finished - start;
        if done.send(Done { batch, results, elapsed, finished }).is_err() {
            break;
        }
    }
}
