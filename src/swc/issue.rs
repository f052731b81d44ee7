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
/// The module documentation ([`crate::swc`]) has the table of every code: its severity, its
/// meaning and what it breaks downstream.
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
