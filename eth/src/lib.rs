//! lanes-eth: Ethereum's chain, over the EVM executor of `lanes-evm-adapter`.
//!
//! - Ethereum's own blocks: importing them ([`import_block`]) with every check a full node
//!   makes - the fork schedule ([`EthSpec`]), header and ommer rules, the ethash difficulty,
//!   proof-of-work rewards, the DAO fork, system calls, withdrawals, requests and the
//!   Merkle-Patricia state root ([`StateTrie`]).
//! - The chain spec a node starts from ([`genesis`]): geth's `genesis.json`, the `--dev`
//!   chain and its accounts, forks of live chains.
//! - `eth_simulateV1` ([`simulate_v1`]): calls in a chain of simulated blocks, each sealed
//!   as an Ethereum block.
//! - A JSON-RPC transaction request as the transaction it stands for ([`tx_request`]): the
//!   one door `eth_sendTransaction`, the calls and `eth_simulateV1` share.
//!
//! ## Layers
//!
//! Each module uses only those on its line or below (a test in
//! `tests/it/layout.rs` keeps it so):
//!
//! ```text
//!  simulate_v1               eth_simulateV1: block > call > hooks > types
//!  tx_request                a request's transaction: its type, its gaps filled
//!  genesis                   chain specs: geth genesis.json, --dev, forks
//!  import                    a block checked, run and committed
//!  codecs, rewards, ommers   header codecs of imported chains; rewards; ommer rules
//!  header, difficulty, dao, requests, state_root
//!  block, config, spec, trie
//! ```
#![forbid(unsafe_code)]

mod block;
mod codecs;
mod config;
mod dao;
mod difficulty;
pub mod genesis;
mod header;
mod import;
mod ommers;
mod requests;
mod rewards;
pub mod simulate_v1;
mod spec;
mod state_root;
mod trie;
pub mod tx_request;

pub use block::{
    EthBlock, EthBlockData, GENESIS_GAS_LIMIT, genesis_alloc, genesis_header, header_bloom,
};
pub use codecs::{ForkedHeaders, ImportedHeaders};
pub use config::{ForkConfig, ForkConfigs, precompiles, single_fork, system_contracts};
pub use dao::{DAO_HARDFORK_ACCOUNTS, DAO_HARDFORK_BENEFICIARY, is_dao_fork_block};
pub use difficulty::{MINIMUM_DIFFICULTY, calc_difficulty};
pub use header::{
    DAO_FORK_EXTRA_DATA, DAO_FORK_EXTRA_RANGE, GAS_LIMIT_BOUND_DIVISOR, HeaderError, MAX_GAS_LIMIT,
    MAXIMUM_EXTRA_DATA_SIZE, MIN_GAS_LIMIT, check_header,
};
pub use import::{
    ImportContext, ImportError, ImportErrorKind, ImportedBlock, MAX_RLP_BLOCK_SIZE, Tip,
    block_executor, import_block, import_rules, prefers_branch, recorded_sets,
};
pub use ommers::{MAX_OMMERS, OMMER_ANCESTRY_DEPTH, check_ommers};
pub use requests::{DEPOSIT_EVENT_TOPIC, deposit_requests};
pub use rewards::{
    BYZANTIUM_BLOCK_REWARD, CONSTANTINOPLE_BLOCK_REWARD, FRONTIER_BLOCK_REWARD, base_block_reward,
    block_rewards,
};
pub use spec::{EthSpec, MAINNET_DEPOSIT_CONTRACT, MAINNET_TERMINAL_TOTAL_DIFFICULTY};
pub use state_root::{
    KEPT_STATE_TRIES, MptCommitment, StateProof, StateTrie, StateTries, post_transaction_roots,
    state_root, state_root_of,
};
