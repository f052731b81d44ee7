//! NeuroM's view of MorphIO's tree: neurites (one per root section, in order), sections in
//! pre-order (which is the order of MorphIO's ids), a section's points, a neurite's points
//! (its first point, then each section's points but the first), and the soma.

use super::{numpy, repeats};
use crate::swc::morphio::{SomaKind, Tree, TreePoint, TreeSection};

pub(crate) struct View<'a> {
    tree: &'a Tree,
    /// Each neurite's points and their repeats, made once for the checks that need them.
    neurite_sets: std::cell::OnceCell<Vec<NeuritePoints>>,
    /// Children of section `i`: `children[child_start[i]..child_start[i + 1]]`, in order.
    child_start: Vec<u32>,
    children: Vec<u32>,
    /// The root sections, in order; a neurite's sections are the ids from its root to the
    /// next root (MorphIO numbers sections depth first).
    roots: Vec<u32>,
    /// The most faults a check keeps.
    keep: usize,
}

/// A neurite's points, as NeuroM's `neurite.points` lists them.
pub(crate) struct NeuritePoints {
    /// Their coordinates.
    pub(crate) xyz: Vec<[f32; 3]>,
    /// Per section, in order: where its points start in `xyz`, and its id.
    starts: Vec<(u32, u32)>,
    /// `(first, later)` for each point equal to an earlier one, in the order of the later.
    pub(crate) repeats: Vec<(u32, u32)>,
    /// Whether every coordinate is finite.
    pub(crate) finite: bool,
}

impl<'a> View<'a> {
    pub(crate) fn new(tree: &'a Tree, keep: usize) -> View<'a> {
        let n = tree.sections.len();
        let mut child_start = vec![0u32; n + 1];
        for s in &tree.sections {
            if let Some(c) = child_start.get_mut(s.parent as usize + 1) {
                *c += 1;
            }
        }
        let mut total = 0u32;
        for c in child_start.iter_mut() {
            total += *c;
            *c = total;
        }
        let mut next = child_start.clone();
        let mut children = vec![0u32; total as usize];
        let mut roots = Vec::new();
        for (i, s) in tree.sections.iter().enumerate() {
            if s.is_root() {
                roots.push(i as u32);
            } else if let Some(at) = next.get_mut(s.parent as usize) {
                if let Some(slot) = children.get_mut(*at as usize) {
                    *slot = i as u32;
                }
                *at += 1;
            }
        }
        View {
            tree,
            neurite_sets: std::cell::OnceCell::new(),
            child_start,
            children,
            roots,
            keep,
        }
    }

    pub(crate) fn keep(&self) -> usize {
        self.keep
    }

    pub(crate) fn soma_kind(&self) -> SomaKind {
        self.tree.soma_kind
    }

    pub(crate) fn soma(&self) -> &'a [TreePoint] {
        &self.tree.soma
    }

    /// `morph.soma.center`: the first soma point (`None` without a soma).
    pub(crate) fn soma_center(&self) -> Option<[f32; 3]> {
        match self.tree.soma_kind {
            SomaKind::Undefined => None,
            _ => self.tree.soma.first().map(|p| p.xyz),
        }
    }

