//! Starting the Malachite engine for a lanes node, with its configuration
//! built in code.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytesize::ByteSize;

use malachitebft_app_channel::app::config::NodeConfig;
use malachitebft_app_channel::app::engine::host::HeightParams;
use malachitebft_app_channel::app::net::Multiaddr;
use malachitebft_app_channel::app::types::Keypair;
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::core::LinearTimeouts;
use malachitebft_app_channel::{
    Channels, ConsensusContext, EngineBuilder, EngineHandle, NetworkContext, NetworkIdentity,
    RequestContext, Signer, SyncContext, WalContext,
};
use malachitebft_config::{
    ConsensusConfig, DiscoveryConfig, P2pConfig, PubSubProtocol, ValuePayload, ValueSyncConfig,
};
use malachitebft_signing_ed25519::PrivateKey;

use crate::codec::LanesCodec;
use crate::signing::{LanesSigner, LanesVerifier, address_of};
use crate::types::{LanesContext, ValidatorSet};

/// Whether the node votes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Signs proposals and votes (its address should be in the set).
    Validator,
    /// Follows consensus without voting; catches up through sync.
    FullNode,
}

/// Dials of a lost peer on a backoff before it falls back to being dialled
/// on every network tick (1 s).
pub const PEER_DIAL_RETRIES: usize = 1;

/// Consensus timeouts. Each round `r` waits `base + r * base / 2` (capped at
/// one minute) for the propose, prevote and precommit steps.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Wait for a proposal.
    pub propose: Duration,
    /// Wait for more prevotes after a quorum of any.
    pub prevote: Duration,
    /// Wait for more precommits after a quorum of any.
    pub precommit: Duration,
    /// Least time from one height's start to the next (Malachite's
    /// `target_time`); zero starts the next height as soon as it is decided.
    pub commit: Duration,
    /// Rebroadcast own votes after this long without progress.
    pub rebroadcast: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            propose: Duration::from_secs(3),
            prevote: Duration::from_millis(500),
            precommit: Duration::from_millis(500),
            commit: Duration::ZERO,
            rebroadcast: Duration::from_secs(1),
        }
    }
}

impl Timeouts {
    /// The Malachite timeouts of these settings.
    pub fn to_linear(&self) -> LinearTimeouts {
        LinearTimeouts {
            propose: self.propose,
            propose_delta: self.propose / 2,
            prevote: self.prevote,
            prevote_delta: self.prevote / 2,
            precommit: self.precommit,
            precommit_delta: self.precommit / 2,
            rebroadcast: self.rebroadcast,
            max_timeout: Duration::from_secs(60),
        }
    }
}

/// The parameters of one height: the validator set and timeouts (vote
/// extensions disabled). Reply with this to `ConsensusReady` and in
/// `Next::Start`.
pub fn height_params(validators: &ValidatorSet, timeouts: &Timeouts) -> HeightParams<LanesContext> {
    let target = (!timeouts.commit.is_zero()).then_some(timeouts.commit);
    HeightParams::new(validators.clone(), timeouts.to_linear(), target)
}

/// Everything [`start_engine`] needs.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// Folder of the consensus WAL (`home/wal/consensus.wal`).
    pub home: PathBuf,
    /// Node name in logs.
    pub moniker: String,
    /// Consensus key; also the libp2p identity, so the peer id is stable.
    pub private_key: PrivateKey,
    /// TCP address to listen on (a node's `p2p` address: its host's, or
    /// `0.0.0.0` for every interface).
    pub listen: SocketAddr,
    /// Persistent peers (TCP addresses).
    pub peers: Vec<SocketAddr>,
    /// The validator set (for [`EngineSettings::height_params`]).
    pub validators: ValidatorSet,
    /// Validator or full node.
    pub role: Role,
    /// Consensus timeouts.
    pub timeouts: Timeouts,
    /// How often peers exchange their sync status (how fast a lagging node
    /// notices it is behind).
    pub sync_status_interval: Duration,
    /// Timeout of one sync request.
    pub sync_request_timeout: Duration,
    /// Most decided values per sync request.
    pub sync_batch_size: usize,
    /// Most bytes of a gossip message (a proposal part is at most
    /// [`crate::MAX_PART_BYTES`] plus ~200 bytes of framing).
    pub gossip_max_size: ByteSize,
    /// Most bytes of a sync response (`sync_batch_size` blocks and
    /// certificates must fit).
    pub rpc_max_size: ByteSize,
}

impl EngineSettings {
    /// Settings with default timeouts and limits.
    pub fn new(
        home: PathBuf,
        moniker: impl Into<String>,
        private_key: PrivateKey,
        listen: SocketAddr,
        peers: Vec<SocketAddr>,
        validators: ValidatorSet,
        role: Role,
    ) -> Self {
        Self {
            home,
            moniker: moniker.into(),
            private_key,
            listen,
            peers,
            validators,
            role,
            timeouts: Timeouts::default(),
            sync_status_interval: Duration::from_secs(1),
            sync_request_timeout: Duration::from_secs(10),
            sync_batch_size: 5,
            gossip_max_size: ByteSize::mib(4),
            rpc_max_size: ByteSize::mib(128),
        }
    }

    /// [`height_params`] of these settings.
    pub fn height_params(&self) -> HeightParams<LanesContext> {
        height_params(&self.validators, &self.timeouts)
    }
}

