//! [`Version`]: one published state, the unit a view holds.

use std::sync::{Arc, OnceLock};

use crate::entry::CommitInfo;
use crate::segment::SegmentTable;

/// One published state: records before `end` (a [`Loc::pos`]) are visible.
///
/// [`Loc::pos`]: crate::index::Loc::pos
#[derive(Debug)]
pub(crate) struct Version {
    pub(crate) end: u64,
    pub(super) last: Option<CommitInfo>,
    /// The version published after this one. Old versions keep newer ones
    /// alive, so "no reference to version k" means "no view at k or older".
    pub(super) next: OnceLock<Arc<Version>>,
    /// The segments live when this version was published. Holding them keeps
    /// segments that compaction deletes later mapped for views of this version.
    pub(super) segments: Arc<SegmentTable>,
}

impl Drop for Version {
    fn drop(&mut self) {
        // Unlink the chain iteratively, so dropping a long-held old view does
        // not recurse once per later version.
        let mut next = self.next.take();
        while let Some(version) = next {
            next = match Arc::into_inner(version) {
                Some(mut v) => v.next.take(),
                None => None,
            };
        }
    }
}
