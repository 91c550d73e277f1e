//! [`TxPool`]: per-sender queues ordered by nonce, and a priority order over
//! the transactions that can run next.
//!
//! Only a sender's next nonce is ready, and only while none of its
//! transactions is out (held by the scheduler or running); later nonces and
//! gaps wait. The ready order is the highest tip per gas first, then arrival.
//! Replaced transactions leave stale entries in the ready heap, skipped when
//! popped.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::time::Instant;

use alloy_primitives::{Address, B256};
use lanes_runtime::{AccessSet, AccessSource, Admitted, PoolTransaction, Runnable};

use crate::error::SubmitError;

/// A pooled transaction, boxed from the moment the pool accepts it until
/// it is in a committed block: an EVM transaction is over 500 bytes, and the
/// pool's queues, the scheduler's look-ahead window (kept in order across
/// passes, with the order key beside each box), its exclusive lane and a
/// built block each move it.
pub(crate) type Held<T> = Box<Pooled<T>>;

/// The transaction in its box runs as it is, under the set it was admitted
/// with ([`lanes_runtime::Bank::execute_batch`] takes any [`Runnable`]).
impl<T> Runnable<T> for Box<Pooled<T>> {
    fn tx(&self) -> &T {
        &self.tx
    }

    fn access(&self) -> Option<&AccessSet> {
        self.admitted.access.as_ref()
    }

    fn source(&self) -> AccessSource {
        self.admitted.source
    }
}

/// A transaction the pool accepted.
#[derive(Debug)]
pub(crate) struct Pooled<T> {
    pub(crate) tx: T,
    /// The set it is locked and run with (never an empty one), and its source.
    pub(crate) admitted: Admitted,
    pub(crate) hash: B256,
    /// Tip per gas at the chain's base fee: the priority.
    pub(crate) tip: u128,
    /// Arrival order.
    pub(crate) seq: u64,
    pub(crate) arrived: Instant,
    /// Whether its set is still being predicted: until then it is not ready.
    pub(crate) predicting: bool,
    /// Times its set was predicted again after it left the one it ran with.
    pub(crate) repredictions: u8,
    /// A set predicted again by the worker that saw it leave its set, to
    /// take once that set's locks are released.
    pub(crate) repredicted: Option<Admitted>,
    /// Where the pool keeps its sender's queue.
    queue: u32,
}

#[derive(Debug)]
struct SenderQueue<T> {
    sender: Address,
    /// The nonce the sender's next transaction must carry.
    next: u64,
    queued: NonceQueue<T>,
    /// The hash of this sender's transaction that is out of the pool (held
    /// or running), if one is.
    out: Option<B256>,
}

/// One sender's queued transactions, sorted by nonce. A sorted ring of
/// boxes, not a `BTreeMap`: most senders queue a few transactions, and a
/// B-tree leaf holds room for eleven; a ring takes the lowest nonce off in
/// constant time, for the sender of a dev node's thousands.
#[derive(Debug)]
struct NonceQueue<T>(VecDeque<Held<T>>);

impl<T: PoolTransaction> NonceQueue<T> {
    fn position(&self, nonce: u64) -> Result<usize, usize> {
        self.0.binary_search_by_key(&nonce, |p| p.tx.nonce())
    }

    fn get(&self, nonce: u64) -> Option<&Pooled<T>> {
        self.position(nonce).ok().map(|i| &*self.0[i])
    }

    /// Puts `p` in its nonce's place, replacing the one there.
    fn insert(&mut self, p: Held<T>) {
        match self.position(p.tx.nonce()) {
            Ok(i) => self.0[i] = p,
            Err(i) => self.0.insert(i, p),
        }
    }

    fn first(&self) -> Option<&Pooled<T>> {
        self.0.front().map(|p| &**p)
    }

    fn remove_first(&mut self) -> Option<Held<T>> {
        self.0.pop_front()
    }

    fn last(&self) -> Option<&Pooled<T>> {
        self.0.back().map(|p| &**p)
    }

