//! Issue 8, "cancellation, panics, one budget": a call stops soon after its token is
//! cancelled (from another thread or from its own callback) and leaves finished files intact
//! and no temporary file; the CLI does the same on SIGINT and SIGTERM; a panicking callback
//! reaches the caller at once; one client's concurrency bounds every thread using it; and the
//! library runs from inside a caller's own rayon pool.
//!
//! Every test that could hang runs under a guard ([`within`], [`Guarded::wait`],
//! [`wait_exit`]); the timed assertions are upper bounds far above what a healthy run takes
//! and far below what the bug they catch would take.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use neuromorpho::{CancelToken, DownloadOptions, Error, Neuron, Progress, Query, SearchEvent};
use support::*;

/// "Promptly": a cancelled call returns within about one request's time (100 ms in these
/// tests); this bound is 20 of them.
const PROMPTLY: Duration = Duration::from_secs(2);

/// Download items of the whole catalog, searched with a client of its own.
fn items_of(server: &FakeServer) -> Vec<Neuron> {
    client(server).search(&Query::all()).unwrap()
}

/// The file hits of every catalog row.
fn hits_per_row(server: &FakeServer) -> Vec<usize> {
    (0..server.catalog().len())
        .map(|i| server.file_hits(&file_needle(server, i)))
        .collect()
}

/// Waits (at most 20 s) until `ready` holds, polling.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < Duration::from_secs(20), "{what}: never");
        thread::sleep(Duration::from_millis(5));
    }
}

/// After an interrupted download into `out`: a rerun with a client without a token fetches
/// exactly the files that are not in place, once each, and leaves the whole set.
fn rerun_fetches_only_what_is_missing(server: &FakeServer, out: &Path, items: &[Neuron]) {
    server.set_latency(Duration::ZERO);
    let present = rows_in_place(out, server);
    let before = hits_per_row(server);
    let report = client(server)
        .download(items, &DownloadOptions::new(out), |_| {})
        .unwrap();
    assert_eq!(report.failed, vec![]);
    assert_eq!(report.skipped as usize, present.len());
    assert_eq!(report.downloaded as usize, items.len() - present.len());
    let after = hits_per_row(server);
    for i in 0..items.len() {
        let was_present = present.contains(&i);
        assert_eq!(
            after[i] - before[i],
            usize::from(!was_present),
            "row {i}: finished files are not fetched again, missing ones once"
        );
    }
    assert_eq!(rows_in_place(out, server).len(), items.len());
    assert_eq!(part_files(out), Vec::<PathBuf>::new());
}

// ------------------------------------------------------------------------------------------
// Cancelling from another thread, and from the progress callback

