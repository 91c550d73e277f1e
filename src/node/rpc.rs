//! The JSON-RPC methods: Ethereum's (as anvil serves them) and `lanes_*`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use alloy_consensus::{SignableTransaction, Transaction as _, TxEip1559, TxEip2930, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, TxKind, U64, U256, keccak256};
use alloy_rpc_types_eth::{
    AccessListResult, FeeHistory, Filter, FilterBlockOption, Log as RpcLog, TransactionRequest,
};
use alloy_signer::SignerSync;
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::server::IdProvider;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::{PendingSubscriptionSink, RpcModule, SubscriptionMessage};
use lanes_accounts_db::{AccountsRead, ReadView};
use lanes_evm_adapter::{CallRequest, EvmTx, SimError, Simulation};
use lanes_runtime::{Bank, BankConfig, BlockEnv, LatticeHash};
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use crate::node::convert;
use crate::node::error::{RpcError, bad_params};
use crate::node::ledger::LedgerBlock;
use crate::node::{NodeState, SUGGESTED_TIP};

type Res<T> = Result<T, RpcError>;

/// Hex-string subscription ids (`"0x"` and 32 hex digits, like anvil's):
/// viem's watchers time out on jsonrpsee's default integer ids.
#[derive(Debug, Default)]
pub(crate) struct HexIds(AtomicU64);

impl IdProvider for HexIds {
    fn next_id(&self) -> jsonrpsee::types::SubscriptionId<'static> {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mut seed = n.to_be_bytes().to_vec();
        seed.extend(nanos.to_be_bytes());
        seed.extend(std::process::id().to_be_bytes());
        let id = keccak256(seed);
        format!("0x{}", alloy_primitives::hex::encode(&id[..16])).into()
    }
}

