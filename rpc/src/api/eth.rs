//! `eth_*`: the Ethereum methods lanes serves, as anvil answers them, and the
//! `eth_subscribe` subscription.
//!
//! A method that reads state takes a block id (number, tag, hash or EIP-1898
//! object) and answers for any block the node keeps (`--history-blocks`);
//! an older one is refused with -32000 naming the oldest kept.

use crate::block_param::{BlockParam, BlockTag};
use alloy_eips::eip7928::BlockAccessList;
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_rpc_types_eth::BlockOverrides;
use alloy_rpc_types_eth::pubsub::SubscriptionResult;
use alloy_rpc_types_eth::simulate::SimulatePayload;
use alloy_rpc_types_eth::state::StateOverride;
use alloy_rpc_types_eth::{
    AccessListResult, Block, FeeHistory, Filter, FilterChanges, Index, Log, Transaction,
    TransactionReceipt, TransactionRequest,
};
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

/// Most slots one `eth_getStorageValues` reads, over all its accounts
/// (geth's bound).
pub const MAX_STORAGE_VALUES: usize = 1024;

/// The `eth` namespace, less subscriptions.
#[rpc(server, client, namespace = "eth")]
pub trait EthApi {
    /// The chain id.
    #[method(name = "chainId")]
    fn chain_id(&self) -> RpcResult<U64>;

    /// Always `false`: a lanes node does not sync.
    #[method(name = "syncing")]
    fn syncing(&self) -> RpcResult<bool>;

    /// Always `true`: the node produces blocks.
    #[method(name = "mining")]
    fn mining(&self) -> RpcResult<bool>;

    /// Where block rewards go.
    #[method(name = "coinbase")]
    fn coinbase(&self) -> RpcResult<Address>;

    /// The unlocked accounts (`--dev` only), for `eth_sendTransaction`.
    #[method(name = "accounts")]
    fn accounts(&self) -> RpcResult<Vec<Address>>;

    /// The served head's number.
    #[method(name = "blockNumber")]
    fn block_number(&self) -> RpcResult<U64>;

    /// The base fee plus the suggested tip.
    #[method(name = "gasPrice")]
    fn gas_price(&self) -> RpcResult<U256>;

    /// The suggested tip.
    #[method(name = "maxPriorityFeePerGas")]
    fn max_priority_fee_per_gas(&self) -> RpcResult<U256>;

    /// An account's balance.
    #[method(name = "getBalance")]
    fn balance(&self, address: Address, block: Option<BlockParam>) -> RpcResult<U256>;

    /// An account's nonce; at `pending`, counting what the pool holds.
    #[method(name = "getTransactionCount")]
    fn transaction_count(&self, address: Address, block: Option<BlockParam>) -> RpcResult<U64>;

    /// An account's code.
    #[method(name = "getCode")]
    fn code(&self, address: Address, block: Option<BlockParam>) -> RpcResult<Bytes>;

    /// An account's balance, nonce and code in one answer (anvil's and
    /// reth's; forge asks it first when it reads a node's state).
    #[method(name = "getAccountInfo")]
    fn account_info(
        &self,
        address: Address,
        block: Option<BlockParam>,
    ) -> RpcResult<alloy_rpc_types_eth::AccountInfo>;

    /// One storage slot of an account.
    #[method(name = "getStorageAt")]
    fn storage_at(
        &self,
        address: Address,
        slot: crate::types::StorageSlot,
        block: Option<BlockParam>,
    ) -> RpcResult<B256>;

    /// Runs a call on the latest state, with geth's state and block
    /// overrides when given; a revert answers code 3 with the revert data.
    #[method(name = "call", blocking)]
    fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockParam>,
        state_overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> RpcResult<Bytes>;

    /// Calls run in a chain of simulated blocks on a served block, each
    /// with its own block and state overrides; nothing is kept
    /// (execution-apis' `eth_simulateV1`).
    #[method(name = "simulateV1", blocking)]
    fn simulate_v1(
        &self,
        payload: SimulatePayload,
        block: Option<BlockParam>,
    ) -> RpcResult<Vec<serde_json::Value>>;

