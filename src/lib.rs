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
//! use neuromorpho::{Client, MetadataFormat, MetadataWriter, Query, SearchEvent};
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
//! use neuromorpho::{Client, DownloadItem, DownloadOptions, Progress, Query};
//!
//! let client = Client::new()?;
//! let neurons = client.search(&Query::new().filter("archive", ["Wearne_Hof"]))?;
//! let items: Vec<DownloadItem> =
//!     neurons.iter().map(|n| DownloadItem::from_neuron(n, &["species"])).collect();
//! let mut files_done = 0; // a plain counter: the callback runs on this thread
//! let report = client.download(&items, &DownloadOptions::new("neurons"), |p| {
//!     if let Progress::File { done, .. } = p {
//!         files_done = *done;
//!     }
//! })?;
//! for failed in &report.failed {
//!     eprintln!("{}: {} [{}]", failed.neuron_name, failed.detail, failed.kind);
//! }
//! # Ok::<(), neuromorpho::Error>(())
//! ```
//!
//! Or everything in one call, with [`search_and_download`].
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
//! [`FailedFile`] in the [`DownloadReport`] (or the job's [`Summary`]), with a
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
//! use neuromorpho::{clean_value, escape, Query};
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

// The layers, bottom-up, one folder each: a module uses only modules of its own layer or of
// the layers above it here (`python3 ../shared/tools/modgraph.py` from the repository's
// parent folder prints the graph; it has no cycle).

// What every layer uses.
mod cancel;
mod error;
mod progress;
mod util;

// What NeuroMorpho.Org holds (records, pages, queries, a neuron's files), and SWC files.
mod archive;
mod swc;

// The local collection: names, atomic files, the lock, the manifest, verify.
mod store;

// The network: one HTTP client, its politeness, retries and workers.
mod client;

// What is asked of the server.
mod api;

// What is written: downloads, and the tables beside them.
mod download;
mod tables;

// Whole jobs.
mod job;

/// The README's Rust examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use api::doctor::Check;
pub use api::lookup::{NameLookup, MORPHOMETRY_FIELDS};
pub use api::search::{SearchEvent, SkippedRecord};
pub use archive::files::FileKind;
pub use archive::query::{Query, Sort};
pub use archive::Neuron;
pub use cancel::CancelToken;
pub use client::{
    Client, ClientBuilder, ProxyMode, ALTERNATE_BASE_URL, DEFAULT_BASE_URL, DEFAULT_USER_AGENT,
};
pub use download::{DownloadItem, DownloadOptions, DownloadReport, FailedFile, HeldFile};
pub use error::{Cause, Error, FailureKind, InvalidItem, Result};
pub use job::{
    download_names, names_from_metadata, saved_query, saved_run, search_and_download, JobOptions,
    SavedRun, Shard, Summary,
};
pub use progress::Progress;
pub use store::manifest::{Manifest, ManifestEntry, ManifestLine};
pub use store::verify::{verify, Problem, VerifyOptions, VerifyProblem, VerifyReport};
pub use swc::{
    check_bytes, check_file, check_paths, check_reader, BoundingBox, CheckOptions, CheckSummary,
    Comment, FileReport, Issue, IssueCode, Measures, Morphology, ParseError, Point, Report,
    Severity, SwcError, Validation, ISSUES_PER_CODE,
};
pub use tables::citations::Citations;
pub use tables::metadata::{clean_value, raw_value, MetadataFormat, MetadataWriter};
pub use util::text::{escape, redact};
pub use util::time::{Civil, Timestamp};
