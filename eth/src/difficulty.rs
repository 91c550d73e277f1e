//! The ethash difficulty of a proof-of-work block.
//!
//! It follows go-ethereum's `CalcDifficulty` in `consensus/ethash/consensus.go`.

use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, Header};
use alloy_primitives::U256;

use super::spec::EthSpec;

/// The least difficulty a block may have, before the bomb is added.
pub const MINIMUM_DIFFICULTY: u64 = 131_072;

/// The parent's difficulty is adjusted in steps of itself divided by this.
const DIFFICULTY_BOUND_DIVISOR: u64 = 2048;

/// Frontier raises the difficulty when the block time is below this many seconds.
const FRONTIER_DURATION_LIMIT: i128 = 13;

/// The bomb doubles every this many (fake) blocks.
const EXP_DIFF_PERIOD: u64 = 100_000;

/// The bomb delay of Byzantium (EIP-649).
const BYZANTIUM_BOMB_DELAY: u64 = 3_000_000;
/// The bomb delay of Constantinople (EIP-1234).
const CONSTANTINOPLE_BOMB_DELAY: u64 = 5_000_000;
/// The bomb delay of Muir Glacier (EIP-2384).
const MUIR_GLACIER_BOMB_DELAY: u64 = 9_000_000;
/// The bomb delay of London (EIP-3554).
const LONDON_BOMB_DELAY: u64 = 9_700_000;
/// The bomb delay of Arrow Glacier (EIP-4345).
const ARROW_GLACIER_BOMB_DELAY: u64 = 10_700_000;
/// The bomb delay of Gray Glacier (EIP-5133).
const GRAY_GLACIER_BOMB_DELAY: u64 = 11_400_000;

/// The difficulty a block at `timestamp` on top of `parent` must have.
///
/// The rules are those of the block (parent number + 1): Frontier, Homestead (EIP-2),
/// Byzantium (EIP-100 counts the parent's ommers) and later forks, which only move the
/// bomb. The result saturates at `U256::MAX` for inputs no valid chain has.
pub fn calc_difficulty(spec: &EthSpec, parent: &Header, timestamp: u64) -> U256 {
    let config = spec.config();
    let next = parent.number.saturating_add(1);
    let delay = if config.is_gray_glacier_active_at_block(next) {
        GRAY_GLACIER_BOMB_DELAY
    } else if config.is_arrow_glacier_active_at_block(next) {
        ARROW_GLACIER_BOMB_DELAY
    } else if config.is_london_active_at_block(next) {
        LONDON_BOMB_DELAY
    } else if config.is_muir_glacier_active_at_block(next) {
        MUIR_GLACIER_BOMB_DELAY
    } else if config.is_constantinople_active_at_block(next) {
        CONSTANTINOPLE_BOMB_DELAY
    } else if config.is_byzantium_active_at_block(next) {
        BYZANTIUM_BOMB_DELAY
    } else if config.is_homestead_active_at_block(next) {
        return homestead(parent, timestamp);
    } else {
        return frontier(parent, timestamp);
    };
    byzantium(parent, timestamp, delay)
}

/// `parent_diff + parent_diff / 2048 * factor`, at least [`MINIMUM_DIFFICULTY`].
fn adjust(parent_difficulty: U256, factor: i128) -> U256 {
    let step = parent_difficulty / U256::from(DIFFICULTY_BOUND_DIVISOR);
    let change = step.saturating_mul(U256::from(factor.unsigned_abs()));
    let difficulty = if factor >= 0 {
        parent_difficulty.saturating_add(change)
    } else {
        parent_difficulty.saturating_sub(change)
    };
    difficulty.max(U256::from(MINIMUM_DIFFICULTY))
}

/// Adds the bomb `2^(period - 2)` when the period is above 1.
fn add_bomb(difficulty: U256, period: u64) -> U256 {
    if period <= 1 {
        return difficulty;
    }
    let bomb = usize::try_from(period - 2)
        .ok()
        .and_then(|exponent| U256::from(1).checked_shl(exponent))
        .unwrap_or(U256::MAX);
    difficulty.saturating_add(bomb)
}

/// `timestamp - parent.timestamp` floored-divided by `divisor`, as geth's `big.Int.Div`.
fn time_steps(parent: &Header, timestamp: u64, divisor: i128) -> i128 {
    (i128::from(timestamp) - i128::from(parent.timestamp)).div_euclid(divisor)
}

