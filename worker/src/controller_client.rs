//! `ControllerClient` over HTTP: a worker in its own process posts its messages to the
//! controller's endpoints, tagged with its attempt number so the controller can drop messages
//! from attempts it has replaced.

use async_trait::async_trait;
use msq_engine::counters::StageCounters;
use msq_engine::keystats::KeyStatistics;
use msq_engine::protocol::headers;
use msq_engine::protocol::{ControllerClient, WorkerResult};
use msq_engine::{MsqError, Result};
use msq_rows::rpc::{controller_paths, RpcClient};
use serde::Serialize;

/// Posts worker messages to the controller at `base_url` for task `task_id`.
#[derive(Debug, Clone)]
pub struct HttpControllerClient {
    pub rpc: RpcClient,
    pub base_url: String,
    pub task_id: String,
    pub attempt: u32,
}

impl HttpControllerClient {
    async fn post<B: Serialize + ?Sized>(&self, message: &str, stage: usize, worker: usize, body: &B) -> Result<()> {
        let url = format!(
            "{}{}",
            self.base_url.trim_end_matches('/'),
            controller_paths::message(&self.task_id, message, stage, worker)
        );
        self.rpc
            .post_json(&url, body, &[(headers::ATTEMPT, self.attempt.to_string())])
            .await?;
        Ok(())
    }
}

#[async_trait]
impl ControllerClient for HttpControllerClient {
    async fn post_key_statistics(&self, stage: usize, worker: usize, stats: KeyStatistics) -> Result<()> {
        self.post("keyStatistics", stage, worker, &stats).await
    }

    async fn post_done_reading(&self, stage: usize, worker: usize) -> Result<()> {
        self.post("doneReadingInput", stage, worker, &serde_json::json!({}))
            .await
    }

    async fn post_results_complete(&self, stage: usize, worker: usize, result: WorkerResult) -> Result<()> {
        self.post("resultsComplete", stage, worker, &result).await
    }

    async fn post_worker_error(&self, stage: usize, worker: usize, error: MsqError) -> Result<()> {
        self.post("workerError", stage, worker, &error).await
    }

    async fn post_counters(&self, stage: usize, worker: usize, counters: StageCounters) -> Result<()> {
        self.post("counters", stage, worker, &counters).await
    }
}
