//! The prediction queue: transactions whose set the admission hook must
//! predict by running them ([`Admission::predict`]), served round robin
//! across senders, so one sender's flood of expensive predictions delays
//! another sender's by at most one prediction per flooding sender. A
//! transaction waits in the pool while its set is predicted (its submitter
//! already has its answer). The queue is bounded in all and per sender; a
//! transaction past either bound runs without a set (in the exclusive lane)
//! rather than being refused. The prediction threads ([`crate::predict`])
//! serve it.
//!
//! [`Admission::predict`]: lanes_runtime::Admission::predict

use parking_lot::{Condvar, Mutex, MutexGuard};
use std::collections::{HashMap, VecDeque};

use alloy_primitives::Address;
use lanes_runtime::PoolTransaction;

/// A copy of a pooled transaction waiting for its prediction.
pub(crate) struct PredictJob<T> {
    pub(crate) tx: T,
}

struct Queues<T> {
    by_sender: HashMap<Address, VecDeque<PredictJob<T>>, ahash::RandomState>,
    /// Senders with jobs, in the order they are served.
    turn: VecDeque<Address>,
    len: usize,
    closed: bool,
}

/// Jobs by sender, served one per sender in turn.
pub(crate) struct PredictQueue<T> {
    queues: Mutex<Queues<T>>,
    ready: Condvar,
    max_jobs: usize,
    max_per_sender: usize,
}

impl<T: PoolTransaction> PredictQueue<T> {
    /// A queue of at most `max_jobs` jobs, `max_per_sender` of one sender.
    pub(crate) fn new(max_jobs: usize, max_per_sender: usize) -> Self {
        let queues =
            Queues { by_sender: HashMap::default(), turn: VecDeque::new(), len: 0, closed: false };
        Self { queues: Mutex::new(queues), ready: Condvar::new(), max_jobs, max_per_sender }
    }

    fn queues(&self) -> MutexGuard<'_, Queues<T>> {
        self.queues.lock()
    }

    /// Queues `job`, or hands it back when the queue (in all, or for its
    /// sender) is full or closed.
    pub(crate) fn push(&self, job: PredictJob<T>) -> Result<(), PredictJob<T>> {
        let mut q = self.queues();
        let sender = job.tx.sender();
        let queued = q.by_sender.get(&sender).map_or(0, VecDeque::len);
        if q.closed || q.len >= self.max_jobs || queued >= self.max_per_sender {
            return Err(job);
        }
        if queued == 0 {
            q.turn.push_back(sender);
        }
        q.by_sender.entry(sender).or_default().push_back(job);
        q.len += 1;
        drop(q);
        self.ready.notify_one();
        Ok(())
    }

    /// The next job, the next sender's in turn; waits while there is none.
    /// `None` once the queue is closed and empty.
    #[cfg(test)]
    pub(crate) fn pop(&self) -> Option<PredictJob<T>> {
        self.pop_many(1, u64::MAX).pop()
    }

    /// Up to `max` jobs, each the next sender's in turn, while their gas
    /// limits sum to at most `max_gas` (one job at least); waits while there
    /// is none. Empty once the queue is closed and empty.
    pub(crate) fn pop_many(&self, max: usize, max_gas: u64) -> Vec<PredictJob<T>> {
        let mut q = self.queues();
        while q.turn.is_empty() && !q.closed {
            self.ready.wait(&mut q);
        }
        let mut jobs: Vec<PredictJob<T>> = Vec::new();
        let mut gas = 0u64;
        while jobs.len() < max {
            let Some(&sender) = q.turn.front() else { break };
            let next = q.by_sender[&sender].front().expect("a sender in turn has jobs");
            gas = gas.saturating_add(next.tx.gas_limit());
            if !jobs.is_empty() && gas > max_gas {
                break;
            }
            q.turn.pop_front();
            let queued = q.by_sender.get_mut(&sender).expect("a sender in turn has jobs");
            jobs.push(queued.pop_front().expect("a sender in turn has jobs"));
            if queued.is_empty() {
                q.by_sender.remove(&sender);
            } else {
                q.turn.push_back(sender);
            }
            q.len -= 1;
        }
        jobs
    }

    /// Stops intake and wakes every waiting thread; queued jobs still run.
    pub(crate) fn close(&self) {
        self.queues().closed = true;
        self.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::U256;
    use lanes_runtime::native::NativeTx;

    use super::*;

    fn job(from: u8, nonce: u64) -> PredictJob<NativeTx> {
        let tx = NativeTx::transfer(
            Address::repeat_byte(from),
            nonce,
            Address::ZERO,
            U256::from(1),
            U256::from(1),
        );
        PredictJob { tx }
    }

    #[test]
    fn test_senders_are_served_in_turn_and_limits_hand_jobs_back() {
        let queue = PredictQueue::new(5, 3);
        // Sender 1 floods; sender 2 and 3 send one each, later.
        for nonce in 0..3 {
            assert!(queue.push(job(1, nonce)).is_ok());
        }
        assert!(queue.push(job(1, 3)).is_err(), "sender 1 is at its limit");
        assert!(queue.push(job(2, 0)).is_ok());
        assert!(queue.push(job(3, 0)).is_ok());
        assert!(queue.push(job(4, 0)).is_err(), "the queue is full");
        let order: Vec<(u8, u64)> = (0..5)
            .map(|_| queue.pop().map(|j| (j.tx.from().0[0], j.tx.nonce())).unwrap())
            .collect();
        assert_eq!(queue.queues().len, 0);
        assert_eq!(order, [(1, 0), (2, 0), (3, 0), (1, 1), (1, 2)]);
        queue.close();
        assert!(queue.pop().is_none());
        assert!(queue.push(job(5, 0)).is_err(), "a closed queue takes nothing");
    }
}
