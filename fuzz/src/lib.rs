//! What the lanes fuzz targets share: a fixed dev chain, signed transactions
//! of every type lanes runs, and a few real blocks built on it, all
//! deterministic, so `gen_seeds` and the targets build the same bytes.

use std::path::Path;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEip7702, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_eips::eip7702::Authorization;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use lanes_accounts_db::{AccountHeader, AccountsDbConfig, Entry};
use lanes_eth::genesis::{ChainSpec, DEV_CHAIN_ID, dev_signers};
use lanes_evm_adapter::{EvmConfig, EvmExecutor, impersonated};
use lanes_runtime::{BankConfig, Chain, Executor, SealedBlock};

/// Block 0's timestamp: fixed, so every block built here is the same bytes.
pub const GENESIS_TIME: u64 = 1_700_000_000;

/// Blocks [`reference_chain`] builds on block 0.
pub const BLOCKS: u64 = 4;

/// The dev chain stamped [`GENESIS_TIME`].
pub fn spec() -> ChainSpec {
    ChainSpec::dev_at(GENESIS_TIME)
}

/// The executor a `--dev` node runs.
pub fn executor(spec: &ChainSpec) -> EvmExecutor {
    EvmExecutor::new(EvmConfig {
        spec: spec.spec,
        allow_unprotected: true,
        allow_impersonated: true,
        ..EvmConfig::new(spec.chain_id)
    })
}

/// The bank settings a `--dev` node replays with (dev state controls allowed).
pub fn bank_config(spec: &ChainSpec) -> BankConfig {
    BankConfig { allow_system: true, ..spec.bank_config() }
}

/// A small accounts database (4 KiB segments), not synced.
pub fn store_config() -> AccountsDbConfig {
    AccountsDbConfig::default().with_segment_size(4096).with_sync(false)
}

fn key(i: usize) -> &'static PrivateKeySigner {
    &dev_signers()[i]
}

/// The dev account `i`'s address.
pub fn account(i: usize) -> Address {
    key(i).address()
}

/// Init code that logs once (LOG0 of nothing) and deploys nothing.
const LOGGING_INIT: [u8; 5] = [0x60, 0x00, 0x60, 0x00, 0xa0];

fn sign<T: SignableTransaction<alloy_primitives::Signature>>(signer: usize, tx: T) -> TxEnvelope
where
    TxEnvelope: From<alloy_consensus::Signed<T>>,
{
    let sig = key(signer).sign_hash_sync(&tx.signature_hash()).expect("signing cannot fail");
    tx.into_signed(sig).into()
}

fn access_list(addresses: &[Address]) -> AccessList {
    AccessList(
        addresses
            .iter()
            .map(|a| AccessListItem { address: *a, storage_keys: vec![B256::with_last_byte(1)] })
            .collect(),
    )
}

/// A signed transaction of each kind, from dev account `signer` at `nonce`
/// onwards (one nonce each): EIP-155 legacy, unprotected legacy, EIP-2930,
/// EIP-1559 call with an access list, EIP-1559 create that logs.
pub fn signed_txs(signer: usize, nonce: u64) -> Vec<TxEnvelope> {
    let to = account(signer + 1);
    let gas_price = 3_000_000_000u128;
    vec![
        sign(
            signer,
            TxLegacy {
                chain_id: Some(DEV_CHAIN_ID),
                nonce,
                gas_price,
                gas_limit: 21_000,
                to: TxKind::Call(to),
                value: U256::from(1),
                input: Bytes::new(),
            },
        ),
        sign(
            signer,
            TxLegacy {
                chain_id: None,
                nonce: nonce + 1,
                gas_price,
                gas_limit: 21_000,
                to: TxKind::Call(to),
                value: U256::from(2),
                input: Bytes::new(),
            },
        ),
        sign(
            signer,
            TxEip2930 {
                chain_id: DEV_CHAIN_ID,
                nonce: nonce + 2,
                gas_price,
                gas_limit: 60_000,
                to: TxKind::Call(to),
                value: U256::from(3),
                access_list: access_list(&[to]),
                input: Bytes::from_static(&[0xde, 0xad]),
            },
        ),
        sign(
            signer,
            TxEip1559 {
                chain_id: DEV_CHAIN_ID,
                nonce: nonce + 3,
                gas_limit: 60_000,
                max_fee_per_gas: gas_price,
                max_priority_fee_per_gas: 1_000_000_000,
                to: TxKind::Call(to),
                value: U256::from(4),
                access_list: access_list(&[account(signer), to]),
                input: Bytes::new(),
            },
        ),
        sign(
            signer,
            TxEip1559 {
                chain_id: DEV_CHAIN_ID,
                nonce: nonce + 4,
                gas_limit: 100_000,
                max_fee_per_gas: gas_price,
                max_priority_fee_per_gas: 1_000_000_000,
                to: TxKind::Create,
                value: U256::ZERO,
                access_list: AccessList::default(),
                input: Bytes::from_static(&LOGGING_INIT),
            },
        ),
    ]
}

