//! Druid's implicit mapping of string functions over multi-value strings
//! (docs/querying/sql-data-types.md): a function that takes one value per row, given a
//! multi-value string, is applied to each value of the row, and a NULL or empty row gives the
//! function one NULL. `UPPER(tags)` of `["a","b"]` is `["A","B"]`.
//!
//! Each such function is registered again under its own name (and aliases) as a wrapper that
//! calls the original unchanged for arguments without a multi-value string, and otherwise calls
//! it once over every value of every row, returning a multi-value string (a list, for
//! functions that return numbers or booleans).

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, ListArray, UInt32Array};
use arrow::buffer::OffsetBuffer;
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{plan_err, Result};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};
use datafusion::prelude::SessionContext;
use msq_engine::signature::{is_multi_value, multi_value_type};

use super::args::is_string_type;

/// The functions mapped over multi-value strings (names and aliases as written in SQL).
const MAPPED: [&str; 27] = [
    "upper",
    "lower",
    "trim",
    "btrim",
    "ltrim",
    "rtrim",
    "substr",
    "substring",
    "replace",
    "druid_concat",
    "length",
    "char_length",
    "character_length",
    "reverse",
    "lpad",
    "rpad",
    "strpos",
    "left",
    "right",
    "initcap",
    "regexp_replace",
    "contains_string",
    "icontains_string",
    "parse_long",
    "starts_with",
    "ends_with",
    "repeat",
];

/// Registers, in place of each mapped function `ctx` knows, its multi-value aware wrapper.
pub fn register_mv_maps(ctx: &SessionContext) {
    let mut seen = HashSet::new();
    for name in MAPPED {
        if let Ok(inner) = ctx.udf(name) {
            let any: &dyn std::any::Any = inner.inner().as_ref();
            let wrapped = any.downcast_ref::<MvMap>().is_some();
            if !wrapped && seen.insert(inner.name().to_string()) {
                ctx.register_udf(ScalarUDF::from(MvMap::new(inner)));
            }
        }
    }
}

/// `inner`, applied to each value of a multi-value string argument.
#[derive(Debug, PartialEq, Eq, Hash)]
struct MvMap {
    inner: Arc<ScalarUDF>,
    signature: Signature,
}

impl MvMap {
    fn new(inner: Arc<ScalarUDF>) -> Self {
        let volatility = inner.signature().volatility;
        MvMap {
            inner,
            signature: Signature::user_defined(volatility),
        }
    }

    /// The argument types `inner` sees: each multi-value string is one string.
    fn element_types(arg_types: &[DataType]) -> Vec<DataType> {
        arg_types
            .iter()
            .map(|t| if is_multi_value(t) { DataType::Utf8 } else { t.clone() })
            .collect()
    }

    /// What `inner` returns for one value.
    fn inner_return(&self, element_types: &[DataType]) -> Result<FieldRef> {
        let fields: Vec<FieldRef> = element_types
            .iter()
            .map(|t| Arc::new(Field::new("arg", t.clone(), true)))
            .collect();
        let scalars = vec![None; fields.len()];
        self.inner.return_field_from_args(ReturnFieldArgs {
            arg_fields: &fields,
            scalar_arguments: &scalars,
        })
    }
}

/// The list type holding results of `t`: a multi-value string for strings.
fn list_of(t: &DataType) -> DataType {
    if is_string_type(t) {
        multi_value_type()
    } else {
        DataType::List(Arc::new(Field::new_list_field(t.clone(), true)))
    }
}

