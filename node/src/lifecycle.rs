//! A running [`Node`]: start-up (checking the data folder against the
//! genesis, opening the ledger and the state, replaying what the state
//! missed), the banking stage and the follower thread that publishes its
//! blocks, the JSON-RPC server, and shutdown.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{BatchRequestConfig, Server, ServerConfig, ServerHandle};
use lanes_banking_stage::{BankingStageConfig, Mining};
use lanes_eth::genesis::{self, ChainSpec};
use lanes_evm_adapter::{AdmissionLimits, CallLimits, EvmAdmission, EvmConfig, EvmExecutor, EvmTx};
use lanes_runtime::{Admission, Chain, DeclaredAccess, write_atomically};
use parking_lot::{Mutex, RwLock};
use tokio::sync::{broadcast, watch};

use crate::chain_dir::{
    GENESIS_FILE, Place, Rebuild, Replay, check_base_fee_rule, dev_spec, load_chain, other_genesis,
    start_ledger,
};
use crate::config::{ChainChoice, NodeConfig, cors_layer, store_config};
use crate::dev::DevState;
use crate::error::NodeError;
use crate::follower::spawn_follower;
use crate::fork::Fork;
use crate::fork::proxy::{ForkProxy, ForkRoute, Routes};
use crate::ledger::Ledger;
use crate::publish::Publisher;
use crate::stage::{StageParts, start_stage};
use crate::state::NodeState;
use crate::state_file::StateFile;
use crate::{filters, permits, rpc};
use lanes_eth::StateTries;

/// A running node.
pub struct Node {
    pub(crate) state: Arc<NodeState>,
    server: ServerHandle,
    rpc_addr: SocketAddr,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("rpc_addr", &self.rpc_addr).finish_non_exhaustive()
    }
}

