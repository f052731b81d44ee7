//! The library against the fake server: count, search, fields, validation, URLs, downloads,
//! group-by paths, the metadata table.

use crate::support;

use neuromorpho::tables::MetadataWriter;
use neuromorpho::JobOptions;
use neuromorpho::{
    Client, DownloadOptions, Error, FailureKind, MetadataFormat, Neuron, ProxyMode, Query,
};
use serde_json::{json, Value};
use support::*;

#[test]
fn real_record_round_trips_with_its_key_order() {
    let text =
        std::fs::read_to_string(fixtures_dir().join("api/neuron_id_1_cnic_001.json")).unwrap();
    let n: Neuron = serde_json::from_str(&text).unwrap();
    assert_eq!(n.neuron_id(), Some(1));
    assert_eq!(n.neuron_name(), "cnic_001");
    assert_eq!(n.archive(), "Wearne_Hof");
    assert_eq!(n.species(), Some("monkey"));
    assert_eq!(n.brain_region(), ["neocortex", "prefrontal", "layer 3"]);
    assert_eq!(
        n.cell_type(),
        ["Local projecting", "pyramidal", "principal cell"]
    );
    assert_eq!(n.reference_pmid(), ["12204204", "12902394"]);
    assert_eq!(n.fields().len(), 45, "44 keys + _links");
    assert!(n.get("reported_value").unwrap().is_null());
    // Serialized back: the same JSON, keys in the same order.
    assert_eq!(serde_json::to_string(&n).unwrap(), text.trim_end());
    assert_eq!(
        n.swc_url("https://neuromorpho.org").unwrap(),
        "https://neuromorpho.org/dableFiles/wearne_hof/CNG%20version/cnic_001.CNG.swc"
    );
}

#[test]
fn count_uses_one_request_and_zero_hits_is_zero() {
    let server = FakeServer::start(Catalog::generate(300));
    let c = client(&server);
    assert_eq!(c.count(&Query::all()).unwrap(), 300);
    let mice = Query::new().filter("species", ["mouse"]);
    let expected = (0..300)
        .filter(|&i| server.catalog().record_value(i)["species"] == "mouse")
        .count() as u64;
    assert!(expected > 0);
    assert_eq!(c.count(&mice).unwrap(), expected);
    assert_eq!(server.counters().count, 2);
    assert_eq!(server.counters().requests, 2);
    // The real server answers a select with no hits with 404: a count of 0, not an error.
    assert_eq!(
        c.count(&Query::new().filter("species", ["unicorn"]))
            .unwrap(),
        0
    );
}

#[test]
fn search_over_thousands_returns_each_once_in_order() {
    let server = FakeServer::start(Catalog::generate(2345));
    let c = client(&server);
    let all = c.search(&Query::all()).unwrap();
    assert_eq!(all.len(), 2345);
    let ids: Vec<u64> = all.iter().map(|n| n.neuron_id().unwrap()).collect();
    let expected: Vec<u64> = (0..2345).map(|i| server.catalog().id(i).unwrap()).collect();
    assert_eq!(ids, expected, "server order, each once");
    // 1 count + ceil(2345/500) pages, nothing else.
    let k = server.counters();
    assert_eq!((k.count, k.pages, k.requests), (1, 5, 6));
    // Every page asked for 500 records and a stable sort.
    let pages: Vec<String> = server
        .requests()
        .into_iter()
        .map(|r| r.target)
        .filter(|t| t.contains("size=500"))
        .collect();
    assert_eq!(pages.len(), 5);
    assert!(
        pages
            .iter()
            .all(|t| t.contains("sort=neuron_id%2Casc") || t.contains("sort=neuron_id,asc")),
        "{pages:?}"
    );
}

