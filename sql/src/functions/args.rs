//! What every Druid UDF does with its arguments: type checks, one common array length,
//! string columns, and validation errors.

use super::size::MAX_CALL_OUTPUT_BYTES;
use arrow::array::{ArrayRef, AsArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};
use msq_engine::MsqError;

pub(super) fn is_string_type(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => is_string_type(v),
        _ => false,
    }
}

pub(super) fn is_integer_type(t: &DataType) -> bool {
    t.is_integer()
}

pub(super) fn invalid(msg: String) -> datafusion::error::DataFusionError {
    MsqError::Validation(msg).into()
}

/// Runs `eval` on the arguments as arrays of one common length: one row when every argument
/// is a scalar (and the result is a scalar), else the batch's rows.
pub(super) fn invoke_on_arrays(
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
    if expanded > MAX_CALL_OUTPUT_BYTES {
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

pub(super) fn string_array(a: &ArrayRef) -> Result<StringArray> {
    let a = if a.data_type() == &DataType::Utf8 {
        a.clone()
    } else {
        cast(a, &DataType::Utf8)?
    };
    Ok(a.as_string::<i32>().clone())
}
