//! SWC files: the quick check of a downloaded body as it streams.

mod sniff;

pub use sniff::{SwcCheck, Verdict};
