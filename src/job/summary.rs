//! What a job did, in numbers that add up.

use std::path::PathBuf;
use std::time::Duration;

use crate::archive::sample::{Limit, Sample};
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
    /// Bytes fetched from the server now.
    pub bytes: u64,
    /// With [`JobOptions::sample`](crate::JobOptions::sample) or
    /// [`JobOptions::limit`](crate::JobOptions::limit): what was kept of how many.
    pub sampled: Option<SampledSummary>,
    /// With [`DownloadOptions::mirror`](crate::DownloadOptions::mirror): where the files
    /// came from.
    pub mirror: Option<MirrorSummary>,
    /// With [`JobOptions::pvec`](crate::JobOptions::pvec): the persistence vectors.
    pub pvec: Option<PvecSummary>,
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

/// What a sample or a limit kept: "sampled 1,000 of 48,213".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SampledSummary {
    /// The sample asked for.
    pub sample: Option<Sample>,
    /// Its seed.
    pub seed: u64,
    /// The limit asked for.
    pub limit: Option<Limit>,
    /// Matches the sample was taken from (after the limit; records without a `neuron_id`
    /// included, never sampled).
    pub population: u64,
    /// Neurons kept, before the shard (every shard of a job array keeps the same count
    /// here; [`JobSummary::selected`] is this shard's part).
    pub kept: u64,
}

/// Where a download's files came from, with a mirror.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MirrorSummary {
    /// Files taken from the mirror (counted in [`JobSummary::downloaded`]).
    pub taken: u64,
    /// Of those, hard-linked (the others were copied).
    pub linked: u64,
    /// Files fetched from the server (the rest of [`JobSummary::downloaded`]).
    pub from_server: u64,
    /// Of those, files the mirror holds damaged (fetched instead, said in the log).
    pub damaged: u64,
}

/// The persistence vectors of a job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PvecSummary {
    /// Rows written by this run.
    pub vectors: u64,
    /// Neurons without a usable vector (failures of kind `pvec`, in
    /// [`JobSummary::failed`]).
    pub missing: u64,
    /// Requests: one select per batch of up to 500 neurons, plus one per id asked alone.
    pub requests: u64,
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
    /// Files that fail one of NeuroM's checks or more (0 unless
    /// [`CheckOptions::neurom`](crate::swc::CheckOptions::neurom) runs them).
    pub neurom_failed: u64,
    /// Files that do not satisfy
    /// [`CheckOptions::require`](crate::swc::CheckOptions::require) (by default: files with
    /// errors). Kept all the same: the table's `passes` column says which.
    pub rejected: u64,
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
    /// `pvec.csv`, with [`JobOptions::pvec`](crate::JobOptions::pvec).
    pub pvec: Option<PathBuf>,
}
