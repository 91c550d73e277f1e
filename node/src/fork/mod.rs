//! A dev node forking a live chain (`--fork-url`, as anvil's): its first
//! block is the upstream's block N, its state the upstream's there, read a
//! key at a time as transactions and calls need it ([`ForkBacking`]), and
//! its own blocks follow from N + 1. Blocks, transactions and logs at or
//! below N are the upstream's, answered by asking it (`proxy.rs`).
//!
//! A fork lives in a data folder of its own under the node's,
//! `fork-<chain id>-<N>/`: the usual ledger and state, `fork.json` (what
//! the fork was made from) and `fork-cache.bin` (every key fetched), so a
//! restart at the same block goes on from the same chain without fetching
//! anything twice.
//!
//! ```text
//!  mod.rs       ForkConfig (the flags), ForkInfo (fork.json), Fork::open
//!  upstream.rs  Upstream: calls within a budget, concurrency, time, retries
//!  backing.rs   ForkBacking: the state at N, fetched once and cached
//!  proxy.rs     the RPC middleware answering what is the upstream's
//! ```

mod backing;
pub(crate) mod proxy;
mod upstream;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U64, keccak256};
use lanes_accounts_db::{AccountHeader, Entry};
use lanes_eth::genesis::{self, ChainSpec, DevFork, ForkPoint};
use lanes_runtime::write_atomically;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use backing::ForkBacking;
pub use upstream::{
    DEFAULT_FORK_BACKOFF, DEFAULT_FORK_CONCURRENCY, DEFAULT_FORK_RETRIES, DEFAULT_FORK_TIMEOUT,
    Upstream, UpstreamCounts, UpstreamError, UpstreamLimits,
};

use crate::error::NodeError;

/// What a fork's data folder records of the fork.
pub const FORK_FILE: &str = "fork.json";
/// The keys a fork fetched.
pub const CACHE_FILE: &str = "fork-cache.bin";
/// Hashes before the fork block that BLOCKHASH can reach.
const OLDER_HASHES: u64 = 255;
/// Blocks asked for in one batch request.
const HEADERS_PER_BATCH: u64 = 50;

/// How to fork (the `--fork-*` flags).
#[derive(Clone, Debug)]
pub struct ForkConfig {
    /// The upstream's JSON-RPC URL (`--fork-url`).
    pub url: String,
    /// The block to fork at (`--fork-block-number`); default the upstream's
    /// latest. A negative number counts back from it.
    pub block_number: Option<i64>,
    /// The chain id, saving the upstream an `eth_chainId`
    /// (`--fork-chain-id`); default the upstream's.
    pub chain_id: Option<u64>,
    /// Limits on what the upstream is asked.
    pub limits: UpstreamLimits,
}

/// What a fork was made from (`fork.json` in its data folder).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForkInfo {
    /// The upstream it was made from.
    pub url: String,
    /// The chain id.
    pub chain_id: u64,
    /// The fork block.
    pub at: ForkPoint,
    /// The hashes of the blocks before it, newest first (BLOCKHASH).
    pub older: Vec<B256>,
    /// The rules its blocks run under (`--hardfork`).
    pub hardfork: String,
    /// The dev accounts as the upstream held them at the fork block: their
    /// nonce and code (the fork funds them with 10000 ETH, as anvil).
    pub accounts: Vec<(Address, u64, Bytes)>,
}

impl ForkInfo {
    /// The chain the fork runs.
    pub fn spec(&self) -> Result<ChainSpec, NodeError> {
        let fork: DevFork = self.hardfork.parse().map_err(NodeError::Config)?;
        let mut alloc = Vec::new();
        for (address, nonce, code) in &self.accounts {
            let code_hash = if code.is_empty() { KECCAK256_EMPTY } else { keccak256(code) };
            let balance = genesis::DEV_BALANCE;
            alloc.push(Entry::Account(
                *address,
                AccountHeader { nonce: *nonce, balance, code_hash },
            ));
            if !code.is_empty() {
                alloc.push(Entry::Code(code_hash, code.clone()));
            }
        }
        Ok(ChainSpec::forked(fork, self.chain_id, &self.at, alloc))
    }
}

/// A forked chain's link to its upstream.
#[derive(Debug)]
pub struct Fork {
    /// What it was made from.
    pub info: ForkInfo,
    /// The upstream.
    pub upstream: Arc<Upstream>,
    /// The state at the fork block.
    pub backing: Arc<ForkBacking>,
}

impl Fork {
    /// Opens the fork `config` asks for under `data_dir` running `hardfork`:
    /// its data folder, made (asking the upstream for the fork block, the
    /// hashes before it and the dev accounts) unless it is there; and the
    /// chain it runs.
    pub fn open(
        data_dir: &Path,
        config: &ForkConfig,
        hardfork: DevFork,
    ) -> Result<(PathBuf, ChainSpec, Self), NodeError> {
        Self::locate(data_dir, config)?.open(hardfork)
    }

