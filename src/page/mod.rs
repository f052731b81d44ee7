//! The collection page: one self-contained `OUT/index.html` that shows a downloaded folder
//! at a glance, offline — a table of its neurons (name, archive, species, brain region, cell
//! type, the verdicts and measures of `checks.csv` when it is there, links to the files),
//! sortable and filterable by any column, with the filter kept in the URL
//! (`index.html#species=mouse&verdict=errors`) so that a view can be shared; a thumbnail per
//! neuron drawn by [`Morphology::render`](crate::swc::Morphology::render), loaded lazily;
//! histograms of the measures split by one field; and the citations.
//!
//! ```no_run
//! use neuromorpho::page::{build, PageOptions};
//!
//! let report = build("neurons".as_ref(), &PageOptions::new().split_by("cell_type"), |_| {})?;
//! println!("{}: {} neurons, {} thumbnails drawn", report.page.display(), report.neurons, report.drawn);
//! # Ok::<(), neuromorpho::Error>(())
//! ```
//!
//! The page needs no network and loads no script, font or style from elsewhere: the data
//! is embedded as JSON (escaped so that no value can close its element), and the script only
//! ever puts server text into the page as text. It stays responsive with tens of thousands
//! of neurons: filtering and sorting work on arrays, and only the rows on screen are in the
//! document.
//!
//! Thumbnails are derived files, kept apart from the data folders in `OUT/thumbnails/`
//! (which `verify` does not look into), named by the SHA-256 the manifest records for their
//! SWC file: a file fetched again with other bytes gets a new one, a file changed in place is
//! drawn again (it is newer than its thumbnail), and thumbnails no neuron uses are removed.
//!
//! What is read: `metadata.csv` (or `metadata.jsonl`, and shards of either), `checks.csv`
//! (and its shards) when present, the manifests ([`Manifest::load`](crate::store::Manifest::load)),
//! `CITATIONS.md`. Files of the folder are opened as `verify` opens them: never through a
//! symbolic link, never waiting on a FIFO. The page is written atomically; no lock is taken
//! (a download may run meanwhile: the page shows what was there when it was built).

mod collect;
mod histogram;
mod html;
mod thumbnails;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::store::atomic_file::write_atomically;

use crate::util::text::escape_markup;
use collect::{Collection, Neuron, MEASURES};
use html::{fill, href, json_for_script, markdown};

const TEMPLATE: &str = include_str!("page.html");
const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// The page's file name in the output folder.
pub const PAGE: &str = "index.html";

/// The metadata columns shown by default.
pub const DEFAULT_COLUMNS: [&str; 4] = ["archive", "species", "brain_region", "cell_type"];

/// How to build the page: [`PageOptions::new`] (or `Default`) and the chainable setters.
///
/// ```
/// use neuromorpho::page::PageOptions;
/// let options = PageOptions::new()
///     .columns(["species", "cell_type", "stain"])
///     .split_by("cell_type")
///     .threads(2);
/// ```
#[derive(Debug, Clone)]
pub struct PageOptions {
    columns: Vec<String>,
    split_by: String,
    thumbnails: bool,
    threads: usize,
    cancel: Option<CancelToken>,
    title: Option<String>,
}

impl Default for PageOptions {
    fn default() -> PageOptions {
        PageOptions {
            columns: DEFAULT_COLUMNS.iter().map(|c| c.to_string()).collect(),
            split_by: "species".into(),
            thumbnails: true,
            threads: std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(8),
            cancel: None,
            title: None,
        }
    }
}

impl PageOptions {
    /// The defaults: the columns of [`DEFAULT_COLUMNS`], histograms split by species,
    /// thumbnails, as many threads as CPUs (at most 8).
    pub fn new() -> PageOptions {
        PageOptions::default()
    }

