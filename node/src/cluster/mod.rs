//! A node of a multi-node chain: Malachite (Tendermint) decides each
//! height; the proposer builds the block with its banking stage and holds
//! it; the others verify it by parallel re-execution on their head before
//! voting; every node commits a block only once it is decided, with its
//! commit certificate. Replicas follow decided blocks the same way without
//! voting.
//!
//! ```text
//!  Malachite engine --AppMsg--> AppDriver (lanes-consensus): seen, built, parts, publish
//!     ^                              | Application calls
//!     |                              v
//!     |   App (this module) --build_held/verify/import--> BankingStage
//!     |      build: build, hold                            |
//!     |      check: decode, verify                         |  committed blocks
//!     |      decided: certificate (synced), import         v
//!     +----  decided_value: ledger + certificates     follower: served, subscriptions
//! ```

pub mod certs;
pub mod config;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy_primitives::B256;
use borsh::BorshDeserialize;
use lanes_banking_stage::Decision;
use lanes_consensus::malachite::app::types::codec::Codec;
use lanes_consensus::{
    Address, AppDriver, Application, AssembledProposal, Bytes, CommitCertificate, EngineSettings,
    Height, LanesCodec, LanesContext, NextHeight, Role, Rotation, Round, ValidatorSet, Validity,
    ValueId, start_engine,
};
use lanes_runtime::{Block, ReplayError};

use self::certs::CertStore;
use self::config::{ClusterConfig, NodeRole};
use crate::relay::{self, Link};
use crate::{NodeError, NodeState};

/// How far ahead of this node's clock a proposed block's timestamp may be.
pub const MAX_FUTURE_SECS: u64 = 5;
/// The certificate log, in the data folder.
const CERTS_FILE: &str = "consensus/certificates.log";

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
    node: &crate::Node,
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
        config.p2p,
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
        block_time: config.block_time,
        block_gather: config.block_gather,
        blocks: HashMap::new(),
        held: None,
        certs,
        faults,
        clock: HeightClock::new(),
        last_txs: 0,
        validators: config.validators.clone(),
        rotation: None,
    };
    let driver = AppDriver::new(
        app,
        config.name.clone(),
        config.private_key.clone(),
        config.validators.clone(),
        params,
    );
    let app = tokio::spawn(driver.run(channels));
    Ok(Cluster { engine, app })
}

/// The node's side of consensus: builds, verifies and commits blocks for
/// the [`AppDriver`] answering the engine.
struct App {
    state: Arc<NodeState>,
    /// Longest a proposer waits for a transaction before proposing an
    /// empty block.
    block_time: Duration,
    /// Blocks proposed, received or synced for heights not yet decided.
    blocks: HashMap<B256, Block>,
    /// The block the banking stage holds (this node's last proposal).
    held: Option<B256>,
    certs: CertStore,
    faults: Faults,
    /// Least time a height gathers under load (`block_gather`).
    block_gather: Duration,
    /// Transactions in the last decided block.
    last_txs: usize,
    /// Where the current height's time goes.
    clock: HeightClock,
    validators: ValidatorSet,
    /// Who missed their turns, from the committed blocks' builders; made
    /// from the ledger when first asked.
    rotation: Option<Rotation>,
}

/// Where a height's time went on this node, logged when it is decided:
/// from the height's start until this node had the proposal (as proposer:
/// waiting for a transaction, then building; otherwise: the proposer's
/// time, the transfer, then verifying), then the votes (prevote and
/// precommit round trips) until the decision, then committing.
#[derive(Debug)]
struct HeightClock {
    started: Instant,
    /// Waiting for a transaction before building (proposer).
    wait: Duration,
    /// Building the proposal (proposer).
    build: Duration,
    /// Verifying the proposal by re-execution (the others).
    verify: Duration,
    /// Since the start, when this node first had a valid proposal.
    proposal: Option<Duration>,
}

