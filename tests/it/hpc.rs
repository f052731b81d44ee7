//! HPC and the rest of the archive, through the CLI against the fake server: job-array
//! shards, `--from-csv`, named look-ups (`get`), every file kind, morphometry (batched and
//! per-id), lossless metadata (raw CSV, JSON lines) and `CITATIONS.md`.

use crate::support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::thread;
use std::time::Duration;

use neuromorpho::tables::raw_value;
use serde_json::Value;
use support::*;

// ------------------------------------------------------------------------------------------
// Helpers

/// The CLI as these tests run it: against `server` (see `support::cli`), 8 downloads at once,
/// and a 300 s hang guard (the largest jobs here have 1,200 neurons).
fn hpc_cli(server: &FakeServer) -> Cli {
    cli(server)
        .args(["-c", "8"])
        .time_limit(Duration::from_secs(300))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// File names (without folder) directly in `dir`.
fn names_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// No temporary file left anywhere (hidden `.NAME.part`).
fn assert_no_temp_files(dir: &Path) {
    let temps = part_files(dir);
    assert!(temps.is_empty(), "temporary files left: {temps:?}");
}

/// A CSV file as (header, rows).
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|row| row.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// The values of one column.
fn column(path: &Path, name: &str) -> Vec<String> {
    let (header, rows) = read_csv(path);
    let k = header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {}", path.display()));
    rows.into_iter().map(|r| r[k].clone()).collect()
}

fn ids_of(path: &Path) -> Vec<u64> {
    column(path, "neuron_id")
        .iter()
        .map(|v| v.parse().unwrap())
        .collect()
}

/// Requests the server got whose (decoded) target contains `needle`.
fn requests_with(server: &FakeServer, needle: &str) -> Vec<String> {
    server
        .requests()
        .into_iter()
        .map(|r| percent_decode(&r.target))
        .filter(|t| t.contains(needle))
        .collect()
}

/// The comma-separated values after `prefix` in the `q` parameter of a select request.
fn q_values(target: &str, prefix: &str) -> Vec<String> {
    let q = target
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("q="))
        .unwrap_or_else(|| panic!("no q in {target}"));
    q.strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{q} does not start with {prefix}"))
        .split(',')
        .map(String::from)
        .collect()
}

/// GET a URL ourselves (no proxy), for byte comparisons.
fn fetch(url: &str) -> Vec<u8> {
    let agent: ureq::Agent = ureq::Agent::config_builder().proxy(None).build().into();
    let resp = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    assert_eq!(resp.status().as_u16(), 200, "{url}");
    resp.into_body()
        .into_with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap()
}

fn row_of_id(catalog: &Catalog, id: u64) -> usize {
    catalog.index_of_id(id).unwrap()
}

// ------------------------------------------------------------------------------------------
// Job arrays

