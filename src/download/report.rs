//! The outcome of a download: what is in place, what failed and why, and `failed.csv`.

use std::path::{Path, PathBuf};

use crate::archive::files::FileKind;
use crate::error::{Error, FailureKind, Result};
use crate::store::atomic_file::AtomicFile;
use crate::store::manifest::ManifestEntry;
use crate::util::text::for_table;

use super::one_file::Outcome;
use super::plan::Job;

/// A file that could not be downloaded (one row of `failed.csv`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailedFile {
    /// The neuron's name (may be empty for a record without one).
    pub neuron_name: String,
    /// The neuron's id, when the record has one.
    pub neuron_id: Option<u64>,
    /// Which of the neuron's files.
    pub kind: FileKind,
    /// The URL requested (empty if none could be built).
    pub url: String,
    /// Why: the failure class.
    pub reason: FailureKind,
    /// What went wrong, one line.
    pub detail: String,
    /// The file's path relative to the output folder, `/`-separated (empty when no file
    /// could be planned: a record without a name, a name the server does not know).
    pub path: String,
    /// What the folder's manifest said of the file when the run planned it: another run's
    /// different entry for it later means that run has put it in place.
    pub(crate) seen: Option<ManifestEntry>,
}

impl FailedFile {
    /// A failure that is not about a file of a known neuron: a record that could not be read,
    /// or a name the server does not know.
    pub(crate) fn record(
        neuron_name: &str,
        neuron_id: Option<u64>,
        reason: FailureKind,
        detail: String,
    ) -> FailedFile {
        FailedFile {
            neuron_name: neuron_name.to_string(),
            neuron_id,
            kind: FileKind::Cng,
            url: String::new(),
            reason,
            detail,
            path: String::new(),
            seen: None,
        }
    }
}

/// A file in place at the end of a download (fetched now or already there).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeldFile {
    /// The neuron's name.
    pub neuron_name: String,
    /// The neuron's id.
    pub neuron_id: Option<u64>,
    /// Which of the neuron's files.
    pub kind: FileKind,
    /// Where it is.
    pub path: PathBuf,
    /// Fetched by this call (not already there).
    pub fetched: bool,
}

/// The outcome of a download: nothing fails silently.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
#[must_use]
pub struct DownloadReport {
    /// Files asked for (each path once): `downloaded + skipped + unchanged + failed`.
    pub planned: u64,
    /// Files written now (new ones, changed ones, and copies in place that were bad).
    pub downloaded: u64,
    /// Files already present and left alone (not asked of the server).
    pub skipped: u64,
    /// With `update`: files the server had changed, replaced (the old copy kept under
    /// `previous/`); counted in `downloaded` too.
    pub changed: u64,
    /// With `update`: files the server confirmed unchanged.
    pub unchanged: u64,
    /// Files in place that were damaged (not what their manifest entry says, or failing the
    /// content checks without one) and were fetched again; counted in `downloaded` too.
    pub repaired: u64,
    /// Bytes fetched from the server now (not those taken from a mirror).
    pub bytes: u64,
    /// With [`DownloadOptions::mirror`](crate::DownloadOptions::mirror): files taken from
    /// the mirror (linked or copied); counted in `downloaded` too. The rest of `downloaded`
    /// came from the server.
    pub from_mirror: u64,
    /// Of `from_mirror`, files hard-linked (one inode shared with the mirror); the others
    /// were copied.
    pub linked: u64,
    /// Files the mirror holds damaged (not what its manifest says), fetched from the server
    /// instead; counted in `downloaded`.
    pub mirror_damaged: u64,
    /// Files that failed, with why.
    pub failed: Vec<FailedFile>,
    /// Every file in place at the end (downloaded or skipped), in the order asked.
    pub files: Vec<HeldFile>,
}

