//! Proposal streaming: splitting a proposed block into signed
//! [`ProposalPart`]s, wrapping them as stream messages, and reassembling
//! them on the receiving side with [`PartsBuffer`].

use std::collections::{BTreeMap, HashMap, VecDeque};

use alloy_primitives::{B256, keccak256};
use bytes::Bytes;

use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_app_channel::app::types::core::Round;
use malachitebft_signing_ed25519::{PrivateKey, Signature};

use crate::codec::{MAX_PART_BYTES, Writer};
use crate::signing::verify;
use crate::types::{Address, Height, ProposalInit, ProposalPart, ValidatorSet};

const PARTS_DOMAIN: &[u8] = b"lanes/consensus/proposal-parts/v1";

/// The digest the `Fin` part signs: keccak256 of a domain tag, the height,
/// round, valid round, proposer, total length and all the value bytes.
pub fn proposal_digest(
    height: Height,
    round: Round,
    valid_round: Round,
    proposer: &Address,
    value_bytes: &[u8],
) -> B256 {
    let mut w = Writer::new();
    w.raw(PARTS_DOMAIN);
    w.height(height);
    w.round(round);
    w.round(valid_round);
    w.address(proposer);
    w.u64(value_bytes.len() as u64);
    w.raw(value_bytes);
    keccak256(&w.0)
}

/// Splits `value_bytes` into `Init`, `Data` (chunks of at most
/// [`MAX_PART_BYTES`]; none for empty bytes) and a `Fin` signed by `key`.
pub fn proposal_parts(
    height: Height,
    round: Round,
    valid_round: Round,
    proposer: Address,
    value_bytes: &[u8],
    key: &PrivateKey,
) -> Vec<ProposalPart> {
    let digest = proposal_digest(height, round, valid_round, &proposer, value_bytes);
    let mut parts = Vec::with_capacity(2 + value_bytes.len().div_ceil(MAX_PART_BYTES));
    parts.push(ProposalPart::Init(ProposalInit {
        height,
        round,
        valid_round,
        proposer,
        total_len: value_bytes.len() as u64,
    }));
    for chunk in value_bytes.chunks(MAX_PART_BYTES) {
        parts.push(ProposalPart::Data(Bytes::copy_from_slice(chunk)));
    }
    parts.push(ProposalPart::Fin(key.sign(digest.as_slice())));
    parts
}

/// The stream id lanes uses for the proposal of `(height, round)`.
pub fn stream_id_for(height: Height, round: Round) -> StreamId {
    let mut b = Vec::with_capacity(12);
    b.extend_from_slice(&height.0.to_be_bytes());
    b.extend_from_slice(&round.as_u32().unwrap_or(u32::MAX).to_be_bytes());
    StreamId::new(Bytes::from(b))
}

/// Numbers `parts` 0.. on `stream_id` and ends with a `StreamContent::Fin`.
pub fn stream_messages(
    stream_id: StreamId,
    parts: Vec<ProposalPart>,
) -> Vec<StreamMessage<ProposalPart>> {
    let n = parts.len() as u64;
    let mut out: Vec<_> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| StreamMessage::new(stream_id.clone(), i as u64, StreamContent::Data(p)))
        .collect();
    out.push(StreamMessage::new(stream_id, n, StreamContent::Fin));
    out
}

/// A proposal reassembled and checked by [`PartsBuffer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssembledProposal {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// Proof-of-lock round.
    pub valid_round: Round,
    /// The proposer, whose signature was checked.
    pub proposer: Address,
    /// The value bytes (the block).
    pub bytes: Vec<u8>,
}

/// Why [`PartsBuffer::insert`] refused a message. The stream it belonged to
/// is dropped, except for [`PartsError::Stale`] and
/// [`PartsError::TooManyParts`] on a fresh stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartsError {
    /// The proposal is for a height below the pruning floor.
    #[error("proposal for height {0} is below the pruned height")]
    Stale(Height),
    /// The stream has more messages than allowed.
    #[error("stream has more than {0} messages")]
    TooManyParts(u64),
    /// The stream's value bytes are over the limit.
    #[error("stream carries more than {0} value bytes")]
    TooLarge(usize),
    /// The parts do not form Init, Data..., Fin, Fin-of-stream.
    #[error("malformed stream: {0}")]
    Malformed(&'static str),
    /// The proposer is not in the validator set.
    #[error("proposer {0} is not a validator")]
    UnknownProposer(Address),
    /// The Fin signature does not verify.
    #[error("bad proposal signature from {0}")]
    BadSignature(Address),
}

