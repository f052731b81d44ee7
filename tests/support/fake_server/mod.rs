//! A fake NeuroMorpho.Org server for the tests, the benchmark and `examples/fake-server.rs`.
//!
//! Only `std` and `serde_json`: this folder is compiled into every integration test binary
//! (through `tests/support/mod.rs`) and into the examples (through
//! `#[path = "../tests/support/fake_server/mod.rs"]`).
//!
//! * [`Catalog`]: a deterministic generated set of neuron records. Neuron 0 is the real
//!   `cnic_001` record from `fixtures/api/`; the others copy its key order and vary archive,
//!   species, brain region, cell type, format and references. Records are rendered to JSON on
//!   demand, so 300,000 neurons cost almost no memory.
//! * [`FakeServer`]: serves `/api/...` and `/dableFiles/...` the way the real server behaves
//!   (paged Spring-style envelopes, Solr-like `select`, 404 JSON errors, 404 HTML for missing
//!   files), counts what it was asked ([`Counters`]) and injects faults ([`FaultRule`],
//!   [`FakeServer::set_random_faults`]).
//!
//! `GET /__fake/stats` returns the counters as JSON and `GET|POST /__fake/reset` zeroes them,
//! for a benchmark that runs the server as a child process.
//!
//! One file per part: `tables.rs` (field lists and generated value tables), `catalog.rs`
//! (the records and their files), `query.rs` (the select language), `faults.rs` (faults,
//! counters, options), `http.rs` (HTTP plumbing), `server.rs` (the [`FakeServer`] handle, the
//! connection loop and one request's life) and `handlers.rs` (routing and the endpoints).

// Compiled into several test binaries and examples; each one uses a different subset (of the
// items and of the re-exports below).
#![allow(dead_code, unused_imports)]

mod catalog;
mod faults;
mod handlers;
mod http;
mod query;
mod server;
mod tables;

pub use catalog::Catalog;
pub use faults::{Counters, Fault, FaultRule, RecordedRequest, ServerOptions, Target};
pub use http::{percent_decode, percent_encode};
pub use server::FakeServer;
pub use tables::{MORPHOMETRY_KEYS, NEURON_FIELDS};
