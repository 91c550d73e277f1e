//! [`EvmExecutor`]: revm as a `lanes_runtime::Executor`.
//!
//! revm reads state through [`ViewDb`], a `revm::Database` over the runtime's
//! lock-checked `StateView`, so the declaration is enforced on every path that
//! loads state (SLOAD, CALL*, BALANCE, EXTCODE*, CREATE*, SELFDESTRUCT, and
//! the sender and target loads). Writes revm returns go back through the view,
//! which refuses a write to a key that is only read-locked. The priority fee is
//! captured by a handler that overrides revm's beneficiary-reward step, so the
//! coinbase account is never loaded; the runtime credits it at seal.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

use alloy_consensus::{Transaction as _, TxEnvelope};
use alloy_eips::Typed2718;
use alloy_primitives::{Address, Bytes, U256};
use lanes_runtime::{Bank, BlockEnv, DecodeError, Executor, Outcome, StateView, TxError};
use revm::ExecuteEvm;
use revm::bytecode::opcode::SSTORE;
use revm::context::Transaction as _;
use revm::context::result::{EVMError, ExecResultAndState, ExecutionResult, HaltReason};
use revm::context::{BlockEnv as RevmBlockEnv, CfgEnv, Context, TxEnv};
use revm::context_interface::cfg::{GasId, GasParams};
use revm::context_interface::either::Either;
use revm::handler::system_call::SystemCallTx;
use revm::handler::{
    Handler, MainBuilder, MainContext, MainnetContext, MainnetEvm, MainnetHandler,
};
use revm::interpreter::instructions::host::sstore_with_gas_accounting;
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::{
    Host, Instruction, InstructionContext, InstructionExecResult, InstructionResult,
};
use revm::primitives::eip4844::{
    BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN, BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE,
};
use revm::state::EvmState;

pub use revm::primitives::hardfork::SpecId;

pub(crate) use crate::db::{
    CodeCache, DbError, ViewDb, header_to_info, recent_hash, stored_bytecode,
};
pub use crate::db::{EXISTING_EMPTY, SHARED_CODE_ENTRIES, SharedCode, has_code};

use crate::config::{CallLimits, EvmConfig};
use crate::diff::apply_diff;
use crate::evm::{Evm, FeeCapture, PlainTransfer, StorageHolders, plain_recipient, receipt_data};
use crate::transfer::plain_transfer;
use crate::tx::{EvmTx, TxRules};

/// EIP-1283's SLOAD_GAS: what an SSTORE that changes nothing costs.
const EIP1283_SLOAD_GAS: u64 = 200;

/// SSTORE under EIP-1283: revm's SSTORE with EIP-2200's dynamic gas and
/// refunds (the gas table [`EvmExecutor::with_eip1283`] sets holds
/// EIP-1283's values); before Istanbul revm checks no 2300 gas sentry, as
/// EIP-1283 had none.
fn sstore_eip1283<H: Host + ?Sized>(
    context: InstructionContext<'_, H, EthInterpreter>,
) -> InstructionExecResult {
    sstore_with_gas_accounting(context, |context, _, load| {
        let params = context.host.gas_params();
        let gas = params.sstore_dynamic_gas(true, &load.data, false);
        let refund = params.sstore_refund(true, &load.data);
        if !context.interpreter.gas.record_regular_cost(gas) {
            return Err(InstructionResult::OutOfGas);
        }
        context.interpreter.gas.record_refund(refund);
        Ok(())
    })
}

/// The gas a system call runs with before Amsterdam (EIP-4788, EIP-2935,
/// EIP-7002, EIP-7251): revm 43's `SYSTEM_CALL_GAS_LIMIT` adds EIP-8037's
/// state-gas reservoir to it on every fork.
pub(crate) const SYSTEM_CALL_GAS: u64 = 30_000_000;

