//! A bell outside the stage can park on: rung each time transactions become
//! ready in the pool, so a consensus proposer waiting for a transaction wakes
//! on its arrival instead of polling.

use std::time::Instant;

use parking_lot::{Condvar, Mutex};

/// Counts the times work arrived; waiters park until the count moves past
/// what they saw.
#[derive(Debug, Default)]
pub struct WorkSignal {
    rung: Mutex<u64>,
    moved: Condvar,
}

impl WorkSignal {
    /// How often it has rung so far. Read this before checking for work,
    /// then [`Self::wait_past`] it: an arrival in between is not missed.
    pub fn rings(&self) -> u64 {
        *self.rung.lock()
    }

    /// Parks until the signal rings past `seen` or `deadline` passes;
    /// whether it rang.
    pub fn wait_past(&self, seen: u64, deadline: Instant) -> bool {
        let mut rung = self.rung.lock();
        while *rung == seen {
            if self.moved.wait_until(&mut rung, deadline).timed_out() {
                return *rung != seen;
            }
        }
        true
    }

    pub(crate) fn ring(&self) {
        *self.rung.lock() += 1;
        self.moved.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn test_a_ring_after_the_count_was_read_wakes_the_waiter() {
        let signal = Arc::new(WorkSignal::default());
        let seen = signal.rings();
        signal.ring();
        // Rung before the wait began: it returns at once.
        assert!(signal.wait_past(seen, Instant::now() + Duration::from_secs(60)));
        let seen = signal.rings();
        let ringer = {
            let signal = signal.clone();
            std::thread::spawn(move || signal.ring())
        };
        assert!(signal.wait_past(seen, Instant::now() + Duration::from_secs(60)));
        ringer.join().unwrap();
        let seen = signal.rings();
        assert!(!signal.wait_past(seen, Instant::now() + Duration::from_millis(5)));
    }
}
