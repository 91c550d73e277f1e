//! `eth_simulateV1`: calls run in a chain of blocks built on a served block,
//! each with its own block and state overrides, and nothing kept
//! ([`simulate_v1`]). Every block is sealed as an Ethereum block - system
//! calls, receipts, requests and the Merkle-Patricia state root - so its
//! hash is the one geth gives, and later blocks see it through BLOCKHASH.
//!
//! ```text
//!  payload ─> sanitize (numbers, times, gap blocks; every error before any run)
//!     │
//!     v  per block, over one CacheDB on the base state
//!  header (miner, gas limit carried; base fee; excess blob gas)
//!     │  state overrides, precompile moves (this block only)
//!     │  EIP-4788 / EIP-2935 system calls
//!     │  calls (nonce and gas defaults, the request's gas budget)
//!     │  rewards before the merge, Prague requests
//!     v
//!  seal ─> receipts, bloom, state root, hash ─> the next block's parent
//! ```

mod block;
mod call;
mod hooks;

use std::time::{Duration, Instant};

use alloy_consensus::transaction::Recovered;
use alloy_consensus::{Header, TxEnvelope};
use alloy_eips::eip4895::Withdrawal;
use alloy_eips::eip7685::Requests;
use alloy_primitives::{Address, B256, Bytes, Log, U256};
use alloy_rpc_types_eth::simulate::{SimBlock, SimulatePayload};
use lanes_accounts_db::ReadView;
use lanes_runtime::BlockEnv;
use revm::database::CacheDB;

use self::block::Simulator;
use super::{EthSpec, StateTrie};
use crate::SpecId;
use crate::trace::TraceDb;

pub use hooks::{TRANSFER_LOG_ADDRESS, TRANSFER_TOPIC};

/// Most blocks one request simulates, gap blocks included.
pub const MAX_SIMULATED_BLOCKS: u64 = 256;
/// Most calls one request runs, over all its blocks.
pub const MAX_SIMULATED_CALLS: usize = 10_000;
/// Seconds between a simulated block and the one before it, when the
/// request does not set its time (geth's).
pub const SIMULATED_BLOCK_TIME: u64 = 12;

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
fn timed_out(timeout: Duration) -> SimulateError {
    SimulateError { code: codes::INTERNAL, message: crate::SimError::Timeout(timeout).to_string() }
}

