//! One call per block: [`Bank::execute_block`] runs a list of transactions
//! on N threads (sets from their declarations or an [`Admission`], entries
//! planned, the exclusive lane, or the ordered executor for a block whose
//! order is fixed), seals the block, and says what became of each
//! transaction. [`crate::Chain::replay_block`] is its mirror.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use alloy_primitives::B256;

use crate::access::{AccessSet, AccessSource};
use crate::admission::{Admission, AdmitContext, DeclaredAccess};
use crate::admitted::Admitted;
use crate::bank::{Bank, EntryReport, Executed, SealedBlock, key_counts};
use crate::block::{BlockEntry, EntryTx};
use crate::error::{BankError, TxError};
use crate::executor::{Executor, Transaction};
use crate::key::StateKey;
use crate::locks::{LaneKeys, first_conflict};
use crate::ordered::{OrderedConfig, OrderedError, OrderedSets};
use crate::outcome::Outcome;
use crate::threads::{parallel_map, parallel_map_then};
use crate::view::{Access, StateView};
use crate::write_batch::{Keep, WriteBatch};

/// How the transactions given to [`Bank::execute_block`] are ordered in the
/// block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BlockOrder {
    /// lanes' own blocks: transactions run in the given order, cut into
    /// entries of neighbours, each entry on all threads. Within an entry a
    /// transaction whose set conflicts with those of one lane (a run on a
    /// hot key) joins that lane, running after them on one thread; one that
    /// conflicts with none starts a lane; one that conflicts with two lanes
    /// starts the next entry ([`BlockEntry::lanes`]). One without a set, or
    /// one that touches a key outside its set, runs alone in the exclusive
    /// lane right after its entry; an invalid one is left out of the block
    /// ([`TxStatus::Rejected`]).
    #[default]
    Entries,
    /// A fixed order (an Ethereum block): the result is exactly that of
    /// running the transactions one by one in the given order
    /// ([`Bank::execute_ordered`]); a transaction no set is known for is
    /// predicted by running it against the parent state, and one invalid
    /// transaction makes the whole block invalid ([`BlockError::Ordered`]).
    Fixed,
}

/// Settings of [`Bank::execute_block`].
#[derive(Clone, Copy)]
pub struct BlockOptions<'a, T> {
    /// Worker threads, the caller's among them.
    pub threads: usize,
    /// Where sets come from: by default each transaction's own declaration
    /// ([`DeclaredAccess`]).
    pub admission: &'a dyn Admission<T>,
    /// How the block orders its transactions.
    pub order: BlockOrder,
}

impl<T: Transaction> BlockOptions<'static, T> {
    /// `threads` threads, declared sets, [`BlockOrder::Entries`].
    pub fn new(threads: usize) -> Self {
        Self { threads, admission: &DeclaredAccess, order: BlockOrder::Entries }
    }
}

impl<'a, T> BlockOptions<'a, T> {
    /// The same options, with sets from `admission`.
    pub fn with_admission<'b>(self, admission: &'b dyn Admission<T>) -> BlockOptions<'b, T> {
        BlockOptions { threads: self.threads, admission, order: self.order }
    }

    /// The same options, ordered as `order` says.
    pub fn with_order(self, order: BlockOrder) -> Self {
        Self { order, ..self }
    }
}

impl<T> std::fmt::Debug for BlockOptions<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockOptions")
            .field("threads", &self.threads)
            .field("order", &self.order)
            .finish_non_exhaustive()
    }
}

/// What became of one transaction given to [`Bank::execute_block`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxStatus {
    /// In the block.
    Included {
        /// Its place in the block: its receipt is `sealed.receipts[index]`.
        index: usize,
        /// Whether it ran alone, in the exclusive lane.
        exclusive: bool,
    },
    /// Left out of the block, and why (the executor found it invalid, or
    /// its hash is in the block already).
    Rejected(TxError),
    /// Left out: the block has no room (its gas or its exclusive lane is
    /// spent). It fits a later block.
    Deferred,
}

