//! Issue 9, "hostile servers and hostile surroundings", part 1: hangs (a trickling body, a
//! lying count), panics (a closed or full stderr, a closed or full stdout, a garbage
//! `Retry-After`, absurd numbers on the command line) and lies (a `206`, a body cut without a
//! length, exit 3 and `-q`, a run where every file failed, `CITATIONS.md`, the advice).
//!
//! The text a terminal shows, credentials and bad records are in `hostile_text.rs`; the file
//! system (symlinks, FIFOs, write errors) in `hostile_fs.rs`.
//!
//! Each test asserts the exit code (or the `Err`), what is on disk and the message; the timed
//! ones allow a few seconds for what the bug they catch would make take minutes or forever.

use crate::support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use neuromorpho::{DownloadOptions, Error, FailureKind, Neuron, Query};
use support::*;

// ------------------------------------------------------------------------------------------
// Helpers

/// A fault on row `i`'s CNG file only.
fn file_fault(server: &FakeServer, i: usize, times: usize, fault: Fault) {
    server.push_fault(FaultRule::new(
        Target::Path(file_needle(server, i)),
        times,
        fault,
    ));
}

fn items(server: &FakeServer) -> Vec<Neuron> {
    client(server).search(&Query::all()).unwrap()
}

/// `download --all -o OUT --no-log` plus `extra`.
fn download(server: &FakeServer, out: &Path, extra: &[&str]) -> Cli {
    cli(server)
        .args(["download", "--all", "-o", out.to_str().unwrap(), "--no-log"])
        .args(extra)
}

fn no_part_files(dir: &Path) {
    assert_eq!(
        part_files(dir),
        Vec::<PathBuf>::new(),
        "temporary files left"
    );
}

/// Lines of `text` that start with `neuromorpho: error:`.
fn error_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("neuromorpho: error:"))
        .collect()
}

// ------------------------------------------------------------------------------------------
// Hangs: every wait is bounded

#[test]
fn a_trickling_file_is_abandoned_by_the_speed_floor_then_retried() {
    let server = FakeServer::start(Catalog::generate(3));
    let items = items(&server);
    let trickle = Fault::Trickle {
        interval: Duration::from_millis(50),
    };
    // Once: abandoned after the 300 ms window, the retry gets the file.
    file_fault(&server, 1, 1, trickle.clone());
    let c = client_builder(&server)
        .speed_limit(1000, Duration::from_millis(300))
        .build()
        .unwrap();
    let out = TempDir::new();
    let started = Instant::now();
    let report = c
        .download(&items, &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.failed, vec![]);
    assert_eq!(rows_in_place(out.path(), &server), [0, 1, 2]);
    assert_eq!(server.file_hits(&file_needle(&server, 1)), 2);
    no_part_files(out.path());

    // Every time: a timeout after the attempts allowed, nothing kept.
    file_fault(&server, 2, 100, trickle);
    let c = client_builder(&server)
        .speed_limit(1000, Duration::from_millis(300))
        .retries(2)
        .build()
        .unwrap();
    let out = TempDir::new();
    let started = Instant::now();
    let report = c
        .download(&items[2..], &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.failed.len(), 1);
    let f = &report.failed[0];
    assert_eq!(f.reason, FailureKind::Timeout);
    assert!(
        f.detail.contains("too slow") && f.detail.contains("--speed-limit"),
        "{}",
        f.detail
    );
    assert!(!cng_file(out.path(), &server, 2).exists());
    no_part_files(out.path());
}

#[test]
fn a_trickling_page_fails_the_search_within_seconds() {
    let server = FakeServer::start(Catalog::generate(3));
    server.push_fault(FaultRule::new(
        Target::Page(0),
        100,
        Fault::Trickle {
            interval: Duration::from_millis(50),
        },
    ));
    let c = client_builder(&server)
        .speed_limit(1000, Duration::from_millis(300))
        .retries(2)
        .build()
        .unwrap();
    let started = Instant::now();
    let err = c.search(&Query::all()).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.kind(), Some(FailureKind::Timeout), "{err}");
    assert!(err.to_string().contains("too slow"), "{err}");
    assert_eq!(server.counters().pages, 2);
}

