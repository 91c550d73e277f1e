//! The dev-node mining methods ([`DevApiServer`]) over the banking stage's
//! mining modes.

use std::sync::Arc;
use std::time::Duration;

use alloy_eips::eip4844::Blob;
use alloy_eips::eip7594::BlobTransactionSidecarVariant;
use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256};
use jsonrpsee::core::RpcResult;
use lanes_accounts_db::{AccountHeader, AccountsRead, DEFAULT_MAX_CODE_LEN, Entry};
use lanes_banking_stage::{Mining, SystemWrites};
use lanes_evm_adapter::EvmTx;
use lanes_runtime::BankError;

use crate::NodeState;
use crate::dev::{DevState, Snapshot};
use crate::error::{NodeError, Res, RpcError, internal};
use crate::fork::ForkConfig;
use alloy_rpc_types_anvil::{ForkedNetwork, Metadata, NodeEnvironment, NodeForkConfig, NodeInfo};
use alloy_rpc_types_trace::geth::{CallConfig, GethDebugTracingOptions, GethTrace};
use alloy_sol_types::SolCall;
use lanes_evm_adapter::{CallRequest, Overlay};
use lanes_rpc::api::DevApiServer;
use lanes_rpc::types::{MineOptions, Quantity};

use crate::SUGGESTED_TIP;
use crate::rpc::blocks::rpc_block;
use crate::rpc::call::sim_error;
use crate::rpc::tracing::trace_block;
use crate::state_file::StateFile;

/// Most blocks one mine request seals.
const MAX_MINE_BLOCKS: u64 = 100_000;

/// How many blocks an `evm_mine` request asks for (default 1), and the
/// first one's timestamp.
fn mine_request(options: Option<MineOptions>) -> (u64, Option<u64>) {
    match options {
        None => (1, None),
        Some(MineOptions::Timestamp(t)) => (1, Some(t.0)),
        Some(MineOptions::Options { timestamp, blocks }) => {
            (blocks.map_or(1, |b| b.0), timestamp.map(|t| t.0))
        }
    }
}

/// The dev namespaces of a node.
pub(crate) struct DevRpc {
    state: Arc<NodeState>,
    /// This run's id (`anvil_metadata`).
    instance_id: B256,
}

