//! Downloading files: items planned into jobs with stable final paths, fetched on the
//! client's workers, each body streamed into an atomic file, checked and committed; one
//! failure never stops the others and is listed in the report.

mod one_file;
mod plan;
mod record;
mod report;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::archive::files::FileKind;
use crate::archive::Neuron;
use crate::client::{Client, Order};
use crate::error::Result;
use crate::progress::Progress;
use crate::store::manifest::{Manifest, ManifestEntry};

pub(crate) use report::{failed_csv_urls, merge_failed_csv};
pub use report::{DownloadReport, FailedFile, HeldFile};

use one_file::Outcome;
pub(crate) use plan::Planner;

/// Runs one batch of jobs (what a download's feed is given).
type RunBatch<'r> = dyn FnMut(&[plan::Job<'_>]) -> Result<()> + 'r;

/// What a download needs to know about one neuron: far less than its record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct DownloadItem {
    pub neuron_id: Option<u64>,
    pub neuron_name: String,
    pub archive: String,
    pub original_format: Option<String>,
    /// The values of the `group_by` fields, in order, as the record has them.
    pub group_values: Vec<String>,
}

impl DownloadItem {
    /// What a manifest entry says of its neuron (the file's name stands in for
    /// `original_format`, whose extension is all a download needs of it).
    fn from_entry(e: &ManifestEntry) -> DownloadItem {
        DownloadItem {
            neuron_id: e.neuron_id,
            neuron_name: e.neuron_name.clone(),
            archive: String::new(),
            original_format: Some(e.path.rsplit('/').next().unwrap_or("").to_string()),
            group_values: Vec::new(),
        }
    }

    /// Take what is needed from a record, with the values of the `group_by` fields.
    pub(crate) fn from_neuron<S: AsRef<str>>(n: &Neuron, group_by: &[S]) -> DownloadItem {
        let group_values = group_by
            .iter()
            .map(|field| group_value(n.get(field.as_ref())))
            .collect();
        DownloadItem {
            neuron_id: n.neuron_id(),
            neuron_name: n.neuron_name().to_string(),
            archive: n.archive().to_string(),
            original_format: n.original_format().map(str::to_string),
            group_values,
        }
    }
}

/// A field's value as one folder name's text (made safe by the path rule afterwards).
fn group_value(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| group_value(Some(i)))
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

/// How to download: the output folder and what goes into it. Build it with
/// [`DownloadOptions::new`] and change it with the chainable setters.
///
/// ```
/// use neuromorpho::{DownloadOptions, FileKind};
/// let options = DownloadOptions::new("neurons")
///     .what([FileKind::Cng, FileKind::Original])
///     .group_by(["species", "brain_region"])
///     .check_hash(true);
/// assert_eq!(options.out_dir(), std::path::Path::new("neurons"));
/// ```
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    pub(crate) out_dir: PathBuf,
    pub(crate) what: Vec<FileKind>,
    pub(crate) group_by: Vec<String>,
    pub(crate) skip_existing: bool,
    pub(crate) durable: bool,
    pub(crate) manifest: bool,
    pub(crate) check_hash: bool,
    pub(crate) update: bool,
    /// What keeps a shard's manifest apart from the others' in one folder (set by a job).
    pub(crate) suffix: String,
    /// Where files are taken from before they are asked of the server.
    pub(crate) mirror: Option<std::sync::Arc<crate::store::mirror::Mirror>>,
}

impl DownloadOptions {
    /// Defaults for an output folder: the standardized SWC of each neuron under
    /// `<out>/downloads/`, no grouping, files in place kept when they match the manifest,
    /// durable writes, a manifest.
    pub fn new(out_dir: impl Into<PathBuf>) -> DownloadOptions {
        DownloadOptions {
            out_dir: out_dir.into(),
            what: vec![FileKind::Cng],
            group_by: Vec::new(),
            skip_existing: true,
            durable: true,
            manifest: true,
            check_hash: false,
            update: false,
            suffix: String::new(),
            mirror: None,
        }
    }

    /// The output folder.
    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    /// Which files of each neuron, in this order (each once). Default: the standardized SWC.
    #[must_use]
    pub fn what(mut self, kinds: impl IntoIterator<Item = FileKind>) -> DownloadOptions {
        self.what.clear();
        for k in kinds {
            if !self.what.contains(&k) {
                self.what.push(k);
            }
        }
        self
    }

