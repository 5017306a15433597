//! Lenient ISO-8601 parsing (Druid's default `TIME_PARSE`) and ISO-8601 formatting
//! (Druid's default `TIME_FORMAT`).

use super::zone::{parse_offset, Zone};
use chrono::{DateTime, Duration, NaiveDate};

// Parsing and formatting

/// Lenient ISO-8601 parsing as Druid's default TIME_PARSE parser: a date (`yyyy`,
/// `yyyy-MM`, `yyyy-MM-dd`), optionally `T` or a space and a time (`HH`, `HH:mm`,
/// `HH:mm:ss`, `HH:mm:ss.SSS`), optionally an offset (`Z`, `+05:30`, `-0800`, `+08`).
/// Without an offset the time is local to `zone`.
pub fn parse_iso(s: &str, zone: &Zone) -> Option<i64> {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize, max: usize| -> Option<(i64, usize)> {
        let start = *i;
        while *i < b.len() && *i - start < max && b[*i].is_ascii_digit() {
            *i += 1;
        }
        if *i == start {
            return None;
        }
        Some((s[start..*i].parse().ok()?, *i - start))
    };
    let negative = if b.first() == Some(&b'-') {
        i += 1;
        true
    } else {
        false
    };
    let (mut year, _) = digits(&mut i, 9)?;
    if negative {
        year = -year;
    }
    let (mut month, mut day) = (1, 1);
    if i < b.len() && b[i] == b'-' {
        i += 1;
        month = digits(&mut i, 2)?.0;
        if i < b.len() && b[i] == b'-' {
            i += 1;
            day = digits(&mut i, 2)?.0;
        }
    }
    let (mut hour, mut minute, mut second, mut nanos) = (0, 0, 0, 0u32);
    let mut offset: Option<i32> = None;
    if i < b.len() && (b[i] == b'T' || b[i] == b' ') {
        i += 1;
        if i < b.len() && b[i].is_ascii_digit() {
            hour = digits(&mut i, 2)?.0;
            if i < b.len() && b[i] == b':' {
                i += 1;
                minute = digits(&mut i, 2)?.0;
                if i < b.len() && b[i] == b':' {
                    i += 1;
                    second = digits(&mut i, 2)?.0;
                    if i < b.len() && (b[i] == b'.' || b[i] == b',') {
                        i += 1;
                        let start = i;
                        while i < b.len() && b[i].is_ascii_digit() {
                            i += 1;
                        }
                        if i == start {
                            return None;
                        }
                        let frac: String = s[start..i].chars().chain(std::iter::repeat('0')).take(9).collect();
                        nanos = frac.parse().ok()?;
                    }
                }
            }
        }
    }
    if i < b.len() {
        let rest = &s[i..];
        if rest == "Z" {
            offset = Some(0);
        } else {
            offset = Some(parse_offset(rest)?.local_minus_utc());
        }
    }
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(year).ok()?,
        u32::try_from(month).ok()?,
        u32::try_from(day).ok()?,
    )?;
    let local = date.and_hms_nano_opt(
        u32::try_from(hour).ok()?,
        u32::try_from(minute).ok()?,
        u32::try_from(second).ok()?,
        nanos / 1_000_000 * 1_000_000,
    )?;
    match offset {
        Some(off) => local
            .checked_sub_signed(Duration::seconds(i64::from(off)))
            .map(|u| u.and_utc().timestamp_millis()),
        None => zone.from_local(local),
    }
}

/// Druid's default TIME_FORMAT output: ISO-8601 with millis and offset (`Z` for UTC).
pub fn format_iso(t: i64, zone: &Zone) -> Option<String> {
    let off = zone.fixed_at(t)?;
    let dt = DateTime::from_timestamp_millis(t)?.with_timezone(&off);
    Some(if off.local_minus_utc() == 0 {
        msq_engine::granularity::format_millis(t)
    } else {
        dt.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
    })
}