impl DevRpc {
    pub(crate) fn new(state: Arc<NodeState>) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let seed = [now.to_be_bytes(), u128::from(std::process::id()).to_be_bytes()].concat();
        Self { state, instance_id: keccak256(seed) }
    }

    /// Finds the storage slot of `token` that the view call `data` answers
    /// from (one of the slots it reads, which, set to `amount`, makes the
    /// call answer `amount`), and sets it to `amount` in a block of its own.
    fn set_erc20_slot(
        &self,
        method: &str,
        what: &str,
        token: Address,
        data: Bytes,
        amount: U256,
    ) -> Res<()> {
        self.dev_only(method)?;
        let s = &self.state;
        let request = CallRequest { to: Some(token), data, ..CallRequest::default() };
        let slot = s.heavy.run(|| -> Res<Option<B256>> {
            let bank = s.sim_bank(None)?;
            let (list, _) = s.executor.create_access_list(&bank, &request).map_err(sim_error)?;
            let (view, env) = s.sim_env(None)?;
            let slots = list.0.iter().filter(|item| item.address == token);
            for slot in slots.flat_map(|item| item.storage_keys.iter()) {
                let mut overlay = Overlay::new(view.clone(), &env);
                overlay.set_storage(token, (*slot).into(), amount).map_err(sim_error)?;
                let sim =
                    s.executor.call_overlay(&mut overlay, &request, false).map_err(sim_error)?;
                let answer = sim.output.get(..32).map(U256::from_be_slice);
                if sim.success && answer == Some(amount) {
                    return Ok(Some(*slot));
                }
            }
            Ok(None)
        })?;
        let slot = slot.ok_or_else(|| {
            RpcError::Invalid(format!("Unable to set ERC20 {what}, no slot found"))
        })?;
        self.system(method, Box::new(move |_| Ok(vec![Entry::Storage(token, slot, amount)])))
    }

    /// Block `number` with its transactions whole, each with its `output`
    /// and, when it failed, its `revertReason` (`evm_mine_detailed`).
    fn detailed_block(&self, number: u64) -> Res<serde_json::Value> {
        let s = &self.state;
        let block = rpc_block(s, number, true)?
            .ok_or_else(|| internal(format!("mined block {number} is not served")))?;
        let mut block = serde_json::to_value(block).map_err(internal)?;
        let opts = GethDebugTracingOptions::call_tracer(CallConfig::default());
        let traces = s.heavy.run(|| trace_block(s, number, |_| true, &opts))?;
        let txs = block.get_mut("transactions").and_then(|t| t.as_array_mut());
        for (tx, (_, trace)) in txs.into_iter().flatten().zip(traces) {
            let (GethTrace::CallTracer(frame), Some(tx)) = (trace, tx.as_object_mut()) else {
                continue;
            };
            let output = frame.output.unwrap_or_default();
            tx.insert("output".into(), serde_json::to_value(output).map_err(internal)?);
            if let Some(reason) = frame.revert_reason {
                tx.insert("revertReason".into(), reason.into());
            }
        }
        Ok(block)
    }

    /// Removes the waiting transactions `pick` chooses, noting each dropped
    /// by `method`; their hashes.
    fn remove_pooled(&self, method: &str, pick: impl FnMut(&EvmTx) -> bool) -> Res<Vec<B256>> {
        let removed = self.state.stage(|st| st.remove_pooled(pick))?;
        let mut dropped = self.state.dropped.lock();
        for hash in &removed {
            dropped.note(*hash, format!("dropped from the pool by {method}"));
        }
        Ok(removed)
    }

    /// The dev node's own state; refuses a dev-only method on a node
    /// started without `--dev`.
    fn dev_only(&self, method: &str) -> Res<&DevState> {
        self.state.dev.as_ref().ok_or_else(|| {
            RpcError::Invalid(format!(
                "{method} changes the chain outside its transactions; only a dev node serves it (start lanes-validator with --dev)"
            ))
        })
    }

    /// Writes `writes` in a block of their own (a dev node's state
    /// control), and answers once that block is served.
    fn system(&self, method: &str, writes: SystemWrites) -> Res<()> {
        self.dev_only(method)?;
        self.state.system_block(writes).map(drop)
    }

    /// The writes that change one field of `address`'s account (`change`)
    /// in the state the system block opens on, plus `more`.
    fn account_with(
        address: Address,
        change: impl FnOnce(&mut AccountHeader) + Send + 'static,
        more: Vec<Entry>,
    ) -> SystemWrites {
        Box::new(move |view| {
            let read = view.get_account(&address).map_err(|e| BankError::State(e.to_string()))?;
            let mut header = read.unwrap_or_default();
            change(&mut header);
            Ok([Entry::Account(address, header)].into_iter().chain(more).collect())
        })
    }

    /// Refuses a method that makes or times blocks on a multi-node chain,
    /// where consensus decides every block.
    fn not_on_cluster(&self, method: &str) -> Res<()> {
        self.state.not_imported(method)?;
        if self.state.cluster.get().is_some() {
            return Err(RpcError::Invalid(format!(
                "{method} is refused on a multi-validator chain: consensus decides every block"
            )));
        }
        Ok(())
    }

    fn set_mining(&self, mining: Mining, block_time: Option<Duration>) -> Res<()> {
        self.not_on_cluster("setting the mining mode")?;
        self.state.stage(|st| st.set_mining(mining, block_time))?.map_err(internal)
    }

    /// Seals `blocks` blocks now, the first stamped `first`, then
    /// `interval` seconds apart.
    fn mine(&self, blocks: u64, first: Option<u64>, interval: Option<u64>) -> Res<u64> {
        self.not_on_cluster("mining on request (evm_mine, anvil_mine, hardhat_mine)")?;
        if blocks > MAX_MINE_BLOCKS {
            return Err(RpcError::Limit(format!(
                "asked to mine {blocks} blocks, more than the {MAX_MINE_BLOCKS} one request may"
            )));
        }
        let last = self.state.stage(|st| st.mine(blocks, first, interval))?.map_err(internal)?;
        // Committed is not yet served: answer once a read sees the blocks.
        if !self.state.ledger.wait_published(last, crate::state::SERVE_WAIT) {
            return Err(internal(format!("block {last} was committed but not served in time")));
        }
        Ok(last)
    }
}

