//! End-to-end tests of the lanes crates together: one test binary, one module
//! per scenario.

mod accounts_db;
mod acknowledged;
mod admission_doors;
mod amsterdam;
mod anvil_surface;
mod blobs;
mod blockchain_tests;
mod cluster;
mod coinbase;
mod dev_node;
mod dev_rules;
mod disk_faults;
mod eest;
mod eip1283;
mod eth_blocks;
mod ethtests;
mod evm_parallel;
mod evm_predict;
mod evm_token;
mod evm_transfer;
mod explorer;
mod fee_market;
mod fixtures;
mod fork;
mod fuzz_regressions;
mod import_chain;
mod layout;
mod loadgen;
mod made_blocks;
mod mpt_state_root;
mod rpc_compat;
mod rpc_methods;
mod scenarios;
mod typed_clients;
mod validator;
