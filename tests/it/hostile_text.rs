//! Issue 9, part 2: what the server says reaches a terminal, a log or a table only escaped
//! (terminal escapes, forged lines, right-to-left overrides); credentials in `--base-url` and
//! `--proxy` are used (Basic auth, Proxy-Authorization) but never shown; one bad record costs
//! one row; names files with a BOM and CRLF; duplicates fetched once; a long list of problems
//! is a count and ten names; originals are kept byte for byte, whatever their lines.

use crate::support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;

use neuromorpho::{DownloadOptions, FailureKind, FileKind, Query, SearchEvent};
use serde_json::json;
use support::*;

fn no_part_files(dir: &Path) {
    assert_eq!(
        part_files(dir),
        Vec::<PathBuf>::new(),
        "temporary files left"
    );
}

/// The log files under `dir`, read.
fn logs(dir: &Path) -> Vec<String> {
    files_under(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

fn assert_no_controls(what: &str, text: &str) {
    let found = terminal_controls(text);
    assert!(found.is_empty(), "{what} holds raw {found:?}:\n{text}");
}

// ------------------------------------------------------------------------------------------
// The terminal

/// 3 plain neurons and the [`HOSTILE_NAMES`] ones, whose files answer 404 (so that their
/// names are listed among the failures too).
fn hostile_server() -> (FakeServer, Vec<usize>) {
    let mut catalog = Catalog::generate(3);
    let rows = catalog.push_hostile();
    let server = FakeServer::start(catalog);
    for &i in &rows[..4] {
        let name = server.catalog().name(i).to_string();
        server.remove_file(&name);
    }
    (server, rows)
}

#[test]
fn cli_server_names_with_escapes_and_overrides_are_never_shown_raw() {
    let (server, rows) = hostile_server();
    let out = TempDir::new();
    // -v: every debug line naming a neuron; a log file too.
    let o = cli(&server)
        .args([
            "download",
            "--all",
            "-o",
            out.path().to_str().unwrap(),
            "-v",
        ])
        .run();
    assert_eq!(o.code, 3, "{}", o.err);
    assert_no_controls("stderr", &o.err);
    assert!(
        !o.err.lines().any(|l| l.starts_with("matched 3")),
        "a forged summary line:\n{}",
        o.err
    );
    assert!(
        o.err
            .contains(r"\x1b[2K\rmatched 3, downloaded 3, failed 0"),
        "{}",
        o.err
    );
    assert!(o.err.contains(r"evil\u{202e}cws.exe"), "{}", o.err);
    let logs = logs(out.path());
    assert_eq!(logs.len(), 1);
    assert_no_controls("the log file", &logs[0]);
    assert!(logs[0].contains(r"\x1b]0;pwned"), "{}", logs[0]);
    // Our tables keep the names readable, without what a terminal obeys.
    let failed = std::fs::read_to_string(out.path().join("failed.csv")).unwrap();
    assert_no_controls("failed.csv", &failed);
    let names: Vec<String> = failed_csv_rows(&out.path().join("failed.csv"))
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names.contains(&r"\x1b[2K\rmatched 3, downloaded 3, failed 0".to_string()));
    assert_no_controls(
        "metadata.csv",
        &std::fs::read_to_string(out.path().join("metadata.csv")).unwrap(),
    );
    // The other hostile neurons are in place, inside the output folder.
    let files = files_under(out.path());
    let swcs = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "swc"));
    assert_eq!(swcs.count(), 3 + rows.len() - 4);
    no_part_files(out.path());
}

