//! lanes-evm-adapter: the EVM as one executor of the lanes runtime.
//!
//! - [`EvmTx::decode`]: signed EIP-2718 transactions (legacy with EIP-155,
//!   EIP-2930, EIP-1559), checked (size, type, chain id, access-list size,
//!   EIP-2 `s`), sender recovered with libsecp256k1, and mapped to the
//!   [`lanes_runtime::AccessSet`] lanes locks for it (`docs/design.md` §5).
//! - [`EvmExecutor`]: revm 43 as a `lanes_runtime::Executor`. revm reads state
//!   through the transaction's lock-checked `StateView`, so the declaration is
//!   enforced on every opcode path; the writes revm returns go back through the
//!   view and are checked against the write set; the priority fee is captured
//!   (revm's beneficiary-reward step is overridden) and paid at seal. A
//!   plain value transfer to an account without code that revm's checks
//!   pass runs without the interpreter, to the same result
//!   ([`EvmExecutor::with_native_transfers`]).
//! - [`EvmReceipt`]: status, gas, cumulative gas, logs, bloom, contract
//!   address, effective gas price, output.
//! - Simulation for the node: [`EvmExecutor::call`], [`EvmExecutor::estimate_gas`],
//!   [`EvmExecutor::create_access_list`] (which returns exactly the keys lanes
//!   will lock, in EIP-2930 form).
//!
//! ```text
//!  raw bytes --EvmTx::decode--> checks -> sender (secp256k1) -> declared AccessSet
//!      Bank::execute_entry --> EvmExecutor::execute --> revm (FeeCapture handler)
//!                                    |                     | Database = ViewDb
//!                                    v                     v
//!                              apply diff via StateView (write set checked)
//! ```
//!
//! Ethereum's chain rules (forks, headers, import, the state root,
//! `eth_simulateV1`) live a crate above, in `lanes-eth`.
//!
//! ## Layers
//!
//! Each module uses only those on its line or below (a test in
//! `tests/it/layout.rs` keeps it so):
//!
//! ```text
//!  admit, call, trace, overlay, parity    admission; eth_call and its kin; traces
//!  executor                  EvmExecutor
//!  transfer, diff, header, receipt
//!  config, evm               settings; the revm instance, its fee capture, receipt data
//!  tx, declare, bal          transactions and the sets they declare
//!  db, recover
//! ```
#![forbid(unsafe_code)]

mod admit;
mod bal;
mod call;
mod config;
mod db;
mod declare;
mod diff;
mod evm;
mod executor;
mod header;
mod overlay;
mod parity;
mod receipt;
mod recover;
mod trace;
mod transfer;
mod tx;

pub use admit::{AdmissionLimits, DEFAULT_MAX_PREDICT_GAS, EvmAdmission, Refusal};
pub use bal::{bal_versions, block_access_list, block_access_list_hash, first_difference};
pub use call::{CallRequest, Deadline, SimError, Simulation, sorted_access_list};
pub use config::{CallLimits, DEFAULT_CALL_GAS_CAP, DEFAULT_CALL_TIMEOUT, DEFAULT_SPEC, EvmConfig};
pub use db::keeps_empty;
pub use declare::declared_access;
pub use evm::{EvmReceiptData, ParentStorage, StorageHolders};
pub use executor::{
    EXISTING_EMPTY, EthBlockEnv, EvmExecutor, EvmWorker, SHARED_CODE_ENTRIES, SharedCode, SpecId,
    block_env, fill_tx_env, has_code, tx_env,
};
pub use header::{
    EthHeaders, ExtraParts, blob_params_of, eth_header, header_blob_gas, next_excess_blob_gas,
    receipt_envelope, typed_receipt,
};
pub use overlay::Overlay;
pub use parity::{CallKind, CallTraceNode, TraceState, TracingInspector, TracingInspectorConfig};
pub use receipt::EvmReceipt;
pub use trace::{
    DEFAULT_TRACE_TIMEOUT, MAX_STRUCT_LOG_WORDS, MAX_TRACE_TIMEOUT, TraceDb, TraceDbError,
    TraceError, trace_timeout,
};
pub use tx::{
    DEFAULT_MAX_TX_BYTES, EvmTx, IMPERSONATED_TAG, MAX_SIDECAR_BLOBS, MAX_SIDECAR_BYTES,
    TxDecodeError, TxRules, envelope_bytes, impersonated,
};

#[cfg(test)]
mod tests;
