//! `pvec.csv`: the persistence vectors of a folder's neurons, one row per neuron
//! (`neuron_id, neuron_name, distance, scaling_factor, coeff00 .. coeff99`), written into an
//! atomic file and merged with the table of earlier runs as the metadata table is.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::api::pvec::{PersistenceVector, PVEC_COEFFICIENTS};
use crate::error::{Error, Result};
use crate::store::atomic_file::AtomicFile;
use crate::util::id_set::IdSet;
use crate::util::text::for_table;

/// The table's name in an output folder, without its extension (shards:
/// `pvec.shard-K-of-N.csv`).
pub const PVEC_TABLE: &str = "pvec";

/// The columns of `pvec.csv`, in order.
pub fn pvec_columns() -> Vec<String> {
    let mut c: Vec<String> = ["neuron_id", "neuron_name", "distance", "scaling_factor"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    c.extend((0..PVEC_COEFFICIENTS).map(|k| format!("coeff{k:02}")));
    c
}

const BUFFER: usize = 256 * 1024;

/// Writes `pvec.csv`.
///
/// Rows go to a temporary file beside the target, renamed onto the final name by
/// [`PvecWriter::finish`] (dropped unfinished, nothing changes at the final name). Numbers
/// are written in Rust's shortest form that reads back as the same `f64` (`0.1`, not
/// `0.1000000000000000055511151231257827`; never an exponent), so that a program reading
/// the table gets the server's values bit for bit. A neuron written twice keeps its first
/// row.
///
/// ```no_run
/// use neuromorpho::tables::PvecWriter;
/// let client = neuromorpho::Client::new()?;
/// let batch = client.persistence_vectors(&[1, 2])?;
/// let mut table = PvecWriter::create("out/pvec.csv")?;
/// for v in &batch.vectors {
///     table.write(&format!("neuron {}", v.neuron_id), v)?;
/// }
/// table.keep_rows_of_final()?; // rows of an earlier run, for neurons not written now
/// table.finish()?;
/// # Ok::<(), neuromorpho::Error>(())
/// ```
pub struct PvecWriter {
    path: PathBuf,
    out: Option<BufWriter<AtomicFile>>,
    written: IdSet,
    rows: u64,
    line: String,
}

impl std::fmt::Debug for PvecWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PvecWriter")
            .field("path", &self.path)
            .field("rows", &self.rows)
            .finish()
    }
}

