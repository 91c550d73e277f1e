//! `debug_trace*` ([`DebugApiServer`]): the node finds the block, the state
//! after its parent and its environment; the EVM adapter runs the trace.
//! `debug_getRaw*`: the ledger's blocks in Ethereum's encodings.

use lanes_rpc::block_param::{BlockParam, BlockTag};
use std::sync::Arc;

use alloy_eips::eip2718::Encodable2718;
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{B256, Bytes};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_rpc_types_trace::geth::{
    GethDebugTracingCallOptions, GethDebugTracingOptions, GethTrace, TraceResult,
};
use jsonrpsee::core::RpcResult;

use crate::NodeState;
use crate::convert;
use crate::error::{Res, RpcError};
use crate::rpc::call::call_request;
use crate::rpc::tracing::{trace_block, trace_error};
use lanes_rpc::api::DebugApiServer;

/// The `debug` namespace of a node.
pub(crate) struct DebugRpc {
    state: Arc<NodeState>,
}

impl DebugRpc {
    pub(crate) fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }
}

fn block_results(
    s: &NodeState,
    number: u64,
    opts: Option<GethDebugTracingOptions>,
) -> Res<Vec<TraceResult>> {
    // No state before it to run from (geth refuses it the same way).
    if number == 0 {
        return Err(RpcError::Invalid("genesis is not traceable".into()));
    }
    let opts = opts.unwrap_or_default();
    let traces = s.heavy.run(|| trace_block(s, number, |_| true, &opts))?;
    Ok(traces
        .into_iter()
        .map(|(hash, result)| TraceResult::Success { result, tx_hash: Some(hash) })
        .collect())
}

impl DebugApiServer for DebugRpc {
    fn trace_transaction(
        &self,
        hash: B256,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<GethTrace> {
        let s = &self.state;
        let (number, index) = s
            .ledger
            .locate_tx(&hash)
            .ok_or_else(|| RpcError::Invalid(format!("transaction {hash} not found in a block")))?;
        let index = index as usize;
        let opts = opts.unwrap_or_default();
        let mut traces = s.heavy.run(|| trace_block(s, number, |i| i == index, &opts))?;
        let (_, trace) = traces.pop().ok_or_else(|| RpcError::Internal("no trace made".into()))?;
        Ok(trace)
    }

    fn trace_call(
        &self,
        request: TransactionRequest,
        block: Option<BlockParam>,
        opts: Option<GethDebugTracingCallOptions>,
    ) -> RpcResult<GethTrace> {
        let block = block.map(BlockId::from);
        let opts = opts.unwrap_or_default();
        if opts.state_overrides.is_some() || opts.block_overrides.is_some() {
            return Err(RpcError::Unsupported(
                "debug_traceCall with state or block overrides is not supported".into(),
            )
            .into());
        }
        let s = &self.state;
        Ok(s.heavy.run(|| {
            let (view, env) = s.sim_env(block)?;
            let executor = s.executor_at(s.env_block(block)?)?;
            executor
                .trace_call(view, &env, &call_request(&request, &executor)?, &opts.tracing_options)
                .map_err(trace_error)
        })?)
    }

    fn trace_block_by_number(
        &self,
        number: BlockTag,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>> {
        let number = BlockNumberOrTag::from(number);
        let s = &self.state;
        let number = s
            .resolve(number)
            .ok_or_else(|| RpcError::Invalid(format!("block {number} not found")))?;
        Ok(block_results(s, number, opts)?)
    }

    fn trace_block_by_hash(
        &self,
        hash: B256,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>> {
        let s = &self.state;
        let number = s
            .ledger
            .number_of(&hash)
            .ok_or_else(|| RpcError::Invalid(format!("block {hash} not found")))?;
        Ok(block_results(s, number, opts)?)
    }

    fn raw_header(&self, block: BlockParam) -> RpcResult<Option<Bytes>> {
        let block = BlockId::from(block);
        let s = &self.state;
        let Some(lb) = s.block_at(block)? else { return Ok(None) };
        Ok(Some(convert::raw_header(&lb.block, s.block_form())))
    }

    fn raw_block(&self, block: BlockParam) -> RpcResult<Option<Bytes>> {
        let block = BlockId::from(block);
        let s = &self.state;
        let Some(lb) = s.block_at(block)? else { return Ok(None) };
        let txs = s.decode_txs(&lb)?;
        Ok(Some(convert::raw_block(&lb, s.block_form(), &txs)))
    }

    fn raw_receipts(&self, block: BlockParam) -> RpcResult<Option<Vec<Bytes>>> {
        let block = BlockId::from(block);
        let s = &self.state;
        let Some(lb) = s.block_at(block)? else { return Ok(None) };
        let txs = s.decode_txs(&lb)?;
        let statuses = convert::statuses(&lb);
        let encoded = txs.iter().zip(&lb.receipts).zip(statuses).map(|((tx, r), status)| {
            let mut envelope = lanes_evm_adapter::receipt_envelope(tx.envelope().tx_type(), r);
            if let Some(with_bloom) = envelope.as_receipt_with_bloom_mut() {
                with_bloom.receipt.status = status;
            }
            envelope.encoded_2718().into()
        });
        Ok(Some(encoded.collect()))
    }

    fn raw_transaction(&self, hash: B256) -> RpcResult<Option<Bytes>> {
        let Some((lb, index)) = self.state.find_tx(&hash)? else { return Ok(None) };
        Ok(lb.block.txs().nth(index).map(|t| t.tx.clone()))
    }
}
