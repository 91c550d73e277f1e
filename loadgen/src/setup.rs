//! Setup on an RPC target: fund the accounts and deploy the contracts by
//! transactions, skipping what an earlier run (or a loadgen genesis) did.

use std::time::{Duration, Instant};

use alloy_consensus::TxEip1559;
use alloy_eips::BlockId;
use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_primitives::{Address, B256, Bytes, TxKind, U64, U256};
use serde_json::json;

use crate::config::SETUP_BATCH;
use crate::error::{Result, RunError};
use crate::keys::Key;
use crate::plan::Plan;
use crate::tracking::ReceiptStatus;
use crate::wire::{quoted, typed};
use lanes_rpc::api::EthApiClient;
use lanes_rpc::client::RpcClient;

/// Funds the accounts and the deployer from `funder` where they lack what
/// the run spends, and sends the deployer's setup transactions not yet sent
/// (the deployer's nonce says how far a setup got; a loadgen genesis has
/// done it all).
pub(crate) async fn setup(
    client: &RpcClient,
    plan: &Plan,
    funder: &Key,
    chain_id: u64,
    max_fee: u128,
    tip: u128,
) -> Result<()> {
    let eth = U256::from(10u128.pow(18));
    let setup_gas: u64 = plan.setup.iter().map(|c| c.gas_limit).sum();
    let mut needs: Vec<(Address, U256)> = plan
        .spend(max_fee)
        .into_iter()
        .zip(&plan.accounts)
        .map(|(spend, key)| (key.address(), spend * U256::from(2) + eth / U256::from(100)))
        .collect();
    needs.push((
        plan.deployer.address(),
        U256::from(setup_gas) * U256::from(max_fee) * U256::from(2) + eth,
    ));
    fund(client, funder, &needs, chain_id, max_fee, tip).await?;

    let deployer = plan.deployer.address();
    let done = client
        .transaction_count(deployer, Some(BlockId::latest().into()))
        .await
        .map_err(typed("eth_getTransactionCount"))?
        .to::<u64>() as usize;
    if done < plan.setup.len() {
        let txs: Vec<(Bytes, B256)> = plan.setup[done..]
            .iter()
            .enumerate()
            .map(|(i, call)| {
                plan.deployer.sign(TxEip1559 {
                    chain_id,
                    nonce: (done + i) as u64,
                    gas_limit: call.gas_limit,
                    max_fee_per_gas: max_fee,
                    max_priority_fee_per_gas: tip,
                    to: call.to.map_or(TxKind::Create, TxKind::Call),
                    value: U256::ZERO,
                    access_list: AccessList::default(),
                    input: call.input.clone(),
                })
            })
            .collect();
        send_all(client, &txs, "setting up the contracts").await?;
        wait_for_nonce(client, deployer, plan.setup.len() as u64).await?;
        check_receipts(client, &txs, |i| plan.setup[done + i].what.clone()).await?;
    }
    let contracts: Vec<Address> = plan
        .layout
        .token_a
        .iter()
        .chain(&plan.layout.token_b)
        .chain(&plan.layout.pairs)
        .chain(&plan.layout.board)
        .copied()
        .collect();
    let codes = client
        .batch::<Bytes>("eth_getCode", contracts.iter().map(|a| json!([a, "latest"])))
        .await?;
    for (address, code) in contracts.iter().zip(codes) {
        if code?.is_empty() {
            return Err(RunError::NoContract { address: *address, deployer });
        }
    }
    Ok(())
}

/// The gas limit of a funding transfer (21,000 and its access list's entry).
const FUNDING_GAS: u64 = 23_400;

