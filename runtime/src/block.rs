//! Blocks: a header and the entries that ran side by side.

use std::fmt;
use std::io::BufWriter;

use alloy_primitives::{Address, B256, Bytes, keccak256};
use borsh::{BorshDeserialize, BorshSerialize};

use crate::access::{AccessSet, AccessSource};
use crate::key::StateKey;
use crate::locks::{LaneKeys, LockConflict, first_conflict};
use crate::outcome::Receipt;
use lanes_accounts_db::Entry;

/// The header of a block. Its hash, roots and `extra` come from the chain's
/// [`HeaderCodec`].
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct BlockHeader {
    /// Height; genesis is 0.
    pub number: u64,
    /// Hash of the parent header (zero for genesis).
    pub parent_hash: B256,
    /// Unix timestamp, seconds.
    pub timestamp: u64,
    /// Receives the block's fees.
    pub coinbase: Address,
    /// Base fee per gas.
    pub base_fee: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// Gas used by all transactions.
    pub gas_used: u64,
    /// The transactions' root ([`HeaderCodec::roots`]), in block order.
    pub transactions_root: B256,
    /// The receipts' root ([`HeaderCodec::roots`]), in block order.
    pub receipts_root: B256,
    /// The lattice-hash commitment of the state after this block.
    pub state_commitment: B256,
    /// [`entries_root`] of the block's entries: what ran side by side, under
    /// which sets, and what ran alone. The hash commits to it, so a node that
    /// replays or votes on a block checks its parallel structure too.
    pub entries_root: B256,
    /// The codec's own header data, computed from the receipts
    /// ([`HeaderCodec::roots`]): the EVM's logs bloom; empty for lanes' own.
    pub extra: Bytes,
}

/// The roots a [`HeaderCodec`] computes from a block's transactions and
/// receipts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roots {
    /// [`BlockHeader::transactions_root`].
    pub transactions_root: B256,
    /// [`BlockHeader::receipts_root`].
    pub receipts_root: B256,
    /// [`BlockHeader::extra`].
    pub extra: Bytes,
}

/// How a chain's clients see a block: its transaction and receipt roots and
/// its hash. The executor's side supplies it (the EVM's: Ethereum's tries
/// and keccak256 of the RLP header), so one hash serves as parent hash,
/// block hash lookup and random value alike.
pub trait HeaderCodec: Send + Sync + fmt::Debug {
    /// The roots of a block's transactions (each [`EntryTx::tx`], block
    /// order) and their receipts, and what else the codec commits the
    /// header to: `accesses`, what they read and wrote, where the bank
    /// recorded it (an EVM block's access list), and values that follow
    /// from the `parent` header (an EVM block's excess blob gas).
    fn roots(
        &self,
        parent: Option<&BlockHeader>,
        txs: &[&[u8]],
        receipts: &[Receipt],
        accesses: Option<&crate::BlockAccesses>,
    ) -> Roots;
    /// The block hash of `header`.
    fn hash(&self, header: &BlockHeader) -> B256;
}

/// lanes' own codec, for executors without one: the transactions root is
/// [`stream_root`] of the transaction hashes, the receipts root of the
/// borsh-encoded receipts, both in block order; the hash is keccak256 of the
/// borsh header.
#[derive(Clone, Copy, Debug, Default)]
pub struct LanesHeaders;

impl HeaderCodec for LanesHeaders {
    fn roots(
        &self,
        _parent: Option<&BlockHeader>,
        _txs: &[&[u8]],
        receipts: &[Receipt],
        _accesses: Option<&crate::BlockAccesses>,
    ) -> Roots {
        Roots {
            transactions_root: stream_root(TRANSACTIONS, receipts.iter().map(|r| &r.tx_hash)),
            receipts_root: stream_root(RECEIPTS, receipts),
            extra: Bytes::new(),
        }
    }

    fn hash(&self, header: &BlockHeader) -> B256 {
        keccak256(borsh::to_vec(header).expect("writing to a Vec cannot fail"))
    }
}

/// The root of a block's structure: [`stream_root`] of its borsh-encoded
/// system writes (a dev node's state changes; an empty list when there are
/// none) followed by each borsh-encoded entry (its exclusive flag, and each
/// transaction's encoding, set and source), in order.
pub fn entries_root(system: &[Entry], entries: &[BlockEntry]) -> B256 {
    let mut hasher = stream(ENTRIES);
    system.serialize(&mut hasher).expect("hashing cannot fail");
    for entry in entries {
        entry.serialize(&mut hasher).expect("hashing cannot fail");
    }
    finish(hasher)
}