/// What an Ethereum block fixes for its EVM beyond the runtime's
/// [`BlockEnv`]: an imported block's difficulty and blob gas.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EthBlockEnv {
    /// DIFFICULTY before the merge (after it, PREVRANDAO is the runtime's
    /// `BlockEnv::random`).
    pub difficulty: U256,
    /// The block's excess blob gas (EIP-4844), which prices its blobs.
    pub excess_blob_gas: u64,
    /// The blob base fee's update fraction in force (`None`: the fork's).
    pub blob_update_fraction: Option<u64>,
    /// Most blobs one transaction may carry (`None`: the fork's).
    pub max_blobs_per_tx: Option<u64>,
    /// The beacon slot SLOTNUM answers (EIP-7843, Amsterdam; 0 where the
    /// header has none).
    pub slot_number: u64,
}

/// revm as a lanes executor.
#[derive(Clone, Debug)]
pub struct EvmExecutor {
    config: EvmConfig,
    rules: TxRules,
    /// revm's configuration, built once (its gas table is an `Arc`).
    cfg: CfgEnv,
    /// The block's own values, for an imported block.
    block: Option<EthBlockEnv>,
    /// Analysed code its workers share.
    code: SharedCode,
    /// The chain id in force, shared by the executor's clones: starts as
    /// the config's, and a dev node's `anvil_setChainId` changes it.
    chain_id: Arc<AtomicU64>,
    /// Whether plain value transfers run without the EVM
    /// ([`Self::with_native_transfers`]).
    native_transfers: bool,
    /// What the state before the block held in storage, where given:
    /// EIP-7610's collisions and a destroyed contract's whole storage
    /// ([`Self::with_storage_holders`]).
    holders: Option<StorageHolders>,
    /// SSTORE by EIP-1283 ([`Self::with_eip1283`]).
    eip1283: bool,
}

impl EvmExecutor {
    /// An executor for `config`.
    pub fn new(config: EvmConfig) -> Self {
        let cfg = CfgEnv::new_with_spec(config.spec).with_chain_id(config.chain_id);
        let chain_id = Arc::new(AtomicU64::new(config.chain_id));
        Self {
            rules: config.tx_rules(),
            cfg,
            config,
            block: None,
            code: SharedCode::default(),
            chain_id,
            native_transfers: true,
            holders: None,
            eip1283: false,
        }
    }

    /// This executor with `limits` on the calls it simulates (an imported
    /// block's executor takes the node's).
    pub fn with_call_limits(mut self, limits: CallLimits) -> Self {
        self.config.call_limits = limits;
        self
    }

    /// This executor running a plain value transfer to an account without
    /// code without the EVM (`true`, the default: the same result, a
    /// fraction of the time), or through revm like every transaction
    /// (`false`: what the default is checked and measured against).
    pub fn with_native_transfers(mut self, native: bool) -> Self {
        self.native_transfers = native;
        self
    }

    /// The chain id in force: what transactions must carry and CHAINID
    /// answers.
    pub fn chain_id(&self) -> u64 {
        self.chain_id.load(AtomicOrdering::Acquire)
    }

    /// Changes the chain id in force for this executor and every clone of
    /// it, from the next transaction decoded or run on.
    pub fn set_chain_id(&self, chain_id: u64) {
        self.chain_id.store(chain_id, AtomicOrdering::Release);
    }

    /// This executor sharing `code` (analysed contracts) with the
    /// executors it came from: an importer keeps one across blocks.
    pub fn with_shared_code(mut self, code: SharedCode) -> Self {
        self.code = code;
        self
    }

    /// The analysed code its workers share.
    pub fn shared_code(&self) -> &SharedCode {
        &self.code
    }

    /// A worker's code cache, backed by [`Self::shared_code`].
    pub(crate) fn code_cache(&self) -> CodeCache {
        CodeCache::shared(self.code.clone())
    }

