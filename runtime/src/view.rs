//! [`StateView`]: a transaction's window on the bank, limited to its access set.

use crossbeam_utils::CachePadded;
use parking_lot::{RwLock, RwLockWriteGuard};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use alloy_primitives::{Address, B256, Bytes, U256};
use lanes_accounts_db::{AccountHeader, AccountsRead, KeyHash, ReadView};

use crate::access::{AccessSet, AccessSetTooLarge};
use crate::error::TxError;
use crate::key::StateKey;
use crate::mv::{MvMemory, Origin};
use crate::table::Table;

/// A value in the bank's write cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    /// An account header; the empty header means "no account".
    Account(AccountHeader),
    /// A storage value; zero means "unset".
    Storage(U256),
}

/// The state of the block being built: committed state plus a sharded write
/// cache. Transactions of one entry hold disjoint write sets, so they rarely
/// meet on a shard. A shard keeps accounts and slots in a [`Table`] each:
/// inserts append to a dense vector under a small table of indices, instead
/// of writing entries at random places of a large table, which missed the
/// cache on every write, and the seal walks dense vectors.
///
/// Keys come hashed ([`StateKey::hash64`], mostly from the transaction's
/// access set): the hash picks the key's shard ([`KeyHash::cache_shard`]),
/// its place in the shard's table ([`KeyHash::table_hash`]), its bit in `written`
/// ([`KeyHash::filter_bit`]), a filter of the keys this bank has written,
/// and its place in the parent's index. Most reads are of keys no earlier
/// transaction of the block wrote; a clear bit sends them to the parent
/// without taking a shard's lock.
#[derive(Debug)]
pub(crate) struct BankState {
    pub(crate) parent: ReadView,
    /// Each on cache lines of its own: a shard's lock and table header
    /// shared a line with its neighbour's, so one worker's reads of a shard
    /// missed the cache whenever another committed into the next one.
    pub(crate) shards: Box<[CachePadded<RwLock<Shard>>]>,
    written: Box<[AtomicU64]>,
    pub(crate) code: RwLock<HashMap<B256, Bytes, ahash::RandomState>>,
    /// Whether views keep the reads executors note ([`StateView::note_read`]).
    pub(crate) record_accesses: bool,
}

/// The slots each account held in a block's parent state
/// ([`StateView::parent_slots`]), while that state is the database's
/// newest; once a later commit lands it answers that nothing is held. A
/// run's own reads of those slots go through its view.
#[derive(Clone, Debug)]
pub struct ParentSlots(ReadView);

impl ParentSlots {
    /// Whether `address` held any slot.
    pub fn holds(&self, address: &Address) -> bool {
        self.0.holds_storage(address).unwrap_or(false)
    }

    /// Every slot `address` held, in no particular order.
    pub fn slots(&self, address: &Address) -> Vec<B256> {
        self.0.slots_of(address).unwrap_or_default()
    }
}

/// One shard of the write cache. Accounts and slots have a table each, so an
/// entry holds its own kind of key and value only, smaller than one map of
/// `StateKey` to either: appends go to memory not yet in cache, so fewer
/// bytes cost less. Entries are filed under their keys' `hash64` in a
/// [`Table`].
#[derive(Debug, Default)]
pub(crate) struct Shard {
    pub(crate) accounts: Table<Address, AccountHeader>,
    pub(crate) slots: Table<(Address, B256), U256>,
}

impl Shard {
    fn get(&self, key: &Hashed) -> Option<Value> {
        match key.key {
            StateKey::Account(a) => self.accounts.get(key.hash, &a).map(|h| Value::Account(*h)),
            StateKey::Storage(a, s) => {
                self.slots.get(key.hash, &(a, s)).map(|v| Value::Storage(*v))
            }
            StateKey::AllStorage(_) => None,
        }
    }

    fn reserve(&mut self, accounts: usize, slots: usize) {
        self.accounts.reserve(accounts);
        self.slots.reserve(slots);
    }

    /// How many keys it caches.
    pub(crate) fn len(&self) -> usize {
        self.accounts.len() + self.slots.len()
    }
}

