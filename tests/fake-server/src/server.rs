//! The server: the public [`FakeServer`] handle, the accept and connection loops, and one
//! request's life (counting, faults, writing the answer).

use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::io::{BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::catalog::Catalog;
use super::faults::{
    classify, Category, CounterCells, Counters, Fault, FaultRule, InFlight, RandomFaults,
    RecordedRequest, ReqInfo, ServerOptions, TransferCells, TransferCounters,
};
use super::http::{
    base64, is_control, json_error, lock, percent_decode, read_request, reset, strip_context,
    Action, ReadError, Request, Response, JSON,
};

/// What a proxy or a broken Tomcat answers with status 200 (the `Html200` fault).
pub(super) const ERROR_PAGE_HTML: &str =
    "<html><head><title>Service Unavailable</title></head><body>\
<h1>The server is temporarily unable to service your request.</h1></body></html>";

pub(super) type Hits = Result<Arc<Vec<u32>>, String>;
pub(super) type HitsCache = Mutex<HashMap<String, Arc<OnceLock<Hits>>>>;
pub(super) type Distinct = Arc<Vec<(String, usize)>>;
pub(super) type DistinctCache = Mutex<HashMap<String, Arc<OnceLock<Distinct>>>>;

/// State shared by the [`FakeServer`] handle, the accept thread and the connection threads.
pub(super) struct Shared {
    pub(super) catalog: Catalog,
    pub(super) addr: SocketAddr,
    pub(super) stop: AtomicBool,
    pub(super) counters: CounterCells,
    pub(super) transfer: TransferCells,
    /// Requests being handled right now ([`InFlight`]).
    pub(super) in_flight: AtomicUsize,
    pub(super) file_hits: Mutex<HashMap<String, usize>>,
    pub(super) recording: AtomicBool,
    pub(super) requests: Mutex<Vec<RecordedRequest>>,
    pub(super) latency_ns: AtomicU64,
    pub(super) refuse_morphometry_batch: AtomicBool,
    /// [`FakeServer::set_refuse_pvec_batch`].
    pub(super) refuse_pvec_batch: AtomicBool,
    /// [`FakeServer::set_pvec_select_omits`].
    pub(super) pvec_select_omits: Mutex<HashSet<u64>>,
    /// [`FakeServer::set_pvec_omits_counted`].
    pub(super) pvec_omits_counted: AtomicBool,
    /// [`FakeServer::set_pvec_malformed`].
    pub(super) pvec_malformed: Mutex<HashSet<u64>>,
    pub(super) faults: Mutex<Vec<FaultRule>>,
    pub(super) random: Mutex<Option<RandomFaults>>,
    pub(super) hits_cache: HitsCache,
    pub(super) distinct_cache: DistinctCache,
    pub(super) conns: Mutex<HashMap<u64, TcpStream>>,
    pub(super) next_conn: AtomicU64,
    /// `Basic <base64(user:password)>` when [`FakeServer::require_basic_auth`] is on.
    pub(super) basic_auth: Mutex<Option<String>>,
    /// [`FakeServer::set_announced_total`].
    pub(super) announced_total: Mutex<Option<u64>>,
    /// [`FakeServer::set_validators`].
    pub(super) validators: AtomicBool,
}

/// The fake server: a thread accepting on 127.0.0.1 and one thread per connection.
/// Dropping it stops accepting and shuts the open connections down.
pub struct FakeServer {
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Serves `catalog` on a free port of 127.0.0.1 with default options.
    pub fn start(catalog: Catalog) -> FakeServer {
        FakeServer::start_with(catalog, ServerOptions::default())
    }

    /// Serves `catalog` with `options`. Panics if the port cannot be bound.
    pub fn start_with(catalog: Catalog, options: ServerOptions) -> FakeServer {
        let listener = TcpListener::bind(("127.0.0.1", options.port))
            .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:{}: {e}", options.port));
        let addr = listener
            .local_addr()
            .expect("bound listener has an address");
        let shared = Arc::new(Shared {
            catalog,
            addr,
            stop: AtomicBool::new(false),
            counters: CounterCells::default(),
            transfer: TransferCells::default(),
            in_flight: AtomicUsize::new(0),
            file_hits: Mutex::new(HashMap::new()),
            recording: AtomicBool::new(options.recording),
            requests: Mutex::new(Vec::new()),
            latency_ns: AtomicU64::new(options.latency.as_nanos() as u64),
            refuse_morphometry_batch: AtomicBool::new(options.refuse_morphometry_batch),
            refuse_pvec_batch: AtomicBool::new(false),
            pvec_select_omits: Mutex::new(HashSet::new()),
            pvec_omits_counted: AtomicBool::new(false),
            pvec_malformed: Mutex::new(HashSet::new()),
            faults: Mutex::new(Vec::new()),
            random: Mutex::new(None),
            hits_cache: Mutex::new(HashMap::new()),
            distinct_cache: Mutex::new(HashMap::new()),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
            basic_auth: Mutex::new(None),
            announced_total: Mutex::new(None),
            validators: AtomicBool::new(true),
        });
        let accept_shared = shared.clone();
        let accept = thread::Builder::new()
            .name("fake-accept".into())
            .spawn(move || accept_loop(accept_shared, listener))
            .expect("spawn the accept thread");
        FakeServer {
            shared,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The served catalog (e.g. to compute expected answers or [`Catalog::remove_file`]).
    pub fn catalog(&self) -> &Catalog {
        &self.shared.catalog
    }

    /// Shorthand for `catalog().remove_file(name)`.
    pub fn remove_file(&self, name: &str) {
        self.shared.catalog.remove_file(name);
    }

    /// Snapshot of the counters.
    pub fn counters(&self) -> Counters {
        Counters::load(&self.shared.counters)
    }

    /// Snapshot of the transfer counters: most requests at once, conditional requests, 304s
    /// and file bodies sent ([`TransferCounters`]).
    pub fn transfer_counters(&self) -> TransferCounters {
        TransferCounters::load(&self.shared.transfer)
    }

    /// Zeroes the counters (both kinds) and the file hit counts and forgets the recorded
    /// requests.
    pub fn reset_counters(&self) {
        self.shared.reset();
    }

    /// Sum of the hit counts of the `/dableFiles/` paths (percent-decoded) that contain
    /// `needle` (a neuron name, a full path, ...).
    pub fn file_hits(&self, needle: &str) -> usize {
        lock(&self.shared.file_hits)
            .iter()
            .filter(|(p, _)| p.contains(needle))
            .map(|(_, n)| n)
            .sum()
    }

    /// Highest hit count of a single file path (1 = nothing was fetched twice).
    pub fn max_file_hits(&self) -> usize {
        lock(&self.shared.file_hits)
            .values()
            .copied()
            .max()
            .unwrap_or(0)
    }

    /// The requests received so far (not `/__fake/...`), in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Turns request recording on or off (off for long benchmark runs).
    pub fn set_recording(&self, on: bool) {
        self.shared.recording.store(on, Ordering::SeqCst);
    }

    /// Sleep this long before every answer (each connection sleeps independently).
    pub fn set_latency(&self, latency: Duration) {
        self.shared
            .latency_ns
            .store(latency.as_nanos() as u64, Ordering::SeqCst);
    }

    /// Makes `/api/morphometry/select` answer 400.
    pub fn set_refuse_morphometry_batch(&self, refuse: bool) {
        self.shared
            .refuse_morphometry_batch
            .store(refuse, Ordering::SeqCst);
    }

    /// Makes `/api/pvec/select` answer 400 (`/api/pvec/id/{id}` still answers).
    pub fn set_refuse_pvec_batch(&self, refuse: bool) {
        self.shared
            .refuse_pvec_batch
            .store(refuse, Ordering::SeqCst);
    }

    /// Leaves the vectors of these neuron ids out of every `/api/pvec/select` answer, while
    /// `/api/pvec/id/{id}` still serves them (an empty list turns it off).
    pub fn set_pvec_select_omits(&self, ids: &[u64]) {
        *lock(&self.shared.pvec_select_omits) = ids.iter().copied().collect();
    }

    /// With [`FakeServer::set_pvec_select_omits`]: the select's `totalElements` still counts
    /// the vectors it leaves out (the answer says it holds more than it carries).
    pub fn set_pvec_omits_counted(&self, on: bool) {
        self.shared.pvec_omits_counted.store(on, Ordering::SeqCst);
    }

    /// Serves the vectors of these neuron ids with 99 coefficients instead of 100, in both
    /// forms (an empty list turns it off).
    pub fn set_pvec_malformed(&self, ids: &[u64]) {
        *lock(&self.shared.pvec_malformed) = ids.iter().copied().collect();
    }

    /// Adds a fault rule; the first rule matching a request applies (rules with `times == 0`
    /// are ignored).
    pub fn push_fault(&self, rule: FaultRule) {
        if rule.times > 0 {
            lock(&self.shared.faults).push(rule);
        }
    }

    /// Removes all fault rules.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Remaining applications of all fault rules (0 once every rule was used up).
    pub fn pending_faults(&self) -> usize {
        lock(&self.shared.faults).iter().map(|r| r.times).sum()
    }

    /// With `Some((user, password))`, every request (but `/__fake/...`) without the header
    /// `Authorization: Basic base64(user:password)` gets `401 Unauthorized` with
    /// `WWW-Authenticate: Basic realm="NeuroMorpho.Org"` and a JSON error body, before any
    /// fault rule is consumed (a 401 is counted like any request). `None` turns it off. The
    /// recorded requests keep the header ([`RecordedRequest::header`]).
    pub fn require_basic_auth(&self, credentials: Option<(&str, &str)>) {
        *lock(&self.shared.basic_auth) = credentials.map(|(user, password)| {
            format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
        });
    }

    /// A lying count: with `Some(n)`, every `/api/neuron` and `/api/neuron/select` answer
    /// (counts and pages) reports `page.totalElements = n` and the matching `totalPages`,
    /// whatever the real hits (a [`Fault::ReportTotalDelta`] still shifts it). Pages past the
    /// real end answer as the real server would: a select with 404 `No neurons found`,
    /// `/api/neuron` with an empty page (no `_embedded`). `None` turns it off.
    pub fn set_announced_total(&self, total: Option<u64>) {
        *lock(&self.shared.announced_total) = total;
    }

    /// Turns the validators of `/dableFiles/` answers on (the default) or off: `ETag` and
    /// `Last-Modified` headers, and `304 Not Modified` to a matching `If-None-Match` or
    /// `If-Modified-Since`. Off, files never carry them and conditional headers are ignored
    /// (still counted in [`Counters::conditional`]), for clients that must fall back to
    /// comparing hashes.
    pub fn set_validators(&self, on: bool) {
        self.shared.validators.store(on, Ordering::SeqCst);
    }

    /// Switches the running server to release `n` (1 is the default): every 5th existing
    /// neuron (a different fifth each release) gets a reprocessed CNG body (an extra first line
    /// `# reprocessed in release n`), a new `ETag` and a later `Last-Modified`; `max(1, 10%)`
    /// new neurons with fresh ids and names are appended, visible in counts, pages, selects,
    /// value lists and look-ups. Unchanged files keep their validators. See
    /// [`Catalog::changed_in_release`], [`Catalog::added_in_release`],
    /// [`Catalog::cng_bytes`], [`Catalog::cng_etag`] and [`Catalog::cng_last_modified`].
    pub fn set_release(&self, n: u32) {
        self.shared.catalog.set_release(n);
    }

    /// Faults each request with probability `rate` (0 turns it off), drawn from 503, 429
    /// (`Retry-After: 0`), RST before headers, truncated body and HTML 200, never more than
    /// twice in a row for the same request target. Deterministic for a given `seed` and
    /// request order.
    pub fn set_random_faults(&self, rate: f64, seed: u64) {
        *lock(&self.shared.random) = (rate > 0.0).then(|| RandomFaults {
            rate,
            state: seed,
            streaks: HashMap::new(),
        });
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Unblock accept() with a connection of our own.
        let _ = TcpStream::connect_timeout(&self.shared.addr, Duration::from_secs(1));
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
        for (_, stream) in lock(&self.shared.conns).drain() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

pub(super) fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = conn else {
            // EMFILE and friends: back off instead of spinning.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        shared.counters.connections.fetch_add(1, Ordering::SeqCst);
        let id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.conns).insert(id, clone);
        }
        let conn_shared = shared.clone();
        let spawned = thread::Builder::new()
            .name("fake-conn".into())
            .spawn(move || serve_connection(conn_shared, stream, id));
        if spawned.is_err() {
            lock(&shared.conns).remove(&id);
        }
    }
}

pub(super) fn serve_connection(shared: Arc<Shared>, stream: TcpStream, id: u64) {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream);
    let action = loop {
        let mut flight = InFlight::idle();
        let read = read_request(&mut reader, &mut |target| {
            if !is_control(target) {
                flight = InFlight::enter(&shared.in_flight, &shared.transfer.in_flight_max);
            }
        });
        match read {
            Ok(Some(req)) => match shared.serve(&req, reader.get_mut(), &mut flight) {
                Action::KeepAlive => continue,
                other => break other,
            },
            Ok(None) | Err(ReadError::Closed) => break Action::Close,
            Err(ReadError::Bad(message)) => {
                let (bytes, _) = json_error(400, "", message).serialize(false, true);
                flight.end();
                let _ = reader.get_mut().write_all(&bytes);
                break Action::Close;
            }
        }
    };
    // The registry holds a dup of the socket: drop it first, or close/RST would not happen.
    lock(&shared.conns).remove(&id);
    let stream = reader.into_inner();
    match action {
        Action::Reset => reset(stream),
        _ => drop(stream),
    }
}

impl Shared {
    pub(super) fn reset(&self) {
        self.counters.reset();
        self.transfer.reset();
        // The high-water mark restarts from the requests still being handled.
        let now = self.in_flight.load(Ordering::SeqCst);
        self.transfer.in_flight_max.fetch_max(now, Ordering::SeqCst);
        lock(&self.file_hits).clear();
        lock(&self.requests).clear();
    }

    /// One request's life: count it, sleep the latency, check credentials, pick a fault,
    /// route, and write the answer as the fault says. `flight` ends just before the last
    /// write (or when the request is faulted).
    pub(super) fn serve(
        &self,
        req: &Request,
        stream: &mut TcpStream,
        flight: &mut InFlight<'_>,
    ) -> Action {
        let path = strip_context(&req.path);
        if let Some(command) = path.strip_prefix("/__fake/") {
            return self.control(command, req, stream);
        }
        let decoded = percent_decode(path);
        let category = classify(&decoded, req);
        self.count(category, &decoded, req);

        let latency = self.latency_ns.load(Ordering::SeqCst);
        if latency > 0 {
            thread::sleep(Duration::from_nanos(latency));
        }
        let info = ReqInfo {
            category,
            page: req.param("page").and_then(|p| p.parse().ok()).unwrap_or(0),
            decoded,
            target: req.target.clone(),
        };
        let unauthorized = self.check_auth(req);
        let fault = match unauthorized {
            Some(_) => None,
            None => self.pick_fault(&info),
        };
        if fault.is_some() {
            self.counters.faults.fetch_add(1, Ordering::SeqCst);
        }
        let resp = match unauthorized {
            Some(r) => r,
            None => match &fault {
                Some(Fault::ResetBeforeHeaders) => {
                    flight.end();
                    return Action::Reset;
                }
                Some(Fault::Status(code)) => json_error(*code, &req.path, "Injected fault"),
                Some(Fault::TooMany { retry_after }) => {
                    let mut r = json_error(429, &req.path, "Too many requests");
                    r.headers.push(("Retry-After", retry_after.clone()));
                    r
                }
                Some(Fault::Html200) => Response::new(200, "text/html", ERROR_PAGE_HTML),
                Some(Fault::Delay(d)) => {
                    thread::sleep(*d);
                    self.route(req, category, 0)
                }
                Some(Fault::ReportTotalDelta(delta)) => self.route(req, category, *delta),
                Some(Fault::MalformedJson) => {
                    let mut r = self.route(req, category, 0);
                    r.body.truncate(r.body.len() / 2);
                    r.status = 200;
                    r.content_type = JSON;
                    r
                }
                Some(Fault::Partial206) => partial_content(self.route(req, category, 0)),
                Some(Fault::NotModified) => {
                    let mut r = self.route(req, category, 0);
                    r.status = 304;
                    r.body.clear();
                    r.file_body = false;
                    r
                }
                Some(Fault::Empty200) => Response::new(200, "text/plain", Vec::new()),
                _ => self.route(req, category, 0),
            },
        };
        let head_only = req.method == "HEAD";
        match fault {
            Some(Fault::Trickle { interval }) => {
                self.count_answer(category, &resp, !head_only);
                self.write_trickle(stream, &resp, head_only, req.close, interval, flight)
            }
            Some(Fault::CloseDelimited { cut_at }) => {
                let len = resp.body.len().min(cut_at.unwrap_or(usize::MAX));
                let mut bytes = resp.head(None, true).into_bytes();
                if !head_only && resp.status != 304 {
                    bytes.extend_from_slice(&resp.body[..len]);
                }
                self.count_answer(category, &resp, !head_only && len > 0);
                flight.end();
                if stream
                    .write_all(&bytes)
                    .and_then(|_| stream.flush())
                    .is_ok()
                {
                    let _ = stream.shutdown(Shutdown::Write);
                }
                Action::Close
            }
            fault => self.write_answer(stream, &resp, req, category, fault, flight),
        }
    }

    /// The usual write: one buffer, cut in half for `Truncate` and `ResetAfterHeaders`.
    fn write_answer(
        &self,
        stream: &mut TcpStream,
        resp: &Response,
        req: &Request,
        category: Category,
        fault: Option<Fault>,
        flight: &mut InFlight<'_>,
    ) -> Action {
        let cut = matches!(fault, Some(Fault::Truncate | Fault::ResetAfterHeaders));
        let close = req.close || cut;
        let head_only = req.method == "HEAD";
        let (bytes, head_len) = resp.serialize(head_only, close);
        let sent = if cut {
            head_len + (bytes.len() - head_len) / 2
        } else {
            bytes.len()
        };
        self.count_answer(category, resp, sent > head_len);
        flight.end();
        if stream
            .write_all(&bytes[..sent])
            .and_then(|_| stream.flush())
            .is_err()
        {
            return Action::Close;
        }
        match fault {
            Some(Fault::Truncate) => {
                let _ = stream.shutdown(Shutdown::Write);
                Action::Close
            }
            Some(Fault::ResetAfterHeaders) => {
                // Let the partial answer reach the client before the RST overtakes it.
                thread::sleep(Duration::from_millis(20));
                Action::Reset
            }
            _ if close => Action::Close,
            _ => Action::KeepAlive,
        }
    }

    /// `Fault::Trickle`: the head at once, then one body byte per `interval`.
    fn write_trickle(
        &self,
        stream: &mut TcpStream,
        resp: &Response,
        head_only: bool,
        close: bool,
        interval: Duration,
        flight: &mut InFlight<'_>,
    ) -> Action {
        let (bytes, head_len) = resp.serialize(head_only, close);
        if bytes.len() == head_len {
            flight.end();
        }
        if stream.write_all(&bytes[..head_len]).is_err() {
            return Action::Close;
        }
        for (k, byte) in bytes[head_len..].iter().enumerate() {
            thread::sleep(interval);
            if self.stop.load(Ordering::SeqCst) {
                return Action::Close;
            }
            if head_len + k + 1 == bytes.len() {
                flight.end();
            }
            if stream.write_all(std::slice::from_ref(byte)).is_err() {
                return Action::Close;
            }
        }
        if close {
            Action::Close
        } else {
            Action::KeepAlive
        }
    }

    /// Counters of what an answer is about to send: `not_modified` and `file_bodies`.
    /// Counted before the write, so that a client that has the answer sees them.
    fn count_answer(&self, category: Category, resp: &Response, sends_body: bool) {
        if resp.status == 304 {
            self.transfer.not_modified.fetch_add(1, Ordering::SeqCst);
        }
        if category == Category::Files && resp.file_body && sends_body && !resp.body.is_empty() {
            self.transfer.file_bodies.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The 401 answer when credentials are required and `req` lacks them.
    fn check_auth(&self, req: &Request) -> Option<Response> {
        let expected = lock(&self.basic_auth).clone()?;
        let given = req.header("authorization").unwrap_or("");
        let matches = given.split_once(' ').is_some_and(|(scheme, token)| {
            scheme.eq_ignore_ascii_case("basic")
                && Some(token.trim()) == expected.strip_prefix("Basic ")
        });
        if matches {
            return None;
        }
        let mut r = json_error(
            401,
            &req.path,
            "Full authentication is required to access this resource",
        );
        r.headers.push((
            "WWW-Authenticate",
            "Basic realm=\"NeuroMorpho.Org\"".to_string(),
        ));
        Some(r)
    }

    pub(super) fn count(&self, category: Category, decoded: &str, req: &Request) {
        let c = &self.counters;
        c.requests.fetch_add(1, Ordering::SeqCst);
        let cell = match category {
            Category::Count => &c.count,
            Category::Pages => &c.pages,
            Category::Fields => &c.fields,
            Category::FieldValues => &c.field_values,
            Category::Partition => &c.partition,
            Category::Records => &c.records,
            Category::Morphometry => &c.morphometry,
            Category::PvecSelect => &c.pvec_select,
            Category::PvecId => &c.pvec_id,
            Category::Files => &c.files,
            Category::Jsp => &c.jsp,
            Category::Health => &c.health,
            Category::Other => &c.other,
        };
        cell.fetch_add(1, Ordering::SeqCst);
        let conditional = ["if-none-match", "if-modified-since"];
        if category == Category::Files && conditional.iter().any(|h| req.header(h).is_some()) {
            self.transfer.conditional.fetch_add(1, Ordering::SeqCst);
        }
        if category == Category::Files {
            *lock(&self.file_hits)
                .entry(decoded.to_string())
                .or_insert(0) += 1;
        }
        if self.recording.load(Ordering::SeqCst) {
            lock(&self.requests).push(RecordedRequest {
                method: req.method.clone(),
                target: req.target.clone(),
                user_agent: req.header("user-agent").map(str::to_string),
                headers: req.headers.clone(),
            });
        }
    }

    pub(super) fn pick_fault(&self, info: &ReqInfo) -> Option<Fault> {
        {
            let mut rules = lock(&self.faults);
            if let Some(pos) = rules.iter().position(|r| r.target.matches(info)) {
                let fault = rules[pos].fault.clone();
                rules[pos].times -= 1;
                if rules[pos].times == 0 {
                    rules.remove(pos);
                }
                return Some(fault);
            }
        }
        lock(&self.random)
            .as_mut()
            .and_then(|r| r.draw(&info.target))
    }

    pub(super) fn control(&self, command: &str, req: &Request, stream: &mut TcpStream) -> Action {
        let resp = match command {
            "stats" => {
                // One flat object: the request counters, the transfer counters, max_file_hits.
                let mut stats = Counters::load(&self.counters).to_map();
                stats.extend(TransferCounters::load(&self.transfer).to_map());
                let max = lock(&self.file_hits).values().copied().max().unwrap_or(0);
                stats.insert("max_file_hits".into(), max.into());
                Response::json(Value::Object(stats).to_string())
            }
            "reset" => {
                self.reset();
                Response::json(r#"{"reset":true}"#)
            }
            _ => json_error(404, &req.path, "Unknown control command"),
        };
        let (bytes, _) = resp.serialize(req.method == "HEAD", req.close);
        match stream.write_all(&bytes) {
            Ok(()) if !req.close => Action::KeepAlive,
            _ => Action::Close,
        }
    }
}

/// `Fault::Partial206`: the first third of the body as a `206 Partial Content`.
fn partial_content(mut r: Response) -> Response {
    let n = r.body.len();
    let k = if n == 0 { 0 } else { (n / 3).max(1) };
    let range = if k == 0 {
        format!("bytes */{n}")
    } else {
        format!("bytes 0-{}/{n}", k - 1)
    };
    r.status = 206;
    r.headers.push(("Content-Range", range));
    r.body.truncate(k);
    r
}