#[test]
fn shards_run_together_split_the_job_without_overlap_or_gap() {
    let n = 100;
    let server = FakeServer::start(Catalog::generate(n));
    let catalog = server.catalog();
    // One file is missing on the server: its shard reports it, the others must not erase that.
    let missing = 40;
    let missing_shard = catalog.id(missing).unwrap() % 3 + 1;
    server.remove_file(&catalog.name(missing));
    let out = TempDir::new();
    // As a job array would: three tasks at once, one output folder (with their log files).
    let handles: Vec<_> = (1..=3)
        .map(|k| {
            let job = hpc_cli(&server).args([
                "download",
                "--all",
                "--shard",
                &format!("{k}/3"),
                "-o",
                s(out.path()),
            ]);
            thread::spawn(move || job.run())
        })
        .collect();
    for (k, h) in (1..=3u64).zip(handles) {
        let CliOutput { code, err, .. } = h.join().unwrap();
        println!("shard {k}/3 (exit {code}):\n{err}");
        let want = if k == missing_shard { 3 } else { 0 };
        assert_eq!(code, want, "shard {k}/3:\n{err}");
        assert!(err.contains("this shard"), "{err}");
    }
    // The union of the files is the whole set, each file fetched once.
    let expected: BTreeSet<String> = (0..n)
        .filter(|&i| i != missing)
        .map(|i| format!("{}.swc", catalog.name(i)))
        .collect();
    assert_eq!(names_in(&out.path().join("downloads")), expected);
    assert_eq!(server.counters().files, n);
    assert_eq!(server.max_file_hits(), 1);
    for i in [0, 1, 2, 57, 99] {
        let p = out
            .path()
            .join("downloads")
            .join(format!("{}.swc", catalog.name(i)));
        assert_eq!(std::fs::read(p).unwrap(), catalog.swc_bytes(i));
    }
    // Each shard's table lists exactly its neurons.
    let mut all_ids = Vec::new();
    for k in 1..=3u64 {
        let table = out.path().join(format!("metadata.shard-{k}-of-3.csv"));
        let ids = ids_of(&table);
        assert!(ids.iter().all(|id| id % 3 == k - 1), "shard {k}: {ids:?}");
        let expected: Vec<u64> = (0..n)
            .map(|i| catalog.id(i).unwrap())
            .filter(|id| id % 3 == k - 1)
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(ids, expected, "shard {k}, in the server's order");
        all_ids.extend(ids);
    }
    all_ids.sort();
    let every: Vec<u64> = (0..n).map(|i| catalog.id(i).unwrap()).collect();
    assert_eq!(all_ids, every, "no overlap, no gap");

    // Shards sharing a folder keep their own failure list, citations and log.
    let top = names_in(out.path());
    println!("{top:?}");
    let failed: Vec<&String> = top.iter().filter(|f| f.starts_with("failed")).collect();
    assert_eq!(
        failed,
        [&format!("failed.shard-{missing_shard}-of-3.csv")],
        "{top:?}"
    );
    let listed = column(&out.path().join(failed[0]), "neuron_name");
    assert_eq!(listed, [catalog.name(missing).into_owned()]);
    let mut cited = 0;
    let mut publications: BTreeMap<(String, String), u64> = BTreeMap::new();
    for k in 1..=3u64 {
        let text = std::fs::read_to_string(out.path().join(format!("CITATIONS.shard-{k}-of-3.md")))
            .unwrap();
        let mine = (0..n)
            .filter(|&i| i != missing && catalog.id(i).unwrap() % 3 == k - 1)
            .count();
        assert!(
            text.contains(&format!("the {mine} neuron(s) downloaded")),
            "shard {k}:\n{text}"
        );
        cited += mine;
        for (key, count) in citation_rows(&text) {
            *publications.entry(key).or_insert(0) += count;
        }
    }
    assert_eq!(cited, n - 1);
    let downloaded: Vec<usize> = (0..n).filter(|&i| i != missing).collect();
    assert_eq!(publications, expected_citations(catalog, &downloaded));
    let logs: Vec<&String> = top.iter().filter(|f| f.ends_with(".log")).collect();
    assert_eq!(logs.len(), 3, "one log per shard: {logs:?}");
    for k in 1..=3 {
        let log = logs
            .iter()
            .find(|l| l.ends_with(&format!("-all-shard-{k}-of-3.log")))
            .unwrap_or_else(|| panic!("no log for shard {k}: {logs:?}"));
        let text = std::fs::read_to_string(out.path().join(log)).unwrap();
        assert!(text.contains("this shard"), "{text}");
    }
    assert!(
        !top.contains("metadata.csv") && !top.contains("CITATIONS.md"),
        "{top:?}"
    );
    assert_no_temp_files(out.path());
}

