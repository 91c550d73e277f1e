//! Ethereum's state root: the Merkle-Patricia root (alloy-trie) of every
//! account, with its storage root, computed from lanes' state.
//!
//! Computed whole, from every record of the parent state and the block's
//! changes: its cost grows with the state, not with the block
//! (`lanes-validator import` prints it per block); an incremental trie is the
//! follow-up. The same whole state answers EIP-1186 proofs
//! ([`MemoryState::proof`]).

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256};
use alloy_trie::proof::ProofRetainer;
use alloy_trie::{EMPTY_ROOT_HASH, HashBuilder, Nibbles, TrieAccount};
use lanes_accounts_db::{AccountHeader, Entry, ReadView, StorageError};

/// One account as the trie sees it.
#[derive(Debug, Default)]
struct Account {
    header: Option<AccountHeader>,
    storage: BTreeMap<B256, U256>,
}

/// The state root of `parent` with `changes` (a sealed block's) applied.
pub fn state_root(parent: &ReadView, changes: &[Entry]) -> Result<B256, StorageError> {
    let mut state = MemoryState::load(parent)?;
    for entry in changes {
        state.apply(entry);
    }
    Ok(state.root())
}

/// The state root of a state made of `entries` alone (a genesis alloc).
pub fn state_root_of(entries: &[Entry]) -> B256 {
    let mut state = MemoryState::default();
    for entry in entries {
        state.apply(entry);
    }
    state.root()
}

/// A whole state held in memory, for the roots of states never stored
/// (`eth_simulateV1`'s blocks, over a stored parent).
#[derive(Debug, Default)]
pub struct MemoryState {
    accounts: BTreeMap<Address, Account>,
}

impl MemoryState {
    /// Every record of `view`.
    pub fn load(view: &ReadView) -> Result<Self, StorageError> {
        let mut state = Self::default();
        view.for_each(|entry| state.apply(&entry))?;
        Ok(state)
    }

    /// Applies one record (a zero slot deletes it; an empty header deletes
    /// the account).
    pub fn apply(&mut self, entry: &Entry) {
        apply(&mut self.accounts, entry);
    }

    /// Drops every slot of `address` (a created or destroyed account).
    pub fn clear_storage(&mut self, address: &Address) {
        if let Some(account) = self.accounts.get_mut(address) {
            account.storage.clear();
        }
    }

    /// Its Merkle-Patricia root.
    pub fn root(&self) -> B256 {
        root(&self.accounts)
    }

    /// EIP-1186's proof of `address` and its `slots` against [`Self::root`]:
    /// the trie's nodes from the root down to each key, or to where its
    /// absence shows. Built from the whole state: its cost grows with the
    /// state.
    pub fn proof(&self, address: &Address, slots: &[B256]) -> StateProof {
        let in_trie = |a: &&Account| a.header.is_some();
        let mut leaves: Vec<(B256, Vec<u8>)> = self
            .accounts
            .iter()
            .filter(|(_, a)| a.header.is_some())
            .map(|(address, a)| (keccak256(address), alloy_rlp::encode(trie_account(a))))
            .collect();
        leaves.sort_unstable_by_key(|(key, _)| *key);
        let account_proof = proof_of(&leaves, keccak256(address));
        let account = self.accounts.get(address).filter(in_trie);
        let storage = account.map(|a| &a.storage);
        let mut slot_leaves: Vec<(B256, Vec<u8>)> = storage
            .into_iter()
            .flatten()
            .map(|(slot, value)| (keccak256(slot), alloy_rlp::encode(value)))
            .collect();
        slot_leaves.sort_unstable_by_key(|(key, _)| *key);
        let storage_proofs = slots
            .iter()
            .map(|slot| {
                let value = storage.and_then(|s| s.get(slot)).copied().unwrap_or_default();
                (*slot, value, proof_of(&slot_leaves, keccak256(slot)))
            })
            .collect();
        StateProof {
            header: account.and_then(|a| a.header),
            storage_root: account.map_or(EMPTY_ROOT_HASH, |a| trie_account(a).storage_root),
            account_proof,
            storage: storage_proofs,
        }
    }
}

/// [`MemoryState::proof`]'s answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateProof {
    /// The account (`None`: not in the trie).
    pub header: Option<AccountHeader>,
    /// Its storage root (the empty trie's for no account).
    pub storage_root: B256,
    /// The account trie's nodes from the root to the account's key.
    pub account_proof: Vec<Bytes>,
    /// Each slot asked: its value and the storage trie's nodes to it.
    pub storage: Vec<(B256, U256, Vec<Bytes>)>,
}

