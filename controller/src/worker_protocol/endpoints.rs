//! The controller's endpoints for workers in other processes (Druid's `ControllerChatHandler`):
//! worker messages are routed to the driver of the task they name; remote workers register.
//! Mounted only by runners whose workers talk HTTP, always behind the cluster secret.

use crate::events::{Event, EventKind};
use crate::worker_protocol::registry::WorkerRegistry;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use msq_engine::protocol::headers::ATTEMPT;
use msq_engine::{MsqError, Result};
use msq_rows::rpc::{controller_paths, BodyLimits, ClusterAuth, ClusterSecret};
use msq_worker::internal_http::{internal_error, ClusterGuard};
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
    /// Body limits of the routes when served on their own ([`serve`]).
    pub limits: BodyLimits,
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
            limits: BodyLimits::default(),
        })
    }

    /// A hub accepting workers presenting `auth`, with `limits` on its routes when served on
    /// their own (a runner's secret, registry and body limits).
    pub fn with_limits(auth: ClusterAuth, registry: Arc<WorkerRegistry>, limits: BodyLimits) -> Arc<Self> {
        Arc::new(ControllerHub {
            tasks: Mutex::new(HashMap::new()),
            registry,
            auth,
            limits,
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

/// What the controller's error bodies name as `error`.
const ERROR: &str = "msq controller error";

/// Worker → controller messages (Druid's `ControllerChatHandler`), each on its own route
/// (`.../controller/{taskId}/{message}/{stage}/{worker}`) with its own body limit.
const MESSAGES: [&str; 5] = [
    "keyStatistics",
    "doneReadingInput",
    "resultsComplete",
    "workerError",
    "counters",
];

/// The routes, to merge into a server's router. Every one requires `secret`
/// (`Authorization: Bearer <secret>`, checked before the body is read) and has a body limit
/// from `limits` (key statistics get the large one); there is no way to mount them open.
pub fn routes(hub: Arc<ControllerHub>, secret: ClusterSecret, limits: &BodyLimits) -> Router {
    let guard = ClusterGuard::new(secret, limits, ERROR);
    let mut router = Router::new();
    for kind in MESSAGES {
        let max = match kind {
            "keyStatistics" => limits.key_statistics_bytes,
            // An entry per segment written (up to 25,000), shard specs with boundary keys.
            "resultsComplete" => limits.work_order_bytes,
            _ => limits.message_bytes,
        };
        let path = format!("/druid/msq/v1/controller/{{task}}/{kind}/{{stage}}/{{worker}}");
        let handler = move |state: State<Shared>,
                            path: Path<(String, usize, usize)>,
                            headers: HeaderMap,
                            body: Bytes| { message(state, path, headers, body, kind) };
        router = router.route(&path, guard.guard(post(handler), max));
    }
    router
        .route(
            controller_paths::REGISTER,
            guard.guard(post(register), limits.message_bytes),
        )
        .route(
            controller_paths::WORKERS,
            guard.guard(get(workers), limits.message_bytes),
        )
        .with_state(hub)
}

/// Serves the routes on their own listener at `bind` (for `msq run` with HTTP workers);
/// returns the base URL. The hub must have a cluster secret.
pub async fn serve(hub: Arc<ControllerHub>, bind: &str) -> Result<String> {
    let secret =
        hub.auth.secret().cloned().ok_or_else(|| {
            MsqError::Validation("the controller's endpoints for workers need a cluster secret".into())
        })?;
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let limits = hub.limits;
    let app = routes(hub, secret, &limits);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

fn reject(status: StatusCode, message: String) -> Response {
    internal_error(ERROR, status, message)
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> std::result::Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("bad message body: {e}"))
}

async fn message(
    State(hub): State<Shared>,
    Path((task, stage, worker)): Path<(String, usize, usize)>,
    headers: HeaderMap,
    body: Bytes,
    message: &'static str,
) -> Response {
    let attempt: u32 = headers
        .get(ATTEMPT)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let kind = match message {
        "keyStatistics" => parse(&body).map(|s| EventKind::KeyStats(stage, s)),
        "doneReadingInput" => Ok(EventKind::DoneReading(stage)),
        "resultsComplete" => parse(&body).map(|r| EventKind::Complete(stage, r)),
        "workerError" => parse::<MsqError>(&body).map(|e| EventKind::Error(stage, e)),
        _ => parse(&body).map(|c| EventKind::Counters(stage, Box::new(c))),
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

async fn register(State(hub): State<Shared>, body: Bytes) -> Response {
    let url = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("url").and_then(|u| u.as_str()).map(str::to_string));
    match url {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            hub.registry.announce(&url);
            StatusCode::OK.into_response()
        }
        _ => reject(
            StatusCode::BAD_REQUEST,
            "registration needs {\"url\": \"http://host:port\"}".into(),
        ),
    }
}

async fn workers(State(hub): State<Shared>) -> Response {
    Json(json!({"workers": hub.registry.live()})).into_response()
}
