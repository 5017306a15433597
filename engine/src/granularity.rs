//! Time granularities (PARTITIONED BY, TIME_FLOOR periods) and time-chunk arithmetic in UTC.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Druid's textual ETERNITY interval.
pub const ETERNITY_TEXT: &str = "-146136543-09-08T08:23:32.096Z/146140482-04-24T15:36:27.903Z";

/// A segment / time-chunk granularity, as Druid names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Granularity {
    Second,
    Minute,
    FiveMinute,
    TenMinute,
    FifteenMinute,
    ThirtyMinute,
    Hour,
    SixHour,
    EightHour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
    /// One chunk for all time.
    All,
}

impl Granularity {
    /// Parses a Druid granularity name (`HOUR`, `day`, `ALL TIME`, `SIX_HOUR`, ...).
    pub fn from_name(name: &str) -> Option<Self> {
        let n = name.trim().to_ascii_uppercase().replace(' ', "_");
        Some(match n.as_str() {
            "SECOND" => Granularity::Second,
            "MINUTE" => Granularity::Minute,
            "FIVE_MINUTE" => Granularity::FiveMinute,
            "TEN_MINUTE" => Granularity::TenMinute,
            "FIFTEEN_MINUTE" => Granularity::FifteenMinute,
            "THIRTY_MINUTE" => Granularity::ThirtyMinute,
            "HOUR" => Granularity::Hour,
            "SIX_HOUR" => Granularity::SixHour,
            "EIGHT_HOUR" => Granularity::EightHour,
            "DAY" => Granularity::Day,
            "WEEK" => Granularity::Week,
            "MONTH" => Granularity::Month,
            "QUARTER" => Granularity::Quarter,
            "YEAR" => Granularity::Year,
            "ALL" | "ALL_TIME" => Granularity::All,
            _ => return None,
        })
    }

    /// Parses an ISO-8601 period that matches a standard granularity (`PT1H`, `P1D`, `P1M`, ...).
    pub fn from_period(period: &str) -> Option<Self> {
        Some(match period.trim().to_ascii_uppercase().as_str() {
            "PT1S" => Granularity::Second,
            "PT1M" => Granularity::Minute,
            "PT5M" => Granularity::FiveMinute,
            "PT10M" => Granularity::TenMinute,
            "PT15M" => Granularity::FifteenMinute,
            "PT30M" => Granularity::ThirtyMinute,
            "PT1H" => Granularity::Hour,
            "PT6H" => Granularity::SixHour,
            "PT8H" => Granularity::EightHour,
            "P1D" => Granularity::Day,
            "P1W" | "P7D" => Granularity::Week,
            "P1M" => Granularity::Month,
            "P3M" => Granularity::Quarter,
            "P1Y" => Granularity::Year,
            _ => return None,
        })
    }

