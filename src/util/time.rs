//! Dates without a time-zone database (a static binary has none): HTTP dates in headers and
//! UTC timestamps in manifests and logs.

use std::fmt;
use std::time::{Duration, SystemTime};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A moment in UTC, to the second. Shown as RFC 3339 (`2026-12-01T18:50:29Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    secs: u64,
}

/// A [`Timestamp`]'s calendar date and time of day, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Civil {
    /// The year, e.g. 2026.
    pub year: u64,
    /// 1..=12.
    pub month: u32,
    /// 1..=31.
    pub day: u32,
    /// 0..=23.
    pub hour: u32,
    /// 0..=59.
    pub minute: u32,
    /// 0..=59.
    pub second: u32,
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm), for years >= 1970.
/// Days of a month of the Gregorian calendar (0 for a month that does not exist): a date
/// read from a file or a server is a real date or no date (no 31 February).
fn days_in_month(year: u64, month: u32) -> u32 {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    }
}

fn days_from_civil(year: u64, month: u32, day: u32) -> u64 {
    let (y, m) = if month <= 2 {
        (year - 1, u64::from(month) + 9)
    } else {
        (year, u64::from(month) - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + u64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Timestamp {
    /// Now.
    pub fn now() -> Timestamp {
        Timestamp::from_system_time(SystemTime::now())
    }

    /// From seconds since 1970-01-01 UTC.
    pub fn from_unix(secs: u64) -> Timestamp {
        Timestamp { secs }
    }

    /// Seconds since 1970-01-01 UTC.
    pub fn unix(self) -> u64 {
        self.secs
    }

    pub(crate) fn from_system_time(t: SystemTime) -> Timestamp {
        let secs = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Timestamp { secs }
    }

    /// Time from now until this moment (zero if it is past).
    pub(crate) fn time_left(self) -> Duration {
        Duration::from_secs(self.secs.saturating_sub(Timestamp::now().secs))
    }

    /// The calendar date and time of day.
    pub fn civil(self) -> Civil {
        let days = self.secs / 86_400;
        let rem = self.secs % 86_400;
        let z = days + 719_468;
        let era = z / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + u64::from(month <= 2);
        Civil {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
        }
    }

    /// `YYYY-MM-DD`.
    pub fn date(self) -> String {
        let c = self.civil();
        format!("{:04}-{:02}-{:02}", c.year, c.month, c.day)
    }

    fn from_parts(c: Civil) -> Option<Timestamp> {
        let valid = (1970..=9999).contains(&c.year)
            && (1..=12).contains(&c.month)
            && (1..=days_in_month(c.year, c.month)).contains(&c.day)
            && c.hour <= 23
            && c.minute <= 59
            && c.second <= 60;
        if !valid {
            return None;
        }
        let days = days_from_civil(c.year, c.month, c.day);
        let secs = days * 86_400
            + u64::from(c.hour) * 3600
            + u64::from(c.minute) * 60
            + u64::from(c.second);
        Some(Timestamp { secs })
    }

    /// Parse RFC 3339 in UTC as [`Timestamp`]'s `Display` writes it (`2026-12-01T18:50:29Z`).
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let s = s.trim().strip_suffix('Z')?;
        let (date, time) = s.split_once('T')?;
        let mut d = date.splitn(3, '-');
        let mut t = time.splitn(3, ':');
        let num = |x: Option<&str>| x.and_then(|v| v.parse::<u64>().ok());
        Timestamp::from_parts(Civil {
            year: num(d.next())?,
            month: u32::try_from(num(d.next())?).ok()?,
            day: u32::try_from(num(d.next())?).ok()?,
            hour: u32::try_from(num(t.next())?).ok()?,
            minute: u32::try_from(num(t.next())?).ok()?,
            second: u32::try_from(num(t.next())?).ok()?,
        })
    }

    /// Parse an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7). Anything out
    /// of range is `None`, never an overflow.
    pub(crate) fn parse_http_date(s: &str) -> Option<Timestamp> {
        let parts: Vec<&str> = s.split_whitespace().collect();
        let [_, day, month, year, hms, "GMT"] = parts.as_slice() else {
            return None;
        };
        let month = MONTHS.iter().position(|m| m == month)? as u32 + 1;
        let mut t = hms.splitn(3, ':');
        let num = |x: Option<&str>| -> Option<u32> { x?.parse::<u32>().ok() };
        Timestamp::from_parts(Civil {
            year: year.parse().ok()?,
            month,
            day: day.parse().ok()?,
            hour: num(t.next())?,
            minute: num(t.next())?,
            second: num(t.next())?,
        })
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.civil();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        let t = Timestamp::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t.unix(), 784_111_777);
        for bad in [
            "Sun, 06 Nov 2026 3000000000000000:00:00 GMT",
            "Sun, 99 Nov 2026 00:00:00 GMT",
            "Sun, 06 Nov 99999999999999999999 00:00:00 GMT",
            "Sun, 06 Foo 2026 00:00:00 GMT",
            "soon",
            "",
        ] {
            assert_eq!(Timestamp::parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_real_dates_are_read() {
        for bad in [
            "2026-02-29T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(
            Timestamp::parse_http_date("Mon, 31 Apr 2026 00:00:00 GMT"),
            None
        );
        for good in [
            "2000-02-29T00:00:00Z",
            "2026-12-31T23:59:59Z",
            "2026-04-30T00:00:00Z",
        ] {
            let t = Timestamp::parse_rfc3339(good).unwrap();
            assert_eq!(t.to_string(), good, "read back as it was written");
        }
    }

    #[test]
    fn rfc3339_round_trip() {
        let t = Timestamp::from_unix(1_796_150_000);
        let s = t.to_string();
        assert_eq!(s.len(), "2026-12-01T18:50:29Z".len());
        assert_eq!(Timestamp::parse_rfc3339(&s), Some(t));
        assert_eq!(Timestamp::from_unix(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::parse_rfc3339("2024-02-29T23:59:59Z").map(|t| t.date()),
            Some("2024-02-29".to_string())
        );
        assert_eq!(Timestamp::parse_rfc3339("2024-13-01T00:00:00Z"), None);
    }
}
