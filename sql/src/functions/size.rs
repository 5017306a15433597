//! Output-size guards for the functions that build values larger than their inputs
//! (`REPEAT`, `LPAD`, `RPAD`, `REPLACE`, `CONCAT`, `CONCAT_WS`, `ARRAY_REPEAT`, `RANGE`, ...).
//!
//! DataFusion allows a value of up to 2 GiB, and `REPEAT('x', 1000000000)` is folded into a
//! 1 GB constant while planning. In Druid no row may exceed a frame (1 MB, `RowTooLarge`),
//! so a single value larger than [`MAX_VALUE_BYTES`] can never be written anywhere: the
//! wrappers here compute each call's output size from its arguments *before* the inner
//! function allocates it, and fail with `RowTooLarge` past that, or with `UnknownError`
//! naming `rowsPerFrame` when one call would build more than [`MAX_CALL_OUTPUT_BYTES`] for one
//! batch of rows.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, FieldRef, Int64Type};
use datafusion::common::Result;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};
use datafusion::prelude::SessionContext;
use msq_engine::MsqError;

use super::limits::MAX_FRAME_SIZE;

/// Largest value (string bytes, or array elements times 8) one call may produce.
pub const MAX_VALUE_BYTES: u64 = MAX_FRAME_SIZE;

/// Largest output one call may build for one batch of rows.
pub const MAX_CALL_OUTPUT_BYTES: u64 = 256 << 20;

/// How a function's output grows with its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Growth {
    /// `repeat(s, n)`: `len(s) * n`.
    Repeat,
    /// `lpad/rpad(s, n[, fill])`: `n` characters of up to 4 bytes.
    Pad,
    /// `replace(s, from, to)`: `len(s)` plus the growth of every match.
    Replace,
    /// `concat(...)`, `concat_ws(sep, ...)`: the sum of the arguments (plus separators).
    Sum,
    /// `array_repeat(x, n)`: `n` elements.
    ArrayRepeat,
    /// `range/generate_series([start,] stop[, step])` over integers.
    Range,
}

/// The DataFusion functions wrapped, with how their output grows.
const GUARDED: [(&str, Growth); 9] = [
    ("repeat", Growth::Repeat),
    ("lpad", Growth::Pad),
    ("rpad", Growth::Pad),
    ("replace", Growth::Replace),
    ("concat", Growth::Sum),
    ("concat_ws", Growth::Sum),
    ("array_repeat", Growth::ArrayRepeat),
    ("range", Growth::Range),
    ("generate_series", Growth::Range),
];

/// Replaces DataFusion's value-building functions registered in `ctx` by size-guarded ones
/// of the same names.
pub fn register_size_guards(ctx: &SessionContext) {
    for (name, growth) in GUARDED {
        let Ok(inner) = ctx.udf(name) else {
            continue;
        };
        if (inner.inner().as_ref() as &dyn std::any::Any).is::<SizeGuarded>() {
            continue;
        }
        ctx.register_udf(ScalarUDF::from(SizeGuarded {
            inner: inner.inner().clone(),
            growth,
        }));
    }
}

/// A DataFusion function whose output size is checked before it runs.
#[derive(Debug)]
struct SizeGuarded {
    inner: Arc<dyn ScalarUDFImpl>,
    growth: Growth,
}

impl PartialEq for SizeGuarded {
    fn eq(&self, other: &Self) -> bool {
        self.growth == other.growth && self.inner.name() == other.inner.name()
    }
}

impl Eq for SizeGuarded {}

impl std::hash::Hash for SizeGuarded {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.growth.hash(state);
        self.inner.name().hash(state);
    }
}

impl ScalarUDFImpl for SizeGuarded {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = if args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
            1
        } else {
            args.number_rows
        };
        check_sizes(self.name(), self.growth, &args.args, rows)?;
        self.inner.invoke_with_args(args)
    }
}

