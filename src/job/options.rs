//! What a job does besides searching: the metadata table, the shard, the citations, the
//! checks, and the download options of its files.

use std::path::PathBuf;

use crate::archive::sample::{Limit, Sample};
use crate::download::DownloadOptions;
use crate::swc::CheckOptions;
use crate::tables::metadata::MetadataFormat;

use super::shard::Shard;

/// What a job does: its files (a [`DownloadOptions`]) and what is written beside them. Build
/// it with [`JobOptions::new`] (or from a `DownloadOptions`) and change it with the chainable
/// setters.
///
/// ```
/// use neuromorpho::{DownloadOptions, FileKind, JobOptions, MetadataFormat, Shard};
/// let files = DownloadOptions::new("neurons").what([FileKind::Cng]).group_by(["species"]);
/// let options = JobOptions::from(files)
///     .metadata_format(MetadataFormat::Jsonl)
///     .shard(Shard::new(2, 10));
/// assert_eq!(options.metadata_path(), std::path::Path::new("neurons/metadata.shard-2-of-10.jsonl"));
/// ```
#[derive(Debug, Clone)]
pub struct JobOptions {
    pub(crate) files: DownloadOptions,
    /// Given, or `None` for the default name of the format and shard.
    pub(crate) metadata_file: Option<PathBuf>,
    pub(crate) metadata_format: MetadataFormat,
    pub(crate) morphometry: bool,
    pub(crate) download: bool,
    pub(crate) shard: Option<Shard>,
    pub(crate) citations: bool,
    pub(crate) check: bool,
    pub(crate) check_options: CheckOptions,
    pub(crate) sample: Option<Sample>,
    pub(crate) seed: u64,
    pub(crate) limit: Option<Limit>,
    pub(crate) pvec: bool,
}

impl From<DownloadOptions> for JobOptions {
    fn from(files: DownloadOptions) -> JobOptions {
        JobOptions {
            files,
            metadata_file: None,
            metadata_format: MetadataFormat::Csv,
            morphometry: false,
            download: true,
            shard: None,
            citations: true,
            check: false,
            check_options: CheckOptions::default(),
            sample: None,
            seed: 0,
            limit: None,
            pvec: false,
        }
    }
}

impl JobOptions {
    /// Defaults for an output folder: the files of [`DownloadOptions::new`], the cleaned
    /// CSV table `metadata.csv`, the citations.
    pub fn new(out_dir: impl Into<PathBuf>) -> JobOptions {
        JobOptions::from(DownloadOptions::new(out_dir))
    }

    /// The options of the files (the output folder among them).
    pub fn files(&self) -> &DownloadOptions {
        &self.files
    }

    /// Replace the options of the files (the output folder among them).
    #[must_use]
    pub fn with_files(mut self, files: DownloadOptions) -> JobOptions {
        self.files = files;
        self
    }

    /// The metadata file, relative to the output folder unless absolute. Default:
    /// `metadata.csv` (`metadata.jsonl` for JSON lines; per shard `metadata.shard-K-of-N.csv`).
    #[must_use]
    pub fn metadata_file(mut self, path: impl Into<PathBuf>) -> JobOptions {
        self.metadata_file = Some(path.into());
        self
    }

    /// The metadata table's format (default: neuromorphopy's cleaned CSV).
    #[must_use]
    pub fn metadata_format(mut self, format: MetadataFormat) -> JobOptions {
        self.metadata_format = format;
        self
    }

    /// Add morphometry columns to the table (one extra request per 500 neurons).
    #[must_use]
    pub fn morphometry(mut self, on: bool) -> JobOptions {
        self.morphometry = on;
        self
    }

    /// Write the metadata table only, no file (default false).
    #[must_use]
    pub fn metadata_only(mut self, on: bool) -> JobOptions {
        self.download = !on;
        self
    }

    /// Only this part of the result (`None`: all of it). A shard writes its own table,
    /// manifest, lists and run file (`*.shard-K-of-N.*`) into the shared folder.
    #[must_use]
    pub fn shard(mut self, shard: Option<Shard>) -> JobOptions {
        self.shard = shard;
        self
    }

    /// Write `CITATIONS.md` and `CITATIONS.bib` for the neurons held (default true).
    #[must_use]
    pub fn citations(mut self, on: bool) -> JobOptions {
        self.citations = on;
        self
    }

