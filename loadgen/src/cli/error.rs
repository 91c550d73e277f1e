//! Why a command failed ([`CliError`]); `main` prints it after `error: `.

use std::path::PathBuf;

use crate::RunError;
use crate::genesis::BuildError;
use crate::keys::KeyError;
use crate::plan::PlanError;
use crate::receipts::ReceiptsError;
use crate::soak::SoakError;
use crate::store::StoreError;
use crate::{ScenarioError, Target};
use lanes_rpc::client::ClientError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("--funder-key: {0}")]
    FunderKey(#[source] KeyError),
    #[error("--closed-loop and --tpb must be at least 1")]
    Pacing,
    #[error("--forever runs against one node: give --rpc once")]
    ForeverTargets,
    #[error("--repeat repeats one rate, not a ramp (a ramp's steps are runs of their own)")]
    RepeatRamp,
    #[error("--forever sends at one rate, not a ramp")]
    ForeverRamp,
    #[error(transparent)]
    Genesis(#[from] BuildError),
    #[error("writing {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("encoding JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("starting tokio: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("listening for SIGTERM and SIGINT: {0}")]
    Signal(#[source] std::io::Error),
    #[error("{target}: {source}")]
    Run { target: Target, source: Box<RunError> },
    #[error(transparent)]
    Soak(#[from] SoakError),
    /// The soak started and ended early (its report says why, too).
    #[error("the soak stopped early: {0}")]
    SoakStopped(String),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Receipts(#[from] ReceiptsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the runs database {} holds no run yet", .0.display())]
    NoRuns(PathBuf),
    #[error("drawing the report: {0}")]
    Draw(String),
    #[error("--rates: {0}")]
    Rates(String),
    #[error("{url}: {source}")]
    Reads { url: String, source: crate::reads::ReadError },
    #[error("the sink: {0}")]
    Sink(#[source] std::io::Error),
    #[error("{lost} of {acknowledged} acknowledged receipts lost")]
    ReceiptsLost { lost: u64, acknowledged: u64 },
}
