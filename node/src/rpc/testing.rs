//! `testing_buildBlockV1` ([`TestingApiServer`]): a block built on a parent
//! as a proposer would, answered as the Engine API's payload envelope,
//! nothing kept.

use std::sync::Arc;

use alloy_consensus::Transaction as _;
use alloy_consensus::transaction::Recovered;
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip7594::BlobTransactionSidecarVariant;
use alloy_primitives::{B256, Bytes, hex};
use jsonrpsee::core::RpcResult;
use lanes_eth::simulate_v1::{Build, BuiltBlock, build_block};
use lanes_evm_adapter::{EvmTx, TxRules};
use lanes_rpc::api::TestingApiServer;
use lanes_rpc::types::PayloadAttributes;
use serde_json::{Value, json};

use crate::NodeState;
use crate::error::{Res, RpcError};
use crate::rpc::simulate::sim_base;

/// The gas limit a built block moves toward from its parent's, at most
/// 1/1024 of it a block (geth's miner default, `--miner.gaslimit`).
pub(crate) const BUILD_GAS_CEILING: u64 = 60_000_000;

/// The error code of a block that cannot be built (geth's).
const BUILD_FAILED: i32 = -32000;

/// The `testing` namespace of a node.
pub(crate) struct TestingRpc {
    state: Arc<NodeState>,
}

impl TestingRpc {
    pub(crate) fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }
}

/// The gas limit of a child of a block whose limit is `parent`, moving
/// toward `desired` (geth's `CalcGasLimit`).
fn next_gas_limit(parent: u64, desired: u64) -> u64 {
    let delta = (parent / 1024).saturating_sub(1);
    let desired = desired.max(5000);
    if parent < desired {
        parent.saturating_add(delta).min(desired)
    } else if parent > desired {
        parent.saturating_sub(delta).max(desired)
    } else {
        parent
    }
}

impl TestingApiServer for TestingRpc {
    fn build_block_v1(
        &self,
        parent: B256,
        attributes: PayloadAttributes,
        transactions: Option<Vec<Bytes>>,
        extra_data: Option<Bytes>,
    ) -> RpcResult<Value> {
        let s = &self.state;
        Ok(s.heavy.run(|| build(s, parent, &attributes, transactions, extra_data))?)
    }
}

fn failed(message: impl Into<String>) -> RpcError {
    RpcError::Coded { code: BUILD_FAILED, message: message.into() }
}

fn build(
    s: &NodeState,
    parent: B256,
    attributes: &PayloadAttributes,
    transactions: Option<Vec<Bytes>>,
    extra_data: Option<Bytes>,
) -> Res<Value> {
    let number =
        s.ledger.number_of(&parent).ok_or_else(|| failed(format!("unknown parent {parent}")))?;
    let place = s.rebuild.place();
    let base =
        sim_base(s, number, &place)?.ok_or_else(|| failed(format!("unknown parent {parent}")))?;
    // Named transactions must each apply; the pool's are taken as they do.
    let (txs, skip_invalid) = match transactions {
        Some(raw) => {
            let rules = TxRules { any_chain_id: false, ..s.executor.rules() };
            let txs = raw.iter().enumerate().map(|(i, bytes)| {
                EvmTx::decode(bytes, &rules).map_err(|e| failed(format!("transaction {i}: {e}")))
            });
            (txs.collect::<Res<Vec<_>>>()?, false)
        }
        None => (pending(s)?, true),
    };
    let recovered: Vec<_> =
        txs.iter().map(|t| Recovered::new_unchecked(t.envelope().clone(), t.sender())).collect();
    let withdrawals = attributes.withdrawals.clone().unwrap_or_default();
    let build = Build {
        timestamp: attributes.timestamp,
        prev_randao: attributes.prev_randao,
        fee_recipient: attributes.suggested_fee_recipient,
        gas_limit: next_gas_limit(base.header.gas_limit, BUILD_GAS_CEILING),
        withdrawals: &withdrawals,
        parent_beacon_block_root: attributes.parent_beacon_block_root,
        extra_data: extra_data.unwrap_or_default(),
        txs: &recovered,
        skip_invalid,
    };
    let built = build_block(&base, &build).map_err(|e| failed(e.message))?;
    Ok(envelope(&built, &txs, &withdrawals))
}