impl ScalarUDFImpl for MvMap {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let inner = self.inner_return(&Self::element_types(arg_types))?;
        if arg_types.iter().any(is_multi_value) {
            Ok(list_of(inner.data_type()))
        } else {
            Ok(inner.data_type().clone())
        }
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if !args.arg_fields.iter().any(|f| is_multi_value(f.data_type())) {
            return self.inner.return_field_from_args(args);
        }
        let types: Vec<DataType> = args.arg_fields.iter().map(|f| f.data_type().clone()).collect();
        Ok(Arc::new(Field::new(self.name(), self.return_type(&types)?, true)))
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.iter().filter(|t| is_multi_value(t)).count() > 1 {
            return plan_err!("Function [{}] maps over one multi-value string only", self.name());
        }
        let fields: Vec<FieldRef> = Self::element_types(arg_types)
            .into_iter()
            .map(|t| Arc::new(Field::new("arg", t, true)))
            .collect();
        let coerced: Vec<DataType> = fields_with_udf(&fields, self.inner.as_ref())?
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        Ok(arg_types
            .iter()
            .zip(coerced)
            .map(|(t, c)| if is_multi_value(t) { t.clone() } else { c })
            .collect())
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        let mv = args
            .iter()
            .any(|a| info.get_data_type(a).is_ok_and(|t| is_multi_value(&t)));
        if mv {
            Ok(ExprSimplifyResult::Original(args))
        } else {
            self.inner.simplify(args, info)
        }
    }

    fn short_circuits(&self) -> bool {
        self.inner.short_circuits()
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        // Without a multi-value string (the usual call) the original runs on the arguments as they are.
        let Some(k) = args.args.iter().position(|a| is_multi_value(&a.data_type())) else {
            return self.inner.invoke_with_args(args);
        };
        let n = args.number_rows;
        let arrays = args.args.iter().map(|a| a.to_array(n)).collect::<Result<Vec<_>>>()?;
        let list = arrays[k].as_list::<i32>();
        // One input per value; a NULL or empty row is one NULL input.
        let mut parents: Vec<u32> = Vec::new();
        let mut values: Vec<Option<u32>> = Vec::new();
        let mut lengths = Vec::with_capacity(n);
        for i in 0..list.len() {
            let (start, end) = (list.value_offsets()[i] as usize, list.value_offsets()[i + 1] as usize);
            if list.is_null(i) || start == end {
                parents.push(i as u32);
                values.push(None);
                lengths.push(1);
            } else {
                parents.extend(std::iter::repeat_n(i as u32, end - start));
                values.extend((start..end).map(|j| Some(j as u32)));
                lengths.push(end - start);
            }
        }
        let parents = UInt32Array::from(parents);
        let mut inputs: Vec<ArrayRef> = Vec::with_capacity(arrays.len());
        for (j, a) in arrays.iter().enumerate() {
            inputs.push(if j == k {
                cast(
                    &take(list.values().as_ref(), &UInt32Array::from(values.clone()), None)?,
                    &DataType::Utf8,
                )?
            } else {
                take(a.as_ref(), &parents, None)?
            });
        }
        let types: Vec<DataType> = inputs.iter().map(|a| a.data_type().clone()).collect();
        let return_field = self.inner_return(&types)?;
        let m = parents.len();
        let out = self
            .inner
            .invoke_with_args(ScalarFunctionArgs {
                arg_fields: types
                    .iter()
                    .map(|t| Arc::new(Field::new("arg", t.clone(), true)))
                    .collect(),
                args: inputs.into_iter().map(ColumnarValue::Array).collect(),
                number_rows: m,
                return_field: return_field.clone(),
                config_options: args.config_options.clone(),
            })?
            .to_array(m)?;
        let out = if is_string_type(out.data_type()) {
            cast(&out, &DataType::Utf8)?
        } else {
            out
        };
        let DataType::List(field) = list_of(out.data_type()) else {
            unreachable!("list_of gives a list");
        };
        Ok(ColumnarValue::Array(Arc::new(ListArray::try_new(
            field,
            OffsetBuffer::from_lengths(lengths),
            out,
            None,
        )?)))
    }
}

#[cfg(test)]
mod tests {
    use crate::functions::register_druid_functions;
    use arrow::array::AsArray;
    use datafusion::prelude::SessionContext;

    async fn first(sql: &str) -> String {
        let ctx = SessionContext::new();
        register_druid_functions(&ctx);
        let b = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let col = b[0].column(0).clone();
        let f = arrow::util::display::ArrayFormatter::try_new(col.as_ref(), &Default::default()).unwrap();
        f.value(0).to_string()
    }

    #[tokio::test]
    async fn maps_over_each_value() {
        assert_eq!(first("SELECT UPPER(STRING_TO_MV('a,b', ','))").await, "[A, B]");
        assert_eq!(
            first("SELECT druid_concat(STRING_TO_MV('a,b', ','), '-x')").await,
            "[a-x, b-x]"
        );
        assert_eq!(first("SELECT CHAR_LENGTH(STRING_TO_MV('a,bcd', ','))").await, "[1, 3]");
        // Without a multi-value string the function is the original.
        assert_eq!(first("SELECT UPPER('ab')").await, "AB");
        assert_eq!(first("SELECT arrow_typeof(LENGTH('ab'))").await, "Int32");
        // A NULL row gives the function one NULL.
        let ctx = SessionContext::new();
        register_druid_functions(&ctx);
        let b = ctx
            .sql("SELECT UPPER(ARRAY_TO_MV(CAST(NULL AS VARCHAR[])))")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let l = b[0].column(0).as_list::<i32>();
        assert_eq!(l.value(0).len(), 1);
        assert!(l.value(0).is_null(0));
    }
}
