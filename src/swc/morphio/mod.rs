//! MorphIO's verdict on an SWC file, exactly: whether MorphIO 3.5's reader (default options,
//! the one NeuroM 4 uses) loads it, its reason in its words when it does not, the warnings it
//! prints, and the sections it builds (what NeuroM's checks see).
//!
//! The rules are MorphIO's own, read from its source (`readers/morphologySWC.cpp`,
//! `mut/section.cpp`, `shared_utils.cpp` of the 3.5.0 release) and written again here; the
//! verdicts were compared file by file with MorphIO's on its and NeuroM's test suites
//! (`fixtures/morphio-neurom/` pins them on this crate's fixtures).

mod build;
mod tokenize;

use std::fmt;

use super::parse::{Morphology, Point};

/// MorphIO's parent id of a root sample (`SWC_ROOT`): a parent id of -1 is read as this.
pub(crate) const SWC_ROOT: u32 = 0xFFFF_FFFD;

/// One sample as MorphIO holds it: 32-bit ids and 32-bit floats.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) id: u32,
    pub(crate) kind: i32,
    pub(crate) point: [f32; 3],
    pub(crate) diameter: f32,
    pub(crate) parent: u32,
    /// The line of the file (LF, CRLF and CR each end a line, as this crate's reader counts).
    pub(crate) line: u32,
    /// The line MorphIO names (it counts LFs only).
    pub(crate) morphio_line: u32,
}

/// Why MorphIO refuses a file (the variants of its error messages in the SWC reader).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RefusalKind {
    /// `ERROR_LINE_NON_PARSABLE`: a field does not start with a digit, a sign or a dot.
    Unparsable,
    /// `EARLY_END_OF_FILE`: the file ends inside a sample.
    EarlyEnd,
    /// `toInt` at the first byte of the file, where it notices that nothing was read.
    NotAnInteger,
    /// `ERROR_NEGATIVE_ID`: an id below 0, or a parent below -1.
    NegativeId,
    IdTooLarge,
    ParentIdTooLarge,
    NegativeType,
    /// `ERROR_SELF_PARENT`.
    SelfParent,
    /// `ERROR_UNSUPPORTED_SECTION_TYPE`: a type from 20.
    UnsupportedType(i32),
    /// `ERROR_REPEATED_ID`.
    RepeatedId {
        id: u32,
        first_line: usize,
    },
    /// `ERROR_MISSING_PARENT`.
    MissingParent {
        id: u32,
        parent: u32,
    },
    /// `ERROR_SOMA_WITH_NEURITE_PARENT`.
    SomaWithNeuriteParent,
    /// `ERROR_SOMA_BIFURCATION`: the lines of the soma children.
    SomaBifurcation {
        children: Vec<usize>,
    },
    /// `ERROR_MULTIPLE_SOMATA`: the lines of every soma sample.
    MultipleSomata {
        lines: Vec<usize>,
    },
    /// "Section type changed without a bifucation" (sic).
    TypeChange,
    /// `SectionBuilderError`: a soma section below a neurite (unreachable from an SWC file,
    /// which MorphIO refuses earlier; kept so that the builder never invents a section).
    SomaSection,
    /// An id of 4294967293, MorphIO's marker for "no parent": it loops on the roots.
    RootMarkerId,
}

/// A refusal while reading: its kind and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    kind: RefusalKind,
    line: Option<usize>,
    morphio_line: usize,
}

impl Refusal {
    pub(crate) fn new(kind: RefusalKind, line: Option<usize>, morphio_line: usize) -> Refusal {
        Refusal {
            kind,
            line,
            morphio_line,
        }
    }

