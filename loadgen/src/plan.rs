//! What a run sends: the workload's accounts, its contracts (where they live
//! and how they are set up) and its transactions, each with the access list
//! the workload derives from the contracts' storage layouts.

use std::collections::{BTreeMap, BTreeSet};

use alloy_consensus::TxEip1559;
use alloy_eips::eip2930::AccessList;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_sol_types::{SolCall, SolValue, sol};
use rand::{Rng, SeedableRng};

use crate::keys::Key;

sol! {
    interface IToken {
        function transfer(address to, uint256 value) external returns (bool);
        function transferAndCall(address to, uint256 value, bytes data) external returns (bool);
        function mint(address to, uint256 amount) external;
        function mintBatch(address[] to, uint256 amount) external;
        function balanceOf(address holder) external view returns (uint256);
    }
    interface IPair {
        function mint(address to) external returns (uint256);
        function getReserves() external view returns (uint112, uint112, uint32);
    }
    interface IBoard {
        function take() external returns (uint256);
    }
}

/// Which transactions a run sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// ETH transfers between the accounts.
    Transfer,
    /// Transfers of one ERC-20 (contracts/Token.sol) among the accounts.
    Erc20,
    /// Swaps on Uniswap-V2-style pairs (contracts/Pair.sol), one token in
    /// through `transferAndCall`, the other out.
    Amm,
    /// 50% transfers, 30% ERC-20 transfers, 20% swaps.
    Mixed,
    /// Built to mispredict: each transaction takes the mark a shared counter
    /// names and moves the counter on (contracts/Board.sol `take`), so the
    /// slot it writes depends on every take before it.
    Counter,
}

/// Whether transactions carry access lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessListMode {
    /// The exact EIP-2930 list of what each transaction touches (for the
    /// counter workload: the mark it would take if run in plan order).
    #[default]
    Exact,
    /// None, as wallets send them.
    None,
}

/// The kind of one transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An ETH transfer.
    Transfer,
    /// An ERC-20 transfer.
    Erc20,
    /// A swap.
    Swap,
    /// A `Board.take`.
    Take,
    /// A scenario's call (its gas limit estimated or given).
    Call,
}

/// How a workload is drawn.
#[derive(Clone, Debug)]
pub struct WorkloadConfig {
    /// The workload.
    pub workload: Workload,
    /// How many transactions.
    pub txs: usize,
    /// How many accounts send (round robin) and receive.
    pub accounts: usize,
    /// Receivers drawn Zipf(s) over the accounts instead of uniformly.
    pub zipf: Option<f64>,
    /// How many pairs the swaps use.
    pub pools: usize,
    /// The share of swaps on pair 0 (the rest spread evenly over the others).
    pub hot_pool_share: f64,
    /// Seeds the keys and every random choice.
    pub seed: u64,
    /// Whether transactions carry access lists.
    pub access_list: AccessListMode,
}

/// Wei sent by each ETH transfer.
pub const TRANSFER_VALUE: u64 = 1_000;
/// Token units each account holds after setup (1M tokens of 18 decimals).
pub const HOLDER_TOKENS: u128 = 1_000_000 * 10u128.pow(18);
/// Token units of each token in each pair after setup.
pub const POOL_TOKENS: u128 = 1_000_000_000 * 10u128.pow(18);
/// Token units per ERC-20 transfer and per swap.
pub const TRADE_TOKENS: u128 = 10u128.pow(18);
/// Holders per `mintBatch` setup call.
const MINT_CHUNK: usize = 250;

/// Gas limit of each transaction kind (transfers need exactly 23,400 with
/// their one-address list; the others are measured with margin).
pub fn gas_limit(kind: Kind) -> u64 {
    match kind {
        Kind::Transfer => 30_000,
        Kind::Erc20 => 100_000,
        Kind::Swap => 250_000,
        Kind::Take => 100_000,
        Kind::Call => 1_000_000,
    }
}