#[test]
fn cli_a_body_trickling_a_byte_every_2_s_is_abandoned_despite_timeout_5() {
    let server = FakeServer::start(Catalog::generate(3));
    file_fault(
        &server,
        1,
        100,
        Fault::Trickle {
            interval: Duration::from_secs(2),
        },
    );
    let out = TempDir::new();
    let started = Instant::now();
    let o = download(
        &server,
        out.path(),
        &[
            "--timeout",
            "5",
            "--speed-limit",
            "1000",
            "--speed-time",
            "0.3",
            "--retries",
            "1",
        ],
    )
    .run();
    let took = started.elapsed();
    assert_eq!(o.code, 3, "{}", o.err);
    // One read of 2 s is enough to see 0.5 bytes/s; --timeout 5 alone would never fire.
    assert!(took < Duration::from_secs(5), "{took:?}");
    let rows = failed_csv_rows(&out.path().join("failed.csv"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0], server.catalog().name(1));
    assert_eq!(rows[0][2], "timeout");
    assert_eq!(rows_in_place(out.path(), &server), [0, 2]);
    no_part_files(out.path());
}

#[test]
fn cli_max_time_bounds_a_transfer_even_without_a_speed_floor() {
    let server = FakeServer::start(Catalog::generate(2));
    // A byte every 100 ms: the file would take minutes.
    file_fault(
        &server,
        1,
        100,
        Fault::Trickle {
            interval: Duration::from_millis(100),
        },
    );
    let out = TempDir::new();
    let started = Instant::now();
    let o = download(
        &server,
        out.path(),
        &["--speed-limit", "0", "--max-time", "0.5", "--retries", "2"],
    )
    .run();
    let took = started.elapsed();
    assert_eq!(o.code, 3, "{}", o.err);
    assert!(took < Duration::from_secs(4), "{took:?}");
    let rows = failed_csv_rows(&out.path().join("failed.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][2], "timeout", "{rows:?}");
    assert_eq!(server.file_hits(&file_needle(&server, 1)), 2, "--retries 2");
    assert_eq!(rows_in_place(out.path(), &server), [0]);
    no_part_files(out.path());
}

#[test]
fn a_lying_count_fails_at_the_first_short_page_with_the_numbers() {
    let server = FakeServer::start(Catalog::generate(2));
    server.set_announced_total(Some(100_000_000));
    let c = client(&server);
    // The whole catalog (empty pages past the end) and a select (404 past the end).
    for query in [Query::all(), Query::new().filter("neuron_id", ["[* TO *]"])] {
        server.reset_counters();
        let started = Instant::now();
        let err = c.search(&query).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        match &err {
            Error::Incomplete { expected, .. } => assert_eq!(*expected, 100_000_000),
            other => panic!("expected Incomplete, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("100000000") && msg.contains("page 1 of 200000 holds 2 records"),
            "{msg}"
        );
        // The search starts over once, then gives up: one page per pass.
        let k = server.counters();
        assert_eq!((k.count, k.pages), (2, 2), "{k:?}");
    }
}

#[test]
fn a_lying_count_is_questioned_at_the_first_short_page_even_after_full_ones() {
    // Pages 0 and 1 are full, page 2 holds 200: the count of 100 million is a lie.
    let server = FakeServer::start(Catalog::generate(1200));
    server.set_announced_total(Some(100_000_000));
    let c = client_builder(&server).concurrency(8).build().unwrap();
    let started = Instant::now();
    let err = c.search(&Query::all()).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            err,
            Error::Incomplete {
                expected: 100_000_000,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("page 3 of 200000 holds 200 records"),
        "{err}"
    );
    let pages = server.counters().pages;
    assert!(pages < 100, "{pages} pages asked of the 200,000 announced");
}

#[test]
fn cli_a_lying_count_exits_1_with_the_numbers_and_writes_nothing() {
    let server = FakeServer::start(Catalog::generate(2));
    server.set_announced_total(Some(100_000_000));
    let out = TempDir::new();
    let started = Instant::now();
    let o = download(&server, out.path(), &[]).run();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(o.code, 1, "{}", o.err);
    let errors = error_lines(&o.err);
    assert_eq!(errors.len(), 1, "{}", o.err);
    assert!(
        errors[0].contains("expected 100000000 neurons"),
        "{}",
        errors[0]
    );
    assert_eq!(
        o.err.lines().last(),
        errors.last().copied(),
        "the error is the last line"
    );
    assert!(!out.path().join("metadata.csv").exists());
    assert_eq!(server.counters().files, 0);
    no_part_files(out.path());
}

// ------------------------------------------------------------------------------------------
// Panics: nothing from outside makes the binary exit 101

/// A catalog of 12 whose row 4 has no file: a run ends with exit 3 and one row in
/// failed.csv.
fn one_missing() -> FakeServer {
    let server = FakeServer::start(Catalog::generate(12));
    let gone = server.catalog().name(4).to_string();
    server.remove_file(&gone);
    server
}

/// The state after a run against [`one_missing`] that went on to its end.
fn assert_finished_with_one_failure(server: &FakeServer, out: &Path) {
    let mut expected: Vec<usize> = (0..12).collect();
    expected.retain(|&i| i != 4);
    assert_eq!(rows_in_place(out, server), expected);
    let rows = failed_csv_rows(&out.join("failed.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][2], "not-found");
    assert!(out.join("metadata.csv").exists());
    no_part_files(out);
}

#[test]
fn cli_a_closed_stderr_is_ignored_and_the_job_keeps_its_exit_code() {
    let server = one_missing();
    let out = TempDir::new();
    // -v: many lines, so that writes happen after the reader is gone.
    let mut child = download(&server, out.path(), &["-v"])
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let code = wait_exit(&mut child, Duration::from_secs(60));
    assert_eq!(code, 3, "the real exit code, not a panic's 101");
    assert_finished_with_one_failure(&server, out.path());
}

#[test]
fn cli_a_full_stderr_is_ignored_and_the_job_keeps_its_exit_code() {
    let server = one_missing();
    let out = TempDir::new();
    let mut child = download(&server, out.path(), &["-v"])
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::from(File::create("/dev/full").unwrap()))
        .spawn()
        .unwrap();
    let code = wait_exit(&mut child, Duration::from_secs(60));
    assert_eq!(code, 3);
    assert_finished_with_one_failure(&server, out.path());
}

#[test]
fn cli_stderr_into_head_3_is_ignored_and_the_job_keeps_its_exit_code() {
    let server = one_missing();
    let out = TempDir::new();
    // `neuromorpho download ... 2>&1 | head -3`, and the binary's own exit status.
    let script = r#""$@" 2>&1 | head -3 >/dev/null; echo "${PIPESTATUS[0]}""#;
    let cmd = download(&server, out.path(), &["-v"]).command();
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut sh = std::process::Command::new("bash");
    sh.arg("-c").arg(script).arg("bash").arg(program).args(args);
    for v in CLEARED_ENV {
        sh.env_remove(v);
    }
    let o = sh.stdin(Stdio::null()).output().unwrap();
    let status = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert_eq!(status, "3", "{}", String::from_utf8_lossy(&o.stderr));
    assert_finished_with_one_failure(&server, out.path());
}

#[test]
fn cli_a_closed_stdout_ends_quietly() {
    let server = FakeServer::start(Catalog::generate(30));
    let mut child = cli(&server)
        .args(["fields", "species"])
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let code = wait_exit(&mut child, Duration::from_secs(30));
    let err = read_all(child.stderr.take());
    assert_eq!(code, 0, "{err}");
    assert_eq!(err, "", "a reader that went away is not an error");
}

#[test]
fn cli_a_full_stdout_is_one_error_line_and_exit_1() {
    let server = FakeServer::start(Catalog::generate(30));
    for args in [vec!["fields", "species"], vec!["fields"]] {
        let mut child = cli(&server)
            .args(&args)
            .command()
            .stdout(Stdio::from(File::create("/dev/full").unwrap()))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let code = wait_exit(&mut child, Duration::from_secs(30));
        let err = read_all(child.stderr.take());
        assert_eq!(code, 1, "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("neuromorpho: error: cannot write the output")
                && err.contains("No space left on device"),
            "{err}"
        );
    }
}

#[test]
fn cli_a_preview_into_a_full_stdout_is_an_error_too() {
    let server = FakeServer::start(Catalog::generate(30));
    let mut child = cli(&server)
        .args(["preview", "--all"])
        .command()
        .stdout(Stdio::from(File::create("/dev/full").unwrap()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let code = wait_exit(&mut child, Duration::from_secs(30));
    let err = read_all(child.stderr.take());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot write the output"), "{err}");
}

#[test]
fn cli_a_garbage_retry_after_on_a_429_is_ignored_not_a_panic() {
    let server = FakeServer::start(Catalog::generate(4));
    let garbage = "Sun, 06 Nov 2026 3000000000000000:00:00 GMT";
    file_fault(
        &server,
        1,
        1,
        Fault::TooMany {
            retry_after: garbage.into(),
        },
    );
    server.push_fault(FaultRule::new(
        Target::Page(0),
        1,
        Fault::TooMany {
            retry_after: "99999999999999999999999999".into(),
        },
    ));
    let out = TempDir::new();
    let started = Instant::now();
    let o = download(&server, out.path(), &[]).run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(o.err.contains("ignored a Retry-After header"), "{}", o.err);
    assert_eq!(rows_in_place(out.path(), &server), [0, 1, 2, 3]);
    assert_eq!(server.file_hits(&file_needle(&server, 1)), 2);
    assert_eq!(server.pending_faults(), 0);
    no_part_files(out.path());
}

#[test]
fn cli_absurd_numbers_are_usage_errors_not_panics() {
    let server = FakeServer::start(Catalog::generate(3));
    let out = TempDir::new();
    for (option, value) in [
        ("--rate", "1e-30"),
        ("--rate", "1e309"),
        ("--rate", "NaN"),
        ("--rate", "-inf"),
        ("--rate", "-5"),
        ("--timeout", "1e30"),
        ("--timeout", "NaN"),
        ("--timeout", "0"),
        ("--max-time", "-1"),
        ("--speed-time", "inf"),
        ("--retries", "99999999999999999999"),
        ("--concurrency", "-1"),
        ("--max-file-size", "99999999999G"),
        ("--speed-limit", "-3"),
    ] {
        let o = download(&server, out.path(), &[option, value]).run();
        assert_eq!(o.code, 2, "{option} {value}: {}", o.err);
        assert_eq!(o.err.lines().count(), 1, "{option} {value}: {}", o.err);
        assert!(
            o.err.starts_with("neuromorpho: usage error:") && o.err.contains(option),
            "{option} {value}: {}",
            o.err
        );
    }
    assert_eq!(server.counters().requests, 0, "nothing was asked");
    assert!(!out.path().join("downloads").exists());
}

// ------------------------------------------------------------------------------------------
// Lies: only a whole 200 OK is a file

#[test]
fn a_206_is_a_retried_failure_never_a_file() {
    let server = FakeServer::start(Catalog::generate(3));
    let items = items(&server);
    file_fault(&server, 1, 1, Fault::Partial206);
    file_fault(&server, 2, 100, Fault::Partial206);
    let c = client_builder(&server).retries(3).build().unwrap();
    let out = TempDir::new();
    let report = c
        .download(&items, &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    // Once: the retry gets the whole file. Always: a failure after 3 attempts.
    assert_eq!(rows_in_place(out.path(), &server), [0, 1]);
    assert_eq!(server.file_hits(&file_needle(&server, 1)), 2);
    assert_eq!(server.file_hits(&file_needle(&server, 2)), 3);
    assert_eq!(report.failed.len(), 1);
    let f = &report.failed[0];
    assert_eq!(f.neuron_name, server.catalog().name(2));
    assert_eq!(f.reason, FailureKind::Incomplete);
    assert!(f.detail.starts_with("206 Partial Content"), "{}", f.detail);
    assert!(!cng_file(out.path(), &server, 2).exists());
    no_part_files(out.path());
}

#[test]
fn cli_a_206_is_listed_as_incomplete_with_exit_3() {
    let server = FakeServer::start(Catalog::generate(3));
    file_fault(&server, 0, 100, Fault::Partial206);
    let out = TempDir::new();
    let o = download(&server, out.path(), &["--retries", "2"]).run();
    assert_eq!(o.code, 3, "{}", o.err);
    let rows = failed_csv_rows(&out.path().join("failed.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][2], "incomplete");
    assert!(rows[0][3].contains("206"), "{rows:?}");
    assert_eq!(rows_in_place(out.path(), &server), [1, 2]);
    no_part_files(out.path());
}

/// A byte offset of row `i`'s body 3 bytes into a line past the middle: a cut there leaves
/// a last line of at most 2 fields, which no length tells apart from a whole body.
fn mid_line_cut(server: &FakeServer, i: usize) -> usize {
    let body = server.catalog().swc_bytes(i);
    let start = body.len() / 2;
    let nl = body[start..].iter().position(|&b| b == b'\n').unwrap() + start;
    assert!(nl + 4 < body.len());
    nl + 4
}

#[test]
fn an_swc_body_without_a_length_cut_inside_a_line_is_refused() {
    let server = FakeServer::start(Catalog::generate(4));
    let items = items(&server);
    let cut1 = mid_line_cut(&server, 1);
    let cut2 = mid_line_cut(&server, 2);
    // Row 1 cut once, row 2 always, row 3 whole but close-delimited.
    file_fault(&server, 1, 1, Fault::CloseDelimited { cut_at: Some(cut1) });
    file_fault(
        &server,
        2,
        100,
        Fault::CloseDelimited { cut_at: Some(cut2) },
    );
    file_fault(&server, 3, 1, Fault::CloseDelimited { cut_at: None });
    let c = client_builder(&server).retries(2).build().unwrap();
    let out = TempDir::new();
    let report = c
        .download(&items, &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!(rows_in_place(out.path(), &server), [0, 1, 3]);
    assert_eq!(server.file_hits(&file_needle(&server, 1)), 2);
    assert_eq!(
        server.file_hits(&file_needle(&server, 3)),
        1,
        "a whole body is kept"
    );
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].reason, FailureKind::Incomplete);
    assert!(
        report.failed[0].detail.contains("middle of a line"),
        "{}",
        report.failed[0].detail
    );
    assert!(!cng_file(out.path(), &server, 2).exists());
    no_part_files(out.path());
}

// ------------------------------------------------------------------------------------------
// Lies: exit 3, -q, a run where everything failed

#[test]
fn cli_get_with_an_unknown_name_exits_3_with_it_in_failed_csv_even_with_quiet() {
    let server = FakeServer::start(Catalog::generate(5));
    let known = server.catalog().name(1).to_string();
    let out = TempDir::new();
    for quiet in ["--quiet", "-q"] {
        let o = cli(&server)
            .args([
                "get",
                &known,
                "no_such_neuron",
                "-o",
                out.path().to_str().unwrap(),
            ])
            .args(["--no-log", quiet])
            .run();
        assert_eq!(o.code, 3, "{}", o.err);
        // Quiet, yet one line: how many failed, and where the list is.
        let failed_csv = out.path().join("failed.csv");
        assert_eq!(
            o.err,
            format!(
                "neuromorpho: 1 file failed; listed in {}\n",
                failed_csv.display()
            )
        );
        let rows = failed_csv_rows(&failed_csv);
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0][0], "no_such_neuron");
        assert_eq!(rows[0][2], "not-found");
        assert_eq!(rows_in_place(out.path(), &server), [1]);
    }
}

#[test]
fn cli_get_with_only_unknown_names_ends_on_an_error_line_and_lists_them() {
    let server = FakeServer::start(Catalog::generate(5));
    let out = TempDir::new();
    for verbosity in [None, Some("-q")] {
        let o = cli(&server)
            .args([
                "get",
                "ghost_1",
                "ghost_2",
                "-o",
                out.path().to_str().unwrap(),
                "--no-log",
            ])
            .args(verbosity)
            .run();
        assert_eq!(o.code, 1, "{}", o.err);
        let last = o.err.lines().last().unwrap_or("");
        assert!(
            last.starts_with("neuromorpho: error: nothing downloaded: 2 files failed"),
            "{}",
            o.err
        );
        assert!(last.contains("failed.csv"), "{last}");
        let rows = failed_csv_rows(&out.path().join("failed.csv"));
        let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(names, ["ghost_1", "ghost_2"]);
        assert!(rows.iter().all(|r| r[2] == "not-found"));
        assert!(!out.path().join("CITATIONS.md").exists());
        assert!(!out.path().join("metadata.csv").exists());
    }
}

#[test]
fn cli_quiet_still_says_how_many_failed_and_where_the_list_is() {
    let server = one_missing();
    let out = TempDir::new();
    let o = download(&server, out.path(), &["-q"]).run();
    assert_eq!(o.code, 3, "{}", o.err);
    let failed_csv = out.path().join("failed.csv");
    assert_eq!(
        o.err,
        format!(
            "neuromorpho: 1 file failed; listed in {}\n",
            failed_csv.display()
        )
    );
    assert_finished_with_one_failure(&server, out.path());
}

#[test]
fn cli_when_every_file_failed_the_last_line_is_an_error_and_nothing_is_cited() {
    let server = FakeServer::start(Catalog::generate(6));
    let out = TempDir::new();
    // Every fixture is larger than 100 bytes.
    let o = download(&server, out.path(), &["--max-file-size", "100"]).run();
    assert_eq!(o.code, 1, "{}", o.err);
    let last = o.err.lines().last().unwrap_or("");
    assert!(
        last.starts_with("neuromorpho: error: nothing downloaded: 6 files failed; listed in"),
        "{}",
        o.err
    );
    // The advice fits the reason: a larger limit, not another try.
    let warning = o
        .err
        .lines()
        .find(|l| l.starts_with("neuromorpho: warning: 6 files failed"))
        .unwrap_or_else(|| panic!("{}", o.err));
    assert!(
        warning.contains("too-large: raise --max-file-size"),
        "{warning}"
    );
    assert!(!warning.contains("again"), "{warning}");
    assert!(
        !out.path().join("CITATIONS.md").exists(),
        "no neuron to cite"
    );
    let rows = failed_csv_rows(&out.path().join("failed.csv"));
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().all(|r| r[2] == "too-large"), "{rows:?}");
    assert_eq!(rows_in_place(out.path(), &server), Vec::<usize>::new());
    no_part_files(out.path());
}

#[test]
fn cli_citations_count_only_the_neurons_downloaded() {
    let server = FakeServer::start(Catalog::generate(10));
    for i in [2, 5, 7] {
        let name = server.catalog().name(i).to_string();
        server.remove_file(&name);
    }
    let out = TempDir::new();
    let o = download(&server, out.path(), &["-q"]).run();
    assert_eq!(o.code, 3, "{}", o.err);
    let citations = std::fs::read_to_string(out.path().join("CITATIONS.md")).unwrap();
    assert!(
        citations.contains("Source publications of the 7 neuron(s) downloaded"),
        "{citations}"
    );
    // The failures are worth another try only where another try can help.
    let o = download(&server, out.path(), &[]).run();
    assert_eq!(o.code, 3, "{}", o.err);
    let warning = o
        .err
        .lines()
        .find(|l| l.contains("3 files failed"))
        .unwrap_or_else(|| panic!("{}", o.err));
    assert!(
        warning.contains("not-found: not found on the server"),
        "{warning}"
    );
    assert!(!warning.contains("again"), "{warning}");
}

// ------------------------------------------------------------------------------------------
// A long list of problems is a count and ten names, not a line each

#[test]
fn cli_many_failed_files_print_a_count_and_ten_names_not_a_line_each() {
    let server = FakeServer::start(Catalog::generate(300));
    for i in 0..100 {
        let name = server.catalog().name(i).to_string();
        server.remove_file(&name);
    }
    let out = TempDir::new();
    let o = cli(&server)
        .args(["download", "--all", "-o", out.path().to_str().unwrap()])
        .run();
    assert_eq!(o.code, 3, "{}", o.err);
    let lines: Vec<&str> = o.err.lines().collect();
    assert!(lines.len() <= 8, "{} lines:\n{}", lines.len(), o.err);
    let warning = lines
        .iter()
        .find(|l| l.contains("100 files failed"))
        .unwrap_or_else(|| panic!("{}", o.err));
    assert!(
        warning.contains("and 90 more") && warning.contains("failed.csv"),
        "{warning}"
    );
    assert_eq!(failed_csv_rows(&out.path().join("failed.csv")).len(), 100);
    // The log file keeps a line for each.
    let log = files_under(out.path())
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap();
    let log = std::fs::read_to_string(log).unwrap();
    let per_file = log.lines().filter(|l| l.contains("404 Not Found")).count();
    assert_eq!(per_file, 100, "{log}");
}

#[test]
fn cli_many_bad_records_print_a_count_and_ten_not_a_line_each() {
    let mut catalog = Catalog::generate(3);
    let base = catalog.record_value(1);
    for k in 0..50 {
        catalog.push_raw(serde_json::json!(k), None);
        let mut r = base.clone();
        r["neuron_id"] = serde_json::json!(500_000 + k);
        r.as_object_mut().unwrap().remove("neuron_name");
        catalog.push_raw(r, None);
    }
    let server = FakeServer::start(catalog);
    let out = TempDir::new();
    let o = download(&server, out.path(), &[]).run();
    assert_eq!(o.code, 3, "{}", o.err);
    assert_eq!(failed_csv_rows(&out.path().join("failed.csv")).len(), 100);
    let lines = o.err.lines().count();
    assert!(lines <= 8, "{lines} lines:\n{}", o.err);
    assert!(
        o.err.contains("100 files failed") && o.err.contains("and 90 more"),
        "{}",
        o.err
    );
}
