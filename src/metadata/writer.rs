//! Writing the metadata table page by page into an atomic file: the table appears under its
//! name only when complete.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::atomic_file::AtomicFile;
use crate::error::{Error, Result};
use crate::model::Neuron;
use crate::text::for_table;

use super::{clean_value, raw_value, MetadataFormat};

/// Writes the metadata file one page at a time.
///
/// Rows go to a temporary file beside the target; [`MetadataWriter::finish`] renames it onto
/// the final name, so an interrupted run never leaves a half-written table under that name
/// (dropped unfinished, the temporary file is removed). Columns are the first record's keys
/// in the server's order (without `_links`), plus any extra columns; a key that appears only
/// in later records is dropped with a warning. CSV cells never hold a terminal escape
/// (control characters are written out as `\x1b`-style text); JSON lines escape them anyway.
pub struct MetadataWriter {
    format: MetadataFormat,
    path: PathBuf,
    out: Option<Sink>,
    columns: Option<Vec<String>>,
    extra_columns: Vec<String>,
    rows: u64,
    warned_new_key: bool,
}

/// Where rows go: the `csv` crate's quoting (RFC 4180, like pandas' `to_csv`) or JSON lines.
enum Sink {
    Csv(Box<csv::Writer<AtomicFile>>),
    Lines(BufWriter<AtomicFile>),
}

const BUFFER: usize = 256 * 1024;

impl Sink {
    fn open(file: AtomicFile, format: MetadataFormat) -> Sink {
        match format {
            MetadataFormat::Jsonl => Sink::Lines(BufWriter::with_capacity(BUFFER, file)),
            _ => Sink::Csv(Box::new(
                csv::WriterBuilder::new()
                    .buffer_capacity(BUFFER)
                    .from_writer(file),
            )),
        }
    }

    /// Flush what is buffered and give the file back.
    fn into_file(self) -> std::io::Result<AtomicFile> {
        match self {
            Sink::Csv(w) => w.into_inner().map_err(|e| e.into_error()),
            Sink::Lines(w) => w.into_inner().map_err(|e| e.into_error()),
        }
    }
}

impl std::fmt::Debug for MetadataWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataWriter")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("rows", &self.rows)
            .finish()
    }
}

impl MetadataWriter {
    /// Start writing `path` (its folder is created).
    pub fn create(path: impl Into<PathBuf>, format: MetadataFormat) -> Result<MetadataWriter> {
        let path = path.into();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let file = AtomicFile::create(&path, true).map_err(|e| Error::io(&path, e))?;
        Ok(MetadataWriter {
            format,
            path,
            out: Some(Sink::open(file, format)),
            columns: None,
            extra_columns: Vec::new(),
            rows: 0,
            warned_new_key: false,
        })
    }

    /// Columns appended after the record's own (e.g. morphometry), filled by
    /// [`MetadataWriter::write_with_extra`].
    pub fn with_extra_columns(mut self, columns: Vec<String>) -> MetadataWriter {
        self.extra_columns = columns;
        self
    }

    /// Throw away what was written (a search that starts over).
    pub fn reset(&mut self) -> Result<()> {
        if let Some(sink) = self.out.take() {
            let mut file = sink.into_file().map_err(|e| Error::io(&self.path, e))?;
            file.truncate()
                .map_err(|e| Error::io(file.temp_path(), e))?;
            self.out = Some(Sink::open(file, self.format));
        }
        self.columns = None;
        self.rows = 0;
        Ok(())
    }

    /// Append records.
    pub fn write(&mut self, neurons: &[Neuron]) -> Result<()> {
        for n in neurons {
            self.write_with_extra(n, &[])?;
        }
        Ok(())
    }

