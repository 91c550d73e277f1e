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
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::template::{Values, parse_wei};
use super::{Call, From, FuzzTarget, Scenario, ScenarioError};
use crate::keys::Key;
use crate::plan::{AccessListMode, Kind, Layout, Plan, TxSpec, Workload, WorkloadConfig};
use crate::run::{Result, RunError, quoted, typed};
use crate::setup::fund;
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

    // Contracts, from the funder, each included before the next.
    let mut nonce = client
        .transaction_count(funder.address(), Some(BlockId::pending()))
        .await
        .map_err(typed("eth_getTransactionCount"))?
        .to::<u64>();
    let mut contracts: Vec<Address> = Vec::new();
    for create in &scenario.creates {
        let field = format!("create `{}`", create.name);
        check_from(create.from, create.line, &field)?;
        let values = Values {
            contracts: &contracts,
            sender: funder.address(),
            account: funder.address(),
            seq: 0,
        };
        let mut code = alloy_primitives::hex::decode(create.code.render(&values).trim())
            .map_err(|e| step_err(create.line, &field, format!("creation code: {e}")))?;
        if let Some(constructor) = &create.constructor {
            let args = coerce_all(&constructor.inputs, &create.args, &values)
                .map_err(|e| step_err(create.line, &field, e))?;
            let encoded = constructor
                .abi_encode_input(&args)
                .map_err(|e| step_err(create.line, &field, e.to_string()))?;
            code.extend(encoded);
        }
        let tx = json!({"from": funder.address(), "data": Bytes::from(code.clone())});
        let gas = estimate(client, tx).await.map_err(|e| step_err(create.line, &field, e))?;
        let signed = funder.sign(TxEip1559 {
            chain_id,
            nonce,
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
            .unwrap_or_else(|| funder.address().create(nonce));
        nonce += 1;
        contracts.push(address);
    }

    // Setup calls: from the funder, or once from every account of a pool.
    for call in &scenario.setup {
        let senders: Vec<&Key> = match call.from {
            From::Address(a) => {
                check_from(Some(a), call.line, &call.what())?;
                vec![funder]
            }
            From::Funder => vec![funder],
            From::Pool(p) => accounts[pools[p].clone()].iter().collect(),
        };
        let mut drawn = Vec::with_capacity(senders.len());
        for key in &senders {
            let values = Values {
                contracts: &contracts,
                sender: key.address(),
                account: key.address(),
                seq: 0,
            };
            drawn.push(
                draw(call, &values, &mut rng).map_err(|e| step_err(call.line, &call.what(), e))?,
            );
        }
        let (to, value, input) = &drawn[0];
        let gas = match call.gas_limit {
            Some(g) => g,
            None => {
                let tx =
                    json!({"from": senders[0].address(), "to": to, "value": value, "data": input});
                estimate(client, tx).await.map_err(|e| step_err(call.line, &call.what(), e))?
            }
        };
        if let From::Pool(_) = call.from {
            let need = U256::from(gas) * U256::from(max_fee) * U256::from(2) + *value;
            let needs: Vec<(Address, U256)> = senders.iter().map(|k| (k.address(), need)).collect();
            fund(client, funder, &needs, chain_id, max_fee, tip).await?;
        }
        let mut signed = Vec::with_capacity(senders.len());
        for (key, (to, value, input)) in senders.iter().zip(drawn) {
            let n = if key.address() == funder.address() {
                nonce += 1;
                nonce - 1
            } else {
                client
                    .transaction_count(key.address(), Some(BlockId::pending()))
                    .await
                    .map_err(typed("eth_getTransactionCount"))?
                    .to::<u64>()
            };
            signed.push(sign_call(key, n, fees, gas, to, value, input));
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
        let values = Values {
            contracts: &contracts,
            sender: accounts[sender].address(),
            account,
            seq: seq as u64,
        };
        let (to, value, input) =
            draw(call, &values, &mut rng).map_err(|e| step_err(call.line, &call.what(), e))?;
        txs.push(TxSpec {
            sender: sender as u32,
            kind: Kind::Call,
            to,
            value,
            input,
            access_list: Default::default(),
            gas_limit: call.gas_limit.unwrap_or(0),
        });
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
            let call_json = json!({
                "from": accounts[tx.sender as usize].address(),
                "to": tx.to,
                "value": tx.value,
                "data": tx.input,
            });
            gas = gas.max(
                estimate(client, call_json)
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
        access_list: AccessListMode::None,
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

/// The callee, value and calldata of one call under `values`, fuzzed
/// arguments drawn from `rng`.
fn draw(
    call: &Call,
    values: &Values<'_>,
    rng: &mut StdRng,
) -> std::result::Result<(Address, U256, Bytes), String> {
    let to: Address = call.to.render(values).parse().map_err(|e| format!("to: {e}"))?;
    let mut value = match &call.value {
        Some(v) => parse_wei(&v.render(values))?,
        None => U256::ZERO,
    };
    let mut fuzzed = Vec::new();
    for f in &call.fuzz {
        let span = f.max - f.min;
        let raw = U256::from_limbs(rng.random());
        let drawn = if span == U256::MAX { raw } else { f.min + raw % (span + U256::from(1)) };
        match f.target {
            FuzzTarget::Value => value = drawn,
            FuzzTarget::Arg(i) => fuzzed.push((i, drawn)),
        }
    }
    let input = match (&call.input, &call.function) {
        (Some(hex), _) => alloy_primitives::hex::decode(hex.render(values).trim())
            .map_err(|e| format!("input: {e}"))?
            .into(),
        (None, Some(function)) => {
            let mut args = coerce_all(&function.inputs, &call.args, values)?;
            for (i, v) in fuzzed {
                let bits = match &args[i] {
                    DynSolValue::Uint(_, bits) => *bits,
                    _ => 256,
                };
                args[i] = DynSolValue::Uint(v, bits);
            }
            function.abi_encode_input(&args).map_err(|e| e.to_string())?.into()
        }
        (None, None) => Bytes::new(),
    };
    Ok((to, value, input))
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

fn sign_call(
    key: &Key,
    nonce: u64,
    fees: Fees,
    gas: u64,
    to: Address,
    value: U256,
    input: Bytes,
) -> (Bytes, B256) {
    key.sign(TxEip1559 {
        chain_id: fees.chain_id,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: fees.max_fee,
        max_priority_fee_per_gas: fees.tip,
        to: TxKind::Call(to),
        value,
        access_list: Default::default(),
        input,
    })
}

/// The node's gas estimate for `tx`, with [`GAS_MARGIN_PERCENT`] on top.
async fn estimate(client: &RpcClient, tx: Value) -> std::result::Result<u64, String> {
    let gas: alloy_primitives::U64 = client
        .call("eth_estimateGas", json!([tx]))
        .await
        .map_err(|e| format!("the node could not estimate its gas: {e}"))?;
    let gas = gas.to::<u64>();
    Ok(gas + gas * GAS_MARGIN_PERCENT / 100)
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
