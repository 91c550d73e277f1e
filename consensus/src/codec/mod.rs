//! [`LanesCodec`]: the hand-written byte encoding of every message the
//! Malachite engine sends over the network, writes to its WAL, or that the
//! node stores (commit certificates).
//!
//! Encoding: integers are big-endian and fixed-width, rounds are `i64`
//! (`-1` = nil), enums start with a one-byte tag, variable-length byte
//! strings and lists start with a `u32` length. Decoding never panics and
//! never allocates more than the input holds: every length is checked
//! against the bytes left and against the limits (`wire.rs`), and trailing bytes
//! are an error.

use bytes::Bytes;

use malachitebft_app_channel::app::consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, ExtendedCommitCertificate, ExtendedCommitSignature, PolkaCertificate,
    RoundCertificate, SignedMessage, ValidatorProof, Validity,
};
use malachitebft_sync::{RawDecidedValue, Request, Response, Status, ValueRequest, ValueResponse};

use crate::types::{LanesContext, Proposal, ProposalInit, ProposalPart, Value, Vote};

mod wire;

pub(crate) use wire::Writer;
pub use wire::{
    CodecError, MAX_ID_BYTES, MAX_PART_BYTES, MAX_SIGNATURES, MAX_SYNC_RANGE, MAX_SYNC_VALUES,
    MAX_VALUE_BYTES,
};
use wire::{Reader, SIGNATURE_LEN, Wire, decode, encode, get_list, invalid, put_list};

/// The codec of lanes for Malachite; see the module docs for the format.
#[derive(Copy, Clone, Debug, Default)]
pub struct LanesCodec;

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

// ------------------------------------------------------------ certificates

mod certificates;

use certificates::CertSignature;

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
