//! Simulation for the node: `eth_call`, `eth_estimateGas` and
//! `eth_createAccessList`, run without locks against a bank's state (normally
//! the latest committed block) and never kept.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_eips::eip7702::SignedAuthorization;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use lanes_runtime::{Bank, StateKey, TxError};
use revm::ExecuteEvm;
use revm::context::result::{EVMError, ExecutionResult};
use revm::context::{CfgEnv, ContextSetters, TxEnv};
use revm::context_interface::either::Either;
use revm::inspector::{Inspector, InspectorHandler};
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::{InstructionResult, Interpreter};

use crate::evm::{FeeCapture, log_parts};
use crate::executor::{DbError, EvmExecutor, ViewDb};

/// The fields of an `eth_call` / `eth_estimateGas` / `eth_createAccessList`
/// request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallRequest {
    /// Sender (default: the zero address).
    pub from: Option<Address>,
    /// Callee; `None` creates a contract from `data`.
    pub to: Option<Address>,
    /// Wei sent.
    pub value: U256,
    /// Calldata, or init code for a creation.
    pub data: Bytes,
    /// Gas limit (default and cap: the block gas limit).
    pub gas: Option<u64>,
    /// Gas price, or max fee per gas (default 0: nothing is charged).
    pub gas_price: Option<u128>,
    /// Max priority fee per gas (makes it an EIP-1559 request).
    pub max_priority_fee: Option<u128>,
    /// Nonce (default: the sender's).
    pub nonce: Option<u64>,
    /// An EIP-2930 access list to apply.
    pub access_list: AccessList,
    /// EIP-7702 authorizations (makes it a type-4 request).
    pub authorization_list: Vec<SignedAuthorization>,
}

/// The outcome of a simulated call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Simulation {
    /// Whether it succeeded.
    pub success: bool,
    /// Gas used (after refunds).
    pub gas_used: u64,
    /// Return data, or revert data when it reverted.
    pub output: Bytes,
    /// Whether it ended in REVERT (rather than success or an exceptional halt).
    pub reverted: bool,
    /// Why it halted, for exceptional halts (out of gas, invalid opcode, ...).
    pub halt: Option<String>,
    /// Logs: emitter, topics, data.
    pub logs: Vec<(Address, Vec<B256>, Bytes)>,
    /// The address a creation made.
    pub created: Option<Address>,
    /// Every state key it touched.
    pub touched: Vec<StateKey>,
}

/// A simulation could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The request is not a valid transaction here (gas too low for the
    /// intrinsic cost, value above the balance, ...).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// State could not be read.
    #[error("state read failed: {0}")]
    State(String),
    /// Gas estimation: the call fails at the highest gas limit allowed.
    #[error("execution fails at the gas cap")]
    Failed(Box<Simulation>),
    /// It ran past its time budget ([`CallLimits::timeout`](crate::CallLimits::timeout)).
    #[error("execution aborted (timeout = {0:?})")]
    Timeout(Duration),
}

/// Halts the EVM once a deadline passes (checked every 1024 steps): the time
/// budget of simulations, and of traces (`trace.rs`).
#[derive(Debug)]
pub struct Deadline {
    /// When the run must stop.
    pub at: Instant,
    steps: u32,
    /// Whether it passed while the EVM ran.
    pub late: bool,
}

impl Deadline {
    /// A deadline at `at`, not yet passed.
    pub fn new(at: Instant) -> Self {
        Self { at, steps: 0, late: false }
    }
}

impl<CTX> Inspector<CTX, EthInterpreter> for Deadline {
    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, _: &mut CTX) {
        self.steps = self.steps.wrapping_add(1);
        if !self.late && self.steps.is_multiple_of(1024) && Instant::now() >= self.at {
            self.late = true;
        }
        // Out of gas ends the frame (each enclosing one halts at its next
        // step); a fatal halt would make revm panic.
        if self.late {
            interp.halt(InstructionResult::OutOfGas);
        }
    }
}

impl EvmExecutor {
    /// Runs `request` against `bank`'s state within [`CallLimits`](crate::CallLimits); nothing
    /// is kept.
    pub fn call(&self, bank: &Bank, request: &CallRequest) -> Result<Simulation, SimError> {
        self.call_until(bank, request, self.deadline())
    }

    /// When a simulation starting now runs out of time.
    fn deadline(&self) -> Instant {
        Instant::now() + self.config().call_limits.timeout
    }

