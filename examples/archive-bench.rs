//! The evidence of issue 18: the whole archive in bounded memory, at a cost linear in the
//! files. Every step of a mirror's life, run as the CLI runs it, at several catalog sizes,
//! against the fake server (a child process, so that its memory is not counted):
//!
//! ```text
//! cargo build --release --bin neuromorpho --example fake-server --example archive-bench
//! target/release/examples/archive-bench --sizes 10000,50000,300000
//! ```
//!
//! Steps, each a process of its own (peak RSS and CPU from `wait4`): `download --all` of
//! every file kind into a new folder, the same again (everything in place), `verify`, and
//! `download --update` after the server moved to its next release (a tenth more neurons, some
//! files changed). Printed per step and size: wall time, CPU, peak RSS, the files of the
//! folder, CPU per file and RSS per neuron; then, per step, the growth between the smallest
//! and the largest size: RSS added per added neuron, and the ratio of CPU per file.
//!
//! Flags: `--sizes A,B,..` (default 10000,50000), `--what KINDS` (default
//! cng,original,logs), `-c N` (default 16), `--bin PATH`, `--fake PATH` (defaults under
//! target/release), `--keep` (keep the folders, printed), `--real-files` (the real fixtures
//! as bodies, up to a few hundred kB each: a whole archive of them fills a disk; by default
//! the server sends bodies of a few points, so that the figures are the tool's, not the
//! disk's).
//!
//! Peak RSS is what the run's own summary reports (its `VmHWM`), else `wait4`'s.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Args {
    sizes: Vec<u64>,
    what: String,
    concurrency: u32,
    bin: PathBuf,
    fake: PathBuf,
    keep: bool,
    real_files: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = pico_args::Arguments::from_env();
    let e = |e: pico_args::Error| e.to_string();
    let sizes: String = a
        .opt_value_from_str("--sizes")
        .map_err(e)?
        .unwrap_or_else(|| "10000,50000".into());
    let sizes = sizes
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("--sizes: '{s}' is not a number"))
        })
        .collect::<Result<Vec<u64>, String>>()?;
    let args = Args {
        sizes,
        what: a
            .opt_value_from_str("--what")
            .map_err(e)?
            .unwrap_or_else(|| "cng,original,logs".into()),
        concurrency: a.opt_value_from_str("-c").map_err(e)?.unwrap_or(16),
        bin: a
            .opt_value_from_str("--bin")
            .map_err(e)?
            .unwrap_or_else(|| "target/release/neuromorpho".into()),
        fake: a
            .opt_value_from_str("--fake")
            .map_err(e)?
            .unwrap_or_else(|| "target/release/examples/fake-server".into()),
        keep: a.contains("--keep"),
        real_files: a.contains("--real-files"),
    };
    if let Some(extra) = a.finish().first() {
        return Err(format!("unknown option {}", extra.to_string_lossy()));
    }
    if args.sizes.is_empty() {
        return Err("--sizes: at least one size".into());
    }
    Ok(args)
}

/// What one process cost.
#[derive(Debug, Clone, Copy)]
struct Cost {
    wall: Duration,
    cpu: Duration,
    rss_kb: u64,
    code: i32,
}

/// Run a command to its end; its wall time, CPU (user + system) and peak RSS.
fn measure(cmd: &mut Command) -> Result<Cost, String> {
    let started = Instant::now();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let pid = child.id() as libc::pid_t;
    let stderr = child.stderr;
    // Drain stderr so that the child never blocks on it; keep the last lines for errors,
    // and the peak memory its summary reports (its own VmHWM, read by the process itself).
    let tail = std::thread::spawn(move || {
        let mut last = Vec::new();
        let mut peak = None;
        if let Some(err) = stderr {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(p) = peak_of(&line) {
                    peak = Some(p);
                }
                last.push(line);
                if last.len() > 5 {
                    last.remove(0);
                }
            }
        }
        (last, peak)
    });
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is a child of this process, not yet reaped; the pointers are valid.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    let (last, peak) = tail.join().unwrap_or_default();
    if r != pid {
        return Err(format!("wait4 failed for {cmd:?}"));
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    if code != 0 {
        eprintln!("  (exit {code}: {})", last.join(" | "));
    }
    Ok(Cost {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        // wait4's figure also counts what the process held before its exec; the summary's
        // is the run's own.
        rss_kb: peak.unwrap_or(usage.ru_maxrss as u64),
        code,
    })
}

/// `... peak memory 45.2 MB` in a summary line: the peak in KiB.
fn peak_of(line: &str) -> Option<u64> {
    let rest = line.rsplit_once("peak memory ")?.1;
    let mut words = rest.split_whitespace();
    let n: f64 = words.next()?.parse().ok()?;
    // The CLI's units are decimal (1 MB = 10^6 bytes).
    let bytes = match words.next()?.trim_end_matches(',') {
        "B" => 1.0,
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => return None,
    };
    Some((n * bytes / 1024.0) as u64)
}

