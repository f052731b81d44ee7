//! Writing the metadata table page by page into an atomic file: the table appears under its
//! name only when complete.

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::archive::Neuron;
use crate::error::{Error, Result};
use crate::store::atomic_file::AtomicFile;
use crate::util::id_set::IdSet;

use super::rows::{entries_of, PreparedRows, RowBuf, RowFormat};
use super::{raw_value, MetadataFormat};

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
    out: Option<BufWriter<AtomicFile>>,
    /// Fixed by the first record.
    rows_format: Option<RowFormat>,
    extra_columns: Vec<String>,
    rows: u64,
    warned_new_key: bool,
    buf: RowBuf,
}

const BUFFER: usize = 256 * 1024;

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
            out: Some(BufWriter::with_capacity(BUFFER, file)),
            rows_format: None,
            extra_columns: Vec::new(),
            rows: 0,
            warned_new_key: false,
            buf: RowBuf::default(),
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
        if let Some(out) = self.out.take() {
            let mut file = out
                .into_inner()
                .map_err(|e| Error::io(&self.path, e.into_error()))?;
            file.truncate()
                .map_err(|e| Error::io(file.temp_path(), e))?;
            self.out = Some(BufWriter::with_capacity(BUFFER, file));
        }
        self.rows_format = None;
        self.rows = 0;
        // The columns may differ now: nothing of the old rows is kept.
        self.buf = RowBuf::default();
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
        if self.out.is_none() {
            return Ok(());
        }
        let path = &self.path;
        let io = |e: std::io::Error| Error::io(path, e);
        // The record's text, read once into a view that borrows its strings.
        let entries = entries_of(neuron);
        let format = match &self.rows_format {
            Some(f) => f,
            None => {
                let f = RowFormat::from_first(self.format, &entries, &self.extra_columns);
                f.header(&mut self.buf).map_err(io)?;
                self.rows_format.insert(f)
            }
        };
        let new_key = format
            .render(neuron, entries, extra, &mut self.buf)
            .map_err(io)?;
        self.warn_new_key(neuron.neuron_name(), new_key.as_deref());
        self.flush_rows()?;
        self.rows += 1;
        Ok(())
    }

    /// The format in which the rows of later pages can be rendered away from the writer
    /// (see [`PreparedRows`]): known once a record is written, and only without extra
    /// columns (their values come with each page, on the writer's thread).
    pub(crate) fn row_format(&self) -> Option<RowFormat> {
        match &self.rows_format {
            Some(f) if self.extra_columns.is_empty() => Some(f.clone()),
            _ => None,
        }
    }

    /// Append the row of the record at `position` of a page whose rows were rendered away
    /// from the writer in [`MetadataWriter::row_format`]; false when that row is missing
    /// (then [`MetadataWriter::write_with_extra`] writes it).
    pub(crate) fn write_prepared(&mut self, rows: &PreparedRows, position: usize) -> Result<bool> {
        let Some(row) = rows.row(position) else {
            return Ok(false);
        };
        if let Some((at, name, key)) = &rows.new_key {
            if *at == position {
                self.warn_new_key(name, Some(key));
            }
        }
        if let Some(out) = self.out.as_mut() {
            out.write_all(row).map_err(|e| Error::io(&self.path, e))?;
            self.rows += 1;
        }
        Ok(true)
    }

    fn warn_new_key(&mut self, name: &str, key: Option<&str>) {
        if let (Some(k), false) = (key, self.warned_new_key) {
            log::warn!(
                "record {} has a key '{}' the first record lacked; that column is not written",
                crate::util::text::escape(name),
                crate::util::text::escape(k)
            );
            self.warned_new_key = true;
        }
    }

    /// Move the rendered rows to the file's buffer.
    fn flush_rows(&mut self) -> Result<()> {
        let path = &self.path;
        let io = |e: std::io::Error| Error::io(path, e);
        if let Some(out) = self.out.as_mut() {
            out.write_all(self.buf.bytes()).map_err(io)?;
        }
        self.buf.clear();
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flush, sync and move the table onto its final name. Returns its path.
    pub fn finish(mut self) -> Result<PathBuf> {
        self.flush_rows()?;
        if let Some(out) = self.out.take() {
            let file = out
                .into_inner()
                .map_err(|e| Error::io(&self.path, e.into_error()))?;
            file.commit().map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(self.path.clone())
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The rows a run writes, by key (see [`row_key`]), so that rows of other runs are kept.
#[derive(Debug, Default)]
pub(crate) struct WrittenRows {
    ids: IdSet,
    /// Rows without a `neuron_id`, by name.
    names: HashSet<String>,
}

impl WrittenRows {
    /// Note the row of a record with a `neuron_id`.
    pub(crate) fn insert_id(&mut self, id: u64) {
        self.ids.insert(id);
    }

    /// Whether the record with this `neuron_id` has a row.
    pub(crate) fn has_id(&self, id: u64) -> bool {
        self.ids.contains(id)
    }

    /// Note the row of a record without a `neuron_id`.
    pub(crate) fn insert_name(&mut self, name: &str) {
        if !name.is_empty() {
            self.names.insert(name.to_string());
        }
    }

    /// Whether a row of an older table (its `neuron_id` and `neuron_name` cells) is one of
    /// ours: the same id (as a number), or without an id the same name. A row with neither
    /// counts as ours (it is not kept).
    pub(crate) fn contains(&self, id: Option<&str>, name: Option<&str>) -> bool {
        match (id.map(str::trim).filter(|s| !s.is_empty()), name) {
            (Some(id), _) => id.parse().is_ok_and(|id| self.ids.contains(id)),
            (None, Some(n)) if !n.is_empty() => self.names.contains(n),
            _ => true,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.ids.clear();
        self.names.clear();
    }
}

impl MetadataWriter {
    /// Before [`MetadataWriter::finish`]: copy into this table the rows of the table
    /// already at its final name that are not in `written`, so that a folder's table
    /// describes every neuron in it, whichever run brought it. Returns the rows kept (not
    /// counted in [`MetadataWriter::rows`]). Columns the old table has and this one lacks
    /// are not kept. The caller holds the folder lock.
    pub(crate) fn keep_rows_of_final(&mut self, written: &WrittenRows) -> Result<u64> {
        // A file of the folder: a FIFO or a link there is an error, never a wait. Streamed:
        // the table of a whole archive is hundreds of megabytes.
        let file = match crate::store::safe_fs::open_regular(&self.path) {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(0),
            Err(e) => return Err(Error::io(&self.path, e)),
        };
        let mut text = std::io::BufReader::with_capacity(256 * 1024, file);
        self.flush_rows()?;
        let path = self.path.clone();
        let io = |e: std::io::Error| Error::io(&path, e);
        let csv_err = |e: csv::Error| Error::Csv {
            path: path.clone(),
            source: e,
        };
        let mut kept = 0;
        if self.out.is_none() {
            return Ok(0);
        }
        if self.format == MetadataFormat::Jsonl {
            let mut buf = Vec::with_capacity(4096);
            loop {
                buf.clear();
                if std::io::BufRead::read_until(&mut text, b'\n', &mut buf).map_err(io)? == 0 {
                    break;
                }
                let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
                let Ok(v) = serde_json::from_slice::<Value>(line) else {
                    continue;
                };
                let id = v.get("neuron_id").map(raw_value);
                let name = v.get("neuron_name").and_then(|n| n.as_str());
                if written.contains(id.as_deref(), name) {
                    continue;
                }
                if let Some(out) = self.out.as_mut() {
                    out.write_all(line).map_err(io)?;
                    out.write_all(b"\n").map_err(io)?;
                }
                kept += 1;
            }
            return Ok(kept);
        }
        let mut reader = csv::Reader::from_reader(text);
        let old_header = reader.headers().map_err(csv_err)?.clone();
        let at = |name: &str| old_header.iter().position(|h| h == name);
        let (id_col, name_col) = (at("neuron_id"), at("neuron_name"));
        // Our columns, or the old table's when this run wrote no row.
        let columns: Vec<String> = match &self.rows_format {
            Some(f) => f.columns().to_vec(),
            None => {
                let c: Vec<String> = old_header.iter().map(str::to_string).collect();
                self.buf.row(&c);
                c
            }
        };
        let map: Vec<Option<usize>> = columns.iter().map(|c| at(c)).collect();
        let mut row = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut row) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) if e.is_io_error() => return Err(csv_err(e)),
                // A row torn by an edit is left out.
                Err(_) => continue,
            }
            let id = id_col.and_then(|i| row.get(i));
            let name = name_col.and_then(|i| row.get(i));
            if written.contains(id, name) {
                continue;
            }
            self.buf
                .row(map.iter().map(|m| m.and_then(|i| row.get(i)).unwrap_or("")));
            kept += 1;
            if kept % 512 == 0 {
                self.flush_rows()?;
            }
        }
        self.flush_rows()?;
        Ok(kept)
    }
}
