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

impl<T: PoolTransaction> Queues<T> {
    /// Takes `sender`'s furthest-future job (its last: each sender's jobs
    /// are in nonce order).
    fn take_last(&mut self, sender: Address) -> Option<PredictJob<T>> {
        let jobs = self.by_sender.get_mut(&sender)?;
        let job = jobs.pop_back()?;
        if jobs.is_empty() {
            self.by_sender.remove(&sender);
            self.turn.retain(|a| *a != sender);
        }
        self.len -= 1;
        Some(job)
    }
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

    /// Queues `job`, or hands back the job that goes without a prediction
    /// (then it runs without a set). A full queue (in all, or for the job's
    /// sender) makes room for a job below its sender's furthest-future one
    /// by handing that one back, so a nonce that fills a gap is never the
    /// one left out; in all, the room comes from the sender with the most
    /// jobs. A closed queue hands back every job.
    pub(crate) fn push(&self, job: PredictJob<T>) -> Result<(), PredictJob<T>> {
        let mut q = self.queues();
        let sender = job.tx.sender();
        let queued = q.by_sender.get(&sender).map_or(0, VecDeque::len);
        if q.closed {
            return Err(job);
        }
        let below_last = |q: &Queues<T>| {
            q.by_sender
                .get(&sender)
                .and_then(|jobs| jobs.back())
                .is_some_and(|last| last.tx.nonce() > job.tx.nonce())
        };
        let sender_full = queued >= self.max_per_sender;
        // Room comes from the job's own sender where the job is below its
        // furthest-future one; else, when only the queue in all is full,
        // from another sender with the most jobs, where it has more than one.
        let evicted = if !sender_full && q.len < self.max_jobs {
            None
        } else if below_last(&q) {
            q.take_last(sender)
        } else if sender_full {
            return Err(job);
        } else {
            let others = q.by_sender.iter().filter(|(a, _)| **a != sender);
            let most = others.max_by_key(|(_, jobs)| jobs.len());
            match most.filter(|(_, jobs)| jobs.len() > 1).map(|(a, _)| *a) {
                Some(victim) => q.take_last(victim),
                None => return Err(job),
            }
        };
        if q.by_sender.get(&sender).is_none_or(VecDeque::is_empty) {
            q.turn.push_back(sender);
        }
        let jobs = q.by_sender.entry(sender).or_default();
        // Lowest nonce first: the one that fills a gap is predicted first.
        let at = jobs.partition_point(|j| j.tx.nonce() <= job.tx.nonce());
        jobs.insert(at, job);
        q.len += 1;
        drop(q);
        self.ready.notify_one();
        evicted.map_or(Ok(()), Err)
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

    fn pushed(queue: &PredictQueue<NativeTx>, from: u8, nonce: u64) -> Option<(u8, u64)> {
        queue.push(job(from, nonce)).err().map(|j| (j.tx.from().0[0], j.tx.nonce()))
    }

    #[test]
    fn test_senders_are_served_in_turn_and_limits_hand_jobs_back() {
        let queue = PredictQueue::new(5, 3);
        // Sender 1 floods; sender 2 and 3 send one each, later.
        for nonce in 0..3 {
            assert_eq!(pushed(&queue, 1, nonce), None);
        }
        assert_eq!(pushed(&queue, 1, 3), Some((1, 3)), "sender 1 is at its limit");
        assert_eq!(pushed(&queue, 2, 0), None);
        assert_eq!(pushed(&queue, 3, 0), None);
        // The queue is full: sender 1, with the most, gives its furthest-future job.
        assert_eq!(pushed(&queue, 4, 0), Some((1, 2)));
        let order: Vec<(u8, u64)> = (0..5)
            .map(|_| queue.pop().map(|j| (j.tx.from().0[0], j.tx.nonce())).unwrap())
            .collect();
        assert_eq!(queue.queues().len, 0);
        assert_eq!(order, [(1, 0), (2, 0), (3, 0), (4, 0), (1, 1)]);
        queue.close();
        assert!(queue.pop().is_none());
        assert!(queue.push(job(5, 0)).is_err(), "a closed queue takes nothing");
    }

    /// A sender's queue full of later nonces takes the nonce that fills the
    /// gap, handing back the furthest one, and predicts it first; a queue
    /// full of one-job senders hands back a new sender's job, but the gap
    /// nonce of a sender in it still gets in.
    #[test]
    fn test_the_nonce_that_fills_a_gap_is_always_taken() {
        let queue = PredictQueue::new(8, 3);
        for nonce in [3, 1, 2] {
            assert_eq!(pushed(&queue, 1, nonce), None);
        }
        assert_eq!(pushed(&queue, 1, 4), Some((1, 4)), "above the sender's jobs");
        assert_eq!(pushed(&queue, 1, 0), Some((1, 3)), "the gap nonce takes the last one's place");
        let first = queue.pop().map(|j| j.tx.nonce());
        assert_eq!(first, Some(0), "lowest nonce first");

        let queue = PredictQueue::new(3, 3);
        assert_eq!(pushed(&queue, 1, 5), None);
        assert_eq!(pushed(&queue, 2, 0), None);
        assert_eq!(pushed(&queue, 3, 0), None);
        assert_eq!(pushed(&queue, 4, 0), Some((4, 0)), "no sender has a job to spare");
        assert_eq!(pushed(&queue, 1, 4), Some((1, 5)), "below its own furthest job");
        assert_eq!(queue.queues().len, 3);
    }
}
