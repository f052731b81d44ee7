//! A whole job in one call: search (or look up names), write the metadata table as pages
//! arrive, download the files, write `failed.csv` and `CITATIONS.md`, and sum it up.

mod repair;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use crate::api::lookup::morphometry_columns;
use crate::api::search::{PassEvent, SkippedRecord};
use crate::archive::files::FileKind;
use crate::archive::query::Query;
use crate::archive::{Neuron, NeuronPage, Placed, SharedPage};
use crate::client::Client;
use crate::download::{merge_failed_csv, DownloadItem, DownloadOptions, FailedFile};
use crate::error::{Error, FailureKind, Result};
use crate::progress::Progress;
use crate::store::lock::FolderLock;
use crate::store::manifest::Manifest;
use crate::tables::citations::Citations;
use crate::tables::metadata::{
    parse_with_rows, MetadataFormat, MetadataWriter, PreparedRows, RowFormat, WrittenRows,
};

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
        let bad = |why: &str| {
            Error::setting("shard", format!("'{}' {why}", crate::util::text::escape(s)))
        };
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
    /// Revalidate the files in place with the server (see [`DownloadOptions::update`]).
    pub update: bool,
    /// Compare the SHA-256 of a file in place before skipping it (see
    /// [`DownloadOptions::check_hash`]).
    pub check_hash: bool,
    /// Check every SWC file held (the reader, the validator and NeuroM's measures) and write
    /// the verdicts to `checks.csv` beside the metadata table (per shard:
    /// `checks.shard-K-of-N.csv`): `neuron_id, neuron_name, file, points, roots, stems,
    /// bifurcations, tips, total_length, errors, warnings, issues` (`code@line`, space
    /// separated). A file with errors is kept and counted.
    pub check: bool,
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
            update: false,
            check_hash: false,
            check: false,
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
    /// Files this run was to have in place: each file asked for once, plus one per record or
    /// name that gave none. `downloaded + skipped + unchanged + failed.len()` adds up to it.
    pub files: u64,
    /// Files downloaded now.
    pub downloaded: u64,
    /// Files already present.
    pub skipped: u64,
    /// With `update`: files the server changed (replaced; the old copies kept under
    /// `previous/`). Counted in `downloaded` too.
    pub changed: u64,
    /// With `update`: files the server confirmed unchanged.
    pub unchanged: u64,
    /// Files in place that were damaged and were fetched again (counted in `downloaded`).
    pub repaired: u64,
    /// With `update`: files in the folder whose neuron the query no longer matches (kept),
    /// as paths relative to the output folder.
    pub gone: Vec<String>,
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
    /// With `check`: SWC files checked, and how many have errors / warnings.
    pub checked: u64,
    /// With `check`: files whose SWC has errors (kept, listed in `checks.csv`).
    pub checked_with_errors: u64,
    /// With `check`: files whose SWC has warnings.
    pub checked_with_warnings: u64,
    /// With `check`: the verdict table.
    pub checks_path: Option<PathBuf>,
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
    // Once the first page of a pass has fixed the table's columns, the rows of later pages
    // are rendered by the workers that parse them (the records of this run's shard only).
    let columns: RwLock<Option<Arc<RowFormat>>> = RwLock::new(None);
    let shard = options.shard;
    let mine = |n: &Neuron| shard.is_none_or(|s| s.contains(n.neuron_id()));
    let parse = |shared: &Arc<SharedPage>| {
        let format = columns.read().map_or(None, |c| c.clone());
        match format {
            Some(format) => {
                parse_with_rows(shared, &format, &mine).map(|(p, rows)| (p, Some(rows)))
            }
            None => Ok((NeuronPage::of_shared(shared)?, None)),
        }
    };
    let set_columns = |format: Option<RowFormat>| {
        if let Ok(mut c) = columns.write() {
            *c = format.map(Arc::new);
        }
    };
    let on_event = |event| match event {
        PassEvent::Started {
            total,
            pages,
            restart,
        } => {
            if restart {
                set_columns(None);
                collector.reset()?;
            }
            progress(&Progress::SearchStarted { total, pages });
            Ok(())
        }
        PassEvent::Page(page) => {
            let (number, pages) = (page.number, page.pages);
            collector.add(&page.records, page.skipped, Some(number), page.extra)?;
            if number == 0 {
                set_columns(collector.row_format());
            }
            progress(&Progress::Page {
                done: number + 1,
                pages,
            });
            Ok(())
        }
    };
    let matched = client.search_with(query, &parse, on_event)?;
    let summary = collector.finish(matched, started, &mut progress)?;
    save_run(client, query, options)?;
    Ok(summary)
}

