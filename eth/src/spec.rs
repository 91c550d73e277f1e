//! A chain's fork schedule, read from the `config` object of a geth genesis file.
//!
//! Mainnet's values follow go-ethereum's `params.MainnetChainConfig`.

use alloy_eips::{eip7594, eip7840, eip7840::BlobParams};
use alloy_genesis::ChainConfig;
use alloy_primitives::{Address, U256, address, uint};
use std::collections::BTreeMap;

use lanes_evm_adapter::SpecId;

/// The address of the beacon deposit contract on Ethereum mainnet.
pub const MAINNET_DEPOSIT_CONTRACT: Address =
    address!("0x00000000219ab540356cBB839Cbe05303d7705Fa");

/// The terminal total difficulty of Ethereum mainnet.
pub const MAINNET_TERMINAL_TOTAL_DIFFICULTY: U256 = uint!(58_750_000_000_000_000_000_000_U256);

/// A chain's fork schedule.
///
/// It wraps the geth genesis `config` and answers which rules apply to a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthSpec {
    config: ChainConfig,
}

impl EthSpec {
    /// Builds the schedule from a geth genesis `config`.
    pub const fn new(config: ChainConfig) -> Self {
        Self { config }
    }

    /// The schedule of Ethereum mainnet.
    ///
    /// It includes the BPO1 and BPO2 blob forks and their blob schedule, as geth does.
    pub fn mainnet() -> Self {
        let mut blob_schedule = BTreeMap::new();
        blob_schedule.insert("cancun".to_string(), BlobParams::cancun());
        blob_schedule.insert("prague".to_string(), BlobParams::prague());
        blob_schedule.insert("bpo1".to_string(), BlobParams::bpo1());
        blob_schedule.insert("bpo2".to_string(), BlobParams::bpo2());
        Self::new(ChainConfig {
            chain_id: 1,
            homestead_block: Some(1_150_000),
            dao_fork_block: Some(1_920_000),
            dao_fork_support: true,
            eip150_block: Some(2_463_000),
            eip155_block: Some(2_675_000),
            eip158_block: Some(2_675_000),
            byzantium_block: Some(4_370_000),
            constantinople_block: Some(7_280_000),
            petersburg_block: Some(7_280_000),
            istanbul_block: Some(9_069_000),
            muir_glacier_block: Some(9_200_000),
            berlin_block: Some(12_244_000),
            london_block: Some(12_965_000),
            arrow_glacier_block: Some(13_773_000),
            gray_glacier_block: Some(15_050_000),
            terminal_total_difficulty: Some(MAINNET_TERMINAL_TOTAL_DIFFICULTY),
            terminal_total_difficulty_passed: true,
            shanghai_time: Some(1_681_338_455),
            cancun_time: Some(1_710_338_135),
            prague_time: Some(1_746_612_311),
            osaka_time: Some(1_764_798_551),
            bpo1_time: Some(1_765_290_071),
            bpo2_time: Some(1_767_747_671),
            deposit_contract_address: Some(MAINNET_DEPOSIT_CONTRACT),
            blob_schedule,
            ..ChainConfig::default()
        })
    }

    /// The chain id.
    pub const fn chain_id(&self) -> u64 {
        self.config.chain_id
    }

    /// The geth genesis `config` this schedule was built from.
    pub const fn config(&self) -> &ChainConfig {
        &self.config
    }

    /// Whether the block-number fork at `fork` is active at block `number`.
    fn block_active(fork: Option<u64>, number: u64) -> bool {
        fork.is_some_and(|block| block <= number)
    }

    /// Whether the time fork at `fork` is active at `timestamp`.
    fn time_active(fork: Option<u64>, timestamp: u64) -> bool {
        fork.is_some_and(|time| time <= timestamp)
    }

    /// Whether London is active at block `number`.
    pub fn is_london(&self, number: u64) -> bool {
        Self::block_active(self.config.london_block, number)
    }

    /// Whether `number` is the block where London activates.
    ///
    /// That block gets the initial base fee and may double the gas limit.
    pub fn is_london_transition(&self, number: u64) -> bool {
        self.config.london_block == Some(number)
    }