/// Byzantium and later (EIP-100): the factor is
/// `max((2 if the parent has ommers else 1) - time_delta / 9, -99)`, and the bomb counts
/// from a fake block number `parent.number - (delay - 1)`.
fn byzantium(parent: &Header, timestamp: u64, bomb_delay: u64) -> U256 {
    let uncles = if parent.ommers_hash == EMPTY_OMMER_ROOT_HASH { 1 } else { 2 };
    let factor = (uncles - time_steps(parent, timestamp, 9)).max(-99);
    let difficulty = adjust(parent.difficulty, factor);
    // The delay is counted from the parent, one below the block.
    let fake_number = parent.number.saturating_sub(bomb_delay - 1);
    add_bomb(difficulty, fake_number / EXP_DIFF_PERIOD)
}

/// Homestead (EIP-2): the factor is `max(1 - time_delta / 10, -99)`.
fn homestead(parent: &Header, timestamp: u64) -> U256 {
    let factor = (1 - time_steps(parent, timestamp, 10)).max(-99);
    let difficulty = adjust(parent.difficulty, factor);
    add_bomb(difficulty, parent.number.saturating_add(1) / EXP_DIFF_PERIOD)
}

/// Frontier: up by 1/2048 when the block came within 13 seconds, down otherwise.
fn frontier(parent: &Header, timestamp: u64) -> U256 {
    let delta = i128::from(timestamp) - i128::from(parent.timestamp);
    let factor = if delta < FRONTIER_DURATION_LIMIT { 1 } else { -1 };
    let difficulty = adjust(parent.difficulty, factor);
    add_bomb(difficulty, parent.number.saturating_add(1) / EXP_DIFF_PERIOD)
}

#[cfg(test)]
mod tests {
    use super::super::header::mainnet_blocks::{london_block, london_parent};
    use super::*;
    use alloy_genesis::ChainConfig;
    use alloy_primitives::{B256, b256};

    /// (block number, parent time, time, parent has ommers, parent difficulty, difficulty).
    type Vector = (u64, u64, u64, bool, &'static str, &'static str);

    fn check(spec: &EthSpec, vectors: &[Vector]) {
        for &(number, parent_time, time, ommers, parent_difficulty, expected) in vectors {
            let parent = Header {
                number: number - 1,
                timestamp: parent_time,
                difficulty: parent_difficulty.parse().unwrap(),
                ommers_hash: if ommers { B256::repeat_byte(1) } else { EMPTY_OMMER_ROOT_HASH },
                ..Default::default()
            };
            let got = calc_difficulty(spec, &parent, time);
            assert_eq!(got, expected.parse::<U256>().unwrap(), "block {number}");
        }
    }

    fn from_genesis(edit: fn(&mut ChainConfig)) -> EthSpec {
        let mut config = ChainConfig::default();
        edit(&mut config);
        EthSpec::new(config)
    }

    // The vectors below are from ethereum/tests DifficultyTests (dfFrontier, dfHomestead,
    // dfByzantium, dfConstantinople, dfEIP2384, dfArrowGlacier, dfGrayGlacier), each run
    // with its fork active from genesis, as go-ethereum's difficulty test does.

    #[test]
    fn test_frontier() {
        check(
            &from_genesis(|_| {}),
            &[
                // DifficultyTest148: Frontier ignores the parent's ommers.
                (
                    100_000,
                    15243189868,
                    15243189870,
                    true,
                    "3277374818257264948",
                    "3278975098930242128",
                ),
                // DifficultyTest1029: slower than 13 seconds, bomb 2^47.
                (
                    4_900_000,
                    20667348993,
                    20667349013,
                    false,
                    "2375720777579979581",
                    "2374701495157407185",
                ),
            ],
        );
    }

    #[test]
    fn test_homestead() {
        check(
            &from_genesis(|c| c.homestead_block = Some(0)),
            &[
                // DifficultyTest148.
                (
                    100_000,
                    23609910274,
                    23609910276,
                    true,
                    "5368337297772968343",
                    "5370958556219146550",
                ),
                // DifficultyTest2157: 44 seconds, factor 1 - 4.
                (100_000, 621548419, 621548463, false, "320738052423260201", "320268221291780816"),
                // DifficultyTest1029: bomb 2^47.
                (
                    4_900_000,
                    10802414918,
                    10802414938,
                    false,
                    "7811095506572816058",
                    "7807422232583352629",
                ),
            ],
        );
    }

    #[test]
    fn test_byzantium() {
        check(
            &from_genesis(|c| c.byzantium_block = Some(0)),
            &[
                // DifficultyTest148: the parent's ommers raise the factor to 2.
                (
                    100_000,
                    15971196010,
                    15971196012,
                    true,
                    "5746703220977354684",
                    "5752315235841590380",
                ),
                // DifficultyTest1029: the bomb delayed by 3_000_000 blocks, 2^17.
                (
                    4_900_000,
                    31443042621,
                    31443042641,
                    false,
                    "8215297295024091582",
                    "8211285919391886672",
                ),
            ],
        );
    }

