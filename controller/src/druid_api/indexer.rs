//! Druid's Tasks API under `/druid/indexer/v1`: task lists, a task's payload, status,
//! report, log and segments, shutdown, bulk status and pending segments.

use super::error::ApiError;
use super::state::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use msq_engine::granularity::{format_millis, parse_instant, Interval};
use msq_engine::metadata::{TaskFilter, TaskRecord};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// `POST /druid/indexer/v1/task`: `kill` tasks run ([`super::coordinator::submit_kill_task`]);
/// native ingestion specs are not supported.
pub(super) async fn submit_native_task(
    State(s): State<AppState>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(spec) = body.map_err(|rej| ApiError::malformed(&rej))?;
    if spec.get("type").and_then(Value::as_str) == Some("kill") {
        return super::coordinator::submit_kill_task(&s, &spec).await;
    }
    Err(ApiError::unsupported(
        "Native (JSON) ingestion specs are not supported by msq-rs; submit SQL INSERT/REPLACE statements to POST /druid/v2/sql/task",
    ))
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

/// `GET /tasks`, filtered by `state` when given.
pub(super) async fn list_tasks(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let state = q.get("state").cloned();
    list(&s, &q, state.as_deref())
}

/// `GET /completeTasks`, `/runningTasks`, `/waitingTasks`, `/pendingTasks`.
pub(super) async fn list_state(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    state: &'static str,
) -> Result<Json<Value>, ApiError> {
    list(&s, &q, Some(state))
}

fn list(s: &AppState, q: &HashMap<String, String>, state: Option<&str>) -> Result<Json<Value>, ApiError> {
    let (mut filter, runner) = task_filter(q, state)?;
    let want_type = filter.task_type.take();
    let tasks = s.tasks.overlord.metadata.list_tasks(&filter)?;
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
    Ok(Json(Value::Array(v)))
}

/// The metadata filter of a task list's query parameters, and the runner status asked for.
fn task_filter(
    q: &HashMap<String, String>,
    state: Option<&str>,
) -> Result<(TaskFilter, Option<&'static str>), ApiError> {
    let mut filter = TaskFilter {
        data_source: q.get("datasource").cloned(),
        task_type: q.get("type").cloned(),
        ..Default::default()
    };
    let (status, runner): (Option<Vec<String>>, Option<&'static str>) =
        match state.map(|x| x.to_ascii_lowercase()).as_deref() {
            None => (None, None),
            Some("running") => (Some(vec!["RUNNING".into()]), Some("RUNNING")),
            Some("waiting") => (Some(vec!["RUNNING".into()]), Some("WAITING")),
            Some("pending") => (Some(vec!["RUNNING".into()]), Some("PENDING")),
            Some("complete") => (Some(vec!["SUCCESS".into(), "FAILED".into()]), None),
            Some(other) => {
                return Err(ApiError::invalid_input(format!(
                    "Invalid state : {other}, valid values are: [pending, waiting, running, complete]"
                )))
            }
        };
    filter.status = status;
    if let Some(iv) = q.get("createdTimeInterval") {
        let i = iv
            .split_once('_')
            .and_then(|(a, b)| Some(Interval::new(parse_instant(a)?, parse_instant(b)?)))
            .ok_or_else(|| {
                ApiError::invalid_input(format!(
                    "Invalid createdTimeInterval [{iv}]: expected <start>_<end> in ISO-8601"
                ))
            })?;
        filter.created_after = Some(format_millis(i.start));
        filter.created_before = Some(format_millis(i.end));
    }
    if state == Some("complete") {
        if let Some(m) = q.get("max") {
            // Druid's `max` is a Java int.
            let n = m
                .trim()
                .parse::<i32>()
                .ok()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    ApiError::invalid_input(format!(
                        "Invalid max [{m}]: expected an integer between 0 and {}",
                        i32::MAX
                    ))
                })?;
            filter.max = Some(n);
        }
    }
    Ok((filter, runner))
}