    fn to_public(&self) -> MorphioRefusal {
        use RefusalKind as K;
        let (class, message, lines) = match &self.kind {
            K::Unparsable => ("RawDataError", "Unable to parse this line".to_string(), vec![]),
            K::EarlyEnd => (
                "RawDataError",
                "The end of the file was reached before parsing finshed".to_string(),
                vec![],
            ),
            K::NotAnInteger => ("RawDataError", "could not parse integer".to_string(), vec![]),
            K::NegativeId => (
                "RawDataError",
                "The ID assigned to this line is negative".to_string(),
                vec![],
            ),
            K::IdTooLarge => (
                "RawDataError",
                format!("SWC does not support ids larger than{}", u32::MAX),
                vec![],
            ),
            K::ParentIdTooLarge => (
                "RawDataError",
                format!("SWC does not support parent ids larger than{}", u32::MAX),
                vec![],
            ),
            K::NegativeType => (
                "RawDataError",
                "SWC does not support negative section `type`".to_string(),
                vec![],
            ),
            K::SelfParent => ("RawDataError", "Parent ID can not be itself".to_string(), vec![]),
            K::UnsupportedType(t) => (
                "RawDataError",
                format!("Unsupported section type: {t}"),
                vec![],
            ),
            K::RepeatedId { id, first_line } => (
                "RawDataError",
                format!("Repeated ID: {id} ID already appears here:"),
                vec![*first_line],
            ),
            K::MissingParent { id, parent } => (
                "MissingParentError",
                // MorphIO prints the parent as a signed 32-bit int.
                format!(
                    "Sample id: {id} refers to non-existant parent ID: {}",
                    *parent as i32
                ),
                vec![],
            ),
            K::SomaWithNeuriteParent => (
                "SomaError",
                "Found a soma point with a neurite as parent".to_string(),
                vec![],
            ),
            K::SomaBifurcation { children } => (
                "SomaError",
                "Found soma bifurcation The following children have been found:".to_string(),
                children.clone(),
            ),
            K::MultipleSomata { lines } => (
                "SomaError",
                "Multiple somata found:".to_string(),
                lines.iter().skip(1).copied().collect(),
            ),
            K::TypeChange => (
                "RawDataError",
                format!(
                    "Section type changed without a bifucation at line: {}, consider using UNIFURCATED_SECTION_CHANGE option",
                    self.morphio_line
                ),
                vec![],
            ),
            K::SomaSection => (
                "SectionBuilderError",
                "Cannot create section with type soma".to_string(),
                vec![],
            ),
            K::RootMarkerId => (
                "none",
                format!(
                    "MorphIO never returns: id {SWC_ROOT} is its marker for a root, and it loops on the roots"
                ),
                vec![],
            ),
        };
        let line = match self.kind {
            // These messages name no line; the line is still the one at fault.
            K::NotAnInteger => None,
            _ => self.line,
        };
        MorphioRefusal {
            class,
            message,
            line,
            other_lines: lines,
        }
    }
}

/// Why MorphIO refuses a file, in its words.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MorphioRefusal {
    /// The Python class of MorphIO's exception: `RawDataError`, `SomaError` or
    /// `MissingParentError` (`none` for an id on which MorphIO never returns).
    pub class: &'static str,
    /// MorphIO's message, without its colour codes, the file's path and its location links
    /// (`Found a soma point with a neurite as parent`, `Unsupported section type: 20`, ...).
    pub message: String,
    /// The line at fault (MorphIO names it too, except for ids, parent ids or types out of
    /// range, and for a self parent, where it names the id in place of the line).
    pub line: Option<usize>,
    /// Other lines MorphIO names: the first use of a repeated id, the soma children of a
    /// soma bifurcation, the other soma points of several somata.
    pub other_lines: Vec<usize>,
}

impl fmt::Display for MorphioRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// A warning MorphIO prints while reading an SWC file (the class name of its Python warning
/// is [`MorphioWarningKind::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MorphioWarningKind {
    /// `ZeroDiameter`: a diameter below 1e-6 (a radius below 5e-7, zero or negative).
    ZeroDiameter,
    /// `DisconnectedNeurite`: a root (parent -1) that is not a soma point.
    DisconnectedNeurite,
    /// `NoSomaFound`: no point of type 1.
    NoSomaFound,
    /// `SomaNonConform`: a soma of ids 1, 2, 3 (parents -1, 1, 1) that is not NeuroMorpho's
    /// cylinder (two coordinates shared, the third at plus and minus the radius).
    SomaNonConform,
    /// `WrongRootPoint`: with that 3-point soma, a neurite attached to point 2 or 3.
    WrongRootPoint,
}

impl MorphioWarningKind {
    /// The class name of MorphIO's warning (`ZeroDiameter`, ...).
    pub fn name(self) -> &'static str {
        match self {
            MorphioWarningKind::ZeroDiameter => "ZeroDiameter",
            MorphioWarningKind::DisconnectedNeurite => "DisconnectedNeurite",
            MorphioWarningKind::NoSomaFound => "NoSomaFound",
            MorphioWarningKind::SomaNonConform => "SomaNonConform",
            MorphioWarningKind::WrongRootPoint => "WrongRootPoint",
        }
    }
}

