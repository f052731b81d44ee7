//! SVG text: numbers rounded to a tenth of a pixel, paths that chain connected segments, and
//! text escaped for XML.

use std::collections::HashMap;
use std::fmt::Write as _;

/// A position in tenths of a pixel: what the file says, rounded once.
pub(crate) type Pos = (i64, i64);

/// Round pixels to tenths (the largest finite drawing is bounded by the options' size).
pub(crate) fn tenths(v: f64) -> i64 {
    if v.is_finite() {
        (v * 10.0).round().clamp(-1e15, 1e15) as i64
    } else {
        0
    }
}

/// Append a number given in tenths: `12`, `12.5`, `-0.5`.
pub(crate) fn push_tenths(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    let a = v.unsigned_abs();
    let _ = write!(out, "{}", a / 10);
    let frac = a % 10;
    if frac != 0 {
        out.push('.');
        out.push(char::from(b'0' + frac as u8));
    }
}

/// A pixel value as text (tenths).
pub(crate) fn num(v: f64) -> String {
    let mut s = String::new();
    push_tenths(&mut s, tenths(v));
    s
}

/// One `d` attribute: segments that continue where the last one ended are chained, as
/// relative moves (`l dx dy`: shorter than absolute positions).
#[derive(Debug, Default)]
pub(crate) struct PathData {
    pub(crate) d: String,
    /// The point (by index) and position where the pen is.
    pen: Option<(u32, Pos)>,
    /// The last command was a relative line: further pairs continue it without a letter.
    in_line: bool,
    /// An interior point closer than this to the pen (tenths of a pixel, each way) is left
    /// out; 0 means half a pixel.
    pub(crate) skip: i64,
}

impl PathData {
    /// A line from point `from` (at `a`) to point `to` (at `b`). `may_skip`: `to` is an
    /// interior point of a chain, left out when it is less than half a pixel from the pen.
    pub(crate) fn segment(&mut self, from: u32, a: Pos, to: u32, b: Pos, may_skip: bool) {
        let pen = match self.pen {
            Some((node, pen)) if node == from => {
                let skip = if self.skip > 0 { self.skip } else { 5 };
                let near = (b.0 - pen.0).abs() < skip && (b.1 - pen.1).abs() < skip;
                if pen == b || (may_skip && near) {
                    self.pen = Some((to, pen));
                    return;
                }
                pen
            }
            _ => {
                self.d.push('M');
                self.pair(a);
                self.in_line = false;
                a
            }
        };
        if self.in_line {
            // A minus sign separates numbers by itself.
            if b.0 - pen.0 >= 0 {
                self.d.push(' ');
            }
        } else {
            self.d.push('l');
            self.in_line = true;
        }
        self.pair((b.0 - pen.0, b.1 - pen.1));
        self.pen = Some((to, b));
    }

    /// A vertical line (`M x y V y2`), for the dendrogram.
    pub(crate) fn vertical(&mut self, x: i64, y0: i64, y1: i64) {
        self.d.push('M');
        self.pair((x, y0));
        self.d.push('V');
        push_tenths(&mut self.d, y1);
        self.pen = None;
        self.in_line = false;
    }

    /// A horizontal line (`M x y H x2`), for the dendrogram.
    pub(crate) fn horizontal(&mut self, x0: i64, x1: i64, y: i64) {
        self.d.push('M');
        self.pair((x0, y));
        self.d.push('H');
        push_tenths(&mut self.d, x1);
        self.pen = None;
        self.in_line = false;
    }

    /// The next segment starts with a move.
    pub(crate) fn lift(&mut self) {
        self.pen = None;
        self.in_line = false;
    }

    fn pair(&mut self, (x, y): Pos) {
        push_tenths(&mut self.d, x);
        if y >= 0 {
            self.d.push(' ');
        }
        push_tenths(&mut self.d, y);
    }
}

/// Stroked paths grouped by SWC type and by width class.
#[derive(Debug, Default)]
pub(crate) struct Strokes {
    /// See [`PathData::skip`].
    pub(crate) skip: i64,
    paths: Vec<(i32, i64, PathData)>,
    index: HashMap<(i32, i64), usize>,
}

impl Strokes {
    /// The path of `kind` drawn `width` tenths of a pixel wide (always `Some`).
    pub(crate) fn path(&mut self, kind: i32, width: i64) -> Option<&mut PathData> {
        let at = match self.index.get(&(kind, width)) {
            Some(&at) => at,
            None => {
                let at = self.paths.len();
                let path = PathData {
                    skip: self.skip,
                    ..PathData::default()
                };
                self.paths.push((kind, width, path));
                self.index.insert((kind, width), at);
                at
            }
        };
        self.paths.get_mut(at).map(|entry| &mut entry.2)
    }

    /// Every path starts afresh at its next segment (a new panel of the sheet).
    pub(crate) fn lift_pens(&mut self) {
        for (_, _, path) in &mut self.paths {
            path.lift();
        }
    }

    /// The types drawn.
    pub(crate) fn kinds(&self) -> Vec<i32> {
        let mut k: Vec<i32> = self.paths.iter().map(|p| p.0).collect();
        k.sort_unstable();
        k.dedup();
        k
    }

    /// `<g>` per type (its colour once), a `<path>` per width class in it.
    pub(crate) fn write(mut self, out: &mut String) {
        self.paths.sort_by_key(|p| (super::style::order(p.0), p.1));
        let mut current: Option<i32> = None;
        for (kind, width, path) in &self.paths {
            if path.d.is_empty() {
                continue;
            }
            if current != Some(*kind) {
                if current.is_some() {
                    out.push_str("</g>");
                }
                let _ = write!(
                    out,
                    "<g class=\"type type-{kind}\" stroke=\"{}\">",
                    super::style::colour(*kind)
                );
                current = Some(*kind);
            }
            out.push_str("<path stroke-width=\"");
            push_tenths(out, *width);
            out.push_str("\" d=\"");
            out.push_str(&path.d);
            out.push_str("\"/>");
        }
        if current.is_some() {
            out.push_str("</g>");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_text() {
        let mut s = String::new();
        for v in [0, 5, 10, 123, -5, -120, 7] {
            push_tenths(&mut s, v);
            s.push(',');
        }
        assert_eq!(s, "0,0.5,1,12.3,-0.5,-12,0.7,");
        assert_eq!(tenths(1.26), 13);
        assert_eq!(tenths(f64::NAN), 0);
        assert_eq!(
            crate::util::text::escape_markup("<a href='x'>&\"\u{1b}"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;\u{FFFD}"
        );
    }

    #[test]
    fn chains_and_skips() {
        let mut p = PathData::default();
        p.segment(0, (0, 0), 1, (100, 0), false);
        p.segment(1, (100, 0), 2, (200, 0), false);
        // Less than half a pixel from the pen: left out when the point is inside a chain.
        p.segment(2, (200, 0), 3, (203, 0), true);
        p.segment(3, (203, 0), 4, (300, 0), false);
        p.segment(0, (0, 0), 5, (0, 100), false);
        assert_eq!(p.d, "M0 0l10 0 10 0 10 0M0 0l0 10");
        let mut p = PathData::default();
        p.segment(0, (100, 100), 1, (50, 50), false);
        p.segment(1, (50, 50), 2, (60, 0), false);
        assert_eq!(p.d, "M10 10l-5-5 1-5");
    }
}