/// Shards per bank: twice the cores, at most [`KeyHash::MAX_CACHE_SHARDS`].
/// Enough that two workers rarely wait on one shard, few enough that each
/// shard's lock, table header and append position stay in cache between a
/// worker's writes (more shards made one worker's writes slower).
fn shard_count() -> usize {
    let cores = crate::cores();
    (2 * cores).next_power_of_two().min(KeyHash::MAX_CACHE_SHARDS)
}

/// Bits of the written-key filter (128 KiB): once a block has written a
/// sizeable fraction of this many keys, more reads of unwritten keys find
/// their bit set and probe a shard.
const FILTER_BITS: usize = KeyHash::MAX_FILTER_BITS;

/// A key and its hash ([`StateKey::hash64`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hashed {
    pub(crate) hash: KeyHash,
    pub(crate) key: StateKey,
}

impl BankState {
    pub(crate) fn new(parent: ReadView) -> Self {
        Self {
            parent,
            shards: (0..shard_count()).map(|_| CachePadded::new(RwLock::default())).collect(),
            written: (0..FILTER_BITS / 64).map(|_| AtomicU64::new(0)).collect(),
            code: RwLock::default(),
            record_accesses: false,
        }
    }

    /// Makes room for about `accounts` more cached account keys and `slots`
    /// more slot keys, so a large entry does not rebuild the shards' tables
    /// while its transactions write. Each table gets room for its own kind
    /// only: room for all keys in both made the tables twice the size they
    /// need, and their probes missed the cache more. For the same reason each
    /// shard gets its even share, with no headroom for keys that hash
    /// unevenly (a shard past its share grows once): headroom measured slower.
    pub(crate) fn reserve(&self, accounts: usize, slots: usize) {
        let per_shard = |keys: usize| keys.div_ceil(self.shards.len());
        let (accounts, slots) = (per_shard(accounts), per_shard(slots));
        for shard in &self.shards {
            shard.write().reserve(accounts, slots);
        }
    }

    /// The key's shard ([`KeyHash::cache_shard`]: bits its tables'
    /// [`KeyHash::table_hash`] does not take, since they are the same for
    /// every key of a shard).
    fn shard(&self, hash: KeyHash) -> &RwLock<Shard> {
        &self.shards[hash.cache_shard(self.shards.len() - 1)]
    }

    /// The word of `written` holding the key's bit ([`KeyHash::filter_bit`]),
    /// and the bit.
    fn written_bit(&self, hash: KeyHash) -> (&AtomicU64, u64) {
        let bit = hash.filter_bit(FILTER_BITS - 1);
        (&self.written[bit / 64], 1 << (bit % 64))
    }

    /// Brings what reads of the keys hashing to `hashes` will touch into
    /// the CPU cache: their committed records ([`ReadView::prefetch`]) and
    /// the words of the written-key filter those reads test first. One
    /// short pass overlaps the misses that reads one at a time, between
    /// other work, would each wait for. Answers nothing.
    pub(crate) fn prefetch(&self, hashes: &[KeyHash]) {
        self.parent.prefetch(hashes);
        self.prefetch_written(hashes);
    }

    /// Loads the `written` words of the keys hashing to `hashes`, so the
    /// reads that follow find them in the CPU cache (the filter is 128 KiB;
    /// its word was the one cache miss of most reads). Answers nothing.
    pub(crate) fn prefetch_written(&self, hashes: &[KeyHash]) {
        let sum = hashes.iter().fold(0, |sum, &hash| {
            let (word, _) = self.written_bit(hash);
            sum ^ word.load(Ordering::Relaxed)
        });
        std::hint::black_box(sum);
    }

    fn cached(&self, key: &Hashed) -> Option<Value> {
        let (word, mask) = self.written_bit(key.hash);
        // Relaxed is enough: a transaction that reads a key another wrote runs
        // after it by the caller's locks, whose hand-over orders the two.
        if word.load(Ordering::Relaxed) & mask == 0 {
            return None;
        }
        self.shard(key.hash).read().get(key)
    }

