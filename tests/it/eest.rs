//! Ethereum's execution-spec tests (EEST v5.4.0, `../shared/fixtures/eest/`:
//! every fork from Frontier to Osaka, the BPO forks and the transitions at
//! timestamp 15,000) through `lanes-validator import`'s own code, as hive's
//! consume-rlp runs them: each test's genesis, its blocks imported, the head
//! and the post-state compared, and each block the test marks invalid refused
//! for the reason its `expectException` names ([`REASONS`]).
//!
//! CI runs a subset ([`in_subset`]); `scripts/eest.sh` runs them all.

use crate::blockchain_tests::{FolderRun, run_folder};

/// The folder of the tests, under `../shared`.
const EEST: &str = "fixtures/eest/stable-v5.4.0/blockchain_tests";

/// The tests in the folder.
const EEST_TESTS: usize = 13_869;

/// Tests known to fail, each with why. A known failure that passes fails
/// the run, as a new failure does. None today.
const KNOWN: &[(&str, &str)] = &[];

/// EEST's exception names, each with what lanes' refusal says for it (any of
/// the phrases). A test naming several (`A|B`) takes any of theirs.
const REASONS: &[(&str, &[&str])] = &[
    // The block's own fields.
    (
        "BlockException.INCORRECT_BLOCK_FORMAT",
        &["undecodable", "header blob_gas_used: expected absent"],
    ),
    ("BlockException.INCORRECT_EXCESS_BLOB_GAS", &["header excess_blob_gas:"]),
    ("BlockException.INVALID_BASEFEE_PER_GAS", &["header base_fee_per_gas:"]),
    ("BlockException.INVALID_GASLIMIT", &["header gas_limit:"]),
    ("BlockException.INVALID_REQUESTS", &["requestsHash: the header says"]),
    ("BlockException.INVALID_WITHDRAWALS_ROOT", &["withdrawalsRoot: the header says"]),
    ("BlockException.INVALID_BLOCK_HASH", &["withdrawalsRoot: the header says"]),
    ("BlockException.INVALID_DEPOSIT_EVENT_LAYOUT", &["deposit event"]),
    ("BlockException.INVALID_VERSIONED_HASHES", &["blob version not supported"]),
    ("BlockException.RLP_STRUCTURES_ENCODING", &["undecodable", "in its network form"]),
    ("BlockException.SYSTEM_CONTRACT_CALL_FAILED", &["system call to"]),
    ("BlockException.SYSTEM_CONTRACT_EMPTY", &["requests: no code at"]),
    // A transaction's.
    (
        "TransactionException.GAS_ALLOWANCE_EXCEEDED",
        &[
            "caller gas limit exceeds the block gas limit",
            "over the block's gas limit",
            "the block has left",
        ],
    ),
    ("TransactionException.GASLIMIT_PRICE_PRODUCT_OVERFLOW", &["gas × price overflows"]),
    ("TransactionException.GAS_LIMIT_EXCEEDS_MAXIMUM", &["is greater than the cap"]),
    ("TransactionException.INITCODE_SIZE_EXCEEDED", &["create initcode size limit"]),
    ("TransactionException.INSUFFICIENT_ACCOUNT_FUNDS", &["lack of funds"]),
    (
        "TransactionException.INSUFFICIENT_MAX_FEE_PER_BLOB_GAS",
        &["is greater than max fee per blob gas"],
    ),
    ("TransactionException.INSUFFICIENT_MAX_FEE_PER_GAS", &["gas price is less than basefee"]),
    ("TransactionException.INTRINSIC_GAS_BELOW_FLOOR_GAS_COST", &["gas floor"]),
    ("TransactionException.INTRINSIC_GAS_TOO_LOW", &["call gas cost"]),
    ("TransactionException.NONCE_IS_MAX", &["nonce overflow"]),
    ("TransactionException.NONCE_MISMATCH_TOO_HIGH", &["too high, expected"]),
    ("TransactionException.NONCE_MISMATCH_TOO_LOW", &["too low, expected"]),
    (
        "TransactionException.PRIORITY_GREATER_THAN_MAX_FEE_PER_GAS",
        &["priority fee is greater than max fee"],
    ),
    ("TransactionException.SENDER_NOT_EOA", &["senders with deployed code"]),
    ("TransactionException.TYPE_1_TX_PRE_FORK", &["Eip2930 is not supported"]),
    ("TransactionException.TYPE_2_TX_PRE_FORK", &["Eip1559 is not supported"]),
    ("TransactionException.TYPE_3_TX_PRE_FORK", &["unsupported transaction type 0x3"]),
    ("TransactionException.TYPE_4_TX_PRE_FORK", &["Eip7702 is not supported"]),
    // A block whose header already claims more blob gas than a block may
    // hold is refused on its header, before its transactions.
    (
        "TransactionException.TYPE_3_TX_MAX_BLOB_GAS_ALLOWANCE_EXCEEDED",
        &["header blob_gas_used: expected at most", "too many blobs"],
    ),
    ("TransactionException.TYPE_3_TX_BLOB_COUNT_EXCEEDED", &["too many blobs"]),
    ("TransactionException.TYPE_3_TX_CONTRACT_CREATION", &["a type-3 transaction cannot create"]),
    ("TransactionException.TYPE_3_TX_INVALID_BLOB_VERSIONED_HASH", &["blob version not supported"]),
    ("TransactionException.TYPE_3_TX_WITH_FULL_BLOBS", &["in its network form"]),
    ("TransactionException.TYPE_3_TX_ZERO_BLOBS", &["empty blobs"]),
    ("TransactionException.TYPE_4_EMPTY_AUTHORIZATION_LIST", &["empty authorization list"]),
    ("TransactionException.TYPE_4_TX_CONTRACT_CREATION", &["a type-4 transaction cannot create"]),
];

