//! Records as rows of the table (cleaned CSV, raw CSV or JSON lines), rendered into a
//! buffer. No file here: the writer renders the first page's rows itself, and the workers
//! that parse later pages render theirs while earlier ones are written.

use std::borrow::Cow;
use std::io::Write;

use serde::Serialize;
use serde_json::Value;

use std::sync::Arc;

use crate::archive::json_view::{entries_of_text, serialize_entries, Entries, Item, Val};
use crate::archive::{walk_page, Neuron, NeuronPage, SharedPage};
use crate::util::text::for_table;

use super::clean::{clean_into, raw_into};
use super::MetadataFormat;

/// The entries of a record's JSON text (none if it is not an object).
pub(crate) fn entries_of(neuron: &Neuron) -> Entries<'_> {
    entries_of_text(neuron.raw_json(), &|_| true).unwrap_or_default()
}

/// How rows are written, fixed by the first record: the format and the columns.
#[derive(Debug, Clone)]
pub(crate) struct RowFormat {
    format: MetadataFormat,
    /// CSV: the table's columns, the first record's keys then the extra columns. JSON
    /// lines: the first record's keys, to know a record with the same keys at once.
    columns: Vec<String>,
    /// How many of `columns` are the record's own.
    record_columns: usize,
}

impl RowFormat {
    /// The format of a table whose first record has `entries`: its keys (without `_links`,
    /// each once) in its order, then `extra_columns`.
    pub(crate) fn from_first(
        format: MetadataFormat,
        entries: &[(Cow<'_, str>, Val<'_>)],
        extra_columns: &[String],
    ) -> RowFormat {
        let mut columns: Vec<String> = Vec::with_capacity(entries.len() + extra_columns.len());
        for (k, _) in entries {
            let keep = format == MetadataFormat::Jsonl || k != "_links";
            if keep && !columns.iter().any(|c| c == k) {
                columns.push(k.to_string());
            }
        }
        let record_columns = columns.len();
        if format != MetadataFormat::Jsonl {
            columns.extend(extra_columns.iter().cloned());
        }
        RowFormat {
            format,
            columns,
            record_columns,
        }
    }

    /// Whether a row reads the value of `key`: a CSV table never writes `_links`.
    pub(crate) fn reads(&self, key: &str) -> bool {
        self.format == MetadataFormat::Jsonl || key != "_links"
    }

    /// The columns (CSV) or the first record's keys (JSON lines).
    pub(crate) fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The CSV header (nothing for JSON lines).
    pub(crate) fn header(&self, buf: &mut RowBuf) -> std::io::Result<()> {
        if self.format == MetadataFormat::Jsonl {
            return Ok(());
        }
        buf.row(self.columns.iter().map(|c| for_table(c).into_owned()));
        Ok(())
    }

