//! The outcome of a download: what is in place, what failed and why, and `failed.csv`.

use std::path::{Path, PathBuf};

use crate::atomic_file::AtomicFile;
use crate::error::{Error, FailureKind, Result};
use crate::files::FileKind;
use crate::text::for_table;

use super::fetch::Outcome;
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
    pub file_kind: FileKind,
    /// The URL requested (empty if none could be built).
    pub url: String,
    /// The failure class.
    pub kind: FailureKind,
    /// What went wrong, one line.
    pub detail: String,
}

impl FailedFile {
    /// A failure that is not about a file of a known neuron: a record that could not be read,
    /// or a name the server does not know.
    pub(crate) fn record(
        neuron_name: &str,
        neuron_id: Option<u64>,
        kind: FailureKind,
        detail: String,
    ) -> FailedFile {
        FailedFile {
            neuron_name: neuron_name.to_string(),
            neuron_id,
            file_kind: FileKind::Cng,
            url: String::new(),
            kind,
            detail,
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
pub struct DownloadReport {
    /// Files downloaded now.
    pub downloaded: u64,
    /// Files already present and left alone.
    pub skipped: u64,
    /// Bytes written now.
    pub bytes: u64,
    /// Files that failed, with why.
    pub failed: Vec<FailedFile>,
    /// Every file in place at the end (downloaded or skipped), in the order asked.
    pub files: Vec<HeldFile>,
}

impl DownloadReport {
    pub(crate) fn from_outcomes(
        jobs: &[Job<'_>],
        outcomes: Vec<Option<Outcome>>,
    ) -> DownloadReport {
        let mut report = DownloadReport::default();
        for (job, outcome) in jobs.iter().zip(outcomes) {
            let held = |fetched| HeldFile {
                neuron_name: job.item.neuron_name.clone(),
                neuron_id: job.item.neuron_id,
                kind: job.kind,
                path: job.path.clone(),
                fetched,
            };
            match outcome {
                Some(Outcome::Downloaded(n)) => {
                    report.downloaded += 1;
                    report.bytes += n;
                    report.files.push(held(true));
                }
                Some(Outcome::Skipped) => {
                    report.skipped += 1;
                    report.files.push(held(false));
                }
                Some(Outcome::Failed(f)) => report.failed.push(f),
                // Only a cancelled run leaves jobs without an outcome, and it returns an Err.
                None => {}
            }
        }
        report
    }

    /// Write `<out>/failed.csv` (`neuron_name,url,reason,detail`) when anything failed, or
    /// remove a stale one when nothing did. Returns the path written, if any.
    pub fn write_failed_csv(&self, out_dir: &Path) -> Result<Option<PathBuf>> {
        write_failed_csv(&self.failed, &out_dir.join("failed.csv"))
    }

    /// [`DownloadReport::write_failed_csv`] under another name (one per shard of a job array).
    pub fn write_failed_csv_to(&self, path: &Path) -> Result<Option<PathBuf>> {
        write_failed_csv(&self.failed, path)
    }
}

/// `failed.csv`, atomically: the rows, or no file at all when nothing failed.
pub(crate) fn write_failed_csv(failed: &[FailedFile], path: &Path) -> Result<Option<PathBuf>> {
    if failed.is_empty() {
        return match std::fs::remove_file(path) {
            Ok(()) => {
                log::info!(
                    "removed {} from an earlier run: nothing failed now",
                    path.display()
                );
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
    for f in failed {
        w.write_record([
            for_table(&f.neuron_name).as_ref(),
            for_table(&f.url).as_ref(),
            f.kind.as_str(),
            for_table(&f.detail).as_ref(),
        ])
        .map_err(csv_err)?;
    }
    let file = w
        .into_inner()
        .map_err(|e| Error::io(path, e.into_error()))?;
    file.commit().map_err(|e| Error::io(path, e))?;
    Ok(Some(path.to_path_buf()))
}
