//! The threads a bank's parallel work runs on: rayon pools, one per size
//! asked for, built on first use and kept, so a call borrows threads instead
//! of starting them. A pool of the size asked (not one global pool) keeps a
//! call on `threads` threads, so on a small machine it does not spin beside
//! the banking stage's workers.

use parking_lot::Mutex;
use rayon::ThreadPool;
use rayon::prelude::*;

/// Most threads one pool has; a larger request gets this many.
pub(crate) const MAX_POOL_THREADS: usize = 64;

/// The pool of `threads` threads (1 to [`MAX_POOL_THREADS`]), built on first
/// use. At most one pool per size is ever built, so they are kept for the
/// process's life.
pub(crate) fn pool(threads: usize) -> &'static ThreadPool {
    static POOLS: Mutex<Vec<(usize, &'static ThreadPool)>> = Mutex::new(Vec::new());
    let threads = threads.clamp(1, MAX_POOL_THREADS);
    let mut pools = POOLS.lock();
    if let Some((_, pool)) = pools.iter().find(|(n, _)| *n == threads) {
        return pool;
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("lanes-par-{threads}-{i}"))
        .build()
        .expect("the OS starts a thread pool's threads");
    let pool: &'static ThreadPool = Box::leak(Box::new(pool));
    pools.push((threads, pool));
    pool
}

/// `f(state, i)` for `i` in `0..n` on up to `threads` threads, each run of
/// items with a `state` from `init`; results in order.
pub(crate) fn parallel_map<S, R: Send>(
    n: usize,
    threads: usize,
    init: impl Fn() -> S + Sync + Send,
    f: impl Fn(&mut S, usize) -> R + Sync + Send,
) -> Vec<R> {
    let threads = threads.clamp(1, n.max(1));
    if threads == 1 {
        let mut state = init();
        return (0..n).map(|i| f(&mut state, i)).collect();
    }
    // Runs of at least 16 items: a worker's state (an EVM) is built per run.
    pool(threads).install(|| (0..n).into_par_iter().with_min_len(16).map_init(init, f).collect())
}
