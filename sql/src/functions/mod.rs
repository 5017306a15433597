//! Druid SQL functions as DataFusion scalar UDFs: `TIME_PARSE`, `TIME_FORMAT`,
//! `TIME_FLOOR`, `TIME_CEIL`, `TIME_SHIFT`, `TIME_EXTRACT`, `MILLIS_TO_TIMESTAMP`,
//! `TIMESTAMP_TO_MILLIS` and `TIMESTAMPDIFF` (its unit as a string, see `rewrite`); the
//! string functions of [`string`]; the frame-size check of [`limits`].
//!
//! Timestamps are Arrow `Timestamp(Millisecond, None)` meaning UTC. Timestamp arguments of
//! any unit or zone are accepted (the instant is kept), as are strings (cast by DataFusion)
//! and integers (epoch millis). Nulls propagate; an unparseable `TIME_PARSE` input is NULL.
//! Invalid literal arguments (period, unit, pattern, time zone) are validation errors.

pub mod latest;
pub mod limits;
pub mod size;
pub mod string;
pub mod time;

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, Int64Builder, StringArray, StringBuilder, TimestampMillisecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampMillisecondType};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use datafusion::prelude::SessionContext;
use msq_engine::MsqError;

use time::{JodaPattern, Period, Unit, Zone};

/// Registers every Druid function with `ctx`.
pub fn register_druid_functions(ctx: &SessionContext) {
    size::register_size_guards(ctx);
    for udf in druid_functions() {
        ctx.register_udf(udf);
    }
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
    let mut out: Vec<ScalarUDF> = Func::ALL
        .iter()
        .map(|f| ScalarUDF::from(DruidTimeFunction::new(*f)))
        .collect();
    out.extend(string::string_functions());
    out.push(limits::row_fits_udf());
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Func {
    TimeParse,
    TimeFormat,
    TimeFloor,
    TimeCeil,
    TimeShift,
    TimeExtract,
    MillisToTimestamp,
    TimestampToMillis,
    /// `timestampdiff('UNIT', t1, t2[, zone])`: the target of `TIMESTAMPDIFF(UNIT, t1, t2)`.
    TimestampDiff,
}

/// The kind of value an argument position takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arg {
    Time,
    Str,
    Int,
}

impl Func {
    const ALL: [Func; 9] = [
        Func::TimeParse,
        Func::TimeFormat,
        Func::TimeFloor,
        Func::TimeCeil,
        Func::TimeShift,
        Func::TimeExtract,
        Func::MillisToTimestamp,
        Func::TimestampToMillis,
        Func::TimestampDiff,
    ];

    fn name(&self) -> &'static str {
        match self {
            Func::TimeParse => "time_parse",
            Func::TimeFormat => "time_format",
            Func::TimeFloor => "time_floor",
            Func::TimeCeil => "time_ceil",
            Func::TimeShift => "time_shift",
            Func::TimeExtract => "time_extract",
            Func::MillisToTimestamp => "millis_to_timestamp",
            Func::TimestampToMillis => "timestamp_to_millis",
            Func::TimestampDiff => "timestampdiff",
        }
    }

    /// The argument kinds and the number of required arguments.
    fn args(&self) -> (&'static [Arg], usize) {
        use Arg::*;
        match self {
            Func::TimeParse => (&[Str, Str, Str], 1),
            Func::TimeFormat => (&[Time, Str, Str], 1),
            Func::TimeFloor | Func::TimeCeil => (&[Time, Str, Time, Str], 2),
            Func::TimeShift => (&[Time, Str, Int, Str], 3),
            Func::TimeExtract => (&[Time, Str, Str], 2),
            Func::MillisToTimestamp => (&[Int], 1),
            Func::TimestampToMillis => (&[Time], 1),
            Func::TimestampDiff => (&[Str, Time, Time, Str], 3),
        }
    }

    fn return_type(&self) -> DataType {
        match self {
            Func::TimeFormat => DataType::Utf8,
            Func::TimeExtract | Func::TimestampToMillis | Func::TimestampDiff => DataType::Int64,
            _ => ms_type(),
        }
    }
}

fn ms_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, None)
}

/// One Druid time function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DruidTimeFunction {
    func: Func,
    signature: Signature,
}

