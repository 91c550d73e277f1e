//! [`parallel_map`]: a bank's parallel work (an entry's transactions, the
//! seal's diff), and any embedder's, on threads started for the call, the
//! caller's among them. Hand-written, not a rayon pool: the pool was slower
//! on the two-thread entry path by more than the 5% bar (README figures,
//! issue 31).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

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
/// The threads are scoped to the call, so `f` may borrow from the caller:
/// the caller's thread works too, and at most `threads - 1` others start
/// (never more than there are items after the first). With `threads <= 1`
/// or `n <= 1` everything runs on the caller's thread. A panic in `f`
/// reaches the caller once the other threads have finished.
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
    let threads = threads.clamp(1, n.max(1));
    if threads == 1 {
        let mut state = init();
        return (0..n).map(|i| f(&mut state, i)).collect();
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
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(work);
        }
        work();
    });
    results.into_iter().map(|r| r.into_inner().expect("every item ran")).collect()
}