    /// The gas a call needs.
    #[method(name = "estimateGas", blocking)]
    fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockParam>,
    ) -> RpcResult<U64>;

    /// What a call touches, as an access list, and the gas it uses.
    #[method(name = "createAccessList", blocking)]
    fn create_access_list(
        &self,
        request: TransactionRequest,
        block: Option<BlockParam>,
    ) -> RpcResult<AccessListResult>;

    /// Submits a signed transaction; its hash. Under automine it answers
    /// once the transaction's block is committed (as hardhat does).
    #[method(name = "sendRawTransaction")]
    async fn send_raw_transaction(&self, bytes: Bytes) -> RpcResult<B256>;

    /// Signs with an unlocked account (`--dev`) the transaction asked for,
    /// and submits it; under automine it answers once its block is
    /// committed.
    #[method(name = "sendTransaction")]
    async fn send_transaction(&self, request: TransactionRequest) -> RpcResult<B256>;

    /// EIP-7966: submits a signed transaction and answers with its receipt
    /// once its block is served; past `timeout` milliseconds (a number or a
    /// hex quantity; 2,000 by default, at most 60,000) error 4 with the
    /// transaction's hash as data, the transaction still pending.
    #[method(name = "sendRawTransactionSync")]
    async fn send_raw_transaction_sync(
        &self,
        bytes: Bytes,
        timeout: Option<serde_json::Value>,
    ) -> RpcResult<TransactionReceipt>;

    /// `eth_sendTransaction` answered as `eth_sendRawTransactionSync` is.
    #[method(name = "sendTransactionSync")]
    async fn send_transaction_sync(
        &self,
        request: TransactionRequest,
        timeout: Option<serde_json::Value>,
    ) -> RpcResult<TransactionReceipt>;

    /// Installs a log filter: `eth_getFilterChanges` then returns the
    /// matching logs of blocks added since the last poll (after a revert,
    /// first the logs it took back, `removed: true`).
    #[method(name = "newFilter")]
    fn new_filter(&self, filter: Filter) -> RpcResult<U256>;

    /// Installs a filter of new block hashes.
    #[method(name = "newBlockFilter")]
    fn new_block_filter(&self) -> RpcResult<U256>;

    /// Installs a filter of the hashes of transactions accepted into the pool.
    #[method(name = "newPendingTransactionFilter")]
    fn new_pending_transaction_filter(&self) -> RpcResult<U256>;

    /// What a filter saw since its last poll. A filter not polled for 5
    /// minutes is removed; an unknown id is -32000 `filter not found`.
    #[method(name = "getFilterChanges", blocking)]
    fn filter_changes(&self, id: U256) -> RpcResult<FilterChanges>;

    /// Every log a log filter matches, as `eth_getLogs` with its criteria.
    #[method(name = "getFilterLogs", blocking)]
    fn filter_logs(&self, id: U256) -> RpcResult<Vec<Log>>;

    /// Removes a filter; whether it was installed.
    #[method(name = "uninstallFilter")]
    fn uninstall_filter(&self, id: U256) -> RpcResult<bool>;

    /// Signs with an unlocked account the transaction asked for (filled as
    /// `eth_sendTransaction` fills it) without sending it: its EIP-2718 bytes.
    #[method(name = "signTransaction", blocking)]
    fn sign_transaction(&self, request: TransactionRequest) -> RpcResult<Bytes>;

    /// Signs `message` with an unlocked account under EIP-191's personal
    /// message prefix; the 65-byte signature (`v` 27 or 28).
    #[method(name = "sign")]
    fn sign(&self, address: Address, message: Bytes) -> RpcResult<Bytes>;

    /// Signs EIP-712 typed data (an object, or the JSON string of one, as
    /// ethers and viem send it) with an unlocked account.
    #[method(name = "signTypedData_v4")]
    fn sign_typed_data_v4(&self, address: Address, data: serde_json::Value) -> RpcResult<Bytes>;

    /// Not supported (-32004), whatever the params: viem then falls back to
    /// nonce, fee and estimate calls.
    #[method(name = "fillTransaction")]
    fn fill_transaction(&self) -> RpcResult<()>;

    /// A transaction by hash; `null` until it is in a block.
    #[method(name = "getTransactionByHash")]
    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>>;

    /// A receipt by transaction hash; `null` until it is in a block.
    #[method(name = "getTransactionReceipt")]
    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>>;

    /// Every receipt of a block.
    #[method(name = "getBlockReceipts", blocking)]
    fn block_receipts(&self, block: BlockParam) -> RpcResult<Option<Vec<TransactionReceipt>>>;

    /// A block by number or tag, with full transactions or their hashes.
    #[method(name = "getBlockByNumber", blocking)]
    fn block_by_number(&self, number: BlockTag, full: Option<bool>) -> RpcResult<Option<Block>>;

    /// A block by hash.
    #[method(name = "getBlockByHash", blocking)]
    fn block_by_hash(&self, hash: B256, full: Option<bool>) -> RpcResult<Option<Block>>;

    /// A block's access list (EIP-7928): every account and slot it read or
    /// wrote, each write's value after each index that wrote it (0: before
    /// its transactions, `i + 1`: transaction `i`, `n + 1`: after them).
    /// `null` for an unknown block, and for one kept without a list (block
    /// 0).
    #[method(name = "getBlockAccessList", blocking)]
    fn block_access_list(&self, block: BlockParam) -> RpcResult<Option<BlockAccessList>>;

    /// `eth_getBlockAccessList` of a block by hash.
    #[method(name = "getBlockAccessListByBlockHash", blocking)]
    fn block_access_list_by_block_hash(&self, hash: B256) -> RpcResult<Option<BlockAccessList>>;

    /// `eth_getBlockAccessList` of a block by number or tag.
    #[method(name = "getBlockAccessListByBlockNumber", blocking)]
    fn block_access_list_by_block_number(
        &self,
        number: BlockTag,
    ) -> RpcResult<Option<BlockAccessList>>;

    /// `eth_getBlockAccessList` as its RLP, whose keccak256 is what an
    /// Amsterdam header's `blockAccessListHash` commits to (reth's
    /// `debug_getRawBlockAccessList` too).
    #[method(name = "getBlockAccessListRaw", blocking, aliases = ["debug_getRawBlockAccessList"])]
    fn block_access_list_raw(&self, block: BlockParam) -> RpcResult<Option<Bytes>>;

    /// How many transactions a block holds.
    #[method(name = "getBlockTransactionCountByNumber")]
    fn block_transaction_count_by_number(&self, number: BlockTag) -> RpcResult<Option<U64>>;

    /// How many transactions the block with this hash holds; `null` for an
    /// unknown block.
    #[method(name = "getBlockTransactionCountByHash")]
    fn block_transaction_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;

    /// Transaction `index` of the block with this hash; `null` for an
    /// unknown block or an index past its last transaction.
    #[method(name = "getTransactionByBlockHashAndIndex")]
    fn transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> RpcResult<Option<Transaction>>;

    /// Transaction `index` of a block by number or tag, as
    /// `eth_getTransactionByBlockHashAndIndex`.
    #[method(name = "getTransactionByBlockNumberAndIndex")]
    fn transaction_by_block_number_and_index(
        &self,
        number: BlockTag,
        index: Index,
    ) -> RpcResult<Option<Transaction>>;

    /// How many ommers (uncles) a block holds: an imported block's own
    /// before the merge, none for lanes' blocks; `null` for an unknown
    /// block.
    #[method(name = "getUncleCountByBlockNumber")]
    fn uncle_count_by_block_number(&self, number: BlockTag) -> RpcResult<Option<U64>>;

    /// `eth_getUncleCountByBlockNumber` by the block's hash.
    #[method(name = "getUncleCountByBlockHash")]
    fn uncle_count_by_block_hash(&self, hash: B256) -> RpcResult<Option<U64>>;

    /// Ommer `index` of a block as geth answers it: a block of the ommer's
    /// header with no transactions, ommers or withdrawals; `null` for an
    /// unknown block or an index past its ommers.
    #[method(name = "getUncleByBlockNumberAndIndex")]
    fn uncle_by_block_number_and_index(
        &self,
        number: BlockTag,
        index: Index,
    ) -> RpcResult<Option<Block>>;

    /// `eth_getUncleByBlockNumberAndIndex` by the block's hash.
    #[method(name = "getUncleByBlockHashAndIndex")]
    fn uncle_by_block_hash_and_index(&self, hash: B256, index: Index) -> RpcResult<Option<Block>>;

    /// The chain's fork configuration (EIP-7910): the fork in force at the
    /// head, the next and the last scheduled, each with its blob schedule,
    /// EIP-2124 fork id, precompiles and system contracts.
    #[method(name = "config")]
    fn config(&self) -> RpcResult<crate::types::EthConfig>;

    /// What history the node serves (state, transactions, logs, receipts,
    /// blocks, proofs), each from its oldest block, and how it goes.
    #[method(name = "capabilities")]
    fn capabilities(&self) -> RpcResult<crate::types::Capabilities>;

    /// EIP-1186: an account and the slots named, with their Merkle-Patricia
    /// proofs against the block's `stateRoot`. On a chain imported from
    /// Ethereum; lanes' own chains commit to their lattice hash, not a
    /// Merkle-Patricia root, and refuse it (-32004).
    #[method(name = "getProof", blocking)]
    fn proof(
        &self,
        address: Address,
        keys: Vec<alloy_serde::storage::JsonStorageKey>,
        block: Option<BlockParam>,
    ) -> RpcResult<alloy_rpc_types_eth::EIP1186AccountProofResponse>;

    /// The base fee of the next block.
    #[method(name = "baseFee")]
    fn base_fee(&self) -> RpcResult<U256>;

    /// The blob base fee at the head (EIP-4844): from its excess blob gas
    /// under its fork's blob schedule; 1 wei (the least) on a chain without
    /// blobs.
    #[method(name = "blobBaseFee")]
    fn blob_base_fee(&self) -> RpcResult<U256>;

    /// Many storage slots at once: for each account its slots' values, in
    /// the order asked (slots as `eth_getStorageAt` takes them). At most
    /// [`MAX_STORAGE_VALUES`] slots in all; an empty request is refused
    /// (-32602), as geth refuses it.
    #[method(name = "getStorageValues")]
    fn storage_values(
        &self,
        slots: std::collections::BTreeMap<Address, Vec<crate::types::StorageSlot>>,
        block: Option<BlockParam>,
    ) -> RpcResult<std::collections::BTreeMap<Address, Vec<B256>>>;

    /// The logs matching a filter, over a capped block range.
    #[method(name = "getLogs", blocking)]
    fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>>;

    /// Base fees, gas used ratios and tip percentiles of recent blocks.
    #[method(name = "feeHistory", blocking)]
    fn fee_history(
        &self,
        block_count: U64,
        newest_block: BlockTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory>;
}

/// `eth_subscribe`, apart from [`EthApi`] so that an HTTP client, which
/// cannot subscribe, still gets every other `eth_*` method (as reth splits
/// them).
#[rpc(server, client, namespace = "eth")]
pub trait EthPubSubApi {
    /// `eth_subscribe`: `newHeads` (headers) or `logs` (with an optional
    /// filter); another kind is refused with -32602. Notifications are
    /// `eth_subscription`, with hex subscription ids. (Named apart from
    /// jsonrpsee's `SubscriptionClientT::subscribe`, which a client also has.)
    #[subscription(
        name = "subscribe" => "subscription",
        unsubscribe = "unsubscribe",
        item = SubscriptionResult
    )]
    async fn subscribe_to(
        &self,
        kind: String,
        params: Option<serde_json::Value>,
    ) -> jsonrpsee::core::SubscriptionResult;
}
