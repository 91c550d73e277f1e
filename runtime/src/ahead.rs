//! The lattice hash ahead of the seal: while a block's entries run, a thread
//! of its own walks the write cache's new keys, reads each one's parent
//! value once and folds its lattice terms, so [`crate::Bank::seal`] hashes
//! only the keys written since the walk saw them (issue 85, item 1).
//!
//! The walk needs no word from the workers. A shard's tables keep their keys
//! in insertion order and never remove one ([`crate::table::Table`]), so
//! the walk keeps, per shard and table, how far it went and, for each key
//! it passed, the parent's value and the value it hashed, at the key's
//! position. The seal takes both: a key whose value has not moved since
//! costs a comparison; one written again is refolded (its hashed value's
//! terms taken out, its final value's put in); the keys past the walk are
//! diffed as before. The lattice is a sum, so what the walk saw and when
//! changes nothing in the result: [`crate::seal::diff`] gives the same
//! changes and hash with or without it (`test_a_seal_ahead_equals_one_without`).
//!
//! One walker thread serves the process ("lanes-lattice"), one bank at a
//! time; a bank that finds it busy with another seals without it. It runs
//! under Linux's `SCHED_IDLE` policy: only on a core nothing else wants. A
//! block on fewer threads than the machine's cores gets a core of hashing
//! beside its run; one on every core gets the moments its workers wait (a
//! narrow entry on one thread, the end of an entry), and the seal hashes
//! what is left on the block's threads as before. At the normal priority
//! the walker took its share of the workers' cores and a block on both
//! cores of a 2-core machine ran slower.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::Duration;

use alloy_primitives::{Address, B256, U256};
use crossbeam_channel::Sender;
use lanes_accounts_db::{AccountHeader, Entry, KeyHash, StorageError};
use parking_lot::{Condvar, Mutex};

use crate::lattice::LatticeHash;
use crate::view::BankState;

/// Keys the walk copies out of one table under its shard's read lock before
/// it lets go and hashes them: a worker waiting to write there waits for a
/// copy of this many at most, and the seal for about this many keys' hashes.
const WALK_CHUNK: usize = 64;

/// Walked keys [`Ahead::refresh`] compares per hold of a shard's read lock.
const REFRESH_CHUNK: usize = 256;

/// Longest sleep between walks that find nothing new. The walk sleeps
/// [`MIN_IDLE`] after a walk that found keys, twice as long after each that
/// found none, up to this: a block's first keys wait little, and a walker
/// that has caught up costs a few wake-ups per millisecond at most.
const MAX_IDLE: Duration = Duration::from_millis(1);
const MIN_IDLE: Duration = Duration::from_micros(20);

/// What the walk did for one bank: per shard of its write cache, per table,
/// each key's parent value and the value whose terms `delta` holds, at the
/// key's position in the table; and the sum of those terms.
#[derive(Debug)]
pub(crate) struct Ahead {
    pub(crate) shards: Vec<ShardAhead>,
    pub(crate) delta: LatticeHash,
}

/// [`Ahead`] of one shard: `(parent's value, value hashed)` per key, in the
/// shard's tables' order.
#[derive(Debug, Default)]
pub(crate) struct ShardAhead {
    pub(crate) accounts: Vec<(Option<AccountHeader>, AccountHeader)>,
    pub(crate) slots: Vec<(U256, U256)>,
}

/// Folds into `delta` the change of an account's terms from the value
/// `hashed` to `new`, with `old` its parent's value: a value equal to the
/// parent's has no terms; another has the parent's element subtracted and
/// its own added (an empty header has none, as a deletion). Returns whether
/// `new` changes the account. With `hashed` unchanged from the parent (the
/// walk's first sight: `old.unwrap_or_default()`), it folds `new`'s terms.
pub(crate) fn refold_account(
    address: &Address,
    old: Option<AccountHeader>,
    hashed: AccountHeader,
    new: AccountHeader,
    delta: &mut LatticeHash,
) -> bool {
    let changes = |v: &AccountHeader| !(old.as_ref() == Some(v) || (old.is_none() && v.is_empty()));
    let (was, is) = (changes(&hashed), changes(&new));
    if hashed != new {
        refold(
            delta,
            (was, is),
            old.map(|o| Entry::Account(*address, o)),
            (!hashed.is_empty()).then(|| Entry::Account(*address, hashed)),
            (!new.is_empty()).then(|| Entry::Account(*address, new)),
        );
    }
    is
}

