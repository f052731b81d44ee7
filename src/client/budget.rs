//! The concurrency budget of a client: at most `concurrency` requests in flight, whichever
//! thread or call makes them (workers, or the caller's own thread for a count).

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::cancel::CancelToken;
use crate::error::Result;

pub(crate) struct Budget {
    free: Mutex<usize>,
    returned: Condvar,
}

/// A slot of the budget, given back when dropped.
pub(crate) struct Slot<'a>(&'a Budget);

impl Budget {
    pub(crate) fn new(size: usize) -> Budget {
        Budget {
            free: Mutex::new(size),
            returned: Condvar::new(),
        }
    }

    /// Wait for a free slot; a cancelled caller stops waiting within 50 ms.
    pub(crate) fn acquire(&self, cancel: &CancelToken) -> Result<Slot<'_>> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            cancel.check()?;
            if *free > 0 {
                *free -= 1;
                return Ok(Slot(self));
            }
            free = self
                .returned
                .wait_timeout(free, Duration::from_millis(50))
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut free = self.0.free.lock().unwrap_or_else(|p| p.into_inner());
        *free += 1;
        self.0.returned.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn never_more_than_the_budget_at_once() {
        let budget = Budget::new(3);
        let never = CancelToken::new();
        let now = AtomicUsize::new(0);
        let max = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..10 {
                s.spawn(|| {
                    for _ in 0..20 {
                        let _slot = budget.acquire(&never).unwrap();
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(n, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_micros(200));
                        now.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(max.load(Ordering::SeqCst), 3);
    }
}
