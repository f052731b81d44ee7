//! Issue 10, `download --update`: a folder of the last release brought to the current one by
//! fetching only what changed. Every held file is revalidated with one conditional request
//! (a `304` costs no body); without validators the body is fetched and its hash compared; a
//! changed file replaces the old one atomically and the old one is kept under
//! `OUT/previous/<date>/` with the same relative path; new neurons are fetched; neurons no
//! longer matched are listed, never deleted; the summary says new, changed, unchanged and
//! gone; the saved query is used when QUERY is omitted; the table describes the current
//! records.

use crate::support;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use neuromorpho::store::Timestamp;
use neuromorpho::{DownloadOptions, JobOptions, Query};
use support::*;

const N: usize = 20;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn run(server: &FakeServer, out: &Path, args: &[&str]) -> CliOutput {
    let o = cli(server)
        .args(["download", "-o", s(out), "--no-log"])
        .args(args)
        .run();
    println!("neuromorpho download {args:?}: exit {}\n{}", o.code, o.err);
    o
}

/// `OUT/previous/<today>/` (UTC, as the run names it).
fn previous_dir(out: &Path) -> PathBuf {
    out.join("previous").join(Timestamp::now().date())
}

/// (inode, mtime) of a file: unchanged when nobody rewrote it.
fn identity(p: &Path) -> (u64, i64, i64) {
    let m = std::fs::metadata(p).unwrap();
    (m.ino(), m.mtime(), m.mtime_nsec())
}

/// The release-1 folder of the whole catalog, counters zeroed after.
fn last_years_folder(server: &FakeServer, out: &Path) {
    let o = run(server, out, &["--all"]);
    assert_eq!(o.code, 0);
    assert!(
        out.join("neuromorpho-run.json").is_file(),
        "the query is saved"
    );
    server.reset_counters();
}

/// Everything held is the current release's bytes, and recorded so.
fn assert_current(server: &FakeServer, out: &Path, rows: impl IntoIterator<Item = usize>) {
    let catalog = server.catalog();
    for i in rows {
        let p = swc_of(out, server, i);
        let want = catalog.cng_bytes(i).unwrap();
        let got = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(
            got == want.as_ref(),
            "{} is not the current release",
            p.display()
        );
        let e = entry_of(out, &rel_of(server, i));
        assert_eq!(e["sha256"], sha256_hex(&want));
        assert_eq!(e["bytes"], want.len());
    }
}