/// [`refold_account`] for a storage slot: zero is "unset", with no terms.
pub(crate) fn refold_storage(
    address: &Address,
    slot: &B256,
    old: U256,
    hashed: U256,
    new: U256,
    delta: &mut LatticeHash,
) -> bool {
    let (was, is) = (hashed != old, new != old);
    if hashed != new {
        let entry = |v: U256| (!v.is_zero()).then(|| Entry::Storage(*address, *slot, v));
        refold(delta, (was, is), entry(old), entry(hashed), entry(new));
    }
    is
}

/// Takes out the terms a value that changed the key (`was`) put in, and puts
/// in those of one that does (`is`): the old element is subtracted by
/// either, so it moves only when one of the two changes the key.
fn refold(
    delta: &mut LatticeHash,
    (was, is): (bool, bool),
    old: Option<Entry>,
    hashed: Option<Entry>,
    new: Option<Entry>,
) {
    if was != is
        && let Some(old) = &old
    {
        match is {
            true => delta.sub_entry(old),
            false => delta.add_entry(old),
        }
    }
    if was && let Some(hashed) = &hashed {
        delta.sub_entry(hashed);
    }
    if is && let Some(new) = &new {
        delta.add_entry(new);
    }
}

/// A bank's walk, queued or running on the walker thread. Dropping it stops
/// the walk.
#[derive(Debug)]
pub(crate) struct AheadJob {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    stop: AtomicBool,
    /// Keys the walk has folded so far.
    walked: AtomicUsize,
    phase: Mutex<Phase>,
    finished: Condvar,
}

#[derive(Debug)]
enum Phase {
    /// Waiting for the walker, with the state to walk: here, not in the
    /// walker's queue, so a walk finished (or dropped) before it starts
    /// lets go of the bank's state there and then, not once the walker
    /// (which runs only on an idle core) gets to the queue.
    Queued(Arc<BankState>),
    Running,
    Finished(Option<Box<Ahead>>),
}

struct Walker {
    jobs: Sender<Arc<Shared>>,
    thread: Thread,
}

/// The walker thread, started at the first walk; `None` where it could not
/// be started (the seal then hashes everything itself).
fn walker() -> Option<&'static Walker> {
    static WALKER: OnceLock<Option<Walker>> = OnceLock::new();
    WALKER
        .get_or_init(|| {
            let (jobs, queue) = crossbeam_channel::unbounded::<Arc<Shared>>();
            let handle = std::thread::Builder::new()
                .name("lanes-lattice".into())
                .spawn(move || {
                    lower_priority();
                    for shared in queue {
                        run(&shared);
                    }
                })
                .ok()?;
            Some(Walker { jobs, thread: handle.thread().clone() })
        })
        .as_ref()
}

/// Puts the calling thread under `SCHED_IDLE` where the system has it; a
/// refusal leaves it at the normal priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
            set_thread_priority_and_policy, thread_native_id,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if let Err(e) =
            set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle)
        {
            tracing::debug!(target: "lanes::runtime", ?e, "the lattice walker keeps the normal priority");
        }
    }
}

