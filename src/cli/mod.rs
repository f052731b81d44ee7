//! The `neuromorpho` command: parse once into a `Config`, run, map the outcome to an exit code.

mod args;
mod help;
mod output;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use neuromorpho::job::{download_names, names_from_metadata, JobOptions, Summary};
use neuromorpho::{Client, Error, FailureKind, Query};

use args::{Command, Config, JobConfig, NetConfig, Source, Verbosity};
use output::{human_bytes, ProgressView};

/// Exit codes, as documented in `--help` and the README.
pub mod exit {
    /// All done.
    pub const OK: u8 = 0;
    /// An error: bad query, server unreachable, nothing downloaded.
    pub const ERROR: u8 = 1;
    /// A usage error.
    pub const USAGE: u8 = 2;
    /// Finished, but some files failed.
    pub const PARTIAL: u8 = 3;
}

/// Run the command line; never panics on bad input.
pub fn main() -> ExitCode {
    let raw: Vec<OsString> = std::env::args_os().skip(1).collect();
    let config = match args::parse(raw) {
        Ok(c) => c,
        Err(args::UsageError(msg)) => {
            eprintln!("neuromorpho: usage error: {msg}");
            return ExitCode::from(exit::USAGE);
        }
    };
    match run(&config) {
        Ok(code) => ExitCode::from(code),
        Err(msg) => {
            eprintln!("neuromorpho: error: {msg}");
            ExitCode::from(exit::ERROR)
        }
    }
}

/// Run a parsed command. `Err` is the one-line message of a failed run (exit code 1).
fn run(config: &Config) -> Result<u8, String> {
    match &config.command {
        Command::Help(text) => {
            print_out(text);
            Ok(exit::OK)
        }
        Command::Version => {
            print_out(&format!("neuromorpho {}\n", env!("CARGO_PKG_VERSION")));
            Ok(exit::OK)
        }
        Command::Fields { field } => {
            init_logging(config.verbosity, None)?;
            let client = build_client(&config.net)?;
            let list = match field {
                None => client.fields(),
                Some(f) => client.field_values(f).map_err(|e| match e {
                    // An unknown field: name the closest ones (a wildcard skips value checks).
                    Error::Request {
                        kind: FailureKind::NotFound | FailureKind::Http4xx,
                        ..
                    } => match client.validate(&Query::new().filter(f.as_str(), ["*"])) {
                        Err(invalid @ Error::Invalid(_)) => invalid,
                        _ => e,
                    },
                    other => other,
                }),
            }
            .map_err(|e| explain(&client, e))?;
            let mut out = String::new();
            for v in list {
                out.push_str(&v);
                out.push('\n');
            }
            print_out(&out);
            Ok(exit::OK)
        }
        Command::Preview {
            query,
            out_dir,
            metadata_file,
        } => {
            init_logging(config.verbosity, None)?;
            let query = query.load().map_err(|e| e.to_string())?;
            let client = build_client(&config.net)?;
            client.validate(&query).map_err(|e| explain(&client, e))?;
            let total = client.count(&query).map_err(|e| explain(&client, e))?;
            let first = client.first(&query, 3).map_err(|e| explain(&client, e))?;
            let names: Vec<&str> = first.iter().map(|n| n.neuron_name.as_str()).collect();
            let names = if names.is_empty() {
                "(none)".to_string()
            } else {
                names.join(", ")
            };
            print_out(&format!(
                "query:     {}\nneurons:   {total}\noutput:    {}\nmetadata:  {}\nfirst:     {names}\n",
                describe(&query),
                out_dir.join("downloads").display(),
                out_dir.join(metadata_file).display(),
            ));
            Ok(exit::OK)
        }
        Command::Job(job) => run_job(config, job),
        Command::Doctor => {
            init_logging(config.verbosity, None)?;
            let client = build_client(&config.net)?;
            let checks = client.diagnose();
            let mut ok = true;
            let mut text = String::new();
            for c in &checks {
                let status = if c.ok { "ok" } else { "FAIL" };
                text.push_str(&format!("{status:<4} {:<9} {}\n", c.step, c.detail));
                if let Some(h) = &c.hint {
                    text.push_str(&format!("{:<14} -> {h}\n", ""));
                }
                ok &= c.ok;
            }
            print_out(&text);
            Ok(if ok { exit::OK } else { exit::ERROR })
        }
    }
}

