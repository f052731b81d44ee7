//! The quick check of a downloaded body, done while it streams, before a file is kept.

/// What a body turned out to be, judged from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not enough seen yet.
    Undecided,
    /// Looks right.
    Good,
    /// Not what was asked for; the reason is short and user-facing.
    Bad(&'static str),
}

/// Judges a body as it streams: the first data line (after blank lines and `#` comments) of
/// an SWC file must hold 7 whitespace-separated numbers; an HTML page or an empty body is
/// refused. Only the first line that decides is buffered.
#[derive(Debug)]
pub struct SwcCheck {
    expect_swc: bool,
    line: Vec<u8>,
    seen_any: bool,
    verdict: Verdict,
    scanned: usize,
}

/// Comment headers are a few KB; a body that has given no data line after this is not SWC.
const MAX_SCAN: usize = 1 << 20;

impl SwcCheck {
    /// A check for an SWC body (`expect_swc`), or for any text that is not an HTML page.
    pub fn new(expect_swc: bool) -> SwcCheck {
        SwcCheck {
            expect_swc,
            line: Vec::new(),
            seen_any: false,
            verdict: Verdict::Undecided,
            scanned: 0,
        }
    }

    /// Look at the next chunk of the body. Returns the verdict so far.
    pub fn feed(&mut self, chunk: &[u8]) -> Verdict {
        if self.verdict != Verdict::Undecided {
            return self.verdict;
        }
        for &b in chunk {
            self.scanned += 1;
            if b == b'\n' {
                self.judge_line();
                if self.verdict != Verdict::Undecided {
                    return self.verdict;
                }
            } else {
                self.line.push(b);
            }
            if self.scanned > MAX_SCAN {
                self.verdict = Verdict::Bad("not an SWC file (no data line in the first MiB)");
                return self.verdict;
            }
        }
        self.verdict
    }

    /// The body has ended: decide.
    pub fn finish(&mut self) -> Verdict {
        if self.verdict == Verdict::Undecided && !self.line.is_empty() {
            self.judge_line();
        }
        if self.verdict == Verdict::Undecided {
            self.verdict = if !self.seen_any {
                Verdict::Bad("not an SWC file (empty body)")
            } else if self.expect_swc {
                Verdict::Bad("not an SWC file (no data line)")
            } else {
                Verdict::Good
            };
        }
        self.verdict
    }

    fn judge_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_start_matches('\u{feff}').trim();
        if text.is_empty() {
            return;
        }
        self.seen_any = true;
        let lower = text.to_ascii_lowercase();
        let html = lower.starts_with("<!doctype html") || lower.starts_with("<html");
        // An SWC body never starts with markup; other kinds may be XML (`Custom.xml` originals).
        if html || (self.expect_swc && lower.starts_with('<')) {
            self.verdict = Verdict::Bad("not an SWC file (an HTML page)");
            return;
        }
        if !self.expect_swc {
            self.verdict = Verdict::Good;
            return;
        }
        if text.starts_with('#') {
            return;
        }
        let fields: Vec<&str> = text.split_whitespace().collect();
        let numeric = fields.len() >= 7 && fields[..7].iter().all(|f| f.parse::<f64>().is_ok());
        self.verdict = if numeric {
            Verdict::Good
        } else {
            Verdict::Bad("not an SWC file (first data line is not 7 numbers)")
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(body: &[u8], chunk: usize) -> Verdict {
        let mut c = SwcCheck::new(true);
        for part in body.chunks(chunk.max(1)) {
            c.feed(part);
        }
        c.finish()
    }

    #[test]
    fn swc_bodies() {
        let swc = b"# comment\r\n#\r\n1 1 0.0 0.0 0.0 5.0 -1\r\n2 3 1 1 1 1 1\r\n";
        for chunk in [1, 3, 100] {
            assert_eq!(judge(swc, chunk), Verdict::Good);
        }
        assert_eq!(judge(b" 1 1 0 0 0 5 -1", 4), Verdict::Good); // no final newline
        assert!(matches!(judge(b"", 1), Verdict::Bad(m) if m.contains("empty")));
        assert!(matches!(judge(b"\n\n  \n", 1), Verdict::Bad(m) if m.contains("empty")));
        assert!(
            matches!(judge(b"<!DOCTYPE html><html>oops</html>", 5), Verdict::Bad(m) if m.contains("HTML"))
        );
        assert!(matches!(judge(b"# only comments\n", 5), Verdict::Bad(_)));
        assert!(matches!(judge(b"1 1 0 0 0 5\n", 5), Verdict::Bad(_)));
        assert!(matches!(judge(b"{\"status\":404}\n", 5), Verdict::Bad(_)));
    }

    #[test]
    fn other_text_only_refuses_html() {
        let mut c = SwcCheck::new(false);
        c.feed(b"Remaining issues: none\n");
        assert_eq!(c.finish(), Verdict::Good);
        let mut c = SwcCheck::new(false);
        c.feed(b"<html><body>404</body></html>");
        assert!(matches!(c.finish(), Verdict::Bad(_)));
    }
}
