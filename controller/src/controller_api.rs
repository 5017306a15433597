//! The controller's endpoints for workers in other processes (Druid's `ControllerChatHandler`):
//! worker messages are routed to the driver of the task they name; remote workers register.

use crate::events::{Event, EventKind};
use crate::launcher::WorkerRegistry;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use msq_engine::rpc::{controller_paths, ClusterAuth, ATTEMPT_HEADER};
use msq_engine::{MsqError, Result};
use serde::de::DeserializeOwned;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Routes worker messages to running queries' drivers.
#[derive(Default)]
pub struct ControllerHub {
    tasks: Mutex<HashMap<String, mpsc::UnboundedSender<Event>>>,
    pub registry: Arc<WorkerRegistry>,
    pub auth: ClusterAuth,
}

/// Removes a task's route when the query ends.
pub struct Registration {
    hub: Arc<ControllerHub>,
    task_id: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.lock().remove(&self.task_id);
    }
}

impl ControllerHub {
    /// A hub accepting workers presenting `auth`.
    pub fn new(auth: ClusterAuth, registry: Arc<WorkerRegistry>) -> Arc<Self> {
        Arc::new(ControllerHub {
            tasks: Mutex::new(HashMap::new()),
            registry,
            auth,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::UnboundedSender<Event>>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Routes messages for `task_id` to `tx` until the returned registration drops.
    pub fn register(self: &Arc<Self>, task_id: &str, tx: mpsc::UnboundedSender<Event>) -> Registration {
        self.lock().insert(task_id.to_string(), tx);
        Registration {
            hub: self.clone(),
            task_id: task_id.to_string(),
        }
    }
}

type Shared = Arc<ControllerHub>;

/// The routes, to merge into a server's router.
pub fn routes(hub: Arc<ControllerHub>) -> Router {
    Router::new()
        .route(
            "/druid/msq/v1/controller/{task}/{message}/{stage}/{worker}",
            post(message),
        )
        .route(controller_paths::REGISTER, post(register))
        .route(controller_paths::WORKERS, get(workers))
        .layer(axum::extract::DefaultBodyLimit::max(256 << 20))
        .with_state(hub)
}

/// Serves the routes on their own listener at `bind` (for `msq run` with HTTP workers);
/// returns the base URL.
pub async fn serve(hub: Arc<ControllerHub>, bind: &str) -> Result<String> {
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let app = routes(hub);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

fn reject(status: StatusCode, message: String) -> Response {
    (
        status,
        Json(json!({"error": "msq controller error", "errorMessage": message, "errorClass": "org.apache.druid.rpc.ServiceClosedException", "host": null})),
    )
        .into_response()
}

fn authorized(hub: &ControllerHub, headers: &HeaderMap) -> bool {
    hub.auth
        .accepts(headers.get("authorization").and_then(|v| v.to_str().ok()))
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> std::result::Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("bad message body: {e}"))
}

async fn message(
    State(hub): State<Shared>,
    Path((task, message, stage, worker)): Path<(String, String, usize, usize)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&hub, &headers) {
        return reject(StatusCode::UNAUTHORIZED, "missing or wrong cluster secret".into());
    }
    let attempt: u32 = headers
        .get(ATTEMPT_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let kind = match message.as_str() {
        "keyStatistics" => parse(&body).map(|s| EventKind::KeyStats(stage, s)),
        "doneReadingInput" => Ok(EventKind::DoneReading(stage)),
        "resultsComplete" => parse(&body).map(|r| EventKind::Complete(stage, r)),
        "workerError" => parse::<MsqError>(&body).map(|e| EventKind::Error(stage, e)),
        "counters" => parse(&body).map(|c| EventKind::Counters(stage, Box::new(c))),
        other => return reject(StatusCode::NOT_FOUND, format!("unknown controller message [{other}]")),
    };
    let kind = match kind {
        Ok(k) => k,
        Err(message) => return reject(StatusCode::BAD_REQUEST, message),
    };
    let tx = hub.lock().get(&task).cloned();
    match tx {
        Some(tx) if tx.send(Event { worker, attempt, kind }).is_ok() => StatusCode::ACCEPTED.into_response(),
        _ => reject(
            StatusCode::NOT_FOUND,
            format!("no running controller for task [{task}]"),
        ),
    }
}

async fn register(State(hub): State<Shared>, headers: HeaderMap, Json(body): Json<serde_json::Value>) -> Response {
    if !authorized(&hub, &headers) {
        return reject(StatusCode::UNAUTHORIZED, "missing or wrong cluster secret".into());
    }
    match body.get("url").and_then(|u| u.as_str()) {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            hub.registry.announce(url);
            StatusCode::OK.into_response()
        }
        _ => reject(
            StatusCode::BAD_REQUEST,
            "registration needs {\"url\": \"http://host:port\"}".into(),
        ),
    }
}

async fn workers(State(hub): State<Shared>, headers: HeaderMap) -> Response {
    if !authorized(&hub, &headers) {
        return reject(StatusCode::UNAUTHORIZED, "missing or wrong cluster secret".into());
    }
    Json(json!({"workers": hub.registry.live()})).into_response()
}