#[test]
fn from_csv_downloads_the_neurons_of_an_earlier_table() {
    let n = 120;
    let server = FakeServer::start(Catalog::generate(n));
    let catalog = server.catalog();
    let meta = TempDir::new();
    let CliOutput { code, err, .. } = hpc_cli(&server)
        .args([
            "metadata",
            "-f",
            "species=mouse",
            "-o",
            s(meta.path()),
            "--no-log",
        ])
        .run();
    assert_eq!(code, 0, "{err}");
    let table = meta.path().join("metadata.csv");
    let mice: Vec<usize> = (0..n)
        .filter(|&i| catalog.record_value(i)["species"] == "mouse")
        .collect();
    assert!(mice.len() > 10);
    assert_eq!(ids_of(&table).len(), mice.len());
    assert_eq!(server.counters().files, 0, "metadata downloads no file");

    // The whole table.
    server.reset_counters();
    let out = TempDir::new();
    let CliOutput { code, err, .. } = hpc_cli(&server)
        .args([
            "download",
            "--from-csv",
            s(&table),
            "-o",
            s(out.path()),
            "--no-log",
        ])
        .run();
    println!("{err}");
    assert_eq!(code, 0, "{err}");
    let expected: BTreeSet<String> = mice
        .iter()
        .map(|&i| format!("{}.swc", catalog.name(i)))
        .collect();
    assert_eq!(names_in(&out.path().join("downloads")), expected);
    let k = server.counters();
    assert_eq!(
        (k.count, k.files),
        (0, mice.len()),
        "no search, one GET per file"
    );
    assert_eq!(
        requests_with(&server, "q=neuron_name:").len(),
        1,
        "one look-up"
    );
    assert_eq!(server.max_file_hits(), 1);
    assert_eq!(ids_of(&out.path().join("metadata.csv")).len(), mice.len());

    // Combined with --shard: only this shard's part of the table.
    server.reset_counters();
    let out2 = TempDir::new();
    let CliOutput { code, err, .. } = hpc_cli(&server)
        .args([
            "download",
            "--from-csv",
            s(&table),
            "--shard",
            "2/2",
            "-o",
            s(out2.path()),
            "--no-log",
        ])
        .run();
    assert_eq!(code, 0, "{err}");
    let odd: Vec<usize> = mice
        .iter()
        .copied()
        .filter(|&i| catalog.id(i).unwrap() % 2 == 1)
        .collect();
    assert!(!odd.is_empty() && odd.len() < mice.len());
    let expected: BTreeSet<String> = odd
        .iter()
        .map(|&i| format!("{}.swc", catalog.name(i)))
        .collect();
    assert_eq!(names_in(&out2.path().join("downloads")), expected);
    assert_eq!(server.counters().files, odd.len());
    let ids = ids_of(&out2.path().join("metadata.shard-2-of-2.csv"));
    assert!(ids.iter().all(|id| id % 2 == 1), "{ids:?}");
    assert_eq!(ids.len(), odd.len());

    // A JSON-lines table works as a source too.
    let meta2 = TempDir::new();
    let CliOutput { code, err, .. } = hpc_cli(&server)
        .args([
            "metadata",
            "-f",
            "species=rat",
            "--metadata-format",
            "jsonl",
            "-o",
            s(meta2.path()),
            "--no-log",
        ])
        .run();
    assert_eq!(code, 0, "{err}");
    let out3 = TempDir::new();
    let CliOutput { code, err, .. } = hpc_cli(&server)
        .args([
            "download",
            "--from-csv",
            s(&meta2.path().join("metadata.jsonl")),
            "-o",
            s(out3.path()),
            "--no-log",
        ])
        .run();
    assert_eq!(code, 0, "{err}");
    let rats = (0..n)
        .filter(|&i| catalog.record_value(i)["species"] == "rat")
        .count();
    assert_eq!(names_in(&out3.path().join("downloads")).len(), rats);
}

// ------------------------------------------------------------------------------------------
// Named neurons

#[test]
fn get_by_name_downloads_and_reports_unknown_names() {
    let server = FakeServer::start(Catalog::generate(50));
    let catalog = server.catalog();
    let out = TempDir::new();
    let known = [catalog.name(0).into_owned(), catalog.name(17).into_owned()];
    let CliOutput { code, err, .. } = hpc_cli(&server)
        .args([
            "get",
            &known[0],
            "no-such-neuron-1",
            &known[1],
            "no-such-neuron-2",
            "-o",
            s(out.path()),
            "--no-log",
        ])
        .run();
    println!("{err}");
    assert_eq!(code, 3, "unknown names: exit 3\n{err}");
    assert!(
        err.contains("no-such-neuron-1") && err.contains("no-such-neuron-2"),
        "{err}"
    );
    assert!(err.contains("not found"), "{err}");
    assert!(!err.contains(&format!("'{}' not found", known[0])), "{err}");
    for (name, i) in known.iter().zip([0, 17]) {
        let p = out.path().join("downloads").join(format!("{name}.swc"));
        assert_eq!(std::fs::read(&p).unwrap(), catalog.swc_bytes(i));
    }
    assert_eq!(
        column(&out.path().join("metadata.csv"), "neuron_name"),
        known,
        "the records, in the order asked"
    );
    assert_eq!(requests_with(&server, "q=neuron_name:").len(), 1);
    assert_eq!(server.counters().files, 2);

    // Only unknown names: nothing to do is an error.
    let CliOutput { code, err, .. } = hpc_cli(&server)
        .args(["get", "no-such-neuron-3", "-o", s(out.path()), "--no-log"])
        .run();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no-such-neuron-3"), "{err}");
}