/// Append one CSV field to `line` as the `csv` crate writes it: quoted (its quotes doubled)
/// only when it holds `,`, `"`, `\r` or `\n`; control characters written out as text.
fn push_field(line: &mut String, text: &str) {
    if !line.is_empty() {
        line.push(',');
    }
    let text = for_table(text);
    if text.contains([',', '"', '\r', '\n']) {
        line.push('"');
        line.push_str(&text.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(&text);
    }
}

impl PvecWriter {
    /// Start writing `path` (its folder is created): the header now, rows as they come.
    pub fn create(path: impl Into<PathBuf>) -> Result<PvecWriter> {
        let path = path.into();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let file = AtomicFile::create(&path, true).map_err(|e| Error::io(&path, e))?;
        let mut w = PvecWriter {
            path,
            out: Some(BufWriter::with_capacity(BUFFER, file)),
            written: IdSet::new(),
            rows: 0,
            line: String::with_capacity(4096),
        };
        w.header()?;
        Ok(w)
    }

    fn header(&mut self) -> Result<()> {
        self.line.clear();
        for c in pvec_columns() {
            push_field(&mut self.line, &c);
        }
        self.line.push('\n');
        self.flush_line()
    }

    fn flush_line(&mut self) -> Result<()> {
        if let Some(out) = self.out.as_mut() {
            out.write_all(self.line.as_bytes())
                .map_err(|e| Error::io(&self.path, e))?;
        }
        self.line.clear();
        Ok(())
    }

    /// Append the row of a neuron (its name from its record: a vector carries none). A
    /// neuron already written is not written again (false).
    pub fn write(&mut self, neuron_name: &str, v: &PersistenceVector) -> Result<bool> {
        if !self.written.insert(v.neuron_id) {
            return Ok(false);
        }
        use std::fmt::Write as _;
        self.line.clear();
        let _ = write!(self.line, "{}", v.neuron_id);
        push_field(&mut self.line, neuron_name);
        let coefficients = v.coefficients.iter().take(PVEC_COEFFICIENTS);
        for x in [v.distance, v.scaling_factor].iter().chain(coefficients) {
            let _ = write!(self.line, ",{x}");
        }
        // A vector of another length (built in code) still fills every column, no more.
        for _ in v.coefficients.len()..PVEC_COEFFICIENTS {
            self.line.push(',');
        }
        self.line.push('\n');
        self.flush_line()?;
        self.rows += 1;
        Ok(true)
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
        self.written.clear();
        self.rows = 0;
        self.header()
    }

    /// Rows written by this writer (not the rows kept of an earlier table).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Whether this writer wrote the row of a neuron.
    pub fn has(&self, neuron_id: u64) -> bool {
        self.written.contains(neuron_id)
    }

    /// Before [`PvecWriter::finish`]: copy into this table the rows of the table already at
    /// its final name whose `neuron_id` this writer has not written — the same rule as the
    /// metadata table's: rows are keyed by `neuron_id`, this run's rows win. Columns are
    /// matched by name (a cell the old table lacks stays empty); a row without a readable
    /// `neuron_id`, or a second row of one id, is dropped. Returns the rows kept. The caller
    /// holds the folder lock.
    pub fn keep_rows_of_final(&mut self) -> Result<u64> {
        // A file of the folder: a FIFO or a link there is an error, never a wait.
        // Streamed: a whole archive's vectors are hundreds of megabytes.
        let file = match crate::store::safe_fs::open_regular(&self.path) {
            Ok(Some(f)) => std::io::BufReader::with_capacity(256 * 1024, f),
            Ok(None) => return Ok(0),
            Err(e) => return Err(Error::io(&self.path, e)),
        };
        let table = self.path.clone();
        let csv_err = move |e: csv::Error| Error::Csv {
            path: table.clone(),
            source: e,
        };
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(file);
        let header = reader.headers().map_err(&csv_err)?.clone();
        let columns = pvec_columns();
        let map: Vec<Option<usize>> = columns
            .iter()
            .map(|c| header.iter().position(|h| h.trim() == c))
            .collect();
        let Some(Some(id_col)) = map.first().copied() else {
            log::warn!(
                "{}: no neuron_id column; its rows are not kept",
                self.path.display()
            );
            return Ok(0);
        };
        let mut seen = IdSet::new();
        let (mut kept, mut dropped) = (0u64, 0u64);
        let mut row = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut row) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) if e.is_io_error() => return Err(csv_err(e)),
                Err(_) => {
                    dropped += 1;
                    continue;
                }
            }
            let Some(id) = row.get(id_col).and_then(|s| s.trim().parse::<u64>().ok()) else {
                dropped += 1;
                continue;
            };
            if self.written.contains(id) || !seen.insert(id) {
                continue;
            }
            self.line.clear();
            for m in &map {
                let cell = m.and_then(|i| row.get(i)).unwrap_or("");
                if self.line.is_empty() {
                    self.line.push_str(&id.to_string());
                } else {
                    push_field(&mut self.line, cell);
                }
            }
            self.line.push('\n');
            self.flush_line()?;
            kept += 1;
        }
        if dropped > 0 {
            log::warn!(
                "{}: {dropped} row(s) of the earlier table without a readable neuron_id, not kept",
                self.path.display()
            );
        }
        Ok(kept)
    }

    /// Flush, sync and move the table onto its final name. Returns its path.
    pub fn finish(mut self) -> Result<PathBuf> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("nm-pvec-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn vector(id: u64, base: f64) -> PersistenceVector {
        PersistenceVector {
            neuron_id: id,
            distance: base * 3.0,
            scaling_factor: 1.0 / base,
            coefficients: (0..100).map(|k| base / (k as f64 + 7.0)).collect(),
        }
    }

    fn read(path: &Path) -> Vec<Vec<String>> {
        let mut r = csv::Reader::from_path(path).unwrap();
        let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(header, pvec_columns());
        r.records()
            .map(|row| row.unwrap().iter().map(String::from).collect())
            .collect()
    }

    #[test]
    fn numbers_read_back_exactly_and_names_are_safe_cells() {
        let d = temp_dir("exact");
        let path = d.join("pvec.csv");
        let mut w = PvecWriter::create(&path).unwrap();
        let awkward = PersistenceVector {
            coefficients: [0.1, 1e-17, 1e300, -2.5e-8, f64::MIN_POSITIVE, 1.0 / 3.0]
                .into_iter()
                .cycle()
                .take(100)
                .collect(),
            ..vector(3, 0.7)
        };
        assert!(w.write("a,\"b\"\u{1b}[2J", &awkward).unwrap());
        assert!(
            !w.write("again", &vector(3, 9.0)).unwrap(),
            "first row kept"
        );
        assert!(!path.exists(), "nothing at the final name before finish");
        w.finish().unwrap();
        let rows = read(&path);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][0], "3");
        assert_eq!(rows[0][1], "a,\"b\"\\x1b[2J");
        let back: Vec<f64> = rows[0][4..].iter().map(|c| c.parse().unwrap()).collect();
        assert_eq!(back, awkward.coefficients, "bit for bit");
        assert_eq!(rows[0][2].parse::<f64>().unwrap(), awkward.distance);
        assert!(
            rows[0].iter().all(|c| !c.contains('e')),
            "no exponent: {:?}",
            rows[0]
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_rerun_keeps_the_rows_of_earlier_runs_and_its_own_win() {
        let d = temp_dir("merge");
        let path = d.join("pvec.csv");
        let mut first = PvecWriter::create(&path).unwrap();
        for id in [1, 2, 3] {
            first
                .write(&format!("n{id}"), &vector(id, id as f64))
                .unwrap();
        }
        assert_eq!(first.keep_rows_of_final().unwrap(), 0, "no earlier table");
        first.finish().unwrap();
        // A torn or hand-edited row goes; a second row of one id too.
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("x,bad\n");
        text.push_str(&format!("1,dup{}\n", ",0".repeat(102)));
        std::fs::write(&path, text).unwrap();

        let mut second = PvecWriter::create(&path).unwrap();
        second.write("n2-new", &vector(2, 20.0)).unwrap();
        second.write("n4", &vector(4, 4.0)).unwrap();
        assert_eq!(second.keep_rows_of_final().unwrap(), 2, "rows 1 and 3");
        second.finish().unwrap();
        let rows = read(&path);
        let ids: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r[0].as_str(), r[1].as_str()))
            .collect();
        assert_eq!(
            ids,
            [("2", "n2-new"), ("4", "n4"), ("1", "n1"), ("3", "n3")]
        );
        assert_eq!(rows[1][2], "12", "this run's values: distance 4 * 3");
        assert_eq!(
            rows[2][2], "3",
            "the earlier run's row for neuron 1, cell for cell"
        );
        assert!(rows.iter().all(|r| r.len() == 104));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_reset_starts_over_and_a_dropped_writer_leaves_nothing() {
        let d = temp_dir("reset");
        let path = d.join("pvec.csv");
        let mut w = PvecWriter::create(&path).unwrap();
        w.write("n1", &vector(1, 1.0)).unwrap();
        w.reset().unwrap();
        assert!(!w.has(1));
        w.write("n5", &vector(5, 5.0)).unwrap();
        w.finish().unwrap();
        let rows = read(&path);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][0], "5");
        let w = PvecWriter::create(d.join("other.csv")).unwrap();
        drop(w);
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            1,
            "no temporary file left"
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}
