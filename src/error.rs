//! The crate's one error type, and the short failure classes of requests and files.
//!
//! An [`Error`] ends a call. A failure of one file among many does not: it becomes a
//! [`FailedFile`](crate::FailedFile) entry in the call's report (see the crate docs).

use std::fmt;
use std::path::PathBuf;

/// Why a request or a download failed, as a short class.
///
/// The class is what `failed.csv` records in its `reason` column and what decides whether a
/// request is tried again (see [`FailureKind::is_transient`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// HTTP 404: the server does not have the resource (or, for `get`, the name).
    NotFound,
    /// HTTP 429: the server asked us to slow down (and kept asking).
    RateLimited,
    /// Any other 4xx answer (not retried).
    Http4xx,
    /// A status the request did not ask for: a `304 Not Modified` to a request that carried
    /// no validator, a redirect without a place to go, a 1xx (not retried).
    UnexpectedStatus,
    /// A 5xx answer.
    Http5xx,
    /// No answer, a body that stalled or crawled, or a transfer over its time limit.
    Timeout,
    /// DNS failure, refused, reset or cut-off connection.
    Connection,
    /// The answer was not the whole file: a body shorter than announced, a `206 Partial
    /// Content`, or an SWC body whose last line is cut.
    Incomplete,
    /// The TLS handshake or certificate check failed.
    Tls,
    /// The body is empty, an HTML page, or does not start like an SWC file.
    NotSwc,
    /// A picture ([`FileKind::Png`](crate::FileKind::Png)) that is empty, an HTML page, or
    /// does not start with the PNG signature.
    NotPng,
    /// The body is larger than the configured maximum.
    TooLarge,
    /// A local file system error.
    Io,
    /// The server's JSON could not be read.
    BadJson,
    /// A neuron record lacks what is needed to build its file URL (name or archive), or is
    /// not a record at all.
    InvalidRecord,
    /// The server has no usable persistence vector for a neuron (none, or not 100 numbers):
    /// a row missing from `pvec.csv`.
    Pvec,
}

impl FailureKind {
    /// The short class written in `failed.csv` (`not-found`, `http-5xx`, `timeout`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::NotFound => "not-found",
            FailureKind::RateLimited => "rate-limited",
            FailureKind::Http4xx => "http-4xx",
            FailureKind::UnexpectedStatus => "unexpected-status",
            FailureKind::Http5xx => "http-5xx",
            FailureKind::Timeout => "timeout",
            FailureKind::Connection => "connection",
            FailureKind::Incomplete => "incomplete",
            FailureKind::Tls => "tls",
            FailureKind::NotSwc => "not-swc",
            FailureKind::NotPng => "not-png",
            FailureKind::TooLarge => "too-large",
            FailureKind::Io => "io",
            FailureKind::BadJson => "bad-json",
            FailureKind::InvalidRecord => "invalid-record",
            FailureKind::Pvec => "pvec",
        }
    }

    /// Whether trying the same request again may succeed.
    ///
    /// An HTML page or a non-SWC (or non-PNG) body is treated as transient: a half-up server answers with
    /// an error page and status 200, and the next attempt usually gets the file.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            FailureKind::RateLimited
                | FailureKind::Http5xx
                | FailureKind::Timeout
                | FailureKind::Connection
                | FailureKind::Incomplete
                | FailureKind::NotSwc
                | FailureKind::NotPng
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
#[non_exhaustive]
pub struct InvalidItem {
    /// The field name (for a sort, the sort field).
    pub field: String,
    /// The unknown value, or `None` when the field itself is unknown.
    pub value: Option<String>,
    /// Up to five closest valid names or values.
    pub suggestions: Vec<String>,
}

impl InvalidItem {
    pub(crate) fn new(field: &str, value: Option<&str>, suggestions: Vec<String>) -> InvalidItem {
        InvalidItem {
            field: field.to_string(),
            value: value.map(str::to_string),
            suggestions,
        }
    }
}

