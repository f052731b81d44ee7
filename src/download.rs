//! Downloading files: URLs built from archive and name, safe paths, parallel streamed
//! downloads into temporary files renamed into place only when complete and checked.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rayon::prelude::*;
use serde_json::Value;

use crate::client::{classify_io, Client, Failure, Kind};
use crate::error::{Error, FailureKind, Result};
use crate::metadata::clean_value;
use crate::model::Neuron;
use crate::swc::{SwcCheck, Verdict};

/// Everything but RFC 3986's unreserved characters is percent-encoded in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encode one URL path segment (`Allen Cell Types` -> `Allen%20Cell%20Types`).
pub fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// A kind of per-neuron file on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileKind {
    /// The standardized SWC (`CNG version/<name>.CNG.swc`), saved as `downloads/<name>.swc`.
    Cng,
    /// The original upload (`Source-Version/<name>.<ext of original_format>`), saved under `original/`.
    Original,
    /// The standardization report of remaining issues (`Remaining issues/<name>.CNG.swc.std`), under `logs/`.
    RemainingIssues,
    /// The standardization log (`Standardization log/<name>.std`), under `logs/`.
    StandardizationLog,
}

impl FileKind {
    /// Parse `--what`: a comma-separated list of `cng`, `original`, `logs` (both reports).
    pub fn parse_list(s: &str) -> std::result::Result<Vec<FileKind>, String> {
        let mut kinds = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let new: &[FileKind] = match part {
                "cng" | "swc" => &[FileKind::Cng],
                "original" => &[FileKind::Original],
                "logs" => &[FileKind::RemainingIssues, FileKind::StandardizationLog],
                other => {
                    return Err(format!(
                        "unknown file kind '{other}' (expected cng, original, logs)"
                    ))
                }
            };
            for k in new {
                if !kinds.contains(k) {
                    kinds.push(*k);
                }
            }
        }
        if kinds.is_empty() {
            return Err("no file kind given (expected cng, original, logs)".into());
        }
        Ok(kinds)
    }

    /// The top folder under the output folder.
    pub fn folder(self) -> &'static str {
        match self {
            FileKind::Cng => "downloads",
            FileKind::Original => "original",
            FileKind::RemainingIssues | FileKind::StandardizationLog => "logs",
        }
    }

    fn expects_swc(self, file_name: &str) -> bool {
        match self {
            FileKind::Cng => true,
            FileKind::Original => file_name.to_ascii_lowercase().ends_with(".swc"),
            _ => false,
        }
    }
}

/// The extension of the original upload, from `original_format` (`Neurozoom.swc` -> `swc`,
/// and NeuroMorpho's special case `Custom.xml` -> `morph.xml`).
pub fn original_extension(original_format: &str) -> Option<String> {
    let f = original_format.trim();
    if f.eq_ignore_ascii_case("Custom.xml") {
        return Some("morph.xml".into());
    }
    let (_, ext) = f.rsplit_once('.')?;
    let ext = ext.trim().to_ascii_lowercase();
    (!ext.is_empty() && ext.chars().all(|c| c.is_ascii_alphanumeric())).then_some(ext)
}

/// The URL of a neuron's file: `{base}/dableFiles/{encoded lower-case archive}/{folder}/{encoded name}{suffix}`.
///
/// Built from the record, never scraped from a `.jsp` page (NeuroMorpho.Org's terms of use
/// forbid scripting those). `None` when the record lacks what the URL needs.
pub fn file_url(
    base_url: &str,
    archive: &str,
    neuron_name: &str,
    original_format: Option<&str>,
    kind: FileKind,
) -> Option<String> {
    if archive.trim().is_empty() || neuron_name.trim().is_empty() {
        return None;
    }
    let dir = encode_segment(&archive.to_lowercase());
    let name = encode_segment(neuron_name);
    let base = base_url.trim_end_matches('/');
    Some(match kind {
        FileKind::Cng => format!("{base}/dableFiles/{dir}/CNG%20version/{name}.CNG.swc"),
        FileKind::Original => {
            let ext = original_extension(original_format?)?;
            format!("{base}/dableFiles/{dir}/Source-Version/{name}.{ext}")
        }
        FileKind::RemainingIssues => {
            format!("{base}/dableFiles/{dir}/Remaining%20issues/{name}.CNG.swc.std")
        }
        FileKind::StandardizationLog => {
            format!("{base}/dableFiles/{dir}/Standardization%20log/{name}.std")
        }
    })
}