impl DevApiServer for DevRpc {
    fn set_automine(&self, enabled: bool) -> RpcResult<()> {
        let mining = if enabled { Mining::OnDemand } else { Mining::Manual };
        Ok(self.set_mining(mining, None)?)
    }

    fn get_automine(&self) -> RpcResult<bool> {
        Ok(self.state.stage(|st| st.mining())? == Mining::OnDemand)
    }

    fn set_interval_mining(&self, seconds: Quantity) -> RpcResult<()> {
        match seconds.0 {
            0 => Ok(self.set_mining(Mining::Manual, None)?),
            s => Ok(self.set_mining(Mining::Interval, Some(Duration::from_secs(s)))?),
        }
    }

    fn evm_mine(&self, options: Option<MineOptions>) -> RpcResult<String> {
        let (blocks, first) = mine_request(options);
        self.mine(blocks, first, None)?;
        Ok("0x0".into())
    }

    fn anvil_mine(&self, blocks: Option<Quantity>, interval: Option<Quantity>) -> RpcResult<()> {
        self.mine(blocks.map_or(1, |b| b.0), None, interval.map(|i| i.0))?;
        Ok(())
    }

    fn hardhat_mine(
        &self,
        blocks: Option<Quantity>,
        interval: Option<Quantity>,
    ) -> RpcResult<bool> {
        self.anvil_mine(blocks, interval)?;
        Ok(true)
    }

    fn increase_time(&self, seconds: Quantity) -> RpcResult<i64> {
        self.dev_only("evm_increaseTime")?;
        Ok(self.state.stage(|st| st.increase_time(seconds.0))?)
    }

    fn set_next_block_timestamp(&self, timestamp: Quantity) -> RpcResult<()> {
        self.dev_only("evm_setNextBlockTimestamp")?;
        let set = self.state.stage(|st| st.set_next_timestamp(timestamp.0))?;
        Ok(set.map_err(|e| RpcError::Invalid(e.to_string()))?)
    }

    fn set_time(&self, timestamp: Quantity) -> RpcResult<u64> {
        self.dev_only("anvil_setTime")?;
        Ok(self.state.stage(|st| st.set_time(timestamp.0))?)
    }

    fn set_block_timestamp_interval(&self, seconds: Quantity) -> RpcResult<()> {
        self.dev_only("anvil_setBlockTimestampInterval")?;
        self.state.stage(|st| st.set_block_interval(Some(seconds.0)))?;
        Ok(())
    }

    fn remove_block_timestamp_interval(&self) -> RpcResult<bool> {
        self.dev_only("anvil_removeBlockTimestampInterval")?;
        Ok(self.state.stage(|st| st.set_block_interval(None))?)
    }

    fn set_logging_enabled(&self, _enabled: bool) -> RpcResult<()> {
        Ok(())
    }

    fn set_next_block_base_fee(&self, base_fee: U256) -> RpcResult<()> {
        self.dev_only("anvil_setNextBlockBaseFeePerGas")?;
        let base_fee = u64::try_from(base_fee).map_err(|_| {
            RpcError::Invalid(format!(
                "base fee {base_fee} is over the largest lanes keeps (2^64 - 1)"
            ))
        })?;
        Ok(self.state.stage(|st| st.set_next_base_fee(base_fee))?)
    }

    fn set_coinbase(&self, coinbase: Address) -> RpcResult<()> {
        self.dev_only("anvil_setCoinbase")?;
        Ok(self.state.stage(|st| st.set_coinbase(coinbase))?)
    }

    fn set_balance(&self, address: Address, balance: U256) -> RpcResult<()> {
        let writes = Self::account_with(address, move |a| a.balance = balance, Vec::new());
        Ok(self.system("anvil_setBalance", writes)?)
    }

    fn set_nonce(&self, address: Address, nonce: Quantity) -> RpcResult<()> {
        let writes = Self::account_with(address, move |a| a.nonce = nonce.0, Vec::new());
        Ok(self.system("anvil_setNonce", writes)?)
    }

