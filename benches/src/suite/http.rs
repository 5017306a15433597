//! Submit-to-SUCCESS latency of a tiny SELECT through the HTTP API of an in-process server.

use super::*;

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

/// A minimal HTTP/1.1 client over one keep-alive connection (enough for the task API).
pub(crate) struct HttpClient {
    addr: std::net::SocketAddr,
    conn: Option<tokio::io::BufReader<tokio::net::TcpStream>>,
}

impl HttpClient {
    pub(crate) fn new(addr: std::net::SocketAddr) -> Self {
        HttpClient { addr, conn: None }
    }

    /// Sends one request; returns the status code and the body.
    async fn request(&mut self, method: &str, path: &str, body: Option<&str>) -> Result<(u16, Vec<u8>), String> {
        match self.try_request(method, path, body).await {
            Ok(r) => Ok(r),
            Err(_) => {
                // The server may have closed the idle connection: retry once on a new one.
                self.conn = None;
                self.try_request(method, path, body).await
            }
        }
    }

    async fn try_request(&mut self, method: &str, path: &str, body: Option<&str>) -> Result<(u16, Vec<u8>), String> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        let e = |e: std::io::Error| e.to_string();
        if self.conn.is_none() {
            let s = tokio::net::TcpStream::connect(self.addr).await.map_err(e)?;
            s.set_nodelay(true).map_err(e)?;
            self.conn = Some(tokio::io::BufReader::new(s));
        }
        let conn = self.conn.as_mut().expect("connected");
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n",
            self.addr
        );
        if let Some(b) = body {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            ));
        } else {
            req.push_str("\r\n");
        }
        conn.get_mut().write_all(req.as_bytes()).await.map_err(e)?;
        let mut line = String::new();
        if conn.read_line(&mut line).await.map_err(e)? == 0 {
            return Err("connection closed".into());
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {line:?}"))?;
        let (mut length, mut chunked, mut close) = (None, false, false);
        loop {
            line.clear();
            conn.read_line(&mut line).await.map_err(e)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
                match k.as_str() {
                    "content-length" => length = v.parse::<usize>().ok(),
                    "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
                    "connection" => close = v.eq_ignore_ascii_case("close"),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        if chunked {
            loop {
                line.clear();
                conn.read_line(&mut line).await.map_err(e)?;
                let n = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                    .map_err(|x| x.to_string())?;
                let mut chunk = vec![0u8; n + 2];
                conn.read_exact(&mut chunk).await.map_err(e)?;
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&chunk[..n]);
            }
        } else if let Some(n) = length {
            out.resize(n, 0);
            conn.read_exact(&mut out).await.map_err(e)?;
        } else {
            conn.read_to_end(&mut out).await.map_err(e)?;
            close = true;
        }
        if close {
            self.conn = None;
        }
        Ok((status, out))
    }
}

/// Starts the HTTP API in this process on 127.0.0.1:0 and measures a tiny SELECT from
/// POST /druid/v2/sql/task to SUCCESS, `runs` times each way: polling
/// GET /druid/indexer/v1/task/{id}/status (every millisecond), and with
/// `?wait_for_completion=true` (one request).
pub(crate) async fn http_latency(dir: &Path, runs: usize) -> Result<Vec<HttpLatency>, String> {
    let _ = std::fs::remove_dir_all(dir);
    let mut engine = Engine::open_local(dir).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    engine.host = addr.to_string();
    let tasks = msq_controller::tasks::TaskManager::new(engine, 4).map_err(|e| e.to_string())?;
    let server = tokio::spawn(msq_controller::http::serve(
        tasks,
        listener,
        msq_controller::http::DEFAULT_MAX_BODY_BYTES,
        None,
    ));
    let body = json!({"query": crate::sql::TINY_SELECT, "context": {"maxNumTasks": 2}}).to_string();
    let mut client = HttpClient::new(addr);
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
    server.abort();
    let _ = std::fs::remove_dir_all(dir);
    Ok(vec![
        HttpLatency::from_times("poll status every 1 ms", polled),
        HttpLatency::from_times("wait_for_completion=true", waited),
    ])
}
