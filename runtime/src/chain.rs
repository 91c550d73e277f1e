//! [`Chain`]: the accounts database plus the head block and its lattice hash;
//! builds banks, commits sealed blocks and replays blocks from elsewhere.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use alloy_primitives::{Address, B256, Bytes};
use lanes_accounts_db::{
    AccountsDb, AccountsDbConfig, CommitError, CommitInfo, Entry, Error as DbError, FormatError,
};

use crate::atomic_write::write_atomically;
use crate::bank::{Bank, BankConfig, SealedBlock};
use crate::block::{Block, BlockHeader, HeaderCodec, Roots, entries_root};
use crate::error::{BankError, DecodeError, TxError};
use crate::executor::{BlockEnv, Executor, Transaction};
use crate::key::StateKey;
use crate::lattice::{LATTICE_LANES, LatticeHash};
use crate::locks::LaneKeys;
use crate::outcome::Receipt;
use crate::view::Access;

/// How many recent block hashes banks get (for BLOCKHASH-like lookups).
pub const RECENT_HASHES: usize = 256;

const HEAD_FILE: &str = "head.bin";
/// The head file's format: its version is the magic's last byte (see
/// [`ChainError::Format`]).
const HEAD_MAGIC: &[u8; 8] = b"LANESHD3";

/// Block gas limit of a [`Genesis`] by default (Ethereum mainnet's at the
/// merge).
pub const DEFAULT_GAS_LIMIT: u64 = 30_000_000;

/// The initial state and the fields of the chain's first block (block 0,
/// or a forked chain's fork block).
#[derive(Clone, Debug)]
pub struct Genesis {
    /// The first block's number: 0, or the block a forked chain starts from
    /// (its state the upstream's there, read through the accounts
    /// database's backing; its first block of its own is this + 1).
    pub number: u64,
    /// Accounts, slots and code at genesis.
    pub alloc: Vec<Entry>,
    /// Block 0's timestamp.
    pub timestamp: u64,
    /// Block 0's coinbase.
    pub coinbase: Address,
    /// Base fee per gas.
    pub base_fee: u64,
    /// Gas limit per block ([`DEFAULT_GAS_LIMIT`] by default): the sum of
    /// a block's [`crate::Outcome::gas_used`] never exceeds it.
    pub gas_limit: u64,
    /// Block 0's codec data ([`BlockHeader::extra`]) when the chain has its
    /// own (an imported chain's genesis header); empty: the codec's.
    pub extra: Bytes,
}

impl Default for Genesis {
    fn default() -> Self {
        Self {
            number: 0,
            alloc: Vec::new(),
            timestamp: 0,
            coinbase: Address::ZERO,
            base_fee: 0,
            gas_limit: DEFAULT_GAS_LIMIT,
            extra: Bytes::new(),
        }
    }
}

impl Genesis {
    /// Block 0 under `headers`: what a chain created from this genesis
    /// starts from. Its hash identifies the genesis (a node refuses a data
    /// folder made from another one).
    pub fn block(&self, headers: &dyn HeaderCodec) -> Block {
        let header = self.header_and_lattice(headers).0;
        Block { hash: headers.hash(&header), header, system: Vec::new(), entries: Vec::new() }
    }

    /// Block 0 as banks of `config` make it: its codec, and its state
    /// commitment where the chain has one of its own.
    pub fn block_with(&self, config: &BankConfig) -> Block {
        let header = self.header_with(config).0;
        let hash = config.headers.hash(&header);
        Block { hash, header, system: Vec::new(), entries: Vec::new() }
    }

    /// Block 0's header under `config`, and its lattice hash.
    fn header_with(&self, config: &BankConfig) -> (BlockHeader, LatticeHash) {
        let (mut header, lattice) = self.header_and_lattice(&*config.headers);
        if let Some(commitment) = &config.commitment {
            header.state_commitment = commitment.genesis(&self.alloc);
        }
        (header, lattice)
    }

