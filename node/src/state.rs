//! [`NodeState`]: what the RPC methods, the follower thread, a revert and
//! the cluster share (the banking stage, the ledger, subscriptions, dev
//! controls), and its reads: the head, blocks, the state at a block,
//! simulation banks, and transaction submission.

use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use alloy_consensus::Transaction as _;
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes};
use alloy_signer_local::PrivateKeySigner;
use lanes_accounts_db::{AccountHeader, AccountsRead, HistoryError, ReadView};
use lanes_banking_stage::{BankingStage, Mining, SystemWrites};
use lanes_eth::StateTries;
use lanes_evm_adapter::{EvmExecutor, EvmTx, TxRules};
use lanes_runtime::{Bank, BankConfig, BlockEnv, BlockHeader, LatticeHash, RECENT_HASHES};
use parking_lot::{Mutex, RwLock};
use tokio::sync::{broadcast, watch};

use crate::chain_dir::Rebuild;
use crate::config::RpcLimits;
use crate::dev::DevState;
use crate::error::{Res, RpcError, internal};
use crate::ledger::{Ledger, LedgerBlock};
use crate::publish::{Dropped, Publisher, Totals, Waiters, Waiting};
use crate::relay::Link;
use crate::state_file::StateFile;
use crate::{filters, permits};

/// How long a dev control waits for its block to be served.
pub(crate) const SERVE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// An account's header, the default one if it does not exist.
pub(crate) fn account(view: &ReadView, address: &Address) -> Res<AccountHeader> {
    Ok(view.get_account(address).map_err(internal)?.unwrap_or_default())
}

/// The code of the account `header`, empty when it has none.
pub(crate) fn code_of(view: &ReadView, header: &AccountHeader) -> Res<Bytes> {
    if !lanes_evm_adapter::has_code(&header.code_hash) {
        return Ok(Bytes::new());
    }
    Ok(view.get_code(&header.code_hash).map_err(internal)?.unwrap_or_default())
}

/// What the RPC methods and the follower thread share.
pub(crate) struct NodeState {
    /// The rules the chain's own transactions are read back with (any
    /// chain id: each was admitted under the one then in force).
    pub(crate) rules: TxRules,
    pub(crate) executor: Arc<EvmExecutor>,
    pub(crate) stage: RwLock<Option<BankingStage<EvmExecutor>>>,
    pub(crate) ledger: Arc<Ledger>,
    /// Serves each committed block on the stage's thread.
    pub(crate) publisher: Publisher,
    pub(crate) signers: &'static [PrivateKeySigner],
    /// A `--dev` node's impersonation and snapshots; `None` on any other
    /// node, which refuses dev-only methods (time, coinbase and state
    /// controls, impersonation, snapshots).
    pub(crate) dev: Option<DevState>,
    pub(crate) client_version: String,
    /// New blocks and reverts, in order, for subscriptions.
    pub(crate) heads: broadcast::Sender<filters::ChainEvent>,
    /// Poll filters, pending transactions and reverts' dropped blocks.
    pub(crate) filters: filters::Filters,
    /// Permits for expensive calls.
    pub(crate) heavy: permits::Permits,
    pub(crate) totals: Arc<Mutex<Totals>>,
    pub(crate) limits: RpcLimits,
    /// Sends waiting for their transaction's block (automine).
    pub(crate) waiters: Arc<Waiters>,
    /// Acknowledged transactions dropped since, and why
    /// (`lanes_transactionStatus`).
    pub(crate) dropped: Arc<Mutex<Dropped>>,
    /// How to rebuild the state and restart production (`evm_revert`).
    pub(crate) rebuild: Rebuild,
    /// The thread publishing the current stage's blocks.
    pub(crate) follower: Mutex<Option<JoinHandle<()>>>,
    /// Why block production stopped, once a failure (a full disk) stopped it.
    pub(crate) fatal: watch::Sender<Option<String>>,
    /// On a multi-node chain: where sends go besides this node's pool.
    pub(crate) cluster: OnceLock<Link>,
    /// The state tries `eth_getProof` built on an imported chain, each
    /// from the state of the block asked ([`PROOF_TRIES`] kept).
    pub(crate) proof_tries: StateTries,
    /// Numbers node-signed sends (`eth_sendTransaction`): one account's
    /// sends take their nonces one at a time, in the order they arrive.
    pub(crate) sends: SendOrder,
    /// The sidecars of the blob transactions this node took.
    pub(crate) blobs: crate::blobs::BlobStore,
    /// The verified sources and signatures `lanes_getContractAbi` and
    /// `lanes_lookupSignatures` answer from.
    pub(crate) abis: crate::explorer::abis::Abis,
    /// The senders of the transactions it took, by hash, so that serving
    /// them again recovers none ([`crate::senders`]).
    pub(crate) senders: crate::senders::Senders,
}

