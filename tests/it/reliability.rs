//! Issue 3, "Never lose or corrupt a file": the library and the CLI against a fake server
//! that fails on purpose (per-request fault plans), checking files byte by byte, attempts
//! through the server's counters, `failed.csv`, exit codes and what is left on disk.
//!
//! No timed assertions except lower bounds (a `Retry-After` wait) and generous hang guards.

use crate::support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use neuromorpho::JobOptions;
use neuromorpho::{DownloadOptions, Error, FailureKind, Query, SearchEvent};
use serde_json::json;
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

fn swc_path(out: &Path, server: &FakeServer, i: usize) -> PathBuf {
    out.join("downloads")
        .join(format!("{}.swc", server.catalog().name(i)))
}

/// Rows of `<out>/failed.csv` as (neuron_name, url, reason, detail).
fn failed_rows(out: &Path) -> Vec<(String, String, String, String)> {
    let mut r = csv::Reader::from_path(out.join("failed.csv")).unwrap();
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        ["neuron_name", "url", "reason", "detail"]
    );
    let mut rows: Vec<_> = r
        .records()
        .map(|x| {
            let x = x.unwrap();
            (
                x[0].to_string(),
                x[1].to_string(),
                x[2].to_string(),
                x[3].to_string(),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn assert_complete(out: &Path, server: &FakeServer, rows: impl IntoIterator<Item = usize>) {
    for i in rows {
        let p = swc_path(out, server, i);
        let got = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(
            got == server.catalog().swc_bytes(i),
            "{} is not byte-identical ({} bytes, expected {})",
            p.display(),
            got.len(),
            server.catalog().swc_bytes(i).len()
        );
    }
}

// ------------------------------------------------------------------------------------------
// Library: transient faults end in complete files, with the expected number of attempts

#[test]
fn transient_file_faults_end_byte_identical_with_the_expected_attempts() {
    let server = FakeServer::start(Catalog::generate(14));
    // (row, fault, times): every one is transient; 4 attempts are allowed.
    let plan: Vec<(usize, Fault, usize)> = vec![
        (1, Fault::Status(503), 1),
        (
            2,
            Fault::TooMany {
                retry_after: "0".into(),
            },
            1,
        ),
        (3, Fault::ResetBeforeHeaders, 1),
        (4, Fault::ResetAfterHeaders, 1),
        (5, Fault::Truncate, 1),
        (6, Fault::Html200, 1),
        (7, Fault::Status(504), 1),
        (8, Fault::Status(500), 2),
        (9, Fault::Status(502), 3),
        (10, Fault::Truncate, 2),
        (11, Fault::ResetBeforeHeaders, 3),
    ];
    for (i, fault, times) in &plan {
        file_fault(&server, *i, *times, fault.clone());
    }
    let c = client_builder(&server).retries(4).build().unwrap();
    let neurons = c.search(&Query::all()).unwrap();
    assert_eq!(neurons.len(), 14);
    let out = TempDir::new();
    let report = c
        .download(&neurons, &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!(report.failed, vec![], "every fault was transient");
    assert_eq!(report.downloaded, 14);
    assert_complete(out.path(), &server, 0..14);
    assert_eq!(server.pending_faults(), 0, "every planned fault was served");
    for i in 0..14 {
        let expected = 1 + plan
            .iter()
            .find(|(r, _, _)| *r == i)
            .map_or(0, |(_, _, t)| *t);
        assert_eq!(
            server.file_hits(&file_needle(&server, i)),
            expected,
            "attempts for row {i} ({:?})",
            plan.iter().find(|(r, _, _)| *r == i).map(|p| &p.1)
        );
    }
    assert_eq!(
        server.counters().files,
        14 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 2 + 3 + 2 + 3
    );
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());
    assert_eq!(files_but_records(out.path()).len(), 14, "only the files");
}

#[test]
fn transient_api_faults_give_the_whole_result_in_order() {
    let server = FakeServer::start(Catalog::generate(2100)); // 5 pages of 500
    server.push_fault(FaultRule::new(Target::Count, 1, Fault::Status(503)));
    server.push_fault(FaultRule::new(
        Target::Page(0),
        1,
        Fault::ResetBeforeHeaders,
    ));
    server.push_fault(FaultRule::new(Target::Page(1), 1, Fault::Truncate));
    server.push_fault(FaultRule::new(Target::Page(2), 1, Fault::MalformedJson));
    server.push_fault(FaultRule::new(Target::Page(3), 1, Fault::Html200));
    server.push_fault(FaultRule::new(Target::Page(4), 1, Fault::ResetAfterHeaders));
    let c = client(&server);
    let all = c.search(&Query::all()).unwrap();
    let ids: Vec<u64> = all.iter().map(|n| n.neuron_id().unwrap()).collect();
    let expected: Vec<u64> = (0..2100).map(|i| server.catalog().id(i).unwrap()).collect();
    assert_eq!(ids, expected, "each neuron once, in the server's order");
    assert_eq!(server.pending_faults(), 0);
    let k = server.counters();
    assert_eq!(k.count, 2, "the count was retried once");
    assert_eq!(k.pages, 5 + 5, "each page was retried once");
}

#[test]
fn a_response_slower_than_the_read_timeout_is_retried() {
    let server = FakeServer::start(Catalog::generate(3));
    let slow = || Fault::Delay(Duration::from_millis(1500));
    server.push_fault(FaultRule::new(Target::Count, 1, slow()));
    server.push_fault(FaultRule::new(Target::Page(0), 1, slow()));
    file_fault(&server, 1, 1, slow());
    let c = client_builder(&server)
        .read_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let neurons = c.search(&Query::all()).unwrap();
    assert_eq!(neurons.len(), 3);
    let out = TempDir::new();
    let report = c
        .download(&neurons, &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!(report.failed, vec![]);
    assert_complete(out.path(), &server, 0..3);
    assert_eq!(server.pending_faults(), 0);
    let k = server.counters();
    assert_eq!((k.count, k.pages), (2, 2), "count and page retried once");
    assert_eq!(server.file_hits(&file_needle(&server, 1)), 2);
    assert_eq!(k.files, 4);
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());

    // Slow every time: a timeout, after the attempts allowed.
    file_fault(&server, 2, 10, slow());
    let c = client_builder(&server)
        .read_timeout(Duration::from_millis(300))
        .retries(2)
        .build()
        .unwrap();
    let out = TempDir::new();
    let report = c
        .download(&neurons[2..], &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].reason, FailureKind::Timeout);
    assert_eq!(server.file_hits(&file_needle(&server, 2)), 1 + 2);
    assert!(!swc_path(out.path(), &server, 2).exists());
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());
}

#[test]
fn retry_after_is_honoured() {
    let server = FakeServer::start(Catalog::generate(3));
    let c = client(&server);
    let neurons = c.search(&Query::all()).unwrap();
    file_fault(
        &server,
        1,
        1,
        Fault::TooMany {
            retry_after: "1".into(),
        },
    );
    let out = TempDir::new();
    let started = Instant::now();
    let report = c
        .download(&neurons, &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(report.failed, vec![]);
    assert_complete(out.path(), &server, 0..3);
    assert_eq!(server.file_hits(&file_needle(&server, 1)), 2);
    // The retry base delay is 5 ms: only Retry-After explains a wait of a second.
    assert!(
        waited >= Duration::from_secs(1),
        "Retry-After: 1 not honoured: retried after {waited:?}"
    );

    // The same for an API call.
    server.push_fault(FaultRule::new(
        Target::Count,
        1,
        Fault::TooMany {
            retry_after: "1".into(),
        },
    ));
    let started = Instant::now();
    assert_eq!(c.count(&Query::all()).unwrap(), 3);
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[test]
fn other_4xx_answers_are_not_retried() {
    let server = FakeServer::start(Catalog::generate(5));
    let c = client(&server);
    let neurons = c.search(&Query::all()).unwrap();
    file_fault(&server, 2, 10, Fault::Status(403));
    file_fault(&server, 3, 10, Fault::Status(400));
    let out = TempDir::new();
    let report = c
        .download(&neurons, &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!(report.downloaded, 3);
    let mut kinds: Vec<(String, FailureKind)> = report
        .failed
        .iter()
        .map(|f| (f.neuron_name.clone(), f.reason))
        .collect();
    kinds.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = vec![
        (server.catalog().name(2).to_string(), FailureKind::Http4xx),
        (server.catalog().name(3).to_string(), FailureKind::Http4xx),
    ];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(kinds, expected);
    assert!(report.failed.iter().all(|f| f.detail.starts_with("40")));
    assert_eq!(
        server.file_hits(&file_needle(&server, 2)),
        1,
        "403: one hit"
    );
    assert_eq!(
        server.file_hits(&file_needle(&server, 3)),
        1,
        "400: one hit"
    );
    assert!(!swc_path(out.path(), &server, 2).exists());
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());

    // An API call too.
    server.push_fault(FaultRule::new(Target::Count, 10, Fault::Status(403)));
    let before = server.counters().count;
    let err = c.count(&Query::all()).unwrap_err();
    assert_eq!(err.kind(), Some(FailureKind::Http4xx), "{err}");
    assert_eq!(server.counters().count, before + 1);
}

#[test]
fn one_attempt_means_no_retry() {
    let server = FakeServer::start(Catalog::generate(3));
    let c = client_builder(&server).retries(1).build().unwrap();
    let neurons = c.search(&Query::all()).unwrap();
    file_fault(&server, 1, 1, Fault::Status(503));
    file_fault(&server, 2, 1, Fault::ResetBeforeHeaders);
    let out = TempDir::new();
    let report = c
        .download(&neurons, &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!(report.downloaded, 1);
    assert_eq!(report.failed.len(), 2);
    assert_eq!(server.file_hits(&file_needle(&server, 1)), 1);
    assert_eq!(server.file_hits(&file_needle(&server, 2)), 1);
    let kinds: Vec<FailureKind> = report.failed.iter().map(|f| f.reason).collect();
    assert!(kinds.contains(&FailureKind::Http5xx), "{kinds:?}");
    assert!(kinds.contains(&FailureKind::Connection), "{kinds:?}");
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());
}

#[test]
fn a_body_larger_than_the_maximum_is_too_large_and_not_kept() {
    let mut catalog = Catalog::generate(3);
    let tiny = add_raw(&mut catalog, "tiny_cell", b"1 1 0 0 0 1 -1\n".to_vec());
    let server = FakeServer::start(catalog);
    let c = client_builder(&server).max_file_size(1000).build().unwrap();
    assert!((0..3).all(|i| server.catalog().swc_bytes(i).len() > 1000));
    let neurons = c.search(&Query::all()).unwrap();
    let out = TempDir::new();
    let report = c
        .download(&neurons, &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!(report.downloaded, 1);
    assert_eq!(report.failed.len(), 3);
    for f in &report.failed {
        assert_eq!(f.reason, FailureKind::TooLarge, "{f:?}");
        assert!(f.detail.contains("1000"), "{f:?}");
    }
    for i in 0..3 {
        assert!(!swc_path(out.path(), &server, i).exists());
        assert_eq!(server.file_hits(&file_needle(&server, i)), 1, "not retried");
    }
    assert_complete(out.path(), &server, [tiny]);
    assert_eq!(
        files_but_records(out.path()).len(),
        1,
        "nothing kept but the tiny file"
    );
}

#[test]
fn an_html_page_with_status_200_is_not_swc_after_the_retries_and_not_kept() {
    let server = FakeServer::start(Catalog::generate(4));
    let c = client_builder(&server).retries(3).build().unwrap();
    let neurons = c.search(&Query::all()).unwrap();
    file_fault(&server, 2, 100, Fault::Html200);
    let out = TempDir::new();
    let report = c
        .download(&neurons, &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!(report.downloaded, 3);
    assert_eq!(report.failed.len(), 1);
    let f = &report.failed[0];
    assert_eq!(f.reason, FailureKind::NotSwc);
    assert!(f.detail.contains("HTML"), "{f:?}");
    assert_eq!(
        server.file_hits(&file_needle(&server, 2)),
        3,
        "every attempt"
    );
    assert!(!swc_path(out.path(), &server, 2).exists());
    assert_eq!(files_but_records(out.path()).len(), 3);
}

#[test]
fn a_non_utf8_swc_body_is_saved_byte_identical() {
    let mut catalog = Catalog::generate(1);
    let body = b"# ORIGINAL_SOURCE Neurolucida\r\n# caf\xe9 \xff\xfe\x80 r\xe9gion \xc3\x28\r\n\xef\xbb\xbf\n1 1 0.0 0.0 0.0 5.0 -1\r\n2 3 1 1 1 0.5 1\r\n".to_vec();
    assert!(std::str::from_utf8(&body).is_err());
    let i = add_raw(&mut catalog, "latin1_cell", body.clone());
    let server = FakeServer::start(catalog);
    let c = client(&server);
    let neurons = c.search(&Query::all()).unwrap();
    let out = TempDir::new();
    let report = c
        .download(&neurons, &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!(report.failed, vec![]);
    let saved = std::fs::read(swc_path(out.path(), &server, i)).unwrap();
    assert_eq!(saved, body);
}

/// Adds a raw record named `name` (a copy of row 1 with a fresh id) serving `file`.
fn add_raw(catalog: &mut Catalog, name: &str, file: Vec<u8>) -> usize {
    let mut r = catalog.record_value(1.min(catalog.len() - 1));
    r["neuron_id"] = json!(900_000 + catalog.len());
    r["neuron_name"] = json!(name);
    catalog.push_raw(r, Some(file))
}

// ------------------------------------------------------------------------------------------
// Library: paging consistency and malformed JSON

#[test]
fn a_page_reporting_another_total_makes_the_search_start_over() {
    let server = FakeServer::start(Catalog::generate(1200)); // 3 pages
    server.push_fault(FaultRule::new(
        Target::Page(1),
        1,
        Fault::ReportTotalDelta(1),
    ));
    let c = client(&server);
    let mut starts = Vec::new();
    let mut ids = Vec::new();
    let n = c
        .search_each(&Query::all(), |event| {
            match event {
                SearchEvent::Started {
                    total,
                    pages,
                    restart,
                } => {
                    starts.push((total, pages, restart));
                    ids.clear();
                }
                SearchEvent::Page { neurons, .. } => {
                    ids.extend(neurons.iter().map(|n| n.neuron_id().unwrap()))
                }
                _ => {}
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(n, 1200);
    assert_eq!(starts, vec![(1200, 3, false), (1200, 3, true)]);
    let expected: Vec<u64> = (0..1200).map(|i| server.catalog().id(i).unwrap()).collect();
    assert_eq!(ids, expected);
    assert_eq!(server.counters().count, 2, "the count was asked again");

    // The one-call job resets its table on a restart: each neuron is written once.
    server.push_fault(FaultRule::new(
        Target::Page(2),
        1,
        Fault::ReportTotalDelta(-1),
    ));
    let out = TempDir::new();
    let mut options = JobOptions::new(out.path());
    options = options.metadata_only(true);
    let summary = c.download_query(&Query::all(), &options, |_| {}).unwrap();
    assert_eq!(summary.matched, 1200);
    let mut r = csv::Reader::from_path(out.path().join("metadata.csv")).unwrap();
    let col = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "neuron_id")
        .unwrap();
    let written: Vec<u64> = r
        .records()
        .map(|x| x.unwrap()[col].parse().unwrap())
        .collect();
    assert_eq!(written, expected, "no row from the abandoned attempt");
}

#[test]
fn a_count_that_changes_before_the_pages_restarts_once_then_fails_clearly() {
    let server = FakeServer::start(Catalog::generate(1200));
    let c = client(&server);
    // Once: the count says 1207, the pages bring 1200 and say 1200 -> start over, fine.
    server.push_fault(FaultRule::new(Target::Count, 1, Fault::ReportTotalDelta(7)));
    assert_eq!(c.search(&Query::all()).unwrap().len(), 1200);
    assert_eq!(server.counters().count, 2);

    // Every time: an error, never a silently shorter list.
    server.reset_counters();
    server.push_fault(FaultRule::new(
        Target::Count,
        10,
        Fault::ReportTotalDelta(7),
    ));
    let err = c.search(&Query::all()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Incomplete {
                expected: 1207,
                got: 1200,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("expected 1207 neurons, got 1200"),
        "{err}"
    );
    assert_eq!(server.counters().count, 2, "started over once, not forever");
    server.clear_faults();

    // A page that keeps reporting another total: also an error after one restart.
    server.reset_counters();
    server.push_fault(FaultRule::new(
        Target::Page(0),
        10,
        Fault::ReportTotalDelta(-3),
    ));
    let err = c.search(&Query::all()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Incomplete {
                expected: 1197,
                got: 1200,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("expected 1197 neurons, got 1200"),
        "{err}"
    );
    assert_eq!(server.counters().count, 2);
}

#[test]
fn malformed_json_is_retried_then_named_with_its_endpoint_and_page() {
    let server = FakeServer::start(Catalog::generate(1200));
    let c = client_builder(&server).retries(3).build().unwrap();
    let page1 = |s: &FakeServer| {
        s.requests()
            .iter()
            .filter(|r| r.target.contains("page=1&size=500"))
            .count()
    };
    // Once: transient, the search completes.
    server.push_fault(FaultRule::new(Target::Page(1), 1, Fault::MalformedJson));
    assert_eq!(c.search(&Query::all()).unwrap().len(), 1200);
    assert_eq!(page1(&server), 2);

    // Every time: the error names the endpoint and the page.
    server.reset_counters();
    server.push_fault(FaultRule::new(Target::Page(1), 100, Fault::MalformedJson));
    let err = c.search(&Query::all()).unwrap_err();
    assert_eq!(err.kind(), Some(FailureKind::BadJson), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("/api/neuron"), "{msg}");
    assert!(msg.contains("page 1"), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
    assert_eq!(page1(&server), 3, "3 attempts");
}

// ------------------------------------------------------------------------------------------
// Library: stale temporary files

#[test]
fn a_temporary_file_left_by_a_killed_run_is_replaced_not_trusted() {
    let server = FakeServer::start(Catalog::generate(3));
    let c = client(&server);
    let neurons = c.search(&Query::all()).unwrap();
    let out = TempDir::new();
    let downloads = out.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    // Row 0: only a stale, half-written temporary file. Row 1: complete, plus a stale one.
    let name0 = server.catalog().name(0).to_string();
    let name1 = server.catalog().name(1).to_string();
    let half = &server.catalog().swc_bytes(0)[..100];
    std::fs::write(downloads.join(format!(".{name0}.swc.part")), half).unwrap();
    std::fs::write(
        downloads.join(format!("{name1}.swc")),
        server.catalog().swc_bytes(1),
    )
    .unwrap();
    std::fs::write(downloads.join(format!(".{name1}.swc.part")), b"junk").unwrap();
    let report = c
        .download(&neurons, &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!((report.downloaded, report.skipped), (2, 1));
    assert_complete(out.path(), &server, 0..3);
    assert_eq!(server.file_hits(&file_needle(&server, 1)), 0, "kept as is");
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());
}

#[test]
fn hostile_names_never_write_outside_the_output_folder() {
    let mut catalog = Catalog::generate(2);
    let hostile = [
        "../../escape",
        "..",
        ".",
        "/etc/evil",
        "a\\..\\b",
        ".hidden",
        "con\u{0}trol\u{7}",
        " ",
    ];
    for name in hostile {
        add_raw(&mut catalog, name, b"1 1 0 0 0 1 -1\n".to_vec());
    }
    let server = FakeServer::start(catalog);
    let c = client(&server);
    let root = TempDir::new();
    let out = root.path().join("out");
    let neurons = c.search(&Query::all()).unwrap();
    let options = DownloadOptions::new(&out).group_by(["neuron_name"]);
    let report = c.download(&neurons, &options, |_| {}).unwrap();
    // Only the blank name fails: it cannot make a URL.
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    assert_eq!(report.failed[0].reason, FailureKind::InvalidRecord);
    assert_eq!(report.downloaded as usize, server.catalog().len() - 1);
    report.write_failed_csv(&out.join("failed.csv")).unwrap();
    let entries: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries, ["out"], "nothing beside the output folder");
    let out_real = out.canonicalize().unwrap();
    let downloads = out_real.join("downloads");
    let files = files_but_records(&out);
    assert_eq!(
        files.len(),
        report.downloaded as usize + 1,
        "each file once, plus failed.csv: {files:?}"
    );
    for f in &files {
        let real = f.canonicalize().unwrap();
        if real == out_real.join("failed.csv") {
            continue;
        }
        assert!(real.starts_with(&downloads), "{} escaped", real.display());
        for part in real.strip_prefix(&downloads).unwrap().components() {
            let s = part.as_os_str().to_string_lossy();
            assert!(!s.starts_with('.'), "hidden component in {}", f.display());
        }
    }
    assert_eq!(part_files(&out), Vec::<PathBuf>::new());
}

// ------------------------------------------------------------------------------------------
// CLI

#[test]
fn cli_transient_faults_end_complete_with_exit_0() {
    let server = FakeServer::start(Catalog::generate(8));
    file_fault(&server, 1, 1, Fault::Status(503));
    file_fault(
        &server,
        2,
        1,
        Fault::TooMany {
            retry_after: "1".into(),
        },
    );
    file_fault(&server, 3, 1, Fault::ResetBeforeHeaders);
    file_fault(&server, 4, 1, Fault::Truncate);
    file_fault(&server, 5, 1, Fault::Html200);
    server.push_fault(FaultRule::new(Target::Page(0), 1, Fault::Status(502)));
    let out = TempDir::new();
    let o = cli(&server)
        .args([
            "download",
            "--all",
            "-o",
            out.path().to_str().unwrap(),
            "-c",
            "4",
            "--no-log",
            "-q",
        ])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(o.err, "", "quiet");
    assert_complete(out.path(), &server, 0..8);
    for i in 0..8 {
        let expected = if (1..=5).contains(&i) { 2 } else { 1 };
        assert_eq!(
            server.file_hits(&file_needle(&server, i)),
            expected,
            "row {i}"
        );
    }
    assert_eq!(server.counters().pages, 2);
    assert!(!out.path().join("failed.csv").exists());
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());
}

#[test]
fn cli_permanent_failures_go_to_failed_csv_with_exit_3() {
    let server = FakeServer::start(Catalog::generate(10));
    let gone = server.catalog().name(2).to_string();
    server.remove_file(&gone);
    file_fault(&server, 5, 100, Fault::Status(403));
    file_fault(&server, 7, 100, Fault::Html200);
    let out = TempDir::new();
    let o = cli(&server)
        .args([
            "download",
            "--all",
            "-o",
            out.path().to_str().unwrap(),
            "--retries",
            "2",
            "--no-log",
        ])
        .run();
    assert_eq!(o.code, 3, "{}", o.err);
    let err = &o.err;
    assert!(err.contains("3 files failed"), "{err}");
    assert!(err.contains("failed.csv"), "{err}");
    let rows = failed_rows(out.path());
    let mut got: Vec<(String, String)> = rows
        .iter()
        .map(|(n, _, reason, _)| (n.clone(), reason.clone()))
        .collect();
    got.sort();
    let mut expected = vec![
        (gone.clone(), "not-found".to_string()),
        (server.catalog().name(5).to_string(), "http-4xx".to_string()),
        (server.catalog().name(7).to_string(), "not-swc".to_string()),
    ];
    expected.sort();
    assert_eq!(got, expected);
    for (name, url, _, detail) in &rows {
        assert!(url.starts_with(&server.base_url()), "{url}");
        assert!(url.ends_with(".CNG.swc"), "{url}");
        assert!(!detail.is_empty(), "{name}");
    }
    assert_complete(out.path(), &server, [0, 1, 3, 4, 6, 8, 9]);
    for i in [2, 5, 7] {
        assert!(!swc_path(out.path(), &server, i).exists());
    }
    assert_eq!(server.file_hits(&file_needle(&server, 2)), 1, "404 once");
    assert_eq!(server.file_hits(&file_needle(&server, 5)), 1, "403 once");
    assert_eq!(server.file_hits(&file_needle(&server, 7)), 2, "--retries 2");
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());

    // Run again once the server is healthy: only the failed files are fetched, and the
    // stale failed.csv goes away. (The 404 stays a 404.)
    server.clear_faults();
    server.reset_counters();
    let o = cli(&server)
        .args([
            "download",
            "--all",
            "-o",
            out.path().to_str().unwrap(),
            "--no-log",
            "-q",
        ])
        .run();
    assert_eq!(o.code, 3, "{}", o.err);
    assert_eq!(server.counters().files, 3);
    assert_complete(out.path(), &server, [5, 7]);
    let rows = failed_rows(out.path());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, gone);
}

#[test]
fn cli_one_retry_setting_means_a_single_attempt() {
    let server = FakeServer::start(Catalog::generate(3));
    file_fault(&server, 1, 1, Fault::Status(503));
    let out = TempDir::new();
    let o = cli(&server)
        .args([
            "download",
            "--all",
            "-o",
            out.path().to_str().unwrap(),
            "--retries",
            "1",
            "--no-log",
            "-q",
        ])
        .run();
    assert_eq!(o.code, 3, "{}", o.err);
    assert_eq!(server.file_hits(&file_needle(&server, 1)), 1);
    let rows = failed_rows(out.path());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].2, "http-5xx");
    assert!(rows[0].3.starts_with("503"), "{rows:?}");
}

#[test]
fn cli_max_file_size_refuses_large_bodies() {
    let mut catalog = Catalog::generate(2);
    let tiny = add_raw(&mut catalog, "tiny_cell", b"1 1 0 0 0 1 -1\n".to_vec());
    let server = FakeServer::start(catalog);
    let out = TempDir::new();
    let o = cli(&server)
        .args([
            "download",
            "--all",
            "-o",
            out.path().to_str().unwrap(),
            "--max-file-size",
            "1K",
            "--no-log",
            "-q",
        ])
        .run();
    assert_eq!(o.code, 3, "{}", o.err);
    let rows = failed_rows(out.path());
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.2 == "too-large"), "{rows:?}");
    assert_complete(out.path(), &server, [tiny]);
    assert!(!swc_path(out.path(), &server, 0).exists());
    assert!(!swc_path(out.path(), &server, 1).exists());
    assert_eq!(server.counters().files, 3, "too-large is not retried");
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());
}

#[test]
fn cli_unreachable_server_is_one_clear_line_with_exit_1() {
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        drop(l);
        url
    };
    let out = TempDir::new();
    for quiet in [true, false] {
        let mut args = vec![
            "download",
            "--all",
            "-o",
            out.path().to_str().unwrap(),
            "--retries",
            "2",
            "--no-log",
        ];
        if quiet {
            args.push("-q");
        }
        let o = cli_at(&dead).args(&args).run();
        assert_eq!(o.code, 1, "{}", o.err);
        let err = &o.err;
        let errors: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
        assert_eq!(errors.len(), 1, "one error line: {err}");
        let line = errors[0];
        if quiet {
            assert_eq!(err.lines().count(), 1, "only the error with -q: {err}");
        }
        assert!(line.contains(&dead), "{line}");
        assert!(
            line.contains("refused") || line.contains("unreachable"),
            "{line}"
        );
        // Nothing answered: a local cause (network, address, proxy), not a server that is
        // down, so the line points at the network and the doctor, not at the other host.
        assert!(
            line.contains("check your network") && line.contains("neuromorpho doctor"),
            "{line}"
        );
        assert!(!line.contains("may be down"), "{line}");
    }
    assert!(!out.path().join("downloads").exists());
}

#[test]
fn cli_unwritable_output_folder_is_one_clear_line_with_exit_1() {
    let server = FakeServer::start(Catalog::generate(3));
    let dir = TempDir::new();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a folder").unwrap();
    let target = file.join("out");
    let o = cli(&server)
        .args(["download", "--all", "-o", target.to_str().unwrap()])
        .run();
    assert_eq!(o.code, 1, "{}", o.err);
    let err = &o.err;
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(target.to_str().unwrap()), "{err}");
    assert!(err.contains("output folder"), "{err}");
    assert_eq!(server.counters().files, 0);
    assert_eq!(std::fs::read(&file).unwrap(), b"not a folder");
}

