//! A recorded Ethereum mainnet block with the state it reads (pevm's
//! `blocks/` format, `shared/fixtures/README.md`), checked as it loads.
//!
//! ```text
//!  <number>/block.json[.gz]         eth_getBlockByNumber(n, true)
//!  <number>/pre_state.json[.gz]     {address: {basic, code, storage, code_hash}}
//!  <number>/block_hashes.json[.gz]  {"<number>": hash}, optional
//! ```
//!
//! Loading proves the conversion exact: the header rebuilt from the JSON
//! hashes to the block's hash, the signed transactions' EIP-2718 encodings
//! give the header's transactions root, and each stored code hash is the
//! keccak256 of the unpadded code.

use alloy_consensus::{Header, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip4895::Withdrawal;
use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256};
use lanes_accounts_db::{AccountHeader, Entry};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One recorded block: its header, signed transactions with their senders,
/// withdrawals, the state it reads and the block hashes it asks for.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The folder it was loaded from.
    pub dir: PathBuf,
    /// The header, whose `hash_slow()` is the block's hash.
    pub header: Header,
    /// The signed transactions in block order (blob ones without sidecars).
    pub txs: Vec<TxEnvelope>,
    /// The sender of each transaction, as the block's JSON `from` gives it.
    pub senders: Vec<Address>,
    /// The withdrawals, from Shanghai on.
    pub withdrawals: Option<Vec<Withdrawal>>,
    /// The state before the block: each account, its code once per hash,
    /// and its nonzero storage slots.
    pub pre_state: Vec<Entry>,
    /// The hashes of earlier blocks that BLOCKHASH reads, by number.
    pub block_hashes: BTreeMap<u64, B256>,
}

/// A fixture file that could not be read, or whose content fails a check.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct FixtureError {
    /// The file (or, for a missing file, the name looked for without `.gz`).
    pub path: PathBuf,
    /// What went wrong.
    pub kind: FixtureErrorKind,
}

/// What went wrong in a fixture file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FixtureErrorKind {
    /// Neither `X.json.gz` nor `X.json` exists.
    #[error("missing (nor with .gz)")]
    Missing,
    /// The file could not be read.
    #[error("unreadable: {0}")]
    Io(std::io::Error),
    /// The file is not valid gzip.
    #[error("bad gzip: {0}")]
    Gzip(std::io::Error),
    /// The content is not the JSON expected.
    #[error("bad JSON: {0}")]
    Json(serde_json::Error),
    /// The header rebuilt from the JSON does not hash to the block's hash.
    #[error("header hashes to {computed}, the block's hash is {expected}")]
    HeaderHash {
        /// `hash_slow()` of the rebuilt header.
        computed: B256,
        /// The JSON `hash`.
        expected: B256,
    },
    /// A transaction's JSON is not a signed transaction alloy accepts.
    #[error("transaction {index}: {source}")]
    Transaction {
        /// Its index in the block.
        index: usize,
        /// alloy's reason.
        source: serde_json::Error,
    },
    /// The transactions' trie root differs from the header's.
    #[error("transactions root {computed}, the header's is {expected}")]
    TransactionsRoot {
        /// The ordered trie root of the EIP-2718 encodings.
        computed: B256,
        /// The header's `transactionsRoot`.
        expected: B256,
    },
    /// A key of the JSON object is not what it names (an address, slot or number).
    #[error("bad key {0:?}")]
    Key(String),
    /// An account's `original_len` is longer than its stored bytecode.
    #[error("account {address}: original_len {len} beyond its {stored}-byte bytecode")]
    CodeLength {
        /// The account.
        address: Address,
        /// Its `original_len`.
        len: usize,
        /// The length of its padded `bytecode`.
        stored: usize,
    },
    /// An account's stored `code_hash` is not the keccak256 of its code.
    #[error("account {address}: code_hash {stored}, its code hashes to {computed}")]
    CodeHash {
        /// The account.
        address: Address,
        /// keccak256 of its unpadded code.
        computed: B256,
        /// The JSON `code_hash`.
        stored: B256,
    },
}

impl FixtureError {
    fn new(path: &Path, kind: FixtureErrorKind) -> Self {
        Self { path: path.to_path_buf(), kind }
    }
}