/// How many locks [`SendOrder`] spreads accounts over.
const SEND_LOCKS: usize = 16;

/// Locks that number node-signed sends. A send holds its account's lock
/// from reading the pending nonce until its transaction is in the pool, so
/// concurrent `eth_sendTransaction`s from one account each get their own
/// nonce; tokio's mutex is fair, so they are numbered in the order they
/// arrive. Accounts share [`SEND_LOCKS`] locks by their last byte.
#[derive(Default)]
pub(crate) struct SendOrder([tokio::sync::Mutex<()>; SEND_LOCKS]);

impl SendOrder {
    /// The lock `account`'s sends take.
    pub(crate) fn of(&self, account: &Address) -> &tokio::sync::Mutex<()> {
        &self.0[usize::from(account[19]) % SEND_LOCKS]
    }
}

/// State tries `eth_getProof` keeps built on an imported chain (each a
/// trie of the whole state, sharing nothing with the others).
pub(crate) const PROOF_TRIES: usize = 4;

impl NodeState {
    /// `lb`'s transactions, decoded, each sender taken from those recovered
    /// when it was sent where remembered ([`crate::senders`]).
    pub(crate) fn decode_txs(&self, lb: &LedgerBlock) -> Res<Vec<EvmTx>> {
        crate::convert::decode_txs(lb, &self.rules, |h| self.senders.get(h))
    }

    /// Transaction `index` of `lb`, decoded as [`Self::decode_txs`] does.
    pub(crate) fn decode_tx(&self, lb: &LedgerBlock, index: usize) -> Res<EvmTx> {
        crate::convert::decode_tx(lb, index, &self.rules, |h| self.senders.get(h))
    }

    /// Whether `eth_sendTransaction` sends as `address` without its key
    /// (a dev node's impersonation).
    pub(crate) fn impersonates(&self, address: &Address) -> bool {
        self.dev.as_ref().is_some_and(|dev| dev.impersonates(address))
    }

    /// Why `hash` was dropped, if it was: the pool's discards since the last
    /// look (a replacement, a used nonce) are noted first, so a question
    /// between blocks sees them.
    pub(crate) fn dropped_reason(&self, hash: &B256) -> Res<Option<String>> {
        let discarded = self.stage(|st| st.take_discarded())?;
        let mut dropped = self.dropped.lock();
        for (hash, reason) in discarded {
            dropped.note(hash, reason);
        }
        Ok(dropped.reason(hash).map(str::to_owned))
    }

    /// The chain id transactions are signed for now (`anvil_setChainId`
    /// changes it).
    pub(crate) fn chain_id(&self) -> u64 {
        self.executor.chain_id()
    }

    /// The served head's number.
    pub(crate) fn head(&self) -> u64 {
        self.ledger.head().unwrap_or(0)
    }

    /// The next nonce of `address`, counting what the pool holds.
    pub(crate) fn pending_nonce(&self, address: &Address) -> Res<u64> {
        // The pool first: a transaction leaves it only after its block is
        // the head, so one committed between the two reads is counted by
        // the second (read the other way round, it could be in neither).
        let pooled = self.stage(|st| st.pending_nonce(address))?;
        let committed = account(&self.state_at(None)?, address)?.nonce;
        Ok(pooled.map_or(committed, |n| n.max(committed)))
    }

    /// A block of the ledger, `None` past the head.
    pub(crate) fn block(&self, number: u64) -> Res<Option<Arc<LedgerBlock>>> {
        self.ledger.block(number).map_err(internal)
    }

    /// The number a tag names; `None` for a number past the head.
    pub(crate) fn resolve(&self, tag: BlockNumberOrTag) -> Option<u64> {
        let head = self.head();
        match tag {
            BlockNumberOrTag::Number(n) => (n <= head).then_some(n),
            BlockNumberOrTag::Earliest => Some(0),
            _ => Some(head),
        }
    }

