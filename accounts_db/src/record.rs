//! Record framing: pure functions over byte slices (no I/O), so they can be
//! tested on in-memory buffers, Miri included.
//!
//! ```text
//! offset  size  field
//!      0     8  checksum   xxh3-64 of bytes 8 .. 16 + body_len
//!      8     4  body_len   u32 LE, > 0
//!     12     1  kind       1 account, 2 storage, 3 code, 4 commit; bit 7 = tombstone
//!     13     3  zero
//!     16     n  body       see below
//!         pad   zero bytes up to a multiple of 8
//!
//! data body:   prev u64 | jump u64 | depth u32 | key | value (borsh), value absent in a tombstone
//!   key: account = address (20), storage = address (20) ++ slot (32), code = hash (32)
//! commit body: seq u64 | block u64 | commitment (32) | records u32 | flags u32 | digest u64
//! ```

use alloy_primitives::{Address, B256};

use crate::entry::Key;

/// Bytes of a frame header.
pub(crate) const HEADER_LEN: usize = 16;
/// Every record starts at a multiple of this.
pub(crate) const ALIGN: usize = 8;
/// Bytes of a commit record's body.
pub(crate) const COMMIT_BODY_LEN: usize = 64;
/// Total bytes of a commit record.
pub(crate) const COMMIT_RECORD_LEN: usize = HEADER_LEN + COMMIT_BODY_LEN;
/// `prev` value meaning "no earlier version".
pub(crate) const NO_PREV: u64 = u64::MAX;
/// Bytes of a data body before the key: `prev`, `jump`, `depth`.
const LINKS_LEN: usize = 20;

/// How a data record points back along its key's versions: `prev` at the
/// version before it, `jump` further back (skew-binary jump pointers, so a
/// read of an old version takes a logarithmic number of steps), and `depth`,
/// the number of versions before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Links {
    pub(crate) prev: u64,
    pub(crate) jump: u64,
    pub(crate) depth: u32,
}

impl Links {
    /// The links of a key's first version.
    pub(crate) const FIRST: Self = Self { prev: NO_PREV, jump: NO_PREV, depth: 0 };
}
/// Commit flag: a compaction commit, which moves records and changes no state.
pub(crate) const FLAG_MAINTENANCE: u32 = 1;
/// Commit flag: no block has been committed yet (the block fields mean nothing).
pub(crate) const FLAG_NO_BLOCK: u32 = 2;

const TOMBSTONE: u8 = 0x80;

/// The kind of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Account = 1,
    Storage = 2,
    Code = 3,
    Commit = 4,
}

impl Kind {
    pub(crate) fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::Account,
            2 => Self::Storage,
            3 => Self::Code,
            4 => Self::Commit,
            _ => return None,
        })
    }

    /// Bytes of a key of this kind.
    pub(crate) fn key_len(self) -> usize {
        match self {
            Self::Account => 20,
            Self::Storage => 52,
            Self::Code => 32,
            Self::Commit => 0,
        }
    }
}

/// Kind of the record that stores `key`.
pub(crate) fn key_kind(key: &Key) -> Kind {
    match key {
        Key::Account(_) => Kind::Account,
        Key::Storage(..) => Kind::Storage,
        Key::Code(_) => Kind::Code,
    }
}

/// Appends the key bytes of `key` to `out`.
pub(crate) fn put_key(out: &mut Vec<u8>, key: &Key) {
    match key {
        Key::Account(a) => out.extend_from_slice(a.as_slice()),
        Key::Storage(a, s) => {
            out.extend_from_slice(a.as_slice());
            out.extend_from_slice(s.as_slice());
        }
        Key::Code(h) => out.extend_from_slice(h.as_slice()),
    }
}

/// The key of a record of `kind` whose key bytes are `k` (`put_key`'s).
pub(crate) fn key_of(kind: Kind, k: &[u8]) -> Key {
    match kind {
        Kind::Account => Key::Account(Address::from_slice(k)),
        Kind::Storage => Key::Storage(Address::from_slice(&k[..20]), B256::from_slice(&k[20..])),
        Kind::Code | Kind::Commit => Key::Code(B256::from_slice(k)),
    }
}

/// What lies at a position of a segment.
#[derive(Debug)]
pub(crate) enum Frame<'a> {
    /// Zero bytes, or too few bytes for a header: no record starts here.
    End,
    /// Bytes that are not a valid record (torn or corrupted), and why.
    Invalid(&'static str),
    /// A valid record.
    Record(RawRecord<'a>),
}

/// A parsed record that borrows its body.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawRecord<'a> {
    pub(crate) kind: Kind,
    pub(crate) tombstone: bool,
    pub(crate) checksum: u64,
    pub(crate) body: &'a [u8],
    /// Bytes the record occupies, padding included.
    pub(crate) size: usize,
}

