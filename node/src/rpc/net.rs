//! The `net_*` and `web3_*` methods: constants of the node.

use std::sync::Arc;

use jsonrpsee::core::RpcResult;

use crate::NodeState;
use lanes_rpc::api::{NetApiServer, Web3ApiServer};

/// The `net` namespace of a node.
pub(crate) struct NetRpc {
    state: Arc<NodeState>,
}

impl NetRpc {
    pub(crate) fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }
}

impl NetApiServer for NetRpc {
    fn version(&self) -> RpcResult<String> {
        Ok(self.state.chain_id().to_string())
    }

    fn listening(&self) -> RpcResult<bool> {
        Ok(true)
    }
}

/// The `web3` namespace.
pub(crate) struct Web3Rpc {
    state: Arc<NodeState>,
}

impl Web3Rpc {
    pub(crate) fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }
}

impl Web3ApiServer for Web3Rpc {
    fn client_version(&self) -> RpcResult<String> {
        Ok(self.state.client_version.clone())
    }
}
