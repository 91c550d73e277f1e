//! `eth_subscribe` ([`EthPubSubApiServer`]): `newHeads` and `logs`, fed by
//! the follower thread's broadcast of produced blocks (and, for `logs`, by a
//! revert's dropped blocks, whose logs come back `removed: true`), and
//! `newPendingTransactions`, fed by the pool's accepted transactions.

use std::sync::Arc;

use alloy_primitives::B256;
use alloy_rpc_types_eth::Filter;
use jsonrpsee::core::{SubscriptionResult, async_trait};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::{PendingSubscriptionSink, SubscriptionMessage};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

use crate::NodeState;
use crate::error::{Res, RpcError, bad_params};
use crate::filters::ChainEvent;
use crate::{convert, filters};
use lanes_rpc::api::EthPubSubApiServer;

/// What an `eth_subscribe` asks for.
#[derive(Debug)]
pub(crate) enum Subscription {
    /// Each new block's header.
    NewHeads,
    /// Each new log that matches the filter.
    Logs(Box<Filter>),
    /// Each transaction hash the pool accepts.
    NewPendingTransactions,
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
            "newPendingTransactions" => Ok(Self::NewPendingTransactions),
            other => Err(RpcError::Params(format!(
                "unsupported subscription `{other}` (lanes offers newHeads, logs and newPendingTransactions)"
            ))),
        }
    }
}

/// What a subscription is woken by.
enum Event {
    Chain(ChainEvent),
    Pending(B256),
}

/// The next message of a channel the subscription follows; never, for one
/// it does not.
async fn recv<T: Clone>(rx: &mut Option<Receiver<T>>) -> Result<T, RecvError> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
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
        let pending_only = matches!(subscription, Subscription::NewPendingTransactions);
        let mut heads = (!pending_only).then(|| s.heads.subscribe());
        let mut pooled = pending_only.then(|| s.filters.pending.subscribe());
        let sink = pending.accept().await?;
        loop {
            let (method, id) = (sink.method_name(), sink.subscription_id());
            let event = tokio::select! {
                _ = sink.closed() => return Ok(()),
                next = recv(&mut heads) => next.map(Event::Chain),
                next = recv(&mut pooled) => next.map(Event::Pending),
            };
            let event = match event {
                Ok(event) => event,
                Err(RecvError::Lagged(n)) => {
                    tracing::debug!(target: "lanes::rpc", skipped = n, "subscriber lagging");
                    continue;
                }
                Err(RecvError::Closed) => return Ok(()),
            };
            let messages: Vec<SubscriptionMessage> = match (&subscription, event) {
                (Subscription::NewHeads, Event::Chain(ChainEvent::Head(lb))) => {
                    let header = convert::header(&lb.block, s.block_form());
                    vec![SubscriptionMessage::new(method, id, &header)?]
                }
                (Subscription::Logs(filter), Event::Chain(ChainEvent::Head(lb))) => {
                    filters::block_logs(&lb, filter)
                        .iter()
                        .map(|log| SubscriptionMessage::new(method, id.clone(), log))
                        .collect::<Result<_, _>>()?
                }
                // As geth on a reorg: the dropped blocks' logs, oldest first,
                // before any block after them.
                (Subscription::Logs(filter), Event::Chain(ChainEvent::Reverted(blocks))) => blocks
                    .iter()
                    .flat_map(|lb| filters::removed_logs(lb, filter))
                    .map(|log| SubscriptionMessage::new(method, id.clone(), &log))
                    .collect::<Result<_, _>>()?,
                (Subscription::NewPendingTransactions, Event::Pending(hash)) => {
                    vec![SubscriptionMessage::new(method, id, &hash)?]
                }
                _ => Vec::new(),
            };
            for message in messages {
                if sink.send(message).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}