    fn header_and_lattice(&self, headers: &dyn HeaderCodec) -> (BlockHeader, LatticeHash) {
        let mut lattice = LatticeHash::identity();
        for entry in self.alloc.iter().filter(|e| !e.is_deletion()) {
            if let Some(element) = LatticeHash::of_entry(entry) {
                lattice.add(&element);
            }
        }
        let Roots { transactions_root, receipts_root, extra } = headers.roots(None, &[], &[], None);
        let header = BlockHeader {
            number: self.number,
            parent_hash: B256::ZERO,
            timestamp: self.timestamp,
            coinbase: self.coinbase,
            base_fee: self.base_fee,
            gas_limit: self.gas_limit,
            gas_used: 0,
            transactions_root,
            receipts_root,
            state_commitment: lattice.commitment(),
            entries_root: entries_root(&[], &[]),
            extra: if self.extra.is_empty() { extra } else { self.extra.clone() },
        };
        (header, lattice)
    }
}

/// A chain failed to open, commit or replay.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The accounts database failed to open, commit or read; its error
    /// names the cause (and [`lanes_accounts_db::Error::is_fatal`] says
    /// whether the handle is still usable).
    #[error(transparent)]
    AccountsDb(#[from] lanes_accounts_db::Error),
    /// Writing the head file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `create` on a directory that already holds a chain.
    #[error("{0} already holds a chain")]
    NotEmpty(PathBuf),
    /// The head block is not known: the head file is missing or stale and no
    /// header was given.
    #[error("the head block of {0} is unknown; pass the head header from the ledger")]
    HeadUnknown(PathBuf),
    /// The given head header does not match the committed state.
    #[error("head header (block {number}) does not match the committed state")]
    HeadMismatch {
        /// The header's number.
        number: u64,
    },
    /// A sealed block does not follow the head.
    #[error("block {number} does not follow the head block {head}")]
    NotNext {
        /// The block's number.
        number: u64,
        /// The head's number.
        head: u64,
    },
    /// The head file is of another format version than this build reads.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A bank failed.
    #[error(transparent)]
    Bank(#[from] BankError),
    /// A replayed block was rejected; nothing of it was committed.
    #[error(transparent)]
    Rejected(#[from] Box<ReplayError>),
    /// [`Chain::revert_to`] on a chain whose state has a backing (a fork's
    /// upstream): a key it did not hold at the block would be written with
    /// the upstream's value rather than left unheld, so such a chain goes
    /// back by [`Chain::truncate_after`] and a reopen instead.
    #[error("a chain whose state has a backing (a fork) cannot go back in place")]
    RevertNotInPlace,
}

/// Why a replayed block was rejected. Nothing of it was committed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("block {block} rejected{}: {kind}", at(.entry, .tx))]
pub struct ReplayError {
    /// The block number.
    pub block: u64,
    /// The entry at fault, if one is.
    pub entry: Option<usize>,
    /// The transaction (index in its entry) at fault, if one is.
    pub tx: Option<usize>,
    /// What is wrong.
    pub kind: ReplayErrorKind,
}

fn at(entry: &Option<usize>, tx: &Option<usize>) -> String {
    match (entry, tx) {
        (Some(e), Some(t)) => format!(" at entry {e}, transaction {t}"),
        (Some(e), None) => format!(" at entry {e}"),
        _ => String::new(),
    }
}

/// The kinds of [`ReplayError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayErrorKind {
    /// The block is not the head's child.
    #[error("it does not follow the head (parent hash or number)")]
    NotNext,
    /// Two transactions of one entry declare conflicting sets.
    #[error("its set conflicts with an earlier transaction of the entry on {0:?}")]
    ConflictingEntry(StateKey),
    /// A transaction touched a key outside its recorded set.
    #[error("it touches {0:?}, outside its recorded set")]
    LeftItsSet(StateKey),
    /// An exclusive entry must hold one transaction and no set.
    #[error("an exclusive entry must hold exactly one transaction and no set")]
    BadExclusiveEntry,
    /// An entry's lanes are not in their one form ([`crate::BlockEntry::lanes`]).
    #[error(
        "its lanes must be empty or one per transaction, numbered in order of first appearance, some lane shared"
    )]
    BadLanes,
    /// A transaction does not decode.
    #[error("undecodable transaction: {0}")]
    Undecodable(String),
    /// A transaction's hash appears earlier in the block.
    #[error("transaction {0} appears twice in the block")]
    DuplicateTx(B256),
    /// A transaction is invalid on this state.
    #[error("invalid transaction: {0}")]
    InvalidTx(String),
    /// A header field differs from the re-executed block's.
    #[error("{field} differs: block says {claimed}, execution gives {actual}")]
    Mismatch {
        /// The field.
        field: &'static str,
        /// What the block says.
        claimed: Box<str>,
        /// What re-execution produced.
        actual: Box<str>,
    },
    /// The bank failed (state unreadable).
    #[error(transparent)]
    Bank(#[from] BankError),
}

