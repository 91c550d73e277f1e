//! Ethereum mainnet's consensus rules for imported blocks: the fork schedule, header and
//! ommer checks, the ethash difficulty, proof-of-work rewards and the DAO fork.

mod dao;
mod difficulty;
mod header;
mod ommers;
mod rewards;
mod spec;

pub use dao::{DAO_HARDFORK_ACCOUNTS, DAO_HARDFORK_BENEFICIARY, is_dao_fork_block};
pub use difficulty::{MINIMUM_DIFFICULTY, calc_difficulty};
pub use header::{
    DAO_FORK_EXTRA_DATA, DAO_FORK_EXTRA_RANGE, GAS_LIMIT_BOUND_DIVISOR, HeaderError, MAX_GAS_LIMIT,
    MAXIMUM_EXTRA_DATA_SIZE, MIN_GAS_LIMIT, check_header,
};
pub use ommers::{MAX_OMMERS, OMMER_ANCESTRY_DEPTH, check_ommers};
pub use rewards::{
    BYZANTIUM_BLOCK_REWARD, CONSTANTINOPLE_BLOCK_REWARD, FRONTIER_BLOCK_REWARD, base_block_reward,
    block_rewards,
};
pub use spec::{EthSpec, MAINNET_DEPOSIT_CONTRACT, MAINNET_TERMINAL_TOTAL_DIFFICULTY};
