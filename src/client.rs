//! The HTTP client: configuration, and the one request function that every API call and every
//! file download goes through (politeness, retries, status and error mapping).

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use ureq::http::Response;
use ureq::Body;

use crate::error::{Error, FailureKind, Result};

/// The default server.
pub const DEFAULT_BASE_URL: &str = "https://neuromorpho.org";
/// The alternate host documented by NeuroMorpho.Org (plain HTTP), often up when the main one is not.
pub const ALTERNATE_BASE_URL: &str = "http://cng.gmu.edu:8080";
/// The default User-Agent: the server asks clients to identify themselves.
pub const DEFAULT_USER_AGENT: &str = concat!(
    "neuromorpho/",
    env!("CARGO_PKG_VERSION"),
    " (+",
    env!("CARGO_PKG_REPOSITORY"),
    ")"
);
/// Parallel requests by default (neuromorphopy's default).
pub const DEFAULT_CONCURRENCY: usize = 20;
/// The largest concurrency accepted.
pub const MAX_CONCURRENCY: usize = 64;

/// Where proxy settings come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyMode {
    /// `ALL_PROXY`, `HTTPS_PROXY`, `HTTP_PROXY` (and lower-case forms), as ureq reads them.
    Env,
    /// No proxy at all (tests, and hosts whose proxy variables are wrong).
    None,
    /// This proxy URL, e.g. `http://user:pass@proxy:3128`.
    Url(String),
}

/// Builds a [`Client`]. Every setting has a sensible default.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    concurrency: usize,
    user_agent: String,
    connect_timeout: Duration,
    read_timeout: Duration,
    proxy: ProxyMode,
    retries: u32,
    retry_base_delay: Duration,
    max_retry_after: Duration,
    rate: f64,
    max_file_size: u64,
    insecure: bool,
    ca_files: Vec<PathBuf>,
    /// Set for a client derived from one that already warned about `insecure`.
    already_warned: bool,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            base_url: DEFAULT_BASE_URL.to_string(),
            concurrency: DEFAULT_CONCURRENCY,
            user_agent: DEFAULT_USER_AGENT.to_string(),
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(60),
            proxy: ProxyMode::Env,
            retries: 4,
            retry_base_delay: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(180),
            rate: 5.0,
            max_file_size: 1 << 30,
            insecure: false,
            ca_files: Vec::new(),
            already_warned: false,
        }
    }
}