    /// This executor for transactions of one Ethereum block, with the
    /// block's own difficulty and blob gas (an imported block's).
    pub fn with_block(mut self, block: EthBlockEnv) -> Self {
        self.cfg.blob_base_fee_update_fraction = block.blob_update_fraction;
        if block.max_blobs_per_tx.is_some() {
            self.cfg.max_blobs_per_tx = block.max_blobs_per_tx;
        }
        self.block = Some(block);
        self
    }

    /// This executor metering SSTORE by EIP-1283 (Constantinople without
    /// Petersburg): EIP-2200's rules with an SLOAD of 200 gas and no 2300
    /// gas sentry. revm 43 has no such spec: it runs as Petersburg, with
    /// its SSTORE and gas table replaced.
    pub fn with_eip1283(mut self, on: bool) -> Self {
        self.eip1283 = on;
        if on {
            let mut params = GasParams::new_spec(self.config.spec);
            params.override_gas([
                (GasId::sstore_static(), EIP1283_SLOAD_GAS),
                (GasId::sstore_set_without_load_cost(), 20_000 - EIP1283_SLOAD_GAS),
                (GasId::sstore_reset_without_cold_load_cost(), 5_000 - EIP1283_SLOAD_GAS),
                (GasId::sstore_set_refund(), 20_000 - EIP1283_SLOAD_GAS),
                (GasId::sstore_reset_refund(), 5_000 - EIP1283_SLOAD_GAS),
                (GasId::sstore_clearing_slot_refund(), 15_000),
            ]);
            self.cfg.set_gas_params(params);
        }
        self
    }

    /// This executor knowing what the state the block runs on holds in
    /// storage (`holders`), and so applying EIP-7610 in full: a creation at
    /// an address that holds storage collides, as one at an address with a
    /// nonce or code does; and a contract destroyed before Cancun has every
    /// slot it held deleted, not only those its run loaded. Without it, a
    /// run asks its parent's slot index where the database keeps one (a dev
    /// node's, [`lanes_runtime::StateView::parent_slots`]), and where none
    /// is kept only nonce and code collide.
    pub fn with_storage_holders(mut self, holders: StorageHolders) -> Self {
        self.holders = Some(holders);
        self
    }

    /// What the state a run on `view` starts from holds in storage: the
    /// one [`Self::with_storage_holders`] gave, else the parent's slot
    /// index where its database keeps one (a dev node's).
    pub(crate) fn parent_storage(&self, view: &StateView<'_>) -> Option<StorageHolders> {
        self.holders.clone().or_else(|| view.parent_slots().map(StorageHolders::new))
    }

    /// The transaction rules it decodes with, under the chain id in force.
    pub fn rules(&self) -> TxRules {
        TxRules { chain_id: self.chain_id(), ..self.rules.clone() }
    }

    /// This executor decoding with `rules` instead of its config's.
    pub fn with_rules(mut self, rules: TxRules) -> Self {
        self.rules = rules;
        self
    }

    /// An Ethereum block's system call (EIP-4788, EIP-2935, EIP-7002,
    /// EIP-7251): `input` sent to `address` from the system address,
    /// against `bank`'s state with every key; its writes go into the bank
    /// as derived state ([`Bank::apply_derived`]). Answers the call's
    /// output, or `None` when `address` holds no code (nothing ran).
    pub fn system_call(
        &self,
        bank: &Bank,
        address: Address,
        input: Bytes,
    ) -> Result<Option<Bytes>, TxError> {
        let mut view = bank.recording_view();
        if !has_code(&view.account(&address)?.code_hash) {
            return Ok(None);
        }
        let env = bank.env();
        let db = ViewDb { view: Some(view), env, code: self.code_cache() };
        let mut evm = self.build(db, env, self.cfg());
        // Each fork's own allowance: 30,000,000 gas (EIP-4788, EIP-2935,
        // EIP-7002, EIP-7251), and revm's, with EIP-8037's state gas on
        // top, from Amsterdam on.
        let mut tx = <TxEnv as SystemCallTx>::new_system_tx(address, input);
        if !self.config.spec.is_enabled_in(SpecId::AMSTERDAM) {
            tx.gas_limit = SYSTEM_CALL_GAS;
        }
        evm.ctx.tx = tx;
        let run = MainnetHandler::<_, EVMError<DbError>, _>::default()
            .run_system_call(&mut evm)
            .map(|result| ExecResultAndState::new(result, evm.finalize()));
        let mut view = evm.ctx.journaled_state.database.view.take().expect("set above");
        let ExecResultAndState { result, state } = match run {
            Ok(done) => done,
            Err(EVMError::Database(DbError(e))) => return Err(e),
            Err(e) => return Err(TxError::Invalid(format!("system call to {address}: {e}"))),
        };
        let output = match result {
            ExecutionResult::Success { output, .. } => output.into_data(),
            other => {
                return Err(TxError::Invalid(format!(
                    "system call to {address} failed: {other:?}"
                )));
            }
        };
        apply_diff(&mut view, state, self.config.spec, None, None)?;
        bank.apply_derived(view);
        Ok(Some(output))
    }

