//! How the controller waits between turns while it builds a block: for
//! more work when nothing runs, and for the workers when something does,
//! sleeping on its channels, or, with a core beyond the workers', polling
//! them on it (the module docs of [`super`] say why).

use std::time::{Duration, Instant};

use crossbeam_channel::{TryRecvError, select};
use lanes_runtime::{Executor, PoolTransaction};

use super::{Build, Done, Scheduler};
use crate::error::StageError;

impl<E: Executor<Tx: PoolTransaction> + 'static> Scheduler<E> {
    /// With nothing runnable and nothing running: waits up to `coalesce`
    /// for more work (a doorbell, or a control request, which is taken in);
    /// whether any came. None within `coalesce`, or a stop, ends the block.
    pub(super) fn wait_for_more_work(&mut self, coalesce: Duration) -> bool {
        select! {
            recv(self.doorbell) -> _ => true,
            recv(self.control) -> c => {
                if let Ok(c) = c {
                    self.handle(c);
                }
                true
            }
            recv(self.stop) -> _ => {
                self.stopping = true;
                false
            }
            default(coalesce) => false,
        }
    }

    /// Waits up to `wait` for what can move the block on: a worker
    /// finishing a batch (settled here), new work, a control request or a
    /// stop.
    pub(super) fn wait_for_completion(
        &mut self,
        build: &mut Build<E::Tx>,
        wait: Duration,
    ) -> Result<(), StageError> {
        // Polls while fewer workers are busy than there are cores: one is
        // free for it (kept for it where there are more cores than workers).
        let busy = build.workers.batches.iter().filter(|b| **b > 0).count();
        if busy > 0 && busy < lanes_runtime::cores() {
            return self.poll_for_completion(build, wait);
        }
        select! {
            recv(self.crew.done) -> done => {
                if let Ok(done) = done {
                    self.settle(build, done)?;
                }
            }
            recv(self.doorbell) -> _ => {}
            recv(self.control) -> c => match c {
                Ok(c) => self.handle(c),
                Err(_) => self.stopping = true,
            },
            recv(self.stop) -> _ => self.stopping = true,
            default(wait) => {}
        }
        Ok(())
    }

    /// [`Self::wait_for_completion`] on a core of the scheduler's own, while
    /// work is in flight: polls the same channels, finished batches first,
    /// spinning briefly and then yielding the core between looks, so a
    /// finished batch is settled (and the worker's queue refilled) without
    /// a wake-up, and the worker that finished it runs on.
    fn poll_for_completion(
        &mut self,
        build: &mut Build<E::Tx>,
        wait: Duration,
    ) -> Result<(), StageError> {
        /// Looks that only spin before each look yields the core.
        const SPINS: u32 = 64;
        let until = Instant::now() + wait;
        let mut looks = 0u32;
        loop {
            match self.crew.done.try_recv() {
                Ok(done) => return self.settle(build, done),
                // Every worker gone: what the blocking wait would see.
                Err(TryRecvError::Disconnected) => return Ok(()),
                Err(TryRecvError::Empty) => {}
            }
            if self.doorbell.try_recv().is_ok() {
                return Ok(());
            }
            match self.control.try_recv() {
                Ok(c) => {
                    self.handle(c);
                    return Ok(());
                }
                Err(TryRecvError::Disconnected) => {
                    self.stopping = true;
                    return Ok(());
                }
                Err(TryRecvError::Empty) => {}
            }
            if !matches!(self.stop.try_recv(), Err(TryRecvError::Empty)) {
                self.stopping = true;
                return Ok(());
            }
            looks = looks.saturating_add(1);
            if looks < SPINS {
                std::hint::spin_loop();
            } else if Instant::now() >= until {
                return Ok(());
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// A batch a worker finished, settled, the time counted as the
    /// scheduler's.
    fn settle(&mut self, build: &mut Build<E::Tx>, done: Done<E::Tx>) -> Result<(), StageError> {
        let busy = Instant::now();
        let settled = self.complete(build, done);
        build.counters.scheduler_time += busy.elapsed();
        settled
    }
}
