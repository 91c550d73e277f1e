//! pevm's baseline: a recorded block's transactions run one after another
//! by plain revm over an in-memory database holding the pre-state.
//!
//! ```text
//!  Fixture.pre_state -> CacheDB<EmptyDB> (+ block_hashes for BLOCKHASH)
//!  Fixture.header    -> BlockEnv, CfgEnv(spec, chain id)
//!  for each tx: tx_env(envelope, sender) -> transact_commit   <- timed
//!  results -> receipts (status, cumulative gas, logs, bloom), block bloom
//! ```
//!
//! revm pays the coinbase itself, as geth does. Block rewards, withdrawals
//! and the EIP-4788 beacon-root call are not applied: they change neither
//! gas, logs nor receipts.

use alloy_consensus::{Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom};
use alloy_eips::eip7928::BlockAccessList;
use alloy_primitives::{B256, Bloom, Bytes, Log, U256};
use lanes_accounts_db::Entry;
use lanes_evm_adapter::tx_env;
use revm::ExecuteCommitEvm;
use revm::bytecode::Bytecode;
use revm::context::{BlockEnv, CfgEnv, Context};
use revm::database::{CacheDB, EmptyDB, State};
use revm::handler::{MainBuilder, MainContext};
use revm::primitives::hardfork::SpecId;
use revm::state::AccountInfo;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::fixture::Fixture;

/// What the sequential run of a block gives.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// The block's gas used: the last receipt's cumulative gas.
    pub gas_used: u64,
    /// One receipt per transaction, of the transaction's type.
    pub receipts: Vec<ReceiptEnvelope>,
    /// The union of the receipts' blooms.
    pub logs_bloom: Bloom,
    /// The time of building the EVM and running every transaction, from
    /// the build to the last commit (the pre-state is in memory before).
    pub time: Duration,
}

/// Why a block could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaselineError {
    /// The fixture's senders do not pair with its transactions.
    #[error("{txs} transactions but {senders} senders")]
    Senders {
        /// How many transactions.
        txs: usize,
        /// How many senders.
        senders: usize,
    },
    /// The header has excess blob gas but no update fraction was given to price blobs.
    #[error("excess blob gas {0} but no blob base fee update fraction")]
    BlobFraction(u64),
    /// revm refused a transaction.
    #[error("transaction {index}: {message}")]
    Transaction {
        /// Its index in the block.
        index: usize,
        /// revm's error.
        message: String,
    },
}

/// Runs `fixture`'s transactions in order with revm's `transact_commit`
/// under `spec` and `chain_id`; `blob_update_fraction` prices blob gas
/// from the header's excess blob gas (from Cancun on).
pub fn baseline(
    fixture: &Fixture,
    spec: SpecId,
    chain_id: u64,
    blob_update_fraction: Option<u64>,
) -> Result<Baseline, BaselineError> {
    let (txs, senders) = (&fixture.txs, &fixture.senders);
    if txs.len() != senders.len() {
        return Err(BaselineError::Senders { txs: txs.len(), senders: senders.len() });
    }
    let (block, cfg) = envs(fixture, spec, chain_id, blob_update_fraction)?;
    // The pre-state in memory is not timed; building the EVM is, as lanes'
    // time includes building its workers' EVMs.
    let db = cache_db(fixture);
    let start = Instant::now();
    let mut evm = Context::mainnet().with_db(db).with_cfg(cfg).with_block(block).build_mainnet();

    let mut outcomes = Vec::with_capacity(txs.len());
    for (index, (tx, sender)) in txs.iter().zip(senders).enumerate() {
        let result = evm
            .transact_commit(tx_env(tx, *sender))
            .map_err(|e| BaselineError::Transaction { index, message: e.to_string() })?;
        outcomes.push((result.is_success(), result.tx_gas_used(), result.into_logs()));
    }
    let time = start.elapsed();

    let mut gas_used = 0;
    let mut logs_bloom = Bloom::ZERO;
    let mut receipts = Vec::with_capacity(txs.len());
    for (tx, (success, gas, logs)) in txs.iter().zip(outcomes) {
        gas_used += gas;
        let receipt: Receipt<Log> =
            Receipt { status: Eip658Value::Eip658(success), cumulative_gas_used: gas_used, logs };
        let receipt = ReceiptWithBloom::from(receipt);
        logs_bloom.accrue_bloom(&receipt.logs_bloom);
        receipts.push(ReceiptEnvelope::from_typed(tx.tx_type(), receipt));
    }
    Ok(Baseline { gas_used, receipts, logs_bloom, time })
}

