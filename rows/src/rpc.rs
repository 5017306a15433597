//! What the controller and workers share to talk over HTTP: the cluster secret, the paths of
//! each side's endpoints, and a JSON POST with retries.

use msq_engine::{MsqError, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// A cluster secret that is known to be set and usable in an HTTP header: what every node
/// serving internal endpoints checks. Serving them needs one of these, so "no secret" cannot
/// mean "open". `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterSecret(Arc<str>);

impl ClusterSecret {
    /// `secret`, if it is non-empty visible ASCII (no spaces or control characters).
    pub fn new(secret: impl Into<String>) -> Result<Self> {
        let secret = secret.into();
        if secret.is_empty() {
            return Err(MsqError::Validation("the cluster secret is empty".into()));
        }
        if !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(MsqError::Validation(
                "the cluster secret must be visible ASCII characters without spaces".into(),
            ));
        }
        Ok(ClusterSecret(secret.into()))
    }

    /// A fresh random secret: 32 random bytes as 64 hex digits (two UUID v4s, 244 random bits).
    pub fn generate() -> Self {
        let a = uuid::Uuid::new_v4().simple().to_string();
        let b = uuid::Uuid::new_v4().simple().to_string();
        ClusterSecret(format!("{a}{b}").into())
    }

    /// The secret itself (to hand to a child process).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether an `Authorization` header value is `Bearer <secret>` (the scheme
    /// case-insensitive, as RFC 7235 says; compared in constant time).
    pub fn accepts(&self, header: Option<&str>) -> bool {
        let Some((scheme, token)) = header.and_then(split_credentials) else {
            return false;
        };
        scheme.eq_ignore_ascii_case("bearer") && constant_time_eq(token.as_bytes(), self.0.as_bytes())
    }
}

impl std::fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterSecret(<redacted>)")
    }
}

/// Splits an `Authorization` header value into its scheme and credentials (any spaces or tabs
/// between them). `None` without credentials.
pub fn split_credentials(header: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = header.trim().split_once([' ', '\t'])?;
    let credentials = rest.trim_matches([' ', '\t']);
    (!credentials.is_empty()).then_some((scheme, credentials))
}

/// What a node presents to others (`Authorization: Bearer <secret>`) and checks on its own
/// internal endpoints. Without a secret (the embedded runner, whose workers never talk HTTP)
/// nothing is sent and nothing is accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterAuth {
    secret: Option<ClusterSecret>,
}

impl ClusterAuth {
    /// Auth with `secret` (an empty string counts as none); errors for a secret that cannot
    /// travel in a header.
    pub fn new(secret: Option<String>) -> Result<Self> {
        let secret = secret.filter(|s| !s.is_empty()).map(ClusterSecret::new).transpose()?;
        Ok(ClusterAuth { secret })
    }

    /// The secret, if one is set.
    pub fn secret(&self) -> Option<&ClusterSecret> {
        self.secret.as_ref()
    }

    /// The `Authorization` header value to send, if any.
    pub fn authorization(&self) -> Option<String> {
        self.secret.as_ref().map(|s| format!("Bearer {}", s.expose()))
    }

    /// Whether a request's `Authorization` header value is acceptable: never without a
    /// secret.
    pub fn accepts(&self, header: Option<&str>) -> bool {
        self.secret.as_ref().is_some_and(|s| s.accepts(header))
    }
}

impl From<ClusterSecret> for ClusterAuth {
    fn from(secret: ClusterSecret) -> Self {
        ClusterAuth { secret: Some(secret) }
    }
}

/// Whether two secrets are equal, in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Largest request bodies the internal endpoints accept (413 beyond), and the body bytes all
/// internal requests of a node may hold at once (requests beyond wait their turn).
///
/// Measured on an INSERT of 314k rows (3 workers, PARTITIONED BY HOUR, CLUSTERED BY three
/// string columns, `rowsPerSegment` 1000, 341 segments): key statistics 19.6 MB per worker,
/// partition boundaries 276 KB, `resultsComplete` 88 KB, work orders 18 KB, counters 4.5 KB,
/// everything else a few bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// Small messages: `doneReadingInput`, `counters`, `workerError`, worker registration and
    /// listing, and the worker's `cleanupStage`, `cancel`, `finish` and `channels`.
    pub message_bytes: usize,
    /// Key statistics (`keyStatistics`) and the partition boundaries made from them
    /// (`partitionBoundaries`): bounded by the worker's sketch budget (a tenth of
    /// `workerMemoryBytes`, sent as hex, so at most about a fifth of it in JSON: 51 MiB at
    /// the default 256 MiB).
    pub key_statistics_bytes: usize,
    /// Work orders (`workOrder`: plan fragment, inputs, segment ids) and what a worker
    /// reports when done (`resultsComplete`: an entry per segment written, ~800 bytes each,
    /// at most 25,000 partitions per stage).
    pub work_order_bytes: usize,
    /// Body bytes all internal requests of one node may buffer at once.
    pub buffered_bytes: usize,
}

