//! ISO-8601 periods: parsing, shifting an instant by a period, and `PeriodGranularity`-style
//! flooring and ceiling.

use super::zone::Zone;
use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime, Timelike};

/// Milliseconds in a second, minute, hour and day.
pub(super) const SECOND: i64 = 1000;
pub(super) const MINUTE: i64 = 60 * SECOND;
pub(super) const HOUR: i64 = 60 * MINUTE;
pub(super) const DAY: i64 = 24 * HOUR;

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

    pub(super) fn values(&self) -> [i64; 8] {
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
pub(super) fn whole_months(t: i64, origin: i64, zone: &Zone) -> Option<i64> {
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

/// Timestamps this far from the epoch (about ±250,000 years) are inside chrono's range, so
/// [`floor`]'s arithmetic and its calendar walk agree there.
const ARITHMETIC_FLOOR_LIMIT: i64 = 250_000 * 365 * DAY;

/// The start of the period bucket holding `t` (Druid's `PeriodGranularity.bucketStart`).
pub fn floor(t: i64, p: &Period, origin: Option<i64>, zone: &Zone) -> Option<i64> {
    // In a fixed-offset zone, a period of hours, minutes, seconds and days (no weeks, which
    // align on Mondays, nor months or years) is a fixed length, and buckets start at local
    // midnight of 1970-01-01 plus multiples of it: integer arithmetic, no calendar, as
    // `floor_calendar_walk` gives. TIME_FLOOR(__time, 'PT1H') runs here once per row.
    if let (None, Zone::Fixed(offset)) = (origin, zone) {
        let near_epoch = (-ARITHMETIC_FLOOR_LIMIT..ARITHMETIC_FLOOR_LIMIT).contains(&t);
        if p.years == 0 && p.months == 0 && p.weeks == 0 && near_epoch {
            if let Some(step) = p.standard_millis().filter(|s| *s > 0) {
                let origin = -i64::from(offset.local_minus_utc()) * SECOND;
                let k = t.checked_sub(origin)?.div_euclid(step);
                return origin.checked_add(k.checked_mul(step)?);
            }
        }
    }
    floor_calendar_walk(t, p, origin, zone)
}

/// [`floor`] by the calendar, for every period, origin and zone.
fn floor_calendar_walk(t: i64, p: &Period, origin: Option<i64>, zone: &Zone) -> Option<i64> {
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
            // Euclidean: a time before the origin floors down too (a remainder of each
            // alone can stay negative after one correction).
            let offset = (t % len - origin % len).rem_euclid(len);
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

#[cfg(test)]
mod arithmetic_floor_tests {
    use super::*;
    use chrono::FixedOffset;

    /// The arithmetic shortcut gives the calendar walk's bucket for every fixed-length
    /// period, in zones east and west of UTC, before and after the epoch.
    #[test]
    fn arithmetic_floor_equals_the_calendar_walk() {
        let periods = [
            "PT1H", "PT15M", "PT1S", "PT0.25S", "P1D", "P3D", "PT2H30M", "P1DT6H", "PT6H", "PT7M",
        ];
        let zones = [0, 5 * 3600 + 1800, -8 * 3600, 14 * 3600, -(9 * 3600 + 45 * 60)];
        let mut t: i64 = -4_000_000_000_000;
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut checked = 0;
        while t < 4_000_000_000_000 {
            for p in periods {
                let period = Period::parse(p).unwrap();
                for z in zones {
                    let zone = Zone::Fixed(FixedOffset::east_opt(z).unwrap());
                    assert_eq!(
                        floor(t, &period, None, &zone),
                        floor_calendar_walk(t, &period, None, &zone),
                        "{t} {p} {z}"
                    );
                    checked += 1;
                }
            }
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            t += (x % 50_000_000_000) as i64 + 1;
        }
        assert!(checked > 10_000, "{checked}");
        // The ends of the range (i64::MIN has no absolute value) take the calendar walk.
        for t in [i64::MIN, i64::MIN + 1, i64::MAX] {
            let zone = Zone::Fixed(FixedOffset::east_opt(-8 * 3600).unwrap());
            let period = Period::parse("PT1H").unwrap();
            assert_eq!(
                floor(t, &period, None, &zone),
                floor_calendar_walk(t, &period, None, &zone)
            );
        }
        // Weeks, months, years and origins keep the calendar walk.
        let zone = Zone::Fixed(FixedOffset::east_opt(3600).unwrap());
        for p in ["P1W", "P1M", "P1Y", "P2W"] {
            let period = Period::parse(p).unwrap();
            assert_eq!(
                floor(1_442_016_418_771, &period, None, &zone),
                floor_calendar_walk(1_442_016_418_771, &period, None, &zone)
            );
        }
    }
}