impl ClientBuilder {
    /// The server, e.g. `https://neuromorpho.org`, `http://cng.gmu.edu:8080` or
    /// `http://127.0.0.1:8080`. The API is under `/api`, files under `/dableFiles`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }
    /// Parallel requests (page fetches and downloads), 1..=64. Default 20.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }
    /// Replace the User-Agent (default `neuromorpho/<version> (+<repository>)`).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }
    /// Time allowed for DNS, TCP connect and the TLS handshake. Default 15 s.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }
    /// Time allowed waiting for the headers, and for each read of a body (a stall detector,
    /// not a cap on a whole large download). Default 60 s.
    pub fn read_timeout(mut self, t: Duration) -> Self {
        self.read_timeout = t;
        self
    }
    /// Proxy settings. Default: from the environment.
    pub fn proxy(mut self, p: ProxyMode) -> Self {
        self.proxy = p;
        self
    }
    /// Attempts per request (1 = no retry). Default 4.
    pub fn retries(mut self, attempts: u32) -> Self {
        self.retries = attempts;
        self
    }
    /// First retry delay; it doubles on each attempt, with jitter. Default 500 ms.
    pub fn retry_base_delay(mut self, d: Duration) -> Self {
        self.retry_base_delay = d;
        self
    }
    /// Upper bound for a server's `Retry-After`. Default 3 minutes.
    pub fn max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }
    /// API requests per second shared by all threads (0 = unlimited). Default 5, the rate
    /// NeuroMorpho.Org says it is comfortable with. File downloads are bounded by concurrency.
    pub fn rate(mut self, per_second: f64) -> Self {
        self.rate = per_second;
        self
    }
    /// Largest file accepted; a larger body is abandoned as `too-large`. Default 1 GiB.
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }
    /// Turn TLS certificate verification off. Dangerous; logged as a warning when the client is built.
    pub fn insecure(mut self, yes: bool) -> Self {
        self.insecure = yes;
        self
    }
    /// Add the certificates of a PEM file to the built-in roots (a site proxy's CA, or the
    /// intermediate a server forgets to send). May be called more than once.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_files.push(path.into());
        self
    }

    /// Check the settings and build the client.
    pub fn build(self) -> Result<Client> {
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(Error::Config(format!(
                "concurrency must be between 1 and {MAX_CONCURRENCY}, got {}",
                self.concurrency
            )));
        }
        if self.retries == 0 {
            return Err(Error::Config("retries must be at least 1".into()));
        }
        if !(self.rate >= 0.0 && self.rate.is_finite()) {
            return Err(Error::Config(format!(
                "rate must be 0 (unlimited) or a positive number, got {}",
                self.rate
            )));
        }
        if self.user_agent.trim().is_empty() {
            return Err(Error::Config("the User-Agent must not be empty".into()));
        }
        let base_url = normalize_base_url(&self.base_url)?;

        let mut ca_files = self.ca_files.clone();
        // SSL_CERT_FILE is how HPC sites point tools at their CA bundle.
        if let Some(p) = std::env::var_os("SSL_CERT_FILE") {
            if !p.is_empty() {
                ca_files.push(PathBuf::from(p));
            }
        }
        let tls = crate::tls::tls_config(self.insecure, &ca_files)?;
        if self.insecure && !self.already_warned {
            log::warn!(
                "TLS certificate verification is OFF (--insecure): answers could come from anyone"
            );
        }

        let proxy = match &self.proxy {
            // We talk to one host only, so NO_PROXY is decided here, the way curl reads it
            // (ureq does not trim entries, and its bare `example.org` misses subdomains).
            ProxyMode::Env if bypasses_proxy(&base_url) => None,
            ProxyMode::Env => ureq::Proxy::try_from_env(),
            ProxyMode::None => None,
            ProxyMode::Url(u) => Some(
                ureq::Proxy::new(u).map_err(|e| Error::Config(format!("proxy URL '{u}': {e}")))?,
            ),
        };
        log::debug!(
            "proxy: {}",
            proxy
                .as_ref()
                .map(|p| format!("{}:{}", p.host(), p.port()))
                .unwrap_or_else(|| "none".into())
        );

        let agent: ureq::Agent = ureq::Agent::config_builder()
            .user_agent(self.user_agent.as_str())
            // Statuses are mapped by us, so that Retry-After and the error body are not lost.
            .http_status_as_error(false)
            .timeout_connect(Some(self.connect_timeout))
            .timeout_recv_response(Some(self.read_timeout))
            .timeout_per_read(Some(self.read_timeout))
            // ureq keeps 3 idle connections per host by default; every worker must find its
            // connection again, or each request pays a new TCP (and TLS) handshake.
            .max_idle_connections(self.concurrency.max(10) + 2)
            .max_idle_connections_per_host(self.concurrency + 2)
            .proxy(proxy)
            .tls_config(tls)
            .build()
            .into();

        let interval = if self.rate > 0.0 {
            Duration::from_secs_f64(1.0 / self.rate)
        } else {
            Duration::ZERO
        };
        let settings = self.clone();
        Ok(Client {
            inner: Arc::new(Inner {
                settings,
                agent,
                base_url,
                concurrency: self.concurrency,
                retries: self.retries,
                retry_base_delay: self.retry_base_delay,
                max_retry_after: self.max_retry_after,
                max_file_size: self.max_file_size,
                politeness: Politeness::new(interval),
                requests: AtomicU64::new(0),
                user_agent: self.user_agent,
            }),
        })
    }
}

/// True when `NO_PROXY`/`no_proxy` lists the base URL's host.
fn bypasses_proxy(base_url: &str) -> bool {
    let list = std::env::var("NO_PROXY")
        .or_else(|_| std::env::var("no_proxy"))
        .unwrap_or_default();
    no_proxy_matches(&host_of(base_url), &list)
}

/// The host of `scheme://host[:port]/...`, lower-cased, without brackets or port.
fn host_of(url: &str) -> String {
    host_and_port(url).0.to_ascii_lowercase()
}

/// Host (without IPv6 brackets) and port, if given, of `scheme://host[:port]/...`.
pub(crate) fn host_and_port(url: &str) -> (String, Option<u16>) {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let hostport = rest.split('/').next().unwrap_or("");
    let (host, port) = match hostport.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']').unwrap_or((v6, ""));
            (h, after.strip_prefix(':'))
        }
        None => match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        },
    };
    (host.to_string(), port.and_then(|p| p.parse().ok()))
}