    fn remove_last(&mut self) -> Option<Held<T>> {
        self.0.pop_back()
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A ready transaction in the priority heap: 32 bytes, so a pop's walk down
/// the heap reads half the memory it did with the sender's address and the
/// nonce in each entry (`seq` names the transaction: the pool numbers each
/// one it accepts).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Ready {
    tip: u128,
    seq: Reverse<u64>,
    /// Where its sender's queue is.
    queue: u32,
}

impl Ready {
    /// `p`, the next transaction of its sender, as ready.
    fn of<T>(p: &Pooled<T>) -> Self {
        Self { tip: p.tip, seq: Reverse(p.seq), queue: p.queue }
    }
}

/// `admitted` with an empty set as no set.
fn normalised(admitted: Admitted) -> Admitted {
    match admitted.access {
        Some(set) if set.is_empty() => Admitted { access: None, source: AccessSource::Undeclared },
        _ => admitted,
    }
}

/// The limits a pool enforces.
#[derive(Clone, Debug)]
pub(crate) struct PoolLimits {
    pub(crate) max_pool: usize,
    pub(crate) max_per_sender: usize,
    pub(crate) price_bump_percent: u128,
    pub(crate) base_fee: u64,
    pub(crate) block_gas_limit: u64,
}

/// The transaction pool.
///
/// Sender queues live in a vector, found by address through `senders`; a
/// pooled transaction and its heap entry carry their queue's place, so
/// taking a transaction out and settling it find the queue without a lookup
/// by address (each was a cache miss into a table of every sender). A
/// place freed by [`Self::prune_idle`] is reused; a stale heap entry that
/// points at it names a transaction (`seq`) that is not there, and is skipped.
#[derive(Debug)]
pub(crate) struct TxPool<T> {
    senders: HashMap<Address, u32, ahash::RandomState>,
    queues: Vec<SenderQueue<T>>,
    /// Places in `queues` free for new senders.
    free: Vec<u32>,
    ready: BinaryHeap<Ready>,
    /// Transactions accepted and not finished: queued, held or running.
    len: usize,
    seq: u64,
    limits: PoolLimits,
    /// Included in the block being built, until it is persisted
    /// ([`Self::persisted`]): neither queued nor in a block yet.
    committing: HashSet<B256, ahash::RandomState>,
    /// Transactions the pool let go without running them, and why, until
    /// taken ([`Self::take_discarded`]); the oldest past
    /// [`MAX_DISCARDED_KEPT`] are forgotten.
    discarded: Discarded,
}

/// Most discarded transactions the pool keeps for [`TxPool::take_discarded`].
pub(crate) const MAX_DISCARDED_KEPT: usize = 10_000;

/// Discarded transactions and why, the newest [`MAX_DISCARDED_KEPT`].
#[derive(Debug, Default)]
struct Discarded(VecDeque<(B256, String)>);

impl Discarded {
    fn push(&mut self, hash: B256, reason: String) {
        if self.0.len() >= MAX_DISCARDED_KEPT {
            self.0.pop_front();
        }
        self.0.push_back((hash, reason));
    }
}

impl<T: PoolTransaction> TxPool<T> {
    /// The base fee a new transaction must pay: the head's.
    pub(crate) fn set_base_fee(&mut self, base_fee: u64) {
        self.limits.base_fee = base_fee;
    }

    pub(crate) fn set_block_gas_limit(&mut self, gas_limit: u64) {
        self.limits.block_gas_limit = gas_limit;
    }

    pub(crate) fn new(limits: PoolLimits) -> Self {
        Self {
            senders: HashMap::default(),
            queues: Vec::new(),
            free: Vec::new(),
            ready: BinaryHeap::new(),
            len: 0,
            seq: 0,
            limits,
            committing: HashSet::default(),
            discarded: Discarded::default(),
        }
    }

