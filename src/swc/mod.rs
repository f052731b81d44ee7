//! SWC files: the quick check of a downloaded body as it streams, and the reader.

mod sniff;

pub use sniff::{SwcCheck, Verdict};

mod issue;
pub mod measure;
mod parse;
mod validate;
pub use issue::{Issue, IssueCode, Severity};
pub use measure::{BoundingBox, Measures};
pub use parse::{Comment, Morphology, ParseError, Point, SwcError};
pub use validate::{Validation, ISSUES_PER_CODE};
