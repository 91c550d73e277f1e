//! lanes-runtime: declared-access execution over the accounts database.
//!
//! Every transaction declares the state it reads and writes (an [`AccessSet`]
//! of [`StateKey`]s), or an [`Admission`] hook supplies one. Transactions
//! whose sets do not conflict form an *entry* and run side by side; a
//! [`StateView`] lets each touch only its own keys, so the result cannot
//! depend on the order, and any node can replay the block in parallel to the
//! same state commitment. The runtime knows nothing of the EVM: it runs any
//! [`Executor`]. `docs/embedding.md` walks through an embedding;
//! `runtime/examples/custom_executor.rs` is one (a key-value store).
//!
//! One dependency line is enough: the crate re-exports the accounts
//! database types an embedding names ([`Entry`], [`AccountHeader`],
//! [`AccountsDbConfig`], [`AccountsRead`]) and [`alloy_primitives`];
//! `use lanes_runtime::prelude::*;` brings them all.
//!
//! ```
//! use lanes_runtime::prelude::*;
//! use lanes_runtime::native::{NativeExecutor, NativeTx};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (dir, replica_dir) = (tempfile::tempdir()?, tempfile::tempdir()?);
//! let (alice, bob) = (Address::repeat_byte(1), Address::repeat_byte(2));
//! let funded = AccountHeader { balance: U256::from(100), ..Default::default() };
//! let genesis = Genesis { alloc: vec![Entry::Account(alice, funded)], ..Default::default() };
//! let mut chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis)?;
//! let mut replica = Chain::create(replica_dir.path(), AccountsDbConfig::default(), &genesis)?;
//!
//! // One call runs a block (conflicts and all) on 2 threads and seals it.
//! let txs = [NativeTx::transfer(alice, 0, bob, U256::from(30), U256::from(1))];
//! let (timestamp, coinbase) = (1, Address::ZERO);
//! let run = chain.new_bank(timestamp, coinbase).execute_block(&NativeExecutor, &txs, &BlockOptions::new(2))?;
//! assert_eq!(run.included(), 1);
//! chain.commit(&run.sealed)?;
//! // One call replays it elsewhere, from the sets the block records.
//! replica.replay_block(&NativeExecutor, &run.sealed.block, 2)?;
//!
//! assert_eq!(replica.db().get_account(&bob)?.unwrap().balance, U256::from(30));
//! assert_eq!(chain.db().get_account(&alice)?.unwrap().balance, U256::from(69)); // 1 fee
//! # Ok(())
//! # }
//! ```
//!
//! # The state model
//!
//! State is Ethereum-shaped, whatever the executor: an [`AccountHeader`]
//! (nonce, balance, code hash) per 20-byte [`Address`](alloy_primitives::Address)
//! ([`StateKey::Account`]), 32-byte storage slots under an address
//! ([`StateKey::Storage`], or [`StateKey::AllStorage`] for all of them), and
//! code by hash. A non-EVM executor maps its state onto these: a key-value
//! store's values as the slots of one namespace address, its balances as
//! accounts' balances (the example does exactly that).
//!
//! # The contract
//!
//! What the runtime enforces itself, whatever the executor says:
//! - each transaction touches only its set: a [`StateView`] refuses any
//!   other key ([`TxError::AccessViolation`]) and nothing of that run is
//!   kept; the transaction runs again alone (the exclusive lane), and
//!   [`TxRun::strayed`] names the key;
//! - each hash once per block ([`TxError::Duplicate`];
//!   [`ReplayErrorKind::DuplicateTx`] on replay);
//! - the block's gas limit: a run whose [`Outcome::gas_used`] does not fit
//!   what the block has left is not kept ([`TxError::BlockFull`]: deferred to
//!   a later block, or refused if it exceeds a whole block); a replayed or
//!   sealed block over its limit is refused;
//! - on replay: every header field, each entry free of conflicts, each
//!   transaction within its recorded set.
//!
//! What it leaves to the [`Executor`]: the transaction's own validity
//! (nonces, fees and who pays them, signatures), refused with
//! [`TxError::Invalid`]; and that its result depends only on what it reads
//! through the view. [`Transaction`] has three methods; [`PoolTransaction`]
//! adds what lanes-banking-stage's pool orders by (sender, nonce, gas limit,
//! tip), which an embedder running blocks itself leaves out.
//!
//! The seal ([`Bank::seal`]) joins neighbouring entries whose sets do not
//! conflict into one, so a block may record fewer, wider entries than ran
//! ([`BlockRun::entries_run`] against `sealed.block.entries`): the width a
//! replica runs.
//!
//! ```text
//!   txs ──> Bank::execute_block (BlockOptions: threads, Admission, BlockOrder)
//!            │  sets: Admission::admit / predict (default DeclaredAccess)
//!            │  Entries: neighbours whose sets do not conflict, each on N threads
//!            │           (no set, or left it: the exclusive lane)
//!            │  Fixed:   the ordered executor (Bank::execute_ordered)
//!            v
//!   Chain::commit <── BlockRun { sealed, txs: [TxRun] } (fees to coinbase, lattice hash, roots)
//!        │
//!        └──> accounts_db commit; Chain::replay_block re-executes and checks a block
//! ```
//!
//! The parts, for an embedder that schedules itself (lanes-banking-stage
//! does): [`Bank::execute_batch`] runs [`Runnable`]s under locks the caller
//! holds ([`ThreadLocks`]); [`Bank::execute_entry`] runs one entry;
//! [`entries_in_order`] cuts a sequence into entries; [`Chain`] owns the
//! committed state ([`Chain::new_bank`], [`Chain::commit`],
//! [`Chain::replay_block`]). CHANGELOG.md at the repository root lists each
//! change to this API.
//!
//! ## Layers
//!
//! Each module uses only those on its line or below (a test in
//! `tests/it/layout.rs` keeps it so):
//!
//! ```text
//!  run_block                 Bank::execute_block
//!  ordered                   Bank::execute_ordered: {finish, commit} > engine >
//!                            {sequential, ran, schedule, plan, worker_model} > {config, report}
//!  native, admission, chain  the reference executor, the admission hook, committed state
//!  bank, group               running entries and sealing them
//!  executor, admitted, bank_config, seal
//!  view, accesses, block     a bank's state, what it recorded, blocks
//!  access, locks, marks, error
//!  versions, mv              a block's declared writes; its multi-version memory
//!  key, table, lattice, threads, atomic_write, outcome
//! ```
#![forbid(unsafe_code)]

