//! Genesis: the geth `genesis.json` format (what anvil's `--init` reads), the
//! `--dev` chain, and the identity a data folder is checked against.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use crate::{EthBlockData, EthSpec, ForkedHeaders, ImportedHeaders, MptCommitment};
use alloy_eips::eip4844::DATA_GAS_PER_BLOB;
use alloy_genesis::{ChainConfig, Genesis as GethGenesis, GenesisAccount};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_signer_local::coins_bip39::English;
use alloy_signer_local::{MnemonicBuilder, PrivateKeySigner};
use lanes_accounts_db::{AccountHeader, Entry};
use lanes_evm_adapter::{EthHeaders, SpecId};
use lanes_runtime::{BankConfig, BaseFee, Block, Genesis, HeaderCodec, StateCommitment};

/// The mnemonic of the `--dev` accounts: the one anvil and hardhat use. Its
/// keys are public; never use them off a dev chain.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";
/// How many `--dev` accounts are funded.
pub const DEV_ACCOUNTS: u32 = 10;
/// Each `--dev` account's balance: 10000 ETH.
pub const DEV_BALANCE: U256 = U256::from_limbs([0x19e0_c9ba_b240_0000, 0x21e, 0, 0]);
/// Chain id of `--dev` (anvil's and hardhat's).
pub const DEV_CHAIN_ID: u64 = 31337;
/// Block gas limit of `--dev` and the default when a genesis gives none.
pub const DEFAULT_GAS_LIMIT: u64 = 30_000_000;
/// Base fee when a genesis gives none: 1 gwei.
pub const DEFAULT_BASE_FEE: u64 = 1_000_000_000;

/// A genesis file that lanes cannot run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenesisError {
    /// The file could not be read or written.
    #[error("genesis file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a geth genesis.json.
    #[error("genesis file {path} is not a valid geth genesis.json: {source}")]
    Json {
        /// The file.
        path: String,
        /// Why.
        source: serde_json::Error,
    },
    /// A field has a value lanes cannot use.
    #[error("genesis: {0}")]
    Unsupported(String),
}

/// A chain as the node runs it: the runtime's genesis plus the EVM settings.
#[derive(Clone, Debug)]
pub struct ChainSpec {
    /// Chain id transactions must carry.
    pub chain_id: u64,
    /// EVM fork, from the `config` fork fields.
    pub spec: SpecId,
    /// Block 0 and the initial state.
    pub genesis: Genesis,
    /// The geth genesis it came from (stored in the data folder).
    pub source: GethGenesis,
    /// For a chain imported from Ethereum blocks (`lanes-validator
    /// import`): its fork schedule. Its blocks keep their Ethereum headers
    /// and hashes ([`ImportedHeaders`]), and `spec` is the fork at genesis.
    pub imported: Option<EthSpec>,
    /// For a forked chain (`--fork-url`): the upstream's block it starts
    /// from, whose state the accounts database reads through its backing
    /// and whose hash block `genesis.number` keeps ([`ForkedHeaders`]).
    pub fork_block: Option<u64>,
    /// Where the headers carry Ethereum's Merkle-Patricia state root
    /// (`config.lanesStateRoot: "mpt"`, `--state-root mpt`) instead of the
    /// lattice hash: the commitment that keeps its tries.
    pub mpt: Option<std::sync::Arc<MptCommitment>>,
    /// How each block's base fee follows from its parent's
    /// (`config.lanesBaseFee`): EIP-1559's rule (`"eip1559"`, the default)
    /// or its parent's (`"fixed"`).
    pub base_fee: BaseFee,
}

/// The genesis `config` field that picks a chain's state commitment:
/// `"lattice"` (the default) or `"mpt"`.
pub const STATE_ROOT_FIELD: &str = "lanesStateRoot";

/// The genesis `config` field that picks how a chain's base fee moves:
/// `"eip1559"` (the default: Ethereum's rule, elasticity 2, change
/// denominator 8) or `"fixed"` (every block charges the genesis's). A data
/// folder's copy of its genesis always carries it ([`ChainSpec::stored`]);
/// one without it was made by a lanes whose blocks kept a fixed base fee.
pub const BASE_FEE_FIELD: &str = "lanesBaseFee";

