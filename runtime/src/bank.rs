//! The [`Bank`]: the state of the block being built, entry by entry.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use alloy_primitives::{B256, U256, keccak256};
use lanes_accounts_db::{AccountsRead, Entry, ReadView};

use crate::access::AccessSet;
use crate::block::{Block, BlockEntry, BlockHeader, EntryTx, merkle_root};
use crate::executor::{BlockEnv, Executor, Outcome, Receipt, Transaction, TxError};
use crate::key::StateKey;
use crate::lattice::LatticeHash;
use crate::locks::AccountLocks;
use crate::view::{Access, BankState, StateView, Value};

/// Default bound on exclusive-lane transactions per block.
pub const DEFAULT_MAX_EXCLUSIVE_PER_BLOCK: usize = 64;

/// Settings of a [`Bank`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BankConfig {
    /// Most transactions one block runs in the exclusive lane; more are
    /// handed back as deferred.
    pub max_exclusive_per_block: usize,
}

impl Default for BankConfig {
    fn default() -> Self {
        Self { max_exclusive_per_block: DEFAULT_MAX_EXCLUSIVE_PER_BLOCK }
    }
}

/// A failure of the bank itself (not of a transaction).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BankError {
    /// Two transactions given as one entry declare conflicting sets.
    #[error("transaction {tx} conflicts with an earlier one of its entry on {key:?}")]
    ConflictingEntry {
        /// The later transaction.
        tx: B256,
        /// The key in use.
        key: StateKey,
    },
    /// Committed state could not be read; this bank must be dropped.
    #[error("state read failed: {0}")]
    State(String),
    /// The fees overflow the coinbase balance.
    #[error("coinbase balance overflows")]
    BalanceOverflow,
}

/// What [`Bank::execute_entry`] did with the transactions it was given.
#[derive(Debug)]
pub struct EntryReport<T> {
    /// Hashes of the included transactions, in block order.
    pub included: Vec<B256>,
    /// How many of them ran in the exclusive lane.
    pub exclusive: usize,
    /// Left out of the block, and why.
    pub rejected: Vec<(B256, TxError)>,
    /// Not run: the block's exclusive lane is full. Try them in a later block.
    pub deferred: Vec<T>,
}

/// A sealed block, ready to commit.
#[derive(Debug)]
pub struct SealedBlock {
    /// The block.
    pub block: Block,
    /// Its receipts, in block order.
    pub receipts: Vec<Receipt>,
    /// Every key it changed, with its new value (deletions as empty values).
    pub changes: Vec<Entry>,
    /// The lattice hash of the state after it.
    pub lattice: LatticeHash,
}

/// The block being built: a write cache over the committed state, receipts,
/// and the fees owed to the coinbase, which are paid at [`Bank::seal`] so fees
/// never make every transaction conflict on the coinbase account.
#[derive(Debug)]
pub struct Bank {
    state: BankState,
    env: BlockEnv,
    parent_hash: B256,
    parent_lattice: LatticeHash,
    config: BankConfig,
    entries: Vec<BlockEntry>,
    tx_hashes: Vec<B256>,
    receipts: Vec<Receipt>,
    fees: U256,
    gas_used: u64,
    exclusive: usize,
}

/// `f(state, i)` for `i` in `0..n` on up to `threads` threads (the caller's
/// among them), each thread with its own `state` from `init`; results in order.
pub(crate) fn parallel_map<S, R: Send + Sync>(
    n: usize,
    threads: usize,
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, usize) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, n.max(1));
    if threads == 1 {
        let mut state = init();
        return (0..n).map(|i| f(&mut state, i)).collect();
    }
    const CHUNK: usize = 16;
    let next = AtomicUsize::new(0);
    let slots: Vec<OnceLock<R>> = (0..n).map(|_| OnceLock::new()).collect();
    let work = || {
        let mut state = init();
        loop {
            let start = next.fetch_add(CHUNK, Ordering::Relaxed);
            if start >= n {
                break;
            }
            for (i, slot) in slots.iter().enumerate().skip(start).take(CHUNK) {
                let _ = slot.set(f(&mut state, i));
            }
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(work);
        }
        work();
    });
    slots.into_iter().map(|slot| slot.into_inner().expect("every job ran")).collect()
}

