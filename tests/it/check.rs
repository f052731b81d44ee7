//! Checking SWC files: `Client::fetch_morphology` and `Client::fetch_file` against the fake
//! server, and `neuromorpho check` on folders built from `fixtures/swc/` (real files, with
//! NeuroM's numbers in `fixtures/neurom/neurom.json`) and `fixtures/swc-broken/`.

use crate::support;

use std::error::Error as _;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use neuromorpho::swc::{IssueCode, Morphology, Severity};
use neuromorpho::{Error, FailureKind, FileKind, Neuron};
use serde_json::{json, Value};
use support::*;

fn neuron(server: &FakeServer, i: usize) -> Neuron {
    serde_json::from_value(server.catalog().record_value(i)).unwrap()
}

fn fixture_of(server: &FakeServer, i: usize) -> PathBuf {
    fixtures_dir()
        .join("swc")
        .join(server.catalog().swc_fixture_name(i).unwrap())
}

// ------------------------------------------------------------------------------------------
// The library: one neuron's file into memory

#[test]
fn fetch_morphology_gives_the_served_file_parsed_with_one_request_each() {
    let server = FakeServer::start(Catalog::generate(30));
    let c = client(&server);
    let rows = [0, 1, 7, 13, 24, 26];
    for i in rows {
        let m = c.fetch_morphology(&neuron(&server, i)).unwrap();
        let expected = Morphology::from_path(fixture_of(&server, i)).unwrap();
        assert_eq!(m.points(), expected.points(), "row {i}");
        assert_eq!(m.comments(), expected.comments(), "row {i}");
        assert_eq!(m.measures(), expected.measures(), "row {i}");
        assert_eq!(server.file_hits(&file_needle(&server, i)), 1, "row {i}");
    }
    let counted = server.counters();
    assert_eq!((counted.requests, counted.files), (rows.len(), rows.len()));
}

#[test]
fn fetch_file_gives_the_bytes_of_any_kind() {
    let server = FakeServer::start(Catalog::generate(12));
    let c = client(&server);
    let cng = c.fetch_file(&neuron(&server, 3), FileKind::Cng).unwrap();
    assert_eq!(cng, server.catalog().swc_bytes(3));
    // Row 4's original is a Neurolucida file: not SWC, kept byte for byte.
    let n = neuron(&server, 4);
    assert_eq!(n.original_format(), Some("Neurolucida.asc"));
    let original = c.fetch_file(&n, FileKind::Original).unwrap();
    assert_eq!(Some(original), server.catalog().original_bytes(4));
    assert_eq!(server.counters().files, 2);
}

#[test]
fn a_missing_file_is_a_request_error_with_status_404() {
    let server = FakeServer::start(Catalog::generate(10));
    let name = server.catalog().name(5).to_string();
    server.remove_file(&name);
    let e = client(&server)
        .fetch_morphology(&neuron(&server, 5))
        .unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Request {
                status: Some(404),
                kind: FailureKind::NotFound,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.status(), Some(404));
    assert!(e.to_string().contains(&name), "{e}");
    assert_eq!(server.counters().files, 1, "a 404 is not retried");
}

