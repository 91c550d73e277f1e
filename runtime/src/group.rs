//! The simplest scheduler: cut a sequence of transactions into entries
//! without reordering.

use crate::executor::Transaction;
use crate::locks::EntryKeys;

/// Splits `txs` into entries in their given order: a transaction joins the
/// current entry unless its set conflicts with one already there; one that
/// declares nothing gets an entry of its own. Executing the entries in order
/// gives the same state as executing `txs` one by one.
pub fn entries_in_order<T: Transaction>(txs: impl IntoIterator<Item = T>) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = Vec::new();
    let mut keys = EntryKeys::default();
    let mut open = false; // whether the last entry takes more transactions
    for tx in txs {
        let set = tx.access_set().filter(|s| !s.is_empty());
        if !(open && set.is_some_and(|set| keys.try_add(set))) {
            keys.clear();
            open = set.is_some();
            out.push(Vec::new());
            if let Some(set) = set {
                keys.add(set);
            }
        }
        out.last_mut().expect("an entry was opened").push(tx);
    }
    out
}
