//! State files in anvil's format (`anvil_dumpState` / `anvil_loadState`,
//! `--dump-state`, `--load-state`, `--state`): every account's nonce,
//! balance, code and storage as JSON, gzipped when it travels over RPC.
//!
//! A dump from anvil 1.x loads here and a dump from lanes loads into anvil.
//! Only the accounts are lanes' to take: anvil's `blocks` and `transactions`
//! are its own chain's history, which a lanes chain cannot adopt, so a load
//! writes the accounts (merged over the current state, as anvil merges) in a
//! block of their own, recorded in the ledger like every dev control. A lanes
//! dump leaves `block`, `blocks` and `transactions` empty, which anvil reads
//! as "accounts only".

use std::collections::BTreeMap;
use std::io::Read;

use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256};
use flate2::read::{GzDecoder, GzEncoder};
use lanes_accounts_db::{AccountHeader, AccountsRead, DEFAULT_MAX_CODE_LEN, Entry, ReadView};
use serde::{Deserialize, Serialize};

/// The most bytes a state file may hold once decompressed: a bound on what
/// one load parses and writes in one block.
pub const MAX_STATE_FILE_BYTES: u64 = 1 << 30;

/// A state file: anvil's `SerializableState`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StateFile {
    /// anvil's block environment at the dump; lanes keeps its own chain's.
    #[serde(default)]
    pub block: Option<serde_json::Value>,
    /// Every account, by address.
    pub accounts: BTreeMap<Address, StateAccount>,
    /// anvil's head number at the dump.
    #[serde(default)]
    pub best_block_number: Option<serde_json::Value>,
    /// anvil's blocks (not replayed by lanes).
    #[serde(default)]
    pub blocks: Vec<serde_json::Value>,
    /// anvil's transactions (not replayed by lanes).
    #[serde(default)]
    pub transactions: Vec<serde_json::Value>,
    /// anvil's kept historical states (not read by lanes).
    #[serde(default)]
    pub historical_states: Option<serde_json::Value>,
}

/// One account of a [`StateFile`].
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct StateAccount {
    /// anvil writes a JSON number; a hex string is read too.
    #[serde(with = "nonce")]
    pub nonce: u64,
    /// Wei held.
    pub balance: U256,
    /// Runtime code (empty for none).
    pub code: Bytes,
    /// Written as anvil writes it (32-byte words); read leniently.
    #[serde(with = "words")]
    pub storage: BTreeMap<U256, U256>,
}

mod words {
    use std::collections::BTreeMap;

    use alloy_primitives::{B256, U256};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(
        map: &BTreeMap<U256, U256>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let words: BTreeMap<B256, B256> =
            map.iter().map(|(k, v)| (B256::from(*k), B256::from(*v))).collect();
        words.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<U256, U256>, D::Error> {
        BTreeMap::<U256, U256>::deserialize(d)
    }
}

mod nonce {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(n: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(*n)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Nonce {
            Number(u64),
            Hex(alloy_primitives::U64),
        }
        Ok(match Nonce::deserialize(d)? {
            Nonce::Number(n) => n,
            Nonce::Hex(n) => n.to(),
        })
    }
}

/// A state file that cannot be read or used.
#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    /// Not gzip, or not JSON in anvil's layout.
    #[error("state file is not gzip or JSON in anvil's format: {0}")]
    Format(String),
    /// Over [`MAX_STATE_FILE_BYTES`] once decompressed.
    #[error("state file is over {MAX_STATE_FILE_BYTES} bytes decompressed")]
    TooBig,
    /// An account's code is longer than the accounts database keeps.
    #[error("account {address}: code of {len} bytes is over the {DEFAULT_MAX_CODE_LEN}-byte limit")]
    CodeTooLong {
        /// The account.
        address: Address,
        /// Its code's length.
        len: usize,
    },
    /// The state could not be read for a dump.
    #[error("reading the state failed: {0}")]
    State(String),
}

