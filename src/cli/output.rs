//! What the binary shows on stderr: log lines (env_logger, plus a log file), and progress —
//! one updating line per phase on a terminal, a plain line every few seconds otherwise.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use log::{LevelFilter, Log, Metadata, Record};
use neuromorpho::Progress;

use super::args::Verbosity;

/// Log target of records meant for the log file only (e.g. the final error, which `main`
/// already prints once on stderr).
pub const FILE_ONLY: &str = "neuromorpho::log_file_only";

/// True while a progress line is on screen: a log line must clear it first.
static LINE_ON_SCREEN: Mutex<bool> = Mutex::new(false);

/// stderr through env_logger (so `RUST_LOG` works), and optionally a log file.
struct Logger {
    stderr: env_logger::Logger,
    file: Option<Mutex<File>>,
    file_level: LevelFilter,
}

impl Log for Logger {
    fn enabled(&self, m: &Metadata) -> bool {
        self.stderr.enabled(m)
            || (self.file.is_some() && m.level() <= self.file_level && is_ours(m.target()))
    }

    fn log(&self, r: &Record) {
        if r.target() != FILE_ONLY && self.stderr.matches(r) {
            let mut on_screen = LINE_ON_SCREEN.lock().unwrap_or_else(|p| p.into_inner());
            if *on_screen {
                eprint!("\r\x1b[2K");
                *on_screen = false;
            }
            self.stderr.log(r);
        }
        if let Some(file) = &self.file {
            if r.level() <= self.file_level && is_ours(r.target()) {
                let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
                let _ = writeln!(f, "{} {:<5} {}", utc_timestamp(), r.level(), r.args());
            }
        }
    }

    fn flush(&self) {
        if let Some(f) = &self.file {
            let _ = f.lock().unwrap_or_else(|p| p.into_inner()).flush();
        }
    }
}

fn is_ours(target: &str) -> bool {
    target.starts_with("neuromorpho")
}

/// Set up logging: stderr at warn (debug with -v, error with -q) unless `RUST_LOG` says
/// otherwise; the log file, if any, gets info (debug with -v).
pub fn init_logging(verbosity: Verbosity, log_file: Option<&Path>) -> Result<(), String> {
    let default = match verbosity {
        Verbosity::Quiet => LevelFilter::Error,
        Verbosity::Normal => LevelFilter::Warn,
        Verbosity::Verbose => LevelFilter::Debug,
    };
    let mut builder = env_logger::Builder::new();
    builder
        .filter_level(LevelFilter::Off)
        .filter_module("neuromorpho", default)
        .format(|buf, r| {
            let level = match r.level() {
                log::Level::Error => "error",
                log::Level::Warn => "warning",
                log::Level::Info => "info",
                log::Level::Debug => "debug",
                log::Level::Trace => "trace",
            };
            writeln!(buf, "neuromorpho: {level}: {}", r.args())
        });
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    let stderr = builder.build();
    let file_level = if verbosity == Verbosity::Verbose {
        LevelFilter::Debug
    } else {
        LevelFilter::Info
    };
    let file = match log_file {
        Some(p) => Some(Mutex::new(
            File::create(p).map_err(|e| format!("log file {}: {e}", p.display()))?,
        )),
        None => None,
    };
    let max = if file.is_some() {
        stderr.filter().max(file_level)
    } else {
        stderr.filter()
    };
    let logger = Logger {
        stderr,
        file,
        file_level,
    };
    // A second init (tests calling run twice in one process) keeps the first logger.
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(max);
    }
    Ok(())
}

