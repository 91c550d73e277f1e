//! The read path: a key's newest record through the index, followed back to
//! the one a version sees, and the value decoders.

use alloy_primitives::{Address, B256, Bytes, U256};
use borsh::BorshDeserialize;

use super::inner::Inner;
use super::version::Version;
use crate::entry::{AccountHeader, Entry, Key};
use crate::error::StorageError;
use crate::hash::KeyHash;
use crate::index::{Found, Loc};
use crate::record::{Links, NO_PREV, RawRecord};
use crate::segment::{Segment, segment_path};

impl Inner {
    /// Runs `f` on segment `id`: from `version`'s own table (no lock), else
    /// from the tables of later versions (a segment made, or made and deleted,
    /// after `version`), else from the live table (one being written now).
    pub(super) fn with_segment<R>(
        &self,
        version: &Version,
        id: u32,
        f: impl FnOnce(&Segment) -> R,
    ) -> Option<R> {
        let mut ver = version;
        loop {
            if let Some(Some(seg)) = ver.segments.get(id as usize) {
                return Some(f(seg));
            }
            if let Some(next) = ver.next.get() {
                ver = next;
                continue;
            }
            let table = self.segments.read().clone();
            if let Some(Some(seg)) = table.get(id as usize) {
                return Some(f(seg));
            }
            // Not live either: it was made after `ver` was current and has been
            // deleted since, so a later version (which holds it) now follows
            // `ver`. Without one the segment never existed.
            ver = ver.next.get()?;
        }
    }

