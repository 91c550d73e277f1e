//! The dev-node methods that drive mining, block time and the coinbase,
//! under the names anvil, hardhat and ganache give them (`evm_*`, `anvil_*`,
//! `hardhat_*`): one trait, each method with its aliases.

use alloy_primitives::{Address, B256, Bytes, U256};
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

use alloy_eips::eip4844::Blob;
use alloy_rpc_types_anvil::{Metadata, NodeInfo};

use crate::types::{MineOptions, Quantity};

/// Mining control of a dev node.
#[rpc(server, client)]
pub trait DevApi {
    /// Turns automine (a block as soon as transactions are ready) on, or off
    /// (then blocks come from interval mining, if set, or `evm_mine`).
    #[method(name = "evm_setAutomine", aliases = ["anvil_setAutomine"])]
    fn set_automine(&self, enabled: bool) -> RpcResult<()>;

    /// Whether automine is on.
    #[method(name = "anvil_getAutomine", aliases = ["hardhat_getAutomine"])]
    fn get_automine(&self) -> RpcResult<bool>;

    /// Interval mining every `seconds` seconds (anvil's unit), empty blocks
    /// included; 0 turns interval mining off (blocks then come only from
    /// `evm_mine`).
    #[method(name = "evm_setIntervalMining", aliases = ["anvil_setIntervalMining"])]
    fn set_interval_mining(&self, seconds: Quantity) -> RpcResult<()>;

    /// Mines one block now (or `blocks` blocks, the first stamped
    /// `timestamp`), with whatever is ready; answers `"0x0"`.
    #[method(name = "evm_mine", blocking)]
    fn evm_mine(&self, options: Option<MineOptions>) -> RpcResult<String>;

    /// Mines `blocks` blocks (default 1) now, `interval` seconds apart
    /// (default 1).
    #[method(name = "anvil_mine", blocking)]
    fn anvil_mine(&self, blocks: Option<Quantity>, interval: Option<Quantity>) -> RpcResult<()>;

    /// [`DevApiServer::anvil_mine`] under hardhat's name and answer (`true`).
    #[method(name = "hardhat_mine", blocking)]
    fn hardhat_mine(&self, blocks: Option<Quantity>, interval: Option<Quantity>)
    -> RpcResult<bool>;

    /// Moves block time `seconds` forward for every later block (`--dev`
    /// only); answers the total offset from the wall clock, in seconds.
    #[method(name = "evm_increaseTime", aliases = ["anvil_increaseTime"])]
    fn increase_time(&self, seconds: Quantity) -> RpcResult<i64>;

    /// Stamps the next block `timestamp` (after the latest block's); later
    /// blocks go on from it (`--dev` only).
    #[method(name = "evm_setNextBlockTimestamp", aliases = ["anvil_setNextBlockTimestamp"])]
    fn set_next_block_timestamp(&self, timestamp: Quantity) -> RpcResult<()>;

    /// Sets the block clock to `timestamp` (Unix seconds): later blocks go
    /// on from it, each still after its parent, and a set next timestamp
    /// is forgotten (`--dev` only). Answers the seconds from the clock's
    /// time before to `timestamp` (0 when it went back).
    #[method(name = "anvil_setTime", aliases = ["evm_setTime"])]
    fn set_time(&self, timestamp: Quantity) -> RpcResult<u64>;

    /// Stamps each later block `seconds` after its parent, whatever the
    /// clock says; a timestamp set for the next block still comes first
    /// (`--dev` only).
    #[method(name = "anvil_setBlockTimestampInterval")]
    fn set_block_timestamp_interval(&self, seconds: Quantity) -> RpcResult<()>;

    /// Stamps later blocks from the clock again; answers whether an
    /// interval was set (`--dev` only).
    #[method(name = "anvil_removeBlockTimestampInterval")]
    fn remove_block_timestamp_interval(&self) -> RpcResult<bool>;

    /// Taken, and changes nothing, so scripts written for anvil or hardhat
    /// run unchanged: lanes' log is set by `RUST_LOG` when it starts.
    #[method(name = "anvil_setLoggingEnabled", aliases = ["hardhat_setLoggingEnabled"])]
    fn set_logging_enabled(&self, enabled: bool) -> RpcResult<()>;