/// The fake server as a child process, serving `release` of a catalog of `neurons`.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(
        fake: &Path,
        neurons: u64,
        release: u32,
        port: u16,
        small: bool,
    ) -> Result<Server, String> {
        let mut cmd = Command::new(fake);
        if small {
            cmd.arg("--small-files");
        }
        let mut child = cmd
            .args(["--neurons", &neurons.to_string()])
            .args(["--release", &release.to_string()])
            .args(["--port", &port.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", fake.display()))?;
        let out = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(out)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("fake server said '{}'", line.trim()))?
            .to_string();
        Ok(Server { child, url })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(38_517)
}

/// Lines of the folder's manifest: its files.
fn files_of(out: &Path) -> u64 {
    std::fs::read(out.join("manifest.jsonl"))
        .map(|t| t.iter().filter(|&&b| b == b'\n').count() as u64)
        .unwrap_or(0)
}

const STEPS: [&str; 4] = ["download", "rerun", "verify", "update"];

struct Row {
    neurons: u64,
    files: u64,
    cost: Cost,
}

fn run_size(args: &Args, neurons: u64, rows: &mut [Vec<Row>; 4]) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("archive-bench-{}-{neurons}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.join("mirror");
    let port = free_port();
    let c = args.concurrency.to_string();
    let cli = |url: &str| {
        let mut cmd = Command::new(&args.bin);
        cmd.args(["--base-url", url, "--rate", "0", "-c", &c]);
        cmd
    };
    let o = out.to_string_lossy().into_owned();
    let server = Server::start(&args.fake, neurons, 1, port, !args.real_files)?;
    for (i, step) in STEPS.iter().enumerate().take(3) {
        let cost = match *step {
            "verify" => measure(Command::new(&args.bin).args(["verify", &o]))?,
            _ => measure(cli(&server.url).args([
                "download", "--all", "-o", &o, "--what", &args.what, "--no-log",
            ]))?,
        };
        push(rows, i, neurons, files_of(&out), cost);
    }
    drop(server);
    // The next release, at the same address: what a lab does when NeuroMorpho.Org publishes.
    let server = Server::start(&args.fake, neurons, 2, port, !args.real_files)?;
    let cost = measure(cli(&server.url).args(["download", "--update", "-o", &o, "--no-log"]))?;
    push(rows, 3, neurons, files_of(&out), cost);
    drop(server);
    if args.keep {
        println!("kept {}", out.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

fn push(rows: &mut [Vec<Row>; 4], step: usize, neurons: u64, files: u64, cost: Cost) {
    let name = STEPS.get(step).copied().unwrap_or("?");
    println!(
        "{name:<9} {neurons:>8} neurons {files:>9} files  wall {:>8.2} s  CPU {:>8.2} s  peak RSS {:>7.1} MB  CPU/file {:>6.1} µs  RSS/neuron {:>6} B{}",
        cost.wall.as_secs_f64(),
        cost.cpu.as_secs_f64(),
        cost.rss_kb as f64 / 1024.0,
        per(cost.cpu.as_secs_f64() * 1e6, files),
        (cost.rss_kb * 1024).checked_div(neurons).unwrap_or(0),
        if cost.code == 0 { String::new() } else { format!("  (exit {})", cost.code) },
    );
    if let Some(r) = rows.get_mut(step) {
        r.push(Row {
            neurons,
            files,
            cost,
        });
    }
}

fn per(x: f64, n: u64) -> f64 {
    if n == 0 {
        0.0
    } else {
        x / n as f64
    }
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("archive-bench: {e}");
            eprintln!("usage: archive-bench [--sizes A,B,..] [--what KINDS] [-c N] [--bin PATH] [--fake PATH] [--keep]");
            std::process::exit(2);
        }
    };
    let mut rows: [Vec<Row>; 4] = Default::default();
    println!(
        "every step as its own process; kinds {}; {} bodies; concurrency {}; {} cores",
        args.what,
        if args.real_files { "real" } else { "small" },
        args.concurrency,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for &n in &args.sizes {
        if let Err(e) = run_size(&args, n, &mut rows) {
            eprintln!("archive-bench: {e}");
            std::process::exit(1);
        }
    }
    println!();
    println!("growth from the smallest to the largest size:");
    for (step, r) in STEPS.iter().zip(&rows) {
        let (Some(a), Some(b)) = (r.first(), r.last()) else {
            continue;
        };
        if a.neurons == b.neurons {
            continue;
        }
        let added = b.neurons.saturating_sub(a.neurons).max(1);
        let rss_per_added = (b.cost.rss_kb as f64 - a.cost.rss_kb as f64) * 1024.0 / added as f64;
        let cpu_a = per(a.cost.cpu.as_secs_f64(), a.files);
        let cpu_b = per(b.cost.cpu.as_secs_f64(), b.files);
        println!(
            "{step:<9} peak RSS {:.1} -> {:.1} MB ({rss_per_added:.0} B per added neuron); CPU per file {:.1} -> {:.1} µs (x{:.2})",
            a.cost.rss_kb as f64 / 1024.0,
            b.cost.rss_kb as f64 / 1024.0,
            cpu_a * 1e6,
            cpu_b * 1e6,
            if cpu_a > 0.0 { cpu_b / cpu_a } else { 0.0 },
        );
    }
}
