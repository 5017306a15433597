//! Druid's SQL statements API (`/druid/v2/sql/statements`): statements run as query tasks
//! (`ASYNC` only, as in Druid); their status ([`super::statement_status`]) and results are
//! read back later, page by page, from the task report or from deep storage
//! ([`crate::results`]), in any `resultFormat`; DELETE cancels one.

use super::error::ApiError;
use super::explain::{explain_answer, AnswerFormat};
use super::result_format::{HeaderOptions, ResultColumn, ResultFormat, ResultWriter};
use super::sql_resource::read_request;
use super::sql_task::bind_parameters;
use super::state::AppState;
use super::statement_status::{
    pages, report_rows, schema, status_body, submitted_format, Destination, StatementState, RESULT_FORMAT_KEY,
};
use crate::results::page_path;
use crate::results::read::read_pages;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use msq_engine::metadata::TaskRecord;
use msq_engine::MsqError;
use object_store::ObjectStoreExt;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// `GET /druid/v2/sql/statements/enabled`.
pub(super) async fn enabled() -> Json<Value> {
    Json(json!({"enabled": true}))
}

/// `POST /druid/v2/sql/statements`: submits the statement as a task and answers its status
/// (`EXPLAIN PLAN FOR` answers the plan row instead, as Druid does).
pub(super) async fn post_statement(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|rej| ApiError::unreadable_body(rej.status(), rej.body_text()))?;
    let req = read_request(&headers, &body)?;
    let answer = AnswerFormat::parse(
        req.result_format.as_deref(),
        req.header,
        req.types_header,
        req.sql_types_header,
    )?;
    let mut context = req.context.unwrap_or_default();
    if context.contains_key(RESULT_FORMAT_KEY) {
        return Err(ApiError::invalid_input(format!(
            "Query context parameter [{RESULT_FORMAT_KEY}] is not allowed"
        )));
    }
    let sql = bind_parameters(&req.query, req.parameters.as_deref().unwrap_or_default())?;
    if let Some(resp) = explain_answer(&s.tasks.overlord, &sql, &context, answer).await? {
        return Ok(resp);
    }
    // `SET executionMode = 'ASYNC';` counts as well as the request's context.
    let merged = msq_sql::statement::parse_request(&sql)?.merged_context(&context);
    check_execution_mode(&merged)?;
    context.insert(RESULT_FORMAT_KEY.into(), json!(answer.format.name()));
    let opaque = headers
        .get("X-Opaque-Id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let id = s.tasks.submit(&sql, &context, opaque).await?;
    let rec = find_statement(&s, &id)?;
    let report = s.tasks.live_report(&id).or_else(|| rec.report.clone());
    Ok(Json(status_body(&rec, report.as_ref(), true, false)).into_response())
}

/// Druid's check of `executionMode`: it must be given, and be `ASYNC`.
fn check_execution_mode(context: &Map<String, Value>) -> Result<(), ApiError> {
    let mode = context.get("executionMode");
    match mode.and_then(Value::as_str) {
        Some(m) if m.eq_ignore_ascii_case("ASYNC") => Ok(()),
        None if mode.is_none() || mode == Some(&Value::Null) => Err(ApiError::invalid_input(
            "Execution mode is not provided to the sql statement api. Please set [executionMode] to [ASYNC] in \
             the query context",
        )),
        _ => {
            let shown = mode.map(|m| m.as_str().map(str::to_string).unwrap_or_else(|| m.to_string()));
            Err(ApiError::invalid_input(format!(
                "The sql statement api currently does not support the provided execution mode [{}]. Please set \
                 [executionMode] to [ASYNC] in the query context",
                shown.unwrap_or_default()
            )))
        }
    }
}

/// A query task the statements API knows, or Druid's 404.
fn find_statement(s: &AppState, id: &str) -> Result<TaskRecord, ApiError> {
    let not_found = || {
        ApiError::not_found(format!(
            "Query [{id}] was not found. The query details are no longer present or might not be of the type \
             [query_controller]. Verify that the id is correct."
        ))
    };
    if !msq_engine::ids::is_valid_task_id(id) {
        return Err(not_found());
    }
    match s.tasks.task(id)? {
        Some(rec) if super::statement_status::is_statement_task(&rec) => Ok(rec),
        _ => Err(not_found()),
    }
}

/// The report to read: the live one while the task runs, else the stored one.
fn current_report(s: &AppState, rec: &TaskRecord) -> Option<Value> {
    if StatementState::of(rec).is_active() {
        if let Some(live) = s.tasks.live_report(&rec.id) {
            return Some(live);
        }
    }
    rec.report.clone()
}

