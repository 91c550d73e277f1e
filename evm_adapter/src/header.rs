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
//! [`BlockHeader::extra`]: from Amsterdam the access list's hash (32 bytes),
//! then the logs bloom (256 bytes) where the block has logs.

use alloy_consensus::constants::EMPTY_WITHDRAWALS;
use alloy_consensus::{
    EMPTY_OMMER_ROOT_HASH, Eip658Value, Header, Receipt as ConsensusReceipt, ReceiptEnvelope,
    ReceiptWithBloom, TxType,
};
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_eips::eip7928::EMPTY_BLOCK_ACCESS_LIST_HASH;
use alloy_primitives::{B256, Bloom, Bytes, Log, U256};
use alloy_trie::root::{ordered_trie_root_encoded, ordered_trie_root_with_encoder};
use lanes_runtime::{BlockAccesses, BlockHeader, HeaderCodec, Receipt, Roots};
use revm::primitives::hardfork::SpecId;

use crate::executor::EvmReceiptData;

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
        Roots {
            transactions_root: ordered_trie_root_encoded(txs),
            receipts_root: ordered_trie_root_with_encoder(&envelopes, |r, buf| {
                alloy_eips::eip2718::Encodable2718::encode_2718(r, buf)
            }),
            extra: {
                let mut extra = Vec::new();
                if self.spec.is_enabled_in(SpecId::AMSTERDAM) {
                    // A bank that recorded nothing (block 0) has the empty list.
                    let list = accesses.map(|a| crate::block_access_list(a, receipts));
                    extra.extend_from_slice(
                        crate::block_access_list_hash(&list.unwrap_or_default()).as_slice(),
                    );
                }
                // A block without logs stores no bloom.
                if bloom != Bloom::ZERO {
                    extra.extend_from_slice(bloom.as_slice());
                }
                extra.into()
            },
        }
    }

    fn hash(&self, header: &BlockHeader) -> B256 {
        self.header(header).hash_slow()
    }
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
pub(crate) fn typed_receipt(ty: TxType, receipt: ConsensusReceipt) -> ReceiptEnvelope {
    let inner = ReceiptWithBloom::from(receipt);
    match ty {
        TxType::Legacy => ReceiptEnvelope::Legacy(inner),
        TxType::Eip2930 => ReceiptEnvelope::Eip2930(inner),
        TxType::Eip1559 => ReceiptEnvelope::Eip1559(inner),
        TxType::Eip4844 => ReceiptEnvelope::Eip4844(inner),
        TxType::Eip7702 => ReceiptEnvelope::Eip7702(inner),
    }
}

/// The logs bloom of a block: the one [`EthHeaders`] keeps in `h`'s
/// `extra`, or an imported block's own header's; `None` for a block without
/// logs.
pub fn header_bloom(h: &BlockHeader) -> Option<Bloom> {
    match h.extra.len() {
        256 => return Some(Bloom::from_slice(&h.extra)),
        288 => return Some(Bloom::from_slice(&h.extra[32..])),
        32 => return None,
        _ => {}
    }
    let data = crate::eth::EthBlockData::from_extra(&h.extra).ok()?;
    (data.header.logs_bloom != Bloom::ZERO).then_some(data.header.logs_bloom)
}

/// The Ethereum header of `h` on a chain running `spec`: the fields the
/// fork has, post-merge values for those lanes has no use for.
pub fn eth_header(h: &BlockHeader, spec: SpecId) -> Header {
    let since = |fork: SpecId| spec.is_enabled_in(fork);
    let logs_bloom = header_bloom(h).unwrap_or_default();
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
        blob_gas_used: since(SpecId::CANCUN).then_some(0),
        excess_blob_gas: since(SpecId::CANCUN).then_some(0),
        parent_beacon_block_root: since(SpecId::CANCUN).then_some(B256::ZERO),
        requests_hash: since(SpecId::PRAGUE).then_some(EMPTY_REQUESTS_HASH),
        block_access_list_hash: since(SpecId::AMSTERDAM)
            .then(|| h.extra.get(..32).map_or(EMPTY_BLOCK_ACCESS_LIST_HASH, B256::from_slice)),
        slot_number: None,
    }
}