#[test]
fn cli_metadata_as_json_lines_has_no_raw_override_or_c1_control() {
    let mut catalog = Catalog::generate(1);
    let base = catalog.record_value(0);
    for (k, name) in ["csi\u{9b}31mred", "evil\u{202e}cws.exe", "esc\u{1b}[2K"]
        .iter()
        .enumerate()
    {
        let mut r = base.clone();
        r["neuron_id"] = json!(900_000 + k);
        r["neuron_name"] = json!(name);
        catalog.push_raw(r, None);
    }
    let server = FakeServer::start(catalog);
    let out = TempDir::new();
    let o = cli(&server)
        .args(["metadata", "--all", "-o", out.path().to_str().unwrap()])
        .args([
            "--no-log",
            "-q",
            "--metadata-format",
            "jsonl",
            "-m",
            "m.jsonl",
        ])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let text = std::fs::read_to_string(out.path().join("m.jsonl")).unwrap();
    assert_eq!(text.lines().count(), 4);
    // The records stay exact JSON (escapes decode to the server's values) ...
    let names: Vec<String> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["neuron_name"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(names.contains(&"evil\u{202e}cws.exe".to_string()));
    // ... and `cat m.jsonl` shows nothing a terminal obeys.
    assert_no_controls("m.jsonl", &text);
}

#[test]
fn cli_preview_and_fields_escape_server_values() {
    // Only hostile neurons: the first three by id are the terminal escapes.
    let mut catalog = Catalog::generate(0);
    catalog.push_hostile();
    let server = FakeServer::start(catalog);
    let o = cli(&server).args(["preview", "--all"]).run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert_no_controls("preview", &o.out);
    let first = o.out.lines().find(|l| l.starts_with("first:")).unwrap();
    assert!(first.contains(r"\x1b[2K\rmatched 3"), "{first}");
    assert!(
        !o.out.lines().any(|l| l.starts_with("matched 3")),
        "{}",
        o.out
    );
    let o = cli(&server).args(["fields", "archive"]).run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert_no_controls("fields archive", &o.out);
    assert!(o.out.contains(r"Ev/il \u{202e}..\Archive"), "{}", o.out);
}

// ------------------------------------------------------------------------------------------
// Secrets

/// `http://user:password@127.0.0.1:PORT` for the fake server.
fn with_credentials(server: &FakeServer, userinfo: &str) -> String {
    format!("http://{userinfo}@{}", server.addr())
}

#[test]
fn cli_credentials_in_the_base_url_are_sent_but_never_shown() {
    let server = FakeServer::start(Catalog::generate(5));
    server.require_basic_auth(Some(("alice", "s3cret")));
    let gone = server.catalog().name(2).to_string();
    server.remove_file(&gone);
    let out = TempDir::new();
    let o = cli_at(&with_credentials(&server, "alice:s3cret"))
        .args([
            "download",
            "--all",
            "-o",
            out.path().to_str().unwrap(),
            "-v",
        ])
        .run();
    assert_eq!(o.code, 3, "{}", o.err);
    assert_eq!(rows_in_place(out.path(), &server), [0, 1, 3, 4]);
    let requests = server.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        assert_eq!(
            r.header("authorization"),
            Some("Basic YWxpY2U6czNjcmV0"),
            "{}",
            r.target
        );
    }
    let mut shown = vec![("stderr".to_string(), o.err.clone())];
    for f in files_under(out.path()) {
        if f.extension().is_some_and(|e| e != "swc") {
            shown.push((
                f.display().to_string(),
                std::fs::read_to_string(&f).unwrap(),
            ));
        }
    }
    assert!(
        shown.len() >= 4,
        "stderr, the log, metadata.csv, failed.csv: {shown:?}"
    );
    for (what, text) in &shown {
        assert!(
            !text.contains("s3cret"),
            "{what} shows the password:\n{text}"
        );
        assert!(!text.contains("alice"), "{what} shows the user:\n{text}");
    }
    let rows = failed_csv_rows(&out.path().join("failed.csv"));
    assert_eq!(rows.len(), 1);
    assert!(rows[0][1].starts_with(&server.base_url()), "{rows:?}");
}

#[test]
fn cli_wrong_or_odd_credentials_are_never_shown_either() {
    let server = FakeServer::start(Catalog::generate(2));
    server.require_basic_auth(Some(("alice", "s3@cret")));
    let out = TempDir::new();
    // Percent-encoded: decoded for the header, as curl does.
    let o = cli_at(&with_credentials(&server, "alice:s3%40cret"))
        .args([
            "download",
            "--all",
            "-o",
            out.path().to_str().unwrap(),
            "-q",
        ])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    // A wrong one: a 401, one line, no secret.
    for userinfo in [
        "alice:wr0ng",
        "alice:s3/cret",
        "alice:s3 cret",
        "alice:s3cret?x",
    ] {
        let o = cli_at(&with_credentials(&server, userinfo))
            .args(["--retries", "1", "fields"])
            .run();
        assert_ne!(o.code, 0, "{userinfo}: {}", o.err);
        assert_eq!(o.err.lines().count(), 1, "{userinfo}: {}", o.err);
        let secret = userinfo.split_once(':').unwrap().1;
        let hidden = &secret[..4.min(secret.len())];
        assert!(!o.err.contains(hidden), "{userinfo}: {}", o.err);
    }
}

