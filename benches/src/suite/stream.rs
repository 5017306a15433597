//! Peak memory of a server answering a large SELECT: the same statement over a small and a
//! large datasource, through interactive SQL and through the statements API's durable result
//! pages, each line in a fresh `msq server` child process whose own high-water mark (`VmHWM`
//! in /proc/<pid>/status) is read after the client has read the whole answer. The answer is
//! counted as it arrives (never kept), and its row count checked.

use super::model::StreamPeak;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// The statements measured, with `{ds}` for the datasource: every column of every row, in
/// storage order and ordered by a string column (a sorting final stage).
pub const STREAM_QUERIES: [(&str, &str); 2] = [
    ("SELECT *", "SELECT * FROM \"{ds}\""),
    ("SELECT * ORDER BY page", "SELECT * FROM \"{ds}\" ORDER BY page"),
];

/// The datasource holding `rows` generated rows.
pub fn stream_datasource(rows: u64) -> String {
    format!("wikipedia_{rows}")
}

/// Ingests each set of JSON parts (its row count, its files) into its own datasource in a
/// data directory under `work`, then measures every statement of [`STREAM_QUERIES`] over
/// each through each [`Endpoint`] (`objectLines`) on a fresh `exe server` per line.
pub(crate) async fn stream_peaks(
    exe: &Path,
    work: &Path,
    sets: &[(u64, Vec<PathBuf>)],
) -> Result<Vec<StreamPeak>, String> {
    let dir = work.join("msq-stream");
    let _ = std::fs::remove_dir_all(&dir);
    {
        let engine = msq_controller::Overlord::open_local(&dir).map_err(|e| e.to_string())?;
        for (rows, files) in sets {
            let sql = crate::sql::insert_sql_into(&stream_datasource(*rows), files);
            let (_, written, _) = super::msq::run_task(&engine, &sql, &super::msq::context(1, &[])).await?;
            if written != *rows {
                return Err(format!("stream INSERT wrote {written} rows, expected {rows}"));
            }
        }
    }
    let mut out = Vec::new();
    for (endpoint, (label, sql)) in [Endpoint::Interactive, Endpoint::Statements]
        .into_iter()
        .flat_map(|e| STREAM_QUERIES.map(|q| (e, q)))
    {
        for (rows, _) in sets {
            let sql = sql.replace("{ds}", &stream_datasource(*rows));
            let server = ServerChild::start(exe, &dir)?;
            let peak = measure(&server, endpoint, label, &sql, *rows).await?;
            eprintln!(
                "  {}: {} over {} rows: {:.0} MB peak ({:.0} MB idle), {:.2} s, {:.1} MB answer",
                peak.endpoint,
                peak.query,
                peak.rows,
                peak.peak_mb,
                peak.idle_mb,
                peak.secs,
                peak.answer_bytes as f64 / 1e6
            );
            out.push(peak);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}

/// The endpoints measured.
#[derive(Debug, Clone, Copy)]
enum Endpoint {
    /// `POST /druid/v2/sql`, the answer streamed.
    Interactive,
    /// `POST /druid/v2/sql/statements` with durable result pages, polled until SUCCESS, then
    /// every page through `GET .../results`.
    Statements,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::Interactive => "interactive",
            Endpoint::Statements => "statements, durable pages",
        }
    }
}

/// Runs `sql` through `endpoint` and reads the answer to its end, checking it has `rows`
/// rows; the server's memory before the request and at its peak.
async fn measure(
    server: &ServerChild,
    endpoint: Endpoint,
    label: &str,
    sql: &str,
    rows: u64,
) -> Result<StreamPeak, String> {
    let idle_mb = server.status_kib("VmRSS:") as f64 / 1024.0;
    let client = reqwest::Client::new();
    let t = Instant::now();
    let response = match endpoint {
        Endpoint::Interactive => {
            let body = json!({"query": sql, "resultFormat": "objectLines"});
            post(&client, &format!("{}/druid/v2/sql", server.base), &body).await?
        }
        Endpoint::Statements => statement_results(&client, &server.base, sql).await?,
    };
    let status = response.status().as_u16();
    let (bytes, lines, first) = read_lines(response).await?;
    let secs = t.elapsed().as_secs_f64();
    if status != 200 || lines != rows {
        return Err(format!(
            "{sql} answered {status} with {lines} rows for {rows}: {}",
            String::from_utf8_lossy(&first)
        ));
    }
    Ok(StreamPeak {
        endpoint: endpoint.name().into(),
        query: label.into(),
        rows,
        answer_bytes: bytes,
        secs,
        idle_mb,
        peak_mb: server.status_kib("VmHWM:") as f64 / 1024.0,
    })
}

async fn post(client: &reqwest::Client, url: &str, body: &Value) -> Result<reqwest::Response, String> {
    client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| e.to_string())
}

/// Submits `sql` to the statements API with durable result pages, waits for SUCCESS and
/// asks for all of its pages as `objectLines`.
async fn statement_results(client: &reqwest::Client, base: &str, sql: &str) -> Result<reqwest::Response, String> {
    let context = json!({"executionMode": "ASYNC", "selectDestination": "durableStorage", "rowsPerPage": 100_000});
    let body = json!({"query": sql, "context": context});
    let url = format!("{base}/druid/v2/sql/statements");
    let submitted = json_of(post(client, &url, &body).await?).await?;
    let id = submitted["queryId"]
        .as_str()
        .ok_or_else(|| format!("no queryId: {submitted}"))?
        .to_string();
    loop {
        let status = json_of(
            client
                .get(format!("{url}/{id}"))
                .send()
                .await
                .map_err(|e| e.to_string())?,
        )
        .await?;
        match status["state"].as_str() {
            Some("SUCCESS") => break,
            Some("ACCEPTED" | "RUNNING") => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            _ => return Err(format!("statement {id}: {status}")),
        }
    }
    client
        .get(format!("{url}/{id}/results?resultFormat=objectLines"))
        .send()
        .await
        .map_err(|e| e.to_string())
}

async fn json_of(response: reqwest::Response) -> Result<Value, String> {
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    serde_json::from_slice(&body).map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&body)))
}

/// Reads a body to its end: its bytes, its non-empty lines, and its first bytes.
async fn read_lines(mut response: reqwest::Response) -> Result<(u64, u64, Vec<u8>), String> {
    let (mut bytes, mut lines, mut last) = (0u64, 0u64, b'\n');
    let mut first = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        bytes += chunk.len() as u64;
        for &b in chunk.iter() {
            if b == b'\n' && last != b'\n' {
                lines += 1;
            }
            last = b;
        }
        if first.len() < 300 {
            first.extend_from_slice(&chunk[..chunk.len().min(300)]);
        }
    }
    Ok((bytes, lines, first))
}

/// An `msq server` child process on an ephemeral loopback port; killed when dropped.
struct ServerChild {
    child: Child,
    base: String,
}

impl ServerChild {
    /// Starts `exe server` on `data_dir` and waits for the line naming its address.
    fn start(exe: &Path, data_dir: &Path) -> Result<Self, String> {
        let mut child = Command::new(exe)
            .args(["server", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("MSQ_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start msq server: {e}"))?;
        let mut lines = BufReader::new(child.stderr.take().ok_or("no stderr")?).lines();
        let base = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        break rest.split_whitespace().next().unwrap_or_default().to_string();
                    }
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err("msq server ended before listening".into());
                }
            }
        };
        // Keep draining its stderr so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(ServerChild { child, base })
    }

    /// A `kB` line of the child's /proc status, in KiB (0 where unavailable).
    fn status_kib(&self, key: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix(key))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
