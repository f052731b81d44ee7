//! Issue 3, "Never lose or corrupt a file": kill the CLI with SIGKILL in the middle of a run,
//! check that every file under a final name is complete, run the same command again and check
//! that the set is complete and that finished files were not fetched twice.

use crate::support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::*;

/// The command line of both runs: the CLI against the fake server (see `support::cli`),
/// downloading the whole catalog into `out`.
fn download_all(server: &FakeServer, out: &Path) -> Cli {
    cli(server).args([
        "download",
        "--all",
        "-o",
        out.to_str().unwrap(),
        "-c",
        "6",
        "--no-log",
        "-q",
    ])
}

/// Final-named `.swc` files under `<out>/downloads`.
fn final_swcs(out: &Path) -> Vec<PathBuf> {
    files_under(&out.join("downloads"))
        .into_iter()
        .filter(|p| !is_part(p) && p.extension().is_some_and(|e| e == "swc"))
        .collect()
}

/// The catalog row of a downloaded file, from its name (`<neuron_name>.swc`).
fn row_of(server: &FakeServer, path: &Path) -> usize {
    let name = path.file_stem().unwrap().to_string_lossy();
    server
        .catalog()
        .index_of_name(&name)
        .unwrap_or_else(|| panic!("{} is not a neuron of the catalog", path.display()))
}

/// Every final-named file is byte-identical to the catalog's bytes; returns their rows.
fn check_final_files(server: &FakeServer, out: &Path) -> Vec<usize> {
    let mut rows = Vec::new();
    for p in final_swcs(out) {
        let i = row_of(server, &p);
        let got = std::fs::read(&p).unwrap();
        assert!(
            got == server.catalog().swc_bytes(i),
            "{} is under its final name but not complete ({} of {} bytes)",
            p.display(),
            got.len(),
            server.catalog().swc_bytes(i).len()
        );
        rows.push(i);
    }
    rows.sort();
    rows
}