    fn set_code(&self, address: Address, code: Bytes) -> RpcResult<()> {
        // The accounts database keeps no longer code; refused before
        // anything is written.
        if code.len() > DEFAULT_MAX_CODE_LEN {
            return Err(RpcError::Limit(format!(
                "code of {} bytes is over the {DEFAULT_MAX_CODE_LEN}-byte limit of the accounts database",
                code.len()
            ))
            .into());
        }
        let hash = if code.is_empty() { KECCAK256_EMPTY } else { keccak256(&code) };
        let more = if code.is_empty() { Vec::new() } else { vec![Entry::Code(hash, code)] };
        let writes = Self::account_with(address, move |a| a.code_hash = hash, more);
        Ok(self.system("anvil_setCode", writes)?)
    }

    fn snapshot(&self) -> RpcResult<Quantity> {
        let dev = self.dev_only("evm_snapshot")?;
        let (block, hash, offset, pool) = self.state.stage(|st| {
            let pool = st.queued().iter().map(|tx| tx.encoded().clone()).collect();
            (st.head().number, st.head_hash(), st.time_offset(), pool)
        })?;
        Ok(Quantity(dev.take_snapshot(block, hash, offset, pool)))
    }

    fn revert(&self, id: Quantity) -> RpcResult<bool> {
        // This id and every later one are used up, as in hardhat.
        let Some(snapshot) = self.dev_only("evm_revert")?.pop_snapshot(id.0) else {
            return Ok(false);
        };
        let Snapshot { block, hash, offset, pool, .. } = snapshot;
        // A snapshot taken on blocks a revert raced away names no block of
        // this chain.
        let ours = self.state.ledger.last_appended().is_some_and(|last| block <= last)
            && self.state.ledger.read(block).is_ok_and(|b| b.block.hash == hash);
        if !ours {
            return Ok(false);
        }
        self.state.revert_to(block, offset, pool).map_err(internal)?;
        Ok(true)
    }

    fn reset(&self, options: Option<serde_json::Value>) -> RpcResult<()> {
        let dev = self.dev_only("anvil_reset")?;
        let rebuild = &self.state.rebuild;
        let current = rebuild.place().fork.clone();
        // As anvil: with `forking` (even `null`), fork again (at its
        // `blockNumber`, else the upstream's latest; from its `jsonRpcUrl`,
        // else the upstream forked now); without it, run no fork.
        // anvil also takes the forking object itself: `[{jsonRpcUrl, blockNumber}]`.
        let untagged = options
            .as_ref()
            .filter(|o| o.get("jsonRpcUrl").is_some() || o.get("blockNumber").is_some());
        let forking = options.as_ref().and_then(|o| o.get("forking")).or(untagged);
        let field = |name| forking.and_then(|f| f.get(name)).filter(|v| !v.is_null());
        let url = match field("jsonRpcUrl") {
            Some(url) => Some(
                url.as_str()
                    .ok_or_else(|| RpcError::Params("forking.jsonRpcUrl: not a string".into()))?
                    .to_owned(),
            ),
            None => current.as_ref().map(|f| f.upstream.url()),
        };
        let block_number = field("blockNumber")
            .map(|n| {
                let n = serde_json::from_value::<Quantity>(n.clone())
                    .map_err(|e| RpcError::Params(format!("forking.blockNumber: {e}")))?;
                i64::try_from(n.0)
                    .map_err(|_| RpcError::Params("forking.blockNumber: too large".into()))
            })
            .transpose()?;
        let to = match (forking, url) {
            (Some(_), Some(url)) => {
                let limits = rebuild.fork_limits.clone();
                Some(ForkConfig { url, block_number, chain_id: None, limits })
            }
            // viem's `reset()` sends `{forking: {blockNumber: null}}`: on a
            // node running no fork, a reset of its chain.
            (Some(_), None) | (None, _) => None,
        };
        match (&to, current) {
            (None, None) => self.state.revert_to(self.state.ledger.first(), 0, Vec::new()),
            _ => self.state.switch_chain(to),
        }
        .map_err(|e| match e {
            NodeError::Config(why) => RpcError::Invalid(why),
            e => internal(e),
        })?;
        // Only once it went through: a failed switch leaves the node as it was.
        dev.clear();
        Ok(())
    }

