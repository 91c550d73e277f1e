//! The node's errors: [`NodeError`] (start-up, shutdown, a revert) and
//! [`RpcError`], a JSON-RPC method's failure with the code anvil uses
//! (EIP-1474), each naming its cause.

use alloy_primitives::Bytes;
use alloy_sol_types::{Panic, Revert, SolError};
use jsonrpsee::types::ErrorObjectOwned;
use lanes_banking_stage::{StageError, SubmitError};
use lanes_eth::genesis::GenesisError;
use lanes_evm_adapter::TxDecodeError;
use lanes_runtime::{ChainError, TxError};

use crate::ledger::LedgerError;

/// Invalid input (EIP-1474).
pub const INVALID_INPUT: i32 = -32000;
/// Resource not found.
pub const RESOURCE_NOT_FOUND: i32 = -32001;
/// Transaction rejected (nonce too low, insufficient funds, ...): anvil's code.
pub const TX_REJECTED: i32 = -32003;
/// Method not supported.
pub const NOT_SUPPORTED: i32 = -32004;
/// Limit exceeded.
pub const LIMIT_EXCEEDED: i32 = -32005;
/// Invalid params.
pub const INVALID_PARAMS: i32 = -32602;
/// Internal error.
pub const INTERNAL: i32 = -32603;
/// Execution reverted; `data` holds the revert bytes (geth and anvil).
pub const REVERTED: i32 = 3;

/// The node failed to start or stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The genesis could not be used.
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// The ledger could not be opened or read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The chain state could not be opened, created or replayed.
    #[error("chain state: {0}")]
    Chain(#[from] ChainError),
    /// The banking stage failed.
    #[error(transparent)]
    Stage(#[from] StageError),
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The data folder belongs to another chain, or is unusable.
    #[error("{0}")]
    DataDir(String),
    /// A setting cannot work.
    #[error("{0}")]
    Config(String),
}

/// An RPC method failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The params do not parse.
    #[error("invalid params: {0}")]
    Params(String),
    /// A raw transaction does not decode or verify.
    #[error("{error}{hint}", error = .0, hint = decode_hint(.0))]
    Decode(#[from] TxDecodeError),
    /// The pool refused a transaction.
    #[error("{error}{flag}", error = .0, flag = limit_flag(.0))]
    Submit(SubmitError),
    /// The stage's admission refused a transaction: its own words, as
    /// geth's and anvil's (`lanes_evm_adapter::Refusal`: intrinsic gas,
    /// insufficient funds, a sender with code).
    #[error("{0}")]
    Refused(String),
    /// A call reverted.
    #[error("execution reverted{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Reverted {
        /// The decoded reason, for `Error(string)` and `Panic(uint256)`.
        reason: Option<String>,
        /// The revert data.
        data: Bytes,
    },
    /// Other invalid input: a call that halts, an unknown account, ...
    #[error("{0}")]
    Invalid(String),
    /// State is asked of a block older than the node keeps.
    #[error(
        "state at block {asked} is pruned: the oldest block kept is {oldest} (--history-blocks)"
    )]
    Pruned {
        /// The block asked for.
        asked: u64,
        /// The oldest block whose state is kept.
        oldest: u64,
    },
    /// Something asked for is not there.
    #[error("{0}")]
    NotFound(String),
    /// A limit of this node.
    #[error("{0}")]
    Limit(String),
    /// The method exists but this node does not offer it in this mode.
    #[error("{0}")]
    Unsupported(String),
    /// The node failed (disk, a stopped stage).
    #[error("internal error: {0}")]
    Internal(String),
    /// A method whose specification names its own codes (`eth_simulateV1`).
    #[error("{message}")]
    Coded {
        /// The code.
        code: i32,
        /// What went wrong.
        message: String,
    },
}

/// What to do about a refused transaction, where a flag changes it.
fn decode_hint(e: &TxDecodeError) -> &'static str {
    match e {
        TxDecodeError::WrongChainId { got: None, .. } => {
            " (an unprotected pre-EIP-155 transaction: start the node with --allow-unprotected-txs)"
        }
        TxDecodeError::UnsupportedType(3) => {
            " (a blob transaction: this chain's fork is before Cancun, which brought them; start a --dev chain with --hardfork cancun or later)"
        }
        _ => "",
    }
}

/// The validator flag that raises the limit a refusal names.
fn limit_flag(e: &SubmitError) -> &'static str {
    match e {
        SubmitError::SenderOverLimit { .. } => " (raise it with --txpool-max-per-sender)",
        SubmitError::PoolFull { .. } => " (raise it with --txpool-max)",
        _ => "",
    }
}

impl From<SubmitError> for RpcError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Refused(TxError::Invalid(why)) => Self::Refused(why),
            e => Self::Submit(e),
        }
    }
}

impl RpcError {
    /// A revert with `data`, its reason decoded when it has one.
    pub fn reverted(data: Bytes) -> Self {
        let reason = Revert::abi_decode(&data)
            .map(|r| r.reason)
            .ok()
            .or_else(|| Panic::abi_decode(&data).ok().map(|p| format!("panic: {p}")));
        Self::Reverted { reason, data }
    }

    fn code(&self) -> i32 {
        match self {
            Self::Params(_) => INVALID_PARAMS,
            Self::Decode(TxDecodeError::BadSignature | TxDecodeError::WrongChainId { .. }) => {
                TX_REJECTED
            }
            Self::Decode(_) => INVALID_PARAMS,
            Self::Submit(
                SubmitError::Busy
                | SubmitError::PoolFull { .. }
                | SubmitError::AdmissionTimeout { .. },
            ) => LIMIT_EXCEEDED,
            Self::Submit(SubmitError::ShuttingDown | SubmitError::Stopped(_)) => INTERNAL,
            // anvil (and geth) answer a gas limit under the intrinsic gas
            // with -32000, the other refusals with -32003.
            Self::Refused(why) if why.starts_with("intrinsic gas too low") => INVALID_INPUT,
            Self::Submit(_) | Self::Refused(_) => TX_REJECTED,
            Self::Reverted { .. } => REVERTED,
            Self::Invalid(_) | Self::Pruned { .. } => INVALID_INPUT,
            Self::NotFound(_) => RESOURCE_NOT_FOUND,
            Self::Limit(_) => LIMIT_EXCEEDED,
            Self::Unsupported(_) => NOT_SUPPORTED,
            Self::Internal(_) => INTERNAL,
            Self::Coded { code, .. } => *code,
        }
    }
}

impl From<RpcError> for ErrorObjectOwned {
    fn from(e: RpcError) -> Self {
        let code = e.code();
        let message = e.to_string();
        match e {
            RpcError::Reverted { data, .. } => ErrorObjectOwned::owned(code, message, Some(data)),
            _ => ErrorObjectOwned::owned(code, message, None::<()>),
        }
    }
}

/// jsonrpsee's params error as ours, keeping serde's explanation.
pub fn bad_params(e: ErrorObjectOwned) -> RpcError {
    match e.data() {
        Some(data) => RpcError::Params(data.get().trim_matches('"').to_owned()),
        None => RpcError::Params(e.message().to_owned()),
    }
}

/// What a JSON-RPC method's work returns.
pub(crate) type Res<T> = Result<T, RpcError>;

/// A failure of the node itself (disk, a decode of its own data).
pub(crate) fn internal(e: impl std::fmt::Display) -> RpcError {
    RpcError::Internal(e.to_string())
}