impl fmt::Display for InvalidItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |s: &str| crate::util::text::escape(s).into_owned();
        match &self.value {
            None => write!(f, "unknown field '{}'", shown(&self.field))?,
            Some(v) => write!(
                f,
                "unknown value '{}' for field '{}'",
                shown(v),
                shown(&self.field)
            )?,
        }
        if !self.suggestions.is_empty() {
            // One value per item, quoted when it holds a comma, so that each can be pasted back.
            let list: Vec<String> = self
                .suggestions
                .iter()
                .map(|s| {
                    let s = shown(s);
                    if s.contains(',') {
                        format!("\"{s}\"")
                    } else {
                        s
                    }
                })
                .collect();
            write!(f, " (did you mean: {}?)", list.join(", "))?;
        }
        Ok(())
    }
}

/// The underlying cause of a failed request, kept for [`std::error::Error::source`].
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Every error the library returns.
///
/// Each variant keeps its facts: the URL and HTTP status of a failed request, the path of a
/// file, the cause through [`source()`](std::error::Error::source). `Display` says what went
/// wrong at its own level, in one line that names the thing at fault, and never repeats the
/// cause: a program prints the chain (`Display`, then each `source()`, as `anyhow` does) and
/// reads each part once. Text that came from the server is shown with control characters
/// escaped and credentials in URLs hidden.
///
/// ```
/// use std::error::Error as _;
/// let e = neuromorpho::Query::from_file("no/such/query.json").unwrap_err();
/// assert_eq!(e.to_string(), "no/such/query.json");
/// assert!(e.source().is_some_and(|s| s.to_string().contains("No such file")));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A client or job setting is out of range or unusable (concurrency, base URL, CA file,
    /// proxy URL, ...).
    InvalidSetting {
        /// The setting at fault, as the builder method names it (`concurrency`, `base_url`).
        setting: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A query file, a names file or a metadata file we were given is malformed.
    Input {
        /// The file (or `query` for a query built in code).
        file: String,
        /// What is wrong, naming the key or line (and column for a syntax error).
        message: String,
    },
    /// The query names fields, values or a sort field the server does not know.
    InvalidQuery(Vec<InvalidItem>),
    /// A request failed after its retries.
    Request {
        /// The URL requested (credentials hidden).
        url: String,
        /// The HTTP status, when the server answered with one.
        status: Option<u16>,
        /// The failure class.
        kind: FailureKind,
        /// A one-line description of what came back (status and message, or the transport error).
        detail: String,
        /// The transport or decoding error underneath, if any.
        cause: Option<Cause>,
    },
    /// The server's answers contradict each other: the pages brought back a different number
    /// of neurons than the count announced.
    Incomplete {
        /// The total announced (by the count, or by a page that disagreed with it).
        expected: u64,
        /// Neurons actually received.
        got: u64,
        /// Where the contradiction showed (e.g. `page 3 of 200 was empty`).
        detail: String,
    },
    /// The call was stopped through its [`CancelToken`](crate::CancelToken). Finished files
    /// are kept; no temporary file is left.
    Cancelled,
    /// A local file could not be read or written.
    Io {
        /// The file or folder at fault.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A CSV file could not be written or read.
    Csv {
        /// The file at fault.
        path: PathBuf,
        /// The underlying error.
        source: csv::Error,
    },
    /// A file fetched into memory is not readable SWC (it passed the download's checks, but
    /// the reader refused a line). `Display` names the URL; the cause, a
    /// [`ParseError`](crate::swc::ParseError) (see [`Error::parse_error`]), names the line.
    Swc {
        /// The URL of the file (credentials hidden).
        url: String,
        /// What is wrong, and on which line: a [`ParseError`](crate::swc::ParseError).
        source: Cause,
    },
    /// A neuron record lacks what a file's URL is built from (its name or archive, or for an
    /// original its `original_format`): nothing was requested.
    InvalidRecord {
        /// The record's `neuron_id`, when it has one.
        neuron_id: Option<u64>,
        /// What is missing, naming the record.
        message: String,
    },
}

impl Error {
    /// The failure class of a request error (or `io` for a file error, `not-swc` for a
    /// fetched file the SWC reader refuses, `invalid-record` for a record without a file
    /// URL), if this is one.
    pub fn kind(&self) -> Option<FailureKind> {
        match self {
            Error::Request { kind, .. } => Some(*kind),
            Error::Io { .. } => Some(FailureKind::Io),
            Error::Swc { .. } => Some(FailureKind::NotSwc),
            Error::InvalidRecord { .. } => Some(FailureKind::InvalidRecord),
            _ => None,
        }
    }

    /// The HTTP status of a request error, when the server answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Request { status, .. } => *status,
            _ => None,
        }
    }

    /// Whether a request failed before any server answered because the host could not be
    /// found (DNS) or nothing accepted the connection: a local network, address or proxy
    /// problem rather than a server that is down.
    pub fn is_unreachable(&self) -> bool {
        let Error::Request {
            cause: Some(cause), ..
        } = self
        else {
            return false;
        };
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(cause.as_ref());
        while let Some(e) = source {
            if let Some(u) = e.downcast_ref::<ureq::Error>() {
                match u {
                    ureq::Error::HostNotFound => return true,
                    ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                        return true
                    }
                    _ => {}
                }
            }
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::ConnectionRefused {
                    return true;
                }
            }
            source = e.source();
        }
        false
    }

    /// A request error's own words (without its URL, which a report has apart), or the
    /// whole `Display` of any other.
    pub(crate) fn detail_or_display(&self) -> String {
        match self {
            Error::Request { detail, .. } => crate::util::text::escape(detail).into_owned(),
            other => other.to_string(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn input(source: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Input {
            file: source.into(),
            message: message.into(),
        }
    }

    pub(crate) fn setting(setting: &'static str, message: impl Into<String>) -> Error {
        Error::InvalidSetting {
            setting,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::util::text::escape;
        match self {
            Error::InvalidSetting { setting, message } => {
                write!(f, "invalid setting {setting}: {}", escape(message))
            }
            Error::Input { file, message } => {
                write!(f, "{}: {}", escape(file), escape(message))
            }
            Error::InvalidQuery(items) => {
                let parts: Vec<String> = items.iter().map(|i| i.to_string()).collect();
                write!(f, "invalid query: {}", parts.join("; "))
            }
            Error::Request {
                url, kind, detail, ..
            } => write!(f, "{}: {} [{kind}]", escape(url), escape(detail)),
            Error::Incomplete {
                expected,
                got,
                detail,
            } => write!(
                f,
                "expected {expected} neurons, got {got} ({}): the server's answers are \
                 inconsistent; try again later",
                escape(detail)
            ),
            Error::Cancelled => f.write_str("cancelled"),
            // The path at fault; what went wrong with it is the source.
            Error::Io { path, .. } | Error::Csv { path, .. } => {
                f.write_str(&escape(&path.display().to_string()))
            }
            Error::Swc { url, .. } => write!(f, "{}: not readable SWC", escape(url)),
            Error::InvalidRecord { message, .. } => f.write_str(&escape(message)),
        }
    }
}

/// `: cause: its cause ...` for every error under `e` (credentials hidden, escaped): what a
/// report line adds to a failure's own words.
pub(crate) fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut next = e.source();
    while let Some(s) = next {
        out.push_str(": ");
        out.push_str(&crate::util::text::escape(&crate::util::text::redact(
            &s.to_string(),
        )));
        next = s.source();
    }
    out
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Csv { source, .. } => Some(source),
            Error::Swc { source, .. } => Some(source.as_ref()),
            Error::Request {
                cause: Some(cause), ..
            } => Some(cause.as_ref()),
            _ => None,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn request_errors_keep_status_and_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let e = Error::Request {
            url: "http://x/api".into(),
            status: Some(503),
            kind: FailureKind::Http5xx,
            detail: "503 Service Unavailable".into(),
            cause: Some(Box::new(io)),
        };
        assert_eq!(e.status(), Some(503));
        assert_eq!(e.kind(), Some(FailureKind::Http5xx));
        assert_eq!(e.source().map(|s| s.to_string()).as_deref(), Some("reset"));
        assert_eq!(
            e.to_string(),
            "http://x/api: 503 Service Unavailable [http-5xx]"
        );
    }

    #[test]
    fn suggestions_with_commas_are_quoted() {
        let item = InvalidItem::new(
            "domain",
            Some("Dendrites"),
            vec!["Dendrites, Soma, No Axon".into(), "Axon".into()],
        );
        assert_eq!(
            item.to_string(),
            "unknown value 'Dendrites' for field 'domain' (did you mean: \"Dendrites, Soma, No Axon\", Axon?)"
        );
    }
}
