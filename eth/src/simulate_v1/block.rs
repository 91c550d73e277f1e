//! One simulated block: its header, overrides, system calls, calls and seal.

use std::time::Instant;

use alloy_consensus::Transaction as _;
use alloy_consensus::proofs::{calculate_receipt_root, calculate_transaction_root};
use alloy_consensus::transaction::Recovered;
use alloy_consensus::{BlockBody, EMPTY_OMMER_ROOT_HASH, Header, Receipt, TxEnvelope};
use alloy_eips::eip1559::BaseFeeParams;
use alloy_eips::eip7685::Requests;
use alloy_eips::eip7840::BlobParams;
use alloy_eips::{eip2935, eip4788, eip7002, eip7251};
use alloy_primitives::{Address, B256, Bloom, Bytes, U256};
use alloy_rpc_types_eth::BlockOverrides;
use alloy_rpc_types_eth::state::StateOverride;
use alloy_trie::EMPTY_ROOT_HASH;
use lanes_accounts_db::{AccountHeader, Entry};
use revm::bytecode::Bytecode;
use revm::context::result::ExecutionResult;
use revm::context::{BlockEnv as RevmBlockEnv, CfgEnv, Context, Evm};
use revm::context_interface::block::BlobExcessGasAndPrice;
use revm::database::AccountState;
use revm::handler::instructions::EthInstructions;
use revm::handler::{MainContext, SystemCallEvm};
use revm::{DatabaseCommit, InspectEvm};

use super::call::{build_tx, check_nonce, invalid, sim_call};
use super::hooks::{Db, SimEvm};
use super::hooks::{SimInspector, SimPrecompiles};
use super::types::{
    Build, SimBase, SimRules, SimulateError, SimulatedBlock, codes, fail, internal, timed_out,
};
use crate::header::{next_base_fee, next_excess_blob_gas};
use crate::{StateTrie, block_rewards, deposit_requests};
use lanes_evm_adapter::keeps_empty;
use lanes_evm_adapter::typed_receipt;
use lanes_evm_adapter::{EXISTING_EMPTY, SpecId, has_code};

/// Bytes of blob gas per blob (EIP-4844).
const GAS_PER_BLOB: u64 = 131_072;

/// The state of a simulation between blocks.
pub(super) struct Simulator<'a, 'b> {
    pub(super) base: &'b SimBase<'a>,
    pub(super) db: Db<'b>,
    /// The whole state, brought up to date at each seal for its root.
    pub(super) world: StateTrie,
    pub(super) parent: Header,
    /// Gas the request's calls may still use.
    pub(super) budget: u64,
    pub(super) deadline: Instant,
    pub(super) validation: bool,
    pub(super) transfers: bool,
    /// Building a block to be proposed (`testing_buildBlockV1`), not
    /// simulating calls: what it is built from.
    pub(super) build: Option<&'a Build<'a>>,
}

