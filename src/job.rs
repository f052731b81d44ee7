//! A whole job in one call: search (or look up names), write the metadata table as pages
//! arrive, download the files, write `failed.csv` and `CITATIONS.md`, and sum it up.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::citations::Citations;
use crate::client::Client;
use crate::download::{DownloadItem, DownloadOptions, FailedFile, FileKind, Progress};
use crate::error::{Error, Result};
use crate::lookup::morphometry_columns;
use crate::metadata::{MetadataFormat, MetadataWriter};
use crate::model::Neuron;
use crate::query::Query;
use crate::search::SearchEvent;

/// One of N parts of a result, for scheduler job arrays: part K keeps the neurons whose
/// `neuron_id mod N == K - 1` (deterministic, so N tasks split a query with no overlap and no gap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// K, 1-based.
    pub index: u64,
    /// N.
    pub count: u64,
}

impl Shard {
    /// Parse `K/N` with 1 <= K <= N.
    pub fn parse(s: &str) -> std::result::Result<Shard, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("shard '{s}' must look like K/N, e.g. 2/10"))?;
        let k: u64 = k
            .trim()
            .parse()
            .map_err(|_| format!("shard '{s}': K is not a number"))?;
        let n: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("shard '{s}': N is not a number"))?;
        if n == 0 || k == 0 || k > n {
            return Err(format!("shard '{s}': need 1 <= K <= N"));
        }
        Ok(Shard { index: k, count: n })
    }

    /// Whether this shard takes the neuron (one without an id goes to shard 1).
    pub fn contains(&self, neuron_id: Option<u64>) -> bool {
        match neuron_id {
            Some(id) => id % self.count == self.index - 1,
            None => self.index == 1,
        }
    }
}

/// What a job does besides searching.
#[derive(Debug, Clone)]
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
        }
    }

    /// The metadata file's full path.
    pub fn metadata_path(&self) -> PathBuf {
        self.out_dir.join(&self.metadata_file)
    }
}

/// What a job did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Neurons the query matched (or names found).
    pub matched: u64,
    /// Neurons this run handled (after `--shard`).
    pub selected: u64,
    /// Files downloaded now.
    pub downloaded: u64,
    /// Files already present.
    pub skipped: u64,
    /// Files that failed.
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
    /// Names asked for that the server does not know (named look-ups only).
    pub not_found: Vec<String>,
}

/// Search, write the metadata table, download every file: neuromorphopy's one-call
/// `search_and_download`, synchronous.
///
/// ```no_run
/// use neuromorpho::{job::{search_and_download, JobOptions}, Client, Query};
/// let client = Client::new()?;
/// let query = Query::new().filter("species", ["mouse"]).filter("cell_type", ["pyramidal"]);
/// let summary = search_and_download(&client, &query, &JobOptions::new("neurons"), &|_| {})?;
/// println!("{} matched, {} downloaded, {} failed", summary.matched, summary.downloaded, summary.failed.len());
/// # Ok::<(), neuromorpho::Error>(())
/// ```
pub fn search_and_download(
    client: &Client,
    query: &Query,
    options: &JobOptions,
    progress: &(dyn Fn(&Progress) + Sync),
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
        } => {
            collector.add(&neurons)?;
            progress(&Progress::Page {
                done: number + 1,
                pages,
            });
            Ok(())
        }
    })?;
    collector.finish(client, matched, started, progress)
}

