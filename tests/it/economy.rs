//! Request and connection economy (issue 4), counted on the fake server: a job sends exactly
//! one count, one request per page of 500, one per file, and nothing else; connections are
//! kept alive and reused; a rerun fetches no file again; names are looked up 500 at a time.
//!
//! No timing here: only counts (the benchmark, `examples/bench.rs`, measures time and memory).

use crate::support;

use neuromorpho::tables::MetadataWriter;
use neuromorpho::JobOptions;
use neuromorpho::{Client, MetadataFormat, NameLookup, ProxyMode, Query, SearchEvent};
use support::*;

const PAGE: usize = 500;

fn client(server: &FakeServer, concurrency: usize) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .proxy(ProxyMode::None)
        .rate(0.0)
        .concurrency(concurrency)
        .retry_base_delay(std::time::Duration::from_millis(5))
        .build()
        .unwrap()
}

/// Every counter but `connections`, `requests` and the three a job may use must be zero.
fn assert_only_count_pages_files(c: &Counters) {
    let rest = Counters {
        connections: 0,
        requests: 0,
        count: 0,
        pages: 0,
        files: 0,
        ..c.clone()
    };
    assert_eq!(rest, Counters::default(), "unexpected requests: {c:?}");
    assert_eq!(c.requests, c.count + c.pages + c.files, "{c:?}");
}

fn csv_rows(path: &std::path::Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    let mut rows = 0;
    for row in csv::Reader::from_reader(text.as_bytes()).records() {
        row.unwrap();
        rows += 1;
    }
    rows
}

#[test]
fn whole_catalog_job_is_one_count_one_request_per_page_and_per_file() {
    let n = 1200;
    let server = FakeServer::start(Catalog::generate(n));
    let out = TempDir::new();
    let c = client(&server, 8);
    let summary = c
        .download_query(&Query::all(), &JobOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!(summary.matched, n as u64);
    assert_eq!(summary.downloaded, n as u64);
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);

    let counters = server.counters();
    assert_eq!(counters.count, 1);
    assert_eq!(counters.pages, n.div_ceil(PAGE)); // 3
    assert_eq!(counters.files, n);
    assert_only_count_pages_files(&counters);
    assert_eq!(counters.requests, 1 + 3 + 1200);
    // The client's own count agrees: no request was retried or sent twice.
    assert_eq!(c.requests_sent(), counters.requests as u64);
    assert_eq!(server.max_file_hits(), 1, "a file was fetched twice");
    // Keep-alive: at most one connection per worker, whatever the number of requests.
    assert!(
        counters.connections <= 8,
        "{} connections for {} requests at concurrency 8",
        counters.connections,
        counters.requests
    );
}

#[test]
fn select_job_counts_only_matching_pages_and_files() {
    // species cycles every 18 rows (3 rows each of 6 species): 1/6 of 7200 are mice.
    let server = FakeServer::start(Catalog::generate(7200));
    let expected = (0..7200)
        .filter(|&i| server.catalog().record_value(i)["species"] == "mouse")
        .count();
    assert!((1000..=1400).contains(&expected), "{expected}");
    let out = TempDir::new();
    let c = client(&server, 8);
    let query = Query::new().filter("species", ["mouse"]);
    let summary = c
        .download_query(&query, &JobOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!(summary.matched, expected as u64);
    assert_eq!(summary.downloaded, expected as u64);

    let counters = server.counters();
    assert_eq!(counters.count, 1);
    assert_eq!(counters.pages, expected.div_ceil(PAGE));
    assert_eq!(counters.files, expected);
    assert_only_count_pages_files(&counters);
    assert_eq!(c.requests_sent(), counters.requests as u64);
}

#[test]
fn metadata_only_job_sends_the_count_and_the_pages_only() {
    let n = 2345;
    let server = FakeServer::start(Catalog::generate(n));
    let out = TempDir::new();
    let c = client(&server, 8);
    let mut options = JobOptions::new(out.path());
    options = options.metadata_only(true);
    let summary = c.download_query(&Query::all(), &options, |_| {}).unwrap();
    assert_eq!(summary.matched, n as u64);
    assert_eq!(summary.downloaded, 0);
    assert_eq!(csv_rows(&out.path().join("metadata.csv")), n);

    let counters = server.counters();
    assert_eq!(counters.count, 1);
    assert_eq!(counters.pages, n.div_ceil(PAGE)); // 5
    assert_eq!(counters.files, 0);
    assert_only_count_pages_files(&counters);
    assert_eq!(counters.requests, 1 + 5);
    assert!(!out.path().join("downloads").exists() || dir_is_empty(&out.path().join("downloads")));
}

fn dir_is_empty(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).unwrap().next().is_none()
}

