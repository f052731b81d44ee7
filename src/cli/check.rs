//! `check`: SWC files and folders checked in parallel by the library, each report printed as
//! its turn comes (a table or JSON Lines), a summary on stderr, and the exit code.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use neuromorpho::swc::{check_paths, CheckOptions, IssueCode, NeuromReport, SwcReport};

use super::args::{CheckFormat, Config, Verbosity};
use super::check_settings::CheckSettings;
use super::output::{self, plural, OutError};
use super::{exit, logging, Failure};

/// The table's header: the numbers first, right-aligned under their names (the JSONL field
/// names), then the verdicts, and the file last, so that rows printed one at a time stay
/// aligned whatever the length of the names.
const COLUMNS: [(&str, usize); 8] = [
    ("points", 8),
    ("stems", 6),
    ("bifurcations", 12),
    ("tips", 6),
    ("total_length", 12),
    ("errors", 6),
    ("warnings", 8),
    ("morphio", 7),
];

/// The NeuroM column, when its checks run.
const NEUROM_COLUMN: (&str, usize) = ("neurom", 11);

/// Indentation of an issue line under its file's row.
const ISSUE_INDENT: &str = "    ";

/// The most lines named on one line of the table (JSON Lines lists them all).
const LINES_SHOWN: usize = 10;

pub fn run(
    config: &Config,
    paths: &[PathBuf],
    format: CheckFormat,
    threads: Option<usize>,
    settings: &CheckSettings,
) -> Result<u8, Failure> {
    logging::init(config.verbosity, None);
    let mut options = CheckOptions::new().max_file_size(config.net.max_file_size);
    if let Some(n) = threads {
        options = options.threads(n);
    }
    if let Some(neurom) = &settings.neurom {
        options = options.neurom(neurom.clone());
    }
    if let Some(required) = &settings.require {
        options = options.require(required.clone());
    }
    let with_neurom = settings.neurom.is_some()
        || settings
            .require
            .as_ref()
            .is_some_and(|r| !r.neurom.is_empty());
    let mut header = format == CheckFormat::Table;
    let mut readable = 0usize;
    let mut out_error: Option<OutError> = None;
    let summary = check_paths(paths, &options, |file| {
        if was_read(&file.report) {
            readable += 1;
        }
        let mut text = String::new();
        match format {
            CheckFormat::Table => {
                if header {
                    text.push_str(&header_line(with_neurom));
                    header = false;
                }
                push_rows(&mut text, &file.path, &file.report, with_neurom);
            }
            CheckFormat::Jsonl => {
                text.push_str(&file.to_json_line());
                text.push('\n');
            }
        }
        match output::print(&text) {
            Ok(()) => ControlFlow::Continue(()),
            // A closed stdout (`| head`) or a full disk: stop the walk, then say why.
            Err(e) => {
                out_error = Some(e);
                ControlFlow::Break(())
            }
        }
    })
    .map_err(|e| super::output::chain(&e))?;
    if let Some(e) = out_error {
        return Err(e.into());
    }
    if summary.files == 0 {
        return Err(Failure::Message(format!(
            "no .swc file found in {}",
            shown_paths(paths)
        )));
    }
    if readable == 0 {
        return Err(Failure::Message(format!(
            "nothing could be read: {} given or found, none could be opened or listed",
            plural(summary.files as u64, "path", "paths")
        )));
    }
    if config.verbosity != Verbosity::Quiet {
        let kept = if settings.require.is_some() {
            format!(
                "{} kept, {} rejected (--require {}); ",
                summary.kept, summary.rejected, settings.require_text
            )
        } else {
            String::new()
        };
        output::say(&format!(
            "checked {}: {kept}{} without error, {} with errors, {} with warnings; MorphIO 3.5 loads {}",
            plural(summary.files as u64, "file", "files"),
            summary.usable,
            summary.with_errors,
            summary.with_warnings,
            summary.morphio_loads
        ));
    }
    Ok(if summary.rejected > 0 {
        exit::PARTIAL
    } else {
        exit::OK
    })
}

/// Whether the file could be read at all (its bytes, whatever they are): not an `io` failure
/// (missing, unreadable, a folder that cannot be listed).
fn was_read(report: &SwcReport) -> bool {
    !report.issues.iter().any(|i| i.code == IssueCode::Io)
}

fn columns(with_neurom: bool) -> impl Iterator<Item = (&'static str, usize)> {
    COLUMNS
        .into_iter()
        .chain(with_neurom.then_some(NEUROM_COLUMN))
}

fn header_line(with_neurom: bool) -> String {
    let mut line = String::new();
    for (name, width) in columns(with_neurom) {
        line.push_str(&format!("{name:>width$}  "));
    }
    line.push_str("file\n");
    line
}

/// The NeuroM cell: `ok`, `2 fail`, `2 fail 1 ?` (no verdict), `-` (not loaded).
fn neurom_cell(n: Option<&NeuromReport>) -> String {
    let Some(n) = n else {
        return "-".to_string();
    };
    if n.load_error.is_some() {
        return "-".to_string();
    }
    let failed = n.failed().count();
    let undecided = n.undecided().count();
    match (failed, undecided) {
        (0, 0) => "ok".to_string(),
        (f, 0) => format!("{f} fail"),
        (0, u) => format!("{u} ?"),
        (f, u) => format!("{f} fail {u} ?"),
    }
}

