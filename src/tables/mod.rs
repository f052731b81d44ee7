//! What a job writes beside the files, and reads back: the metadata table (and
//! neuromorphopy's cleaning of its values), the persistence vectors, the verdicts of the SWC
//! checks, the citations, and the names in a table written earlier.
//!
//! ```
//! use neuromorpho::tables::clean_value;
//! let cleaned = clean_value(&serde_json::json!(["Local projecting", "pyramidal", "principal cell"]));
//! assert_eq!(cleaned, "local_projecting, pyramidal, principal_cell");
//! ```

pub(crate) mod checks;
pub(crate) mod citations;
pub(crate) mod metadata;
pub(crate) mod names;
pub(crate) mod pvec;

pub use crate::api::lookup::MORPHOMETRY_FIELDS;
pub use citations::Citations;
pub use metadata::{clean_value, raw_value, MetadataWriter};
pub use names::names_from_metadata;
pub use pvec::{pvec_columns, PvecWriter, PVEC_TABLE};
