//! Druid's lookups API under `/druid/coordinator/v1/lookups` (Druid's
//! `LookupCoordinatorResource`), over the metadata store's `druid_lookups` table:
//!
//! - `GET /config`: the tier names; `POST /config`: a bulk update `{tier: {name: container}}`
//!   (`202` with the update echoed); `GET /config/all`: every tier's lookups.
//! - `GET /config/{tier}`: the tier's lookup names (`?detailed=true`: their containers);
//!   `DELETE /config/{tier}`: the whole tier (`202`).
//! - `GET|POST|DELETE /config/{tier}/{name}`: one lookup (`POST` and `DELETE` answer `202`).
//! - `GET /status[/{tier}[/{name}]]`: every lookup is loaded (plans carry their maps).
//!
//! Only `map` lookups exist; an update of an existing lookup needs a higher version
//! ([`msq_engine::metadata::lookup::check_update`]). Queries read the `__default` tier.

use super::error::ApiError;
use super::state::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use msq_engine::metadata::lookup::{
    config_json, parse_config, parse_container, validate_name, validate_tier, LookupRecord,
};
use msq_engine::metadata::MetadataStore;
use msq_engine::MsqError;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

type Params = Query<HashMap<String, String>>;

fn md(s: &AppState) -> Arc<dyn MetadataStore> {
    s.tasks.overlord.metadata.clone()
}

/// A request mistake as Druid's `Invalid input` (an unsupported factory type as
/// `Unsupported operation`).
fn input_error(e: MsqError) -> ApiError {
    match e {
        MsqError::Validation(m) => ApiError::invalid_input(m),
        MsqError::QueryNotSupported(m) => ApiError::unsupported(m),
        e => e.into(),
    }
}

/// Runs a store call off the async threads; a refused update is the request's mistake.
async fn store<T: Send + 'static>(
    s: &AppState,
    f: impl FnOnce(&dyn MetadataStore) -> msq_engine::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let md = md(s);
    msq_engine::blocking(move || f(md.as_ref())).await.map_err(input_error)
}

/// The JSON body, or Druid's error for one that is not JSON (400), too large (413) or not
/// declared JSON (415).
fn body(b: Result<Json<Value>, JsonRejection>) -> Result<Value, ApiError> {
    b.map(|Json(v)| v).map_err(|rej| ApiError::sql_body(&rej))
}

fn accepted() -> Response {
    StatusCode::ACCEPTED.into_response()
}

/// The lookups of one tier, by name.
async fn tier_lookups(s: &AppState, tier: &str) -> Result<Vec<LookupRecord>, ApiError> {
    let tier = tier.to_string();
    Ok(store(s, |md| md.lookups())
        .await?
        .into_iter()
        .filter(|r| r.tier == tier)
        .collect())
}

/// `GET /config`: the tier names, sorted.
pub(super) async fn list_tiers(State(s): State<AppState>) -> Result<Response, ApiError> {
    let mut tiers: Vec<String> = store(&s, |md| md.lookups())
        .await?
        .into_iter()
        .map(|r| r.tier)
        .collect();
    tiers.dedup();
    Ok(Json(json!(tiers)).into_response())
}

/// `POST /config`: creates or updates every lookup of the body, all or none.
pub(super) async fn post_config(
    State(s): State<AppState>,
    b: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let v = body(b)?;
    let records = parse_config(&v).map_err(input_error)?;
    store(&s, move |md| md.put_lookups(&records, false)).await?;
    Ok((StatusCode::ACCEPTED, Json(v)).into_response())
}

/// `GET /config/all`: `{tier: {name: container}}`.
pub(super) async fn get_all(State(s): State<AppState>) -> Result<Response, ApiError> {
    let all = store(&s, |md| md.lookups()).await?;
    Ok(Json(config_json(&all)).into_response())
}

/// `GET /config/{tier}`: the tier's lookup names (`?detailed=true`: name → container).
pub(super) async fn get_tier(
    State(s): State<AppState>,
    Path(tier): Path<String>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    validate_tier(&tier).map_err(input_error)?;
    let lookups = tier_lookups(&s, &tier).await?;
    if lookups.is_empty() {
        return Err(ApiError::not_found(format!("Tier [{tier}] not found")));
    }
    if q.get("detailed").is_some_and(|d| d == "true") {
        let m: Map<String, Value> = lookups.iter().map(|r| (r.name.clone(), r.container_json())).collect();
        return Ok(Json(Value::Object(m)).into_response());
    }
    let names: Vec<&str> = lookups.iter().map(|r| r.name.as_str()).collect();
    Ok(Json(json!(names)).into_response())
}