#[test]
fn select_uses_q_then_fq_and_descending_sort() {
    let server = FakeServer::start(Catalog::generate(1200));
    let c = client(&server);
    let q = Query::new()
        .filter("species", ["mouse", "rat"])
        .filter("brain_region", ["neocortex"])
        .sort_by("neuron_id", false);
    let got = c.search(&q).unwrap();
    let expected: Vec<u64> = {
        let mut v: Vec<(u64, Value)> = (0..1200)
            .map(|i| {
                (
                    server.catalog().id(i).unwrap(),
                    server.catalog().record_value(i),
                )
            })
            .filter(|(_, r)| {
                (r["species"] == "mouse" || r["species"] == "rat")
                    && r["brain_region"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|b| b == "neocortex")
            })
            .collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.0));
        v.into_iter().map(|(id, _)| id).collect()
    };
    assert!(!expected.is_empty());
    assert_eq!(
        got.iter()
            .map(|n| n.neuron_id().unwrap())
            .collect::<Vec<_>>(),
        expected
    );
    let t = server
        .requests()
        .into_iter()
        .find(|r| r.target.contains("/select"))
        .unwrap()
        .target;
    assert!(t.contains("q=species%3Amouse%2Crat"), "{t}");
    assert!(t.contains("fq=brain_region%3Aneocortex"), "{t}");
    assert!(t.contains("sort=neuron_id%2Cdesc"), "{t}");
}

#[test]
fn zero_hits_search_is_empty_not_an_error() {
    let server = FakeServer::start(Catalog::generate(50));
    let got = client(&server)
        .search(&Query::new().filter("species", ["unicorn"]))
        .unwrap();
    assert!(got.is_empty());
}

#[test]
fn field_values_follow_every_page() {
    let server = FakeServer::start(Catalog::generate(1500));
    let c = client(&server);
    let fields = c.fields().unwrap();
    assert!(fields.iter().any(|f| f == "species"));
    // One name per neuron: 1500 values, 3 pages of 500.
    let names = c.field_values("neuron_name").unwrap();
    assert_eq!(names.len(), 1500);
    assert_eq!(server.counters().field_values, 3);
    assert!(names.contains(&"cnic_001".to_string()));
    let species = c.field_values("species").unwrap();
    assert!(species.contains(&"drosophila melanogaster".to_string()));
}

#[test]
fn validation_lists_each_problem_with_suggestions() {
    let server = FakeServer::start(Catalog::generate(200));
    let c = client(&server);
    c.validate(&Query::new().filter("species", ["mouse"]))
        .unwrap();
    let err = c
        .validate(
            &Query::new()
                .filter("specie", ["mouse"])
                .filter("species", ["mose", "rat"]),
        )
        .unwrap_err();
    let Error::InvalidQuery(items) = &err else {
        panic!("{err}")
    };
    assert_eq!(items.len(), 2, "{err}");
    assert_eq!(items[0].field, "specie");
    assert_eq!(items[0].value, None);
    assert_eq!(items[0].suggestions[0], "species");
    assert_eq!(items[1].value.as_deref(), Some("mose"));
    assert!(items[1].suggestions.iter().any(|s| s == "mouse"), "{err}");
    assert!(items[1].suggestions.len() <= 5);
    let msg = err.to_string();
    assert!(
        msg.contains("unknown field 'specie'") && msg.contains("did you mean: species"),
        "{msg}"
    );
}

