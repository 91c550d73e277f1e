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
//!   txs ──> AccountLocks (all-or-nothing) ──> Bank::execute_entry ──> threads
//!                                                 │   each tx: StateView (only its keys)
//!                                                 │   violators / undeclared: exclusive lane
//!                                                 v
//!   Chain::commit <── SealedBlock <── Bank::seal (fees to coinbase, lattice hash, roots)
//!        │
//!        └──> accounts_db commit; Chain::replay_block re-executes and checks a block
//! ```
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
mod bank;
mod block;
mod chain;
mod executor;
mod group;
mod key;
mod lattice;
mod locks;
pub mod native;
mod table;
mod view;

pub use access::{AccessSet, AccessSetTooLarge, DEFAULT_MAX_ACCESS_KEYS};
pub use bank::{
    Bank, BankConfig, BankError, DEFAULT_MAX_EXCLUSIVE_PER_BLOCK, EntryReport, Executed,
    SealedBlock, key_counts,
};
pub use block::{Block, BlockEntry, BlockHeader, EntryTx, merkle_root};
pub use chain::{Chain, ChainError, Genesis, RECENT_HASHES, ReplayError, ReplayErrorKind};
pub use executor::{BlockEnv, DecodeError, Executor, Outcome, Receipt, Transaction, TxError};
pub use group::entries_in_order;
pub use key::StateKey;
pub use lanes_accounts_db::KeyHash;
pub use lattice::{LATTICE_LANES, LatticeHash};
pub use locks::{AccountLocks, LockConflict, MAX_LOCK_THREADS, ThreadLocks};
pub use view::StateView;

#[cfg(test)]
mod tests;