#[test]
fn get_names_file_batches_at_most_500_names_per_request() {
    let server = FakeServer::start(Catalog::generate(1200));
    let catalog = server.catalog();
    let dir = TempDir::new();
    let names: Vec<String> = (0..1100).map(|i| catalog.name(i).into_owned()).collect();
    let list = dir.path().join("names.txt");
    let mut text = String::from("# 1,100 neurons\n\n");
    for n in &names {
        text.push_str(n);
        text.push('\n');
    }
    // A name given twice is fetched once.
    text.push_str(&names[5]);
    text.push('\n');
    std::fs::write(&list, text).unwrap();
    let out = dir.path().join("out");
    // The small log files keep 1,100 neurons cheap.
    let CliOutput { code, err, .. } = hpc_cli(&server)
        .args([
            "get",
            "--names",
            s(&list),
            "--what",
            "logs",
            "-o",
            s(&out),
            "--no-log",
        ])
        .run();
    println!("{err}");
    assert_eq!(code, 0, "{err}");
    let selects = requests_with(&server, "q=neuron_name:");
    let batches: Vec<Vec<String>> = selects
        .iter()
        .map(|t| q_values(t, "neuron_name:"))
        .collect();
    let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
    println!(
        "look-up requests: {}, names per request: {sizes:?}",
        selects.len()
    );
    assert_eq!(selects.len(), 3, "{sizes:?}");
    assert!(sizes.iter().all(|&k| k <= 500), "{sizes:?}");
    let mut asked: Vec<String> = batches.into_iter().flatten().collect();
    asked.sort();
    let mut expected = names.clone();
    expected.sort();
    assert_eq!(asked, expected, "every name asked once");
    // Two log files per neuron, each fetched once; the metadata table has every record.
    assert_eq!(names_in(&out.join("logs")).len(), 2 * 1100);
    assert_eq!(server.counters().files, 2 * 1100);
    assert_eq!(server.max_file_hits(), 1);
    assert_eq!(column(&out.join("metadata.csv"), "neuron_name"), names);
}

// ------------------------------------------------------------------------------------------
// Every file kind

#[test]
fn every_file_kind_lands_in_its_folder_byte_for_byte() {
    let n = 30;
    let server = FakeServer::start(Catalog::generate(n));
    let catalog = server.catalog();
    let base = server.base_url();
    let out = TempDir::new();
    let run = || {
        hpc_cli(&server)
            .args([
                "download",
                "--all",
                "--what",
                "cng,original,logs",
                "-o",
                s(out.path()),
                "--no-log",
            ])
            .run()
    };
    let CliOutput { code, err, .. } = run();
    println!("{err}");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("downloaded {}, skipped 0, failed 0", 4 * n)),
        "{err}"
    );
    let mut extensions = BTreeSet::new();
    for i in 0..n {
        let name = catalog.name(i);
        let cng = out.path().join("downloads").join(format!("{name}.swc"));
        assert_eq!(std::fs::read(&cng).unwrap(), catalog.swc_bytes(i));

        let source = catalog.source_path(i).unwrap();
        let ext = source
            .rsplit_once(&*format!("{name}."))
            .unwrap()
            .1
            .to_string();
        let original = out.path().join("original").join(format!("{name}.{ext}"));
        assert_eq!(
            std::fs::read(&original).unwrap_or_else(|e| panic!("{}: {e}", original.display())),
            fetch(&format!("{base}{source}")),
            "{}",
            original.display()
        );
        extensions.insert(ext);

        let dir = catalog.archive(i).unwrap().to_lowercase();
        let dir = percent_encode(&dir);
        let enc = percent_encode(&name);
        for (file, url) in [
            (
                format!("{name}.CNG.swc.std"),
                format!("{base}/dableFiles/{dir}/Remaining%20issues/{enc}.CNG.swc.std"),
            ),
            (
                format!("{name}.std"),
                format!("{base}/dableFiles/{dir}/Standardization%20log/{enc}.std"),
            ),
        ] {
            let got = std::fs::read(out.path().join("logs").join(&file)).unwrap();
            assert_eq!(got, fetch(&url), "{file}");
            assert!(!got.is_empty());
        }
    }
    // All three original formats (swc, asc, morph.xml) were exercised.
    assert_eq!(
        extensions,
        BTreeSet::from(["asc".to_string(), "morph.xml".into(), "swc".into()])
    );
    // Exactly those files, nothing half-written, each fetched once by the CLI.
    assert_eq!(names_in(&out.path().join("original")).len(), n);
    assert_eq!(names_in(&out.path().join("logs")).len(), 2 * n);
    assert_no_temp_files(out.path());

    // The paths the run reported as done are the ones a second run finds: all skipped.
    server.reset_counters();
    let CliOutput { code, err, .. } = run();
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("downloaded 0, skipped {}, failed 0", 4 * n)),
        "{err}"
    );
    assert_eq!(server.counters().files, 0);
}

