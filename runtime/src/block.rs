//! Blocks: a header and the entries that ran side by side.

use std::fmt;

use alloy_primitives::{Address, B256, Bytes, keccak256};
use borsh::{BorshDeserialize, BorshSerialize};

use crate::access::AccessSet;
use crate::admission::AccessSource;
use crate::executor::Receipt;
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
    /// recorded it (an EVM block's access list).
    fn roots(
        &self,
        txs: &[&[u8]],
        receipts: &[Receipt],
        accesses: Option<&crate::BlockAccesses>,
    ) -> Roots;
    /// The block hash of `header`.
    fn hash(&self, header: &BlockHeader) -> B256;
}

/// lanes' own codec, for executors without one: binary [`merkle_root`]s of
/// the transaction hashes and of keccak256 of each borsh-encoded receipt; the
/// hash is keccak256 of the borsh header.
#[derive(Clone, Copy, Debug, Default)]
pub struct LanesHeaders;

impl HeaderCodec for LanesHeaders {
    fn roots(
        &self,
        _txs: &[&[u8]],
        receipts: &[Receipt],
        _accesses: Option<&crate::BlockAccesses>,
    ) -> Roots {
        let borsh = |r: &Receipt| borsh::to_vec(r).expect("writing to a Vec cannot fail");
        Roots {
            transactions_root: merkle_root(receipts.iter().map(|r| r.tx_hash)),
            receipts_root: merkle_root(receipts.iter().map(|r| keccak256(borsh(r)))),
            extra: Bytes::new(),
        }
    }

    fn hash(&self, header: &BlockHeader) -> B256 {
        keccak256(borsh::to_vec(header).expect("writing to a Vec cannot fail"))
    }
}

/// The root of a block's structure: [`merkle_root`] of keccak256 of its
/// borsh-encoded system writes (a dev node's state changes, when there are
/// any) followed by keccak256 of each borsh-encoded entry (its exclusive
/// flag, and each transaction's encoding, set and source), in order.
pub fn entries_root(system: &[Entry], entries: &[BlockEntry]) -> B256 {
    let system = (!system.is_empty()).then(|| leaf(&system));
    merkle_root(system.into_iter().chain(entries.iter().map(leaf)))
}

fn leaf(value: &impl BorshSerialize) -> B256 {
    keccak256(borsh::to_vec(value).expect("writing to a Vec cannot fail"))
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

/// Transactions that ran side by side: their sets do not conflict. An
/// exclusive entry holds one transaction that ran alone with every key.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct BlockEntry {
    /// Whether this is an exclusive-lane entry.
    pub exclusive: bool,
    /// The transactions, in receipt order.
    pub txs: Vec<EntryTx>,
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

/// A binary keccak256 Merkle root: pairs are hashed level by level, an odd
/// last node moves up unchanged; the root of nothing is keccak256 of nothing.
pub fn merkle_root(leaves: impl IntoIterator<Item = B256>) -> B256 {
    let mut level: Vec<B256> = leaves.into_iter().collect();
    if level.is_empty() {
        return keccak256([]);
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [a, b] => keccak256([a.as_slice(), b.as_slice()].concat()),
                [a] => *a,
                _ => unreachable!("chunks of two"),
            })
            .collect();
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_merkle_root_depends_on_order_and_content() {
        let h = |i: u8| B256::repeat_byte(i);
        assert_eq!(merkle_root([h(1)]), h(1));
        assert_ne!(merkle_root([h(1), h(2)]), merkle_root([h(2), h(1)]));
        assert_ne!(merkle_root([h(1), h(2), h(3)]), merkle_root([h(1), h(2)]));
        assert_eq!(merkle_root([]), keccak256([]));
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
