//! The one request function that every API call and every file download goes through:
//! cancellation, politeness, the concurrency budget, statuses and errors mapped, retries with
//! back-off honouring `Retry-After`.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use serde::de::DeserializeOwned;

use crate::error::{Error, FailureKind, Result};
use crate::util::text;

use super::classify::{classify_ureq, status_failure, Failure};
use super::transfer::{Answer, Bounds};
use super::Client;

/// What a request is for: API calls are rate-limited and small, files only bounded by the
/// concurrency and the maximum file size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Api,
    File,
}

/// The largest API answer read (a page of 500 records is under 1 MB).
const API_LIMIT: u64 = 64 << 20;

/// One GET to send.
#[derive(Debug, Clone)]
pub(crate) struct Req<'a> {
    pub purpose: Purpose,
    pub url: &'a str,
    pub query: &'a [(&'a str, String)],
    pub headers: Vec<(&'static str, String)>,
    /// A 404 is an expected answer here (a select past its hits): log it at debug only.
    pub quiet_not_found: bool,
    /// Hand a `304 Not Modified` to the handler instead of failing.
    pub not_modified_ok: bool,
}

impl<'a> Req<'a> {
    pub(crate) fn api(url: &'a str, query: &'a [(&'a str, String)]) -> Req<'a> {
        Req {
            purpose: Purpose::Api,
            url,
            query,
            headers: Vec::new(),
            quiet_not_found: false,
            not_modified_ok: false,
        }
    }

    pub(crate) fn file(url: &'a str) -> Req<'a> {
        Req {
            purpose: Purpose::File,
            url,
            query: &[],
            headers: Vec::new(),
            quiet_not_found: false,
            not_modified_ok: false,
        }
    }

    pub(crate) fn quiet_not_found(mut self, yes: bool) -> Req<'a> {
        self.quiet_not_found = yes;
        self
    }
}

/// The URL as a user would type it, for messages and `failed.csv`.
fn display_url(url: &str, query: &[(&str, String)]) -> String {
    if query.is_empty() {
        return text::redact(url).into_owned();
    }
    let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    text::redact(&format!("{url}?{}", q.join("&"))).into_owned()
}

/// Exponential backoff with jitter: base * 2^(attempt-1), times a factor in [0.5, 1.5).
fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(10));
    Duration::try_from_secs_f64(exp.as_secs_f64() * (0.5 + jitter())).unwrap_or(exp)
}

/// A cheap random number in [0, 1): jitter only needs to spread threads apart.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

impl Client {
    /// GET an API URL and parse its JSON. `what` names the request in errors ("page 3 of ...").
    pub(crate) fn get_json<T: DeserializeOwned>(
        &self,
        url: &str,
        query: &[(&str, String)],
        what: &str,
        quiet_not_found: bool,
    ) -> Result<T> {
        let req = Req::api(url, query).quiet_not_found(quiet_not_found);
        self.request(&req, |mut answer| {
            let bytes = answer.read_to_vec()?;
            serde_json::from_slice::<T>(&bytes).map_err(|e| {
                Failure::new(FailureKind::BadJson, format!("malformed JSON from {what}"))
                    .with_cause(e)
            })
        })
    }