mod access;
mod accesses;
mod admission;
mod admitted;
mod ahead;
mod atomic_write;
mod bank;
mod bank_config;
mod block;
mod chain;
mod error;
mod executor;
mod group;
mod key;
mod lattice;
mod locks;
mod marks;
mod mv;
pub mod native;
mod ordered;
mod outcome;
#[cfg(test)]
mod races;
mod run_block;
mod seal;
mod spare;
mod table;
mod threads;
mod versions;
mod view;
mod write_batch;

pub use access::{AccessSet, AccessSetTooLarge, AccessSource, DEFAULT_MAX_ACCESS_KEYS};
pub use accesses::{BlockAccesses, TxAccesses};
pub use admission::{Admission, AdmitContext, DeclaredAccess};
pub use admitted::{Admitted, Runnable};
pub use atomic_write::write_atomically;
pub use bank::{
    Bank, BankConfig, BaseFee, DEFAULT_MAX_EXCLUSIVE_PER_BLOCK, EntryReport, Executed, SealedBlock,
    StateCommitment, key_counts,
};
pub use block::{
    Block, BlockEntry, BlockHeader, EntryTx, HeaderCodec, LanesHeaders, Roots, entries_root,
    stream_root,
};
pub use chain::{
    Chain, ChainError, DEFAULT_GAS_LIMIT, Genesis, RECENT_HASHES, ReplayError, ReplayErrorKind,
};
pub use error::{BankError, DecodeError, TxError};
pub use executor::{BlockEnv, Executor, KnownWrites, PoolTransaction, Transaction};
pub use group::entries_in_order;
pub use key::StateKey;
pub use lanes_accounts_db::KeyHash;
pub use lattice::{LATTICE_LANES, LatticeHash};
pub use locks::{AccountLocks, LockConflict, MAX_LOCK_THREADS, ThreadLocks};
pub use ordered::{
    DEFAULT_ORDERED_MAX_KEYS, ENGINE_COST, MIN_PARALLEL_GAS, MIN_TXS_PER_THREAD, OrderedConfig,
    OrderedError, OrderedReport, OrderedSets, PARALLEL_GAS_PER_TRANSFER, Run, RunKind, SERIAL_COST,
    TxReport, recorded_sets,
};
pub use outcome::{Outcome, Receipt};
pub use run_block::{
    BlockError, BlockOptions, BlockOrder, BlockRun, HASH_AHEAD_MIN_TXS, MIN_PARALLEL_WORK, TxRun,
    TxStatus,
};
pub use threads::{cores, parallel_map};

/// The crates an embedder's code names: lanes' versions, so one
/// `lanes-runtime` line in `[dependencies]` is enough.
pub use alloy_primitives;
pub use lanes_accounts_db as accounts_db;
/// The accounts database types an embedder touches: a genesis [`Entry`],
/// an account's [`AccountHeader`], the database's [`AccountsDbConfig`], and
/// [`AccountsRead`] to read committed state ([`Chain::db`]).
pub use lanes_accounts_db::{AccountHeader, AccountsDb, AccountsDbConfig, AccountsRead, Entry};

/// Everything an embedding names: `use lanes_runtime::prelude::*;`.
pub mod prelude {
    pub use crate::{
        AccessSet, AccessSource, AccountHeader, AccountsDbConfig, AccountsRead, Admission,
        AdmitContext, Admitted, Bank, BlockEnv, BlockError, BlockOptions, BlockOrder, BlockRun,
        Chain, DecodeError, Entry, Executor, Genesis, Outcome, StateKey, StateView, Transaction,
        TxError, TxRun, TxStatus,
    };
    pub use alloy_primitives::{Address, B256, Bytes, U256};
}
pub use versions::Versions;
pub use view::{ParentSlots, StateView};

#[cfg(test)]
mod tests;

/// A race point of the ordered engine ([`races`]); nothing outside tests.
#[inline(always)]
pub(crate) fn race_point() {
    #[cfg(test)]
    races::point();
}
