//! `download`, `metadata` and `get`: read what the user gave, prepare the folder and the log,
//! run the library's job with Ctrl-C mapped to its cancellation, and sum up.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use neuromorpho::store::Mirror;
use neuromorpho::swc::CheckOptions;
use neuromorpho::tables::names_from_metadata;
use neuromorpho::{
    CancelToken, Client, DownloadOptions, Error, FailureKind, FileKind, JobOptions, JobSummary,
    Query, SavedRun,
};

use super::args::{Config, JobConfig, Source, Verbosity};
use super::logging::{self, FILE_ONLY};
use super::output::{self, human_bytes, plural};
use super::progress::ProgressView;
use super::report::Built;
use super::{build_client, describe, exit, explain, sys, Failure};

/// After a signal, in-flight requests get this long to end by themselves before they are cut.
const GRACE: Duration = Duration::from_millis(1500);
/// Failures listed by name in the summary; the rest are counted (all are in failed.csv).
const SHOWN_FAILURES: usize = 10;

/// What the neurons come from, read before the output folder is touched.
enum Input {
    Query(Query),
    Names(Vec<String>),
}

pub fn run(config: &Config, job: &JobConfig) -> Result<u8, Failure> {
    // A bad query or names file writes nothing.
    let (input, saved) = read_input(job)?;
    // Nor does a --mirror that is no mirror, or that holds the output folder.
    let mirror = open_mirror(job)?;
    // A rerun without a query repeats the folder's run, settings and all.
    let (mut options, notes) = job_options(job, saved.as_ref());
    if let Some(m) = mirror {
        let files = options.files().clone().mirror(m);
        options = options.with_files(files);
    }
    let client = build_client(&config.net)?;
    // So is a -g field the server does not know: checked before the folder is made.
    check_group_fields(&client, config, job)?;
    std::fs::create_dir_all(&job.out_dir).map_err(|e| {
        format!(
            "cannot create the output folder {}: {e}",
            job.out_dir.display()
        )
    })?;
    start_logging(config.verbosity, job)?;
    if config.net.insecure {
        // The client was built before logging started, so its own warning went nowhere.
        log::warn!(
            "TLS certificate verification is OFF (--insecure): answers could come from anyone"
        );
    }
    log::info!(
        target: FILE_ONLY,
        "neuromorpho {} against {}",
        env!("CARGO_PKG_VERSION"),
        neuromorpho::text::redact(client.base_url())
    );
    if let Input::Query(q) = &input {
        log::info!(target: FILE_ONLY, "query: {}", describe(q));
    }
    for note in &notes {
        log::warn!("{note}");
    }

    let token = CancelToken::new();
    let client = client.with_cancel(&token);
    let mut view = ProgressView::new(config.verbosity);
    sys::catch_signals();
    let done = AtomicBool::new(false);
    let result = std::thread::scope(|s| {
        s.spawn(|| watch_signals(&token, &client, &done));
        let result = match &input {
            Input::Query(q) => client.download_query(q, &options, |p| view.on(p)),
            Input::Names(n) => client.download_names(n, &options, |p| view.on(p)),
        };
        done.store(true, Ordering::SeqCst);
        result
    });
    if let Some(sig) = sys::received() {
        return Ok(interrupted(&view, sig, job));
    }
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            let e = explain_refusal(&client, &input, e);
            let msg = explain::error(&client, &config.net, e);
            log::error!(target: FILE_ONLY, "{msg}");
            return Err(Failure::Message(msg));
        }
    };
    if summary.matched == 0 && summary.failed.is_empty() {
        let msg = match &input {
            Input::Query(q) => match client.validate(q) {
                Err(e) => explain::error(&client, &config.net, e),
                Ok(()) => format!("no neuron matches the query ({})", describe(q)),
            },
            Input::Names(_) => "none of the names was found on the server".to_string(),
        };
        log::error!(target: FILE_ONLY, "{msg}");
        return Err(Failure::Message(msg));
    }
    let code = report(&view, &summary, job);
    if !job.report || code == exit::ERROR {
        return Ok(code);
    }
    // The page last: after --check's verdicts, so that it shows them.
    Ok(
        match super::report::build(&mut view, &job.out_dir, &job.page, None) {
            Ok(Built::Page(page)) => {
                log::info!(
                    target: FILE_ONLY,
                    "page: {} ({} neurons, {} thumbnails not drawn)",
                    page.page.display(),
                    page.neurons,
                    page.unreadable.len()
                );
                code.max(super::report::tell(&view, &page))
            }
            Ok(Built::Interrupted(sig)) => {
                output::say(&format!(
                    "interrupted ({}) while building the page: the files are complete, no page \
                 written; 'neuromorpho report {}' builds it",
                    super::report::signal_name(sig),
                    job.out_dir.display()
                ));
                exit::signal(sig)
            }
            Err(e) => {
                let msg = format!("cannot build the page: {}", output::chain(&e));
                log::error!(target: FILE_ONLY, "{msg}");
                output::say(&format!("error: {msg}"));
                code.max(exit::PARTIAL)
            }
        },
    )
}