/// One transaction's part in a block run by [`Bank::execute_block`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxRun {
    /// Its hash.
    pub hash: B256,
    /// What became of it.
    pub status: TxStatus,
    /// Where the set it was admitted with came from (in a fixed order: the
    /// set it is recorded with).
    pub source: AccessSource,
    /// The key it touched outside that set, if it did: it then ran again
    /// alone (the block records it as an exclusive entry, or, in a fixed
    /// order, under the set it touched).
    pub strayed: Option<StateKey>,
}

/// A block run by [`Bank::execute_block`]: sealed, ready to commit.
#[derive(Debug)]
pub struct BlockRun {
    /// The block, its receipts and its state changes
    /// ([`crate::Chain::commit`] takes it).
    pub sealed: SealedBlock,
    /// One per given transaction, in the given order.
    pub txs: Vec<TxRun>,
    /// How many entries ran. The seal joins neighbouring entries whose sets
    /// do not conflict, so the block may record fewer
    /// (`sealed.block.entries`): the width a replica runs.
    pub entries_run: usize,
}

impl BlockRun {
    /// The transactions in the block.
    pub fn included(&self) -> usize {
        self.txs.iter().filter(|t| matches!(t.status, TxStatus::Included { .. })).count()
    }
}

/// Why [`Bank::execute_block`] produced no block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlockError {
    /// The bank failed (state unreadable, gas over the limit).
    #[error(transparent)]
    Bank(#[from] BankError),
    /// A block of fixed order is invalid (one of its transactions is).
    #[error(transparent)]
    Ordered(#[from] OrderedError),
}

impl Bank {
    /// Runs one entry: `txs` must declare non-conflicting sets, which is
    /// checked. Those that declare a set run on up to `threads` threads and are
    /// recorded as one entry in the order given; those that declare nothing or
    /// leave their set run afterwards in the exclusive lane, one at a time,
    /// each recorded as an entry of one. [`Bank::execute_block`] runs a whole
    /// block, conflicts and all, from borrowed transactions.
    pub fn execute_entry<E: Executor>(
        &mut self,
        executor: &E,
        txs: Vec<E::Tx>,
        threads: usize,
    ) -> Result<EntryReport<E::Tx>, BankError> {
        let (accounts, slots) = key_counts(txs.iter().filter_map(|tx| tx.access_set()));
        self.reserve(txs.len(), accounts, slots);
        let (declared, lane): (Vec<_>, Vec<_>) =
            txs.into_iter().partition(|tx| tx.access_set().is_some_and(|set| !set.is_empty()));
        let sets: Vec<&AccessSet> =
            declared.iter().map(|tx| tx.access_set().expect("declared")).collect();
        if let Some((i, conflict)) = first_conflict(&sets) {
            return Err(BankError::ConflictingEntry { tx: declared[i].hash(), key: conflict.key });
        }
        let items: Vec<_> =
            declared.iter().zip(sets).map(|(tx, set)| (tx, set, AccessSource::Declared)).collect();
        let executed = self.run_entry(executor, &items, &[], threads)?;
        let mut report = EntryReport {
            included: Vec::new(),
            exclusive: 0,
            rejected: Vec::new(),
            deferred: Vec::new(),
        };
        let mut retry = Vec::new();
        for (tx, executed) in declared.into_iter().zip(executed) {
            match executed {
                Executed::Included { .. } => report.included.push(tx.hash()),
                Executed::Rejected(e) => report.rejected.push((tx.hash(), e)),
                Executed::Deferred => report.deferred.push(tx),
                Executed::NeedsExclusive(_) => retry.push(tx),
            }
        }
        for tx in retry.into_iter().chain(lane) {
            match self.execute_exclusive(executor, &tx)? {
                Executed::Included { .. } => {
                    report.exclusive += 1;
                    report.included.push(tx.hash());
                }
                Executed::Rejected(e) => report.rejected.push((tx.hash(), e)),
                Executed::Deferred => report.deferred.push(tx),
                Executed::NeedsExclusive(_) => unreachable!("the exclusive lane allows every key"),
            }
        }
        Ok(report)
    }

    /// Runs `txs` as this bank's block on `options.threads` threads and
    /// seals it: the one call an embedder needs per block.
    /// [`BlockOptions::order`] says how the block is ordered. In lanes' own
    /// order sets come from `options.admission` ([`Admission::admit`], else
    /// [`Admission::predict`], all against this bank's state before the
    /// block); in a fixed order, from running the transactions
    /// ([`OrderedSets::Run`]). The transactions are borrowed. Nothing must
    /// have run on this bank.
    ///
    /// The bank enforces what is the block's: each hash once per block
    /// ([`TxError::Duplicate`]), the block's gas limit (a run that would pass
    /// it is not kept: [`TxStatus::Deferred`]), and each transaction's set.
    /// What is the transaction's (nonce, fees, signature) is the executor's.
    ///
    /// ```
    /// use lanes_runtime::prelude::*;
    /// use lanes_runtime::native::{NativeExecutor, NativeTx};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let (alice, bob) = (Address::repeat_byte(1), Address::repeat_byte(2));
    /// let funded = AccountHeader { balance: U256::from(100), ..Default::default() };
    /// let genesis = Genesis { alloc: vec![Entry::Account(alice, funded)], ..Default::default() };
    /// let mut chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis)?;
    ///
    /// // Two transfers from alice: they conflict, so they run one after the other.
    /// let send = |nonce| NativeTx::transfer(alice, nonce, bob, U256::from(30), U256::from(1));
    /// let txs = [send(0), send(1), send(1)];
    /// let (timestamp, coinbase) = (1, Address::ZERO);
    /// let run = chain.new_bank(timestamp, coinbase).execute_block(&NativeExecutor, &txs, &BlockOptions::new(2))?;
    /// assert_eq!(run.included(), 2);
    /// assert_eq!(run.txs[2].status, TxStatus::Rejected(TxError::Duplicate(txs[2].hash())));
    /// chain.commit(&run.sealed)?;
    /// assert_eq!(chain.db().get_account(&bob)?.unwrap().balance, U256::from(60));
    /// # Ok(())
    /// # }
    /// ```
    pub fn execute_block<E: Executor>(
        self,
        executor: &E,
        txs: &[E::Tx],
        options: &BlockOptions<'_, E::Tx>,
    ) -> Result<BlockRun, BlockError> {
        let threads = options.threads.max(1);
        match options.order {
            BlockOrder::Fixed => {
                let config = OrderedConfig { threads, ..OrderedConfig::default() };
                let report = self.execute_ordered(executor, txs, OrderedSets::Run, &config)?;
                let runs = txs
                    .iter()
                    .zip(report.txs)
                    .enumerate()
                    .map(|(index, (tx, r))| TxRun {
                        hash: tx.hash(),
                        status: TxStatus::Included { index, exclusive: r.access.is_none() },
                        source: r.source,
                        strayed: None,
                    })
                    .collect();
                let sealed = self.seal_on(threads)?;
                let entries_run = sealed.block.entries.len();
                Ok(BlockRun { sealed, txs: runs, entries_run })
            }
            BlockOrder::Entries => self.execute_entries(executor, txs, options.admission, threads),
        }
    }

    /// [`BlockOrder::Entries`].
    fn execute_entries<E: Executor>(
        mut self,
        executor: &E,
        txs: &[E::Tx],
        admission: &dyn Admission<E::Tx>,
        threads: usize,
    ) -> Result<BlockRun, BlockError> {
        let mut runs: Vec<TxRun> = txs
            .iter()
            .map(|tx| TxRun {
                hash: tx.hash(),
                status: TxStatus::Deferred,
                source: AccessSource::Undeclared,
                strayed: None,
            })
            .collect();
        let sets = self.admit_all(admission, txs, threads, &mut runs)?;
        if txs.len() >= HASH_AHEAD_MIN_TXS {
            self.hash_ahead(threads);
        }
        let mut entries_run = 0;
        // The entry being planned: positions in `txs`, and each one's lane.
        let mut entry: (Vec<usize>, Vec<u32>) = (Vec::new(), Vec::new());
        let mut keys = LaneKeys::default();
        for (i, set) in sets.iter().enumerate() {
            if matches!(runs[i].status, TxStatus::Rejected(_)) {
                continue;
            }
            match set.access.as_ref().filter(|s| !s.is_empty()) {
                Some(access) => {
                    let lane = match keys.place(access) {
                        Some(lane) => lane,
                        None => {
                            entries_run +=
                                self.run_planned(executor, txs, &sets, &entry, threads, &mut runs)?;
                            entry.0.clear();
                            entry.1.clear();
                            keys.clear();
                            keys.place(access).expect("an empty entry takes any set")
                        }
                    };
                    entry.0.push(i);
                    entry.1.push(lane);
                }
                None => {
                    entries_run +=
                        self.run_planned(executor, txs, &sets, &entry, threads, &mut runs)?;
                    keys.clear();
                    entry.0.clear();
                    entry.1.clear();
                    entries_run += 1;
                    runs[i].status = self.exclusive(executor, &txs[i])?;
                }
            }
        }
        entries_run += self.run_planned(executor, txs, &sets, &entry, threads, &mut runs)?;
        let sealed = self.seal_on(threads)?;
        let index: ahash::HashMap<B256, usize> =
            sealed.receipts.iter().enumerate().map(|(i, r)| (r.tx_hash, i)).collect();
        for run in &mut runs {
            if let TxStatus::Included { index: at, .. } = &mut run.status {
                *at = index[&run.hash];
            }
        }
        Ok(BlockRun { sealed, txs: runs, entries_run })
    }

    /// Each transaction's set: [`Admission::admit`], else
    /// [`Admission::predict`] (on `threads` threads). A refused one is
    /// marked rejected.
    fn admit_all<T: Transaction>(
        &self,
        admission: &dyn Admission<T>,
        txs: &[T],
        threads: usize,
        runs: &mut [TxRun],
    ) -> Result<Vec<Admitted>, BankError> {
        let mut sets = vec![Admitted::default(); txs.len()];
        let mut unplaced = Vec::new();
        for (i, tx) in txs.iter().enumerate() {
            match admission.admit(tx, AdmitContext::new(self)) {
                Ok(Some(admitted)) => sets[i] = admitted,
                Ok(None) => unplaced.push(i),
                Err(TxError::State(e)) => return Err(BankError::State(e)),
                Err(e) => runs[i].status = TxStatus::Rejected(e),
            }
        }
        let chunk = unplaced.len().div_ceil(threads).max(1);
        let chunks: Vec<&[usize]> = unplaced.chunks(chunk).collect();
        let predicted = parallel_map(
            chunks.len(),
            threads,
            || (),
            |_, c| {
                let batch: Vec<&T> = chunks[c].iter().map(|&i| &txs[i]).collect();
                admission.predict_many(&batch, AdmitContext::new(self))
            },
        );
        for (i, admitted) in unplaced.into_iter().zip(predicted.into_iter().flatten()) {
            sets[i] = admitted;
        }
        for (run, set) in runs.iter_mut().zip(&sets) {
            run.source = set.source;
        }
        Ok(sets)
    }

    /// Runs the planned entry `entry` (indexes into `txs` whose sets do not
    /// conflict) on `threads` threads and records it, then those that left
    /// their sets in the exclusive lane. Returns the entries it ran.
    fn run_planned<E: Executor>(
        &self,
        executor: &E,
        txs: &[E::Tx],
        sets: &[Admitted],
        (entry, lanes): &(Vec<usize>, Vec<u32>),
        threads: usize,
        runs: &mut [TxRun],
    ) -> Result<usize, BankError> {
        if entry.is_empty() {
            return Ok(0);
        }
        let items: Vec<(&E::Tx, &AccessSet, AccessSource)> = entry
            .iter()
            .map(|&i| {
                (&txs[i], sets[i].access.as_ref().expect("planned with a set"), sets[i].source)
            })
            .collect();
        let executed = self.run_entry(executor, &items, lanes, threads)?;
        let mut entries = 1;
        for (&i, executed) in entry.iter().zip(executed) {
            runs[i].status = match executed {
                Executed::Included { .. } => TxStatus::Included { index: 0, exclusive: false },
                Executed::Rejected(e) => TxStatus::Rejected(e),
                Executed::Deferred => TxStatus::Deferred,
                Executed::NeedsExclusive(key) => {
                    runs[i].strayed = key;
                    entries += 1;
                    self.exclusive(executor, &txs[i])?
                }
            };
        }
        Ok(entries)
    }

    /// Runs `tx` in the exclusive lane.
    fn exclusive<E: Executor>(&self, executor: &E, tx: &E::Tx) -> Result<TxStatus, BankError> {
        Ok(match self.execute_exclusive(executor, tx)? {
            Executed::Included { .. } => TxStatus::Included { index: 0, exclusive: true },
            Executed::Rejected(e) => TxStatus::Rejected(e),
            Executed::Deferred | Executed::NeedsExclusive(_) => TxStatus::Deferred,
        })
    }

    /// Runs `items` in `lanes` (each item's lane, as [`BlockEntry::lanes`];
    /// empty: each item a lane of its own), whose sets do not conflict across
    /// lanes (the caller checked), on up to `threads` threads, and records
    /// those kept as one entry in the order given. A hash the block holds
    /// already is refused without running.
    pub(crate) fn run_entry<E: Executor>(
        &self,
        executor: &E,
        items: &[(&E::Tx, &AccessSet, AccessSource)],
        lanes: &[u32],
        threads: usize,
    ) -> Result<Vec<Executed>, BankError> {
        let fresh = self.claim(items.iter().map(|(tx, ..)| tx.hash()));
        // The entry's committed state in one pass, as a batch of the stage
        // and a replayed entry bring theirs: the runs' misses overlap here.
        self.prefetch_sets(items.iter().map(|&(_, set, _)| set));
        // A kept run's record is made on the thread that ran it, from the
        // set the run hands back: the set and the bytes are counted once,
        // on a line that thread holds, instead of again here.
        let results = self.timed_lanes(lanes, items.len(), threads, executor, |w, i, keep| {
            let (tx, set, source) = items[i];
            if !fresh[i] {
                return Err(TxError::Duplicate(tx.hash()));
            }
            let access = Access::Declared(set.clone());
            let (result, access) =
                self.run(executor, &mut w.worker, tx, access, &mut w.batch, keep);
            result.map(|outcome| {
                let Access::Declared(access) = access else {
                    unreachable!("the view keeps the access it was given")
                };
                (outcome, EntryTx { tx: tx.encoded().clone(), access, source })
            })
        });
        let mut entry = BlockEntry { txs: Vec::with_capacity(items.len()), ..Default::default() };
        let mut kept_lanes = Vec::new();
        let mut outcomes = Vec::with_capacity(items.len());
        let mut unkept = Vec::new();
        let mut executed = Vec::with_capacity(items.len());
        for (i, ((&(tx, ..), result), fresh)) in items.iter().zip(results).zip(fresh).enumerate() {
            executed.push(match result {
                Ok((outcome, recorded)) => {
                    let gas_used = outcome.gas_used;
                    if let Some(&lane) = lanes.get(i) {
                        kept_lanes.push(lane);
                    }
                    entry.txs.push(recorded);
                    outcomes.push((tx.hash(), outcome));
                    Executed::Included { gas_used }
                }
                Err(e) => {
                    if fresh {
                        unkept.push(tx.hash());
                    }
                    match e {
                        TxError::AccessViolation(key) => Executed::NeedsExclusive(Some(key)),
                        TxError::State(e) => return Err(BankError::State(e)),
                        e => self.refused(e),
                    }
                }
            });
        }
        entry.lanes = crate::block::canonical_lanes(&kept_lanes);
        self.record_entry(entry, outcomes);
        self.unclaim(unkept);
        Ok(executed)
    }
}

impl Bank {
    /// Runs one transaction; keeps its writes only on a clean finish.
    pub(crate) fn run_one<'b, E: Executor>(
        &'b self,
        executor: &E,
        worker: &mut E::Worker<'b>,
        tx: &E::Tx,
        access: Access,
    ) -> Result<Outcome, TxError> {
        self.run(executor, worker, tx, access, &mut WriteBatch::default(), Keep::Now).0
    }

    /// [`Bank::run_one`] with a worker's `batch`: the run writes into the
    /// buffer the batch lends, and its kept writes reach the write cache as
    /// `keep` says. Hands back the access it ran with, so a caller records
    /// the set without another clone.
    pub(crate) fn run<'b, E: Executor>(
        &'b self,
        executor: &E,
        worker: &mut E::Worker<'b>,
        tx: &E::Tx,
        access: Access,
        batch: &mut WriteBatch,
        keep: Keep,
    ) -> (Result<Outcome, TxError>, Access) {
        let view = StateView::new(&self.state, access).with_writes(batch.lend());
        let (result, view) = executor.execute(worker, tx, view);
        let refused = match (&result, view.violation()) {
            (_, Some(key)) => Some(Err(TxError::AccessViolation(key))),
            (Err(_), None) => None,
            (Ok(outcome), None) => self.take_block_share(tx, outcome).err().map(Err),
        };
        if let Some(refused) = refused {
            batch.give_back(view.writes);
            return (refused, view.access);
        }
        match (&result, keep) {
            (Err(_), _) => batch.give_back(view.writes),
            // Recorded runs are kept whole, their buffer with them.
            (Ok(_), _) if self.state.record_accesses => self.keep(tx.hash(), view.writes),
            (Ok(_), Keep::Held) => batch.hold(view.writes),
            (Ok(_), Keep::Now) => {
                self.state.apply(&view.writes);
                batch.give_back(view.writes);
            }
        }
        (result, view.access)
    }
}