/// The block and configuration environments of `fixture`'s block.
fn envs(
    fixture: &Fixture,
    spec: SpecId,
    chain_id: u64,
    blob_update_fraction: Option<u64>,
) -> Result<(BlockEnv, CfgEnv), BaselineError> {
    let h = &fixture.header;
    let mut block = BlockEnv {
        number: U256::from(h.number),
        beneficiary: h.beneficiary,
        timestamp: U256::from(h.timestamp),
        gas_limit: h.gas_limit,
        basefee: h.base_fee_per_gas.unwrap_or_default(),
        difficulty: h.difficulty,
        // After the merge the difficulty is 0 and mixHash carries PREVRANDAO.
        prevrandao: h.difficulty.is_zero().then_some(h.mix_hash),
        // The default prices blobs; a block before Cancun has none.
        blob_excess_gas_and_price: None,
        ..Default::default()
    };
    if let Some(excess) = h.excess_blob_gas {
        let fraction = blob_update_fraction.ok_or(BaselineError::BlobFraction(excess))?;
        block.set_blob_excess_gas_and_price(excess, fraction);
    }
    let mut cfg = CfgEnv::new_with_spec(spec).with_chain_id(chain_id);
    cfg.blob_base_fee_update_fraction = blob_update_fraction;
    Ok((block, cfg))
}

/// The block's access list (EIP-7928) as revm's own builder makes it:
/// the transactions run one after another over revm's `State` with its
/// BAL builder, each at its index (the first at 1). Untimed.
pub fn revm_block_access_list(
    fixture: &Fixture,
    spec: SpecId,
    chain_id: u64,
    blob_update_fraction: Option<u64>,
) -> Result<BlockAccessList, BaselineError> {
    let (block, cfg) = envs(fixture, spec, chain_id, blob_update_fraction)?;
    let db = State::builder().with_database(cache_db(fixture)).with_bal_builder().build();
    let mut evm = Context::mainnet().with_db(db).with_cfg(cfg).with_block(block).build_mainnet();
    for (index, (tx, sender)) in fixture.txs.iter().zip(&fixture.senders).enumerate() {
        evm.ctx.journaled_state.database.bump_bal_index();
        evm.transact_commit(tx_env(tx, *sender))
            .map_err(|e| BaselineError::Transaction { index, message: e.to_string() })?;
    }
    Ok(evm.ctx.journaled_state.database.take_built_alloy_bal().unwrap_or_default())
}

/// revm's in-memory database holding the fixture's pre-state and the block
/// hashes it records.
fn cache_db(fixture: &Fixture) -> CacheDB<EmptyDB> {
    let mut db = CacheDB::new(EmptyDB::default());
    let codes: HashMap<B256, &Bytes> = fixture
        .pre_state
        .iter()
        .filter_map(|e| if let Entry::Code(hash, code) = e { Some((*hash, code)) } else { None })
        .collect();
    for entry in &fixture.pre_state {
        match entry {
            Entry::Account(address, header) => {
                let code = codes.get(&header.code_hash).map(|code| bytecode(code));
                let code_hash = if lanes_evm_adapter::has_code(&header.code_hash) {
                    header.code_hash
                } else {
                    alloy_primitives::KECCAK256_EMPTY
                };
                let info = AccountInfo {
                    balance: header.balance,
                    nonce: header.nonce,
                    code_hash,
                    code,
                    ..Default::default()
                };
                db.insert_account_info(*address, info);
            }
            Entry::Storage(address, slot, value) => {
                let slot = U256::from_be_bytes(slot.0);
                // EmptyDB cannot fail.
                let Ok(()) = db.insert_account_storage(*address, slot, *value);
            }
            Entry::Code(..) => {}
        }
    }
    for (number, hash) in &fixture.block_hashes {
        db.cache.block_hashes.insert(U256::from(*number), *hash);
    }
    db
}

