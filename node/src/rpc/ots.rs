//! Otterscan's `ots_*` methods ([`OtsApiServer`]) and
//! `erigon_getHeaderByNumber`, answered as anvil answers them.
//!
//! The address searches (`ots_searchTransactions*`,
//! `ots_getTransactionBySenderAndNonce`, `ots_getContractCreator`) read an
//! index, not the chain: each block's transactions are filed under every
//! account their access sets name (what they called, created or read), their
//! sender and their callee. A set covers every call a transaction made, so
//! the index finds each candidate; the parity traces of the candidate's block
//! then confirm it as anvil matches (an address in a call, a creation or a
//! self-destruct). Transactions that ran in the exclusive lane have no set and
//! are candidates for every address. The index grows as blocks come and
//! starts over when a revert replaces blocks it holds.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use alloy_consensus::Transaction as _;
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_eth::{Block, Header, Transaction, TransactionReceipt};
use alloy_rpc_types_trace::otterscan::{
    BlockDetails, ContractCreator, InternalIssuance, InternalOperation, OperationType, OtsBlock,
    OtsBlockTransactions, OtsReceipt, OtsTransactionReceipt, TraceEntry, TransactionsWithReceipts,
};
use alloy_rpc_types_trace::parity::{Action, TraceOutput};
use jsonrpsee::core::RpcResult;
use lanes_evm_adapter::{CallKind, has_code};
use parking_lot::Mutex;

use crate::NodeState;
use crate::convert;
use crate::error::{Res, RpcError, internal};
use crate::ledger::LedgerBlock;
use crate::rpc::blocks::rpc_block;
use crate::rpc::tracing::{call_traces, localized, replay_block};
use crate::state::account;
use lanes_rpc::api::{OTS_API_LEVEL, OtsApiServer};
use lanes_rpc::types::{LenientBlock, Quantity};

/// Most transactions one search page asks for.
pub(crate) const MAX_OTS_PAGE_SIZE: u64 = 1_000;

/// A transaction's place: block number and index in it.
type Place = (u64, u32);

/// Transactions by the accounts they may touch (see the module docs).
#[derive(Default)]
struct AddressIndex {
    /// The last block indexed, and its hash.
    last: Option<(u64, B256)>,
    by_address: HashMap<Address, Vec<Place>>,
    /// Transactions whose block names no set for them.
    exclusive: Vec<Place>,
}

impl AddressIndex {
    /// Files the blocks after the last one indexed, up to the head; starts
    /// over when that block is no longer the ledger's.
    fn update(&mut self, s: &NodeState) -> Res<()> {
        if let Some((n, hash)) = self.last
            && s.ledger.hash_of(n) != Some(hash)
        {
            *self = Self::default();
        }
        let start = self.last.map_or(1, |(n, _)| n + 1);
        for number in start..=s.head() {
            let Some(lb) = s.block(number)? else { break };
            let txs = s.decode_txs(&lb)?;
            let mut index = 0u32;
            for entry in &lb.block.entries {
                for etx in &entry.txs {
                    let tx = &txs[index as usize];
                    let place = (number, index);
                    let mut named: BTreeSet<Address> =
                        etx.access.keys().iter().map(|k| k.address()).collect();
                    named.insert(tx.sender());
                    named.insert(match tx.envelope().to() {
                        Some(to) => to,
                        None => tx.sender().create(tx.envelope().nonce()),
                    });
                    if entry.exclusive || etx.access.keys().is_empty() {
                        self.exclusive.push(place);
                    }
                    for address in named {
                        self.by_address.entry(address).or_default().push(place);
                    }
                    index += 1;
                }
            }
            self.last = Some((number, lb.block.hash));
        }
        Ok(())
    }

    /// The blocks holding candidates for `address`, within `range`.
    fn blocks(&self, address: &Address, range: std::ops::RangeInclusive<u64>) -> BTreeSet<u64> {
        let named = self.by_address.get(address).into_iter().flatten();
        named.chain(&self.exclusive).map(|(n, _)| *n).filter(|n| range.contains(n)).collect()
    }
}