impl AheadJob {
    /// Queues a walk of `state`'s write cache; `None` where no walker runs.
    pub(crate) fn start(state: Arc<BankState>) -> Option<Self> {
        let walker = walker()?;
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            walked: AtomicUsize::new(0),
            phase: Mutex::new(Phase::Queued(state)),
            finished: Condvar::new(),
        });
        walker.jobs.send(shared.clone()).ok()?;
        walker.thread.unpark();
        Some(Self { shared })
    }

    /// Stops the walk and returns what it did; `None` where it never
    /// started (the walker was busy with another bank's).
    pub(crate) fn finish(self) -> Option<Ahead> {
        self.stop();
        let mut phase = self.shared.phase.lock();
        loop {
            match &mut *phase {
                Phase::Queued(_) => {
                    *phase = Phase::Finished(None);
                    return None;
                }
                Phase::Running => self.shared.finished.wait(&mut phase),
                Phase::Finished(ahead) => return ahead.take().map(|a| *a),
            }
        }
    }

    fn stop(&self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(walker) = walker() {
            walker.thread.unpark();
        }
    }
}

impl Drop for AheadJob {
    fn drop(&mut self) {
        self.stop();
        let mut phase = self.shared.phase.lock();
        if matches!(*phase, Phase::Queued(_)) {
            *phase = Phase::Finished(None);
        }
    }
}

/// One bank's walk on the walker thread, unless it was finished unstarted.
/// A panic in the walk ends it with nothing done (the seal then hashes
/// every key itself, and does not wait forever) and the walker goes on to
/// the next bank.
fn run(shared: &Shared) {
    let state = {
        let mut phase = shared.phase.lock();
        match std::mem::replace(&mut *phase, Phase::Running) {
            Phase::Queued(state) => state,
            other => {
                *phase = other;
                return;
            }
        }
    };
    let walked = std::panic::catch_unwind(AssertUnwindSafe(|| walk(&state, shared)));
    drop(state);
    *shared.phase.lock() = Phase::Finished(walked.ok().map(Box::new));
    shared.finished.notify_all();
}

/// Walks `state`'s new keys until `stop`; stops early, keeping what it did,
/// at a parent read that fails (the seal's own read of that key reports it).
fn walk(state: &BankState, shared: &Shared) -> Ahead {
    let mut ahead = Ahead::new(state);
    let mut idle = MIN_IDLE;
    while !shared.stop.load(Ordering::Acquire) {
        // New keys first; once there are none, the keys written again.
        let found = match ahead.pass(state, &shared.stop) {
            Ok(true) => true,
            Ok(false) => ahead.refresh(state, &shared.stop) > 0,
            Err(_) => break,
        };
        match found {
            true => {
                idle = MIN_IDLE;
                shared.walked.store(ahead.walked(), Ordering::Release);
            }
            false => {
                std::thread::park_timeout(idle);
                idle = (idle * 2).min(MAX_IDLE);
            }
        }
    }
    ahead
}

impl Ahead {
    fn new(state: &BankState) -> Self {
        Self {
            shards: state.shards.iter().map(|_| ShardAhead::default()).collect(),
            delta: LatticeHash::identity(),
        }
    }

    /// Keys folded.
    fn walked(&self) -> usize {
        self.shards.iter().map(|s| s.accounts.len() + s.slots.len()).sum()
    }

    /// One pass over `state`'s shards, folding up to [`WALK_CHUNK`] new keys
    /// of each table; whether it found any. It ends early at `stop`.
    fn pass(&mut self, state: &BankState, stop: &AtomicBool) -> Result<bool, StorageError> {
        let mut accounts: Vec<(KeyHash, Address, AccountHeader)> = Vec::with_capacity(WALK_CHUNK);
        let mut slots: Vec<(KeyHash, (Address, B256), U256)> = Vec::with_capacity(WALK_CHUNK);
        let mut found = false;
        for (shard, done) in state.shards.iter().zip(&mut self.shards) {
            if stop.load(Ordering::Acquire) {
                break;
            }
            {
                let shard = shard.read();
                let new = shard.accounts.entries().get(done.accounts.len()..).unwrap_or_default();
                accounts.extend(new.iter().take(WALK_CHUNK));
                let new = shard.slots.entries().get(done.slots.len()..).unwrap_or_default();
                slots.extend(new.iter().take(WALK_CHUNK));
            }
            found |= !accounts.is_empty() || !slots.is_empty();
            for (hash, address, new) in accounts.drain(..) {
                let old = state.parent.get_account_hashed(&address, hash)?;
                refold_account(&address, old, old.unwrap_or_default(), new, &mut self.delta);
                done.accounts.push((old, new));
            }
            for (hash, (address, slot), new) in slots.drain(..) {
                let old = state.parent.get_storage_hashed(&address, &slot, hash)?;
                refold_storage(&address, &slot, old, old, new, &mut self.delta);
                done.slots.push((old, new));
            }
        }
        Ok(found)
    }

