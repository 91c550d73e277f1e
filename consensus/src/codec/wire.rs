//! The wire's primitives: the limits every decode checks, [`CodecError`],
//! the [`Writer`] and [`Reader`] of fixed-width integers, length-prefixed
//! bytes and lists, and the [`Wire`] trait each message type implements
//! (in `mod.rs` and `certificates.rs`).

use bytes::Bytes;

use malachitebft_app_channel::app::types::core::{
    NilOrVal, Round, SignedExtension, SignedMessage, VoteType,
};
use malachitebft_signing_ed25519::Signature;

use crate::types::{Address, Height, LanesContext};

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

pub(super) fn invalid(what: &'static str, reason: impl ToString) -> CodecError {
    CodecError::Invalid { what, reason: reason.to_string() }
}

/// Most value bytes in one `Data` part (128 KiB).
pub const MAX_PART_BYTES: usize = 128 * 1024;

/// Bytes of a signature on the wire.
pub(super) const SIGNATURE_LEN: usize = 64;

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
    pub(super) fn sig(&mut self, s: &Signature) {
        self.raw(&s.to_bytes());
    }
    pub(super) fn value_id(&mut self, v: &alloy_primitives::B256) {
        self.raw(v.as_slice());
    }
    pub(super) fn nil_or_val(&mut self, v: &NilOrVal<alloy_primitives::B256>) {
        match v {
            NilOrVal::Nil => self.u8(0),
            NilOrVal::Val(id) => {
                self.u8(1);
                self.value_id(id);
            }
        }
    }
    pub(super) fn vote_type(&mut self, t: VoteType) {
        self.u8(match t {
            VoteType::Prevote => 0,
            VoteType::Precommit => 1,
        });
    }
    pub(super) fn ext(&mut self, e: &Option<SignedExtension<LanesContext>>) {
        match e {
            None => self.u8(0),
            Some(e) => {
                self.u8(1);
                self.sig(&e.signature);
            }
        }
    }
}

pub(super) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }
    pub(super) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CodecError> {
        if self.buf.len() < n {
            return Err(CodecError::Truncated(what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    pub(super) fn arr<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], CodecError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }
    pub(super) fn u8(&mut self, what: &'static str) -> Result<u8, CodecError> {
        Ok(self.arr::<1>(what)?[0])
    }
    pub(super) fn u32(&mut self, what: &'static str) -> Result<u32, CodecError> {
        Ok(u32::from_be_bytes(self.arr(what)?))
    }
    pub(super) fn u64(&mut self, what: &'static str) -> Result<u64, CodecError> {
        Ok(u64::from_be_bytes(self.arr(what)?))
    }
    /// A list/bytes length, checked against `max` and (scaled by the least
    /// size of an element) against the bytes left.
    pub(super) fn len(
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
    pub(super) fn bytes(&mut self, what: &'static str, max: usize) -> Result<&'a [u8], CodecError> {
        let n = self.len(what, max, 1)?;
        self.take(n, what)
    }
    pub(super) fn round(&mut self, what: &'static str) -> Result<Round, CodecError> {
        let r = i64::from_be_bytes(self.arr(what)?);
        match r {
            -1 => Ok(Round::Nil),
            0..=0xFFFF_FFFF => Ok(Round::new(r as u32)),
            _ => Err(invalid(what, format!("round {r} out of range"))),
        }
    }
    pub(super) fn defined_round(&mut self, what: &'static str) -> Result<Round, CodecError> {
        let r = self.round(what)?;
        if r.is_nil() {
            return Err(invalid(what, "nil round where a round is required"));
        }
        Ok(r)
    }
    pub(super) fn height(&mut self) -> Result<Height, CodecError> {
        Ok(Height(self.u64("height")?))
    }
    pub(super) fn address(&mut self) -> Result<Address, CodecError> {
        Ok(Address(self.arr("address")?))
    }
    pub(super) fn sig(&mut self) -> Result<Signature, CodecError> {
        Ok(Signature::from_bytes(self.arr("signature")?))
    }
    pub(super) fn value_id(&mut self) -> Result<alloy_primitives::B256, CodecError> {
        Ok(alloy_primitives::B256::from(self.arr::<32>("value id")?))
    }
    pub(super) fn nil_or_val(&mut self) -> Result<NilOrVal<alloy_primitives::B256>, CodecError> {
        match self.u8("nil-or-value tag")? {
            0 => Ok(NilOrVal::Nil),
            1 => Ok(NilOrVal::Val(self.value_id()?)),
            tag => Err(CodecError::BadTag { what: "nil-or-value", tag }),
        }
    }
    pub(super) fn vote_type(&mut self) -> Result<VoteType, CodecError> {
        match self.u8("vote type")? {
            0 => Ok(VoteType::Prevote),
            1 => Ok(VoteType::Precommit),
            tag => Err(CodecError::BadTag { what: "vote type", tag }),
        }
    }
    pub(super) fn ext(&mut self) -> Result<Option<SignedExtension<LanesContext>>, CodecError> {
        match self.u8("extension tag")? {
            0 => Ok(None),
            1 => Ok(Some(SignedMessage::new((), self.sig()?))),
            tag => Err(CodecError::BadTag { what: "extension", tag }),
        }
    }
    pub(super) fn finish(self) -> Result<(), CodecError> {
        if self.buf.is_empty() { Ok(()) } else { Err(CodecError::Trailing(self.buf.len())) }
    }
}

/// A type with a lanes wire encoding.
pub(super) trait Wire: Sized {
    fn put(&self, w: &mut Writer);
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError>;
}

pub(super) fn encode<T: Wire>(v: &T) -> Bytes {
    let mut w = Writer::new();
    v.put(&mut w);
    Bytes::from(w.0)
}

pub(super) fn decode<T: Wire>(bytes: &[u8]) -> Result<T, CodecError> {
    let mut r = Reader::new(bytes);
    let v = T::get(&mut r)?;
    r.finish()?;
    Ok(v)
}

pub(super) fn put_list<T>(w: &mut Writer, items: &[T], f: impl Fn(&mut Writer, &T)) {
    w.len(items.len());
    for i in items {
        f(w, i);
    }
}

pub(super) fn get_list<T>(
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
