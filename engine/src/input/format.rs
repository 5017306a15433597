//! Druid input formats (`EXTERN`'s second argument).
//!
//! Only `json` (newline-delimited) is read today. A new format (`csv`, `tsv`, `parquet`) slots in
//! as a variant here plus an arm in [`super::reader::open_split`] returning its own
//! [`super::SplitReader`].

use super::source::{tagged_object, unsupported_type_message};
use crate::error::{MsqError, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `type`s of input format this build can read.
pub const SUPPORTED_INPUT_FORMATS: &[&str] = &["json"];

/// A Druid input format. Serialises as Druid prints it in task reports, e.g.
/// `{"type":"json","flattenSpec":null,"featureSpec":{},"keepNullColumns":false}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum InputFormat {
    /// Newline-delimited JSON.
    #[serde(rename = "json")]
    Json(JsonInputFormat),
}

/// `{"type":"json"}` and its options. Unknown fields are accepted and ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JsonInputFormat {
    /// Druid's `flattenSpec`, echoed back. Only a spec without `fields` (plain field discovery)
    /// can be read; JSONPath/jq flattening is not supported yet.
    #[serde(rename = "flattenSpec", default)]
    pub flatten_spec: Option<Value>,
    /// Jackson parser features; echoed back, otherwise ignored.
    #[serde(rename = "featureSpec", default, deserialize_with = "null_as_default")]
    pub feature_spec: Map<String, Value>,
    /// Echoed back; has no effect on reading with a fixed signature.
    #[serde(rename = "keepNullColumns", default, deserialize_with = "null_as_default")]
    pub keep_null_columns: bool,
    /// Echoed back when given. Input is always read as newline-delimited JSON.
    #[serde(rename = "assumeNewlineDelimited", default, skip_serializing_if = "Option::is_none")]
    pub assume_newline_delimited: Option<bool>,
    /// Echoed back when given; no effect.
    #[serde(rename = "useJsonNodeReader", default, skip_serializing_if = "Option::is_none")]
    pub use_json_node_reader: Option<bool>,
}

fn null_as_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl<'de> Deserialize<'de> for InputFormat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error;
        let v = Value::deserialize(d)?;
        let ty = tagged_object("inputFormat", &v, SUPPORTED_INPUT_FORMATS).map_err(D::Error::custom)?;
        match ty.as_str() {
            "json" => serde_json::from_value(v)
                .map(InputFormat::Json)
                .map_err(|e| D::Error::custom(format!("Invalid json inputFormat: {e}"))),
            other => Err(D::Error::custom(unsupported_type_message(
                "inputFormat",
                Some(other),
                SUPPORTED_INPUT_FORMATS,
            ))),
        }
    }
}

impl InputFormat {
    /// The default JSON format (`{"type":"json"}`).
    pub fn json() -> Self {
        InputFormat::Json(JsonInputFormat::default())
    }

    /// Parses Druid's input format JSON text; problems are [`MsqError::Validation`] errors.
    pub fn from_json(text: &str) -> Result<Self> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| MsqError::Validation(format!("Invalid inputFormat JSON: {e}")))?;
        Self::from_value(&v)
    }

    /// Parses an input format from a JSON value (see [`InputFormat::from_json`]).
    pub fn from_value(v: &Value) -> Result<Self> {
        InputFormat::deserialize(v).map_err(|e| MsqError::Validation(e.to_string()))
    }

    /// Druid's `type` of this format.
    pub fn type_name(&self) -> &'static str {
        match self {
            InputFormat::Json(_) => "json",
        }
    }

    /// Fails with [`MsqError::QueryNotSupported`] for options this build cannot honour
    /// (a `flattenSpec` with `fields`).
    pub fn check_supported(&self) -> Result<()> {
        match self {
            InputFormat::Json(j) => {
                if let Some(Value::Object(spec)) = &j.flatten_spec {
                    let has_fields = spec
                        .get("fields")
                        .and_then(Value::as_array)
                        .is_some_and(|f| !f.is_empty());
                    if has_fields {
                        return Err(MsqError::QueryNotSupported(
                            "flattenSpec with fields is not supported by the json inputFormat yet".into(),
                        ));
                    }
                }
                Ok(())
            }
        }
    }
}
