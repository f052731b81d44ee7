//! The folder's memory: `neuromorpho-run.json` says how the folder was made (the query and
//! every setting that shapes it), so that `--update` can repeat it; read back, it is input.

use std::path::{Path, PathBuf};

use crate::archive::files::FileKind;
use crate::archive::query::Query;
use crate::archive::sample::{Limit, Sample};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::tables::metadata::MetadataFormat;

use super::options::JobOptions;
use super::shard::Shard;
use super::summary::SampledSummary;

/// The file in which a folder says how it was made (per shard: `neuromorpho-run.shard-K-of-N.json`).
fn run_file(out_dir: &Path, shard: Option<Shard>) -> PathBuf {
    let part = shard.map(Shard::suffix).unwrap_or_default();
    out_dir.join(format!("neuromorpho-run{part}.json"))
}

/// Save the query (resolved filters and sort), the server, the tool's version and the date
/// in the output folder, with every setting that shapes it (kinds, grouping, metadata file
/// and format, shard), so that the folder says how it was made and `--update` (or a rerun
/// without a query) can repeat it. Keys of the file this run does not set are kept: the run
/// file is never overwritten with less than it held. The sample and the limit are saved with
/// the query (`sampled`: what they kept of how many, this run).
pub(crate) fn save_run(
    client: &Client,
    query: &Query,
    options: &JobOptions,
    sampled: Option<&SampledSummary>,
) -> Result<()> {
    let path = run_file(options.out_dir(), options.shard);
    let mut run = match read_run_file(&path) {
        Ok(Some(serde_json::Value::Object(old))) => old,
        _ => serde_json::Map::new(),
    };
    let now = serde_json::json!({
        "query": query.to_value(),
        "base_url": client.base_url(),
        "tool": concat!("neuromorpho ", env!("CARGO_PKG_VERSION")),
        "date": crate::util::time::Timestamp::now().to_string(),
        "what": options.files.what.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        "group_by": options.files.group_by,
        "metadata_file": options.metadata_name().to_string_lossy(),
        "metadata_format": options.metadata_format.as_str(),
        "morphometry": options.morphometry,
        "pvec": options.pvec,
        "shard": options.shard.map(|s| s.to_string()),
        "sample": options.sample.map(|s| s.to_string()),
        "seed": options.seed,
        "limit": options.limit.map(Limit::get),
        "sampled": sampled.map(|s| serde_json::json!({
            "population": s.population,
            "kept": s.kept,
            "text": sampled_text(s),
        })),
    });
    if let serde_json::Value::Object(now) = now {
        run.extend(now);
    }
    let text = serde_json::to_string_pretty(&serde_json::Value::Object(run))
        .map_err(|e| Error::io(&path, e.into()))?;
    crate::store::atomic_file::write_atomically(
        &path,
        format!("{text}\n").as_bytes(),
        options.files.durable,
    )
    .map_err(|e| Error::io(&path, e))
}

/// "sampled 1000 of 48213 (seed 7)", "the first 500 of 48213": what a selection kept.
pub(crate) fn sampled_text(s: &SampledSummary) -> String {
    let mut text = match s.sample {
        Some(Sample::Count(_)) => format!("sampled {} of {}", s.kept, s.population),
        Some(share) => format!("sampled {share}: {} of {}", s.kept, s.population),
        None => format!("kept {} of the matches", s.kept),
    };
    if s.sample.is_some() {
        text.push_str(&format!(" (seed {})", s.seed));
    }
    if let Some(l) = s.limit {
        text.push_str(&format!(", of the first {l} matches"));
    }
    text
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
                "{}: {}",
                crate::util::text::line_column(e.line(), e.column()),
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
    /// Whether the folder has `pvec.csv`.
    pub pvec: bool,
    /// The sample of the matches, if one was taken.
    pub sample: Option<Sample>,
    /// Its seed (0 when none was saved).
    pub seed: u64,
    /// The limit, if one was set.
    pub limit: Option<Limit>,
}

impl SavedRun {
    /// What the folder `out_dir` says of how it was made (per shard, the shard's run file),
    /// for `--update` and reruns without a query; `None` if it has no run file. Settings an
    /// older version did not save take their defaults. A run file that is not a regular file
    /// (a FIFO, a link), or whose metadata file lies outside the folder or over one of its
    /// records, is an error naming it.
    pub fn load(out_dir: &Path, shard: Option<Shard>) -> Result<Option<SavedRun>> {
        load(out_dir, shard)
    }

    /// These settings on top of `options` (the output folder, the shard and everything
    /// else stay).
    #[must_use]
    pub fn apply_to(&self, options: JobOptions) -> JobOptions {
        let files = options
            .files()
            .clone()
            .what(self.what.iter().copied())
            .group_by(self.group_by.iter().cloned());
        options
            .with_files(files)
            .metadata_file(self.metadata_file.clone())
            .metadata_format(self.metadata_format)
            .morphometry(self.morphometry)
            .pvec(self.pvec)
            .sample(self.sample)
            .seed(self.seed)
            .limit(self.limit)
    }
}

fn load(out_dir: &Path, shard: Option<Shard>) -> Result<Option<SavedRun>> {
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
    let pvec = v.get("pvec").and_then(|m| m.as_bool()).unwrap_or(false);
    let sample = match v.get("sample") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(t)) => Some(
            t.parse::<Sample>()
                .map_err(|e| bad("sample", e.to_string()))?,
        ),
        Some(_) => return Err(bad("sample", "not a string".into())),
    };
    let seed = match v.get("seed") {
        None | Some(serde_json::Value::Null) => 0,
        Some(s) => s
            .as_u64()
            .ok_or_else(|| bad("seed", "not a whole number from 0 to 2^64-1".into()))?,
    };
    let limit = match v.get("limit") {
        None | Some(serde_json::Value::Null) => None,
        Some(l) => Some(
            l.as_u64()
                .and_then(Limit::new)
                .ok_or_else(|| bad("limit", "not a whole number of at least 1".into()))?,
        ),
    };
    Ok(Some(SavedRun {
        query,
        what,
        group_by,
        metadata_file,
        metadata_format,
        morphometry,
        pvec,
        sample,
        seed,
        limit,
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
