//! The performance evidence of issue 4: requests, connections, wall time against the latency
//! bound, CPU time, peak memory, start-up time — measured on the real library code against
//! the fake NeuroMorpho.Org server.
//!
//! ```text
//! cargo build --release --examples          # builds this benchmark AND the fake server
//! cargo build --release                     # optional: the CLI, for the start-up time
//! cargo run --release --example bench -- --neurons 300000 --latency-ms 50 -c 20
//! ```
//!
//! Flags: `--neurons N` (catalog of the metadata run, default 300,000), `--files F` (neurons
//! of the download run, default 2,000), `--latency-ms L` (added by the server to every
//! answer, default 50), `-c C` (client concurrency, default 20), `--rate R` (API requests per
//! second, default 0 = unlimited), `--keep` (keep the output folder).
//!
//! How it works:
//! * Two fake servers run as child processes (`target/release/examples/fake-server`), so that
//!   their memory and CPU are not counted as the client's: one with `N` neurons, one with `F`.
//! * Each run is a separate process (this program re-executed with `--only metadata` or
//!   `--only download`), so each has its own peak RSS (`VmHWM`) and CPU time (`getrusage`).
//!   * metadata: `search_and_download` with `download: false` over the whole catalog of `N`
//!     (what `neuromorpho metadata --all` does): 1 count + ceil(N/500) pages, streamed
//!     into `metadata.csv`.
//!   * download: `search_and_download` over the whole catalog of the second server (`F`
//!     neurons): 1 count + ceil(F/500) pages + F files. A second server rather than a query on
//!     the big one, so that the search part stays a few pages and the files dominate.
//! * Before each run the server's counters are zeroed (`/__fake/reset`), after it they are
//!   read (`/__fake/stats`).
//! * Durability and integrity (issue 10), after the table: F files downloaded durable (each
//!   file synced before its rename, the folder after) and not (`--only download-nosync`),
//!   twice each, alternating, each in its own process after a `sync`, the faster files phase
//!   kept: from a server with the latency L and from one without; the differences are the
//!   cost of syncing per 1,000 files, when latency-bound and when disk-bound. Then, on the
//!   durable folder: `verify` with SHA-256 and with sizes only (their difference is the cost
//!   of hashing per 1,000 files), and `sha256sum -c SHA256SUMS` run as a child process,
//!   timed the same way, for verify's MB/s beside it (skipped with a note when sha256sum is
//!   missing).
//! * Metadata at the speed of the wire (issue 13), last (alone with `--wire-only`): a third
//!   server without latency; three rounds of the raw fetch (`--only raw-fetch`: a plain loop
//!   of C threads doing GETs of the same pages with one ureq agent, bodies read and thrown
//!   away) then the metadata run, both unpaced; medians of wall and CPU, their ratio, CPU
//!   per 100,000 records and peak RSS.
//! * Bounds: every answer takes at least L, and at most C requests are in flight, so a search
//!   cannot take less than L (the count) + ceil(pages/C) * L, nor F downloads less than
//!   ceil(F/C) * L. With `--rate R`, API requests are also at most R per second.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use neuromorpho::{Client, Progress, ProxyMode, Query};
use neuromorpho::{DownloadOptions, JobOptions};

const PAGE: u64 = 500;

#[derive(Debug, Clone)]
struct Args {
    neurons: u64,
    files: u64,
    latency_ms: u64,
    concurrency: usize,
    rate: f64,
    keep: bool,
    /// Only the metadata speed against the raw fetch (issue 13).
    wire_only: bool,
    /// Child mode: `metadata` or `download`.
    only: Option<String>,
    base_url: Option<String>,
    out: Option<PathBuf>,
}

const USAGE: &str =
    "usage: bench [--neurons N] [--files F] [--latency-ms L] [-c C] [--rate R] [--keep] [--wire-only]";

fn parse_args() -> Result<Args, String> {
    let mut p = pico_args::Arguments::from_env();
    if p.contains(["-h", "--help"]) {
        return Err(String::new());
    }
    let e = |e: pico_args::Error| e.to_string();
    let a = Args {
        keep: p.contains("--keep"),
        wire_only: p.contains("--wire-only"),
        neurons: p
            .opt_value_from_str("--neurons")
            .map_err(e)?
            .unwrap_or(300_000),
        files: p.opt_value_from_str("--files").map_err(e)?.unwrap_or(2000),
        latency_ms: p
            .opt_value_from_str("--latency-ms")
            .map_err(e)?
            .unwrap_or(50),
        concurrency: p
            .opt_value_from_str(["-c", "--concurrency"])
            .map_err(e)?
            .unwrap_or(20),
        rate: p.opt_value_from_str("--rate").map_err(e)?.unwrap_or(0.0),
        only: p.opt_value_from_str("--only").map_err(e)?,
        base_url: p.opt_value_from_str("--base-url").map_err(e)?,
        out: p
            .opt_value_from_os_str("--out", |s| Ok::<_, String>(PathBuf::from(s)))
            .map_err(e)?,
    };
    if let Some(extra) = p.finish().first() {
        return Err(format!("unknown option {}", extra.to_string_lossy()));
    }
    if a.concurrency == 0 || !(a.rate >= 0.0 && a.rate.is_finite()) {
        return Err("-c must be at least 1 and --rate 0 or positive".into());
    }
    Ok(a)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("bench: {message}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let result = match args.only.as_deref() {
        Some(kind) => child(&args, kind),
        None => parent(&args),
    };
    if let Err(e) = result {
        eprintln!("bench: {e}");
        std::process::exit(1);
    }
}

