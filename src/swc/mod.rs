//! SWC files: the quick check of a downloaded body as it streams, and the reader.

mod sniff;

pub use sniff::{SwcCheck, Verdict};

mod issue;
mod parse;
pub use issue::{Issue, IssueCode, Severity};
pub use parse::{Comment, Morphology, ParseError, Point, SwcError};
