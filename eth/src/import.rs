//! Importing an Ethereum block: every check a full node makes, and its
//! transactions run in lanes ([`import_block`]).
//!
//! ```text
//!  EthBlock ─> parent link, header rules (check_header), body roots, ommers
//!     │   senders recovered in parallel
//!     v
//!  bank on the parent ─> DAO fork, EIP-4788 / EIP-2935 system calls (derived writes)
//!     │
//!     v
//!  Bank::execute_ordered (sets known, predicted or recorded) ─> per-tx gas allowance, blob gas
//!     │
//!     v
//!  rewards, Prague requests (deposits, EIP-7002, EIP-7251), withdrawals (derived writes)
//!     │
//!     v
//!  seal ─> gas used, logs bloom, receipts root (before Byzantium with the
//!          state root after each transaction), requests hash, state root
//! ```
//!
//! Not checked: the proof-of-work seal (nonce and mix hash against ethash).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use alloy_consensus::proofs::{calculate_ommers_root, calculate_withdrawals_root};
use alloy_consensus::{Eip658Value, Header, ReceiptEnvelope, Transaction as _, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip7685::Requests;
use alloy_eips::{eip2935, eip4788, eip7002, eip7251};
use alloy_primitives::{Address, B256, Bloom, Bytes, U256};
use lanes_runtime::{
    Admitted, Bank, BlockAccesses, Chain, OrderedConfig, OrderedError, OrderedReport, OrderedSets,
    SealedBlock, StateView, TxAccesses, TxError, parallel_map,
};

use super::block::{EthBlock, EthBlockData};
use super::requests::deposit_requests;
use super::spec::EthSpec;
use super::{
    DAO_HARDFORK_ACCOUNTS, DAO_HARDFORK_BENEFICIARY, HeaderError, StateTrie, block_rewards,
    check_header, check_ommers, post_transaction_roots,
};
use alloy_trie::root::ordered_trie_root_with_encoder;
use lanes_accounts_db::AccountHeader;
use lanes_evm_adapter::keeps_empty;
use lanes_evm_adapter::{
    EXISTING_EMPTY, EthBlockEnv, EvmConfig, EvmExecutor, EvmReceiptData, EvmTx, ParentStorage,
    SharedCode, SpecId, StorageHolders, TxRules, bal_versions, block_access_list,
    block_access_list_hash, first_difference, has_code, receipt_envelope,
};

/// Bytes of blob gas per blob (EIP-4844).
const GAS_PER_BLOB: u64 = 131_072;
/// The largest RLP block from Osaka on (EIP-7934).
pub const MAX_RLP_BLOCK_SIZE: usize = 8_388_608;

/// Why a block was refused. Nothing of it was committed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("block {number} ({hash}) refused: {kind}")]
pub struct ImportError {
    /// The block's number.
    pub number: u64,
    /// The block's hash.
    pub hash: B256,
    /// What is wrong.
    pub kind: ImportErrorKind,
}

/// The kinds of [`ImportError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportErrorKind {
    /// Its parent is not the chain's head.
    #[error("its parent {parent} is not the head {head}")]
    UnknownParent {
        /// The block's parent hash.
        parent: B256,
        /// The chain's head.
        head: B256,
    },
    /// A header rule fails.
    #[error("header {0}")]
    Header(HeaderError),
    /// A field differs from what the body or execution gives.
    #[error("{field}: the header says {expected}, lanes computes {computed}")]
    Mismatch {
        /// The field.
        field: &'static str,
        /// The header's value.
        expected: String,
        /// The computed value.
        computed: String,
    },
    /// A transaction is invalid.
    #[error("transaction {index} is invalid: {reason}")]
    Tx {
        /// Its place in the block.
        index: usize,
        /// Why.
        reason: String,
    },
    /// A system operation failed (a system call reverted, a deposit log is
    /// malformed, a request contract has no code).
    #[error("{0}")]
    System(String),
    /// The block's access list (EIP-7928) is not what its execution
    /// touched: where they first differ (the account, the field, the index).
    #[error("access list: {0}")]
    AccessList(String),
    /// The state could not be read or the bank failed.
    #[error("state: {0}")]
    State(String),
}