/// The BLAKE3 contexts of lanes' own roots (derive-key mode: a root of one
/// kind never equals a root of another over the same bytes).
const TRANSACTIONS: &str = "lanes 2026-11-25 transactions root";
const RECEIPTS: &str = "lanes 2026-11-25 receipts root";
const ENTRIES: &str = "lanes 2026-11-25 entries root";

/// A root of lanes' own blocks: BLAKE3 (derive-key mode under `context`) of
/// the borsh encodings of `items`, one after another. Each byte is hashed
/// once, several 1 KiB chunks at a time; BLAKE3 is itself a Merkle tree over
/// those chunks, so a part of the stream can still be proven against the
/// root. (A binary keccak256 tree of one leaf per item cost 3 to 5 keccak
/// permutations per transaction, more than running a simple one.)
pub fn stream_root<T: BorshSerialize>(context: &str, items: impl IntoIterator<Item = T>) -> B256 {
    let mut hasher = stream(context);
    for item in items {
        item.serialize(&mut hasher).expect("hashing cannot fail");
    }
    finish(hasher)
}

/// A BLAKE3 hasher under `context`, written in runs large enough for its
/// SIMD paths (borsh writes a field at a time).
fn stream(context: &str) -> BufWriter<blake3::Hasher> {
    BufWriter::with_capacity(64 * 1024, blake3::Hasher::new_derive_key(context))
}

fn finish(stream: BufWriter<blake3::Hasher>) -> B256 {
    let hasher = stream.into_inner().map_err(|e| e.into_error()).expect("hashing cannot fail");
    B256::from(*hasher.finalize().as_bytes())
}

/// A transaction as recorded in a block: its encoding, the set it was
/// locked and checked with, and where that set came from.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct EntryTx {
    /// [`crate::Transaction::encoded`].
    pub tx: Bytes,
    /// The set it ran under (empty in an exclusive entry).
    pub access: AccessSet,
    /// Where the set came from ([`AccessSource::Undeclared`] in an
    /// exclusive entry). Replay does not depend on it.
    pub source: AccessSource,
}

/// Transactions that ran side by side, in lanes: the transactions of one
/// lane ran one after another on one thread, in receipt order, and may
/// conflict; no two of different lanes conflict. An exclusive entry holds
/// one transaction that ran alone with every key.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct BlockEntry {
    /// Whether this is an exclusive-lane entry.
    pub exclusive: bool,
    /// The transactions, in receipt order.
    pub txs: Vec<EntryTx>,
    /// Each transaction's lane, numbered in order of first appearance
    /// (0, then at most one more than any before), where some lane holds
    /// more than one; empty where each transaction is a lane of its own.
    /// (A run of transactions on one hot key is one lane beside the rest of
    /// its entry, instead of cutting the block into entries of one or two.)
    pub lanes: Vec<u32>,
}

impl BlockEntry {
    /// The positions in [`Self::txs`] of each lane's transactions, lanes in
    /// order of first appearance.
    pub fn lane_members(&self) -> Vec<Vec<usize>> {
        if self.lanes.is_empty() {
            return (0..self.txs.len()).map(|i| vec![i]).collect();
        }
        let (order, starts) = lane_order(&self.lanes);
        starts.windows(2).map(|w| order[w[0]..w[1]].to_vec()).collect()
    }

