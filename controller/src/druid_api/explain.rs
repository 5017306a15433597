//! `EXPLAIN PLAN FOR` through Druid's SQL endpoints. As Druid's `SqlTaskResource` does, the
//! plan row is the answer, written in the request's `resultFormat` with its header options
//! and `X-Druid-SQL-Query-Id`; no task starts. Any other statement gets `None` and runs.

use super::error::ApiError;
use super::result_format::{HeaderOptions, ResultColumn, ResultFormat, ResultWriter};
use crate::overlord::Overlord;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// Druid's response header naming the query's `sqlQueryId`.
const QUERY_ID_HEADER: &str = "X-Druid-SQL-Query-Id";
/// Druid's response header saying the answer starts with header rows.
const HEADER_INCLUDED_HEADER: &str = "X-Druid-SQL-Header-Included";

/// How a SQL request asks its answer to be written.
#[derive(Debug, Clone, Copy)]
pub(super) struct AnswerFormat {
    pub(super) format: ResultFormat,
    pub(super) header: HeaderOptions,
}

impl AnswerFormat {
    /// `resultFormat` (default `object`; an unknown name is Druid's 400) and the header flags.
    pub(super) fn parse(
        result_format: Option<&str>,
        header: Option<bool>,
        types_header: Option<bool>,
        sql_types_header: Option<bool>,
    ) -> Result<AnswerFormat, ApiError> {
        let format = match result_format {
            None => ResultFormat::Object,
            Some(name) => ResultFormat::parse(name).ok_or_else(|| {
                ApiError::unreadable_body(StatusCode::BAD_REQUEST, ResultFormat::unknown_message(name))
            })?,
        };
        Ok(AnswerFormat {
            format,
            header: HeaderOptions {
                header: header.unwrap_or(false),
                types_header: types_header.unwrap_or(false),
                sql_types_header: sql_types_header.unwrap_or(false),
            },
        })
    }
}

/// The answer to `sql` when it is `EXPLAIN PLAN FOR <statement>` (after any `SET`s): its
/// plan row in `answer`'s format; `None` for any other statement.
pub(super) async fn explain_answer(
    overlord: &Overlord,
    sql: &str,
    context: &Map<String, Value>,
    answer: AnswerFormat,
) -> Result<Option<Response>, ApiError> {
    let Some((query_id, explanation)) = overlord.explain(sql, context).await? else {
        return Ok(None);
    };
    let batch = explanation.to_batch();
    let mut writer = ResultWriter::new(answer.format, ResultColumn::from_schema(&batch.schema()), answer.header);
    let mut body = Vec::new();
    writer.start(&mut body);
    writer.write_batch(&batch, &mut body);
    writer.finish(&mut body);
    let mut resp = ([(CONTENT_TYPE, answer.format.content_type())], body).into_response();
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&query_id) {
        headers.insert(QUERY_ID_HEADER, v);
    }
    if answer.header.header {
        headers.insert(HEADER_INCLUDED_HEADER, HeaderValue::from_static("yes"));
    }
    Ok(Some(resp))
}