/// Transactions from which [`Bank::execute_block`] and a replay hash the
/// block's keys ahead of the seal ([`Bank::hash_ahead`]). Below it the
/// seal's own hashing is some tens of microseconds (0.76 µs per changed
/// key), and a walk costs a wake-up of the walker and a wait for its last
/// chunk (up to 64 keys) at the seal: a bound chosen, not measured, so a
/// dev node's one-transaction blocks never wait on the walker.
pub const HASH_AHEAD_MIN_TXS: usize = 64;

/// Least work (transactions × the block's mean run time so far) an entry
/// must hold to run on more than one thread: below it, waking a helper and
/// waiting for it costs more than the helper saves (measured by the
/// `execute_block` group of `cargo bench --bench runtime`).
pub const MIN_PARALLEL_WORK: Duration = Duration::from_micros(40);

impl Bank {
    /// Runs jobs in `lanes` ([`BlockEntry::lanes`]; jobs of different lanes
    /// do not conflict) on up to `threads` threads ([`Self::entry_threads`]);
    /// results in job order.
    pub(crate) fn run_parallel<E: Executor>(
        &self,
        executor: &E,
        jobs: &[(&E::Tx, Access)],
        lanes: &[u32],
        threads: usize,
    ) -> Vec<Result<Outcome, TxError>> {
        self.timed_lanes(lanes, jobs.len(), threads, executor, |w, i, keep| {
            let (tx, access) = &jobs[i];
            self.run(executor, &mut w.worker, tx, access.clone(), &mut w.batch, keep).0
        })
    }