/// An EIP-7702 transaction (decoded by lanes, for the decoding target).
pub fn set_code_tx(signer: usize, nonce: u64) -> TxEnvelope {
    let auth =
        Authorization { chain_id: U256::from(DEV_CHAIN_ID), address: account(7), nonce: nonce + 1 };
    let sig = key(signer).sign_hash_sync(&auth.signature_hash()).expect("signing cannot fail");
    sign(
        signer,
        TxEip7702 {
            chain_id: DEV_CHAIN_ID,
            nonce,
            gas_limit: 100_000,
            max_fee_per_gas: 3_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: account(8),
            value: U256::ZERO,
            access_list: AccessList::default(),
            authorization_list: vec![auth.into_signed(sig)],
            input: Bytes::new(),
        },
    )
}

/// Raw transactions for the decoding target: every kind, an impersonated
/// one and a few broken ones.
pub fn raw_txs() -> Vec<Bytes> {
    let mut out: Vec<Bytes> = signed_txs(0, 0).iter().map(|tx| tx.encoded_2718().into()).collect();
    out.push(set_code_tx(1, 0).encoded_2718().into());
    out.push(impersonated(&signed_txs(2, 0)[3], account(9)));
    let mut high_s = out[3].to_vec();
    if let Some(last) = high_s.last_mut() {
        *last ^= 1;
    }
    out.push(high_s.into());
    out
}

/// Builds the reference chain in `dir`: block 0 of [`spec`] and [`BLOCKS`]
/// blocks on it, each a second apart: transactions of every kind, a
/// contract creation that logs, and a dev state control (a system entry).
/// Returns the chain (at the last block) and the sealed blocks 1..
pub fn reference_chain(dir: &Path) -> (Chain, Vec<SealedBlock>) {
    let spec = spec();
    let executor = executor(&spec);
    let mut chain = Chain::create_with(dir, store_config(), &spec.genesis, bank_config(&spec))
        .expect("creating the reference chain");
    let mut sealed = Vec::new();
    for n in 1..=BLOCKS {
        let mut bank = chain.new_bank(GENESIS_TIME + n, spec.genesis.coinbase);
        if n == 3 {
            let header =
                AccountHeader { nonce: 0, balance: U256::from(12345), ..Default::default() };
            bank.apply_system(vec![Entry::Account(account(9), header)]).expect("a system entry");
        }
        let signer = n as usize - 1;
        let txs = match n {
            4 => vec![],
            _ => signed_txs(signer, 0),
        };
        // One entry each: a sender's transactions declare the same keys.
        for tx in txs {
            let tx = executor.decode(&tx.encoded_2718()).expect("decodes");
            let report = bank.execute_entry(&executor, vec![tx], 1).expect("executes");
            assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        }
        let block = bank.seal().expect("seals");
        chain.commit(&block).expect("commits");
        sealed.push(block);
    }
    (chain, sealed)
}