/// `--mirror DIR`, opened (its manifest indexed) and checked apart from the output folder:
/// a usage error otherwise.
fn open_mirror(job: &JobConfig) -> Result<Option<Mirror>, Failure> {
    let Some(dir) = &job.mirror else {
        return Ok(None);
    };
    let bad = |e: &Error| {
        Failure::Usage(format!(
            "--mirror {}: {}",
            dir.display(),
            super::output::chain(e)
        ))
    };
    let mirror = Mirror::open(dir).map_err(|e| bad(&e))?;
    mirror.check_apart(&job.out_dir).map_err(|e| bad(&e))?;
    Ok(Some(mirror))
}

/// What the neurons come from; for a rerun without a query, the folder's saved run too.
fn read_input(job: &JobConfig) -> Result<(Input, Option<SavedRun>), String> {
    let input = match &job.source {
        Source::Saved => {
            let run = SavedRun::load(&job.out_dir, job.shard)
                .map_err(|e| super::output::chain(&e))?
                .ok_or_else(|| {
                    format!(
                        "no query given, and {} has none saved (neuromorpho-run.json): give the \
                         query (a query file, -f FIELD=VALUE, or --all)",
                        job.out_dir.display()
                    )
                })?;
            return Ok((Input::Query(run.query.clone()), Some(run)));
        }
        Source::Query(spec) => Input::Query(spec.load()?),
        Source::Names { names, file } => Input::Names(read_names(names, file.as_deref())?),
        Source::MetadataFile(path) => {
            Input::Names(names_from_metadata(path).map_err(|e| super::output::chain(&e))?)
        }
    };
    Ok((input, None))
}

/// Names from the command line and a names file (`-` is stdin): one per line, `#` comments,
/// a byte-order mark and CRLF line ends allowed.
fn read_names(names: &[String], file: Option<&Path>) -> Result<Vec<String>, String> {
    let mut all = names.to_vec();
    if let Some(f) = file {
        let bytes = if f.as_os_str() == "-" {
            let mut b = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)
                .map_err(|e| format!("stdin: {e}"))?;
            b
        } else {
            std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?
        };
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("{}: not a UTF-8 text file", f.display()))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
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

/// The run's log file (unique per run) and the logger.
fn start_logging(verbosity: Verbosity, job: &JobConfig) -> Result<(), String> {
    if !job.log_file {
        logging::init(verbosity, None);
        return Ok(());
    }
    let stem = match &job.source {
        Source::Query(spec) => spec.stem.clone(),
        Source::Names { .. } => "get".into(),
        Source::MetadataFile(p) => p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        Source::Saved => "update".into(),
    };
    // Shards started in the same minute each get their own file.
    let part = job
        .shard
        .map(|s| format!("-shard-{}-of-{}", s.index(), s.count()))
        .unwrap_or_default();
    let (path, file) = logging::create_log_file(&job.out_dir, &format!("{stem}{part}"))?;
    logging::init(verbosity, Some(file));
    log::debug!("log file {}", path.display());
    Ok(())
}

/// `-g` names fields like `-f` does: an unknown one is an error with the closest ones,
/// before anything is written.
fn check_group_fields(client: &Client, config: &Config, job: &JobConfig) -> Result<(), String> {
    if job.group_by.is_empty() {
        return Ok(());
    }
    let mut q = Query::new();
    for g in &job.group_by {
        q = q.filter(g.as_str(), ["*"]);
    }
    client.validate(&q).map_err(|e| {
        let msg = match e {
            Error::InvalidQuery(items) => {
                let parts: Vec<String> = items.iter().map(|i| i.to_string()).collect();
                format!("-g/--group-by: {}", parts.join("; "))
            }
            other => explain::error(client, &config.net, other),
        };
        log::error!(target: FILE_ONLY, "{msg}");
        msg
    })
}

