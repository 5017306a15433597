//! Druid's `LOOKUP(expr, 'name'[, replaceMissingValueWith])` as a DataFusion scalar function.
//!
//! The planner registers it unbound (so SQL can name it) and binds each call to the lookup's
//! map when it plans the statement; the bound map travels with the plan: the wire codec
//! writes it as the function's definition ([`LookupFn::encode`] / [`LookupFn::decode`]), so
//! workers never need the metadata store.

use arrow::array::{Array, ArrayRef, StringArray, StringBuilder};
use arrow::datatypes::DataType;
use datafusion::common::{exec_err, ScalarValue};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The SQL name of the function.
pub const LOOKUP_FN: &str = "lookup";

/// A lookup's map, keys sorted (bytewise) with their values at the same positions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LookupMap {
    pub name: String,
    pub version: String,
    pub keys: Vec<String>,
    pub values: Vec<String>,
}

impl LookupMap {
    /// The map of `name` (`version`) from its entries in key order.
    pub fn new(name: &str, version: &str, entries: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut pairs: Vec<(String, String)> = entries.into_iter().collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs.dedup_by(|a, b| a.0 == b.0);
        let (keys, values) = pairs.into_iter().unzip();
        LookupMap {
            name: name.to_string(),
            version: version.to_string(),
            keys,
            values,
        }
    }

    /// The value of `key`, if the map has it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.keys
            .binary_search_by(|k| k.as_str().cmp(key))
            .ok()
            .map(|i| self.values[i].as_str())
    }
}

/// `LOOKUP`: unbound as registered, bound to one map once planned.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LookupFn {
    signature: Signature,
    map: Option<Arc<LookupMap>>,
}

impl Default for LookupFn {
    fn default() -> Self {
        LookupFn {
            signature: Signature::user_defined(Volatility::Immutable),
            map: None,
        }
    }
}

impl LookupFn {
    /// The function bound to `map`.
    pub fn bound(map: Arc<LookupMap>) -> ScalarUDF {
        ScalarUDF::from(LookupFn {
            map: Some(map),
            ..Default::default()
        })
    }

    /// The unbound function, for registries.
    pub fn unbound() -> ScalarUDF {
        ScalarUDF::from(LookupFn::default())
    }

    /// The bound map of `udf` as the wire codec writes it (nothing for other functions or
    /// an unbound `LOOKUP`).
    pub fn encode(udf: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        let Some(map) = udf.inner().downcast_ref::<LookupFn>().and_then(|l| l.map.as_ref()) else {
            return Ok(());
        };
        serde_json::to_writer(buf, map.as_ref())
            .map_err(|e| DataFusionError::Internal(format!("cannot write the map of lookup [{}]: {e}", map.name)))
    }

    /// A bound `LOOKUP` from what [`LookupFn::encode`] wrote.
    pub fn decode(buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        let map: LookupMap = serde_json::from_slice(buf)
            .map_err(|e| DataFusionError::Internal(format!("bad LOOKUP map on the wire: {e}")))?;
        Ok(Arc::new(LookupFn::bound(Arc::new(map))))
    }
}

impl ScalarUDFImpl for LookupFn {
    fn name(&self) -> &str {
        LOOKUP_FN
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(2..=3).contains(&arg_types.len()) {
            return Err(DataFusionError::Plan(format!(
                "LOOKUP takes 2 or 3 arguments (expr, lookupName[, replaceMissingValueWith]), got {}",
                arg_types.len()
            )));
        }
        Ok(vec![DataType::Utf8; arg_types.len()])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let Some(map) = &self.map else {
            return exec_err!("LOOKUP was not bound to a lookup while planning");
        };
        let n = args.number_rows;
        let keys = as_strings(&args.args[0], n)?;
        let default = match args.args.get(2) {
            Some(d) => Some(as_strings(d, n)?),
            None => None,
        };
        let (keys, default) = (string_array(&keys)?, default.as_ref().map(string_array).transpose()?);
        let mut out = StringBuilder::with_capacity(n, 16 * n);
        for i in 0..n {
            let hit = keys.is_valid(i).then(|| map.get(keys.value(i))).flatten();
            match hit {
                Some(v) => out.append_value(v),
                None => match default {
                    Some(d) if d.is_valid(i) => out.append_value(d.value(i)),
                    _ => out.append_null(),
                },
            }
        }
        let result: ArrayRef = Arc::new(out.finish());
        if matches!(args.args[0], ColumnarValue::Scalar(_)) && n == 1 {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?));
        }
        Ok(ColumnarValue::Array(result))
    }
}

/// An argument as a `Utf8` array of `n` rows.
fn as_strings(v: &ColumnarValue, n: usize) -> Result<ArrayRef> {
    let arr = v.to_array(n)?;
    Ok(arrow::compute::cast(&arr, &DataType::Utf8)?)
}

fn string_array(a: &ArrayRef) -> Result<&StringArray> {
    a.as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| DataFusionError::Internal("LOOKUP: argument is not a string array".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_is_searched_by_key() {
        let m = LookupMap::new(
            "l",
            "v1",
            [
                ("b".to_string(), "2".to_string()),
                ("a".to_string(), "1".to_string()),
                ("".to_string(), "e".to_string()),
            ],
        );
        assert_eq!(m.keys, vec!["", "a", "b"]);
        assert_eq!(m.get("a"), Some("1"));
        assert_eq!(m.get(""), Some("e"));
        assert_eq!(m.get("c"), None);
    }

    #[test]
    fn bound_map_round_trips_through_its_encoding() {
        let udf = LookupFn::bound(Arc::new(LookupMap::new("l", "v", [("k".into(), "v".into())])));
        let mut buf = Vec::new();
        LookupFn::encode(&udf, &mut buf).unwrap();
        let back = LookupFn::decode(&buf).unwrap();
        assert_eq!(back.as_ref(), &udf);
        let mut none = Vec::new();
        LookupFn::encode(&LookupFn::unbound(), &mut none).unwrap();
        assert!(none.is_empty());
    }
}
