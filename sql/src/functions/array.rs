//! Druid's `ARRAY_*` and `MV_*` functions with Druid's semantics where DataFusion's namesakes
//! differ: 0-based `ARRAY_OFFSET` / `ARRAY_SLICE(arr, start, end)` (end exclusive),
//! 1-based `ARRAY_ORDINAL`, `ARRAY_CONTAINS` (all elements of an array argument),
//! `ARRAY_OVERLAP`, `ARRAY_OFFSET_OF` / `ARRAY_ORDINAL_OF`, `ARRAY_APPEND` / `ARRAY_PREPEND` /
//! `ARRAY_CONCAT`, `ARRAY_TO_STRING` (NULL elements as `null`), `STRING_TO_ARRAY` (split on a
//! regular expression, as Java's `String.split`), `ARRAY_TO_MV`, and the multi-value string
//! forms `MV_*` / `STRING_TO_MV`, which take a multi-value string (an Arrow list marked by
//! [`msq_engine::signature::multi_value_type`]), an array, or a plain string (one value) and
//! return multi-value strings where Druid returns them.
//!
//! Values are handled row by row as lists of [`ScalarValue`]s; a NULL array gives NULL.

use std::sync::Arc;

use arrow::array::{new_empty_array, Array, ArrayRef, AsArray, BooleanArray, Int64Array, ListArray, StringArray};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use msq_engine::signature::multi_value_type;

use super::args::{invalid, invoke_on_arrays, is_string_type};

/// What a function does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Offset,
    Ordinal,
    Contains,
    Overlap,
    OffsetOf,
    OrdinalOf,
    Slice,
    Append,
    Prepend,
    Concat,
    ToString,
    StringTo,
    FilterOnly,
    FilterNone,
    Length,
    ToMv,
    /// The values a multi-value string groups by: its values, or one NULL for a NULL or empty row.
    GroupValues,
}

/// Every function: its name, what it does, and whether it is the multi-value string form.
const FUNCTIONS: [(&str, Op, bool); 30] = [
    ("array_offset", Op::Offset, false),
    ("array_ordinal", Op::Ordinal, false),
    ("array_contains", Op::Contains, false),
    ("array_overlap", Op::Overlap, false),
    ("array_offset_of", Op::OffsetOf, false),
    ("array_ordinal_of", Op::OrdinalOf, false),
    ("array_slice", Op::Slice, false),
    ("array_append", Op::Append, false),
    ("array_prepend", Op::Prepend, false),
    ("array_concat", Op::Concat, false),
    ("array_to_string", Op::ToString, false),
    ("string_to_array", Op::StringTo, false),
    ("array_to_mv", Op::ToMv, true),
    ("mv_offset", Op::Offset, true),
    ("mv_ordinal", Op::Ordinal, true),
    ("mv_contains", Op::Contains, true),
    ("mv_overlap", Op::Overlap, true),
    ("mv_offset_of", Op::OffsetOf, true),
    ("mv_ordinal_of", Op::OrdinalOf, true),
    ("mv_slice", Op::Slice, true),
    ("mv_append", Op::Append, true),
    ("mv_prepend", Op::Prepend, true),
    ("mv_concat", Op::Concat, true),
    ("mv_to_string", Op::ToString, true),
    ("string_to_mv", Op::StringTo, true),
    ("mv_filter_only", Op::FilterOnly, true),
    ("mv_filter_none", Op::FilterNone, true),
    ("mv_length", Op::Length, true),
    // Druid's ARRAY_LENGTH returns BIGINT (DataFusion's, UInt64); also for plain strings.
    ("array_length", Op::Length, false),
    ("druid_mv_group_values", Op::GroupValues, false),
];

impl Op {
    /// Minimum and maximum argument counts.
    fn arity(self) -> (usize, usize) {
        match self {
            Op::Length | Op::ToMv | Op::GroupValues => (1, 1),
            Op::Slice => (2, 3),
            _ => (2, 2),
        }
    }

