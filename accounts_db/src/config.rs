//! Configuration of an accounts database.

/// Default size of a segment file: 64 MiB.
pub const DEFAULT_SEGMENT_SIZE: u64 = 64 << 20;
/// Default number of index shards: enough that one shard's rehash, when its
/// table doubles, is a small share of the index.
pub const DEFAULT_INDEX_SHARDS: usize = 1024;
/// Default bound on one code value: 256 KiB (EIP-170 allows 24 KiB today).
pub const DEFAULT_MAX_CODE_LEN: usize = 256 << 10;
/// Default bound on the changes of one commit.
pub const DEFAULT_MAX_CHANGES_PER_COMMIT: usize = 1 << 20;
/// Default compaction threshold: sealed segments with less than this share of
/// live bytes, in percent, are compacted.
pub const DEFAULT_COMPACTION_LIVE_PERCENT: u8 = 50;

/// Default log written between two index checkpoints: 512 MiB.
pub const DEFAULT_CHECKPOINT_BYTES: u64 = 512 << 20;

/// Default memory for the index's in-memory part: 1 GiB.
pub const DEFAULT_INDEX_MEMORY_BYTES: u64 = 1 << 30;

/// Default number of blocks kept readable behind the newest one.
pub const DEFAULT_HISTORY_BLOCKS: u64 = 10_000;

/// How much lower the CPU priority of the database's maintenance thread
/// (checkpoints, compaction) is than that of the thread that opened it, in
/// nice steps (Linux gives each thread its own): when every core is busy,
/// a commit or a read waits less behind it. At +10 its share of a contended
/// core is about a tenth of a commit thread's.
pub const MAINTENANCE_NICER: i32 = 10;

/// Settings of [`crate::AccountsDb::open`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountsDbConfig {
    /// Size of each new segment file, preallocated. A commit never spans two
    /// segments; one larger than this gets a segment of its own size.
    pub segment_size: u64,
    /// Number of index shards (rounded up to a power of two).
    pub index_shards: usize,
    /// Largest code value accepted, in bytes.
    pub max_code_len: usize,
    /// Most changes accepted in one commit.
    pub max_changes_per_commit: usize,
    /// Sealed segments whose live bytes are below this percentage of their
    /// written bytes are rewritten by [`crate::AccountsDb::compact`].
    pub compaction_live_percent: u8,
    /// Whether a commit is synced to the disk (fsync) before it returns. Off,
    /// a commit is written to the operating system before it returns: it
    /// survives the process being killed, not a power loss (a dev node's
    /// trade for latency).
    pub sync: bool,
    /// How many blocks behind the newest one stay readable
    /// ([`crate::ReadView::at_block`]); `None` keeps every block. Each kept
    /// block costs one 48-byte entry in memory; its records are on disk
    /// anyway, and compaction leaves in place what a kept block still reads.
    pub history_blocks: Option<u64>,
    /// Log bytes written after which a thread of the database's own writes
    /// a checkpoint of the index, while commits go on; `open` then reads the
    /// newest checkpoint and replays only the log after it (at most about
    /// this much, plus what the thread had not yet caught up with). A
    /// handle dropped with more than an eighth of this written since writes
    /// one before it closes. `None`: only when [`Self::index_memory_bytes`]
    /// asks for one.
    pub checkpoint_bytes: Option<u64>,
    /// Memory the index's in-memory part may take: its tables of the keys
    /// changed since the last checkpoint. When they pass half of it, that
    /// thread writes a checkpoint, which merges them into the index's
    /// on-disk part (read through the page cache, which the kernel sizes)
    /// and frees them; the other half is for the tables written meanwhile.
    /// `None`: no bound (checkpoints only by [`Self::checkpoint_bytes`]).
    pub index_memory_bytes: Option<u64>,
    /// Whether that thread also compacts ([`crate::AccountsDb::compact`])
    /// whenever a sealed segment falls below
    /// [`Self::compaction_live_percent`] live, a few thousand records per
    /// commit so that commits and reads go on.
    pub compact_in_background: bool,
    /// Whether the database keeps, in memory, the slots each address holds
    /// ([`crate::ReadView::slots_of`]): built by reading the whole state at
    /// open, kept by every commit (a revert's included), about 100 bytes a
    /// slot. A dev node's, whose EVM asks it before Cancun, when a destroyed
    /// contract's storage goes with it, and for EIP-7610's collisions. Off by
    /// default: a large state pays for it at open and in memory.
    pub slot_index: bool,
}

impl Default for AccountsDbConfig {
    fn default() -> Self {
        Self {
            segment_size: DEFAULT_SEGMENT_SIZE,
            index_shards: DEFAULT_INDEX_SHARDS,
            max_code_len: DEFAULT_MAX_CODE_LEN,
            max_changes_per_commit: DEFAULT_MAX_CHANGES_PER_COMMIT,
            compaction_live_percent: DEFAULT_COMPACTION_LIVE_PERCENT,
            sync: true,
            history_blocks: Some(DEFAULT_HISTORY_BLOCKS),
            checkpoint_bytes: Some(DEFAULT_CHECKPOINT_BYTES),
            index_memory_bytes: Some(DEFAULT_INDEX_MEMORY_BYTES),
            compact_in_background: true,
            slot_index: false,
        }
    }
}

impl AccountsDbConfig {
    /// Sets [`Self::segment_size`].
    pub fn with_segment_size(mut self, bytes: u64) -> Self {
        self.segment_size = bytes;
        self
    }

    /// Sets [`Self::slot_index`].
    pub fn with_slot_index(mut self, on: bool) -> Self {
        self.slot_index = on;
        self
    }

    /// Sets [`Self::sync`].
    pub fn with_sync(mut self, sync: bool) -> Self {
        self.sync = sync;
        self
    }

    /// Sets [`Self::history_blocks`].
    pub fn with_history_blocks(mut self, blocks: Option<u64>) -> Self {
        self.history_blocks = blocks;
        self
    }

    /// Sets [`Self::checkpoint_bytes`].
    pub fn with_checkpoint_bytes(mut self, bytes: Option<u64>) -> Self {
        self.checkpoint_bytes = bytes;
        self
    }

    /// Sets [`Self::index_memory_bytes`].
    pub fn with_index_memory_bytes(mut self, bytes: Option<u64>) -> Self {
        self.index_memory_bytes = bytes;
        self
    }

    /// Sets [`Self::compact_in_background`].
    pub fn with_compact_in_background(mut self, on: bool) -> Self {
        self.compact_in_background = on;
        self
    }

    /// Sets [`Self::compaction_live_percent`].
    pub fn with_compaction_live_percent(mut self, percent: u8) -> Self {
        self.compaction_live_percent = percent;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), &'static str> {
        if self.segment_size < 4096 || self.segment_size > u64::from(u32::MAX) + 1 {
            return Err("segment_size must be between 4 KiB and 4 GiB");
        }
        if self.max_code_len > (u32::MAX as usize) / 2 {
            return Err("max_code_len must be below 2 GiB");
        }
        if self.checkpoint_bytes.is_some_and(|b| b < 4096) {
            return Err("checkpoint_bytes must be at least 4 KiB");
        }
        if self.index_memory_bytes.is_some_and(|b| b < 1 << 20) {
            return Err("index_memory_bytes must be at least 1 MiB");
        }
        if self.compaction_live_percent > 100 {
            return Err("compaction_live_percent must be at most 100");
        }
        Ok(())
    }
}
