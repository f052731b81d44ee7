//! Issue 10, stable names and checked skip-existing. A file's name is a function of its
//! neuron alone (a plain name is kept, any other is `<id>~<sanitized>`), so the same query in
//! two orders and a later `get` give one file per neuron under unchanged names; a later run
//! adds its neurons to the folder's table, manifest and citations instead of replacing them.
//! A file in place is trusted only when it matches its manifest entry (its size always, its
//! hash with `--check-hash`); without an entry (a folder of an older version or of
//! neuromorphopy) it must pass the content checks, and is then recorded.

use crate::support;

use std::path::Path;

use serde_json::json;
use support::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Three neurons whose names sanitize alike: (id, name, file name on disk, body).
const ALIKE: [(u64, &str, &str); 3] = [
    (9001, "a/b", "9001~a_b.swc"),
    (9002, "a_b", "a_b.swc"),
    (9003, "a\\b", "9003~a_b.swc"),
];

fn body_of(name: &str) -> Vec<u8> {
    format!("# the neuron {name}\n1 1 0 0 0 1 -1\n2 3 1 1 1 0.5 1\n").into_bytes()
}

/// 6 generated neurons and the three look-alikes, in an archive of their own.
fn alike_server() -> FakeServer {
    let mut catalog = Catalog::generate(6);
    let real = catalog.record_value(0);
    for (id, name, _) in ALIKE {
        let mut record = real.clone();
        record["neuron_id"] = json!(id);
        record["neuron_name"] = json!(name);
        record["archive"] = json!("Alike");
        record["reference_pmid"] = json!([format!("{id}")]);
        record["reference_doi"] = json!([format!("10.1000/{id}")]);
        catalog.push_raw(record, Some(body_of(name)));
    }
    FakeServer::start(catalog)
}

/// The data files (`downloads/...`) of a folder with their bytes.
fn data_files(out: &Path) -> Vec<(String, Vec<u8>)> {
    rel_files(out)
        .into_iter()
        .filter(|p| p.starts_with("downloads/"))
        .map(|p| {
            let bytes = std::fs::read(out.join(&p)).unwrap();
            (p, bytes)
        })
        .collect()
}

fn table_ids(out: &Path) -> Vec<u64> {
    let mut r = csv::Reader::from_path(out.join("metadata.csv")).unwrap();
    let col = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "neuron_id")
        .unwrap();
    let mut ids: Vec<u64> = r
        .records()
        .map(|row| row.unwrap()[col].parse().unwrap())
        .collect();
    ids.sort();
    ids
}

#[test]
fn names_depend_on_the_neuron_alone_in_either_order_and_beside_a_get() {
    let server = alike_server();
    let (one, two) = (TempDir::new(), TempDir::new());
    for (out, sort) in [(&one, "neuron_id"), (&two, "neuron_id:desc")] {
        let o = cli(&server)
            .args(["download", "-f", "archive=Alike", "--sort", sort])
            .args(["-o", s(out.path()), "--no-log", "-q"])
            .run();
        assert_eq!(o.code, 0, "{}", o.err);
    }
    let want: Vec<(String, Vec<u8>)> = {
        let mut v: Vec<(String, Vec<u8>)> = ALIKE
            .iter()
            .map(|(_, name, file)| (format!("downloads/{file}"), body_of(name)))
            .collect();
        v.sort();
        v
    };
    assert_eq!(data_files(one.path()), want, "each neuron in its own file");
    assert_eq!(data_files(two.path()), want, "whatever the order");
    // The manifest names each file's neuron.
    for (id, name, file) in ALIKE {
        let e = entry_of(one.path(), &format!("downloads/{file}"));
        assert_eq!(
            (e["neuron_id"].as_u64(), e["neuron_name"].as_str()),
            (Some(id), Some(name))
        );
    }

    // A later `get` into the first folder: one of the same neurons, and one more.
    let other = server.catalog().name(2).into_owned();
    server.reset_counters();
    let o = cli(&server)
        .args(["get", "a/b", &other, "-o", s(one.path()), "--no-log", "-q"])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(
        server.counters().files,
        1,
        "a/b is in place: only the new one"
    );
    let mut now = want.clone();
    now.push((rel_of(&server, 2), server.catalog().swc_bytes(2).to_vec()));
    now.sort();
    assert_eq!(
        data_files(one.path()),
        now,
        "one file per neuron, the names unchanged"
    );
    // Added to the folder's table, manifest and citations, not replacing them.
    let mut ids: Vec<u64> = ALIKE.iter().map(|a| a.0).collect();
    ids.push(server.catalog().id(2).unwrap());
    ids.sort();
    assert_eq!(table_ids(one.path()), ids);
    assert_eq!(manifest(one.path()).len(), 4);
    let citations = std::fs::read_to_string(one.path().join("CITATIONS.md")).unwrap();
    assert!(
        citations.contains("Source publications of the 4 neuron(s)"),
        "{citations}"
    );
    for (id, _, _) in ALIKE {
        assert!(citations.contains(&format!("10.1000/{id}")), "{citations}");
    }
    let v = cli(&server).args(["verify", s(one.path())]).run();
    assert_eq!(v.code, 0, "{}{}", v.out, v.err);
}