/// The `ots` namespace of a node.
pub(crate) struct OtsRpc {
    state: Arc<NodeState>,
    index: Mutex<AddressIndex>,
}

impl OtsRpc {
    pub(crate) fn new(state: Arc<NodeState>) -> Self {
        Self { state, index: Mutex::default() }
    }

    /// The index, brought up to the head.
    fn index(&self) -> Res<parking_lot::MutexGuard<'_, AddressIndex>> {
        let mut index = self.index.lock();
        index.update(&self.state)?;
        Ok(index)
    }

    /// The hashes of block `number`'s transactions whose traces name
    /// `address`, newest first.
    fn matching(&self, number: u64, address: Address) -> Res<Vec<B256>> {
        let traces = localized(&self.state, number, |_| true)?;
        let mut hashes: Vec<B256> = Vec::new();
        for trace in traces.iter().rev().filter(|t| t.trace.contains_address(address)) {
            let hash = trace.transaction_hash.unwrap_or_default();
            if !hashes.contains(&hash) {
                hashes.push(hash);
            }
        }
        Ok(hashes)
    }

    /// The transactions and Otterscan receipts of `hashes`.
    fn with_receipts(
        &self,
        hashes: &[B256],
    ) -> Res<(Vec<Transaction>, Vec<OtsTransactionReceipt>)> {
        let s = &self.state;
        let mut txs = Vec::with_capacity(hashes.len());
        let mut receipts = Vec::with_capacity(hashes.len());
        for hash in hashes {
            let (lb, index) =
                s.find_tx(hash)?.ok_or_else(|| internal(format!("indexed tx {hash} is gone")))?;
            let tx = s.decode_tx(&lb, index)?;
            receipts.push(ots_receipt(convert::receipt(&lb, &tx, index, s.blob_fee(&lb)), &lb));
            txs.push(convert::transaction(&tx, &lb.block, index));
        }
        Ok((txs, receipts))
    }

    fn details(&self, number: u64) -> Res<BlockDetails<Header>> {
        let s = &self.state;
        let lb = s.block(number)?.ok_or_else(|| RpcError::NotFound("block not found".into()))?;
        let txs = s.decode_txs(&lb)?;
        let total_fees = convert::receipts(&lb, &txs, s.blob_fee(&lb))
            .iter()
            .map(|r| U256::from(r.gas_used) * U256::from(r.effective_gas_price))
            .sum();
        let block = rpc_block(s, number, false)?.ok_or_else(|| internal("block unreadable"))?;
        Ok(BlockDetails::new(block, InternalIssuance::default(), total_fees))
    }

    /// The node trees of a mined transaction's calls.
    fn call_nodes(&self, hash: B256) -> Res<Vec<lanes_evm_adapter::CallTraceNode>> {
        let s = &self.state;
        let (number, index) = s
            .ledger
            .locate_tx(&hash)
            .ok_or_else(|| RpcError::NotFound(format!("transaction {hash} not found")))?;
        let nodes = s.heavy.run(|| {
            replay_block(
                s,
                number,
                |i| i == index as usize,
                call_traces(),
                |_, tracer, _, _| tracer.into_traces().into_nodes(),
            )
        })?;
        Ok(nodes.into_iter().flatten().flatten().collect())
    }
}

/// A receipt as Otterscan reads it, stamped with its block's time.
fn ots_receipt(receipt: TransactionReceipt, lb: &LedgerBlock) -> OtsTransactionReceipt {
    let receipt = receipt.map_inner(|r| OtsReceipt {
        status: r.status(),
        cumulative_gas_used: r.cumulative_gas_used(),
        logs: Some(r.logs().to_vec()),
        logs_bloom: Some(*r.logs_bloom()),
        r#type: r.tx_type() as u8,
    });
    OtsTransactionReceipt { receipt, timestamp: Some(lb.block.header.timestamp) }
}

impl OtsApiServer for OtsRpc {
    fn api_level(&self) -> RpcResult<u64> {
        Ok(OTS_API_LEVEL)
    }

    fn header_by_number(&self, block: LenientBlock) -> RpcResult<Option<Block>> {
        let s = &self.state;
        let Some(number) = s.resolve(block.0) else { return Ok(None) };
        Ok(rpc_block(s, number, false)?)
    }

