//! The local collection: how files are named and placed in an output folder, written
//! atomically, locked between runs, recorded in the manifest and checked by `verify`; and the
//! rule that whatever is read back from the folder is input. A folder can also be the
//! [`Mirror`] of another: the source of a subset's files, only ever read.
//!
//! A folder's record is its manifest, `manifest.jsonl` (one JSON line per file, per shard
//! `manifest.shard-K-of-N.jsonl`), indexed by [`Manifest::load`] (24 bytes a file; the
//! entries themselves stay on disk and are streamed by [`Manifest::each`]);
//! [`Client::verify`](crate::Client::verify) checks a folder against it and lists each
//! [`Finding`].
//!
//! ```no_run
//! let manifest = neuromorpho::store::Manifest::load("neurons".as_ref())?;
//! manifest.each(|entry| {
//!     println!("{} {} bytes, fetched {}", entry.path, entry.bytes, entry.fetched_at);
//!     Ok(())
//! })?;
//! for line in &manifest.bad_lines {
//!     println!("{} line {}: {}", line.manifest, line.line, line.why);
//! }
//! # Ok::<(), neuromorpho::Error>(())
//! ```

pub(crate) mod atomic_file;
pub(crate) mod layout;
pub(crate) mod lock;
pub(crate) mod manifest;
pub(crate) mod mirror;
pub(crate) mod safe_fs;
pub(crate) mod verify;

pub use crate::util::time::Timestamp;
pub use manifest::{Manifest, ManifestEntry, ManifestLine};
pub use mirror::{Mirror, Taken};
pub use verify::{Finding, Problem};