/// The committed chain: state, head header, lattice hash, recent hashes.
#[derive(Debug)]
pub struct Chain {
    dir: PathBuf,
    db: AccountsDb,
    head: BlockHeader,
    /// The head's hash by [`BankConfig::headers`].
    head_hash: B256,
    lattice: LatticeHash,
    recent: VecDeque<B256>,
    bank_config: BankConfig,
    /// Whether the head file is synced to disk ([`AccountsDbConfig::sync`]).
    sync: bool,
    /// The head file, kept open when it is not synced.
    head_file: Option<File>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ChainError + '_ {
    move |source| ChainError::Io { path: path.to_owned(), source }
}

impl Chain {
    /// Creates a chain in `dir` (an empty or new directory) from `genesis`,
    /// with banks of the default [`BankConfig`].
    pub fn create(
        dir: impl AsRef<Path>,
        config: AccountsDbConfig,
        genesis: &Genesis,
    ) -> Result<Self, ChainError> {
        Self::create_with(dir, config, genesis, BankConfig::default())
    }

    /// [`Self::create`] with banks of `bank_config` (whose codec makes block
    /// 0's roots and hash too).
    pub fn create_with(
        dir: impl AsRef<Path>,
        config: AccountsDbConfig,
        genesis: &Genesis,
        bank_config: BankConfig,
    ) -> Result<Self, ChainError> {
        let dir = dir.as_ref().to_owned();
        let sync = config.sync;
        let db = AccountsDb::open(dir.join("accounts"), config).map_err(DbError::from)?;
        if db.last_commit().is_some() {
            return Err(ChainError::NotEmpty(dir));
        }
        let (head, lattice) = genesis.header_with(&bank_config);
        db.commit(genesis.number, head.state_commitment, &genesis.alloc).map_err(DbError::from)?;
        let mut chain = Self::assemble(dir, db, head, lattice, sync, bank_config);
        chain.write_head()?;
        Ok(chain)
    }

    /// Opens the chain in `dir`. The head header comes from the head file
    /// written at each commit, or from `head` (the caller's ledger) when that
    /// file is missing or stale; the lattice hash is recomputed from the state
    /// if its saved copy does not match.
    pub fn open(
        dir: impl AsRef<Path>,
        config: AccountsDbConfig,
        head: Option<BlockHeader>,
    ) -> Result<Self, ChainError> {
        Self::open_with(dir, config, head, BankConfig::default())
    }

    /// Takes the (closed) chain in `dir` back to the state after block
    /// `number`, which its accounts database must keep
    /// ([`AccountsDbConfig::history_blocks`]): [`AccountsDb::truncate_after`].
    /// The head file then names a later block, so the next open needs the
    /// block's header from the ledger.
    pub fn truncate_after(
        dir: impl AsRef<Path>,
        config: AccountsDbConfig,
        number: u64,
    ) -> Result<CommitInfo, ChainError> {
        let accounts = dir.as_ref().join("accounts");
        Ok(AccountsDb::truncate_after(accounts, config, number).map_err(DbError::from)?)
    }

