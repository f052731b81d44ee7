//! Measures with NeuroM's definitions (stated on [`Measures`]).
use super::parse::{Morphology, Point, ROOT};

/// An axis-aligned box: the smallest and largest x, y, z.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct BoundingBox {
    /// Smallest x, y, z.
    pub min: [f64; 3],
    /// Largest x, y, z.
    pub max: [f64; 3],
}

impl BoundingBox {
    fn around(p: &Point) -> BoundingBox {
        BoundingBox {
            min: p.xyz(),
            max: p.xyz(),
        }
    }

    fn add(&mut self, p: &Point) {
        for ((lo, hi), v) in self.min.iter_mut().zip(self.max.iter_mut()).zip(p.xyz()) {
            *lo = lo.min(v);
            *hi = hi.max(v);
        }
    }

    /// The size along x, y and z.
    pub fn size(&self) -> [f64; 3] {
        let [a, b, c] = self.min;
        let [x, y, z] = self.max;
        [x - a, y - b, z - c]
    }
}

fn extend(bbox: &mut Option<BoundingBox>, p: &Point) {
    match bbox {
        Some(b) => b.add(p),
        None => *bbox = Some(BoundingBox::around(p)),
    }
}

/// The measures of a morphology, with NeuroM's definitions.
///
///
/// MorphIO splits an SWC tree into a soma (the type-1 points) and neurites made of
/// sections (unbranched runs of points). What follows is how MorphIO 3.5's SWC reader builds
/// them, and so what NeuroM 4 counts; every measure here is a local rule on the points, so
/// it needs no traversal and gives NeuroM's number without building sections:
///
/// - A **neurite** (a *stem*, NeuroM's `number_of_neurites`) starts at each non-soma point
///   whose parent is a soma point (whichever soma point: with a 3-point soma MorphIO warns
///   when it is not the first, and attaches it anyway), and at each non-soma **root**
///   (parent `-1`, a neurite not attached to the soma) that has at least one child. A lone
///   non-soma root with no child makes no section and is not counted.
/// - A section ends at a point that does not have exactly one child, so a **bifurcation**
///   (`number_of_bifurcations`: sections with exactly two children) is a neurite point with
///   exactly two children, and a **tip** (`number_of_leaves`: sections without children) is a
///   neurite point without children (the lone roots above excepted). A point with three or
///   more children is neither (NeuroM's `number_of_forking_points` would count it; it is
///   [`Measures::multifurcations`] here).
/// - A **unifurcation** (a type change at a point with a single child) is a section with one
///   child when MorphIO is told to allow it and an error otherwise; either way it changes
///   none of these counts, and the length is the same.
/// - The **total length** (`total_length`) is the sum of the section lengths, and a section
///   starts with a copy of its parent's last point, so it is the sum over neurite points of
///   the distance to their parent, except for points whose parent is a soma point (a neurite
///   starts at its first point: the segment from the soma is not counted) and roots.
/// - The soma is the same whatever its shape (1 point, NeuroMorpho's 3 points, a stack of
///   cylinders or a contour): it adds no length, no bifurcation and no tip, and its points
///   are only neurite starts' parents.
///
/// MorphIO refuses some files that these rules still measure: a soma that forks below its
/// root (`soma-bifurcation`, e.g. `dCH-cobalt.CNG.swc`), several soma roots, a soma point with
/// a neurite parent, a type change without a fork, types outside 1..=19. The rules above
/// still apply to them (soma = the type-1 points, stems = the neurite points leaving them):
/// NeuroM has no number to compare with; ours is what NeuroM would give had MorphIO read the
/// file as is. For a file with errors (duplicate ids, missing parents, cycles, NaN) the
/// numbers are computed the same way but mean little; [`check_bytes`](crate::swc::check_bytes) leaves
/// them out.
///
/// MorphIO stores points as 32-bit floats and NeuroM sums lengths in 32 bits; we read and
/// sum 64-bit values, so total lengths agree to about 1e-6 relative (measured: at most
/// 6.2e-7 on the fixtures), not to the last bit.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Measures {
    /// Data lines.
    pub points: usize,
    /// Points whose parent is `-1`.
    pub roots: usize,
    /// Points of type 1.
    pub soma_points: usize,
    /// Neurites: NeuroM's `number_of_neurites`.
    pub stems: usize,
    /// Neurite points with exactly two children: NeuroM's `number_of_bifurcations`.
    pub bifurcations: usize,
    /// Neurite points with three children or more (not bifurcations, not tips).
    pub multifurcations: usize,
    /// Neurite points without children: NeuroM's `number_of_leaves`.
    pub tips: usize,
    /// The length of all neurites, soma excluded: NeuroM's `total_length`.
    pub total_length: f64,
    /// The box around every point, soma included (a NaN coordinate is skipped, unless every
    /// point has NaN there).
    pub bounding_box: BoundingBox,
    /// The box around the neurites' points, soma excluded: NeuroM's `bounding_box`
    /// (`None` without neurites).
    pub neurite_bounding_box: Option<BoundingBox>,
}

impl Morphology {
    /// Compute the measures in one pass (see the definitions on [`Measures`]).
    pub fn measures(&self) -> Measures {
        let points = self.points();
        let first = points.first().map_or(
            BoundingBox {
                min: [0.0; 3],
                max: [0.0; 3],
            },
            BoundingBox::around,
        );
        let mut m = Measures {
            points: points.len(),
            roots: 0,
            soma_points: 0,
            stems: 0,
            bifurcations: 0,
            multifurcations: 0,
            tips: 0,
            total_length: 0.0,
            bounding_box: first,
            neurite_bounding_box: None,
        };
        for (i, (p, &parent)) in points.iter().zip(self.parent_indices()).enumerate() {
            m.bounding_box.add(p);
            if parent == ROOT {
                m.roots += 1;
            }
            if p.is_soma() {
                m.soma_points += 1;
                continue;
            }
            let children = self.child_count(i);
            match self.parent(i).and_then(|q| points.get(q)) {
                Some(pp) if pp.is_soma() => m.stems += 1,
                Some(pp) => m.total_length += p.distance(pp),
                // A root (or a point whose parent is missing): a neurite if it has children.
                None if children > 0 => m.stems += 1,
                None => continue,
            }
            extend(&mut m.neurite_bounding_box, p);
            match children {
                0 => m.tips += 1,
                1 => {}
                2 => m.bifurcations += 1,
                _ => m.multifurcations += 1,
            }
        }
        m
    }
}
