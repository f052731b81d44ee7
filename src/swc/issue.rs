//! What the reader and the validator find: a stable code, a severity, a line and a message.

use std::fmt;

/// How bad an [`Issue`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The file is not a usable tree (or could not be read at all).
    Error,
    /// A quirk a user should know about; the tree is usable.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of an [`Issue`], with a stable kebab-case name ([`IssueCode::as_str`]).
///
///
/// # Issue codes
///
/// Errors: the file is not a usable tree, and the report carries no tree measures. The
/// first seven arise while reading (a [`ParseError`](crate::swc::ParseError): reading stops at the first); the
/// others are found by the validator. Warnings: the tree is usable, but a user, or a tool
/// downstream, should know. "MorphIO" is MorphIO 3.5.0's SWC reader, which NeuroM 4 uses:
/// every statement about it was checked on the hand-made files of `fixtures/swc-broken/`
/// (see `fixtures/neurom/MEASURES.md`).
///
/// | code | severity | meaning | downstream |
/// |---|---|---|---|
/// | `io` | error | the file cannot be read (missing, permissions, broken link, a folder) | — |
/// | `too-large` | error | larger than [`CheckOptions::max_file_size`](crate::swc::CheckOptions::max_file_size), or more than 2³²−3 points | — |
/// | `empty` | error | no data line: an empty file, blank lines, or only comments | MorphIO reads an empty morphology without a word |
/// | `html` | error | the first line that is not blank starts with `<`: an HTML error page (or XML) saved as `.swc` | MorphIO: "Unable to parse this line" |
/// | `too-few-fields` | error | a data line with fewer than 7 fields | MorphIO: "Unable to parse this line" |
/// | `not-a-number` | error | a field is not a number (`abc`, `1,5`) | MorphIO: "Unable to parse this line" |
/// | `not-an-integer` | error | an id, type or parent with a decimal point or an exponent, or out of range | MorphIO misreads the line (`2.5 3 …`: "Sample id: 2 refers to non-existant parent ID: 0") |
/// | `non-finite` | error | x, y, z or radius is NaN or infinite | MorphIO: "Unable to parse this line" |
/// | `bad-id` | error | a negative id (`-1` means "no parent") | MorphIO: "The ID assigned to this line is negative" |
/// | `duplicate-id` | error | an id already used by an earlier line (parents then refer to the first) | MorphIO: "Repeated ID" |
/// | `missing-parent` | error | a parent id that is no point's id (parents below `-1` included) | MorphIO: `MissingParentError` |
/// | `cycle` | error | following parents from a point comes back to it (a point that is its own parent included) | MorphIO refuses a point that is its own parent, but loads a longer cycle and silently drops its points |
/// | `no-root` | error | no point has parent `-1` (there is then a cycle, or a missing parent) | MorphIO refuses it, with whichever error it meets first |
/// | `several-roots` | warning | more than one point has parent `-1`; the message says whether the extra root is another soma or a neurite not attached to the soma | soma roots: MorphIO refuses ("Multiple somata found"); neurite roots: MorphIO warns (`DisconnectedNeurite`) and NeuroM counts each as a neurite |
/// | `no-soma` | warning | no point of type 1 | MorphIO warns (`NoSomaFound`); NeuroM's soma features give 0 (`soma_radius`) |
/// | `multi-point-soma` | warning | a soma of several points; the message names the shape: NeuroMorpho's 3-point cylinder, a stack of cylinders, a contour (an outline that closes), a branched soma, or several groups | MorphIO recognises the 3-point soma only with ids 1, 2, 3 and parents −1, 1, 1 (else it reads a stack of cylinders); readers that expect one soma point find several (Brayns #620, "3 soma found") |
/// | `soma-bifurcation` | warning | a soma point that is not the soma's root forks into several soma points (the line of that point) | MorphIO and NeuroM refuse the file: "Found soma bifurcation" (NeuroM #613; `dCH-cobalt.CNG.swc`) |
/// | `soma-child-of-neurite` | warning | a soma point whose parent is a neurite point | MorphIO refuses: "Found a soma point with a neurite as parent" |
/// | `unsupported-type` | warning | a type that is negative or 20 and above, or 0 ("undefined") | MorphIO 3.5 refuses negative types and types from 20; MorphIO before 3.5 also refuses 0 |
/// | `unifurcation` | warning | the type changes at a point that has a single child (the line of that point) | MorphIO refuses ("Section type changed without a bifurcation") unless `ALLOW_UNIFURCATED_SECTION_CHANGE`; with it, NeuroM's `has_unifurcation` fails |
/// | `type-change` | warning | a branch leaving a fork has another type than the fork (an axon from a dendrite) | MorphIO reads it; NeuroM types a neurite by its first section, so per-type measures count the branch under the neurite's type |
/// | `multifurcation` | warning | a neurite point with three children or more | NeuroM counts it neither as a bifurcation nor as a leaf; its `has_multifurcation` flags only four children or more |
/// | `non-positive-radius` | warning | a radius of 0 or less | MorphIO warns (`ZeroDiameter`); NeuroM's `has_all_nonzero_neurite_radii` or `has_nonzero_soma_radius` fail |
/// | `zero-length-segment` | warning | a neurite point at the exact position of its (neurite) parent | NeuroM's `has_all_nonzero_segment_lengths` fails |
/// | `out-of-order` | warning | a point's parent is listed after it | MorphIO and NeuroM read it; a reader that builds the tree in one pass, parents first, may not |
/// | `non-ascii` | warning | bytes that are not ASCII in comments or extra fields (the message says whether they are valid UTF-8) | MorphIO reads it; Python's `open()` in text mode fails on bytes that are not UTF-8 (`UnicodeDecodeError`) |
///
/// Each issue names the line (1-based) where it applies, when it applies to one line. At
/// most [`ISSUES_PER_CODE`](crate::swc::ISSUES_PER_CODE) issues of one code are listed; the others are folded into one
/// last issue of that code, and still counted in [`Validation::errors`](crate::swc::Validation::errors) and
/// [`Validation::warnings`](crate::swc::Validation::warnings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum IssueCode {
    // Errors found while reading.
    /// `io`: the file could not be read.
    Io,
    /// `too-large`: the file is larger than the configured maximum.
    TooLarge,
    /// `empty`: no data line at all (empty, blank, or only comments).
    Empty,
    /// `html`: an HTML (or XML) page instead of SWC.
    Html,
    /// `too-few-fields`: a data line with fewer than 7 fields.
    TooFewFields,
    /// `not-a-number`: x, y, z or radius (or an id, type, parent) is not a number.
    NotANumber,
    /// `not-an-integer`: id, type or parent is a number but not an integer (or out of range).
    NotAnInteger,
    // Errors found by the validator.
    /// `non-finite`: x, y, z or radius is NaN or infinite.
    NonFinite,
    /// `bad-id`: a negative id (`-1` means "no parent", so it cannot name a point).
    BadId,
    /// `duplicate-id`: an id already used by an earlier line.
    DuplicateId,
    /// `missing-parent`: the parent id names no point of the file.
    MissingParent,
    /// `cycle`: following parents from a point comes back to it.
    Cycle,
    /// `no-root`: no point has parent `-1`.
    NoRoot,
    // Warnings.
    /// `several-roots`: more than one point has parent `-1`.
    SeveralRoots,
    /// `no-soma`: no point of type 1.
    NoSoma,
    /// `multi-point-soma`: the soma has several points; the message names the shape.
    MultiPointSoma,
    /// `soma-bifurcation`: a soma point that is not a root forks into several soma points.
    SomaBifurcation,
    /// `soma-child-of-neurite`: a soma point whose parent is a neurite point.
    SomaChildOfNeurite,
    /// `unsupported-type`: a type outside 1..=19 (0 is "undefined").
    UnsupportedType,
    /// `unifurcation`: the type changes at a point that has a single child.
    Unifurcation,
    /// `type-change`: a branch leaving a fork has another type than the fork point.
    TypeChange,
    /// `multifurcation`: a neurite point with more than two children.
    Multifurcation,
    /// `non-positive-radius`: a radius that is zero or negative.
    NonPositiveRadius,
    /// `zero-length-segment`: a neurite point at the very position of its neurite parent.
    ZeroLengthSegment,
    /// `out-of-order`: a point's parent is listed after it.
    OutOfOrder,
    /// `non-ascii`: bytes that are not ASCII (in comments or extra fields).
    NonAscii,
}