/// The pool's pending transactions (each next in its sender's line),
/// senders by their first transaction's tip, each sender's in nonce order.
fn pending(s: &NodeState) -> Res<Vec<EvmTx>> {
    let base_fee = s.stage(|st| st.next_base_fee())?;
    let mut by_sender: std::collections::BTreeMap<_, Vec<EvmTx>> = Default::default();
    for (tx, in_line) in s.stage(|st| st.pool_listing())? {
        if in_line {
            by_sender.entry(tx.sender()).or_default().push(tx);
        }
    }
    let mut senders: Vec<Vec<EvmTx>> = by_sender.into_values().collect();
    for txs in &mut senders {
        txs.sort_by_key(|t| t.envelope().nonce());
    }
    let tip = |txs: &Vec<EvmTx>| txs[0].envelope().effective_tip_per_gas(base_fee).unwrap_or(0);
    senders.sort_by_key(|txs| std::cmp::Reverse(tip(txs)));
    Ok(senders.into_iter().flatten().collect())
}

/// `built` as the Engine API's payload envelope (V4's fields: the
/// payload, its value, the blobs bundle, the requests).
fn envelope(
    built: &BuiltBlock,
    txs: &[EvmTx],
    withdrawals: &[alloy_eips::eip4895::Withdrawal],
) -> Value {
    let h = &built.block.header;
    let quantity = |n: u64| format!("{n:#x}");
    let raw: Vec<String> = built
        .block
        .txs
        .iter()
        .map(|t| format!("0x{}", hex::encode(t.inner().encoded_2718())))
        .collect();
    let mut payload = json!({
        "parentHash": h.parent_hash,
        "feeRecipient": h.beneficiary,
        "stateRoot": h.state_root,
        "receiptsRoot": h.receipts_root,
        "logsBloom": h.logs_bloom,
        "prevRandao": h.mix_hash,
        "blockNumber": quantity(h.number),
        "gasLimit": quantity(h.gas_limit),
        "gasUsed": quantity(h.gas_used),
        "timestamp": quantity(h.timestamp),
        "extraData": h.extra_data,
        "baseFeePerGas": quantity(h.base_fee_per_gas.unwrap_or(0)),
        "blockHash": built.block.hash,
        "transactions": raw,
    });
    if h.withdrawals_root.is_some() {
        payload["withdrawals"] = serde_json::to_value(withdrawals).unwrap_or_default();
    }
    if let (Some(used), Some(excess)) = (h.blob_gas_used, h.excess_blob_gas) {
        payload["blobGasUsed"] = json!(quantity(used));
        payload["excessBlobGas"] = json!(quantity(excess));
    }
    // The blobs of the block's blob transactions that came with theirs.
    let included: std::collections::HashSet<B256> =
        built.block.txs.iter().map(|t| *t.inner().tx_hash()).collect();
    let (mut commitments, mut proofs, mut blobs) = (Vec::new(), Vec::new(), Vec::new());
    for sidecar in txs.iter().filter(|t| included.contains(&t.hash())).filter_map(EvmTx::sidecar) {
        let hexed = |b: &[u8]| format!("0x{}", hex::encode(b));
        commitments.extend(sidecar.commitments().iter().map(|c| hexed(c.as_slice())));
        blobs.extend(sidecar.blobs().iter().map(|b| hexed(b.as_slice())));
        match &**sidecar {
            BlobTransactionSidecarVariant::Eip4844(s) => {
                proofs.extend(s.proofs.iter().map(|p| hexed(p.as_slice())));
            }
            BlobTransactionSidecarVariant::Eip7594(s) => {
                proofs.extend(s.cell_proofs.iter().map(|p| hexed(p.as_slice())));
            }
        }
    }
    let mut envelope = json!({
        "executionPayload": payload,
        "blockValue": format!("{:#x}", built.value),
        "blobsBundle": {"commitments": commitments, "proofs": proofs, "blobs": blobs},
        "shouldOverrideBuilder": false,
    });
    if let Some(requests) = &built.block.requests {
        // Each request with data, its type byte first (EIP-7685).
        let list: Vec<String> = requests
            .iter()
            .filter(|r| r.len() > 1)
            .map(|r| format!("0x{}", hex::encode(r)))
            .collect();
        envelope["executionRequests"] = json!(list);
    }
    envelope
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gas_limit_moves_toward_the_ceiling_by_a_1024th_at_most() {
        assert_eq!(next_gas_limit(200_000_000, BUILD_GAS_CEILING), 199_804_689);
        assert_eq!(next_gas_limit(30_000_000, BUILD_GAS_CEILING), 30_029_295);
        assert_eq!(next_gas_limit(59_990_000, BUILD_GAS_CEILING), BUILD_GAS_CEILING);
        assert_eq!(next_gas_limit(BUILD_GAS_CEILING, BUILD_GAS_CEILING), BUILD_GAS_CEILING);
    }
}