/// Sends each of `needs`' accounts what it lacks of its need, from
/// `funder` (four times the shortfall's need, so a rerun does not fund
/// again), and waits until it is included. A funder that cannot pay for it
/// all is an error naming it, its balance and what the funding needs.
pub(crate) async fn fund(
    client: &RpcClient,
    funder: &Key,
    needs: &[(Address, U256)],
    chain_id: u64,
    max_fee: u128,
    tip: u128,
) -> Result<()> {
    let mut balances = Vec::with_capacity(needs.len());
    for chunk in needs.chunks(SETUP_BATCH) {
        let params = chunk.iter().map(|(a, _)| json!([a, "latest"]));
        for b in client.batch::<U256>("eth_getBalance", params).await? {
            balances.push(b?);
        }
    }
    let short: Vec<(Address, U256)> = needs
        .iter()
        .zip(&balances)
        .filter(|((_, need), have)| *have < need)
        // Enough for a few such runs, so a rerun does not fund again.
        .map(|((a, need), have)| (*a, *need * U256::from(4) - *have))
        .collect();
    if !short.is_empty() {
        let value = short.iter().fold(U256::ZERO, |sum, (_, v)| sum.saturating_add(*v));
        let gas = U256::from(FUNDING_GAS) * U256::from(max_fee) * U256::from(short.len());
        let needs = value.saturating_add(gas);
        let balance = client
            .balance(funder.address(), Some(BlockId::pending().into()))
            .await
            .map_err(typed("eth_getBalance"))?;
        if balance < needs {
            let funder = funder.address();
            return Err(RunError::FunderShort {
                funder,
                balance,
                needs,
                accounts: short.len(),
                max_fee,
            });
        }
        let start = client
            .transaction_count(funder.address(), Some(BlockId::pending().into()))
            .await
            .map_err(typed("eth_getTransactionCount"))?
            .to::<u64>();
        let txs: Vec<(Bytes, B256)> = short
            .iter()
            .enumerate()
            .map(|(i, (to, value))| {
                funder.sign(TxEip1559 {
                    chain_id,
                    nonce: start + i as u64,
                    gas_limit: FUNDING_GAS,
                    max_fee_per_gas: max_fee,
                    max_priority_fee_per_gas: tip,
                    to: TxKind::Call(*to),
                    value: *value,
                    access_list: AccessList(vec![AccessListItem {
                        address: *to,
                        storage_keys: vec![],
                    }]),
                    input: Bytes::new(),
                })
            })
            .collect();
        send_all(client, &txs, "funding the accounts").await?;
        wait_for_nonce(client, funder.address(), start + txs.len() as u64).await?;
        check_receipts(client, &txs, |i| format!("funding {}", short[i].0)).await?;
    }

    Ok(())
}

pub(crate) async fn send_all(client: &RpcClient, txs: &[(Bytes, B256)], what: &str) -> Result<()> {
    let quoted: Vec<String> = txs.iter().map(|(raw, _)| quoted(raw)).collect();
    for chunk in quoted.chunks(50) {
        for r in client.send_raw_batch(chunk).await? {
            r.map_err(|error| RunError::Refused { what: what.into(), error })?;
        }
    }
    Ok(())
}

async fn wait_for_nonce(client: &RpcClient, address: Address, nonce: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let n = client
            .transaction_count(address, Some(BlockId::latest().into()))
            .await
            .map_err(typed("eth_getTransactionCount"))?;
        if n.to::<u64>() >= nonce {
            return Ok(());
        }
        if Instant::now() > deadline {
            let pending = client
                .transaction_count(address, Some(BlockId::pending().into()))
                .await
                .map_err(typed("eth_getTransactionCount"))?;
            let (at, pending) = (n.to::<u64>(), pending.to::<u64>());
            let last = nonce.saturating_sub(1);
            return Err(RunError::NotIncluded { address, nonce: at, pending, last });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How long a setup transaction's receipt may lag behind its sender's
/// nonce: a node may count the nonce before it serves the receipt.
const RECEIPT_LAG: Duration = Duration::from_secs(10);

/// Checks that every setup transaction has a receipt with status 1. A
/// receipt still missing is asked for again until [`RECEIPT_LAG`] has
/// passed; then it is reported as missing, apart from one that failed.
async fn check_receipts(
    client: &RpcClient,
    txs: &[(Bytes, B256)],
    what: impl Fn(usize) -> String,
) -> Result<()> {
    let deadline = Instant::now() + RECEIPT_LAG;
    let mut waiting: Vec<usize> = (0..txs.len()).collect();
    loop {
        let mut missing = Vec::new();
        for chunk in waiting.chunks(SETUP_BATCH) {
            let answers = client
                .batch::<Option<ReceiptStatus>>(
                    "eth_getTransactionReceipt",
                    chunk.iter().map(|&i| json!([txs[i].1])),
                )
                .await?;
            for (&i, answer) in chunk.iter().zip(answers) {
                match answer? {
                    Some(r) if r.status == Some(U64::ZERO) => {
                        return Err(RunError::SetupFailed { what: what(i) });
                    }
                    Some(_) => {}
                    None => missing.push(i),
                }
            }
        }
        let Some(&first) = missing.first() else {
            return Ok(());
        };
        if Instant::now() > deadline {
            return Err(RunError::NoReceipt { what: what(first), hash: txs[first].1 });
        }
        waiting = missing;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
