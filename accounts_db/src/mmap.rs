//! The one module with `unsafe` code: a file mapped read-only, written with `pwrite`,
//! [`prefetch`], the cache hint the index and the record reads use on mapped memory,
//! and [`write_back`], which sends a file's written pages to the disk without a sync.
//!
//! A [`MappedFile`] splits its bytes in two by a *readable* watermark that only grows:
//!
//! ```text
//!   0                 readable                         len
//!   | handed out as &[u8]  |  written only, never read   |
//! ```
//!
//! [`MappedFile::read`] hands out slices below the watermark and nothing else;
//! [`MappedFile::write_at`] refuses any offset below it. Raising the watermark
//! ([`MappedFile::publish`]) is what makes written bytes readable, and lowering it
//! ([`MappedFile::cut_readable`]) takes `&mut self`, which proves no slice is alive.
//! So a byte a slice points at is never modified while the slice exists, which is
//! the condition memmap2 puts on a file-backed map. The remaining conditions hold
//! because the data directory is locked exclusively by the owning process (no
//! other lanes process writes it), the file length is fixed before the map is
//! made and never shrinks while mapped, and the `File` lives beside its map.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::{Advice, MmapOptions, MmapRaw, UncheckedAdvice};

/// Asks the CPU to start loading the cache line holding `at`, and goes on
/// without waiting: a pass of these over a batch's keys has all their cache
/// misses in flight at once, where a pass of plain loads stalls once the
/// loads waiting on memory fill the core's window. A no-op off x86_64 and
/// under Miri.
pub(crate) fn prefetch<T>(at: &T) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: `_mm_prefetch` is unsafe only because it is an SSE intrinsic, and
    // SSE is part of every x86_64 target. A prefetch is a hint: it never faults
    // and changes nothing the program can observe, and the address comes from
    // a live reference anyway.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(at).cast());
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = at;
}

/// Starts writing `offset..offset + len` of `file` back to the disk
/// (`sync_file_range`); with `wait`, also waits until that range is on its
/// way and done. Not a sync: it flushes neither the disk's cache nor the
/// file's metadata. A writer of a large file calls it as it goes, so the
/// file's dirty pages never pile up into a burst that the database's own
/// syncs would wait behind. A no-op off Linux.
pub(crate) fn write_back(file: &File, offset: u64, len: u64, wait: bool) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "range past i64"));
        };
        let mut flags = libc::SYNC_FILE_RANGE_WRITE;
        if wait {
            flags |= libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WAIT_AFTER;
        }
        // SAFETY: a plain system call on a descriptor `file` keeps open for
        // the call's length; it reads no memory of this process and changes
        // nothing but when the kernel writes the file's pages.
        let rc = unsafe { libc::sync_file_range(file.as_raw_fd(), offset as _, len as _, flags) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len, wait);
    Ok(())
}

/// A fixed-length file, mapped read-only, appended to with positioned writes.
#[derive(Debug)]
pub(crate) struct MappedFile {
    path: PathBuf,
    file: File,
    map: MmapRaw,
    len: u64,
    readable: AtomicU64,
}

/// Grows `file` to `len` bytes of zeros, reserving the disk blocks where the
/// file system supports it.
pub(crate) fn grow(file: &File, len: u64) -> io::Result<()> {
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, len) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::NOSPC => Err(e.into()),
        // File systems without fallocate: the file is sparse, and a full disk
        // shows as an error from `write_at` or `sync` instead.
        Err(_) => file.set_len(len),
    }
}

/// Brings `0..len` of a file [`grow`] just reserved into the page cache as
/// zeros in 2 MiB folios, through a passing mapping that asks for huge
/// pages: the file system reads a reserved, unwritten block as zeros
/// without going to the disk. The records written later land in those
/// folios, and the file's own mapping then maps each with one huge page, so
/// reads across gigabytes of records miss the TLB once per 2 MiB instead of
/// once per 4 KiB. The disk sees only the bytes written, as before. A hint:
/// errors are ignored, and where the kernel keeps small pages nothing changes.
fn prefill_huge(file: &File, len: u64) {
    let Ok(len) = usize::try_from(len) else { return };
    let Ok(map) = MmapOptions::new().len(len).map_raw_read_only(file) else { return };
    if map.advise(Advice::HugePage).is_err() {
        return;
    }
    // A folio at a time: each call holds the process's memory-map lock,
    // which a reader's page fault waits for behind any `mmap` in between.
    for (at, len) in passes(len, HUGE_PAGE) {
        if map.advise_range(Advice::PopulateRead, at, len).is_err() {
            return;
        }
    }
}

/// The size of a huge page (a PMD's span on x86_64 and aarch64 with 4 KiB pages).
const HUGE_PAGE: usize = 2 << 20;

