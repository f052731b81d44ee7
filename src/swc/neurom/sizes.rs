//! The checks on radii and lengths.

use super::numpy;
use super::view::View;
use super::{Fault, NeuriteFilter, NeuromCheck, NeuromResult, SomaRadius};
use crate::swc::morphio::TreePoint;

/// `morphmath.section_length`: the segments' lengths (float32 norms) summed as NumPy sums.
pub(super) fn section_length(points: &[TreePoint]) -> f32 {
    let lengths: Vec<f32> = points
        .windows(2)
        .filter_map(|w| match w {
            [a, b] => Some(numpy::row_norm(numpy::sub(b.xyz, a.xyz))),
            _ => None,
        })
        .collect();
    numpy::sum(&lengths)
}

pub(super) fn neurite_radii(v: &View<'_>, threshold: f64) -> NeuromResult {
    let threshold = threshold as f32;
    let faults = (0..v.section_count()).flat_map(|s| {
        v.points(s)
            .iter()
            .enumerate()
            .filter(move |(_, p)| p.r <= threshold)
            .map(move |(i, p)| Fault {
                index: Some(i),
                ..Fault::section(s, p.line)
            })
    });
    NeuromResult::from_faults(NeuromCheck::HasAllNonzeroNeuriteRadii, v.keep(), faults)
}

pub(super) fn segment_lengths(v: &View<'_>, threshold: f64) -> NeuromResult {
    let threshold = threshold as f32;
    let faults = (0..v.section_count()).flat_map(|s| {
        v.points(s)
            .windows(2)
            .enumerate()
            .filter_map(move |(i, w)| match w {
                [a, b] if numpy::norm(numpy::sub(a.xyz, b.xyz)) <= threshold => Some(Fault {
                    index: Some(i),
                    ..Fault::section(s, b.line)
                }),
                _ => None,
            })
    });
    NeuromResult::from_faults(NeuromCheck::HasAllNonzeroSegmentLengths, v.keep(), faults)
}

pub(super) fn section_lengths(v: &View<'_>, threshold: f64) -> NeuromResult {
    let threshold = threshold as f32;
    let faults = (0..v.section_count())
        .filter(|&s| section_length(v.points(s)) <= threshold)
        .map(|s| Fault::section(s, v.section_line(s)));
    NeuromResult::from_faults(NeuromCheck::HasAllNonzeroSectionLengths, v.keep(), faults)
}

pub(super) fn soma_radius(v: &View<'_>, threshold: f64) -> NeuromResult {
    let pass = match SomaRadius::of(v.soma_kind(), v) {
        SomaRadius::F32(r) => r > threshold as f32,
        SomaRadius::F64(r) => r > threshold,
        SomaRadius::Zero => 0.0 > threshold,
    };
    NeuromResult::verdict(NeuromCheck::HasNonzeroSomaRadius, pass)
}

/// `has_no_fat_ends`: each leaf section's last radius against `multiple_of_mean` times the
/// mean of its last `final_point_count` radii (its first point left out; an empty mean is
/// NaN, which never compares).
pub(super) fn fat_ends(
    v: &View<'_>,
    multiple_of_mean: f64,
    final_point_count: usize,
) -> NeuromResult {
    let multiple = multiple_of_mean as f32;
    let faults = (0..v.section_count())
        .filter(|&s| v.children(s).is_empty())
        .filter_map(|s| {
            let points = v.points(s);
            let last = points.last()?;
            let tail = points.get(1..).unwrap_or(&[]);
            // Python's `[-0:]` is the whole list.
            let from = match final_point_count {
                0 => 0,
                k => tail.len().saturating_sub(k),
            };
            let radii: Vec<f32> = tail
                .get(from..)
                .unwrap_or(&[])
                .iter()
                .map(|p| p.r)
                .collect();
            let mean = numpy::mean(&radii);
            (mean * multiple <= last.r).then(|| Fault {
                points: vec![last.xyz],
                ..Fault::section(s, last.line)
            })
        });
    NeuromResult::from_faults(NeuromCheck::HasNoFatEnds, v.keep(), faults)
}

/// `has_no_narrow_start`: each neurite's first radius against `frac` times its second;
/// NeuroM raises on a neurite whose first section has a single point.
pub(super) fn narrow_start(v: &View<'_>, frac: f64) -> NeuromResult {
    let check = NeuromCheck::HasNoNarrowStart;
    let frac = frac as f32;
    let mut faults = Vec::new();
    for sections in v.neurites() {
        let root = sections.start;
        let points = v.points(root);
        let (Some(first), Some(second)) = (points.first(), points.get(1)) else {
            return NeuromResult::raised(
                check,
                format!(
                    "IndexError: index 1 is out of bounds for axis 0 with size {} (a neurite whose first section has one point, line {})",
                    points.len(),
                    points.first().map_or(0, |p| p.line)
                ),
            );
        };
        if first.r < frac * second.r {
            faults.push(Fault {
                points: vec![second.xyz],
                ..Fault::section(root, second.line)
            });
        }
    }
    NeuromResult::from_faults(check, v.keep(), faults)
}

/// `has_no_narrow_neurite_section`: sections of the filtered neurites, longer than the
/// minimum, whose mean radius is below the threshold; the fault is their second point.
pub(super) fn narrow_sections(
    v: &View<'_>,
    filter: NeuriteFilter,
    radius_threshold: f64,
    min_length: f64,
) -> NeuromResult {
    let (radius_threshold, min_length) = (radius_threshold as f32, min_length as f32);
    let kept = |kind: i32| match filter {
        NeuriteFilter::Dendrites => kind == 3 || kind == 4,
        NeuriteFilter::Axons => kind == 2,
        NeuriteFilter::All => true,
    };
    let mut faults = Vec::new();
    for sections in v.neurites() {
        if !kept(v.neurite_kind(&sections)) {
            continue;
        }
        for s in sections {
            let points = v.points(s);
            // `sec.length > considered_section_min_length` (a NaN length is not).
            let long = section_length(points) > min_length;
            if !long {
                continue;
            }
            let radii: Vec<f32> = points.iter().map(|p| p.r).collect();
            if numpy::mean(&radii) < radius_threshold {
                if let Some(second) = points.get(1) {
                    faults.push(Fault {
                        points: vec![second.xyz],
                        ..Fault::section(s, second.line)
                    });
                }
            }
        }
    }
    NeuromResult::from_faults(NeuromCheck::HasNoNarrowNeuriteSection, v.keep(), faults)
}