    /// The account at `address`, whose key hashes to `hash`.
    pub(crate) fn account(
        &self,
        address: &Address,
        hash: KeyHash,
    ) -> Result<AccountHeader, TxError> {
        match self.cached(&Hashed { hash, key: StateKey::Account(*address) }) {
            Some(Value::Account(h)) => Ok(h),
            _ => Ok(self
                .parent
                .get_account_hashed(address, hash)
                .map_err(state_err)?
                .unwrap_or_default()),
        }
    }

    /// A storage slot, whose key hashes to `hash`.
    pub(crate) fn storage(
        &self,
        address: &Address,
        slot: &B256,
        hash: KeyHash,
    ) -> Result<U256, TxError> {
        match self.cached(&Hashed { hash, key: StateKey::Storage(*address, *slot) }) {
            Some(Value::Storage(v)) => Ok(v),
            _ => self.parent.get_storage_hashed(address, slot, hash).map_err(state_err),
        }
    }

    pub(crate) fn code(&self, hash: &B256) -> Result<Option<Bytes>, TxError> {
        if let Some(code) = self.code.read().get(hash) {
            return Ok(Some(code.clone()));
        }
        self.parent.get_code(hash).map_err(state_err)
    }

    /// Sets the key's bit in `written` and returns its shard, write-locked.
    fn write_shard(&self, hash: KeyHash) -> RwLockWriteGuard<'_, Shard> {
        self.mark_written(hash);
        self.shard(hash).write()
    }

    /// Sets the key's bit in `written`.
    pub(crate) fn mark_written(&self, hash: KeyHash) {
        let (word, mask) = self.written_bit(hash);
        if word.load(Ordering::Relaxed) & mask == 0 {
            word.fetch_or(mask, Ordering::Relaxed);
        }
    }

    /// Applies a finished transaction's writes.
    /// Code goes in first: a transaction running meanwhile that reads a
    /// header naming new code finds the code.
    pub(crate) fn apply(&self, writes: &Writes) {
        if !writes.code.is_empty() {
            self.code.write().extend(writes.code.iter().cloned());
        }
        for &(hash, address, header) in &writes.accounts {
            self.write_shard(hash).accounts.insert(hash, address, header);
        }
        for &(hash, address, slot, value) in &writes.slots {
            self.write_shard(hash).slots.insert(hash, (address, slot), value);
        }
    }
}

impl BankState {
    /// Applies `writes` (whole transactions' writes, in block order) on up
    /// to `threads` threads: each takes the shards of its own, so the last
    /// write of each key wins as in order.
    pub(crate) fn apply_all<'w>(
        &self,
        writes: impl Iterator<Item = &'w Writes> + Clone + Sync,
        threads: usize,
    ) {
        {
            let mut code = self.code.write();
            for w in writes.clone() {
                code.extend(w.code.iter().cloned());
            }
        }
        let parts = threads.clamp(1, self.shards.len());
        let mask = self.shards.len() - 1;
        crate::threads::parallel_map(
            parts,
            parts,
            || (),
            |_, part| {
                let mine = |hash: KeyHash| hash.cache_shard(mask) % parts == part;
                for w in writes.clone() {
                    for &(hash, address, header) in w.accounts.iter().filter(|a| mine(a.0)) {
                        self.write_shard(hash).accounts.insert(hash, address, header);
                    }
                    for &(hash, address, slot, value) in w.slots.iter().filter(|s| mine(s.0)) {
                        self.write_shard(hash).slots.insert(hash, (address, slot), value);
                    }
                }
            },
        );
    }
}

/// A storage failure stops the bank; a backing's (a fork's upstream not
/// answering) refuses only the transaction that needed the key, naming why.
fn state_err(e: lanes_accounts_db::StorageError) -> TxError {
    match e.is_fatal() {
        true => TxError::State(e.to_string()),
        false => TxError::Invalid(e.to_string()),
    }
}