/// Make a string from the server safe as one path component: no `/`, `\`, NUL or other
/// control characters, no leading dot (so never `.` or `..`), at most 200 bytes; an empty
/// value becomes `unknown`.
///
/// ```
/// use neuromorpho::download::safe_component;
/// assert_eq!(safe_component("../x"), "___x");
/// assert_eq!(safe_component("a/b"), "a_b");
/// assert_eq!(safe_component(""), "unknown");
/// assert_eq!(safe_component("Allen Cell Types"), "Allen Cell Types");
/// ```
pub fn safe_component(s: &str) -> String {
    let mut out: String = s
        .trim()
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let dots = out.len() - out.trim_start_matches('.').len();
    if dots > 0 {
        out.replace_range(..dots, &"_".repeat(dots));
    }
    if out.len() > 200 {
        let mut cut = 200;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    if out.is_empty() {
        out.push_str("unknown");
    }
    out
}

/// Where a download is written while it is incomplete: a hidden file beside the target,
/// with a fixed name so that the next run reuses (truncates) a leftover from a killed run.
pub(crate) fn temp_path(final_path: &Path) -> PathBuf {
    let name = final_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    final_path.with_file_name(format!(".{name}.part"))
}

/// What a download needs to know about one neuron: far less than its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadItem {
    /// `neuron_id`.
    pub neuron_id: Option<u64>,
    /// `neuron_name`.
    pub neuron_name: String,
    /// `archive`.
    pub archive: String,
    /// `original_format`.
    pub original_format: Option<String>,
    /// The values of the `group_by` fields, in order (already in their folder form).
    pub group_values: Vec<String>,
    /// `reference_pmid`, for the citations.
    pub reference_pmid: Vec<String>,
    /// `reference_doi`, for the citations.
    pub reference_doi: Vec<String>,
}

impl DownloadItem {
    /// Take what is needed from a record. A group value is the field's string, or for a list
    /// its cleaned CSV form (`neocortex, prefrontal, 3`); missing or empty -> `unknown`.
    pub fn from_neuron(n: &Neuron, group_by: &[String]) -> DownloadItem {
        let group_values = group_by
            .iter()
            .map(|field| {
                let v = match n.get(field) {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => clean_value(other),
                };
                safe_component(&v)
            })
            .collect();
        DownloadItem {
            neuron_id: n.neuron_id,
            neuron_name: n.neuron_name.clone(),
            archive: n.archive.clone(),
            original_format: n.original_format.clone(),
            group_values,
            reference_pmid: n.reference_pmid.clone(),
            reference_doi: n.reference_doi.clone(),
        }
    }
}

/// How to download.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// The output folder; files go to `<out>/downloads/...` (and `original/`, `logs/`).
    pub out_dir: PathBuf,
    /// Which files per neuron. Default: the standardized SWC.
    pub what: Vec<FileKind>,
    /// Skip a file whose final path already exists (it is complete: we only ever rename
    /// complete files into place). Default true.
    pub skip_existing: bool,
}

impl DownloadOptions {
    /// Defaults for an output folder.
    pub fn new(out_dir: impl Into<PathBuf>) -> DownloadOptions {
        DownloadOptions {
            out_dir: out_dir.into(),
            what: vec![FileKind::Cng],
            skip_existing: true,
        }
    }
}

