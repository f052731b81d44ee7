//! A fake NeuroMorpho.Org server for offline demos and benchmarks.
//!
//! ```text
//! cargo run --example fake-server -- [--neurons N] [--port P] [--latency-ms L] [--fault-rate F] [--seed S]
//! ```
//!
//! Defaults: 5000 neurons, release 1 (each later release adds a tenth and changes some files),
//! the real fixtures as bodies (`--small-files`: a few points each, for a whole archive), any free port, no latency, no faults. It prints exactly one line,
//! `listening on http://127.0.0.1:PORT`, then serves until killed. Point the CLI at it:
//!
//! ```text
//! neuromorpho --base-url http://127.0.0.1:PORT fields
//! ```
//!
//! `GET /__fake/stats` returns the request counters as JSON, `GET /__fake/reset` zeroes them.

use neuromorpho_fake_server::{Catalog, FakeServer, ServerOptions};
use std::io::Write;
use std::time::Duration;

struct Args {
    neurons: usize,
    port: u16,
    latency_ms: u64,
    fault_rate: f64,
    seed: u64,
    release: u32,
    small: bool,
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
            .unwrap_or(5000),
        port: a.opt_value_from_str("--port").map_err(e)?.unwrap_or(0),
        latency_ms: a
            .opt_value_from_str("--latency-ms")
            .map_err(e)?
            .unwrap_or(0),
        fault_rate: a
            .opt_value_from_str("--fault-rate")
            .map_err(e)?
            .unwrap_or(0.0),
        seed: a.opt_value_from_str("--seed").map_err(e)?.unwrap_or(1),
        release: a.opt_value_from_str("--release").map_err(e)?.unwrap_or(1),
        small: a.contains("--small-files"),
    };
    if let Some(extra) = a.finish().first() {
        return Err(format!("unknown option {}", extra.to_string_lossy()));
    }
    if args.release == 0 {
        return Err("--release counts from 1".to_string());
    }
    if !(0.0..=1.0).contains(&args.fault_rate) {
        return Err("--fault-rate must be between 0 and 1".to_string());
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("fake-server: {message}");
            }
            eprintln!(
                "usage: fake-server [--neurons N] [--port P] [--latency-ms L] [--fault-rate F] [--seed S] [--release R] [--small-files]"
            );
            std::process::exit(2);
        }
    };
    let options = ServerOptions {
        port: args.port,
        latency: Duration::from_millis(args.latency_ms),
        // A long-running server must not keep every request in memory.
        recording: false,
        ..ServerOptions::default()
    };
    let catalog = if args.small {
        Catalog::generate_small(args.neurons)
    } else {
        Catalog::generate(args.neurons)
    };
    let server = FakeServer::start_with(catalog, options);
    server.set_random_faults(args.fault_rate, args.seed);
    server.set_release(args.release);
    let mut stdout = std::io::stdout().lock();
    // The parent process (benchmark) waits for this line, so flush it at once.
    let _ = writeln!(stdout, "listening on {}", server.base_url());
    let _ = stdout.flush();
    drop(stdout);
    loop {
        std::thread::park();
    }
}
