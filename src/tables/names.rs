//! Neuron names read back from a metadata table written earlier (`download --from-csv`).

use std::path::Path;

use crate::error::{Error, Result};

/// Names from a metadata file written earlier (any of our formats: it needs a
/// `neuron_name` column or key, which is never cleaned).
pub fn names_from_metadata(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let source = path.display().to_string();
    if text.trim_start().starts_with('{') {
        return names_from_jsonl(text, &source);
    }
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let csv_err = |e| Error::Csv {
        path: path.to_path_buf(),
        source: e,
    };
    let headers = reader.headers().map_err(csv_err)?.clone();
    let col = headers
        .iter()
        .position(|h| h == "neuron_name")
        .ok_or_else(|| {
            Error::input(
                &source,
                "no 'neuron_name' column (is this a metadata file written by neuromorpho?)",
            )
        })?;
    let mut names = Vec::new();
    for row in reader.records() {
        let row = row.map_err(csv_err)?;
        if let Some(n) = row.get(col).filter(|n| !n.trim().is_empty()) {
            names.push(n.to_string());
        }
    }
    Ok(names)
}

fn names_from_jsonl(text: &str, source: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            Error::input(
                source,
                format!(
                    "{}: {}",
                    crate::util::text::line_column(i + 1, e.column()),
                    crate::archive::query::strip_position(&e.to_string())
                ),
            )
        })?;
        match v.get("neuron_name").and_then(|n| n.as_str()) {
            Some(n) => names.push(n.to_string()),
            None => {
                return Err(Error::input(
                    source,
                    format!("line {}: no neuron_name", i + 1),
                ))
            }
        }
    }
    Ok(names)
}