    /// revm's block environment for the runtime's block `env`.
    pub fn revm_block(&self, env: &BlockEnv) -> RevmBlockEnv {
        let mut block = block_env(env, self.config.spec);
        if let Some(eth) = &self.block {
            block.difficulty = eth.difficulty;
            block.slot_num = eth.slot_number;
            let fraction =
                eth.blob_update_fraction.unwrap_or_else(|| blob_fraction(self.config.spec));
            block.set_blob_excess_gas_and_price(eth.excess_blob_gas, fraction);
        }
        block
    }

    /// revm's configuration for this chain.
    pub(crate) fn cfg(&self) -> CfgEnv {
        let mut cfg = self.cfg.clone();
        cfg.chain_id = self.chain_id();
        cfg
    }

    /// revm's configuration for replaying a block's own transactions (the
    /// traces): each was admitted under the chain id then in force, which a
    /// dev node's `anvil_setChainId` may have changed since.
    pub(crate) fn replay_cfg(&self) -> CfgEnv {
        let mut cfg = self.cfg();
        cfg.tx_chain_id_check = false;
        cfg
    }

    /// Its configuration.
    pub fn config(&self) -> &EvmConfig {
        &self.config
    }

    /// The least gas limit `tx` may carry: its intrinsic gas (base cost,
    /// calldata, creation, access list), or the EIP-7623 calldata floor when
    /// that is higher. A node refuses a transaction below it at submission
    /// rather than dropping it at execution.
    pub fn intrinsic_gas(&self, tx: &EvmTx) -> u64 {
        let envelope = tx.envelope();
        let (accounts, slots) = envelope.access_list().map_or((0, 0), |list| {
            let slots: usize = list.iter().map(|item| item.storage_keys.len()).sum();
            (list.len() as u64, slots as u64)
        });
        let gas = revm::context_interface::cfg::gas::calculate_initial_tx_gas(
            self.config.spec,
            envelope.input(),
            envelope.kind().is_create(),
            accounts,
            slots,
            envelope.authorization_list().map_or(0, |list| list.len() as u64),
            None,
        );
        (gas.initial_regular_gas + gas.initial_state_gas).max(gas.floor_gas)
    }
}

/// The revm transaction environment of a signed transaction.
pub fn tx_env(tx: &TxEnvelope, sender: Address) -> TxEnv {
    let mut env = TxEnv::default();
    fill_tx_env(&mut env, tx, sender);
    env
}