    /// The head the head file in `dir` names (without opening the chain),
    /// `None` when there is none. It can be one block behind the state
    /// after a crash, never ahead of it.
    pub fn saved_head(dir: impl AsRef<Path>) -> Result<Option<BlockHeader>, ChainError> {
        Ok(read_head(&dir.as_ref().join(HEAD_FILE))?.map(|(header, _)| header))
    }

    /// [`Self::open`] with banks of `bank_config`.
    pub fn open_with(
        dir: impl AsRef<Path>,
        config: AccountsDbConfig,
        head: Option<BlockHeader>,
        bank_config: BankConfig,
    ) -> Result<Self, ChainError> {
        let dir = dir.as_ref().to_owned();
        let sync = config.sync;
        let db = AccountsDb::open(dir.join("accounts"), config).map_err(DbError::from)?;
        let last = db.last_commit().ok_or_else(|| ChainError::HeadUnknown(dir.clone()))?;
        // The state stores its header's commitment: the lattice hash's, or
        // the chain's own (then the lattice hash is checked by nothing but
        // being the state's).
        let own = bank_config.commitment.is_some();
        let saved = read_head(&dir.join(HEAD_FILE))?.filter(|(h, l)| {
            h.number == last.block_number
                && h.state_commitment == last.commitment
                && (own || l.commitment() == last.commitment)
        });
        let (head, lattice) = match (saved, head) {
            (Some((saved, lattice)), given) if given.as_ref().is_none_or(|g| *g == saved) => {
                (saved, lattice)
            }
            (_, Some(given)) => {
                if given.number != last.block_number || given.state_commitment != last.commitment {
                    return Err(ChainError::HeadMismatch { number: given.number });
                }
                tracing::warn!(target: "lanes::runtime", "head file stale; recomputing the lattice hash");
                let lattice = LatticeHash::from_scratch(&db.view()).map_err(DbError::from)?;
                if !own && lattice.commitment() != last.commitment {
                    return Err(ChainError::HeadMismatch { number: given.number });
                }
                (given, lattice)
            }
            _ => return Err(ChainError::HeadUnknown(dir)),
        };
        let mut chain = Self::assemble(dir, db, head, lattice, sync, bank_config);
        chain.write_head()?;
        Ok(chain)
    }

    fn assemble(
        dir: PathBuf,
        db: AccountsDb,
        head: BlockHeader,
        lattice: LatticeHash,
        sync: bool,
        bank_config: BankConfig,
    ) -> Self {
        let head_hash = bank_config.headers.hash(&head);
        let recent = VecDeque::from([head_hash]);
        Self { dir, db, head, head_hash, lattice, recent, bank_config, sync, head_file: None }
    }

    /// The settings of the banks this chain makes.
    pub fn bank_config(&self) -> &BankConfig {
        &self.bank_config
    }

    /// Sets the configuration of the banks this chain makes. A codec other
    /// than the one the chain was made with rehashes the head, not the roots
    /// it holds: pass the codec to [`Self::create_with`] / [`Self::open_with`].
    pub fn with_bank_config(mut self, config: BankConfig) -> Self {
        self.head_hash = config.headers.hash(&self.head);
        self.recent = VecDeque::from([self.head_hash]);
        self.bank_config = config;
        self
    }

    /// Gives the hashes of the blocks before the head, newest first (the
    /// head's parent first), which BLOCKHASH reads: a chain opened from disk
    /// knows only its head's, and whoever keeps the blocks (a node's ledger)
    /// gives the rest. At most [`RECENT_HASHES`] are kept, the head's
    /// included.
    pub fn set_older_hashes(&mut self, hashes: impl IntoIterator<Item = B256>) {
        self.recent.truncate(1);
        self.recent.extend(hashes.into_iter().take(RECENT_HASHES - 1));
    }