/// A transaction's writes, in order (a later write to a key wins), held
/// until it finishes cleanly. Lists, not maps: a transaction writes a handful
/// of keys, and an EVM transaction writes them all at its end, after its last
/// read. Accounts and slots have a list each, of flat tuples with the key's
/// hash, as the shards keep them: smaller than a list of `(key, enum value)`
/// pairs.
#[derive(Clone, Debug, Default)]
pub(crate) struct Writes {
    /// (hash, address, header); the empty header deletes the account.
    pub(crate) accounts: Vec<(KeyHash, Address, AccountHeader)>,
    /// (hash, address, slot, value); zero clears the slot.
    pub(crate) slots: Vec<(KeyHash, Address, B256, U256)>,
    /// Code stored under its hash.
    pub(crate) code: Vec<(B256, Bytes)>,
    /// Keys the executor noted it read ([`StateView::note_read`]), kept
    /// only where the bank records accesses.
    pub(crate) reads: Vec<StateKey>,
}
impl Writes {
    /// Empties every list, keeping their memory.
    pub(crate) fn clear(&mut self) {
        self.accounts.clear();
        self.slots.clear();
        self.code.clear();
        self.reads.clear();
    }
}

/// The values a view read from state (not its own writes), each with its
/// key's hash, in the order read ([`Access::Logged`]): what a block's run
/// touched, which its recorded set is made of.
#[derive(Clone, Debug, Default)]
pub(crate) struct ReadLog {
    /// (hash, address, header as read).
    pub(crate) accounts: Vec<(KeyHash, Address, AccountHeader)>,
    /// (hash, address, slot, value as read).
    pub(crate) slots: Vec<(KeyHash, Address, B256, U256)>,
}

impl ReadLog {
    /// Whether it read `address`'s account.
    pub(crate) fn read_account(&self, address: &Address) -> bool {
        self.accounts.iter().any(|(_, a, _)| a == address)
    }
}

/// A run of an ordered block's transaction on the multi-version memory
/// ([`MvMemory`]): it reads the newest version below its index, else the
/// bank's state, and logs each value with where it came from, so the run
/// can be checked by value later. A read of an estimate stops the run: it
/// notes the transaction it waits for ([`EngineReads::blocked`]) and the
/// read fails.
///
/// A plain transfer's sender and recipient may be shown without the
/// versions (`sender`, `recipient`): the sender with the transaction's own
/// nonce and a balance that covers anything, the recipient as the state
/// holds it. Its run then only debits and credits them
/// ([`StateView::note_debit`], [`StateView::note_credit`]), which its
/// commit checks against the balances folded by then.
#[derive(Debug)]
pub(crate) struct EngineReads<'a> {
    pub(crate) memory: &'a MvMemory,
    /// The transaction's index in the block.
    pub(crate) index: u32,
    /// An account shown with this nonce and any balance.
    pub(crate) sender: Option<(Address, u64)>,
    /// An account shown as the state holds it.
    pub(crate) recipient: Option<Address>,
    /// (hash, address, header as read, where from).
    pub(crate) accounts: Vec<crate::spare::AccountRead>,
    /// (hash, address, slot, value as read, where from).
    pub(crate) slots: Vec<crate::spare::SlotRead>,
    /// The state's headers of the accounts shown.
    pub(crate) shown: [Option<(Address, AccountHeader)>; 2],
    /// The first transaction whose estimate a read met.
    pub(crate) blocked: Option<u32>,
}

impl<'a> EngineReads<'a> {
    /// Reads of transaction `index` on `memory`, logging into lists this
    /// thread kept spare ([`crate::spare`]).
    pub(crate) fn new(memory: &'a MvMemory, index: u32) -> Self {
        let (accounts, slots) = crate::spare::reads();
        let (sender, recipient, shown, blocked) = (None, None, [None; 2], None);
        Self { memory, index, sender, recipient, accounts, slots, shown, blocked }
    }

    fn wait(&mut self, tx: u32) -> TxError {
        self.blocked.get_or_insert(tx);
        TxError::Invalid(format!("it waits for transaction {tx}'s next run"))
    }

