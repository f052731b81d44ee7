//! Check files and folders: one report per file, read in parallel, handed over in order.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use super::issue::{Issue, IssueCode, Severity};
use super::morphio::{MorphioMorphology, MorphioVerdict};
use super::neurom::{NeuromCheck, NeuromOptions, NeuromReport};
use super::parse::{Morphology, SwcError};

/// The verdict on one SWC body: its measures when it is a usable tree, its issues (what the
/// file *is*, in this crate's codes and severities), MorphIO's verdict, and NeuroM's checks
/// when they were asked for.
///
/// `points` and `roots` are known when the file could be parsed; the tree measures
/// (`stems`, `bifurcations`, `tips`, `total_length`) only when it has no error. `morphio` is
/// known whenever the bytes could be read (MorphIO may load a file this crate refuses, and
/// the other way round).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SwcReport {
    /// Data lines.
    pub points: Option<usize>,
    /// Points whose parent is `-1`.
    pub roots: Option<usize>,
    /// Neurites (NeuroM's `number_of_neurites`).
    pub stems: Option<usize>,
    /// NeuroM's `number_of_bifurcations`.
    pub bifurcations: Option<usize>,
    /// NeuroM's `number_of_leaves`.
    pub tips: Option<usize>,
    /// NeuroM's `total_length` (µm).
    pub total_length: Option<f64>,
    /// The issues (see [`crate::swc::Validation::issues`]).
    pub issues: Vec<Issue>,
    /// How many errors were found (folded ones included).
    pub errors: usize,
    /// How many warnings were found (folded ones included).
    pub warnings: usize,
    /// Whether MorphIO 3.5 (and so NeuroM 4) loads the file, why not, and its warnings;
    /// `None` when the bytes could not be read.
    pub morphio: Option<MorphioVerdict>,
    /// NeuroM's checks, when [`CheckOptions::neurom`] asks for them (and the bytes could be
    /// read).
    pub neurom: Option<NeuromReport>,
}

impl SwcReport {
    /// A report of a file that could not be read or parsed.
    fn failed(issue: Issue) -> SwcReport {
        let error = issue.severity == Severity::Error;
        SwcReport {
            points: None,
            roots: None,
            stems: None,
            bifurcations: None,
            tips: None,
            total_length: None,
            errors: usize::from(error),
            warnings: usize::from(!error),
            issues: vec![issue],
            morphio: None,
            neurom: None,
        }
    }

    /// Whether the file is a usable tree (no error).
    pub fn is_usable(&self) -> bool {
        self.errors == 0
    }

    /// Whether MorphIO loads the file (false when it could not be read).
    pub fn morphio_loads(&self) -> bool {
        self.morphio.as_ref().is_some_and(|m| m.loads)
    }

    /// Whether the file meets every requirement: no error here (when required), MorphIO
    /// loads it (when required), and each required NeuroM check passes (a check on which
    /// NeuroM raises does not pass; nor does one that was not run).
    pub fn meets(&self, required: &Requirements) -> bool {
        (!required.swc || self.is_usable())
            && (!required.morphio || self.morphio_loads())
            && required.neurom.iter().all(|&c| {
                self.neurom
                    .as_ref()
                    .and_then(|n| n.get(c))
                    .is_some_and(|r| r.pass == Some(true))
            })
    }
}

/// What a file must satisfy to be kept: the verdicts a script filters on
/// ([`SwcReport::meets`], [`CheckSummary::kept`]). By default, no error here.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Requirements {
    /// No error found by this crate's validator.
    pub swc: bool,
    /// MorphIO 3.5's reader loads the file.
    pub morphio: bool,
    /// These NeuroM checks pass (they are run even if [`CheckOptions::neurom`] leaves them
    /// out).
    pub neurom: Vec<NeuromCheck>,
}

impl Default for Requirements {
    fn default() -> Requirements {
        Requirements {
            swc: true,
            morphio: false,
            neurom: Vec::new(),
        }
    }
}

