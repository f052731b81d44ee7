//! Embedding the library in a program of your own: build a client, preview a count, stream
//! a search into a metadata table in constant memory, download files while counting them in
//! a plain `usize`, stop the download from a second thread, and read an error's HTTP status.
//!
//! ```text
//! cargo run --example embed -- [--base-url URL] [--no-proxy] [-o DIR] [-f FIELD=VALUE]
//!                              [--files N] [--stop-after K]
//! ```
//!
//! Defaults: https://neuromorpho.org, `-f species=mouse`, output folder `embed-out`, 3 files,
//! no stop. Offline, against the fake server (`cargo run --example fake-server` prints its URL):
//!
//! ```text
//! cargo run --example embed -- --base-url http://127.0.0.1:PORT --no-proxy -o /tmp/embed
//! ```
//!
//! `cargo test` runs this example's `run` against the fake server (the tests at the end of
//! this file; `test = true` in Cargo.toml).

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use neuromorpho::tables::MetadataWriter;
use neuromorpho::{
    CancelToken, Client, DownloadOptions, Error, MetadataFormat, Neuron, Progress, ProxyMode,
    Query, SearchEvent,
};

/// What the example is asked to do.
#[derive(Debug, Clone)]
pub struct Args {
    pub base_url: String,
    pub no_proxy: bool,
    pub out: PathBuf,
    pub field: String,
    pub value: String,
    /// Neurons to download.
    pub files: usize,
    /// Ask a second thread to cancel the download once this many files are done.
    pub stop_after: Option<usize>,
}

/// What happened, for the printout (and for the test that runs this example).
#[derive(Debug, Default)]
pub struct Outcome {
    pub total: u64,
    pub rows: u64,
    /// Files counted by the progress callback, in a plain `usize`.
    pub files_done: usize,
    pub downloaded: u64,
    /// The download was stopped through the cancellation token.
    pub cancelled: bool,
    /// The HTTP status the server gave for a field that does not exist.
    pub unknown_field_status: Option<u16>,
    pub requests: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = pico_args::Arguments::from_env();
    let e = |e: pico_args::Error| e.to_string();
    let filter: Option<String> = a.opt_value_from_str(["-f", "--filter"]).map_err(e)?;
    let (field, value) = match filter {
        None => ("species".to_string(), "mouse".to_string()),
        Some(f) => {
            let (k, v) = f
                .split_once('=')
                .ok_or_else(|| format!("-f {f}: expected FIELD=VALUE"))?;
            (k.to_string(), v.to_string())
        }
    };
    let args = Args {
        base_url: a
            .opt_value_from_str("--base-url")
            .map_err(e)?
            .unwrap_or_else(|| neuromorpho::DEFAULT_BASE_URL.to_string()),
        no_proxy: a.contains("--no-proxy"),
        out: a
            .opt_value_from_os_str(["-o", "--output"], |s| Ok::<_, String>(PathBuf::from(s)))
            .map_err(e)?
            .unwrap_or_else(|| PathBuf::from("embed-out")),
        field,
        value,
        files: a.opt_value_from_str("--files").map_err(e)?.unwrap_or(3),
        stop_after: a.opt_value_from_str("--stop-after").map_err(e)?,
    };
    if let Some(extra) = a.finish().first() {
        return Err(format!("unknown option {}", extra.to_string_lossy()));
    }
    Ok(args)
}

fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            let _ = writeln_err(&format!(
                "embed: {e}\nusage: embed [--base-url URL] [--no-proxy] [-o DIR] [-f FIELD=VALUE] [--files N] [--stop-after K]"
            ));
            return std::process::ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(o) => {
            let _ = writeln_out(&format!("{o:#?}"));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            // Every library error is one line that names what failed.
            let _ = writeln_err(&format!("embed: {e}"));
            std::process::ExitCode::from(1)
        }
    }
}

fn writeln_out(s: &str) -> std::io::Result<()> {
    use std::io::Write;
    writeln!(std::io::stdout(), "{s}")
}

fn writeln_err(s: &str) -> std::io::Result<()> {
    use std::io::Write;
    writeln!(std::io::stderr(), "{s}")
}

