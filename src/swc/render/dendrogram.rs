//! The dendrogram: each neurite as a tree of vertical lines, path distance from its first
//! point upwards (NeuroM's `plot_dendrogram`, whose section heights are section lengths),
//! tips one column apart and a fork centred over its children (the TREES toolbox's
//! `dendrogram_tree`); a horizontal line joins a fork to its children. The soma is the
//! black line at the bottom that the neurites stand on.

use super::canvas::{tenths, Strokes};
use crate::swc::parse::{Morphology, Point};

/// A laid-out dendrogram: columns and heights, not yet scaled to pixels.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    /// Per point: its column (tips are whole columns), or NaN when not drawn.
    x: Vec<f64>,
    /// Per point: the path distance (µm) from its neurite's first point.
    dist: Vec<f64>,
    /// The first point of each neurite, in file order.
    stems: Vec<usize>,
    /// Columns used (tips, plus a gap between neurites).
    pub(crate) columns: f64,
    /// The largest path distance (µm).
    pub(crate) height: f64,
    /// Tips drawn.
    pub(crate) tips: usize,
}

fn is_drawn(p: &Point) -> bool {
    !p.is_soma()
}

/// A point's children that are neurite points (a soma point below a neurite is not part of
/// the neurite's tree).
fn neurite_children<'a>(m: &'a Morphology, i: usize) -> impl Iterator<Item = usize> + 'a {
    m.children(i)
        .filter(move |&c| m.points().get(c).is_some_and(is_drawn))
}

fn length(a: &Point, b: &Point) -> f64 {
    let d = a.distance(b);
    if d.is_finite() {
        d
    } else {
        0.0
    }
}

/// Lay the neurites out. Iterative throughout: a chain of a million points is no deeper a
/// recursion than a single point.
pub(crate) fn layout(m: &Morphology) -> Tree {
    let points = m.points();
    let n = points.len();
    let mut tree = Tree {
        x: vec![f64::NAN; n],
        dist: vec![0.0; n],
        ..Tree::default()
    };
    // A neurite starts at a neurite point whose parent is a soma point, a root, or missing.
    tree.stems = (0..n)
        .filter(|&i| {
            points.get(i).is_some_and(is_drawn)
                && m.parent(i)
                    .and_then(|q| points.get(q))
                    .is_none_or(|q| q.is_soma())
        })
        .collect();
    // Pre-order (children in file order): tips come left to right.
    let mut order: Vec<usize> = Vec::new();
    let mut column = 0.0f64;
    let mut stack: Vec<usize> = Vec::new();
    for (k, &stem) in tree.stems.iter().enumerate() {
        if k > 0 {
            column += 1.0; // a gap between neurites
        }
        stack.push(stem);
        while let Some(i) = stack.pop() {
            order.push(i);
            if i != stem {
                if let (Some(q), Some(p)) = (m.parent(i), points.get(i)) {
                    let base = tree.dist.get(q).copied().unwrap_or(0.0);
                    let d = base + points.get(q).map_or(0.0, |q| length(q, p));
                    if let Some(slot) = tree.dist.get_mut(i) {
                        *slot = d;
                    }
                }
            }
            let before = stack.len();
            stack.extend(neurite_children(m, i));
            if stack.len() == before {
                if let Some(slot) = tree.x.get_mut(i) {
                    *slot = column;
                }
                column += 1.0;
                tree.tips += 1;
            } else if let Some(added) = stack.get_mut(before..) {
                // Popped last first: reverse so that the first child is visited first.
                added.reverse();
            }
        }
    }
    tree.columns = column;
    // Reverse pre-order: every child is placed before its parent.
    for &i in order.iter().rev() {
        let mut kids = neurite_children(m, i);
        let Some(first) = kids.next() else { continue };
        let last = kids.last().unwrap_or(first);
        let x0 = tree.x.get(first).copied().unwrap_or(f64::NAN);
        let x1 = tree.x.get(last).copied().unwrap_or(f64::NAN);
        if let Some(slot) = tree.x.get_mut(i) {
            *slot = (x0 + x1) / 2.0;
        }
    }
    tree.height = order
        .iter()
        .filter_map(|&i| tree.dist.get(i))
        .fold(0.0f64, |a, &b| a.max(b));
    tree
}

/// Where the dendrogram goes on the picture.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place {
    pub(crate) left: f64,
    /// The bottom of the drawing (path distance 0), in pixels.
    pub(crate) bottom: f64,
    /// Pixels per column.
    pub(crate) column: f64,
    /// Pixels per µm of path distance.
    pub(crate) scale: f64,
    /// Line width, tenths of a pixel.
    pub(crate) width: i64,
}

