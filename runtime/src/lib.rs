//! lanes-runtime: declared-access execution over the accounts database.
//!
//! Every transaction declares the state it reads and writes (an [`AccessSet`]
//! of [`StateKey`]s). Transactions whose sets do not conflict form an *entry*
//! and run side by side; a [`StateView`] lets each touch only its own keys, so
//! the result cannot depend on the order, and any node can replay the block in
//! parallel to the same state commitment. The runtime knows nothing of the EVM:
//! it runs any [`Executor`].
//!
//! ```text
//!   tx ──> Admission::admit (default DeclaredAccess: Transaction::access_set)
//!            │  Admitted { access, source }: the set to lock, and where it came from
//!            v
//!   lock (AccountLocks / ThreadLocks) ──> Bank::execute_entry / execute_batch (any Runnable)
//!                                                 │   each tx: StateView (only its keys)
//!                                                 │   violators / undeclared: exclusive lane
//!                                                 v
//!   Chain::commit <── SealedBlock <── Bank::seal (fees to coinbase, lattice hash, roots)
//!        │
//!        └──> accounts_db commit; Chain::replay_block re-executes and checks a block
//! ```
//!
//! The contract for an embedder:
//! - [`Executor`] runs one [`Transaction`] against a [`StateView`] that
//!   refuses keys outside the transaction's set ([`TxError::AccessViolation`]);
//!   nothing of a refused attempt is kept.
//! - [`Admission`] decides, when a transaction is admitted, the set it is
//!   locked and run with: its own declaration ([`DeclaredAccess`]), or one an
//!   embedder knows or predicts for transactions that declare nothing. A
//!   wrong set costs time (the exclusive lane), never correctness.
//! - [`Bank`] is the block being built; [`Bank::execute_batch`] runs
//!   [`Runnable`]s (a transaction with its set) and records entries, which
//!   carry the sets that were locked, so [`Chain::replay_block`] never needs
//!   the admission hook.
//! - [`Chain`] owns the committed state: [`Chain::new_bank`],
//!   [`Chain::commit`], [`Chain::replay_block`].
//!
//! `runtime/examples/transfers.rs` runs all of it end to end; CHANGELOG.md
//! at the repository root lists each change to this API.
//!
//! ```
//! use lanes_runtime::{Chain, Genesis, native::{NativeExecutor, NativeTx}};
//! use lanes_accounts_db::{AccountHeader, AccountsDbConfig, AccountsRead, Entry};
//! use alloy_primitives::{Address, U256};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let (alice, bob) = (Address::repeat_byte(1), Address::repeat_byte(2));
//! let funded = AccountHeader { balance: U256::from(100), ..Default::default() };
//! let genesis = Genesis { alloc: vec![Entry::Account(alice, funded)], gas_limit: 1_000_000, ..Default::default() };
//! let mut chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis)?;
//!
//! let mut bank = chain.new_bank(1, Address::ZERO);
//! let tx = NativeTx::transfer(alice, 0, bob, U256::from(30), U256::from(1));
//! let report = bank.execute_entry(&NativeExecutor, vec![tx], 2)?;
//! assert_eq!(report.included.len(), 1);
//! chain.commit(&bank.seal()?)?;
//!
//! assert_eq!(chain.db().get_account(&bob)?.unwrap().balance, U256::from(30));
//! assert_eq!(chain.db().get_account(&alice)?.unwrap().balance, U256::from(69)); // 1 fee
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod access;
mod admission;
mod atomic_write;
mod bank;
mod block;
mod chain;
mod executor;
mod group;
mod key;
mod lattice;
mod locks;
pub mod native;
mod ordered;
mod seal;
mod table;
mod threads;
mod view;

pub use access::{AccessSet, AccessSetTooLarge, DEFAULT_MAX_ACCESS_KEYS};
pub use admission::{AccessSource, Admission, AdmitContext, Admitted, DeclaredAccess, Runnable};
pub use atomic_write::write_atomically;
pub use bank::{
    Bank, BankConfig, BankError, DEFAULT_MAX_EXCLUSIVE_PER_BLOCK, EntryReport, Executed,
    SealedBlock, key_counts,
};
pub use block::{
    Block, BlockEntry, BlockHeader, EntryTx, HeaderCodec, LanesHeaders, Roots, entries_root,
    merkle_root,
};
pub use chain::{Chain, ChainError, Genesis, RECENT_HASHES, ReplayError, ReplayErrorKind};
pub use executor::{BlockEnv, DecodeError, Executor, Outcome, Receipt, Transaction, TxError};
pub use group::entries_in_order;
pub use key::StateKey;
pub use lanes_accounts_db::KeyHash;
pub use lattice::{LATTICE_LANES, LatticeHash};
pub use locks::{AccountLocks, LockConflict, MAX_LOCK_THREADS, ThreadLocks};
pub use ordered::{
    DEFAULT_ORDERED_MAX_KEYS, OrderedConfig, OrderedError, OrderedReport, OrderedSets, Run,
    RunKind, TxReport, recorded_sets,
};
pub use threads::parallel_map;
pub use view::StateView;

#[cfg(test)]
mod tests;
