//! Soak run: the real library against the fake server with random faults, then every file
//! checked byte by byte. Prints one table of figures; it is not a timed test.
//!
//! ```text
//! cargo run --release --example soak -- [--neurons 2000] [--fault-rate 0.1] [--seed 1] [-c 20]
//!                                        [--latency-ms 0] [--retry-base-ms 500]
//! ```
//!
//! The fake server runs in this process on 127.0.0.1 with `set_random_faults(rate, seed)`:
//! 503, 429 (`Retry-After: 0`), a reset before the headers, a body cut short and an HTML
//! page with status 200, never more than twice in a row for one URL, so that the library's
//! default 4 attempts always get through. `Client::download_query` (the one-call job of the CLI)
//! fetches the whole catalog into a temporary folder; then each file is compared with the
//! catalog's bytes. Exit status 1 if any file is corrupt or missing, or a temporary file is left.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use neuromorpho::JobOptions;
use neuromorpho::{Client, ProxyMode, Query};
use neuromorpho_fake_server::{Catalog, FakeServer, ServerOptions};

struct Args {
    neurons: usize,
    fault_rate: f64,
    seed: u64,
    concurrency: usize,
    latency_ms: u64,
    retry_base_ms: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = pico_args::Arguments::from_env();
    if a.contains(["-h", "--help"]) {
        return Err(String::new());
    }
    let e = |e: pico_args::Error| e.to_string();
    let args = Args {
        neurons: a
            .opt_value_from_str("--neurons")
            .map_err(e)?
            .unwrap_or(2000),
        fault_rate: a
            .opt_value_from_str("--fault-rate")
            .map_err(e)?
            .unwrap_or(0.1),
        seed: a.opt_value_from_str("--seed").map_err(e)?.unwrap_or(1),
        concurrency: a
            .opt_value_from_str(["-c", "--concurrency"])
            .map_err(e)?
            .unwrap_or(20),
        latency_ms: a
            .opt_value_from_str("--latency-ms")
            .map_err(e)?
            .unwrap_or(0),
        retry_base_ms: a
            .opt_value_from_str("--retry-base-ms")
            .map_err(e)?
            .unwrap_or(500),
    };
    if let Some(extra) = a.finish().first() {
        return Err(format!("unknown option {}", extra.to_string_lossy()));
    }
    if !(0.0..=1.0).contains(&args.fault_rate) {
        return Err("--fault-rate must be between 0 and 1".to_string());
    }
    Ok(args)
}

/// Every file under `dir`, hidden ones included.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("soak: {message}");
            }
            eprintln!(
                "usage: soak [--neurons N] [--fault-rate F] [--seed S] [-c C] [--latency-ms L] [--retry-base-ms B]"
            );
            std::process::exit(2);
        }
    };

    let server = FakeServer::start_with(
        Catalog::generate(args.neurons),
        ServerOptions {
            latency: Duration::from_millis(args.latency_ms),
            recording: false,
            ..ServerOptions::default()
        },
    );
    server.set_random_faults(args.fault_rate, args.seed);

    let out = std::env::temp_dir().join(format!("neuromorpho-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let client = match Client::builder()
        .base_url(server.base_url())
        .proxy(ProxyMode::None)
        // A local server needs no politeness; retries and backoff stay the library's defaults.
        .rate(0.0)
        .concurrency(args.concurrency)
        .retry_base_delay(Duration::from_millis(args.retry_base_ms))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("soak: {e}");
            std::process::exit(2);
        }
    };

    let started = Instant::now();
    let result = client.download_query(&Query::all(), &JobOptions::new(&out), |_| {});
    let seconds = started.elapsed().as_secs_f64();

    let (mut complete, mut corrupt, mut missing) = (0usize, 0usize, 0usize);
    for i in 0..args.neurons {
        let path = out
            .join("downloads")
            .join(format!("{}.swc", server.catalog().name(i)));
        match std::fs::read(&path) {
            Ok(bytes) if bytes == server.catalog().swc_bytes(i) => complete += 1,
            Ok(_) => {
                corrupt += 1;
                eprintln!("soak: corrupt: {}", path.display());
            }
            Err(_) => missing += 1,
        }
    }
    let files = files_under(&out);
    let parts = files
        .iter()
        .filter(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy();
            n.starts_with('.') && n.ends_with(".part")
        })
        .count();
    let k = server.counters();
    let outcome = match &result {
        Ok(s) if s.failed.is_empty() => "ok, 0 failed".to_string(),
        Ok(s) => format!(
            "{} failed (in failed.csv: {})",
            s.failed.len(),
            s.written.failed_list.is_some()
        ),
        Err(e) => format!("error: {e}"),
    };

    let rows: Vec<(&str, String)> = vec![
        ("neurons", args.neurons.to_string()),
        ("files complete (byte-identical)", complete.to_string()),
        ("files corrupt", corrupt.to_string()),
        ("files missing", missing.to_string()),
        ("temporary files left", parts.to_string()),
        ("requests", k.requests.to_string()),
        ("  file requests", k.files.to_string()),
        (
            "  API requests (count + pages)",
            (k.count + k.pages).to_string(),
        ),
        ("faults injected", k.faults.to_string()),
        (
            "attempts per file (max)",
            server.max_file_hits().to_string(),
        ),
        ("exit / failed", outcome),
        ("seconds", format!("{seconds:.1}")),
    ];
    println!(
        "soak: fault rate {}, seed {}, -c {}, latency {} ms, retry base {} ms",
        args.fault_rate, args.seed, args.concurrency, args.latency_ms, args.retry_base_ms
    );
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    println!("| {:<width$} | {:>14} |", "figure", "value");
    println!("|{}|{}|", "-".repeat(width + 2), "-".repeat(16));
    for (name, value) in &rows {
        println!("| {name:<width$} | {value:>14} |");
    }

    let _ = std::fs::remove_dir_all(&out);
    if corrupt > 0 || missing > 0 || parts > 0 || result.is_err() {
        std::process::exit(1);
    }
}
