//! The client's worker threads: one bounded rayon pool per client, and the one way work is
//! handed to it — items fetched by the workers, results handed to the caller's thread in
//! order (or as they finish), stopped by an error, a cancellation or a panic on either side.
//!
//! How the caller's own rayon pool is kept apart: the caller's thread never enters our pool
//! (no `install`, which would make a worker of the caller's pool steal and run unrelated jobs
//! while it waits). A short-lived helper thread, which belongs to no pool, submits the
//! workers and blocks; the caller's thread only waits on a channel.
//!
//! A worker never blocks a thread of the pool waiting for the caller: results go into an
//! unbounded channel (in order, the window bounds what waits there), and a worker that finds
//! the window full leaves; the helper starts workers again once the caller has taken
//! results. So a call the caller makes from inside its callback (a download from a search's
//! page callback, morphometry per neuron while pages come) finds free threads.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Condvar, Mutex};
use std::time::Duration;

use crate::cancel::CancelToken;
use crate::error::{Error, Result};

/// How results reach the caller.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Order {
    /// In item order; workers stay at most `window` items ahead of the caller, so memory does
    /// not grow with the number of items.
    InOrder { window: u64 },
    /// As they finish.
    AsDone,
}

pub(crate) struct Workers {
    pool: rayon::ThreadPool,
    size: usize,
}

/// Set on drop (a return, an error or a panic): the workers stop taking items.
struct StopOnDrop<'a> {
    stop: &'a AtomicBool,
    advanced: &'a Condvar,
}

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.advanced.notify_all();
    }
}

/// Set only when dropped by a panic: the other workers stop too.
struct StopIfPanicking<'a> {
    stop: &'a AtomicBool,
    advanced: &'a Condvar,
}

impl Drop for StopIfPanicking<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.stop.store(true, Ordering::SeqCst);
            self.advanced.notify_all();
        }
    }
}

impl Workers {
    pub(crate) fn new(size: usize) -> std::result::Result<Workers, String> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(size)
            .thread_name(|i| format!("neuromorpho-{i}"))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Workers { pool, size })
    }

    /// Run `work(i)` for `i` in `0..count` on the pool and hand each result to `emit` on the
    /// calling thread. Stops taking items when `emit` returns an error (returned), when
    /// `cancel` is cancelled (`Err(Cancelled)` if items were left), or when either side
    /// panics (the panic continues on the calling thread once the workers have stopped).
    pub(crate) fn run<T, W, E>(
        &self,
        count: u64,
        order: Order,
        cancel: &CancelToken,
        work: W,
        mut emit: E,
    ) -> Result<()>
    where
        T: Send,
        W: Fn(u64) -> T + Sync,
        E: FnMut(u64, T) -> Result<()>,
    {
        if count == 0 {
            return Ok(());
        }
        let workers = usize::try_from(count).map_or(self.size, |c| c.min(self.size));
        let next = AtomicU64::new(0);
        let stop = AtomicBool::new(false);
        let emitted = Mutex::new(0u64);
        let advanced = Condvar::new();
        let (tx, rx) = mpsc::channel::<(u64, T)>();
        let mut delivered = 0u64;
        let result = std::thread::scope(|threads| {
            let (next, stop, emitted, advanced, work) = (&next, &stop, &emitted, &advanced, &work);
            let pool = &self.pool;
            let helper = threads.spawn(move || {
                let halted = || stop.load(Ordering::SeqCst) || cancel.is_cancelled();
                let mut batch = workers;
                loop {
                    pool.scope(|s| {
                        for _ in 0..batch {
                            let tx = tx.clone();
                            s.spawn(move |_| {
                                let _others_stop_if_i_panic = StopIfPanicking { stop, advanced };
                                worker_loop(count, order, cancel, next, stop, emitted, work, tx);
                            });
                        }
                    });
                    if halted() || next.load(Ordering::SeqCst) >= count {
                        break;
                    }
                    // The workers left a full window: start them again when it has room for
                    // a batch (half the window, or all the workers if fewer), not at every
                    // page taken — each start wakes the pool's threads, which costs CPU.
                    if let Order::InOrder { window } = order {
                        let want = (window / 2).clamp(1, workers.max(1) as u64);
                        let mut done = emitted.lock().unwrap_or_else(|p| p.into_inner());
                        let room = |done: u64| {
                            done.saturating_add(window)
                                .saturating_sub(next.load(Ordering::SeqCst))
                        };
                        while room(*done) < want.min(count - next.load(Ordering::SeqCst).min(count))
                            && !halted()
                        {
                            done = advanced
                                .wait_timeout(done, Duration::from_millis(50))
                                .map(|(g, _)| g)
                                .unwrap_or_else(|p| p.into_inner().0);
                        }
                        batch =
                            usize::try_from(room(*done)).map_or(workers, |r| r.clamp(1, workers));
                    }
                }
                drop(tx);
            });
            let guard = StopOnDrop { stop, advanced };
            let mut result = Ok(());
            let mut pending: BTreeMap<u64, T> = BTreeMap::new();
            let mut want = 0u64;
            for (k, t) in rx.iter() {
                let step = match order {
                    Order::AsDone => {
                        delivered += 1;
                        emit(k, t)
                    }
                    Order::InOrder { .. } => {
                        pending.insert(k, t);
                        let mut step = Ok(());
                        while let Some(t) = pending.remove(&want) {
                            step = emit(want, t);
                            want += 1;
                            delivered += 1;
                            *emitted.lock().unwrap_or_else(|p| p.into_inner()) = want;
                            advanced.notify_all();
                            if step.is_err() {
                                break;
                            }
                        }
                        step
                    }
                };
                if let Err(e) = step {
                    result = Err(e);
                    break;
                }
            }
            drop(guard);
            drop(rx);
            if let Err(payload) = helper.join() {
                std::panic::resume_unwind(payload);
            }
            result
        });
        result?;
        // A cancelled run says so even when every item came back: the items in flight when
        // the token was cancelled came back failed ("cancelled"), not done.
        cancel.check()?;
        if delivered < count {
            // Only a cancellation stops the workers without an error of their own.
            return Err(Error::Cancelled);
        }
        Ok(())
    }
}

