//! [`LanesCodec`]: the hand-written byte encoding of every message the
//! Malachite engine sends over the network, writes to its WAL, or that the
//! node stores (commit certificates).
//!
//! Encoding: integers are big-endian and fixed-width, rounds are `i64`
//! (`-1` = nil), enums start with a one-byte tag, variable-length byte
//! strings and lists start with a `u32` length. Decoding never panics and
//! never allocates more than the input holds: every length is checked
//! against the bytes left and against the limits below, and trailing bytes
//! are an error.

use bytes::Bytes;

use malachitebft_app_channel::app::consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, ExtendedCommitCertificate, ExtendedCommitSignature, NilOrVal,
    PolkaCertificate, Round, RoundCertificate, SignedExtension, SignedMessage, ValidatorProof,
    Validity, VoteType,
};
use malachitebft_signing_ed25519::Signature;
use malachitebft_sync::{RawDecidedValue, Request, Response, Status, ValueRequest, ValueResponse};

use crate::MAX_PART_BYTES;
use crate::types::{
    Address, Height, LanesContext, Proposal, ProposalInit, ProposalPart, Value, Vote,
};

/// Most signatures in one certificate (and most validators supported).
pub const MAX_SIGNATURES: usize = 1024;
/// Most decided values in one sync response.
pub const MAX_SYNC_VALUES: usize = 1024;
/// Most bytes of one decided value carried by sync (one block).
pub const MAX_VALUE_BYTES: usize = 64 * 1024 * 1024;
/// Most bytes of a stream id, a peer id, or a key in a validator proof.
pub const MAX_ID_BYTES: usize = 128;
/// Most heights one sync request may ask for.
pub const MAX_SYNC_RANGE: u64 = 10_000;

