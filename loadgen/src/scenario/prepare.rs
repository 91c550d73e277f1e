//! A scenario made ready on one node: its contracts deployed and its setup
//! calls made from the funder (in file order, each estimated, sent and
//! included before the next, as contender does), the spam drawn (seeded),
//! its senders funded, and each spam step's gas estimated on the node. The
//! result is a [`Plan`] the run signs and sends like a built-in workload's.

use std::ops::Range;
use std::time::{Duration, Instant};

use alloy_consensus::TxEip1559;
use alloy_dyn_abi::{DynSolValue, JsonAbiExt, Specifier};
use alloy_eips::BlockId;
use alloy_primitives::{Address, B256, Bytes, I256, TxKind, U256};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::template::{Values, parse_wei};
use super::{Call, From, FuzzRange, FuzzTarget, Scenario, ScenarioError};
use crate::error::{Result, RunError};
use crate::keys::Key;
use crate::plan::{
    AccessListMode, Kind, Layout, Plan, TxExtra, TxSpec, Workload, WorkloadConfig, sign_spec,
};
use crate::setup::fund;
use crate::wire::{quoted, typed};
use lanes_rpc::api::EthApiClient;
use lanes_rpc::client::RpcClient;

/// How a scenario is drawn.
#[derive(Clone, Debug)]
pub struct ScenarioOptions {
    /// Spam transactions.
    pub txs: usize,
    /// Accounts in each pool.
    pub accounts: usize,
    /// Seeds the pools' keys and every draw.
    pub seed: u64,
}

/// Spam transactions of a step whose gas is estimated on the node (the
/// most of them, with [`GAS_MARGIN_PERCENT`] on top).
const ESTIMATES_PER_STEP: usize = 4;
/// Headroom on an estimated gas limit: a call's cost moves with the state
/// and the block's time (fuzzed arguments; a Uniswap V2 pair's first swap in
/// a later second writes its price accumulators, ~40k more than an estimate
/// made in the second its liquidity arrived).
const GAS_MARGIN_PERCENT: u64 = 100;
/// What each spam sender is first given for gas while its steps are
/// estimated (the run then tops it up to what its transactions cost).
const ESTIMATE_ALLOWANCE_WEI: u128 = 10u128.pow(16);
/// Longest a setup transaction may take to be included.
const INCLUSION_TIMEOUT: Duration = Duration::from_secs(300);

/// Fees and chain for the setup transactions.
#[derive(Clone, Copy)]
struct Fees {
    chain_id: u64,
    max_fee: u128,
    tip: u128,
}

