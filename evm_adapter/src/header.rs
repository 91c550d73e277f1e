//! Blocks as Ethereum sees them ([`EthHeaders`]): the transactions and
//! receipts roots are Ethereum's ordered tries, the hash is keccak256 of the
//! RLP header [`eth_header`] builds, with the fields the fork has. The state
//! root carries lanes' state commitment; `extraData` carries the block's
//! [`entries_root`](lanes_runtime::entries_root), so the hash commits to what
//! ran side by side; `mixHash` is the parent's hash (the block's PREVRANDAO).
//! From Amsterdam the header commits to the block's access list
//! (`blockAccessListHash`, EIP-7928), built from what the bank recorded.
//!
//! What the header needs beyond lanes' own fields travels in
//! [`BlockHeader::extra`] ([`ExtraParts`]): from Amsterdam the access list's
//! hash (32 bytes), then the logs bloom (256 bytes) where the block has
//! logs, then the blob gas used and the excess blob gas (8 bytes each,
//! big-endian) where either is not zero.

use alloy_consensus::Transaction as _;
use alloy_consensus::constants::EMPTY_WITHDRAWALS;
use alloy_consensus::{
    EMPTY_OMMER_ROOT_HASH, Eip658Value, Header, Receipt as ConsensusReceipt, ReceiptEnvelope,
    ReceiptWithBloom, TxType,
};
use alloy_eips::eip2718::Decodable2718;
use alloy_eips::eip4844::DATA_GAS_PER_BLOB;
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_eips::eip7840::BlobParams;
use alloy_eips::eip7928::EMPTY_BLOCK_ACCESS_LIST_HASH;
use alloy_primitives::{B256, Bloom, Bytes, Log, U256};
use alloy_trie::root::{ordered_trie_root_encoded, ordered_trie_root_with_encoder};
use lanes_runtime::{BlockAccesses, BlockHeader, HeaderCodec, Receipt, Roots};
use revm::primitives::hardfork::SpecId;

use crate::evm::EvmReceiptData;

/// Ethereum's header codec for a chain running `spec`.
#[derive(Clone, Copy, Debug)]
pub struct EthHeaders {
    spec: SpecId,
}

impl EthHeaders {
    /// The codec of a chain running `spec`.
    pub fn new(spec: SpecId) -> Self {
        Self { spec }
    }

    /// The Ethereum header of `h`: what `eth_getBlockBy*` serves and what
    /// the block hash is the keccak256 of.
    pub fn header(&self, h: &BlockHeader) -> Header {
        eth_header(h, self.spec)
    }
}

impl HeaderCodec for EthHeaders {
    fn roots(
        &self,
        parent: Option<&BlockHeader>,
        txs: &[&[u8]],
        receipts: &[Receipt],
        accesses: Option<&BlockAccesses>,
    ) -> Roots {
        let mut bloom = Bloom::ZERO;
        let envelopes: Vec<ReceiptEnvelope> = txs
            .iter()
            .zip(receipts)
            .map(|(tx, r)| {
                let envelope = receipt_envelope(tx_type(crate::envelope_bytes(tx)), r);
                bloom.accrue_bloom(envelope.logs_bloom());
                envelope
            })
            .collect();
        let access_list_hash = self.spec.is_enabled_in(SpecId::AMSTERDAM).then(|| {
            // A bank that recorded nothing (block 0) has the empty list.
            let list = accesses.map(|a| crate::block_access_list(a, receipts));
            crate::block_access_list_hash(&list.unwrap_or_default())
        });
        let blob_gas = match parent {
            Some(parent) if self.spec.is_enabled_in(SpecId::CANCUN) => {
                (blob_gas_of(txs), next_excess_blob_gas(parent, self.spec))
            }
            _ => (0, 0),
        };
        let parts = ExtraParts {
            access_list_hash,
            // A block without logs stores no bloom.
            bloom: (bloom != Bloom::ZERO).then_some(bloom),
            blob_gas: (blob_gas != (0, 0)).then_some(blob_gas),
        };
        Roots {
            transactions_root: ordered_trie_root_encoded(txs),
            receipts_root: ordered_trie_root_with_encoder(&envelopes, |r, buf| {
                alloy_eips::eip2718::Encodable2718::encode_2718(r, buf)
            }),
            extra: parts.encode(),
        }
    }

