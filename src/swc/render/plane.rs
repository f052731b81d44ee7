//! A projection of the tree on a plane: each segment at its width, grouped by type, and the
//! soma as its shape (a circle, NeuroMorpho's 3-point cylinder, a contour, or cylinders).

use std::fmt::Write as _;

use super::canvas::{num, tenths, Pos, Strokes};
use super::style;
use crate::swc::parse::Morphology;
use crate::swc::parse::Point;

/// The thinnest line drawn, in pixels: thinner ones would not show.
pub(crate) const MIN_WIDTH: f64 = 0.5;

/// Which coordinates are horizontal and vertical (0 x, 1 y, 2 z).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Axes {
    pub(crate) u: usize,
    pub(crate) v: usize,
}

impl Axes {
    pub(crate) const XY: Axes = Axes { u: 0, v: 1 };
    pub(crate) const XZ: Axes = Axes { u: 0, v: 2 };
    pub(crate) const YZ: Axes = Axes { u: 1, v: 2 };
    pub(crate) const ZY: Axes = Axes { u: 2, v: 1 };

    /// `xy`, `zy`, ...: the horizontal axis first.
    pub(crate) fn label(self) -> String {
        let name = |a: usize| ["x", "y", "z"].get(a).copied().unwrap_or("?");
        format!("{}{}", name(self.u), name(self.v))
    }
}

fn coord(p: &Point, axis: usize) -> f64 {
    match axis {
        0 => p.x,
        1 => p.y,
        _ => p.z,
    }
}

fn finite(p: &Point) -> bool {
    p.x.is_finite() && p.y.is_finite() && p.z.is_finite()
}

/// What a drawing covers, in µm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Extent {
    pub(crate) umin: f64,
    pub(crate) umax: f64,
    pub(crate) vmin: f64,
    pub(crate) vmax: f64,
}

impl Extent {
    /// The horizontal size (µm), at least 1 so that a single point still has a scale.
    pub(crate) fn width(&self) -> f64 {
        finite_or((self.umax - self.umin).max(1.0), 1.0)
    }
    /// The vertical size (µm), at least 1.
    pub(crate) fn height(&self) -> f64 {
        finite_or((self.vmax - self.vmin).max(1.0), 1.0)
    }
}

/// `v`, or `fallback` when it is NaN or infinite (a span of ±1e308 overflows).
pub(crate) fn finite_or(v: f64, fallback: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        fallback
    }
}

/// The extent of every point with finite coordinates (soma points with their radius);
/// `None` when there is none.
pub(crate) fn extent(m: &Morphology, axes: Axes) -> Option<Extent> {
    let mut e: Option<Extent> = None;
    for p in m.points().iter().filter(|p| finite(p)) {
        let r = if p.is_soma() && p.radius.is_finite() {
            p.radius.abs()
        } else {
            0.0
        };
        let (u, v) = (coord(p, axes.u), coord(p, axes.v));
        let e = e.get_or_insert(Extent {
            umin: u,
            umax: u,
            vmin: v,
            vmax: v,
        });
        e.umin = e.umin.min(u - r);
        e.umax = e.umax.max(u + r);
        e.vmin = e.vmin.min(v - r);
        e.vmax = e.vmax.max(v + r);
    }
    e
}

/// Where a panel is drawn: its top left corner (pixels), what it covers, and its scale.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    pub(crate) left: f64,
    pub(crate) top: f64,
    pub(crate) extent: Extent,
    /// Pixels per µm.
    pub(crate) scale: f64,
    pub(crate) axes: Axes,
}

impl Frame {
    fn px(&self, p: &Point) -> (f64, f64) {
        let u = coord(p, self.axes.u);
        let v = coord(p, self.axes.v);
        // SVG's y grows downwards; the file's grows upwards.
        let x = self.left + (u - self.extent.umin) * self.scale;
        let y = self.top + (self.extent.vmax - v) * self.scale;
        (x, y)
    }

    fn pos(&self, p: &Point) -> Pos {
        let (x, y) = self.px(p);
        (tenths(x), tenths(y))
    }