fn run_job(config: &Config, job: &JobConfig) -> Result<u8, String> {
    // Read what the user gave before touching the output folder: a bad query file writes nothing.
    let query = match &job.source {
        Source::Query(spec) => Some(spec.load().map_err(|e| e.to_string())?),
        _ => None,
    };
    let names = match &job.source {
        Source::Names { names, file } => Some(read_names(names, file.as_deref())?),
        Source::MetadataFile(path) => Some(names_from_metadata(path).map_err(|e| e.to_string())?),
        Source::Query(_) => None,
    };
    let client = build_client(&config.net)?;
    std::fs::create_dir_all(&job.out_dir).map_err(|e| {
        format!(
            "cannot create the output folder {}: {e}",
            job.out_dir.display()
        )
    })?;
    let log_path = job.log_file.then(|| {
        let stem = match &job.source {
            Source::Query(spec) => spec.stem.clone(),
            Source::Names { .. } => "get".into(),
            Source::MetadataFile(p) => p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        // Shards started in the same minute must not share (truncate) one log file.
        let part = job
            .shard
            .map(|s| format!("-shard-{}-of-{}", s.index, s.count))
            .unwrap_or_default();
        job.out_dir
            .join(format!("{}-{stem}{part}.log", output::log_file_stamp()))
    });
    init_logging(config.verbosity, log_path.as_deref())?;
    if config.net.insecure {
        // The client was built before logging started, so its own warning went nowhere.
        log::warn!(
            "TLS certificate verification is OFF (--insecure): answers could come from anyone"
        );
    }
    log::info!(
        "neuromorpho {} against {}",
        env!("CARGO_PKG_VERSION"),
        client.base_url()
    );
    if let Some(q) = &query {
        log::info!("query: {}", describe(q));
    }

    let options = JobOptions {
        out_dir: job.out_dir.clone(),
        metadata_file: job.metadata_file.clone(),
        metadata_format: job.metadata_format,
        morphometry: job.morphometry,
        download: job.download,
        group_by: job.group_by.clone(),
        what: job.what.clone(),
        shard: job.shard,
        citations: job.download,
    };
    let view = ProgressView::new(config.verbosity);
    let progress = |p: &neuromorpho::Progress| view.on(p);
    let result = match (&query, &names) {
        (Some(q), _) => neuromorpho::search_and_download(&client, q, &options, &progress),
        (None, Some(n)) => download_names(&client, n, &options, &progress),
        (None, None) => unreachable!("a job has a query or names"),
    };
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            // A select the server refuses (400) usually names an unknown field: say which.
            let e = match (&e, &query) {
                (
                    Error::Request {
                        kind: FailureKind::Http4xx,
                        ..
                    },
                    Some(q),
                ) => match client.validate(q) {
                    Err(invalid @ Error::Invalid(_)) => invalid,
                    _ => e,
                },
                _ => e,
            };
            let msg = explain(&client, e);
            log::error!(target: output::FILE_ONLY, "{msg}");
            return Err(msg);
        }
    };
    if summary.matched == 0 {
        let msg = match &query {
            Some(q) => match client.validate(q) {
                Err(e) => explain(&client, e),
                Ok(()) => format!("no neuron matches the query ({})", describe(q)),
            },
            None => "none of the names was found on the server".to_string(),
        };
        log::error!(target: output::FILE_ONLY, "{msg}");
        return Err(msg);
    }
    report(&view, &summary, job);
    let code = if summary.failed.is_empty() && summary.not_found.is_empty() {
        exit::OK
    } else if job.download && summary.downloaded + summary.skipped == 0 {
        exit::ERROR
    } else {
        exit::PARTIAL
    };
    Ok(code)
}

