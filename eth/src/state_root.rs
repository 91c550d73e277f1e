//! Ethereum's state root: the Merkle-Patricia root of every account, with
//! its storage root, kept from lanes' state ([`StateTrie`]).
//!
//! The trie is built once from a state, then each block's changes update
//! the paths they touch ([`StateTrie::apply`]): a block's root costs what it
//! changed, not what the state holds. A kept version answers EIP-1186 proofs
//! ([`StateTrie::proof`]) against its root.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};
use lanes_accounts_db::{AccountHeader, Entry, ReadView, StorageError};
use lanes_evm_adapter::ParentStorage;
use lanes_runtime::StateCommitment;
use parking_lot::Mutex;

use super::trie::{Trie, TrieValue};

/// The state root of `parent` with `changes` (a sealed block's) applied,
/// from a trie built whole from `parent`: [`StateTrie`] keeps one instead.
pub fn state_root(parent: &ReadView, changes: &[Entry]) -> Result<B256, StorageError> {
    let mut state = StateTrie::load(parent)?;
    state.apply(changes);
    Ok(state.root())
}

/// The state root of a state made of `entries` alone (a genesis alloc).
pub fn state_root_of(entries: &[Entry]) -> B256 {
    let mut state = StateTrie::default();
    state.apply(entries);
    state.root()
}

/// Ethereum's state trie of a lanes state: the account trie, each account
/// with its storage trie. A clone shares every node (a version to keep);
/// an update copies only the paths it changes, and only new nodes are
/// hashed.
///
/// An address is in the trie when it has a header (an account that exists
/// with no nonce, balance or code is kept as `EXISTING_EMPTY`). Slots lanes
/// keeps under an address without one (a deleted account's) are not in the
/// trie; they are kept aside and come back with a header, as they do in
/// lanes' state.
#[derive(Debug, Default)]
pub struct StateTrie {
    accounts: Trie<AccountLeaf>,
    detached: Arc<HashMap<Address, Trie<StoredSlot>>>,
    /// The accounts updated since the last root, by key, with the slots
    /// each wrote.
    changed: Mutex<Vec<(B256, usize)>>,
}

impl Clone for StateTrie {
    fn clone(&self) -> Self {
        Self {
            accounts: self.accounts.clone(),
            detached: self.detached.clone(),
            changed: Mutex::new(self.changed.lock().clone()),
        }
    }
}

/// Accounts changed since the last root from which it is hashed on several
/// threads (and slots of one account from which its storage trie is, a
/// quarter of it): below it, starting them costs more than they save.
const PARALLEL_ROOT_CHANGES: usize = 1024;

/// An account leaf: the header, and the storage trie whose root it holds.
#[derive(Clone, Debug)]
struct AccountLeaf {
    header: AccountHeader,
    storage: Trie<StoredSlot>,
}

/// A storage leaf: the slot itself (the trie files it by its hash, so this
/// is the one place the slot's own key is kept) and its value.
#[derive(Clone, Copy, Debug)]
struct StoredSlot {
    slot: B256,
    value: U256,
}

impl TrieValue for AccountLeaf {
    fn encode_value(&self, out: &mut Vec<u8>) {
        let header = &self.header;
        let code_hash = if lanes_evm_adapter::has_code(&header.code_hash) {
            header.code_hash
        } else {
            KECCAK256_EMPTY
        };
        let account = TrieAccount {
            nonce: header.nonce,
            balance: header.balance,
            storage_root: self.storage.root(),
            code_hash,
        };
        alloy_rlp::Encodable::encode(&account, out);
    }
}

impl TrieValue for StoredSlot {
    fn encode_value(&self, out: &mut Vec<u8>) {
        alloy_rlp::Encodable::encode(&self.value, out);
    }
}

/// One address's changes in a batch.
#[derive(Default)]
struct Pending {
    header: Option<AccountHeader>,
    slots: Vec<(B256, U256)>,
}

impl StateTrie {
    /// The trie of every record of `view`, hashed (so a clone of it carries
    /// no changes to hash).
    pub fn load(view: &ReadView) -> Result<Self, StorageError> {
        let mut entries = Vec::new();
        view.for_each(|entry| entries.push(entry))?;
        let mut state = Self::default();
        state.apply(&entries);
        state.root();
        Ok(state)
    }

