//! The [`Bank`]: the state of the block being built, entry by entry.

use parking_lot::{Mutex, MutexGuard};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use alloy_primitives::{B256, Bytes, U256};
use lanes_accounts_db::{Entry, ReadView};

use crate::access::{AccessSet, AccessSource};
use crate::accesses::{BlockAccesses, TxAccesses};
use crate::admitted::Runnable;
use crate::ahead::AheadJob;
use crate::block::{Block, BlockEntry, BlockHeader, EntryTx, Roots, entries_root};
use crate::error::BankError;
use crate::error::TxError;
use crate::executor::{BlockEnv, Executor, Transaction};
use crate::key::StateKey;
use crate::lattice::LatticeHash;
use crate::locks::LaneKeys;
use crate::outcome::{Outcome, Receipt};
use crate::seal::{coalesce, diff};
use crate::view::{Access, BankState, StateView, Writes};
use crate::write_batch::{Keep, WriteBatch, alone_in_lanes};

pub use crate::bank_config::{
    BankConfig, BaseFee, DEFAULT_MAX_EXCLUSIVE_PER_BLOCK, StateCommitment,
};

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
    /// What each transaction read and wrote, in block order, where the
    /// bank recorded it ([`BankConfig::record_accesses`]).
    pub accesses: Option<BlockAccesses>,
}

/// What [`Bank::execute_batch`] and [`Bank::execute_exclusive`] did with one
/// transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Executed {
    /// In the block, using this much gas.
    Included {
        /// Gas (or the executor's unit of work) used.
        gas_used: u64,
    },
    /// Left out of the block, and why.
    Rejected(TxError),
    /// It declares nothing (`None`), or it touched this key outside its
    /// declared set and nothing it did was kept. Run it in the exclusive lane
    /// ([`Bank::execute_exclusive`]).
    NeedsExclusive(Option<StateKey>),
    /// Not kept: the block has no room for it (its exclusive lane is full,
    /// or its gas or other budget is spent: [`TxError::BlockFull`],
    /// [`TxError::BlockUnits`]). Try it in a later block.
    Deferred,
}

/// The block being built: a write cache over the committed state, receipts,
/// and the fees owed to the coinbase, which are paid at [`Bank::seal`] so fees
/// never make every transaction conflict on the coinbase account.
///
/// Workers share a bank (`&Bank`): each runs batches with
/// [`Bank::execute_batch`] while the caller guarantees, by holding the
/// batches' locks, that no two batches in flight conflict. A batch is recorded
/// as an entry when it finishes, before its locks can be released, so a later
/// conflicting batch is always recorded after it and replay sees the order
/// that execution saw.
#[derive(Debug)]
pub struct Bank {
    pub(crate) state: Arc<BankState>,
    /// The walk of the write cache that hashes ahead of the seal, where one
    /// was started ([`Bank::hash_ahead`]).
    pub(crate) ahead: Option<AheadJob>,
    env: BlockEnv,
    parent_hash: B256,
    parent_lattice: LatticeHash,
    config: BankConfig,
    record: Mutex<BlockRecord>,
    /// Gas of every kept run so far: a run is kept only while the sum stays
    /// within the block's gas limit.
    gas_taken: AtomicU64,
    /// What kept runs took of the executor's own per-block budget
    /// ([`Bank::take_units`]).
    units_taken: AtomicU64,
    /// A transaction's run time in this block so far, in nanoseconds (a
    /// moving mean; 0 before any): what decides whether an entry is worth
    /// more than one thread ([`Bank::entry_threads`]).
    pub(crate) tx_nanos: AtomicU64,
    /// With [`BankConfig::record_accesses`]: each kept run's writes (and
    /// reads), in the order they were kept; a later one of a transaction
    /// replaces an earlier. A list, not a map by hash: appends go to the
    /// next bytes, where inserts into a map of a block's runs missed the
    /// cache on every run, and an ordered block keeps its runs in block
    /// order, which the seal then walks.
    pub(crate) kept: Mutex<Vec<(B256, Writes)>>,
}