/// The module with every method.
pub(crate) fn module(state: Arc<NodeState>) -> RpcModule<NodeState> {
    let mut m = RpcModule::from_arc(state);
    sync(&mut m, "web3_clientVersion", |_, _| Ok(format!("lanes/v{}", env!("CARGO_PKG_VERSION"))));
    sync(&mut m, "net_version", |s, _| Ok(s.chain_id.to_string()));
    sync(&mut m, "net_listening", |_, _| Ok(true));
    sync(&mut m, "eth_chainId", |s, _| Ok(U64::from(s.chain_id)));
    sync(&mut m, "eth_syncing", |_, _| Ok(false));
    sync(&mut m, "eth_mining", |_, _| Ok(true));
    sync(&mut m, "eth_coinbase", |s, _| Ok(s.coinbase));
    sync(&mut m, "eth_accounts", |s, _| {
        Ok(s.signers.iter().map(|k| k.address()).collect::<Vec<_>>())
    });
    sync(&mut m, "eth_blockNumber", |s, _| Ok(U64::from(s.head())));
    sync(&mut m, "eth_gasPrice", |s, _| {
        Ok(U256::from(s.stage(|st| st.head().base_fee)?) + U256::from(SUGGESTED_TIP))
    });
    sync(&mut m, "eth_maxPriorityFeePerGas", |_, _| Ok(U256::from(SUGGESTED_TIP)));
    sync(&mut m, "eth_getBalance", |s, p| {
        let (address, at) = address_and_block(&p)?;
        Ok(account(&s.state_at(at)?, &address)?.balance)
    });
    sync(&mut m, "eth_getTransactionCount", |s, p| {
        let (address, at) = address_and_block(&p)?;
        let nonce = match at {
            Some(BlockId::Number(BlockNumberOrTag::Pending)) => s.pending_nonce(&address)?,
            _ => account(&s.state_at(at)?, &address)?.nonce,
        };
        Ok(U64::from(nonce))
    });
    sync(&mut m, "eth_getCode", |s, p| {
        let (address, at) = address_and_block(&p)?;
        let view = s.state_at(at)?;
        let header = account(&view, &address)?;
        if header.code_hash == alloy_primitives::KECCAK256_EMPTY || header.code_hash.is_zero() {
            return Ok(Bytes::new());
        }
        Ok(view.get_code(&header.code_hash).map_err(internal)?.unwrap_or_default())
    });
    sync(&mut m, "eth_getStorageAt", |s, p| {
        let mut seq = p.sequence();
        let address: Address = seq.next().map_err(bad_params)?;
        let slot: U256 = seq.next().map_err(bad_params)?;
        let at: Option<BlockId> = seq.optional_next().map_err(bad_params)?;
        let value = s.state_at(at)?.get_storage(&address, &B256::from(slot)).map_err(internal)?;
        Ok(B256::from(value))
    });
    blocking(&mut m, "eth_call", |s, p| {
        let (request, at) = request_and_block(&p)?;
        let bank = s.sim_bank(at)?;
        let sim = s.executor.call(&bank, &call_request(&request)).map_err(sim_error)?;
        match failure(&sim) {
            Some(e) => Err(e),
            None => Ok(sim.output),
        }
    });
    blocking(&mut m, "eth_estimateGas", |s, p| {
        let (request, at) = request_and_block(&p)?;
        let bank = s.sim_bank(at)?;
        Ok(U64::from(estimate(s, &bank, &call_request(&request))?))
    });
    blocking(&mut m, "eth_createAccessList", |s, p| {
        let (request, at) = request_and_block(&p)?;
        let bank = s.sim_bank(at)?;
        let (access_list, sim) =
            s.executor.create_access_list(&bank, &call_request(&request)).map_err(sim_error)?;
        let error = failure(&sim).map(|e| e.to_string());
        Ok(AccessListResult { access_list, gas_used: U256::from(sim.gas_used), error })
    });
    sync(&mut m, "eth_sendRawTransaction", |s, p| {
        let raw: Bytes = p.one().map_err(bad_params)?;
        s.send_raw(&raw)
    });
    blocking(&mut m, "eth_sendTransaction", |s, p| {
        let request: TransactionRequest = p.one().map_err(bad_params)?;
        send_transaction(s, request)
    });
    sync(&mut m, "eth_fillTransaction", |_, _| -> Res<()> {
        Err(RpcError::Unsupported("eth_fillTransaction is not supported".into()))
    });
    sync(&mut m, "eth_getTransactionByHash", |s, p| {
        let hash: B256 = p.one().map_err(bad_params)?;
        let Some((lb, index)) = s.find_tx(&hash)? else { return Ok(None) };
        let tx = decode_one(s, &lb, index)?;
        Ok(Some(convert::transaction(&tx, &lb.block.header, index)))
    });
    sync(&mut m, "eth_getTransactionReceipt", |s, p| {
        let hash: B256 = p.one().map_err(bad_params)?;
        let Some((lb, index)) = s.find_tx(&hash)? else { return Ok(None) };
        let tx = decode_one(s, &lb, index)?;
        Ok(Some(convert::receipt(&lb, &tx, index)))
    });
    blocking(&mut m, "eth_getBlockReceipts", |s, p| {
        let at: BlockId = p.one().map_err(bad_params)?;
        let number = match at {
            BlockId::Number(tag) => s.resolve(tag),
            BlockId::Hash(h) => s.ledger.number_of(&h.block_hash),
        };
        let Some(lb) = number.map(|n| s.block(n)).transpose()?.flatten() else { return Ok(None) };
        let txs = convert::decode_txs(&lb, &s.rules)?;
        Ok(Some(convert::receipts(&lb, &txs)))
    });
    blocking(&mut m, "eth_getBlockByNumber", |s, p| {
        let mut seq = p.sequence();
        let tag: BlockNumberOrTag = seq.next().map_err(bad_params)?;
        let full: bool = seq.optional_next().map_err(bad_params)?.unwrap_or(false);
        let Some(number) = s.resolve(tag) else { return Ok(None) };
        rpc_block(s, number, full)
    });
    blocking(&mut m, "eth_getBlockByHash", |s, p| {
        let mut seq = p.sequence();
        let hash: B256 = seq.next().map_err(bad_params)?;
        let full: bool = seq.optional_next().map_err(bad_params)?.unwrap_or(false);
        let Some(number) = s.ledger.number_of(&hash) else { return Ok(None) };
        rpc_block(s, number, full)
    });
    sync(&mut m, "eth_getBlockTransactionCountByNumber", |s, p| {
        let tag: BlockNumberOrTag = p.one().map_err(bad_params)?;
        let Some(number) = s.resolve(tag) else { return Ok(None) };
        Ok(s.block(number)?.map(|lb| U64::from(lb.receipts.len())))
    });
    blocking(&mut m, "eth_getLogs", |s, p| {
        let filter: Filter = p.one().map_err(bad_params)?;
        get_logs(s, &filter)
    });
    blocking(&mut m, "eth_feeHistory", |s, p| {
        let mut seq = p.sequence();
        let count: U64 = seq.next().map_err(bad_params)?;
        let newest: BlockNumberOrTag = seq.next().map_err(bad_params)?;
        let percentiles: Option<Vec<f64>> = seq.optional_next().map_err(bad_params)?;
        fee_history(s, count.to::<u64>(), newest, percentiles)
    });
    sync(&mut m, "lanes_getBlockEntries", |s, p| {
        let tag: BlockNumberOrTag = p.one().map_err(bad_params)?;
        let Some(number) = s.resolve(tag) else { return Ok(None) };
        let Some(lb) = s.block(number)? else { return Ok(None) };
        Ok(Some(block_entries(&lb)))
    });
    sync(&mut m, "lanes_stats", |s, _| s.stats_json());
    m.register_subscription("eth_subscribe", "eth_subscription", "eth_unsubscribe", subscribe)
        .expect("method names are unique");
    m
}

