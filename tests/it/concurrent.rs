//! Issue 10, one folder and several runs at once: two identical downloads, a run killed while
//! another finishes the same file, two different queries, shards and a `get` side by side.
//! None may corrupt a file, report a present file as failed, or lose another run's table
//! rows, manifest entries or log lines, and the folder ends complete. Runs share a lock only
//! around short updates of the shared files: shards still download in parallel, and a run
//! that waits for the lock says what it waits for.
//!
//! Overlap is made with the fake server's faults (a file held back, or trickling, for one run
//! only) and by waiting on what the server saw, not by sleeping and hoping.

use crate::support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use support::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A spawned run of the binary whose stderr is collected as it comes.
struct Running {
    child: Child,
    err: Arc<Mutex<String>>,
    reader: Option<thread::JoinHandle<()>>,
}

impl Running {
    fn start(cli: &Cli) -> Running {
        let mut child = cli
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pipe = child.stderr.take().unwrap();
        let err = Arc::new(Mutex::new(String::new()));
        let sink = err.clone();
        let reader = thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut e = sink.lock().unwrap();
                e.push_str(&line);
                e.push('\n');
            }
        });
        Running {
            child,
            err,
            reader: Some(reader),
        }
    }

    fn err(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the end (at most `limit`): (exit code, stderr).
    fn finish(mut self, limit: Duration) -> (i32, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("still running after {limit:?}:\n{}", self.err());
            }
            thread::sleep(Duration::from_millis(10));
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        (status.code().unwrap_or(-1), self.err())
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// Polls `cond` every 5 ms, at most `limit`; panics with `what` when it never holds.
fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        thread::sleep(Duration::from_millis(5));
    }
}

/// `download --all` into `out`, 4 at once, with its log file.
fn download_all(server: &FakeServer, out: &Path) -> Cli {
    cli(server).args(["-c", "4", "download", "--all", "-o", s(out)])
}

/// The folder holds exactly rows `0..n` of the catalog, each byte for byte, each recorded
/// once, with one table row per neuron, no failure, no temporary file, and verify agrees.
fn assert_folder_complete(server: &FakeServer, out: &Path, n: usize) {
    let catalog = server.catalog();
    let mut want: Vec<String> = (0..n).map(|i| rel_of(server, i)).collect();
    want.sort();
    let files: Vec<String> = rel_files(out)
        .into_iter()
        .filter(|p| p.starts_with("downloads/"))
        .collect();
    assert_eq!(files, want, "one file per neuron");
    for i in 0..n {
        let got = std::fs::read(swc_of(out, server, i)).unwrap();
        assert!(
            got == catalog.swc_bytes(i),
            "{} corrupted",
            rel_of(server, i)
        );
    }
    let entries = manifest(out);
    assert_eq!(paths_of(&entries), want, "one entry per file");
    for e in &entries {
        let rel = e["path"].as_str().unwrap();
        let bytes = std::fs::read(out.join(rel)).unwrap();
        assert_eq!(e["sha256"], sha256_hex(&bytes), "{rel}");
    }
    let table = std::fs::read_to_string(out.join("metadata.csv")).unwrap();
    assert_eq!(table.lines().count(), n + 1, "one row per neuron:\n{table}");
    let mut names = neuromorpho::tables::names_from_metadata(&out.join("metadata.csv")).unwrap();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), n);
    assert!(!out.join("failed.csv").exists(), "nothing failed");
    let citations = std::fs::read_to_string(out.join("CITATIONS.md")).unwrap();
    assert!(
        citations.contains(&format!("Source publications of the {n} neuron(s)")),
        "{citations}"
    );
    assert_no_temp(out);
    if let Some((code, text)) = sha256sum_check(out, "SHA256SUMS") {
        assert_eq!(code, 0, "{text}");
    }
    let v = cli(server).args(["verify", s(out)]).run();
    assert_eq!(v.code, 0, "{}{}", v.out, v.err);
}

/// Each log file is one run's, whole lines only, each starting with a UTC timestamp, and
/// ends with that run's summary.
fn assert_logs_whole(out: &Path, runs: usize, n: usize) {
    let logs = log_files(out);
    assert_eq!(logs.len(), runs, "one log per run: {logs:?}");
    for log in logs {
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.ends_with('\n'), "{}", log.display());
        for line in text.lines() {
            let stamp = line.split(' ').next().unwrap();
            assert!(
                neuromorpho::store::Timestamp::parse_rfc3339(stamp).is_some(),
                "{}: a garbled line {line:?}",
                log.display()
            );
        }
        let summaries = text
            .lines()
            .filter(|l| l.contains(&format!("matched {n}, downloaded")))
            .count();
        assert_eq!(summaries, 1, "{}:\n{text}", log.display());
    }
}