    /// [`Self::call`] that stops at `deadline`.
    fn call_until(
        &self,
        bank: &Bank,
        request: &CallRequest,
        deadline: Instant,
    ) -> Result<Simulation, SimError> {
        if Instant::now() >= deadline {
            return Err(SimError::Timeout(self.config().call_limits.timeout));
        }
        bank.simulate(|mut view, env| {
            let from = request.from.unwrap_or_default();
            let nonce = match request.nonce {
                Some(n) => n,
                None => view.account(&from).map_err(sim_err)?.nonce,
            };
            let tx = self.call_tx(request, nonce, env.gas_limit).map_err(SimError::Invalid)?;
            let cfg = self.call_cfg();
            let parent = self.parent_storage(&view);
            let (result, view) = {
                let db = ViewDb { view: Some(view), env, code: self.code_cache() };
                let mut evm = self.build_inspected(db, env, cfg, Deadline::new(deadline));
                evm.ctx.set_tx(tx);
                let mut handler = FeeCapture::new(parent);
                let result = handler.inspect_run(&mut evm);
                drop(evm.finalize());
                if evm.inspector.late {
                    return Err(SimError::Timeout(self.config().call_limits.timeout));
                }
                (result, evm.ctx.journaled_state.database.view.take().expect("set above"))
            };
            let result = match result {
                Ok(result) => result,
                Err(EVMError::Database(DbError(e))) => return Err(sim_err(e)),
                Err(e) => return Err(SimError::Invalid(e.to_string())),
            };
            let touched = view.touched().to_vec();
            Ok(simulation(result, touched))
        })
    }

    /// The smallest gas limit at which `request` succeeds (binary search up to
    /// the request's gas or the block gas limit).
    pub fn estimate_gas(&self, bank: &Bank, request: &CallRequest) -> Result<u64, SimError> {
        let cap = request.gas.unwrap_or(u64::MAX).min(self.gas_cap(bank.env().gas_limit));
        let deadline = self.deadline();
        let at = |gas: u64| {
            self.call_until(bank, &CallRequest { gas: Some(gas), ..request.clone() }, deadline)
        };
        let first = at(cap)?;
        if !first.success {
            return Err(SimError::Failed(Box::new(first)));
        }
        let succeeds = |gas: u64| match at(gas) {
            Ok(sim) => Ok(sim.success),
            Err(SimError::Invalid(_)) => Ok(false), // below the intrinsic gas
            Err(e) => Err(e),
        };
        // Gas used is a lower bound; it is usually also the answer.
        if succeeds(first.gas_used)? {
            return Ok(first.gas_used);
        }
        let (mut lo, mut hi) = (first.gas_used, cap);
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            if succeeds(mid)? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(hi)
    }

    /// The EIP-2930 access list that declares what `request` touches (every
    /// account and slot but the sender's, and but the fork's precompiles,
    /// warm whatever the list, as geth leaves them out), so it runs in a
    /// parallel entry, and the gas it uses with that list. The callee is
    /// always listed, so a call never has an empty list (which would mean
    /// "undeclared").
    pub fn create_access_list(
        &self,
        bank: &Bank,
        request: &CallRequest,
    ) -> Result<(AccessList, Simulation), SimError> {
        let from = request.from.unwrap_or_default();
        let mut list = request.access_list.clone();
        let deadline = self.deadline();
        let precompiles = revm::handler::EthPrecompiles::new(self.config().spec).precompiles;
        let skip = |a: &Address| *a == from || precompiles.contains(a);
        for _ in 0..4 {
            let with_list = CallRequest { access_list: list.clone(), ..request.clone() };
            let sim = self.call_until(bank, &with_list, deadline)?;
            let next = access_list(&sim.touched, skip, request.to, &list);
            if next == list {
                return Ok((list, sim));
            }
            list = next;
        }
        let with_list = CallRequest { access_list: list.clone(), ..request.clone() };
        let sim = self.call_until(bank, &with_list, deadline)?;
        Ok((list, sim))
    }
}

impl EvmExecutor {
    /// The most gas a simulation in a block of `block_gas` runs with: the
    /// RPC gas cap, and the fork's cap on a transaction's gas (EIP-7825's
    /// 2^24 from Osaka), which a call without `gas` would otherwise exceed.
    pub(crate) fn gas_cap(&self, block_gas: u64) -> u64 {
        use revm::context::Cfg as _;
        let fork_cap = self.cfg().tx_gas_limit_cap();
        block_gas.min(self.config().call_limits.gas_cap).min(fork_cap)
    }

