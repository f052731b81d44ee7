//! The metadata table: neuromorphopy-compatible cleaned CSV, a lossless raw CSV, or JSON
//! lines, written as pages arrive.

mod clean;
mod references;
mod rows;
mod writer;

pub use clean::{clean_value, raw_value};
pub(crate) use references::each_reference;
pub(crate) use rows::{parse_with_rows, PreparedRows, RowFormat};
pub use writer::MetadataWriter;
pub(crate) use writer::WrittenRows;

use crate::error::{Error, Result};

/// How the metadata file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MetadataFormat {
    /// neuromorphopy's `metadata.csv`: every column but `neuron_name` cleaned (see
    /// [`clean_value`]).
    #[default]
    Csv,
    /// The server's values untouched; lists joined with `|`.
    RawCsv,
    /// One JSON object per line, each record exactly as the server sent it.
    Jsonl,
}

impl MetadataFormat {
    /// The name used on the command line (`csv`, `raw-csv`, `jsonl`).
    pub fn as_str(self) -> &'static str {
        match self {
            MetadataFormat::Csv => "csv",
            MetadataFormat::RawCsv => "raw-csv",
            MetadataFormat::Jsonl => "jsonl",
        }
    }

    /// The file extension of the format (`csv` or `jsonl`).
    pub fn extension(self) -> &'static str {
        match self {
            MetadataFormat::Jsonl => "jsonl",
            _ => "csv",
        }
    }
}

impl std::str::FromStr for MetadataFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "csv" => Ok(MetadataFormat::Csv),
            "raw-csv" => Ok(MetadataFormat::RawCsv),
            "jsonl" => Ok(MetadataFormat::Jsonl),
            other => Err(Error::setting(
                "metadata format",
                format!(
                    "unknown metadata format '{}' (expected csv, raw-csv or jsonl)",
                    crate::util::text::escape(other)
                ),
            )),
        }
    }
}
