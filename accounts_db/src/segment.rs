//! Segment files: a checked header, then records, then zeros.
//!
//! ```text
//! offset  size  field
//!      0     8  magic  "LANESSEG"
//!      8     4  format version (2), u32 LE
//!     12     4  segment id, u32 LE (also the file name: {id:010}.seg)
//!     16     8  file size, u64 LE
//!     24     8  xxh3-64 of bytes 0..24
//!     32        first record
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{StorageError, io_err};
use crate::index::Loc;
use crate::mmap::MappedFile;
use crate::record::{self, COMMIT_BODY_LEN, Frame, HEADER_LEN, Kind, RawRecord};

/// Bytes of the segment header; the first record starts here.
pub(crate) const SEGMENT_HEADER_LEN: u64 = 32;
const MAGIC: &[u8; 8] = b"LANESSEG";
const FORMAT_VERSION: u32 = 2;
/// The largest segment file: 4 GiB, as offsets in it are u32.
const MAX_SEGMENT_LEN: u64 = u32::MAX as u64 + 1;

/// One segment file and its bookkeeping.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) id: u32,
    pub(crate) file: MappedFile,
    /// Bytes of records the index still points at.
    pub(crate) live: AtomicU64,
}

/// The table of live segments, by id.
pub(crate) type SegmentTable = Vec<Option<Arc<Segment>>>;

pub(crate) fn segment_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("{id:010}.seg"))
}

/// The id in a segment file name, if it is one.
pub(crate) fn parse_segment_name(name: &str) -> Option<u32> {
    let digits = name.strip_suffix(".seg")?;
    (digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

fn header(id: u32, size: u64) -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut h = [0; SEGMENT_HEADER_LEN as usize];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&id.to_le_bytes());
    h[16..24].copy_from_slice(&size.to_le_bytes());
    let sum = xxhash_rust::xxh3::xxh3_64(&h[..24]);
    h[24..32].copy_from_slice(&sum.to_le_bytes());
    h
}

/// The format version an intact segment header (checksum and magic right)
/// records, and the one this build reads.
pub(crate) fn header_version(bytes: &[u8]) -> Option<(u32, u32)> {
    let h = bytes.first_chunk::<{ SEGMENT_HEADER_LEN as usize }>()?;
    let intact =
        xxhash_rust::xxh3::xxh3_64(&h[..24]).to_le_bytes() == h[24..32] && &h[..8] == MAGIC;
    intact.then(|| (u32::from_le_bytes(h[8..12].try_into().expect("4 bytes")), FORMAT_VERSION))
}

/// Checks a segment header; returns the file size it records.
pub(crate) fn check_header(bytes: &[u8], id: u32) -> Result<u64, &'static str> {
    let Some(h) = bytes.first_chunk::<{ SEGMENT_HEADER_LEN as usize }>() else {
        return Err("segment header cut short");
    };
    if xxhash_rust::xxh3::xxh3_64(&h[..24]).to_le_bytes() != h[24..32] {
        return Err("segment header checksum mismatch");
    }
    if &h[..8] != MAGIC {
        return Err("not a lanes segment file");
    }
    if h[8..12] != FORMAT_VERSION.to_le_bytes() {
        return Err("unsupported segment format version");
    }
    if h[12..16] != id.to_le_bytes() {
        return Err("segment id in header differs from the file name");
    }
    let size = u64::from_le_bytes(h[16..24].try_into().expect("8 bytes"));
    // Offsets in a segment are u32 (`Loc`), so none is written larger; a
    // larger recorded size would have recovery grow and map the file to it.
    if !(SEGMENT_HEADER_LEN..=MAX_SEGMENT_LEN).contains(&size) {
        return Err("segment size in header out of range");
    }
    Ok(size)
}

impl Segment {
    /// Creates, preallocates and syncs a new segment file (the caller syncs the
    /// directory).
    pub(crate) fn create(dir: &Path, id: u32, size: u64) -> Result<Self, StorageError> {
        let path = segment_path(dir, id);
        let file = MappedFile::create(&path, size, &header(id, size)).map_err(io_err(&path))?;
        Ok(Self { id, file, live: AtomicU64::new(0) })
    }

