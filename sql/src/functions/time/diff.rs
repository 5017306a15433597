//! `TIMESTAMPDIFF`: whole units between two instants.

use super::period::{whole_months, DAY, HOUR, MINUTE, SECOND};
use super::zone::Zone;

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
