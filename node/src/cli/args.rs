//! `lanes-validator`'s arguments: the flags of a node (`--dev`, `--genesis`,
//! `--config`, ...) and its subcommands (`import`, `execute-block`, `init`,
//! `testnet`).
// The fields' doc comments are the command's --help, written for a terminal
// (`<chain id>` is a placeholder there, not HTML).
#![allow(rustdoc::invalid_html_tags, rustdoc::broken_intra_doc_links)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use lanes_banking_stage::{DEFAULT_MAX_POOL, MAX_WORKERS};

use crate::RpcLimits;

/// The pool's per-sender limit on a dev node: deploy and airdrop scripts
/// send thousands from one key.
pub const DEV_MAX_PER_SENDER: usize = 10_000;

/// `lanes-validator`'s command line (`long_about = None`: this comment is
/// not its help).
#[derive(Parser, Debug)]
#[command(
    name = "lanes-validator",
    version,
    about = "The lanes node: declared-access parallel EVM execution behind Ethereum JSON-RPC",
    long_about = None
)]
pub struct Cli {
    // A subcommand instead of a node (no doc comment: clap would show it).
    #[allow(missing_docs)]
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Run a ready dev chain: chain id 31337, the ten accounts of the test
    /// mnemonic funded with 10000 ETH each and unlocked for eth_sendTransaction.
    #[arg(long, conflicts_with = "genesis")]
    pub dev: bool,
    /// The fork a new --dev chain runs from block 0 (anvil's flag): shanghai,
    /// cancun, prague (the default), osaka or amsterdam (every header then
    /// commits to its block's access list, EIP-7928).
    #[arg(long, value_name = "NAME", requires = "dev", default_value = "prague")]
    pub hardfork: lanes_eth::genesis::DevFork,
    /// What a new chain's headers commit its state to: mpt (Ethereum's
    /// Merkle-Patricia state root, kept as a trie: eth_getProof answers
    /// against it; the default of a new --dev chain) or lattice (lanes'
    /// lattice hash; the default of a new --genesis chain). Recorded in the
    /// chain's genesis (config.lanesStateRoot); an existing chain keeps its
    /// own
    #[arg(long, value_name = "KIND")]
    pub state_root: Option<StateRoot>,
    /// A new --dev chain's base fee per gas at genesis, which its first
    /// block charges too; later blocks move it by EIP-1559 (anvil's flag).
    /// Without it a dev chain starts at 1 gwei, or keeps what it was made
    /// with.
    #[arg(long, value_name = "WEI", requires = "dev")]
    pub block_base_fee_per_gas: Option<u64>,
    /// Serve the explorer page under /explorer on the RPC port (on by
    /// default with --dev).
    #[arg(long, conflicts_with = "no_explorer")]
    pub explorer: bool,
    /// Do not serve the explorer page.
    #[arg(long)]
    pub no_explorer: bool,
    /// A verified-source folder for the explorer (foundry's out/, hardhat's
    /// artifacts/, or JSON files with an `abi`): contracts are matched to
    /// addresses by their code and their calls and logs decoded. Repeatable.
    #[arg(long, value_name = "DIR")]
    pub explorer_abis: Vec<PathBuf>,
    /// Fork a live chain (anvil's flag; implies --dev): the state at the
    /// fork block is read from this JSON-RPC node as it is needed and kept in
    /// the data folder (DATA_DIR/fork-<chain id>-<block>/), blocks up to it
    /// are the upstream's, and the node's own blocks follow.
    #[arg(long, short = 'f', value_name = "URL", alias = "rpc-url", conflicts_with = "genesis")]
    pub fork_url: Option<String>,
    /// The block to fork at (default: the upstream's latest; a negative
    /// number counts back from it).
    #[arg(long, value_name = "N", requires = "fork_url", allow_hyphen_values = true)]
    pub fork_block_number: Option<i64>,
    /// The forked chain's id, saving the upstream an eth_chainId (default:
    /// the upstream's).
    #[arg(long, value_name = "ID", requires = "fork_url")]
    pub fork_chain_id: Option<u64>,
    /// Tries after a failed request to the fork's upstream.
    #[arg(long, value_name = "N", default_value_t = crate::fork::DEFAULT_FORK_RETRIES)]
    pub retries: u32,
    /// Longest one request to the fork's upstream may take, in milliseconds
    /// (or with a unit: 10s).
    #[arg(long, value_name = "MS", value_parser = parse_millis, default_value = "45000")]
    pub timeout: Duration,
    /// Wait before the first retry of a failed upstream request, doubled at
    /// each, in milliseconds (or with a unit).
    #[arg(long, value_name = "MS", value_parser = parse_millis, default_value = "100")]
    pub fork_retry_backoff: Duration,
    /// Requests in flight to the fork's upstream at once.
    #[arg(long, value_name = "N", default_value_t = crate::fork::DEFAULT_FORK_CONCURRENCY)]
    pub fork_concurrency: usize,
    /// Most requests the fork may send its upstream in all; past it a fetch
    /// fails naming this flag (default: no limit).
    #[arg(long, value_name = "N")]
    pub fork_request_budget: Option<u64>,
    /// A geth-format genesis.json (as anvil --init reads it).
    #[arg(long, value_name = "FILE")]
    pub genesis: Option<PathBuf>,
    /// Where the ledger and the state live.
    #[arg(long, value_name = "DIR", default_value = "lanes-data")]
    pub data_dir: PathBuf,
    /// Wipe the data folder's chain before starting.
    #[arg(long)]
    pub reset: bool,
    /// JSON-RPC address (HTTP and WebSocket).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8545")]
    pub rpc_addr: SocketAddr,
    /// Interval mining: a block is sealed at every boundary, empty or not
    /// (e.g. 400ms, 1s). Default: with --dev, on demand (automine: a block as
    /// soon as the transactions that are ready have run); otherwise 400ms.
    #[arg(long, value_name = "DURATION", value_parser = lanes_rpc::parse_duration)]
    pub block_time: Option<Duration>,
    /// Seal blocks only when asked (evm_mine, anvil_mine, hardhat_mine), as
    /// anvil --no-mining.
    #[arg(long, conflicts_with = "block_time")]
    pub no_mining: bool,
    /// Worker threads executing transactions (default: available cores, at
    /// most 63).
    #[arg(long, value_name = "N", value_parser = parse_workers)]
    pub workers: Option<usize>,
    /// Pin each worker and the block producer's scheduler thread to a core
    /// of its own (when there are more cores than workers).
    #[arg(long)]
    pub pin_threads: bool,
    /// Most transactions queued for one sender (default: 10000 with --dev,
    /// else 64).
    #[arg(long, value_name = "N")]
    pub txpool_max_per_sender: Option<usize>,
    /// Most transactions in the pool.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_POOL)]
    pub txpool_max: usize,
    /// What web3_clientVersion answers. Default with --dev: "anvil/lanes-v…"
    /// (tools such as hardhat-network-helpers drive only nodes whose version
    /// starts with hardhat, anvil or zksync); otherwise "lanes/v…".
    #[arg(long, value_name = "STRING")]
    pub client_version: Option<String>,
    /// Accept legacy transactions signed without a chain id (pre-EIP-155),
    /// such as the CREATE2 deployer's "Nick's method" deployment. On with --dev.
    #[arg(long)]
    pub allow_unprotected_txs: bool,
    /// Sync each block to disk before its receipts are served, also with
    /// --dev (which otherwise only writes it to the operating system: a dev
    /// chain survives the process being killed, not a power loss).
    #[arg(long)]
    pub fsync: bool,
    /// Blocks behind the head whose state stays readable by eth_getBalance,
    /// eth_call and the other state methods at a block number or hash, or
    /// `all`. Default: all with --dev, else 10000. An older block answers
    /// -32000 naming the oldest block kept.
    #[arg(long, value_name = "N|all", value_parser = parse_history)]
    pub history_blocks: Option<Kept>,
    /// Seconds of chain time a blob sidecar is kept after the block that
    /// included it (anvil_getBlobsByTransactionHash, the beacon API's
    /// blobs). Default: 1572864, EIP-4844's 4,096 epochs (about 18 days).
    /// A sidecar whose transaction is neither pending nor in a block goes
    /// at once.
    #[arg(long, value_name = "SECS")]
    pub blob_retention: Option<u64>,
    /// Memory the accounts index keeps for the keys changed since its last
    /// checkpoint (e.g. `512MiB`, `2GiB`), or `all` for the whole index in
    /// memory; the rest of the index is on disk, read through the page
    /// cache.
    #[arg(long, value_name = "SIZE|all", value_parser = parse_index_memory, default_value = "1GiB")]
    pub index_memory: Kept,
    /// Do not predict the access sets of transactions that declare none
    /// (wallet traffic): run them one at a time in the exclusive lane.
    #[arg(long)]
    pub no_predict: bool,
    /// Origins browsers may call JSON-RPC from (CORS), comma-separated, `*`
    /// for any or `none`. Default: `*` with --dev (as anvil), else none.
    #[arg(long, value_name = "ORIGINS", value_delimiter = ',')]
    pub cors_origins: Option<Vec<String>>,
    /// How long a filter (eth_newFilter and the like) lives without a poll.
    #[arg(long, value_name = "DURATION", value_parser = lanes_rpc::parse_duration, default_value = "5m")]
    pub filter_timeout: Duration,
    /// Most expensive calls (eth_call, eth_estimateGas, eth_createAccessList,
    /// eth_getLogs, filter polls, traces) running at once; past it a call
    /// waits up to 2 s for a slot, then answers -32005 (default: half the
    /// cores, at least 1).
    #[arg(long, value_name = "N")]
    pub max_heavy_calls: Option<usize>,
    /// Largest JSON-RPC request body, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = RpcLimits::default().max_request_bytes)]
    pub max_request_bytes: u32,
    /// Most calls in one JSON-RPC batch.
    #[arg(long, value_name = "N", default_value_t = RpcLimits::default().max_batch)]
    pub max_batch: u32,
    /// Most open JSON-RPC connections (HTTP and WebSocket); past it a new
    /// connection is refused.
    #[arg(long, value_name = "N", default_value_t = RpcLimits::default().max_connections)]
    pub max_connections: u32,
    /// Longest a client may take to send a request (headers, then body); a
    /// slower connection is closed.
    #[arg(long, value_name = "DURATION", value_parser = lanes_rpc::parse_duration, default_value = "30s")]
    pub request_timeout: Duration,
    /// Most gas eth_call, eth_estimateGas, eth_createAccessList and
    /// debug_traceCall run with (and at most the block gas limit).
    #[arg(long, value_name = "GAS", default_value_t = RpcLimits::default().call_gas_cap)]
    pub rpc_gas_cap: u64,
    /// Longest eth_call runs (eth_estimateGas and eth_createAccessList: all
    /// their runs together); past it the call answers -32000.
    #[arg(long, value_name = "DURATION", value_parser = lanes_rpc::parse_duration, default_value = "5s")]
    pub rpc_evm_timeout: Duration,
    /// Load a state file (anvil's format: every account's balance, nonce,
    /// code and storage) over the chain at start, in a block of its own.
    #[arg(long, value_name = "FILE", requires = "dev")]
    pub load_state: Option<PathBuf>,
    /// Write the state to FILE (anvil's format) when the node stops.
    #[arg(long, value_name = "FILE", requires = "dev")]
    pub dump_state: Option<PathBuf>,
    /// --load-state FILE when it exists, and --dump-state FILE.
    #[arg(long, value_name = "FILE", requires = "dev", conflicts_with_all = ["load_state", "dump_state"])]
    pub state: Option<PathBuf>,
    /// Run one node of a multi-node chain (a `config.toml` that
    /// `lanes-validator testnet` wrote): its keys, peers, RPC address, data
    /// folder and genesis come from the file.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["dev", "genesis", "data_dir", "rpc_addr", "block_time", "no_mining"])]
    pub config: Option<PathBuf>,
    /// Test only: propose blocks with a wrong state commitment, which the
    /// other validators must refuse.
    #[arg(long, hide = true, requires = "config")]
    pub test_tamper_proposals: bool,
}

