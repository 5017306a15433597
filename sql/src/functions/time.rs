//! Time arithmetic behind Druid's time functions: time zones, ISO-8601 periods,
//! `PeriodGranularity`-style flooring, period shifting, field extraction, lenient ISO
//! parsing and Joda-Time patterns.

use chrono::format::{parse as chrono_parse, Parsed, StrftimeItems};
use chrono::offset::LocalResult;
use chrono::{DateTime, Datelike, Duration, FixedOffset, Months, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike};
use chrono_tz::Tz;

const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

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
    fn fixed_at(&self, ms: i64) -> Option<FixedOffset> {
        FixedOffset::east_opt(self.offset_secs(ms)?)
    }
}

/// Parses `+05:30`, `-0800`, `+08`, `+8`.
fn parse_offset(s: &str) -> Option<FixedOffset> {
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

// ---------------------------------------------------------------------------------------------
// Periods

/// An ISO-8601 period (`P1D`, `PT15M`, `P1Y2M`, `PT1.5S`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Period {
    pub years: i64,
    pub months: i64,
    pub weeks: i64,
    pub days: i64,
    pub hours: i64,
    pub minutes: i64,
    pub seconds: i64,
    pub millis: i64,
}

impl Period {
    /// Parses an ISO-8601 period; `None` if invalid or zero.
    pub fn parse(s: &str) -> Option<Period> {
        let upper = s.trim().to_ascii_uppercase();
        let body = upper.strip_prefix('P')?;
        let (date, time) = match body.split_once('T') {
            Some((d, t)) => {
                if t.is_empty() {
                    return None;
                }
                (d, Some(t))
            }
            None => (body, None),
        };
        let mut p = Period::default();
        let mut any = false;
        let mut num = String::new();
        for c in date.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let v: i64 = num.parse().ok()?;
            num.clear();
            any = true;
            match c {
                'Y' => p.years = v,
                'M' => p.months = v,
                'W' => p.weeks = v,
                'D' => p.days = v,
                _ => return None,
            }
        }
        if !num.is_empty() {
            return None;
        }
        if let Some(time) = time {
            for c in time.chars() {
                if c.is_ascii_digit() || c == '.' || c == ',' {
                    num.push(if c == ',' { '.' } else { c });
                    continue;
                }
                any = true;
                match c {
                    'H' => p.hours = num.parse().ok()?,
                    'M' => p.minutes = num.parse().ok()?,
                    'S' => {
                        let (whole, frac) = num.split_once('.').unwrap_or((num.as_str(), ""));
                        p.seconds = whole.parse().ok()?;
                        if !frac.is_empty() {
                            let f: String = frac.chars().chain(std::iter::repeat('0')).take(3).collect();
                            p.millis = f.parse().ok()?;
                        }
                    }
                    _ => return None,
                }
                num.clear();
            }
            if !num.is_empty() {
                return None;
            }
        }
        if !any || p.is_zero() {
            return None;
        }
        Some(p)
    }

    fn values(&self) -> [i64; 8] {
        [
            self.years,
            self.months,
            self.weeks,
            self.days,
            self.hours,
            self.minutes,
            self.seconds,
            self.millis,
        ]
    }

    fn is_zero(&self) -> bool {
        self.values().iter().all(|v| *v == 0)
    }

    fn is_compound(&self) -> bool {
        self.values().iter().filter(|v| **v != 0).count() > 1
    }

    /// The length in millis with 24-hour days, or `None` with years or months.
    fn standard_millis(&self) -> Option<i64> {
        if self.years != 0 || self.months != 0 {
            return None;
        }
        Some(
            self.weeks * 7 * DAY
                + self.days * DAY
                + self.hours * HOUR
                + self.minutes * MINUTE
                + self.seconds * SECOND
                + self.millis,
        )
    }
}

fn add_months_naive(t: NaiveDateTime, months: i64) -> Option<NaiveDateTime> {
    let n = u32::try_from(months.unsigned_abs()).ok()?;
    let d = if months >= 0 {
        t.date().checked_add_months(Months::new(n))?
    } else {
        t.date().checked_sub_months(Months::new(n))?
    };
    Some(d.and_time(t.time()))
}