    /// The head block's header.
    pub fn head(&self) -> &BlockHeader {
        &self.head
    }

    /// The head block's hash.
    pub fn head_hash(&self) -> B256 {
        self.head_hash
    }

    /// The lattice hash of the head state.
    pub fn lattice(&self) -> &LatticeHash {
        &self.lattice
    }

    /// The accounts database.
    pub fn db(&self) -> &AccountsDb {
        &self.db
    }

    /// A bank for the head's child (number head + 1), stamped `timestamp`
    /// (seconds), whose fees go to `coinbase`.
    pub fn new_bank(&self, timestamp: u64, coinbase: Address) -> Bank {
        self.new_bank_with(self.next_env(timestamp, coinbase))
    }

    /// The environment of the head's child, stamped `timestamp`.
    pub fn next_env(&self, timestamp: u64, coinbase: Address) -> BlockEnv {
        BlockEnv {
            number: self.head.number + 1,
            timestamp,
            coinbase,
            base_fee: self.bank_config.base_fee.after(&self.head),
            gas_limit: self.head.gas_limit,
            recent_hashes: self.recent.iter().copied().collect(),
            random: self.head_hash,
            parent: Some(std::sync::Arc::new(self.head.clone())),
        }
    }

    /// A bank on the head state with an environment of the caller's choosing
    /// (tests that run foreign block contexts, such as Ethereum's state tests).
    /// Its block can be committed only if `env.number` is the head's plus one.
    pub fn new_bank_with(&self, env: BlockEnv) -> Bank {
        Bank::new(
            self.db.view(),
            self.head_hash,
            self.lattice.clone(),
            env,
            self.bank_config.clone(),
        )
    }

    /// Takes the open chain back to the block `header` heads (a dev node's
    /// `evm_revert`), in place and in time proportional to what changed
    /// since ([`AccountsDb::revert_to`]): its state, head, hash and lattice
    /// hash are that block's, and the next block is its child. `header` is
    /// the block's header (the caller's ledger keeps it) and `older` the
    /// hashes of the blocks before it, newest first
    /// ([`Self::set_older_hashes`]). Refused, changing nothing, for a block
    /// the state does not keep or whose committed state is not `header`'s,
    /// and on a fork ([`ChainError::RevertNotInPlace`]).
    /// A [`BankConfig::commitment`] of its own must find its state again
    /// from the reverted state's commit (the Merkle-Patricia one does).
    pub fn revert_to(
        &mut self,
        header: BlockHeader,
        older: impl IntoIterator<Item = B256>,
    ) -> Result<(), ChainError> {
        self.check_revert(&header)?;
        let reverted = self.db.revert_to(header.number).map_err(DbError::from)?;
        let mut lattice = self.lattice.clone();
        for (before, after) in &reverted.changes {
            if !before.is_deletion() {
                lattice.sub_entry(before);
            }
            if !after.is_deletion() {
                lattice.add_entry(after);
            }
        }
        // With a commitment of its own (a trie, found again from the
        // reverted state's commit), the header commits to that instead.
        let own = self.bank_config.commitment.is_some();
        if !own && lattice.commitment() != header.state_commitment {
            // The state is the block's (its commit says so): a lattice hash
            // that disagrees is recounted from it.
            tracing::warn!(target: "lanes::runtime", number = header.number, "lattice hash after a revert disagrees; recomputing it");
            lattice = LatticeHash::from_scratch(&self.db.view()).map_err(DbError::from)?;
        }
        self.head_hash = self.bank_config.headers.hash(&header);
        self.head = header;
        self.lattice = lattice;
        self.recent = VecDeque::from([self.head_hash]);
        self.recent.extend(older.into_iter().take(RECENT_HASHES - 1));
        self.write_head()
    }