impl MappedFile {
    /// Creates a new file of exactly `len` bytes, reserving the disk blocks where the
    /// file system supports it, writes `head` at offset 0 and syncs it.
    ///
    /// The readable watermark starts at `head.len()`.
    pub(crate) fn create(path: &Path, len: u64, head: &[u8]) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(path)?;
        grow(&file, len)?;
        prefill_huge(&file, len);
        file.write_all_at(head, 0)?;
        file.sync_all()?;
        let map = map(&file, len, false)?;
        Ok(Self {
            path: path.to_owned(),
            file,
            map,
            len,
            readable: AtomicU64::new(head.len() as u64),
        })
    }

    /// Opens an existing file; extends it to `min_len` first when it is shorter (a
    /// file cut short by a crash or by hand). Everything up to its length starts
    /// out readable, for recovery to scan; `populate`: its pages are read in
    /// up front.
    pub(crate) fn open(path: &Path, min_len: u64, populate: bool) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let mut len = file.metadata()?.len();
        if len < min_len {
            file.set_len(min_len)?;
            file.sync_all()?;
            len = min_len;
        }
        let map = map(&file, len, populate)?;
        Ok(Self { path: path.to_owned(), file, map, len, readable: AtomicU64::new(len) })
    }

    /// The file's path, for error messages.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file's path still names this file (not one renamed over
    /// it since it was opened).
    pub(crate) fn is_at_path(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        match (self.file.metadata(), std::fs::metadata(&self.path)) {
            (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
            _ => false,
        }
    }

    /// The fixed length of the file.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The readable watermark.
    pub(crate) fn readable(&self) -> u64 {
        self.readable.load(Ordering::Acquire)
    }

    /// Starts loading the cache lines of a record at `offset` (its first two
    /// lines, which hold any account or storage record but the few that
    /// straddle a third), without waiting for them. Offsets at or beyond the
    /// readable watermark are skipped.
    pub(crate) fn prefetch_record(&self, offset: u64) {
        self.prefetch_at(offset);
        if let Some(second) = offset.checked_add(64) {
            self.prefetch_at(second);
        }
    }

    /// Starts loading the cache line holding byte `offset`, without waiting
    /// for it; an offset at or beyond the readable watermark is skipped.
    pub(crate) fn prefetch_at(&self, offset: u64) {
        if let Some(byte) = self.read(offset, 1) {
            prefetch(&byte[0]);
        }
    }

    /// The bytes `offset..offset + len`, or `None` when any of them lies at or
    /// beyond the readable watermark.
    pub(crate) fn read(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let end = offset.checked_add(len as u64)?;
        if end > self.readable.load(Ordering::Acquire) {
            return None;
        }
        let start = usize::try_from(offset).ok()?;
        // SAFETY: `start + len <= readable <= self.len`, the length of the map, so the
        // range is inside the mapping, which lives as long as `self`. Bytes below the
        // readable watermark are never written again: `write_at` refuses them, the
        // watermark only falls through `cut_readable(&mut self)`, which cannot run
        // while this shared borrow is alive, and the file is never truncated while
        // mapped. The directory lock keeps other lanes processes out of the file.
        Some(unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(start), len) })
    }

    /// Writes `data` at `offset`, which must lie at or beyond the readable watermark.
    pub(crate) fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let end = offset.checked_add(data.len() as u64).filter(|&end| end <= self.len);
        if offset < self.readable.load(Ordering::Acquire) || end.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("write of {} bytes at {offset} outside the writable tail", data.len()),
            ));
        }
        self.file.write_all_at(data, offset)
    }

    /// Makes everything below `upto` readable. The bytes must have been written.
    pub(crate) fn publish(&self, upto: u64) {
        self.readable.fetch_max(upto.min(self.len), Ordering::AcqRel);
    }

    /// Lowers the readable watermark to `end`, so the tail beyond it can be
    /// rewritten (recovery cuts a torn tail this way).
    pub(crate) fn cut_readable(&mut self, end: u64) {
        *self.readable.get_mut() = end.min(self.len);
    }

    /// Lets go of the pages of the mapping this process has touched (after
    /// recovery's scan read them all, or before a large mapping is dropped):
    /// they stay in the page cache, where the kernel can reclaim them, and a
    /// later read maps them again. Done [`PASS`] bytes at a time.
    pub(crate) fn release_pages(&self) -> io::Result<()> {
        for (at, len) in passes(self.map.len(), PASS) {
            // SAFETY: the mapping is a read-only shared mapping of a file, never
            // written through (writes go through `write_at`). MADV_DONTNEED on such
            // a mapping only drops this process's page-table entries; the next
            // access reads the same bytes from the page cache or the file, so no
            // slice handed out by `read` can observe a change.
            unsafe { self.map.unchecked_advise_range(UncheckedAdvice::DontNeed, at, len)? }
        }
        Ok(())
    }

    /// Fills the mapping's page tables from the page cache (reading from the
    /// disk what is not there), [`PASS`] bytes at a time. A hint: a kernel
    /// without `MADV_POPULATE_READ` (before 5.14) leaves the pages to fault in.
    pub(crate) fn populate(&self) {
        for (at, len) in passes(self.map.len(), PASS) {
            if self.map.advise_range(Advice::PopulateRead, at, len).is_err() {
                return;
            }
        }
    }

    /// Starts reading `offset..offset + len` into the page cache, without
    /// waiting: a caller about to read a range in order (a mapping's faults
    /// read one page each, see [`map`]). A hint; errors are ignored.
    pub(crate) fn will_need(&self, offset: u64, len: u64) {
        let (Ok(at), Ok(len)) = (usize::try_from(offset), usize::try_from(len)) else {
            return;
        };
        let len = len.min(self.map.len().saturating_sub(at));
        if len > 0 {
            let _ = self.map.advise_range(Advice::WillNeed, at, len);
        }
    }

    /// Flushes written data to the disk (`fdatasync`).
    pub(crate) fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// Maps `len` bytes of `file` read-only, page tables filled up front when