/// One argument of a call: scalars stay one row long (never expanded to the batch).
struct Arg {
    array: ArrayRef,
    scalar: bool,
}

impl Arg {
    fn new(v: &ColumnarValue) -> Result<Arg> {
        let (array, scalar) = match v {
            ColumnarValue::Scalar(s) => (s.to_array()?, true),
            ColumnarValue::Array(a) => (a.clone(), false),
        };
        // Integers are read as Int64, cast once per call.
        let array = if array.data_type().is_integer() && array.data_type() != &DataType::Int64 {
            cast(&array, &DataType::Int64)?
        } else {
            array
        };
        Ok(Arg { array, scalar })
    }

    fn index(&self, row: usize) -> Option<usize> {
        let i = if self.scalar { 0 } else { row };
        (i < self.array.len() && !self.array.is_null(i)).then_some(i)
    }

    /// Byte length of a string (8 for other values, 0 for NULL).
    fn len(&self, row: usize) -> u64 {
        let Some(i) = self.index(row) else { return 0 };
        let a = &self.array;
        (match a.data_type() {
            DataType::Utf8 => a.as_string::<i32>().value(i).len(),
            DataType::LargeUtf8 => a.as_string::<i64>().value(i).len(),
            DataType::Utf8View => a.as_string_view().value(i).len(),
            DataType::Binary => a.as_binary::<i32>().value(i).len(),
            DataType::LargeBinary => a.as_binary::<i64>().value(i).len(),
            DataType::BinaryView => a.as_binary_view().value(i).len(),
            _ => 8,
        }) as u64
    }

    fn str(&self, row: usize) -> Option<&str> {
        let i = self.index(row)?;
        let a = &self.array;
        match a.data_type() {
            DataType::Utf8 => Some(a.as_string::<i32>().value(i)),
            DataType::LargeUtf8 => Some(a.as_string::<i64>().value(i)),
            DataType::Utf8View => Some(a.as_string_view().value(i)),
            _ => None,
        }
    }

    fn int(&self, row: usize) -> Option<i64> {
        let i = self.index(row)?;
        (self.array.data_type() == &DataType::Int64).then(|| self.array.as_primitive::<Int64Type>().value(i))
    }
}

/// Fails when one output value of `name` would exceed [`MAX_VALUE_BYTES`] or all of them
/// [`MAX_CALL_OUTPUT_BYTES`].
fn check_sizes(name: &str, growth: Growth, args: &[ColumnarValue], rows: usize) -> Result<()> {
    let args: Vec<Arg> = args.iter().map(Arg::new).collect::<Result<_>>()?;
    check_output_sizes(name, (0..rows).map(|row| output_size(growth, &args, row)), rows)
}

/// Fails with `RowTooLarge` when one of `sizes` (bytes of each output value of a call of
/// `name` over `rows` rows) exceeds [`MAX_VALUE_BYTES`], or with `UnknownError` when they add
/// up to more than [`MAX_CALL_OUTPUT_BYTES`].
pub fn check_output_sizes(name: &str, sizes: impl Iterator<Item = u64>, rows: usize) -> Result<()> {
    let mut total: u64 = 0;
    for size in sizes {
        if size > MAX_VALUE_BYTES {
            return Err(MsqError::RowTooLarge {
                max_frame_size: MAX_FRAME_SIZE,
            }
            .into());
        }
        total = total.saturating_add(size);
        if total > MAX_CALL_OUTPUT_BYTES {
            return Err(MsqError::Unknown(format!(
                "Function [{name}] would build more than {MAX_CALL_OUTPUT_BYTES} bytes for one frame of {rows} rows; \
                 lower rowsPerFrame in the query context"
            ))
            .into());
        }
    }
    Ok(())
}