impl DownloadReport {
    /// Add the outcomes of a batch of jobs (in the jobs' order); `keep_files`: list the
    /// files held.
    pub(crate) fn add(
        &mut self,
        jobs: &[Job<'_>],
        outcomes: Vec<Option<Outcome>>,
        keep_files: bool,
    ) {
        self.planned += jobs.len() as u64;
        for (job, outcome) in jobs.iter().zip(outcomes) {
            let held = |fetched| HeldFile {
                neuron_name: job.item.neuron_name.clone(),
                neuron_id: job.item.neuron_id,
                kind: job.kind,
                path: job.path.clone(),
                fetched,
            };
            let kept = match outcome {
                Some(Outcome::Mirrored {
                    linked, repaired, ..
                }) => {
                    self.downloaded += 1;
                    self.from_mirror += 1;
                    self.linked += u64::from(linked);
                    self.repaired += u64::from(repaired);
                    Some(held(true))
                }
                Some(Outcome::Downloaded {
                    entry,
                    replaced,
                    repaired,
                    mirror_damaged,
                }) => {
                    self.downloaded += 1;
                    self.mirror_damaged += u64::from(mirror_damaged);
                    self.changed += u64::from(replaced);
                    self.repaired += u64::from(repaired);
                    self.bytes += entry.bytes;
                    Some(held(true))
                }
                Some(Outcome::Skipped { .. }) => {
                    self.skipped += 1;
                    Some(held(false))
                }
                Some(Outcome::Unchanged { .. }) => {
                    self.unchanged += 1;
                    Some(held(false))
                }
                Some(Outcome::Failed(f)) => {
                    self.failed.push(f);
                    None
                }
                // Only a cancelled run leaves jobs without an outcome, and it returns an Err.
                None => None,
            };
            if let Some(file) = kept.filter(|_| keep_files) {
                self.files.push(file);
            }
        }
    }

    /// Write the list of what failed (`failed.csv`: `neuron_name,url,reason,detail`) at
    /// `path`, atomically, when anything failed, or remove a stale one when nothing did.
    /// Returns the path written, if any.
    pub fn write_failed_csv(&self, path: &Path) -> Result<Option<PathBuf>> {
        write_failed_csv(&self.failed, path)
    }
}

/// `failed.csv`, atomically: the rows, or no file at all when nothing failed.
pub(crate) fn write_failed_csv(failed: &[FailedFile], path: &Path) -> Result<Option<PathBuf>> {
    let rows: Vec<[String; 4]> = failed.iter().map(row_of).collect();
    write_rows(&rows, path)
}

/// One row: `neuron_name,url,reason,detail`.
fn row_of(f: &FailedFile) -> [String; 4] {
    [
        for_table(&f.neuron_name).into_owned(),
        for_table(&f.url).into_owned(),
        f.reason.as_str().to_string(),
        for_table(&f.detail).into_owned(),
    ]
}

/// `failed.csv` of a folder several runs write into: this run's failures, plus the rows of
/// the file in place that are still open — `resolved(neuron_name, url)` says which are
/// not (their file arrived, or this run tried them again). The caller holds the folder lock.
pub(crate) fn merge_failed_csv(
    failed: &[FailedFile],
    path: &Path,
    resolved: &dyn Fn(&str, &str) -> bool,
) -> Result<Option<PathBuf>> {
    let mut rows: Vec<[String; 4]> = failed.iter().map(row_of).collect();
    let mine: std::collections::HashSet<(String, String)> =
        rows.iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    // A file of the folder: a FIFO or a link there is never waited on or followed.
    if let Ok(Some(file)) = crate::store::safe_fs::open_regular(path) {
        let mut reader = csv::Reader::from_reader(file);
        for row in reader.records().flatten() {
            let cell = |i: usize| row.get(i).unwrap_or("").to_string();
            let (name, url) = (cell(0), cell(1));
            if resolved(&name, &url) || mine.contains(&(name.clone(), url.clone())) {
                continue;
            }
            rows.push([name, url, cell(2), cell(3)]);
        }
    }
    write_rows(&rows, path)
}

/// The URLs of the rows of a `failed.csv` in place (none when there is none), so that a run
/// looks up in its manifest only the files those rows name.
pub(crate) fn failed_csv_urls(path: &Path) -> std::collections::HashSet<String> {
    let mut urls = std::collections::HashSet::new();
    if let Ok(Some(file)) = crate::store::safe_fs::open_regular(path) {
        let mut reader = csv::Reader::from_reader(file);
        for row in reader.records().flatten() {
            if let Some(url) = row.get(1).filter(|u| !u.is_empty()) {
                urls.insert(url.to_string());
            }
        }
    }
    urls
}

fn write_rows(rows: &[[String; 4]], path: &Path) -> Result<Option<PathBuf>> {
    if rows.is_empty() {
        return match std::fs::remove_file(path) {
            Ok(()) => {
                log::info!("removed {}: nothing is missing any more", path.display());
                Ok(None)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        };
    }
    let csv_err = |source| Error::Csv {
        path: path.to_path_buf(),
        source,
    };
    let file = AtomicFile::create(path, true).map_err(|e| Error::io(path, e))?;
    let mut w = csv::Writer::from_writer(file);
    w.write_record(["neuron_name", "url", "reason", "detail"])
        .map_err(csv_err)?;
    for r in rows {
        w.write_record(r).map_err(csv_err)?;
    }
    let file = w
        .into_inner()
        .map_err(|e| Error::io(path, e.into_error()))?;
    file.commit().map_err(|e| Error::io(path, e))?;
    Ok(Some(path.to_path_buf()))
}