    /// The one request function. Sends a GET, maps statuses and transport errors to a
    /// [`FailureKind`], lets `handle` consume a `200 OK` (parse it, or stream it to a file),
    /// and tries again on transient failures with exponential backoff and jitter, honouring
    /// `Retry-After`. Everything it waits for ends when the client's token is cancelled.
    pub(crate) fn request<T>(
        &self,
        req: &Req<'_>,
        mut handle: impl FnMut(Answer) -> std::result::Result<T, Failure>,
    ) -> Result<T> {
        let inner = &*self.inner;
        let s = &inner.settings;
        let shown_url = display_url(req.url, req.query);
        let mut attempt = 0;
        loop {
            attempt += 1;
            inner.politeness.before(req.purpose, &self.cancel)?;
            let outcome = {
                let _slot = inner.budget.acquire(&self.cancel)?;
                inner.requests.fetch_add(1, Ordering::Relaxed);
                self.attempt(req, &mut handle)
            };
            let failure = match outcome {
                Ok(v) => {
                    inner.politeness.succeeded();
                    return Ok(v);
                }
                Err(f) => f,
            };
            // Whatever failed, a cancelled call reports the cancellation.
            self.cancel.check()?;
            if failure.throttle {
                inner.politeness.throttled(
                    failure
                        .retry_after
                        .unwrap_or(s.retry_base_delay)
                        .min(s.max_retry_after),
                );
            }
            if failure.kind.is_transient() && attempt < s.retries {
                let delay = match failure.retry_after {
                    Some(d) => d.min(s.max_retry_after),
                    None => backoff(s.retry_base_delay, attempt),
                };
                log::debug!(
                    "attempt {attempt}/{} for {shown_url} failed: {}{} [{}]; retrying in {:.1}s",
                    s.retries,
                    text::shown(&failure.detail),
                    failure.causes(),
                    failure.kind,
                    delay.as_secs_f64()
                );
                self.cancel.sleep(delay)?;
                continue;
            }
            // A failed download goes into a report (which its caller sums up) and the run
            // goes on; a failed API call comes back to the caller as an Err, which reports it
            // once. Either way one line here is for the log file (info), not for the screen:
            // thousands of failed files must not print thousands of lines.
            let level = match (req.purpose, failure.kind) {
                (_, FailureKind::NotFound) if req.quiet_not_found => log::Level::Debug,
                _ => log::Level::Info,
            };
            log::log!(
                level,
                "{}: {}{} [{}] (after {attempt} attempt{})",
                text::escape(&shown_url),
                text::shown(&failure.detail),
                failure.causes(),
                failure.kind,
                if attempt == 1 { "" } else { "s" }
            );
            return Err(Error::Request {
                url: shown_url,
                status: failure.status,
                kind: failure.kind,
                detail: failure.detail,
                cause: failure.cause,
            });
        }
    }

    /// One attempt: send, map the status, hand a good answer to `handle`.
    fn attempt<T>(
        &self,
        req: &Req<'_>,
        handle: &mut impl FnMut(Answer) -> std::result::Result<T, Failure>,
    ) -> std::result::Result<T, Failure> {
        let inner = &*self.inner;
        let s = &inner.settings;
        let mut builder = inner
            .agent
            .get(req.url)
            .query_pairs(req.query.iter().map(|(k, v)| (*k, v.as_str())));
        if let Some(auth) = &inner.base.authorization {
            builder = builder.header("authorization", auth.as_str());
        }
        for (k, v) in &req.headers {
            builder = builder.header(*k, v.as_str());
        }
        let started = Instant::now();
        let deadline = s.max_time.and_then(|t| started.checked_add(t));
        if let Some(t) = s.max_time {
            builder = builder.config().timeout_global(Some(t)).build();
        }
        let resp = builder.call().map_err(classify_ureq)?;
        let status = resp.status().as_u16();
        if status == 200 || (status == 304 && req.not_modified_ok) {
            let bounds = Bounds {
                limit: match req.purpose {
                    Purpose::Api => API_LIMIT,
                    Purpose::File => s.max_file_size,
                },
                speed_limit: s.speed_limit,
                speed_time: s.speed_time,
                deadline,
            };
            handle(Answer::new(resp, &self.cancel, bounds))
        } else {
            Err(status_failure(resp))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // Far attempts and huge bases saturate instead of overflowing.
        let _ = backoff(Duration::MAX, 1000);
    }

    #[test]
    fn shown_urls_have_no_credentials() {
        assert_eq!(
            display_url("http://a:b@h/api", &[("q", "x:1".into())]),
            "http://***@h/api?q=x:1"
        );
    }
}
