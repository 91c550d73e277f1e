//! `trace_*`: Parity's (OpenEthereum's) tracing methods, as anvil, reth and
//! Erigon serve them, run by revm-inspectors' parity tracer.

use crate::block_param::BlockParam;
use alloy_primitives::B256;
use alloy_primitives::map::HashSet;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_rpc_types_trace::filter::TraceFilter;
use alloy_rpc_types_trace::parity::{
    LocalizedTransactionTrace, TraceResults, TraceResultsWithTransactionHash, TraceType,
};
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

use crate::types::{LenientBlock, Quantity};

/// The `trace` namespace. Each method runs its block's transactions again,
/// in order, from the state after the block's parent (kept for
/// `--history-blocks`), within the trace time budget (5 s).
#[rpc(server, client, namespace = "trace")]
pub trait TraceApi {
    /// A mined transaction's call traces; `[]` for an unknown hash (as
    /// anvil answers).
    #[method(name = "transaction", blocking)]
    fn transaction(&self, hash: B256) -> RpcResult<Vec<LocalizedTransactionTrace>>;

    /// The call trace of a mined transaction at `indices` (one index: the
    /// trace at that position, in order).
    #[method(name = "get", blocking)]
    fn get(
        &self,
        hash: B256,
        indices: Vec<Quantity>,
    ) -> RpcResult<Option<LocalizedTransactionTrace>>;

    /// Every transaction's call traces in a block; `[]` for an unknown block.
    #[method(name = "block", blocking)]
    fn block(&self, block: LenientBlock) -> RpcResult<Vec<LocalizedTransactionTrace>>;

    /// The traces of the blocks `filter` names (at most 300) that match its
    /// addresses, after `after` and at most `count` of them.
    #[method(name = "filter", blocking)]
    fn filter(&self, filter: TraceFilter) -> RpcResult<Vec<LocalizedTransactionTrace>>;

    /// A mined transaction run again with the traces `trace_types` ask for
    /// (`trace`, `vmTrace`, `stateDiff`).
    #[method(name = "replayTransaction", blocking)]
    fn replay_transaction(
        &self,
        hash: B256,
        trace_types: HashSet<TraceType>,
    ) -> RpcResult<TraceResults>;

    /// [`TraceApiServer::replay_transaction`] for every transaction of a block.
    #[method(name = "replayBlockTransactions", blocking)]
    fn replay_block_transactions(
        &self,
        block: LenientBlock,
        trace_types: HashSet<TraceType>,
    ) -> RpcResult<Vec<TraceResultsWithTransactionHash>>;

    /// A call, run as `eth_call` runs it at `block`, with the traces
    /// `trace_types` ask for (default: `trace`).
    #[method(name = "call", blocking)]
    fn call(
        &self,
        request: TransactionRequest,
        trace_types: Option<HashSet<TraceType>>,
        block: Option<BlockParam>,
    ) -> RpcResult<TraceResults>;
}
