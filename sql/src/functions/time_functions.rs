//! The Druid time functions (`TIME_PARSE`, `TIME_FORMAT`, `TIME_FLOOR`, `TIME_CEIL`,
//! `TIME_SHIFT`, `TIME_EXTRACT`, `MILLIS_TO_TIMESTAMP`, `TIMESTAMP_TO_MILLIS`, `TIMESTAMPDIFF`)
//! as one DataFusion UDF type over the time arithmetic of [`super::time`].

use super::args::{invalid, invoke_on_arrays, is_integer_type, is_string_type, string_array};
use super::time;
use super::time::{JodaPattern, Period, Unit, Zone};
use arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, Int64Builder, StringArray, StringBuilder, TimestampMillisecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampMillisecondType};
use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use std::sync::Arc;

/// The time functions as UDFs.
pub fn time_functions() -> Vec<ScalarUDF> {
    Func::ALL
        .iter()
        .map(|f| ScalarUDF::from(DruidTimeFunction::new(*f)))
        .collect()
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
    match func {
        Func::TimeParse => time_parse(a, len),
        Func::TimeFormat => time_format(a),
        Func::TimeFloor | Func::TimeCeil => time_floor_or_ceil(func, a, len),
        Func::TimeShift => time_shift(a, len),
        Func::TimeExtract => time_extract(a, len),
        Func::MillisToTimestamp => Ok(Arc::new(TimestampMillisecondArray::from(int_values(&a[0])?))),
        Func::TimestampToMillis => Ok(Arc::new(Int64Array::from(time_values(&a[0])?))),
        Func::TimestampDiff => timestampdiff(a, len),
    }
}

/// `TIME_PARSE(string[, pattern[, zone]])`.
fn time_parse(a: &[ArrayRef], len: usize) -> Result<ArrayRef> {
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
    Ok(Arc::new(TimestampMillisecondArray::from(out)))
}

/// `TIME_FORMAT(time[, pattern[, zone]])`.
fn time_format(a: &[ArrayRef]) -> Result<ArrayRef> {
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
    Ok(Arc::new(out.finish()))
}

/// `TIME_FLOOR` / `TIME_CEIL(time, period[, origin[, zone]])`.
fn time_floor_or_ceil(func: Func, a: &[ArrayRef], len: usize) -> Result<ArrayRef> {
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
    Ok(Arc::new(TimestampMillisecondArray::from(out)))
}

/// `TIME_SHIFT(time, period, step[, zone])`.
fn time_shift(a: &[ArrayRef], len: usize) -> Result<ArrayRef> {
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
    Ok(Arc::new(TimestampMillisecondArray::from(out)))
}

/// `TIME_EXTRACT(time, unit[, zone])`.
fn time_extract(a: &[ArrayRef], len: usize) -> Result<ArrayRef> {
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
    Ok(Arc::new(out.finish()))
}

/// `timestampdiff(unit, t1, t2[, zone])`.
fn timestampdiff(a: &[ArrayRef], len: usize) -> Result<ArrayRef> {
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
    Ok(Arc::new(out.finish()))
}