    /// Whether [`Self::lanes`] is in its one form: empty, or one lane per
    /// transaction, numbered in order of first appearance, some lane shared.
    pub fn lanes_are_canonical(&self) -> bool {
        if self.lanes.is_empty() {
            return true;
        }
        let mut next = 0u32;
        for &lane in &self.lanes {
            match lane.cmp(&next) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => next += 1,
                std::cmp::Ordering::Greater => return false,
            }
        }
        !self.exclusive && self.lanes.len() == self.txs.len() && (next as usize) < self.txs.len()
    }

    /// The first transaction whose set conflicts with another lane's (the
    /// first of its own lane), with the key in use: what a replica checks.
    /// The lanes are checked against one filter of their keys (`keys`,
    /// cleared first, kept for the next entry); only where it refuses (a
    /// conflict, or a hash collision) are the lanes' sets built and locked
    /// exactly. The lanes must be canonical.
    pub(crate) fn first_conflict(&self, keys: &mut LaneKeys) -> Option<(usize, LockConflict)> {
        keys.clear();
        let admitted = !self.lanes.is_empty()
            && self.txs.iter().zip(&self.lanes).all(|(t, &lane)| keys.admit(&t.access, lane));
        if admitted {
            return None;
        }
        let (sets, firsts) = lane_sets(self);
        let sets: Vec<&AccessSet> = sets.iter().collect();
        first_conflict(&sets).map(|(l, c)| (firsts[l], c))
    }
}

/// The set of each lane of `entry` (the union of its transactions'; a
/// transaction's own where each is a lane of its own), and the position of
/// each lane's first transaction: no two lanes may conflict.
fn lane_sets(entry: &BlockEntry) -> (Vec<AccessSet>, Vec<usize>) {
    if entry.lanes.is_empty() {
        return (
            entry.txs.iter().map(|t| t.access.clone()).collect(),
            (0..entry.txs.len()).collect(),
        );
    }
    let members = entry.lane_members();
    let sets = members
        .iter()
        .map(|m| {
            let sets = || m.iter().map(|&i| &entry.txs[i].access);
            let writes: Vec<StateKey> = sets().flat_map(|s| s.writes().iter().copied()).collect();
            AccessSet::unbounded(sets().flat_map(|s| s.reads().iter().copied()), writes)
        })
        .collect();
    (sets, members.iter().map(|m| m[0]).collect())
}

/// Each lane's positions in `lanes` (one lane id per transaction), lane
/// after lane: lane `l`'s are `order[starts[l]..starts[l + 1]]`, in order.
pub(crate) fn lane_order(lanes: &[u32]) -> (Vec<usize>, Vec<usize>) {
    let count = lanes.iter().max().map_or(0, |l| *l as usize + 1);
    let mut starts = vec![0usize; count + 1];
    for &lane in lanes {
        starts[lane as usize + 1] += 1;
    }
    for l in 0..count {
        starts[l + 1] += starts[l];
    }
    let mut order = vec![0usize; lanes.len()];
    let mut next = starts.clone();
    for (i, &lane) in lanes.iter().enumerate() {
        order[next[lane as usize]] = i;
        next[lane as usize] += 1;
    }
    (order, starts)
}

/// `lanes` (lane ids, one per transaction) in [`BlockEntry::lanes`]' one
/// form: renumbered in order of first appearance; empty when each
/// transaction has a lane of its own.
pub(crate) fn canonical_lanes(lanes: &[u32]) -> Vec<u32> {
    let mut ids = vec![u32::MAX; lanes.iter().max().map_or(0, |l| *l as usize + 1)];
    let mut count = 0;
    let out: Vec<u32> = lanes
        .iter()
        .map(|&lane| {
            let id = &mut ids[lane as usize];
            if *id == u32::MAX {
                *id = count;
                count += 1;
            }
            *id
        })
        .collect();
    if count as usize == lanes.len() { Vec::new() } else { out }
}

/// A block.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// The header's hash by the chain's [`HeaderCodec`], set at seal; a
    /// replay checks it.
    pub hash: B256,
    /// State written before any transaction, outside them: a dev node's
    /// state controls (`anvil_setBalance` and the like). Only a chain whose
    /// banks allow it ([`crate::BankConfig::allow_system`]) makes or replays
    /// such a block.
    pub system: Vec<Entry>,
    /// The entries, in execution order.
    pub entries: Vec<BlockEntry>,
}

impl Block {
    /// The block's hash.
    pub fn hash(&self) -> B256 {
        self.hash
    }

    /// Number of transactions.
    pub fn tx_count(&self) -> usize {
        self.entries.iter().map(|e| e.txs.len()).sum()
    }

