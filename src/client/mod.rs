//! The HTTP client: its settings (each held once, each default and limit defined once), the
//! connection pool, the worker pool and the concurrency budget shared by every clone.

mod budget;
mod classify;
mod politeness;
mod proxy;
mod request;
mod tls;
mod transfer;
mod workers;

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::cancel::CancelToken;
use crate::error::{Error, Result};

pub(crate) use classify::Failure;
pub(crate) use request::Req;
pub(crate) use transfer::Answer;
pub(crate) use workers::Order;

use budget::Budget;
use politeness::Politeness;

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

/// Where proxy settings come from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyMode {
    /// `ALL_PROXY`, `HTTPS_PROXY`, `HTTP_PROXY` (and lower-case forms), with `NO_PROXY` read
    /// the way curl reads it.
    Env,
    /// No proxy at all (tests, and hosts whose proxy variables are wrong).
    None,
    /// This proxy URL, e.g. `http://user:pass@proxy:3128`.
    Url(String),
}

/// Every setting of a client, held once: the builder fills it, the client keeps it.
#[derive(Debug, Clone)]
struct Settings {
    base_url: String,
    concurrency: usize,
    user_agent: String,
    connect_timeout: Duration,
    read_timeout: Duration,
    speed_limit: u64,
    speed_time: Duration,
    max_time: Option<Duration>,
    proxy: ProxyMode,
    retries: u32,
    retry_base_delay: Duration,
    max_retry_after: Duration,
    rate: f64,
    max_file_size: u64,
    insecure: bool,
    ca_files: Vec<PathBuf>,
}

/// Builds a [`Client`]. Every setting has a default; [`ClientBuilder::build`] checks them.
///
/// The associated constants are the defaults and the accepted ranges (the command line uses
/// the same ones).
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    settings: Settings,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            settings: Settings {
                base_url: DEFAULT_BASE_URL.to_string(),
                concurrency: Self::DEFAULT_CONCURRENCY,
                user_agent: DEFAULT_USER_AGENT.to_string(),
                connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
                read_timeout: Self::DEFAULT_READ_TIMEOUT,
                speed_limit: Self::DEFAULT_SPEED_LIMIT,
                speed_time: Self::DEFAULT_SPEED_TIME,
                max_time: None,
                proxy: ProxyMode::Env,
                retries: Self::DEFAULT_RETRIES,
                retry_base_delay: Duration::from_millis(500),
                max_retry_after: Self::DEFAULT_MAX_RETRY_AFTER,
                rate: Self::DEFAULT_RATE,
                max_file_size: Self::DEFAULT_MAX_FILE_SIZE,
                insecure: false,
                ca_files: Vec::new(),
            },
        }
    }
}