impl IssueCode {
    /// Every code, errors first.
    pub const ALL: &'static [IssueCode] = &[
        IssueCode::Io,
        IssueCode::TooLarge,
        IssueCode::Empty,
        IssueCode::Html,
        IssueCode::TooFewFields,
        IssueCode::NotANumber,
        IssueCode::NotAnInteger,
        IssueCode::NonFinite,
        IssueCode::BadId,
        IssueCode::DuplicateId,
        IssueCode::MissingParent,
        IssueCode::Cycle,
        IssueCode::NoRoot,
        IssueCode::SeveralRoots,
        IssueCode::NoSoma,
        IssueCode::MultiPointSoma,
        IssueCode::SomaBifurcation,
        IssueCode::SomaChildOfNeurite,
        IssueCode::UnsupportedType,
        IssueCode::Unifurcation,
        IssueCode::TypeChange,
        IssueCode::Multifurcation,
        IssueCode::NonPositiveRadius,
        IssueCode::ZeroLengthSegment,
        IssueCode::OutOfOrder,
        IssueCode::NonAscii,
    ];

    /// The stable kebab-case name (`duplicate-id`, `soma-bifurcation`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            IssueCode::Io => "io",
            IssueCode::TooLarge => "too-large",
            IssueCode::Empty => "empty",
            IssueCode::Html => "html",
            IssueCode::TooFewFields => "too-few-fields",
            IssueCode::NotANumber => "not-a-number",
            IssueCode::NotAnInteger => "not-an-integer",
            IssueCode::NonFinite => "non-finite",
            IssueCode::BadId => "bad-id",
            IssueCode::DuplicateId => "duplicate-id",
            IssueCode::MissingParent => "missing-parent",
            IssueCode::Cycle => "cycle",
            IssueCode::NoRoot => "no-root",
            IssueCode::SeveralRoots => "several-roots",
            IssueCode::NoSoma => "no-soma",
            IssueCode::MultiPointSoma => "multi-point-soma",
            IssueCode::SomaBifurcation => "soma-bifurcation",
            IssueCode::SomaChildOfNeurite => "soma-child-of-neurite",
            IssueCode::UnsupportedType => "unsupported-type",
            IssueCode::Unifurcation => "unifurcation",
            IssueCode::TypeChange => "type-change",
            IssueCode::Multifurcation => "multifurcation",
            IssueCode::NonPositiveRadius => "non-positive-radius",
            IssueCode::ZeroLengthSegment => "zero-length-segment",
            IssueCode::OutOfOrder => "out-of-order",
            IssueCode::NonAscii => "non-ascii",
        }
    }

    /// The severity, fixed per code.
    pub fn severity(self) -> Severity {
        match self {
            IssueCode::Io
            | IssueCode::TooLarge
            | IssueCode::Empty
            | IssueCode::Html
            | IssueCode::TooFewFields
            | IssueCode::NotANumber
            | IssueCode::NotAnInteger
            | IssueCode::NonFinite
            | IssueCode::BadId
            | IssueCode::DuplicateId
            | IssueCode::MissingParent
            | IssueCode::Cycle
            | IssueCode::NoRoot => Severity::Error,
            IssueCode::SeveralRoots
            | IssueCode::NoSoma
            | IssueCode::MultiPointSoma
            | IssueCode::SomaBifurcation
            | IssueCode::SomaChildOfNeurite
            | IssueCode::UnsupportedType
            | IssueCode::Unifurcation
            | IssueCode::TypeChange
            | IssueCode::Multifurcation
            | IssueCode::NonPositiveRadius
            | IssueCode::ZeroLengthSegment
            | IssueCode::OutOfOrder
            | IssueCode::NonAscii => Severity::Warning,
        }
    }

    /// The code named `name` (the inverse of [`IssueCode::as_str`]).
    pub fn from_name(name: &str) -> Option<IssueCode> {
        IssueCode::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    /// What the code means, in one line (literal values between backticks): the "meaning"
    /// column of the issue-code table in `docs/check-codes.md`, which a test renders from
    /// [`IssueCode::ALL`], [`IssueCode::as_str`], [`IssueCode::severity`] and this.
    pub fn summary(self) -> &'static str {
        match self {
            IssueCode::Io => {
                "the file cannot be read (missing, permissions, broken link, a folder)"
            }
            IssueCode::TooLarge => "larger than the maximum file size, or more than 2³²−3 points",
            IssueCode::Empty => "no data line: an empty file, blank lines, or only comments",
            IssueCode::Html => {
                "the first line that is not blank starts with `<`: an HTML error page (or XML) \
                 saved as `.swc`"
            }
            IssueCode::TooFewFields => "a data line with fewer than 7 fields",
            IssueCode::NotANumber => "a field is not a number (`abc`, `1,5`)",
            IssueCode::NotAnInteger => {
                "an id, type or parent with a decimal point or an exponent, or out of range"
            }
            IssueCode::NonFinite => "x, y, z or radius is NaN or infinite",
            IssueCode::BadId => "a negative id (`-1` means \"no parent\")",
            IssueCode::DuplicateId => "an id already used by an earlier line",
            IssueCode::MissingParent => "a parent id that is no point's id",
            IssueCode::Cycle => "following parents from a point comes back to it",
            IssueCode::NoRoot => "no point has parent `-1`",
            IssueCode::SeveralRoots => {
                "more than one point has parent `-1` (the message says whether the extra root \
                 is another soma or a detached neurite)"
            }
            IssueCode::NoSoma => "no point of type 1",
            IssueCode::MultiPointSoma => {
                "a soma of several points; the message names the shape (NeuroMorpho's 3-point \
                 cylinder, a stack of cylinders, a contour, a branched soma)"
            }
            IssueCode::SomaBifurcation => {
                "a soma point below the soma's root forks into several soma points"
            }
            IssueCode::SomaChildOfNeurite => "a soma point whose parent is a neurite point",
            IssueCode::UnsupportedType => {
                "a type that is negative, 20 or above, or 0 (\"undefined\")"
            }
            IssueCode::Unifurcation => "the type changes at a point with a single child",
            IssueCode::TypeChange => "a branch leaving a fork has another type than the fork",
            IssueCode::Multifurcation => "a neurite point with three children or more",
            IssueCode::NonPositiveRadius => "a radius of 0 or less",
            IssueCode::ZeroLengthSegment => "a neurite point at the exact position of its parent",
            IssueCode::OutOfOrder => "a point's parent is listed after it",
            IssueCode::NonAscii => "bytes that are not ASCII in comments or extra fields",
        }
    }
}

impl fmt::Display for IssueCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Issue {
    /// What it is.
    pub code: IssueCode,
    /// How bad (always `code.severity()`).
    pub severity: Severity,
    /// The 1-based line where it applies, when it applies to one line.
    pub line: Option<usize>,
    /// A sentence for a user, naming the ids and values at fault.
    pub message: String,
}

impl Issue {
    /// An issue of `code` (its severity is the code's).
    pub fn new(code: IssueCode, line: Option<usize>, message: impl Into<String>) -> Issue {
        Issue {
            code,
            severity: code.severity(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        write!(f, "{} [{} {}]", self.message, self.severity, self.code)
    }
}

impl serde::Serialize for Issue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Issue", 4)?;
        s.serialize_field("code", self.code.as_str())?;
        s.serialize_field("severity", self.severity.as_str())?;
        s.serialize_field("line", &self.line)?;
        s.serialize_field("message", &self.message)?;
        s.end()
    }
}