/// Why the engine did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Creating the WAL folder failed.
    #[error("creating {path}: {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The key could not make a network identity.
    #[error("network identity: {0}")]
    Identity(String),
    /// The engine's actors failed to start.
    #[error("engine: {0}")]
    Engine(String),
}

/// The Malachite node configuration of lanes.
#[derive(Clone, Debug)]
struct LanesNodeConfig {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl NodeConfig for LanesNodeConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }
    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }
    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }
    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }
    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

fn tcp_multiaddr(addr: &SocketAddr) -> Result<Multiaddr, StartError> {
    let s = match addr {
        SocketAddr::V4(a) => format!("/ip4/{}/tcp/{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("/ip6/{}/tcp/{}", a.ip(), a.port()),
    };
    s.parse().map_err(|e| StartError::Identity(format!("address {addr}: {e}")))
}

fn node_config(settings: &EngineSettings) -> Result<LanesNodeConfig, StartError> {
    let listen = tcp_multiaddr(&settings.listen)?;
    let persistent_peers =
        settings.peers.iter().map(tcp_multiaddr).collect::<Result<Vec<_>, _>>()?;
    let p2p = P2pConfig {
        listen_addr: listen,
        persistent_peers,
        persistent_peers_only: false,
        // A peer lost is dialled again after 1 s, then on every 1 s network
        // tick (Malachite's default retries 5 times on a Fibonacci backoff
        // first, so a healed link waited up to 5 s for its next dial).
        discovery: DiscoveryConfig {
            enabled: false,
            dial_max_retries: PEER_DIAL_RETRIES,
            ..DiscoveryConfig::default()
        },
        protocol: PubSubProtocol::default(),
        pubsub_max_size: settings.gossip_max_size,
        rpc_max_size: settings.rpc_max_size,
        ..P2pConfig::default()
    };
    let consensus = ConsensusConfig {
        enabled: true,
        p2p,
        value_payload: ValuePayload::ProposalAndParts,
        ..ConsensusConfig::default()
    };
    let value_sync = ValueSyncConfig {
        enabled: true,
        status_update_interval: settings.sync_status_interval,
        request_timeout: settings.sync_request_timeout,
        max_response_size: settings.rpc_max_size,
        batch_size: settings.sync_batch_size.max(1),
        ..ValueSyncConfig::default()
    };
    Ok(LanesNodeConfig { moniker: settings.moniker.clone(), consensus, value_sync })
}

/// Starts the engine: WAL under `home`, TCP networking on loopback with
/// the persistent peers (no discovery), gossip of proposal parts, and sync.
/// The node then serves the [`crate::AppMsg`]s of `channels.consensus`.
///
/// Must be called inside a multi-threaded tokio runtime.
pub async fn start_engine(
    settings: EngineSettings,
) -> Result<(Channels<LanesContext>, EngineHandle), StartError> {
    let config = node_config(&settings)?;
    let wal_dir = settings.home.join("wal");
    std::fs::create_dir_all(&wal_dir)
        .map_err(|source| StartError::Io { path: wal_dir.clone(), source })?;
    let wal_path = wal_dir.join("consensus.wal");

    let public_key = settings.private_key.public_key();
    let address = address_of(&public_key);
    let keypair = Keypair::ed25519_from_bytes(settings.private_key.inner().to_bytes())
        .map_err(|e| StartError::Identity(e.to_string()))?;

    let (identity, consensus_ctx) = match settings.role {
        Role::Validator => {
            let signer = LanesSigner::new(settings.private_key.clone());
            let peer_id = keypair.public().to_peer_id().to_bytes();
            let proof = signer
                .sign_validator_proof(public_key.as_bytes().to_vec(), peer_id)
                .await
                .map_err(|e| StartError::Identity(format!("validator proof: {e}")))?;
            let proof_bytes =
                LanesCodec.encode(&proof).map_err(|e| StartError::Identity(e.to_string()))?;
            (
                NetworkIdentity::new_validator(
                    settings.moniker.clone(),
                    keypair,
                    address.to_string(),
                    proof_bytes,
                ),
                ConsensusContext::new_validator(address, Box::new(LanesVerifier), Box::new(signer)),
            )
        }
        Role::FullNode => (
            NetworkIdentity::new(settings.moniker.clone(), keypair, None),
            ConsensusContext::new_full_node(address, Box::new(LanesVerifier)),
        ),
    };

    EngineBuilder::new(LanesContext, config)
        .with_default_wal(WalContext::new(wal_path, LanesCodec))
        .with_default_network(NetworkContext::new(identity, LanesCodec))
        .with_default_sync(SyncContext::new(LanesCodec))
        .with_default_consensus(consensus_ctx)
        .with_default_request(RequestContext::new(100))
        .build()
        .await
        .map_err(|e| StartError::Engine(format!("{e:#}")))
}

/// The network peer id of the node holding `key` (lanes uses the consensus
/// key as the libp2p identity).
pub fn peer_id_of(key: &PrivateKey) -> Result<crate::PeerId, StartError> {
    let keypair = Keypair::ed25519_from_bytes(key.inner().to_bytes())
        .map_err(|e| StartError::Identity(e.to_string()))?;
    crate::PeerId::from_bytes(&keypair.public().to_peer_id().to_bytes())
        .map_err(|e| StartError::Identity(e.to_string()))
}
