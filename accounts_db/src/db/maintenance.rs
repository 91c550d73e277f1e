//! The database's own threads. One makes the next segment before the
//! writer needs it ([`crate::db::Spare`]). The other writes index checkpoints
//! ([`crate::AccountsDbConfig::checkpoint_bytes`]) and compacts
//! ([`crate::AccountsDbConfig::compact_in_background`]) while commits and
//! reads go on. A commit wakes it when a checkpoint is due; it also looks
//! for segments to compact every [`LOOK_EVERY`]. It runs
//! [`MAINTENANCE_NICER`] nice steps below the thread that opened the
//! database, so that when every core is busy its work waits for commits and
//! reads rather than they for it. Dropping the
//! [`crate::AccountsDb`] stops it (a checkpoint or compaction in progress
//! stops at its next step) and joins it.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use std::path::Path;

use crate::config::{AccountsDbConfig, MAINTENANCE_NICER};
use crate::db::{AccountsDb, Inner};
use crate::error::OpenError;

impl AccountsDb {
    /// Opens (or creates) the database in `dir`, recovering the last complete
    /// commit, and starts its thread (checkpoints, compaction). Holds an
    /// exclusive lock on the directory until dropped.
    pub fn open(dir: impl AsRef<Path>, config: AccountsDbConfig) -> Result<Self, OpenError> {
        let (inner, woken) = Self::open_inner(dir.as_ref(), config)?;
        let thread = start(&inner, woken.maintenance);
        if thread.is_none() {
            inner.count_uncounted();
        }
        let threads = thread.into_iter().chain(start_spare(&inner, woken.spare)).collect();
        Ok(Self::from_parts(inner, threads))
    }
}

/// How often the thread looks for work when no commit wakes it.
pub(crate) const LOOK_EVERY: Duration = Duration::from_secs(1);

/// Starts the thread, when the configuration gives it anything to do.
fn start(inner: &Arc<Inner>, woken: Receiver<()>) -> Option<JoinHandle<()>> {
    let config = &inner.config;
    if config.checkpoint_bytes.is_none()
        && config.index_memory_bytes.is_none()
        && !config.compact_in_background
    {
        return None;
    }
    let weak = Arc::downgrade(inner);
    let spawned = std::thread::Builder::new()
        .name("lanes-accounts-db".into())
        .spawn(move || run(&weak, &woken));
    match spawned {
        Ok(thread) => Some(thread),
        Err(e) => {
            tracing::warn!(target: "lanes::accounts_db", %e, "no maintenance thread: no checkpoints or compaction in the background");
            None
        }
    }
}

/// Starts the thread that makes the next segment ahead of the writer
/// ([`crate::db::Spare`]); without it the writer makes its own.
fn start_spare(inner: &Arc<Inner>, wanted: Receiver<()>) -> Option<JoinHandle<()>> {
    let weak = Arc::downgrade(inner);
    let spawned =
        std::thread::Builder::new().name("lanes-accounts-db-next".into()).spawn(move || {
            while wanted.recv().is_ok() {
                let Some(inner) = weak.upgrade() else { return };
                if inner.stop.load(Ordering::Acquire) {
                    return;
                }
                inner.make_spare();
            }
        });
    spawned
        .inspect_err(|e| tracing::warn!(target: "lanes::accounts_db", %e, "no spare-segment thread: commits make their own segments"))
        .ok()
}

/// Lowers the calling thread's CPU priority by [`MAINTENANCE_NICER`] (where
/// the platform refuses, the thread runs as it is).
fn lower_priority() {
    use rustix::process::{getpriority_process, setpriority_process};
    let lowered = getpriority_process(None)
        .and_then(|nice| setpriority_process(None, (nice + MAINTENANCE_NICER).min(19)));
    if let Err(e) = lowered {
        tracing::debug!(target: "lanes::accounts_db", %e, "maintenance thread runs at its opener's priority");
    }
}

fn run(weak: &Weak<Inner>, woken: &Receiver<()>) {
    lower_priority();
    loop {
        // What `open` left to count, until a checkpoint is due (it saves
        // what is left to count) or the database closes.
        match weak.upgrade() {
            Some(inner) => inner.count_uncounted_while(|| {
                !inner.stop.load(Ordering::Acquire) && !inner.checkpoint_due()
            }),
            None => return,
        }
        if let Err(RecvTimeoutError::Disconnected) = woken.recv_timeout(LOOK_EVERY) {
            return;
        }
        let Some(inner) = weak.upgrade() else { return };
        if inner.stop.load(Ordering::Acquire) {
            return;
        }
        // One begun and not finished (a failure) is tried again.
        let unfinished = inner.checkpointing.lock().is_some();
        if (inner.checkpoint_due() || unfinished)
            && let Err(e) = inner.write_checkpoint(&inner.stop)
        {
            tracing::warn!(target: "lanes::accounts_db", %e, "index checkpoint failed");
        }
        // Not before the count: compaction would wait for all of it.
        if inner.config.compact_in_background
            && inner.check_poisoned().is_ok()
            && inner.uncounted.lock().is_empty()
            && let Err(e) = inner.compact(&inner.stop)
        {
            tracing::warn!(target: "lanes::accounts_db", %e, "background compaction failed");
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::time::Instant;

    use super::*;

    /// The nice values of this process's threads named as the database's
    /// (the kernel keeps 15 bytes of a thread's name).
    fn database_thread_nices() -> Vec<i32> {
        let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
        tasks
            .flatten()
            .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
            .filter(|stat| stat.contains("(lanes-accounts-)"))
            // After the name: state, then the fields from the fourth on; nice is the 19th.
            .filter_map(|stat| stat.rsplit(')').next()?.split_whitespace().nth(16)?.parse().ok())
            .collect()
    }

    #[test]
    fn test_the_maintenance_thread_runs_below_its_opener() {
        let dir = tempfile::tempdir().unwrap();
        let mine = rustix::process::getpriority_process(None).unwrap();
        let want = (mine + MAINTENANCE_NICER).min(19);
        let db = AccountsDb::open(dir.path(), AccountsDbConfig::default()).unwrap();
        // A new thread takes its name once it first runs: both are waited
        // for (on a loaded machine the spare-segment thread can run last).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let nices = database_thread_nices();
            if nices.contains(&want) && nices.contains(&mine) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the maintenance thread at nice {want}, the spare-segment thread at its opener's {mine}: {nices:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(db);
    }
}
