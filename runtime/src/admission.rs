//! The admission hook: where the set a transaction is locked and run with
//! comes from.
//!
//! A transaction's own declaration ([`Transaction::access_set`]) is one
//! source. An [`Admission`] may supply another at admission, before the
//! transaction is queued: a set known from state (a value transfer to an
//! account without code), or one predicted by running the transaction against
//! recent state. A scheduler locks the admitted set, the bank enforces it
//! ([`crate::Bank::execute_batch`] takes any [`Runnable`]), and blocks record
//! it, so replay never needs the hook.

use crate::admitted::Admitted;
use crate::bank::Bank;
use crate::error::TxError;
use crate::executor::Transaction;

/// What an [`Admission`] may look at: a bank whose state a transaction is
/// admitted or predicted against — at admission, a bank on the committed
/// head for the next block (never sealed); after a transaction left its set,
/// the bank of the block being built, with the entries done so far. Run
/// simulations with [`Bank::simulate`]: nothing they write is kept.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct AdmitContext<'a> {
    /// The state (and block environment) to admit against.
    pub bank: &'a Bank,
}

impl<'a> AdmitContext<'a> {
    /// A context over `bank`.
    pub fn new(bank: &'a Bank) -> Self {
        Self { bank }
    }
}

/// Decides the set a transaction is locked and run with. A banking stage
/// calls it off its scheduler thread: [`Admission::admit`] for every
/// transaction as it arrives, [`Admission::predict`] for those `admit`
/// cannot place without running them (on a pool of its own, fairly across
/// senders) and again for one that left its set (against the block built
/// so far), a bounded number of times.
///
/// A wrong set costs time, never correctness: execution enforces it, and a
/// transaction that leaves it is predicted again or runs in the exclusive
/// lane.
pub trait Admission<T>: Send + Sync {
    /// The checks `tx` must pass against `ctx`'s state to enter a pool (a
    /// sender that can pay, say): a banking stage calls it for every
    /// transaction it is handed, by any door, before [`Admission::admit`]; an
    /// error refuses the transaction. A block run from a list
    /// ([`Bank::execute_block`]) does not call it: a transaction there may be
    /// paid for by an earlier one of its block. The default checks nothing.
    fn validate(&self, tx: &T, ctx: AdmitContext<'_>) -> Result<(), TxError> {
        let _ = (tx, ctx);
        Ok(())
    }

    /// The set for `tx` when it is known without running `tx` (declared, or
    /// known from state); `Ok(None)` when it must be predicted. An error
    /// refuses the transaction (it is not queued).
    fn admit(&self, tx: &T, ctx: AdmitContext<'_>) -> Result<Option<Admitted>, TxError>;

    /// The set `tx` touches when run against `ctx`'s state, within the
    /// hook's own bounds (gas, keys); one it cannot predict gets no set and
    /// runs in the exclusive lane. The default predicts nothing.
    fn predict(&self, tx: &T, ctx: AdmitContext<'_>) -> Admitted {
        let _ = (tx, ctx);
        Admitted::default()
    }

    /// [`Admission::predict`] for several transactions against one context,
    /// one answer each, in order: a hook can set its engine up once for
    /// all of them. The default predicts them one by one.
    fn predict_many(&self, txs: &[&T], ctx: AdmitContext<'_>) -> Vec<Admitted> {
        txs.iter().map(|tx| self.predict(tx, ctx)).collect()
    }
}

/// The default [`Admission`]: each transaction's own declaration, and no
/// prediction.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeclaredAccess;

impl<T: Transaction> Admission<T> for DeclaredAccess {
    fn admit(&self, tx: &T, _: AdmitContext<'_>) -> Result<Option<Admitted>, TxError> {
        Ok(Some(Admitted::declared(tx)))
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Address, U256};
    use lanes_accounts_db::{AccountHeader, AccountsDbConfig, AccountsRead, Entry};

    use super::*;
    use crate::access::{AccessSet, AccessSource};
    use crate::bank::Executed;
    use crate::chain::{Chain, Genesis};
    use crate::key::StateKey;
    use crate::native::{NativeExecutor, NativeTx};

    #[test]
    fn test_a_batch_runs_under_the_admitted_sets() {
        let (alice, bob, carol) =
            (Address::repeat_byte(1), Address::repeat_byte(2), Address::repeat_byte(3));
        let funded = AccountHeader { balance: U256::from(1_000_000), ..Default::default() };
        let genesis = Genesis {
            alloc: vec![Entry::Account(alice, funded), Entry::Account(carol, funded)],
            gas_limit: 1_000_000,
            ..Default::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let mut chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis).unwrap();
        let bank = chain.new_bank(1, Address::ZERO);
        let transfer = |from, to| {
            NativeTx::transfer(from, 0, to, U256::from(5), U256::from(21_000)).with_declared(None)
        };
        let set = |keys: &[Address]| {
            let writes = keys.iter().map(|a| StateKey::Account(*a));
            Admitted { access: Some(AccessSet::unbounded([], writes)), source: AccessSource::Known }
        };
        // Declaring nothing: the exclusive lane. Under an admitted set that
        // covers it: run. Under one that misses `to`: a violation, not kept.
        let batch = [
            (transfer(alice, carol), Admitted::declared(&transfer(alice, carol))),
            (transfer(alice, bob), set(&[alice, bob])),
            (transfer(carol, bob), set(&[carol])),
        ];
        assert_eq!(batch[0].1, Admitted::default());
        let results = bank.execute_batch(&NativeExecutor, &mut (), &batch).unwrap();
        assert_eq!(results[0], Executed::NeedsExclusive(None));
        assert!(matches!(results[1], Executed::Included { .. }));
        assert_eq!(results[2], Executed::NeedsExclusive(Some(StateKey::Account(bob))));
        let sealed = bank.seal().unwrap();
        assert_eq!(sealed.block.entries[0].txs[0].access, set(&[alice, bob]).access.unwrap());
        chain.commit(&sealed).unwrap();
        assert_eq!(chain.db().get_account(&bob).unwrap().unwrap().balance, U256::from(5));
        assert_eq!(chain.db().get_account(&carol).unwrap().unwrap().balance, funded.balance);
    }
}