    /// `f` over `0..n` in `lanes` (each item's lane; empty: each item its
    /// own): the items of a lane one after another on one thread, in order,
    /// lanes on up to `threads` threads ([`Self::timed_map`]), the longest
    /// first so a hot key's lane does not start last. `f` is told how to
    /// keep an item's writes: held by its thread where the item is alone in
    /// its lane (nothing else in the entry reads its keys), at once where
    /// the lane's next item reads them. Results in item order.
    pub(crate) fn timed_lanes<'b, E: Executor, R: Send + Sync>(
        &'b self,
        lanes: &[u32],
        n: usize,
        threads: usize,
        executor: &'b E,
        f: impl Fn(&mut EntryWorker<'b, E>, usize, Keep) -> R + Sync,
    ) -> Vec<R> {
        let keep = |lane_len: usize| if lane_len == 1 { Keep::Held } else { Keep::Now };
        if lanes.is_empty() {
            return self.timed_map(n, n, threads, executor, |w, i| f(w, i, Keep::Held));
        }
        let (order, starts) = crate::block::lane_order(lanes);
        let lane_len = |l: usize| starts[l + 1] - starts[l];
        // On one thread the given order runs each lane in its order.
        if self.entry_threads(n, threads) == 1 {
            return self.timed_map(n, n, threads, executor, |w, i| {
                f(w, i, keep(lane_len(lanes[i] as usize)))
            });
        }
        let count = starts.len() - 1;
        let mut by_length: Vec<usize> = (0..count).collect();
        by_length.sort_by_key(|&l| std::cmp::Reverse(lane_len(l)));
        let ran = self.timed_map(count, n, threads, executor, |w, k| {
            let l = by_length[k];
            match &order[starts[l]..starts[l + 1]] {
                &[i] => Ran::One(f(w, i, Keep::Held)),
                lane => Ran::Many(lane.iter().map(|&i| f(w, i, Keep::Now)).collect()),
            }
        });
        let mut out: Vec<Option<R>> = (0..n).map(|_| None).collect();
        for (&l, ran) in by_length.iter().zip(ran) {
            let lane = &order[starts[l]..starts[l + 1]];
            match ran {
                Ran::One(result) => out[lane[0]] = Some(result),
                Ran::Many(results) => {
                    for (&i, result) in lane.iter().zip(results) {
                        out[i] = Some(result);
                    }
                }
            }
        }
        out.into_iter().map(|r| r.expect("every item is in a lane")).collect()
    }

