//! A whole job in one call: search (or look up names), write the metadata table as pages
//! arrive, download the files, write `failed.csv` and `CITATIONS.md`, and sum it up.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::citations::Citations;
use crate::client::Client;
use crate::download::{DownloadItem, DownloadOptions, FailedFile};
use crate::error::{Error, FailureKind, Result};
use crate::files::FileKind;
use crate::lookup::morphometry_columns;
use crate::metadata::{MetadataFormat, MetadataWriter};
use crate::model::Neuron;
use crate::progress::Progress;
use crate::query::Query;
use crate::search::{SearchEvent, SkippedRecord};

/// One of N parts of a result, for scheduler job arrays: part K keeps the neurons whose
/// `neuron_id mod N == K - 1` (deterministic, so N tasks split a query with no overlap and no
/// gap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

impl Shard {
    /// Part `index` (1-based) of `count`; `None` unless 1 <= index <= count.
    pub fn new(index: u64, count: u64) -> Option<Shard> {
        (count > 0 && (1..=count).contains(&index)).then_some(Shard { index, count })
    }

    /// K, 1-based.
    pub fn index(self) -> u64 {
        self.index
    }

    /// N.
    pub fn count(self) -> u64 {
        self.count
    }

    /// Whether this shard takes the neuron (one without an id goes to shard 1).
    pub fn contains(self, neuron_id: Option<u64>) -> bool {
        match neuron_id {
            Some(id) => id % self.count == self.index - 1,
            None => self.index == 1,
        }
    }

