//! How to run a node: [`NodeConfig`] (the data folder, the chain, block
//! production) and its [`RpcLimits`], and the settings derived from them
//! (the accounts database's, the CORS layer).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use hyper::http::{HeaderValue, Method};
use lanes_accounts_db::AccountsDbConfig;
use lanes_banking_stage::Mining;
use tower_http::cors::{self, AllowOrigin, CorsLayer};

use crate::error::NodeError;
use crate::filters;

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
    /// `--dev`: [`ChainSpec::dev`](lanes_eth::genesis::ChainSpec::dev) running
    /// this fork (`--hardfork`), with its accounts unlocked.
    Dev(lanes_eth::genesis::DevFork),
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
    /// A state file (anvil's format) loaded over the state, in a block of
    /// its own, before JSON-RPC answers (`--load-state`): the first answer
    /// already sees it, as anvil's does.
    pub load_state: Option<PathBuf>,
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
    /// ([`BankingStageConfig::pin_threads`](lanes_banking_stage::BankingStageConfig::pin_threads)).
    pub pin_threads: bool,
    /// Whether each block is synced to disk before its receipts are served
    /// (off: written to the operating system, so it survives the process
    /// being killed but not a power loss).
    pub fsync: bool,
    /// Blocks behind the head whose state stays readable (`eth_getBalance`,
    /// `eth_call`, ... at a block); `None` keeps every block.
    pub history_blocks: Option<u64>,
    /// How long a blob sidecar is kept after the block that included it, in
    /// chain time ([`crate::blobs::BLOB_RETENTION`] by default).
    pub blob_retention: std::time::Duration,
    /// Memory the accounts index keeps for recent changes
    /// ([`AccountsDbConfig::index_memory_bytes`]); `None`: all of it.
    pub index_memory_bytes: Option<u64>,
    /// Accept legacy transactions signed without a chain id (pre-EIP-155).
    pub allow_unprotected: bool,
    /// Most transactions the pool queues for one sender.
    pub max_per_sender: usize,
    /// Most transactions in the pool.
    pub max_pool: usize,
    /// Predict the sets of transactions that declare none
    /// ([`EvmAdmission`](lanes_evm_adapter::EvmAdmission)); without it they run in the exclusive lane.
    pub predict: bool,
    /// RPC limits.
    pub limits: RpcLimits,
    /// What `web3_clientVersion` answers ([`client_version`] by default).
    pub client_version: String,
    /// Hold each built block until a consensus engine decides it
    /// ([`crate::cluster::join`]); nothing is committed before.
    pub hold_blocks: bool,
    /// With `--dev`: fork a live chain (`--fork-url`); the chain then lives
    /// in a folder of its own under `data_dir` ([`crate::fork`]).
    pub fork: Option<crate::fork::ForkConfig>,
    /// Sign with the dev accounts' keys (`eth_accounts`,
    /// `eth_sendTransaction`) on a chain other than `--dev`'s (a testnet
    /// from the dev genesis); `--dev` always does.
    pub unlock_dev_accounts: bool,
    /// `--state-root mpt`: a new chain's headers carry Ethereum's
    /// Merkle-Patricia state root instead of lanes' lattice hash (recorded
    /// in its genesis, `config.lanesStateRoot`).
    pub mpt_state_root: bool,
    /// `--state-root lattice`: a new `--dev` chain's headers carry lanes'
    /// lattice hash (without either flag a new `--dev` chain's carry the
    /// Merkle-Patricia root, a new `--genesis` chain's the lattice hash).
    pub lattice_state_root: bool,
    /// `--block-base-fee-per-gas`: a new `--dev` chain's genesis base fee,
    /// which its first block charges too (later blocks follow EIP-1559);
    /// without it a dev chain keeps the one it was made with (1 gwei).
    pub block_base_fee: Option<u64>,
    /// Serve the explorer page under `/explorer` on the RPC port
    /// (`--explorer`; on by default with `--dev`); `None` serves none.
    pub explorer: Option<ExplorerConfig>,
}

/// The explorer page's settings ([`NodeConfig::explorer`]).
#[derive(Clone, Debug, Default)]
pub struct ExplorerConfig {
    /// Verified-source folders (`--explorer-abis`): compiled contracts whose
    /// ABIs decode calls and logs, matched to addresses by their code.
    pub abi_dirs: Vec<PathBuf>,
}

/// `web3_clientVersion` by default: with `--dev`, a string that starts with
/// "anvil" and names lanes, so tools that only drive anvil-compatible dev
/// nodes (hardhat-network-helpers checks the prefix) drive lanes; otherwise
/// lanes' own.
pub fn client_version(dev: bool) -> String {
    let version = env!("CARGO_PKG_VERSION");
    if dev { format!("anvil/lanes-v{version}") } else { format!("lanes/v{version}") }
}

/// The CORS layer for `origins` (`None` when empty): preflights answered,
/// the allowed origin echoed (or `*`), JSON-RPC's POST and GET allowed with
/// any request header.
pub(crate) fn cors_layer(origins: &[String]) -> Result<Option<CorsLayer>, NodeError> {
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

/// The accounts database settings a node's config asks for. A dev node's
/// keeps each address's slots ([`AccountsDbConfig::slot_index`]), so its
/// EVM takes EIP-7610's collisions and a destroyed contract's whole storage
/// as Ethereum does.
pub(crate) fn store_config(config: &NodeConfig) -> AccountsDbConfig {
    AccountsDbConfig::default()
        .with_sync(config.fsync)
        .with_history_blocks(config.history_blocks)
        .with_index_memory_bytes(config.index_memory_bytes)
        .with_slot_index(matches!(config.chain, ChainChoice::Dev(_)))
}