    /// How many of `threads` an entry of `n` transactions is worth: one where
    /// its work, at this block's mean run time so far, is less than what
    /// handing work to another thread and back costs ([`MIN_PARALLEL_WORK`]).
    /// An entry of two cheap transactions then runs on the caller's thread,
    /// and one of two expensive ones still on two.
    pub(crate) fn entry_threads(&self, n: usize, threads: usize) -> usize {
        let mean = self.tx_nanos.load(Ordering::Relaxed);
        let work = mean.saturating_mul(n as u64);
        match threads > 1 && mean > 0 && work < MIN_PARALLEL_WORK.as_nanos() as u64 {
            true => 1,
            false => threads,
        }
    }

    /// `f` over `0..n` jobs holding `txs` transactions in all, on
    /// [`Self::entry_threads`] threads, their run time folded into the
    /// block's mean per transaction: each thread's time from its first job
    /// to finding no more (two clock reads a thread, not two a job). Each
    /// thread then applies the writes it held.
    pub(crate) fn timed_map<'b, E: Executor, R: Send + Sync>(
        &'b self,
        n: usize,
        txs: usize,
        threads: usize,
        executor: &'b E,
        f: impl Fn(&mut EntryWorker<'b, E>, usize) -> R + Sync,
    ) -> Vec<R> {
        let busy = AtomicU64::new(0);
        let results = parallel_map_then(
            n,
            self.entry_threads(txs, threads),
            || EntryWorker {
                worker: executor.worker(self.env()),
                batch: WriteBatch::default(),
                started: Instant::now(),
            },
            f,
            |mut worker| {
                let nanos = u64::try_from(worker.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                busy.fetch_add(nanos, Ordering::Relaxed);
                self.state.apply_batch(&mut worker.batch);
            },
        );
        if let Some(sample) = busy.into_inner().checked_div(txs as u64) {
            let sample = sample.max(1);
            let mean = self.tx_nanos.load(Ordering::Relaxed);
            let next = if mean == 0 { sample } else { (mean / 4 * 3).saturating_add(sample / 4) };
            self.tx_nanos.store(next.max(1), Ordering::Relaxed);
        }
        results
    }
}

/// A thread's part in an entry ([`Bank::timed_map`]): the executor's
/// worker, and the writes of its runs it holds ([`Keep::Held`]).
pub(crate) struct EntryWorker<'b, E: Executor + 'b> {
    pub(crate) worker: E::Worker<'b>,
    pub(crate) batch: WriteBatch,
    /// When the thread took its part.
    started: Instant,
}

/// What a lane's run gave: one result without a list of its own (most
/// lanes hold one transaction), or a list.
enum Ran<R> {
    One(R),
    Many(Vec<R>),
}
