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
//! The tests run this example's `run` against the fake server (tests/embedding.rs).

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

#[allow(dead_code)] // The test includes this file and calls `run` only.
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