    fn has_code(&self, address: Address, block: Option<LenientBlock>) -> RpcResult<bool> {
        let tag = block.map_or(BlockNumberOrTag::Latest, |b| b.0);
        let view = self.state.state_at(Some(BlockId::Number(tag)))?;
        Ok(has_code(&account(&view, &address)?.code_hash))
    }

    fn block_details(&self, block: Option<LenientBlock>) -> RpcResult<BlockDetails<Header>> {
        let tag = block.map_or(BlockNumberOrTag::Latest, |b| b.0);
        let number = self
            .state
            .resolve(tag)
            .ok_or_else(|| RpcError::NotFound(format!("block {tag} not found")))?;
        Ok(self.details(number)?)
    }

    fn block_details_by_hash(&self, hash: B256) -> RpcResult<BlockDetails<Header>> {
        let number = self
            .state
            .ledger
            .number_of(&hash)
            .ok_or_else(|| RpcError::NotFound(format!("unknown block hash {hash}")))?;
        Ok(self.details(number)?)
    }

    fn block_transactions(
        &self,
        block: Quantity,
        page: Quantity,
        page_size: Quantity,
    ) -> RpcResult<OtsBlockTransactions<Transaction, Header>> {
        let s = &self.state;
        let number = block.0;
        let lb = s.block(number)?.ok_or_else(|| RpcError::NotFound("block not found".into()))?;
        let txs = s.decode_txs(&lb)?;
        let size = page_size.0.min(MAX_OTS_PAGE_SIZE) as usize;
        let first = (page.0 as usize).saturating_mul(size);
        let picked = first..(first.saturating_add(size)).min(txs.len());
        let mut block = convert::block(&lb, s.block_form(), Some(&txs[picked.clone()]));
        let blob_fee = s.blob_fee(&lb);
        let receipts = picked
            .clone()
            .map(|i| ots_receipt(convert::receipt(&lb, &txs[i], i, blob_fee), &lb))
            .collect();
        // The page's transactions keep their indexes in the block.
        block.transactions = alloy_rpc_types_eth::BlockTransactions::Full(
            picked.map(|i| convert::transaction(&txs[i], &lb.block, i)).collect(),
        );
        let mut fullblock = OtsBlock::from(block);
        // The block's count, which Otterscan pages by (Erigon's answer).
        fullblock.transaction_count = txs.len();
        Ok(OtsBlockTransactions { fullblock, receipts })
    }