impl Requirements {
    /// No requirement at all (every file is kept).
    pub fn none() -> Requirements {
        Requirements {
            swc: false,
            morphio: false,
            neurom: Vec::new(),
        }
    }

    /// Set [`Requirements::swc`].
    pub fn swc(mut self, required: bool) -> Requirements {
        self.swc = required;
        self
    }

    /// Set [`Requirements::morphio`].
    pub fn morphio(mut self, required: bool) -> Requirements {
        self.morphio = required;
        self
    }

    /// Add NeuroM checks that must pass.
    pub fn neurom(mut self, checks: impl IntoIterator<Item = NeuromCheck>) -> Requirements {
        for c in checks {
            if !self.neurom.contains(&c) {
                self.neurom.push(c);
            }
        }
        self
    }
}

/// A [`SwcReport`] and the file it is about.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CheckedFile {
    /// The file as given or found in a folder; `-` for standard input.
    pub path: PathBuf,
    /// What it gave.
    pub report: SwcReport,
}

impl CheckedFile {
    /// One JSON object with the fields `file`, `points`, `roots`, `stems`, `bifurcations`,
    /// `tips`, `total_length`, `issues` (each `{code, severity, line, message}`) and
    /// `morphio` (`{loads, reason, line, warnings}`, `null` when the file could not be read),
    /// then `neurom` when its checks ran (`{"has_axon": {"pass", "lines"}, ...}`, with a
    /// `message` where `pass` is `null`); unknown measures are `null`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// [`CheckedFile::to_json`] as one line of text (no newline), for JSON Lines.
    pub fn to_json_line(&self) -> String {
        self.to_json().to_string()
    }
}

impl serde::Serialize for CheckedFile {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let r = &self.report;
        let mut s = serializer.serialize_struct("CheckedFile", 10)?;
        s.serialize_field("file", &self.path.to_string_lossy())?;
        s.serialize_field("points", &r.points)?;
        s.serialize_field("roots", &r.roots)?;
        s.serialize_field("stems", &r.stems)?;
        s.serialize_field("bifurcations", &r.bifurcations)?;
        s.serialize_field("tips", &r.tips)?;
        s.serialize_field("total_length", &r.total_length)?;
        s.serialize_field("issues", &r.issues)?;
        s.serialize_field("morphio", &r.morphio)?;
        if let Some(neurom) = &r.neurom {
            s.serialize_field("neurom", neurom)?;
        } else {
            s.skip_field("neurom")?;
        }
        s.end()
    }
}

/// Parse, validate and measure SWC bytes, and give MorphIO's verdict. Never fails: a file
/// that cannot be parsed gives a report with its one parse error (and MorphIO's verdict).
pub fn check_bytes(bytes: &[u8]) -> SwcReport {
    check_bytes_with(bytes, None)
}

/// [`check_bytes`], with NeuroM's checks when `neurom` asks for them.
pub fn check_bytes_with(bytes: &[u8], neurom: Option<&NeuromOptions>) -> SwcReport {
    let parsed = Morphology::from_bytes(bytes);
    // MorphIO's reading: from our points when MorphIO reads the text alike, else its own.
    let morphio = parsed
        .as_ref()
        .ok()
        .and_then(MorphioMorphology::from_morphology)
        .unwrap_or_else(|| MorphioMorphology::from_bytes(bytes));
    let neurom = neurom.map(|o| morphio.neurom_checks(o));
    let morphio = Some(morphio.verdict().clone());
    let morphology = match parsed {
        Ok(m) => m,
        Err(e) => {
            return SwcReport {
                morphio,
                neurom,
                ..SwcReport::failed(e.to_issue())
            }
        }
    };
    let validation = morphology.validate();
    let m = morphology.measures();
    let usable = validation.is_usable();
    SwcReport {
        points: Some(m.points),
        roots: Some(m.roots),
        stems: usable.then_some(m.stems),
        bifurcations: usable.then_some(m.bifurcations),
        tips: usable.then_some(m.tips),
        total_length: usable.then_some(m.total_length),
        issues: validation.issues,
        errors: validation.errors,
        warnings: validation.warnings,
        morphio,
        neurom,
    }
}

