//! Interactive SQL, as Druid's `SqlResource`: `POST /druid/v2/sql` runs a SELECT and streams
//! its rows in the `resultFormat` asked for ([`super::result_format`]); `DELETE
//! /druid/v2/sql/{sqlQueryId}` cancels it. Bodies are JSON (`query`, `context`, `parameters`,
//! `resultFormat`, `header`, `typesHeader`, `sqlTypesHeader`) or the bare query as
//! `text/plain` or URL-encoded (then the answer is `object` without header). INSERT and
//! REPLACE are refused with Druid's message: they run through the task endpoints. `EXPLAIN
//! PLAN FOR` (of any statement) answers its plan row ([`super::explain`]). A SELECT of
//! system tables is answered in-process ([`crate::catalog`]).

use super::error::ApiError;
use super::explain::{explain_answer, AnswerFormat};
use super::result_format::{HeaderOptions, ResultColumn, ResultFormat, ResultWriter};
use super::sql_task::bind_parameters;
use super::state::AppState;
use crate::interactive::{InteractiveRun, Registration};
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use msq_engine::MsqError;
use msq_sql::statement::StatementKind;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The response header naming the query's `sqlQueryId`.
pub const QUERY_ID_HEADER: &str = "X-Druid-SQL-Query-Id";
/// The response header saying the answer starts with header rows.
pub const HEADER_INCLUDED_HEADER: &str = "X-Druid-SQL-Header-Included";

/// The JSON body of `POST /druid/v2/sql` (nulls read as absent, as Druid reads them).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct SqlRequest {
    pub(super) query: String,
    pub(super) result_format: Option<String>,
    pub(super) header: Option<bool>,
    pub(super) types_header: Option<bool>,
    pub(super) sql_types_header: Option<bool>,
    pub(super) context: Option<Map<String, Value>>,
    pub(super) parameters: Option<Vec<Value>>,
}

/// `POST /druid/v2/sql`: plans the statement (errors answer with Druid's error body), runs
/// it, and streams the rows once the first batch (or the end) is there; an error after the
/// first bytes cuts the answer short, as Druid does.
pub(super) async fn post_sql(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|rej| ApiError::unreadable_body(rej.status(), rej.body_text()))?;
    let req = read_request(&headers, &body)?;
    let explain_format = AnswerFormat::parse(
        req.result_format.as_deref(),
        req.header,
        req.types_header,
        req.sql_types_header,
    )?;
    let (format, options) = (explain_format.format, explain_format.header);
    let sql = bind_parameters(&req.query, req.parameters.as_deref().unwrap_or_default())?;
    let context = req.context.unwrap_or_default();
    if let Some(resp) = explain_answer(&s.tasks.overlord, &sql, &context, explain_format).await? {
        return Ok(resp);
    }
    if let Some(kind) = ingest_kind(&sql) {
        return Err(refusal(kind).into());
    }
    let overlord = &s.tasks.overlord;
    if let Some(system) = crate::catalog::system_query(overlord, &sql, &context).await? {
        let mut writer = ResultWriter::new(format, ResultColumn::from_schema(&system.schema), options);
        let mut body = Vec::new();
        writer.start(&mut body);
        for batch in &system.batches {
            writer.write_batch(batch, &mut body);
        }
        writer.finish(&mut body);
        return Ok(respond(Body::from(body), format, options, &system.query_id));
    }
    let task = overlord.prepare(&sql, &context).await?;
    if task.planned.kind != StatementKind::Select {
        return Err(refusal(task.planned.kind).into());
    }
    // The context's `sqlQueryId` (or a `SET` of it), else the one planning generated.
    let query_id = task.planned.query.query_id.clone();
    let columns = ResultColumn::from_schema(&task.planned.output_schema);
    let (registration, cancel) = s.sql.register(&query_id);
    let run = crate::interactive::start(overlord, task, cancel);
    let writer = ResultWriter::new(format, columns, options);
    let body = answer(run, writer, registration).await?;
    Ok(respond(body, format, options, &query_id))
}

/// The answer with its `Content-Type`, `X-Druid-SQL-Query-Id` and (with `header`)
/// `X-Druid-SQL-Header-Included` headers.
fn respond(body: Body, format: ResultFormat, options: HeaderOptions, query_id: &str) -> Response {
    let mut resp = ([(CONTENT_TYPE, format.content_type())], body).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(query_id) {
        h.insert(QUERY_ID_HEADER, v);
    }
    if options.header {
        h.insert(HEADER_INCLUDED_HEADER, HeaderValue::from_static("yes"));
    }
    resp
}

/// `DELETE /druid/v2/sql/{sqlQueryId}`: 202 when a running query with the id was cancelled,
/// 404 (no body) when none runs.
pub(super) async fn cancel_sql(State(s): State<AppState>, Path(id): Path<String>) -> StatusCode {
    if s.sql.cancel(&id) {
        StatusCode::ACCEPTED
    } else {
        StatusCode::NOT_FOUND
    }
}

