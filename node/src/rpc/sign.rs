//! Signing with the node's unlocked accounts: `eth_sign`, `personal_sign`,
//! `eth_signTypedData_v4` ([`PersonalApiServer`] for `personal_*`; the
//! `eth_*` ones are in the eth impl and call here).

use std::sync::Arc;

use alloy_primitives::{Address, Bytes};
use jsonrpsee::core::RpcResult;

use crate::NodeState;
use crate::rpc::signing::personal;
use lanes_rpc::api::PersonalApiServer;

/// The `personal` namespace of a node.
pub(crate) struct PersonalRpc {
    state: Arc<NodeState>,
}

impl PersonalRpc {
    pub(crate) fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }
}

impl PersonalApiServer for PersonalRpc {
    fn sign(&self, message: Bytes, address: Address) -> RpcResult<Bytes> {
        Ok(personal(&self.state, address, &message)?)
    }
}
