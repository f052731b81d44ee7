//! Issue 9, part 3: the file system. A symlink or a FIFO planted at a temporary name is never
//! followed or opened (temporary files are created exclusively); a symlink at a final name is
//! replaced, never written through; a write error leaves no temporary file behind.
//!
//! Temporary names are `.<name>.<host>-<pid>-<n>.part` with a per-process counter `n`: the
//! library tests of this binary take turns ([`IN_PROCESS`]), so that one of them can learn
//! `n` and plant things at the very names its own download tries next.

use crate::support;

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use std::sync::Mutex;

use neuromorpho::tables::MetadataWriter;
use neuromorpho::{DownloadOptions, MetadataFormat, Query};
use support::*;

/// Held by every test that writes files in this process (the CLI tests run the binary).
static IN_PROCESS: Mutex<()> = Mutex::new(());

/// The counter of this process's next temporary name, learnt from a temporary file of our
/// own (a metadata table started in `dir` and dropped).
fn next_temp_counter(dir: &Path) -> u64 {
    let probe = dir.join("probe.csv");
    let w = MetadataWriter::create(&probe, MetadataFormat::Csv).unwrap();
    let prefix = format!(".probe.csv.{}-{}-", host(), std::process::id());
    let temp = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no temporary file {prefix}<n>.part in {}", dir.display()));
    drop(w);
    let n = temp[prefix.len()..].trim_end_matches(".part");
    n.parse::<u64>().unwrap_or_else(|_| panic!("{temp}")) + 1
}

/// The host part of our temporary names, as the library computes it.
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect()
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// What sits at `path` without following it: a symlink's target, `fifo`, or `file`.
fn what_is(path: &Path) -> String {
    let m = std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if m.file_type().is_symlink() {
        format!("-> {}", std::fs::read_link(path).unwrap().display())
    } else if m.file_type().is_fifo() {
        "fifo".into()
    } else if m.is_file() {
        "file".into()
    } else {
        "other".into()
    }
}

/// A folder beside the output folder with a file that must never change, and a path that
/// must never appear.
struct Outside {
    _dir: TempDir,
    victim: PathBuf,
    absent: PathBuf,
}

const VICTIM: &[u8] = b"precious: must never be overwritten\n";

fn outside() -> Outside {
    let dir = TempDir::new();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, VICTIM).unwrap();
    let absent = dir.path().join("never-created.swc");
    Outside {
        victim,
        absent,
        _dir: dir,
    }
}

impl Outside {
    fn assert_untouched(&self) {
        assert_eq!(
            std::fs::read(&self.victim).unwrap(),
            VICTIM,
            "written through a link"
        );
        assert!(
            !self.absent.exists(),
            "{} was created",
            self.absent.display()
        );
    }
}

fn assert_regular_and_whole(path: &Path, bytes: &[u8]) {
    assert_eq!(what_is(path), "file", "{}", path.display());
    assert!(
        std::fs::read(path).unwrap() == bytes,
        "{} is not the file",
        path.display()
    );
}

// ------------------------------------------------------------------------------------------
// Things planted at temporary names

#[test]
fn symlinks_and_fifos_at_our_own_temporary_names_are_never_followed_or_opened() {
    let server = FakeServer::start(Catalog::generate(2));
    let neurons = client(&server).search(&Query::all()).unwrap();
    let item = neurons[1].clone();
    let name = server.catalog().name(1).to_string();
    let out = TempDir::new();
    let downloads = out.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let outside = outside();
    let _turn = IN_PROCESS.lock().unwrap_or_else(|p| p.into_inner());
    let next = next_temp_counter(out.path());
    // The next 7 names this process's download can try (after the folder's write probe),
    // each taken: a link to a file outside, a dangling link pointing outside, a FIFO
    // (opening it for writing would block).
    let writer = format!("{}-{}", host(), std::process::id());
    let mut planted = Vec::new();
    for n in next..next + 7 {
        let p = downloads.join(format!(".{name}.swc.{writer}-{n}.part"));
        match n % 3 {
            0 => std::os::unix::fs::symlink(&outside.victim, &p).unwrap(),
            1 => std::os::unix::fs::symlink(&outside.absent, &p).unwrap(),
            _ => mkfifo(&p),
        }
        planted.push((p.clone(), what_is(&p)));
    }
    let dir = out.path().to_path_buf();
    let report = within(
        Duration::from_secs(20),
        "a download past planted names",
        move || {
            client_builder(&server)
                .concurrency(1)
                .build()
                .unwrap()
                .download(&[item], &DownloadOptions::new(&dir), |_| {})
                .map(|r| (r, server))
        },
    )
    .unwrap();
    let (report, server) = report.unwrap();
    assert_eq!(report.failed, vec![], "a free name was found");
    assert_eq!(report.downloaded, 1);
    assert_regular_and_whole(
        &cng_file(out.path(), &server, 1),
        server.catalog().swc_bytes(1),
    );
    outside.assert_untouched();
    // What was planted is still there, as it was: a live writer's name is not ours to remove.
    for (p, was) in &planted {
        assert_eq!(&what_is(p), was, "{}", p.display());
    }
    let mut parts = part_files(out.path());
    parts.sort();
    let mut expected: Vec<PathBuf> = planted.into_iter().map(|(p, _)| p).collect();
    expected.sort();
    assert_eq!(parts, expected, "no temporary file of ours left");
    // The download went past every planted name: it tried them and found them taken.
    let after = next_temp_counter(out.path());
    assert!(after >= next + 9, "counter {next} -> {after}");
}

