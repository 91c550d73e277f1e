//! `eth_simulateV1` at the RPC: the base block a request names, and the
//! simulated blocks in the shape geth answers them (blocks with a `calls`
//! array; no total difficulty).

use alloy_eips::BlockId;
use alloy_eips::BlockNumberOrTag;
use alloy_eips::eip4895::Withdrawals;
use alloy_primitives::U256;
use alloy_rpc_types_eth::simulate::SimulatePayload;
use alloy_rpc_types_eth::{
    Block as RpcBlock, BlockTransactions, Header as RpcHeader, Log as RpcLog,
    Transaction as RpcTransaction,
};
use lanes_eth::simulate_v1::{
    SimBase, SimCall, SimRules, SimulateError, SimulatedBlock, codes, simulate_v1 as run,
};
use serde_json::{Value, json};

use crate::convert;
use crate::error::{Res, RpcError, internal};
use crate::state::NodeState;

/// Runs `payload` on the block `at` names (the latest by default).
pub(crate) fn simulate_v1(
    s: &NodeState,
    payload: &SimulatePayload,
    at: Option<BlockId>,
) -> Res<Vec<Value>> {
    let not_found =
        || RpcError::Coded { code: codes::INVALID_INPUT, message: "header not found".into() };
    let number = match s.state_block(at) {
        Ok(Some(n)) => n,
        Ok(None) => s.head(),
        Err(RpcError::NotFound(_)) => return Err(not_found()),
        Err(e) => return Err(e),
    };
    let place = s.rebuild.place();
    let base = sim_base(s, number, &place)?.ok_or_else(not_found)?;
    let blocks = run(&base, payload)
        .map_err(|SimulateError { code, message }| RpcError::Coded { code, message })?;
    blocks.into_iter().map(|b| render(b, payload.return_full_transactions)).collect()
}

/// What a simulation (or a block built, `testing_buildBlockV1`) on block
/// `number` starts from: its state, header, recent hashes and the chain's
/// rules; `None` where the ledger has no such block.
pub(crate) fn sim_base<'p>(
    s: &NodeState,
    number: u64,
    place: &'p crate::chain_dir::Place,
) -> Res<Option<SimBase<'p>>> {
    let Some(lb) = s.block(number)? else { return Ok(None) };
    let view = s.state_at(Some(BlockId::Number(BlockNumberOrTag::Number(number))))?;
    let mut hashes = vec![lb.block.hash];
    hashes.extend(s.hashes_before(number).take(255));
    let config = s.executor.config();
    let rules = match &place.spec.imported {
        Some(eth) => SimRules::Ethereum(eth),
        None => SimRules::Lanes(config.spec),
    };
    Ok(Some(SimBase {
        view,
        header: convert::header(&lb.block, s.block_form()).inner,
        hash: lb.block.hash,
        hashes,
        rules,
        chain_id: s.executor.chain_id(),
        gas_cap: config.call_limits.gas_cap,
        timeout: config.call_limits.timeout,
    }))
}

/// A simulated block as geth answers it.
fn render(b: SimulatedBlock, full: bool) -> Res<Value> {
    let SimulatedBlock { header, hash, size, txs, calls, .. } = b;
    let (number, timestamp) = (header.number, header.timestamp);
    let tx_hashes: Vec<_> = txs.iter().map(|t| *t.inner().tx_hash()).collect();
    let transactions = if full {
        let base_fee = header.base_fee_per_gas;
        BlockTransactions::Full(
            txs.into_iter()
                .enumerate()
                .map(|(i, tx)| {
                    let effective_gas_price =
                        alloy_consensus::Transaction::effective_gas_price(tx.inner(), base_fee);
                    RpcTransaction {
                        inner: tx,
                        block_hash: Some(hash),
                        block_number: Some(number),
                        transaction_index: Some(i as u64),
                        effective_gas_price: Some(effective_gas_price),
                        block_timestamp: Some(timestamp),
                    }
                })
                .collect(),
        )
    } else {
        BlockTransactions::Hashes(tx_hashes.clone())
    };
    let withdrawals = header.withdrawals_root.map(|_| Withdrawals::default());
    let block = RpcBlock {
        header: RpcHeader {
            hash,
            inner: header,
            total_difficulty: None,
            size: Some(U256::from(size)),
        },
        uncles: Vec::new(),
        transactions,
        withdrawals,
    };
    let mut value = serde_json::to_value(block).map_err(internal)?;
    let calls: Vec<Value> = calls
        .into_iter()
        .enumerate()
        .map(|(i, call)| render_call(call, i, tx_hashes[i], hash, number, timestamp))
        .collect();
    value["calls"] = Value::Array(calls);
    Ok(value)
}

fn render_call(
    call: SimCall,
    index: usize,
    tx_hash: alloy_primitives::B256,
    block_hash: alloy_primitives::B256,
    number: u64,
    timestamp: u64,
) -> Value {
    let logs: Vec<RpcLog> = call
        .logs
        .into_iter()
        .map(|(log_index, inner)| RpcLog {
            inner,
            block_hash: Some(block_hash),
            block_number: Some(number),
            block_timestamp: Some(timestamp),
            transaction_hash: Some(tx_hash),
            transaction_index: Some(index as u64),
            log_index: Some(log_index),
            removed: false,
        })
        .collect();
    let mut out = json!({
        "returnData": call.return_data,
        "logs": logs,
        "gasUsed": format!("{:#x}", call.gas_used),
        "maxUsedGas": format!("{:#x}", call.max_used_gas),
        "status": if call.status { "0x1" } else { "0x0" },
    });
    if let Some(e) = call.error {
        let mut error = json!({ "code": e.code, "message": e.message });
        if let Some(data) = e.data {
            error["data"] = json!(data);
        }
        out["error"] = error;
    }
    out
}
