//! MorphIO 3.5's SWC tokenizer, rule for rule: what it reads from bytes, and where it stops.
//!
//! It differs from this crate's reader (`parse.rs`) on odd input, which is why it exists:
//! only spaces, tabs and CR separate fields (a CR is no line ending: a file with CR line
//! endings is one line, of which MorphIO reads the first sample), numbers are read as C's
//! `strtol` and `strtof` read them (the longest prefix that is a number; a field that is
//! no number reads as 0 without moving on, so `2.5` as an id is the id 2 followed by a type
//! `.5` that reads as 0 and an x of 0.5), and a field must start with a digit, a sign or a
//! dot.

use super::{Refusal, RefusalKind, Sample, SWC_ROOT};

/// The samples of `bytes` as MorphIO reads them, or its refusal.
pub(crate) fn read_samples(bytes: &[u8]) -> Result<Vec<Sample>, Refusal> {
    let mut t = Tokenizer {
        bytes,
        pos: 0,
        line: 1,
        file_line: FileLines::default(),
    };
    let mut samples = Vec::with_capacity(bytes.len() / 48);
    t.skip_blank_lines_and_comments();
    while !t.done() {
        let start = t.pos;
        let morphio_line = t.line;
        let line = t.file_line.at(bytes, start);
        let refuse = |kind: RefusalKind| Refusal::new(kind, Some(line), morphio_line);
        let id = t.read_int()?;
        if id < 0 {
            return Err(refuse(RefusalKind::NegativeId));
        }
        let Ok(id) = u32::try_from(id) else {
            return Err(refuse(RefusalKind::IdTooLarge));
        };
        let kind = t.read_int()?;
        if kind < 0 {
            return Err(refuse(RefusalKind::NegativeType));
        }
        // MorphIO casts the 64-bit value to its `int` enum: the low 32 bits.
        let kind = kind as i32;
        let x = t.read_float()?;
        let y = t.read_float()?;
        let z = t.read_float()?;
        let diameter = 2.0 * t.read_float()?;
        let parent = t.read_int()?;
        let parent = if parent < -1 {
            return Err(refuse(RefusalKind::NegativeId));
        } else if parent == -1 {
            SWC_ROOT
        } else {
            u32::try_from(parent).map_err(|_| refuse(RefusalKind::ParentIdTooLarge))?
        };
        samples.push(Sample {
            id,
            kind,
            point: [x, y, z],
            diameter,
            parent,
            line: u32::try_from(line).unwrap_or(u32::MAX),
            morphio_line: u32::try_from(morphio_line).unwrap_or(u32::MAX),
        });
        // Extra columns, and anything else up to the line's end, are ignored.
        t.finish_line();
        t.skip_blank_lines_and_comments();
    }
    Ok(samples)
}

/// Counts the file's lines (LF, CRLF or CR, as this crate's reader does) up to a position,
/// moving forward only.
#[derive(Default)]
struct FileLines {
    pos: usize,
    line: usize,
    /// The last byte counted was a CR (a following LF belongs to it).
    after_cr: bool,
}

impl FileLines {
    fn at(&mut self, bytes: &[u8], to: usize) -> usize {
        if let Some(part) = bytes.get(self.pos..to) {
            for &b in part {
                match b {
                    b'\r' => {
                        self.line += 1;
                        self.after_cr = true;
                    }
                    b'\n' => {
                        if !self.after_cr {
                            self.line += 1;
                        }
                        self.after_cr = false;
                    }
                    _ => self.after_cr = false,
                }
            }
            self.pos = to;
        }
        // A CR just before an LF is that LF's line ending, not one of its own.
        let crlf = self.after_cr && bytes.get(to) == Some(&b'\n');
        self.line + 1 - usize::from(crlf)
    }
}

struct Tokenizer<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// MorphIO's line number: 1 plus the LFs stepped over.
    line: usize,
    file_line: FileLines,
}

impl Tokenizer<'_> {
    fn done(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn advance_to_non_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r')) {
            self.pos += 1;
        }
    }

    fn skip_to_newline(&mut self) {
        let rest = self.bytes.get(self.pos..).unwrap_or(&[]);
        self.pos += rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    }

    fn skip_blank_lines_and_comments(&mut self) {
        self.advance_to_non_whitespace();
        while let Some(b @ (b'#' | b'\n')) = self.peek() {
            if b == b'#' {
                self.skip_to_newline();
            }
            if self.peek() == Some(b'\n') {
                self.line += 1;
                self.pos += 1;
            }
            self.advance_to_non_whitespace();
        }
    }

    fn finish_line(&mut self) {
        self.skip_to_newline();
        if self.peek() == Some(b'\n') {
            self.line += 1;
            self.pos += 1;
        }
    }

    /// Where a number must start: a digit, a sign or a dot.
    fn advance_to_number(&mut self) -> Result<(), Refusal> {
        self.advance_to_non_whitespace();
        let refuse = |t: &mut Self, kind| {
            let line = t.file_line.at(t.bytes, t.pos.min(t.bytes.len()));
            Refusal::new(kind, Some(line), t.line)
        };
        match self.peek() {
            None => Err(refuse(self, RefusalKind::EarlyEnd)),
            Some(b) if b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.') => Ok(()),
            Some(_) => Err(refuse(self, RefusalKind::Unparsable)),
        }
    }

    fn read_int(&mut self) -> Result<i64, Refusal> {
        self.advance_to_number()?;
        match strtol(self.bytes.get(self.pos..).unwrap_or(&[])) {
            Some((value, used)) => {
                self.pos += used;
                Ok(value)
            }
            // `strtol` read nothing: 0, and the position stays. MorphIO notices only at the
            // very first byte of the file.
            None if self.pos == 0 => Err(Refusal::new(RefusalKind::NotAnInteger, None, 0)),
            None => Ok(0),
        }
    }

    fn read_float(&mut self) -> Result<f32, Refusal> {
        self.advance_to_number()?;
        match strtof(self.bytes.get(self.pos..).unwrap_or(&[])) {
            Some((value, used)) => {
                self.pos += used;
                Ok(value)
            }
            None => Ok(0.0),
        }
    }
}