    /// The panel's size in pixels.
    pub(crate) fn size(&self) -> (f64, f64) {
        (
            self.extent.width() * self.scale,
            self.extent.height() * self.scale,
        )
    }
}

/// Line widths: the segment's diameter, or one width for all.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Width {
    True,
    Fixed(f64),
}

/// A width class, in tenths of a pixel: lines under a pixel wide are one class (their width
/// hardly shows), wider ones come in steps of about 12% (two per quarter of the width), so
/// that a tree needs only a few paths per type and its branches stay long runs of the pen.
fn width_class(px: f64) -> i64 {
    if px.is_nan() || px <= 1.0 {
        return tenths(MIN_WIDTH.max(0.6));
    }
    let step = (px.ln() / 1.12f64.ln()).round().clamp(0.0, 80.0);
    tenths(1.12f64.powf(step)).max(10)
}

/// Draw the neurites into `strokes` and the soma into `soma` (SVG elements).
pub(crate) fn draw(
    m: &Morphology,
    frame: &Frame,
    width: Width,
    strokes: &mut Strokes,
    soma: &mut String,
) {
    // A new panel: no path continues from the last one's pen.
    strokes.lift_pens();
    let points = m.points();
    let segment = |strokes: &mut Strokes, i: usize| {
        let Some(q_index) = m.parent(i) else { return };
        let (Some(p), Some(q)) = (points.get(i), points.get(q_index)) else {
            return;
        };
        if p.is_soma() || !finite(p) || !finite(q) {
            return;
        }
        let class = match width {
            Width::Fixed(w) => tenths(w.max(0.1)),
            Width::True => {
                let d = p.radius.abs() + q.radius.abs();
                width_class(if d.is_finite() { d * frame.scale } else { 0.0 })
            }
        };
        // An interior point of a chain of one type may be left out when it adds less than
        // half a pixel.
        let may_skip = m.child_count(i) == 1
            && m.children(i)
                .next()
                .and_then(|c| points.get(c))
                .is_some_and(|c| c.kind == p.kind);
        if let Some(path) = strokes.path(p.kind, class) {
            path.segment(
                q_index as u32,
                frame.pos(q),
                i as u32,
                frame.pos(p),
                may_skip,
            );
        }
    };
    // Branch by branch, depth first from each root (and each point whose parent is missing),
    // so that a branch is one run of the pen whatever the order of the file's lines.
    let mut seen = vec![false; points.len()];
    let mut stack: Vec<usize> = Vec::new();
    for start in (0..points.len()).filter(|&i| m.parent(i).is_none()) {
        stack.push(start);
        while let Some(i) = stack.pop() {
            if let Some(flag) = seen.get_mut(i) {
                *flag = true;
            }
            segment(strokes, i);
            let before = stack.len();
            stack.extend(m.children(i));
            if let Some(added) = stack.get_mut(before..) {
                // The first child is drawn next: it continues the pen's line.
                added.reverse();
            }
        }
    }
    // Points no root leads to (a cycle): their segments, in file order.
    for i in (0..points.len()).filter(|&i| !seen.get(i).copied().unwrap_or(true)) {
        segment(strokes, i);
    }
    draw_soma(m, frame, soma);
}

