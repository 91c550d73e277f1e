//! How a run's writes are kept ([`crate::Bank::run`]): at once, or held in its
//! worker's [`WriteBatch`] until the worker's share of an entry or a batch
//! is done, then applied to the bank's write cache a shard at a time
//! ([`BankState::apply_batch`]).

use alloy_primitives::{Address, B256, Bytes, U256};
use lanes_accounts_db::{AccountHeader, KeyHash};

use crate::view::{BankState, Writes};

/// Where a kept run's writes go ([`crate::Bank::run`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keep {
    /// Into the write cache at once: a later run of the same worker may
    /// read them (the next transaction of a lane).
    Now,
    /// Into the worker's [`WriteBatch`], applied once its share of the
    /// entry or batch is done: nothing reads the run's keys before that (a
    /// transaction alone in its lane).
    Held,
}

/// Whether each transaction is alone in its lane, for lanes planned as
/// [`crate::Bank::execute_batch`] plans them: each a lane id within its entry,
/// `None` starting the next entry in lane 0.
pub(crate) fn alone_in_lanes(lanes: &[Option<u32>]) -> Vec<bool> {
    let mut alone = Vec::with_capacity(lanes.len());
    let mut counts: Vec<u32> = Vec::new();
    let mut begin = 0;
    while begin < lanes.len() {
        let next = lanes[begin + 1..].iter().position(Option::is_none);
        let end = next.map_or(lanes.len(), |p| begin + 1 + p);
        let entry = &lanes[begin..end];
        let id = |lane: &Option<u32>| lane.unwrap_or(0) as usize;
        counts.clear();
        for lane in entry {
            if counts.len() <= id(lane) {
                counts.resize(id(lane) + 1, 0);
            }
            counts[id(lane)] += 1;
        }
        alone.extend(entry.iter().map(|lane| counts[id(lane)] == 1));
        begin = end;
    }
    alone
}

/// Kept runs' writes not yet in the write cache, and the buffer each run
/// writes into ([`WriteBatch::lend`]): a worker's, for runs whose keys
/// nothing else reads before the batch is applied
/// ([`BankState::apply_batch`]) — in an entry, a transaction alone in its
/// lane. A run then allocates nothing once the worker's lists have grown,
/// and its writes take each shard's lock once per batch rather than once
/// per key: a lock's line is one that two workers would otherwise pass to
/// each other on every write.
#[derive(Debug, Default)]
pub(crate) struct WriteBatch {
    accounts: Vec<(KeyHash, Address, AccountHeader)>,
    slots: Vec<(KeyHash, Address, B256, U256)>,
    code: Vec<(B256, Bytes)>,
    /// The buffer lent to the next run, empty.
    spare: Writes,
    /// [`group_by_shard`]'s lists, kept for the next apply.
    order: Vec<u32>,
    ends: Vec<u32>,
}

impl WriteBatch {
    /// An empty buffer for a run's writes (the one the last run gave back).
    pub(crate) fn lend(&mut self) -> Writes {
        std::mem::take(&mut self.spare)
    }

    /// Takes a buffer back, emptied, for the next run.
    pub(crate) fn give_back(&mut self, mut writes: Writes) {
        writes.clear();
        self.spare = writes;
    }

    /// Holds a kept run's writes until the batch is applied, and takes its
    /// buffer back.
    pub(crate) fn hold(&mut self, mut writes: Writes) {
        self.accounts.extend_from_slice(&writes.accounts);
        self.slots.extend_from_slice(&writes.slots);
        self.code.append(&mut writes.code);
        self.give_back(writes);
    }

    /// Whether it holds no writes.
    pub(crate) fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.slots.is_empty() && self.code.is_empty()
    }
}

/// Groups the positions of `hashes` by their keys' shard (of `mask + 1`),
/// in the given order within each: shard `s`'s are `order[ends[s - 1]..
/// ends[s]]` (from 0 for the first). A counting sort into the given lists,
/// which keep their memory.
fn group_by_shard(
    hashes: impl Iterator<Item = KeyHash> + Clone,
    mask: usize,
    order: &mut Vec<u32>,
    ends: &mut Vec<u32>,
) {
    ends.clear();
    ends.resize(mask + 1, 0);
    let mut len = 0;
    for hash in hashes.clone() {
        ends[hash.cache_shard(mask)] += 1;
        len += 1;
    }
    // Each shard's start, which the scatter below moves to its end.
    let mut start = 0;
    for end in ends.iter_mut() {
        let count = *end;
        *end = start;
        start += count;
    }
    order.clear();
    order.resize(len, 0);
    for (at, hash) in hashes.enumerate() {
        let next = &mut ends[hash.cache_shard(mask)];
        order[*next as usize] = u32::try_from(at).expect("a batch holds fewer than 2^32 writes");
        *next += 1;
    }
}

