//! `neuromorpho verify OUT [--repair]`: check a folder against its manifest, print each
//! problem (a path and what is wrong) on stdout and a summary on stderr; with `--repair`,
//! fetch again what failed and check once more.

use std::path::Path;

use neuromorpho::store::Problem;
use neuromorpho::{Client, VerifyOptions, VerifyReport};

use super::args::Config;
use super::logging;
use super::output::{self, human_bytes, plural};
use super::progress::ProgressView;
use super::{build_client, exit, explain, Failure};

pub fn run(
    config: &Config,
    out_dir: &Path,
    repair: bool,
    hash: bool,
    threads: Option<usize>,
) -> Result<u8, Failure> {
    logging::init(config.verbosity, None);
    let mut options = VerifyOptions::default().hash(hash);
    if let Some(t) = threads {
        options = options.threads(t);
    }
    let mut view = ProgressView::new(config.verbosity);
    // Verifying sends no request: a client without a proxy or a server setting will do (a
    // broken proxy variable must not stop an offline check).
    let offline = Client::builder()
        .proxy(neuromorpho::ProxyMode::None)
        .build()
        .map_err(|e| output::chain(&e))?;
    let verify = |view: &mut ProgressView| {
        offline
            .verify(out_dir, &options, |p| view.on(p))
            .map_err(|e| output::chain(&e))
    };
    let report = verify(&mut view)?;
    print_problems(&report)?;
    summary(&view, &report, "verified");
    if report.is_ok() || !repair {
        return Ok(if report.is_ok() {
            exit::OK
        } else {
            exit::PARTIAL
        });
    }
    let files = report.problems.iter().filter(|p| p.entry.is_some()).count() as u64;
    let records = report.problems.len() as u64
        - files
        - report
            .problems
            .iter()
            .filter(|p| matches!(p.problem, Problem::Unlisted))
            .count() as u64;
    if files + records == 0 {
        view.say("nothing to repair: the problems are files the manifest does not list");
        return Ok(exit::PARTIAL);
    }
    let client = build_client(&config.net)?;
    let repaired = client
        .repair(out_dir, &report, |p| view.on(p))
        .map_err(|e| explain::error(&client, &config.net, e))?;
    if files > 0 {
        view.say(&format!(
            "repaired {} of {} ({})",
            repaired.downloaded,
            plural(files, "file", "files"),
            human_bytes(repaired.bytes)
        ));
    }
    if records > 0 {
        view.say(&format!(
            "rewrote the manifests and checksum lists at fault ({} dropped or rewritten)",
            plural(records, "record", "records")
        ));
    }
    for f in &repaired.failed {
        log::warn!(
            "{}: {} [{}]",
            neuromorpho::text::escape(&f.url),
            neuromorpho::text::escape(&f.detail),
            f.kind
        );
    }
    // Once more, to be sure of what is there now.
    let again = verify(&mut view)?;
    print_problems(&again)?;
    summary(&view, &again, "verified again");
    Ok(if again.is_ok() {
        exit::OK
    } else {
        exit::PARTIAL
    })
}

fn print_problems(report: &VerifyReport) -> Result<(), Failure> {
    let mut text = String::new();
    for p in &report.problems {
        // A manifest line reads `manifest.jsonl line 3: ...`.
        let sep = if matches!(p.problem, Problem::ManifestLine { .. }) {
            " "
        } else {
            ": "
        };
        text.push_str(&format!(
            "{}{sep}{}\n",
            neuromorpho::text::escape(&p.path),
            neuromorpho::text::escape(&p.problem.to_string())
        ));
    }
    output::print(&text)?;
    Ok(())
}

fn summary(view: &ProgressView, r: &VerifyReport, what: &str) {
    let count = |f: fn(&Problem) -> bool| r.problems.iter().filter(|p| f(&p.problem)).count();
    let missing = count(|p| matches!(p, Problem::Missing));
    let changed = count(|p| matches!(p, Problem::Size { .. } | Problem::Hash { .. }));
    let unlisted = count(|p| matches!(p, Problem::Unlisted));
    let records = count(|p| matches!(p, Problem::ManifestLine { .. } | Problem::Checksums(_)));
    // Everything else: special files, blocked folders, read errors. Every problem listed is
    // counted once.
    let other = r
        .problems
        .len()
        .saturating_sub(missing + changed + unlisted + records);
    // A rate measured over a few milliseconds means nothing.
    let seconds = r.elapsed.as_secs_f64();
    let speed = if seconds >= 0.5 && r.bytes > 0 {
        format!(", {}/s", human_bytes((r.bytes as f64 / seconds) as u64))
    } else {
        String::new()
    };
    let mut line = format!(
        "{what} {} ({} hashed in {:.1} s{speed}): {} ok, {missing} missing, {changed} damaged, {unlisted} unlisted",
        plural(r.entries, "file", "files"),
        human_bytes(r.bytes),
        seconds,
        r.ok
    );
    if other > 0 {
        line.push_str(&format!(", {other} unreadable"));
    }
    if records > 0 {
        line.push_str(&format!(
            ", {records} bad manifest {}",
            if records == 1 { "record" } else { "records" }
        ));
    }
    if let Some(peak) = output::peak_memory() {
        line.push_str(&format!(", peak memory {}", human_bytes(peak)));
    }
    if r.is_ok() {
        view.say(&line);
    } else {
        // Problems are shown even with -q.
        output::say(&line);
    }
}