    fn account(
        &mut self,
        state: &BankState,
        address: &Address,
        hash: KeyHash,
    ) -> Result<AccountHeader, TxError> {
        let (header, origin) = match (self.sender, self.recipient) {
            (Some((sender, nonce)), _) if sender == *address => {
                let header = state.account(address, hash)?;
                self.shown[0] = Some((*address, header));
                let code_hash = header.code_hash;
                (AccountHeader { nonce, balance: U256::MAX, code_hash }, Origin::Shown)
            }
            (_, Some(recipient)) if recipient == *address => {
                let header = state.account(address, hash)?;
                self.shown[1] = Some((*address, header));
                (header, Origin::Shown)
            }
            _ => {
                let folded = match self.memory.account(hash, address, self.index) {
                    Ok(folded) => folded,
                    Err(tx) => return Err(self.wait(tx)),
                };
                let state = match folded.needs_state() {
                    true => state.account(address, hash)?,
                    false => AccountHeader::default(),
                };
                (folded.over(state), folded.origin)
            }
        };
        self.accounts.push((hash, *address, header, origin));
        Ok(header)
    }

    fn storage(
        &mut self,
        state: &BankState,
        address: &Address,
        slot: &B256,
        hash: KeyHash,
    ) -> Result<U256, TxError> {
        let key = StateKey::Storage(*address, *slot);
        let (value, origin) = match self.memory.slot(hash, &key, self.index) {
            Ok(Some((value, version))) => (value, Origin::Version(version)),
            Ok(None) => (state.storage(address, slot, hash)?, Origin::Storage),
            Err(tx) => return Err(self.wait(tx)),
        };
        self.slots.push((hash, *address, *slot, value, origin));
        Ok(value)
    }
}

/// What a transaction may touch.
#[derive(Clone, Debug)]
pub(crate) enum Access {
    /// Only its declared set.
    Declared(AccessSet),
    /// Everything (the exclusive lane).
    Exclusive,
    /// Everything, noting each key touched (simulation).
    Record,
    /// Everything, logging each value read from state ([`ReadLog`]).
    Logged,
}

/// A transaction's view of state. Reads and writes outside its access set fail
/// with [`TxError::AccessViolation`], and the view remembers the first one, so
/// the bank discards the attempt even if the executor swallows the error.
/// Writes are buffered here, in order (a later write to a key wins), and reach
/// the bank only if the transaction finishes cleanly.
#[derive(Debug)]
pub struct StateView<'a> {
    state: &'a BankState,
    pub(crate) access: Access,
    pub(crate) writes: Writes,
    /// With [`Access::Logged`]: every value read from state.
    pub(crate) log: ReadLog,
    /// An ordered block's run on the multi-version memory: reads come from
    /// there, logged there.
    pub(crate) engine: Option<Box<EngineReads<'a>>>,
    /// Fees not yet in the state that an account's balance is read with
    /// (the coinbase's, in an ordered block).
    credit: Option<(Address, U256)>,
    /// Accounts whose write only added to the balance read
    /// ([`StateView::note_credit`]).
    pub(crate) credits: Vec<Address>,
    /// Accounts whose write only stepped the nonce and took from the
    /// balance read, with the least balance that covers it
    /// ([`StateView::note_debit`]).
    pub(crate) debits: Vec<crate::spare::Debit>,
    violation: Option<StateKey>,
    /// Recording: every key touched, and (also in `touched`) those written.
    touched: Vec<StateKey>,
    written: Vec<StateKey>,
}

impl<'a> StateView<'a> {
    pub(crate) fn new(state: &'a BankState, access: Access) -> Self {
        let (touched, written) = (Vec::new(), Vec::new());
        let (writes, log) = (Writes::default(), ReadLog::default());
        Self {
            state,
            access,
            writes,
            log,
            engine: None,
            credit: None,
            credits: Vec::new(),
            debits: Vec::new(),
            violation: None,
            touched,
            written,
        }
    }

    /// This view, reading through `engine` (an ordered block's run on the
    /// multi-version memory) before the state.
    pub(crate) fn with_engine(mut self, engine: EngineReads<'a>) -> Self {
        self.engine = Some(Box::new(engine));
        self
    }

    /// This view, writing into `writes` (empty: a buffer a worker lends
    /// each run, [`crate::write_batch::WriteBatch::lend`]).
    pub(crate) fn with_writes(mut self, writes: Writes) -> Self {
        debug_assert!(writes.accounts.is_empty() && writes.slots.is_empty());
        self.writes = writes;
        self
    }

    /// This view, reading `address`'s balance with `credit` added (fees
    /// owed to it that the state does not hold yet).
    pub(crate) fn with_credit(mut self, address: Address, credit: U256) -> Self {
        self.credit = Some((address, credit));
        self
    }