impl ChainSpec {
    /// Reads a geth genesis.json file.
    pub fn from_file(path: &Path) -> Result<Self, GenesisError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path)
            .map_err(|source| GenesisError::Io { path: name.clone(), source })?;
        let geth: GethGenesis = serde_json::from_slice(&bytes)
            .map_err(|source| GenesisError::Json { path: name, source })?;
        Self::from_geth(geth)
    }

    /// Reads a geth genesis.json file as the genesis of a chain imported
    /// from Ethereum blocks ([`Self::imported`]).
    pub fn imported_from_file(path: &Path) -> Result<Self, GenesisError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path)
            .map_err(|source| GenesisError::Io { path: name.clone(), source })?;
        let geth: GethGenesis = serde_json::from_slice(&bytes)
            .map_err(|source| GenesisError::Json { path: name, source })?;
        Ok(Self::imported(geth))
    }

    /// The chain of Ethereum blocks a geth genesis starts, as `lanes-validator
    /// import` takes them: forks follow the `config` fields (block numbers,
    /// then times), and block 0 is the Ethereum genesis header geth makes
    /// from the file, its hash Ethereum's.
    pub fn imported(geth: GethGenesis) -> Self {
        let eth = EthSpec::new(geth.config.clone());
        let header = crate::genesis_header(&eth, &geth);
        let spec = eth.spec_at(header.number, header.timestamp, eth.merged_at_genesis());
        let data = EthBlockData {
            withdrawals: header.withdrawals_root.map(|_| Default::default()),
            header: header.clone(),
            ommers: Vec::new(),
            post_states: Vec::new(),
        };
        let genesis = Genesis {
            number: 0,
            alloc: crate::genesis_alloc(&geth),
            timestamp: header.timestamp,
            coinbase: header.beneficiary,
            base_fee: header.base_fee_per_gas.unwrap_or(0),
            gas_limit: header.gas_limit,
            extra: data.encoded(),
        };
        Self {
            chain_id: geth.config.chain_id,
            spec,
            genesis,
            source: geth,
            imported: Some(eth),
            fork_block: None,
            mpt: None,
            // Each block's base fee is its Ethereum header's.
            base_fee: BaseFee::Fixed,
        }
    }

    /// The chain a geth genesis describes.
    pub fn from_geth(geth: GethGenesis) -> Result<Self, GenesisError> {
        let spec = fork_at_genesis(&geth.config, geth.timestamp)?;
        let base_fee = match geth.base_fee_per_gas {
            None => DEFAULT_BASE_FEE,
            Some(fee) => u64::try_from(fee).map_err(|_| {
                GenesisError::Unsupported(format!("baseFeePerGas {fee} does not fit in 64 bits"))
            })?,
        };
        let gas_limit = if geth.gas_limit == 0 { DEFAULT_GAS_LIMIT } else { geth.gas_limit };
        let mut alloc = Vec::with_capacity(geth.alloc.len());
        for (address, account) in &geth.alloc {
            alloc.extend(entries(*address, account));
        }
        let genesis = Genesis {
            alloc,
            timestamp: geth.timestamp,
            coinbase: geth.coinbase,
            base_fee,
            gas_limit,
            ..Default::default()
        };
        let mpt = match geth.config.extra_fields.get(STATE_ROOT_FIELD) {
            None => None,
            Some(v) if v == "lattice" => None,
            Some(v) if v == "mpt" => Some(Default::default()),
            Some(other) => {
                return Err(GenesisError::Unsupported(format!(
                    "config.{STATE_ROOT_FIELD} is {other}: \"lattice\" or \"mpt\""
                )));
            }
        };
        let fee_rule = match geth.config.extra_fields.get(BASE_FEE_FIELD) {
            None => BaseFee::ETHEREUM,
            Some(v) if v == "eip1559" => BaseFee::ETHEREUM,
            Some(v) if v == "fixed" => BaseFee::Fixed,
            Some(other) => {
                return Err(GenesisError::Unsupported(format!(
                    "config.{BASE_FEE_FIELD} is {other}: \"eip1559\" or \"fixed\""
                )));
            }
        };
        Ok(Self {
            chain_id: geth.config.chain_id,
            spec,
            genesis,
            source: geth,
            imported: None,
            fork_block: None,
            mpt,
            base_fee: fee_rule,
        })
    }

    /// Whether its genesis names its base-fee rule ([`BASE_FEE_FIELD`]), as
    /// every data folder's copy does since the rule became EIP-1559's.
    pub fn records_base_fee(&self) -> bool {
        self.source.config.extra_fields.contains_key(BASE_FEE_FIELD)
    }

    /// The genesis a data folder keeps of this chain: its source, with its
    /// base-fee rule written out.
    pub fn stored(&self) -> GethGenesis {
        let mut geth = self.source.clone();
        geth.config.extra_fields.insert(BASE_FEE_FIELD.into(), base_fee_name(self.base_fee).into());
        geth
    }

    /// This chain with its headers carrying Ethereum's Merkle-Patricia
    /// state root, recorded in its genesis (`config.lanesStateRoot`).
    pub fn with_mpt_state_root(mut self) -> Self {
        self.source.config.extra_fields.insert(STATE_ROOT_FIELD.into(), "mpt".into());
        self.mpt = Some(Default::default());
        self
    }

    /// This chain with block 0's base fee `fee` (which its first block
    /// charges too): `--block-base-fee-per-gas`.
    pub fn with_base_fee(mut self, fee: u64) -> Self {
        self.source.base_fee_per_gas = Some(u128::from(fee));
        self.genesis.base_fee = fee;
        self
    }

    /// The `--dev` chain: chain id 31337, Prague from genesis, the ten
    /// accounts of [`DEV_MNEMONIC`] with 10000 ETH each, a 30M gas limit and
    /// a 1 gwei base fee at first, moving by EIP-1559.
    pub fn dev() -> Self {
        Self::dev_at(0)
    }

    /// [`Self::dev`] with block 0 stamped `timestamp` (a `--dev` data folder
    /// is made with the time it is made, as anvil's chain starts now).
    pub fn dev_at(timestamp: u64) -> Self {
        Self::dev_with(timestamp, DEV_FORK)
    }

    /// [`Self::dev_at`] running `fork` ([`dev_genesis_with`]).
    pub fn dev_with(timestamp: u64, fork: DevFork) -> Self {
        let mut geth = dev_genesis_with(fork);
        geth.timestamp = timestamp;
        Self::from_geth(geth).expect("the dev genesis is valid")
    }

    /// A fork of another chain at its block `at` (`--fork-url`): `fork`'s
    /// rules under `chain_id`, its first block the upstream's (number, time,
    /// base fee, gas limit and hash), and of its state only `alloc` held
    /// locally (the funded dev accounts); the rest is the upstream's, read
    /// through the accounts database's backing.
    pub fn forked(fork: DevFork, chain_id: u64, at: &ForkPoint, alloc: Vec<Entry>) -> Self {
        let mut geth = dev_genesis_with(fork);
        geth.config.chain_id = chain_id;
        geth.timestamp = at.timestamp;
        geth.alloc.clear();
        let mut spec = Self::from_geth(geth).expect("the dev genesis is valid");
        spec.genesis = Genesis {
            number: at.number,
            alloc,
            timestamp: at.timestamp,
            coinbase: Address::ZERO,
            base_fee: at.base_fee,
            gas_limit: at.gas_limit,
            extra: Bytes::copy_from_slice(at.hash.as_slice()),
        };
        spec.fork_block = Some(at.number);
        spec
    }

    /// The chain's header codec: Ethereum's, for its fork.
    pub fn headers(&self) -> EthHeaders {
        EthHeaders::new(self.spec)
    }

    /// The header codec of its blocks: Ethereum's for its fork, or an
    /// imported chain's (each block's own Ethereum header).
    pub fn codec(&self) -> std::sync::Arc<dyn HeaderCodec> {
        match (&self.imported, self.fork_block) {
            (Some(_), _) => std::sync::Arc::new(ImportedHeaders),
            (None, Some(first)) => {
                std::sync::Arc::new(ForkedHeaders { eth: self.headers(), first })
            }
            (None, None) => std::sync::Arc::new(self.headers()),
        }
    }

    /// The settings of this chain's banks: its header codec, every
    /// block's accesses recorded (its EIP-7928 access list), and the blob
    /// gas a block it builds may hold (its fork's blob schedule).
    pub fn bank_config(&self) -> BankConfig {
        let blob_gas = lanes_evm_adapter::blob_params_of(self.spec)
            .map_or(0, |p| p.max_blob_count.saturating_mul(DATA_GAS_PER_BLOB));
        BankConfig {
            headers: self.codec(),
            record_accesses: true,
            commitment: self.mpt.clone().map(|c| c as std::sync::Arc<dyn StateCommitment>),
            // An imported block's blobs were counted by its header's check.
            max_block_units: if self.imported.is_some() { u64::MAX } else { blob_gas },
            // An imported block's base fee is its Ethereum header's.
            base_fee: if self.imported.is_some() { BaseFee::Fixed } else { self.base_fee },
            ..BankConfig::default()
        }
    }

    /// Block 0.
    pub fn genesis_block(&self) -> Block {
        self.genesis.block_with(&self.bank_config())
    }

    /// What a data folder made from this chain is checked against: block 0's
    /// hash, the chain id and the fork.
    pub fn id(&self) -> B256 {
        let mut bytes = self.genesis_block().hash.to_vec();
        bytes.extend(self.chain_id.to_be_bytes());
        bytes.extend((self.spec as u8).to_be_bytes());
        // A chain of a fixed base fee is another chain than the same genesis
        // under EIP-1559 (whose id stays what it was before the rule).
        if self.base_fee == BaseFee::Fixed {
            bytes.extend(b"fixed base fee");
        }
        keccak256(bytes)
    }
}

