//! `txpool_*`: what waits in the node's pool, as geth and anvil list it.

use alloy_primitives::Address;
use alloy_rpc_types_txpool::{TxpoolContent, TxpoolContentFrom, TxpoolInspect, TxpoolStatus};
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

/// The `txpool` namespace. `pending` holds each sender's transactions that
/// are next in line (no nonce gap before them), `queued` those behind a gap.
#[rpc(server, client, namespace = "txpool")]
pub trait TxpoolApi {
    /// How many transactions are pending and queued.
    #[method(name = "status")]
    fn status(&self) -> RpcResult<TxpoolStatus>;

    /// Every waiting transaction, by sender and nonce.
    #[method(name = "content")]
    fn content(&self) -> RpcResult<TxpoolContent>;

    /// [`TxpoolApiServer::content`] for one sender.
    #[method(name = "contentFrom")]
    fn content_from(&self, from: Address) -> RpcResult<TxpoolContentFrom>;

    /// A one-line summary of each waiting transaction, by sender and nonce.
    #[method(name = "inspect")]
    fn inspect(&self) -> RpcResult<TxpoolInspect>;
}