/// Deploys and sets up `scenario` on the node behind `client` (funded by
/// `funder`) and draws its spam.
pub async fn prepare(
    scenario: &Scenario,
    options: &ScenarioOptions,
    client: &RpcClient,
    funder: &Key,
    (chain_id, max_fee, tip): (u64, u128, u128),
) -> Result<Plan> {
    let fees = Fees { chain_id, max_fee, tip };
    let check_from = |from: Option<Address>, line: usize, field: &str| match from {
        Some(a) if a != funder.address() => Err(RunError::Scenario(ScenarioError::Step {
            path: scenario.path.clone(),
            line,
            field: format!("{field}.from"),
            reason: format!(
                "does not map: lanes-loadgen signs as the funder (--funder-key, {}), not {a}",
                funder.address()
            ),
        })),
        _ => Ok(()),
    };
    let step_err = |line: usize, field: &str, reason: String| {
        RunError::Scenario(ScenarioError::Step {
            path: scenario.path.clone(),
            line,
            field: field.into(),
            reason,
        })
    };
    let mut accounts = Vec::new();
    let mut pools: Vec<Range<usize>> = Vec::new();
    for name in &scenario.pools {
        let label = format!("scenario/{}/{name}", scenario.name);
        let start = accounts.len();
        accounts.extend((0..options.accounts).map(|i| Key::derive(options.seed, &label, i as u64)));
        pools.push(start..accounts.len());
    }
    let funder_index = accounts.len();
    accounts.push(funder.clone());
    let mut rng = StdRng::seed_from_u64(options.seed);
    // Estimates never go past it.
    let gas_cap = block_gas_limit(client).await?;
    // Whose account `authorization_address` steps delegate (contender's
    // set-code signer): it signs the authorizations and sends nothing.
    let set_code = Key::derive(options.seed, &format!("scenario/{}/setcode", scenario.name), 0);
    let set_code_sender = set_code.address();
    fn values(
        contracts: &[Address],
        (sender, account, seq): (Address, Address, u64),
        set_code_sender: Address,
    ) -> Values<'_> {
        Values { contracts, sender, account, seq, set_code_sender }
    }

    // Contracts, from the funder, each included before the next.
    let mut nonce = client
        .transaction_count(funder.address(), Some(BlockId::pending().into()))
        .await
        .map_err(typed("eth_getTransactionCount"))?
        .to::<u64>();
    let mut contracts: Vec<Address> = Vec::new();
    for create in &scenario.creates {
        let field = format!("create `{}`", create.name);
        let deployer = match create.from {
            From::Address(a) => {
                check_from(Some(a), create.line, &field)?;
                funder
            }
            From::Funder => funder,
            From::Pool(p) => &accounts[pools[p].start],
        };
        let at = deployer.address();
        let values = values(&contracts, (at, at, 0), set_code_sender);
        let mut code = alloy_primitives::hex::decode(create.code.render_code(&values).trim())
            .map_err(|e| step_err(create.line, &field, format!("creation code: {e}")))?;
        if let Some(constructor) = &create.constructor {
            let args = coerce_all(&constructor.inputs, &create.args, &values)
                .map_err(|e| step_err(create.line, &field, e))?;
            let encoded = constructor
                .abi_encode_input(&args)
                .map_err(|e| step_err(create.line, &field, e.to_string()))?;
            code.extend(encoded);
        }
        let tx = json!({"from": at, "data": Bytes::from(code.clone())});
        let gas =
            estimate(client, tx, gas_cap).await.map_err(|e| step_err(create.line, &field, e))?;
        let n = if at == funder.address() {
            nonce += 1;
            nonce - 1
        } else {
            let need = U256::from(gas) * U256::from(max_fee) * U256::from(2);
            fund(client, funder, &[(at, need)], chain_id, max_fee, tip).await?;
            pending_nonce(client, at).await?
        };
        let signed = deployer.sign(TxEip1559 {
            chain_id,
            nonce: n,
            gas_limit: gas,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: TxKind::Create,
            value: U256::ZERO,
            access_list: Default::default(),
            input: code.into(),
        });
        let receipt =
            send_and_wait(client, &[signed]).await.map_err(|e| step_err(create.line, &field, e))?;
        let address = receipt[0]["contractAddress"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| at.create(n));
        contracts.push(address);
    }
    if scenario.creates.iter().any(|c| matches!(c.from, From::Pool(_))) {
        // The funder's nonce moved under it while it funded deployers.
        nonce = pending_nonce(client, funder.address()).await?;
    }
    let blob_fee = blob_fee(client, scenario).await?;
    let mut sidecars = std::collections::HashMap::new();
    let mut auth_nonce = pending_nonce(client, set_code.address()).await?;
    // A call drawn as a transaction, with its type-specific parts: its
    // sidecar (one per step, shared by its transactions) and its
    // authorization (the set-code signer's next nonce in spam order).
    let mut drawn = |call: &Call,
                     values: &Values<'_>,
                     rng: &mut StdRng|
     -> std::result::Result<TxSpec, String> {
        let mut spec = draw(call, values, rng)?;
        let extra = &mut spec.extra;
        if let Some(address) = &call.authorization {
            let delegate: Address = address
                .render(values)
                .parse()
                .map_err(|e| format!("authorization_address: {e}"))?;
            extra.authorizations = vec![set_code.authorize(chain_id, delegate, auth_nonce)];
            auth_nonce += 1;
        }
        if let Some(data) = &call.blob {
            let sidecar = match sidecars.get(&call.line) {
                Some(s) => std::sync::Arc::clone(s),
                None => {
                    let builder = alloy_eips::eip4844::builder::SidecarBuilder::<
                        alloy_eips::eip4844::builder::SimpleCoder,
                    >::from_slice(data);
                    let built: alloy_eips::eip4844::BlobTransactionSidecar =
                        builder.build().map_err(|e| format!("blob_data: {e}"))?;
                    let s = std::sync::Arc::new(built.into());
                    sidecars.insert(call.line, std::sync::Arc::clone(&s));
                    s
                }
            };
            extra.blob = Some((sidecar, blob_fee));
        }
        Ok(spec)
    };

    // Setup calls: from the funder, or once from every account of a pool.
    for call in &scenario.setup {
        let senders: Vec<&Key> = match call.from {
            From::Address(a) => {
                check_from(Some(a), call.line, &call.what())?;
                vec![funder]
            }
            From::Funder => vec![funder],
            // As contender: a pool's first account, or each with for_all_accounts.
            From::Pool(p) if call.all_accounts => accounts[pools[p].clone()].iter().collect(),
            From::Pool(p) => vec![&accounts[pools[p].start]],
        };
        let mut specs = Vec::with_capacity(senders.len());
        for key in &senders {
            let values = values(&contracts, (key.address(), key.address(), 0), set_code_sender);
            let spec =
                drawn(call, &values, &mut rng).map_err(|e| step_err(call.line, &call.what(), e))?;
            specs.push(spec);
        }
        let gas = match call.gas_limit {
            Some(g) => g,
            None => estimate(client, call_json(senders[0].address(), &specs[0]), gas_cap)
                .await
                .map_err(|e| step_err(call.line, &call.what(), e))?,
        };
        if let From::Pool(_) = call.from {
            let needs: Vec<(Address, U256)> = senders
                .iter()
                .zip(&specs)
                .map(|(k, s)| {
                    let fee = max_fee.max(s.extra.tip.unwrap_or(0));
                    (k.address(), U256::from(gas) * U256::from(fee) * U256::from(2) + s.value)
                })
                .collect();
            fund(client, funder, &needs, chain_id, max_fee, tip).await?;
        }
        let mut signed = Vec::with_capacity(senders.len());
        for (key, spec) in senders.iter().zip(specs) {
            let n = if key.address() == funder.address() {
                nonce += 1;
                nonce - 1
            } else {
                pending_nonce(client, key.address()).await?
            };
            let spec = TxSpec { gas_limit: gas, ..spec };
            let list = spec.access_list.clone();
            signed.push(sign_spec(key, &spec, n, fees.chain_id, (fees.max_fee, fees.tip), list));
        }
        send_and_wait(client, &signed).await.map_err(|e| step_err(call.line, &call.what(), e))?;
    }

    // The spam: steps by weight (smooth weighted round robin: the same
    // order every run), each step's senders in turn.
    let weights: Vec<u32> = scenario.spam.iter().map(|(_, w)| *w).collect();
    let steps = weighted_order(&weights, options.txs);
    let mut turn = vec![0usize; pools.len()];
    let mut txs = Vec::with_capacity(options.txs);
    for (seq, &step) in steps.iter().enumerate() {
        let call = &scenario.spam[step].0;
        let (sender, pool) = match call.from {
            From::Pool(p) => {
                let range = pools[p].clone();
                let s = range.start + turn[p] % range.len().max(1);
                turn[p] += 1;
                (s, range)
            }
            From::Address(a) => {
                check_from(Some(a), call.line, &call.what())?;
                (funder_index, 0..funder_index.max(1))
            }
            From::Funder => (funder_index, 0..funder_index.max(1)),
        };
        let account = accounts[rng.random_range(pool)].address();
        let values =
            values(&contracts, (accounts[sender].address(), account, seq as u64), set_code_sender);
        let spec =
            drawn(call, &values, &mut rng).map_err(|e| step_err(call.line, &call.what(), e))?;
        txs.push(TxSpec { sender: sender as u32, gas_limit: call.gas_limit.unwrap_or(0), ..spec });
    }

    // Senders get their values and an allowance for estimating, then each
    // step's gas is estimated from its first transactions.
    let mut needs = vec![U256::from(ESTIMATE_ALLOWANCE_WEI); accounts.len()];
    for tx in &txs {
        needs[tx.sender as usize] += tx.value;
    }
    let needs: Vec<(Address, U256)> =
        accounts[..funder_index].iter().zip(needs).map(|(k, n)| (k.address(), n)).collect();
    fund(client, funder, &needs, chain_id, max_fee, tip).await?;
    for (s, (call, _)) in scenario.spam.iter().enumerate() {
        if call.gas_limit.is_some() {
            continue;
        }
        let sample: Vec<usize> =
            (0..txs.len()).filter(|&i| steps[i] == s).take(ESTIMATES_PER_STEP).collect();
        let mut gas = 0;
        for i in sample.iter().copied() {
            let tx = &txs[i];
            let request = call_json(accounts[tx.sender as usize].address(), tx);
            gas = gas.max(
                estimate(client, request, gas_cap)
                    .await
                    .map_err(|e| step_err(call.line, &call.what(), e))?,
            );
        }
        for i in 0..txs.len() {
            if steps[i] == s {
                txs[i].gas_limit = gas;
            }
        }
    }
    if !scenario.spam.iter().any(|(c, _)| matches!(c.from, From::Funder | From::Address(_))) {
        accounts.pop();
    }
    let config = WorkloadConfig {
        workload: Workload::Transfer,
        txs: txs.len(),
        accounts: accounts.len(),
        zipf: None,
        pools: 1,
        hot_pool_share: 0.0,
        seed: options.seed,
        // Each transaction carries the list its step declares (none: empty).
        access_list: AccessListMode::Exact,
    };
    Ok(Plan {
        name: scenario.name.clone(),
        config,
        deployer: funder.clone(),
        accounts,
        layout: Layout::default(),
        setup: Vec::new(),
        txs,
    })
}