/// The nodes of the trie of `leaves` (sorted by key) on the path to
/// `target`, root first.
fn proof_of(leaves: &[(B256, Vec<u8>)], target: B256) -> Vec<Bytes> {
    let target = Nibbles::unpack(target);
    let retainer = ProofRetainer::new(vec![target]);
    let mut builder = HashBuilder::default().with_proof_retainer(retainer);
    for (key, value) in leaves {
        builder.add_leaf(Nibbles::unpack(key), value);
    }
    builder.root();
    let nodes = builder.take_proof_nodes().matching_nodes_sorted(&target);
    nodes.into_iter().map(|(_, node)| node).collect()
}

/// An account in the trie: its header's fields and its storage's root.
fn trie_account(a: &Account) -> TrieAccount {
    let header = a.header.unwrap_or_default();
    let storage_root =
        alloy_trie::root::storage_root_unhashed(a.storage.iter().map(|(k, v)| (*k, *v)));
    let code_hash =
        if crate::has_code(&header.code_hash) { header.code_hash } else { KECCAK256_EMPTY };
    TrieAccount { nonce: header.nonce, balance: header.balance, storage_root, code_hash }
}

fn apply(state: &mut BTreeMap<Address, Account>, entry: &Entry) {
    match entry {
        Entry::Account(address, header) => {
            state.entry(*address).or_default().header = (!header.is_empty()).then_some(*header);
        }
        Entry::Storage(address, slot, value) => {
            let storage = &mut state.entry(*address).or_default().storage;
            if value.is_zero() {
                storage.remove(slot);
            } else {
                storage.insert(*slot, *value);
            }
        }
        Entry::Code(..) => {}
    }
}

/// An address is in the trie when it has a header (an account that exists
/// with no nonce, balance or code is kept as `EXISTING_EMPTY`). Slots left
/// under an address without one belong to a deleted account and are not in
/// the trie.
fn root(state: &BTreeMap<Address, Account>) -> B256 {
    let accounts = state.iter().filter(|(_, a)| a.header.is_some());
    alloy_trie::root::state_root_unhashed(accounts.map(|(address, a)| (*address, trie_account(a))))
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{address, b256};
    use lanes_accounts_db::{AccountsDb, AccountsDbConfig};

    use super::*;

    #[test]
    fn test_the_empty_state_and_a_known_root() {
        assert_eq!(state_root_of(&[]), alloy_trie::EMPTY_ROOT_HASH);
        // One account with balance 1 wei (as geth computes it).
        let one = AccountHeader { balance: U256::from(1), ..Default::default() };
        let a = address!("0x1000000000000000000000000000000000000000");
        let entries = [Entry::Account(a, one)];
        let expected = alloy_trie::root::state_root_unhashed([(
            a,
            TrieAccount {
                nonce: 0,
                balance: U256::from(1),
                storage_root: alloy_trie::EMPTY_ROOT_HASH,
                code_hash: KECCAK256_EMPTY,
            },
        )]);
        assert_eq!(state_root_of(&entries), expected);
    }

    #[test]
    fn test_changes_over_a_stored_parent_equal_the_whole_state() {
        let dir = tempfile::tempdir().unwrap();
        let db = AccountsDb::open(dir.path(), AccountsDbConfig::default()).unwrap();
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let header =
            |n: u64| AccountHeader { nonce: n, balance: U256::from(n), ..Default::default() };
        let slot = b256!("0x0000000000000000000000000000000000000000000000000000000000000007");
        let genesis = vec![
            Entry::Account(a, header(1)),
            Entry::Account(b, header(2)),
            Entry::Storage(b, slot, U256::from(9)),
        ];
        db.commit(0, B256::ZERO, &genesis).unwrap();
        // Block 1: a deleted, b's slot cleared, a slot on an account that
        // exists empty; slots left under no account are not in the trie.
        let (c, d) = (Address::repeat_byte(3), Address::repeat_byte(4));
        let existing = AccountHeader { code_hash: crate::EXISTING_EMPTY, ..Default::default() };
        let changes = vec![
            Entry::Account(a, AccountHeader::default()),
            Entry::Storage(b, slot, U256::ZERO),
            Entry::Account(c, existing),
            Entry::Storage(c, slot, U256::from(5)),
            Entry::Storage(d, slot, U256::from(6)),
        ];
        let after = [
            Entry::Account(b, header(2)),
            Entry::Account(
                c,
                AccountHeader { code_hash: crate::EXISTING_EMPTY, ..Default::default() },
            ),
            Entry::Storage(c, slot, U256::from(5)),
        ];
        assert_eq!(state_root(&db.view(), &changes).unwrap(), state_root_of(&after));
        assert_ne!(state_root(&db.view(), &[]).unwrap(), state_root_of(&after));
    }
}
