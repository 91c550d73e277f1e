//! A multi-node chain's configuration: `config.toml` per node, written by
//! `lanes-validator testnet` and read by `lanes-validator --config`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lanes_consensus::{
    PrivateKey, Timeouts, ValidatorSet, generate_private_key, private_key_from_hex,
    private_key_to_hex, public_key_from_hex, public_key_to_hex,
};
use serde::{Deserialize, Serialize};

/// The genesis every node of a testnet shares, next to the node folders.
pub const GENESIS_FILE: &str = "genesis.json";
/// The list of nodes a testnet writes.
pub const NODES_FILE: &str = "nodes.json";

/// What a node does on a multi-node chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// Proposes and votes.
    Validator,
    /// Follows decided blocks by replay, serves reads, forwards sends.
    Replica,
}

/// Another node of the chain, as this node reaches it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerEntry {
    /// Its name.
    pub name: String,
    /// Validator or replica.
    pub role: NodeRole,
    /// Its consensus public key (ed25519, hex).
    pub public_key: String,
    /// Its peer-to-peer (consensus) address.
    pub p2p: SocketAddr,
    /// Its JSON-RPC URL (transactions are relayed there).
    pub rpc: String,
}

/// Consensus timeouts as written in the file (`"3s"`, `"500ms"`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsFile {
    /// Wait for a proposal before prevoting nil (grows by half each round).
    pub propose: String,
    /// Wait for more prevotes after a quorum of any.
    pub prevote: String,
    /// Wait for more precommits after a quorum of any.
    pub precommit: String,
    /// Rebroadcast own votes after this long without progress.
    pub rebroadcast: String,
}

impl Default for TimeoutsFile {
    fn default() -> Self {
        Self {
            propose: "3s".into(),
            prevote: "500ms".into(),
            precommit: "500ms".into(),
            rebroadcast: "1s".into(),
        }
    }
}

/// One node's `config.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterFile {
    /// This node's name (in logs).
    pub name: String,
    /// Validator or replica.
    pub role: NodeRole,
    /// The data folder, relative to this file's folder.
    pub data_dir: PathBuf,
    /// The chain's genesis (geth format), relative to this file's folder.
    pub genesis: PathBuf,
    /// JSON-RPC address (HTTP and WebSocket).
    pub rpc: SocketAddr,
    /// Peer-to-peer (consensus) address; loopback.
    pub p2p: SocketAddr,
    /// This node's consensus key (ed25519, hex). Secret.
    pub private_key: String,
    /// Longest a proposer waits for a transaction before proposing an empty
    /// block.
    pub block_time: String,
    /// Under load (the last block carried at least [`LOADED_BLOCK_TXS`]
    /// transactions), a proposer builds no sooner than this after its
    /// height started, so blocks grow with the load instead of heights
    /// multiplying. A lone transaction never waits. Default
    /// [`DEFAULT_BLOCK_GATHER`].
    #[serde(default = "default_block_gather")]
    pub block_gather: String,
    /// Sign with the ten dev accounts' keys (`eth_accounts`,
    /// `eth_sendTransaction`), as `--dev` does: a testnet from the dev genesis.
    #[serde(default)]
    pub unlock_dev_accounts: bool,
    /// Consensus timeouts.
    #[serde(default)]
    pub timeouts: TimeoutsFile,
    /// Every other node.
    pub peers: Vec<PeerEntry>,
}

/// A node's configuration, read and checked.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// This node's name.
    pub name: String,
    /// Validator or replica.
    pub role: NodeRole,
    /// The data folder.
    pub data_dir: PathBuf,
    /// The genesis file.
    pub genesis: PathBuf,
    /// JSON-RPC address.
    pub rpc: SocketAddr,
    /// Peer-to-peer address.
    pub p2p: SocketAddr,
    /// This node's consensus key.
    pub private_key: PrivateKey,
    /// Longest a proposer waits for a transaction.
    pub block_time: Duration,
    /// Least time a height gathers transactions under load.
    pub block_gather: Duration,
    /// Sign with the dev accounts' keys.
    pub unlock_dev_accounts: bool,
    /// Consensus timeouts.
    pub timeouts: Timeouts,
    /// The validator set.
    pub validators: ValidatorSet,
    /// Every other node.
    pub peers: Vec<PeerEntry>,
}

/// Why a configuration did not load.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The file is not a valid configuration.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

