//! Ethereum blocks as lanes imports and keeps them: an [`EthBlock`] decoded
//! from its RLP; the Ethereum data a lanes block of an imported chain keeps
//! in its header's `extra` ([`EthBlockData`]); and the genesis header of a
//! geth `genesis.json` ([`genesis_header`]).

use alloy_consensus::constants::EMPTY_WITHDRAWALS;
use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, Header, TxEnvelope};
use alloy_eips::eip4895::Withdrawals;
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_eips::eip7928::BlockAccessList;
use alloy_primitives::{B64, B256, Bloom, Bytes, KECCAK256_EMPTY, U256, keccak256};
use alloy_rlp::{Decodable, Encodable};
use lanes_accounts_db::{AccountHeader, Entry};
use lanes_runtime::BlockHeader;

use super::spec::EthSpec;
use lanes_evm_adapter::{ExtraParts, SpecId};

/// An Ethereum block: header, transactions, ommers, (from Shanghai)
/// withdrawals and, where its RLP carries it after them, its access list
/// (EIP-7928: the engine API and devp2p carry it beside the block; a block
/// RLP that appends it, as BAL devnets' exports do, brings it here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EthBlock {
    /// The header.
    pub header: Header,
    /// The transactions, in order.
    pub txs: Vec<TxEnvelope>,
    /// The ommer (uncle) headers.
    pub ommers: Vec<Header>,
    /// The withdrawals, from Shanghai on.
    pub withdrawals: Option<Withdrawals>,
    /// Its access list, where the RLP carries it (an Amsterdam block).
    pub access_list: Option<BlockAccessList>,
    /// keccak256 of the RLP header.
    pub hash: B256,
    /// The size of its RLP encoding, in bytes.
    pub size: usize,
}

impl EthBlock {
    /// Decodes one block from the front of `buf`, advancing it past the block.
    pub fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let start = *buf;
        let list = alloy_rlp::Header::decode(buf)?;
        if !list.list {
            return Err(alloy_rlp::Error::UnexpectedString);
        }
        let (mut body, rest) =
            buf.split_at_checked(list.payload_length).ok_or(alloy_rlp::Error::InputTooShort)?;
        *buf = rest;
        let header = Header::decode(&mut body)?;
        let txs = Vec::<TxEnvelope>::decode(&mut body)?;
        let ommers = Vec::<Header>::decode(&mut body)?;
        let withdrawals = (!body.is_empty()).then(|| Withdrawals::decode(&mut body)).transpose()?;
        let access_list =
            (!body.is_empty()).then(|| BlockAccessList::decode(&mut body)).transpose()?;
        if !body.is_empty() {
            return Err(alloy_rlp::Error::ListLengthMismatch {
                expected: list.payload_length - body.len(),
                got: list.payload_length,
            });
        }
        let size = start.len() - buf.len();
        let hash = header.hash_slow();
        Ok(Self { header, txs, ommers, withdrawals, access_list, hash, size })
    }

    /// Decodes exactly one block from `bytes`.
    pub fn decode_exact(bytes: &[u8]) -> alloy_rlp::Result<Self> {
        let mut buf = bytes;
        let block = Self::decode(&mut buf)?;
        if !buf.is_empty() {
            return Err(alloy_rlp::Error::UnexpectedLength);
        }
        Ok(block)
    }

    /// Where and why the block at the front of `bytes` does not decode, when
    /// a transaction is the cause and lanes can say more than the RLP error:
    /// which transaction, and a fee field too large (alloy's fee fields hold
    /// 128 bits; a gas price over that overflows gas × price, as geth finds)
    /// or a blob or set-code transaction that would create a contract.
    pub fn undecodable_detail(bytes: &[u8]) -> Option<String> {
        let mut buf = bytes;
        let outer = alloy_rlp::Header::decode(&mut buf).ok().filter(|h| h.list)?;
        let mut body = buf.get(..outer.payload_length)?;
        Header::decode(&mut body).ok()?;
        let list = alloy_rlp::Header::decode(&mut body).ok().filter(|h| h.list)?;
        let mut txs = body.get(..list.payload_length)?;
        let mut index = 0;
        while !txs.is_empty() {
            let start = txs;
            let item = alloy_rlp::Header::decode(&mut txs).ok()?;
            let payload = txs.get(..item.payload_length)?;
            txs = &txs[item.payload_length..];
            let raw = &start[..start.len() - txs.len()];
            if let Err(e) = TxEnvelope::decode(&mut &raw[..]) {
                let why = tx_detail(item.list, payload).unwrap_or_else(|| e.to_string());
                return Some(format!("transaction {index}: {why}"));
            }
            index += 1;
        }
        None
    }

    /// What a lanes block of an imported chain keeps of it.
    pub fn data(&self) -> EthBlockData {
        EthBlockData {
            header: self.header.clone(),
            ommers: self.ommers.clone(),
            withdrawals: self.withdrawals.clone(),
            post_states: Vec::new(),
        }
    }
}