impl fmt::Display for MorphioWarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One kind of warning, as often as MorphIO prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MorphioWarning {
    /// Which warning.
    pub kind: MorphioWarningKind,
    /// The line of its first occurrence (none for `NoSomaFound` and `SomaNonConform`).
    pub line: Option<usize>,
    /// How many times MorphIO prints it.
    pub count: usize,
}

/// The warnings in the order MorphIO first prints each kind.
#[derive(Debug, Default)]
pub(crate) struct Warnings {
    list: Vec<MorphioWarning>,
}

impl Warnings {
    pub(crate) fn push(&mut self, kind: MorphioWarningKind, line: Option<usize>) {
        match self.list.iter_mut().find(|w| w.kind == kind) {
            Some(w) => w.count += 1,
            None => self.list.push(MorphioWarning {
                kind,
                line,
                count: 1,
            }),
        }
    }
}

pub(crate) use MorphioWarningKind as WarningKind;

/// Whether MorphIO 3.5's SWC reader (default options) loads a file, why not, and what it warns.
///
/// The verdict is that of the SWC reader on the file's bytes, whatever the file's name
/// (`morphio.Morphology(path)` picks its reader by the extension; standard input has none).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MorphioVerdict {
    /// Whether MorphIO (and so NeuroM 4) loads the file.
    pub loads: bool,
    /// Why not, in MorphIO's words.
    pub refusal: Option<MorphioRefusal>,
    /// The warnings it prints, in the order it first prints each (those printed before a
    /// refusal included).
    pub warnings: Vec<MorphioWarning>,
}

impl MorphioVerdict {
    /// The class names of the warnings, in order (`["ZeroDiameter", "NoSomaFound"]`).
    pub fn warning_names(&self) -> Vec<&'static str> {
        self.warnings.iter().map(|w| w.kind.name()).collect()
    }
}

impl serde::Serialize for MorphioVerdict {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("MorphioVerdict", 4)?;
        s.serialize_field("loads", &self.loads)?;
        s.serialize_field("reason", &self.refusal.as_ref().map(|r| r.message.as_str()))?;
        s.serialize_field("line", &self.refusal.as_ref().and_then(|r| r.line))?;
        s.serialize_field("warnings", &self.warning_names())?;
        s.end()
    }
}

/// MorphIO's soma types for an SWC file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum SomaKind {
    /// No soma point (`SOMA_UNDEFINED`).
    #[default]
    Undefined,
    /// One soma point (`SOMA_SINGLE_POINT`).
    SinglePoint,
    /// Ids 1, 2, 3 with parents -1, 1, 1 (`SOMA_NEUROMORPHO_THREE_POINT_CYLINDERS`).
    ThreePoint,
    /// Any other soma (`SOMA_CYLINDERS`).
    Cylinders,
}

/// A point of a section or of the soma: x, y, z and the radius (half MorphIO's diameter),
/// with the line of the sample it comes from (a section's copy of its fork point names the
/// fork's line).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TreePoint {
    pub(crate) xyz: [f32; 3],
    pub(crate) r: f32,
    pub(crate) line: u32,
}

/// A section: its type (after MorphIO gives an undefined child its parent's type), its
/// parent section, and its points `points[start..end]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TreeSection {
    pub(crate) kind: i32,
    pub(crate) parent: u32,
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl TreeSection {
    pub(crate) fn is_root(&self) -> bool {
        self.parent == u32::MAX
    }
}

/// What MorphIO builds: the soma and the sections, in the order of MorphIO's section ids.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tree {
    pub(crate) soma_kind: SomaKind,
    pub(crate) soma: Vec<TreePoint>,
    pub(crate) sections: Vec<TreeSection>,
    pub(crate) points: Vec<TreePoint>,
}

/// An SWC file as MorphIO 3.5's reader reads it: the verdict and, when it loads, the
/// sections NeuroM's checks see (see [`MorphioMorphology::neurom_checks`]).
///
/// ```
/// use neuromorpho::swc::MorphioMorphology;
///
/// let m = MorphioMorphology::from_bytes(b"1 1 0 0 0 5 -1\n2 1 0 5 0 5 1\n3 1 0 9 0 5 -1\n");
/// assert!(!m.verdict().loads);
/// assert_eq!(m.verdict().refusal.as_ref().unwrap().message, "Multiple somata found:");
/// let m = MorphioMorphology::from_bytes(b"1 1 0 0 0 5 -1\n2 3 0 5 0 0 1\n");
/// assert!(m.verdict().loads);
/// assert_eq!(m.verdict().warning_names(), ["ZeroDiameter"]);
/// ```
#[derive(Debug, Clone)]
pub struct MorphioMorphology {
    verdict: MorphioVerdict,
    tree: Option<Tree>,
}

