//! The `eth_*` methods ([`EthApiServer`]) over the ledger, the latest state
//! and the banking stage.

use lanes_rpc::block_param::{BlockParam, BlockTag};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use alloy_consensus::{SignableTransaction, TxEnvelope, TypedTransaction};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip4844::DATA_GAS_PER_BLOB;
use alloy_eips::eip7928::BlockAccessList;
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_rpc_types_eth::simulate::SimulatePayload;
use alloy_rpc_types_eth::state::StateOverride;
use alloy_rpc_types_eth::{
    AccessListResult, Block, BlockOverrides, FeeHistory, Filter, FilterChanges, Index, Log,
    Transaction, TransactionReceipt, TransactionRequest,
};
use alloy_signer::SignerSync;
use jsonrpsee::core::{RpcResult, async_trait};
use lanes_accounts_db::AccountsRead;
use lanes_eth::tx_request::Fees;
use lanes_evm_adapter::{CallRequest, IMPERSONATED_TAG, Overlay, impersonated};
use lanes_runtime::Bank;

use crate::convert;
use crate::error::{Res, RpcError, internal};
use crate::filters::{self, FilterKind};
use crate::rpc::blocks::{pending_block, rpc_block};
use crate::rpc::call::{call_request, failure, override_block, request_tx, sim_error};
use crate::rpc::chain;
use crate::rpc::logs::{self, filter_changes, get_logs, install, unknown_filter};
use crate::rpc::send::{settled, submit, sync_timeout, take};
use crate::rpc::signing::{self as sign, unlocked};
use crate::state::account;
use crate::{NodeState, SUGGESTED_TIP};
use lanes_rpc::api::EthApiServer;
use lanes_rpc::types::{Capabilities, EthConfig, StorageSlot};

/// The `eth` namespace of a node.
pub(crate) struct EthRpc {
    state: Arc<NodeState>,
}

impl EthRpc {
    pub(crate) fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }
}

#[async_trait]
impl EthApiServer for EthRpc {
    fn chain_id(&self) -> RpcResult<U64> {
        Ok(U64::from(self.state.chain_id()))
    }

    fn syncing(&self) -> RpcResult<bool> {
        Ok(false)
    }

    fn mining(&self) -> RpcResult<bool> {
        Ok(true)
    }

    fn coinbase(&self) -> RpcResult<Address> {
        Ok(self.state.stage(|st| st.coinbase())?)
    }

    fn accounts(&self) -> RpcResult<Vec<Address>> {
        Ok(self.state.signers.iter().map(|k| k.address()).collect())
    }

    fn block_number(&self) -> RpcResult<U64> {
        Ok(U64::from(self.state.head()))
    }

    fn gas_price(&self) -> RpcResult<U256> {
        let base_fee = self.state.next_base_fee()?;
        Ok(U256::from(base_fee) + U256::from(SUGGESTED_TIP))
    }

    fn max_priority_fee_per_gas(&self) -> RpcResult<U256> {
        Ok(U256::from(SUGGESTED_TIP))
    }

    fn balance(&self, address: Address, block: Option<BlockParam>) -> RpcResult<U256> {
        let block = block.map(BlockId::from);
        Ok(account(&self.state.state_at(block)?, &address)?.balance)
    }

    fn transaction_count(&self, address: Address, block: Option<BlockParam>) -> RpcResult<U64> {
        let block = block.map(BlockId::from);
        let s = &self.state;
        let nonce = match block {
            Some(BlockId::Number(BlockNumberOrTag::Pending)) => s.pending_nonce(&address)?,
            _ => account(&s.state_at(block)?, &address)?.nonce,
        };
        Ok(U64::from(nonce))
    }

    fn code(&self, address: Address, block: Option<BlockParam>) -> RpcResult<Bytes> {
        let block = block.map(BlockId::from);
        let view = self.state.state_at(block)?;
        Ok(crate::state::code_of(&view, &account(&view, &address)?)?)
    }

