//! SQL time units: one table from unit name to ISO-8601 period, and the two views of it that
//! Druid's SQL takes in different places.
//!
//! `FLOOR/CEIL(x TO unit)` (and `PARTITIONED BY FLOOR(__time TO unit)`) takes the plain units
//! `SECOND` to `YEAR` exactly as written; `TIMESTAMPADD` and `DATE_TRUNC` take Calcite's time
//! units, which add sub-second and multi-year units, the `SQL_TSI_` prefix and plurals;
//! `TIMESTAMPDIFF` takes `MILLISECOND` to `YEAR` with the `SQL_TSI_` prefix, no plurals.

/// One SQL time unit.
struct TimeUnit {
    /// The upper-case name (`HOUR`).
    name: &'static str,
    /// Its ISO-8601 period (`PT1H`).
    period: &'static str,
    /// Whether `FLOOR(x TO unit)` accepts it.
    floor_to: bool,
    /// Whether `TIMESTAMPDIFF` accepts it.
    diff: bool,
}

const fn unit(name: &'static str, period: &'static str, floor_to: bool) -> TimeUnit {
    TimeUnit {
        name,
        period,
        floor_to,
        diff: floor_to,
    }
}

/// Every time unit msq-rs knows.
const UNITS: [TimeUnit; 14] = [
    TimeUnit {
        name: "MILLISECOND",
        period: "PT0.001S",
        floor_to: false,
        diff: true,
    },
    unit("MICROSECOND", "PT0.001S", false),
    unit("SECOND", "PT1S", true),
    unit("MINUTE", "PT1M", true),
    unit("HOUR", "PT1H", true),
    unit("DAY", "P1D", true),
    unit("WEEK", "P1W", true),
    unit("MONTH", "P1M", true),
    unit("QUARTER", "P3M", true),
    unit("YEAR", "P1Y", true),
    unit("DECADE", "P10Y", false),
    unit("CENTURY", "P100Y", false),
    unit("MILLENNIUM", "P1000Y", false),
    unit("MILLENIUM", "P1000Y", false),
];

/// The ISO period of a `FLOOR/CEIL(x TO unit)` unit: `SECOND`, `MINUTE`, `HOUR`, `DAY`,
/// `WEEK`, `MONTH`, `QUARTER` or `YEAR`, in any case.
pub fn floor_unit_period(unit: &str) -> Option<&'static str> {
    UNITS
        .iter()
        .find(|u| u.floor_to && u.name.eq_ignore_ascii_case(unit))
        .map(|u| u.period)
}

/// The ISO period of a Calcite time unit name as `TIMESTAMPADD` and `DATE_TRUNC` take it:
/// any unit of the table, in any case, with surrounding spaces, a `SQL_TSI_` prefix or a
/// plural `S` (`HOUR`, `SQL_TSI_HOUR`, `hours`).
pub fn calcite_unit_period(unit: &str) -> Option<&'static str> {
    let u = unit.trim().to_ascii_uppercase();
    let u = u.strip_prefix("SQL_TSI_").unwrap_or(&u).trim_end_matches('S');
    UNITS.iter().find(|t| t.name == u).map(|t| t.period)
}

/// The ISO period of a `TIMESTAMPDIFF` unit: `MILLISECOND` to `YEAR`, in any case, with
/// surrounding spaces or a `SQL_TSI_` prefix.
pub fn diff_unit_period(unit: &str) -> Option<&'static str> {
    let u = unit.trim().to_ascii_uppercase();
    let u = u.strip_prefix("SQL_TSI_").unwrap_or(&u);
    UNITS.iter().find(|t| t.diff && t.name == u).map(|t| t.period)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_views_accept_their_own_unit_sets() {
        // Both views: the plain units, in any case.
        for (name, period) in [
            ("SECOND", "PT1S"),
            ("minute", "PT1M"),
            ("Hour", "PT1H"),
            ("DAY", "P1D"),
            ("WEEK", "P1W"),
            ("MONTH", "P1M"),
            ("QUARTER", "P3M"),
            ("year", "P1Y"),
        ] {
            assert_eq!(floor_unit_period(name), Some(period), "{name}");
            assert_eq!(calcite_unit_period(name), Some(period), "{name}");
        }
        // Calcite's extra units and spellings: not for FLOOR(x TO unit).
        for (name, period) in [
            ("MILLISECOND", "PT0.001S"),
            ("microseconds", "PT0.001S"),
            ("DECADE", "P10Y"),
            ("CENTURY", "P100Y"),
            ("MILLENNIUM", "P1000Y"),
            ("MILLENIUM", "P1000Y"),
            ("SQL_TSI_HOUR", "PT1H"),
            ("sql_tsi_day", "P1D"),
            ("HOURS", "PT1H"),
            (" days ", "P1D"),
        ] {
            assert_eq!(floor_unit_period(name), None, "{name}");
            assert_eq!(calcite_unit_period(name), Some(period), "{name}");
        }
        for name in ["", "FORTNIGHT", "DOW", "EPOCH", "SQL_TSI_", "S"] {
            assert_eq!(floor_unit_period(name), None, "{name}");
            assert_eq!(calcite_unit_period(name), None, "{name}");
        }
    }

    #[test]
    fn timestampdiff_takes_millisecond_to_year_without_plurals() {
        for (name, period) in [
            ("MILLISECOND", "PT0.001S"),
            ("second", "PT1S"),
            ("SQL_TSI_HOUR", "PT1H"),
            (" week ", "P1W"),
            ("QUARTER", "P3M"),
            ("YEAR", "P1Y"),
        ] {
            assert_eq!(diff_unit_period(name), Some(period), "{name}");
        }
        for name in ["MICROSECOND", "DECADE", "HOURS", "FORTNIGHT", ""] {
            assert_eq!(diff_unit_period(name), None, "{name}");
        }
    }
}
