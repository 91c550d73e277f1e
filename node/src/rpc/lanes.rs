//! The `lanes_*` methods ([`LanesApiServer`]): a block's entries and lanes,
//! a transaction's set, the node's counters, and the verified sources the
//! explorer decodes with.

use lanes_rpc::block_param::BlockTag;
use std::sync::Arc;

use alloy_eips::BlockNumberOrTag;
use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, Bytes, U64};
use jsonrpsee::core::RpcResult;

use crate::NodeState;
use crate::ledger::LedgerBlock;
use lanes_rpc::api::LanesApiServer;
use lanes_rpc::explorer::{BlockLanes, ContractAbi, TransactionSet};
use lanes_rpc::types::{
    BlockEntries, BlockEntry, LastBlockStats, NodeStats, SetSource, TransactionStatus,
};

/// Most selectors and topics one `lanes_lookupSignatures` may ask.
pub(crate) const MAX_SIGNATURE_LOOKUPS: usize = 1_024;

/// The `lanes` namespace of a node.
pub(crate) struct LanesRpc {
    state: Arc<NodeState>,
}

impl LanesRpc {
    pub(crate) fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }
}

impl LanesApiServer for LanesRpc {
    fn get_block_entries(&self, block: BlockTag) -> RpcResult<Option<BlockEntries>> {
        let block = BlockNumberOrTag::from(block);
        let Some(number) = self.state.resolve(block) else { return Ok(None) };
        Ok(self.state.block(number)?.map(|lb| block_entries(&lb)))
    }

    fn get_block_lanes(&self, block: BlockTag) -> RpcResult<Option<BlockLanes>> {
        let block = BlockNumberOrTag::from(block);
        let Some(number) = self.state.resolve(block) else { return Ok(None) };
        let Some(lb) = self.state.block(number)? else { return Ok(None) };
        let runs = self.state.publisher.runs.lock().of(&lb.block.hash);
        Ok(Some(crate::block_lanes::block_lanes(&lb, runs.as_deref())))
    }

    fn get_transaction_set(&self, hash: B256) -> RpcResult<Option<TransactionSet>> {
        let Some((number, index)) = self.state.ledger.locate_tx(&hash) else { return Ok(None) };
        let Some(lb) = self.state.block(number)? else { return Ok(None) };
        let runs = self.state.publisher.runs.lock().of(&lb.block.hash);
        Ok(crate::block_lanes::transaction_set(&lb, index, runs.as_deref()))
    }

    fn get_contract_abi(&self, address: Address) -> RpcResult<Option<ContractAbi>> {
        let view = self.state.state_at(None)?;
        let code = crate::state::code_of(&view, &crate::state::account(&view, &address)?)?;
        if code.is_empty() {
            return Ok(None);
        }
        Ok(self.state.abis.contract(&code).map(|(name, artifact, abi)| ContractAbi {
            name: name.to_owned(),
            artifact: artifact.to_owned(),
            abi: abi.clone(),
        }))
    }

    fn lookup_signatures(
        &self,
        ids: Vec<Bytes>,
    ) -> RpcResult<BTreeMap<String, Vec<serde_json::Value>>> {
        if ids.len() > MAX_SIGNATURE_LOOKUPS {
            return Err(crate::error::RpcError::Limit(format!(
                "{} signatures asked, more than the {MAX_SIGNATURE_LOOKUPS} one call may ask",
                ids.len()
            ))
            .into());
        }
        Ok(self.state.abis.lookup(ids.iter().map(|id| id.as_ref())))
    }

    fn relay_transactions(&self, txs: Vec<alloy_primitives::Bytes>) -> RpcResult<u64> {
        if txs.len() > crate::relay::RELAY_BATCH {
            return Err(crate::error::RpcError::Limit(format!(
                "{} transactions, more than the {} one relay may carry",
                txs.len(),
                crate::relay::RELAY_BATCH
            ))
            .into());
        }
        // Each as a send would be; one refused (known already, a nonce
        // taken) does not stop the others.
        let taken = txs.iter().filter(|raw| self.state.send_raw_waiting(raw).is_ok()).count();
        Ok(taken as u64)
    }

    fn transaction_status(&self, hash: B256) -> RpcResult<TransactionStatus> {
        let s = &self.state;
        let status =
            |status: &str| TransactionStatus { status: status.into(), ..Default::default() };
        let included = |number| TransactionStatus {
            block_number: Some(U64::from(number)),
            ..status("included")
        };
        if let Some((number, _)) = s.ledger.locate_tx(&hash) {
            return Ok(included(number));
        }
        // The stage holds it from submission until its block is appended to
        // the ledger, which serves the block a moment later: asked in this
        // order, one of the three answers.
        if s.stage(|st| st.holds(&hash))? {
            return Ok(status("pending"));
        }
        if let Some((number, _)) = s.ledger.locate_appended_tx(&hash) {
            let served = s.ledger.locate_tx(&hash).is_some();
            return Ok(if served { included(number) } else { status("pending") });
        }
        Ok(match s.dropped_reason(&hash)? {
            Some(reason) => TransactionStatus { reason: Some(reason), ..status("dropped") },
            None => status("unknown"),
        })
    }

    fn stats(&self) -> RpcResult<NodeStats> {
        let s = &self.state;
        let t = s.totals.lock().clone();
        let pool = s.stage(|st| st.pool_len())?;
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        let last_block = t.last.map(|b| LastBlockStats {
            number: b.number,
            transactions: b.transactions as u64,
            entries: b.entries as u64,
            mean_entry_width: b.mean_entry_width,
            exclusive: b.exclusive as u64,
            conflicts: b.conflicts,
            rejected: b.rejected as u64,
            gas_used: b.gas_used,
            sigverify_ms: ms(b.sigverify_time),
            scheduler_ms: ms(b.scheduler_time),
            workers_ms: ms(b.worker_time),
            seal_ms: ms(b.seal_time),
        });
        Ok(NodeStats {
            head: s.head(),
            pool: pool as u64,
            blocks: t.blocks,
            transactions: t.transactions,
            entries: t.entries,
            mean_entry_width: if t.entries == 0 {
                0.0
            } else {
                t.transactions as f64 / t.entries as f64
            },
            exclusive: t.exclusive,
            declared: t.declared,
            known: t.known,
            predicted: t.predicted,
            mispredicted: t.mispredicted,
            predictions_held: t.predictions_held,
            over_predicted: t.over_predicted,
            conflicts: t.conflicts,
            rejected: t.rejected,
            last_block,
        })
    }
}

fn block_entries(lb: &LedgerBlock) -> BlockEntries {
    let mut index = 0;
    let entries = lb
        .block
        .entries
        .iter()
        .map(|e| {
            let transactions =
                lb.receipts[index..index + e.txs.len()].iter().map(|r| r.tx_hash).collect();
            index += e.txs.len();
            let sources = e.txs.iter().map(|t| SetSource::from(t.source)).collect();
            BlockEntry {
                exclusive: e.exclusive,
                width: e.txs.len() as u64,
                transactions,
                sources,
                lanes: e.lanes.clone(),
            }
        })
        .collect();
    BlockEntries {
        number: U64::from(lb.block.header.number),
        hash: lb.block.hash,
        transactions: lb.receipts.len() as u64,
        entries,
    }
}
