//! The simplest scheduler: cut a sequence of transactions into entries
//! without reordering.

use crate::executor::Transaction;
use crate::locks::AccountLocks;

/// Splits `txs` into entries in their given order: a transaction joins the
/// current entry unless its set conflicts with one already there; one that
/// declares nothing gets an entry of its own. Executing the entries in order
/// gives the same state as executing `txs` one by one.
pub fn entries_in_order<T: Transaction>(txs: impl IntoIterator<Item = T>) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = Vec::new();
    let mut locks = AccountLocks::new();
    let mut open = false; // whether the last entry takes more transactions
    for tx in txs {
        let fits = match tx.access_set().filter(|s| !s.is_empty()) {
            Some(set) if open => locks.try_lock(set).is_ok(),
            _ => false,
        };
        if !fits {
            locks = AccountLocks::new();
            open = match tx.access_set().filter(|s| !s.is_empty()) {
                Some(set) => locks.try_lock(set).is_ok(),
                None => false,
            };
            out.push(Vec::new());
        }
        out.last_mut().expect("an entry was opened").push(tx);
    }
    out
}