#[test]
fn cli_concurrency_out_of_range_is_a_usage_error() {
    let server = FakeServer::start(Catalog::generate(3));
    let out = TempDir::new();
    for c in ["0", "1000"] {
        let o = cli(&server)
            .args([
                "download",
                "--all",
                "-o",
                out.path().to_str().unwrap(),
                "-c",
                c,
                "--no-log",
            ])
            .run();
        assert_eq!(o.code, 2, "-c {c}: {}", o.err);
        assert!(o.err.contains("concurrency"), "{}", o.err);
    }
    assert_eq!(server.counters().requests, 0, "nothing was asked");
}

#[test]
fn cli_hostile_names_and_groups_stay_inside_the_output_folder() {
    let mut with_species = Catalog::generate(3);
    let base = with_species.record_value(1);
    for (k, name) in ["../../escape", "..", "/abs/path", ".hidden", "a\\b"]
        .iter()
        .enumerate()
    {
        let mut r = base.clone();
        r["neuron_id"] = json!(800_000 + k);
        r["neuron_name"] = json!(name);
        r["species"] = json!(["../..", "..", "/", "", "x/../../y"][k]);
        with_species.push_raw(r, Some(b"1 1 0 0 0 1 -1\n".to_vec()));
    }
    let server = FakeServer::start(with_species);
    let root = TempDir::new();
    let out = root.path().join("out");
    let o = cli(&server)
        .args([
            "download",
            "--all",
            "-o",
            out.to_str().unwrap(),
            "-g",
            "species",
            "--no-log",
            "-q",
        ])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let entries: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries, ["out"], "nothing beside the output folder");
    let out_real = out.canonicalize().unwrap();
    let downloads = out_real.join("downloads");
    let files = files_under(&out);
    let swcs: Vec<&PathBuf> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "swc"))
        .collect();
    assert_eq!(swcs.len(), 8, "{files:?}");
    for f in &files {
        let real = f.canonicalize().unwrap();
        assert!(real.starts_with(&out_real), "{} escaped", real.display());
        if real.extension().is_some_and(|e| e == "swc") {
            assert!(real.starts_with(&downloads), "{}", real.display());
            for part in real.strip_prefix(&downloads).unwrap().components() {
                let s = part.as_os_str().to_string_lossy();
                assert!(!s.starts_with('.'), "hidden component in {}", f.display());
            }
        }
    }
}