/// What the importer needs besides the block: the chain's rules and the
/// block's ancestry.
#[derive(Clone, Debug)]
pub struct ImportContext<'a> {
    /// The chain's fork schedule.
    pub spec: &'a EthSpec,
    /// Up to seven ancestors, newest (the parent) first, each with its
    /// ommers: the parent's header rules and the ommer rules read them.
    pub ancestors: &'a [(Header, Vec<Header>)],
    /// The parent's total difficulty (the merge is where it reaches the
    /// terminal total difficulty).
    pub parent_total_difficulty: U256,
    /// Analysed contracts kept from block to block.
    pub code: &'a SharedCode,
    /// The parent state's trie, kept from the block before (`None`: built
    /// from the parent state, a cost that grows with the state).
    pub trie: Option<&'a StateTrie>,
}

/// A block that passed every check, executed and sealed: commit `sealed`.
#[derive(Debug)]
pub struct ImportedBlock {
    /// The lanes block, ready for [`Chain::commit`]; its hash is the
    /// Ethereum hash.
    pub sealed: SealedBlock,
    /// How its transactions ran.
    pub report: OrderedReport,
    /// Its receipts as Ethereum encodes them.
    pub receipts: Vec<ReceiptEnvelope>,
    /// Its total difficulty.
    pub total_difficulty: U256,
    /// The fork it ran under.
    pub spec: SpecId,
    /// Time to recover the senders.
    pub senders_time: Duration,
    /// Time to execute (system operations, transactions, seal).
    pub execution_time: Duration,
    /// Time to compute the state root.
    pub state_root_time: Duration,
    /// The state's trie after the block: the next block's parent trie.
    pub trie: StateTrie,
}

/// The transaction rules of an imported block under `fork` on `spec`'s chain.
pub fn import_rules(spec: &EthSpec, fork: SpecId) -> TxRules {
    TxRules {
        allow_unprotected: true,
        max_bytes: usize::MAX,
        max_access_keys: usize::MAX,
        allow_blobs: fork.is_enabled_in(SpecId::CANCUN),
        allow_high_s: !fork.is_enabled_in(SpecId::HOMESTEAD),
        ..TxRules::new(spec.chain_id())
    }
}

/// The EVM executor of `header`'s block under `fork`.
pub fn block_executor(spec: &EthSpec, header: &Header, fork: SpecId) -> EvmExecutor {
    let blob = spec.blob_params(header.timestamp).filter(|_| fork.is_enabled_in(SpecId::CANCUN));
    let config =
        EvmConfig { spec: fork, allow_unprotected: true, ..EvmConfig::new(spec.chain_id()) };
    EvmExecutor::new(config)
        .with_eip1283(spec.eip1283_at(header.number))
        .with_rules(import_rules(spec, fork))
        .with_block(EthBlockEnv {
            difficulty: header.difficulty,
            excess_blob_gas: header.excess_blob_gas.unwrap_or(0),
            blob_update_fraction: blob
                .map(|b| u64::try_from(b.update_fraction).unwrap_or(u64::MAX)),
            max_blobs_per_tx: blob.map(|b| b.max_blobs_per_tx),
            slot_number: header.slot_number.unwrap_or(0),
        })
}