/// Progress reported to a callback, from the worker threads (hence `Sync` callbacks).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Progress {
    /// The count is known; `pages` pages follow.
    SearchStarted {
        /// Neurons matched.
        total: u64,
        /// Pages to fetch.
        pages: u64,
    },
    /// A page arrived (in order).
    Page {
        /// Pages done.
        done: u64,
        /// Pages in all.
        pages: u64,
    },
    /// Downloads begin.
    DownloadStarted {
        /// Files to fetch or skip.
        files: u64,
    },
    /// A file finished (downloaded, skipped or failed).
    File {
        /// Files done.
        done: u64,
        /// Files in all.
        files: u64,
        /// Bytes written so far.
        bytes: u64,
        /// Failures so far.
        failed: u64,
    },
}

/// A file that could not be downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedFile {
    /// The neuron's name.
    pub neuron_name: String,
    /// The URL requested (empty if none could be built).
    pub url: String,
    /// The failure class.
    pub kind: FailureKind,
    /// What went wrong, one line.
    pub detail: String,
}

/// The outcome of a download: nothing fails silently.
#[derive(Debug, Clone, Default)]
pub struct DownloadReport {
    /// Files downloaded now.
    pub downloaded: u64,
    /// Files already present and left alone.
    pub skipped: u64,
    /// Bytes written now.
    pub bytes: u64,
    /// Files that failed, with why.
    pub failed: Vec<FailedFile>,
    /// Every file in place at the end (downloaded or skipped), as (neuron name, path).
    pub files: Vec<(String, PathBuf)>,
}

impl DownloadReport {
    /// Write `<out>/failed.csv` (`neuron_name,url,reason,detail`) when anything failed, or
    /// remove a stale one when nothing did. Returns the path written, if any.
    pub fn write_failed_csv(&self, out_dir: &Path) -> Result<Option<PathBuf>> {
        self.write_failed_csv_to(&out_dir.join("failed.csv"))
    }

    /// [`DownloadReport::write_failed_csv`] under another name (one per shard of a job array).
    pub fn write_failed_csv_to(&self, path: &Path) -> Result<Option<PathBuf>> {
        let path = path.to_path_buf();
        if self.failed.is_empty() {
            match std::fs::remove_file(&path) {
                Ok(()) => log::info!(
                    "removed {} from an earlier run: nothing failed now",
                    path.display()
                ),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&path, e)),
            }
            return Ok(None);
        }
        let temp = temp_path(&path);
        let csv_err = |source| Error::Csv {
            path: path.clone(),
            source,
        };
        let mut w = csv::Writer::from_path(&temp).map_err(csv_err)?;
        w.write_record(["neuron_name", "url", "reason", "detail"])
            .map_err(csv_err)?;
        for f in &self.failed {
            w.write_record([f.neuron_name.as_str(), &f.url, f.kind.as_str(), &f.detail])
                .map_err(csv_err)?;
        }
        w.flush().map_err(|e| Error::io(&temp, e))?;
        drop(w);
        std::fs::rename(&temp, &path).map_err(|e| Error::io(&path, e))?;
        Ok(Some(path))
    }
}

/// One file to fetch.
struct Job<'a> {
    item: &'a DownloadItem,
    kind: FileKind,
    url: Option<String>,
    path: PathBuf,
}

enum Outcome {
    Downloaded(u64),
    Skipped,
    Failed(FailedFile),
}