/// Sets `env` to the revm transaction environment of `tx`, reusing the
/// allocations of its lists (a worker's EVM keeps one `TxEnv` for every
/// transaction it runs).
pub fn fill_tx_env(env: &mut TxEnv, tx: &TxEnvelope, sender: Address) {
    // Every field named, so a field a later revm adds does not go unset.
    let TxEnv {
        tx_type,
        caller,
        gas_limit,
        gas_price,
        kind,
        value,
        data,
        nonce,
        chain_id,
        access_list,
        gas_priority_fee,
        blob_hashes,
        max_fee_per_blob_gas,
        authorization_list,
    } = env;
    *tx_type = tx.ty();
    *caller = sender;
    *gas_limit = tx.gas_limit();
    *gas_price = tx.max_fee_per_gas();
    *kind = tx.kind();
    *value = tx.value();
    refill(data, tx.input());
    *nonce = tx.nonce();
    *chain_id = tx.chain_id();
    *gas_priority_fee = tx.max_priority_fee_per_gas();
    *max_fee_per_blob_gas = tx.max_fee_per_blob_gas().unwrap_or_default();
    let list = tx.access_list().map_or(&[][..], |list| &list.0);
    let items = &mut access_list.0;
    items.truncate(list.len());
    for (item, from) in items.iter_mut().zip(list) {
        item.address = from.address;
        item.storage_keys.clone_from(&from.storage_keys);
    }
    let kept = items.len();
    items.extend_from_slice(&list[kept..]);
    blob_hashes.clear();
    blob_hashes.extend_from_slice(tx.blob_versioned_hashes().unwrap_or_default());
    authorization_list.clear();
    if let Some(list) = tx.authorization_list() {
        authorization_list.extend(list.iter().cloned().map(Either::Left));
    }
}

/// Sets `data` to a copy of `input`: in the buffer `data` had when nothing
/// else holds it, else in a new one. (After a call, revm's kept frames
/// still hold the last calldata, so a contract call usually gets a new
/// buffer.) Not a clone of `input`: that counts a reference on the
/// transaction's shared buffer, a line last touched on the core that
/// decoded it (a miss on each transaction, and again at the drop), where
/// allocating and copying a calldata's few words on this thread is cheaper.
fn refill(data: &mut Bytes, input: &[u8]) {
    let old = std::mem::take(&mut data.0);
    let mut buf = old.try_into_mut().unwrap_or_default();
    buf.clear();
    buf.extend_from_slice(input);
    data.0 = buf.freeze();
}

/// The revm block environment of a runtime block.
pub fn block_env(env: &BlockEnv, spec: SpecId) -> RevmBlockEnv {
    let mut block = RevmBlockEnv {
        number: U256::from(env.number),
        beneficiary: env.coinbase,
        timestamp: U256::from(env.timestamp),
        gas_limit: env.gas_limit,
        basefee: env.base_fee,
        difficulty: U256::ZERO,
        prevrandao: Some(env.random),
        ..Default::default()
    };
    // The excess follows from the parent's header (a lanes chain's); an
    // imported block's own is set over it.
    let excess = env.parent.as_deref().map_or(0, |p| crate::next_excess_blob_gas(p, spec));
    block.set_blob_excess_gas_and_price(excess, blob_fraction(spec));
    block
}

fn blob_fraction(spec: SpecId) -> u64 {
    if spec.is_enabled_in(SpecId::PRAGUE) {
        BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE
    } else {
        BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN
    }
}

/// A worker thread's EVM for one bank: built once (context, configuration,
/// instruction table, a frame stack of 32 KiB operand stacks) and reused for
/// every transaction the thread runs there, with analysed code cached by hash
/// — what a long-lived revm over an in-memory database also saves.
pub struct EvmWorker<'b> {
    evm: Evm<'b>,
}

impl std::fmt::Debug for EvmWorker<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvmWorker").finish_non_exhaustive()
    }
}

