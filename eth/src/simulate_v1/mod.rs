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
mod types;

use std::time::Instant;

use alloy_primitives::U256;
use alloy_rpc_types_eth::simulate::{SimBlock, SimulatePayload};
use lanes_runtime::BlockEnv;
use revm::database::CacheDB;

use self::block::Simulator;
use super::StateTrie;
use lanes_evm_adapter::TraceDb;

pub use hooks::{TRANSFER_LOG_ADDRESS, TRANSFER_TOPIC};
pub use types::{
    Build, SimBase, SimCall, SimCallError, SimRules, SimulateError, SimulatedBlock, codes,
};
use types::{fail, timed_out};

/// Most blocks one request simulates, gap blocks included.
pub const MAX_SIMULATED_BLOCKS: u64 = 256;
/// Most calls one request runs, over all its blocks.
pub const MAX_SIMULATED_CALLS: usize = 10_000;
/// Seconds between a simulated block and the one before it, when the
/// request does not set its time (geth's).
pub const SIMULATED_BLOCK_TIME: u64 = 12;

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
        db: CacheDB::new(TraceDb::new(base.view.clone(), &env)),
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
        db: CacheDB::new(TraceDb::new(base.view.clone(), &env)),
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