    /// Every queued transaction, each sender's in nonce order, with whether
    /// it is next in line (its nonce follows the sender's next, or the one
    /// before it, without a gap): a pool listing's pending and queued. A scan.
    pub(crate) fn listing(&self) -> Vec<(T, bool)> {
        let mut out = Vec::with_capacity(self.len);
        for &at in self.senders.values() {
            let queue = &self.queues[at as usize];
            let mut next = queue.next + u64::from(queue.out.is_some());
            for p in &queue.queued.0 {
                let in_line = p.tx.nonce() == next;
                next += u64::from(in_line);
                out.push((p.tx.clone(), in_line));
            }
        }
        out
    }

    /// Removes the queued transactions `pick` chooses (never one taken out
    /// to run); their hashes. A sender's later transactions stay, behind the
    /// gap a removal leaves.
    pub(crate) fn remove_where(&mut self, mut pick: impl FnMut(&T) -> bool) -> Vec<B256> {
        let mut removed = Vec::new();
        for &at in self.senders.values() {
            let queued = &mut self.queues[at as usize].queued.0;
            queued.retain(|p| {
                let gone = pick(&p.tx);
                if gone {
                    removed.push(p.hash);
                }
                !gone
            });
        }
        self.len = self.len.saturating_sub(removed.len());
        self.prune_idle();
        removed
    }

    /// Empties the pool (the chain went back: every nonce it learned may be
    /// wrong); the hashes of what it held. Its limits stay.
    pub(crate) fn empty(&mut self) -> Vec<B256> {
        let mut held: Vec<B256> = self.committing.iter().copied().collect();
        for &at in self.senders.values() {
            let queue = &self.queues[at as usize];
            held.extend(queue.out);
            held.extend(queue.queued.0.iter().map(|p| p.hash));
        }
        let discarded = std::mem::take(&mut self.discarded);
        *self = Self::new(self.limits.clone());
        self.discarded = discarded;
        held
    }

    /// Notes `hash`, taken out to run, dropped at execution for `error`.
    pub(crate) fn rejected(&mut self, hash: B256, error: &lanes_runtime::TxError) {
        self.discarded.push(hash, format!("dropped at execution: {error}"));
    }

    /// The transactions let go since the last call, and why.
    pub(crate) fn take_discarded(&mut self) -> Vec<(B256, String)> {
        self.discarded.0.drain(..).collect()
    }

    /// Whether the pool holds `hash`: queued, taken out to run, or included
    /// in the block being built and not yet persisted. A scan.
    pub(crate) fn holds(&self, hash: &B256) -> bool {
        if self.committing.contains(hash) {
            return true;
        }
        let mut queues = self.senders.values().map(|at| &self.queues[*at as usize]);
        queues.any(|q| q.out == Some(*hash) || q.queued.0.iter().any(|p| p.hash == *hash))
    }

    /// The block holding `hashes` is persisted: they are in a block now.
    pub(crate) fn persisted(&mut self, hashes: impl IntoIterator<Item = B256>) {
        for hash in hashes {
            self.committing.remove(&hash);
        }
    }

    /// Transactions accepted and not yet finished.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// A copy of the queued transaction `hash`: a scan of every queue, for
    /// lookups by hash (a node answering for a pooled transaction), not the
    /// hot path. One taken out to run is not found.
    pub(crate) fn find(&self, hash: &B256) -> Option<T> {
        let queues = self.senders.values().map(|at| &self.queues[*at as usize]);
        queues.flat_map(|q| q.queued.0.iter()).find(|p| p.hash == *hash).map(|p| p.tx.clone())
    }

    /// Copies of every queued transaction, each sender's in nonce order
    /// (one taken out to run is not among them).
    pub(crate) fn queued(&self) -> Vec<T> {
        let queues = self.senders.values().map(|at| &self.queues[*at as usize]);
        queues.flat_map(|q| q.queued.0.iter()).map(|p| p.tx.clone()).collect()
    }

    /// Queued transactions whose set is still being predicted: a scan, for
    /// observing the stage, not the hot path.
    pub(crate) fn predicting(&self) -> usize {
        let queues = self.senders.values().map(|at| &self.queues[*at as usize]);
        queues.flat_map(|q| q.queued.0.iter()).filter(|p| p.predicting).count()
    }

