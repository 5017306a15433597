//! Druid's HTTP API: `POST /druid/v2/sql/task` and the Tasks API under `/druid/indexer/v1`.

use crate::tasks::TaskManager;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use msq_engine::granularity::{parse_instant, Interval};
use msq_engine::metadata::{TaskFilter, TaskRecord};
use msq_engine::MsqError;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Largest request body accepted (413 beyond), unless configured otherwise.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 << 20;

#[derive(Clone)]
struct AppState {
    tasks: Arc<TaskManager>,
    auth: Option<Arc<Credentials>>,
}

/// HTTP basic-auth users (`user:password` per line). When set, every endpoint of the public
/// API but `/status/health` needs valid credentials (`Authorization: Basic ...`, the scheme
/// in any case). The cluster secret is no substitute: it only opens the internal endpoints,
/// and user credentials never open those.
#[derive(Default)]
pub struct Credentials {
    users: HashMap<String, String>,
}

impl Credentials {
    /// Parses `user:password` lines (blank lines and `#` comments skipped).
    pub fn parse(text: &str) -> Result<Self, MsqError> {
        let mut users = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (u, p) = line
                .split_once(':')
                .ok_or_else(|| MsqError::Validation(format!("auth line {} is not user:password", n + 1)))?;
            users.insert(u.to_string(), p.to_string());
        }
        if users.is_empty() {
            return Err(MsqError::Validation("the auth file names no users".into()));
        }
        Ok(Credentials { users })
    }

    /// Whether an `Authorization` header value names a user with the right password.
    pub fn allows(&self, header: Option<&str>) -> bool {
        use base64::Engine as _;
        let Some((scheme, b64)) = header.and_then(msq_engine::rpc::split_credentials) else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64) else {
            return false;
        };
        let Ok(text) = String::from_utf8(raw) else {
            return false;
        };
        match text.split_once(':') {
            Some((u, p)) => self
                .users
                .get(u)
                .is_some_and(|want| msq_engine::rpc::constant_time_eq(want.as_bytes(), p.as_bytes())),
            None => false,
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({} users)", self.users.len())
    }
}

/// Paths of the internal endpoints (controller ↔ worker), which authenticate with the cluster
/// secret instead of user credentials, and exist only when the runner needs them.
const INTERNAL_PREFIX: &str = "/druid/msq/v1/";

async fn require_auth(
    State(s): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(auth) = &s.auth {
        let path = req.uri().path();
        if path != "/status/health" && !path.starts_with(INTERNAL_PREFIX) {
            let header = req.headers().get("Authorization").and_then(|v| v.to_str().ok());
            if !auth.allows(header) {
                let mut r = error_response(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized",
                    "Authentication required: send HTTP basic credentials",
                    "org.apache.druid.server.security.ForbiddenException",
                    &s.tasks.engine.host,
                );
                r.headers_mut().insert(
                    "WWW-Authenticate",
                    "Basic realm=\"msq\"".parse().expect("static header"),
                );
                return r;
            }
        }
    }
    next.run(req).await
}

/// A Druid-style error response.
fn error_response(status: StatusCode, error: &str, message: &str, class: &str, host: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "errorMessage": message, "errorClass": class, "host": host})),
    )
        .into_response()
}

fn msq_error_response(e: &MsqError, host: &str) -> Response {
    let (status, error) = match e {
        MsqError::SqlParse(_) => (StatusCode::BAD_REQUEST, "SQL parse failed"),
        MsqError::Validation(_) => (StatusCode::BAD_REQUEST, "Plan validation failed"),
        MsqError::QueryNotSupported(_) => (StatusCode::BAD_REQUEST, "Unsupported operation"),
        e if e.is_user_error() => (StatusCode::BAD_REQUEST, "Invalid input"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "Unknown exception"),
    };
    error_response(status, error, &e.to_string(), e.error_class(), host)
}

fn not_found(what: &str, host: &str) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "Not found",
        what,
        "org.apache.druid.error.DruidException",
        host,
    )
}