fn duration(field: &str, s: &str) -> Result<Duration, String> {
    lanes_rpc::parse_duration(s).map_err(|e| format!("{field}: {e}"))
}

/// A duration that may be zero (`0s`, `0ms`, `0`), as `block_gather`.
pub fn duration_or_zero(field: &str, s: &str) -> Result<Duration, String> {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    if !digits.is_empty()
        && digits.bytes().all(|b| b == b'0')
        && duration(field, &format!("1{}", &s[digits.len()..])).is_ok()
    {
        return Ok(Duration::ZERO);
    }
    duration(field, s)
}

impl ClusterConfig {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Io { path: path.into(), source })?;
        let invalid = |reason: String| ConfigError::Invalid { path: path.into(), reason };
        let file: ClusterFile = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let private_key = private_key_from_hex(&file.private_key)
            .map_err(|e| invalid(format!("private_key: {e}")))?;
        let own = private_key.public_key();
        let mut validators = Vec::new();
        if file.role == NodeRole::Validator {
            validators.push(lanes_consensus::Validator::new(own, 1));
        }
        for peer in &file.peers {
            let key = public_key_from_hex(&peer.public_key)
                .map_err(|e| invalid(format!("peer {}: public_key: {e}", peer.name)))?;
            if key == own {
                return Err(invalid(format!("peer {} has this node's own key", peer.name)));
            }
            if peer.role == NodeRole::Validator {
                validators.push(lanes_consensus::Validator::new(key, 1));
            }
        }
        if validators.is_empty() {
            return Err(invalid("no validator: a chain needs at least one".into()));
        }
        let t = &file.timeouts;
        let timeouts = Timeouts {
            propose: duration("timeouts.propose", &t.propose).map_err(invalid)?,
            prevote: duration("timeouts.prevote", &t.prevote).map_err(invalid)?,
            precommit: duration("timeouts.precommit", &t.precommit).map_err(invalid)?,
            rebroadcast: duration("timeouts.rebroadcast", &t.rebroadcast).map_err(invalid)?,
            // A height starts as soon as the last is decided; the block
            // time bounds how long a proposer waits for transactions.
            commit: Duration::ZERO,
        };
        let block_time = duration("block_time", &file.block_time).map_err(invalid)?;
        let block_gather = duration_or_zero("block_gather", &file.block_gather).map_err(invalid)?;
        Ok(Self {
            name: file.name,
            role: file.role,
            data_dir: base.join(file.data_dir),
            genesis: base.join(file.genesis),
            rpc: file.rpc,
            p2p: file.p2p,
            private_key,
            block_time,
            block_gather,
            unlock_dev_accounts: file.unlock_dev_accounts,
            timeouts,
            validators: ValidatorSet::new(validators),
            peers: file.peers,
        })
    }

    /// The JSON-RPC URLs of the other validators (where sends are relayed).
    pub fn validator_rpcs(&self) -> Vec<String> {
        let validators = self.peers.iter().filter(|p| p.role == NodeRole::Validator);
        validators.map(|p| p.rpc.clone()).collect()
    }
}

/// One line of `nodes.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeEntry {
    /// The node's name (its folder).
    pub name: String,
    /// `validator` or `replica`.
    pub role: NodeRole,
    /// Its `config.toml`, relative to the testnet folder.
    pub config: String,
    /// Its JSON-RPC URL.
    pub rpc: String,
}

/// `nodes.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodesFile {
    /// Every node, validators first.
    pub nodes: Vec<NodeEntry>,
}

/// What `lanes-validator testnet` writes.
#[derive(Clone, Debug)]
pub struct TestnetSpec {
    /// Validators.
    pub validators: usize,
    /// Replicas.
    pub replicas: usize,
    /// The folder to write.
    pub out: PathBuf,
    /// Node `i` serves JSON-RPC on `base_port + 2i` and peer-to-peer on
    /// `base_port + 2i + 1`, at `hosts[i % hosts.len()]`.
    pub base_port: u16,
    /// The hosts' addresses, one per node in order and round again when
    /// there are fewer; empty: 127.0.0.1 for all.
    pub hosts: Vec<std::net::IpAddr>,
    /// Longest a proposer waits for a transaction.
    pub block_time: String,
    /// Least time a height gathers transactions under load.
    pub block_gather: String,
    /// Consensus timeouts.
    pub timeouts: TimeoutsFile,
    /// The genesis (geth format) every node starts from.
    pub genesis: alloy_genesis::Genesis,
    /// Unlock the dev accounts on every node (a dev genesis).
    pub unlock_dev_accounts: bool,
}

