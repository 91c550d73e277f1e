//! Ethereum's own blocks: importing them ([`import_block`]) with every check a full node
//! makes - the fork schedule, header and ommer rules, the ethash difficulty, proof-of-work
//! rewards, the DAO fork, system calls, withdrawals, requests and the state root.

mod block;
mod codecs;
mod config;
mod dao;
mod difficulty;
mod header;
mod import;
mod ommers;
mod requests;
mod rewards;
pub mod simulate;
mod spec;
mod state_root;
mod trie;

pub use block::{EthBlock, EthBlockData, GENESIS_GAS_LIMIT, genesis_alloc, genesis_header};
pub use codecs::{ForkedHeaders, ImportedHeaders};
pub use config::{ForkConfig, ForkConfigs, precompiles, single_fork, system_contracts};
pub use dao::{DAO_HARDFORK_ACCOUNTS, DAO_HARDFORK_BENEFICIARY, is_dao_fork_block};
pub use difficulty::{MINIMUM_DIFFICULTY, calc_difficulty};
pub use header::{
    DAO_FORK_EXTRA_DATA, DAO_FORK_EXTRA_RANGE, GAS_LIMIT_BOUND_DIVISOR, HeaderError, MAX_GAS_LIMIT,
    MAXIMUM_EXTRA_DATA_SIZE, MIN_GAS_LIMIT, check_header,
};
pub use import::{
    ImportContext, ImportError, ImportErrorKind, ImportedBlock, MAX_RLP_BLOCK_SIZE, block_executor,
    import_block, import_rules, recorded_sets,
};
pub use ommers::{MAX_OMMERS, OMMER_ANCESTRY_DEPTH, check_ommers};
pub use requests::{DEPOSIT_EVENT_TOPIC, deposit_requests};
pub use rewards::{
    BYZANTIUM_BLOCK_REWARD, CONSTANTINOPLE_BLOCK_REWARD, FRONTIER_BLOCK_REWARD, base_block_reward,
    block_rewards,
};
pub use spec::{
    EthSpec, MAINNET_DEPOSIT_CONTRACT, MAINNET_TERMINAL_TOTAL_DIFFICULTY, blob_params_of,
};
pub use state_root::{
    KEPT_STATE_TRIES, MptCommitment, StateProof, StateTrie, StateTries, post_transaction_roots,
    state_root, state_root_of,
};