/// Checks `block` against the chain's head and rules, runs it on `chain`'s
/// head state in lanes (sets predicted, or `recorded` ones when replaying a
/// block lanes imported before) and checks what it computed against the
/// header. Nothing is committed: commit [`ImportedBlock::sealed`].
pub fn import_block(
    chain: &Chain,
    block: &EthBlock,
    ctx: &ImportContext<'_>,
    ordered: &OrderedConfig,
    recorded: Option<&[Admitted]>,
) -> Result<ImportedBlock, ImportError> {
    let header = &block.header;
    let fail = |kind| ImportError { number: header.number, hash: block.hash, kind };
    if header.parent_hash != chain.head_hash() {
        let head = chain.head_hash();
        return Err(fail(ImportErrorKind::UnknownParent { parent: header.parent_hash, head }));
    }
    let parent = ctx.ancestors.first().map(|(h, _)| h).ok_or_else(|| {
        let head = chain.head_hash();
        fail(ImportErrorKind::UnknownParent { parent: header.parent_hash, head })
    })?;
    let spec = ctx.spec;
    let merged = spec.is_merged_by_difficulty(ctx.parent_total_difficulty);
    let fork = spec.spec_at(header.number, header.timestamp, merged);
    check_header(spec, parent, header, merged).map_err(|e| fail(ImportErrorKind::Header(e)))?;
    check_body(block, ctx, fork).map_err(fail)?;

    // The parent state's trie: EIP-7610 reads it, the state root updates it
    // (its load counts as state-root time).
    let start = Instant::now();
    let mut trie = match ctx.trie {
        Some(parent) => parent.clone(),
        None => StateTrie::load(&chain.db().view())
            .map_err(|e| fail(ImportErrorKind::State(e.to_string())))?,
    };
    let trie_time = start.elapsed();
    let start = Instant::now();
    let executor = block_executor(spec, header, fork).with_shared_code(ctx.code.clone());
    let txs = recover(block, &executor).map_err(fail)?;
    let senders_time = start.elapsed();

    let start = Instant::now();
    let amsterdam = fork.is_enabled_in(SpecId::AMSTERDAM);
    // A block that comes with its access list runs from it: each
    // transaction's writes are declared, none is found by running it.
    let versions = match (&block.access_list, recorded) {
        (Some(list), None) if amsterdam => Some(
            bal_versions(list, &chain.db().view())
                .map_err(|e| fail(ImportErrorKind::State(e.to_string())))?,
        ),
        _ => None,
    };
    let run = |executor: &EvmExecutor, recorded: Option<&[Admitted]>| {
        let mut env = chain.next_env(header.timestamp, header.beneficiary);
        env.base_fee = header.base_fee_per_gas.unwrap_or(0);
        env.gas_limit = header.gas_limit;
        env.random = header.mix_hash;
        let bank = chain.new_bank_with(env);
        bank.set_extra(block.data().encoded());
        before_txs(&bank, executor, spec, header, fork).map_err(fail)?;
        let sets = match (recorded, &versions) {
            (Some(sets), _) => OrderedSets::Recorded(sets),
            (None, Some(versions)) => OrderedSets::Versioned(versions),
            (None, None) => OrderedSets::Run,
        };
        let report = bank.execute_ordered(executor, &txs, sets, ordered).map_err(|e| {
            fail(match e {
                OrderedError::Invalid { index, error } => {
                    ImportErrorKind::Tx { index, reason: error.to_string() }
                }
                OrderedError::LeftItsSet { index, key } => ImportErrorKind::Tx {
                    index,
                    reason: format!("it touches {key:?}, outside the set lanes recorded"),
                },
                other => ImportErrorKind::State(other.to_string()),
            })
        })?;
        check_gas_allowance(&bank, &txs, header).map_err(fail)?;
        let receipt_data = bank_receipts(&bank);
        let requests =
            after_txs(&bank, executor, block, ctx, merged, fork, &receipt_data).map_err(fail)?;
        let sealed = bank.seal().map_err(|e| fail(ImportErrorKind::State(e.to_string())))?;
        Ok((report, requests, sealed))
    };
    // EIP-7610 and destroyed contracts' slots read the parent state's
    // storage, as its trie holds it. Before Cancun a contract destroyed
    // after an earlier transaction of its block gave it slots leaves those
    // (its run never saw them): the block runs again with them, until no
    // run leaves any. A replay's first run, reading such a slot, may leave
    // the recorded sets that the runs after it made: it runs again finding
    // its sets.
    let before_cancun = !fork.is_enabled_in(SpecId::CANCUN);
    let mut given: HashMap<Address, HashSet<B256>> = HashMap::new();
    let mut sets = recorded;
    let mut runs = 0;
    let (report, requests, sealed) = loop {
        runs += 1;
        let storage = BlockStorage { parent: trie.clone(), given: given.clone() };
        let executor = executor.clone().with_storage_holders(StorageHolders::new(storage));
        let (report, requests, sealed) = match run(&executor, sets) {
            Err(_) if before_cancun && sets.is_some() && runs == 1 => {
                sets = None;
                continue;
            }
            ran => ran?,
        };
        let mut more = false;
        if let (Some(accesses), true) = (&sealed.accesses, before_cancun) {
            for (address, slots) in slots_left(accesses) {
                let known = given.entry(address).or_default();
                for slot in slots {
                    more |= known.insert(slot);
                }
            }
        }
        if !more {
            break (report, requests, sealed);
        }
        if runs >= MAX_BLOCK_RUNS {
            let why = format!("{runs} runs still leave a destroyed contract's slots");
            return Err(fail(ImportErrorKind::State(why)));
        }
    };
    let execution_time = start.elapsed();

    let mut sealed = sealed;
    let mut receipts: Vec<ReceiptEnvelope> = block
        .txs
        .iter()
        .zip(&sealed.receipts)
        .map(|(tx, r)| receipt_envelope(tx.tx_type(), r))
        .collect();
    let start = Instant::now();
    if !fork.is_enabled_in(SpecId::BYZANTIUM) && !receipts.is_empty() {
        // Each receipt carries the state root after its transaction, which
        // the receipts root commits to; the block keeps them to serve.
        let accesses = sealed.accesses.as_ref().ok_or_else(|| {
            fail(ImportErrorKind::State("the chain's banks record no accesses".into()))
        })?;
        let roots = post_transaction_roots(&trie, accesses, &sealed.receipts, keeps_empty(fork));
        for (receipt, root) in receipts.iter_mut().zip(&roots) {
            if let Some(r) = receipt.as_receipt_with_bloom_mut() {
                r.receipt.status = Eip658Value::PostState(*root);
            }
        }
        let computed = ordered_trie_root_with_encoder(&receipts, |r, buf| r.encode_2718(buf));
        mismatch("receiptsRoot", header.receipts_root, computed).map_err(fail)?;
        let data = EthBlockData { post_states: roots, ..block.data() };
        sealed.block.header.extra = data.encoded();
    }
    check_results(block, &sealed, &receipts, requests.as_ref(), fork).map_err(fail)?;
    if amsterdam {
        check_access_list(block, &sealed).map_err(fail)?;
    }
    trie.apply(&sealed.changes);
    let root = trie.root();
    let state_root_time = trie_time + start.elapsed();
    mismatch("stateRoot", header.state_root, root).map_err(fail)?;
    Ok(ImportedBlock {
        sealed,
        report,
        receipts,
        total_difficulty: ctx.parent_total_difficulty.saturating_add(header.difficulty),
        spec: fork,
        senders_time,
        execution_time,
        state_root_time,
        trie,
    })
}

