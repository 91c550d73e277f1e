//! Signing with the node's unlocked accounts: `eth_sign`, `personal_sign`,
//! `eth_signTypedData_v4` ([`PersonalApiServer`] for `personal_*`; the
//! `eth_*` ones are in the eth impl and call here).

use std::sync::Arc;

use alloy_dyn_abi::eip712::TypedData;
use alloy_primitives::{Address, Bytes};
use alloy_signer::SignerSync;
use jsonrpsee::core::RpcResult;

use crate::NodeState;
use crate::error::RpcError;
use crate::rpc::eth::unlocked;
use crate::rpc::state::{Res, internal};
use lanes_rpc::api::PersonalApiServer;

/// EIP-191 personal-message signature of `message` by `address`.
pub(crate) fn personal(s: &NodeState, address: Address, message: &[u8]) -> Res<Bytes> {
    let signature = unlocked(s, address)?.sign_message_sync(message).map_err(internal)?;
    Ok(Bytes::from(signature.as_bytes()))
}

/// EIP-712 signature of typed data by `address`. `data` is the typed-data
/// object or a JSON string of it.
pub(crate) fn typed_data(s: &NodeState, address: Address, data: serde_json::Value) -> Res<Bytes> {
    let key = unlocked(s, address)?;
    let data = match data {
        serde_json::Value::String(json) => serde_json::from_str::<TypedData>(&json),
        object => serde_json::from_value::<TypedData>(object),
    }
    .map_err(|e| RpcError::Params(format!("typed data does not parse: {e}")))?;
    let hash = data
        .eip712_signing_hash()
        .map_err(|e| RpcError::Params(format!("typed data does not encode: {e}")))?;
    let signature = key.sign_hash_sync(&hash).map_err(internal)?;
    Ok(Bytes::from(signature.as_bytes()))
}

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
