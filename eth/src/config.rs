//! EIP-7910's fork configuration (`eth_config`): for each fork, the time it
//! starts, its blob schedule, the chain's EIP-2124 fork hash from then on,
//! and its precompiles and system contracts under EIP-7910's names.

use alloy_eips::eip2124::ForkHash;
use alloy_eips::eip7840::BlobParams;
use alloy_primitives::{Address, B256, U256};

use super::EthSpec;
use lanes_evm_adapter::SpecId;

/// One fork as EIP-7910 describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForkConfig {
    /// When it starts (0: from genesis, or a fork that starts at a block).
    pub activation_time: u64,
    /// Its revm fork.
    pub spec: SpecId,
    /// Its blob schedule; `None` before Cancun.
    pub blob: Option<BlobParams>,
    /// The chain's EIP-2124 fork hash from its start on.
    pub fork_hash: [u8; 4],
    /// Its precompiles, by EIP-7910's names.
    pub precompiles: Vec<(&'static str, Address)>,
    /// Its system contracts, by EIP-7910's names.
    pub system_contracts: Vec<(&'static str, Address)>,
}

/// The forks `eth_config` answers with: the one in force, the next one
/// scheduled and the last one scheduled (`None` where none is ahead).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForkConfigs {
    /// In force at the head.
    pub current: ForkConfig,
    /// The next fork after the head's time.
    pub next: Option<ForkConfig>,
    /// The last fork scheduled, where it is after the head's time.
    pub last: Option<ForkConfig>,
}