impl DruidTimeFunction {
    fn new(func: Func) -> Self {
        Self {
            func,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn is_string_type(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => is_string_type(v),
        _ => false,
    }
}

fn is_integer_type(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    )
}

impl ScalarUDFImpl for DruidTimeFunction {
    fn name(&self) -> &str {
        self.func.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.func.return_type())
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let (kinds, required) = self.func.args();
        let upper = self.func.name().to_ascii_uppercase();
        if arg_types.len() < required || arg_types.len() > kinds.len() {
            let expected = if required == kinds.len() {
                format!("{required}")
            } else {
                format!("{required} to {}", kinds.len())
            };
            return plan_err!(
                "Function [{upper}] expects {expected} arguments, got {}",
                arg_types.len()
            );
        }
        arg_types
            .iter()
            .zip(kinds)
            .enumerate()
            .map(|(i, (t, kind))| {
                let ok = match kind {
                    Arg::Time => match t {
                        DataType::Timestamp(_, _) => Some(t.clone()),
                        DataType::Date32 | DataType::Date64 | DataType::Null => Some(ms_type()),
                        t if is_string_type(t) => Some(ms_type()),
                        t if is_integer_type(t) => Some(DataType::Int64),
                        _ => None,
                    },
                    Arg::Str => (is_string_type(t) || t == &DataType::Null).then_some(DataType::Utf8),
                    Arg::Int => {
                        (is_integer_type(t) || t.is_floating() || t == &DataType::Null).then_some(DataType::Int64)
                    }
                };
                match ok {
                    Some(t) => Ok(t),
                    None => plan_err!(
                        "Function [{upper}] does not accept type [{t}] as argument {}: expected {}",
                        i + 1,
                        match kind {
                            Arg::Time => "a TIMESTAMP",
                            Arg::Str => "a VARCHAR",
                            Arg::Int => "a BIGINT",
                        }
                    ),
                }
            })
            .collect()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        invoke_on_arrays(&args, |arrays, len| evaluate(self.func, arrays, len))
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

fn invalid(msg: String) -> datafusion::error::DataFusionError {
    MsqError::Validation(msg).into()
}

/// Epoch millis of a timestamp (any unit / zone) or integer column.
fn time_values(a: &ArrayRef) -> Result<Vec<Option<i64>>> {
    let ms = match a.data_type() {
        DataType::Timestamp(TimeUnit::Millisecond, _) => a.clone(),
        DataType::Timestamp(_, tz) => cast(a, &DataType::Timestamp(TimeUnit::Millisecond, tz.clone()))?,
        DataType::Int64 => return Ok(a.as_primitive::<Int64Type>().iter().collect()),
        t if is_integer_type(t) => return Ok(cast(a, &DataType::Int64)?.as_primitive::<Int64Type>().iter().collect()),
        _ => cast(a, &ms_type())?,
    };
    Ok(ms.as_primitive::<TimestampMillisecondType>().iter().collect())
}

/// Runs `eval` on the arguments as arrays of one common length: one row when every argument
/// is a scalar (and the result is a scalar), else the batch's rows.
fn invoke_on_arrays(
    args: &ScalarFunctionArgs,
    eval: impl FnOnce(&[ArrayRef], usize) -> Result<ArrayRef>,
) -> Result<ColumnarValue> {
    let all_scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let len = if all_scalar { 1 } else { args.number_rows };
    // Scalars are expanded to the batch: a large literal times many rows must stay bounded.
    let expanded: u64 = args
        .args
        .iter()
        .map(|a| match a {
            ColumnarValue::Scalar(s) => (s.size() as u64).saturating_mul(len as u64),
            ColumnarValue::Array(_) => 0,
        })
        .sum();
    if expanded > size::MAX_CALL_OUTPUT_BYTES {
        return Err(MsqError::Unknown(format!(
            "A function's constant arguments would take {expanded} bytes over one frame of {len} rows; \
             lower rowsPerFrame in the query context"
        ))
        .into());
    }
    let arrays = args.args.iter().map(|a| a.to_array(len)).collect::<Result<Vec<_>>>()?;
    let out = eval(&arrays, len)?;
    if all_scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
    } else {
        Ok(ColumnarValue::Array(out))
    }
}

fn string_array(a: &ArrayRef) -> Result<StringArray> {
    let a = if a.data_type() == &DataType::Utf8 {
        a.clone()
    } else {
        cast(a, &DataType::Utf8)?
    };
    Ok(a.as_string::<i32>().clone())
}

fn int_values(a: &ArrayRef) -> Result<Vec<Option<i64>>> {
    let a = if a.data_type() == &DataType::Int64 {
        a.clone()
    } else {
        cast(a, &DataType::Int64)?
    };
    Ok(a.as_primitive::<Int64Type>().iter().collect())
}

fn opt_str(a: Option<&StringArray>, i: usize) -> Option<&str> {
    a.and_then(|a| (!a.is_null(i)).then(|| a.value(i)))
}

/// Caches the compiled form of the last string argument seen (arguments are usually literals).
struct Memo<T> {
    key: Option<(Option<String>, Option<String>)>,
    value: Option<T>,
}

impl<T> Memo<T> {
    fn new() -> Self {
        Memo { key: None, value: None }
    }

