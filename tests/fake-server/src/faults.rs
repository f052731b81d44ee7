//! Faults (rules and random), counters, request classification, recorded requests and
//! start-up options.

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::http::Request;
use super::tables::splitmix64;

/// Which requests a [`FaultRule`] applies to.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Every request (except `/__fake/...`).
    Any,
    /// Every `/api/...` request.
    Api,
    /// A count probe: `/api/neuron` or `/api/neuron/select` with `size=1`.
    Count,
    /// A page request (`/api/neuron` or `/api/neuron/select`, not a count) for this page number.
    Page(usize),
    /// Every `/dableFiles/...` request.
    AnyFile,
    /// Requests whose percent-decoded path contains this substring.
    Path(String),
}

/// What goes wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// This status with a Spring-style JSON error body.
    Status(u16),
    /// 429 with a `Retry-After` header.
    TooMany {
        /// The header's value, sent as given (seconds or an HTTP date; may be garbage).
        retry_after: String,
    },
    /// Read the request, then close with a TCP RST before any byte of the answer.
    ResetBeforeHeaders,
    /// Send the headers and half the body, then RST.
    ResetAfterHeaders,
    /// Send the full `Content-Length`, half the body, then close normally (FIN).
    Truncate,
    /// 200 with an HTML error page (a proxy's or Tomcat's).
    Html200,
    /// Sleep, then answer normally.
    Delay(Duration),
    /// 200 with the normal JSON cut in half (consistent `Content-Length`).
    MalformedJson,
    /// Normal answer, but `page.totalElements` shifted by this much (`totalPages` follows), as
    /// when the database changes between two requests.
    ReportTotalDelta(i64),
    /// Normal status line and headers (with the true `Content-Length`) at once, then the body
    /// one byte every `interval` (the first byte `interval` after the headers). A slow but
    /// live server: a client's idle timeout never fires, only a total deadline helps.
    Trickle {
        /// Pause before each body byte.
        interval: Duration,
    },
    /// `206 Partial Content` to a request that asked for no range: `Content-Range: bytes
    /// 0-K/N` and only the first third of the body (`N / 3` bytes, at least 1 of a non-empty
    /// body; `bytes */0` for an empty one), with a `Content-Length` matching what is sent.
    Partial206,
    /// No `Content-Length` and not chunked (`Connection: close`): the body ends when the server
    /// closes the connection (FIN). With `cut_at: Some(k)` only the first `k` bytes are sent,
    /// so nothing in the framing tells the client that the body was cut.
    CloseDelimited {
        /// Bytes of the body sent before closing (`None`: all of it).
        cut_at: Option<usize>,
    },
    /// `304 Not Modified` (no body), whatever the request's headers: also to a request that
    /// carried no validator, which a server must never answer so. The answer keeps the
    /// headers of the normal one (a file's `ETag` and `Last-Modified` when validators are on).
    NotModified,
    /// `200 OK` with an empty body (`Content-Length: 0`, `text/plain`, no validators), as a
    /// broken cache or a server that lost the file answers.
    Empty200,
}

/// A fault applied to the next `times` requests that match `target`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// Requests the rule applies to.
    pub target: Target,
    /// How many matching requests get the fault; the rule is removed after the last one.
    pub times: usize,
    /// The fault.
    pub fault: Fault,
}

impl FaultRule {
    /// Shorthand for a rule applied `times` times.
    pub fn new(target: Target, times: usize, fault: Fault) -> FaultRule {
        FaultRule {
            target,
            times,
            fault,
        }
    }
}

