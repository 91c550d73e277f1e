//! Sigverify and admission: threads that decode submitted transactions and
//! recover their senders (the executor's `decode`), ask the admission hook
//! for each one's set ([`lanes_runtime::Admission::admit`]), and admit them
//! to the pool, or queue them for a prediction ([`crate::predict_queue`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use alloy_primitives::{B256, Bytes};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};
use lanes_accounts_db::AccountsRead;
use lanes_runtime::{AdmitContext, Admitted, DecodeError, Executor, PoolTransaction};

use crate::error::SubmitError;
use crate::predict_queue::PredictJob;
use crate::shared::Shared;

/// Where the answers of one submission go, one per transaction, by its
/// place in the submission.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    answers: Sender<(usize, Result<B256, SubmitError>)>,
    /// Set (under the pool lock) when the submitter stops waiting: what is
    /// not admitted by then is not admitted at all.
    cancelled: Arc<AtomicBool>,
}

impl Reply {
    fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    pub(crate) fn send(&self, index: usize, answer: Result<B256, SubmitError>) {
        let _ = self.answers.send((index, answer));
    }
}

/// A submission's answers, as they come.
pub(crate) struct Answers {
    answers: Receiver<(usize, Result<B256, SubmitError>)>,
    reply: Reply,
}

impl Answers {
    /// Room for the answers to `n` transactions.
    pub(crate) fn new(n: usize) -> Self {
        let (answers, receiver) = bounded(n.max(1));
        Self { answers: receiver, reply: Reply { answers, cancelled: Arc::default() } }
    }

    pub(crate) fn reply(&self) -> &Reply {
        &self.reply
    }

    /// Waits until `deadline` for the answers to `n` transactions; those
    /// not admitted by then are cancelled and answered with a timeout.
    pub(crate) fn collect<T>(
        self,
        shared: &Shared<T>,
        n: usize,
        deadline: Instant,
    ) -> Vec<Result<B256, SubmitError>> {
        let Self { answers, reply } = self;
        drop(reply.answers);
        let mut results: Vec<Option<Result<B256, SubmitError>>> = vec![None; n];
        let mut got = 0;
        while got < n {
            match answers.recv_deadline(deadline) {
                Ok((i, answer)) => {
                    got += usize::from(results[i].replace(answer).is_none());
                }
                Err(RecvTimeoutError::Timeout) => {
                    // Under the pool lock, so no admission is half done.
                    let pool = shared.pool();
                    reply.cancelled.store(true, Ordering::Release);
                    drop(pool);
                    for (i, answer) in answers.try_iter() {
                        results[i].get_or_insert(answer);
                    }
                    break;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        let waited = shared.admit_timeout;
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(SubmitError::AdmissionTimeout { waited })))
            .collect()
    }
}

/// Transactions submitted together, answered one by one.
pub(crate) struct Job {
    pub(crate) first: usize,
    pub(crate) raws: Vec<Bytes>,
    pub(crate) reply: Reply,
}

/// One sigverify thread: runs until the submission queue closes.
pub(crate) fn run<E: Executor<Tx: PoolTransaction>>(
    executor: &E,
    jobs: Receiver<Job>,
    shared: &Shared<E::Tx>,
) {
    for job in jobs {
        let start = Instant::now();
        let decoded: Vec<_> = job.raws.iter().map(|raw| executor.decode(raw)).collect();
        shared.count_sigverify(start.elapsed());
        admit(shared, job.first, decoded, &job.reply);
    }
}

/// Transactions admitted per hold of the pool lock: the scheduler can take
/// work between chunks (and is woken after each) while a large submission is
/// admitted.
const ADMIT_CHUNK: usize = 256;

/// Admits decoded transactions (the first is the submission's `first`):
/// each gets its set from the admission hook and goes into the pool; one the
/// hook must run to know goes in waiting for its prediction (it is answered
/// at once, and is not ready until predicted). Answers go to `reply`.
pub(crate) fn admit<T: PoolTransaction>(
    shared: &Shared<T>,
    first: usize,
    decoded: impl IntoIterator<Item = Result<T, DecodeError>>,
    reply: &Reply,
) {
    let sim = shared.latest().sim();
    let ctx = AdmitContext::new(&sim);
    let mut admitted = Vec::new();
    let mut remember = shared.decoded.as_ref().map(|c| c.lock());
    for (i, tx) in decoded.into_iter().enumerate() {
        let index = first + i;
        let tx = match tx {
            Ok(tx) => tx,
            Err(e) => {
                reply.send(index, Err(SubmitError::Invalid(e.0)));
                continue;
            }
        };
        if let Some(cache) = remember.as_mut() {
            cache.put(&tx);
        }
        let set =
            shared.admission.validate(&tx, ctx).and_then(|()| shared.admission.admit(&tx, ctx));
        match set {
            Ok(set) => admitted.push((index, tx, set)),
            Err(e) => reply.send(index, Err(SubmitError::Refused(e))),
        }
    }
    drop(remember);
    insert_admitted(shared, admitted, reply);
}

/// Puts admitted transactions in the pool (those with no set yet waiting
/// for a prediction, queued for one), answers each, and wakes the
/// scheduler; nothing when the submission was cancelled.
fn insert_admitted<T: PoolTransaction>(
    shared: &Shared<T>,
    admitted: Vec<(usize, T, Option<Admitted>)>,
    reply: &Reply,
) {
    let mut admitted = admitted.into_iter().peekable();
    while admitted.peek().is_some() {
        // Pool first: the scheduler publishes a new head before it prunes
        // idle senders under the pool lock, so a sender missing from the pool
        // has its latest nonce in the head read here. (Read before the lock,
        // the head can be a block behind, and the sender's next nonce one too
        // low: a gap that never fills.)
        let mut pool = shared.pool();
        if reply.is_cancelled() {
            return;
        }
        let latest = shared.latest();
        let mut to_predict = Vec::new();
        let answers: Vec<_> = admitted
            .by_ref()
            .take(ADMIT_CHUNK)
            .map(|(index, tx, set)| {
                let job = set.is_none().then(|| PredictJob { tx: tx.clone() });
                let answer = pool.insert(tx, set, |sender| {
                    // A read failure counts as nonce 0: execution checks again.
                    latest.view.get_account(sender).ok().flatten().map_or(0, |a| a.nonce)
                });
                if answer.is_ok() {
                    to_predict.extend(job);
                }
                (index, answer)
            })
            .collect();
        for job in to_predict {
            if let Err(job) = shared.predictions.push(job) {
                // Past the prediction budget: it runs without a set.
                let tx = &job.tx;
                pool.predicted(&tx.sender(), tx.nonce(), tx.hash(), Admitted::default());
            }
        }
        drop(pool);
        for (index, answer) in answers {
            reply.send(index, answer);
        }
        shared.work_arrived();
    }
}