/// Total bytes, padding included, of a record with a body of `body_len` bytes.
pub(crate) fn padded_size(body_len: usize) -> usize {
    (HEADER_LEN + body_len).next_multiple_of(ALIGN)
}

/// Reads the body length from a header, for callers that fetch the body next.
pub(crate) fn body_len(header: &[u8; HEADER_LEN]) -> usize {
    u32::from_le_bytes([header[8], header[9], header[10], header[11]]) as usize
}

/// Parses the record at the start of `buf`. With `verify` the checksum is
/// checked; point reads of already-verified records skip it.
pub(crate) fn parse(buf: &[u8], verify: bool) -> Frame<'_> {
    let Some(header) = buf.first_chunk::<HEADER_LEN>() else { return Frame::End };
    if header.iter().all(|&b| b == 0) {
        return Frame::End;
    }
    let body_len = body_len(header);
    let Some(kind) = Kind::from_byte(header[12] & !TOMBSTONE) else {
        return Frame::Invalid("unknown record kind");
    };
    let tombstone = header[12] & TOMBSTONE != 0;
    if header[13..16] != [0; 3] {
        return Frame::Invalid("reserved header bytes not zero");
    }
    let min = if kind == Kind::Commit { COMMIT_BODY_LEN } else { LINKS_LEN + kind.key_len() };
    if body_len < min || (kind == Kind::Commit && (body_len != min || tombstone)) {
        return Frame::Invalid("record body length does not fit its kind");
    }
    let size = padded_size(body_len);
    if size > buf.len() {
        return Frame::Invalid("record runs past the end of the segment");
    }
    let checksum = u64::from_le_bytes(header[..8].try_into().expect("8 bytes"));
    if verify && xxhash_rust::xxh3::xxh3_64(&buf[8..HEADER_LEN + body_len]) != checksum {
        return Frame::Invalid("record checksum mismatch");
    }
    Frame::Record(RawRecord {
        kind,
        tombstone,
        checksum,
        body: &buf[HEADER_LEN..HEADER_LEN + body_len],
        size,
    })
}

/// Appends one framed, padded record to `out` and returns its checksum.
fn put_frame(out: &mut Vec<u8>, kind_byte: u8, body: impl FnOnce(&mut Vec<u8>)) -> u64 {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    body(out);
    let body_len = out.len() - start - HEADER_LEN;
    let len = u32::try_from(body_len).expect("record bodies are bounded far below 4 GiB");
    out[start + 8..start + 12].copy_from_slice(&len.to_le_bytes());
    out[start + 12] = kind_byte;
    let checksum = xxhash_rust::xxh3::xxh3_64(&out[start + 8..]);
    out[start..start + 8].copy_from_slice(&checksum.to_le_bytes());
    out.resize(start + padded_size(body_len), 0);
    checksum
}

fn put_links(out: &mut Vec<u8>, links: Links) {
    out.extend_from_slice(&links.prev.to_le_bytes());
    out.extend_from_slice(&links.jump.to_le_bytes());
    out.extend_from_slice(&links.depth.to_le_bytes());
}

/// Appends a data record (a value, or a tombstone when `value` is `None`).
pub(crate) fn put_data(out: &mut Vec<u8>, key: &Key, links: Links, value: Option<&[u8]>) -> u64 {
    let kind_byte = key_kind(key) as u8 | if value.is_none() { TOMBSTONE } else { 0 };
    put_frame(out, kind_byte, |out| {
        put_links(out, links);
        put_key(out, key);
        if let Some(value) = value {
            out.extend_from_slice(value);
        }
    })
}

/// Copies an existing data record with new links, returning the new checksum.
pub(crate) fn put_moved(out: &mut Vec<u8>, record: &RawRecord<'_>, links: Links) -> u64 {
    let kind_byte = record.kind as u8 | if record.tombstone { TOMBSTONE } else { 0 };
    put_frame(out, kind_byte, |out| {
        put_links(out, links);
        out.extend_from_slice(&record.body[LINKS_LEN..]);
    })
}

/// The fields of a commit record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CommitRecord {
    pub(crate) seq: u64,
    pub(crate) block_number: u64,
    pub(crate) commitment: B256,
    pub(crate) records: u32,
    pub(crate) flags: u32,
    pub(crate) digest: u64,
}

