//! Ledger blocks and receipts in the shapes of alloy-rpc-types-eth.

use alloy_consensus::{
    Eip658Value, Receipt as ConsensusReceipt, ReceiptEnvelope, ReceiptWithBloom, Transaction as _,
    TxEnvelope, TxType,
};
use alloy_eips::eip4895::Withdrawals;
use alloy_primitives::{Address, B256, Bytes, U256, logs_bloom};
use alloy_rpc_types_eth::{
    Block as RpcBlock, BlockTransactions, Header as RpcHeader, Log as RpcLog,
    Transaction as RpcTransaction, TransactionReceipt,
};
use lanes_eth::EthBlockData;
use lanes_evm_adapter::{EvmReceiptData, EvmTx, SpecId, TxRules, eth_header};
use lanes_runtime::{Block, Receipt};

use crate::error::RpcError;
use crate::ledger::{LedgerBlock, receipt_logs};

/// How a chain's blocks show as Ethereum blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockForm {
    /// Blocks lanes built, under this fork ([`eth_header`]).
    Lanes(SpecId),
    /// Blocks imported from Ethereum: each keeps its own header, ommers
    /// and withdrawals ([`EthBlockData`]).
    Imported,
}

/// The Ethereum data of `block` on a chain of `form`: its header (whose
/// keccak256 is the block's hash), its ommers and its withdrawals (from
/// Shanghai on).
fn eth_parts(block: &Block, form: BlockForm) -> EthBlockData {
    if form == BlockForm::Imported
        && let Ok(data) = EthBlockData::from_extra(&block.header.extra)
    {
        return data;
    }
    let spec = match form {
        BlockForm::Lanes(spec) => spec,
        BlockForm::Imported => SpecId::default(),
    };
    let header = eth_header(&block.header, spec);
    let withdrawals = header.withdrawals_root.is_some().then(Withdrawals::default);
    EthBlockData { header, ommers: Vec::new(), withdrawals, post_states: Vec::new() }
}

/// The Ethereum header of a block, whose keccak256 is the block's hash.
pub fn header(block: &Block, form: BlockForm) -> RpcHeader {
    let inner = eth_parts(block, form).header;
    debug_assert_eq!(inner.hash_slow(), block.hash);
    let total_difficulty = matches!(form, BlockForm::Lanes(_)).then_some(U256::ZERO);
    RpcHeader { hash: block.hash, inner, total_difficulty, size: None }
}

/// A block's transactions, decoded, each sender taken from `known` (by
/// hash) where it answers, else recovered (libsecp256k1).
pub fn decode_txs(
    lb: &LedgerBlock,
    rules: &TxRules,
    known: impl Fn(&B256) -> Option<Address>,
) -> Result<Vec<EvmTx>, RpcError> {
    let decode = |t: &lanes_runtime::EntryTx| EvmTx::decode_known(&t.tx, rules, &known);
    lb.block.txs().map(decode).collect::<Result<_, _>>().map_err(|e| {
        RpcError::Internal(format!("block {}: a stored transaction: {e}", lb.block.header.number))
    })
}

/// Transaction `index` of a stored block, decoded alone as [`decode_txs`]
/// decodes it: a block's other transactions are not.
pub fn decode_tx(
    lb: &LedgerBlock,
    index: usize,
    rules: &TxRules,
    known: impl Fn(&B256) -> Option<Address>,
) -> Result<EvmTx, RpcError> {
    let number = lb.block.header.number;
    let raw = lb
        .block
        .txs()
        .nth(index)
        .ok_or_else(|| RpcError::Internal(format!("block {number} has no tx {index}")))?;
    EvmTx::decode_known(&raw.tx, rules, known)
        .map_err(|e| RpcError::Internal(format!("block {number}: a stored transaction: {e}")))
}

/// A transaction waiting in the pool: no block yet.
pub fn pending_transaction(tx: &EvmTx) -> RpcTransaction {
    RpcTransaction {
        inner: alloy_consensus::transaction::Recovered::new_unchecked(
            tx.envelope().clone(),
            tx.sender(),
        ),
        block_hash: None,
        block_number: None,
        transaction_index: None,
        effective_gas_price: None,
        block_timestamp: None,
    }
}