#[test]
fn streaming_search_sends_the_count_and_the_pages_only() {
    // The library's streaming form, as the README shows it: search_each + MetadataWriter.
    let n = 1501;
    let server = FakeServer::start(Catalog::generate(n));
    let out = TempDir::new();
    let c = client(&server, 4);
    let path = out.path().join("all.csv");
    let mut table = MetadataWriter::create(&path, MetadataFormat::Csv).unwrap();
    let mut pages_seen = Vec::new();
    let total = c
        .search_each(&Query::all(), |event| match event {
            SearchEvent::Started { restart: true, .. } => table.reset(),
            SearchEvent::Page {
                number, neurons, ..
            } => {
                pages_seen.push((number, neurons.len()));
                table.write(&neurons)
            }
            _ => Ok(()),
        })
        .unwrap();
    table.finish().unwrap();
    assert_eq!(total, n as u64);
    // In order, 500 per page, the last one short.
    assert_eq!(pages_seen, [(0, 500), (1, 500), (2, 500), (3, 1)]);
    assert_eq!(csv_rows(&path), n);
    let counters = server.counters();
    assert_eq!((counters.count, counters.pages, counters.files), (1, 4, 0));
    assert_only_count_pages_files(&counters);
}

#[test]
fn connections_are_reused_across_hundreds_of_requests() {
    let n = 300;
    let concurrency = 8;
    let server = FakeServer::start(Catalog::generate(n));
    let out = TempDir::new();
    let c = client(&server, concurrency);
    let summary = c
        .download_query(&Query::all(), &JobOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!(summary.downloaded, n as u64);
    let counters = server.counters();
    assert_eq!(counters.requests, 1 + 1 + n);
    // The count runs alone, then at most `concurrency` workers each hold one connection at a
    // time and give it back to ureq's idle pool (sized concurrency + 2 per host) after
    // reading the body to its end; the next request of any worker takes it from there. So
    // `concurrency` connections suffice, and nothing here closes one (the fake server keeps
    // them alive, ureq's idle age is 15 s): no slack is needed.
    assert!(
        counters.connections <= concurrency,
        "{} connections for {} requests at concurrency {concurrency}",
        counters.connections,
        counters.requests
    );
    assert!(counters.connections >= 1);

    // The same client again: its idle connections serve the next job (the count and the
    // page open nothing new; the files are on disk and skipped).
    let before = server.counters();
    let again = c
        .download_query(&Query::all(), &JobOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!(again.skipped, n as u64);
    let after = server.counters();
    assert_eq!(after.requests - before.requests, 2);
    assert_eq!(
        after.connections - before.connections,
        0,
        "the second job did not reuse the client's idle connections"
    );
}

#[test]
fn a_rerun_downloads_nothing_again() {
    let n = 640;
    let server = FakeServer::start(Catalog::generate(n));
    let out = TempDir::new();
    let first = client(&server, 8)
        .download_query(&Query::all(), &JobOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!(first.downloaded, n as u64);
    assert_eq!(server.counters().files, n);

    server.reset_counters();
    // A new client (a new process would have one): the files on disk decide, not a cache.
    let c = client(&server, 8);
    let second = c
        .download_query(&Query::all(), &JobOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!(second.downloaded, 0);
    assert_eq!(second.skipped, n as u64);
    assert_eq!(second.bytes, 0);
    let counters = server.counters();
    assert_eq!(counters.files, 0, "a rerun fetched files again");
    // The metadata table is rewritten from a fresh search: 1 count + 2 pages.
    assert_eq!((counters.count, counters.pages), (1, 2));
    assert_only_count_pages_files(&counters);
}

#[test]
fn names_are_looked_up_five_hundred_per_request() {
    let server = FakeServer::start(Catalog::generate(3000));
    let c = client(&server, 4);
    // 1,201 distinct names (one unknown), plus a duplicate that must not cost anything.
    // Names of at most 10 characters: a batch also stops at about 6,000 characters of names
    // (to keep the URL under Tomcat's 8 KB), which 500 names this short never reach.
    let mut names: Vec<String> = (1..3000)
        .map(|i| server.catalog().name(i).into_owned())
        .filter(|name| name.len() <= 10)
        .take(1200)
        .collect();
    assert_eq!(names.len(), 1200);
    names.push("no_such_neuron".to_string());
    names.push(names[0].clone());
    let NameLookup { found, missing, .. } = c.neurons_by_name(&names).unwrap();
    assert_eq!(found.len(), 1200);
    assert_eq!(missing, ["no_such_neuron"]);
    let counters = server.counters();
    // 1,201 distinct names -> ceil(1201 / 500) = 3 select requests, and nothing else.
    assert_eq!(counters.pages, 1201usize.div_ceil(500));
    assert_eq!(counters.requests, 3, "{counters:?}");
    assert_only_count_pages_files(&counters);

    // `get` (download_names): the same selects, then one request per file found.
    server.reset_counters();
    let out = TempDir::new();
    let summary = c
        .download_names(&names, &JobOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!(summary.downloaded, 1200);
    assert_eq!(summary.not_found, ["no_such_neuron"]);
    let counters = server.counters();
    assert_eq!(counters.count, 0);
    assert_eq!(counters.pages, 3);
    assert_eq!(counters.files, 1200);
    assert_only_count_pages_files(&counters);
}