impl Node {
    /// Opens (or creates) the chain in the data folder, starts block
    /// production and serves JSON-RPC.
    pub async fn start(config: NodeConfig) -> Result<Self, NodeError> {
        let prepared = {
            let config = config.clone();
            tokio::task::spawn_blocking(move || prepare(&config))
                .await
                .map_err(|e| NodeError::DataDir(format!("start-up task failed: {e}")))??
        };
        let Prepared { spec, chain, ledger, executor, fork, dir } = prepared;
        let signers = if matches!(config.chain, ChainChoice::Dev(_)) || config.unlock_dev_accounts {
            genesis::dev_signers()
        } else {
            &[]
        };
        let coinbase = spec.genesis.coinbase;
        let stage_config = BankingStageConfig {
            workers: config.workers.max(1),
            pin_threads: config.pin_threads,
            block_time: config.block_time,
            // An imported chain's blocks are Ethereum's: it builds none.
            mining: if spec.imported.is_some() { Mining::Manual } else { config.mining },
            max_per_sender: config.max_per_sender,
            max_pool: config.max_pool,
            coinbase,
            // A consensus chain decides heights faster than one a second.
            same_second_blocks: config.hold_blocks,
            ..BankingStageConfig::default()
        };
        let admission: Arc<dyn Admission<EvmTx>> = if config.predict {
            Arc::new(EvmAdmission::new(executor.clone(), AdmissionLimits::default()))
        } else {
            Arc::new(DeclaredAccess)
        };
        let parts = StageParts { config: stage_config, admission, hold: config.hold_blocks };
        let abis = match &config.explorer {
            Some(explorer) => crate::explorer::abis::Abis::load(&explorer.abi_dirs)?,
            None => crate::explorer::abis::Abis::standard(),
        };
        let publisher = Publisher {
            ledger: ledger.clone(),
            totals: Arc::default(),
            dropped: Arc::default(),
            waiters: Arc::default(),
            runs: Arc::default(),
            cut: Arc::default(),
        };
        let stage = start_stage(&parts, executor.clone(), chain, &publisher);
        let (blocks, failure) = (stage.blocks().clone(), stage.failure());
        let (heads, _) = broadcast::channel(256);
        let routes = Arc::new(Routes::new(fork.as_deref().map(ForkRoute::to)));
        let state = Arc::new(NodeState {
            rules: lanes_evm_adapter::TxRules { any_chain_id: true, ..executor.rules() },
            senders: Default::default(),
            executor,
            stage: RwLock::new(Some(stage)),
            ledger,
            totals: publisher.totals.clone(),
            dropped: publisher.dropped.clone(),
            waiters: publisher.waiters.clone(),
            publisher,
            signers,
            dev: matches!(config.chain, ChainChoice::Dev(_)).then(DevState::default),
            client_version: config.client_version.clone(),
            heads,
            filters: filters::Filters::new(config.limits.filter_timeout),
            heavy: permits::Permits::new(config.limits.max_heavy_calls, config.limits.heavy_wait),
            limits: config.limits.clone(),
            rebuild: Rebuild {
                place: RwLock::new(Arc::new(Place { dir, spec, fork })),
                data_dir: config.data_dir.clone(),
                hardfork: match config.chain {
                    ChainChoice::Dev(hardfork) => Some(hardfork),
                    _ => None,
                },
                fork_limits: config.fork.as_ref().map(|f| f.limits.clone()).unwrap_or_default(),
                fsync: config.fsync,
                switching: parking_lot::Mutex::new(()),
                routes,
                store: store_config(&config),
                workers: config.workers,
                stage: parts,
            },
            follower: Mutex::new(None),
            fatal: watch::Sender::new(None),
            cluster: OnceLock::new(),
            proof_tries: StateTries::keeping(crate::state::PROOF_TRIES),
            sends: crate::state::SendOrder::default(),
            blobs: crate::blobs::BlobStore::new(
                &config.data_dir.join("blobs"),
                config.blob_retention,
            ),
            abis,
        });
        spawn_follower(&state, blocks, failure)?;
        spawn_blob_pruning(&state);
        if let Some(path) = &config.load_state {
            let block = load_state_file(&state, path).await?;
            tracing::info!(target: "lanes::node", file = %path.display(), block, "state loaded");
        }
        let limits = &config.limits;
        let server_config = ServerConfig::builder()
            .max_request_body_size(limits.max_request_bytes)
            .max_response_body_size(limits.max_response_bytes)
            .max_connections(limits.max_connections)
            .max_subscriptions_per_connection(limits.max_subscriptions_per_connection)
            .set_batch_request_config(BatchRequestConfig::Limit(limits.max_batch))
            .set_id_provider(rpc::HexIds::default())
            .build();
        let max_response_bytes = limits.max_response_bytes;
        let routes = state.rebuild.routes.clone();
        let middleware = RpcServiceBuilder::new()
            .layer_fn(move |service| rpc::ParamsErrors::new(service, max_response_bytes))
            .layer_fn(move |service| ForkProxy::new(service, routes.clone(), max_response_bytes));
        let http = tower::ServiceBuilder::new()
            .option_layer(config.explorer.is_some().then_some(crate::explorer::ExplorerLayer))
            .option_layer(cors_layer(&limits.cors_origins)?)
            .layer(rpc::serve::BodyDeadlineLayer(limits.request_timeout));
        let listener = tokio::net::TcpListener::bind(config.rpc_addr).await.map_err(|source| {
            NodeError::Io { what: format!("listening on {}", config.rpc_addr), source }
        })?;
        let rpc_addr = listener
            .local_addr()
            .map_err(|source| NodeError::Io { what: "reading the RPC address".into(), source })?;
        let service = Server::builder()
            .set_config(server_config)
            .set_http_middleware(http)
            .set_rpc_middleware(middleware)
            .to_service_builder();
        let methods: jsonrpsee::server::Methods = rpc::module(state.clone()).into();
        let server = rpc::serve::spawn(listener, limits, move |stop| {
            service.clone().build(methods.clone(), stop)
        });
        tracing::info!(target: "lanes::node", %rpc_addr, chain_id = state.chain_id(), head = state.head(), "JSON-RPC listening");
        if config.explorer.is_some() {
            tracing::info!(target: "lanes::node", url = %format!("http://{rpc_addr}{}", crate::explorer::EXPLORER_PATH), "explorer served");
        }
        Ok(Self { state, server, rpc_addr })
    }

    /// Where JSON-RPC listens.
    pub fn rpc_addr(&self) -> SocketAddr {
        self.rpc_addr
    }

    /// The served head.
    pub fn head(&self) -> u64 {
        self.state.head()
    }