/// One transaction of a simulated block: a call of the request, or a
/// signed transaction of a block being built.
enum Item<'r> {
    Call(&'r alloy_rpc_types_eth::TransactionRequest),
    Signed(&'r Recovered<TxEnvelope>),
}

/// One block's fork and what follows from it.
struct Fork {
    spec: SpecId,
    merged: bool,
    blob: Option<BlobParams>,
}

impl Simulator<'_, '_> {
    fn fork(&self, number: u64, time: u64) -> Fork {
        match self.base.rules {
            SimRules::Ethereum(eth) => {
                let merged = eth.is_merged_block(self.parent.difficulty);
                let spec = eth.spec_at(number, time, merged);
                let blob = eth.blob_params(time).filter(|_| spec.is_enabled_in(SpecId::CANCUN));
                Fork { spec, merged, blob }
            }
            SimRules::Lanes(spec) => {
                Fork { spec, merged: true, blob: lanes_evm_adapter::blob_params_of(spec) }
            }
        }
    }

    /// The header before execution: what the overrides set, what carries
    /// over from the parent (miner, gas limit), and the fee fields.
    fn header(&self, number: u64, time: u64, o: &BlockOverrides, fork: &Fork) -> Header {
        let parent = &self.parent;
        let london = fork.spec.is_enabled_in(SpecId::LONDON);
        let base_fee = london.then(|| match o.base_fee {
            Some(fee) => u64::try_from(fee).unwrap_or(u64::MAX),
            None if self.validation => match parent.base_fee_per_gas {
                Some(fee) => {
                    let params = BaseFeeParams::ethereum();
                    let next = next_base_fee(parent.gas_used, parent.gas_limit, fee, params);
                    u64::try_from(next).unwrap_or(u64::MAX)
                }
                None => alloy_eips::eip1559::INITIAL_BASE_FEE,
            },
            None => 0,
        });
        let cancun = fork.spec.is_enabled_in(SpecId::CANCUN);
        let excess_blob_gas = cancun.then(|| match (&fork.blob, parent.excess_blob_gas) {
            (Some(params), Some(_)) => {
                next_excess_blob_gas(parent, params, fork.spec).unwrap_or_default()
            }
            _ => 0,
        });
        let shanghai = fork.spec.is_enabled_in(SpecId::SHANGHAI);
        let prague = fork.spec.is_enabled_in(SpecId::PRAGUE);
        let build = self.build;
        Header {
            parent_hash: B256::ZERO,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: o.coinbase.unwrap_or(parent.beneficiary),
            extra_data: build.map(|b| b.extra_data.clone()).unwrap_or_default(),
            difficulty: if fork.merged { U256::ZERO } else { parent.difficulty },
            number,
            gas_limit: o.gas_limit.unwrap_or(parent.gas_limit),
            timestamp: time,
            mix_hash: o.random.unwrap_or_default(),
            base_fee_per_gas: base_fee,
            withdrawals_root: shanghai.then(|| match build {
                Some(b) => alloy_consensus::proofs::calculate_withdrawals_root(b.withdrawals),
                None => EMPTY_ROOT_HASH,
            }),
            blob_gas_used: cancun.then_some(0),
            excess_blob_gas,
            parent_beacon_block_root: cancun
                .then(|| build.and_then(|b| b.parent_beacon_block_root).unwrap_or_default()),
            requests_hash: prague.then_some(B256::ZERO),
            ..Header::default()
        }
    }

    /// Builds, runs and seals block `number`; `block` is the request's part
    /// (`None` for a gap block).
    pub(super) fn block(
        &mut self,
        number: u64,
        time: u64,
        block: Option<&alloy_rpc_types_eth::simulate::SimBlock>,
    ) -> Result<SimulatedBlock, SimulateError> {
        let fork = self.fork(number, time);
        let no_overrides = BlockOverrides::default();
        let o = block.and_then(|b| b.block_overrides.as_ref()).unwrap_or(&no_overrides);
        let mut header = self.header(number, time, o, &fork);
        header.parent_hash = match number.checked_sub(1) {
            Some(n) if n > self.base.header.number => {
                self.db.cache.block_hashes.get(&U256::from(n)).copied().unwrap_or_default()
            }
            _ => self.base.hash,
        };
        let revm_block = revm_block(&header, &fork, o);
        let mut precompiles = SimPrecompiles::new(fork.spec);
        if let Some(overrides) = block.and_then(|b| b.state_overrides.as_ref()) {
            apply_overrides(&mut self.db, overrides, &mut precompiles)?;
        }
        let mut cfg = CfgEnv::new_with_spec(fork.spec).with_chain_id(self.base.chain_id);
        // A built block is a real one: every check of a transaction holds.
        if self.build.is_none() {
            cfg.disable_eip3607 = true;
            cfg.disable_block_gas_limit = true;
            cfg.tx_gas_limit_cap = Some(u64::MAX);
        }
        cfg.disable_nonce_check = !self.validation;
        if let Some(params) = &fork.blob {
            cfg.blob_base_fee_update_fraction =
                Some(u64::try_from(params.update_fraction).unwrap_or(u64::MAX));
            cfg.max_blobs_per_tx = Some(params.max_blobs_per_tx);
        }
        let ctx = Context::mainnet().with_db(&mut self.db).with_cfg(cfg).with_block(revm_block);
        let mut evm: SimEvm<'_, '_> = Evm::new_with_inspector(
            ctx,
            SimInspector::new(self.transfers, self.deadline),
            EthInstructions::new_mainnet_with_spec(fork.spec),
            precompiles,
        );
        if number > 0 && fork.spec.is_enabled_in(SpecId::CANCUN) {
            let root = header.parent_beacon_block_root.unwrap_or_default();
            let input = Bytes::copy_from_slice(root.as_slice());
            system_call(&mut evm, eip4788::BEACON_ROOTS_ADDRESS, input)?;
        }
        if number > 0 && fork.spec.is_enabled_in(SpecId::PRAGUE) {
            let input = Bytes::copy_from_slice(header.parent_hash.as_slice());
            system_call(&mut evm, eip2935::HISTORY_STORAGE_ADDRESS, input)?;
        }

        let mut txs = Vec::new();
        let mut calls = Vec::new();
        let mut receipts = Vec::new();
        let mut used = 0u64;
        let mut blob_gas = 0u64;
        let requests = block.map_or(&[][..], |b| &b.calls[..]);
        let items: Vec<Item<'_>> = match self.build {
            Some(b) => b.txs.iter().map(Item::Signed).collect(),
            None => requests.iter().map(Item::Call).collect(),
        };
        let skip_invalid = self.build.is_some_and(|b| b.skip_invalid);
        for (index, item) in items.into_iter().enumerate() {
            if Instant::now() >= self.deadline {
                return Err(timed_out(self.base.timeout));
            }
            let left = header.gas_limit.saturating_sub(used);
            let (tx, env) = match item {
                Item::Call(request) => {
                    build_tx(&mut evm, request, self.base.chain_id, left, self.budget)?
                }
                Item::Signed(signed) => {
                    let mut env = revm::context::TxEnv::default();
                    lanes_evm_adapter::fill_tx_env(&mut env, signed.inner(), signed.signer());
                    if env.gas_limit > left {
                        if skip_invalid {
                            continue;
                        }
                        return fail(
                            codes::BLOCK_GAS_LIMIT,
                            format!(
                                "transaction {index}: gas limit {} over the {left} the block has left",
                                env.gas_limit
                            ),
                        );
                    }
                    (signed.inner().clone(), env)
                }
            };
            evm.ctx.cfg.disable_base_fee =
                !self.validation && env.gas_price == 0 && env.gas_priority_fee.unwrap_or(0) == 0;
            let sender_nonce = evm
                .ctx
                .journaled_state
                .database
                .load_account(env.caller)
                .map_err(internal)?
                .info
                .nonce;
            let mut run_env = env.clone();
            if self.validation {
                match check_nonce(env.nonce, sender_nonce, index) {
                    Err(_) if skip_invalid => continue,
                    checked => checked?,
                }
            } else if env.nonce == u64::MAX {
                // Unchecked here, and revm refuses the highest nonce outright.
                run_env.nonce = 0;
            }
            evm.inspector.logs.clear();
            let done = match evm.inspect_tx(run_env) {
                Ok(done) => done,
                Err(revm::context::result::EVMError::Transaction(_)) if skip_invalid => continue,
                Err(e) => return Err(invalid(e, index)),
            };
            if evm.inspector.deadline.late {
                return Err(timed_out(self.base.timeout));
            }
            let ran = done.result;
            evm.ctx.journaled_state.database.commit(done.state);
            if sender_nonce == u64::MAX && env.kind.is_call() {
                // geth's nonce wraps where revm's saturates.
                let db = &mut evm.ctx.journaled_state.database;
                db.load_account(env.caller).map_err(internal)?.info.nonce = 0;
            }
            let gas_used = ran.tx_gas_used();
            used = used.saturating_add(gas_used);
            self.budget = self.budget.saturating_sub(gas_used);
            blob_gas = blob_gas.saturating_add(
                tx.blob_versioned_hashes().map_or(0, |h| h.len() as u64 * GAS_PER_BLOB),
            );
            let logs = std::mem::take(&mut evm.inspector.logs);
            let call = sim_call(&ran, if ran.is_success() { logs } else { Vec::new() });
            let receipt = Receipt {
                status: ran.is_success().into(),
                cumulative_gas_used: used,
                logs: ran.logs().to_vec(),
            };
            receipts.push(typed_receipt(tx.tx_type(), receipt));
            let sender = env.caller;
            txs.push(Recovered::new_unchecked(tx, sender));
            calls.push(call);
        }

        let requests = if fork.spec.is_enabled_in(SpecId::PRAGUE) {
            let mut requests = Requests::default();
            let contract = match self.base.rules {
                SimRules::Ethereum(eth) => eth.deposit_contract(),
                SimRules::Lanes(_) => None,
            };
            if let Some(contract) = contract {
                let logs: Vec<(Address, Vec<B256>, Bytes)> = receipts
                    .iter()
                    .flat_map(|r| r.logs())
                    .map(|l| (l.address, l.topics().to_vec(), l.data.data.clone()))
                    .collect();
                let deposits = deposit_requests(contract, &logs).map_err(internal)?;
                requests
                    .push_request_with_type(alloy_eips::eip6110::DEPOSIT_REQUEST_TYPE, deposits);
            }
            for (address, ty) in [
                (eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS, eip7002::WITHDRAWAL_REQUEST_TYPE),
                (
                    eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
                    eip7251::CONSOLIDATION_REQUEST_TYPE,
                ),
            ] {
                if let Some(output) = system_call(&mut evm, address, Bytes::new())? {
                    requests.push_request_with_type(ty, output);
                }
            }
            Some(requests)
        } else {
            None
        };
        drop(evm);
        for w in self.build.map_or(&[][..], |b| b.withdrawals) {
            let account = self.db.load_account(w.address).map_err(internal)?;
            account.info.balance = account.info.balance.saturating_add(w.amount_wei());
            if account.account_state == AccountState::NotExisting {
                account.account_state = AccountState::Touched;
            }
        }
        if let SimRules::Ethereum(eth) = self.base.rules {
            let mut probe = header.clone();
            probe.gas_used = used;
            for (address, reward) in block_rewards(eth, &probe, &[], fork.merged) {
                let account = self.db.load_account(address).map_err(internal)?;
                account.info.balance = account.info.balance.saturating_add(reward);
                if account.account_state == AccountState::NotExisting {
                    account.account_state = AccountState::Touched;
                }
            }
        }

        header.gas_used = used;
        if header.blob_gas_used.is_some() {
            header.blob_gas_used = Some(blob_gas);
        }
        header.requests_hash = requests.as_ref().map(|r| r.requests_hash());
        let mut bloom = Bloom::ZERO;
        for r in &receipts {
            bloom.accrue_bloom(r.logs_bloom());
        }
        header.logs_bloom = bloom;
        header.receipts_root = calculate_receipt_root(&receipts);
        let envelopes: Vec<TxEnvelope> = txs.iter().map(|t| t.inner().clone()).collect();
        header.transactions_root = calculate_transaction_root(&envelopes);
        header.state_root = self.state_root(fork.spec);
        let hash = header.hash_slow();
        let withdrawals = header.withdrawals_root.map(|_| {
            alloy_eips::eip4895::Withdrawals::new(
                self.build.map(|b| b.withdrawals.to_vec()).unwrap_or_default(),
            )
        });
        let body = BlockBody { transactions: envelopes, ommers: Vec::new(), withdrawals };
        let size =
            alloy_rlp::Encodable::length(&alloy_consensus::Block { header: header.clone(), body });
        Ok(SimulatedBlock { header, hash, size: size as u64, txs, calls, requests })
    }

    /// The root of the state the cache holds over the base state.
    fn state_root(&mut self, spec: SpecId) -> B256 {
        let keep_empty = keeps_empty(spec);
        for (address, account) in &self.db.cache.accounts {
            let cleared = match account.account_state {
                AccountState::NotExisting => {
                    self.world.clear_storage(address);
                    self.world.apply(&[Entry::Account(*address, AccountHeader::default())]);
                    continue;
                }
                AccountState::StorageCleared => true,
                AccountState::Touched | AccountState::None => false,
            };
            let info = &account.info;
            let header = if info.is_empty() {
                // Touched by the EVM: deleted from Spurious Dragon on; set
                // by an override (no EVM touch): kept, as geth keeps it.
                let touched = account.account_state != AccountState::None;
                if touched && !keep_empty {
                    AccountHeader::default()
                } else {
                    AccountHeader { code_hash: EXISTING_EMPTY, ..AccountHeader::default() }
                }
            } else {
                AccountHeader {
                    nonce: info.nonce,
                    balance: info.balance,
                    code_hash: info.code_hash,
                }
            };
            if cleared {
                self.world.clear_storage(address);
            }
            let slots = account
                .storage
                .iter()
                .map(|(slot, value)| Entry::Storage(*address, B256::from(*slot), *value));
            let entries: Vec<Entry> =
                std::iter::once(Entry::Account(*address, header)).chain(slots).collect();
            self.world.apply(&entries);
        }
        self.world.root()
    }
}