    /// Which argument is the (main) array.
    fn array_arg(self) -> usize {
        if self == Op::Prepend {
            1
        } else {
            0
        }
    }
}

/// The array and multi-value string functions as UDFs.
pub fn array_functions() -> Vec<ScalarUDF> {
    FUNCTIONS
        .iter()
        .map(|&(name, op, mv)| {
            ScalarUDF::from(DruidArrayFunction {
                name,
                op,
                mv,
                signature: Signature::user_defined(Volatility::Immutable),
            })
        })
        .collect()
}

/// The function registered as `name` (one of this module's), for building plans.
pub fn array_udf(name: &str) -> Arc<ScalarUDF> {
    let (name, op, mv) = *FUNCTIONS
        .iter()
        .find(|f| f.0 == name)
        .expect("a function of this module");
    Arc::new(ScalarUDF::from(DruidArrayFunction {
        name,
        op,
        mv,
        signature: Signature::user_defined(Volatility::Immutable),
    }))
}

/// One Druid array or multi-value string function.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DruidArrayFunction {
    name: &'static str,
    op: Op,
    mv: bool,
    signature: Signature,
}

fn is_list(t: &DataType) -> bool {
    matches!(
        t,
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _)
    )
}

/// The element type of a list type (strings for anything else: a plain value is one element).
fn element_type(t: &DataType) -> DataType {
    match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => match f.data_type() {
            t if is_string_type(t) => DataType::Utf8,
            t => t.clone(),
        },
        DataType::Null => DataType::Utf8,
        t if is_string_type(t) => DataType::Utf8,
        t => t.clone(),
    }
}

/// A list of `element` (Arrow's usual item field).
fn array_of(element: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(element, true)))
}

impl DruidArrayFunction {
    /// The array (or multi-value string) type the function returns arrays as.
    fn list_type(&self, arg_types: &[DataType]) -> DataType {
        if self.mv {
            return multi_value_type();
        }
        match arg_types.get(self.op.array_arg()) {
            Some(t @ DataType::List(_)) => t.clone(),
            Some(t) => array_of(element_type(t)),
            None => array_of(DataType::Utf8),
        }
    }
}

impl ScalarUDFImpl for DruidArrayFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.op {
            Op::Offset | Op::Ordinal if self.mv => DataType::Utf8,
            Op::Offset | Op::Ordinal => element_type(&arg_types[0]),
            Op::Contains | Op::Overlap => DataType::Boolean,
            Op::OffsetOf | Op::OrdinalOf | Op::Length => DataType::Int64,
            Op::ToString => DataType::Utf8,
            Op::StringTo | Op::GroupValues if !self.mv => array_of(DataType::Utf8),
            _ => self.list_type(arg_types),
        })
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let (min, max) = self.op.arity();
        let upper = self.name.to_ascii_uppercase();
        if arg_types.len() < min || arg_types.len() > max {
            return plan_err!("Function [{upper}] does not accept {} arguments", arg_types.len());
        }
        let array_arg = self.op.array_arg();
        arg_types
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let array_like = i == array_arg
                    || matches!(self.op, Op::Concat | Op::Overlap | Op::FilterOnly | Op::FilterNone)
                    || (self.op == Op::Contains && is_list(t));
                Ok(match self.op {
                    Op::StringTo => DataType::Utf8,
                    Op::ToString if i == 1 => DataType::Utf8,
                    Op::Offset | Op::Ordinal | Op::Slice if i > 0 => {
                        if !(t.is_integer() || t == &DataType::Null) {
                            return plan_err!("Function [{upper}] needs an integer index, got [{t}]");
                        }
                        DataType::Int64
                    }
                    _ if array_like => match t {
                        DataType::LargeList(f) | DataType::FixedSizeList(f, _) => array_of(f.data_type().clone()),
                        DataType::List(_) => t.clone(),
                        t if is_string_type(t) || t == &DataType::Null => DataType::Utf8,
                        t if self.mv => {
                            return plan_err!("Function [{upper}] needs a multi-value string or an array, got [{t}]")
                        }
                        t => t.clone(),
                    },
                    _ if is_string_type(t) => DataType::Utf8,
                    _ => t.clone(),
                })
            })
            .collect()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let types: Vec<DataType> = args.args.iter().map(|a| a.data_type()).collect();
        let out_type = self.return_type(&types)?;
        invoke_on_arrays(&args, |arrays, len| self.evaluate(arrays, len, &out_type))
    }
}