#[test]
fn with_validators_one_conditional_request_per_held_file_and_bodies_only_for_new_and_changed() {
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    last_years_folder(&server, out.path());
    let catalog = server.catalog();
    let before: Vec<(u64, i64, i64)> = (0..N)
        .map(|i| identity(&swc_of(out.path(), &server, i)))
        .collect();

    server.set_release(2);
    let changed = catalog.changed_in_release(2);
    let added = catalog.added_in_release(2);
    assert_eq!((changed.len(), added.len()), (4, 2));
    // No query: the one saved in the folder.
    let o = run(&server, out.path(), &["--update"]);
    assert_eq!(o.code, 0);
    let c = server.counters();
    let t = server.transfer_counters();
    assert_eq!(
        c.files,
        N + added.len(),
        "one request per held file, one per new one"
    );
    assert_eq!((c.count, c.pages), (1, 1), "one search: {c:?}");
    assert_eq!(t.conditional, N, "every held file revalidated: {t:?}");
    assert_eq!(
        t.not_modified,
        N - changed.len(),
        "304s for the unchanged: {t:?}"
    );
    assert_eq!(
        t.file_bodies,
        changed.len() + added.len(),
        "bodies only for new and changed: {t:?}"
    );
    assert_eq!(server.max_file_hits(), 1);
    assert!(
        o.err.contains(&format!(
            "matched {}: new 2, changed 4, unchanged 16, gone 0, failed 0",
            N + 2
        )),
        "{}",
        o.err
    );
    assert_current(&server, out.path(), 0..N + added.len());
    // The old versions are kept, with the same relative path; the unchanged files were not
    // touched at all.
    let previous = previous_dir(out.path());
    let kept: BTreeSet<String> = rel_files(&previous).into_iter().collect();
    let want: BTreeSet<String> = changed.iter().map(|&i| rel_of(&server, i)).collect();
    assert_eq!(kept, want);
    for &i in &changed {
        let old = std::fs::read(previous.join(rel_of(&server, i))).unwrap();
        assert_eq!(old, catalog.swc_bytes(i), "the release-1 bytes");
    }
    for i in (0..N).filter(|i| !changed.contains(i)) {
        assert_eq!(
            identity(&swc_of(out.path(), &server, i)),
            before[i],
            "row {i}"
        );
    }
    // The manifest has the new validators of the changed files.
    for &i in &changed {
        let e = entry_of(out.path(), &rel_of(&server, i));
        assert_eq!(e["etag"], catalog.cng_etag(i).unwrap());
        assert_eq!(e["last_modified"], catalog.cng_last_modified(i).unwrap());
    }
    assert_eq!(manifest(out.path()).len(), N + added.len());
    assert_no_temp(out.path());
    if let Some((code, text)) = sha256sum_check(out.path(), "SHA256SUMS") {
        assert_eq!(code, 0, "{text}");
    }
    let v = cli(&server).args(["verify", s(out.path())]).run();
    assert_eq!(
        v.code, 0,
        "previous/ is not a data folder: {}{}",
        v.out, v.err
    );

    // Once more, nothing changed: all 304s, no body at all.
    server.reset_counters();
    let o = run(&server, out.path(), &["--update"]);
    assert_eq!(o.code, 0);
    let t = server.transfer_counters();
    assert_eq!(
        (
            server.counters().files,
            t.conditional,
            t.not_modified,
            t.file_bodies
        ),
        (N + 2, N + 2, N + 2, 0)
    );
    assert!(
        o.err.contains("new 0, changed 0, unchanged 22, gone 0"),
        "{}",
        o.err
    );
}

#[test]
fn without_validators_every_held_body_is_fetched_and_its_hash_compared() {
    let server = FakeServer::start(Catalog::generate(N));
    server.set_validators(false);
    let out = TempDir::new();
    last_years_folder(&server, out.path());
    let before: Vec<(u64, i64, i64)> = (0..N)
        .map(|i| identity(&swc_of(out.path(), &server, i)))
        .collect();
    server.set_release(2);
    let catalog = server.catalog();
    let changed = catalog.changed_in_release(2);
    let o = run(&server, out.path(), &["--update"]);
    assert_eq!(o.code, 0);
    let t = server.transfer_counters();
    assert_eq!(server.counters().files, N + 2);
    assert_eq!(t.conditional, 0, "no validator to send: {t:?}");
    assert_eq!((t.not_modified, t.file_bodies), (0, N + 2), "{t:?}");
    assert!(
        o.err
            .contains("new 2, changed 4, unchanged 16, gone 0, failed 0"),
        "{}",
        o.err
    );
    assert_current(&server, out.path(), 0..N + 2);
    let previous = previous_dir(out.path());
    for &i in &changed {
        let old = std::fs::read(previous.join(rel_of(&server, i))).unwrap();
        assert_eq!(old, catalog.swc_bytes(i));
    }
    assert_eq!(rel_files(&previous).len(), changed.len());
    // The same bytes are not rewritten.
    for i in (0..N).filter(|i| !changed.contains(i)) {
        assert_eq!(
            identity(&swc_of(out.path(), &server, i)),
            before[i],
            "row {i}"
        );
    }
    assert_no_temp(out.path());
}

#[test]
fn a_server_that_stopped_sending_validators_still_gets_one_request_per_file() {
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    last_years_folder(&server, out.path());
    server.set_release(2);
    server.set_validators(false);
    let o = run(&server, out.path(), &["--update"]);
    assert_eq!(o.code, 0);
    let t = server.transfer_counters();
    assert_eq!(server.counters().files, N + 2);
    assert_eq!(
        (t.conditional, t.not_modified, t.file_bodies),
        (N, 0, N + 2)
    );
    assert!(
        o.err.contains("new 2, changed 4, unchanged 16"),
        "{}",
        o.err
    );
    assert_current(&server, out.path(), 0..N + 2);
}

