//! `eth_subscribe` ([`EthPubSubApiServer`]): `newHeads` and `logs`, fed by
//! the follower thread's broadcast of produced blocks.

use std::sync::Arc;

use alloy_rpc_types_eth::Filter;
use jsonrpsee::core::{SubscriptionResult, async_trait};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::{PendingSubscriptionSink, SubscriptionMessage};
use tokio::sync::broadcast::error::RecvError;

use crate::node::NodeState;
use crate::node::convert;
use crate::node::error::{RpcError, bad_params};
use crate::node::rpc::api::EthPubSubApiServer;
use crate::node::rpc::state::Res;

/// What an `eth_subscribe` asks for.
#[derive(Debug)]
pub(crate) enum Subscription {
    /// Each new block's header.
    NewHeads,
    /// Each new log that matches the filter.
    Logs(Box<Filter>),
}

impl Subscription {
    /// Reads `eth_subscribe`'s raw params: a kind, then (for `logs`) an
    /// optional filter; anything after is ignored. The RPC middleware calls
    /// this before jsonrpsee's own parsing, whose rejection of a subscription
    /// would otherwise go out with jsonrpsee's message instead of this one.
    pub(crate) fn from_params(params: &Params<'_>) -> Res<Self> {
        let mut seq = params.sequence();
        let kind: String = seq.next().map_err(bad_params)?;
        Self::of_kind(&kind, || seq.optional_next().map_err(bad_params))
    }

    fn of_kind(kind: &str, filter: impl FnOnce() -> Res<Option<Filter>>) -> Res<Self> {
        match kind {
            "newHeads" => Ok(Self::NewHeads),
            "logs" => Ok(Self::Logs(Box::new(filter()?.unwrap_or_default()))),
            other => Err(RpcError::Params(format!(
                "unsupported subscription `{other}` (lanes offers newHeads and logs)"
            ))),
        }
    }
}

/// The `eth` subscriptions of a node.
pub(crate) struct EthPubSub {
    state: Arc<NodeState>,
}

impl EthPubSub {
    pub(crate) fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }
}

#[async_trait]
impl EthPubSubApiServer for EthPubSub {
    async fn subscribe_to(
        &self,
        pending: PendingSubscriptionSink,
        kind: String,
        params: Option<serde_json::Value>,
    ) -> SubscriptionResult {
        let filter = || {
            params
                .map(serde_json::from_value::<Filter>)
                .transpose()
                .map_err(|e| RpcError::Params(e.to_string()))
        };
        let subscription = match Subscription::of_kind(&kind, filter) {
            Ok(s) => s,
            Err(e) => {
                pending.reject(ErrorObjectOwned::from(e)).await;
                return Ok(());
            }
        };
        let s = &self.state;
        let mut heads = s.heads.subscribe();
        let sink = pending.accept().await?;
        loop {
            let lb = tokio::select! {
                _ = sink.closed() => return Ok(()),
                next = heads.recv() => match next {
                    Ok(lb) => lb,
                    Err(RecvError::Lagged(n)) => {
                        tracing::debug!(target: "lanes::rpc", skipped = n, "subscriber lagging");
                        continue;
                    }
                    Err(RecvError::Closed) => return Ok(()),
                },
            };
            let (method, id) = (sink.method_name(), sink.subscription_id());
            let messages: Vec<SubscriptionMessage> = match &subscription {
                Subscription::NewHeads => {
                    let header = convert::header(&lb.block, s.executor.config().spec);
                    vec![SubscriptionMessage::new(method, id, &header)?]
                }
                Subscription::Logs(filter) => {
                    let mut first = 0;
                    let mut out = Vec::new();
                    for (i, r) in lb.receipts.iter().enumerate() {
                        let logs = convert::logs(&lb.block, r, i, first);
                        first += logs.len();
                        for log in logs.iter().filter(|l| filter.matches(&l.inner)) {
                            out.push(SubscriptionMessage::new(method, id.clone(), log)?);
                        }
                    }
                    out
                }
            };
            for message in messages {
                if sink.send(message).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}