    /// The served block a block id names (by number, tag or hash).
    pub(crate) fn resolve_id(&self, id: alloy_eips::BlockId) -> Option<u64> {
        match id {
            alloy_eips::BlockId::Number(tag) => self.resolve(tag),
            alloy_eips::BlockId::Hash(h) => self.ledger.number_of(&h.block_hash),
        }
    }

    /// The block a block id names; `None` for one the ledger does not hold.
    pub(crate) fn block_at(&self, id: BlockId) -> Res<Option<Arc<LedgerBlock>>> {
        self.resolve_id(id).map(|n| self.block(n)).transpose().map(Option::flatten)
    }

    /// The block holding a transaction, and its index there.
    pub(crate) fn find_tx(&self, hash: &B256) -> Res<Option<(Arc<LedgerBlock>, usize)>> {
        let Some((number, index)) = self.ledger.locate_tx(hash) else { return Ok(None) };
        Ok(self.block(number)?.map(|lb| (lb, index as usize)))
    }

    /// Runs `f` on the banking stage, or fails once it has shut down.
    pub(crate) fn stage<R>(&self, f: impl FnOnce(&BankingStage<EvmExecutor>) -> R) -> Res<R> {
        let guard = self.stage.read();
        let stage =
            guard.as_ref().ok_or_else(|| RpcError::Internal("node is shutting down".into()))?;
        Ok(f(stage))
    }

    /// Writes `writes` in a block of their own (a dev node's state
    /// control, recorded in the ledger), and answers once that block is
    /// served; its number.
    pub(crate) fn system_block(&self, writes: SystemWrites) -> Res<u64> {
        let number = self.stage(|st| st.apply_system(writes))?.map_err(internal)?;
        let number = number.map_err(|e| RpcError::Invalid(e.to_string()))?;
        if !self.ledger.wait_published(number, SERVE_WAIT) {
            return Err(internal(format!("block {number} was committed but not served in time")));
        }
        Ok(number)
    }

    /// Loads a state file's accounts over the latest state, in a block of
    /// their own; its number.
    pub(crate) fn load_state(&self, file: &StateFile) -> Res<u64> {
        let entries = file.entries().map_err(|e| RpcError::Invalid(e.to_string()))?;
        self.system_block(Box::new(move |_| Ok(entries)))
    }

    /// The latest state as a state file.
    pub(crate) fn dump_state(&self) -> Res<StateFile> {
        let view = self.stage(|st| st.state())?;
        StateFile::dump(&view).map_err(internal)
    }

    /// The block a state method's block id names: `None` for the latest
    /// state (latest, pending, safe, finalized), else a number at most the
    /// head's.
    pub(crate) fn state_block(&self, at: Option<BlockId>) -> Res<Option<u64>> {
        let asked = match at {
            None | Some(BlockId::Number(BlockNumberOrTag::Latest | BlockNumberOrTag::Pending)) => {
                return Ok(None);
            }
            Some(BlockId::Number(BlockNumberOrTag::Safe | BlockNumberOrTag::Finalized)) => {
                return Ok(None);
            }
            Some(BlockId::Number(BlockNumberOrTag::Number(n))) => n,
            Some(BlockId::Number(BlockNumberOrTag::Earliest)) => 0,
            Some(BlockId::Hash(h)) => self.ledger.number_of(&h.block_hash).ok_or_else(|| {
                RpcError::NotFound(format!("unknown block hash {}", h.block_hash))
            })?,
        };
        let head = self.head();
        if asked > head {
            return Err(RpcError::NotFound(format!(
                "block {asked} is past the head (block {head})"
            )));
        }
        Ok(Some(asked))
    }

    /// The state after a block id's block, while the state keeps it
    /// (`--history-blocks`).
    pub(crate) fn state_at(&self, at: Option<BlockId>) -> Res<ReadView> {
        match self.state_block(at)? {
            None => self.stage(|st| st.state()),
            Some(n) => self.state_after(n),
        }
    }

