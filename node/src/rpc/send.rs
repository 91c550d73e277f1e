//! Sending a signed transaction ([`submit`]): into this node's pool (and
//! relayed to the other validators), or forwarded by a replica; under
//! automine answered once its block is committed ([`settled`]); and the
//! wait `eth_sendRawTransactionSync` asks for ([`sync_timeout`]).

use std::time::Duration;

use alloy_primitives::{B256, Bytes};
use jsonrpsee::core::RpcResult;

use crate::NodeState;
use crate::error::{Res, RpcError};
use crate::publish::Waiting;
use crate::relay::ForwardError;

/// The longest a send waits for its block under automine; past it, it
/// answers with the hash anyway.
const AUTOMINE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// `hash` once its wait (if any) is over, or [`AUTOMINE_WAIT`] passed.
pub(super) async fn settled(hash: B256, wait: Option<Waiting>) -> B256 {
    if let Some(wait) = wait {
        let _ = tokio::time::timeout(AUTOMINE_WAIT, wait).await;
    }
    hash
}

/// Submits a signed transaction: to this node's pool, then to the other
/// validators' (a multi-validator chain), answering once it is relayed (and
/// under automine once it is in a block); a replica forwards it instead.
pub(super) async fn submit(state: &NodeState, bytes: Bytes) -> RpcResult<B256> {
    let (hash, wait) = take(state, bytes).await?;
    Ok(settled(hash, wait).await)
}

/// [`submit`] up to the wait for the transaction's block: pooled here (and
/// relayed), or forwarded by a replica; its hash, and under automine the
/// wait for its block.
pub(super) async fn take(state: &NodeState, bytes: Bytes) -> RpcResult<(B256, Option<Waiting>)> {
    if let Some(forward) = state.cluster.get().and_then(|l| l.forward.as_ref()) {
        // A replica: the validators' pools take it; their answer is ours.
        let answer = forward.send(&bytes).await;
        if answer.is_ok() {
            // Pooled here too (never built from), so this node's pending
            // nonce counts it; decided blocks clear it.
            let _ = state.send_raw_waiting(&bytes);
        }
        return answer.map(|hash| (hash, None)).map_err(|e| match e {
            ForwardError::Refused { code, message } => {
                let code = i32::try_from(code).unwrap_or(-32000);
                jsonrpsee::types::ErrorObjectOwned::owned(code, message, None::<()>)
            }
            ForwardError::Unreachable(why) => {
                RpcError::Internal(format!("no validator took the transaction: {why}")).into()
            }
        });
    }
    let (hash, wait) = state.send_raw_waiting(&bytes)?;
    if let Some(relay) = state.cluster.get().and_then(|l| l.relay.as_ref()) {
        relay.relay(bytes).await;
    }
    Ok((hash, wait))
}

/// `eth_sendRawTransactionSync`'s wait when the client names none.
pub(crate) const SYNC_DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest wait `eth_sendRawTransactionSync` grants.
pub(crate) const SYNC_MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// The wait a sync send asks for: milliseconds, as a number or a hex
/// quantity; capped at [`SYNC_MAX_TIMEOUT`].
pub(super) fn sync_timeout(timeout: Option<serde_json::Value>) -> Res<Duration> {
    let ms = match &timeout {
        None | Some(serde_json::Value::Null) => return Ok(SYNC_DEFAULT_TIMEOUT),
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => {
            s.strip_prefix("0x").and_then(|h| u64::from_str_radix(h, 16).ok())
        }
        Some(_) => None,
    };
    let ms = ms.ok_or_else(|| {
        RpcError::Params(format!(
            "timeout {} is not a number of milliseconds (a number or a hex quantity)",
            timeout.unwrap_or_default()
        ))
    })?;
    Ok(Duration::from_millis(ms).min(SYNC_MAX_TIMEOUT))
}
