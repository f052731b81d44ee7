//! SWC files: the quick check of a downloaded body as it streams, and the reader.

mod sniff;

pub use sniff::{SwcCheck, Verdict};

mod check;
mod issue;
pub mod measure;
mod parse;
mod validate;

pub use check::{
    check_bytes, check_file, check_paths, check_reader, CheckOptions, CheckSummary, FileReport,
    Report,
};
pub use issue::{Issue, IssueCode, Severity};
pub use measure::{BoundingBox, Measures};
pub use parse::{Comment, Morphology, ParseError, Point, SwcError};
pub use validate::{Validation, ISSUES_PER_CODE};
