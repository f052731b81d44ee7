//! Issue 8: `examples/embed.rs`, a program embedding the library, run against the fake
//! server. It counts files in a plain `usize` from the progress callback (which runs on the
//! calling thread), cancels the download from a second thread, and reads an error's HTTP
//! status.

mod support;

#[path = "../examples/embed.rs"]
mod embed;

use std::path::PathBuf;
use std::time::Duration;

use support::*;

fn args(server: &FakeServer, out: &std::path::Path) -> embed::Args {
    embed::Args {
        base_url: server.base_url(),
        no_proxy: true,
        out: out.to_path_buf(),
        field: "species".into(),
        value: "mouse".into(),
        files: 20,
        stop_after: None,
    }
}

#[test]
fn the_embedding_example_cancels_from_a_second_thread_and_reads_statuses() {
    let server = FakeServer::start(Catalog::generate(300));
    let mice = server.catalog().query("species:mouse", &[]).unwrap();
    assert!(mice.len() > 20, "{} mice", mice.len());
    // 20 files at 100 ms each, 4 at a time: 0.5 s, so that the cancel lands mid-way.
    server.set_latency(Duration::from_millis(100));
    let out = TempDir::new();
    let a = embed::Args {
        stop_after: Some(3),
        ..args(&server, out.path())
    };
    let o = within(Duration::from_secs(60), "the embed example", move || {
        embed::run(&a)
    })
    .unwrap()
    .unwrap();
    assert!(o.cancelled, "{o:?}");
    assert!(o.files_done >= 3 && o.files_done < 20, "{o:?}");
    assert_eq!(o.downloaded, 0, "a cancelled download returns no report");
    // The fake server, like the real one, answers 404 for an unknown field.
    assert_eq!(o.unknown_field_status, Some(404), "{o:?}");
    assert_eq!(o.total, mice.len() as u64);
    assert_eq!(o.rows, mice.len() as u64);
    assert!(o.requests > 0);
    // What was downloaded before the cancel is whole; nothing temporary is left.
    let present = rows_in_place(out.path(), &server);
    assert!(present.len() >= 3 && present.len() < 20, "{present:?}");
    assert!(present.iter().all(|i| mice.contains(i)));
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());
    let table = std::fs::read_to_string(out.path().join("metadata.csv")).unwrap();
    let mut r = csv::Reader::from_reader(table.as_bytes());
    assert_eq!(r.records().count(), mice.len());
}

#[test]
fn the_embedding_example_without_a_stop_downloads_everything_asked() {
    let server = FakeServer::start(Catalog::generate(300));
    let out = TempDir::new();
    let a = args(&server, out.path());
    let o = within(Duration::from_secs(60), "the embed example", move || {
        embed::run(&a)
    })
    .unwrap()
    .unwrap();
    assert!(!o.cancelled, "{o:?}");
    assert_eq!((o.files_done, o.downloaded), (20, 20), "{o:?}");
    assert_eq!(o.unknown_field_status, Some(404));
    assert_eq!(rows_in_place(out.path(), &server).len(), 20);
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());
}