/// The analysed bytecode of `code`; code that `new_raw` would refuse (an
/// 0xEF prefix deployed before EIP-3541) runs as legacy code.
fn bytecode(code: &Bytes) -> Bytecode {
    Bytecode::new_raw_checked(code.clone()).unwrap_or_else(|_| Bytecode::new_legacy(code.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execute_block::fixture::mainnet_block_dirs;
    use alloy_eips::eip2718::Encodable2718;
    use lanes_eth::EthSpec;

    /// The first block whose receipts hold a status rather than a state root.
    const BYZANTIUM: u64 = 4_370_000;

    /// Every recorded block run by the baseline gives the header's gas
    /// used and logs bloom, and from Byzantium on its receipts root.
    #[test]
    fn test_every_mainnet_block_matches_its_header() {
        let Some(dirs) = mainnet_block_dirs() else { return };
        let eth = EthSpec::mainnet();
        let mut mismatches = Vec::new();
        let (mut gas_ok, mut bloom_ok, mut root_ok, mut root_checked) = (0, 0, 0, 0);
        let started = Instant::now();
        for dir in &dirs {
            let f = Fixture::load(dir).unwrap_or_else(|e| panic!("{e}"));
            let h = &f.header;
            let spec = eth.spec_at(h.number, h.timestamp, h.difficulty.is_zero());
            let fraction =
                eth.blob_params(h.timestamp).and_then(|p| u64::try_from(p.update_fraction).ok());
            let b = baseline(&f, spec, 1, fraction)
                .unwrap_or_else(|e| panic!("block {}: {e}", h.number));
            assert_eq!(b.receipts.len(), f.txs.len());
            let mut bad = Vec::new();
            if b.gas_used == h.gas_used {
                gas_ok += 1;
            } else {
                bad.push(format!("gas used {} (header {})", b.gas_used, h.gas_used));
            }
            if b.logs_bloom == h.logs_bloom {
                bloom_ok += 1;
            } else {
                bad.push("logs bloom".to_owned());
            }
            if h.number >= BYZANTIUM {
                root_checked += 1;
                let root =
                    alloy_trie::root::ordered_trie_root_with_encoder(&b.receipts, |r, buf| {
                        r.encode_2718(buf)
                    });
                if root == h.receipts_root {
                    root_ok += 1;
                } else {
                    bad.push(format!("receipts root {root} (header {})", h.receipts_root));
                }
            }
            if !bad.is_empty() {
                mismatches.push(format!("block {} ({spec:?}): {}", h.number, bad.join(", ")));
            }
        }
        println!(
            "{} blocks in {:?}: gas used {gas_ok}, logs bloom {bloom_ok}, receipts root \
             {root_ok}/{root_checked} match",
            dirs.len(),
            started.elapsed()
        );
        assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    }

    /// A block with a pre-EIP-155 transaction runs: revm checks the chain
    /// id only when the transaction carries one.
    #[test]
    fn test_pre_eip155_transaction_runs_on_any_chain_id() {
        let Some(dirs) = mainnet_block_dirs() else { return };
        let dir = dirs.iter().find(|d| d.ends_with("46147")).unwrap();
        let f = Fixture::load(dir).unwrap();
        let b = baseline(&f, SpecId::FRONTIER, 7, None).unwrap();
        assert_eq!(b.gas_used, 21_000);
        assert!(b.receipts[0].is_success());
    }

    #[test]
    fn test_refused_transaction_names_its_index() {
        let Some(dirs) = mainnet_block_dirs() else { return };
        let dir = dirs.iter().find(|d| d.ends_with("46147")).unwrap();
        let mut f = Fixture::load(dir).unwrap();
        // Without its pre-state the sender cannot pay for the transfer.
        f.pre_state.clear();
        let e = baseline(&f, SpecId::FRONTIER, 1, None).unwrap_err();
        assert!(matches!(e, BaselineError::Transaction { index: 0, .. }), "{e}");

        f.senders.pop();
        let e = baseline(&f, SpecId::FRONTIER, 1, None).unwrap_err();
        assert!(matches!(e, BaselineError::Senders { txs: 1, senders: 0 }), "{e}");
    }

    #[test]
    fn test_blob_block_without_update_fraction_is_refused() {
        let Some(dirs) = mainnet_block_dirs() else { return };
        let dir = dirs.iter().find(|d| d.ends_with("19934116")).unwrap();
        let f = Fixture::load(dir).unwrap();
        let e = baseline(&f, SpecId::CANCUN, 1, None).unwrap_err();
        assert!(matches!(e, BaselineError::BlobFraction(0)), "{e}");
    }
}