    /// Where the fork `config` asks for lives under `data_dir`, asking the
    /// upstream for its chain id and latest block where `config` does not
    /// name them.
    pub fn locate(data_dir: &Path, config: &ForkConfig) -> Result<ForkSite, NodeError> {
        let upstream =
            Arc::new(Upstream::new(&config.url, config.limits.clone()).map_err(|source| {
                NodeError::Io { what: "starting the fork's client".into(), source }
            })?);
        let fail = |e: UpstreamError| NodeError::Config(e.to_string());
        let chain_id = match config.chain_id {
            Some(id) => id,
            None => {
                parse::<U64>("eth_chainId", upstream.call("eth_chainId", json!([])).map_err(fail)?)?
                    .to()
            }
        };
        let number = match config.block_number {
            Some(n) if n >= 0 => n as u64,
            given => {
                let latest: U64 = parse(
                    "eth_blockNumber",
                    upstream.call("eth_blockNumber", json!([])).map_err(fail)?,
                )?;
                let back = given.map_or(0, |n| n.unsigned_abs());
                latest.to::<u64>().checked_sub(back).ok_or_else(|| {
                    NodeError::Config(format!(
                        "--fork-block-number {}: the upstream is at block {latest}",
                        given.unwrap_or(0)
                    ))
                })?
            }
        };
        let dir = data_dir.join(format!("fork-{chain_id}-{number}"));
        Ok(ForkSite { upstream, chain_id, number, dir })
    }

    /// The fork block's number.
    pub fn number(&self) -> u64 {
        self.info.at.number
    }
}

/// A fork located ([`Fork::locate`]) and not yet opened.
#[derive(Debug)]
pub struct ForkSite {
    upstream: Arc<Upstream>,
    chain_id: u64,
    number: u64,
    /// Its data folder.
    pub dir: PathBuf,
}

impl ForkSite {
    /// Opens the fork running `hardfork`: its folder, made unless it is
    /// there, and the chain it runs.
    pub fn open(self, hardfork: DevFork) -> Result<(PathBuf, ChainSpec, Fork), NodeError> {
        self.open_with(hardfork, false)
    }

    /// [`Self::open`] at run time (`anvil_reset`): a folder whose fork
    /// block the upstream no longer has, or made under other rules, is
    /// made again rather than refused.
    pub fn open_again(self, hardfork: DevFork) -> Result<(PathBuf, ChainSpec, Fork), NodeError> {
        self.open_with(hardfork, true)
    }

    /// The upstream's URL.
    pub fn url(&self) -> String {
        self.upstream.url()
    }

    /// Fails unless the upstream's block at the fork number is the one
    /// `info` forked (an upstream that does not answer fails too).
    pub fn check_forks(&self, info: &ForkInfo) -> Result<(), NodeError> {
        let hash = block_hash(&self.upstream, info.at.number)
            .map_err(|e| NodeError::Config(e.to_string()))?;
        if hash != Some(info.at.hash) {
            return Err(NodeError::Config(format!(
                "fork upstream {}: its block {} is {}, not the block {} this node forks; fork another block",
                self.upstream.url(),
                info.at.number,
                hash.map_or_else(|| "missing".into(), |h| h.to_string()),
                info.at.hash
            )));
        }
        Ok(())
    }