/// Limits of a [`PartsBuffer`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PartsLimits {
    /// Most streams being assembled at once; the oldest is evicted beyond.
    pub max_streams: usize,
    /// Most value bytes per stream.
    pub max_bytes_per_stream: usize,
    /// Most messages per stream (parts plus the end of stream).
    pub max_parts_per_stream: u64,
}

impl Default for PartsLimits {
    fn default() -> Self {
        Self {
            max_streams: 64,
            max_bytes_per_stream: 64 * 1024 * 1024,
            max_parts_per_stream: (64 * 1024 * 1024 / MAX_PART_BYTES as u64) + 3,
        }
    }
}

type Key = (PeerId, StreamId);

#[derive(Default)]
struct Stream {
    parts: BTreeMap<u64, ProposalPart>,
    end: Option<u64>,
    data_bytes: usize,
    height: Option<Height>,
    born: u64,
}

/// Reassembles proposal streams. Messages are grouped by publisher (use
/// `published_by`, falling back to the sending peer) and stream id; they may
/// arrive in any order. Memory is bounded by [`PartsLimits`].
pub struct PartsBuffer {
    limits: PartsLimits,
    streams: HashMap<Key, Stream>,
    done: VecDeque<Key>,
    floor: Height,
    clock: u64,
}

impl Default for PartsBuffer {
    fn default() -> Self {
        Self::new(PartsLimits::default())
    }
}

impl PartsBuffer {
    /// An empty buffer with these limits.
    pub fn new(limits: PartsLimits) -> Self {
        Self { limits, streams: HashMap::new(), done: VecDeque::new(), floor: Height(0), clock: 0 }
    }

    /// Number of streams being assembled.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// Whether no stream is being assembled.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// Drops every stream below `height` and refuses such streams later.
    pub fn prune_below(&mut self, height: Height) {
        self.floor = self.floor.max(height);
        let floor = self.floor;
        self.streams.retain(|_, s| s.height.is_none_or(|h| h >= floor));
    }

    /// Adds one message from `from` (the publisher). Returns the proposal
    /// once its stream is complete and checked against `validators`.
    pub fn insert(
        &mut self,
        from: PeerId,
        msg: StreamMessage<ProposalPart>,
        validators: &ValidatorSet,
    ) -> Result<Option<AssembledProposal>, PartsError> {
        let key = (from, msg.stream_id.clone());
        if self.done.contains(&key) {
            return Ok(None); // a late duplicate of a finished stream
        }
        if msg.sequence >= self.limits.max_parts_per_stream {
            self.streams.remove(&key);
            return Err(PartsError::TooManyParts(self.limits.max_parts_per_stream));
        }
        if let StreamContent::Data(ProposalPart::Init(init)) = &msg.content
            && init.height < self.floor
        {
            self.streams.remove(&key);
            return Err(PartsError::Stale(init.height));
        }
        if !self.streams.contains_key(&key) {
            while self.streams.len() >= self.limits.max_streams.max(1) {
                let oldest =
                    self.streams.iter().min_by_key(|(_, s)| s.born).map(|(k, _)| k.clone());
                match oldest {
                    Some(k) => self.streams.remove(&k),
                    None => break,
                };
            }
            self.clock += 1;
            let born = self.clock;
            self.streams.insert(key.clone(), Stream { born, ..Stream::default() });
        }
        let result = self.add(&key, msg);
        match result {
            Ok(true) => {
                let stream = self.streams.remove(&key);
                self.mark_done(key);
                match stream {
                    Some(s) => assemble(s, validators).map(Some),
                    None => Ok(None),
                }
            }
            Ok(false) => Ok(None),
            Err(e) => {
                self.streams.remove(&key);
                Err(e)
            }
        }
    }

