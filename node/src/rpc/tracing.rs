//! Replaying a block's transactions under a tracer, for `debug_trace*`,
//! `trace_*`, `ots_*` and a dev node's mining answers: the node finds the
//! block, the state after its parent and its environment; the EVM adapter
//! runs the trace.

use alloy_eips::BlockId;
use alloy_primitives::B256;
use alloy_rpc_types_eth::TransactionInfo;
use alloy_rpc_types_trace::geth::{GethDebugTracingOptions, GethTrace};
use alloy_rpc_types_trace::parity::LocalizedTransactionTrace;
use lanes_evm_adapter::{TraceError, TraceState, TracingInspector, TracingInspectorConfig};
use revm::context::result::ResultAndState;

use crate::NodeState;
use crate::error::{Res, RpcError};

/// A tracer's failure as the method's error.
pub(crate) fn trace_error(e: TraceError) -> RpcError {
    match e {
        TraceError::Timeout(_) | TraceError::TooBig(_) => RpcError::Limit(e.to_string()),
        TraceError::State(_) => RpcError::Internal(e.to_string()),
        e => RpcError::Invalid(e.to_string()),
    }
}

/// The traces of block `number`'s transactions that `selected` picks, with
/// their hashes.
pub(crate) fn trace_block(
    s: &NodeState,
    number: u64,
    selected: impl Fn(usize) -> bool,
    opts: &GethDebugTracingOptions,
) -> Res<Vec<(B256, GethTrace)>> {
    let lb =
        s.block(number)?.ok_or_else(|| RpcError::NotFound(format!("block {number} not found")))?;
    let txs = s.decode_txs(&lb)?;
    if txs.is_empty() {
        return Ok(Vec::new());
    }
    // Transactions run from the state after the parent (there is one: the
    // genesis holds none).
    let view = s.state_at(Some(BlockId::number(number - 1)))?;
    let env = s.header_env(&lb.block.header);
    let traces = s
        .executor_at(Some(number))?
        .trace_block(view, &env, lb.block.hash, &txs, &selected, opts)
        .map_err(trace_error)?;
    let hashes = txs.iter().enumerate().filter(|(i, _)| selected(*i)).map(|(_, tx)| tx.hash());
    Ok(hashes.zip(traces).collect())
}

/// What `finish` makes of each transaction of block `number` that
/// `selected` picks, replayed under a tracer with `config`; with the
/// transaction's hash and index. An unknown block answers `None`.
pub(crate) fn replay_block<T>(
    s: &NodeState,
    number: u64,
    selected: impl Fn(usize) -> bool,
    config: TracingInspectorConfig,
    finish: impl Fn(TransactionInfo, TracingInspector, &ResultAndState, &TraceState<'_>) -> T,
) -> Res<Option<Vec<T>>> {
    let Some(lb) = s.block(number)? else { return Ok(None) };
    let txs = s.decode_txs(&lb)?;
    if txs.is_empty() {
        return Ok(Some(Vec::new()));
    }
    // A block with transactions is not the genesis: it has a parent.
    let view = s.state_at(Some(BlockId::number(number - 1)))?;
    let env = s.header_env(&lb.block.header);
    let info = |i: usize| TransactionInfo {
        hash: Some(txs[i].hash()),
        index: Some(i as u64),
        block_hash: Some(lb.block.hash),
        block_number: Some(number),
        base_fee: Some(lb.block.header.base_fee),
        block_timestamp: Some(lb.block.header.timestamp),
    };
    let out = s
        .executor_at(Some(number))?
        .replay_traced(view, &env, &txs, selected, config, |i, tracer, res, db| {
            finish(info(i), tracer, res, db)
        })
        .map_err(trace_error)?;
    Ok(Some(out))
}

/// The tracer config of `trace_transaction` and `trace_block`: anvil's,
/// which keeps calls to precompiles.
pub(crate) fn call_traces() -> TracingInspectorConfig {
    TracingInspectorConfig::default_parity().set_exclude_precompile_calls(false)
}

/// The call traces of block `number`'s transactions that `selected` picks,
/// in order; `[]` for an unknown block.
pub(crate) fn localized(
    s: &NodeState,
    number: u64,
    selected: impl Fn(usize) -> bool,
) -> Res<Vec<LocalizedTransactionTrace>> {
    let traces = s.heavy.run(|| {
        replay_block(s, number, selected, call_traces(), |info, tracer, _, _| {
            tracer.into_parity_builder().into_localized_transaction_traces(info)
        })
    })?;
    Ok(traces.unwrap_or_default().into_iter().flatten().collect())
}