/// Every method the node serves (names and aliases, from the
/// `#[method(name = ...)]` attributes under `rpc/src/api`), less
/// [`RPC_EXCLUDED`]. `rpc_params` inputs pick one by index, so new methods go
/// at the end.
pub const RPC_METHODS: &[&str] = &[
    // eth
    "eth_chainId",
    "eth_syncing",
    "eth_mining",
    "eth_coinbase",
    "eth_accounts",
    "eth_blockNumber",
    "eth_gasPrice",
    "eth_maxPriorityFeePerGas",
    "eth_getBalance",
    "eth_getTransactionCount",
    "eth_getCode",
    "eth_getStorageAt",
    "eth_call",
    "eth_estimateGas",
    "eth_createAccessList",
    "eth_sendRawTransaction",
    "eth_sendTransaction",
    "eth_newFilter",
    "eth_newBlockFilter",
    "eth_newPendingTransactionFilter",
    "eth_getFilterChanges",
    "eth_getFilterLogs",
    "eth_uninstallFilter",
    "eth_signTransaction",
    "eth_sign",
    "eth_signTypedData_v4",
    "eth_fillTransaction",
    "eth_getTransactionByHash",
    "eth_getTransactionReceipt",
    "eth_getBlockReceipts",
    "eth_getBlockByNumber",
    "eth_getBlockByHash",
    "eth_getBlockTransactionCountByNumber",
    "eth_getLogs",
    "eth_feeHistory",
    "eth_subscribe",
    "eth_unsubscribe",
    // net, web3, personal, lanes
    "net_version",
    "net_listening",
    "web3_clientVersion",
    "personal_sign",
    "lanes_getBlockEntries",
    "lanes_stats",
    "lanes_relayTransactions",
    // debug
    "debug_traceTransaction",
    "debug_traceCall",
    "debug_traceBlockByNumber",
    "debug_traceBlockByHash",
    // dev (anvil, hardhat, evm)
    "anvil_getAutomine",
    "hardhat_getAutomine",
    "evm_mine",
    "anvil_mine",
    "hardhat_mine",
    "evm_increaseTime",
    "anvil_increaseTime",
    "evm_setNextBlockTimestamp",
    "anvil_setNextBlockTimestamp",
    "anvil_setNextBlockBaseFeePerGas",
    "hardhat_setNextBlockBaseFeePerGas",
    "anvil_setCoinbase",
    "hardhat_setCoinbase",
    "anvil_setBalance",
    "hardhat_setBalance",
    "anvil_setNonce",
    "hardhat_setNonce",
    "anvil_setCode",
    "hardhat_setCode",
    "evm_snapshot",
    "anvil_snapshot",
    "anvil_impersonateAccount",
    "hardhat_impersonateAccount",
    "anvil_stopImpersonatingAccount",
    "hardhat_stopImpersonatingAccount",
    "anvil_autoImpersonateAccount",
    "anvil_setStorageAt",
    "hardhat_setStorageAt",
    // not a method: the node's unknown-method answer
    "lanes_noSuchMethod",
];

/// Methods `rpc_params` leaves out, and why: each would change what every
/// later input runs against, or make it slow.
pub const RPC_EXCLUDED: &[(&str, &str)] = &[
    (
        "evm_revert",
        "rebuilds the state from the ledger and restarts the stage: slow, and undoes what earlier inputs built",
    ),
    ("anvil_revert", "alias of evm_revert"),
    (
        "anvil_reset",
        "drops the chain back to its genesis: slow, and undoes what earlier inputs built",
    ),
    ("hardhat_reset", "alias of anvil_reset"),
    (
        "evm_setIntervalMining",
        "turns automine into interval mining: the chain then grows on its own for the rest of the run",
    ),
    ("anvil_setIntervalMining", "alias of evm_setIntervalMining"),
    (
        "evm_setAutomine",
        "turning automine off makes every later send sit in the pool (and `true` is the state already)",
    ),
    ("anvil_setAutomine", "alias of evm_setAutomine"),
];

/// The most blocks one `evm_mine`/`anvil_mine`/`hardhat_mine` input may
/// mine (the node takes up to 100000 a request: seconds each).
pub const MAX_MINED: u64 = 3;
