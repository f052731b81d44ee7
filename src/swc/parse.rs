//! The SWC reader: bytes to a [`Morphology`] (points in file order, comments, and the tree).

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::issue::{Issue, IssueCode};

/// One SWC sample: a data line.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Point {
    /// The sample id (first column).
    pub id: i64,
    /// The SWC type (second column): 1 soma, 2 axon, 3 basal dendrite, 4 apical dendrite,
    /// 0 undefined, 5 and above custom.
    pub kind: i32,
    /// x (µm).
    pub x: f64,
    /// y (µm).
    pub y: f64,
    /// z (µm).
    pub z: f64,
    /// The radius (µm); SWC stores radii, MorphIO and NeuroM's `diameters` are twice this.
    pub radius: f64,
    /// The parent's id, `-1` for a root.
    pub parent: i64,
    /// The 1-based line of the file it was read from.
    pub line: usize,
}

impl Point {
    /// The SWC type of a soma point.
    pub const SOMA: i32 = 1;

    /// Whether this is a soma point (type 1).
    pub fn is_soma(&self) -> bool {
        self.kind == Point::SOMA
    }

    /// The position.
    pub fn xyz(&self) -> [f64; 3] {
        [self.x, self.y, self.z]
    }

    /// The distance to another point.
    pub fn distance(&self, other: &Point) -> f64 {
        let (dx, dy, dz) = (self.x - other.x, self.y - other.y, self.z - other.z);
        (dx * dx + dy * dy + dz * dz).sqrt()
    }
}

/// A comment line (`# ...`) of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Comment {
    /// The 1-based line.
    pub line: usize,
    /// The text after the `#`, without trailing whitespace; bytes that are not UTF-8 are
    /// replaced by U+FFFD.
    pub text: String,
}

/// Why bytes could not be read as SWC. Always names a line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseError {
    /// `empty`, `html`, `too-few-fields`, `not-a-number`, `not-an-integer` or `too-large`.
    pub code: IssueCode,
    /// The 1-based line at fault (for an empty file: its last line, or 1).
    pub line: usize,
    /// What is wrong, quoting the text at fault.
    pub message: String,
}

impl ParseError {
    fn new(code: IssueCode, line: usize, message: String) -> ParseError {
        ParseError {
            code,
            line,
            message,
        }
    }

    /// The same, as an [`Issue`].
    pub fn to_issue(&self) -> Issue {
        Issue::new(self.code, Some(self.line), self.message.clone())
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

impl crate::error::Error {
    /// The SWC reader's verdict inside an [`Error::Swc`](crate::Error::Swc): the line and
    /// the issue code of what it refused.
    pub fn parse_error(&self) -> Option<&ParseError> {
        match self {
            crate::error::Error::Swc { source, .. } => source.downcast_ref::<ParseError>(),
            _ => None,
        }
    }
}

/// Why a file or a reader could not be read as SWC.
#[derive(Debug)]
#[non_exhaustive]
pub enum SwcError {
    /// Reading failed.
    Io {
        /// The file, when reading one.
        path: Option<PathBuf>,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not SWC.
    Parse {
        /// The file, when reading one.
        path: Option<PathBuf>,
        /// What is wrong, and where.
        error: ParseError,
    },
}

impl fmt::Display for SwcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SwcError::Io {
                path: Some(p),
                source,
            } => write!(f, "{}: {source}", p.display()),
            SwcError::Io { path: None, source } => write!(f, "{source}"),
            SwcError::Parse {
                path: Some(p),
                error,
            } => write!(f, "{}: {error}", p.display()),
            SwcError::Parse { path: None, error } => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for SwcError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SwcError::Io { source, .. } => Some(source),
            SwcError::Parse { error, .. } => Some(error),
        }
    }
}

/// Parent index of a root (parent `-1`).
pub(crate) const ROOT: u32 = u32::MAX;
/// Parent index of a point whose parent id is not in the file.
pub(crate) const MISSING: u32 = u32::MAX - 1;
/// Points are indexed by `u32` (half the memory of `usize`); two values are sentinels.
const MAX_POINTS: usize = (u32::MAX - 2) as usize;

/// Where an id's point is found: a direct table when ids are dense, else sorted pairs.
#[derive(Debug, Clone)]
enum IdIndex {
    /// `slots[id - min]` is the first point with that id, or `ROOT` if none. Only built when
    /// the id range is at most about twice the number of points, so a hostile id such as
    /// 9999999999999 never allocates a huge table.
    Dense { min: i64, slots: Vec<u32> },
    /// `(id, index)` sorted by id then index: the first of equal ids is the first in the file.
    Sorted(Vec<(i64, u32)>),
}