#[test]
fn a_search_cancelled_from_another_thread_returns_cancelled_promptly() {
    // 30 pages of 500, 100 ms per request, 2 at a time: about 1.5 s of paging.
    let server = FakeServer::start(Catalog::generate(15_000));
    server.set_latency(Duration::from_millis(100));
    let token = CancelToken::new();
    let c = client_builder(&server)
        .concurrency(2)
        .build()
        .unwrap()
        .with_cancel(&token);
    let pages_seen = Arc::new(AtomicUsize::new(0));
    let seen = pages_seen.clone();
    let run = spawn_guarded("a cancelled search", move || {
        let r = c.search_each(&Query::all(), |e| {
            if let SearchEvent::Page { .. } = e {
                seen.fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        });
        (r, Instant::now())
    });
    wait_until("3 pages", || pages_seen.load(Ordering::SeqCst) >= 3);
    assert!(
        server.counters().pages < 30,
        "the search is still paging when it is cancelled"
    );
    let cancelled_at = Instant::now();
    token.cancel();
    let (result, returned_at) = run.wait(Duration::from_secs(30)).unwrap();
    let took = returned_at.saturating_duration_since(cancelled_at);
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert!(took < PROMPTLY, "returned {took:?} after the cancel");
    let pages = server.counters().pages;
    assert!(pages < 30, "paging stopped: {pages} of 30 pages asked");
}

#[test]
fn a_download_cancelled_from_another_thread_keeps_finished_files_and_a_rerun_completes() {
    const N: usize = 60;
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    let items = items_of(&server);
    // 100 ms per file, 3 at a time: 2 s for all of them.
    server.set_latency(Duration::from_millis(100));
    let token = CancelToken::new();
    let c = client_builder(&server)
        .concurrency(3)
        .build()
        .unwrap()
        .with_cancel(&token);
    let done = Arc::new(AtomicUsize::new(0));
    let (d, dir, its) = (done.clone(), out.path().to_path_buf(), items.clone());
    let run = spawn_guarded("a cancelled download", move || {
        let r = c.download(&its, &DownloadOptions::new(&dir), |p| {
            if let Progress::File { done, .. } = p {
                d.store(*done as usize, Ordering::SeqCst);
            }
        });
        (r, Instant::now())
    });
    wait_until("6 files", || done.load(Ordering::SeqCst) >= 6);
    let cancelled_at = Instant::now();
    token.cancel();
    let (result, returned_at) = run.wait(Duration::from_secs(30)).unwrap();
    let took = returned_at.saturating_duration_since(cancelled_at);
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert!(took < PROMPTLY, "returned {took:?} after the cancel");
    assert_eq!(
        part_files(out.path()),
        Vec::<PathBuf>::new(),
        "no temporary file"
    );
    // Every file in place is whole (rows_in_place checks the bytes).
    let present = rows_in_place(out.path(), &server);
    assert!(
        present.len() >= 6 && present.len() < N,
        "{} of {N} in place",
        present.len()
    );
    assert!(
        server.counters().files < N,
        "no new file was asked after the cancel"
    );
    rerun_fetches_only_what_is_missing(&server, out.path(), &items);
}

#[test]
fn a_cancel_while_a_request_hangs_ends_within_the_read_timeout_not_after_the_retries() {
    let server = FakeServer::start(Catalog::generate(4));
    let items = items_of(&server);
    server.push_fault(FaultRule::new(
        Target::AnyFile,
        1000,
        Fault::Delay(Duration::from_secs(30)),
    ));
    let token = CancelToken::new();
    let c = client_builder(&server)
        .read_timeout(Duration::from_secs(1))
        .retries(4)
        .build()
        .unwrap()
        .with_cancel(&token);
    let out = TempDir::new();
    let dir = out.path().to_path_buf();
    let run = spawn_guarded("a download of hanging files", move || {
        let r = c.download(&items, &DownloadOptions::new(&dir), |_| {});
        (r, Instant::now())
    });
    wait_until("hanging requests", || server.counters().files >= 4);
    let cancelled_at = Instant::now();
    token.cancel();
    let (result, returned_at) = run.wait(Duration::from_secs(30)).unwrap();
    let took = returned_at.saturating_duration_since(cancelled_at);
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    // A request blocked in a read ends at its read timeout (1 s) and is not tried again.
    assert!(
        took < Duration::from_millis(2500),
        "returned {took:?} after the cancel"
    );
    assert_eq!(server.counters().files, 4, "no retry after the cancel");
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());
}

#[test]
fn a_download_cancelled_from_its_own_progress_callback_stops_there() {
    const N: usize = 60;
    const K: u64 = 5;
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    let items = items_of(&server);
    server.set_latency(Duration::from_millis(50));
    let token = CancelToken::new();
    let c = client_builder(&server)
        .concurrency(3)
        .build()
        .unwrap()
        .with_cancel(&token);
    let (dir, its, t) = (out.path().to_path_buf(), items.clone(), token.clone());
    let (result, events) = within(
        Duration::from_secs(30),
        "self-cancelled download",
        move || {
            let mut events = 0u64;
            let r = c.download(&its, &DownloadOptions::new(&dir), |p| {
                if let Progress::File { done, .. } = p {
                    events += 1;
                    if *done == K {
                        t.cancel();
                    }
                }
            });
            (r, events)
        },
    )
    .unwrap();
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert!(token.is_cancelled());
    // At most the files already in flight finish after the cancel.
    assert!(
        (K..K + 10).contains(&events),
        "{events} files reported, cancelled at {K}"
    );
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());
    let present = rows_in_place(out.path(), &server);
    assert!(present.len() >= K as usize && present.len() < N);
    assert!(server.counters().files < N);
    rerun_fetches_only_what_is_missing(&server, out.path(), &items);
}