pub fn run(args: &Args) -> neuromorpho::Result<Outcome> {
    let mut outcome = Outcome::default();
    // 1. A client: polite defaults (5 API requests/s, retries with backoff), TLS verified.
    let client = Client::builder()
        .base_url(&args.base_url)
        .proxy(if args.no_proxy {
            ProxyMode::None
        } else {
            ProxyMode::Env
        })
        .concurrency(4)
        .read_timeout(Duration::from_secs(30))
        .build()?;

    // 2. An error keeps its facts: the HTTP status, the URL, the cause.
    match client.field_values("no_such_field_at_all") {
        Err(e @ Error::Request { .. }) => outcome.unknown_field_status = e.status(),
        Err(other) => return Err(other),
        Ok(_) => {}
    }

    // 3. Preview: one request.
    let query = Query::new()
        .filter(&args.field, [args.value.as_str()])
        .sort_by("neuron_id", true);
    outcome.total = client.count(&query)?;

    // 4. Stream every page into the metadata table; keep only what a download needs for the
    //    first few neurons (memory stays flat however large the result).
    let mut table = MetadataWriter::create(args.out.join("metadata.csv"), MetadataFormat::Csv)?;
    let mut to_download: Vec<Neuron> = Vec::new();
    client.search_each(&query, |event| match event {
        SearchEvent::Started { restart, .. } => {
            if restart {
                // The server's data changed under us: start the table again.
                to_download.clear();
                table.reset()?;
            }
            Ok(())
        }
        SearchEvent::Page { neurons, .. } => {
            let room = args.files.saturating_sub(to_download.len());
            to_download.extend(neurons.iter().take(room).cloned());
            table.write(&neurons)
        }
        _ => Ok(()),
    })?;
    outcome.rows = table.rows();
    table.finish()?;

    // 5. Download, counting files in a plain usize (the callback runs on this thread), and
    //    let a second thread cancel once `stop_after` files are done.
    let token = CancelToken::new();
    let stoppable = client.with_cancel(&token);
    let (tell, told) = mpsc::channel::<()>();
    let canceller = std::thread::spawn({
        let token = token.clone();
        move || {
            if told.recv().is_ok() {
                token.cancel();
            }
        }
    });
    let mut files_done = 0usize;
    let result = stoppable.download(&to_download, &DownloadOptions::new(&args.out), |p| {
        if let Progress::File { .. } = p {
            files_done += 1;
            if Some(files_done) == args.stop_after {
                let _ = tell.send(());
            }
        }
    });
    drop(tell);
    let _ = canceller.join();
    outcome.files_done = files_done;
    match result {
        Ok(report) => outcome.downloaded = report.downloaded,
        Err(Error::Cancelled) => outcome.cancelled = true,
        Err(e) => return Err(e),
    }
    outcome.requests = client.requests_sent();
    Ok(outcome)
}

/// The example run as a program embedding the library would run it, against the fake
/// NeuroMorpho.Org: it counts files from the progress callback, cancels from a second
/// thread, and reads an error's HTTP status.
#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::mpsc;
    use std::time::Duration;

    use neuromorpho_fake_server::{Catalog, FakeServer};

    use super::{run, Args, Outcome};

    /// A fresh folder, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let p = std::env::temp_dir().join(format!("nm-embed-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn args(server: &FakeServer, out: &Path) -> Args {
        Args {
            base_url: server.base_url(),
            no_proxy: true,
            out: out.to_path_buf(),
            field: "species".into(),
            value: "mouse".into(),
            files: 20,
            stop_after: None,
        }
    }

    /// `run` on another thread, failing the test after `limit` instead of hanging.
    fn run_within(limit: Duration, a: Args) -> Outcome {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(run(&a));
        });
        rx.recv_timeout(limit)
            .expect("the embed example did not finish in time")
            .unwrap()
    }

    /// Catalog rows whose CNG file is in place, each checked byte for byte (a file under
    /// its final name is always complete).
    fn rows_in_place(out: &Path, server: &FakeServer) -> Vec<usize> {
        let mut rows = Vec::new();
        for i in 0..server.catalog().len() {
            let p = out
                .join("downloads")
                .join(format!("{}.swc", server.catalog().name(i)));
            if let Ok(bytes) = std::fs::read(&p) {
                assert!(
                    bytes == server.catalog().swc_bytes(i),
                    "{} is under its final name but not complete",
                    p.display()
                );
                rows.push(i);
            }
        }
        rows
    }

    /// Temporary (`.part`) files anywhere under `dir`.
    fn part_files(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().ends_with(".part"))
                {
                    found.push(p);
                }
            }
        }
        found
    }

    #[test]
    fn the_embedding_example_cancels_from_a_second_thread_and_reads_statuses() {
        let server = FakeServer::start(Catalog::generate(300));
        let mice = server.catalog().query("species:mouse", &[]).unwrap();
        assert!(mice.len() > 20, "{} mice", mice.len());
        // 20 files at 100 ms each, 4 at a time: 0.5 s, so that the cancel lands mid-way.
        server.set_latency(Duration::from_millis(100));
        let out = TempDir::new("cancel");
        let a = Args {
            stop_after: Some(3),
            ..args(&server, &out.0)
        };
        let o = run_within(Duration::from_secs(60), a);
        assert!(o.cancelled, "{o:?}");
        assert!(o.files_done >= 3 && o.files_done < 20, "{o:?}");
        assert_eq!(o.downloaded, 0, "a cancelled download returns no report");
        // The fake server, like the real one, answers 404 for an unknown field.
        assert_eq!(o.unknown_field_status, Some(404), "{o:?}");
        assert_eq!(o.total, mice.len() as u64);
        assert_eq!(o.rows, mice.len() as u64);
        assert!(o.requests > 0);
        // What was downloaded before the cancel is whole; nothing temporary is left.
        let present = rows_in_place(&out.0, &server);
        assert!(present.len() >= 3 && present.len() < 20, "{present:?}");
        assert!(present.iter().all(|i| mice.contains(i)));
        assert_eq!(part_files(&out.0), Vec::<PathBuf>::new());
        let table = std::fs::read_to_string(out.0.join("metadata.csv")).unwrap();
        let mut r = csv::Reader::from_reader(table.as_bytes());
        assert_eq!(r.records().count(), mice.len());
    }

    #[test]
    fn the_embedding_example_without_a_stop_downloads_everything_asked() {
        let server = FakeServer::start(Catalog::generate(300));
        let out = TempDir::new("all");
        let o = run_within(Duration::from_secs(60), args(&server, &out.0));
        assert!(!o.cancelled, "{o:?}");
        assert_eq!((o.files_done, o.downloaded), (20, 20), "{o:?}");
        assert_eq!(o.unknown_field_status, Some(404));
        assert_eq!(rows_in_place(&out.0, &server).len(), 20);
        assert_eq!(part_files(&out.0), Vec::<PathBuf>::new());
    }
}