impl Client {
    /// Download the files of `items` on a thread pool of the client's concurrency: one GET
    /// per file, streamed to a temporary file, checked, and renamed into place.
    ///
    /// One failure never stops the others: it is listed in the report. An error is returned
    /// only when the output folder itself cannot be used.
    pub fn download(
        &self,
        items: &[DownloadItem],
        options: &DownloadOptions,
        progress: &(dyn Fn(&Progress) + Sync),
    ) -> Result<DownloadReport> {
        let jobs = plan(self.base_url(), items, options)?;
        let files = jobs.len() as u64;
        progress(&Progress::DownloadStarted { files });
        let done = AtomicU64::new(0);
        let bytes = AtomicU64::new(0);
        let failed = AtomicU64::new(0);
        let pool = self.thread_pool("download")?;
        let outcomes: Vec<Outcome> = pool.install(|| {
            jobs.par_iter()
                .with_max_len(1)
                .map(|job| {
                    let outcome = self.download_one(job, options.skip_existing);
                    match &outcome {
                        Outcome::Downloaded(n) => {
                            bytes.fetch_add(*n, Ordering::Relaxed);
                        }
                        Outcome::Failed(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        Outcome::Skipped => {}
                    }
                    progress(&Progress::File {
                        done: done.fetch_add(1, Ordering::Relaxed) + 1,
                        files,
                        bytes: bytes.load(Ordering::Relaxed),
                        failed: failed.load(Ordering::Relaxed),
                    });
                    outcome
                })
                .collect()
        });
        let mut report = DownloadReport::default();
        for (job, outcome) in jobs.iter().zip(outcomes) {
            match outcome {
                Outcome::Downloaded(n) => {
                    report.downloaded += 1;
                    report.bytes += n;
                    report
                        .files
                        .push((job.item.neuron_name.clone(), job.path.clone()));
                }
                Outcome::Skipped => {
                    report.skipped += 1;
                    report
                        .files
                        .push((job.item.neuron_name.clone(), job.path.clone()));
                }
                Outcome::Failed(f) => report.failed.push(f),
            }
        }
        Ok(report)
    }

    /// Download the standardized SWC files of some records (see [`Client::download`]).
    pub fn download_neurons(
        &self,
        neurons: &[Neuron],
        options: &DownloadOptions,
    ) -> Result<DownloadReport> {
        let items: Vec<DownloadItem> = neurons
            .iter()
            .map(|n| DownloadItem::from_neuron(n, &[]))
            .collect();
        self.download(&items, options, &|_| {})
    }

    fn download_one(&self, job: &Job<'_>, skip_existing: bool) -> Outcome {
        let name = &job.item.neuron_name;
        let fail = |kind, detail: String| {
            Outcome::Failed(FailedFile {
                neuron_name: name.clone(),
                url: job.url.clone().unwrap_or_default(),
                kind,
                detail,
            })
        };
        let Some(url) = &job.url else {
            let why = if name.trim().is_empty() {
                "the record has no neuron_name".to_string()
            } else if job.item.archive.trim().is_empty() {
                "the record has no archive".to_string()
            } else {
                format!(
                    "no original file extension in original_format {:?}",
                    job.item.original_format.as_deref().unwrap_or("")
                )
            };
            log::warn!("{name}: {why}");
            return fail(FailureKind::InvalidRecord, why);
        };
        let temp = temp_path(&job.path);
        // We only ever rename complete files into place; an empty one (left by another tool
        // that writes in place) is fetched again.
        let present = std::fs::metadata(&job.path).is_ok_and(|m| m.is_file() && m.len() > 0);
        if skip_existing && present {
            let _ = std::fs::remove_file(&temp); // a leftover from a killed run
            log::debug!("{name}: {} already present", job.path.display());
            return Outcome::Skipped;
        }
        if let Some(dir) = job.path.parent() {
            if let Err(e) = std::fs::create_dir_all(dir) {
                return fail(FailureKind::Io, format!("{}: {e}", dir.display()));
            }
        }
        let expect_swc = job.kind.expects_swc(&job.path.to_string_lossy());
        let max = self.inner.max_file_size;
        let guard = TempFile(&temp);
        let result = self.request(Kind::File, url, &[], false, |resp| {
            stream_to_file(resp, &temp, expect_swc, max)
        });
        match result {
            Ok(n) => {
                if let Err(e) = std::fs::rename(&temp, &job.path) {
                    return fail(FailureKind::Io, format!("{}: {e}", job.path.display()));
                }
                std::mem::forget(guard);
                log::debug!("{name}: {n} bytes -> {}", job.path.display());
                Outcome::Downloaded(n)
            }
            Err(Error::Request { kind, detail, .. }) => fail(kind, detail),
            Err(other) => fail(other.kind().unwrap_or(FailureKind::Io), other.to_string()),
        }
    }
}

/// Removes a temporary file unless forgotten (after a successful rename).
struct TempFile<'a>(&'a Path);

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
    }
}

