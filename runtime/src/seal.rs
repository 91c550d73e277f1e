//! What a seal computes: the block's changes against its parent with the
//! lattice terms they add and subtract, and its entries joined where their
//! transactions do not conflict.

use crossbeam_utils::CachePadded;
use parking_lot::RwLock;

use lanes_accounts_db::{Entry, ReadView};

use crate::ahead::{Ahead, ShardAhead, refold_account, refold_storage};
use crate::block::BlockEntry;
use crate::error::BankError;
use crate::lattice::LatticeHash;
use crate::locks::EntryKeys;
use crate::threads::parallel_map;
use crate::view::{BankState, Shard};

/// Keys below which a seal computes its changes on the calling thread.
const SEAL_KEYS_PER_THREAD: usize = 1024;

/// Threads a seal uses when its caller names none ([`crate::Bank::seal`]).
pub(crate) fn seal_threads() -> usize {
    crate::cores().min(8)
}

/// Joins each entry to the one before it when no transaction of the two
/// conflicts, so transactions that ran side by side on different workers
/// (each worker records its own batches) are recorded side by side, and a
/// replay runs them in parallel. Order, receipts and roots are unchanged; the
/// result is conflict-free per entry and a second pass changes nothing.
pub(crate) fn coalesce(entries: Vec<BlockEntry>) -> Vec<BlockEntry> {
    let mut out: Vec<BlockEntry> = Vec::with_capacity(entries.len());
    let mut keys = EntryKeys::default();
    for entry in entries {
        // Adds the entry's sets one by one while they fit; on a refusal the
        // filter starts over with the whole entry.
        let joins = out.last().is_some_and(|open| !open.exclusive && !entry.exclusive)
            && entry.txs.iter().all(|t| keys.try_add(&t.access));
        if !joins {
            keys.clear();
            if !entry.exclusive {
                for t in &entry.txs {
                    keys.add(&t.access);
                }
            }
        }
        match out.last_mut() {
            Some(open) if joins => join(open, entry),
            _ => out.push(entry),
        }
    }
    out
}

/// Appends `entry`'s transactions to `open`, each of its lanes a new lane.
fn join(open: &mut BlockEntry, entry: BlockEntry) {
    if open.lanes.is_empty() && entry.lanes.is_empty() {
        open.txs.extend(entry.txs);
        return;
    }
    let own = |e: &BlockEntry| match e.lanes.is_empty() {
        true => (0..e.txs.len() as u32).collect(),
        false => e.lanes.clone(),
    };
    let mut lanes: Vec<u32> = own(open);
    let first = lanes.iter().max().map_or(0, |l| l + 1);
    lanes.extend(own(&entry).into_iter().map(|l| l + first));
    open.txs.extend(entry.txs);
    open.lanes = crate::block::canonical_lanes(&lanes);
}

/// The changed keys of `state` against its parent, and what they change
/// the lattice hash by (new values added, old ones subtracted), computed on
/// up to `threads` threads. `ahead` is what the walk of the write cache
/// did ([`crate::ahead`]): the keys it passed are taken from it, and only
/// those written since it hashed them are hashed again.
pub(crate) fn diff(
    state: &BankState,
    threads: usize,
    ahead: Option<Ahead>,
) -> Result<(Vec<Entry>, LatticeHash), BankError> {
    let (walked, mut delta) = match ahead {
        Some(Ahead { shards, delta }) => (shards, delta),
        None => (Vec::new(), LatticeHash::identity()),
    };
    // A small block (a dev node's lone transaction) is not worth threads.
    let keys: usize = state.shards.iter().map(|s| s.read().len()).sum();
    let threads = threads.clamp(1, keys.div_ceil(SEAL_KEYS_PER_THREAD).max(1));
    let per_chunk = state.shards.len().div_ceil(threads);
    let chunks: Vec<&[CachePadded<RwLock<Shard>>]> = state.shards.chunks(per_chunk).collect();
    let parent = &state.parent;
    let results = parallel_map(
        chunks.len(),
        threads,
        || (),
        |(), i| -> Result<_, BankError> {
            let mut changes = Vec::new();
            let mut delta = LatticeHash::identity();
            for (j, shard) in chunks[i].iter().enumerate() {
                let walked = walked.get(i * per_chunk + j);
                diff_shard(parent, &shard.read(), walked, &mut changes, &mut delta)?;
            }
            Ok((changes, delta))
        },
    );
    let mut changes = Vec::new();
    for r in results {
        let (c, d) = r?;
        changes.extend(c);
        delta.add(&d);
    }
    // A deterministic order, so the same block always commits the same bytes.
    changes.sort_unstable_by_key(|e| e.key());
    Ok((changes, delta))
}

