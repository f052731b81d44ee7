//! The `neuromorpho` binary, run as a process against the fake server.

use crate::support;

use std::path::Path;

use support::*;

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
    let o = cli(&server)
        .args(["download", &query, "-o", out.to_str().unwrap(), "-c", "8"])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
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
    let err = &o.err;
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
    let o = cli(&server)
        .args(["download", &query, "-o", out.to_str().unwrap(), "--no-log"])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(server.counters().files, 0);
    assert!(
        o.err
            .contains(&format!("downloaded 0, skipped {}", expected.len())),
        "{}",
        o.err
    );
}

#[test]
fn group_by_and_filters_from_flags() {
    let server = FakeServer::start(Catalog::generate(200));
    let dir = TempDir::new();
    let out = dir.path().join("g");
    let o = cli(&server)
        .args([
            "download",
            "-f",
            "species=monkey",
            "-g",
            "species,archive",
            "-o",
            out.to_str().unwrap(),
            "--no-log",
            "-q",
        ])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(o.err, "", "--quiet prints nothing");
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
    let o = cli(&server)
        .args([
            "preview",
            "-f",
            "species=mouse",
            "-o",
            out.to_str().unwrap(),
        ])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let text = &o.out;
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
    let o = cli(&server).args(["preview", "-f", "species=mose"]).run();
    assert_eq!(o.code, 1);
    let err = &o.err;
    assert!(
        err.contains("unknown value 'mose' for field 'species'") && err.contains("mouse"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[test]
fn fields_lists_fields_and_every_value() {
    let server = FakeServer::start(Catalog::generate(700));
    let o = cli(&server).args(["fields"]).run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(o.out.lines().any(|l| l == "species"));
    let o = cli(&server).args(["fields", "neuron_name"]).run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(o.out.lines().count(), 700, "all pages");
}

#[test]
fn metadata_command_writes_only_the_table() {
    let server = FakeServer::start(Catalog::generate(80));
    let dir = TempDir::new();
    let out = dir.path().join("m");
    let o = cli(&server)
        .args([
            "metadata",
            "--all",
            "-o",
            out.to_str().unwrap(),
            "-m",
            "table.csv",
            "--no-log",
        ])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
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
    let o = cli(&server)
        .args([
            "download",
            missing.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .run();
    assert_eq!(o.code, 1);
    let err = &o.err;
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
    let o = cli(&server)
        .args(["download", &broken, "-o", out.to_str().unwrap()])
        .run();
    assert_eq!(o.code, 1);
    let err = &o.err;
    assert!(
        err.contains("broken.json: invalid JSON at line 1, column"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let yaml = write(dir.path(), "bad.yaml", "filters:\n  species: mouse\n");
    let o = cli(&server).args(["preview", &yaml]).run();
    assert_eq!(o.code, 1);
    assert!(
        o.err
            .contains("filters.species: expected a list of strings"),
        "{}",
        o.err
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
        let o = cli(&server).args(&args).run();
        assert_eq!(o.code, 2, "{args:?}: {}", o.err);
        let err = &o.err;
        assert!(
            err.starts_with("neuromorpho: usage error: "),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
    let o = cli(&server).args(["download"]).run();
    assert!(o.err.contains("--all"), "suggests --all: {}", o.err);
    assert_eq!(server.counters().requests, 0);
}

#[test]
fn help_on_every_command() {
    for cmd in ["fields", "preview", "metadata", "download", "get", "doctor"] {
        let o = Cli::new().args([cmd, "--help"]).run();
        assert_eq!(o.code, 0);
        let text = &o.out;
        assert!(
            text.starts_with(&format!("neuromorpho {cmd}")),
            "{cmd}: {text}"
        );
    }
    let o = Cli::new().arg("--help").run();
    let text = &o.out;
    assert!(
        text.contains("EXIT CODES") && text.contains("3  finished, but some files failed"),
        "{text}"
    );
    let o = Cli::new().arg("--version").run();
    assert_eq!(
        o.out.trim(),
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
    let o = cli(&server)
        .args(["download", "--all", "-o", out.to_str().unwrap(), "--no-log"])
        .run();
    assert_eq!(o.code, 3, "{}", o.err);
    let files = std::fs::read_dir(out.join("downloads")).unwrap().count();
    assert_eq!(files, 29);
    let failed = std::fs::read_to_string(out.join("failed.csv")).unwrap();
    assert_eq!(failed.lines().count(), 2, "{failed}");
    assert!(
        failed.contains(&gone) && failed.contains("not-found"),
        "{failed}"
    );
    let err = &o.err;
    assert!(err.contains("failed 1") && err.contains(&gone), "{err}");
}

#[test]
fn user_agent_identifies_the_client_and_can_be_replaced() {
    let server = FakeServer::start(Catalog::generate(5));
    cli(&server).args(["fields"]).run();
    let ua = server.requests()[0].user_agent.clone().unwrap();
    assert!(
        ua.starts_with(&format!("neuromorpho/{} (+http", env!("CARGO_PKG_VERSION"))),
        "{ua}"
    );
    cli(&server)
        .args(["--user-agent", "lab-script/2 (me@example.org)", "fields"])
        .run();
    assert_eq!(
        server.requests()[1].user_agent.as_deref(),
        Some("lab-script/2 (me@example.org)")
    );
}

#[test]
fn zero_hits_is_an_error_that_says_so() {
    let server = FakeServer::start(Catalog::generate(40));
    let dir = TempDir::new();
    let o = cli(&server)
        .args([
            "download",
            "-f",
            "species=mouse",
            "-f",
            "archive=Nobody",
            "-o",
            dir.path().to_str().unwrap(),
            "--no-log",
        ])
        .run();
    assert_eq!(o.code, 1);
    let err = &o.err;
    assert!(
        err.contains("unknown value 'Nobody' for field 'archive'"),
        "{err}"
    );
    assert!(!dir.path().join("metadata.csv").exists(), "no empty table");
    // An unknown field: the server refuses the select (400); the error says which field.
    let o = cli(&server)
        .args([
            "download",
            "-f",
            "specie=mouse",
            "-o",
            dir.path().to_str().unwrap(),
            "--no-log",
        ])
        .run();
    assert_eq!(o.code, 1);
    let err = &o.err;
    assert!(
        err.contains("unknown field 'specie' (did you mean: species"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn fields_of_an_unknown_field_suggests_the_closest() {
    let server = FakeServer::start(Catalog::generate(10));
    let o = cli(&server).args(["fields", "specie"]).run();
    assert_eq!(o.code, 1, "{}", o.err);
    assert!(
        o.err
            .contains("unknown field 'specie' (did you mean: species"),
        "{}",
        o.err
    );
    assert_eq!(o.err.trim().lines().count(), 1, "{}", o.err);
}

#[test]
fn a_query_file_with_a_byte_order_mark_is_read() {
    let server = FakeServer::start(Catalog::generate(30));
    let dir = TempDir::new();
    let q = write(
        dir.path(),
        "bom.json",
        "\u{feff}{\"filters\": {\"species\": [\"rat\"]}}",
    );
    let o = cli(&server).args(["preview", &q]).run();
    assert_eq!(o.code, 0, "{}", o.err);
    let rats = server.catalog().query("species:rat", &[]).unwrap().len();
    assert!(o.out.contains(&format!("neurons:   {rats}")), "{}", o.out);
}

#[test]
fn no_proxy_with_spaces_bypasses_a_configured_proxy() {
    let server = FakeServer::start(Catalog::generate(5));
    // A proxy that refuses every connection: used, it would fail the run.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let run = |no_proxy: &str| {
        Cli::new()
            .args([
                "--base-url",
                &server.base_url(),
                "--rate",
                "0",
                "--retries",
                "1",
            ])
            .args(["fields"])
            .env("HTTP_PROXY", &proxy)
            .env("HTTPS_PROXY", &proxy)
            .env("NO_PROXY", no_proxy)
            .run()
    };
    let o = run("localhost, 127.0.0.1");
    assert_eq!(o.code, 0, "NO_PROXY honoured: {}", o.err);
    assert!(o.out.lines().any(|l| l == "species"));
    let before = server.counters().requests;
    let o = run("example.org");
    assert_eq!(
        o.code, 1,
        "the proxy is used when NO_PROXY does not list the host"
    );
    assert_eq!(
        server.counters().requests,
        before,
        "nothing reached the server"
    );
}