/// The upstream's block a forked chain starts from: the fields its first
/// block takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForkPoint {
    /// Its number.
    pub number: u64,
    /// Its hash, as the upstream gave it.
    pub hash: B256,
    /// Its time.
    pub timestamp: u64,
    /// Its base fee (1 gwei where it has none).
    pub base_fee: u64,
    /// Its gas limit.
    pub gas_limit: u64,
}

/// The deterministic deployment proxy (Arachnid's), which foundry's
/// `forge script` and `CREATE2` tooling deploy through; every chain has it at
/// this address, put there by a pre-EIP-155 transaction ("Nick's method").
pub const CREATE2_DEPLOYER: Address =
    alloy_primitives::address!("0x4e59b44847b379578588920ca78fbf26c0b4956c");

/// Its runtime code: `CREATE2(value, calldata[32..], salt = calldata[..32])`,
/// returning the new address.
pub const CREATE2_DEPLOYER_CODE: [u8; 69] = alloy_primitives::hex!(
    "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe03601600081602082378035828234f58015156039578182fd5b8082525050506014600cf3"
);

/// A fork a `--dev` chain can run from block 0 (`--hardfork`, anvil's flag).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DevFork {
    /// Shanghai.
    Shanghai,
    /// Cancun.
    Cancun,
    /// Prague: the default, as anvil 1.7.1 runs it.
    Prague,
    /// Osaka.
    Osaka,
    /// Amsterdam (Glamsterdam's execution rules as revm 43 has them, and
    /// every header committing to its block's access list, EIP-7928).
    Amsterdam,
}

