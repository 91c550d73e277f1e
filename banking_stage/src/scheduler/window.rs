//! The look-ahead window: transactions taken from the pool and not yet run,
//! kept in rank order between passes. Its clock is handed in, so a test can
//! age a transaction without waiting.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::pool::Held;

/// A transaction in the window, with the key that orders it: long-waiting
/// ones first, oldest first; then the best tip, then arrival. The key sits
/// beside the box, so keeping the window in order reads the window's own
/// memory, not each transaction's box.
///
/// Kept at 40 bytes: the tip's complement in two words (a `u128` would
/// align the whole to 16 bytes), the arrival read from the box only when
/// the window is re-ranked for age.
pub(crate) struct Candidate<T> {
    /// (not aged, high and low word of `u128::MAX - tip` (0 when aged), seq).
    rank: (bool, u64, u64, u64),
    pub(crate) p: Held<T>,
}

const _: () = assert!(std::mem::size_of::<Candidate<()>>() == 40);

impl<T> Candidate<T> {
    fn new(p: Held<T>, aged_if_before: Option<Instant>) -> Self {
        let mut c = Self { rank: (true, 0, 0, p.seq), p };
        c.rerank(aged_if_before);
        c
    }

    /// Ranks it as aged when it arrived before `aged_if_before`.
    fn rerank(&mut self, aged_if_before: Option<Instant>) {
        let aged = aged_if_before.is_some_and(|t| self.p.arrived <= t);
        let behind = if aged { 0 } else { u128::MAX - self.p.tip };
        self.rank = (!aged, (behind >> 64) as u64, behind as u64, self.p.seq);
    }
}

/// How much later than `max_wait` a transaction may be ranked as aged: the
/// window is re-ranked for age once per `max_wait / AGE_CHECKS`, not on
/// every pass.
const AGE_CHECKS: u32 = 16;

/// The look-ahead window: transactions taken from the pool and not yet run
/// (held back by conflicts, the gas limit, full worker queues or the
/// exclusive lane), kept in rank order between passes.
pub(crate) struct Window<T> {
    /// In rank order unless `unsorted`.
    held: VecDeque<Candidate<T>>,
    /// Whether `held` may be out of rank order.
    unsorted: bool,
    /// When `held` is next re-ranked for age.
    next_age_check: Option<Instant>,
    /// A transaction waiting this long ranks as aged.
    max_wait: Duration,
}

impl<T> Window<T> {
    pub(crate) fn new(max_wait: Duration) -> Self {
        Self { held: VecDeque::new(), unsorted: false, next_age_check: None, max_wait }
    }

    /// Whether the window holds transactions not yet run.
    pub(crate) fn has_candidates(&self) -> bool {
        !self.held.is_empty()
    }

    /// Puts `p` back in the window at `now`, out of order until the next
    /// pass sorts it.
    pub(crate) fn hold(&mut self, p: Held<T>, now: Instant) {
        let aged_if_before = now.checked_sub(self.max_wait);
        self.held.push_back(Candidate::new(p, aged_if_before));
        self.unsorted = true;
    }

    /// The window for a pass at `now`, in rank order: re-ranked for age when
    /// due, and topped up to `lookahead` from `pop` (the pool, best first).
    /// The pass hands back what it does not run with [`Self::put_back`].
    pub(crate) fn take(
        &mut self,
        now: Instant,
        lookahead: usize,
        mut pop: impl FnMut() -> Option<Held<T>>,
    ) -> VecDeque<Candidate<T>> {
        let aged_if_before = now.checked_sub(self.max_wait);
        let mut candidates = std::mem::take(&mut self.held);
        if self.next_age_check.is_none_or(|at| now >= at) {
            for c in &mut candidates {
                c.rerank(aged_if_before);
            }
            self.unsorted = true;
            self.next_age_check = Some(now.checked_add(self.max_wait / AGE_CHECKS).unwrap_or(now));
        }
        while candidates.len() < lookahead {
            let Some(p) = pop() else { break };
            let c = Candidate::new(p, aged_if_before);
            // The pool gives its best first; one that outranks the window's
            // last (a better tip than what is held) needs a sort.
            self.unsorted |= candidates.back().is_some_and(|last| last.rank > c.rank);
            candidates.push_back(c);
        }
        if std::mem::take(&mut self.unsorted) {
            // Stable, so mostly ordered runs merge in one pass.
            candidates.make_contiguous().sort_by_key(|c| c.rank);
        }
        candidates
    }

    /// Takes back what a pass left, still in rank order.
    pub(crate) fn put_back(&mut self, mut candidates: VecDeque<Candidate<T>>) {
        if !self.held.is_empty() {
            // Held while the pass ran: behind the pass's, until the next sort.
            candidates.extend(self.held.drain(..));
            self.unsorted = true;
        }
        self.held = candidates;
    }

    /// Empties the window (its transactions go back to the pool).
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Held<T>> + '_ {
        self.unsorted = false;
        self.held.drain(..).map(|c| c.p)
    }
}
