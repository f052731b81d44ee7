//! What a job writes beside the files: the metadata table, the verdicts of the SWC checks and
//! the citations.

pub(crate) mod checks;
pub(crate) mod citations;
pub(crate) mod metadata;