    /// Whether any time fork (Shanghai and later) is scheduled at or before `timestamp`.
    ///
    /// Time forks need proof of stake, so such a block must be post-merge.
    pub fn is_time_fork_reached(&self, timestamp: u64) -> bool {
        let c = &self.config;
        [c.shanghai_time, c.cancun_time, c.prague_time, c.osaka_time, c.amsterdam_time]
            .into_iter()
            .any(|fork| Self::time_active(fork, timestamp))
    }

    /// Whether Amsterdam is scheduled at or before `timestamp`: its blocks
    /// commit to their access lists (EIP-7928).
    pub fn is_amsterdam_reached(&self, timestamp: u64) -> bool {
        Self::time_active(self.config.amsterdam_time, timestamp)
    }

    /// The revm fork of a block.
    ///
    /// `merged` says the block is after the merge (see [`Self::is_merged_by_difficulty`]); it
    /// gives at least [`SpecId::MERGE`], and
    /// only then do the time forks (Shanghai, Cancun, Prague, Osaka) apply.
    ///
    /// revm has no Constantinople spec (EIP-1283 without its Petersburg removal), so
    /// Constantinople maps to [`SpecId::PETERSBURG`]; on mainnet both start at the same block.
    /// The Muir, Arrow and Gray Glacier forks only move the difficulty bomb, so they keep
    /// the spec of the fork before them.
    pub fn spec_at(&self, number: u64, timestamp: u64, merged: bool) -> SpecId {
        let c = &self.config;
        if merged {
            let time = |fork| Self::time_active(fork, timestamp);
            return if time(c.amsterdam_time) {
                SpecId::AMSTERDAM
            } else if time(c.osaka_time) {
                SpecId::OSAKA
            } else if time(c.prague_time) {
                SpecId::PRAGUE
            } else if time(c.cancun_time) {
                SpecId::CANCUN
            } else if time(c.shanghai_time) {
                SpecId::SHANGHAI
            } else {
                SpecId::MERGE
            };
        }
        let block = |fork| Self::block_active(fork, number);
        if block(c.london_block) {
            SpecId::LONDON
        } else if block(c.berlin_block) {
            SpecId::BERLIN
        } else if block(c.istanbul_block) {
            SpecId::ISTANBUL
        } else if block(c.petersburg_block) || block(c.constantinople_block) {
            SpecId::PETERSBURG
        } else if block(c.byzantium_block) {
            SpecId::BYZANTIUM
        } else if block(c.eip158_block) {
            SpecId::SPURIOUS_DRAGON
        } else if block(c.eip150_block) {
            SpecId::TANGERINE
        } else if block(c.homestead_block) {
            SpecId::HOMESTEAD
        } else {
            SpecId::FRONTIER
        }
    }

    /// Whether block `number` runs under Constantinople without Petersburg:
    /// EIP-1283's net gas metering for SSTORE, which Petersburg removed.
    pub fn eip1283_at(&self, number: u64) -> bool {
        let c = &self.config;
        let block = |fork| Self::block_active(fork, number);
        self.spec_at(number, 0, false) == SpecId::PETERSBURG
            && block(c.constantinople_block)
            && !block(c.petersburg_block)
    }

    /// Whether a block is post-merge, judged by its parent's total difficulty.
    ///
    /// True when a terminal total difficulty is configured and the parent's total
    /// difficulty has reached it: the parent is then the terminal proof-of-work block or
    /// later. A terminal total difficulty of 0 makes every block post-merge. Neither
    /// `terminal_total_difficulty_passed` nor `merge_netsplit_block` is used: the first does
    /// not say where the merge happened, and geth's test configs set the second to 0 on
    /// chains that merge later.
    pub fn is_merged_by_difficulty(&self, parent_total_difficulty: U256) -> bool {
        self.config.terminal_total_difficulty.is_some_and(|ttd| parent_total_difficulty >= ttd)
    }

    /// Whether a block whose header carries `difficulty` is after the merge:
    /// a post-merge header's difficulty is 0, on a chain with a terminal
    /// total difficulty.
    pub fn is_merged_block(&self, difficulty: U256) -> bool {
        difficulty.is_zero() && self.config.terminal_total_difficulty.is_some()
    }

    /// Whether the chain is proof of stake from genesis (terminal total difficulty 0).
    pub fn merged_at_genesis(&self) -> bool {
        self.config.terminal_total_difficulty == Some(U256::ZERO)
    }

