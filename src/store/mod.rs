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

/// Write `bytes` to `path` the way the crate writes every file: into a temporary file created
/// beside it (`.NAME.HOST-PID-N.part`), then renamed over `path`, so that `path` only ever
/// holds a whole file (the old one until the new one is complete); with `durable`, the file
/// and its folder are synced too (a derived file, such as a picture, can do without). The
/// temporary file is removed on failure. Folders on the way must exist.
///
/// ```no_run
/// neuromorpho::store::write_atomically("cell.svg".as_ref(), b"<svg/>\n", false)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_atomically(
    path: &std::path::Path,
    bytes: &[u8],
    durable: bool,
) -> std::io::Result<()> {
    atomic_file::write_atomically(path, bytes, durable)
}
pub use manifest::{Manifest, ManifestEntry, ManifestLine};
pub use mirror::{Mirror, Taken};
pub use verify::{Finding, Problem};