/// Why a transaction's fields do not decode, where a field says it: `list`
/// is a legacy transaction's list, else `payload` is a typed one's type byte
/// and list.
fn tx_detail(list: bool, payload: &[u8]) -> Option<String> {
    let (kind, mut fields) = if list {
        (0, payload)
    } else {
        let (kind, mut rest) = payload.split_first()?;
        let inner = alloy_rlp::Header::decode(&mut rest).ok().filter(|h| h.list)?;
        (*kind, rest.get(..inner.payload_length)?)
    };
    let mut items = Vec::new();
    while !fields.is_empty() {
        let header = alloy_rlp::Header::decode(&mut fields).ok()?;
        items.push((header.list, fields.get(..header.payload_length)?));
        fields = &fields[header.payload_length..];
    }
    // The fee fields, and where `to` is, by type.
    let (fees, to): (&[(usize, &str)], usize) = match kind {
        0 => (&[(1, "gas price")], 3),
        1 => (&[(2, "gas price")], 4),
        2..=4 => (&[(2, "max priority fee per gas"), (3, "max fee per gas")], 5),
        _ => return None,
    };
    for (at, name) in fees {
        if let Some((false, value)) = items.get(*at)
            && value.len() > 16
        {
            return Some(format!(
                "its {name} of {} bytes is over 128 bits: gas × price overflows",
                value.len()
            ));
        }
    }
    if matches!(kind, 3 | 4) && items.get(to).is_some_and(|(list, v)| !list && v.is_empty()) {
        return Some(format!(
            "a type-{kind} transaction cannot create a contract (its `to` is empty)"
        ));
    }
    None
}

/// The Ethereum data of an imported block that its transactions do not
/// carry, kept (RLP-encoded) in its lanes header's `extra`: the header it was
/// imported with, its ommers, its withdrawals and, before Byzantium, the
/// state root after each transaction (its receipts carry them).
///
/// Encoded as the list `[header, ommers, withdrawals?, post_states?]`: a
/// block with post states has no withdrawals (Shanghai came long after
/// Byzantium), which the list then holds as an empty string; a list of
/// three or two items is a block without post states (the encoding before
/// they were kept reads as it did).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EthBlockData {
    /// The Ethereum header; the block's hash is keccak256 of its RLP.
    pub header: Header,
    /// The ommer headers.
    pub ommers: Vec<Header>,
    /// The withdrawals, from Shanghai on.
    pub withdrawals: Option<Withdrawals>,
    /// Before Byzantium: the state root after each transaction, in order
    /// (empty otherwise).
    pub post_states: Vec<B256>,
}

impl EthBlockData {
    fn payload_length(&self) -> usize {
        let third = match (&self.withdrawals, self.post_states.is_empty()) {
            (Some(w), _) => w.length(),
            (None, false) => 1,
            (None, true) => 0,
        };
        let fourth = if self.post_states.is_empty() { 0 } else { self.post_states.length() };
        self.header.length() + self.ommers.length() + third + fourth
    }
}

