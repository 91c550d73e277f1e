//! Ordered blocks: blocks whose transactions come in a fixed order (an
//! Ethereum block), run in lanes to exactly the result of running them one
//! by one in that order ([`Bank::execute_ordered`]).
//!
//! One engine, Block-STM's shape ([`engine`](self::engine)): every run
//! publishes its writes as versions in a multi-version memory
//! ([`crate::mv::MvMemory`]); a run reads, per key, the newest version below
//! its own index and logs where each value came from; idle workers check
//! finished runs by value, and a stale one runs again as a new incarnation,
//! its old versions estimates that readers wait for; an index commits the
//! checked runs in order. Plain transfers' credits and debits, and the
//! coinbase's fees, are deltas folded where something reads the balance,
//! so payouts and deposits do not order the block. With one worker, or a
//! block too small to gain, the block runs in order on one thread
//! ([`sequential`](self::sequential)).
//!
//! Where each transaction's set comes from ([`OrderedSets`]) only seeds the
//! same engine:
//! - **run**: the versions start empty (but for the keys a transaction is
//!   known to write: estimates, [`plan`](self::plan)); each transaction's
//!   set is what its committed run read and wrote.
//! - **recorded**: the block's own sets: each run is held to its set, and a
//!   key a set writes starts as its transaction's estimate, so a later
//!   reader waits for it instead of reading a stale value.
//! - **versioned**: every transaction's writes declared ahead, value by
//!   value (a block access list): the versions start as the declared
//!   values, so nothing waits.
//!
//! Fees: in an ordered block a transaction that reads the coinbase sees the
//! fees of every transaction before it, as in Ethereum; the rest are
//! credited at the seal.
//!
//! The block records the transactions in order, cut into entries of
//! transactions whose final sets do not conflict, each with its set and where
//! the set came from; [`OrderedSets::Recorded`] replays it with those sets.

mod commit;
mod config;
mod engine;
mod finish;
mod plan;
mod ran;
mod report;
mod schedule;
mod sequential;
#[cfg(test)]
mod tests;
mod worker_model;

pub use config::{
    DEFAULT_ORDERED_MAX_KEYS, MIN_PARALLEL_GAS, MIN_TXS_PER_THREAD, OrderedConfig, OrderedError,
    OrderedSets, PARALLEL_GAS_PER_TRANSFER,
};
pub use report::{OrderedReport, Run, RunKind, TxReport, recorded_sets};
pub use worker_model::{ENGINE_COST, SERIAL_COST};

use std::time::Instant;

use crate::bank::Bank;
use crate::error::TxError;
use crate::executor::{Executor, Transaction};
use crate::key::StateKey;
use crate::mv::MvMemory;

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
        let start = Instant::now();
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
        self.reserve_for(txs.len());
        let coinbase = self.env().coinbase;
        // A block worth one worker runs in order: nothing to plan.
        let threads = match config.threads {
            0 | 1 => 1,
            threads => plan::threads_for_work(threads, txs, config.adaptive),
        };
        let (starts, estimates, threads) = match threads {
            1 => (Vec::new(), Vec::new(), 1),
            _ => {
                let (starts, estimates) = plan::plan(txs, coinbase, self.state());
                let threads = plan::threads_for(threads, &starts);
                (starts, estimates, threads)
            }
        };
        let planned = Instant::now();
        let mut commit = std::time::Duration::ZERO;
        let ((reports, done), ran) = match threads {
            1 => {
                let run = sequential::run(self, executor, txs, sets, config, &starts)?;
                (run, Instant::now())
            }
            _ => {
                let memory = MvMemory::new(txs.len(), coinbase);
                let placed = prefill(&memory, sets, &estimates, coinbase);
                let engine =
                    engine::Engine::new(self, executor, txs, config, &starts, sets, &memory);
                engine.place(placed);
                crate::threads::on_helpers(threads - 1, || engine.work());
                let ran = Instant::now();
                commit = engine.committer.lock().held;
                (finish::finish(engine, threads)?, ran)
            }
        };
        let finished = Instant::now();
        let limit = self.env().gas_limit;
        let mut used = 0u64;
        for (index, (_, _, outcome)) in done.iter().enumerate() {
            if used.saturating_add(outcome.gas_used) > limit {
                let error = TxError::BlockFull { used: outcome.gas_used, left: limit - used };
                return Err(OrderedError::Invalid { index, error });
            }
            used += outcome.gas_used;
        }
        report::record_in_order(self, txs, done);
        let elapsed = start.elapsed();
        let run = ran.duration_since(planned);
        Ok(OrderedReport {
            txs: reports,
            threads,
            elapsed,
            independent: matches!(sets, OrderedSets::Versioned(_)),
            run,
            serial: elapsed.saturating_sub(run),
            plan: planned.duration_since(start),
            finish: finished.duration_since(ran),
            commit,
            coinbase,
        })
    }
}

/// Seeds the versions: the keys a transaction is known (or recorded) to
/// write that a later one reads start as its estimates; a declaration's
/// values start as declared (but the coinbase's, whose fees the engine
/// keeps apart). Answers each cell placed, by transaction: its run, which
/// may not write there, clears what it does not.
fn prefill(
    memory: &MvMemory,
    sets: OrderedSets<'_>,
    estimates: &[(usize, StateKey)],
    coinbase: alloy_primitives::Address,
) -> Vec<(u32, StateKey)> {
    let mut placed = Vec::with_capacity(estimates.len());
    let mut place = |tx: u32, key: StateKey, value| {
        memory.prefill(tx, key.hash64(), &key, value);
        placed.push((tx, key));
    };
    match sets {
        OrderedSets::Run => {
            for (tx, key) in estimates {
                place(*tx as u32, *key, None);
            }
        }
        OrderedSets::Recorded(recorded) => {
            // Keys a later set holds, walking back from the end.
            let mut later: hashbrown::HashSet<StateKey, ahash::RandomState> = Default::default();
            for (tx, admitted) in recorded.iter().enumerate().rev() {
                let Some(set) = &admitted.access else { continue };
                for key in set.writes() {
                    if matches!(key, StateKey::AllStorage(_)) || !later.contains(key) {
                        continue;
                    }
                    place(tx as u32, *key, None);
                }
                later.extend(set.keys().iter().copied());
            }
            for (tx, key) in estimates {
                place(*tx as u32, *key, None);
            }
        }
        OrderedSets::Versioned(versions) => {
            versions.for_each(|key, index, value| {
                // Index 0 is the block's own writes before its
                // transactions: in the bank's state already.
                if index == 0 || key.address() == coinbase && matches!(key, StateKey::Account(_)) {
                    return;
                }
                let Ok(tx) = u32::try_from(index - 1) else { return };
                place(tx, key, Some(value));
            });
        }
    }
    placed
}
