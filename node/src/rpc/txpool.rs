//! The `txpool_*` methods ([`TxpoolApiServer`]): the pool's waiting
//! transactions, pending (next in line) and queued (behind a nonce gap).

use std::collections::BTreeMap;
use std::sync::Arc;

use alloy_consensus::Transaction as _;
use alloy_primitives::Address;
use alloy_rpc_types_txpool::{
    TxpoolContent, TxpoolContentFrom, TxpoolInspect, TxpoolInspectSummary, TxpoolStatus,
};
use jsonrpsee::core::RpcResult;
use lanes_evm_adapter::EvmTx;
use lanes_rpc::api::TxpoolApiServer;

use crate::NodeState;
use crate::convert;

/// The `txpool` namespace of a node.
pub(crate) struct TxpoolRpc {
    state: Arc<NodeState>,
}

impl TxpoolRpc {
    pub(crate) fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }

    /// The pool's listing: each waiting transaction and whether it is next
    /// in line.
    fn listing(&self) -> RpcResult<Vec<(EvmTx, bool)>> {
        Ok(self.state.stage(|st| st.pool_listing())?)
    }
}

/// `listing` filed by sender and nonce (decimal, as geth keys it), pending
/// and queued apart.
type Filed<T> = (BTreeMap<Address, BTreeMap<String, T>>, BTreeMap<Address, BTreeMap<String, T>>);

fn filed<T>(listing: Vec<(EvmTx, bool)>, f: impl Fn(&EvmTx) -> T) -> Filed<T> {
    let (mut pending, mut queued) = (BTreeMap::new(), BTreeMap::new());
    for (tx, in_line) in listing {
        let side: &mut BTreeMap<Address, BTreeMap<String, T>> =
            if in_line { &mut pending } else { &mut queued };
        side.entry(tx.sender()).or_default().insert(tx.envelope().nonce().to_string(), f(&tx));
    }
    (pending, queued)
}

impl TxpoolApiServer for TxpoolRpc {
    fn status(&self) -> RpcResult<TxpoolStatus> {
        let listing = self.listing()?;
        let pending = listing.iter().filter(|(_, in_line)| *in_line).count() as u64;
        Ok(TxpoolStatus { pending, queued: listing.len() as u64 - pending })
    }

    fn content(&self) -> RpcResult<TxpoolContent> {
        let (pending, queued) = filed(self.listing()?, convert::pending_transaction);
        Ok(TxpoolContent { pending, queued })
    }

    fn content_from(&self, from: Address) -> RpcResult<TxpoolContentFrom> {
        let mut listing = self.listing()?;
        listing.retain(|(tx, _)| tx.sender() == from);
        let (mut pending, mut queued) = filed(listing, convert::pending_transaction);
        Ok(TxpoolContentFrom {
            pending: pending.remove(&from).unwrap_or_default(),
            queued: queued.remove(&from).unwrap_or_default(),
        })
    }

    fn inspect(&self) -> RpcResult<TxpoolInspect> {
        let (pending, queued) = filed(self.listing()?, |tx| {
            let e = tx.envelope();
            TxpoolInspectSummary {
                to: e.to(),
                value: e.value(),
                gas: e.gas_limit(),
                gas_price: e.max_fee_per_gas(),
            }
        });
        Ok(TxpoolInspect { pending, queued })
    }
}
