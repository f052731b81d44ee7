//! A fake NeuroMorpho.Org server for neuromorpho's tests, examples and benchmarks (a crate of
//! the workspace, a dev-dependency of `neuromorpho`; `cargo run --example fake-server` serves
//! it on its own).
//!
//! Only `std` and `serde_json`.
//!
//! * [`Catalog`]: a deterministic generated set of neuron records. Neuron 0 is the real
//!   `cnic_001` record from `fixtures/api/`; the others copy its key order and vary archive,
//!   species, brain region, cell type, format and references. Records are rendered to JSON on
//!   demand, so 300,000 neurons cost almost no memory.
//! * [`FakeServer`]: serves `/api/...` and `/dableFiles/...` the way the real server behaves
//!   (paged Spring-style envelopes, Solr-like `select`, 404 JSON errors, 404 HTML for missing
//!   files, `ETag`/`Last-Modified` and 304s on files), counts what it was asked ([`Counters`])
//!   and how it answered ([`TransferCounters`]: requests at once, conditional requests), and
//!   misbehaves on demand: faults ([`FaultRule`], [`FakeServer::set_random_faults`]; resets,
//!   truncation, trickled, partial, close-delimited and empty bodies, a 304 to anything), a
//!   lying count ([`FakeServer::set_announced_total`]), required credentials
//!   ([`FakeServer::require_basic_auth`]) and a next release with changed and added neurons
//!   ([`FakeServer::set_release`]). Persistence vectors (`/api/pvec/...`) can be refused in
//!   batches, left out of select answers or cut short ([`FakeServer::set_refuse_pvec_batch`],
//!   [`FakeServer::set_pvec_select_omits`], [`FakeServer::set_pvec_malformed`]).
//!
//! `GET /__fake/stats` returns the counters (both kinds, and `max_file_hits`) as one JSON
//! object and `GET|POST /__fake/reset` zeroes them, for a benchmark that runs the server as a
//! child process.
//!
//! One file per part: `tables.rs` (field lists and generated value tables), `catalog.rs`
//! (the records and their files), `special.rs` (hostile names, one-line JSON originals),
//! `releases.rs` (what release n changes), `pvec.rs` (persistence vectors), `query.rs` (the select language), `faults.rs`
//! (faults, counters, options), `http.rs` (HTTP plumbing), `validators.rs` (ETags, dates,
//! conditional requests), `server.rs` (the [`FakeServer`] handle, the connection loop and one
//! request's life) and `handlers.rs` (routing and the endpoints).

mod catalog;
mod faults;
mod handlers;
mod http;
mod pvec;
mod query;
mod releases;
mod server;
mod special;
mod tables;
mod validators;

pub use catalog::Catalog;
pub use faults::{
    Counters, Fault, FaultRule, RecordedRequest, ServerOptions, Target, TransferCounters,
};
pub use http::{percent_decode, percent_encode};
pub use pvec::PVEC_LEN;
pub use server::FakeServer;
pub use special::{one_line_json, HOSTILE_NAMES};
pub use tables::{MORPHOMETRY_KEYS, NEURON_FIELDS};
pub use validators::release_date;
