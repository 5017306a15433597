//! Arrow values as the JSON Druid returns in SELECT results.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use msq_engine::granularity::format_millis;
use serde_json::{json, Value};

/// One JSON value per row of `array`.
pub fn column_values(array: &ArrayRef) -> Vec<Value> {
    let n = array.len();
    let nullable = |f: &dyn Fn(usize) -> Value| -> Vec<Value> {
        (0..n)
            .map(|i| if array.is_null(i) { Value::Null } else { f(i) })
            .collect()
    };
    match array.data_type() {
        DataType::Null => vec![Value::Null; n],
        DataType::Boolean => {
            let a = array.as_boolean();
            nullable(&|i| json!(a.value(i)))
        }
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => {
            let a = arrow::compute::cast(array, &DataType::Int64).expect("integer cast");
            let a = a.as_primitive::<arrow::datatypes::Int64Type>();
            nullable(&|i| json!(a.value(i)))
        }
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => {
            let a = arrow::compute::cast(array, &DataType::Float64).expect("float cast");
            let a = a.as_primitive::<arrow::datatypes::Float64Type>();
            nullable(&|i| {
                let v = a.value(i);
                serde_json::Number::from_f64(v)
                    .map(Value::Number)
                    .unwrap_or(Value::Null)
            })
        }
        DataType::Timestamp(_, Some(tz)) if !matches!(tz.as_ref(), "UTC" | "+00:00") => {
            // A SELECT in `sqlTimeZone` (see msq_sql's result_zone): local time with its offset.
            let zone = msq_sql::functions::time::Zone::parse(tz).unwrap_or_else(msq_sql::functions::time::Zone::utc);
            let a = arrow::compute::cast(array, &DataType::Timestamp(TimeUnit::Millisecond, Some(tz.clone())))
                .expect("timestamp cast");
            let a = a.as_primitive::<arrow::datatypes::TimestampMillisecondType>();
            nullable(&|i| match msq_sql::functions::time::format_iso(a.value(i), &zone) {
                Some(t) => json!(t),
                None => json!(format_millis(a.value(i))),
            })
        }
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => {
            let a =
                arrow::compute::cast(array, &DataType::Timestamp(TimeUnit::Millisecond, None)).expect("timestamp cast");
            let a = a.as_primitive::<arrow::datatypes::TimestampMillisecondType>();
            nullable(&|i| json!(format_millis(a.value(i))))
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
            let a = arrow::compute::cast(array, &DataType::Utf8).expect("string cast");
            let a = a.as_string::<i32>();
            nullable(&|i| json!(a.value(i)))
        }
        dt if msq_engine::signature::is_multi_value(dt) => multi_value_strings(array),
        DataType::List(_) | DataType::LargeList(_) => {
            let a = arrow::compute::cast(
                array,
                &DataType::List(std::sync::Arc::new(arrow::datatypes::Field::new_list_field(
                    match array.data_type() {
                        DataType::List(f) | DataType::LargeList(f) => f.data_type().clone(),
                        _ => unreachable!(),
                    },
                    true,
                ))),
            )
            .expect("list cast");
            let l = a.as_list::<i32>();
            nullable(&|i| Value::Array(column_values(&l.value(i))))
        }
        _ => {
            let opts = FormatOptions::default();
            match ArrayFormatter::try_new(array.as_ref(), &opts) {
                Ok(f) => nullable(&|i| json!(f.value(i).to_string())),
                Err(_) => vec![Value::Null; n],
            }
        }
    }
}

/// A multi-value string column as Druid renders it: a row of one value is that string, of
/// several a JSON array of them, of none (or NULL) null.
fn multi_value_strings(array: &ArrayRef) -> Vec<Value> {
    let Ok(a) = arrow::compute::cast(array, &msq_engine::signature::multi_value_type()) else {
        return vec![Value::Null; array.len()];
    };
    let l = a.as_list::<i32>();
    (0..l.len())
        .map(|i| {
            if l.is_null(i) {
                return Value::Null;
            }
            let mut values = column_values(&l.value(i));
            match values.len() {
                0 => Value::Null,
                1 => values.pop().unwrap_or(Value::Null),
                _ => Value::Array(values),
            }
        })
        .collect()
}

/// The JSON values of every column of `batch` (see [`field_values`]), column by column.
pub fn batch_values(batch: &RecordBatch) -> Vec<Vec<Value>> {
    let schema = batch.schema();
    schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, c)| field_values(f, c))
        .collect()
}

/// Rows of batches as arrays of JSON values.
pub fn rows_json(batches: &[RecordBatch], limit: usize) -> Vec<Value> {
    let mut rows = Vec::new();
    for b in batches {
        if rows.len() >= limit {
            break;
        }
        let cols = batch_values(b);
        for r in 0..b.num_rows() {
            if rows.len() >= limit {
                break;
            }
            rows.push(Value::Array(cols.iter().map(|c| c[r].clone()).collect()));
        }
    }
    rows
}

/// One JSON value per row of a column typed by `field`: as [`column_values`], except that
/// `COMPLEX<json>` text (also as list items) is the JSON value it holds, as Druid returns it.
pub fn field_values(field: &arrow::datatypes::Field, array: &ArrayRef) -> Vec<Value> {
    use msq_engine::signature::is_json_field;
    if is_json_field(field) {
        let Ok(a) = arrow::compute::cast(array, &DataType::Utf8) else {
            return column_values(array);
        };
        let a = a.as_string::<i32>();
        return (0..a.len())
            .map(|i| match a.is_null(i) {
                true => Value::Null,
                false => serde_json::from_str(a.value(i)).unwrap_or_else(|_| json!(a.value(i))),
            })
            .collect();
    }
    match field.data_type() {
        DataType::List(item) if is_json_field(item) => {
            let l = array.as_list::<i32>();
            (0..l.len())
                .map(|i| match l.is_null(i) {
                    true => Value::Null,
                    false => Value::Array(field_values(item, &l.value(i))),
                })
                .collect()
        }
        _ => column_values(array),
    }
}