impl BodyLimits {
    /// Default [`BodyLimits::message_bytes`].
    pub const DEFAULT_MESSAGE_BYTES: usize = 8 << 20;
    /// Default [`BodyLimits::key_statistics_bytes`].
    pub const DEFAULT_KEY_STATISTICS_BYTES: usize = 64 << 20;
    /// Default [`BodyLimits::work_order_bytes`].
    pub const DEFAULT_WORK_ORDER_BYTES: usize = 64 << 20;
    /// Default [`BodyLimits::buffered_bytes`].
    pub const DEFAULT_BUFFERED_BYTES: usize = 256 << 20;
}

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits {
            message_bytes: Self::DEFAULT_MESSAGE_BYTES,
            key_statistics_bytes: Self::DEFAULT_KEY_STATISTICS_BYTES,
            work_order_bytes: Self::DEFAULT_WORK_ORDER_BYTES,
            buffered_bytes: Self::DEFAULT_BUFFERED_BYTES,
        }
    }
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
        let open = ClusterAuth::new(None).unwrap();
        assert!(!open.accepts(None), "no secret accepts nothing");
        assert!(!open.accepts(Some("Bearer ")));
        assert!(!open.accepts(Some("Bearer anything")));
        assert_eq!(open.authorization(), None);
        let auth = ClusterAuth::new(Some("s3cret".into())).unwrap();
        assert!(auth.accepts(Some("Bearer s3cret")));
        assert!(auth.accepts(Some("bearer s3cret")));
        assert!(auth.accepts(Some("BEARER \t  s3cret ")));
        assert!(!auth.accepts(Some("Bearer s3cres")));
        assert!(!auth.accepts(Some("Bearer s3cret2")));
        assert!(!auth.accepts(Some("Bearers3cret")));
        assert!(!auth.accepts(Some("Basic s3cret")));
        assert!(!auth.accepts(Some("s3cret")));
        assert!(!auth.accepts(None));
        assert_eq!(auth.authorization().as_deref(), Some("Bearer s3cret"));
        assert_eq!(ClusterAuth::new(Some(String::new())).unwrap(), open);
        assert!(ClusterAuth::new(Some("with space".into())).is_err());
        assert!(ClusterAuth::new(Some("new\nline".into())).is_err());
        assert!(!format!("{auth:?}").contains("s3cret"), "Debug redacts the secret");
    }

    #[test]
    fn generated_secrets_are_long_and_distinct() {
        let a = ClusterSecret::generate();
        let b = ClusterSecret::generate();
        assert_eq!(a.expose().len(), 64);
        assert!(a.expose().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(a.accepts(Some(&format!("Bearer {}", a.expose()))));
    }

    #[test]
    fn credentials_split_on_any_whitespace() {
        assert_eq!(split_credentials("Basic abc"), Some(("Basic", "abc")));
        assert_eq!(split_credentials("basic \t  abc "), Some(("basic", "abc")));
        assert_eq!(split_credentials("Basic"), None);
        assert_eq!(split_credentials("Basic   "), None);
    }

    /// The key statistics a worker with the default `workerMemoryBytes` (256 MiB; sketches get
    /// a tenth) can send fit the default limit, whatever the shape of the keys.
    #[test]
    fn largest_default_key_statistics_fit_the_limit() {
        use msq_engine::keystats::KeyStatistics;
        let budget = (256usize << 20) / 10;
        // (buckets, key bytes, keys per bucket): many short keys, few buckets of long keys.
        for (buckets, key_len, keys) in [(1, 16, 40_000), (64, 64, 6_000), (8, 4_000, 4_000), (2_000, 24, 300)] {
            let mut stats = KeyStatistics::new(4096).with_max_retained_bytes(budget);
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            let mut key = vec![0u8; key_len];
            for b in 0..buckets {
                for _ in 0..keys {
                    for chunk in key.chunks_mut(8) {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
                    }
                    stats.add(b as i64, &key);
                }
            }
            let json = serde_json::to_vec(&stats).unwrap().len();
            eprintln!(
                "{buckets} buckets of {keys} keys of {key_len} bytes: {} retained, {json} JSON bytes",
                stats.retained_keys()
            );
            assert!(json <= BodyLimits::DEFAULT_KEY_STATISTICS_BYTES, "{json} bytes");
        }
    }
}