    /// The ISO-8601 period (`PT1H`), or `None` for `ALL`.
    pub fn period(&self) -> Option<&'static str> {
        Some(match self {
            Granularity::Second => "PT1S",
            Granularity::Minute => "PT1M",
            Granularity::FiveMinute => "PT5M",
            Granularity::TenMinute => "PT10M",
            Granularity::FifteenMinute => "PT15M",
            Granularity::ThirtyMinute => "PT30M",
            Granularity::Hour => "PT1H",
            Granularity::SixHour => "PT6H",
            Granularity::EightHour => "PT8H",
            Granularity::Day => "P1D",
            Granularity::Week => "P1W",
            Granularity::Month => "P1M",
            Granularity::Quarter => "P3M",
            Granularity::Year => "P1Y",
            Granularity::All => return None,
        })
    }

    /// Druid's name for the granularity (`HOUR`, `ALL`).
    pub fn name(&self) -> &'static str {
        match self {
            Granularity::Second => "SECOND",
            Granularity::Minute => "MINUTE",
            Granularity::FiveMinute => "FIVE_MINUTE",
            Granularity::TenMinute => "TEN_MINUTE",
            Granularity::FifteenMinute => "FIFTEEN_MINUTE",
            Granularity::ThirtyMinute => "THIRTY_MINUTE",
            Granularity::Hour => "HOUR",
            Granularity::SixHour => "SIX_HOUR",
            Granularity::EightHour => "EIGHT_HOUR",
            Granularity::Day => "DAY",
            Granularity::Week => "WEEK",
            Granularity::Month => "MONTH",
            Granularity::Quarter => "QUARTER",
            Granularity::Year => "YEAR",
            Granularity::All => "ALL",
        }
    }

    /// Fixed length in millis for sub-day and day/week granularities.
    fn fixed_millis(&self) -> Option<i64> {
        const S: i64 = 1000;
        Some(match self {
            Granularity::Second => S,
            Granularity::Minute => 60 * S,
            Granularity::FiveMinute => 300 * S,
            Granularity::TenMinute => 600 * S,
            Granularity::FifteenMinute => 900 * S,
            Granularity::ThirtyMinute => 1800 * S,
            Granularity::Hour => 3600 * S,
            Granularity::SixHour => 6 * 3600 * S,
            Granularity::EightHour => 8 * 3600 * S,
            Granularity::Day => 86_400 * S,
            _ => return None,
        })
    }

    /// Start of the chunk holding `t` (epoch millis, UTC).
    pub fn bucket_start(&self, t: i64) -> i64 {
        if let Some(len) = self.fixed_millis() {
            return t.div_euclid(len) * len;
        }
        match self {
            Granularity::All => i64::MIN,
            Granularity::Week => {
                // ISO weeks start on Monday; 1970-01-05 was a Monday.
                let len = 7 * 86_400_000;
                let monday = 4 * 86_400_000;
                (t - monday).div_euclid(len) * len + monday
            }
            Granularity::Month | Granularity::Quarter | Granularity::Year => {
                let dt = millis_to_datetime(t);
                let month0 = dt.month0();
                let m = match self {
                    Granularity::Month => month0,
                    Granularity::Quarter => month0 / 3 * 3,
                    _ => 0,
                };
                ymd_millis(dt.year(), m + 1)
            }
            _ => unreachable!(),
        }
    }

    /// End (exclusive) of the chunk that starts at `start`.
    pub fn bucket_end(&self, start: i64) -> i64 {
        if let Some(len) = self.fixed_millis() {
            return start + len;
        }
        match self {
            Granularity::All => i64::MAX,
            Granularity::Week => start + 7 * 86_400_000,
            Granularity::Month | Granularity::Quarter | Granularity::Year => {
                let dt = millis_to_datetime(start);
                let months = match self {
                    Granularity::Month => 1,
                    Granularity::Quarter => 3,
                    _ => 12,
                };
                let total = dt.year() * 12 + dt.month0() as i32 + months;
                ymd_millis(total.div_euclid(12), (total.rem_euclid(12) + 1) as u32)
            }
            _ => unreachable!(),
        }
    }

    /// The chunk interval holding `t`.
    pub fn bucket(&self, t: i64) -> Interval {
        if *self == Granularity::All {
            return Interval::eternity();
        }
        let s = self.bucket_start(t);
        Interval::new(s, self.bucket_end(s))
    }

    /// Whether `t` is on a chunk boundary of this granularity.
    pub fn is_aligned(&self, t: i64) -> bool {
        *self != Granularity::All && self.bucket_start(t) == t
    }

    /// Every granularity with time buckets, finest first.
    pub const BUCKETED: [Granularity; 14] = [
        Granularity::Second,
        Granularity::Minute,
        Granularity::FiveMinute,
        Granularity::TenMinute,
        Granularity::FifteenMinute,
        Granularity::ThirtyMinute,
        Granularity::Hour,
        Granularity::SixHour,
        Granularity::EightHour,
        Granularity::Day,
        Granularity::Week,
        Granularity::Month,
        Granularity::Quarter,
        Granularity::Year,
    ];

    /// The granularity a chunk interval is exactly one bucket of (the finest when several
    /// are; `All` for eternity), if any.
    pub fn of_chunk(iv: &Interval) -> Option<Granularity> {
        if iv.is_eternity() {
            return Some(Granularity::All);
        }
        Self::BUCKETED.into_iter().find(|g| g.bucket(iv.start) == *iv)
    }
}

impl fmt::Display for Granularity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn ymd_millis(year: i32, month: u32) -> i64 {
    NaiveDate::from_ymd_opt(year, month, 1)
        .expect("valid date")
        .and_hms_opt(0, 0, 0)
        .expect("valid time")
        .and_utc()
        .timestamp_millis()
}

