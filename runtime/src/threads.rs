//! [`parallel_map`]: a bank's parallel work (an entry's transactions, the
//! seal's diff, a replay's entries), and any embedder's, on helper threads
//! kept for the process's life (`helpers`), the caller's thread among
//! them (threads started for each call made a block of narrow entries pay
//! a thread start per entry, issue 59).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use rayon::{ThreadPool, ThreadPoolBuilder};

/// The cores this process may run on, read once: `available_parallelism`
/// reads the cgroup's files at each call, and a bank is made per `eth_call`.
pub fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `f(state, i)` for `i` in `0..n` on up to `threads` threads, each thread
/// with its own `state` from `init` (an EVM worker: built once per thread,
/// its caches warm across items); results in order. Threads take items in
/// runs as they come free, so a slow item holds back only its own thread.
///
/// `f` may borrow from the caller: the call returns once every item ran.
/// The caller's thread works too, with at most `threads - 1` helpers kept
/// between calls (never more than there are items after the
/// first). With `threads <= 1` or `n <= 1` everything runs on the caller's
/// thread. A panic in `f` reaches the caller once the other threads have
/// finished, and the helpers stay usable.
///
/// Without per-thread state, pass `|| ()` and ignore the first argument:
///
/// ```
/// let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
/// let squares = lanes_runtime::parallel_map(5, threads, || (), |_, i| i * i);
/// assert_eq!(squares, [0, 1, 4, 9, 16]);
/// ```
pub fn parallel_map<S, R: Send + Sync>(
    n: usize,
    threads: usize,
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, usize) -> R + Sync,
) -> Vec<R> {
    parallel_map_then(n, threads, init, f, drop)
}

/// [`parallel_map`], handing each thread's `state` to `finish` on that
/// thread once the thread finds no more items (a worker's held writes
/// applied there, while other threads may still run items).
pub(crate) fn parallel_map_then<S, R: Send + Sync>(
    n: usize,
    threads: usize,
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, usize) -> R + Sync,
    finish: impl Fn(S) + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, n.max(1));
    if threads == 1 {
        let mut state = init();
        let results = (0..n).map(|i| f(&mut state, i)).collect();
        finish(state);
        return results;
    }
    // Runs of up to 16 items, at least four per thread.
    let run = (n / (threads * 4)).clamp(1, 16);
    let next = AtomicUsize::new(0);
    let results: Vec<OnceLock<R>> = (0..n).map(|_| OnceLock::new()).collect();
    let work = || {
        let mut state = init();
        loop {
            let start = next.fetch_add(run, Ordering::Relaxed);
            if start >= n {
                break;
            }
            for (i, result) in results.iter().enumerate().skip(start).take(run) {
                let _ = result.set(f(&mut state, i));
            }
        }
        finish(state);
    };
    on_helpers(threads - 1, work);
    results.into_iter().map(|r| r.into_inner().expect("every item ran")).collect()
}

/// `work` on `count` helpers ([`helpers`]) and on the calling thread;
/// returns once every one has returned (a panic in one reaches the caller
/// then). `work` may borrow from the caller.
pub(crate) fn on_helpers(count: usize, work: impl Fn() + Sync) {
    match helpers(count) {
        Some(pool) => pool.in_place_scope(|s| {
            for _ in 0..count {
                s.spawn(|_| work());
            }
            work();
        }),
        None => std::thread::scope(|s| {
            for _ in 0..count {
                s.spawn(&work);
            }
            work();
        }),
    }
}

/// `count` helper threads kept for the process's life, one pool per count
/// asked for (a block on 2 threads and one on 8 do not share): starting
/// threads costs more than a small block's or a narrow entry's work. A
/// helper that finds no work sleeps (rayon's: it spins briefly first).
/// `None` where none are needed or the system refuses threads (the caller
/// then starts its own for the call).
pub(crate) fn helpers(count: usize) -> Option<Arc<ThreadPool>> {
    static POOLS: Mutex<Vec<(usize, Arc<ThreadPool>)>> = Mutex::new(Vec::new());
    if count == 0 {
        return None;
    }
    let mut pools = POOLS.lock();
    if let Some((_, pool)) = pools.iter().find(|(n, _)| *n == count) {
        return Some(pool.clone());
    }
    let pool = ThreadPoolBuilder::new()
        .num_threads(count)
        .thread_name(move |i| format!("lanes-{count}-{i}"))
        .build()
        .ok()?;
    let pool = Arc::new(pool);
    pools.push((count, pool.clone()));
    Some(pool)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_a_panic_reaches_the_caller_once_and_the_helpers_stay_usable() {
        let calls = AtomicUsize::new(0);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            parallel_map(
                64,
                2,
                || (),
                |_, i| {
                    calls.fetch_add(1, Ordering::Relaxed);
                    assert_ne!(i, 17, "item 17 fails");
                    i
                },
            )
        }));
        let message = panicked.expect_err("the panic reaches the caller");
        let text = message.downcast_ref::<String>().map(String::as_str).unwrap_or_default();
        assert!(text.contains("item 17 fails"), "the executor's own panic, not another: {text}");
        // The same helpers run the next call to the end.
        let squares = parallel_map(100, 2, || (), |_, i| i * i);
        assert_eq!(squares, (0..100).map(|i| i * i).collect::<Vec<_>>());
        assert!(helpers(1).is_some(), "the pool of one helper is still there");
    }

    #[test]
    fn test_helpers_are_kept_between_calls() {
        let names = |_: &mut (), _: usize| std::thread::current().name().map(str::to_owned);
        let first: Vec<_> = parallel_map(256, 3, || (), names);
        let second: Vec<_> = parallel_map(256, 3, || (), names);
        let helper = |v: &[Option<String>]| -> std::collections::BTreeSet<String> {
            v.iter().flatten().filter(|n| n.starts_with("lanes-2-")).cloned().collect()
        };
        let (a, b) = (helper(&first), helper(&second));
        assert!(a.iter().chain(&b).all(|n| n == "lanes-2-0" || n == "lanes-2-1"), "{a:?} {b:?}");
        assert!(Arc::ptr_eq(&helpers(2).unwrap(), &helpers(2).unwrap()), "one pool per count");
    }
}