    /// Refolds the keys walked already whose value has moved since; how
    /// many. Each table is compared [`REFRESH_CHUNK`] keys per hold of its
    /// shard's read lock. It ends early at `stop`.
    fn refresh(&mut self, state: &BankState, stop: &AtomicBool) -> usize {
        let mut accounts: Vec<(usize, Address, AccountHeader)> = Vec::new();
        let mut slots: Vec<(usize, (Address, B256), U256)> = Vec::new();
        let mut refolded = 0;
        for (shard, done) in state.shards.iter().zip(&mut self.shards) {
            let most = done.accounts.len().max(done.slots.len());
            for start in (0..most).step_by(REFRESH_CHUNK) {
                if stop.load(Ordering::Acquire) {
                    return refolded;
                }
                {
                    let shard = shard.read();
                    let table = shard.accounts.entries();
                    accounts.extend(
                        moved(table, &done.accounts, start).map(|i| (i, table[i].1, table[i].2)),
                    );
                    let table = shard.slots.entries();
                    slots.extend(
                        moved(table, &done.slots, start).map(|i| (i, table[i].1, table[i].2)),
                    );
                }
                refolded += accounts.len() + slots.len();
                for (i, address, new) in accounts.drain(..) {
                    let (old, hashed) = &mut done.accounts[i];
                    refold_account(&address, *old, *hashed, new, &mut self.delta);
                    *hashed = new;
                }
                for (i, (address, slot), new) in slots.drain(..) {
                    let (old, hashed) = &mut done.slots[i];
                    refold_storage(&address, &slot, *old, *hashed, new, &mut self.delta);
                    *hashed = new;
                }
            }
        }
        refolded
    }
}