impl MorphioMorphology {
    /// Read SWC bytes as MorphIO does (never fails: a refusal is the verdict).
    pub fn from_bytes(bytes: &[u8]) -> MorphioMorphology {
        MorphioMorphology::from_samples(tokenize::read_samples(bytes))
    }

    /// The same from a file already read by this crate's reader, without reading the bytes
    /// again, when its text is one MorphIO reads the same way (LF or CRLF line endings,
    /// spaces and tabs, numbers MorphIO parses alike); `None` otherwise (use
    /// [`MorphioMorphology::from_bytes`]).
    pub fn from_morphology(morphology: &Morphology) -> Option<MorphioMorphology> {
        if !morphology.reads_as_morphio() {
            return None;
        }
        let samples = match samples_of(morphology.points())? {
            Ok(s) => s,
            Err(refusal) => {
                return Some(MorphioMorphology::from_result(
                    Err(refusal),
                    Warnings::default(),
                ))
            }
        };
        // This crate's reader already linked the points: the same links as MorphIO's (ids
        // are equal as 64-bit values exactly when they are as 32-bit ones here).
        let repeat = morphology.duplicate_indices().first().and_then(|&d| {
            let p = morphology.points().get(d as usize)?;
            Some((d as usize, morphology.index_of(p.id)?))
        });
        let missing_parent = morphology
            .parent_indices()
            .iter()
            .position(|&p| p == super::parse::MISSING);
        let facts = build::IdFacts {
            repeat,
            missing_parent,
        };
        let mut warnings = Warnings::default();
        let built = build::build_linked(&samples, &facts, morphology, &mut warnings);
        Some(MorphioMorphology::from_result(built, warnings))
    }

    fn from_samples(samples: Result<Vec<Sample>, Refusal>) -> MorphioMorphology {
        let mut warnings = Warnings::default();
        let built = samples.and_then(|s| build::build(&s, &mut warnings));
        MorphioMorphology::from_result(built, warnings)
    }

    fn from_result(built: Result<Tree, Refusal>, warnings: Warnings) -> MorphioMorphology {
        let (tree, refusal) = match built {
            Ok(t) => (Some(t), None),
            Err(r) => (None, Some(r.to_public())),
        };
        MorphioMorphology {
            verdict: MorphioVerdict {
                loads: tree.is_some(),
                refusal,
                warnings: warnings.list,
            },
            tree,
        }
    }

    /// MorphIO's verdict.
    pub fn verdict(&self) -> &MorphioVerdict {
        &self.verdict
    }

    /// The number of sections MorphIO builds (0 when it refuses the file).
    pub fn section_count(&self) -> usize {
        self.tree.as_ref().map_or(0, |t| t.sections.len())
    }

    pub(crate) fn tree(&self) -> Option<&Tree> {
        self.tree.as_ref()
    }
}

/// This crate's points as MorphIO's samples; `None` when a coordinate falls exactly halfway
/// between two 32-bit floats (the 64-bit value may then round another way than the text).
fn samples_of(points: &[Point]) -> Option<Result<Vec<Sample>, Refusal>> {
    let mut samples = Vec::with_capacity(points.len());
    for p in points {
        let line = p.line;
        let refuse = |kind| Some(Err(Refusal::new(kind, Some(line), line)));
        if p.id < 0 {
            return refuse(RefusalKind::NegativeId);
        }
        let Ok(id) = u32::try_from(p.id) else {
            return refuse(RefusalKind::IdTooLarge);
        };
        if p.kind < 0 {
            return refuse(RefusalKind::NegativeType);
        }
        let point = [to_f32(p.x)?, to_f32(p.y)?, to_f32(p.z)?];
        let diameter = 2.0 * to_f32(p.radius)?;
        let parent = if p.parent < -1 {
            return refuse(RefusalKind::NegativeId);
        } else if p.parent == i64::from(SWC_ROOT) {
            // MorphIO reads this parent as "no parent"; its own path handles that.
            return None;
        } else if p.parent == -1 {
            SWC_ROOT
        } else {
            match u32::try_from(p.parent) {
                Ok(v) => v,
                Err(_) => return refuse(RefusalKind::ParentIdTooLarge),
            }
        };
        let line = u32::try_from(line).unwrap_or(u32::MAX);
        samples.push(Sample {
            id,
            kind: p.kind,
            point,
            diameter,
            parent,
            line,
            morphio_line: line,
        });
    }
    Some(Ok(samples))
}

