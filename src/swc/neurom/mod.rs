//! NeuroM's morphology checks, exactly: every function of `neurom.check.morphology_checks`
//! (NeuroM 4.0.6) under its own name, with NeuroM's defaults, run on the sections MorphIO
//! builds ([`MorphioMorphology`]), with NeuroM's verdict and the points or sections at fault
//! as lines of the file.
//!
//! The rules are NeuroM's, read from its source and written again here, down to its
//! arithmetic (MorphIO's points are 32-bit floats, and NumPy 2 computes with them in 32 bits;
//! see `numpy.rs`). Where NeuroM raises on a file (a check of dangling branches without a
//! soma, a flatness check whose eigenvalues do not converge, ...), the verdict is `None` and
//! the message names NeuroM's exception.

mod back_tracking;
mod numpy;
mod repeats;
mod shape;
mod sizes;
mod spread;
mod topology;
mod view;

use std::fmt;

use super::morphio::{MorphioMorphology, SomaKind};
use view::View;

/// One of NeuroM's morphology checks (`neurom.check.morphology_checks`), by its function's
/// name ([`NeuromCheck::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum NeuromCheck {
    /// `has_all_nonzero_neurite_radii(threshold=0.0)`: every point of every section has a
    /// radius above `threshold` (a fork's point counts in each section that holds it).
    HasAllNonzeroNeuriteRadii,
    /// `has_all_nonzero_section_lengths(threshold=0.0)`: every section is longer than
    /// `threshold`.
    HasAllNonzeroSectionLengths,
    /// `has_all_nonzero_segment_lengths(threshold=0.0)`: every segment (two consecutive
    /// points of a section) is longer than `threshold`.
    HasAllNonzeroSegmentLengths,
    /// `has_apical_dendrite(min_number=1)`: at least `min_number` neurites of type 4.
    HasApicalDendrite,
    /// `has_axon()`: a neurite of type 2.
    HasAxon,
    /// `has_basal_dendrite(min_number=1)`: at least `min_number` neurites of type 3.
    HasBasalDendrite,
    /// `has_multifurcation()`: despite its name, passes when no section has more than three
    /// children.
    HasMultifurcation,
    /// `has_no_back_tracking()`: no segment comes back into the cylinder of an earlier
    /// segment of its section.
    HasNoBackTracking,
    /// `has_no_dangling_branch()`: no dendrite starts more than 12 µm beyond the soma's
    /// farthest point, nor an axon that far from the soma and from every dendrite point.
    HasNoDanglingBranch,
    /// `has_no_fat_ends(multiple_of_mean=2.0, final_point_count=5)`: no leaf section whose
    /// last radius is `multiple_of_mean` times the mean of its last `final_point_count`.
    HasNoFatEnds,
    /// `has_no_flat_neurites(tol=0.1, method='ratio')`: no neurite whose two smallest
    /// principal extents have a ratio below `tol` (`method='tolerance'`: no extent below).
    HasNoFlatNeurites,
    /// `has_no_jumps(max_distance=30.0, axis='z')`: no segment (but each neurite's first)
    /// moves more than `max_distance` along `axis`.
    HasNoJumps,
    /// `has_no_narrow_neurite_section(neurite_filter, radius_threshold=0.05,
    /// considered_section_min_length=50)`: no dendrite section longer than the minimum whose
    /// mean radius is below `radius_threshold` (NeuroM has no default filter: dendrites, as
    /// `morph_check` uses).
    HasNoNarrowNeuriteSection,
    /// `has_no_narrow_start(frac=0.9)`: no neurite whose first radius is below `frac` times
    /// its second.
    HasNoNarrowStart,
    /// `has_no_overlapping_point(tolerance=None)`: no two points of a neurite at the same
    /// place (within `tolerance`).
    HasNoOverlappingPoint,
    /// `has_no_root_node_jumps(radius_multiplier=2)`: every neurite starts within
    /// `radius_multiplier` soma radii of the soma's center.
    HasNoRootNodeJumps,
    /// `has_no_single_children()`: no section with exactly one child section.
    HasNoSingleChildren,
    /// `has_nonzero_soma_radius(threshold=0.0)`: the soma's radius is above `threshold`.
    HasNonzeroSomaRadius,
    /// `has_unifurcation()`: despite its name, passes when no section has exactly one child.
    HasUnifurcation,
}