#[test]
fn cli_symlinks_and_fifos_at_temporary_names_are_never_followed() {
    let server = FakeServer::start(Catalog::generate(4));
    let out = TempDir::new();
    let downloads = out.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let outside = outside();
    let host = host();
    let names: Vec<String> = (0..4)
        .map(|i| server.catalog().name(i).to_string())
        .collect();
    // The old fixed names, and the names of a dead writer of this host: leftovers, removed.
    let mut leftovers = Vec::new();
    for (k, name) in names.iter().enumerate() {
        for tag in ["".to_string(), format!(".{host}-4000000000-0")] {
            let p = downloads.join(format!(".{name}.swc{tag}.part"));
            match k % 3 {
                0 => std::os::unix::fs::symlink(&outside.victim, &p).unwrap(),
                1 => std::os::unix::fs::symlink(&outside.absent, &p).unwrap(),
                _ => mkfifo(&p),
            }
            leftovers.push(p);
        }
    }
    // A live writer's (pid 1 is alive): left alone.
    let live = downloads.join(format!(".{}.swc.{host}-1-0.part", names[0]));
    std::os::unix::fs::symlink(&outside.victim, &live).unwrap();
    let started = Instant::now();
    let o = cli(&server)
        .args([
            "download",
            "--all",
            "-o",
            out.path().to_str().unwrap(),
            "--no-log",
            "-q",
        ])
        .time_limit(Duration::from_secs(30))
        .run();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(o.code, 0, "{}", o.err);
    for i in 0..4 {
        assert_regular_and_whole(
            &cng_file(out.path(), &server, i),
            server.catalog().swc_bytes(i),
        );
    }
    outside.assert_untouched();
    for p in &leftovers {
        assert!(
            std::fs::symlink_metadata(p).is_err(),
            "{} left",
            p.display()
        );
    }
    assert_eq!(what_is(&live), format!("-> {}", outside.victim.display()));
    assert_eq!(part_files(out.path()), [live]);
}

// ------------------------------------------------------------------------------------------
// Symlinks at final names

#[test]
fn a_symlink_at_a_final_name_is_replaced_when_fetched_never_written_through() {
    let server = FakeServer::start(Catalog::generate(3));
    let neurons = client(&server).search(&Query::all()).unwrap();
    let items = neurons.clone();
    let out = TempDir::new();
    let downloads = out.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let outside = outside();
    let empty = outside.victim.with_file_name("empty.swc");
    std::fs::write(&empty, b"").unwrap();
    // Row 0: a dangling link out; row 1: a link to an empty file out (not a complete file:
    // fetched again); row 2: a link to a file out, fetched again as asked (skip_existing off).
    let links = [&outside.absent, &empty, &outside.victim];
    for (i, target) in links.iter().enumerate() {
        std::os::unix::fs::symlink(target, cng_file(out.path(), &server, i)).unwrap();
    }
    let mut options = DownloadOptions::new(out.path());
    options = options.skip_existing(false);
    let _turn = IN_PROCESS.lock().unwrap_or_else(|p| p.into_inner());
    let report = client(&server).download(&items, &options, |_| {}).unwrap();
    assert_eq!((report.downloaded, report.failed.len()), (3, 0));
    for i in 0..3 {
        assert_regular_and_whole(
            &cng_file(out.path(), &server, i),
            server.catalog().swc_bytes(i),
        );
    }
    outside.assert_untouched();
    assert_eq!(std::fs::read(&empty).unwrap(), b"");
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());
}