    #[test]
    fn test_constantinople() {
        check(
            &from_genesis(|c| c.constantinople_block = Some(0)),
            &[
                // DifficultyTest148.
                (
                    100_000,
                    1771494149,
                    1771494151,
                    true,
                    "2768135710078058161",
                    "2770838967607431263",
                ),
                // DifficultyTest1029: the bomb is delayed past block 4_900_000.
                (
                    4_900_000,
                    10809875780,
                    10809875800,
                    false,
                    "4590942671450725216",
                    "4588701000224430917",
                ),
            ],
        );
    }

    #[test]
    fn test_muir_glacier() {
        check(
            &from_genesis(|c| c.muir_glacier_block = Some(0)),
            &[
                // difficultyEIP2384_random_to20M TestHeight10887982.
                (
                    10_887_982,
                    2917904766,
                    2917904826,
                    false,
                    "7024536831948441036",
                    "7007387083823632452",
                ),
                // TestHeight19999658: ommers, and a bomb of 2^107.
                (
                    19_999_658,
                    2216826643,
                    2216826682,
                    true,
                    "6197390334091776761",
                    "162259276829219554729773103928389",
                ),
            ],
        );
    }

    #[test]
    fn test_london_mainnet_pair() {
        // Mainnet blocks 12_964_999 and 12_965_000: ten seconds apart (factor 0), so the
        // difficulty grows by the London bomb alone, 2^30 (the Muir Glacier delay would
        // give 2^37).
        let spec = EthSpec::mainnet();
        let (parent, header) = (london_parent(), london_block());
        assert_eq!(calc_difficulty(&spec, &parent, header.timestamp), header.difficulty);
        assert_eq!(header.difficulty - parent.difficulty, U256::from(1_u64 << 30));
    }

    #[test]
    fn test_arrow_glacier() {
        check(
            &from_genesis(|c| c.arrow_glacier_block = Some(0)),
            &[
                // difficultyArrowGlacier-1: the first block the bomb reaches again.
                (10_700_000, 0, 1, true, "9634114544281170", "9643522859265818"),
                // difficultyArrowGlacierTimeDiff1-200: 909 seconds, factor capped at -99.
                (15_000_000, 0, 909, false, "9634114544281170", "9170601975796646"),
            ],
        );
    }

    #[test]
    fn test_gray_glacier() {
        check(
            &from_genesis(|c| c.gray_glacier_block = Some(0)),
            &[
                // difficultyGrayGlacier-1.
                (11_400_000, 0, 1, true, "9634114544281170", "9643522859265818"),
                // difficultyGrayGlacierTimeDiff1-200: factor capped at -99.
                (15_700_000, 0, 909, false, "9634114544281170", "9170601975796646"),
            ],
        );
    }

    #[test]
    fn test_mainnet_schedule() {
        // ethereum/tests BasicTests/difficultyMainNetwork.json, with ommers in the parent.
        let spec = EthSpec::mainnet();
        let ommers = b256!("0xb474a45ef82026d18138c2f23fee5586c9c7449f33f865e8838572ae06ffc7e9");
        let cases = [
            // DifficultyTest158: Frontier.
            (1_100_000, 3926401000, 3926401002, "4159602988028765367", "4161634044175264299"),
            // DifficultyTest190: Homestead.
            (4_300_000, 6075889545, 6075889547, "1608482451745414670", "1609270042590811537"),
            // DifficultyTest196: Byzantium.
            (4_900_000, 27462960012, 27462960014, "8683164161206452902", "8691643813707762150"),
        ];
        for (number, parent_time, time, parent_difficulty, expected) in cases {
            let parent = Header {
                number: number - 1,
                timestamp: parent_time,
                difficulty: parent_difficulty.parse().unwrap(),
                ommers_hash: ommers,
                ..Default::default()
            };
            assert_eq!(calc_difficulty(&spec, &parent, time), expected.parse::<U256>().unwrap());
        }
    }

    #[test]
    fn test_minimum_and_hostile_inputs() {
        let spec = EthSpec::mainnet();
        let parent = Header { number: 1, ..Default::default() };
        assert_eq!(calc_difficulty(&spec, &parent, 1), U256::from(MINIMUM_DIFFICULTY));
        // A parent far in the future raises the factor without panicking.
        let future = Header { timestamp: u64::MAX, difficulty: U256::MAX, ..Default::default() };
        assert_eq!(calc_difficulty(&spec, &future, 0), U256::MAX);
        let byzantium = Header { number: 5_000_000, timestamp: u64::MAX, ..Default::default() };
        assert!(calc_difficulty(&spec, &byzantium, 0) > U256::from(MINIMUM_DIFFICULTY));
        // A huge block number saturates the bomb.
        let frontier = from_genesis(|_| {});
        let last = Header { number: u64::MAX, ..Default::default() };
        assert_eq!(calc_difficulty(&frontier, &last, 1), U256::MAX);
    }
}