impl NeuromCheck {
    /// Every check, in the order of their names.
    pub const ALL: &'static [NeuromCheck] = &[
        NeuromCheck::HasAllNonzeroNeuriteRadii,
        NeuromCheck::HasAllNonzeroSectionLengths,
        NeuromCheck::HasAllNonzeroSegmentLengths,
        NeuromCheck::HasApicalDendrite,
        NeuromCheck::HasAxon,
        NeuromCheck::HasBasalDendrite,
        NeuromCheck::HasMultifurcation,
        NeuromCheck::HasNoBackTracking,
        NeuromCheck::HasNoDanglingBranch,
        NeuromCheck::HasNoFatEnds,
        NeuromCheck::HasNoFlatNeurites,
        NeuromCheck::HasNoJumps,
        NeuromCheck::HasNoNarrowNeuriteSection,
        NeuromCheck::HasNoNarrowStart,
        NeuromCheck::HasNoOverlappingPoint,
        NeuromCheck::HasNoRootNodeJumps,
        NeuromCheck::HasNoSingleChildren,
        NeuromCheck::HasNonzeroSomaRadius,
        NeuromCheck::HasUnifurcation,
    ];

    /// The name of NeuroM's function (`has_axon`, `has_no_fat_ends`, ...).
    pub fn name(self) -> &'static str {
        use NeuromCheck as C;
        match self {
            C::HasAllNonzeroNeuriteRadii => "has_all_nonzero_neurite_radii",
            C::HasAllNonzeroSectionLengths => "has_all_nonzero_section_lengths",
            C::HasAllNonzeroSegmentLengths => "has_all_nonzero_segment_lengths",
            C::HasApicalDendrite => "has_apical_dendrite",
            C::HasAxon => "has_axon",
            C::HasBasalDendrite => "has_basal_dendrite",
            C::HasMultifurcation => "has_multifurcation",
            C::HasNoBackTracking => "has_no_back_tracking",
            C::HasNoDanglingBranch => "has_no_dangling_branch",
            C::HasNoFatEnds => "has_no_fat_ends",
            C::HasNoFlatNeurites => "has_no_flat_neurites",
            C::HasNoJumps => "has_no_jumps",
            C::HasNoNarrowNeuriteSection => "has_no_narrow_neurite_section",
            C::HasNoNarrowStart => "has_no_narrow_start",
            C::HasNoOverlappingPoint => "has_no_overlapping_point",
            C::HasNoRootNodeJumps => "has_no_root_node_jumps",
            C::HasNoSingleChildren => "has_no_single_children",
            C::HasNonzeroSomaRadius => "has_nonzero_soma_radius",
            C::HasUnifurcation => "has_unifurcation",
        }
    }

    /// The check named `name` (the inverse of [`NeuromCheck::name`]).
    pub fn from_name(name: &str) -> Option<NeuromCheck> {
        NeuromCheck::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// The names of this check's parameters, as NeuroM's function names them.
    pub fn parameters(self) -> &'static [&'static str] {
        use NeuromCheck as C;
        match self {
            C::HasAllNonzeroNeuriteRadii
            | C::HasAllNonzeroSectionLengths
            | C::HasAllNonzeroSegmentLengths
            | C::HasNonzeroSomaRadius => &["threshold"],
            C::HasApicalDendrite | C::HasBasalDendrite => &["min_number"],
            C::HasNoFlatNeurites => &["tol", "method"],
            C::HasNoJumps => &["max_distance", "axis"],
            C::HasNoRootNodeJumps => &["radius_multiplier"],
            C::HasNoFatEnds => &["multiple_of_mean", "final_point_count"],
            C::HasNoNarrowStart => &["frac"],
            C::HasNoNarrowNeuriteSection => &[
                "neurite_filter",
                "radius_threshold",
                "considered_section_min_length",
            ],
            C::HasNoOverlappingPoint => &["tolerance"],
            C::HasAxon
            | C::HasMultifurcation
            | C::HasNoBackTracking
            | C::HasNoDanglingBranch
            | C::HasNoSingleChildren
            | C::HasUnifurcation => &[],
        }
    }
}

impl fmt::Display for NeuromCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for NeuromCheck {
    type Err = NeuromOptionError;

