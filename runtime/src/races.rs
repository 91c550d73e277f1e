//! Race points (test builds): places in the ordered engine where one
//! worker's step may be overtaken by another's. Where a test turns them
//! on ([`Races::on`]), each pauses a worker now and then (a yield, or a
//! sleep of up to 40 µs), so interleavings that a quiet machine almost
//! never shows come up in a few hundred blocks. Elsewhere, and in every
//! other build, a point costs nothing.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Tests that want pauses now (pauses only slow a test running beside
/// them, never change what it finds).
static ON: AtomicUsize = AtomicUsize::new(0);

/// Seeds each thread's generator apart.
static SEED: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);

thread_local! {
    static STATE: Cell<u64> = Cell::new(SEED.fetch_add(0x2545_f491_4f6c_dd1d, Ordering::Relaxed) | 1);
}

/// Pauses the worker at a race point, now and then, while a test wants it.
pub(crate) fn point() {
    if ON.load(Ordering::Relaxed) == 0 {
        return;
    }
    let r = STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    });
    match r % 8 {
        0 => std::thread::sleep(Duration::from_micros(r % 40)),
        1 | 2 => std::thread::yield_now(),
        _ => {}
    }
}

/// Race points pause while one is held.
pub(crate) struct Races(());

impl Races {
    pub(crate) fn on() -> Self {
        ON.fetch_add(1, Ordering::Relaxed);
        Self(())
    }
}

impl Drop for Races {
    fn drop(&mut self) {
        ON.fetch_sub(1, Ordering::Relaxed);
    }
}
