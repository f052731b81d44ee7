//! Validators of `/dableFiles/` answers: content hashes as ETags, release dates as
//! IMF-fixdates, and the evaluation of `If-None-Match` / `If-Modified-Since`.

use super::http::Request;
use super::tables::splitmix64;

/// A 64-bit hash of `bytes` (not cryptographic; stable across runs and platforms).
pub(super) fn content_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = 0xCBF2_9CE4_8422_2325 ^ bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let word = u64::from_le_bytes(c.try_into().expect("8-byte chunk"));
        h = (h ^ word).wrapping_mul(K).rotate_left(31);
    }
    for &b in chunks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(K).rotate_left(31);
    }
    splitmix64(h)
}

/// The `ETag` of a body with this content hash: a quoted strong tag, 16 hex digits.
pub(super) fn etag(hash: u64) -> String {
    format!("\"{hash:016x}\"")
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count from 1970-01-01 (`civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Seconds since the epoch at which release `n` was published: release 1 on 2023-08-01
/// (v8.5.25), every later one 91 days after the previous one.
pub(super) fn release_secs(n: u32) -> i64 {
    let day = days_from_civil(2023, 8, 1) + 91 * (i64::from(n.max(1)) - 1);
    day * 86_400
}

/// Seconds since the epoch as an IMF-fixdate (`Tue, 01 Aug 2023 00:00:00 GMT`).
pub(super) fn http_date(secs: i64) -> String {
    let (day, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(day);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[day.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The `Last-Modified` of files published (or last changed) in release `n`, e.g.
/// `Tue, 01 Aug 2023 00:00:00 GMT` for release 1; releases are 91 days apart.
pub fn release_date(n: u32) -> String {
    http_date(release_secs(n))
}

/// Parses an IMF-fixdate (the only format RFC 9110 lets a sender generate); anything else
/// is None (and a conditional header with it is ignored).
pub(super) fn parse_http_date(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [wkday, d, mon, y, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let wkday = wkday.strip_suffix(',')?;
    let d: i64 = d.parse().ok().filter(|_| d.len() == 2)?;
    let m = MONTHS.iter().position(|x| x == mon)? as i64 + 1;
    let y: i64 = y.parse().ok().filter(|_| y.len() == 4)?;
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok().filter(|_| p.len() == 2))
        .collect::<Option<_>>()?;
    let [h, min, s] = hms.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&d) || *h > 23 || *min > 59 || *s > 60 {
        return None;
    }
    let day = days_from_civil(y, m, d);
    if civil_from_days(day) != (y, m, d) || WEEKDAYS[day.rem_euclid(7) as usize] != wkday {
        return None;
    }
    Some(day * 86_400 + h * 3600 + min * 60 + s)
}

/// Whether a `GET`/`HEAD` with these conditional headers gets `304 Not Modified` for a
/// representation with `etag` and `Last-Modified` at `modified` (RFC 9110 §13.2.2):
/// `If-None-Match` (weak comparison, `*` matches) decides when present; otherwise
/// `If-Modified-Since` not older than `modified`.
pub(super) fn not_modified(req: &Request, etag: &str, modified: i64) -> bool {
    if !matches!(req.method.as_str(), "GET" | "HEAD") {
        return false;
    }
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    if let Some(list) = req.header("if-none-match") {
        return list
            .split(',')
            .any(|tag| tag.trim() == "*" || opaque(tag) == opaque(etag));
    }
    req.header("if-modified-since")
        .and_then(parse_http_date)
        .is_some_and(|since| since >= modified)
}
