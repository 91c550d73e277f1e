//! A forked chain's state below its own blocks ([`ForkBacking`]): each key
//! the accounts database never held, read from the upstream at the fork
//! block the first time it is needed, and kept — in memory and in a cache
//! file in the data folder — so no key is ever fetched twice, across
//! restarts and kill -9.
//!
//! ```text
//! cache file = record*
//! record     = payload length u32 LE | xxh3-64 of payload u64 LE | payload
//! payload    = borsh Fetched
//! ```
//!
//! A torn last record is cut on open; a damaged one before it is refused,
//! naming the file and offset.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256};
use borsh::{BorshDeserialize, BorshSerialize};
use lanes_accounts_db::{AccountHeader, Backing, Key, StorageError};
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::upstream::Upstream;

/// One fetched value, as the cache file keeps it.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
enum Fetched {
    Account(Address, Option<AccountHeader>),
    Storage(Address, B256, U256),
    Code(B256, Bytes),
}

#[derive(Debug, Default)]
struct Cache {
    accounts: HashMap<Address, Option<AccountHeader>>,
    slots: HashMap<(Address, B256), U256>,
    code: HashMap<B256, Bytes>,
}

impl Cache {
    fn keep(&mut self, f: Fetched) {
        match f {
            Fetched::Account(a, h) => drop(self.accounts.insert(a, h)),
            Fetched::Storage(a, s, v) => drop(self.slots.insert((a, s), v)),
            Fetched::Code(h, c) => drop(self.code.insert(h, c)),
        }
    }
}

/// The upstream's state at the fork block, fetched a key at a time and kept.
#[derive(Debug)]
pub struct ForkBacking {
    upstream: Arc<Upstream>,
    /// The fork block, as the upstream's calls take it.
    at: String,
    cache: Mutex<Cache>,
    /// A lock per key being fetched: a second reader waits for the first's
    /// answer instead of asking again.
    fetching: Mutex<HashMap<Key, Arc<Mutex<()>>>>,
    path: PathBuf,
    file: Mutex<File>,
}

