//! The header codecs of chains whose blocks are not all lanes' own: an
//! imported chain's ([`ImportedHeaders`]), which hashes each block as
//! Ethereum did, and a forked chain's ([`ForkedHeaders`]), whose first block
//! keeps the upstream's hash.

use alloy_primitives::{B256, Bytes, keccak256};
use lanes_runtime::{BlockHeader, HeaderCodec, Receipt, Roots};

use super::block::EthBlockData;
use lanes_evm_adapter::EthHeaders;
use lanes_evm_adapter::SpecId;

/// The header codec of an imported chain: Ethereum's transaction and
/// receipt tries, and the hash of the Ethereum header kept in `extra`
/// ([`EthBlockData`]), so every block keeps the hash Ethereum gave it.
#[derive(Clone, Copy, Debug, Default)]
pub struct ImportedHeaders;

impl HeaderCodec for ImportedHeaders {
    fn roots(
        &self,
        _parent: Option<&BlockHeader>,
        txs: &[&[u8]],
        receipts: &[Receipt],
        _accesses: Option<&lanes_runtime::BlockAccesses>,
    ) -> Roots {
        let roots = EthHeaders::new(SpecId::default()).roots(None, txs, receipts, None);
        Roots { extra: Bytes::new(), ..roots }
    }

    fn hash(&self, header: &BlockHeader) -> B256 {
        match EthBlockData::from_extra(&header.extra) {
            Ok(data) => data.header.hash_slow(),
            // Not an imported block's header: a hash that no Ethereum
            // header has, so it never passes as one.
            Err(_) => keccak256(borsh::to_vec(header).expect("writing to a Vec cannot fail")),
        }
    }
}

/// The header codec of a forked chain: Ethereum's for its fork, except its
/// first block, the upstream's fork block, which keeps the upstream's hash
/// (its `extra`: 32 bytes), so its children name the upstream's block as
/// their parent.
#[derive(Clone, Copy, Debug)]
pub struct ForkedHeaders {
    /// The codec of the chain's own blocks.
    pub eth: EthHeaders,
    /// The fork block's number.
    pub first: u64,
}

impl HeaderCodec for ForkedHeaders {
    fn roots(
        &self,
        parent: Option<&BlockHeader>,
        txs: &[&[u8]],
        receipts: &[Receipt],
        accesses: Option<&lanes_runtime::BlockAccesses>,
    ) -> Roots {
        self.eth.roots(parent, txs, receipts, accesses)
    }

    fn hash(&self, header: &BlockHeader) -> B256 {
        match header.extra.len() {
            32 if header.number == self.first => B256::from_slice(&header.extra),
            _ => self.eth.hash(header),
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy_consensus::Header;

    use super::*;

    #[test]
    fn test_an_imported_block_hashes_as_its_ethereum_header() {
        let header = Header { number: 7, ..Default::default() };
        let data = EthBlockData { header: header.clone(), ..Default::default() };
        let lanes = BlockHeader { extra: data.encoded(), ..Default::default() };
        assert_eq!(ImportedHeaders.hash(&lanes), header.hash_slow());
        let bad = BlockHeader { extra: Bytes::from_static(b"\x01"), ..Default::default() };
        assert_ne!(ImportedHeaders.hash(&bad), Header::default().hash_slow());
    }
}