/// `t` plus `step` times `p`, calendar fields in local time and time fields as durations
/// (Joda's `chronology.add(period, t, step)`).
pub fn shift(t: i64, p: &Period, step: i64, zone: &Zone) -> Option<i64> {
    let months = (p.years.checked_mul(12)?.checked_add(p.months)?).checked_mul(step)?;
    let days = (p.weeks.checked_mul(7)?.checked_add(p.days)?).checked_mul(step)?;
    let mut out = t;
    if months != 0 || days != 0 {
        let mut local = zone.to_local(t)?;
        if months != 0 {
            local = add_months_naive(local, months)?;
        }
        if days != 0 {
            local = local.checked_add_signed(Duration::try_days(days)?)?;
        }
        out = zone.from_local(local)?;
    }
    let fixed = p
        .hours
        .checked_mul(HOUR)?
        .checked_add(p.minutes.checked_mul(MINUTE)?)?
        .checked_add(p.seconds.checked_mul(SECOND)?)?
        .checked_add(p.millis)?
        .checked_mul(step)?;
    out.checked_add(fixed)
}

/// Whole months from `origin` to `t` in local time, truncated toward zero.
fn whole_months(t: i64, origin: i64, zone: &Zone) -> Option<i64> {
    let (lt, lo) = (zone.to_local(t)?, zone.to_local(origin)?);
    let mut m =
        (i64::from(lt.year()) * 12 + i64::from(lt.month0())) - (i64::from(lo.year()) * 12 + i64::from(lo.month0()));
    let cand = add_months_naive(lo, m)?;
    if m > 0 && lt < cand {
        m -= 1;
    } else if m < 0 && lt > cand {
        m += 1;
    }
    Some(m)
}

/// Whole days from `origin` to `t` in local time, truncated toward zero.
fn whole_days(t: i64, origin: i64, zone: &Zone) -> Option<i64> {
    let (lt, lo) = (zone.to_local(t)?, zone.to_local(origin)?);
    let mut d = (lt.date() - lo.date()).num_days();
    let cand = lo.checked_add_signed(Duration::try_days(d)?)?;
    if d > 0 && lt < cand {
        d -= 1;
    } else if d < 0 && lt > cand {
        d += 1;
    }
    Some(d)
}

fn add_local(origin: i64, months: i64, days: i64, zone: &Zone) -> Option<i64> {
    let mut local = zone.to_local(origin)?;
    if months != 0 {
        local = add_months_naive(local, months)?;
    }
    if days != 0 {
        local = local.checked_add_signed(Duration::try_days(days)?)?;
    }
    zone.from_local(local)
}

/// Aligns on multiples of `count` calendar units (months or days) from `origin`.
fn floor_calendar(t: i64, origin: i64, count: i64, unit_months: i64, unit_days: i64, zone: &Zone) -> Option<i64> {
    let diff = if unit_months != 0 {
        whole_months(t, origin, zone)? / unit_months
    } else {
        whole_days(t, origin, zone)? / unit_days
    };
    let n = diff - diff % count;
    let tt = add_local(origin, n * unit_months, n * unit_days, zone)?;
    if t < tt {
        add_local(origin, (n - count) * unit_months, (n - count) * unit_days, zone)
    } else {
        Some(tt)
    }
}

/// Floors the local time of `t` with `f` and converts back.
fn floor_local(t: i64, zone: &Zone, f: impl FnOnce(NaiveDateTime) -> Option<NaiveDateTime>) -> Option<i64> {
    zone.from_local(f(zone.to_local(t)?)?)
}

fn midnight(d: NaiveDate) -> Option<NaiveDateTime> {
    d.and_hms_opt(0, 0, 0)
}