/// `n` picks among steps of these weights, spread evenly (smooth weighted
/// round robin: each step's share is its weight's, the order the same every
/// run, and equal weights take turns).
pub(crate) fn weighted_order(weights: &[u32], n: usize) -> Vec<usize> {
    let total: i64 = weights.iter().map(|w| i64::from(*w)).sum();
    let mut credit = vec![0i64; weights.len()];
    (0..n)
        .map(|_| {
            for (c, w) in credit.iter_mut().zip(weights) {
                *c += i64::from(*w);
            }
            let step =
                (0..credit.len()).max_by_key(|&s| (credit[s], std::cmp::Reverse(s))).unwrap_or(0);
            credit[step] -= total;
            step
        })
        .collect()
}

/// One call under `values` as a transaction (its sender and gas limit the
/// caller's, its type-specific parts none), fuzzed parts drawn from `rng`,
/// with its own tip.
fn draw(call: &Call, values: &Values<'_>, rng: &mut StdRng) -> std::result::Result<TxSpec, String> {
    let to: Address = call.to.render(values).parse().map_err(|e| format!("to: {e}"))?;
    let mut value = match &call.value {
        Some(v) => parse_wei(&v.render(values))?,
        None => U256::ZERO,
    };
    let mut tip = match &call.tip {
        Some(t) => Some(parse_wei(&t.render(values))?),
        None => None,
    };
    let mut fuzzed = Vec::new();
    for f in &call.fuzz {
        let raw = U256::from_limbs(rng.random());
        let pick = |span: U256| if span == U256::MAX { raw } else { raw % (span + U256::from(1)) };
        let drawn = match f.range {
            FuzzRange::Unsigned(min, max) => DynSolValue::Uint(min + pick(max - min), 256),
            FuzzRange::Signed(min, max) => {
                let span = max.wrapping_sub(min).into_raw();
                DynSolValue::Int(min.wrapping_add(I256::from_raw(pick(span))), 256)
            }
        };
        match (f.target, drawn) {
            (FuzzTarget::Value, DynSolValue::Uint(v, _)) => value = v,
            (FuzzTarget::Tip, DynSolValue::Uint(v, _)) => tip = Some(v),
            (FuzzTarget::Arg(i), v) => fuzzed.push((i, v)),
            _ => {}
        }
    }
    let input = match (&call.input, &call.function) {
        (Some(hex), _) => alloy_primitives::hex::decode(hex.render(values).trim())
            .map_err(|e| format!("input: {e}"))?
            .into(),
        (None, Some(function)) => {
            let mut args = coerce_all(&function.inputs, &call.args, values)?;
            for (i, v) in fuzzed {
                args[i] = match (&args[i], v) {
                    (DynSolValue::Uint(_, bits), DynSolValue::Uint(v, _)) => {
                        DynSolValue::Uint(v, *bits)
                    }
                    (DynSolValue::Int(_, bits), DynSolValue::Int(v, _)) => {
                        DynSolValue::Int(v, *bits)
                    }
                    (DynSolValue::Address(_), DynSolValue::Uint(v, _)) => {
                        DynSolValue::Address(Address::from_word(v.into()))
                    }
                    (_, v) => v,
                };
            }
            function.abi_encode_input(&args).map_err(|e| e.to_string())?.into()
        }
        (None, None) => Bytes::new(),
    };
    let mut access_list = Vec::with_capacity(call.access_list.len());
    for (address, keys) in &call.access_list {
        let address: Address =
            address.render(values).parse().map_err(|e| format!("access_list: {e}"))?;
        let storage_keys = keys
            .iter()
            .map(|k| k.render(values).parse::<B256>().map_err(|e| format!("access_list: {e}")))
            .collect::<std::result::Result<_, _>>()?;
        access_list.push(alloy_eips::eip2930::AccessListItem { address, storage_keys });
    }
    let tip = tip.map(|t| u128::try_from(t).unwrap_or(u128::MAX));
    Ok(TxSpec {
        sender: 0,
        kind: Kind::Call,
        to,
        value,
        input,
        access_list: alloy_eips::eip2930::AccessList(access_list),
        gas_limit: 0,
        extra: TxExtra { tip, ..TxExtra::default() },
    })
}

