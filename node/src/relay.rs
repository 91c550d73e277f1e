//! Sends on a multi-node chain: a validator relays each transaction it
//! accepts to every other validator's pool before it acknowledges it, so a
//! transaction acknowledged by any node reaches the proposer, and survives
//! the acknowledging node's death; a replica forwards sends to a validator.

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{B256, Bytes};
use tokio::sync::{mpsc, oneshot};

use lanes_rpc::client::{ClientError, RpcClient};

/// What the node's RPC does differently on a multi-node chain.
#[derive(Debug)]
pub(crate) struct Link {
    /// Sends accepted here go on to these validators (a validator's).
    pub(crate) relay: Option<Relay>,
    /// Sends go to a validator instead (a replica's).
    pub(crate) forward: Option<Forward>,
}

/// Most transactions one relay batch carries.
pub const RELAY_BATCH: usize = 512;
/// How long a relay waits for more transactions to batch with.
pub const RELAY_LINGER: Duration = Duration::from_millis(2);
/// How long one peer gets to take a batch; a dead peer does not hold sends.
pub const RELAY_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a peer that failed a relay is skipped before it is tried again:
/// a hung validator costs sends one [`RELAY_TIMEOUT`], not one per batch.
pub const RELAY_BACKOFF: Duration = Duration::from_secs(5);
/// Sends waiting to be relayed.
const RELAY_QUEUE: usize = 65_536;

type Waiting = (Bytes, oneshot::Sender<()>);

/// Relays transactions to the other validators' pools.
#[derive(Clone, Debug)]
pub struct Relay {
    queue: mpsc::Sender<Waiting>,
}

impl Relay {
    /// Starts relaying to `peers` (JSON-RPC URLs).
    pub fn start(peers: Vec<String>) -> Self {
        let (queue, mut incoming) = mpsc::channel::<Waiting>(RELAY_QUEUE);
        let peers: Vec<Arc<Peer>> = peers.into_iter().map(|url| Arc::new(Peer::new(url))).collect();
        tokio::spawn(async move {
            while let Some(first) = incoming.recv().await {
                let mut batch = vec![first];
                let linger = tokio::time::sleep(RELAY_LINGER);
                tokio::pin!(linger);
                while batch.len() < RELAY_BATCH {
                    tokio::select! {
                        next = incoming.recv() => match next {
                            Some(w) => batch.push(w),
                            None => break,
                        },
                        () = &mut linger => break,
                    }
                }
                let raws: Vec<Bytes> = batch.iter().map(|(raw, _)| raw.clone()).collect();
                let sends = peers.iter().map(|peer| {
                    let (peer, raws) = (peer.clone(), raws.clone());
                    tokio::spawn(async move { peer.relay(raws).await })
                });
                for send in sends.collect::<Vec<_>>() {
                    let _ = send.await;
                }
                for (_, done) in batch {
                    let _ = done.send(());
                }
            }
        });
        Self { queue }
    }

    /// Relays `raw` and returns once every peer took it, refused it, or
    /// could not be reached within [`RELAY_TIMEOUT`].
    pub async fn relay(&self, raw: Bytes) {
        let (done, wait) = oneshot::channel();
        if self.queue.send((raw, done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// One peer, connected on first use and again after a failure.
#[derive(Debug)]
struct Peer {
    url: String,
    client: tokio::sync::Mutex<Option<RpcClient>>,
    /// Skipped until then, after a failed relay.
    down_until: parking_lot::Mutex<Option<std::time::Instant>>,
}

impl Peer {
    fn new(url: String) -> Self {
        Self { url, client: tokio::sync::Mutex::new(None), down_until: Default::default() }
    }

    /// Whether a recent failure says to skip this peer for now.
    fn is_down(&self) -> bool {
        let down = self.down_until.lock();
        down.is_some_and(|until| std::time::Instant::now() < until)
    }

    /// Calls `method` on the peer, connecting first if need be, within
    /// [`RELAY_TIMEOUT`]; a connection that failed is dropped for the next
    /// call to open again.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<T, ClientError> {
        let mut client = self.client.lock().await;
        let answer = tokio::time::timeout(RELAY_TIMEOUT, async {
            if client.is_none() {
                *client = Some(RpcClient::connect(&self.url).await?);
            }
            let c = client.as_ref().expect("connected above");
            c.call::<T>(method, params).await
        })
        .await
        .unwrap_or_else(|_| {
            let what = format!("no answer in {RELAY_TIMEOUT:?}");
            Err(ClientError::Transport { url: self.url.clone(), what })
        });
        if matches!(answer, Err(ref e) if !matches!(e, ClientError::Rpc { .. })) {
            *client = None;
        }
        answer
    }

    /// Whether the peer holds `hash` in its pool or a block.
    async fn took(&self, hash: B256) -> bool {
        let status = self
            .call::<lanes_rpc::types::TransactionStatus>(
                "lanes_transactionStatus",
                serde_json::json!([hash]),
            )
            .await;
        matches!(status, Ok(s) if s.status == "pending" || s.status == "included")
    }

    async fn relay(&self, raws: Vec<Bytes>) {
        if self.is_down() {
            return;
        }
        let Err(e) = self.call::<u64>("lanes_relayTransactions", serde_json::json!([raws])).await
        else {
            return;
        };
        tracing::warn!(target: "lanes::consensus", url = %self.url, "relay failed ({e}); skipping this peer for {RELAY_BACKOFF:?}");
        let until = std::time::Instant::now() + RELAY_BACKOFF;
        *self.down_until.lock() = Some(until);
    }
}

/// A replica's forwarding of sends to the validators.
#[derive(Debug)]
pub struct Forward {
    validators: Vec<Peer>,
}

/// Why a forwarded send failed.
#[derive(Debug)]
pub enum ForwardError {
    /// A validator answered with an error: it is the answer.
    Refused {
        /// JSON-RPC code.
        code: i64,
        /// Message.
        message: String,
    },
    /// No validator could be reached.
    Unreachable(String),
}

impl Forward {
    /// Forwards to `validators` (JSON-RPC URLs), the first that answers.
    pub fn new(validators: Vec<String>) -> Self {
        Self { validators: validators.into_iter().map(Peer::new).collect() }
    }

    /// Sends `raw` to a validator and returns its answer. A validator that
    /// did not answer in time may still have taken it and relayed it to the
    /// next, which then refuses it (`already known`, or a nonce its block
    /// used): a refusal after such a silence is asked about, and a
    /// transaction the validator holds or included is answered with its hash.
    pub async fn send(&self, raw: &Bytes) -> Result<B256, ForwardError> {
        let mut last = String::from("no validator configured");
        let mut silent = false;
        for peer in &self.validators {
            match peer.call::<B256>("eth_sendRawTransaction", serde_json::json!([raw])).await {
                Ok(hash) => return Ok(hash),
                Err(ClientError::Rpc { error, .. }) => {
                    let hash = alloy_primitives::keccak256(raw);
                    if silent && peer.took(hash).await {
                        tracing::debug!(target: "lanes::consensus", %hash, url = %peer.url, refused = %error.message, "a forwarded transaction the validator holds already");
                        return Ok(hash);
                    }
                    return Err(ForwardError::Refused { code: error.code, message: error.message });
                }
                Err(e) => {
                    silent = true;
                    last = e.to_string();
                }
            }
        }
        Err(ForwardError::Unreachable(last))
    }
}
