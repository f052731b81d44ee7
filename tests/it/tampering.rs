//! Issue 16, the folder's own files are input: tampered manifests, clock-skewed entries, a
//! server that answers 304 to anything, folders made with `-g`/`--what`/`-m` then updated
//! without a query, FIFOs and symlinks at the folder's own files, a lock held by another
//! process under SIGTERM, and summaries that must add up. Every scenario runs in a [`Scene`]:
//! the output folder beside an `outside/` folder with a `victim.txt`, and everything outside
//! the output folder is snapshotted before and compared after ([`Scene::assert_outside_is`]).
//!
//! Which item of the issue (and of the behaviour contract) each test covers:
//!
//! * Paths from the folder (item 1):
//!   [`verify_names_each_unsafe_manifest_path_by_its_line_and_exits_3`],
//!   [`repair_writes_nothing_outside_nor_over_the_folders_own_files_and_drops_unsafe_lines`],
//!   [`download_writes_nothing_through_a_symlinked_data_folder`],
//!   [`verify_and_repair_never_go_through_a_symlinked_data_folder`],
//!   [`verify_repair_and_download_write_nothing_through_a_symlinked_sub_folder`],
//!   [`download_does_not_count_files_behind_a_symlinked_sub_folder_as_held`].
//! * Summaries add up and never lie (item 2):
//!   [`a_cut_file_whose_server_answers_503_is_failed_and_listed`],
//!   [`with_check_hash_a_flipped_byte_whose_server_answers_503_is_failed_and_listed`],
//!   `an_update_whose_every_file_answers_*_counts_each_file_failed` (503, 404, 206, empty
//!   200, HTML 200), [`a_regrouped_rerun_whose_files_all_fail_counts_them_failed`],
//!   [`the_summary_counts_files_when_several_kinds_are_asked_for`].
//! * Order by what happened, not by clocks (item 3):
//!   [`future_dated_entries_never_win_over_later_lines`],
//!   [`files_with_future_modification_times_recorded_by_a_rerun_never_win`].
//! * A 304 to a request that carried no validator (item 4):
//!   [`a_304_to_a_request_without_validators_is_unexpected_status_and_the_stale_copy_listed`],
//!   [`a_server_answering_304_to_everything_confirms_nothing`].
//! * The run file is the folder's memory (item 5):
//!   [`an_update_without_a_query_keeps_the_grouping_the_kinds_and_the_table_of_the_folder`],
//!   [`an_update_given_another_grouping_says_it_differs_from_how_the_folder_was_made`],
//!   [`a_run_file_naming_a_table_outside_the_folder_fails_the_update`].
//! * Unreadable manifest lines (item 6):
//!   [`verify_reports_every_unreadable_manifest_line_and_its_counts_add_up`],
//!   [`verify_reports_the_unreadable_line_of_a_missing_file_that_sha256sum_calls_missing`].
//! * `SHA256SUMS` rewritten by every run (item 7):
//!   [`a_download_rerun_writes_a_deleted_sha256sums_again`],
//!   [`a_download_rerun_writes_a_stale_sha256sums_again`],
//!   [`verify_reports_a_missing_sha256sums_and_repair_writes_it_again`],
//!   [`verify_reports_a_stale_sha256sums_and_repair_writes_it_again`].
//! * Hangs and special files (item 8):
//!   [`a_fifo_at_the_lock_is_a_one_line_error_not_a_hang`],
//!   [`a_fifo_at_the_manifest_is_a_one_line_error_not_a_hang`],
//!   [`a_fifo_at_a_shard_manifest_does_not_hang_verify`],
//!   [`a_fifo_at_the_run_file_is_a_one_line_error_for_an_update_without_a_query`],
//!   [`a_fifo_and_an_empty_folder_at_data_files_are_reported_and_a_rerun_mends_them`],
//!   [`a_fifo_and_an_empty_folder_at_data_files_are_mended_by_repair`],
//!   [`a_symlink_at_the_lock_is_never_followed`],
//!   [`a_run_waiting_for_the_lock_ends_within_3_s_of_sigterm_with_143`].
//! * Smaller (items 9 and 10):
//!   [`an_update_confirming_five_and_failing_one_exits_3_with_unexpected_status`],
//!   [`two_updates_at_once_never_call_each_others_new_copies_damaged`].
//! * Nothing outside (item 11): [`Scene`], used by every test above.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

// ------------------------------------------------------------------------------------------
// The scene: an output folder beside things that must never change

/// What `victim.txt` holds: it must never be written.
const VICTIM: &[u8] = b"precious: must never be overwritten\n";

/// A fresh place for one scenario: `ROOT/parent/out` (the output folder, not created) beside
/// `ROOT/parent/outside/victim.txt`, ROOT a [`TempDir`]. The snapshot covers all of ROOT but
/// the output folder, so that a file written one or two levels above it is seen too.
struct Scene {
    root: TempDir,
    out: PathBuf,
    outside: PathBuf,
    victim: PathBuf,
}

/// Everything outside the output folder: relative path -> what it is (a folder, a file with
/// its size and SHA-256, a symlink with its target, a FIFO).
type Snapshot = BTreeMap<String, String>;

impl Scene {
    fn new() -> Scene {
        let root = TempDir::new();
        let parent = root.path().join("parent");
        let outside = parent.join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        let victim = outside.join("victim.txt");
        std::fs::write(&victim, VICTIM).unwrap();
        Scene {
            out: parent.join("out"),
            outside,
            victim,
            root,
        }
    }

    /// The output folder as an argument.
    fn o(&self) -> &str {
        s(&self.out)
    }

    /// Everything under ROOT except the output folder, without following any link.
    fn snapshot(&self) -> Snapshot {
        let mut seen = Snapshot::new();
        let mut stack = vec![self.root.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p == self.out {
                    continue;
                }
                let rel = p
                    .strip_prefix(self.root.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let m = std::fs::symlink_metadata(&p).unwrap();
                let t = m.file_type();
                let what = if t.is_symlink() {
                    format!("link -> {}", std::fs::read_link(&p).unwrap().display())
                } else if t.is_dir() {
                    stack.push(p.clone());
                    "folder".to_string()
                } else if t.is_fifo() {
                    "fifo".to_string()
                } else if t.is_file() {
                    let bytes = std::fs::read(&p).unwrap();
                    format!("file {} {}", bytes.len(), sha256_hex(&bytes))
                } else {
                    "other".to_string()
                };
                seen.insert(rel, what);
            }
        }
        seen
    }

    /// Nothing outside the output folder changed since `before`, and the victim is intact.
    fn assert_outside_is(&self, before: &Snapshot) {
        let now = self.snapshot();
        let changed: Vec<String> = before
            .keys()
            .chain(now.keys())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|k| before.get(*k) != now.get(*k))
            .map(|k| format!("{k}: {:?} -> {:?}", before.get(k), now.get(k)))
            .collect();
        assert!(
            changed.is_empty(),
            "changed outside the output folder:\n{}",
            changed.join("\n")
        );
        assert_eq!(std::fs::read(&self.victim).unwrap(), VICTIM);
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

// ------------------------------------------------------------------------------------------
// Runs and what they say

/// Runs the binary, prints what it said (shown when a test fails), returns it.
fn run(cli: Cli) -> CliOutput {
    let o = cli.run();
    println!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        o.code, o.out, o.err
    );
    o
}

/// `download -o OUT --no-log ARGS`, with `--retries 1` (the fewest: injected faults cost little
/// time).
fn download(server: &FakeServer, scene: &Scene, args: &[&str]) -> CliOutput {
    run(cli(server)
        .args(["--retries", "1", "download", "-o", scene.o(), "--no-log"])
        .args(args)
        .time_limit(Duration::from_secs(60)))
}

/// `verify OUT ARGS`.
fn verify_run(server: &FakeServer, scene: &Scene, args: &[&str]) -> CliOutput {
    run(cli(server)
        .args(["--retries", "1", "verify", scene.o()])
        .args(args)
        .time_limit(Duration::from_secs(60)))
}

