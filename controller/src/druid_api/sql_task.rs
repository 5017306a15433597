//! `POST /druid/v2/sql/task`: a statement, its context and `?` parameters become a task.

use super::error::ApiError;
use super::explain::{explain_answer, AnswerFormat};
use super::state::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use msq_engine::MsqError;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::time::Duration;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SqlTaskRequest {
    query: String,
    #[serde(default)]
    context: Map<String, Value>,
    #[serde(default)]
    parameters: Vec<Value>,
    /// How an `EXPLAIN PLAN FOR` answer is written (Druid's SQL request fields).
    result_format: Option<String>,
    header: Option<bool>,
    types_header: Option<bool>,
    sql_types_header: Option<bool>,
}

#[derive(Deserialize, Default)]
pub(super) struct SubmitParams {
    wait_for_completion: Option<bool>,
    timeout: Option<String>,
}

/// Submits the statement; with `wait_for_completion`, answers when the task ends (or the
/// `timeout`, 300s by default, passes). `EXPLAIN PLAN FOR` answers the plan row instead.
pub(super) async fn submit_sql_task(
    State(s): State<AppState>,
    Query(params): Query<SubmitParams>,
    headers: HeaderMap,
    body: Result<Json<SqlTaskRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(|rej| ApiError::sql_body(&rej))?;
    let answer = AnswerFormat::parse(
        req.result_format.as_deref(),
        req.header,
        req.types_header,
        req.sql_types_header,
    )?;
    let sql = bind_parameters(&req.query, &req.parameters)?;
    if let Some(resp) = explain_answer(&s.tasks.overlord, &sql, &req.context, answer).await? {
        return Ok(resp);
    }
    let opaque = headers
        .get("X-Opaque-Id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let id = s.tasks.submit(&sql, &req.context, opaque.clone()).await?;
    let mut state = "RUNNING".to_string();
    if params.wait_for_completion.unwrap_or(false) {
        let timeout = params
            .timeout
            .as_deref()
            .and_then(parse_duration)
            .unwrap_or(Duration::from_secs(300));
        s.tasks.wait(&id, timeout).await;
        if let Ok(Some(t)) = s.tasks.task(&id) {
            state = t.status;
        }
    }
    let mut resp = Json(json!({"taskId": id, "state": state})).into_response();
    if let Some(o) = opaque.and_then(|o| o.parse().ok()) {
        resp.headers_mut().insert("X-Opaque-Id", o);
    }
    Ok(resp)
}

/// `30s`, `5m`, `1000ms` or plain seconds.
fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if let Some(v) = s.strip_suffix("ms") {
        return v.parse().ok().map(Duration::from_millis);
    }
    if let Some(v) = s.strip_suffix('s') {
        return v.parse().ok().map(Duration::from_secs);
    }
    if let Some(v) = s.strip_suffix('m') {
        return v.parse::<u64>().ok().map(|m| Duration::from_secs(m * 60));
    }
    s.parse().ok().map(Duration::from_secs)
}

/// Binds Druid SQL dynamic parameters (`?`) from `[{"type":"VARCHAR","value":...}]`.
pub(super) fn bind_parameters(sql: &str, params: &[Value]) -> Result<String, MsqError> {
    if params.is_empty() {
        return Ok(sql.to_string());
    }
    let mut out = String::with_capacity(sql.len());
    let mut it = params.iter();
    let mut in_str: Option<char> = None;
    for c in sql.chars() {
        match in_str {
            Some(q) => {
                out.push(c);
                if c == q {
                    in_str = None;
                }
            }
            None if c == '\'' || c == '"' => {
                in_str = Some(c);
                out.push(c);
            }
            None if c == '?' => {
                let p = it
                    .next()
                    .ok_or_else(|| MsqError::Validation("Not enough values for the query's ? parameters".into()))?;
                out.push_str(&parameter_literal(p)?);
            }
            None => out.push(c),
        }
    }
    if it.next().is_some() {
        return Err(MsqError::Validation(
            "More parameters than ? placeholders in the query".into(),
        ));
    }
    Ok(out)
}

fn parameter_literal(p: &Value) -> Result<String, MsqError> {
    let ty = p
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("VARCHAR")
        .to_ascii_uppercase();
    let v = p.get("value").unwrap_or(&Value::Null);
    let quoted = |s: &str| format!("'{}'", s.replace('\'', "''"));
    Ok(match (ty.as_str(), v) {
        (_, Value::Null) => "NULL".into(),
        ("TIMESTAMP", Value::String(s)) => format!("TIMESTAMP {}", quoted(s)),
        ("DATE", Value::String(s)) => format!("DATE {}", quoted(s)),
        (_, Value::String(s)) => quoted(s),
        (_, Value::Number(n)) => n.to_string(),
        (_, Value::Bool(b)) => b.to_string().to_uppercase(),
        (_, other) => return Err(MsqError::Validation(format!("Unsupported parameter value [{other}]"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_bind_outside_strings() {
        let sql = bind_parameters(
            "SELECT '?' FROM t WHERE a = ? AND b = ?",
            &[
                json!({"type":"VARCHAR","value":"it's"}),
                json!({"type":"BIGINT","value":3}),
            ],
        )
        .unwrap();
        assert_eq!(sql, "SELECT '?' FROM t WHERE a = 'it''s' AND b = 3");
        assert!(bind_parameters("SELECT ?", &[]).is_ok());
        assert!(bind_parameters("SELECT ?, ?", &[json!({"value":1})]).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
    }
}