    /// The part of a file name that keeps shards of one folder apart: `.shard-2-of-10`.
    pub fn suffix(self) -> String {
        format!(".shard-{}-of-{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = Error;

    /// `K/N` with 1 <= K <= N.
    fn from_str(s: &str) -> Result<Shard> {
        let bad =
            |why: &str| Error::setting("shard", format!("'{}' {why}", crate::text::escape(s)));
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| bad("must look like K/N, e.g. 2/10"))?;
        let k: u64 = k.trim().parse().map_err(|_| bad("K is not a number"))?;
        let n: u64 = n.trim().parse().map_err(|_| bad("N is not a number"))?;
        Shard::new(k, n).ok_or_else(|| bad("needs 1 <= K <= N"))
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What a job does besides searching.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JobOptions {
    /// The output folder.
    pub out_dir: PathBuf,
    /// The metadata file, relative to `out_dir` unless absolute. Default `metadata.csv`.
    pub metadata_file: PathBuf,
    /// Its format.
    pub metadata_format: MetadataFormat,
    /// Add morphometry columns (one extra request per 500 neurons).
    pub morphometry: bool,
    /// Download files (false: metadata only).
    pub download: bool,
    /// Fields whose values make sub-folders (`species`, `brain_region`, ...).
    pub group_by: Vec<String>,
    /// Which files per neuron.
    pub what: Vec<FileKind>,
    /// Only this part of the result.
    pub shard: Option<Shard>,
    /// Write `CITATIONS.md` after a download.
    pub citations: bool,
    /// Sync files before their rename (see [`DownloadOptions::durable`]).
    pub durable: bool,
}

impl JobOptions {
    /// Defaults: `metadata.csv`, cleaned CSV, standardized SWC files, citations, no grouping.
    pub fn new(out_dir: impl Into<PathBuf>) -> JobOptions {
        JobOptions {
            out_dir: out_dir.into(),
            metadata_file: PathBuf::from("metadata.csv"),
            metadata_format: MetadataFormat::Csv,
            morphometry: false,
            download: true,
            group_by: Vec::new(),
            what: vec![FileKind::Cng],
            shard: None,
            citations: true,
            durable: true,
        }
    }

    /// The metadata file's full path.
    pub fn metadata_path(&self) -> PathBuf {
        self.out_dir.join(&self.metadata_file)
    }

    /// `name` + the shard's suffix + `ext` under the output folder: `failed.shard-2-of-10.csv`.
    fn per_shard(&self, name: &str, ext: &str) -> PathBuf {
        let part = self.shard.map(Shard::suffix).unwrap_or_default();
        self.out_dir.join(format!("{name}{part}.{ext}"))
    }
}

/// What a job did.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Summary {
    /// Neurons the query matched (or names found).
    pub matched: u64,
    /// Neurons this run handled (after the shard).
    pub selected: u64,
    /// Files downloaded now.
    pub downloaded: u64,
    /// Files already present.
    pub skipped: u64,
    /// Everything that failed: files, records that could not be read, names not found.
    pub failed: Vec<FailedFile>,
    /// Bytes written now.
    pub bytes: u64,
    /// Wall time.
    pub seconds: f64,
    /// The metadata file written.
    pub metadata_path: Option<PathBuf>,
    /// `failed.csv`, if anything failed.
    pub failed_csv: Option<PathBuf>,
    /// `CITATIONS.md`, if written.
    pub citations_path: Option<PathBuf>,
    /// Names asked for that the server does not know (named look-ups only; also in `failed`).
    pub not_found: Vec<String>,
}

/// Search, write the metadata table, download every file: neuromorphopy's one-call
/// `search_and_download`, synchronous. `progress` is called on this thread.
///
/// ```no_run
/// use neuromorpho::{search_and_download, Client, JobOptions, Query};
/// let client = Client::new()?;
/// let query = Query::new().filter("species", ["mouse"]).filter("cell_type", ["pyramidal"]);
/// let summary = search_and_download(&client, &query, &JobOptions::new("neurons"), |_| {})?;
/// println!("{} matched, {} downloaded, {} failed", summary.matched, summary.downloaded, summary.failed.len());
/// # Ok::<(), neuromorpho::Error>(())
/// ```
pub fn search_and_download(
    client: &Client,
    query: &Query,
    options: &JobOptions,
    mut progress: impl FnMut(&Progress),
) -> Result<Summary> {
    let started = Instant::now();
    let mut collector = Collector::new(client, options)?;
    let matched = client.search_each(query, |event| match event {
        SearchEvent::Started {
            total,
            pages,
            restart,
        } => {
            if restart {
                collector.reset()?;
            }
            progress(&Progress::SearchStarted { total, pages });
            Ok(())
        }
        SearchEvent::Page {
            number,
            pages,
            neurons,
            skipped,
        } => {
            collector.add(&neurons, skipped)?;
            progress(&Progress::Page {
                done: number + 1,
                pages,
            });
            Ok(())
        }
    })?;
    collector.finish(matched, started, &mut progress)
}

/// Look neurons up by name (batched), then as [`search_and_download`]. Names the server does
/// not know are failures (`not-found`) of the summary.
pub fn download_names<I, S>(
    client: &Client,
    names: I,
    options: &JobOptions,
    mut progress: impl FnMut(&Progress),
) -> Result<Summary>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let started = Instant::now();
    let lookup = client.neurons_by_name(names)?;
    let mut collector = Collector::new(client, options)?;
    progress(&Progress::SearchStarted {
        total: lookup.found.len() as u64,
        pages: 1,
    });
    collector.add(&lookup.found, Vec::new())?;
    for name in &lookup.missing {
        collector.failed.push(FailedFile::record(
            name,
            None,
            FailureKind::NotFound,
            "the server has no neuron of this name".into(),
        ));
    }
    let mut summary = collector.finish(lookup.found.len() as u64, started, &mut progress)?;
    summary.not_found = lookup.missing;
    Ok(summary)
}

/// Names from a metadata file written earlier (any of our formats: it needs a
/// `neuron_name` column or key, which is never cleaned).
pub fn names_from_metadata(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let source = path.display().to_string();
    if text.trim_start().starts_with('{') {
        return names_from_jsonl(text, &source);
    }
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let csv_err = |e| Error::Csv {
        path: path.to_path_buf(),
        source: e,
    };
    let headers = reader.headers().map_err(csv_err)?.clone();
    let col = headers
        .iter()
        .position(|h| h == "neuron_name")
        .ok_or_else(|| {
            Error::input(
                &source,
                "no 'neuron_name' column (is this a metadata file written by neuromorpho?)",
            )
        })?;
    let mut names = Vec::new();
    for row in reader.records() {
        let row = row.map_err(csv_err)?;
        if let Some(n) = row.get(col).filter(|n| !n.trim().is_empty()) {
            names.push(n.to_string());
        }
    }
    Ok(names)
}

fn names_from_jsonl(text: &str, source: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            Error::input(
                source,
                format!("line {}, column {}: {e}", i + 1, e.column()),
            )
        })?;
        match v.get("neuron_name").and_then(|n| n.as_str()) {
            Some(n) => names.push(n.to_string()),
            None => {
                return Err(Error::input(
                    source,
                    format!("line {}: no neuron_name", i + 1),
                ))
            }
        }
    }
    Ok(names)
}

/// Takes pages as they come: metadata rows out, compact download items kept.
struct Collector<'a> {
    options: &'a JobOptions,
    client: &'a Client,
    writer: Option<MetadataWriter>,
    items: Vec<DownloadItem>,
    /// Failures known before any download: unreadable records, unknown names.
    failed: Vec<FailedFile>,
}

