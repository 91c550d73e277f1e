//! The ledger: every block and its receipts, appended to one file with a
//! checksum per record, and indexes by number, block hash and transaction
//! hash rebuilt from it on start.
//!
//! It is the node's write-ahead log: the banking stage hands each sealed block
//! to [`Ledger::append`] (which syncs it to disk) before committing its state,
//! so after a crash the accounts database is at most one block behind the
//! ledger, and the node replays that block. What RPC serves stops at the
//! *visible* head, which the node moves only once a block is committed and
//! its state published: a receipt is never served before its block is
//! committed, nor state read before the receipt is visible.
//!
//! ```text
//! record = magic | payload length u32 LE | xxh3-64 of payload u64 LE | payload
//! payload = borsh (Block, Vec<Receipt>, Option<Vec<u8>>)   version 5
//! ```
//!
//! The magic names the payload's format version, `LNB` and the version's
//! digit; this build writes and reads version 5: the block (with its
//! entries' lanes, and BLAKE3 entries roots), its receipts, and its access
//! list, EIP-7928's RLP, where the block has one. Versions 3 and 4 wrote
//! blocks without lanes, under keccak256 entries roots. As for every
//! lanes file with a format version, a whole record of another version is
//! refused with an error that names the file, both versions and what to do
//! ([`LedgerError::Format`]); another magic is refused as corrupt, naming
//! the file and offset.

use parking_lot::{Condvar, Mutex, RwLock};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use alloy_primitives::{B256, Bloom, Log};
use borsh::BorshDeserialize;
use lanes_accounts_db::FormatError;
use lanes_banking_stage::BlockSink;
use lanes_eth::header_bloom;
use lanes_evm_adapter::{EvmReceiptData, block_access_list};
use lanes_runtime::{Block, Receipt, SealedBlock};

/// The record magic: format version 5.
const MAGIC: &[u8; 4] = b"LNB5";
const FRAME: usize = 16;
/// The largest record accepted (a block of 30M gas of 128 KiB transactions
/// stays far below it).
pub const MAX_RECORD: usize = 1 << 30;
const FILE: &str = "blocks.log";

/// The ledger could not be opened, read or appended to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// A file operation failed.
    #[error("ledger {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A record before the last one is damaged: not a torn tail, so it is
    /// refused rather than cut.
    #[error("ledger {path} is corrupt at byte {offset}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the bad record starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A record of another format version than this build reads.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A block before the ledger's first: a forked chain's ledger starts at
    /// its fork block.
    #[error(
        "ledger block {number} is before its first, block {first} (a forked chain's ledger starts at its fork block)"
    )]
    BeforeFirst {
        /// The block read.
        number: u64,
        /// The ledger's first block.
        first: u64,
    },
    /// A block does not follow the one before it.
    #[error("ledger block {number} does not follow block {previous}")]
    NotChained {
        /// The block appended or read.
        number: u64,
        /// The last block in the ledger.
        previous: u64,
    },
}

/// The highest block number a ledger holds: 2^53, the largest integer
/// JavaScript clients count exactly, and more blocks than a chain sealing
/// one a millisecond makes in 285,000 years. A record past it is damage.
pub const MAX_BLOCK_NUMBER: u64 = 1 << 53;

/// A block as the ledger keeps it.
#[derive(Clone, Debug)]
pub struct LedgerBlock {
    /// The block.
    pub block: Block,
    /// Its receipts, in block order.
    pub receipts: Vec<Receipt>,
    /// Its access list (EIP-7928), RLP-encoded, where it has one.
    pub access_list: Option<Vec<u8>>,
}

/// Where a block lies in the ledger file, and what lookups need of it.
struct Placed {
    offset: u64,
    len: u32,
    hash: B256,
    /// `None` for a block without logs.
    bloom: Option<Box<Bloom>>,
}

#[derive(Default)]
struct Index {
    /// The number of `blocks[0]`: 0, or a forked chain's fork block.
    first: u64,
    blocks: Vec<Placed>,
    by_hash: HashMap<B256, u64>,
    by_tx: HashMap<B256, (u64, u32)>,
}

impl Index {
    /// The number the next block must have (the first block's any).
    fn next(&self) -> Option<u64> {
        (!self.blocks.is_empty()).then(|| self.first + self.blocks.len() as u64)
    }