/// A complete download of the whole catalog with `args` (exit 0), then the counters zeroed.
fn downloaded(server: &FakeServer, scene: &Scene, args: &[&str]) {
    let o = download(server, scene, &[&["--all"], args].concat());
    assert_eq!(o.code, 0, "{}", o.err);
    server.reset_counters();
}

/// The numbers of the last stderr line that holds `marker` (`"matched "` for a run's summary,
/// `" ok, "` for verify's): each `, `- or `: `-separated part that ends in a whole number,
/// under the words before it (`"matched"`, `"files"`, `"damaged copies fetched again"`,
/// `"bad manifest records"`, ...).
fn numbers(err: &str, marker: &str) -> BTreeMap<String, u64> {
    let line = err
        .lines()
        .rev()
        .find(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no line with {marker:?} in:\n{err}"));
    let line = line.trim_start_matches("neuromorpho: ");
    let mut found = BTreeMap::new();
    for part in line.split([',', ':']) {
        let part = part.trim();
        // Verify's first part: "verified 12 files (... s)" is not a count of problems.
        if part.starts_with("verified") {
            continue;
        }
        let (words, n) = match part.rsplit_once(' ') {
            Some((w, n)) => (w.trim(), n),
            None => continue,
        };
        if let Ok(n) = n.parse::<u64>() {
            found.insert(words.to_string(), n);
        } else if let Some((n, w)) = part.split_once(' ') {
            // "9 ok", "0 missing", "2 bad manifest records": the number first.
            if let Ok(n) = n.parse::<u64>() {
                found.insert(w.trim().to_string(), n);
            }
        }
    }
    found
}

fn get(m: &BTreeMap<String, u64>, key: &str) -> u64 {
    m.get(key).copied().unwrap_or(0)
}

/// The files a summary counts: `files N`, or the neurons of this shard, or those matched.
fn files_counted(m: &BTreeMap<String, u64>) -> u64 {
    m.get("files")
        .or(m.get("this shard"))
        .or(m.get("matched"))
        .copied()
        .unwrap_or_else(|| panic!("no matched count in {m:?}"))
}

/// A download summary that adds up: downloaded + skipped + failed = the files. Its numbers.
fn download_summary(err: &str) -> BTreeMap<String, u64> {
    let m = numbers(err, "matched ");
    assert!(
        m.contains_key("downloaded"),
        "not a download summary: {m:?}"
    );
    assert_eq!(
        get(&m, "downloaded") + get(&m, "skipped") + get(&m, "failed"),
        files_counted(&m),
        "the summary does not add up: {m:?}\n{err}"
    );
    m
}

/// An update summary that adds up: new + changed + unchanged + damaged copies fetched again +
/// skipped + failed = the files. Its numbers.
fn update_summary(err: &str) -> BTreeMap<String, u64> {
    let m = numbers(err, "matched ");
    assert!(m.contains_key("unchanged"), "not an update summary: {m:?}");
    let sum: u64 = [
        "new",
        "changed",
        "unchanged",
        "damaged copies fetched again",
        "skipped",
        "failed",
    ]
    .iter()
    .map(|k| get(&m, k))
    .sum();
    assert_eq!(
        sum,
        files_counted(&m),
        "the summary does not add up: {m:?}\n{err}"
    );
    m
}

/// Verify's summary whose problem counts add up to the problem lines on stdout. Its numbers.
fn verify_summary(o: &CliOutput) -> BTreeMap<String, u64> {
    let m = numbers(&o.err, " ok, ");
    let problems: u64 = m.iter().filter(|(k, _)| *k != "ok").map(|(_, n)| n).sum();
    assert_eq!(
        problems,
        o.out.lines().count() as u64,
        "the counts {m:?} do not add up to the problems listed:\n{}",
        o.out
    );
    m
}

/// The rows of `OUT/failed.csv` (none when there is no such file).
fn failed_rows(scene: &Scene) -> Vec<[String; 4]> {
    let p = scene.out.join("failed.csv");
    if p.exists() {
        failed_csv_rows(&p)
    } else {
        Vec::new()
    }
}

/// The neuron names listed in `OUT/failed.csv`, sorted.
fn failed_names(scene: &Scene) -> Vec<String> {
    let mut names: Vec<String> = failed_rows(scene)
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    names.sort();
    names
}

/// The names of catalog rows, sorted.
fn names_of(server: &FakeServer, rows: impl IntoIterator<Item = usize>) -> Vec<String> {
    let mut names: Vec<String> = rows
        .into_iter()
        .map(|i| server.catalog().name(i).into_owned())
        .collect();
    names.sort();
    names
}

/// The error lines (`neuromorpho: error: ...`) of a run.
fn error_lines(o: &CliOutput) -> Vec<&str> {
    o.err
        .lines()
        .filter(|l| l.starts_with("neuromorpho: error"))
        .collect()
}

/// Exit 1 with one error line that names `file`.
fn assert_one_error_naming(o: &CliOutput, file: &str) {
    assert_eq!(o.code, 1, "{}", o.err);
    let errors = error_lines(o);
    assert_eq!(errors.len(), 1, "one error line: {}", o.err);
    assert!(errors[0].contains(file), "{file} is named: {}", o.err);
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

fn is_fifo(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

// ------------------------------------------------------------------------------------------
// The manifest by hand

/// Appends `entries` to `OUT/manifest.jsonl`, one line each.
fn append_entries(scene: &Scene, entries: &[Value]) {
    let path = scene.out.join("manifest.jsonl");
    let mut text = std::fs::read_to_string(&path).unwrap();
    for e in entries {
        text.push_str(&e.to_string());
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
}

/// A copy of `base` with another `kind` and `path`.
fn with_path(base: &Value, kind: &str, path: &str) -> Value {
    let mut e = base.clone();
    e["kind"] = kind.into();
    e["path"] = path.into();
    e
}

/// Rewrites every line of `OUT/manifest.jsonl` with `f`.
fn edit_entries(scene: &Scene, mut f: impl FnMut(&mut Value)) {
    let mut entries = manifest(&scene.out);
    for e in &mut entries {
        f(e);
    }
    let text: String = entries.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(scene.out.join("manifest.jsonl"), text).unwrap();
}

/// The lines of `OUT/SHA256SUMS` as a set of `(sha256, path)`.
fn sums(scene: &Scene) -> BTreeSet<(String, String)> {
    std::fs::read_to_string(scene.out.join("SHA256SUMS"))
        .unwrap()
        .lines()
        .map(|l| {
            let (sha, path) = l.split_once("  ").unwrap_or_else(|| panic!("{l:?}"));
            (sha.to_string(), path.to_string())
        })
        .collect()
}

/// What SHA256SUMS must hold: the manifest's entries (the last line of each path).
fn sums_of_manifest(scene: &Scene) -> BTreeSet<(String, String)> {
    let mut last = BTreeMap::new();
    for e in manifest(&scene.out) {
        last.insert(
            e["path"].as_str().unwrap().to_string(),
            e["sha256"].as_str().unwrap().to_string(),
        );
    }
    last.into_iter().map(|(p, sha)| (sha, p)).collect()
}

/// `sha256sum -c SHA256SUMS` in OUT exits 0 (skipped, with a note, without the tool).
fn assert_sha256sum_agrees(scene: &Scene) {
    if let Some((code, text)) = sha256sum_check(&scene.out, "SHA256SUMS") {
        assert_eq!(code, 0, "sha256sum -c SHA256SUMS:\n{text}");
    }
}

/// Every CNG file of `rows` in place (no grouping), byte for byte the server's current one.
fn assert_current(server: &FakeServer, scene: &Scene, rows: impl IntoIterator<Item = usize>) {
    for i in rows {
        let p = swc_of(&scene.out, server, i);
        let got = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(
            got == server.catalog().cng_bytes(i).unwrap().as_ref(),
            "{} is not the server's file",
            p.display()
        );
    }
}

// ------------------------------------------------------------------------------------------
// Item 1: paths from the folder

/// Manifest lines whose path must never be used, as (kind, path), with what is wrong.
fn unsafe_paths(scene: &Scene) -> Vec<(&'static str, String)> {
    let absolute = scene.outside.join("absolute.swc");
    [
        ("cng", "../outside/victim.txt"),
        ("cng", "../../x.swc"),
        ("cng", "downloads/../metadata.csv"),
        ("cng", "../outside/pipe.swc"),
        ("cng", "metadata.csv"),
        ("cng", "manifest.jsonl"),
        ("cng", "downloads/a\nb.swc"),
        ("cng", "downloads/tab\there.swc"),
        ("cng", "downloads/./dot.swc"),
        ("cng", "downloads//empty.swc"),
        ("cng", "downloads/"),
        ("cng", "downloads"),
        ("cng", ""),
        ("cng", "downloads/.hidden.swc"),
        ("cng", "downloads\\back.swc"),
        ("cng", "downloads/c:colon.swc"),
        ("cng", "original/wrong-kind.swc"),
        ("original", "downloads/wrong-kind.swc"),
        ("remaining-issues", "downloads/wrong-kind.std"),
        ("standardization-log", "original/wrong-kind.std"),
    ]
    .into_iter()
    .map(|(k, p)| (k, p.to_string()))
    .chain([("cng", absolute.to_string_lossy().into_owned())])
    .collect()
}

#[test]
fn verify_names_each_unsafe_manifest_path_by_its_line_and_exits_3() {
    const N: usize = 4;
    let server = FakeServer::start(Catalog::generate(N));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    // A FIFO outside: opening it for reading would block, so a hang says it was read.
    mkfifo(&scene.outside.join("pipe.swc"));
    let base = manifest(&scene.out)[0].clone();
    let bad = unsafe_paths(&scene);
    let lines: Vec<Value> = bad.iter().map(|(k, p)| with_path(&base, k, p)).collect();
    append_entries(&scene, &lines);
    let before = scene.snapshot();

    let o = verify_run(&server, &scene, &[]);
    assert_eq!(o.code, 3, "{}", o.err);
    for (k, (kind, path)) in bad.iter().enumerate() {
        let prefix = format!("manifest.jsonl line {}: ", N + k + 1);
        let found = o.out.lines().filter(|l| l.starts_with(&prefix)).count();
        assert_eq!(
            found, 1,
            "{kind} {path:?}: one line {prefix:?} in\n{}",
            o.out
        );
    }
    assert_eq!(o.out.lines().count(), bad.len(), "nothing else:\n{}", o.out);
    let m = verify_summary(&o);
    assert_eq!(get(&m, "ok"), N as u64, "{m:?}");
    assert_eq!(server.counters().requests, 0, "verify is offline");
    scene.assert_outside_is(&before);
}

#[test]
fn repair_writes_nothing_outside_nor_over_the_folders_own_files_and_drops_unsafe_lines() {
    const N: usize = 4;
    let server = FakeServer::start(Catalog::generate(N));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    let good = manifest(&scene.out);
    // Entries a repair would fetch (a real file of the server, a size and hash nothing has),
    // at paths outside the folder, at its own files, and with a newline.
    let mut base = good[0].clone();
    base["bytes"] = 3.into();
    base["sha256"] = "0".repeat(64).into();
    let targets = [
        "../outside/victim.txt",
        "../outside/new.swc",
        "../../x.swc",
        "metadata.csv",
        "manifest.jsonl",
        "SHA256SUMS",
        "neuromorpho-run.json",
        "downloads/../CITATIONS.md",
        "downloads/a\nb.swc",
    ];
    let lines: Vec<Value> = targets.iter().map(|p| with_path(&base, "cng", p)).collect();
    append_entries(&scene, &lines);
    let own: Vec<(String, Vec<u8>)> = [
        "metadata.csv",
        "neuromorpho-run.json",
        "CITATIONS.md",
        "CITATIONS.bib",
    ]
    .iter()
    .map(|f| (f.to_string(), std::fs::read(scene.out.join(f)).unwrap()))
    .collect();
    let before = scene.snapshot();

    let o = verify_run(&server, &scene, &["--repair"]);
    scene.assert_outside_is(&before);
    for (f, bytes) in &own {
        assert!(
            std::fs::read(scene.out.join(f)).unwrap() == *bytes,
            "{f} was written"
        );
    }
    let files = rel_files(&scene.out);
    assert!(
        !files.iter().any(|f| f.contains('\n')),
        "a file with a newline in its name: {files:?}"
    );
    assert!(
        o.err
            .lines()
            .any(|l| l.contains("manifest.jsonl") && l.to_lowercase().contains("drop")),
        "the dropped lines are said on stderr: {}",
        o.err
    );
    assert_eq!(
        server.counters().files,
        0,
        "nothing to fetch for a safe path"
    );
    // The unsafe lines are gone, the good ones kept; SHA256SUMS matches the manifest.
    assert_eq!(manifest(&scene.out), good);
    assert_eq!(sums(&scene), sums_of_manifest(&scene));
    assert_sha256sum_agrees(&scene);
    let again = verify_run(&server, &scene, &[]);
    assert_eq!((again.code, again.out.as_str()), (0, ""), "{}", again.err);
    scene.assert_outside_is(&before);
}

#[test]
fn download_writes_nothing_through_a_symlinked_data_folder() {
    let server = FakeServer::start(Catalog::generate(4));
    let scene = Scene::new();
    let data = scene.outside.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&scene.out).unwrap();
    std::os::unix::fs::symlink("../outside/data", scene.out.join("downloads")).unwrap();
    let before = scene.snapshot();

    let o = download(&server, &scene, &["--all"]);
    assert_eq!(o.code, 1, "{}", o.err);
    let errors = error_lines(&o);
    assert!(
        errors.iter().any(|l| l.contains("downloads")),
        "the error names the folder: {}",
        o.err
    );
    scene.assert_outside_is(&before);
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);
}

#[test]
fn verify_and_repair_never_go_through_a_symlinked_data_folder() {
    const N: usize = 5;
    let server = FakeServer::start(Catalog::generate(N));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    // The data folder moved outside, a link in its place; one file there deleted, one cut.
    let data = scene.outside.join("data");
    std::fs::rename(scene.out.join("downloads"), &data).unwrap();
    std::os::unix::fs::symlink("../outside/data", scene.out.join("downloads")).unwrap();
    let name = |i: usize| format!("{}.swc", server.catalog().name(i));
    std::fs::remove_file(data.join(name(1))).unwrap();
    let cut = data.join(name(2));
    cut_to(&cut, std::fs::metadata(&cut).unwrap().len() as usize / 2);
    let before = scene.snapshot();

    let o = verify_run(&server, &scene, &[]);
    assert_eq!(o.code, 3, "{}", o.err);
    for i in 0..N {
        let prefix = format!("{}: not checked: ", rel_of(&server, i));
        assert!(
            o.out.lines().any(|l| l.starts_with(&prefix)),
            "{prefix:?} in\n{}",
            o.out
        );
    }
    verify_summary(&o);
    let o = verify_run(&server, &scene, &["--repair"]);
    assert_eq!(o.code, 3, "{}", o.err);
    scene.assert_outside_is(&before);
    assert!(
        std::fs::symlink_metadata(scene.out.join("downloads"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link is the user's to replace"
    );
}

/// A folder grouped by archive whose `downloads/<archive>` of row 0 was moved outside and
/// replaced by a link, with one of its files deleted there: (the linked folder's relative
/// path, the rows under it).
fn link_a_sub_folder(server: &FakeServer, scene: &Scene) -> (String, Vec<usize>) {
    downloaded(server, scene, &["-g", "archive"]);
    let entries = manifest(&scene.out);
    let path_of = |i: usize| {
        entries
            .iter()
            .find(|e| e["neuron_name"] == server.catalog().name(i).as_ref())
            .unwrap()["path"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let folder = Path::new(&path_of(0)).parent().unwrap().to_path_buf();
    let rows: Vec<usize> = (0..server.catalog().len())
        .filter(|&i| Path::new(&path_of(i)).parent() == Some(folder.as_path()))
        .collect();
    assert!(rows.len() >= 2, "two neurons in one archive: {rows:?}");
    let moved = scene.outside.join("archive");
    std::fs::rename(scene.out.join(&folder), &moved).unwrap();
    std::os::unix::fs::symlink(&moved, scene.out.join(&folder)).unwrap();
    let deleted = Path::new(&path_of(rows[0])).file_name().unwrap().to_owned();
    std::fs::remove_file(moved.join(deleted)).unwrap();
    (folder.to_string_lossy().into_owned(), rows)
}

#[test]
fn verify_repair_and_download_write_nothing_through_a_symlinked_sub_folder() {
    let server = FakeServer::start(Catalog::generate(12));
    let scene = Scene::new();
    let (folder, rows) = link_a_sub_folder(&server, &scene);
    let before = scene.snapshot();

    let o = verify_run(&server, &scene, &[]);
    assert_eq!(o.code, 3, "{}", o.err);
    let not_checked = o
        .out
        .lines()
        .filter(|l| l.starts_with(&format!("{folder}/")) && l.contains(": not checked: "))
        .count();
    assert_eq!(
        not_checked,
        rows.len(),
        "each entry under {folder}:\n{}",
        o.out
    );
    verify_summary(&o);
    let o = verify_run(&server, &scene, &["--repair"]);
    assert_eq!(o.code, 3, "{}", o.err);
    scene.assert_outside_is(&before);
    let o = download(&server, &scene, &["--all", "-g", "archive"]);
    assert_ne!(o.code, 0, "{}", o.err);
    scene.assert_outside_is(&before);
    let named =
        o.err.contains(&folder) || failed_rows(&scene).iter().any(|r| r[3].contains(&folder));
    assert!(named, "{folder} is named: {}", o.err);
}

#[test]
fn download_does_not_count_files_behind_a_symlinked_sub_folder_as_held() {
    let server = FakeServer::start(Catalog::generate(12));
    let scene = Scene::new();
    let (folder, rows) = link_a_sub_folder(&server, &scene);
    let before = scene.snapshot();
    // Verify calls every entry under the link "not checked": a download must not count one
    // of them as in place (skipped) either; each is listed as failed.
    let o = download(&server, &scene, &["--all", "-g", "archive"]);
    assert_eq!(o.code, 3, "{}", o.err);
    let m = download_summary(&o.err);
    assert_eq!(get(&m, "failed"), rows.len() as u64, "{folder}: {m:?}");
    assert_eq!(failed_names(&scene), names_of(&server, rows));
    scene.assert_outside_is(&before);
}

// ------------------------------------------------------------------------------------------
// Item 2: summaries add up and never lie

/// Makes every request for row `i`'s CNG file answer 503 (many times over).
fn file_fails(server: &FakeServer, i: usize) {
    server.push_fault(FaultRule::new(
        Target::Path(file_needle(server, i)),
        1000,
        Fault::Status(503),
    ));
}

#[test]
fn a_cut_file_whose_server_answers_503_is_failed_and_listed() {
    const N: usize = 6;
    const CUT: usize = 2;
    let server = FakeServer::start(Catalog::generate(N));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    let p = swc_of(&scene.out, &server, CUT);
    cut_to(&p, std::fs::metadata(&p).unwrap().len() as usize / 2);
    file_fails(&server, CUT);
    let before = scene.snapshot();

    let o = download(&server, &scene, &["--all"]);
    let m = download_summary(&o.err);
    assert_eq!(
        (get(&m, "skipped"), get(&m, "failed")),
        (N as u64 - 1, 1),
        "{m:?}"
    );
    assert_eq!(o.code, 3, "{}", o.err);
    assert_eq!(failed_names(&scene), names_of(&server, [CUT]));
    scene.assert_outside_is(&before);
}

#[test]
fn with_check_hash_a_flipped_byte_whose_server_answers_503_is_failed_and_listed() {
    const N: usize = 6;
    const FLIPPED: usize = 3;
    let server = FakeServer::start(Catalog::generate(N));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    flip_byte(&swc_of(&scene.out, &server, FLIPPED), 40);
    file_fails(&server, FLIPPED);
    let before = scene.snapshot();

    let o = download(&server, &scene, &["--all", "--check-hash"]);
    let m = download_summary(&o.err);
    assert_eq!(
        (get(&m, "skipped"), get(&m, "failed")),
        (N as u64 - 1, 1),
        "{m:?}"
    );
    assert_eq!(o.code, 3, "{}", o.err);
    assert_eq!(failed_names(&scene), names_of(&server, [FLIPPED]));
    scene.assert_outside_is(&before);
}

/// A folder of N files updated while every file request answers `fault`: each file failed,
/// the summary adds up, nothing confirmed, every file listed, the copies held untouched.
fn an_update_whose_every_file_answers(fault: Fault) {
    const N: usize = 6;
    let server = FakeServer::start(Catalog::generate(N));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    server.push_fault(FaultRule::new(Target::AnyFile, 1000, fault.clone()));
    let before = scene.snapshot();

    let o = download(&server, &scene, &["--update"]);
    let m = update_summary(&o.err);
    assert_eq!(get(&m, "failed"), N as u64, "{fault:?}: {m:?}");
    assert_eq!(get(&m, "unchanged"), 0, "{fault:?}: {m:?}");
    assert!(matches!(o.code, 1 | 3), "{fault:?}: exit {}", o.code);
    assert_eq!(failed_names(&scene), names_of(&server, 0..N), "{fault:?}");
    assert_current(&server, &scene, 0..N);
    scene.assert_outside_is(&before);
}

#[test]
fn an_update_whose_every_file_answers_503_counts_each_file_failed() {
    an_update_whose_every_file_answers(Fault::Status(503));
}

#[test]
fn an_update_whose_every_file_answers_404_counts_each_file_failed() {
    an_update_whose_every_file_answers(Fault::Status(404));
}

#[test]
fn an_update_whose_every_file_answers_206_counts_each_file_failed() {
    an_update_whose_every_file_answers(Fault::Partial206);
}

#[test]
fn an_update_whose_every_file_answers_an_empty_200_counts_each_file_failed() {
    an_update_whose_every_file_answers(Fault::Empty200);
}

#[test]
fn an_update_whose_every_file_answers_an_html_200_counts_each_file_failed() {
    an_update_whose_every_file_answers(Fault::Html200);
}

#[test]
fn a_regrouped_rerun_whose_files_all_fail_counts_them_failed() {
    const N: usize = 6;
    let server = FakeServer::start(Catalog::generate(N));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    server.push_fault(FaultRule::new(Target::AnyFile, 1000, Fault::Status(503)));
    let before = scene.snapshot();

    // The flat copies are not the grouped files this run was asked for.
    let o = download(&server, &scene, &["--all", "-g", "species"]);
    let m = download_summary(&o.err);
    assert_eq!(
        (get(&m, "downloaded"), get(&m, "skipped"), get(&m, "failed")),
        (0, 0, N as u64),
        "{m:?}"
    );
    assert_eq!(o.code, 1, "nothing in place: {}", o.err);
    assert_eq!(failed_names(&scene), names_of(&server, 0..N));
    scene.assert_outside_is(&before);
}

#[test]
fn the_summary_counts_files_when_several_kinds_are_asked_for() {
    const N: usize = 5;
    let server = FakeServer::start(Catalog::generate(N));
    let scene = Scene::new();
    // The originals fail, the CNG files arrive.
    server.push_fault(FaultRule::new(
        Target::Path("/Source-Version/".into()),
        1000,
        Fault::Status(503),
    ));
    let before = scene.snapshot();
    let o = download(&server, &scene, &["--all", "--what", "cng,original"]);
    let m = download_summary(&o.err);
    assert_eq!(get(&m, "matched"), N as u64, "{m:?}");
    assert_eq!(get(&m, "files"), 2 * N as u64, "{m:?}");
    assert_eq!(
        (get(&m, "downloaded"), get(&m, "failed")),
        (N as u64, N as u64),
        "{m:?}"
    );
    assert_eq!(o.code, 3, "{}", o.err);
    assert_eq!(failed_rows(&scene).len(), N);
    scene.assert_outside_is(&before);
}

// ------------------------------------------------------------------------------------------
// Item 3: the last line written wins, whatever the clocks say

/// After an update to release 2 of a folder whose entries `skew` made wrong in time: verify
/// exits 0, and the next update on the unchanged server fetches no file body.
fn updated_over_skewed_entries(server: &FakeServer, scene: &Scene, before: &Snapshot) {
    let catalog = server.catalog();
    server.set_release(2);
    let o = download(server, scene, &["--update"]);
    assert_eq!(o.code, 0, "{}", o.err);
    update_summary(&o.err);
    assert_current(server, scene, 0..catalog.len());
    let v = verify_run(server, scene, &[]);
    assert_eq!((v.code, v.out.as_str()), (0, ""), "{}", v.err);
    assert_sha256sum_agrees(scene);
    server.reset_counters();
    let o = download(server, scene, &["--update"]);
    assert_eq!(o.code, 0, "{}", o.err);
    let m = update_summary(&o.err);
    assert_eq!(get(&m, "unchanged"), catalog.len() as u64, "{m:?}");
    let t = server.transfer_counters();
    assert_eq!(t.file_bodies, 0, "nothing fetched again: {t:?}");
    scene.assert_outside_is(before);
}

#[test]
fn future_dated_entries_never_win_over_later_lines() {
    const N: usize = 20;
    let server = FakeServer::start(Catalog::generate(N));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    // A node whose clock ran ahead wrote them.
    edit_entries(&scene, |e| e["fetched_at"] = "2099-01-01T00:00:00Z".into());
    let before = scene.snapshot();
    updated_over_skewed_entries(&server, &scene, &before);
}

#[test]
fn files_with_future_modification_times_recorded_by_a_rerun_never_win() {
    const N: usize = 20;
    let server = FakeServer::start(Catalog::generate(N));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    // An old folder without its records, files dated in the future; a rerun records them.
    std::fs::remove_file(scene.out.join("manifest.jsonl")).unwrap();
    std::fs::remove_file(scene.out.join("SHA256SUMS")).unwrap();
    let future = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(4_070_908_800); // 2099
    for i in 0..N {
        let f = std::fs::File::options()
            .write(true)
            .open(swc_of(&scene.out, &server, i))
            .unwrap();
        f.set_modified(future).unwrap();
    }
    let o = download(&server, &scene, &["--all"]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(manifest(&scene.out).len(), N, "recorded");
    server.reset_counters();
    let before = scene.snapshot();
    updated_over_skewed_entries(&server, &scene, &before);
}

// ------------------------------------------------------------------------------------------
// Item 4 (and 9): a 304 to a request that carried no validator

#[test]
fn a_304_to_a_request_without_validators_is_unexpected_status_and_the_stale_copy_listed() {
    const N: usize = 10;
    let server = FakeServer::start(Catalog::generate(N));
    // The first download gets no validators: the update must ask for every body.
    server.set_validators(false);
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    server.set_release(2);
    let catalog = server.catalog();
    let changed = catalog.changed_in_release(2);
    let added = catalog.added_in_release(2);
    assert!(!changed.is_empty());
    // The files that changed answer 304 to the plain GET.
    for &i in &changed {
        server.push_fault(FaultRule::new(
            Target::Path(file_needle(&server, i)),
            100,
            Fault::NotModified,
        ));
    }
    let before = scene.snapshot();

    let o = download(&server, &scene, &["--update"]);
    let m = update_summary(&o.err);
    assert_eq!(get(&m, "failed"), changed.len() as u64, "{m:?}");
    assert_eq!(get(&m, "changed"), 0, "{m:?}");
    assert_eq!(get(&m, "unchanged"), (N - changed.len()) as u64, "{m:?}");
    assert_eq!(get(&m, "new"), added.len() as u64, "{m:?}");
    assert_eq!(o.code, 3, "{}", o.err);
    let rows = failed_rows(&scene);
    assert_eq!(rows.len(), changed.len(), "{rows:?}");
    for r in &rows {
        assert_eq!(r[2], "unexpected-status", "{r:?}");
    }
    assert_eq!(failed_names(&scene), names_of(&server, changed.clone()));
    // The stale copies are kept (and listed above).
    for &i in &changed {
        assert!(std::fs::read(swc_of(&scene.out, &server, i)).unwrap() == catalog.swc_bytes(i));
    }
    scene.assert_outside_is(&before);
}

#[test]
fn a_server_answering_304_to_everything_confirms_nothing() {
    const N: usize = 6;
    let server = FakeServer::start(Catalog::generate(N));
    server.set_validators(false);
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    server.set_release(2);
    server.push_fault(FaultRule::new(Target::AnyFile, 1000, Fault::NotModified));
    let before = scene.snapshot();

    let o = download(&server, &scene, &["--update"]);
    let m = update_summary(&o.err);
    assert_eq!(get(&m, "unchanged"), 0, "{m:?}");
    assert_eq!(get(&m, "failed"), files_counted(&m), "{m:?}");
    assert!(matches!(o.code, 1 | 3), "exit {}", o.code);
    let rows = failed_rows(&scene);
    assert_eq!(rows.len() as u64, files_counted(&m));
    for r in &rows {
        assert_eq!(r[2], "unexpected-status", "{r:?}");
    }
    scene.assert_outside_is(&before);
}

#[test]
fn an_update_confirming_five_and_failing_one_exits_3_with_unexpected_status() {
    const N: usize = 6;
    const DELETED: usize = 4;
    let server = FakeServer::start(Catalog::generate(N));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    std::fs::remove_file(swc_of(&scene.out, &server, DELETED)).unwrap();
    server.push_fault(FaultRule::new(
        Target::Path(file_needle(&server, DELETED)),
        100,
        Fault::NotModified,
    ));
    let before = scene.snapshot();

    let o = download(&server, &scene, &["--update"]);
    let m = update_summary(&o.err);
    assert_eq!(
        (get(&m, "unchanged"), get(&m, "failed")),
        (N as u64 - 1, 1),
        "{m:?}"
    );
    assert_eq!(o.code, 3, "{}", o.err);
    let rows = failed_rows(&scene);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0], server.catalog().name(DELETED));
    assert_eq!(rows[0][2], "unexpected-status", "{rows:?}");
    scene.assert_outside_is(&before);
}

// ------------------------------------------------------------------------------------------
// Item 5: the run file is the folder's memory

/// The folder the issue names: `-g archive --what cng,original -m crab.csv`.
const CRAB: [&str; 6] = ["-g", "archive", "--what", "cng,original", "-m", "crab.csv"];

fn run_file(scene: &Scene) -> Value {
    serde_json::from_str(&std::fs::read_to_string(scene.out.join("neuromorpho-run.json")).unwrap())
        .unwrap()
}

/// The data files directly in `OUT/<folder>` (not in a sub-folder).
fn flat_files(scene: &Scene, folder: &str) -> Vec<String> {
    match std::fs::read_dir(scene.out.join(folder)) {
        Ok(entries) => entries
            .map(|e| e.unwrap().path())
            .filter(|p| !p.is_dir())
            .map(|p| p.to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn an_update_without_a_query_keeps_the_grouping_the_kinds_and_the_table_of_the_folder() {
    const N: usize = 10;
    let server = FakeServer::start(Catalog::generate(N));
    let scene = Scene::new();
    downloaded(&server, &scene, &CRAB);
    let held: BTreeSet<String> = paths_of(&manifest(&scene.out)).into_iter().collect();
    assert_eq!(held.len(), 2 * N);
    server.set_release(2);
    let added = server.catalog().added_in_release(2);
    let before = scene.snapshot();

    let o = download(&server, &scene, &["--update"]);
    assert_eq!(o.code, 0, "{}", o.err);
    let m = update_summary(&o.err);
    assert_eq!(get(&m, "new"), 2 * added.len() as u64, "{m:?}");
    let t = server.transfer_counters();
    assert_eq!(
        t.conditional,
        2 * N,
        "every grouped file and original revalidated: {t:?}"
    );
    assert_eq!(flat_files(&scene, "downloads"), Vec::<String>::new());
    assert_eq!(flat_files(&scene, "original"), Vec::<String>::new());
    let now: BTreeSet<String> = paths_of(&manifest(&scene.out)).into_iter().collect();
    assert!(now.is_superset(&held), "{now:?}");
    assert_eq!(now.len(), 2 * (N + added.len()), "{now:?}");
    // The folder's table is crab.csv, with the new neurons; no metadata.csv appears.
    assert!(!scene.out.join("metadata.csv").exists());
    let mut table = csv::Reader::from_path(scene.out.join("crab.csv")).unwrap();
    let names: Vec<String> = table
        .deserialize::<BTreeMap<String, String>>()
        .map(|r| r.unwrap()["neuron_name"].clone())
        .collect();
    assert_eq!(names.len(), N + added.len(), "{names:?}");
    for i in added {
        assert!(names.contains(&server.catalog().name(i).into_owned()));
    }
    let saved = run_file(&scene);
    assert_eq!(saved["group_by"], serde_json::json!(["archive"]), "{saved}");
    assert_eq!(
        saved["what"],
        serde_json::json!(["cng", "original"]),
        "{saved}"
    );
    assert_eq!(saved["metadata_file"], "crab.csv", "{saved}");
    scene.assert_outside_is(&before);
}

#[test]
fn an_update_given_another_grouping_says_it_differs_from_how_the_folder_was_made() {
    let server = FakeServer::start(Catalog::generate(4));
    let scene = Scene::new();
    downloaded(&server, &scene, &CRAB);
    let before = scene.snapshot();
    let o = download(&server, &scene, &["--update", "-g", "species"]);
    assert!(
        o.err
            .lines()
            .any(|l| l.contains("differs from how") && l.contains("archive")),
        "{}",
        o.err
    );
    scene.assert_outside_is(&before);
}

#[test]
fn a_run_file_naming_a_table_outside_the_folder_fails_the_update() {
    let server = FakeServer::start(Catalog::generate(4));
    for table in ["../x.csv", "downloads/x.csv", "manifest.jsonl"] {
        let scene = Scene::new();
        downloaded(&server, &scene, &[]);
        let mut saved = run_file(&scene);
        saved["metadata_file"] = table.into();
        std::fs::write(scene.out.join("neuromorpho-run.json"), saved.to_string()).unwrap();
        let manifest_before = std::fs::read(scene.out.join("manifest.jsonl")).unwrap();
        let before = scene.snapshot();

        let o = download(&server, &scene, &["--update"]);
        assert_eq!(o.code, 1, "{table}: {}", o.err);
        assert!(
            error_lines(&o)
                .iter()
                .any(|l| l.contains("neuromorpho-run.json")),
            "{table}: the run file is named: {}",
            o.err
        );
        assert!(!scene.out.join("downloads/x.csv").exists(), "{table}");
        assert!(
            std::fs::read(scene.out.join("manifest.jsonl")).unwrap() == manifest_before,
            "{table}: the manifest was written"
        );
        scene.assert_outside_is(&before);
    }
}

// ------------------------------------------------------------------------------------------
// Item 6: unreadable manifest lines

#[test]
fn verify_reports_every_unreadable_manifest_line_and_its_counts_add_up() {
    const N: usize = 5;
    let server = FakeServer::start(Catalog::generate(N));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    let good: Vec<String> = manifest(&scene.out).iter().map(|e| e.to_string()).collect();
    let mut typed = manifest(&scene.out)[1].clone();
    typed["bytes"] = "many".into();
    let mut no_hash = manifest(&scene.out)[2].clone();
    no_hash.as_object_mut().unwrap().remove("sha256");
    // Unreadable lines between the good ones (none last: a torn last line is another matter).
    let garbage = [
        "this is not JSON".to_string(),
        good[0][..good[0].len() / 2].to_string(),
        typed.to_string(),
        no_hash.to_string(),
        "[1, 2, 3]".to_string(),
    ];
    let mut lines = Vec::new();
    let mut bad_lines = Vec::new();
    for (k, line) in good.iter().enumerate() {
        if let Some(g) = garbage.get(k) {
            lines.push(g.clone());
            bad_lines.push(lines.len());
        }
        lines.push(line.clone());
    }
    std::fs::write(scene.out.join("manifest.jsonl"), lines.join("\n") + "\n").unwrap();
    let before = scene.snapshot();

    let o = verify_run(&server, &scene, &[]);
    assert_eq!(o.code, 3, "{}", o.err);
    for n in &bad_lines {
        let prefix = format!("manifest.jsonl line {n}: ");
        assert_eq!(
            o.out.lines().filter(|l| l.starts_with(&prefix)).count(),
            1,
            "{prefix:?} in\n{}",
            o.out
        );
    }
    let m = verify_summary(&o);
    assert_eq!(get(&m, "ok"), N as u64, "{m:?}");
    scene.assert_outside_is(&before);
}

#[test]
fn verify_reports_the_unreadable_line_of_a_missing_file_that_sha256sum_calls_missing() {
    const N: usize = 5;
    const LOST: usize = 3;
    let server = FakeServer::start(Catalog::generate(N));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    std::fs::remove_file(swc_of(&scene.out, &server, LOST)).unwrap();
    let text = std::fs::read_to_string(scene.out.join("manifest.jsonl")).unwrap();
    let rel = rel_of(&server, LOST);
    let mut lost_line = 0;
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(k, l)| {
            if l.contains(&format!("\"path\":\"{rel}\"")) {
                lost_line = k + 1;
                // Unreadable: a byte is missing in the middle.
                let mut l = l.to_string();
                l.remove(l.len() / 2);
                l.replace(":", ";")
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(
        lost_line > 0 && lost_line < N,
        "not the last line: {lost_line}"
    );
    std::fs::write(scene.out.join("manifest.jsonl"), lines.join("\n") + "\n").unwrap();
    if let Some((code, text)) = sha256sum_check(&scene.out, "SHA256SUMS") {
        assert_ne!(code, 0, "sha256sum -c calls it missing: {text}");
    }
    let before = scene.snapshot();

    let o = verify_run(&server, &scene, &[]);
    assert_eq!(o.code, 3, "{}", o.err);
    let prefix = format!("manifest.jsonl line {lost_line}: ");
    assert!(
        o.out.lines().any(|l| l.starts_with(&prefix)),
        "{prefix:?} in\n{}",
        o.out
    );
    let m = verify_summary(&o);
    assert_eq!(get(&m, "ok"), N as u64 - 1, "{m:?}");
    scene.assert_outside_is(&before);
}

// ------------------------------------------------------------------------------------------
// Item 7: SHA256SUMS is rewritten by every run

#[test]
fn a_download_rerun_writes_a_deleted_sha256sums_again() {
    const N: usize = 5;
    let server = FakeServer::start(Catalog::generate(N));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    std::fs::remove_file(scene.out.join("SHA256SUMS")).unwrap();
    let before = scene.snapshot();
    let o = download(&server, &scene, &["--all"]);
    assert_eq!(o.code, 0, "{}", o.err);
    let m = download_summary(&o.err);
    assert_eq!(get(&m, "skipped"), N as u64, "{m:?}");
    assert!(scene.out.join("SHA256SUMS").is_file(), "written again");
    assert_eq!(sums(&scene), sums_of_manifest(&scene));
    assert_sha256sum_agrees(&scene);
    scene.assert_outside_is(&before);
}

#[test]
fn a_download_rerun_writes_a_stale_sha256sums_again() {
    const N: usize = 5;
    let server = FakeServer::start(Catalog::generate(N));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    let path = scene.out.join("SHA256SUMS");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{}{}", "0".repeat(64), &text[64..])).unwrap();
    let before = scene.snapshot();
    let o = download(&server, &scene, &["--all"]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(sums(&scene), sums_of_manifest(&scene));
    assert_sha256sum_agrees(&scene);
    scene.assert_outside_is(&before);
}

/// verify names `SHA256SUMS` (exit 3), `verify --repair` writes it again, verify exits 0.
fn sha256sums_reported_then_repaired(server: &FakeServer, scene: &Scene) {
    let before = scene.snapshot();
    let o = verify_run(server, scene, &[]);
    assert_eq!(o.code, 3, "{}", o.err);
    assert!(
        o.out.lines().any(|l| l.starts_with("SHA256SUMS: ")),
        "{}",
        o.out
    );
    verify_summary(&o);
    verify_run(server, scene, &["--repair"]);
    assert_eq!(sums(scene), sums_of_manifest(scene));
    let o = verify_run(server, scene, &[]);
    assert_eq!((o.code, o.out.as_str()), (0, ""), "{}", o.err);
    assert_sha256sum_agrees(scene);
    scene.assert_outside_is(&before);
}

#[test]
fn verify_reports_a_missing_sha256sums_and_repair_writes_it_again() {
    let server = FakeServer::start(Catalog::generate(5));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    std::fs::remove_file(scene.out.join("SHA256SUMS")).unwrap();
    sha256sums_reported_then_repaired(&server, &scene);
}

#[test]
fn verify_reports_a_stale_sha256sums_and_repair_writes_it_again() {
    let server = FakeServer::start(Catalog::generate(5));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    let path = scene.out.join("SHA256SUMS");
    let text = std::fs::read_to_string(&path).unwrap();
    // One line's hash wrong, one line missing.
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[0] = format!("{}{}", "0".repeat(64), &lines[0][64..]);
    lines.pop();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    sha256sums_reported_then_repaired(&server, &scene);
}

// ------------------------------------------------------------------------------------------
// Item 8: nothing blocks on a special file; the lock is never followed

/// A limit for runs that would hang on a FIFO: a few seconds of work at most.
const HANG: Duration = Duration::from_secs(20);

#[test]
fn a_fifo_at_the_lock_is_a_one_line_error_not_a_hang() {
    let server = FakeServer::start(Catalog::generate(3));
    let scene = Scene::new();
    std::fs::create_dir_all(&scene.out).unwrap();
    mkfifo(&scene.out.join(".neuromorpho.lock"));
    let before = scene.snapshot();
    let o = run(cli(&server)
        .args(["download", "--all", "-o", scene.o(), "--no-log"])
        .time_limit(HANG));
    assert_one_error_naming(&o, ".neuromorpho.lock");
    assert_eq!(server.counters().files, 0);
    assert!(
        is_fifo(&scene.out.join(".neuromorpho.lock")),
        "left as it was"
    );
    scene.assert_outside_is(&before);
}

#[test]
fn a_fifo_at_the_manifest_is_a_one_line_error_not_a_hang() {
    let server = FakeServer::start(Catalog::generate(3));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    let path = scene.out.join("manifest.jsonl");
    std::fs::remove_file(&path).unwrap();
    mkfifo(&path);
    let before = scene.snapshot();
    let o = run(cli(&server).args(["verify", scene.o()]).time_limit(HANG));
    assert_one_error_naming(&o, "manifest.jsonl");
    let o = run(cli(&server)
        .args(["download", "--all", "-o", scene.o(), "--no-log"])
        .time_limit(HANG));
    assert_one_error_naming(&o, "manifest.jsonl");
    assert!(is_fifo(&path), "left as it was");
    scene.assert_outside_is(&before);
}

#[test]
fn a_fifo_at_a_shard_manifest_does_not_hang_verify() {
    let server = FakeServer::start(Catalog::generate(3));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    let path = scene.out.join("manifest.shard-2-of-3.jsonl");
    mkfifo(&path);
    let before = scene.snapshot();
    let o = run(cli(&server).args(["verify", scene.o()]).time_limit(HANG));
    assert_ne!(o.code, 0, "{}", o.err);
    assert!(
        o.out.contains("manifest.shard-2-of-3.jsonl")
            || o.err.contains("manifest.shard-2-of-3.jsonl"),
        "named: {}{}",
        o.out,
        o.err
    );
    scene.assert_outside_is(&before);
}

#[test]
fn a_fifo_at_the_run_file_is_a_one_line_error_for_an_update_without_a_query() {
    let server = FakeServer::start(Catalog::generate(3));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    let path = scene.out.join("neuromorpho-run.json");
    std::fs::remove_file(&path).unwrap();
    mkfifo(&path);
    let before = scene.snapshot();
    let o = run(cli(&server)
        .args(["download", "--update", "-o", scene.o(), "--no-log"])
        .time_limit(HANG));
    assert_one_error_naming(&o, "neuromorpho-run.json");
    assert_eq!(server.counters().files, 0);
    scene.assert_outside_is(&before);
}

/// Row FIFO's file replaced by a FIFO and row DIR's by an empty folder; verify names both
/// (exit 3) and does not hang.
const FIFO: usize = 1;
const DIR: usize = 3;

fn special_files_at_data_paths(server: &FakeServer, scene: &Scene) {
    let fifo = swc_of(&scene.out, server, FIFO);
    std::fs::remove_file(&fifo).unwrap();
    mkfifo(&fifo);
    let dir = swc_of(&scene.out, server, DIR);
    std::fs::remove_file(&dir).unwrap();
    std::fs::create_dir(&dir).unwrap();
    let o = run(cli(server).args(["verify", scene.o()]).time_limit(HANG));
    assert_eq!(o.code, 3, "{}", o.err);
    for i in [FIFO, DIR] {
        let prefix = format!("{}: ", rel_of(server, i));
        assert!(
            o.out.lines().any(|l| l.starts_with(&prefix)),
            "{prefix:?} in\n{}",
            o.out
        );
    }
    verify_summary(&o);
}

/// Both files are in place again and the folder verifies.
fn assert_mended(server: &FakeServer, scene: &Scene) {
    for i in [FIFO, DIR] {
        let p = swc_of(&scene.out, server, i);
        assert!(
            std::fs::symlink_metadata(&p).unwrap().is_file(),
            "{}",
            p.display()
        );
    }
    assert_current(server, scene, 0..server.catalog().len());
    let o = run(cli(server).args(["verify", scene.o()]).time_limit(HANG));
    assert_eq!((o.code, o.out.as_str()), (0, ""), "{}", o.err);
}

#[test]
fn a_fifo_and_an_empty_folder_at_data_files_are_reported_and_a_rerun_mends_them() {
    let server = FakeServer::start(Catalog::generate(5));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    let before = scene.snapshot();
    special_files_at_data_paths(&server, &scene);
    let o = run(cli(&server)
        .args(["download", "--all", "-o", scene.o(), "--no-log"])
        .time_limit(HANG));
    assert_eq!(o.code, 0, "{}", o.err);
    download_summary(&o.err);
    assert_mended(&server, &scene);
    scene.assert_outside_is(&before);
}

#[test]
fn a_fifo_and_an_empty_folder_at_data_files_are_mended_by_repair() {
    let server = FakeServer::start(Catalog::generate(5));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    let before = scene.snapshot();
    special_files_at_data_paths(&server, &scene);
    let o = run(cli(&server)
        .args(["verify", scene.o(), "--repair"])
        .time_limit(HANG));
    assert_eq!(o.code, 0, "{}", o.err);
    assert_mended(&server, &scene);
    scene.assert_outside_is(&before);
}

#[test]
fn a_symlink_at_the_lock_is_never_followed() {
    let server = FakeServer::start(Catalog::generate(3));
    for target in ["victim.txt", "lock-target"] {
        let scene = Scene::new();
        std::fs::create_dir_all(&scene.out).unwrap();
        let link = scene.out.join(".neuromorpho.lock");
        std::os::unix::fs::symlink(scene.outside.join(target), &link).unwrap();
        let before = scene.snapshot();
        let o = run(cli(&server)
            .args(["download", "--all", "-o", scene.o(), "--no-log"])
            .time_limit(HANG));
        assert_one_error_naming(&o, ".neuromorpho.lock");
        scene.assert_outside_is(&before);
        assert!(!scene.outside.join("lock-target").exists(), "{target}");
        // verify --repair takes the lock too.
        downloaded_beside_a_linked_lock(&server, &scene);
        let o = run(cli(&server)
            .args(["verify", scene.o(), "--repair"])
            .time_limit(HANG));
        assert_one_error_naming(&o, ".neuromorpho.lock");
        scene.assert_outside_is(&before);
        assert!(!scene.outside.join("lock-target").exists(), "{target}");
    }
}

/// Makes a complete folder at OUT whose lock is, again, the link it was: downloaded into a
/// folder of its own, moved in beside the link.
fn downloaded_beside_a_linked_lock(server: &FakeServer, scene: &Scene) {
    let elsewhere = TempDir::new();
    let o = run(cli(server).args([
        "download",
        "--all",
        "-o",
        s(elsewhere.path()),
        "--no-log",
        "-q",
    ]));
    assert_eq!(o.code, 0, "{}", o.err);
    for e in std::fs::read_dir(elsewhere.path()).unwrap() {
        let e = e.unwrap();
        if e.file_name() != ".neuromorpho.lock" {
            std::fs::rename(e.path(), scene.out.join(e.file_name())).unwrap();
        }
    }
    // Damage one file so that the repair has something to do.
    flip_byte(&swc_of(&scene.out, server, 0), 40);
}

/// A run of the binary spawned in the background, its stderr collected as it comes.
struct Spawned {
    child: std::process::Child,
    err: Arc<Mutex<String>>,
    reader: Option<thread::JoinHandle<()>>,
}

impl Spawned {
    fn start(cli: &Cli) -> Spawned {
        let mut child = cli
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pipe = child.stderr.take().unwrap();
        let err = Arc::new(Mutex::new(String::new()));
        let sink = err.clone();
        let reader = thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut e = sink.lock().unwrap();
                e.push_str(&line);
                e.push('\n');
            }
        });
        Spawned {
            child,
            err,
            reader: Some(reader),
        }
    }

    fn err(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the end, at most `limit` (then kills it and panics): (exit code, stderr).
    fn finish(mut self, limit: Duration) -> (i32, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("still running {limit:?} later:\n{}", self.err());
            }
            thread::sleep(Duration::from_millis(5));
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        (status.code().unwrap_or(-1), self.err())
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Another process holding the folder's lock: this test, with the same flock.
fn hold_the_lock(scene: &Scene) -> std::fs::File {
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(scene.out.join(".neuromorpho.lock"))
        .unwrap();
    lock.lock().unwrap();
    lock
}

/// `run` waits for the lock: it says so (naming the lock) within a few seconds, or at least
/// is still there; then SIGTERM ends it within 3 s with exit 143. Its stderr.
fn sigterm_ends_the_wait(mut run: Spawned) -> String {
    let started = Instant::now();
    while !run.err().contains(".neuromorpho.lock") && started.elapsed() < Duration::from_secs(8) {
        assert!(run.running(), "it ended instead of waiting:\n{}", run.err());
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(Duration::from_millis(300));
    assert!(run.running(), "it waits:\n{}", run.err());
    send_signal(run.child.id(), "TERM");
    let (code, err) = run.finish(Duration::from_secs(3));
    assert_eq!(code, 143, "{err}");
    err
}

#[test]
fn a_run_waiting_for_the_lock_ends_within_3_s_of_sigterm_with_143() {
    let server = FakeServer::start(Catalog::generate(3));
    let scene = Scene::new();
    std::fs::create_dir_all(&scene.out).unwrap();
    let lock = hold_the_lock(&scene);
    let before = scene.snapshot();
    let run =
        Spawned::start(&cli(&server).args(["download", "--all", "-o", scene.o(), "--no-log"]));
    sigterm_ends_the_wait(run);
    assert_eq!(
        server.counters().files,
        0,
        "nothing fetched while it waited"
    );
    lock.unlock().unwrap();
    scene.assert_outside_is(&before);
}

#[test]
fn a_run_waiting_for_the_lock_to_record_its_files_ends_within_3_s_of_sigterm_with_143() {
    let server = FakeServer::start(Catalog::generate(3));
    let scene = Scene::new();
    // One file held back, so that the lock is taken while the run downloads: it waits for
    // the lock only at the end, to record what it fetched.
    server.push_fault(FaultRule::new(
        Target::AnyFile,
        1,
        Fault::Delay(Duration::from_millis(1500)),
    ));
    let before = scene.snapshot();
    let mut run =
        Spawned::start(&cli(&server).args(["download", "--all", "-o", scene.o(), "--no-log"]));
    let started = Instant::now();
    while !(scene.out.join("metadata.csv").is_file() && server.counters().files > 0) {
        assert!(started.elapsed() < Duration::from_secs(30), "{}", run.err());
        assert!(run.running(), "{}", run.err());
        thread::sleep(Duration::from_millis(2));
    }
    let lock = hold_the_lock(&scene);
    assert_eq!(server.pending_faults(), 0, "the held file is being served");
    sigterm_ends_the_wait(run);
    lock.unlock().unwrap();
    scene.assert_outside_is(&before);
    // What it fetched but could not record, the next run finds in place.
    let o = download(&server, &scene, &["--all"]);
    assert_eq!(o.code, 0, "{}", o.err);
    let v = verify_run(&server, &scene, &[]);
    assert_eq!((v.code, v.out.as_str()), (0, ""), "{}", v.err);
    scene.assert_outside_is(&before);
}

// ------------------------------------------------------------------------------------------
// Item 10: two updates at once

#[test]
fn two_updates_at_once_never_call_each_others_new_copies_damaged() {
    const N: usize = 20;
    let server = FakeServer::start(Catalog::generate(N));
    let scene = Scene::new();
    downloaded(&server, &scene, &[]);
    server.set_release(2);
    // Latency, so that the runs overlap; and the first run held on its first file until the
    // second has replaced the changed files and recorded them.
    server.set_latency(Duration::from_millis(10));
    server.push_fault(FaultRule::new(
        Target::AnyFile,
        1,
        Fault::Delay(Duration::from_millis(2500)),
    ));
    let before = scene.snapshot();
    let update =
        |c: &str| cli(&server).args(["-c", c, "download", "--update", "-o", scene.o(), "--no-log"]);
    let mut first = Spawned::start(&update("1"));
    let started = Instant::now();
    while server.counters().files == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no file asked for"
        );
        assert!(first.running(), "{}", first.err());
        thread::sleep(Duration::from_millis(5));
    }
    let second = Spawned::start(&update("4")).finish(Duration::from_secs(120));
    assert!(
        first.running(),
        "the first run is still held: {}",
        first.err()
    );
    let outputs = [second, first.finish(Duration::from_secs(120))];
    server.set_latency(Duration::ZERO);
    for (code, err) in &outputs {
        println!("exit {code}\n{err}");
    }
    for (_, err) in &outputs {
        assert!(
            !err.contains("damaged copies fetched again"),
            "the other run's new copy is no damage:\n{err}"
        );
        update_summary(err);
    }
    assert_current(&server, &scene, 0..server.catalog().len());
    let v = verify_run(&server, &scene, &[]);
    assert_eq!((v.code, v.out.as_str()), (0, ""), "{}", v.err);
    scene.assert_outside_is(&before);
}