/// The block as the JSON-RPC answer has it; transactions are converted one
/// by one so an error can name the index.
#[derive(Deserialize)]
struct RawBlock {
    hash: B256,
    #[serde(flatten)]
    header: Header,
    transactions: Vec<serde_json::Value>,
    #[serde(default)]
    withdrawals: Option<Vec<Withdrawal>>,
}

/// One account of `pre_state.json` (revm's serde form of pevm's day).
#[derive(Deserialize)]
struct RawAccount {
    basic: RawBasic,
    code: Option<RawCode>,
    #[serde(default)]
    storage: BTreeMap<String, U256>,
    #[serde(default)]
    code_hash: Option<B256>,
}

#[derive(Deserialize)]
struct RawBasic {
    balance: U256,
    nonce: u64,
}

#[derive(Deserialize)]
struct RawCode {
    bytecode: Bytes,
    original_len: usize,
}

impl Fixture {
    /// Loads and checks the block in `dir`.
    pub fn load(dir: &Path) -> Result<Fixture, FixtureError> {
        let (path, raw) = read_json::<RawBlock>(dir, "block")?;
        let computed = raw.header.hash_slow();
        if computed != raw.hash {
            let kind = FixtureErrorKind::HeaderHash { computed, expected: raw.hash };
            return Err(FixtureError::new(&path, kind));
        }
        let mut txs = Vec::with_capacity(raw.transactions.len());
        let mut senders = Vec::with_capacity(raw.transactions.len());
        for (index, value) in raw.transactions.into_iter().enumerate() {
            let tx: alloy_rpc_types_eth::Transaction =
                serde_json::from_value(value).map_err(|source| {
                    FixtureError::new(&path, FixtureErrorKind::Transaction { index, source })
                })?;
            let (envelope, sender) = tx.inner.into_parts();
            txs.push(envelope);
            senders.push(sender);
        }
        let computed =
            alloy_trie::root::ordered_trie_root_with_encoder(&txs, |tx, buf| tx.encode_2718(buf));
        let expected = raw.header.transactions_root;
        if computed != expected {
            let kind = FixtureErrorKind::TransactionsRoot { computed, expected };
            return Err(FixtureError::new(&path, kind));
        }

        let (path, accounts) = read_json::<BTreeMap<String, RawAccount>>(dir, "pre_state")?;
        let pre_state = pre_state(&path, accounts)?;

        let block_hashes = match read_json::<BTreeMap<String, B256>>(dir, "block_hashes") {
            Ok((path, hashes)) => hashes
                .into_iter()
                .map(|(number, hash)| match number.parse::<u64>() {
                    Ok(number) => Ok((number, hash)),
                    Err(_) => Err(FixtureError::new(&path, FixtureErrorKind::Key(number))),
                })
                .collect::<Result<_, _>>()?,
            Err(FixtureError { kind: FixtureErrorKind::Missing, .. }) => BTreeMap::new(),
            Err(e) => return Err(e),
        };

        Ok(Fixture {
            dir: dir.to_path_buf(),
            header: raw.header,
            txs,
            senders,
            withdrawals: raw.withdrawals,
            pre_state,
            block_hashes,
        })
    }
}

/// The entries of `pre_state.json`, in address order: each account, then
/// its code (the first time its hash appears), then its nonzero slots.
fn pre_state(
    path: &Path,
    accounts: BTreeMap<String, RawAccount>,
) -> Result<Vec<Entry>, FixtureError> {
    let err = |kind| FixtureError::new(path, kind);
    let mut entries = Vec::new();
    let mut codes = BTreeSet::new();
    for (key, account) in accounts {
        let address: Address = key.parse().map_err(|_| err(FixtureErrorKind::Key(key)))?;
        let code = match account.code {
            Some(RawCode { bytecode, original_len: len }) => {
                // revm stores code padded; the account's code is the prefix.
                let code = bytecode.get(..len).ok_or_else(|| {
                    err(FixtureErrorKind::CodeLength { address, len, stored: bytecode.len() })
                })?;
                Bytes::copy_from_slice(code)
            }
            None => Bytes::new(),
        };
        let code_hash = if code.is_empty() { KECCAK256_EMPTY } else { keccak256(&code) };
        if let Some(stored) = account.code_hash
            && stored != code_hash
        {
            return Err(err(FixtureErrorKind::CodeHash { address, computed: code_hash, stored }));
        }
        let header =
            AccountHeader { nonce: account.basic.nonce, balance: account.basic.balance, code_hash };
        // A listed empty account exists (before EIP-161 that changes gas).
        let header = if header.is_empty() {
            AccountHeader { code_hash: lanes_evm_adapter::EXISTING_EMPTY, ..header }
        } else {
            header
        };
        entries.push(Entry::Account(address, header));
        if !code.is_empty() && codes.insert(code_hash) {
            entries.push(Entry::Code(code_hash, code));
        }
        for (slot, value) in account.storage {
            let slot: U256 = slot.parse().map_err(|_| err(FixtureErrorKind::Key(slot)))?;
            if !value.is_zero() {
                entries.push(Entry::Storage(address, B256::from(slot), value));
            }
        }
    }
    Ok(entries)
}