#[test]
fn neurons_no_longer_matched_are_listed_and_kept() {
    let server = FakeServer::start(Catalog::generate(N));
    let catalog = server.catalog();
    let species = |i: usize| catalog.field_values(i, "species").unwrap()[0].clone();
    let mouse: Vec<usize> = (0..N).filter(|&i| species(i) == "mouse").collect();
    let rat: Vec<usize> = (0..N).filter(|&i| species(i) == "rat").collect();
    assert!(!mouse.is_empty() && !rat.is_empty());
    let out = TempDir::new();
    let o = run(&server, out.path(), &["-f", "species=mouse,rat"]);
    assert_eq!(o.code, 0);
    server.reset_counters();
    server.set_release(2);
    // A narrower query now: the rat neurons are gone from it.
    let o = run(&server, out.path(), &["--update", "-f", "species=mouse"]);
    assert_eq!(o.code, 0);
    let new_mouse: Vec<usize> = catalog
        .added_in_release(2)
        .filter(|&i| species(i) == "mouse")
        .collect();
    assert_eq!(
        server.counters().files,
        mouse.len() + new_mouse.len(),
        "gone neurons are not asked for"
    );
    for &i in &rat {
        let rel = rel_of(&server, i);
        assert!(o.err.contains(&rel), "{rel} listed as gone: {}", o.err);
        assert!(swc_of(out.path(), &server, i).is_file(), "{rel} kept");
    }
    assert!(
        o.err
            .contains("no longer matched by the query (kept, not deleted)"),
        "{}",
        o.err
    );
    assert!(
        o.err.contains(&format!("gone {}, failed 0", rat.len())),
        "{}",
        o.err
    );
    // They stay recorded and verified, and in the table.
    assert_eq!(
        manifest(out.path()).len(),
        mouse.len() + new_mouse.len() + rat.len()
    );
    let v = cli(&server).args(["verify", s(out.path())]).run();
    assert_eq!(v.code, 0, "{}{}", v.out, v.err);
    let table = std::fs::read_to_string(out.path().join("metadata.csv")).unwrap();
    assert_eq!(
        table.lines().count(),
        1 + mouse.len() + new_mouse.len() + rat.len()
    );
}

#[test]
fn the_saved_query_is_the_one_repeated_and_the_table_describes_the_current_records() {
    let server = FakeServer::start(Catalog::generate(N));
    let catalog = server.catalog();
    let out = TempDir::new();
    let o = run(&server, out.path(), &["-f", "species=mouse"]);
    assert_eq!(o.code, 0);
    let mouse = |i: usize| catalog.field_values(i, "species").unwrap()[0] == "mouse";
    let held: Vec<usize> = (0..N).filter(|&i| mouse(i)).collect();
    // The table of last year: one cell edited, as if the server's record had changed since.
    let table = out.path().join("metadata.csv");
    let text = std::fs::read_to_string(&table).unwrap();
    let stale = text.replacen(",mouse,", ",STALE-VALUE,", 1);
    assert_ne!(stale, text);
    std::fs::write(&table, stale).unwrap();

    server.set_release(2);
    let o = cli(&server)
        .args(["download", "--update", "-o", s(out.path()), "--no-log"])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let now: Vec<usize> = (0..catalog.len()).filter(|&i| mouse(i)).collect();
    assert!(now.len() > held.len(), "release 2 adds a mouse neuron");
    assert!(
        o.err.contains(&format!(
            "matched {}: new {}",
            now.len(),
            now.len() - held.len()
        )),
        "{}",
        o.err
    );
    let text = std::fs::read_to_string(&table).unwrap();
    assert!(
        !text.contains("STALE-VALUE"),
        "the row is the server's record now"
    );
    assert_eq!(text.lines().count(), 1 + now.len());
    let names = neuromorpho::tables::names_from_metadata(&table).unwrap();
    let mut want: Vec<String> = now.iter().map(|&i| catalog.name(i).into_owned()).collect();
    let mut got = names.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    // The saved query is still the folder's query.
    let saved = neuromorpho::SavedRun::load(out.path(), None)
        .unwrap()
        .map(|r| r.query)
        .unwrap();
    assert_eq!(saved, Query::new().filter("species", ["mouse"]));
}

