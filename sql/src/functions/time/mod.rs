//! Time arithmetic behind Druid's time functions: time zones, ISO-8601 periods,
//! `PeriodGranularity`-style flooring, period shifting, field extraction, lenient ISO
//! parsing and Joda-Time patterns.
//!
//! One job per file: `zone`, `period` (parsing, shifting, flooring), `diff`
//! (`TIMESTAMPDIFF`), `extract` (`TIME_EXTRACT`), `iso` (ISO-8601 parsing and formatting)
//! and `joda` (Joda-Time patterns).

mod diff;
mod extract;
mod iso;
mod joda;
mod period;
#[cfg(test)]
mod tests;
mod zone;

pub use diff::{diff, DiffUnit};
pub use extract::{extract, Unit};
pub use iso::{format_iso, parse_iso};
pub use joda::JodaPattern;
pub use period::{ceil, floor, shift, Period};
pub use zone::Zone;
