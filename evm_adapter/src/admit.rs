//! [`EvmAdmission`]: the checks an EVM transaction passes to enter a pool,
//! and where the set it is locked with comes from.
//!
//! ## The checks, and where each runs
//!
//! Every door into a banking stage (`BankingStage::submit_many`, which the
//! load generator's in-process mode, a node's pool rebuild and embedders use;
//! `submit_decoded`, a node's RPC) ends in the stage's admission, so a bad
//! transaction gets the same refusal by any of them:
//!
//! | check | where |
//! |---|---|
//! | size, type, chain id, signature (EIP-2 `s`), access-list size, EIP-7702 and blob fields, sidecar proofs | decoding: [`EvmTx::decode`] under the stage's [`crate::TxRules`] (a node's RPC decodes on its own task under the same rules, and requires a blob transaction's sidecar) |
//! | intrinsic gas, cost (gas × fee cap + blob gas × blob fee cap + value) against the sender's balance, EIP-3607 (a sender with code) | here: [`Admission::validate`], against the head's state ([`Refusal`]) |
//! | gas limit against the block's, fee cap against the base fee, nonce window, replacement, per-sender and pool limits | the stage's pool (`lanes-banking-stage`, `pool/`) |
//!
//! ## Sets
//!
//! Where the set an EVM transaction is locked with comes from
//! (docs/design.md §5), in order:
//!
//! - **declared**: a non-empty EIP-2930 access list, or a creation
//!   ([`crate::declared_access`]);
//! - **known from state**: a call with empty calldata to an account without
//!   code (so without an EIP-7702 delegation either) is a value transfer:
//!   {sender: write, to: write}, without running it;
//! - **predicted**: anything else runs against the state of the admission
//!   context's bank, with its own nonce, and locks what that run touched:
//!   keys it wrote as writes, keys it only read as reads (so transactions
//!   that read one slot share it). A run that reverts or runs out of gas
//!   still touched what it touched, and is predicted as such.
//!
//! A prediction is bounded: it runs with at most [`AdmissionLimits::max_gas`]
//! gas (a transaction that would use more runs without a set, in the
//! exclusive lane, as does one touching more than
//! [`AdmissionLimits::max_keys`] keys or one its run cannot even start,
//! such as a sender that cannot pay on the state predicted against).

use std::sync::Arc;

use alloy_consensus::Transaction as _;
use alloy_eips::eip7702::constants::EIP7702_DELEGATION_DESIGNATOR;
use alloy_primitives::{Address, TxKind, U256};
use lanes_runtime::{
    AccessSet, AccessSource, Admission, AdmitContext, Admitted, Bank, DEFAULT_MAX_ACCESS_KEYS,
    StateKey, Transaction as _, TxError,
};
use revm::ExecuteEvm;
use revm::context::result::{ExecutionResult, HaltReason};
use revm::handler::Handler;

use crate::evm::FeeCapture;
use crate::executor::{CodeCache, EvmExecutor, ViewDb, fill_tx_env, outcome};
use crate::tx::EvmTx;

thread_local! {
    /// Analysed code kept by each prediction thread between predictions.
    static PREDICTION_CODE: std::cell::RefCell<CodeCache> = std::cell::RefCell::default();
}

/// Default most gas a prediction runs with.
pub const DEFAULT_MAX_PREDICT_GAS: u64 = 10_000_000;

/// The bounds of a prediction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdmissionLimits {
    /// Most gas a prediction runs with; a transaction whose run needs more
    /// runs in the exclusive lane.
    pub max_gas: u64,
    /// Most keys a predicted set holds; a transaction touching more runs in
    /// the exclusive lane.
    pub max_keys: usize,
}

impl Default for AdmissionLimits {
    fn default() -> Self {
        Self { max_gas: DEFAULT_MAX_PREDICT_GAS, max_keys: DEFAULT_MAX_ACCESS_KEYS }
    }
}

/// Why [`EvmAdmission`] refused a transaction at the door of the pool (it
/// reaches the caller as [`TxError::Invalid`] with this message, the one
/// geth and anvil give).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The gas limit does not cover the intrinsic gas.
    #[error("intrinsic gas too low: gas limit {gas}, intrinsic gas {intrinsic}")]
    IntrinsicGas {
        /// The transaction's gas limit.
        gas: u64,
        /// What it needs before executing.
        intrinsic: u64,
    },
    /// The sender cannot pay for gas, blob gas and value.
    #[error("insufficient funds for gas * price + value: balance {balance}, tx cost {cost}")]
    InsufficientFunds {
        /// The sender's balance.
        balance: U256,
        /// gas limit × max fee per gas + blob gas × max fee per blob gas + value.
        cost: U256,
    },
    /// A signed transaction's sender has code other than an EIP-7702
    /// delegation (EIP-3607).
    #[error(
        "sender {0} has code, so it cannot send a signed transaction (EIP-3607); anvil_impersonateAccount sends as a contract"
    )]
    SenderHasCode(Address),
}

/// The EVM's [`Admission`]: the pool's checks ([`Refusal`]), and sets
/// declared, known from state, or predicted.
#[derive(Clone, Debug)]
pub struct EvmAdmission {
    executor: Arc<EvmExecutor>,
    limits: AdmissionLimits,
}

impl EvmAdmission {
    /// Admission for transactions `executor` runs, predicting within `limits`.
    pub fn new(executor: Arc<EvmExecutor>, limits: AdmissionLimits) -> Self {
        Self { executor, limits }
    }

