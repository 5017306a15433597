//! `WorkerClient` over HTTP: the controller's calls to a worker process.

use async_trait::async_trait;
use msq_engine::ids::worker_task_id;
use msq_engine::keystats::RangePartitions;
use msq_engine::protocol::headers::{CONTROLLER_URL, TASK_ID};
use msq_engine::protocol::{WorkOrder, WorkerClient};
use msq_engine::{MsqError, Result};
use msq_rows::rpc::{worker_paths, RpcClient};
use msq_rows::wire::WireCodec;

/// Calls worker `worker` (attempt `attempt`) of a query at `base_url`.
pub struct HttpWorkerClient {
    pub rpc: RpcClient,
    pub base_url: String,
    pub query_id: String,
    pub task_id: String,
    pub worker: usize,
    pub attempt: u32,
    /// Where the worker posts its messages.
    pub controller_url: String,
    pub codec: WireCodec,
}

impl HttpWorkerClient {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url.trim_end_matches('/'), path)
    }

    fn rpc_failed(&self, e: MsqError) -> MsqError {
        MsqError::WorkerRpcFailed {
            worker_task_id: worker_task_id(&self.task_id, self.worker, self.attempt),
            message: e.to_string(),
        }
    }
}

#[async_trait]
impl WorkerClient for HttpWorkerClient {
    async fn post_work_order(&self, order: WorkOrder) -> Result<()> {
        let body = self.codec.encode_work_order(&order)?;
        self.rpc
            .post_bytes(
                &self.url(worker_paths::WORK_ORDER),
                body,
                &[
                    (CONTROLLER_URL, self.controller_url.clone()),
                    (TASK_ID, self.task_id.clone()),
                ],
            )
            .await
            .map_err(|e| self.rpc_failed(e))?;
        Ok(())
    }

    async fn post_result_partition_boundaries(&self, stage: usize, boundaries: RangePartitions) -> Result<()> {
        let url = self.url(&worker_paths::boundaries(&self.query_id, self.worker, stage));
        self.rpc
            .post_json(&url, &boundaries, &[])
            .await
            .map_err(|e| self.rpc_failed(e))?;
        Ok(())
    }

    async fn post_cleanup_stage(&self, stage: usize) -> Result<()> {
        let url = self.url(&worker_paths::cleanup_stage(&self.query_id, self.worker, stage));
        self.rpc.post_json(&url, &serde_json::json!({}), &[]).await?;
        Ok(())
    }

    async fn post_cancel(&self) -> Result<()> {
        let url = self.url(&worker_paths::cancel(&self.query_id, self.worker));
        let mut rpc = self.rpc.clone();
        rpc.attempts = 1;
        rpc.post_json(&url, &serde_json::json!({}), &[]).await?;
        Ok(())
    }

    async fn post_finish(&self) -> Result<()> {
        let url = self.url(&worker_paths::finish(&self.query_id, self.worker));
        let mut rpc = self.rpc.clone();
        rpc.attempts = 1;
        rpc.post_json(&url, &serde_json::json!({}), &[]).await?;
        Ok(())
    }
}
