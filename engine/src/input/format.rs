//! Druid input formats (`EXTERN`'s second argument).
//!
//! `json` (newline-delimited), `csv`, `tsv` (any delimiter) and `parquet`. A new format slots in
//! as a variant here plus an arm in [`super::reader::open_split`] returning its own
//! [`super::SplitReader`].

use super::source::{tagged_object, unsupported_type_message};
use crate::error::{MsqError, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `type`s of input format this build can read.
pub const SUPPORTED_INPUT_FORMATS: &[&str] = &["json", "csv", "tsv", "parquet"];

/// A Druid input format. Serialises as Druid prints it in task reports, e.g.
/// `{"type":"json","flattenSpec":null,"featureSpec":{},"keepNullColumns":false}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum InputFormat {
    /// Newline-delimited JSON.
    #[serde(rename = "json")]
    Json(JsonInputFormat),
    /// Comma-separated values (RFC 4180 quoting, one row per line).
    #[serde(rename = "csv")]
    Csv(CsvInputFormat),
    /// Delimiter-separated values (tab by default; no quoting).
    #[serde(rename = "tsv")]
    Tsv(TsvInputFormat),
    /// Apache Parquet files.
    #[serde(rename = "parquet")]
    Parquet(ParquetInputFormat),
}

/// Druid's default `listDelimiter` (Ctrl-A).
pub const DEFAULT_LIST_DELIMITER: &str = "\u{1}";

/// The raw (deserialised) options shared by `csv` and `tsv`, with Druid's field names.
#[derive(Debug, Clone, Default, Deserialize)]
struct FlatTextSpec {
    #[serde(default, deserialize_with = "null_as_default")]
    columns: Vec<String>,
    #[serde(rename = "listDelimiter", default)]
    list_delimiter: Option<String>,
    #[serde(default)]
    delimiter: Option<String>,
    /// Deprecated alias of `findColumnsFromHeader`.
    #[serde(rename = "hasHeaderRow", default)]
    has_header_row: Option<bool>,
    #[serde(rename = "findColumnsFromHeader", default)]
    find_columns_from_header: Option<bool>,
    #[serde(rename = "skipHeaderRows", default, deserialize_with = "null_as_default")]
    skip_header_rows: i64,
    #[serde(rename = "tryParseNumbers", default, deserialize_with = "null_as_default")]
    try_parse_numbers: bool,
}

/// The checked options of a flat text format, applying Druid's `FlatTextInputFormat` rules.
fn check_flat_text(spec: FlatTextSpec, delimiter: &str) -> std::result::Result<FlatTextSpec, String> {
    let mut spec = spec;
    if spec.columns.is_empty() {
        match (spec.has_header_row, spec.find_columns_from_header) {
            (Some(_), Some(_)) => return Err("Cannot accept both [findColumnsFromHeader] and [hasHeaderRow]".into()),
            (None, None) => return Err("Either [columns] or [findColumnsFromHeader] must be set".into()),
            (h, f) => spec.find_columns_from_header = h.or(f),
        }
        if spec.find_columns_from_header != Some(true) {
            return Err(
                "If [columns] is not set, the first row of your data must have your header and \
                 [findColumnsFromHeader] must be set to true."
                    .into(),
            );
        }
    } else {
        spec.find_columns_from_header = Some(spec.find_columns_from_header.unwrap_or(false));
    }
    if delimiter.is_empty() {
        return Err("delimiter must not be empty".into());
    }
    if spec.list_delimiter.as_deref() == Some(delimiter) {
        return Err(format!(
            "Cannot have same delimiter and list delimiter of [{delimiter}]"
        ));
    }
    if spec.list_delimiter.as_deref() == Some("") {
        return Err("listDelimiter must not be empty".into());
    }
    if spec.skip_header_rows < 0 {
        return Err(format!(
            "skipHeaderRows must not be negative, got [{}]",
            spec.skip_header_rows
        ));
    }
    for c in &spec.columns {
        if c.contains(delimiter) {
            return Err(format!(
                "Column[{c}] cannot have the delimiter[{delimiter}] in its name"
            ));
        }
    }
    Ok(spec)
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `{"type":"csv", ...}`. Serialises as Druid prints it: `columns` when non-empty,
/// `listDelimiter` when set, `findColumnsFromHeader`/`skipHeaderRows`/`tryParseNumbers` when
/// not their defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CsvInputFormat {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// Separates the values of a multi-value field (Druid's default: Ctrl-A).
    #[serde(rename = "listDelimiter", skip_serializing_if = "Option::is_none")]
    pub list_delimiter: Option<String>,
    /// The first row (after `skipHeaderRows`) names the columns.
    #[serde(rename = "findColumnsFromHeader", skip_serializing_if = "is_false")]
    pub find_columns_from_header: bool,
    /// Lines skipped at the start of each file (before the header row, if any).
    #[serde(rename = "skipHeaderRows", skip_serializing_if = "is_zero")]
    pub skip_header_rows: u64,
    /// Echoed back; values are always parsed to the EXTERN signature's types.
    #[serde(rename = "tryParseNumbers", skip_serializing_if = "is_false")]
    pub try_parse_numbers: bool,
}