/// `spec` from `from` as an `eth_estimateGas` request: its list and
/// authorizations with it (a call to a set-code account runs its delegate).
fn call_json(from: Address, spec: &TxSpec) -> Value {
    let mut request = json!({
        "from": from,
        "to": spec.to,
        "value": spec.value,
        "data": spec.input,
        "accessList": spec.access_list,
    });
    if !spec.extra.authorizations.is_empty() {
        request["authorizationList"] = json!(spec.extra.authorizations);
    }
    request
}

/// `address`'s next nonce, its pooled transactions counted.
async fn pending_nonce(client: &RpcClient, address: Address) -> Result<u64> {
    Ok(client
        .transaction_count(address, Some(BlockId::pending().into()))
        .await
        .map_err(typed("eth_getTransactionCount"))?
        .to::<u64>())
}

/// The most per blob gas a scenario's blob transactions offer: twice the
/// node's blob base fee, and at least 1 gwei (0 where none carries a blob).
async fn blob_fee(client: &RpcClient, scenario: &Scenario) -> Result<u128> {
    let blobs =
        scenario.setup.iter().chain(scenario.spam.iter().map(|(c, _)| c)).any(|c| c.blob.is_some());
    if !blobs {
        return Ok(0);
    }
    let fee: U256 = client.call("eth_blobBaseFee", json!([])).await.map_err(|e| {
        RunError::Scenario(ScenarioError::Step {
            path: scenario.path.clone(),
            line: 1,
            field: "blob_data".into(),
            reason: format!("the node gave no blob base fee (eth_blobBaseFee): {e}"),
        })
    })?;
    let fee = u128::try_from(fee).unwrap_or(u128::MAX);
    Ok(fee.saturating_mul(2).max(1_000_000_000))
}