    fn hash(&self, header: &BlockHeader) -> B256 {
        self.header(header).hash_slow()
    }
}

/// The parts of an [`EthHeaders`] block's [`BlockHeader::extra`], in their
/// order there; each is present only where the block has it, so the
/// length tells which are: 0, 32, 256, 288, and each of those plus 16.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExtraParts {
    /// The block access list's hash (EIP-7928; from Amsterdam).
    pub access_list_hash: Option<B256>,
    /// The logs bloom, where the block has logs.
    pub bloom: Option<Bloom>,
    /// The blob gas used and the excess blob gas (EIP-4844), where either
    /// is not zero.
    pub blob_gas: Option<(u64, u64)>,
}

impl ExtraParts {
    /// The parts of `extra`; `None` where its length is none of
    /// [`ExtraParts`]' (an imported block's whole header).
    pub fn parse(extra: &[u8]) -> Option<Self> {
        let (rest, blob_gas) = match extra.len() % 32 {
            0 => (extra, None),
            16 => {
                let (rest, blob) = extra.split_at(extra.len() - 16);
                let word = |b: &[u8]| u64::from_be_bytes(b.try_into().expect("8 bytes"));
                (rest, Some((word(&blob[..8]), word(&blob[8..]))))
            }
            _ => return None,
        };
        let (access_list_hash, bloom) = match rest.len() {
            0 => (None, None),
            32 => (Some(B256::from_slice(rest)), None),
            256 => (None, Some(Bloom::from_slice(rest))),
            288 => (Some(B256::from_slice(&rest[..32])), Some(Bloom::from_slice(&rest[32..]))),
            _ => return None,
        };
        Some(Self { access_list_hash, bloom, blob_gas })
    }

    /// The bytes [`Self::parse`] reads back.
    pub fn encode(&self) -> Bytes {
        let mut extra = Vec::new();
        if let Some(hash) = self.access_list_hash {
            extra.extend_from_slice(hash.as_slice());
        }
        if let Some(bloom) = self.bloom {
            extra.extend_from_slice(bloom.as_slice());
        }
        if let Some((used, excess)) = self.blob_gas {
            extra.extend_from_slice(&used.to_be_bytes());
            extra.extend_from_slice(&excess.to_be_bytes());
        }
        extra.into()
    }
}

/// The blob gas used and the excess blob gas of a lanes block's header
/// (zero where it keeps none).
pub fn header_blob_gas(h: &BlockHeader) -> (u64, u64) {
    ExtraParts::parse(&h.extra).and_then(|p| p.blob_gas).unwrap_or_default()
}

/// The excess blob gas of the child of `parent` on a lanes chain running
/// `spec` (EIP-4844, with EIP-7918's reserve price from Osaka); 0 before
/// Cancun.
pub fn next_excess_blob_gas(parent: &BlockHeader, spec: SpecId) -> u64 {
    let Some(params) = blob_params_of(spec) else { return 0 };
    let (used, excess) = header_blob_gas(parent);
    params.next_block_excess_blob_gas_osaka(excess, used, parent.base_fee)
}

/// The blob schedule of a lanes chain (not imported) under `spec`: alloy's
/// Cancun, Prague or Osaka values; `None` before Cancun.
pub fn blob_params_of(spec: SpecId) -> Option<BlobParams> {
    if spec.is_enabled_in(SpecId::OSAKA) {
        Some(BlobParams::osaka())
    } else if spec.is_enabled_in(SpecId::PRAGUE) {
        Some(BlobParams::prague())
    } else {
        spec.is_enabled_in(SpecId::CANCUN).then(BlobParams::cancun)
    }
}

/// The blob gas of a block's transactions (EIP-4844: each blob's).
fn blob_gas_of(txs: &[&[u8]]) -> u64 {
    let blobs = txs.iter().filter(|tx| tx.first() == Some(&(TxType::Eip4844 as u8))).map(|tx| {
        let mut buf = *tx;
        let envelope = alloy_consensus::TxEnvelope::decode_2718(&mut buf).ok();
        envelope.and_then(|e| e.blob_versioned_hashes().map(<[B256]>::len)).unwrap_or(0)
    });
    blobs.sum::<usize>() as u64 * DATA_GAS_PER_BLOB
}

