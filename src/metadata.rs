//! The metadata table: neuromorphopy-compatible cleaned CSV, a lossless raw CSV, or JSON lines,
//! written page by page and renamed into place only when complete.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::Neuron;

/// How the metadata file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetadataFormat {
    /// neuromorphopy's `metadata.csv`: every column but `neuron_name` cleaned (see [`clean_value`]).
    #[default]
    Csv,
    /// The server's values untouched; lists joined with `|`.
    RawCsv,
    /// One JSON object per line, each record exactly as the server sent it.
    Jsonl,
}

impl std::str::FromStr for MetadataFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "csv" => Ok(MetadataFormat::Csv),
            "raw-csv" => Ok(MetadataFormat::RawCsv),
            "jsonl" => Ok(MetadataFormat::Jsonl),
            other => Err(format!(
                "unknown metadata format '{other}' (expected csv, raw-csv or jsonl)"
            )),
        }
    }
}

/// Writes the metadata file one page at a time.
///
/// Rows go to a temporary file beside the target; [`MetadataWriter::finish`] renames it onto
/// the final name, so an interrupted run never leaves a half-written table under that name.
/// Columns are the first record's keys in the server's order (without `_links`), plus any
/// `extra_columns`; a key that appears only in later records is dropped with a warning.
pub struct MetadataWriter {
    format: MetadataFormat,
    path: PathBuf,
    temp: PathBuf,
    out: Option<Sink>,
    columns: Option<Vec<String>>,
    extra_columns: Vec<String>,
    rows: u64,
    warned_new_key: bool,
}

/// Where rows go: the `csv` crate's quoting (RFC 4180, like pandas' `to_csv`) or JSON lines.
enum Sink {
    Csv(Box<csv::Writer<File>>),
    Lines(BufWriter<File>),
}

impl Sink {
    fn open(temp: &Path, format: MetadataFormat) -> Result<Sink> {
        let file = File::create(temp).map_err(|e| Error::io(temp, e))?;
        Ok(match format {
            MetadataFormat::Jsonl => Sink::Lines(BufWriter::with_capacity(256 * 1024, file)),
            _ => Sink::Csv(Box::new(
                csv::WriterBuilder::new()
                    .buffer_capacity(256 * 1024)
                    .from_writer(file),
            )),
        })
    }
}