/// Stream a response body into `temp` (created or truncated), checked as it comes.
fn stream_to_file(
    resp: ureq::http::Response<ureq::Body>,
    temp: &Path,
    expect_swc: bool,
    max: u64,
) -> std::result::Result<u64, Failure> {
    let io_fail =
        |e: std::io::Error| Failure::new(FailureKind::Io, format!("{}: {e}", temp.display()));
    let mut file = File::create(temp).map_err(io_fail)?;
    let written = stream_checked(resp, &mut file, expect_swc, max).map_err(|mut f| {
        if f.kind == FailureKind::Io {
            f.detail = format!("{}: {}", temp.display(), f.detail);
        }
        f
    })?;
    file.flush().map_err(io_fail)?;
    Ok(written)
}

/// Copy a response body to `out`, checking its content (see [`SwcCheck`]), its size against
/// `max`, and its length against `Content-Length`, as it streams.
pub(crate) fn stream_checked(
    resp: ureq::http::Response<ureq::Body>,
    out: &mut dyn Write,
    expect_swc: bool,
    max: u64,
) -> std::result::Result<u64, Failure> {
    let announced = resp.body().content_length();
    // With Content-Encoding, Content-Length counts compressed bytes: not comparable.
    let encoded = resp.headers().contains_key("content-encoding");
    if let Some(n) = announced.filter(|n| *n > max) {
        return Err(Failure::new(
            FailureKind::TooLarge,
            format!("file of {n} bytes is larger than the maximum of {max}"),
        ));
    }
    let mut reader = resp.into_body().into_reader();
    let mut check = SwcCheck::new(expect_swc);
    let mut buf = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(classify_io(&e)),
        };
        if let Verdict::Bad(why) = check.feed(&buf[..n]) {
            return Err(Failure::new(FailureKind::NotSwc, why));
        }
        written += n as u64;
        if written > max {
            return Err(Failure::new(
                FailureKind::TooLarge,
                format!("file larger than the maximum of {max} bytes"),
            ));
        }
        out.write_all(&buf[..n])
            .map_err(|e| Failure::new(FailureKind::Io, e.to_string()))?;
    }
    if let Verdict::Bad(why) = check.finish() {
        return Err(Failure::new(FailureKind::NotSwc, why));
    }
    if let Some(n) = announced.filter(|_| !encoded) {
        if n != written {
            return Err(Failure::new(
                FailureKind::Connection,
                format!("body cut short: {written} of {n} bytes"),
            ));
        }
    }
    Ok(written)
}

/// Turn items into jobs with final paths; fails only if the output folder is unusable.
fn plan<'a>(
    base_url: &str,
    items: &'a [DownloadItem],
    options: &DownloadOptions,
) -> Result<Vec<Job<'a>>> {
    let out = &options.out_dir;
    for kind in &options.what {
        let dir = out.join(kind.folder());
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        check_writable(&dir)?;
    }
    let mut used: HashSet<PathBuf> = HashSet::with_capacity(items.len() * options.what.len());
    let mut jobs = Vec::with_capacity(items.len() * options.what.len());
    for item in items {
        let safe_name = safe_component(&item.neuron_name);
        if safe_name != item.neuron_name && !item.neuron_name.is_empty() {
            log::warn!(
                "neuron name {:?} is not a safe file name; saved as {:?}",
                item.neuron_name,
                safe_name
            );
        }
        for &kind in &options.what {
            let mut dir = out.join(kind.folder());
            for g in &item.group_values {
                dir.push(safe_component(g));
            }
            let file_name = |stem: &str| match kind {
                FileKind::Cng => format!("{stem}.swc"),
                FileKind::Original => {
                    match item.original_format.as_deref().and_then(original_extension) {
                        Some(ext) => format!("{stem}.{ext}"),
                        None => format!("{stem}.original"),
                    }
                }
                FileKind::RemainingIssues => format!("{stem}.CNG.swc.std"),
                FileKind::StandardizationLog => format!("{stem}.std"),
            };
            let mut path = dir.join(file_name(&safe_name));
            if !used.insert(path.clone()) {
                // Two names that sanitize alike must not share a file.
                let stem = format!(
                    "{safe_name}-{}",
                    item.neuron_id.unwrap_or(jobs.len() as u64)
                );
                path = dir.join(file_name(&stem));
                used.insert(path.clone());
            }
            let url = file_url(
                base_url,
                &item.archive,
                &item.neuron_name,
                item.original_format.as_deref(),
                kind,
            );
            jobs.push(Job {
                item,
                kind,
                url,
                path,
            });
        }
    }
    Ok(jobs)
}