/// One row of an array argument: `None` for NULL, else its elements.
type Row = Option<Vec<ScalarValue>>;

/// The rows of an array argument; a plain value is a one-element array (NULL: NULL).
fn rows_of(a: &ArrayRef, len: usize) -> Result<Vec<Row>> {
    if let DataType::List(_) = a.data_type() {
        let l = a.as_list::<i32>();
        return (0..len)
            .map(|i| {
                if l.is_null(i) {
                    return Ok(None);
                }
                let v = l.value(i);
                (0..v.len())
                    .map(|j| ScalarValue::try_from_array(&v, j))
                    .collect::<Result<Vec<_>>>()
                    .map(Some)
            })
            .collect();
    }
    (0..len)
        .map(|i| {
            if a.is_null(i) {
                Ok(None)
            } else {
                ScalarValue::try_from_array(a, i).map(|v| Some(vec![v]))
            }
        })
        .collect()
}

/// `v` as a value of `element` (NULL when it cannot be).
fn as_element(v: &ScalarValue, element: &DataType) -> ScalarValue {
    cast_element(v, element).unwrap_or_else(|| ScalarValue::try_from(element).unwrap_or(ScalarValue::Null))
}

/// `v` as a value of `element`, if it can be one (a value that cannot matches no element).
fn cast_element(v: &ScalarValue, element: &DataType) -> Option<ScalarValue> {
    if &v.data_type() == element {
        return Some(v.clone());
    }
    v.cast_to(element).ok()
}

/// An Int64 argument at row `i` (`None` when NULL).
fn int_at(a: &ArrayRef, i: usize) -> Result<Option<i64>> {
    let c = if a.data_type() == &DataType::Int64 {
        a.clone()
    } else {
        cast(a, &DataType::Int64)?
    };
    let c = c.as_primitive::<arrow::datatypes::Int64Type>();
    Ok((!c.is_null(i)).then(|| c.value(i)))
}