#[test]
fn update_without_a_saved_query_or_a_query_is_one_clear_error() {
    let server = FakeServer::start(Catalog::generate(3));
    let out = TempDir::new();
    let o = cli(&server)
        .args(["download", "--update", "-o", s(out.path()), "--no-log"])
        .run();
    assert_eq!(o.code, 1, "{}", o.err);
    assert_eq!(o.err.lines().count(), 1, "{}", o.err);
    assert!(o.err.contains("no query given"), "{}", o.err);
    assert_eq!(server.counters().requests, 0);
}

#[test]
fn a_truncated_file_is_not_kept_by_an_update() {
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    last_years_folder(&server, out.path());
    server.set_release(2);
    let catalog = server.catalog();
    let changed = catalog.changed_in_release(2);
    let cut = (0..N).find(|i| !changed.contains(i)).unwrap();
    let path = swc_of(out.path(), &server, cut);
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    cut_to(&path, len / 2);
    let o = run(&server, out.path(), &["--update"]);
    assert_eq!(o.code, 0);
    // Still one request for it, but one that gets the body.
    assert_eq!(server.counters().files, N + 2);
    assert_eq!(server.file_hits(&file_needle(&server, cut)), 1);
    let t = server.transfer_counters();
    assert_eq!(
        (t.conditional, t.file_bodies),
        (N - 1, changed.len() + 2 + 1)
    );
    assert_current(&server, out.path(), 0..N + 2);
    // A cut copy is not an old version.
    assert!(!previous_dir(out.path()).join(rel_of(&server, cut)).exists());
}

#[test]
fn a_flipped_byte_is_found_by_an_update_with_check_hash() {
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    last_years_folder(&server, out.path());
    server.set_release(2);
    let changed = server.catalog().changed_in_release(2);
    let rotten = (0..N).find(|i| !changed.contains(i)).unwrap();
    flip_byte(&swc_of(out.path(), &server, rotten), 30);
    let o = run(&server, out.path(), &["--update", "--check-hash"]);
    assert_eq!(o.code, 0);
    assert_eq!(server.file_hits(&file_needle(&server, rotten)), 1);
    assert_current(&server, out.path(), 0..N + 2);
}

#[test]
fn the_library_updates_a_folder_and_counts_what_it_did() {
    let server = FakeServer::start(Catalog::generate(N));
    let client = client(&server);
    let out = TempDir::new();
    let options = JobOptions::new(out.path());
    let first = client
        .download_query(&Query::all(), &options, |_| {})
        .unwrap();
    assert_eq!((first.downloaded, first.update.clone()), (N as u64, None));
    server.set_release(2);
    let options = JobOptions::from(DownloadOptions::new(out.path()).update(true));
    let query = neuromorpho::SavedRun::load(out.path(), None)
        .unwrap()
        .map(|r| r.query)
        .unwrap();
    let s = client.download_query(&query, &options, |_| {}).unwrap();
    let update = s.update.clone().unwrap();
    assert_eq!(
        (
            s.matched,
            s.downloaded,
            update.changed,
            update.unchanged,
            s.skipped
        ),
        (N as u64 + 2, 6, 4, 16, 0)
    );
    assert!(update.gone.is_empty() && s.failed.is_empty());
    assert_eq!(
        s.downloaded + s.skipped + s.unchanged() + s.failed.len() as u64,
        s.files
    );
    assert_current(&server, out.path(), 0..N + 2);
}

#[test]
fn a_damaged_file_fetched_again_by_an_update_is_not_called_new() {
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    last_years_folder(&server, out.path());
    server.set_release(2);
    let changed = server.catalog().changed_in_release(2);
    let cut = (0..N).find(|i| !changed.contains(i)).unwrap();
    let path = swc_of(out.path(), &server, cut);
    cut_to(&path, 100);
    let o = run(&server, out.path(), &["--update"]);
    assert_eq!(o.code, 0);
    assert!(
        o.err.contains("new 2, changed 4, unchanged 15"),
        "{}",
        o.err
    );
}