impl StateFile {
    /// Parses a file's bytes: anvil's JSON, or the same gzipped (what
    /// `anvil_dumpState` answers).
    pub fn parse(bytes: &[u8]) -> Result<Self, StateFileError> {
        let mut json = Vec::new();
        let text: &[u8] = if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut decoder = GzDecoder::new(bytes).take(MAX_STATE_FILE_BYTES + 1);
            decoder
                .read_to_end(&mut json)
                .map_err(|e| StateFileError::Format(format!("gzip: {e}")))?;
            &json
        } else {
            bytes
        };
        if text.len() as u64 > MAX_STATE_FILE_BYTES {
            return Err(StateFileError::TooBig);
        }
        serde_json::from_slice(text).map_err(|e| StateFileError::Format(e.to_string()))
    }

    /// The state `view` holds, account by account.
    pub fn dump(view: &ReadView) -> Result<Self, StateFileError> {
        let state = |e: &dyn std::fmt::Display| StateFileError::State(e.to_string());
        let mut headers = BTreeMap::new();
        let mut storage: BTreeMap<Address, BTreeMap<U256, U256>> = BTreeMap::new();
        view.for_each(|entry| match entry {
            Entry::Account(address, header) => drop(headers.insert(address, header)),
            Entry::Storage(address, slot, value) if !value.is_zero() => {
                storage.entry(address).or_default().insert(U256::from_be_bytes(slot.0), value);
            }
            _ => {}
        })
        .map_err(|e| state(&e))?;
        // The chain id anvil_setChainId set is the node's, not an account's.
        storage.remove(&crate::dev::CHAIN_ID_ADDRESS);
        let mut accounts = BTreeMap::new();
        for (address, header) in headers {
            let code = if lanes_evm_adapter::has_code(&header.code_hash) {
                view.get_code(&header.code_hash).map_err(|e| state(&e))?.unwrap_or_default()
            } else {
                Bytes::new()
            };
            let storage = storage.remove(&address).unwrap_or_default();
            let account =
                StateAccount { nonce: header.nonce, balance: header.balance, code, storage };
            accounts.insert(address, account);
        }
        // Storage of an account with no header (possible for written slots).
        for (address, storage) in storage {
            accounts.insert(address, StateAccount { storage, ..StateAccount::default() });
        }
        Ok(Self { accounts, ..Self::default() })
    }

    /// The file as anvil writes it (`--dump-state`): pretty JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("plain maps and strings serialize")
    }

    /// The file gzipped, as `anvil_dumpState` answers it.
    pub fn to_gzip(&self) -> Vec<u8> {
        let json = serde_json::to_vec(self).expect("plain maps and strings serialize");
        let mut out = Vec::new();
        GzEncoder::new(&json[..], flate2::Compression::default())
            .read_to_end(&mut out)
            .expect("gzip into memory");
        out
    }

    /// The writes that load this file over `view`'s state: each account's
    /// header and code, and its storage slots (other slots stay).
    pub fn entries(&self) -> Result<Vec<Entry>, StateFileError> {
        let mut entries = Vec::new();
        for (address, account) in &self.accounts {
            if account.code.len() > DEFAULT_MAX_CODE_LEN {
                return Err(StateFileError::CodeTooLong {
                    address: *address,
                    len: account.code.len(),
                });
            }
            let code_hash =
                if account.code.is_empty() { KECCAK256_EMPTY } else { keccak256(&account.code) };
            if !account.code.is_empty() {
                entries.push(Entry::Code(code_hash, account.code.clone()));
            }
            let header =
                AccountHeader { nonce: account.nonce, balance: account.balance, code_hash };
            entries.push(Entry::Account(*address, header));
            for (slot, value) in &account.storage {
                entries.push(Entry::Storage(*address, B256::from(*slot), *value));
            }
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_anvil_json_and_gzip_alike() {
        let json = br#"{"block":null,"accounts":{"0x1111111111111111111111111111111111111111":
            {"nonce":3,"balance":"0x10","code":"0x6001","storage":{"0x01":"0xff"}}},
            "best_block_number":"0x2","blocks":[],"transactions":[],"historical_states":null}"#;
        let plain = StateFile::parse(json).unwrap();
        let account = &plain.accounts[&Address::repeat_byte(0x11)];
        assert_eq!(account.nonce, 3);
        assert_eq!(account.storage[&U256::from(1)], U256::from(0xff));
        assert_eq!(StateFile::parse(&plain.to_gzip()).unwrap(), plain);
        let entries = plain.entries().unwrap();
        assert!(entries.contains(&Entry::Storage(
            Address::repeat_byte(0x11),
            B256::with_last_byte(1),
            U256::from(0xff)
        )));
    }

    #[test]
    fn refuses_what_is_not_a_state_file() {
        assert!(matches!(StateFile::parse(b"{\"accounts\": 5}"), Err(StateFileError::Format(_))));
        assert!(matches!(StateFile::parse(&[0x1f, 0x8b, 0, 1]), Err(StateFileError::Format(_))));
    }
}
