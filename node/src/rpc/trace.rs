//! `trace_*` ([`TraceApiServer`]): the node finds the block, the state after
//! its parent and its environment; the EVM adapter replays it under
//! revm-inspectors' tracer. As anvil's, traces include calls to precompiles
//! and no block-reward traces (lanes pays no block reward).

use lanes_rpc::block_param::BlockParam;
use std::sync::Arc;

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::B256;
use alloy_primitives::map::HashSet;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_rpc_types_trace::filter::TraceFilter;
use alloy_rpc_types_trace::parity::{
    LocalizedTransactionTrace, TraceResults, TraceResultsWithTransactionHash, TraceType,
};
use jsonrpsee::core::RpcResult;
use lanes_evm_adapter::TracingInspectorConfig;

use crate::NodeState;
use crate::error::{Res, RpcError};
use crate::rpc::call::call_request;
use crate::rpc::tracing::{localized, replay_block, trace_error};
use lanes_rpc::api::TraceApiServer;
use lanes_rpc::types::{LenientBlock, Quantity};

/// Most blocks one `trace_filter` replays (anvil's limit).
pub(crate) const MAX_TRACE_FILTER_BLOCKS: u64 = 300;

/// The `trace` namespace of a node.
pub(crate) struct TraceRpc {
    state: Arc<NodeState>,
}

impl TraceRpc {
    pub(crate) fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }
}

/// The traces `types` ask for of block `number`'s selected transactions.
fn replayed(
    s: &NodeState,
    number: u64,
    selected: impl Fn(usize) -> bool,
    types: &HashSet<TraceType>,
) -> Res<Option<Vec<(B256, TraceResults)>>> {
    let config = TracingInspectorConfig::from_parity_config(types);
    let results = s.heavy.run(|| {
        replay_block(s, number, selected, config, |info, tracer, res, db| {
            let hash = info.hash.unwrap_or_default();
            let results =
                tracer.into_parity_builder().into_trace_results_with_state(res, types, db);
            results.map(|r| (hash, r)).map_err(|e| RpcError::Internal(e.to_string()))
        })
    })?;
    results.map(|r| r.into_iter().collect::<Res<Vec<_>>>()).transpose()
}

impl TraceApiServer for TraceRpc {
    fn transaction(&self, hash: B256) -> RpcResult<Vec<LocalizedTransactionTrace>> {
        let Some((number, index)) = self.state.ledger.locate_tx(&hash) else {
            return Ok(Vec::new());
        };
        Ok(localized(&self.state, number, |i| i == index as usize)?)
    }

    fn get(
        &self,
        hash: B256,
        indices: Vec<Quantity>,
    ) -> RpcResult<Option<LocalizedTransactionTrace>> {
        let [index] = indices[..] else {
            return Err(RpcError::Params("trace_get takes exactly one index".into()).into());
        };
        let traces = self.transaction(hash)?;
        Ok(usize::try_from(index.0).ok().and_then(|i| traces.into_iter().nth(i)))
    }

    fn block(&self, block: LenientBlock) -> RpcResult<Vec<LocalizedTransactionTrace>> {
        let Some(number) = self.state.resolve(block.0) else { return Ok(Vec::new()) };
        Ok(localized(&self.state, number, |_| true)?)
    }

    fn filter(&self, filter: TraceFilter) -> RpcResult<Vec<LocalizedTransactionTrace>> {
        let s = &self.state;
        let head = s.head();
        let from = filter.from_block.unwrap_or(0);
        let to = filter.to_block.unwrap_or(head).min(head);
        if from > to {
            return Err(RpcError::Params(format!(
                "fromBlock {from} is after toBlock {to} (the head is {head})"
            ))
            .into());
        }
        if to - from > MAX_TRACE_FILTER_BLOCKS {
            return Err(RpcError::Limit(format!(
                "trace_filter spans {} blocks, over the {MAX_TRACE_FILTER_BLOCKS} one request may",
                to - from
            ))
            .into());
        }
        let matcher = filter.matcher();
        let mut out = Vec::new();
        for number in from..=to {
            let traces = localized(s, number, |_| true)?;
            out.extend(traces.into_iter().filter(|t| matcher.matches(&t.trace)));
        }
        let after = filter.after.unwrap_or(0) as usize;
        let count = filter.count.map_or(usize::MAX, |c| c as usize);
        Ok(out.into_iter().skip(after).take(count).collect())
    }

    fn replay_transaction(
        &self,
        hash: B256,
        trace_types: HashSet<TraceType>,
    ) -> RpcResult<TraceResults> {
        let s = &self.state;
        let (number, index) = s
            .ledger
            .locate_tx(&hash)
            .ok_or_else(|| RpcError::NotFound(format!("transaction {hash} not found")))?;
        let mut results =
            replayed(s, number, |i| i == index as usize, &trace_types)?.unwrap_or_default();
        let (_, results) =
            results.pop().ok_or_else(|| RpcError::Internal("no trace made".into()))?;
        Ok(results)
    }

    fn replay_block_transactions(
        &self,
        block: LenientBlock,
        trace_types: HashSet<TraceType>,
    ) -> RpcResult<Vec<TraceResultsWithTransactionHash>> {
        let s = &self.state;
        let Some(number) = s.resolve(block.0) else { return Ok(Vec::new()) };
        let results = replayed(s, number, |_| true, &trace_types)?.unwrap_or_default();
        Ok(results
            .into_iter()
            .map(|(transaction_hash, full_trace)| TraceResultsWithTransactionHash {
                full_trace,
                transaction_hash,
            })
            .collect())
    }

    fn call(
        &self,
        request: TransactionRequest,
        trace_types: Option<HashSet<TraceType>>,
        block: Option<BlockParam>,
    ) -> RpcResult<TraceResults> {
        let block = block.map(BlockId::from);
        let mut types = trace_types.unwrap_or_default();
        if types.is_empty() {
            types.insert(TraceType::Trace);
        }
        let s = &self.state;
        let block = block.or(Some(BlockId::Number(BlockNumberOrTag::Latest)));
        Ok(s.heavy.run(|| {
            let (view, env) = s.sim_env(block)?;
            let executor = s.executor_at(s.env_block(block)?)?;
            executor
                .trace_call_parity(view, &env, &call_request(&request, &executor)?, &types)
                .map_err(trace_error)
        })?)
    }
}