    /// Whether [`Self::revert_to`] can take the chain back to the block
    /// `header` heads: the error it would refuse with, without changing
    /// anything (for a caller with its own steps to take first).
    pub fn check_revert(&self, header: &BlockHeader) -> Result<(), ChainError> {
        if self.db.view().has_backing() {
            return Err(ChainError::RevertNotInPlace);
        }
        let kept =
            self.db.view_at(header.number).map_err(|e| DbError::from(CommitError::from(e)))?;
        if kept.last_commit().map(|c| (c.block_number, c.commitment))
            != Some((header.number, header.state_commitment))
        {
            return Err(ChainError::HeadMismatch { number: header.number });
        }
        Ok(())
    }

    /// Commits a sealed block made by a bank of this chain's head.
    pub fn commit(&mut self, sealed: &SealedBlock) -> Result<(), ChainError> {
        let header = &sealed.block.header;
        if header.number != self.head.number + 1 || header.parent_hash != self.head_hash {
            return Err(ChainError::NotNext { number: header.number, head: self.head.number });
        }
        self.db
            .commit(header.number, header.state_commitment, &sealed.changes)
            .map_err(DbError::from)?;
        self.head = sealed.block.header.clone();
        self.head_hash = sealed.block.hash;
        self.lattice = sealed.lattice.clone();
        self.recent.push_front(self.head_hash);
        self.recent.truncate(RECENT_HASHES);
        self.write_head()
    }

    /// Re-executes `block` on `threads` threads and commits it if everything
    /// checks: each entry's sets are free of conflicts, no transaction leaves its
    /// recorded set, each hash appears once, the gas used stays within the
    /// block's limit, and the header matches what execution produced. A
    /// rejected block changes nothing. The mirror of
    /// [`Bank::execute_block`](crate::Bank::execute_block): the entries carry
    /// the sets, so no admission hook is needed.
    pub fn replay_block<E: Executor>(
        &mut self,
        executor: &E,
        block: &Block,
        threads: usize,
    ) -> Result<Vec<Receipt>, ChainError> {
        let sealed = self.reexecute(executor, block, threads).inspect_err(|e| {
            tracing::warn!(target: "lanes::runtime", %e, "block rejected");
        })?;
        let receipts = sealed.receipts.clone();
        self.commit(&sealed)?;
        Ok(receipts)
    }

    /// Re-executes `block` against the head without committing.
    pub fn reexecute<E: Executor>(
        &self,
        executor: &E,
        block: &Block,
        threads: usize,
    ) -> Result<SealedBlock, Box<ReplayError>> {
        self.reexecute_with(executor, block, threads, &|raw| executor.decode(raw))
    }