#[test]
fn killed_mid_download_then_resumed_completes_without_fetching_finished_files_again() {
    const N: usize = 300;
    let server = FakeServer::start_with(
        Catalog::generate(N),
        ServerOptions {
            recording: false,
            ..ServerOptions::default()
        },
    );
    server.set_latency(Duration::from_millis(40));
    // Two files are caught half-written when the kill comes: half a body then a reset, and
    // the retry trickles (one byte every 30 s) into its temporary file.
    let trapped = [0, 150];
    for &i in &trapped {
        let path = Target::Path(file_needle(&server, i));
        server.push_fault(FaultRule::new(path.clone(), 1, Fault::ResetAfterHeaders));
        server.push_fault(FaultRule::new(
            path,
            1,
            Fault::Trickle {
                interval: Duration::from_secs(30),
            },
        ));
    }
    let out = TempDir::new();

    // First run: SIGKILL once some files are in place and the trapped ones are half-written
    // (Child::kill is SIGKILL on Unix).
    let mut child = download_all(&server, out.path()).command().spawn().unwrap();
    let started = Instant::now();
    loop {
        // A trapped file is in its trickling retry once the server has seen it twice and the
        // client has opened the retry's temporary file.
        let temps = part_files(out.path());
        let caught = trapped.iter().all(|&i| {
            let prefix = format!(".{}.swc.", server.catalog().name(i));
            server.file_hits(&file_needle(&server, i)) >= 2
                && temps.iter().any(|p| {
                    p.file_name()
                        .is_some_and(|f| f.to_string_lossy().starts_with(&prefix))
                })
        });
        if caught && final_swcs(out.path()).len() >= 20 {
            eprintln!("caught after {:?}", started.elapsed());
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the first run ended ({status}) before it could be killed");
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no file appeared in 120 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed, not finished: {status}");

    let present = check_final_files(&server, out.path());
    assert!(
        present.len() >= 20 && present.len() < N,
        "killed mid-run: {} of {N} files in place",
        present.len()
    );
    // The metadata table was complete before the downloads started.
    let metadata = std::fs::read_to_string(out.path().join("metadata.csv")).unwrap();
    assert_eq!(metadata.lines().count(), N + 1);
    let leftovers = part_files(out.path()).len();
    for &i in &trapped {
        let name = server.catalog().name(i);
        // Each writer has a temporary file of its own: `.<name>.swc.<writer>.part`.
        let prefix = format!(".{name}.swc.");
        let part = part_files(out.path())
            .into_iter()
            .find(|p| {
                p.file_name()
                    .is_some_and(|f| f.to_string_lossy().starts_with(&prefix))
            })
            .unwrap_or_else(|| panic!("no temporary file for {name}"));
        let partial = std::fs::read(&part).unwrap();
        let full = server.catalog().swc_bytes(i);
        assert!(
            partial.len() < full.len() && full.starts_with(&partial),
            "{name}: {} of {} bytes",
            partial.len(),
            full.len()
        );
        assert!(!present.contains(&i));
    }
    eprintln!(
        "killed with {} of {N} files in place and {leftovers} temporary file(s)",
        present.len()
    );
    let first = server.counters();
    let hits_before: Vec<usize> = (0..N)
        .map(|i| server.file_hits(&file_needle(&server, i)))
        .collect();
    assert!(present.iter().all(|&i| hits_before[i] == 1));

    // Second run: the same command, against a healthy server.
    server.clear_faults();
    server.set_latency(Duration::from_millis(5));
    let o = download_all(&server, out.path())
        .time_limit(Duration::from_secs(180))
        .run();
    assert_eq!(o.code, 0, "{}", o.err);

    let all = check_final_files(&server, out.path());
    assert_eq!(all, (0..N).collect::<Vec<_>>(), "the whole set is complete");
    for (i, before) in hits_before.iter().enumerate() {
        let was_present = present.binary_search(&i).is_ok();
        assert_eq!(
            server.file_hits(&file_needle(&server, i)) - before,
            usize::from(!was_present),
            "{}: finished files are not fetched again, missing ones once",
            server.catalog().name(i)
        );
    }
    let second = server.counters();
    assert_eq!(
        second.files - first.files,
        N - present.len(),
        "the second run fetched exactly the missing files"
    );
    let parts = part_files(out.path());
    assert_eq!(
        parts,
        Vec::<PathBuf>::new(),
        "no temporary file left ({leftovers} after the kill)"
    );
    assert_eq!(final_swcs(out.path()).len(), N);
    assert!(!out.path().join("failed.csv").exists());
    assert!(out.path().join("CITATIONS.md").exists());
}

#[test]
fn killed_while_fetching_metadata_leaves_no_table_under_its_final_name() {
    let server = FakeServer::start(Catalog::generate(40));
    // The only page takes long: the kill lands while it is in flight.
    server.push_fault(FaultRule::new(
        Target::Page(0),
        1,
        Fault::Delay(Duration::from_secs(30)),
    ));
    let out = TempDir::new();
    let mut child = download_all(&server, out.path()).command().spawn().unwrap();
    let started = Instant::now();
    while server.counters().pages == 0 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the first run ended ({status}) before asking for a page");
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no page asked");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !out.path().join("metadata.csv").exists(),
        "an unfinished table must not be under its final name"
    );
    assert!(final_swcs(out.path()).is_empty());

    // Again: everything, nothing left over.
    let o = download_all(&server, out.path())
        .time_limit(Duration::from_secs(120))
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let metadata = std::fs::read_to_string(out.path().join("metadata.csv")).unwrap();
    assert_eq!(metadata.lines().count(), 41);
    assert_eq!(check_final_files(&server, out.path()).len(), 40);
    let parts = part_files(out.path());
    assert_eq!(parts, Vec::<PathBuf>::new());
}
