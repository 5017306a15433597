//! Druid's size limit on `ARRAY_AGG(expr[, maxSizeBytes])` (default 1024 bytes): the rewrite
//! wraps each `ARRAY_AGG` in `druid_array_agg_limit(ARRAY_AGG(expr), maxSizeBytes)`, which
//! passes the array through, or fails the query as Druid does when its estimated size is over
//! the limit.

use std::sync::Arc;

use arrow::array::{Array, ArrayAccessor, ArrayRef, AsArray};
use arrow::datatypes::DataType;
use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use msq_engine::MsqError;

/// The registered name of the size check.
pub const ARRAY_AGG_LIMIT: &str = "druid_array_agg_limit";

/// Druid's default `maxSizeBytes` of `ARRAY_AGG`.
pub const DEFAULT_MAX_SIZE_BYTES: i64 = 1024;

/// The size check as a UDF.
pub fn array_agg_limit_udf() -> ScalarUDF {
    ScalarUDF::from(ArrayAggLimit {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ArrayAggLimit {
    signature: Signature,
}

impl ScalarUDFImpl for ArrayAggLimit {
    fn name(&self) -> &str {
        ARRAY_AGG_LIMIT
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [a, n] if n.is_integer() => Ok(vec![a.clone(), DataType::Int64]),
            _ => plan_err!("ARRAY_AGG takes an expression and an integer size in bytes"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let max = match &args.args[1] {
            ColumnarValue::Scalar(s) => match s {
                datafusion::common::ScalarValue::Int64(Some(n)) => *n,
                _ => DEFAULT_MAX_SIZE_BYTES,
            },
            ColumnarValue::Array(_) => return plan_err!("The size of ARRAY_AGG must be a constant"),
        };
        let arr = args.args[0].to_array(args.number_rows)?;
        for i in 0..arr.len() {
            if arr.is_null(i) {
                continue;
            }
            let size = estimated_size(&arr, i);
            if size > max {
                let ty = msq_engine::signature::ColumnType::from_arrow(arr.data_type()).name();
                return Err(MsqError::Unknown(format!(
                    "Exceeded memory usage when aggregating type [{ty}], size [{size}] is larger than max [{max}]"
                ))
                .into());
            }
        }
        Ok(args.args[0].clone())
    }
}

/// Druid's estimate of an array's serialized size: a null flag and a length, then each
/// element with its null flag (strings: a length and their UTF-8 bytes; numbers: 8 bytes).
fn estimated_size(arr: &ArrayRef, i: usize) -> i64 {
    let DataType::List(_) = arr.data_type() else {
        return 0;
    };
    let v = arr.as_list::<i32>().value(i);
    let elements: i64 = match v.data_type() {
        DataType::Utf8 => strings_size(v.as_string::<i32>()),
        DataType::Utf8View => strings_size(v.as_string_view()),
        _ => 9 * v.len() as i64,
    };
    5 + elements
}

/// Druid's size of string elements: a null flag each, and a length and the UTF-8 bytes of
/// each non-null one.
fn strings_size<'a>(s: impl ArrayAccessor<Item = &'a str>) -> i64 {
    (0..s.len())
        .map(|j| 1 + if s.is_null(j) { 0 } else { 4 + s.value(j).len() as i64 })
        .sum()
}

/// The check as an `Arc` (for building plans).
pub fn array_agg_limit() -> Arc<ScalarUDF> {
    Arc::new(array_agg_limit_udf())
}