    /// Runs `f` on the data record at `loc`; `f`'s error is a reason the bytes
    /// are corrupted.
    pub(crate) fn read_record<R>(
        &self,
        version: &Version,
        loc: Loc,
        f: impl FnOnce(RawRecord<'_>) -> Result<R, &'static str>,
    ) -> Result<R, StorageError> {
        self.with_segment(version, loc.segment(), |seg| {
            let record = seg.record_at(loc)?;
            f(record).map_err(|reason| StorageError::Corrupted {
                file: seg.path().to_owned(),
                offset: loc.offset().into(),
                reason,
            })
        })
        .unwrap_or_else(|| {
            Err(StorageError::Corrupted {
                file: segment_path(&self.dir, loc.segment()),
                offset: loc.offset().into(),
                reason: "index points into a missing segment",
            })
        })
    }

    /// Whether the record at `loc` stores `key`. An unreadable record answers
    /// yes, so the read that follows reports the damage.
    pub(crate) fn holds(&self, version: &Version, loc: Loc, key: &Key) -> bool {
        self.read_record(version, loc, |r| Ok(r.has_key(key))).unwrap_or(true)
    }

    /// Follows `loc`'s chain of versions back to the one visible in `version`.
    pub(super) fn visible(&self, version: &Version, loc: Loc) -> Result<Option<Loc>, StorageError> {
        Ok(self.visible_record(version, loc)?.filter(|l| !l.is_tombstone()))
    }

    /// The record of `loc`'s key that `version` sees, a tombstone included:
    /// back along `prev`, taking each `jump` that still lands at or after the
    /// version's end, so an old version is a logarithmic number of steps away.
    pub(crate) fn visible_record(
        &self,
        version: &Version,
        mut loc: Loc,
    ) -> Result<Option<Loc>, StorageError> {
        while loc.pos() >= version.end {
            let links = self.read_record(version, loc, |r| Ok(r.links()))?;
            let next = if links.jump != NO_PREV && Loc::from_raw(links.jump).pos() >= version.end {
                Loc::from_raw(links.jump)
            } else if links.prev == NO_PREV {
                return Ok(None);
            } else {
                Loc::from_raw(links.prev)
            };
            // Links only point back; one that does not is damage, not a loop.
            if next.pos() >= loc.pos() {
                return Err(StorageError::Corrupted {
                    file: segment_path(&self.dir, loc.segment()),
                    offset: loc.offset().into(),
                    reason: "a record links forward to a newer version",
                });
            }
            loc = next;
        }
        Ok(Some(loc))
    }

    /// Where the index files the key of each of `changes` (hashing to
    /// `hashes`), `None` for those `wanted` turns down. Three passes, each
    /// of hints for the next: the index blocks the lookups read, then every
    /// key's filed location with a hint for its record, then the keys
    /// compared; the records [`Self::links_after`] reads next are hinted last.
    pub(crate) fn find_changes(
        &self,
        version: &Version,
        changes: &[Entry],
        hashes: &[KeyHash],
        wanted: impl Fn(usize) -> bool,
    ) -> Result<Vec<Option<Found>>, StorageError> {
        self.index.prefetch(hashes);
        let mut primaries = Vec::with_capacity(changes.len());
        for (i, &hash) in hashes.iter().enumerate() {
            if !wanted(i) {
                primaries.push(None);
                continue;
            }
            let primary = self.index.primary(hash)?;
            if let Some(loc) = primary {
                self.prefetch_record(version, loc);
            }
            primaries.push(Some(primary));
        }
        let found: Vec<Option<Found>> = changes
            .iter()
            .zip(primaries)
            .map(|(entry, primary)| {
                let key = entry.key();
                primary.map(|p| self.index.resolve(&key, p, |l| self.holds(version, l, &key)))
            })
            .collect();
        let newest: Vec<Option<Loc>> = found.iter().map(|f| f.and_then(Found::loc)).collect();
        self.prefetch_links(version, &newest);
        Ok(found)
    }

    /// Starts loading the record at `loc` into the CPU's cache (a hint).
    pub(crate) fn prefetch_record(&self, version: &Version, loc: Loc) {
        self.with_segment(version, loc.segment(), |seg| {
            seg.file.prefetch_record(loc.offset().into())
        });
    }

    /// Brings in the records [`Self::links_after`] reads for each of `newest`
    /// (each key's newest record): two passes of prefetch hints, the jumps'
    /// targets then theirs, so a commit's many cache misses overlap instead of
    /// stalling one after another.
    pub(crate) fn prefetch_links(&self, version: &Version, newest: &[Option<Loc>]) {
        // A hint only: an unreadable record is left to the write that follows.
        let links = |loc: Loc| self.links_at(version, loc.raw()).ok().flatten();
        let hint = |raw: u64| self.prefetch_record(version, Loc::from_raw(raw));
        let mut jumps: Vec<u64> = Vec::with_capacity(newest.len());
        for &p in newest.iter().flatten() {
            if let Some(l) = links(p).filter(|l| l.jump != NO_PREV) {
                hint(l.jump);
                jumps.push(l.jump);
            }
        }
        for &j in &jumps {
            if let Some(l) = links(Loc::from_raw(j)).filter(|l| l.jump != NO_PREV) {
                hint(l.jump);
            }
        }
    }

    /// The links of the record at raw location `loc`; `None` when its segment
    /// is gone (compaction deleted it).
    fn links_at(&self, version: &Version, loc: u64) -> Result<Option<Links>, StorageError> {
        let loc = Loc::from_raw(loc);
        self.with_segment(version, loc.segment(), |seg| seg.record_at(loc).map(|r| r.links()))
            .transpose()
    }

    /// The links of a new version of a key whose newest record is at `prev`
    /// (Myers' skew-binary jump pointers: a node jumps to its parent's jump's
    /// jump when the two jumps span equal depths, else to its parent).
    pub(crate) fn links_after(
        &self,
        version: &Version,
        prev: Option<Loc>,
    ) -> Result<Links, StorageError> {
        let Some(p) = prev else { return Ok(Links::FIRST) };
        // An older record in a segment compaction deleted is one no view
        // reads: jumping to the parent instead stays correct, only shorter.
        let at = |loc: u64| self.links_at(version, loc);
        let p_links = self.read_record(version, p, |r| Ok(r.links()))?;
        // A first version's jump is itself.
        let j = if p_links.jump == NO_PREV { p.raw() } else { p_links.jump };
        let j_links = if j == p.raw() { Some(p_links) } else { at(j)? };
        let even = match j_links {
            Some(j_links) => {
                let jj = if j_links.jump == NO_PREV { j } else { j_links.jump };
                let jj_depth = if jj == j { Some(j_links.depth) } else { at(jj)?.map(|l| l.depth) };
                jj_depth
                    .is_some_and(|d| {
                        p_links.depth.wrapping_sub(j_links.depth) == j_links.depth.wrapping_sub(d)
                    })
                    .then_some(jj)
            }
            None => None,
        };
        let depth = p_links.depth.checked_add(1).ok_or_else(|| StorageError::Corrupted {
            file: segment_path(&self.dir, p.segment()),
            offset: p.offset().into(),
            reason: "a key has more versions than a record can count",
        })?;
        Ok(Links { prev: p.raw(), jump: even.unwrap_or(p.raw()), depth })
    }

    /// Reads `key`, whose [`Key::hash64`] is `hash`, as of `version`: one
    /// index probe and, in the common case, one record read.
    fn get<T>(
        &self,
        version: &Version,
        key: &Key,
        hash: KeyHash,
        decode: impl Fn(&[u8]) -> Option<T>,
    ) -> Result<Stored<T>, StorageError> {
        if let Some(head) = self.index.primary(hash)?
            && let Some(found) = self.lookup(version, head, key, &decode)?
        {
            return Ok(found);
        }
        match self.index.overflow(key) {
            Some(head) => Ok(self.lookup(version, head, key, &decode)?.unwrap_or(Stored::Absent)),
            None => Ok(Stored::Absent),
        }
    }

    /// The account at `address` (its key hashing to `hash`) as of
    /// `version`; one the database never held comes from its backing
    /// ([`crate::Backing`]), where it has one.
    pub(crate) fn account(
        &self,
        version: &Version,
        address: &Address,
        hash: KeyHash,
    ) -> Result<Option<AccountHeader>, StorageError> {
        match self.get(version, &Key::Account(*address), hash, decode_account)? {
            Stored::Value(header) => Ok(Some(header)),
            Stored::Deleted => Ok(None),
            Stored::Absent => self.backing().map_or(Ok(None), |b| b.account(address)),
        }
    }

    /// A slot as of `version` (zero when unset), as [`Self::account`].
    pub(crate) fn storage(
        &self,
        version: &Version,
        address: &Address,
        slot: &B256,
        hash: KeyHash,
    ) -> Result<U256, StorageError> {
        match self.get(version, &Key::Storage(*address, *slot), hash, decode_storage)? {
            Stored::Value(value) => Ok(value),
            Stored::Deleted => Ok(U256::ZERO),
            Stored::Absent => self.backing().map_or(Ok(U256::ZERO), |b| b.storage(address, slot)),
        }
    }

    /// The account at `address` as the database itself holds it, its
    /// backing left out (`None`: never held, or deleted).
    pub(crate) fn held_account(
        &self,
        version: &Version,
        address: &Address,
        hash: KeyHash,
    ) -> Result<Option<AccountHeader>, StorageError> {
        match self.get(version, &Key::Account(*address), hash, decode_account)? {
            Stored::Value(header) => Ok(Some(header)),
            Stored::Deleted | Stored::Absent => Ok(None),
        }
    }

    /// A slot as the database itself holds it, as [`Self::held_account`].
    pub(crate) fn held_storage(
        &self,
        version: &Version,
        address: &Address,
        slot: &B256,
        hash: KeyHash,
    ) -> Result<U256, StorageError> {
        match self.get(version, &Key::Storage(*address, *slot), hash, decode_storage)? {
            Stored::Value(value) => Ok(value),
            Stored::Deleted | Stored::Absent => Ok(U256::ZERO),
        }
    }

    /// Code by its hash, as [`Self::account`].
    pub(crate) fn code(
        &self,
        version: &Version,
        hash: &B256,
    ) -> Result<Option<Bytes>, StorageError> {
        let key = Key::Code(*hash);
        match self.get(version, &key, key.hash64(), decode_code)? {
            Stored::Value(code) => Ok(Some(code)),
            Stored::Deleted => Ok(None),
            Stored::Absent => self.backing().map_or(Ok(None), |b| b.code(hash)),
        }
    }

    /// `None` if the record at `head` stores another key; else `key`'s value
    /// as of `version`.
    fn lookup<T>(
        &self,
        version: &Version,
        head: Loc,
        key: &Key,
        decode: &impl Fn(&[u8]) -> Option<T>,
    ) -> Result<Option<Stored<T>>, StorageError> {
        enum Step<T> {
            Other,
            Found(Option<T>),
            Older,
        }
        let step = self.read_record(version, head, |r| {
            Ok(if !r.has_key(key) {
                Step::Other
            } else if head.pos() >= version.end {
                Step::Older
            } else if r.tombstone {
                Step::Found(None)
            } else {
                Step::Found(Some(decode(r.value()).ok_or("stored value does not decode")?))
            })
        })?;
        match step {
            Step::Other => Ok(None),
            Step::Found(Some(value)) => Ok(Some(Stored::Value(value))),
            Step::Found(None) => Ok(Some(Stored::Deleted)),
            // Written only after `version`: not there then.
            Step::Older => match self.visible_record(version, head)? {
                None => Ok(Some(Stored::Absent)),
                Some(loc) if loc.is_tombstone() => Ok(Some(Stored::Deleted)),
                Some(loc) => self.read_record(version, loc, |r| {
                    decode(r.value())
                        .map(|v| Some(Stored::Value(v)))
                        .ok_or("stored value does not decode")
                }),
            },
        }
    }

    /// Size on disk of the record at `loc` (0 if unreadable).
    pub(crate) fn record_size(&self, version: &Version, loc: Loc) -> u64 {
        self.read_record(version, loc, |r| Ok(r.size as u64)).unwrap_or(0)
    }
}

/// What the database holds of a key at a version.
enum Stored<T> {
    Value(T),
    /// A tombstone: the key was deleted.
    Deleted,
    /// Never written up to that version.
    Absent,
}

pub(super) fn decode_entry(r: RawRecord<'_>) -> Result<Entry, &'static str> {
    let bad = "stored value does not decode";
    Ok(match r.key() {
        Key::Account(a) => Entry::Account(a, decode_account(r.value()).ok_or(bad)?),
        Key::Storage(a, s) => Entry::Storage(a, s, decode_storage(r.value()).ok_or(bad)?),
        Key::Code(h) => Entry::Code(h, decode_code(r.value()).ok_or(bad)?),
    })
}

pub(super) fn decode_account(v: &[u8]) -> Option<AccountHeader> {
    AccountHeader::try_from_slice(v).ok()
}

pub(super) fn decode_storage(v: &[u8]) -> Option<U256> {
    U256::try_from_slice(v).ok()
}

pub(super) fn decode_code(v: &[u8]) -> Option<Bytes> {
    let (len, code) = v.split_first_chunk::<4>()?;
    (u32::from_le_bytes(*len) as usize == code.len()).then(|| Bytes::copy_from_slice(code))
}
