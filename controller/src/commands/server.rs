//! `msq server`: Druid's API over an overlord, with its task queue, until the process ends.

use super::ClusterOptions;
use crate::druid_api::Credentials;
use crate::tasks::TaskManager;
use std::path::PathBuf;
use std::time::Duration;

/// What `msq server` serves, and how.
pub struct ServerOptions {
    /// Address to listen on.
    pub bind: String,
    /// Metadata, segments and scratch space (unless the cluster options name other stores).
    pub data_dir: PathBuf,
    /// Worker slots shared by running tasks.
    pub worker_slots: usize,
    /// Largest request body in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// File of `user:password` lines: basic auth on the public API.
    pub auth_file: Option<PathBuf>,
    /// Completed tasks older than this many hours are deleted.
    pub task_retention_hours: Option<u64>,
    /// How long SELECT results stay in deep storage (Druid's default: 6 hours).
    pub query_results_retention: Duration,
    /// Temporary (spill) storage per task in bytes (0: no limit).
    pub max_temp_storage: u64,
    pub cluster: ClusterOptions,
    /// URL workers reach this server at (default: `http://<bound address>`).
    pub advertise_url: Option<String>,
}

/// Serves until the listener fails; the error says what went wrong.
pub async fn serve(o: ServerOptions) -> Result<(), String> {
    let auth = match &o.auth_file {
        None => None,
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|t| Credentials::parse(&t).map_err(|e| e.to_string()))
                .map_err(|e| format!("cannot use auth file {}: {e}", path.display()))?,
        ),
    };
    let listener = tokio::net::TcpListener::bind(&o.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", o.bind))?;
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or(o.bind.clone());
    let controller_url = o.advertise_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let mut overlord = o.cluster.start(&o.data_dir, Some(controller_url)).await?;
    overlord.host = addr.clone();
    overlord.max_temp_storage_bytes = o.max_temp_storage;
    let tasks = TaskManager::new(overlord, o.worker_slots).map_err(|e| e.to_string())?;
    if let Some(h) = o.task_retention_hours {
        tasks.spawn_retention(Duration::from_secs(h * 3600));
    }
    crate::results::retention::spawn(tasks.overlord.deep_storage.clone(), o.query_results_retention);
    eprintln!(
        "msq server listening on http://{addr} (data in {})",
        o.data_dir.display()
    );
    crate::druid_api::serve(tasks, listener, o.max_body_bytes, auth)
        .await
        .map_err(|e| format!("server stopped: {e}"))
}