fn revm_block(header: &Header, fork: &Fork, o: &BlockOverrides) -> RevmBlockEnv {
    let mut block = RevmBlockEnv {
        number: U256::from(header.number),
        beneficiary: header.beneficiary,
        timestamp: U256::from(header.timestamp),
        gas_limit: header.gas_limit,
        basefee: header.base_fee_per_gas.unwrap_or(0),
        difficulty: header.difficulty,
        prevrandao: fork.merged.then_some(header.mix_hash),
        ..Default::default()
    };
    if let Some(params) = &fork.blob {
        let fraction = u64::try_from(params.update_fraction).unwrap_or(u64::MAX);
        block.set_blob_excess_gas_and_price(header.excess_blob_gas.unwrap_or(0), fraction);
    }
    if let Some(price) = o.blob_base_fee {
        let blob_gasprice = u128::try_from(price).unwrap_or(u128::MAX);
        let excess_blob_gas = header.excess_blob_gas.unwrap_or(0);
        block.blob_excess_gas_and_price =
            Some(BlobExcessGasAndPrice { excess_blob_gas, blob_gasprice });
    }
    block
}

/// Applies one block's state overrides in address order (geth's): a
/// precompile address that is overridden stops being one for this block,
/// and `movePrecompileToAddress` serves it elsewhere.
fn apply_overrides(
    db: &mut Db<'_>,
    overrides: &StateOverride,
    precompiles: &mut SimPrecompiles,
) -> Result<(), SimulateError> {
    let mut sorted: Vec<_> = overrides.iter().collect();
    sorted.sort_by_key(|(address, _)| **address);
    for (address, o) in sorted {
        if o.state.is_some() && o.state_diff.is_some() {
            return fail(
                codes::INVALID_INPUT,
                format!("account {address} has both 'state' and 'stateDiff'"),
            );
        }
        let moved = precompiles.remove(address);
        if let Some(to) = o.move_precompile_to {
            let Some(precompile) = moved else {
                return fail(
                    codes::INVALID_INPUT,
                    format!("account {address} is not a precompile"),
                );
            };
            if overrides.contains_key(&to) {
                return fail(codes::INVALID_INPUT, format!("account {to} is already overridden"));
            }
            precompiles.insert(to, precompile);
        }
        if o.nonce.is_none() && o.balance.is_none() && o.code.is_none() {
            apply_storage(db, address, o)?;
            continue;
        }
        let account = db.load_account(*address).map_err(internal)?;
        if let Some(nonce) = o.nonce {
            account.info.nonce = nonce;
        }
        if let Some(balance) = o.balance {
            account.info.balance = balance;
        }
        if let Some(code) = &o.code {
            let bytecode = Bytecode::new_raw_checked(code.clone()).map_err(|e| SimulateError {
                code: codes::INVALID_INPUT,
                message: format!("override code of {address}: {e}"),
            })?;
            account.info.code_hash = bytecode.hash_slow();
            if code.is_empty() {
                account.info.code_hash = alloy_primitives::KECCAK256_EMPTY;
            }
            account.info.code = Some(bytecode);
        }
        let info = account.info.clone();
        db.insert_account_info(*address, info);
        apply_storage(db, address, o)?;
    }
    Ok(())
}