    /// Check every SWC file held (the reader, the validator and NeuroM's measures) and write
    /// the verdicts to `checks.csv` beside the metadata table (per shard:
    /// `checks.shard-K-of-N.csv`): `neuron_id, neuron_name, file, points, roots, stems,
    /// bifurcations, tips, total_length, errors, warnings, issues` (`code@line`, space
    /// separated), `morphio, morphio_reason` (MorphIO 3.5's verdict), `neurom, neurom_failed`
    /// (NeuroM's checks, empty unless [`JobOptions::check_with`] runs them) and `passes`
    /// (`yes` or `no`: what the check options require; by default, no error). A file with
    /// errors is kept and counted. Default false.
    #[must_use]
    pub fn check(mut self, on: bool) -> JobOptions {
        self.check = on;
        self
    }

    /// [Check](JobOptions::check) every SWC file held, as these options say: NeuroM's
    /// checks ([`CheckOptions::neurom`]) fill the table's `neurom` and `neurom_failed`
    /// columns, and what a file must satisfy ([`CheckOptions::require`]) its `passes` column
    /// and [`CheckedFiles::rejected`](crate::CheckedFiles::rejected). Every file is kept
    /// whatever its verdicts. Turns the check on.
    ///
    /// ```
    /// use neuromorpho::swc::{CheckOptions, NeuromOptions, Requirements};
    /// use neuromorpho::{DownloadOptions, JobOptions};
    /// let checks = CheckOptions::new()
    ///     .neurom(NeuromOptions::morph_check())
    ///     .require(Requirements::none().morphio(true));
    /// let options = JobOptions::from(DownloadOptions::new("neurons")).check_with(checks);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn check_with(mut self, options: CheckOptions) -> JobOptions {
        self.check = true;
        self.check_options = options;
        self
    }

    /// Keep a stable sample of the matches (`None`: all of them, the default): the `N`
    /// neurons of smallest key, or those whose key falls in `P%` of the key range, the key
    /// computed from each neuron's id and the [seed](JobOptions::seed) alone (see
    /// [`Sample`]). Taken before the shard (the shards' samples make the unsharded one) and
    /// after the [limit](JobOptions::limit). A count holds its `N` neurons until the last
    /// page (on disk, not in memory); a share decides each neuron as its page arrives.
    ///
    /// ```
    /// use neuromorpho::{JobOptions, Sample};
    /// let options = JobOptions::new("training").sample(Some(Sample::Count(1000))).seed(7);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn sample(mut self, sample: Option<Sample>) -> JobOptions {
        self.sample = sample;
        self
    }

    /// The seed of the sample's keys (default 0): the same seed, the same sample.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> JobOptions {
        self.seed = seed;
        self
    }

    /// Keep only the first `N` matches in the query's sort order (`None`: all, the
    /// default); only the pages that hold them are asked for. For names, the first `N`
    /// found, in the order given.
    #[must_use]
    pub fn limit(mut self, limit: Option<Limit>) -> JobOptions {
        self.limit = limit;
        self
    }

    /// Write each neuron's persistence vector to `pvec.csv` (per shard
    /// `pvec.shard-K-of-N.csv`): `neuron_id, neuron_name, distance, scaling_factor, coeff00
    /// .. coeff99`, one request per 500 neurons, merged with the rows of earlier runs. A
    /// neuron without a vector is a failure of kind [`FailureKind::Pvec`](crate::FailureKind::Pvec)
    /// (listed in `failed.csv`). Default false.
    #[must_use]
    pub fn pvec(mut self, on: bool) -> JobOptions {
        self.pvec = on;
        self
    }

    /// The output folder.
    pub fn out_dir(&self) -> &std::path::Path {
        &self.files.out_dir
    }

    /// The metadata file's full path.
    pub fn metadata_path(&self) -> PathBuf {
        self.files.out_dir.join(self.metadata_name())
    }

    /// The metadata file as given, or its default name.
    pub(crate) fn metadata_name(&self) -> PathBuf {
        self.metadata_file.clone().unwrap_or_else(|| {
            let part = self.shard.map(Shard::suffix).unwrap_or_default();
            PathBuf::from(format!(
                "metadata{part}.{}",
                self.metadata_format.extension()
            ))
        })
    }

    /// `name` + the shard's suffix + `ext` under the output folder: `failed.shard-2-of-10.csv`.
    pub(crate) fn per_shard(&self, name: &str, ext: &str) -> PathBuf {
        let part = self.shard.map(Shard::suffix).unwrap_or_default();
        self.files.out_dir.join(format!("{name}{part}.{ext}"))
    }

    /// The download options of this job's files: its shard's manifest.
    pub(crate) fn download_options(&self) -> DownloadOptions {
        let mut d = self.files.clone();
        d.suffix = self.shard.map(Shard::suffix).unwrap_or_default();
        d
    }
}
