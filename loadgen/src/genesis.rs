//! `lanes-loadgen genesis`: a lanes genesis in which the workload's setup is
//! already done. The setup transactions run through revm on an in-memory
//! database and the resulting accounts, code and storage become the alloc,
//! so the chain holds exactly what the same transactions sent to another
//! node would leave (the deployer's nonce included, so a run sees the setup
//! as done and skips it).

use std::collections::BTreeMap;
use std::convert::Infallible;

use alloy_genesis::{Genesis as GethGenesis, GenesisAccount};
use alloy_primitives::{Address, B256, U256};
use revm::ExecuteCommitEvm;
use revm::context::result::{EVMError, ExecutionResult};
use revm::context::{BlockEnv, CfgEnv, Context, TxEnv};
use revm::context_interface::ContextTr;
use revm::database::{CacheDB, EmptyDB};
use revm::handler::{MainBuilder, MainContext};
use revm::primitives::hardfork::SpecId;
use revm::state::AccountInfo;

use crate::plan::Plan;
use lanes_eth::genesis::dev_genesis;

/// Block gas limit of a loadgen genesis: room for tens of thousands of
/// transactions per block (the `--dev` chain has anvil's 30M).
pub const GAS_LIMIT: u64 = 4_000_000_000;
/// Wei each workload account and the deployer hold: 1000 ETH.
pub const ACCOUNT_BALANCE: u128 = 1_000 * 10u128.pow(18);

/// A setup transaction that does not apply to the genesis ([`build`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// revm refused the transaction (it never ran).
    #[error("setup `{what}`: {source}")]
    Invalid {
        /// The setup call (`SetupCall::what`).
        what: String,
        /// revm's reason.
        source: EVMError<Infallible>,
    },
    /// The transaction ran and reverted or halted.
    #[error("setup `{what}` failed: {result:?}")]
    Failed {
        /// The setup call (`SetupCall::what`).
        what: String,
        /// How it ended.
        result: Box<ExecutionResult>,
    },
}

/// The `--dev` chain (its ten accounts included) with `chain_id`, a
/// [`GAS_LIMIT`] block gas limit, the plan's accounts funded and its setup
/// done.
pub fn build(plan: &Plan, chain_id: u64) -> Result<GethGenesis, BuildError> {
    let mut genesis = dev_genesis();
    genesis.config.chain_id = chain_id;
    genesis.gas_limit = GAS_LIMIT;
    let mut db = CacheDB::new(EmptyDB::default());
    let funded = |balance| AccountInfo { balance, ..Default::default() };
    for (address, account) in &genesis.alloc {
        db.insert_account_info(*address, funded(account.balance));
    }
    for key in plan.accounts.iter().chain([&plan.deployer]) {
        db.insert_account_info(key.address(), funded(U256::from(ACCOUNT_BALANCE)));
    }
    let mut evm = Context::mainnet()
        .with_db(db)
        .with_cfg(CfgEnv::new_with_spec(SpecId::PRAGUE).with_chain_id(chain_id))
        .with_block(BlockEnv {
            timestamp: U256::from(genesis.timestamp),
            gas_limit: GAS_LIMIT,
            basefee: 0,
            ..Default::default()
        })
        .build_mainnet();
    for (nonce, call) in plan.setup.iter().enumerate() {
        let tx = TxEnv {
            caller: plan.deployer.address(),
            gas_limit: call.gas_limit,
            gas_price: 0,
            kind: call.to.map_or(revm::primitives::TxKind::Create, revm::primitives::TxKind::Call),
            data: call.input.clone(),
            nonce: nonce as u64,
            chain_id: Some(chain_id),
            ..Default::default()
        };
        let result = evm
            .transact_commit(tx)
            .map_err(|source| BuildError::Invalid { what: call.what.clone(), source })?;
        if !result.is_success() {
            return Err(BuildError::Failed { what: call.what.clone(), result: Box::new(result) });
        }
    }
    let cache = &evm.ctx.db().cache;
    let mut alloc: BTreeMap<Address, GenesisAccount> = BTreeMap::new();
    for (address, account) in &cache.accounts {
        let info = &account.info;
        let storage: BTreeMap<B256, B256> = account
            .storage
            .iter()
            .filter(|(_, v)| !v.is_zero())
            .map(|(k, v)| (B256::from(*k), B256::from(*v)))
            .collect();
        let code = cache
            .contracts
            .get(&info.code_hash)
            .map(|c| c.original_bytes())
            .filter(|c| !c.is_empty());
        if info.balance.is_zero() && info.nonce == 0 && code.is_none() && storage.is_empty() {
            continue;
        }
        alloc.insert(
            *address,
            GenesisAccount {
                balance: info.balance,
                nonce: (info.nonce > 0).then_some(info.nonce),
                code,
                storage: (!storage.is_empty()).then_some(storage),
                private_key: None,
            },
        );
    }
    genesis.alloc = alloc;
    Ok(genesis)
}
