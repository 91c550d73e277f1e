//! The validator node: the EVM executor on a banking stage, a ledger of every
//! block, and Ethereum JSON-RPC (HTTP and WebSocket on one port).
//!
//! ```text
//!  JSON-RPC (jsonrpsee) --eth_sendRawTransaction--> EvmTx::decode, funds check
//!        |                                              |
//!        | reads: ledger (blocks, receipts, logs)        v
//!        |        latest state (ReadView)         BankingStage (pool, scheduler, workers)
//!        |                                              | sealed block
//!        |                                              v
//!        |                            Ledger::append (fsync)  -> Chain::commit (accounts_db)
//!        |                                              | produced block
//!        +------------ follower thread: Ledger::publish, stats, newHeads/logs <--+
//! ```
//!
//! Data folder: `genesis.json` (the chain it was made from), `ledger/blocks.log`,
//! `chain/` (head file and accounts database). On start the node checks the
//! genesis, rebuilds the ledger's indexes, replays a block the ledger holds
//! but the state missed (a crash between the two writes), and goes on.

pub mod cluster;
pub mod convert;
pub mod error;
pub mod filters;
pub mod genesis;
pub mod ledger;
mod permits;
pub mod rpc;

use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy_primitives::B256;
use alloy_signer_local::PrivateKeySigner;
use hyper::http::{HeaderValue, Method};
use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{BatchRequestConfig, Server, ServerConfig, ServerHandle};
use lanes_accounts_db::{AccountsDb, AccountsDbConfig, OpenError};
use lanes_banking_stage::{BankingStage, BankingStageConfig, BlockStats, Mining, StageError};
use lanes_evm_adapter::{
    AdmissionLimits, CallLimits, EvmAdmission, EvmConfig, EvmExecutor, EvmTx, TxRules,
};
use lanes_runtime::{Admission, BankConfig, Chain, ChainError, DeclaredAccess};
use tokio::sync::broadcast;
use tower_http::cors::{self, AllowOrigin, CorsLayer};

use crate::node::genesis::{ChainSpec, GenesisError};
use crate::node::ledger::{Ledger, LedgerBlock, LedgerError, LedgerSink};

/// The priority fee the node suggests (`eth_maxPriorityFeePerGas`): 1 gwei.
pub const SUGGESTED_TIP: u128 = 1_000_000_000;

/// Limits of the RPC server.
#[derive(Clone, Debug)]
pub struct RpcLimits {
    /// Largest request body, in bytes.
    pub max_request_bytes: u32,
    /// Largest response body, in bytes.
    pub max_response_bytes: u32,
    /// Most calls in one batch request.
    pub max_batch: u32,
    /// Most open connections.
    pub max_connections: u32,
    /// Most blocks one `eth_getLogs` may span.
    pub max_log_blocks: u64,
    /// Most logs one `eth_getLogs` may return.
    pub max_logs: usize,
    /// Origins a browser may call from (CORS): `*` for any; empty for none
    /// (no CORS headers, so browsers on other origins are refused).
    pub cors_origins: Vec<String>,
    /// A filter not polled for this long is removed.
    pub filter_timeout: Duration,
    /// Most expensive calls (`eth_call`, `eth_estimateGas`,
    /// `eth_createAccessList`, `eth_getLogs`, filter polls, traces) running
    /// at once; default half the cores, at least one.
    pub max_heavy_calls: usize,
    /// How long such a call waits for a slot before it is refused (-32005).
    pub heavy_wait: Duration,
    /// Most subscriptions one WebSocket connection holds.
    pub max_subscriptions_per_connection: u32,
    /// Most gas an `eth_call`, `eth_estimateGas`, `eth_createAccessList` or
    /// `debug_traceCall` runs with (also at most the block gas limit).
    pub call_gas_cap: u64,
    /// Longest an `eth_call` runs, and `eth_estimateGas` or
    /// `eth_createAccessList` with all their runs; past it the call answers
    /// -32000 `execution aborted (timeout = …)`. Traces have their own
    /// budget (`timeout` in the request: default 5 s, at most 60 s).
    pub call_timeout: Duration,
    /// Longest a client may take to send a request: its headers (counted
    /// from the connection or, kept alive, from the last answer), then its
    /// body. A slower connection is closed, so slow or idle clients cannot
    /// hold connections.
    pub request_timeout: Duration,
}