/// Read everything from `reader` (at most `max_size` bytes) and check it. Never fails: a
/// read error is an `io` issue, more than `max_size` bytes a `too-large` one.
pub fn check_reader<R: Read>(reader: R, max_size: u64) -> SwcReport {
    check_reader_with(reader, 0, max_size, None)
}

/// Read and check; `size` is what the reader is expected to hold (0 when unknown), so that
/// a file is read into one allocation rather than a doubling one.
fn check_reader_with<R: Read>(
    reader: R,
    size: u64,
    max_size: u64,
    neurom: Option<&NeuromOptions>,
) -> SwcReport {
    // The thread's buffer of the last file, reused: a fresh one for each file costs a page
    // fault per page (the allocator gives large freed blocks back to the system).
    let mut bytes = READ_BUFFER.with(|b| b.take());
    bytes.clear();
    // One byte more, so that reading to the end does not grow the buffer only to find it.
    let expected = size.min(max_size).saturating_add(1);
    let _ = bytes.try_reserve_exact(usize::try_from(expected).unwrap_or(0));
    let report = match reader
        .take(max_size.saturating_add(1))
        .read_to_end(&mut bytes)
    {
        Err(e) => SwcReport::failed(Issue::new(IssueCode::Io, None, format!("cannot read: {e}"))),
        Ok(n) if n as u64 > max_size => SwcReport::failed(too_large(max_size)),
        Ok(_) => check_bytes_with(&bytes, neurom),
    };
    if bytes.capacity() <= KEPT_BUFFER {
        READ_BUFFER.with(|b| b.replace(bytes));
    }
    report
}

/// The largest read buffer a thread keeps for its next file.
const KEPT_BUFFER: usize = 64 << 20;

thread_local! {
    static READ_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

fn too_large(max_size: u64) -> Issue {
    Issue::new(
        IssueCode::TooLarge,
        None,
        format!("larger than the maximum of {max_size} bytes"),
    )
}

/// Check one file (`-` is standard input). Never fails: see [`check_reader`].
pub fn check_file(path: impl AsRef<Path>, options: &CheckOptions) -> CheckedFile {
    let path = path.as_ref();
    let neurom = options.neurom_to_run();
    let neurom = neurom.as_ref();
    let report = if path == Path::new("-") {
        check_reader_with(std::io::stdin().lock(), 0, options.max_file_size, neurom)
    } else {
        match std::fs::File::open(path) {
            Err(e) => {
                SwcReport::failed(Issue::new(IssueCode::Io, None, format!("cannot open: {e}")))
            }
            // Refuse early when the size is known; `check_reader` caps it anyway.
            Ok(f) => match f.metadata() {
                Ok(md) if md.is_file() && md.len() > options.max_file_size => {
                    SwcReport::failed(too_large(options.max_file_size))
                }
                Ok(md) if md.is_dir() => {
                    SwcReport::failed(Issue::new(IssueCode::Io, None, "is a folder".to_string()))
                }
                Ok(md) if md.is_file() => {
                    check_reader_with(f, md.len(), options.max_file_size, neurom)
                }
                _ => check_reader_with(f, 0, options.max_file_size, neurom),
            },
        }
    };
    CheckedFile {
        path: path.to_path_buf(),
        report,
    }
}

/// How to check files.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CheckOptions {
    /// Threads of the local pool that reads and checks files (at least 1). Default: the
    /// machine's parallelism, at most 8.
    pub threads: usize,
    /// Larger files get a `too-large` error instead of being read. Default: 1 GiB (the
    /// largest NeuroMorpho.Org files are a few tens of MB).
    pub max_file_size: u64,
    /// NeuroM's checks to run, with their parameters. Default: none.
    pub neurom: Option<NeuromOptions>,
    /// What a file must satisfy to be kept ([`CheckSummary::kept`]). Default: no error.
    pub require: Requirements,
}

