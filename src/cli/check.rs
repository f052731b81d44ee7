//! `check`: SWC files and folders checked in parallel by the library, each report printed as
//! its turn comes (a table or JSON Lines), a summary on stderr, and the exit code.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use neuromorpho::swc::{check_paths, CheckOptions, IssueCode, Report};

use super::args::{CheckFormat, Config, Verbosity};
use super::output::{self, plural, OutError};
use super::{exit, logging, Failure};

/// The table's header: the numbers first, right-aligned under their names (the JSONL field
/// names), and the file last, so that rows printed one at a time stay aligned whatever the
/// length of the names.
const COLUMNS: [(&str, usize); 7] = [
    ("points", 8),
    ("stems", 6),
    ("bifurcations", 12),
    ("tips", 6),
    ("total_length", 12),
    ("errors", 6),
    ("warnings", 8),
];

/// Indentation of an issue line under its file's row.
const ISSUE_INDENT: &str = "    ";

pub fn run(
    config: &Config,
    paths: &[PathBuf],
    format: CheckFormat,
    threads: Option<usize>,
) -> Result<u8, Failure> {
    logging::init(config.verbosity, None);
    let mut options = CheckOptions::new().max_file_size(config.net.max_file_size);
    if let Some(n) = threads {
        options = options.threads(n);
    }
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
                    text.push_str(&header_line());
                    header = false;
                }
                push_rows(&mut text, &file.path, &file.report);
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
        output::say(&format!(
            "checked {}: {} without error, {} with errors, {} with warnings",
            plural(summary.files as u64, "file", "files"),
            summary.usable,
            summary.with_errors,
            summary.with_warnings
        ));
    }
    Ok(if summary.with_errors > 0 {
        exit::PARTIAL
    } else {
        exit::OK
    })
}

/// Whether the file could be read at all (its bytes, whatever they are): not an `io` failure
/// (missing, unreadable, a folder that cannot be listed).
fn was_read(report: &Report) -> bool {
    !report.issues.iter().any(|i| i.code == IssueCode::Io)
}

fn header_line() -> String {
    let mut line = String::new();
    for (name, width) in COLUMNS {
        line.push_str(&format!("{name:>width$}  "));
    }
    line.push_str("file\n");
    line
}

/// A file's row, then one indented line per issue.
fn push_rows(text: &mut String, path: &Path, r: &Report) {
    let count = |n: Option<usize>| n.map_or_else(|| "-".to_string(), |n| n.to_string());
    let cells = [
        count(r.points),
        count(r.stems),
        count(r.bifurcations),
        count(r.tips),
        r.total_length
            .map_or_else(|| "-".to_string(), |l| format!("{l:.2}")),
        r.errors.to_string(),
        r.warnings.to_string(),
    ];
    for ((_, width), cell) in COLUMNS.iter().zip(cells) {
        text.push_str(&format!("{cell:>width$}  ", width = *width));
    }
    text.push_str(&neuromorpho::text::escape(&path.to_string_lossy()));
    text.push('\n');
    for issue in &r.issues {
        // The message quotes the file's text: escaped, it cannot act on the terminal.
        text.push_str(ISSUE_INDENT);
        text.push_str(&neuromorpho::text::escape(&issue.to_string()));
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
        let header = header_line();
        let mut text = String::new();
        push_rows(&mut text, Path::new("a.swc"), &good);
        push_rows(&mut text, Path::new("x\u{1b}[2K.swc"), &bad);
        let lines: Vec<&str> = text.lines().collect();
        let file_column = header.find("file").unwrap();
        assert_eq!(lines[0].find("a.swc"), Some(file_column), "{header}{text}");
        assert_eq!(lines[1].find("x\\x1b[2K.swc"), Some(file_column), "{text}");
        assert!(lines[0].contains(" 4.00 "), "{text}");
        assert!(!text.contains('\u{1b}'));
        assert!(
            lines[2].starts_with("    line 2: ") && lines[2].contains("missing-parent"),
            "{text}"
        );
    }
}
