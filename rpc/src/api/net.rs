//! `net_*`.

use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

/// The `net` namespace.
#[rpc(server, client, namespace = "net")]
pub trait NetApi {
    /// The chain id, as a decimal string.
    #[method(name = "version")]
    fn version(&self) -> RpcResult<String>;

    /// Always `true`: the node serves while it runs.
    #[method(name = "listening")]
    fn listening(&self) -> RpcResult<bool>;
}