impl Default for CheckOptions {
    fn default() -> CheckOptions {
        CheckOptions {
            threads: std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(8),
            max_file_size: 1 << 30,
            neurom: None,
            require: Requirements::default(),
        }
    }
}

impl CheckOptions {
    /// The defaults.
    pub fn new() -> CheckOptions {
        CheckOptions::default()
    }

    /// Set [`CheckOptions::threads`].
    pub fn threads(mut self, threads: usize) -> CheckOptions {
        self.threads = threads;
        self
    }

    /// Set [`CheckOptions::max_file_size`].
    pub fn max_file_size(mut self, bytes: u64) -> CheckOptions {
        self.max_file_size = bytes;
        self
    }

    /// Run NeuroM's checks ([`CheckOptions::neurom`]).
    pub fn neurom(mut self, options: NeuromOptions) -> CheckOptions {
        self.neurom = Some(options);
        self
    }

    /// Set [`CheckOptions::require`].
    pub fn require(mut self, required: Requirements) -> CheckOptions {
        self.require = required;
        self
    }

    /// The NeuroM checks that run: those asked for, then the required ones not among them.
    fn neurom_to_run(&self) -> Option<NeuromOptions> {
        let required = &self.require.neurom;
        match &self.neurom {
            None if required.is_empty() => None,
            None => Some(NeuromOptions::default().checks(required.iter().copied())),
            Some(o) => {
                let mut o = o.clone();
                for &c in required {
                    if !o.checks.contains(&c) {
                        o.checks.push(c);
                    }
                }
                Some(o)
            }
        }
    }
}

/// The totals of a [`check_paths`] run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckSummary {
    /// Reports handed to the callback.
    pub files: usize,
    /// Of which without error.
    pub usable: usize,
    /// Of which with at least one error.
    pub with_errors: usize,
    /// Of which with at least one warning.
    pub with_warnings: usize,
    /// Errors in all.
    pub errors: usize,
    /// Warnings in all.
    pub warnings: usize,
    /// Of which MorphIO loads.
    pub morphio_loads: usize,
    /// Of which meet [`CheckOptions::require`] (by default: without error).
    pub kept: usize,
    /// Of which do not.
    pub rejected: usize,
    /// The callback asked to stop before every file was checked.
    pub stopped: bool,
}

impl CheckSummary {
    fn add(&mut self, r: &SwcReport, required: &Requirements) {
        self.files += 1;
        self.morphio_loads += usize::from(r.morphio_loads());
        if r.meets(required) {
            self.kept += 1;
        } else {
            self.rejected += 1;
        }
        if r.is_usable() {
            self.usable += 1;
        } else {
            self.with_errors += 1;
        }
        if r.warnings > 0 {
            self.with_warnings += 1;
        }
        self.errors += r.errors;
        self.warnings += r.warnings;
    }
}

/// What the walk gives: a file to check, or a path that could not be listed or found.
enum Job {
    File(PathBuf),
    Failed(PathBuf, String),
}

/// An entry of a folder, already filtered.
enum Entry {
    Dir(PathBuf),
    File(PathBuf),
    Failed(PathBuf, String),
}

fn is_swc(name: &OsStr) -> bool {
    Path::new(name)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("swc"))
}

/// The entries of a folder to visit, sorted by name: sub-folders, and `.swc` files (any
/// case); hidden entries (`.name`, which also covers the downloader's `.name.part`
/// temporary files) are skipped, and so are links to folders (no loops). A link to a file is
/// followed; a broken link named `.swc` is kept, to be reported as unreadable. Holds the
/// names of one folder at a time, never their contents.
fn list_dir(dir: &Path) -> Vec<Entry> {
    let reader = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) => {
            return vec![Entry::Failed(
                dir.to_path_buf(),
                format!("cannot list: {e}"),
            )]
        }
    };
    let mut entries = Vec::new();
    for entry in reader {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                entries.push(Entry::Failed(
                    dir.to_path_buf(),
                    format!("cannot list: {e}"),
                ));
                break;
            }
        };
        let name = entry.file_name();
        if name.as_encoded_bytes().first() == Some(&b'.') {
            continue;
        }
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            if is_swc(&name) {
                entries.push(Entry::File(path));
            }
            continue;
        };
        if kind.is_dir() {
            entries.push(Entry::Dir(path));
        } else if is_swc(&name) {
            let regular = kind.is_file()
                || (kind.is_symlink() && std::fs::metadata(&path).map_or(true, |m| m.is_file()));
            if regular {
                entries.push(Entry::File(path));
            }
        }
    }
    entries.sort_by(|a, b| entry_path(a).cmp(entry_path(b)));
    entries
}