    /// The blob parameters in force at `timestamp`, or `None` before Cancun.
    ///
    /// Each fork's entry of the genesis `blobSchedule` wins (keys such as `cancun`,
    /// `prague`, `osaka`, `bpo1`, matched case-insensitively). Without an entry, Cancun and
    /// Prague use alloy's defaults and Osaka reuses the Prague values, as geth does. A BPO
    /// fork applies only when the config has both its time and its schedule entry. From
    /// Osaka on, the EIP-7918 blob base cost and the EIP-7594 per-transaction blob limit
    /// apply; before Osaka the blob base cost is 0, which turns the EIP-7918 rule off.
    pub fn blob_params(&self, timestamp: u64) -> Option<BlobParams> {
        let c = &self.config;
        let time = |fork| Self::time_active(fork, timestamp);
        if !time(c.cancun_time) {
            return None;
        }
        let pre_osaka = |params: BlobParams| params.with_blob_base_cost(0);
        let post_osaka = |params: BlobParams| {
            params
                .with_blob_base_cost(eip7840::BLOB_BASE_COST)
                .with_max_blobs_per_tx(eip7594::MAX_BLOBS_PER_TX_FUSAKA)
        };
        let bpos = [
            (c.bpo5_time, "bpo5"),
            (c.bpo4_time, "bpo4"),
            (c.bpo3_time, "bpo3"),
            (c.bpo2_time, "bpo2"),
            (c.bpo1_time, "bpo1"),
        ];
        if time(c.osaka_time) {
            for (fork, name) in bpos {
                if let Some(params) = self.scheduled(name).filter(|_| time(fork)) {
                    return Some(post_osaka(params));
                }
            }
        }
        let prague = self.scheduled("prague").unwrap_or_else(BlobParams::prague);
        if time(c.osaka_time) {
            return Some(post_osaka(self.scheduled("osaka").unwrap_or(prague)));
        }
        if time(c.prague_time) {
            return Some(pre_osaka(prague));
        }
        Some(pre_osaka(self.scheduled("cancun").unwrap_or_else(BlobParams::cancun)))
    }

