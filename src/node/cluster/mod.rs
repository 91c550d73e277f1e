//! A node of a multi-node chain: Malachite (Tendermint) decides each
//! height; the proposer builds the block with its banking stage and holds
//! it; the others verify it by parallel re-execution on their head before
//! voting; every node commits a block only once it is decided, with its
//! commit certificate. Replicas follow decided blocks the same way without
//! voting.
//!
//! ```text
//!  Malachite engine --AppMsg--> App (this module) --build_held/verify/import--> BankingStage
//!     ^   |  GetValue: build, hold, stream parts          |
//!     |   |  ReceivedProposalPart: assemble, check, verify |  committed blocks
//!     |   |  Decided: certificate (synced), import         v
//!     +---+  GetDecidedValues: ledger + certificates    follower: served, subscriptions
//! ```

pub mod certs;
pub mod config;
pub mod relay;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy_primitives::B256;
use borsh::BorshDeserialize;
use lanes_banking_stage::Decision;
use lanes_consensus::malachite::app::types::codec::Codec;
use lanes_consensus::{
    Address, AppMsg, Channels, CommitCertificate, EngineSettings, ExtendedCommitCertificate,
    Height, HeightParams, LanesCodec, LanesContext, LocallyProposedValue, NetworkMsg, Next,
    PartsBuffer, PartsLimits, PrivateKey, ProposedValue, RawDecidedValue, Role, Round,
    SyncedValueOutcome, Validity, Value, VoteExtensions, proposal_parts, start_engine,
    stream_id_for, stream_messages,
};
use lanes_runtime::Block;

use self::certs::CertStore;
use self::config::{ClusterConfig, NodeRole};
use crate::node::{NodeError, NodeState};

/// How far ahead of this node's clock a proposed block's timestamp may be.
pub const MAX_FUTURE_SECS: u64 = 5;
/// The certificate log, in the data folder.
const CERTS_FILE: &str = "consensus/certificates.log";

/// What the node's RPC does differently on a multi-node chain.
#[derive(Debug)]
pub(crate) struct Link {
    /// Sends accepted here go on to these validators (a validator's).
    pub(crate) relay: Option<relay::Relay>,
    /// Sends go to a validator instead (a replica's).
    pub(crate) forward: Option<relay::Forward>,
}

/// A running consensus engine and the loop answering it.
pub struct Cluster {
    engine: lanes_consensus::EngineHandle,
    app: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").finish_non_exhaustive()
    }
}

impl Cluster {
    /// Stops the engine and the loop.
    pub async fn stop(self) {
        self.engine.actor.stop(None);
        self.app.abort();
        let _ = self.app.await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.engine.handle).await;
    }
}

/// Test-only misbehaviour.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Propose blocks whose state commitment is wrong (the others must
    /// refuse them, and the height be decided in a later round).
    pub tamper_proposals: bool,
}

/// Joins `node` (started with held blocks) to the chain `config` names.
pub async fn join(
    node: &crate::node::Node,
    config: &ClusterConfig,
    faults: Faults,
) -> Result<Cluster, NodeError> {
    let state = node.state.clone();
    let link = match config.role {
        NodeRole::Validator => {
            Link { relay: Some(relay::Relay::start(config.validator_rpcs())), forward: None }
        }
        NodeRole::Replica => {
            Link { relay: None, forward: Some(relay::Forward::new(config.validator_rpcs())) }
        }
    };
    let _ = state.cluster.set(link);
    let certs_path = config.data_dir.join(CERTS_FILE);
    let certs = CertStore::open(&certs_path).map_err(|source| NodeError::Io {
        what: format!("opening {}", certs_path.display()),
        source,
    })?;
    let role = match config.role {
        NodeRole::Validator => Role::Validator,
        NodeRole::Replica => Role::FullNode,
    };
    let mut settings = EngineSettings::new(
        config.data_dir.join("consensus"),
        config.name.clone(),
        config.private_key.clone(),
        config.p2p.port(),
        config.peers.iter().map(|p| p.p2p).collect(),
        config.validators.clone(),
        role,
    );
    settings.timeouts = config.timeouts;
    let params = settings.height_params();
    let (channels, engine) = start_engine(settings)
        .await
        .map_err(|e| NodeError::DataDir(format!("starting consensus: {e}")))?;
    let address = Address::from_public_key(&config.private_key.public_key());
    // Its blocks pay their fees to the validator's own address.
    state
        .stage(|st| st.set_coinbase(address.into()))
        .map_err(|e| NodeError::DataDir(format!("setting the coinbase: {e}")))?;
    tracing::info!(target: "lanes::consensus", name = %config.name, %address, role = ?config.role, validators = config.validators.validators().len(), head = state.head(), "consensus started");
    let app = App {
        state,
        name: config.name.clone(),
        key: config.private_key.clone(),
        address,
        validators: config.validators.clone(),
        params,
        parts: PartsBuffer::new(PartsLimits::default()),
        blocks: HashMap::new(),
        seen: HashMap::new(),
        built: HashMap::new(),
        held: None,
        certs,
        faults,
    };
    let app = tokio::spawn(app.run(channels));
    Ok(Cluster { engine, app })
}

