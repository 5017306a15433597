//! Task runners: how a query gets its workers. `embedded` runs them as tokio tasks in this
//! process; `process` starts `msq worker` child processes on this machine (as Druid's
//! MiddleManager starts peons); `remote` hands work to `msq worker` processes on other hosts
//! that registered with this server.

use crate::events::{ChannelClient, Event, EventKind};
use crate::worker_protocol::{HttpWorkerClient, WorkerRegistry};
use msq_engine::protocol::{OutputLocation, WorkerClient};
use msq_engine::{MsqError, Result};
use msq_rows::rpc::{worker_paths, BodyLimits, ClusterAuth, ClusterSecret, RpcClient};
use msq_rows::shuffle::InProcessShuffle;
use msq_rows::wire::WireCodec;
use msq_worker::{Worker, WorkerEnv};
use object_store::ObjectStore;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Which task runner the server uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RunnerKind {
    #[default]
    Embedded,
    Process,
    Remote,
}

impl RunnerKind {
    /// The name `--runner` takes.
    pub fn name(&self) -> &'static str {
        match self {
            RunnerKind::Embedded => "embedded",
            RunnerKind::Process => "process",
            RunnerKind::Remote => "remote",
        }
    }
}

impl std::str::FromStr for RunnerKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "embedded" => Ok(RunnerKind::Embedded),
            "process" => Ok(RunnerKind::Process),
            "remote" => Ok(RunnerKind::Remote),
            other => Err(format!(
                "unknown runner [{other}]: expected embedded, process or remote"
            )),
        }
    }
}

/// Missed heartbeats after which a worker counts as lost.
const MISSED_HEARTBEATS: u32 = 3;
/// Time between heartbeats to HTTP workers.
const HEARTBEAT_EVERY: Duration = Duration::from_millis(500);
/// How long a worker process has to start (Druid's `TaskStartTimeout` analogue).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How workers are started, shared by all queries of an engine.
#[derive(Clone)]
pub struct Runner {
    pub kind: RunnerKind,
    /// The cluster secret: generated for the process runner when none is given
    /// ([`Runner::ensure_cluster_secret`]), required by the remote runner.
    pub auth: ClusterAuth,
    /// Body limits of the internal endpoints (this server's and its worker processes').
    pub limits: BodyLimits,
    pub codec: Option<WireCodec>,
    /// The `msq` executable started as `msq worker` (process runner).
    pub worker_command: PathBuf,
    /// Deep storage as the worker processes open it (`--deep-storage`).
    pub deep_storage_uri: String,
    /// Scratch root for worker processes.
    pub tmp_dir: PathBuf,
    pub registry: Arc<WorkerRegistry>,
}

/// What launching needs to know about the query.
pub struct LaunchContext {
    pub task_id: String,
    pub query_id: String,
    pub events: mpsc::UnboundedSender<Event>,
    /// Embedded workers' outputs.
    pub shuffle: Arc<InProcessShuffle>,
    pub deep_storage: Arc<dyn ObjectStore>,
    /// Base URL of this controller's endpoints for HTTP workers.
    pub controller_url: Option<String>,
}

/// A started worker: its client and what keeps it alive or watches it.
pub struct LaunchedWorker {
    pub client: Arc<dyn WorkerClient>,
    /// Where it runs (report and logs).
    pub host: String,
    child: Option<tokio::process::Child>,
    monitor: Option<JoinHandle<()>>,
}

impl LaunchedWorker {
    /// Stops watching and, for a child process, kills it.
    pub async fn shutdown(&mut self) {
        if let Some(m) = self.monitor.take() {
            m.abort();
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
    }

    /// The child process id (process runner).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }
}

impl Drop for LaunchedWorker {
    fn drop(&mut self) {
        if let Some(m) = self.monitor.take() {
            m.abort();
        }
        if let Some(c) = self.child.as_mut() {
            let _ = c.start_kill();
        }
    }
}

impl Runner {
    /// The embedded runner.
    pub fn embedded() -> Self {
        Runner {
            kind: RunnerKind::Embedded,
            auth: ClusterAuth::default(),
            limits: BodyLimits::default(),
            codec: None,
            worker_command: PathBuf::from("msq"),
            deep_storage_uri: String::new(),
            tmp_dir: std::env::temp_dir(),
            registry: Arc::new(WorkerRegistry::default()),
        }
    }

    /// Makes sure a runner whose workers talk HTTP has a cluster secret: the process runner
    /// generates a random one for its child processes when none is given; the remote runner
    /// refuses to start without one (its workers must be given the same secret).
    pub fn ensure_cluster_secret(&mut self) -> Result<()> {
        match self.kind {
            RunnerKind::Embedded => Ok(()),
            _ if self.auth.secret().is_some() => Ok(()),
            RunnerKind::Process => {
                self.auth = ClusterAuth::from(ClusterSecret::generate());
                Ok(())
            }
            RunnerKind::Remote => Err(MsqError::Validation(
                "the remote runner needs a cluster secret: give the server and every `msq worker` the same \
                 --cluster-secret (or MSQ_CLUSTER_SECRET)"
                    .into(),
            )),
        }
    }

    /// The secret the internal endpoints must be mounted behind, when this runner needs them
    /// (`None` for the embedded runner: its workers never talk HTTP, so nothing is mounted).
    pub fn internal_secret(&self) -> Option<ClusterSecret> {
        match self.kind {
            RunnerKind::Embedded => None,
            _ => self.auth.secret().cloned(),
        }
    }

