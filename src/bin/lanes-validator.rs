//! `lanes-validator`: the lanes node. `--dev` runs a ready local chain (chain
//! id 31337, the ten test-mnemonic accounts funded) with Ethereum JSON-RPC on
//! 127.0.0.1:8545.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use lanes_accounts_db::DEFAULT_HISTORY_BLOCKS;
use lanes_banking_stage::{
    DEFAULT_BLOCK_TIME, DEFAULT_MAX_PER_SENDER, DEFAULT_MAX_POOL, MAX_WORKERS, Mining,
};
use lanes_node::{
    ChainChoice, ExplorerConfig, Node, NodeConfig, RpcLimits, client_version, reset_data_dir,
};
use lanes_rpc::genesis::{self, DEV_BALANCE};

/// mimalloc: threads allocate from heaps of their own (glibc's arenas made
/// the parallel engine's workers wait on one another's frees).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The pool's per-sender limit on a dev node: deploy and airdrop scripts
/// send thousands from one key.
const DEV_MAX_PER_SENDER: usize = 10_000;

#[derive(Parser, Debug)]
#[command(
    name = "lanes-validator",
    version,
    about = "The lanes node: declared-access parallel EVM execution behind Ethereum JSON-RPC"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Run a ready dev chain: chain id 31337, the ten accounts of the test
    /// mnemonic funded with 10000 ETH each and unlocked for eth_sendTransaction.
    #[arg(long, conflicts_with = "genesis")]
    dev: bool,
    /// The fork a new --dev chain runs from block 0 (anvil's flag): shanghai,
    /// cancun, prague (the default), osaka or amsterdam (every header then
    /// commits to its block's access list, EIP-7928).
    #[arg(long, value_name = "NAME", requires = "dev", default_value = "prague")]
    hardfork: lanes_rpc::genesis::DevFork,
    /// What a new chain's headers commit its state to: mpt (Ethereum's
    /// Merkle-Patricia state root, kept as a trie: eth_getProof answers
    /// against it; the default of a new --dev chain) or lattice (lanes'
    /// lattice hash; the default of a new --genesis chain). Recorded in the
    /// chain's genesis (config.lanesStateRoot); an existing chain keeps its
    /// own
    #[arg(long, value_name = "KIND")]
    state_root: Option<StateRoot>,
    /// A new --dev chain's base fee per gas at genesis, which its first
    /// block charges too; later blocks move it by EIP-1559 (anvil's flag).
    /// Without it a dev chain starts at 1 gwei, or keeps what it was made
    /// with.
    #[arg(long, value_name = "WEI", requires = "dev")]
    block_base_fee_per_gas: Option<u64>,
    /// Serve the explorer page under /explorer on the RPC port (on by
    /// default with --dev).
    #[arg(long, conflicts_with = "no_explorer")]
    explorer: bool,
    /// Do not serve the explorer page.
    #[arg(long)]
    no_explorer: bool,
    /// A verified-source folder for the explorer (foundry's out/, hardhat's
    /// artifacts/, or JSON files with an `abi`): contracts are matched to
    /// addresses by their code and their calls and logs decoded. Repeatable.
    #[arg(long, value_name = "DIR")]
    explorer_abis: Vec<PathBuf>,
    /// Fork a live chain (anvil's flag; implies --dev): the state at the
    /// fork block is read from this JSON-RPC node as it is needed and kept in
    /// the data folder (DATA_DIR/fork-<chain id>-<block>/), blocks up to it
    /// are the upstream's, and the node's own blocks follow.
    #[arg(long, short = 'f', value_name = "URL", alias = "rpc-url", conflicts_with = "genesis")]
    fork_url: Option<String>,
    /// The block to fork at (default: the upstream's latest; a negative
    /// number counts back from it).
    #[arg(long, value_name = "N", requires = "fork_url", allow_hyphen_values = true)]
    fork_block_number: Option<i64>,
    /// The forked chain's id, saving the upstream an eth_chainId (default:
    /// the upstream's).
    #[arg(long, value_name = "ID", requires = "fork_url")]
    fork_chain_id: Option<u64>,
    /// Tries after a failed request to the fork's upstream.
    #[arg(long, value_name = "N", default_value_t = lanes_node::fork::DEFAULT_FORK_RETRIES)]
    retries: u32,
    /// Longest one request to the fork's upstream may take, in milliseconds
    /// (or with a unit: 10s).
    #[arg(long, value_name = "MS", value_parser = parse_millis, default_value = "45000")]
    timeout: Duration,
    /// Wait before the first retry of a failed upstream request, doubled at
    /// each, in milliseconds (or with a unit).
    #[arg(long, value_name = "MS", value_parser = parse_millis, default_value = "100")]
    fork_retry_backoff: Duration,
    /// Requests in flight to the fork's upstream at once.
    #[arg(long, value_name = "N", default_value_t = lanes_node::fork::DEFAULT_FORK_CONCURRENCY)]
    fork_concurrency: usize,
    /// Most requests the fork may send its upstream in all; past it a fetch
    /// fails naming this flag (default: no limit).
    #[arg(long, value_name = "N")]
    fork_request_budget: Option<u64>,
    /// A geth-format genesis.json (as anvil --init reads it).
    #[arg(long, value_name = "FILE")]
    genesis: Option<PathBuf>,
    /// Where the ledger and the state live.
    #[arg(long, value_name = "DIR", default_value = "lanes-data")]
    data_dir: PathBuf,
    /// Wipe the data folder's chain before starting.
    #[arg(long)]
    reset: bool,
    /// JSON-RPC address (HTTP and WebSocket).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8545")]
    rpc_addr: SocketAddr,
    /// Interval mining: a block is sealed at every boundary, empty or not
    /// (e.g. 400ms, 1s). Default: with --dev, on demand (automine: a block as
    /// soon as the transactions that are ready have run); otherwise 400ms.
    #[arg(long, value_name = "DURATION", value_parser = lanes_rpc::parse_duration)]
    block_time: Option<Duration>,
    /// Seal blocks only when asked (evm_mine, anvil_mine, hardhat_mine), as
    /// anvil --no-mining.
    #[arg(long, conflicts_with = "block_time")]
    no_mining: bool,
    /// Worker threads executing transactions (default: available cores, at
    /// most 63).
    #[arg(long, value_name = "N", value_parser = parse_workers)]
    workers: Option<usize>,
    /// Pin each worker and the block producer's scheduler thread to a core
    /// of its own (when there are more cores than workers).
    #[arg(long)]
    pin_threads: bool,
    /// Most transactions queued for one sender (default: 10000 with --dev,
    /// else 64).
    #[arg(long, value_name = "N")]
    txpool_max_per_sender: Option<usize>,
    /// Most transactions in the pool.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_POOL)]
    txpool_max: usize,
    /// What web3_clientVersion answers. Default with --dev: "anvil/lanes-v…"
    /// (tools such as hardhat-network-helpers drive only nodes whose version
    /// starts with hardhat, anvil or zksync); otherwise "lanes/v…".
    #[arg(long, value_name = "STRING")]
    client_version: Option<String>,
    /// Accept legacy transactions signed without a chain id (pre-EIP-155),
    /// such as the CREATE2 deployer's "Nick's method" deployment. On with --dev.
    #[arg(long)]
    allow_unprotected_txs: bool,
    /// Sync each block to disk before its receipts are served, also with
    /// --dev (which otherwise only writes it to the operating system: a dev
    /// chain survives the process being killed, not a power loss).
    #[arg(long)]
    fsync: bool,
    /// Blocks behind the head whose state stays readable by eth_getBalance,
    /// eth_call and the other state methods at a block number or hash, or
    /// `all`. Default: all with --dev, else 10000. An older block answers
    /// -32000 naming the oldest block kept.
    #[arg(long, value_name = "N|all", value_parser = parse_history)]
    history_blocks: Option<Kept>,
    /// Seconds of chain time a blob sidecar is kept after the block that
    /// included it (anvil_getBlobsByTransactionHash, the beacon API's
    /// blobs). Default: 1572864, EIP-4844's 4,096 epochs (about 18 days).
    /// A sidecar whose transaction is neither pending nor in a block goes
    /// at once.
    #[arg(long, value_name = "SECS")]
    blob_retention: Option<u64>,
    /// Memory the accounts index keeps for the keys changed since its last
    /// checkpoint (e.g. `512MiB`, `2GiB`), or `all` for the whole index in
    /// memory; the rest of the index is on disk, read through the page
    /// cache.
    #[arg(long, value_name = "SIZE|all", value_parser = parse_index_memory, default_value = "1GiB")]
    index_memory: Kept,
    /// Do not predict the access sets of transactions that declare none
    /// (wallet traffic): run them one at a time in the exclusive lane.
    #[arg(long)]
    no_predict: bool,
    /// Origins browsers may call JSON-RPC from (CORS), comma-separated, `*`
    /// for any or `none`. Default: `*` with --dev (as anvil), else none.
    #[arg(long, value_name = "ORIGINS", value_delimiter = ',')]
    cors_origins: Option<Vec<String>>,
    /// How long a filter (eth_newFilter and the like) lives without a poll.
    #[arg(long, value_name = "DURATION", value_parser = lanes_rpc::parse_duration, default_value = "5m")]
    filter_timeout: Duration,
    /// Most expensive calls (eth_call, eth_estimateGas, eth_createAccessList,
    /// eth_getLogs, filter polls, traces) running at once; past it a call
    /// waits up to 2 s for a slot, then answers -32005 (default: half the
    /// cores, at least 1).
    #[arg(long, value_name = "N")]
    max_heavy_calls: Option<usize>,
    /// Largest JSON-RPC request body, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = RpcLimits::default().max_request_bytes)]
    max_request_bytes: u32,
    /// Most calls in one JSON-RPC batch.
    #[arg(long, value_name = "N", default_value_t = RpcLimits::default().max_batch)]
    max_batch: u32,
    /// Most open JSON-RPC connections (HTTP and WebSocket); past it a new
    /// connection is refused.
    #[arg(long, value_name = "N", default_value_t = RpcLimits::default().max_connections)]
    max_connections: u32,
    /// Longest a client may take to send a request (headers, then body); a
    /// slower connection is closed.
    #[arg(long, value_name = "DURATION", value_parser = lanes_rpc::parse_duration, default_value = "30s")]
    request_timeout: Duration,
    /// Most gas eth_call, eth_estimateGas, eth_createAccessList and
    /// debug_traceCall run with (and at most the block gas limit).
    #[arg(long, value_name = "GAS", default_value_t = RpcLimits::default().call_gas_cap)]
    rpc_gas_cap: u64,
    /// Longest eth_call runs (eth_estimateGas and eth_createAccessList: all
    /// their runs together); past it the call answers -32000.
    #[arg(long, value_name = "DURATION", value_parser = lanes_rpc::parse_duration, default_value = "5s")]
    rpc_evm_timeout: Duration,
    /// Load a state file (anvil's format: every account's balance, nonce,
    /// code and storage) over the chain at start, in a block of its own.
    #[arg(long, value_name = "FILE", requires = "dev")]
    load_state: Option<PathBuf>,
    /// Write the state to FILE (anvil's format) when the node stops.
    #[arg(long, value_name = "FILE", requires = "dev")]
    dump_state: Option<PathBuf>,
    /// --load-state FILE when it exists, and --dump-state FILE.
    #[arg(long, value_name = "FILE", requires = "dev", conflicts_with_all = ["load_state", "dump_state"])]
    state: Option<PathBuf>,
    /// Run one node of a multi-node chain (a `config.toml` that
    /// `lanes-validator testnet` wrote): its keys, peers, RPC address, data
    /// folder and genesis come from the file.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["dev", "genesis", "data_dir", "rpc_addr", "block_time", "no_mining"])]
    config: Option<PathBuf>,
    /// Test only: propose blocks with a wrong state commitment, which the
    /// other validators must refuse.
    #[arg(long, hide = true, requires = "config")]
    test_tamper_proposals: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
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
        #[arg(long, default_value_t = genesis::DEV_CHAIN_ID)]
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
        #[arg(long, value_name = "DURATION", default_value = lanes_node::cluster::config::DEFAULT_BLOCK_GATHER, value_parser = parse_gather)]
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
    lanes_node::cluster::config::duration_or_zero("--block-gather", s).map(|_| s.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Plain text into a log file; colours on a terminal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(mut cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(Command::Import {
        genesis,
        data_dir,
        workers,
        no_fsync,
        history_blocks,
        index_memory,
        files,
    }) = cli.command
    {
        let options = lanes_node::import::ImportOptions {
            workers: workers.unwrap_or(lanes_node::import::ImportOptions::default().workers),
            fsync: !no_fsync,
            history_blocks: history_blocks.0,
            index_memory_bytes: index_memory.0,
            ..Default::default()
        };
        return Ok(lanes_node::import::import_files(
            &data_dir,
            genesis.as_deref(),
            &options,
            &files,
        )?);
    }
    if let Some(Command::ExecuteBlock { dir, workers, runs, json, no_access_list }) = cli.command {
        let declared = !no_access_list;
        let options = lanes_node::execute_block::ExecuteOptions {
            workers,
            runs,
            declared,
            ..Default::default()
        };
        let run = lanes_node::execute_block::execute(&dir, &options)?;
        if json {
            println!("{}", run.json());
        } else {
            println!("{}", run.line());
        }
        if !run.ok() {
            std::process::exit(1);
        }
        return Ok(());
    }
    if let Some(Command::Init { out, chain_id, force }) = cli.command {
        if out.exists() && !force {
            return Err(format!("{} exists; pass --force to overwrite it", out.display()).into());
        }
        let mut g = genesis::dev_genesis();
        g.config.chain_id = chain_id;
        std::fs::write(&out, serde_json::to_vec_pretty(&g)?)
            .map_err(|e| format!("writing {}: {e}", out.display()))?;
        println!(
            "wrote {} (chain id {chain_id}, {} funded accounts)",
            out.display(),
            g.alloc.len()
        );
        return Ok(());
    }
    if let Some(Command::Testnet {
        validators,
        replicas,
        out,
        base_port,
        hosts,
        block_time,
        block_gather,
        timeout_propose,
        genesis: genesis_file,
    }) = cli.command
    {
        use lanes_node::cluster::config::{TestnetSpec, TimeoutsFile, write_testnet};
        let spec = TestnetSpec {
            validators,
            replicas,
            out: out.clone(),
            base_port,
            hosts,
            block_time,
            block_gather,
            timeouts: TimeoutsFile { propose: timeout_propose, ..TimeoutsFile::default() },
            unlock_dev_accounts: genesis_file.is_none(),
            genesis: match genesis_file {
                Some(path) => serde_json::from_slice(
                    &std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?,
                )
                .map_err(|e| format!("{}: {e}", path.display()))?,
                None => genesis::dev_genesis(),
            },
        };
        let nodes = write_testnet(&spec)?;
        for node in &nodes.nodes {
            println!(
                "{} ({:?}): lanes-validator --config {}/{}  rpc {}",
                node.name,
                node.role,
                out.display(),
                node.config,
                node.rpc
            );
        }
        println!("wrote {}", out.join(lanes_node::cluster::config::NODES_FILE).display());
        return Ok(());
    }
    if let Some(path) = &cli.config {
        return run_cluster_node(&cli, path);
    }
    // --fork-url runs a dev chain, as anvil's.
    cli.dev |= cli.fork_url.is_some();
    let fork = cli.fork_url.clone().map(|url| lanes_node::fork::ForkConfig {
        url,
        block_number: cli.fork_block_number,
        chain_id: cli.fork_chain_id,
        limits: lanes_node::fork::UpstreamLimits {
            timeout: cli.timeout,
            retries: cli.retries,
            backoff: cli.fork_retry_backoff,
            concurrency: cli.fork_concurrency.max(1),
            budget: cli.fork_request_budget,
        },
    });
    if cli.reset {
        reset_data_dir(&cli.data_dir)
            .map_err(|e| format!("resetting {}: {e}", cli.data_dir.display()))?;
    }
    let limits = rpc_limits(&cli);
    let load_state = cli.load_state.clone().or_else(|| cli.state.clone().filter(|p| p.exists()));
    let dump_state = cli.dump_state.clone().or_else(|| cli.state.clone());
    let explorer = explorer_config(&cli, cli.dev);
    let chain = match (cli.dev, cli.genesis) {
        (true, _) => ChainChoice::Dev(cli.hardfork),
        (false, Some(path)) => ChainChoice::Genesis(path),
        (false, None) => ChainChoice::Existing,
    };
    let workers = cli.workers.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_WORKERS)
    });
    let config = NodeConfig {
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
        blob_retention: cli
            .blob_retention
            .map_or(lanes_node::BLOB_RETENTION, std::time::Duration::from_secs),
        allow_unprotected: cli.allow_unprotected_txs || cli.dev,
        client_version: cli.client_version.unwrap_or_else(|| client_version(cli.dev)),
        hold_blocks: false,
        unlock_dev_accounts: false,
        mpt_state_root: cli.state_root == Some(StateRoot::Mpt),
        lattice_state_root: cli.state_root == Some(StateRoot::Lattice),
        block_base_fee: cli.block_base_fee_per_gas,
        fork,
        limits,
    };
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
fn run_cluster_node(cli: &Cli, path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    use lanes_node::cluster::{self, Faults, config::ClusterConfig};
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
    let workers = cli.workers.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_WORKERS)
    });
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

/// A worker count the banking stage runs: 1 to [`MAX_WORKERS`].
/// `--history-blocks`: a count, or `all` (`None`).
#[derive(Clone, Copy, Debug)]
struct Kept(Option<u64>);

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

fn parse_workers(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_WORKERS).contains(&n) => Ok(n),
        _ => Err(format!("`{s}`: workers must be a number from 1 to {MAX_WORKERS}")),
    }
}

/// `--state-root`: what a new chain's headers commit its state to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum StateRoot {
    /// lanes' lattice hash.
    Lattice,
    /// Ethereum's Merkle-Patricia state root.
    Mpt,
}

/// `--blob-retention`, or EIP-4844's window.
fn blob_retention(cli: &Cli) -> std::time::Duration {
    cli.blob_retention.map_or(lanes_node::BLOB_RETENTION, std::time::Duration::from_secs)
}