#[derive(Deserialize, Default)]
pub(super) struct StatusParams {
    detail: Option<String>,
}

/// `GET /druid/v2/sql/statements/{id}` (`?detail=true` adds stages, counters, warnings).
pub(super) async fn get_statement(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<StatusParams>,
) -> Result<Json<Value>, ApiError> {
    let rec = find_statement(&s, &id)?;
    let detail = p.detail.is_some_and(|d| d.eq_ignore_ascii_case("true"));
    let report = current_report(&s, &rec);
    Ok(Json(status_body(&rec, report.as_ref(), true, detail)))
}

/// `DELETE /druid/v2/sql/statements/{id}`: 202 when an accepted or running statement is
/// cancelled, 200 when it had already finished, 404 when unknown.
pub(super) async fn delete_statement(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let rec = find_statement(&s, &id)?;
    if StatementState::of(&rec).is_active() && s.tasks.shutdown(&id) {
        return Ok(StatusCode::ACCEPTED);
    }
    // It may have ended between the two looks.
    let rec = find_statement(&s, &id)?;
    Ok(if StatementState::of(&rec).is_active() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct ResultsParams {
    page: Option<String>,
    result_format: Option<String>,
    filename: Option<String>,
}

/// `page`: absent (every page) or a page number; Druid's messages for the rest.
fn parse_page(page: Option<&str>) -> Result<Option<u64>, ApiError> {
    let Some(text) = page else {
        return Ok(None);
    };
    match text.trim().parse::<i64>() {
        Ok(n) if n < 0 => Err(ApiError::invalid_input(
            "Page cannot be negative. Please pass a positive number.",
        )),
        Ok(n) => Ok(Some(n as u64)),
        Err(_) => Err(ApiError::invalid_input(format!(
            "Page [{text}] is not a number. Please pass a page number."
        ))),
    }
}

/// Druid's rules for `filename`: not empty, at most 255 characters, none of `/ \ : * ? " <
/// > |`, NUL, CR or LF.
fn validate_filename(name: &str) -> Result<&str, ApiError> {
    if name.is_empty() {
        return Err(ApiError::invalid_input("Filename cannot be empty."));
    }
    if name.chars().count() > 255 {
        return Err(ApiError::invalid_input(
            "Filename cannot be longer than 255 characters.",
        ));
    }
    if name.contains(['/', '\\', ':', '*', '?', '"', '<', '>', '|', '\0', '\n', '\r']) {
        return Err(ApiError::invalid_input(
            "Filename contains invalid characters. (/, \\, :, *, ?, \", <, >, |, \\0, \\n, or \\r)",
        ));
    }
    Ok(name)
}

/// `GET /druid/v2/sql/statements/{id}/results`: a finished SELECT's rows (one page, or every
/// page in order), in `resultFormat` (else the one it was submitted with, else `object`).
pub(super) async fn statement_results(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<ResultsParams>,
) -> Result<Response, ApiError> {
    let page = parse_page(p.page.as_deref())?;
    let rec = find_statement(&s, &id)?;
    match StatementState::of(&rec) {
        state if state.is_active() => {
            return Err(ApiError::invalid_input(format!(
                "Query[{id}] is currently in [{}] state. Please wait for it to complete.",
                state.name()
            )))
        }
        StatementState::Failed => {
            return Err(ApiError::invalid_input(format!(
                "Query[{id}] failed. Check the status api for more details."
            )))
        }
        _ => {}
    }
    let disposition =
        match p.filename.as_deref() {
            Some(name) => {
                let value = format!("attachment; filename=\"{}\"", validate_filename(name)?);
                Some(HeaderValue::from_bytes(value.as_bytes()).map_err(|_| {
                    ApiError::invalid_input("Filename contains characters a response header cannot hold.")
                })?)
            }
            None => None,
        };
    let destination = Destination::of(&rec);
    let body = if destination == Destination::DataSource {
        // An ingestion has no rows to return.
        (Body::empty(), None)
    } else {
        let name = p
            .result_format
            .as_deref()
            .or(submitted_format(&rec))
            .unwrap_or("object");
        let format =
            ResultFormat::parse(name).ok_or_else(|| ApiError::invalid_input(ResultFormat::unknown_message(name)))?;
        let columns = result_columns(&rec);
        let writer = ResultWriter::new(format, columns, HeaderOptions::default());
        let body = match destination {
            Destination::DurableStorage => durable_body(&s, &rec, page, writer).await?,
            _ => report_body(&rec, page, writer)?,
        };
        (body, Some(format))
    };
    let mut resp = body.0.into_response();
    let h = resp.headers_mut();
    if let Some(format) = body.1 {
        h.insert(CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    }
    if let Some(d) = disposition {
        h.insert(CONTENT_DISPOSITION, d);
    }
    Ok(resp)
}

/// The statement's columns with their types, from its payload.
fn result_columns(rec: &TaskRecord) -> Vec<ResultColumn> {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    schema(rec)
        .and_then(|s| s.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|c| ResultColumn {
            name: text(c, "name"),
            native_type: text(c, "nativeType"),
            sql_type: text(c, "type"),
        })
        .collect()
}

/// Results kept in the task report: one page, 0.
fn report_body(rec: &TaskRecord, page: Option<u64>, mut writer: ResultWriter) -> Result<Body, ApiError> {
    if let Some(n) = page.filter(|n| *n > 0) {
        return Err(ApiError::invalid_input(format!(
            "Page number [{n}] is out of the range of results"
        )));
    }
    let mut out = Vec::new();
    writer.start(&mut out);
    for row in report_rows(rec.report.as_ref()) {
        if let Some(values) = row.as_array() {
            writer.write_values(values, &mut out);
        }
    }
    writer.finish(&mut out);
    Ok(Body::from(out))
}

/// Results in deep storage, streamed page by page as they are read. The first batch is read
/// before answering, so results that are gone (past their retention) get a 404, not a cut
/// answer.
async fn durable_body(
    s: &AppState,
    rec: &TaskRecord,
    page: Option<u64>,
    mut writer: ResultWriter,
) -> Result<Body, ApiError> {
    let all = pages(rec, rec.report.as_ref());
    let selected: Vec<u64> = match page {
        Some(n) if all.iter().any(|p| p.id == n) => vec![n],
        Some(n) => return Err(ApiError::invalid_input(format!("Invalid page id [{n}] passed."))),
        None => all.iter().map(|p| p.id).collect(),
    };
    let store = s.tasks.overlord.deep_storage.clone();
    if let Some(first) = selected.first() {
        match store.head(&page_path(&rec.id, *first)?).await {
            Err(object_store::Error::NotFound { .. }) => {
                return Err(ApiError::not_found(format!(
                    "The results of query [{}] are no longer available: they were deleted after the retention \
                     period.",
                    rec.id
                )))
            }
            Err(e) => return Err(MsqError::from(e).into()),
            Ok(_) => {}
        }
    }
    let mut batches = read_pages(store, rec.id.clone(), selected);
    let mut head = Vec::new();
    writer.start(&mut head);
    let first = match batches.next().await {
        None => {
            writer.finish(&mut head);
            return Ok(Body::from(head));
        }
        Some(Err(e)) => return Err(e.into()),
        Some(Ok(b)) => b,
    };
    writer.write_batch(&first, &mut head);
    let rest = futures::stream::unfold(Some((batches, writer)), |state| async move {
        let (mut batches, mut writer) = state?;
        let mut out = Vec::new();
        match batches.next().await {
            Some(Ok(b)) => {
                writer.write_batch(&b, &mut out);
                Some((Ok(Bytes::from(out)), Some((batches, writer))))
            }
            Some(Err(e)) => {
                tracing::warn!("reading query results failed while they were being sent: {e}");
                Some((Err(std::io::Error::other(e.to_string())), None))
            }
            None => {
                writer.finish(&mut out);
                Some((Ok(Bytes::from(out)), None))
            }
        }
    });
    let head = futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(head)) });
    Ok(Body::from_stream(head.chain(rest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_filenames_as_druid_checks_them() {
        assert_eq!(parse_page(None).unwrap(), None);
        assert_eq!(parse_page(Some("3")).unwrap(), Some(3));
        assert!(parse_page(Some("-1")).is_err());
        assert!(parse_page(Some("x")).is_err());
        assert!(validate_filename("results.csv").is_ok());
        for bad in [
            "", "a/b", "a\\b", "a:b", "a*b", "a?b", "a\"b", "a<b", "a>b", "a|b", "a\nb",
        ] {
            assert!(validate_filename(bad).is_err(), "{bad:?}");
        }
        assert!(validate_filename(&"x".repeat(256)).is_err());
    }

    #[test]
    fn execution_mode_must_be_async() {
        let ctx = |v: Value| v.as_object().cloned().unwrap();
        assert!(check_execution_mode(&ctx(json!({"executionMode": "ASYNC"}))).is_ok());
        assert!(check_execution_mode(&ctx(json!({"executionMode": "async"}))).is_ok());
        assert!(check_execution_mode(&ctx(json!({}))).is_err());
        assert!(check_execution_mode(&ctx(json!({"executionMode": "SYNC"}))).is_err());
        assert!(check_execution_mode(&ctx(json!({"executionMode": 3}))).is_err());
    }
}
