//! Rebuilding a node's state from its ledger: on start (the state opened
//! or created from the genesis, then the blocks it missed replayed) and on
//! a dev node's `evm_revert` ([`NodeState::revert_to`]), which cuts the
//! ledger, brings the state back to its last block ([`cut_back`]) and
//! starts a new banking stage. Also the data folder's layout, and
//! [`reset_data_dir`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{B256, Bytes};
use lanes_accounts_db::{AccountsDb, AccountsDbConfig, OpenError};
use lanes_banking_stage::BankingStageConfig;
use lanes_evm_adapter::{EvmExecutor, EvmTx};
use lanes_rpc::genesis::ChainSpec;
use lanes_runtime::{Admission, BankConfig, Chain, ChainError};

use crate::dev::sync_chain_id;
use crate::error::NodeError;
use crate::filters;
use crate::fork::Fork;
use crate::ledger::{Ledger, LedgerBlock};
use crate::lifecycle::{spawn_follower, start_stage};
use crate::state::NodeState;

/// The genesis a data folder was made from, in the folder.
pub(crate) const GENESIS_FILE: &str = "genesis.json";

/// What the node needs to start a banking stage again (after
/// `evm_revert`).
pub(crate) struct StageParts {
    pub(crate) config: BankingStageConfig,
    pub(crate) admission: Arc<dyn Admission<EvmTx>>,
    /// Held blocks, for a consensus engine.
    pub(crate) hold: bool,
}

/// What the node needs to rebuild its state from the ledger.
pub(crate) struct Rebuild {
    pub(crate) dir: PathBuf,
    /// A forked chain's link to its upstream.
    pub(crate) fork: Option<Arc<Fork>>,
    pub(crate) spec: ChainSpec,
    pub(crate) store: AccountsDbConfig,
    pub(crate) workers: usize,
    pub(crate) stage: StageParts,
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
        pool: Vec<Bytes>,
    ) -> Result<(), NodeError> {
        let mut slot = self.stage.write();
        let mut stage =
            slot.take().ok_or_else(|| NodeError::DataDir("node is shutting down".into()))?;
        let (mining, coinbase) = (stage.mining(), stage.coinbase());
        // Everything acknowledged that the chain goes back past: pending
        // now, or in a block it drops. What does not wait again is dropped.
        let mut gone: Vec<B256> = stage.queued().iter().map(|tx| tx.hash()).collect();
        drop(stage.shutdown()?);
        drop(stage);
        // Nothing publishes a block of the old chain after this.
        if let Some(old) = self.follower.lock().take() {
            let _ = old.join();
        }
        // Log filters and subscriptions report the dropped blocks' logs as
        // removed, as on a reorg.
        let subscribed = self.heads.receiver_count() > 0;
        // Best effort: a block that does not read is left out of the
        // removed logs rather than failing the revert with no stage.
        let last = self.ledger.last_appended().unwrap_or(number);
        let dropped: Vec<LedgerBlock> =
            (number + 1..=last).filter_map(|n| self.ledger.read(n).ok()).collect();
        gone.extend(dropped.iter().flat_map(|b| b.receipts.iter().map(|r| r.tx_hash)));
        let dropped =
            if subscribed || self.filters.has_log_filters() { dropped } else { Vec::new() };
        self.ledger.truncate(number)?;
        self.filters.on_revert(number, &dropped);
        if subscribed {
            let _ = self.heads.send(filters::ChainEvent::Reverted(Arc::new(dropped)));
        }
        let r = &self.rebuild;
        let dev = true;
        let chain = load_chain(
            &r.dir,
            &self.ledger,
            &r.spec,
            &r.store,
            dev,
            Replay { executor: Some(&self.executor), workers: r.workers },
            r.fork.as_deref(),
        )?;
        let config = BankingStageConfig { mining, coinbase, ..r.stage.config.clone() };
        let parts = StageParts { config, admission: r.stage.admission.clone(), hold: r.stage.hold };
        // Served before production starts, so its first block moves it on.
        self.ledger.publish(number);
        let stage = start_stage(&parts, self.executor.clone(), chain, &self.publisher);
        stage.set_time_offset(offset);
        spawn_follower(self, stage.blocks().clone(), stage.failure())?;
        // What was pooled at the snapshot waits again; one no longer valid
        // is refused here, as at any submission.
        let mut waiting = HashSet::new();
        for result in stage.submit_many(pool) {
            match result {
                Ok(hash) => {
                    waiting.insert(hash);
                    self.filters.on_pending(hash);
                }
                Err(refused) => {
                    tracing::info!(target: "lanes::node", %refused, "a snapshot's pooled transaction not taken back")
                }
            }
        }
        let mut noted = self.dropped.lock();
        for hash in gone.into_iter().filter(|h| !waiting.contains(h)) {
            let reason =
                format!("the chain went back to block {number} (evm_revert or anvil_reset)");
            noted.note(hash, reason);
        }
        drop(noted);
        *slot = Some(stage);
        tracing::info!(target: "lanes::node", number, "reverted");
        Ok(())
    }
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
            (Some(_), _) => crate::import::reimport(&mut chain, ledger, spec, &block, workers)?,
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