/// The type of an EIP-2718 encoded transaction.
fn tx_type(encoded: &[u8]) -> TxType {
    match encoded.first() {
        Some(&t) if t < 0x7f => TxType::try_from(t).unwrap_or(TxType::Legacy),
        _ => TxType::Legacy,
    }
}

/// The consensus receipt of a transaction of type `ty`.
pub fn receipt_envelope(ty: TxType, r: &Receipt) -> ReceiptEnvelope {
    let logs: Vec<Log> = EvmReceiptData::from_outcome(&r.outcome)
        .map(|d| d.logs.into_iter().map(|(a, t, d)| Log::new_unchecked(a, t, d)).collect())
        .unwrap_or_default();
    let receipt = ConsensusReceipt {
        status: Eip658Value::Eip658(r.outcome.success),
        cumulative_gas_used: r.cumulative_gas_used,
        logs,
    };
    typed_receipt(ty, receipt)
}

/// `receipt` as a transaction of type `ty` encodes it.
pub fn typed_receipt(ty: TxType, receipt: ConsensusReceipt) -> ReceiptEnvelope {
    let inner = ReceiptWithBloom::from(receipt);
    match ty {
        TxType::Legacy => ReceiptEnvelope::Legacy(inner),
        TxType::Eip2930 => ReceiptEnvelope::Eip2930(inner),
        TxType::Eip1559 => ReceiptEnvelope::Eip1559(inner),
        TxType::Eip4844 => ReceiptEnvelope::Eip4844(inner),
        TxType::Eip7702 => ReceiptEnvelope::Eip7702(inner),
    }
}

/// The Ethereum header of `h` on a chain running `spec`: the fields the
/// fork has, post-merge values for those lanes has no use for.
pub fn eth_header(h: &BlockHeader, spec: SpecId) -> Header {
    let since = |fork: SpecId| spec.is_enabled_in(fork);
    let logs_bloom = ExtraParts::parse(&h.extra).and_then(|p| p.bloom).unwrap_or_default();
    let (blob_gas_used, excess_blob_gas) = header_blob_gas(h);
    Header {
        parent_hash: h.parent_hash,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: h.coinbase,
        state_root: h.state_commitment,
        transactions_root: h.transactions_root,
        receipts_root: h.receipts_root,
        logs_bloom,
        difficulty: U256::ZERO,
        number: h.number,
        gas_limit: h.gas_limit,
        gas_used: h.gas_used,
        timestamp: h.timestamp,
        extra_data: Bytes::copy_from_slice(h.entries_root.as_slice()),
        mix_hash: h.parent_hash,
        nonce: Default::default(),
        base_fee_per_gas: since(SpecId::LONDON).then_some(h.base_fee),
        withdrawals_root: since(SpecId::SHANGHAI).then_some(EMPTY_WITHDRAWALS),
        blob_gas_used: since(SpecId::CANCUN).then_some(blob_gas_used),
        excess_blob_gas: since(SpecId::CANCUN).then_some(excess_blob_gas),
        parent_beacon_block_root: since(SpecId::CANCUN).then_some(B256::ZERO),
        requests_hash: since(SpecId::PRAGUE).then_some(EMPTY_REQUESTS_HASH),
        block_access_list_hash: since(SpecId::AMSTERDAM)
            .then(|| h.extra.get(..32).map_or(EMPTY_BLOCK_ACCESS_LIST_HASH, B256::from_slice)),
        slot_number: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_combination_of_extra_parts_reads_back_as_written() {
        let hash = Some(B256::repeat_byte(3));
        let bloom = Some(Bloom::repeat_byte(5));
        let blob_gas = Some((262_144, 1 << 40));
        for access_list_hash in [None, hash] {
            for bloom in [None, bloom] {
                for blob_gas in [None, blob_gas] {
                    let parts = ExtraParts { access_list_hash, bloom, blob_gas };
                    assert_eq!(ExtraParts::parse(&parts.encode()), Some(parts));
                }
            }
        }
        // Another length is no lanes block's parts (an imported header).
        assert_eq!(ExtraParts::parse(&[0u8; 500]), None);
        assert_eq!(ExtraParts::parse(&[0u8; 17]), None);
    }
}