impl ForkBacking {
    /// The backing of a fork of `upstream` at block `number`, its cache in
    /// the file `path` (read back, a torn tail cut).
    pub fn open(upstream: Arc<Upstream>, number: u64, path: &Path) -> std::io::Result<Self> {
        let mut cache = Cache::default();
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut at = 0;
        while bytes.len() - at >= 12 {
            let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
            let sum = u64::from_le_bytes(bytes[at + 4..at + 12].try_into().expect("8 bytes"));
            let Some(payload) = bytes.get(at + 12..at + 12 + len) else { break };
            let whole = at + 12 + len == bytes.len();
            let decoded = (xxhash_rust::xxh3::xxh3_64(payload) == sum)
                .then(|| Fetched::try_from_slice(payload).ok())
                .flatten();
            match decoded {
                Some(f) => cache.keep(f),
                None if whole => break, // a torn write of the last record
                None => {
                    return Err(std::io::Error::other(format!(
                        "fork cache {} is damaged at byte {at}",
                        path.display()
                    )));
                }
            }
            at += 12 + len;
        }
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(path)?;
        file.set_len(at as u64)?;
        let mut file = file;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::End(0))?;
        Ok(Self {
            upstream,
            at: format!("0x{number:x}"),
            cache: Mutex::new(cache),
            fetching: Mutex::default(),
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    /// How many keys it holds (accounts, slots, code).
    pub fn cached(&self) -> (usize, usize, usize) {
        let c = self.cache.lock();
        (c.accounts.len(), c.slots.len(), c.code.len())
    }

    /// Keeps `fetched` in memory and appends it to the cache file (written,
    /// not synced: it survives the process being killed; a power loss costs
    /// at most refetching).
    fn keep(&self, fetched: Vec<Fetched>) -> Result<(), StorageError> {
        let mut out = Vec::new();
        for f in &fetched {
            let payload = borsh::to_vec(f).expect("writing to a Vec cannot fail");
            out.extend((payload.len() as u32).to_le_bytes());
            out.extend(xxhash_rust::xxh3::xxh3_64(&payload).to_le_bytes());
            out.extend(payload);
        }
        self.file
            .lock()
            .write_all(&out)
            .map_err(|source| StorageError::Io { path: self.path.clone(), source })?;
        let mut cache = self.cache.lock();
        for f in fetched {
            cache.keep(f);
        }
        Ok(())
    }

    /// Runs `fetch` for `key` unless `cached` finds it, once across threads.
    fn once<T>(
        &self,
        key: Key,
        cached: impl Fn(&Cache) -> Option<T>,
        fetch: impl FnOnce() -> Result<(T, Vec<Fetched>), StorageError>,
    ) -> Result<T, StorageError> {
        if let Some(v) = cached(&self.cache.lock()) {
            return Ok(v);
        }
        let lock = self.fetching.lock().entry(key).or_default().clone();
        let _held = lock.lock();
        if let Some(v) = cached(&self.cache.lock()) {
            return Ok(v);
        }
        let (value, fetched) = fetch()?;
        self.keep(fetched)?;
        self.fetching.lock().remove(&key);
        Ok(value)
    }
}

fn backing_error(e: impl std::fmt::Display) -> StorageError {
    StorageError::Backing(e.to_string())
}

fn parse<T: serde::de::DeserializeOwned>(method: &str, v: Value) -> Result<T, StorageError> {
    serde_json::from_value(v.clone())
        .map_err(|e| backing_error(format!("fork upstream: {method} answered {v}: {e}")))
}

impl Backing for ForkBacking {
    fn account(&self, address: &Address) -> Result<Option<AccountHeader>, StorageError> {
        self.once(
            Key::Account(*address),
            |c| c.accounts.get(address).copied(),
            || {
                let params = json!([address, self.at]);
                let answers = self
                    .upstream
                    .batch(&[
                        ("eth_getBalance", params.clone()),
                        ("eth_getTransactionCount", params.clone()),
                        ("eth_getCode", params),
                    ])
                    .map_err(backing_error)?;
                let mut answers = answers.into_iter();
                let mut next = || answers.next().unwrap_or(Value::Null);
                let balance: U256 = parse("eth_getBalance", next())?;
                let nonce: alloy_primitives::U64 = parse("eth_getTransactionCount", next())?;
                let code: Bytes = parse("eth_getCode", next())?;
                let nonce = nonce.to::<u64>();
                let code_hash = if code.is_empty() { KECCAK256_EMPTY } else { keccak256(&code) };
                let exists = !balance.is_zero() || nonce != 0 || !code.is_empty();
                let header = exists.then_some(AccountHeader { nonce, balance, code_hash });
                let mut fetched = vec![Fetched::Account(*address, header)];
                if !code.is_empty() {
                    fetched.push(Fetched::Code(code_hash, code));
                }
                Ok((header, fetched))
            },
        )
    }

    fn storage(&self, address: &Address, slot: &B256) -> Result<U256, StorageError> {
        self.once(
            Key::Storage(*address, *slot),
            |c| c.slots.get(&(*address, *slot)).copied(),
            || {
                let params = json!([address, U256::from_be_bytes(slot.0), self.at]);
                let value =
                    self.upstream.call("eth_getStorageAt", params).map_err(backing_error)?;
                let value: B256 = parse("eth_getStorageAt", value)?;
                let value = U256::from_be_bytes(value.0);
                Ok((value, vec![Fetched::Storage(*address, *slot, value)]))
            },
        )
    }

    fn code(&self, hash: &B256) -> Result<Option<Bytes>, StorageError> {
        // Code comes with its account; a hash no fetched account named is
        // not the upstream's to answer.
        Ok(self.cache.lock().code.get(hash).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fork::UpstreamLimits;

    /// What was fetched reads back from the cache file after a reopen,
    /// without asking the upstream (here one that is not there); a torn
    /// last record is cut, a damaged one before the end is refused.
    #[test]
    fn test_the_cache_file_survives_a_reopen_and_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::fork::CACHE_FILE);
        let limits = UpstreamLimits { retries: 0, ..UpstreamLimits::default() };
        let upstream = Arc::new(Upstream::new("http://127.0.0.1:1", limits).unwrap());
        let (a, slot) = (Address::repeat_byte(1), B256::repeat_byte(2));
        let header = AccountHeader { nonce: 3, balance: U256::from(4), code_hash: keccak256([5]) };
        let open = || ForkBacking::open(upstream.clone(), 9, &path).unwrap();
        let backing = open();
        assert!(
            matches!(backing.storage(&a, &slot), Err(StorageError::Backing(e)) if e.contains("127.0.0.1:1"))
        );
        backing
            .keep(vec![
                Fetched::Account(a, Some(header)),
                Fetched::Storage(a, slot, U256::from(6)),
                Fetched::Code(header.code_hash, Bytes::from_static(&[5])),
            ])
            .unwrap();
        drop(backing);
        let mut bytes = std::fs::read(&path).unwrap();
        let whole = bytes.len();
        bytes.extend([40, 0, 0, 0, 1, 2]);
        std::fs::write(&path, &bytes).unwrap();
        let backing = open();
        assert_eq!(backing.cached(), (1, 1, 1));
        assert_eq!(backing.account(&a).unwrap(), Some(header));
        assert_eq!(backing.storage(&a, &slot).unwrap(), U256::from(6));
        assert_eq!(backing.code(&header.code_hash).unwrap(), Some(Bytes::from_static(&[5])));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole as u64, "the torn tail is cut");
        drop(backing);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[14] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let err = ForkBacking::open(upstream.clone(), 9, &path).unwrap_err();
        assert!(err.to_string().contains("damaged at byte 0"), "{err}");
    }
}
