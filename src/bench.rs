//! `msq bench`: the benchmark suite over generated wikipedia data, measured side by side with
//! DuckDB and DataFusion (Python peers from `benches/peers/peer.py`), written to
//! `BENCHMARKS.md` and a JSON file.

use msq_controller::Engine;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One measured line of the suite.
#[derive(Debug, Clone)]
pub struct Measure {
    pub engine: String,
    pub measure: String,
    pub rows: u64,
    pub runs: usize,
    pub median_s: f64,
    pub min_s: f64,
    pub max_s: f64,
    pub peak_rss_mb: f64,
}

impl Measure {
    fn from_times(engine: &str, measure: &str, rows: u64, mut times: Vec<f64>) -> Self {
        times.sort_by(|a, b| a.total_cmp(b));
        Measure {
            engine: engine.into(),
            measure: measure.into(),
            rows,
            runs: times.len(),
            median_s: times[times.len() / 2],
            min_s: times[0],
            max_s: times[times.len() - 1],
            peak_rss_mb: peak_rss_mb(),
        }
    }

    fn to_json(&self) -> Value {
        json!({"engine": self.engine, "measure": self.measure, "rows": self.rows, "runs": self.runs,
               "median_s": self.median_s, "min_s": self.min_s, "max_s": self.max_s, "peak_rss_mb": self.peak_rss_mb})
    }
}

/// Peak resident memory of this process so far, from /proc (0 where unavailable).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()))
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

async fn timed(engine: &Engine, sql: &str, ctx: &Map<String, Value>) -> Result<(f64, u64), String> {
    let t = Instant::now();
    let (_, res, _) = engine.run_statement(sql, ctx).await;
    let secs = t.elapsed().as_secs_f64();
    match res {
        Ok(o) => Ok((
            secs,
            o.rows_written.max(
                o.results
                    .map(|b| b.iter().map(|x| x.num_rows() as u64).sum())
                    .unwrap_or(0),
            ),
        )),
        Err(e) => Err(format!("{}: {e}", e.error_code())),
    }
}

/// Runs the msq-rs side of the suite over `json_file` (`rows` rows), `runs` times each.
pub async fn run_msq(
    work: &Path,
    json_file: &Path,
    rows: u64,
    runs: usize,
    workers: &[usize],
) -> Result<Vec<Measure>, String> {
    let mut out = Vec::new();
    for &w in workers {
        let ctx: Map<String, Value> = json!({"maxNumTasks": w + 1}).as_object().cloned().unwrap_or_default();
        let mut times = Vec::new();
        for run in 0..runs {
            let dir = work.join(format!("msq-insert-w{w}-{run}"));
            let _ = std::fs::remove_dir_all(&dir);
            let engine = Engine::open_local(&dir).map_err(|e| e.to_string())?;
            let (secs, written) = timed(&engine, &msq_benches::sql::insert_sql(json_file), &ctx).await?;
            if written != rows {
                return Err(format!("INSERT wrote {written} rows, expected {rows}"));
            }
            times.push(secs);
        }
        out.push(Measure::from_times(
            "msq-rs",
            &format!("insert_{w}_workers"),
            rows,
            times,
        ));
    }
    // The rest runs on the data of the first INSERT run.
    let dir = work.join(format!("msq-insert-w{}-0", workers[0]));
    let engine = Engine::open_local(&dir).map_err(|e| e.to_string())?;
    let ctx: Map<String, Value> = json!({"maxNumTasks": workers[0] + 1})
        .as_object()
        .cloned()
        .unwrap_or_default();
    let replace = msq_benches::sql::replace_sql();
    let mut times = Vec::new();
    for _ in 0..runs {
        times.push(timed(&engine, &replace, &ctx).await?.0);
    }
    out.push(Measure::from_times("msq-rs", "replace_one_day", rows, times));
    for (name, sql) in msq_benches::sql::SELECTS {
        let mut times = Vec::new();
        for _ in 0..runs {
            times.push(timed(&engine, sql, &ctx).await?.0);
        }
        out.push(Measure::from_times("msq-rs", name, rows, times));
    }
    Ok(out)
}