/// The start of the period bucket holding `t` (Druid's `PeriodGranularity.bucketStart`).
pub fn floor(t: i64, p: &Period, origin: Option<i64>, zone: &Zone) -> Option<i64> {
    let has_origin = origin.is_some();
    let origin = match origin {
        Some(o) => o,
        None => zone.from_local(midnight(NaiveDate::from_ymd_opt(1970, 1, 1)?)?)?,
    };
    if p.is_compound() {
        if let (Some(len), Zone::Fixed(_)) = (p.standard_millis(), zone) {
            if len <= 0 {
                return None;
            }
            let mut offset = t % len - origin % len;
            if offset < 0 {
                offset += len;
            }
            return t.checked_sub(offset);
        }
        // Walk from the origin period by period.
        let mut cur = origin;
        if t >= origin {
            loop {
                let next = shift(cur, p, 1, zone)?;
                if next <= cur {
                    return None;
                }
                if t < next {
                    return Some(cur);
                }
                cur = next;
            }
        }
        loop {
            let prev = shift(cur, p, -1, zone)?;
            if prev >= cur {
                return None;
            }
            cur = prev;
            if t >= cur {
                return Some(cur);
            }
        }
    }
    if p.years > 0 {
        return if p.years > 1 || has_origin {
            floor_calendar(t, origin, p.years, 12, 0, zone)
        } else {
            floor_local(t, zone, |l| midnight(NaiveDate::from_ymd_opt(l.year(), 1, 1)?))
        };
    }
    if p.months > 0 {
        return if p.months > 1 || has_origin {
            floor_calendar(t, origin, p.months, 1, 0, zone)
        } else {
            floor_local(t, zone, |l| midnight(NaiveDate::from_ymd_opt(l.year(), l.month(), 1)?))
        };
    }
    if p.weeks > 0 {
        return if p.weeks > 1 || has_origin {
            floor_calendar(t, origin, p.weeks, 0, 7, zone)
        } else {
            floor_local(t, zone, |l| {
                let monday = l.date() - Duration::days(i64::from(l.weekday().num_days_from_monday()));
                midnight(monday)
            })
        };
    }
    if p.days > 0 {
        return if p.days > 1 || has_origin {
            floor_calendar(t, origin, p.days, 0, 1, zone)
        } else {
            floor_local(t, zone, |l| midnight(l.date()))
        };
    }
    let (count, unit) = if p.hours > 0 {
        (p.hours, HOUR)
    } else if p.minutes > 0 {
        (p.minutes, MINUTE)
    } else if p.seconds > 0 {
        (p.seconds, SECOND)
    } else {
        (p.millis, 1)
    };
    if count <= 0 {
        return None;
    }
    if count == 1 && !has_origin && unit >= HOUR {
        return floor_local(t, zone, |l| l.date().and_hms_opt(l.hour(), 0, 0));
    }
    let step = count.checked_mul(unit)?;
    let k = t.checked_sub(origin)?.div_euclid(step);
    origin.checked_add(k.checked_mul(step)?)
}

/// The end of the bucket holding `t`, or `t` itself when it is on a boundary (Druid's TIME_CEIL).
pub fn ceil(t: i64, p: &Period, origin: Option<i64>, zone: &Zone) -> Option<i64> {
    let f = floor(t, p, origin, zone)?;
    if f == t {
        Some(t)
    } else {
        shift(f, p, 1, zone)
    }
}

// ---------------------------------------------------------------------------------------------
// TIMESTAMPDIFF

/// The units of `TIMESTAMPDIFF`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffUnit {
    /// A fixed number of milliseconds (MILLISECOND ... WEEK).
    Fixed(i64),
    /// A number of calendar months (MONTH, QUARTER, YEAR).
    Months(i64),
}

impl DiffUnit {
    /// Parses a unit name (`HOUR`, `SQL_TSI_HOUR`, case-insensitive).
    pub fn parse(s: &str) -> Option<DiffUnit> {
        let u = s.trim().to_ascii_uppercase();
        let u = u.strip_prefix("SQL_TSI_").unwrap_or(&u);
        Some(match u {
            "MILLISECOND" => DiffUnit::Fixed(1),
            "SECOND" => DiffUnit::Fixed(SECOND),
            "MINUTE" => DiffUnit::Fixed(MINUTE),
            "HOUR" => DiffUnit::Fixed(HOUR),
            "DAY" => DiffUnit::Fixed(DAY),
            "WEEK" => DiffUnit::Fixed(7 * DAY),
            "MONTH" => DiffUnit::Months(1),
            "QUARTER" => DiffUnit::Months(3),
            "YEAR" => DiffUnit::Months(12),
            _ => return None,
        })
    }
}

/// Whole `unit`s from `a` to `b` (negative when `b` is earlier), truncated toward zero;
/// months are counted on the local calendar of `zone`.
pub fn diff(unit: DiffUnit, a: i64, b: i64, zone: &Zone) -> Option<i64> {
    match unit {
        DiffUnit::Fixed(len) => Some(b.checked_sub(a)? / len),
        DiffUnit::Months(n) => Some(whole_months(b, a, zone)? / n),
    }
}