    /// Fields whose values make sub-folders, in order (`species`, `brain_region`, ...): a
    /// string as it is, a number as written, a list as its elements joined with `, `
    /// (`neocortex, prefrontal, layer 3`); missing, null or empty is `unknown`. The folder
    /// name is made safe: `/`, `\`, control characters and bidirectional overrides become
    /// `_`, leading dots `_`, at most 200 bytes.
    #[must_use]
    pub fn group_by<I, S>(mut self, fields: I) -> DownloadOptions
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.group_by = fields.into_iter().map(Into::into).collect();
        self
    }

    /// Skip a file already complete at its final path (default true).
    #[must_use]
    pub fn skip_existing(mut self, on: bool) -> DownloadOptions {
        self.skip_existing = on;
        self
    }

    /// Sync each file before its rename and the folder after, so that a crash or a power
    /// cut never leaves a partial file under a final name (default true; the benchmark
    /// shows the cost).
    #[must_use]
    pub fn durable(mut self, on: bool) -> DownloadOptions {
        self.durable = on;
        self
    }

    /// Record every file held in the folder's manifest (`manifest.jsonl`, and
    /// `SHA256SUMS`), and trust a file in place only when it matches its entry (default
    /// true).
    #[must_use]
    pub fn manifest(mut self, on: bool) -> DownloadOptions {
        self.manifest = on;
        self
    }

    /// Also compare the SHA-256 of a file in place with its entry before skipping it (the
    /// size is always compared). Default false.
    #[must_use]
    pub fn check_hash(mut self, on: bool) -> DownloadOptions {
        self.check_hash = on;
        self
    }

    /// Revalidate every file in place with the server: one conditional request per file
    /// (`If-None-Match`/`If-Modified-Since` from its entry; without validators the body is
    /// fetched and its hash compared). A changed file replaces the old one atomically; the
    /// old one is kept under `previous/<date>/`. Default false.
    #[must_use]
    pub fn update(mut self, on: bool) -> DownloadOptions {
        self.update = on;
        self
    }

    /// Take each file from this mirror (a folder this tool downloaded into) before asking
    /// the server for it: hard-linked where the file system allows, copied otherwise, each
    /// checked against the mirror's manifest first. A file the mirror lacks, or holds
    /// damaged (said in the log, counted in [`DownloadReport::mirror_damaged`]), comes from
    /// the server. The mirror is never written. The output folder must not be in the mirror
    /// (nor the mirror in it).
    ///
    /// ```no_run
    /// use neuromorpho::{store::Mirror, DownloadOptions};
    /// let options = DownloadOptions::new("subset").mirror(Mirror::open("all-neurons")?);
    /// # Ok::<(), neuromorpho::Error>(())
    /// ```
    #[must_use]
    pub fn mirror(mut self, mirror: crate::store::mirror::Mirror) -> DownloadOptions {
        self.mirror = Some(std::sync::Arc::new(mirror));
        self
    }
}

impl Client {
    /// Download the files of `items` on the client's workers: one GET per file, streamed to
    /// a temporary file, checked, and renamed into place. `progress` is called on this
    /// thread.
    ///
    /// One failure never stops the others: it is listed in the report. An error is returned
    /// only when the output folder itself cannot be used, or when the client's
    /// [`CancelToken`](crate::CancelToken) is cancelled ([`Error::Cancelled`](crate::Error::Cancelled);
    /// finished files stay, no temporary file is left). The same file asked for twice is
    /// fetched once.
    pub fn download(
        &self,
        neurons: &[Neuron],
        options: &DownloadOptions,
        mut progress: impl FnMut(&Progress),
    ) -> Result<DownloadReport> {
        let mut planner = Planner::in_memory(options);
        for n in neurons {
            planner.add(DownloadItem::from_neuron(n, &options.group_by))?;
        }
        self.download_planned(planner, options, true, &mut progress)
    }