impl DruidArrayFunction {
    fn evaluate(&self, a: &[ArrayRef], len: usize, out_type: &DataType) -> Result<ArrayRef> {
        match self.op {
            Op::Contains | Op::Overlap => {
                let (x, y) = (rows_of(&a[0], len)?, rows_of(&a[1], len)?);
                let out: BooleanArray = x
                    .iter()
                    .zip(&y)
                    .map(|(x, y)| match (x, y) {
                        (Some(x), Some(y)) => {
                            let el = x.first().map(|v| v.data_type()).unwrap_or(DataType::Utf8);
                            // A value that is not of the element type matches nothing.
                            let mut y = y.iter().map(|v| cast_element(v, &el).is_some_and(|v| x.contains(&v)));
                            Some(if self.op == Op::Contains {
                                y.all(|found| found)
                            } else {
                                y.any(|found| found)
                            })
                        }
                        _ => None,
                    })
                    .collect();
                Ok(Arc::new(out))
            }
            Op::OffsetOf | Op::OrdinalOf | Op::Length => {
                let x = rows_of(&a[0], len)?;
                let base = i64::from(self.op == Op::OrdinalOf);
                let out: Int64Array = (0..len)
                    .map(|i| {
                        let row = x[i].as_ref()?;
                        if self.op == Op::Length {
                            return Some(row.len() as i64);
                        }
                        let needle = ScalarValue::try_from_array(&a[1], i).ok()?;
                        if needle.is_null() {
                            return None;
                        }
                        let el = row.first().map(|v| v.data_type())?;
                        let needle = cast_element(&needle, &el)?;
                        row.iter().position(|v| *v == needle).map(|p| p as i64 + base)
                    })
                    .collect();
                Ok(Arc::new(out))
            }
            Op::Offset | Op::Ordinal => {
                let x = rows_of(&a[0], len)?;
                let base = i64::from(self.op == Op::Ordinal);
                let mut out = Vec::with_capacity(len);
                for (i, row) in x.iter().enumerate() {
                    let picked = match (row, int_at(&a[1], i)?) {
                        (Some(row), Some(p)) => p
                            .checked_sub(base)
                            .and_then(|p| usize::try_from(p).ok())
                            .and_then(|p| row.get(p).cloned()),
                        _ => None,
                    };
                    out.push(picked.map(|v| as_element(&v, out_type)));
                }
                scalars_to_array(out, out_type)
            }
            Op::ToString => {
                let x = rows_of(&a[0], len)?;
                let delim = a[1].as_string::<i32>();
                let out: StringArray = (0..len)
                    .map(|i| {
                        let row = x[i].as_ref()?;
                        if row.len() == 1 && row[0].is_null() {
                            return None;
                        }
                        let d = if delim.is_null(i) { "" } else { delim.value(i) };
                        let parts: Vec<String> = row
                            .iter()
                            .map(|v| if v.is_null() { "null".to_string() } else { v.to_string() })
                            .collect();
                        Some(parts.join(d))
                    })
                    .collect();
                Ok(Arc::new(out))
            }
            _ => {
                let rows = self.list_rows(a, len)?;
                rows_to_list(rows, out_type)
            }
        }
    }

    /// The rows of the functions that return arrays.
    fn list_rows(&self, a: &[ArrayRef], len: usize) -> Result<Vec<Row>> {
        if self.op == Op::StringTo {
            return string_to_rows(&a[0], &a[1], len);
        }
        let x = rows_of(&a[self.op.array_arg()], len)?;
        let mut second = match self.op {
            Op::Concat | Op::FilterOnly | Op::FilterNone => rows_of(&a[1], len)?,
            _ => Vec::new(),
        };
        let mut out = Vec::with_capacity(len);
        for (i, row) in x.into_iter().enumerate() {
            let Some(mut row) = row else {
                out.push((self.op == Op::GroupValues).then(|| vec![ScalarValue::Utf8(None)]));
                continue;
            };
            let produced = match self.op {
                Op::Slice => {
                    let start = int_at(&a[1], i)?;
                    let end = match a.get(2) {
                        Some(e) => int_at(e, i)?,
                        None => Some(row.len() as i64),
                    };
                    match (start, end) {
                        (Some(s), Some(e)) if s >= 0 && s <= row.len() as i64 && s <= e => {
                            let e = (e.min(row.len() as i64)) as usize;
                            Some(row[s as usize..e].to_vec())
                        }
                        _ => None,
                    }
                }
                Op::Append | Op::Prepend => {
                    let other = if self.op == Op::Append { 1 } else { 0 };
                    let v = ScalarValue::try_from_array(&a[other], i)?;
                    if self.op == Op::Append {
                        row.push(v);
                    } else {
                        row.insert(0, v);
                    }
                    Some(row)
                }
                Op::Concat => second[i].take().map(|more| {
                    row.extend(more);
                    row
                }),
                Op::FilterOnly | Op::FilterNone => {
                    let keep = second[i].take().unwrap_or_default();
                    let only = self.op == Op::FilterOnly;
                    row.retain(|v| keep.iter().any(|k| cast_element(k, &v.data_type()).as_ref() == Some(v)) == only);
                    Some(row)
                }
                Op::GroupValues if row.is_empty() => Some(vec![ScalarValue::Utf8(None)]),
                // Druid's multi-value strings do not tell an empty row from a NULL one.
                Op::ToMv if row.is_empty() => None,
                _ => Some(row), // ToMv, GroupValues
            };
            out.push(produced);
        }
        Ok(out)
    }
}