impl ClientBuilder {
    /// Parallel requests by default (neuromorphopy's default).
    pub const DEFAULT_CONCURRENCY: usize = 20;
    /// The concurrencies accepted.
    pub const CONCURRENCY: RangeInclusive<usize> = 1..=64;
    /// Attempts per request by default.
    pub const DEFAULT_RETRIES: u32 = 4;
    /// The attempts accepted.
    pub const RETRIES: RangeInclusive<u32> = 1..=20;
    /// API requests per second by default: what NeuroMorpho.Org says it is comfortable with.
    pub const DEFAULT_RATE: f64 = 5.0;
    /// The rates accepted besides 0 (unlimited).
    pub const RATE: RangeInclusive<f64> = 0.01..=1000.0;
    /// Time allowed for DNS, TCP connect and the TLS handshake by default.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
    /// Time allowed for the headers, and for each read of a body, by default.
    pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);
    /// The timeouts accepted (connect, read, and the whole-transfer limit).
    pub const TIMEOUT: RangeInclusive<Duration> =
        Duration::from_millis(1)..=Duration::from_secs(24 * 3600);
    /// A transfer slower than this many bytes per second ...
    pub const DEFAULT_SPEED_LIMIT: u64 = 1000;
    /// ... for this long is abandoned and retried (curl's `--speed-limit`/`--speed-time`).
    /// A healthy slow link (a few KB/s) never trips it; a server that trickles does.
    pub const DEFAULT_SPEED_TIME: Duration = Duration::from_secs(30);
    /// The longest `Retry-After` honoured by default.
    pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(180);
    /// The largest file accepted by default (1 GiB).
    pub const DEFAULT_MAX_FILE_SIZE: u64 = 1 << 30;

    /// The server, e.g. `https://neuromorpho.org`, `http://cng.gmu.edu:8080` or
    /// `http://127.0.0.1:8080`. The API is under `/api`, files under `/dableFiles`.
    /// Credentials (`http://user:password@host`) are sent as HTTP Basic authentication and
    /// never shown: messages write `***`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.settings.base_url = url.into();
        self
    }
    /// Requests in flight at once, across every thread and call sharing the client
    /// ([`ClientBuilder::CONCURRENCY`]; default 20).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.settings.concurrency = n;
        self
    }
    /// Replace the User-Agent (default `neuromorpho/<version> (+<repository>)`).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.settings.user_agent = ua.into();
        self
    }
    /// Time allowed for DNS, TCP connect and the TLS handshake. Default 15 s.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.settings.connect_timeout = t;
        self
    }
    /// Time allowed waiting for the headers, and for each read of a body (a stall detector,
    /// not a cap on a whole large download). Default 60 s.
    pub fn read_timeout(mut self, t: Duration) -> Self {
        self.settings.read_timeout = t;
        self
    }
    /// Abandon (and retry) a transfer slower than `bytes_per_second` for `time`, like curl's
    /// `--speed-limit`/`--speed-time`. Defaults 1000 B/s for 30 s; 0 B/s turns it off.
    pub fn speed_limit(mut self, bytes_per_second: u64, time: Duration) -> Self {
        self.settings.speed_limit = bytes_per_second;
        self.settings.speed_time = time;
        self
    }
    /// Bound each transfer (headers and body of one attempt) to `t`, like curl's
    /// `--max-time`. Default: no bound beyond the timeouts and the speed floor.
    pub fn max_time(mut self, t: Option<Duration>) -> Self {
        self.settings.max_time = t;
        self
    }
    /// Proxy settings. Default: from the environment.
    pub fn proxy(mut self, p: ProxyMode) -> Self {
        self.settings.proxy = p;
        self
    }
    /// Attempts per request (1 = no retry; [`ClientBuilder::RETRIES`]). Default 4.
    pub fn retries(mut self, attempts: u32) -> Self {
        self.settings.retries = attempts;
        self
    }
    /// First retry delay; it doubles on each attempt, with jitter. Default 500 ms.
    pub fn retry_base_delay(mut self, d: Duration) -> Self {
        self.settings.retry_base_delay = d;
        self
    }
    /// Upper bound for a server's `Retry-After`. Default 3 minutes.
    pub fn max_retry_after(mut self, d: Duration) -> Self {
        self.settings.max_retry_after = d;
        self
    }
    /// API requests per second shared by all threads: 0 (unlimited) or within
    /// [`ClientBuilder::RATE`]. Default 5. File downloads are bounded by the concurrency.
    pub fn rate(mut self, per_second: f64) -> Self {
        self.settings.rate = per_second;
        self
    }
    /// Largest file accepted; a larger body is abandoned as `too-large`. Default 1 GiB.
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.settings.max_file_size = bytes;
        self
    }
    /// Turn TLS certificate verification off. Dangerous; logged as a warning when the client
    /// is built.
    pub fn insecure(mut self, yes: bool) -> Self {
        self.settings.insecure = yes;
        self
    }
    /// Add the certificates of a PEM file to the built-in roots (a site proxy's CA, or the
    /// intermediate a server forgets to send). May be called more than once.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.ca_files.push(path.into());
        self
    }

    /// Check the settings and build the client.
    pub fn build(self) -> Result<Client> {
        let client = self.build_quietly()?;
        if client.inner.settings.insecure {
            log::warn!(
                "TLS certificate verification is OFF (--insecure): answers could come from anyone"
            );
        }
        Ok(client)
    }

    /// [`ClientBuilder::build`] without the `insecure` warning (for a client derived from
    /// one that already warned).
    fn build_quietly(self) -> Result<Client> {
        let s = self.settings;
        check_settings(&s)?;
        let base = proxy::BaseUrl::parse(&s.base_url)?;
        let agent = build_agent(&s, &base)?;
        let interval = if s.rate > 0.0 {
            Duration::from_secs_f64(1.0 / s.rate)
        } else {
            Duration::ZERO
        };
        Ok(Client {
            inner: Arc::new(Inner {
                politeness: Politeness::new(interval),
                budget: Budget::new(s.concurrency),
                workers: OnceLock::new(),
                requests: AtomicU64::new(0),
                agent,
                base,
                settings: s,
            }),
            cancel: CancelToken::new(),
        })
    }
}