    /// Whether a transaction is ready to run. Drops the stale entries (of
    /// transactions replaced, taken or gone since) off the top of the ready
    /// order first, so a stale one never reads as work.
    pub(crate) fn has_ready(&mut self) -> bool {
        while let Some(top) = self.ready.peek() {
            if self.current(top) {
                return true;
            }
            self.ready.pop();
        }
        false
    }

    /// Whether `r` still names its sender's next transaction, ready to run.
    fn current(&self, r: &Ready) -> bool {
        let queue = &self.queues[r.queue as usize];
        queue.queued.first().is_some_and(|p| {
            p.seq == r.seq.0 && p.tx.nonce() == queue.next && queue.out.is_none() && !p.predicting
        })
    }

    /// Accepts `tx`, to run under `admitted`, or, with `None`, once its
    /// set is predicted ([`Self::predicted`]); `state_nonce` gives the
    /// committed nonce of a sender the pool does not track yet.
    pub(crate) fn insert(
        &mut self,
        tx: T,
        admitted: Option<Admitted>,
        state_nonce: impl FnOnce(&Address) -> u64,
    ) -> Result<B256, SubmitError> {
        let hash = tx.hash();
        let limits = &self.limits;
        if tx.gas_limit() > limits.block_gas_limit {
            return Err(SubmitError::GasLimitExceeded {
                gas: tx.gas_limit(),
                limit: limits.block_gas_limit,
            });
        }
        let tip = tx
            .tip_per_gas(limits.base_fee)
            .ok_or(SubmitError::FeeTooLow { base_fee: limits.base_fee })?;
        let sender = tx.sender();
        let (at, new) = match self.senders.get(&sender) {
            Some(at) => (*at, false),
            None => (self.place(sender, state_nonce(&sender)), true),
        };
        let result = self.admit(tx, admitted, hash, tip, at);
        if result.is_err() && new {
            // A refused first transaction leaves no queue behind.
            self.senders.remove(&sender);
            self.free.push(at);
        }
        result
    }

    /// A place in `queues` for a new queue of `sender`, filed in `senders`.
    fn place(&mut self, sender: Address, next: u64) -> u32 {
        let queue = SenderQueue { sender, next, queued: NonceQueue(VecDeque::new()), out: None };
        let at = match self.free.pop() {
            Some(at) => {
                self.queues[at as usize] = queue;
                at
            }
            None => {
                self.queues.push(queue);
                u32::try_from(self.queues.len() - 1).expect("fewer than 2^32 senders in memory")
            }
        };
        self.senders.insert(sender, at);
        at
    }