fn coerce_all(
    params: &[alloy_json_abi::Param],
    args: &[super::template::Template],
    values: &Values<'_>,
) -> std::result::Result<Vec<DynSolValue>, String> {
    params
        .iter()
        .zip(args)
        .enumerate()
        .map(|(k, (param, arg))| {
            let ty = param.resolve().map_err(|e| format!("args[{k}]: {e}"))?;
            let text = arg.render(values);
            ty.coerce_str(&text).map_err(|e| format!("args[{k}] `{text}`: {e}"))
        })
        .collect()
}

/// The node's gas estimate for `tx`, with [`GAS_MARGIN_PERCENT`] on top.
/// The headroom never takes it past `limit`, the block gas limit (a call
/// that deploys a hundred contracts estimates near it).
async fn estimate(client: &RpcClient, tx: Value, limit: u64) -> std::result::Result<u64, String> {
    let gas: alloy_primitives::U64 = client
        .call("eth_estimateGas", json!([tx]))
        .await
        .map_err(|e| format!("the node could not estimate its gas: {e}"))?;
    let gas = gas.to::<u64>();
    Ok((gas + gas * GAS_MARGIN_PERCENT / 100).min(limit.max(gas)))
}

/// The latest block's gas limit (`u64::MAX` where the node gives none).
async fn block_gas_limit(client: &RpcClient) -> Result<u64> {
    let block: Value = client.call("eth_getBlockByNumber", json!(["latest", false])).await?;
    Ok(block["gasLimit"]
        .as_str()
        .and_then(|g| u64::from_str_radix(g.trim_start_matches("0x"), 16).ok())
        .unwrap_or(u64::MAX))
}

/// Sends `signed` and waits until each is included with status 1; their
/// receipts.
async fn send_and_wait(
    client: &RpcClient,
    signed: &[(Bytes, B256)],
) -> std::result::Result<Vec<Value>, String> {
    for chunk in signed.chunks(50) {
        let quoted: Vec<String> = chunk.iter().map(|(raw, _)| quoted(raw)).collect();
        let answers = client.send_raw_batch(&quoted).await.map_err(|e| e.to_string())?;
        for answer in answers {
            answer.map_err(|e| format!("the node refused it: {}", e.message))?;
        }
    }
    let deadline = Instant::now() + INCLUSION_TIMEOUT;
    let mut receipts = Vec::with_capacity(signed.len());
    for (_, hash) in signed {
        let receipt = loop {
            let r: Value = client
                .call("eth_getTransactionReceipt", json!([hash]))
                .await
                .map_err(|e| e.to_string())?;
            if !r.is_null() {
                break r;
            }
            if Instant::now() > deadline {
                return Err(format!("{hash} was not included within {INCLUSION_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        if receipt["status"].as_str() != Some("0x1") {
            return Err(format!("{hash} failed on chain (status {})", receipt["status"]));
        }
        receipts.push(receipt);
    }
    Ok(receipts)
}