    /// Starts worker `worker` (attempt `attempt`) of a query.
    pub async fn launch(&self, ctx: &LaunchContext, worker: usize, attempt: u32) -> Result<LaunchedWorker> {
        match self.kind {
            RunnerKind::Embedded => {
                let client = Arc::new(ChannelClient {
                    tx: ctx.events.clone(),
                    attempt,
                });
                let env = WorkerEnv {
                    shuffle: ctx.shuffle.clone(),
                    deep_storage: ctx.deep_storage.clone(),
                    location: OutputLocation::Local,
                    auth: self.auth.clone(),
                    spill_dir: None,
                };
                Ok(LaunchedWorker {
                    client: Worker::new(worker, env, client),
                    host: "embedded".into(),
                    child: None,
                    monitor: None,
                })
            }
            RunnerKind::Process => {
                let (url, child) = self.spawn_process(ctx, worker, attempt).await?;
                let mut launched = self.http_worker(ctx, worker, attempt, url)?;
                launched.child = Some(child);
                Ok(launched)
            }
            RunnerKind::Remote => {
                let live = self.registry.live();
                if live.is_empty() {
                    return Err(MsqError::WorkerFailed {
                        worker_task_id: msq_engine::ids::worker_task_id(&ctx.task_id, worker, attempt),
                        message: "no remote workers are registered with this server (start `msq worker --controller-url ...`)"
                            .into(),
                    });
                }
                // A relaunch goes to another host when there is one.
                let url = live[(worker + attempt as usize) % live.len()].clone();
                self.http_worker(ctx, worker, attempt, url)
            }
        }
    }

    fn http_worker(&self, ctx: &LaunchContext, worker: usize, attempt: u32, url: String) -> Result<LaunchedWorker> {
        let codec = self
            .codec
            .clone()
            .ok_or_else(|| MsqError::Unknown("HTTP workers need a wire codec".into()))?;
        let controller_url = ctx
            .controller_url
            .clone()
            .ok_or_else(|| MsqError::Unknown("HTTP workers need the controller's URL".into()))?;
        let rpc = RpcClient::new(self.auth.clone());
        let client = Arc::new(HttpWorkerClient {
            rpc: rpc.clone(),
            base_url: url.clone(),
            query_id: ctx.query_id.clone(),
            task_id: ctx.task_id.clone(),
            worker,
            attempt,
            controller_url,
            codec,
        });
        let monitor = tokio::spawn(heartbeat(rpc, url.clone(), ctx.events.clone(), worker, attempt));
        Ok(LaunchedWorker {
            client,
            host: url,
            child: None,
            monitor: Some(monitor),
        })
    }

    async fn spawn_process(
        &self,
        ctx: &LaunchContext,
        worker: usize,
        attempt: u32,
    ) -> Result<(String, tokio::process::Child)> {
        let tmp = self.tmp_dir.join(format!("{}-worker{worker}_{attempt}", ctx.task_id));
        let mut cmd = tokio::process::Command::new(&self.worker_command);
        cmd.arg("worker")
            .arg("--bind")
            .arg("127.0.0.1:0")
            .arg("--deep-storage")
            .arg(&self.deep_storage_uri)
            .arg("--tmp-dir")
            .arg(&tmp)
            .arg("--max-internal-message-bytes")
            .arg(self.limits.message_bytes.to_string())
            .arg("--max-key-statistics-bytes")
            .arg(self.limits.key_statistics_bytes.to_string())
            .arg("--max-work-order-bytes")
            .arg(self.limits.work_order_bytes.to_string())
            .arg("--max-internal-buffered-bytes")
            .arg(self.limits.buffered_bytes.to_string())
            .env_remove("MSQ_CLUSTER_SECRET")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true);
        // The secret goes by environment, not argv (which other local users can read).
        if let Some(s) = self.auth.secret() {
            cmd.env("MSQ_CLUSTER_SECRET", s.expose());
        }
        let task = msq_engine::ids::worker_task_id(&ctx.task_id, worker, attempt);
        let mut child = cmd.spawn().map_err(|e| MsqError::WorkerFailed {
            worker_task_id: task.clone(),
            message: format!("cannot start worker process {}: {e}", self.worker_command.display()),
        })?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| MsqError::Unknown("worker stdout".into()))?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let url = tokio::time::timeout(START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("msq worker listening on ") {
                    return Some(url.trim().to_string());
                }
            }
            None
        })
        .await;
        let url = match url {
            Ok(Some(u)) => u,
            _ => {
                let _ = child.kill().await;
                return Err(MsqError::WorkerFailed {
                    worker_task_id: task,
                    message: format!("worker process did not start within {}s", START_TIMEOUT.as_secs()),
                });
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok((url, child))
    }
}

/// Pings a worker; after `MISSED_HEARTBEATS` misses in a row, reports it lost.
async fn heartbeat(rpc: RpcClient, url: String, events: mpsc::UnboundedSender<Event>, worker: usize, attempt: u32) {
    let health = format!("{}{}", url.trim_end_matches('/'), worker_paths::HEALTH);
    let mut missed = 0;
    loop {
        tokio::time::sleep(HEARTBEAT_EVERY).await;
        match rpc.get_json::<serde_json::Value>(&health, Duration::from_secs(2)).await {
            Ok(_) => missed = 0,
            Err(e) => {
                missed += 1;
                if missed >= MISSED_HEARTBEATS {
                    let _ = events.send(Event {
                        worker,
                        attempt,
                        kind: EventKind::Lost(format!("worker at {url} stopped answering: {e}")),
                    });
                    return;
                }
            }
        }
    }
}