impl IdIndex {
    fn get(&self, id: i64) -> Option<u32> {
        match self {
            IdIndex::Dense { min, slots } => {
                let offset = usize::try_from(id.checked_sub(*min)?).ok()?;
                slots.get(offset).copied().filter(|&i| i != ROOT)
            }
            IdIndex::Sorted(pairs) => {
                let at = pairs.partition_point(|&(i, _)| i < id);
                pairs
                    .get(at)
                    .filter(|&&(i, _)| i == id)
                    .map(|&(_, index)| index)
            }
        }
    }
}

/// Counts of the lines that hold bytes that are not ASCII (they never fail a file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TextStats {
    pub(crate) non_ascii_lines: usize,
    pub(crate) first_non_ascii_line: Option<usize>,
    pub(crate) non_utf8_lines: usize,
}

/// A parsed SWC file: the points in file order, the comments, and the tree (parent and
/// children of each point), built once while reading.
///
/// A `Morphology` is any file that could be read; it may still not be a usable tree (a
/// duplicate id, a missing parent, a cycle, NaN coordinates): [`Morphology::validate`]
/// says. Where ids repeat, a parent id refers to the first point with that id.
///
/// # What the reader accepts
///
/// Any line ending (LF, CRLF, CR, mixed), a UTF-8 byte order mark, fields separated by runs
/// of spaces, tabs, vertical tabs or form feeds, blank lines, `#` comment lines anywhere, a
/// `#` comment after the 7 fields of a data line (a `#` inside the 7 fields ends them: too
/// few fields), extra fields after the 7th (ignored, as MorphIO does), and bytes that are not
/// UTF-8 in comments and extra fields (never an error; the `non-ascii` warning). Id, type
/// and parent are integers (64-bit for ids, 32-bit for types; `2.0` is refused, as MorphIO
/// cannot read it either); x, y, z and radius are decimal numbers. NaN and infinities are
/// read, and refused by the validator (`non-finite`), so that the report names the line.
/// Ids may be sparse, negative or huge: they are looked up in a table only when they are
/// dense, else in a sorted index, so memory is linear in the number of points.
///
#[derive(Debug, Clone)]
pub struct Morphology {
    points: Vec<Point>,
    comments: Vec<Comment>,
    /// Index of each point's parent, or `ROOT` / `MISSING`.
    parent_index: Vec<u32>,
    /// Children of point `i`: `children[child_start[i]..child_start[i + 1]]`, in file order.
    child_start: Vec<u32>,
    children: Vec<u32>,
    ids: IdIndex,
    /// Points whose id was already used by an earlier point.
    duplicates: Vec<u32>,
    text: TextStats,
    /// MorphIO's tokenizer reads the same samples from the bytes (see `reads_as_morphio`).
    morphio_plain: bool,
}

