//! Reading an answer's body with every bound applied: cancellation before each read, a speed
//! floor over a window (curl's `--speed-limit`/`--speed-time`), a deadline for the whole
//! transfer, a size limit counted on the decoded bytes (a gzip bomb is too large too), and
//! the content checks of a file's body as it streams.

use std::io::Read;
use std::time::{Duration, Instant};

use ureq::http::{HeaderMap, Response};
use ureq::{Body, BodyReader};

use std::io::Write;

use crate::cancel::CancelToken;
use crate::error::FailureKind;
use crate::swc::{Expect, SwcCheck, Verdict};

use super::classify::{classify_io, Failure};

/// What bounds a transfer (from the client's settings and the request).
#[derive(Debug, Clone)]
pub(crate) struct Bounds {
    pub limit: u64,
    pub speed_limit: u64,
    pub speed_time: Duration,
    pub deadline: Option<Instant>,
}

/// A successful answer: status, headers, and a body to read through [`Answer::read`].
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    reader: BodyReader<'static>,
    cancel: CancelToken,
    bounds: Bounds,
    read_total: u64,
    window_start: Instant,
    window_bytes: u64,
}

impl Answer {
    pub(crate) fn new(resp: Response<Body>, cancel: &CancelToken, bounds: Bounds) -> Answer {
        let status = resp.status().as_u16();
        let (parts, body) = resp.into_parts();
        Answer {
            status,
            headers: parts.headers,
            reader: body.into_reader(),
            cancel: cancel.clone(),
            bounds,
            read_total: 0,
            window_start: Instant::now(),
            window_bytes: 0,
        }
    }

    /// A header's value as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `Content-Length`, when it counts the bytes we will read (not with a content encoding).
    pub(crate) fn content_length(&self) -> Option<u64> {
        if self.headers.contains_key("content-encoding") {
            return None;
        }
        self.header("content-length")?.trim().parse().ok()
    }

    /// The largest body accepted.
    pub(crate) fn limit(&self) -> u64 {
        self.bounds.limit
    }

    /// Read the next chunk (0 at the end), within the bounds.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<usize, Failure> {
        if self.cancel.is_cancelled() {
            return Err(Failure::new(FailureKind::Connection, "cancelled"));
        }
        let n = loop {
            match self.reader.read(buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(classify_io(e)),
            }
        };
        self.read_total = self.read_total.saturating_add(n as u64);
        if self.read_total > self.bounds.limit {
            return Err(Failure::new(
                FailureKind::TooLarge,
                format!(
                    "body larger than the maximum of {} bytes",
                    self.bounds.limit
                ),
            ));
        }
        let now = Instant::now();
        if self.bounds.deadline.is_some_and(|d| now >= d) {
            return Err(Failure::new(
                FailureKind::Timeout,
                "transfer took longer than its time limit (--max-time)",
            ));
        }
        self.window_bytes = self.window_bytes.saturating_add(n as u64);
        let elapsed = now.saturating_duration_since(self.window_start);
        if self.bounds.speed_limit > 0 && elapsed >= self.bounds.speed_time {
            let rate = self.window_bytes as f64 / elapsed.as_secs_f64().max(1e-9);
            if rate < self.bounds.speed_limit as f64 {
                return Err(Failure::new(
                    FailureKind::Timeout,
                    format!(
                        "transfer too slow: {rate:.0} bytes/s over {:.0} s, below the floor of {} \
                         bytes/s (--speed-limit)",
                        elapsed.as_secs_f64(),
                        self.bounds.speed_limit
                    ),
                ));
            }
            self.window_start = now;
            self.window_bytes = 0;
        }
        Ok(n)
    }

    /// The whole body (an API answer), within the bounds.
    pub(crate) fn read_to_vec(&mut self) -> Result<Vec<u8>, Failure> {
        // Sized from Content-Length: growing from empty would double the peak for big pages.
        let hint = self.content_length().unwrap_or(0).min(self.bounds.limit);
        let mut out = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = self.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }
}

impl Answer {
    /// Copy the body to `out`, checking as it streams: the content (an SWC body must look
    /// like one, nothing may be an HTML error page), the size against the maximum, and the
    /// length against `Content-Length` (or, without one, that an SWC body does not end
    /// inside a line). Returns the bytes written.
    pub(crate) fn copy_checked(
        mut self,
        out: &mut dyn Write,
        expect: Expect,
    ) -> Result<u64, Failure> {
        let announced = self.content_length();
        let max = self.limit();
        if let Some(n) = announced.filter(|n| *n > max) {
            return Err(Failure::new(
                FailureKind::TooLarge,
                format!("file of {n} bytes is larger than the maximum of {max}"),
            ));
        }
        let mut check = SwcCheck::expecting(expect);
        let not_it = if expect == Expect::Png {
            FailureKind::NotPng
        } else {
            FailureKind::NotSwc
        };
        let mut buf = vec![0u8; 64 * 1024];
        let mut written = 0u64;
        loop {
            let n = self.read(&mut buf)?;
            if n == 0 {
                break;
            }
            let chunk = buf.get(..n).unwrap_or(&buf);
            if let Verdict::Bad(why) = check.feed(chunk) {
                return Err(Failure::new(not_it, why));
            }
            written += n as u64;
            out.write_all(chunk).map_err(|e| {
                Failure::new(FailureKind::Io, "cannot write the file").with_cause(e)
            })?;
        }
        match check.finish(announced.is_some()) {
            Verdict::Bad(why) => return Err(Failure::new(not_it, why)),
            Verdict::Cut(why) => return Err(Failure::new(FailureKind::Incomplete, why)),
            Verdict::Good | Verdict::Undecided => {}
        }
        if let Some(n) = announced.filter(|n| *n != written) {
            return Err(Failure::new(
                FailureKind::Incomplete,
                format!("body cut short: {written} of {n} bytes"),
            ));
        }
        Ok(written)
    }
}