/// The file in which a folder says how it was made (per shard: `neuromorpho-run.shard-K-of-N.json`).
fn run_file(out_dir: &Path, shard: Option<Shard>) -> PathBuf {
    let part = shard.map(Shard::suffix).unwrap_or_default();
    out_dir.join(format!("neuromorpho-run{part}.json"))
}

/// Save the query (resolved filters and sort), the server, the tool's version and the date
/// in the output folder, with every setting that shapes it (kinds, grouping, metadata file
/// and format, shard), so that the folder says how it was made and `--update` (or a rerun
/// without a query) can repeat it. Keys of the file this run does not set are kept: the run
/// file is never overwritten with less than it held.
fn save_run(client: &Client, query: &Query, options: &JobOptions) -> Result<()> {
    let path = run_file(&options.out_dir, options.shard);
    let mut run = match read_run_file(&path) {
        Ok(Some(serde_json::Value::Object(old))) => old,
        _ => serde_json::Map::new(),
    };
    let now = serde_json::json!({
        "query": query.to_value(),
        "base_url": client.base_url(),
        "tool": concat!("neuromorpho ", env!("CARGO_PKG_VERSION")),
        "date": crate::util::time::Timestamp::now().to_string(),
        "what": options.what.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        "group_by": options.group_by,
        "metadata_file": options.metadata_file.to_string_lossy(),
        "metadata_format": options.metadata_format.as_str(),
        "morphometry": options.morphometry,
        "shard": options.shard.map(|s| s.to_string()),
    });
    if let serde_json::Value::Object(now) = now {
        run.extend(now);
    }
    let text = serde_json::to_string_pretty(&serde_json::Value::Object(run))
        .map_err(|e| Error::io(&path, e.into()))?;
    crate::store::atomic_file::write_atomically(
        &path,
        format!("{text}\n").as_bytes(),
        options.durable,
    )
    .map_err(|e| Error::io(&path, e))
}

/// The run file's JSON (a regular file only: never a FIFO or a link); `None` when absent.
fn read_run_file(path: &Path) -> Result<Option<serde_json::Value>> {
    let Some(bytes) = crate::store::safe_fs::read_regular(path).map_err(|e| Error::io(path, e))?
    else {
        return Ok(None);
    };
    let source = path.display().to_string();
    let text = String::from_utf8(bytes).map_err(|_| Error::input(&source, "not UTF-8 text"))?;
    serde_json::from_str(&text).map(Some).map_err(|e| {
        Error::input(
            &source,
            format!(
                "line {}, column {}: {}",
                e.line(),
                e.column().max(1),
                crate::archive::query::strip_position(&e.to_string())
            ),
        )
    })
}

/// How an output folder was made, as its run file (`neuromorpho-run.json`) says: what
/// `--update` and a rerun without a query repeat. Every value was read back from the folder
/// and checked (a metadata file inside the folder, known kinds and formats).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SavedRun {
    /// The query.
    pub query: Query,
    /// Which files per neuron.
    pub what: Vec<FileKind>,
    /// The grouping fields.
    pub group_by: Vec<String>,
    /// The metadata file, relative to the folder.
    pub metadata_file: PathBuf,
    /// Its format.
    pub metadata_format: MetadataFormat,
    /// Whether the table has morphometry columns.
    pub morphometry: bool,
}

impl SavedRun {
    /// These settings on top of `options` (the output folder and shard stay).
    pub fn apply_to(&self, options: &mut JobOptions) {
        options.what = self.what.clone();
        options.group_by = self.group_by.clone();
        options.metadata_file = self.metadata_file.clone();
        options.metadata_format = self.metadata_format;
        options.morphometry = self.morphometry;
    }
}

