//! A plain value transfer to an account without code, run without the EVM
//! ([`plain_transfer`]): its whole effect is a fee, a nonce step and a value
//! moved, so the interpreter's frame, journal and state map are all
//! overhead (most of a transfer's time beside reading its two accounts).
//!
//! It takes only transfers revm would run to success, judged by revm's own
//! checks (`validate_env`, the initial gas, the caller's nonce, code and
//! balance), and answers what revm's run would: the same two accounts read,
//! the same writes as revm's diff would give ([`write_header`], credit and
//! debit noted as revm's run notes them), the same gas, fee and receipt. An
//! access list only adds its intrinsic gas: revm warms its entries without
//! reading them, and a transfer runs no opcode that would find them warm.
//! Anything else — a precompile or code at either end, an impersonated or
//! failing sender, a simulation's relaxed checks, Amsterdam's transfer
//! logs — goes to revm, which answers it in full.

use alloy_consensus::TxEnvelope;
use alloy_primitives::{Bytes, U256};
use lanes_runtime::{Outcome, StateView, TxError};
use revm::context::result::EVMError;
use revm::context::{Block as _, Cfg as _, Transaction as _};
use revm::handler::pre_execution::{calculate_caller_fee, validate_account_nonce_and_code};
use revm::handler::validation::{validate_env, validate_initial_tx_gas};
use revm::primitives::hardfork::SpecId;
use revm::state::AccountInfo;

use lanes_accounts_db::AccountHeader;

use crate::db::{DbError, has_code, header_to_info, keeps_empty, stored_header};
use crate::diff::{note_debit, write_header};
use crate::evm::{Evm, PlainTransfer, beneficiary_fee, plain_recipient, receipt_data};
use crate::tx::EvmTx;

/// Runs `tx`, a plain value transfer, on `view` without the EVM, with the
/// transaction environment already in `evm` (`fill_tx_env`). `None`: revm
/// must run it (see the module's list). `spec` is what the revm path hands
/// its diff's writer (whether empty accounts are kept).
pub(crate) fn plain_transfer(
    evm: &mut Evm<'_>,
    tx: &EvmTx,
    view: &mut StateView<'_>,
    spec: SpecId,
) -> Option<Result<Outcome, TxError>> {
    let to = plain_recipient(tx)?;
    let e = tx.envelope();
    let typed =
        matches!(e, TxEnvelope::Legacy(_) | TxEnvelope::Eip2930(_) | TxEnvelope::Eip1559(_));
    // Addresses this low are precompiles and system contracts: a call
    // there may run one.
    let low = to.0[..18].iter().all(|b| *b == 0);
    let cfg = &evm.ctx.cfg;
    let relaxed = cfg.is_balance_check_disabled()
        || cfg.is_nonce_check_disabled()
        || cfg.is_fee_charge_disabled()
        || cfg.is_eip3607_disabled()
        || cfg.is_base_fee_check_disabled()
        || cfg.is_priority_fee_check_disabled()
        || cfg.is_block_gas_limit_disabled();
    let fork = cfg.spec;
    if !typed || low || relaxed || tx.is_impersonated() || fork.is_enabled_in(SpecId::AMSTERDAM) {
        return None;
    }
    validate_env::<_, EVMError<DbError>>(&mut evm.ctx).ok()?;
    let ctx = &evm.ctx;
    let cfg = &ctx.cfg;
    let gas = validate_initial_tx_gas(
        &ctx.tx,
        fork,
        cfg.is_eip7623_disabled(),
        cfg.is_amsterdam_eip8037_enabled(),
        cfg.tx_gas_limit_cap(),
        None,
    )
    .ok()?;
    // A transfer's gas is its intrinsic gas: 21,000 and its access list.
    let used = gas.initial_total_gas();
    if gas.floor_gas() > used {
        return None;
    }
    let from = tx.sender();
    let sender = match view.account(&from) {
        Ok(header) => header,
        Err(e) => return Some(Err(e)),
    };
    // A sender with code (an EIP-7702 delegation too) goes to revm.
    if has_code(&sender.code_hash) {
        return None;
    }
    let caller = header_to_info(sender)?;
    validate_account_nonce_and_code(&caller, ctx.tx.nonce(), false, false).ok()?;
    let covers = ctx.tx.max_balance_spending().ok()?;
    let paid = calculate_caller_fee(caller.balance, &ctx.tx, &ctx.block, cfg).ok()?;
    let receiver = match view.account(&to) {
        Ok(header) => header,
        Err(e) => return Some(Err(e)),
    };
    if has_code(&receiver.code_hash) {
        return None;
    }
    let value = ctx.tx.value();
    let basefee = u128::from(ctx.block.basefee());
    let price = ctx.tx.effective_gas_price(basefee);
    // revm takes the whole gas limit's fee first and pays back what the run
    // left unused.
    let unused = U256::from(price * u128::from(ctx.tx.gas_limit() - used));
    let fee = beneficiary_fee(fork, price, basefee, used);

    // The headers revm's run would leave, written as its diff would be
    // ([`apply_diff`]: an account loaded as absent was empty before).
    let keep_empty = keeps_empty(spec);
    let mut paid_by = caller.clone();
    paid_by.balance = paid.checked_sub(value)?.checked_add(unused)?;
    paid_by.nonce = paid_by.nonce.checked_add(1)?;
    let (old_to, mut paid_to) = match header_to_info(receiver) {
        Some(info) => (stored_header(&info, true), info),
        None => (AccountHeader::default(), AccountInfo::default()),
    };
    paid_to.balance = paid_to.balance.checked_add(value)?;
    let transfer = Some(PlainTransfer { from, to, covers: Some(covers) });
    let written = [
        (from, stored_header(&caller, true), stored_header(&paid_by, keep_empty)),
        (to, old_to, stored_header(&paid_to, keep_empty)),
    ];
    let (mut credited, mut debited) = (false, false);
    for (address, old, new) in written {
        match write_header(view, address, old, new, transfer) {
            Ok((credit, debit)) => (credited, debited) = (credited | credit, debited | debit),
            Err(e) => return Some(Err(e)),
        }
    }
    note_debit(view, transfer, credited, debited);
    let data = receipt_data(&[], &Bytes::new(), None);
    Some(Ok(Outcome { success: true, gas_used: used, fee, data }))
}