fn get_task(s: &AppState, id: &str) -> Result<TaskRecord, ApiError> {
    // An id no task can have (Druid's id rules) is not looked up.
    let found = if msq_engine::ids::is_valid_task_id(id) {
        s.tasks.task(id)?
    } else {
        None
    };
    found.ok_or_else(|| ApiError::not_found(format!("Cannot find any task with id: [{id}]")))
}

/// `GET /task/{id}`.
pub(super) async fn task_payload(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let t = get_task(&s, &id)?;
    Ok(Json(json!({"task": id, "payload": t.payload})))
}

/// `GET /task/{id}/status`.
pub(super) async fn task_status(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let t = get_task(&s, &id)?;
    let mut st = status_json(&t);
    st["cancellable"] = json!(t.status == "RUNNING");
    if let Some(o) = &t.opaque_id {
        st["opaqueId"] = json!(o);
    }
    Ok(Json(json!({"task": id, "status": st})))
}

/// `GET /task/{id}/reports`: the live report of a running task, else the stored one.
pub(super) async fn task_reports(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    if let Some(live) = s.tasks.live_report(&id) {
        return Ok(Json(live));
    }
    get_task(&s, &id)?
        .report
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("No task reports were found for this task: [{id}]")))
}

#[derive(Deserialize)]
pub(super) struct LogParams {
    offset: Option<i64>,
}

/// `GET /task/{id}/log`, from `offset` (negative: from the end).
pub(super) async fn task_log(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<LogParams>,
) -> Result<Response, ApiError> {
    get_task(&s, &id)?;
    let log = s.tasks.overlord.metadata.task_log(&id)?;
    let bytes = log.as_bytes();
    let n = bytes.len() as i64;
    let start = match p.offset {
        Some(o) if o < 0 => (n + o).max(0),
        Some(o) => o.min(n),
        None => 0,
    } as usize;
    Ok(String::from_utf8_lossy(&bytes[start..]).into_owned().into_response())
}

/// `GET /task/{id}/segments`: segments of the task's datasource created since it was.
pub(super) async fn task_segments(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let t = get_task(&s, &id)?;
    let segs = s
        .tasks
        .overlord
        .metadata
        .all_segments(&t.data_source)
        .unwrap_or_default();
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
    Ok(Json(Value::Array(v)))
}

/// `POST /task/{id}/shutdown`.
pub(super) async fn task_shutdown(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    if !s.tasks.shutdown(&id) {
        return Err(ApiError::not_found(format!(
            "Cannot find any active task with id: [{id}]"
        )));
    }
    Ok(Json(json!({"task": id})))
}

/// `POST /datasources/{ds}/shutdownAllTasks`.
pub(super) async fn shutdown_all(State(s): State<AppState>, Path(ds): Path<String>) -> Result<Json<Value>, ApiError> {
    msq_engine::ids::validate_id("dataSource", &ds)?;
    if s.tasks.shutdown_data_source(&ds) == 0 {
        return Err(ApiError::not_found(format!("No active tasks for dataSource [{ds}]")));
    }
    Ok(Json(json!({"dataSource": ds})))
}

/// `POST /taskStatus`: the statuses of the listed tasks that exist.
pub(super) async fn bulk_status(
    State(s): State<AppState>,
    body: Result<Json<Vec<String>>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(ids) = body.map_err(|rej| ApiError::malformed(&rej))?;
    let mut out = Map::new();
    for id in ids {
        if let Ok(Some(t)) = s.tasks.task(&id) {
            out.insert(
                id.clone(),
                json!({"id": id, "status": t.status, "duration": t.duration_ms, "errorMsg": t.error_msg, "location": t.location}),
            );
        }
    }
    Ok(Json(Value::Object(out)))
}

/// `DELETE /pendingSegments/{ds}`.
pub(super) async fn delete_pending(State(s): State<AppState>, Path(ds): Path<String>) -> Result<Json<Value>, ApiError> {
    msq_engine::ids::validate_id("dataSource", &ds)?;
    let n = s.tasks.overlord.metadata.delete_pending_segments(&ds)?;
    Ok(Json(json!({"numDeleted": n})))
}
