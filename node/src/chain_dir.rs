//! A node's chain on disk and how it is opened: the data folder's layout
//! ([`GENESIS_FILE`], [`reset_data_dir`]), where a node's chain is
//! ([`Place`]) and what rebuilding it needs ([`Rebuild`]), the ledger
//! checked against the genesis, and the state opened or created and
//! brought up to the ledger's last block ([`load_chain`]), or cut back to
//! one ([`cut_back`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lanes_accounts_db::{AccountsDb, AccountsDbConfig, OpenError};
use lanes_eth::genesis::{BASE_FEE_FIELD, ChainSpec, DevFork};
use lanes_evm_adapter::EvmExecutor;
use lanes_runtime::{BankConfig, Chain, ChainError, write_atomically};
use parking_lot::RwLock;

use crate::dev::sync_chain_id;
use crate::error::NodeError;
use crate::fork::proxy::Routes;
use crate::fork::{Fork, UpstreamLimits};
use crate::ledger::Ledger;
use crate::stage::StageParts;

/// The genesis a data folder was made from, in the folder.
pub(crate) const GENESIS_FILE: &str = "genesis.json";

/// Where a node's chain is: its folder, its genesis, and the fork it runs.
pub(crate) struct Place {
    /// The data folder, or a fork's folder under it.
    pub(crate) dir: PathBuf,
    pub(crate) spec: ChainSpec,
    /// A forked chain's link to its upstream.
    pub(crate) fork: Option<Arc<Fork>>,
}

/// What the node needs to rebuild its state from the ledger, and to switch
/// a dev node to another chain.
pub(crate) struct Rebuild {
    /// The chain it runs, replaced whole by [`NodeState::switch_chain`].
    pub(crate) place: RwLock<Arc<Place>>,
    /// The data folder forks' folders are made in.
    pub(crate) data_dir: PathBuf,
    /// A dev node's rules (`--hardfork`), which the chains it switches to
    /// run too; `None` on any other node.
    pub(crate) hardfork: Option<DevFork>,
    /// What a fork made at run time may ask of its upstream.
    pub(crate) fork_limits: UpstreamLimits,
    /// Whether ledgers sync each block.
    pub(crate) fsync: bool,
    /// Held through a switch of chains.
    pub(crate) switching: parking_lot::Mutex<()>,
    /// The fork the RPC middleware answers for.
    pub(crate) routes: Arc<Routes>,
    pub(crate) store: AccountsDbConfig,
    pub(crate) workers: usize,
    pub(crate) stage: StageParts,
}

impl Rebuild {
    /// The chain it runs now.
    pub(crate) fn place(&self) -> Arc<Place> {
        self.place.read().clone()
    }
}

/// The genesis of the dev chain in `dir` running `hardfork`: the one
/// recorded there, or a new one stamped now (and recorded). Its headers
/// carry the Merkle-Patricia state root (so `eth_getProof` answers against
/// the `stateRoot` it serves) where the recorded one does, with `mpt`, and
/// for a new chain unless `lattice` (`--state-root lattice`) says lanes'
/// lattice hash.
pub(crate) fn dev_spec(
    dir: &Path,
    hardfork: DevFork,
    (mpt, lattice): (bool, bool),
    base_fee: Option<u64>,
) -> Result<ChainSpec, NodeError> {
    let path = dir.join(GENESIS_FILE);
    let stored = path.exists().then(|| ChainSpec::from_file(&path)).transpose()?;
    // Block 0 of a new dev chain is stamped now; an existing one keeps its own.
    let timestamp = stored.as_ref().map_or_else(
        || SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        |s| s.genesis.timestamp,
    );
    // Without the flag, a chain keeps the commitment it was made with.
    let mpt = mpt || stored.as_ref().map_or(!lattice, |s| s.mpt.is_some());
    let given = ChainSpec::dev_with(timestamp, hardfork);
    let given = if mpt { given.with_mpt_state_root() } else { given };
    // Without the flag, a chain keeps the base fee it was made with, and
    // always its rule.
    let mut given = match base_fee.or(stored.as_ref().map(|s| s.genesis.base_fee)) {
        Some(fee) => given.with_base_fee(fee),
        None => given,
    };
    if let Some(stored) = &stored {
        given.base_fee = stored.base_fee;
    }
    match stored {
        Some(stored) if stored.id() != given.id() => Err(other_genesis(dir, &stored, &given)),
        Some(stored) => Ok(stored),
        None => {
            let json = serde_json::to_vec_pretty(&given.stored()).expect("a genesis serialises");
            write_atomically(&path, &json).map_err(|source| NodeError::Io {
                what: format!("writing {}", path.display()),
                source,
            })?;
            Ok(given)
        }
    }
}

/// Refuses a data folder whose genesis copy does not name its base-fee
/// rule ([`BASE_FEE_FIELD`]): an older lanes made it, whose blocks all kept
/// the genesis's base fee, and under EIP-1559 its blocks would not replay to
/// the same head. An imported chain's base fees are its Ethereum headers'.
pub(crate) fn check_base_fee_rule(dir: &Path, stored: &ChainSpec) -> Result<(), NodeError> {
    if stored.imported.is_some() || stored.records_base_fee() {
        return Ok(());
    }
    Err(NodeError::DataDir(format!(
        "data folder {} was made by an older lanes, whose blocks all kept the genesis's base fee; lanes now moves it block by block as EIP-1559 does, so those blocks would not replay to the same head. To keep running that chain under the old rule, add \"{BASE_FEE_FIELD}\": \"fixed\" to \"config\" in {}; or start a new chain with --reset (or another --data-dir)",
        dir.display(),
        dir.join(GENESIS_FILE).display(),
    )))
}