/// Where the workload's contracts live: the addresses the deployer's first
/// transactions create, so they are the same on every chain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// The ERC-20 (and token 0 of every pair).
    pub token_a: Option<Address>,
    /// Token 1 of every pair.
    pub token_b: Option<Address>,
    /// The pairs.
    pub pairs: Vec<Address>,
    /// The board (the counter workload).
    pub board: Option<Address>,
}

/// One setup transaction from the deployer (its nonce is its index).
#[derive(Clone, Debug)]
pub struct SetupCall {
    /// What it does, for messages.
    pub what: String,
    /// `None` deploys.
    pub to: Option<Address>,
    /// Calldata, or creation code with constructor arguments.
    pub input: Bytes,
    /// Gas limit.
    pub gas_limit: u64,
}

/// What a scenario's transaction carries beyond a plain EIP-1559 call.
#[derive(Clone, Debug, Default)]
pub struct TxExtra {
    /// Its own tip per gas (else the run's).
    pub tip: Option<u128>,
    /// EIP-7702 authorizations: a set-code (type 4) transaction.
    pub authorizations: Vec<alloy_eips::eip7702::SignedAuthorization>,
    /// A blob (type 3) transaction's sidecar and its most per blob gas.
    pub blob: Option<(std::sync::Arc<alloy_eips::eip7594::BlobTransactionSidecarVariant>, u128)>,
}

/// Signs `spec` from `key` with `nonce`: EIP-1559, or the type its
/// [`TxExtra`] asks for; the tip is its own where it has one, the max fee
/// at least the tip.
pub fn sign_spec(
    key: &Key,
    spec: &TxSpec,
    nonce: u64,
    chain_id: u64,
    (max_fee, tip): (u128, u128),
    access_list: AccessList,
) -> (Bytes, B256) {
    let tip = spec.extra.tip.unwrap_or(tip);
    let max_fee = max_fee.max(tip);
    if !spec.extra.authorizations.is_empty() {
        return key.sign(alloy_consensus::TxEip7702 {
            chain_id,
            nonce,
            gas_limit: spec.gas_limit,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: spec.to,
            value: spec.value,
            access_list,
            authorization_list: spec.extra.authorizations.clone(),
            input: spec.input.clone(),
        });
    }
    if let Some((sidecar, blob_fee)) = &spec.extra.blob {
        let tx = alloy_consensus::TxEip4844 {
            chain_id,
            nonce,
            gas_limit: spec.gas_limit,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: spec.to,
            value: spec.value,
            access_list,
            blob_versioned_hashes: sidecar.versioned_hashes().collect(),
            max_fee_per_blob_gas: *blob_fee,
            input: spec.input.clone(),
        };
        return key.sign_4844(tx, (**sidecar).clone());
    }
    key.sign(TxEip1559 {
        chain_id,
        nonce,
        gas_limit: spec.gas_limit,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(spec.to),
        value: spec.value,
        access_list,
        input: spec.input.clone(),
    })
}

/// One workload transaction before signing.
#[derive(Clone, Debug)]
pub struct TxSpec {
    /// Index of the sending account.
    pub sender: u32,
    /// What it is.
    pub kind: Kind,
    /// The callee.
    pub to: Address,
    /// Wei sent.
    pub value: U256,
    /// Calldata.
    pub input: Bytes,
    /// The EIP-2930 list: every account and slot it touches but the sender's.
    pub access_list: AccessList,
    /// Gas limit.
    pub gas_limit: u64,
    /// A scenario step's type and fee beyond EIP-1559's defaults.
    pub extra: TxExtra,
}

/// Everything a run needs before it signs.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The workload's or the scenario's name, for reports.
    pub name: String,
    /// How it was drawn.
    pub config: WorkloadConfig,
    /// Deploys and sets up the contracts.
    pub deployer: Key,
    /// The workload's accounts.
    pub accounts: Vec<Key>,
    /// The contracts.
    pub layout: Layout,
    /// The deployer's setup transactions, in nonce order.
    pub setup: Vec<SetupCall>,
    /// The transactions, senders round robin.
    pub txs: Vec<TxSpec>,
}