/// Whether lanes' refusal `lanes` is the reason `expected` names.
fn eest_reason(expected: &str, lanes: &str) -> Result<(), String> {
    let mut named = false;
    for name in expected.split('|') {
        let Some((_, phrases)) = REASONS.iter().find(|(n, _)| *n == name) else { continue };
        named = true;
        if phrases.iter().any(|p| lanes.contains(p)) {
            return Ok(());
        }
    }
    if named {
        Err(format!("the test expects {expected}"))
    } else {
        Err(format!("{expected} is not in eest.rs' REASONS"))
    }
}

/// Tests of rules lanes once broke, always in the subset: EIP-7610's
/// collisions, blob transactions in their network form inside a block,
/// system calls out of gas, a gas price over 128 bits, a transaction over
/// the block's gas limit, a contract destroyed and made again at its address.
const ALWAYS: &[&str] = &[
    "eip7610",
    "test_recreate",
    "Collision",
    "collision",
    "test_reject_valid_full_blob_in_block_rlp",
    "test_system_contract_errors",
    "HighGasPrice",
    "test_tx_gas_limit",
];

/// The CI subset: the Prague and Osaka folders, the transitions, [`ALWAYS`]
/// and a twentieth of the rest, chosen by name (the same tests on every run).
fn in_subset(name: &str) -> bool {
    name.starts_with("prague/")
        || name.starts_with("osaka/")
        || name.contains("AtTime15k")
        || ALWAYS.iter().any(|a| name.contains(a))
        || xxhash_rust::xxh3::xxh3_64(name.as_bytes()).is_multiple_of(20)
}

fn report(run: &FolderRun) {
    eprintln!("eest: {} of {} pass, {} known to fail", run.passed, run.ran, run.known);
}

fn eest(select: &(dyn Fn(&str) -> bool + Sync)) {
    let Some(dir) = crate::fixtures::shared(EEST) else { return };
    let run = run_folder(&dir, select, &eest_reason, KNOWN);
    report(&run);
    assert_eq!(run.count, EEST_TESTS, "{} holds {EEST_TESTS} tests", dir.display());
    assert!(run.failures.is_empty(), "{} failed:\n{}", run.failures.len(), run.failures.join("\n"));
}

#[test]
fn test_eest_subset() {
    eest(&in_subset);
}

/// Every test: `scripts/eest.sh` (a release build; a name filter in
/// `LANES_BLOCKCHAIN_TEST`).
#[test]
#[ignore = "the whole set takes minutes: scripts/eest.sh"]
fn test_eest_all() {
    eest(&|_| true);
}

/// Each name in `REASONS` has EEST's exception form, and a refusal that
/// says none of a name's phrases is not its reason.
#[test]
fn test_eest_tables_are_well_formed() {
    for (name, _) in REASONS {
        let (kind, what) = name.split_once('.').expect("Kind.NAME");
        assert!(matches!(kind, "TransactionException" | "BlockException"), "{name}");
        assert!(what.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'));
    }
    assert!(eest_reason("TransactionException.INSUFFICIENT_ACCOUNT_FUNDS", "no").is_err());
}
