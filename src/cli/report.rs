//! `report OUT` and `download --report`: the collection's page, `OUT/index.html`, built by
//! the library (`page::build`) with Ctrl-C mapped to its cancellation; a line naming the
//! page, one per SWC file that could not be drawn, and the exit code.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use neuromorpho::page::{PageOptions, PageReport, DEFAULT_COLUMNS};
use neuromorpho::{CancelToken, Error};

use super::args::{Config, PageConfig};
use super::output::{self, plural};
use super::progress::ProgressView;
use super::{exit, logging, sys, Failure};

/// SWC files that could not be drawn, named one a line; the rest are counted.
const SHOWN_UNREADABLE: usize = 10;

/// What became of a page.
pub enum Built {
    /// Written (some thumbnails may be missing: see `unreadable`).
    Page(PageReport),
    /// Interrupted by this signal: no page written.
    Interrupted(i32),
}

pub fn run(
    config: &Config,
    out_dir: &Path,
    page: &PageConfig,
    threads: Option<usize>,
) -> Result<u8, Failure> {
    logging::init(config.verbosity, None);
    if !out_dir.is_dir() {
        return Err(Failure::Message(format!(
            "{} is not a folder (give the output folder of a download)",
            shown(out_dir)
        )));
    }
    let mut view = ProgressView::new(config.verbosity);
    match build(&mut view, out_dir, page, threads).map_err(|e| output::chain(&e))? {
        Built::Page(report) => Ok(tell(&view, &report)),
        Built::Interrupted(sig) => {
            output::say(&format!(
                "interrupted ({}): no page written; the thumbnails drawn so far are kept",
                signal_name(sig)
            ));
            Ok(exit::signal(sig))
        }
    }
}

/// Build `out_dir/index.html`; the first SIGINT/SIGTERM cancels it.
pub fn build(
    view: &mut ProgressView,
    out_dir: &Path,
    page: &PageConfig,
    threads: Option<usize>,
) -> Result<Built, Error> {
    let token = CancelToken::new();
    let mut options = PageOptions::new()
        .thumbnails(page.thumbnails)
        .cancel(&token);
    // The histograms are split by a column of the table: a field asked for is shown too.
    let mut columns: Vec<String> = match &page.columns {
        Some(c) => c.clone(),
        None => DEFAULT_COLUMNS.iter().map(|c| c.to_string()).collect(),
    };
    if let Some(f) = &page.split_by {
        if !columns.contains(f) {
            columns.push(f.clone());
        }
        options = options.split_by(f);
    }
    options = options.columns(columns);
    if let Some(n) = threads {
        options = options.threads(n);
    }
    sys::catch_signals();
    let done = AtomicBool::new(false);
    let result = std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                if sys::received().is_some() {
                    token.cancel();
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let result = neuromorpho::page::build(out_dir, &options, |p| view.on(p));
        done.store(true, Ordering::SeqCst);
        result
    });
    match (result, sys::received()) {
        (_, Some(sig)) => Ok(Built::Interrupted(sig)),
        (Ok(report), None) => Ok(Built::Page(report)),
        (Err(e), None) => Err(e),
    }
}

/// Say what the page holds and what could not be drawn; exit 3 when something could not.
pub fn tell(view: &ProgressView, r: &PageReport) -> u8 {
    let verdicts = if r.checked {
        "with the verdicts of checks.csv"
    } else {
        "without verdicts (no checks.csv: download --check writes one)"
    };
    view.say(&format!(
        "page: {} ({}, {verdicts}; thumbnails: {} drawn, {} up to date, {} removed; {:.1} s)",
        shown(&r.page),
        plural(r.neurons as u64, "neuron", "neurons"),
        r.drawn,
        r.up_to_date,
        r.removed,
        r.elapsed.as_secs_f64()
    ));
    if r.bad_manifest_lines > 0 {
        view.say(&format!(
            "warning: {} of the manifest could not be used ('neuromorpho verify' lists them)",
            plural(r.bad_manifest_lines as u64, "line", "lines")
        ));
    }
    if r.unreadable.is_empty() {
        return exit::OK;
    }
    for why in r.unreadable.iter().take(SHOWN_UNREADABLE) {
        output::say(&format!("not drawn: {}", neuromorpho::text::escape(why)));
    }
    let more = r.unreadable.len().saturating_sub(SHOWN_UNREADABLE);
    if more > 0 {
        output::say(&format!("not drawn: and {more} more"));
    }
    exit::PARTIAL
}

pub fn signal_name(sig: i32) -> &'static str {
    if sig == sys::SIGTERM {
        "SIGTERM"
    } else {
        "Ctrl-C"
    }
}

fn shown(p: &Path) -> String {
    neuromorpho::text::escape(&p.to_string_lossy()).into_owned()
}
