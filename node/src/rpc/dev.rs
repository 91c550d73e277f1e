//! The dev-node mining methods ([`DevApiServer`]) over the banking stage's
//! mining modes.

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256};
use jsonrpsee::core::RpcResult;
use lanes_accounts_db::{AccountHeader, AccountsRead, DEFAULT_MAX_CODE_LEN, Entry};
use lanes_banking_stage::{Mining, SystemWrites};
use lanes_evm_adapter::EvmTx;
use lanes_runtime::BankError;

use crate::NodeState;
use crate::dev::{DevState, Snapshot};
use crate::error::RpcError;
use crate::rpc::state::{Res, internal};
use lanes_rpc::api::DevApiServer;
use lanes_rpc::types::{MineOptions, Quantity};

/// Most blocks one mine request seals.
const MAX_MINE_BLOCKS: u64 = 100_000;

/// How long a mine request waits for its last block to be served.
const MINE_SERVE_WAIT: Duration = Duration::from_secs(5);

/// The dev namespaces of a node.
pub(crate) struct DevRpc {
    state: Arc<NodeState>,
}

impl DevRpc {
    pub(crate) fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }

    /// The dev node's own state; refuses a dev-only method on a node
    /// started without `--dev`.
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

    fn dev_only(&self, method: &str) -> Res<&DevState> {
        self.state.dev.as_ref().ok_or_else(|| {
            RpcError::Invalid(format!(
                "{method} changes the chain outside its transactions; only a dev node serves it (start lanes-validator with --dev)"
            ))
        })
    }

    /// Writes `entries` in a block of their own (a dev node's state
    /// control), and answers once that block is served.
    fn system(&self, method: &str, writes: SystemWrites) -> Res<()> {
        self.dev_only(method)?;
        let number = self.state.stage(|st| st.apply_system(writes))?.map_err(internal)?;
        let number = number.map_err(|e| RpcError::Invalid(e.to_string()))?;
        if !self.state.ledger.wait_published(number, MINE_SERVE_WAIT) {
            return Err(internal(format!("block {number} was committed but not served in time")));
        }
        Ok(())
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
        if !self.state.ledger.wait_published(last, MINE_SERVE_WAIT) {
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
        let (blocks, first) = match options {
            None => (1, None),
            Some(MineOptions::Timestamp(t)) => (1, Some(t.0)),
            Some(MineOptions::Options { timestamp, blocks }) => {
                (blocks.map_or(1, |b| b.0), timestamp.map(|t| t.0))
            }
        };
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
        // viem sends `{forking: {blockNumber: null}}` to reset without forking.
        let fork_url = options.as_ref().and_then(|o| o.get("forking")?.get("jsonRpcUrl"));
        if fork_url.is_some_and(|url| !url.is_null()) {
            return Err(RpcError::Invalid(
                "lanes cannot fork another chain: anvil_reset takes no forking options".into(),
            )
            .into());
        }
        dev.clear();
        self.state.revert_to(0, 0, Vec::new()).map_err(internal)?;
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
}
