//! Why a run fails: [`RunError`] and the crate's [`Result`], beneath every
//! other module of a run.

use std::path::PathBuf;

use alloy_primitives::{Address, B256, U256};
use lanes_rpc::client::{ClientError, RpcErrorObject};

use crate::genesis::BuildError;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The node could not be reached, or answered a call with an error.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The node refused a setup transaction.
    #[error("{what}: the node refused a transaction: {error}")]
    Refused {
        /// What the transactions were for ("funding the accounts", ...).
        what: String,
        /// The node's error.
        error: RpcErrorObject,
    },
    /// Setup transactions were still not included after 5 minutes.
    #[error(
        "setup: {address}'s transactions were not all included after 5 minutes: its nonce is {nonce} at the head and {pending} pending, and the last one sent has nonce {last}"
    )]
    NotIncluded {
        /// Their sender.
        address: Address,
        /// The sender's nonce at the head then.
        nonce: u64,
        /// The sender's nonce counting the node's pending transactions.
        pending: u64,
        /// The nonce of the last setup transaction sent.
        last: u64,
    },
    /// A setup transaction was included and failed (status 0).
    #[error("setup: `{what}` failed on chain")]
    SetupFailed {
        /// What the transaction was for.
        what: String,
    },
    /// A setup transaction's sender nonce moved past it, and the node still
    /// had no receipt for it 10 seconds later (another transaction took the
    /// nonce, or the node lost it).
    #[error(
        "setup: `{what}` ({hash}) has no receipt though its sender's nonce is past it; another transaction from that key may have taken the nonce"
    )]
    NoReceipt {
        /// What the transaction was for.
        what: String,
        /// Its hash.
        hash: B256,
    },
    /// A contract of the workload is missing after setup.
    #[error(
        "no contract at {address}: the deployer {deployer} used its nonces for something else; use another --seed"
    )]
    NoContract {
        /// Where the contract should be.
        address: Address,
        /// The plan's deployer.
        deployer: Address,
    },
    /// The funder cannot pay for the funding a setup needs (a long
    /// saturated run raises the base fee until it runs dry).
    #[error(
        "the funder {funder} holds {balance} wei; funding {accounts} accounts needs {needs} wei (what they lack, for a few runs, and gas at {max_fee} wei per gas): send the funder more, or pass --funder-key of an account that holds it"
    )]
    FunderShort {
        /// The funder's address.
        funder: Address,
        /// What it holds.
        balance: U256,
        /// What the funding transactions need, value and gas.
        needs: U256,
        /// Accounts to fund.
        accounts: usize,
        /// The fee cap the funding transactions pay at most per gas.
        max_fee: u128,
    },
    /// The node reports a head but lacks a block below it.
    #[error("{url}: block {number} is missing below head {head}")]
    MissingBlock {
        /// The node.
        url: String,
        /// The block asked for.
        number: u64,
        /// The head the node reported.
        head: u64,
    },
    /// A sender of the timed phase failed.
    #[error("sending to {to}: {source}")]
    Send {
        /// The node's URL, or the embedded banking stage.
        to: String,
        /// Why.
        source: Box<RunError>,
    },
    /// The in-process chain's genesis could not be built.
    #[error(transparent)]
    Genesis(#[from] BuildError),
    /// The in-process chain's genesis is not one lanes runs.
    #[error(transparent)]
    ChainSpec(#[from] lanes_eth::genesis::GenesisError),
    /// The in-process chain's temporary folder could not be created.
    #[error("creating a temporary folder for the in-process chain: {0}")]
    TempDir(#[source] std::io::Error),
    /// The in-process chain could not be created.
    #[error("creating the in-process chain: {0}")]
    Chain(#[from] lanes_runtime::ChainError),
    /// A worker task panicked or was cancelled.
    #[error("a worker task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The in-process tracker thread panicked.
    #[error("the tracker panicked")]
    TrackerPanicked,
    /// Scenarios deploy and set up by transactions: they need a node.
    #[error("a scenario runs against a node (--rpc), not in process")]
    ScenarioInProcess,
    /// The sink could not listen on loopback.
    #[error("starting the sink: {0}")]
    Sink(#[source] std::io::Error),
    /// SIGINT or SIGTERM could not be listened for (`--forever`).
    #[error("listening for SIGTERM and SIGINT: {0}")]
    Signal(#[source] std::io::Error),
    /// A scenario's step failed on the node.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
}

pub(crate) type Result<T, E = RunError> = std::result::Result<T, E>;

/// Why a scenario file cannot be run: the file, the line and the field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The scenario file.
        path: PathBuf,
        /// The I/O cause.
        source: std::io::Error,
    },
    /// The file is not TOML of a scenario's shape (the message has the line).
    #[error("{}: {message}", path.display())]
    Parse {
        /// The scenario file.
        path: PathBuf,
        /// toml's message, with the line and column.
        message: String,
    },
    /// A step is wrong, or failed on the node.
    #[error("{}:{line}: {field}: {reason}", path.display())]
    Step {
        /// The scenario file.
        path: PathBuf,
        /// The line of the field (or of the step).
        line: usize,
        /// The field, as `spam[2].tx.args[1]`.
        field: String,
        /// What is wrong.
        reason: String,
    },
}