#[test]
fn two_identical_downloads_into_one_folder_end_complete_and_correct() {
    const N: usize = 60;
    let server = FakeServer::start(Catalog::generate(N));
    server.set_latency(Duration::from_millis(2));
    // The first run is held on one file long enough for the second to run beside it.
    let held = 30;
    server.push_fault(FaultRule::new(
        Target::Path(file_needle(&server, held)),
        1,
        Fault::Delay(Duration::from_millis(1500)),
    ));
    let root = TempDir::new();
    let out = root.path().join("out");
    let first = Running::start(&download_all(&server, &out));
    wait_for(
        "the first run at the held file",
        Duration::from_secs(30),
        || server.file_hits(&file_needle(&server, held)) == 1,
    );
    let second = Running::start(&download_all(&server, &out));
    let (code2, err2) = second.finish(Duration::from_secs(60));
    let (code1, err1) = first.finish(Duration::from_secs(60));
    println!("first:\n{err1}\nsecond:\n{err2}");
    assert_eq!((code1, code2), (0, 0), "both end well");
    // The second fetched the held file itself while the first was still on it.
    assert_eq!(server.file_hits(&file_needle(&server, held)), 2);
    assert_folder_complete(&server, &out, N);
    assert_logs_whole(&out, 2, N);
    // Nothing outside OUT.
    assert_eq!(
        rel_files(root.path())
            .iter()
            .filter(|p| !p.starts_with("out/"))
            .count(),
        0
    );
}

#[test]
fn two_downloads_started_at_the_same_instant_both_exit_0() {
    const N: usize = 40;
    let server = FakeServer::start(Catalog::generate(N));
    server.set_latency(Duration::from_millis(3));
    let out = TempDir::new();
    let runs: Vec<Running> = (0..2)
        .map(|_| Running::start(&download_all(&server, out.path())))
        .collect();
    for r in runs {
        let (code, err) = r.finish(Duration::from_secs(60));
        assert_eq!(code, 0, "{err}");
        assert!(
            !err.contains("failed 1") && !err.contains("No such file"),
            "{err}"
        );
    }
    assert_folder_complete(&server, out.path(), N);
    assert_logs_whole(out.path(), 2, N);
}

#[test]
fn a_run_killed_while_another_finishes_the_same_file_leaves_it_whole() {
    const N: usize = 30;
    let server = FakeServer::start(Catalog::generate(N));
    let x = 12;
    let needle = file_needle(&server, x);
    // The first run's request for X trickles (it will never end); the second run's request
    // for X is held 1 s, so that the kill comes while the second is finishing X.
    server.push_fault(FaultRule::new(
        Target::Path(needle.clone()),
        1,
        Fault::Trickle {
            interval: Duration::from_secs(30),
        },
    ));
    server.push_fault(FaultRule::new(
        Target::Path(needle.clone()),
        1,
        Fault::Delay(Duration::from_secs(1)),
    ));
    let out = TempDir::new();
    let first = Running::start(&download_all(&server, out.path()).arg("--no-log"));
    let temp_prefix = format!(".{}.swc.", server.catalog().name(x));
    wait_for("the first run writing X", Duration::from_secs(30), || {
        part_files(out.path()).iter().any(|p| {
            p.file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with(&temp_prefix))
        })
    });
    let second = Running::start(&download_all(&server, out.path()).arg("--no-log"));
    wait_for("the second run on X", Duration::from_secs(30), || {
        server.file_hits(&needle) == 2
    });
    first.kill();
    let (code, err) = second.finish(Duration::from_secs(60));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read(swc_of(out.path(), &server, x)).unwrap(),
        server.catalog().swc_bytes(x)
    );
    // The killed run's half-written X is gone too: the second run tidies up at its end.
    assert_folder_complete(&server, out.path(), N);
}