    fn set_rpc_url(&self, url: String) -> RpcResult<()> {
        self.dev_only("anvil_setRpcUrl")?;
        let Some(fork) = self.state.rebuild.place().fork.clone() else {
            return Err(RpcError::Invalid(
                "this node was not started as a fork: start it with --fork-url".into(),
            )
            .into());
        };
        fork.upstream.set_url(&url);
        Ok(())
    }

    fn impersonate_account(&self, address: Address) -> RpcResult<()> {
        self.dev_only("anvil_impersonateAccount")?.impersonate(address);
        Ok(())
    }

    fn stop_impersonating_account(&self, address: Address) -> RpcResult<()> {
        self.dev_only("anvil_stopImpersonatingAccount")?.stop_impersonating(&address);
        Ok(())
    }

    fn auto_impersonate_account(&self, enabled: bool) -> RpcResult<()> {
        self.dev_only("anvil_autoImpersonateAccount")?.set_auto_impersonate(enabled);
        Ok(())
    }

    fn drop_transaction(&self, hash: B256) -> RpcResult<Option<B256>> {
        self.dev_only("anvil_dropTransaction")?;
        let removed = self.remove_pooled("anvil_dropTransaction", |tx| tx.hash() == hash)?;
        Ok(removed.first().copied())
    }

    fn hardhat_drop_transaction(&self, hash: B256) -> RpcResult<bool> {
        self.dev_only("hardhat_dropTransaction")?;
        let removed = self.remove_pooled("hardhat_dropTransaction", |tx| tx.hash() == hash)?;
        Ok(!removed.is_empty())
    }

    fn drop_all_transactions(&self) -> RpcResult<()> {
        self.dev_only("anvil_dropAllTransactions")?;
        self.remove_pooled("anvil_dropAllTransactions", |_| true)?;
        Ok(())
    }

    fn remove_pool_transactions(&self, address: Address) -> RpcResult<()> {
        self.dev_only("anvil_removePoolTransactions")?;
        self.remove_pooled("anvil_removePoolTransactions", |tx| tx.sender() == address)?;
        Ok(())
    }

    fn set_storage_at(&self, address: Address, slot: U256, value: B256) -> RpcResult<bool> {
        let entry = Entry::Storage(address, B256::from(slot), U256::from_be_bytes(value.0));
        self.system("anvil_setStorageAt", Box::new(move |_| Ok(vec![entry])))?;
        Ok(true)
    }

    fn dump_state(&self, _preserve_historical_states: Option<bool>) -> RpcResult<Bytes> {
        self.dev_only("anvil_dumpState")?;
        Ok(self.state.dump_state()?.to_gzip().into())
    }

    fn load_state(&self, state: Bytes) -> RpcResult<bool> {
        self.dev_only("anvil_loadState")?;
        let file = StateFile::parse(&state).map_err(|e| RpcError::Invalid(e.to_string()))?;
        self.state.load_state(&file)?;
        Ok(true)
    }

    fn set_chain_id(&self, chain_id: U256) -> RpcResult<()> {
        self.dev_only("anvil_setChainId")?;
        let chain_id = u64::try_from(chain_id)
            .ok()
            .filter(|id| *id != 0)
            .ok_or_else(|| RpcError::Invalid(format!("chain id {chain_id} is not in 1..2^64")))?;
        let executor = self.state.executor.clone();
        // Set as the block is made, so the next block runs under it.
        self.state.system_block(Box::new(move |_| {
            executor.set_chain_id(chain_id);
            Ok(vec![crate::dev::chain_id_entry(chain_id)])
        }))?;
        Ok(())
    }

    fn set_block_gas_limit(&self, gas_limit: U256) -> RpcResult<bool> {
        self.dev_only("anvil_setBlockGasLimit")?;
        let gas_limit = u64::try_from(gas_limit).map_err(|_| {
            RpcError::Invalid(format!(
                "gas limit {gas_limit} is over the largest lanes keeps (2^64 - 1)"
            ))
        })?;
        self.state.stage(|st| st.set_next_gas_limit(gas_limit))?;
        Ok(true)
    }