/// The library's options from the command line; with the folder's saved run, every setting
/// that shapes the folder and was not given comes from it, and one given differently is
/// said (the notes).
fn job_options(job: &JobConfig, saved: Option<&SavedRun>) -> (JobOptions, Vec<String>) {
    let mut group_by = job.group_by.clone();
    let mut what = job.what.clone();
    let mut metadata_file = job.metadata_file.clone();
    let mut metadata_format = job.metadata_format;
    let mut morphometry = job.morphometry;
    let mut pvec = job.pvec;
    let mut dataset = job.dataset;
    let mut notes = Vec::new();
    if let Some(saved) = saved {
        let given = job.given;
        let mut differs = |option: &str, now: String, before: String| {
            if now != before {
                notes.push(format!(
                    "{option} {now} differs from how {} was made ({before}): this run follows {option}",
                    job.out_dir.display()
                ));
            }
        };
        let kinds = |k: &[FileKind]| k.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",");
        let fields = |g: &[String]| {
            if g.is_empty() {
                "no grouping".to_string()
            } else {
                neuromorpho::text::escape(&g.join(",")).into_owned()
            }
        };
        if given.group_by {
            differs("-g", fields(&group_by), fields(&saved.group_by));
        } else {
            group_by = saved.group_by.clone();
        }
        if given.what {
            differs("--what", kinds(&what), kinds(&saved.what));
        } else {
            what = saved.what.clone();
        }
        if given.metadata_file {
            differs(
                "-m",
                metadata_file.display().to_string(),
                saved.metadata_file.display().to_string(),
            );
        } else {
            metadata_file = saved.metadata_file.clone();
        }
        if given.metadata_format {
            differs(
                "--metadata-format",
                metadata_format.as_str().into(),
                saved.metadata_format.as_str().into(),
            );
        } else {
            metadata_format = saved.metadata_format;
        }
        if !given.morphometry {
            morphometry = saved.morphometry;
        }
        if !given.what {
            pvec = saved.pvec;
        }
        // The sample and the limit are part of the query: kept unless given anew.
        let shown = |s: Option<String>| s.unwrap_or_else(|| "none".into());
        if dataset.sample.is_some() {
            differs(
                "--sample",
                shown(dataset.sample.map(|s| s.to_string())),
                shown(saved.sample.map(|s| s.to_string())),
            );
        } else {
            dataset.sample = saved.sample;
        }
        match dataset.seed {
            Some(seed) if saved.sample.is_some() => {
                differs("--seed", seed.to_string(), saved.seed.to_string())
            }
            Some(_) => {}
            None => dataset.seed = Some(saved.seed),
        }
        if dataset.limit.is_some() {
            differs(
                "--limit",
                shown(dataset.limit.map(|l| l.to_string())),
                shown(saved.limit.map(|l| l.to_string())),
            );
        } else {
            dataset.limit = saved.limit;
        }
    }
    // `--what pvec` alone (now or when the folder was made): the tables, no file.
    let download = job.download && !what.is_empty();
    let files = DownloadOptions::new(&job.out_dir)
        .what(what)
        .group_by(group_by)
        .update(job.update)
        .check_hash(job.check_hash);
    let options = JobOptions::from(files)
        .metadata_file(metadata_file)
        .metadata_format(metadata_format)
        .morphometry(morphometry)
        .pvec(pvec)
        .sample(dataset.sample)
        .seed(dataset.seed.unwrap_or(0))
        .limit(dataset.limit)
        .metadata_only(!download)
        .shard(job.shard)
        .citations(download)
        .check(job.check);
    let options = if job.check {
        let settings = &job.check_settings;
        let mut checks = CheckOptions::new();
        if let Some(neurom) = &settings.neurom {
            checks = checks.neurom(neurom.clone());
        }
        if let Some(required) = &settings.require {
            checks = checks.require(required.clone());
        }
        options.check_with(checks)
    } else {
        options
    };
    (options, notes)
}

