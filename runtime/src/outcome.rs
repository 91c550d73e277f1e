//! What running a transaction leaves behind besides its state changes: its
//! [`Outcome`], and the [`Receipt`] a block keeps of it.

use alloy_primitives::{B256, Bytes, U256};
use borsh::{BorshDeserialize, BorshSerialize};

/// What an executed transaction leaves behind, besides its state changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Outcome {
    /// Whether it succeeded (a failed transaction is still included and pays).
    pub success: bool,
    /// Gas (or any unit of work) used.
    pub gas_used: u64,
    /// Fee credited to the block's coinbase at seal.
    pub fee: U256,
    /// Executor-specific data: logs, return data, a contract address.
    pub data: Bytes,
}

/// The receipt of a transaction in a block.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Receipt {
    /// The transaction's hash.
    pub tx_hash: B256,
    /// Gas used by this and all earlier transactions of the block.
    pub cumulative_gas_used: u64,
    /// The executor's outcome.
    pub outcome: Outcome,
}
