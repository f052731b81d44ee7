//! The three metadata formats, pinned byte for byte on real-shaped records: the real
//! `cnic_001` record, 200 records of the fake server's catalog (the real record's keys and
//! key order, varied values), and records with the values that trouble writers (quotes,
//! commas, newlines, escapes, non-ASCII, numbers, nulls, nested objects, a key the first
//! record lacks, a record missing keys).
//!
//! The pinned files in `fixtures/metadata/` were written by the table writer as it was before
//! its speed work (issue 13); any change to what it writes fails here.
//! `NEUROMORPHO_BLESS=1 cargo test --test it metadata_formats::` writes them again.

use crate::support;

use std::path::PathBuf;

use neuromorpho::tables::MetadataWriter;
use neuromorpho::{MetadataFormat, Neuron};
use support::*;

/// Records that trouble CSV and JSON writers, in the real record's shape.
fn awkward_records() -> Vec<String> {
    let real =
        std::fs::read_to_string(fixtures_dir().join("api/neuron_id_1_cnic_001.json")).unwrap();
    let base: serde_json::Value = serde_json::from_str(&real).unwrap();
    let mut out = Vec::new();
    let edits: Vec<Vec<(&str, serde_json::Value)>> = vec![
        vec![
            ("neuron_name", "quote\"and,comma".into()),
            ("note", "line one\nline two\r\nthree\ttab".into()),
        ],
        vec![
            ("neuron_name", "Ångström_é_ü".into()),
            ("species", "Homo sapiens (“human”)".into()),
            (
                "brain_region",
                serde_json::json!(["O'Brien's area", "layer 5", "a,b"]),
            ),
        ],
        vec![
            ("neuron_id", serde_json::json!("42")),
            ("min_age", serde_json::json!(12.5)),
            ("max_age", serde_json::json!(3)),
            ("surface", serde_json::json!(1e21)),
            ("volume", serde_json::json!(-0.0)),
        ],
        vec![
            ("cell_type", serde_json::Value::Null),
            ("reference_pmid", serde_json::json!([])),
            ("reference_doi", serde_json::json!([null, "10.1/x"])),
            ("strain", serde_json::json!(true)),
        ],
        vec![
            (
                "stain",
                serde_json::json!({"nested": {"deep": [1, "two", null]}}),
            ),
            (
                "protocol",
                "back\\slash and /slash and \u{1b}[31m escape".into(),
            ),
            ("extra_key_first_record_lacks", "dropped".into()),
        ],
    ];
    for (k, edit) in edits.into_iter().enumerate() {
        let mut r = base.clone();
        r["neuron_id"] = serde_json::json!(100_000 + k);
        for (key, v) in edit {
            r[key] = v;
        }
        out.push(r.to_string());
    }
    // A record with few keys, in another order.
    out.push(r#"{"neuron_name":"sparse","neuron_id":100010,"archive":"X"}"#.to_string());
    // The same record as the server might escape it: `\/`, `\u00e9`.
    out.push(
        r#"{"neuron_id":100011,"neuron_name":"esc\/aped","archive":"Caf\u00e9","note":"\u0041\u00e9\ud83d\ude00"}"#
            .to_string(),
    );
    out
}

fn records() -> Vec<Neuron> {
    let real =
        std::fs::read_to_string(fixtures_dir().join("api/neuron_id_1_cnic_001.json")).unwrap();
    let catalog = Catalog::generate(200);
    let mut texts = vec![real.trim_end().to_string()];
    texts.extend((1..200).map(|i| catalog.record_json(i)));
    texts.extend(awkward_records());
    texts
        .iter()
        .map(|t| serde_json::from_str::<Neuron>(t).unwrap())
        .collect()
}

fn pinned(name: &str) -> PathBuf {
    fixtures_dir().join("metadata").join(name)
}

fn check(format: MetadataFormat, name: &str, morphometry: bool) {
    let dir = TempDir::new();
    let path = dir.path().join(name);
    let mut w = MetadataWriter::create(&path, format).unwrap();
    let extra_columns = vec!["morph_length".to_string(), "morph_n_bifs".to_string()];
    if morphometry {
        w = w.with_extra_columns(extra_columns.clone());
    }
    for (i, n) in records().iter().enumerate() {
        if morphometry {
            let extra = vec![
                (extra_columns[0].clone(), serde_json::json!(i as f64 * 1.5)),
                (extra_columns[1].clone(), serde_json::json!(i)),
            ];
            w.write_with_extra(n, &extra).unwrap();
        } else {
            w.write(std::slice::from_ref(n)).unwrap();
        }
    }
    w.finish().unwrap();
    let got = std::fs::read(&path).unwrap();
    if std::env::var("NEUROMORPHO_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(pinned("")).unwrap();
        std::fs::write(pinned(name), &got).unwrap();
        return;
    }
    let want = std::fs::read(pinned(name)).unwrap();
    if got != want {
        let line = got
            .split(|&b| b == b'\n')
            .zip(want.split(|&b| b == b'\n'))
            .position(|(a, b)| a != b);
        panic!(
            "{name} differs from its pinned copy (first differing line: {line:?}; {} vs {} bytes)",
            got.len(),
            want.len()
        );
    }
}

#[test]
fn the_cleaned_csv_is_byte_for_byte_what_it_was() {
    check(MetadataFormat::Csv, "pinned.csv", false);
}

#[test]
fn the_raw_csv_is_byte_for_byte_what_it_was() {
    check(MetadataFormat::RawCsv, "pinned-raw.csv", false);
}

#[test]
fn json_lines_are_byte_for_byte_what_they_were() {
    check(MetadataFormat::Jsonl, "pinned.jsonl", false);
}

#[test]
fn extra_columns_are_byte_for_byte_what_they_were() {
    check(MetadataFormat::Csv, "pinned-morphometry.csv", true);
    check(MetadataFormat::Jsonl, "pinned-morphometry.jsonl", true);
}

/// Rows of pages after the first are rendered by the workers that parse them; the table they
/// make must be the one the writer makes of the same records, in every format.
#[test]
fn rows_rendered_where_pages_are_parsed_are_the_writers_rows() {
    let mut catalog = Catalog::generate(700);
    // After the generated records (their ids are larger): on the second page.
    for text in awkward_records() {
        catalog.push_raw(serde_json::from_str(&text).unwrap(), None);
    }
    let server = FakeServer::start(catalog);
    let client = client(&server);
    let neurons = client.search(&neuromorpho::Query::all()).unwrap();
    assert!(neurons.len() > 700, "{} records", neurons.len());
    for format in [
        MetadataFormat::Csv,
        MetadataFormat::RawCsv,
        MetadataFormat::Jsonl,
    ] {
        let dir = TempDir::new();
        let mut options = neuromorpho::JobOptions::new(dir.path().join("run"));
        options = options.metadata_only(true);
        options = options.metadata_format(format);
        let summary = client
            .download_query(&neuromorpho::Query::all(), &options, |_| {})
            .unwrap();
        assert_eq!(summary.selected, neurons.len() as u64, "{summary:?}");
        let got = std::fs::read(options.metadata_path()).unwrap();
        let alone = dir.path().join("alone");
        let mut w = MetadataWriter::create(&alone, format).unwrap();
        w.write(&neurons).unwrap();
        w.finish().unwrap();
        let want = std::fs::read(&alone).unwrap();
        assert!(
            got == want,
            "{format:?}: the run's table ({} bytes) differs from the writer's ({} bytes)",
            got.len(),
            want.len()
        );
        // And the awkward records are in it.
        assert!(String::from_utf8_lossy(&got).contains("sparse"));
    }
}