    fn account_info(
        &self,
        address: Address,
        block: Option<BlockParam>,
    ) -> RpcResult<alloy_rpc_types_eth::AccountInfo> {
        let block = block.map(BlockId::from);
        let view = self.state.state_at(block)?;
        let header = account(&view, &address)?;
        let code = crate::state::code_of(&view, &header)?;
        Ok(alloy_rpc_types_eth::AccountInfo { balance: header.balance, nonce: header.nonce, code })
    }

    fn storage_at(
        &self,
        address: Address,
        slot: StorageSlot,
        block: Option<BlockParam>,
    ) -> RpcResult<B256> {
        let block = block.map(BlockId::from);
        let view = self.state.state_at(block)?;
        let value = view.get_storage(&address, &B256::from(slot.0)).map_err(internal)?;
        Ok(B256::from(value))
    }

    fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockParam>,
        state_overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> RpcResult<Bytes> {
        let block = block.map(BlockId::from);
        let s = &self.state;
        Ok(s.heavy.run(|| {
            let executor = s.executor_at(s.env_block(block)?)?;
            let request = call_request(&request, &executor)?;
            let sim = if state_overrides.is_none() && block_overrides.is_none() {
                let bank = s.sim_bank(block)?;
                executor.call(&bank, &request).map_err(sim_error)?
            } else {
                let (view, mut env) = s.sim_env(block)?;
                if let Some(o) = block_overrides.as_deref() {
                    override_block(&mut env, o)?;
                }
                let mut overlay = Overlay::new(view, &env);
                overlay.apply(&state_overrides.unwrap_or_default()).map_err(sim_error)?;
                executor.call_overlay(&mut overlay, &request, false).map_err(sim_error)?
            };
            match failure(&sim) {
                Some(e) => Err(e),
                None => Ok(sim.output),
            }
        })?)
    }

    fn simulate_v1(
        &self,
        payload: SimulatePayload,
        block: Option<BlockParam>,
    ) -> RpcResult<Vec<serde_json::Value>> {
        let block = block.map(BlockId::from);
        let s = &self.state;
        Ok(s.heavy.run(|| crate::rpc::simulate::simulate_v1(s, &payload, block))?)
    }

    fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockParam>,
    ) -> RpcResult<U64> {
        let block = block.map(BlockId::from);
        let s = &self.state;
        // Without a block, for the next one, where the transaction will run
        // (anvil's default; `eth_call`'s is the head).
        let block = block.or(Some(BlockId::Number(BlockNumberOrTag::Pending)));
        Ok(s.heavy.run(|| {
            let bank = s.sim_bank(block)?;
            let executor = s.executor_at(s.env_block(block)?)?;
            let gas = executor
                .estimate_gas(&bank, &call_request(&request, &executor)?)
                .map_err(sim_error)?;
            Ok(U64::from(gas))
        })?)
    }

    fn create_access_list(
        &self,
        request: TransactionRequest,
        block: Option<BlockParam>,
    ) -> RpcResult<AccessListResult> {
        let block = block.map(BlockId::from);
        let s = &self.state;
        Ok(s.heavy.run(|| {
            let bank = s.sim_bank(block)?;
            let executor = s.executor_at(s.env_block(block)?)?;
            let (access_list, sim) = executor
                .create_access_list(&bank, &call_request(&request, &executor)?)
                .map_err(sim_error)?;
            let error = failure(&sim).map(|e| e.to_string());
            Ok(AccessListResult { access_list, gas_used: U256::from(sim.gas_used), error })
        })?)
    }

    async fn send_raw_transaction(&self, bytes: Bytes) -> RpcResult<B256> {
        if bytes.starts_with(&IMPERSONATED_TAG) {
            return Err(RpcError::Invalid(
                "impersonated transactions come from eth_sendTransaction after anvil_impersonateAccount, not as raw bytes".into(),
            )
            .into());
        }
        submit(&self.state, bytes).await
    }

    async fn send_transaction(&self, request: TransactionRequest) -> RpcResult<B256> {
        let state = self.state.clone();
        // Held until the transaction is pooled, not while it is mined.
        let numbering = match request.from {
            Some(from) => Some(self.state.sends.of(&from).lock().await),
            None => None,
        };
        let raw = tokio::task::spawn_blocking(move || fill_and_sign(&state, request))
            .await
            .map_err(|e| RpcError::Internal(format!("signing task failed: {e}")))??;
        let (hash, wait) = take(&self.state, raw.into()).await?;
        drop(numbering);
        Ok(settled(hash, wait).await)
    }

    async fn send_raw_transaction_sync(
        &self,
        bytes: Bytes,
        timeout: Option<serde_json::Value>,
    ) -> RpcResult<TransactionReceipt> {
        let timeout = sync_timeout(timeout)?;
        let heads = self.state.heads.subscribe();
        let hash = self.send_raw_transaction(bytes).await?;
        self.receipt_within(hash, heads, timeout).await
    }

    async fn send_transaction_sync(
        &self,
        request: TransactionRequest,
        timeout: Option<serde_json::Value>,
    ) -> RpcResult<TransactionReceipt> {
        let timeout = sync_timeout(timeout)?;
        let heads = self.state.heads.subscribe();
        let hash = self.send_transaction(request).await?;
        self.receipt_within(hash, heads, timeout).await
    }

    fn new_filter(&self, filter: Filter) -> RpcResult<U256> {
        let s = &self.state;
        let filter = Box::new(filter);
        install(s, || {
            let next = s.head() + 1;
            FilterKind::Logs { filter, start: next, next, removed: vec![] }
        })
    }

    fn new_block_filter(&self) -> RpcResult<U256> {
        let s = &self.state;
        install(s, || FilterKind::Blocks { next: s.head() + 1 })
    }

    fn new_pending_transaction_filter(&self) -> RpcResult<U256> {
        install(&self.state, || FilterKind::Pending { hashes: Default::default() })
    }

    fn filter_changes(&self, id: U256) -> RpcResult<FilterChanges> {
        let s = &self.state;
        Ok(s.heavy.run(|| filter_changes(s, id))?)
    }

    fn filter_logs(&self, id: U256) -> RpcResult<Vec<Log>> {
        let s = &self.state;
        let filter = s
            .filters
            .poll(id, |kind| match kind {
                FilterKind::Logs { filter, .. } => Some(filter.clone()),
                _ => None,
            })
            .map_err(|_| unknown_filter(s, id))?
            .ok_or_else(|| RpcError::Invalid(format!("filter {id:#x} is not a log filter")))?;
        Ok(s.heavy.run(|| logs::filter_logs(s, &filter))?)
    }

    fn uninstall_filter(&self, id: U256) -> RpcResult<bool> {
        Ok(self.state.filters.uninstall(id))
    }

    fn sign_transaction(&self, request: TransactionRequest) -> RpcResult<Bytes> {
        let from = request.from.ok_or_else(|| RpcError::Params("`from` is required".into()))?;
        unlocked(&self.state, from)?;
        Ok(fill_and_sign(&self.state, request)?.into())
    }

    fn sign(&self, address: Address, message: Bytes) -> RpcResult<Bytes> {
        Ok(sign::personal(&self.state, address, &message)?)
    }

    fn sign_typed_data_v4(&self, address: Address, data: serde_json::Value) -> RpcResult<Bytes> {
        Ok(sign::typed_data(&self.state, address, data)?)
    }

    fn fill_transaction(&self) -> RpcResult<()> {
        Err(RpcError::Unsupported("eth_fillTransaction is not supported".into()).into())
    }

    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>> {
        let s = &self.state;
        let Some((lb, index)) = s.find_tx(&hash)? else {
            // Not in a block yet: answer for it while it waits in the pool.
            return Ok(s.stage(|st| st.pooled(&hash))?.map(|tx| convert::pending_transaction(&tx)));
        };
        let tx = s.decode_tx(&lb, index)?;
        Ok(Some(convert::transaction(&tx, &lb.block, index)))
    }

    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>> {
        let s = &self.state;
        let Some((lb, index)) = s.find_tx(&hash)? else { return Ok(None) };
        let tx = s.decode_tx(&lb, index)?;
        Ok(Some(convert::receipt(&lb, &tx, index, s.blob_fee(&lb))))
    }

    fn block_receipts(&self, block: BlockParam) -> RpcResult<Option<Vec<TransactionReceipt>>> {
        let block = BlockId::from(block);
        let s = &self.state;
        let Some(lb) = s.block_at(block)? else { return Ok(None) };
        let txs = s.decode_txs(&lb)?;
        Ok(Some(convert::receipts(&lb, &txs, s.blob_fee(&lb))))
    }

    fn block_access_list(&self, block: BlockParam) -> RpcResult<Option<BlockAccessList>> {
        let block = BlockId::from(block);
        let Some(raw) = self.block_access_list_raw(block.into())? else { return Ok(None) };
        let list = alloy_rlp::Decodable::decode(&mut &raw[..])
            .map_err(|e| internal(format!("block {block}: its stored access list: {e}")))?;
        Ok(Some(list))
    }

    fn block_access_list_by_block_hash(&self, hash: B256) -> RpcResult<Option<BlockAccessList>> {
        self.block_access_list(BlockId::from(hash).into())
    }

    fn block_access_list_by_block_number(
        &self,
        number: BlockTag,
    ) -> RpcResult<Option<BlockAccessList>> {
        self.block_access_list(BlockId::Number(number.into()).into())
    }

    fn block_access_list_raw(&self, block: BlockParam) -> RpcResult<Option<Bytes>> {
        let block = BlockId::from(block);
        let Some(lb) = self.state.block_at(block)? else { return Ok(None) };
        Ok(lb.access_list.clone().map(Bytes::from))
    }

    fn block_by_number(&self, number: BlockTag, full: Option<bool>) -> RpcResult<Option<Block>> {
        let number = BlockNumberOrTag::from(number);
        let full = full.unwrap_or(false);
        // The next block on a chain that builds its own (an imported chain
        // builds none: its pending block is its head).
        if number.is_pending() && self.state.rebuild.place().spec.imported.is_none() {
            return Ok(Some(pending_block(&self.state, full)?));
        }
        let Some(number) = self.state.resolve(number) else { return Ok(None) };
        Ok(rpc_block(&self.state, number, full)?)
    }

    fn block_by_hash(&self, hash: B256, full: Option<bool>) -> RpcResult<Option<Block>> {
        let Some(number) = self.state.ledger.number_of(&hash) else { return Ok(None) };
        Ok(rpc_block(&self.state, number, full.unwrap_or(false))?)
    }

    fn block_transaction_count_by_number(&self, number: BlockTag) -> RpcResult<Option<U64>> {
        let number = BlockNumberOrTag::from(number);
        let Some(number) = self.state.resolve(number) else { return Ok(None) };
        Ok(self.state.block(number)?.map(|lb| U64::from(lb.receipts.len())))
    }

    fn block_transaction_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        let Some(number) = self.state.ledger.number_of(&hash) else { return Ok(None) };
        Ok(self.state.block(number)?.map(|lb| U64::from(lb.receipts.len())))
    }

    fn transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> RpcResult<Option<Transaction>> {
        let Some(number) = self.state.ledger.number_of(&hash) else { return Ok(None) };
        Ok(transaction_at(&self.state, number, index.0)?)
    }

    fn transaction_by_block_number_and_index(
        &self,
        number: BlockTag,
        index: Index,
    ) -> RpcResult<Option<Transaction>> {
        let number = BlockNumberOrTag::from(number);
        let Some(number) = self.state.resolve(number) else { return Ok(None) };
        Ok(transaction_at(&self.state, number, index.0)?)
    }

    fn uncle_count_by_block_number(&self, number: BlockTag) -> RpcResult<Option<U64>> {
        let Some(number) = self.state.resolve(BlockNumberOrTag::from(number)) else {
            return Ok(None);
        };
        Ok(ommers_of(&self.state, number)?.map(|o| U64::from(o.len())))
    }

    fn uncle_count_by_block_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        let Some(number) = self.state.ledger.number_of(&hash) else { return Ok(None) };
        Ok(ommers_of(&self.state, number)?.map(|o| U64::from(o.len())))
    }

    fn uncle_by_block_number_and_index(
        &self,
        number: BlockTag,
        index: Index,
    ) -> RpcResult<Option<Block>> {
        let Some(number) = self.state.resolve(BlockNumberOrTag::from(number)) else {
            return Ok(None);
        };
        Ok(uncle_at(&self.state, number, index.0)?)
    }

    fn uncle_by_block_hash_and_index(&self, hash: B256, index: Index) -> RpcResult<Option<Block>> {
        let Some(number) = self.state.ledger.number_of(&hash) else { return Ok(None) };
        Ok(uncle_at(&self.state, number, index.0)?)
    }

    fn config(&self) -> RpcResult<EthConfig> {
        Ok(chain::config(&self.state)?)
    }

    fn proof(
        &self,
        address: Address,
        keys: Vec<alloy_serde::storage::JsonStorageKey>,
        block: Option<BlockParam>,
    ) -> RpcResult<alloy_rpc_types_eth::EIP1186AccountProofResponse> {
        let block = block.map(BlockId::from);
        let s = &self.state;
        Ok(s.heavy.run(|| chain::proof(s, address, keys, block))?)
    }

    fn capabilities(&self) -> RpcResult<Capabilities> {
        Ok(chain::capabilities(&self.state)?)
    }

    fn base_fee(&self) -> RpcResult<U256> {
        Ok(U256::from(self.state.next_base_fee()?))
    }

    fn blob_base_fee(&self) -> RpcResult<U256> {
        let s = &self.state;
        let fee = s.block(s.head())?.and_then(|lb| s.blob_fee(&lb));
        Ok(U256::from(fee.unwrap_or(1)))
    }

    fn storage_values(
        &self,
        slots: BTreeMap<Address, Vec<StorageSlot>>,
        block: Option<BlockParam>,
    ) -> RpcResult<BTreeMap<Address, Vec<B256>>> {
        let block = block.map(BlockId::from);
        Ok(chain::storage_values(&self.state, slots, block)?)
    }

    fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>> {
        let s = &self.state;
        logs::check_range(s, &filter)?;
        Ok(s.heavy.run(|| get_logs(s, &filter))?)
    }

    fn fee_history(
        &self,
        block_count: U64,
        newest_block: BlockTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory> {
        let newest_block = BlockNumberOrTag::from(newest_block);
        Ok(fee_history(&self.state, block_count.to::<u64>(), newest_block, reward_percentiles)?)
    }
}

