//! What the controller and workers share to talk over HTTP: the cluster secret, the paths of
//! each side's endpoints, and a JSON POST with retries.

use crate::{MsqError, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// Header carrying the attempt number of the worker sending a message to the controller.
pub const ATTEMPT_HEADER: &str = "x-msq-attempt";

/// The shared secret nodes present to each other (`Authorization: Bearer <secret>`).
/// Without a secret, endpoints between nodes are open: fine on loopback, not across hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterAuth {
    pub secret: Option<String>,
}

impl ClusterAuth {
    /// Auth with `secret` (an empty string counts as none).
    pub fn new(secret: Option<String>) -> Self {
        ClusterAuth {
            secret: secret.filter(|s| !s.is_empty()),
        }
    }

    /// The `Authorization` header value to send, if any.
    pub fn authorization(&self) -> Option<String> {
        self.secret.as_ref().map(|s| format!("Bearer {s}"))
    }

    /// Whether a request's `Authorization` header value is acceptable.
    pub fn accepts(&self, header: Option<&str>) -> bool {
        match &self.secret {
            None => true,
            Some(s) => {
                let expected = format!("Bearer {s}");
                header.is_some_and(|h| constant_time_eq(h.trim().as_bytes(), expected.as_bytes()))
            }
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Paths of a worker's endpoints (Druid's `WorkerChatHandler`, under `/druid/worker/v1`).
pub mod worker_paths {
    /// `POST`: a work order envelope.
    pub const WORK_ORDER: &str = "/druid/worker/v1/workOrder";
    /// `POST /druid/worker/v1/partitionBoundaries/{queryId}/{worker}/{stage}`.
    pub fn boundaries(query_id: &str, worker: usize, stage: usize) -> String {
        format!("/druid/worker/v1/partitionBoundaries/{query_id}/{worker}/{stage}")
    }
    /// `POST /druid/worker/v1/cleanupStage/{queryId}/{worker}/{stage}`.
    pub fn cleanup_stage(query_id: &str, worker: usize, stage: usize) -> String {
        format!("/druid/worker/v1/cleanupStage/{query_id}/{worker}/{stage}")
    }
    /// `POST /druid/worker/v1/cancel/{queryId}/{worker}`: stop and forget the query's work.
    pub fn cancel(query_id: &str, worker: usize) -> String {
        format!("/druid/worker/v1/cancel/{query_id}/{worker}")
    }
    /// `POST /druid/worker/v1/finish/{queryId}/{worker}`: the query ended; drop its outputs.
    pub fn finish(query_id: &str, worker: usize) -> String {
        format!("/druid/worker/v1/finish/{query_id}/{worker}")
    }
    /// `GET`: liveness.
    pub const HEALTH: &str = "/status/health";
}

/// Paths of the controller's endpoints for workers (Druid's `ControllerChatHandler`).
pub mod controller_paths {
    /// `POST .../{taskId}/{message}/{stage}/{worker}` where message is one of
    /// `keyStatistics`, `doneReadingInput`, `resultsComplete`, `workerError`, `counters`.
    pub fn message(task_id: &str, message: &str, stage: usize, worker: usize) -> String {
        format!("/druid/msq/v1/controller/{task_id}/{message}/{stage}/{worker}")
    }
    /// `POST {"url": ...}`: a remote worker announces itself (and keeps doing so as heartbeat).
    pub const REGISTER: &str = "/druid/msq/v1/workers/register";
    /// `GET`: registered remote workers.
    pub const WORKERS: &str = "/druid/msq/v1/workers";
}

/// A JSON-over-HTTP client with the cluster secret and bounded retries of transport errors.
#[derive(Debug, Clone)]
pub struct RpcClient {
    http: reqwest::Client,
    auth: ClusterAuth,
    /// Attempts for transport failures (not for HTTP error statuses).
    pub attempts: u32,
}

impl RpcClient {
    /// A client presenting `auth`.
    pub fn new(auth: ClusterAuth) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        RpcClient {
            http,
            auth,
            attempts: 3,
        }
    }

    /// The underlying client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The `Authorization` header value presented.
    pub fn authorization(&self) -> Option<String> {
        self.auth.authorization()
    }

    /// POSTs `body` (JSON) to `url` with extra `headers`; returns the response body.
    pub async fn post_json<B: Serialize + ?Sized>(
        &self,
        url: &str,
        body: &B,
        headers: &[(&str, String)],
    ) -> Result<bytes::Bytes> {
        let body = serde_json::to_vec(body).map_err(|e| MsqError::Unknown(format!("cannot encode request: {e}")))?;
        self.post_bytes(url, body, headers).await
    }

    /// POSTs raw JSON bytes to `url`.
    pub async fn post_bytes(&self, url: &str, body: Vec<u8>, headers: &[(&str, String)]) -> Result<bytes::Bytes> {
        let mut last = String::new();
        for attempt in 0..self.attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            let mut req = self
                .http
                .post(url)
                .header("content-type", "application/json")
                .body(body.clone());
            if let Some(a) = self.auth.authorization() {
                req = req.header("authorization", a);
            }
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let bytes = resp.bytes().await.unwrap_or_default();
                    if status.is_success() {
                        return Ok(bytes);
                    }
                    return Err(MsqError::Unknown(format!(
                        "POST {url} returned HTTP {}: {}",
                        status.as_u16(),
                        String::from_utf8_lossy(&bytes)
                    )));
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(MsqError::Unknown(format!("POST {url} failed: {last}")))
    }

    /// GETs `url` and decodes JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, url: &str, timeout: Duration) -> Result<T> {
        let mut req = self.http.get(url).timeout(timeout);
        if let Some(a) = self.auth.authorization() {
            req = req.header("authorization", a);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| MsqError::Unknown(format!("GET {url} failed: {e}")))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| MsqError::Unknown(format!("GET {url} failed: {e}")))?;
        if !status.is_success() {
            return Err(MsqError::Unknown(format!(
                "GET {url} returned HTTP {}",
                status.as_u16()
            )));
        }
        serde_json::from_slice(&bytes).map_err(|e| MsqError::Unknown(format!("GET {url}: bad JSON: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_checks() {
        let open = ClusterAuth::new(None);
        assert!(open.accepts(None));
        assert_eq!(open.authorization(), None);
        let auth = ClusterAuth::new(Some("s3cret".into()));
        assert!(auth.accepts(Some("Bearer s3cret")));
        assert!(!auth.accepts(Some("Bearer s3cres")));
        assert!(!auth.accepts(Some("Bearer s3cret2")));
        assert!(!auth.accepts(None));
        assert_eq!(ClusterAuth::new(Some(String::new())), open);
    }
}