/// `STRING_TO_ARRAY(s, regex)`: Java's `s.split(regex)` (trailing empty strings dropped).
fn string_to_rows(s: &ArrayRef, pattern: &ArrayRef, len: usize) -> Result<Vec<Row>> {
    let (s, p) = (s.as_string::<i32>(), pattern.as_string::<i32>());
    let mut cache: Option<(String, regex::Regex)> = None;
    let mut out = Vec::with_capacity(len);
    for i in 0..len {
        if s.is_null(i) {
            out.push(None);
            continue;
        }
        let text = s.value(i);
        let pat = if p.is_null(i) { "" } else { p.value(i) };
        if cache.as_ref().is_none_or(|(c, _)| c != pat) {
            let re = regex::Regex::new(pat)
                .map_err(|e| invalid(format!("Invalid regular expression [{pat}] in STRING_TO_ARRAY: {e}")))?;
            cache = Some((pat.to_string(), re));
        }
        let re = &cache.as_ref().expect("set above").1;
        out.push(Some(
            java_split(text, re)
                .into_iter()
                .map(|p| ScalarValue::Utf8(Some(p.to_string())))
                .collect(),
        ));
    }
    Ok(out)
}

/// Java's `String.split(regex)`: an empty input is one empty string; a zero-width match at
/// the start makes no leading empty string; trailing empty strings are dropped.
fn java_split<'a>(text: &'a str, re: &regex::Regex) -> Vec<&'a str> {
    if text.is_empty() {
        return vec![""];
    }
    let mut parts = Vec::new();
    let mut last = 0;
    for m in re.find_iter(text) {
        if m.end() == 0 {
            continue; // zero-width match at the start
        }
        if m.start() == m.end() && m.start() >= text.len() {
            break;
        }
        parts.push(&text[last..m.start()]);
        last = m.end();
    }
    parts.push(&text[last..]);
    while parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    if parts.len() == 1 && parts[0].is_empty() {
        parts.clear(); // the whole input was delimiters
    }
    parts
}

/// Scalars of one type as an array (`None` is NULL).
fn scalars_to_array(values: Vec<Option<ScalarValue>>, data_type: &DataType) -> Result<ArrayRef> {
    if values.is_empty() {
        return Ok(new_empty_array(data_type));
    }
    let null = ScalarValue::try_from(data_type)?;
    ScalarValue::iter_to_array(values.into_iter().map(|v| v.unwrap_or_else(|| null.clone())))
}

/// Rows of elements as a list array of `list_type`; elements are cast to its element type.
fn rows_to_list(rows: Vec<Row>, list_type: &DataType) -> Result<ArrayRef> {
    let DataType::List(field) = list_type else {
        return plan_err!("expected a list type, got [{list_type}]");
    };
    let element = field.data_type();
    let mut flat = Vec::new();
    let mut lengths = Vec::with_capacity(rows.len());
    let mut valid = Vec::with_capacity(rows.len());
    for row in rows {
        let row = row.map(|r| r.into_iter().map(|v| as_element(&v, element)).collect::<Vec<_>>());
        valid.push(row.is_some());
        let row = row.unwrap_or_default();
        lengths.push(row.len());
        flat.extend(row.into_iter().map(Some));
    }
    let values = scalars_to_array(flat, element)?;
    let nulls = NullBuffer::from(valid);
    Ok(Arc::new(ListArray::try_new(
        field.clone(),
        OffsetBuffer::from_lengths(lengths),
        values,
        (nulls.null_count() > 0).then_some(nulls),
    )?))
}

#[cfg(test)]
mod tests;