    /// A check by its name; an unknown name is an error that names the closest ones.
    fn from_str(name: &str) -> Result<NeuromCheck, NeuromOptionError> {
        let name = name.trim();
        NeuromCheck::from_name(name).ok_or_else(|| {
            let names: Vec<String> = NeuromCheck::ALL
                .iter()
                .map(|c| c.name().to_string())
                .collect();
            let close = crate::util::suggest::closest(name, &names);
            let hint = if close.is_empty() {
                format!("the checks are {}", names.join(", "))
            } else {
                format!("did you mean {}?", close.join(", "))
            };
            NeuromOptionError(format!(
                "unknown NeuroM check '{}' ({hint})",
                crate::util::text::escape(name)
            ))
        })
    }
}

/// How `has_no_flat_neurites` decides (NeuroM's `method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlatMethod {
    /// `'ratio'`: the smallest principal extent over the second is below `tol`.
    Ratio,
    /// `'tolerance'`: a principal extent is below `tol`.
    Tolerance,
}

/// Which neurites `has_no_narrow_neurite_section` looks at (NeuroM's `neurite_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeuriteFilter {
    /// `neurom.core.types.dendrite_filter`: basal and apical dendrites.
    Dendrites,
    /// `neurom.core.types.axon_filter`: axons.
    Axons,
    /// Every neurite.
    All,
}

/// The checks to run and their parameters. The defaults are those of NeuroM's functions;
/// [`NeuromOptions::morph_check`] is the preset of NeuroM's `morph_check` application.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NeuromOptions {
    /// The checks run, in this order (default: all of [`NeuromCheck::ALL`]).
    pub checks: Vec<NeuromCheck>,
    /// `has_all_nonzero_neurite_radii(threshold)`.
    pub neurite_radius_threshold: f64,
    /// `has_all_nonzero_section_lengths(threshold)`.
    pub section_length_threshold: f64,
    /// `has_all_nonzero_segment_lengths(threshold)`.
    pub segment_length_threshold: f64,
    /// `has_nonzero_soma_radius(threshold)`.
    pub soma_radius_threshold: f64,
    /// `has_apical_dendrite(min_number)`.
    pub apical_min_number: usize,
    /// `has_basal_dendrite(min_number)`.
    pub basal_min_number: usize,
    /// `has_no_flat_neurites(tol)`.
    pub flat_tol: f64,
    /// `has_no_flat_neurites(method)`.
    pub flat_method: FlatMethod,
    /// `has_no_jumps(max_distance)`.
    pub jump_max_distance: f64,
    /// `has_no_jumps(axis)`: 0 for x, 1 for y, 2 for z.
    pub jump_axis: usize,
    /// `has_no_root_node_jumps(radius_multiplier)`.
    pub root_node_radius_multiplier: f64,
    /// `has_no_fat_ends(multiple_of_mean)`.
    pub fat_end_multiple_of_mean: f64,
    /// `has_no_fat_ends(final_point_count)`.
    pub fat_end_final_point_count: usize,
    /// `has_no_narrow_start(frac)`.
    pub narrow_start_frac: f64,
    /// `has_no_narrow_neurite_section(neurite_filter)`.
    pub narrow_section_filter: NeuriteFilter,
    /// `has_no_narrow_neurite_section(radius_threshold)`.
    pub narrow_section_radius_threshold: f64,
    /// `has_no_narrow_neurite_section(considered_section_min_length)`.
    pub narrow_section_min_length: f64,
    /// `has_no_overlapping_point(tolerance)` (NeuroM's `None` is 0).
    pub overlap_tolerance: f64,
    /// The most faults kept per check (all are counted, and all their lines listed).
    /// Default: [`FAULTS_PER_CHECK`].
    pub max_faults: usize,
}

impl Default for NeuromOptions {
    fn default() -> NeuromOptions {
        NeuromOptions {
            checks: NeuromCheck::ALL.to_vec(),
            neurite_radius_threshold: 0.0,
            section_length_threshold: 0.0,
            segment_length_threshold: 0.0,
            soma_radius_threshold: 0.0,
            apical_min_number: 1,
            basal_min_number: 1,
            flat_tol: 0.1,
            flat_method: FlatMethod::Ratio,
            jump_max_distance: 30.0,
            jump_axis: 2,
            root_node_radius_multiplier: 2.0,
            fat_end_multiple_of_mean: 2.0,
            fat_end_final_point_count: 5,
            narrow_start_frac: 0.9,
            narrow_section_filter: NeuriteFilter::Dendrites,
            narrow_section_radius_threshold: 0.05,
            narrow_section_min_length: 50.0,
            overlap_tolerance: 0.0,
            max_faults: FAULTS_PER_CHECK,
        }
    }
}

