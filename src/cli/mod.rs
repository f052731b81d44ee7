//! The `neuromorpho` command: parse once into a `Config`, run, map the outcome to an exit code.

mod args;
mod check;
mod completions;
mod explain;
mod flags;
mod help;
mod job;
mod logging;
mod output;
mod progress;
mod sys;
mod verify;

use std::ffi::OsString;
use std::process::ExitCode;

use neuromorpho::{Client, Error, FailureKind, Query};

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
        Command::Fields { field } => {
            logging::init(config.verbosity, None);
            let client = build_client(&config.net)?;
            let list = list_fields(&client, field.as_deref())
                .map_err(|e| explain::error(&client, &config.net, e))?;
            let mut out = String::new();
            for v in list {
                out.push_str(&neuromorpho::text::escape(&v));
                out.push('\n');
            }
            output::print(&out)?;
            Ok(exit::OK)
        }
        Command::Preview {
            query,
            out_dir,
            metadata_file,
            dataset,
        } => {
            logging::init(config.verbosity, None);
            let query = query.load()?;
            let client = build_client(&config.net)?;
            let fail = |e| explain::error(&client, &config.net, e);
            client.validate(&query).map_err(fail)?;
            let total = client.count(&query).map_err(fail)?;
            let first = client.first(&query, 3).map_err(fail)?;
            let names: Vec<String> = first
                .iter()
                .map(|n| neuromorpho::text::escape(n.neuron_name()).into_owned())
                .collect();
            let names = if names.is_empty() {
                "(none)".to_string()
            } else {
                names.join(", ")
            };
            output::print(&format!(
                "query:     {}\nneurons:   {total}\n{}output:    {}\nmetadata:  {}\nfirst:     {names}\n",
                describe(&query),
                output::preview_selection(dataset, total),
                out_dir.join("downloads").display(),
                out_dir.join(metadata_file).display(),
            ))?;
            Ok(exit::OK)
        }
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
        } => check::run(config, paths, *format, *threads),
        Command::Doctor => {
            logging::init(config.verbosity, None);
            let client = build_client(&config.net)?;
            let checks = client.diagnose();
            let mut text = String::new();
            for c in &checks {
                let status = if c.ok { "ok" } else { "FAIL" };
                text.push_str(&format!("{status:<4} {:<9} {}\n", c.step, c.detail));
                if let Some(h) = &c.hint {
                    text.push_str(&format!("{:<14} -> {h}\n", ""));
                }
            }
            output::print(&text)?;
            Ok(if checks.iter().all(|c| c.ok) {
                exit::OK
            } else {
                exit::ERROR
            })
        }
    }
}

/// `fields` or `fields FIELD`; an unknown field is named with the closest ones.
fn list_fields(client: &Client, field: Option<&str>) -> neuromorpho::Result<Vec<String>> {
    match field {
        None => client.fields(),
        Some(f) => client.field_values(f).map_err(|e| match e {
            // A wildcard skips the value check: only the field is judged.
            Error::Request {
                kind: FailureKind::NotFound | FailureKind::Http4xx,
                ..
            } => match client.validate(&Query::new().filter(f, ["*"])) {
                Err(invalid @ Error::InvalidQuery(_)) => invalid,
                _ => e,
            },
            other => other,
        }),
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