/// The storage slot of `key` in a Solidity `mapping(address => _)` at `slot`.
pub fn mapping_slot(key: Address, slot: u64) -> B256 {
    let mut buf = [0u8; 64];
    buf[12..32].copy_from_slice(key.as_slice());
    buf[56..].copy_from_slice(&slot.to_be_bytes());
    keccak256(buf)
}

/// Slot of `mapping[key]` for a mapping at `slot`, `key` a 32-byte word.
fn mapping_slot_of(key: B256, slot: u64) -> B256 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(key.as_slice());
    buf[56..].copy_from_slice(&slot.to_be_bytes());
    keccak256(buf)
}

/// `Token.balanceOf[holder]` (contracts/Token.sol, slot 0).
pub fn token_balance_slot(holder: Address) -> B256 {
    mapping_slot(holder, 0)
}

/// The pair's reserves (slot 0) and lock (slot 1), which every swap writes.
pub fn pair_slots() -> [B256; 2] {
    [B256::ZERO, B256::with_last_byte(1)]
}

/// A contract's creation code from its committed artifact.
pub fn creation_code(artifact: &str) -> Bytes {
    let json = match artifact {
        "Token" => include_str!("../../contracts/artifacts/Token.json"),
        "Pair" => include_str!("../../contracts/artifacts/Pair.json"),
        "Board" => include_str!("../../contracts/artifacts/Board.json"),
        other => panic!("no artifact {other}"),
    };
    let v: serde_json::Value = serde_json::from_str(json).expect("a committed artifact is JSON");
    v["bytecode"].as_str().and_then(|h| h.parse().ok()).expect("an artifact has bytecode")
}

fn list(entries: impl IntoIterator<Item = (Address, Vec<B256>)>) -> AccessList {
    let mut map: BTreeMap<Address, BTreeSet<B256>> = BTreeMap::new();
    for (address, slots) in entries {
        map.entry(address).or_default().extend(slots);
    }
    lanes_evm_adapter::sorted_access_list(map)
}

/// Draws receivers uniformly or Zipf(s) (rank r has weight 1 / (r + 1)^s).
enum Receivers {
    Uniform(usize),
    Zipf(Vec<f64>),
}

impl Receivers {
    fn new(n: usize, zipf: Option<f64>) -> Self {
        match zipf {
            None => Self::Uniform(n),
            Some(s) => Self::Zipf(
                (1..=n)
                    .scan(0.0, |acc, r| {
                        *acc += 1.0 / (r as f64).powf(s);
                        Some(*acc)
                    })
                    .collect(),
            ),
        }
    }

    /// An account other than `not` (when there are two or more).
    fn draw(&self, rng: &mut impl Rng, not: usize) -> usize {
        let n = match self {
            Self::Uniform(n) => *n,
            Self::Zipf(cdf) => cdf.len(),
        };
        let pick = match self {
            Self::Uniform(n) => rng.random_range(0..*n),
            Self::Zipf(cdf) => {
                let x = rng.random::<f64>() * cdf[cdf.len() - 1];
                cdf.partition_point(|c| *c < x).min(n - 1)
            }
        };
        if pick == not && n > 1 { (pick + 1) % n } else { pick }
    }
}

/// A workload that cannot be drawn ([`Plan::new`]); each names the flag.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// No transactions or no accounts.
    #[error("--txs and --accounts must be at least 1 (got --txs {txs}, --accounts {accounts})")]
    Empty {
        /// Transactions asked for.
        txs: usize,
        /// Accounts asked for.
        accounts: usize,
    },
    /// More accounts than a transaction's sender index holds (`u32`).
    #[error("--accounts {0} is too many (at most {max})", max = u32::MAX)]
    TooManyAccounts(usize),
    /// No pairs for the swaps.
    #[error("--pools must be at least 1")]
    NoPools,
    /// The hot pool's share is not a fraction.
    #[error("--hot-pool-share {0} is not between 0 and 1")]
    HotPoolShare(f64),
    /// The Zipf exponent is not a positive number.
    #[error("--zipf {0} must be a positive number")]
    Zipf(f64),
}