#[test]
fn a_search_cancelled_from_its_own_callback_stops_there() {
    // 30 pages.
    let server = FakeServer::start(Catalog::generate(15_000));
    server.set_latency(Duration::from_millis(20));
    let token = CancelToken::new();
    let c = client_builder(&server)
        .concurrency(2)
        .build()
        .unwrap()
        .with_cancel(&token);
    let t = token.clone();
    let (result, pages) = within(
        Duration::from_secs(30),
        "self-cancelled search",
        move || {
            let mut pages = 0u64;
            let r = c.search_each(&Query::all(), |e| {
                if let SearchEvent::Page { number, .. } = e {
                    pages += 1;
                    if number == 3 {
                        t.cancel();
                    }
                }
                Ok(())
            });
            (r, pages)
        },
    )
    .unwrap();
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert!((4..10).contains(&pages), "{pages} pages handed on");
    assert!(server.counters().pages < 15, "{:?}", server.counters());
}

// ------------------------------------------------------------------------------------------
// The CLI under SIGINT and SIGTERM

/// `download --all` into `out`, 2 files at a time, with a log file.
fn cli_download(server: &FakeServer, out: &Path) -> Cli {
    cli(server).args(["download", "--all", "-o", out.to_str().unwrap(), "-c", "2"])
}

/// Starts a download of 60 files at 100 ms each, sends `signal` once 5 are in place, and
/// checks the interrupted run and its rerun.
fn interrupt_mid_download(signal: &str, code: i32, name: &str) {
    const N: usize = 60;
    let server = FakeServer::start(Catalog::generate(N));
    server.set_latency(Duration::from_millis(100));
    let out = TempDir::new();
    let mut child = cli_download(&server, out.path())
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take();
    let drained = thread::spawn(move || read_all(stderr));
    wait_until("5 files in place", || {
        if let Ok(Some(s)) = child.try_wait() {
            panic!("the run ended ({s}) before the signal");
        }
        rows_in_place(out.path(), &server).len() >= 5
    });
    let signalled = Instant::now();
    send_signal(child.id(), signal);
    let exit = wait_exit(&mut child, Duration::from_secs(30));
    let took = signalled.elapsed();
    let err = drained.join().unwrap();
    assert_eq!(exit, code, "{err}");
    assert!(
        took < Duration::from_secs(3),
        "exited {took:?} after {signal}"
    );
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new(), "{err}");
    let last = err.lines().last().unwrap_or("");
    assert!(
        last.starts_with(&format!("neuromorpho: interrupted ({name})")),
        "{err}"
    );
    assert!(
        last.contains("run the same command again") && last.contains(out.path().to_str().unwrap()),
        "{last}"
    );
    let present = rows_in_place(out.path(), &server);
    assert!(present.len() >= 5 && present.len() < N, "{}", present.len());
    // The log file says it too.
    let logs: Vec<PathBuf> = files_under(out.path())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let log = std::fs::read_to_string(&logs[0]).unwrap();
    assert!(log.contains(&format!("interrupted ({name})")), "{log}");

    // The same command again: only what was missing is fetched.
    server.set_latency(Duration::ZERO);
    let before = hits_per_row(&server);
    let o = cli_download(&server, out.path()).arg("-q").run();
    assert_eq!(o.code, 0, "{}", o.err);
    let after = hits_per_row(&server);
    for i in 0..N {
        assert_eq!(
            after[i] - before[i],
            usize::from(!present.contains(&i)),
            "row {i}"
        );
    }
    assert_eq!(rows_in_place(out.path(), &server).len(), N);
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());
}