impl MetadataWriter {
    /// Start writing `path` (its folder is created).
    pub fn create(path: impl Into<PathBuf>, format: MetadataFormat) -> Result<MetadataWriter> {
        let path = path.into();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let temp = crate::download::temp_path(&path);
        let out = Sink::open(&temp, format)?;
        Ok(MetadataWriter {
            format,
            path,
            temp,
            out: Some(out),
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
        self.out = Some(Sink::open(&self.temp, self.format)?);
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
        let temp = &self.temp;
        let csv_err = |e: csv::Error| Error::Csv {
            path: temp.clone(),
            source: e,
        };
        let out = match self.out.as_mut() {
            None => return Ok(()),
            Some(Sink::Lines(out)) => {
                let io = |e: std::io::Error| Error::io(temp, e);
                let mut map = neuron.fields().clone();
                for (k, v) in extra {
                    map.insert(k.clone(), v.clone());
                }
                serde_json::to_writer(&mut *out, &map).map_err(|e| io(e.into()))?;
                out.write_all(b"\n").map_err(io)?;
                self.rows += 1;
                return Ok(());
            }
            Some(Sink::Csv(out)) => out,
        };
        if self.columns.is_none() {
            let mut cols: Vec<String> = neuron
                .fields()
                .keys()
                .filter(|k| *k != "_links")
                .cloned()
                .collect();
            cols.extend(self.extra_columns.iter().cloned());
            out.write_record(&cols).map_err(csv_err)?;
            self.columns = Some(cols);
        }
        let columns = self.columns.as_ref().expect("set above");
        if !self.warned_new_key {
            // Records share one key order: compare in step, and look further only on a mismatch.
            let same = neuron
                .fields()
                .keys()
                .filter(|k| *k != "_links")
                .zip(columns.iter())
                .all(|(a, b)| a == b);
            let new_key = if same && neuron.fields().len() <= columns.len() + 1 {
                None
            } else {
                neuron
                    .fields()
                    .keys()
                    .find(|k| *k != "_links" && !columns.contains(k))
            };
            if let Some(k) = new_key {
                log::warn!(
                    "record {} has a key '{k}' the first record lacked; that column is not written",
                    neuron.neuron_name
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
            out.write_field(cell).map_err(csv_err)?;
        }
        out.write_record(None::<&[u8]>).map_err(csv_err)?;
        self.rows += 1;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flush and move the table onto its final name. Returns its path.
    pub fn finish(mut self) -> Result<PathBuf> {
        let io = |e: std::io::Error| Error::io(&self.temp, e);
        match self.out.take() {
            None => {}
            Some(Sink::Csv(w)) => {
                w.into_inner().map_err(|e| io(e.into_error()))?;
            }
            Some(Sink::Lines(w)) => {
                w.into_inner().map_err(|e| io(e.into_error()))?;
            }
        }
        std::fs::rename(&self.temp, &self.path).map_err(|e| Error::io(&self.path, e))?;
        Ok(self.path.clone())
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for MetadataWriter {
    fn drop(&mut self) {
        // Not finished: an error or a cancelled search. Leave nothing half-written.
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// A value as the server sent it: strings as they are, lists joined with `|`, null empty.
pub fn raw_value(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(raw_value).collect::<Vec<_>>().join("|"),
        other => other.to_string(),
    }
}

/// Clean a value the way neuromorphopy 0.3.3 cleans its `metadata.csv` columns.
///
/// A null is empty. Anything else is written as Python's `str()` would (a list as
/// `['a', 'b']`), then `[`/`]` are stripped from both ends, every `'` is removed, every
/// lower-case `layer ` is removed, every `,` or space standing between two word characters
/// becomes `_`, and the result is lower-cased.
///
/// ```
/// use neuromorpho::metadata::clean_value;
/// use serde_json::json;
/// assert_eq!(clean_value(&json!(["neocortex", "prefrontal", "layer 3"])), "neocortex, prefrontal, 3");
/// assert_eq!(clean_value(&json!("Dendrites, Soma, No Axon")), "dendrites, soma, no_axon");
/// assert_eq!(clean_value(&json!(null)), "");
/// ```
pub fn clean_value(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => clean_text(s),
        other => clean_text(&python_repr(other)),
    }
}

/// The text steps of [`clean_value`], in one pass after the two removals.
fn clean_text(s: &str) -> String {
    let s = s.trim_matches(|c| c == '[' || c == ']');
    let s: std::borrow::Cow<str> = if s.contains('\'') {
        s.replace('\'', "").into()
    } else {
        s.into()
    };
    let s: std::borrow::Cow<str> = if s.contains("layer ") {
        s.replace("layer ", "").into()
    } else {
        s
    };
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::with_capacity(s.len());
    let mut prev: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        // Neighbours are judged on the text before replacement, as a regex substitution does.
        let between_words = (c == ',' || c == ' ')
            && prev.is_some_and(word)
            && chars.peek().is_some_and(|&n| word(n));
        if between_words {
            out.push('_');
        } else if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
        prev = Some(c);
    }
    out
}

fn python_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e16 => format!("{f:.1}"),
            (_, _, Some(f)) => f.to_string(),
            _ => n.to_string(),
        },
        Value::String(s) => python_str_repr(s),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", python_str_repr(k), python_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Python's `repr()` of a string: single quotes unless it holds a `'` and no `"`.
fn python_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cleaning_matches_neuromorphopy() {
        let cases = [
            (
                json!(["neocortex", "prefrontal", "layer 3"]),
                "neocortex, prefrontal, 3",
            ),
            (
                json!(["Local projecting", "pyramidal", "principal cell"]),
                "local_projecting, pyramidal, principal_cell",
            ),
            (json!(["Layer 3", "a b"]), "layer_3, a_b"),
            (
                json!("Dendrites, Soma, No Axon"),
                "dendrites, soma, no_axon",
            ),
            (
                json!("green fluorescent protein (GFP)"),
                "green_fluorescent_protein (gfp)",
            ),
            (json!(null), ""),
            (json!(1), "1"),
            (json!(["O'Brien"]), "\"obrien\""),
            (json!(["12204204", "12902394"]), "12204204, 12902394"),
            (json!("Male/Female"), "male/female"),
            (json!("a b c,d"), "a_b_c_d"),
            (json!("Ångström Cell"), "ångström_cell"),
            (json!([1, null, 2.0]), "1, none, 2.0"),
        ];
        for (input, want) in cases {
            assert_eq!(clean_value(&input), want, "input {input}");
        }
    }

    #[test]
    fn python_repr_of_strings() {
        assert_eq!(python_str_repr("a'b"), "\"a'b\"");
        assert_eq!(python_str_repr("a'b\""), "'a\\'b\"'");
        assert_eq!(python_str_repr("x\ny"), "'x\\ny'");
    }

    #[test]
    fn raw_values_join_lists() {
        assert_eq!(raw_value(&json!(["a, b", "c"])), "a, b|c");
        assert_eq!(raw_value(&json!(null)), "");
        assert_eq!(raw_value(&json!(7)), "7");
    }
}