/// What the block records so far, in block order.
#[derive(Debug, Default)]
struct BlockRecord {
    system: Vec<Entry>,
    entries: Vec<BlockEntry>,
    tx_hashes: Vec<B256>,
    /// The hashes the block holds or runs now: each once per block.
    claimed: hashbrown::HashSet<B256, ahash::RandomState>,
    receipts: Vec<Receipt>,
    fees: U256,
    /// Fees already credited to the coinbase before the seal (an ordered
    /// block's, for a transaction that reads the coinbase).
    fees_paid: U256,
    /// The header's codec data, when the caller gives it ([`Bank::set_extra`]).
    extra: Option<Bytes>,
    /// Whether a transaction has been claimed: derived writes after it
    /// come after the block's transactions.
    ran: bool,
    /// With [`BankConfig::record_accesses`]: what was written before the
    /// transactions and after them, and the fees credited ahead of the
    /// seal (before which transaction).
    before: TxAccesses,
    after: TxAccesses,
    credits: Vec<(B256, U256)>,
    gas_used: u64,
    exclusive: usize,
}

impl BlockRecord {
    /// Appends `entry`, whose transactions ran with `outcomes` (in its order).
    fn push(&mut self, entry: BlockEntry, outcomes: impl IntoIterator<Item = (B256, Outcome)>) {
        for (tx_hash, outcome) in outcomes {
            self.gas_used = self.gas_used.saturating_add(outcome.gas_used);
            self.fees = self.fees.saturating_add(outcome.fee);
            self.tx_hashes.push(tx_hash);
            self.receipts.push(Receipt { tx_hash, cumulative_gas_used: self.gas_used, outcome });
        }
        if entry.exclusive {
            self.exclusive += 1;
        }
        if !entry.txs.is_empty() {
            self.entries.push(entry);
        }
    }
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
        let mut state = BankState::new(parent);
        state.record_accesses = config.record_accesses;
        Self {
            state: Arc::new(state),
            ahead: None,
            env,
            parent_hash,
            parent_lattice,
            config,
            record: Mutex::default(),
            gas_taken: AtomicU64::new(0),
            units_taken: AtomicU64::new(0),
            tx_nanos: AtomicU64::new(0),
            kept: Mutex::default(),
        }
    }

    /// Claims each of `hashes` for this block; `false` where the block holds
    /// or runs that hash already (or it appears earlier in `hashes`).
    pub(crate) fn claim(&self, hashes: impl ExactSizeIterator<Item = B256>) -> Vec<bool> {
        let mut record = self.record();
        record.ran = true;
        record.claimed.reserve(hashes.len());
        hashes.map(|h| record.claimed.insert(h)).collect()
    }

    /// Makes room for `txs` more transactions' kept writes and records
    /// (hashes, receipts), so a block of them grows no table or list one
    /// reallocation at a time.
    pub(crate) fn reserve_for(&self, txs: usize) {
        {
            let mut record = self.record();
            record.tx_hashes.reserve(txs);
            record.receipts.reserve(txs);
        }
        if self.config.record_accesses {
            self.kept.lock().reserve(txs);
        }
    }

    /// Applies the writes of transaction `hash`'s kept run, and with
    /// [`BankConfig::record_accesses`] keeps them as what it read and
    /// wrote (turned into its [`TxAccesses`] at the seal).
    pub(crate) fn keep(&self, hash: B256, writes: Writes) {
        self.state.apply(&writes);
        if self.config.record_accesses {
            self.kept.lock().push((hash, writes));
        }
    }

    /// [`Bank::keep`] for the kept runs of many transactions, given in
    /// block order: the last write of each key is applied, on up to
    /// `threads` threads, each taking the write cache's shards of its own.
    pub(crate) fn keep_all(&self, kept: Vec<(B256, Writes)>, threads: usize) {
        self.state.apply_all(kept.iter().map(|(_, w)| w), threads);
        if self.config.record_accesses {
            self.kept.lock().extend(kept);
        }
    }

    /// Gives back claims of transactions the block did not keep.
    pub(crate) fn unclaim(&self, hashes: impl IntoIterator<Item = B256>) {
        let mut record = self.record();
        for h in hashes {
            record.claimed.remove(&h);
        }
    }

    /// Counts `used` gas against the block's limit; refused when it does not fit.
    fn take_gas(&self, used: u64) -> Result<(), TxError> {
        let limit = self.env.gas_limit;
        self.gas_taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |taken| {
                taken.checked_add(used).filter(|sum| *sum <= limit)
            })
            .map(drop)
            .map_err(|taken| TxError::BlockFull { used, left: limit.saturating_sub(taken) })
    }

    /// Counts `units` against the block's budget besides gas
    /// ([`BankConfig::max_block_units`]); refused when they do not fit.
    fn take_units(&self, units: u64) -> Result<(), TxError> {
        let limit = self.config.max_block_units;
        self.units_taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |taken| {
                taken.checked_add(units).filter(|sum| *sum <= limit)
            })
            .map(drop)
            .map_err(|taken| TxError::BlockUnits { units, left: limit.saturating_sub(taken) })
    }

    /// How a refused run is reported: deferred when a later block could
    /// hold it.
    pub(crate) fn refused(&self, error: TxError) -> Executed {
        match error {
            TxError::BlockUnits { units, .. } if units <= self.config.max_block_units => {
                Executed::Deferred
            }
            TxError::BlockFull { used, .. } if used <= self.env.gas_limit => Executed::Deferred,
            e => Executed::Rejected(e),
        }
    }

    fn record(&self) -> MutexGuard<'_, BlockRecord> {
        self.record.lock()
    }

    /// The block's state: committed state plus what this bank wrote.
    pub(crate) fn state(&self) -> &BankState {
        &self.state
    }

    /// Credits `amount` of the block's fees to the coinbase now rather than
    /// at the seal (an ordered block's transaction that reads the coinbase
    /// sees the fees of every transaction before it, as in Ethereum).
    pub(crate) fn credit_coinbase(&self, amount: U256, before: B256) -> Result<(), BankError> {
        if amount.is_zero() {
            return Ok(());
        }
        let hash = StateKey::Account(self.env.coinbase).hash64();
        let mut coinbase = self
            .state
            .account(&self.env.coinbase, hash)
            .map_err(|e| BankError::State(e.to_string()))?;
        coinbase.balance =
            coinbase.balance.checked_add(amount).ok_or(BankError::BalanceOverflow)?;
        let accounts = vec![(hash, self.env.coinbase, coinbase)];
        self.state.apply(&Writes { accounts, ..Writes::default() });
        let mut record = self.record();
        record.fees_paid = record.fees_paid.saturating_add(amount);
        if self.config.record_accesses {
            record.credits.push((before, amount));
        }
        Ok(())
    }

    /// Notes that `amount` of the block's fees are in the coinbase's state
    /// ahead of the seal, without writing it: a transaction before which
    /// they were credited wrote the coinbase with them in (it read the
    /// coinbase as of its index, [`crate::OrderedSets::Versioned`]).
    pub(crate) fn note_credited(&self, amount: U256, before: B256) {
        let mut record = self.record();
        record.fees_paid = record.fees_paid.saturating_add(amount);
        if self.config.record_accesses && !amount.is_zero() {
            record.credits.push((before, amount));
        }
    }

    /// Writes what `view` (a [`Bank::recording_view`] of this bank) wrote,
    /// outside any transaction: state an imported block's own data
    /// determines (block rewards, withdrawals, the EVM's system calls), which
    /// the block does not record because whoever replays it derives it
    /// again. The caller guarantees no transaction runs meanwhile.
    pub fn apply_derived(&self, view: StateView<'_>) {
        let mut record = self.record();
        if self.config.record_accesses {
            let accesses = TxAccesses::of(&view.writes);
            match record.ran {
                false => record.before.extend(accesses),
                true => record.after.extend(accesses),
            }
        }
        self.state.apply(&view.writes);
    }

    /// The block environment.
    pub fn env(&self) -> &BlockEnv {
        &self.env
    }

    /// Writes `entries` into the block's state before any transaction runs,
    /// and records them as the block's system writes (a dev node's state
    /// controls). Refused on a chain without [`BankConfig::allow_system`]
    /// and once a transaction has run.
    pub fn apply_system(&self, entries: Vec<Entry>) -> Result<(), BankError> {
        if !self.config.allow_system {
            return Err(BankError::System("this chain does not allow them (not a dev chain)"));
        }
        let mut record = self.record();
        if !record.entries.is_empty() || !record.tx_hashes.is_empty() {
            return Err(BankError::System("they must come before the block's transactions"));
        }
        let mut writes = Writes::default();
        for entry in &entries {
            match entry {
                Entry::Account(address, header) => {
                    let hash = StateKey::Account(*address).hash64();
                    writes.accounts.push((hash, *address, *header));
                }
                Entry::Storage(address, slot, value) => {
                    let hash = StateKey::Storage(*address, *slot).hash64();
                    writes.slots.push((hash, *address, *slot, *value));
                }
                Entry::Code(hash, code) => writes.code.push((*hash, code.clone())),
            }
        }
        if self.config.record_accesses {
            record.before.extend(TxAccesses::of(&writes));
        }
        self.state.apply(&writes);
        record.system.extend(entries);
        Ok(())
    }

    /// Sets the codec data ([`BlockHeader::extra`]) of the block this bank
    /// seals, instead of what the codec computes: an imported block's own
    /// header, which its codec hashes.
    pub fn set_extra(&self, extra: Bytes) {
        self.record().extra = Some(extra);
    }

    /// Transactions included so far.
    pub fn tx_count(&self) -> usize {
        self.record().tx_hashes.len()
    }

    /// Gas used so far.
    pub fn gas_used(&self) -> u64 {
        self.record().gas_used
    }

    /// Transactions run in the exclusive lane so far.
    pub fn exclusive_count(&self) -> usize {
        self.record().exclusive
    }

    /// The receipts so far, in block order.
    pub fn receipts(&self) -> Vec<Receipt> {
        self.record().receipts.clone()
    }

    /// The entries so far.
    pub fn entries(&self) -> Vec<BlockEntry> {
        self.record().entries.clone()
    }

    /// Makes room for about `txs` more transactions declaring `accounts`
    /// account keys and `slots` storage keys in all ([`key_counts`]), so
    /// that the write cache does not grow while they run.
    pub fn reserve(&self, txs: usize, accounts: usize, slots: usize) {
        self.state.reserve(accounts, slots);
        let mut record = self.record();
        record.tx_hashes.reserve(txs);
        record.receipts.reserve(txs);
    }

    /// Starts hashing the block's changed keys into the lattice while its
    /// transactions run, on a thread of the process's own at the lowest
    /// priority, so that [`Bank::seal`] hashes only the keys written after
    /// that thread last saw them (`runtime/src/ahead.rs`). `threads` are those the
    /// block runs on: the walk starts only where they leave a core free
    /// (on a 2-core machine, beside a block on one thread; a block on both
    /// cores ran slower with it, its seal hashing less but its entries
    /// running slower). The result is the same without it. Nothing starts
    /// either over a state with a backing (a fork's upstream: its reads may
    /// wait on the network), or when a walk runs already.
    pub fn hash_ahead(&mut self, threads: usize) {
        let free_core = threads < crate::cores();
        if self.ahead.is_none() && free_core && !self.state.parent.has_backing() {
            self.ahead = AheadJob::start(self.state.clone());
        }
    }

    /// A worker for running batches on this bank from one thread.
    pub fn worker<'b, E: Executor>(&'b self, executor: &'b E) -> E::Worker<'b> {
        executor.worker(&self.env)
    }

    /// Runs `txs` in order on the calling thread, each limited to its declared
    /// set, and records those included as entries in lanes, as
    /// [`Bank::execute_block`] plans them: a transaction that conflicts with
    /// one lane of the current entry joins it, one that conflicts with none
    /// starts a lane, and one that conflicts with two lanes starts the next
    /// entry ([`BlockEntry::lanes`]). A batch of swaps at one pool is one
    /// lane, not an entry per swap, and still replays beside the rest.
    ///
    /// The caller guarantees that the batch's sets do not conflict with any
    /// batch running at the same time (the banking stage holds their locks in
    /// a [`ThreadLocks`](crate::ThreadLocks) table until this returns); the
    /// bank does not check that. A transaction that declares
    /// nothing comes back as [`Executed::NeedsExclusive`] without running.
    /// Each item is a [`Runnable`]: a transaction (run under its own
    /// declaration) or anything that carries one with the set it was
    /// admitted with (the banking stage passes the boxes its pool keeps
    /// them in).
    pub fn execute_batch<'b, E: Executor, R: Runnable<E::Tx>>(
        &'b self,
        executor: &E,
        worker: &mut E::Worker<'b>,
        txs: &[R],
    ) -> Result<Vec<Executed>, BankError> {
        let mut results = Vec::with_capacity(txs.len());
        let mut entries = Vec::new();
        let mut entry = BlockEntry::default();
        let mut outcomes = Vec::with_capacity(txs.len());
        // Three passes before anything runs. The first reads each
        // transaction's own data (`Transaction::warm`): a batch's transactions
        // were last touched on other cores, and their misses overlap here
        // instead of each stalling its run. The second brings the committed
        // state of every declared key (index slot and record) into the CPU
        // cache, and the words of the bank's written-key filter those reads
        // test first: in one short pass their cache misses overlap, where the
        // transactions' own reads, between other work, would each wait for
        // theirs (see `ReadView::prefetch`). The third finds where new entries
        // start, outside the run loop, whose work would evict the filter.
        for tx in txs {
            tx.tx().warm();
        }
        let fresh = self.claim(txs.iter().map(|r| r.tx().hash()));
        let mut unkept = Vec::new();
        // The sets were last touched on other cores: walked once.
        self.prefetch_sets(txs.iter().filter_map(Runnable::access));
        let mut keys = LaneKeys::default();
        // The same pass takes each transaction's bytes for the block record:
        // a clone counts a reference on a line nothing else touches, and
        // here the batch's misses on those overlap.
        let planned: Vec<(Option<u32>, (Bytes, AccessSource))> = txs
            .iter()
            .map(|r| {
                // `None`: the transaction starts the next entry, in lane 0.
                let lane = match r.access() {
                    Some(set) => keys.place(set).or_else(|| {
                        keys.clear();
                        keys.place(set);
                        None
                    }),
                    None => Some(0),
                };
                (lane, (r.tx().encoded().clone(), r.source()))
            })
            .collect();
        // The lanes of the entry's included transactions.
        let mut lanes = Vec::new();
        // A transaction alone in its lane holds its writes until its entry
        // is done; the next of a lane finds its predecessor's in the cache.
        let alone = alone_in_lanes(&planned.iter().map(|(lane, _)| *lane).collect::<Vec<_>>());
        let mut batch = WriteBatch::default();
        for (((r, (lane, (encoded, source))), fresh), alone) in
            txs.iter().zip(planned).zip(fresh).zip(alone)
        {
            let tx = r.tx();
            // Cut where planned, whether or not this one runs: the lanes
            // after it were planned in the next entry.
            if lane.is_none() {
                entry.lanes = crate::block::canonical_lanes(&lanes);
                lanes.clear();
                entries.push((std::mem::take(&mut entry), std::mem::take(&mut outcomes)));
                self.state.apply_batch(&mut batch);
            }
            if !fresh {
                results.push(Executed::Rejected(TxError::Duplicate(tx.hash())));
                continue;
            }
            let Some(set) = r.access() else {
                unkept.push(tx.hash());
                results.push(Executed::NeedsExclusive(None));
                continue;
            };
            let keep = if alone { Keep::Held } else { Keep::Now };
            let access = Access::Declared(set.clone());
            let (result, access) = self.run(executor, worker, tx, access, &mut batch, keep);
            let executed = match result {
                Ok(outcome) => {
                    let gas_used = outcome.gas_used;
                    let Access::Declared(access) = access else {
                        unreachable!("the view keeps the access it was given")
                    };
                    entry.txs.push(EntryTx { tx: encoded, access, source });
                    outcomes.push((tx.hash(), outcome));
                    lanes.push(lane.unwrap_or(0));
                    Executed::Included { gas_used }
                }
                Err(TxError::AccessViolation(key)) => Executed::NeedsExclusive(Some(key)),
                Err(TxError::State(e)) => return Err(BankError::State(e)),
                Err(e) => self.refused(e),
            };
            if !matches!(executed, Executed::Included { .. }) {
                unkept.push(tx.hash());
            }
            results.push(executed);
        }
        entry.lanes = crate::block::canonical_lanes(&lanes);
        entries.push((entry, outcomes));
        self.state.apply_batch(&mut batch);
        let mut record = self.record();
        for (entry, outcomes) in entries {
            record.push(entry, outcomes);
        }
        for hash in unkept {
            record.claimed.remove(&hash);
        }
        Ok(results)
    }

    /// Runs `tx` alone with every key readable and writable, and records it as
    /// an exclusive entry of one. The caller guarantees nothing else runs on
    /// this bank meanwhile (it is a barrier). Past
    /// [`BankConfig::max_exclusive_per_block`] it is [`Executed::Deferred`].
    pub fn execute_exclusive<E: Executor>(
        &self,
        executor: &E,
        tx: &E::Tx,
    ) -> Result<Executed, BankError> {
        if self.exclusive_count() >= self.config.max_exclusive_per_block {
            return Ok(Executed::Deferred);
        }
        if !self.claim([tx.hash()].into_iter())[0] {
            return Ok(Executed::Rejected(TxError::Duplicate(tx.hash())));
        }
        let result = self.run_one(executor, &mut self.worker(executor), tx, Access::Exclusive);
        if result.is_err() {
            self.unclaim([tx.hash()]);
        }
        match result {
            Ok(outcome) => {
                let gas_used = outcome.gas_used;
                let recorded = EntryTx {
                    tx: tx.encoded().clone(),
                    access: AccessSet::default(),
                    source: AccessSource::Undeclared,
                };
                let entry = BlockEntry { exclusive: true, txs: vec![recorded], lanes: Vec::new() };
                self.record().push(entry, [(tx.hash(), outcome)]);
                Ok(Executed::Included { gas_used })
            }
            Err(TxError::State(e)) => Err(BankError::State(e)),
            Err(e) => Ok(self.refused(e)),
        }
    }

    /// Brings the committed state of every stored key of `sets` (index slot
    /// and record), and the written-key filter's words, into the CPU cache in
    /// one pass, so the runs that follow find them there: their misses
    /// overlap here instead of each stalling its run.
    pub(crate) fn prefetch_sets<'s>(&self, sets: impl Iterator<Item = &'s AccessSet>) {
        let stored: Vec<_> = sets
            .flat_map(|set| {
                let keys = set.keys().iter().zip(set.hashes());
                keys.filter(|(key, _)| key.stored().is_some()).map(|(_, hash)| hash)
            })
            .collect();
        self.state.prefetch(&stored);
    }

    /// Appends an entry that ran with `outcomes` (replay).
    pub(crate) fn record_entry(
        &self,
        entry: BlockEntry,
        outcomes: impl IntoIterator<Item = (B256, Outcome)>,
    ) {
        self.record().push(entry, outcomes);
    }

    /// Runs `f` against this bank's state with every key readable and writable,
    /// noting each key touched ([`StateView::touched`]); nothing `f` writes is
    /// kept. For calls, gas estimates and access-list discovery.
    pub fn simulate<R>(&self, f: impl FnOnce(StateView<'_>, &BlockEnv) -> R) -> R {
        f(self.recording_view(), &self.env)
    }

    /// A view of this bank's state with every key readable and writable,
    /// noting each key touched; nothing written through it is kept. What
    /// [`Bank::simulate`] hands its closure, for a caller that runs several
    /// simulations with one engine.
    pub fn recording_view(&self) -> StateView<'_> {
        StateView::new(&self.state, Access::Record)
    }

    /// Takes a kept run's units and gas from the block's, refusing the run
    /// where either is spent.
    pub(crate) fn take_block_share<T: Transaction>(
        &self,
        tx: &T,
        outcome: &Outcome,
    ) -> Result<(), TxError> {
        let units = tx.block_units();
        if units > 0 {
            self.take_units(units)?;
        }
        if let Err(e) = self.take_gas(outcome.gas_used) {
            self.units_taken.fetch_sub(units, Ordering::AcqRel);
            return Err(e);
        }
        Ok(())
    }

    /// Pays the fees to the coinbase, computes the changes, the lattice hash
    /// and the roots, and returns the block. Neighbouring entries whose sets
    /// do not conflict are joined into one (the order of transactions is
    /// kept), so the block may record fewer, wider entries than ran. A block
    /// whose gas used exceeds its limit is refused ([`BankError::GasLimit`]).
    /// The changes and the lattice hash are computed on up to the machine's
    /// cores (8 at most); [`Bank::seal_on`] names the threads.
    pub fn seal(self) -> Result<SealedBlock, BankError> {
        self.seal_on(crate::seal::seal_threads())
    }

    /// [`Bank::seal`] on up to `threads` threads, the caller's among them
    /// (a block's own: [`Bank::execute_block`] and a replay seal on theirs),
    /// and one more where a walk hashed ahead ([`Bank::hash_ahead`], which
    /// starts only where the block's threads leave a core free).
    pub fn seal_on(self, threads: usize) -> Result<SealedBlock, BankError> {
        let Bank { state, ahead, env, parent_hash, parent_lattice, record, config, kept, .. } =
            self;
        let BlockRecord {
            system,
            entries,
            receipts,
            fees,
            fees_paid,
            gas_used,
            extra: given,
            before,
            after,
            credits,
            ..
        } = record.into_inner();
        if gas_used > env.gas_limit {
            return Err(BankError::GasLimit { used: gas_used, limit: env.gas_limit });
        }
        let fees = fees.saturating_sub(fees_paid);
        if !fees.is_zero() {
            let hash = StateKey::Account(env.coinbase).hash64();
            let mut coinbase =
                state.account(&env.coinbase, hash).map_err(|e| BankError::State(e.to_string()))?;
            coinbase.balance =
                coinbase.balance.checked_add(fees).ok_or(BankError::BalanceOverflow)?;
            let accounts = vec![(hash, env.coinbase, coinbase)];
            state.apply(&Writes { accounts, ..Writes::default() });
        }
        // The walker's core is free once it stops: the keys it left are
        // diffed there too.
        let threads = threads + usize::from(ahead.is_some());
        let (mut changes, delta) = diff(&state, threads, ahead.and_then(AheadJob::finish))?;
        let mut lattice = parent_lattice;
        lattice.add(&delta);
        let code = std::mem::take(&mut *state.code.write());
        changes.extend(code.into_iter().map(|(hash, bytes)| Entry::Code(hash, bytes)));
        let accesses = match config.record_accesses {
            true => {
                let at = |hash: &B256| receipts.iter().position(|r| r.tx_hash == *hash);
                let hashes: Vec<B256> = receipts.iter().map(|r| r.tx_hash).collect();
                let mut accesses = BlockAccesses {
                    before,
                    txs: TxAccesses::in_order(kept.into_inner(), &hashes),
                    after,
                    coinbase: env.coinbase,
                    credits: credits.iter().filter_map(|(h, a)| Some((at(h)?, *a))).collect(),
                    ..BlockAccesses::default()
                };
                accesses
                    .read_parent_values(&state.parent)
                    .map_err(|e| BankError::State(e.to_string()))?;
                Some(accesses)
            }
            false => None,
        };
        let entries = coalesce(entries);
        let txs: Vec<&[u8]> = entries.iter().flat_map(|e| &e.txs).map(|t| &t.tx[..]).collect();
        let Roots { transactions_root, receipts_root, extra } =
            config.headers.roots(env.parent.as_deref(), &txs, &receipts, accesses.as_ref());
        let state_commitment = match &config.commitment {
            None => lattice.commitment(),
            Some(c) => {
                c.commit(&state.parent, &changes).map_err(|e| BankError::State(e.to_string()))?
            }
        };
        let header = BlockHeader {
            number: env.number,
            parent_hash,
            timestamp: env.timestamp,
            coinbase: env.coinbase,
            base_fee: env.base_fee,
            gas_limit: env.gas_limit,
            gas_used,
            transactions_root,
            receipts_root,
            state_commitment,
            entries_root: entries_root(&system, &entries),
            extra: given.unwrap_or(extra),
        };
        let hash = config.headers.hash(&header);
        let block = Block { header, hash, system, entries };
        Ok(SealedBlock { block, receipts, changes, lattice, accesses })
    }
}

/// The account keys and the storage keys `sets` declare, for
/// [`Bank::reserve`].
pub fn key_counts<'a>(sets: impl IntoIterator<Item = &'a AccessSet>) -> (usize, usize) {
    let keys = sets.into_iter().flat_map(AccessSet::keys);
    keys.fold((0, 0), |(accounts, slots), key| match key {
        StateKey::Account(_) => (accounts + 1, slots),
        StateKey::Storage(..) => (accounts, slots + 1),
        StateKey::AllStorage(_) => (accounts, slots),
    })
}
