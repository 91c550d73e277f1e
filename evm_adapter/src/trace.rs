//! Geth-style traces for the node's `debug_trace*`, with revm-inspectors'
//! [`DebugInspector`] (the struct logger, `callTracer`, `prestateTracer`
//! with `diffMode`, `4byteTracer`, `noopTracer`, `muxTracer`, ...).
//!
//! A trace runs on its own path, never the block executor's: the block's
//! transactions run in block order over the state after its parent (a
//! historical [`ReadView`]) in a revm `CacheDB`, the ones asked for under the
//! inspector. Parallel entries execute as their sequential order does, so
//! this reproduces what the block did. As in lanes' execution, fees are not
//! paid to the coinbase per transaction (lanes credits them at seal), so a
//! prestate diff does not show the coinbase's balance rising as geth's does.
//!
//! A trace runs under a time budget and, for the struct logger, a size
//! budget ([`MAX_STRUCT_LOG_WORDS`]): a small inspector beside the tracer
//! halts the EVM once either is spent, and the trace fails with
//! [`TraceError::Timeout`] or [`TraceError::TooBig`].

use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, U256};
use alloy_rpc_types_trace::geth::{GethDebugTracerType, GethDebugTracingOptions, GethTrace};
use lanes_accounts_db::{AccountsRead, ReadView};
use lanes_runtime::BlockEnv;
use revm::bytecode::Bytecode;
use revm::context::result::{ExecutionResult, HaltReason, ResultAndState};
use revm::context::{BlockEnv as RevmBlockEnv, CfgEnv, Context, TxEnv};
use revm::database::CacheDB;
use revm::database_interface::DBErrorMarker;
use revm::handler::{Handler, MainBuilder, MainContext};
use revm::inspector::{Inspector, InspectorHandler};
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::{InstructionResult, Interpreter};
use revm::state::AccountInfo;
use revm::{DatabaseCommit, DatabaseRef, ExecuteEvm};
use revm_inspectors::tracing::{DebugInspector, TransactionContext};

use crate::call::{CallRequest, Deadline};
use crate::evm::FeeCapture;
use crate::executor::{EvmExecutor, header_to_info, recent_hash, stored_bytecode, tx_env};
use crate::tx::EvmTx;

/// Default trace budget when the request names no `timeout` (geth's).
pub const DEFAULT_TRACE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest budget a request may ask for.
pub const MAX_TRACE_TIMEOUT: Duration = Duration::from_secs(60);
/// What the struct logger may record in one trace, in 32-byte words: each
/// step counts four (pc, op, gas, cost, depth) plus its stack and memory
/// words when kept. 8M words is 256 MiB before JSON, about 2M steps without
/// the stack.
pub const MAX_STRUCT_LOG_WORDS: u64 = 8 << 20;
/// A struct-log step's fixed fields (pc, op, gas, cost, depth), in words.
const STEP_WORDS: u64 = 4;

/// A trace could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// The tracer or its config is not one lanes runs.
    #[error("{0}")]
    Tracer(String),
    /// State could not be read.
    #[error("state read failed: {0}")]
    State(String),
    /// A transaction (or the call) is not valid on that state.
    #[error("invalid transaction: {0}")]
    Invalid(String),
    /// The trace ran past its time budget.
    #[error("trace ran past its time budget of {0:?} (set a longer `timeout`, at most 60s)")]
    Timeout(Duration),
    /// The struct logger would record more than its size budget.
    #[error(
        "trace records more than the struct logger's size budget ({0} words of 32 bytes); use callTracer, disableStack, or trace a smaller call"
    )]
    TooBig(u64),
}

/// A state read error, as revm's database error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TraceDbError(String);

impl DBErrorMarker for TraceDbError {}

/// revm's read-only view of a block's starting state, for traces.
#[derive(Debug)]
pub struct TraceDb<'a> {
    pub(crate) view: ReadView,
    pub(crate) env: &'a BlockEnv,
}

impl<'a> TraceDb<'a> {
    /// revm's view of `view`, a block's starting state, with BLOCKHASH
    /// answered from `env`.
    pub fn new(view: ReadView, env: &'a BlockEnv) -> Self {
        Self { view, env }
    }
}