/// The loop answering the engine.
struct App {
    state: Arc<NodeState>,
    name: String,
    key: PrivateKey,
    address: Address,
    validators: lanes_consensus::ValidatorSet,
    params: HeightParams<LanesContext>,
    parts: PartsBuffer,
    /// Blocks proposed, received or synced for heights not yet decided.
    blocks: HashMap<B256, Block>,
    /// Values seen per (height, round), for `StartedRound` after a restart.
    seen: HashMap<(u64, u32), Vec<ProposedValue<LanesContext>>>,
    /// What this node proposed per (height, round).
    built: HashMap<(u64, u32), B256>,
    /// The block the banking stage holds (this node's last proposal).
    held: Option<B256>,
    certs: CertStore,
    faults: Faults,
}

fn round_key(round: Round) -> u32 {
    round.as_u32().unwrap_or(u32::MAX)
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl App {
    async fn run(mut self, mut channels: Channels<LanesContext>) {
        while let Some(msg) = channels.consensus.recv().await {
            if let Err(e) = self.handle(msg, &channels).await {
                tracing::error!(target: "lanes::consensus", name = %self.name, "{e}");
            }
        }
        tracing::info!(target: "lanes::consensus", name = %self.name, "consensus engine stopped");
    }

    /// Runs `f` on the banking stage off the async threads.
    async fn on_stage<R: Send + 'static>(
        &self,
        f: impl FnOnce(&lanes_banking_stage::BankingStage<lanes_evm_adapter::EvmExecutor>) -> R
        + Send
        + 'static,
    ) -> Result<R, String> {
        let state = self.state.clone();
        tokio::task::spawn_blocking(move || state.stage(f).map_err(|e| e.to_string()))
            .await
            .map_err(|e| format!("stage task failed: {e}"))?
    }

    fn head(&self) -> lanes_runtime::BlockHeader {
        self.state.stage(|st| st.head()).unwrap_or_default()
    }

    async fn handle(
        &mut self,
        msg: AppMsg<LanesContext>,
        channels: &Channels<LanesContext>,
    ) -> Result<(), String> {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let next = self.head().number + 1;
                tracing::info!(target: "lanes::consensus", height = next, "consensus ready");
                let _ = reply.send((Height(next), self.params.clone()));
            }
            AppMsg::StartedRound { height, round, proposer, role, reply_value } => {
                tracing::info!(target: "lanes::consensus", height = height.0, round = %round, %proposer, ?role, "round started");
                let seen =
                    self.seen.get(&(height.0, round_key(round))).cloned().unwrap_or_default();
                let _ = reply_value.send(seen);
            }
            AppMsg::GetValue { height, round, timeout, reply } => {
                let id = match self.built.get(&(height.0, round_key(round))) {
                    Some(id) => *id,
                    None => self.build(height, round, timeout).await?,
                };
                let _ = reply.send(LocallyProposedValue::new(height, round, Value::new(id)));
                self.publish(channels, height, round, Round::Nil, id).await?;
            }
            AppMsg::ReceivedProposalPart { from, published_by, part, reply } => {
                let publisher = published_by.unwrap_or(from);
                let assembled = match self.parts.insert(publisher, part, &self.validators) {
                    Ok(assembled) => assembled,
                    Err(e) => {
                        tracing::warn!(target: "lanes::consensus", %from, "proposal part refused: {e}");
                        None
                    }
                };
                let mut value = None;
                if let Some(p) = assembled {
                    value = self
                        .check_proposal(p.height, p.round, p.valid_round, p.proposer, &p.bytes)
                        .await;
                }
                if let Some(v) = &value {
                    let list = self.seen.entry((v.height.0, round_key(v.round))).or_default();
                    if !list.contains(v) {
                        list.push(v.clone());
                    }
                }
                let _ = reply.send(value);
            }
            AppMsg::RestreamProposal { height, round, valid_round, address, value_id } => {
                if address == self.address && self.blocks.contains_key(&value_id) {
                    self.publish(channels, height, round, valid_round, value_id).await?;
                }
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions { extensions, reply, .. } => {
                let _ = reply.send(extensions.into_iter().map(|(a, _)| (a, Ok(()))).collect());
            }
            AppMsg::Decided { certificate, reply, .. } => {
                let result = self.decided(&certificate).await;
                let _ = reply.send(());
                result?;
            }
            AppMsg::Finalized { certificate, reply, .. } => {
                let head = self.head().number;
                let next = Height(head + 1);
                self.parts.prune_below(next);
                self.seen.retain(|(h, _), _| *h >= next.0);
                self.built.retain(|(h, _), _| *h >= next.0);
                self.blocks.retain(|_, b| b.header.number >= next.0);
                let answer = if head >= certificate.height.0 {
                    Next::Start(next, self.params.clone())
                } else {
                    tracing::warn!(target: "lanes::consensus", height = certificate.height.0, "decided block not committed; restarting the height");
                    Next::Restart(next, self.params.clone())
                };
                let _ = reply.send(answer);
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let values = (range.start().0..=range.end().0.min(self.head().number))
                    .map_while(|h| self.decided_value(h))
                    .collect();
                let _ = reply.send(values);
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(Height(self.certs.first().unwrap_or(0)));
            }
            AppMsg::ProcessSyncedValue { height, round, proposer, value_bytes, reply } => {
                let outcome = match Block::try_from_slice(&value_bytes) {
                    Err(e) => {
                        tracing::warn!(target: "lanes::consensus", height = height.0, "synced block undecodable: {e}");
                        SyncedValueOutcome::PeerFault
                    }
                    Ok(block) => {
                        let validity = self.verify(height, proposer, &block, false).await;
                        let id = block.hash;
                        self.blocks.insert(id, block);
                        SyncedValueOutcome::Verdict(ProposedValue {
                            height,
                            round,
                            valid_round: Round::Nil,
                            proposer,
                            value: Value::new(id),
                            validity,
                        })
                    }
                };
                let _ = reply.send(outcome);
            }
        }
        Ok(())
    }

    /// Builds this node's proposal for `height`: on the head, stamped no
    /// earlier than the clock allows, and held by the banking stage.
    async fn build(
        &mut self,
        height: Height,
        round: Round,
        timeout: Duration,
    ) -> Result<B256, String> {
        if let Some(old) = self.held.take() {
            // An earlier round's proposal: dropped (kept here, should a
            // later round decide it after all).
            self.on_stage(move |st| st.decide(Decision::Discard(old)))
                .await?
                .map_err(|e| e.to_string())?;
        }
        // Timestamps are whole seconds after the parent's: wait for the
        // clock to pass the head's so they never run ahead of it.
        let head = self.head();
        let due = UNIX_EPOCH + Duration::from_secs(head.timestamp + 1);
        if let Ok(wait) = due.duration_since(SystemTime::now()) {
            tokio::time::sleep(wait.min(timeout / 2)).await;
        }
        let mut block =
            self.on_stage(|st| st.build_held(None)).await?.map_err(|e| e.to_string())?;
        let id = block.hash;
        self.held = Some(id);
        if block.header.number != height.0 {
            return Err(format!("built block {} for height {}", block.header.number, height.0));
        }
        if self.faults.tamper_proposals {
            block.header.state_commitment = B256::repeat_byte(0xee);
            tracing::warn!(target: "lanes::consensus", height = height.0, round = %round, "test fault: proposing a tampered block");
        }
        tracing::info!(target: "lanes::consensus", height = height.0, round = %round, hash = %id, txs = block.tx_count(), "proposing");
        self.built.insert((height.0, round_key(round)), id);
        self.blocks.insert(id, block);
        Ok(id)
    }

    /// Checks a proposal assembled from parts and says what this node votes.
    async fn check_proposal(
        &mut self,
        height: Height,
        round: Round,
        valid_round: Round,
        proposer: Address,
        bytes: &[u8],
    ) -> Option<ProposedValue<LanesContext>> {
        let block = match Block::try_from_slice(bytes) {
            Ok(block) => block,
            Err(e) => {
                tracing::warn!(target: "lanes::consensus", height = height.0, round = %round, %proposer, "proposal refused: undecodable block: {e}");
                return None;
            }
        };
        let head = self.head().number;
        if height.0 != head + 1 {
            // Not the next block here: a later one waits for sync.
            tracing::debug!(target: "lanes::consensus", height = height.0, head, "proposal for another height");
            return None;
        }
        let validity = self.verify(height, proposer, &block, true).await;
        if validity == Validity::Valid {
            tracing::info!(target: "lanes::consensus", height = height.0, round = %round, %proposer, hash = %block.hash, txs = block.tx_count(), "proposal verified");
        }
        let id = block.hash;
        // An invalid block is not kept: a decision on it cannot be committed.
        if validity == Validity::Valid {
            self.blocks.insert(id, block);
        }
        Some(ProposedValue {
            height,
            round,
            valid_round,
            proposer,
            value: Value::new(id),
            validity,
        })
    }

    /// Whether `block` is a valid block `height` by `proposer` on this
    /// node's head: the header's number, coinbase and timestamp, then
    /// parallel re-execution (conflicting entries, a transaction outside its
    /// set, roots, state commitment, hash).
    async fn verify(
        &self,
        height: Height,
        proposer: Address,
        block: &Block,
        live: bool,
    ) -> Validity {
        let head = self.head();
        let h = &block.header;
        let refuse = |why: String| {
            tracing::warn!(target: "lanes::consensus", height = height.0, %proposer, hash = %block.hash, "proposal refused: {why}");
            Validity::Invalid
        };
        if h.number != height.0 {
            return refuse(format!("block number {} is not the height", h.number));
        }
        if h.coinbase != alloy_primitives::Address::from(proposer) {
            return refuse(format!("coinbase {} is not the proposer's", h.coinbase));
        }
        if h.timestamp <= head.timestamp {
            return refuse(format!(
                "timestamp {} is not after its parent's ({})",
                h.timestamp, head.timestamp
            ));
        }
        if live && h.timestamp > now_secs() + MAX_FUTURE_SECS {
            return refuse(format!(
                "timestamp {} is more than {MAX_FUTURE_SECS} s ahead of this node's clock",
                h.timestamp
            ));
        }
        let copy = block.clone();
        match self.on_stage(move |st| st.verify(copy)).await {
            Ok(Ok(Ok(()))) => Validity::Valid,
            Ok(Ok(Err(e))) => refuse(e.to_string()),
            Ok(Err(e)) => refuse(format!("banking stage: {e}")),
            Err(e) => refuse(e),
        }
    }

    /// Commits the decided block: its certificate first (synced), then the
    /// block through the banking stage.
    async fn decided(
        &mut self,
        certificate: &CommitCertificate<LanesContext>,
    ) -> Result<(), String> {
        let height = certificate.height.0;
        let id = certificate.value_id;
        let head = self.head().number;
        if height <= head {
            return Ok(()); // committed already (a replayed decision)
        }
        let block =
            self.blocks.get(&id).cloned().ok_or_else(|| {
                format!("height {height} decided a block this node never saw ({id})")
            })?;
        let encoded =
            LanesCodec.encode(certificate).map_err(|e| format!("encoding the certificate: {e}"))?;
        self.certs
            .put(height, encoded.to_vec())
            .map_err(|e| format!("writing the certificate of {height}: {e}"))?;
        // The stage commits the block it holds, or drops it for this one.
        self.held = None;
        let txs = block.tx_count();
        let imported =
            self.on_stage(move |st| st.import(block)).await?.map_err(|e| e.to_string())?;
        match imported {
            Ok(number) => {
                tracing::info!(target: "lanes::consensus", height = number, round = %certificate.round, hash = %id, txs, signatures = certificate.commit_signatures.len(), "decided and committed");
                Ok(())
            }
            Err(e) => Err(format!("decided block {height} does not replay here: {e}")),
        }
    }

    /// Block `height` and its certificate, for a peer's sync.
    fn decided_value(&self, height: u64) -> Option<RawDecidedValue<LanesContext>> {
        let cert = self.certs.get(height)?;
        let cert: CommitCertificate<LanesContext> = LanesCodec.decode(cert.to_vec().into()).ok()?;
        let block = self.state.ledger.read(height).ok()?.block;
        let bytes = borsh::to_vec(&block).ok()?;
        let cert = ExtendedCommitCertificate::from_commit_certificate_and_extensions(
            cert,
            VoteExtensions::default(),
        );
        Some(RawDecidedValue::new(bytes.into(), cert))
    }

    /// Streams this node's block `id` as the proposal of `(height, round)`.
    async fn publish(
        &self,
        channels: &Channels<LanesContext>,
        height: Height,
        round: Round,
        valid_round: Round,
        id: B256,
    ) -> Result<(), String> {
        let Some(block) = self.blocks.get(&id) else { return Ok(()) };
        let bytes = borsh::to_vec(block).map_err(|e| format!("encoding block: {e}"))?;
        let parts = proposal_parts(height, round, valid_round, self.address, &bytes, &self.key);
        for msg in stream_messages(stream_id_for(height, round), parts) {
            channels
                .network
                .send(NetworkMsg::PublishProposalPart(msg))
                .await
                .map_err(|e| format!("network channel closed: {e}"))?;
        }
        Ok(())
    }
}
