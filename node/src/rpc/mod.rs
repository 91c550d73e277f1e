//! The node's JSON-RPC: Ethereum's methods (as anvil serves them) and
//! `lanes_*`, one typed API per namespace.
//!
//! ```text
//!  api/        the #[rpc] traits, one file per namespace (eth, net, web3,
//!              personal, dev, lanes, txpool, trace, ots, testing)
//!  types.rs    the lanes_* answers, shared with the load generator
//!  eth.rs, pubsub.rs, net.rs, lanes.rs, sign.rs, dev.rs, debug.rs, txpool.rs,
//!  trace.rs, ots.rs, testing.rs
//!              the server impls, over NodeState (crate::state)
//!  blocks.rs   a block as eth_getBlockBy* answers it
//!  call.rs     what the call methods share (requests, overrides, errors)
//!  logs.rs     what eth_getLogs and the filters share
//!  signing.rs  signing with the unlocked accounts (eth and personal)
//!  tracing.rs  a block replayed under a tracer (debug, trace, ots, dev)
//!  params.rs   the middleware that keeps lanes' invalid-params messages
//!  serve.rs    the accept loop: connection and request-time limits
//! ```

pub use lanes_rpc::api;
mod blocks;
mod call;
mod chain;
mod debug;
mod dev;
mod eth;
mod lanes;
mod logs;
mod net;
mod ots;
mod params;
mod pubsub;
mod send;
pub(crate) mod serve;
mod sign;
mod signing;
mod simulate;
mod testing;
mod trace;
mod tracing;
mod txpool;
pub use lanes_rpc::types;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use alloy_primitives::keccak256;
use jsonrpsee::RpcModule;
use jsonrpsee::server::IdProvider;

pub(crate) use params::ParamsErrors;

use crate::NodeState;
use lanes_rpc::api::{
    DebugApiServer, DevApiServer, EthApiServer, EthPubSubApiServer, LanesApiServer, NetApiServer,
    OtsApiServer, PersonalApiServer, TestingApiServer, TraceApiServer, TxpoolApiServer,
    Web3ApiServer,
};

/// Hex-string subscription ids (`"0x"` and 32 hex digits, like anvil's):
/// viem's watchers time out on jsonrpsee's default integer ids.
#[derive(Debug, Default)]
pub(crate) struct HexIds(AtomicU64);

impl IdProvider for HexIds {
    fn next_id(&self) -> jsonrpsee::types::SubscriptionId<'static> {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mut seed = n.to_be_bytes().to_vec();
        seed.extend(nanos.to_be_bytes());
        seed.extend(std::process::id().to_be_bytes());
        let id = keccak256(seed);
        format!("0x{}", alloy_primitives::hex::encode(&id[..16])).into()
    }
}

/// Every namespace's methods in one module.
pub(crate) fn module(state: Arc<NodeState>) -> RpcModule<()> {
    let mut m = RpcModule::new(());
    let unique = "method names are unique";
    m.merge(eth::EthRpc::new(state.clone()).into_rpc()).expect(unique);
    m.merge(pubsub::EthPubSub::new(state.clone()).into_rpc()).expect(unique);
    m.merge(net::NetRpc::new(state.clone()).into_rpc()).expect(unique);
    m.merge(net::Web3Rpc::new(state.clone()).into_rpc()).expect(unique);
    m.merge(lanes::LanesRpc::new(state.clone()).into_rpc()).expect(unique);
    m.merge(sign::PersonalRpc::new(state.clone()).into_rpc()).expect(unique);
    m.merge(debug::DebugRpc::new(state.clone()).into_rpc()).expect(unique);
    m.merge(txpool::TxpoolRpc::new(state.clone()).into_rpc()).expect(unique);
    m.merge(trace::TraceRpc::new(state.clone()).into_rpc()).expect(unique);
    m.merge(ots::OtsRpc::new(state.clone()).into_rpc()).expect(unique);
    m.merge(testing::TestingRpc::new(state.clone()).into_rpc()).expect(unique);
    m.merge(dev::DevRpc::new(state).into_rpc()).expect(unique);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_hex_ids_are_anvil_shaped_and_distinct() {
        let ids = HexIds::default();
        let (a, b) = (ids.next_id(), ids.next_id());
        for id in [&a, &b] {
            let jsonrpsee::types::SubscriptionId::Str(s) = id else { panic!("{id:?}") };
            assert!(s.starts_with("0x") && s.len() == 34, "{s}");
        }
        assert_ne!(a, b);
    }
}