/// The data folder `dir` holds a chain made from `stored`, not `given`.
pub(crate) fn other_genesis(dir: &Path, stored: &ChainSpec, given: &ChainSpec) -> NodeError {
    NodeError::DataDir(format!(
        "data folder {} was made from another genesis (chain id {}, genesis {}) than the one given (chain id {}, genesis {}); use another --data-dir, or --reset to wipe it",
        dir.display(),
        stored.chain_id,
        stored.genesis_block().hash,
        given.chain_id,
        given.genesis_block().hash,
    ))
}

/// Writes `spec`'s first block to a new ledger (and serves it), or checks
/// that an existing one starts from it.
pub(crate) fn start_ledger(ledger: &Ledger, spec: &ChainSpec, dir: &Path) -> Result<(), NodeError> {
    let genesis = spec.genesis_block();
    match ledger.last_appended() {
        None => {
            ledger.append(&genesis, &[], None)?;
            ledger.publish(genesis.header.number);
        }
        Some(_) => {
            let first = ledger.read(ledger.first())?.block;
            if first.hash != genesis.hash {
                return Err(NodeError::DataDir(format!(
                    "the ledger in {} starts from genesis {}, not {}",
                    dir.display(),
                    first.hash,
                    genesis.hash,
                )));
            }
        }
    }
    Ok(())
}

/// How [`load_chain`] replays the blocks the state missed.
#[derive(Clone, Copy)]
pub(crate) struct Replay<'a> {
    /// A chain lanes built replays with its executor; an imported one
    /// without (its blocks are Ethereum's).
    pub(crate) executor: Option<&'a EvmExecutor>,
    /// Threads.
    pub(crate) workers: usize,
}

/// Opens the state in `dir/chain` (creating it from the genesis when it is
/// not there), checks it against the ledger and replays the ledger's blocks
/// it missed. A dev node whose state is ahead of its ledger (`evm_revert`,
/// which cuts the ledger first, or a crash during one) first goes back to
/// the ledger's last block ([`cut_back`]); any other node refuses.
pub(crate) fn load_chain(
    dir: &Path,
    ledger: &Ledger,
    spec: &ChainSpec,
    store: &AccountsDbConfig,
    dev: bool,
    replay: Replay<'_>,
    fork: Option<&Fork>,
) -> Result<Chain, NodeError> {
    let Replay { executor, workers } = replay;
    let last = ledger.last_appended().expect("the first block is in the ledger");
    let chain_dir = dir.join("chain");
    if dev {
        cut_back(&chain_dir, store, last)?;
    }
    let mut chain = open_chain(&chain_dir, ledger, spec, store, dev)?;
    if let Some(fork) = fork {
        // Before any read: what the chain never held is the upstream's.
        let _ = chain.db().set_backing(fork.backing.clone());
    }
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
    let older = fork.map(|f| f.info.older.clone()).unwrap_or_default();
    chain.set_older_hashes(
        (ledger.first()..head).rev().map_while(|n| ledger.appended_hash(n)).chain(older),
    );
    // Each block runs under the chain id in force after its parent.
    let sync = |chain: &Chain| match (&spec.imported, executor) {
        (None, Some(executor)) => sync_chain_id(&chain.db().view(), executor, spec.chain_id)
            .map_err(|e| NodeError::DataDir(format!("reading the chain id in force: {e}"))),
        _ => Ok(()),
    };
    for number in head + 1..=last {
        let block = ledger.read(number)?.block;
        tracing::info!(target: "lanes::node", number, "replaying a block the state missed");
        sync(&chain)?;
        match (&spec.imported, executor) {
            (Some(_), _) => crate::imported::reimport(&mut chain, ledger, spec, &block, workers)?,
            (None, Some(executor)) => drop(chain.replay_block(executor, &block, workers.max(1))?),
            (None, None) => unreachable!("a chain lanes built replays with its executor"),
        }
    }
    sync(&chain)?;
    Ok(chain)
}

/// How long a revert waits for the calls still reading the old state (an
/// `eth_call`, a trace) to let go of it before rebuilding instead.
const CUT_BACK_WAIT: Duration = Duration::from_secs(2);

/// A dev node's state ahead of its ledger (`evm_revert` cuts the ledger
/// first; a crash can stop it at any point after) goes back to the ledger's
/// last block: cut back through its own history when it keeps that block,
/// else removed, to be rebuilt from the genesis by replaying the ledger.
pub(crate) fn cut_back(
    chain_dir: &Path,
    store: &AccountsDbConfig,
    last: u64,
) -> Result<(), NodeError> {
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
            Err(e) => Err(ChainError::from(lanes_accounts_db::Error::from(e))),
        };
        match result {
            // Calls still reading the old state hold it open; they end soon.
            Err(ChainError::AccountsDb(lanes_accounts_db::Error::Open(OpenError::Locked {
                ..
            }))) if started.elapsed() < CUT_BACK_WAIT => {
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
    let last = ledger.last_appended().unwrap_or(ledger.first());
    let mut candidates = vec![None];
    let before = last.checked_sub(1).filter(|n| *n >= ledger.first());
    for n in [Some(last), before].into_iter().flatten() {
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

/// Removes what a node keeps in `dir`, forks included (for `--reset`);
/// other files stay.
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
    // Forks' folders (`fork-<chain id>-<block>/`, each with its fork.json).
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let named = entry.file_name().to_string_lossy().starts_with("fork-");
            if named && path.join(crate::fork::FORK_FILE).is_file() {
                std::fs::remove_dir_all(&path)?;
            }
        }
    }
    Ok(())
}
