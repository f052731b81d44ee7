//! Everything the binary writes to stdout and stderr goes through here, through functions
//! that return errors instead of panicking: a closed stdout ends the command quietly, any
//! other stdout error is an error; stderr that is closed or full is ignored (the job goes on
//! and exits with its real code).

use std::io::Write;
use std::sync::Mutex;

/// True while a progress line is on screen: a log line must clear it first.
static LINE_ON_SCREEN: Mutex<bool> = Mutex::new(false);

/// Why stdout could not take our output.
#[derive(Debug)]
pub enum OutError {
    /// The reader went away (`| head`): stop quietly.
    Closed,
    /// Any other error (a full disk, `> /dev/full`).
    Failed(std::io::Error),
}

/// Write `text` to stdout and flush.
pub fn print(text: &str) -> Result<(), OutError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                OutError::Closed
            } else {
                OutError::Failed(e)
            }
        })
}

/// Write raw bytes to stderr, ignoring errors: there is nowhere left to report them.
fn stderr_raw(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

/// One line to stderr (`neuromorpho: ...`), clearing a progress line first.
pub fn say(line: &str) {
    let mut on_screen = LINE_ON_SCREEN.lock().unwrap_or_else(|p| p.into_inner());
    if *on_screen {
        stderr_raw("\n");
        *on_screen = false;
    }
    stderr_raw(&format!("neuromorpho: {line}\n"));
}

/// A log record's line, erasing a progress line in place (a terminal) first.
pub fn log_line(line: &str) {
    let mut on_screen = LINE_ON_SCREEN.lock().unwrap_or_else(|p| p.into_inner());
    if *on_screen {
        stderr_raw("\r\x1b[2K");
        *on_screen = false;
    }
    stderr_raw(line);
}

/// Redraw the progress line on a terminal; `last` ends it.
pub fn progress_line(line: &str, last: bool) {
    let mut on_screen = LINE_ON_SCREEN.lock().unwrap_or_else(|p| p.into_inner());
    if last {
        stderr_raw(&format!("\r\x1b[2K{line}\n"));
        *on_screen = false;
    } else {
        stderr_raw(&format!("\r\x1b[2K{line}"));
        *on_screen = true;
    }
}

/// End a progress line that is still on screen.
pub fn end_progress_line() {
    let mut on_screen = LINE_ON_SCREEN.lock().unwrap_or_else(|p| p.into_inner());
    if *on_screen {
        stderr_raw("\n");
        *on_screen = false;
    }
}

/// `1.2 MB` style sizes.
/// The most memory this process has held (its peak resident set, Linux's `VmHWM`); `None`
/// where the system does not say.
pub fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `1 file`, `2 files`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `line` cut to fewer than `width` characters (a progress line must never wrap: the last
/// column is left free, as a cursor there wraps on some terminals), however narrow.
pub fn fit(line: &str, width: usize) -> String {
    let width = width.saturating_sub(1).max(1);
    if line.chars().count() <= width {
        line.to_string()
    } else {
        let mut s: String = line.chars().take(width.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// An error as one line: what went wrong, then each cause once (`a: b: c`), escaped and with
/// credentials hidden; a cause whose text its error already says is not said again.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let text =
            neuromorpho::text::escape(&neuromorpho::text::redact(&s.to_string())).into_owned();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        next = s.source();
    }
    line
}

/// "sampled 1000 of 48213 matches (seed 7)": what a sample or a limit kept.
pub fn sampled_line(s: &neuromorpho::SampledSummary) -> String {
    let mut line = match s.sample {
        Some(neuromorpho::Sample::Count(_)) => {
            format!("sampled {} of {} matches", s.kept, s.population)
        }
        Some(share) => format!("sampled {share}: {} of {} matches", s.kept, s.population),
        None => format!("kept the first {} matches", s.kept),
    };
    if s.sample.is_some() {
        line.push_str(&format!(" (seed {})", s.seed));
        if let Some(l) = s.limit {
            line.push_str(&format!(", of the first {l}"));
        }
    }
    line
}

/// "from the mirror 38 (linked 38), from the server 2 (1 damaged in the mirror)".
pub fn mirror_line(m: &neuromorpho::MirrorSummary) -> String {
    let how = if m.linked == m.taken {
        format!("linked {}", m.linked)
    } else {
        format!("linked {}, copied {}", m.linked, m.taken - m.linked)
    };
    let damaged = if m.damaged > 0 {
        format!(" ({} damaged in the mirror)", m.damaged)
    } else {
        String::new()
    };
    format!(
        "from the mirror {} ({how}), from the server {}{damaged}",
        m.taken, m.from_server
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_plurals_and_widths() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_234_567), "1.2 MB");
        assert_eq!(plural(1, "file", "files"), "1 file");
        assert_eq!(plural(0, "file", "files"), "0 files");
        let long = "files 12/2000  1.2 MB  25.3/s  ETA 80s  3 failed";
        let cut = fit(long, 20);
        assert_eq!(cut.chars().count(), 19);
        assert!(cut.ends_with('…'));
        assert_eq!(fit("short", 80), "short");
        // However narrow the terminal, never wider than it.
        for width in 1..12 {
            let cut = fit(long, width);
            assert!(cut.chars().count() <= width.max(1), "{width}: {cut:?}");
            assert!(!cut.is_empty());
        }
        assert_eq!(fit(long, 0), "…");
    }
}