/// curl's reading of a NO_PROXY list: comma-separated, spaces trimmed, `*` for all, an entry
/// matches the host itself and its subdomains (a leading `.` or `*.` changes nothing), an
/// optional `:port` is ignored.
fn no_proxy_matches(host: &str, list: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let entry = entry.trim_start_matches('*').trim_start_matches('.');
            let entry = match entry.strip_prefix('[') {
                Some(v6) => v6.split(']').next().unwrap_or(""),
                None if entry.matches(':').count() == 1 => entry.split(':').next().unwrap_or(""),
                None => entry,
            };
            let entry = entry.to_ascii_lowercase();
            !entry.is_empty() && (host == entry || host.ends_with(&format!(".{entry}")))
        })
}

fn normalize_base_url(url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            Error::Config(format!(
                "base URL '{url}' must start with http:// or https://"
            ))
        })?;
    if rest.is_empty() || rest.contains(char::is_whitespace) || rest.contains(['?', '#']) {
        return Err(Error::Config(format!(
            "base URL '{url}' is not a valid URL"
        )));
    }
    Ok(url.to_string())
}

/// A NeuroMorpho.Org client. Cheap to clone; clones share connections and the rate limiter.
///
/// Built with [`Client::builder`]. All calls block; parallel work runs on a local thread pool
/// of [`concurrency`](ClientBuilder::concurrency) threads.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// The settings this client was built from (to derive variants, e.g. for `doctor`).
    settings: ClientBuilder,
    agent: ureq::Agent,
    pub(crate) base_url: String,
    pub(crate) concurrency: usize,
    retries: u32,
    retry_base_delay: Duration,
    max_retry_after: Duration,
    pub(crate) max_file_size: u64,
    politeness: Politeness,
    requests: AtomicU64,
    user_agent: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("concurrency", &self.inner.concurrency)
            .field("user_agent", &self.inner.user_agent)
            .finish()
    }
}

/// What a request is for: API calls are rate-limited, file downloads only bounded by concurrency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Api,
    File,
}

/// Why one attempt failed, before we decide whether to try again.
#[derive(Debug)]
pub(crate) struct Failure {
    pub kind: FailureKind,
    pub detail: String,
    pub retry_after: Option<Duration>,
    /// The server said it is overloaded (429 or 503): everyone slows down.
    pub throttle: bool,
}

impl Failure {
    pub(crate) fn new(kind: FailureKind, detail: impl Into<String>) -> Failure {
        Failure {
            kind,
            detail: detail.into(),
            retry_after: None,
            throttle: false,
        }
    }
}

impl Client {
    /// A builder with the defaults: `https://neuromorpho.org`, concurrency 20, 4 attempts,
    /// 5 API requests per second, proxies from the environment, TLS verification on.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client with every default.
    pub fn new() -> Result<Client> {
        ClientBuilder::default().build()
    }

    /// A client like this one that tries every request once (diagnosis, quick checks).
    pub(crate) fn single_attempt(&self) -> Result<Client> {
        let mut settings = self.inner.settings.clone().retries(1);
        settings.already_warned = true;
        settings.build()
    }

    /// The server this client talks to (without a trailing slash).
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// TLS certificate verification is off (`insecure(true)`).
    pub(crate) fn is_insecure(&self) -> bool {
        self.inner.settings.insecure
    }

    /// The configured concurrency.
    pub fn concurrency(&self) -> usize {
        self.inner.concurrency
    }

    /// HTTP requests sent so far by this client and its clones (retries included).
    pub fn requests_sent(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    pub(crate) fn api_url(&self, path: &str) -> String {
        format!("{}/api/{}", self.inner.base_url, path)
    }

    pub(crate) fn thread_pool(&self, name: &'static str) -> Result<rayon::ThreadPool> {
        rayon::ThreadPoolBuilder::new()
            .num_threads(self.inner.concurrency)
            .thread_name(move |i| format!("{name}-{i}"))
            .build()
            .map_err(|e| Error::Config(format!("cannot start {name} threads: {e}")))
    }

    /// GET an API URL and parse its JSON. `what` names the request in errors ("page 3 of ...").
    pub(crate) fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        query: &[(&str, String)],
        what: &str,
        quiet_not_found: bool,
    ) -> Result<T> {
        self.request(Kind::Api, url, query, quiet_not_found, |resp| {
            // API pages (500 records) are well under a few MB; 64 MiB guards against nonsense.
            let bytes = resp
                .into_body()
                .into_with_config()
                .limit(64 << 20)
                .read_to_vec()
                .map_err(|e| classify_ureq(&e))?;
            serde_json::from_slice::<T>(&bytes).map_err(|e| {
                Failure::new(
                    FailureKind::BadJson,
                    format!("malformed JSON from {what}: {e}"),
                )
            })
        })
    }

