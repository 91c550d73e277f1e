//! The prediction queue and its threads: transactions whose set the
//! admission hook must predict by running them ([`Admission::predict`]),
//! served round robin across senders, so one sender's flood of expensive
//! predictions delays another sender's by at most one prediction per
//! flooding sender. The queue is bounded in all and per sender; a
//! transaction past either bound is admitted without a set (it runs in the
//! exclusive lane) rather than refused.
//!
//! [`Admission::predict`]: lanes_runtime::Admission::predict

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};

use alloy_primitives::Address;
use lanes_runtime::{AdmitContext, Transaction};

use crate::sigverify::{Reply, insert_admitted};
use crate::stage::Shared;

/// A transaction waiting for its prediction, and where its answer goes.
pub(crate) struct PredictJob<T> {
    pub(crate) tx: T,
    /// Its place in its submission.
    pub(crate) index: usize,
    pub(crate) reply: Reply,
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

impl<T: Transaction> PredictQueue<T> {
    /// A queue of at most `max_jobs` jobs, `max_per_sender` of one sender.
    pub(crate) fn new(max_jobs: usize, max_per_sender: usize) -> Self {
        let queues =
            Queues { by_sender: HashMap::default(), turn: VecDeque::new(), len: 0, closed: false };
        Self { queues: Mutex::new(queues), ready: Condvar::new(), max_jobs, max_per_sender }
    }

    fn queues(&self) -> MutexGuard<'_, Queues<T>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
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
    pub(crate) fn pop(&self) -> Option<PredictJob<T>> {
        let mut q = self.queues();
        loop {
            if let Some(sender) = q.turn.pop_front() {
                let jobs = q.by_sender.get_mut(&sender).expect("a sender in turn has jobs");
                let job = jobs.pop_front().expect("a sender in turn has jobs");
                if jobs.is_empty() {
                    q.by_sender.remove(&sender);
                } else {
                    q.turn.push_back(sender);
                }
                q.len -= 1;
                return Some(job);
            }
            if q.closed {
                return None;
            }
            q = self.ready.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Stops intake and wakes every waiting thread; queued jobs still run.
    pub(crate) fn close(&self) {
        self.queues().closed = true;
        self.ready.notify_all();
    }
}

/// One prediction thread: runs until the queue closes and drains.
pub(crate) fn run<T: Transaction>(shared: &Shared<T>) {
    while let Some(job) = shared.predictions.pop() {
        if job.reply.is_cancelled() {
            continue; // its submitter stopped waiting: it is not admitted
        }
        let sim = shared.latest().sim;
        let admitted = shared.admission.predict(&job.tx, AdmitContext::new(&sim));
        insert_admitted(shared, vec![(job.index, job.tx, admitted)], &job.reply);
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
        PredictJob { tx, index: 0, reply: Reply::detached() }
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