/// Threads used to compute changes and the lattice hash at seal.
fn seal_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(8)
}

impl Bank {
    /// A bank for block `env.number` on top of `parent` (the committed state of
    /// the parent block, whose header hash is `parent_hash` and whose lattice
    /// hash is `parent_lattice`).
    pub fn new(
        parent: ReadView,
        parent_hash: B256,
        parent_lattice: LatticeHash,
        env: BlockEnv,
        config: BankConfig,
    ) -> Self {
        Self {
            state: BankState::new(parent),
            env,
            parent_hash,
            parent_lattice,
            config,
            entries: Vec::new(),
            tx_hashes: Vec::new(),
            receipts: Vec::new(),
            fees: U256::ZERO,
            gas_used: 0,
            exclusive: 0,
        }
    }

    /// The block environment.
    pub fn env(&self) -> &BlockEnv {
        &self.env
    }

    /// Transactions included so far.
    pub fn tx_count(&self) -> usize {
        self.tx_hashes.len()
    }

    /// Gas used so far.
    pub fn gas_used(&self) -> u64 {
        self.gas_used
    }

    /// Entries so far.
    pub fn entries(&self) -> &[BlockEntry] {
        &self.entries
    }

    /// Runs one entry: `txs` must declare non-conflicting sets. Those that
    /// declare a set run on up to `threads` threads; those that declare nothing
    /// or leave their set run afterwards in the exclusive lane, one at a time,
    /// each recorded as an entry of one.
    pub fn execute_entry<E: Executor>(
        &mut self,
        executor: &E,
        txs: Vec<E::Tx>,
        threads: usize,
    ) -> Result<EntryReport<E::Tx>, BankError> {
        let mut locks = AccountLocks::new();
        let mut declared = Vec::with_capacity(txs.len());
        let mut lane = Vec::new();
        for tx in txs {
            match tx.access_set() {
                Some(set) if !set.is_empty() => {
                    if let Err(conflict) = locks.try_lock(set) {
                        return Err(BankError::ConflictingEntry {
                            tx: tx.hash(),
                            key: conflict.key,
                        });
                    }
                    declared.push(tx);
                }
                _ => lane.push(tx),
            }
        }
        // Workers also copy each included transaction's record, so the serial
        // tail after the parallel part stays short.
        let results = parallel_map(
            declared.len(),
            threads,
            || executor.worker(&self.env),
            |worker, i| {
                let tx = &declared[i];
                let set = tx.access_set().expect("declared");
                let result = self.run_one(executor, worker, tx, Access::Declared(set));
                let record = result
                    .is_ok()
                    .then(|| EntryTx { tx: tx.encoded().to_vec().into(), access: set.clone() });
                (result, record)
            },
        );

        let mut report = EntryReport {
            included: Vec::new(),
            exclusive: 0,
            rejected: Vec::new(),
            deferred: Vec::new(),
        };
        let mut entry = BlockEntry::default();
        let mut retry = Vec::new();
        for (tx, (result, record)) in declared.into_iter().zip(results) {
            match result {
                Ok(outcome) => {
                    entry.txs.push(record.expect("made for every success"));
                    report.included.push(self.record(tx.hash(), outcome));
                }
                Err(TxError::AccessViolation(_)) => retry.push(tx),
                Err(TxError::State(e)) => return Err(BankError::State(e)),
                Err(e) => report.rejected.push((tx.hash(), e)),
            }
        }
        if !entry.txs.is_empty() {
            self.entries.push(entry);
        }
        for tx in retry.into_iter().chain(lane) {
            if self.exclusive >= self.config.max_exclusive_per_block {
                report.deferred.push(tx);
                continue;
            }
            // The lane is bounded and rare: a worker per transaction keeps the
            // bank free to record between them.
            let result =
                self.run_one(executor, &mut executor.worker(&self.env), &tx, Access::Exclusive);
            match result {
                Ok(outcome) => {
                    self.exclusive += 1;
                    report.exclusive += 1;
                    let recorded =
                        EntryTx { tx: tx.encoded().to_vec().into(), access: AccessSet::default() };
                    self.entries.push(BlockEntry { exclusive: true, txs: vec![recorded] });
                    report.included.push(self.record(tx.hash(), outcome));
                }
                Err(TxError::State(e)) => return Err(BankError::State(e)),
                Err(e) => report.rejected.push((tx.hash(), e)),
            }
        }
        Ok(report)
    }

