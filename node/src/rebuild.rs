//! Rebuilding a running node's state: a dev node's `evm_revert`
//! ([`NodeState::revert_to`]), which cuts the ledger, brings the state back
//! to its last block ([`cut_back`]) and starts a new banking stage, and a
//! switch to another chain ([`NodeState::switch_chain`]). How a chain is
//! opened from its data folder is `chain_dir.rs`.

use std::collections::HashSet;
use std::sync::Arc;

use alloy_primitives::{Address, B256, Bytes};
use lanes_banking_stage::{BankingStage, BankingStageConfig, Mining};
use lanes_evm_adapter::EvmExecutor;
use lanes_runtime::{Chain, RECENT_HASHES};

use crate::chain_dir::{Place, Replay, dev_spec, load_chain, start_ledger};
use crate::dev::sync_chain_id;
use crate::error::NodeError;
use crate::filters;
use crate::follower::spawn_follower;
use crate::fork::proxy::ForkRoute;
use crate::fork::{Fork, ForkConfig};
use crate::ledger::{Ledger, LedgerBlock};
use crate::stage::{StageParts, start_stage};
use crate::state::NodeState;

/// What a stopped banking stage hands on to the next.
struct Stopped {
    mining: Mining,
    coinbase: Address,
    /// Acknowledged transactions it held, and those of blocks dropped since.
    gone: Vec<B256>,
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
        // A snapshot of a chain the node has since left is not in this one.
        let last = self.ledger.last_appended().unwrap_or(number);
        if number < self.ledger.first() || number > last {
            return Err(NodeError::Config(format!("block {number} is not in this chain")));
        }
        let started = std::time::Instant::now();
        match self.revert_in_place(&slot, number, offset, &pool) {
            Ok(()) => {
                tracing::debug!(target: "lanes::node", number, took = ?started.elapsed(), "reverted in place");
                return Ok(());
            }
            Err(why) => {
                tracing::info!(target: "lanes::node", number, %why, "reverting by reopening the chain")
            }
        }
        let mut stopped = self.stop_production(&mut slot)?;
        let dropped = self.dropped_after(number, &mut stopped.gone);
        self.ledger.truncate(number)?;
        // After the cut: a filter polled meanwhile cannot step past it.
        self.notify_dropped(number, dropped);
        let place = self.rebuild.place();
        let chain = load_chain(
            &place.dir,
            &self.ledger,
            &place.spec,
            &self.rebuild.store,
            true,
            Replay { executor: Some(&self.executor), workers: self.rebuild.workers },
            place.fork.as_deref(),
        )?;
        // Served before production starts, so its first block moves it on.
        self.ledger.publish(number);
        let reason = format!("the chain went back to block {number} (evm_revert or anvil_reset)");
        self.start_production(&mut slot, chain, stopped, offset, pool, &reason)?;
        tracing::info!(target: "lanes::node", number, "reverted");
        Ok(())
    }

    /// [`Self::revert_to`] without stopping the banking stage: between two
    /// blocks the stage cuts the ledger, takes its chain's state back in
    /// place and empties its pool ([`BankingStage::revert_to`]), in time
    /// proportional to the blocks and keys since `number`. Refused, with
    /// the node as it was or with only the ledger cut (which the reopen
    /// then follows), where the stage cannot: transactions on their way
    /// into its pool, a block the state no longer keeps.
    fn revert_in_place(
        self: &Arc<Self>,
        slot: &Option<BankingStage<EvmExecutor>>,
        number: u64,
        offset: i64,
        pool: &[Bytes],
    ) -> Result<(), NodeError> {
        let stage =
            slot.as_ref().ok_or_else(|| NodeError::DataDir("node is shutting down".into()))?;
        let header = self
            .ledger
            .read(number)
            .map_err(|e| NodeError::DataDir(format!("reading block {number}: {e}")))?
            .block
            .header;
        let older: Vec<B256> = self.hashes_before(number).take(RECENT_HASHES - 1).collect();
        let held = stage
            .revert_to(header, older, offset)
            .map_err(|e| NodeError::DataDir(e.to_string()))?;
        // After the stage's cut: what it cut is exactly what left, blocks
        // it made meanwhile included.
        let mut gone = held;
        let dropped = self.dropped_after(number, &mut gone);
        let place = self.rebuild.place();
        sync_chain_id(&stage.state(), &self.executor, place.spec.chain_id)
            .map_err(|e| NodeError::DataDir(format!("reading the chain id in force: {e}")))?;
        // Subscribers hear of the blocks committed before the revert first.
        let drained = std::time::Instant::now() + crate::state::SERVE_WAIT;
        while !stage.blocks().is_empty() && std::time::Instant::now() < drained {
            std::thread::yield_now();
        }
        self.notify_dropped(number, dropped);
        self.ledger.publish(number);
        let reason = format!("the chain went back to block {number} (evm_revert or anvil_reset)");
        self.requeue(stage, pool.to_vec(), gone, &reason);
        Ok(())
    }

    /// Switches a dev node to another chain, fresh from its first block
    /// (`anvil_reset`): the fork `to` names, or with `None` the dev chain of
    /// the data folder. The new chain is opened (its folder, ledger and
    /// state) before the old one stops, so one that cannot be made leaves
    /// the node as it was; a fork made before opens again from its folder,
    /// unless the upstream's fork block is no longer the one it forked. The
    /// chain it runs already is put back to its first block instead.
    pub(crate) fn switch_chain(self: &Arc<Self>, to: Option<ForkConfig>) -> Result<(), NodeError> {
        let r = &self.rebuild;
        let hardfork = r.hardfork.ok_or_else(|| NodeError::Config("not a dev node".into()))?;
        // One switch at a time: two would open one folder twice.
        let _switching = r.switching.lock();
        let current = r.place();
        let site = to.as_ref().map(|c| Fork::locate(&r.data_dir, c)).transpose()?;
        let dir = site.as_ref().map_or_else(|| r.data_dir.clone(), |s| s.dir.clone());
        if dir == current.dir {
            if let (Some(site), Some(fork)) = (&site, &current.fork) {
                site.check_forks(&fork.info)?;
                fork.upstream.set_url(&site.url());
            }
            return self.revert_to(self.ledger.first(), 0, Vec::new());
        }
        let (spec, fork) = match site {
            Some(site) => {
                let (_, spec, fork) = site.open_again(hardfork)?;
                (spec, Some(Arc::new(fork)))
            }
            None => (dev_spec(&dir, hardfork, (current.spec.mpt.is_some(), false), None)?, None),
        };
        let ledger = Ledger::open_with(&dir.join("ledger"), r.fsync)?;
        start_ledger(&ledger, &spec, &dir)?;
        ledger.truncate(ledger.first())?;
        let place = Place { dir, spec, fork };
        // The ledger holds only its first block: nothing to replay, and the
        // chain id in force is set once the old chain has stopped.
        let replay = Replay { executor: None, workers: r.workers };
        let chain = load_chain(
            &place.dir,
            &ledger,
            &place.spec,
            &r.store,
            true,
            replay,
            place.fork.as_deref(),
        )?;
        let mut slot = self.stage.write();
        let mut stopped = self.stop_production(&mut slot)?;
        sync_chain_id(&chain.db().view(), &self.executor, place.spec.chain_id)
            .map_err(|e| NodeError::DataDir(format!("reading the chain id in force: {e}")))?;
        let old_first = self.ledger.first();
        let dropped = self.dropped_after(old_first, &mut stopped.gone);
        let first = ledger.first();
        r.routes.set(place.fork.as_deref().map(ForkRoute::to));
        tracing::info!(target: "lanes::node", dir = %place.dir.display(), first, chain_id = place.spec.chain_id, "switched chains");
        *r.place.write() = Arc::new(place);
        self.ledger.replace_with(ledger);
        self.notify_dropped(old_first, dropped);
        self.filters.go_on_from(first + 1);
        let reason = "the node switched to another chain (anvil_reset)";
        self.start_production(&mut slot, chain, stopped, 0, Vec::new(), reason)
    }

    /// Stops block production and the thread publishing its blocks.
    fn stop_production(
        &self,
        slot: &mut Option<BankingStage<EvmExecutor>>,
    ) -> Result<Stopped, NodeError> {
        let mut stage =
            slot.take().ok_or_else(|| NodeError::DataDir("node is shutting down".into()))?;
        let (mining, coinbase) = (stage.mining(), stage.coinbase());
        // Everything acknowledged that the chain goes back past: pending
        // now, or in a block it drops. What does not wait again is dropped.
        let gone: Vec<B256> = stage.queued().iter().map(|tx| tx.hash()).collect();
        drop(stage.shutdown()?);
        drop(stage);
        // Nothing publishes a block of the old chain after this.
        if let Some(old) = self.follower.lock().take() {
            let _ = old.join();
        }
        Ok(Stopped { mining, coinbase, gone })
    }

    /// The blocks after `number`, which leave the chain; their
    /// transactions join `gone` (what the revert drops). Those the ledger
    /// holds, and those the stage's sink cut since (`Publisher::cut`:
    /// blocks made after the node listed the ledger, before the stage took
    /// the revert, or cut by an attempt in place that then failed).
    fn dropped_after(&self, number: u64, gone: &mut Vec<B256>) -> Vec<LedgerBlock> {
        // Best effort: a block that does not read is left out of the
        // removed logs rather than failing the revert with no stage.
        let mut dropped = self.ledger.blocks_after(number);
        for block in self.publisher.cut.lock().drain(..) {
            let n = block.block.header.number;
            if n > number && !dropped.iter().any(|b| b.block.header.number == n) {
                dropped.push(block);
            }
        }
        dropped.sort_by_key(|b| b.block.header.number);
        gone.extend(dropped.iter().flat_map(|b| b.receipts.iter().map(|r| r.tx_hash)));
        dropped
    }

    /// Log filters and subscriptions report the logs of the `dropped`
    /// blocks (after `number`) as removed, as on a reorg.
    fn notify_dropped(&self, number: u64, dropped: Vec<LedgerBlock>) {
        let subscribed = self.heads.receiver_count() > 0;
        let dropped =
            if subscribed || self.filters.has_log_filters() { dropped } else { Vec::new() };
        self.filters.on_revert(number, &dropped);
        if subscribed {
            let _ = self.heads.send(filters::ChainEvent::Reverted(Arc::new(dropped)));
        }
    }

    /// Starts production on `chain` with the block clock at `offset`, `pool`
    /// submitted again; what was acknowledged and does not wait again is
    /// noted as dropped for `reason`.
    fn start_production(
        self: &Arc<Self>,
        slot: &mut Option<BankingStage<EvmExecutor>>,
        chain: Chain,
        stopped: Stopped,
        offset: i64,
        pool: Vec<Bytes>,
        reason: &str,
    ) -> Result<(), NodeError> {
        let Stopped { mining, coinbase, gone } = stopped;
        let r = &self.rebuild;
        let config = BankingStageConfig { mining, coinbase, ..r.stage.config.clone() };
        let parts = StageParts { config, admission: r.stage.admission.clone(), hold: r.stage.hold };
        let stage = start_stage(&parts, self.executor.clone(), chain, &self.publisher);
        stage.set_time_offset(offset);
        spawn_follower(self, stage.blocks().clone(), stage.failure())?;
        self.requeue(&stage, pool, gone, reason);
        *slot = Some(stage);
        Ok(())
    }

    /// Submits `pool` (what was pooled at a snapshot) to `stage` again; what
    /// of `gone` (acknowledged, then dropped by the chain going back) does
    /// not wait again is noted as dropped for `reason`.
    fn requeue(
        &self,
        stage: &BankingStage<EvmExecutor>,
        pool: Vec<Bytes>,
        gone: Vec<B256>,
        reason: &str,
    ) {
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
        let lost: Vec<B256> = gone.into_iter().filter(|h| !waiting.contains(h)).collect();
        if !lost.is_empty() {
            let mut noted = self.dropped.lock();
            for hash in &lost {
                noted.note(*hash, reason.to_owned());
            }
            let shown = &lost[..lost.len().min(8)];
            tracing::info!(target: "lanes::node", count = lost.len(), first = ?shown, %reason, "transactions dropped");
        }
    }
}