// ------------------------------------------------------------------------------------------
// Child: one run of the library in its own process.

fn child(args: &Args, kind: &str) -> Result<(), String> {
    let base_url = args.base_url.clone().ok_or("--only needs --base-url")?;
    let out = args.out.clone().ok_or("--only needs --out")?;
    if kind == "raw-fetch" {
        return raw_fetch(args, &base_url);
    }
    let (download, durable) = match kind {
        "metadata" => (false, true),
        "download" => (true, true),
        "download-nosync" => (true, false),
        other => {
            return Err(format!(
                "--only {other}: expected metadata, download, download-nosync or raw-fetch"
            ))
        }
    };
    let client = Client::builder()
        .base_url(base_url)
        .proxy(ProxyMode::None)
        .concurrency(args.concurrency)
        .rate(args.rate)
        .build()
        .map_err(|e| e.to_string())?;
    let options =
        JobOptions::from(DownloadOptions::new(&out).durable(durable)).metadata_only(!download);
    // The files phase: from the moment downloads start to the last file done.
    let phase: Mutex<(Option<Instant>, Option<Instant>)> = Mutex::new((None, None));
    let progress = |p: &Progress| match p {
        Progress::DownloadStarted { .. } => {
            phase.lock().unwrap().0 = Some(Instant::now());
        }
        Progress::File { .. } => {
            phase.lock().unwrap().1 = Some(Instant::now());
        }
        _ => {}
    };
    let cpu0 = cpu_seconds().unwrap_or((0.0, 0.0));
    let started = Instant::now();
    let summary = client
        .download_query(&Query::all(), &options, progress)
        .map_err(|e| e.to_string())?;
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds().map(|(u, s)| (u - cpu0.0, s - cpu0.1));
    let phase_wall = match *phase.lock().unwrap() {
        (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    let bytes = bytes_under(&out);
    println!(
        "RESULT wall={wall:.6} cpu_user={} cpu_sys={} rss_kb={} bytes={bytes} matched={} downloaded={} failed={} phase_wall={phase_wall:.6} requests_sent={}",
        cpu.map(|c| format!("{:.6}", c.0)).unwrap_or_else(|| "nan".into()),
        cpu.map(|c| format!("{:.6}", c.1)).unwrap_or_else(|| "nan".into()),
        peak_rss_kb().map(|k| k.to_string()).unwrap_or_else(|| "0".into()),
        summary.matched,
        summary.downloaded,
        summary.failed.len(),
        client.requests_sent(),
    );
    Ok(())
}

/// The yardstick of the metadata run: the same pages fetched by a plain loop of parallel GETs
/// (C threads, one ureq agent, keep-alive), each body read and thrown away.
fn raw_fetch(args: &Args, base_url: &str) -> Result<(), String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    let c = args.concurrency;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .proxy(None)
        .max_idle_connections(c + 2)
        .max_idle_connections_per_host(c + 2)
        .build()
        .into();
    let get = |url: &str| -> Result<u64, String> {
        let mut answer = agent.get(url).call().map_err(|e| format!("{url}: {e}"))?;
        std::io::copy(&mut answer.body_mut().as_reader(), &mut std::io::sink())
            .map_err(|e| format!("{url}: {e}"))
    };
    let page_url = |page: u64, size: u64| {
        format!("{base_url}/api/neuron?page={page}&size={size}&sort=neuron_id,asc")
    };
    let cpu0 = cpu_seconds().unwrap_or((0.0, 0.0));
    let started = Instant::now();
    // The count, as the metadata run asks it.
    let count_text = agent
        .get(&page_url(0, 1))
        .call()
        .map_err(|e| e.to_string())?
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    let count: serde_json::Value = serde_json::from_str(&count_text).map_err(|e| e.to_string())?;
    let total = count
        .pointer("/page/totalElements")
        .and_then(|t| t.as_u64())
        .ok_or("no page.totalElements in the count")?;
    let pages = total.div_ceil(PAGE);
    let next = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let failure: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..c {
            s.spawn(|| loop {
                let page = next.fetch_add(1, Ordering::SeqCst);
                if page >= pages {
                    break;
                }
                match get(&page_url(page, PAGE)) {
                    Ok(n) => {
                        bytes.fetch_add(n, Ordering::SeqCst);
                    }
                    Err(e) => {
                        *failure.lock().unwrap() = Some(e);
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap() {
        return Err(e);
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds().map(|(u, s)| (u - cpu0.0, s - cpu0.1));
    println!(
        "RESULT wall={wall:.6} cpu_user={} cpu_sys={} rss_kb={} bytes={} matched={total} downloaded=0 failed=0 phase_wall=0 requests_sent={}",
        cpu.map(|c| format!("{:.6}", c.0)).unwrap_or_else(|| "nan".into()),
        cpu.map(|c| format!("{:.6}", c.1)).unwrap_or_else(|| "nan".into()),
        peak_rss_kb().map(|k| k.to_string()).unwrap_or_else(|| "0".into()),
        bytes.load(Ordering::SeqCst),
        1 + pages,
    );
    Ok(())
}

/// Peak resident set size of this process, in kB (`VmHWM` of `/proc/self/status`, Linux).
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// (user, system) CPU time of this process (all threads), in seconds.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn cpu_seconds() -> Option<(f64, f64)> {
    // struct rusage on 64-bit Linux: two struct timeval {long, long}, then 14 longs.
    #[repr(C)]
    struct Rusage {
        utime: [i64; 2],
        stime: [i64; 2],
        rest: [i64; 14],
    }
    extern "C" {
        fn getrusage(who: i32, usage: *mut Rusage) -> i32;
    }
    const RUSAGE_SELF: i32 = 0;
    let mut r = Rusage {
        utime: [0; 2],
        stime: [0; 2],
        rest: [0; 14],
    };
    // SAFETY: getrusage writes one struct rusage, whose layout `Rusage` matches here.
    if unsafe { getrusage(RUSAGE_SELF, &mut r) } != 0 {
        return None;
    }
    let secs = |t: [i64; 2]| t[0] as f64 + t[1] as f64 / 1e6;
    Some((secs(r.utime), secs(r.stime)))
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn cpu_seconds() -> Option<(f64, f64)> {
    None
}

/// User + system CPU time of another process (the fake server), in seconds, from
/// `/proc/PID/stat` (fields 14 and 15, in clock ticks).
#[cfg(target_os = "linux")]
fn process_cpu_seconds(pid: u32) -> Option<f64> {
    extern "C" {
        fn sysconf(name: i32) -> i64;
    }
    const SC_CLK_TCK: i32 = 2;
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { sysconf(SC_CLK_TCK) };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    (ticks > 0).then(|| (utime + stime) / ticks as f64)
}

#[cfg(not(target_os = "linux"))]
fn process_cpu_seconds(_pid: u32) -> Option<f64> {
    None
}

fn bytes_under(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

// ------------------------------------------------------------------------------------------
// Parent: servers, runs, table.

/// A fake server child process, killed on drop.
struct Server {
    child: Child,
    base_url: String,
    addr: String,
}

impl Server {
    fn start(exe: &Path, neurons: u64, latency_ms: u64) -> Result<Server, String> {
        let mut child = Command::new(exe)
            .args(["--neurons", &neurons.to_string()])
            .args(["--latency-ms", &latency_ms.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let mut line = String::new();
        let stdout = child
            .stdout
            .take()
            .ok_or("no stdout from the fake server")?;
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| format!("fake server: {e}"))?;
        let Some(base_url) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("fake server said {line:?}"));
        };
        let base_url = base_url.to_string();
        let addr = base_url.trim_start_matches("http://").to_string();
        Ok(Server {
            child,
            base_url,
            addr,
        })
    }

    /// A control request on a connection of its own (`Connection: close`).
    fn control(&self, command: &str) -> Result<serde_json::Value, String> {
        let mut s = TcpStream::connect(&self.addr).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        write!(
            s,
            "GET /__fake/{command} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .map_err(|e| e.to_string())?;
        let mut text = String::new();
        s.read_to_string(&mut text).map_err(|e| e.to_string())?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        serde_json::from_str(body).map_err(|e| format!("/__fake/{command}: {e}: {text}"))
    }

    fn reset(&self) -> Result<(), String> {
        self.control("reset").map(|_| ())
    }

    /// The counters of the run; `connections` without the one this request itself opened.
    fn stats(&self) -> Result<Stats, String> {
        let v = self.control("stats")?;
        let get = |k: &str| v.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
        Ok(Stats {
            requests: get("requests"),
            count: get("count"),
            pages: get("pages"),
            files: get("files"),
            connections: get("connections").saturating_sub(1),
            faults: get("faults"),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Default)]
struct Stats {
    requests: u64,
    count: u64,
    pages: u64,
    files: u64,
    connections: u64,
    faults: u64,
}

#[derive(Debug, Default)]
struct RunResult {
    wall: f64,
    cpu: f64,
    cpu_user: f64,
    cpu_sys: f64,
    /// CPU time of the fake server during the run (not the client's).
    server_cpu: f64,
    rss_kb: u64,
    bytes: u64,
    matched: u64,
    downloaded: u64,
    failed: u64,
    phase_wall: f64,
    requests_sent: u64,
}

fn parse_result(line: &str) -> Option<RunResult> {
    let rest = line.strip_prefix("RESULT ")?;
    let mut r = RunResult::default();
    for kv in rest.split_whitespace() {
        let (k, v) = kv.split_once('=')?;
        let f = || v.parse::<f64>().unwrap_or(f64::NAN);
        let u = || v.parse::<u64>().unwrap_or(0);
        match k {
            "wall" => r.wall = f(),
            "cpu_user" => r.cpu_user = f(),
            "cpu_sys" => r.cpu_sys = f(),
            "rss_kb" => r.rss_kb = u(),
            "bytes" => r.bytes = u(),
            "matched" => r.matched = u(),
            "downloaded" => r.downloaded = u(),
            "failed" => r.failed = u(),
            "phase_wall" => r.phase_wall = f(),
            "requests_sent" => r.requests_sent = u(),
            _ => {}
        }
    }
    r.cpu = r.cpu_user + r.cpu_sys;
    Some(r)
}

/// Re-execute this program for one run, on `server`, writing into a fresh `out`.
fn run_child(
    args: &Args,
    kind: &str,
    server: &Server,
    out: &Path,
) -> Result<(RunResult, Stats), String> {
    let _ = std::fs::remove_dir_all(out);
    server.reset()?;
    let server_cpu0 = process_cpu_seconds(server.child.id());
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let output = Command::new(exe)
        .args(["--only", kind, "--base-url", &server.base_url])
        .args(["-c", &args.concurrency.to_string()])
        .args(["--rate", &args.rate.to_string()])
        .arg("--out")
        .arg(out)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run the {kind} child: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "the {kind} run failed ({}): {stdout}",
            output.status
        ));
    }
    let mut result = stdout
        .lines()
        .find_map(parse_result)
        .ok_or_else(|| format!("no RESULT line from the {kind} run: {stdout}"))?;
    let stats = server.stats()?;
    if let (Some(a), Some(b)) = (server_cpu0, process_cpu_seconds(server.child.id())) {
        result.server_cpu = b - a;
    }
    Ok((result, stats))
}

/// Time `neuromorpho --help` of the release build, if there is one: (runs, min, median) in ms.
fn startup(runs: usize) -> Option<(usize, f64, f64)> {
    let exe = std::env::current_exe().ok()?;
    let cli = exe.parent()?.parent()?.join("neuromorpho");
    if !cli.is_file() {
        return None;
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let status = Command::new(&cli)
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        if !status.success() {
            return None;
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Some((runs, times[0], times[runs / 2]))
}

// ------------------------------------------------------------------------------------------
// Durability and integrity (issue 10): what syncing costs, what hashing costs, and verify's
// speed beside sha256sum's, measured side by side on one folder.

/// One timed step of the integrity section.
struct Timed {
    what: String,
    files: u64,
    wall: f64,
    cpu: Option<f64>,
    bytes: u64,
}

struct Integrity {
    files: u64,
    concurrency: usize,
    verify_threads: usize,
    slow_durable: Timed,
    slow_nosync: Timed,
    durable: Timed,
    nosync: Timed,
    verify_hash: Timed,
    verify_sizes: Timed,
    sha256sum: Result<Timed, String>,
}

/// The same F files downloaded durable and not, each run in its own process, twice each
/// (alternating, the faster kept, after a `sync` so that one run's dirty pages do not slow
/// the next): from a server with the latency L (a real download, where a worker waits for
/// its syncs between two requests) and from one without (disk work not hidden behind the
/// network). Then `verify` (hashes, and sizes only) and `sha256sum -c SHA256SUMS` on the
/// durable folder, one after the other, the page cache warm for all three.
fn integrity(args: &Args, server_exe: &Path, root: &Path) -> Result<Integrity, String> {
    let f = args.files;
    let pair = |latency_ms: u64| -> Result<(RunResult, RunResult), String> {
        let server = Server::start(server_exe, f, latency_ms)?;
        let mut durable: Option<RunResult> = None;
        let mut nosync: Option<RunResult> = None;
        let faster = |best: Option<RunResult>, r: RunResult| match best {
            Some(b) if b.phase_wall <= r.phase_wall => Some(b),
            _ => Some(r),
        };
        for round in 1..=2 {
            for kind in ["download", "download-nosync"] {
                eprintln!(
                    "integrity: {kind} of {f} files, latency {latency_ms} ms, round {round}..."
                );
                let _ = Command::new("sync").status();
                let out = root.join(if kind == "download" {
                    "durable"
                } else {
                    "nosync"
                });
                let (r, _) = run_child(args, kind, &server, &out)?;
                if kind == "download" {
                    durable = faster(durable, r);
                } else {
                    nosync = faster(nosync, r);
                }
            }
        }
        match (durable, nosync) {
            (Some(d), Some(n)) => Ok((d, n)),
            _ => Err("the integrity runs gave no result".into()),
        }
    };
    let (slow_durable, slow_nosync) = pair(args.latency_ms)?;
    let (durable, nosync) = pair(0)?;
    let timed = |what: String, r: &RunResult| Timed {
        what,
        files: r.downloaded,
        wall: r.phase_wall,
        cpu: Some(r.cpu),
        bytes: r.bytes,
    };
    let lat = args.latency_ms;
    let folder = root.join("durable");
    // The library's default: the CPUs, at most 8 (said in the table).
    let verify_threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(8));
    let options = neuromorpho::VerifyOptions::default().threads(verify_threads);
    eprintln!("integrity: verify (SHA-256) of {f} files...");
    let verify_hash = verify_timed(&folder, &options, "verify (size + SHA-256)")?;
    let sizes = options.clone().hash(false);
    eprintln!("integrity: verify --no-hash of {f} files...");
    let verify_sizes = verify_timed(&folder, &sizes, "verify --no-hash (sizes)")?;
    eprintln!("integrity: sha256sum -c SHA256SUMS...");
    let sha256sum = sha256sum_timed(&folder, verify_hash.bytes);
    Ok(Integrity {
        files: f,
        concurrency: args.concurrency,
        verify_threads,
        slow_durable: timed(
            format!("download, {lat} ms latency, durable"),
            &slow_durable,
        ),
        slow_nosync: timed(
            format!("download, {lat} ms latency, not durable"),
            &slow_nosync,
        ),
        durable: timed("download, no latency, durable".into(), &durable),
        nosync: timed("download, no latency, not durable".into(), &nosync),
        verify_hash,
        verify_sizes,
        sha256sum,
    })
}

fn verify_timed(
    folder: &Path,
    options: &neuromorpho::VerifyOptions,
    what: &str,
) -> Result<Timed, String> {
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    let report = neuromorpho::Client::new()
        .map_err(|e| e.to_string())?
        .verify(folder, options, |_| {})
        .map_err(|e| e.to_string())?;
    let wall = t.elapsed().as_secs_f64();
    if !report.is_ok() {
        return Err(format!(
            "verify found {} problem(s) in {}",
            report.problems.len(),
            folder.display()
        ));
    }
    let cpu = match (cpu0, cpu_seconds()) {
        (Some(a), Some(b)) => Some(b.0 + b.1 - a.0 - a.1),
        _ => None,
    };
    Ok(Timed {
        what: what.to_string(),
        files: report.entries,
        wall,
        cpu,
        bytes: report.bytes,
    })
}

/// `sha256sum -c SHA256SUMS` in the folder as a child process; an `Err` says why it was not
/// measured (not installed, or it failed).
fn sha256sum_timed(folder: &Path, bytes: u64) -> Result<Timed, String> {
    let t = Instant::now();
    let out = Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(folder)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("sha256sum not run ({e}): not measured"))?;
    let wall = t.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "sha256sum -c failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let files = std::fs::read_to_string(folder.join("SHA256SUMS"))
        .map(|t| t.lines().count() as u64)
        .unwrap_or(0);
    Ok(Timed {
        what: "sha256sum -c SHA256SUMS (coreutils, 1 thread)".into(),
        files,
        wall,
        cpu: None,
        bytes,
    })
}

fn print_integrity(r: &Integrity) {
    let per_k = |secs: f64, files: u64| {
        if files > 0 {
            format!("{:.3}", secs / files as f64 * 1000.0)
        } else {
            "-".into()
        }
    };
    let mbps = |t: &Timed| {
        if t.wall > 0.0 && t.bytes > 0 {
            format!("{:.0}", t.bytes as f64 / t.wall / 1e6)
        } else {
            "-".into()
        }
    };
    let header = [
        "step",
        "files",
        "MB",
        "wall s",
        "wall s/1k files",
        "CPU s",
        "MB/s",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut steps: Vec<&Timed> = vec![
        &r.slow_durable,
        &r.slow_nosync,
        &r.durable,
        &r.nosync,
        &r.verify_hash,
        &r.verify_sizes,
    ];
    if let Ok(t) = &r.sha256sum {
        steps.push(t);
    }
    for t in steps {
        rows.push(vec![
            t.what.clone(),
            t.files.to_string(),
            format!("{:.1}", t.bytes as f64 / 1e6),
            format!("{:.3}", t.wall),
            per_k(t.wall, t.files),
            t.cpu
                .map(|c| format!("{c:.3}"))
                .unwrap_or_else(|| "-".into()),
            mbps(t),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|row| row[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if i == 0 {
                    format!("{s:<w$}", w = widths[i])
                } else {
                    format!("{s:>w$}", w = widths[i])
                }
            })
            .collect();
        println!("| {} |", parts.join(" | "));
    };
    println!();
    println!(
        "durability and integrity: {} files, -c {}; durable = each file synced before its rename and its folder after; wall = the files phase for downloads (the faster of 2 rounds each, after a sync), the whole call for verify (page cache warm)",
        r.files, r.concurrency
    );
    line(&header.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>());
    for row in &rows {
        line(row);
    }
    let k = r.files.max(1) as f64 / 1000.0;
    for (label, d, n) in [
        ("with latency", &r.slow_durable, &r.slow_nosync),
        ("without latency", &r.durable, &r.nosync),
    ] {
        println!(
            "cost of syncing, {label}: {:+.3} s wall per 1,000 files ({:.3} s durable vs {:.3} s not), {:+.3} s CPU per 1,000 files",
            (d.wall - n.wall) / k,
            d.wall / k,
            n.wall / k,
            (d.cpu.unwrap_or(0.0) - n.cpu.unwrap_or(0.0)) / k,
        );
    }
    let hashing = r.verify_hash.wall - r.verify_sizes.wall;
    println!(
        "cost of hashing: {:.3} s wall per 1,000 files ({:.1} KB per file on average; verify with SHA-256 minus verify --no-hash, {} threads), {:.3} s CPU per 1,000 files",
        hashing / r.files.max(1) as f64 * 1000.0,
        r.verify_hash.bytes as f64 / r.verify_hash.files.max(1) as f64 / 1e3,
        r.verify_threads,
        (r.verify_hash.cpu.unwrap_or(0.0) - r.verify_sizes.cpu.unwrap_or(0.0))
            / r.files.max(1) as f64
            * 1000.0,
    );
    match &r.sha256sum {
        Ok(t) => println!(
            "verify: {} MB/s ({} threads) beside sha256sum -c: {} MB/s (1 thread), same folder, same files",
            mbps(&r.verify_hash),
            r.verify_threads,
            mbps(t)
        ),
        Err(why) => println!(
            "verify: {} MB/s ({} threads); sha256sum: {why}",
            mbps(&r.verify_hash),
            r.verify_threads
        ),
    }
}

/// Issue 13: the metadata run of the whole catalog with no latency and no rate limit, beside
/// the raw fetch of the same pages, alternating, three rounds; medians.
struct Wire {
    neurons: u64,
    pages: u64,
    rounds: usize,
    raw: Vec<RunResult>,
    meta: Vec<RunResult>,
}

fn wire(args: &Args, server_exe: &Path, root: &Path) -> Result<Wire, String> {
    let server = Server::start(server_exe, args.neurons, 0)?;
    let unpaced = Args {
        rate: 0.0,
        ..args.clone()
    };
    let rounds = 3;
    let (mut raw, mut meta) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        eprintln!("wire: round {round} of {rounds}: raw fetch, then the metadata run...");
        raw.push(run_child(&unpaced, "raw-fetch", &server, &root.join("raw"))?.0);
        meta.push(run_child(&unpaced, "metadata", &server, &root.join("wire"))?.0);
    }
    Ok(Wire {
        neurons: args.neurons,
        pages: args.neurons.div_ceil(PAGE),
        rounds,
        raw,
        meta,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Prints the table and returns the targets missed.
fn print_wire(w: &Wire, c: usize) -> Vec<String> {
    let mb = |kb: u64| kb as f64 * 1024.0 / 1e6;
    let row = |name: &str, runs: &[RunResult]| {
        let wall = median(runs.iter().map(|r| r.wall).collect());
        let cpu = median(runs.iter().map(|r| r.cpu).collect());
        let rss = runs.iter().map(|r| r.rss_kb).max().unwrap_or(0);
        let per_100k = cpu / (w.neurons.max(1) as f64) * 100_000.0;
        println!(
            "| {name:<44} | {wall:>6.2} | {cpu:>6.2} | {per_100k:>14.3} | {:>11.1} | {:>11.1} | {:>12.2} |",
            mb(rss),
            median(runs.iter().map(|r| r.bytes as f64 / 1e6).collect()),
            median(runs.iter().map(|r| r.server_cpu).collect()),
        );
        (wall, per_100k, mb(rss))
    };
    println!();
    println!(
        "metadata at the speed of the wire: {} neurons ({} pages), latency 0, -c {c}, --rate 0; {} rounds, raw fetch and metadata run alternating; medians (RSS: the largest)",
        w.neurons, w.pages, w.rounds
    );
    println!(
        "| {:<44} | wall s |  CPU s | CPU s/100k rec | peak RSS MB | MB recv/out | server CPU s |",
        "run"
    );
    println!(
        "|{}|--------|--------|----------------|-------------|-------------|--------------|",
        "-".repeat(46)
    );
    let (raw_wall, _, _) = row("raw parallel fetch (GETs, bodies discarded)", &w.raw);
    let (meta_wall, per_100k, rss) = row("metadata run (metadata.csv written)", &w.meta);
    let ratio = meta_wall / raw_wall;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "metadata run / raw fetch, wall: {ratio:.2} (target <= 3); CPU per 100,000 records {per_100k:.3} s; MB recv/out: the bodies received (raw) or the bytes written (metadata); server CPU: the fake server's, on the same {cores} cores"
    );
    let mut missed = Vec::new();
    if ratio.is_nan() || ratio > 3.0 {
        missed.push(format!("metadata/raw fetch wall ratio {ratio:.2} > 3"));
    }
    if rss >= 100.0 {
        missed.push(format!("metadata run peak RSS {rss:.1} MB >= 100"));
    }
    missed
}

fn print_wire_targets(missed: &[String]) {
    if missed.is_empty() {
        println!("targets: all met (metadata run <= 3 x the raw fetch, peak RSS < 100 MB)");
    } else {
        println!("targets MISSED: {}", missed.join("; "));
    }
}

fn parent(args: &Args) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let server_exe = exe
        .parent()
        .map(|d| d.join(format!("fake-server{}", std::env::consts::EXE_SUFFIX)))
        .ok_or("cannot locate this program's folder")?;
    if !server_exe.is_file() {
        return Err(format!(
            "{} is missing: build it first with `cargo build --release --examples`",
            server_exe.display()
        ));
    }
    let (n, f, c, lat) = (
        args.neurons,
        args.files,
        args.concurrency as u64,
        args.latency_ms as f64 / 1000.0,
    );
    println!(
        "neuromorpho bench: {n} neurons (metadata run), {f} files (download run), latency {} ms, concurrency {c}, rate {}",
        args.latency_ms,
        if args.rate > 0.0 {
            format!("{} API requests/s", args.rate)
        } else {
            "0 = unlimited".to_string()
        }
    );
    println!(
        "fake servers: {} (child processes, not counted in the client's CPU or RSS)",
        server_exe.display()
    );
    let root = std::env::temp_dir().join(format!("neuromorpho-bench-{}", std::process::id()));
    if args.wire_only {
        let w = wire(args, &server_exe, &root)?;
        let missed = print_wire(&w, args.concurrency);
        print_wire_targets(&missed);
        let _ = std::fs::remove_dir_all(&root);
        return Ok(());
    }
    let big = Server::start(&server_exe, n, args.latency_ms)?;
    let small = Server::start(&server_exe, f, args.latency_ms)?;

    // The lower bound of a search: the count, then the pages C at a time. With a rate R, the
    // 1 + pages API requests start 1/R apart: the last starts at pages/R, ends L later.
    let search_bound = |neurons: u64| {
        let pages = neurons.div_ceil(PAGE);
        let by_latency = lat + pages.div_ceil(c) as f64 * lat;
        if args.rate > 0.0 {
            by_latency.max(pages as f64 / args.rate + lat)
        } else {
            by_latency
        }
    };
    let files_bound = f.div_ceil(c) as f64 * lat;

    eprintln!("running the metadata run ({n} neurons)...");
    let (meta, meta_stats) = run_child(args, "metadata", &big, &root.join("metadata"))?;
    eprintln!("running the download run ({f} files)...");
    let (dl, dl_stats) = run_child(args, "download", &small, &root.join("download"))?;
    drop(big);
    drop(small);
    eprintln!("timing `neuromorpho --help`...");
    let start_up = startup(20);
    let integrity = integrity(args, &server_exe, &root)?;

    let mb = |kb: u64| kb as f64 * 1024.0 / 1e6;
    let ratio = |wall: f64, bound: f64| {
        if bound > 0.0 {
            format!("{:.2}", wall / bound)
        } else {
            "-".into()
        }
    };
    let header = [
        "run",
        "neurons",
        "files",
        "requests",
        "count",
        "pages",
        "file req",
        "conns",
        "wall s",
        "bound s",
        "ratio",
        "CPU s",
        "CPU s/1k files",
        "peak RSS MB",
        "bytes written",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    let meta_bound = search_bound(n);
    rows.push(vec![
        "metadata".into(),
        meta.matched.to_string(),
        "0".into(),
        meta_stats.requests.to_string(),
        meta_stats.count.to_string(),
        meta_stats.pages.to_string(),
        meta_stats.files.to_string(),
        meta_stats.connections.to_string(),
        format!("{:.2}", meta.wall),
        format!("{meta_bound:.2}"),
        ratio(meta.wall, meta_bound),
        format!("{:.2}", meta.cpu),
        "-".into(),
        format!("{:.1}", mb(meta.rss_kb)),
        meta.bytes.to_string(),
    ]);
    let dl_bound = search_bound(f) + files_bound;
    rows.push(vec![
        "download".into(),
        dl.matched.to_string(),
        dl.downloaded.to_string(),
        dl_stats.requests.to_string(),
        dl_stats.count.to_string(),
        dl_stats.pages.to_string(),
        dl_stats.files.to_string(),
        dl_stats.connections.to_string(),
        format!("{:.2}", dl.wall),
        format!("{dl_bound:.2}"),
        ratio(dl.wall, dl_bound),
        format!("{:.2}", dl.cpu),
        if dl.downloaded > 0 {
            format!("{:.3}", dl.cpu / dl.downloaded as f64 * 1000.0)
        } else {
            "-".into()
        },
        format!("{:.1}", mb(dl.rss_kb)),
        dl.bytes.to_string(),
    ]);
    rows.push(vec![
        " files phase".into(),
        "".into(),
        dl.downloaded.to_string(),
        "".into(),
        "".into(),
        "".into(),
        dl_stats.files.to_string(),
        "".into(),
        format!("{:.2}", dl.phase_wall),
        format!("{files_bound:.2}"),
        ratio(dl.phase_wall, files_bound),
        "".into(),
        "".into(),
        "".into(),
        "".into(),
    ]);
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if i == 0 {
                    format!("{s:<w$}", w = widths[i])
                } else {
                    format!("{s:>w$}", w = widths[i])
                }
            })
            .collect();
        println!("| {} |", parts.join(" | "));
    };
    println!();
    line(&header.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>());
    for r in &rows {
        line(r);
    }
    println!();
    println!(
        "bound s: metadata = {lat}s (count) + ceil({} pages / {c}) x {lat}s{}; download = its search ({:.2}s) + ceil({f} files / {c}) x {lat}s ({files_bound:.2}s); files phase = from the first download to the last",
        n.div_ceil(PAGE),
        if args.rate > 0.0 {
            format!(", or pages / {} + {lat}s if larger (--rate)", args.rate)
        } else {
            String::new()
        },
        search_bound(f),
    );
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "CPU (client, user + sys): metadata {:.2} + {:.2} s = {:.0}% of wall, {:.3} s per 1,000 records; download {:.2} + {:.2} s = {:.0}% of wall, {:.3} s per 1,000 files",
        meta.cpu_user,
        meta.cpu_sys,
        100.0 * meta.cpu / meta.wall,
        meta.cpu / (meta.matched.max(1) as f64) * 1000.0,
        dl.cpu_user,
        dl.cpu_sys,
        100.0 * dl.cpu / dl.wall,
        dl.cpu / (dl.downloaded.max(1) as f64) * 1000.0,
    );
    println!(
        "CPU (fake server, same machine): metadata run {:.2} s, download run {:.2} s; with {cores} cores the metadata run needs at least (client + server CPU) / {cores} = {:.2} s",
        meta.server_cpu,
        dl.server_cpu,
        (meta.cpu + meta.server_cpu) / cores as f64,
    );
    match start_up {
        Some((runs, min, median)) => println!(
            "start-up: `neuromorpho --help` (target/release/neuromorpho) min {min:.2} ms, median {median:.2} ms over {runs} runs"
        ),
        None => println!(
            "start-up: target/release/neuromorpho not built (cargo build --release) — not measured"
        ),
    }
    // Checks against the issue's targets, spelled out.
    let mut notes = Vec::new();
    let expect = |what: &str, got: u64, want: u64, notes: &mut Vec<String>| {
        if got != want {
            notes.push(format!("{what}: {got}, expected {want}"));
        }
    };
    expect("metadata count requests", meta_stats.count, 1, &mut notes);
    expect(
        "metadata page requests",
        meta_stats.pages,
        n.div_ceil(PAGE),
        &mut notes,
    );
    expect(
        "metadata requests (all kinds)",
        meta_stats.requests,
        1 + n.div_ceil(PAGE),
        &mut notes,
    );
    expect("download count requests", dl_stats.count, 1, &mut notes);
    expect(
        "download page requests",
        dl_stats.pages,
        f.div_ceil(PAGE),
        &mut notes,
    );
    expect("download file requests", dl_stats.files, f, &mut notes);
    expect(
        "download requests (all kinds)",
        dl_stats.requests,
        1 + f.div_ceil(PAGE) + f,
        &mut notes,
    );
    expect("files failed", dl.failed, 0, &mut notes);
    expect("faults", meta_stats.faults + dl_stats.faults, 0, &mut notes);
    if meta.requests_sent != meta_stats.requests || dl.requests_sent != dl_stats.requests {
        notes.push("the client's request count differs from the server's".into());
    }
    if dl_stats.connections > c + 2 || meta_stats.connections > c + 2 {
        notes.push(format!("more than {c} + 2 connections"));
    }
    if files_bound > 0.0 && dl.phase_wall / files_bound > 1.15 {
        notes.push(format!(
            "files phase ratio {:.2} > 1.15",
            dl.phase_wall / files_bound
        ));
    }
    if mb(meta.rss_kb) >= 100.0 || mb(dl.rss_kb) >= 100.0 {
        notes.push("peak RSS >= 100 MB".into());
    }
    if notes.is_empty() {
        println!("targets: all met (exact request counts, connections <= C + 2, files phase <= 1.15 x bound, RSS < 100 MB)");
    } else {
        println!("targets MISSED: {}", notes.join("; "));
    }
    print_integrity(&integrity);
    let w = wire(args, &server_exe, &root)?;
    let missed = print_wire(&w, args.concurrency);
    print_wire_targets(&missed);
    if args.keep {
        println!("output kept in {}", root.display());
    } else {
        let _ = std::fs::remove_dir_all(&root);
    }
    Ok(())
}