fn check_settings(s: &Settings) -> Result<()> {
    let range = ClientBuilder::CONCURRENCY;
    if !range.contains(&s.concurrency) {
        return Err(Error::setting(
            "concurrency",
            format!(
                "must be between {} and {}, got {}",
                range.start(),
                range.end(),
                s.concurrency
            ),
        ));
    }
    let range = ClientBuilder::RETRIES;
    if !range.contains(&s.retries) {
        return Err(Error::setting(
            "retries",
            format!(
                "must be between {} and {}, got {}",
                range.start(),
                range.end(),
                s.retries
            ),
        ));
    }
    let range = ClientBuilder::RATE;
    if !(s.rate == 0.0 || range.contains(&s.rate)) {
        return Err(Error::setting(
            "rate",
            format!(
                "must be 0 (unlimited) or between {} and {} requests per second, got {}",
                range.start(),
                range.end(),
                s.rate
            ),
        ));
    }
    let range = ClientBuilder::TIMEOUT;
    for (name, t) in [
        ("connect_timeout", Some(s.connect_timeout)),
        ("read_timeout", Some(s.read_timeout)),
        ("max_time", s.max_time),
        ("speed_time", Some(s.speed_time)),
    ] {
        if let Some(t) = t.filter(|t| !range.contains(t)) {
            return Err(Error::setting(
                name,
                format!(
                    "must be between {} ms and {} s, got {} ms",
                    range.start().as_millis(),
                    range.end().as_secs(),
                    t.as_millis()
                ),
            ));
        }
    }
    if s.user_agent.trim().is_empty() || s.user_agent.chars().any(char::is_control) {
        return Err(Error::setting(
            "user_agent",
            "must be a non-empty line of text",
        ));
    }
    if s.max_file_size == 0 {
        return Err(Error::setting("max_file_size", "must be at least 1 byte"));
    }
    Ok(())
}

fn build_agent(s: &Settings, base: &proxy::BaseUrl) -> Result<ureq::Agent> {
    let mut ca_files = s.ca_files.clone();
    // SSL_CERT_FILE is how HPC sites point tools at their CA bundle.
    if let Some(p) = std::env::var_os("SSL_CERT_FILE").filter(|p| !p.is_empty()) {
        ca_files.push(PathBuf::from(p));
    }
    let tls = tls::tls_config(s.insecure, &ca_files)?;
    let proxy = proxy::choose(&s.proxy, base)?;
    log::debug!(
        "proxy: {}",
        proxy
            .as_ref()
            .map(|p| format!("{}:{}", p.host(), p.port()))
            .unwrap_or_else(|| "none".into())
    );
    Ok(ureq::Agent::config_builder()
        .user_agent(s.user_agent.as_str())
        // Statuses are mapped by us, so that Retry-After and the error body are not lost.
        .http_status_as_error(false)
        .timeout_connect(Some(s.connect_timeout))
        .timeout_recv_response(Some(s.read_timeout))
        .timeout_per_read(Some(s.read_timeout))
        // ureq keeps 3 idle connections per host by default; every worker must find its
        // connection again, or each request pays a new TCP (and TLS) handshake.
        .max_idle_connections(s.concurrency.max(10) + 2)
        .max_idle_connections_per_host(s.concurrency + 2)
        .proxy(proxy)
        .tls_config(tls)
        .build()
        .into())
}