/// A correctly rounded f64 as the f32 that `strtof` gives for the same text: the same,
/// unless the f64 is exactly halfway between two f32 (then the text decides).
fn to_f32(v: f64) -> Option<f32> {
    let f = v as f32;
    let magnitude = v.abs();
    if (f64::from(f32::MIN_POSITIVE)..=f64::from(f32::MAX)).contains(&magnitude) {
        // A normal f32: halfway between two of them means the 29 bits below f32's 23 are
        // exactly 1 followed by zeros.
        return (v.to_bits() & 0x1FFF_FFFF != 0x1000_0000).then_some(f);
    }
    if !f.is_finite() || f64::from(f) == v {
        return Some(f);
    }
    let other = if f64::from(f) < v {
        f.next_up()
    } else {
        f.next_down()
    };
    let half = (f64::from(f) + f64::from(other)) / 2.0;
    (half != v).then_some(f)
}

impl build::Links for Morphology {
    fn parents(&self) -> &[u32] {
        // ROOT is `u32::MAX`, as in the builder; MISSING is refused before links are used.
        self.parent_indices()
    }

    fn children(&self, i: usize) -> &[u32] {
        self.children_slice(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(text: &str) -> MorphioVerdict {
        MorphioMorphology::from_bytes(text.as_bytes()).verdict
    }

    #[test]
    fn the_plain_path_agrees_with_the_tokenizer() {
        let files = [
            "1 1 0 0 0 5 -1\n2 3 0 5 0 1 1\n3 3 0 9 0 1 2\n4 3 1 9 0 1 2\n",
            "1 1 0 0 0 5 -1\n2 3 0 5 0 0 1\n3 2 0 9 0 1 2\n",
            "1 1 0 0 0 5 -1\n2 1 0 5 0 5 1\n3 1 0 9 0 5 -1\n",
            "1 1 0 0 0 5 -1\n1 3 0 5 0 1 1\n",
            "5 1 0 0 0 5 -1\n6 3 0 5 0 1 9\n",
            "# c\r\n1 1 0 0 0 5 -1\r\n2 3 0 5 0 1 1\r\n",
            "1 3 0 0 0 5 -1\n2 3 0 5 0 1 1\n",
        ];
        for text in files {
            let m = Morphology::from_bytes(text.as_bytes()).unwrap();
            let plain = MorphioMorphology::from_morphology(&m).expect(text);
            let read = MorphioMorphology::from_bytes(text.as_bytes());
            assert_eq!(plain.verdict, read.verdict, "{text}");
            assert_eq!(
                plain.tree.map(|t| t.points),
                read.tree.map(|t| t.points),
                "{text}"
            );
        }
    }

    #[test]
    fn halfway_values_go_back_to_the_text() {
        // 1 + 2^-24 is halfway between two f32.
        assert_eq!(to_f32(1.0 + 2f64.powi(-24)), None);
        assert_eq!(to_f32(0.1), Some(0.1f32));
        assert_eq!(to_f32(f64::NAN).map(f32::is_nan), Some(true));
    }

    #[test]
    fn refusals_in_morphio_words() {
        let v = verdict("1 1 0 0 0 5 -1\n2 3 0 5 0 1 1\n3 4 0 9 0 1 2\n");
        let r = v.refusal.unwrap();
        assert_eq!(r.line, Some(2));
        assert!(r
            .message
            .starts_with("Section type changed without a bifucation at line: 2"));
        let v = verdict("1 1 0 0 0 5 -1\n2 3 0 5 0 1 2\n");
        assert_eq!(v.refusal.unwrap().message, "Parent ID can not be itself");
        let v = verdict("1 1 0 0 0 5 -1\n4294967296 3 0 5 0 1 1\n");
        assert_eq!(
            v.refusal.unwrap().message,
            "SWC does not support ids larger than4294967295"
        );
    }
}
