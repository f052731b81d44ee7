//! Text from outside (the server, a file, an argument) made safe to show: control characters
//! and bidirectional overrides escaped, credentials in URLs hidden.
//!
//! A neuron name is server data: printed raw, `ESC[2K\r` would erase the line on screen and
//! print a forged one, and a right-to-left override would reorder what follows. Everything we
//! show (terminal, log, error message) goes through [`escape`]; tables keep the value as is
//! but never a terminal escape (see [`for_table`]).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters that change how the rest of a line is displayed: C0 and C1 controls, DEL, and
/// the Unicode bidirectional controls (embeddings, overrides, isolates, marks).
pub(crate) fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// `s` with every character that could change the display written as an escape (`\x1b`,
/// `\n`, `\u{202e}`); borrowed when there is nothing to escape. Use it on any server value
/// you print to a terminal or a log.
///
/// ```
/// use neuromorpho::text::escape;
/// assert_eq!(escape("cnic_001"), "cnic_001");
/// assert_eq!(escape("a\u{1b}[2K\rb"), "a\\x1b[2K\\rb");
/// assert_eq!(escape("x\u{202e}y"), "x\\u{202e}y");
/// ```
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `s` for a cell of one of our tables (CSV): like [`escape`], but tabs and line feeds are
/// kept (a CSV field may hold them, quoted). The value stays readable and complete; what a
/// terminal would obey (ESC, CR, C1 controls, bidi overrides) is written out as text.
pub(crate) fn for_table(s: &str) -> Cow<'_, str> {
    let unsafe_here = |c: char| c != '\t' && c != '\n' && is_unsafe(c);
    // Most cells are printable ASCII: checked a byte at a time first.
    let plain = |b: &u8| (0x20..0x7f).contains(b) || *b == b'\t' || *b == b'\n';
    if s.as_bytes().iter().all(plain) || !s.chars().any(unsafe_here) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_here(c) {
            out.push_str(&escape(&c.to_string()));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` with the user-info of every URL in it (`scheme://user:password@host`) shown as `***`.
///
/// ```
/// use neuromorpho::text::redact;
/// assert_eq!(redact("http://alice:s3cret@host:8080/api"), "http://***@host:8080/api");
/// assert_eq!(redact("via http://p:x@proxy:3128 failed"), "via http://***@proxy:3128 failed");
/// assert_eq!(redact("https://neuromorpho.org/api"), "https://neuromorpho.org/api");
/// ```
pub fn redact(s: &str) -> Cow<'_, str> {
    if !s.contains("://") || !s.contains('@') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The URL ends at whitespace; its authority at the first '/', '?' or '#'.
        let word = tail.find(char::is_whitespace).unwrap_or(tail.len());
        let (url, _) = tail.split_at(word);
        let end = url.find(['/', '?', '#']).unwrap_or(url.len());
        let (authority, _) = url.split_at(end);
        // A password holding an unencoded '/', '?' or '#' ends the authority early: what is
        // left of it is then no `host[:port]`. Hide everything up to the URL's last '@'.
        let at = authority.rfind('@').or_else(|| {
            if is_host_port(authority) {
                None
            } else {
                url.rfind('@')
            }
        });
        let after = match at {
            Some(at) => {
                out.push_str("***");
                let (_, from_at) = tail.split_at(at);
                from_at
            }
            None => tail,
        };
        // Copy up to the end of the authority (or the '@'); what follows may hold more URLs.
        let stop = if at.is_some() {
            after
                .find(['/', '?', '#'])
                .unwrap_or(after.len())
                .min(after.find(char::is_whitespace).unwrap_or(after.len()))
        } else {
            end
        };
        let (shown, next) = after.split_at(stop);
        out.push_str(shown);
        rest = next;
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Whether an authority without user-info is a plain `host[:port]` (a name, an IPv4 address
/// or a bracketed IPv6 address, and digits after the colon).
fn is_host_port(authority: &str) -> bool {
    let (host, port) = if authority.starts_with('[') {
        match authority.find(']') {
            Some(i) => authority.split_at(i + 1),
            None => return false,
        }
    } else {
        match authority.rfind(':') {
            Some(i) => authority.split_at(i),
            None => (authority, ""),
        }
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = host.starts_with('[')
        || host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'%'));
    port_ok && host_ok
}

/// [`escape`] and [`redact`] together: the form of any outside text in a message.
pub(crate) fn shown(s: &str) -> String {
    escape(&redact(s)).into_owned()
}

/// Text for HTML or XML content or a quoted attribute value (the page and the SVG pictures):
/// the five markup characters as references; controls other than tab and newline (which XML
/// refuses even as references, and which could hide text) and U+FFFE/U+FFFF as U+FFFD.
pub(crate) fn escape_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `1 neuron`, `2 neurons`: the one plural of the library's messages (English `s`).
pub(crate) fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `line 3, column 19`: the one form of a position in a file, in every message. Columns
/// count from 1 (a parser that says 0 at the start of a line means the first column).
pub(crate) fn line_column(line: usize, column: usize) -> String {
    format!("line {line}, column {}", column.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forged_lines_are_escaped() {
        let name = "x\u{1b}[2K\rmatched 3, downloaded 3, failed 0";
        let e = escape(name);
        assert!(!e.contains('\u{1b}') && !e.contains('\r'), "{e}");
        assert_eq!(e, "x\\x1b[2K\\rmatched 3, downloaded 3, failed 0");
        assert_eq!(escape("\u{9b}"), "\\x9b", "C1 CSI");
        assert_eq!(escape("\u{2067}"), "\\u{2067}");
        assert!(matches!(escape("Ångström"), Cow::Borrowed(_)));
    }

    #[test]
    fn table_cells_lose_only_controls() {
        assert_eq!(for_table("a\u{1b}[31mb\tc\nd\r"), "a\\x1b[31mb\tc\nd\\r");
        assert_eq!(for_table("plain, text"), "plain, text");
    }

    #[test]
    fn credentials_are_hidden_everywhere() {
        assert_eq!(redact("http://u@h/x"), "http://***@h/x");
        assert_eq!(
            redact("a https://x:y@h b http://k:l@m/"),
            "a https://***@h b http://***@m/"
        );
        assert_eq!(redact("mail me@home"), "mail me@home");
        assert_eq!(shown("http://a:b@h/\u{1b}"), "http://***@h/\\x1b");
        // A password with an unencoded '/', '?' or '#' is hidden too.
        for url in [
            "http://alice:s3/cret@h:8080/api",
            "http://alice:s3?cret@h:8080/api",
            "http://alice:s3#cret@h:8080/api",
            "http://alice:s3/c@ret@h:8080/api",
        ] {
            assert_eq!(redact(url), "http://***@h:8080/api", "{url}");
        }
        assert_eq!(
            redact("see http://alice:p/w@h/x and https://k:l@m/"),
            "see http://***@h/x and https://***@m/"
        );
        // An '@' after a plain host is a path or a query, not credentials.
        assert_eq!(redact("http://h:80/a@b?c=d@e"), "http://h:80/a@b?c=d@e");
        assert_eq!(redact("http://[::1]:9/x@y"), "http://[::1]:9/x@y");
    }
}