    /// The transactions in block order (entry by entry), the order of the
    /// receipts.
    pub fn txs(&self) -> impl Iterator<Item = &EntryTx> {
        self.entries.iter().flat_map(|e| &e.txs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_stream_root_depends_on_order_content_and_kind() {
        let h = |i: u8| B256::repeat_byte(i);
        let root = |items: &[B256]| stream_root(TRANSACTIONS, items);
        assert_ne!(root(&[h(1), h(2)]), root(&[h(2), h(1)]));
        assert_ne!(root(&[h(1), h(2), h(3)]), root(&[h(1), h(2)]));
        assert_ne!(root(&[]), root(&[h(0)]));
        assert_ne!(root(&[h(1)]), stream_root(RECEIPTS, [h(1)]));
        // The same bytes in one write or in thousands give the same root.
        let many: Vec<B256> = (0..5000u32).map(|i| keccak256(i.to_le_bytes())).collect();
        let whole = many.iter().flat_map(|h| h.0).collect::<Vec<u8>>();
        let mut one = blake3::Hasher::new_derive_key(TRANSACTIONS);
        one.update(&whole);
        assert_eq!(root(&many), B256::from(*one.finalize().as_bytes()));
    }

    #[test]
    fn test_entries_root_commits_to_system_writes_and_each_entry() {
        let tx = EntryTx {
            tx: Bytes::from_static(b"tx"),
            access: AccessSet::default(),
            source: AccessSource::Declared,
        };
        let one = BlockEntry { exclusive: false, txs: vec![tx.clone()], lanes: vec![] };
        let alone = BlockEntry { exclusive: true, txs: vec![tx.clone()], lanes: vec![] };
        let two = BlockEntry { exclusive: false, txs: vec![tx.clone(), tx], lanes: vec![] };
        let one_lane = BlockEntry { lanes: vec![0, 0], ..two.clone() };
        assert_ne!(entries_root(&[], std::slice::from_ref(&two)), entries_root(&[], &[one_lane]));
        let root = entries_root(&[], std::slice::from_ref(&one));
        assert_ne!(root, entries_root(&[], &[alone]));
        assert_ne!(root, entries_root(&[], &[two]));
        assert_ne!(root, entries_root(&[], &[one.clone(), one.clone()]));
        let system = [Entry::Storage(Address::ZERO, B256::ZERO, Default::default())];
        assert_ne!(root, entries_root(&system, &[one]));
    }

    #[test]
    fn test_lanes_have_one_form() {
        assert_eq!(canonical_lanes(&[7, 3, 9]), Vec::<u32>::new());
        assert_eq!(canonical_lanes(&[7, 3, 7, 9, 3]), vec![0, 1, 0, 2, 1]);
        let tx = EntryTx {
            tx: Bytes::from_static(b"tx"),
            access: AccessSet::default(),
            source: AccessSource::Declared,
        };
        let entry =
            |lanes: Vec<u32>| BlockEntry { exclusive: false, txs: vec![tx.clone(); 3], lanes };
        assert!(entry(vec![]).lanes_are_canonical());
        assert!(entry(vec![0, 1, 0]).lanes_are_canonical());
        assert_eq!(entry(vec![0, 1, 0]).lane_members(), vec![vec![0, 2], vec![1]]);
        assert_eq!(entry(vec![]).lane_members(), vec![vec![0], vec![1], vec![2]]);
        assert!(!entry(vec![1, 0, 0]).lanes_are_canonical(), "numbered out of order");
        assert!(!entry(vec![0, 1, 2]).lanes_are_canonical(), "all alone is written empty");
        assert!(!entry(vec![0, 0]).lanes_are_canonical(), "one lane per transaction");
        let exclusive = BlockEntry { exclusive: true, ..entry(vec![0, 0, 0]) };
        assert!(!exclusive.lanes_are_canonical());
    }

    #[test]
    fn test_header_hash_covers_every_field() {
        let header = BlockHeader { number: 1, ..Default::default() };
        let other = BlockHeader { state_commitment: B256::repeat_byte(1), ..header.clone() };
        assert_ne!(LanesHeaders.hash(&header), LanesHeaders.hash(&other));
        let other = BlockHeader { entries_root: B256::repeat_byte(1), ..header.clone() };
        assert_ne!(LanesHeaders.hash(&header), LanesHeaders.hash(&other));
        let hash = LanesHeaders.hash(&header);
        let block = Block { header, hash, system: vec![], entries: vec![] };
        let bytes = borsh::to_vec(&block).unwrap();
        assert_eq!(borsh::from_slice::<Block>(&bytes).unwrap(), block);
    }
}