    /// Applies records in order (a zero slot deletes it; an empty header
    /// deletes the account), each address's account leaf updated once.
    pub fn apply(&mut self, entries: &[Entry]) {
        let mut pending: BTreeMap<Address, Pending> = BTreeMap::new();
        for entry in entries {
            match entry {
                Entry::Account(address, header) => {
                    pending.entry(*address).or_default().header = Some(*header);
                }
                Entry::Storage(address, slot, value) => {
                    pending.entry(*address).or_default().slots.push((*slot, *value));
                }
                Entry::Code(..) => {}
            }
        }
        for (address, p) in pending {
            self.update(address, p.header, false, &p.slots);
        }
    }

    /// Whether `address` has an account whose storage is not empty.
    pub fn holds_storage(&self, address: &Address) -> bool {
        self.accounts.get(&keccak256(address)).is_some_and(|a| !a.storage.is_empty())
    }

    /// Every slot `address`'s account holds, in no particular order (none
    /// without an account).
    pub fn slots_of(&self, address: &Address) -> Vec<B256> {
        let mut slots = Vec::new();
        if let Some(account) = self.accounts.get(&keccak256(address)) {
            account.storage.for_each(|s| slots.push(s.slot));
        }
        slots
    }

    /// Drops every slot of `address` (a created or destroyed account).
    pub fn clear_storage(&mut self, address: &Address) {
        self.update(*address, None, true, &[]);
    }

    /// The state root; where many keys changed since the last one, hashed
    /// on several threads.
    pub fn root(&self) -> B256 {
        let changed = std::mem::take(&mut *self.changed.lock());
        let threads = match changed.len() {
            n if n >= PARALLEL_ROOT_CHANGES => lanes_runtime::cores().min(8),
            _ => 1,
        };
        if threads > 1 {
            // A contract's storage is one leaf's: its own trie's subtrees
            // on the threads first.
            for (key, _) in changed.iter().filter(|(_, slots)| *slots >= PARALLEL_ROOT_CHANGES / 4)
            {
                if let Some(leaf) = self.accounts.get(key) {
                    leaf.storage.root_on(threads);
                }
            }
        }
        self.accounts.root_on(threads)
    }

    /// EIP-1186's proof of `address` and its `slots` against [`Self::root`]:
    /// the trie's nodes from the root down to each key, or to where its
    /// absence shows.
    pub fn proof(&self, address: &Address, slots: &[B256]) -> StateProof {
        let key = keccak256(address);
        let account = self.accounts.get(&key);
        let storage_proofs = slots
            .iter()
            .map(|slot| {
                let key = keccak256(slot);
                let value =
                    account.and_then(|a| a.storage.get(&key)).map_or(U256::ZERO, |s| s.value);
                let proof = account.map(|a| a.storage.proof(&key)).unwrap_or_default();
                (*slot, value, proof)
            })
            .collect();
        StateProof {
            header: account.map(|a| a.header),
            storage_root: account.map_or(EMPTY_ROOT_HASH, |a| a.storage.root()),
            account_proof: self.accounts.proof(&key),
            storage: storage_proofs,
        }
    }

    /// Sets `address`'s header (`None`: unchanged), drops its slots
    /// (`clear`), then writes `slots`.
    fn update(
        &mut self,
        address: Address,
        header: Option<AccountHeader>,
        clear: bool,
        slots: &[(B256, U256)],
    ) {
        let key = keccak256(address);
        self.changed.get_mut().push((key, slots.len()));
        let (mut current, mut storage) = match self.accounts.get(&key) {
            Some(leaf) => (Some(leaf.header), leaf.storage.clone()),
            None => (None, self.detached.get(&address).cloned().unwrap_or_default()),
        };
        if clear {
            storage = Trie::default();
        }
        for (slot, value) in slots {
            let key = keccak256(slot);
            match value.is_zero() {
                true => storage.remove(&key),
                false => storage.insert(key, StoredSlot { slot: *slot, value: *value }),
            }
        }
        if let Some(header) = header {
            current = (!header.is_empty()).then_some(header);
        }
        let detached = self.detached.contains_key(&address);
        match current {
            Some(header) => {
                self.accounts.insert(key, AccountLeaf { header, storage });
                if detached {
                    Arc::make_mut(&mut self.detached).remove(&address);
                }
            }
            None => {
                self.accounts.remove(&key);
                match storage.is_empty() {
                    true if detached => {
                        Arc::make_mut(&mut self.detached).remove(&address);
                    }
                    true => {}
                    false => {
                        Arc::make_mut(&mut self.detached).insert(address, storage);
                    }
                }
            }
        }
    }
}

