//! `msq bench`: the benchmark suite over generated wikipedia data, measured side by side with
//! DuckDB and DataFusion (Python peers from `benches/peers/peer.py`), written to
//! `BENCHMARKS.md` and `bench-results.json`.
//!
//! What one run measures (all in the same process, release build, same files):
//! * the INSERT from JSON at each `--workers` count, REPLACE of one day, the six SELECTs;
//!   each `--runs` times (median, min, max), with the peak RSS of each measure (the
//!   high-water mark is reset before it) and rows/s, bytes/s;
//! * a tiny SELECT submitted through the HTTP API (an in-process server on 127.0.0.1:0):
//!   client-observed submit → SUCCESS latency over `--http-runs` runs, polling the status
//!   endpoint and with `?wait_for_completion=true`;
//! * the INSERT with `workerMemoryBytes` at a tenth of the JSON text: peak RSS and spilled
//!   files against the default budget;
//! * the scale table: stages, work orders, shuffle and read counters of the INSERT and the
//!   GROUP BY channel query at each worker count, from the task report;
//! * the same suite on DuckDB and DataFusion over the same files, ratio msq-rs / peer per line.

use msq_controller::report::{LiveReport, ReportState};
use msq_controller::Engine;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One measured line of the suite.
#[derive(Debug, Clone)]
pub struct Measure {
    pub engine: String,
    pub measure: String,
    pub rows: u64,
    /// Bytes the measure reads (JSON text for inserts, the datasource on disk otherwise).
    pub bytes: u64,
    pub runs: usize,
    pub median_s: f64,
    pub min_s: f64,
    pub max_s: f64,
    /// Peak RSS of the process during this measure's runs.
    pub peak_rss_mb: f64,
}

impl Measure {
    fn from_times(engine: &str, measure: &str, rows: u64, bytes: u64, mut times: Vec<f64>, peak_rss_mb: f64) -> Self {
        times.sort_by(|a, b| a.total_cmp(b));
        Measure {
            engine: engine.into(),
            measure: measure.into(),
            rows,
            bytes,
            runs: times.len(),
            median_s: median(&times),
            min_s: times.first().copied().unwrap_or(f64::NAN),
            max_s: times.last().copied().unwrap_or(f64::NAN),
            peak_rss_mb,
        }
    }

    fn to_json(&self) -> Value {
        json!({"engine": self.engine, "measure": self.measure, "rows": self.rows, "bytes": self.bytes,
               "runs": self.runs, "median_s": self.median_s, "min_s": self.min_s, "max_s": self.max_s,
               "peak_rss_mb": round1(self.peak_rss_mb)})
    }
}

/// Median of sorted values (the mean of the middle two for an even count).
fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The `q`-quantile (0..=1) of sorted values, nearest rank.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Hands freed heap back to the OS, then resets this process's peak-RSS mark (`VmHWM`) to the
/// current RSS; false where the kernel does not allow it (then peaks are process-wide).
fn reset_peak_rss() -> bool {
    msq_engine::memory::release_free_memory();
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Peak resident memory of this process since the last reset, from /proc (0 where unavailable).
fn peak_rss_mb() -> f64 {
    own_peak_rss_kib() as f64 / 1024.0
}

/// Total size of the files under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

fn context(workers: usize, extra: &[(&str, Value)]) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("maxNumTasks".into(), json!(workers + 1));
    for (k, v) in extra {
        m.insert((*k).into(), v.clone());
    }
    m
}

/// What the task report says about one run.
#[derive(Debug, Clone, Default)]
pub struct RunFacts {
    pub stages: usize,
    /// Sum of each stage's `workerCount`.
    pub work_orders: usize,
    pub shuffle_bytes: u64,
    pub shuffle_frames: u64,
    /// Rows and bytes stage 0 read (its input channels).
    pub read_rows: u64,
    pub read_bytes: u64,
    /// Sorted runs spilled to disk plus output partitions written to disk.
    pub spilled_files: u64,
    pub wall_s: f64,
}

impl RunFacts {
    fn from_report(r: &ReportState, wall_s: f64) -> Self {
        let mut f = RunFacts {
            stages: r.stages.len(),
            work_orders: r.stages.iter().map(|s| s.worker_count.unwrap_or(0)).sum(),
            wall_s,
            ..Default::default()
        };
        for (stage, workers) in &r.counters {
            for c in workers.values() {
                if let Some(s) = &c.shuffle {
                    f.shuffle_bytes += s.total_bytes();
                    f.shuffle_frames += s.frames.iter().sum::<u64>();
                    f.spilled_files += s.files.iter().sum::<u64>();
                }
                if let Some(p) = &c.sort_progress {
                    f.spilled_files += p.spilled_runs;
                }
                if *stage == 0 {
                    f.read_rows += c.inputs.iter().map(|i| i.total_rows()).sum::<u64>();
                    f.read_bytes += c.inputs.iter().map(|i| i.total_bytes()).sum::<u64>();
                }
            }
        }
        f
    }

    fn to_json(&self) -> Value {
        json!({"stages": self.stages, "work_orders": self.work_orders, "shuffle_bytes": self.shuffle_bytes,
               "shuffle_frames": self.shuffle_frames, "read_rows": self.read_rows, "read_bytes": self.read_bytes,
               "spilled_files": self.spilled_files, "wall_s": self.wall_s})
    }
}