impl Plan {
    /// Draws the plan: keys, contract addresses, setup and transactions.
    pub fn new(config: WorkloadConfig) -> Result<Self, PlanError> {
        if config.accounts == 0 || config.txs == 0 {
            return Err(PlanError::Empty { txs: config.txs, accounts: config.accounts });
        }
        if config.accounts > u32::MAX as usize {
            return Err(PlanError::TooManyAccounts(config.accounts));
        }
        if config.pools == 0 {
            return Err(PlanError::NoPools);
        }
        if !(0.0..=1.0).contains(&config.hot_pool_share) {
            return Err(PlanError::HotPoolShare(config.hot_pool_share));
        }
        if let Some(s) = config.zipf.filter(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(PlanError::Zipf(s));
        }
        let seed = config.seed;
        let deployer = Key::derive(seed, "deployer", 0);
        let accounts = derive_accounts(seed, config.accounts);
        let (layout, setup) = contracts(&config, &deployer, &accounts);
        let txs = draw_txs(&config, &accounts, &layout);
        let name = format!("{:?}", config.workload).to_lowercase();
        Ok(Self { name, config, deployer, accounts, layout, setup, txs })
    }

    /// The plan with its first `n` transactions only (a ramp's step).
    pub fn truncated(&self, n: usize) -> Self {
        let txs = self.txs[..n.min(self.txs.len())].to_vec();
        Self {
            name: self.name.clone(),
            config: WorkloadConfig { txs: txs.len(), ..self.config.clone() },
            deployer: self.deployer.clone(),
            accounts: self.accounts.clone(),
            layout: self.layout.clone(),
            setup: self.setup.clone(),
            txs,
        }
    }

    /// The transaction `index` signed with `nonce` and the given fees.
    pub fn sign(
        &self,
        index: usize,
        nonce: u64,
        chain_id: u64,
        max_fee: u128,
        tip: u128,
    ) -> (Bytes, B256) {
        let spec = &self.txs[index];
        let access_list = match self.config.access_list {
            AccessListMode::Exact => spec.access_list.clone(),
            AccessListMode::None => AccessList::default(),
        };
        let key = &self.accounts[spec.sender as usize];
        sign_spec(key, spec, nonce, chain_id, (max_fee, tip), access_list)
    }

    /// Signs every transaction on all cores: `nonces[s]` is sender `s`'s first,
    /// and each sender's transactions take its nonces in plan order.
    pub(crate) fn presign(
        &self,
        nonces: &[u64],
        chain_id: u64,
        max_fee: u128,
        tip: u128,
    ) -> Vec<(Bytes, B256)> {
        let mut next = nonces.to_vec();
        let tx_nonces: Vec<u64> = self
            .txs
            .iter()
            .map(|tx| {
                let n = &mut next[tx.sender as usize];
                *n += 1;
                *n - 1
            })
            .collect();
        lanes_runtime::parallel_map(
            self.txs.len(),
            crate::cores(),
            || (),
            |_, i| self.sign(i, tx_nonces[i], chain_id, max_fee, tip),
        )
    }

    /// The most a sender spends (gas at `max_fee` and value) over the run.
    pub fn spend(&self, max_fee: u128) -> Vec<U256> {
        let mut spend = vec![U256::ZERO; self.accounts.len()];
        for tx in &self.txs {
            let fee = max_fee.max(tx.extra.tip.unwrap_or(0));
            let blobs = tx.extra.blob.as_ref().map_or(U256::ZERO, |(sidecar, blob_fee)| {
                let gas = sidecar.blobs().len() as u64 * alloy_eips::eip4844::DATA_GAS_PER_BLOB;
                U256::from(gas) * U256::from(*blob_fee)
            });
            spend[tx.sender as usize] +=
                U256::from(tx.gas_limit) * U256::from(fee) + tx.value + blobs;
        }
        spend
    }
}

