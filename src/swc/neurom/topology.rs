//! The checks on the tree's shape alone: neurite types and children counts.

use super::view::View;
use super::{Fault, NeuromCheck, NeuromResult};

/// `has_axon`, `has_apical_dendrite`, `has_basal_dendrite`: at least `min_number` neurites
/// of type `kind` (a neurite's type is its first section's).
pub(super) fn has_neurites(
    v: &View<'_>,
    check: NeuromCheck,
    kind: i32,
    min_number: usize,
) -> NeuromResult {
    let n = v.neurites().filter(|s| v.neurite_kind(s) == kind).count();
    NeuromResult::verdict(check, n >= min_number)
}

/// `has_multifurcation` (more than 3 children), `has_unifurcation` (exactly 1) and
/// `has_no_single_children` (exactly 1, reported without its point): sections by their
/// number of child sections; the fault is the section's last point (the fork).
pub(super) fn children_count(
    v: &View<'_>,
    check: NeuromCheck,
    bad: impl Fn(usize) -> bool,
    with_point: bool,
) -> NeuromResult {
    let faults = (0..v.section_count())
        .filter(|&s| bad(v.children(s).len()))
        .filter_map(|s| {
            let last = v.points(s).last()?;
            let mut f = Fault::section(s, last.line);
            if with_point {
                f.points.push(last.xyz);
            }
            Some(f)
        });
    NeuromResult::from_faults(check, v.keep(), faults)
}