#[test]
fn cli_ctrl_c_mid_download_exits_130_promptly_and_the_rerun_fetches_only_the_rest() {
    interrupt_mid_download("INT", 130, "Ctrl-C");
}

#[test]
fn cli_sigterm_mid_download_exits_143_promptly_and_the_rerun_fetches_only_the_rest() {
    interrupt_mid_download("TERM", 143, "SIGTERM");
}

#[test]
fn cli_ctrl_c_while_fetching_metadata_exits_130_and_leaves_no_table() {
    // 30 pages at 100 ms each, 2 at a time.
    let server = FakeServer::start(Catalog::generate(15_000));
    server.set_latency(Duration::from_millis(100));
    let out = TempDir::new();
    let mut child = cli_download(&server, out.path())
        .arg("--no-log")
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take();
    let drained = thread::spawn(move || read_all(stderr));
    wait_until("3 pages", || server.counters().pages >= 3);
    let signalled = Instant::now();
    send_signal(child.id(), "INT");
    let exit = wait_exit(&mut child, Duration::from_secs(30));
    let took = signalled.elapsed();
    let err = drained.join().unwrap();
    assert_eq!(exit, 130, "{err}");
    assert!(
        took < Duration::from_secs(3),
        "exited {took:?} after Ctrl-C"
    );
    assert!(server.counters().pages < 30);
    assert!(err.contains("interrupted (Ctrl-C)"), "{err}");
    assert!(!out.path().join("metadata.csv").exists());
    assert_eq!(server.counters().files, 0);
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());
}

/// Starts a download whose every file hangs for 30 s, and waits until two requests hang.
fn hanging_download(server: &FakeServer, out: &Path) -> std::process::Child {
    server.push_fault(FaultRule::new(
        Target::AnyFile,
        1000,
        Fault::Delay(Duration::from_secs(30)),
    ));
    let mut child = cli_download(server, out)
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("two hanging requests", || {
        if let Ok(Some(s)) = child.try_wait() {
            panic!("the run ended ({s}) before the signal");
        }
        server.counters().files >= 2
    });
    child
}

#[test]
fn cli_ctrl_c_while_requests_hang_still_exits_within_seconds() {
    let server = FakeServer::start(Catalog::generate(10));
    let out = TempDir::new();
    let mut child = hanging_download(&server, out.path());
    let signalled = Instant::now();
    send_signal(child.id(), "INT");
    let exit = wait_exit(&mut child, Duration::from_secs(30));
    let took = signalled.elapsed();
    assert_eq!(exit, 130);
    // The hanging requests are cut after a grace period, not after the server's 30 s.
    assert!(
        took < Duration::from_secs(3),
        "exited {took:?} after Ctrl-C"
    );
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());
}

#[test]
fn cli_a_second_ctrl_c_exits_at_once() {
    let server = FakeServer::start(Catalog::generate(10));
    let out = TempDir::new();
    let mut child = hanging_download(&server, out.path());
    send_signal(child.id(), "INT");
    thread::sleep(Duration::from_millis(100));
    let second = Instant::now();
    send_signal(child.id(), "INT");
    let exit = wait_exit(&mut child, Duration::from_secs(30));
    let took = second.elapsed();
    assert_eq!(exit, 130);
    // The first Ctrl-C gives hanging requests a grace of 1.5 s; the second does not wait.
    assert!(
        took < Duration::from_millis(1000),
        "exited {took:?} after the second Ctrl-C"
    );
    // Whatever an immediate exit left, the next run cleans up and finishes.
    server.clear_faults();
    let o = cli_download(&server, out.path()).arg("-q").run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(rows_in_place(out.path(), &server).len(), 10);
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());
}

// ------------------------------------------------------------------------------------------
// Panicking callbacks

