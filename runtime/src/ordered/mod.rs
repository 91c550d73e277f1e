//! Ordered blocks: blocks whose transactions come in a fixed order (an
//! Ethereum block), run in lanes to exactly the result of running them one by
//! one in that order ([`Bank::execute_ordered`]).
//!
//! Three ways to get each transaction's set ([`OrderedSets`]):
//! - **run** ([`optimistic`](self::optimistic)): workers run the transactions
//!   in order on the state as far as the block has come, logging what each
//!   read; at its turn a run stands if every value it read still holds,
//!   else the transaction runs again then. One run per transaction where
//!   the block allows it; its set is what the standing run touched.
//! - **recorded** ([`replay`](self::replay)): the block's own sets, locked
//!   as they were recorded; a transaction runs once every earlier one
//!   whose set conflicts with its own has finished ([`graph`](self::graph)).
//! - **versioned** ([`versioned`](self::versioned)): every transaction's
//!   writes declared ahead, value by value (a block access list): all run at
//!   once, their writes applied in order.
//!
//! Fees: in an ordered block a transaction that reads the coinbase sees the
//! fees of every transaction before it, as in Ethereum; the rest are
//! credited at the seal.
//!
//! The block records the transactions in order, cut into entries of
//! transactions whose final sets do not conflict, each with its set and where
//! the set came from; [`OrderedSets::Recorded`] replays it with those sets.

mod config;
mod graph;
mod optimistic;
mod parallel;
mod replay;
mod report;
mod simulate;
mod steps;
#[cfg(test)]
mod tests;
mod versioned;

pub use config::{DEFAULT_ORDERED_MAX_KEYS, MIN_TXS_PER_THREAD, OrderedConfig, OrderedError};
pub use report::{OrderedReport, Run, RunKind, TxReport, recorded_sets};

use crate::admitted::Admitted;
use crate::bank::Bank;
use crate::error::TxError;
use crate::executor::{Executor, Transaction};
use crate::versions::Versions;

/// Where the transactions of an ordered block get their sets.
#[derive(Clone, Copy)]
pub enum OrderedSets<'a> {
    /// From running them: each runs once on the state as far as the block
    /// has come, and stands if every value it read still holds at its turn
    /// (else it runs again then); its set is what that run read and wrote.
    Run,
    /// The sets the block recorded, one per transaction in order (a replay):
    /// nothing is predicted, a transaction with no set runs alone with every
    /// key, and one that leaves its set makes the block invalid.
    Recorded(&'a [Admitted]),
    /// Every transaction's writes declared ahead, value by value ([`Versions`]:
    /// an EVM block's access list): each reads what the earlier ones wrote
    /// from the declaration, so all run at once and none is predicted. The
    /// declaration's owner checks afterwards that what ran wrote and read
    /// what it declares.
    Versioned(&'a Versions),
}

impl std::fmt::Debug for OrderedSets<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Run => f.write_str("Run"),
            Self::Recorded(sets) => write!(f, "Recorded({} sets)", sets.len()),
            Self::Versioned(v) => write!(f, "Versioned({} keys)", v.len()),
        }
    }
}

impl Bank {
    /// Runs `txs`, an ordered block's transactions, to exactly the result of
    /// running them one by one in this order, on up to `config.threads`
    /// threads, and records them in this order (receipts, cumulative gas and
    /// entries). Sets come from `sets`. Nothing must have run on this bank
    /// but [`Bank::apply_derived`] writes.
    ///
    /// ```
    /// use lanes_runtime::{AccessSource, Admitted, Chain, Genesis, OrderedConfig, OrderedSets};
    /// use lanes_runtime::native::{NativeExecutor, NativeTx};
    /// use lanes_accounts_db::{AccountHeader, AccountsDbConfig, AccountsRead, Entry};
    /// use alloy_primitives::{Address, U256};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let (alice, bob) = (Address::repeat_byte(1), Address::repeat_byte(2));
    /// let funded = AccountHeader { balance: U256::from(100), ..Default::default() };
    /// let genesis = Genesis { alloc: vec![Entry::Account(alice, funded)], gas_limit: 1_000_000, ..Default::default() };
    /// let mut chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis)?;
    ///
    /// // Two transfers from alice that declare nothing: their sets found by
    /// // running them, in order.
    /// let send = |nonce| NativeTx::transfer(alice, nonce, bob, U256::from(30), U256::from(1)).with_declared(None);
    /// let bank = chain.new_bank(1, Address::ZERO);
    /// let report = bank.execute_ordered(&NativeExecutor, &[send(0), send(1)], OrderedSets::Run, &OrderedConfig::default())?;
    /// assert_eq!(report.txs.len(), 2);
    /// chain.commit(&bank.seal()?)?;
    /// assert_eq!(chain.db().get_account(&bob)?.unwrap().balance, U256::from(60));
    /// # Ok(())
    /// # }
    /// ```
    pub fn execute_ordered<E: Executor>(
        &self,
        executor: &E,
        txs: &[E::Tx],
        sets: OrderedSets<'_>,
        config: &OrderedConfig,
    ) -> Result<OrderedReport, OrderedError> {
        if let OrderedSets::Recorded(recorded) = sets
            && recorded.len() != txs.len()
        {
            return Err(OrderedError::SetCount { sets: recorded.len(), txs: txs.len() });
        }
        let fresh = self.claim(txs.iter().map(Transaction::hash));
        if let Some(index) = fresh.iter().position(|fresh| !fresh) {
            let error = TxError::Duplicate(txs[index].hash());
            return Err(OrderedError::Invalid { index, error });
        }
        self.reserve_kept(txs.len());
        match sets {
            OrderedSets::Run => optimistic::run(self, executor, txs, config),
            OrderedSets::Recorded(sets) => replay::run(self, executor, txs, sets, config),
            OrderedSets::Versioned(versions) => {
                versioned::run(self, executor, txs, versions, config)
            }
        }
    }
}