    /// This view, logging its reads into `log`'s lists once cleared: a
    /// caller running transactions one after another reuses one log's
    /// memory instead of growing a new one for each.
    pub(crate) fn with_log(mut self, mut log: ReadLog) -> Self {
        log.accounts.clear();
        log.slots.clear();
        self.log = log;
        self
    }

    /// `key`'s hash if the access allows the read (or the `write`).
    fn check(&mut self, key: StateKey, write: bool) -> Result<KeyHash, TxError> {
        let allowed = match &self.access {
            Access::Exclusive | Access::Logged => Some(key.hash64()),
            Access::Record => {
                self.touched.push(key);
                if write {
                    self.written.push(key);
                }
                Some(key.hash64())
            }
            Access::Declared(set) => set.permits(&key, write),
        };
        allowed.ok_or_else(|| {
            self.violation.get_or_insert(key);
            TxError::AccessViolation(key)
        })
    }

    /// The slots each account held in the state the block runs on (its
    /// parent's), where its database keeps them
    /// ([`lanes_accounts_db::AccountsDbConfig::slot_index`]).
    pub fn parent_slots(&self) -> Option<ParentSlots> {
        let parent = &self.state.parent;
        parent.knows_slots().then(|| ParentSlots(parent.clone()))
    }

    /// The account at `address` (the empty header when there is none).
    pub fn account(&mut self, address: &Address) -> Result<AccountHeader, TxError> {
        let hash = self.check(StateKey::Account(*address), false)?;
        let written = self.writes.accounts.iter().rev().find(|(_, a, _)| a == address);
        if let Some((_, _, header)) = written {
            return Ok(*header);
        }
        if let Some(engine) = &mut self.engine {
            return engine.account(self.state, address, hash);
        }
        let mut header = self.state.account(address, hash)?;
        if let Some((credited, credit)) = self.credit
            && credited == *address
        {
            header.balance = header.balance.saturating_add(credit);
        }
        if let Access::Logged = self.access {
            self.log.accounts.push((hash, *address, header));
        }
        Ok(header)
    }

    /// A storage slot (zero when unset).
    pub fn storage(&mut self, address: &Address, slot: &B256) -> Result<U256, TxError> {
        let hash = self.check(StateKey::Storage(*address, *slot), false)?;
        let written = self.writes.slots.iter().rev().find(|(_, a, s, _)| a == address && s == slot);
        if let Some((_, _, _, value)) = written {
            return Ok(*value);
        }
        if let Some(engine) = &mut self.engine {
            return engine.storage(self.state, address, slot, hash);
        }
        let value = self.state.storage(address, slot, hash)?;
        if let Access::Logged = self.access {
            self.log.slots.push((hash, *address, *slot, value));
        }
        Ok(value)
    }

    /// Code by hash. Code is immutable and needs no declaration.
    pub fn code(&self, hash: &B256) -> Result<Option<Bytes>, TxError> {
        if let Some((_, code)) = self.writes.code.iter().find(|(h, _)| h == hash) {
            return Ok(Some(code.clone()));
        }
        if let Some(code) = self.engine.as_ref().and_then(|e| e.memory.code(hash)) {
            return Ok(Some(code));
        }
        self.state.code(hash)
    }

    /// Writes an account header (the empty header deletes the account).
    pub fn set_account(&mut self, address: &Address, header: AccountHeader) -> Result<(), TxError> {
        let hash = self.check(StateKey::Account(*address), true)?;
        self.writes.accounts.push((hash, *address, header));
        Ok(())
    }

    /// Writes a storage slot (zero clears it).
    pub fn set_storage(
        &mut self,
        address: &Address,
        slot: &B256,
        value: U256,
    ) -> Result<(), TxError> {
        let hash = self.check(StateKey::Storage(*address, *slot), true)?;
        self.writes.slots.push((hash, *address, *slot, value));
        Ok(())
    }

    /// Stores code under its hash (the caller computes the hash).
    pub fn put_code(&mut self, hash: B256, code: Bytes) {
        self.writes.code.push((hash, code));
    }