#[test]
fn failed_csv_lists_what_is_still_missing_whichever_run_tried() {
    let server = FakeServer::start(Catalog::generate(6));
    let catalog = server.catalog();
    // Row 4's file answers 404 to the first run only.
    server.push_fault(FaultRule::new(
        Target::Path(file_needle(&server, 4)),
        1,
        Fault::Status(404),
    ));
    let out = TempDir::new();
    let o = cli(&server)
        .args(["download", "--all", "-o", s(out.path()), "--no-log", "-q"])
        .run();
    assert_eq!(o.code, 3, "{}", o.err);
    let failed = std::fs::read_to_string(out.path().join("failed.csv")).unwrap();
    assert!(failed.contains(catalog.name(4).as_ref()), "{failed}");
    // A `get` of something else: row 4 is still missing, and still listed.
    let o = cli(&server)
        .args([
            "get",
            catalog.name(1).as_ref(),
            "-o",
            s(out.path()),
            "--no-log",
            "-q",
        ])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let failed = std::fs::read_to_string(out.path().join("failed.csv")).unwrap();
    assert!(failed.contains(catalog.name(4).as_ref()), "{failed}");
    assert_eq!(table_ids(out.path()).len(), 6, "the table kept every row");
    // The file arrives (a get of it): the failure is gone, and so is the file that listed it.
    let o = cli(&server)
        .args([
            "get",
            catalog.name(4).as_ref(),
            "-o",
            s(out.path()),
            "--no-log",
            "-q",
        ])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(!out.path().join("failed.csv").exists());
    assert_eq!(manifest(out.path()).len(), 6);
}

/// A folder of the whole catalog, then its manifest (and checksums) removed: what an older
/// version, or neuromorphopy, leaves.
fn folder_without_manifest(server: &FakeServer, out: &Path) {
    let o = cli(server)
        .args(["download", "--all", "-o", s(out), "--no-log", "-q"])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    std::fs::remove_file(out.join("manifest.jsonl")).unwrap();
    std::fs::remove_file(out.join("SHA256SUMS")).unwrap();
    server.reset_counters();
}

fn rerun(server: &FakeServer, out: &Path, extra: &[&str]) -> CliOutput {
    let o = cli(server)
        .args(["download", "--all", "-o", s(out), "--no-log"])
        .args(extra)
        .run();
    println!("{}", o.err);
    o
}

#[test]
fn a_neuromorphopy_folder_is_checked_recorded_and_not_fetched_again() {
    let n = 10;
    let server = FakeServer::start(Catalog::generate(n));
    let out = TempDir::new();
    folder_without_manifest(&server, out.path());
    let o = rerun(&server, out.path(), &[]);
    assert_eq!(o.code, 0);
    assert_eq!(server.counters().files, 0, "good files are kept");
    assert!(
        o.err.contains(&format!("downloaded 0, skipped {n}")),
        "{}",
        o.err
    );
    let entries = manifest(out.path());
    assert_eq!(entries.len(), n, "and recorded");
    for i in 0..n {
        let e = entry_of(out.path(), &rel_of(&server, i));
        assert_eq!(e["sha256"], sha256_hex(server.catalog().swc_bytes(i)));
        assert!(e.get("etag").is_none(), "not known: {e}");
    }
    if let Some((code, text)) = sha256sum_check(out.path(), "SHA256SUMS") {
        assert_eq!(code, 0, "{text}");
    }
}

