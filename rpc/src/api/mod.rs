//! The JSON-RPC API of a lanes node: one jsonrpsee trait per namespace.
//!
//! Each `#[rpc(server, client)]` trait gives a `…Server` trait, which the
//! node implements, and a `…Client` trait, implemented for every jsonrpsee
//! [`ClientT`](jsonrpsee::core::client::ClientT) ([`RpcClient`](crate::client::RpcClient)
//! is one). Parameters and answers are alloy RPC types, or the
//! [`types`](crate::types) of `lanes_*`.
//!
//! Each namespace has a file here; the node's server impls are in
//! `lanes-node`'s `rpc/`.

mod debug;
mod dev;
mod eth;
mod lanes;
mod net;
mod ots;
mod personal;
mod testing;
mod trace;
mod txpool;
mod web3;

pub use debug::{DebugApiClient, DebugApiServer};
pub use dev::{DevApiClient, DevApiServer};
pub use eth::{
    EthApiClient, EthApiServer, EthPubSubApiClient, EthPubSubApiServer, MAX_STORAGE_VALUES,
};
pub use lanes::{LanesApiClient, LanesApiServer};
pub use net::{NetApiClient, NetApiServer};
pub use ots::{OTS_API_LEVEL, OtsApiClient, OtsApiServer};
pub use personal::{PersonalApiClient, PersonalApiServer};
pub use testing::{TestingApiClient, TestingApiServer};
pub use trace::{TraceApiClient, TraceApiServer};
pub use txpool::{TxpoolApiClient, TxpoolApiServer};
pub use web3::{Web3ApiClient, Web3ApiServer};
