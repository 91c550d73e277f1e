//! What the call methods share (`eth_call`, `eth_estimateGas`,
//! `eth_createAccessList`, `debug_traceCall`, the ERC-20 cheats): a request's
//! call, geth's block overrides, and how a failed simulation answers.

use alloy_consensus::{Transaction as _, TypedTransaction};
use alloy_rpc_types_eth::{BlockOverrides, TransactionRequest};
use lanes_eth::tx_request::{self, Fees, Fill};
use lanes_evm_adapter::{CallRequest, EvmExecutor, SimError, Simulation, SpecId};
use lanes_runtime::BlockEnv;

use crate::error::{Res, RpcError};

/// The transaction `r` stands for on `executor`'s chain and fork
/// ([`tx_request::transaction`]), the nonce, gas and fees it leaves out
/// filled from `nonce`, `gas` and `fees`: what every node door that takes
/// a request builds.
pub(crate) fn request_tx(
    r: &TransactionRequest,
    executor: &EvmExecutor,
    nonce: u64,
    gas: u64,
    fees: Fees,
) -> Res<TypedTransaction> {
    let fee_market = executor.config().spec.is_enabled_in(SpecId::LONDON);
    let fill = Fill { chain_id: executor.chain_id(), nonce, gas, fees, fee_market };
    tx_request::transaction(r, &fill).map_err(|e| RpcError::Invalid(e.to_string()))
}

/// The call a request stands for: its transaction as every door makes it
/// ([`request_tx`], no fees but those asked for), with the nonce and gas it
/// left out still to be filled by the call (the state's nonce, the call's
/// gas cap).
pub(crate) fn call_request(r: &TransactionRequest, executor: &EvmExecutor) -> Res<CallRequest> {
    let gas = r.gas.unwrap_or(u64::MAX);
    let tx = request_tx(r, executor, r.nonce.unwrap_or_default(), gas, Fees::Zero)?;
    Ok(CallRequest {
        from: r.from,
        to: tx.to(),
        value: tx.value(),
        data: tx.input().clone(),
        gas: r.gas,
        gas_price: Some(tx.max_fee_per_gas()),
        max_priority_fee: tx.max_priority_fee_per_gas(),
        nonce: r.nonce,
        access_list: tx.access_list().cloned().unwrap_or_default(),
        authorization_list: tx.authorization_list().map(<[_]>::to_vec).unwrap_or_default(),
    })
}

/// Applies geth's block overrides to a call's block.
pub(crate) fn override_block(env: &mut BlockEnv, o: &BlockOverrides) -> Res<()> {
    let too_big = |field: &str| RpcError::Invalid(format!("block override {field} is too large"));
    if let Some(number) = o.number {
        env.number = number.try_into().map_err(|_| too_big("number"))?;
    }
    if let Some(time) = o.time {
        env.timestamp = time;
    }
    if let Some(gas_limit) = o.gas_limit {
        env.gas_limit = gas_limit;
    }
    if let Some(coinbase) = o.coinbase {
        env.coinbase = coinbase;
    }
    if let Some(random) = o.random {
        env.random = random;
    }
    if let Some(base_fee) = o.base_fee {
        env.base_fee = base_fee.try_into().map_err(|_| too_big("baseFee"))?;
    }
    if o.difficulty.is_some() || o.blob_base_fee.is_some() || o.beacon_root.is_some() {
        return Err(RpcError::Unsupported(
            "block overrides of difficulty, blobBaseFee or beaconRoot are not supported".into(),
        ));
    }
    if o.block_hash.is_some() {
        return Err(RpcError::Unsupported("block override blockHash is not supported".into()));
    }
    Ok(())
}

pub(crate) fn sim_error(e: SimError) -> RpcError {
    match e {
        SimError::Failed(sim) if sim.reverted => RpcError::reverted(sim.output),
        SimError::Failed(sim) => RpcError::Invalid(format!(
            "gas required exceeds allowance: {}",
            sim.halt.unwrap_or_else(|| "execution failed".into())
        )),
        SimError::State(e) => RpcError::Internal(format!("state read failed: {e}")),
        other => RpcError::Invalid(other.to_string()),
    }
}

/// Why a simulation that ran did not succeed: a revert or a halt.
pub(crate) fn failure(sim: &Simulation) -> Option<RpcError> {
    if sim.reverted {
        return Some(RpcError::reverted(sim.output.clone()));
    }
    sim.halt.as_ref().map(|h| RpcError::Invalid(format!("execution halted: {h}")))
}