/// A transaction as included in a block.
pub fn transaction(tx: &EvmTx, block: &Block, index: usize) -> RpcTransaction {
    let h = &block.header;
    let envelope: TxEnvelope = tx.envelope().clone();
    let effective_gas_price = envelope.effective_gas_price(Some(h.base_fee));
    RpcTransaction {
        inner: alloy_consensus::transaction::Recovered::new_unchecked(envelope, tx.sender()),
        block_hash: Some(block.hash),
        block_number: Some(h.number),
        transaction_index: Some(index as u64),
        effective_gas_price: Some(effective_gas_price),
        block_timestamp: Some(h.timestamp),
    }
}

/// A block; `txs` are its decoded transactions for a block with full
/// transactions.
pub fn block(lb: &LedgerBlock, form: BlockForm, txs: Option<&[EvmTx]>) -> RpcBlock {
    let transactions = match txs {
        Some(txs) => BlockTransactions::Full(
            txs.iter().enumerate().map(|(i, tx)| transaction(tx, &lb.block, i)).collect(),
        ),
        None => BlockTransactions::Hashes(lb.receipts.iter().map(|r| r.tx_hash).collect()),
    };
    let eth = eth_parts(&lb.block, form);
    let size = Some(U256::from(encoded_size(&lb.block, &eth)));
    let EthBlockData { header: inner, ommers, withdrawals, .. } = eth;
    let uncles = ommers.iter().map(|o| o.hash_slow()).collect();
    let total_difficulty = matches!(form, BlockForm::Lanes(_)).then_some(U256::ZERO);
    let withdrawals = inner.withdrawals_root.is_some().then(|| withdrawals.unwrap_or_default());
    let header = RpcHeader { hash: lb.block.hash, inner, total_difficulty, size };
    RpcBlock { header, uncles, transactions, withdrawals }
}

/// The ommer headers of `block` (an imported block's own; none for lanes').
pub fn ommers(block: &Block, form: BlockForm) -> Vec<alloy_consensus::Header> {
    eth_parts(block, form).ommers
}

/// An ommer as `eth_getUncleBy*` answers it, as geth does: a block of its
/// header alone (no transactions, ommers or withdrawals), its size that
/// block's encoding.
pub fn uncle(ommer: alloy_consensus::Header) -> RpcBlock {
    use alloy_rlp::Encodable;
    let empty = alloy_rlp::Header { list: true, payload_length: 0 }.length();
    let payload = ommer.length() + 2 * empty;
    let size = alloy_rlp::Header { list: true, payload_length: payload }.length() + payload;
    let header = RpcHeader {
        hash: ommer.hash_slow(),
        inner: ommer,
        total_difficulty: None,
        size: Some(U256::from(size)),
    };
    RpcBlock {
        header,
        uncles: Vec::new(),
        transactions: BlockTransactions::Hashes(Vec::new()),
        withdrawals: None,
    }
}

/// A block as Ethereum's wire encodes it (`debug_getRawBlock`): the RLP
/// list of its header, its transactions (`txs`, the block's, decoded), its
/// ommers and, from Shanghai on, its withdrawals.
pub fn raw_block(lb: &LedgerBlock, form: BlockForm, txs: &[EvmTx]) -> Bytes {
    let EthBlockData { header, ommers, withdrawals, .. } = eth_parts(&lb.block, form);
    let transactions = txs.iter().map(|tx| tx.envelope().clone()).collect();
    let body = alloy_consensus::BlockBody::<TxEnvelope> { transactions, ommers, withdrawals };
    alloy_rlp::encode(alloy_consensus::Block { header, body }).into()
}

/// The length of [`raw_block`]'s encoding (a block's `size`), from the
/// transactions' stored bytes: an EIP-2718 typed transaction is an RLP string
/// in the block's list, a legacy one the RLP list it is.
fn encoded_size(block: &Block, eth: &EthBlockData) -> usize {
    use alloy_rlp::{Encodable, Header};
    let wrapped = |payload_length: usize, list: bool| {
        Header { list, payload_length }.length() + payload_length
    };
    let txs: usize = block
        .txs()
        .map(|t| match t.tx.first() {
            Some(&b) if b >= 0xc0 => t.tx.len(),
            _ => wrapped(t.tx.len(), false),
        })
        .sum();
    let payload = eth.header.length()
        + wrapped(txs, true)
        + eth.ommers.length()
        + eth.withdrawals.as_ref().map_or(0, Encodable::length);
    wrapped(payload, true)
}

/// A block's header as Ethereum encodes it (`debug_getRawHeader`).
pub fn raw_header(block: &Block, form: BlockForm) -> Bytes {
    alloy_rlp::encode(eth_parts(block, form).header).into()
}