#[test]
fn a_panicking_search_callback_reaches_the_caller_whatever_the_concurrency() {
    // 40 pages.
    let server = Arc::new(FakeServer::start(Catalog::generate(20_000)));
    for concurrency in [1, 8, 20] {
        server.reset_counters();
        let c = client_builder(&server)
            .concurrency(concurrency)
            .build()
            .unwrap();
        let caught = within(
            Duration::from_secs(20),
            &format!("a panicking search at concurrency {concurrency}"),
            move || {
                c.search_each(&Query::all(), |e| {
                    if let SearchEvent::Page { number: 2, .. } = e {
                        panic!("callback panic at page 2");
                    }
                    Ok(())
                })
            },
        );
        let payload = caught.expect_err("the panic reaches the caller");
        assert_eq!(panic_text(payload.as_ref()), "callback panic at page 2");
        let pages = server.counters().pages;
        if concurrency <= 8 {
            // The workers stop with the caller; the window ahead is 2 x concurrency pages.
            assert!(pages < 40, "concurrency {concurrency}: {pages} pages asked");
        }
    }
}

#[test]
fn a_panicking_download_callback_reaches_the_caller_before_the_other_files() {
    const N: usize = 400;
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    let items = items_of(&server);
    // All of them would take 400 x 50 ms / 4 = 5 s.
    server.set_latency(Duration::from_millis(50));
    server.reset_counters();
    let c = client_builder(&server).concurrency(4).build().unwrap();
    let dir = out.path().to_path_buf();
    let started = Instant::now();
    let caught = within(Duration::from_secs(20), "a panicking download", move || {
        c.download(&items, &DownloadOptions::new(&dir), |p| {
            if let Progress::File { done: 3, .. } = p {
                panic!("progress panic");
            }
        })
    });
    let payload = caught.expect_err("the panic reaches the caller");
    assert_eq!(panic_text(payload.as_ref()), "progress panic");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let files = server.counters().files;
    assert!(
        files < N / 4,
        "{files} of {N} files asked: the workers stopped"
    );
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());
    rows_in_place(out.path(), &server);
}

// ------------------------------------------------------------------------------------------
// One budget per client, and a caller's own rayon pool

#[test]
fn two_threads_sharing_a_client_share_its_concurrency() {
    let server = FakeServer::start(Catalog::generate(3000));
    server.set_latency(Duration::from_millis(30));
    let c = client_builder(&server).concurrency(4).build().unwrap();
    let (out_a, out_b) = (TempDir::new(), TempDir::new());
    thread::scope(|s| {
        for (out, range) in [(out_a.path(), 0..40), (out_b.path(), 100..140)] {
            let c = c.clone();
            s.spawn(move || {
                let all = c.search(&Query::all()).unwrap();
                assert_eq!(all.len(), 3000);
                let items: Vec<Neuron> = all[range].to_vec();
                let report = c
                    .download(&items, &DownloadOptions::new(out), |_| {})
                    .unwrap();
                assert_eq!(report.downloaded, 40);
            });
        }
    });
    let most = server.transfer_counters().in_flight_max;
    assert!(most <= 4, "{most} requests at once with concurrency 4");
    assert!(most >= 2, "{most}: the budget was used in parallel");
    assert_eq!(server.counters().files, 80);
}

#[test]
fn the_library_runs_inside_a_callers_rayon_pool() {
    let server = Arc::new(FakeServer::start(Catalog::generate(3000)));
    server.set_latency(Duration::from_millis(5));
    let c = client_builder(&server).concurrency(2).build().unwrap();
    let expected_all: Vec<u64> = (0..3000).map(|i| server.catalog().id(i).unwrap()).collect();
    let mice = Query::new().filter("species", ["mouse"]);
    let expected_mice: Vec<u64> = server
        .catalog()
        .query("species:mouse", &[])
        .unwrap()
        .into_iter()
        .map(|i| server.catalog().id(i).unwrap())
        .collect();
    assert!(!expected_mice.is_empty());
    let out = TempDir::new();
    let dir = out.path().to_path_buf();
    let (all, mice, reports) = within(Duration::from_secs(60), "rayon pool", move || {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let ids = |v: Vec<neuromorpho::Neuron>| -> Vec<u64> {
            v.iter().map(|n| n.neuron_id().unwrap()).collect()
        };
        // Two jobs of the caller's pool, each calling the library.
        let (all, mice) = pool.install(|| {
            rayon::join(
                || ids(c.search(&Query::all()).unwrap()),
                || ids(c.search(&mice).unwrap()),
            )
        });
        let items: Vec<Neuron> = c.first(&Query::all(), 30).unwrap();
        let (a, b) = (dir.join("a"), dir.join("b"));
        let reports = pool.install(|| {
            rayon::join(
                || {
                    c.download(&items, &DownloadOptions::new(&a), |_| {})
                        .unwrap()
                },
                || {
                    c.download(&items, &DownloadOptions::new(&b), |_| {})
                        .unwrap()
                },
            )
        });
        (all, mice, reports)
    })
    .unwrap();
    assert_eq!(all, expected_all);
    assert_eq!(mice, expected_mice);
    assert_eq!((reports.0.downloaded, reports.1.downloaded), (30, 30));
    assert_eq!(rows_in_place(&out.path().join("a"), &server).len(), 30);
    assert_eq!(rows_in_place(&out.path().join("b"), &server).len(), 30);
}

