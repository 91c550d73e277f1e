//! Which transactions of an ordered block wait for which: for each key hash,
//! the unfinished transactions whose sets lock it, in block order. A
//! transaction may run once no earlier transaction in any of its keys'
//! queues holds a lock its own conflicts with.
//!
//! ```text
//!   tx:        0: w(A)   1: r(A) r(B)   2: r(A)   3: w(B)
//!   queue A:   [0 w] [1 r] [2 r]      1 and 2 wait for 0; they share A
//!   queue B:   [1 r] [3 w]            3 waits for 1
//! ```
//!
//! The keys are the sets' marks (each key's hash, and for a slot its
//! address's all-storage hash), so the multi-granularity rule of
//! `AllStorage` against `Storage` holds here as in the lock tables, and a
//! hash collision can only make a transaction wait longer, never run early.

use std::collections::HashMap;

use lanes_accounts_db::KeyHash;

use crate::access::AccessSet;
use crate::marks::{Mark, WRITE};

/// One transaction's lock on one key hash.
#[derive(Clone, Copy, Debug)]
struct Waiter {
    tx: u32,
    sets: u8,
    forbids: u8,
}

/// The queues of every key hash an unfinished transaction locks.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    queues: HashMap<KeyHash, Vec<Waiter>, ahash::RandomState>,
}

impl Graph {
    /// Puts transaction `tx`, locking `set`, in its keys' queues at its place
    /// in block order.
    pub(crate) fn insert(&mut self, tx: usize, set: &AccessSet) {
        for &Mark { hash, forbids, sets } in set.marks() {
            let queue = self.queues.entry(hash).or_default();
            let waiter = Waiter { tx: tx as u32, sets, forbids };
            // Mostly an append: transactions enter in block order.
            let at = queue.partition_point(|w| w.tx as usize <= tx);
            queue.insert(at, waiter);
        }
    }

    /// Takes transaction `tx` out of its keys' queues, and adds to
    /// `candidates` the transactions it held up at one of those keys that no
    /// longer wait there (they may still wait at others). One it did not
    /// hold up is not a candidate: its turn did not change.
    pub(crate) fn remove(&mut self, tx: usize, set: &AccessSet, candidates: &mut Vec<usize>) {
        for mark in set.marks() {
            let Some(queue) = self.queues.get_mut(&mark.hash) else { continue };
            let Some(at) = queue.iter().position(|w| w.tx as usize == tx) else { continue };
            // The same transaction may file two marks under one hash.
            let mut gone = 0u8;
            queue.retain(|w| {
                let mine = w.tx as usize == tx;
                if mine {
                    gone |= w.sets;
                }
                !mine
            });
            if queue.is_empty() {
                self.queues.remove(&mark.hash);
                continue;
            }
            let mut held = 0u8;
            for (i, w) in queue.iter().enumerate() {
                if held & w.forbids == 0 && i >= at && gone & w.forbids != 0 {
                    candidates.push(w.tx as usize);
                }
                held |= w.sets;
                if held & WRITE != 0 {
                    break; // a write ahead: every later lock here waits
                }
            }
        }
    }

    /// Whether no transaction before `tx` in any of `set`'s queues holds a
    /// lock that conflicts with `set`.
    pub(crate) fn clear_before(&self, tx: usize, set: &AccessSet) -> bool {
        set.marks().iter().all(|mark| {
            let Some(queue) = self.queues.get(&mark.hash) else { return true };
            queue.iter().take_while(|w| (w.tx as usize) < tx).all(|w| w.sets & mark.forbids == 0)
        })
    }

    /// Whether no queue is left.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Address, B256};

    use super::*;
    use crate::key::StateKey;

    fn a(i: u8) -> StateKey {
        StateKey::Account(Address::repeat_byte(i))
    }

    fn slot(i: u8) -> StateKey {
        StateKey::Storage(Address::repeat_byte(9), B256::repeat_byte(i))
    }

    #[test]
    fn test_waits_follow_the_conflict_rule_in_block_order() {
        // 0: w(A)   1: r(A) r(B)   2: r(A)   3: w(B)   4: w(all slots of 9)   5: r(slot 1)
        let sets = [
            AccessSet::unbounded([], [a(1)]),
            AccessSet::unbounded([a(1), a(2)], []),
            AccessSet::unbounded([a(1)], []),
            AccessSet::unbounded([], [a(2)]),
            AccessSet::unbounded([], [StateKey::AllStorage(Address::repeat_byte(9))]),
            AccessSet::unbounded([slot(1)], []),
        ];
        let mut graph = Graph::default();
        for (i, set) in sets.iter().enumerate() {
            graph.insert(i, set);
        }
        let clear: Vec<bool> =
            sets.iter().enumerate().map(|(i, s)| graph.clear_before(i, s)).collect();
        assert_eq!(clear, [true, false, false, false, true, false]);

        let mut candidates = Vec::new();
        graph.remove(0, &sets[0], &mut candidates);
        candidates.sort_unstable();
        assert_eq!(candidates, [1, 2], "both readers of A are free at A");
        assert!(graph.clear_before(1, &sets[1]) && graph.clear_before(2, &sets[2]));
        assert!(!graph.clear_before(3, &sets[3]), "3 still waits for 1's read of B");

        candidates.clear();
        graph.remove(1, &sets[1], &mut candidates);
        assert!(candidates.contains(&3) && graph.clear_before(3, &sets[3]));
        candidates.clear();
        graph.remove(4, &sets[4], &mut candidates);
        assert_eq!(candidates, [5], "a slot read waits for its address's all-storage write");
        for i in [2, 3, 5] {
            graph.remove(i, &sets[i], &mut candidates);
        }
        assert!(graph.is_empty());
    }

    #[test]
    fn test_a_late_insert_takes_its_place_in_order() {
        let w = AccessSet::unbounded([], [a(1)]);
        let mut graph = Graph::default();
        graph.insert(0, &w);
        graph.insert(5, &w);
        graph.insert(3, &w); // back after a roll-back
        assert!(!graph.clear_before(3, &w) && !graph.clear_before(5, &w));
        let mut candidates = Vec::new();
        graph.remove(0, &w, &mut candidates);
        assert_eq!(candidates, [3]);
    }
}