/// Runs the INSERT `runs` times, each in a fresh data dir `<prefix>-<run>` under `work` (only
/// the first kept, when `keep_first`), checking it wrote `rows` rows; returns the times and
/// the facts of the last run.
async fn insert_runs(
    work: &Path,
    prefix: &str,
    insert: &str,
    ctx: &Map<String, Value>,
    runs: usize,
    rows: u64,
    keep_first: bool,
) -> Result<(Vec<f64>, RunFacts), String> {
    let mut times = Vec::new();
    let mut last = RunFacts::default();
    for run in 0..runs {
        let dir = work.join(format!("{prefix}-{run}"));
        let _ = std::fs::remove_dir_all(&dir);
        let engine = Engine::open_local(&dir).map_err(|e| e.to_string())?;
        let (secs, written, facts) = run_task(&engine, insert, ctx).await?;
        if written != rows {
            return Err(format!("INSERT wrote {written} rows, expected {rows}"));
        }
        times.push(secs);
        last = facts;
        drop(engine);
        if run > 0 || !keep_first {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    Ok((times, last))
}

/// Runs `sql` as one task (as `msq run` does); returns its time, the rows it wrote or
/// returned, and the facts of its report.
async fn run_task(engine: &Engine, sql: &str, ctx: &Map<String, Value>) -> Result<(f64, u64, RunFacts), String> {
    let t = Instant::now();
    let task = engine
        .prepare(sql, ctx)
        .await
        .map_err(|e| format!("{}: {e}", e.error_code()))?;
    engine.record_start(&task).map_err(|e| e.to_string())?;
    let report: LiveReport = Arc::new(Mutex::new(ReportState::new(&task.task_id, &engine.host)));
    let (_cancel, rx) = tokio::sync::watch::channel(false);
    let res = engine.run(&task, report.clone(), rx).await;
    let secs = t.elapsed().as_secs_f64();
    let facts = RunFacts::from_report(&ReportState::lock(&report), secs);
    match res {
        Ok(o) => {
            let returned: u64 = o
                .results
                .map(|b| b.iter().map(|x| x.num_rows() as u64).sum())
                .unwrap_or(0);
            Ok((secs, o.rows_written.max(returned), facts))
        }
        Err(e) => Err(format!("{}: {e}", e.error_code())),
    }
}

/// The INSERT with a memory budget against the default, at one worker count.
#[derive(Debug, Clone)]
pub struct MemoryBound {
    pub workers: usize,
    pub input_bytes: u64,
    pub budget_bytes: u64,
    pub default: (Measure, RunFacts),
    pub bounded: (Measure, RunFacts),
    /// Peak RSS (MB) of a fresh `msq run` process: of `SELECT 1` (the fixed cost), of the
    /// INSERT with the default budget, with the small budget, and with the small budget over
    /// a quarter of the rows in as many files.
    pub process_peaks: Option<ProcessPeaks>,
}

/// Peak RSS of `msq run` child processes, MB (see [`MemoryBound`]).
#[derive(Debug, Clone)]
pub struct ProcessPeaks {
    pub idle_mb: f64,
    pub default_mb: f64,
    pub bounded_mb: f64,
    pub bounded_part_mb: f64,
    pub part_bytes: u64,
}

/// This process's peak resident memory in KiB (`VmHWM`; 0 where /proc does not tell).
pub fn own_peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Runs `msq run` (this executable) on `sql` in a fresh data dir with `context`; returns its
/// peak RSS in MB, as the child read it from its own /proc entry (a fork's rusage would
/// count this process's memory too).
fn child_peak_rss_mb(work: &Path, name: &str, sql: &str, context: &Map<String, Value>) -> Result<f64, String> {
    let dir = work.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let sql_file = dir.join("statement.sql");
    let peak_file = dir.join("peak-rss-kib");
    std::fs::write(&sql_file, sql).map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let output = std::process::Command::new(exe)
        .arg("run")
        .arg("-f")
        .arg(&sql_file)
        .arg("--data-dir")
        .arg(dir.join("var"))
        .arg("--context")
        .arg(Value::Object(context.clone()).to_string())
        .arg("--peak-rss-to")
        .arg(&peak_file)
        .stdout(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot start msq run: {e}"))?;
    let peak = std::fs::read_to_string(&peak_file)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    let _ = std::fs::remove_dir_all(&dir);
    if !output.status.success() {
        return Err(format!(
            "msq run ({name}) failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    match peak {
        Some(kib) if kib > 0 => Ok(kib as f64 / 1024.0),
        _ => Err("msq run did not report its peak memory".into()),
    }
}

/// A row of the scale table.
#[derive(Debug, Clone)]
pub struct ScaleRow {
    pub measure: String,
    pub workers: usize,
    pub facts: RunFacts,
}

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
    fn from_times(mode: &str, mut ms: Vec<f64>) -> Self {
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

    fn to_json(&self) -> Value {
        json!({"mode": self.mode, "runs": self.runs, "p50_ms": self.p50_ms, "p90_ms": self.p90_ms,
               "p99_ms": self.p99_ms, "max_ms": self.max_ms, "mean_ms": self.mean_ms})
    }
}

/// Everything the msq-rs side measured.
#[derive(Debug, Clone, Default)]
pub struct MsqResults {
    pub measures: Vec<Measure>,
    pub memory: Option<MemoryBound>,
    pub scale: Vec<ScaleRow>,
    pub http: Vec<HttpLatency>,
}

/// What the msq-rs side runs on.
pub struct MsqInput<'a> {
    pub json_files: &'a [PathBuf],
    /// A quarter of the rows in as many files (the memory-bound comparison), and its JSON text bytes.
    pub quarter_files: &'a [PathBuf],
    pub quarter_raw_bytes: u64,
    pub rows: u64,
    /// Bytes of JSON text (uncompressed), the INSERT's bytes/s and the memory-bound line's input.
    pub json_raw_bytes: u64,
    pub runs: usize,
    pub workers: &'a [usize],
    pub http_runs: usize,
}

/// Runs the msq-rs side of the suite.
pub async fn run_msq(work: &Path, input: &MsqInput<'_>) -> Result<MsqResults, String> {
    let mut out = MsqResults::default();
    let insert = msq_benches::sql::insert_sql_files(input.json_files);
    let (rows, runs) = (input.rows, input.runs.max(1));
    let mut default_insert: Option<(Measure, RunFacts)> = None;
    for &w in input.workers {
        reset_peak_rss();
        // The first run's data stays: REPLACE and the SELECTs run on it.
        let (times, last) = insert_runs(
            work,
            &format!("msq-insert-w{w}"),
            &insert,
            &context(w, &[]),
            runs,
            rows,
            true,
        )
        .await?;
        let m = Measure::from_times(
            "msq-rs",
            &format!("insert_{w}_workers"),
            rows,
            input.json_raw_bytes,
            times,
            peak_rss_mb(),
        );
        eprintln!("  {} {:.3} s, peak {:.0} MB", m.measure, m.median_s, m.peak_rss_mb);
        if default_insert.is_none() {
            default_insert = Some((m.clone(), last.clone()));
        }
        out.scale.push(ScaleRow {
            measure: "insert".into(),
            workers: w,
            facts: last,
        });
        out.measures.push(m);
    }

    // The INSERT with a budget of a tenth of the input, at the first worker count.
    let w0 = input.workers[0];
    let budget = (input.json_raw_bytes / 10).max(1024);
    let bounded_ctx = context(w0, &[("workerMemoryBytes", json!(budget))]);
    reset_peak_rss();
    let (times, last) = insert_runs(work, "msq-insert-bounded", &insert, &bounded_ctx, runs, rows, false).await?;
    let bounded = Measure::from_times(
        "msq-rs",
        &format!("insert_{w0}_workers_bounded"),
        rows,
        input.json_raw_bytes,
        times,
        peak_rss_mb(),
    );
    eprintln!(
        "  {} {:.3} s, peak {:.0} MB, {} spilled files",
        bounded.measure, bounded.median_s, bounded.peak_rss_mb, last.spilled_files
    );
    // Peak memory of whole processes (the bench process keeps what earlier measures left in
    // its heap, so its own high-water mark overstates a single INSERT).
    let process_peaks = (|| -> Result<ProcessPeaks, String> {
        Ok(ProcessPeaks {
            idle_mb: child_peak_rss_mb(work, "rss-idle", "SELECT 1", &Map::new())?,
            default_mb: child_peak_rss_mb(work, "rss-default", &insert, &context(w0, &[]))?,
            bounded_mb: child_peak_rss_mb(work, "rss-bounded", &insert, &bounded_ctx)?,
            bounded_part_mb: child_peak_rss_mb(
                work,
                "rss-bounded-part",
                &msq_benches::sql::insert_sql_files(input.quarter_files),
                &bounded_ctx,
            )?,
            part_bytes: input.quarter_raw_bytes,
        })
    })();
    let process_peaks = match process_peaks {
        Ok(p) => {
            eprintln!(
                "  process peaks: idle {:.0} MB, default {:.0} MB, bounded {:.0} MB, bounded (a quarter of the rows) {:.0} MB",
                p.idle_mb, p.default_mb, p.bounded_mb, p.bounded_part_mb
            );
            Some(p)
        }
        Err(e) => {
            eprintln!("  process peaks not measured: {e}");
            None
        }
    };
    out.memory = default_insert.map(|default| MemoryBound {
        workers: w0,
        input_bytes: input.json_raw_bytes,
        budget_bytes: budget,
        default,
        bounded: (bounded, last),
        process_peaks,
    });

    // The rest runs on the data of the first INSERT run.
    let dir = work.join(format!("msq-insert-w{w0}-0"));
    let engine = Engine::open_local(&dir).map_err(|e| e.to_string())?;
    let ctx = context(w0, &[]);
    let replace = msq_benches::sql::replace_sql();
    let mut times = Vec::new();
    reset_peak_rss();
    for _ in 0..runs {
        times.push(run_task(&engine, &replace, &ctx).await?.0);
    }
    let seg_bytes = dir_bytes(&dir.join("segments"));
    out.measures.push(Measure::from_times(
        "msq-rs",
        "replace_one_day",
        rows,
        seg_bytes,
        times,
        peak_rss_mb(),
    ));
    let seg_bytes = dir_bytes(&dir.join("segments"));
    for (name, sql) in msq_benches::sql::SELECTS {
        let mut times = Vec::new();
        reset_peak_rss();
        for _ in 0..runs {
            times.push(run_task(&engine, sql, &ctx).await?.0);
        }
        let m = Measure::from_times("msq-rs", name, rows, seg_bytes, times, peak_rss_mb());
        eprintln!("  {} {:.4} s", m.measure, m.median_s);
        out.measures.push(m);
    }
    // Scale: the GROUP BY channel query at each worker count (the fastest of `runs`).
    let (_, top) = msq_benches::sql::SELECTS
        .iter()
        .find(|(n, _)| *n == "select_top_channels")
        .copied()
        .ok_or("no select_top_channels")?;
    for &w in input.workers {
        let ctx = context(w, &[]);
        let mut best: Option<RunFacts> = None;
        for _ in 0..runs {
            let (_, _, f) = run_task(&engine, top, &ctx).await?;
            if best.as_ref().is_none_or(|b| f.wall_s < b.wall_s) {
                best = Some(f);
            }
        }
        out.scale.push(ScaleRow {
            measure: "select_top_channels".into(),
            workers: w,
            facts: best.unwrap_or_default(),
        });
    }
    drop(engine);

    if input.http_runs > 0 {
        out.http = http_latency(&work.join("msq-http"), input.http_runs).await?;
        for h in &out.http {
            eprintln!("  http {}: p50 {:.1} ms, p99 {:.1} ms", h.mode, h.p50_ms, h.p99_ms);
        }
    }
    Ok(out)
}

/// A minimal HTTP/1.1 client over one keep-alive connection (enough for the task API).
struct HttpClient {
    addr: std::net::SocketAddr,
    conn: Option<tokio::io::BufReader<tokio::net::TcpStream>>,
}

impl HttpClient {
    fn new(addr: std::net::SocketAddr) -> Self {
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
async fn http_latency(dir: &Path, runs: usize) -> Result<Vec<HttpLatency>, String> {
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
    let body = json!({"query": msq_benches::sql::TINY_SELECT, "context": {"maxNumTasks": 2}}).to_string();
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

/// Runs one Python peer; its stdout is one JSON object per measure, its stderr's first line
/// the engine's version.
pub fn run_peer(
    python: &Path,
    script: &Path,
    engine: &str,
    json: &Path,
    parquet: &Path,
    out: &Path,
    runs: usize,
) -> Result<(Vec<Measure>, String), String> {
    let output = std::process::Command::new(python)
        .arg(script)
        .args(["--engine", engine, "--json"])
        .arg(json)
        .arg("--parquet")
        .arg(parquet)
        .arg("--out")
        .arg(out)
        .args(["--runs", &runs.to_string()])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{engine} peer failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let version = String::from_utf8_lossy(&output.stderr)
        .lines()
        .next()
        .unwrap_or(engine)
        .trim()
        .to_string();
    let measures = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| Measure {
            engine: v["engine"].as_str().unwrap_or(engine).to_string(),
            measure: v["measure"].as_str().unwrap_or("").to_string(),
            rows: v["rows"].as_u64().unwrap_or(0),
            bytes: 0,
            runs: v["runs"].as_u64().unwrap_or(0) as usize,
            median_s: v["median_s"].as_f64().unwrap_or(f64::NAN),
            min_s: v["min_s"].as_f64().unwrap_or(f64::NAN),
            max_s: v["max_s"].as_f64().unwrap_or(f64::NAN),
            peak_rss_mb: v["peak_rss_mb"].as_f64().unwrap_or(0.0),
        })
        .collect();
    Ok((measures, version))
}

/// The machine, for the report's header.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mem_gb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()))
        })
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    format!("{cores} cores ({model}), {mem_gb:.1} GiB RAM, {}", std::env::consts::OS)
}

/// What the report says about the data and the run.
pub struct ReportHeader<'a> {
    pub command: &'a str,
    pub machine: String,
    pub rows: u64,
    pub days: usize,
    pub json_files: usize,
    pub json_bytes: u64,
    pub json_raw_bytes: u64,
    pub parquet_bytes: u64,
    pub runs: usize,
    pub peer_versions: Vec<String>,
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The peer line for an msq-rs measure (`insert_2_workers` → `insert`).
fn peer_of<'a>(all: &'a [Measure], engine: &str, measure: &str) -> Option<&'a Measure> {
    let key = if measure.starts_with("insert_") {
        "insert"
    } else {
        measure
    };
    all.iter()
        .find(|m| m.engine == engine && m.measure == key && m.median_s.is_finite())
}

fn ratio(m: &Measure, p: Option<&Measure>) -> Option<f64> {
    p.map(|p| m.median_s / p.median_s)
}

/// BENCHMARKS.md.
pub fn render_markdown(h: &ReportHeader, all: &[Measure], msq: &MsqResults) -> String {
    let mut md = String::new();
    md.push_str("# Benchmarks\n\n");
    md.push_str(&format!(
        "Produced by `{}` (release build) on this machine: {}.\n\n",
        h.command, h.machine
    ));
    md.push_str(&format!(
        "Data: {} generated wikipedia rows over {} days (`msq_benches::generate_parts`), as newline-delimited JSON in \
         {} gzipped parts ({:.1} MB stored, {:.1} MB of JSON text) and one Parquet file ({:.1} MB). \
         Every engine reads the same files in the same run. Peers: {}.\n\n",
        h.rows,
        h.days,
        h.json_files,
        mb(h.json_bytes),
        mb(h.json_raw_bytes),
        mb(h.parquet_bytes),
        if h.peer_versions.is_empty() {
            "none (not run)".to_string()
        } else {
            h.peer_versions.join(", ")
        }
    ));
    md.push_str(&format!(
        "Each line: median of {} runs (min–max). Ratio = msq-rs / peer (below 1.0: msq-rs is faster). \
         MB/s: the JSON text for INSERTs, the datasource on disk for REPLACE and SELECTs. Peak RSS: the process's \
         high-water mark during that measure only (reset through `/proc/self/clear_refs` before it; msq-rs runs \
         in the bench process, the peers in their Python process). msq-rs times are whole tasks: planning, \
         metadata, stages, workers, shuffle and publishing included. REPLACE and SELECTs run with 1 worker \
         (`maxNumTasks` 2, the default); peers use both cores.\n\n",
        h.runs
    ));
    md.push_str("## Results\n\n");
    md.push_str(
        "| measure | msq-rs s (min–max) | rows/s | MB/s | peak RSS MB | DuckDB s | ratio | DuckDB MB | DataFusion s | ratio | DataFusion MB |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let fmt_peer = |m: &Measure, p: Option<&Measure>| match p {
        Some(p) => (
            format!("{:.3}", p.median_s),
            format!("{:.2}", m.median_s / p.median_s),
            format!("{:.0}", p.peak_rss_mb),
        ),
        None => ("–".into(), "–".into(), "–".into()),
    };
    for m in all.iter().filter(|m| m.engine == "msq-rs") {
        let (d, dr, dm) = fmt_peer(m, peer_of(all, "duckdb", &m.measure));
        let (f, fr, fm) = fmt_peer(m, peer_of(all, "datafusion", &m.measure));
        md.push_str(&format!(
            "| {} | {:.3} ({:.3}–{:.3}) | {:.0} | {:.1} | {:.0} | {d} | {dr} | {dm} | {f} | {fr} | {fm} |\n",
            m.measure,
            m.median_s,
            m.min_s,
            m.max_s,
            m.rows as f64 / m.median_s,
            mb(m.bytes) / m.median_s,
            m.peak_rss_mb
        ));
    }
    let peer_only: Vec<&Measure> = all.iter().filter(|m| m.measure == "insert_from_parquet").collect();
    if !peer_only.is_empty() {
        md.push_str("\nPeers only (msq-rs has no counterpart yet): `insert_from_parquet`, the same COPY reading the Parquet file: ");
        let parts: Vec<String> = peer_only
            .iter()
            .map(|m| format!("{} {:.3} s ({:.0} MB)", m.engine, m.median_s, m.peak_rss_mb))
            .collect();
        md.push_str(&parts.join(", "));
        md.push_str(".\n");
    }

    if !msq.http.is_empty() {
        md.push_str(&format!(
            "\n## HTTP API: tiny SELECT, submit → SUCCESS\n\n\
             An in-process server (`msq_controller::http::serve` on 127.0.0.1:0, embedded workers, 4 worker slots); \
             the client (HTTP/1.1, one keep-alive connection) POSTs `/druid/v2/sql/task` with \
             `{}` (context `maxNumTasks` 2) and stops the clock when it sees SUCCESS. \
             3 warm-up runs are not counted.\n\n\
             | mode | runs | p50 ms | p90 ms | p99 ms | max ms | mean ms |\n|---|---|---|---|---|---|---|\n",
            msq_benches::sql::TINY_SELECT.replace('|', "\\|")
        ));
        for l in &msq.http {
            md.push_str(&format!(
                "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
                l.mode, l.runs, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.mean_ms
            ));
        }
    }

    if let Some(mem) = &msq.memory {
        md.push_str(&format!(
            "\n## Memory stays bounded: data 10× the memory budget\n\n\
             The INSERT at {} worker(s) with the context `workerMemoryBytes` = {} ({:.1} MB, a tenth of the {:.1} MB of JSON \
             text), against the default budget (256 MiB). Spilled files: sorted runs and output partitions the \
             shuffle wrote to disk (task report counters, summed over workers, of the last run).\n\n\
             | INSERT | workerMemoryBytes | s (min–max) | peak RSS MB | spilled files | shuffle MB |\n|---|---|---|---|---|---|\n",
            mem.workers,
            mem.budget_bytes,
            mb(mem.budget_bytes),
            mb(mem.input_bytes)
        ));
        for (label, budget, (m, f)) in [
            ("default", "268435456 (default)".to_string(), &mem.default),
            ("bounded", mem.budget_bytes.to_string(), &mem.bounded),
        ] {
            md.push_str(&format!(
                "| {label} | {budget} | {:.3} ({:.3}–{:.3}) | {:.0} | {} | {:.1} |\n",
                m.median_s,
                m.min_s,
                m.max_s,
                m.peak_rss_mb,
                f.spilled_files,
                mb(f.shuffle_bytes)
            ));
        }
        if let Some(p) = &mem.process_peaks {
            md.push_str(&format!(
                "\nThe bench process's own high-water mark above includes what earlier measures left in its heap. \
                 Whole `msq run` processes, one fresh process per line (peak RSS: the child's own `VmHWM`):\n\n\
                 | `msq run` | JSON text MB | workerMemoryBytes | peak RSS MB |\n|---|---|---|---|\n\
                 | `SELECT 1` (fixed cost: code, runtime, metadata) | 0 | – | {:.0} |\n\
                 | INSERT, all parts | {:.1} | default (256 MiB) | {:.0} |\n\
                 | INSERT, a quarter of the rows (as many files) | {:.1} | {} | {:.0} |\n\
                 | INSERT, all parts | {:.1} | {} | {:.0} |\n",
                p.idle_mb,
                mb(mem.input_bytes),
                p.default_mb,
                mb(p.part_bytes),
                mem.budget_bytes,
                p.bounded_part_mb,
                mb(mem.input_bytes),
                mem.budget_bytes,
                p.bounded_mb
            ));
        }
    }

    if !msq.scale.is_empty() {
        md.push_str(
            "\n## Scale\n\n\
             From the task report of one run per line (the INSERT's last run; the GROUP BY channel query's \
             fastest): stages, work orders (the sum of every stage's `workerCount`), what the stages' shuffles \
             wrote (`shuffle` counters: bytes, frames), what stage 0 read (its input counters: rows, bytes as \
             stored), and the wall time of the task.\n\n\
             | query | workers | stages | work orders | shuffle MB | shuffle frames | rows read | MB read | wall s | speed-up |\n\
             |---|---|---|---|---|---|---|---|---|---|\n",
        );
        for r in &msq.scale {
            let base = msq
                .scale
                .iter()
                .find(|b| b.measure == r.measure)
                .map(|b| b.facts.wall_s)
                .unwrap_or(f64::NAN);
            let f = &r.facts;
            md.push_str(&format!(
                "| {} | {} | {} | {} | {:.1} | {} | {} | {:.1} | {:.3} | {:.2}× |\n",
                r.measure,
                r.workers,
                f.stages,
                f.work_orders,
                mb(f.shuffle_bytes),
                f.shuffle_frames,
                f.read_rows,
                mb(f.read_bytes),
                f.wall_s,
                base / f.wall_s
            ));
        }
    }

    md.push_str("\n## Targets\n\n| target | this run | met |\n|---|---|---|\n");
    for (target, result, met) in targets(all, msq) {
        md.push_str(&format!(
            "| {target} | {result} | {} |\n",
            match met {
                Some(true) => "yes",
                Some(false) => "no",
                None => "–",
            }
        ));
    }
    // The hand-kept history of performance changes and what each bought.
    if let Ok(changes) = std::fs::read_to_string(msq_benches::benches_dir().join("CHANGES.md")) {
        md.push('\n');
        md.push_str(changes.trim_end());
        md.push('\n');
    }
    md
}

/// Each target: what it asks, where this run stands, whether it is met.
fn targets(all: &[Measure], msq: &MsqResults) -> Vec<(String, String, Option<bool>)> {
    let mut out = Vec::new();
    let find = |name: &str| all.iter().find(|m| m.engine == "msq-rs" && m.measure == name);
    let inserts: Vec<&Measure> = all
        .iter()
        .filter(|m| m.engine == "msq-rs" && m.measure.starts_with("insert_") && m.measure.ends_with("_workers"))
        .collect();
    let duck = |m: &Measure| ratio(m, peer_of(all, "duckdb", &m.measure));
    let parts: Vec<String> = inserts
        .iter()
        .filter_map(|m| duck(m).map(|r| format!("{}: {r:.2}", m.measure)))
        .collect();
    let best = inserts.iter().filter_map(|m| duck(m)).fold(f64::INFINITY, f64::min);
    out.push((
        "INSERT / DuckDB ≤ 1.0".to_string(),
        if parts.is_empty() {
            "no DuckDB line".into()
        } else {
            parts.join(", ")
        },
        best.is_finite().then_some(best <= 1.0),
    ));
    let selects: Vec<(String, f64)> = all
        .iter()
        .filter(|m| m.engine == "msq-rs" && m.measure.starts_with("select_"))
        .filter_map(|m| duck(m).map(|r| (m.measure.clone(), r)))
        .collect();
    let ok = selects.iter().filter(|(_, r)| *r <= 1.0).count();
    out.push((
        "SELECTs / DuckDB ≤ 1.0".to_string(),
        format!(
            "{ok} of {} lines; ratios {}",
            selects.len(),
            selects
                .iter()
                .map(|(n, r)| format!("{}: {r:.1}", n.trim_start_matches("select_")))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (!selects.is_empty()).then_some(ok == selects.len()),
    ));
    let poll = msq.http.first();
    out.push((
        "HTTP tiny SELECT submit → SUCCESS p50 < 50 ms".to_string(),
        msq.http
            .iter()
            .map(|h| format!("{}: p50 {:.1} ms, p99 {:.1} ms", h.mode, h.p50_ms, h.p99_ms))
            .collect::<Vec<_>>()
            .join("; "),
        poll.map(|h| msq.http.iter().all(|x| x.p50_ms < 50.0) && h.p50_ms < 50.0),
    ));
    match (find("insert_1_workers"), find("insert_2_workers")) {
        (Some(a), Some(b)) => {
            let s = a.median_s / b.median_s;
            out.push((
                "INSERT: 2 workers ≥ 1.7× 1 worker (2 cores)".to_string(),
                format!("{s:.2}× ({:.3} s → {:.3} s)", a.median_s, b.median_s),
                Some(s >= 1.7),
            ));
        }
        _ => out.push((
            "INSERT: 2 workers ≥ 1.7× 1 worker (2 cores)".to_string(),
            "not measured".into(),
            None,
        )),
    }
    if let Some(mem) = &msq.memory {
        let (d, b) = (&mem.default, &mem.bounded);
        match &mem.process_peaks {
            // Bounded: with the small budget, 4× the data costs at most 25% more peak memory
            // (it does not grow with the data), and less than the default budget.
            Some(p) => out.push((
                "Peak memory bounded at 10× data / budget".to_string(),
                format!(
                    "`msq run` peak RSS with a {:.0} MB budget: {:.0} MB over {:.0} MB of JSON, {:.0} MB over {:.0} MB \
                     ({} spilled files); {:.0} MB with the default budget; {:.0} MB for `SELECT 1`",
                    mb(mem.budget_bytes),
                    p.bounded_part_mb,
                    mb(p.part_bytes),
                    p.bounded_mb,
                    mb(mem.input_bytes),
                    b.1.spilled_files,
                    p.default_mb,
                    p.idle_mb
                ),
                Some(p.bounded_mb <= p.bounded_part_mb * 1.25 && p.bounded_mb < p.default_mb),
            )),
            None => out.push((
                "Peak memory bounded at 10× data / budget".to_string(),
                format!(
                    "peak RSS {:.0} MB with a {:.0} MB budget ({} spilled files) vs {:.0} MB by default",
                    b.0.peak_rss_mb,
                    mb(mem.budget_bytes),
                    b.1.spilled_files,
                    d.0.peak_rss_mb
                ),
                Some(b.0.peak_rss_mb <= d.0.peak_rss_mb),
            )),
        }
    }
    out
}

/// bench-results.json.
fn results_json(h: &ReportHeader, all: &[Measure], msq: &MsqResults) -> Value {
    json!({
        "command": h.command,
        "machine": h.machine,
        "data": {"rows": h.rows, "days": h.days, "json_files": h.json_files, "json_bytes": h.json_bytes,
                 "json_raw_bytes": h.json_raw_bytes, "parquet_bytes": h.parquet_bytes},
        "peers": h.peer_versions,
        "measures": all.iter().map(|m| m.to_json()).collect::<Vec<_>>(),
        "http": msq.http.iter().map(|l| l.to_json()).collect::<Vec<_>>(),
        "memory": msq.memory.as_ref().map(|m| json!({
            "workers": m.workers, "input_bytes": m.input_bytes, "budget_bytes": m.budget_bytes,
            "default": {"measure": m.default.0.to_json(), "facts": m.default.1.to_json()},
            "bounded": {"measure": m.bounded.0.to_json(), "facts": m.bounded.1.to_json()},
            "process_peak_rss_mb": m.process_peaks.as_ref().map(|p| json!({
                "select_1": p.idle_mb, "insert_default": p.default_mb, "insert_bounded": p.bounded_mb,
                "insert_bounded_quarter_rows": p.bounded_part_mb, "quarter_rows_json_bytes": p.part_bytes})),
        })),
        "scale": msq.scale.iter().map(|r| json!({"measure": r.measure, "workers": r.workers, "facts": r.facts.to_json()})).collect::<Vec<_>>(),
        "targets": targets(all, msq).into_iter().map(|(t, r, m)| json!({"target": t, "result": r, "met": m})).collect::<Vec<_>>(),
    })
}

/// Options of `msq bench`.
pub struct BenchOptions {
    pub rows: usize,
    pub runs: usize,
    pub seed: u64,
    pub workers: Vec<usize>,
    pub json_files: usize,
    pub http_runs: usize,
    pub peers: bool,
    pub out: PathBuf,
    pub command: String,
}

/// Generates data, runs msq-rs and the peers, prints the table and writes BENCHMARKS.md and
/// `bench-results.json` into `out`.
pub async fn run(o: BenchOptions) -> Result<(), String> {
    if o.workers.is_empty() || o.workers.contains(&0) {
        return Err("--workers needs worker counts of at least 1".into());
    }
    let data_dir = msq_benches::benches_dir().join("data");
    std::fs::create_dir_all(&data_dir).map_err(|e| e.to_string())?;
    let source = msq_benches::default_source(Path::new(env!("CARGO_MANIFEST_DIR")));
    eprintln!(
        "generating {} rows (seed {}, {} JSON parts) in {}",
        o.rows,
        o.seed,
        o.json_files,
        data_dir.display()
    );
    let data = msq_benches::generate_parts(&source, o.rows, o.seed, &data_dir, true, o.json_files)
        .map_err(|e| e.to_string())?;
    // A quarter of the rows in as many files: the memory-bound line compares the two.
    let quarter = msq_benches::generate_parts(&source, (o.rows / 4).max(1), o.seed, &data_dir, true, o.json_files)
        .map_err(|e| e.to_string())?;
    let work = data_dir.join("work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    eprintln!("running msq-rs");
    let input = MsqInput {
        json_files: &data.json_parts,
        quarter_files: &quarter.json_parts,
        quarter_raw_bytes: quarter.json_raw_bytes,
        rows: data.rows as u64,
        json_raw_bytes: data.json_raw_bytes,
        runs: o.runs,
        workers: &o.workers,
        http_runs: o.http_runs,
    };
    let msq = run_msq(&work, &input).await?;
    let mut all = msq.measures.clone();
    let mut versions = Vec::new();
    if o.peers {
        let setup = std::process::Command::new("bash")
            .arg(msq_benches::setup_script())
            .output()
            .map_err(|e| format!("cannot run the peer setup: {e}"))?;
        if !setup.status.success() {
            return Err(format!("peer setup failed: {}", String::from_utf8_lossy(&setup.stderr)));
        }
        let python = String::from_utf8_lossy(&setup.stdout)
            .lines()
            .last()
            .unwrap_or("python3")
            .trim()
            .to_string();
        for engine in ["duckdb", "datafusion"] {
            eprintln!("running {engine}");
            let peers_dir = work.join("peers");
            let (mut measures, version) = run_peer(
                Path::new(&python),
                &msq_benches::peer_script(),
                engine,
                &data.json,
                &data.parquet,
                &peers_dir,
                o.runs,
            )?;
            let dataset = dir_bytes(&peers_dir.join(engine).join("wikipedia"));
            for m in &mut measures {
                m.bytes = match m.measure.as_str() {
                    "insert" => data.json_raw_bytes,
                    "insert_from_parquet" => data.parquet_bytes,
                    _ => dataset,
                };
            }
            all.extend(measures);
            versions.push(version);
        }
    }
    let header = ReportHeader {
        command: &o.command,
        machine: machine(),
        rows: data.rows as u64,
        days: data.days,
        json_files: data.json_parts.len(),
        json_bytes: data.json_bytes,
        json_raw_bytes: data.json_raw_bytes,
        parquet_bytes: data.parquet_bytes,
        runs: o.runs,
        peer_versions: versions,
    };
    let md = render_markdown(&header, &all, &msq);
    println!("{md}");
    std::fs::create_dir_all(&o.out).map_err(|e| e.to_string())?;
    std::fs::write(o.out.join("BENCHMARKS.md"), &md).map_err(|e| e.to_string())?;
    std::fs::write(
        o.out.join("bench-results.json"),
        serde_json::to_string_pretty(&results_json(&header, &all, &msq)).unwrap_or_default() + "\n",
    )
    .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_medians() {
        let v: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 100.0);
        assert_eq!(quantile(&v, 0.99), 198.0);
        assert_eq!(quantile(&v, 1.0), 200.0);
        assert_eq!(median(&[1.0, 2.0, 10.0]), 2.0);
        assert_eq!(median(&[1.0, 3.0]), 2.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn peak_rss_resets() {
        if !reset_peak_rss() {
            return; // not allowed here
        }
        let before = peak_rss_mb();
        let big = vec![1u8; 64 << 20];
        assert!(big.iter().map(|b| *b as u64).sum::<u64>() > 0);
        assert!(peak_rss_mb() >= before + 60.0);
        drop(big);
        assert!(reset_peak_rss());
        // Other tests run in this process too: after a reset the peak is the current size.
        let rss = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()))
            })
            .unwrap_or(0.0)
            / 1024.0;
        assert!(
            peak_rss_mb() <= rss + 16.0,
            "peak {} MB vs current {rss} MB",
            peak_rss_mb()
        );
    }

    #[test]
    fn peer_lines_match_by_measure() {
        let m = |e: &str, n: &str, s: f64| Measure::from_times(e, n, 10, 100, vec![s], 1.0);
        let all = vec![
            m("msq-rs", "insert_2_workers", 2.0),
            m("msq-rs", "select_count", 0.02),
            m("duckdb", "insert", 1.0),
            m("duckdb", "select_count", 0.01),
        ];
        assert_eq!(peer_of(&all, "duckdb", "insert_2_workers").unwrap().median_s, 1.0);
        assert!(peer_of(&all, "datafusion", "select_count").is_none());
        let t = targets(&all, &MsqResults::default());
        assert_eq!(t[0].2, Some(false));
        assert!(t[1].1.starts_with("0 of 1"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn http_client_talks_to_the_api() {
        let dir = std::env::temp_dir().join(format!("msq-bench-http-{}", std::process::id()));
        let lat = http_latency(&dir, 3).await.unwrap();
        assert_eq!(lat.len(), 2);
        assert!(lat
            .iter()
            .all(|l| l.runs == 3 && l.p50_ms > 0.0 && l.p99_ms >= l.p50_ms));
    }
}