/// Bytes (or 8 bytes per array element) the call would produce for `row`.
fn output_size(growth: Growth, a: &[Arg], row: usize) -> u64 {
    let count = |x: Option<&Arg>| x.and_then(|x| x.int(row)).unwrap_or(0).max(0) as u64;
    match growth {
        Growth::Repeat => a
            .first()
            .map(|s| s.len(row))
            .unwrap_or(0)
            .saturating_mul(count(a.get(1))),
        Growth::Pad => {
            let widest = a
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != 1)
                .filter_map(|(_, x)| x.str(row))
                .flat_map(|s| s.chars().map(char::len_utf8).max())
                .max()
                .unwrap_or(1) as u64;
            count(a.get(1)).saturating_mul(widest)
        }
        Growth::Replace => match (a.first().and_then(|s| s.str(row)), a.get(1), a.get(2)) {
            (Some(s), Some(from), Some(to)) => {
                let (from_len, to_len) = (from.len(row), to.len(row));
                let len = s.len() as u64;
                if to_len <= from_len {
                    len
                } else {
                    // Count matches only when the value can grow at all.
                    let matches = match from.str(row) {
                        Some("") => s.chars().count() as u64 + 1,
                        Some(f) => s.matches(f).count() as u64,
                        None => 0,
                    };
                    len.saturating_add(matches.saturating_mul(to_len - from_len))
                }
            }
            _ => 0,
        },
        Growth::Sum => {
            let parts: u64 = a.iter().map(|x| x.len(row)).sum();
            // concat_ws repeats its separator between the others.
            let sep = a.first().map(|x| x.len(row)).unwrap_or(0);
            parts.saturating_add(sep.saturating_mul(a.len().saturating_sub(2) as u64))
        }
        Growth::ArrayRepeat => count(a.get(1)).saturating_mul(8),
        Growth::Range => {
            let ints: Vec<Option<i64>> = a.iter().map(|x| x.int(row)).collect();
            let (start, stop, step) = match ints.as_slice() {
                [Some(stop)] => (0, *stop, 1),
                [Some(start), Some(stop)] => (*start, *stop, 1),
                [Some(start), Some(stop), Some(step)] => (*start, *stop, *step),
                _ => return 0,
            };
            let span = (i128::from(stop) - i128::from(start)).unsigned_abs();
            let step = i128::from(step).unsigned_abs().max(1);
            u64::try_from(span / step + 1).unwrap_or(u64::MAX).saturating_mul(8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    async fn run(sql: &str) -> std::result::Result<usize, MsqError> {
        let ctx = SessionContext::new();
        register_size_guards(&ctx);
        let df = ctx.sql(sql).await.map_err(MsqError::from)?;
        let batches = df.collect().await.map_err(MsqError::from)?;
        Ok(batches.iter().map(|b| b.num_rows()).sum())
    }

    #[tokio::test]
    async fn oversized_values_fail_before_allocating() {
        for sql in [
            "SELECT repeat('x', 1000000000)",
            "SELECT lpad('x', 2000000000, 'y')",
            "SELECT rpad('x', 2000000, 'é')",
            "SELECT replace(repeat('x', 100000), 'x', repeat('y', 100))",
            "SELECT array_repeat(1, 1000000000)",
            "SELECT range(0, 9000000000000000000)",
            "SELECT repeat(s, 600000) FROM (VALUES ('a'), ('bb')) AS t(s)",
        ] {
            let e = run(sql).await.unwrap_err();
            assert_eq!(e.error_code(), "RowTooLarge", "{sql}: {e}");
        }
        for sql in [
            "SELECT repeat('x', 1000)",
            "SELECT lpad('x', 100, 'y')",
            "SELECT replace('abc', 'b', 'xyz')",
            "SELECT concat('a', 'b', NULL)",
            "SELECT concat_ws(',', 'a', 'b')",
            "SELECT range(0, 10)",
            "SELECT repeat(s, 3) FROM (VALUES ('a'), (NULL)) AS t(s)",
        ] {
            run(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }
}