/// A CONNECT proxy on 127.0.0.1 that wants `Proxy-Authorization: Basic <token>`: it
/// answers 407 without it, and tunnels to the requested address with it. Keeps every
/// request head it received.
struct Proxy {
    addr: String,
    heads: Arc<Mutex<Vec<String>>>,
}

fn start_proxy(token: &'static str) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(client) = conn else { continue };
            let seen = seen.clone();
            thread::spawn(move || tunnel(client, token, &seen));
        }
    });
    Proxy { addr, heads }
}

fn tunnel(client: TcpStream, token: &str, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    seen.lock().unwrap().push(head.clone());
    let mut client = client;
    let authorized = head
        .lines()
        .any(|l| l.eq_ignore_ascii_case(&format!("proxy-authorization: Basic {token}")));
    let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
    if !authorized || !head.starts_with("CONNECT ") {
        let _ = client.write_all(
            b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"p\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    let Ok(server) = TcpStream::connect(&target) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
    let (mut up_r, mut up_w) = (reader, server.try_clone().unwrap());
    let (mut down_r, mut down_w) = (server, client);
    let up = thread::spawn(move || {
        let mut buf = [0u8; 16384];
        // What the client sent after the head is already in the BufReader's buffer.
        loop {
            match up_r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if up_w.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = up_w.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut down_r, &mut down_w);
    let _ = down_w.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}

#[test]
fn cli_credentials_in_the_proxy_url_are_sent_to_the_proxy_but_never_shown() {
    let server = FakeServer::start(Catalog::generate(3));
    // bob:pw
    let proxy = start_proxy("Ym9iOnB3");
    let out = TempDir::new();
    let base = ["--base-url", &server.base_url(), "--rate", "0"];
    let o = Cli::new()
        .args(base)
        .args(["--proxy", &format!("http://bob:pw@{}", proxy.addr)])
        .args([
            "download",
            "--all",
            "-o",
            out.path().to_str().unwrap(),
            "-v",
        ])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(rows_in_place(out.path(), &server), [0, 1, 2]);
    let heads = proxy.heads.lock().unwrap().clone();
    assert!(!heads.is_empty(), "the proxy was used");
    assert!(server
        .requests()
        .iter()
        .all(|r| r.header("proxy-authorization").is_none()));
    for f in files_under(out.path()) {
        if f.extension().is_some_and(|e| e == "log") {
            let log = std::fs::read_to_string(&f).unwrap();
            assert!(!log.contains("bob:pw") && !log.contains(":pw@"), "{log}");
        }
    }
    assert!(!o.err.contains(":pw@"), "{}", o.err);
    // Odd passwords (unencoded '/', '?', '#', '@', a space): never shown.
    for userinfo in ["bob:pw/x", "bob:pw?x", "bob:pw#x", "bob:pw@x", "bob:pw x"] {
        let o = Cli::new()
            .args(base)
            .args(["--proxy", &format!("http://{userinfo}@{}", proxy.addr)])
            .args(["--retries", "1", "fields"])
            .run();
        assert_eq!(o.code, 1, "{userinfo}: {}", o.err);
        assert_eq!(o.err.lines().count(), 1, "{userinfo}: {}", o.err);
        assert!(!o.err.contains("pw"), "{userinfo}: {}", o.err);
    }
    // Refused by the proxy (wrong password): one line, the password hidden.
    let o = Cli::new()
        .args(base)
        .args(["--proxy", &format!("http://bob:wrongpw@{}", proxy.addr)])
        .args(["--retries", "1", "fields"])
        .run();
    assert_eq!(o.code, 1, "{}", o.err);
    assert_eq!(o.err.lines().count(), 1, "{}", o.err);
    assert!(!o.err.contains("wrongpw"), "{}", o.err);
    assert!(o.err.contains("***@"), "{}", o.err);
}

// ------------------------------------------------------------------------------------------
// Data: one bad record costs one row

#[test]
fn records_that_are_not_objects_cost_one_row_each() {
    let mut catalog = Catalog::generate(4);
    for bad in [json!(42), json!("text"), json!(null), json!([1, 2])] {
        catalog.push_raw(bad, None);
    }
    let server = FakeServer::start(catalog);
    let c = client(&server);
    let mut skipped = Vec::new();
    let mut neurons = 0;
    let total = c
        .search_each(&Query::all(), |e| {
            if let SearchEvent::Page {
                neurons: n,
                skipped: s,
                ..
            } = e
            {
                neurons += n.len();
                skipped.extend(s);
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(total, 8, "the count includes them");
    assert_eq!(neurons, 4);
    let found: Vec<(u64, u64, &str)> = skipped
        .iter()
        .map(|s| (s.page, s.position, s.found.as_str()))
        .collect();
    // No integer neuron_id: sorted first, in push order.
    assert_eq!(
        found,
        [
            (0, 0, "42"),
            (0, 1, "\"text\""),
            (0, 2, "null"),
            (0, 3, "[1,2]")
        ]
    );
    assert_eq!(c.search(&Query::all()).unwrap().len(), 4);

    let out = TempDir::new();
    let o = cli(&server)
        .args([
            "download",
            "--all",
            "-o",
            out.path().to_str().unwrap(),
            "--no-log",
        ])
        .run();
    assert_eq!(o.code, 3, "{}", o.err);
    assert_eq!(rows_in_place(out.path(), &server), [0, 1, 2, 3]);
    let rows = failed_csv_rows(&out.path().join("failed.csv"));
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(rows.iter().all(|r| r[2] == "invalid-record"));
    assert_eq!(rows[0][3], "entry 0 of page 0 is not a neuron record: 42");
    let table = std::fs::read_to_string(out.path().join("metadata.csv")).unwrap();
    assert_eq!(table.lines().count(), 5, "the good records only");
}

#[test]
fn a_record_without_a_name_names_its_id() {
    let mut catalog = Catalog::generate(2);
    let mut r = catalog.record_value(1);
    r["neuron_id"] = json!(777_001);
    r.as_object_mut().unwrap().remove("neuron_name");
    catalog.push_raw(r, None);
    let server = FakeServer::start(catalog);
    let out = TempDir::new();
    let o = cli(&server)
        .args([
            "download",
            "--all",
            "-o",
            out.path().to_str().unwrap(),
            "--no-log",
        ])
        .run();
    assert_eq!(o.code, 3, "{}", o.err);
    let rows = failed_csv_rows(&out.path().join("failed.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][2], "invalid-record");
    assert!(rows[0][3].contains("neuron_id 777001"), "{rows:?}");
    assert!(o.err.contains("neuron_id 777001"), "{}", o.err);
}

#[test]
fn a_record_without_a_name_or_an_id_names_its_page_and_position() {
    let mut catalog = Catalog::generate(2);
    let mut r = catalog.record_value(1);
    r.as_object_mut().unwrap().remove("neuron_name");
    r.as_object_mut().unwrap().remove("neuron_id");
    catalog.push_raw(r, None);
    let server = FakeServer::start(catalog);
    let out = TempDir::new();
    let o = cli(&server)
        .args([
            "download",
            "--all",
            "-o",
            out.path().to_str().unwrap(),
            "--no-log",
        ])
        .run();
    assert_eq!(o.code, 3, "{}", o.err);
    let rows = failed_csv_rows(&out.path().join("failed.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][2], "invalid-record");
    // No neuron_id: sorted first, entry 0 of page 0.
    let detail = &rows[0][3];
    assert!(
        detail.contains("page 0") && detail.contains("entry 0"),
        "the row says where the record is: {detail}"
    );
}

#[test]
fn cli_a_names_file_with_a_bom_and_crlf_and_duplicates() {
    let server = FakeServer::start(Catalog::generate(5));
    let (a, b) = (server.catalog().name(1), server.catalog().name(3));
    let dir = TempDir::new();
    let names = dir.path().join("names.txt");
    std::fs::write(
        &names,
        format!("\u{feff}{a}\r\n# a comment\r\n{b}\r\n{a}\r\n\r\n{b}"),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = cli(&server)
        .args([
            "get",
            "--names",
            names.to_str().unwrap(),
            &a,
            "-o",
            out.to_str().unwrap(),
        ])
        .args(["--no-log", "-q"])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(o.err, "");
    assert!(!out.join("failed.csv").exists());
    assert_eq!(rows_in_place(&out, &server), [1, 3]);
    // Each name asked once, each file fetched once.
    assert_eq!(server.file_hits(&file_needle(&server, 1)), 1);
    assert_eq!(server.file_hits(&file_needle(&server, 3)), 1);
    assert_eq!(server.counters().files, 2);
}

#[test]
fn the_same_item_passed_four_times_is_fetched_once() {
    let server = FakeServer::start(Catalog::generate(3));
    let neurons = client(&server).search(&Query::all()).unwrap();
    let one = neurons[1].clone();
    let items = vec![one.clone(), one.clone(), one.clone(), one];
    let out = TempDir::new();
    let report = client(&server)
        .download(&items, &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!((report.downloaded, report.skipped), (1, 0));
    assert_eq!(report.files.len(), 1);
    assert_eq!(server.file_hits(&file_needle(&server, 1)), 1);
    assert_eq!(rows_in_place(out.path(), &server), [1]);
}

#[test]
fn cli_a_long_list_of_unknown_names_prints_a_count_and_ten_names() {
    const UNKNOWN: usize = 200_000;
    let server = FakeServer::start_with(
        Catalog::generate(3),
        ServerOptions {
            recording: false,
            ..ServerOptions::default()
        },
    );
    let dir = TempDir::new();
    let names = dir.path().join("names.txt");
    let mut text = format!("{}\n", server.catalog().name(1));
    for k in 0..UNKNOWN {
        text.push_str(&format!("ghost_{k:06}\n"));
    }
    std::fs::write(&names, text).unwrap();
    let out = dir.path().join("out");
    let o = cli(&server)
        .args([
            "get",
            "--names",
            names.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .run();
    assert_eq!(o.code, 3, "{}", &o.err[..o.err.len().min(2000)]);
    assert!(o.err.len() < 4096, "{} bytes of stderr", o.err.len());
    let line = o
        .err
        .lines()
        .find(|l| l.contains("200000 files failed"))
        .unwrap_or_else(|| panic!("{}", o.err));
    assert!(
        line.contains("ghost_000000") && line.contains("ghost_000009"),
        "{line}"
    );
    assert!(!line.contains("ghost_000010"), "{line}");
    assert!(line.contains("and 199990 more"), "{line}");
    assert!(line.contains("failed.csv"), "{line}");
    let rows = failed_csv_rows(&out.join("failed.csv"));
    assert_eq!(rows.len(), UNKNOWN);
    assert!(rows.iter().all(|r| r[2] == "not-found"));
    assert_eq!(rows_in_place(&out, &server), [1]);
}

// ------------------------------------------------------------------------------------------
// Originals are not SWC

/// A catalog with a neuron whose original (`Catmaid.json`) is `bytes`; returns it and the
/// neuron's row.
fn with_original(bytes: Vec<u8>, format: &str) -> (FakeServer, usize) {
    let mut catalog = Catalog::generate(2);
    let mut r = catalog.record_value(1);
    r["neuron_id"] = json!(654_321);
    r["neuron_name"] = json!("catmaid_skeleton_1");
    r["original_format"] = json!(format);
    let row = catalog.push_raw(r, Some(b"1 1 0 0 0 1 -1\n".to_vec()));
    catalog.set_original(row, bytes);
    (FakeServer::start(catalog), row)
}

fn originals_only(server: &FakeServer, out: &Path) -> neuromorpho::DownloadReport {
    let items = client(server).search(&Query::all()).unwrap();
    let options = DownloadOptions::new(out).what([FileKind::Original]);
    client(server).download(&items, &options, |_| {}).unwrap()
}

#[test]
fn a_one_line_json_original_of_2_mib_is_kept_byte_for_byte() {
    let body = one_line_json(2 << 20);
    let (server, _) = with_original(body.clone(), "Catmaid.json");
    let out = TempDir::new();
    let o = cli(&server)
        .args(["download", "--all", "-o", out.path().to_str().unwrap()])
        .args(["--what", "original", "--no-log", "-q"])
        .run();
    let got = std::fs::read(out.path().join("original/catmaid_skeleton_1.json"));
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(got.unwrap() == body, "kept byte for byte");
    no_part_files(out.path());
}

#[test]
fn a_binary_original_is_kept_byte_for_byte() {
    let body: Vec<u8> = (0..300_000u32)
        .map(|k| (k.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert!(std::str::from_utf8(&body).is_err() && body.contains(&0));
    let (server, _) = with_original(body.clone(), "Imaris.ims");
    let out = TempDir::new();
    let report = originals_only(&server, out.path());
    assert_eq!(report.failed, vec![]);
    let got = std::fs::read(out.path().join("original/catmaid_skeleton_1.ims")).unwrap();
    assert!(got == body, "kept byte for byte");
    no_part_files(out.path());
}

#[test]
fn an_original_is_refused_only_when_empty_or_an_html_page() {
    for (body, why) in [
        (Vec::new(), "empty"),
        (
            b"<!DOCTYPE html><html><body>502</body></html>".to_vec(),
            "HTML",
        ),
        (b"  <html><head><title>Error".to_vec(), "HTML"),
    ] {
        let (server, row) = with_original(body, "Catmaid.json");
        let out = TempDir::new();
        let report = originals_only(&server, out.path());
        assert_eq!(report.failed.len(), 1, "{why}");
        let f = &report.failed[0];
        assert_eq!(f.neuron_name, server.catalog().name(row));
        assert_eq!(f.reason, FailureKind::NotSwc, "{why}");
        assert!(f.detail.contains(why), "{why}: {}", f.detail);
        assert!(!out.path().join("original/catmaid_skeleton_1.json").exists());
        no_part_files(out.path());
    }
}

#[test]
fn an_original_shorter_than_its_announced_length_is_refused() {
    let body = one_line_json(300_000);
    let (server, _) = with_original(body.clone(), "Catmaid.json");
    server.push_fault(FaultRule::new(
        Target::Path("/catmaid_skeleton_1.json".into()),
        100,
        Fault::Truncate,
    ));
    let out = TempDir::new();
    let report = originals_only(&server, out.path());
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].reason, FailureKind::Incomplete);
    assert!(!out.path().join("original/catmaid_skeleton_1.json").exists());
    no_part_files(out.path());
    // Once only: the retry gets it whole.
    server.clear_faults();
    server.push_fault(FaultRule::new(
        Target::Path("/catmaid_skeleton_1.json".into()),
        1,
        Fault::Truncate,
    ));
    let report = originals_only(&server, out.path());
    assert_eq!(report.failed, vec![]);
    let got = std::fs::read(out.path().join("original/catmaid_skeleton_1.json")).unwrap();
    assert!(got == body);
}

#[test]
fn cli_citations_hold_no_raw_terminal_escape_from_the_server() {
    let mut catalog = Catalog::generate(2);
    let mut r = catalog.record_value(1);
    r["neuron_id"] = json!(600_001);
    r["neuron_name"] = json!("cited_cell");
    r["reference_pmid"] = json!(["123\u{1b}[2K\rforged"]);
    r["reference_doi"] = json!(["10.1000/x\u{202e}y"]);
    catalog.push_raw(r, Some(b"1 1 0 0 0 1 -1\n".to_vec()));
    let server = FakeServer::start(catalog);
    let out = TempDir::new();
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
    assert_eq!(o.code, 0, "{}", o.err);
    let citations = std::fs::read_to_string(out.path().join("CITATIONS.md")).unwrap();
    assert_no_controls("CITATIONS.md", &citations);
}