    fn mark_done(&mut self, key: Key) {
        self.done.push_back(key);
        while self.done.len() > self.limits.max_streams.max(1) * 4 {
            self.done.pop_front();
        }
    }

    /// Stores the message; `Ok(true)` once all messages are present.
    fn add(&mut self, key: &Key, msg: StreamMessage<ProposalPart>) -> Result<bool, PartsError> {
        let limits = self.limits;
        let floor = self.floor;
        let Some(s) = self.streams.get_mut(key) else {
            return Ok(false);
        };
        match msg.content {
            StreamContent::Fin => {
                if s.end.is_some_and(|e| e != msg.sequence) {
                    return Err(PartsError::Malformed("two different ends of stream"));
                }
                if s.parts.keys().next_back().is_some_and(|&k| k >= msg.sequence) {
                    return Err(PartsError::Malformed("part after the end of stream"));
                }
                s.end = Some(msg.sequence);
            }
            StreamContent::Data(part) => {
                if s.end.is_some_and(|e| msg.sequence >= e) {
                    return Err(PartsError::Malformed("part after the end of stream"));
                }
                if s.parts.contains_key(&msg.sequence) {
                    return Ok(false); // duplicate
                }
                match &part {
                    ProposalPart::Init(init) => {
                        if msg.sequence != 0 {
                            return Err(PartsError::Malformed("init is not the first part"));
                        }
                        if init.height < floor {
                            return Err(PartsError::Stale(init.height));
                        }
                        if init.total_len > limits.max_bytes_per_stream as u64 {
                            return Err(PartsError::TooLarge(limits.max_bytes_per_stream));
                        }
                        s.height = Some(init.height);
                    }
                    ProposalPart::Data(d) => {
                        if msg.sequence == 0 {
                            return Err(PartsError::Malformed("stream does not start with init"));
                        }
                        s.data_bytes = s.data_bytes.saturating_add(d.len());
                        if s.data_bytes > limits.max_bytes_per_stream {
                            return Err(PartsError::TooLarge(limits.max_bytes_per_stream));
                        }
                    }
                    ProposalPart::Fin(_) => {
                        if msg.sequence == 0 {
                            return Err(PartsError::Malformed("stream does not start with init"));
                        }
                    }
                }
                s.parts.insert(msg.sequence, part);
            }
        }
        Ok(s.end.is_some_and(|e| s.parts.len() as u64 == e))
    }
}

fn assemble(s: Stream, validators: &ValidatorSet) -> Result<AssembledProposal, PartsError> {
    let n = s.parts.len();
    let mut parts = s.parts.into_values();
    let Some(ProposalPart::Init(init)) = parts.next() else {
        return Err(PartsError::Malformed("stream does not start with init"));
    };
    let mut bytes = Vec::with_capacity(s.data_bytes);
    let mut signature: Option<Signature> = None;
    for (i, part) in parts.enumerate() {
        match part {
            ProposalPart::Data(d) if signature.is_none() => bytes.extend_from_slice(&d),
            ProposalPart::Fin(sig) if i + 2 == n => signature = Some(sig),
            _ => return Err(PartsError::Malformed("parts out of Init, Data..., Fin order")),
        }
    }
    let Some(signature) = signature else {
        return Err(PartsError::Malformed("no fin part"));
    };
    if bytes.len() as u64 != init.total_len {
        return Err(PartsError::Malformed("data length differs from the init's"));
    }
    let Some(validator) = validators.get_by_address(&init.proposer) else {
        return Err(PartsError::UnknownProposer(init.proposer));
    };
    let digest = proposal_digest(init.height, init.round, init.valid_round, &init.proposer, &bytes);
    if !verify(&validator.public_key, digest.as_slice(), &signature) {
        return Err(PartsError::BadSignature(init.proposer));
    }
    Ok(AssembledProposal {
        height: init.height,
        round: init.round,
        valid_round: init.valid_round,
        proposer: init.proposer,
        bytes,
    })
}
