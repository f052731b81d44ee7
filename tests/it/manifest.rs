//! Issue 10, the folder's record of what it holds: `OUT/manifest.jsonl` (one line per file:
//! neuron_id, neuron_name, kind, path relative to OUT, url, bytes, sha256, the validators the
//! server sent, fetched_at in UTC), appended as files are committed, repaired after a kill at
//! any instant, per shard `manifest.shard-K-of-N.jsonl`; and `OUT/SHA256SUMS`, which the real
//! `sha256sum -c` accepts.

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use neuromorpho::store::{Manifest, Timestamp};
use neuromorpho::{DownloadOptions, VerifyOptions};
use serde_json::Value;
use support::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn download_all(server: &FakeServer, out: &Path) -> Cli {
    cli(server).args(["download", "--all", "-o", s(out), "--no-log", "-q"])
}

/// The keys of an entry, sorted.
fn keys(e: &Value) -> Vec<String> {
    let mut k: Vec<String> = e.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn seconds(rfc3339: &Value) -> u64 {
    let text = rfc3339.as_str().unwrap();
    assert!(text.ends_with('Z'), "UTC: {text}");
    Timestamp::parse_rfc3339(text)
        .unwrap_or_else(|| panic!("not RFC 3339: {text}"))
        .unix()
}

#[test]
fn every_entry_says_what_the_server_sent() {
    let n = 10;
    let server = FakeServer::start(Catalog::generate(n));
    let out = TempDir::new();
    let before = Timestamp::now().unix();
    let o = cli(&server)
        .args(["download", "--all", "-o", s(out.path()), "--no-log", "-q"])
        .args(["--what", "cng,original"])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let after = Timestamp::now().unix();
    let entries = manifest(out.path());
    assert_eq!(entries.len(), 2 * n, "one line per file");
    let paths = paths_of(&entries);
    let mut sorted = paths.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(paths, sorted, "compacted: sorted by path, each path once");
    let catalog = server.catalog();
    for i in 0..n {
        let name = catalog.name(i).into_owned();
        let cng = entry_of(out.path(), &rel_of(&server, i));
        assert_eq!(
            keys(&cng),
            [
                "bytes",
                "etag",
                "fetched_at",
                "kind",
                "last_modified",
                "neuron_id",
                "neuron_name",
                "path",
                "sha256",
                "url"
            ]
        );
        let body = catalog.swc_bytes(i);
        assert_eq!(cng["neuron_id"], catalog.id(i).unwrap());
        assert_eq!(cng["neuron_name"], name.as_str());
        assert_eq!(cng["kind"], "cng");
        assert_eq!(
            cng["url"],
            format!("{}{}", server.base_url(), catalog.cng_path(i).unwrap())
        );
        assert_eq!(cng["bytes"], body.len());
        assert_eq!(cng["sha256"], sha256_hex(body));
        assert_eq!(cng["etag"], catalog.cng_etag(i).unwrap());
        assert_eq!(cng["last_modified"], catalog.cng_last_modified(i).unwrap());
        let at = seconds(&cng["fetched_at"]);
        assert!(
            (before..=after).contains(&at),
            "{before} <= {at} <= {after}"
        );
        // The file is what the entry says.
        let on_disk = std::fs::read(out.path().join(cng["path"].as_str().unwrap())).unwrap();
        assert_eq!(sha256_hex(&on_disk), cng["sha256"]);

        let source = catalog.source_path(i).unwrap();
        // `Source-Version/<name>.<ext>`, the extension as the server has it (`morph.xml`).
        let file = source.rsplit('/').next().unwrap();
        let rel = format!("original/{}", percent_decode(file));
        let original = entry_of(out.path(), &rel);
        let bytes = catalog.original_bytes(i).unwrap();
        assert_eq!(original["kind"], "original");
        assert_eq!(original["url"], format!("{}{source}", server.base_url()));
        assert_eq!(original["bytes"], bytes.len());
        assert_eq!(original["sha256"], sha256_hex(&bytes));
        assert!(original["etag"].is_string() && original["last_modified"].is_string());
    }
    // The library reads the same.
    let m = Manifest::load(out.path()).unwrap();
    assert_eq!((m.len(), m.damaged_lines), (2 * n, 0));
    let e = m.get(&rel_of(&server, 3)).unwrap();
    assert_eq!(e.bytes, catalog.swc_bytes(3).len() as u64);
    assert_eq!(e.etag, catalog.cng_etag(3));
}

#[test]
fn without_validators_an_entry_has_no_etag_nor_last_modified() {
    let server = FakeServer::start(Catalog::generate(4));
    server.set_validators(false);
    let out = TempDir::new();
    let o = download_all(&server, out.path()).run();
    assert_eq!(o.code, 0, "{}", o.err);
    for e in manifest(out.path()) {
        assert_eq!(
            keys(&e),
            [
                "bytes",
                "fetched_at",
                "kind",
                "neuron_id",
                "neuron_name",
                "path",
                "sha256",
                "url"
            ],
            "{e}"
        );
    }
}

#[test]
fn sha256sum_checks_the_folder() {
    let n = 8;
    let server = FakeServer::start(Catalog::generate(n));
    let out = TempDir::new();
    let o = download_all(&server, out.path()).run();
    assert_eq!(o.code, 0, "{}", o.err);
    let sums = std::fs::read_to_string(out.path().join("SHA256SUMS")).unwrap();
    let lines: Vec<&str> = sums.lines().collect();
    assert_eq!(lines.len(), n);
    for (line, e) in lines.iter().zip(manifest(out.path())) {
        assert_eq!(
            *line,
            format!(
                "{}  {}",
                e["sha256"].as_str().unwrap(),
                e["path"].as_str().unwrap()
            )
        );
    }
    if let Some((code, text)) = sha256sum_check(out.path(), "SHA256SUMS") {
        assert_eq!(code, 0, "{text}");
        assert_eq!(text.lines().filter(|l| l.ends_with(": OK")).count(), n);
    }
    // It finds what verify finds.
    flip_byte(&swc_of(out.path(), &server, 1), 10);
    if let Some((code, text)) = sha256sum_check(out.path(), "SHA256SUMS") {
        assert_eq!(code, 1, "{text}");
        assert!(
            text.contains(&format!("{}: FAILED", rel_of(&server, 1))),
            "{text}"
        );
    }
}

#[test]
fn the_manifest_grows_as_files_are_committed_and_a_kill_loses_no_file() {
    const N: usize = 300;
    let server = FakeServer::start_with(
        Catalog::generate(N),
        ServerOptions {
            recording: false,
            ..ServerOptions::default()
        },
    );
    // One file trickles (a byte every 30 s): the run cannot end, the others are committed.
    let trapped = 7;
    server.push_fault(FaultRule::new(
        Target::Path(file_needle(&server, trapped)),
        1,
        Fault::Trickle {
            interval: Duration::from_secs(30),
        },
    ));
    let out = TempDir::new();
    let mut child = download_all(&server, out.path())
        .args(["-c", "8"])
        .command()
        .spawn()
        .unwrap();
    let started = Instant::now();
    let path = out.path().join("manifest.jsonl");
    // A batch is appended while the run goes on (256 entries, or 2 s).
    loop {
        let lines = std::fs::read_to_string(&path)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines >= 256 {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) with a file trickling");
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no manifest");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // A kill in the middle of a write: half a line at the end.
    let mut text = std::fs::read(&path).unwrap();
    let appended = text.len();
    text.extend_from_slice(br#"{"neuron_id":12,"neuron_name":"cell_1"#);
    std::fs::write(&path, &text).unwrap();
    assert_eq!(Manifest::load(out.path()).unwrap().damaged_lines, 1);
    // Every line the run appended was whole, and names a complete file.
    for e in jsonl_prefix(&text[..appended]) {
        let p = out.path().join(e["path"].as_str().unwrap());
        assert_eq!(
            sha256_hex(&std::fs::read(&p).unwrap()),
            e["sha256"],
            "{}",
            p.display()
        );
    }

    server.clear_faults();
    server.reset_counters();
    let o = download_all(&server, out.path()).run();
    assert_eq!(o.code, 0, "{}", o.err);
    // The files committed but not yet recorded when the kill came were checked in place and
    // recorded, not fetched again.
    let present_before = N - server.counters().files;
    assert!(present_before >= 256, "{present_before}");
    let entries = manifest(out.path());
    assert_eq!(entries.len(), N, "repaired: one whole line per file");
    let m = Manifest::load(out.path()).unwrap();
    assert_eq!((m.len(), m.damaged_lines), (N, 0));
    for i in 0..N {
        let e = entry_of(out.path(), &rel_of(&server, i));
        assert_eq!(e["sha256"], sha256_hex(server.catalog().swc_bytes(i)));
    }
    assert_no_temp(out.path());
    let o = cli(&server).args(["verify", s(out.path())]).run();
    assert_eq!(o.code, 0, "{}{}", o.out, o.err);
    if let Some((code, text)) = sha256sum_check(out.path(), "SHA256SUMS") {
        assert_eq!(code, 0, "{text}");
    }
}

/// The whole lines of a manifest's bytes (what precedes the last newline).
fn jsonl_prefix(bytes: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(bytes).unwrap();
    assert!(text.ends_with('\n'), "the run appends whole lines");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn a_torn_line_is_repaired_even_by_a_run_with_nothing_to_record() {
    let server = FakeServer::start(Catalog::generate(5));
    let out = TempDir::new();
    let o = download_all(&server, out.path()).run();
    assert_eq!(o.code, 0, "{}", o.err);
    let path = out.path().join("manifest.jsonl");
    let whole = std::fs::read(&path).unwrap();
    let mut torn = whole.clone();
    torn.extend_from_slice(b"{\"neuron_id\":3,\"neur");
    std::fs::write(&path, &torn).unwrap();
    server.reset_counters();
    let o = download_all(&server, out.path()).run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(server.counters().files, 0, "every file is in place");
    assert_eq!(Manifest::load(out.path()).unwrap().damaged_lines, 0);
    assert_eq!(std::fs::read(&path).unwrap(), whole);
}

#[test]
fn shards_keep_their_own_manifest_and_checksums() {
    let n = 20;
    let server = FakeServer::start(Catalog::generate(n));
    let out = TempDir::new();
    let handles: Vec<_> = (1..=2)
        .map(|k| {
            let run = download_all(&server, out.path()).args(["--shard", &format!("{k}/2")]);
            std::thread::spawn(move || run.run())
        })
        .collect();
    for h in handles {
        let o = h.join().unwrap();
        assert_eq!(o.code, 0, "{}", o.err);
    }
    assert!(!out.path().join("manifest.jsonl").exists());
    assert!(!out.path().join("SHA256SUMS").exists());
    let catalog = server.catalog();
    for k in 1..=2u64 {
        let name = format!("manifest.shard-{k}-of-2.jsonl");
        let entries = jsonl(&out.path().join(&name));
        let mut want: Vec<String> = (0..n)
            .filter(|&i| catalog.id(i).unwrap() % 2 == k - 1)
            .map(|i| rel_of(&server, i))
            .collect();
        want.sort();
        assert_eq!(paths_of(&entries), want, "{name}: its shard's files only");
        let sums = format!("SHA256SUMS.shard-{k}-of-2");
        let text = std::fs::read_to_string(out.path().join(&sums)).unwrap();
        assert_eq!(text.lines().count(), want.len());
        if let Some((code, text)) = sha256sum_check(out.path(), &sums) {
            assert_eq!(code, 0, "{text}");
        }
    }
    // One folder for verify: both manifests.
    let report = verifier()
        .verify(out.path(), &VerifyOptions::default(), |_| {})
        .unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!((report.entries, report.manifests.len()), (n as u64, 2));
    // A run of the whole query later trusts the shards' entries: nothing to fetch.
    server.reset_counters();
    let o = download_all(&server, out.path()).run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(server.counters().files, 0);
}

#[test]
fn the_library_writes_no_manifest_when_told_not_to() {
    let server = FakeServer::start(Catalog::generate(3));
    let client = client(&server);
    let neurons = client.search(&neuromorpho::Query::all()).unwrap();
    let items = neurons;
    let out = TempDir::new();
    let mut options = DownloadOptions::new(out.path());
    options = options.manifest(false);
    let report = client.download(&items, &options, |_| {}).unwrap();
    assert_eq!(report.downloaded, 3);
    let mut want: Vec<String> = (0..3).map(|i| rel_of(&server, i)).collect();
    want.sort();
    assert_eq!(rel_files(out.path()), want);
    // With it (the default): entries for what is there, fetched or found.
    options = options.manifest(true);
    let report = client.download(&items, &options, |_| {}).unwrap();
    assert_eq!((report.downloaded, report.skipped), (0, 3));
    let entries = manifest(out.path());
    assert_eq!(entries.len(), 3);
    for e in &entries {
        // Found in place, checked, recorded: no validators known, the file's time.
        assert!(e.get("etag").is_none(), "{e}");
        assert!(e["url"].as_str().unwrap().starts_with(&server.base_url()));
    }
}
