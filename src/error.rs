//! The one error type of the crate.

use std::fmt;
use std::path::PathBuf;

/// Why a request or a download failed, as a short class.
///
/// The class is what `failed.csv` records in its `reason` column and what decides whether a
/// request is tried again (see [`FailureKind::is_transient`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// HTTP 404: the server does not have the resource.
    NotFound,
    /// HTTP 429: the server asked us to slow down (and kept asking).
    RateLimited,
    /// Any other 4xx answer (not retried).
    Http4xx,
    /// A 5xx answer.
    Http5xx,
    /// No answer, or a body that stalled, within the timeout.
    Timeout,
    /// DNS failure, refused, reset or cut-off connection, or a body shorter than announced.
    Connection,
    /// The TLS handshake or certificate check failed.
    Tls,
    /// The body is empty, an HTML page, or does not start like an SWC file.
    NotSwc,
    /// The body is larger than the configured maximum.
    TooLarge,
    /// A local file system error.
    Io,
    /// The server's JSON could not be read.
    BadJson,
    /// A neuron record lacks what is needed to build its file URL (name or archive).
    InvalidRecord,
}

impl FailureKind {
    /// The short class written in `failed.csv` (`not-found`, `http-5xx`, `timeout`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::NotFound => "not-found",
            FailureKind::RateLimited => "rate-limited",
            FailureKind::Http4xx => "http-4xx",
            FailureKind::Http5xx => "http-5xx",
            FailureKind::Timeout => "timeout",
            FailureKind::Connection => "connection",
            FailureKind::Tls => "tls",
            FailureKind::NotSwc => "not-swc",
            FailureKind::TooLarge => "too-large",
            FailureKind::Io => "io",
            FailureKind::BadJson => "bad-json",
            FailureKind::InvalidRecord => "invalid-record",
        }
    }

    /// Whether trying the same request again may succeed.
    ///
    /// An HTML page or a non-SWC body is treated as transient: a half-up server answers with
    /// an error page and status 200, and the next attempt usually gets the file.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            FailureKind::RateLimited
                | FailureKind::Http5xx
                | FailureKind::Timeout
                | FailureKind::Connection
                | FailureKind::NotSwc
                | FailureKind::BadJson
        )
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One query item the server does not know, with the closest valid ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidItem {
    /// The field name.
    pub field: String,
    /// The unknown value, or `None` when the field itself is unknown.
    pub value: Option<String>,
    /// Up to five closest valid names or values.
    pub suggestions: Vec<String>,
}

impl fmt::Display for InvalidItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            None => write!(f, "unknown field '{}'", self.field)?,
            Some(v) => write!(f, "unknown value '{}' for field '{}'", v, self.field)?,
        }
        if !self.suggestions.is_empty() {
            write!(f, " (did you mean: {}?)", self.suggestions.join(", "))?;
        }
        Ok(())
    }
}

/// Every error the library returns.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A client setting is out of range (concurrency, base URL, CA file, ...).
    Config(String),
    /// A query is malformed: `source` names the file (or "query"), `message` the key at fault.
    Query {
        /// The query file, or `query` for one built in code.
        source: String,
        /// What is wrong, naming the key (and line/column for a syntax error).
        message: String,
    },
    /// The query names fields or values the server does not know.
    Invalid(Vec<InvalidItem>),
    /// A request failed after its retries.
    Request {
        /// The URL requested.
        url: String,
        /// The failure class.
        kind: FailureKind,
        /// A one-line description of what came back (status and message, or the transport error).
        detail: String,
    },
    /// The pages brought back a different number of neurons than the server announced.
    Incomplete {
        /// `page.totalElements` announced (by the count, or by a page that disagreed with it).
        expected: u64,
        /// Neurons actually received.
        got: u64,
    },
    /// A local file could not be read or written.
    Io {
        /// The file or folder at fault.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The metadata CSV could not be written or read.
    Csv {
        /// The file at fault.
        path: PathBuf,
        /// The underlying error.
        source: csv::Error,
    },
}

impl Error {
    /// The failure class of a request error, if this is one.
    pub fn kind(&self) -> Option<FailureKind> {
        match self {
            Error::Request { kind, .. } => Some(*kind),
            Error::Io { .. } => Some(FailureKind::Io),
            _ => None,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn query(source: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Query {
            source: source.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(m) => write!(f, "invalid setting: {m}"),
            Error::Query { source, message } => write!(f, "{source}: {message}"),
            Error::Invalid(items) => {
                let parts: Vec<String> = items.iter().map(|i| i.to_string()).collect();
                write!(f, "invalid query: {}", parts.join("; "))
            }
            Error::Request { url, kind, detail } => write!(f, "{url}: {detail} [{kind}]"),
            Error::Incomplete { expected, got } => write!(
                f,
                "expected {expected} neurons, got {got} (the server's answers were inconsistent; run again)"
            ),
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Csv { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Csv { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