    fn open_with(
        self,
        hardfork: DevFork,
        replace_stale: bool,
    ) -> Result<(PathBuf, ChainSpec, Fork), NodeError> {
        let Self { upstream, chain_id, number, dir } = self;
        let file = dir.join(FORK_FILE);
        let made = match std::fs::read(&file) {
            Ok(bytes) => {
                let info: ForkInfo = serde_json::from_slice(&bytes).map_err(|e| {
                    NodeError::DataDir(format!("{} does not parse: {e}", file.display()))
                })?;
                match check_same_fork(&upstream, &info, hardfork, &dir) {
                    Ok(()) => Some(info),
                    Err(e) if replace_stale => {
                        tracing::warn!(target: "lanes::fork", %e, "forking the block again");
                        std::fs::remove_dir_all(&dir).map_err(|source| NodeError::Io {
                            what: format!("removing {}", dir.display()),
                            source,
                        })?;
                        None
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(NodeError::Io { what: format!("reading {}", file.display()), source });
            }
        };
        let info = match made {
            Some(info) => info,
            None => {
                let info = fetch_info(&upstream, chain_id, number, hardfork)?;
                std::fs::create_dir_all(&dir).map_err(|source| NodeError::Io {
                    what: format!("creating {}", dir.display()),
                    source,
                })?;
                let json = serde_json::to_vec_pretty(&info).expect("fork info serialises");
                write_atomically(&file, &json).map_err(|source| NodeError::Io {
                    what: format!("writing {}", file.display()),
                    source,
                })?;
                info
            }
        };
        let backing = ForkBacking::open(upstream.clone(), number, &dir.join(CACHE_FILE))
            .map_err(|e| NodeError::DataDir(e.to_string()))?;
        let spec = info.spec()?;
        tracing::info!(target: "lanes::fork", url = %upstream.url(), chain_id, number, hash = %info.at.hash, dir = %dir.display(), "forked");
        Ok((dir, spec, Fork { info, upstream, backing: Arc::new(backing) }))
    }
}

/// A folder made for this fork before still forks the block the upstream
/// has there, under the same rules.
fn check_same_fork(
    upstream: &Upstream,
    info: &ForkInfo,
    hardfork: DevFork,
    dir: &Path,
) -> Result<(), NodeError> {
    if info.hardfork != hardfork.name() {
        return Err(NodeError::DataDir(format!(
            "{} holds a fork running {}, not {}; pass --hardfork {} or --reset",
            dir.display(),
            info.hardfork,
            hardfork.name(),
            info.hardfork
        )));
    }
    // An upstream that does not answer now leaves the cache to serve.
    match block_hash(upstream, info.at.number) {
        Ok(hash) => {
            if hash.is_some_and(|h| h != info.at.hash) {
                return Err(NodeError::DataDir(format!(
                    "{} forks block {} {}, but the upstream's block {} is now {}; pass --reset to fork it again",
                    dir.display(),
                    info.at.number,
                    info.at.hash,
                    info.at.number,
                    hash.unwrap_or_default()
                )));
            }
        }
        Err(e) => {
            tracing::warn!(target: "lanes::fork", %e, "the upstream did not answer; going on from the cache")
        }
    }
    Ok(())
}

/// The hash of the upstream's block `number` (`None`: it has none).
fn block_hash(upstream: &Upstream, number: u64) -> Result<Option<B256>, UpstreamError> {
    let block = upstream.call("eth_getBlockByNumber", json!([format!("0x{number:x}"), false]))?;
    Ok(serde_json::from_value(block["hash"].clone()).ok())
}

/// Asks the upstream for what a new fork at `number` needs.
fn fetch_info(
    upstream: &Upstream,
    chain_id: u64,
    number: u64,
    hardfork: DevFork,
) -> Result<ForkInfo, NodeError> {
    let fail = |e: UpstreamError| NodeError::Config(e.to_string());
    let block = upstream
        .call("eth_getBlockByNumber", json!([format!("0x{number:x}"), false]))
        .map_err(fail)?;
    if block.is_null() {
        return Err(NodeError::Config(format!(
            "fork upstream {}: it has no block {number}",
            upstream.url()
        )));
    }
    let field = |name: &str| -> Result<u64, NodeError> {
        Ok(parse::<U64>("eth_getBlockByNumber", block[name].clone())?.to())
    };
    let at = ForkPoint {
        number,
        hash: parse("eth_getBlockByNumber", block["hash"].clone())?,
        timestamp: field("timestamp")?,
        base_fee: match block.get("baseFeePerGas") {
            Some(v) if !v.is_null() => field("baseFeePerGas")?,
            _ => genesis::DEFAULT_BASE_FEE,
        },
        gas_limit: field("gasLimit")?,
    };
    // The hashes before it, newest first, a batch at a time.
    let mut older = Vec::new();
    let lowest = number.saturating_sub(OLDER_HASHES);
    let mut next = number;
    while next > lowest {
        let from = next.saturating_sub(HEADERS_PER_BATCH).max(lowest);
        let calls: Vec<(&str, Value)> = (from..next)
            .rev()
            .map(|n| ("eth_getBlockByNumber", json!([format!("0x{n:x}"), false])))
            .collect();
        for block in upstream.batch(&calls).map_err(fail)? {
            older.push(parse("eth_getBlockByNumber", block["hash"].clone())?);
        }
        next = from;
    }
    let at_block = json!(format!("0x{number:x}"));
    let signers = genesis::dev_signers();
    let calls: Vec<(&str, Value)> = signers
        .iter()
        .flat_map(|s| {
            let params = json!([s.address(), at_block]);
            [("eth_getTransactionCount", params.clone()), ("eth_getCode", params)]
        })
        .collect();
    let answers = upstream.batch(&calls).map_err(fail)?;
    let mut accounts = Vec::new();
    for (signer, pair) in signers.iter().zip(answers.chunks(2)) {
        let nonce: U64 = parse("eth_getTransactionCount", pair[0].clone())?;
        let code: Bytes = parse("eth_getCode", pair[1].clone())?;
        accounts.push((signer.address(), nonce.to(), code));
    }
    Ok(ForkInfo {
        url: upstream.url(),
        chain_id,
        at,
        older,
        hardfork: hardfork.name().into(),
        accounts,
    })
}

fn parse<T: serde::de::DeserializeOwned>(method: &str, v: Value) -> Result<T, NodeError> {
    serde_json::from_value(v.clone())
        .map_err(|e| NodeError::Config(format!("fork upstream: {method} answered {v}: {e}")))
}
