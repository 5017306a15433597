//! Druid's frame limit on row size: `druid_row_fits(col, ...)` is TRUE for every row, or
//! fails the query with `RowTooLarge` when a row would not fit in one 1 MB frame. The planner
//! puts it in a filter over a statement's output rows.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use msq_engine::MsqError;

/// Druid's `maxFrameSize` for rows written between stages and into segments.
pub const MAX_FRAME_SIZE: u64 = 1_000_000;

/// The registered name of the row-size check.
pub const ROW_FITS: &str = "druid_row_fits";

/// The row-size check as a UDF.
pub fn row_fits_udf() -> ScalarUDF {
    ScalarUDF::from(RowFits {
        signature: Signature::variadic_any(Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct RowFits {
    signature: Signature,
}

impl ScalarUDFImpl for RowFits {
    fn name(&self) -> &str {
        ROW_FITS
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let len = args.number_rows;
        let mut sizes = vec![0u64; len.max(1)];
        for a in &args.args {
            match a {
                ColumnarValue::Scalar(s) => {
                    let n = scalar_size(s);
                    sizes.iter_mut().for_each(|x| *x += n);
                }
                ColumnarValue::Array(arr) => add_sizes(arr, &mut sizes),
            }
        }
        if sizes.iter().any(|s| *s > MAX_FRAME_SIZE) {
            return Err(MsqError::RowTooLarge {
                max_frame_size: MAX_FRAME_SIZE,
            }
            .into());
        }
        if args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
            return Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))));
        }
        Ok(ColumnarValue::Array(Arc::new(BooleanArray::from(vec![true; len]))))
    }
}

/// Bytes a field takes in a row-based frame: a 4-byte field pointer plus its data.
fn scalar_size(s: &ScalarValue) -> u64 {
    let data = match s {
        ScalarValue::Utf8(Some(v)) | ScalarValue::LargeUtf8(Some(v)) | ScalarValue::Utf8View(Some(v)) => v.len() as u64,
        ScalarValue::List(l) => l.get_array_memory_size() as u64,
        _ => 8,
    };
    4 + data
}

fn add_sizes(arr: &ArrayRef, sizes: &mut [u64]) {
    let n = arr.len().min(sizes.len());
    match arr.data_type() {
        DataType::Utf8 => {
            let a = arr.as_string::<i32>();
            for (i, s) in sizes.iter_mut().enumerate().take(n) {
                *s += 4 + if a.is_null(i) { 0 } else { a.value(i).len() as u64 };
            }
        }
        DataType::LargeUtf8 => {
            let a = arr.as_string::<i64>();
            for (i, s) in sizes.iter_mut().enumerate().take(n) {
                *s += 4 + if a.is_null(i) { 0 } else { a.value(i).len() as u64 };
            }
        }
        DataType::Utf8View => {
            let a = arr.as_string_view();
            for (i, s) in sizes.iter_mut().enumerate().take(n) {
                *s += 4 + if a.is_null(i) { 0 } else { a.value(i).len() as u64 };
            }
        }
        DataType::List(_) => {
            let a = arr.as_list::<i32>();
            for (i, s) in sizes.iter_mut().enumerate().take(n) {
                let mut data = 0;
                if !a.is_null(i) {
                    let v = a.value(i);
                    let mut per = vec![0u64; v.len()];
                    add_sizes(&v, &mut per);
                    data = per.iter().sum();
                }
                *s += 4 + data;
            }
        }
        _ => sizes.iter_mut().take(n).for_each(|s| *s += 12),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn rows_over_a_frame_fail() {
        let ctx = SessionContext::new();
        ctx.register_udf(row_fits_udf());
        let ok = ctx
            .sql("SELECT druid_row_fits(s, 1) FROM (VALUES ('a'), (NULL)) AS t(s)")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(ok[0].num_rows(), 2);
        let err = ctx
            .sql("SELECT druid_row_fits(repeat(s, 1000000)) FROM (VALUES ('a'), ('bb')) AS t(s)")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap_err();
        assert_eq!(MsqError::from(err).error_code(), "RowTooLarge");
    }
}
