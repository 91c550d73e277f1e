//! `lanes-validator` running a node: a single node (`--dev`, `--genesis`,
//! an existing data folder, `--fork-url`) or one of a multi-node chain
//! (`--config`), until a signal stops it.

use std::path::{Path, PathBuf};

use lanes_accounts_db::DEFAULT_HISTORY_BLOCKS;
use lanes_banking_stage::{DEFAULT_BLOCK_TIME, DEFAULT_MAX_PER_SENDER, MAX_WORKERS, Mining};
use lanes_eth::genesis::{self, DEV_BALANCE};

use super::args::{Cli, DEV_MAX_PER_SENDER, Kept, StateRoot};
use crate::{
    ChainChoice, ExplorerConfig, Node, NodeConfig, RpcLimits, client_version, reset_data_dir,
};

type Res = Result<(), Box<dyn std::error::Error>>;

/// Runs the node `cli` describes until SIGTERM or SIGINT; `--dump-state`'s
/// file is written before it stops.
pub(super) fn run(mut cli: Cli) -> Res {
    if let Some(path) = cli.config.clone() {
        return run_cluster_node(&cli, &path);
    }
    // --fork-url runs a dev chain, as anvil's.
    cli.dev |= cli.fork_url.is_some();
    if cli.reset {
        reset_data_dir(&cli.data_dir)
            .map_err(|e| format!("resetting {}: {e}", cli.data_dir.display()))?;
    }
    let dump_state = cli.dump_state.clone().or_else(|| cli.state.clone());
    serve(node_config(cli), dump_state)
}

/// The node's configuration from a single node's flags.
fn node_config(cli: Cli) -> NodeConfig {
    let fork = cli.fork_url.clone().map(|url| crate::fork::ForkConfig {
        url,
        block_number: cli.fork_block_number,
        chain_id: cli.fork_chain_id,
        limits: crate::fork::UpstreamLimits {
            timeout: cli.timeout,
            retries: cli.retries,
            backoff: cli.fork_retry_backoff,
            concurrency: cli.fork_concurrency.max(1),
            budget: cli.fork_request_budget,
        },
    });
    let limits = rpc_limits(&cli);
    let workers = workers(&cli);
    let blob_retention = blob_retention(&cli);
    let load_state = cli.load_state.clone().or_else(|| cli.state.clone().filter(|p| p.exists()));
    let explorer = explorer_config(&cli, cli.dev);
    let chain = match (cli.dev, cli.genesis) {
        (true, _) => ChainChoice::Dev(cli.hardfork),
        (false, Some(path)) => ChainChoice::Genesis(path),
        (false, None) => ChainChoice::Existing,
    };
    NodeConfig {
        explorer,
        data_dir: cli.data_dir,
        chain,
        load_state,
        rpc_addr: cli.rpc_addr,
        block_time: cli.block_time.unwrap_or(DEFAULT_BLOCK_TIME),
        mining: match (cli.no_mining, cli.block_time, cli.dev) {
            (true, _, _) => Mining::Manual,
            (false, None, true) => Mining::OnDemand,
            _ => Mining::Interval,
        },
        workers,
        pin_threads: cli.pin_threads,
        predict: !cli.no_predict,
        max_per_sender: cli.txpool_max_per_sender.unwrap_or(if cli.dev {
            DEV_MAX_PER_SENDER
        } else {
            DEFAULT_MAX_PER_SENDER
        }),
        max_pool: cli.txpool_max,
        fsync: cli.fsync || !cli.dev,
        index_memory_bytes: cli.index_memory.0,
        history_blocks: match cli.history_blocks {
            Some(Kept(n)) => n,
            None if cli.dev => None,
            None => Some(DEFAULT_HISTORY_BLOCKS),
        },
        blob_retention,
        allow_unprotected: cli.allow_unprotected_txs || cli.dev,
        client_version: cli.client_version.unwrap_or_else(|| client_version(cli.dev)),
        hold_blocks: false,
        unlock_dev_accounts: false,
        mpt_state_root: cli.state_root == Some(StateRoot::Mpt),
        lattice_state_root: cli.state_root == Some(StateRoot::Lattice),
        block_base_fee: cli.block_base_fee_per_gas,
        fork,
        limits,
    }
}

/// Starts `config`'s node and serves until a signal; dumps the state to
/// `dump_state` before stopping.
fn serve(config: NodeConfig, dump_state: Option<PathBuf>) -> Res {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        // Handlers first: a signal that comes while the node starts still
        // seals and stops it cleanly.
        let mut signals = Signals::install()?;
        let dev = matches!(config.chain, ChainChoice::Dev(_));
        let explorer = config.explorer.is_some();
        let node = Node::start(config).await?;
        if dev {
            print_dev_banner(&node, explorer);
        }
        signals.until_stop(&node).await?;
        if let Some(path) = &dump_state {
            node.dump_state_file(path).await?;
            tracing::info!(target: "lanes::node", file = %path.display(), "state dumped");
        }
        node.stop().await?;
        Ok(())
    })
}

/// The explorer the flags ask for: on with `--dev` (or `--explorer`), off
/// with `--no-explorer`.
fn explorer_config(cli: &Cli, dev: bool) -> Option<ExplorerConfig> {
    let on = (dev || cli.explorer || !cli.explorer_abis.is_empty()) && !cli.no_explorer;
    on.then(|| ExplorerConfig { abi_dirs: cli.explorer_abis.clone() })
}