/// The fork of `--dev` without `--hardfork`.
pub const DEV_FORK: DevFork = DevFork::Prague;

impl DevFork {
    /// The fork's name as `--hardfork` takes it.
    pub fn name(self) -> &'static str {
        match self {
            DevFork::Shanghai => "shanghai",
            DevFork::Cancun => "cancun",
            DevFork::Prague => "prague",
            DevFork::Osaka => "osaka",
            DevFork::Amsterdam => "amsterdam",
        }
    }
}

impl std::str::FromStr for DevFork {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let all = [
            DevFork::Shanghai,
            DevFork::Cancun,
            DevFork::Prague,
            DevFork::Osaka,
            DevFork::Amsterdam,
        ];
        let name = s.to_ascii_lowercase();
        all.into_iter().find(|f| f.name() == name).ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|f| f.name()).collect();
            format!("`{s}` is not a fork a dev chain runs; one of {}", names.join(", "))
        })
    }
}

/// The `--dev` genesis in geth form (what `lanes-validator init` writes).
pub fn dev_genesis() -> GethGenesis {
    dev_genesis_with(DEV_FORK)
}

/// How a genesis names `rule` ([`BASE_FEE_FIELD`]).
fn base_fee_name(rule: BaseFee) -> &'static str {
    match rule {
        BaseFee::Fixed => "fixed",
        BaseFee::Eip1559 { .. } => "eip1559",
    }
}

