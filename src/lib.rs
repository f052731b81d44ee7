//! Search [NeuroMorpho.Org](https://neuromorpho.org) and download neuron morphologies (SWC
//! files) with their metadata — synchronously, politely, and without ever leaving a partial
//! file under a final name.
//!
//! No async runtime: one blocking [`ureq`] agent shared by all threads, and one pool of
//! [`ClientBuilder::concurrency`] worker threads per [`Client`] for page fetches, downloads
//! and look-ups. The library never prints: it returns values and [`Error`]s, logs through
//! [`log`], and reports progress through callbacks that run on the calling thread.
//!
//! # Search
//!
//! The count comes first (one request), then the first page at once and every other page of
//! 500 records in parallel; records come back in the server's order, each once, and their
//! number is checked against the count.
//!
//! ```no_run
//! use neuromorpho::{Client, Query};
//!
//! let client = Client::builder()
//!     .concurrency(8)
//!     .build()?;
//! let query = Query::new()
//!     .filter("species", ["mouse", "rat"])      // OR within a field
//!     .filter("brain_region", ["neocortex"])    // AND across fields
//!     .sort_by("neuron_id", true);
//! println!("{} neurons", client.count(&query)?);
//! for neuron in client.search(&query)? {
//!     println!("{} ({}) {:?}", neuron.neuron_name(), neuron.archive(), neuron.swc_url(client.base_url()));
//! }
//! # Ok::<(), neuromorpho::Error>(())
//! ```
//!
//! # Stream the whole catalog in constant memory
//!
//! [`Client::search_each`] hands pages to a callback in order as they arrive; here they go
//! straight into a metadata table.
//!
//! ```no_run
//! use neuromorpho::tables::MetadataWriter;
//! use neuromorpho::{Client, MetadataFormat, Query, SearchEvent};
//!
//! let client = Client::new()?;
//! let mut table = MetadataWriter::create("all/metadata.csv", MetadataFormat::Csv)?;
//! client.search_each(&Query::all(), |event| match event {
//!     SearchEvent::Started { restart: true, .. } => table.reset(),
//!     SearchEvent::Page { neurons, .. } => table.write(&neurons),
//!     _ => Ok(()),
//! })?;
//! table.finish()?;
//! # Ok::<(), neuromorpho::Error>(())
//! ```
//!
//! # Download
//!
//! Files are streamed to a temporary file beside their target, checked (an HTML error page,
//! a body that is not SWC, a body cut short is refused), synced and renamed into place only
//! when complete. A failure never stops the others; it is listed in the [`DownloadReport`].
//!
//! ```no_run
//! use neuromorpho::{Client, DownloadOptions, FileKind, Progress, Query};
//!
//! let client = Client::new()?;
//! let neurons = client.search(&Query::new().filter("archive", ["Wearne_Hof"]))?;
//! let options = DownloadOptions::new("neurons")
//!     .what([FileKind::Cng, FileKind::Original])
//!     .group_by(["species"]);
//! let mut files_done = 0; // a plain counter: the callback runs on this thread
//! let report = client.download(&neurons, &options, |p| {
//!     if let Progress::File { done, .. } = p {
//!         files_done = *done;
//!     }
//! })?;
//! for failed in &report.failed {
//!     eprintln!("{}: {} [{}]", failed.neuron_name, failed.detail, failed.reason);
//! }
//! # Ok::<(), neuromorpho::Error>(())
//! ```
//!
//! Or the whole job of the command line in one call — search, files, `metadata.csv`, the
//! manifest, `failed.csv` — with [`Client::download_query`] (or [`Client::download_names`]);
//! [`Client::verify`] later checks the folder against its manifest.
//!
//! # The shape of the API
//!
//! Every job is a method of [`Client`], so one client's concurrency budget, politeness,
//! proxy and [`CancelToken`] govern all of it. What a job is told is an options value built
//! with `new` (or `Default`) and chainable setters ([`DownloadOptions`], [`JobOptions`],
//! [`VerifyOptions`], [`swc::CheckOptions`]); what it returns is a plain struct of public
//! fields ([`DownloadReport`], [`JobSummary`], [`VerifyReport`]), `#[non_exhaustive]` so that
//! later versions can add to it. Each long job takes a progress callback and can be cancelled.
//! The modules hold what is not a job: [`swc`] (reading and checking SWC), [`store`] (the
//! folder's manifest and what `verify` finds), [`tables`] (the tables written beside the
//! files), [`text`] and [`doctor`].
//!
//! # What is an `Err`, and what is an entry of a report
//!
//! A call returns `Err` when it cannot do its job as a whole: a setting is invalid
//! ([`Error::InvalidSetting`]), a query file is malformed ([`Error::Input`]) or names what the
//! server does not know ([`Error::InvalidQuery`]), an API request failed after its retries
//! ([`Error::Request`], with the HTTP status and the cause), the server's answers contradict
//! each other ([`Error::Incomplete`]), the output folder cannot be written ([`Error::Io`]), or
//! the call was cancelled ([`Error::Cancelled`]).
//!
//! When one file among many cannot be had — a 404, a body that is not SWC, a record without a
//! name, a name the server does not know — the call goes on and succeeds: that file is a
//! [`FailedFile`] in the [`DownloadReport`] (or the job's [`JobSummary`]), with a
//! [`FailureKind`], and a row of `failed.csv`.
//!
//! # Stopping
//!
//! Give a client a [`CancelToken`] with [`Client::with_cancel`]; cancel it from another thread
//! or from a callback, and the call under way returns [`Error::Cancelled`] within about one
//! request's time. Finished files stay; no temporary file is left; the same call later
//! finishes the job without fetching them again.
//!
//! ```
//! use neuromorpho::{CancelToken, Client, Error, Query};
//!
//! let token = CancelToken::new();
//! let client = Client::builder()
//!     .base_url("http://127.0.0.1:9") // nothing is sent: the token is cancelled first
//!     .build()?
//!     .with_cancel(&token);
//! token.cancel();
//! assert!(matches!(client.search(&Query::all()), Err(Error::Cancelled)));
//! # Ok::<(), neuromorpho::Error>(())
//! ```
//!
//! # One concurrency budget per client
//!
//! [`ClientBuilder::concurrency`] bounds the requests in flight across every thread and every
//! call that shares the client (clones share it too). The worker pool is built once per client
//! and shared by every call. Calling the library from inside a rayon pool of your own is
//! fine: your threads never enter the client's pool, they only wait for its results.
//!
//! # Runnable without a network
//!
//! Everything that needs no server runs as is:
//!
//! ```
//! use neuromorpho::swc::{check_bytes, IssueCode};
//! use neuromorpho::tables::clean_value;
//! use neuromorpho::text::escape;
//! use neuromorpho::Query;
//!
//! let query = Query::from_json_str(
//!     r#"{"filters": {"species": ["mouse"]}, "sort": {"field": "neuron_id", "ascending": false}}"#,
//!     "query.json",
//! )?;
//! assert_eq!(query.filters()[0].1, ["mouse"]);
//! assert_eq!(query.sort().map(|s| s.ascending), Some(false));
//!
//! // neuromorphopy's metadata.csv cleaning:
//! let cleaned = clean_value(&serde_json::json!(["Local projecting", "pyramidal", "principal cell"]));
//! assert_eq!(cleaned, "local_projecting, pyramidal, principal_cell");
//!
//! // An SWC file checked: a point whose parent is not in the file is an error.
//! let report = check_bytes(b"1 1 0 0 0 5 -1\n2 3 0 5 0 1 7\n");
//! assert!(report.issues.iter().any(|i| i.code == IssueCode::MissingParent));
//!
//! // Server text shown safely: a name cannot erase a line on screen.
//! assert_eq!(escape("x\u{1b}[2K\rfake"), "x\\x1b[2K\\rfake");
//!
//! let err = Query::from_json_str(r#"{"filter": {}}"#, "q.json").unwrap_err();
//! assert_eq!(err.to_string(), "q.json: unknown top-level key 'filter' (expected 'filters' and optionally 'sort')");
//! # Ok::<(), neuromorpho::Error>(())
//! ```
//!
//! # Cargo features
//!
//! - `cli` (default): the `neuromorpho` binary (its argument parser and logger). An embedding
//!   program uses `default-features = false` and compiles neither.
//! - `yaml` (default): YAML query files, through `serde_norway`.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

