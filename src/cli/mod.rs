//! The `neuromorpho` command: parse once into a `Config`, run, map the outcome to an exit code.

mod args;
mod check;
mod check_settings;
mod completions;
mod doctor;
mod explain;
mod fields;
mod flags;
mod help;
mod job;
mod logging;
mod output;
mod preview;
mod progress;
mod render;
mod report;
mod sys;
mod verify;

use std::ffi::OsString;
use std::process::ExitCode;

use neuromorpho::{Client, Query};

use args::{Command, Config, NetConfig};
use output::OutError;

/// Exit codes, as documented in `--help` and the README.
pub mod exit {
    /// All done.
    pub const OK: u8 = 0;
    /// An error: bad query, server unreachable, nothing downloaded (`check`: nothing readable).
    pub const ERROR: u8 = 1;
    /// A usage error.
    pub const USAGE: u8 = 2;
    /// Finished, but something is listed in failed.csv (`check`: some file has an error).
    pub const PARTIAL: u8 = 3;
    /// Interrupted by a signal: 128 + its number (130 for Ctrl-C, 143 for SIGTERM).
    pub fn signal(sig: i32) -> u8 {
        u8::try_from(128 + sig).unwrap_or(1)
    }
}

/// A run that failed: its one-line message (exit code 1), or a closed stdout (quiet end).
pub enum Failure {
    Message(String),
    /// Found wrong once the line was read (a `--mirror` that is no mirror): exit code 2.
    Usage(String),
    StdoutClosed,
}

impl From<String> for Failure {
    fn from(s: String) -> Failure {
        Failure::Message(s)
    }
}

impl From<OutError> for Failure {
    fn from(e: OutError) -> Failure {
        match e {
            OutError::Closed => Failure::StdoutClosed,
            OutError::Failed(e) => Failure::Message(format!("cannot write the output: {e}")),
        }
    }
}

/// Run the command line; never panics on bad input.
pub fn main() -> ExitCode {
    sys::cap_malloc_arenas();
    let raw: Vec<OsString> = std::env::args_os().skip(1).collect();
    let config = match args::parse(raw) {
        Ok(c) => c,
        Err(args::UsageError(msg)) => {
            output::say(&format!("usage error: {msg}"));
            return ExitCode::from(exit::USAGE);
        }
    };
    match run(&config) {
        Ok(code) => ExitCode::from(code),
        Err(Failure::StdoutClosed) => ExitCode::from(exit::OK),
        Err(Failure::Message(msg)) => {
            output::say(&format!("error: {msg}"));
            ExitCode::from(exit::ERROR)
        }
        Err(Failure::Usage(msg)) => {
            output::say(&format!("usage error: {msg}"));
            ExitCode::from(exit::USAGE)
        }
    }
}

/// Run a parsed command.
fn run(config: &Config) -> Result<u8, Failure> {
    match &config.command {
        Command::Help(text) => {
            output::print(text)?;
            Ok(exit::OK)
        }
        Command::Version => {
            output::print(&format!("neuromorpho {}\n", env!("CARGO_PKG_VERSION")))?;
            Ok(exit::OK)
        }
        Command::Fields { field } => fields::run(config, field.as_deref()),
        Command::Preview {
            query,
            out_dir,
            metadata_file,
            dataset,
        } => preview::run(config, query, out_dir, metadata_file, dataset),
        Command::Job(job) => job::run(config, job),
        Command::Completions(script) => {
            output::print(script)?;
            Ok(exit::OK)
        }
        Command::Verify {
            out_dir,
            repair,
            hash,
            threads,
        } => verify::run(config, out_dir, *repair, *hash, *threads),
        Command::Check {
            paths,
            format,
            threads,
            settings,
        } => check::run(config, paths, *format, *threads, settings),
        Command::Render {
            paths,
            out_dir,
            render,
            threads,
        } => render::run(config, paths, out_dir.as_deref(), render, *threads),
        Command::Report {
            out_dir,
            page,
            threads,
        } => report::run(config, out_dir, page, *threads),
        Command::Doctor => doctor::run(config),
    }
}

fn build_client(net: &NetConfig) -> Result<Client, String> {
    let mut b = Client::builder()
        .base_url(&net.base_url)
        .concurrency(net.concurrency)
        .connect_timeout(
            net.timeout
                .min(neuromorpho::ClientBuilder::DEFAULT_CONNECT_TIMEOUT),
        )
        .read_timeout(net.timeout)
        .speed_limit(net.speed_limit, net.speed_time)
        .max_time(net.max_time)
        .retries(net.retries)
        .rate(net.rate)
        .proxy(net.proxy.clone())
        .insecure(net.insecure)
        .max_file_size(net.max_file_size);
    if let Some(ua) = &net.user_agent {
        b = b.user_agent(ua);
    }
    for ca in &net.ca_files {
        b = b.ca_file(ca);
    }
    b.build().map_err(|e| output::chain(&e))
}

/// `species: mouse, rat; brain_region: neocortex` (or `whole catalog`).
fn describe(q: &Query) -> String {
    if q.is_all() {
        return "whole catalog".into();
    }
    let mut parts: Vec<String> = q
        .filters()
        .iter()
        .map(|(f, v)| format!("{f}: {}", v.join(", ")))
        .collect();
    if let Some(s) = q.sort() {
        parts.push(format!(
            "sorted by {} {}",
            s.field,
            if s.ascending { "asc" } else { "desc" }
        ));
    }
    neuromorpho::text::escape(&parts.join("; ")).into_owned()
}