/// Reads `dir/<name>.json.gz`, else `dir/<name>.json`, as JSON; returns
/// the path read with the value.
fn read_json<T: serde::de::DeserializeOwned>(
    dir: &Path,
    name: &str,
) -> Result<(PathBuf, T), FixtureError> {
    let gz = dir.join(format!("{name}.json.gz"));
    let plain = dir.join(format!("{name}.json"));
    let (path, bytes) = match std::fs::read(&gz) {
        Ok(compressed) => {
            let mut bytes = Vec::new();
            flate2::read::GzDecoder::new(compressed.as_slice())
                .read_to_end(&mut bytes)
                .map_err(|e| FixtureError::new(&gz, FixtureErrorKind::Gzip(e)))?;
            (gz, bytes)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match std::fs::read(&plain) {
            Ok(bytes) => (plain, bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(FixtureError::new(&plain, FixtureErrorKind::Missing));
            }
            Err(e) => return Err(FixtureError::new(&plain, FixtureErrorKind::Io(e))),
        },
        Err(e) => return Err(FixtureError::new(&gz, FixtureErrorKind::Io(e))),
    };
    match serde_json::from_slice(&bytes) {
        Ok(value) => Ok((path, value)),
        Err(e) => Err(FixtureError::new(&path, FixtureErrorKind::Json(e))),
    }
}

/// The block folders under `root` (those named by a number), in block
/// order; empty when `root` cannot be read.
pub fn fixture_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(root) else { return Vec::new() };
    let mut dirs: Vec<(u64, PathBuf)> = read
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path())))
        .collect();
    dirs.sort_unstable_by_key(|(number, _)| *number);
    dirs.into_iter().map(|(_, dir)| dir).collect()
}