fn estimate(s: &NodeState, bank: &Bank, request: &CallRequest) -> Res<u64> {
    s.executor.estimate_gas(bank, request).map_err(sim_error)
}

/// Transaction `index` of block `number`, as included; `None` past the
/// block's last transaction or for an unknown block.
fn transaction_at(s: &NodeState, number: u64, index: usize) -> Res<Option<Transaction>> {
    let Some(lb) = s.block(number)? else { return Ok(None) };
    if index >= lb.receipts.len() {
        return Ok(None);
    }
    let tx = s.decode_tx(&lb, index)?;
    Ok(Some(convert::transaction(&tx, &lb.block, index)))
}

/// The ommer headers of block `number`; `None` for a block the node does
/// not have.
fn ommers_of(s: &NodeState, number: u64) -> Res<Option<Vec<alloy_consensus::Header>>> {
    Ok(s.block(number)?.map(|lb| convert::ommers(&lb.block, s.block_form())))
}

/// Ommer `index` of block `number` as `eth_getUncleBy*` answers it.
fn uncle_at(s: &NodeState, number: u64, index: usize) -> Res<Option<Block>> {
    let ommers = ommers_of(s, number)?.unwrap_or_default();
    Ok(ommers.into_iter().nth(index).map(convert::uncle))
}

