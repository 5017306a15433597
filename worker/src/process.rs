//! `msq worker`: a worker process serving the worker endpoints until the process ends,
//! registering with a controller when one is named (the remote runner).

use crate::server::{register_loop, router, WorkerService, WorkerServiceConfig};
use msq_rows::rpc::{BodyLimits, ClusterAuth, ClusterSecret};
use msq_rows::wire::WireCodec;
use std::path::PathBuf;

/// What `msq worker` is started with.
pub struct WorkerProcessOptions {
    /// Address to listen on (port 0 picks a free port).
    pub bind: String,
    /// URL other nodes reach this worker at (default: `http://<bound address>`).
    pub advertise_url: Option<String>,
    /// Register with (and heartbeat to) the server at this URL.
    pub controller_url: Option<String>,
    /// Deep storage: a directory, `file:///dir` or `s3://bucket/prefix`.
    pub deep_storage: String,
    /// Scratch directory for spills.
    pub tmp_dir: PathBuf,
    /// Shared secret (required).
    pub cluster_secret: Option<String>,
    pub limits: BodyLimits,
    /// Decodes work orders (built with the SQL function registry).
    pub codec: WireCodec,
}

/// Serves until the listener fails; the error says what went wrong. Prints
/// `msq worker listening on <url>` once listening (the process runner reads it).
pub async fn run(o: WorkerProcessOptions) -> Result<(), String> {
    let Some(secret) = o.cluster_secret.filter(|s| !s.is_empty()) else {
        return Err(
            "msq worker needs the cluster secret its controller uses (--cluster-secret or MSQ_CLUSTER_SECRET): \
             its endpoints accept nothing else"
                .into(),
        );
    };
    let secret = ClusterSecret::new(secret).map_err(|e| format!("cannot use the cluster secret: {e}"))?;
    let store = msq_rows::storage::open_deep_storage(&o.deep_storage)
        .map_err(|e| format!("cannot open deep storage {}: {e}", o.deep_storage))?;
    let listener = tokio::net::TcpListener::bind(&o.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", o.bind))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let url = o.advertise_url.unwrap_or_else(|| format!("http://{addr}"));
    let auth = ClusterAuth::from(secret.clone());
    let config = WorkerServiceConfig {
        advertise_url: url.clone(),
        secret,
        limits: o.limits,
        deep_storage: store,
        tmp_dir: o.tmp_dir,
        codec: o.codec,
    };
    let service = WorkerService::new(config);
    if let Some(c) = o.controller_url {
        tokio::spawn(register_loop(c, url.clone(), auth));
    }
    // The process runner reads this line to learn the port.
    println!("msq worker listening on {url}");
    axum::serve(listener, router(service))
        .await
        .map_err(|e| format!("worker stopped: {e}"))
}