/// The axum router serving the API over `tasks`, with optional basic auth (checked before
/// any body is read). The controller's endpoints for workers are mounted only when the
/// engine's runner has HTTP workers, behind its cluster secret.
pub fn router(tasks: Arc<TaskManager>, max_body_bytes: usize, auth: Option<Credentials>) -> Router {
    let runner = &tasks.engine.runner;
    let internal = runner
        .internal_secret()
        .map(|secret| crate::controller_api::routes(tasks.engine.hub.clone(), secret, &runner.limits));
    let state = AppState {
        tasks,
        auth: auth.map(Arc::new),
    };
    let api = Router::new()
        .route("/status/health", get(|| async { Json(json!(true)) }))
        .route("/druid/v2/sql/task", post(submit_sql_task))
        .route("/druid/v2/sql/task/", post(submit_sql_task))
        .route("/druid/indexer/v1/task", post(submit_native_task))
        .route("/druid/indexer/v1/tasks", get(list_tasks))
        .route(
            "/druid/indexer/v1/completeTasks",
            get(|s, q| list_state(s, q, "complete")),
        )
        .route(
            "/druid/indexer/v1/runningTasks",
            get(|s, q| list_state(s, q, "running")),
        )
        .route(
            "/druid/indexer/v1/waitingTasks",
            get(|s, q| list_state(s, q, "waiting")),
        )
        .route(
            "/druid/indexer/v1/pendingTasks",
            get(|s, q| list_state(s, q, "pending")),
        )
        .route("/druid/indexer/v1/task/{id}", get(task_payload))
        .route("/druid/indexer/v1/task/{id}/status", get(task_status))
        .route("/druid/indexer/v1/task/{id}/reports", get(task_reports))
        .route("/druid/indexer/v1/task/{id}/log", get(task_log))
        .route("/druid/indexer/v1/task/{id}/segments", get(task_segments))
        .route("/druid/indexer/v1/task/{id}/shutdown", post(task_shutdown))
        .route(
            "/druid/indexer/v1/datasources/{ds}/shutdownAllTasks",
            post(shutdown_all),
        )
        .route("/druid/indexer/v1/taskStatus", post(bulk_status))
        .route("/druid/indexer/v1/pendingSegments/{ds}", delete(delete_pending))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state.clone());
    // Worker endpoints authenticate with the cluster secret, not user credentials.
    let app = match internal {
        Some(internal) => api.merge(internal),
        None => api,
    };
    // Outermost, so unknown paths and wrong methods need credentials too.
    app.layer(axum::middleware::from_fn_with_state(state, require_auth))
}

/// Serves the API on `listener` until the process ends.
pub async fn serve(
    tasks: Arc<TaskManager>,
    listener: tokio::net::TcpListener,
    max_body_bytes: usize,
    auth: Option<Credentials>,
) -> std::io::Result<()> {
    axum::serve(listener, router(tasks, max_body_bytes, auth)).await
}

#[derive(Deserialize)]
struct SqlTaskRequest {
    query: String,
    #[serde(default)]
    context: Map<String, Value>,
    #[serde(default)]
    parameters: Vec<Value>,
}

#[derive(Deserialize, Default)]
struct SubmitParams {
    wait_for_completion: Option<bool>,
    timeout: Option<String>,
}