/// Why a parameter could not be set (see [`NeuromOptions::set`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeuromOptionError(String);

impl fmt::Display for NeuromOptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NeuromOptionError {}

impl NeuromOptions {
    /// NeuroM's defaults, every check.
    pub fn new() -> NeuromOptions {
        NeuromOptions::default()
    }

    /// The preset of NeuroM's `morph_check` application (`neurom/apps/config/morph_check.yaml`):
    /// its seven checks (`has_basal_dendrite`, `has_axon`, `has_apical_dendrite`,
    /// `has_all_nonzero_segment_lengths`, `has_all_nonzero_section_lengths`,
    /// `has_all_nonzero_neurite_radii`, `has_nonzero_soma_radius`) with its thresholds
    /// (segments and sections 0.01, radii 0.007, soma 0.0; flatness 0.1, ratio).
    pub fn morph_check() -> NeuromOptions {
        use NeuromCheck as C;
        NeuromOptions {
            checks: vec![
                C::HasBasalDendrite,
                C::HasAxon,
                C::HasApicalDendrite,
                C::HasAllNonzeroSegmentLengths,
                C::HasAllNonzeroSectionLengths,
                C::HasAllNonzeroNeuriteRadii,
                C::HasNonzeroSomaRadius,
            ],
            neurite_radius_threshold: 0.007,
            section_length_threshold: 0.01,
            segment_length_threshold: 0.01,
            soma_radius_threshold: 0.0,
            flat_tol: 0.1,
            flat_method: FlatMethod::Ratio,
            ..NeuromOptions::default()
        }
    }

    /// Set [`NeuromOptions::max_faults`].
    pub fn max_faults(mut self, n: usize) -> NeuromOptions {
        self.max_faults = n;
        self
    }

    /// Run only these checks, in this order.
    pub fn checks(mut self, checks: impl IntoIterator<Item = NeuromCheck>) -> NeuromOptions {
        self.checks = checks.into_iter().collect();
        self
    }