impl EvmExecutor {
    /// An EVM over `db` for the block `env`, configured by `cfg`.
    pub(crate) fn build<'b>(&self, db: ViewDb<'b>, env: &BlockEnv, cfg: CfgEnv) -> Evm<'b> {
        let mut evm = Context::mainnet()
            .with_db(db)
            .with_cfg(cfg)
            .with_block(self.revm_block(env))
            .build_mainnet();
        if self.eip1283 {
            evm.instruction.insert_instruction(SSTORE, Instruction::new(sstore_eip1283), 0);
        }
        evm
    }

    /// [`Self::build`] with an inspector (simulations' time budget).
    pub(crate) fn build_inspected<'b, I>(
        &self,
        db: ViewDb<'b>,
        env: &BlockEnv,
        cfg: CfgEnv,
        inspector: I,
    ) -> MainnetEvm<MainnetContext<ViewDb<'b>>, I> {
        Context::mainnet()
            .with_db(db)
            .with_cfg(cfg)
            .with_block(self.revm_block(env))
            .build_mainnet_with_inspector(inspector)
    }
}

impl Executor for EvmExecutor {
    type Tx = EvmTx;
    type Worker<'b> = EvmWorker<'b>;

    fn decode(&self, bytes: &[u8]) -> Result<EvmTx, DecodeError> {
        let chain_id = self.chain_id();
        let decoded = if chain_id == self.rules.chain_id {
            EvmTx::decode(bytes, &self.rules)
        } else {
            EvmTx::decode(bytes, &TxRules { chain_id, ..self.rules.clone() })
        };
        decoded.map_err(|e| DecodeError(e.to_string()))
    }

    fn worker<'b>(&'b self, env: &'b BlockEnv) -> EvmWorker<'b> {
        let db = ViewDb { view: None, env, code: self.code_cache() };
        EvmWorker { evm: self.build(db, env, self.cfg()) }
    }

    fn execute<'b>(
        &self,
        worker: &mut EvmWorker<'b>,
        tx: &EvmTx,
        state: StateView<'b>,
    ) -> (Result<Outcome, TxError>, StateView<'b>) {
        let evm = &mut worker.evm;
        // An impersonated sender may have code (a multisig, a DAO): EIP-3607
        // refuses such a sender only for signed transactions, as anvil does.
        evm.ctx.cfg.disable_eip3607 = tx.is_impersonated();
        fill_tx_env(&mut evm.ctx.tx, tx.envelope(), tx.sender());
        let mut state = state;
        if self.native_transfers
            && let Some(outcome) = plain_transfer(evm, tx, &mut state, self.config.spec)
        {
            return (outcome, state);
        }
        let parent = self.parent_storage(&state);
        evm.ctx.journaled_state.database.view = Some(state);
        let mut handler = FeeCapture::new(parent.clone());
        let result = handler.run(evm);
        let diff = evm.finalize();
        let mut state = evm.ctx.journaled_state.database.view.take().expect("set above");
        let transfer = plain_recipient(tx).map(|to| PlainTransfer {
            from: tx.sender(),
            to,
            // What revm checks the sender's balance against: a balance that
            // covers it gives the same run, whatever else it holds.
            covers: match revm::context::Cfg::is_balance_check_disabled(&evm.ctx.cfg) {
                true => None,
                false => evm.ctx.tx.max_balance_spending().ok(),
            },
        });
        // A coinbase the run destroyed (before Cancun, or created in the
        // same run) is deleted after its fee is paid, as geth deletes it at
        // the transaction's end: that fee is lost.
        let destroyed = diff.get(&evm.ctx.block.beneficiary).is_some_and(|a| a.is_selfdestructed());
        let fee = if destroyed { U256::ZERO } else { handler.fee.get() };
        let parent = parent.as_ref();
        let outcome = outcome(result, diff, fee, &mut state, self.config.spec, transfer, parent);
        (outcome, state)
    }
}

