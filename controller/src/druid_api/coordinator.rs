//! Druid's coordinator endpoints that scripts use, over the metadata store (this process is
//! its own Coordinator and serves every segment from deep storage):
//!
//! - `/druid/coordinator/v1/datasources[...]`: the served view — used segments no other used
//!   segment overshadows — with `?simple` and `?full` as Druid; unknown dataSources answer
//!   `204 No Content` as Druid's `DataSourcesResource` does.
//! - `/druid/coordinator/v1/metadata/datasources[...]`: the metadata store's view (every used
//!   segment); unknown dataSources answer 404.
//! - Marking segments unused (`DELETE .../datasources/{ds}`, `POST .../markUnused`,
//!   `DELETE .../segments/{id}`): their records and files stay until a kill task.
//! - `DELETE .../datasources/{ds}/intervals/{interval}` and `POST /druid/indexer/v1/task` with
//!   a `kill` spec: a kill task ([`crate::kill`]) deleting unused segments for good.

use super::error::ApiError;
use super::state::AppState;
use crate::kill::{parse_interval, KillSpec};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use msq_engine::granularity::{format_millis, Interval};
use msq_engine::metadata::{overshadowed, MetadataStore, SegmentId, SegmentRecord};
use msq_engine::signature::TIME_COLUMN;
use msq_engine::MsqError;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

type Params = Query<HashMap<String, String>>;

/// The tier every segment is served from.
const TIER: &str = "_default_tier";

fn md(s: &AppState) -> &dyn MetadataStore {
    s.tasks.overlord.metadata.as_ref()
}