impl EthRpc {
    /// The receipt of `hash`, waiting on `heads` (subscribed before the
    /// send) for the block that holds it, at most `timeout`: EIP-7966's
    /// error 4 past it, and the reason if the node drops it meanwhile.
    async fn receipt_within(
        &self,
        hash: B256,
        mut heads: tokio::sync::broadcast::Receiver<filters::ChainEvent>,
        timeout: Duration,
    ) -> RpcResult<TransactionReceipt> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(receipt) = self.transaction_receipt(hash)? {
                return Ok(receipt);
            }
            if let Some(reason) = self.state.dropped_reason(&hash)? {
                return Err(RpcError::Invalid(format!("transaction {hash} was {reason}")).into());
            }
            match tokio::time::timeout_at(deadline, heads.recv()).await {
                Ok(Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) | Err(_) => {
                    if let Some(receipt) = self.transaction_receipt(hash)? {
                        return Ok(receipt);
                    }
                    let message = format!(
                        "The transaction was added to the transaction pool but wasn't processed in {timeout:?}"
                    );
                    return Err(jsonrpsee::types::ErrorObjectOwned::owned(4, message, Some(hash)));
                }
            }
        }
    }
}

/// The transaction a request asks for, filled as `eth_sendTransaction` fills
/// it (nonce, gas, fees) and signed by `from`'s key; for an impersonated
/// `from`, the dev-only encoding that names the sender instead.
fn fill_and_sign(s: &NodeState, r: TransactionRequest) -> Res<Vec<u8>> {
    let from = r.from.ok_or_else(|| RpcError::Params("`from` is required".into()))?;
    let signer = s.signers.iter().find(|k| k.address() == from);
    if signer.is_none() && !s.impersonates(&from) {
        return Err(RpcError::Invalid(format!(
            "{from} is not an account of this node (see eth_accounts; on a --dev node anvil_impersonateAccount sends as any address)"
        )));
    }
    // Signs with the node's key, or for an impersonated address wraps the
    // transaction with its sender and no signature.
    let seal = |hash: B256| -> Res<alloy_primitives::Signature> {
        match signer {
            Some(key) => key.sign_hash_sync(&hash).map_err(internal),
            None => Ok(alloy_primitives::Signature::new(U256::from(1), U256::from(1), false)),
        }
    };
    let base_fee = s.stage(|st| st.next_base_fee())?;
    let nonce = match r.nonce {
        Some(n) => n,
        None => s.pending_nonce(&from)?,
    };
    // The transaction the client asked for, with its own access list (or
    // none): the node predicts the set of one without. Adding a list here
    // would raise its intrinsic gas above the client's estimate.
    let gas = match r.gas {
        Some(gas) => gas,
        None => {
            let call = CallRequest {
                from: Some(from),
                nonce: Some(nonce),
                ..call_request(&r, &s.executor)?
            };
            estimate(s, &s.sim_bank(Some(BlockId::pending()))?, &call)?
        }
    };
    let fees = Fees::Market { base_fee: u128::from(base_fee), tip: SUGGESTED_TIP };
    let tx = request_tx(&r, &s.executor, nonce, gas, fees)?;
    if matches!(tx, TypedTransaction::Eip4844(_)) {
        return Err(RpcError::Invalid(
            "transaction type 3 is not one lanes sends (0, 1, 2 or 4): it has no blobs to carry"
                .into(),
        ));
    }
    let sig = seal(tx.signature_hash())?;
    let envelope = tx.into_envelope(sig);
    Ok(match signer {
        Some(_) => envelope.encoded_2718(),
        None => impersonated(&envelope, from).to_vec(),
    })
}

