//! Time zones: fixed offsets (UTC included) and IANA zones.

use chrono::offset::LocalResult;
use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;

/// A time zone: a fixed offset (UTC included) or an IANA zone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    Fixed(FixedOffset),
    Named(Tz),
}

impl Zone {
    /// UTC.
    pub fn utc() -> Self {
        Zone::Fixed(FixedOffset::east_opt(0).expect("zero offset"))
    }

    /// Parses an IANA name (`America/Los_Angeles`), `UTC`/`Z`/`GMT`, or an offset
    /// (`+05:30`, `-0800`, `+08`, `UTC+8`).
    pub fn parse(s: &str) -> Option<Zone> {
        let t = s.trim();
        if t.is_empty() {
            return None;
        }
        let upper = t.to_ascii_uppercase();
        if matches!(upper.as_str(), "UTC" | "Z" | "GMT" | "UT" | "ETC/UTC" | "ETC/GMT") {
            return Some(Zone::utc());
        }
        for prefix in ["UTC", "GMT", ""] {
            if let Some(rest) = upper.strip_prefix(prefix) {
                if rest.starts_with('+') || rest.starts_with('-') {
                    return parse_offset(rest).map(Zone::Fixed);
                }
            }
        }
        t.parse::<Tz>().ok().map(Zone::Named).or_else(|| {
            // Case-insensitive fallback for IANA names.
            chrono_tz::TZ_VARIANTS
                .iter()
                .find(|z| z.name().eq_ignore_ascii_case(t))
                .map(|z| Zone::Named(*z))
        })
    }

    /// Whether this is UTC.
    pub fn is_utc(&self) -> bool {
        matches!(self, Zone::Fixed(f) if f.local_minus_utc() == 0)
    }

    /// The zone's name (`UTC`, `+05:30`, `America/Los_Angeles`).
    pub fn name(&self) -> String {
        match self {
            _ if self.is_utc() => "UTC".to_string(),
            Zone::Fixed(f) => f.to_string(),
            Zone::Named(tz) => tz.name().to_string(),
        }
    }

    /// Offset from UTC in seconds at instant `ms`.
    pub fn offset_secs(&self, ms: i64) -> Option<i32> {
        Some(match self {
            Zone::Fixed(f) => f.local_minus_utc(),
            Zone::Named(tz) => {
                let utc = DateTime::from_timestamp_millis(ms)?.naive_utc();
                tz.offset_from_utc_datetime(&utc).fix().local_minus_utc()
            }
        })
    }

    /// The local wall-clock time at instant `ms`.
    pub fn to_local(&self, ms: i64) -> Option<NaiveDateTime> {
        let utc = DateTime::from_timestamp_millis(ms)?.naive_utc();
        utc.checked_add_signed(Duration::seconds(i64::from(self.offset_secs(ms)?)))
    }

    /// The instant of a local wall-clock time (earliest when ambiguous, shifted forward
    /// over a DST gap).
    pub fn from_local(&self, local: NaiveDateTime) -> Option<i64> {
        match self {
            Zone::Fixed(f) => local
                .checked_sub_signed(Duration::seconds(i64::from(f.local_minus_utc())))
                .map(|u| u.and_utc().timestamp_millis()),
            Zone::Named(tz) => match tz.from_local_datetime(&local) {
                LocalResult::Single(d) => Some(d.timestamp_millis()),
                LocalResult::Ambiguous(a, b) => Some(a.timestamp_millis().min(b.timestamp_millis())),
                LocalResult::None => {
                    let before = local.checked_sub_signed(Duration::days(1))?;
                    let off = tz.offset_from_utc_datetime(&before).fix().local_minus_utc();
                    local
                        .checked_sub_signed(Duration::seconds(i64::from(off)))
                        .map(|u| u.and_utc().timestamp_millis())
                }
            },
        }
    }

    /// The fixed offset in effect at `ms`.
    pub(super) fn fixed_at(&self, ms: i64) -> Option<FixedOffset> {
        FixedOffset::east_opt(self.offset_secs(ms)?)
    }
}

/// Parses `+05:30`, `-0800`, `+08`, `+8`.
pub(super) fn parse_offset(s: &str) -> Option<FixedOffset> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) || digits.len() > 4 {
        return None;
    }
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        3 => (digits[..1].parse::<i32>().ok()?, digits[1..].parse::<i32>().ok()?),
        _ => (digits[..2].parse::<i32>().ok()?, digits[2..].parse::<i32>().ok()?),
    };
    if h > 18 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}