#[test]
fn an_html_page_is_refused_after_the_retries() {
    let server = FakeServer::start(Catalog::generate(10));
    server.push_fault(FaultRule::new(
        Target::Path(file_needle(&server, 2)),
        100,
        Fault::Html200,
    ));
    let c = client_builder(&server).retries(2).build().unwrap();
    let e = c.fetch_morphology(&neuron(&server, 2)).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Request {
                kind: FailureKind::NotSwc,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(server.counters().files, 2, "refused, then tried once more");
    // Not SWC for any kind of file.
    let e = c
        .fetch_file(&neuron(&server, 2), FileKind::Cng)
        .unwrap_err();
    assert_eq!(e.kind(), Some(FailureKind::NotSwc));
}

#[test]
fn a_body_larger_than_the_maximum_is_refused() {
    let server = FakeServer::start(Catalog::generate(3));
    let c = client_builder(&server).max_file_size(100).build().unwrap();
    let e = c.fetch_morphology(&neuron(&server, 1)).unwrap_err();
    assert_eq!(e.kind(), Some(FailureKind::TooLarge), "{e}");
}

#[test]
fn a_body_the_reader_refuses_names_the_url_and_the_line() {
    let mut catalog = Catalog::generate(2);
    // The first data line is SWC, so the download's check lets it through; line 3 is not.
    let row = catalog.push_raw(
        json!({"neuron_id": 900, "neuron_name": "bad_x", "archive": "Markram"}),
        Some(b"# header\n1 1 0 0 0 5 -1\n2 3 abc 5 0 1 1\n".to_vec()),
    );
    let server = FakeServer::start(catalog);
    let n = neuron(&server, row);
    let e = client(&server).fetch_morphology(&n).unwrap_err();
    let Error::Swc { url, .. } = &e else {
        panic!("not an Swc error: {e:?}")
    };
    assert_eq!(url, &n.swc_url(&server.base_url()).unwrap());
    let source = e
        .parse_error()
        .expect("the cause is the reader's ParseError");
    assert_eq!((source.code, source.line), (IssueCode::NotANumber, 3));
    // Display says what went wrong at its level (the URL), the cause says where: each once.
    let text = e.to_string();
    assert!(text.starts_with(url.as_str()), "{text}");
    assert!(
        !text.contains("line 3"),
        "the cause is not repeated: {text}"
    );
    let chain = format!("{text}: {}", e.source().unwrap());
    assert!(chain.contains("line 3: 'abc' is not a number"), "{chain}");
    assert_eq!(source.code.as_str(), "not-a-number");
    assert_eq!(e.kind(), Some(FailureKind::NotSwc));
    assert_eq!(
        e.source().map(|s| s.to_string()),
        Some(source.to_string()),
        "source() is the ParseError"
    );
    // The raw bytes are still there to be had.
    let bytes = client(&server).fetch_file(&n, FileKind::Cng).unwrap();
    assert_eq!(bytes, server.catalog().swc_bytes(row));
}

#[test]
fn a_record_without_archive_or_name_sends_nothing() {
    let server = FakeServer::start(Catalog::generate(2));
    let c = client(&server);
    for (record, missing) in [
        (json!({"neuron_id": 77, "neuron_name": "x"}), "archive"),
        (
            json!({"neuron_id": 78, "archive": "Markram"}),
            "neuron_name",
        ),
    ] {
        let n = Neuron::from_map(record.as_object().unwrap().clone());
        let e = c.fetch_morphology(&n).unwrap_err();
        assert!(matches!(e, Error::InvalidRecord { .. }), "{e:?}");
        assert_eq!(e.kind(), Some(FailureKind::InvalidRecord));
        assert!(e.to_string().contains(missing), "{e}");
    }
    let no_extension = Neuron::from_map(
        json!({"neuron_id": 79, "neuron_name": "y", "archive": "Markram", "original_format": "none"})
            .as_object()
            .unwrap()
            .clone(),
    );
    assert!(matches!(
        c.fetch_file(&no_extension, FileKind::Original),
        Err(Error::InvalidRecord {
            neuron_id: Some(79),
            ..
        })
    ));
    assert_eq!(server.counters().requests, 0);
    assert!(
        c.fetch_morphology(&neuron(&server, 1)).is_ok(),
        "the server was there all along"
    );
}

// ------------------------------------------------------------------------------------------
// The command: `neuromorpho check`

/// A folder with `good/` (a copy of `fixtures/swc/`) and, with `broken`, `broken/` (a copy
/// of `fixtures/swc-broken/`).
fn folder(broken: bool) -> TempDir {
    let dir = TempDir::new();
    let mut sources = vec![("swc", "good")];
    if broken {
        sources.push(("swc-broken", "broken"));
    }
    for (from, to) in sources {
        let target = dir.path().join(to);
        std::fs::create_dir_all(&target).unwrap();
        for entry in std::fs::read_dir(fixtures_dir().join(from)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, target.join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}

fn swc_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".swc"))
        .collect();
    names.sort();
    names
}

