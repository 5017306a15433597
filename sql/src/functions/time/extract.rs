//! `TIME_EXTRACT`: one field of an instant in a time zone.

use super::zone::Zone;
use chrono::{Datelike, Timelike};

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
    /// Parses a unit name (case-insensitive).
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
