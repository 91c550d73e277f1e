//! Calls over a state with overrides: `eth_call`'s state overrides, and the
//! dev node's ERC-20 cheats, which find a token's balance slot by overriding
//! candidate slots. The overrides live in a revm `CacheDB` over a
//! [`ReadView`]; nothing is written to the accounts database.

use std::time::Instant;

use alloy_primitives::{KECCAK256_EMPTY, U256, keccak256};
use alloy_rpc_types_eth::state::StateOverride;
use lanes_accounts_db::ReadView;
use lanes_runtime::BlockEnv;
use revm::bytecode::Bytecode;
use revm::context::Context;
use revm::database::CacheDB;
use revm::handler::{MainBuilder, MainContext};
use revm::inspector::InspectorHandler;
use revm::{DatabaseCommit, ExecuteEvm};

use crate::call::{CallRequest, Deadline, SimError, Simulation, simulation};
use crate::evm::FeeCapture;
use crate::executor::EvmExecutor;
use crate::trace::{TraceDb, run_error};

/// A block's state with overrides applied, for calls that are not kept.
pub struct Overlay<'a> {
    db: CacheDB<TraceDb<'a>>,
    env: &'a BlockEnv,
}

impl std::fmt::Debug for Overlay<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overlay").field("block", &self.env.number).finish_non_exhaustive()
    }
}

impl<'a> Overlay<'a> {
    /// `view` as a block `env` sees it, with nothing overridden yet.
    pub fn new(view: ReadView, env: &'a BlockEnv) -> Self {
        Self { db: CacheDB::new(TraceDb { view, env }), env }
    }

    /// Applies `overrides` (geth's: balance, nonce, code, and storage
    /// replaced whole with `state` or slot by slot with `stateDiff`).
    pub fn apply(&mut self, overrides: &StateOverride) -> Result<(), SimError> {
        let state = |e: crate::trace::TraceDbError| SimError::State(e.to_string());
        for (address, o) in overrides {
            if o.state.is_some() && o.state_diff.is_some() {
                return Err(SimError::Invalid(format!(
                    "account {address} has both 'state' and 'stateDiff'"
                )));
            }
            if o.move_precompile_to.is_some() {
                return Err(SimError::Invalid(
                    "movePrecompileToAddress is not supported by lanes".into(),
                ));
            }
            let account = self.db.load_account(*address).map_err(state)?;
            let mut info = account.info.clone();
            if let Some(balance) = o.balance {
                info.balance = balance;
            }
            if let Some(nonce) = o.nonce {
                info.nonce = nonce;
            }
            if let Some(code) = &o.code {
                info.code_hash = if code.is_empty() { KECCAK256_EMPTY } else { keccak256(code) };
                info.code =
                    Some(Bytecode::new_raw_checked(code.clone()).map_err(|e| {
                        SimError::Invalid(format!("override code of {address}: {e}"))
                    })?);
            }
            self.db.insert_account_info(*address, info);
            if let Some(slots) = &o.state {
                let slots = slots.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
                self.db.replace_account_storage(*address, slots).map_err(state)?;
            }
            for (slot, value) in o.state_diff.iter().flatten() {
                self.db
                    .insert_account_storage(*address, (*slot).into(), (*value).into())
                    .map_err(state)?;
            }
        }
        Ok(())
    }

    /// Sets one storage slot.
    pub fn set_storage(
        &mut self,
        address: alloy_primitives::Address,
        slot: U256,
        value: U256,
    ) -> Result<(), SimError> {
        self.db
            .insert_account_storage(address, slot, value)
            .map_err(|e| SimError::State(e.to_string()))
    }
}

impl EvmExecutor {
    /// Runs `request` as `eth_call` does over `overlay`, within the call
    /// limits; its writes are kept in the overlay when `keep`.
    pub fn call_overlay(
        &self,
        overlay: &mut Overlay<'_>,
        request: &CallRequest,
        keep: bool,
    ) -> Result<Simulation, SimError> {
        let timeout = self.config().call_limits.timeout;
        let from = request.from.unwrap_or_default();
        let nonce = match request.nonce {
            Some(n) => n,
            None => {
                let account =
                    overlay.db.load_account(from).map_err(|e| SimError::State(e.to_string()))?;
                account.info.nonce
            }
        };
        let env = overlay.env;
        let tx = self.call_tx(request, nonce, env.gas_limit).map_err(SimError::Invalid)?;
        let mut evm = Context::mainnet()
            .with_db(&mut overlay.db)
            .with_cfg(self.call_cfg())
            .with_block(self.revm_block(env))
            .build_mainnet_with_inspector(Deadline::new(Instant::now() + timeout));
        evm.ctx.tx = tx;
        let mut handler = FeeCapture::new(None);
        let result = handler.inspect_run(&mut evm);
        let state = evm.finalize();
        if evm.inspector.late {
            return Err(SimError::Timeout(timeout));
        }
        let result = result.map_err(|e| match run_error(e) {
            crate::TraceError::State(e) => SimError::State(e),
            e => {
                SimError::Invalid(e.to_string().trim_start_matches("invalid transaction: ").into())
            }
        })?;
        if keep {
            overlay.db.commit(state);
        }
        Ok(simulation(result, Vec::new()))
    }
}
