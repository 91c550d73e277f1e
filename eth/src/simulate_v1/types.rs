//! What a simulation is given and gives back: its base ([`SimBase`],
//! [`SimRules`]) or the block it builds ([`Build`]), its blocks and calls
//! ([`SimulatedBlock`], [`SimCall`]), and its errors ([`SimulateError`],
//! [`codes`]).

use std::time::Duration;

use alloy_consensus::transaction::Recovered;
use alloy_consensus::{Header, TxEnvelope};
use alloy_eips::eip4895::Withdrawal;
use alloy_eips::eip7685::Requests;
use alloy_primitives::{Address, B256, Bytes, Log};
use lanes_accounts_db::ReadView;

use crate::EthSpec;
use lanes_evm_adapter::SpecId;

/// Error codes of `eth_simulateV1` (the execution-apis specification's).
pub mod codes {
    /// The request is malformed (no blocks; a fee field pair that conflicts).
    pub const INVALID_PARAMS: i32 = -32602;
    /// The base block is unknown, or a state override cannot apply.
    pub const INVALID_INPUT: i32 = -32000;
    /// Any other transaction error.
    pub const INTERNAL: i32 = -32603;
    /// A nonce below the sender's (validation only).
    pub const NONCE_TOO_LOW: i32 = -38010;
    /// A nonce above the sender's (validation only).
    pub const NONCE_TOO_HIGH: i32 = -38011;
    /// A max fee below the block's base fee.
    pub const BASE_FEE_TOO_LOW: i32 = -38012;
    /// A gas limit below the intrinsic gas.
    pub const INTRINSIC_GAS: i32 = -38013;
    /// The sender cannot pay for gas and value.
    pub const INSUFFICIENT_FUNDS: i32 = -38014;
    /// A call's gas is above what the block has left.
    pub const BLOCK_GAS_LIMIT: i32 = -38015;
    /// Block numbers do not increase.
    pub const BLOCK_NUMBER_ORDER: i32 = -38020;
    /// Block times do not increase.
    pub const BLOCK_TIME_ORDER: i32 = -38021;
    /// Init code above the limit.
    pub const INIT_CODE_TOO_LARGE: i32 = -38025;
    /// Too many blocks or calls.
    pub const TOO_MANY: i32 = -38026;
    /// A call reverted.
    pub const REVERTED: i32 = 3;
    /// A call halted (out of gas, invalid opcode, ...).
    pub const HALTED: i32 = -32015;
}

/// Why a simulation gave no blocks: a JSON-RPC error code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SimulateError {
    /// The code ([`codes`]).
    pub code: i32,
    /// What went wrong.
    pub message: String,
}

/// The request ran past its time budget (as `eth_call` words it).
pub(super) fn timed_out(timeout: Duration) -> SimulateError {
    SimulateError {
        code: codes::INTERNAL,
        message: lanes_evm_adapter::SimError::Timeout(timeout).to_string(),
    }
}

/// An error with `code`, as a result.
pub(super) fn fail<T>(code: i32, message: impl Into<String>) -> Result<T, SimulateError> {
    Err(SimulateError { code, message: message.into() })
}

/// A failure of the simulation itself (its state, a decode).
pub(super) fn internal(e: impl std::fmt::Display) -> SimulateError {
    SimulateError { code: codes::INTERNAL, message: e.to_string() }
}

/// The fork rules simulated blocks follow.
#[derive(Clone, Copy, Debug)]
pub enum SimRules<'a> {
    /// A chain imported from Ethereum: its fork schedule.
    Ethereum(&'a EthSpec),
    /// A chain lanes built: one fork throughout, merged from genesis.
    Lanes(SpecId),
}

/// The block a simulation builds on, and how it runs.
#[derive(Debug)]
pub struct SimBase<'a> {
    /// The state after the base block.
    pub view: ReadView,
    /// The base block's Ethereum header.
    pub header: Header,
    /// The base block's hash.
    pub hash: B256,
    /// The hashes of the base block and of up to 255 before it, newest
    /// first.
    pub hashes: Vec<B256>,
    /// The fork rules.
    pub rules: SimRules<'a>,
    /// The chain id.
    pub chain_id: u64,
    /// The gas all the request's calls may use together (geth's RPC gas cap).
    pub gas_cap: u64,
    /// How long the whole request may run.
    pub timeout: Duration,
}

/// One simulated block.
#[derive(Debug, Clone)]
pub struct SimulatedBlock {
    /// Its header.
    pub header: Header,
    /// keccak256 of the header.
    pub hash: B256,
    /// Its RLP size in bytes.
    pub size: u64,
    /// Its transactions (unsigned: a zero signature), with their senders.
    pub txs: Vec<Recovered<TxEnvelope>>,
    /// What each call did.
    pub calls: Vec<SimCall>,
    /// Its execution-layer requests (from Prague; EIP-7685).
    pub requests: Option<Requests>,
}

/// What a block to be proposed is built from (`testing_buildBlockV1`: the
/// Engine API's payload attributes, its transactions, its extra data).
#[derive(Debug, Clone)]
pub struct Build<'a> {
    /// Its time.
    pub timestamp: u64,
    /// Its PREVRANDAO.
    pub prev_randao: B256,
    /// Who its fees go to.
    pub fee_recipient: Address,
    /// Its gas limit.
    pub gas_limit: u64,
    /// The withdrawals it credits (from Shanghai).
    pub withdrawals: &'a [Withdrawal],
    /// The beacon root EIP-4788 stores (from Cancun).
    pub parent_beacon_block_root: Option<B256>,
    /// Its extra data.
    pub extra_data: Bytes,
    /// Its transactions, in order, with their senders.
    pub txs: &'a [Recovered<TxEnvelope>],
    /// Leave out a transaction that cannot apply (a pool's, as a miner
    /// does) rather than refuse the block (transactions the caller named).
    pub skip_invalid: bool,
}

/// What one call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCall {
    /// Whether it succeeded.
    pub status: bool,
    /// Its output (empty when it failed).
    pub return_data: Bytes,
    /// Gas used, after refunds.
    pub gas_used: u64,
    /// Most gas in use at once (before refunds).
    pub max_used_gas: u64,
    /// Its logs with their block-wide indexes (with transfer logs when
    /// asked).
    pub logs: Vec<(u64, Log)>,
    /// Why it failed.
    pub error: Option<SimCallError>,
}

/// A call's failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCallError {
    /// [`codes::REVERTED`] or [`codes::HALTED`].
    pub code: i32,
    /// What happened.
    pub message: String,
    /// The revert data (reverts only).
    pub data: Option<Bytes>,
}