/// Look neurons up by name (batched), then as [`search_and_download`].
pub fn download_names(
    client: &Client,
    names: &[String],
    options: &JobOptions,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<Summary> {
    let started = Instant::now();
    let (records, missing) = client.neurons_by_name(names)?;
    for m in &missing {
        log::warn!("neuron '{m}' not found on the server");
    }
    let mut collector = Collector::new(client, options)?;
    progress(&Progress::SearchStarted {
        total: records.len() as u64,
        pages: 1,
    });
    collector.add(&records)?;
    let mut summary = collector.finish(client, records.len() as u64, started, progress)?;
    summary.not_found = missing;
    Ok(summary)
}

/// Names from a metadata file written earlier (any of our formats: it needs a
/// `neuron_name` column or key, which is never cleaned).
pub fn names_from_metadata(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let source = path.display().to_string();
    if text.trim_start().starts_with('{') {
        let mut names = Vec::new();
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| Error::query(&source, format!("line {}: {e}", i + 1)))?;
            match v.get("neuron_name").and_then(|n| n.as_str()) {
                Some(n) => names.push(n.to_string()),
                None => {
                    return Err(Error::query(
                        &source,
                        format!("line {}: no neuron_name", i + 1),
                    ))
                }
            }
        }
        return Ok(names);
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
            Error::query(
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

/// Takes pages as they come: metadata rows out, compact download items kept.
struct Collector<'a> {
    options: &'a JobOptions,
    client: &'a Client,
    writer: Option<MetadataWriter>,
    items: Vec<DownloadItem>,
}

impl<'a> Collector<'a> {
    fn new(client: &'a Client, options: &'a JobOptions) -> Result<Collector<'a>> {
        std::fs::create_dir_all(&options.out_dir).map_err(|e| Error::io(&options.out_dir, e))?;
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
        })
    }

    fn reset(&mut self) -> Result<()> {
        self.items.clear();
        match self.writer.as_mut() {
            Some(w) => w.reset(),
            None => Ok(()),
        }
    }

    fn add(&mut self, neurons: &[Neuron]) -> Result<()> {
        let shard = self.options.shard;
        let mine: Vec<&Neuron> = neurons
            .iter()
            .filter(|n| shard.is_none_or(|s| s.contains(n.neuron_id)))
            .collect();
        let morph = if self.options.morphometry {
            let ids: Vec<u64> = mine.iter().filter_map(|n| n.neuron_id).collect();
            Some(self.client.morphometry(&ids)?)
        } else {
            None
        };
        let writer = self.writer.as_mut().expect("writer lives until finish");
        for n in &mine {
            match &morph {
                Some(m) => {
                    let extra = morphometry_columns(n.neuron_id.and_then(|id| m.get(&id)));
                    writer.write_with_extra(n, &extra)?;
                }
                None => writer.write_with_extra(n, &[])?,
            }
            if self.options.download {
                self.items
                    .push(DownloadItem::from_neuron(n, &self.options.group_by));
            }
        }
        Ok(())
    }

    fn finish(
        mut self,
        client: &Client,
        matched: u64,
        started: Instant,
        progress: &(dyn Fn(&Progress) + Sync),
    ) -> Result<Summary> {
        let writer = self.writer.take().expect("finish once");
        let selected = writer.rows();
        // No row, no table: an empty file would look like a successful search.
        let metadata_path = if selected == 0 {
            drop(writer);
            None
        } else {
            let path = writer.finish()?;
            log::info!(
                "wrote metadata for {selected} neurons to {}",
                path.display()
            );
            Some(path)
        };
        let mut summary = Summary {
            matched,
            selected,
            metadata_path,
            ..Summary::default()
        };
        if self.options.download && !self.items.is_empty() {
            let options = DownloadOptions {
                out_dir: self.options.out_dir.clone(),
                what: self.options.what.clone(),
                skip_existing: true,
            };
            let report = client.download(&self.items, &options, progress)?;
            // Shards of a job array share the output folder: each keeps its own lists, or
            // they would overwrite (and race on) each other's.
            let part = self
                .options
                .shard
                .map(|s| format!(".shard-{}-of-{}", s.index, s.count))
                .unwrap_or_default();
            let out = &self.options.out_dir;
            summary.failed_csv =
                report.write_failed_csv_to(&out.join(format!("failed{part}.csv")))?;
            if self.options.citations {
                let mut citations = Citations::new();
                let in_place: std::collections::HashSet<&str> =
                    report.files.iter().map(|(n, _)| n.as_str()).collect();
                for item in self
                    .items
                    .iter()
                    .filter(|i| in_place.contains(i.neuron_name.as_str()))
                {
                    citations.add(item);
                }
                summary.citations_path =
                    Some(citations.write_to(&out.join(format!("CITATIONS{part}.md")))?);
            }
            summary.downloaded = report.downloaded;
            summary.skipped = report.skipped;
            summary.bytes = report.bytes;
            summary.failed = report.failed;
        }
        summary.seconds = started.elapsed().as_secs_f64();
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_without_overlap_or_gap() {
        let shards: Vec<Shard> = (1..=3)
            .map(|k| Shard::parse(&format!("{k}/3")).unwrap())
            .collect();
        for id in 0..1000u64 {
            assert_eq!(shards.iter().filter(|s| s.contains(Some(id))).count(), 1);
        }
        assert!(Shard::parse("0/3").is_err());
        assert!(Shard::parse("4/3").is_err());
        assert!(Shard::parse("x").is_err());
    }
}
