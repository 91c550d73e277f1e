//! What a transaction runs with: the set it was admitted with and where
//! that came from ([`Admitted`]), and a transaction together with its set,
//! as a bank runs it ([`Runnable`]).

use crate::access::{AccessSet, AccessSource};
use crate::executor::Transaction;

/// The set a transaction is admitted with, and where it came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Admitted {
    /// The set to lock and enforce; `None` runs it in the exclusive lane.
    pub access: Option<AccessSet>,
    /// Where `access` came from.
    pub source: AccessSource,
}

impl Admitted {
    /// What `tx` declares itself: its non-empty [`Transaction::access_set`],
    /// else nothing (the exclusive lane).
    pub fn declared<T: Transaction>(tx: &T) -> Self {
        match tx.access_set().filter(|set| !set.is_empty()) {
            Some(set) => Self { access: Some(set.clone()), source: AccessSource::Declared },
            None => Self::default(),
        }
    }
}

/// A transaction together with the set it is locked and run with: what
/// [`crate::Bank::execute_batch`] runs. A transaction is its own
/// [`Runnable`], under its declaration; a scheduler's queue entry that
/// carries an admitted set is another.
pub trait Runnable<T> {
    /// The transaction.
    fn tx(&self) -> &T;
    /// The set it runs under; `None` (or an empty set) sends it to the
    /// exclusive lane.
    fn access(&self) -> Option<&AccessSet>;
    /// Where that set came from, as the block records it.
    fn source(&self) -> AccessSource {
        AccessSource::Declared
    }
}

impl<T: Transaction> Runnable<T> for T {
    fn tx(&self) -> &T {
        self
    }

    fn access(&self) -> Option<&AccessSet> {
        self.access_set().filter(|set| !set.is_empty())
    }
}

impl<T: Transaction> Runnable<T> for (T, Admitted) {
    fn tx(&self) -> &T {
        &self.0
    }

    fn access(&self) -> Option<&AccessSet> {
        self.1.access.as_ref().filter(|set| !set.is_empty())
    }

    fn source(&self) -> AccessSource {
        self.1.source
    }
}