/// The runtime outcome of a revm run, its writes applied through `state`.
pub(crate) fn outcome(
    result: Result<ExecutionResult<HaltReason>, EVMError<DbError>>,
    diff: EvmState,
    fee: U256,
    state: &mut StateView<'_>,
    spec: SpecId,
    transfer: Option<PlainTransfer>,
    parent: Option<&StorageHolders>,
) -> Result<Outcome, TxError> {
    {
        let result = match result {
            Ok(result) => result,
            Err(EVMError::Database(DbError(e))) => return Err(e),
            Err(EVMError::Transaction(e)) => return Err(TxError::Invalid(e.to_string())),
            Err(e) => return Err(TxError::Invalid(e.to_string())),
        };
        apply_diff(state, diff, spec, transfer, parent)?;
        let (success, gas_used) = (result.is_success(), result.tx_gas_used());
        let data = match &result {
            ExecutionResult::Success { logs, output, .. } => {
                receipt_data(logs, output.data(), output.address().copied())
            }
            ExecutionResult::Revert { output, .. } => receipt_data(&[], output, None),
            ExecutionResult::Halt { .. } => receipt_data(&[], &Bytes::new(), None),
        };
        Ok(Outcome { success, gas_used, fee, data })
    }
}

#[cfg(test)]
mod tests {
    use alloy_consensus::{SignableTransaction, TxEip1559, TxLegacy};
    use alloy_eips::eip2930::{AccessList, AccessListItem};
    use alloy_primitives::{B256, Log, Signature, TxKind};

    use super::*;
    use crate::evm::{EvmReceiptData, log_parts};

    #[test]
    fn test_receipt_data_is_the_borsh_of_evm_receipt_data() {
        let log = |i: u8, topics: usize| {
            Log::new_unchecked(
                Address::repeat_byte(i),
                (0..topics).map(|t| B256::repeat_byte(i + t as u8)).collect(),
                Bytes::from(vec![i; usize::from(i)]),
            )
        };
        let logs = vec![log(1, 0), log(2, 3), log(9, 4)];
        let output = Bytes::from_static(b"returned");
        for (logs, created) in [(vec![], None), (logs, Some(Address::repeat_byte(7)))] {
            let expected =
                EvmReceiptData { logs: log_parts(logs.clone()), output: output.clone(), created };
            let data = receipt_data(&logs, &output, created);
            assert_eq!(data.to_vec(), borsh::to_vec(&expected).unwrap());
            let outcome = Outcome { success: true, gas_used: 1, fee: U256::ZERO, data };
            assert_eq!(EvmReceiptData::from_outcome(&outcome), Some(expected));
        }
    }

    #[test]
    fn test_a_reused_tx_env_equals_a_fresh_one() {
        let signed =
            |tx: TxEip1559| -> TxEnvelope { tx.into_signed(Signature::test_signature()).into() };
        let list = |items: usize, keys: usize| {
            AccessList(
                (0..items)
                    .map(|i| AccessListItem {
                        address: Address::repeat_byte(i as u8),
                        storage_keys: (0..keys).map(|k| B256::repeat_byte(k as u8)).collect(),
                    })
                    .collect(),
            )
        };
        let tx = |nonce, access_list| {
            signed(TxEip1559 {
                chain_id: 1,
                nonce,
                to: TxKind::Call(Address::repeat_byte(0xaa)),
                input: Bytes::from(vec![nonce as u8; 4]),
                access_list,
                ..Default::default()
            })
        };
        let legacy: TxEnvelope = TxLegacy { nonce: 9, ..Default::default() }
            .into_signed(Signature::test_signature())
            .into();
        let txs =
            [tx(1, list(3, 2)), tx(2, list(1, 5)), legacy, tx(4, list(2, 0)), tx(5, list(4, 1))];
        let mut env = TxEnv::default();
        let mut kept = Vec::new();
        for (i, tx) in txs.iter().enumerate() {
            let sender = Address::repeat_byte(i as u8);
            fill_tx_env(&mut env, tx, sender);
            assert_eq!(env, tx_env(tx, sender), "transaction {i}");
            if i % 2 == 0 {
                // Something still holds this input: the next fill must not
                // write into its buffer.
                kept.push((env.data.clone(), tx.input().clone()));
            }
        }
        for (held, input) in kept {
            assert_eq!(held, input, "an input held past its fill was overwritten");
        }
    }
}