/// A NeuroMorpho.Org client. Cheap to clone; clones share connections, the rate limiter, the
/// worker threads and the concurrency budget.
///
/// Built with [`Client::builder`]. All calls block. Parallel work (pages, downloads, look-ups)
/// runs on one pool of [`concurrency`](ClientBuilder::concurrency) threads per client, built
/// on first use; callbacks run on the calling thread.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
    pub(crate) cancel: CancelToken,
}

pub(crate) struct Inner {
    settings: Settings,
    base: proxy::BaseUrl,
    agent: ureq::Agent,
    politeness: Politeness,
    budget: Budget,
    workers: OnceLock<std::result::Result<workers::Workers, String>>,
    requests: AtomicU64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.url)
            .field("concurrency", &self.inner.settings.concurrency)
            .field("user_agent", &self.inner.settings.user_agent)
            .finish()
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

    /// This client, watching `token`: every call made through the returned client (or its
    /// clones) returns [`Error::Cancelled`] soon after `token` is cancelled. It shares
    /// everything else (connections, threads, budget) with `self`.
    ///
    /// ```
    /// use neuromorpho::{CancelToken, Client, Error, Query};
    /// let token = CancelToken::new();
    /// let client = Client::builder().base_url("http://127.0.0.1:9").build()?.with_cancel(&token);
    /// token.cancel();
    /// assert!(matches!(client.count(&Query::all()), Err(Error::Cancelled)));
    /// # Ok::<(), neuromorpho::Error>(())
    /// ```
    pub fn with_cancel(&self, token: &CancelToken) -> Client {
        Client {
            inner: self.inner.clone(),
            cancel: token.clone(),
        }
    }

    /// The token this client watches (a fresh one unless set with [`Client::with_cancel`]).
    pub fn cancel_token(&self) -> &CancelToken {
        &self.cancel
    }

    /// A client like this one that tries every request once (diagnosis, quick checks).
    pub(crate) fn single_attempt(&self) -> Result<Client> {
        let mut settings = self.inner.settings.clone();
        settings.retries = 1;
        let mut c = ClientBuilder { settings }.build_quietly()?;
        c.cancel = self.cancel.clone();
        Ok(c)
    }

    /// The server this client talks to, without a trailing slash and without credentials.
    pub fn base_url(&self) -> &str {
        &self.inner.base.url
    }

    /// TLS certificate verification is off (`insecure(true)`).
    pub fn is_insecure(&self) -> bool {
        self.inner.settings.insecure
    }

    /// The configured concurrency.
    pub fn concurrency(&self) -> usize {
        self.inner.settings.concurrency
    }

    /// The largest file accepted.
    pub fn max_file_size(&self) -> u64 {
        self.inner.settings.max_file_size
    }

    /// HTTP requests sent so far by this client and its clones (retries included).
    pub fn requests_sent(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Interrupt every request in flight on this client and its clones, now; later requests
    /// fail. For a program that is shutting down and cannot wait for a read to time out
    /// (cancel the [`CancelToken`] first, so that the calls report
    /// [`Error::Cancelled`]).
    pub fn shutdown(&self) {
        self.inner.agent.clone().shutdown();
    }

    /// The server's host (lower case, no brackets), port, and whether it is https.
    pub(crate) fn endpoint(&self) -> (&str, u16, bool) {
        let b = &self.inner.base;
        (&b.host, b.port, b.https)
    }

    pub(crate) fn api_url(&self, path: &str) -> String {
        format!("{}/api/{}", self.inner.base.url, path)
    }

    /// The client's worker pool, built on first use and shared by every call.
    pub(crate) fn workers(&self) -> Result<&workers::Workers> {
        self.inner
            .workers
            .get_or_init(|| workers::Workers::new(self.inner.settings.concurrency))
            .as_ref()
            .map_err(|e| Error::setting("concurrency", format!("cannot start threads: {e}")))
    }
}
