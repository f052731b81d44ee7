//! What the page shows, read from the folder: the metadata table (CSV or JSON lines, shards
//! too), `checks.csv`, and the manifest; one [`Neuron`] per neuron, in the table's order.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::archive::files::FileKind;
use crate::error::{Error, Result};
use crate::store::{Manifest, ManifestEntry};

/// The measures of `checks.csv` the page shows, in its column names.
pub(crate) const MEASURES: [&str; 5] = ["points", "stems", "bifurcations", "tips", "total_length"];

/// One row of `checks.csv`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Checked {
    pub(crate) errors: u64,
    pub(crate) warnings: u64,
    pub(crate) issues: String,
    /// In the order of [`MEASURES`]; `None` when unknown (a file with errors).
    pub(crate) measures: [Option<f64>; 5],
}

/// A file of a neuron, from the manifest.
#[derive(Debug, Clone)]
pub(crate) struct File {
    pub(crate) kind: FileKind,
    /// Relative to the folder, `/`-separated (the manifest's, already checked as safe).
    pub(crate) path: String,
    pub(crate) sha256: String,
}

/// A neuron of the collection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Neuron {
    pub(crate) id: Option<u64>,
    pub(crate) name: String,
    /// The values of the metadata columns asked for, in that order ("" when absent).
    pub(crate) fields: Vec<String>,
    pub(crate) files: Vec<File>,
    pub(crate) checked: Option<Checked>,
}

impl Neuron {
    /// The SWC file to draw: the standardized one, else an original that is SWC.
    pub(crate) fn swc(&self) -> Option<&File> {
        self.files
            .iter()
            .find(|f| f.kind == FileKind::Cng)
            .or_else(|| {
                self.files.iter().find(|f| {
                    f.kind == FileKind::Original && f.path.to_ascii_lowercase().ends_with(".swc")
                })
            })
    }
}

/// The collection, and what was read to make it.
#[derive(Debug, Default)]
pub(crate) struct Collection {
    pub(crate) neurons: Vec<Neuron>,
    pub(crate) tables: Vec<PathBuf>,
    pub(crate) checks: Vec<PathBuf>,
    pub(crate) bad_manifest_lines: usize,
}

/// Files of `out_dir` named `<stem>.<ext>` or `<stem>.shard-K-of-N.<ext>`, sorted.
fn table_files(out_dir: &Path, stem: &str, ext: &str) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(out_dir) {
        Ok(e) => e,
        Err(e) => return Err(Error::io(out_dir, e)),
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let Some(middle) = name
                .strip_prefix(stem)
                .and_then(|r| r.strip_suffix(ext))
                .and_then(|r| r.strip_suffix('.'))
            else {
                return false;
            };
            middle.is_empty()
                || middle
                    .strip_prefix(".shard-")
                    .is_some_and(|s| s.contains("-of-"))
        })
        .map(|e| e.path())
        .collect();
    found.sort();
    Ok(found)
}

/// A file of the folder, opened without following a link or waiting on a FIFO.
fn open(path: &Path) -> Result<Option<std::fs::File>> {
    crate::store::safe_fs::open_regular(path).map_err(|e| Error::io(path, e))
}

/// Neuron key: the id, or the name for a record without one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Id(u64),
    Name(String),
}

fn key(id: Option<u64>, name: &str) -> Key {
    match id {
        Some(id) => Key::Id(id),
        None => Key::Name(name.to_string()),
    }
}

/// Read the folder. `columns` are the metadata columns to keep.
pub(crate) fn collect(out_dir: &Path, columns: &[String]) -> Result<Collection> {
    let mut c = Collection::default();
    let mut index: HashMap<Key, usize> = HashMap::new();

    // The metadata table(s), in their order.
    let mut tables = table_files(out_dir, "metadata", "csv")?;
    tables.extend(table_files(out_dir, "metadata", "jsonl")?);
    for path in &tables {
        let Some(file) = open(path)? else { continue };
        let rows = if path.extension().is_some_and(|e| e == "jsonl") {
            read_jsonl(path, file, columns)?
        } else {
            read_csv(path, file, columns)?
        };
        for (id, name, fields) in rows {
            let k = key(id, &name);
            if index.contains_key(&k) {
                continue; // a neuron in two tables (a CSV and JSON lines): the first wins
            }
            index.insert(k, c.neurons.len());
            c.neurons.push(Neuron {
                id,
                name,
                fields,
                ..Neuron::default()
            });
        }
    }
    c.tables = tables;

    // The manifest: each neuron's files; a neuron with files but no row is added.
    let manifest = Manifest::load(out_dir)?;
    c.bad_manifest_lines = manifest.bad_lines.len();
    // Streamed: the page needs a neuron's files, not the manifest's lines.
    let first_unlisted = c.neurons.len();
    manifest.each(|e: ManifestEntry| {
        let k = key(e.neuron_id, &e.neuron_name);
        let at = match index.get(&k) {
            Some(&at) => at,
            None => {
                index.insert(k, c.neurons.len());
                c.neurons.push(Neuron {
                    id: e.neuron_id,
                    name: e.neuron_name.clone(),
                    fields: vec![String::new(); columns.len()],
                    ..Neuron::default()
                });
                c.neurons.len() - 1
            }
        };
        if let Some(n) = c.neurons.get_mut(at) {
            n.files.push(File {
                kind: e.kind,
                path: e.path,
                sha256: e.sha256,
            });
        }
        Ok(())
    })?;
    // Neurons with files but no row of the table: after the table's, by name.
    if let Some(unlisted) = c.neurons.get_mut(first_unlisted..) {
        unlisted.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
    }
    for n in &mut c.neurons {
        n.files
            .sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
    }

    // The verdicts, by file (then by id, for a file the manifest does not name).
    let checks = table_files(out_dir, "checks", "csv")?;
    let mut by_file: HashMap<String, Checked> = HashMap::new();
    let mut by_id: HashMap<u64, Checked> = HashMap::new();
    for path in &checks {
        let Some(file) = open(path)? else { continue };
        read_checks(path, file, &mut by_file, &mut by_id)?;
    }
    c.checks = checks;
    for n in &mut c.neurons {
        let from_file = n.swc().and_then(|f| by_file.remove(&f.path));
        n.checked = from_file.or_else(|| n.id.and_then(|id| by_id.remove(&id)));
    }
    Ok(c)
}