/// The final summary, on stderr (and in the log).
fn report(view: &ProgressView, s: &Summary, job: &JobConfig) {
    let mut line = format!("matched {}", s.matched);
    if s.selected != s.matched {
        line.push_str(&format!(", this shard {}", s.selected));
    }
    if job.download {
        line.push_str(&format!(
            ", downloaded {}, skipped {}, failed {}, {}",
            s.downloaded,
            s.skipped,
            s.failed.len(),
            human_bytes(s.bytes)
        ));
    }
    line.push_str(&format!(", {:.1} s", s.seconds));
    log::info!("{line}");
    view.say(&line);
    if let Some(p) = &s.metadata_path {
        view.say(&format!("metadata: {}", p.display()));
    }
    if !s.failed.is_empty() {
        let shown: Vec<String> = s
            .failed
            .iter()
            .take(5)
            .map(|f| format!("{} ({})", f.neuron_name, f.kind))
            .collect();
        let more = if s.failed.len() > 5 {
            format!(" and {} more", s.failed.len() - 5)
        } else {
            String::new()
        };
        let list = s
            .failed_csv
            .as_ref()
            .map(|p| format!("; listed in {}", p.display()))
            .unwrap_or_default();
        let msg = format!(
            "{} file(s) failed: {}{more}{list}; run the same command again to retry them",
            s.failed.len(),
            shown.join(", ")
        );
        log::warn!("{msg}");
    }
    if !s.not_found.is_empty() {
        log::warn!(
            "{} name(s) not found: {}",
            s.not_found.len(),
            s.not_found.join(", ")
        );
    }
}

/// Write to stdout; a closed pipe (`neuromorpho fields | head`) is not an error.
fn print_out(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

fn init_logging(v: Verbosity, file: Option<&Path>) -> Result<(), String> {
    output::init_logging(v, file)
}

fn build_client(net: &NetConfig) -> Result<Client, String> {
    let mut b = Client::builder()
        .base_url(&net.base_url)
        .concurrency(net.concurrency)
        .connect_timeout(net.timeout.min(std::time::Duration::from_secs(30)))
        .read_timeout(net.timeout)
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
    b.build().map_err(|e| e.to_string())
}

fn read_names(names: &[String], file: Option<&Path>) -> Result<Vec<String>, String> {
    let mut all = names.to_vec();
    if let Some(f) = file {
        let text = if f.as_os_str() == "-" {
            std::io::read_to_string(std::io::stdin()).map_err(|e| format!("stdin: {e}"))?
        } else {
            std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?
        };
        all.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from),
        );
    }
    if all.is_empty() {
        return Err("no neuron names given".into());
    }
    Ok(all)
}

/// A one-line message for an error; a server that cannot be reached is named as such, with
/// the alternate host suggested.
fn explain(client: &Client, e: Error) -> String {
    match &e {
        Error::Request { url, kind, detail }
            if matches!(
                kind,
                FailureKind::Connection
                    | FailureKind::Timeout
                    | FailureKind::Tls
                    | FailureKind::Http5xx
            ) =>
        {
            let what = match kind {
                FailureKind::Tls => "cannot establish a secure connection to",
                FailureKind::Http5xx => "the server is failing at",
                _ => "cannot reach",
            };
            let hint = if client.base_url() == neuromorpho::ALTERNATE_BASE_URL {
                String::new()
            } else {
                format!(
                    "; NeuroMorpho.Org may be down: try --base-url {}",
                    neuromorpho::ALTERNATE_BASE_URL
                )
            };
            let tls = if *kind == FailureKind::Tls {
                " (see 'neuromorpho doctor')"
            } else {
                ""
            };
            format!("{what} {url}: {detail} [{kind}]{tls}{hint}")
        }
        _ => e.to_string(),
    }
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
    parts.join("; ")
}