// ---------------------------------------------------------------------------------------------
// TIME_EXTRACT

/// The units of `TIME_EXTRACT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Epoch,
    Microsecond,
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Dow,
    IsoDow,
    Doy,
    Week,
    Month,
    Quarter,
    Year,
    IsoYear,
    Decade,
    Century,
    Millennium,
}

impl Unit {
    pub fn parse(s: &str) -> Option<Unit> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "EPOCH" => Unit::Epoch,
            "MICROSECOND" => Unit::Microsecond,
            "MILLISECOND" => Unit::Millisecond,
            "SECOND" => Unit::Second,
            "MINUTE" => Unit::Minute,
            "HOUR" => Unit::Hour,
            "DAY" => Unit::Day,
            "DOW" => Unit::Dow,
            "ISODOW" => Unit::IsoDow,
            "DOY" => Unit::Doy,
            "WEEK" => Unit::Week,
            "MONTH" => Unit::Month,
            "QUARTER" => Unit::Quarter,
            "YEAR" => Unit::Year,
            "ISOYEAR" => Unit::IsoYear,
            "DECADE" => Unit::Decade,
            "CENTURY" => Unit::Century,
            "MILLENNIUM" => Unit::Millennium,
            _ => return None,
        })
    }
}

/// One field of `t` in `zone`, as Druid's TIME_EXTRACT computes it.
pub fn extract(t: i64, unit: Unit, zone: &Zone) -> Option<i64> {
    let epoch = t / 1000;
    let l = zone.to_local(t)?;
    let year = i64::from(l.year());
    Some(match unit {
        Unit::Epoch => epoch,
        // Druid returns epoch seconds / 1000 here.
        Unit::Microsecond => epoch / 1000,
        Unit::Millisecond => i64::from(l.and_utc().timestamp_subsec_millis()),
        Unit::Second => i64::from(l.second()),
        Unit::Minute => i64::from(l.minute()),
        Unit::Hour => i64::from(l.hour()),
        Unit::Day => i64::from(l.day()),
        Unit::Dow | Unit::IsoDow => i64::from(l.weekday().number_from_monday()),
        Unit::Doy => i64::from(l.ordinal()),
        Unit::Week => i64::from(l.iso_week().week()),
        Unit::Month => i64::from(l.month()),
        Unit::Quarter => i64::from(l.month0() / 3 + 1),
        Unit::Year => year,
        Unit::IsoYear => i64::from(l.iso_week().year()),
        Unit::Decade => year / 10,
        Unit::Century => (year as f64 / 100.0).ceil() as i64,
        Unit::Millennium => (year as f64 / 1000.0).ceil() as i64,
    })
}

// ---------------------------------------------------------------------------------------------
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

/// A Joda-Time pattern translated to chrono strftime formats.
#[derive(Debug, Clone, PartialEq)]
pub struct JodaPattern {
    parse: Option<String>,
    format: String,
}

