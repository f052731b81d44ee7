//! Renders the library's progress events on stderr: one updating line per phase on a
//! terminal (never wider than it), a plain line every few seconds otherwise, nothing with
//! `--quiet`. Remembers the counts, for the summary of an interrupted run.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use neuromorpho::Progress;

use super::args::Verbosity;
use super::output::{self, human_bytes, plural};
use super::sys;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Off,
    Terminal,
    Plain,
}

/// How often a non-terminal progress line is written.
const PLAIN_EVERY: Duration = Duration::from_secs(5);
/// How often a terminal line is redrawn.
const TERMINAL_EVERY: Duration = Duration::from_millis(100);
/// How often the log file gets a progress line (a whole-archive run lasts hours).
const LOG_EVERY: Duration = Duration::from_secs(10);
/// A rate measured over less than this is noise, not shown.
const MIN_RATE_TIME: Duration = Duration::from_secs(1);

/// The counts seen so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub files: u64,
    pub done: u64,
    pub failed: u64,
    pub bytes: u64,
}

pub struct ProgressView {
    mode: Mode,
    phase_start: Instant,
    last_draw: Option<Instant>,
    last_log: Option<Instant>,
    pub counts: Counts,
}

impl ProgressView {
    pub fn new(verbosity: Verbosity) -> ProgressView {
        let mode = if verbosity == Verbosity::Quiet {
            Mode::Off
        } else if std::io::stderr().is_terminal() {
            Mode::Terminal
        } else {
            Mode::Plain
        };
        ProgressView {
            mode,
            phase_start: Instant::now(),
            last_draw: None,
            last_log: None,
            counts: Counts::default(),
        }
    }

    /// The callback handed to the library.
    pub fn on(&mut self, p: &Progress) {
        let (line, last) = match p {
            Progress::SearchStarted { total, pages } => {
                self.new_phase();
                if *total > 0 {
                    self.say(&format!(
                        "found {}; fetching {} of metadata",
                        plural(*total, "neuron", "neurons"),
                        plural(*pages, "page", "pages")
                    ));
                }
                return;
            }
            Progress::Page { done, pages } => (
                format!("pages {done}/{pages}{}", self.rate_eta(*done, *pages)),
                done == pages,
            ),
            Progress::DownloadStarted { files } => {
                self.new_phase();
                self.counts.files = *files;
                self.say(&format!(
                    "checking and downloading {}",
                    plural(*files, "file", "files")
                ));
                return;
            }
            Progress::File {
                done,
                files,
                bytes,
                failed,
            } => {
                self.counts = Counts {
                    files: *files,
                    done: *done,
                    failed: *failed,
                    bytes: *bytes,
                };
                let failed = if *failed > 0 {
                    format!("  {failed} failed")
                } else {
                    String::new()
                };
                (
                    format!(
                        "files {done}/{files}  {}{}{failed}",
                        human_bytes(*bytes),
                        self.rate_eta(*done, *files)
                    ),
                    done == files,
                )
            }
            Progress::Verified {
                done,
                files,
                bytes,
                problems,
            } => {
                let problems = if *problems > 0 {
                    format!("  {problems} problems")
                } else {
                    String::new()
                };
                (
                    format!(
                        "verified {done}/{files}  {}{}{problems}",
                        human_bytes(*bytes),
                        self.rate_eta(*done, *files)
                    ),
                    done == files,
                )
            }
            Progress::Waiting { what } => {
                self.say(&format!("waiting for {what}"));
                return;
            }
            Progress::Thumbnails { done, files } => (
                format!("thumbnails {done}/{files}{}", self.rate_eta(*done, *files)),
                done == files,
            ),
            _ => return,
        };
        self.log(&line, last);
        self.draw(&line, last);
    }

    /// A progress line in the log file every [`LOG_EVERY`], and the last of each phase.
    fn log(&mut self, line: &str, last: bool) {
        let due = self.last_log.is_none_or(|t| t.elapsed() >= LOG_EVERY);
        if due || last {
            self.last_log = Some(Instant::now());
            log::info!(target: super::logging::FILE_ONLY, "progress: {line}");
        }
    }

    fn new_phase(&mut self) {
        self.phase_start = Instant::now();
        self.last_draw = None;
        if self.mode == Mode::Terminal {
            output::end_progress_line();
        }
    }

    /// `  25.3/s  ETA 80s`, or nothing until a rate means something.
    fn rate_eta(&self, done: u64, total: u64) -> String {
        let elapsed = self.phase_start.elapsed();
        if elapsed < MIN_RATE_TIME || done == 0 || done >= total {
            return String::new();
        }
        let rate = done as f64 / elapsed.as_secs_f64();
        let left = (total - done) as f64 / rate;
        format!("  {rate:.1}/s  ETA {}s", left.round() as u64)
    }

    fn draw(&mut self, line: &str, last: bool) {
        let every = match self.mode {
            Mode::Off => return,
            Mode::Terminal => TERMINAL_EVERY,
            Mode::Plain => PLAIN_EVERY,
        };
        // The first tick of a phase is not drawn in plain mode: it says nothing yet.
        let due = match self.last_draw {
            None => {
                self.last_draw = Some(Instant::now());
                self.mode == Mode::Terminal
            }
            Some(t) => t.elapsed() >= every,
        };
        if !(due || last) {
            return;
        }
        self.last_draw = Some(Instant::now());
        match self.mode {
            Mode::Terminal => {
                output::progress_line(&output::fit(line, sys::terminal_width()), last)
            }
            Mode::Plain => output::say(line),
            Mode::Off => {}
        }
    }

    /// A one-off line (phase changes), unless quiet.
    pub fn say(&self, msg: &str) {
        if self.mode != Mode::Off {
            output::say(msg);
        }
    }

    /// Whether anything but errors may be shown.
    pub fn quiet(&self) -> bool {
        self.mode == Mode::Off
    }
}