// The layers, bottom-up, one folder each: a module uses only modules of its own layer or of
// the layers above it here, and the graph has no cycle (`cargo test --test it layers::` checks
// both, from the source).

// What every layer uses.
mod cancel;
mod error;
mod progress;
mod util;

// What NeuroMorpho.Org holds (records, pages, queries, a neuron's files), and SWC files.
mod archive;
pub mod swc;

// The local collection: names, atomic files, the lock, the manifest, verify.
pub mod store;

// The network: one HTTP client, its politeness, retries and workers.
mod client;

// What is asked of the server.
mod api;

// What is written: downloads, and the tables beside them.
mod download;
pub mod tables;

// What is shown: the collection page (above the tables it reads).
pub mod page;

// Whole jobs.
mod job;

/// The README's Rust examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use api::lookup::NameLookup;
pub use api::pvec::{PersistenceVector, PvecBatch};
pub use api::search::{SearchEvent, SkippedRecord};
pub use archive::files::FileKind;
pub use archive::query::{Query, Sort};
pub use archive::sample::{Limit, Sample};
pub use archive::Neuron;
pub use cancel::CancelToken;
pub use client::{
    Client, ClientBuilder, ProxyMode, ALTERNATE_BASE_URL, DEFAULT_BASE_URL, DEFAULT_USER_AGENT,
};
pub use download::{DownloadOptions, DownloadReport, FailedFile, HeldFile};
pub use error::{Cause, Error, FailureKind, InvalidItem, Result};
pub use job::{
    CheckedFiles, JobOptions, JobSummary, MirrorSummary, PvecSummary, SampledSummary, SavedRun,
    Shard, UpdateSummary, WrittenFiles,
};
pub use progress::Progress;
pub use store::verify::{VerifyOptions, VerifyReport};
pub use tables::metadata::MetadataFormat;