impl<'a> Collector<'a> {
    fn new(client: &'a Client, options: &'a JobOptions) -> Result<Collector<'a>> {
        std::fs::create_dir_all(&options.out_dir).map_err(|e| Error::io(&options.out_dir, e))?;
        // Tables of a killed run (its temporary files) go; another live run's stay.
        crate::atomic_file::remove_stale(&options.out_dir, false);
        let mut writer = MetadataWriter::create(options.metadata_path(), options.metadata_format)?;
        if options.morphometry {
            writer = writer.with_extra_columns(
                morphometry_columns(None)
                    .into_iter()
                    .map(|(k, _)| k)
                    .collect(),
            );
        }
        Ok(Collector {
            options,
            client,
            writer: Some(writer),
            items: Vec::new(),
            failed: Vec::new(),
        })
    }

    fn reset(&mut self) -> Result<()> {
        self.items.clear();
        self.failed.clear();
        match self.writer.as_mut() {
            Some(w) => w.reset(),
            None => Ok(()),
        }
    }

    fn add(&mut self, neurons: &[Neuron], skipped: Vec<SkippedRecord>) -> Result<()> {
        for s in skipped {
            log::warn!("{s}");
            self.failed.push(FailedFile::record(
                "",
                None,
                FailureKind::InvalidRecord,
                s.to_string(),
            ));
        }
        let shard = self.options.shard;
        let mine: Vec<&Neuron> = neurons
            .iter()
            .filter(|n| shard.is_none_or(|s| s.contains(n.neuron_id())))
            .collect();
        let morph = if self.options.morphometry {
            let ids: Vec<u64> = mine.iter().filter_map(|n| n.neuron_id()).collect();
            Some(self.client.morphometry(&ids)?)
        } else {
            None
        };
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        for n in &mine {
            let extra = match &morph {
                Some(m) => morphometry_columns(n.neuron_id().and_then(|id| m.get(&id))),
                None => Vec::new(),
            };
            writer.write_with_extra(n, &extra)?;
            if self.options.download {
                self.items
                    .push(DownloadItem::from_neuron(n, &self.options.group_by));
            }
        }
        Ok(())
    }

    /// The table into place, then the files, `failed.csv` and `CITATIONS.md`.
    fn finish(
        mut self,
        matched: u64,
        started: Instant,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Summary> {
        let mut summary = Summary {
            matched,
            ..Summary::default()
        };
        if let Some(writer) = self.writer.take() {
            summary.selected = writer.rows();
            // No row, no table: an empty file would look like a successful search.
            if summary.selected > 0 {
                let path = writer.finish()?;
                log::info!(
                    "wrote metadata for {} to {}",
                    plural(summary.selected, "neuron"),
                    path.display()
                );
                summary.metadata_path = Some(path);
            }
        }
        let options = self.options;
        if options.download && !self.items.is_empty() {
            let mut download = DownloadOptions::new(&options.out_dir);
            download.what = options.what.clone();
            download.durable = options.durable;
            let report = self
                .client
                .download(&self.items, &download, |p| progress(p))?;
            if options.citations {
                summary.citations_path = self.write_citations(&report.files)?;
            }
            summary.downloaded = report.downloaded;
            summary.skipped = report.skipped;
            summary.bytes = report.bytes;
            self.failed.extend(report.failed);
        }
        // Shards of a job array share the output folder: each keeps its own lists, or they
        // would overwrite (and race on) each other's.
        if options.download || !self.failed.is_empty() {
            summary.failed_csv = crate::download::write_failed_csv(
                &self.failed,
                &options.per_shard("failed", "csv"),
            )?;
        }
        summary.failed = self.failed;
        summary.seconds = started.elapsed().as_secs_f64();
        Ok(summary)
    }

    /// `CITATIONS.md` for the neurons with a file in place; none when there is none.
    fn write_citations(&self, files: &[crate::download::HeldFile]) -> Result<Option<PathBuf>> {
        let in_place: HashSet<&str> = files.iter().map(|f| f.neuron_name.as_str()).collect();
        let mut citations = Citations::new();
        for item in self
            .items
            .iter()
            .filter(|i| in_place.contains(i.neuron_name.as_str()))
        {
            citations.add(&item.reference_pmid, &item.reference_doi);
        }
        if citations.neurons() == 0 {
            return Ok(None);
        }
        let path = self.options.per_shard("CITATIONS", "md");
        citations.write_to(&path).map(Some)
    }
}

/// `1 neuron`, `2 neurons`.
pub(crate) fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_without_overlap_or_gap() {
        let shards: Vec<Shard> = (1..=3)
            .map(|k| format!("{k}/3").parse::<Shard>().unwrap())
            .collect();
        for id in 0..1000u64 {
            assert_eq!(shards.iter().filter(|s| s.contains(Some(id))).count(), 1);
        }
        assert!("0/3".parse::<Shard>().is_err());
        assert!("4/3".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
        assert_eq!(shards[1].suffix(), ".shard-2-of-3");
    }
}