fn sync<R, F>(m: &mut RpcModule<NodeState>, name: &'static str, f: F)
where
    R: Serialize + Clone + 'static,
    F: Fn(&NodeState, Params<'_>) -> Res<R> + Send + Sync + 'static,
{
    m.register_method(name, move |p, s, _| f(s, p).map_err(ErrorObjectOwned::from))
        .expect("method names are unique");
}

fn blocking<R, F>(m: &mut RpcModule<NodeState>, name: &'static str, f: F)
where
    R: Serialize + Clone + 'static,
    F: Fn(&NodeState, Params<'_>) -> Res<R> + Clone + Send + Sync + 'static,
{
    m.register_blocking_method(name, move |p, s, _| f(&s, p).map_err(ErrorObjectOwned::from))
        .expect("method names are unique");
}

fn internal(e: impl std::fmt::Display) -> RpcError {
    RpcError::Internal(e.to_string())
}

fn account(view: &ReadView, address: &Address) -> Res<lanes_accounts_db::AccountHeader> {
    Ok(view.get_account(address).map_err(internal)?.unwrap_or_default())
}

fn address_and_block(p: &Params<'_>) -> Res<(Address, Option<BlockId>)> {
    let mut seq = p.sequence();
    let address = seq.next().map_err(bad_params)?;
    let at = seq.optional_next().map_err(bad_params)?;
    Ok((address, at))
}

fn request_and_block(p: &Params<'_>) -> Res<(TransactionRequest, Option<BlockId>)> {
    let mut seq = p.sequence();
    let request = seq.next().map_err(bad_params)?;
    let at = seq.optional_next().map_err(bad_params)?;
    Ok((request, at))
}

fn call_request(r: &TransactionRequest) -> CallRequest {
    CallRequest {
        from: r.from,
        to: match r.to {
            Some(TxKind::Call(to)) => Some(to),
            _ => None,
        },
        value: r.value.unwrap_or_default(),
        data: r.input.input().cloned().unwrap_or_default(),
        gas: r.gas,
        gas_price: r.gas_price.or(r.max_fee_per_gas),
        max_priority_fee: r.max_priority_fee_per_gas,
        nonce: r.nonce,
        access_list: r.access_list.clone().unwrap_or_default(),
    }
}

fn sim_error(e: SimError) -> RpcError {
    match e {
        SimError::Failed(sim) if sim.reverted => RpcError::reverted(sim.output),
        SimError::Failed(sim) => RpcError::Invalid(format!(
            "gas required exceeds allowance: {}",
            sim.halt.unwrap_or_else(|| "execution failed".into())
        )),
        SimError::State(e) => RpcError::Internal(format!("state read failed: {e}")),
        other => RpcError::Invalid(other.to_string()),
    }
}

/// Why a simulation that ran did not succeed: a revert or a halt.
fn failure(sim: &Simulation) -> Option<RpcError> {
    if sim.reverted {
        return Some(RpcError::reverted(sim.output.clone()));
    }
    sim.halt.as_ref().map(|h| RpcError::Invalid(format!("execution halted: {h}")))
}

fn estimate(s: &NodeState, bank: &Bank, request: &CallRequest) -> Res<u64> {
    s.executor.estimate_gas(bank, request).map_err(sim_error)
}

fn decode_one(s: &NodeState, lb: &LedgerBlock, index: usize) -> Res<EvmTx> {
    let raw = lb.block.txs().nth(index).ok_or_else(|| {
        RpcError::Internal(format!("block {} has no tx {index}", lb.block.header.number))
    })?;
    EvmTx::decode(&raw.tx, &s.rules).map_err(internal)
}

fn rpc_block(s: &NodeState, number: u64, full: bool) -> Res<Option<alloy_rpc_types_eth::Block>> {
    let Some(lb) = s.block(number)? else { return Ok(None) };
    let txs = if full { Some(convert::decode_txs(&lb, &s.rules)?) } else { None };
    let bloom = s.ledger.bloom(number).unwrap_or_default();
    Ok(Some(convert::block(&lb, bloom, txs.as_deref())))
}

fn send_transaction(s: &NodeState, r: TransactionRequest) -> Res<B256> {
    let from = r.from.ok_or_else(|| RpcError::Params("`from` is required".into()))?;
    let signer = s.signers.iter().find(|k| k.address() == from).ok_or_else(|| {
        RpcError::Invalid(format!("{from} is not an account of this node (see eth_accounts)"))
    })?;
    let base_fee = s.stage(|st| st.head().base_fee)?;
    let nonce = match r.nonce {
        Some(n) => n,
        None => s.pending_nonce(&from)?,
    };
    let bank = s.sim_bank(None)?;
    let mut call = CallRequest { from: Some(from), nonce: Some(nonce), ..call_request(&r) };
    // Declare what it touches, so it runs in a parallel lane.
    if call.access_list.is_empty() && call.to.is_some() {
        call.access_list = s.executor.create_access_list(&bank, &call).map_err(sim_error)?.0;
    }
    let gas = match r.gas {
        Some(gas) => gas,
        None => estimate(s, &bank, &call)?,
    };
    let to = call.to.map_or(TxKind::Create, TxKind::Call);
    let (input, value, access_list) = (call.data, call.value, call.access_list);
    let chain_id = s.chain_id;
    let envelope: TxEnvelope = if let (Some(gas_price), None) = (r.gas_price, r.max_fee_per_gas) {
        let tx =
            TxEip2930 { chain_id, nonce, gas_price, gas_limit: gas, to, value, input, access_list };
        let sig = signer.sign_hash_sync(&tx.signature_hash()).map_err(internal)?;
        tx.into_signed(sig).into()
    } else {
        let tip = r.max_priority_fee_per_gas.unwrap_or(SUGGESTED_TIP);
        let max_fee = r.max_fee_per_gas.unwrap_or(2 * u128::from(base_fee) + tip);
        let tx = TxEip1559 {
            chain_id,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to,
            value,
            access_list,
            input,
        };
        let sig = signer.sign_hash_sync(&tx.signature_hash()).map_err(internal)?;
        tx.into_signed(sig).into()
    };
    s.send_raw(&envelope.encoded_2718())
}

/// Every block the filter's range covers must be served; the range is capped.
fn get_logs(s: &NodeState, filter: &Filter) -> Res<Vec<RpcLog>> {
    let head = s.head();
    let (from, to) = match filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => {
            let n = s
                .ledger
                .number_of(&hash)
                .ok_or_else(|| RpcError::NotFound(format!("unknown block hash {hash}")))?;
            (n, n)
        }
        FilterBlockOption::Range { from_block, to_block } => {
            let resolve = |t: Option<BlockNumberOrTag>| match t.unwrap_or_default() {
                BlockNumberOrTag::Number(n) => n.min(head),
                BlockNumberOrTag::Earliest => 0,
                _ => head,
            };
            (resolve(from_block), resolve(to_block))
        }
    };
    if from > to {
        return Err(RpcError::Invalid(format!(
            "invalid block range: from {from} is after to {to}"
        )));
    }
    if to - from >= s.limits.max_log_blocks {
        return Err(RpcError::Limit(format!(
            "query spans {} blocks, more than the limit of {}",
            to - from + 1,
            s.limits.max_log_blocks
        )));
    }
    let mut out = Vec::new();
    for number in from..=to {
        let Some(bloom) = s.ledger.bloom(number) else { continue };
        if !filter.matches_bloom(bloom) {
            continue;
        }
        let Some(lb) = s.block(number)? else { continue };
        let mut first = 0;
        for (i, r) in lb.receipts.iter().enumerate() {
            let logs = convert::logs(&lb.block.header, r, i, first);
            first += logs.len();
            out.extend(logs.into_iter().filter(|l| filter.matches(&l.inner)));
        }
        if out.len() > s.limits.max_logs {
            return Err(RpcError::Limit(format!(
                "query returns more than {} logs; narrow the block range",
                s.limits.max_logs
            )));
        }
    }
    Ok(out)
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
    for number in oldest..=newest {
        let lb = s.block(number)?.ok_or_else(|| RpcError::NotFound(format!("block {number}")))?;
        let h = &lb.block.header;
        base_fee = u128::from(h.base_fee);
        history.base_fee_per_gas.push(base_fee);
        history.gas_used_ratio.push(h.gas_used as f64 / h.gas_limit.max(1) as f64);
        history.base_fee_per_blob_gas.push(0);
        history.blob_gas_used_ratio.push(0.0);
        if let Some(percentiles) = &percentiles {
            let mut tips: Vec<u128> = lb
                .block
                .txs()
                .filter_map(|t| {
                    use alloy_eips::eip2718::Decodable2718;
                    TxEnvelope::decode_2718(&mut t.tx.as_ref()).ok()
                })
                .map(|tx| tx.effective_tip_per_gas(h.base_fee).unwrap_or(0))
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
    // The next block's base fee: fixed from genesis.
    history.base_fee_per_gas.push(base_fee);
    history.base_fee_per_blob_gas.push(0);
    history.reward = percentiles.map(|_| rewards);
    Ok(history)
}

fn block_entries(lb: &LedgerBlock) -> serde_json::Value {
    let mut index = 0;
    let entries: Vec<_> = lb
        .block
        .entries
        .iter()
        .map(|e| {
            let hashes: Vec<B256> =
                lb.receipts[index..index + e.txs.len()].iter().map(|r| r.tx_hash).collect();
            index += e.txs.len();
            serde_json::json!({
                "exclusive": e.exclusive,
                "width": e.txs.len(),
                "transactions": hashes,
            })
        })
        .collect();
    serde_json::json!({
        "number": U64::from(lb.block.header.number),
        "hash": lb.block.header.hash(),
        "transactions": lb.receipts.len(),
        "entries": entries,
    })
}

async fn subscribe(
    params: Params<'static>,
    pending: PendingSubscriptionSink,
    s: Arc<NodeState>,
    _: jsonrpsee::Extensions,
) -> SubscriptionResult {
    let mut seq = params.sequence();
    let kind: String = match seq.next() {
        Ok(k) => k,
        Err(e) => {
            pending.reject(ErrorObjectOwned::from(bad_params(e))).await;
            return Ok(());
        }
    };
    let filter: Option<Filter> = match kind.as_str() {
        "newHeads" => None,
        "logs" => match seq.optional_next::<Filter>() {
            Ok(f) => Some(f.unwrap_or_default()),
            Err(e) => {
                pending.reject(ErrorObjectOwned::from(bad_params(e))).await;
                return Ok(());
            }
        },
        other => {
            let e = RpcError::Params(format!(
                "unsupported subscription `{other}` (lanes offers newHeads and logs)"
            ));
            pending.reject(ErrorObjectOwned::from(e)).await;
            return Ok(());
        }
    };
    let mut heads = s.heads.subscribe();
    let sink = pending.accept().await?;
    loop {
        let lb = tokio::select! {
            _ = sink.closed() => return Ok(()),
            next = heads.recv() => match next {
                Ok(lb) => lb,
                Err(RecvError::Lagged(n)) => {
                    tracing::debug!(target: "lanes::rpc", skipped = n, "subscriber lagging");
                    continue;
                }
                Err(RecvError::Closed) => return Ok(()),
            },
        };
        let messages: Vec<SubscriptionMessage> = match &filter {
            None => {
                let number = lb.block.header.number;
                let bloom = s.ledger.bloom(number).unwrap_or_default();
                let header = convert::header(&lb.block.header, bloom);
                vec![SubscriptionMessage::new(sink.method_name(), sink.subscription_id(), &header)?]
            }
            Some(filter) => {
                let mut first = 0;
                let mut out = Vec::new();
                for (i, r) in lb.receipts.iter().enumerate() {
                    let logs = convert::logs(&lb.block.header, r, i, first);
                    first += logs.len();
                    for log in logs.iter().filter(|l| filter.matches(&l.inner)) {
                        out.push(SubscriptionMessage::new(
                            sink.method_name(),
                            sink.subscription_id(),
                            log,
                        )?);
                    }
                }
                out
            }
        };
        for message in messages {
            if sink.send(message).await.is_err() {
                return Ok(());
            }
        }
    }
}

impl NodeState {
    /// The served head's number.
    pub(crate) fn head(&self) -> u64 {
        self.ledger.head().unwrap_or(0)
    }

    /// The next nonce of `address`, counting what the pool holds.
    fn pending_nonce(&self, address: &Address) -> Res<u64> {
        let committed = account(&self.state_at(None)?, address)?.nonce;
        Ok(self.stage(|st| st.pending_nonce(address))?.map_or(committed, |n| n.max(committed)))
    }

    fn block(&self, number: u64) -> Res<Option<LedgerBlock>> {
        self.ledger.block(number).map_err(internal)
    }

    fn resolve(&self, tag: BlockNumberOrTag) -> Option<u64> {
        let head = self.head();
        match tag {
            BlockNumberOrTag::Number(n) => (n <= head).then_some(n),
            BlockNumberOrTag::Earliest => Some(0),
            _ => Some(head),
        }
    }

    fn find_tx(&self, hash: &B256) -> Res<Option<(LedgerBlock, usize)>> {
        let Some((number, index)) = self.ledger.locate_tx(hash) else { return Ok(None) };
        Ok(self.block(number)?.map(|lb| (lb, index as usize)))
    }

    /// Runs `f` on the banking stage, or fails once it has shut down.
    pub(crate) fn stage<R>(
        &self,
        f: impl FnOnce(&lanes_banking_stage::BankingStage<lanes_evm_adapter::EvmExecutor>) -> R,
    ) -> Res<R> {
        let guard = self.stage.read().unwrap_or_else(|e| e.into_inner());
        let stage =
            guard.as_ref().ok_or_else(|| RpcError::Internal("node is shutting down".into()))?;
        Ok(f(stage))
    }

    /// The state to read for a block id: only the latest is kept.
    fn state_at(&self, at: Option<BlockId>) -> Res<ReadView> {
        let head = self.head();
        let asked = match at {
            None => None,
            Some(BlockId::Number(BlockNumberOrTag::Number(n))) => Some(n),
            Some(BlockId::Number(BlockNumberOrTag::Earliest)) => Some(0),
            Some(BlockId::Number(_)) => None,
            Some(BlockId::Hash(h)) => {
                Some(self.ledger.number_of(&h.block_hash).ok_or_else(|| {
                    RpcError::NotFound(format!("unknown block hash {}", h.block_hash))
                })?)
            }
        };
        if let Some(asked) = asked.filter(|n| *n < head) {
            return Err(RpcError::Historical { asked, head });
        }
        self.stage(|st| st.state())
    }

    /// A bank over the latest state for the next block, for simulations.
    fn sim_bank(&self, at: Option<BlockId>) -> Res<Bank> {
        let view = self.state_at(at)?;
        let head = self.stage(|st| st.head())?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let env = BlockEnv {
            number: head.number + 1,
            timestamp: now.max(head.timestamp),
            coinbase: self.coinbase,
            base_fee: head.base_fee,
            gas_limit: head.gas_limit,
            recent_hashes: vec![head.hash()],
            random: head.hash(),
        };
        Ok(Bank::new(view, head.hash(), LatticeHash::identity(), env, BankConfig::default()))
    }

    /// Decodes, checks the sender can pay, and submits a raw transaction.
    pub(crate) fn send_raw(&self, raw: &[u8]) -> Res<B256> {
        let tx = EvmTx::decode(raw, &self.rules)?;
        let envelope = tx.envelope();
        let intrinsic = self.executor.intrinsic_gas(&tx);
        if envelope.gas_limit() < intrinsic {
            return Err(RpcError::IntrinsicGas { gas: envelope.gas_limit(), intrinsic });
        }
        let cost = U256::from(envelope.gas_limit()) * U256::from(envelope.max_fee_per_gas())
            + envelope.value();
        let balance = account(&self.state_at(None)?, &tx.sender())?.balance;
        if balance < cost {
            return Err(RpcError::InsufficientFunds { balance, cost });
        }
        let result = self.stage(|st| st.submit_decoded(vec![tx]))?;
        result.into_iter().next().expect("one result per transaction").map_err(RpcError::from)
    }
}