/// Most runs of one block ([`import_block`]): each run after the first
/// deletes slots a destroyed contract was given earlier in its block that
/// the run before left; a chain of such contracts, each run finding the
/// next, is bounded here.
const MAX_BLOCK_RUNS: u32 = 4;

/// The parent state's storage ([`StateTrie`]), with the slots an earlier
/// transaction of the block `given` contracts it then destroys.
struct BlockStorage {
    parent: StateTrie,
    given: HashMap<Address, HashSet<B256>>,
}

impl ParentStorage for BlockStorage {
    fn holds(&self, address: &Address) -> bool {
        self.parent.holds_storage(address)
    }

    fn slots(&self, address: &Address) -> Vec<B256> {
        let mut slots = self.parent.slots_of(address);
        slots.extend(self.given.get(address).into_iter().flatten());
        slots
    }
}

/// The slots, by account, that a transaction of the block gave a contract
/// (not zero) which a later one deleted without deleting them: before
/// Cancun its whole storage goes with it.
fn slots_left(accesses: &BlockAccesses) -> HashMap<Address, HashSet<B256>> {
    let records = || std::iter::once(&accesses.before).chain(&accesses.txs);
    let deletes = |r: &TxAccesses| r.accounts.iter().any(|(_, h)| *h == AccountHeader::default());
    if !records().any(deletes) {
        return HashMap::new();
    }
    let mut held: HashMap<Address, HashMap<B256, U256>> = HashMap::new();
    let mut left: HashMap<Address, HashSet<B256>> = HashMap::new();
    for record in records() {
        for (address, header) in &record.accounts {
            let Some(slots) = held.get(address).filter(|_| *header == AccountHeader::default())
            else {
                continue;
            };
            let deleted: HashSet<&B256> = record
                .slots
                .iter()
                .filter(|(a, _, v)| a == address && v.is_zero())
                .map(|(_, s, _)| s)
                .collect();
            for (slot, value) in slots {
                if !value.is_zero() && !deleted.contains(slot) {
                    left.entry(*address).or_default().insert(*slot);
                }
            }
        }
        for (address, slot, value) in &record.slots {
            held.entry(*address).or_default().insert(*slot, *value);
        }
    }
    left
}

