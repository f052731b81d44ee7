//! Issue 10, `neuromorpho verify OUT`: a folder checked against its manifest, offline (every
//! entry present with its size and SHA-256, and the files of the data folders that no entry
//! names), a problem per line and a summary, exit 0 / 3; `--repair` fetches again, atomically,
//! what failed and records it; `--no-hash` compares sizes only. The library's `verify` and
//! `Client::repair` do the work; the CLI only renders them.

use crate::support;

use std::path::Path;

use neuromorpho::store::Problem;
use neuromorpho::VerifyOptions;
use support::*;

const N: usize = 12;
/// The rows the tests damage: a flipped byte, a truncated file, a deleted file.
const FLIPPED: usize = 2;
const CUT: usize = 5;
const DELETED: usize = 9;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A complete download of the catalog by the CLI (exit 0), then the counters zeroed.
fn downloaded(server: &FakeServer, out: &Path) {
    let o = cli(server)
        .args(["download", "--all", "-o", s(out), "--no-log", "-q"])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    server.reset_counters();
}

/// Flip a byte of one file, cut another, delete a third.
fn damage(server: &FakeServer, out: &Path) {
    flip_byte(&swc_of(out, server, FLIPPED), 40);
    let cut = swc_of(out, server, CUT);
    let len = std::fs::metadata(&cut).unwrap().len() as usize;
    cut_to(&cut, len / 2);
    std::fs::remove_file(swc_of(out, server, DELETED)).unwrap();
}

fn verify_cli(server: &FakeServer, out: &Path) -> Cli {
    cli(server).args(["verify", s(out)])
}

/// Every CNG file under its name, byte for byte the server's.
fn assert_all_intact(server: &FakeServer, out: &Path) {
    for i in 0..N {
        let p = swc_of(out, server, i);
        let got = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(
            got == server.catalog().swc_bytes(i),
            "{} is not the server's file",
            p.display()
        );
    }
}

#[test]
fn a_whole_folder_verifies_with_exit_0_offline() {
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    downloaded(&server, out.path());
    // Offline: the server's address is given but never used.
    let o = verify_cli(&server, out.path()).run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(o.out, "", "no problem, nothing on stdout");
    assert!(
        o.err.contains(&format!("verified {N} files")) && o.err.contains(&format!("{N} ok")),
        "{}",
        o.err
    );
    // What was hashed, and how long it took (a speed only when the time means one).
    assert!(o.err.contains("hashed in"), "{}", o.err);
    assert_eq!(server.counters().requests, 0, "verify is offline");
    // Without any server at all, and with 3 hashing threads.
    let o = cli_at("http://127.0.0.1:9")
        .args(["verify", s(out.path()), "-j", "3"])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert_no_temp(out.path());
}

#[test]
fn a_flipped_byte_a_truncated_file_a_deleted_one_and_an_unlisted_one_are_each_named() {
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    downloaded(&server, out.path());
    damage(&server, out.path());
    let extra = out.path().join("downloads").join("stray.swc");
    std::fs::write(&extra, "1 1 0 0 0 1 -1\n").unwrap();
    // Another run's temporary file is not a problem of the folder.
    let temp = out
        .path()
        .join("downloads")
        .join(".x.swc.otherhost-1-0.part");
    std::fs::write(&temp, "1 1").unwrap();

    let o = verify_cli(&server, out.path()).run();
    assert_eq!(o.code, 3, "{}\n{}", o.out, o.err);
    let lines: Vec<&str> = o.out.lines().collect();
    assert_eq!(lines.len(), 4, "one line per problem: {}", o.out);
    let line_of = |rel: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{rel}: ")))
            .unwrap_or_else(|| panic!("no line for {rel}: {}", o.out))
            .to_string()
    };
    let flipped = line_of(&rel_of(&server, FLIPPED));
    let want_sha = sha256_hex(server.catalog().swc_bytes(FLIPPED));
    assert!(
        flipped.contains("SHA-256") && flipped.contains(&want_sha),
        "{flipped}"
    );
    let full = server.catalog().swc_bytes(CUT).len();
    assert_eq!(
        line_of(&rel_of(&server, CUT)),
        format!(
            "{}: size {} bytes, the manifest says {full}",
            rel_of(&server, CUT),
            full / 2
        )
    );
    assert_eq!(
        line_of(&rel_of(&server, DELETED)),
        format!("{}: missing", rel_of(&server, DELETED))
    );
    assert_eq!(
        line_of("downloads/stray.swc"),
        "downloads/stray.swc: not in the manifest"
    );
    assert!(
        o.err
            .contains(&format!("{} ok, 1 missing, 2 damaged, 1 unlisted", N - 3)),
        "{}",
        o.err
    );
    assert_eq!(server.counters().requests, 0);

    // The library says the same, typed.
    let report = verifier()
        .verify(out.path(), &VerifyOptions::default(), |_| {})
        .unwrap();
    assert!(!report.is_ok());
    assert_eq!((report.entries, report.ok), (N as u64, N as u64 - 3));
    let kinds: Vec<(&str, &Problem)> = report
        .problems
        .iter()
        .map(|p| (p.path.as_str(), &p.problem))
        .collect();
    assert!(kinds
        .iter()
        .any(|(p, k)| *p == rel_of(&server, FLIPPED) && matches!(k, Problem::Hash { .. })));
    assert!(kinds.iter().any(|(p, k)| *p == rel_of(&server, CUT)
        && **k
            == Problem::Size {
                expected: full as u64,
                found: full as u64 / 2
            }));
    assert!(kinds
        .iter()
        .any(|(p, k)| *p == rel_of(&server, DELETED) && **k == Problem::Missing));
    assert!(kinds
        .iter()
        .any(|(p, k)| *p == "downloads/stray.swc" && **k == Problem::Unlisted));
    // Problems come in path order; an unlisted file has no entry, the others do.
    let paths: Vec<&str> = kinds.iter().map(|(p, _)| *p).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    for p in &report.problems {
        assert_eq!(p.entry.is_none(), p.problem == Problem::Unlisted, "{p:?}");
    }
}

