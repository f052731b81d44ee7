//! Politeness shared by every thread of a client: a rate limiter for API requests, and a
//! pause for everyone after the server says it is overloaded (429/503).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cancel::CancelToken;
use crate::error::Result;

use super::request::Purpose;

/// The slowest the API rate may get after throttling answers: 1/16 of the configured one.
const MAX_SLOW_FACTOR: u32 = 16;
/// Successes in a row that halve the slow-down again.
const RECOVERY: u32 = 20;

pub(crate) struct Politeness {
    interval: Duration,
    state: Mutex<State>,
}

struct State {
    next_api: Instant,
    pause_until: Instant,
    /// Multiplies the API interval after throttling answers; decays on success.
    slow_factor: u32,
    successes: u32,
}

impl Politeness {
    pub(crate) fn new(interval: Duration) -> Politeness {
        let now = Instant::now();
        Politeness {
            interval,
            state: Mutex::new(State {
                next_api: now,
                pause_until: now,
                slow_factor: 1,
                successes: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait for our turn: reserve the next API slot (so threads queue fairly), then sleep
    /// (cancellable).
    pub(crate) fn before(&self, purpose: Purpose, cancel: &CancelToken) -> Result<()> {
        let wait = {
            let mut s = self.lock();
            let now = Instant::now();
            let mut at = s.pause_until.max(now);
            if purpose == Purpose::Api && !self.interval.is_zero() {
                at = at.max(s.next_api);
                let step = self.interval.saturating_mul(s.slow_factor);
                s.next_api = at.checked_add(step).unwrap_or(at);
            }
            at.saturating_duration_since(now)
        };
        if wait.is_zero() {
            cancel.check()
        } else {
            cancel.sleep(wait)
        }
    }

    /// The server said it is overloaded: pause everyone for `pause`, slow the API down.
    pub(crate) fn throttled(&self, pause: Duration) {
        let mut s = self.lock();
        let now = Instant::now();
        let until = now.checked_add(pause).unwrap_or(now);
        s.pause_until = s.pause_until.max(until);
        s.slow_factor = (s.slow_factor * 2).min(MAX_SLOW_FACTOR);
        s.successes = 0;
        log::info!(
            "server asked to slow down: pausing {:.1}s, API rate now 1/{} of normal",
            pause.as_secs_f64(),
            s.slow_factor
        );
    }

    pub(crate) fn succeeded(&self) {
        let mut s = self.lock();
        if s.slow_factor > 1 {
            s.successes += 1;
            if s.successes >= RECOVERY {
                s.slow_factor /= 2;
                s.successes = 0;
            }
        }
    }

    #[cfg(test)]
    fn slow_factor(&self) -> u32 {
        self.lock().slow_factor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_pauses_everyone_and_slows_the_api() {
        let p = Politeness::new(Duration::from_millis(10));
        let never = CancelToken::new();
        p.throttled(Duration::from_millis(60));
        // A file download, not rate-limited, still waits for the pause.
        let t = Instant::now();
        p.before(Purpose::File, &never).unwrap();
        assert!(
            t.elapsed() >= Duration::from_millis(55),
            "{:?}",
            t.elapsed()
        );
        // API requests are now twice as far apart as configured.
        p.before(Purpose::Api, &never).unwrap();
        let t = Instant::now();
        p.before(Purpose::Api, &never).unwrap();
        assert!(
            t.elapsed() >= Duration::from_millis(18),
            "{:?}",
            t.elapsed()
        );
        // Successes bring the normal rate back.
        for _ in 0..RECOVERY {
            p.succeeded();
        }
        assert_eq!(p.slow_factor(), 1);
    }

    #[test]
    fn an_absurd_pause_neither_panics_nor_blocks_a_cancelled_caller() {
        let p = Politeness::new(Duration::MAX);
        p.throttled(Duration::MAX);
        let token = CancelToken::new();
        token.cancel();
        assert!(p.before(Purpose::Api, &token).is_err());
    }
}
