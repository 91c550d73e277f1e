//! A [`crate::Bank`]'s settings, and the state commitment a chain may
//! choose over the lattice hash.

use std::sync::Arc;

use alloy_primitives::B256;
use lanes_accounts_db::{Entry, ReadView, StorageError};

use crate::block::{HeaderCodec, LanesHeaders};

/// Default bound on exclusive-lane transactions per block: none. The block
/// gas limit bounds the lane, so a stream of transactions that cannot run in
/// parallel still runs at one thread's speed.
pub const DEFAULT_MAX_EXCLUSIVE_PER_BLOCK: usize = usize::MAX;

/// Settings of a [`Bank`](crate::Bank).
#[derive(Clone, Debug)]
pub struct BankConfig {
    /// Most transactions one block runs in the exclusive lane; more are
    /// handed back as deferred. Unbounded by default.
    pub max_exclusive_per_block: usize,
    /// The roots and hash of the blocks sealed ([`LanesHeaders`] by
    /// default; the EVM's is Ethereum's).
    pub headers: Arc<dyn HeaderCodec>,
    /// Whether blocks may carry system writes ([`Bank::apply_system`](crate::Bank::apply_system)): a
    /// dev chain's. Off by default, and a replay refuses such a block then.
    pub allow_system: bool,
    /// Whether the bank records what each kept transaction read and wrote
    /// ([`SealedBlock::accesses`](crate::SealedBlock::accesses)): the material of an EVM block's access
    /// list. Off by default (it costs a copy of each transaction's writes).
    pub record_accesses: bool,
    /// What headers commit the state to: `None`, lanes' lattice hash (the
    /// default); else this commitment (an EVM chain's Merkle-Patricia
    /// root). The lattice hash is kept either way.
    pub commitment: Option<Arc<dyn StateCommitment>>,
    /// A block's budget besides gas, which each kept transaction's
    /// [`Transaction::block_units`](crate::Transaction::block_units) count against (an EVM chain's blob gas
    /// per block). Unbounded by default.
    pub max_block_units: u64,
}

impl Default for BankConfig {
    fn default() -> Self {
        Self {
            max_exclusive_per_block: DEFAULT_MAX_EXCLUSIVE_PER_BLOCK,
            headers: Arc::new(LanesHeaders),
            allow_system: false,
            record_accesses: false,
            commitment: None,
            max_block_units: u64::MAX,
        }
    }
}

/// A state commitment of a chain's own choosing, which its headers carry in
/// place of the lattice hash ([`BankConfig::commitment`]).
pub trait StateCommitment: Send + Sync + std::fmt::Debug {
    /// The commitment to a state of `alloc` alone (block 0's).
    fn genesis(&self, alloc: &[Entry]) -> B256;
    /// The commitment to the state a sealed block's `changes` make of
    /// `parent`.
    fn commit(&self, parent: &ReadView, changes: &[Entry]) -> Result<B256, StorageError>;
}