    /// [`Self::reexecute`], decoding each transaction with `decode` (a node
    /// that decoded them at admission hands those back instead of
    /// recovering every sender again). `decode` must answer as
    /// [`Executor::decode`] does.
    pub fn reexecute_with<E: Executor>(
        &self,
        executor: &E,
        block: &Block,
        threads: usize,
        decode: &(dyn Fn(&Bytes) -> Result<E::Tx, DecodeError> + Sync),
    ) -> Result<SealedBlock, Box<ReplayError>> {
        let h = &block.header;
        let fail = |entry, tx, kind| Box::new(ReplayError { block: h.number, entry, tx, kind });
        if h.number != self.head.number + 1 || h.parent_hash != self.head_hash {
            return Err(fail(None, None, ReplayErrorKind::NotNext));
        }
        let mut env = self.next_env(h.timestamp, h.coinbase);
        if self.bank_config.allow_system {
            // A dev chain may set a block's base fee (anvil_setNextBlockBaseFeePerGas).
            env.base_fee = h.base_fee;
        }
        let mut bank = self.new_bank_with(env);
        if !block.system.is_empty() {
            bank.apply_system(block.system.clone()).map_err(|e| fail(None, None, e.into()))?;
        }
        let raw: Vec<&Bytes> = block.entries.iter().flat_map(|e| &e.txs).map(|r| &r.tx).collect();
        if raw.len() >= crate::run_block::HASH_AHEAD_MIN_TXS {
            bank.hash_ahead(threads);
        }
        // Every transaction decoded first, on the block's threads (a
        // signature's recovery is most of a plain transfer's replay), and on
        // the walker's free core too: it has no key to hash before the
        // entries run. One that does not decode is still reported at its
        // entry's turn.
        let decode_threads = threads + usize::from(bank.ahead.is_some());
        let decoded =
            crate::threads::parallel_map(raw.len(), decode_threads, || (), |_, k| decode(raw[k]));
        let mut decoded = decoded.into_iter();
        let mut lane_keys = LaneKeys::default();
        for (ei, entry) in block.entries.iter().enumerate() {
            let mut txs = Vec::with_capacity(entry.txs.len());
            for ti in 0..entry.txs.len() {
                let tx = decoded
                    .next()
                    .expect("one decoded per recorded transaction")
                    .map_err(|e| fail(Some(ei), Some(ti), ReplayErrorKind::Undecodable(e.0)))?;
                txs.push(tx);
            }
            let fresh = bank.claim(txs.iter().map(Transaction::hash));
            if let Some(ti) = fresh.iter().position(|fresh| !fresh) {
                return Err(fail(Some(ei), Some(ti), ReplayErrorKind::DuplicateTx(txs[ti].hash())));
            }
            let jobs: Vec<(&E::Tx, Access)> = if entry.exclusive {
                if txs.len() != 1 || !entry.txs[0].access.is_empty() {
                    return Err(fail(Some(ei), None, ReplayErrorKind::BadExclusiveEntry));
                }
                vec![(&txs[0], Access::Exclusive)]
            } else {
                if !entry.lanes_are_canonical() {
                    return Err(fail(Some(ei), None, ReplayErrorKind::BadLanes));
                }
                let conflict = entry.first_conflict(&mut lane_keys);
                let empty = entry.txs.iter().position(|r| r.access.is_empty());
                // Whichever fault comes first in the entry is the one reported.
                match (conflict, empty) {
                    (Some((ti, c)), e) if e.is_none_or(|e| ti < e) => {
                        return Err(fail(
                            Some(ei),
                            Some(ti),
                            ReplayErrorKind::ConflictingEntry(c.key),
                        ));
                    }
                    (_, Some(ti)) => {
                        return Err(fail(Some(ei), Some(ti), ReplayErrorKind::BadExclusiveEntry));
                    }
                    _ => {}
                }
                txs.iter()
                    .zip(&entry.txs)
                    .map(|(tx, r)| (tx, Access::Declared(r.access.clone())))
                    .collect()
            };
            bank.prefetch_sets(entry.txs.iter().map(|r| &r.access));
            let results = bank.run_parallel(executor, &jobs, &entry.lanes, threads);
            let mut outcomes = Vec::with_capacity(jobs.len());
            for (ti, (result, (tx, _))) in results.into_iter().zip(&jobs).enumerate() {
                match result {
                    Ok(outcome) => outcomes.push((tx.hash(), outcome)),
                    Err(TxError::AccessViolation(key)) => {
                        return Err(fail(Some(ei), Some(ti), ReplayErrorKind::LeftItsSet(key)));
                    }
                    Err(TxError::State(e)) => {
                        return Err(fail(Some(ei), Some(ti), BankError::State(e).into()));
                    }
                    Err(e) => {
                        return Err(fail(
                            Some(ei),
                            Some(ti),
                            ReplayErrorKind::InvalidTx(e.to_string()),
                        ));
                    }
                }
            }
            bank.record_entry(entry.clone(), outcomes);
        }
        let sealed = bank.seal_on(threads).map_err(|e| fail(None, None, e.into()))?;
        let got = &sealed.block.header;
        let mismatch = |field: &'static str, claimed: String, actual: String| {
            fail(
                None,
                None,
                ReplayErrorKind::Mismatch { field, claimed: claimed.into(), actual: actual.into() },
            )
        };
        let fields: [(&'static str, String, String); 9] = [
            (
                "transactions_root",
                h.transactions_root.to_string(),
                got.transactions_root.to_string(),
            ),
            ("receipts_root", h.receipts_root.to_string(), got.receipts_root.to_string()),
            ("gas_used", h.gas_used.to_string(), got.gas_used.to_string()),
            ("state_commitment", h.state_commitment.to_string(), got.state_commitment.to_string()),
            ("base_fee", h.base_fee.to_string(), got.base_fee.to_string()),
            ("gas_limit", h.gas_limit.to_string(), got.gas_limit.to_string()),
            ("entries_root", h.entries_root.to_string(), got.entries_root.to_string()),
            ("extra", h.extra.to_string(), got.extra.to_string()),
            ("hash", block.hash.to_string(), sealed.block.hash.to_string()),
        ];
        for (field, claimed, actual) in fields {
            if claimed != actual {
                return Err(mismatch(field, claimed, actual));
            }
        }
        debug_assert_eq!(got, h);
        Ok(sealed)
    }