impl Encodable for EthBlockData {
    fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
        alloy_rlp::Header { list: true, payload_length: self.payload_length() }.encode(out);
        self.header.encode(out);
        self.ommers.encode(out);
        match &self.withdrawals {
            Some(w) => w.encode(out),
            None if !self.post_states.is_empty() => out.put_u8(alloy_rlp::EMPTY_STRING_CODE),
            None => {}
        }
        if !self.post_states.is_empty() {
            self.post_states.encode(out);
        }
    }

    fn length(&self) -> usize {
        let payload = self.payload_length();
        payload + alloy_rlp::length_of_length(payload)
    }
}

impl Decodable for EthBlockData {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let h = alloy_rlp::Header::decode(buf)?;
        if !h.list {
            return Err(alloy_rlp::Error::UnexpectedString);
        }
        let (mut body, rest) =
            buf.split_at_checked(h.payload_length).ok_or(alloy_rlp::Error::InputTooShort)?;
        let header = Header::decode(&mut body)?;
        let ommers = Vec::<Header>::decode(&mut body)?;
        let withdrawals = match body.first() {
            None => None,
            Some(&alloy_rlp::EMPTY_STRING_CODE) => {
                body = &body[1..];
                None
            }
            Some(_) => Some(Withdrawals::decode(&mut body)?),
        };
        let post_states = match body.is_empty() {
            true => Vec::new(),
            false => Vec::<B256>::decode(&mut body)?,
        };
        if !body.is_empty() {
            return Err(alloy_rlp::Error::ListLengthMismatch {
                expected: h.payload_length,
                got: h.payload_length - body.len(),
            });
        }
        *buf = rest;
        Ok(Self { header, ommers, withdrawals, post_states })
    }
}

impl EthBlockData {
    /// The RLP encoding kept in `extra`.
    pub fn encoded(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.length());
        self.encode(&mut out);
        out.into()
    }

    /// Decodes what [`Self::encoded`] made.
    pub fn from_extra(extra: &[u8]) -> alloy_rlp::Result<Self> {
        let mut buf = extra;
        Self::decode(&mut buf)
    }
}

/// The state a geth genesis allocates, as accounts_db entries.
pub fn genesis_alloc(genesis: &alloy_genesis::Genesis) -> Vec<Entry> {
    let mut out = Vec::new();
    for (address, account) in &genesis.alloc {
        let code = account.code.clone().filter(|c| !c.is_empty());
        let code_hash = code.as_ref().map_or(KECCAK256_EMPTY, keccak256);
        let header = AccountHeader {
            nonce: account.nonce.unwrap_or(0),
            balance: account.balance,
            code_hash,
        };
        // An empty account in the alloc exists (it is in the state root).
        let header = if header.is_empty() {
            AccountHeader { code_hash: lanes_evm_adapter::EXISTING_EMPTY, ..header }
        } else {
            header
        };
        out.push(Entry::Account(*address, header));
        if let Some(code) = code {
            out.push(Entry::Code(code_hash, code));
        }
        for (slot, value) in account.storage.iter().flatten() {
            let value = U256::from_be_bytes(value.0);
            if !value.is_zero() {
                out.push(Entry::Storage(*address, *slot, value));
            }
        }
    }
    out
}