    /// The revm transaction of a call request from a sender whose next
    /// nonce is `nonce`, capped at the block's gas limit and the gas cap; an
    /// error if gas * price + value overflows (revm checks that only with
    /// the balance check, which calls turn off, and otherwise panics on it).
    pub(crate) fn call_tx(
        &self,
        request: &CallRequest,
        nonce: u64,
        block_gas: u64,
    ) -> Result<TxEnv, String> {
        use revm::context::Transaction as _;
        let tx = TxEnv {
            tx_type: match (&request.max_priority_fee, request.access_list.is_empty()) {
                _ if !request.authorization_list.is_empty() => 4,
                (Some(_), _) => 2,
                (None, false) => 1,
                (None, true) => 0,
            },
            caller: request.from.unwrap_or_default(),
            gas_limit: request.gas.unwrap_or(u64::MAX).min(self.gas_cap(block_gas)),
            gas_price: request.gas_price.unwrap_or(0),
            kind: request.to.map_or(TxKind::Create, TxKind::Call),
            value: request.value,
            data: request.data.clone(),
            nonce: request.nonce.unwrap_or(nonce),
            chain_id: Some(self.chain_id()),
            access_list: request.access_list.clone(),
            gas_priority_fee: request.max_priority_fee,
            authorization_list: request
                .authorization_list
                .iter()
                .cloned()
                .map(Either::Left)
                .collect(),
            ..Default::default()
        };
        tx.max_balance_spending().map_err(|e| e.to_string())?;
        Ok(tx)
    }

    /// revm's configuration for calls: eth_call semantics, no nonce,
    /// balance or base-fee checks, any sender.
    pub(crate) fn call_cfg(&self) -> CfgEnv {
        let mut cfg = self.cfg();
        cfg.disable_nonce_check = true;
        cfg.disable_balance_check = true;
        cfg.disable_base_fee = true;
        cfg.disable_eip3607 = true;
        cfg
    }
}

/// What a call's `result` tells its caller; `touched` is what it read and
/// wrote, when known.
pub(crate) fn simulation(result: ExecutionResult, touched: Vec<StateKey>) -> Simulation {
    let gas_used = result.tx_gas_used();
    match result {
        ExecutionResult::Success { logs, output, .. } => Simulation {
            success: true,
            gas_used,
            created: output.address().copied(),
            output: output.into_data(),
            reverted: false,
            halt: None,
            logs: log_parts(logs),
            touched,
        },
        ExecutionResult::Revert { output, .. } => Simulation {
            success: false,
            gas_used,
            output,
            reverted: true,
            halt: None,
            logs: Vec::new(),
            created: None,
            touched,
        },
        ExecutionResult::Halt { reason, .. } => Simulation {
            success: false,
            gas_used,
            output: Bytes::new(),
            reverted: false,
            halt: Some(format!("{reason:?}")),
            logs: Vec::new(),
            created: None,
            touched,
        },
    }
}

fn sim_err(e: TxError) -> SimError {
    match e {
        TxError::State(e) => SimError::State(e),
        other => SimError::Invalid(other.to_string()),
    }
}

/// `touched` (plus `previous`) as an access list, without `from`, with `to`.
fn access_list(
    touched: &[StateKey],
    skip: impl Fn(&Address) -> bool,
    to: Option<Address>,
    previous: &AccessList,
) -> AccessList {
    let mut map: BTreeMap<Address, BTreeSet<B256>> = BTreeMap::new();
    for item in &previous.0 {
        map.entry(item.address).or_default().extend(item.storage_keys.iter().copied());
    }
    if let Some(to) = to {
        map.entry(to).or_default();
    }
    for key in touched {
        match key {
            StateKey::Account(a) if !skip(a) => drop(map.entry(*a).or_default()),
            StateKey::Storage(a, s) => drop(map.entry(*a).or_default().insert(*s)),
            _ => {}
        }
    }
    sorted_access_list(map)
}

/// An EIP-2930 list in the order `create_access_list` returns: addresses
/// ascending, each with its slots ascending.
pub fn sorted_access_list(map: BTreeMap<Address, BTreeSet<B256>>) -> AccessList {
    AccessList(
        map.into_iter()
            .map(|(address, keys)| AccessListItem {
                address,
                storage_keys: keys.into_iter().collect(),
            })
            .collect(),
    )
}
