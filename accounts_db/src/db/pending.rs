//! What an index checkpoint says besides its pairs, and one begun
//! (`checkpoint.rs` writes and reads them; the database holds the one in
//! progress).

use std::sync::Arc;

use super::kept::Kept;
use crate::entry::{CommitInfo, Key};
use crate::index::{Frozen, Loc};
use crate::segment::Segment;

/// What a checkpoint says besides the index's pairs.
#[derive(Debug)]
pub(crate) struct Meta {
    pub(crate) seq: u64,
    /// Log position right after the commit record it stands after.
    pub(crate) end: u64,
    pub(crate) commit_checksum: u64,
    pub(crate) last: Option<CommitInfo>,
    pub(crate) kept: Vec<Kept>,
    pub(crate) segments: Vec<SegmentState>,
    /// Replaced records that `segments`' live bytes still count: what an
    /// open's replay left to count ([`crate::db::Inner::count_uncounted`])
    /// and was not counted yet. The next open counts them.
    pub(crate) uncounted: Vec<Loc>,
}

/// A segment as the checkpoint saw it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SegmentState {
    pub(crate) id: u32,
    pub(crate) data_end: u64,
    pub(crate) live: u64,
}

/// A checkpoint begun: the index's changes frozen after the commit `meta`
/// names, waiting to be merged into the next base. One that failed part
/// way stays, and the next try merges it again.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) meta: Meta,
    pub(crate) overflow: Vec<(Key, Loc)>,
    pub(crate) frozen: Frozen,
    /// Segments to sync first (a database without `sync`).
    pub(crate) sync: Vec<Arc<Segment>>,
}