impl Morphology {
    /// Parse SWC text.
    ///
    /// Accepted: LF, CRLF or CR line endings (mixed too), a UTF-8 byte order mark, fields
    /// separated by any run of spaces, tabs, vertical tabs or form feeds, leading
    /// whitespace, blank lines, `#` comment lines anywhere, a `#` comment after the 7 fields
    /// of a data line, extra fields after the 7th (ignored), and bytes that are not UTF-8 in
    /// comments or extra fields (replaced in [`Comment::text`], reported as the `non-ascii`
    /// warning by the validator).
    ///
    /// A data line is `id type x y z radius parent`: id, type and parent are integers
    /// (`+` sign allowed, no decimal point), x, y, z and radius are decimal numbers in any
    /// form Rust reads (`1`, `-.5`, `1e3`, `nan`, `inf`). NaN and infinities are read here
    /// and reported by the validator (`non-finite`), so that the line is named.
    ///
    /// Errors (each with the line, quoting the text at fault): `empty` (no data line),
    /// `html` (the first line that is not blank starts with `<`), `too-few-fields`,
    /// `not-a-number`, `not-an-integer` (also for integers out of range), `too-large` (more
    /// than 4,294,967,293 points). Never panics, whatever the bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Morphology, ParseError> {
        Parser::new(bytes).run()
    }

    /// Read everything from `reader` and parse it (see [`Morphology::from_bytes`]).
    pub fn from_reader<R: Read>(mut reader: R) -> Result<Morphology, SwcError> {
        let mut bytes = Vec::new();
        reader
            .read_to_end(&mut bytes)
            .map_err(|source| SwcError::Io { path: None, source })?;
        Morphology::from_bytes(&bytes).map_err(|error| SwcError::Parse { path: None, error })
    }

    /// Read and parse a file (see [`Morphology::from_bytes`]).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Morphology, SwcError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| SwcError::Io {
            path: Some(path.to_path_buf()),
            source,
        })?;
        Morphology::from_bytes(&bytes).map_err(|error| SwcError::Parse {
            path: Some(path.to_path_buf()),
            error,
        })
    }

    /// The points, in file order (never empty).
    pub fn points(&self) -> &[Point] {
        &self.points
    }

    /// The comment lines, in file order (the header and any later ones).
    pub fn comments(&self) -> &[Comment] {
        &self.comments
    }

    /// The index (in [`Morphology::points`]) of the parent of point `index`: `None` for a
    /// root, a point whose parent id is missing, or an index out of range.
    pub fn parent(&self, index: usize) -> Option<usize> {
        match self.parent_index.get(index).copied() {
            Some(ROOT) | Some(MISSING) | None => None,
            Some(p) => Some(p as usize),
        }
    }

    /// The indices of the children of point `index`, in file order (empty for a tip or an
    /// index out of range).
    pub fn children(&self, index: usize) -> impl ExactSizeIterator<Item = usize> + '_ {
        self.children_slice(index).iter().map(|&c| c as usize)
    }

    /// The number of children of point `index`.
    pub fn child_count(&self, index: usize) -> usize {
        self.children_slice(index).len()
    }

    /// The indices of the roots (points whose parent is `-1`), in file order.
    pub fn roots(&self) -> impl Iterator<Item = usize> + '_ {
        self.parent_index
            .iter()
            .enumerate()
            .filter(|&(_, &p)| p == ROOT)
            .map(|(i, _)| i)
    }

    /// The index of the (first) point with this id.
    pub fn index_of(&self, id: i64) -> Option<usize> {
        self.ids.get(id).map(|i| i as usize)
    }

    pub(crate) fn children_slice(&self, index: usize) -> &[u32] {
        let start = self.child_start.get(index).copied();
        let end = index
            .checked_add(1)
            .and_then(|next| self.child_start.get(next).copied());
        match (start, end) {
            (Some(s), Some(e)) => self.children.get(s as usize..e as usize).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The raw parent index (`ROOT`, `MISSING` or an index) of each point.
    pub(crate) fn parent_indices(&self) -> &[u32] {
        &self.parent_index
    }

    pub(crate) fn duplicate_indices(&self) -> &[u32] {
        &self.duplicates
    }

    pub(crate) fn text_stats(&self) -> TextStats {
        self.text
    }

    /// Whether MorphIO's tokenizer reads the same samples from the bytes: no byte order
    /// mark, no CR that is not part of a CRLF, only spaces and tabs between fields, and no
    /// number that MorphIO reads otherwise (an unsigned `inf` or `nan`, which it refuses).
    pub(crate) fn reads_as_morphio(&self) -> bool {
        self.morphio_plain
    }
}

/// Which column a field is, for messages.
const FIELD_NAMES: [&str; 7] = ["id", "type", "x", "y", "z", "radius", "parent"];

/// The most of a bad field quoted in a message (hostile lines can be megabytes).
const QUOTE_MAX: usize = 40;

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | 0x0B | 0x0C)
}

/// Quote bytes for a message: lossy UTF-8, cut at `QUOTE_MAX` characters.
fn quote(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text.chars().take(QUOTE_MAX).collect();
    if text.chars().nth(QUOTE_MAX).is_some() {
        out.push('…');
    }
    out
}

/// Whether a byte ends a field: whitespace, a line ending, or a comment.
fn ends_field(b: u8) -> bool {
    is_space(b) || b == b'\n' || b == b'\r' || b == b'#'
}

/// Powers of ten from 10^0 to 10^19, as integers (a float-to-integer cast per number costs more than the
/// table); a fraction of more digits is never read by the fast path.
const POW10_U64: [u64; 20] = {
    let mut table = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// Powers of ten that are exact in an f64.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The largest integer below which every integer is exact in an f64.
const EXACT: u64 = 1 << 53;

/// Plain decimals (`-12.345`) with at most 2^53 as digits and 22 decimals: the digits and the
/// power of ten are both exact, so one division is the correctly rounded value, the same as
/// `str::parse` (Clinger's fast path). Anything else goes to `str::parse`.
fn fast_f64(field: &[u8]) -> Option<f64> {
    let (negative, digits) = match field.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, field),
    };
    let mut mantissa: u64 = 0;
    let mut decimals: usize = 0;
    let mut any_digit = false;
    let mut seen_dot = false;
    for &b in digits {
        if b.is_ascii_digit() {
            mantissa = mantissa.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            any_digit = true;
            if seen_dot {
                decimals += 1;
            }
        } else if b == b'.' && !seen_dot {
            seen_dot = true;
        } else {
            return None;
        }
    }
    if !any_digit || mantissa > EXACT {
        return None;
    }
    let value = mantissa as f64 / POW10.get(decimals)?;
    Some(if negative { -value } else { value })
}

