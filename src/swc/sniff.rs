//! The quick check of a downloaded body, done while it streams, before a file is kept: an SWC
//! file must start like one and not end in the middle of a line; a PNG image must start with
//! its signature and end with its `IEND` chunk; any other file (an original upload, a report)
//! must only not be empty or an HTML error page.

/// What a body must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// An SWC file.
    Swc,
    /// A PNG image.
    Png,
    /// Any file that is not empty and not an HTML page.
    Other,
}

/// What a body turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not enough seen yet.
    Undecided,
    /// Looks right.
    Good,
    /// Not what was asked for; the reason is short and user-facing.
    Bad(&'static str),
    /// An SWC body that ends in the middle of a line while no length was announced: cut.
    Cut(&'static str),
}

/// Judges a body as it streams.
///
/// - SWC (`expect_swc`): the first data line (after blank lines and `#` comments) must hold
///   7 whitespace-separated numbers; only that line is buffered. At the end, a last line
///   without its newline must be a whole data line or a comment.
/// - Anything else: decided from its first bytes (whatever its line length: a CATMAID
///   original is one JSON line of megabytes, a binary original has no lines): refused only
///   when empty or when it starts like an HTML page.
#[derive(Debug)]
pub struct SwcCheck {
    expect: Expect,
    /// The first line (SWC), or the first bytes (other kinds), until decided.
    head: Vec<u8>,
    seen_any: bool,
    verdict: Verdict,
    scanned: usize,
    /// The bytes after the last newline (SWC only), capped.
    tail: Vec<u8>,
}

/// Comment headers are a few KB; a body that has given no data line after this is not SWC.
const MAX_SCAN: usize = 1 << 20;
/// Bytes of a non-SWC body looked at before it is judged.
const SNIFF: usize = 512;
/// The longest last line kept to judge a cut (a data line is well under 200 bytes).
const MAX_TAIL: usize = 4096;
/// A PNG file's first 8 bytes.
const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";
/// A PNG file's last 12 bytes: the empty `IEND` chunk (length 0, type, CRC).
const PNG_END: &[u8; 12] = b"\0\0\0\0IEND\xae\x42\x60\x82";
/// Bytes of a PNG body looked at before it is judged (enough to tell an HTML page).
const PNG_SNIFF: usize = 64;

impl SwcCheck {
    /// A check for an SWC body (`expect_swc`), or for any file that is not an HTML page.
    pub fn new(expect_swc: bool) -> SwcCheck {
        SwcCheck::expecting(if expect_swc {
            Expect::Swc
        } else {
            Expect::Other
        })
    }

    /// A check for a body of this kind.
    pub(crate) fn expecting(expect: Expect) -> SwcCheck {
        SwcCheck {
            expect,
            head: Vec::new(),
            seen_any: false,
            verdict: Verdict::Undecided,
            scanned: 0,
            tail: Vec::new(),
        }
    }

    /// Look at the next chunk of the body. Returns the verdict so far.
    pub fn feed(&mut self, chunk: &[u8]) -> Verdict {
        match self.expect {
            Expect::Swc => self.keep_tail(chunk),
            Expect::Png => self.keep_last_bytes(chunk),
            Expect::Other => {}
        }
        if self.verdict != Verdict::Undecided {
            return self.verdict;
        }
        if self.expect == Expect::Png {
            let room = PNG_SNIFF.saturating_sub(self.head.len());
            self.head
                .extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or(chunk));
            if self.head.len() >= PNG_SNIFF {
                self.judge_png();
            }
            return self.verdict;
        }
        if self.expect == Expect::Other {
            let room = SNIFF.saturating_sub(self.head.len());
            self.head
                .extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or(chunk));
            if self.head.len() >= SNIFF {
                self.judge_other();
            }
            return self.verdict;
        }
        for &b in chunk {
            self.scanned += 1;
            if b == b'\n' || b == b'\r' {
                self.judge_line();
                if self.verdict != Verdict::Undecided {
                    return self.verdict;
                }
            } else {
                self.head.push(b);
            }
            if self.scanned > MAX_SCAN {
                self.verdict = Verdict::Bad("not an SWC file (no data line in the first MiB)");
                return self.verdict;
            }
        }
        self.verdict
    }

    fn keep_tail(&mut self, chunk: &[u8]) {
        match chunk.iter().rposition(|&b| b == b'\n' || b == b'\r') {
            Some(i) => {
                self.tail.clear();
                let after = chunk.get(i + 1..).unwrap_or(&[]);
                self.tail
                    .extend_from_slice(after.get(..MAX_TAIL.min(after.len())).unwrap_or(after));
            }
            None => {
                let room = MAX_TAIL.saturating_sub(self.tail.len());
                self.tail
                    .extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or(chunk));
            }
        }
    }

    /// A PNG body's last bytes (at most [`PNG_END`]'s length).
    fn keep_last_bytes(&mut self, chunk: &[u8]) {
        self.tail.extend_from_slice(chunk);
        let extra = self.tail.len().saturating_sub(PNG_END.len());
        self.tail.drain(..extra);
    }

    /// The body has ended: decide. `length_known`: the server announced the length and the
    /// transport checked it, so a missing final newline is only a style.
    pub fn finish(&mut self, length_known: bool) -> Verdict {
        if self.expect == Expect::Png {
            if self.verdict == Verdict::Undecided {
                self.judge_png();
            }
            // A PNG whose end is missing is cut, whatever length was announced.
            if self.verdict == Verdict::Good && self.tail.as_slice() != PNG_END {
                self.verdict = Verdict::Cut("the image ends before its IEND chunk (cut short?)");
            }
            return self.verdict;
        }
        if self.expect == Expect::Other {
            if self.verdict == Verdict::Undecided {
                self.judge_other();
            }
            return self.verdict;
        }
        if self.verdict == Verdict::Undecided && !self.head.is_empty() {
            self.judge_line();
        }
        if self.verdict == Verdict::Undecided {
            self.verdict = if !self.seen_any {
                Verdict::Bad("not an SWC file (empty body)")
            } else {
                Verdict::Bad("not an SWC file (no data line)")
            };
        }
        if self.verdict == Verdict::Good && !length_known && !last_line_whole(&self.tail) {
            self.verdict = Verdict::Cut("the body ends in the middle of a line (cut short?)");
        }
        self.verdict
    }

    fn judge_other(&mut self) {
        let text = String::from_utf8_lossy(&self.head);
        let text = text.trim_start_matches('\u{feff}').trim_start();
        if text.is_empty() {
            self.verdict = if self.head.len() >= SNIFF {
                Verdict::Good // a body that starts with 512 blanks is odd, but not an error page
            } else {
                Verdict::Bad("empty body")
            };
            return;
        }
        self.verdict = if looks_like_html(text) {
            Verdict::Bad("an HTML page, not the file")
        } else {
            Verdict::Good
        };
    }

    fn judge_png(&mut self) {
        self.verdict = if self.head.starts_with(PNG_SIGNATURE) {
            Verdict::Good
        } else if self.head.is_empty() {
            Verdict::Bad("empty body")
        } else if String::from_utf8_lossy(&self.head)
            .trim_start_matches('\u{feff}')
            .trim_start()
            .starts_with('<')
        {
            Verdict::Bad("an HTML page, not a PNG image")
        } else {
            Verdict::Bad("not a PNG image (no PNG signature)")
        };
    }

    fn judge_line(&mut self) {
        let line = std::mem::take(&mut self.head);
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_start_matches('\u{feff}').trim();
        if text.is_empty() {
            return;
        }
        self.seen_any = true;
        // An SWC body never starts with markup.
        if looks_like_html(text) || text.starts_with('<') {
            self.verdict = Verdict::Bad("not an SWC file (an HTML page)");
            return;
        }
        if text.starts_with('#') {
            return;
        }
        self.verdict = if is_data_line(text) {
            Verdict::Good
        } else {
            Verdict::Bad("not an SWC file (first data line is not 7 numbers)")
        };
    }
}