impl JodaPattern {
    /// Translates a Joda-Time pattern (`yyyy-MM-dd HH:mm:ss.SSS`, `dd/MMM/yyyy:HH:mm:ss Z`,
    /// `EEE, d MMM yyyy hh:mm a`, quoted literals with `'`).
    pub fn compile(pattern: &str, zone: &Zone) -> Result<JodaPattern, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut parse = String::new();
        let mut format = String::new();
        let mut parse_ok = true;
        let mut i = 0;
        let lit = |out: &mut String, c: char| {
            if c == '%' {
                out.push_str("%%");
            } else {
                out.push(c);
            }
        };
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                // Quoted literal; '' is a single quote.
                if chars.get(i + 1) == Some(&'\'') {
                    parse.push('\'');
                    format.push('\'');
                    i += 2;
                    continue;
                }
                i += 1;
                while i < chars.len() {
                    if chars[i] == '\'' {
                        if chars.get(i + 1) == Some(&'\'') {
                            parse.push('\'');
                            format.push('\'');
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    lit(&mut parse, chars[i]);
                    lit(&mut format, chars[i]);
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(format!("Unterminated quote in pattern [{pattern}]"));
                }
                i += 1;
                continue;
            }
            if !c.is_ascii_alphabetic() {
                lit(&mut parse, c);
                lit(&mut format, c);
                i += 1;
                continue;
            }
            let mut n = 1;
            while chars.get(i + n) == Some(&c) {
                n += 1;
            }
            i += n;
            let (p, f): (&str, String) = match c {
                'y' | 'Y' | 'u' => match n {
                    2 => ("%y", "%y".into()),
                    _ => ("%Y", "%Y".into()),
                },
                'x' => match n {
                    2 => ("%g", "%g".into()),
                    _ => ("%G", "%G".into()),
                },
                'w' => ("%V", if n >= 2 { "%V" } else { "%-V" }.into()),
                'e' => ("%u", "%u".into()),
                'E' => {
                    if n >= 4 {
                        ("%A", "%A".into())
                    } else {
                        ("%a", "%a".into())
                    }
                }
                'M' => match n {
                    1 => ("%m", "%-m".into()),
                    2 => ("%m", "%m".into()),
                    3 => ("%b", "%b".into()),
                    _ => ("%B", "%B".into()),
                },
                'd' => ("%d", if n >= 2 { "%d" } else { "%-d" }.into()),
                'D' => ("%j", if n >= 3 { "%j" } else { "%-j" }.into()),
                'a' => ("%p", "%p".into()),
                'H' | 'k' => ("%H", if n >= 2 { "%H" } else { "%-H" }.into()),
                'h' | 'K' => ("%I", if n >= 2 { "%I" } else { "%-I" }.into()),
                'm' => ("%M", if n >= 2 { "%M" } else { "%-M" }.into()),
                's' => ("%S", if n >= 2 { "%S" } else { "%-S" }.into()),
                'S' => match n {
                    1..=3 => ("%3f", "%3f".into()),
                    4..=6 => ("%6f", "%6f".into()),
                    _ => ("%9f", "%9f".into()),
                },
                'Z' => match n {
                    1 => ("%#z", "%z".into()),
                    2 => ("%#z", "%:z".into()),
                    _ => {
                        parse_ok = false;
                        ("", zone.name().replace('%', "%%"))
                    }
                },
                'z' => {
                    parse_ok = false;
                    ("", if zone.is_utc() { "UTC".into() } else { "%Z".into() })
                }
                'G' => {
                    parse_ok = false;
                    ("", "AD".into())
                }
                _ => return Err(format!("Illegal pattern component: {}", c.to_string().repeat(n))),
            };
            parse.push_str(p);
            format.push_str(&f);
        }
        // Reject formats chrono cannot handle.
        if StrftimeItems::new(&format).any(|it| matches!(it, chrono::format::Item::Error)) {
            return Err(format!("Unsupported pattern [{pattern}]"));
        }
        Ok(JodaPattern {
            parse: parse_ok.then_some(parse),
            format,
        })
    }

    /// Parses `s`; fields missing from the pattern default to 1970-01-01T00:00:00 and the
    /// time is local to `zone` unless the text has an offset. `None` if unparseable.
    pub fn parse(&self, s: &str, zone: &Zone) -> Option<i64> {
        let fmt = self.parse.as_deref()?;
        let mut p = Parsed::new();
        chrono_parse(&mut p, s, StrftimeItems::new(fmt)).ok()?;
        if p.year().is_none() && p.year_div_100().is_none() && p.year_mod_100().is_none() && p.isoyear().is_none() {
            p.set_year(1970).ok()?;
        }
        let week_based = p.isoweek().is_some() || p.week_from_mon().is_some() || p.week_from_sun().is_some();
        if p.month().is_none() && p.ordinal().is_none() && !week_based {
            p.set_month(1).ok()?;
        }
        if p.day().is_none() && p.ordinal().is_none() && !week_based {
            p.set_day(1).ok()?;
        }
        if week_based && p.weekday().is_none() {
            p.set_weekday(chrono::Weekday::Mon).ok()?;
        }
        match (p.hour_div_12(), p.hour_mod_12()) {
            (None, None) => p.set_hour(0).ok()?,
            (None, Some(_)) => p.set_ampm(false).ok()?,
            _ => {}
        }
        if p.minute().is_none() {
            p.set_minute(0).ok()?;
        }
        if p.second().is_none() {
            p.set_second(0).ok()?;
        }
        let date = p.to_naive_date().ok()?;
        let time = p.to_naive_time().ok()?;
        let local = date.and_time(time);
        let local = local.with_nanosecond(local.nanosecond() / 1_000_000 * 1_000_000)?;
        match p.offset() {
            Some(off) => local
                .checked_sub_signed(Duration::seconds(i64::from(off)))
                .map(|u| u.and_utc().timestamp_millis()),
            None => zone.from_local(local),
        }
    }

    /// Formats `t` in `zone`.
    pub fn format(&self, t: i64, zone: &Zone) -> Option<String> {
        let off = zone.fixed_at(t)?;
        let dt = DateTime::from_timestamp_millis(t)?.with_timezone(&off);
        let mut out = String::new();
        use std::fmt::Write;
        write!(out, "{}", dt.format(&self.format)).ok()?;
        Some(out)
    }
}