    /// Runs each of `txs` against `bank`'s state with its own nonce,
    /// recording what it touches, on one EVM; `None` for one whose set
    /// cannot be predicted.
    fn run(&self, txs: &[&EvmTx], bank: &Bank) -> Vec<Option<AccessSet>> {
        let limits = self.limits;
        let env = bank.env();
        let mut cfg = self.executor.cfg();
        // A queued nonce runs against state where the sender's nonce is
        // lower, and what it pays is checked when it runs for real.
        cfg.disable_nonce_check = true;
        cfg.disable_balance_check = true;
        // Code analysed by this thread's earlier predictions (code is
        // immutable, so a cached entry never goes stale).
        let code = PREDICTION_CODE.with(|c| std::mem::take(&mut *c.borrow_mut()));
        let mut code = code;
        code.1 = Some(self.executor.shared_code().clone());
        let mut evm = self.executor.build(ViewDb { view: None, env, code }, env, cfg);
        let sets = txs
            .iter()
            .map(|tx| {
                let view = bank.recording_view();
                let parent = self.executor.parent_storage(&view);
                evm.ctx.journaled_state.database.view = Some(view);
                fill_tx_env(&mut evm.ctx.tx, tx.envelope(), tx.sender());
                let capped = evm.ctx.tx.gas_limit > limits.max_gas;
                evm.ctx.tx.gas_limit = evm.ctx.tx.gas_limit.min(limits.max_gas);
                let mut handler = FeeCapture::new(parent.clone());
                let result = handler.run(&mut evm);
                let diff = evm.finalize();
                let mut view = evm.ctx.journaled_state.database.view.take()?;
                let ran_out = matches!(
                    &result,
                    Ok(ExecutionResult::Halt { reason: HaltReason::OutOfGas(_), .. })
                );
                if capped && ran_out {
                    return None; // it may touch more with the gas it really has
                }
                outcome(
                    result,
                    diff,
                    U256::ZERO,
                    &mut view,
                    self.executor.config().spec,
                    None,
                    parent.as_ref(),
                )
                .ok()?;
                view.touched_set(limits.max_keys).ok()
            })
            .collect();
        let db = &mut evm.ctx.journaled_state.database;
        PREDICTION_CODE.with(|c| *c.borrow_mut() = std::mem::take(&mut db.code));
        sets
    }
}

impl Admission<EvmTx> for EvmAdmission {
    fn validate(&self, tx: &EvmTx, ctx: AdmitContext<'_>) -> Result<(), TxError> {
        let refused = |r: Refusal| Err(TxError::Invalid(r.to_string()));
        let envelope = tx.envelope();
        let intrinsic = self.executor.intrinsic_gas(tx);
        if envelope.gas_limit() < intrinsic {
            return refused(Refusal::IntrinsicGas { gas: envelope.gas_limit(), intrinsic });
        }
        let cost = U256::from(envelope.gas_limit()) * U256::from(envelope.max_fee_per_gas())
            + U256::from(tx.block_units())
                * U256::from(envelope.max_fee_per_blob_gas().unwrap_or(0))
            + envelope.value();
        let (sender, code) = ctx.bank.simulate(|mut view, _| {
            let sender = view.account(&tx.sender())?;
            let signed = !tx.is_impersonated();
            let code = if signed && crate::has_code(&sender.code_hash) {
                view.code(&sender.code_hash)?
            } else {
                None
            };
            Ok::<_, TxError>((sender, code))
        })?;
        if sender.balance < cost {
            return refused(Refusal::InsufficientFunds { balance: sender.balance, cost });
        }
        if code.is_some_and(|code| !code.starts_with(&EIP7702_DELEGATION_DESIGNATOR)) {
            return refused(Refusal::SenderHasCode(tx.sender()));
        }
        Ok(())
    }

    fn admit(&self, tx: &EvmTx, ctx: AdmitContext<'_>) -> Result<Option<Admitted>, TxError> {
        if let Some(set) = tx.access_set() {
            return Ok(Some(Admitted {
                access: Some(set.clone()),
                source: AccessSource::Declared,
            }));
        }
        let envelope = tx.envelope();
        let TxKind::Call(to) = envelope.kind() else { return Ok(None) };
        if !envelope.input().is_empty() || envelope.authorization_list().is_some() {
            return Ok(None);
        }
        let callee = ctx.bank.simulate(|mut view, _| view.account(&to))?;
        if crate::has_code(&callee.code_hash) {
            return Ok(None); // a contract, or a delegated account: it runs code
        }
        let writes = [StateKey::Account(tx.sender()), StateKey::Account(to)];
        let access = Some(AccessSet::unbounded([], writes));
        Ok(Some(Admitted { access, source: AccessSource::Known }))
    }

    fn predict(&self, tx: &EvmTx, ctx: AdmitContext<'_>) -> Admitted {
        self.predict_many(&[tx], ctx).pop().unwrap_or_default()
    }

    fn predict_many(&self, txs: &[&EvmTx], ctx: AdmitContext<'_>) -> Vec<Admitted> {
        let sets = self.run(txs, ctx.bank);
        let admitted = |set: Option<AccessSet>| match set {
            Some(set) => Admitted { access: Some(set), source: AccessSource::Predicted },
            None => Admitted::default(),
        };
        sets.into_iter().map(admitted).collect()
    }
}