async fn submit_sql_task(
    State(s): State<AppState>,
    Query(params): Query<SubmitParams>,
    headers: HeaderMap,
    body: Result<Json<SqlTaskRequest>, JsonRejection>,
) -> Response {
    let host = s.tasks.engine.host.clone();
    let req = match body {
        Ok(Json(r)) => r,
        Err(rej) => {
            let status = match &rej {
                JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                JsonRejection::BytesRejection(_) if rej.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    StatusCode::PAYLOAD_TOO_LARGE
                }
                _ => StatusCode::BAD_REQUEST,
            };
            return error_response(
                status,
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    "Request too large"
                } else {
                    "Malformed request"
                },
                &rej.body_text(),
                "com.fasterxml.jackson.databind.JsonMappingException",
                &host,
            );
        }
    };
    let sql = match bind_parameters(&req.query, &req.parameters) {
        Ok(s) => s,
        Err(e) => return msq_error_response(&e, &host),
    };
    let opaque = headers
        .get("X-Opaque-Id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match s.tasks.submit(&sql, &req.context, opaque.clone()).await {
        Ok(id) => {
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
            resp
        }
        Err(e) => msq_error_response(&e, &host),
    }
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
fn bind_parameters(sql: &str, params: &[Value]) -> Result<String, MsqError> {
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

async fn submit_native_task(State(s): State<AppState>) -> Response {
    error_response(
        StatusCode::BAD_REQUEST,
        "Unsupported operation",
        "Native (JSON) ingestion specs are not supported by msq-rs; submit SQL INSERT/REPLACE statements to POST /druid/v2/sql/task",
        "org.apache.druid.error.DruidException",
        &s.tasks.engine.host,
    )
}

/// Druid's task status object for a task record.
fn status_json(t: &TaskRecord) -> Value {
    json!({
        "id": t.id,
        "groupId": t.group_id,
        "type": t.task_type,
        "createdTime": t.created_time,
        "queueInsertionTime": t.queue_insertion_time,
        "statusCode": t.status,
        "status": t.status,
        "runnerStatusCode": t.runner_status,
        "duration": t.duration_ms,
        "location": t.location,
        "dataSource": t.data_source,
        "errorMsg": t.error_msg,
    })
}

/// The `query_worker` tasks of a controller task, as Druid lists them.
fn worker_entries(t: &TaskRecord) -> Vec<Value> {
    if t.task_type != "query_controller" || t.runner_status == "WAITING" {
        return vec![];
    }
    let workers = t.payload["spec"]["tuningConfig"]["maxNumWorkers"].as_u64().unwrap_or(0);
    (0..workers)
        .map(|n| {
            let mut e = status_json(t);
            e["id"] = json!(format!("{}-worker{n}_0", t.id));
            e["groupId"] = json!(t.id);
            e["type"] = json!("query_worker");
            e
        })
        .collect()
}

async fn list_tasks(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let state = q.get("state").cloned();
    list_impl(&s, &q, state.as_deref())
}

async fn list_state(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    state: &'static str,
) -> Response {
    list_impl(&s, &q, Some(state))
}

fn list_impl(s: &AppState, q: &HashMap<String, String>, state: Option<&str>) -> Response {
    let host = &s.tasks.engine.host;
    let mut filter = TaskFilter {
        data_source: q.get("datasource").cloned(),
        task_type: q.get("type").cloned(),
        ..Default::default()
    };
    let (status, runner): (Option<Vec<String>>, Option<&str>) = match state.map(|x| x.to_ascii_lowercase()).as_deref() {
        None => (None, None),
        Some("running") => (Some(vec!["RUNNING".into()]), Some("RUNNING")),
        Some("waiting") => (Some(vec!["RUNNING".into()]), Some("WAITING")),
        Some("pending") => (Some(vec!["RUNNING".into()]), Some("PENDING")),
        Some("complete") => (Some(vec!["SUCCESS".into(), "FAILED".into()]), None),
        Some(other) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "Invalid input",
                &format!("Invalid state : {other}, valid values are: [pending, waiting, running, complete]"),
                "org.apache.druid.error.DruidException",
                host,
            )
        }
    };
    filter.status = status;
    if let Some(iv) = q.get("createdTimeInterval") {
        let parsed = iv
            .split_once('_')
            .and_then(|(a, b)| Some(Interval::new(parse_instant(a)?, parse_instant(b)?)));
        match parsed {
            Some(i) => {
                filter.created_after = Some(msq_engine::granularity::format_millis(i.start));
                filter.created_before = Some(msq_engine::granularity::format_millis(i.end));
            }
            None => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "Invalid input",
                    &format!("Invalid createdTimeInterval [{iv}]: expected <start>_<end> in ISO-8601"),
                    "org.apache.druid.error.DruidException",
                    host,
                )
            }
        }
    }
    if state == Some("complete") {
        if let Some(m) = q.get("max") {
            // Druid's `max` is a Java int.
            match m.trim().parse::<i32>().ok().and_then(|n| usize::try_from(n).ok()) {
                Some(n) => filter.max = Some(n),
                None => {
                    return error_response(
                        StatusCode::BAD_REQUEST,
                        "Invalid input",
                        &format!("Invalid max [{m}]: expected an integer between 0 and {}", i32::MAX),
                        "org.apache.druid.error.DruidException",
                        host,
                    )
                }
            }
        }
    }
    let want_type = filter.task_type.take();
    match s.tasks.engine.metadata.list_tasks(&filter) {
        Ok(tasks) => {
            let v: Vec<Value> = tasks
                .iter()
                .filter(|t| runner.is_none_or(|r| t.runner_status == r))
                .flat_map(|t| {
                    let mut entries = worker_entries(t);
                    entries.insert(0, status_json(t));
                    entries
                })
                .filter(|e| want_type.as_deref().is_none_or(|ty| e["type"] == ty))
                .collect();
            Json(Value::Array(v)).into_response()
        }
        Err(e) => msq_error_response(&e, host),
    }
}

fn get_task(s: &AppState, id: &str) -> Result<TaskRecord, Box<Response>> {
    // An id no task can have (Druid's id rules) is not looked up.
    let found = if msq_engine::ids::is_valid_task_id(id) {
        s.tasks.task(id)
    } else {
        Ok(None)
    };
    match found {
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err(Box::new(not_found(
            &format!("Cannot find any task with id: [{id}]"),
            &s.tasks.engine.host,
        ))),
        Err(e) => Err(Box::new(msq_error_response(&e, &s.tasks.engine.host))),
    }
}