/// Lines for a message: the first few, then how many more.
fn shown_lines(lines: &[usize]) -> String {
    let mut text: Vec<String> = lines
        .iter()
        .take(LINES_SHOWN)
        .map(|l| l.to_string())
        .collect();
    if lines.len() > LINES_SHOWN {
        text.push(format!("and {} more", lines.len() - LINES_SHOWN));
    }
    let word = if lines.len() == 1 { "line" } else { "lines" };
    format!("{word} {}", text.join(", "))
}

/// A file's row, then one indented line per issue, per MorphIO refusal or warning, and per
/// NeuroM check that fails or gives no verdict.
fn push_rows(text: &mut String, path: &Path, r: &SwcReport, with_neurom: bool) {
    let count = |n: Option<usize>| n.map_or_else(|| "-".to_string(), |n| n.to_string());
    let morphio = match &r.morphio {
        None => "-",
        Some(m) if m.loads => "loads",
        Some(_) => "refuses",
    };
    let mut cells = vec![
        count(r.points),
        count(r.stems),
        count(r.bifurcations),
        count(r.tips),
        r.total_length
            .map_or_else(|| "-".to_string(), |l| format!("{l:.2}")),
        r.errors.to_string(),
        r.warnings.to_string(),
        morphio.to_string(),
    ];
    if with_neurom {
        cells.push(neurom_cell(r.neurom.as_ref()));
    }
    for ((_, width), cell) in columns(with_neurom).zip(cells) {
        text.push_str(&format!("{cell:>width$}  "));
    }
    text.push_str(&neuromorpho::text::escape(&path.to_string_lossy()));
    text.push('\n');
    let mut notes: Vec<String> = r.issues.iter().map(|i| i.to_string()).collect();
    if let Some(m) = &r.morphio {
        if let Some(refusal) = &m.refusal {
            notes.push(format!(
                "MorphIO refuses the file: {refusal} [{}]",
                refusal.class
            ));
        }
        if !m.warnings.is_empty() {
            let warnings: Vec<String> = m
                .warnings
                .iter()
                .map(|w| match (w.line, w.count) {
                    (Some(l), 1) => format!("{} (line {l})", w.kind),
                    (Some(l), n) => format!("{} ({n} times, first line {l})", w.kind),
                    (None, 1) => w.kind.to_string(),
                    (None, n) => format!("{} ({n} times)", w.kind),
                })
                .collect();
            notes.push(format!("MorphIO warns: {}", warnings.join(", ")));
        }
    }
    if let Some(n) = &r.neurom {
        if let Some(why) = &n.load_error {
            notes.push(format!("NeuroM: {why}"));
        } else {
            for result in &n.results {
                match result.pass {
                    Some(true) => {}
                    Some(false) if result.lines.is_empty() => {
                        notes.push(format!("NeuroM {} fails", result.check));
                    }
                    Some(false) => notes.push(format!(
                        "NeuroM {} fails: {}",
                        result.check,
                        shown_lines(&result.lines)
                    )),
                    None => notes.push(format!(
                        "NeuroM {}: no verdict: {}",
                        result.check,
                        result.message.as_deref().unwrap_or("")
                    )),
                }
            }
        }
    }
    for note in notes {
        // The message quotes the file's text: escaped, it cannot act on the terminal.
        text.push_str(ISSUE_INDENT);
        text.push_str(&neuromorpho::text::escape(&note));
        text.push('\n');
    }
}

/// The paths as given, for a message (at most three named).
fn shown_paths(paths: &[PathBuf]) -> String {
    let mut names: Vec<String> = paths
        .iter()
        .take(3)
        .map(|p| neuromorpho::text::escape(&p.to_string_lossy()).into_owned())
        .collect();
    if paths.len() > 3 {
        names.push(format!("and {} more", paths.len() - 3));
    }
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_stay_aligned_and_names_are_escaped() {
        let good = neuromorpho::swc::check_bytes(b"1 1 0 0 0 5 -1\n2 3 0 5 0 1 1\n3 3 0 9 0 1 2\n");
        let bad = neuromorpho::swc::check_bytes(b"1 1 0 0 0 5 -1\n2 3 0 5 0 1 7\n");
        for with_neurom in [false, true] {
            let header = header_line(with_neurom);
            let mut text = String::new();
            push_rows(&mut text, Path::new("a.swc"), &good, with_neurom);
            push_rows(&mut text, Path::new("x\u{1b}[2K.swc"), &bad, with_neurom);
            let lines: Vec<&str> = text.lines().collect();
            let file_column = header.find("file").unwrap();
            assert_eq!(lines[0].find("a.swc"), Some(file_column), "{header}{text}");
            assert_eq!(lines[1].find("x\\x1b[2K.swc"), Some(file_column), "{text}");
            assert!(
                lines[0].contains(" 4.00 ") && lines[0].contains(" loads "),
                "{text}"
            );
            assert!(lines[1].contains(" refuses "), "{text}");
            assert!(!text.contains('\u{1b}'));
            assert!(
                lines[2].starts_with("    line 2: ") && lines[2].contains("missing-parent"),
                "{text}"
            );
            assert!(
                lines[3].starts_with("    MorphIO refuses the file: line 2: Sample id: 2 refers to non-existant parent ID: 7"),
                "{text}"
            );
        }
    }
}