/// [`diff`] of one shard: the keys `walked` passed from what it recorded,
/// the rest against the parent.
fn diff_shard(
    parent: &ReadView,
    shard: &Shard,
    walked: Option<&ShardAhead>,
    changes: &mut Vec<Entry>,
    delta: &mut LatticeHash,
) -> Result<(), BankError> {
    let state_err = |e: lanes_accounts_db::StorageError| BankError::State(e.to_string());
    let (walked_accounts, walked_slots) = match walked {
        Some(w) => (&w.accounts[..], &w.slots[..]),
        None => (&[][..], &[][..]),
    };
    for (i, &(hash, address, new)) in shard.accounts.entries().iter().enumerate() {
        if let Some(&(old, hashed)) = walked_accounts.get(i) {
            if refold_account(&address, old, hashed, new, delta) {
                changes.push(Entry::Account(address, new));
            }
            continue;
        }
        let old = parent.get_account_hashed(&address, hash).map_err(state_err)?;
        if old.as_ref() == Some(&new) || (old.is_none() && new.is_empty()) {
            continue;
        }
        // The commitment sums what the database holds: a backing's value (a
        // fork's upstream) was never added. The held value is the parent's or
        // none, so its terms against `new` are the change's.
        let held = match parent.has_backing() {
            true => parent.held_account(&address).map_err(state_err)?,
            false => old,
        };
        refold_account(&address, held, held.unwrap_or_default(), new, delta);
        changes.push(Entry::Account(address, new));
    }
    for (i, &(hash, (address, slot), new)) in shard.slots.entries().iter().enumerate() {
        if let Some(&(old, hashed)) = walked_slots.get(i) {
            if refold_storage(&address, &slot, old, hashed, new, delta) {
                changes.push(Entry::Storage(address, slot, new));
            }
            continue;
        }
        let old = parent.get_storage_hashed(&address, &slot, hash).map_err(state_err)?;
        if old == new {
            continue;
        }
        let held = match parent.has_backing() {
            true => parent.held_storage(&address, &slot).map_err(state_err)?,
            false => old,
        };
        refold_storage(&address, &slot, held, held, new, delta);
        changes.push(Entry::Storage(address, slot, new));
    }
    Ok(())
}

#[cfg(test)]
mod coalesce_tests {
    use alloy_primitives::{Address, Bytes};

    use super::*;
    use crate::access::{AccessSet, AccessSource};
    use crate::block::EntryTx;
    use crate::key::StateKey;

    fn entry(exclusive: bool, sets: &[(&[u8], &[u8])]) -> BlockEntry {
        let key = |i: &u8| StateKey::Account(Address::with_last_byte(*i));
        let txs = sets
            .iter()
            .map(|(reads, writes)| EntryTx {
                tx: Bytes::new(),
                access: AccessSet::unbounded(reads.iter().map(key), writes.iter().map(key)),
                source: AccessSource::Declared,
            })
            .collect();
        BlockEntry { exclusive, txs, lanes: Vec::new() }
    }

    #[test]
    fn test_coalesce_joins_disjoint_neighbours_only() {
        let entries = vec![
            entry(false, &[(&[9], &[1])]),
            entry(false, &[(&[9], &[2]), (&[], &[3])]), // shares only a read: joins
            entry(false, &[(&[], &[1])]),               // writes 1 again: new entry
            entry(true, &[(&[], &[])]),                 // exclusive: alone
            entry(false, &[(&[], &[4])]),
            entry(false, &[(&[1], &[])]), // reads what the open entry does not write: joins
        ];
        let widths: Vec<(bool, usize)> =
            coalesce(entries).iter().map(|e| (e.exclusive, e.txs.len())).collect();
        assert_eq!(widths, [(false, 3), (false, 1), (true, 1), (false, 2)]);
        let again =
            coalesce(coalesce(vec![entry(false, &[(&[], &[1])]), entry(false, &[(&[], &[2])])]));
        assert_eq!(again.len(), 1, "idempotent");
    }

    #[test]
    fn test_a_joined_entry_keeps_each_lane_apart() {
        let hot = BlockEntry {
            lanes: vec![0, 1, 0],
            ..entry(false, &[(&[], &[1]), (&[], &[2]), (&[], &[1])])
        };
        let joined = coalesce(vec![hot.clone(), entry(false, &[(&[], &[3]), (&[], &[4])])]);
        assert_eq!(joined.len(), 1);
        assert_eq!(joined[0].lanes, [0, 1, 0, 2, 3]);
        assert!(joined[0].lanes_are_canonical());
        // An entry whose lane's transactions conflict among themselves does
        // not join the one before (the filter sees a conflict), nor does one
        // that meets the open entry's keys.
        assert_eq!(coalesce(vec![entry(false, &[(&[], &[3])]), hot.clone()]).len(), 2);
        let apart = coalesce(vec![hot, entry(false, &[(&[], &[2])])]);
        assert_eq!(apart.len(), 2);
        assert_eq!(apart[0].lanes, [0, 1, 0]);
    }
}
