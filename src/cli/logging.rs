//! The binary's logger: warnings (or more with `-v`, `RUST_LOG`) on stderr, and the run's log
//! file, named uniquely per run so that two runs never share or overwrite one.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use log::{LevelFilter, Log, Metadata, Record};
use neuromorpho::store::Timestamp;

use super::args::Verbosity;
use super::output;

/// Log target of records meant for the log file only (e.g. the final error or summary,
/// which the binary already prints once on stderr).
pub const FILE_ONLY: &str = "neuromorpho::log_file_only";

struct Logger {
    /// env_logger only decides what passes (so `RUST_LOG` works); we write.
    filter: env_logger::Logger,
    file: Option<Mutex<File>>,
    file_level: LevelFilter,
}

fn is_ours(target: &str) -> bool {
    target.starts_with("neuromorpho")
}

impl Log for Logger {
    fn enabled(&self, m: &Metadata) -> bool {
        self.filter.enabled(m)
            || (self.file.is_some() && m.level() <= self.file_level && is_ours(m.target()))
    }

    fn log(&self, r: &Record) {
        if r.target() != FILE_ONLY && self.filter.matches(r) {
            let level = match r.level() {
                log::Level::Error => "error",
                log::Level::Warn => "warning",
                log::Level::Info => "info",
                log::Level::Debug => "debug",
                log::Level::Trace => "trace",
            };
            output::log_line(&format!("neuromorpho: {level}: {}\n", r.args()));
        }
        if let Some(file) = &self.file {
            if r.level() <= self.file_level && is_ours(r.target()) {
                // One write per line: lines of two writers never interleave inside a line.
                let line = format!("{} {:<5} {}\n", Timestamp::now(), r.level(), r.args());
                let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
                let _ = f.write_all(line.as_bytes());
            }
        }
    }

    fn flush(&self) {
        if let Some(f) = &self.file {
            let _ = f.lock().unwrap_or_else(|p| p.into_inner()).flush();
        }
    }
}

/// A log file for this run: `DIR/YYYY-MM-DD-HH_MM-STEM.log` (neuromorphopy's name, UTC),
/// or with `-2`, `-3`, ... when another run of the same minute has it. Created exclusively.
pub fn create_log_file(dir: &Path, stem: &str) -> Result<(PathBuf, File), String> {
    let c = Timestamp::now().civil();
    let base = format!(
        "{:04}-{:02}-{:02}-{:02}_{:02}-{stem}",
        c.year, c.month, c.day, c.hour, c.minute
    );
    for n in 1..1000 {
        let name = if n == 1 {
            format!("{base}.log")
        } else {
            format!("{base}-{n}.log")
        };
        let path = dir.join(name);
        match OpenOptions::new().append(true).create_new(true).open(&path) {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("log file {}: {e}", path.display())),
        }
    }
    Err(format!("log file {base}.log: too many runs in one minute"))
}

/// Set up logging: stderr at warn (debug with -v, error with -q) unless `RUST_LOG` says
/// otherwise; the log file, if any, gets info (debug with -v).
pub fn init(verbosity: Verbosity, log_file: Option<File>) {
    let default = match verbosity {
        Verbosity::Quiet => LevelFilter::Error,
        Verbosity::Normal => LevelFilter::Warn,
        Verbosity::Verbose => LevelFilter::Debug,
    };
    let mut builder = env_logger::Builder::new();
    builder
        .filter_level(LevelFilter::Off)
        .filter_module("neuromorpho", default);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    let filter = builder.build();
    let file_level = if verbosity == Verbosity::Verbose {
        LevelFilter::Debug
    } else {
        LevelFilter::Info
    };
    let max = if log_file.is_some() {
        filter.filter().max(file_level)
    } else {
        filter.filter()
    };
    let logger = Logger {
        filter,
        file: log_file.map(Mutex::new),
        file_level,
    };
    // A second init (tests calling run twice in one process) keeps the first logger.
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(max);
    }
}
