//! SWC files: the quick check of a downloaded body as it streams ([`SwcCheck`]), and the
//! reader, validator, measures and file checks.
//!
//! [`Morphology::from_bytes`] (or [`Morphology::from_reader`], [`Morphology::from_path`])
//! reads SWC into typed [`Point`]s in file order, the `#` [`Comment`]s, and the tree (parent
//! and children of each point), built once, in O(n). [`Morphology::validate`] lists the
//! [`Issue`]s; [`Morphology::measures`] computes NeuroM's measures (see [`Measures`] for their
//! exact definitions). [`check_bytes`], [`check_reader`] and [`check_file`] do all three and
//! never fail: a file that cannot be read or parsed gives a [`SwcReport`] with its error.
//! [`check_paths`] checks files and folders in parallel, one [`CheckedFile`] at a time.
//! [`Morphology::render`] draws a morphology as SVG ([`RenderOptions`]: the xy, xz or yz
//! projection, a three-view sheet, or a dendrogram, see [`View`]); [`render_paths`] draws
//! files and folders the way `check_paths` checks them.
//!
//! ```
//! use neuromorpho::swc::{check_bytes, IssueCode, Morphology};
//!
//! let swc = b"# a header\n1 1 0 0 0 5 -1\n2 3 0 5 0 1 1\n3 3 0 9 0 1 2\n4 2 0 -5 0 1 1\n";
//! let m = Morphology::from_bytes(swc)?;
//! assert_eq!(m.points().len(), 4);
//! assert_eq!(m.children(0).collect::<Vec<_>>(), [1, 3]);
//! let measures = m.measures();
//! assert_eq!((measures.stems, measures.tips, measures.total_length), (2, 2, 4.0));
//! assert!(m.validate().is_usable());
//!
//! let err = Morphology::from_bytes(b"1 1 0 0 0 5 -1\n2 3 abc 5 0 1 1\n").unwrap_err();
//! assert_eq!(err.to_string(), "line 2: 'abc' is not a number (x)");
//!
//! let report = check_bytes(b"<!DOCTYPE html><html>503</html>");
//! assert_eq!(report.issues[0].code, IssueCode::Html);
//! assert_eq!(report.points, None);
//! # Ok::<(), neuromorpho::swc::ParseError>(())
//! ```
//!
//!
//! What the reader accepts is on [`Morphology`]; the issue codes, with what each breaks
//! downstream, are on [`IssueCode`].

mod sniff;

pub(crate) use sniff::Expect;
pub use sniff::{SwcCheck, Verdict};

mod check;
mod issue;
mod measure;
mod morphio;
mod neurom;
mod parse;
mod render;
mod validate;

pub use check::{
    check_bytes, check_bytes_with, check_file, check_paths, check_reader, CheckOptions,
    CheckSummary, CheckedFile, Requirements, SwcReport,
};
pub use issue::{Issue, IssueCode, Severity};
pub use measure::{BoundingBox, Measures};
pub use morphio::{
    MorphioMorphology, MorphioRefusal, MorphioVerdict, MorphioWarning, MorphioWarningKind,
};
pub use neurom::{
    Fault, FlatMethod, NeuriteFilter, NeuromCheck, NeuromOptionError, NeuromOptions, NeuromReport,
    NeuromResult, FAULTS_PER_CHECK,
};
pub use parse::{Comment, Morphology, ParseError, Point, SwcError};
pub use render::{render_paths, RenderOptions, RenderSummary, RenderedFile, Rendering, View};
pub use validate::{Validation, ISSUES_PER_CODE};
