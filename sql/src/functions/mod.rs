//! Druid SQL functions as DataFusion scalar UDFs: `TIME_PARSE`, `TIME_FORMAT`,
//! `TIME_FLOOR`, `TIME_CEIL`, `TIME_SHIFT`, `TIME_EXTRACT`, `MILLIS_TO_TIMESTAMP`,
//! `TIMESTAMP_TO_MILLIS` and `TIMESTAMPDIFF` (its unit as a string, see `rewrite`); the
//! string functions of [`string`]; the array and multi-value string functions of [`array`];
//! the frame-size check of [`limits`].
//!
//! Timestamps are Arrow `Timestamp(Millisecond, None)` meaning UTC. Timestamp arguments of
//! any unit or zone are accepted (the instant is kept), as are strings (cast by DataFusion)
//! and integers (epoch millis). Nulls propagate; an unparseable `TIME_PARSE` input is NULL.
//! Invalid literal arguments (period, unit, pattern, time zone) are validation errors.

mod args;
pub mod array;
pub mod array_agg;
pub mod json;
pub mod latest;
pub mod limits;
pub mod mv_map;
pub mod size;
pub mod string;
pub mod time;
mod time_functions;

pub use time_functions::DruidTimeFunction;

use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;

/// Registers every Druid function with `ctx`.
pub fn register_druid_functions(ctx: &SessionContext) {
    size::register_size_guards(ctx);
    for udf in druid_functions() {
        ctx.register_udf(udf);
    }
    mv_map::register_mv_maps(ctx);
    for udaf in latest::time_aggregates() {
        ctx.register_udaf(udaf);
    }
    // Druid's approximate distinct counts: DataFusion's HyperLogLog.
    let hll = datafusion::functions_aggregate::approx_distinct::approx_distinct_udaf();
    ctx.register_udaf(hll.as_ref().clone().with_aliases([
        "approx_count_distinct",
        "approx_count_distinct_builtin",
        "approx_count_distinct_ds_hll",
        "approx_count_distinct_ds_theta",
    ]));
}

