//! Checking a folder against its manifest, offline: every entry present with its size and
//! SHA-256, and no file in the data folders that no entry names; and repairing what failed.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use crate::archive::files::FileKind;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::store::atomic_file::is_temp_name;
use crate::store::manifest::{
    hash_file, manifest_path, relative, suffix_of, sums_path, Manifest, ManifestEntry, SumsDigest,
    SUMS,
};

/// How to verify: [`VerifyOptions::default`] and the chainable setters.
///
/// ```
/// let options = neuromorpho::VerifyOptions::default().hash(false).threads(2);
/// ```
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub(crate) hash: bool,
    pub(crate) threads: usize,
}

impl VerifyOptions {
    /// Compare SHA-256 hashes (reading every byte), not only sizes. Default true.
    #[must_use]
    pub fn hash(mut self, on: bool) -> VerifyOptions {
        self.hash = on;
        self
    }

    /// Files hashed at once (1 to 64). Default: the number of CPUs, at most 8.
    #[must_use]
    pub fn threads(mut self, threads: usize) -> VerifyOptions {
        self.threads = threads.clamp(1, 64);
        self
    }
}

impl Default for VerifyOptions {
    fn default() -> VerifyOptions {
        VerifyOptions {
            hash: true,
            threads: std::thread::available_parallelism()
                .map(|n| n.get().min(8))
                .unwrap_or(2),
        }
    }
}

/// What is wrong with one file, one line of a manifest, or the checksum list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The manifest lists it; it is not there.
    Missing,
    /// Not the size the manifest lists.
    Size {
        /// What the manifest says.
        expected: u64,
        /// What is there.
        found: u64,
    },
    /// Not the SHA-256 the manifest lists.
    Hash {
        /// What the manifest says.
        expected: String,
        /// What is there.
        found: String,
    },
    /// A file in a data folder that no entry names.
    Unlisted,
    /// Something else than a regular file stands at its path (a FIFO, a folder, a symbolic
    /// link): never opened, replaced by a repair.
    NotAFile(String),
    /// A folder on its way is a symbolic link (or not a folder): nothing is read or placed
    /// through it.
    Blocked(String),
    /// It could not be read.
    Unreadable {
        /// What the system said.
        detail: String,
        /// Its kind (`PermissionDenied`, ...), for a program to act on.
        kind: std::io::ErrorKind,
    },
    /// A line of the manifest (the problem's path) that cannot be used: unreadable, or naming
    /// a path that is not safe. The file it may have named is not checked.
    ManifestLine {
        /// The line's number, from 1.
        line: u64,
        /// What is wrong with it.
        why: String,
    },
    /// The checksum list (the problem's path) does not match its manifest, so that
    /// `sha256sum -c` would not say what this check says: missing, or stale.
    Checksums(String),
}

impl Problem {
    /// Whether this problem is about a file of a data folder that a repair fetches again.
    pub(crate) fn refetched(&self) -> bool {
        matches!(
            self,
            Problem::Missing | Problem::Size { .. } | Problem::Hash { .. } | Problem::NotAFile(_)
        )
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Missing => f.write_str("missing"),
            Problem::Size { expected, found } => {
                write!(f, "size {found} bytes, the manifest says {expected}")
            }
            Problem::Hash { expected, found } => {
                write!(f, "SHA-256 {found}, the manifest says {expected}")
            }
            Problem::Unlisted => f.write_str("not in the manifest"),
            Problem::NotAFile(what) => write!(f, "{what} stands where the file belongs"),
            Problem::Blocked(why) => write!(f, "not checked: {why}"),
            Problem::Unreadable { detail, .. } => write!(f, "unreadable: {detail}"),
            Problem::ManifestLine { line, why } => write!(f, "line {line}: {why}"),
            Problem::Checksums(why) => f.write_str(why),
        }
    }
}

/// What `verify` found wrong at one place: a path (relative to the folder) and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// The path relative to the output folder (for a manifest line or a checksum list, the
    /// manifest's or the list's name).
    pub path: String,
    /// What is wrong.
    pub problem: Problem,
    /// The file's entry (none for an unlisted file, a manifest line or a checksum list).
    pub entry: Option<ManifestEntry>,
}