    /// The one request function. Sends a GET, maps statuses and transport errors to a
    /// [`FailureKind`], lets `handle` consume a successful response (parse it, or stream it to
    /// a file), and tries again on transient failures with exponential backoff and jitter,
    /// honouring `Retry-After`.
    pub(crate) fn request<T>(
        &self,
        kind: Kind,
        url: &str,
        query: &[(&str, String)],
        quiet_not_found: bool,
        mut handle: impl FnMut(Response<Body>) -> std::result::Result<T, Failure>,
    ) -> Result<T> {
        let inner = &*self.inner;
        let shown_url = display_url(url, query);
        let mut attempt = 0;
        loop {
            attempt += 1;
            inner.politeness.before(kind);
            inner.requests.fetch_add(1, Ordering::Relaxed);
            let sent = inner
                .agent
                .get(url)
                .query_pairs(query.iter().map(|(k, v)| (*k, v.as_str())))
                .call();
            let outcome = match sent {
                Err(e) => Err(classify_ureq(&e)),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    if (200..300).contains(&status) {
                        handle(resp)
                    } else {
                        Err(status_failure(resp))
                    }
                }
            };
            let failure = match outcome {
                Ok(v) => {
                    inner.politeness.succeeded();
                    return Ok(v);
                }
                Err(f) => f,
            };
            if failure.throttle {
                inner.politeness.throttled(
                    failure
                        .retry_after
                        .unwrap_or(inner.retry_base_delay)
                        .min(inner.max_retry_after),
                );
            }
            if failure.kind.is_transient() && attempt < inner.retries {
                let delay = match failure.retry_after {
                    Some(d) => d.min(inner.max_retry_after),
                    None => backoff(inner.retry_base_delay, attempt),
                };
                log::debug!(
                    "attempt {attempt}/{} for {shown_url} failed: {} [{}]; retrying in {:.1}s",
                    inner.retries,
                    failure.detail,
                    failure.kind,
                    delay.as_secs_f64()
                );
                std::thread::sleep(delay);
                continue;
            }
            // A failed download goes into a report and the run goes on: warn. A failed API
            // call comes back to the caller as an Err, which reports it once: info (log file).
            let level = match (kind, failure.kind) {
                (_, FailureKind::NotFound) if quiet_not_found => log::Level::Debug,
                (Kind::File, _) => log::Level::Warn,
                (Kind::Api, _) => log::Level::Info,
            };
            log::log!(
                level,
                "{shown_url}: {} [{}] (after {attempt} attempt{})",
                failure.detail,
                failure.kind,
                if attempt == 1 { "" } else { "s" }
            );
            return Err(Error::Request {
                url: shown_url,
                kind: failure.kind,
                detail: failure.detail,
            });
        }
    }
}

/// The URL as a user would type it, for messages and `failed.csv`.
fn display_url(url: &str, query: &[(&str, String)]) -> String {
    if query.is_empty() {
        return url.to_string();
    }
    let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{url}?{}", q.join("&"))
}

/// Exponential backoff with jitter: base * 2^(attempt-1), times a factor in [0.5, 1.5).
fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << (attempt - 1).min(10));
    exp.mul_f64(0.5 + jitter())
}

/// A cheap random number in [0, 1): jitter only needs to spread threads apart.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Map a non-2xx response to a failure, reading a little of its body for the message.
fn status_failure(resp: Response<Body>) -> Failure {
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let mut text = String::new();
    let _ = resp
        .into_body()
        .into_reader()
        .take(16 * 1024)
        .read_to_string(&mut text);
    let message = error_message(&text);
    let kind = match status {
        404 => FailureKind::NotFound,
        429 => FailureKind::RateLimited,
        408 => FailureKind::Timeout,
        500..=599 => FailureKind::Http5xx,
        _ => FailureKind::Http4xx,
    };
    let mut detail = format!("{status} {}", reason(status));
    if let Some(m) = message {
        detail.push_str(": ");
        detail.push_str(&m);
    }
    Failure {
        kind,
        detail,
        retry_after,
        throttle: status == 429 || status == 503,
    }
}