/// Appends a commit record.
pub(crate) fn put_commit(out: &mut Vec<u8>, c: &CommitRecord) {
    put_frame(out, Kind::Commit as u8, |out| {
        out.extend_from_slice(&c.seq.to_le_bytes());
        out.extend_from_slice(&c.block_number.to_le_bytes());
        out.extend_from_slice(c.commitment.as_slice());
        out.extend_from_slice(&c.records.to_le_bytes());
        out.extend_from_slice(&c.flags.to_le_bytes());
        out.extend_from_slice(&c.digest.to_le_bytes());
    });
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

impl<'a> RawRecord<'a> {
    /// The commit fields of a commit record.
    pub(crate) fn commit(&self) -> CommitRecord {
        let b = self.body;
        CommitRecord {
            seq: u64_at(b, 0),
            block_number: u64_at(b, 8),
            commitment: B256::from_slice(&b[16..48]),
            records: u32_at(b, 48),
            flags: u32_at(b, 52),
            digest: u64_at(b, 56),
        }
    }

    /// A data record's links back along its key's versions.
    pub(crate) fn links(&self) -> Links {
        Links {
            prev: u64_at(self.body, 0),
            jump: u64_at(self.body, 8),
            depth: u32_at(self.body, 16),
        }
    }

    /// The raw key bytes of a data record.
    pub(crate) fn key_bytes(&self) -> &'a [u8] {
        &self.body[LINKS_LEN..LINKS_LEN + self.kind.key_len()]
    }

    /// The key of a data record.
    pub(crate) fn key(&self) -> Key {
        key_of(self.kind, self.key_bytes())
    }

    /// Whether this data record stores `key`.
    pub(crate) fn has_key(&self, key: &Key) -> bool {
        if self.kind != key_kind(key) {
            return false;
        }
        let k = self.key_bytes();
        match key {
            Key::Account(a) => k == a.as_slice(),
            Key::Storage(a, s) => &k[..20] == a.as_slice() && &k[20..] == s.as_slice(),
            Key::Code(h) => k == h.as_slice(),
        }
    }

    /// The borsh-encoded value of a data record (empty for a tombstone).
    pub(crate) fn value(&self) -> &'a [u8] {
        &self.body[LINKS_LEN + self.kind.key_len()..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(buf: &[u8]) -> RawRecord<'_> {
        match parse(buf, true) {
            Frame::Record(r) => r,
            other => panic!("expected a record, got {other:?}"),
        }
    }

    #[test]
    fn test_data_and_commit_round_trip() {
        let key = Key::Storage(Address::repeat_byte(7), B256::repeat_byte(9));
        let mut buf = Vec::new();
        let links = Links { prev: 42, jump: 7, depth: 3 };
        let sum = put_data(&mut buf, &key, links, Some(&[1, 2, 3]));
        assert_eq!(buf.len() % ALIGN, 0);
        let r = record(&buf);
        assert_eq!(
            (r.kind, r.tombstone, r.checksum, r.links()),
            (Kind::Storage, false, sum, links)
        );
        assert!(r.has_key(&key));
        assert!(!r.has_key(&Key::Account(Address::repeat_byte(7))));
        assert_eq!(r.key(), key);
        assert_eq!(r.value(), &[1, 2, 3]);
        assert_eq!(r.size, buf.len());

        let c = CommitRecord {
            seq: 3,
            block_number: 9,
            commitment: B256::repeat_byte(1),
            records: 4,
            flags: FLAG_MAINTENANCE,
            digest: 77,
        };
        let mut buf = Vec::new();
        put_commit(&mut buf, &c);
        assert_eq!(buf.len(), COMMIT_RECORD_LEN);
        assert_eq!(record(&buf).commit(), c);
    }

    #[test]
    fn test_every_flipped_bit_is_caught() {
        let mut buf = Vec::new();
        put_data(&mut buf, &Key::Account(Address::repeat_byte(1)), Links::FIRST, None);
        for i in 0..buf.len() * 8 {
            let mut bad = buf.clone();
            bad[i / 8] ^= 1 << (i % 8);
            match parse(&bad, true) {
                Frame::Invalid(_) | Frame::End => {}
                // Flips in the zero padding after the body are outside the record.
                Frame::Record(r) => assert!(i / 8 >= HEADER_LEN + r.body.len(), "bit {i}"),
            }
        }
    }

    #[test]
    fn test_short_and_zero_buffers_end() {
        assert!(matches!(parse(&[0; 40], true), Frame::End));
        assert!(matches!(parse(&[1; 3], true), Frame::End));
        let mut buf = Vec::new();
        put_data(&mut buf, &Key::Code(B256::ZERO), Links::FIRST, Some(&[0; 100]));
        assert!(matches!(parse(&buf[..buf.len() - 8], true), Frame::Invalid(_)));
    }
}