    /// Adds a receipt; returns the transaction hash.
    pub(crate) fn record(&mut self, tx_hash: B256, outcome: Outcome) -> B256 {
        self.gas_used = self.gas_used.saturating_add(outcome.gas_used);
        self.fees = self.fees.saturating_add(outcome.fee);
        self.tx_hashes.push(tx_hash);
        self.receipts.push(Receipt { tx_hash, cumulative_gas_used: self.gas_used, outcome });
        tx_hash
    }

    /// Appends an entry as recorded (replay).
    pub(crate) fn push_entry(&mut self, entry: BlockEntry) {
        self.entries.push(entry);
    }

    /// Runs `f` against this bank's state with every key readable and writable,
    /// noting each key touched ([`StateView::touched`]); nothing `f` writes is
    /// kept. For calls, gas estimates and access-list discovery.
    pub fn simulate<R>(&self, f: impl FnOnce(StateView<'_>, &BlockEnv) -> R) -> R {
        f(StateView::new(&self.state, Access::Record), &self.env)
    }

    /// Runs one transaction; keeps its writes only on a clean finish.
    pub(crate) fn run_one<'b, E: Executor>(
        &'b self,
        executor: &E,
        worker: &mut E::Worker<'b>,
        tx: &E::Tx,
        access: Access<'b>,
    ) -> Result<Outcome, TxError> {
        let view = StateView::new(&self.state, access);
        let (result, view) = executor.execute(worker, tx, view);
        if let Some(key) = view.violation() {
            return Err(TxError::AccessViolation(key));
        }
        let outcome = result?;
        self.state.apply(view.writes, view.code);
        Ok(outcome)
    }