fn neurom() -> Value {
    let path = fixtures_dir().join("neurom/neurom.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn jsonl(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

/// Every field of one JSONL object, its issues included, has the documented name and type.
fn assert_well_formed(v: &Value) {
    assert_eq!(
        keys(v),
        [
            "file",
            "points",
            "roots",
            "stems",
            "bifurcations",
            "tips",
            "total_length",
            "issues"
        ],
        "{v}"
    );
    assert!(v["file"].is_string());
    for k in ["points", "roots", "stems", "bifurcations", "tips"] {
        assert!(v[k].is_u64() || v[k].is_null(), "{k}: {v}");
    }
    assert!(v["total_length"].is_f64() || v["total_length"].is_null());
    for issue in v["issues"].as_array().unwrap() {
        assert_eq!(keys(issue), ["code", "severity", "line", "message"], "{v}");
        let code = IssueCode::from_name(issue["code"].as_str().unwrap()).unwrap();
        assert_eq!(issue["severity"], code.severity().as_str(), "{issue}");
        assert!(issue["line"].is_u64() || issue["line"].is_null(), "{issue}");
        assert!(!issue["message"].as_str().unwrap().is_empty());
    }
}

fn has_error(v: &Value) -> bool {
    v["issues"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["severity"] == "error")
}

/// The line of MorphIO's error in its message (`path.swc:34:error Found soma bifurcation`).
fn morphio_error_line(message: &str) -> Option<u64> {
    let at = message.find(":error")?;
    let digits = message[..at].rsplit(':').next()?;
    digits.parse().ok()
}

fn close(ours: f64, theirs: f64) -> bool {
    (ours - theirs).abs() <= 2e-6 * theirs.abs().max(1.0)
}

#[test]
fn check_a_folder_as_json_lines() {
    let dir = folder(true);
    let o = Cli::new()
        .args(["check", "--format", "jsonl"])
        .arg(dir.path())
        .run();
    assert_eq!(o.code, 3, "some files have errors: {}", o.err);
    let lines = jsonl(&o.out);
    // Walk order: folders sorted, files sorted by name.
    let expected: Vec<PathBuf> = ["broken", "good"]
        .iter()
        .flat_map(|sub| {
            let d = dir.path().join(sub);
            swc_names(&d).into_iter().map(move |n| d.join(n))
        })
        .collect();
    let files: Vec<PathBuf> = lines
        .iter()
        .map(|v| PathBuf::from(v["file"].as_str().unwrap()))
        .collect();
    assert_eq!(files, expected);
    let record = neurom();
    let (mut real, mut refused, mut broken_with_errors) = (0, 0, 0);
    for (v, path) in lines.iter().zip(&files) {
        assert_well_formed(v);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let codes: Vec<&str> = v["issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["code"].as_str().unwrap())
            .collect();
        if has_error(v) {
            // No tree measures for a file that is not a usable tree.
            for k in ["stems", "bifurcations", "tips", "total_length"] {
                assert!(v[k].is_null(), "{name}: {k}");
            }
        }
        if path.starts_with(dir.path().join("good")) {
            real += 1;
            let rec = &record["files"][&name];
            assert!(!has_error(v), "{name}: {v}");
            let m = Morphology::from_path(path).unwrap();
            assert_eq!(v["points"], m.points().len(), "{name}");
            assert_eq!(v["roots"], m.roots().count(), "{name}");
            if let Some(refusal) = rec["neurom_error"].as_str() {
                // NeuroM refuses it: the line MorphIO names is one of ours, with a warning
                // that says MorphIO refuses the file.
                refused += 1;
                let line = morphio_error_line(refusal).unwrap();
                let flagged = v["issues"].as_array().unwrap().iter().any(|i| {
                    i["line"] == line && i["message"].as_str().unwrap().contains("refuse")
                });
                assert!(flagged, "{name}: line {line} ({refusal}) not in {v}");
                continue;
            }
            // NeuroM's numbers for every file it reads.
            assert_eq!(v["stems"], rec["number_of_neurites"], "{name}");
            assert_eq!(v["bifurcations"], rec["number_of_bifurcations"], "{name}");
            assert_eq!(v["tips"], rec["number_of_leaves"], "{name}");
            let (ours, theirs) = (
                v["total_length"].as_f64().unwrap(),
                rec["total_length"].as_f64().unwrap(),
            );
            assert!(close(ours, theirs), "{name}: {ours} vs NeuroM {theirs}");
        } else {
            // A hand-made file named after an issue code has that issue, with its line
            // where it applies to one.
            let stem = name.trim_end_matches(".swc");
            if let Some(code) = IssueCode::from_name(stem) {
                assert!(codes.contains(&stem), "{name}: {codes:?}");
                if code.severity() == Severity::Error {
                    broken_with_errors += 1;
                    let issue = v["issues"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|i| i["code"] == stem)
                        .unwrap();
                    if code != IssueCode::NoRoot {
                        assert!(issue["line"].is_u64(), "{name}: {issue}");
                    }
                }
            }
        }
    }
    assert_eq!(
        (real, refused),
        (25, 1),
        "dCH-cobalt is the one NeuroM refuses"
    );
    assert!(broken_with_errors >= 10, "{broken_with_errors}");
    let with_errors = lines.iter().filter(|v| has_error(v)).count();
    assert!(
        o.err.contains(&format!(
            "checked {} files: {} without error, {with_errors} with errors",
            lines.len(),
            lines.len() - with_errors
        )),
        "{}",
        o.err
    );
}

/// The table's rows (not the issue lines): the 7 number cells and the file.
fn table_rows(out: &str) -> Vec<(Vec<String>, String)> {
    let mut lines = out.lines();
    let header = lines.next().unwrap_or_default();
    let Some(file_column) = header.find("file") else {
        return Vec::new();
    };
    lines
        .filter_map(|line| {
            let cells: Vec<String> = line
                .get(..file_column)?
                .split_whitespace()
                .map(String::from)
                .collect();
            let numbers =
                cells.len() == 7 && cells.iter().all(|c| c == "-" || c.parse::<f64>().is_ok());
            numbers.then(|| (cells, line.get(file_column..).unwrap_or("").to_string()))
        })
        .collect()
}

#[test]
fn good_files_only_exit_0_with_a_table_by_default() {
    let dir = folder(false);
    let good = dir.path().join("good");
    // Stdout is a pipe here: the table all the same.
    let o = Cli::new().arg("check").arg(&good).args(["-c", "2"]).run();
    assert_eq!(o.code, 0, "{}", o.err);
    let header: Vec<&str> = o.out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "points",
            "stems",
            "bifurcations",
            "tips",
            "total_length",
            "errors",
            "warnings",
            "file"
        ]
    );
    let record = neurom();
    let rows = table_rows(&o.out);
    let names: Vec<String> = rows
        .iter()
        .map(|(_, file)| {
            let path = Path::new(file);
            assert_eq!(path.parent(), Some(good.as_path()));
            path.file_name().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    assert_eq!(names, swc_names(&good));
    for ((cells, _), name) in rows.iter().zip(&names) {
        let rec = &record["files"][name];
        if rec["neurom_loaded"] == false {
            continue; // dCH-cobalt: see check_a_folder_as_json_lines
        }
        assert_eq!(cells[1], rec["number_of_neurites"].to_string(), "{name}");
        assert_eq!(
            cells[2],
            rec["number_of_bifurcations"].to_string(),
            "{name}"
        );
        assert_eq!(cells[3], rec["number_of_leaves"].to_string(), "{name}");
        let length: f64 = cells[4].parse().unwrap();
        let theirs = rec["total_length"].as_f64().unwrap();
        // Rounded to 2 decimals; NeuroM sums in f32.
        let tolerance = 0.005 + 2e-6 * theirs;
        assert!(
            (length - theirs).abs() <= tolerance,
            "{name}: {length} vs {theirs}"
        );
        assert_eq!(cells[5], "0", "{name}: no error");
    }
    assert!(
        o.err
            .contains("checked 25 files: 25 without error, 0 with errors"),
        "{}",
        o.err
    );
}

#[test]
fn the_table_lists_each_issue_under_its_file_with_its_line() {
    let dir = folder(true);
    let broken = dir.path().join("broken");
    let o = Cli::new().arg("check").arg(&broken).run();
    assert_eq!(o.code, 3, "{}", o.err);
    let lines: Vec<&str> = o.out.lines().collect();
    let row = lines
        .iter()
        .position(|l| l.ends_with("duplicate-id.swc"))
        .unwrap();
    let cells: Vec<&str> = lines[row].split_whitespace().collect();
    assert_eq!(
        &cells[..7],
        ["3", "-", "-", "-", "-", "1", "0"],
        "{}",
        lines[row]
    );
    assert!(
        lines[row + 1].starts_with("    line 4: ")
            && lines[row + 1].ends_with("[error duplicate-id]"),
        "{}",
        lines[row + 1]
    );
    assert_eq!(table_rows(&o.out).len(), swc_names(&broken).len());
}

#[test]
fn missing_paths_and_nothing_to_check_exit_1() {
    let dir = TempDir::new();
    let o = Cli::new()
        .arg("check")
        .arg(dir.path().join("nope.swc"))
        .arg(dir.path().join("no-such-folder"))
        .run();
    assert_eq!(o.code, 1, "{}", o.err);
    assert!(o.err.contains("nothing could be read"), "{}", o.err);
    assert_eq!(o.out.matches("[error io]").count(), 2, "{}", o.out);
    // A folder without any .swc file (hidden temporary files do not count).
    std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
    std::fs::write(dir.path().join(".a.swc.part"), "1 1 0 0 0 1 -1\n").unwrap();
    let o = Cli::new()
        .args(["check", "--format", "jsonl"])
        .arg(dir.path())
        .run();
    assert_eq!(o.code, 1, "{}", o.err);
    assert!(o.err.contains("no .swc file found"), "{}", o.err);
    assert_eq!(o.out, "");
    // One readable file among missing ones: its errors decide.
    let good = fixtures_dir().join("swc/p19.CNG.swc");
    let o = Cli::new()
        .args(["check", "--format", "jsonl"])
        .arg(&good)
        .arg(dir.path().join("nope.swc"))
        .run();
    assert_eq!(o.code, 3, "the missing file is an error: {}", o.err);
    assert_eq!(jsonl(&o.out).len(), 2);
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["check"],
        vec!["check", "x.swc", "--bogus"],
        vec!["check", "x.swc", "--format", "xml"],
        vec!["check", "x.swc", "--format"],
        vec!["check", "x.swc", "-c", "0"],
        vec!["check", "x.swc", "-c", "many"],
    ] {
        let o = Cli::new().args(&args).run();
        assert_eq!(o.code, 2, "{args:?}: {}", o.err);
        assert!(
            o.err.starts_with("neuromorpho: usage error: "),
            "{args:?}: {}",
            o.err
        );
        assert_eq!(o.err.trim().lines().count(), 1, "{args:?}: {}", o.err);
        assert_eq!(o.out, "");
    }
    let o = Cli::new().args(["check", "x.swc", "--format", "xml"]).run();
    assert!(
        o.err.contains("--format 'xml'") && o.err.contains("table or jsonl"),
        "{}",
        o.err
    );
    let o = Cli::new().args(["check", "x.swc", "--bogus"]).run();
    assert!(o.err.contains("'--bogus'"), "{}", o.err);
}

#[test]
fn stdin_is_read_with_a_dash() {
    let path = fixtures_dir().join("swc/p19.CNG.swc");
    let bytes = std::fs::read(&path).unwrap();
    let o = Cli::new()
        .args(["check", "-", "--format", "jsonl"])
        .stdin(bytes)
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let lines = jsonl(&o.out);
    assert_eq!(lines.len(), 1);
    assert_well_formed(&lines[0]);
    assert_eq!(lines[0]["file"], "-");
    let rec = &neurom()["files"]["p19.CNG.swc"];
    assert_eq!(lines[0]["stems"], rec["number_of_neurites"]);
    assert_eq!(lines[0]["tips"], rec["number_of_leaves"]);
    let html = std::fs::read(fixtures_dir().join("swc-broken/html.swc")).unwrap();
    let o = Cli::new().args(["check", "-"]).stdin(html).run();
    assert_eq!(o.code, 3, "{}", o.err);
    assert!(o.out.contains("[error html]"), "{}", o.out);
}

#[test]
fn a_closed_stdout_ends_the_run_promptly_and_quietly() {
    let dir = TempDir::new();
    let many = dir.path().join("many");
    std::fs::create_dir_all(&many).unwrap();
    // Far more output than a pipe holds: the run is still writing when the reader goes.
    for k in 0..4000 {
        std::fs::write(
            many.join(format!("f{k:05}.swc")),
            "1 1 0 0 0 5 -1\n2 3 0 5 0 1 1\n3 3 0 9 0 1 2\n",
        )
        .unwrap();
    }
    for format in ["table", "jsonl"] {
        let mut child = Cli::new()
            .args(["check", "--format", format])
            .arg(&many)
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        assert!(!first.is_empty());
        drop(out); // `| head -1`
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                panic!("{format}: still running 30 s after stdout was closed");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(status.code(), Some(0), "{format}: {err}");
        assert_eq!(err, "", "{format}: quietly");
    }
}

#[test]
fn help_names_the_command_its_formats_and_exit_codes() {
    let o = Cli::new().args(["check", "--help"]).run();
    assert_eq!(o.code, 0);
    assert!(o.out.starts_with("neuromorpho check PATH..."), "{}", o.out);
    for word in [
        "--format",
        "jsonl",
        "total_length",
        "IssueCode",
        "EXIT CODES",
    ] {
        assert!(o.out.contains(word), "{word}: {}", o.out);
    }
    let o = Cli::new().arg("--help").run();
    assert!(o.out.contains("check PATH..."), "{}", o.out);
    assert!(
        o.out.contains("neuromorpho check "),
        "an example: {}",
        o.out
    );
    let o = Cli::new().args(["help", "check"]).run();
    assert!(o.out.starts_with("neuromorpho check"), "{}", o.out);
}

#[test]
fn check_a_real_download_gives_neuroms_numbers_for_every_file() {
    let server = FakeServer::start(Catalog::generate(30));
    let out = TempDir::new();
    let o = cli(&server)
        .args(["download", "--all", "--no-log", "-o"])
        .arg(out.path())
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let downloads = out.path().join("downloads");
    let o = Cli::new()
        .args(["check", "--format", "jsonl"])
        .arg(&downloads)
        .run();
    assert_eq!(o.code, 0, "no file has an error: {}", o.err);
    let lines = jsonl(&o.out);
    assert_eq!(lines.len(), 30);
    let record = neurom();
    for v in &lines {
        assert_well_formed(v);
        let file = PathBuf::from(v["file"].as_str().unwrap());
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let row = server.catalog().index_of_name(&name).unwrap();
        let fixture = server.catalog().swc_fixture_name(row).unwrap();
        let rec = &record["files"][fixture];
        if rec["neurom_loaded"] == false {
            assert!(v["issues"].to_string().contains("soma-bifurcation"), "{v}");
            continue;
        }
        assert_eq!(v["stems"], rec["number_of_neurites"], "{name} ({fixture})");
        assert_eq!(v["bifurcations"], rec["number_of_bifurcations"], "{name}");
        assert_eq!(v["tips"], rec["number_of_leaves"], "{name}");
        let ours = v["total_length"].as_f64().unwrap();
        assert!(close(ours, rec["total_length"].as_f64().unwrap()), "{name}");
    }
}