    /// The metadata columns of the table (names of `metadata.csv`'s header), after the
    /// neuron's name; unknown ones are shown empty.
    #[must_use]
    pub fn columns<I, S>(mut self, columns: I) -> PageOptions
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.columns = columns.into_iter().map(Into::into).collect();
        self
    }

    /// The metadata field the histograms are split by (default `species`).
    #[must_use]
    pub fn split_by(mut self, field: impl Into<String>) -> PageOptions {
        self.split_by = field.into();
        self
    }

    /// Draw thumbnails (default true); without, the table has no pictures.
    #[must_use]
    pub fn thumbnails(mut self, on: bool) -> PageOptions {
        self.thumbnails = on;
        self
    }

    /// Threads drawing thumbnails (1 to 64).
    #[must_use]
    pub fn threads(mut self, threads: usize) -> PageOptions {
        self.threads = threads.clamp(1, 64);
        self
    }

    /// Stop when `token` is cancelled: [`build`] then returns [`Error::Cancelled`], with
    /// the thumbnails drawn so far kept and no page written.
    #[must_use]
    pub fn cancel(mut self, token: &CancelToken) -> PageOptions {
        self.cancel = Some(token.clone());
        self
    }

    /// The page's title (default: the folder's name).
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> PageOptions {
        self.title = Some(title.into());
        self
    }
}

/// What [`build`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PageReport {
    /// `OUT/index.html`.
    pub page: PathBuf,
    /// Rows of the table.
    pub neurons: usize,
    /// Thumbnails drawn this time.
    pub drawn: usize,
    /// Thumbnails already up to date.
    pub up_to_date: usize,
    /// Thumbnails removed (no neuron uses them any more).
    pub removed: usize,
    /// SWC files that could not be drawn, each with why (`downloads/x.swc: line 3: ...`).
    pub unreadable: Vec<String>,
    /// Whether `checks.csv` was there (the verdicts and measures are shown).
    pub checked: bool,
    /// Lines of the manifests that could not be used (`verify` lists them).
    pub bad_manifest_lines: usize,
    /// How long it took.
    pub elapsed: Duration,
}