/// A request mistake as Druid's `Invalid input` (or `Unsupported operation`), not a planning
/// error.
fn input_error(e: MsqError) -> ApiError {
    match e {
        MsqError::Validation(m) => ApiError::invalid_input(m),
        MsqError::QueryNotSupported(m) => ApiError::unsupported(m),
        e => e.into(),
    }
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// An instant as Druid prints it (ETERNITY's bounds included).
fn instant(t: i64) -> String {
    match t {
        i64::MIN | i64::MAX => Interval::new(t, t)
            .to_iso()
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string(),
        t => format_millis(t),
    }
}

/// Druid's `DataSegment` JSON for a record.
pub(crate) fn segment_json(s: &SegmentRecord) -> Value {
    let dimensions: Vec<&str> = s
        .signature
        .0
        .iter()
        .map(|c| c.name.as_str())
        .filter(|n| *n != TIME_COLUMN)
        .collect();
    let load_spec = if s.is_tombstone {
        json!({"type": "tombstone"})
    } else {
        json!({"type": "parquet", "path": s.path})
    };
    json!({
        "dataSource": s.id.data_source,
        "interval": s.id.interval.to_iso(),
        "version": s.id.version,
        "loadSpec": load_spec,
        "dimensions": dimensions.join(","),
        "metrics": "",
        "shardSpec": s.shard_spec,
        "binaryVersion": null,
        "size": s.size_bytes,
        "identifier": s.id.to_string(),
    })
}

/// The segments served for a dataSource: used ones no other used segment overshadows.
fn served(md: &dyn MetadataStore, ds: &str) -> Result<Vec<SegmentRecord>, ApiError> {
    let used = md.used_segments(ds, None)?;
    let shadowed: HashSet<SegmentId> = overshadowed(&used, &[]).into_iter().collect();
    Ok(used.into_iter().filter(|s| !shadowed.contains(&s.id)).collect())
}

/// Every dataSource with served segments, by name.
fn served_all(md: &dyn MetadataStore) -> Result<Vec<(String, Vec<SegmentRecord>)>, ApiError> {
    let mut out = Vec::new();
    for ds in md.data_sources()? {
        let segs = served(md, &ds)?;
        if !segs.is_empty() {
            out.push((ds, segs));
        }
    }
    Ok(out)
}

/// Druid's simple properties: per-tier and total segment count and size (one replica each)
/// and the time span.
fn simple_properties(segs: &[SegmentRecord]) -> Value {
    let size: u64 = segs.iter().map(|s| s.size_bytes).sum();
    let count = segs.len();
    let min = segs.iter().map(|s| s.id.interval.start).min().unwrap_or(i64::MAX);
    let max = segs.iter().map(|s| s.id.interval.end).max().unwrap_or(i64::MIN);
    let tiers = if segs.is_empty() {
        json!({})
    } else {
        json!({TIER: {"segmentCount": count, "size": size, "replicatedSize": size}})
    };
    json!({
        "tiers": tiers,
        "segments": {"count": count, "size": size, "replicatedSize": size, "minTime": instant(min), "maxTime": instant(max)},
    })
}

/// Druid's `ImmutableDruidDataSource` JSON.
fn full_json(name: &str, properties: Value, segs: &[SegmentRecord]) -> Value {
    json!({"name": name, "properties": properties, "segments": segs.iter().map(segment_json).collect::<Vec<_>>()})
}

/// Segment ids, or the segments themselves with `?full`.
fn segments_answer(segs: &[SegmentRecord], full: bool) -> Value {
    if full {
        segs.iter().map(segment_json).collect()
    } else {
        segs.iter().map(|s| json!(s.id.to_string())).collect()
    }
}

/// `GET /druid/coordinator/v1/datasources` (`?simple`, `?full`).
pub(super) async fn list_datasources(State(s): State<AppState>, Query(q): Params) -> Result<Json<Value>, ApiError> {
    let all = served_all(md(&s))?;
    let v: Vec<Value> = if q.contains_key("full") {
        all.iter().map(|(n, segs)| full_json(n, json!({}), segs)).collect()
    } else if q.contains_key("simple") {
        all.iter()
            .map(|(n, segs)| json!({"name": n, "properties": simple_properties(segs)}))
            .collect()
    } else {
        all.iter().map(|(n, _)| json!(n)).collect()
    };
    Ok(Json(Value::Array(v)))
}

/// `GET /druid/coordinator/v1/datasources/{ds}` (`?full`); 204 for an unknown dataSource.
pub(super) async fn get_datasource(
    State(s): State<AppState>,
    Path(ds): Path<String>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let segs = served(md(&s), &ds)?;
    if segs.is_empty() {
        return Ok(no_content());
    }
    Ok(Json(if q.contains_key("full") {
        full_json(&ds, json!({}), &segs)
    } else {
        simple_properties(&segs)
    })
    .into_response())
}

/// `GET /druid/coordinator/v1/datasources/{ds}/segments` (`?full`); 204 when unknown.
pub(super) async fn datasource_segments(
    State(s): State<AppState>,
    Path(ds): Path<String>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let segs = served(md(&s), &ds)?;
    if segs.is_empty() {
        return Ok(no_content());
    }
    Ok(Json(segments_answer(&segs, q.contains_key("full"))).into_response())
}

/// `GET /druid/coordinator/v1/datasources/{ds}/segments/{id}`: `{"metadata", "servers"}`;
/// 204 when not served.
pub(super) async fn datasource_segment(
    State(s): State<AppState>,
    Path((ds, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let found = served(md(&s), &ds)?.into_iter().find(|seg| seg.id.to_string() == id);
    Ok(match found {
        Some(seg) => Json(json!({"metadata": segment_json(&seg), "servers": [s.tasks.overlord.host]})).into_response(),
        None => no_content(),
    })
}

/// `DELETE /druid/coordinator/v1/datasources/{ds}`: marks all its segments unused
/// (`{"numChangedSegments": n}`, 200 also for an unknown dataSource); with the deprecated
/// `?kill=true&interval=...`, issues a kill task instead.
pub(super) async fn delete_datasource(
    State(s): State<AppState>,
    Path(ds): Path<String>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    if q.get("kill").is_some_and(|k| k.eq_ignore_ascii_case("true")) {
        let interval = q
            .get("interval")
            .ok_or_else(|| ApiError::invalid_input("Missing required parameter [interval] for kill=true"))?;
        return issue_kill(&s, &ds, interval).await;
    }
    msq_engine::ids::validate_id("dataSource", &ds).map_err(input_error)?;
    let n = md(&s).mark_unused(&ds, None)?.len();
    Ok(Json(json!({"numChangedSegments": n})).into_response())
}

/// `DELETE /druid/coordinator/v1/datasources/{ds}/intervals/{interval}` (the interval with
/// `_` for `/`): issues a kill task of the unused segments inside it, answering an empty 200
/// as Druid does.
pub(super) async fn kill_interval(
    State(s): State<AppState>,
    Path((ds, interval)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    issue_kill(&s, &ds, &interval).await
}

async fn issue_kill(s: &AppState, ds: &str, interval: &str) -> Result<Response, ApiError> {
    let spec = KillSpec::parse(
        &json!({"type": "kill", "dataSource": ds, "interval": interval.replace('_', "/")}),
        Some("api-issued"),
    )
    .map_err(input_error)?;
    crate::kill::submit(&s.tasks.overlord, spec)
        .await
        .map_err(input_error)?;
    Ok(StatusCode::OK.into_response())
}

/// `POST /druid/indexer/v1/task` with `{"type": "kill", ...}`: `{"task": id}`.
pub(super) async fn submit_kill_task(s: &AppState, spec: &Value) -> Result<Json<Value>, ApiError> {
    let spec = KillSpec::parse(spec, None).map_err(input_error)?;
    let id = crate::kill::submit(&s.tasks.overlord, spec)
        .await
        .map_err(input_error)?;
    Ok(Json(json!({"task": id})))
}

/// `POST /druid/coordinator/v1/datasources/{ds}/markUnused` with `{"interval": ...}` (segments
/// wholly inside it) or `{"segmentIds": [...]}`: `{"numChangedSegments": n}`; 204 when the
/// dataSource has no served segments.
pub(super) async fn mark_unused(
    State(s): State<AppState>,
    Path(ds): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|rej| ApiError::malformed(&rej))?;
    let interval = body.get("interval").filter(|v| !v.is_null());
    let ids = body.get("segmentIds").filter(|v| !v.is_null());
    let invalid =
        || ApiError::invalid_input("Invalid request payload, either interval or segmentIds array must be specified");
    let ids: Option<Vec<String>> = match ids {
        None => None,
        Some(v) => match v.as_array() {
            Some(a) if !a.is_empty() => Some(
                a.iter()
                    .map(|x| x.as_str().map(str::to_string).ok_or_else(invalid))
                    .collect::<Result<_, _>>()?,
            ),
            _ => return Err(invalid()),
        },
    };
    let interval = match (interval, &ids) {
        (Some(i), None) => Some(parse_interval(i.as_str().ok_or_else(invalid)?).map_err(input_error)?),
        (None, Some(_)) => None,
        _ => return Err(invalid()),
    };
    msq_engine::ids::validate_id("dataSource", &ds).map_err(input_error)?;
    if served(md(&s), &ds)?.is_empty() {
        return Ok(no_content());
    }
    let n = match (interval, ids) {
        (Some(iv), _) => md(&s).mark_unused(&ds, Some(iv))?.len(),
        (None, Some(ids)) => {
            // Ids of other dataSources, or that are no segment id at all, are ignored.
            let ids: Vec<String> = ids
                .iter()
                .filter_map(|id| SegmentId::parse(&ds, id))
                .map(|id| id.to_string())
                .collect();
            md(&s).set_segments_used(&ids, false)?
        }
        (None, None) => 0,
    };
    Ok(Json(json!({"numChangedSegments": n})).into_response())
}

/// `DELETE /druid/coordinator/v1/datasources/{ds}/segments/{id}`: `{"segmentStateChanged"}`.
pub(super) async fn mark_segment_unused(
    State(s): State<AppState>,
    Path((ds, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let changed = match SegmentId::parse(&ds, &id) {
        Some(id) => md(&s).set_segments_used(&[id.to_string()], false)? > 0,
        None => false,
    };
    Ok(Json(json!({"segmentStateChanged": changed})))
}

/// `GET /druid/coordinator/v1/metadata/datasources`: names with used segments;
/// `?includeUnused` (or `?includeDisabled`) every name; `?full` the used segments too.
pub(super) async fn metadata_datasources(State(s): State<AppState>, Query(q): Params) -> Result<Json<Value>, ApiError> {
    let md = md(&s);
    if q.contains_key("includeUnused") || q.contains_key("includeDisabled") {
        return Ok(Json(json!(md.all_data_sources()?)));
    }
    let names = md.data_sources()?;
    if !q.contains_key("full") {
        return Ok(Json(json!(names)));
    }
    let mut out = Vec::new();
    for ds in names {
        let segs = md.used_segments(&ds, None)?;
        out.push(full_json(&ds, created(), &segs));
    }
    Ok(Json(Value::Array(out)))
}

/// The properties Druid gives a dataSource read from the metadata store.
fn created() -> Value {
    json!({"created": msq_engine::metadata::store::now_iso()})
}

fn unknown(ds: &str) -> ApiError {
    ApiError::not_found(format!("Unknown dataSource [{ds}]: it has no used segments"))
}

/// `GET /druid/coordinator/v1/metadata/datasources/{ds}`; 404 when it has no used segments.
pub(super) async fn metadata_datasource(
    State(s): State<AppState>,
    Path(ds): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let segs = md(&s).used_segments(&ds, None)?;
    if segs.is_empty() {
        return Err(unknown(&ds));
    }
    Ok(Json(full_json(&ds, created(), &segs)))
}

/// `GET /druid/coordinator/v1/metadata/datasources/{ds}/segments` (`?full`); 404 when unknown.
pub(super) async fn metadata_segments(
    State(s): State<AppState>,
    Path(ds): Path<String>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let segs = md(&s).used_segments(&ds, None)?;
    if segs.is_empty() {
        return Err(unknown(&ds));
    }
    Ok(Json(segments_answer(&segs, q.contains_key("full"))))
}

/// `GET /druid/coordinator/v1/metadata/datasources/{ds}/segments/{id}`: the segment if used
/// (or any with `?includeUnused`); 404 otherwise.
pub(super) async fn metadata_segment(
    State(s): State<AppState>,
    Path((ds, id)): Path<(String, String)>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let include_unused = q
        .get("includeUnused")
        .is_some_and(|v| v.is_empty() || v.eq_ignore_ascii_case("true"));
    let found = match SegmentId::parse(&ds, &id) {
        Some(sid) => md(&s).segment(&sid.to_string())?,
        None => None,
    };
    match found {
        Some(seg) if seg.id.data_source == ds && (seg.used || include_unused) => Ok(Json(segment_json(&seg))),
        _ => Err(ApiError::not_found(format!(
            "Segment [{id}] of dataSource [{ds}] not found"
        ))),
    }
}
