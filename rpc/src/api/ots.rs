//! Otterscan's `ots_*` namespace at API level 8, and the one `erigon_*`
//! method it calls, so that the Otterscan block explorer works against a
//! lanes node as against anvil or Erigon.

use alloy_primitives::{Address, B256, Bytes};
use alloy_rpc_types_eth::{Block, Header, Transaction};
use alloy_rpc_types_trace::otterscan::{
    BlockDetails, ContractCreator, InternalOperation, OtsBlockTransactions, TraceEntry,
    TransactionsWithReceipts,
};
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

use crate::types::{LenientBlock, Quantity};

/// The Otterscan API level served.
pub const OTS_API_LEVEL: u64 = 8;

/// The `ots` namespace (and `erigon_getHeaderByNumber`).
#[rpc(server, client)]
pub trait OtsApi {
    /// The Otterscan API level this node serves ([`OTS_API_LEVEL`]).
    #[method(name = "ots_getApiLevel")]
    fn api_level(&self) -> RpcResult<u64>;

    /// A block as `eth_getBlockByNumber` answers it (transaction hashes), or
    /// `null`.
    #[method(name = "erigon_getHeaderByNumber", aliases = ["ots_getHeaderByNumber"])]
    fn header_by_number(&self, block: LenientBlock) -> RpcResult<Option<Block>>;

    /// Whether `address` has code at `block`.
    #[method(name = "ots_hasCode")]
    fn has_code(&self, address: Address, block: Option<LenientBlock>) -> RpcResult<bool>;

    /// A block's header, transaction count, issuance and total fees.
    #[method(name = "ots_getBlockDetails", blocking)]
    fn block_details(&self, block: Option<LenientBlock>) -> RpcResult<BlockDetails<Header>>;

    /// [`OtsApiServer::block_details`] by hash.
    #[method(name = "ots_getBlockDetailsByHash", blocking)]
    fn block_details_by_hash(&self, hash: B256) -> RpcResult<BlockDetails<Header>>;

    /// Page `page` (of `page_size`) of a block's transactions, with their
    /// receipts.
    #[method(name = "ots_getBlockTransactions", blocking)]
    fn block_transactions(
        &self,
        block: Quantity,
        page: Quantity,
        page_size: Quantity,
    ) -> RpcResult<OtsBlockTransactions<Transaction, Header>>;

    /// The value transfers, creations and self-destructs a transaction made
    /// (its top-level call included).
    #[method(name = "ots_getInternalOperations", blocking)]
    fn internal_operations(&self, hash: B256) -> RpcResult<Vec<InternalOperation>>;

    /// A failed transaction's revert data; `0x` for any other.
    #[method(name = "ots_getTransactionError", blocking)]
    fn transaction_error(&self, hash: B256) -> RpcResult<Bytes>;

    /// A transaction's calls, depth first.
    #[method(name = "ots_traceTransaction", blocking)]
    fn trace_transaction(&self, hash: B256) -> RpcResult<Vec<TraceEntry>>;

    /// `address`'s transactions (sent, received, or touched by an inner
    /// call) in blocks before `block` (0: from the head), newest first, whole
    /// blocks until `page_size` is reached.
    #[method(name = "ots_searchTransactionsBefore", blocking)]
    fn search_before(
        &self,
        address: Address,
        block: Quantity,
        page_size: Quantity,
    ) -> RpcResult<TransactionsWithReceipts<Transaction>>;

    /// Like [`OtsApiServer::search_before`], for blocks after `block` (0:
    /// from the first), newest first.
    #[method(name = "ots_searchTransactionsAfter", blocking)]
    fn search_after(
        &self,
        address: Address,
        block: Quantity,
        page_size: Quantity,
    ) -> RpcResult<TransactionsWithReceipts<Transaction>>;

    /// The hash of the transaction `sender` sent with `nonce`, or `null`.
    #[method(name = "ots_getTransactionBySenderAndNonce", blocking)]
    fn transaction_by_sender_and_nonce(
        &self,
        sender: Address,
        nonce: Quantity,
    ) -> RpcResult<Option<B256>>;

    /// The transaction that created the contract at `address`, and the
    /// account that created it (a factory, for an inner creation).
    #[method(name = "ots_getContractCreator", blocking)]
    fn contract_creator(&self, address: Address) -> RpcResult<Option<ContractCreator>>;
}