/// Why some bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The input ended inside a field.
    #[error("truncated input while reading {0}")]
    Truncated(&'static str),
    /// A length is over its limit.
    #[error("{what}: length {len} over the limit {max}")]
    TooLong {
        /// The field.
        what: &'static str,
        /// The declared length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// An unknown enum tag.
    #[error("{what}: unknown tag {tag}")]
    BadTag {
        /// The field.
        what: &'static str,
        /// The tag read.
        tag: u8,
    },
    /// A field that decodes but is not valid.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The field.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// Bytes left after the message.
    #[error("{0} trailing bytes after the message")]
    Trailing(usize),
}

fn invalid(what: &'static str, reason: impl ToString) -> CodecError {
    CodecError::Invalid { what, reason: reason.to_string() }
}

/// The codec of lanes for Malachite; see the module docs for the format.
#[derive(Copy, Clone, Debug, Default)]
pub struct LanesCodec;

// ---------------------------------------------------------------- primitives

pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn new() -> Self {
        Writer(Vec::with_capacity(128))
    }
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn raw(&mut self, v: &[u8]) {
        self.0.extend_from_slice(v);
    }
    /// Length-prefixed bytes. Lengths over `u32::MAX` cannot be produced by
    /// lanes (every encoder caps far below), so they saturate.
    pub(crate) fn bytes(&mut self, v: &[u8]) {
        self.len(v.len());
        self.raw(v);
    }
    pub(crate) fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    pub(crate) fn round(&mut self, r: Round) {
        self.raw(&r.as_i64().to_be_bytes());
    }
    pub(crate) fn height(&mut self, h: Height) {
        self.u64(h.0);
    }
    pub(crate) fn address(&mut self, a: &Address) {
        self.raw(&a.0);
    }
    fn sig(&mut self, s: &Signature) {
        self.raw(&s.to_bytes());
    }
    fn value_id(&mut self, v: &alloy_primitives::B256) {
        self.raw(v.as_slice());
    }
    fn nil_or_val(&mut self, v: &NilOrVal<alloy_primitives::B256>) {
        match v {
            NilOrVal::Nil => self.u8(0),
            NilOrVal::Val(id) => {
                self.u8(1);
                self.value_id(id);
            }
        }
    }
    fn vote_type(&mut self, t: VoteType) {
        self.u8(match t {
            VoteType::Prevote => 0,
            VoteType::Precommit => 1,
        });
    }
    fn ext(&mut self, e: &Option<SignedExtension<LanesContext>>) {
        match e {
            None => self.u8(0),
            Some(e) => {
                self.u8(1);
                self.sig(&e.signature);
            }
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CodecError> {
        if self.buf.len() < n {
            return Err(CodecError::Truncated(what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    fn arr<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], CodecError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, CodecError> {
        Ok(self.arr::<1>(what)?[0])
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, CodecError> {
        Ok(u32::from_be_bytes(self.arr(what)?))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, CodecError> {
        Ok(u64::from_be_bytes(self.arr(what)?))
    }
    /// A list/bytes length, checked against `max` and (scaled by the least
    /// size of an element) against the bytes left.
    fn len(
        &mut self,
        what: &'static str,
        max: usize,
        min_elem: usize,
    ) -> Result<usize, CodecError> {
        let n = self.u32(what)? as usize;
        if n > max {
            return Err(CodecError::TooLong { what, len: n as u64, max: max as u64 });
        }
        if n.saturating_mul(min_elem.max(1)) > self.buf.len() {
            return Err(CodecError::Truncated(what));
        }
        Ok(n)
    }
    fn bytes(&mut self, what: &'static str, max: usize) -> Result<&'a [u8], CodecError> {
        let n = self.len(what, max, 1)?;
        self.take(n, what)
    }
    fn round(&mut self, what: &'static str) -> Result<Round, CodecError> {
        let r = i64::from_be_bytes(self.arr(what)?);
        match r {
            -1 => Ok(Round::Nil),
            0..=0xFFFF_FFFF => Ok(Round::new(r as u32)),
            _ => Err(invalid(what, format!("round {r} out of range"))),
        }
    }
    fn defined_round(&mut self, what: &'static str) -> Result<Round, CodecError> {
        let r = self.round(what)?;
        if r.is_nil() {
            return Err(invalid(what, "nil round where a round is required"));
        }
        Ok(r)
    }
    fn height(&mut self) -> Result<Height, CodecError> {
        Ok(Height(self.u64("height")?))
    }
    fn address(&mut self) -> Result<Address, CodecError> {
        Ok(Address(self.arr("address")?))
    }
    fn sig(&mut self) -> Result<Signature, CodecError> {
        Ok(Signature::from_bytes(self.arr("signature")?))
    }
    fn value_id(&mut self) -> Result<alloy_primitives::B256, CodecError> {
        Ok(alloy_primitives::B256::from(self.arr::<32>("value id")?))
    }
    fn nil_or_val(&mut self) -> Result<NilOrVal<alloy_primitives::B256>, CodecError> {
        match self.u8("nil-or-value tag")? {
            0 => Ok(NilOrVal::Nil),
            1 => Ok(NilOrVal::Val(self.value_id()?)),
            tag => Err(CodecError::BadTag { what: "nil-or-value", tag }),
        }
    }
    fn vote_type(&mut self) -> Result<VoteType, CodecError> {
        match self.u8("vote type")? {
            0 => Ok(VoteType::Prevote),
            1 => Ok(VoteType::Precommit),
            tag => Err(CodecError::BadTag { what: "vote type", tag }),
        }
    }
    fn ext(&mut self) -> Result<Option<SignedExtension<LanesContext>>, CodecError> {
        match self.u8("extension tag")? {
            0 => Ok(None),
            1 => Ok(Some(SignedMessage::new((), self.sig()?))),
            tag => Err(CodecError::BadTag { what: "extension", tag }),
        }
    }
    fn finish(self) -> Result<(), CodecError> {
        if self.buf.is_empty() { Ok(()) } else { Err(CodecError::Trailing(self.buf.len())) }
    }
}

/// A type with a lanes wire encoding.
trait Wire: Sized {
    fn put(&self, w: &mut Writer);
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError>;
}

fn encode<T: Wire>(v: &T) -> Bytes {
    let mut w = Writer::new();
    v.put(&mut w);
    Bytes::from(w.0)
}

fn decode<T: Wire>(bytes: &[u8]) -> Result<T, CodecError> {
    let mut r = Reader::new(bytes);
    let v = T::get(&mut r)?;
    r.finish()?;
    Ok(v)
}

// ------------------------------------------------------------ lanes types

impl Wire for Vote {
    fn put(&self, w: &mut Writer) {
        self.put_unsigned(w);
        w.ext(&self.extension);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(Vote {
            typ: r.vote_type()?,
            height: r.height()?,
            round: r.defined_round("vote round")?,
            value: r.nil_or_val()?,
            validator_address: r.address()?,
            extension: r.ext()?,
        })
    }
}

impl Vote {
    /// Everything but the extension: the bytes a vote's signature covers.
    pub(crate) fn put_unsigned(&self, w: &mut Writer) {
        w.vote_type(self.typ);
        w.height(self.height);
        w.round(self.round);
        w.nil_or_val(&self.value);
        w.address(&self.validator_address);
    }
}

impl Wire for Proposal {
    fn put(&self, w: &mut Writer) {
        w.height(self.height);
        w.round(self.round);
        w.value_id(&self.value.id);
        w.round(self.pol_round);
        w.address(&self.validator_address);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(Proposal {
            height: r.height()?,
            round: r.defined_round("proposal round")?,
            value: Value::new(r.value_id()?),
            pol_round: r.round("pol round")?,
            validator_address: r.address()?,
        })
    }
}

impl Proposal {
    /// The bytes a proposal's signature covers.
    pub(crate) fn sign_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.put(&mut w);
        w.0
    }
}

impl Wire for ProposalPart {
    fn put(&self, w: &mut Writer) {
        match self {
            ProposalPart::Init(i) => {
                w.u8(0);
                w.height(i.height);
                w.round(i.round);
                w.round(i.valid_round);
                w.address(&i.proposer);
                w.u64(i.total_len);
            }
            ProposalPart::Data(d) => {
                w.u8(1);
                w.bytes(d);
            }
            ProposalPart::Fin(s) => {
                w.u8(2);
                w.sig(s);
            }
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        match r.u8("proposal part tag")? {
            0 => Ok(ProposalPart::Init(ProposalInit {
                height: r.height()?,
                round: r.defined_round("part round")?,
                valid_round: r.round("part valid round")?,
                proposer: r.address()?,
                total_len: r.u64("total length")?,
            })),
            1 => Ok(ProposalPart::Data(Bytes::copy_from_slice(
                r.bytes("proposal part data", MAX_PART_BYTES)?,
            ))),
            2 => Ok(ProposalPart::Fin(r.sig()?)),
            tag => Err(CodecError::BadTag { what: "proposal part", tag }),
        }
    }
}

impl Wire for SignedMessage<LanesContext, Vote> {
    fn put(&self, w: &mut Writer) {
        self.message.put(w);
        w.sig(&self.signature);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let message = Vote::get(r)?;
        Ok(SignedMessage::new(message, r.sig()?))
    }
}

impl Wire for SignedMessage<LanesContext, Proposal> {
    fn put(&self, w: &mut Writer) {
        self.message.put(w);
        w.sig(&self.signature);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let message = Proposal::get(r)?;
        Ok(SignedMessage::new(message, r.sig()?))
    }
}

impl Wire for SignedConsensusMsg<LanesContext> {
    fn put(&self, w: &mut Writer) {
        match self {
            SignedConsensusMsg::Vote(v) => {
                w.u8(0);
                v.put(w);
            }
            SignedConsensusMsg::Proposal(p) => {
                w.u8(1);
                p.put(w);
            }
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        match r.u8("consensus message tag")? {
            0 => Ok(SignedConsensusMsg::Vote(Wire::get(r)?)),
            1 => Ok(SignedConsensusMsg::Proposal(Wire::get(r)?)),
            tag => Err(CodecError::BadTag { what: "consensus message", tag }),
        }
    }
}

// ---------------------------------------------------- lists, certificates

mod certificates;

use certificates::{CertSignature, SIGNATURE_LEN};

fn put_list<T>(w: &mut Writer, items: &[T], f: impl Fn(&mut Writer, &T)) {
    w.len(items.len());
    for i in items {
        f(w, i);
    }
}

fn get_list<T>(
    r: &mut Reader<'_>,
    what: &'static str,
    max: usize,
    min_elem: usize,
    mut f: impl FnMut(&mut Reader<'_>) -> Result<T, CodecError>,
) -> Result<Vec<T>, CodecError> {
    let n = r.len(what, max, min_elem)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(f(r)?);
    }
    Ok(out)
}

impl Wire for LivenessMsg<LanesContext> {
    fn put(&self, w: &mut Writer) {
        match self {
            LivenessMsg::Vote(v) => {
                w.u8(0);
                v.put(w);
            }
            LivenessMsg::PolkaCertificate(c) => {
                w.u8(1);
                c.put(w);
            }
            LivenessMsg::SkipRoundCertificate(c) => {
                w.u8(2);
                c.put(w);
            }
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        match r.u8("liveness message tag")? {
            0 => Ok(LivenessMsg::Vote(Wire::get(r)?)),
            1 => Ok(LivenessMsg::PolkaCertificate(Wire::get(r)?)),
            2 => Ok(LivenessMsg::SkipRoundCertificate(Wire::get(r)?)),
            tag => Err(CodecError::BadTag { what: "liveness message", tag }),
        }
    }
}

impl Wire for ValidatorProof<LanesContext> {
    fn put(&self, w: &mut Writer) {
        w.bytes(&self.public_key);
        w.bytes(&self.peer_id);
        w.sig(&self.signature);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let public_key = r.bytes("proof public key", MAX_ID_BYTES)?.to_vec();
        let peer_id = r.bytes("proof peer id", MAX_ID_BYTES)?.to_vec();
        Ok(ValidatorProof::new(public_key, peer_id, r.sig()?))
    }
}

impl Wire for StreamMessage<ProposalPart> {
    fn put(&self, w: &mut Writer) {
        w.bytes(&self.stream_id.to_bytes());
        w.u64(self.sequence);
        match &self.content {
            StreamContent::Data(p) => {
                w.u8(0);
                p.put(w);
            }
            StreamContent::Fin => w.u8(1),
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let stream_id = StreamId::new(Bytes::copy_from_slice(r.bytes("stream id", MAX_ID_BYTES)?));
        let sequence = r.u64("sequence")?;
        let content = match r.u8("stream content tag")? {
            0 => StreamContent::Data(ProposalPart::get(r)?),
            1 => StreamContent::Fin,
            tag => return Err(CodecError::BadTag { what: "stream content", tag }),
        };
        Ok(StreamMessage::new(stream_id, sequence, content))
    }
}

impl Wire for ProposedValue<LanesContext> {
    fn put(&self, w: &mut Writer) {
        w.height(self.height);
        w.round(self.round);
        w.round(self.valid_round);
        w.address(&self.proposer);
        w.value_id(&self.value.id);
        w.u8(match self.validity {
            Validity::Valid => 1,
            Validity::Invalid => 0,
        });
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(ProposedValue {
            height: r.height()?,
            round: r.defined_round("proposed value round")?,
            valid_round: r.round("proposed value valid round")?,
            proposer: r.address()?,
            value: Value::new(r.value_id()?),
            validity: match r.u8("validity")? {
                1 => Validity::Valid,
                0 => Validity::Invalid,
                tag => return Err(CodecError::BadTag { what: "validity", tag }),
            },
        })
    }
}

// -------------------------------------------------------------------- sync

fn put_peer(w: &mut Writer, p: &PeerId) {
    w.bytes(&p.to_bytes());
}

fn get_peer(r: &mut Reader<'_>) -> Result<PeerId, CodecError> {
    let b = r.bytes("peer id", MAX_ID_BYTES)?;
    PeerId::from_bytes(b).map_err(|e| invalid("peer id", e))
}

impl Wire for Status<LanesContext> {
    fn put(&self, w: &mut Writer) {
        put_peer(w, &self.peer_id);
        w.height(self.tip_height);
        w.height(self.history_min_height);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(Status {
            peer_id: get_peer(r)?,
            tip_height: r.height()?,
            history_min_height: r.height()?,
        })
    }
}

impl Wire for Request<LanesContext> {
    fn put(&self, w: &mut Writer) {
        match self {
            Request::ValueRequest(v) => {
                w.u8(0);
                w.height(*v.range.start());
                w.height(*v.range.end());
            }
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        match r.u8("sync request tag")? {
            0 => {
                let start = r.height()?;
                let end = r.height()?;
                if end.0 < start.0 {
                    return Err(invalid("sync request", "empty range"));
                }
                if end.0 - start.0 >= MAX_SYNC_RANGE {
                    return Err(CodecError::TooLong {
                        what: "sync request range",
                        len: end.0 - start.0 + 1,
                        max: MAX_SYNC_RANGE,
                    });
                }
                Ok(Request::ValueRequest(ValueRequest::new(start..=end)))
            }
            tag => Err(CodecError::BadTag { what: "sync request", tag }),
        }
    }
}

impl Wire for RawDecidedValue<LanesContext> {
    fn put(&self, w: &mut Writer) {
        w.bytes(&self.value_bytes);
        self.certificate.put(w);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let value_bytes = Bytes::copy_from_slice(r.bytes("decided value", MAX_VALUE_BYTES)?);
        Ok(RawDecidedValue::new(value_bytes, Wire::get(r)?))
    }
}

impl Wire for Response<LanesContext> {
    fn put(&self, w: &mut Writer) {
        match self {
            Response::ValueResponse(v) => {
                w.u8(0);
                w.height(v.start_height);
                put_list(w, &v.values, |w, v| v.put(w));
            }
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        match r.u8("sync response tag")? {
            0 => {
                let start = r.height()?;
                let values = get_list(r, "sync values", MAX_SYNC_VALUES, 64, Wire::get)?;
                Ok(Response::ValueResponse(ValueResponse::new(start, values)))
            }
            tag => Err(CodecError::BadTag { what: "sync response", tag }),
        }
    }
}

macro_rules! impl_codec {
    ($($t:ty),* $(,)?) => {$(
        impl Codec<$t> for LanesCodec {
            type Error = CodecError;

            fn decode(&self, bytes: Bytes) -> Result<$t, CodecError> {
                decode::<$t>(&bytes)
            }

            fn encode(&self, msg: &$t) -> Result<Bytes, CodecError> {
                Ok(encode(msg))
            }
        }
    )*};
}

impl_codec!(
    ProposalPart,
    SignedConsensusMsg<LanesContext>,
    LivenessMsg<LanesContext>,
    StreamMessage<ProposalPart>,
    ValidatorProof<LanesContext>,
    ProposedValue<LanesContext>,
    PolkaCertificate<LanesContext>,
    CommitCertificate<LanesContext>,
    ExtendedCommitCertificate<LanesContext>,
    RoundCertificate<LanesContext>,
    Status<LanesContext>,
    Request<LanesContext>,
    Response<LanesContext>,
    RawDecidedValue<LanesContext>,
    Vote,
    Proposal,
);

impl HasEncodedLen<Response<LanesContext>> for LanesCodec {
    fn encoded_len(&self, msg: &Response<LanesContext>) -> Result<usize, CodecError> {
        let Response::ValueResponse(v) = msg;
        let mut n = 1 + 8 + 4;
        for value in &v.values {
            n += 4 + value.value_bytes.len();
            n += 8 + 8 + 32 + 4;
            for s in &value.certificate.commit_signatures {
                n += <ExtendedCommitSignature<LanesContext> as CertSignature>::MIN_LEN;
                n += if s.extension.is_some() { SIGNATURE_LEN } else { 0 };
            }
        }
        Ok(n)
    }
}
