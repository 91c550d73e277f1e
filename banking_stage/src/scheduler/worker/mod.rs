//! The stage's worker threads, started once with it and fed batches across
//! blocks (Agave's consume workers): each runs the batches the controller
//! sends it on the current block's bank and hands them back with their
//! results.
//!
//! A block's bank reaches the workers in an `Arc`, sent to each with
//! [`Crew::open`] before the block's first batch; a worker builds its
//! executor state there once for the block. [`Crew::release`] ends the
//! block: each worker drops its clone and only then says so, so the bank
//! comes back whole to be sealed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};
use lanes_runtime::{Admission, AdmitContext, Bank, BankError, Executed, Executor, Transaction};

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

/// A batch a worker ran, with its results and how long it took.
pub(super) struct Done<T> {
    pub(super) batch: Batch<T>,
    pub(super) results: Result<Vec<Executed>, BankError>,
    pub(super) elapsed: Duration,
}

/// What the controller sends a worker.
enum Order<T> {
    /// A block begins: its batches run on this bank.
    Open(Arc<Bank>),
    /// A batch of the open block.
    Run(Batch<T>),
    /// The block is done: drop its bank, then say so.
    Release,
}

/// What each worker needs besides its channels.
pub(super) struct Setup<E: Executor> {
    pub(super) executor: Arc<E>,
    pub(super) shared: Arc<Shared<E::Tx>>,
    pub(super) max_repredictions: u8,
    /// With `pin_threads`: a core for each worker.
    pub(super) cores: Option<Vec<core_affinity::CoreId>>,
}

/// The stage's workers, as the controller sees them: a queue to each, the
/// channel their finished batches come back on, and their threads. Dropping
/// it closes the queues and joins the threads.
pub(super) struct Crew<T> {
    queues: Vec<Sender<Order<T>>>,
    /// Finished batches, from every worker.
    pub(super) done: Receiver<Done<T>>,
    /// One message per worker that dropped the block's bank.
    released: Receiver<()>,
    threads: Vec<JoinHandle<()>>,
    /// Batches a worker takes at once.
    depth: usize,
}

impl<T: Transaction + 'static> Crew<T> {
    /// Starts `workers` threads, named `lanes-worker-{w}` (pinned where
    /// `setup` has cores), each taking up to `depth` batches at once.
    pub(super) fn start<E: Executor<Tx = T> + 'static>(
        workers: usize,
        depth: usize,
        setup: &Setup<E>,
    ) -> Self {
        let (done_out, done) = bounded(workers * depth);
        let (released_out, released) = bounded(workers);
        let mut queues = Vec::with_capacity(workers);
        let mut threads = Vec::with_capacity(workers);
        for w in 0..workers {
            // One more than `depth`: a block's `Open` before its batches.
            let (queue, orders) = bounded(depth + 1);
            let (done, released) = (done_out.clone(), released_out.clone());
            let (executor, shared) = (setup.executor.clone(), setup.shared.clone());
            let max_repredictions = setup.max_repredictions;
            let core = setup.cores.as_ref().map(|cores| cores[w]);
            let thread = std::thread::Builder::new()
                .name(format!("lanes-worker-{w}"))
                .spawn(move || {
                    if let Some(core) = core {
                        pin(core);
                    }
                    let channels = (orders, done, released);
                    work(&*executor, &shared, max_repredictions, &channels);
                })
                .expect("spawning a thread");
            queues.push(queue);
            threads.push(thread);
        }
        Self { queues, done, released, threads, depth }
    }
}

impl<T> Crew<T> {
    /// Batches a worker takes at once.
    pub(super) fn depth(&self) -> usize {
        self.depth
    }

    /// Hands `bank` to every worker for the block that begins. Fails when a
    /// worker has died.
    pub(super) fn open(&self, bank: &Arc<Bank>) -> Result<(), StageError> {
        for queue in &self.queues {
            queue.send(Order::Open(bank.clone())).map_err(|_| StageError::Panicked)?;
        }
        Ok(())
    }

    /// Sends a batch of the open block to its worker; never blocks while at
    /// most `depth` batches are out per worker.
    pub(super) fn send(&self, batch: Batch<T>) {
        let _ = self.queues[batch.worker].send(Order::Run(batch));
    }

    /// Ends the block opened with `bank`, once nothing is in flight: takes
    /// the bank back from every worker, whole.
    pub(super) fn release(&self, bank: Arc<Bank>) -> Result<Bank, StageError> {
        for queue in &self.queues {
            queue.send(Order::Release).map_err(|_| StageError::Panicked)?;
        }
        for _ in &self.queues {
            self.released.recv().map_err(|_| StageError::Panicked)?;
        }
        Arc::try_unwrap(bank).map_err(|_| StageError::BankHeld)
    }

    /// Closes the queues and joins the threads: each ends once its queue is
    /// drained. Fails when one panicked.
    pub(super) fn stop(&mut self) -> Result<(), StageError> {
        self.queues.clear();
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
fn repredict<T: Transaction>(
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

/// A worker's channels: orders in, finished batches and releases out.
type Channels<T> = (Receiver<Order<T>>, Sender<Done<T>>, Sender<()>);

/// A block's bank on a worker. Dropping it (at the block's release, or
/// while unwinding from a panic) drops the bank, then tells the controller,
/// which can then take the bank back.
struct Lease<'a> {
    bank: Option<Arc<Bank>>,
    released: &'a Sender<()>,
}

impl Lease<'_> {
    fn bank(&self) -> &Bank {
        self.bank.as_deref().expect("held until the lease is dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        drop(self.bank.take());
        let _ = self.released.send(());
    }
}

/// A worker thread: runs each block it is opened on, until its queue
/// closes (or the controller is gone).
fn work<E: Executor>(
    executor: &E,
    shared: &Shared<E::Tx>,
    max_repredictions: u8,
    channels: &Channels<E::Tx>,
) {
    let (orders, _, released) = channels;
    while let Ok(order) = orders.recv() {
        let Order::Open(bank) = order else {
            debug_assert!(false, "a worker was sent work outside a block");
            continue;
        };
        let lease = Lease { bank: Some(bank), released };
        if !run_block(executor, lease.bank(), shared, max_repredictions, channels) {
            return;
        }
    }
}

/// Runs each batch of the block on `bank` with one executor state, predicts
/// again the sets its transactions left, and hands the batch back with its
/// results, until the block is released (true) or the controller is gone.
fn run_block<E: Executor>(
    executor: &E,
    bank: &Bank,
    shared: &Shared<E::Tx>,
    max_repredictions: u8,
    (orders, done, _): &Channels<E::Tx>,
) -> bool {
    let mut worker = bank.worker(executor);
    while let Ok(order) = orders.recv() {
        let mut batch = match order {
            Order::Run(batch) => batch,
            Order::Release => return true,
            Order::Open(_) => {
                debug_assert!(false, "a block opened before the last was released");
                continue;
            }
        };
        let start = Instant::now();
        let results = bank.execute_batch(executor, &mut worker, &batch.txs);
        if let Ok(results) = &results {
            let (admission, predict_nanos) = (&*shared.admission, &shared.predict_nanos);
            repredict(admission, bank, max_repredictions, predict_nanos, &mut batch.txs, results);
        }
        let elapsed = start.elapsed();
        if done.send(Done { batch, results, elapsed }).is_err() {
            return false;
        }
    }
    false
}