/// Transactions in the last block that make a proposer gather for
/// `block_gather` (a lone transaction's block never does).
pub const LOADED_BLOCK_TXS: usize = 64;

/// `block_gather` by default: under heavy load on 4 validators, the
/// throughput of one-second heights at half their latency.
pub const DEFAULT_BLOCK_GATHER: &str = "150ms";

fn default_block_gather() -> String {
    DEFAULT_BLOCK_GATHER.into()
}

/// Most nodes a testnet has (ports and loopback processes).
pub const MAX_TESTNET_NODES: usize = 64;

/// Writes a testnet: `out/genesis.json`, `out/<name>/config.toml` for each
/// node (fresh keys), and `out/nodes.json`. Refuses a folder that already
/// holds a testnet.
pub fn write_testnet(spec: &TestnetSpec) -> Result<NodesFile, ConfigError> {
    let out = &spec.out;
    let total = spec.validators + spec.replicas;
    let invalid = |reason: String| ConfigError::Invalid { path: out.clone(), reason };
    if spec.validators == 0 {
        return Err(invalid("a testnet needs at least one validator".into()));
    }
    if total > MAX_TESTNET_NODES {
        return Err(invalid(format!("at most {MAX_TESTNET_NODES} nodes")));
    }
    if usize::from(spec.base_port) + 2 * total > usize::from(u16::MAX) {
        return Err(invalid(format!("base port {} leaves too few ports", spec.base_port)));
    }
    if out.join(NODES_FILE).exists() {
        return Err(invalid(format!("{} exists: a testnet is already there", NODES_FILE)));
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ConfigError::Io { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let genesis_path = out.join(GENESIS_FILE);
    let genesis = serde_json::to_vec_pretty(&spec.genesis).map_err(|e| invalid(e.to_string()))?;
    std::fs::write(&genesis_path, genesis).map_err(io(&genesis_path))?;
    struct Planned {
        name: String,
        role: NodeRole,
        key: PrivateKey,
        rpc: SocketAddr,
        p2p: SocketAddr,
    }
    let planned: Vec<Planned> = (0..total)
        .map(|i| {
            let (role, name) = if i < spec.validators {
                (NodeRole::Validator, format!("validator-{i}"))
            } else {
                (NodeRole::Replica, format!("replica-{}", i - spec.validators))
            };
            let port = spec.base_port + 2 * i as u16;
            let host = match spec.hosts.len() {
                0 => std::net::IpAddr::from([127, 0, 0, 1]),
                n => spec.hosts[i % n],
            };
            let at = |p: u16| SocketAddr::new(host, p);
            Planned { name, role, key: generate_private_key(), rpc: at(port), p2p: at(port + 1) }
        })
        .collect();
    let entry = |p: &Planned| PeerEntry {
        name: p.name.clone(),
        role: p.role,
        public_key: public_key_to_hex(&p.key.public_key()),
        p2p: p.p2p,
        rpc: format!("http://{}", p.rpc),
    };
    let mut nodes = Vec::new();
    for node in &planned {
        let dir = out.join(&node.name);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let file = ClusterFile {
            name: node.name.clone(),
            role: node.role,
            data_dir: "data".into(),
            genesis: Path::new("..").join(GENESIS_FILE),
            rpc: node.rpc,
            p2p: node.p2p,
            private_key: private_key_to_hex(&node.key),
            block_time: spec.block_time.clone(),
            block_gather: spec.block_gather.clone(),
            unlock_dev_accounts: spec.unlock_dev_accounts,
            timeouts: spec.timeouts.clone(),
            peers: planned.iter().filter(|p| p.name != node.name).map(entry).collect(),
        };
        let text = toml::to_string_pretty(&file).map_err(|e| invalid(e.to_string()))?;
        let text = format!(
            "# {} of a lanes testnet: lanes-validator --config {}/config.toml\n# private_key is this node's consensus key: keep it secret.\n\n{text}",
            node.name, node.name
        );
        let path = dir.join("config.toml");
        std::fs::write(&path, text).map_err(io(&path))?;
        nodes.push(NodeEntry {
            name: node.name.clone(),
            role: node.role,
            config: format!("{}/config.toml", node.name),
            rpc: format!("http://{}", node.rpc),
        });
    }
    let nodes = NodesFile { nodes };
    let path = out.join(NODES_FILE);
    let json = serde_json::to_vec_pretty(&nodes).map_err(|e| invalid(e.to_string()))?;
    std::fs::write(&path, json).map_err(io(&path))?;
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(out: &Path) -> TestnetSpec {
        TestnetSpec {
            validators: 3,
            replicas: 1,
            out: out.into(),
            base_port: 40_000,
            hosts: Vec::new(),
            block_time: "1s".into(),
            block_gather: "0s".into(),
            timeouts: TimeoutsFile::default(),
            genesis: lanes_eth::genesis::dev_genesis(),
            unlock_dev_accounts: true,
        }
    }

    fn load_all(out: &Path, nodes: &NodesFile) -> Vec<ClusterConfig> {
        nodes.nodes.iter().map(|n| ClusterConfig::load(&out.join(&n.config)).unwrap()).collect()
    }

    #[test]
    fn test_a_testnet_over_several_hosts_gives_each_node_its_hosts_address() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("net");
        let hosts: Vec<std::net::IpAddr> =
            vec!["10.77.0.11".parse().unwrap(), "10.77.0.12".parse().unwrap()];
        let nodes = write_testnet(&TestnetSpec { hosts: hosts.clone(), ..spec(&out) }).unwrap();
        let loaded = load_all(&out, &nodes);
        for (i, c) in loaded.iter().enumerate() {
            assert_eq!((c.rpc.ip(), c.p2p.ip()), (hosts[i % 2], hosts[i % 2]), "{}", c.name);
            assert_eq!(nodes.nodes[i].rpc, format!("http://{}", c.rpc));
            // Each node dials the others at their hosts' addresses.
            for peer in &c.peers {
                let j = loaded.iter().position(|o| o.name == peer.name).unwrap();
                assert_eq!(peer.p2p, loaded[j].p2p);
            }
        }
    }

    #[test]
    fn test_a_written_testnet_loads_with_one_validator_set_everywhere() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("net");
        let nodes = write_testnet(&spec(&out)).unwrap();
        let names: Vec<&str> = nodes.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["validator-0", "validator-1", "validator-2", "replica-0"]);
        let loaded = load_all(&out, &nodes);
        for (i, c) in loaded.iter().enumerate() {
            assert_eq!(c.validators, loaded[0].validators, "{} sees another set", c.name);
            assert_eq!(c.validators.validators().len(), 3);
            assert_eq!(c.rpc.port(), 40_000 + 2 * i as u16);
            assert_eq!(c.p2p.port(), c.rpc.port() + 1);
            assert_eq!(c.genesis, out.join(c.name.as_str()).join("..").join(GENESIS_FILE));
            assert_eq!(c.peers.len(), 3);
            assert_eq!(c.validator_rpcs().len(), if c.role == NodeRole::Validator { 2 } else { 3 });
        }
        assert_eq!(loaded[3].role, NodeRole::Replica);
        assert!(loaded.iter().all(|c| c.rpc.ip().is_loopback() && c.p2p.ip().is_loopback()));
        assert_eq!(loaded[0].block_gather, Duration::ZERO, "as the spec says");
        // A config written before `block_gather` existed loads, with the default.
        let path = out.join("validator-0/config.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let old: String =
            text.lines().filter(|l| !l.starts_with("block_gather")).collect::<Vec<_>>().join("\n");
        std::fs::write(&path, old).unwrap();
        assert_eq!(ClusterConfig::load(&path).unwrap().block_gather, Duration::from_millis(150));
        assert!(write_testnet(&spec(&out)).is_err(), "a second testnet over the first");
    }

    #[test]
    fn test_a_bad_config_names_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("net");
        write_testnet(&spec(&out)).unwrap();
        let path = out.join("validator-0/config.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let key_line = text.lines().find(|l| l.starts_with("private_key")).unwrap();
        let cases = [
            (text.replace(key_line, "private_key = \"00\""), "private_key"),
            (text.replace("block_time = \"1s\"", "block_time = \"soon\""), "block_time"),
            (text.replace("block_gather = \"0s\"", "block_gather = \"-1\""), "block_gather"),
            (format!("surprise = 1\n{text}"), "surprise"),
        ];
        for (bad, field) in cases {
            std::fs::write(&path, bad).unwrap();
            let e = ClusterConfig::load(&path).unwrap_err().to_string();
            assert!(e.contains(field) && e.contains("config.toml"), "{e}");
        }
    }
}
