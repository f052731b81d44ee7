//! What one failed attempt was, in our terms: HTTP statuses and transport errors mapped to a
//! [`FailureKind`] with a message a user can act on, keeping the status and the cause.

use std::io::Read;
use std::time::Duration;

use ureq::http::{Response, StatusCode};
use ureq::Body;

use crate::error::{Cause, FailureKind};
use crate::util::time::Timestamp;

/// Why one attempt failed, before the request function decides whether to try again.
#[derive(Debug)]
pub(crate) struct Failure {
    pub kind: FailureKind,
    pub detail: String,
    pub status: Option<u16>,
    pub cause: Option<Cause>,
    pub retry_after: Option<Duration>,
    /// The server said it is overloaded (429 or 503): everyone slows down.
    pub throttle: bool,
}

impl Failure {
    pub(crate) fn new(kind: FailureKind, detail: impl Into<String>) -> Failure {
        Failure {
            kind,
            detail: detail.into(),
            status: None,
            cause: None,
            retry_after: None,
            throttle: false,
        }
    }

    /// `: cause: ...` of this failure, for a log line.
    pub(crate) fn causes(&self) -> String {
        match &self.cause {
            Some(c) => format!(
                ": {}{}",
                crate::util::text::escape(&crate::util::text::redact(&c.to_string())),
                crate::error::causes(c.as_ref())
            ),
            None => String::new(),
        }
    }

    pub(crate) fn with_cause(mut self, cause: impl Into<Cause>) -> Failure {
        self.cause = Some(cause.into());
        self
    }
}

/// The status line as people know it: `404 Not Found`.
pub(crate) fn status_line(status: u16) -> String {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!("{status} {reason}").trim_end().to_string()
}

/// Map a response whose status is not the one wanted, reading a little of its body for the
/// message.
pub(crate) fn status_failure(resp: Response<Body>) -> Failure {
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let parsed = parse_retry_after(v);
            if parsed.is_none() {
                log::warn!(
                    "ignored a Retry-After header that is neither seconds nor a date: {}",
                    crate::util::text::escape(v)
                );
            }
            parsed
        });
    let mut text = String::new();
    let _ = resp
        .into_body()
        .into_reader()
        .take(16 * 1024)
        .read_to_string(&mut text);
    let kind = match status {
        404 => FailureKind::NotFound,
        429 => FailureKind::RateLimited,
        408 => FailureKind::Timeout,
        206 => FailureKind::Incomplete,
        500..=599 => FailureKind::Http5xx,
        200..=299 => FailureKind::Incomplete,
        100..=199 | 300..=399 => FailureKind::UnexpectedStatus,
        _ => FailureKind::Http4xx,
    };
    let mut detail = status_line(status);
    if status == 206 {
        detail.push_str(": the server sent part of the file");
    } else if status == 304 {
        detail.push_str(" to a request that asked for no revalidation (it carried no validator)");
    } else if let Some(m) = error_message(&text) {
        detail.push_str(": ");
        detail.push_str(&m);
    }
    Failure {
        kind,
        detail,
        status: Some(status),
        cause: None,
        retry_after,
        throttle: status == 429 || status == 503,
    }
}

/// The `message` of a Spring-style JSON error body, or the first line of a text body.
fn error_message(body: &str) -> Option<String> {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        if let Some(m) = v.get("message").and_then(|m| m.as_str()) {
            return Some(m.chars().take(300).collect());
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

/// `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3); `None` if it is
/// neither (a garbage date is ignored, never an overflow).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    Timestamp::parse_http_date(value).map(Timestamp::time_left)
}

/// Map a ureq error to a failure class with a message a user can act on.
pub(crate) fn classify_ureq(e: ureq::Error) -> Failure {
    use ureq::Error as U;
    let e = match e {
        U::Io(io) => return classify_io(io),
        other => other,
    };
    let (kind, detail) = match &e {
        U::Timeout(_) => (FailureKind::Timeout, "timed out".to_string()),
        U::HostNotFound => (
            FailureKind::Connection,
            "DNS lookup failed: host not found".to_string(),
        ),
        U::ConnectionFailed => (FailureKind::Connection, "connection failed".to_string()),
        U::Tls(_) => (FailureKind::Tls, "TLS failure".to_string()),
        U::Rustls(r) => (FailureKind::Tls, tls_message(r)),
        U::BodyExceedsLimit(n) => (FailureKind::TooLarge, format!("body larger than {n} bytes")),
        U::TooManyRedirects => (FailureKind::Http4xx, "too many redirects".to_string()),
        _ => (FailureKind::Connection, "request failed".to_string()),
    };
    Failure::new(kind, detail).with_cause(e)
}

/// Map an I/O error from a socket or a body reader.
pub(crate) fn classify_io(io: std::io::Error) -> Failure {
    use std::io::ErrorKind as K;
    if io.get_ref().is_some_and(|i| i.is::<ureq::Error>()) {
        if let Some(Ok(u)) = io.into_inner().map(|i| i.downcast::<ureq::Error>()) {
            return classify_ureq(*u);
        }
        return Failure::new(FailureKind::Connection, "network error");
    }
    if let Some(r) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return Failure::new(FailureKind::Tls, tls_message(r)).with_cause(io);
    }
    let (kind, what) = match io.kind() {
        K::ConnectionRefused => (FailureKind::Connection, "connection refused"),
        K::ConnectionReset => (FailureKind::Connection, "connection reset by the server"),
        K::ConnectionAborted => (FailureKind::Connection, "connection aborted"),
        K::UnexpectedEof => (
            FailureKind::Incomplete,
            "connection closed before the answer was complete",
        ),
        K::BrokenPipe => (FailureKind::Connection, "connection closed (broken pipe)"),
        K::TimedOut | K::WouldBlock => (FailureKind::Timeout, "timed out"),
        _ => (FailureKind::Connection, "network error"),
    };
    Failure::new(kind, what).with_cause(io)
}

fn tls_message(r: &rustls::Error) -> String {
    use rustls::{CertificateError, Error as R};
    match r {
        R::InvalidCertificate(CertificateError::UnknownIssuer) => "TLS certificate not trusted (unknown issuer: self-signed, a site proxy, or an incomplete chain; try --ca-file)".to_string(),
        R::InvalidCertificate(CertificateError::Expired) => "TLS certificate expired".to_string(),
        R::InvalidCertificate(CertificateError::NotValidForName) => "TLS certificate is not valid for this host name".to_string(),
        R::InvalidCertificate(c) => format!("TLS certificate rejected: {c:?}"),
        R::AlertReceived(a) => format!("TLS handshake refused by the server ({a:?}; the server may offer only legacy ciphers)"),
        _ => "TLS failure".to_string(),
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
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 2026 3000000000000000:00:00 GMT"),
            None,
            "garbage is ignored, not an overflow"
        );
        assert_eq!(parse_retry_after("99999999999999999999999"), None);
        let future = parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT").unwrap();
        assert!(future > Duration::from_secs(365 * 86400));
    }

    #[test]
    fn status_lines() {
        assert_eq!(status_line(404), "404 Not Found");
        assert_eq!(status_line(206), "206 Partial Content");
        assert_eq!(status_line(599), "599");
    }
}