// ------------------------------------------------------------------------------------------
// Morphometry

const MORPH: &[&str] = &[
    "soma_Surface",
    "n_stems",
    "n_bifs",
    "n_branch",
    "width",
    "height",
    "depth",
    "diameter",
    "length",
    "surface",
    "volume",
    "eucDistance",
    "pathDistance",
    "branch_Order",
    "contraction",
    "fragmentation",
    "partition_asymmetry",
    "pk_classic",
    "bif_ampl_local",
    "bif_ampl_remote",
    "fractal_Dim",
];

/// Check every morph_* cell of a metadata CSV against the server's measurements.
fn assert_morphometry_matches(table: &Path, catalog: &Catalog) -> usize {
    let (header, rows) = read_csv(table);
    let id_col = header.iter().position(|h| h == "neuron_id").unwrap();
    let morph_cols: Vec<usize> = MORPH
        .iter()
        .map(|m| {
            header
                .iter()
                .position(|h| *h == format!("morph_{m}"))
                .unwrap_or_else(|| panic!("no morph_{m} in {header:?}"))
        })
        .collect();
    assert_eq!(
        header.iter().filter(|h| h.starts_with("morph_")).count(),
        MORPH.len()
    );
    for row in &rows {
        let id: u64 = row[id_col].parse().unwrap();
        let m: Value =
            serde_json::from_str(&catalog.morphometry_json(row_of_id(catalog, id)).unwrap())
                .unwrap();
        for (k, &col) in MORPH.iter().zip(&morph_cols) {
            let want = m[*k].as_f64().unwrap();
            let got: f64 = row[col]
                .parse()
                .unwrap_or_else(|_| panic!("id {id} morph_{k} = {:?}", row[col]));
            assert_eq!(got, want, "id {id} morph_{k}");
        }
    }
    rows.len()
}

#[test]
fn morphometry_columns_come_in_batches_of_500() {
    let n = 1200;
    let server = FakeServer::start(Catalog::generate(n));
    let out = TempDir::new();
    let CliOutput { code, err, .. } = hpc_cli(&server)
        .args([
            "metadata",
            "--all",
            "--morphometry",
            "-o",
            s(out.path()),
            "--no-log",
        ])
        .run();
    assert_eq!(code, 0, "{err}");
    let rows = assert_morphometry_matches(&out.path().join("metadata.csv"), server.catalog());
    assert_eq!(rows, n);
    // One select per page of 500 records: 3 requests for 1,200 neurons.
    let selects = requests_with(&server, "/api/morphometry/select");
    let sizes: Vec<usize> = selects
        .iter()
        .map(|t| q_values(t, "Neuron_id:").len())
        .collect();
    println!(
        "morphometry requests: {}, ids per request: {sizes:?}",
        selects.len()
    );
    assert_eq!(server.counters().morphometry, 3);
    assert_eq!(sizes, [500, 500, 200]);

    // The library call itself: 1,200 ids, 3 requests, every neuron measured.
    server.reset_counters();
    let client = client(&server);
    let ids: Vec<u64> = (0..n).map(|i| server.catalog().id(i).unwrap()).collect();
    let m = client.morphometry(&ids).unwrap();
    assert_eq!(m.len(), n);
    assert_eq!(server.counters().morphometry, 3);
    assert_eq!(server.counters().requests, 3);
}