fn derive_accounts(seed: u64, n: usize) -> Vec<Key> {
    lanes_runtime::parallel_map(
        n,
        crate::cores(),
        || (),
        |_, i| Key::derive(seed, "account", i as u64),
    )
}

fn contracts(
    config: &WorkloadConfig,
    deployer: &Key,
    accounts: &[Key],
) -> (Layout, Vec<SetupCall>) {
    let (erc20, amm) = match config.workload {
        Workload::Transfer | Workload::Counter => (false, false),
        Workload::Erc20 => (true, false),
        Workload::Amm => (false, true),
        Workload::Mixed => (true, true),
    };
    let mut layout = Layout::default();
    let mut setup = Vec::new();
    let at = |setup: &Vec<SetupCall>| deployer.address().create(setup.len() as u64);
    if config.workload == Workload::Counter {
        layout.board = Some(at(&setup));
        let mut code = creation_code("Board").to_vec();
        code.extend(U256::ZERO.abi_encode());
        setup.push(SetupCall {
            what: "deploy board".into(),
            to: None,
            input: code.into(),
            gas_limit: 1_000_000,
        });
        return (layout, setup);
    }
    let token = |name: &str, symbol: &str| {
        let mut code = creation_code("Token").to_vec();
        code.extend((name.to_string(), symbol.to_string(), U256::ZERO).abi_encode_params());
        SetupCall {
            what: format!("deploy token {symbol}"),
            to: None,
            input: code.into(),
            gas_limit: 2_000_000,
        }
    };
    if !(erc20 || amm) {
        return (layout, setup);
    }
    let a = at(&setup);
    setup.push(token("Loadgen A", "LGA"));
    layout.token_a = Some(a);
    let holders: Vec<Address> = accounts.iter().map(Key::address).collect();
    let mint_all = |setup: &mut Vec<SetupCall>, token: Address, name: &str| {
        for (i, chunk) in holders.chunks(MINT_CHUNK).enumerate() {
            let input =
                IToken::mintBatchCall { to: chunk.to_vec(), amount: U256::from(HOLDER_TOKENS) };
            setup.push(SetupCall {
                what: format!("mint {name} to holders, part {}", i + 1),
                to: Some(token),
                input: input.abi_encode().into(),
                gas_limit: 30_000 * chunk.len() as u64 + 200_000,
            });
        }
    };
    if amm {
        let b = at(&setup);
        setup.push(token("Loadgen B", "LGB"));
        layout.token_b = Some(b);
        for i in 0..config.pools {
            layout.pairs.push(at(&setup));
            let mut code = creation_code("Pair").to_vec();
            code.extend((a, b).abi_encode_params());
            setup.push(SetupCall {
                what: format!("deploy pair {i}"),
                to: None,
                input: code.into(),
                gas_limit: 2_000_000,
            });
        }
        for (i, pair) in layout.pairs.iter().enumerate() {
            for (token, name) in [(a, "LGA"), (b, "LGB")] {
                let input = IToken::mintCall { to: *pair, amount: U256::from(POOL_TOKENS) };
                setup.push(SetupCall {
                    what: format!("mint {name} to pair {i}"),
                    to: Some(token),
                    input: input.abi_encode().into(),
                    gas_limit: 100_000,
                });
            }
            setup.push(SetupCall {
                what: format!("add liquidity to pair {i}"),
                to: Some(*pair),
                input: IPair::mintCall { to: deployer.address() }.abi_encode().into(),
                gas_limit: 300_000,
            });
        }
        mint_all(&mut setup, b, "LGB");
    }
    mint_all(&mut setup, a, "LGA");
    (layout, setup)
}