// ------------------------------------------------------------------------------------------
// Calls nested in a callback share the client's workers without a deadlock

#[test]
fn a_download_from_inside_a_search_callback_does_not_deadlock() {
    // 12 pages fetched on 2 workers while the callback downloads 3 files of each page on
    // the same client.
    let server = Arc::new(FakeServer::start(Catalog::generate(6000)));
    let c = client_builder(&server).concurrency(2).build().unwrap();
    let out = TempDir::new();
    let dir = out.path().to_path_buf();
    let downloaded = within(Duration::from_secs(30), "a nested download", move || {
        let mut downloaded = 0;
        c.search_each(&Query::all(), |e| {
            if let SearchEvent::Page { neurons, .. } = e {
                let items: Vec<Neuron> = neurons.iter().take(3).cloned().collect();
                downloaded += c
                    .download(&items, &DownloadOptions::new(&dir), |_| {})?
                    .downloaded;
            }
            Ok(())
        })
        .map(|_| downloaded)
    })
    .unwrap()
    .unwrap();
    assert_eq!(downloaded, 36);
    assert_eq!(rows_in_place(out.path(), &server).len(), 36);
}

#[test]
fn a_download_from_inside_a_progress_callback_does_not_deadlock() {
    let server = Arc::new(FakeServer::start(Catalog::generate(40)));
    let items = items_of(&server);
    let c = client_builder(&server).concurrency(2).build().unwrap();
    let out = TempDir::new();
    let (a, b) = (out.path().join("a"), out.path().join("b"));
    let report = within(Duration::from_secs(30), "a nested download", move || {
        let mut nested = 0;
        let outer = c.download(&items[..20], &DownloadOptions::new(&a), |p| {
            if let Progress::File { done: 1, .. } = p {
                let r = c.download(&items[20..], &DownloadOptions::new(&b), |_| {});
                nested = r.map(|r| r.downloaded).unwrap_or(0);
            }
        });
        (outer.map(|r| r.downloaded).ok(), nested)
    })
    .unwrap();
    assert_eq!(report, (Some(20), 20));
}

#[test]
fn cli_morphometry_one_by_one_during_a_search_of_several_pages_does_not_deadlock() {
    // The server refuses batched morphometry: the fallback fetches per neuron on the
    // workers, from inside the search's page callback, while pages are still coming.
    // 4 pages on 1 worker: pages 1 and 2 fill the window while page 0 is handed on.
    let server = FakeServer::start(Catalog::generate(2000));
    server.set_refuse_morphometry_batch(true);
    let out = TempDir::new();
    let o = cli(&server)
        .args([
            "metadata",
            "--all",
            "--morphometry",
            "-o",
            out.path().to_str().unwrap(),
        ])
        .args(["-c", "1", "--no-log", "-q"])
        .time_limit(Duration::from_secs(20))
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let table = std::fs::read_to_string(out.path().join("metadata.csv")).unwrap();
    assert_eq!(table.lines().count(), 2001);
    assert!(table.lines().next().unwrap().contains("morph_length"));
}
