//! `debug_trace*`: geth's tracing methods, run by revm-inspectors.

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::B256;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_rpc_types_trace::geth::{
    GethDebugTracingCallOptions, GethDebugTracingOptions, GethTrace, TraceResult,
};
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

/// The `debug` namespace's tracing methods. Each runs the block's
/// transactions again, in order, from the state after its parent, which the
/// node must still keep (`--history-blocks`), under a time budget (the
/// options' `timeout`, default 5 s, at most 60 s).
#[rpc(server, client, namespace = "debug")]
pub trait DebugApi {
    /// A mined transaction's trace: the struct logger, or the tracer the
    /// options name (`callTracer`, `prestateTracer` with `diffMode`, ...).
    #[method(name = "traceTransaction", blocking)]
    fn trace_transaction(
        &self,
        hash: B256,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<GethTrace>;

    /// A call's trace, run as `eth_call` runs it at `block`.
    #[method(name = "traceCall", blocking)]
    fn trace_call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        opts: Option<GethDebugTracingCallOptions>,
    ) -> RpcResult<GethTrace>;

    /// Every transaction's trace in a block.
    #[method(name = "traceBlockByNumber", blocking)]
    fn trace_block_by_number(
        &self,
        number: BlockNumberOrTag,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>>;

    /// Every transaction's trace in a block.
    #[method(name = "traceBlockByHash", blocking)]
    fn trace_block_by_hash(
        &self,
        hash: B256,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>>;
}