    /// Why NeuroM's `Morphology` constructor fails on this soma, if it does: its 3-point
    /// soma class asserts that the three radii are close.
    pub(crate) fn soma_load_error(&self) -> Option<&'static str> {
        if self.tree.soma_kind != SomaKind::ThreePoint {
            return None;
        }
        match self.tree.soma.as_slice() {
            [a, b, c] if numpy::isclose(a.r, b.r) && numpy::isclose(a.r, c.r) => None,
            _ => Some("AssertionError: All radii must be the same"),
        }
    }

    pub(crate) fn section_count(&self) -> usize {
        self.tree.sections.len()
    }

    pub(crate) fn section(&self, id: usize) -> Option<&'a TreeSection> {
        self.tree.sections.get(id)
    }

    /// A section's points (its first is a copy of the fork's point, unless the section's
    /// first sample is already there).
    pub(crate) fn points(&self, id: usize) -> &'a [TreePoint] {
        self.section(id)
            .and_then(|s| self.tree.points.get(s.start as usize..s.end as usize))
            .unwrap_or(&[])
    }

    pub(crate) fn children(&self, id: usize) -> &[u32] {
        match (self.child_start.get(id), self.child_start.get(id + 1)) {
            (Some(&a), Some(&b)) => self.children.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The neurites: the ids of each one's sections, root first, in pre-order.
    pub(crate) fn neurites(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        let total = self.tree.sections.len();
        // Only the roots are borrowed (the view itself is invariant in its lifetime).
        let roots = &self.roots;
        roots.iter().enumerate().map(move |(k, &r)| {
            let end = roots.get(k + 1).map_or(total, |&e| e as usize);
            r as usize..end
        })
    }

    /// A neurite's type: its root section's.
    pub(crate) fn neurite_kind(&self, sections: &std::ops::Range<usize>) -> i32 {
        self.section(sections.start).map_or(0, |s| s.kind)
    }

    /// `neurite.points`: the root's first point, then each section's points but its first.
    pub(crate) fn neurite_points(
        &self,
        sections: std::ops::Range<usize>,
    ) -> impl Iterator<Item = (usize, &'a TreePoint)> + '_ {
        let first = self
            .points(sections.start)
            .first()
            .map(|p| (sections.start, p));
        first
            .into_iter()
            .chain(sections.flat_map(move |s| self.points(s).iter().skip(1).map(move |p| (s, p))))
    }

    /// Every neurite's points (`neurite.points`) with their repeats, in the order of
    /// [`View::neurites`].
    pub(crate) fn neurite_sets(&self) -> &[NeuritePoints] {
        self.neurite_sets.get_or_init(|| {
            self.neurites()
                .map(|sections| {
                    let root = sections.start;
                    let size: usize = sections.clone().map(|s| self.points(s).len()).sum();
                    let mut xyz = Vec::with_capacity(size);
                    let mut starts = Vec::with_capacity(sections.len());
                    for s in sections {
                        // The root's points, then each other section's but its first.
                        let skip = usize::from(s != root);
                        starts.push((xyz.len() as u32, s as u32));
                        let points = self.points(s).get(skip..).unwrap_or(&[]);
                        xyz.extend(points.iter().map(|p| p.xyz));
                    }
                    NeuritePoints {
                        repeats: repeats::repeats(&xyz),
                        finite: xyz.iter().flatten().all(|c| c.is_finite()),
                        xyz,
                        starts,
                    }
                })
                .collect()
        })
    }

    /// Point `k` of a neurite's points, with its section.
    pub(crate) fn neurite_point(
        &self,
        set: &NeuritePoints,
        k: usize,
    ) -> Option<(usize, &'a TreePoint)> {
        let at = set.starts.partition_point(|&(o, _)| o as usize <= k);
        let &(offset, s) = set.starts.get(at.checked_sub(1)?)?;
        let skip = usize::from(at > 1);
        let index = k.checked_sub(offset as usize)? + skip;
        Some((s as usize, self.points(s as usize).get(index)?))
    }

    /// The line that names a section: its first point that is not a copy of the fork's.
    pub(crate) fn section_line(&self, id: usize) -> u32 {
        let points = self.points(id);
        let copy = self.section(id).is_some_and(|s| !s.is_root())
            && points.len() > 1
            && match (points.first(), self.parent_last(id)) {
                (Some(first), Some(fork)) => first.line == fork.line,
                _ => false,
            };
        let own = if copy { points.get(1) } else { points.first() };
        own.map_or(0, |p| p.line)
    }

    fn parent_last(&self, id: usize) -> Option<&'a TreePoint> {
        let parent = self.section(id)?.parent as usize;
        self.points(parent).last()
    }
}

/// `morphmath.segment_area` of two soma points, in NumPy's arithmetic: `math.pi * (r0 + r1)`
/// and `math.sqrt(...)` meet float32 values, so both become float32.
fn segment_area(p0: &TreePoint, p1: &TreePoint) -> f32 {
    let h2 = numpy::dot(numpy::sub(p0.xyz, p1.xyz), numpy::sub(p0.xyz, p1.xyz));
    let dr = p0.r - p1.r;
    let root = f64::from(dr * dr + h2).sqrt() as f32;
    std::f32::consts::PI * (p0.r + p1.r) * root
}

/// NeuroM's radius of a soma of cylinders: the radius of a sphere of the cylinders' area
/// (Python's `sum` of float32 areas, then `math.sqrt`).
pub(crate) fn cylinders_radius(soma: &[TreePoint]) -> f64 {
    let area = soma
        .windows(2)
        .filter_map(|w| match w {
            [a, b] => Some(segment_area(a, b)),
            _ => None,
        })
        .fold(0.0f32, |s, a| s + a);
    f64::from(area / (4.0 * std::f32::consts::PI)).sqrt()
}

/// NeuroM's radius of NeuroMorpho's 3-point soma: `2 pi r h` as a sphere's area, `h` the
/// distance between the second and third points.
pub(crate) fn three_point_radius(soma: &[TreePoint]) -> f64 {
    let (Some(first), Some(b), Some(c)) = (soma.first(), soma.get(1), soma.get(2)) else {
        return 0.0;
    };
    let h = numpy::norm(numpy::sub(b.xyz, c.xyz));
    let area = 2.0 * std::f32::consts::PI * first.r * h;
    f64::from(area / (4.0 * std::f32::consts::PI)).sqrt()
}