    /// The checks of [`Self::insert`] that need the sender's queue (at `at`),
    /// and the admission itself.
    ///
    /// A transaction is known by its sender's queue: its hash names its
    /// sender and nonce, so it is queued at that nonce or out. (A table of
    /// every hash in the pool would cost the scheduler a cache miss per
    /// finished transaction.)
    fn admit(
        &mut self,
        tx: T,
        admitted: Option<Admitted>,
        hash: B256,
        tip: u128,
        at: u32,
    ) -> Result<B256, SubmitError> {
        let predicting = admitted.is_none();
        let admitted = normalised(admitted.unwrap_or_default());
        let limits = &self.limits;
        let nonce = tx.nonce();
        let queue = &mut self.queues[at as usize];
        let queued = queue.queued.get(nonce).is_some_and(|p| p.hash == hash);
        if queued || queue.out == Some(hash) {
            return Err(SubmitError::AlreadyKnown(hash));
        }
        let next = queue.next + u64::from(queue.out.is_some());
        if nonce < queue.next || (queue.out.is_some() && nonce == queue.next) {
            return Err(SubmitError::NonceTooLow { next, got: nonce });
        }
        let seq = self.seq;
        let arrived = Instant::now();
        let pooled = Box::new(Pooled {
            tx,
            admitted,
            hash,
            tip,
            seq,
            arrived,
            predicting,
            repredictions: 0,
            repredicted: None,
            queue: at,
        });
        if let Some(old) = queue.queued.get(nonce) {
            let needed = old.tip.saturating_mul(100 + limits.price_bump_percent).div_ceil(100);
            if tip < needed.max(old.tip + 1) {
                return Err(SubmitError::ReplacementUnderpriced {
                    needed: needed.max(old.tip + 1),
                });
            }
        } else if queue.queued.len() >= limits.max_per_sender {
            // A sender at its limit: a lower nonce takes the place of its
            // highest (as geth's pool keeps the sender's lowest nonces), so
            // sends that arrive out of order cannot leave the pool holding
            // only nonces after a gap.
            if queue.queued.last().is_none_or(|last| last.tx.nonce() <= nonce) {
                return Err(SubmitError::SenderOverLimit { limit: limits.max_per_sender });
            }
            let evicted = queue.queued.remove_last().expect("a last one");
            let reason = format!(
                "dropped from the pool: its sender has {} queued transactions, the most allowed, and nonce {nonce} came in below it",
                limits.max_per_sender
            );
            self.discarded.push(evicted.hash, reason);
        } else {
            if self.len >= limits.max_pool {
                return Err(SubmitError::PoolFull { limit: limits.max_pool });
            }
            self.len += 1;
        }
        if nonce == queue.next && queue.out.is_none() && !predicting {
            self.ready.push(Ready::of(&pooled));
        }
        let replaced = queue.queued.get(nonce).map(|old| old.hash);
        queue.queued.insert(pooled);
        self.seq += 1;
        if let Some(old) = replaced {
            self.discarded.push(
                old,
                format!("dropped from the pool: replaced by {hash}, which pays a higher tip"),
            );
        }
        Ok(hash)
    }

    /// Takes the best ready transaction out of the pool; its sender has no
    /// other ready transaction until [`Self::finish`].
    pub(crate) fn pop(&mut self) -> Option<Held<T>> {
        if !self.has_ready() {
            return None;
        }
        let Ready { queue: at, .. } = self.ready.pop()?;
        let queue = &mut self.queues[at as usize];
        let p = queue.queued.remove_first()?;
        queue.out = Some(p.hash);
        Some(p)
    }

    /// `p`, taken by [`Self::pop`], is done: in the block (`included`), or
    /// dropped. (Its sender's queue stays in its place while it is out.)
    pub(crate) fn finish(&mut self, p: &Pooled<T>, included: bool) {
        self.len = self.len.saturating_sub(1);
        let queue = &mut self.queues[p.queue as usize];
        debug_assert_eq!(queue.sender, p.tx.sender(), "a queue moved while out");
        queue.out = None;
        if included {
            queue.next = p.tx.nonce() + 1;
            self.committing.insert(p.hash);
        }
        // Nonces below the next can never run.
        while queue.queued.first().is_some_and(|p| p.tx.nonce() < queue.next) {
            let stale = queue.queued.remove_first().expect("a first one");
            self.len = self.len.saturating_sub(1);
            let nonce = stale.tx.nonce();
            let reason =
                format!("dropped from the pool: its nonce {nonce} was used by another transaction");
            self.discarded.push(stale.hash, reason);
        }
        if let Some(head) = queue.queued.get(queue.next).filter(|p| !p.predicting) {
            self.ready.push(Ready::of(head));
        }
    }

    /// The set of `sender`'s transaction `hash` (at `nonce`) is predicted:
    /// it runs under `admitted` once its turn comes. Nothing when the pool no
    /// longer holds it (replaced, or dropped).
    pub(crate) fn predicted(
        &mut self,
        sender: &Address,
        nonce: u64,
        hash: B256,
        admitted: Admitted,
    ) {
        let Some(&at) = self.senders.get(sender) else { return };
        let queue = &mut self.queues[at as usize];
        let Ok(i) = queue.queued.position(nonce) else { return };
        let p = &mut queue.queued.0[i];
        if p.hash != hash || !p.predicting {
            return;
        }
        p.admitted = normalised(admitted);
        p.predicting = false;
        if nonce == queue.next && queue.out.is_none() {
            self.ready.push(Ready::of(p));
        }
    }