    /// The last block's number.
    fn last(&self) -> Option<u64> {
        self.next().map(|n| n - 1)
    }

    fn placed(&self, number: u64) -> Option<&Placed> {
        let i = number.checked_sub(self.first)?;
        self.blocks.get(usize::try_from(i).ok()?)
    }

    fn push(&mut self, offset: u64, len: u32, block: &Block, receipts: &[Receipt]) {
        let number = block.header.number;
        if self.blocks.is_empty() {
            self.first = number;
        }
        let hash = block.hash;
        for (i, r) in receipts.iter().enumerate() {
            self.by_tx.insert(r.tx_hash, (number, i as u32));
        }
        self.by_hash.insert(hash, number);
        // Computed at seal from the receipts, and covered by the block hash.
        let bloom = header_bloom(&block.header).map(Box::new);
        self.blocks.push(Placed { offset, len, hash, bloom });
    }
}

/// The format version a record magic names (`LNB` and a digit).
fn record_version(magic: &[u8]) -> Option<u8> {
    match magic {
        [b'L', b'N', b'B', v @ b'1'..=b'9'] => Some(v - b'0'),
        _ => None,
    }
}

fn decode_record(payload: &[u8]) -> std::io::Result<LedgerBlock> {
    let (block, receipts, access_list) =
        <(Block, Vec<Receipt>, Option<Vec<u8>>)>::try_from_slice(payload)?;
    Ok(LedgerBlock { block, receipts, access_list })
}

/// The logs of a block's receipts made by the EVM executor.
pub fn receipt_logs(receipt: &Receipt) -> Vec<Log> {
    EvmReceiptData::from_outcome(&receipt.outcome)
        .map(|d| d.logs.into_iter().map(|(a, t, d)| Log::new_unchecked(a, t, d)).collect())
        .unwrap_or_default()
}

/// The append-only block log and its indexes.
pub struct Ledger {
    /// Replaced whole when a dev node switches chains ([`Self::replace_with`]).
    file: RwLock<Arc<LedgerFile>>,
    writer: Mutex<(File, u64)>,
    index: RwLock<Index>,
    /// Blocks up to this number are served; `u64::MAX` before block 0.
    visible: AtomicU64,
    /// Signalled on each publish, for [`Self::wait_published`].
    published: (Mutex<()>, Condvar),
    /// Whether an append is synced to disk before it returns.
    sync: bool,
    /// Served blocks decoded, the newest kept ([`DECODED_BYTES`]).
    decoded: Mutex<Decoded>,
}

/// Most bytes of records whose decoded blocks are kept for reads. Logs,
/// block and receipt lookups ask for the newest blocks again and again, and
/// decoding a block (its access sets above all) was a fifth of the time of
/// a node answering reads.
pub const DECODED_BYTES: usize = 64 << 20;

/// Decoded blocks by number, with their hash (a block cut and written again
/// under the same number is another) and record size.
#[derive(Default)]
struct Decoded {
    blocks: std::collections::BTreeMap<u64, (B256, usize, Arc<LedgerBlock>)>,
    bytes: usize,
}

impl Decoded {
    fn get(&self, number: u64, hash: B256) -> Option<Arc<LedgerBlock>> {
        self.blocks.get(&number).filter(|(h, ..)| *h == hash).map(|(.., b)| b.clone())
    }

    /// Keeps `block`, dropping the oldest kept past the byte limit.
    fn put(&mut self, number: u64, hash: B256, len: usize, block: Arc<LedgerBlock>) {
        if let Some((_, old, _)) = self.blocks.insert(number, (hash, len, block)) {
            self.bytes -= old;
        }
        self.bytes += len;
        while self.bytes > DECODED_BYTES {
            let Some((_, (_, len, _))) = self.blocks.pop_first() else { break };
            self.bytes -= len;
        }
    }

    /// Forgets the blocks after `number`.
    fn cut(&mut self, number: u64) {
        for (_, (_, len, _)) in self.blocks.split_off(&(number + 1)) {
            self.bytes -= len;
        }
    }
}

