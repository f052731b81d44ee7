//! The `neuromorpho` binary, run as a process against the fake server.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::*;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_neuromorpho"));
    // Proxy variables on CI or HPC machines must not hijack 127.0.0.1.
    for v in [
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "RUST_LOG",
        "SSL_CERT_FILE",
    ] {
        c.env_remove(v);
    }
    c
}

/// Run with the fake server's URL and test-friendly network flags.
fn run(server: &FakeServer, args: &[&str]) -> Output {
    bin()
        .args([
            "--base-url",
            &server.base_url(),
            "--no-proxy",
            "--rate",
            "0",
        ])
        .args(args)
        .output()
        .expect("run neuromorpho")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn download_end_to_end() {
    let server = FakeServer::start(Catalog::generate(1700));
    let dir = TempDir::new();
    let query = write(
        dir.path(),
        "mice.json",
        r#"{"filters": {"species": ["mouse", "rat"]}, "sort": {"field": "neuron_id", "ascending": true}}"#,
    );
    let out = dir.path().join("out");
    let o = run(
        &server,
        &["download", &query, "-o", out.to_str().unwrap(), "-c", "8"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let expected = server.catalog().query("species:mouse,rat", &[]).unwrap();
    assert!(expected.len() > 500, "several pages");
    // Every matching file, byte-identical.
    for &i in &expected {
        let name = server.catalog().name(i).to_string();
        let got = std::fs::read(out.join("downloads").join(format!("{name}.swc"))).unwrap();
        assert_eq!(got, server.catalog().swc_bytes(i), "{name}");
    }
    assert_eq!(
        std::fs::read_dir(out.join("downloads")).unwrap().count(),
        expected.len()
    );
    // One request per file, one per 500 records, one for the count.
    let k = server.counters();
    assert_eq!(
        k.requests,
        expected.len() + expected.len().div_ceil(500) + 1,
        "{k:?}"
    );
    // The CSV: neuromorphopy's columns and cleaned values.
    let mut r = csv::Reader::from_path(out.join("metadata.csv")).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        &headers[..4],
        ["neuron_id", "neuron_name", "archive", "note"]
    );
    assert!(!headers.iter().any(|h| h == "_links"));
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), expected.len());
    let col = |n: &str| headers.iter().position(|h| h == n).unwrap();
    for (row, &i) in rows.iter().zip(&expected) {
        let rec = server.catalog().record_value(i);
        assert_eq!(
            &row[col("neuron_name")],
            rec["neuron_name"].as_str().unwrap()
        );
        assert_eq!(&row[col("neuron_id")], rec["neuron_id"].to_string());
        let archive = rec["archive"].as_str().unwrap().to_lowercase();
        assert_eq!(&row[col("archive")], archive.replace(' ', "_"));
    }
    // A log file named after the query file, with the summary.
    let logs: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("-mice.log"))
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let log = std::fs::read_to_string(out.join(&logs[0])).unwrap();
    assert!(
        log.contains(&format!("matched {}", expected.len())),
        "{log}"
    );
    // The summary on stderr.
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "matched {}, downloaded {}, skipped 0, failed 0",
            expected.len(),
            expected.len()
        )),
        "{err}"
    );
    assert!(out.join("CITATIONS.md").exists());

    // Again: everything is skipped, no file requested, exit 0.
    server.reset_counters();
    let o = run(
        &server,
        &["download", &query, "-o", out.to_str().unwrap(), "--no-log"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(server.counters().files, 0);
    assert!(
        stderr(&o).contains(&format!("downloaded 0, skipped {}", expected.len())),
        "{}",
        stderr(&o)
    );
}

#[test]
fn group_by_and_filters_from_flags() {
    let server = FakeServer::start(Catalog::generate(200));
    let dir = TempDir::new();
    let out = dir.path().join("g");
    let o = run(
        &server,
        &[
            "download",
            "-f",
            "species=monkey",
            "-g",
            "species,archive",
            "-o",
            out.to_str().unwrap(),
            "--no-log",
            "-q",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "--quiet prints nothing");
    let expected = server.catalog().query("species:monkey", &[]).unwrap();
    for &i in &expected {
        let rec = server.catalog().record_value(i);
        let p = out
            .join("downloads/monkey")
            .join(rec["archive"].as_str().unwrap())
            .join(format!("{}.swc", rec["neuron_name"].as_str().unwrap()));
        assert!(p.is_file(), "{}", p.display());
    }
}

#[test]
fn preview_prints_and_writes_nothing() {
    let server = FakeServer::start(Catalog::generate(120));
    let dir = TempDir::new();
    let out = dir.path().join("never");
    let o = run(
        &server,
        &[
            "preview",
            "-f",
            "species=mouse",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let expected = server.catalog().query("species:mouse", &[]).unwrap();
    assert!(
        text.contains(&format!("neurons:   {}", expected.len())),
        "{text}"
    );
    let first3: Vec<String> = expected
        .iter()
        .take(3)
        .map(|&i| server.catalog().name(i).to_string())
        .collect();
    assert!(text.contains(&first3.join(", ")), "{text}");
    assert!(text.contains("metadata.csv"), "{text}");
    assert!(!out.exists(), "preview writes nothing");
    assert_eq!(server.counters().files, 0);
    // An unknown value is listed with suggestions, exit 1.
    let o = run(&server, &["preview", "-f", "species=mose"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("unknown value 'mose' for field 'species'") && err.contains("mouse"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[test]
fn fields_lists_fields_and_every_value() {
    let server = FakeServer::start(Catalog::generate(700));
    let o = run(&server, &["fields"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).lines().any(|l| l == "species"));
    let o = run(&server, &["fields", "neuron_name"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 700, "all pages");
}

#[test]
fn metadata_command_writes_only_the_table() {
    let server = FakeServer::start(Catalog::generate(80));
    let dir = TempDir::new();
    let out = dir.path().join("m");
    let o = run(
        &server,
        &[
            "metadata",
            "--all",
            "-o",
            out.to_str().unwrap(),
            "-m",
            "table.csv",
            "--no-log",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = std::fs::read_to_string(out.join("table.csv"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(rows, 81);
    assert!(!out.join("downloads").exists());
    assert_eq!(server.counters().files, 0);
}

#[test]
fn bad_query_files_are_one_line_and_exit_1() {
    let server = FakeServer::start(Catalog::generate(10));
    let dir = TempDir::new();
    let out = dir.path().join("o");
    let missing = dir.path().join("missing.json");
    let o = run(
        &server,
        &[
            "download",
            missing.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("missing.json") && err.contains("No such file"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!out.exists(), "nothing written for a bad query");
    let broken = write(
        dir.path(),
        "broken.json",
        "{\"filters\": {\"species\": [\"mouse\"}\n",
    );
    let o = run(&server, &["download", &broken, "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("broken.json: invalid JSON at line 1 column"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let yaml = write(dir.path(), "bad.yaml", "filters:\n  species: mouse\n");
    let o = run(&server, &["preview", &yaml]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("filters.species: expected a list of strings"),
        "{}",
        stderr(&o)
    );
    assert_eq!(server.counters().requests, 0, "nothing asked of the server");
}

#[test]
fn usage_errors_exit_2() {
    let server = FakeServer::start(Catalog::generate(5));
    for args in [
        vec!["frobnicate"],
        vec!["download", "--all", "--bogus-flag"],
        vec!["download"],
        vec!["download", "--all", "-c", "0"],
        vec!["download", "--all", "-c", "1000"],
        vec!["download", "--all", "-c", "many"],
        vec!["fields", "species", "extra"],
    ] {
        let o = run(&server, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.starts_with("neuromorpho: usage error: "),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
    let o = run(&server, &["download"]);
    assert!(
        stderr(&o).contains("--all"),
        "suggests --all: {}",
        stderr(&o)
    );
    assert_eq!(server.counters().requests, 0);
}

#[test]
fn help_on_every_command() {
    for cmd in ["fields", "preview", "metadata", "download", "get", "doctor"] {
        let o = bin().args([cmd, "--help"]).output().unwrap();
        assert_eq!(o.status.code(), Some(0));
        let text = stdout(&o);
        assert!(
            text.starts_with(&format!("neuromorpho {cmd}")),
            "{cmd}: {text}"
        );
    }
    let o = bin().arg("--help").output().unwrap();
    let text = stdout(&o);
    assert!(
        text.contains("EXIT CODES") && text.contains("3  finished, but some files failed"),
        "{text}"
    );
    let o = bin().arg("--version").output().unwrap();
    assert_eq!(
        stdout(&o).trim(),
        format!("neuromorpho {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_missing_file_on_the_server_exits_3_with_the_others_in_place() {
    let server = FakeServer::start(Catalog::generate(30));
    let gone = server.catalog().name(4).to_string();
    server.remove_file(&gone);
    let dir = TempDir::new();
    let out = dir.path().join("o");
    let o = run(
        &server,
        &["download", "--all", "-o", out.to_str().unwrap(), "--no-log"],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let files = std::fs::read_dir(out.join("downloads")).unwrap().count();
    assert_eq!(files, 29);
    let failed = std::fs::read_to_string(out.join("failed.csv")).unwrap();
    assert_eq!(failed.lines().count(), 2, "{failed}");
    assert!(
        failed.contains(&gone) && failed.contains("not-found"),
        "{failed}"
    );
    let err = stderr(&o);
    assert!(err.contains("failed 1") && err.contains(&gone), "{err}");
}

#[test]
fn user_agent_identifies_the_client_and_can_be_replaced() {
    let server = FakeServer::start(Catalog::generate(5));
    run(&server, &["fields"]);
    let ua = server.requests()[0].user_agent.clone().unwrap();
    assert!(
        ua.starts_with(&format!("neuromorpho/{} (+http", env!("CARGO_PKG_VERSION"))),
        "{ua}"
    );
    run(
        &server,
        &["--user-agent", "lab-script/2 (me@example.org)", "fields"],
    );
    assert_eq!(
        server.requests()[1].user_agent.as_deref(),
        Some("lab-script/2 (me@example.org)")
    );
}

#[test]
fn zero_hits_is_an_error_that_says_so() {
    let server = FakeServer::start(Catalog::generate(40));
    let dir = TempDir::new();
    let o = run(
        &server,
        &[
            "download",
            "-f",
            "species=mouse",
            "-f",
            "archive=Nobody",
            "-o",
            dir.path().to_str().unwrap(),
            "--no-log",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("unknown value 'Nobody' for field 'archive'"),
        "{err}"
    );
    assert!(!dir.path().join("metadata.csv").exists(), "no empty table");
    // An unknown field: the server refuses the select (400); the error says which field.
    let o = run(
        &server,
        &[
            "download",
            "-f",
            "specie=mouse",
            "-o",
            dir.path().to_str().unwrap(),
            "--no-log",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("unknown field 'specie' (did you mean: species"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
