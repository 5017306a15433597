//! SELECT results in `sqlTimeZone`: Druid renders TIMESTAMP results as local times with their
//! offset (`1999-12-31T16:00:00.000-08:00` in Los Angeles) when the zone is not UTC. The
//! final projection tags every timestamp column with the zone (Arrow's timestamp time zone:
//! the instants stay the same), and the result writers format by it.

use crate::functions::time::Zone;
use arrow::datatypes::{DataType, TimeUnit};
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::cast;

/// `df` with its timestamp columns in `zone` (unchanged for UTC).
pub(crate) fn in_zone(df: DataFrame, zone: &Zone) -> datafusion::error::Result<DataFrame> {
    let naive = |dt: &DataType| matches!(dt, DataType::Timestamp(_, None));
    if zone.is_utc() {
        return Ok(df);
    }
    // A zone-less timestamp cast to a zone is read as local time there; through UTC first,
    // the instant is kept and only the zone changes.
    let utc = DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into()));
    let local = DataType::Timestamp(TimeUnit::Millisecond, Some(zone.name().into()));
    crate::answer_columns::map_columns(df, |c, t| naive(t).then(|| cast(cast(c, utc.clone()), local.clone())))
}