/// Build `out_dir/index.html` and its thumbnails (see the [module](self) docs).
/// `progress` hears of each thumbnail ([`Progress::Thumbnails`]), on this thread.
///
/// Fails when the folder cannot be read (no such folder, a table that is not CSV, a
/// manifest that is not a file), when `thumbnails/` is a link or not a folder, when the page
/// cannot be written, or when cancelled. A neuron whose file cannot be drawn is a row
/// without a picture, listed in [`PageReport::unreadable`].
pub fn build(
    out_dir: &Path,
    options: &PageOptions,
    mut progress: impl FnMut(&Progress),
) -> Result<PageReport> {
    let started = Instant::now();
    let check_cancel = || match &options.cancel {
        Some(t) => t.check(),
        None => Ok(()),
    };
    check_cancel()?;
    let collection = collect::collect(out_dir, &options.columns)?;

    // Thumbnails: one per distinct SWC file, by its SHA-256.
    let mut thumbs: Vec<Option<String>> = vec![None; collection.neurons.len()];
    let mut report = PageReport {
        page: out_dir.join(PAGE),
        neurons: collection.neurons.len(),
        drawn: 0,
        up_to_date: 0,
        removed: 0,
        unreadable: Vec::new(),
        checked: !collection.checks.is_empty(),
        bad_manifest_lines: collection.bad_manifest_lines,
        elapsed: Duration::ZERO,
    };
    if options.thumbnails {
        let dir = thumbnails::prepare(out_dir)?;
        let mut jobs: Vec<thumbnails::Job> = Vec::new();
        let mut job_of: std::collections::HashMap<String, usize> = Default::default();
        let mut neuron_job: Vec<Option<usize>> = vec![None; collection.neurons.len()];
        for (n, neuron) in collection.neurons.iter().enumerate() {
            let Some(file) = neuron.swc() else { continue };
            let Some(name) = thumbnails::name_for(&file.sha256) else {
                report.unreadable.push(format!(
                    "{}: the manifest's SHA-256 is not 64 hex digits",
                    file.path
                ));
                continue;
            };
            let at = *job_of.entry(name.clone()).or_insert_with(|| {
                jobs.push(thumbnails::Job {
                    swc: crate::store::safe_fs::join(out_dir, &file.path),
                    name,
                });
                jobs.len() - 1
            });
            if let Some(slot) = neuron_job.get_mut(n) {
                *slot = Some(at);
            }
        }
        let total = jobs.len() as u64;
        let mut failed = vec![false; jobs.len()];
        let mut done = 0u64;
        progress(&Progress::Thumbnails { done, files: total });
        thumbnails::draw_all(
            out_dir,
            &dir,
            &jobs,
            options.threads,
            options.cancel.as_ref(),
            |i, outcome| {
                done += 1;
                match outcome {
                    thumbnails::Outcome::Drawn => report.drawn += 1,
                    thumbnails::Outcome::UpToDate => report.up_to_date += 1,
                    thumbnails::Outcome::Failed(why) => {
                        report.unreadable.push(why);
                        if let Some(slot) = failed.get_mut(i) {
                            *slot = true;
                        }
                    }
                }
                progress(&Progress::Thumbnails { done, files: total });
            },
        )?;
        report.unreadable.sort();
        let mut keep: Vec<String> = Vec::new();
        for (n, at) in neuron_job.iter().enumerate() {
            let Some(at) = *at else { continue };
            if failed.get(at).copied().unwrap_or(true) {
                continue;
            }
            let Some(job) = jobs.get(at) else { continue };
            keep.push(job.name.clone());
            if let Some(slot) = thumbs.get_mut(n) {
                *slot = Some(format!("{}/{}", thumbnails::FOLDER, job.name));
            }
        }
        keep.sort();
        keep.dedup();
        report.removed = thumbnails::remove_unused(&dir, &keep);
    }
    check_cancel()?;

    let page = page_text(out_dir, options, &collection, &thumbs);
    write_atomically(&report.page, page.as_bytes(), true)
        .map_err(|e| Error::io(&report.page, e))?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// `errors`, `warnings`, `ok`, `not checked` or `no file`.
fn verdict(n: &Neuron) -> &'static str {
    match (&n.checked, n.swc()) {
        (Some(c), _) if c.errors > 0 => "errors",
        (Some(c), _) if c.warnings > 0 => "warnings",
        (Some(_), _) => "ok",
        (None, Some(_)) => "not checked",
        (None, None) => "no file",
    }
}