    /// Set one parameter by NeuroM's names: `set("has_no_jumps", "max_distance", "20")`.
    /// Values are numbers, except `axis` (`x`, `y` or `z`), `method` (`ratio` or
    /// `tolerance`) and `neurite_filter` (`dendrite`, `axon` or `all`).
    pub fn set(
        mut self,
        check: NeuromCheck,
        parameter: &str,
        value: &str,
    ) -> Result<NeuromOptions, NeuromOptionError> {
        use NeuromCheck as C;
        let bad = |why: &str| {
            NeuromOptionError(format!(
                "{check}.{parameter} = '{}': {why}",
                crate::util::text::escape(value)
            ))
        };
        let number = || -> Result<f64, NeuromOptionError> {
            value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad("expected a number"))
        };
        let count = || -> Result<usize, NeuromOptionError> {
            value
                .trim()
                .parse::<usize>()
                .map_err(|_| bad("expected a whole number (0 or more)"))
        };
        match (check, parameter) {
            (C::HasAllNonzeroNeuriteRadii, "threshold") => {
                self.neurite_radius_threshold = number()?
            }
            (C::HasAllNonzeroSectionLengths, "threshold") => {
                self.section_length_threshold = number()?
            }
            (C::HasAllNonzeroSegmentLengths, "threshold") => {
                self.segment_length_threshold = number()?
            }
            (C::HasNonzeroSomaRadius, "threshold") => self.soma_radius_threshold = number()?,
            (C::HasApicalDendrite, "min_number") => self.apical_min_number = count()?,
            (C::HasBasalDendrite, "min_number") => self.basal_min_number = count()?,
            (C::HasNoFlatNeurites, "tol") => self.flat_tol = number()?,
            (C::HasNoFlatNeurites, "method") => {
                self.flat_method = match value.trim() {
                    "ratio" => FlatMethod::Ratio,
                    "tolerance" => FlatMethod::Tolerance,
                    _ => return Err(bad("expected ratio or tolerance")),
                }
            }
            (C::HasNoJumps, "max_distance") => self.jump_max_distance = number()?,
            (C::HasNoJumps, "axis") => {
                self.jump_axis = match value.trim().to_ascii_lowercase().as_str() {
                    "x" => 0,
                    "y" => 1,
                    "z" => 2,
                    _ => return Err(bad("expected x, y or z")),
                }
            }
            (C::HasNoRootNodeJumps, "radius_multiplier") => {
                self.root_node_radius_multiplier = number()?
            }
            (C::HasNoFatEnds, "multiple_of_mean") => self.fat_end_multiple_of_mean = number()?,
            (C::HasNoFatEnds, "final_point_count") => self.fat_end_final_point_count = count()?,
            (C::HasNoNarrowStart, "frac") => self.narrow_start_frac = number()?,
            (C::HasNoNarrowNeuriteSection, "neurite_filter") => {
                self.narrow_section_filter = match value.trim() {
                    "dendrite" | "dendrites" => NeuriteFilter::Dendrites,
                    "axon" | "axons" => NeuriteFilter::Axons,
                    "all" => NeuriteFilter::All,
                    _ => return Err(bad("expected dendrite, axon or all")),
                }
            }
            (C::HasNoNarrowNeuriteSection, "radius_threshold") => {
                self.narrow_section_radius_threshold = number()?
            }
            (C::HasNoNarrowNeuriteSection, "considered_section_min_length") => {
                self.narrow_section_min_length = number()?
            }
            (C::HasNoOverlappingPoint, "tolerance") => self.overlap_tolerance = number()?,
            _ => {
                let known = check.parameters();
                return Err(NeuromOptionError(if known.is_empty() {
                    format!("{check} has no parameter")
                } else {
                    format!(
                        "{check} has no parameter '{}' (it has {})",
                        crate::util::text::escape(parameter),
                        known.join(", ")
                    )
                }));
            }
        }
        Ok(self)
    }
}

/// A point or a section at fault, as NeuroM reports it (its `CheckResult.info`), with the
/// line of the file it comes from.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Fault {
    /// NeuroM's section id (MorphIO's: sections numbered depth first, neurites in order).
    pub section: usize,
    /// For an overlap, the other point's section.
    pub other_section: Option<usize>,
    /// The index NeuroM reports: a point of the section (radii), a segment (lengths), the
    /// back-tracking segment (NeuroM's `i`, which it uses as a point index).
    pub index: Option<usize>,
    /// For a back-track, the earlier segment (NeuroM's `j`).
    pub other_index: Option<usize>,
    /// The points NeuroM reports (x, y, z as MorphIO stores them).
    pub points: Vec<[f32; 3]>,
    /// The line of the file at fault: the point's, or the section's first point's.
    pub line: usize,
    /// For an overlap, the other point's line.
    pub other_line: Option<usize>,
}

impl Fault {
    fn section(section: usize, line: u32) -> Fault {
        Fault {
            section,
            other_section: None,
            index: None,
            other_index: None,
            points: Vec::new(),
            line: line as usize,
            other_line: None,
        }
    }
}

/// The most faults kept per check by default (all are counted, and all their lines listed).
pub const FAULTS_PER_CHECK: usize = 1000;

/// One check's verdict.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NeuromResult {
    /// Which check.
    pub check: NeuromCheck,
    /// NeuroM's verdict: `None` when NeuroM raises on the file (or cannot load it), or when
    /// its verdict depends on rounding noise (see [`NeuromResult::message`]).
    pub pass: Option<bool>,
    /// The length of NeuroM's `info` (the faults), 0 for checks that give none.
    pub count: usize,
    /// The first [`NeuromOptions::max_faults`] faults, in NeuroM's order.
    pub faults: Vec<Fault>,
    /// Every line at fault, sorted, each once.
    pub lines: Vec<usize>,
    /// Why `pass` is `None`: NeuroM's exception (`IndexError: index 1 is out of bounds for
    /// axis 0 with size 1`), or why the verdict is not NeuroM's to give.
    pub message: Option<String>,
    /// How many faults to keep.
    keep: usize,
}