    /// Append `neuron`'s row (its `entries`, with values for the extra columns) to `buf`.
    /// Returns a key of the record that the CSV columns lack, if any: that value is not
    /// written.
    pub(crate) fn render<'a>(
        &self,
        neuron: &Neuron,
        entries: Entries<'a>,
        extra: &'a [(String, Value)],
        buf: &mut RowBuf,
    ) -> std::io::Result<Option<String>> {
        match self.format {
            MetadataFormat::Jsonl => {
                self.line(neuron, entries, extra, buf)?;
                Ok(None)
            }
            _ => self.row(&entries, extra, buf),
        }
    }

    /// One JSON line: the record's entries as sent, the extra values replacing a key the
    /// record has or appended (as a map's insert does).
    fn line<'a>(
        &self,
        neuron: &Neuron,
        mut entries: Entries<'a>,
        extra: &'a [(String, Value)],
        buf: &mut RowBuf,
    ) -> std::io::Result<()> {
        let out = &mut buf.bytes;
        let mut json = serde_json::Serializer::with_formatter(&mut *out, SafeJson);
        if !same_keys(&entries, &self.columns, false) && has_duplicate_key(&entries) {
            // A key sent twice is written once, with its last value, as the map keeps it.
            let mut map = neuron.fields().clone();
            for (k, v) in extra {
                map.insert(k.clone(), v.clone());
            }
            map.serialize(&mut json)?;
        } else {
            for (k, v) in extra {
                match entries.iter_mut().find(|(key, _)| key == k) {
                    Some((_, slot)) => *slot = Val::of(v),
                    None => entries.push((Cow::Borrowed(k.as_str()), Val::of(v))),
                }
            }
            serialize_entries(&entries, &mut json)?;
        }
        out.write_all(b"\n")
    }

    /// One CSV row, cleaned or raw, in the table's columns.
    fn row(
        &self,
        entries: &[(Cow<'_, str>, Val<'_>)],
        extra: &[(String, Value)],
        buf: &mut RowBuf,
    ) -> std::io::Result<Option<String>> {
        let own = self.columns.get(..self.record_columns).unwrap_or(&[]);
        // Records share one key order: then the values are the columns in step.
        let in_step = same_keys(entries, own, true);
        let new_key = if in_step {
            None
        } else {
            entries
                .iter()
                .find(|(k, _)| k != "_links" && !own.iter().any(|c| c == k))
                .map(|(k, _)| k.to_string())
        };
        let raw = self.format == MetadataFormat::RawCsv;
        let mut values = entries.iter().filter(|(k, _)| k != "_links");
        for (i, c) in self.columns.iter().enumerate() {
            let own_value = if in_step && i < own.len() {
                values.next().map(|(_, v)| v)
            } else {
                // The last value of a key sent twice, as a map keeps it.
                entries.iter().rev().find(|(k, _)| k == c).map(|(_, v)| v)
            };
            let extra_value;
            let v = match own_value {
                Some(v) => Some(v),
                None => match extra.iter().find(|(k, _)| k == c) {
                    Some((_, v)) => {
                        extra_value = Val::of(v);
                        Some(&extra_value)
                    }
                    None => None,
                },
            };
            if let Some(v) = v {
                if buf.repeat_field(i, v) {
                    continue;
                }
            }
            buf.cell.clear();
            match v {
                None => {}
                Some(v) if raw || c == "neuron_name" => raw_into(v, &mut buf.cell),
                Some(v) => clean_into(v, &mut buf.cell, &mut buf.scratch),
            }
            let cell = std::mem::take(&mut buf.cell);
            let start = buf.text_field(&cell);
            buf.cell = cell;
            if let Some(v) = v {
                buf.remember_field(i, v, start);
            }
        }
        buf.end_row();
        Ok(new_key)
    }
}

/// Rows rendered into bytes, with the buffers every cell reuses. CSV is written as the
/// `csv` crate's writer writes it with its defaults: `,` between fields, `\n` after a row,
/// a field in double quotes (its own doubled) only when it holds `,`, `"`, `\r` or `\n`.
#[derive(Default)]
pub(crate) struct RowBuf {
    bytes: Vec<u8>,
    fields: usize,
    cell: String,
    scratch: String,
    /// Per column: the last value (its signature) and the field written for it. Records
    /// that follow each other share most values (an archive's neurons: species, region,
    /// protocol...): such a field is copied, not cleaned again.
    last: Vec<(Vec<u8>, Vec<u8>)>,
}