/// Take items and send their results until none is left, the run stops, or (in order) the
/// next item is past the window: then return, leaving the pool thread free; the helper
/// starts the workers again when the window has room.
#[allow(clippy::too_many_arguments)]
fn worker_loop<T, W: Fn(u64) -> T>(
    count: u64,
    order: Order,
    cancel: &CancelToken,
    next: &AtomicU64,
    stop: &AtomicBool,
    emitted: &Mutex<u64>,
    work: &W,
    tx: mpsc::Sender<(u64, T)>,
) {
    let halted = || stop.load(Ordering::SeqCst) || cancel.is_cancelled();
    loop {
        if halted() {
            return;
        }
        let k = match order {
            Order::AsDone => next.fetch_add(1, Ordering::SeqCst),
            Order::InOrder { window } => {
                let done = *emitted.lock().unwrap_or_else(|p| p.into_inner());
                let k = next.load(Ordering::SeqCst);
                if k >= count || k >= done.saturating_add(window) {
                    return;
                }
                if next
                    .compare_exchange(k, k + 1, Ordering::SeqCst, Ordering::SeqCst)
                    .is_err()
                {
                    continue; // another worker took it
                }
                k
            }
        };
        if k >= count {
            return;
        }
        if tx.send((k, work(k))).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn in_order_and_each_once() {
        let w = Workers::new(4).unwrap();
        let mut got = Vec::new();
        w.run(
            100,
            Order::InOrder { window: 3 },
            &CancelToken::new(),
            |i| i * 2,
            |k, v| {
                got.push((k, v));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(got, (0..100).map(|i| (i, i * 2)).collect::<Vec<_>>());
    }

    #[test]
    fn an_error_from_the_caller_stops_the_workers() {
        let w = Workers::new(4).unwrap();
        let done = AtomicUsize::new(0);
        let err = w
            .run(
                10_000,
                Order::InOrder { window: 8 },
                &CancelToken::new(),
                |_| {
                    done.fetch_add(1, Ordering::SeqCst);
                },
                |k, _| {
                    if k == 5 {
                        Err(Error::Cancelled)
                    } else {
                        Ok(())
                    }
                },
            )
            .unwrap_err();
        assert!(matches!(err, Error::Cancelled));
        assert!(done.load(Ordering::SeqCst) < 100, "stopped early");
    }

    #[test]
    fn a_panicking_caller_reaches_its_caller_and_stops_the_workers() {
        for size in [1, 8, 20] {
            let w = Workers::new(size).unwrap();
            let done = AtomicUsize::new(0);
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                w.run(
                    100_000,
                    Order::InOrder { window: 2 },
                    &CancelToken::new(),
                    |_| {
                        done.fetch_add(1, Ordering::SeqCst);
                    },
                    |k, _| {
                        if k == 3 {
                            panic!("callback panic");
                        }
                        Ok(())
                    },
                )
            }));
            assert!(caught.is_err());
            assert!(done.load(Ordering::SeqCst) < 1000, "{size}");
        }
    }

    #[test]
    fn a_panicking_worker_reaches_the_caller() {
        let w = Workers::new(4).unwrap();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            w.run(
                1000,
                Order::AsDone,
                &CancelToken::new(),
                |i| {
                    if i == 10 {
                        panic!("worker panic");
                    }
                },
                |_, _| Ok(()),
            )
        }));
        let payload = caught.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"worker panic"));
    }

    #[test]
    fn a_run_nested_in_the_callback_finds_free_threads() {
        for size in [1, 2, 4] {
            let w = std::sync::Arc::new(Workers::new(size).unwrap());
            let (tx, rx) = mpsc::channel();
            // Not a scoped thread: a deadlock fails the test instead of hanging it.
            std::thread::spawn(move || {
                let never = CancelToken::new();
                let mut inner = 0u64;
                let outer = w.run(
                    50,
                    Order::InOrder { window: 2 },
                    &never,
                    |i| i,
                    |_, _| {
                        w.run(
                            5,
                            Order::AsDone,
                            &never,
                            |i| i,
                            |_, v| {
                                inner += v;
                                Ok(())
                            },
                        )
                    },
                );
                let _ = tx.send((outer.is_ok(), inner));
            });
            let got = rx.recv_timeout(Duration::from_secs(20));
            assert_eq!(got.ok(), Some((true, 50 * 10)), "size {size}: a deadlock");
        }
    }

    #[test]
    fn a_run_cancelled_while_its_last_items_are_in_flight_says_so() {
        let w = Workers::new(4).unwrap();
        let token = CancelToken::new();
        let err = w
            .run(
                4,
                Order::AsDone,
                &token,
                |_| {
                    token.cancel();
                    "failed: cancelled"
                },
                |_, _| Ok(()),
            )
            .unwrap_err();
        assert!(matches!(err, Error::Cancelled));
    }

    #[test]
    fn cancelled_runs_say_so() {
        let w = Workers::new(2).unwrap();
        let token = CancelToken::new();
        let err = w
            .run(
                1000,
                Order::AsDone,
                &token,
                |_| std::thread::sleep(Duration::from_millis(1)),
                |k, _| {
                    if k == 2 {
                        token.cancel();
                    }
                    Ok(())
                },
            )
            .unwrap_err();
        assert!(matches!(err, Error::Cancelled));
    }
}