/// The outcome of [`Client::verify`](crate::Client::verify).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
#[must_use]
pub struct VerifyReport {
    /// Entries checked.
    pub entries: u64,
    /// Entries whose file holds.
    pub ok: u64,
    /// Everything wrong, in path order (manifest lines and checksum lists first).
    pub problems: Vec<Finding>,
    /// Bytes read to hash.
    pub bytes: u64,
    /// Wall time.
    pub elapsed: std::time::Duration,
    /// The manifests read.
    pub manifests: Vec<PathBuf>,
    /// Manifest lines that could not be read (a killed run's last line); each is also a
    /// [`Problem::ManifestLine`].
    pub damaged_lines: u64,
}

impl VerifyReport {
    /// Whether every entry holds and nothing is unlisted.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Check a folder against its manifest (see `Client::verify`); stops when `cancel` is.
/// Streamed: entries go from the manifest to the hashing threads through a bounded channel,
/// and only problems are kept.
pub(crate) fn verify(
    out_dir: &Path,
    options: &VerifyOptions,
    cancel: &crate::cancel::CancelToken,
    mut progress: impl FnMut(&Progress),
) -> Result<VerifyReport> {
    let started = Instant::now();
    let manifest = Manifest::load(out_dir)?;
    if manifest.files.is_empty() {
        return Err(Error::input(
            out_dir.display().to_string(),
            "no manifest.jsonl here: nothing to verify (a folder written by another tool? \
             the same download command records it)",
        ));
    }
    let files = manifest.len() as u64;
    let mut report = VerifyReport {
        entries: files,
        manifests: manifest.files.clone(),
        damaged_lines: manifest.damaged_lines,
        ..VerifyReport::default()
    };
    let mut heads = Vec::new();
    for line in &manifest.bad_lines {
        heads.push(Finding {
            path: line.manifest.clone(),
            problem: Problem::ManifestLine {
                line: line.line,
                why: line.why.clone(),
            },
            entry: None,
        });
    }
    for file in &manifest.files {
        let suffix = suffix_of(file);
        if let Some(problem) = checksums_problem(out_dir, &suffix, &manifest)? {
            heads.push(Finding {
                path: format!("{SUMS}{suffix}"),
                problem,
                entry: None,
            });
        }
    }
    let threads = options.threads.clamp(1, 64);
    let (work_tx, work_rx) = mpsc::sync_channel::<ManifestEntry>(threads * 4);
    let work_rx = std::sync::Mutex::new(work_rx);
    let (tx, rx) = mpsc::sync_channel::<(ManifestEntry, Checked)>(threads * 4);
    let fed = std::thread::scope(|s| {
        for _ in 0..threads {
            let tx = tx.clone();
            let work_rx = &work_rx;
            s.spawn(move || loop {
                if cancel.is_cancelled() {
                    return;
                }
                let next = match work_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok(e) = next else { return };
                let checked = check_entry(out_dir, &e, options.hash);
                if tx.send((e, checked)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        let manifest = &manifest;
        let feeder = s.spawn(move || {
            manifest.each(|e| {
                if cancel.is_cancelled() {
                    return Err(Error::Cancelled);
                }
                // The workers are gone only when cancelled: stop feeding.
                work_tx.send(e).map_err(|_| Error::Cancelled)
            })
        });
        for (done, (e, checked)) in (1u64..).zip(rx) {
            report.bytes += checked.bytes;
            match checked.problem {
                None => report.ok += 1,
                Some(problem) => report.problems.push(Finding {
                    path: e.path.clone(),
                    problem,
                    entry: Some(e),
                }),
            }
            progress(&Progress::Verified {
                done,
                files,
                bytes: report.bytes,
                problems: (report.problems.len() + heads.len()) as u64,
            });
        }
        feeder.join().unwrap_or(Err(Error::Cancelled))
    });
    cancel.check()?;
    fed?;
    for path in unlisted(out_dir, &manifest) {
        report.problems.push(Finding {
            path,
            problem: Problem::Unlisted,
            entry: None,
        });
    }
    report.problems.sort_by(|a, b| a.path.cmp(&b.path));
    heads.append(&mut report.problems);
    report.problems = heads;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Whether `SHA256SUMS<suffix>` says what the manifest says (what a compaction writes), in
/// any order: the list's lines and the manifest's entries are compared by an order-free
/// digest, streamed.
fn checksums_problem(out_dir: &Path, suffix: &str, manifest: &Manifest) -> Result<Option<Problem>> {
    let path = sums_path(out_dir, suffix);
    let file =
        match crate::store::safe_fs::open_regular(&path) {
            Ok(None) => return Ok(Some(Problem::Checksums(
                "missing: `sha256sum -c` cannot check this folder (a repair or a run writes it)"
                    .into(),
            ))),
            Ok(Some(f)) => f,
            Err(e) => return Ok(Some(Problem::Checksums(format!("unreadable: {e}")))),
        };
    let mut listed = SumsDigest::default();
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, file);
    let mut line = Vec::with_capacity(128);
    loop {
        line.clear();
        match std::io::BufRead::read_until(&mut reader, b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => listed.add_line(line.strip_suffix(b"\n").unwrap_or(&line)),
            Err(e) => return Ok(Some(Problem::Checksums(format!("unreadable: {e}")))),
        }
    }
    let mut recorded = SumsDigest::default();
    manifest.each_of(suffix, |e| {
        recorded.add_entry(&e);
        Ok(())
    })?;
    if listed == recorded {
        return Ok(None);
    }
    Ok(Some(Problem::Checksums(format!(
        "does not match {} (a repair or a run rewrites it)",
        manifest_path(out_dir, suffix)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ))))
}

struct Checked {
    bytes: u64,
    problem: Option<Problem>,
}

fn check_entry(out_dir: &Path, e: &ManifestEntry, hash: bool) -> Checked {
    let path = e.full_path(out_dir);
    if let Err(blocked) = crate::store::safe_fs::check_folders(out_dir, &path) {
        return checked(0, Some(Problem::Blocked(blocked.to_string())));
    }
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => m,
        Ok(m) => {
            return checked(
                0,
                Some(Problem::NotAFile(
                    crate::store::safe_fs::describe(&m).to_string(),
                )),
            )
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return checked(0, Some(Problem::Missing))
        }
        Err(err) => return checked(0, Some(unreadable(err))),
    };
    if meta.len() != e.bytes {
        return checked(
            0,
            Some(Problem::Size {
                expected: e.bytes,
                found: meta.len(),
            }),
        );
    }
    if !hash {
        return checked(0, None);
    }
    match hash_file(&path) {
        Ok((sha, n)) if sha == e.sha256 => checked(n, None),
        Ok((sha, n)) => checked(
            n,
            Some(Problem::Hash {
                expected: e.sha256.clone(),
                found: sha,
            }),
        ),
        Err(err) => checked(0, Some(unreadable(err))),
    }
}

fn unreadable(err: std::io::Error) -> Problem {
    Problem::Unreadable {
        detail: err.to_string(),
        kind: err.kind(),
    }
}

fn checked(bytes: u64, problem: Option<Problem>) -> Checked {
    Checked { bytes, problem }
}

/// Files of the data folders (`downloads/`, `original/`, `logs/`, `images/`) that no entry names;
/// temporary files of runs under way are not counted. A data folder that is a symlink is not
/// walked (its entries are reported as blocked).
fn unlisted(out_dir: &Path, listed: &Manifest) -> Vec<String> {
    let mut folders: Vec<&str> = FileKind::ALL.iter().map(|k| k.folder()).collect();
    folders.dedup();
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = folders
        .iter()
        .map(|f| out_dir.join(f))
        .filter(|d| std::fs::symlink_metadata(d).is_ok_and(|m| m.is_dir()))
        .collect();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(kind) = e.file_type() else { continue };
            let path = e.path();
            if kind.is_dir() {
                stack.push(path);
                continue;
            }
            if is_temp_name(&e.file_name().to_string_lossy()) {
                continue;
            }
            if let Some(rel) = relative(out_dir, &path) {
                if !listed.contains(&rel) {
                    out.push(rel);
                }
            }
        }
    }
    out
}
