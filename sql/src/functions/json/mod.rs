//! Druid's nested-data (`COMPLEX<json>`) functions: `JSON_VALUE` (with `RETURNING`),
//! `JSON_QUERY`, `JSON_QUERY_ARRAY`, `JSON_PATHS`, `JSON_KEYS`, `JSON_OBJECT`, `JSON_MERGE`,
//! `PARSE_JSON`, `TRY_PARSE_JSON` and `TO_JSON_STRING`.
//!
//! A `COMPLEX<json>` value is an Arrow Utf8 column of canonical JSON text whose field carries
//! the `arrow.json` extension type ([`msq_engine::signature::json_field`]); the functions
//! parse it per row ([`value`]), follow Druid's paths ([`path`]: JSONPath `$.a[0]` and jq
//! `.a[0]`) and write JSON text back. Strings given where JSON is expected are JSON strings
//! (`TO_JSON_STRING('x')` is `"x"`), except in `JSON_MERGE`, which parses them.

mod columns;
pub mod path;
mod returning;
mod syntax;
mod udf;
mod unnest;
pub mod value;

#[cfg(test)]
mod tests;

pub use syntax::{rewrite_json_returning, rewrite_json_syntax};
pub use udf::{JsonFunction, Kind};
pub use unnest::{keep_unnested_json, keep_unnested_json_physical};

use datafusion::logical_expr::ScalarUDF;

/// The JSON functions as UDFs.
pub fn json_functions() -> Vec<ScalarUDF> {
    Kind::ALL
        .iter()
        .map(|k| ScalarUDF::new_from_impl(JsonFunction::new(*k)))
        .collect()
}