    /// Runs non-conflicting jobs on up to `threads` threads; results in job order.
    pub(crate) fn run_parallel<E: Executor>(
        &self,
        executor: &E,
        jobs: &[(&E::Tx, Access<'_>)],
        threads: usize,
    ) -> Vec<Result<Outcome, TxError>> {
        parallel_map(
            jobs.len(),
            threads,
            || executor.worker(&self.env),
            |worker, i| self.run_one(executor, worker, jobs[i].0, jobs[i].1),
        )
    }

    /// Pays the fees to the coinbase, computes the changes, the lattice hash
    /// and the roots, and returns the block.
    pub fn seal(self) -> Result<SealedBlock, BankError> {
        let Bank {
            state,
            env,
            parent_hash,
            parent_lattice,
            entries,
            tx_hashes,
            receipts,
            fees,
            gas_used,
            ..
        } = self;
        if !fees.is_zero() {
            let mut coinbase =
                state.account(&env.coinbase).map_err(|e| BankError::State(e.to_string()))?;
            coinbase.balance =
                coinbase.balance.checked_add(fees).ok_or(BankError::BalanceOverflow)?;
            let mut write = std::collections::HashMap::with_hasher(state.hasher.clone());
            write.insert(StateKey::Account(env.coinbase), Value::Account(coinbase));
            state.apply(write, Vec::new());
        }
        let (mut changes, delta) = diff(&state)?;
        let mut lattice = parent_lattice;
        lattice.add(&delta.0);
        lattice.sub(&delta.1);
        let code = state.code.into_inner().unwrap_or_else(|e| e.into_inner());
        changes.extend(code.into_iter().map(|(hash, bytes)| Entry::Code(hash, bytes)));
        let receipts_root = merkle_root(
            receipts
                .iter()
                .map(|r| keccak256(borsh::to_vec(r).expect("writing to a Vec cannot fail"))),
        );
        let header = BlockHeader {
            number: env.number,
            parent_hash,
            timestamp: env.timestamp,
            coinbase: env.coinbase,
            base_fee: env.base_fee,
            gas_limit: env.gas_limit,
            gas_used,
            transactions_root: merkle_root(tx_hashes),
            receipts_root,
            state_commitment: lattice.commitment(),
        };
        Ok(SealedBlock { block: Block { header, entries }, receipts, changes, lattice })
    }
}

/// The changed keys of `state` against its parent, and the lattice terms to
/// add (new values) and subtract (old values), computed on several threads.
fn diff(state: &BankState) -> Result<(Vec<Entry>, (LatticeHash, LatticeHash)), BankError> {
    let threads = seal_threads();
    let per = state.shards.len().div_ceil(threads);
    let parent = &state.parent;
    let results: Vec<Result<_, BankError>> = std::thread::scope(|s| {
        let handles: Vec<_> = state
            .shards
            .chunks(per)
            .map(|shards| {
                s.spawn(move || {
                    let mut changes = Vec::new();
                    let (mut add, mut sub) = (LatticeHash::identity(), LatticeHash::identity());
                    for shard in shards {
                        let shard = shard.read().unwrap_or_else(|e| e.into_inner());
                        for (key, value) in shard.iter() {
                            diff_one(parent, key, value, &mut changes, &mut add, &mut sub)?;
                        }
                    }
                    Ok((changes, add, sub))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("seal worker panicked")).collect()
    });
    let mut changes = Vec::new();
    let (mut add, mut sub) = (LatticeHash::identity(), LatticeHash::identity());
    for r in results {
        let (c, a, s) = r?;
        changes.extend(c);
        add.add(&a);
        sub.add(&s);
    }
    // A deterministic order, so the same block always commits the same bytes.
    changes.sort_unstable_by_key(|e| e.key());
    Ok((changes, (add, sub)))
}

fn diff_one(
    parent: &ReadView,
    key: &StateKey,
    value: &Value,
    changes: &mut Vec<Entry>,
    add: &mut LatticeHash,
    sub: &mut LatticeHash,
) -> Result<(), BankError> {
    let state_err = |e: lanes_accounts_db::StorageError| BankError::State(e.to_string());
    match (key, value) {
        (StateKey::Account(a), Value::Account(new)) => {
            let old = parent.get_account(a).map_err(state_err)?;
            let new_exists = !new.is_empty();
            if old.as_ref() == Some(new) || (old.is_none() && !new_exists) {
                return Ok(());
            }
            if let Some(old) = old {
                sub.add(&LatticeHash::of_account(a, &old));
            }
            if new_exists {
                add.add(&LatticeHash::of_account(a, new));
            }
            changes.push(Entry::Account(*a, *new));
        }
        (StateKey::Storage(a, s), Value::Storage(new)) => {
            let old = parent.get_storage(a, s).map_err(state_err)?;
            if old == *new {
                return Ok(());
            }
            if !old.is_zero() {
                sub.add(&LatticeHash::of_storage(a, s, &old));
            }
            if !new.is_zero() {
                add.add(&LatticeHash::of_storage(a, s, new));
            }
            changes.push(Entry::Storage(*a, *s, *new));
        }
        _ => {
            unreachable!("the cache holds accounts under Account keys and slots under Storage keys")
        }
    }
    Ok(())
}
