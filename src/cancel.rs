//! Stopping a long job: a token shared by the caller and the work, checked before every
//! request, between reads of a body and in every wait.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// A cancellation token: cheap to clone, every clone sees [`CancelToken::cancel`].
///
/// Give it to a client with [`Client::with_cancel`](crate::Client::with_cancel); every call
/// on that client then stops soon after the token is cancelled — no new request starts,
/// transfers under way are abandoned at their next read, waits (rate limit, retry back-off)
/// end at once — and returns [`Error::Cancelled`]. Temporary files are removed; finished
/// files stay.
///
/// ```
/// use neuromorpho::CancelToken;
/// let token = CancelToken::new();
/// let other = token.clone();
/// std::thread::spawn(move || other.cancel()).join().unwrap();
/// assert!(token.is_cancelled());
/// ```
#[derive(Clone, Default)]
pub struct CancelToken {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    lock: Mutex<()>,
    woken: Condvar,
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Ask every call that watches this token to stop. Safe from any thread, and from a
    /// callback of the call itself; calling it again changes nothing.
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::SeqCst);
        // Taking the lock orders this wake-up after any waiter's check of the flag.
        let _guard = self.inner.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.inner.woken.notify_all();
    }

    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// `Err(Cancelled)` once cancelled.
    pub(crate) fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Sleep for `d`, or less if the token is cancelled meanwhile (then `Err(Cancelled)`).
    pub(crate) fn sleep(&self, d: Duration) -> Result<()> {
        // A wait beyond the clock's range is a wait of a day (and ends when cancelled).
        let now = Instant::now();
        let deadline = now
            .checked_add(d)
            .or_else(|| now.checked_add(Duration::from_secs(86_400)))
            .unwrap_or(now);
        let mut guard = self.inner.lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if self.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(());
            }
            guard = self
                .inner
                .woken
                .wait_timeout(guard, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancel_ends_a_sleep_at_once() {
        let token = CancelToken::new();
        assert!(token.sleep(Duration::from_millis(5)).is_ok());
        let other = token.clone();
        let t = Instant::now();
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            other.cancel();
        });
        assert!(matches!(
            token.sleep(Duration::from_secs(30)),
            Err(Error::Cancelled)
        ));
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        waker.join().unwrap();
        assert!(token.check().is_err());
    }
}