/// Draw the tree: per type one path of vertical runs and fork lines. Returns the span (left
/// and right, in pixels) of the soma line under the neurites that leave the soma, if any.
pub(crate) fn draw(
    m: &Morphology,
    tree: &Tree,
    at: &Place,
    strokes: &mut Strokes,
) -> Option<(f64, f64)> {
    let points = m.points();
    let px = |col: f64| tenths(at.left + (col + 0.5) * at.column);
    let py = |d: f64| tenths(at.bottom - d * at.scale);
    let kind = |i: usize| points.get(i).map_or(0, |p| p.kind);
    let x_of = |i: usize| tree.x.get(i).copied().unwrap_or(f64::NAN);
    let d_of = |i: usize| tree.dist.get(i).copied().unwrap_or(0.0);
    // Sections: a stem, or a child of a fork, to the next fork or tip. `from` is where the
    // section's line starts (the fork's height, or 0).
    let mut stack: Vec<(usize, f64)> = tree.stems.iter().rev().map(|&s| (s, 0.0)).collect();
    while let Some((start, from)) = stack.pop() {
        let x = px(x_of(start));
        let mut run_kind = kind(start);
        let mut run_from = from;
        let mut at_point = start;
        loop {
            let mut kids = neurite_children(m, at_point);
            let next = kids.next();
            let more = kids.next().is_some();
            match next {
                Some(c) if !more => {
                    // A chain: a type change ends the run at the parent's height.
                    if kind(c) != run_kind {
                        if let Some(path) = strokes.path(run_kind, at.width) {
                            path.vertical(x, py(run_from), py(d_of(at_point)));
                        }
                        run_kind = kind(c);
                        run_from = d_of(at_point);
                    }
                    at_point = c;
                }
                _ => break,
            }
        }
        let end = d_of(at_point);
        if let Some(path) = strokes.path(run_kind, at.width) {
            path.vertical(x, py(run_from), py(end));
        }
        let kids: Vec<usize> = neurite_children(m, at_point).collect();
        if let (Some(&first), Some(&last)) = (kids.first(), kids.last()) {
            if let Some(path) = strokes.path(kind(at_point), at.width) {
                path.horizontal(px(x_of(first)), px(x_of(last)), py(end));
            }
            for &c in kids.iter().rev() {
                stack.push((c, end));
            }
        }
    }
    // The soma: under every neurite that leaves a soma point.
    let on_soma: Vec<f64> = tree
        .stems
        .iter()
        .filter(|&&s| {
            m.parent(s)
                .and_then(|q| points.get(q))
                .is_some_and(|q| q.is_soma())
        })
        .map(|&s| x_of(s))
        .collect();
    let lo = on_soma.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = on_soma.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo.is_finite() && hi.is_finite()).then(|| {
        (
            at.left + (lo + 0.5) * at.column - at.column.min(4.0),
            at.left + (hi + 0.5) * at.column + at.column.min(4.0),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tips_in_columns_forks_centred() {
        // soma; a stem (2) forking at 3 into 4 and 5; 5 forks into 6 and 7; a second stem 8.
        let swc = b"1 1 0 0 0 5 -1\n2 3 0 10 0 1 1\n3 3 0 20 0 1 2\n4 3 -5 20 0 1 3\n\
                    5 3 5 20 0 1 3\n6 3 5 30 0 1 5\n7 3 8 24 0 1 5\n8 2 0 -10 0 1 1\n";
        let m = Morphology::from_bytes(swc).unwrap();
        let t = layout(&m);
        assert_eq!(t.stems, [1, 7]);
        assert_eq!(t.tips, 4);
        // Tips 4, 6, 7 in columns 0, 1, 2; the gap; stem 8's tip in column 4.
        assert_eq!(t.x[3], 0.0);
        assert_eq!(t.x[5], 1.0);
        assert_eq!(t.x[6], 2.0);
        assert_eq!(t.x[4], 1.5);
        assert_eq!(t.x[2], 0.75);
        assert_eq!(t.x[7], 4.0);
        assert_eq!(t.columns, 5.0);
        // Path distance from the neurite's first point (the soma segment is not counted).
        assert_eq!(t.dist[1], 0.0);
        assert_eq!(t.dist[2], 10.0);
        assert_eq!(t.dist[5], 25.0);
        assert_eq!(t.dist[6], 20.0);
        assert_eq!(t.height, 25.0);
    }
}
