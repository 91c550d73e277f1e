//! Starting a banking stage for the node: what it is started with
//! ([`StageParts`], kept to start it again after `evm_revert`), and its
//! committed blocks served through the [`Publisher`].

use std::sync::Arc;

use lanes_banking_stage::{BankingStage, BankingStageConfig};
use lanes_evm_adapter::{EvmExecutor, EvmTx};
use lanes_runtime::{Admission, Chain};

use crate::ledger::LedgerSink;
use crate::publish::{Publisher, PublishingSink};

/// What the node needs to start a banking stage again (after
/// `evm_revert`).
pub(crate) struct StageParts {
    pub(crate) config: BankingStageConfig,
    pub(crate) admission: Arc<dyn Admission<EvmTx>>,
    /// Held blocks, for a consensus engine.
    pub(crate) hold: bool,
}

/// A banking stage on `chain`, writing to `ledger`.
pub(crate) fn start_stage(
    parts: &StageParts,
    executor: Arc<EvmExecutor>,
    chain: Chain,
    publisher: &Publisher,
) -> BankingStage<EvmExecutor> {
    let sink = PublishingSink {
        ledger: LedgerSink(publisher.ledger.clone()),
        publisher: publisher.clone(),
    };
    let builder = BankingStage::builder(executor, chain)
        .config(parts.config.clone())
        .sink(Box::new(sink))
        .admission(parts.admission.clone());
    if parts.hold { builder.hold_blocks().start() } else { builder.start() }
}
