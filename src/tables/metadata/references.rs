//! Reading back the references of a metadata table we wrote (any of its formats), so that
//! `CITATIONS.md` can cite every neuron of a folder, whichever run brought it.

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};

/// A neuron's `reference_pmid` and `reference_doi`.
pub(crate) type References = (Vec<String>, Vec<String>);

/// Every row's `neuron_id` with its `reference_pmid` and `reference_doi`, streamed from a
/// metadata table in any of its formats (CSV, raw CSV, JSON lines); a table that is not
/// there gives nothing. Rows without an id are left out.
pub(crate) fn each_reference(
    path: &Path,
    mut f: impl FnMut(u64, References) -> Result<()>,
) -> Result<()> {
    // A file of the folder: a FIFO or a link there is an error, never a wait.
    let file = match crate::store::safe_fs::open_regular(path) {
        Ok(Some(file)) => file,
        Ok(None) => return Ok(()),
        Err(e) => return Err(Error::io(path, e)),
    };
    let mut reader = std::io::BufReader::with_capacity(256 * 1024, file);
    let first = std::io::BufRead::fill_buf(&mut reader)
        .map_err(|e| Error::io(path, e))?
        .first()
        .copied();
    if first == Some(b'{') {
        let mut line = Vec::with_capacity(4096);
        loop {
            line.clear();
            let n = std::io::BufRead::read_until(&mut reader, b'\n', &mut line)
                .map_err(|e| Error::io(path, e))?;
            if n == 0 {
                return Ok(());
            }
            let Ok(v) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            let Some(id) = v.get("neuron_id").and_then(id_of) else {
                continue;
            };
            f(
                id,
                (
                    list_of(v.get("reference_pmid")),
                    list_of(v.get("reference_doi")),
                ),
            )?;
        }
    }
    let mut reader = csv::Reader::from_reader(reader);
    let header = reader
        .headers()
        .map_err(|e| Error::Csv {
            path: path.to_path_buf(),
            source: e,
        })?
        .clone();
    let at = |name: &str| header.iter().position(|h| h == name);
    let (Some(id_col), pmid_col, doi_col) =
        (at("neuron_id"), at("reference_pmid"), at("reference_doi"))
    else {
        return Ok(());
    };
    let mut row = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut row) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            // A row torn by an edit is left out; a read that fails ends the table.
            Err(e) if e.is_io_error() => {
                return Err(Error::Csv {
                    path: path.to_path_buf(),
                    source: e,
                })
            }
            Err(_) => continue,
        }
        let Some(id) = row.get(id_col).and_then(|s| s.trim().parse::<u64>().ok()) else {
            continue;
        };
        let cell = |c: Option<usize>| split_cell(c.and_then(|i| row.get(i)).unwrap_or(""));
        f(id, (cell(pmid_col), cell(doi_col)))?;
    }
}

fn id_of(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn list_of(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| match x {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .collect(),
        Some(Value::String(s)) => split_cell(s),
        _ => Vec::new(),
    }
}

/// `a|b` (raw) or `a, b` (cleaned) into its values.
fn split_cell(s: &str) -> Vec<String> {
    let sep = if s.contains('|') { "|" } else { ", " };
    s.split(sep)
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_in_every_form() {
        assert_eq!(split_cell("12204204, 12902394"), ["12204204", "12902394"]);
        assert_eq!(split_cell("a|b"), ["a", "b"]);
        assert!(split_cell("").is_empty());
    }
}