/// Datasets for analysis and learning: the pieces of stable samples (a [`Sample`]'s
/// [`Percent`](dataset::Percent), the [`Sampler`](dataset::Sampler) a job feeds, the
/// [`SampleKeeper`](dataset::SampleKeeper) of the smallest keys) and of persistence vectors.
///
/// ```
/// use neuromorpho::Sample;
/// let sample: Sample = "2.5%".parse()?;
/// // Whether a neuron is in a fractional sample depends on its id and the seed alone.
/// let kept = (1..=10_000u64).filter(|&id| sample.keeps(id, 7) == Some(true)).count();
/// assert!((150..350).contains(&kept), "{kept}");
/// assert_eq!(sample.keeps(42, 7), sample.keeps(42, 7));
/// # Ok::<(), neuromorpho::Error>(())
/// ```
pub mod dataset {
    pub use crate::api::pvec::{InvalidPvec, PVEC_COEFFICIENTS};
    pub use crate::archive::sample::{Percent, SampleKeeper, Sampler};
}

/// What `neuromorpho doctor` checks: each step on the way to the server, with a hint where
/// one fails. See [`Client::diagnose`].
///
/// ```
/// use neuromorpho::{Client, ProxyMode};
/// // Nothing listens on port 9: the steps stop at the first that fails, with a hint.
/// let client = Client::builder()
///     .base_url("http://127.0.0.1:9")
///     .proxy(ProxyMode::None)
///     .build()?;
/// let steps = client.diagnose();
/// let failed = steps.iter().find(|d| !d.ok).expect("a refused connection fails a step");
/// assert!(failed.hint.is_some(), "{failed:?}");
/// assert_eq!(steps.last(), Some(failed));
/// # Ok::<(), neuromorpho::Error>(())
/// ```
pub mod doctor {
    pub use crate::api::doctor::Diagnostic;
}

/// Text from the server or from a file, shown safely: control characters and bidirectional
/// overrides escaped (a name cannot erase a line on screen or reorder it), and passwords in
/// URLs hidden.
///
/// ```
/// use neuromorpho::text::{escape, redact};
/// assert_eq!(escape("x\u{1b}[2K\rfake"), "x\\x1b[2K\\rfake");
/// assert_eq!(redact("http://me:secret@proxy:3128"), "http://***@proxy:3128");
/// ```
pub mod text {
    pub use crate::util::text::{escape, redact};
}