/// `DELETE /config/{tier}`: every lookup of the tier.
pub(super) async fn delete_tier(State(s): State<AppState>, Path(tier): Path<String>) -> Result<Response, ApiError> {
    validate_tier(&tier).map_err(input_error)?;
    let t = tier.clone();
    if store(&s, move |md| md.delete_lookups(&t, None)).await? == 0 {
        return Err(ApiError::not_found(format!("tier [{tier}] is not found.")));
    }
    Ok(accepted())
}

/// Checks both names of a `{tier}/{name}` path.
fn check_names(tier: &str, name: &str) -> Result<(), ApiError> {
    validate_tier(tier).map_err(input_error)?;
    validate_name(name).map_err(input_error)
}

/// `GET /config/{tier}/{name}`: the lookup's container.
pub(super) async fn get_lookup(
    State(s): State<AppState>,
    Path((tier, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let r = existing_lookup(&s, &tier, &name).await?;
    Ok(Json(r.container_json()).into_response())
}

/// The lookup `name` of `tier` (both names checked), or Druid's 404.
async fn existing_lookup(s: &AppState, tier: &str, name: &str) -> Result<LookupRecord, ApiError> {
    check_names(tier, name)?;
    let (t, n) = (tier.to_string(), name.to_string());
    store(s, move |md| md.lookup(&t, &n))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("lookup [{name}] not found in tier [{tier}]")))
}

/// `POST /config/{tier}/{name}`: creates or updates one lookup.
pub(super) async fn post_lookup(
    State(s): State<AppState>,
    Path((tier, name)): Path<(String, String)>,
    b: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    check_names(&tier, &name)?;
    let v = body(b)?;
    let record = parse_container(&tier, &name, &v).map_err(input_error)?;
    store(&s, move |md| md.put_lookups(std::slice::from_ref(&record), false)).await?;
    Ok(accepted())
}

/// `DELETE /config/{tier}/{name}`: one lookup (the tier goes with its last lookup).
pub(super) async fn delete_lookup(
    State(s): State<AppState>,
    Path((tier, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    check_names(&tier, &name)?;
    let (t, n) = (tier.clone(), name.clone());
    if store(&s, move |md| md.delete_lookups(&t, Some(&n))).await? == 0 {
        return Err(ApiError::not_found(format!(
            "lookup [{name}] is not found in tier [{tier}]."
        )));
    }
    Ok(accepted())
}

/// `GET /status`: `{tier: {name: {"loaded": true}}}`.
pub(super) async fn status_all(State(s): State<AppState>) -> Result<Response, ApiError> {
    let all = store(&s, |md| md.lookups()).await?;
    let mut tiers: Map<String, Value> = Map::new();
    for r in all {
        let tier = tiers.entry(r.tier.clone()).or_insert_with(|| json!({}));
        tier[&r.name] = json!({"loaded": true});
    }
    Ok(Json(Value::Object(tiers)).into_response())
}

/// `GET /status/{tier}`: `{name: {"loaded": true}}`.
pub(super) async fn status_tier(State(s): State<AppState>, Path(tier): Path<String>) -> Result<Response, ApiError> {
    validate_tier(&tier).map_err(input_error)?;
    let lookups = tier_lookups(&s, &tier).await?;
    if lookups.is_empty() {
        return Err(ApiError::not_found(format!("Tier [{tier}] not found")));
    }
    let m: Map<String, Value> = lookups.into_iter().map(|r| (r.name, json!({"loaded": true}))).collect();
    Ok(Json(Value::Object(m)).into_response())
}

/// `GET /status/{tier}/{name}`: `{"loaded": true}`.
pub(super) async fn status_lookup(
    State(s): State<AppState>,
    Path((tier, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    existing_lookup(&s, &tier, &name).await?;
    Ok(Json(json!({"loaded": true})).into_response())
}