/// Epoch millis to a UTC datetime (clamped to chrono's range).
pub fn millis_to_datetime(t: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(t).single().unwrap_or(if t < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// Formats epoch millis as Druid does: `2015-09-12T00:00:00.000Z`.
pub fn format_millis(t: i64) -> String {
    let dt = millis_to_datetime(t);
    if !(0..=9999).contains(&dt.year()) {
        // strftime's `%Y` signs and widens such years; the fixed-width path below does not.
        return dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    }
    // Digits written by hand: parsing a strftime pattern on every call was a visible share
    // of planning over many segments (every segment id and interval is formatted).
    let mut out = [0u8; 24];
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, dt.year() as u32);
    put(5, 2, dt.month());
    put(8, 2, dt.day());
    put(11, 2, dt.hour());
    put(14, 2, dt.minute());
    put(17, 2, dt.second());
    put(20, 3, dt.timestamp_subsec_millis());
    for (i, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (23, b'Z'),
    ] {
        out[i] = c;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses an ISO-8601 instant (`2015-09-12`, `2015-09-12T01:00:00Z`, with offset) to epoch millis.
pub fn parse_instant(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        let t = s.trim_end_matches('Z');
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(t, fmt) {
            return Some(n.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_millis())
}

/// A half-open time interval `[start, end)` in epoch millis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Interval {
    pub start: i64,
    pub end: i64,
}

impl Interval {
    /// A new interval.
    pub fn new(start: i64, end: i64) -> Self {
        Interval { start, end }
    }

    /// All of time, as Druid's ETERNITY.
    pub fn eternity() -> Self {
        Interval {
            start: i64::MIN,
            end: i64::MAX,
        }
    }

    /// Whether this is ETERNITY.
    pub fn is_eternity(&self) -> bool {
        self.start == i64::MIN && self.end == i64::MAX
    }

    /// Whether `t` lies inside.
    pub fn contains(&self, t: i64) -> bool {
        t >= self.start && t < self.end
    }

    /// Whether `other` lies wholly inside.
    pub fn encloses(&self, other: &Interval) -> bool {
        other.start >= self.start && other.end <= self.end
    }

    /// Whether the two intervals share any instant.
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// Druid's text form, `start/end` in ISO-8601 (ETERNITY as Druid prints it).
    pub fn to_iso(&self) -> String {
        if self.is_eternity() {
            return ETERNITY_TEXT.to_string();
        }
        format!("{}/{}", fmt_bound(self.start), fmt_bound(self.end))
    }

    /// Parses `start/end` ISO text (and Druid's ETERNITY text).
    pub fn parse(s: &str) -> Option<Self> {
        if s == ETERNITY_TEXT {
            return Some(Interval::eternity());
        }
        let (a, b) = s.split_once('/')?;
        Some(Interval::new(parse_instant(a)?, parse_instant(b)?))
    }
}

fn fmt_bound(t: i64) -> String {
    match t {
        i64::MIN => "-146136543-09-08T08:23:32.096Z".to_string(),
        i64::MAX => "146140482-04-24T15:36:27.903Z".to_string(),
        t => format_millis(t),
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iso())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_millis_matches_strftime() {
        let strftime = |t: i64| millis_to_datetime(t).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        let mut samples = vec![
            0,
            1,
            -1,
            999,
            -999,
            1_442_016_000_000,
            253_402_300_799_999,
            253_402_300_800_000,
        ];
        samples.extend([-62_167_219_200_000, -62_167_219_200_001, i64::MIN, i64::MAX]);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            samples.push((x as i64) % 400_000_000_000_000);
        }
        for t in samples {
            assert_eq!(format_millis(t), strftime(t), "t = {t}");
        }
        assert_eq!(format_millis(1_442_016_000_123), "2015-09-12T00:00:00.123Z");
    }

    #[test]
    fn the_granularity_of_a_chunk() {
        let t = parse_instant("2015-09-12T05:00:00Z").unwrap();
        assert_eq!(Granularity::of_chunk(&Interval::eternity()), Some(Granularity::All));
        for g in Granularity::BUCKETED {
            assert_eq!(Granularity::of_chunk(&g.bucket(t)), Some(g), "{g}");
        }
        let two_days = Interval::new(t, t + 2 * 86_400_000);
        assert_eq!(Granularity::of_chunk(&two_days), None);
    }

    #[test]
    fn hour_and_day_buckets() {
        let t = parse_instant("2015-09-12T00:46:58.771Z").unwrap();
        let h = Granularity::Hour.bucket(t);
        assert_eq!(h.to_iso(), "2015-09-12T00:00:00.000Z/2015-09-12T01:00:00.000Z");
        let d = Granularity::Day.bucket(t);
        assert_eq!(d.to_iso(), "2015-09-12T00:00:00.000Z/2015-09-13T00:00:00.000Z");
        assert!(Granularity::Day.is_aligned(d.start));
        assert!(!Granularity::Day.is_aligned(t));
    }

    #[test]
    fn calendar_buckets() {
        let t = parse_instant("2015-11-30T23:00:00Z").unwrap();
        assert_eq!(
            Granularity::Month.bucket(t).to_iso(),
            "2015-11-01T00:00:00.000Z/2015-12-01T00:00:00.000Z"
        );
        assert_eq!(
            Granularity::Quarter.bucket(t).to_iso(),
            "2015-10-01T00:00:00.000Z/2016-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Granularity::Year.bucket(t).to_iso(),
            "2015-01-01T00:00:00.000Z/2016-01-01T00:00:00.000Z"
        );
        // 2015-11-30 is a Monday.
        assert_eq!(
            Granularity::Week.bucket(t).to_iso(),
            "2015-11-30T00:00:00.000Z/2015-12-07T00:00:00.000Z"
        );
        let neg = parse_instant("1969-12-31T23:30:00Z").unwrap();
        assert_eq!(
            Granularity::Hour.bucket(neg).to_iso(),
            "1969-12-31T23:00:00.000Z/1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn names_and_periods() {
        assert_eq!(Granularity::from_name("all time"), Some(Granularity::All));
        assert_eq!(Granularity::from_name("hour"), Some(Granularity::Hour));
        assert_eq!(Granularity::from_period("P1D"), Some(Granularity::Day));
        assert_eq!(Granularity::from_period("PT2H"), None);
        assert_eq!(Granularity::All.bucket(5).to_iso(), ETERNITY_TEXT);
        assert_eq!(Interval::parse(ETERNITY_TEXT), Some(Interval::eternity()));
    }
}