impl ParentStorage for StateTrie {
    fn holds(&self, address: &Address) -> bool {
        self.holds_storage(address)
    }

    fn slots(&self, address: &Address) -> Vec<B256> {
        self.slots_of(address)
    }
}

/// State tries kept by the state they are of (its block number and the
/// commitment the state database stores for it), newest last: the newest
/// `keep` of them, sharing every node one block did not change.
pub struct StateTries {
    tries: Mutex<VecDeque<((u64, B256), StateTrie)>>,
    keep: usize,
}

/// State tries an [`MptCommitment`] (and the importer) keeps.
pub const KEPT_STATE_TRIES: usize = 64;

impl std::fmt::Debug for StateTries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateTries").field("kept", &self.tries.lock().len()).finish()
    }
}

impl StateTries {
    /// Keeping the newest `keep` tries (at least one).
    pub fn keeping(keep: usize) -> Self {
        Self { tries: Mutex::default(), keep: keep.max(1) }
    }

    /// The kept trie of `view`'s state, if one is.
    pub fn kept(&self, view: &ReadView) -> Option<StateTrie> {
        let id = view.last_commit().map(|c| (c.block_number, c.commitment)).unwrap_or_default();
        let tries = self.tries.lock();
        tries.iter().find(|(at, _)| *at == id).map(|(_, trie)| trie.clone())
    }

    /// The trie of `view`'s state: a kept one, or one built from it (and
    /// kept).
    pub fn trie_at(&self, view: &ReadView) -> Result<StateTrie, StorageError> {
        if let Some(trie) = self.kept(view) {
            return Ok(trie);
        }
        let trie = StateTrie::load(view)?;
        let id = view.last_commit().map(|c| (c.block_number, c.commitment)).unwrap_or_default();
        self.keep(id.0, id.1, trie.clone());
        Ok(trie)
    }

    /// Keeps `trie`, the trie of block `block`'s state, whose commitment
    /// the state database stores as `commitment`.
    pub fn keep(&self, block: u64, commitment: B256, trie: StateTrie) {
        let mut tries = self.tries.lock();
        if tries.iter().any(|(at, _)| *at == (block, commitment)) {
            return;
        }
        if tries.len() >= self.keep {
            tries.pop_front();
        }
        tries.push_back(((block, commitment), trie));
    }
}

/// Ethereum's state root as a lanes chain's state commitment
/// (`--state-root mpt`): its headers carry the Merkle-Patricia root instead
/// of the lattice hash. The tries of the newest states it committed to are
/// kept ([`KEPT_STATE_TRIES`]), so a block's root starts from its parent's;
/// where none is kept (after a restart, or a revert past them) the parent's
/// is built from its state once.
#[derive(Debug)]
pub struct MptCommitment {
    tries: StateTries,
}

impl Default for MptCommitment {
    fn default() -> Self {
        Self { tries: StateTries::keeping(KEPT_STATE_TRIES) }
    }
}

impl MptCommitment {
    /// The tries it keeps, by state.
    pub fn tries(&self) -> &StateTries {
        &self.tries
    }
}

impl StateCommitment for MptCommitment {
    fn genesis(&self, alloc: &[Entry]) -> B256 {
        state_root_of(alloc)
    }

    fn commit(&self, parent: &ReadView, changes: &[Entry]) -> Result<B256, StorageError> {
        let mut trie = self.tries.trie_at(parent)?;
        trie.apply(changes);
        let root = trie.root();
        let number = parent.last_commit().map_or(0, |c| c.block_number + 1);
        self.tries.keep(number, root, trie);
        Ok(root)
    }
}

/// [`StateTrie::proof`]'s answer.
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