#[test]
fn two_different_queries_at_once_keep_each_others_rows_entries_and_citations() {
    const N: usize = 36;
    let server = FakeServer::start(Catalog::generate(N));
    let catalog = server.catalog();
    let species = |i: usize| catalog.field_values(i, "species").unwrap()[0].clone();
    let mouse: Vec<usize> = (0..N).filter(|&i| species(i) == "mouse").collect();
    let rat: Vec<usize> = (0..N).filter(|&i| species(i) == "rat").collect();
    // Each is held on its first file until the other has started too.
    for &i in [mouse[0], rat[0]].iter() {
        server.push_fault(FaultRule::new(
            Target::Path(file_needle(&server, i)),
            1,
            Fault::Delay(Duration::from_millis(800)),
        ));
    }
    let out = TempDir::new();
    let runs: Vec<Running> = ["species=mouse", "species=rat"]
        .iter()
        .map(|q| {
            Running::start(&cli(&server).args([
                "-c",
                "2",
                "download",
                "-f",
                q,
                "-o",
                s(out.path()),
                "--no-log",
            ]))
        })
        .collect();
    for r in runs {
        let (code, err) = r.finish(Duration::from_secs(60));
        assert_eq!(code, 0, "{err}");
    }
    let mut both: Vec<usize> = mouse.iter().chain(&rat).copied().collect();
    both.sort();
    let mut want: Vec<String> = both.iter().map(|&i| rel_of(&server, i)).collect();
    want.sort();
    assert_eq!(paths_of(&manifest(out.path())), want);
    let mut ids: Vec<String> =
        neuromorpho::tables::names_from_metadata(&out.path().join("metadata.csv")).unwrap();
    ids.sort();
    let mut names: Vec<String> = both.iter().map(|&i| catalog.name(i).into_owned()).collect();
    names.sort();
    assert_eq!(ids, names, "the table has both runs' rows");
    let citations = std::fs::read_to_string(out.path().join("CITATIONS.md")).unwrap();
    assert!(
        citations.contains(&format!(
            "Source publications of the {} neuron(s)",
            both.len()
        )),
        "{citations}"
    );
    assert_no_temp(out.path());
}

#[test]
fn shards_and_a_get_in_one_folder_run_in_parallel_and_keep_their_own_records() {
    const N: usize = 40;
    let server = FakeServer::start(Catalog::generate(N));
    server.set_latency(Duration::from_millis(20));
    let out = TempDir::new();
    let extra = server.catalog().name(5).into_owned();
    let mut runs: Vec<Running> = (1..=2)
        .map(|k| {
            Running::start(&cli(&server).args([
                "-c",
                "2",
                "download",
                "--all",
                "--shard",
                &format!("{k}/2"),
                "-o",
                s(out.path()),
            ]))
        })
        .collect();
    runs.push(Running::start(&cli(&server).args([
        "-c",
        "2",
        "get",
        &extra,
        "-o",
        s(out.path()),
    ])));
    for r in runs {
        let (code, err) = r.finish(Duration::from_secs(60));
        assert_eq!(code, 0, "{err}");
    }
    // Three runs of 2 requests each: more than 2 at once means they did not wait for each
    // other (each download holds the folder lock only for short updates).
    let t = server.transfer_counters();
    assert!(t.in_flight_max > 2, "the shards ran in parallel: {t:?}");
    // Each file is recorded by a run that brought it (or found it unrecorded): a shard's
    // manifest holds only its shard's files, the get's only its neuron, and together they
    // hold every file. (Row 5 is in the manifest of whichever run saw no entry for it.)
    let catalog = server.catalog();
    let mut union: Vec<String> = Vec::new();
    for k in 1..=2u64 {
        let entries = jsonl(&out.path().join(format!("manifest.shard-{k}-of-2.jsonl")));
        let mine: Vec<String> = (0..N)
            .filter(|&i| catalog.id(i).unwrap() % 2 == k - 1)
            .map(|i| rel_of(&server, i))
            .collect();
        for p in paths_of(&entries) {
            assert!(mine.contains(&p), "shard {k} recorded {p}");
            union.push(p);
        }
        let table = out.path().join(format!("metadata.shard-{k}-of-2.csv"));
        assert_eq!(
            neuromorpho::tables::names_from_metadata(&table)
                .unwrap()
                .len(),
            mine.len()
        );
        assert!(out
            .path()
            .join(format!("CITATIONS.shard-{k}-of-2.md"))
            .is_file());
    }
    // The get's own table beside them.
    if out.path().join("manifest.jsonl").exists() {
        let own = paths_of(&manifest(out.path()));
        assert_eq!(own, [rel_of(&server, 5)]);
        union.extend(own);
    }
    union.sort();
    union.dedup();
    let mut all: Vec<String> = (0..N).map(|i| rel_of(&server, i)).collect();
    all.sort();
    assert_eq!(union, all, "every file recorded");
    assert_eq!(
        neuromorpho::tables::names_from_metadata(&out.path().join("metadata.csv")).unwrap(),
        [extra]
    );
    assert_eq!(log_files(out.path()).len(), 3);
    for i in 0..N {
        assert_eq!(
            std::fs::read(swc_of(out.path(), &server, i)).unwrap(),
            catalog.swc_bytes(i)
        );
    }
    assert_no_temp(out.path());
    let v = cli(&server).args(["verify", s(out.path())]).run();
    assert_eq!(v.code, 0, "{}{}", v.out, v.err);
}