    fn set_min_gas_price(&self, _price: U256) -> RpcResult<()> {
        Err(RpcError::Params(
            "anvil_setMinGasPrice is not supported when EIP-1559 is active".into(),
        )
        .into())
    }

    fn blobs_by_transaction_hash(&self, hash: B256) -> RpcResult<Option<Vec<Blob>>> {
        let sidecar = self.state.blobs.sidecar(&hash).map_err(internal)?;
        Ok(sidecar.map(BlobTransactionSidecarVariant::into_blobs))
    }

    fn blob_by_hash(&self, versioned_hash: B256) -> RpcResult<Option<Blob>> {
        Ok(self.state.blobs.blob(&versioned_hash).map_err(internal)?)
    }

    fn node_info(&self) -> RpcResult<NodeInfo> {
        let s = &self.state;
        let (head, hash, base_fee, gas_limit) =
            s.stage(|st| (st.head(), st.head_hash(), st.next_base_fee(), st.next_gas_limit()))?;
        let spec: &'static str = s.executor.config().spec.into();
        Ok(NodeInfo {
            current_block_number: head.number,
            current_block_timestamp: head.timestamp,
            current_block_hash: hash,
            hard_fork: spec.to_owned(),
            transaction_order: "fees".into(),
            environment: NodeEnvironment {
                base_fee: u128::from(base_fee),
                chain_id: s.chain_id(),
                gas_limit,
                gas_price: u128::from(base_fee) + SUGGESTED_TIP,
            },
            fork_config: s.rebuild.place().fork.as_ref().map_or_else(
                NodeForkConfig::default,
                |f| NodeForkConfig {
                    fork_url: Some(f.upstream.url()),
                    fork_block_number: Some(f.number()),
                    fork_retry_backoff: Some(f.upstream.limits().backoff.as_millis()),
                },
            ),
            network: None,
        })
    }

    fn metadata(&self) -> RpcResult<Metadata> {
        let s = &self.state;
        let (head, hash) = s.stage(|st| (st.head(), st.head_hash()))?;
        let snapshots = s.dev.as_ref().map(|d| d.snapshot_list()).unwrap_or_default();
        Ok(Metadata {
            client_version: s.client_version.clone(),
            client_semver: Some(env!("CARGO_PKG_VERSION").into()),
            client_commit_sha: None,
            chain_id: s.chain_id(),
            instance_id: self.instance_id,
            latest_block_number: head.number,
            latest_block_hash: hash,
            forked_network: s.rebuild.place().fork.as_ref().map(|f| ForkedNetwork {
                chain_id: s.chain_id(),
                fork_block_number: f.number(),
                fork_block_hash: f.info.at.hash,
            }),
            snapshots: snapshots
                .into_iter()
                .map(|(id, block, hash)| (U256::from(id), (block, hash)))
                .collect(),
        })
    }

    fn mine_detailed(&self, options: Option<MineOptions>) -> RpcResult<Vec<serde_json::Value>> {
        let (blocks, first) = mine_request(options);
        let last = self.mine(blocks, first, None)?;
        let first = last + 1 - blocks.min(last);
        Ok((first..=last).map(|n| self.detailed_block(n)).collect::<Res<Vec<_>>>()?)
    }

    fn deal_erc20(&self, address: Address, token: Address, amount: U256) -> RpcResult<()> {
        let data = erc20::balanceOfCall { owner: address }.abi_encode();
        Ok(self.set_erc20_slot("anvil_dealERC20", "balance", token, data.into(), amount)?)
    }

    fn set_erc20_allowance(
        &self,
        owner: Address,
        spender: Address,
        token: Address,
        amount: U256,
    ) -> RpcResult<()> {
        let data = erc20::allowanceCall { owner, spender }.abi_encode();
        Ok(self.set_erc20_slot(
            "anvil_setERC20Allowance",
            "allowance",
            token,
            data.into(),
            amount,
        )?)
    }
}

mod erc20 {
    alloy_sol_types::sol! {
        function balanceOf(address owner) external view returns (uint256);
        function allowance(address owner, address spender) external view returns (uint256);
    }
}
