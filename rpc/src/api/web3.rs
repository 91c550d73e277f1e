//! `web3_*`.

use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

/// The `web3` namespace.
#[rpc(server, client, namespace = "web3")]
pub trait Web3Api {
    /// `lanes/v<version>`.
    #[method(name = "clientVersion")]
    fn client_version(&self) -> RpcResult<String>;
}