#[test]
fn morphometry_falls_back_to_one_request_per_neuron_when_batches_are_refused() {
    let n = 40;
    let server = FakeServer::start_with(
        Catalog::generate(n),
        ServerOptions {
            refuse_morphometry_batch: true,
            ..ServerOptions::default()
        },
    );
    let out = TempDir::new();
    let CliOutput { code, err, .. } = hpc_cli(&server)
        .args([
            "metadata",
            "--all",
            "--morphometry",
            "-o",
            s(out.path()),
            "--no-log",
        ])
        .run();
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        assert_morphometry_matches(&out.path().join("metadata.csv"), server.catalog()),
        n
    );
    // One refused batch (400, not retried), then one request per id.
    assert_eq!(requests_with(&server, "/api/morphometry/select").len(), 1);
    assert_eq!(requests_with(&server, "/api/morphometry/id/").len(), n);
    assert_eq!(server.counters().morphometry, 1 + n);

    // Same values as the batched form.
    server.set_refuse_morphometry_batch(false);
    server.reset_counters();
    let out2 = TempDir::new();
    let CliOutput { code, err, .. } = hpc_cli(&server)
        .args([
            "metadata",
            "--all",
            "--morphometry",
            "-o",
            s(out2.path()),
            "--no-log",
        ])
        .run();
    assert_eq!(code, 0, "{err}");
    assert_eq!(server.counters().morphometry, 1);
    assert_eq!(
        std::fs::read(out.path().join("metadata.csv")).unwrap(),
        std::fs::read(out2.path().join("metadata.csv")).unwrap()
    );
}

// ------------------------------------------------------------------------------------------
// Lossless metadata

#[test]
fn raw_csv_keeps_the_servers_values() {
    let n = 60;
    let server = FakeServer::start(Catalog::generate(n));
    let catalog = server.catalog();
    let out = TempDir::new();
    let CliOutput { code, err, .. } = hpc_cli(&server)
        .args([
            "metadata",
            "--all",
            "--metadata-format",
            "raw-csv",
            "-o",
            s(out.path()),
            "--no-log",
        ])
        .run();
    assert_eq!(code, 0, "{err}");
    let (header, rows) = read_csv(&out.path().join("metadata.csv"));
    let first = catalog.record_value(0);
    let keys: Vec<&String> = first
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "_links")
        .collect();
    assert_eq!(
        header.iter().collect::<Vec<_>>(),
        keys,
        "the server's keys, in order"
    );
    assert_eq!(rows.len(), n);
    let mut lists = 0;
    for (i, row) in rows.iter().enumerate() {
        let record = catalog.record_value(i);
        for (k, cell) in header.iter().zip(row) {
            let v = &record[k];
            assert_eq!(*cell, raw_value(v), "row {i} {k}");
            if let Value::Array(items) = v {
                lists += 1;
                let parts: Vec<&str> = if cell.is_empty() {
                    Vec::new()
                } else {
                    cell.split('|').collect()
                };
                let want: Vec<&str> = items.iter().map(|x| x.as_str().unwrap()).collect();
                assert_eq!(parts, want, "row {i} {k}");
            }
            if let Value::String(text) = v {
                assert_eq!(cell, text, "strings untouched");
            }
        }
    }
    assert!(lists > 0);
    // Spot check: the real record's lists and mixed-case values as the server sent them.
    let r0 = &rows[0];
    let col = |k: &str| header.iter().position(|h| h == k).unwrap();
    assert_eq!(r0[col("brain_region")], "neocortex|prefrontal|layer 3");
    assert_eq!(
        r0[col("cell_type")],
        "Local projecting|pyramidal|principal cell"
    );
    assert_eq!(r0[col("reference_pmid")], "12204204|12902394");
}

