//! Reading back the references of a metadata table we wrote (any of its formats), so that
//! `CITATIONS.md` can cite every neuron of a folder, whichever run brought it.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};

/// A neuron's `reference_pmid` and `reference_doi`.
pub(crate) type References = (Vec<String>, Vec<String>);

/// `neuron_id -> references` of the table at `path` (empty when there is no table). Lists
/// come back from their cleaned form (`a, b`), their raw form (`a|b`) or JSON arrays.
pub(crate) fn references(path: &Path) -> Result<HashMap<u64, References>> {
    // A file of the folder: a FIFO or a link there is an error, never a wait.
    let text = match crate::store::safe_fs::read_regular(path) {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(HashMap::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    let mut out = HashMap::new();
    if text.first() == Some(&b'{') {
        for line in text.split(|&b| b == b'\n') {
            let Ok(v) = serde_json::from_slice::<Value>(line) else {
                continue;
            };
            let Some(id) = v.get("neuron_id").and_then(id_of) else {
                continue;
            };
            out.insert(
                id,
                (
                    list_of(v.get("reference_pmid")),
                    list_of(v.get("reference_doi")),
                ),
            );
        }
        return Ok(out);
    }
    let mut reader = csv::Reader::from_reader(text.as_slice());
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
        return Ok(out);
    };
    for row in reader.records().flatten() {
        let Some(id) = row.get(id_col).and_then(|s| s.trim().parse::<u64>().ok()) else {
            continue;
        };
        let cell = |c: Option<usize>| split_cell(c.and_then(|i| row.get(i)).unwrap_or(""));
        out.insert(id, (cell(pmid_col), cell(doi_col)));
    }
    Ok(out)
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
