//! `lanes_*`: what only lanes knows, its entries and its counters.

use crate::block_param::BlockTag;
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

use crate::explorer::{BlockLanes, ContractAbi, TransactionSet};
use crate::types::{BlockEntries, NodeStats, TransactionStatus};

/// The `lanes` namespace.
#[rpc(server, client, namespace = "lanes")]
pub trait LanesApi {
    /// How a block's transactions were grouped into entries; `null` for a
    /// block not produced yet.
    #[method(name = "getBlockEntries")]
    fn get_block_entries(&self, block: BlockTag) -> RpcResult<Option<BlockEntries>>;

    /// Where a transaction the node acknowledged is now: in a block,
    /// waiting in the pool, or dropped and why; `unknown` for a hash it never
    /// took (or one dropped so long ago that it no longer remembers).
    #[method(name = "transactionStatus")]
    fn transaction_status(&self, hash: alloy_primitives::B256) -> RpcResult<TransactionStatus>;

    /// Totals over the blocks produced since the node started.
    #[method(name = "stats")]
    fn stats(&self) -> RpcResult<NodeStats>;

    /// Transactions another validator of the chain accepted, for this
    /// node's pool (not relayed further); answers how many were taken.
    #[method(name = "relayTransactions")]
    fn relay_transactions(&self, txs: Vec<alloy_primitives::Bytes>) -> RpcResult<u64>;

    /// A block's entries as lanes, with what made each transaction wait on
    /// which and the block's hot keys; `null` for a block not produced yet.
    #[method(name = "getBlockLanes", blocking)]
    fn get_block_lanes(&self, block: BlockTag) -> RpcResult<Option<BlockLanes>>;

    /// The set an included transaction ran under, and where it ran; `null`
    /// for a transaction not in a block.
    #[method(name = "getTransactionSet", blocking)]
    fn get_transaction_set(
        &self,
        hash: alloy_primitives::B256,
    ) -> RpcResult<Option<TransactionSet>>;

    /// The verified source of the contract at an address (matched by its
    /// code against `--explorer-abis`); `null` when none matches.
    #[method(name = "getContractAbi", blocking)]
    fn get_contract_abi(
        &self,
        address: alloy_primitives::Address,
    ) -> RpcResult<Option<ContractAbi>>;

    /// The ABI entries of 4-byte function selectors and 32-byte event
    /// topics, from the verified sources and the common standards the node
    /// knows; keyed by the hex asked, unknown ones left out.
    #[method(name = "lookupSignatures")]
    fn lookup_signatures(
        &self,
        ids: Vec<alloy_primitives::Bytes>,
    ) -> RpcResult<std::collections::BTreeMap<String, Vec<serde_json::Value>>>;
}
