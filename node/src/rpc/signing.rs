//! Signing with the node's unlocked accounts, for `eth_sign`,
//! `eth_signTypedData_v4`, `eth_sendTransaction` (the eth impl) and
//! `personal_sign` (the personal impl).

use alloy_dyn_abi::eip712::TypedData;
use alloy_primitives::{Address, Bytes};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;

use crate::NodeState;
use crate::error::{Res, RpcError, internal};

/// The unlocked account `address` (`--dev`'s accounts), for signing.
pub(crate) fn unlocked(s: &NodeState, address: Address) -> Res<&PrivateKeySigner> {
    s.signers.iter().find(|k| k.address() == address).ok_or_else(|| {
        RpcError::Invalid(format!(
            "{address} is not an unlocked account of this node, so it cannot sign (eth_accounts lists them)"
        ))
    })
}

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