fn entry_path(e: &Entry) -> &Path {
    match e {
        Entry::Dir(p) | Entry::File(p) | Entry::Failed(p, _) => p,
    }
}

/// A lazy depth-first walk of the arguments.
struct Walk<I> {
    args: I,
    stack: Vec<std::vec::IntoIter<Entry>>,
}

impl<I: Iterator<Item = PathBuf>> Iterator for Walk<I> {
    type Item = Job;

    fn next(&mut self) -> Option<Job> {
        loop {
            if let Some(top) = self.stack.last_mut() {
                match top.next() {
                    Some(Entry::Dir(d)) => self.stack.push(list_dir(&d).into_iter()),
                    Some(Entry::File(f)) => return Some(Job::File(f)),
                    Some(Entry::Failed(p, why)) => return Some(Job::Failed(p, why)),
                    None => {
                        self.stack.pop();
                    }
                }
                continue;
            }
            let arg = self.args.next()?;
            if arg == Path::new("-") {
                return Some(Job::File(arg));
            }
            match std::fs::metadata(&arg) {
                Ok(md) if md.is_dir() => self.stack.push(list_dir(&arg).into_iter()),
                // A file named on the command line is checked whatever its name.
                Ok(_) => return Some(Job::File(arg)),
                Err(e) => return Some(Job::Failed(arg, format!("cannot open: {e}"))),
            }
        }
    }
}

/// Check files and folders: every `.swc` file under each folder (recursively, see below),
/// each file named (whatever its name), and `-` for standard input.
///
/// Files are read and checked on a local pool of [`CheckOptions::threads`] threads (not
/// rayon's global pool); each report is handed to `on_report` on the calling thread, in the
/// order of the walk (arguments in order, folder entries sorted by name, depth first). The
/// callback returns [`ControlFlow::Break`] to stop: files in flight are finished and
/// dropped, and the summary says `stopped`.
///
/// Memory stays flat whatever the number of files: the walk is lazy (it holds the names of
/// the folders it is in, never a list of all files), at most `4 × threads` files are in
/// flight, and a report is dropped once handed over.
///
/// In folders, hidden entries (names starting with `.`, such as the downloader's temporary
/// `.name.swc.part` files) and links to folders are skipped; links to files are followed.
/// An unreadable file, a folder that cannot be listed, or a missing argument is a report
/// with an `io` error, not a failure of the run.
///
/// Fails only if the thread pool cannot be started (or `threads` is 0).
pub fn check_paths<I, P, F>(
    paths: I,
    options: &CheckOptions,
    mut on_report: F,
) -> Result<CheckSummary, SwcError>
where
    I: IntoIterator<Item = P>,
    P: AsRef<Path>,
    F: FnMut(CheckedFile) -> ControlFlow<()>,
{
    let mut summary = CheckSummary::default();
    let work_options = options.clone();
    summary.stopped = for_each_file(
        paths,
        options.threads,
        "check",
        move |path| check_file(path, &work_options),
        |path, why| CheckedFile {
            path,
            report: SwcReport::failed(Issue::new(IssueCode::Io, None, why)),
        },
        |report| {
            summary.add(&report.report, &options.require);
            on_report(report)
        },
    )?;
    Ok(summary)
}