    fn write_head(&mut self) -> Result<(), ChainError> {
        let path = self.dir.join(HEAD_FILE);
        let mut bytes = HEAD_MAGIC.to_vec();
        bytes.extend(borsh::to_vec(&self.head).expect("writing to a Vec cannot fail"));
        bytes.extend(self.lattice.to_bytes());
        let sum = blake3::hash(&bytes);
        bytes.extend(sum.as_bytes());
        if !self.sync {
            // Overwritten in place (a create and a rename cost more than the
            // rest of a small block's commit): a torn file fails its
            // checksum, and the head then comes from the ledger.
            let f = match &mut self.head_file {
                Some(f) => f,
                None => self.head_file.insert(
                    OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(false)
                        .open(&path)
                        .map_err(io(&path))?,
                ),
            };
            f.write_all_at(&bytes, 0).map_err(io(&path))?;
            if f.metadata().map_err(io(&path))?.len() != bytes.len() as u64 {
                f.set_len(bytes.len() as u64).map_err(io(&path))?;
            }
            return Ok(());
        }
        write_atomically(&path, &bytes).map_err(io(&path))
    }
}

/// Reads the head file; `None` if it is missing or damaged, an error if
/// it is whole but of another format version.
fn read_head(path: &Path) -> Result<Option<(BlockHeader, LatticeHash)>, ChainError> {
    let Ok(bytes) = fs::read(path) else { return Ok(None) };
    let whole = bytes
        .len()
        .checked_sub(32)
        .and_then(|at| bytes.split_at_checked(at))
        .filter(|(body, sum)| blake3::hash(body).as_bytes() == sum);
    let Some((body, _)) = whole else { return Ok(None) };
    match body.first_chunk::<8>() {
        Some(magic) if magic == HEAD_MAGIC => Ok(parse_head(&body[8..])),
        Some(magic) if magic[..7] == HEAD_MAGIC[..7] => Err(FormatError {
            path: path.to_owned(),
            found: u32::from(magic[7].wrapping_sub(b'0')),
            reads: u32::from(HEAD_MAGIC[7] - b'0'),
        }
        .into()),
        _ => Ok(None),
    }
}

fn parse_head(rest: &[u8]) -> Option<(BlockHeader, LatticeHash)> {
    let (header_bytes, lanes) =
        rest.split_at_checked(rest.len().checked_sub(LATTICE_LANES * 2)?)?;
    let header = borsh::from_slice::<BlockHeader>(header_bytes).ok()?;
    Some((header, LatticeHash::from_bytes(lanes)?))
}