fn mismatch<T: PartialEq + std::fmt::Display>(
    field: &'static str,
    expected: T,
    computed: T,
) -> Result<(), ImportErrorKind> {
    if expected == computed {
        return Ok(());
    }
    Err(ImportErrorKind::Mismatch {
        field,
        expected: expected.to_string(),
        computed: computed.to_string(),
    })
}

/// The roots the body must match, the ommers, the withdrawals' presence
/// and the block's size.
fn check_body(
    block: &EthBlock,
    ctx: &ImportContext<'_>,
    fork: SpecId,
) -> Result<(), ImportErrorKind> {
    let header = &block.header;
    for (index, tx) in block.txs.iter().enumerate() {
        if let TxEnvelope::Eip4844(signed) = tx
            && signed.tx().sidecar().is_some()
        {
            let reason = "a blob transaction in its network form (blobs, commitments and \
                          proofs): a block carries the consensus form only";
            return Err(ImportErrorKind::Tx { index, reason: reason.into() });
        }
        // No transaction fits a block whose whole gas limit is below its own.
        if tx.gas_limit() > header.gas_limit {
            let reason = format!(
                "gas limit {} is over the block's gas limit {}",
                tx.gas_limit(),
                header.gas_limit
            );
            return Err(ImportErrorKind::Tx { index, reason });
        }
    }
    let encoded: Vec<Vec<u8>> = block.txs.iter().map(|t| t.encoded_2718()).collect();
    let tx_root = alloy_trie::root::ordered_trie_root_encoded(&encoded);
    mismatch("transactionsRoot", header.transactions_root, tx_root)?;
    mismatch("ommersHash", header.ommers_hash, calculate_ommers_root(&block.ommers))?;
    check_ommers(ctx.spec, header, &block.ommers, ctx.ancestors)
        .map_err(ImportErrorKind::Header)?;
    match (&block.withdrawals, header.withdrawals_root) {
        (Some(w), Some(root)) => mismatch("withdrawalsRoot", root, calculate_withdrawals_root(w))?,
        (None, None) => {}
        (Some(_), None) => {
            return Err(system("withdrawals in a block whose header has no withdrawals root"));
        }
        (None, Some(_)) => {
            return Err(system("no withdrawals in a block whose header has a withdrawals root"));
        }
    }
    if fork.is_enabled_in(SpecId::OSAKA) && block.size > MAX_RLP_BLOCK_SIZE {
        return Err(system(&format!(
            "{} bytes, over the limit of {MAX_RLP_BLOCK_SIZE}",
            block.size
        )));
    }
    Ok(())
}

