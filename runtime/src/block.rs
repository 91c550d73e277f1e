//! Blocks: a header and the entries that ran side by side.

use alloy_primitives::{Address, B256, Bytes, keccak256};
use borsh::{BorshDeserialize, BorshSerialize};

use crate::access::AccessSet;
use crate::admission::AccessSource;

/// The header of a block. Its hash is keccak256 of its borsh encoding.
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
    /// [`merkle_root`] of the transaction hashes, in block order.
    pub transactions_root: B256,
    /// [`merkle_root`] of keccak256 of each borsh-encoded receipt, in block order.
    pub receipts_root: B256,
    /// The lattice-hash commitment of the state after this block.
    pub state_commitment: B256,
}

impl BlockHeader {
    /// keccak256 of the borsh encoding.
    pub fn hash(&self) -> B256 {
        keccak256(borsh::to_vec(self).expect("writing to a Vec cannot fail"))
    }
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
    /// The entries, in execution order.
    pub entries: Vec<BlockEntry>,
}

impl Block {
    /// The block's hash (its header's).
    pub fn hash(&self) -> B256 {
        self.header.hash()
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
        assert_ne!(header.hash(), other.hash());
        let block = Block { header, entries: vec![] };
        let bytes = borsh::to_vec(&block).unwrap();
        assert_eq!(borsh::from_slice::<Block>(&bytes).unwrap(), block);
    }
}
