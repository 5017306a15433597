//! Druid's public HTTP API: `POST /druid/v2/sql/task` ([`sql_task`]), interactive SQL
//! `POST /druid/v2/sql` ([`sql_resource`], answers written by [`result_format`]) and the
//! Tasks API under `/druid/indexer/v1` ([`indexer`]). Handlers return [`ApiError`] for
//! Druid's error bodies; basic auth is a layer ([`auth`]). The internal controller ↔ worker
//! endpoints mounted beside them are [`crate::worker_protocol`].

pub mod auth;
mod coordinator;
pub mod error;
mod explain;
mod indexer;
mod lookups;
pub mod result_format;
mod sql_resource;
mod sql_task;
mod state;
mod statement_status;
mod statements;

use crate::tasks::TaskManager;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post};
use axum::serve::ListenerExt;
use axum::{Json, Router};
use indexer::{
    bulk_status, delete_pending, list_state, list_tasks, shutdown_all, submit_native_task, task_log, task_payload,
    task_reports, task_segments, task_shutdown, task_status,
};
use serde_json::json;
use sql_task::submit_sql_task;
use state::AppState;
use std::sync::Arc;

pub use auth::Credentials;
pub use error::ApiError;

/// Largest request body accepted (413 beyond), unless configured otherwise.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 << 20;

/// The axum router serving the API over `tasks`, with optional basic auth (checked before
/// any body is read, also for wrong methods and unknown paths; not for `/status/health`).
/// The controller's endpoints for workers are mounted only when the runner has HTTP workers,
/// behind its cluster secret instead of user credentials.
pub fn router(tasks: Arc<TaskManager>, max_body_bytes: usize, auth: Option<Credentials>) -> Router {
    let host: Arc<str> = tasks.overlord.host.as_str().into();
    // sys.servers' start_time: when the routes were built.
    crate::catalog::node_started();
    let runner = &tasks.overlord.runner;
    let internal = runner
        .internal_secret()
        .map(|secret| crate::worker_protocol::endpoints::routes(tasks.overlord.hub.clone(), secret, &runner.limits));
    let mut api = public_routes()
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(DefaultBodyLimit::max(max_body_bytes));
    if let Some(users) = auth {
        api = api.layer(from_fn_with_state(Arc::new(users), auth::require_user));
    }
    let app = api
        .route("/status/health", get(|| async { Json(json!(true)) }))
        .with_state(AppState {
            tasks,
            sql: Default::default(),
        });
    let app = match internal {
        Some(internal) => app.merge(internal),
        None => app,
    };
    // Outermost, so errors of every layer get Druid's body.
    app.layer(from_fn_with_state(host, error::render))
}

/// The routes of the public API that need credentials when auth is on.
fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/druid/v2/sql/task", post(submit_sql_task))
        .route("/druid/v2/sql/task/", post(submit_sql_task))
        .route("/druid/v2/sql", post(sql_resource::post_sql))
        .route("/druid/v2/sql/", post(sql_resource::post_sql))
        .route("/druid/v2/sql/{id}", delete(sql_resource::cancel_sql))
        .merge(statement_routes())
        .merge(msq_console::routes())
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
        .merge(coordinator_routes())
        .merge(lookup_routes())
}

/// The coordinator's lookups API ([`lookups`]).
fn lookup_routes() -> Router<AppState> {
    use lookups::*;
    const L: &str = "/druid/coordinator/v1/lookups";
    Router::new()
        .route(&format!("{L}/config"), get(list_tiers).post(post_config))
        .route(&format!("{L}/config/all"), get(get_all))
        .route(&format!("{L}/config/{{tier}}"), get(get_tier).delete(delete_tier))
        .route(
            &format!("{L}/config/{{tier}}/{{name}}"),
            get(get_lookup).post(post_lookup).delete(delete_lookup),
        )
        .route(&format!("{L}/status"), get(status_all))
        .route(&format!("{L}/status/{{tier}}"), get(status_tier))
        .route(&format!("{L}/status/{{tier}}/{{name}}"), get(status_lookup))
}

/// The SQL statements API ([`statements`]).
fn statement_routes() -> Router<AppState> {
    use statements::*;
    const ST: &str = "/druid/v2/sql/statements";
    Router::new()
        .route(ST, post(post_statement))
        .route(&format!("{ST}/"), post(post_statement))
        .route(&format!("{ST}/enabled"), get(enabled))
        .route(&format!("{ST}/{{id}}"), get(get_statement).delete(delete_statement))
        .route(&format!("{ST}/{{id}}/results"), get(statement_results))
}

/// The coordinator's datasource and metadata endpoints ([`coordinator`]).
fn coordinator_routes() -> Router<AppState> {
    use coordinator::*;
    const DS: &str = "/druid/coordinator/v1/datasources";
    const META: &str = "/druid/coordinator/v1/metadata/datasources";
    Router::new()
        .route(DS, get(list_datasources))
        .route(&format!("{DS}/{{ds}}"), get(get_datasource).delete(delete_datasource))
        .route(&format!("{DS}/{{ds}}/segments"), get(datasource_segments))
        .route(
            &format!("{DS}/{{ds}}/segments/{{id}}"),
            get(datasource_segment).delete(mark_segment_unused),
        )
        .route(&format!("{DS}/{{ds}}/markUnused"), post(mark_unused))
        .route(&format!("{DS}/{{ds}}/intervals/{{interval}}"), delete(kill_interval))
        .route(META, get(metadata_datasources))
        .route(&format!("{META}/{{ds}}"), get(metadata_datasource))
        .route(&format!("{META}/{{ds}}/segments"), get(metadata_segments))
        .route(&format!("{META}/{{ds}}/segments/{{id}}"), get(metadata_segment))
}

/// Serves the API on `listener` until the process ends.
pub async fn serve(
    tasks: Arc<TaskManager>,
    listener: tokio::net::TcpListener,
    max_body_bytes: usize,
    auth: Option<Credentials>,
) -> std::io::Result<()> {
    // No Nagle delay: streamed answers (interactive SQL) are written in small pieces, and
    // waiting for the client's delayed ACK would add ~40 ms to every small answer.
    let listener = listener.tap_io(|stream| {
        let _ = stream.set_nodelay(true);
    });
    axum::serve(listener, router(tasks, max_body_bytes, auth)).await
}