/// The state root after each of a block's transactions, as receipts before
/// Byzantium carry it (EIP-658 put a status in its place): the state before
/// the block (`parent`), the block's writes before its transactions (the
/// DAO fork's), then each transaction's writes in turn with the fees
/// Ethereum pays the coinbase after each one (lanes pays them at the seal;
/// some ahead of it, `accesses.credits`). With `keep_empty` (before
/// EIP-161) a coinbase paid nothing still exists, as Ethereum's does.
pub fn post_transaction_roots(
    parent: &StateTrie,
    accesses: &lanes_runtime::BlockAccesses,
    receipts: &[lanes_runtime::Receipt],
    keep_empty: bool,
) -> Vec<B256> {
    let coinbase = accesses.coinbase;
    let mut trie = parent.clone();
    let mut held = accesses
        .parent_accounts
        .iter()
        .find(|(a, _)| *a == coinbase)
        .map_or_else(AccountHeader::default, |(_, h)| *h);
    // A record's last write of the coinbase.
    let coinbase_write = |record: &lanes_runtime::TxAccesses| {
        record.accounts.iter().rev().find(|(a, _)| *a == coinbase).map(|(_, h)| *h)
    };
    // A record's writes as entries, and the coinbase as it last wrote it.
    let entries = |record: &lanes_runtime::TxAccesses, held: &mut AccountHeader| -> Vec<Entry> {
        if let Some(h) = coinbase_write(record) {
            *held = h;
        }
        let accounts = record.accounts.iter().map(|&(a, h)| Entry::Account(a, h));
        let slots = record.slots.iter().map(|&(a, s, v)| Entry::Storage(a, s, v));
        accounts.chain(slots).collect()
    };
    trie.apply(&entries(&accesses.before, &mut held));
    let mut owed = U256::ZERO;
    let mut credits = accesses.credits.iter().peekable();
    let mut roots = Vec::with_capacity(receipts.len());
    for (i, (record, receipt)) in accesses.txs.iter().zip(receipts).enumerate() {
        let mut credited = U256::ZERO;
        while let Some((_, amount)) = credits.next_if(|(at, _)| *at == i) {
            credited = credited.saturating_add(*amount);
        }
        held.balance = held.balance.saturating_add(credited);
        owed = owed.saturating_sub(credited);
        let mut list = entries(record, &mut held);
        // Before EIP-161 an empty account is written as one that exists;
        // a coinbase written as none was destroyed, with its fee (which the
        // run then reports as none): it stays deleted.
        let destroyed = coinbase_write(record) == Some(AccountHeader::default());
        owed = owed.saturating_add(receipt.outcome.fee);
        let mut paid = held;
        paid.balance = paid.balance.saturating_add(owed);
        if keep_empty && paid.is_empty() && !destroyed {
            paid.code_hash = lanes_evm_adapter::EXISTING_EMPTY;
        }
        list.push(Entry::Account(coinbase, paid));
        trie.apply(&list);
        roots.push(trie.root());
    }
    roots
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{address, b256};
    use alloy_trie::Nibbles;
    use alloy_trie::proof::verify_proof;
    use lanes_accounts_db::{AccountsDb, AccountsDbConfig};
    use proptest::prelude::*;

    use super::*;

    /// A state as lanes keeps it: headers and slots, each address's
    /// independent of the other.
    type Model = BTreeMap<Address, (Option<AccountHeader>, BTreeMap<B256, U256>)>;

    /// The model's root, built whole by alloy-trie.
    fn model_root(model: &Model) -> B256 {
        let accounts = model.iter().filter_map(|(address, (header, slots))| {
            let header = (*header)?;
            let storage_root =
                alloy_trie::root::storage_root_unhashed(slots.iter().map(|(k, v)| (*k, *v)));
            let code_hash = if lanes_evm_adapter::has_code(&header.code_hash) {
                header.code_hash
            } else {
                KECCAK256_EMPTY
            };
            let (nonce, balance) = (header.nonce, header.balance);
            Some((*address, TrieAccount { nonce, balance, storage_root, code_hash }))
        });
        alloy_trie::root::state_root_unhashed(accounts)
    }

    /// A change: an account set (nonce 0 and balance 0: deleted), a slot
    /// set (0: deleted), or an account's slots dropped.
    fn change() -> impl Strategy<Value = (u8, u8, u8, u8)> {
        (0u8..3, 0u8..6, 0u8..5, 0u8..3)
    }

    /// A block of many changes is hashed on several threads, to the same
    /// root as alloy-trie's whole build.
    #[test]
    fn test_many_changes_hash_on_threads_to_the_same_root() {
        let mut model = Model::new();
        let mut entries = Vec::new();
        for i in 0..3_000u64 {
            let address = Address::from_slice(&keccak256(i.to_be_bytes())[12..]);
            let header = AccountHeader { nonce: i + 1, ..Default::default() };
            let slots = (0..i % 4).map(|s| (B256::with_last_byte(s as u8), U256::from(i + s)));
            model.insert(address, (Some(header), slots.clone().collect()));
            entries.push(Entry::Account(address, header));
            entries.extend(slots.map(|(slot, value)| Entry::Storage(address, slot, value)));
        }
        assert!(model.len() >= PARALLEL_ROOT_CHANGES);
        let mut trie = StateTrie::default();
        trie.apply(&entries);
        assert_eq!(trie.root(), model_root(&model));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Blocks of changes applied to one trie give, after each block, the
        /// root of the state built whole; a proof of each address verifies
        /// against it; a version kept before a block keeps its root.
        #[test]
        fn test_blocks_of_changes_equal_the_state_built_whole(
            blocks in prop::collection::vec(prop::collection::vec(change(), 0..12), 1..8),
        ) {
            let mut trie = StateTrie::default();
            let mut model = Model::new();
            for block in blocks {
                let before = (trie.clone(), trie.root());
                let mut entries = Vec::new();
                for (kind, a, slot, value) in block {
                    let address = Address::repeat_byte(a + 1);
                    let slot = B256::with_last_byte(slot);
                    let (header, slots) = model.entry(address).or_default();
                    match kind {
                        0 => {
                            let h = AccountHeader {
                                nonce: u64::from(value),
                                balance: U256::from(value),
                                ..Default::default()
                            };
                            *header = (!h.is_empty()).then_some(h);
                            entries.push(Entry::Account(address, h));
                        }
                        1 => {
                            let value = U256::from(value);
                            match value.is_zero() {
                                true => slots.remove(&slot),
                                false => slots.insert(slot, value),
                            };
                            entries.push(Entry::Storage(address, slot, value));
                        }
                        _ => {
                            trie.apply(&entries);
                            entries.clear();
                            slots.clear();
                            trie.clear_storage(&address);
                        }
                    }
                }
                trie.apply(&entries);
                let root = trie.root();
                prop_assert_eq!(root, model_root(&model));
                prop_assert_eq!(before.0.root(), before.1);
                for (address, (header, slots)) in &model {
                    let proof = trie.proof(address, &[B256::with_last_byte(1)]);
                    prop_assert_eq!(proof.header, *header);
                    let leaf = header.map(|_| {
                        let account = TrieAccount {
                            nonce: proof.header.unwrap().nonce,
                            balance: proof.header.unwrap().balance,
                            storage_root: proof.storage_root,
                            code_hash: KECCAK256_EMPTY,
                        };
                        alloy_rlp::encode(account)
                    });
                    let key = Nibbles::unpack(keccak256(address));
                    prop_assert!(verify_proof(root, key, leaf, &proof.account_proof).is_ok());
                    let (_, value, slot_proof) = &proof.storage[0];
                    let held = slots.get(&B256::with_last_byte(1)).filter(|_| header.is_some());
                    prop_assert_eq!(*value, held.copied().unwrap_or_default());
                    if header.is_some() && !slot_proof.is_empty() {
                        let key = Nibbles::unpack(keccak256(B256::with_last_byte(1)));
                        let leaf = held.map(alloy_rlp::encode);
                        let verified = verify_proof(proof.storage_root, key, leaf, slot_proof);
                        prop_assert!(verified.is_ok());
                    }
                }
            }
        }
    }

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
        let existing =
            AccountHeader { code_hash: lanes_evm_adapter::EXISTING_EMPTY, ..Default::default() };
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
                AccountHeader {
                    code_hash: lanes_evm_adapter::EXISTING_EMPTY,
                    ..Default::default()
                },
            ),
            Entry::Storage(c, slot, U256::from(5)),
        ];
        assert_eq!(state_root(&db.view(), &changes).unwrap(), state_root_of(&after));
        assert_ne!(state_root(&db.view(), &[]).unwrap(), state_root_of(&after));
    }
}