/// The soma as its shape, in the soma's colour.
fn draw_soma(m: &Morphology, frame: &Frame, out: &mut String) {
    let points = m.points();
    let is_soma = |i: usize| points.get(i).is_some_and(|p| p.is_soma() && finite(p));
    let soma: Vec<usize> = (0..points.len()).filter(|&i| is_soma(i)).collect();
    if soma.is_empty() {
        return;
    }
    let soma_parent = |i: usize| m.parent(i).filter(|&q| is_soma(q));
    let soma_children = |i: usize| m.children(i).filter(|&c| is_soma(c));
    let radius_px = |p: &Point| {
        let r = if p.radius.is_finite() {
            p.radius.abs()
        } else {
            0.0
        };
        (r * frame.scale).max(1.0)
    };
    let circle = |out: &mut String, p: &Point| {
        let (x, y) = frame.px(p);
        let _ = write!(
            out,
            "<circle cx=\"{}\" cy=\"{}\" r=\"{}\"/>",
            num(x),
            num(y),
            num(radius_px(p))
        );
    };
    let _ = write!(
        out,
        "<g class=\"soma\" fill=\"{c}\" stroke=\"{c}\" stroke-linecap=\"round\">",
        c = style::colour(1)
    );
    let roots: Vec<usize> = soma
        .iter()
        .copied()
        .filter(|&s| soma_parent(s).is_none())
        .collect();
    let degree = |i: usize| soma_children(i).count() + usize::from(soma_parent(i).is_some());
    let shape = if soma.len() == 1 {
        Shape::Circle
    } else if soma.len() == 3
        && roots.len() == 1
        && roots
            .first()
            .is_some_and(|&r| soma_children(r).count() == 2)
    {
        Shape::ThreePoint
    } else if roots.len() == 1 && soma.len() >= 4 && soma.iter().all(|&s| degree(s) <= 2) {
        Shape::Chain
    } else {
        Shape::Cylinders
    };
    match shape {
        Shape::Circle => {
            for p in soma.iter().filter_map(|&s| points.get(s)) {
                circle(out, p);
            }
        }
        // NeuroMorpho's convention: a cylinder along y of radius r, as the first point and
        // two points r away; drawn as the circle of that radius, as NeuroM does.
        Shape::ThreePoint => {
            if let Some(p) = roots.first().and_then(|&r| points.get(r)) {
                circle(out, p);
            }
        }
        Shape::Chain | Shape::Cylinders => {
            // Walk the chain from its root; a chain whose ends meet is an outline.
            let mut chain = Vec::new();
            if shape == Shape::Chain {
                let mut at = roots.first().copied();
                while let Some(i) = at {
                    if chain.len() > soma.len() {
                        break;
                    }
                    chain.push(i);
                    at = soma_children(i).next();
                }
            }
            let longest = chain
                .windows(2)
                .filter_map(|w| Some(points.get(*w.first()?)?.distance(points.get(*w.get(1)?)?)))
                .fold(0.0f64, f64::max);
            let closed = match (chain.first(), chain.last()) {
                (Some(&a), Some(&b)) if chain.len() == soma.len() => points
                    .get(a)
                    .zip(points.get(b))
                    .is_some_and(|(a, b)| a.distance(b) <= longest),
                _ => false,
            };
            if closed {
                out.push_str("<path class=\"contour\" d=\"");
                for (n, p) in chain.iter().filter_map(|&i| points.get(i)).enumerate() {
                    let (x, y) = frame.px(p);
                    out.push(if n == 0 { 'M' } else { 'L' });
                    let _ = write!(out, "{} {}", num(x), num(y));
                }
                out.push_str("Z\"/>");
            } else {
                // A stack of cylinders: each soma segment at its diameter; lone points as circles.
                for &s in &soma {
                    let Some(p) = points.get(s) else { continue };
                    match soma_parent(s).and_then(|q| points.get(q)) {
                        Some(q) => {
                            let (x0, y0) = frame.px(q);
                            let (x1, y1) = frame.px(p);
                            let w = ((p.radius.abs() + q.radius.abs()) * frame.scale).max(2.0);
                            let w = if w.is_finite() { w } else { 2.0 };
                            let _ = write!(
                                out,
                                "<path stroke-width=\"{}\" d=\"M{} {}L{} {}\"/>",
                                num(w),
                                num(x0),
                                num(y0),
                                num(x1),
                                num(y1)
                            );
                        }
                        None if soma_children(s).next().is_none() => circle(out, p),
                        None => {}
                    }
                }
            }
        }
    }
    out.push_str("</g>");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Circle,
    ThreePoint,
    Chain,
    Cylinders,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_classes() {
        assert_eq!(width_class(0.1), 6);
        assert_eq!(width_class(0.99), 6);
        assert_eq!(width_class(f64::NAN), 6);
        for px in [1.3, 2.0, 3.7, 10.0, 42.0] {
            let w = width_class(px) as f64 / 10.0;
            assert!((w - px).abs() / px < 0.07, "{px} -> {w}");
        }
        assert!(width_class(1e300) > 0);
    }
}
