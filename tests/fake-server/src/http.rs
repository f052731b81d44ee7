//! HTTP/1.1 plumbing: reading requests, serializing answers, JSON strings, percent-coding and
//! TCP resets.

use serde_json::{Map, Value};
use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::sync::{Mutex, MutexGuard};

pub(super) const MAX_LINE: u64 = 16 * 1024;
pub(super) const MAX_HEADERS: usize = 100;
pub(super) const MAX_BODY: usize = 1024 * 1024;

pub(super) const NOT_FOUND_HTML: &str =
    "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>";

pub(super) struct Request {
    pub(super) method: String,
    pub(super) target: String,
    pub(super) path: String,
    pub(super) query: Vec<(String, String)>,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    pub(super) close: bool,
}

impl Request {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub(super) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub(super) fn params(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

pub(super) enum ReadError {
    /// EOF or I/O error: just drop the connection.
    Closed,
    /// Unparseable request: answer 400 and close.
    Bad(&'static str),
}

pub(super) fn read_line(
    r: &mut BufReader<TcpStream>,
    line: &mut Vec<u8>,
) -> Result<usize, ReadError> {
    line.clear();
    let n = r
        .by_ref()
        .take(MAX_LINE)
        .read_until(b'\n', line)
        .map_err(|_| ReadError::Closed)?;
    if n > 0 && line.last() != Some(&b'\n') {
        return Err(if n as u64 >= MAX_LINE {
            ReadError::Bad("Header line too long")
        } else {
            ReadError::Closed
        });
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(n)
}

/// Reads one request. `on_request_line` is called with the target as soon as a well-formed
/// request line was read (before the headers), which is when a request starts being in flight.
pub(super) fn read_request(
    r: &mut BufReader<TcpStream>,
    on_request_line: &mut dyn FnMut(&str),
) -> Result<Option<Request>, ReadError> {
    let mut line = Vec::new();
    let request_line = loop {
        if read_line(r, &mut line)? == 0 {
            return Ok(None);
        }
        if !line.is_empty() {
            break String::from_utf8_lossy(&line).into_owned();
        }
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad("Malformed request line"));
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') || method.is_empty() {
        return Err(ReadError::Bad("Malformed request line"));
    }
    on_request_line(target);
    let mut headers = Vec::new();
    loop {
        if read_line(r, &mut line)? == 0 {
            return Err(ReadError::Closed);
        }
        if line.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(ReadError::Bad("Too many headers"));
        }
        let text = String::from_utf8_lossy(&line);
        let (name, value) = text
            .split_once(':')
            .ok_or(ReadError::Bad("Malformed header"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let header = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    if header("transfer-encoding").is_some() {
        return Err(ReadError::Bad("Chunked request bodies are not supported"));
    }
    let mut body = Vec::new();
    if let Some(len) = header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| ReadError::Bad("Bad Content-Length"))?;
        if len > MAX_BODY {
            return Err(ReadError::Bad("Request body too large"));
        }
        body.resize(len, 0);
        r.read_exact(&mut body).map_err(|_| ReadError::Closed)?;
    }
    let connection = header("connection").unwrap_or_default();
    let close = if version == "HTTP/1.0" {
        !connection.contains("keep-alive")
    } else {
        connection.contains("close")
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    Ok(Some(Request {
        method: method.to_string(),
        target: target.to_string(),
        path: path.to_string(),
        query,
        headers,
        body,
        close,
    }))
}

pub(super) struct Response {
    pub(super) status: u16,
    pub(super) content_type: &'static str,
    pub(super) headers: Vec<(&'static str, String)>,
    pub(super) body: Vec<u8>,
    /// The body is a `/dableFiles/` file's bytes (for the `file_bodies` counter).
    pub(super) file_body: bool,
}

pub(super) const JSON: &str = "application/json";

impl Response {
    pub(super) fn new(
        status: u16,
        content_type: &'static str,
        body: impl Into<Vec<u8>>,
    ) -> Response {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
            file_body: false,
        }
    }
    pub(super) fn json(body: impl Into<Vec<u8>>) -> Response {
        Response::new(200, JSON, body)
    }
    pub(super) fn not_found_html() -> Response {
        Response::new(404, "text/html", NOT_FOUND_HTML)
    }

    /// Status line and headers. `content_length: None` leaves the header out (a 304, or a
    /// body delimited by closing the connection).
    pub(super) fn head(&self, content_length: Option<usize>, close: bool) -> String {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\n",
            self.status,
            reason(self.status),
            self.content_type,
        );
        if let Some(len) = content_length {
            head.push_str(&format!("Content-Length: {len}\r\n"));
        }
        head.push_str(if close {
            "Connection: close\r\n"
        } else {
            "Connection: keep-alive\r\n"
        });
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        head
    }

    /// Status line, headers and body in one buffer (one `write_all`: several small writes
    /// meet Nagle + delayed ACK and cost 40 ms each). Returns the buffer and the header length.
    /// A 304 carries neither a body nor a `Content-Length`.
    pub(super) fn serialize(&self, head_only: bool, close: bool) -> (Vec<u8>, usize) {
        let length = (self.status != 304).then_some(self.body.len());
        let head = self.head(length, close);
        let head_len = head.len();
        let mut out = head.into_bytes();
        if !head_only && self.status != 304 {
            out.extend_from_slice(&self.body);
        }
        (out, head_len)
    }
}

pub(super) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Spring Boot's error layout, the one the real server uses.
pub(super) fn json_error(status: u16, path: &str, message: &str) -> Response {
    let mut m = Map::new();
    m.insert("status".into(), status.into());
    m.insert("error".into(), reason(status).into());
    m.insert("message".into(), message.into());
    m.insert("path".into(), path.into());
    Response::new(status, JSON, Value::Object(m).to_string())
}

pub(super) fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Decodes `%XX` escapes only (`+` stays `+`); invalid escapes are kept as they are.
pub fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            ) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything but RFC 3986 unreserved characters (space -> `%20`).
pub fn percent_encode(s: &str) -> String {
    encode_keeping(s, b"-._~")
}

pub(super) fn encode_keeping(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Standard base64 with padding (RFC 4648), for `Authorization: Basic`.
pub(super) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Whether a request target is a `/__fake/...` control request (never counted).
pub(super) fn is_control(target: &str) -> bool {
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    strip_context(path).starts_with("/__fake/")
}

/// Strips the legacy `/neuroMorpho` context path.
pub(super) fn strip_context(path: &str) -> &str {
    path.strip_prefix("/neuroMorpho")
        .filter(|r| r.starts_with('/'))
        .unwrap_or(path)
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not poison the server for the other tests.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Closes `stream` with a TCP RST: SO_LINGER {on, 0 s}, then close.
pub(super) fn reset(stream: TcpStream) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        #[repr(C)]
        struct Linger {
            l_onoff: i32,
            l_linger: i32,
        }
        // std links libc already; TcpStream::set_linger is unstable (tcp_linger).
        unsafe extern "C" {
            fn setsockopt(
                fd: i32,
                level: i32,
                name: i32,
                val: *const std::ffi::c_void,
                len: u32,
            ) -> i32;
        }
        const SOL_SOCKET: i32 = 1;
        const SO_LINGER: i32 = 13;
        let linger = Linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: valid fd owned by `stream`; `linger` outlives the call; size matches.
        unsafe {
            setsockopt(
                stream.as_raw_fd(),
                SOL_SOCKET,
                SO_LINGER,
                (&linger as *const Linger).cast(),
                std::mem::size_of::<Linger>() as u32,
            );
        }
    }
    drop(stream);
}

pub(super) enum Action {
    KeepAlive,
    Close,
    Reset,
}