fn fail<T>(code: i32, message: impl Into<String>) -> Result<T, SimulateError> {
    Err(SimulateError { code, message: message.into() })
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

/// A block built by [`build_block`].
#[derive(Debug, Clone)]
pub struct BuiltBlock {
    /// The block; a transaction left out has no call.
    pub block: SimulatedBlock,
    /// What its fee recipient earns: each transaction's tip for the gas it
    /// used.
    pub value: U256,
}

/// Builds the block `build` describes on `base`, as a proposer would
/// (every check of a transaction holds), and seals it: header, roots,
/// hash. Nothing is kept.
pub fn build_block(base: &SimBase<'_>, build: &Build<'_>) -> Result<BuiltBlock, SimulateError> {
    if build.timestamp <= base.header.timestamp {
        return fail(
            codes::INVALID_PARAMS,
            format!(
                "timestamp {} is not after the parent's, {}",
                build.timestamp, base.header.timestamp
            ),
        );
    }
    let env = BlockEnv {
        number: base.header.number + 1,
        recent_hashes: base.hashes.clone(),
        ..BlockEnv::default()
    };
    let world = StateTrie::load(&base.view).map_err(|e| SimulateError {
        code: codes::INTERNAL,
        message: format!("state read failed: {e}"),
    })?;
    let mut sim = Simulator {
        base,
        db: CacheDB::new(TraceDb { view: base.view.clone(), env: &env }),
        world,
        parent: base.header.clone(),
        budget: u64::MAX,
        deadline: Instant::now() + base.timeout,
        validation: true,
        transfers: false,
        build: Some(build),
    };
    let overrides = alloy_rpc_types_eth::BlockOverrides {
        time: Some(build.timestamp),
        random: Some(build.prev_randao),
        coinbase: Some(build.fee_recipient),
        gas_limit: Some(build.gas_limit),
        ..Default::default()
    };
    let request = SimBlock { block_overrides: Some(overrides), ..SimBlock::default() };
    let block = sim.block(base.header.number + 1, build.timestamp, Some(&request))?;
    let base_fee = block.header.base_fee_per_gas.unwrap_or(0);
    let value = block.txs.iter().zip(&block.calls).fold(U256::ZERO, |sum, (tx, call)| {
        let tip = alloy_consensus::Transaction::effective_tip_per_gas(tx.inner(), base_fee);
        sum + U256::from(tip.unwrap_or(0)) * U256::from(call.gas_used)
    });
    Ok(BuiltBlock { block, value })
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

/// One block's number and time, and its part of the request (`None`: a
/// gap block).
type Planned<'p> = (u64, u64, Option<&'p SimBlock>);

/// Runs `payload` on `base` (geth's `eth_simulateV1`): the simulated
/// blocks, gap blocks included, or the error that stopped the request.
pub fn simulate_v1(
    base: &SimBase<'_>,
    payload: &SimulatePayload,
) -> Result<Vec<SimulatedBlock>, SimulateError> {
    let plan = plan(base, payload)?;
    let calls: usize = payload.block_state_calls.iter().map(|b| b.calls.len()).sum();
    if calls > MAX_SIMULATED_CALLS {
        return fail(codes::TOO_MANY, format!("too many calls: {calls} > {MAX_SIMULATED_CALLS}"));
    }
    let env = BlockEnv {
        number: base.header.number + 1,
        recent_hashes: base.hashes.clone(),
        ..BlockEnv::default()
    };
    let state = |e: &dyn std::fmt::Display| SimulateError {
        code: codes::INTERNAL,
        message: format!("state read failed: {e}"),
    };
    let world = StateTrie::load(&base.view).map_err(|e| state(&e))?;
    let mut sim = Simulator {
        base,
        db: CacheDB::new(TraceDb { view: base.view.clone(), env: &env }),
        world,
        parent: base.header.clone(),
        budget: base.gas_cap,
        deadline: Instant::now() + base.timeout,
        validation: payload.validation,
        transfers: payload.trace_transfers,
        build: None,
    };
    let mut out = Vec::with_capacity(plan.len());
    for (number, time, block) in plan {
        // Sealing walks the whole state: the time budget holds across blocks too.
        if Instant::now() >= sim.deadline {
            return Err(timed_out(base.timeout));
        }
        let sealed = sim.block(number, time, block)?;
        sim.parent = sealed.header.clone();
        sim.db.cache.block_hashes.insert(U256::from(number), sealed.hash);
        out.push(sealed);
    }
    Ok(out)
}

/// Every block's number and time, gap blocks inserted: all ordering
/// errors come before any block runs.
fn plan<'p>(
    base: &SimBase<'_>,
    payload: &'p SimulatePayload,
) -> Result<Vec<Planned<'p>>, SimulateError> {
    let blocks = &payload.block_state_calls;
    if blocks.is_empty() {
        return fail(codes::INVALID_PARAMS, "empty input");
    }
    if blocks.len() as u64 > MAX_SIMULATED_BLOCKS {
        return fail(codes::TOO_MANY, format!("too many blocks: {}", blocks.len()));
    }
    let (mut number, mut time) = (base.header.number, base.header.timestamp);
    let mut plan = Vec::new();
    for block in blocks {
        let o = block.block_overrides.as_ref();
        let next = match o.and_then(|o| o.number) {
            Some(n) => u64::try_from(n).or_else(|_| {
                fail(codes::BLOCK_NUMBER_ORDER, format!("block number {n} is too large"))
            })?,
            None => number.saturating_add(1),
        };
        if next <= number {
            return fail(
                codes::BLOCK_NUMBER_ORDER,
                format!("block numbers must be in order: {next} <= {number}"),
            );
        }
        if next - base.header.number > MAX_SIMULATED_BLOCKS {
            return fail(codes::TOO_MANY, format!("too many blocks: {next} is too far ahead"));
        }
        for gap in number + 1..next {
            time = time.saturating_add(SIMULATED_BLOCK_TIME);
            plan.push((gap, time, None));
        }
        let at = o.and_then(|o| o.time).unwrap_or(time.saturating_add(SIMULATED_BLOCK_TIME));
        if at <= time {
            return fail(
                codes::BLOCK_TIME_ORDER,
                format!("block timestamps must be in order: {at} <= {time}"),
            );
        }
        (number, time) = (next, at);
        plan.push((number, time, Some(block)));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests;
