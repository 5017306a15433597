//! `msq worker`: a worker process serving Druid's worker chat endpoints over HTTP. It takes
//! work orders from controllers, posts its messages back to them, and serves its kept stage
//! outputs to other workers as Arrow IPC streams.

use crate::controller_client::HttpControllerClient;
use crate::internal_http::{internal_error, ClusterGuard};
use crate::worker::{Worker, WorkerEnv};
use arrow::ipc::writer::StreamWriter;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use msq_engine::keystats::RangePartitions;
use msq_engine::protocol::headers::{CONTROLLER_URL, TASK_ID};
use msq_engine::protocol::{OutputLocation, WorkerClient};
use msq_engine::MsqError;
use msq_rows::rpc::{controller_paths, worker_paths, BodyLimits, ClusterAuth, ClusterSecret, RpcClient};
use msq_rows::scratch::TaskScratch;
use msq_rows::shuffle::store::stream_runs;
use msq_rows::shuffle::InProcessShuffle;
use msq_rows::wire::WireCodec;
use object_store::ObjectStore;
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a worker process is configured with.
#[derive(Clone)]
pub struct WorkerServiceConfig {
    /// The base URL other nodes reach this worker at.
    pub advertise_url: String,
    /// Every endpoint but `/status/health` requires it; the worker presents it to others.
    pub secret: ClusterSecret,
    /// Largest bodies of each endpoint, and of all at once.
    pub limits: BodyLimits,
    pub deep_storage: Arc<dyn ObjectStore>,
    /// Scratch space for spills and staged downloads.
    pub tmp_dir: PathBuf,
    pub codec: WireCodec,
}

impl WorkerServiceConfig {
    /// What this worker presents to the controller and other workers.
    pub fn auth(&self) -> ClusterAuth {
        ClusterAuth::from(self.secret.clone())
    }
}

/// The worker process: its running query workers and their kept outputs.
pub struct WorkerService {
    config: WorkerServiceConfig,
    rpc: RpcClient,
    /// (query id, worker number) → (attempt, worker).
    workers: Mutex<HashMap<WorkerKey, (u32, Arc<Worker>)>>,
    /// Query id → outputs kept by this process.
    shuffles: Mutex<HashMap<String, Arc<InProcessShuffle>>>,
    /// Query id → its scratch directory under `tmp_dir` (removed when the entry goes).
    scratches: Mutex<HashMap<String, Arc<TaskScratch>>>,
}

type Shared = Arc<WorkerService>;
type WorkerKey = (String, usize);

impl WorkerService {
    /// A service with no work yet.
    pub fn new(config: WorkerServiceConfig) -> Arc<Self> {
        // Scratch directories of queries a killed worker process left behind.
        if let Err(e) = msq_rows::scratch::claim_root(&config.tmp_dir) {
            tracing::warn!("cannot use scratch directory {}: {e}", config.tmp_dir.display());
        }
        let swept = msq_rows::scratch::sweep(&config.tmp_dir, false);
        if !swept.removed.is_empty() {
            tracing::info!(
                "removed {} leftover scratch directories ({} bytes)",
                swept.removed.len(),
                swept.bytes
            );
        }
        let rpc = RpcClient::new(config.auth());
        Arc::new(WorkerService {
            config,
            rpc,
            workers: Mutex::new(HashMap::new()),
            shuffles: Mutex::new(HashMap::new()),
            scratches: Mutex::new(HashMap::new()),
        })
    }

    fn worker(&self, query: &str, worker: usize) -> Option<Arc<Worker>> {
        lock(&self.workers)
            .get(&(query.to_string(), worker))
            .map(|(_, w)| w.clone())
    }

    fn shuffle(&self, query: &str) -> Arc<InProcessShuffle> {
        lock(&self.shuffles).entry(query.to_string()).or_default().clone()
    }

