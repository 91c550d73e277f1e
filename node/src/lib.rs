//! The validator node: the EVM executor on a banking stage, a ledger of every
//! block, and Ethereum JSON-RPC (HTTP and WebSocket on one port).
//!
//! ```text
//!  JSON-RPC (jsonrpsee) --eth_sendRawTransaction--> EvmTx::decode
//!        |                                              |
//!        | reads: ledger (blocks, receipts, logs)        v
//!        |        latest state (ReadView)         BankingStage (admission, pool, workers)
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
//! Layers, each module using only those on its line or below (a test in
//! `tests/it/layout.rs` keeps it so):
//!
//! ```text
//!  cli/          lanes-validator's command line: its flags, subcommands and run
//!  cluster/      a multi-validator chain: consensus over held blocks (joins a started Node)
//!  lifecycle.rs  Node: start-up, the server, stop; alone in starting and stopping things
//!  rpc/          the JSON-RPC server: one impl per namespace (eth, debug, dev, ots,
//!                personal, testing, trace, lanes, net, pubsub, txpool), none importing
//!                another; what two share is below them (blocks, call, chain, logs,
//!                signing, simulate, tracing; params and serve: the middleware)
//!  rebuild.rs    evm_revert and switching chains, over NodeState
//!  follower.rs   a stage's produced blocks fed to the subscriptions
//!  block_lanes.rs a block drawn as lanes, its waits and hot keys (lanes_getBlockLanes)
//!  state.rs      NodeState: what the RPC methods, the follower and the
//!                cluster share, and its reads
//!  import.rs     Ethereum blocks into a data folder (`lanes-validator import`)
//!  chain_dir.rs  the chain on disk: its layout, opened, replayed to the ledger, cut back
//!  explorer/     the explorer page (served under /explorer) and the verified
//!                sources it decodes with
//!  config.rs     NodeConfig, RpcLimits, ChainChoice: how to run a node
//!  stage.rs      a banking stage started over the publisher
//!  publish.rs    a committed block served: counted, its waiters answered
//!  imported.rs   an imported chain's blocks: their Ethereum data, re-run on restart
//!  filters.rs    poll filters and subscriptions' events
//!  fork/         a dev node forking a live chain (`--fork-url`)
//!  convert.rs    ledger blocks and receipts as RPC answers
//!  permits.rs    slots for expensive calls
//!  error.rs      NodeError (start, stop, revert) and RpcError (a method's)
//!  ledger.rs     every block and receipt, and their indexes
//!  state_file.rs a dev node's whole state as a file (anvil's dump and load)
//!  dev.rs        DevState: a --dev node's impersonation and snapshots
//!  blobs.rs, relay.rs (sends relayed to the validators, forwarded by a replica),
//!                execute_block/ (one block in the fixture layout, lanes against plain revm)
//! ```

mod blobs;
mod block_lanes;
mod chain_dir;
pub mod cli;
pub mod cluster;
mod config;
pub mod convert;
mod dev;
pub mod error;
pub mod execute_block;
pub mod explorer;
pub mod filters;
mod follower;
pub mod fork;
pub use lanes_eth::genesis;
pub mod import;
mod imported;
pub mod ledger;
mod lifecycle;
mod permits;
mod publish;
mod rebuild;
pub mod relay;
pub mod rpc;
mod senders;
mod stage;
mod state;
pub mod state_file;

pub use blobs::BLOB_RETENTION;
pub use chain_dir::reset_data_dir;
pub use config::{
    ChainChoice, ExplorerConfig, NodeConfig, RpcLimits, SUGGESTED_TIP, client_version,
};
pub use error::NodeError;
pub use lifecycle::Node;
pub(crate) use state::NodeState;