#[test]
fn jsonl_writes_each_record_as_the_server_sent_it() {
    let n = 60;
    let server = FakeServer::start(Catalog::generate(n));
    let catalog = server.catalog();
    let out = TempDir::new();
    let CliOutput { code, err, .. } = hpc_cli(&server)
        .args([
            "metadata",
            "--all",
            "--metadata-format",
            "jsonl",
            "-o",
            s(out.path()),
            "--no-log",
        ])
        .run();
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(out.path().join("metadata.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), n);
    for (i, line) in lines.iter().enumerate() {
        let got: Value = serde_json::from_str(line).unwrap();
        let want = catalog.record_value(i);
        assert_eq!(got, want, "record {i}");
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&got), keys(&want), "record {i}: key order");
        // Byte for byte, too.
        assert_eq!(*line, catalog.record_json(i), "record {i}");
    }
}

// ------------------------------------------------------------------------------------------
// Citations

/// (PMID, DOI) -> neurons, from `CITATIONS.md`'s table.
fn citation_rows(text: &str) -> BTreeMap<(String, String), u64> {
    let link_text = |cell: &str| -> String {
        let cell = cell.trim();
        match cell.strip_prefix('[') {
            Some(rest) => rest.split_once(']').unwrap().0.to_string(),
            None => cell.to_string(),
        }
    };
    text.lines()
        .filter(|l| l.starts_with("| [") || l.starts_with("|  |"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').collect();
            assert_eq!(cells.len(), 3, "{l}");
            (
                (link_text(cells[0]), link_text(cells[1])),
                cells[2].trim().parse().unwrap(),
            )
        })
        .collect()
}

/// What the catalog says the rows should be for these neurons.
fn expected_citations(catalog: &Catalog, rows: &[usize]) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    for &i in rows {
        let r = catalog.record_value(i);
        let list = |k: &str| -> Vec<String> {
            r[k].as_array()
                .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
                .unwrap_or_default()
        };
        let (pmids, dois) = (list("reference_pmid"), list("reference_doi"));
        for j in 0..pmids.len().max(dois.len()) {
            let key = (
                pmids.get(j).cloned().unwrap_or_default(),
                dois.get(j).cloned().unwrap_or_default(),
            );
            *out.entry(key).or_insert(0) += 1;
        }
    }
    out
}

#[test]
fn citations_list_every_source_publication_with_its_neuron_count() {
    let n = 60;
    let server = FakeServer::start(Catalog::generate(n));
    let catalog = server.catalog();
    // One file missing on the server: that neuron was not downloaded, so it is not cited.
    let missing = 7;
    server.remove_file(&catalog.name(missing));
    let out = TempDir::new();
    let CliOutput { code, err, .. } = hpc_cli(&server)
        .args(["download", "--all", "-o", s(out.path()), "--no-log"])
        .run();
    assert_eq!(code, 3, "one file failed\n{err}");
    let text = std::fs::read_to_string(out.path().join("CITATIONS.md")).unwrap();
    println!("{text}");
    assert!(text.contains("RRID:SCR_002145"), "{text}");
    assert!(
        text.contains(&format!("the {} neuron(s) downloaded", n - 1)),
        "{text}"
    );
    let downloaded: Vec<usize> = (0..n).filter(|&i| i != missing).collect();
    let want = expected_citations(catalog, &downloaded);
    let got = citation_rows(&text);
    assert_eq!(got, want);
    // Every distinct publication of the catalog is there (the removed neuron shares its
    // publications with others), and the counts add up.
    let pmids: BTreeSet<&str> = got.keys().map(|(p, _)| p.as_str()).collect();
    assert!(
        pmids.contains("12204204") && pmids.contains("20000005"),
        "{pmids:?}"
    );
    let per_neuron: HashMap<usize, usize> = downloaded
        .iter()
        .map(|&i| {
            (
                i,
                catalog.record_value(i)["reference_pmid"]
                    .as_array()
                    .map_or(0, Vec::len),
            )
        })
        .collect();
    assert_eq!(
        got.values().sum::<u64>(),
        per_neuron.values().sum::<usize>() as u64
    );
    // The links point where they should.
    assert!(
        text.contains("(https://pubmed.ncbi.nlm.nih.gov/12204204/)"),
        "{text}"
    );
    assert!(
        text.contains("(https://doi.org/10.1093/cercor/13.9.950)"),
        "{text}"
    );
}