fn parse_f64(field: &[u8]) -> Option<f64> {
    if let Some(v) = fast_f64(field) {
        return Some(v);
    }
    std::str::from_utf8(field).ok()?.parse::<f64>().ok()
}

/// An integer, or why not (a message tail).
fn parse_i64(field: &[u8]) -> Result<i64, &'static str> {
    let (negative, digits) = match field.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, field),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(if parse_f64(field).is_some() {
            "is not an integer"
        } else {
            "is not a number"
        });
    }
    let mut value: i64 = 0;
    for &b in digits {
        let d = i64::from(b - b'0');
        value = value
            .checked_mul(10)
            .and_then(|v| {
                if negative {
                    v.checked_sub(d)
                } else {
                    v.checked_add(d)
                }
            })
            .ok_or("is out of range")?;
    }
    Ok(value)
}

/// Digits from `at`: their value (wrapping past 19 digits) and how many there are.
fn digits(bytes: &[u8], at: usize) -> (u64, usize) {
    let mut value: u64 = 0;
    let mut n = 0;
    while let Some(&b) = bytes.get(at + n) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        value = value.wrapping_mul(10).wrapping_add(u64::from(d));
        n += 1;
    }
    (value, n)
}

/// An unsigned integer from `at`: 1 to 18 digits (never past an i64), and where it ends.
fn unsigned_int(bytes: &[u8], at: usize) -> Option<(i64, usize)> {
    let (value, n) = digits(bytes, at);
    (n > 0 && n <= 18).then_some((value as i64, at + n))
}

/// An unsigned decimal from `at`, `[0-9]*(.[0-9]*)?` with 1 to 19 digits, at most 2^53 as
/// digits and 22 decimals: exact as one division (see `fast_f64`); and where it ends.
fn unsigned_decimal(bytes: &[u8], at: usize) -> Option<(f64, usize)> {
    let (whole, n) = digits(bytes, at);
    let (mut mantissa, mut count, mut decimals, mut end) = (whole, n, 0, at + n);
    if bytes.get(end) == Some(&b'.') {
        let (fraction, f) = digits(bytes, end + 1);
        let scale = *POW10_U64.get(f)?;
        mantissa = mantissa.wrapping_mul(scale).wrapping_add(fraction);
        count += f;
        decimals = f;
        end += 1 + f;
    }
    if count == 0 || count > 19 || mantissa > EXACT {
        return None;
    }
    Some((mantissa as f64 / *POW10.get(decimals)?, end))
}

/// An integer field of a plain line: `-?[0-9]{1,18}`.
fn plain_int(bytes: &[u8], at: usize) -> Option<(i64, usize)> {
    let negative = bytes.get(at) == Some(&b'-');
    let (value, end) = unsigned_int(bytes, at + usize::from(negative))?;
    Some((if negative { -value } else { value }, end))
}

/// A decimal field of a plain line: `-` and an [`unsigned_decimal`].
fn plain_float(bytes: &[u8], at: usize) -> Option<(f64, usize)> {
    let negative = bytes.get(at) == Some(&b'-');
    let (value, end) = unsigned_decimal(bytes, at + usize::from(negative))?;
    Some((if negative { -value } else { value }, end))
}

/// Spaces and tabs from `at` (at least one when `needed`): where they end.
fn plain_gap(bytes: &[u8], at: usize, needed: bool) -> Option<usize> {
    let mut end = at;
    while matches!(bytes.get(end), Some(b' ' | b'\t')) {
        end += 1;
    }
    (end > at || !needed).then_some(end)
}

/// A plain data line from its first field: seven numbers that the careful path reads the
/// same way, separated by spaces or tabs, ending with LF, CRLF or the end of the input.
/// The point and where its line ending starts; `None` for anything else.
fn plain_line(bytes: &[u8], at: usize, line: usize) -> Option<(Point, usize)> {
    let (id, at) = plain_int(bytes, at)?;
    let at = plain_gap(bytes, at, true)?;
    let (kind, at) = plain_int(bytes, at)?;
    let kind = i32::try_from(kind).ok()?;
    let at = plain_gap(bytes, at, true)?;
    let (x, at) = plain_float(bytes, at)?;
    let at = plain_gap(bytes, at, true)?;
    let (y, at) = plain_float(bytes, at)?;
    let at = plain_gap(bytes, at, true)?;
    let (z, at) = plain_float(bytes, at)?;
    let at = plain_gap(bytes, at, true)?;
    let (radius, at) = plain_float(bytes, at)?;
    let at = plain_gap(bytes, at, true)?;
    let (parent, at) = plain_int(bytes, at)?;
    let end = plain_gap(bytes, at, false)?;
    let ends = match bytes.get(end) {
        None | Some(b'\n') => true,
        Some(b'\r') => bytes.get(end + 1) == Some(&b'\n'),
        _ => false,
    };
    ends.then_some((
        Point {
            id,
            kind,
            x,
            y,
            z,
            radius,
            parent,
            line,
        },
        end,
    ))
}