#[test]
fn no_hash_compares_sizes_only() {
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    downloaded(&server, out.path());
    flip_byte(&swc_of(out.path(), &server, FLIPPED), 40);
    let o = verify_cli(&server, out.path()).arg("--no-hash").run();
    assert_eq!(o.code, 0, "a flipped byte keeps the size: {}", o.err);
    assert!(o.err.contains("0 B hashed"), "{}", o.err);
    damage(&server, out.path());
    let o = verify_cli(&server, out.path()).arg("--no-hash").run();
    assert_eq!(o.code, 3, "{}", o.err);
    let named: Vec<&str> = o
        .out
        .lines()
        .map(|l| l.split(": ").next().unwrap())
        .collect();
    assert_eq!(
        named,
        [rel_of(&server, CUT), rel_of(&server, DELETED)],
        "{}",
        o.out
    );
    let mut options = VerifyOptions::default();
    options = options.hash(false);
    let report = verifier().verify(out.path(), &options, |_| {}).unwrap();
    assert_eq!((report.bytes, report.problems.len()), (0, 2));
}

#[test]
fn repair_fetches_again_what_failed_atomically_and_records_it() {
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    downloaded(&server, out.path());
    let before = manifest(out.path());
    damage(&server, out.path());

    let o = verify_cli(&server, out.path()).arg("--repair").run();
    assert_eq!(o.code, 0, "{}\n{}", o.out, o.err);
    // The problems first, then the repair, then the folder checked again.
    assert_eq!(o.out.lines().count(), 3, "{}", o.out);
    assert!(o.err.contains("repaired 3 of 3 files"), "{}", o.err);
    assert!(
        o.err.contains(&format!("verified again {N} files")) && o.err.contains(&format!("{N} ok")),
        "{}",
        o.err
    );
    assert_all_intact(&server, out.path());
    // Exactly the three files were asked for, once each; nothing else.
    let c = server.counters();
    assert_eq!((c.files, c.requests), (3, 3), "{c:?}");
    for i in [FLIPPED, CUT, DELETED] {
        assert_eq!(server.file_hits(&file_needle(&server, i)), 1);
    }
    // Recorded: one entry per file still, the repaired ones fetched again.
    let after = manifest(out.path());
    assert_eq!(paths_of(&after), paths_of(&before));
    for (old, new) in before.iter().zip(&after) {
        let repaired = [FLIPPED, CUT, DELETED]
            .iter()
            .any(|&i| old["path"] == rel_of(&server, i));
        assert_eq!(old["sha256"], new["sha256"], "the server's bytes");
        if repaired {
            assert!(new["fetched_at"].as_str() >= old["fetched_at"].as_str());
        } else {
            assert_eq!(old, new, "untouched");
        }
    }
    assert_no_temp(out.path());
    if let Some((code, text)) = sha256sum_check(out.path(), "SHA256SUMS") {
        assert_eq!(code, 0, "{text}");
        assert_eq!(text.lines().filter(|l| l.ends_with(": OK")).count(), N);
    }
    // And verify agrees.
    let o = verify_cli(&server, out.path()).run();
    assert_eq!(o.code, 0, "{}", o.err);
}