/// The first SIGINT/SIGTERM cancels the job; in-flight requests that do not end within
/// [`GRACE`] are cut. Ends when the job does.
fn watch_signals(token: &CancelToken, client: &Client, done: &AtomicBool) {
    let mut cancelled_at: Option<Instant> = None;
    while !done.load(Ordering::SeqCst) {
        if cancelled_at.is_none() && sys::received().is_some() {
            token.cancel();
            cancelled_at = Some(Instant::now());
        }
        if cancelled_at.is_some_and(|t| t.elapsed() >= GRACE) {
            client.shutdown();
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A select the server refuses (400) usually names an unknown field or sort: say which.
fn explain_refusal(client: &Client, input: &Input, e: Error) -> Error {
    match (&e, input) {
        (
            Error::Request {
                kind: FailureKind::Http4xx,
                ..
            },
            Input::Query(q),
        ) => match client.validate(q) {
            Err(invalid @ Error::InvalidQuery(_)) => invalid,
            _ => e,
        },
        _ => e,
    }
}

fn interrupted(view: &ProgressView, sig: i32, job: &JobConfig) -> u8 {
    let c = view.counts;
    let name = if sig == sys::SIGTERM {
        "SIGTERM"
    } else {
        "Ctrl-C"
    };
    let mut line = format!("interrupted ({name})");
    if c.files > 0 {
        line.push_str(&format!(
            ": {} of {} done ({}, {} failed)",
            c.done,
            plural(c.files, "file", "files"),
            human_bytes(c.bytes),
            c.failed
        ));
    }
    line.push_str(&format!(
        "; finished files are kept, no partial file is left; run the same command again to \
         finish the job in {}",
        job.out_dir.display()
    ));
    log::warn!(target: FILE_ONLY, "{line}");
    output::say(&line);
    exit::signal(sig)
}

/// What to do about failures of one kind.
fn advice(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::NotFound => "not found on the server",
        FailureKind::TooLarge => "raise --max-file-size to accept them",
        FailureKind::InvalidRecord => "the server's records lack what a download needs",
        FailureKind::Pvec => "the server has no usable persistence vector for them",
        FailureKind::Io => "check the output folder (space, permissions)",
        FailureKind::Tls => "see 'neuromorpho doctor'",
        FailureKind::Http4xx => "the server refused them",
        FailureKind::UnexpectedStatus => "the server answered what was not asked",
        _ => "run the same command again to retry them",
    }
}

/// The final summary on stderr (and in the log); returns the exit code.
fn report(view: &ProgressView, s: &JobSummary, job: &JobConfig) -> u8 {
    let mut line = format!("matched {}", s.matched);
    if s.selected != s.matched {
        let what = match (&s.sampled, job.shard) {
            (Some(_), Some(_)) => "kept in this shard",
            (Some(_), None) => "kept",
            _ => "this shard",
        };
        line.push_str(&format!(", {what} {}", s.selected));
    }
    // The counts add up to the files (one per neuron unless several kinds are asked for).
    if job.download && s.files != s.selected {
        line.push_str(&format!(", files {}", s.files));
    }
    let no_update = neuromorpho::UpdateSummary::default();
    let update = s.update.as_ref().unwrap_or(&no_update);
    if job.download && job.update {
        let repaired = if s.repaired > 0 {
            format!(", damaged copies fetched again {}", s.repaired)
        } else {
            String::new()
        };
        // Files another run put in place meanwhile.
        let skipped = if s.skipped > 0 {
            format!(", skipped {}", s.skipped)
        } else {
            String::new()
        };
        line.push_str(&format!(
            ": new {}, changed {}, unchanged {}{repaired}{skipped}, gone {}, failed {}, {}",
            s.downloaded.saturating_sub(update.changed + s.repaired),
            update.changed,
            update.unchanged,
            update.gone.len(),
            s.failed.len(),
            human_bytes(s.bytes)
        ));
    } else if job.download {
        line.push_str(&format!(
            ", downloaded {}, skipped {}, failed {}, {}",
            s.downloaded,
            s.skipped,
            s.failed.len(),
            human_bytes(s.bytes)
        ));
    } else if !s.failed.is_empty() {
        line.push_str(&format!(", failed {}", s.failed.len()));
    }
    line.push_str(&format!(", {:.1} s", s.elapsed.as_secs_f64()));
    // A whole-archive run on a login node: how much memory it needed.
    if let Some(peak) = output::peak_memory() {
        line.push_str(&format!(", peak memory {}", human_bytes(peak)));
    }
    log::info!(target: FILE_ONLY, "{line}");
    view.say(&line);
    // What a sample kept of how many, where the files came from, the vectors.
    let mut lines = Vec::new();
    if let Some(sampled) = &s.sampled {
        lines.push(output::sampled_line(sampled));
    }
    if let Some(m) = &s.mirror {
        lines.push(output::mirror_line(m));
    }
    if let Some(p) = &s.pvec {
        let table = s
            .written
            .pvec
            .as_ref()
            .map(|t| format!(" in {}", t.display()))
            .unwrap_or_default();
        lines.push(format!(
            "persistence vectors {}{table}, without one {} ({})",
            p.vectors,
            p.missing,
            plural(p.requests, "request", "requests")
        ));
    }
    for line in &lines {
        log::info!(target: FILE_ONLY, "{line}");
        view.say(line);
    }
    if let Some(p) = &s.written.metadata {
        view.say(&format!("metadata: {}", p.display()));
    }
    if let Some(c) = &s.check {
        let mut counts = vec![
            format!("{} with errors", c.with_errors),
            format!("{} with warnings", c.with_warnings),
        ];
        if job.check_settings.neurom.is_some() {
            counts.push(format!("{} failing a NeuroM check", c.neurom_failed));
        }
        if job.check_settings.require.is_some() {
            counts.push(format!(
                "{} not passing --require {}",
                c.rejected,
                neuromorpho::text::escape(&job.check_settings.require_text)
            ));
        }
        let line = format!(
            "checked {}: {} (kept; verdicts in {})",
            plural(c.files, "SWC file", "SWC files"),
            counts.join(", "),
            c.table.display()
        );
        log::info!(target: FILE_ONLY, "{line}");
        view.say(&line);
    }
    if !update.gone.is_empty() {
        let shown: Vec<String> = update
            .gone
            .iter()
            .take(SHOWN_FAILURES)
            .map(|g| neuromorpho::text::escape(g).into_owned())
            .collect();
        let more = update.gone.len().saturating_sub(SHOWN_FAILURES);
        view.say(&format!(
            "no longer matched by the query (kept, not deleted): {}{}",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
    if s.failed.is_empty() {
        return exit::OK;
    }
    let list = s
        .written
        .failed_list
        .as_ref()
        .map(|p| format!("; listed in {}", p.display()))
        .unwrap_or_default();
    let n = s.failed.len() as u64;
    // Vectors missing are no files: said as what they are.
    let count = if s.failed.iter().all(|f| f.reason == FailureKind::Pvec) {
        format!(
            "{} without a persistence vector",
            plural(n, "neuron", "neurons")
        )
    } else {
        format!("{} failed", plural(n, "file", "files"))
    };
    if !view.quiet() {
        let shown: Vec<String> = s
            .failed
            .iter()
            .take(SHOWN_FAILURES)
            .map(|f| {
                let who = if f.neuron_name.is_empty() {
                    f.neuron_id
                        .map(|id| format!("neuron_id {id}"))
                        .unwrap_or_else(|| "a record".into())
                } else {
                    neuromorpho::text::escape(&f.neuron_name).into_owned()
                };
                format!("{who} ({})", f.reason)
            })
            .collect();
        let more = s.failed.len().saturating_sub(SHOWN_FAILURES);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        let mut kinds: Vec<FailureKind> = s.failed.iter().map(|f| f.reason).collect();
        kinds.sort_by_key(|k| k.as_str());
        kinds.dedup();
        let advice: Vec<String> = kinds
            .iter()
            .map(|k| format!("{k}: {}", advice(*k)))
            .collect();
        log::warn!(
            "{count}: {}{more}{list} ({})",
            shown.join(", "),
            advice.join("; ")
        );
    }
    let nothing = job.download && s.downloaded + s.skipped + s.unchanged() == 0;
    if nothing {
        // The last line says the run failed.
        let msg = format!("nothing downloaded: {count}{list}");
        log::error!(target: FILE_ONLY, "{msg}");
        output::say(&format!("error: {msg}"));
        return exit::ERROR;
    }
    if view.quiet() {
        output::say(&format!("{count}{list}"));
    }
    exit::PARTIAL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_files_with_bom_and_crlf() {
        let dir = std::env::temp_dir().join(format!("nm-names-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("names.txt");
        std::fs::write(&f, "\u{feff}cnic_001\r\n# comment\r\n\r\nC031097B-I4\r\n").unwrap();
        let names = read_names(&[], Some(&f)).unwrap();
        assert_eq!(names, ["cnic_001", "C031097B-I4"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn advice_fits_the_reason() {
        assert!(advice(FailureKind::TooLarge).contains("--max-file-size"));
        assert!(!advice(FailureKind::TooLarge).contains("again"));
        assert!(advice(FailureKind::Http5xx).contains("again"));
    }
}