/// The ledger's file, and a handle to read records at their offsets.
struct LedgerFile {
    path: PathBuf,
    reader: File,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("path", &self.path()).finish_non_exhaustive()
    }
}

impl Ledger {
    /// Opens (or creates) the ledger in `dir`, checks every record, cuts a
    /// torn last record, and rebuilds the indexes. Every block found is
    /// visible.
    pub fn open(dir: &Path) -> Result<Self, LedgerError> {
        Self::open_with(dir, true)
    }

    /// [`Self::open`], syncing each appended block to disk (`sync`) or only
    /// writing it to the operating system (it then survives the process
    /// being killed, not a power loss).
    pub fn open_with(dir: &Path, sync: bool) -> Result<Self, LedgerError> {
        let path = dir.join(FILE);
        let io = |source| LedgerError::Io { path: path.clone(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file =
            OpenOptions::new().read(true).append(true).create(true).open(&path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        // Streamed, one record in memory at a time.
        let mut reader = std::io::BufReader::with_capacity(1 << 20, &mut file);
        let mut index = Index::default();
        let mut at = 0u64;
        let mut payload = Vec::new();
        while at < size {
            let corrupt =
                |reason: String| LedgerError::Corrupt { path: path.clone(), offset: at, reason };
            if size - at < FRAME as u64 {
                break; // torn frame header
            }
            let mut frame = [0u8; FRAME];
            reader.read_exact(&mut frame).map_err(io)?;
            let Some(version) = record_version(&frame[..4]) else {
                return Err(corrupt("bad record magic".into()));
            };
            let reads = MAGIC[3] - b'0';
            let len = u32::from_le_bytes(frame[4..8].try_into().expect("4 bytes")) as u64;
            let sum = u64::from_le_bytes(frame[8..16].try_into().expect("8 bytes"));
            let end = at + FRAME as u64 + len;
            if end > size {
                break; // torn payload
            }
            if len > MAX_RECORD as u64 {
                return Err(corrupt(format!("record of {len} bytes is over the limit")));
            }
            payload.resize(len as usize, 0);
            reader.read_exact(&mut payload).map_err(io)?;
            if xxhash_rust::xxh3::xxh3_64(&payload) != sum {
                if end == size {
                    break; // a torn write of the last record
                }
                return Err(corrupt("checksum mismatch".into()));
            }
            if version != reads {
                let (found, reads) = (u32::from(version), u32::from(reads));
                return Err(FormatError { path: path.clone(), found, reads }.into());
            }
            let LedgerBlock { block, receipts, .. } =
                decode_record(&payload).map_err(|e| corrupt(format!("undecodable record: {e}")))?;
            let number = block.header.number;
            if number > MAX_BLOCK_NUMBER {
                return Err(corrupt(format!(
                    "block number {number} is past {MAX_BLOCK_NUMBER} (2^53), which no chain reaches"
                )));
            }
            let follows = match index.last() {
                None => true,
                Some(last) => {
                    number == last + 1
                        && index.placed(last).is_some_and(|p| p.hash == block.header.parent_hash)
                }
            };
            if !follows {
                let previous = index.last().map_or("none".into(), |l| l.to_string());
                return Err(corrupt(format!("block {number} does not follow block {previous}")));
            }
            index.push(at, len as u32, &block, &receipts);
            at = end;
        }
        drop(reader);
        if at < size {
            tracing::warn!(target: "lanes::ledger", cut = size - at, "cutting a torn last record");
            file.set_len(at).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        file.seek(SeekFrom::End(0)).map_err(io)?;
        let reader = File::open(&path).map_err(io)?;
        let visible = index.last().unwrap_or(u64::MAX);
        Ok(Self {
            file: RwLock::new(Arc::new(LedgerFile { path, reader })),
            writer: Mutex::new((file, at)),
            index: RwLock::new(index),
            visible: AtomicU64::new(visible),
            published: (Mutex::new(()), Condvar::new()),
            sync,
            decoded: Mutex::default(),
        })
    }

    fn index(&self) -> parking_lot::RwLockReadGuard<'_, Index> {
        self.index.read()
    }

    /// The ledger's file.
    pub fn path(&self) -> PathBuf {
        self.file.read().path.clone()
    }

    /// Takes `other`'s blocks in place of its own (a dev node switching to
    /// another chain, `anvil_reset` with `forking`): every holder of this
    /// ledger reads `other`'s blocks from then on, and serves what `other`
    /// serves.
    pub fn replace_with(&self, other: Ledger) {
        let Ledger { file, writer, index, visible, .. } = other;
        let mut own_writer = self.writer.lock();
        let mut own_index = self.index.write();
        *own_writer = writer.into_inner();
        *own_index = index.into_inner();
        *self.file.write() = file.into_inner();
        *self.decoded.lock() = Decoded::default();
        drop((own_index, own_writer));
        self.publish(visible.into_inner());
    }

    /// Drops every block after `number` (a dev node's `evm_revert`): the
    /// file is cut after block `number`'s record (and synced when the
    /// ledger syncs) before the indexes forget them, so a crash leaves the
    /// cut ledger or the whole one, never a torn record.
    pub fn truncate(&self, number: u64) -> Result<(), LedgerError> {
        let mut writer = self.writer.lock();
        let io = |source| LedgerError::Io { path: self.path(), source };
        let mut index = self.index.write();
        let Some(cut) = index.placed(number + 1).map(|placed| placed.offset) else {
            return Ok(()); // nothing after it
        };
        let keep = (number + 1 - index.first) as usize;
        let (file, end) = &mut *writer;
        file.set_len(cut).map_err(io)?;
        if self.sync {
            file.sync_data().map_err(io)?;
        }
        *end = cut;
        index.blocks.truncate(keep);
        index.by_hash.retain(|_, n| *n <= number);
        index.by_tx.retain(|_, (n, _)| *n <= number);
        self.decoded.lock().cut(number);
        self.visible.fetch_min(number, Ordering::AcqRel);
        Ok(())
    }

    /// Appends a block (the next number), with its access list (RLP) where
    /// it has one, and syncs it to disk. It is not served until
    /// [`Self::publish`].
    pub fn append(
        &self,
        block: &Block,
        receipts: &[Receipt],
        access_list: Option<&[u8]>,
    ) -> Result<(), LedgerError> {
        let mut writer = self.writer.lock();
        let io = |source| LedgerError::Io { path: self.path(), source };
        let last = self.index().last();
        if last.is_some_and(|last| block.header.number != last + 1) {
            return Err(LedgerError::NotChained {
                number: block.header.number,
                previous: last.unwrap_or(u64::MAX),
            });
        }
        let payload =
            borsh::to_vec(&(block, receipts, access_list)).expect("writing to a Vec cannot fail");
        if payload.len() > MAX_RECORD {
            return Err(io(std::io::Error::other(format!(
                "block {} is {} bytes, over the {MAX_RECORD}-byte record limit",
                block.header.number,
                payload.len()
            ))));
        }
        let mut record = Vec::with_capacity(FRAME + payload.len());
        record.extend_from_slice(MAGIC);
        record.extend((payload.len() as u32).to_le_bytes());
        record.extend(xxhash_rust::xxh3::xxh3_64(&payload).to_le_bytes());
        record.extend_from_slice(&payload);
        let (file, end) = &mut *writer;
        let synced = |file: &mut File| if self.sync { file.sync_data() } else { Ok(()) };
        if let Err(e) = file.write_all(&record).and_then(|()| synced(file)) {
            // Leave no half record behind for the next append to follow.
            let _ = file.set_len(*end);
            return Err(io(e));
        }
        let offset = *end;
        *end += record.len() as u64;
        self.index.write().push(offset, payload.len() as u32, block, receipts);
        Ok(())
    }

    /// Serves blocks up to `number`.
    pub fn publish(&self, number: u64) {
        let (lock, published) = &self.published;
        let _guard = lock.lock();
        self.visible.store(number, Ordering::Release);
        published.notify_all();
    }

    /// Waits up to `timeout` until block `number` is served; whether it is.
    pub fn wait_published(&self, number: u64, timeout: Duration) -> bool {
        let (lock, published) = &self.published;
        let mut guard = lock.lock();
        published.wait_while_for(&mut guard, |_| !self.is_visible(number), timeout);
        self.is_visible(number)
    }

    /// The highest block served; `None` before block 0 is written.
    pub fn head(&self) -> Option<u64> {
        let v = self.visible.load(Ordering::Acquire);
        (v != u64::MAX).then_some(v)
    }

    /// The number of its first block: 0, or a forked chain's fork block.
    pub fn first(&self) -> u64 {
        self.index().first
    }

    /// The highest block appended (served or not).
    pub fn last_appended(&self) -> Option<u64> {
        self.index().last()
    }

    /// The blocks appended after `number`, oldest first; best effort, a
    /// block that does not read is left out.
    pub fn blocks_after(&self, number: u64) -> Vec<LedgerBlock> {
        let last = self.last_appended().unwrap_or(number);
        (number + 1..=last).filter_map(|n| self.read(n).ok()).collect()
    }

    fn is_visible(&self, number: u64) -> bool {
        self.head().is_some_and(|h| number <= h)
    }

    /// Block `number` and its receipts, if served; decoded once while it is
    /// among the newest ([`DECODED_BYTES`]).
    pub fn block(&self, number: u64) -> Result<Option<Arc<LedgerBlock>>, LedgerError> {
        if !self.is_visible(number) || number < self.first() {
            return Ok(None);
        }
        let Some((hash, len)) = self.index().placed(number).map(|p| (p.hash, p.len as usize))
        else {
            return self.read(number).map(|b| Some(Arc::new(b)));
        };
        if let Some(block) = self.decoded.lock().get(number, hash) {
            return Ok(Some(block));
        }
        let block = Arc::new(self.read(number)?);
        // Decoded from the record the index named: kept under its hash.
        if block.block.hash == hash {
            self.decoded.lock().put(number, hash, len, block.clone());
        }
        Ok(Some(block))
    }

    /// Block `number` whether served or not (for replay at start).
    pub fn read(&self, number: u64) -> Result<LedgerBlock, LedgerError> {
        let (offset, len, file) = {
            let index = self.index();
            if number < index.first && index.last().is_some() {
                return Err(LedgerError::BeforeFirst { number, first: index.first });
            }
            let placed = index.placed(number).ok_or(LedgerError::NotChained {
                number,
                previous: index.last().unwrap_or(u64::MAX),
            })?;
            // Under the index's lock: the file its offsets are in.
            (placed.offset, placed.len, self.file.read().clone())
        };
        let mut payload = vec![0; len as usize];
        file.reader
            .read_exact_at(&mut payload, offset + FRAME as u64)
            .map_err(|source| LedgerError::Io { path: file.path.clone(), source })?;
        let corrupt =
            |reason: String| LedgerError::Corrupt { path: file.path.clone(), offset, reason };
        decode_record(&payload).map_err(|e| corrupt(format!("undecodable record: {e}")))
    }

    /// The number of the served block with this hash.
    pub fn number_of(&self, hash: &B256) -> Option<u64> {
        self.index().by_hash.get(hash).copied().filter(|n| self.is_visible(*n))
    }

    /// Where a served transaction is: block number and index in the block.
    pub fn locate_tx(&self, hash: &B256) -> Option<(u64, u32)> {
        self.locate_appended_tx(hash).filter(|(n, _)| self.is_visible(*n))
    }

    /// [`Self::locate_tx`] in any appended block, served or not yet.
    pub fn locate_appended_tx(&self, hash: &B256) -> Option<(u64, u32)> {
        self.index().by_tx.get(hash).copied()
    }

    /// The hash of served block `number`.
    pub fn hash_of(&self, number: u64) -> Option<B256> {
        if !self.is_visible(number) {
            return None;
        }
        self.appended_hash(number)
    }

    /// The hash of appended block `number`, served or not.
    pub fn appended_hash(&self, number: u64) -> Option<B256> {
        self.index().placed(number).map(|s| s.hash)
    }

    /// The bloom of block `number`'s logs; `None` if it has none.
    pub fn bloom(&self, number: u64) -> Option<Bloom> {
        self.index().placed(number).and_then(|s| s.bloom.as_deref().copied())
    }
}

/// The banking stage's [`BlockSink`]: appends each sealed block to the
/// ledger before the stage commits it.
#[derive(Debug, Clone)]
pub struct LedgerSink(pub Arc<Ledger>);

impl BlockSink for LedgerSink {
    fn persist(
        &mut self,
        sealed: &SealedBlock,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let access_list = encoded_access_list(sealed);
        Ok(self.0.append(&sealed.block, &sealed.receipts, access_list.as_deref())?)
    }

    fn truncate(&mut self, number: u64) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.0.truncate(number)?)
    }
}

/// `sealed`'s access list (EIP-7928) in RLP, where its bank recorded what
/// its transactions touched.
pub fn encoded_access_list(sealed: &SealedBlock) -> Option<Vec<u8>> {
    let accesses = sealed.accesses.as_ref()?;
    Some(alloy_rlp::encode(block_access_list(accesses, &sealed.receipts)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lanes_runtime::{BlockHeader, HeaderCodec, LanesHeaders};

    fn block(number: u64, parent: B256) -> Block {
        let header = BlockHeader { number, parent_hash: parent, ..Default::default() };
        Block { hash: LanesHeaders.hash(&header), header, system: vec![], entries: vec![] }
    }

    #[test]
    fn appends_survive_reopen_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path()).unwrap();
        assert_eq!(ledger.head(), None);
        let b0 = block(0, B256::ZERO);
        let b1 = block(1, b0.hash);
        ledger.append(&b0, &[], None).unwrap();
        ledger.append(&b1, &[], Some(b"bal")).unwrap();
        assert!(ledger.append(&block(5, B256::ZERO), &[], None).is_err());
        assert_eq!(ledger.head(), None, "nothing served before publish");
        ledger.publish(0);
        assert!(ledger.block(1).unwrap().is_none());
        assert_eq!(ledger.block(0).unwrap().unwrap().block, b0);
        drop(ledger);

        // A torn third record: only part of it reached the disk.
        let path = dir.path().join(FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"LNB5\x40\x00\x00\x00garbage").unwrap();
        drop(f);
        let ledger = Ledger::open(dir.path()).unwrap();
        assert_eq!(ledger.head(), Some(1));
        assert_eq!(ledger.number_of(&b1.hash), Some(1));
        assert_eq!(ledger.read(1).unwrap().access_list.as_deref(), Some(&b"bal"[..]));
        assert_eq!(ledger.read(0).unwrap().access_list, None);
        ledger.append(&block(2, b1.hash), &[], None).unwrap();
        drop(ledger);
        assert_eq!(Ledger::open(dir.path()).unwrap().last_appended(), Some(2));

        // A damaged record in the middle is refused, not cut.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[FRAME + 3] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let err = Ledger::open(dir.path()).unwrap_err();
        assert!(matches!(err, LedgerError::Corrupt { offset: 0, .. }), "{err}");
    }

    #[test]
    fn a_record_that_does_not_follow_is_damage_at_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path()).unwrap();
        ledger.append(&block(0, B256::ZERO), &[], None).unwrap();
        drop(ledger);
        // Block 0's record again: whole and sealed, but not block 1.
        let path = dir.path().join(FILE);
        let record = std::fs::read(&path).unwrap();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&record).unwrap();
        drop(f);
        let err = Ledger::open(dir.path()).unwrap_err();
        let at = record.len() as u64;
        assert!(matches!(&err, LedgerError::Corrupt { offset, .. } if *offset == at), "{err}");
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("block 0 does not follow block 0"), "{text}");
    }

    /// A forked chain's ledger starts at its fork block: numbers below it
    /// are not there, and blocks go on from it.
    #[test]
    fn a_ledger_may_start_at_any_block() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path()).unwrap();
        let b7 = block(7, B256::repeat_byte(7));
        ledger.append(&b7, &[], None).unwrap();
        ledger.append(&block(8, b7.hash), &[], None).unwrap();
        assert!(ledger.append(&block(10, B256::ZERO), &[], None).is_err());
        drop(ledger);
        let ledger = Ledger::open(dir.path()).unwrap();
        assert_eq!((ledger.first(), ledger.last_appended(), ledger.head()), (7, Some(8), Some(8)));
        let before = ledger.read(6).unwrap_err();
        assert!(matches!(before, LedgerError::BeforeFirst { number: 6, first: 7 }), "{before}");
        assert!(before.to_string().contains("before its first, block 7"), "{before}");
        assert!(ledger.block(0).unwrap().is_none());
        assert_eq!(ledger.hash_of(7), Some(b7.hash));
        ledger.truncate(7).unwrap();
        assert_eq!(ledger.last_appended(), Some(7));
    }

    /// A ledger that takes another's place serves its blocks, appends after
    /// them to its file, and leaves the first file as it was.
    #[test]
    fn a_replaced_ledger_serves_and_appends_to_the_other() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let ledger = Ledger::open(a.path()).unwrap();
        let b0 = block(0, B256::ZERO);
        ledger.append(&b0, &[], None).unwrap();
        ledger.append(&block(1, b0.hash), &[], None).unwrap();
        let other = Ledger::open(b.path()).unwrap();
        let b7 = block(7, B256::repeat_byte(7));
        other.append(&b7, &[], None).unwrap();
        other.publish(7);
        ledger.replace_with(other);
        assert_eq!((ledger.first(), ledger.head()), (7, Some(7)));
        assert_eq!(ledger.block(7).unwrap().unwrap().block.hash, b7.hash);
        assert!(ledger.block(1).unwrap().is_none() && ledger.number_of(&b0.hash).is_none());
        ledger.append(&block(8, b7.hash), &[], None).unwrap();
        assert_eq!(ledger.path(), b.path().join(FILE));
        drop(ledger);
        assert_eq!(Ledger::open(b.path()).unwrap().last_appended(), Some(8));
        assert_eq!(Ledger::open(a.path()).unwrap().last_appended(), Some(1));
    }

    /// A served block is decoded once while kept; a block cut and written
    /// again under its number is the new one; another ledger's blocks
    /// replace the kept ones.
    #[test]
    fn served_blocks_are_decoded_once_and_a_cut_block_is_never_served_again() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path()).unwrap();
        let b0 = block(0, B256::ZERO);
        ledger.append(&b0, &[], None).unwrap();
        ledger.append(&block(1, b0.hash), &[], None).unwrap();
        ledger.publish(1);
        let first = ledger.block(1).unwrap().unwrap();
        assert!(Arc::ptr_eq(&first, &ledger.block(1).unwrap().unwrap()), "decoded once");
        ledger.truncate(0).unwrap();
        assert!(ledger.block(1).unwrap().is_none());
        let mut again = block(1, b0.hash);
        again.header.timestamp = 5;
        again.hash = LanesHeaders.hash(&again.header);
        ledger.append(&again, &[], None).unwrap();
        ledger.publish(1);
        assert_eq!(ledger.block(1).unwrap().unwrap().block.hash, again.hash);
        let b = tempfile::tempdir().unwrap();
        let replacement = Ledger::open(b.path()).unwrap();
        let c0 = block(0, B256::repeat_byte(3));
        replacement.append(&c0, &[], None).unwrap();
        replacement.append(&block(1, c0.hash), &[], None).unwrap();
        replacement.publish(1);
        ledger.replace_with(replacement);
        assert_eq!(ledger.block(1).unwrap().unwrap().block.header.parent_hash, c0.hash);
    }

    #[test]
    fn a_record_of_another_format_version_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path()).unwrap();
        let b0 = block(0, B256::ZERO);
        ledger.append(&b0, &[], None).unwrap();
        drop(ledger);
        // Block 1 as an older lanes wrote it: a whole record, version 4
        // (blocks without lanes).
        let payload = b"an older payload";
        let mut record = b"LNB4".to_vec();
        record.extend((payload.len() as u32).to_le_bytes());
        record.extend(xxhash_rust::xxh3::xxh3_64(payload).to_le_bytes());
        record.extend(payload);
        let mut f = OpenOptions::new().append(true).open(dir.path().join(FILE)).unwrap();
        f.write_all(&record).unwrap();
        drop(f);
        let err = Ledger::open(dir.path()).unwrap_err();
        assert!(
            matches!(err, LedgerError::Format(FormatError { found: 4, reads: 5, .. })),
            "{err}"
        );
        assert!(err.to_string().contains("--reset"), "{err}");
        // Nothing was cut: the file still holds both records.
        let len = std::fs::metadata(dir.path().join(FILE)).unwrap().len();
        assert!(len > record.len() as u64 + FRAME as u64, "{len}");
    }
}