/// The `message` of a Spring-style JSON error body, or the start of a text body.
fn error_message(body: &str) -> Option<String> {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        if let Some(m) = v.get("message").and_then(|m| m.as_str()) {
            return Some(m.to_string());
        }
    }
    let trimmed = body.trim();
    if trimmed.is_empty() || trimmed.starts_with('<') {
        return None;
    }
    Some(
        trimmed
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect(),
    )
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(value)?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Parse an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`.
fn parse_http_date(s: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let day: u64 = parts[1].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])? as u64
        + 1;
    let year: i64 = parts[3].parse().ok()?;
    let hms: Vec<u64> = parts[4]
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if hms.len() != 3 || !(1..=31).contains(&day) || year < 1970 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m as i64 + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let secs = days as u64 * 86400 + hms[0] * 3600 + hms[1] * 60 + hms[2];
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Map a ureq error to a failure class with a message a user can act on.
pub(crate) fn classify_ureq(e: &ureq::Error) -> Failure {
    use ureq::Error as U;
    let (kind, detail) = match e {
        U::Timeout(t) => (FailureKind::Timeout, format!("timed out ({t})")),
        U::HostNotFound => (
            FailureKind::Connection,
            "DNS lookup failed: host not found".to_string(),
        ),
        U::ConnectionFailed => (FailureKind::Connection, "connection failed".to_string()),
        U::Io(io) => return classify_io(io),
        U::Tls(m) => (FailureKind::Tls, format!("TLS failure: {m}")),
        U::Rustls(r) => (FailureKind::Tls, tls_message(r)),
        U::BodyExceedsLimit(n) => (FailureKind::TooLarge, format!("body larger than {n} bytes")),
        other => (FailureKind::Connection, other.to_string()),
    };
    Failure::new(kind, detail)
}

/// Map an I/O error from a socket or a body reader.
pub(crate) fn classify_io(io: &std::io::Error) -> Failure {
    use std::io::ErrorKind as K;
    if let Some(inner) = io.get_ref() {
        if let Some(u) = inner.downcast_ref::<ureq::Error>() {
            return classify_ureq(u);
        }
        if let Some(r) = inner.downcast_ref::<rustls::Error>() {
            return Failure::new(FailureKind::Tls, tls_message(r));
        }
    }
    let (kind, what) = match io.kind() {
        K::ConnectionRefused => (FailureKind::Connection, "connection refused"),
        K::ConnectionReset => (FailureKind::Connection, "connection reset by the server"),
        K::ConnectionAborted => (FailureKind::Connection, "connection aborted"),
        K::UnexpectedEof => (
            FailureKind::Connection,
            "connection closed before the answer was complete",
        ),
        K::BrokenPipe => (FailureKind::Connection, "connection closed (broken pipe)"),
        K::TimedOut | K::WouldBlock => (FailureKind::Timeout, "timed out"),
        _ => (FailureKind::Connection, "network error"),
    };
    Failure::new(kind, format!("{what} ({io})"))
}

fn tls_message(r: &rustls::Error) -> String {
    use rustls::{CertificateError, Error as R};
    match r {
        R::InvalidCertificate(CertificateError::UnknownIssuer) => "TLS certificate not trusted (unknown issuer: self-signed, a site proxy, or an incomplete chain; try --ca-file)".to_string(),
        R::InvalidCertificate(CertificateError::Expired) => "TLS certificate expired".to_string(),
        R::InvalidCertificate(CertificateError::NotValidForName) => "TLS certificate is not valid for this host name".to_string(),
        R::InvalidCertificate(c) => format!("TLS certificate rejected: {c:?}"),
        R::AlertReceived(a) => format!("TLS handshake refused by the server ({a:?}; the server may offer only legacy ciphers)"),
        other => format!("TLS failure: {other}"),
    }
}

/// Shared politeness: a rate limiter for API requests and a pause for everyone after the
/// server says it is overloaded (429/503).
struct Politeness {
    interval: Duration,
    state: Mutex<PoliteState>,
}

struct PoliteState {
    next_api: Instant,
    pause_until: Instant,
    /// Multiplies the API interval after throttling answers; decays on success.
    slow_factor: u32,
    successes: u32,
}

impl Politeness {
    fn new(interval: Duration) -> Politeness {
        let now = Instant::now();
        Politeness {
            interval,
            state: Mutex::new(PoliteState {
                next_api: now,
                pause_until: now,
                slow_factor: 1,
                successes: 0,
            }),
        }
    }

    /// Wait for our turn: reserve the next API slot (so threads queue fairly), then sleep.
    fn before(&self, kind: Kind) {
        let wait = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let mut at = s.pause_until.max(now);
            if kind == Kind::Api && !self.interval.is_zero() {
                at = at.max(s.next_api);
                s.next_api = at + self.interval * s.slow_factor;
            }
            at - now
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    fn throttled(&self, pause: Duration) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.pause_until = s.pause_until.max(Instant::now() + pause);
        s.slow_factor = (s.slow_factor * 2).min(16);
        s.successes = 0;
        log::info!(
            "server asked to slow down: pausing {:.1}s, API rate now 1/{} of normal",
            pause.as_secs_f64(),
            s.slow_factor
        );
    }

    fn succeeded(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.slow_factor > 1 {
            s.successes += 1;
            if s.successes >= 20 {
                s.slow_factor /= 2;
                s.successes = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        // A date in the past means "now".
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        let d = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            d.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
            784111777
        );
        let future = parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT").unwrap();
        assert!(future > Duration::from_secs(365 * 86400));
    }

    #[test]
    fn backoff_grows_with_jitter() {
        let base = Duration::from_millis(100);
        for attempt in 1..5 {
            let d = backoff(base, attempt);
            let nominal = base * (1 << (attempt - 1));
            assert!(
                d >= nominal / 2 && d < nominal * 3 / 2,
                "{d:?} vs {nominal:?}"
            );
        }
    }

    #[test]
    fn base_url_checks() {
        assert_eq!(
            normalize_base_url("http://127.0.0.1:80/").unwrap(),
            "http://127.0.0.1:80"
        );
        assert!(normalize_base_url("neuromorpho.org").is_err());
        assert!(normalize_base_url("http://").is_err());
    }

    #[test]
    fn throttling_pauses_everyone_and_slows_the_api() {
        let p = Politeness::new(Duration::from_millis(10));
        p.throttled(Duration::from_millis(60));
        // A file download, not rate-limited, still waits for the pause.
        let t = Instant::now();
        p.before(Kind::File);
        assert!(
            t.elapsed() >= Duration::from_millis(55),
            "{:?}",
            t.elapsed()
        );
        // API requests are now twice as far apart as configured.
        p.before(Kind::Api);
        let t = Instant::now();
        p.before(Kind::Api);
        assert!(
            t.elapsed() >= Duration::from_millis(18),
            "{:?}",
            t.elapsed()
        );
        // Successes bring the normal rate back.
        for _ in 0..20 {
            p.succeeded();
        }
        assert_eq!(p.state.lock().unwrap().slow_factor, 1);
    }

    #[test]
    fn no_proxy_like_curl() {
        assert_eq!(host_of("https://NeuroMorpho.org/api"), "neuromorpho.org");
        assert_eq!(host_of("http://cng.gmu.edu:8080"), "cng.gmu.edu");
        assert_eq!(host_of("http://[::1]:9000/x"), "::1");
        let h = "cng.gmu.edu";
        assert!(
            no_proxy_matches(h, "localhost, gmu.edu"),
            "trimmed, subdomain"
        );
        assert!(no_proxy_matches(h, ".gmu.edu"));
        assert!(no_proxy_matches(h, "*.gmu.edu"));
        assert!(no_proxy_matches(h, "cng.gmu.edu:8080"));
        assert!(no_proxy_matches(h, "*"));
        assert!(!no_proxy_matches(h, "mu.edu, neuromorpho.org, "));
        assert!(!no_proxy_matches(h, ""));
        assert!(no_proxy_matches("127.0.0.1", "127.0.0.1,localhost"));
        assert!(no_proxy_matches("::1", "[::1]"));
    }

    #[test]
    fn concurrency_bounds() {
        assert!(Client::builder().concurrency(0).build().is_err());
        assert!(Client::builder().concurrency(65).build().is_err());
        assert!(Client::builder()
            .concurrency(64)
            .proxy(ProxyMode::None)
            .build()
            .is_ok());
    }
}