impl HeightClock {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            wait: Duration::ZERO,
            build: Duration::ZERO,
            verify: Duration::ZERO,
            proposal: None,
        }
    }

    fn have_proposal(&mut self) {
        self.proposal.get_or_insert_with(|| self.started.elapsed());
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Why the consensus app could not handle one of the engine's messages
/// (logged; the engine goes on).
#[derive(Debug, thiserror::Error)]
enum AppError {
    /// The node has no banking stage (it is shutting down).
    #[error("{0}")]
    Node(#[from] crate::error::RpcError),
    /// The banking stage refused or stopped.
    #[error("banking stage: {0}")]
    Stage(#[from] lanes_banking_stage::StageError),
    /// The blocking task that called the stage failed.
    #[error("stage task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The stage built a block on another head than the height asked for.
    #[error("built block {built} for height {height}")]
    WrongHeight {
        /// The block's number.
        built: u64,
        /// The height being proposed.
        height: u64,
    },
    /// A decision on a block this node never received.
    #[error("height {height} decided a block this node never saw ({id})")]
    Unseen {
        /// The height decided.
        height: u64,
        /// The decided value (block hash).
        id: B256,
    },
    /// The certificate of `height` could not be encoded.
    #[error("encoding the certificate of {height}: {source}")]
    EncodeCertificate {
        /// The height decided.
        height: u64,
        /// The codec's reason.
        source: lanes_consensus::CodecError,
    },
    /// The certificate of `height` could not be stored.
    #[error("writing the certificate of {height}: {source}")]
    WriteCertificate {
        /// The height decided.
        height: u64,
        /// The I/O cause.
        source: std::io::Error,
    },
    /// The decided block does not re-execute on this node's state.
    #[error("decided block {height} does not replay here: {source}")]
    DoesNotReplay {
        /// The height decided.
        height: u64,
        /// What replay found.
        source: Box<ReplayError>,
    },
    /// A block could not be encoded for streaming.
    #[error("encoding block: {0}")]
    EncodeBlock(std::io::Error),
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl App {
    /// The validators passed over as proposers at `height`: the rotation
    /// brought up to the committed head from the ledger first.
    fn passed_over_at(&mut self, height: u64) -> Vec<Address> {
        let head = self.state.head();
        let rotation = self
            .rotation
            .get_or_insert_with(|| Rotation::starting_at(Rotation::epoch_start(head + 1).max(1)));
        while rotation.next() <= head {
            let next = rotation.next();
            let Ok(Some(lb)) = self.state.block(next) else { break };
            let coinbase = lb.block.header.coinbase;
            let builder = self
                .validators
                .validators()
                .iter()
                .map(|v| v.address)
                .find(|a| alloy_primitives::Address::from(*a) == coinbase);
            match builder {
                Some(builder) => rotation.committed(&self.validators, next, &builder),
                // Not built by a validator (the genesis's own chain): skip it.
                None => *rotation = Rotation::starting_at(next + 1),
            }
        }
        rotation.passed_over(height)
    }

    /// Runs `f` on the banking stage off the async threads.
    async fn on_stage<R: Send + 'static>(
        &self,
        f: impl FnOnce(&lanes_banking_stage::BankingStage<lanes_evm_adapter::EvmExecutor>) -> R
        + Send
        + 'static,
    ) -> Result<R, AppError> {
        let state = self.state.clone();
        Ok(tokio::task::spawn_blocking(move || state.stage(f)).await??)
    }

    fn head(&self) -> lanes_runtime::BlockHeader {
        self.state.stage(|st| st.head()).unwrap_or_default()
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
        if h.timestamp < head.timestamp {
            return refuse(format!(
                "timestamp {} is before its parent's ({})",
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
            Err(e) => refuse(e.to_string()),
        }
    }
}

#[lanes_consensus::async_trait]
impl Application for App {
    type Error = AppError;

    fn passed_over(&mut self, height: Height) -> Vec<Address> {
        self.passed_over_at(height.0)
    }

    fn next_height(&self) -> Height {
        Height(self.head().number + 1)
    }

    /// Builds this node's proposal for `height`: on the head, stamped no
    /// earlier than the clock allows, and held by the banking stage.
    async fn build(
        &mut self,
        height: Height,
        round: Round,
        timeout: Duration,
    ) -> Result<(ValueId, Bytes), AppError> {
        if let Some(old) = self.held.take() {
            // An earlier round's proposal: dropped (kept here, should a
            // later round decide it after all).
            self.on_stage(move |st| st.decide(Decision::Discard(old))).await??;
        }
        // A height is proposed as soon as a transaction is ready; with none,
        // after the block time (an empty block keeps the chain's time going).
        let waiting = Instant::now();
        let until = waiting + self.block_time.min(timeout / 2);
        let signal = self.state.stage(|st| st.work_signal())?;
        let state = self.state.clone();
        tokio::task::spawn_blocking(move || {
            loop {
                let seen = signal.rings();
                // A stage shutting down rings too, and has no work here.
                if state.stage(|st| st.has_work()).unwrap_or(true) || !signal.wait_past(seen, until)
                {
                    break;
                }
            }
        })
        .await?;
        if self.last_txs >= config::LOADED_BLOCK_TXS {
            // Under load the height gathers more first (`block_gather`).
            let at = self.clock.started + self.block_gather.min(timeout / 2);
            tokio::time::sleep_until(at.into()).await;
        }
        let building = Instant::now();
        self.clock.wait += building - waiting;
        let mut block = self.on_stage(|st| st.build_held(None)).await??;
        self.clock.build += building.elapsed();
        self.clock.have_proposal();
        let id = block.hash;
        self.held = Some(id);
        if block.header.number != height.0 {
            return Err(AppError::WrongHeight { built: block.header.number, height: height.0 });
        }
        if self.faults.tamper_proposals {
            block.header.state_commitment = B256::repeat_byte(0xee);
            tracing::warn!(target: "lanes::consensus", height = height.0, round = %round, "test fault: proposing a tampered block");
        }
        tracing::info!(target: "lanes::consensus", height = height.0, round = %round, hash = %id, txs = block.tx_count(), "proposing");
        let bytes = borsh::to_vec(&block).map_err(AppError::EncodeBlock)?;
        self.blocks.insert(id, block);
        Ok((id, bytes.into()))
    }

    /// Checks a proposal assembled from parts and says what this node votes.
    async fn check(&mut self, proposal: AssembledProposal) -> Option<(ValueId, Validity)> {
        let AssembledProposal { height, round, proposer, bytes, .. } = proposal;
        let block = match Block::try_from_slice(&bytes) {
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
        let verifying = Instant::now();
        let validity = self.verify(height, proposer, &block, true).await;
        self.clock.verify += verifying.elapsed();
        if validity == Validity::Valid {
            self.clock.have_proposal();
            tracing::info!(target: "lanes::consensus", height = height.0, round = %round, %proposer, hash = %block.hash, txs = block.tx_count(), "proposal verified");
        }
        let id = block.hash;
        // An invalid block is not kept: a decision on it cannot be committed.
        if validity == Validity::Valid {
            self.blocks.insert(id, block);
        }
        Some((id, validity))
    }

    /// Block `id` encoded, if this node keeps it.
    fn value_bytes(&self, id: &ValueId) -> Result<Option<Bytes>, AppError> {
        let Some(block) = self.blocks.get(id) else { return Ok(None) };
        let bytes = borsh::to_vec(block).map_err(AppError::EncodeBlock)?;
        Ok(Some(bytes.into()))
    }

    /// Commits the decided block: its certificate first (synced), then the
    /// block through the banking stage.
    async fn decided(
        &mut self,
        certificate: &CommitCertificate<LanesContext>,
    ) -> Result<(), AppError> {
        let height = certificate.height.0;
        let id = certificate.value_id;
        let head = self.head().number;
        if height <= head {
            return Ok(()); // committed already (a replayed decision)
        }
        let block = self.blocks.get(&id).cloned().ok_or(AppError::Unseen { height, id })?;
        let encoded = LanesCodec
            .encode(certificate)
            .map_err(|source| AppError::EncodeCertificate { height, source })?;
        self.certs
            .put(height, encoded.to_vec())
            .map_err(|source| AppError::WriteCertificate { height, source })?;
        // The stage commits the block it holds, or drops it for this one.
        self.held = None;
        let txs = block.tx_count();
        let decided = self.clock.started.elapsed();
        let committing = Instant::now();
        let imported = self.on_stage(move |st| st.import(block)).await??;
        let commit = committing.elapsed();
        match imported {
            Ok(number) => {
                self.last_txs = txs;
                let c = &self.clock;
                // A synced block came without a live proposal: all votes.
                let proposal = c.proposal.unwrap_or_default().min(decided);
                tracing::info!(target: "lanes::consensus", height = number, round = %certificate.round, hash = %id, txs, signatures = certificate.commit_signatures.len(),
                    decided_ms = millis(decided), proposal_ms = millis(proposal), wait_ms = millis(c.wait), build_ms = millis(c.build), verify_ms = millis(c.verify), votes_ms = millis(decided - proposal), commit_ms = millis(commit),
                    "decided and committed");
                Ok(())
            }
            Err(source) => Err(AppError::DoesNotReplay { height, source }),
        }
    }

    /// Goes on after the head: blocks kept for earlier heights are dropped;
    /// a decided block that was not committed is decided again.
    fn finalized(&mut self, certificate: &CommitCertificate<LanesContext>) -> NextHeight {
        let head = self.head().number;
        let next = Height(head + 1);
        self.blocks.retain(|_, b| b.header.number >= next.0);
        self.clock = HeightClock::new();
        if head >= certificate.height.0 {
            NextHeight::Start(next)
        } else {
            NextHeight::Restart(next)
        }
    }

    /// Block `height` and its certificate, for a peer's sync.
    fn decided_value(&self, height: Height) -> Option<(CommitCertificate<LanesContext>, Bytes)> {
        let cert = self.certs.get(height.0)?;
        let cert: CommitCertificate<LanesContext> = LanesCodec.decode(cert.to_vec().into()).ok()?;
        let block = self.state.ledger.read(height.0).ok()?.block;
        let bytes = borsh::to_vec(&block).ok()?;
        Some((cert, bytes.into()))
    }

    fn history_min_height(&self) -> Height {
        Height(self.certs.first().unwrap_or(0))
    }

    /// A synced block: verified on the head (its timestamp against the
    /// parent's only) and kept.
    async fn process_synced_value(
        &mut self,
        height: Height,
        proposer: Address,
        bytes: Bytes,
    ) -> Option<(ValueId, Validity)> {
        let block = match Block::try_from_slice(&bytes) {
            Ok(block) => block,
            Err(e) => {
                tracing::warn!(target: "lanes::consensus", height = height.0, "synced block undecodable: {e}");
                return None;
            }
        };
        let validity = self.verify(height, proposer, &block, false).await;
        let id = block.hash;
        self.blocks.insert(id, block);
        Some((id, validity))
    }
}