impl RowBuf {
    /// The rows rendered since the last [`RowBuf::clear`].
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.fields = 0;
    }

    /// Append one CSV field; returns where it starts in the bytes.
    pub(crate) fn field(&mut self, input: &[u8]) -> usize {
        let quote = input
            .iter()
            .any(|&b| b == b',' || b == b'"' || b == b'\r' || b == b'\n');
        self.put_field(input, quote)
    }

    /// Append a cell's text as a field, what a terminal would obey written out as text
    /// (see `for_table`): one look at each byte decides both that and the quotes. Returns
    /// where the field starts in the bytes.
    pub(crate) fn text_field(&mut self, text: &str) -> usize {
        let mut quote = false;
        for &b in text.as_bytes() {
            match b {
                b',' | b'"' | b'\n' => quote = true,
                b'\t' | 0x20..=0x7e => {}
                // A control character or beyond ASCII: the careful way.
                _ => return self.field(for_table(text).as_bytes()),
            }
        }
        self.put_field(text.as_bytes(), quote)
    }

    /// If column `i` had the value `v` in the last row, write its field again.
    fn repeat_field(&mut self, i: usize, v: &Val<'_>) -> bool {
        let Some((signature, field)) = self.last.get(i) else {
            return false;
        };
        if signature.is_empty() || !same_signature(signature, v) {
            return false;
        }
        if self.fields > 0 {
            self.bytes.push(b',');
        }
        self.fields += 1;
        self.bytes.extend_from_slice(field);
        true
    }

    /// Keep the field of column `i`, written from `start` for the value `v`.
    fn remember_field(&mut self, i: usize, v: &Val<'_>, start: usize) {
        if self.last.len() <= i {
            self.last.resize_with(i + 1, Default::default);
        }
        if let Some((signature, field)) = self.last.get_mut(i) {
            signature.clear();
            field.clear();
            if write_signature(v, signature) {
                field.extend_from_slice(self.bytes.get(start..).unwrap_or(&[]));
            } else {
                signature.clear();
            }
        }
    }

    fn put_field(&mut self, input: &[u8], quote: bool) -> usize {
        if self.fields > 0 {
            self.bytes.push(b',');
        }
        self.fields += 1;
        let start = self.bytes.len();
        if !quote {
            self.bytes.extend_from_slice(input);
            return start;
        }
        self.bytes.push(b'"');
        for part in input.split_inclusive(|&b| b == b'"') {
            self.bytes.extend_from_slice(part);
            if part.last() == Some(&b'"') {
                self.bytes.push(b'"');
            }
        }
        self.bytes.push(b'"');
        start
    }

    /// End the row.
    pub(crate) fn end_row(&mut self) {
        self.bytes.push(b'\n');
        self.fields = 0;
    }

    /// A whole row of fields.
    pub(crate) fn row<I: IntoIterator<Item = T>, T: AsRef<[u8]>>(&mut self, fields: I) {
        for f in fields {
            self.field(f.as_ref());
        }
        self.end_row();
    }
}

/// A value's signature, for the values worth remembering: a string (`s`, its length, its
/// bytes) or a list of strings (`a`, the count, each as a string). False for others.
fn write_signature(v: &Val<'_>, out: &mut Vec<u8>) -> bool {
    let text = |s: &str, out: &mut Vec<u8>| {
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    };
    match v {
        Val::Str(s) => {
            out.push(b's');
            text(s, out);
            true
        }
        Val::Arr(items) if items.iter().all(|x| matches!(x, Val::Str(_))) => {
            out.push(b'a');
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for x in items {
                if let Val::Str(s) = x {
                    text(s, out);
                }
            }
            true
        }
        _ => false,
    }
}

/// Whether `v` has the signature `signature` (compared as it is read, nothing built).
fn same_signature(signature: &[u8], v: &Val<'_>) -> bool {
    fn take<'s>(sig: &mut &'s [u8], n: usize) -> Option<&'s [u8]> {
        let (head, rest) = (sig.get(..n)?, sig.get(n..)?);
        *sig = rest;
        Some(head)
    }
    fn text(sig: &mut &[u8], s: &str) -> bool {
        let len = take(sig, 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes);
        len == Some(s.len() as u64) && take(sig, s.len()) == Some(s.as_bytes())
    }
    let mut sig = signature;
    let same = match v {
        Val::Str(s) => take(&mut sig, 1) == Some(b"s") && text(&mut sig, s),
        Val::Arr(items) => {
            take(&mut sig, 1) == Some(b"a")
                && take(&mut sig, 8)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_le_bytes)
                    == Some(items.len() as u64)
                && items
                    .iter()
                    .all(|x| matches!(x, Val::Str(s) if text(&mut sig, s)))
        }
        _ => false,
    };
    same && sig.is_empty()
}