fn system(message: &str) -> ImportErrorKind {
    ImportErrorKind::System(message.to_owned())
}

/// The block's transactions with their senders, recovered in parallel,
/// declaring nothing (an access list in a block is a gas discount, not a
/// complete set: lanes knows or predicts each set itself).
fn recover(block: &EthBlock, executor: &EvmExecutor) -> Result<Vec<EvmTx>, ImportErrorKind> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rules = executor.rules();
    let txs = parallel_map(
        block.txs.len(),
        threads,
        || (),
        |(), i| EvmTx::from_envelope(block.txs[i].clone(), &rules).map(EvmTx::undeclared),
    );
    txs.into_iter()
        .enumerate()
        .map(|(index, tx)| tx.map_err(|e| ImportErrorKind::Tx { index, reason: e.to_string() }))
        .collect()
}

/// Adds `amount` to `address`'s balance as a derived write (`fork`'s rule
/// for an account left empty: kept before EIP-161, deleted from it).
fn credit(
    bank: &Bank,
    address: Address,
    amount: U256,
    fork: SpecId,
) -> Result<(), ImportErrorKind> {
    let mut view = bank.recording_view();
    set_balance(&mut view, address, |b| b.saturating_add(amount), fork)?;
    bank.apply_derived(view);
    Ok(())
}

/// Sets `address`'s balance to `f` of it, creating the account (as geth's
/// state does when it touches one): an account left empty exists before
/// EIP-161 ([`EXISTING_EMPTY`]) and is deleted from it.
fn set_balance(
    view: &mut StateView<'_>,
    address: Address,
    f: impl FnOnce(U256) -> U256,
    fork: SpecId,
) -> Result<U256, ImportErrorKind> {
    let state = |e: TxError| ImportErrorKind::State(e.to_string());
    let mut account = view.account(&address).map_err(state)?;
    let old = account.balance;
    account.balance = f(old);
    let empty = account.nonce == 0 && account.balance.is_zero() && !has_code(&account.code_hash);
    account.code_hash = match (empty, fork.is_enabled_in(SpecId::SPURIOUS_DRAGON)) {
        (true, false) => EXISTING_EMPTY,
        (true, true) => alloy_primitives::KECCAK256_EMPTY,
        (false, _) if account.code_hash.is_zero() => alloy_primitives::KECCAK256_EMPTY,
        (false, _) => account.code_hash,
    };
    view.set_account(&address, account).map_err(state)?;
    Ok(old)
}

fn system_call(
    bank: &Bank,
    executor: &EvmExecutor,
    what: &str,
    address: Address,
    input: Bytes,
) -> Result<Option<Bytes>, ImportErrorKind> {
    executor.system_call(bank, address, input).map_err(|e| match e {
        TxError::State(e) => ImportErrorKind::State(e),
        other => ImportErrorKind::System(format!("{what}: {other}")),
    })
}

/// The DAO fork's state change and the system calls that come before the
/// transactions.
fn before_txs(
    bank: &Bank,
    executor: &EvmExecutor,
    spec: &EthSpec,
    header: &Header,
    fork: SpecId,
) -> Result<(), ImportErrorKind> {
    if spec.dao_fork_block() == Some(header.number) {
        // As geth: every listed account is emptied (and so created, if it
        // was not there), the refund contract credited.
        let mut view = bank.recording_view();
        let mut drained = U256::ZERO;
        for address in DAO_HARDFORK_ACCOUNTS {
            let old = set_balance(&mut view, address, |_| U256::ZERO, fork)?;
            drained = drained.saturating_add(old);
        }
        set_balance(&mut view, DAO_HARDFORK_BENEFICIARY, |b| b.saturating_add(drained), fork)?;
        bank.apply_derived(view);
    }
    if fork.is_enabled_in(SpecId::CANCUN) && header.number > 0 {
        let root = header.parent_beacon_block_root.unwrap_or_default();
        let input = Bytes::copy_from_slice(root.as_slice());
        system_call(bank, executor, "EIP-4788 beacon root", eip4788::BEACON_ROOTS_ADDRESS, input)?;
    }
    if fork.is_enabled_in(SpecId::PRAGUE) && header.number > 0 {
        let input = Bytes::copy_from_slice(header.parent_hash.as_slice());
        let to = eip2935::HISTORY_STORAGE_ADDRESS;
        system_call(bank, executor, "EIP-2935 block hash history", to, input)?;
    }
    Ok(())
}

