//! The dev-node mining methods ([`DevApiServer`]) over the banking stage's
//! mining modes.

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::Address;
use jsonrpsee::core::RpcResult;
use lanes_banking_stage::Mining;

use crate::node::NodeState;
use crate::node::error::RpcError;
use crate::node::rpc::api::DevApiServer;
use crate::node::rpc::state::{Res, internal};
use crate::node::rpc::types::{MineOptions, Quantity};

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

    /// Refuses a dev-only method on a node started without `--dev`.
    fn dev_only(&self, method: &str) -> Res<()> {
        if self.state.dev {
            return Ok(());
        }
        Err(RpcError::Invalid(format!(
            "{method} changes the chain outside its transactions; only a dev node serves it (start lanes-validator with --dev)"
        )))
    }

    fn set_mining(&self, mining: Mining, slot_time: Option<Duration>) -> Res<()> {
        self.state.stage(|st| st.set_mining(mining, slot_time))?.map_err(internal)
    }

    /// Seals `blocks` blocks now, the first stamped `first`, then
    /// `interval` seconds apart.
    fn mine(&self, blocks: u64, first: Option<u64>, interval: Option<u64>) -> Res<u64> {
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

    fn set_coinbase(&self, coinbase: Address) -> RpcResult<()> {
        self.dev_only("anvil_setCoinbase")?;
        Ok(self.state.stage(|st| st.set_coinbase(coinbase))?)
    }
}