/// Read a page in one pass into its records and the rows, in `format`, of the records `take`
/// keeps: what a search's worker does with a page once the table's columns are known, so
/// that the writer's thread only writes rows in order. Values under keys the format does not
/// read are skipped unread.
pub(crate) fn parse_with_rows(
    shared: &Arc<SharedPage>,
    format: &RowFormat,
    take: &dyn Fn(&Neuron) -> bool,
) -> serde_json::Result<(NeuronPage, PreparedRows)> {
    let mut rows = PreparedRows::default();
    let mut page = NeuronPage::default();
    let keep = |k: &str| k == "neuron_id" || format.reads(k);
    let (info, entries) = walk_page(shared.text(), &keep, &mut |i, entry| match entry {
        Item::Object(fields) => {
            let n = Neuron::from_entry(shared, i, &fields);
            if take(&n) {
                rows.add(format, i, &n, fields);
            }
            page.records.push((i, n));
        }
        Item::Other(v) => page
            .skipped
            .push((i, serde_json::to_value(&v).unwrap_or(Value::Null))),
    })?;
    page.info = info;
    page.entries = entries;
    Ok((page, rows))
}

/// The rows of a page rendered away from the writer (by the worker that parsed the page),
/// found by each record's position in the page.
#[derive(Default)]
pub(crate) struct PreparedRows {
    buf: RowBuf,
    /// (position in the page, end of its row in the bytes), in order.
    ends: Vec<(usize, usize)>,
    /// The first key a record had that the columns lack: (record's position, name, key).
    pub(crate) new_key: Option<(usize, String, String)>,
    /// Rendering failed: the writer renders the page itself.
    pub(crate) failed: bool,
}

impl PreparedRows {
    /// Render the row of the record at `position`.
    pub(crate) fn add<'a>(
        &mut self,
        format: &RowFormat,
        position: usize,
        neuron: &Neuron,
        entries: Entries<'a>,
    ) {
        if self.failed {
            return;
        }
        let rendered = format
            .render(neuron, entries, &[], &mut self.buf)
            .map(|new_key| (new_key, self.buf.bytes().len()));
        match rendered {
            Ok((new_key, end)) => {
                if self.new_key.is_none() {
                    self.new_key = new_key.map(|k| (position, neuron.neuron_name().to_string(), k));
                }
                self.ends.push((position, end));
            }
            Err(_) => self.failed = true,
        }
    }

    /// The row of the record at `position`, if it was rendered.
    pub(crate) fn row(&self, position: usize) -> Option<&[u8]> {
        if self.failed {
            return None;
        }
        let at = self
            .ends
            .binary_search_by_key(&position, |&(p, _)| p)
            .ok()?;
        let start = match at.checked_sub(1) {
            Some(before) => self.ends.get(before)?.1,
            None => 0,
        };
        let end = self.ends.get(at)?.1;
        self.buf.bytes().get(start..end)
    }
}

/// Whether a record's keys (without `_links`, unless `skip_links` is false) are exactly
/// `columns`, in order.
fn same_keys(entries: &[(Cow<'_, str>, Val<'_>)], columns: &[String], skip_links: bool) -> bool {
    let mut keys = entries
        .iter()
        .map(|(k, _)| k)
        .filter(|k| !skip_links || *k != "_links");
    columns.iter().all(|c| keys.next().is_some_and(|k| k == c)) && keys.next().is_none()
}

/// Whether a key appears twice among a record's entries.
fn has_duplicate_key(entries: &[(Cow<'_, str>, Val<'_>)]) -> bool {
    entries
        .iter()
        .enumerate()
        .any(|(i, (k, _))| entries.iter().skip(i + 1).any(|(other, _)| other == k))
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
        // Most text is ASCII, which holds none of them.
        if fragment.is_ascii() {
            return w.write_all(fragment.as_bytes());
        }
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if crate::util::text::is_unsafe(c) {
                w.write_all(fragment.get(start..i).unwrap_or("").as_bytes())?;
                write!(w, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(fragment.get(start..).unwrap_or("").as_bytes())
    }
}