    /// Download what a planner holds, a chunk at a time; `keep_files`: list the files held in
    /// the report (a job that needs them only for its checks asks for them then).
    pub(crate) fn download_planned(
        &self,
        planner: Planner,
        options: &DownloadOptions,
        keep_files: bool,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<DownloadReport> {
        plan::prepare(options)?;
        if let Some(mirror) = &options.mirror {
            mirror.check_apart(&options.out_dir)?;
        }
        let files = planner.files();
        // The plan's path keys go before the manifest's index comes: never both at once.
        let mut chunks = planner.into_chunks()?;
        let mut manifest = Some(if options.manifest {
            Manifest::load(&options.out_dir)?
        } else {
            Manifest::default()
        });
        let base_url = self.base_url().to_string();
        self.run_streamed(options, files, keep_files, progress, &mut |run| loop {
            let planned = chunks.next_chunk()?;
            let Some(known) = manifest.as_ref().filter(|_| !planned.is_empty()) else {
                // The index goes before the manifest is compacted, which needs as much.
                manifest = None;
                return Ok(());
            };
            run(&plan::jobs(&base_url, &planned, options, known))?;
        })
    }

    /// Fetch the files of recorded entries again (from their URLs, to their paths), and
    /// record them: what `verify --repair` does.
    pub(crate) fn refetch(
        &self,
        entries: &[ManifestEntry],
        options: &DownloadOptions,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<DownloadReport> {
        // Entries come from a file anyone can edit (or a report a caller changed): a path
        // that is not safe for its kind is never written.
        let entries: Vec<&ManifestEntry> = entries
            .iter()
            .filter(|e| {
                let why = crate::store::safe_fs::unsafe_entry_path(&e.path, e.kind);
                if let Some(why) = &why {
                    log::warn!(
                        "{}: {why}; not repaired",
                        crate::util::text::escape(&e.path)
                    );
                }
                why.is_none()
            })
            .collect();
        let items: Vec<DownloadItem> = entries
            .iter()
            .map(|e| DownloadItem::from_entry(e))
            .collect();
        let jobs: Vec<plan::Job<'_>> = entries
            .iter()
            .zip(&items)
            .map(|(e, item)| plan::Job {
                item,
                kind: e.kind,
                url: Some(e.url.clone()),
                path: e.full_path(&options.out_dir),
                rel: e.path.clone(),
                entry: None,
            })
            .collect();
        self.run_streamed(options, jobs.len() as u64, true, progress, &mut |run| {
            run(&jobs)
        })
    }

    /// Run the jobs `feed` hands to its runner, batch after batch, on the client's workers,
    /// recording what each commits; the report sums them up. What was committed is recorded
    /// whatever happens (a cancel included).
    fn run_streamed(
        &self,
        options: &DownloadOptions,
        files: u64,
        keep_files: bool,
        progress: &mut dyn FnMut(&Progress),
        feed: &mut dyn FnMut(&mut RunBatch<'_>) -> Result<()>,
    ) -> Result<DownloadReport> {
        progress(&Progress::DownloadStarted { files });
        let mut recorder = record::Recorder::new(options, &self.cancel);
        let fresh = one_file::Fresh::new(&options.out_dir);
        let workers = self.workers()?;
        let mut report = DownloadReport::default();
        let (mut done, mut bytes, mut failed) = (0u64, 0u64, 0u64);
        let fed = feed(&mut |jobs| {
            let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(jobs.len());
            outcomes.resize_with(jobs.len(), || None);
            let run = workers.run(
                jobs.len() as u64,
                Order::AsDone,
                &self.cancel,
                |i| match jobs.get(i as usize) {
                    Some(job) => self.fetch_one(job, options, &fresh),
                    None => Outcome::Skipped { record: None },
                },
                |i, outcome| {
                    done += 1;
                    match &outcome {
                        Outcome::Downloaded { entry, .. } => bytes += entry.bytes,
                        Outcome::Failed(_) => failed += 1,
                        _ => {}
                    }
                    recorder.note(&outcome, &mut |p| progress(p))?;
                    if let Some(slot) = outcomes.get_mut(i as usize) {
                        *slot = Some(outcome);
                    }
                    progress(&Progress::File {
                        done,
                        files,
                        bytes,
                        failed,
                    });
                    Ok(())
                },
            );
            report.add(jobs, outcomes, keep_files);
            run
        });
        drop(fresh);
        let recorded = recorder.finish(&mut |p| progress(p));
        fed?;
        recorded?;
        Ok(report)
    }
}