/// One pass over the bytes: each byte of a data line is looked at once, numbers are read
/// while their field is scanned, and only odd fields (exponents, `nan`, long digits, errors)
/// are sliced and handed to the slow paths above.
struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    line_no: usize,
    points: Vec<Point>,
    comments: Vec<Comment>,
    text: TextStats,
    morphio_plain: bool,
}

impl<'a> Parser<'a> {
    fn new(bytes: &'a [u8]) -> Parser<'a> {
        let without_bom = bytes.strip_prefix(b"\xEF\xBB\xBF");
        let morphio_plain = without_bom.is_none();
        let bytes = without_bom.unwrap_or(bytes);
        Parser {
            morphio_plain,
            bytes,
            pos: 0,
            line_no: 0,
            // Lines are 30-50 bytes: a guess that never allocates more than the input's size.
            points: Vec::with_capacity(bytes.len() / 48),
            comments: Vec::new(),
            text: TextStats::default(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while let Some(b) = self.peek().filter(|&b| is_space(b)) {
            if b != b' ' && b != b'\t' {
                // MorphIO separates fields by spaces, tabs and CRs only.
                self.morphio_plain = false;
            }
            self.pos += 1;
        }
    }

    /// The end of the current line (before its line ending).
    fn line_end(&self, from: usize) -> usize {
        let rest = self.bytes.get(from..).unwrap_or(&[]);
        from + rest
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .unwrap_or(rest.len())
    }

    /// Step over one LF, CRLF or CR (or nothing at the end).
    fn eat_line_ending(&mut self) {
        match self.peek() {
            Some(b'\r') => {
                self.pos += 1;
                if self.peek() == Some(b'\n') {
                    self.pos += 1;
                } else {
                    // A CR alone ends a line here, not for MorphIO.
                    self.morphio_plain = false;
                }
            }
            Some(b'\n') => self.pos += 1,
            _ => {}
        }
    }

    fn slice(&self, from: usize, to: usize) -> &'a [u8] {
        self.bytes.get(from..to).unwrap_or(&[])
    }

    fn note_text(&mut self, bytes: &[u8]) {
        if bytes.is_ascii() {
            return;
        }
        self.text.non_ascii_lines += 1;
        self.text.first_non_ascii_line.get_or_insert(self.line_no);
        if std::str::from_utf8(bytes).is_err() {
            self.text.non_utf8_lines += 1;
        }
    }

    fn error(&self, code: IssueCode, message: String) -> ParseError {
        ParseError::new(code, self.line_no, message)
    }

    fn run(mut self) -> Result<Morphology, ParseError> {
        let mut seen_text = false;
        while self.pos < self.bytes.len() {
            self.line_no += 1;
            self.skip_spaces();
            match self.peek() {
                None => break,
                Some(b'\n') | Some(b'\r') => {}
                Some(b'#') => {
                    let start = self.pos + 1;
                    let end = self.line_end(start);
                    let text = self.slice(start, end);
                    let text = text
                        .iter()
                        .rposition(|&b| !is_space(b))
                        .map_or(&[][..], |last| text.get(..=last).unwrap_or(text));
                    self.note_text(text);
                    self.comments.push(Comment {
                        line: self.line_no,
                        text: String::from_utf8_lossy(text).into_owned(),
                    });
                    self.pos = end;
                    seen_text = true;
                }
                Some(b'<') if !seen_text => {
                    let end = self.line_end(self.pos);
                    let content = quote(self.slice(self.pos, end));
                    return Err(self.error(
                        IssueCode::Html,
                        format!("an HTML or XML page, not an SWC file ('{content}')"),
                    ));
                }
                Some(_) => {
                    if self.points.len() >= MAX_POINTS {
                        return Err(self.error(
                            IssueCode::TooLarge,
                            format!("more than {MAX_POINTS} points"),
                        ));
                    }
                    // Most lines are plain: read those in one tight pass; anything else
                    // (and every error) goes through the careful path from the line's start.
                    let point = match plain_line(self.bytes, self.pos, self.line_no) {
                        Some((point, end)) => {
                            self.pos = end;
                            point
                        }
                        None => self.data_line()?,
                    };
                    self.points.push(point);
                    seen_text = true;
                }
            }
            self.eat_line_ending();
        }
        if self.points.is_empty() {
            let what = if seen_text {
                "no data line (only comments)"
            } else if self.line_no == 0 {
                "no data line (the file is empty)"
            } else {
                "no data line (only blank lines)"
            };
            let line = self.line_no.max(1);
            return Err(ParseError::new(IssueCode::Empty, line, what.to_string()));
        }
        let mut morphology = build(self.points, self.comments, self.text);
        morphology.morphio_plain = self.morphio_plain;
        Ok(morphology)
    }

    /// A data line, from its first field to its line ending (not included).
    fn data_line(&mut self) -> Result<Point, ParseError> {
        let line_start = self.pos;
        let id = self.int_field(line_start, 0)?;
        let kind = self.int_field(line_start, 1)?;
        let kind = i32::try_from(kind).map_err(|_| {
            self.error(
                IssueCode::NotAnInteger,
                format!("'{kind}' is out of range (type)"),
            )
        })?;
        let x = self.float_field(line_start, 2)?;
        let y = self.float_field(line_start, 3)?;
        let z = self.float_field(line_start, 4)?;
        let radius = self.float_field(line_start, 5)?;
        let parent = self.int_field(line_start, 6)?;
        // Extra fields and a trailing comment are ignored, but their bytes are noted.
        let end = self.line_end(self.pos);
        let rest = self.slice(self.pos, end);
        self.note_text(rest);
        self.pos = end;
        Ok(Point {
            id,
            kind,
            x,
            y,
            z,
            radius,
            parent,
            line: self.line_no,
        })
    }

    /// Skip to field `n`; fail with `too-few-fields` if the line (or its data) has ended.
    fn start_field(&mut self, line_start: usize, n: usize) -> Result<usize, ParseError> {
        self.skip_spaces();
        match self.peek() {
            Some(b) if !ends_field(b) => Ok(self.pos),
            _ => {
                let end = self.line_end(line_start);
                let line = self.slice(line_start, end);
                let data = line
                    .iter()
                    .position(|&b| b == b'#')
                    .map_or(line, |at| line.get(..at).unwrap_or(line));
                let data = data
                    .iter()
                    .rposition(|&b| !is_space(b))
                    .map_or(&[][..], |last| data.get(..=last).unwrap_or(data));
                Err(self.error(
                    IssueCode::TooFewFields,
                    format!(
                        "'{}' has {n} field{}, an SWC data line needs 7 (id type x y z radius parent)",
                        quote(data),
                        if n == 1 { "" } else { "s" }
                    ),
                ))
            }
        }
    }

    /// The whole field from `start`, for the slow paths and messages.
    fn finish_field(&mut self, start: usize) -> &'a [u8] {
        while self.peek().is_some_and(|b| !ends_field(b)) {
            self.pos += 1;
        }
        self.slice(start, self.pos)
    }

    fn int_field(&mut self, line_start: usize, n: usize) -> Result<i64, ParseError> {
        let start = self.start_field(line_start, n)?;
        let negative = match self.peek() {
            Some(b'-') => {
                self.pos += 1;
                true
            }
            Some(b'+') => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        // 18 digits cannot overflow an i64; longer or odd fields take the careful path.
        if let Some((value, end)) = unsigned_int(self.bytes, self.pos) {
            self.pos = end;
            if self.peek().is_none_or(ends_field) {
                return Ok(if negative { -value } else { value });
            }
        }
        let field = self.finish_field(start);
        parse_i64(field).map_err(|why| {
            let code = if why == "is not a number" {
                IssueCode::NotANumber
            } else {
                IssueCode::NotAnInteger
            };
            let name = FIELD_NAMES.get(n).copied().unwrap_or("field");
            self.error(code, format!("'{}' {why} ({name})", quote(field)))
        })
    }

    fn float_field(&mut self, line_start: usize, n: usize) -> Result<f64, ParseError> {
        let start = self.start_field(line_start, n)?;
        let negative = match self.peek() {
            Some(b'-') => {
                self.pos += 1;
                true
            }
            Some(b'+') => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        if let Some((value, end)) = unsigned_decimal(self.bytes, self.pos) {
            self.pos = end;
            if self.peek().is_none_or(ends_field) {
                return Ok(if negative { -value } else { value });
            }
        }
        let field = self.finish_field(start);
        if field.first().is_some_and(u8::is_ascii_alphabetic) {
            // `inf` or `nan` without a sign: MorphIO cannot parse the line.
            self.morphio_plain = false;
        }
        parse_f64(field).ok_or_else(|| {
            let name = FIELD_NAMES.get(n).copied().unwrap_or("field");
            self.error(
                IssueCode::NotANumber,
                format!("'{}' is not a number ({name})", quote(field)),
            )
        })
    }
}

/// Resolve parents and build the children lists: O(n), plus a sort when ids are sparse.
fn build(points: Vec<Point>, comments: Vec<Comment>, text: TextStats) -> Morphology {
    let n = points.len();
    let (min, max) = points.iter().fold((i64::MAX, i64::MIN), |(lo, hi), p| {
        (lo.min(p.id), hi.max(p.id))
    });
    let span = i128::from(max) - i128::from(min) + 1;
    let dense_limit = 2 * (n as i128) + 64;
    let mut duplicates = Vec::new();
    let ids = if span <= dense_limit {
        let mut slots = vec![ROOT; usize::try_from(span).unwrap_or(0)];
        for (i, p) in points.iter().enumerate() {
            let offset = usize::try_from(i128::from(p.id) - i128::from(min)).ok();
            if let Some(slot) = offset.and_then(|o| slots.get_mut(o)) {
                if *slot == ROOT {
                    *slot = i as u32;
                } else {
                    duplicates.push(i as u32);
                }
            }
        }
        IdIndex::Dense { min, slots }
    } else {
        let mut pairs: Vec<(i64, u32)> = points
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id, i as u32))
            .collect();
        pairs.sort_unstable();
        for pair in pairs.windows(2) {
            if let [a, b] = pair {
                if a.0 == b.0 {
                    duplicates.push(b.1);
                }
            }
        }
        duplicates.sort_unstable();
        pairs.dedup_by_key(|pair| pair.0);
        IdIndex::Sorted(pairs)
    };

    let parent_index: Vec<u32> = points
        .iter()
        .map(|p| {
            if p.parent == -1 {
                ROOT
            } else {
                ids.get(p.parent).unwrap_or(MISSING)
            }
        })
        .collect();

    // Children in compressed rows: count, prefix sums, then fill in file order.
    let mut child_start = vec![0u32; n + 1];
    for &p in &parent_index {
        // ROOT and MISSING fall outside the table.
        if let Some(slot) = (p as usize)
            .checked_add(1)
            .and_then(|at| child_start.get_mut(at))
        {
            *slot += 1;
        }
    }
    // At most n children in all, and n fits in a u32.
    let mut total = 0u32;
    for slot in child_start.iter_mut() {
        total = total.saturating_add(*slot);
        *slot = total;
    }
    let mut next = child_start.clone();
    let mut children = vec![0u32; total as usize];
    for (i, &p) in parent_index.iter().enumerate() {
        if let Some(at) = next.get_mut(p as usize) {
            if let Some(slot) = children.get_mut(*at as usize) {
                *slot = i as u32;
            }
            *at += 1;
        }
    }

    Morphology {
        points,
        comments,
        parent_index,
        child_start,
        children,
        ids,
        duplicates,
        text,
        morphio_plain: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The careful path's reading of one data line: the point and where it stopped.
    fn careful(line: &str) -> Option<(Point, usize)> {
        let mut p = Parser::new(line.as_bytes());
        p.line_no = 1;
        let point = p.data_line().ok()?;
        Some((point, p.pos))
    }

    #[test]
    fn the_plain_path_reads_as_the_careful_one() {
        let numbers = [
            "0",
            "-0",
            "7",
            "-12",
            "0.",
            ".5",
            "-.5",
            "-0.0",
            "12.375",
            "1e3",
            "+1",
            "0x10",
            "nan",
            "123456789012345678",
            "1234567890123456789",
            "9007199254740993",
            "0.1234567890123456789",
            "0.00000000000000000000001",
            "5.",
            ".",
            "-",
            "1.2.3",
            "4294967296",
            "-2147483649",
            "3,5",
            "0.3",
            "1.7",
            "123.456",
            "-987.654321",
        ];
        let mut plain = 0;
        let mut lines = 0;
        for (n, a) in numbers.iter().enumerate() {
            let b = numbers
                .get((n * 7 + 3) % numbers.len())
                .copied()
                .unwrap_or("1");
            for sep in [" ", "\t", "  \t ", "\x0b"] {
                for end in ["", "\n", "\r\n", "\r", " \n", " # note\n", " 8\n"] {
                    for line in [
                        format!("{a}{sep}{b}{sep}{a}{sep}{b}{sep}{a}{sep}{b}{sep}{a}{end}"),
                        format!("1{sep}3{sep}{a}{sep}{b}{sep}0.5{sep}{a}{sep}-1{end}"),
                    ] {
                        lines += 1;
                        let got = plain_line(line.as_bytes(), 0, 1);
                        if let Some(got) = &got {
                            plain += 1;
                            assert_eq!(Some(got), careful(&line).as_ref(), "{line:?}");
                            // Same values, bit for bit (-0 is not 0).
                            let (a, b) = (&got.0, careful(&line).map(|c| c.0));
                            let bits = |p: &Point| [p.x, p.y, p.z, p.radius].map(f64::to_bits);
                            assert_eq!(Some(bits(a)), b.as_ref().map(bits), "{line:?}");
                        }
                    }
                }
            }
        }
        // Both kinds of lines were seen: the plain path takes many, and leaves many.
        assert!(plain > 50 && plain < lines - 300, "{plain} of {lines}");
    }

    /// x as the parser reads it inside a data line.
    fn read_x(text: &str) -> Option<u64> {
        let line = format!("1 1 {text} 0 0 1 -1");
        Morphology::from_bytes(line.as_bytes())
            .ok()
            .map(|m| m.points()[0].x.to_bits())
    }

    #[test]
    fn fast_path_equals_std_parse() {
        // A small deterministic generator of decimal strings, compared bit for bit.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let r = next();
            let int = r % 100_000;
            let decimals = (r >> 20) % 8;
            let frac = (r >> 32) % 10u64.pow(decimals as u32);
            let sign = if r & 1 == 1 { "-" } else { "" };
            let text = if decimals == 0 {
                format!("{sign}{int}")
            } else {
                format!("{sign}{int}.{frac:0width$}", width = decimals as usize)
            };
            let fast = fast_f64(text.as_bytes()).map(f64::to_bits);
            let std = text.parse::<f64>().ok().map(f64::to_bits);
            assert_eq!(fast, std, "{text}");
            assert_eq!(read_x(&text), std, "{text}");
        }
        let odd = [
            "1e3",
            "nan",
            "inf",
            ".",
            "-",
            "+.5",
            "5.",
            "-0",
            "1.2.3",
            "9007199254740993",
            "9007199254740992",
            "123456789012345678901.5",
            "0.0000000000000000000000001",
            "-1234567890123456789",
            "12345678901234567890",
            "1.7976931348623157e308",
            "1e400",
        ];
        for text in odd {
            let std = text.parse::<f64>().ok().map(f64::to_bits);
            assert_eq!(parse_f64(text.as_bytes()).map(f64::to_bits), std, "{text}");
            assert_eq!(read_x(text), std, "{text}");
        }
    }

    #[test]
    fn integers() {
        assert_eq!(parse_i64(b"-1"), Ok(-1));
        assert_eq!(parse_i64(b"+17"), Ok(17));
        assert_eq!(parse_i64(b"9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), Err("is out of range"));
        assert_eq!(parse_i64(b"1.0"), Err("is not an integer"));
        assert_eq!(parse_i64(b"x1"), Err("is not a number"));
        assert_eq!(parse_i64(b"-"), Err("is not a number"));
        let id = |text: &str| {
            Morphology::from_bytes(format!("{text} 1 0 0 0 1 -1").as_bytes())
                .map(|m| m.points()[0].id)
        };
        for text in [
            "0",
            "-7",
            "+7",
            "123456789012345678",
            "1234567890123456789",
            "-9223372036854775808",
        ] {
            assert_eq!(id(text).ok(), text.parse::<i64>().ok(), "{text}");
        }
        for bad in ["9223372036854775808", "1.0", "1e3", "-", "1-"] {
            assert!(id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sparse_ids_use_sorted_index() {
        let m = Morphology::from_bytes(b"9999999999999 1 0 0 0 1 -1\n5 3 1 0 0 1 9999999999999\n")
            .unwrap();
        assert!(matches!(m.ids, IdIndex::Sorted(_)));
        assert_eq!(m.parent(1), Some(0));
        assert_eq!(m.children(0).collect::<Vec<_>>(), [1]);
        assert_eq!(m.index_of(5), Some(1));
        assert_eq!(m.index_of(6), None);
        let m = Morphology::from_bytes(b"3 1 0 0 0 1 -1\n3 3 1 0 0 1 3\n4 3 1 0 0 1 3\n").unwrap();
        assert!(matches!(m.ids, IdIndex::Dense { .. }));
        assert_eq!(m.duplicate_indices(), [1]);
        assert_eq!(m.children(0).collect::<Vec<_>>(), [1, 2]);
    }
}