/// The walk of [`check_paths`] on a local pool of `threads` threads: `work` on each file
/// (on the pool), `failed` for a path that could not be listed or found, and `on_item` on
/// the calling thread for each, in the order of the walk. Returns whether `on_item` asked to
/// stop.
pub(crate) fn for_each_file<I, P, T, W, E, F>(
    paths: I,
    threads: usize,
    name: &'static str,
    work: W,
    failed: E,
    mut on_item: F,
) -> Result<bool, SwcError>
where
    I: IntoIterator<Item = P>,
    P: AsRef<Path>,
    T: Send + 'static,
    W: Fn(&Path) -> T + Send + Sync + 'static,
    E: Fn(PathBuf, String) -> T,
    F: FnMut(T) -> ControlFlow<()>,
{
    let io = |message: String| SwcError::Io {
        path: None,
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, message),
    };
    if threads == 0 {
        return Err(io(format!("{name}: threads must be at least 1")));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("swc-{name}-{i}"))
        .build()
        .map_err(|e| io(format!("cannot start {name} threads: {e}")))?;
    let window = threads.saturating_mul(4);
    let cancel = Arc::new(AtomicBool::new(false));
    let work = Arc::new(work);
    let (tx, rx) = mpsc::channel::<(u64, T)>();

    let mut walk = Walk {
        args: paths.into_iter().map(|p| p.as_ref().to_path_buf()),
        stack: Vec::new(),
    };
    let mut waiting: BTreeMap<u64, T> = BTreeMap::new();
    let (mut dispatched, mut delivered) = (0u64, 0u64);
    let mut walk_done = false;
    loop {
        while !walk_done && dispatched - delivered < window as u64 {
            let Some(job) = walk.next() else {
                walk_done = true;
                break;
            };
            let seq = dispatched;
            dispatched += 1;
            match job {
                Job::Failed(path, why) => {
                    log::debug!("{}: {why}", path.display());
                    waiting.insert(seq, failed(path, why));
                }
                Job::File(path) => {
                    let (tx, work, cancel) = (tx.clone(), Arc::clone(&work), Arc::clone(&cancel));
                    pool.spawn(move || {
                        if cancel.load(Ordering::Relaxed) {
                            return;
                        }
                        let item = work(&path);
                        // After a stop the item is not wanted: a failed send is fine.
                        let _ = tx.send((seq, item));
                    });
                }
            }
        }
        // Hand over what is next in order; wait for it if it is not there yet.
        while let Some(item) = waiting.remove(&delivered) {
            delivered += 1;
            if on_item(item).is_break() {
                cancel.store(true, Ordering::Relaxed);
                // Each job holds a sender: once all are gone, nothing reads on after we return.
                drop(tx);
                while rx.recv().is_ok() {}
                return Ok(true);
            }
        }
        if delivered == dispatched {
            if walk_done {
                return Ok(false);
            }
            continue;
        }
        match rx.recv() {
            Ok((seq, item)) => {
                waiting.insert(seq, item);
            }
            // Every sender is a job that sends before it ends, and we hold one: unreachable,
            // but end cleanly rather than wait forever.
            Err(_) => return Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The thread's read buffer is reused: a short file after a long one reads as itself,
    /// not with the long one's tail.
    #[test]
    fn a_file_after_a_longer_one_reads_as_itself() {
        let long = b"1 1 0 0 0 5 -1\n2 3 0 5 0 1 1\n3 3 0 9 0 1 2\n4 3 0 12 0 1 3\n";
        let short = b"1 1 0 0 0 5 -1\n2 3 0 5 0 1 1\n";
        let first = check_reader(&long[..], 1 << 20);
        assert_eq!(first.points, Some(4));
        let second = check_reader(&short[..], 1 << 20);
        assert_eq!(second.points, Some(2));
        assert_eq!(second, check_bytes(short));
        // Too large: refused, and the next file is read whole all the same.
        let refused = check_reader(&long[..], 20);
        assert_eq!(refused.errors, 1);
        assert_eq!(check_reader(&short[..], 1 << 20), check_bytes(short));
    }
}