/// EIP-7910's precompiles under `spec`, by name.
pub fn precompiles(spec: SpecId) -> Vec<(&'static str, Address)> {
    let at = |n: u64| Address::from_word(B256::from(U256::from(n)));
    let mut list = vec![("ECREC", at(1)), ("SHA256", at(2)), ("RIPEMD160", at(3)), ("ID", at(4))];
    let mut add = |from: SpecId, named: &[(&'static str, u64)]| {
        if spec.is_enabled_in(from) {
            list.extend(named.iter().map(|&(name, n)| (name, at(n))));
        }
    };
    add(
        SpecId::BYZANTIUM,
        &[("MODEXP", 5), ("BN254_ADD", 6), ("BN254_MUL", 7), ("BN254_PAIRING", 8)],
    );
    add(SpecId::ISTANBUL, &[("BLAKE2F", 9)]);
    add(SpecId::CANCUN, &[("KZG_POINT_EVALUATION", 0x0a)]);
    add(
        SpecId::PRAGUE,
        &[
            ("BLS12_G1ADD", 0x0b),
            ("BLS12_G1MSM", 0x0c),
            ("BLS12_G2ADD", 0x0d),
            ("BLS12_G2MSM", 0x0e),
            ("BLS12_PAIRING_CHECK", 0x0f),
            ("BLS12_MAP_FP_TO_G1", 0x10),
            ("BLS12_MAP_FP2_TO_G2", 0x11),
        ],
    );
    add(SpecId::OSAKA, &[("P256VERIFY", 0x100)]);
    list
}

/// EIP-7910's system contracts under `spec`, by name; `deposit` is the
/// chain's deposit contract (zero where it has none).
pub fn system_contracts(spec: SpecId, deposit: Option<Address>) -> Vec<(&'static str, Address)> {
    use alloy_eips::{eip2935, eip4788, eip7002, eip7251};
    let mut list = Vec::new();
    if spec.is_enabled_in(SpecId::CANCUN) {
        list.push(("BEACON_ROOTS_ADDRESS", eip4788::BEACON_ROOTS_ADDRESS));
    }
    if spec.is_enabled_in(SpecId::PRAGUE) {
        list.extend([
            (
                "CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS",
                eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
            ),
            ("DEPOSIT_CONTRACT_ADDRESS", deposit.unwrap_or_default()),
            ("HISTORY_STORAGE_ADDRESS", eip2935::HISTORY_STORAGE_ADDRESS),
            ("WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS", eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS),
        ]);
    }
    list
}

impl ForkConfig {
    /// `spec` from `activation_time` on, with its precompiles and system
    /// contracts (`deposit`: the chain's deposit contract).
    fn new(
        (activation_time, spec): (u64, SpecId),
        blob: Option<BlobParams>,
        fork_hash: [u8; 4],
        deposit: Option<Address>,
    ) -> Self {
        let (precompiles, system_contracts) = (precompiles(spec), system_contracts(spec, deposit));
        Self { activation_time, spec, blob, fork_hash, precompiles, system_contracts }
    }
}

/// The configuration of a chain with one fork from genesis (lanes' own).
pub fn single_fork(spec: SpecId, genesis_hash: B256) -> ForkConfigs {
    let hash = ForkHash::from(genesis_hash).0;
    let current = ForkConfig::new((0, spec), lanes_evm_adapter::blob_params_of(spec), hash, None);
    ForkConfigs { current, next: None, last: None }
}

impl EthSpec {
    /// EIP-2124's forks by block number, in order, without duplicates or
    /// block 0.
    fn block_forks(&self) -> Vec<u64> {
        let c = self.config();
        let mut forks: Vec<u64> = [
            c.homestead_block,
            self.dao_fork_block(),
            c.eip150_block,
            c.eip155_block,
            c.eip158_block,
            c.byzantium_block,
            c.constantinople_block,
            c.petersburg_block,
            c.istanbul_block,
            c.muir_glacier_block,
            c.berlin_block,
            c.london_block,
            c.arrow_glacier_block,
            c.gray_glacier_block,
            c.merge_netsplit_block,
        ]
        .into_iter()
        .flatten()
        .filter(|&n| n > 0)
        .collect();
        forks.sort_unstable();
        forks.dedup();
        forks
    }

    /// EIP-2124's forks by time, in order, without duplicates or those at
    /// or before the genesis time.
    fn time_forks(&self, genesis_time: u64) -> Vec<u64> {
        let c = self.config();
        let mut forks: Vec<u64> = [
            c.shanghai_time,
            c.cancun_time,
            c.prague_time,
            c.osaka_time,
            c.bpo1_time,
            c.bpo2_time,
            c.bpo3_time,
            c.bpo4_time,
            c.bpo5_time,
            c.amsterdam_time,
        ]
        .into_iter()
        .flatten()
        .filter(|&t| t > genesis_time)
        .collect();
        forks.sort_unstable();
        forks.dedup();
        forks
    }

    /// EIP-2124's fork hash of the chain once the forks at or before block
    /// `number` and time `time` have passed.
    pub fn fork_hash(&self, genesis: (B256, u64), number: u64, time: u64) -> [u8; 4] {
        let mut hash = ForkHash::from(genesis.0);
        for block in self.block_forks().into_iter().filter(|&b| b <= number) {
            hash += block;
        }
        for t in self.time_forks(genesis.1).into_iter().filter(|&t| t <= time) {
            hash += t;
        }
        hash.0
    }

    /// EIP-7910's forks at a head of block `number`, time `time` (`merged`:
    /// after the merge), on the chain whose genesis block has this hash and
    /// time.
    pub fn fork_configs(
        &self,
        genesis: (B256, u64),
        (number, time, merged): (u64, u64, bool),
    ) -> ForkConfigs {
        let deposit = self.deposit_contract();
        let at_time = |t: u64| {
            let (spec, hash) =
                (self.spec_at(u64::MAX, t, true), self.fork_hash(genesis, u64::MAX, t));
            ForkConfig::new((t, spec), self.blob_params(t), hash, deposit)
        };
        let times = self.time_forks(genesis.1);
        let started = times.iter().rev().find(|&&t| t <= time).copied();
        let current = match started {
            Some(t) if merged => at_time(t),
            _ => {
                let spec = self.spec_at(number, time, merged);
                let hash = self.fork_hash(genesis, number, time);
                ForkConfig::new((0, spec), self.blob_params(time), hash, deposit)
            }
        };
        let next = times.iter().find(|&&t| t > time).map(|&t| at_time(t));
        let last = times.last().filter(|&&t| t > time).map(|&t| at_time(t));
        ForkConfigs { current, next, last }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::b256;

    /// EIP-2124's mainnet fork hashes (its own table, and geth's tests
    /// for the later forks).
    #[test]
    fn test_mainnet_fork_hashes() {
        let spec = EthSpec::mainnet();
        let genesis =
            (b256!("d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"), 0);
        let at = |number: u64, time: u64| {
            alloy_primitives::hex::encode(spec.fork_hash(genesis, number, time))
        };
        assert_eq!(at(0, 0), "fc64ec04");
        assert_eq!(at(1_150_000, 0), "97c2c34c");
        assert_eq!(at(1_920_000, 0), "91d1f948");
        assert_eq!(at(4_370_000, 0), "a00bc324");
        assert_eq!(at(12_965_000, 0), "b715077d");
        assert_eq!(at(15_050_000, 0), "f0afd0e3");
        assert_eq!(at(20_000_000, 1_681_338_455), "dce96c2d");
        assert_eq!(at(20_000_000, 1_710_338_135), "9f3d2254");
        assert_eq!(at(22_000_000, 1_746_612_311), "c376cf8b");
    }

    #[test]
    fn test_the_forks_around_a_head() {
        let spec = EthSpec::mainnet();
        let genesis = (B256::repeat_byte(7), 0);
        // A head after Cancun, before Prague: Cancun is current, Prague next.
        let configs = spec.fork_configs(genesis, (20_000_000, 1_720_000_000, true));
        assert_eq!(configs.current.activation_time, 1_710_338_135);
        assert_eq!(configs.current.spec, SpecId::CANCUN);
        assert!(configs.current.precompiles.iter().any(|(n, _)| *n == "KZG_POINT_EVALUATION"));
        assert!(!configs.current.precompiles.iter().any(|(n, _)| n.starts_with("BLS12")));
        let next = configs.next.expect("Prague is scheduled");
        assert_eq!((next.activation_time, next.spec), (1_746_612_311, SpecId::PRAGUE));
        assert_eq!(next.system_contracts.len(), 5);
        let last = configs.last.expect("a last fork");
        assert!(last.activation_time >= next.activation_time);
        // Before the merge: the block fork in force, from genesis on.
        let old = spec.fork_configs(genesis, (5_000_000, 1_500_000_000, false));
        assert_eq!((old.current.activation_time, old.current.spec), (0, SpecId::BYZANTIUM));
        assert_eq!(old.current.fork_hash, spec.fork_hash(genesis, 5_000_000, 1_500_000_000));
        assert_eq!(old.current.blob, None);
    }
}