#[test]
fn repair_through_the_library_reports_what_it_fetched() {
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    downloaded(&server, out.path());
    damage(&server, out.path());
    let report = verifier()
        .verify(out.path(), &VerifyOptions::default(), |_| {})
        .unwrap();
    let repaired = client(&server).repair(out.path(), &report, |_| {}).unwrap();
    assert_eq!(repaired.downloaded, 3);
    assert!(repaired.failed.is_empty(), "{:?}", repaired.failed);
    let mut paths: Vec<String> = repaired
        .files
        .iter()
        .map(|f| {
            f.path
                .strip_prefix(out.path())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    paths.sort();
    let mut want: Vec<String> = [FLIPPED, CUT, DELETED]
        .iter()
        .map(|&i| rel_of(&server, i))
        .collect();
    want.sort();
    assert_eq!(paths, want);
    assert!(verifier()
        .verify(out.path(), &VerifyOptions::default(), |_| {})
        .unwrap()
        .is_ok());
}

#[test]
fn repair_leaves_unlisted_files_alone_and_says_so() {
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    downloaded(&server, out.path());
    let extra = out.path().join("downloads").join("stray.swc");
    std::fs::write(&extra, "1 1 0 0 0 1 -1\n").unwrap();
    let o = verify_cli(&server, out.path()).arg("--repair").run();
    assert_eq!(o.code, 3, "{}", o.err);
    assert!(o.err.contains("nothing to repair"), "{}", o.err);
    assert_eq!(std::fs::read(&extra).unwrap(), b"1 1 0 0 0 1 -1\n");
    assert_eq!(server.counters().requests, 0);
    // A repair that cannot reach the server fails clearly, the damage stays named.
    flip_byte(&swc_of(out.path(), &server, FLIPPED), 40);
    std::fs::remove_file(&extra).unwrap();
    let o = cli_at("http://127.0.0.1:9")
        .args(["--retries", "1", "verify", s(out.path()), "--repair"])
        .run();
    assert_ne!(o.code, 0, "{}", o.err);
    assert!(o.out.contains(&rel_of(&server, FLIPPED)), "{}", o.out);
    assert_no_temp(out.path());
}

#[test]
fn a_folder_without_a_manifest_is_one_clear_error() {
    let out = TempDir::new();
    std::fs::create_dir_all(out.path().join("downloads")).unwrap();
    let o = cli_at("http://127.0.0.1:9")
        .args(["verify", s(out.path())])
        .run();
    assert_eq!(o.code, 1, "{}", o.err);
    assert_eq!(o.err.lines().count(), 1, "{}", o.err);
    assert!(o.err.contains("no manifest.jsonl"), "{}", o.err);
    assert!(verifier()
        .verify(out.path(), &VerifyOptions::default(), |_| {})
        .is_err());
}

#[test]
fn repair_asks_the_server_given_not_the_host_a_manifest_names() {
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    downloaded(&server, out.path());
    damage(&server, out.path());
    // Someone edits the manifest: one entry points at another host (the same file path), one
    // at something that is no file of the server at all.
    let path = out.path().join("manifest.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let base = server.base_url();
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        let mut e: serde_json::Value = serde_json::from_str(line).unwrap();
        if e["path"] == rel_of(&server, CUT) {
            let url = e["url"]
                .as_str()
                .unwrap()
                .replace(&base, "http://127.0.0.1:9");
            e["url"] = url.into();
        }
        if e["path"] == rel_of(&server, DELETED) {
            e["url"] = "http://127.0.0.1:9/etc/passwd".into();
        }
        lines.push(e.to_string());
    }
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();

    let o = verify_cli(&server, out.path()).arg("--repair").run();
    assert_eq!(o.code, 3, "{}\n{}", o.out, o.err);
    assert!(o.err.contains("repaired 2 of 3 files"), "{}", o.err);
    assert!(
        o.err.contains("not a file of the server"),
        "the refused entry is named: {}",
        o.err
    );
    // The flipped and the cut files came from the server given; nothing else was asked.
    assert_eq!(server.counters().files, 2);
    assert_eq!(
        std::fs::read(swc_of(out.path(), &server, CUT)).unwrap(),
        server.catalog().swc_bytes(CUT)
    );
    assert!(!swc_of(out.path(), &server, DELETED).exists());
    let again: Vec<&str> = o.out.lines().skip(3).collect();
    assert_eq!(again, [format!("{}: missing", rel_of(&server, DELETED))]);
}

#[test]
fn a_checksum_list_in_another_order_holds_and_a_changed_line_does_not() {
    // verify compares SHA256SUMS with the manifest by an order-free digest (it holds neither
    // in memory): the same lines in any order are the same list, as for `sha256sum -c`.
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    downloaded(&server, out.path());
    let sums = out.path().join("SHA256SUMS");
    let text = std::fs::read_to_string(&sums).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), N);
    let mut sorted = lines.clone();
    sorted.sort_by_key(|l| l.split_once("  ").map(|(_, p)| p.to_string()));
    assert_eq!(lines, sorted, "a compaction writes the list sorted by path");
    lines.reverse();
    std::fs::write(&sums, format!("{}\n", lines.join("\n"))).unwrap();
    let o = verify_cli(&server, out.path()).run();
    assert_eq!(o.code, 0, "{}{}", o.out, o.err);
    // One hash changed: stale, named, exit 3.
    let changed = text.replacen(&text[..1], if &text[..1] == "0" { "1" } else { "0" }, 1);
    std::fs::write(&sums, changed).unwrap();
    let o = verify_cli(&server, out.path()).run();
    assert_eq!(o.code, 3, "{}{}", o.out, o.err);
    assert!(
        o.out.contains("SHA256SUMS") && o.out.contains("does not match"),
        "{}",
        o.out
    );
}