/// What the folder `out_dir` says of how it was made (per shard, the shard's run file), for
/// `--update` and reruns without a query; `None` if it has no run file. Settings an older
/// version did not save take their defaults.
pub fn saved_run(out_dir: &Path, shard: Option<Shard>) -> Result<Option<SavedRun>> {
    let path = run_file(out_dir, shard);
    let Some(v) = read_run_file(&path)? else {
        return Ok(None);
    };
    let source = path.display().to_string();
    let bad = |key: &str, why: String| Error::input(&source, format!("'{key}': {why}"));
    let q = v
        .get("query")
        .ok_or_else(|| Error::input(&source, "no 'query' key"))?;
    let query = Query::from_value(q, &source)?;
    let strings = |key: &str| -> Result<Option<Vec<String>>> {
        match v.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad(key, "not a list of strings".into()))
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(_) => Err(bad(key, "not a list of strings".into())),
        }
    };
    let what = match strings("what")? {
        None => vec![FileKind::Cng],
        Some(kinds) => kinds
            .iter()
            .map(|k| {
                k.parse::<FileKind>()
                    .map_err(|e| bad("what", e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?,
    };
    let group_by = strings("group_by")?.unwrap_or_default();
    let metadata_format = match v.get("metadata_format").and_then(|f| f.as_str()) {
        None => MetadataFormat::Csv,
        Some(f) => f
            .parse()
            .map_err(|e: Error| bad("metadata_format", e.to_string()))?,
    };
    let metadata_file = match v.get("metadata_file") {
        None | Some(serde_json::Value::Null) => PathBuf::from(format!(
            "metadata{}.{}",
            shard.map(Shard::suffix).unwrap_or_default(),
            metadata_format.extension()
        )),
        Some(serde_json::Value::String(f)) => {
            if let Some(why) = unsafe_table_path(f) {
                return Err(bad(
                    "metadata_file",
                    format!(
                        "'{}' {why}: give -m to choose the metadata file",
                        crate::util::text::escape(f)
                    ),
                ));
            }
            PathBuf::from(f)
        }
        Some(_) => return Err(bad("metadata_file", "not a string".into())),
    };
    let morphometry = v
        .get("morphometry")
        .and_then(|m| m.as_bool())
        .unwrap_or(false);
    Ok(Some(SavedRun {
        query,
        what,
        group_by,
        metadata_file,
        metadata_format,
        morphometry,
    }))
}

/// Why a table's path read from the run file cannot be used, or `None`: it must be a plain
/// relative name inside the folder, outside its data folders, and not one of the folder's
/// own records.
fn unsafe_table_path(f: &str) -> Option<&'static str> {
    let path = Path::new(f);
    if f.is_empty() || path.is_absolute() {
        return Some("is not a path inside the folder");
    }
    if f.chars()
        .any(|c| c == '\\' || crate::util::text::is_unsafe(c))
    {
        return Some("holds a backslash or a control character");
    }
    let mut parts = path.components();
    if !parts.all(|c| matches!(c, std::path::Component::Normal(_))) {
        return Some("is not a plain path inside the folder");
    }
    let first = f.split('/').next().unwrap_or("");
    if FileKind::ALL.iter().any(|k| k.folder() == first) || first == "previous" {
        return Some("lies in a data folder");
    }
    let own = [
        crate::store::manifest::MANIFEST,
        crate::store::manifest::SUMS,
        crate::store::lock::LOCK_FILE,
        "neuromorpho-run",
        "failed",
        "checks",
        "CITATIONS",
    ];
    if !f.contains('/') && (f.starts_with('.') || own.iter().any(|o| f.starts_with(o))) {
        return Some("names one of the folder's own records");
    }
    None
}

/// The query saved in an output folder by an earlier search (see [`search_and_download`]),
/// for `--update` without a query; `None` if the folder has none.
pub fn saved_query(out_dir: &Path, shard: Option<Shard>) -> Result<Option<Query>> {
    Ok(saved_run(out_dir, shard)?.map(|r| r.query))
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
    let found: Placed<Neuron> = lookup.found.iter().cloned().enumerate().collect();
    collector.add(&found, Vec::new(), None, None)?;
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
                format!(
                    "line {}, column {}: {}",
                    i + 1,
                    e.column().max(1),
                    crate::archive::query::strip_position(&e.to_string())
                ),
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
    /// The rows this run writes, so that rows of other runs are kept; by their ids, the
    /// neurons of this run (for what `--update` finds gone).
    written: WrittenRows,
    /// Failures known before any download: unreadable records, unknown names.
    failed: Vec<FailedFile>,
}

impl<'a> Collector<'a> {
    fn new(client: &'a Client, options: &'a JobOptions) -> Result<Collector<'a>> {
        std::fs::create_dir_all(&options.out_dir).map_err(|e| Error::io(&options.out_dir, e))?;
        check_records(&options.out_dir)?;
        // Tables of a killed run (its temporary files) go; another live run's stay.
        crate::store::atomic_file::remove_stale(&options.out_dir, false);
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
            written: WrittenRows::default(),
            failed: Vec::new(),
        })
    }

    fn reset(&mut self) -> Result<()> {
        self.items.clear();
        self.failed.clear();
        self.written.clear();
        match self.writer.as_mut() {
            Some(w) => w.reset(),
            None => Ok(()),
        }
    }

    /// How the workers render the rows of later pages, once the table's columns are known
    /// (not with morphometry: its values come with each page, here).
    fn row_format(&self) -> Option<RowFormat> {
        self.writer.as_ref()?.row_format()
    }

    /// Take a page's records (each with its position in page `number`, to name a record that
    /// cannot be downloaded): rows of the table (`prepared` by the workers, or rendered
    /// here), and download items.
    fn add(
        &mut self,
        records: &Placed<Neuron>,
        skipped: Vec<SkippedRecord>,
        number: Option<u64>,
        prepared: Option<PreparedRows>,
    ) -> Result<()> {
        // Logged for the log file; the summary counts them and names the first ten.
        for s in skipped {
            log::info!("{s}");
            self.failed.push(FailedFile::record(
                "",
                None,
                FailureKind::InvalidRecord,
                s.to_string(),
            ));
        }
        let shard = self.options.shard;
        let mine: Vec<(&Neuron, usize)> = records
            .iter()
            .filter(|(_, n)| shard.is_none_or(|s| s.contains(n.neuron_id())))
            .map(|(i, n)| (n, *i))
            .collect();
        let morph = if self.options.morphometry {
            let ids: Vec<u64> = mine.iter().filter_map(|(n, _)| n.neuron_id()).collect();
            Some(self.client.morphometry(&ids)?)
        } else {
            None
        };
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        for &(n, position) in &mine {
            let done = match &prepared {
                Some(rows) => writer.write_prepared(rows, position)?,
                None => false,
            };
            if !done {
                let extra = match &morph {
                    Some(m) => morphometry_columns(n.neuron_id().and_then(|id| m.get(&id))),
                    None => Vec::new(),
                };
                writer.write_with_extra(n, &extra)?;
            }
            // Only a record without an id is known by its name (read from it then).
            match n.neuron_id() {
                Some(id) => self.written.insert_id(id),
                None => self.written.insert_name(n.neuron_name()),
            }
            if !self.options.download {
                continue;
            }
            if n.neuron_name().trim().is_empty() || n.archive().trim().is_empty() {
                self.failed
                    .push(unusable_record(n, number.map(|p| (p, position))));
                continue;
            }
            self.items
                .push(DownloadItem::from_neuron(n, &self.options.group_by));
        }
        Ok(())
    }

    /// Take the folder lock for a short update of the files runs share.
    fn lock(&self, progress: &mut dyn FnMut(&Progress)) -> Result<FolderLock> {
        FolderLock::acquire(&self.options.out_dir, &self.client.cancel, &mut |what| {
            progress(&Progress::Waiting {
                what: what.to_string(),
            })
        })
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
        self.commit_table(&mut summary, progress)?;
        if self.options.download && !self.items.is_empty() {
            let held = self.download(&mut summary, progress)?;
            if self.options.check {
                self.check_files(&held, &mut summary, progress)?;
            }
        }
        if self.options.download || !self.failed.is_empty() {
            self.write_lists(&mut summary, progress)?;
        }
        summary.failed = std::mem::take(&mut self.failed);
        // Records and names that gave no file count as one failed file each.
        summary.files += summary.failed.iter().filter(|f| f.path.is_empty()).count() as u64;
        summary.seconds = started.elapsed().as_secs_f64();
        Ok(summary)
    }

    /// The metadata table, with the rows of other runs kept (under the folder lock).
    fn commit_table(
        &mut self,
        summary: &mut Summary,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<()> {
        let Some(mut writer) = self.writer.take() else {
            return Ok(());
        };
        summary.selected = writer.rows();
        // No row, no table: an empty file would look like a successful search.
        if summary.selected == 0 {
            return Ok(());
        }
        let _lock = self.lock(progress)?;
        let kept = writer.keep_rows_of_final(&self.written)?;
        let path = writer.finish()?;
        log::info!(
            "wrote metadata for {} to {}{}",
            plural(summary.selected, "neuron"),
            path.display(),
            if kept > 0 {
                format!(" (and kept {} of earlier runs)", plural(kept, "row"))
            } else {
                String::new()
            }
        );
        summary.metadata_path = Some(path);
        Ok(())
    }

    /// `checks.csv`: the verdicts of the SWC checks on the files held (under the lock).
    fn check_files(
        &self,
        held: &[crate::download::HeldFile],
        summary: &mut Summary,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<()> {
        let path = self.options.per_shard("checks", "csv");
        let _lock = self.lock(progress)?;
        let checked = crate::tables::checks::write_checks(&self.options.out_dir, held, &path)?;
        summary.checked = checked.files;
        summary.checked_with_errors = checked.with_errors;
        summary.checked_with_warnings = checked.with_warnings;
        summary.checks_path = Some(path);
        Ok(())
    }

    /// The files, recorded; returns the files held at the end.
    fn download(
        &mut self,
        summary: &mut Summary,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Vec<crate::download::HeldFile>> {
        let options = self.options;
        let mut download = DownloadOptions::new(&options.out_dir);
        download.what = options.what.clone();
        download.durable = options.durable;
        download.suffix = options.shard.map(Shard::suffix).unwrap_or_default();
        download.update = options.update;
        download.check_hash = options.check_hash;
        let report = self
            .client
            .download(&self.items, &download, |p| progress(p))?;
        summary.files = report.planned;
        summary.downloaded = report.downloaded;
        summary.skipped = report.skipped;
        summary.changed = report.changed;
        summary.unchanged = report.unchanged;
        summary.repaired = report.repaired;
        summary.bytes = report.bytes;
        self.failed.extend(report.failed);
        if options.update {
            summary.gone = self.gone()?;
            for g in &summary.gone {
                log::info!("{g}: no longer matched by the query; kept");
            }
        }
        Ok(report.files)
    }

    /// Files the folder holds (of the kinds and shard of this run) whose neuron this run's
    /// query no longer matched.
    fn gone(&self) -> Result<Vec<String>> {
        let manifest = Manifest::load(&self.options.out_dir)?;
        Ok(manifest
            .entries()
            .into_iter()
            .filter(|e| self.options.what.contains(&e.kind))
            .filter(|e| self.options.shard.is_none_or(|s| s.contains(e.neuron_id)))
            .filter(|e| e.neuron_id.is_none_or(|id| !self.written.has_id(id)))
            .map(|e| e.path.clone())
            .collect())
    }

    /// `failed.csv` (what is still missing, whichever run tried) and `CITATIONS.md` (every
    /// neuron with a file in the folder), under the folder lock. A failure of this run whose
    /// file another run has put in place meanwhile is no failure any more: it is dropped
    /// from the summary too.
    fn write_lists(
        &mut self,
        summary: &mut Summary,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<()> {
        let options = self.options;
        let _lock = self.lock(progress)?;
        let manifest = Manifest::load(&options.out_dir)?;
        let out = &options.out_dir;
        // A failure of this run is mended only when another run has recorded its file since
        // this run planned it (an entry other than the one seen then), and the file is
        // complete and as that entry says. A damaged copy, or the same entry as before (an
        // update the server failed), stays a failure.
        let mut mended = 0u64;
        self.failed.retain(|f| {
            let by_other = !f.path.is_empty()
                && manifest
                    .get(&f.path)
                    .is_some_and(|now| Some(now) != f.seen.as_ref() && holds(out, now));
            if by_other {
                log::info!(
                    "{}: failed here ({}), but another run has put it in place meanwhile",
                    crate::util::text::escape(&f.path),
                    f.kind
                );
                mended += 1;
            }
            !by_other
        });
        summary.skipped += mended;
        // Rows of failed.csv left by other runs: resolved when a file of that URL is in place
        // and whole (looked at only for those rows).
        let by_url: HashMap<&str, &crate::store::manifest::ManifestEntry> = manifest
            .entries()
            .into_iter()
            .map(|e| (e.url.as_str(), e))
            .collect();
        let is_held = |url: &str| by_url.get(url).is_some_and(|e| holds(out, e));
        let tried: HashSet<&str> = self.items.iter().map(|i| i.neuron_name.as_str()).collect();
        let resolved = |name: &str, url: &str| {
            if url.is_empty() {
                tried.contains(name)
            } else {
                is_held(url)
            }
        };
        // Shards of a job array share the output folder: each keeps its own lists, or they
        // would overwrite (and race on) each other's.
        summary.failed_csv =
            merge_failed_csv(&self.failed, &options.per_shard("failed", "csv"), &resolved)?;
        if options.citations && options.download {
            summary.citations_path = self.write_citations(&manifest)?;
        }
        Ok(())
    }

    /// `CITATIONS.md` for the neurons with a file in the folder (their references from this
    /// run's records, or from the table); none when there is none.
    fn write_citations(&self, manifest: &Manifest) -> Result<Option<PathBuf>> {
        // A shard cites its own neurons (each shard writes its own CITATIONS file).
        let shard = self.options.shard;
        let held: HashSet<u64> = manifest
            .entries()
            .iter()
            .filter_map(|e| e.neuron_id)
            .filter(|id| shard.is_none_or(|s| s.contains(Some(*id))))
            .collect();
        let mut refs = crate::tables::metadata::references(&self.options.metadata_path())?;
        for item in &self.items {
            if let Some(id) = item.neuron_id {
                refs.insert(
                    id,
                    (item.reference_pmid.clone(), item.reference_doi.clone()),
                );
            }
        }
        let mut citations = Citations::new();
        let mut ids: Vec<&u64> = held.iter().collect();
        ids.sort();
        for id in ids {
            match refs.get(id) {
                Some((pmids, dois)) => citations.add(pmids, dois),
                None => citations.add(&[], &[]),
            }
        }
        if citations.neurons() == 0 {
            return Ok(None);
        }
        citations.write_bibtex_to(&self.options.per_shard("CITATIONS", "bib"))?;
        let path = self.options.per_shard("CITATIONS", "md");
        citations.write_to(&path).map(Some)
    }
}

/// Before the first request: the folder's own records (lock, manifests, checksum lists, run
/// files) are regular files where they exist, so that a FIFO or a link planted at one of
/// their names stops the run at once with its name, not after the search.
fn check_records(out_dir: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(out_dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let ours = name == crate::store::lock::LOCK_FILE
            || name.starts_with(crate::store::manifest::SUMS)
            || (name.starts_with(crate::store::manifest::MANIFEST) && name.ends_with(".jsonl"))
            || (name.starts_with("neuromorpho-run") && name.ends_with(".json"));
        if !ours {
            continue;
        }
        let meta = std::fs::symlink_metadata(e.path()).map_err(|err| Error::io(e.path(), err))?;
        if !meta.is_file() {
            return Err(Error::io(
                e.path(),
                crate::store::safe_fs::not_regular(crate::store::safe_fs::describe(&meta)),
            ));
        }
    }
    Ok(())
}

/// Whether the file of an entry is in place, complete and as the entry says (size and
/// SHA-256; used only for the few files a run failed on).
fn holds(out_dir: &Path, e: &crate::store::manifest::ManifestEntry) -> bool {
    let path = e.full_path(out_dir);
    crate::store::safe_fs::check_folders(out_dir, &path).is_ok()
        && std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && m.len() == e.bytes)
        && crate::store::manifest::hash_file(&path).is_ok_and(|(sha, _)| sha == e.sha256)
}

/// The failure of a record that lacks what a download needs, naming where it is (`placed`:
/// its page and position there).
fn unusable_record(n: &Neuron, placed: Option<(u64, usize)>) -> FailedFile {
    let who = match (n.neuron_id(), placed) {
        (Some(id), _) => format!("record neuron_id {id}"),
        (None, Some((number, pos))) => format!("entry {pos} of page {number} (no neuron_id)"),
        (None, None) => "a record without neuron_id".to_string(),
    };
    let what = if n.neuron_name().trim().is_empty() {
        "neuron_name"
    } else {
        "archive"
    };
    let detail = format!("{who} has no {what}");
    log::info!("{}", crate::util::text::escape(&detail));
    FailedFile::record(
        n.neuron_name(),
        n.neuron_id(),
        FailureKind::InvalidRecord,
        detail,
    )
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
