//! The peers (DuckDB, DataFusion) run by `benches/peers/peer.py` over the same files.

use super::stats::Measure;
use serde_json::Value;
use std::path::Path;

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
pub(crate) fn machine() -> String {
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