#[test]
fn a_run_waiting_for_the_folder_lock_says_what_it_waits_for() {
    let server = FakeServer::start(Catalog::generate(5));
    let out = TempDir::new();
    // Another run holds the folder's lock (here: this test, with the same flock).
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(out.path().join(".neuromorpho.lock"))
        .unwrap();
    lock.lock().unwrap();
    let mut run =
        Running::start(&cli(&server).args(["download", "--all", "-o", s(out.path()), "--no-log"]));
    wait_for("the waiting message", Duration::from_secs(30), || {
        run.err().contains("waiting for another run writing in")
    });
    thread::sleep(Duration::from_millis(200));
    assert!(run.running(), "it waits: {}", run.err());
    assert_eq!(
        server.counters().files,
        0,
        "nothing downloaded while it waits"
    );
    assert!(
        run.err().contains(".neuromorpho.lock"),
        "the lock is named: {}",
        run.err()
    );
    lock.unlock().unwrap();
    let (code, err) = run.finish(Duration::from_secs(60));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        err.matches("waiting for another run").count(),
        1,
        "said once: {err}"
    );
    assert_eq!(server.counters().files, 5);
}

#[test]
fn a_failure_that_another_run_mends_meanwhile_is_not_reported() {
    const N: usize = 12;
    let server = FakeServer::start(Catalog::generate(N));
    let (x, y) = (3, 8);
    // The first run gets a 404 for X, and is held on Y until the second run has ended.
    server.push_fault(FaultRule::new(
        Target::Path(file_needle(&server, x)),
        1,
        Fault::Status(404),
    ));
    server.push_fault(FaultRule::new(
        Target::Path(file_needle(&server, y)),
        1,
        Fault::Delay(Duration::from_millis(1500)),
    ));
    let out = TempDir::new();
    let first = Running::start(&download_all(&server, out.path()).arg("--no-log"));
    wait_for("the first run at X and Y", Duration::from_secs(30), || {
        server.file_hits(&file_needle(&server, x)) == 1
            && server.file_hits(&file_needle(&server, y)) == 1
    });
    let (code2, err2) = Running::start(&download_all(&server, out.path()).arg("--no-log"))
        .finish(Duration::from_secs(60));
    assert_eq!(code2, 0, "{err2}");
    let (code1, err1) = first.finish(Duration::from_secs(60));
    // X is in place (the second run brought it): the first run must not call it failed,
    // neither in its exit code nor in failed.csv.
    assert!(swc_of(out.path(), &server, x).is_file());
    assert_eq!(code1, 0, "{err1}");
    assert_folder_complete(&server, out.path(), N);
}

#[test]
fn two_updates_at_once_keep_only_real_old_versions() {
    const N: usize = 20;
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    let o = cli(&server)
        .args(["download", "--all", "-o", s(out.path()), "--no-log", "-q"])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    server.set_release(2);
    let catalog = server.catalog();
    let changed = catalog.changed_in_release(2);
    let x = changed[0];
    // The first update is held on X; the second replaces X meanwhile.
    server.push_fault(FaultRule::new(
        Target::Path(file_needle(&server, x)),
        1,
        Fault::Delay(Duration::from_millis(1500)),
    ));
    server.reset_counters();
    let update = || {
        cli(&server).args([
            "-c",
            "4",
            "download",
            "--update",
            "-o",
            s(out.path()),
            "--no-log",
        ])
    };
    let first = Running::start(&update());
    wait_for("the first update at X", Duration::from_secs(30), || {
        server.file_hits(&file_needle(&server, x)) == 1
    });
    let (code2, err2) = Running::start(&update()).finish(Duration::from_secs(60));
    assert_eq!(code2, 0, "{err2}");
    let (code1, err1) = first.finish(Duration::from_secs(60));
    println!("first:\n{err1}\nsecond:\n{err2}");
    assert_eq!(code1, 0, "{err1}");
    for i in 0..catalog.len() {
        assert!(
            std::fs::read(swc_of(out.path(), &server, i)).unwrap()
                == catalog.cng_bytes(i).unwrap().as_ref(),
            "row {i}"
        );
    }
    // previous/ holds each changed file's release-1 bytes once, and nothing else: not a
    // copy of the current version that the other run had just put in place.
    let previous = out.path().join("previous");
    let kept = rel_files(&previous);
    assert_eq!(kept.len(), changed.len(), "{kept:?}");
    for k in &kept {
        let rel = k.split_once('/').unwrap().1;
        let i = changed
            .iter()
            .copied()
            .find(|&i| rel_of(&server, i) == rel)
            .unwrap_or_else(|| panic!("{k} is not a changed file"));
        assert_eq!(
            std::fs::read(previous.join(k)).unwrap(),
            catalog.swc_bytes(i)
        );
    }
    assert_no_temp(out.path());
    let v = cli(&server).args(["verify", s(out.path())]).run();
    assert_eq!(v.code, 0, "{}{}", v.out, v.err);
}