    /// Waits until block production stops on a failure it cannot go past
    /// (a block that could not be persisted, as on a full disk or a
    /// read-only data folder) and returns it. Committed blocks stay; the
    /// failed block and the pool are dropped, as on a kill.
    pub async fn failed(&self) -> String {
        let mut fatal = self.state.fatal.subscribe();
        match fatal.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or_default(),
            // The sender lives in the state this node holds.
            Err(_) => std::future::pending().await,
        }
    }

    /// Loads a state file (anvil's format, plain or gzipped JSON) over the
    /// state, in a block of its own that the ledger records (`--load-state`);
    /// that block's number.
    pub async fn load_state_file(&self, path: &Path) -> Result<u64, NodeError> {
        load_state_file(&self.state, path).await
    }

    /// Writes the latest state to `path` in anvil's format (`--dump-state`),
    /// atomically: a reader sees the old file or the whole new one.
    pub async fn dump_state_file(&self, path: &Path) -> Result<(), NodeError> {
        let state = self.state.clone();
        let file = tokio::task::spawn_blocking(move || state.dump_state())
            .await
            .map_err(|e| NodeError::DataDir(format!("state dump task failed: {e}")))?
            .map_err(|e| NodeError::DataDir(format!("dumping the state: {e}")))?;
        let what = format!("writing {}", path.display());
        write_atomically(path, &file.to_json()).map_err(|source| NodeError::Io { what, source })
    }

    /// Stops intake, seals and commits the block in progress, and stops.
    pub async fn stop(self) -> Result<(), NodeError> {
        let _ = self.server.stop();
        self.server.clone().stopped().await;
        let state = self.state.clone();
        tokio::task::spawn_blocking(move || {
            let follower = state.follower.lock().take();
            let stage = state.stage.write().take();
            let result = match stage {
                Some(mut stage) => stage.shutdown().map(drop),
                None => Ok(()),
            };
            if let Some(f) = follower {
                let _ = f.join();
            }
            result
        })
        .await
        .map_err(|e| NodeError::DataDir(format!("shutdown task failed: {e}")))??;
        tracing::info!(target: "lanes::node", head = self.state.head(), "stopped");
        Ok(())
    }
}

/// What start-up opened, for [`Node::start`].
struct Prepared {
    spec: ChainSpec,
    chain: Chain,
    ledger: Arc<Ledger>,
    executor: Arc<EvmExecutor>,
    fork: Option<Arc<Fork>>,
    /// The chain's folder: the data folder, or a fork's under it.
    dir: std::path::PathBuf,
}

