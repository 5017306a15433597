//! Arrow columns as JSON values (the arguments of the JSON functions) and back.

use super::value::{number, parse, to_text};
use arrow::array::{Array, ArrayRef, AsArray, ListArray, ListBuilder, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, TimeUnit, TimestampMillisecondType};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::Result;
use msq_engine::signature::{is_json_field, json_field};
use serde_json::Value;
use std::sync::Arc;

/// One argument row: SQL NULL (`None`) or a JSON value.
pub type Row = Option<Value>;

/// How a string argument is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strings {
    /// A JSON string value (`TO_JSON_STRING('x')` is `"x"`).
    AsText,
    /// JSON text to parse (`JSON_MERGE`); text that is not JSON stays a string.
    Parse,
}

/// The rows of `array` (typed by `field`) as JSON values. JSON columns are parsed; numbers,
/// booleans, timestamps (epoch millis) and lists become their JSON counterparts.
pub fn values(array: &ArrayRef, field: &Field, strings: Strings) -> Result<Vec<Row>> {
    let n = array.len();
    let each = |f: &dyn Fn(usize) -> Value| -> Vec<Row> { (0..n).map(|i| array.is_valid(i).then(|| f(i))).collect() };
    Ok(match array.data_type() {
        DataType::Null => vec![None; n],
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
            let a = cast(array, &DataType::Utf8)?;
            let a = a.as_string::<i32>();
            if is_json_field(field) || strings == Strings::Parse {
                each(&|i| parse(a.value(i)).unwrap_or_else(|_| Value::String(a.value(i).to_string())))
            } else {
                each(&|i| Value::String(a.value(i).to_string()))
            }
        }
        DataType::Boolean => {
            let a = array.as_boolean();
            each(&|i| Value::Bool(a.value(i)))
        }
        dt if dt.is_integer() => {
            let a = cast(array, &DataType::Int64)?;
            let a = a.as_primitive::<Int64Type>();
            each(&|i| Value::from(a.value(i)))
        }
        dt if dt.is_floating() || matches!(dt, DataType::Decimal128(..) | DataType::Decimal256(..)) => {
            let a = cast(array, &DataType::Float64)?;
            let a = a.as_primitive::<Float64Type>();
            each(&|i| number(a.value(i)))
        }
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => {
            let a = cast(array, &DataType::Timestamp(TimeUnit::Millisecond, None))?;
            let a = a.as_primitive::<TimestampMillisecondType>();
            each(&|i| Value::from(a.value(i)))
        }
        DataType::List(item) | DataType::LargeList(item) => {
            let a = cast(array, &DataType::List(item.clone()))?;
            let l = a.as_list::<i32>();
            (0..n)
                .map(|i| {
                    if l.is_null(i) {
                        return Ok(None);
                    }
                    let inner = values(&l.value(i), item, strings)?;
                    Ok(Some(Value::Array(
                        inner.into_iter().map(|v| v.unwrap_or(Value::Null)).collect(),
                    )))
                })
                .collect::<Result<Vec<_>>>()?
        }
        _ => {
            let f = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())?;
            each(&|i| Value::String(f.value(i).to_string()))
        }
    })
}

/// A JSON column of `rows` (SQL NULL and JSON null are both NULL).
pub fn json_column(rows: impl Iterator<Item = Row>) -> ArrayRef {
    let mut b = StringBuilder::new();
    for r in rows {
        match r {
            Some(v) if !v.is_null() => b.append_value(to_text(&v)),
            _ => b.append_null(),
        }
    }
    Arc::new(b.finish())
}

/// A list column of strings (`JSON_KEYS`, `JSON_PATHS`) or of JSON values
/// (`JSON_QUERY_ARRAY`, items typed by `item`).
pub fn string_lists(rows: impl Iterator<Item = Option<Vec<Option<String>>>>, item: &Field) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new());
    for r in rows {
        match r {
            Some(items) => {
                for it in items {
                    b.values().append_option(it);
                }
                b.append(true);
            }
            None => b.append(false),
        }
    }
    // The item field (and its JSON mark) is set here: the builder keeps only its type.
    let (_, offsets, values, nulls) = b.finish().into_parts();
    Arc::new(ListArray::new(Arc::new(item.clone()), offsets, values, nulls))
}

/// The item field of `ARRAY<COMPLEX<json>>`.
pub fn json_item_field() -> Field {
    json_field("item")
}

/// The item field of `ARRAY<VARCHAR>`.
pub fn string_item_field() -> Field {
    Field::new("item", DataType::Utf8, true)
}