/// `YYYY-MM-DD HH:MM:SS` in UTC (no time-zone database in a static binary).
pub fn utc_timestamp() -> String {
    let (y, mo, d, h, mi, s) = utc_now();
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

/// `YYYY-MM-DD-HH_MM` in UTC, neuromorphopy's log file prefix.
pub fn log_file_stamp() -> String {
    let (y, mo, d, h, mi, _) = utc_now();
    format!("{y:04}-{mo:02}-{d:02}-{h:02}_{mi:02}")
}

fn utc_now() -> (i64, u32, u32, u64, u64, u64) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Renders library progress events on stderr.
pub struct ProgressView {
    mode: Mode,
    state: Mutex<ViewState>,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Off,
    Terminal,
    Plain,
}

struct ViewState {
    phase_start: Instant,
    last_draw: Option<Instant>,
}

/// How often a non-terminal progress line is logged.
const PLAIN_EVERY: Duration = Duration::from_secs(5);
/// How often a terminal line is redrawn.
const TERMINAL_EVERY: Duration = Duration::from_millis(100);

impl ProgressView {
    pub fn new(verbosity: Verbosity) -> ProgressView {
        let mode = if verbosity == Verbosity::Quiet {
            Mode::Off
        } else if std::io::stderr().is_terminal() {
            Mode::Terminal
        } else {
            Mode::Plain
        };
        ProgressView {
            mode,
            state: Mutex::new(ViewState {
                phase_start: Instant::now(),
                last_draw: None,
            }),
        }
    }

    /// The callback handed to the library.
    pub fn on(&self, p: &Progress) {
        if self.mode == Mode::Off {
            return;
        }
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (line, last) = match p {
            Progress::SearchStarted { total, pages } => {
                s.phase_start = Instant::now();
                s.last_draw = None;
                self.finish_line();
                self.say(&format!(
                    "found {total} neurons; fetching {pages} page(s) of metadata"
                ));
                return;
            }
            Progress::Page { done, pages } => {
                let (rate, eta) = rate_eta(s.phase_start, *done, *pages);
                (
                    format!("pages {done}/{pages}  {rate:.1}/s  ETA {eta}"),
                    done == pages,
                )
            }
            Progress::DownloadStarted { files } => {
                s.phase_start = Instant::now();
                s.last_draw = None;
                self.finish_line();
                self.say(&format!("downloading {files} file(s)"));
                return;
            }
            Progress::File {
                done,
                files,
                bytes,
                failed,
            } => {
                let (rate, eta) = rate_eta(s.phase_start, *done, *files);
                let failed = if *failed > 0 {
                    format!("  {failed} failed")
                } else {
                    String::new()
                };
                (
                    format!(
                        "files {done}/{files}  {}  {rate:.1}/s  ETA {eta}{failed}",
                        human_bytes(*bytes)
                    ),
                    done == files,
                )
            }
            _ => return,
        };
        let every = if self.mode == Mode::Terminal {
            TERMINAL_EVERY
        } else {
            PLAIN_EVERY
        };
        let due = s.last_draw.is_none_or(|t| t.elapsed() >= every);
        if !(due || last) {
            return;
        }
        s.last_draw = Some(Instant::now());
        match self.mode {
            Mode::Terminal => {
                let mut on_screen = LINE_ON_SCREEN.lock().unwrap_or_else(|p| p.into_inner());
                eprint!("\r\x1b[2K{line}");
                if last {
                    eprintln!();
                    *on_screen = false;
                } else {
                    *on_screen = true;
                }
            }
            Mode::Plain => eprintln!("neuromorpho: {line}"),
            Mode::Off => {}
        }
    }

    /// A one-off line (phase changes, the summary), unless quiet.
    pub fn say(&self, msg: &str) {
        if self.mode == Mode::Off {
            return;
        }
        self.finish_line();
        eprintln!("neuromorpho: {msg}");
    }

    fn finish_line(&self) {
        let mut on_screen = LINE_ON_SCREEN.lock().unwrap_or_else(|p| p.into_inner());
        if *on_screen {
            eprintln!();
            *on_screen = false;
        }
    }
}

fn rate_eta(start: Instant, done: u64, total: u64) -> (f64, String) {
    let secs = start.elapsed().as_secs_f64().max(1e-3);
    let rate = done as f64 / secs;
    let eta = if rate > 0.0 && total >= done {
        let left = (total - done) as f64 / rate;
        format!("{}s", left.round() as u64)
    } else {
        "?".into()
    };
    (rate, eta)
}

/// `1.2 MB` style sizes.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_dates() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_234_567), "1.2 MB");
        let stamp = log_file_stamp();
        assert_eq!(stamp.len(), "2026-11-26-02_15".len());
        assert!(stamp.starts_with("20"));
    }
}