/// Runs one Python peer; its stdout is one JSON object per measure.
pub fn run_peer(
    python: &Path,
    script: &Path,
    engine: &str,
    json_file: &Path,
    parquet: &Path,
    out: &Path,
    runs: usize,
) -> Result<Vec<Measure>, String> {
    let output = std::process::Command::new(python)
        .arg(script)
        .args(["--engine", engine, "--json"])
        .arg(json_file)
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
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| Measure {
            engine: v["engine"].as_str().unwrap_or(engine).to_string(),
            measure: v["measure"].as_str().unwrap_or("").to_string(),
            rows: v["rows"].as_u64().unwrap_or(0),
            runs: v["runs"].as_u64().unwrap_or(0) as usize,
            median_s: v["median_s"].as_f64().unwrap_or(f64::NAN),
            min_s: v["min_s"].as_f64().unwrap_or(f64::NAN),
            max_s: v["max_s"].as_f64().unwrap_or(f64::NAN),
            peak_rss_mb: v["peak_rss_mb"].as_f64().unwrap_or(0.0),
        })
        .collect())
}

/// The comparison table: one line per msq-rs measure with the peers' medians and ratios.
pub fn render_markdown(all: &[Measure], command: &str, rows: u64) -> String {
    let mut md = String::new();
    md.push_str("# Benchmarks\n\n");
    md.push_str(&format!(
        "Produced by `{command}` on this 2-core machine: {rows} generated wikipedia rows, medians of repeated runs, \
         msq-rs and its peers measured side by side in the same run. Ratio = msq-rs / peer (below 1.0: msq-rs is faster).\n\n"
    ));
    md.push_str("| measure | msq-rs median s (min–max) | rows/s | DuckDB s | ratio | DataFusion s | ratio |\n|---|---|---|---|---|---|---|\n");
    let peer = |engine: &str, measure: &str| -> Option<&Measure> {
        let key = measure.split("_workers").next().unwrap_or(measure);
        let key = if key.starts_with("insert_") { "insert" } else { key };
        all.iter().find(|m| m.engine == engine && m.measure == key)
    };
    for m in all.iter().filter(|m| m.engine == "msq-rs") {
        let fmt_peer = |p: Option<&Measure>| match p {
            Some(p) if p.median_s.is_finite() => {
                (format!("{:.3}", p.median_s), format!("{:.2}", m.median_s / p.median_s))
            }
            _ => ("–".into(), "–".into()),
        };
        let (d, dr) = fmt_peer(peer("duckdb", &m.measure));
        let (f, fr) = fmt_peer(peer("datafusion", &m.measure));
        md.push_str(&format!(
            "| {} | {:.3} ({:.3}–{:.3}) | {:.0} | {d} | {dr} | {f} | {fr} |\n",
            m.measure,
            m.median_s,
            m.min_s,
            m.max_s,
            m.rows as f64 / m.median_s
        ));
    }
    md
}

/// Options of `msq bench`.
pub struct BenchOptions {
    pub rows: usize,
    pub runs: usize,
    pub seed: u64,
    pub workers: Vec<usize>,
    pub peers: bool,
    pub out: PathBuf,
    pub command: String,
}

/// Generates data, runs msq-rs and the peers, prints the table and writes BENCHMARKS.md and
/// `bench-results.json` into `out`.
pub async fn run(o: BenchOptions) -> Result<(), String> {
    let data_dir = msq_benches::benches_dir().join("data");
    std::fs::create_dir_all(&data_dir).map_err(|e| e.to_string())?;
    let source = msq_benches::default_source(Path::new(env!("CARGO_MANIFEST_DIR")));
    eprintln!("generating {} rows (seed {}) in {}", o.rows, o.seed, data_dir.display());
    let data = msq_benches::generate(&source, o.rows, o.seed, &data_dir, true).map_err(|e| e.to_string())?;
    let work = data_dir.join("work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    eprintln!("running msq-rs");
    let mut all = run_msq(&work, &data.json, data.rows as u64, o.runs, &o.workers).await?;
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
            all.extend(run_peer(
                Path::new(&python),
                &msq_benches::peer_script(),
                engine,
                &data.json,
                &data.parquet,
                &work.join("peers"),
                o.runs,
            )?);
        }
    }
    let md = render_markdown(&all, &o.command, data.rows as u64);
    println!("{md}");
    std::fs::create_dir_all(&o.out).map_err(|e| e.to_string())?;
    std::fs::write(o.out.join("BENCHMARKS.md"), &md).map_err(|e| e.to_string())?;
    let json = Value::Array(all.iter().map(|m| m.to_json()).collect());
    std::fs::write(
        o.out.join("bench-results.json"),
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )
    .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