/// An override's `state` (all of the account's storage) or `stateDiff`.
fn apply_storage(
    db: &mut Db<'_>,
    address: &Address,
    o: &alloy_rpc_types_eth::state::AccountOverride,
) -> Result<(), SimulateError> {
    if let Some(slots) = &o.state {
        let slots = slots.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        db.replace_account_storage(*address, slots).map_err(internal)?;
    }
    for (slot, value) in o.state_diff.iter().flatten() {
        db.insert_account_storage(*address, (*slot).into(), (*value).into()).map_err(internal)?;
    }
    Ok(())
}

/// A system call (EIP-4788, EIP-2935, EIP-7002, EIP-7251), kept; its
/// output, or `None` where the contract has no code.
fn system_call(
    evm: &mut SimEvm<'_, '_>,
    address: Address,
    input: Bytes,
) -> Result<Option<Bytes>, SimulateError> {
    let db = &mut evm.ctx.journaled_state.database;
    let account = db.load_account(address).map_err(internal)?;
    if !has_code(&account.info.code_hash) {
        return Ok(None);
    }
    let done = evm.system_call(address, input).map_err(internal)?;
    let output = match done.result {
        ExecutionResult::Success { output, .. } => output.into_data(),
        other => {
            return fail(codes::INTERNAL, format!("system call to {address} failed: {other:?}"));
        }
    };
    evm.ctx.journaled_state.database.commit(done.state);
    Ok(Some(output))
}