impl BankState {
    /// Applies the writes `batch` holds and empties it: each shard's lock
    /// is taken once for all of its keys (the order given kept within a
    /// shard, so the last write of a key wins), where
    /// [`BankState::apply`](crate::view::BankState::apply) takes it once
    /// per key. Code goes in first, as there.
    pub(crate) fn apply_batch(&self, batch: &mut WriteBatch) {
        if batch.is_empty() {
            return;
        }
        if !batch.code.is_empty() {
            self.code.write().extend(batch.code.drain(..));
        }
        let WriteBatch { accounts, slots, order, ends, .. } = batch;
        // Accounts are positions 0.., slots follow them.
        let hashes = accounts.iter().map(|a| a.0).chain(slots.iter().map(|s| s.0));
        group_by_shard(hashes, self.shards.len() - 1, order, ends);
        let mut begin = 0;
        for (shard, &end) in self.shards.iter().zip(ends.iter()) {
            let positions = &order[begin..end as usize];
            begin = end as usize;
            if positions.is_empty() {
                continue;
            }
            let mut shard = shard.write();
            for &at in positions {
                let at = at as usize;
                match accounts.get(at) {
                    Some(&(hash, address, header)) => {
                        self.mark_written(hash);
                        shard.accounts.insert(hash, address, header);
                    }
                    None => {
                        let (hash, address, slot, value) = slots[at - accounts.len()];
                        self.mark_written(hash);
                        shard.slots.insert(hash, (address, slot), value);
                    }
                }
            }
        }
        accounts.clear();
        slots.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{Chain, Genesis};
    use crate::key::StateKey;
    use lanes_accounts_db::{AccountsDbConfig, Entry};
    use proptest::prelude::*;

    #[test]
    fn test_alone_in_lanes_counts_each_entry_apart() {
        let lanes = [Some(0), Some(1), Some(0), None, Some(1), Some(1), None];
        let alone = alone_in_lanes(&lanes);
        assert_eq!(alone, [false, true, false, true, false, false, true]);
        assert!(alone_in_lanes(&[]).is_empty());
    }

    fn address(i: u8) -> Address {
        Address::repeat_byte(i)
    }

    proptest! {
        /// Runs' writes held in a batch and applied at once leave the write
        /// cache as applying each run's writes in turn does: every key reads
        /// the same (a key written twice, the later value), over a parent
        /// that holds some of them.
        #[test]
        fn test_a_batch_applies_as_its_runs_one_by_one(
            runs in prop::collection::vec(
                prop::collection::vec((any::<bool>(), 0u8..12, 0u8..3, 1u64..1000), 0..6),
                1..40,
            )
        ) {
            let genesis = Genesis {
                alloc: (0..12).map(|i| Entry::Storage(address(i), B256::ZERO, U256::from(5))).collect(),
                ..Default::default()
            };
            let dir = tempfile::tempdir().unwrap();
            let chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis).unwrap();
            let (held, one_by_one) = (chain.new_bank(1, Address::ZERO), chain.new_bank(1, Address::ZERO));
            let mut batch = WriteBatch::default();
            for run in &runs {
                let mut writes = batch.lend();
                for &(account, a, s, value) in run {
                    let (address, slot) = (address(a), B256::with_last_byte(s));
                    if account {
                        let header = AccountHeader { nonce: value, ..Default::default() };
                        let hash = StateKey::Account(address).hash64();
                        writes.accounts.push((hash, address, header));
                    } else {
                        let hash = StateKey::Storage(address, slot).hash64();
                        writes.slots.push((hash, address, slot, U256::from(value)));
                    }
                }
                one_by_one.state.apply(&writes);
                batch.hold(writes);
            }
            held.state.apply_batch(&mut batch);
            prop_assert!(batch.is_empty());
            for a in 0..12 {
                let address = address(a);
                let hash = StateKey::Account(address).hash64();
                prop_assert_eq!(
                    held.state.account(&address, hash).unwrap(),
                    one_by_one.state.account(&address, hash).unwrap()
                );
                for s in 0..3 {
                    let slot = B256::with_last_byte(s);
                    let hash = StateKey::Storage(address, slot).hash64();
                    prop_assert_eq!(
                        held.state.storage(&address, &slot, hash).unwrap(),
                        one_by_one.state.storage(&address, &slot, hash).unwrap()
                    );
                }
            }
        }
    }
}