/// Positions from `start`, [`REFRESH_CHUNK`] at most, of the walked keys
/// whose value in `entries` is no longer the one `hashed` holds.
fn moved<'a, K, V: PartialEq, O>(
    entries: &'a [(KeyHash, K, V)],
    hashed: &'a [(O, V)],
    start: usize,
) -> impl Iterator<Item = usize> + 'a {
    let end = hashed.len().min(start + REFRESH_CHUNK);
    (start.min(end)..end).filter(move |&i| entries[i].2 != hashed[i].1)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::chain::{Chain, Genesis};
    use crate::key::StateKey;
    use crate::seal::diff;
    use crate::view::Writes;
    use lanes_accounts_db::AccountsDbConfig;

    /// Keys 0..6 are accounts, 6..12 slots of one contract; even ones hold
    /// 7 in the parent state (a balance, a slot value), odd ones nothing.
    fn write(state: &BankState, key: usize, choice: usize) {
        let value = [0u64, 7, 9, 11][choice];
        let mut writes = Writes::default();
        if key < 6 {
            let address = Address::with_last_byte(key as u8);
            let header = AccountHeader {
                balance: U256::from(value),
                nonce: u64::from(choice == 3),
                ..AccountHeader::default()
            };
            writes.accounts.push((StateKey::Account(address).hash64(), address, header));
        } else {
            let (address, slot) = (Address::repeat_byte(0xc0), B256::with_last_byte(key as u8));
            let hash = StateKey::Storage(address, slot).hash64();
            writes.slots.push((hash, address, slot, U256::from(value)));
        }
        state.apply(&writes);
    }

    fn genesis() -> Genesis {
        let mut alloc = Vec::new();
        for key in (0..12).step_by(2) {
            alloc.push(match key < 6 {
                true => Entry::Account(
                    Address::with_last_byte(key as u8),
                    AccountHeader { balance: U256::from(7), ..AccountHeader::default() },
                ),
                false => Entry::Storage(
                    Address::repeat_byte(0xc0),
                    B256::with_last_byte(key as u8),
                    U256::from(7),
                ),
            });
        }
        Genesis { alloc, ..Genesis::default() }
    }

    proptest! {
        /// Whatever the walk and its refresh saw before the rest of the
        /// block's writes (a key written back to its parent value, deleted,
        /// written again, new after the walk), the seal's changes and
        /// lattice terms are those of a seal without it.
        #[test]
        fn test_a_seal_ahead_equals_one_without(
            before in prop::collection::vec((0usize..12, 0usize..4), 0..30),
            between in prop::collection::vec((0usize..12, 0usize..4), 0..30),
            after in prop::collection::vec((0usize..12, 0usize..4), 0..30),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis()).unwrap();
            let bank = chain.new_bank(1, Address::ZERO);
            let state = bank.state();
            for &(key, choice) in &before {
                write(state, key, choice);
            }
            let mut ahead = Ahead::new(state);
            let go = AtomicBool::new(false);
            while ahead.pass(state, &go).unwrap() {}
            for &(key, choice) in &between {
                write(state, key, choice);
            }
            let moved = ahead.refresh(state, &go);
            prop_assert!(moved <= between.len());
            prop_assert_eq!(ahead.refresh(state, &go), 0, "a second refresh finds nothing moved");
            for &(key, choice) in &after {
                write(state, key, choice);
            }
            let (changes, delta) = diff(state, 1, Some(ahead)).unwrap();
            let (expected_changes, expected_delta) = diff(state, 1, None).unwrap();
            prop_assert_eq!(changes, expected_changes);
            prop_assert_eq!(delta, expected_delta);
        }
    }

    /// A walk finished before it started (the walker busy with another
    /// bank's) lets go of its bank's state there and then: a walker that
    /// gets no core (it runs only on an idle one) must not keep a block's
    /// write cache, or its accounts database open, while it waits.
    #[test]
    fn test_a_walk_finished_unstarted_holds_no_state() {
        let dir = tempfile::tempdir().unwrap();
        let chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis()).unwrap();
        let (first, second) = (chain.new_bank(1, Address::ZERO), chain.new_bank(2, Address::ZERO));
        // The walker takes one bank at a time, and walks it until it is
        // finished: the second waits behind the first (or behind another
        // test's) until then.
        let running = AheadJob::start(first.state.clone()).expect("the walker thread starts");
        let queued = AheadJob::start(second.state.clone()).expect("the walker thread starts");
        assert!(queued.finish().is_none(), "the second walk never started");
        assert_eq!(Arc::strong_count(&second.state), 1, "its state is let go once it is finished");
        running.finish();
        drop(first);
        drop(second);
        drop(chain);
        Chain::open(dir.path(), AccountsDbConfig::default(), None).expect("nothing holds it open");
    }

    #[test]
    fn test_the_walker_thread_hashes_a_block_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let chain = Chain::create(dir.path(), AccountsDbConfig::default(), &genesis()).unwrap();
        let bank = chain.new_bank(1, Address::ZERO);
        let job = AheadJob::start(bank.state.clone()).expect("the walker thread starts");
        for key in 0..12 {
            write(bank.state(), key, 2);
        }
        // The walker runs on a thread of its own, and another test's bank
        // may hold it: wait until it has folded every key, for a minute at
        // most.
        let start = std::time::Instant::now();
        while job.shared.walked.load(Ordering::Acquire) < 12
            && start.elapsed() < Duration::from_secs(60)
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        let ahead = job.finish().expect("the walk ran");
        assert_eq!(ahead.walked(), 12);
        let (changes, delta) = diff(bank.state(), 1, Some(ahead)).unwrap();
        assert_eq!((changes, delta), diff(bank.state(), 1, None).unwrap());
    }
}