fn looks_like_html(text: &str) -> bool {
    let start: String = text
        .chars()
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase();
    start.starts_with("<!doctype html") || start.starts_with("<html")
}

fn is_data_line(text: &str) -> bool {
    let mut fields = text.split_whitespace();
    (0..7).all(|_| fields.next().is_some_and(|f| f.parse::<f64>().is_ok()))
}

/// A last line without its newline is whole if it is blank, a comment, or 7 numbers.
fn last_line_whole(tail: &[u8]) -> bool {
    let text = String::from_utf8_lossy(tail);
    let text = text.trim();
    text.is_empty() || text.starts_with('#') || is_data_line(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(body: &[u8], chunk: usize, length_known: bool) -> Verdict {
        let mut c = SwcCheck::new(true);
        for part in body.chunks(chunk.max(1)) {
            c.feed(part);
        }
        c.finish(length_known)
    }

    #[test]
    fn swc_bodies() {
        let swc = b"# comment\r\n#\r\n1 1 0.0 0.0 0.0 5.0 -1\r\n2 3 1 1 1 1 1\r\n";
        for chunk in [1, 3, 100] {
            assert_eq!(judge(swc, chunk, false), Verdict::Good);
        }
        assert_eq!(judge(b" 1 1 0 0 0 5 -1", 4, false), Verdict::Good); // no final newline
        assert!(matches!(judge(b"", 1, true), Verdict::Bad(m) if m.contains("empty")));
        assert!(matches!(judge(b"\n\n  \n", 1, true), Verdict::Bad(m) if m.contains("empty")));
        assert!(
            matches!(judge(b"<!DOCTYPE html><html>oops</html>", 5, true), Verdict::Bad(m) if m.contains("HTML"))
        );
        assert!(matches!(
            judge(b"# only comments\n", 5, true),
            Verdict::Bad(_)
        ));
        assert!(matches!(judge(b"1 1 0 0 0 5\n", 5, true), Verdict::Bad(_)));
        assert!(matches!(
            judge(b"{\"status\":404}\n", 5, true),
            Verdict::Bad(_)
        ));
    }

    #[test]
    fn a_cut_last_line_is_refused_only_without_a_length() {
        let cut = b"1 1 0 0 0 5 -1\n2 3 1 1 1";
        for chunk in [1, 4, 100] {
            assert!(matches!(judge(cut, chunk, false), Verdict::Cut(_)));
            assert_eq!(
                judge(cut, chunk, true),
                Verdict::Good,
                "length checked elsewhere"
            );
        }
        assert_eq!(
            judge(b"1 1 0 0 0 5 -1\n2 3 1 1 1 1 1", 3, false),
            Verdict::Good
        );
        assert_eq!(judge(b"1 1 0 0 0 5 -1\n# end", 3, false), Verdict::Good);
    }

    #[test]
    fn other_files_are_judged_by_their_first_bytes() {
        let mut c = SwcCheck::new(false);
        c.feed(b"Remaining issues: none\n");
        assert_eq!(c.finish(false), Verdict::Good);
        let mut c = SwcCheck::new(false);
        c.feed(b"<html><body>404</body></html>");
        assert!(matches!(c.finish(false), Verdict::Bad(_)));
        let mut c = SwcCheck::new(false);
        assert!(matches!(c.finish(false), Verdict::Bad(_)), "empty");
        // One 2 MiB JSON line: decided at once, never "no data line".
        let mut c = SwcCheck::new(false);
        let line = vec![b'x'; 2 << 20];
        assert_eq!(c.feed(b"{\"skeleton\": ["), Verdict::Undecided);
        assert_eq!(c.feed(&line), Verdict::Good);
        assert_eq!(c.finish(false), Verdict::Good);
        // Binary bytes.
        let mut c = SwcCheck::new(false);
        c.feed(&[0u8, 159, 146, 150, 255, 0, 1, 2]);
        assert_eq!(c.finish(false), Verdict::Good);
        // `<?xml` is an original, not an error page.
        let mut c = SwcCheck::new(false);
        c.feed(b"<?xml version=\"1.0\"?><morphology/>");
        assert_eq!(c.finish(false), Verdict::Good);
    }

    fn judge_png(body: &[u8], chunk: usize) -> Verdict {
        let mut c = SwcCheck::expecting(Expect::Png);
        for part in body.chunks(chunk.max(1)) {
            c.feed(part);
        }
        c.finish(true)
    }

    #[test]
    fn png_bodies() {
        let mut png = PNG_SIGNATURE.to_vec();
        png.extend_from_slice(&[0, 0, 0, 13]);
        png.extend_from_slice(b"IHDR\0\0\0\x01\0\0\0\x01\x08\0\0\0\0\x3a\x7e\x9b\x55");
        png.extend_from_slice(PNG_END);
        for chunk in [1, 7, 1000] {
            assert_eq!(judge_png(&png, chunk), Verdict::Good, "chunks of {chunk}");
        }
        let cut = png.get(..png.len() - 5).unwrap();
        assert!(matches!(judge_png(cut, 3), Verdict::Cut(m) if m.contains("IEND")));
        assert!(matches!(judge_png(&png[..8], 3), Verdict::Cut(_)));
        assert!(matches!(judge_png(b"", 1), Verdict::Bad(m) if m.contains("empty")));
        assert!(matches!(
            judge_png(b"\n <!DOCTYPE html><html>503</html>", 4),
            Verdict::Bad(m) if m.contains("HTML")
        ));
        assert!(matches!(
            judge_png(b"GIF89a.......", 4),
            Verdict::Bad(m) if m.contains("signature")
        ));
        // An SWC check of the same bytes refuses them: the kinds are judged apart.
        assert!(matches!(judge(&png, 100, true), Verdict::Bad(_)));
    }
}