/// `{"type":"tsv", ...}`: like [`CsvInputFormat`] plus `delimiter` (default tab), which Druid
/// always prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TsvInputFormat {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    #[serde(rename = "listDelimiter", skip_serializing_if = "Option::is_none")]
    pub list_delimiter: Option<String>,
    pub delimiter: String,
    #[serde(rename = "findColumnsFromHeader", skip_serializing_if = "is_false")]
    pub find_columns_from_header: bool,
    #[serde(rename = "skipHeaderRows", skip_serializing_if = "is_zero")]
    pub skip_header_rows: u64,
    #[serde(rename = "tryParseNumbers", skip_serializing_if = "is_false")]
    pub try_parse_numbers: bool,
}

impl Default for TsvInputFormat {
    fn default() -> Self {
        TsvInputFormat {
            columns: Vec::new(),
            list_delimiter: None,
            delimiter: "\t".into(),
            find_columns_from_header: false,
            skip_header_rows: 0,
            try_parse_numbers: false,
        }
    }
}

impl<'de> Deserialize<'de> for CsvInputFormat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let spec = check_flat_text(FlatTextSpec::deserialize(d)?, ",").map_err(serde::de::Error::custom)?;
        Ok(CsvInputFormat {
            columns: spec.columns,
            list_delimiter: spec.list_delimiter,
            find_columns_from_header: spec.find_columns_from_header.unwrap_or(false),
            skip_header_rows: spec.skip_header_rows as u64,
            try_parse_numbers: spec.try_parse_numbers,
        })
    }
}

impl<'de> Deserialize<'de> for TsvInputFormat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let spec = FlatTextSpec::deserialize(d)?;
        let delimiter = spec.delimiter.clone().unwrap_or_else(|| "\t".into());
        let spec = check_flat_text(spec, &delimiter).map_err(serde::de::Error::custom)?;
        Ok(TsvInputFormat {
            columns: spec.columns,
            list_delimiter: spec.list_delimiter,
            delimiter,
            find_columns_from_header: spec.find_columns_from_header.unwrap_or(false),
            skip_header_rows: spec.skip_header_rows as u64,
            try_parse_numbers: spec.try_parse_numbers,
        })
    }
}

/// `{"type":"parquet"}`. `binaryAsString` reads un-annotated BINARY columns as UTF-8 text
/// (otherwise a STRING column gets their Base64 text, as Druid's row conversion does).
/// Serialises as Druid prints it: `{"type":"parquet","binaryAsString":false}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ParquetInputFormat {
    #[serde(rename = "binaryAsString", default, deserialize_with = "null_as_default")]
    pub binary_as_string: bool,
    /// Echoed back when given; nested fields are not flattened.
    #[serde(rename = "flattenSpec", default, skip_serializing_if = "Option::is_none")]
    pub flatten_spec: Option<Value>,
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
            "csv" => serde_json::from_value(v)
                .map(InputFormat::Csv)
                .map_err(|e| D::Error::custom(format!("Invalid csv inputFormat: {e}"))),
            "tsv" => serde_json::from_value(v)
                .map(InputFormat::Tsv)
                .map_err(|e| D::Error::custom(format!("Invalid tsv inputFormat: {e}"))),
            "parquet" => serde_json::from_value(v)
                .map(InputFormat::Parquet)
                .map_err(|e| D::Error::custom(format!("Invalid parquet inputFormat: {e}"))),
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
            InputFormat::Csv(_) => "csv",
            InputFormat::Tsv(_) => "tsv",
            InputFormat::Parquet(_) => "parquet",
        }
    }

    /// Fails with [`MsqError::QueryNotSupported`] for options this build cannot honour
    /// (a `flattenSpec` with `fields`).
    pub fn check_supported(&self) -> Result<()> {
        let (spec, name) = match self {
            InputFormat::Json(j) => (&j.flatten_spec, "json"),
            InputFormat::Parquet(p) => (&p.flatten_spec, "parquet"),
            InputFormat::Csv(_) | InputFormat::Tsv(_) => return Ok(()),
        };
        if let Some(Value::Object(spec)) = spec {
            let has_fields = spec
                .get("fields")
                .and_then(Value::as_array)
                .is_some_and(|f| !f.is_empty());
            if has_fields {
                return Err(MsqError::QueryNotSupported(format!(
                    "flattenSpec with fields is not supported by the {name} inputFormat yet"
                )));
            }
        }
        Ok(())
    }
}