/// A snapshot struct of `usize` counters, its JSON form, and the atomic cells behind it.
macro_rules! counters {
    ($(#[$sdoc:meta])* $name:ident, $cells:ident { $($(#[$doc:meta])* $field:ident,)* }) => {
        $(#[$sdoc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name {
            $($(#[$doc])* pub $field: usize,)*
        }

        impl $name {
            pub(super) fn load(cells: &$cells) -> $name {
                $name { $($field: cells.$field.load(Ordering::SeqCst),)* }
            }

            /// The counters as a JSON object (`GET /__fake/stats` answers these keys, with
            /// those of the other counters struct and `max_file_hits`, in one object).
            pub fn to_json(&self) -> String {
                Value::Object(self.to_map()).to_string()
            }

            pub(super) fn to_map(&self) -> Map<String, Value> {
                let mut m = Map::new();
                $(m.insert(stringify!($field).to_string(), self.$field.into());)*
                m
            }

            /// Parses a JSON object with (at least) these keys: [`Self::to_json`] output or a
            /// `/__fake/stats` answer.
            pub fn from_json(text: &str) -> Option<$name> {
                let v: Value = serde_json::from_str(text).ok()?;
                Some($name { $($field: v.get(stringify!($field))?.as_u64()? as usize,)* })
            }
        }

        #[derive(Default)]
        pub(super) struct $cells {
            $(pub(super) $field: AtomicUsize,)*
        }

        impl $cells {
            pub(super) fn reset(&self) {
                $(self.$field.store(0, Ordering::SeqCst);)*
            }
        }
    };
}

counters! {
    /// Snapshot of the server's request counters ([`super::FakeServer::counters`]). Every
    /// request except `/__fake/...` increments `requests` and exactly one of the per-kind
    /// counters. How the answers went (concurrency, conditional requests) is counted apart,
    /// in [`TransferCounters`], so that a test can require every other kind to be zero.
    Counters, CounterCells {
        /// TCP connections accepted.
        connections,
        /// Requests answered (or faulted).
        requests,
        /// `/api/neuron` or `/api/neuron/select` with `size=1`.
        count,
        /// Other `/api/neuron` and `/api/neuron/select` requests.
        pages,
        /// `/api/neuron/fields`.
        fields,
        /// `/api/neuron/fields/{field}`.
        field_values,
        /// `/api/neuron/partition/{field}`.
        partition,
        /// `/api/neuron/id/{id}` and `/api/neuron/name/{name}`.
        records,
        /// `/api/morphometry/...`.
        morphometry,
        /// `/api/pvec/select` (a batch of persistence vectors).
        pvec_select,
        /// Other `/api/pvec/...` requests (`/api/pvec/id/{id}`: one vector).
        pvec_id,
        /// `/dableFiles/...`.
        files,
        /// `*.jsp` pages (answered 403; clients must never ask for one).
        jsp,
        /// `/api/health`.
        health,
        /// Anything else.
        other,
        /// Faults injected (rules and random).
        faults,
    }
}

counters! {
    /// Snapshot of how the server's answers went ([`super::FakeServer::transfer_counters`]):
    /// concurrency and conditional requests. Zeroed with the [`Counters`]; `/__fake/stats`
    /// carries these keys too.
    TransferCounters, TransferCells {
        /// The most requests handled at the same moment since the start or the last reset
        /// (then it restarts from the requests still being handled). A request is in flight
        /// from when its request line is read until just before the last write of its answer
        /// (or until it is faulted): a client that starts a request only once it has the
        /// whole previous answer is never counted twice, so this never exceeds the number of
        /// requests the client really had outstanding. `/__fake/...` is not counted.
        in_flight_max,
        /// `/dableFiles/...` requests that carried `If-None-Match` or `If-Modified-Since`.
        conditional,
        /// `304 Not Modified` answers.
        not_modified,
        /// `/dableFiles/...` answers (200 or 206) that sent some of a file's bytes: not 404s,
        /// 304s, `HEAD`s or answers a fault replaced (a cut or trickled file counts).
        file_bodies,
    }
}

/// Marks one request as in flight (see [`TransferCounters::in_flight_max`]) until
/// [`InFlight::end`] or drop.
pub(super) struct InFlight<'a>(Option<&'a AtomicUsize>);

impl<'a> InFlight<'a> {
    /// Not in flight (a control request, or before the request line).
    pub(super) fn idle() -> InFlight<'a> {
        InFlight(None)
    }

    /// Enters: one more request in `now`; the high-water mark `max` follows with the value
    /// this very step made (`fetch_add`, then `fetch_max`), so it is exact.
    pub(super) fn enter(now: &'a AtomicUsize, max: &AtomicUsize) -> InFlight<'a> {
        let count = now.fetch_add(1, Ordering::SeqCst) + 1;
        max.fetch_max(count, Ordering::SeqCst);
        InFlight(Some(now))
    }

    /// Leaves (once; later calls do nothing).
    pub(super) fn end(&mut self) {
        if let Some(now) = self.0.take() {
            now.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.end();
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub(super) enum Category {
    Count,
    Pages,
    Fields,
    FieldValues,
    Partition,
    Records,
    Morphometry,
    PvecSelect,
    PvecId,
    Files,
    Jsp,
    Health,
    Other,
}

pub(super) fn classify(decoded: &str, req: &Request) -> Category {
    let is = |p: &str| decoded == p;
    let under = |p: &str| decoded.starts_with(p);
    if is("/api/neuron") || is("/api/neuron/select") {
        if req.param("size").and_then(|s| s.parse::<usize>().ok()) == Some(1) {
            Category::Count
        } else {
            Category::Pages
        }
    } else if is("/api/health") {
        Category::Health
    } else if is("/api/neuron/fields") {
        Category::Fields
    } else if under("/api/neuron/fields/") {
        Category::FieldValues
    } else if under("/api/neuron/partition/") {
        Category::Partition
    } else if under("/api/neuron/id/") || under("/api/neuron/name/") {
        Category::Records
    } else if under("/api/morphometry") {
        Category::Morphometry
    } else if is("/api/pvec/select") {
        Category::PvecSelect
    } else if under("/api/pvec") {
        Category::PvecId
    } else if under("/dableFiles/") {
        Category::Files
    } else if decoded.ends_with(".jsp") && !under("/api/") {
        Category::Jsp
    } else {
        Category::Other
    }
}

/// What the fault machinery knows about a request.
pub(super) struct ReqInfo {
    pub(super) category: Category,
    pub(super) decoded: String,
    pub(super) page: usize,
    pub(super) target: String,
}

impl Target {
    pub(super) fn matches(&self, info: &ReqInfo) -> bool {
        match self {
            Target::Any => true,
            Target::Api => info.decoded.starts_with("/api/"),
            Target::Count => info.category == Category::Count,
            Target::Page(k) => info.category == Category::Pages && info.page == *k,
            Target::AnyFile => info.category == Category::Files,
            Target::Path(s) => info.decoded.contains(s.as_str()),
        }
    }
}

/// Random faults for soak runs: never more than 2 in a row for one request target, so a
/// client making 4 attempts always gets through.
pub(super) struct RandomFaults {
    pub(super) rate: f64,
    pub(super) state: u64,
    pub(super) streaks: HashMap<String, u32>,
}

impl RandomFaults {
    pub(super) fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix64(self.state)
    }

    pub(super) fn draw(&mut self, target: &str) -> Option<Fault> {
        let roll = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        let kind = self.next() % 5;
        let streak = self.streaks.get(target).copied().unwrap_or(0);
        if roll >= self.rate || streak >= 2 {
            self.streaks.remove(target);
            return None;
        }
        self.streaks.insert(target.to_string(), streak + 1);
        Some(match kind {
            0 => Fault::Status(503),
            1 => Fault::TooMany {
                retry_after: "0".to_string(),
            },
            2 => Fault::ResetBeforeHeaders,
            3 => Fault::Truncate,
            _ => Fault::Html200,
        })
    }
}

/// A request as recorded by the server ([`FakeServer::requests`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query exactly as sent.
    pub target: String,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// All headers (names lower-cased), in order.
    pub headers: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first header called `name` (give it lower-cased, e.g. `"authorization"`).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Start-up options of [`FakeServer::start_with`]; everything can also be changed later.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Port to bind on 127.0.0.1 (0: any free port).
    pub port: u16,
    /// Sleep before every answer.
    pub latency: Duration,
    /// `GET /api/morphometry/select` answers 400 (to test a per-id fallback).
    pub refuse_morphometry_batch: bool,
    /// Keep a list of the requests (turn off for long benchmark runs).
    pub recording: bool,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            port: 0,
            latency: Duration::ZERO,
            refuse_morphometry_batch: false,
            recording: true,
        }
    }
}
