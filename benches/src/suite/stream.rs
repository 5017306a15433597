//! Peak memory of a server answering a large SELECT: the same statement over a small and a
//! large datasource, each line in a fresh `msq server` child process whose own high-water
//! mark (`VmHWM` in /proc/<pid>/status) is read after the client has read the whole answer.
//! The answer is counted as it arrives (never kept), and its row count checked.

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

/// One line: a statement over a datasource of `rows` rows, fetched through `endpoint`.
#[derive(Debug, Clone)]
pub struct StreamPeak {
    pub endpoint: String,
    pub query: String,
    pub rows: u64,
    /// Bytes of the answer's body.
    pub answer_bytes: u64,
    /// From sending the request to the answer's last byte.
    pub secs: f64,
    /// The server's resident memory before the request, and its peak.
    pub idle_mb: f64,
    pub peak_mb: f64,
}

impl StreamPeak {
    pub(crate) fn to_json(&self) -> Value {
        json!({"endpoint": self.endpoint, "query": self.query, "rows": self.rows,
               "answer_bytes": self.answer_bytes, "secs": self.secs, "idle_mb": self.idle_mb,
               "peak_mb": self.peak_mb})
    }
}

/// The datasource holding `rows` generated rows.
pub fn stream_datasource(rows: u64) -> String {
    format!("wikipedia_{rows}")
}

/// Ingests each set of JSON parts (its row count, its files) into its own datasource in a
/// data directory under `work`, then measures every statement of [`STREAM_QUERIES`] over
/// each through `POST /druid/v2/sql` (`objectLines`) on a fresh `exe server` per line.
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
    for (label, sql) in STREAM_QUERIES {
        for (rows, _) in sets {
            let sql = sql.replace("{ds}", &stream_datasource(*rows));
            let server = ServerChild::start(exe, &dir)?;
            let peak = interactive_answer(&server, label, &sql, *rows).await?;
            eprintln!(
                "  stream {} over {} rows: {:.0} MB peak ({:.0} MB idle), {:.2} s, {:.1} MB answer",
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

/// Sends `sql` to `/druid/v2/sql` as `objectLines` and reads the answer to its end, counting
/// lines (one per row, then an empty line).
async fn interactive_answer(server: &ServerChild, label: &str, sql: &str, rows: u64) -> Result<StreamPeak, String> {
    let idle_mb = server.status_kib("VmRSS:") as f64 / 1024.0;
    let body = json!({"query": sql, "resultFormat": "objectLines"}).to_string();
    let t = Instant::now();
    let mut response = reqwest::Client::new()
        .post(format!("{}/druid/v2/sql", server.base))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let (mut bytes, mut lines) = (0u64, 0u64);
    let mut first = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        if first.len() < 300 {
            first.extend_from_slice(&chunk[..chunk.len().min(300)]);
        }
    }
    let secs = t.elapsed().as_secs_f64();
    if status != 200 || lines != rows + 1 {
        return Err(format!(
            "{sql} answered {status} with {} lines for {rows} rows: {}",
            lines.saturating_sub(1),
            String::from_utf8_lossy(&first)
        ));
    }
    Ok(StreamPeak {
        endpoint: "POST /druid/v2/sql (objectLines)".into(),
        query: label.into(),
        rows,
        answer_bytes: bytes,
        secs,
        idle_mb,
        peak_mb: server.status_kib("VmHWM:") as f64 / 1024.0,
    })
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