/// The request of a JSON, plain-text or URL-encoded body (415 for other content types).
pub(super) fn read_request(headers: &HeaderMap, body: &[u8]) -> Result<SqlRequest, ApiError> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let text = |query: String| SqlRequest {
        query,
        ..Default::default()
    };
    match mime.as_str() {
        "application/json" => serde_json::from_slice::<SqlRequest>(body)
            .map_err(|e| ApiError::unreadable_body(StatusCode::BAD_REQUEST, format!("Malformed SQL request: {e}"))),
        "text/plain" => Ok(text(String::from_utf8_lossy(body).into_owned())),
        "application/x-www-form-urlencoded" => url_decode(body)
            .map(text)
            .ok_or_else(|| ApiError::unreadable_body(StatusCode::BAD_REQUEST, "The query is not URL-encoded text")),
        _ => Err(ApiError::unreadable_body(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Unsupported Content-Type [{content_type}]: send application/json, text/plain or \
                 application/x-www-form-urlencoded"
            ),
        )),
    }
}

/// Decodes `%XX` escapes and `+` (a space) of a URL-encoded body.
fn url_decode(body: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(body.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// INSERT or REPLACE, when that is the statement's first keyword (after comments and
/// opening parentheses).
fn ingest_kind(sql: &str) -> Option<StatementKind> {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map(|(_, r)| r).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map(|(_, r)| r).unwrap_or("");
        } else {
            break;
        }
    }
    let word: String = rest.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    match word.to_ascii_uppercase().as_str() {
        "INSERT" => Some(StatementKind::Insert),
        "REPLACE" => Some(StatementKind::Replace),
        _ => None,
    }
}

/// Druid's refusal of an ingestion by the interactive engine.
fn refusal(kind: StatementKind) -> MsqError {
    MsqError::Validation(match kind {
        StatementKind::Replace => {
            "REPLACE operations are not supported by the requested SQL engine [native].  Consider using MSQ.".into()
        }
        _ => "INSERT operations are not supported by requested SQL engine [native], consider using MSQ.".into(),
    })
}

/// The error answer of a query that failed before its first row: Druid's for a cancelled
/// query (500, `Query cancelled`), the error's own otherwise.
fn query_error(e: MsqError) -> ApiError {
    match e {
        MsqError::Canceled => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Query cancelled",
            e.to_string(),
            "org.apache.druid.query.QueryInterruptedException",
        ),
        e => e.into(),
    }
}

/// The answer's body: whole when the query ends before any row (or fails: Druid's error
/// body), streamed batch by batch otherwise. The stream holds the registration, so a client
/// that goes away cancels the query.
async fn answer(
    mut run: InteractiveRun,
    mut writer: ResultWriter,
    registration: Registration,
) -> Result<Body, ApiError> {
    let mut head = Vec::new();
    writer.start(&mut head);
    let Some(first) = run.rows.recv().await else {
        run.outcome().await.map_err(query_error)?;
        writer.finish(&mut head);
        return Ok(Body::from(head));
    };
    writer.write_batch(&first, &mut head);
    let state = Some((run, writer, registration));
    let rest = futures::stream::unfold(state, |state| async move {
        let (mut run, mut writer, registration) = state?;
        let mut out = Vec::new();
        match run.rows.recv().await {
            Some(batch) => {
                writer.write_batch(&batch, &mut out);
                Some((Ok(Bytes::from(out)), Some((run, writer, registration))))
            }
            None => match run.outcome().await {
                Ok(()) => {
                    writer.finish(&mut out);
                    Some((Ok(Bytes::from(out)), None))
                }
                Err(e) => {
                    tracing::warn!("interactive query failed while its answer was being sent: {e}");
                    Some((Err(std::io::Error::other(e.to_string())), None))
                }
            },
        }
    });
    let first = futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(head)) });
    Ok(Body::from_stream(first.chain(rest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingestion_is_recognised_by_its_first_keyword() {
        assert_eq!(ingest_kind("  insert into t select 1"), Some(StatementKind::Insert));
        assert_eq!(
            ingest_kind("-- c\n/* x */ REPLACE INTO t OVERWRITE ALL SELECT 1"),
            Some(StatementKind::Replace)
        );
        assert_eq!(ingest_kind("SELECT 'INSERT'"), None);
        assert_eq!(ingest_kind("WITH x AS (SELECT 1) SELECT * FROM x"), None);
    }

    #[test]
    fn url_encoded_queries() {
        assert_eq!(url_decode(b"SELECT%20%31").as_deref(), Some("SELECT 1"));
        assert_eq!(url_decode(b"SELECT+1").as_deref(), Some("SELECT 1"));
        assert_eq!(url_decode(b"bad%2"), None);
    }
}
