//! lanes-evm-adapter: the EVM as one executor of the lanes runtime.
//!
//! Built so far: decoding and checking signed EIP-2718 transactions (legacy
//! with EIP-155, EIP-2930, EIP-1559) with sender recovery by libsecp256k1, and
//! the mapping of each transaction to the [`lanes_runtime::AccessSet`] lanes
//! locks for it. Still to come (issue 4): revm as a `runtime::Executor` over
//! the lock-checked state view, receipts, simulation helpers and the Ethereum
//! state-test conformance run.
//!
//! ```text
//!  raw bytes --EvmTx::decode--> checks (size, type, chain id, access list, EIP-2 s)
//!                               -> sender (secp256k1 recover) -> declared AccessSet
//! ```
#![forbid(unsafe_code)]

mod declare;
mod executor;
mod simulate;
mod tx;

pub use declare::{declared_access, is_precompile};
pub use executor::{
    DEFAULT_SPEC, EvmConfig, EvmExecutor, EvmReceiptData, SpecId, block_env, tx_env,
};
pub use simulate::{CallRequest, SimError, Simulation};
pub use tx::{DEFAULT_MAX_TX_BYTES, EvmTx, TxDecodeError, TxRules};

#[cfg(test)]
mod tests;