impl DatabaseRef for TraceDb<'_> {
    type Error = TraceDbError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, TraceDbError> {
        let header = self.view.get_account(&address).map_err(|e| TraceDbError(e.to_string()))?;
        Ok(header.and_then(header_to_info))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, TraceDbError> {
        if !crate::has_code(&code_hash) {
            return Ok(Bytecode::default());
        }
        let code = self.view.get_code(&code_hash).map_err(|e| TraceDbError(e.to_string()))?;
        Ok(code.map(stored_bytecode).unwrap_or_default())
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, TraceDbError> {
        self.view.get_storage(&address, &B256::from(index)).map_err(|e| TraceDbError(e.to_string()))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, TraceDbError> {
        Ok(recent_hash(self.env, number))
    }
}

/// Halts the EVM once the trace's deadline passes or, for the struct
/// logger, once what it records passes its size budget, so a trace of a
/// long loop ends. Shared by all the transactions of one trace.
#[derive(Debug)]
struct Budget {
    /// The time budget, and when it runs out.
    timeout: Duration,
    deadline: Deadline,
    /// Words (32 bytes) the struct logger may still record; `None` for
    /// other tracers, which record per call, not per step.
    words_left: Option<u64>,
    /// What one step records: its fixed fields, and its stack and memory
    /// when the options keep them.
    stack: bool,
    memory: bool,
    too_big: bool,
}

impl Budget {
    fn new(timeout: Duration, opts: &GethDebugTracingOptions, struct_logger: bool) -> Self {
        let config = &opts.config;
        Self {
            timeout,
            deadline: Deadline::new(Instant::now() + timeout),
            words_left: struct_logger.then_some(MAX_STRUCT_LOG_WORDS),
            stack: !config.disable_stack.unwrap_or(false),
            memory: config.enable_memory.unwrap_or(false),
            too_big: false,
        }
    }
}

impl<CTX> Inspector<CTX, EthInterpreter> for Budget {
    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, ctx: &mut CTX) {
        if let Some(left) = &mut self.words_left {
            let mut words = STEP_WORDS;
            if self.stack {
                words += interp.stack.len() as u64;
            }
            if self.memory {
                words += interp.memory.len().div_ceil(32) as u64;
            }
            match left.checked_sub(words) {
                Some(rest) => *left = rest,
                None => self.too_big = true,
            }
        }
        self.deadline.step(interp, ctx);
        // As the deadline halts: out of gas (a fatal halt makes revm panic).
        if self.too_big {
            interp.halt(InstructionResult::OutOfGas);
        }
    }
}

/// The time budget a request asks for (`timeout`, a Go duration such as
/// "10s", "500ms" or "1m30s"), at most [`MAX_TRACE_TIMEOUT`].
pub fn trace_timeout(opts: &GethDebugTracingOptions) -> Result<Duration, TraceError> {
    let Some(text) = opts.timeout.as_deref() else { return Ok(DEFAULT_TRACE_TIMEOUT) };
    let bad = || TraceError::Tracer(format!("timeout `{text}` is not a duration such as 10s"));
    let mut rest = text;
    let mut secs = 0.0f64;
    while !rest.is_empty() {
        let split = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        let (number, tail) = rest.split_at(split);
        let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let n: f64 = number.parse().map_err(|_| bad())?;
        secs += n * match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        rest = tail;
    }
    if !(secs.is_finite() && secs > 0.0) {
        return Err(bad());
    }
    Ok(Duration::try_from_secs_f64(secs).unwrap_or(MAX_TRACE_TIMEOUT).min(MAX_TRACE_TIMEOUT))
}

/// The nonce a traced call runs with: the request's, or its sender's in
/// `view`.
pub(crate) fn call_nonce(view: &ReadView, request: &CallRequest) -> Result<u64, TraceError> {
    match request.nonce {
        Some(n) => Ok(n),
        None => Ok(view
            .get_account(&request.from.unwrap_or_default())
            .map_err(|e| TraceError::State(e.to_string()))?
            .map_or(0, |a| a.nonce)),
    }
}

/// One transaction of a block to trace, or a call.
struct Job {
    tx: TxEnv,
    context: Option<TransactionContext>,
}

impl EvmExecutor {
    /// Traces the transactions of a block that `selected` picks: `txs` (the
    /// block's, in order) run on `view`, the state after the block's parent,
    /// under `env`; the selected ones under the tracer `opts` asks for. Stops
    /// after the last selected transaction; one trace per selected one.
    #[allow(clippy::too_many_arguments)]
    pub fn trace_block(
        &self,
        view: ReadView,
        env: &BlockEnv,
        block_hash: B256,
        txs: &[EvmTx],
        selected: impl Fn(usize) -> bool,
        opts: &GethDebugTracingOptions,
    ) -> Result<Vec<GethTrace>, TraceError> {
        let mut budget = self.budget(opts)?;
        let last = (0..txs.len()).rev().find(|&i| selected(i));
        let mut db = CacheDB::new(TraceDb { view, env });
        let block = self.revm_block(env);
        let mut traces = Vec::new();
        for (i, tx) in txs.iter().enumerate().take(last.map_or(0, |l| l + 1)) {
            if Instant::now() >= budget.deadline.at {
                return Err(TraceError::Timeout(budget.timeout));
            }
            let job = Job {
                tx: tx_env(tx.envelope(), tx.sender()),
                context: Some(TransactionContext {
                    block_hash: Some(block_hash),
                    tx_index: Some(i),
                    tx_hash: Some(tx.hash()),
                }),
            };
            if selected(i) {
                traces.push(self.traced(
                    &mut db,
                    &block,
                    self.replay_cfg(),
                    job,
                    opts,
                    &mut budget,
                )?);
            } else {
                plain(&mut db, &block, self.replay_cfg(), job.tx)?;
            }
        }
        Ok(traces)
    }

    /// The budget of one trace; also refuses a tracer lanes does not run
    /// before anything runs.
    fn budget(&self, opts: &GethDebugTracingOptions) -> Result<Budget, TraceError> {
        let tracer = DebugInspector::new(opts.clone())
            .map_err(|e| TraceError::Tracer(tracer_error(opts, &e.to_string())))?;
        let struct_logger = matches!(tracer, DebugInspector::Default(..));
        Ok(Budget::new(trace_timeout(opts)?, opts, struct_logger))
    }

    /// Traces `request` as `eth_call` runs it, on `view` under `env`.
    pub fn trace_call(
        &self,
        view: ReadView,
        env: &BlockEnv,
        request: &CallRequest,
        opts: &GethDebugTracingOptions,
    ) -> Result<GethTrace, TraceError> {
        let mut budget = self.budget(opts)?;
        let nonce = call_nonce(&view, request)?;
        let tx = self.call_tx(request, nonce, env.gas_limit).map_err(TraceError::Invalid)?;
        let mut db = CacheDB::new(TraceDb { view, env });
        let block = self.revm_block(env);
        let job = Job { tx, context: None };
        self.traced(&mut db, &block, self.call_cfg(), job, opts, &mut budget)
    }

    /// Runs one transaction under the tracer, then keeps its writes.
    fn traced<DB: DatabaseRef<Error = TraceDbError>>(
        &self,
        db: &mut CacheDB<DB>,
        block: &RevmBlockEnv,
        cfg: CfgEnv,
        job: Job,
        opts: &GethDebugTracingOptions,
        budget: &mut Budget,
    ) -> Result<GethTrace, TraceError> {
        let tracer = DebugInspector::new(opts.clone())
            .map_err(|e| TraceError::Tracer(tracer_error(opts, &e.to_string())))?;
        let mut evm = Context::mainnet()
            .with_db(&mut *db)
            .with_cfg(cfg)
            .with_block(block.clone())
            .build_mainnet_with_inspector((tracer, budget));
        evm.ctx.tx = job.tx.clone();
        let mut handler = FeeCapture::new(None);
        let result = handler.inspect_run(&mut evm);
        let state = evm.finalize();
        let (mut tracer, budget) = evm.inspector;
        if budget.too_big {
            return Err(TraceError::TooBig(MAX_STRUCT_LOG_WORDS));
        }
        if budget.deadline.late {
            return Err(TraceError::Timeout(budget.timeout));
        }
        let result: ExecutionResult<HaltReason> = result.map_err(run_error)?;
        let res = ResultAndState::new(result, state);
        let trace = tracer
            .get_result(job.context, &job.tx, block, &res, db)
            .map_err(|e| TraceError::State(e.to_string()))?;
        db.commit(res.state);
        Ok(trace)
    }
}

/// Runs one transaction without a tracer and keeps its writes.
pub(crate) fn plain<DB: DatabaseRef<Error = TraceDbError>>(
    db: &mut CacheDB<DB>,
    block: &RevmBlockEnv,
    cfg: CfgEnv,
    tx: TxEnv,
) -> Result<(), TraceError> {
    let mut evm = Context::mainnet()
        .with_db(&mut *db)
        .with_cfg(cfg)
        .with_block(block.clone())
        .build_mainnet();
    evm.ctx.tx = tx;
    let mut handler = FeeCapture::new(None);
    let result = handler.run(&mut evm);
    let state = evm.finalize();
    result.map_err(run_error)?;
    db.commit(state);
    Ok(())
}

pub(crate) fn run_error<E: std::fmt::Display>(e: revm::context::result::EVMError<E>) -> TraceError {
    match e {
        revm::context::result::EVMError::Database(e) => TraceError::State(e.to_string()),
        e => TraceError::Invalid(e.to_string()),
    }
}

/// A tracer refusal that names the tracer and what lanes runs.
fn tracer_error(opts: &GethDebugTracingOptions, reason: &str) -> String {
    const RUNS: &str = "lanes runs the struct logger (no tracer), callTracer, prestateTracer, 4byteTracer, noopTracer, flatCallTracer and muxTracer";
    match &opts.tracer {
        // An unknown name parses as JavaScript code.
        Some(GethDebugTracerType::JsTracer(code)) => {
            format!("unknown tracer `{code}`: {RUNS}; JavaScript tracers are not supported")
        }
        Some(tracer) => format!("{tracer:?}: {reason}; {RUNS}"),
        None => format!("the struct logger: {reason}"),
    }
}
