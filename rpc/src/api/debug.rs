//! `debug_trace*`: geth's tracing methods, run by revm-inspectors; and
//! `debug_getRaw*`: a block's, header's, receipts' or transaction's bytes
//! as Ethereum encodes them.

use crate::block_param::{BlockParam, BlockTag};
use alloy_primitives::{B256, Bytes};
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
        block: Option<BlockParam>,
        opts: Option<GethDebugTracingCallOptions>,
    ) -> RpcResult<GethTrace>;

    /// Every transaction's trace in a block.
    #[method(name = "traceBlockByNumber", blocking)]
    fn trace_block_by_number(
        &self,
        number: BlockTag,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>>;

    /// Every transaction's trace in a block.
    #[method(name = "traceBlockByHash", blocking)]
    fn trace_block_by_hash(
        &self,
        hash: B256,
        opts: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>>;

    /// A block's header, RLP-encoded (its keccak256 is the block's hash);
    /// `null` for an unknown block.
    #[method(name = "getRawHeader")]
    fn raw_header(&self, block: BlockParam) -> RpcResult<Option<Bytes>>;

    /// A whole block, RLP-encoded as on the wire: header, transactions
    /// (EIP-2718), ommers and, from Shanghai, withdrawals.
    #[method(name = "getRawBlock", blocking)]
    fn raw_block(&self, block: BlockParam) -> RpcResult<Option<Bytes>>;

    /// A block's receipts, each as its EIP-2718 encoding.
    #[method(name = "getRawReceipts", blocking)]
    fn raw_receipts(&self, block: BlockParam) -> RpcResult<Option<Vec<Bytes>>>;

    /// A mined transaction's EIP-2718 encoding (what
    /// `eth_sendRawTransaction` took); `null` for an unknown hash. Also
    /// geth's `eth_getRawTransactionByHash` (web3.py's `get_raw_transaction`).
    #[method(name = "getRawTransaction", aliases = ["eth_getRawTransactionByHash"])]
    fn raw_transaction(&self, hash: B256) -> RpcResult<Option<Bytes>>;
}
