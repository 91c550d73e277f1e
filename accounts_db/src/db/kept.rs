//! [`History`]: which log position each kept block's state ends at, so a
//! view of an older block is a version like any other (records before its
//! end). What stays in memory is one entry per kept block; it is rebuilt
//! from the commit records on open.

use std::collections::VecDeque;

use alloy_primitives::B256;

use crate::entry::CommitInfo;
use crate::error::HistoryError;

/// One kept block: its state is the records before `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Kept {
    pub(crate) block: u64,
    pub(crate) end: u64,
    pub(crate) commitment: B256,
}

/// The kept blocks, oldest first, at most `limit + 1` of them (`None`: all).
#[derive(Debug)]
pub(crate) struct History {
    kept: VecDeque<Kept>,
    limit: Option<u64>,
}

impl History {
    pub(crate) fn new(limit: Option<u64>) -> Self {
        Self { kept: VecDeque::new(), limit }
    }

    /// The kept blocks of a checkpoint.
    pub(crate) fn from_kept(limit: Option<u64>, kept: Vec<Kept>) -> Self {
        Self { kept: kept.into(), limit }
    }

    /// Drops the blocks before `block` (compaction may have removed records
    /// they read).
    pub(crate) fn drop_before(&mut self, block: u64) {
        while self.kept.front().is_some_and(|k| k.block < block) {
            self.kept.pop_front();
        }
    }

    /// The kept blocks, oldest first.
    pub(crate) fn kept(&self) -> impl Iterator<Item = &Kept> {
        self.kept.iter()
    }

    /// Records a block commit ending at `end`; a maintenance commit (no new
    /// block) moves the newest block's end, since its state did not change.
    /// A commit of a block before the newest is a revert to it
    /// ([`crate::AccountsDb::revert_to`]): the later blocks are dropped, and
    /// the block's state is the records before `end` from then on.
    pub(crate) fn push(&mut self, block: Option<CommitInfo>, end: u64) {
        if let Some(c) = block {
            while self.kept.back().is_some_and(|k| k.block > c.block_number) {
                self.kept.pop_back();
            }
        }
        match block {
            Some(c) if self.kept.back().is_none_or(|k| k.block != c.block_number) => {
                self.kept.push_back(Kept { block: c.block_number, end, commitment: c.commitment });
                let newest = c.block_number;
                while let (Some(limit), Some(oldest)) = (self.limit, self.kept.front())
                    && newest.saturating_sub(oldest.block) > limit
                {
                    self.kept.pop_front();
                }
            }
            _ => {
                if let Some(last) = self.kept.back_mut() {
                    last.end = end;
                }
            }
        }
    }

    /// The kept block that `block`'s state is: the newest at or before it.
    pub(crate) fn find(&self, block: u64) -> Result<Kept, HistoryError> {
        let (Some(oldest), Some(newest)) = (self.kept.front(), self.kept.back()) else {
            return Err(HistoryError::Empty);
        };
        if block > newest.block {
            return Err(HistoryError::Ahead { block, newest: newest.block });
        }
        if block < oldest.block {
            return Err(HistoryError::Pruned { block, oldest: oldest.block });
        }
        let i = self.kept.partition_point(|k| k.block <= block);
        Ok(self.kept[i - 1])
    }

    /// The oldest and newest kept block numbers.
    pub(crate) fn range(&self) -> Option<(u64, u64)> {
        Some((self.kept.front()?.block, self.kept.back()?.block))
    }

    /// Blocks kept.
    pub(crate) fn len(&self) -> usize {
        self.kept.len()
    }

    /// Memory the kept entries take.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.kept.capacity() * std::mem::size_of::<Kept>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(n: u64) -> Option<CommitInfo> {
        Some(CommitInfo { block_number: n, commitment: B256::with_last_byte(n as u8) })
    }

    #[test]
    fn test_keeps_limit_blocks_behind_the_newest_and_finds_gaps() {
        let mut h = History::new(Some(3));
        for (n, end) in [(0, 10), (2, 20), (3, 30), (5, 50)] {
            h.push(info(n), end);
        }
        assert_eq!(h.range(), Some((2, 5)));
        assert_eq!(h.find(4).map(|k| k.end), Ok(30), "a block without a commit is the one before");
        assert_eq!(h.find(1), Err(HistoryError::Pruned { block: 1, oldest: 2 }));
        assert_eq!(h.find(6), Err(HistoryError::Ahead { block: 6, newest: 5 }));
        h.push(None, 55);
        assert_eq!(h.find(5).map(|k| k.end), Ok(55), "maintenance moves the newest end");
        // A revert: the later blocks go, the block's end moves.
        h.push(info(3), 60);
        assert_eq!(h.range(), Some((2, 3)));
        assert_eq!(h.find(3).map(|k| k.end), Ok(60));
        assert_eq!(h.find(4).map(|k| k.end), Err(HistoryError::Ahead { block: 4, newest: 3 }));
        h.push(info(4), 70);
        assert_eq!(h.find(4).map(|k| k.end), Ok(70), "blocks go on from it");
        let mut all = History::new(None);
        for n in 0..100 {
            all.push(info(n), n);
        }
        assert_eq!(all.range(), Some((0, 99)));
    }
}