/// Each transaction's gas limit must fit in what the block had left before
/// it (checked once all ran: it does not change what any of them did).
fn check_gas_allowance(bank: &Bank, txs: &[EvmTx], header: &Header) -> Result<(), ImportErrorKind> {
    let mut used = 0u64;
    let receipts = bank.receipts();
    for (index, (tx, receipt)) in txs.iter().zip(receipts).enumerate() {
        let cumulative = receipt.cumulative_gas_used;
        let left = header.gas_limit.saturating_sub(used);
        let limit = tx.envelope().gas_limit();
        if limit > left {
            return Err(ImportErrorKind::Tx {
                index,
                reason: format!("gas limit {limit} is over the {left} gas the block has left"),
            });
        }
        used = cumulative;
    }
    Ok(())
}

fn bank_receipts(bank: &Bank) -> Vec<EvmReceiptData> {
    let receipts = bank.receipts();
    receipts.iter().map(|r| EvmReceiptData::from_outcome(&r.outcome).unwrap_or_default()).collect()
}

/// Block rewards, Prague's requests and the withdrawals, after the
/// transactions; the requests (`None` before Prague).
fn after_txs(
    bank: &Bank,
    executor: &EvmExecutor,
    block: &EthBlock,
    ctx: &ImportContext<'_>,
    merged: bool,
    fork: SpecId,
    receipts: &[EvmReceiptData],
) -> Result<Option<Requests>, ImportErrorKind> {
    let header = &block.header;
    let blobs: u64 =
        block.txs.iter().map(|t| t.blob_versioned_hashes().map_or(0, |h| h.len() as u64)).sum();
    if fork.is_enabled_in(SpecId::CANCUN) {
        let used = header.blob_gas_used.unwrap_or(0);
        mismatch("blobGasUsed", used, blobs.saturating_mul(GAS_PER_BLOB))?;
    }
    for (address, reward) in block_rewards(ctx.spec, header, &block.ommers, merged) {
        credit(bank, address, reward, fork)?;
    }
    let requests = if fork.is_enabled_in(SpecId::PRAGUE) {
        let mut requests = Requests::default();
        let contract = ctx.spec.deposit_contract().unwrap_or_default();
        let logs = receipts.iter().flat_map(|r| &r.logs);
        let deposits = deposit_requests(contract, logs).map_err(ImportErrorKind::System)?;
        requests.push_request_with_type(alloy_eips::eip6110::DEPOSIT_REQUEST_TYPE, deposits);
        for (what, address, ty) in [
            (
                "EIP-7002 withdrawal requests",
                eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
                eip7002::WITHDRAWAL_REQUEST_TYPE,
            ),
            (
                "EIP-7251 consolidation requests",
                eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
                eip7251::CONSOLIDATION_REQUEST_TYPE,
            ),
        ] {
            let output = system_call(bank, executor, what, address, Bytes::new())?
                .ok_or_else(|| system(&format!("{what}: no code at {address}")))?;
            requests.push_request_with_type(ty, output);
        }
        Some(requests)
    } else {
        None
    };
    for w in block.withdrawals.iter().flatten() {
        credit(bank, w.address, w.amount_wei(), fork)?;
    }
    Ok(requests)
}

