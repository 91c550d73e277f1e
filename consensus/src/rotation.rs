//! Who proposes: a round-robin over the validators that passes over one
//! that missed its recent turns ([`Rotation`]), judged from the committed
//! chain alone so that every node passes over the same ones.
//!
//! Height `h`'s schedule starts at validator `h % n` and goes round the set;
//! the passed-over ones are moved to its end (they still propose in a late
//! round if everyone before them fails). A committed block names the
//! validator that built it: those ahead of it in its height's schedule
//! missed their turn. A validator that missed is passed over for
//! [`PASS_OVER_HEIGHTS`] heights, doubling with each turn it misses in a
//! row (at most [`MAX_PASS_OVER_HEIGHTS`]); a block it builds clears it.
//! Every [`ROTATION_EPOCH`] heights the record starts afresh, so a node
//! that restarts rebuilds it from at most one epoch of blocks and agrees
//! with one that never stopped. A silent proposer costs one propose timeout
//! per pass, not one per turn; safety never depends on who proposes.

use std::collections::BTreeMap;

use crate::types::{Address, ValidatorSet};

/// Heights a validator that missed its turn is first passed over for.
pub const PASS_OVER_HEIGHTS: u64 = 16;
/// Most heights one miss passes a validator over for.
pub const MAX_PASS_OVER_HEIGHTS: u64 = 4_096;
/// Heights after which the record starts afresh (at heights that are a
/// multiple of it).
pub const ROTATION_EPOCH: u64 = 8_192;

/// One validator's record of missed turns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Missed {
    /// Turns missed in a row.
    times: u32,
    /// Passed over at heights below this one.
    until: u64,
}

/// The record of missed turns, from the committed chain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    missed: BTreeMap<Address, Missed>,
    /// The next height [`Rotation::committed`] expects.
    next: u64,
}

impl Rotation {
    /// An empty record, expecting height `from` next (the first height
    /// after the genesis, or an epoch's first height).
    pub fn starting_at(from: u64) -> Self {
        Self { missed: BTreeMap::new(), next: from }
    }

    /// The first height of the epoch `height` is in: where a node that
    /// restarts rebuilds its record from.
    pub fn epoch_start(height: u64) -> u64 {
        height - height % ROTATION_EPOCH
    }

    /// The next height the record expects a block for.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Validators passed over at `height`, in address order.
    pub fn passed_over(&self, height: u64) -> Vec<Address> {
        // A later epoch than the last block's starts afresh.
        if Self::epoch_start(height) > Self::epoch_start(self.next.saturating_sub(1)) {
            return Vec::new();
        }
        self.missed.iter().filter(|(_, m)| m.until > height).map(|(a, _)| *a).collect()
    }

    /// Notes block `height`, built by `builder`: the validators ahead of it
    /// in the height's schedule missed their turn, and it did not. A height
    /// out of order (already noted, or one skipped) is ignored, as is a
    /// builder outside the set.
    pub fn committed(&mut self, validators: &ValidatorSet, height: u64, builder: &Address) {
        if height != self.next {
            return;
        }
        self.next = height + 1;
        if Self::epoch_start(height) == height {
            self.missed.clear();
        }
        let passed = self.passed_over(height);
        let schedule = validators.schedule(height, &passed);
        let Some(at) = schedule.iter().position(|v| v == builder) else { return };
        for missed in &schedule[..at] {
            let m = self.missed.entry(*missed).or_insert(Missed { times: 0, until: 0 });
            m.times = m.times.saturating_add(1);
            let span = PASS_OVER_HEIGHTS
                .saturating_mul(1u64 << (m.times - 1).min(20))
                .min(MAX_PASS_OVER_HEIGHTS);
            m.until = height + 1 + span;
        }
        self.missed.remove(builder);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Height, Validator};
    use malachitebft_app_channel::app::types::core::Round;

    fn set(n: usize) -> ValidatorSet {
        ValidatorSet::new(
            (0..n).map(|_| Validator::new(crate::generate_private_key().public_key(), 1)).collect(),
        )
    }

    #[test]
    fn test_a_silent_validator_is_passed_over_longer_each_time_and_back_when_it_builds() {
        let vs = set(4);
        let dead = vs.validators()[2].address;
        let mut r = Rotation::starting_at(1);
        let mut timeouts = 0;
        for h in 1..400u64 {
            let passed = r.passed_over(h);
            let schedule = vs.schedule(h, &passed);
            // The first live validator of the schedule builds the block.
            let builder = *schedule.iter().find(|a| **a != dead).unwrap();
            timeouts += usize::from(schedule[0] == dead);
            let proposer =
                vs.clone().passing_over(passed).proposer(Height(h), Round::new(0)).cloned();
            assert_eq!(proposer.unwrap().address, schedule[0]);
            r.committed(&vs, h, &builder);
        }
        // Turns at 2, 6 (missed: 16), 23.. (32), .. : a handful, not 100.
        assert!((3..=6).contains(&timeouts), "{timeouts} timeouts in 400 heights");
        // Back: everyone builds at their turn; once its pass runs out it
        // builds at its own, and nobody is passed over any more.
        let mut built = false;
        for h in 400..400 + MAX_PASS_OVER_HEIGHTS + 8 {
            let schedule = vs.schedule(h, &r.passed_over(h));
            built |= schedule[0] == dead;
            r.committed(&vs, h, &schedule[0]);
        }
        assert!(built && r.passed_over(r.next()).is_empty());
    }

    #[test]
    fn test_a_node_rebuilding_from_the_epoch_agrees_with_one_that_never_stopped() {
        let vs = set(4);
        let dead = vs.validators()[1].address;
        let mut always = Rotation::starting_at(1);
        let mut builders = Vec::new();
        let end = ROTATION_EPOCH + 300;
        for h in 1..end {
            let schedule = vs.schedule(h, &always.passed_over(h));
            let builder = *schedule.iter().find(|a| **a != dead).unwrap();
            builders.push(builder);
            always.committed(&vs, h, &builder);
        }
        let from = Rotation::epoch_start(end);
        let mut rebuilt = Rotation::starting_at(from);
        for h in from..end {
            rebuilt.committed(&vs, h, &builders[h as usize - 1]);
        }
        for h in end..end + 50 {
            assert_eq!(always.passed_over(h), rebuilt.passed_over(h), "height {h}");
        }
        // Out of order: ignored.
        let before = rebuilt.clone();
        rebuilt.committed(&vs, from, &dead);
        assert_eq!(rebuilt, before);
    }
}
