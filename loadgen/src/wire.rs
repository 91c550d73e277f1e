//! What a run says to a node over JSON-RPC: raw transactions quoted for a
//! batch, numbers in hex, a typed call's error, and the fees to sign with.

use alloy_primitives::{Bytes, U256};
use lanes_rpc::api::EthApiClient;
use lanes_rpc::client::{ClientError, RpcClient, typed_error};
use serde::Deserialize;
use serde_json::json;

use crate::config::DEFAULT_TIP;
use crate::error::Result;

/// The fee cap in base fees at the start (plus the tip).
const MAX_FEE_BASE_FEES: u128 = 50;

/// A typed call's error, as [`RpcClient`]'s own read.
pub(crate) fn typed(
    method: &str,
) -> impl FnOnce(jsonrpsee::core::client::Error) -> ClientError + '_ {
    move |e| typed_error(method, e)
}

/// A raw transaction as the quoted JSON string `eth_sendRawTransaction` takes.
pub(crate) fn quoted(raw: &Bytes) -> String {
    format!("\"0x{}\"", alloy_primitives::hex::encode(raw))
}

/// A block number as JSON-RPC writes it.
pub(crate) fn hex(n: u64) -> String {
    format!("0x{n:x}")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeadBlock {
    base_fee_per_gas: Option<U256>,
}

/// The fee cap and tip a run signs with: the node's suggested tip (or
/// [`DEFAULT_TIP`]) and room above its base fee.
pub(crate) async fn fees(client: &RpcClient) -> Result<(u128, u128)> {
    let head: HeadBlock = client.call("eth_getBlockByNumber", json!(["latest", false])).await?;
    let base_fee = match head.base_fee_per_gas {
        Some(b) => b.to::<u128>(),
        None => client.gas_price().await.map_err(typed("eth_gasPrice"))?.to::<u128>(),
    };
    let tip = client
        .max_priority_fee_per_gas()
        .await
        .map(|t| t.to::<u128>())
        .unwrap_or(DEFAULT_TIP)
        .max(1);
    // Full blocks raise an EIP-1559 base fee by 12.5% each (anvil's do, lanes'
    // is fixed): leave room for ~30 of them, so the node, not the fee cap,
    // sets the pace. Transactions pay base fee + tip, not the cap.
    Ok((MAX_FEE_BASE_FEES * base_fee.max(1) + tip, tip))
}
