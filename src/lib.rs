//! Search [NeuroMorpho.Org](https://neuromorpho.org) and download neuron morphologies (SWC
//! files) with their metadata — synchronously, politely, and without ever leaving a partial
//! file under a final name.
//!
//! No async runtime: a blocking [`ureq`] agent shared by all threads, and a local rayon thread
//! pool of [`ClientBuilder::concurrency`] threads for page fetches and downloads. The library
//! never prints: it returns values and [`Error`]s, logs through [`log`], and reports progress
//! through callbacks.
//!
//! # Search
//!
//! The count comes first (one request), then every page of 500 records in parallel; records
//! come back in the server's order, each once, and their number is checked against the count.
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
//!     println!("{} ({}) {:?}", neuron.neuron_name, neuron.archive, neuron.swc_url(client.base_url()));
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
//! Files are streamed to a temporary file beside their target, checked (an HTML error page or
//! a body that is not SWC is refused), and renamed into place only when complete. A failure
//! never stops the others; it is listed in the [`DownloadReport`].
//!
//! ```no_run
//! use neuromorpho::{Client, DownloadItem, DownloadOptions, Query};
//!
//! let client = Client::new()?;
//! let neurons = client.search(&Query::new().filter("archive", ["Wearne_Hof"]))?;
//! let group_by = vec!["species".to_string()];
//! let items: Vec<DownloadItem> = neurons.iter().map(|n| DownloadItem::from_neuron(n, &group_by)).collect();
//! let report = client.download(&items, &DownloadOptions::new("neurons"), &|_progress| {})?;
//! for failed in &report.failed {
//!     eprintln!("{}: {} [{}]", failed.neuron_name, failed.detail, failed.kind);
//! }
//! # Ok::<(), neuromorpho::Error>(())
//! ```
//!
//! Or everything in one call, with [`job::search_and_download`].
//!
//! # Runnable without a network
//!
//! Everything that needs no server runs as is:
//!
//! ```
//! use neuromorpho::{metadata::clean_value, Query};
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
//! let err = Query::from_json_str(r#"{"filter": {}}"#, "q.json").unwrap_err();
//! assert_eq!(err.to_string(), "q.json: unknown top-level key 'filter' (expected 'filters' and optionally 'sort')");
//! # Ok::<(), neuromorpho::Error>(())
//! ```
//!
//! # Cargo features
//!
//! - `yaml` (default): YAML query files, through `serde_norway`.

#![warn(missing_docs)]

pub mod citations;
pub mod client;
pub mod doctor;
pub mod download;
pub mod error;
pub mod job;
pub mod lookup;
pub mod metadata;
pub mod model;
pub mod query;
pub mod search;
pub mod swc;
mod tls;

/// The README's Rust examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use client::{Client, ClientBuilder, ProxyMode, ALTERNATE_BASE_URL, DEFAULT_BASE_URL};
pub use download::{DownloadItem, DownloadOptions, DownloadReport, FailedFile, FileKind, Progress};
pub use error::{Error, FailureKind, InvalidItem, Result};
pub use job::{search_and_download, JobOptions, Shard, Summary};
pub use metadata::{MetadataFormat, MetadataWriter};
pub use model::Neuron;
pub use query::{Query, Sort};
pub use search::SearchEvent;
pub use swc::{
    BoundingBox, CheckOptions, CheckSummary, Comment, FileReport, Issue, IssueCode, Measures,
    Morphology, ParseError, Point, Report, Severity, SwcError, Validation,
};
