//! The wiring behind the `msq run` and `msq server` commands: opening an [`Overlord`] from
//! store URIs, its runner from the cluster options, and running statements or serving the
//! API. The binary only parses the command line into these options.

pub mod run;
pub mod server;

use crate::launcher::{Runner, RunnerKind};
use crate::Overlord;
use msq_rows::rpc::{BodyLimits, ClusterAuth};
use std::path::{Path, PathBuf};

/// How queries get their workers, and where the metadata and segments live.
#[derive(Clone, Default)]
pub struct ClusterOptions {
    /// Task runner: embedded, process or remote.
    pub runner: RunnerKind,
    /// Shared secret between the server and its workers.
    pub cluster_secret: Option<String>,
    /// The `msq` executable the process runner starts (default: this one).
    pub worker_command: Option<PathBuf>,
    /// Metadata store: a SQLite file path or `postgresql://...` (default:
    /// `<data-dir>/metadata.db`).
    pub metadata: Option<String>,
    /// Deep storage: a directory, `file:///dir` or `s3://bucket/prefix` (default:
    /// `<data-dir>/segments`).
    pub deep_storage: Option<String>,
    /// Body limits of the internal endpoints.
    pub limits: BodyLimits,
    /// Where exports may write.
    pub export: crate::export::ExportConfig,
}

impl ClusterOptions {
    /// The runner these options describe, with scratch under `data_dir/tmp/workers`.
    pub fn runner(&self, data_dir: &Path) -> Result<Runner, String> {
        let mut r = Runner::embedded();
        r.kind = self.runner.clone();
        r.auth = ClusterAuth::new(self.cluster_secret.clone()).map_err(|e| e.to_string())?;
        r.limits = self.limits;
        r.worker_command = self
            .worker_command
            .clone()
            .or_else(|| std::env::current_exe().ok())
            .unwrap_or_else(|| PathBuf::from("msq"));
        r.tmp_dir = data_dir.join("tmp").join("workers");
        if let Some(d) = &self.deep_storage {
            r.deep_storage_uri = d.clone();
        }
        Ok(r)
    }

    /// Opens the overlord: embedded defaults under `data_dir` unless a metadata store or deep
    /// storage is named.
    pub fn open_overlord(&self, data_dir: &Path) -> Result<Overlord, String> {
        if self.metadata.is_none() && self.deep_storage.is_none() {
            return Overlord::open_local(data_dir)
                .map_err(|e| format!("cannot open data directory {}: {e}", data_dir.display()));
        }
        let metadata_uri = self
            .metadata
            .clone()
            .unwrap_or_else(|| data_dir.join("metadata.db").display().to_string());
        let deep_uri = self
            .deep_storage
            .clone()
            .unwrap_or_else(|| data_dir.join("segments").display().to_string());
        let metadata = msq_metadata::open_store(&metadata_uri)
            .map_err(|e| format!("cannot open metadata store {metadata_uri}: {e}"))?;
        let deep = msq_rows::storage::open_deep_storage(&deep_uri)
            .map_err(|e| format!("cannot open deep storage {deep_uri}: {e}"))?;
        std::fs::create_dir_all(data_dir).map_err(|e| e.to_string())?;
        Overlord::open(data_dir, metadata, deep).map_err(|e| e.to_string())
    }

    /// Opens the overlord under `data_dir` and gives it its runner; HTTP workers post to
    /// `controller_url` (none: `msq run` serves the controller endpoints on its own port).
    pub async fn start(&self, data_dir: &Path, controller_url: Option<String>) -> Result<Overlord, String> {
        let mut overlord = self.open_overlord(data_dir)?;
        overlord.export = self.export.clone();
        let runner = self
            .runner(data_dir)
            .map_err(|e| format!("cannot use the cluster secret: {e}"))?;
        overlord
            .use_runner(runner, controller_url)
            .await
            .map_err(|e| format!("cannot start the {} runner: {e}", self.runner.name()))?;
        Ok(overlord)
    }
}