    fn internal_operations(&self, hash: B256) -> RpcResult<Vec<InternalOperation>> {
        let nodes = self.call_nodes(hash)?;
        Ok(nodes
            .iter()
            .filter_map(|node| {
                let t = &node.trace;
                let r#type = match t.kind {
                    _ if node.is_selfdestruct() => OperationType::OpSelfDestruct,
                    CallKind::Call if !t.value.is_zero() => OperationType::OpTransfer,
                    CallKind::Create => OperationType::OpCreate,
                    CallKind::Create2 => OperationType::OpCreate2,
                    _ => return None,
                };
                let (from, to, value) = if node.is_selfdestruct() {
                    let to = t.selfdestruct_refund_target.unwrap_or_default();
                    (t.address, to, t.selfdestruct_transferred_value.unwrap_or_default())
                } else {
                    (t.caller, t.address, t.value)
                };
                Some(InternalOperation { r#type, from, to, value })
            })
            .collect())
    }

    fn transaction_error(&self, hash: B256) -> RpcResult<Bytes> {
        let s = &self.state;
        let Some((lb, index)) = s.find_tx(&hash)? else { return Ok(Bytes::new()) };
        if lb.receipts[index].outcome.success {
            return Ok(Bytes::new());
        }
        let number = lb.block.header.number;
        let outputs = s.heavy.run(|| {
            replay_block(
                s,
                number,
                |i| i == index,
                call_traces(),
                |_, _, res, _| match &res.result {
                    revm::context::result::ExecutionResult::Revert { output, .. } => output.clone(),
                    _ => Bytes::new(),
                },
            )
        })?;
        Ok(outputs.into_iter().flatten().next().unwrap_or_default())
    }

    fn trace_transaction(&self, hash: B256) -> RpcResult<Vec<TraceEntry>> {
        let Some((number, index)) = self.state.ledger.locate_tx(&hash) else {
            return Ok(Vec::new());
        };
        let traces = localized(&self.state, number, |i| i == index as usize)?;
        Ok(traces.iter().filter_map(|t| TraceEntry::from_transaction_trace(&t.trace)).collect())
    }

    fn search_before(
        &self,
        address: Address,
        block: Quantity,
        page_size: Quantity,
    ) -> RpcResult<TransactionsWithReceipts<Transaction>> {
        let head = self.state.head();
        let from = if block.0 == 0 { head } else { (block.0 - 1).min(head) };
        let size = page_size.0.min(MAX_OTS_PAGE_SIZE) as usize;
        let candidates = self.index()?.blocks(&address, 1..=from);
        let mut hashes = Vec::new();
        let mut full_at = None;
        for &number in candidates.iter().rev() {
            let found = self.matching(number, address)?;
            if found.is_empty() {
                continue;
            }
            if hashes.len() >= size {
                full_at = Some(number);
                break;
            }
            hashes.extend(found);
        }
        // As anvil pages: a full page is not the last while older blocks remain.
        let last_page = full_at.is_none() && !(hashes.len() >= size && from > 1);
        let (txs, receipts) = self.with_receipts(&hashes)?;
        Ok(TransactionsWithReceipts { txs, receipts, first_page: from >= head, last_page })
    }

    fn search_after(
        &self,
        address: Address,
        block: Quantity,
        page_size: Quantity,
    ) -> RpcResult<TransactionsWithReceipts<Transaction>> {
        let head = self.state.head();
        let from = if block.0 == 0 { 1 } else { block.0 + 1 };
        let size = page_size.0.min(MAX_OTS_PAGE_SIZE) as usize;
        let candidates = self.index()?.blocks(&address, from..=head);
        let mut hashes = Vec::new();
        let mut broke = false;
        for &number in &candidates {
            let mut found = self.matching(number, address)?;
            if found.is_empty() {
                continue;
            }
            if hashes.len() >= size {
                broke = true;
                break;
            }
            found.reverse();
            hashes.extend(found);
        }
        let first_page = from >= head || (!broke && hashes.len() < size);
        hashes.reverse();
        let (txs, receipts) = self.with_receipts(&hashes)?;
        Ok(TransactionsWithReceipts { txs, receipts, first_page, last_page: from <= 1 })
    }

    fn transaction_by_sender_and_nonce(
        &self,
        sender: Address,
        nonce: Quantity,
    ) -> RpcResult<Option<B256>> {
        let s = &self.state;
        let places: Vec<Place> = {
            let index = self.index()?;
            index.by_address.get(&sender).cloned().unwrap_or_default()
        };
        for (number, i) in places.into_iter().rev() {
            let Some(lb) = s.block(number)? else { continue };
            let Some(raw) = lb.block.txs().nth(i as usize) else { continue };
            let tx = lanes_evm_adapter::EvmTx::decode(&raw.tx, &s.rules)
                .map_err(|e| internal(format!("block {number}: a stored transaction: {e}")))?;
            if tx.sender() == sender && tx.envelope().nonce() == nonce.0 {
                return Ok(Some(tx.hash()));
            }
        }
        Ok(None)
    }

    fn contract_creator(&self, address: Address) -> RpcResult<Option<ContractCreator>> {
        let head = self.state.head();
        let candidates = self.index()?.blocks(&address, 1..=head);
        for &number in candidates.iter().rev() {
            let traces = localized(&self.state, number, |_| true)?;
            for t in traces.iter().rev() {
                if let (Action::Create(create), Some(TraceOutput::Create(out))) =
                    (&t.trace.action, &t.trace.result)
                    && out.address == address
                {
                    let hash = t.transaction_hash.unwrap_or_default();
                    return Ok(Some(ContractCreator { hash, creator: create.from }));
                }
            }
        }
        Ok(None)
    }
}