/// The Druid scalar functions as UDFs (for registering with other registries).
pub fn druid_functions() -> Vec<ScalarUDF> {
    let mut out = time_functions::time_functions();
    out.extend(string::string_functions());
    out.extend(json::json_functions());
    out.extend(array::array_functions());
    out.push(array_agg::array_agg_limit_udf());
    out.push(limits::row_fits_udf());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::RecordBatch;
    use arrow::util::display::{ArrayFormatter, FormatOptions};

    async fn ctx() -> SessionContext {
        let ctx = SessionContext::new();
        register_druid_functions(&ctx);
        ctx
    }

    /// Runs `sql` and returns the first column as display strings (`NULL` for nulls).
    async fn column(sql: &str) -> Vec<String> {
        let ctx = ctx().await;
        let batches: Vec<RecordBatch> = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let opts = FormatOptions::default().with_null("NULL");
        let mut out = Vec::new();
        for b in batches {
            let f = ArrayFormatter::try_new(b.column(0).as_ref(), &opts).unwrap();
            for i in 0..b.num_rows() {
                out.push(f.value(i).to_string());
            }
        }
        out
    }

    async fn one(sql: &str) -> String {
        let v = column(sql).await;
        assert_eq!(v.len(), 1, "{sql}");
        v[0].clone()
    }

    async fn error(sql: &str) -> String {
        let ctx = ctx().await;
        match ctx.sql(sql).await {
            Err(e) => e.to_string(),
            Ok(df) => df.collect().await.expect_err("expected an error").to_string(),
        }
    }

    #[tokio::test]
    async fn time_parse() {
        assert_eq!(
            one("SELECT TIME_PARSE('2015-09-12T00:46:58.771Z')").await,
            "2015-09-12T00:46:58.771"
        );
        assert_eq!(
            one("SELECT time_parse('2015-09-12 00:46:58')").await,
            "2015-09-12T00:46:58"
        );
        assert_eq!(one("SELECT TIME_PARSE('2015-09-12')").await, "2015-09-12T00:00:00");
        assert_eq!(
            one("SELECT TIME_PARSE('2015-09-12T02:46:58+02:00')").await,
            "2015-09-12T00:46:58"
        );
        assert_eq!(one("SELECT TIME_PARSE('not a time')").await, "NULL");
        assert_eq!(one("SELECT TIME_PARSE(NULL)").await, "NULL");
        assert_eq!(
            one("SELECT TIME_PARSE('12/Sep/2015:00:46:58', 'dd/MMM/yyyy:HH:mm:ss')").await,
            "2015-09-12T00:46:58"
        );
        assert_eq!(
            one("SELECT TIME_PARSE('2015-09-11 17:46:58', 'yyyy-MM-dd HH:mm:ss', 'America/Los_Angeles')").await,
            "2015-09-12T00:46:58"
        );
        assert_eq!(
            one("SELECT TIME_PARSE('2015-09-12 05:30', NULL, '+05:30')").await,
            "2015-09-12T00:00:00"
        );
        assert_eq!(one("SELECT TIME_PARSE('x', 'yyyy')").await, "NULL");
        assert_eq!(
            one("SELECT arrow_typeof(TIME_PARSE('2015-09-12'))").await,
            "Timestamp(ms)"
        );
    }

    #[tokio::test]
    async fn time_parse_over_a_column() {
        let v = column(
            "SELECT TIME_PARSE(s) FROM (VALUES ('2015-09-12T00:46:58.771Z'), ('bad'), (NULL), ('2016-01-01')) AS t(s)",
        )
        .await;
        assert_eq!(
            v,
            vec!["2015-09-12T00:46:58.771", "NULL", "NULL", "2016-01-01T00:00:00"]
        );
    }

    #[tokio::test]
    async fn time_floor_and_ceil() {
        assert_eq!(
            one("SELECT TIME_FLOOR(TIME_PARSE('2015-09-12T00:46:58.771Z'), 'PT1H')").await,
            "2015-09-12T00:00:00"
        );
        assert_eq!(
            one("SELECT TIME_CEIL(TIME_PARSE('2015-09-12T00:46:58.771Z'), 'PT1H')").await,
            "2015-09-12T01:00:00"
        );
        assert_eq!(
            one("SELECT TIME_FLOOR(TIMESTAMP '2015-09-12 00:46:58', 'P1M')").await,
            "2015-09-01T00:00:00"
        );
        assert_eq!(
            one("SELECT TIME_FLOOR(TIMESTAMP '2015-09-12 00:46:58', 'P3M')").await,
            "2015-07-01T00:00:00"
        );
        assert_eq!(
            one("SELECT TIME_FLOOR(TIMESTAMP '2015-09-12 00:46:58', 'P1Y')").await,
            "2015-01-01T00:00:00"
        );
        assert_eq!(
            one("SELECT TIME_FLOOR(TIMESTAMP '2015-09-12 00:46:58', 'P1W')").await,
            "2015-09-07T00:00:00"
        );
        assert_eq!(
            one("SELECT TIME_FLOOR(TIMESTAMP '2015-09-12 00:46:58', 'PT15M')").await,
            "2015-09-12T00:45:00"
        );
        assert_eq!(
            one("SELECT TIME_FLOOR(TIMESTAMP '2015-09-12 00:46:58', 'PT1H', TIMESTAMP '2015-01-01 00:30:00')").await,
            "2015-09-12T00:30:00"
        );
        assert_eq!(
            one("SELECT TIME_FLOOR(TIMESTAMP '2015-09-12 00:46:58', 'P1D', NULL, 'America/Los_Angeles')").await,
            "2015-09-11T07:00:00"
        );
        // Nanosecond and zoned timestamps, strings and integers are accepted.
        assert_eq!(
            one("SELECT TIME_FLOOR(arrow_cast(TIMESTAMP '2015-09-12 00:46:58', 'Timestamp(Nanosecond, Some(\"+00:00\"))'), 'PT1H')").await,
            "2015-09-12T00:00:00"
        );
        assert_eq!(
            one("SELECT TIME_FLOOR('2015-09-12T00:46:58', 'PT1H')").await,
            "2015-09-12T00:00:00"
        );
        assert_eq!(
            one("SELECT TIME_FLOOR(1442018818771, 'PT1H')").await,
            "2015-09-12T00:00:00"
        );
        assert_eq!(one("SELECT TIME_FLOOR(CAST(NULL AS TIMESTAMP), 'PT1H')").await, "NULL");
        let v = column(
            "SELECT TIME_FLOOR(TIME_PARSE(s), 'P1D') FROM (VALUES ('2015-09-12T23:59:59Z'), (NULL), ('2015-09-13T00:00:00Z')) AS t(s)",
        )
        .await;
        assert_eq!(v, vec!["2015-09-12T00:00:00", "NULL", "2015-09-13T00:00:00"]);
        let e = error("SELECT TIME_FLOOR(TIMESTAMP '2015-09-12 00:46:58', 'hourly')").await;
        assert!(e.contains("Invalid period [hourly]"), "{e}");
        let e = error("SELECT TIME_FLOOR(TIMESTAMP '2015-09-12 00:46:58')").await;
        assert!(e.contains("expects 2 to 4 arguments"), "{e}");
    }

    #[tokio::test]
    async fn time_shift_extract_format() {
        assert_eq!(
            one("SELECT TIME_SHIFT(TIMESTAMP '2015-01-31 10:00:00', 'P1M', 1)").await,
            "2015-02-28T10:00:00"
        );
        assert_eq!(
            one("SELECT TIME_SHIFT(TIMESTAMP '2015-09-12 00:46:58', 'PT1H', -2)").await,
            "2015-09-11T22:46:58"
        );
        assert_eq!(
            one("SELECT TIME_SHIFT(TIMESTAMP '2015-09-12 00:46:58', 'PT1H', NULL)").await,
            "NULL"
        );
        assert_eq!(
            one("SELECT TIME_EXTRACT(TIMESTAMP '2015-09-12 00:46:58', 'HOUR')").await,
            "0"
        );
        assert_eq!(
            one("SELECT TIME_EXTRACT(TIMESTAMP '2015-09-12 00:46:58', 'DOW')").await,
            "6"
        );
        assert_eq!(
            one("SELECT TIME_EXTRACT(TIMESTAMP '2015-09-12 00:46:58', 'epoch')").await,
            "1442018818"
        );
        assert_eq!(
            one("SELECT TIME_EXTRACT(TIMESTAMP '2015-09-12 00:46:58', 'HOUR', 'America/Los_Angeles')").await,
            "17"
        );
        assert_eq!(
            one("SELECT TIME_EXTRACT(TIMESTAMP '2015-09-12 00:46:58', 'QUARTER')").await,
            "3"
        );
        let e = error("SELECT TIME_EXTRACT(TIMESTAMP '2015-09-12 00:46:58', 'FORTNIGHT')").await;
        assert!(e.contains("invalid unit [FORTNIGHT]"), "{e}");
        assert_eq!(
            one("SELECT TIME_FORMAT(TIME_PARSE('2015-09-12T00:46:58.771Z'))").await,
            "2015-09-12T00:46:58.771Z"
        );
        assert_eq!(
            one("SELECT TIME_FORMAT(TIMESTAMP '2015-09-12 00:46:58', 'yyyy-MM-dd HH:mm')").await,
            "2015-09-12 00:46"
        );
        assert_eq!(
            one("SELECT TIME_FORMAT(TIMESTAMP '2015-09-12 00:46:58', 'yyyy-MM-dd HH:mm Z', 'Asia/Kolkata')").await,
            "2015-09-12 06:16 +0530"
        );
        assert_eq!(one("SELECT TIME_FORMAT(CAST(NULL AS TIMESTAMP))").await, "NULL");
        let e = error("SELECT TIME_FORMAT(TIMESTAMP '2015-09-12 00:46:58', 'yyyy', 'Mars/Base')").await;
        assert!(e.contains("Invalid time zone [Mars/Base]"), "{e}");
    }

    #[tokio::test]
    async fn millis_conversions() {
        assert_eq!(
            one("SELECT MILLIS_TO_TIMESTAMP(1442018818771)").await,
            "2015-09-12T00:46:58.771"
        );
        assert_eq!(
            one("SELECT TIMESTAMP_TO_MILLIS(TIME_PARSE('2015-09-12T00:46:58.771Z'))").await,
            "1442018818771"
        );
        assert_eq!(one("SELECT TIMESTAMP_TO_MILLIS(MILLIS_TO_TIMESTAMP(-1))").await, "-1");
        assert_eq!(one("SELECT MILLIS_TO_TIMESTAMP(NULL)").await, "NULL");
        assert_eq!(
            one("SELECT arrow_typeof(TIMESTAMP_TO_MILLIS(MILLIS_TO_TIMESTAMP(0)))").await,
            "Int64"
        );
        let v =
            column("SELECT TIMESTAMP_TO_MILLIS(MILLIS_TO_TIMESTAMP(x)) FROM (VALUES (1), (NULL), (3)) AS t(x)").await;
        assert_eq!(v, vec!["1", "NULL", "3"]);
    }
}
