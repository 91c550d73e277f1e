//! `lanes_*`: what only lanes knows, its entries and its counters.

use alloy_eips::BlockNumberOrTag;
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

use crate::types::{BlockEntries, NodeStats, TransactionStatus};

/// The `lanes` namespace.
#[rpc(server, client, namespace = "lanes")]
pub trait LanesApi {
    /// How a block's transactions were grouped into entries; `null` for a
    /// block not produced yet.
    #[method(name = "getBlockEntries")]
    fn get_block_entries(&self, block: BlockNumberOrTag) -> RpcResult<Option<BlockEntries>>;

    /// Where a transaction the node acknowledged is now: in a block,
    /// waiting in the pool, or dropped and why; `unknown` for a hash it never
    /// took (or one dropped so long ago that it no longer remembers).
    #[method(name = "transactionStatus")]
    fn transaction_status(&self, hash: alloy_primitives::B256) -> RpcResult<TransactionStatus>;

    /// Totals over the blocks produced since the node started.
    #[method(name = "stats")]
    fn stats(&self) -> RpcResult<NodeStats>;

    /// Transactions another validator of the chain accepted, for this
    /// node's pool (not relayed further); answers how many were taken.
    #[method(name = "relayTransactions")]
    fn relay_transactions(&self, txs: Vec<alloy_primitives::Bytes>) -> RpcResult<u64>;
}