    /// The state after block `n` (at most the head), while the state keeps
    /// it.
    fn state_after(&self, n: u64) -> Res<ReadView> {
        let latest = self.stage(|st| st.state())?;
        latest.at_block(n).map_err(|e| match e {
            HistoryError::Pruned { block, oldest } => RpcError::Pruned { asked: block, oldest },
            e => internal(e),
        })
    }

    /// The block whose environment code run at `at` sees: the block named,
    /// the head for `latest` (and for no block, `safe`, `finalized`), as
    /// geth and anvil run `eth_call`; `None` for `pending`, the next block.
    pub(crate) fn env_block(&self, at: Option<BlockId>) -> Res<Option<u64>> {
        match at {
            Some(BlockId::Number(BlockNumberOrTag::Pending)) => Ok(None),
            _ => Ok(Some(self.state_block(at)?.unwrap_or_else(|| self.head()))),
        }
    }

    /// A bank for simulations (`eth_call`, `eth_estimateGas`, ...): at a
    /// block (a number, a hash, `latest`), on the state after it, as that
    /// block (its number, time, coinbase and fees), as geth and anvil do;
    /// at `pending`, on the latest state as the next block.
    pub(crate) fn sim_bank(&self, at: Option<BlockId>) -> Res<Bank> {
        let (view, env) = self.sim_env(at)?;
        let parent = env.recent_hashes.first().copied().unwrap_or_default();
        // Never sealed: the codec does not matter.
        Ok(Bank::new(view, parent, LatticeHash::identity(), env, BankConfig::default()))
    }

    /// The state and block environment [`Self::sim_bank`] runs on. A block
    /// named by number or hash: the state after it and its own header's
    /// environment. `latest` (or none): the head's state and header, taken
    /// together from the stage, so a block committed meanwhile (and not yet
    /// in the ledger) is seen whole or not at all. `pending`: the latest
    /// state as the next block, as it would be opened now (its number, a set
    /// next timestamp or the clock's, the next base fee, gas limit and
    /// coinbase), which is what Hardhat and anvil run `pending` at.
    pub(crate) fn sim_env(&self, at: Option<BlockId>) -> Res<(ReadView, BlockEnv)> {
        let pending = matches!(at, Some(BlockId::Number(BlockNumberOrTag::Pending)));
        if let Some(n) = self.state_block(at)? {
            let view = self.state_after(n)?;
            let lb = self.block(n)?.ok_or_else(|| internal(format!("block {n} unreadable")))?;
            return Ok((view, self.header_env(&lb.block.header)));
        }
        type Next = (u64, u64, Address, u64);
        let ((head, hash, view), next): (_, Option<Next>) = self.stage(|st| {
            let next = pending.then(|| {
                (st.next_timestamp(), st.next_base_fee(), st.coinbase(), st.next_gas_limit())
            });
            (st.head_state(), next)
        })?;
        let Some((timestamp, base_fee, coinbase, gas_limit)) = next else {
            return Ok((view, self.header_env(&head)));
        };
        let recent_hashes = self.recent_hashes(head.number + 1, hash);
        let env = BlockEnv {
            number: head.number + 1,
            timestamp,
            coinbase,
            base_fee,
            gas_limit,
            recent_hashes,
            random: hash,
            parent: Some(Arc::new(head)),
        };
        Ok((view, env))
    }

    /// The hashes of the (at most 256) blocks before block `number`, newest
    /// first, given the first (`parent`, the hash of block `number - 1`,
    /// which a head the ledger does not serve yet knows): the rest from the
    /// ledger. None for block 0.
    fn recent_hashes(&self, number: u64, parent: B256) -> Vec<B256> {
        let Some(before) = number.checked_sub(1) else { return Vec::new() };
        let mut hashes = Vec::with_capacity(RECENT_HASHES);
        hashes.push(parent);
        hashes.extend(self.hashes_before(before).take(RECENT_HASHES - 1));
        hashes
    }