    /// Opens an existing segment file, at least `min_len` bytes long.
    /// Opens segment `id`; `scan`: its pages are read in up front, for
    /// recovery to scan it.
    pub(crate) fn open(
        dir: &Path,
        id: u32,
        min_len: u64,
        scan: bool,
    ) -> Result<Self, StorageError> {
        let path = segment_path(dir, id);
        let file = MappedFile::open(&path, min_len, scan).map_err(io_err(&path))?;
        Ok(Self { id, file, live: AtomicU64::new(0) })
    }

    pub(crate) fn path(&self) -> &Path {
        self.file.path()
    }

    /// Starts reading its data into the page cache, for a scan in order.
    pub(crate) fn will_need(&self) {
        self.file.will_need(0, self.file.readable());
    }

    /// Where data ends: everything readable.
    pub(crate) fn data_end(&self) -> u64 {
        self.file.readable()
    }

    /// The frame at `offset`, checksum verified, reading up to the readable end.
    pub(crate) fn frame_at(&self, offset: u64) -> Frame<'_> {
        let end = self.file.readable();
        if offset >= end {
            return Frame::End;
        }
        match self.file.read(offset, (end - offset) as usize) {
            Some(buf) => record::parse(buf, true),
            None => Frame::End,
        }
    }

    /// Unmaps the segment and deletes its file.
    pub(crate) fn delete(self) -> Result<(), StorageError> {
        let path = self.path().to_owned();
        drop(self);
        std::fs::remove_file(&path).map_err(io_err(&path))
    }

    /// The sequence number and checksum of a valid commit record at
    /// `offset`, if one is there (its header is looked at first, so a scan
    /// for commit records at every aligned offset stays cheap).
    pub(crate) fn commit_at(&self, offset: u64) -> Option<(u64, u64)> {
        let head = self.file.read(offset, HEADER_LEN)?;
        if head[12] != Kind::Commit as u8 || head[8..12] != (COMMIT_BODY_LEN as u32).to_le_bytes() {
            return None;
        }
        match self.frame_at(offset) {
            Frame::Record(r) if r.kind == Kind::Commit => Some((r.commit().seq, r.checksum)),
            _ => None,
        }
    }

    /// The (already verified) data record at `loc`, for point reads.
    pub(crate) fn record_at(&self, loc: Loc) -> Result<RawRecord<'_>, StorageError> {
        let offset = u64::from(loc.offset());
        let corrupted =
            |reason| StorageError::Corrupted { file: self.path().to_owned(), offset, reason };
        let head = self
            .file
            .read(offset, HEADER_LEN)
            .ok_or_else(|| corrupted("index points past data"))?;
        let body_len = record::body_len(head.try_into().expect("16 bytes"));
        let size = record::padded_size(body_len);
        let buf = self.file.read(offset, size).ok_or_else(|| corrupted("record runs past data"))?;
        match record::parse(buf, false) {
            Frame::Record(r) if r.kind != record::Kind::Commit => Ok(r),
            Frame::Record(_) => Err(corrupted("index points at a commit record")),
            Frame::Invalid(reason) => Err(corrupted(reason)),
            Frame::End => Err(corrupted("index points at empty space")),
        }
    }

    pub(crate) fn add_live(&self, bytes: u64) {
        self.live.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Takes `bytes` out of the live bytes, stopping at zero: a damaged
    /// checkpoint that passed its checksum may name a record twice.
    pub(crate) fn sub_live(&self, bytes: u64) {
        let less = |live: u64| Some(live.saturating_sub(bytes));
        let _ = self.live.fetch_update(Ordering::Relaxed, Ordering::Relaxed, less);
    }

    pub(crate) fn live(&self) -> u64 {
        self.live.load(Ordering::Relaxed)
    }
}