    /// Notes that execution read `key` (an executor calls it for each key it
    /// accessed, once it knows which it left unchanged), for the block's
    /// record of accesses ([`crate::BlockAccesses`]) where the bank keeps
    /// one ([`crate::BankConfig::record_accesses`]); otherwise it does
    /// nothing. The key is not checked against the set: the executor read
    /// it through this view.
    pub fn note_read(&mut self, key: StateKey) {
        if self.state.record_accesses {
            self.writes.reads.push(key);
        }
    }

    /// Notes that what this run wrote to `address`'s account only added to
    /// the balance it read, its nonce and code as they were, and that
    /// nothing it did depended on that balance (an EVM plain value
    /// transfer's recipient without code). In an ordered block
    /// ([`crate::OrderedSets::Run`]) a balance there that changed before
    /// the transaction's turn then does not undo its run: the credit is
    /// added to the balance it finds.
    pub fn note_credit(&mut self, address: Address) {
        self.credits.push(address);
    }

    /// Notes that what this run wrote to `address`'s account only stepped
    /// the nonce it read by one and took from the balance it read, its code
    /// as it was, and that nothing it did depended on that balance but that
    /// it was at least `covers` (an EVM plain value transfer's sender: the
    /// transfer and the most gas it may pay for). In an ordered block
    /// ([`crate::OrderedSets::Run`]) the run then stands wherever the
    /// account at its turn holds the nonce it read and a balance of at
    /// least `covers`: what it took is taken from the balance found there.
    pub fn note_debit(&mut self, address: Address, covers: U256) {
        self.debits.push((address, covers));
    }

    /// Keys read or written so far, in a simulation ([`crate::Bank::simulate`]).
    pub fn touched(&self) -> &[StateKey] {
        &self.touched
    }

    /// What a simulation touched as an access set: keys it wrote as
    /// writes, keys it only read as reads. Fails past `limit` keys.
    pub fn touched_set(&self, limit: usize) -> Result<AccessSet, AccessSetTooLarge> {
        AccessSet::new(self.touched.iter().copied(), self.written.iter().copied(), limit)
    }

    /// What a logged run ([`Access::Logged`]) touched as an access set:
    /// the keys it wrote as writes, those it only read as reads. Fails past
    /// `limit` keys.
    pub(crate) fn logged_set(&self, limit: usize) -> Result<AccessSet, AccessSetTooLarge> {
        let log = &self.log;
        let reads = log.accounts.iter().map(|&(h, a, _)| (StateKey::Account(a), h));
        let reads =
            ExactChain(reads, log.slots.iter().map(|&(h, a, s, _)| (StateKey::Storage(a, s), h)));
        read_write_set(reads, &self.writes, limit)
    }

    /// The first key this transaction touched outside its set, if any.
    pub fn violation(&self) -> Option<StateKey> {
        self.violation
    }
}

/// The access set of a run that read `reads` (keys with their hashes) and
/// wrote `writes`: the keys it wrote as writes, those it only read as
/// reads. Fails past `limit` keys.
pub(crate) fn read_write_set(
    reads: impl ExactSizeIterator<Item = (StateKey, KeyHash)>,
    writes: &Writes,
    limit: usize,
) -> Result<AccessSet, AccessSetTooLarge> {
    let written = writes.accounts.iter().map(|&(h, a, _)| (StateKey::Account(a), h));
    let written =
        ExactChain(written, writes.slots.iter().map(|&(h, a, s, _)| (StateKey::Storage(a, s), h)));
    AccessSet::from_hashed(reads, written, limit)
}

/// Two iterators one after the other, whose length is known (a `Chain`
/// does not say it is exact).
pub(crate) struct ExactChain<A, B>(pub(crate) A, pub(crate) B);

impl<T, A: ExactSizeIterator<Item = T>, B: ExactSizeIterator<Item = T>> Iterator
    for ExactChain<A, B>
{
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.0.next().or_else(|| self.1.next())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.len() + self.1.len();
        (n, Some(n))
    }
}

impl<T, A: ExactSizeIterator<Item = T>, B: ExactSizeIterator<Item = T>> ExactSizeIterator
    for ExactChain<A, B>
{
}