/// A row of a metadata table: id, name, and the values of the columns asked for.
type TableRow = (Option<u64>, String, Vec<String>);

fn csv_error(path: &Path, source: csv::Error) -> Error {
    Error::Csv {
        path: path.to_path_buf(),
        source,
    }
}

/// `(id, name, fields)` of each row of a metadata CSV (cleaned or raw).
fn read_csv(path: &Path, file: std::fs::File, columns: &[String]) -> Result<Vec<TableRow>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(BufReader::new(file));
    let headers = reader.headers().map_err(|e| csv_error(path, e))?.clone();
    let at = |name: &str| headers.iter().position(|h| h == name);
    let (id_at, name_at) = (at("neuron_id"), at("neuron_name"));
    let wanted: Vec<Option<usize>> = columns.iter().map(|c| at(c)).collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, e))?;
        let cell = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("");
        let id = cell(id_at).trim().parse::<u64>().ok();
        let name = cell(name_at).to_string();
        if id.is_none() && name.is_empty() {
            continue;
        }
        rows.push((
            id,
            name,
            wanted.iter().map(|&i| cell(i).to_string()).collect(),
        ));
    }
    Ok(rows)
}

/// The same from JSON lines (each value cleaned as `metadata.csv` cleans it).
fn read_jsonl(path: &Path, file: std::fs::File, columns: &[String]) -> Result<Vec<TableRow>> {
    let mut rows = Vec::new();
    for (number, line) in (1u64..).zip(BufReader::new(file).split(b'\n')) {
        let line = line.map_err(|e| Error::io(path, e))?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: serde_json::Value = serde_json::from_slice(&line).map_err(|e| Error::Input {
            file: path.display().to_string(),
            message: format!("line {number}: {e}"),
        })?;
        let id = value.get("neuron_id").and_then(serde_json::Value::as_u64);
        let name = match value.get("neuron_name") {
            Some(serde_json::Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        if id.is_none() && name.is_empty() {
            continue;
        }
        let fields = columns
            .iter()
            .map(|c| {
                value
                    .get(c.as_str())
                    .map(crate::tables::clean_value)
                    .unwrap_or_default()
            })
            .collect();
        rows.push((id, name, fields));
    }
    Ok(rows)
}

fn read_checks(
    path: &Path,
    file: std::fs::File,
    by_file: &mut HashMap<String, Checked>,
    by_id: &mut HashMap<u64, Checked>,
) -> Result<()> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(BufReader::new(file));
    let headers = reader.headers().map_err(|e| csv_error(path, e))?.clone();
    let at = |name: &str| headers.iter().position(|h| h == name);
    let (id_at, file_at) = (at("neuron_id"), at("file"));
    let (errors_at, warnings_at, issues_at) = (at("errors"), at("warnings"), at("issues"));
    let measure_at: Vec<Option<usize>> = MEASURES.iter().map(|m| at(m)).collect();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, e))?;
        let cell = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("").trim();
        let mut checked = Checked {
            errors: cell(errors_at).parse().unwrap_or(0),
            warnings: cell(warnings_at).parse().unwrap_or(0),
            issues: cell(issues_at).to_string(),
            measures: [None; 5],
        };
        for (slot, &i) in checked.measures.iter_mut().zip(&measure_at) {
            *slot = cell(i).parse::<f64>().ok().filter(|v| v.is_finite());
        }
        if let Ok(id) = cell(id_at).parse::<u64>() {
            by_id.insert(id, checked.clone());
        }
        let file = cell(file_at);
        if !file.is_empty() {
            by_file.insert(file.to_string(), checked);
        }
    }
    Ok(())
}