/// `populate` (`MAP_POPULATE`: recovery's scan reads every page, faster in
/// one go than a fault at a time; `MappedFile::release_pages` lets go of
/// them after);
/// asks for a fault to read only its page (`MADV_RANDOM`): reads land
/// anywhere in the file, and the kernel's read-around (the disk's
/// readahead, megabytes) would make each cold read wait for far more than
/// it needs. No huge pages (`MADV_HUGEPAGE`) for the same reason: a fault
/// in such a mapping reads a whole 2 MiB folio. Readers going through a
/// range in order ask for it with [`MappedFile::will_need`]. A hint,
/// ignored where unsupported.
fn map(file: &File, len: u64, populate: bool) -> io::Result<MmapRaw> {
    let mut options = MmapOptions::new();
    options.len(to_usize(len)?);
    if populate {
        options.populate();
    }
    let map = options.map_raw_read_only(file)?;
    let _ = map.advise(Advice::Random);
    Ok(map)
}

/// Bytes one page-table pass over a mapping covers: a pass over a whole
/// gigabyte-sized mapping (`MAP_POPULATE`, `munmap`) holds the process's
/// memory-map lock so long that the other threads' allocations stall.
const PASS: usize = 32 << 20;

/// `0..len` in `step`-sized (offset, length) pieces.
fn passes(len: usize, step: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..len).step_by(step).map(move |at| (at, step.min(len - at)))
}

fn to_usize(len: u64) -> io::Result<usize> {
    usize::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file too large to map"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_watermark_guards_reads_and_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut f = MappedFile::create(&path, 4096, b"head").unwrap();
        assert_eq!(f.read(0, 4), Some(&b"head"[..]));
        assert_eq!(f.read(4, 1), None, "unwritten tail must not be readable");
        assert!(f.write_at(0, b"x").is_err(), "readable bytes must not be rewritten");
        assert!(f.write_at(4095, b"xy").is_err(), "writes past the end are refused");
        f.write_at(4, b"body").unwrap();
        f.publish(8);
        assert_eq!(f.read(4, 4), Some(&b"body"[..]));
        f.cut_readable(4);
        assert_eq!(f.read(4, 4), None);
        f.write_at(4, b"BODY").unwrap();
        f.publish(8);
        assert_eq!(f.read(0, 8), Some(&b"headBODY"[..]));
        drop(f);
        let f = MappedFile::open(&path, 0, true).unwrap();
        assert_eq!(f.len(), 4096);
        assert_eq!(f.read(0, 8), Some(&b"headBODY"[..]));
    }

    /// A new file brought into the page cache ahead of its writes holds
    /// what was written and zeros after, in memory and on disk.
    #[test]
    fn test_a_prefilled_file_holds_what_was_written_and_zeros_after() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let len = 3 * HUGE_PAGE as u64;
        let f = MappedFile::create(&path, len, b"head").unwrap();
        let data: Vec<u8> = (0..HUGE_PAGE + 5000).map(|i| (i % 251) as u8 + 1).collect();
        f.write_at(4, &data).unwrap();
        f.publish(4 + data.len() as u64);
        assert_eq!(f.read(4, data.len()), Some(&data[..]));
        f.sync().unwrap();
        drop(f);
        let on_disk = std::fs::read(&path).unwrap();
        assert_eq!(on_disk.len() as u64, len);
        assert_eq!((&on_disk[..4], &on_disk[4..4 + data.len()]), (&b"head"[..], &data[..]));
        assert!(on_disk[4 + data.len()..].iter().all(|&b| b == 0), "zeros after the writes");
    }
}