/// Druid's default TIME_FORMAT output: ISO-8601 with millis and offset (`Z` for UTC).
pub fn format_iso(t: i64, zone: &Zone) -> Option<String> {
    let off = zone.fixed_at(t)?;
    let dt = DateTime::from_timestamp_millis(t)?.with_timezone(&off);
    Some(if off.local_minus_utc() == 0 {
        dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    } else {
        dt.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use msq_engine::granularity::{format_millis, parse_instant};

    fn ms(s: &str) -> i64 {
        parse_instant(s).unwrap()
    }

    fn utc() -> Zone {
        Zone::utc()
    }

    #[test]
    fn periods() {
        assert_eq!(Period::parse("PT1H").unwrap().hours, 1);
        assert_eq!(Period::parse("p3m").unwrap().months, 3);
        let p = Period::parse("P1Y2M3W4DT5H6M7.5S").unwrap();
        assert_eq!(p.values(), [1, 2, 3, 4, 5, 6, 7, 500]);
        assert!(Period::parse("P").is_none());
        assert!(Period::parse("PT").is_none());
        assert!(Period::parse("1H").is_none());
        assert!(Period::parse("P0D").is_none());
        assert!(Period::parse("PT1X").is_none());
    }

    #[test]
    fn floors_utc() {
        let t = ms("2015-09-12T00:46:58.771Z");
        let f = |p: &str| format_millis(floor(t, &Period::parse(p).unwrap(), None, &utc()).unwrap());
        assert_eq!(f("PT1S"), "2015-09-12T00:46:58.000Z");
        assert_eq!(f("PT15M"), "2015-09-12T00:45:00.000Z");
        assert_eq!(f("PT1H"), "2015-09-12T00:00:00.000Z");
        assert_eq!(f("PT6H"), "2015-09-12T00:00:00.000Z");
        assert_eq!(f("P1D"), "2015-09-12T00:00:00.000Z");
        assert_eq!(f("P2D"), "2015-09-12T00:00:00.000Z");
        assert_eq!(f("P3D"), "2015-09-11T00:00:00.000Z");
        assert_eq!(f("P1W"), "2015-09-07T00:00:00.000Z");
        assert_eq!(f("P1M"), "2015-09-01T00:00:00.000Z");
        assert_eq!(f("P3M"), "2015-07-01T00:00:00.000Z");
        assert_eq!(f("P1Y"), "2015-01-01T00:00:00.000Z");
        assert_eq!(f("P2Y"), "2014-01-01T00:00:00.000Z");
        // Compound fixed period: from the epoch.
        assert_eq!(f("PT1H30M"), "2015-09-12T00:00:00.000Z");
        // Before the epoch.
        let neg = ms("1969-12-31T23:30:00Z");
        assert_eq!(
            format_millis(floor(neg, &Period::parse("PT1H").unwrap(), None, &utc()).unwrap()),
            "1969-12-31T23:00:00.000Z"
        );
        assert_eq!(
            format_millis(floor(neg, &Period::parse("P3M").unwrap(), None, &utc()).unwrap()),
            "1969-10-01T00:00:00.000Z"
        );
    }

    #[test]
    fn floors_with_origin_and_zone() {
        let t = ms("2015-09-12T00:46:58.771Z");
        let origin = Some(ms("2015-09-01T00:20:00Z"));
        let p = Period::parse("PT1H").unwrap();
        assert_eq!(
            format_millis(floor(t, &p, origin, &utc()).unwrap()),
            "2015-09-12T00:20:00.000Z"
        );
        let la = Zone::parse("America/Los_Angeles").unwrap();
        let d = Period::parse("P1D").unwrap();
        // 00:46Z on the 12th is 17:46 PDT on the 11th.
        assert_eq!(
            format_millis(floor(t, &d, None, &la).unwrap()),
            "2015-09-11T07:00:00.000Z"
        );
        let kolkata = Zone::parse("+05:30").unwrap();
        assert_eq!(
            format_millis(floor(t, &p, None, &kolkata).unwrap()),
            "2015-09-12T00:30:00.000Z"
        );
        assert_eq!(
            format_millis(ceil(t, &p, None, &kolkata).unwrap()),
            "2015-09-12T01:30:00.000Z"
        );
    }

    #[test]
    fn ceil_and_shift() {
        let t = ms("2015-09-12T00:46:58.771Z");
        let h = Period::parse("PT1H").unwrap();
        assert_eq!(
            format_millis(ceil(t, &h, None, &utc()).unwrap()),
            "2015-09-12T01:00:00.000Z"
        );
        let aligned = ms("2015-09-12T01:00:00Z");
        assert_eq!(ceil(aligned, &h, None, &utc()), Some(aligned));
        let m = Period::parse("P1M").unwrap();
        assert_eq!(
            format_millis(shift(ms("2015-01-31T10:00:00Z"), &m, 1, &utc()).unwrap()),
            "2015-02-28T10:00:00.000Z"
        );
        assert_eq!(
            format_millis(shift(t, &h, -2, &utc()).unwrap()),
            "2015-09-11T22:46:58.771Z"
        );
        assert_eq!(
            format_millis(shift(t, &Period::parse("P1D").unwrap(), 3, &utc()).unwrap()),
            "2015-09-15T00:46:58.771Z"
        );
    }

    #[test]
    fn diffs() {
        let (a, b) = (ms("2015-01-31T10:00:00Z"), ms("2015-03-30T09:00:00Z"));
        let d = |u: &str| diff(DiffUnit::parse(u).unwrap(), a, b, &utc()).unwrap();
        assert_eq!(d("DAY"), 57);
        assert_eq!(d("HOUR"), 57 * 24 + 23);
        assert_eq!(d("WEEK"), 8);
        // Jan 31 -> Mar 30 is one whole month (Feb 28 + ...), not two.
        assert_eq!(d("MONTH"), 1);
        assert_eq!(d("QUARTER"), 0);
        assert_eq!(d("sql_tsi_day"), 57);
        assert_eq!(diff(DiffUnit::parse("DAY").unwrap(), b, a, &utc()), Some(-57));
        assert!(DiffUnit::parse("FORTNIGHT").is_none());
    }

    #[test]
    fn extracts() {
        let t = ms("2015-09-12T00:46:58.771Z");
        let e = |u: &str| extract(t, Unit::parse(u).unwrap(), &utc()).unwrap();
        assert_eq!(e("EPOCH"), 1442018818);
        assert_eq!(e("SECOND"), 58);
        assert_eq!(e("MINUTE"), 46);
        assert_eq!(e("HOUR"), 0);
        assert_eq!(e("DAY"), 12);
        assert_eq!(e("DOW"), 6);
        assert_eq!(e("ISODOW"), 6);
        assert_eq!(e("DOY"), 255);
        assert_eq!(e("WEEK"), 37);
        assert_eq!(e("MONTH"), 9);
        assert_eq!(e("QUARTER"), 3);
        assert_eq!(e("YEAR"), 2015);
        assert_eq!(e("MILLISECOND"), 771);
        let la = Zone::parse("America/Los_Angeles").unwrap();
        assert_eq!(extract(t, Unit::Hour, &la), Some(17));
        assert_eq!(extract(t, Unit::Day, &la), Some(11));
    }

    #[test]
    fn iso_parsing() {
        let z = utc();
        assert_eq!(
            parse_iso("2015-09-12T00:46:58.771Z", &z),
            Some(ms("2015-09-12T00:46:58.771Z"))
        );
        assert_eq!(parse_iso("2015-09-12 00:46:58", &z), Some(ms("2015-09-12T00:46:58Z")));
        assert_eq!(parse_iso("2015-09-12", &z), Some(ms("2015-09-12T00:00:00Z")));
        assert_eq!(
            parse_iso("2015-09-12T02:46:58+02:00", &z),
            Some(ms("2015-09-12T00:46:58Z"))
        );
        assert_eq!(parse_iso("2015-09-12T02:46+0200", &z), Some(ms("2015-09-12T00:46:00Z")));
        assert_eq!(parse_iso("2015-09", &z), Some(ms("2015-09-01T00:00:00Z")));
        assert_eq!(parse_iso("2015-09-12T00", &z), Some(ms("2015-09-12T00:00:00Z")));
        assert_eq!(
            parse_iso("2015-09-12T00:46:58.123456789Z", &z),
            Some(ms("2015-09-12T00:46:58.123Z"))
        );
        assert_eq!(parse_iso("not a time", &z), None);
        assert_eq!(parse_iso("2015-13-01", &z), None);
        assert_eq!(parse_iso("2015-09-12X", &z), None);
        assert_eq!(parse_iso("", &z), None);
        let la = Zone::parse("America/Los_Angeles").unwrap();
        assert_eq!(parse_iso("2015-09-11 17:46:58", &la), Some(ms("2015-09-12T00:46:58Z")));
    }

    #[test]
    fn joda_patterns() {
        let z = utc();
        let p = JodaPattern::compile("yyyy-MM-dd HH:mm:ss", &z).unwrap();
        assert_eq!(p.parse("2015-09-12 00:46:58", &z), Some(ms("2015-09-12T00:46:58Z")));
        assert_eq!(p.parse("garbage", &z), None);
        assert_eq!(p.format(ms("2015-09-12T00:46:58Z"), &z).unwrap(), "2015-09-12 00:46:58");
        let p = JodaPattern::compile("dd/MMM/yyyy:HH:mm:ss Z", &z).unwrap();
        assert_eq!(
            p.parse("12/Sep/2015:02:46:58 +0200", &z),
            Some(ms("2015-09-12T00:46:58Z"))
        );
        assert_eq!(
            p.format(ms("2015-09-12T00:46:58Z"), &z).unwrap(),
            "12/Sep/2015:00:46:58 +0000"
        );
        let p = JodaPattern::compile("EEE, d MMM yyyy hh:mm a", &z).unwrap();
        assert_eq!(
            p.format(ms("2015-09-12T13:05:00Z"), &z).unwrap(),
            "Sat, 12 Sep 2015 01:05 PM"
        );
        assert_eq!(
            p.parse("Sat, 12 Sep 2015 01:05 PM", &z),
            Some(ms("2015-09-12T13:05:00Z"))
        );
        let p = JodaPattern::compile("yyyy-MM-dd'T'HH:mm:ss.SSSZZ", &z).unwrap();
        assert_eq!(
            p.format(ms("2015-09-12T00:46:58.771Z"), &z).unwrap(),
            "2015-09-12T00:46:58.771+00:00"
        );
        assert_eq!(
            p.parse("2015-09-12T00:46:58.771Z", &z),
            Some(ms("2015-09-12T00:46:58.771Z"))
        );
        let p = JodaPattern::compile("yyyy", &z).unwrap();
        assert_eq!(p.parse("2015", &z), Some(ms("2015-01-01T00:00:00Z")));
        let p = JodaPattern::compile("MM/dd/yyyy", &z).unwrap();
        assert_eq!(p.parse("9/12/2015", &z), Some(ms("2015-09-12T00:00:00Z")));
        assert!(JodaPattern::compile("yyyy-qq", &z).is_err());
        assert!(JodaPattern::compile("'unterminated", &z).is_err());
        let p = JodaPattern::compile("'Day' D 'of' yyyy, '100%'", &z).unwrap();
        assert_eq!(
            p.format(ms("2015-09-12T00:00:00Z"), &z).unwrap(),
            "Day 255 of 2015, 100%"
        );
    }

    #[test]
    fn zones() {
        assert!(Zone::parse("UTC").unwrap().is_utc());
        assert_eq!(Zone::parse("+05:30").unwrap().offset_secs(0), Some(19800));
        assert_eq!(Zone::parse("-0800").unwrap().offset_secs(0), Some(-28800));
        assert_eq!(Zone::parse("UTC+8").unwrap().offset_secs(0), Some(28800));
        assert_eq!(
            Zone::parse("america/los_angeles").unwrap().name(),
            "America/Los_Angeles"
        );
        assert!(Zone::parse("Mars/Base").is_none());
        assert_eq!(
            format_iso(ms("2015-09-12T00:46:58.771Z"), &Zone::parse("+05:30").unwrap()).unwrap(),
            "2015-09-12T06:16:58.771+05:30"
        );
    }
}
