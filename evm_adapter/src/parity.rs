//! Parity-style traces (`trace_*`) and the call trees Otterscan reads
//! (`ots_*`), with revm-inspectors' [`TracingInspector`]: a block's
//! transactions run again in order over the state after its parent, as the
//! geth traces of `trace.rs` do, the selected ones under the tracer.

use alloy_primitives::map::HashSet;
use std::time::Instant;

use alloy_rpc_types_trace::parity::{TraceResults, TraceType};
use lanes_accounts_db::ReadView;
use lanes_runtime::BlockEnv;
use revm::context::result::ResultAndState;
use revm::context::{BlockEnv as RevmBlockEnv, CfgEnv, Context, TxEnv};
use revm::database::CacheDB;
use revm::handler::{MainBuilder, MainContext};
use revm::inspector::InspectorHandler;
use revm::{DatabaseCommit, ExecuteEvm};
pub use revm_inspectors::tracing::types::{CallKind, CallTraceNode};
pub use revm_inspectors::tracing::{TracingInspector, TracingInspectorConfig};

use crate::call::{CallRequest, Deadline};
use crate::evm::FeeCapture;
use crate::executor::{EvmExecutor, tx_env};
use crate::trace::{DEFAULT_TRACE_TIMEOUT, TraceDb, TraceError, call_nonce, plain, run_error};
use crate::tx::EvmTx;

/// The state a traced transaction ran on, before its writes: what a state
/// diff compares against.
pub type TraceState<'a> = CacheDB<TraceDb<'a>>;

impl EvmExecutor {
    /// Replays the transactions of a block (`txs`, in order, on `view`, the
    /// state after its parent, under `env`) up to the last one `selected`
    /// picks; each selected one runs under a [`TracingInspector`] with
    /// `config`, and `finish` turns its tracer, result and the state before
    /// it into one answer. Within [`DEFAULT_TRACE_TIMEOUT`].
    pub fn replay_traced<T>(
        &self,
        view: ReadView,
        env: &BlockEnv,
        txs: &[EvmTx],
        selected: impl Fn(usize) -> bool,
        config: TracingInspectorConfig,
        mut finish: impl FnMut(usize, TracingInspector, &ResultAndState, &TraceState<'_>) -> T,
    ) -> Result<Vec<T>, TraceError> {
        let deadline = Instant::now() + DEFAULT_TRACE_TIMEOUT;
        let last = (0..txs.len()).rev().find(|&i| selected(i));
        let mut db = CacheDB::new(TraceDb { view, env });
        let block = self.revm_block(env);
        let mut out = Vec::new();
        for (i, tx) in txs.iter().enumerate().take(last.map_or(0, |l| l + 1)) {
            if Instant::now() >= deadline {
                return Err(TraceError::Timeout(DEFAULT_TRACE_TIMEOUT));
            }
            let tx = tx_env(tx.envelope(), tx.sender());
            if selected(i) {
                let (tracer, res) =
                    self.run_traced(&mut db, &block, self.replay_cfg(), tx, config, deadline)?;
                out.push(finish(i, tracer, &res, &db));
                db.commit(res.state);
            } else {
                plain(&mut db, &block, self.replay_cfg(), tx)?;
            }
        }
        Ok(out)
    }

    /// `trace_call`: `request` run as `eth_call` runs it on `view` under
    /// `env`, traced as `trace_types` ask.
    pub fn trace_call_parity(
        &self,
        view: ReadView,
        env: &BlockEnv,
        request: &CallRequest,
        trace_types: &HashSet<TraceType>,
    ) -> Result<TraceResults, TraceError> {
        let nonce = call_nonce(&view, request)?;
        let tx = self.call_tx(request, nonce, env.gas_limit).map_err(TraceError::Invalid)?;
        let mut db = CacheDB::new(TraceDb { view, env });
        let block = self.revm_block(env);
        let config = TracingInspectorConfig::from_parity_config(trace_types);
        let deadline = Instant::now() + DEFAULT_TRACE_TIMEOUT;
        let (tracer, res) =
            self.run_traced(&mut db, &block, self.call_cfg(), tx, config, deadline)?;
        tracer
            .into_parity_builder()
            .into_trace_results_with_state(&res, trace_types, &db)
            .map_err(|e| TraceError::State(e.to_string()))
    }

    /// Runs one transaction under a tracer over `db`, without keeping its
    /// writes.
    fn run_traced(
        &self,
        db: &mut TraceState<'_>,
        block: &RevmBlockEnv,
        cfg: CfgEnv,
        tx: TxEnv,
        config: TracingInspectorConfig,
        deadline: Instant,
    ) -> Result<(TracingInspector, ResultAndState), TraceError> {
        let tracer = TracingInspector::new(config);
        let mut evm = Context::mainnet()
            .with_db(&mut *db)
            .with_cfg(cfg)
            .with_block(block.clone())
            .build_mainnet_with_inspector((tracer, Deadline::new(deadline)));
        evm.ctx.tx = tx;
        let mut handler = FeeCapture::new(None);
        let result = handler.inspect_run(&mut evm);
        let state = evm.finalize();
        let (tracer, deadline) = evm.inspector;
        if deadline.late {
            return Err(TraceError::Timeout(DEFAULT_TRACE_TIMEOUT));
        }
        Ok((tracer, ResultAndState::new(result.map_err(run_error)?, state)))
    }
}