    /// Drops a query worker; the query's kept outputs go when its last worker here does.
    fn remove(&self, query: &str, worker: usize) -> Option<Arc<Worker>> {
        let mut workers = lock(&self.workers);
        let removed = workers.remove(&(query.to_string(), worker)).map(|(_, w)| w);
        if !workers.keys().any(|(q, _)| q == query) {
            if let Some(s) = lock(&self.shuffles).remove(query) {
                s.clear();
            }
            lock(&self.scratches).remove(query);
        }
        removed
    }

    /// The scratch directory of a work order's query: `tmp_dir/<queryId>`, created on its
    /// first work order with the task's temporary storage limit. An id that is not a single
    /// valid path component is refused.
    fn scratch(&self, order: &msq_engine::protocol::WorkOrder) -> msq_engine::Result<Arc<TaskScratch>> {
        let mut scratches = lock(&self.scratches);
        if let Some(s) = scratches.get(&order.query_id) {
            return Ok(s.clone());
        }
        let s = TaskScratch::acquire(
            &self.config.tmp_dir,
            &order.query_id,
            order.settings.max_temp_storage_bytes,
        )?;
        scratches.insert(order.query_id.clone(), s.clone());
        Ok(s)
    }

    /// Number of query workers running here.
    pub fn active(&self) -> usize {
        lock(&self.workers).len()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The worker's HTTP routes: every one behind the cluster secret (checked before the body
/// is read) and a body limit, but `/status/health`, open as on every Druid node.
pub fn router(service: Arc<WorkerService>) -> Router {
    let limits = service.config.limits;
    let guard = ClusterGuard::new(service.config.secret.clone(), &limits, ERROR);
    Router::new()
        .route(
            worker_paths::WORK_ORDER,
            guard.guard(post(work_order), limits.work_order_bytes),
        )
        .route(
            "/druid/worker/v1/partitionBoundaries/{query}/{worker}/{stage}",
            guard.guard(post(boundaries), limits.key_statistics_bytes),
        )
        .route(
            "/druid/worker/v1/cleanupStage/{query}/{worker}/{stage}",
            guard.guard(post(cleanup_stage), limits.message_bytes),
        )
        .route(
            "/druid/worker/v1/cancel/{query}/{worker}",
            guard.guard(post(cancel), limits.message_bytes),
        )
        .route(
            "/druid/worker/v1/finish/{query}/{worker}",
            guard.guard(post(finish), limits.message_bytes),
        )
        .route(
            "/druid/worker/v1/channels/{query}/{worker}/{stage}/{partition}",
            guard.guard(get(channel), limits.message_bytes),
        )
        .route(worker_paths::HEALTH, get(health))
        .with_state(service)
}

/// What the worker's error bodies name as `error`.
const ERROR: &str = "msq worker error";

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    internal_error(ERROR, status, message)
}

fn msq_error(e: MsqError) -> Response {
    error(StatusCode::BAD_REQUEST, e.to_string())
}

async fn work_order(State(svc): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (Some(controller_url), Some(task_id)) = (header(CONTROLLER_URL), header(TASK_ID)) else {
        return error(StatusCode::BAD_REQUEST, "work order without controller URL or task id");
    };
    let order = match svc.config.codec.decode_work_order(&body) {
        Ok(o) => o,
        Err(e) => return msq_error(e),
    };
    let scratch = match svc.scratch(&order) {
        Ok(s) => s,
        Err(e) => return msq_error(e),
    };
    let key = (order.query_id.clone(), order.worker_number);
    let worker = {
        let existing = lock(&svc.workers).get(&key).cloned();
        match existing {
            Some((attempt, w)) if attempt == order.attempt => w,
            _ => {
                let env = WorkerEnv {
                    shuffle: svc.shuffle(&order.query_id),
                    deep_storage: svc.config.deep_storage.clone(),
                    location: OutputLocation::Http {
                        url: svc.config.advertise_url.clone(),
                        worker: order.worker_number,
                    },
                    auth: svc.config.auth(),
                    spill_dir: Some(scratch.dir().to_path_buf()),
                };
                let client = Arc::new(HttpControllerClient {
                    rpc: svc.rpc.clone(),
                    base_url: controller_url,
                    task_id,
                    attempt: order.attempt,
                });
                let w = Worker::new(order.worker_number, env, client);
                lock(&svc.workers).insert(key, (order.attempt, w.clone()));
                w
            }
        }
    };
    match worker.post_work_order(order).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => msq_error(e),
    }
}