/// The `--dev` genesis running `fork` from block 0: its time field and
/// every earlier one at 0.
pub fn dev_genesis_with(fork: DevFork) -> GethGenesis {
    let at = |f: DevFork| (fork >= f).then_some(0);
    let config = ChainConfig {
        chain_id: DEV_CHAIN_ID,
        homestead_block: Some(0),
        eip150_block: Some(0),
        eip155_block: Some(0),
        eip158_block: Some(0),
        byzantium_block: Some(0),
        constantinople_block: Some(0),
        petersburg_block: Some(0),
        istanbul_block: Some(0),
        berlin_block: Some(0),
        london_block: Some(0),
        merge_netsplit_block: Some(0),
        shanghai_time: Some(0),
        cancun_time: at(DevFork::Cancun),
        prague_time: at(DevFork::Prague),
        osaka_time: at(DevFork::Osaka),
        amsterdam_time: at(DevFork::Amsterdam),
        terminal_total_difficulty: Some(U256::ZERO),
        terminal_total_difficulty_passed: true,
        ..Default::default()
    };
    let mut alloc: BTreeMap<Address, GenesisAccount> = dev_signers()
        .iter()
        .map(|s| (s.address(), GenesisAccount::default().with_balance(DEV_BALANCE)))
        .collect();
    // The deterministic CREATE2 deployer, as anvil's dev chain holds it.
    let deployer = GenesisAccount::default()
        .with_nonce(Some(1))
        .with_code(Some(Bytes::from_static(&CREATE2_DEPLOYER_CODE)));
    alloc.insert(CREATE2_DEPLOYER, deployer);
    let mut config = config;
    config.extra_fields.insert(BASE_FEE_FIELD.into(), base_fee_name(BaseFee::ETHEREUM).into());
    GethGenesis {
        config,
        gas_limit: DEFAULT_GAS_LIMIT,
        base_fee_per_gas: Some(u128::from(DEFAULT_BASE_FEE)),
        alloc,
        ..Default::default()
    }
}

/// The keys of the `--dev` accounts, derived from [`DEV_MNEMONIC`] at
/// `m/44'/60'/0'/0/i` (once per process).
pub fn dev_signers() -> &'static [PrivateKeySigner] {
    static SIGNERS: OnceLock<Vec<PrivateKeySigner>> = OnceLock::new();
    SIGNERS.get_or_init(|| {
        (0..DEV_ACCOUNTS)
            .map(|i| {
                MnemonicBuilder::<English>::default()
                    .phrase(DEV_MNEMONIC)
                    .index(i)
                    .and_then(|b| b.build())
                    .expect("the dev mnemonic derives")
            })
            .collect()
    })
}

fn entries(address: Address, account: &GenesisAccount) -> Vec<Entry> {
    let code = account.code.clone().filter(|c| !c.is_empty());
    let code_hash = code.as_ref().map_or(alloy_primitives::KECCAK256_EMPTY, keccak256);
    let header =
        AccountHeader { nonce: account.nonce.unwrap_or(0), balance: account.balance, code_hash };
    let mut out = vec![Entry::Account(address, header)];
    if let Some(code) = code {
        out.push(Entry::Code(code_hash, code));
    }
    for (slot, value) in account.storage.iter().flatten() {
        let value = U256::from_be_bytes(value.0);
        if !value.is_zero() {
            out.push(Entry::Storage(address, *slot, value));
        }
    }
    out
}

