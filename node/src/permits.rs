//! [`Permits`]: how many expensive calls (EVM runs, log scans, traces) run at
//! once. Each runs on a thread of tokio's blocking pool, which grows to 512
//! threads; past the permits, a call waits a bounded time for one, then is
//! refused, so a flood of them cannot starve block production or the cheap
//! calls of the cores.

use parking_lot::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::error::RpcError;

/// A counting semaphore with a bounded wait.
#[derive(Debug)]
pub(crate) struct Permits {
    free: Mutex<usize>,
    freed: Condvar,
    total: usize,
    wait: Duration,
}

impl Permits {
    /// `total` permits (at least one); a call waits at most `wait` for one.
    pub(crate) fn new(total: usize, wait: Duration) -> Self {
        let total = total.max(1);
        Self { free: Mutex::new(total), freed: Condvar::new(), total, wait }
    }

    /// Runs `f` holding a permit, or answers -32005 if none frees within the wait.
    pub(crate) fn run<R>(&self, f: impl FnOnce() -> Result<R, RpcError>) -> Result<R, RpcError> {
        let deadline = Instant::now() + self.wait;
        let mut free = self.free.lock();
        while *free == 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RpcError::Limit(format!(
                    "busy: {} expensive calls (eth_call, eth_estimateGas, eth_getLogs, traces, ...) are running and none finished within {:?}; try again (--max-heavy-calls)",
                    self.total, self.wait
                )));
            }
            self.freed.wait_for(&mut free, left);
        }
        *free -= 1;
        drop(free);
        let _release = Release(self);
        f()
    }
}

/// Gives the permit back, also when the call panics.
struct Release<'a>(&'a Permits);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        *self.0.free.lock() += 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_a_call_past_the_permits_waits_then_is_refused() {
        let permits = std::sync::Arc::new(Permits::new(1, Duration::from_millis(50)));
        let (started, finish) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
        let held = {
            let (permits, started) = (permits.clone(), started.0);
            let finish = finish.1;
            std::thread::spawn(move || {
                permits.run(|| {
                    started.send(()).unwrap();
                    finish.recv().unwrap();
                    Ok(())
                })
            })
        };
        started.1.recv().unwrap();
        let refused = permits.run(|| Ok(()));
        assert!(matches!(refused, Err(RpcError::Limit(m)) if m.starts_with("busy")));
        finish.0.send(()).unwrap();
        held.join().unwrap().unwrap();
        assert!(permits.run(|| Ok(7)).is_ok_and(|n| n == 7), "the permit came back");
    }
}