async fn boundaries(
    State(svc): State<Shared>,
    Path((query, worker, stage)): Path<(String, usize, usize)>,
    Json(b): Json<RangePartitions>,
) -> Response {
    let Some(w) = svc.worker(&query, worker) else {
        return error(StatusCode::NOT_FOUND, format!("no worker {worker} of query {query}"));
    };
    match w.post_result_partition_boundaries(stage, b).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => msq_error(e),
    }
}

async fn cleanup_stage(
    State(svc): State<Shared>,
    Path((query, worker, stage)): Path<(String, usize, usize)>,
) -> Response {
    if let Some(w) = svc.worker(&query, worker) {
        let _ = w.post_cleanup_stage(stage).await;
    }
    StatusCode::ACCEPTED.into_response()
}

async fn cancel(State(svc): State<Shared>, Path((query, worker)): Path<(String, usize)>) -> Response {
    if let Some(w) = svc.remove(&query, worker) {
        let _ = w.post_cancel().await;
    }
    StatusCode::OK.into_response()
}

async fn finish(State(svc): State<Shared>, Path((query, worker)): Path<(String, usize)>) -> Response {
    svc.remove(&query, worker);
    StatusCode::OK.into_response()
}

/// Liveness, open like Druid's `/status/health` (no details without the secret).
async fn health() -> Response {
    Json(json!(true)).into_response()
}

/// Serves one output partition of a kept stage output as an Arrow IPC stream (runs merged
/// when the stage sorts).
async fn channel(
    State(svc): State<Shared>,
    Path((query, worker, stage, partition)): Path<(String, usize, usize, usize)>,
) -> Response {
    let Some(output) = svc.worker(&query, worker).and_then(|w| w.output(stage)) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no output of stage {stage} from worker {worker} of query {query}"),
        );
    };
    let runs = output.partitions.get(partition).cloned().unwrap_or_default();
    let schema = output.schema.clone();
    let batches = stream_runs(schema.clone(), runs, output.sort.clone(), 8192);
    let body = ipc_stream(schema, batches);
    Response::builder()
        .header("content-type", "application/vnd.apache.arrow.stream")
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Encodes a batch stream as an Arrow IPC stream body.
fn ipc_stream(
    schema: arrow::datatypes::SchemaRef,
    batches: datafusion::physical_plan::SendableRecordBatchStream,
) -> Body {
    let state = (Some(batches), StreamWriter::try_new(Vec::new(), &schema).ok());
    let stream = futures::stream::unfold(state, |(batches, writer)| async move {
        let mut writer = writer?;
        let mut batches = batches?;
        match batches.next().await {
            Some(Ok(b)) => {
                if let Err(e) = writer.write(&b) {
                    return Some((Err(std::io::Error::other(e.to_string())), (None, None)));
                }
                let bytes = std::mem::take(writer.get_mut());
                Some((Ok(Bytes::from(bytes)), (Some(batches), Some(writer))))
            }
            Some(Err(e)) => Some((Err(std::io::Error::other(e.to_string())), (None, None))),
            None => {
                let _ = writer.finish();
                let bytes = std::mem::take(writer.get_mut());
                Some((Ok(Bytes::from(bytes)), (None, None)))
            }
        }
    });
    Body::from_stream(stream)
}

/// Announces this worker to a controller every few seconds (registration and heartbeat),
/// until the process ends.
pub async fn register_loop(controller_url: String, advertise_url: String, auth: ClusterAuth) {
    let rpc = RpcClient::new(auth);
    let url = format!("{}{}", controller_url.trim_end_matches('/'), controller_paths::REGISTER);
    let mut logged = false;
    loop {
        match rpc.post_json(&url, &json!({"url": advertise_url}), &[]).await {
            Ok(_) => logged = false,
            Err(e) if !logged => {
                tracing::warn!("cannot register with controller {controller_url}: {e}");
                logged = true;
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