    /// Puts transactions back as if they had never been taken out: those of
    /// a discarded block (included, so their senders' next nonces moved past
    /// them) and those the scheduler still held. A sender's next nonce goes
    /// back to the lowest one returned. Call with nothing running.
    pub(crate) fn requeue(&mut self, txs: impl IntoIterator<Item = Held<T>>) {
        let mut touched = Vec::new();
        for p in txs {
            self.committing.remove(&p.hash);
            let at = p.queue;
            let queue = &mut self.queues[at as usize];
            debug_assert_eq!(queue.sender, p.tx.sender(), "a queue moved while out");
            if queue.out == Some(p.hash) {
                queue.out = None; // held, never finished: still counted
            } else if queue.queued.get(p.tx.nonce()).is_none() {
                self.len += 1; // finished as included: counted again
            }
            queue.next = queue.next.min(p.tx.nonce());
            queue.queued.insert(p);
            touched.push(at);
        }
        touched.sort_unstable();
        touched.dedup();
        for at in touched {
            let queue = &self.queues[at as usize];
            let head = queue.queued.get(queue.next).filter(|p| !p.predicting);
            if let Some(head) = head.filter(|_| queue.out.is_none()) {
                self.ready.push(Ready::of(head));
            }
        }
    }

    /// [`Self::insert`] under the transaction's own declaration.
    #[cfg(test)]
    pub(crate) fn insert_tx(
        &mut self,
        tx: T,
        state_nonce: impl FnOnce(&Address) -> u64,
    ) -> Result<B256, SubmitError> {
        let admitted = Admitted::declared(&tx);
        self.insert(tx, Some(admitted), state_nonce)
    }

    /// Moves each sender's next nonce up to its committed one, read with
    /// `state_nonce`, after a block built elsewhere: its transactions leave
    /// the pool. Call with nothing taken out.
    pub(crate) fn learn_nonces(&mut self, state_nonce: impl Fn(&Address) -> u64) {
        for &at in self.senders.values() {
            let queue = &mut self.queues[at as usize];
            let committed = state_nonce(&queue.sender);
            if committed <= queue.next || queue.out.is_some() {
                continue;
            }
            queue.next = committed;
            while queue.queued.first().is_some_and(|p| p.tx.nonce() < committed) {
                let stale = queue.queued.remove_first().expect("a first one");
                self.len = self.len.saturating_sub(1);
                let reason =
                    format!("dropped from the pool: its sender's nonce is {committed} now");
                self.discarded.push(stale.hash, reason);
            }
            if let Some(head) = queue.queued.get(committed).filter(|p| !p.predicting) {
                self.ready.push(Ready::of(head));
            }
        }
        self.prune_idle();
    }

    /// Forgets senders with nothing queued or out, so their next nonce is read
    /// from committed state again. Call after a block is committed.
    pub(crate) fn prune_idle(&mut self) {
        let (queues, free) = (&self.queues, &mut self.free);
        self.senders.retain(|_, at| {
            let q = &queues[*at as usize];
            let keep = q.out.is_some() || !q.queued.is_empty();
            if !keep {
                free.push(*at);
            }
            keep
        });
        if self.ready.len() > 2 * self.len + 1024 {
            // Mostly stale entries of replaced transactions: rebuild.
            let queues = self.senders.values().map(|at| &self.queues[*at as usize]);
            let ready = queues
                .filter(|q| q.out.is_none())
                .filter_map(|q| q.queued.get(q.next).filter(|p| !p.predicting).map(Ready::of));
            self.ready = ready.collect();
        }
    }

    /// The nonce a sender's next new transaction should carry: past its
    /// committed nonce, what is out and every queued transaction without a gap.
    pub(crate) fn pending_nonce(&self, sender: &Address) -> Option<u64> {
        let queue = &self.queues[*self.senders.get(sender)? as usize];
        let mut next = queue.next + u64::from(queue.out.is_some());
        while queue.queued.get(next).is_some() {
            next += 1;
        }
        Some(next)
    }
}

#[cfg(test)]
mod tests;
