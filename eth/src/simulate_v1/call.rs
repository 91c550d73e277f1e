//! A call of an `eth_simulateV1` request: the transaction it stands for,
//! how revm's refusals and failures are coded.

use alloy_consensus::TxEnvelope;
use alloy_primitives::{Bytes, Signature, U256};
use alloy_rpc_types_eth::TransactionRequest;
use revm::context::TxEnv;
use revm::context::result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction};

use super::hooks::SimEvm;
use super::types::{SimCall, SimCallError, SimulateError, codes, fail, internal};
use crate::tx_request::{self, Fees, Fill};
use lanes_evm_adapter::{SpecId, fill_tx_env};

/// A call of the request as a transaction (signed with a zero signature,
/// as geth hashes it) and as revm runs it, its defaults filled: the
/// sender's nonce, the gas the block and the request's budget have left,
/// zero fees ([`crate::tx_request`]).
pub(super) fn build_tx(
    evm: &mut SimEvm<'_, '_>,
    r: &TransactionRequest,
    chain_id: u64,
    block_left: u64,
    budget: u64,
) -> Result<(TxEnvelope, TxEnv), SimulateError> {
    let from = r.from.unwrap_or_default();
    let nonce = match r.nonce {
        Some(n) => n,
        None => {
            let db = &mut evm.ctx.journaled_state.database;
            db.load_account(from).map_err(internal)?.info.nonce
        }
    };
    let gas = match r.gas {
        Some(gas) if gas > block_left => {
            return fail(
                codes::BLOCK_GAS_LIMIT,
                format!("block gas limit reached: {gas} > {block_left}"),
            );
        }
        Some(gas) => gas.min(budget),
        None => block_left.min(budget),
    };
    let fee_market = evm.ctx.cfg.spec.is_enabled_in(SpecId::LONDON);
    let fill = Fill { chain_id, nonce, gas, fees: Fees::Zero, fee_market };
    let tx = tx_request::transaction(r, &fill)
        .or_else(|e| fail(codes::INVALID_PARAMS, e.to_string()))?;
    let envelope = tx.into_envelope(Signature::new(U256::ZERO, U256::ZERO, false));
    let mut env = TxEnv::default();
    fill_tx_env(&mut env, &envelope, from);
    Ok((envelope, env))
}

/// geth's nonce checks, which come before its fee checks (revm's come
/// after them).
pub(super) fn check_nonce(tx: u64, state: u64, index: usize) -> Result<(), SimulateError> {
    let (code, what) = match tx.cmp(&state) {
        std::cmp::Ordering::Greater => (codes::NONCE_TOO_HIGH, "nonce too high"),
        std::cmp::Ordering::Less => (codes::NONCE_TOO_LOW, "nonce too low"),
        std::cmp::Ordering::Equal if state == u64::MAX => (codes::INTERNAL, "nonce has max value"),
        std::cmp::Ordering::Equal => return Ok(()),
    };
    fail(code, format!("call {index}: {what}: transaction {tx}, state {state}"))
}

/// Why revm refused call `index`, as `eth_simulateV1` codes it.
pub(super) fn invalid<E: std::fmt::Display>(e: EVMError<E>, index: usize) -> SimulateError {
    let EVMError::Transaction(t) = &e else {
        return internal(e);
    };
    let code = match t {
        InvalidTransaction::NonceTooLow { .. } => codes::NONCE_TOO_LOW,
        InvalidTransaction::NonceTooHigh { .. } => codes::NONCE_TOO_HIGH,
        InvalidTransaction::GasPriceLessThanBasefee => codes::BASE_FEE_TOO_LOW,
        InvalidTransaction::CallGasCostMoreThanGasLimit { .. }
        | InvalidTransaction::GasFloorMoreThanGasLimit { .. } => codes::INTRINSIC_GAS,
        InvalidTransaction::LackOfFundForMaxFee { .. }
        | InvalidTransaction::OverflowPaymentInTransaction => codes::INSUFFICIENT_FUNDS,
        InvalidTransaction::CreateInitCodeSizeLimit => codes::INIT_CODE_TOO_LARGE,
        InvalidTransaction::PriorityFeeGreaterThanMaxFee => codes::INVALID_PARAMS,
        _ => codes::INTERNAL,
    };
    SimulateError { code, message: format!("call {index}: {t}") }
}

/// What a call that ran tells the client.
pub(super) fn sim_call(ran: &ExecutionResult, logs: Vec<(u64, alloy_primitives::Log)>) -> SimCall {
    let gas = ran.gas();
    let gas_used = ran.tx_gas_used();
    let max_used_gas = gas.total_gas_spent().max(gas_used);
    match ran {
        ExecutionResult::Success { output, .. } => SimCall {
            status: true,
            return_data: output.data().clone(),
            gas_used,
            max_used_gas,
            logs,
            error: None,
        },
        ExecutionResult::Revert { output, .. } => {
            let reason = revert_reason(output);
            let message = match reason {
                Some(r) => format!("execution reverted: {r}"),
                None => "execution reverted".to_owned(),
            };
            SimCall {
                status: false,
                return_data: Bytes::new(),
                gas_used,
                max_used_gas,
                logs: Vec::new(),
                error: Some(SimCallError {
                    code: codes::REVERTED,
                    message,
                    data: Some(output.clone()),
                }),
            }
        }
        ExecutionResult::Halt { reason, .. } => SimCall {
            status: false,
            return_data: Bytes::new(),
            gas_used,
            max_used_gas,
            logs: Vec::new(),
            error: Some(SimCallError {
                code: codes::HALTED,
                message: halt_message(reason),
                data: None,
            }),
        },
    }
}

/// geth's text for a halt.
fn halt_message(reason: &HaltReason) -> String {
    match reason {
        HaltReason::OutOfGas(_) => "out of gas".into(),
        HaltReason::OpcodeNotFound | HaltReason::InvalidFEOpcode => "invalid opcode".into(),
        HaltReason::InvalidJump => "invalid jump destination".into(),
        HaltReason::StackUnderflow => "stack underflow".into(),
        HaltReason::StackOverflow => "stack limit reached".into(),
        HaltReason::CallTooDeep => "max call depth exceeded".into(),
        HaltReason::OutOfFunds => "insufficient balance for transfer".into(),
        HaltReason::CreateCollision => "contract address collision".into(),
        HaltReason::StateChangeDuringStaticCall | HaltReason::CallNotAllowedInsideStatic => {
            "write protection".into()
        }
        HaltReason::CreateContractSizeLimit => "max code size exceeded".into(),
        HaltReason::CreateContractStartingWithEF => "invalid code: must not begin with 0xef".into(),
        HaltReason::PrecompileError | HaltReason::PrecompileErrorWithContext(_) => {
            "precompiled contract failed".into()
        }
        other => format!("{other:?}"),
    }
}

/// The reason an `Error(string)` revert carries.
fn revert_reason(output: &Bytes) -> Option<String> {
    const ERROR: [u8; 4] = [0x08, 0xc3, 0x79, 0xa0];
    let body = output.strip_prefix(&ERROR)?;
    let len = U256::from_be_slice(body.get(32..64)?);
    let len = usize::try_from(len).ok()?;
    let text = body.get(64..64usize.checked_add(len)?)?;
    String::from_utf8(text.to_vec()).ok()
}