/// The RPC limits the flags set; CORS allows any origin by default on a dev
/// node (as anvil), none otherwise.
fn rpc_limits(cli: &Cli) -> RpcLimits {
    RpcLimits {
        max_request_bytes: cli.max_request_bytes,
        max_batch: cli.max_batch,
        cors_origins: match &cli.cors_origins {
            Some(list) => list.iter().filter(|o| *o != "none" && !o.is_empty()).cloned().collect(),
            None if cli.dev => vec!["*".into()],
            None => Vec::new(),
        },
        filter_timeout: cli.filter_timeout,
        max_heavy_calls: cli.max_heavy_calls.unwrap_or(RpcLimits::default().max_heavy_calls),
        max_connections: cli.max_connections,
        request_timeout: cli.request_timeout,
        call_gas_cap: cli.rpc_gas_cap,
        call_timeout: cli.rpc_evm_timeout,
        ..RpcLimits::default()
    }
}

/// One node of a multi-node chain (`--config`).
fn run_cluster_node(cli: &Cli, path: &Path) -> Res {
    use crate::cluster::{self, Faults, config::ClusterConfig};
    let cluster_config = ClusterConfig::load(path)?;
    // An address this host does not have stops the start naming its field,
    // before anything listens (the peer-to-peer one would otherwise only
    // be logged by the consensus engine).
    for (field, addr) in [("rpc", cluster_config.rpc), ("p2p", cluster_config.p2p)] {
        std::net::TcpListener::bind(addr).map_err(|e| {
            format!("{}: {field} = \"{addr}\" cannot be listened on here: {e}", path.display())
        })?;
    }
    if cli.reset {
        reset_data_dir(&cluster_config.data_dir)
            .map_err(|e| format!("resetting {}: {e}", cluster_config.data_dir.display()))?;
    }
    let workers = workers(cli);
    let config = NodeConfig {
        data_dir: cluster_config.data_dir.clone(),
        chain: ChainChoice::Genesis(cluster_config.genesis.clone()),
        load_state: None,
        rpc_addr: cluster_config.rpc,
        block_time: cluster_config.block_time,
        // Blocks are built when consensus asks, and held until decided.
        mining: Mining::Manual,
        hold_blocks: true,
        unlock_dev_accounts: cluster_config.unlock_dev_accounts,
        // The genesis file says (config.lanesStateRoot).
        mpt_state_root: false,
        lattice_state_root: false,
        block_base_fee: None,
        explorer: explorer_config(cli, false),
        fork: None,
        workers,
        pin_threads: cli.pin_threads,
        predict: !cli.no_predict,
        max_per_sender: cli.txpool_max_per_sender.unwrap_or(DEFAULT_MAX_PER_SENDER),
        max_pool: cli.txpool_max,
        fsync: true,
        index_memory_bytes: cli.index_memory.0,
        history_blocks: match cli.history_blocks {
            Some(Kept(n)) => n,
            None => Some(DEFAULT_HISTORY_BLOCKS),
        },
        blob_retention: blob_retention(cli),
        allow_unprotected: cli.allow_unprotected_txs,
        client_version: cli.client_version.clone().unwrap_or_else(|| client_version(false)),
        limits: rpc_limits(cli),
    };
    let faults = Faults { tamper_proposals: cli.test_tamper_proposals };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let mut signals = Signals::install()?;
        let node = Node::start(config).await?;
        let cluster = cluster::join(&node, &cluster_config, faults).await?;
        println!(
            "{} ({:?}) of a {}-validator chain: JSON-RPC on http://{}",
            cluster_config.name,
            cluster_config.role,
            cluster_config.validators.validators().len(),
            node.rpc_addr()
        );
        let stopped = signals.until_stop(&node).await;
        cluster.stop().await;
        stopped?;
        node.stop().await?;
        Ok(())
    })
}

/// The signals a node stops on, and SIGXFSZ: past a file-size limit
/// (ulimit -f) it would kill the node mid-write; handled, the write fails
/// and is reported as a full disk.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    _file_too_large: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let xfsz = SignalKind::from_raw(rustix::process::Signal::XFSZ.as_raw());
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            _file_too_large: signal(xfsz)?,
        })
    }

    /// Waits for SIGTERM or SIGINT (`Ok`: seal and stop), or for block
    /// production to stop on a failure (`Err`, saying why).
    async fn until_stop(&mut self, node: &Node) -> Result<(), String> {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
            reason = node.failed() => {
                return Err(format!(
                    "block production stopped: {reason}. Blocks committed before it are kept; free the disk (or make the data folder writable) and start the node again"
                ));
            }
        }
        tracing::info!(target: "lanes_node", "signal received: sealing and stopping");
        Ok(())
    }
}

fn print_dev_banner(node: &Node, explorer: bool) {
    let eth =
        DEV_BALANCE / alloy_primitives::U256::from(10u64).pow(alloy_primitives::U256::from(18));
    println!(
        "lanes dev chain (chain id {}) — these keys are public, never use them elsewhere",
        genesis::DEV_CHAIN_ID
    );
    println!("mnemonic: {}", genesis::DEV_MNEMONIC);
    for (i, signer) in genesis::dev_signers().iter().enumerate() {
        let key = alloy_primitives::hex::encode(signer.to_bytes());
        println!("({i}) {} ({eth} ETH) key 0x{key}", signer.address());
    }
    println!("listening on http://{0} and ws://{0}", node.rpc_addr());
    if explorer {
        println!("explorer on http://{}/explorer", node.rpc_addr());
    }
}

/// `--workers`, or one per core up to [`MAX_WORKERS`].
fn workers(cli: &Cli) -> usize {
    cli.workers.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_WORKERS)
    })
}

/// `--blob-retention`, or EIP-4844's window.
fn blob_retention(cli: &Cli) -> std::time::Duration {
    cli.blob_retention.map_or(crate::BLOB_RETENTION, std::time::Duration::from_secs)
}