/// The newest fork active at genesis. lanes runs one fork from block 0, so a
/// fork scheduled later is refused.
fn fork_at_genesis(config: &ChainConfig, timestamp: u64) -> Result<SpecId, GenesisError> {
    let by_time = [
        ("amsterdamTime", config.amsterdam_time, SpecId::AMSTERDAM),
        ("osakaTime", config.osaka_time, SpecId::OSAKA),
        ("pragueTime", config.prague_time, SpecId::PRAGUE),
        ("cancunTime", config.cancun_time, SpecId::CANCUN),
        ("shanghaiTime", config.shanghai_time, SpecId::SHANGHAI),
    ];
    let by_block = [
        ("mergeNetsplitBlock", config.merge_netsplit_block, SpecId::MERGE),
        ("londonBlock", config.london_block, SpecId::LONDON),
        ("berlinBlock", config.berlin_block, SpecId::BERLIN),
        ("istanbulBlock", config.istanbul_block, SpecId::ISTANBUL),
        ("petersburgBlock", config.petersburg_block, SpecId::PETERSBURG),
        ("constantinopleBlock", config.constantinople_block, SpecId::PETERSBURG),
        ("byzantiumBlock", config.byzantium_block, SpecId::BYZANTIUM),
        ("eip158Block", config.eip158_block, SpecId::SPURIOUS_DRAGON),
        ("eip150Block", config.eip150_block, SpecId::TANGERINE),
        ("homesteadBlock", config.homestead_block, SpecId::HOMESTEAD),
    ];
    let mut newest = None;
    for (name, at, spec) in by_time {
        match at {
            Some(t) if t <= timestamp => newest = newest.or(Some(spec)),
            Some(t) => {
                return Err(GenesisError::Unsupported(format!(
                    "config.{name} = {t} is after the genesis timestamp {timestamp}; lanes runs one fork from block 0"
                )));
            }
            None => {}
        }
    }
    for (name, at, spec) in by_block {
        match at {
            Some(0) => newest = newest.or(Some(spec)),
            Some(n) => {
                return Err(GenesisError::Unsupported(format!(
                    "config.{name} = {n}; lanes runs one fork from block 0 (set it to 0)"
                )));
            }
            None => {}
        }
    }
    Ok(newest.unwrap_or(lanes_evm_adapter::DEFAULT_SPEC))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_accounts_are_anvils() {
        let addresses: Vec<String> =
            dev_signers().iter().map(|s| s.address().to_string()).collect();
        assert_eq!(addresses[0], "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
        assert_eq!(addresses[1], "0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
        assert_eq!(addresses[9], "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720");
        assert_eq!(DEV_BALANCE, U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18)));
    }

    #[test]
    fn geth_genesis_round_trips_and_picks_the_fork() {
        let dev = ChainSpec::dev();
        assert_eq!(dev.spec, SpecId::PRAGUE);
        let json = serde_json::to_string(&dev.source).unwrap();
        let again = ChainSpec::from_geth(serde_json::from_str(&json).unwrap()).unwrap();
        assert_eq!(again.id(), dev.id());

        let cancun = r#"{"config":{"chainId":7,"shanghaiTime":0,"cancunTime":0},"gasLimit":"0x1000000",
            "alloc":{"0x1000000000000000000000000000000000000001":{"balance":"100","nonce":"0x2",
            "code":"0x6001","storage":{"0x01":"0x05"}}}}"#;
        let spec = ChainSpec::from_geth(serde_json::from_str(cancun).unwrap()).unwrap();
        assert_eq!(
            (spec.chain_id, spec.spec, spec.genesis.gas_limit),
            (7, SpecId::CANCUN, 0x1000000)
        );
        assert_eq!(spec.genesis.alloc.len(), 3);
        assert_ne!(spec.id(), dev.id());

        let later =
            r#"{"config":{"chainId":7,"cancunTime":100},"gasLimit":"0x1000000","alloc":{}}"#;
        let err = ChainSpec::from_geth(serde_json::from_str(later).unwrap()).unwrap_err();
        assert!(err.to_string().contains("cancunTime = 100"), "{err}");
    }
}