/// The Ethereum header of block 0 of the chain `genesis` describes (geth's
/// `Genesis.ToBlock`): its fields, the state root of its alloc, and the
/// fields of the forks active at genesis.
pub fn genesis_header(spec: &EthSpec, genesis: &alloy_genesis::Genesis) -> Header {
    let number = genesis.number.unwrap_or(0);
    let merged = spec.merged_at_genesis();
    let fork = spec.spec_at(number, genesis.timestamp, merged);
    let since = |f: SpecId| fork.is_enabled_in(f);
    let base_fee = genesis
        .base_fee_per_gas
        .map(|fee| u64::try_from(fee).unwrap_or(u64::MAX))
        .unwrap_or(alloy_eips::eip1559::INITIAL_BASE_FEE);
    Header {
        parent_hash: genesis.parent_hash.unwrap_or_default(),
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: genesis.coinbase,
        state_root: super::state_root_of(&genesis_alloc(genesis)),
        transactions_root: alloy_trie::EMPTY_ROOT_HASH,
        receipts_root: alloy_trie::EMPTY_ROOT_HASH,
        logs_bloom: Default::default(),
        difficulty: genesis.difficulty,
        number,
        gas_limit: if genesis.gas_limit == 0 { GENESIS_GAS_LIMIT } else { genesis.gas_limit },
        gas_used: 0,
        timestamp: genesis.timestamp,
        extra_data: genesis.extra_data.clone(),
        mix_hash: genesis.mix_hash,
        nonce: B64::from(genesis.nonce),
        base_fee_per_gas: since(SpecId::LONDON).then_some(base_fee),
        withdrawals_root: since(SpecId::SHANGHAI).then_some(EMPTY_WITHDRAWALS),
        blob_gas_used: since(SpecId::CANCUN).then(|| genesis.blob_gas_used.unwrap_or(0)),
        excess_blob_gas: since(SpecId::CANCUN).then(|| genesis.excess_blob_gas.unwrap_or(0)),
        parent_beacon_block_root: since(SpecId::CANCUN).then_some(B256::ZERO),
        requests_hash: since(SpecId::PRAGUE).then_some(EMPTY_REQUESTS_HASH),
        block_access_list_hash: since(SpecId::AMSTERDAM)
            .then_some(alloy_eips::eip7928::EMPTY_BLOCK_ACCESS_LIST_HASH),
        slot_number: None,
    }
}

/// geth's gas limit of a genesis that gives none.
pub const GENESIS_GAS_LIMIT: u64 = 4_712_388;

/// The logs bloom of a block: the one a lanes block keeps in its header's
/// `extra` ([`ExtraParts`]), or an imported block's own header's; `None` for
/// a block without logs.
pub fn header_bloom(h: &BlockHeader) -> Option<Bloom> {
    if let Some(parts) = ExtraParts::parse(&h.extra) {
        return parts.bloom;
    }
    let data = EthBlockData::from_extra(&h.extra).ok()?;
    (data.header.logs_bloom != Bloom::ZERO).then_some(data.header.logs_bloom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_block_data_round_trips_with_and_without_withdrawals() {
        let header = Header { number: 7, ..Default::default() };
        for withdrawals in [None, Some(Withdrawals::default())] {
            let data = EthBlockData {
                header: header.clone(),
                ommers: vec![header.clone()],
                withdrawals,
                post_states: Vec::new(),
            };
            let extra = data.encoded();
            assert_eq!(EthBlockData::from_extra(&extra).unwrap(), data);
        }
    }

    /// The post states ride as a fourth item (the withdrawals' place an
    /// empty string); what was written before them, by alloy's derived
    /// encoding of the first three fields, reads as it did.
    #[test]
    fn test_block_data_keeps_post_states_and_reads_the_older_encoding() {
        #[derive(alloy_rlp::RlpEncodable)]
        #[rlp(trailing)]
        struct Before {
            header: Header,
            ommers: Vec<Header>,
            withdrawals: Option<Withdrawals>,
        }
        let header = Header { number: 3, ..Default::default() };
        let post_states = vec![B256::repeat_byte(1), B256::repeat_byte(2)];
        let data = EthBlockData { header: header.clone(), post_states, ..Default::default() };
        let extra = data.encoded();
        assert_eq!(extra.len(), data.length());
        assert_eq!(EthBlockData::from_extra(&extra).unwrap(), data);
        for withdrawals in [None, Some(Withdrawals::default())] {
            let before = Before { header: header.clone(), ommers: Vec::new(), withdrawals };
            let old = alloy_rlp::encode(&before);
            let read = EthBlockData::from_extra(&old).unwrap();
            assert_eq!(read.withdrawals, before.withdrawals);
            assert!(read.post_states.is_empty());
            assert_eq!(read.encoded().to_vec(), old);
        }
        // Cut short, it is an error, not a panic.
        assert!(EthBlockData::from_extra(&extra[..extra.len() - 5]).is_err());
    }
}