/// C's `strtol(s, &end, 10)` on a field that starts with a digit, a sign or a dot: the value
/// and the bytes used, saturated on overflow (as `strtol` does), or `None` when no digit
/// follows the sign.
pub(crate) fn strtol(s: &[u8]) -> Option<(i64, usize)> {
    let (negative, start) = match s.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let digits = s
        .get(start..)?
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 {
        return None;
    }
    let mut value: i64 = 0;
    let mut overflow = false;
    for &b in s.get(start..start + digits)? {
        let d = i64::from(b - b'0');
        let next = value.checked_mul(10).and_then(|v| {
            if negative {
                v.checked_sub(d)
            } else {
                v.checked_add(d)
            }
        });
        match next {
            Some(v) => value = v,
            None => {
                overflow = true;
                break;
            }
        }
    }
    if overflow {
        value = if negative { i64::MIN } else { i64::MAX };
    }
    Some((value, start + digits))
}

/// Powers of ten that are exact in an f32.
const POW10_F32: [f32; 11] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];

/// C's `strtof` (glibc: correctly rounded) on a field that starts with a digit, a sign or a
/// dot: the value and the bytes used, or `None` when no number starts there. Reads decimal
/// numbers with an exponent, `inf`, `infinity`, `nan`, `nan(...)` and hexadecimal numbers
/// (`0x1.8p3`) after a sign, as `strtof` does.
pub(crate) fn strtof(s: &[u8]) -> Option<(f32, usize)> {
    let (negative, start) = match s.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let rest = s.get(start..)?;
    let sign = |v: f32| if negative { -v } else { v };
    let lower = |n: usize| -> Vec<u8> {
        rest.iter()
            .take(n)
            .map(u8::to_ascii_lowercase)
            .collect::<Vec<u8>>()
    };
    if rest.first().is_some_and(|b| b.eq_ignore_ascii_case(&b'i')) {
        if lower(8) == b"infinity" {
            return Some((sign(f32::INFINITY), start + 8));
        }
        if lower(3) == b"inf" {
            return Some((sign(f32::INFINITY), start + 3));
        }
        return None;
    }
    if rest.first().is_some_and(|b| b.eq_ignore_ascii_case(&b'n')) {
        if lower(3) != b"nan" {
            return None;
        }
        let mut used = start + 3;
        // `nan(chars)`: letters, digits and underscores up to a closing parenthesis.
        if s.get(used) == Some(&b'(') {
            let inner = s
                .get(used + 1..)
                .unwrap_or(&[])
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            if s.get(used + 1 + inner) == Some(&b')') {
                used += inner + 2;
            }
        }
        return Some((sign(f32::NAN), used));
    }
    if rest.len() > 2
        && rest.first() == Some(&b'0')
        && rest.get(1).is_some_and(|b| b.eq_ignore_ascii_case(&b'x'))
    {
        if let Some((v, used)) = hex_float(rest.get(2..)?) {
            return Some((sign(v), start + 2 + used));
        }
        // "0x" without hexadecimal digits is the number 0 followed by "x".
        return Some((sign(0.0), start + 1));
    }
    // Decimal: digits, an optional dot and digits, then an optional exponent with digits.
    let int_digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let mut end = int_digits;
    let mut frac_digits = 0;
    if rest.get(end) == Some(&b'.') {
        frac_digits = rest
            .get(end + 1..)?
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if int_digits + frac_digits > 0 {
            end += 1 + frac_digits;
        }
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    let mantissa_end = end;
    if rest.get(end).is_some_and(|b| b.eq_ignore_ascii_case(&b'e')) {
        let mut e = end + 1;
        if matches!(rest.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let exp_digits = rest
            .get(e..)
            .unwrap_or(&[])
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if exp_digits > 0 {
            end = e + exp_digits;
        }
    }
    let text = rest.get(..end)?;
    // Clinger's fast path for f32: an exact mantissa divided by an exact power of ten.
    if end == mantissa_end && int_digits + frac_digits <= 7 && frac_digits < POW10_F32.len() {
        let mut m: u32 = 0;
        for &b in text {
            if b != b'.' {
                m = m * 10 + u32::from(b - b'0');
            }
        }
        if let Some(&p) = POW10_F32.get(frac_digits) {
            return Some((sign(m as f32 / p), start + end));
        }
    }
    let value = std::str::from_utf8(text).ok()?.parse::<f32>().ok()?;
    Some((sign(value), start + end))
}

/// The digits of a hexadecimal float after `0x`: `h[.h]` then an optional `p[+-]d`.
fn hex_float(s: &[u8]) -> Option<(f32, usize)> {
    let mut mantissa: u64 = 0;
    let mut exponent: i64 = 0;
    let mut digits = 0;
    let mut i = 0;
    let mut seen_dot = false;
    while let Some(&b) = s.get(i) {
        if let Some(d) = (b as char).to_digit(16) {
            if mantissa >> 56 == 0 {
                mantissa = mantissa << 4 | u64::from(d);
                if seen_dot {
                    exponent -= 4;
                }
            } else if !seen_dot {
                // Digits beyond 56 bits only scale the value.
                exponent += 4;
            }
            digits += 1;
        } else if b == b'.' && !seen_dot {
            seen_dot = true;
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if s.get(i).is_some_and(|b| b.eq_ignore_ascii_case(&b'p')) {
        let mut e = i + 1;
        let negative = s.get(e) == Some(&b'-');
        if matches!(s.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let n = s
            .get(e..)
            .unwrap_or(&[])
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if n > 0 {
            let mut p: i64 = 0;
            for &b in s.get(e..e + n).unwrap_or(&[]) {
                p = (p * 10 + i64::from(b - b'0')).min(100_000);
            }
            exponent += if negative { -p } else { p };
            i = e + n;
        }
    }
    let value = (mantissa as f64) * 2f64.powi(exponent.clamp(-2000, 2000) as i32);
    Some((value as f32, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtof_reads_prefixes_as_c_does() {
        let f = |s: &str| strtof(s.as_bytes()).map(|(v, n)| (v.to_bits(), n));
        let v = |x: f32, n: usize| Some((x.to_bits(), n));
        assert_eq!(f("1.5"), v(1.5, 3));
        assert_eq!(f("-.5 3"), v(-0.5, 3));
        assert_eq!(f("5."), v(5.0, 2));
        assert_eq!(f("1e3x"), v(1000.0, 3));
        assert_eq!(f("1.5e"), v(1.5, 3));
        assert_eq!(f("1.5e+"), v(1.5, 3));
        assert_eq!(f("-inf"), v(f32::NEG_INFINITY, 4));
        assert_eq!(f("+Infinity"), v(f32::INFINITY, 9));
        assert_eq!(f("0x1.8p1"), v(3.0, 7));
        assert_eq!(f("0x"), v(0.0, 1));
        assert_eq!(f("1e50"), v(f32::INFINITY, 4));
        assert_eq!(f("0.1"), v(0.1, 3));
        assert_eq!(f("123.4567"), v(123.4567, 8));
        assert_eq!(f("3.14159265358979"), v(std::f32::consts::PI, 16));
        assert!(f("-nan").is_some_and(|(b, n)| f32::from_bits(b).is_nan() && n == 4));
        assert!(f("-nan(1)").is_some_and(|(_, n)| n == 7));
        assert_eq!(f("-"), None);
        assert_eq!(f("."), None);
        assert_eq!(f("-x"), None);
    }

    #[test]
    fn strtol_saturates_and_stops() {
        assert_eq!(strtol(b"12 3"), Some((12, 2)));
        assert_eq!(strtol(b"2.5"), Some((2, 1)));
        assert_eq!(strtol(b"-1"), Some((-1, 2)));
        assert_eq!(strtol(b"+7"), Some((7, 2)));
        assert_eq!(strtol(b"99999999999999999999"), Some((i64::MAX, 20)));
        assert_eq!(strtol(b"-99999999999999999999"), Some((i64::MIN, 21)));
        assert_eq!(strtol(b".5"), None);
        assert_eq!(strtol(b"-"), None);
    }

    #[test]
    fn a_decimal_id_is_misread_as_morphio_does() {
        let s = read_samples(b"1 1 0 0 0 1 -1\n2.5 3 0 5 0 1 1\n").unwrap();
        let second = &s[1];
        assert_eq!((second.id, second.kind, second.parent), (2, 0, 0));
        assert_eq!(second.point, [0.5, 3.0, 0.0]);
        assert_eq!(second.diameter, 10.0);
    }

    #[test]
    fn cr_line_endings_are_one_line() {
        let s = read_samples(b"1 1 0 0 0 1 -1\r2 3 0 5 0 1 1\r").unwrap();
        assert_eq!(s.len(), 1);
        let s = read_samples(b"# header\r1 1 0 0 0 1 -1\r").unwrap();
        assert!(s.is_empty());
    }
}