impl NeuromResult {
    fn new(check: NeuromCheck) -> NeuromResult {
        NeuromResult {
            check,
            pass: None,
            count: 0,
            faults: Vec::new(),
            lines: Vec::new(),
            message: None,
            keep: FAULTS_PER_CHECK,
        }
    }

    /// An empty result that keeps at most `keep` faults.
    fn keeping(check: NeuromCheck, keep: usize) -> NeuromResult {
        NeuromResult {
            keep,
            ..NeuromResult::new(check)
        }
    }

    fn raised(check: NeuromCheck, message: impl Into<String>) -> NeuromResult {
        NeuromResult {
            message: Some(message.into()),
            ..NeuromResult::new(check)
        }
    }

    fn verdict(check: NeuromCheck, pass: bool) -> NeuromResult {
        NeuromResult {
            pass: Some(pass),
            ..NeuromResult::new(check)
        }
    }

    /// A verdict from faults: passes when there is none.
    fn from_faults(
        check: NeuromCheck,
        keep: usize,
        faults: impl IntoIterator<Item = Fault>,
    ) -> NeuromResult {
        let mut r = NeuromResult::keeping(check, keep);
        for f in faults {
            r.add(f);
        }
        r.finish()
    }

    fn add(&mut self, f: Fault) {
        self.count += 1;
        self.lines.push(f.line);
        if let Some(l) = f.other_line {
            self.lines.push(l);
        }
        if self.faults.len() < self.keep {
            self.faults.push(f);
        }
    }

    fn finish(mut self) -> NeuromResult {
        self.pass = Some(self.count == 0);
        self.lines.sort_unstable();
        self.lines.dedup();
        self
    }
}

/// The verdicts of the NeuroM checks asked for, in the order asked.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NeuromReport {
    /// Why NeuroM cannot load the file, if it cannot (every verdict is then `None`).
    pub load_error: Option<String>,
    /// One result per check, in the order of [`NeuromOptions::checks`].
    pub results: Vec<NeuromResult>,
}

impl NeuromReport {
    /// NeuroM cannot load the file: every check asked for is `None`, for this reason.
    fn unloadable(options: &NeuromOptions, message: String) -> NeuromReport {
        NeuromReport {
            results: options
                .checks
                .iter()
                .map(|&c| NeuromResult::raised(c, message.clone()))
                .collect(),
            load_error: Some(message),
        }
    }

    /// The result of one check, if it was run.
    pub fn get(&self, check: NeuromCheck) -> Option<&NeuromResult> {
        self.results.iter().find(|r| r.check == check)
    }

    /// The checks that fail (verdict `Some(false)`).
    pub fn failed(&self) -> impl Iterator<Item = NeuromCheck> + '_ {
        self.results
            .iter()
            .filter(|r| r.pass == Some(false))
            .map(|r| r.check)
    }

    /// The checks without a verdict (NeuroM raises, or cannot load the file).
    pub fn undecided(&self) -> impl Iterator<Item = NeuromCheck> + '_ {
        self.results
            .iter()
            .filter(|r| r.pass.is_none())
            .map(|r| r.check)
    }
}

impl serde::Serialize for NeuromReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = serializer.serialize_map(Some(self.results.len()))?;
        for r in &self.results {
            m.serialize_entry(r.check.name(), &ResultJson(r))?;
        }
        m.end()
    }
}

/// One check in JSON: `{"pass": ..., "lines": [...]}`, and `"message"` when `pass` is null.
struct ResultJson<'a>(&'a NeuromResult);

impl serde::Serialize for ResultJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let r = self.0;
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("pass", &r.pass)?;
        m.serialize_entry("lines", &r.lines)?;
        if let Some(message) = &r.message {
            m.serialize_entry("message", message)?;
        }
        m.end()
    }
}