impl Default for RpcLimits {
    fn default() -> Self {
        Self {
            max_request_bytes: 10 * 1024 * 1024,
            max_response_bytes: 100 * 1024 * 1024,
            max_batch: 1000,
            max_connections: 1000,
            max_log_blocks: 100_000,
            max_logs: 20_000,
            cors_origins: Vec::new(),
            filter_timeout: filters::DEFAULT_FILTER_TIMEOUT,
            max_heavy_calls: std::thread::available_parallelism().map_or(1, |n| n.get() / 2).max(1),
            heavy_wait: Duration::from_secs(2),
            max_subscriptions_per_connection: 1024,
            call_gas_cap: lanes_evm_adapter::DEFAULT_CALL_GAS_CAP,
            call_timeout: lanes_evm_adapter::DEFAULT_CALL_TIMEOUT,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Which chain to run.
#[derive(Clone, Debug)]
pub enum ChainChoice {
    /// `--dev`: [`ChainSpec::dev`], with its accounts unlocked.
    Dev,
    /// `--genesis FILE`.
    Genesis(PathBuf),
    /// Whatever the data folder holds.
    Existing,
}

/// How to run a node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The data folder.
    pub data_dir: PathBuf,
    /// The chain.
    pub chain: ChainChoice,
    /// Where JSON-RPC listens (HTTP and WebSocket).
    pub rpc_addr: SocketAddr,
    /// Slot length: a block is sealed at every boundary.
    pub block_time: Duration,
    /// When blocks are sealed: on demand (automine), every `block_time`, or
    /// only when asked (`evm_mine`).
    pub mining: Mining,
    /// Worker threads of the banking stage.
    pub workers: usize,
    /// Pin the banking stage's workers and scheduler to a core each
    /// ([`BankingStageConfig::pin_threads`]).
    pub pin_threads: bool,
    /// Whether each block is synced to disk before its receipts are served
    /// (off: written to the operating system, so it survives the process
    /// being killed but not a power loss).
    pub fsync: bool,
    /// Blocks behind the head whose state stays readable (`eth_getBalance`,
    /// `eth_call`, ... at a block); `None` keeps every block.
    pub history_blocks: Option<u64>,
    /// Accept legacy transactions signed without a chain id (pre-EIP-155).
    pub allow_unprotected: bool,
    /// Most transactions the pool queues for one sender.
    pub max_per_sender: usize,
    /// Most transactions in the pool.
    pub max_pool: usize,
    /// Predict the sets of transactions that declare none
    /// ([`EvmAdmission`]); without it they run in the exclusive lane.
    pub predict: bool,
    /// RPC limits.
    pub limits: RpcLimits,
    /// What `web3_clientVersion` answers ([`client_version`] by default).
    pub client_version: String,
    /// Hold each built block until a consensus engine decides it
    /// ([`cluster::join`]); nothing is committed before.
    pub hold_blocks: bool,
    /// Sign with the dev accounts' keys (`eth_accounts`,
    /// `eth_sendTransaction`) on a chain other than `--dev`'s (a testnet
    /// from the dev genesis); `--dev` always does.
    pub unlock_dev_accounts: bool,
}

/// `web3_clientVersion` by default: with `--dev`, a string that starts with
/// "anvil" and names lanes, so tools that only drive anvil-compatible dev
/// nodes (hardhat-network-helpers checks the prefix) drive lanes; otherwise
/// lanes' own.
pub fn client_version(dev: bool) -> String {
    let version = env!("CARGO_PKG_VERSION");
    if dev { format!("anvil/lanes-v{version}") } else { format!("lanes/v{version}") }
}

/// The node failed to start or stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The genesis could not be used.
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// The ledger could not be opened or read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The chain state could not be opened, created or replayed.
    #[error("chain state: {0}")]
    Chain(#[from] ChainError),
    /// The banking stage failed.
    #[error(transparent)]
    Stage(#[from] StageError),
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The data folder belongs to another chain, or is unusable.
    #[error("{0}")]
    DataDir(String),
    /// A setting cannot work.
    #[error("{0}")]
    Config(String),
}

/// Totals over the blocks produced since start.
#[derive(Clone, Debug, Default)]
struct Totals {
    blocks: u64,
    transactions: u64,
    entries: u64,
    exclusive: u64,
    declared: u64,
    known: u64,
    predicted: u64,
    mispredicted: u64,
    conflicts: u64,
    rejected: u64,
    last: Option<BlockStats>,
}

/// What the RPC methods and the follower thread share.
pub(crate) struct NodeState {
    chain_id: u64,
    rules: TxRules,
    executor: Arc<EvmExecutor>,
    stage: RwLock<Option<BankingStage<EvmExecutor>>>,
    ledger: Arc<Ledger>,
    signers: &'static [PrivateKeySigner],
    /// Whether dev-only methods (time, coinbase and state controls,
    /// impersonation) are served.
    dev: bool,
    /// Addresses `eth_sendTransaction` sends as without their key.
    impersonated: Mutex<std::collections::HashSet<alloy_primitives::Address>>,
    /// Whether it sends as any address (`anvil_autoImpersonateAccount`).
    auto_impersonate: std::sync::atomic::AtomicBool,
    client_version: String,
    /// New blocks and reverts, in order, for subscriptions.
    heads: broadcast::Sender<filters::ChainEvent>,
    /// Poll filters, pending transactions and reverts' dropped blocks.
    filters: filters::Filters,
    /// Permits for expensive calls.
    heavy: permits::Permits,
    totals: Mutex<Totals>,
    limits: RpcLimits,
    /// Sends waiting for their transaction's block (automine).
    waiters: Waiters,
    /// How to rebuild the state and restart production (`evm_revert`).
    rebuild: Rebuild,
    /// The thread publishing the current stage's blocks.
    follower: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Why block production stopped, once a failure (a full disk) stopped it.
    fatal: tokio::sync::watch::Sender<Option<String>>,
    /// `evm_snapshot`s, oldest first.
    snapshots: Mutex<Vec<Snapshot>>,
    /// On a multi-node chain: where sends go besides this node's pool.
    cluster: std::sync::OnceLock<cluster::Link>,
    /// The last snapshot id given out (ids are never reused).
    snapshot_ids: std::sync::atomic::AtomicU64,
}

/// Sends waiting for their transaction's block, by transaction hash.
#[derive(Default)]
pub(crate) struct Waiters(Mutex<HashMap<B256, Vec<tokio::sync::oneshot::Sender<()>>>>);

impl Waiters {
    /// Answers when `hash` is in a committed block (or dropped at execution).
    pub(crate) fn register(&self, hash: B256) -> tokio::sync::oneshot::Receiver<()> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.0.lock().entry(hash).or_default().push(done);
        wait
    }

    /// Forgets the waits for `hash` (its submission failed).
    pub(crate) fn forget(&self, hash: &B256) {
        self.0.lock().remove(hash);
    }

    /// Wakes the waits for `hashes`.
    fn settle(&self, hashes: impl Iterator<Item = B256>) {
        let mut waiting = self.0.lock();
        if waiting.is_empty() {
            return;
        }
        for hash in hashes {
            for done in waiting.remove(&hash).into_iter().flatten() {
                let _ = done.send(());
            }
        }
    }
}

/// A running node.
pub struct Node {
    state: Arc<NodeState>,
    server: ServerHandle,
    rpc_addr: SocketAddr,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("rpc_addr", &self.rpc_addr).finish_non_exhaustive()
    }
}

const GENESIS_FILE: &str = "genesis.json";

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
        let Prepared { spec, chain, ledger, executor } = prepared;
        let signers = if matches!(config.chain, ChainChoice::Dev) || config.unlock_dev_accounts {
            genesis::dev_signers()
        } else {
            &[]
        };
        let coinbase = spec.genesis.coinbase;
        let stage_config = BankingStageConfig {
            workers: config.workers.max(1),
            pin_threads: config.pin_threads,
            block_time: config.block_time,
            mining: config.mining,
            max_per_sender: config.max_per_sender,
            max_pool: config.max_pool,
            coinbase,
            ..BankingStageConfig::default()
        };
        let admission: Arc<dyn Admission<EvmTx>> = if config.predict {
            Arc::new(EvmAdmission::new(executor.clone(), AdmissionLimits::default()))
        } else {
            Arc::new(DeclaredAccess)
        };
        let parts = StageParts { config: stage_config, admission, hold: config.hold_blocks };
        let stage = start_stage(&parts, executor.clone(), chain, &ledger);
        let (blocks, failure) = (stage.blocks().clone(), stage.failure());
        let (heads, _) = broadcast::channel(256);
        let state = Arc::new(NodeState {
            chain_id: spec.chain_id,
            rules: executor.config().tx_rules(),
            executor,
            stage: RwLock::new(Some(stage)),
            ledger,
            signers,
            dev: matches!(config.chain, ChainChoice::Dev),
            impersonated: Mutex::default(),
            auto_impersonate: Default::default(),
            client_version: config.client_version.clone(),
            heads,
            filters: filters::Filters::new(config.limits.filter_timeout),
            heavy: permits::Permits::new(config.limits.max_heavy_calls, config.limits.heavy_wait),
            totals: Mutex::default(),
            limits: config.limits.clone(),
            waiters: Waiters::default(),
            rebuild: Rebuild {
                dir: config.data_dir.clone(),
                spec,
                store: store_config(&config),
                workers: config.workers,
                stage: parts,
            },
            follower: Mutex::new(None),
            fatal: tokio::sync::watch::Sender::new(None),
            snapshots: Mutex::default(),
            snapshot_ids: Default::default(),
            cluster: std::sync::OnceLock::new(),
        });
        spawn_follower(&state, blocks, failure)?;
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
        let middleware = RpcServiceBuilder::new()
            .layer_fn(move |service| rpc::ParamsErrors::new(service, max_response_bytes));
        let http = tower::ServiceBuilder::new()
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
        tracing::info!(target: "lanes::node", %rpc_addr, chain_id = state.chain_id, head = state.head(), "JSON-RPC listening");
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

/// What `evm_snapshot` records, for `evm_revert`.
pub(crate) struct Snapshot {
    pub(crate) id: u64,
    /// The head block then, and its hash (a revert to a block that is no
    /// longer the ledger's is refused).
    pub(crate) block: u64,
    pub(crate) hash: alloy_primitives::B256,
    /// The block clock's offset then.
    pub(crate) offset: i64,
    /// The pool's transactions then, each sender's in nonce order.
    pub(crate) pool: Vec<alloy_primitives::Bytes>,
}

/// What the node needs to start a banking stage again (after
/// `evm_revert`).
pub(crate) struct StageParts {
    config: BankingStageConfig,
    admission: Arc<dyn Admission<EvmTx>>,
    /// Held blocks, for a consensus engine.
    hold: bool,
}

/// What the node needs to rebuild its state from the ledger.
pub(crate) struct Rebuild {
    dir: PathBuf,
    spec: ChainSpec,
    store: AccountsDbConfig,
    workers: usize,
    stage: StageParts,
}

/// A banking stage on `chain`, writing to `ledger`.
fn start_stage(
    parts: &StageParts,
    executor: Arc<EvmExecutor>,
    chain: Chain,
    ledger: &Arc<Ledger>,
) -> BankingStage<EvmExecutor> {
    let builder = BankingStage::builder(executor, chain)
        .config(parts.config.clone())
        .sink(Box::new(LedgerSink(ledger.clone())))
        .admission(parts.admission.clone());
    if parts.hold { builder.hold_blocks().start() } else { builder.start() }
}

/// Starts the thread that publishes a stage's `blocks`.
fn spawn_follower(
    state: &Arc<NodeState>,
    blocks: crossbeam_channel::Receiver<lanes_banking_stage::ProducedBlock>,
    failure: lanes_banking_stage::Failure,
) -> Result<(), NodeError> {
    let handle = {
        let state = state.clone();
        std::thread::Builder::new()
            .name("lanes-follower".into())
            .spawn(move || {
                follow(&state, &blocks);
                // The stage's blocks end when it stops: on a shutdown, or on
                // a failure that [`Node::failed`] reports.
                if let Some(reason) = failure.get() {
                    state.fatal.send_replace(Some(reason.to_owned()));
                }
            })
            .map_err(|source| NodeError::Io { what: "spawning a thread".into(), source })?
    };
    *state.follower.lock() = Some(handle);
    Ok(())
}

impl NodeState {
    /// Puts the chain back to block `number` (a dev node's `evm_revert`):
    /// stops block production, cuts the ledger after `number` (the
    /// write-ahead log records the revert before state moves), rebuilds the
    /// state from the genesis through the ledger, and starts production
    /// again with the block clock at `offset` and `pool` submitted again.
    pub(crate) fn revert_to(
        self: &Arc<Self>,
        number: u64,
        offset: i64,
        pool: Vec<alloy_primitives::Bytes>,
    ) -> Result<(), NodeError> {
        let mut slot = self.stage.write();
        let mut stage =
            slot.take().ok_or_else(|| NodeError::DataDir("node is shutting down".into()))?;
        let (mining, coinbase) = (stage.mining(), stage.coinbase());
        drop(stage.shutdown()?);
        drop(stage);
        // Nothing publishes a block of the old chain after this.
        if let Some(old) = self.follower.lock().take() {
            let _ = old.join();
        }
        // Log filters and subscriptions report the dropped blocks' logs as
        // removed, as on a reorg.
        let subscribed = self.heads.receiver_count() > 0;
        let dropped: Vec<LedgerBlock> = if subscribed || self.filters.has_log_filters() {
            // Best effort: a block that does not read is left out of the
            // removed logs rather than failing the revert with no stage.
            let last = self.ledger.last_appended().unwrap_or(number);
            (number + 1..=last).filter_map(|n| self.ledger.read(n).ok()).collect()
        } else {
            Vec::new()
        };
        self.ledger.truncate(number)?;
        self.filters.on_revert(number, &dropped);
        if subscribed {
            let _ = self.heads.send(filters::ChainEvent::Reverted(Arc::new(dropped)));
        }
        let r = &self.rebuild;
        let dev = true;
        let chain =
            load_chain(&r.dir, &self.ledger, &r.spec, &r.store, dev, &self.executor, r.workers)?;
        let config = BankingStageConfig { mining, coinbase, ..r.stage.config.clone() };
        let parts = StageParts { config, admission: r.stage.admission.clone(), hold: r.stage.hold };
        // Served before production starts, so its first block moves it on.
        self.ledger.publish(number);
        let stage = start_stage(&parts, self.executor.clone(), chain, &self.ledger);
        stage.set_time_offset(offset);
        spawn_follower(self, stage.blocks().clone(), stage.failure())?;
        // What was pooled at the snapshot waits again; one no longer valid
        // is refused here, as at any submission.
        for result in stage.submit_many(pool) {
            match result {
                Ok(hash) => self.filters.on_pending(hash),
                Err(refused) => {
                    tracing::info!(target: "lanes::node", %refused, "a snapshot's pooled transaction not taken back")
                }
            }
        }
        *slot = Some(stage);
        tracing::info!(target: "lanes::node", number, "reverted");
        Ok(())
    }
}

/// Publishes each produced block (its state is already committed): moves the
/// served head, counts, and notifies subscribers.
fn follow(
    state: &NodeState,
    blocks: &crossbeam_channel::Receiver<lanes_banking_stage::ProducedBlock>,
) {
    for produced in blocks.iter() {
        let number = produced.block.header.number;
        state.ledger.publish(number);
        for (hash, error) in &produced.rejected {
            tracing::warn!(target: "lanes::node", %hash, %error, "transaction dropped at execution");
        }
        // Sends waiting for their block (automine) answer now: the block is
        // committed and served.
        let done = produced.receipts.iter().map(|r| r.tx_hash);
        state.waiters.settle(done.chain(produced.rejected.iter().map(|(h, _)| *h)));
        {
            let mut t = state.totals.lock();
            let s = &produced.stats;
            t.blocks += 1;
            t.transactions += s.transactions as u64;
            t.entries += s.entries as u64;
            t.exclusive += s.exclusive as u64;
            t.declared += s.declared as u64;
            t.known += s.known as u64;
            t.predicted += s.predicted as u64;
            t.mispredicted += s.mispredicted;
            t.conflicts += s.conflicts;
            t.rejected += s.rejected as u64;
            t.last = Some(s.clone());
        }
        let block = LedgerBlock { block: produced.block, receipts: produced.receipts };
        let _ = state.heads.send(filters::ChainEvent::Head(Arc::new(block)));
    }
}

struct Prepared {
    spec: ChainSpec,
    chain: Chain,
    ledger: Arc<Ledger>,
    executor: Arc<EvmExecutor>,
}

/// Checks the genesis against the data folder, opens the ledger and the
/// state, and replays what the state missed.
fn prepare(config: &NodeConfig) -> Result<Prepared, NodeError> {
    let dir = &config.data_dir;
    let io = |what: String| move |source| NodeError::Io { what, source };
    std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    // First, so a folder of another format version is named as such, not
    // as another genesis (block 0's hash depends on the format).
    let ledger = Arc::new(Ledger::open_with(&dir.join("ledger"), config.fsync)?);
    let stored_path = dir.join(GENESIS_FILE);
    let stored = stored_path.exists().then(|| ChainSpec::from_file(&stored_path)).transpose()?;
    let given = match &config.chain {
        // Block 0 of a new dev chain is stamped now; an existing one keeps its own.
        ChainChoice::Dev => Some(ChainSpec::dev_at(stored.as_ref().map_or_else(
            || SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            |s| s.genesis.timestamp,
        ))),
        ChainChoice::Genesis(path) => Some(ChainSpec::from_file(path)?),
        ChainChoice::Existing => None,
    };
    let spec = match (stored, given) {
        (Some(stored), Some(given)) if stored.id() != given.id() => {
            return Err(NodeError::DataDir(format!(
                "data folder {} was made from another genesis (chain id {}, genesis {}) than the one given (chain id {}, genesis {}); use another --data-dir, or --reset to wipe it",
                dir.display(),
                stored.chain_id,
                stored.genesis_block().hash,
                given.chain_id,
                given.genesis_block().hash,
            )));
        }
        (Some(stored), _) => stored,
        (None, Some(given)) => {
            let json = serde_json::to_vec_pretty(&given.source).expect("a genesis serialises");
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
    // A dev node sends as any address (anvil_impersonateAccount) and replays
    // such transactions; any other refuses them.
    let dev = matches!(config.chain, ChainChoice::Dev);
    let executor = Arc::new(EvmExecutor::new(EvmConfig {
        spec: spec.spec,
        allow_unprotected: config.allow_unprotected,
        allow_impersonated: dev,
        call_limits: CallLimits {
            gas_cap: config.limits.call_gas_cap,
            timeout: config.limits.call_timeout,
        },
        ..EvmConfig::new(spec.chain_id)
    }));

    let genesis = spec.genesis_block();
    match ledger.last_appended() {
        None => {
            ledger.append(&genesis, &[])?;
            ledger.publish(0);
        }
        Some(_) => {
            let first = ledger.read(0)?.block;
            if first.hash != genesis.hash {
                return Err(NodeError::DataDir(format!(
                    "the ledger in {} starts from genesis {}, not {} (from {})",
                    dir.display(),
                    first.hash,
                    genesis.hash,
                    stored_path.display()
                )));
            }
        }
    }
    let chain =
        load_chain(dir, &ledger, &spec, &store_config(config), dev, &executor, config.workers)?;
    ledger.publish(chain.head().number);
    Ok(Prepared { spec, chain, ledger, executor })
}

/// The CORS layer for `origins` (`None` when empty): preflights answered,
/// the allowed origin echoed (or `*`), JSON-RPC's POST and GET allowed with
/// any request header.
fn cors_layer(origins: &[String]) -> Result<Option<CorsLayer>, NodeError> {
    if origins.is_empty() {
        return Ok(None);
    }
    let layer = CorsLayer::new()
        .allow_methods([Method::POST, Method::GET, Method::OPTIONS])
        .allow_headers(cors::Any)
        .max_age(Duration::from_secs(24 * 60 * 60));
    if origins.iter().any(|o| o == "*") {
        return Ok(Some(layer.allow_origin(cors::Any)));
    }
    let list = origins
        .iter()
        .map(|o| {
            HeaderValue::from_str(o)
                .map_err(|_| NodeError::Config(format!("`{o}` is not a valid CORS origin")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(layer.allow_origin(AllowOrigin::list(list))))
}

/// The accounts database settings a node's config asks for.
fn store_config(config: &NodeConfig) -> AccountsDbConfig {
    AccountsDbConfig::default().with_sync(config.fsync).with_history_blocks(config.history_blocks)
}

/// Opens the state in `dir/chain` (creating it from the genesis when it is
/// not there), checks it against the ledger and replays the ledger's blocks
/// it missed. A dev node whose state is ahead of its ledger (`evm_revert`,
/// which cuts the ledger first, or a crash during one) first goes back to
/// the ledger's last block ([`cut_back`]); any other node refuses.
fn load_chain(
    dir: &Path,
    ledger: &Ledger,
    spec: &ChainSpec,
    store: &AccountsDbConfig,
    dev: bool,
    executor: &EvmExecutor,
    workers: usize,
) -> Result<Chain, NodeError> {
    let last = ledger.last_appended().expect("block 0 is in the ledger");
    let chain_dir = dir.join("chain");
    if dev {
        cut_back(&chain_dir, store, last)?;
    }
    let mut chain = open_chain(&chain_dir, ledger, spec, store, dev)?;
    let head = chain.head().number;
    if head > last {
        return Err(NodeError::DataDir(format!(
            "the state in {} is at block {head}, ahead of the ledger (block {last}); the ledger was damaged or replaced",
            chain_dir.display()
        )));
    }
    let recorded = ledger.read(head)?.block;
    if recorded.hash != chain.head_hash() {
        return Err(NodeError::DataDir(format!(
            "the state in {} is at a block {head} that is not the ledger's",
            chain_dir.display()
        )));
    }
    // BLOCKHASH sees the same 256 hashes after a restart or a revert as
    // before it.
    chain.set_older_hashes((0..head).rev().map_while(|n| ledger.appended_hash(n)));
    for number in head + 1..=last {
        let block = ledger.read(number)?.block;
        tracing::info!(target: "lanes::node", number, "replaying a block the state missed");
        chain.replay_block(executor, &block, workers.max(1))?;
    }
    Ok(chain)
}

/// How long a revert waits for the calls still reading the old state (an
/// `eth_call`, a trace) to let go of it before rebuilding instead.
const CUT_BACK_WAIT: Duration = Duration::from_secs(2);

/// A dev node's state ahead of its ledger (`evm_revert` cuts the ledger
/// first; a crash can stop it at any point after) goes back to the ledger's
/// last block: cut back through its own history when it keeps that block,
/// else removed, to be rebuilt from the genesis by replaying the ledger.
fn cut_back(chain_dir: &Path, store: &AccountsDbConfig, last: u64) -> Result<(), NodeError> {
    let accounts = chain_dir.join("accounts");
    // Only a revert puts the state ahead of the ledger (which is written
    // first), and it leaves the head file at the old head, past the ledger's
    // last block; a head file at or below it spares opening the state twice.
    let saved = Chain::saved_head(chain_dir).ok().flatten().map(|h| h.number);
    if !accounts.exists() || saved.is_some_and(|n| n <= last) {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let result = loop {
        let ahead = AccountsDb::open(&accounts, store.clone())
            .map(|db| db.last_commit().is_some_and(|c| c.block_number > last));
        let result = match ahead {
            Ok(false) => return Ok(()),
            Ok(true) => Chain::truncate_after(chain_dir, store.clone(), last).map(drop),
            Err(e) => Err(e.into()),
        };
        match result {
            // Calls still reading the old state hold it open; they end soon.
            Err(ChainError::Open(OpenError::Locked { .. }))
                if started.elapsed() < CUT_BACK_WAIT =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            result => break result,
        }
    };
    match result {
        Ok(()) => {
            tracing::info!(target: "lanes::node", last, "state cut back to the ledger's last block");
        }
        Err(e) => {
            tracing::warn!(target: "lanes::node", last, %e, "state ahead of the ledger and not cut back: rebuilding it from the genesis");
            std::fs::remove_dir_all(chain_dir).map_err(|source| NodeError::Io {
                what: format!("removing {}", chain_dir.display()),
                source,
            })?;
        }
    }
    Ok(())
}

/// Opens the state, or creates it from the genesis. The head file names the
/// head; if a crash left it stale, the ledger's last two blocks are the only
/// candidates (the state is never more than one block behind the ledger).
fn open_chain(
    dir: &Path,
    ledger: &Ledger,
    spec: &ChainSpec,
    config: &AccountsDbConfig,
    dev: bool,
) -> Result<Chain, NodeError> {
    // A dev node writes and replays dev state controls; any other refuses them.
    let bank = BankConfig { allow_system: dev, ..spec.bank_config() };
    let last = ledger.last_appended().unwrap_or(0);
    let mut candidates = vec![None];
    for n in [Some(last), last.checked_sub(1)].into_iter().flatten() {
        candidates.push(Some(ledger.read(n)?.block.header));
    }
    let mut unknown = true;
    for head in candidates {
        match Chain::open_with(dir, config.clone(), head, bank.clone()) {
            Ok(chain) => return Ok(chain),
            Err(ChainError::HeadUnknown(_)) => {}
            Err(ChainError::HeadMismatch { .. }) => unknown = false,
            Err(e) => return Err(e.into()),
        }
    }
    if !unknown {
        return Err(NodeError::DataDir(format!(
            "the state in {} matches neither of the ledger's last two blocks",
            dir.display()
        )));
    }
    Ok(Chain::create_with(dir, config.clone(), &spec.genesis, bank)?)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent() {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// Removes what a node keeps in `dir` (for `--reset`); other files stay.
pub fn reset_data_dir(dir: &Path) -> std::io::Result<()> {
    for name in ["ledger", "chain"] {
        let path = dir.join(name);
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
    }
    let genesis = dir.join(GENESIS_FILE);
    if genesis.exists() {
        std::fs::remove_file(genesis)?;
    }
    Ok(())
}