/// Checks the genesis against the data folder, opens the ledger and the
/// state, and replays what the state missed.
fn prepare(config: &NodeConfig) -> Result<Prepared, NodeError> {
    let io = |what: String| move |source| NodeError::Io { what, source };
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    // A fork's chain lives in a folder of its own, which it identifies.
    let forked = match (&config.fork, &config.chain) {
        (Some(f), ChainChoice::Dev(hardfork)) => Some(Fork::open(dir, f, *hardfork)?),
        (Some(_), _) => return Err(NodeError::Config("--fork-url runs with --dev".into())),
        (None, _) => None,
    };
    let (dir, forked) = match forked {
        Some((dir, spec, fork)) => (dir, Some((spec, Arc::new(fork)))),
        None => (dir.clone(), None),
    };
    let dir = &dir;
    // First, so a folder of another format version is named as such, not
    // as another genesis (block 0's hash depends on the format).
    let ledger = Arc::new(Ledger::open_with(&dir.join("ledger"), config.fsync)?);
    let stored_path = dir.join(GENESIS_FILE);
    let imported = crate::imported::is_imported(dir);
    if imported && matches!(config.chain, ChainChoice::Dev(_)) {
        return Err(NodeError::DataDir(format!(
            "{} holds a chain imported from Ethereum blocks; serve it without --dev",
            dir.display()
        )));
    }
    let stored = match imported {
        true => Some(ChainSpec::imported_from_file(&stored_path)?),
        false => stored_path.exists().then(|| ChainSpec::from_file(&stored_path)).transpose()?,
    };
    if let Some(stored) = &stored {
        check_base_fee_rule(dir, stored)?;
    }
    let given = match &config.chain {
        ChainChoice::Genesis(path) if imported => Some(ChainSpec::imported_from_file(path)?),
        ChainChoice::Genesis(path) if config.mpt_state_root => {
            Some(ChainSpec::from_file(path)?.with_mpt_state_root())
        }
        ChainChoice::Genesis(path) => Some(ChainSpec::from_file(path)?),
        ChainChoice::Dev(_) | ChainChoice::Existing => None,
    };
    let spec = match (stored, given) {
        _ if let Some((spec, _)) = &forked => spec.clone(),
        _ if let ChainChoice::Dev(hardfork) = &config.chain => {
            let roots = (config.mpt_state_root, config.lattice_state_root);
            dev_spec(dir, *hardfork, roots, config.block_base_fee)?
        }
        (Some(stored), Some(given)) if stored.id() != given.id() => {
            return Err(other_genesis(dir, &stored, &given));
        }
        (Some(stored), _) => stored,
        (None, Some(given)) => {
            let json = serde_json::to_vec_pretty(&given.stored()).expect("a genesis serialises");
            write_atomically(&stored_path, &json)
                .map_err(io(format!("writing {}", stored_path.display())))?;
            given
        }
        (None, None) => {
            return Err(NodeError::DataDir(format!(
                "no chain in {}: pass --dev, or --genesis FILE (`lanes-validator init` writes one)",
                dir.display()
            )));
        }
    };
    if config.mpt_state_root && spec.mpt.is_none() {
        let why = match (&forked, &spec.imported) {
            (Some(_), _) => {
                "a forked chain reads the upstream's state as it needs it, and a state root needs all of it"
            }
            (_, Some(_)) => {
                "an imported chain's headers are Ethereum's own, with their state roots"
            }
            _ => {
                "the chain there was made with lanes' lattice hash (--reset, or another --data-dir, makes a new one)"
            }
        };
        return Err(NodeError::DataDir(format!(
            "--state-root mpt does not apply to the chain in {}: {why}",
            dir.display()
        )));
    }
    // A dev node sends as any address (anvil_impersonateAccount) and replays
    // such transactions; any other refuses them.
    let dev = matches!(config.chain, ChainChoice::Dev(_));
    // An imported chain's calls run under the fork of its head.
    let (fork, rules) = match &spec.imported {
        Some(eth) => {
            let last = ledger.last_appended().map(|n| ledger.read(n)).transpose()?;
            let head = last.as_ref().and_then(|lb| crate::imported::block_data(&lb.block).ok());
            let (number, time, difficulty) = head.map_or((0, 0, Default::default()), |d| {
                (d.header.number, d.header.timestamp, d.header.difficulty)
            });
            let fork = eth.spec_at(number, time, eth.is_merged_block(difficulty));
            (fork, Some(lanes_eth::import_rules(eth, fork)))
        }
        None => (spec.spec, None),
    };
    let executor = EvmExecutor::new(EvmConfig {
        spec: fork,
        allow_unprotected: config.allow_unprotected,
        allow_impersonated: dev,
        call_limits: CallLimits {
            gas_cap: config.limits.call_gas_cap,
            timeout: config.limits.call_timeout,
        },
        ..EvmConfig::new(spec.chain_id)
    });
    let executor = Arc::new(match rules {
        Some(rules) => executor.with_rules(rules),
        None => executor,
    });

    start_ledger(&ledger, &spec, dir)?;
    let forked = forked.map(|(_, fork)| fork);
    let chain = load_chain(
        dir,
        &ledger,
        &spec,
        &store_config(config),
        dev,
        Replay { executor: Some(&executor), workers: config.workers },
        forked.as_deref(),
    )?;
    ledger.publish(chain.head().number);
    Ok(Prepared { spec, chain, ledger, executor, fork: forked, dir: dir.clone() })
}

/// Loads the state file at `path` over `state` ([`Node::load_state_file`]).
async fn load_state_file(state: &Arc<NodeState>, path: &Path) -> Result<u64, NodeError> {
    let what = format!("reading {}", path.display());
    let bytes = std::fs::read(path).map_err(|source| NodeError::Io { what, source })?;
    let file = StateFile::parse(&bytes)
        .map_err(|e| NodeError::Config(format!("{}: {e}", path.display())))?;
    let state = state.clone();
    tokio::task::spawn_blocking(move || state.load_state(&file))
        .await
        .map_err(|e| NodeError::DataDir(format!("state load task failed: {e}")))?
        .map_err(|e| NodeError::Config(format!("loading {}: {e}", path.display())))
}

/// Prunes the node's blob sidecars every [`crate::blobs::prune_interval`] (on a blocking
/// thread) until the node is dropped; a failing pass is logged and the next
/// one tries again.
fn spawn_blob_pruning(state: &Arc<NodeState>) {
    let every = crate::blobs::prune_interval(state.blobs.retention);
    let state = Arc::downgrade(state);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(state) = state.upgrade() else { return };
            let pass = tokio::task::spawn_blocking(move || state.prune_blobs()).await;
            match pass {
                Ok(Ok(0)) => {}
                Ok(Ok(removed)) => {
                    tracing::debug!(target: "lanes::node", removed, "blob sidecars pruned");
                }
                Ok(Err(e)) => tracing::warn!(target: "lanes::node", "pruning blob sidecars: {e}"),
                Err(_) => return,
            }
        }
    });
}