#[test]
fn without_entries_bad_files_are_fetched_again_and_a_file_cut_at_a_line_end_needs_update() {
    let n = 10;
    let server = FakeServer::start(Catalog::generate(n));
    let out = TempDir::new();
    folder_without_manifest(&server, out.path());
    let catalog = server.catalog();
    // Cut in the middle of a line (a killed in-place writer), an HTML error page saved as
    // the file, an empty file, and a file cut at the end of a line (still valid SWC).
    let mid = swc_of(out.path(), &server, 1);
    let len = std::fs::metadata(&mid).unwrap().len() as usize;
    let mut at = len / 2;
    while std::fs::read(&mid).unwrap()[at - 1] == b'\n' {
        at += 1;
    }
    cut_to(&mid, at);
    std::fs::write(
        swc_of(out.path(), &server, 2),
        "<!DOCTYPE html><html><body>Service Unavailable</body></html>",
    )
    .unwrap();
    std::fs::write(swc_of(out.path(), &server, 3), "").unwrap();
    let line_cut = 4;
    cut_to_lines(&swc_of(out.path(), &server, line_cut), 30);
    let o = rerun(&server, out.path(), &[]);
    assert_eq!(o.code, 0);
    let hits: Vec<usize> = (0..n)
        .map(|i| server.file_hits(&file_needle(&server, i)))
        .collect();
    assert_eq!(
        server.counters().files,
        3,
        "the three bad files, once each: {hits:?}"
    );
    for i in [1, 2, 3] {
        assert_eq!(server.file_hits(&file_needle(&server, i)), 1);
        assert_eq!(
            std::fs::read(swc_of(out.path(), &server, i)).unwrap(),
            catalog.swc_bytes(i)
        );
    }
    // A file cut at the end of a line passes every content check: nothing in the folder
    // tells it from a good one, so it is kept and recorded as it is ...
    let cut_bytes = std::fs::read(swc_of(out.path(), &server, line_cut)).unwrap();
    assert!(cut_bytes.len() < catalog.swc_bytes(line_cut).len());
    let e = entry_of(out.path(), &rel_of(&server, line_cut));
    assert_eq!(e["bytes"], cut_bytes.len());
    assert!(e.get("etag").is_none());
    // ... and `--update` brings it right: its entry has no validator, so its body is fetched
    // and the hashes differ.
    server.reset_counters();
    let o = rerun(&server, out.path(), &["--update"]);
    assert_eq!(o.code, 0);
    // The three fetched by the last run have validators (304s); the seven recorded in place
    // have none, so their bodies come, and one differs.
    let t = server.transfer_counters();
    assert_eq!(
        (t.conditional, t.not_modified, t.file_bodies),
        (3, 3, 7),
        "{t:?}"
    );
    assert!(o.err.contains("new 0, changed 1"), "{}", o.err);
    assert_eq!(
        std::fs::read(swc_of(out.path(), &server, line_cut)).unwrap(),
        catalog.swc_bytes(line_cut)
    );
    // From now on every entry has the server's validators.
    for entry in manifest(out.path()) {
        assert!(entry["etag"].is_string(), "{entry}");
    }
}

#[test]
fn with_entries_a_file_of_another_size_is_fetched_again_and_a_flipped_byte_with_check_hash() {
    let n = 10;
    let server = FakeServer::start(Catalog::generate(n));
    let out = TempDir::new();
    let o = rerun(&server, out.path(), &[]);
    assert_eq!(o.code, 0);
    let catalog = server.catalog();
    // A cut at a line end (valid SWC), a cut mid-line, and a flipped byte.
    cut_to_lines(&swc_of(out.path(), &server, 1), 30);
    let p = swc_of(out.path(), &server, 2);
    cut_to(&p, std::fs::metadata(&p).unwrap().len() as usize - 3);
    flip_byte(&swc_of(out.path(), &server, 3), 50);
    server.reset_counters();
    let o = rerun(&server, out.path(), &[]);
    assert_eq!(o.code, 0);
    assert_eq!(server.counters().files, 2, "sizes are always compared");
    for i in [1, 2] {
        assert_eq!(
            std::fs::read(swc_of(out.path(), &server, i)).unwrap(),
            catalog.swc_bytes(i)
        );
    }
    assert_ne!(
        std::fs::read(swc_of(out.path(), &server, 3)).unwrap(),
        catalog.swc_bytes(3),
        "a flipped byte keeps the size: found only with the hash"
    );
    server.reset_counters();
    let o = rerun(&server, out.path(), &["--check-hash"]);
    assert_eq!(o.code, 0);
    assert_eq!(server.counters().files, 1);
    assert_eq!(
        std::fs::read(swc_of(out.path(), &server, 3)).unwrap(),
        catalog.swc_bytes(3)
    );
    // Nothing is left for either check.
    server.reset_counters();
    let o = rerun(&server, out.path(), &["--check-hash"]);
    assert_eq!(o.code, 0);
    assert_eq!(server.counters().files, 0);
    assert_no_temp(out.path());
}