    /// Append one record with values for the extra columns (missing ones left empty).
    pub fn write_with_extra(&mut self, neuron: &Neuron, extra: &[(String, Value)]) -> Result<()> {
        let path = &self.path;
        let io = |e: std::io::Error| Error::io(path, e);
        let csv_err = |e: csv::Error| Error::Csv {
            path: path.clone(),
            source: e,
        };
        let out = match self.out.as_mut() {
            None => return Ok(()),
            Some(Sink::Lines(out)) => {
                let mut json = serde_json::Serializer::with_formatter(&mut *out, SafeJson);
                if extra.is_empty() {
                    neuron
                        .fields()
                        .serialize(&mut json)
                        .map_err(|e| io(e.into()))?;
                } else {
                    let mut map = neuron.fields().clone();
                    for (k, v) in extra {
                        map.insert(k.clone(), v.clone());
                    }
                    map.serialize(&mut json).map_err(|e| io(e.into()))?;
                }
                out.write_all(b"\n").map_err(io)?;
                self.rows += 1;
                return Ok(());
            }
            Some(Sink::Csv(out)) => out,
        };
        let columns = match &self.columns {
            Some(c) => c,
            None => {
                let mut cols: Vec<String> = neuron
                    .fields()
                    .keys()
                    .filter(|k| *k != "_links")
                    .cloned()
                    .collect();
                cols.extend(self.extra_columns.iter().cloned());
                let shown: Vec<String> = cols.iter().map(|c| for_table(c).into_owned()).collect();
                out.write_record(&shown).map_err(csv_err)?;
                self.columns.insert(cols)
            }
        };
        if !self.warned_new_key {
            if let Some(k) = new_key(neuron, columns) {
                log::warn!(
                    "record {} has a key '{}' the first record lacked; that column is not written",
                    crate::text::escape(neuron.neuron_name()),
                    crate::text::escape(k)
                );
                self.warned_new_key = true;
            }
        }
        let raw = self.format == MetadataFormat::RawCsv;
        for c in columns {
            let v = neuron
                .get(c)
                .or_else(|| extra.iter().find(|(k, _)| k == c).map(|(_, v)| v));
            let cell = match v {
                None => String::new(),
                Some(v) if raw || c == "neuron_name" => raw_value(v),
                Some(v) => clean_value(v),
            };
            out.write_field(for_table(&cell).as_bytes())
                .map_err(csv_err)?;
        }
        out.write_record(None::<&[u8]>).map_err(csv_err)?;
        self.rows += 1;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flush, sync and move the table onto its final name. Returns its path.
    pub fn finish(mut self) -> Result<PathBuf> {
        if let Some(sink) = self.out.take() {
            let file = sink.into_file().map_err(|e| Error::io(&self.path, e))?;
            file.commit().map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(self.path.clone())
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A key of `neuron` that the columns (the first record's keys) lack, if any. Records share
/// one key order: compare in step, and look further only on a mismatch.
fn new_key<'a>(neuron: &'a Neuron, columns: &[String]) -> Option<&'a String> {
    let keys = || neuron.fields().keys().filter(|k| *k != "_links");
    let same = keys().zip(columns.iter()).all(|(a, b)| a == b);
    if same && neuron.fields().len() <= columns.len() + 1 {
        return None;
    }
    keys().find(|k| !columns.contains(k))
}

/// JSON as serde_json writes it, but for the characters a terminal would obey that it
/// leaves raw (C1 controls, bidirectional overrides): those are written as `\uXXXX`, which
/// decode to the same value. serde_json already escapes the C0 controls.
struct SafeJson;

impl serde_json::ser::Formatter for SafeJson {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if crate::text::is_unsafe(c) {
                w.write_all(fragment.get(start..i).unwrap_or("").as_bytes())?;
                write!(w, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(fragment.get(start..).unwrap_or("").as_bytes())
    }
}

/// The key of a row: its `neuron_id`, or its `neuron_name` when it has none.
pub(crate) fn row_key(id: Option<&str>, name: Option<&str>) -> Option<String> {
    match (id.map(str::trim).filter(|s| !s.is_empty()), name) {
        (Some(id), _) => Some(format!("id:{id}")),
        (None, Some(n)) if !n.is_empty() => Some(format!("name:{n}")),
        _ => None,
    }
}

impl MetadataWriter {
    /// Before [`MetadataWriter::finish`]: copy into this table the rows of the table
    /// already at its final name whose key (see [`row_key`]) is not in `written`, so that
    /// a folder's table describes every neuron in it, whichever run brought it. Returns the
    /// rows kept (not counted in [`MetadataWriter::rows`]). Columns the old table has and
    /// this one lacks are not kept. The caller holds the folder lock.
    pub(crate) fn keep_rows_of_final(
        &mut self,
        written: &std::collections::HashSet<String>,
    ) -> Result<u64> {
        let text = match std::fs::read(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::io(&self.path, e)),
        };
        let path = self.path.clone();
        let csv_err = |e: csv::Error| Error::Csv {
            path: path.clone(),
            source: e,
        };
        let mut kept = 0;
        match self.out.as_mut() {
            None => {}
            Some(Sink::Lines(out)) => {
                for line in text.split(|&b| b == b'\n') {
                    let Ok(v) = serde_json::from_slice::<Value>(line) else {
                        continue;
                    };
                    let id = v.get("neuron_id").map(raw_value);
                    let name = v.get("neuron_name").and_then(|n| n.as_str());
                    match row_key(id.as_deref(), name) {
                        Some(k) if !written.contains(&k) => {
                            out.write_all(line).map_err(|e| Error::io(&path, e))?;
                            out.write_all(b"\n").map_err(|e| Error::io(&path, e))?;
                            kept += 1;
                        }
                        _ => {}
                    }
                }
            }
            Some(Sink::Csv(out)) => {
                let mut reader = csv::Reader::from_reader(text.as_slice());
                let old_header = reader.headers().map_err(csv_err)?.clone();
                let at = |name: &str| old_header.iter().position(|h| h == name);
                let (id_col, name_col) = (at("neuron_id"), at("neuron_name"));
                // Our columns, or the old table's when this run wrote no row.
                let columns: Vec<String> = match &self.columns {
                    Some(c) => c.clone(),
                    None => {
                        let c: Vec<String> = old_header.iter().map(str::to_string).collect();
                        out.write_record(&c).map_err(csv_err)?;
                        self.columns = Some(c.clone());
                        c
                    }
                };
                let map: Vec<Option<usize>> = columns.iter().map(|c| at(c)).collect();
                for row in reader.records() {
                    let Ok(row) = row else { continue };
                    let key = row_key(
                        id_col.and_then(|i| row.get(i)),
                        name_col.and_then(|i| row.get(i)),
                    );
                    if key.is_none_or(|k| written.contains(&k)) {
                        continue;
                    }
                    for m in &map {
                        out.write_field(m.and_then(|i| row.get(i)).unwrap_or(""))
                            .map_err(csv_err)?;
                    }
                    out.write_record(None::<&[u8]>).map_err(csv_err)?;
                    kept += 1;
                }
            }
        }
        Ok(kept)
    }
}