fn page_text(
    out_dir: &Path,
    options: &PageOptions,
    c: &Collection,
    thumbs: &[Option<String>],
) -> String {
    let checked = !c.checks.is_empty();
    // Columns: name, the metadata asked for, then the verdicts.
    let mut columns: Vec<Value> = vec![json!({"key": "name", "label": "name", "kind": "text"})];
    for col in &options.columns {
        columns.push(json!({"key": col, "label": col.replace('_', " "), "kind": "text"}));
    }
    columns.push(json!({"key": "verdict", "label": "verdict", "kind": "verdict"}));
    if checked {
        columns.push(json!({"key": "errors", "label": "errors", "kind": "num"}));
        columns.push(json!({"key": "warnings", "label": "warnings", "kind": "num"}));
        for m in MEASURES {
            columns.push(json!({"key": m, "label": m.replace('_', " "), "kind": "num"}));
        }
        columns.push(json!({"key": "issues", "label": "issues", "kind": "text"}));
    }
    let rows: Vec<Value> = c
        .neurons
        .iter()
        .zip(thumbs)
        .map(|(n, thumb)| {
            let files: Vec<Value> = n
                .files
                .iter()
                .map(|f| json!([f.kind.as_str(), href(&f.path)]))
                .collect();
            let mut cells: Vec<Value> =
                vec![json!(n.id), json!(thumb.as_deref().map(href)), json!(files)];
            cells.push(json!(n.name));
            cells.extend(n.fields.iter().map(|f| json!(f)));
            cells.push(json!(verdict(n)));
            if checked {
                let ch = n.checked.as_ref();
                cells.push(json!(ch.map(|c| c.errors)));
                cells.push(json!(ch.map(|c| c.warnings)));
                for i in 0..MEASURES.len() {
                    cells.push(json!(ch.and_then(|c| c.measures.get(i).copied().flatten())));
                }
                cells.push(json!(ch.map_or("", |c| c.issues.as_str())));
            }
            Value::Array(cells)
        })
        .collect();
    let title = options.title.clone().unwrap_or_else(|| {
        out_dir
            .canonicalize()
            .ok()
            .as_deref()
            .unwrap_or(out_dir)
            .file_name()
            .map_or("neurons".into(), |n| n.to_string_lossy().into_owned())
    });
    let data = json!({"columns": columns, "rows": rows});

    // The summary line.
    let count = |v: &str| c.neurons.iter().filter(|n| verdict(n) == v).count();
    let mut summary = format!("{} neurons", c.neurons.len());
    if checked {
        summary.push_str(&format!(
            " · {} with errors · {} with warnings · {} ok",
            count("errors"),
            count("warnings"),
            count("ok")
        ));
    } else {
        summary.push_str(" · not checked (run neuromorpho check, or download with --check)");
    }
    let no_file = count("no file");
    if no_file > 0 {
        summary.push_str(&format!(" · {no_file} without a file"));
    }

    let charts = charts(options, c, checked);
    let citations = read_citations(out_dir);
    let generated = crate::util::time::Timestamp::now().to_string();
    fill(
        TEMPLATE,
        &[
            ("title", &escape_markup(&title)),
            ("style", STYLE),
            ("summary", &escape_markup(&summary)),
            ("generated", &escape_markup(&generated)),
            ("charts", &charts),
            ("citations", &citations),
            ("data", &json_for_script(&data)),
            ("script", SCRIPT),
        ],
    )
}

/// The histograms of the measures, split by the chosen field.
fn charts(options: &PageOptions, c: &Collection, checked: bool) -> String {
    if !checked {
        return "<p class=\"empty\">No measures: the folder has no checks.csv.</p>".into();
    }
    let field_at = options.columns.iter().position(|f| *f == options.split_by);
    fn group_value(n: &Neuron, field_at: Option<usize>) -> &str {
        field_at
            .and_then(|i| n.fields.get(i))
            .map_or("", String::as_str)
    }
    let groups = histogram::top_groups(
        c.neurons
            .iter()
            .filter(|n| n.checked.is_some())
            .map(|n| group_value(n, field_at)),
    );
    let mut out = String::new();
    let mut other = false;
    for (i, m) in MEASURES.iter().enumerate().filter(|(_, m)| **m != "points") {
        let values: Vec<(f64, Option<usize>)> = c
            .neurons
            .iter()
            .filter_map(|n| {
                let v = n.checked.as_ref()?.measures.get(i).copied().flatten()?;
                let g = groups.iter().position(|g| g == group_value(n, field_at));
                other |= g.is_none();
                Some((v, g))
            })
            .collect();
        let title = match *m {
            "total_length" => "total length (µm)".to_string(),
            m => m.to_string(),
        };
        out.push_str(&histogram::histogram(&title, &values, groups.len()));
    }
    let field = if field_at.is_some() {
        options.split_by.as_str()
    } else {
        "(the field is not a column of the table)"
    };
    out.push_str(&histogram::legend(field, &groups, other));
    out
}

/// `CITATIONS.md` (or its shards') as HTML, or a note that there is none.
fn read_citations(out_dir: &Path) -> String {
    let mut names: Vec<PathBuf> = std::fs::read_dir(out_dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .map(|n| n.to_string_lossy())
                        .is_some_and(|n| n.starts_with("CITATIONS") && n.ends_with(".md"))
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out = String::new();
    for path in names {
        if let Ok(Some(bytes)) = crate::store::safe_fs::read_regular(&path) {
            out.push_str(&markdown(&String::from_utf8_lossy(&bytes)));
        }
    }
    if out.is_empty() {
        out.push_str("<p class=\"empty\">No CITATIONS.md in this folder.</p>");
    }
    out
}
