//! The validator node: the EVM executor on a banking stage, a ledger of every
//! block, and Ethereum JSON-RPC (HTTP and WebSocket on one port).
//!
//! ```text
//!  JSON-RPC (jsonrpsee) --eth_sendRawTransaction--> EvmTx::decode, funds check
//!        |                                              |
//!        | reads: ledger (blocks, receipts, logs)        v
//!        |        latest state (ReadView)         BankingStage (pool, scheduler, workers)
//!        |                                              | sealed block
//!        |                                              v
//!        |                            Ledger::append (fsync)  -> Chain::commit (accounts_db)
//!        |                                              | produced block
//!        +------------ follower thread: Ledger::publish, stats, newHeads/logs <--+
//! ```
//!
//! Data folder: `genesis.json` (the chain it was made from), `ledger/blocks.log`,
//! `chain/` (head file and accounts database). On start the node checks the
//! genesis, rebuilds the ledger's indexes, replays a block the ledger holds
//! but the state missed (a crash between the two writes), and goes on.
//!
//! ```text
//!  lib.rs        this map and the public re-exports
//!  config.rs     NodeConfig, RpcLimits, ChainChoice: how to run a node
//!  error.rs      NodeError (start, stop, revert) and RpcError (a method's)
//!  lifecycle.rs  Node: start-up, the follower thread, the server, stop
//!  state.rs      NodeState: what the RPC methods, the follower and the
//!                cluster share, and its reads
//!  dev.rs        DevState: a --dev node's impersonation and snapshots
//!  rebuild.rs    the state from the ledger: on start and on evm_revert
//!  import.rs     Ethereum blocks into a data folder (`lanes-validator import`)
//!  fork/         a dev node forking a live chain (`--fork-url`)
//!  execute_block/ one block in the fixture layout, lanes against plain revm
//!  ledger.rs     every block and receipt, and their indexes
//!  filters.rs    poll filters and subscriptions' events
//!  convert.rs    ledger blocks and receipts as RPC answers
//!  permits.rs    slots for expensive calls
//!  rpc/          the JSON-RPC server: one impl per namespace
//!  cluster/      a multi-validator chain: consensus over held blocks
//! ```

mod blobs;
pub mod cluster;
mod config;
pub mod convert;
mod dev;
pub mod error;
pub mod execute_block;
pub mod filters;
pub mod fork;
pub use lanes_rpc::genesis;
pub mod import;
pub mod ledger;
mod lifecycle;
mod permits;
mod publish;
mod rebuild;
pub mod rpc;
mod state;
pub mod state_file;

pub use config::{ChainChoice, NodeConfig, RpcLimits, SUGGESTED_TIP, client_version};
pub use error::NodeError;
pub use lifecycle::Node;
pub use rebuild::reset_data_dir;
pub(crate) use state::NodeState;