/// The mainnet block folders the tests run on, or `None` (after saying so)
/// when the folder is absent and `LANES_REQUIRE_FIXTURES=1` is not set.
#[cfg(test)]
pub(super) fn mainnet_block_dirs() -> Option<Vec<PathBuf>> {
    let root =
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/mainnet-blocks"));
    if root.is_dir() {
        return Some(fixture_dirs(root));
    }
    assert!(
        std::env::var("LANES_REQUIRE_FIXTURES").as_deref() != Ok("1"),
        "{} is absent and LANES_REQUIRE_FIXTURES=1",
        root.display()
    );
    println!("skipped: {} is absent", root.display());
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::Transaction;

    #[test]
    fn test_every_mainnet_block_loads_with_its_hash_and_transactions_root() {
        let Some(dirs) = mainnet_block_dirs() else { return };
        assert_eq!(dirs.len(), 42, "the README lists 42 blocks");
        let mut txs = 0;
        for dir in &dirs {
            let f = Fixture::load(dir).unwrap_or_else(|e| panic!("{e}"));
            let number: u64 = dir.file_name().and_then(|n| n.to_str()?.parse().ok()).unwrap();
            assert_eq!(f.header.number, number, "{}", dir.display());
            assert_eq!(f.txs.len(), f.senders.len());
            txs += f.txs.len();
        }
        assert_eq!(txs, 7_442, "the README's transaction count");
    }

    #[test]
    fn test_fixture_dirs_sorts_by_number_not_name() {
        let tmp = tempfile::tempdir().unwrap();
        for name in ["930196", "46147", "19934116", "notes"] {
            std::fs::create_dir(tmp.path().join(name)).unwrap();
        }
        std::fs::write(tmp.path().join("12"), b"a file").unwrap();
        let names: Vec<_> =
            fixture_dirs(tmp.path()).iter().map(|d| d.file_name().unwrap().to_owned()).collect();
        assert_eq!(names, ["46147", "930196", "19934116"]);
        assert!(fixture_dirs(&tmp.path().join("absent")).is_empty());
    }

    #[test]
    fn test_plain_json_loads_and_bad_input_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let missing = Fixture::load(dir).unwrap_err();
        assert!(matches!(missing.kind, FixtureErrorKind::Missing), "{missing}");
        assert!(missing.to_string().contains("block.json"), "{missing}");

        std::fs::write(dir.join("block.json.gz"), b"not gzip").unwrap();
        let gzip = Fixture::load(dir).unwrap_err();
        assert!(matches!(gzip.kind, FixtureErrorKind::Gzip(_)), "{gzip}");
        std::fs::remove_file(dir.join("block.json.gz")).unwrap();

        std::fs::write(dir.join("block.json"), b"{\"hash\": 1}").unwrap();
        let json = Fixture::load(dir).unwrap_err();
        assert!(matches!(json.kind, FixtureErrorKind::Json(_)), "{json}");
    }

    /// Block 46147 (one pre-EIP-155 transfer) written back as plain JSON,
    /// then with its header, a transaction and a code hash altered.
    #[test]
    fn test_altered_block_is_refused_with_the_check_it_fails() {
        let Some(dirs) = mainnet_block_dirs() else { return };
        let src = dirs.iter().find(|d| d.ends_with("46147")).unwrap();
        let (_, block) = read_json::<serde_json::Value>(src, "block").unwrap();
        let (_, state) = read_json::<serde_json::Value>(src, "pre_state").unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let write = |name: &str, v: &serde_json::Value| {
            std::fs::write(dir.join(name), serde_json::to_vec(v).unwrap()).unwrap()
        };
        write("block.json", &block);
        write("pre_state.json", &state);
        let f = Fixture::load(dir).unwrap();
        assert_eq!(f.txs.len(), 1);
        assert_eq!(f.txs[0].chain_id(), None, "pre-EIP-155");
        assert!(f.block_hashes.is_empty());

        let mut header = block.clone();
        header["gasUsed"] = "0x5209".into();
        write("block.json", &header);
        let e = Fixture::load(dir).unwrap_err();
        assert!(matches!(e.kind, FixtureErrorKind::HeaderHash { .. }), "{e}");

        let mut tx = block.clone();
        tx["transactions"][0]["value"] = "0x7a6a".into();
        write("block.json", &tx);
        let e = Fixture::load(dir).unwrap_err();
        assert!(matches!(e.kind, FixtureErrorKind::TransactionsRoot { .. }), "{e}");

        let mut tx = block.clone();
        tx["transactions"][0]["r"] = "0xzz".into();
        write("block.json", &tx);
        let e = Fixture::load(dir).unwrap_err();
        assert!(matches!(e.kind, FixtureErrorKind::Transaction { index: 0, .. }), "{e}");

        write("block.json", &block);
        let with_code = |code: serde_json::Value, code_hash: Option<B256>| {
            let mut state = state.clone();
            let (_, account) = state.as_object_mut().unwrap().iter_mut().next().unwrap();
            account["code"] = code;
            account["code_hash"] = serde_json::json!(code_hash);
            state
        };
        let code = serde_json::json!({"bytecode": "0x6000", "original_len": 1});
        write("pre_state.json", &with_code(code, Some(B256::repeat_byte(1))));
        let e = Fixture::load(dir).unwrap_err();
        assert!(matches!(e.kind, FixtureErrorKind::CodeHash { .. }), "{e}");

        let code = serde_json::json!({"bytecode": "0x6000", "original_len": 3});
        write("pre_state.json", &with_code(code, None));
        let e = Fixture::load(dir).unwrap_err();
        assert!(matches!(e.kind, FixtureErrorKind::CodeLength { len: 3, stored: 2, .. }), "{e}");
    }
}
