//! What a job did, in numbers that add up.

use std::path::PathBuf;
use std::time::Duration;

use crate::download::FailedFile;

/// What a job did.
///
/// The counts add up: `downloaded + skipped + unchanged + failed.len() == files`, where
/// `unchanged` is [`UpdateSummary::unchanged`] for an update and 0 otherwise.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
#[must_use]
pub struct JobSummary {
    /// Neurons the query matched (or names found).
    pub matched: u64,
    /// Neurons this run handled (after the shard).
    pub selected: u64,
    /// Files this run was to have in place: each file asked for once, plus one per record or
    /// name that gave none.
    pub files: u64,
    /// Files downloaded now (new, changed, and damaged copies fetched again).
    pub downloaded: u64,
    /// Files already in place and left alone (or put in place by another run meanwhile).
    pub skipped: u64,
    /// Files in place that were damaged and were fetched again (counted in `downloaded`).
    pub repaired: u64,
    /// Bytes written now.
    pub bytes: u64,
    /// Everything that failed: files, records that could not be read, names not found.
    pub failed: Vec<FailedFile>,
    /// Names asked for that the server does not know (named look-ups only; also in `failed`).
    pub not_found: Vec<String>,
    /// With [`DownloadOptions::update`](crate::DownloadOptions::update): what the server
    /// changed.
    pub update: Option<UpdateSummary>,
    /// With [`JobOptions::check`](crate::JobOptions::check): the verdicts of the SWC checks.
    pub check: Option<CheckedFiles>,
    /// The files written beside the data.
    pub written: WrittenFiles,
    /// Wall time.
    pub elapsed: Duration,
}

impl JobSummary {
    /// Files the server confirmed unchanged (0 unless the job was an update).
    pub fn unchanged(&self) -> u64 {
        self.update.as_ref().map_or(0, |u| u.unchanged)
    }
}

/// What an update found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpdateSummary {
    /// Files the server had changed, replaced (the old copies kept under `previous/`);
    /// counted in [`JobSummary::downloaded`] too.
    pub changed: u64,
    /// Files the server confirmed unchanged.
    pub unchanged: u64,
    /// Files in the folder whose neuron the query no longer matches (kept), as paths
    /// relative to the output folder.
    pub gone: Vec<String>,
}

/// What the SWC checks of a job found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckedFiles {
    /// SWC files checked.
    pub files: u64,
    /// Files whose SWC has errors (kept, listed in the table).
    pub with_errors: u64,
    /// Files whose SWC has warnings.
    pub with_warnings: u64,
    /// The verdict table (`checks.csv`).
    pub table: PathBuf,
}

/// The files a job wrote beside the data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WrittenFiles {
    /// The metadata table.
    pub metadata: Option<PathBuf>,
    /// `failed.csv`, when something is missing.
    pub failed_list: Option<PathBuf>,
    /// `CITATIONS.md` (and `CITATIONS.bib` beside it).
    pub citations: Option<PathBuf>,
}