async fn task_payload(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    match get_task(&s, &id) {
        Ok(t) => Json(json!({"task": id, "payload": t.payload})).into_response(),
        Err(r) => *r,
    }
}

async fn task_status(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    match get_task(&s, &id) {
        Ok(t) => {
            let mut st = status_json(&t);
            st["cancellable"] = json!(t.status == "RUNNING");
            if let Some(o) = &t.opaque_id {
                st["opaqueId"] = json!(o);
            }
            Json(json!({"task": id, "status": st})).into_response()
        }
        Err(r) => *r,
    }
}

async fn task_reports(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    if let Some(live) = s.tasks.live_report(&id) {
        return Json(live).into_response();
    }
    match get_task(&s, &id) {
        Ok(t) => match t.report {
            Some(r) => Json(r).into_response(),
            None => not_found(
                &format!("No task reports were found for this task: [{id}]"),
                &s.tasks.engine.host,
            ),
        },
        Err(r) => *r,
    }
}

#[derive(Deserialize)]
struct LogParams {
    offset: Option<i64>,
}

async fn task_log(State(s): State<AppState>, Path(id): Path<String>, Query(p): Query<LogParams>) -> Response {
    if let Err(r) = get_task(&s, &id) {
        return *r;
    }
    match s.tasks.engine.metadata.task_log(&id) {
        Ok(log) => {
            let bytes = log.as_bytes();
            let n = bytes.len() as i64;
            let start = match p.offset {
                Some(o) if o < 0 => (n + o).max(0),
                Some(o) => o.min(n),
                None => 0,
            } as usize;
            String::from_utf8_lossy(&bytes[start..]).into_owned().into_response()
        }
        Err(e) => msq_error_response(&e, &s.tasks.engine.host),
    }
}

async fn task_segments(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let t = match get_task(&s, &id) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let segs = s.tasks.engine.metadata.all_segments(&t.data_source).unwrap_or_default();
    let v: Vec<Value> = segs
        .iter()
        .filter(|seg| seg.created_date.as_str() >= t.created_time.as_str())
        .map(|seg| {
            json!({
                "dataSource": seg.id.data_source,
                "interval": seg.id.interval.to_iso(),
                "version": seg.id.version,
                "shardSpec": seg.shard_spec,
                "size": seg.size_bytes,
                "identifier": seg.id.to_string(),
                "used": seg.used,
            })
        })
        .collect();
    Json(Value::Array(v)).into_response()
}

async fn task_shutdown(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    if s.tasks.shutdown(&id) {
        Json(json!({"task": id})).into_response()
    } else {
        not_found(
            &format!("Cannot find any active task with id: [{id}]"),
            &s.tasks.engine.host,
        )
    }
}

async fn shutdown_all(State(s): State<AppState>, Path(ds): Path<String>) -> Response {
    if let Err(e) = msq_engine::ids::validate_id("dataSource", &ds) {
        return msq_error_response(&e, &s.tasks.engine.host);
    }
    let n = s.tasks.shutdown_data_source(&ds);
    if n == 0 {
        return not_found(&format!("No active tasks for dataSource [{ds}]"), &s.tasks.engine.host);
    }
    Json(json!({"dataSource": ds})).into_response()
}

async fn bulk_status(State(s): State<AppState>, body: Result<Json<Vec<String>>, JsonRejection>) -> Response {
    let ids = match body {
        Ok(Json(ids)) => ids,
        Err(rej) => {
            return error_response(
                rej.status(),
                "Malformed request",
                &rej.body_text(),
                "com.fasterxml.jackson.databind.JsonMappingException",
                &s.tasks.engine.host,
            )
        }
    };
    let mut out = Map::new();
    for id in ids {
        if let Ok(Some(t)) = s.tasks.task(&id) {
            out.insert(
                id.clone(),
                json!({"id": id, "status": t.status, "duration": t.duration_ms, "errorMsg": t.error_msg, "location": t.location}),
            );
        }
    }
    Json(Value::Object(out)).into_response()
}

async fn delete_pending(State(s): State<AppState>, Path(ds): Path<String>) -> Response {
    if let Err(e) = msq_engine::ids::validate_id("dataSource", &ds) {
        return msq_error_response(&e, &s.tasks.engine.host);
    }
    match s.tasks.engine.metadata.delete_pending_segments(&ds) {
        Ok(n) => Json(json!({"numDeleted": n})).into_response(),
        Err(e) => msq_error_response(&e, &s.tasks.engine.host),
    }
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