/// Fail early, with the folder's name, if we cannot create files in it.
fn check_writable(dir: &Path) -> Result<()> {
    let probe = dir.join(format!(".neuromorpho-write-test-{}", std::process::id()));
    File::create(&probe).map_err(|e| Error::io(dir, e))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_from_archive_and_name() {
        let base = "https://neuromorpho.org";
        assert_eq!(
            file_url(base, "Wearne_Hof", "cnic_001", None, FileKind::Cng).unwrap(),
            "https://neuromorpho.org/dableFiles/wearne_hof/CNG%20version/cnic_001.CNG.swc"
        );
        assert_eq!(
            file_url(base, "Allen Cell Types", "H17-03_m", None, FileKind::Cng).unwrap(),
            "https://neuromorpho.org/dableFiles/allen%20cell%20types/CNG%20version/H17-03_m.CNG.swc"
        );
        assert_eq!(
            file_url(
                base,
                "Wearne_Hof",
                "cnic_001",
                Some("Neurozoom.swc"),
                FileKind::Original
            )
            .unwrap(),
            "https://neuromorpho.org/dableFiles/wearne_hof/Source-Version/cnic_001.swc"
        );
        assert_eq!(
            file_url(base, "X", "n", Some("Custom.xml"), FileKind::Original).unwrap(),
            "https://neuromorpho.org/dableFiles/x/Source-Version/n.morph.xml"
        );
        assert_eq!(
            file_url(base, "X", "n", None, FileKind::RemainingIssues).unwrap(),
            "https://neuromorpho.org/dableFiles/x/Remaining%20issues/n.CNG.swc.std"
        );
        assert_eq!(
            file_url(base, "X", "n", None, FileKind::StandardizationLog).unwrap(),
            "https://neuromorpho.org/dableFiles/x/Standardization%20log/n.std"
        );
        assert_eq!(file_url(base, "", "n", None, FileKind::Cng), None);
        assert_eq!(file_url(base, "X", "n", None, FileKind::Original), None);
        assert_eq!(
            file_url(base, "X", "a b/c?", None, FileKind::Cng).unwrap(),
            "https://neuromorpho.org/dableFiles/x/CNG%20version/a%20b%2Fc%3F.CNG.swc"
        );
    }

    #[test]
    fn hostile_components_stay_inside() {
        for bad in [
            "..",
            ".",
            "../x",
            "a/b",
            "a\\b",
            "\0",
            "/etc/passwd",
            ".hidden",
            "",
        ] {
            let s = safe_component(bad);
            assert!(!s.contains(['/', '\\', '\0']), "{bad:?} -> {s:?}");
            assert!(!s.starts_with('.'), "{bad:?} -> {s:?}");
            assert!(!s.is_empty());
        }
        assert_eq!(safe_component(&"é".repeat(150)).len(), 200);
    }

    #[test]
    fn file_kinds() {
        assert_eq!(
            FileKind::parse_list("cng,original,logs").unwrap(),
            vec![
                FileKind::Cng,
                FileKind::Original,
                FileKind::RemainingIssues,
                FileKind::StandardizationLog
            ]
        );
        assert!(FileKind::parse_list("png").is_err());
        assert_eq!(
            original_extension("Neurolucida.ASC").as_deref(),
            Some("asc")
        );
        assert_eq!(original_extension("none"), None);
    }
}
