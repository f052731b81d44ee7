//! Embedding the library in a program of your own: build a client, preview a count, stream
//! a search into a metadata table in constant memory, download a few files, print the report.
//!
//! ```text
//! cargo run --example embed -- [--base-url URL] [--no-proxy] [-o DIR] [-f FIELD=VALUE] [--files N]
//! ```
//!
//! Defaults: https://neuromorpho.org, `-f species=mouse`, output folder `embed-out`, 3 files.
//! Offline, against the fake server (`cargo run --example fake-server` prints its URL):
//!
//! ```text
//! cargo run --example embed -- --base-url http://127.0.0.1:PORT --no-proxy -o /tmp/embed
//! ```

use std::path::PathBuf;
use std::time::Duration;

use neuromorpho::{
    Client, DownloadItem, DownloadOptions, MetadataFormat, MetadataWriter, Progress, ProxyMode,
    Query, SearchEvent,
};

struct Args {
    base_url: String,
    no_proxy: bool,
    out: PathBuf,
    field: String,
    value: String,
    files: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        base_url: neuromorpho::DEFAULT_BASE_URL.to_string(),
        no_proxy: false,
        out: PathBuf::from("embed-out"),
        field: "species".into(),
        value: "mouse".into(),
        files: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--base-url" => args.base_url = value()?,
            "--no-proxy" => args.no_proxy = true,
            "-o" | "--output" => args.out = PathBuf::from(value()?),
            "-f" | "--filter" => {
                let v = value()?;
                let (f, x) = v
                    .split_once('=')
                    .ok_or_else(|| format!("-f {v}: expected FIELD=VALUE"))?;
                args.field = f.to_string();
                args.value = x.to_string();
            }
            "--files" => args.files = value()?.parse().map_err(|e| format!("--files: {e}"))?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("embed: {e}");
            eprintln!(
                "usage: embed [--base-url URL] [--no-proxy] [-o DIR] [-f FIELD=VALUE] [--files N]"
            );
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        // Every library error is one line that names what failed.
        eprintln!("embed: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> neuromorpho::Result<()> {
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

    // 2. Preview: one request.
    let query = Query::new()
        .filter(&args.field, [args.value.as_str()])
        .sort_by("neuron_id", true);
    client.validate(&query)?;
    let total = client.count(&query)?;
    println!(
        "{total} neurons with {}={} on {}",
        args.field,
        args.value,
        client.base_url()
    );

    // 3. Stream every page into the metadata table; keep only what a download needs for
    //    the first few neurons (memory stays flat however large the result). The writer
    //    creates the folder.
    let mut table = MetadataWriter::create(args.out.join("metadata.csv"), MetadataFormat::Csv)?;
    let mut to_download: Vec<DownloadItem> = Vec::new();
    let received = client.search_each(&query, |event| match event {
        SearchEvent::Started { pages, restart, .. } => {
            if restart {
                // The server's data changed under us: start the table again.
                to_download.clear();
                table.reset()?;
            }
            println!("fetching {pages} page(s) of metadata");
            Ok(())
        }
        SearchEvent::Page {
            number,
            pages,
            neurons,
        } => {
            let room = args.files.saturating_sub(to_download.len());
            to_download.extend(
                neurons
                    .iter()
                    .take(room)
                    .map(|n| DownloadItem::from_neuron(n, &[])),
            );
            println!("  page {}/{pages}: {} records", number + 1, neurons.len());
            table.write(&neurons)
        }
        _ => Ok(()),
    })?;
    let rows = table.rows();
    let table_path = table.finish()?;
    println!(
        "metadata: {rows} rows -> {} (search returned {received})",
        table_path.display()
    );

    // 4. Download a few standardized SWC files; a failure is reported, never fatal.
    let options = DownloadOptions::new(&args.out);
    let report = client.download(&to_download, &options, &|p| {
        if let Progress::DownloadStarted { files } = p {
            println!("downloading {files} file(s)");
        }
    })?;
    println!(
        "downloaded {}, skipped {}, failed {}, {} bytes",
        report.downloaded,
        report.skipped,
        report.failed.len(),
        report.bytes
    );
    for (name, path) in &report.files {
        println!("  {name} -> {}", path.display());
    }
    for f in &report.failed {
        println!(
            "  FAILED {}: {} [{}] {}",
            f.neuron_name, f.detail, f.kind, f.url
        );
    }
    if let Some(p) = report.write_failed_csv(&args.out)? {
        println!("failures listed in {}", p.display());
    }
    println!("{} HTTP requests in all", client.requests_sent());
    Ok(())
}