    /// The hashes of the (at most 256) blocks before block `number`, newest
    /// first.
    pub(crate) fn hashes_before(&self, number: u64) -> impl Iterator<Item = B256> + '_ {
        (0..number).rev().take(RECENT_HASHES).map_while(|n| self.ledger.hash_of(n))
    }

    /// The next block's base fee: on a chain imported from Ethereum,
    /// EIP-1559's from the head's header (its blocks follow Ethereum's fee
    /// rules); on lanes' own chains the stage's (fixed from genesis unless a
    /// dev method sets it).
    pub(crate) fn next_base_fee(&self) -> Res<u64> {
        if self.rebuild.place().spec.imported.is_some()
            && let Some(lb) = self.block(self.head())?
        {
            let header = crate::convert::header(&lb.block, self.block_form()).inner;
            let params = alloy_eips::eip1559::BaseFeeParams::ethereum();
            if let Some(fee) = header.next_block_base_fee(params) {
                return Ok(fee);
            }
        }
        self.stage(|st| st.next_base_fee())
    }

    /// The executor that runs code in block `number`'s environment (a
    /// trace of its transactions, a call at it): on a chain imported from
    /// Ethereum, under that block's own fork, blob schedule and difficulty,
    /// as the chain ran it; otherwise, and for the next block (`None`), the
    /// node's.
    pub(crate) fn executor_at(
        &self,
        number: Option<u64>,
    ) -> Res<std::borrow::Cow<'_, EvmExecutor>> {
        let place = self.rebuild.place();
        let (Some(eth), Some(number)) = (&place.spec.imported, number) else {
            return Ok(std::borrow::Cow::Borrowed(&*self.executor));
        };
        let lb =
            self.block(number)?.ok_or_else(|| internal(format!("block {number} unreadable")))?;
        let header = crate::convert::header(&lb.block, self.block_form()).inner;
        let fork =
            eth.spec_at(header.number, header.timestamp, eth.is_merged_block(header.difficulty));
        let executor = lanes_eth::block_executor(eth, &header, fork)
            .with_call_limits(self.executor.config().call_limits)
            .with_shared_code(self.executor.shared_code().clone());
        Ok(std::borrow::Cow::Owned(executor))
    }

    /// A block's blob base fee (EIP-4844): from its excess blob gas under
    /// its fork's blob schedule; `None` before Cancun.
    pub(crate) fn blob_fee(&self, lb: &LedgerBlock) -> Option<u128> {
        let (params, header) = self.blob_market(lb)?;
        Some(params.calc_blob_fee(header.excess_blob_gas.unwrap_or(0)))
    }

    /// A block's blob schedule and its Ethereum header (its blob gas used and
    /// excess); `None` before Cancun.
    pub(crate) fn blob_market(
        &self,
        lb: &LedgerBlock,
    ) -> Option<(alloy_eips::eip7840::BlobParams, alloy_consensus::Header)> {
        let header = crate::convert::header(&lb.block, self.block_form()).inner;
        let params = match &self.rebuild.place().spec.imported {
            Some(eth) => eth.blob_params(header.timestamp),
            None => lanes_evm_adapter::blob_params_of(self.executor.config().spec),
        };
        Some((params?, header))
    }

    /// How this chain's blocks show as Ethereum blocks.
    pub(crate) fn block_form(&self) -> crate::convert::BlockForm {
        match self.rebuild.place().spec.imported {
            Some(_) => crate::convert::BlockForm::Imported,
            None => crate::convert::BlockForm::Lanes(self.executor.config().spec),
        }
    }

    /// Refuses `what` on a chain imported from Ethereum blocks: its blocks
    /// are Ethereum's, and it takes no transactions and builds none.
    pub(crate) fn not_imported(&self, what: &str) -> Res<()> {
        if self.rebuild.place().spec.imported.is_some() {
            return Err(RpcError::Unsupported(format!(
                "{what}: this node serves a chain imported from Ethereum blocks (lanes-validator import); it builds no blocks of its own"
            )));
        }
        Ok(())
    }

    /// The header of `h`'s parent (`None` for block 0, or one the history
    /// no longer reads).
    fn parent_header(&self, h: &BlockHeader) -> Option<Arc<BlockHeader>> {
        let lb = self.block(h.number.checked_sub(1)?).ok()??;
        Some(Arc::new(lb.block.header.clone()))
    }

    /// The environment a served block ran in: its header's fields, the
    /// hashes of the 256 blocks before it (BLOCKHASH), and its parent's hash
    /// as PREVRANDAO.
    pub(crate) fn header_env(&self, h: &BlockHeader) -> BlockEnv {
        let recent_hashes = self.recent_hashes(h.number, h.parent_hash);
        let mut env = BlockEnv {
            number: h.number,
            timestamp: h.timestamp,
            coinbase: h.coinbase,
            base_fee: h.base_fee,
            gas_limit: h.gas_limit,
            recent_hashes,
            random: h.parent_hash,
            parent: self.parent_header(h),
        };
        // An imported block's PREVRANDAO is its Ethereum header's mix hash.
        if self.rebuild.place().spec.imported.is_some()
            && let Ok(data) = lanes_eth::EthBlockData::from_extra(&h.extra)
        {
            env.random = data.header.mix_hash;
        }
        env
    }

    /// Decodes and submits a raw transaction (the stage's admission checks
    /// it: `lanes_evm_adapter::EvmAdmission`); under automine, also a wait
    /// that ends once the transaction's block is committed, for a
    /// transaction that is its sender's next (one behind a nonce gap would
    /// wait for the gap). The sender is recovered here, on
    /// the task that received the transaction (no hop to a sigverify thread
    /// for a lone send); the stage counts that time as sigverify time.
    pub(crate) fn send_raw_waiting(&self, raw: &[u8]) -> Res<(B256, Option<Waiting>)> {
        let started = std::time::Instant::now();
        let rules = TxRules { require_sidecars: true, ..self.executor.rules() };
        let tx = EvmTx::decode(raw, &rules)?;
        let recovered_in = started.elapsed();
        let hash = tx.hash();
        self.senders.put(hash, tx.sender());
        // No pruning pass runs between keeping the sidecar and pooling its
        // transaction (or refusing it, which removes the sidecar).
        let blobs = tx.sidecar().is_some();
        let _sending = blobs.then(|| self.blobs.sending.read());
        if let Some(sidecar) = tx.sidecar() {
            self.blobs.keep(hash, sidecar).map_err(|e| {
                RpcError::Internal(format!("keeping the blobs of {hash} in the data folder: {e}"))
            })?;
        }
        let automine = self.stage(|st| st.mining())? == Mining::OnDemand;
        let wait = (automine && self.pending_nonce(&tx.sender())? == tx.envelope().nonce())
            .then(|| self.waiters.register(hash));
        let result = self.stage(|st| st.submit_decoded(vec![tx], recovered_in))?;
        match result.into_iter().next().expect("one result per transaction") {
            Ok(hash) => {
                self.filters.on_pending(hash);
                Ok((hash, wait))
            }
            Err(e) => {
                if wait.is_some() {
                    self.waiters.forget(&hash);
                }
                // Refused, and not the copy of one pending or included.
                let elsewhere = || {
                    self.find_tx(&hash).ok().flatten().is_some()
                        || self.stage(|st| st.pooled(&hash).is_some()).unwrap_or(true)
                };
                if blobs
                    && !elsewhere()
                    && let Err(e) = self.blobs.remove(&hash)
                {
                    tracing::warn!(target: "lanes::node", tx = %hash, "removing the blobs of a refused transaction: {e}");
                }
                Err(e.into())
            }
        }
    }

    /// One pruning pass over the kept blob sidecars: each whose transaction
    /// is neither in the banking stage nor in a block goes, and each whose
    /// block is older than the retention (by the head's timestamp). Answers
    /// how many went.
    ///
    /// The stage is asked first: a transaction leaves it (pooled, running,
    /// in the block being built) only once its block is appended to the
    /// ledger, so asked in this order one of the two finds it, also while
    /// its block is appended and not yet served.
    pub(crate) fn prune_blobs(&self) -> Res<usize> {
        let _alone = self.blobs.sending.write();
        let kept = self.blobs.kept().map_err(internal)?;
        if kept.is_empty() {
            return Ok(0);
        }
        let now = self.block(self.head())?.map_or(0, |b| b.block.header.timestamp);
        let retention = self.blobs.retention.as_secs();
        let mut removed = 0;
        for tx in kept {
            if self.stage(|st| st.holds(&tx))? {
                continue;
            }
            let keep = match self.ledger.locate_appended_tx(&tx) {
                None => false,
                Some((number, _)) => match self.block(number)? {
                    Some(block) => now.saturating_sub(block.block.header.timestamp) < retention,
                    // Appended, not served yet: the newest block.
                    None => true,
                },
            };
            if !keep {
                self.blobs.remove(&tx).map_err(internal)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}
