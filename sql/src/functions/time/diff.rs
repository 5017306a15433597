//! `TIMESTAMPDIFF`: whole units between two instants.

use super::period::{whole_months, Period, DAY, HOUR, MINUTE, SECOND};
use super::zone::Zone;
use crate::units::diff_unit_period;

/// The units of `TIMESTAMPDIFF`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffUnit {
    /// A fixed number of milliseconds (MILLISECOND ... WEEK).
    Fixed(i64),
    /// A number of calendar months (MONTH, QUARTER, YEAR).
    Months(i64),
}

impl DiffUnit {
    /// Parses a unit name (`HOUR`, `SQL_TSI_HOUR`, case-insensitive) through the one table
    /// of SQL time units ([`crate::units`]).
    pub fn parse(s: &str) -> Option<DiffUnit> {
        let p = Period::parse(diff_unit_period(s)?)?;
        let months = p.years * 12 + p.months;
        Some(if months > 0 {
            DiffUnit::Months(months)
        } else {
            DiffUnit::Fixed(
                p.weeks * 7 * DAY + p.days * DAY + p.hours * HOUR + p.minutes * MINUTE + p.seconds * SECOND + p.millis,
            )
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
