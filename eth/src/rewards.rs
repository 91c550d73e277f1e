//! Proof-of-work block and ommer rewards.
//!
//! They follow go-ethereum's ethash `accumulateRewards`.

use alloy_consensus::Header;
use alloy_primitives::{Address, U256};

use super::spec::EthSpec;

/// One ether in wei.
const ETHER: u128 = 1_000_000_000_000_000_000;

/// The block reward of Frontier and Homestead.
pub const FRONTIER_BLOCK_REWARD: u128 = 5 * ETHER;
/// The block reward from Byzantium on (EIP-649).
pub const BYZANTIUM_BLOCK_REWARD: u128 = 3 * ETHER;
/// The block reward from Constantinople on (EIP-1234).
pub const CONSTANTINOPLE_BLOCK_REWARD: u128 = 2 * ETHER;

/// The base block reward of a proof-of-work block at `number`.
pub fn base_block_reward(spec: &EthSpec, number: u64) -> U256 {
    let config = spec.config();
    let reward = if config.is_constantinople_active_at_block(number) {
        CONSTANTINOPLE_BLOCK_REWARD
    } else if config.is_byzantium_active_at_block(number) {
        BYZANTIUM_BLOCK_REWARD
    } else {
        FRONTIER_BLOCK_REWARD
    };
    U256::from(reward)
}

/// The balance increases a block's rewards make: the miner first, then each ommer's
/// beneficiary in order. Empty after the merge.
///
/// The miner gets the base reward plus 1/32 of it per ommer. An ommer's beneficiary gets
/// `(ommer.number + 8 - header.number) * base / 8`, or nothing for an ommer deeper than
/// the rules allow. Entries are not merged: the caller adds each one.
pub fn block_rewards(
    spec: &EthSpec,
    header: &Header,
    ommers: &[Header],
    merged: bool,
) -> Vec<(Address, U256)> {
    if merged {
        return Vec::new();
    }
    let base = base_block_reward(spec, header.number);
    let inclusion = base / U256::from(32);
    let ommer_count = U256::from(ommers.len());
    let miner = base.saturating_add(inclusion.saturating_mul(ommer_count));
    let mut rewards = Vec::with_capacity(ommers.len() + 1);
    rewards.push((header.beneficiary, miner));
    for ommer in ommers {
        let eighths = U256::from(ommer.number)
            .saturating_add(U256::from(8))
            .saturating_sub(U256::from(header.number));
        rewards.push((ommer.beneficiary, eighths.saturating_mul(base) / U256::from(8)));
    }
    rewards
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_genesis::ChainConfig;
    use alloy_primitives::address;
    use std::collections::HashMap;

    #[test]
    fn test_reward_eras_on_mainnet() {
        let spec = EthSpec::mainnet();
        let reward = |number| {
            let header = Header { number, ..Default::default() };
            block_rewards(&spec, &header, &[], false)[0].1
        };
        let ether = U256::from(ETHER);
        assert_eq!(reward(1), ether * U256::from(5));
        assert_eq!(reward(4_369_999), ether * U256::from(5));
        assert_eq!(reward(4_370_000), ether * U256::from(3));
        assert_eq!(reward(7_279_999), ether * U256::from(3));
        assert_eq!(reward(7_280_000), ether * U256::from(2));
        let header = Header { number: 15_537_394, ..Default::default() };
        assert!(block_rewards(&spec, &header, &[], true).is_empty());
    }

    #[test]
    fn test_london_uncles_balances() {
        // ethereum/tests TransitionTests/bcBerlinToLondon/londonUncles.json: eleven empty
        // blocks mined by 0x8888…9db1, ommers of depth 1 to 6; the post-state balances
        // are the rewards alone.
        let spec = EthSpec::new(ChainConfig {
            byzantium_block: Some(0),
            constantinople_block: Some(0),
            london_block: Some(5),
            ..ChainConfig::default()
        });
        let miner = address!("0x8888f1f195afa192cfee860698584c030f4c9db1");
        let ommers: [(u64, u64, u8); 7] =
            [(5, 4, 1), (6, 4, 2), (7, 4, 3), (8, 4, 4), (9, 4, 5), (10, 4, 6), (11, 5, 8)];
        let mut balances: HashMap<Address, U256> = HashMap::new();
        for number in 1..=11 {
            let header = Header { number, beneficiary: miner, ..Default::default() };
            let included: Vec<Header> = ommers
                .iter()
                .filter(|(block, _, _)| *block == number)
                .map(|&(_, ommer, who)| Header {
                    number: ommer,
                    beneficiary: Address::with_last_byte(who),
                    ..Default::default()
                })
                .collect();
            for (address, reward) in block_rewards(&spec, &header, &included, false) {
                *balances.entry(address).or_default() += reward;
            }
        }
        let expected: [(Address, u128); 8] = [
            (Address::with_last_byte(1), 0x18493fba64ef0000),
            (Address::with_last_byte(2), 0x14d1120d7b160000),
            (Address::with_last_byte(3), 0x1158e460913d0000),
            (Address::with_last_byte(4), 0x0de0b6b3a7640000),
            (Address::with_last_byte(5), 0x0a688906bd8b0000),
            (Address::with_last_byte(6), 0x06f05b59d3b20000),
            (Address::with_last_byte(8), 0x06f05b59d3b20000),
            (miner, 0x013762035efbd3c000),
        ];
        assert_eq!(balances.len(), expected.len());
        for (address, balance) in expected {
            assert_eq!(balances[&address], U256::from(balance), "{address}");
        }
    }

    #[test]
    fn test_reward_order_and_depth() {
        let spec = EthSpec::mainnet();
        let header =
            Header { number: 100, beneficiary: Address::repeat_byte(1), ..Default::default() };
        let ommer = |number, who| Header {
            number,
            beneficiary: Address::repeat_byte(who),
            ..Default::default()
        };
        let rewards = block_rewards(&spec, &header, &[ommer(99, 2), ommer(93, 3)], false);
        let five = U256::from(FRONTIER_BLOCK_REWARD);
        assert_eq!(rewards[0], (Address::repeat_byte(1), five + five / U256::from(16)));
        assert_eq!(rewards[1], (Address::repeat_byte(2), five * U256::from(7) / U256::from(8)));
        assert_eq!(rewards[2], (Address::repeat_byte(3), five / U256::from(8)));
        // An ommer deeper than the rules allow earns nothing instead of wrapping.
        let deep = block_rewards(&spec, &header, &[ommer(1, 4)], false);
        assert_eq!(deep[1].1, U256::ZERO);
    }
}