impl MorphioMorphology {
    /// Run NeuroM's checks on the file as MorphIO reads it. When MorphIO refuses the file,
    /// NeuroM cannot load it: every verdict is `None`.
    ///
    /// ```
    /// use neuromorpho::swc::{MorphioMorphology, NeuromCheck, NeuromOptions};
    ///
    /// let swc = b"1 1 0 0 0 5 -1\n2 2 0 5 0 1 1\n3 2 0 9 0 1 2\n4 2 0 9 0 1 2\n";
    /// let m = MorphioMorphology::from_bytes(swc);
    /// let report = m.neurom_checks(&NeuromOptions::new());
    /// let axon = report.get(NeuromCheck::HasAxon).unwrap();
    /// assert_eq!(axon.pass, Some(true));
    /// // The axon forks at its first point: its first section is that one point (line 2),
    /// // of length 0 (NeuroM 4.0.6 reports section 0).
    /// let lengths = report.get(NeuromCheck::HasAllNonzeroSectionLengths).unwrap();
    /// assert_eq!((lengths.pass, lengths.lines.as_slice()), (Some(false), &[2][..]));
    /// ```
    pub fn neurom_checks(&self, options: &NeuromOptions) -> NeuromReport {
        let Some(tree) = self.tree() else {
            let why = self
                .verdict()
                .refusal
                .as_ref()
                .map_or_else(String::new, |r| format!(": {r}"));
            return NeuromReport::unloadable(
                options,
                format!("NeuroM cannot load the file: MorphIO refuses it{why}"),
            );
        };
        let view = View::new(tree, options.max_faults);
        if let Some(why) = view.soma_load_error() {
            return NeuromReport::unloadable(
                options,
                format!("NeuroM cannot load the file: {why}"),
            );
        }
        let results = options
            .checks
            .iter()
            .map(|&check| run(&view, check, options))
            .collect();
        NeuromReport {
            load_error: None,
            results,
        }
    }
}

fn run(v: &View<'_>, check: NeuromCheck, o: &NeuromOptions) -> NeuromResult {
    use NeuromCheck as C;
    match check {
        C::HasAxon => topology::has_neurites(v, check, 2, 1),
        C::HasApicalDendrite => topology::has_neurites(v, check, 4, o.apical_min_number),
        C::HasBasalDendrite => topology::has_neurites(v, check, 3, o.basal_min_number),
        C::HasMultifurcation => topology::children_count(v, check, |n| n > 3, true),
        C::HasUnifurcation => topology::children_count(v, check, |n| n == 1, true),
        C::HasNoSingleChildren => topology::children_count(v, check, |n| n == 1, false),
        C::HasAllNonzeroNeuriteRadii => sizes::neurite_radii(v, o.neurite_radius_threshold),
        C::HasAllNonzeroSegmentLengths => sizes::segment_lengths(v, o.segment_length_threshold),
        C::HasAllNonzeroSectionLengths => sizes::section_lengths(v, o.section_length_threshold),
        C::HasNonzeroSomaRadius => sizes::soma_radius(v, o.soma_radius_threshold),
        C::HasNoFatEnds => {
            sizes::fat_ends(v, o.fat_end_multiple_of_mean, o.fat_end_final_point_count)
        }
        C::HasNoNarrowStart => sizes::narrow_start(v, o.narrow_start_frac),
        C::HasNoNarrowNeuriteSection => sizes::narrow_sections(
            v,
            o.narrow_section_filter,
            o.narrow_section_radius_threshold,
            o.narrow_section_min_length,
        ),
        C::HasNoJumps => spread::jumps(v, o.jump_max_distance, o.jump_axis),
        C::HasNoRootNodeJumps => spread::root_node_jumps(v, o.root_node_radius_multiplier),
        C::HasNoDanglingBranch => spread::dangling(v),
        C::HasNoBackTracking => back_tracking::back_tracking(v),
        C::HasNoOverlappingPoint => shape::overlapping(v, o.overlap_tolerance),
        C::HasNoFlatNeurites => shape::flat(v, o.flat_tol, o.flat_method),
    }
}

/// NeuroM's soma radius: a 32-bit float (one point), a 64-bit one (cylinders, computed by
/// Python's `math.sqrt`), or the integer 0 (no soma).
#[derive(Debug, Clone, Copy)]
pub(crate) enum SomaRadius {
    F32(f32),
    F64(f64),
    Zero,
}

impl SomaRadius {
    fn of(kind: SomaKind, v: &View<'_>) -> SomaRadius {
        match kind {
            SomaKind::Undefined => SomaRadius::Zero,
            SomaKind::SinglePoint => SomaRadius::F32(v.soma().first().map_or(0.0, |p| p.r)),
            SomaKind::ThreePoint => SomaRadius::F64(view::three_point_radius(v.soma())),
            SomaKind::Cylinders => SomaRadius::F64(view::cylinders_radius(v.soma())),
        }
    }
}