#[test]
fn cli_a_symlink_at_a_final_name_is_never_written_through() {
    let server = FakeServer::start(Catalog::generate(3));
    let out = TempDir::new();
    let downloads = out.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let outside = outside();
    let empty = outside.victim.with_file_name("empty.swc");
    std::fs::write(&empty, b"").unwrap();
    std::os::unix::fs::symlink(&outside.absent, cng_file(out.path(), &server, 0)).unwrap();
    std::os::unix::fs::symlink(&empty, cng_file(out.path(), &server, 1)).unwrap();
    std::os::unix::fs::symlink(&outside.victim, cng_file(out.path(), &server, 2)).unwrap();
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
    // A link at a final name is never trusted (whatever it points to): each is fetched, and
    // the link replaced by the file; nothing outside is written.
    for i in 0..3 {
        assert_regular_and_whole(
            &cng_file(out.path(), &server, i),
            server.catalog().swc_bytes(i),
        );
        assert_eq!(server.file_hits(&file_needle(&server, i)), 1);
    }
    assert_eq!(std::fs::read(&empty).unwrap(), b"");
    outside.assert_untouched();
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());
}

// ------------------------------------------------------------------------------------------
// Write errors leave no temporary file

/// The binary under `ulimit -f <kib>` with SIGXFSZ ignored: a write past the limit fails
/// with EFBIG (a full disk, for the program).
fn with_file_size_limit(cli: &Cli, kib: u32) -> CliOutput {
    let cmd = cli.command();
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut sh = std::process::Command::new("bash");
    sh.arg("-c")
        .arg(format!("trap '' XFSZ; ulimit -f {kib}; exec \"$@\""))
        .arg("bash")
        .arg(program)
        .args(args);
    for v in CLEARED_ENV {
        sh.env_remove(v);
    }
    let o = sh
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    CliOutput {
        code: o.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn one_error_line_naming(o: &CliOutput, file: &str) {
    assert_eq!(o.code, 1, "{}", o.err);
    assert_eq!(o.err.lines().count(), 1, "{}", o.err);
    assert!(
        o.err.starts_with("neuromorpho: error:") && o.err.contains(file),
        "{}",
        o.err
    );
}

#[test]
fn cli_a_write_error_in_the_metadata_table_leaves_no_temporary_file() {
    // 40 records make a table of about 60 KB; the limit is 4 KB.
    let server = FakeServer::start(Catalog::generate(40));
    let out = TempDir::new();
    let run = cli(&server).args([
        "download",
        "--all",
        "-o",
        out.path().to_str().unwrap(),
        "--no-log",
        "-q",
    ]);
    let o = with_file_size_limit(&run, 4);
    one_error_line_naming(&o, "metadata.csv");
    assert!(!out.path().join("metadata.csv").exists());
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());
    assert_eq!(
        server.counters().files,
        0,
        "no download after a failed table"
    );
}

#[test]
fn cli_a_write_error_in_failed_csv_leaves_no_temporary_file() {
    // 300 unknown names: a failed.csv of about 20 KB; the limit is 4 KB.
    let server = FakeServer::start(Catalog::generate(3));
    let out = TempDir::new();
    let names: Vec<String> = (0..300).map(|k| format!("ghost_{k:04}")).collect();
    let run = cli(&server).arg("get").args(&names).args([
        "-o",
        out.path().to_str().unwrap(),
        "--no-log",
        "-q",
    ]);
    let o = with_file_size_limit(&run, 4);
    one_error_line_naming(&o, "failed.csv");
    assert!(!out.path().join("failed.csv").exists());
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());
}

#[test]
fn cli_a_table_that_cannot_be_put_in_place_leaves_no_temporary_file() {
    let server = FakeServer::start(Catalog::generate(3));
    let gone = server.catalog().name(1).to_string();
    server.remove_file(&gone);
    for table in ["metadata.csv", "failed.csv"] {
        let out = TempDir::new();
        // A folder where the table goes: its rename fails.
        std::fs::create_dir_all(out.path().join(table).join("x")).unwrap();
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
        one_error_line_naming(&o, table);
        assert_eq!(part_files(out.path()), Vec::<PathBuf>::new(), "{table}");
    }
}