/// The logs of receipt `index`, numbered from `first_log` in the block.
pub fn logs(block: &Block, receipt: &Receipt, index: usize, first_log: usize) -> Vec<RpcLog> {
    let h = &block.header;
    receipt_logs(receipt)
        .into_iter()
        .enumerate()
        .map(|(i, inner)| RpcLog {
            inner,
            block_hash: Some(block.hash),
            block_number: Some(h.number),
            block_timestamp: Some(h.timestamp),
            transaction_hash: Some(receipt.tx_hash),
            transaction_index: Some(index as u64),
            log_index: Some((first_log + i) as u64),
            removed: false,
        })
        .collect()
}

/// The receipt of transaction `index` of a block whose blob base fee is
/// `blob_fee` (`None` before Cancun).
pub fn receipt(
    lb: &LedgerBlock,
    tx: &EvmTx,
    index: usize,
    blob_fee: Option<u128>,
) -> TransactionReceipt {
    let first_log: usize = lb.receipts[..index].iter().map(|r| receipt_logs(r).len()).sum();
    let status = statuses(lb).swap_remove(index);
    receipt_at(lb, tx, (index, first_log, status), blob_fee)
}

/// Each receipt's status field: before Byzantium, the state root after its
/// transaction (an imported block keeps them, [`EthBlockData::post_states`]);
/// else whether it succeeded (EIP-658).
pub fn statuses(lb: &LedgerBlock) -> Vec<Eip658Value> {
    let extra = &lb.block.header.extra;
    let roots = match lanes_evm_adapter::ExtraParts::parse(extra) {
        Some(_) => Vec::new(),
        None => EthBlockData::from_extra(extra).map(|d| d.post_states).unwrap_or_default(),
    };
    match roots.len() == lb.receipts.len() && !roots.is_empty() {
        true => roots.into_iter().map(Eip658Value::PostState).collect(),
        false => lb.receipts.iter().map(|r| Eip658Value::Eip658(r.outcome.success)).collect(),
    }
}

/// Every receipt of a block, in one pass (`txs` are the block's, decoded).
pub fn receipts(
    lb: &LedgerBlock,
    txs: &[EvmTx],
    blob_fee: Option<u128>,
) -> Vec<TransactionReceipt> {
    let mut first_log = 0;
    let statuses = statuses(lb);
    txs.iter()
        .zip(statuses)
        .enumerate()
        .map(|(index, (tx, status))| {
            let receipt = receipt_at(lb, tx, (index, first_log, status), blob_fee);
            first_log += receipt.inner.logs().len();
            receipt
        })
        .collect()
}

/// The receipt of transaction `index`, whose first log is the block's
/// `first_log`; a blob transaction's carries its blob gas and the block's
/// blob base fee.
fn receipt_at(
    lb: &LedgerBlock,
    tx: &EvmTx,
    (index, first_log, status): (usize, usize, Eip658Value),
    blob_fee: Option<u128>,
) -> TransactionReceipt {
    let h = &lb.block.header;
    let r = &lb.receipts[index];
    let logs = logs(&lb.block, r, index, first_log);
    let bloom = logs_bloom(logs.iter().map(|l| &l.inner));
    let created = EvmReceiptData::from_outcome(&r.outcome).and_then(|d| d.created);
    let inner = ReceiptWithBloom {
        receipt: ConsensusReceipt { status, cumulative_gas_used: r.cumulative_gas_used, logs },
        logs_bloom: bloom,
    };
    let inner = match tx.envelope().tx_type() {
        TxType::Legacy => ReceiptEnvelope::Legacy(inner),
        TxType::Eip2930 => ReceiptEnvelope::Eip2930(inner),
        TxType::Eip4844 => ReceiptEnvelope::Eip4844(inner),
        TxType::Eip7702 => ReceiptEnvelope::Eip7702(inner),
        TxType::Eip1559 => ReceiptEnvelope::Eip1559(inner),
    };
    let blobs = tx.envelope().blob_versioned_hashes().map(<[B256]>::len);
    let blob_gas_used = blobs.map(|n| n as u64 * alloy_eips::eip4844::DATA_GAS_PER_BLOB);
    TransactionReceipt {
        inner,
        transaction_hash: r.tx_hash,
        transaction_index: Some(index as u64),
        block_hash: Some(lb.block.hash),
        block_number: Some(h.number),
        gas_used: r.outcome.gas_used,
        effective_gas_price: tx.envelope().effective_gas_price(Some(h.base_fee)),
        blob_gas_used,
        blob_gas_price: blob_gas_used.and(blob_fee),
        from: tx.sender(),
        to: tx.envelope().to(),
        contract_address: created,
    }
}