fn fee_history(
    s: &NodeState,
    count: u64,
    newest: BlockNumberOrTag,
    percentiles: Option<Vec<f64>>,
) -> Res<FeeHistory> {
    const MAX_BLOCKS: u64 = 1024;
    let newest = s.resolve(newest).unwrap_or(s.head()).min(s.head());
    let count = count.clamp(1, MAX_BLOCKS).min(newest + 1);
    let oldest = newest + 1 - count;
    let mut history = FeeHistory { oldest_block: oldest, ..Default::default() };
    let mut rewards = Vec::new();
    let mut base_fee = 0;
    // The newest block's blob market, for the blob base fee after it.
    let mut market = None;
    for number in oldest..=newest {
        let lb = s.block(number)?.ok_or_else(|| RpcError::NotFound(format!("block {number}")))?;
        let h = &lb.block.header;
        base_fee = u128::from(h.base_fee);
        history.base_fee_per_gas.push(base_fee);
        history.gas_used_ratio.push(h.gas_used as f64 / h.gas_limit.max(1) as f64);
        // Before Cancun 0, as geth answers; from it at least 1 wei (EIP-4844).
        market = s.blob_market(&lb);
        let (blob_fee, blob_ratio) = match &market {
            Some((params, eth)) => {
                let max = params.max_blob_count.saturating_mul(DATA_GAS_PER_BLOB).max(1);
                let used = eth.blob_gas_used.unwrap_or(0);
                (params.calc_blob_fee(eth.excess_blob_gas.unwrap_or(0)), used as f64 / max as f64)
            }
            None => (0, 0.0),
        };
        history.base_fee_per_blob_gas.push(blob_fee);
        history.blob_gas_used_ratio.push(blob_ratio);
        if let Some(percentiles) = &percentiles {
            let mut tips: Vec<u128> = lb
                .block
                .txs()
                .filter_map(|t| {
                    use alloy_eips::eip2718::Decodable2718;
                    TxEnvelope::decode_2718(&mut t.tx.as_ref()).ok()
                })
                .map(|tx| {
                    use alloy_consensus::Transaction as _;
                    tx.effective_tip_per_gas(h.base_fee).unwrap_or(0)
                })
                .collect();
            tips.sort_unstable();
            rewards.push(
                percentiles
                    .iter()
                    .map(|p| {
                        if tips.is_empty() {
                            return 0;
                        }
                        let i = ((p.clamp(0.0, 100.0) / 100.0) * (tips.len() - 1) as f64).round();
                        tips[i as usize]
                    })
                    .collect(),
            );
        }
    }
    // The base fee of the block after the newest: the next block's where
    // the newest is the head.
    let next = s.block(newest + 1)?;
    let after = match &next {
        Some(lb) if newest < s.head() => u128::from(lb.block.header.base_fee),
        _ if newest == s.head() => u128::from(s.next_base_fee()?),
        _ => base_fee,
    };
    history.base_fee_per_gas.push(after);
    let blob_after = match (&next, &market) {
        (Some(lb), _) if newest < s.head() => s.blob_fee(lb).unwrap_or(0),
        (_, Some((params, eth))) => {
            let (excess, used) = (eth.excess_blob_gas.unwrap_or(0), eth.blob_gas_used.unwrap_or(0));
            let next = params.next_block_excess_blob_gas_osaka(
                excess,
                used,
                eth.base_fee_per_gas.unwrap_or(0),
            );
            params.calc_blob_fee(next)
        }
        _ => 0,
    };
    history.base_fee_per_blob_gas.push(blob_after);
    history.reward = percentiles.map(|_| rewards);
    Ok(history)
}