    /// The genesis `blobSchedule` entry of a fork.
    fn scheduled(&self, fork: &str) -> Option<BlobParams> {
        self.config
            .blob_schedule
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(fork))
            .map(|(_, params)| *params)
    }

    /// The DAO fork block, only when the chain supports the DAO fork.
    pub fn dao_fork_block(&self) -> Option<u64> {
        self.config.dao_fork_block.filter(|_| self.config.dao_fork_support)
    }

    /// The beacon deposit contract: the configured one, else mainnet's when the chain id is 1.
    pub fn deposit_contract(&self) -> Option<Address> {
        self.config
            .deposit_contract_address
            .or_else(|| (self.config.chain_id == 1).then_some(MAINNET_DEPOSIT_CONTRACT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ChainConfig {
        ChainConfig::default()
    }

    #[test]
    fn test_mainnet_schedule() {
        // Values of go-ethereum's params.MainnetChainConfig.
        let spec = EthSpec::mainnet();
        let c = spec.config();
        assert_eq!(spec.chain_id(), 1);
        assert_eq!(c.homestead_block, Some(1_150_000));
        assert_eq!((c.dao_fork_block, c.dao_fork_support), (Some(1_920_000), true));
        assert_eq!(c.eip150_block, Some(2_463_000));
        assert_eq!((c.eip155_block, c.eip158_block), (Some(2_675_000), Some(2_675_000)));
        assert_eq!(c.byzantium_block, Some(4_370_000));
        assert_eq!(
            (c.constantinople_block, c.petersburg_block),
            (Some(7_280_000), Some(7_280_000))
        );
        assert_eq!(c.istanbul_block, Some(9_069_000));
        assert_eq!(c.muir_glacier_block, Some(9_200_000));
        assert_eq!(c.berlin_block, Some(12_244_000));
        assert_eq!(c.london_block, Some(12_965_000));
        assert_eq!(c.arrow_glacier_block, Some(13_773_000));
        assert_eq!(c.gray_glacier_block, Some(15_050_000));
        let ttd: U256 = "58750000000000000000000".parse().unwrap();
        assert_eq!(c.terminal_total_difficulty, Some(ttd));
        assert_eq!(c.shanghai_time, Some(1_681_338_455));
        assert_eq!(c.cancun_time, Some(1_710_338_135));
        assert_eq!(c.prague_time, Some(1_746_612_311));
        assert_eq!(c.osaka_time, Some(1_764_798_551));
        assert_eq!((c.bpo1_time, c.bpo2_time), (Some(1_765_290_071), Some(1_767_747_671)));
        assert_eq!(spec.deposit_contract(), Some(MAINNET_DEPOSIT_CONTRACT));
        assert_eq!(spec.dao_fork_block(), Some(1_920_000));
    }

    #[test]
    fn test_mainnet_spec_at_fork_boundaries() {
        let spec = EthSpec::mainnet();
        let pow = |number| spec.spec_at(number, 0, false);
        assert_eq!(pow(0), SpecId::FRONTIER);
        assert_eq!(pow(1_149_999), SpecId::FRONTIER);
        assert_eq!(pow(1_150_000), SpecId::HOMESTEAD);
        assert_eq!(pow(1_920_000), SpecId::HOMESTEAD);
        assert_eq!(pow(2_463_000), SpecId::TANGERINE);
        assert_eq!(pow(2_675_000), SpecId::SPURIOUS_DRAGON);
        assert_eq!(pow(4_370_000), SpecId::BYZANTIUM);
        assert_eq!(pow(7_279_999), SpecId::BYZANTIUM);
        assert_eq!(pow(7_280_000), SpecId::PETERSBURG);
        assert_eq!(pow(9_069_000), SpecId::ISTANBUL);
        assert_eq!(pow(9_200_000), SpecId::ISTANBUL);
        assert_eq!(pow(12_244_000), SpecId::BERLIN);
        assert_eq!(pow(12_965_000), SpecId::LONDON);
        assert_eq!(pow(13_773_000), SpecId::LONDON);
        assert_eq!(pow(15_537_393), SpecId::LONDON);
        // The first Merge, Shanghai and Cancun blocks (timestamps from their mainnet
        // headers), then the fork times.
        let pos = |number, timestamp| spec.spec_at(number, timestamp, true);
        assert_eq!(pos(15_537_394, 1_663_224_179), SpecId::MERGE);
        assert_eq!(pos(17_034_869, 1_681_338_454), SpecId::MERGE);
        assert_eq!(pos(17_034_870, 1_681_338_479), SpecId::SHANGHAI);
        assert_eq!(pos(19_426_587, 1_710_338_135), SpecId::CANCUN);
        assert_eq!(pos(22_500_000, 1_746_612_310), SpecId::CANCUN);
        assert_eq!(pos(22_500_000, 1_746_612_311), SpecId::PRAGUE);
        assert_eq!(pos(24_000_000, 1_764_798_551), SpecId::OSAKA);
        // Time forks need the merge.
        assert_eq!(spec.spec_at(20_000_000, 1_764_798_551, false), SpecId::LONDON);
    }

    #[test]
    fn test_constantinople_before_petersburg_maps_to_petersburg() {
        let spec = EthSpec::new(ChainConfig {
            byzantium_block: Some(0),
            constantinople_block: Some(5),
            petersburg_block: Some(10),
            ..config()
        });
        assert_eq!(spec.spec_at(4, 0, false), SpecId::BYZANTIUM);
        assert_eq!(spec.spec_at(5, 0, false), SpecId::PETERSBURG);
        assert_eq!(spec.spec_at(10, 0, false), SpecId::PETERSBURG);
    }

    #[test]
    fn test_merged_by_difficulty() {
        let spec = EthSpec::mainnet();
        // Mainnet's final total difficulty, reached by block 15_537_393 (difficulty
        // 11_055_787_484_078_698): its child 15_537_394 is the first post-merge block.
        let final_td: U256 = "58750003716598352816469".parse().unwrap();
        let difficulty = U256::from(11_055_787_484_078_698_u64);
        assert!(spec.is_merged_by_difficulty(final_td));
        assert!(!spec.is_merged_by_difficulty(final_td - difficulty));
        assert!(spec.is_merged_by_difficulty(MAINNET_TERMINAL_TOTAL_DIFFICULTY));
        assert!(!spec.is_merged_by_difficulty(MAINNET_TERMINAL_TOTAL_DIFFICULTY - U256::from(1)));
        assert!(!spec.merged_at_genesis());

        let no_ttd = EthSpec::new(config());
        assert!(!no_ttd.is_merged_by_difficulty(U256::MAX));
        let pos = EthSpec::new(ChainConfig {
            terminal_total_difficulty: Some(U256::ZERO),
            terminal_total_difficulty_passed: true,
            ..config()
        });
        assert!(pos.merged_at_genesis());
        assert!(pos.is_merged_by_difficulty(U256::ZERO));
    }

    #[test]
    fn test_mainnet_blob_params() {
        // Targets, maxima and update fractions of geth's Default*BlobConfig.
        let spec = EthSpec::mainnet();
        let at = |timestamp| {
            spec.blob_params(timestamp).map(|p| {
                (p.target_blob_count, p.max_blob_count, p.update_fraction, p.blob_base_cost)
            })
        };
        assert_eq!(at(1_710_338_134), None);
        assert_eq!(at(1_710_338_135), Some((3, 6, 3_338_477, 0)));
        assert_eq!(at(1_746_612_311), Some((6, 9, 5_007_716, 0)));
        assert_eq!(at(1_764_798_551), Some((6, 9, 5_007_716, 8192)));
        assert_eq!(at(1_765_290_071), Some((10, 15, 8_346_193, 8192)));
        assert_eq!(at(1_767_747_671), Some((14, 21, 11_684_671, 8192)));
        assert_eq!(at(u64::MAX), Some((14, 21, 11_684_671, 8192)));
    }

    #[test]
    fn test_blob_schedule_from_config() {
        let custom = |target, max| BlobParams {
            target_blob_count: target,
            max_blob_count: max,
            update_fraction: 1_000_000,
            min_blob_fee: 1,
            max_blobs_per_tx: max,
            blob_base_cost: 0,
        };
        let mut blob_schedule = BTreeMap::new();
        blob_schedule.insert("Prague".to_string(), custom(4, 8));
        blob_schedule.insert("bpo2".to_string(), custom(20, 30));
        blob_schedule.insert("bpo3".to_string(), custom(40, 60));
        let spec = EthSpec::new(ChainConfig {
            cancun_time: Some(10),
            prague_time: Some(20),
            osaka_time: Some(30),
            bpo1_time: Some(40),
            bpo2_time: Some(50),
            blob_schedule,
            ..config()
        });
        let counts = |t| spec.blob_params(t).map(|p| (p.target_blob_count, p.max_blob_count));
        assert_eq!(counts(9), None);
        assert_eq!(counts(10), Some((3, 6)));
        assert_eq!(counts(20), Some((4, 8)));
        // Osaka reuses Prague's values; BPO1 has no schedule entry; BPO3 has no time.
        assert_eq!(counts(30), Some((4, 8)));
        assert_eq!(counts(45), Some((4, 8)));
        assert_eq!(counts(50), Some((20, 30)));
        assert_eq!(counts(u64::MAX), Some((20, 30)));
        let osaka = spec.blob_params(30).unwrap();
        assert_eq!(osaka.blob_base_cost, eip7840::BLOB_BASE_COST);
        assert_eq!(osaka.max_blobs_per_tx, eip7594::MAX_BLOBS_PER_TX_FUSAKA);
    }

    #[test]
    fn test_dao_fork_block_and_deposit_contract() {
        let opposed = EthSpec::new(ChainConfig { dao_fork_block: Some(5), ..config() });
        assert_eq!(opposed.dao_fork_block(), None);
        let other = EthSpec::new(ChainConfig { chain_id: 5, ..config() });
        assert_eq!(other.deposit_contract(), None);
        assert_eq!(EthSpec::new(config()).deposit_contract(), Some(MAINNET_DEPOSIT_CONTRACT));
    }

    #[test]
    fn test_london_transition() {
        let spec = EthSpec::mainnet();
        assert!(spec.is_london_transition(12_965_000));
        assert!(!spec.is_london_transition(12_965_001));
        assert!(!spec.is_london(12_964_999));
        assert!(spec.is_london(12_965_000));
    }
}