fn draw_txs(config: &WorkloadConfig, accounts: &[Key], layout: &Layout) -> Vec<TxSpec> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(config.seed);
    let receivers = Receivers::new(accounts.len(), config.zipf);
    let m = accounts.len();
    (0..config.txs)
        .map(|i| {
            let sender = i % m;
            let from = accounts[sender].address();
            let kind = match config.workload {
                Workload::Transfer => Kind::Transfer,
                Workload::Erc20 => Kind::Erc20,
                Workload::Amm => Kind::Swap,
                Workload::Mixed => match rng.random_range(0..10) {
                    0..5 => Kind::Transfer,
                    5..8 => Kind::Erc20,
                    _ => Kind::Swap,
                },
                Workload::Counter => Kind::Take,
            };
            match kind {
                Kind::Call => unreachable!("built-in workloads draw no scenario call"),
                Kind::Take => {
                    let board = layout.board.expect("the counter workload has a board");
                    let mark = mapping_slot_of(B256::from(U256::from(i)), 3);
                    TxSpec {
                        sender: sender as u32,
                        kind,
                        to: board,
                        value: U256::ZERO,
                        input: IBoard::takeCall {}.abi_encode().into(),
                        access_list: list([(board, vec![B256::with_last_byte(1), mark])]),
                        gas_limit: gas_limit(kind),
                        extra: TxExtra::default(),
                    }
                }
                Kind::Transfer => {
                    let to = accounts[receivers.draw(&mut rng, sender)].address();
                    TxSpec {
                        sender: sender as u32,
                        kind,
                        to,
                        value: U256::from(TRANSFER_VALUE),
                        input: Bytes::new(),
                        access_list: list([(to, vec![])]),
                        gas_limit: gas_limit(kind),
                        extra: TxExtra::default(),
                    }
                }
                Kind::Erc20 => {
                    let token = layout.token_a.expect("the erc20 workload has a token");
                    let to = accounts[receivers.draw(&mut rng, sender)].address();
                    let input = IToken::transferCall { to, value: U256::from(TRADE_TOKENS) };
                    TxSpec {
                        sender: sender as u32,
                        kind,
                        to: token,
                        value: U256::ZERO,
                        input: input.abi_encode().into(),
                        access_list: list([(
                            token,
                            vec![token_balance_slot(from), token_balance_slot(to)],
                        )]),
                        gas_limit: gas_limit(kind),
                        extra: TxExtra::default(),
                    }
                }
                Kind::Swap => {
                    let (a, b) = (
                        layout.token_a.expect("the amm workload has tokens"),
                        layout.token_b.expect("the amm workload has tokens"),
                    );
                    let hot = rng.random::<f64>() < config.hot_pool_share;
                    let pool = if hot || layout.pairs.len() == 1 {
                        0
                    } else if config.hot_pool_share > 0.0 {
                        rng.random_range(1..layout.pairs.len())
                    } else {
                        rng.random_range(0..layout.pairs.len())
                    };
                    let pair = layout.pairs[pool];
                    // Alternate directions so balances stay put.
                    let token_in = if (i / m + sender).is_multiple_of(2) { a } else { b };
                    let data = U256::ZERO.abi_encode(); // minOut = 0
                    let input = IToken::transferAndCallCall {
                        to: pair,
                        value: U256::from(TRADE_TOKENS),
                        data: data.into(),
                    };
                    let balances = vec![token_balance_slot(from), token_balance_slot(pair)];
                    TxSpec {
                        sender: sender as u32,
                        kind,
                        to: token_in,
                        value: U256::ZERO,
                        input: input.abi_encode().into(),
                        access_list: list([
                            (a, balances.clone()),
                            (b, balances),
                            (pair, pair_slots().to_vec()),
                        ]),
                        gas_limit: gas_limit(kind),
                        extra: TxExtra::default(),
                    }
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(workload: Workload) -> WorkloadConfig {
        WorkloadConfig {
            workload,
            txs: 1000,
            accounts: 50,
            zipf: None,
            pools: 4,
            hot_pool_share: 0.0,
            seed: 1,
            access_list: AccessListMode::Exact,
        }
    }

    #[test]
    fn plans_are_deterministic_and_round_robin() {
        let a = Plan::new(config(Workload::Mixed)).unwrap();
        let b = Plan::new(config(Workload::Mixed)).unwrap();
        assert_eq!(a.layout, b.layout);
        assert_eq!(a.txs.len(), 1000);
        for (x, y) in a.txs.iter().zip(&b.txs) {
            assert_eq!(
                (x.sender, x.to, &x.input, &x.access_list),
                (y.sender, y.to, &y.input, &y.access_list)
            );
        }
        assert!(a.txs.iter().enumerate().all(|(i, t)| t.sender as usize == i % 50));
        for kind in [Kind::Transfer, Kind::Erc20, Kind::Swap] {
            assert!(a.txs.iter().any(|t| t.kind == kind), "{kind:?} drawn");
        }
        // Contracts sit where the deployer's transactions create them.
        assert_eq!(a.layout.token_a, Some(a.deployer.address().create(0)));
        assert_eq!(a.layout.token_b, Some(a.deployer.address().create(1)));
        assert_eq!(a.layout.pairs[3], a.deployer.address().create(5));
        assert!(a.setup[..6].iter().all(|c| c.to.is_none()));
        assert!(a.setup[6..].iter().all(|c| c.to.is_some()));
    }

    #[test]
    fn zipf_concentrates_receivers_and_hot_pool_share_holds() {
        let mut c = config(Workload::Transfer);
        c.zipf = Some(1.2);
        let plan = Plan::new(c).unwrap();
        let to_first = plan.txs.iter().filter(|t| t.to == plan.accounts[0].address()).count();
        let to_last = plan.txs.iter().filter(|t| t.to == plan.accounts[49].address()).count();
        assert!(to_first > 10 * to_last.max(1), "rank 0 got {to_first}, rank 49 got {to_last}");
        assert!(plan.txs.iter().all(|t| t.to != plan.accounts[t.sender as usize].address()));

        let mut c = config(Workload::Amm);
        c.hot_pool_share = 0.8;
        let plan = Plan::new(c).unwrap();
        let hot = plan.layout.pairs[0];
        let on_hot =
            plan.txs.iter().filter(|t| t.access_list.0.iter().any(|i| i.address == hot)).count();
        assert!((700..=900).contains(&on_hot), "{on_hot} of 1000 swaps on the hot pool");
    }

    #[test]
    fn counter_plans_take_marks_and_drop_lists_on_request() {
        let plan = Plan::new(config(Workload::Counter)).unwrap();
        let board = plan.layout.board.expect("a board");
        assert_eq!(plan.setup.len(), 1, "deploys the board");
        assert!(plan.txs.iter().all(|t| t.kind == Kind::Take && t.to == board));
        let (with, _) = plan.sign(0, 0, 31337, 2, 1);
        let none = Plan::new(WorkloadConfig {
            access_list: AccessListMode::None,
            ..config(Workload::Counter)
        })
        .unwrap();
        let (without, _) = none.sign(0, 0, 31337, 2, 1);
        assert!(without.len() < with.len(), "the same transaction without its list");
    }

    #[test]
    fn bad_settings_are_refused() {
        for (bad, flag) in [
            (WorkloadConfig { txs: 0, ..config(Workload::Transfer) }, "--txs"),
            (WorkloadConfig { pools: 0, ..config(Workload::Amm) }, "--pools"),
            (WorkloadConfig { hot_pool_share: 1.5, ..config(Workload::Amm) }, "--hot-pool-share"),
            (WorkloadConfig { zipf: Some(-1.0), ..config(Workload::Transfer) }, "--zipf -1"),
        ] {
            let message = Plan::new(bad).unwrap_err().to_string();
            assert!(message.starts_with(flag), "{message}");
        }
    }
}