    fn get(
        &mut self,
        a: Option<&str>,
        b: Option<&str>,
        make: impl FnOnce(Option<&str>, Option<&str>) -> Result<T>,
    ) -> Result<&T> {
        let key = (a.map(str::to_string), b.map(str::to_string));
        if self.key.as_ref() != Some(&key) || self.value.is_none() {
            self.value = Some(make(a, b)?);
            self.key = Some(key);
        }
        Ok(self.value.as_ref().expect("just set"))
    }
}

fn zone_of(s: Option<&str>) -> Result<Zone> {
    match s {
        None => Ok(Zone::utc()),
        Some(s) => Zone::parse(s).ok_or_else(|| invalid(format!("Invalid time zone [{s}]"))),
    }
}

fn period_of(s: &str) -> Result<Period> {
    Period::parse(s).ok_or_else(|| {
        invalid(format!(
            "Invalid period [{s}]: expected an ISO-8601 period such as PT1H or P1D"
        ))
    })
}

fn evaluate(func: Func, a: &[ArrayRef], len: usize) -> Result<ArrayRef> {
    let out: ArrayRef = match func {
        Func::TimeParse => {
            let s = string_array(&a[0])?;
            let pat = a.get(1).map(string_array).transpose()?;
            let tz = a.get(2).map(string_array).transpose()?;
            let mut memo = Memo::new();
            let mut out = Vec::with_capacity(len);
            for i in 0..len {
                if s.is_null(i) {
                    out.push(None);
                    continue;
                }
                let (p, z) = memo.get(opt_str(pat.as_ref(), i), opt_str(tz.as_ref(), i), |p, z| {
                    let zone = zone_of(z)?;
                    let pattern = p
                        .map(|p| JodaPattern::compile(p, &zone).map_err(|e| invalid(format!("TIME_PARSE: {e}"))))
                        .transpose()?;
                    Ok((pattern, zone))
                })?;
                let v = s.value(i);
                out.push(match p {
                    Some(p) => p.parse(v, z),
                    None => time::parse_iso(v, z),
                });
            }
            Arc::new(TimestampMillisecondArray::from(out))
        }
        Func::TimeFormat => {
            let t = time_values(&a[0])?;
            let pat = a.get(1).map(string_array).transpose()?;
            let tz = a.get(2).map(string_array).transpose()?;
            let mut memo = Memo::new();
            let mut out = StringBuilder::new();
            for (i, t) in t.iter().enumerate() {
                let Some(t) = t else {
                    out.append_null();
                    continue;
                };
                let (p, z) = memo.get(opt_str(pat.as_ref(), i), opt_str(tz.as_ref(), i), |p, z| {
                    let zone = zone_of(z)?;
                    let pattern = p
                        .map(|p| JodaPattern::compile(p, &zone).map_err(|e| invalid(format!("TIME_FORMAT: {e}"))))
                        .transpose()?;
                    Ok((pattern, zone))
                })?;
                let s = match p {
                    Some(p) => p.format(*t, z),
                    None => time::format_iso(*t, z),
                };
                out.append_option(s);
            }
            Arc::new(out.finish())
        }
        Func::TimeFloor | Func::TimeCeil => {
            let t = time_values(&a[0])?;
            let period = string_array(&a[1])?;
            let origin = a.get(2).map(time_values).transpose()?;
            let tz = a.get(3).map(string_array).transpose()?;
            let mut memo = Memo::new();
            let mut out = Vec::with_capacity(len);
            for (i, t) in t.iter().enumerate() {
                let (Some(t), Some(p)) = (t, opt_str(Some(&period), i)) else {
                    out.push(None);
                    continue;
                };
                let (p, z) = memo.get(Some(p), opt_str(tz.as_ref(), i), |p, z| {
                    Ok((period_of(p.unwrap_or_default())?, zone_of(z)?))
                })?;
                let o = origin.as_ref().and_then(|o| o[i]);
                out.push(if func == Func::TimeFloor {
                    time::floor(*t, p, o, z)
                } else {
                    time::ceil(*t, p, o, z)
                });
            }
            Arc::new(TimestampMillisecondArray::from(out))
        }
        Func::TimeShift => {
            let t = time_values(&a[0])?;
            let period = string_array(&a[1])?;
            let step = int_values(&a[2])?;
            let tz = a.get(3).map(string_array).transpose()?;
            let mut memo = Memo::new();
            let mut out = Vec::with_capacity(len);
            for (i, t) in t.iter().enumerate() {
                let (Some(t), Some(p), Some(step)) = (t, opt_str(Some(&period), i), step[i]) else {
                    out.push(None);
                    continue;
                };
                let (p, z) = memo.get(Some(p), opt_str(tz.as_ref(), i), |p, z| {
                    Ok((period_of(p.unwrap_or_default())?, zone_of(z)?))
                })?;
                out.push(time::shift(*t, p, step, z));
            }
            Arc::new(TimestampMillisecondArray::from(out))
        }
        Func::TimeExtract => {
            let t = time_values(&a[0])?;
            let unit = string_array(&a[1])?;
            let tz = a.get(2).map(string_array).transpose()?;
            let mut memo = Memo::new();
            let mut out = Int64Builder::with_capacity(len);
            for (i, t) in t.iter().enumerate() {
                let (Some(t), Some(u)) = (t, opt_str(Some(&unit), i)) else {
                    out.append_null();
                    continue;
                };
                let (u, z) = memo.get(Some(u), opt_str(tz.as_ref(), i), |u, z| {
                    let u = u.unwrap_or_default();
                    let unit = Unit::parse(u).ok_or_else(|| {
                        invalid(format!(
                            "TIME_EXTRACT: invalid unit [{u}], expected EPOCH, SECOND, MINUTE, HOUR, DAY, DOW, ISODOW, DOY, WEEK, MONTH, QUARTER or YEAR"
                        ))
                    })?;
                    Ok((unit, zone_of(z)?))
                })?;
                out.append_option(time::extract(*t, *u, z));
            }
            Arc::new(out.finish())
        }
        Func::MillisToTimestamp => {
            let v = int_values(&a[0])?;
            Arc::new(TimestampMillisecondArray::from(v))
        }
        Func::TimestampToMillis => {
            let v = time_values(&a[0])?;
            Arc::new(Int64Array::from(v))
        }
        Func::TimestampDiff => {
            let unit = string_array(&a[0])?;
            let (t1, t2) = (time_values(&a[1])?, time_values(&a[2])?);
            let tz = a.get(3).map(string_array).transpose()?;
            let mut memo = Memo::new();
            let mut out = Int64Builder::with_capacity(len);
            for i in 0..len {
                let (Some(u), Some(a), Some(b)) = (opt_str(Some(&unit), i), t1[i], t2[i]) else {
                    out.append_null();
                    continue;
                };
                let (u, z) = memo.get(Some(u), opt_str(tz.as_ref(), i), |u, z| {
                    let u = u.unwrap_or_default();
                    let unit = time::DiffUnit::parse(u).ok_or_else(|| {
                        invalid(format!(
                            "TIMESTAMPDIFF: invalid unit [{u}], expected MILLISECOND, SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER or YEAR"
                        ))
                    })?;
                    Ok((unit, zone_of(z)?))
                })?;
                out.append_option(time::diff(*u, a, b, z));
            }
            Arc::new(out.finish())
        }
    };
    Ok(out)
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
