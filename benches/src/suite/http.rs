//! Submit-to-SUCCESS latency of a tiny SELECT through the HTTP API of an in-process server,
//! and its answer time through interactive SQL.

use super::stats::quantile;
use msq_controller::Overlord;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// Client-observed latency of a tiny SELECT through the HTTP API.
#[derive(Debug, Clone)]
pub struct HttpLatency {
    pub mode: String,
    pub runs: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl HttpLatency {
    pub(crate) fn from_times(mode: &str, mut ms: Vec<f64>) -> Self {
        ms.sort_by(|a, b| a.total_cmp(b));
        HttpLatency {
            mode: mode.into(),
            runs: ms.len(),
            p50_ms: quantile(&ms, 0.5),
            p90_ms: quantile(&ms, 0.9),
            p99_ms: quantile(&ms, 0.99),
            max_ms: ms.last().copied().unwrap_or(f64::NAN),
            mean_ms: ms.iter().sum::<f64>() / ms.len().max(1) as f64,
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({"mode": self.mode, "runs": self.runs, "p50_ms": self.p50_ms, "p90_ms": self.p90_ms,
               "p99_ms": self.p99_ms, "max_ms": self.max_ms, "mean_ms": self.mean_ms})
    }
}

/// The task API's client: reqwest keeping one connection alive (no Nagle delay).
pub(crate) struct HttpClient {
    client: reqwest::Client,
    base: String,
}

impl HttpClient {
    pub(crate) fn new(addr: std::net::SocketAddr) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(HttpClient {
            client,
            base: format!("http://{addr}"),
        })
    }

    /// Sends one request; returns the status code and the body.
    async fn request(&self, method: &str, path: &str, body: Option<&str>) -> Result<(u16, Vec<u8>), String> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_string());
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        Ok((status, bytes.to_vec()))
    }
}

/// Starts the HTTP API in this process on 127.0.0.1:0 and measures a tiny SELECT from
/// POST /druid/v2/sql/task to SUCCESS, `runs` times each way: polling
/// GET /druid/indexer/v1/task/{id}/status (every millisecond), and with
/// `?wait_for_completion=true` (one request).
pub(crate) async fn http_latency(dir: &Path, runs: usize) -> Result<Vec<HttpLatency>, String> {
    let _ = std::fs::remove_dir_all(dir);
    let mut engine = Overlord::open_local(dir).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    engine.host = addr.to_string();
    let tasks = msq_controller::tasks::TaskManager::new(engine, 4).map_err(|e| e.to_string())?;
    let server = tokio::spawn(msq_controller::druid_api::serve(
        tasks,
        listener,
        msq_controller::druid_api::DEFAULT_MAX_BODY_BYTES,
        None,
    ));
    let body = json!({"query": crate::sql::TINY_SELECT, "context": {"maxNumTasks": 2}}).to_string();
    let client = HttpClient::new(addr)?;
    let submit = |r: &(u16, Vec<u8>)| -> Result<Value, String> {
        let v: Value = serde_json::from_slice(&r.1).map_err(|e| e.to_string())?;
        if r.0 != 200 {
            return Err(format!("submit answered {}: {v}", r.0));
        }
        Ok(v)
    };
    // Warm up (first connection, first plan) outside the timing.
    for _ in 0..3 {
        let v = submit(
            &client
                .request("POST", "/druid/v2/sql/task?wait_for_completion=true", Some(&body))
                .await?,
        )?;
        if v["state"] != "SUCCESS" {
            return Err(format!("tiny SELECT did not succeed: {v}"));
        }
    }
    let mut polled = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let v = submit(&client.request("POST", "/druid/v2/sql/task", Some(&body)).await?)?;
        let id = v["taskId"].as_str().ok_or("no taskId")?.to_string();
        let path = format!("/druid/indexer/v1/task/{id}/status");
        loop {
            let (code, b) = client.request("GET", &path, None).await?;
            let s: Value = serde_json::from_slice(&b).map_err(|e| e.to_string())?;
            match s["status"]["status"].as_str() {
                Some("SUCCESS") => break,
                Some("FAILED") => return Err(format!("tiny SELECT failed: {s}")),
                _ if code != 200 && code != 404 => return Err(format!("status answered {code}: {s}")),
                _ => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        }
        polled.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let mut waited = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let v = submit(
            &client
                .request("POST", "/druid/v2/sql/task?wait_for_completion=true", Some(&body))
                .await?,
        )?;
        if v["state"] != "SUCCESS" {
            return Err(format!("tiny SELECT did not succeed: {v}"));
        }
        waited.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let interactive = interactive_latency(&client, runs).await?;
    server.abort();
    let _ = std::fs::remove_dir_all(dir);
    Ok(vec![
        HttpLatency::from_times("poll status every 1 ms", polled),
        HttpLatency::from_times("wait_for_completion=true", waited),
        HttpLatency::from_times("interactive POST /druid/v2/sql", interactive),
    ])
}

/// The same tiny SELECT through interactive SQL (`POST /druid/v2/sql`, rows in the answer),
/// `runs` times after a warm-up; milliseconds per answer.
async fn interactive_latency(client: &HttpClient, runs: usize) -> Result<Vec<f64>, String> {
    let body =
        json!({"query": crate::sql::TINY_SELECT, "context": {"maxNumTasks": 2}, "resultFormat": "array"}).to_string();
    let mut times = Vec::with_capacity(runs);
    for run in 0..runs + 3 {
        let t = Instant::now();
        let (code, answer) = client.request("POST", "/druid/v2/sql", Some(&body)).await?;
        if code != 200 || answer != b"[[\"#en\",2],[\"#fr\",1]]\n" {
            return Err(format!(
                "interactive tiny SELECT answered {code}: {}",
                String::from_utf8_lossy(&answer)
            ));
        }
        if run >= 3 {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(times)
}