    /// Sets the next block's base fee per gas; later blocks keep it
    /// (`--dev` only).
    #[method(
        name = "anvil_setNextBlockBaseFeePerGas",
        aliases = ["hardhat_setNextBlockBaseFeePerGas"]
    )]
    fn set_next_block_base_fee(&self, base_fee: U256) -> RpcResult<()>;

    /// Pays the fees of the next blocks to `coinbase` (`--dev` only).
    #[method(name = "anvil_setCoinbase", aliases = ["hardhat_setCoinbase"])]
    fn set_coinbase(&self, coinbase: Address) -> RpcResult<()>;

    /// Sets an account's balance (`--dev` only), in a block of its own.
    #[method(name = "anvil_setBalance", aliases = ["hardhat_setBalance"], blocking)]
    fn set_balance(&self, address: Address, balance: U256) -> RpcResult<()>;

    /// Sets an account's nonce (`--dev` only), in a block of its own.
    #[method(name = "anvil_setNonce", aliases = ["hardhat_setNonce"], blocking)]
    fn set_nonce(&self, address: Address, nonce: Quantity) -> RpcResult<()>;

    /// Sets an account's code (`--dev` only), in a block of its own.
    #[method(name = "anvil_setCode", aliases = ["hardhat_setCode"], blocking)]
    fn set_code(&self, address: Address, code: Bytes) -> RpcResult<()>;

    /// Records the chain as it is now (`--dev` only); answers an id for
    /// [`DevApiServer::revert`].
    #[method(name = "evm_snapshot", aliases = ["anvil_snapshot"])]
    fn snapshot(&self) -> RpcResult<Quantity>;

    /// Puts the chain back to snapshot `id`: state, head block, block time;
    /// the pool is emptied and later blocks leave the ledger (`--dev` only).
    /// The id, and every later one, is used up. `false` for an unknown id.
    #[method(name = "evm_revert", aliases = ["anvil_revert"], blocking)]
    fn revert(&self, id: Quantity) -> RpcResult<bool>;

    /// Puts the chain back to its first block (a fork's: the fork block)
    /// and forgets snapshots and impersonations (`--dev` only). On a fork,
    /// `forking.jsonRpcUrl` points it at another upstream and
    /// `forking.blockNumber` must name its fork block (a fork at another
    /// block is another data folder: `--fork-block-number`).
    #[method(name = "anvil_reset", aliases = ["hardhat_reset"], blocking)]
    fn reset(&self, options: Option<serde_json::Value>) -> RpcResult<()>;

    /// Points a fork at another upstream URL (the same chain); the next
    /// fetches go there.
    #[method(name = "anvil_setRpcUrl", aliases = ["hardhat_setRpcUrl"], blocking)]
    fn set_rpc_url(&self, url: String) -> RpcResult<()>;

    /// Lets `eth_sendTransaction` send as `address` without its key
    /// (`--dev` only).
    #[method(name = "anvil_impersonateAccount", aliases = ["hardhat_impersonateAccount"])]
    fn impersonate_account(&self, address: Address) -> RpcResult<()>;

    /// Ends [`DevApiServer::impersonate_account`] for `address`.
    #[method(
        name = "anvil_stopImpersonatingAccount",
        aliases = ["hardhat_stopImpersonatingAccount"]
    )]
    fn stop_impersonating_account(&self, address: Address) -> RpcResult<()>;

    /// Lets `eth_sendTransaction` send as any address (`--dev` only).
    #[method(name = "anvil_autoImpersonateAccount")]
    fn auto_impersonate_account(&self, enabled: bool) -> RpcResult<()>;

    /// Removes a waiting transaction from the pool (`--dev` only); its hash,
    /// or `null` when the pool holds no such waiting transaction.
    #[method(name = "anvil_dropTransaction")]
    fn drop_transaction(&self, hash: B256) -> RpcResult<Option<B256>>;

    /// [`DevApiServer::drop_transaction`] as hardhat answers it: whether it
    /// was removed.
    #[method(name = "hardhat_dropTransaction")]
    fn hardhat_drop_transaction(&self, hash: B256) -> RpcResult<bool>;

    /// Removes every waiting transaction from the pool (`--dev` only).
    #[method(name = "anvil_dropAllTransactions")]
    fn drop_all_transactions(&self) -> RpcResult<()>;

    /// Removes every waiting transaction of `address` from the pool
    /// (`--dev` only).
    #[method(name = "anvil_removePoolTransactions")]
    fn remove_pool_transactions(&self, address: Address) -> RpcResult<()>;

    /// Sets one storage slot (`--dev` only), in a block of its own; answers
    /// `true`.
    #[method(name = "anvil_setStorageAt", aliases = ["hardhat_setStorageAt"], blocking)]
    fn set_storage_at(&self, address: Address, slot: U256, value: B256) -> RpcResult<bool>;

    /// The latest state (every account's nonce, balance, code and storage)
    /// in anvil's state-file format, gzipped (`--dev` only).
    #[method(name = "anvil_dumpState", blocking)]
    fn dump_state(&self, preserve_historical_states: Option<bool>) -> RpcResult<Bytes>;

    /// Loads a state file (anvil's format, gzipped or plain JSON) over the
    /// current state, in a block of its own (`--dev` only); `true`.
    #[method(name = "anvil_loadState", blocking)]
    fn load_state(&self, state: Bytes) -> RpcResult<bool>;

    /// Changes the chain id (`eth_chainId`, what new transactions must
    /// carry, CHAINID) from the next block on; recorded in the ledger in a
    /// block of its own, so a restart or replay keeps it and `evm_revert`
    /// to before it brings the old one back.
    #[method(name = "anvil_setChainId")]
    fn set_chain_id(&self, chain_id: U256) -> RpcResult<()>;

    /// Sets the gas limit of the next blocks (`--dev` only); `true`.
    #[method(name = "anvil_setBlockGasLimit", aliases = ["evm_setBlockGasLimit"])]
    fn set_block_gas_limit(&self, gas_limit: U256) -> RpcResult<bool>;

    /// Refused as anvil refuses it: a minimum gas price has no meaning once
    /// EIP-1559 prices gas, which lanes always runs.
    #[method(name = "anvil_setMinGasPrice", aliases = ["hardhat_setMinGasPrice"])]
    fn set_min_gas_price(&self, price: U256) -> RpcResult<()>;

    /// The blobs of blob transaction `hash`, as it was sent (its sidecar's);
    /// `None` where this node took no such transaction.
    #[method(name = "anvil_getBlobsByTransactionHash")]
    fn blobs_by_transaction_hash(&self, hash: B256) -> RpcResult<Option<Vec<Blob>>>;

    /// The blob whose commitment's versioned hash is `versioned_hash`;
    /// `None` where no transaction this node took carries it.
    #[method(name = "anvil_getBlobByHash")]
    fn blob_by_hash(&self, versioned_hash: B256) -> RpcResult<Option<Blob>>;

    /// The node's head, fork and fee environment, as anvil describes itself.
    #[method(name = "anvil_nodeInfo")]
    fn node_info(&self) -> RpcResult<NodeInfo>;

    /// The client, chain, head and snapshots, as anvil's (and hardhat's)
    /// metadata.
    #[method(name = "anvil_metadata", aliases = ["hardhat_metadata"])]
    fn metadata(&self) -> RpcResult<Metadata>;

    /// [`DevApiServer::evm_mine`], answering the mined blocks with their
    /// transactions, each with its `output` (and `revertReason` when it
    /// failed).
    #[method(name = "evm_mine_detailed", aliases = ["anvil_mine_detailed"], blocking)]
    fn mine_detailed(&self, options: Option<MineOptions>) -> RpcResult<Vec<serde_json::Value>>;

    /// Sets `address`'s balance of ERC-20 `token` to `amount`, writing the
    /// storage slot that `balanceOf(address)` reads (`--dev` only).
    #[method(name = "anvil_dealERC20", blocking)]
    fn deal_erc20(&self, address: Address, token: Address, amount: U256) -> RpcResult<()>;

    /// Sets `spender`'s allowance from `owner` of ERC-20 `token` to
    /// `amount`, writing the slot `allowance(owner, spender)` reads
    /// (`--dev` only).
    #[method(name = "anvil_setERC20Allowance", blocking)]
    fn set_erc20_allowance(
        &self,
        owner: Address,
        spender: Address,
        token: Address,
        amount: U256,
    ) -> RpcResult<()>;
}