/// What execution gave against the header.
fn check_results(
    block: &EthBlock,
    sealed: &SealedBlock,
    receipts: &[ReceiptEnvelope],
    requests: Option<&Requests>,
    fork: SpecId,
) -> Result<(), ImportErrorKind> {
    let header = &block.header;
    mismatch("gasUsed", header.gas_used, sealed.block.header.gas_used)?;
    let mut bloom = Bloom::ZERO;
    for r in receipts {
        bloom.accrue_bloom(r.logs_bloom());
    }
    mismatch("logsBloom", header.logs_bloom, bloom)?;
    if fork.is_enabled_in(SpecId::BYZANTIUM) {
        mismatch("receiptsRoot", header.receipts_root, sealed.block.header.receipts_root)?;
    }
    if let Some(requests) = requests {
        mismatch(
            "requestsHash",
            header.requests_hash.unwrap_or_default(),
            requests.requests_hash(),
        )?;
    }
    Ok(())
}

/// An Amsterdam block's access list against what its execution touched:
/// the list it came with, where it has one (the first difference named),
/// and the hash its header commits to.
fn check_access_list(block: &EthBlock, sealed: &SealedBlock) -> Result<(), ImportErrorKind> {
    let Some(accesses) = &sealed.accesses else {
        return Err(ImportErrorKind::State(
            "the chain's banks record no accesses: an Amsterdam block's list cannot be checked"
                .into(),
        ));
    };
    let ours = block_access_list(accesses, &sealed.receipts);
    if let Some(difference) = block.access_list.as_ref().and_then(|l| first_difference(&ours, l)) {
        return Err(ImportErrorKind::AccessList(difference));
    }
    let committed = block.header.block_access_list_hash.unwrap_or_default();
    mismatch("blockAccessListHash", committed, block_access_list_hash(&ours))
}

/// The sets a lanes block of an imported chain recorded, one per
/// transaction in order: what [`import_block`] replays it with.
pub fn recorded_sets(block: &lanes_runtime::Block) -> Vec<Admitted> {
    block
        .txs()
        .map(|t| Admitted {
            access: (!t.access.is_empty()).then(|| t.access.clone()),
            source: t.source,
        })
        .collect()
}

/// A chain's tip, as fork choice weighs it: its number and its total
/// difficulty (every block's difficulty to it, genesis included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tip {
    /// Its block number.
    pub number: u64,
    /// Its total difficulty.
    pub total_difficulty: U256,
}

/// Ethereum's fork choice between the chain's head and a side branch's
/// tip: before the merge the heavier one (greater total difficulty; a tie
/// keeps the head, as geth), after it (`merged`: the head's total
/// difficulty is zero, or the branch's block has no difficulty) the
/// longer. Whether the chain reorganises onto `branch`.
pub fn prefers_branch(head: Tip, branch: Tip, merged: bool) -> bool {
    match merged {
        true => branch.number > head.number,
        false => branch.total_difficulty > head.total_difficulty,
    }
}

#[cfg(test)]
mod fork_choice_tests {
    use super::*;

    #[test]
    fn test_before_the_merge_the_heavier_branch_wins_and_after_it_the_longer() {
        let tip = |number, td: u64| Tip { number, total_difficulty: U256::from(td) };
        // A shorter branch of more work wins before the merge, not after.
        assert!(prefers_branch(tip(10, 100), tip(9, 101), false));
        assert!(!prefers_branch(tip(10, 100), tip(9, 101), true));
        // A longer branch of less work wins only after it.
        assert!(!prefers_branch(tip(10, 100), tip(11, 99), false));
        assert!(prefers_branch(tip(10, 100), tip(11, 99), true));
        // A tie keeps the head.
        assert!(!prefers_branch(tip(10, 100), tip(10, 100), false));
        assert!(!prefers_branch(tip(10, 0), tip(10, 0), true));
    }
}