#[test]
fn query_files_report_the_key_at_fault() {
    let dir = TempDir::new();
    let cases: &[(&str, &str, &str)] = &[
        (
            "a.json",
            r#"{"filters": {"species": "mouse"}}"#,
            "filters.species: expected a list of strings",
        ),
        (
            "b.json",
            r#"{"filters": {"species": []}}"#,
            "filters.species: the list of values is empty",
        ),
        (
            "c.json",
            r#"{"filters": {}, "limit": 3}"#,
            "unknown top-level key 'limit'",
        ),
        (
            "d.json",
            r#"{"filters": {}, "sort": {"ascending": false}}"#,
            "sort: missing key 'field'",
        ),
        (
            "e.json",
            "{\"filters\": {\n  \"species\": [\"mouse\",]\n}}",
            "invalid JSON at line 2, column",
        ),
        (
            "f.json",
            r#"{"filters": {"neuron_id": [1, 2]}}"#,
            "filters.neuron_id[0]: expected a string, got a number",
        ),
        (
            "g.yaml",
            "filters:\n  species: [mouse\n",
            "invalid YAML at line",
        ),
        (
            "h.yaml",
            "filters:\n  species: mouse\n",
            "filters.species: expected a list of strings",
        ),
    ];
    for (name, text, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let err = Query::from_file(&path).unwrap_err().to_string();
        assert!(err.contains(want), "{name}: {err}");
        assert!(
            err.starts_with(&path.display().to_string()),
            "{name}: {err}"
        );
        assert!(!err.contains('\n'), "one line: {err}");
    }
    let ok = dir.path().join("ok.yaml");
    std::fs::write(&ok, "filters:\n  species: [mouse, rat]\n  cell_type: [pyramidal]\nsort:\n  field: neuron_name\n  ascending: false\n").unwrap();
    let q = Query::from_file(&ok).unwrap();
    assert_eq!(
        q.filters()[0],
        (
            "species".to_string(),
            vec!["mouse".to_string(), "rat".to_string()]
        )
    );
    assert_eq!(q.sort().unwrap().field, "neuron_name");
    assert!(!q.sort().unwrap().ascending);
    assert!(Query::from_json_str(r#"{"filters": {}}"#, "x")
        .unwrap()
        .is_all());
    assert!(Query::from_file(dir.path().join("missing.json"))
        .unwrap_err()
        .to_string()
        .contains("missing.json"));
}

#[test]
fn downloads_are_byte_identical_and_skip_existing() {
    let server = FakeServer::start(Catalog::generate(60));
    let c = client(&server);
    let neurons = c.search(&Query::all()).unwrap();
    let out = TempDir::new();
    let report = c
        .download(&neurons, &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!(
        (report.downloaded, report.skipped, report.failed.len()),
        (60, 0, 0)
    );
    for i in 0..60 {
        let name = server.catalog().name(i).to_string();
        let got = std::fs::read(out.path().join("downloads").join(format!("{name}.swc"))).unwrap();
        assert_eq!(got, server.catalog().swc_bytes(i), "{name}");
    }
    assert_eq!(
        report.bytes,
        (0..60)
            .map(|i| server.catalog().swc_bytes(i).len() as u64)
            .sum::<u64>()
    );
    assert_eq!(server.counters().files, 60);
    // Nothing but the files (and the folder's records of them): no temporary file left.
    assert_eq!(files_but_records(out.path()).len(), 60);
    for record in FOLDER_RECORDS {
        assert!(out.path().join(record).is_file(), "{record}");
    }
    // Again: every file is skipped, no request made.
    let again = c
        .download(&neurons, &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!((again.downloaded, again.skipped), (0, 60));
    assert_eq!(server.counters().files, 60);
    assert_eq!(server.counters().jsp, 0, "never a .jsp page");
}

#[test]
fn a_missing_file_is_reported_while_the_others_succeed() {
    let server = FakeServer::start(Catalog::generate(20));
    let gone = server.catalog().name(7).to_string();
    server.remove_file(&gone);
    let c = client(&server);
    let neurons = c.search(&Query::all()).unwrap();
    let out = TempDir::new();
    let report = c
        .download(&neurons, &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!(report.downloaded, 19);
    assert_eq!(report.failed.len(), 1);
    let f = &report.failed[0];
    assert_eq!(f.neuron_name, gone);
    assert_eq!(f.reason, FailureKind::NotFound);
    assert!(f.url.ends_with(&format!("/{gone}.CNG.swc")), "{}", f.url);
    assert!(!out
        .path()
        .join("downloads")
        .join(format!("{gone}.swc"))
        .exists());
    // A 404 is not retried.
    assert_eq!(server.file_hits(&gone), 1);
    let csv = report
        .write_failed_csv(&out.path().join("failed.csv"))
        .unwrap()
        .unwrap();
    let text = std::fs::read_to_string(csv).unwrap();
    assert!(
        text.starts_with("neuron_name,url,reason,detail\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{gone},http")) && text.contains(",not-found,"),
        "{text}"
    );
}

#[test]
fn group_by_paths_are_safe_even_for_hostile_values() {
    let mut catalog = Catalog::generate(3);
    let base = catalog.record_value(0);
    let hostile = [
        ("h1", json!("../x")),
        ("h2", json!("a/b")),
        ("h3", json!("")),
        ("h4", Value::Null),
        ("h5", json!("..")),
        ("../../escape", json!("mouse")),
    ];
    for (k, (name, species)) in hostile.iter().enumerate() {
        let mut r = base.clone();
        r["neuron_id"] = json!(9000 + k);
        r["neuron_name"] = json!(name);
        r["species"] = species.clone();
        r["brain_region"] = json!(["Layer 3", "a b"]);
        catalog.push_raw(r, Some(b"1 1 0 0 0 1 -1\n".to_vec()));
    }
    let server = FakeServer::start(catalog);
    let c = client(&server);
    let neurons = c.search(&Query::all()).unwrap();
    assert_eq!(neurons.len(), 9);
    let out = TempDir::new();
    let group_by = vec!["species".to_string(), "brain_region".to_string()];
    let options = DownloadOptions::new(out.path()).group_by(&group_by);
    let report = c.download(&neurons, &options, |_| {}).unwrap();
    assert_eq!(report.failed, vec![], "all downloaded");
    let downloads = out.path().join("downloads").canonicalize().unwrap();
    let files = files_but_records(out.path());
    assert_eq!(files.len(), 9);
    for f in &files {
        let f = f.canonicalize().unwrap();
        assert!(f.starts_with(&downloads), "{} escaped", f.display());
        for part in f.strip_prefix(&downloads).unwrap().components() {
            let s = part.as_os_str().to_string_lossy();
            assert!(!s.starts_with('.'), "{}", f.display());
        }
    }
    let rel: Vec<String> = files
        .iter()
        .map(|f| {
            f.strip_prefix(out.path().join("downloads"))
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert!(
        rel.contains(&"___x/Layer 3, a b/h1.swc".to_string()),
        "{rel:?}"
    );
    assert!(
        rel.contains(&"a_b/Layer 3, a b/h2.swc".to_string()),
        "{rel:?}"
    );
    assert!(
        rel.contains(&"unknown/Layer 3, a b/h3.swc".to_string()),
        "{rel:?}"
    );
    assert!(
        rel.contains(&"unknown/Layer 3, a b/h4.swc".to_string()),
        "{rel:?}"
    );
    assert!(
        rel.contains(&"__/Layer 3, a b/h5.swc".to_string()),
        "{rel:?}"
    );
    assert!(
        rel.contains(&"mouse/Layer 3, a b/.._.._escape.swc".to_string())
            || rel
                .iter()
                .any(|r| r.starts_with("mouse/") && r.ends_with("_escape.swc")),
        "{rel:?}"
    );
    // The real record groups under its own values.
    assert!(
        rel.iter()
            .any(|r| r == "monkey/neocortex, prefrontal, layer 3/cnic_001.swc"),
        "{rel:?}"
    );
}

#[test]
fn a_record_without_name_or_archive_is_a_listed_failure() {
    let mut catalog = Catalog::generate(2);
    let mut r = catalog.record_value(1);
    r["neuron_id"] = json!(777);
    r.as_object_mut().unwrap().remove("archive");
    r["neuron_name"] = json!("no_archive");
    catalog.push_raw(r, None);
    let server = FakeServer::start(catalog);
    let c = client(&server);
    let neurons = c.search(&Query::all()).unwrap();
    let out = TempDir::new();
    let report = c
        .download(&neurons, &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!(report.downloaded, 2);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].reason, FailureKind::InvalidRecord);
    assert!(report.failed[0].detail.contains("no archive"));
}

#[test]
fn metadata_csv_has_the_record_columns_and_cleaned_values() {
    let server = FakeServer::start(Catalog::generate(30));
    let c = client(&server);
    let neurons = c.search(&Query::all()).unwrap();
    let dir = TempDir::new();
    let path = dir.path().join("metadata.csv");
    let mut w = MetadataWriter::create(&path, MetadataFormat::Csv).unwrap();
    w.write(&neurons).unwrap();
    assert!(!path.exists(), "not under its final name before finish");
    w.finish().unwrap();
    let mut r = csv::Reader::from_path(&path).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let real: serde_json::Map<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(fixtures_dir().join("api/neuron_id_1_cnic_001.json")).unwrap(),
    )
    .unwrap();
    let expected: Vec<String> = real.keys().filter(|k| *k != "_links").cloned().collect();
    assert_eq!(
        headers, expected,
        "one column per key, the server's order, no _links"
    );
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 30);
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let first = &rows[0];
    assert_eq!(&first[col("neuron_name")], "cnic_001");
    assert_eq!(&first[col("neuron_id")], "1");
    assert_eq!(&first[col("archive")], "wearne_hof");
    assert_eq!(&first[col("brain_region")], "neocortex, prefrontal, 3");
    assert_eq!(
        &first[col("cell_type")],
        "local_projecting, pyramidal, principal_cell"
    );
    assert_eq!(&first[col("domain")], "dendrites, soma, no_axon");
    assert_eq!(&first[col("reported_value")], "");
    assert_eq!(&first[col("reference_pmid")], "12204204, 12902394");
    assert_eq!(&first[col("gender")], "male/female");
    // Raw CSV keeps values untouched.
    let raw = dir.path().join("raw.csv");
    let mut w = MetadataWriter::create(&raw, MetadataFormat::RawCsv).unwrap();
    w.write(&neurons[..1]).unwrap();
    w.finish().unwrap();
    let text = std::fs::read_to_string(&raw).unwrap();
    assert!(
        text.contains("Wearne_Hof,") && text.contains("neocortex|prefrontal|layer 3"),
        "{text}"
    );
}

#[test]
fn search_and_download_writes_everything_with_minimal_requests() {
    let server = FakeServer::start(Catalog::generate(1100));
    let c = client(&server);
    let out = TempDir::new();
    let q = Query::new().filter("species", ["mouse", "rat", "human"]);
    let summary = c
        .download_query(&q, &JobOptions::new(out.path()), |_| {})
        .unwrap();
    assert!(
        summary.matched > 500,
        "more than one page: {}",
        summary.matched
    );
    assert_eq!(summary.downloaded, summary.matched);
    assert!(summary.failed.is_empty());
    let k = server.counters();
    assert_eq!(k.count, 1);
    assert_eq!(k.pages as u64, summary.matched.div_ceil(500));
    assert_eq!(k.files as u64, summary.matched);
    assert_eq!(
        k.requests as u64,
        1 + summary.matched.div_ceil(500) + summary.matched
    );
    let csv_rows = std::fs::read_to_string(out.path().join("metadata.csv"))
        .unwrap()
        .lines()
        .count() as u64;
    assert_eq!(csv_rows, summary.matched + 1);
    assert!(out.path().join("CITATIONS.md").exists());
    assert!(!out.path().join("failed.csv").exists());
}

#[test]
fn an_empty_file_at_a_final_path_is_fetched_again() {
    let server = FakeServer::start(Catalog::generate(3));
    let c = client(&server);
    let neurons = c.search(&Query::all()).unwrap();
    let out = TempDir::new();
    let name = server.catalog().name(1).to_string();
    let path = out.path().join("downloads").join(format!("{name}.swc"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"").unwrap();
    let report = c
        .download(&neurons, &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!((report.downloaded, report.skipped), (3, 0));
    assert_eq!(std::fs::read(&path).unwrap(), server.catalog().swc_bytes(1));
}

/// Each level of an error chain says its own part once: `Display` never repeats the text of
/// `source()` (an anyhow-style printer shows every cause exactly once).
fn assert_no_repeated_cause(err: &(dyn std::error::Error + 'static)) {
    let mut level: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut depth = 0;
    while let Some(e) = level {
        if let Some(cause) = e.source() {
            let (outer, inner) = (e.to_string(), cause.to_string());
            assert!(
                !inner.is_empty() && !outer.contains(&inner),
                "level {depth} '{outer}' repeats its cause '{inner}'"
            );
        }
        level = e.source();
        depth += 1;
    }
}

#[test]
fn a_request_error_says_its_part_and_leaves_the_cause_to_source() {
    // A refused connection: the request error, then the transport's cause.
    let c = Client::builder()
        .base_url("http://127.0.0.1:9")
        .proxy(ProxyMode::None)
        .retries(1)
        .build()
        .unwrap();
    let err = c.count(&Query::all()).unwrap_err();
    assert!(std::error::Error::source(&err).is_some(), "{err:?}");
    assert_no_repeated_cause(&err);
    // A server that answers 503: the status is kept, the chain still says each part once.
    let server = FakeServer::start(Catalog::generate(3));
    server.push_fault(FaultRule::new(Target::Count, 100, Fault::Status(503)));
    let err = client_builder(&server)
        .retries(1)
        .build()
        .unwrap()
        .count(&Query::all())
        .unwrap_err();
    assert_eq!(err.status(), Some(503), "{err}");
    assert_no_repeated_cause(&err);
}
