//! The block clock: block timestamps from the wall clock, moved by a dev
//! node's time controls (`evm_increaseTime`, `evm_setNextBlockTimestamp`,
//! `anvil_setTime`, `anvil_setBlockTimestampInterval`, a mine request's
//! timestamp) the way anvil moves its clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The offset from the wall clock and the next block's timestamp, if set.
#[derive(Debug, Default)]
pub(crate) struct BlockClock {
    /// Seconds added to the wall clock.
    offset: i64,
    /// The next block's timestamp, set by [`Self::set_next`].
    next: Option<u64>,
    /// Whether a block may share its parent's timestamp.
    same_second: bool,
    /// Seconds from each block's timestamp to the next one's, whatever the
    /// clock says, set by [`Self::set_interval`].
    interval: Option<u64>,
}

fn wall() -> i64 {
    wall_in(Duration::ZERO)
}

/// The wall clock's second `ahead` from now.
fn wall_in(ahead: Duration) -> i64 {
    (SystemTime::now() + ahead).duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl BlockClock {
    /// A clock on the wall clock's time; `same_second`: a block may share
    /// its parent's timestamp.
    pub(crate) fn new(same_second: bool) -> Self {
        Self { same_second, ..Self::default() }
    }

    /// The clock's time now, in Unix seconds.
    pub(crate) fn now(&self) -> u64 {
        self.time_in(Duration::ZERO)
    }

    /// The clock's time `ahead` from now, in Unix seconds.
    fn time_in(&self, ahead: Duration) -> u64 {
        wall_in(ahead).saturating_add(self.offset).max(0) as u64
    }

    /// Seconds added to the wall clock.
    pub(crate) fn offset(&self) -> i64 {
        self.offset
    }

    /// Sets the seconds added to the wall clock, and forgets a set next
    /// timestamp (a dev node's `evm_revert` puts its clock back).
    pub(crate) fn set_offset(&mut self, offset: i64) {
        self.offset = offset;
        self.next = None;
    }

    /// Moves the clock `seconds` past the later of its time now and `head`
    /// (the latest block's timestamp, ahead of the wall clock after a quick
    /// burst of blocks), so the next block is at least `head + seconds`;
    /// returns the total offset.
    pub(crate) fn increase(&mut self, seconds: u64, head: u64) -> i64 {
        let head = i64::try_from(head).unwrap_or(i64::MAX);
        let from = self.offset.max(head.saturating_sub(wall()));
        self.offset = from.saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX));
        self.offset
    }

    /// Stamps the next block `timestamp`.
    pub(crate) fn set_next(&mut self, timestamp: u64) {
        self.next = Some(timestamp);
    }

    /// Sets the clock's time to `timestamp` and forgets a set next
    /// timestamp; answers the seconds it moved forward (0 when back).
    pub(crate) fn set_time(&mut self, timestamp: u64) -> u64 {
        let before = self.now();
        self.next = None;
        self.move_to(timestamp);
        timestamp.saturating_sub(before)
    }

    /// Stamps each block `interval` seconds after its parent (`None`: from
    /// the clock again); answers the interval set before.
    pub(crate) fn set_interval(&mut self, interval: Option<u64>) -> Option<u64> {
        std::mem::replace(&mut self.interval, interval)
    }

    /// The timestamp of the block after one stamped `parent`: `at` if given
    /// (it replaces a set one and moves the clock to it, so time goes on
    /// from there), else the one set, else `parent` plus a set interval,
    /// else the clock's time when the block
    /// is sealed, `seals_in` from now (an interval block is stamped with
    /// its slot's end, as anvil and Ethereum stamp a block with the time it
    /// is published); always after `parent` (or at it, with same-second
    /// blocks). A set one stays set until a block stamped with it is
    /// committed ([`Self::committed`]): a block that is discarded does not
    /// use it up.
    pub(crate) fn next_block(&mut self, parent: u64, at: Option<u64>, seals_in: Duration) -> u64 {
        let least = if self.same_second { parent } else { parent.saturating_add(1) };
        if let Some(at) = at {
            self.next = None;
            let timestamp = at.max(least);
            self.move_to(timestamp);
            return timestamp;
        }
        let interval = self.interval.map(|i| parent.saturating_add(i));
        self.next.or(interval).unwrap_or_else(|| self.time_in(seals_in)).max(least)
    }

    /// A block stamped `timestamp` was committed: a set timestamp it used is
    /// used up, and time goes on from it; so it does from a block an
    /// interval stamped (as anvil's clock follows its interval's blocks).
    pub(crate) fn committed(&mut self, timestamp: u64) {
        if self.next.is_some_and(|next| timestamp >= next) {
            self.next = None;
            self.move_to(timestamp);
        } else if self.interval.is_some() {
            self.move_to(timestamp);
        }
    }

    fn move_to(&mut self, timestamp: u64) {
        self.offset = i64::try_from(timestamp).unwrap_or(i64::MAX).saturating_sub(wall());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_an_interval_stamps_each_block_after_its_parent_until_removed() {
        let mut clock = BlockClock::default();
        let start = clock.now();
        assert_eq!(clock.set_interval(Some(60)), None);
        // Whatever the clock says: a parent far behind or ahead of it.
        assert_eq!(clock.next_block(start - 1_000, None, Duration::ZERO), start - 940);
        assert_eq!(clock.next_block(start + 9_000, None, Duration::ZERO), start + 9_060);
        // A set timestamp comes first, as in anvil.
        clock.set_next(start + 50_000);
        assert_eq!(clock.next_block(start, None, Duration::ZERO), start + 50_000);
        clock.committed(start + 50_000);
        assert_eq!(clock.next_block(start + 50_000, None, Duration::ZERO), start + 50_060);
        // The clock follows the interval's blocks; removed, time goes on
        // from the last one.
        clock.committed(start + 50_060);
        assert_eq!(clock.set_interval(None), Some(60));
        let t = clock.next_block(0, None, Duration::ZERO);
        assert!((start + 50_060..start + 50_063).contains(&t), "{t}");
    }

    #[test]
    fn test_time_controls_move_block_timestamps_as_anvil_does() {
        let mut clock = BlockClock::default();
        let start = clock.now();
        // Strictly after the parent even when the clock is behind it.
        assert_eq!(clock.next_block(start + 100, None, Duration::ZERO), start + 101);
        // increaseTime moves every later block.
        assert_eq!(clock.increase(3600, 0), 3600);
        let t = clock.next_block(0, None, Duration::ZERO);
        assert!((start + 3600..start + 3602).contains(&t), "{t}");
        // setNextBlockTimestamp stamps exactly one block, and time goes on from it;
        // a block that is discarded does not use it up.
        clock.set_next(start + 10_000);
        assert_eq!(clock.next_block(t, None, Duration::ZERO), start + 10_000);
        assert_eq!(clock.next_block(t, None, Duration::ZERO), start + 10_000, "not committed yet");
        clock.committed(start + 10_000);
        let after = clock.next_block(0, None, Duration::ZERO);
        assert!((start + 10_000..start + 10_002).contains(&after), "{after}");
        // An interval block is stamped when its slot ends.
        let slot = clock.next_block(0, None, Duration::from_secs(2));
        assert!((after + 2..after + 4).contains(&slot), "{slot}");
        // A mine request's timestamp replaces a set one, and moves the clock too.
        clock.set_next(start + 20_000);
        assert_eq!(clock.next_block(0, Some(start + 30_000), Duration::ZERO), start + 30_000);
        let later = clock.next_block(0, None, Duration::ZERO);
        assert!((start + 30_000..start + 30_002).contains(&later), "{later}");
        // A head ahead of the clock (a burst of blocks each parent + 1):
        // increaseTime counts from the head.
        let head = clock.now() + 5;
        clock.increase(86_400, head);
        let jumped = clock.next_block(head, None, Duration::ZERO);
        assert!((head + 86_400..head + 86_402).contains(&jumped), "{jumped} after {head}");
    }
}