// `lanes-validator`'s subcommands (no doc comment: clap would show it).
#[allow(missing_docs)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Import Ethereum blocks from RLP files (geth's `export` format, `.gz`
    /// too) into a data folder: each block checked as a full node checks it
    /// (proof-of-work seals excepted), run in lanes, and kept with its
    /// Ethereum hash. The first block refused stops the import. Afterwards
    /// `lanes-validator --data-dir DIR` serves the chain.
    Import {
        /// The geth genesis.json the blocks start from (needed when the
        /// data folder holds no chain yet).
        #[arg(long, value_name = "FILE")]
        genesis: Option<PathBuf>,
        /// The data folder.
        #[arg(long, value_name = "DIR", default_value = "lanes-data")]
        data_dir: PathBuf,
        /// Worker threads running each block's transactions (default:
        /// available cores).
        #[arg(long, value_name = "N")]
        workers: Option<usize>,
        /// Do not sync each block to disk (faster; a crash may lose the last
        /// blocks, which a new import brings back).
        #[arg(long)]
        no_fsync: bool,
        /// Blocks behind the head whose state stays readable, or `all`.
        #[arg(long, value_name = "N|all", value_parser = parse_history, default_value = "10000")]
        history_blocks: Kept,
        /// Memory for the accounts index's recent changes (as for the node).
        #[arg(long, value_name = "SIZE|all", value_parser = parse_index_memory, default_value = "1GiB")]
        index_memory: Kept,
        /// The RLP files, imported in order.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Run one recorded Ethereum block (a folder holding `block.json`,
    /// `pre_state.json` and optionally `block_hashes.json`, plain or `.gz`)
    /// on its pre-state in lanes and in plain revm, check gasUsed, logsBloom
    /// and (from Byzantium) receiptsRoot against its header, and print one
    /// line. Exits 1 on a mismatch.
    ExecuteBlock {
        /// The block's folder.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// lanes' worker threads.
        #[arg(long, value_name = "N", default_value_t = 1)]
        workers: usize,
        /// Runs of each side; the times are medians.
        #[arg(long, value_name = "N", default_value_t = 5)]
        runs: usize,
        /// Print JSON instead of a line.
        #[arg(long)]
        json: bool,
        /// Skip the run from the block's access list (only the run that
        /// finds each transaction's set, and revm's).
        #[arg(long)]
        no_access_list: bool,
    },
    /// Write a genesis.json template (the --dev chain) to edit and pass with --genesis.
    Init {
        /// The file to write.
        #[arg(long, value_name = "FILE", default_value = "genesis.json")]
        out: PathBuf,
        /// Chain id.
        #[arg(long, default_value_t = lanes_eth::genesis::DEV_CHAIN_ID)]
        chain_id: u64,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Write a multi-node chain on loopback: `OUT/<name>/config.toml` per
    /// node (fresh keys, peers, ports from the base port), `OUT/genesis.json`
    /// (the ten dev accounts funded, as --dev) and `OUT/nodes.json`. Run each
    /// node with `lanes-validator --config OUT/<name>/config.toml`.
    Testnet {
        /// Validators (they propose and vote).
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Replicas (they follow decided blocks and serve reads).
        #[arg(long, default_value_t = 0)]
        replicas: usize,
        /// The folder to write.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Node i serves JSON-RPC on PORT+2i and peer-to-peer on PORT+2i+1.
        #[arg(long, value_name = "PORT", default_value_t = 26_600)]
        base_port: u16,
        /// The hosts the nodes run on, comma-separated IP addresses: node i
        /// listens (JSON-RPC and peer-to-peer) at the i-th, and round again
        /// when there are fewer. Default: all on 127.0.0.1.
        #[arg(long, value_name = "IP,IP,...", value_delimiter = ',')]
        hosts: Vec<std::net::IpAddr>,
        /// Longest a proposer waits for a transaction before proposing an
        /// empty block.
        #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_block_time)]
        block_time: String,
        /// Under load, the least time a height gathers transactions before
        /// its proposer builds (bigger blocks, fewer heights: throughput
        /// for latency). A lone transaction never waits.
        #[arg(long, value_name = "DURATION", default_value = crate::cluster::config::DEFAULT_BLOCK_GATHER, value_parser = parse_gather)]
        block_gather: String,
        /// How long validators wait for a proposal before voting nil (each
        /// further round waits half as long again).
        #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = parse_block_time)]
        timeout_propose: String,
        /// The chain's genesis (geth format; `lanes-loadgen genesis` writes
        /// one with a workload's setup applied). Default: the --dev chain's.
        #[arg(long, value_name = "FILE")]
        genesis: Option<PathBuf>,
    },
}

fn parse_block_time(s: &str) -> Result<String, String> {
    lanes_rpc::parse_duration(s).map(|_| s.to_string())
}

fn parse_gather(s: &str) -> Result<String, String> {
    crate::cluster::config::duration_or_zero("--block-gather", s).map(|_| s.to_string())
}

/// `--history-blocks` and `--index-memory`: a count, or `all` (`None`).
#[derive(Clone, Copy, Debug)]
pub struct Kept(pub Option<u64>);

/// Milliseconds as anvil's fork flags take them, or a duration with a unit.
fn parse_millis(s: &str) -> Result<Duration, String> {
    match s.parse::<u64>() {
        Ok(ms) => Ok(Duration::from_millis(ms)),
        Err(_) => lanes_rpc::parse_duration(s),
    }
}

fn parse_history(s: &str) -> Result<Kept, String> {
    if s == "all" {
        return Ok(Kept(None));
    }
    s.parse().map(|n| Kept(Some(n))).map_err(|_| format!("`{s}`: a number of blocks, or `all`"))
}

/// A size in bytes (`1073741824`, `512MiB`, `1GiB`, `64KiB`), or `all`.
fn parse_index_memory(s: &str) -> Result<Kept, String> {
    if s == "all" {
        return Ok(Kept(None));
    }
    let bad = || format!("`{s}`: a size such as 512MiB or 2GiB (at least 1MiB), or `all`");
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..digits].parse().map_err(|_| bad())?;
    let unit: u64 = match s[digits..].trim() {
        "" | "B" => 1,
        "KiB" | "K" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(unit).filter(|&b| b >= 1 << 20).map(|b| Kept(Some(b))).ok_or_else(bad)
}

/// A worker count the banking stage runs: 1 to [`MAX_WORKERS`].
fn parse_workers(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_WORKERS).contains(&n) => Ok(n),
        _ => Err(format!("`{s}`: workers must be a number from 1 to {MAX_WORKERS}")),
    }
}

/// `--state-root`: what a new chain's headers commit its state to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StateRoot {
    /// lanes' lattice hash.
    Lattice,
    /// Ethereum's Merkle-Patricia state root.
    Mpt,
}
