//! The checks on where points are: jumps along an axis, neurites that start far from the
//! soma, dangling branches.

use super::numpy;
use super::view::View;
use super::{Fault, NeuromCheck, NeuromResult, SomaRadius};

/// `has_no_jumps`: each segment of a neurite but its first (the first of its first section
/// with two points or more) against `max_distance` along `axis`.
pub(super) fn jumps(v: &View<'_>, max_distance: f64, axis: usize) -> NeuromResult {
    let max_distance = max_distance as f32;
    let mut faults = Vec::new();
    for sections in v.neurites() {
        let mut first = true;
        for s in sections {
            for w in v.points(s).windows(2) {
                let [a, b] = w else { continue };
                if std::mem::take(&mut first) {
                    continue;
                }
                let (Some(p), Some(q)) = (a.xyz.get(axis), b.xyz.get(axis)) else {
                    continue;
                };
                if max_distance < (p - q).abs() {
                    faults.push(Fault {
                        points: vec![a.xyz, b.xyz],
                        ..Fault::section(s, b.line)
                    });
                }
            }
        }
    }
    NeuromResult::from_faults(NeuromCheck::HasNoJumps, v.keep(), faults)
}

/// `has_no_root_node_jumps`: each neurite's first point within `radius_multiplier` soma
/// radii of the soma's center. Without a soma NeuroM subtracts `None`, and raises.
pub(super) fn root_node_jumps(v: &View<'_>, radius_multiplier: f64) -> NeuromResult {
    let check = NeuromCheck::HasNoRootNodeJumps;
    // The limit is compared as a float32 (a Python float meeting a float32 distance).
    let limit = match SomaRadius::of(v.soma_kind(), v) {
        SomaRadius::F32(r) => radius_multiplier as f32 * r,
        SomaRadius::F64(r) => (radius_multiplier * r) as f32,
        SomaRadius::Zero => 0.0,
    };
    let mut faults = Vec::new();
    for sections in v.neurites() {
        let Some(center) = v.soma_center() else {
            return NeuromResult::raised(
                check,
                "TypeError: unsupported operand type(s) for -: 'float' and 'NoneType' (there is no soma, so no soma center)",
            );
        };
        let Some(p0) = v.points(sections.start).first() else {
            continue;
        };
        if numpy::norm(numpy::sub(p0.xyz, center)) > limit {
            faults.push(Fault {
                points: vec![p0.xyz],
                ..Fault::section(sections.start, p0.line)
            });
        }
    }
    NeuromResult::from_faults(check, v.keep(), faults)
}

/// `has_no_dangling_branch`: a neurite whose first point is more than 12 µm beyond the
/// soma's farthest point from its centroid dangles if it is a dendrite, and, if it is an
/// axon, when it is also away from every dendrite point (by twice its radius plus 2).
pub(super) fn dangling(v: &View<'_>) -> NeuromResult {
    let check = NeuromCheck::HasNoDanglingBranch;
    let soma = v.soma();
    if soma.is_empty() {
        return NeuromResult::raised(
            check,
            "NeuroMError: Can't check for dangling neurites if there is no soma",
        );
    }
    let center = numpy::mean_rows(soma.iter().map(|p| p.xyz));
    let soma_max_radius = soma
        .iter()
        .map(|p| numpy::row_norm(numpy::sub(p.xyz, center)))
        .fold(
            f32::NEG_INFINITY,
            |m, r| if r > m || r.is_nan() { r } else { m },
        );
    let dendrite_points: Vec<_> = v
        .neurites()
        .filter(|s| v.neurite_kind(s) != 2)
        .flat_map(|s| v.neurite_points(s).map(|(_, p)| *p))
        .collect();
    let mut faults = Vec::new();
    for sections in v.neurites() {
        let Some(start) = v.points(sections.start).first() else {
            continue;
        };
        let away = numpy::norm(numpy::sub(start.xyz, center)) - soma_max_radius;
        if away <= 12.0 {
            continue;
        }
        let dangles = if v.neurite_kind(&sections) != 2 {
            true
        } else if dendrite_points.is_empty() {
            return NeuromResult::raised(
                check,
                "IndexError: too many indices for array: array is 1-dimensional, but 2 were indexed (an axon far from the soma, and no dendrite)",
            );
        } else {
            dendrite_points
                .iter()
                .all(|d| numpy::row_norm(numpy::sub(d.xyz, start.xyz)) >= 2.0 * d.r + 2.0)
        };
        if dangles {
            faults.push(Fault {
                points: vec![start.xyz],
                ..Fault::section(sections.start, start.line)
            });
        }
    }
    NeuromResult::from_faults(check, v.keep(), faults)
}
