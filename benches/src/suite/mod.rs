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
//! * a large SELECT's answer through `POST /druid/v2/sql` and through the statements API's
//!   durable result pages, over a tenth of the rows and all of them: the peak RSS of a fresh
//!   `msq server` child per line (`--only-stream` measures
//!   just this and prints its section);
//! * the scale table: stages, work orders, shuffle and read counters of the INSERT and the
//!   GROUP BY channel query at each worker count, from the task report;
//! * the same suite on DuckDB and DataFusion over the same files, ratio msq-rs / peer per line.
//!
//! Imports point one way: `stats` (one measure) and `memory` import no sibling; `http` uses
//! `stats`; `stream` uses `msq` and `model`; `model` (what the msq-rs side measured) uses `stats` and `http`; `msq`, `peers`
//! and `report` use those; this module only runs the steps in order.

mod http;
mod memory;
mod model;
mod msq;
mod peers;
mod report;
mod stats;
mod stream;

pub use memory::{own_peak_rss_kib, peak_rss_mb, reset_peak_rss};

use memory::dir_bytes;
use msq::{run_msq, MsqInput};
use peers::{machine, run_peer};
use report::{compose, render_scale, results_json, ReportHeader};
use stats::Measure;

use std::path::{Path, PathBuf};

/// Options of `msq bench`.
pub struct BenchOptions {
    pub rows: usize,
    pub runs: usize,
    pub seed: u64,
    pub workers: Vec<usize>,
    pub json_files: usize,
    pub http_runs: usize,
    pub peers: bool,
    /// Measure only the large answers' server memory and print its section.
    pub only_stream: bool,
    pub out: PathBuf,
    pub command: String,
}

/// Generates data, runs msq-rs and the peers, prints the table and writes BENCHMARKS.md and
/// `bench-results.json` into `out`.
pub async fn run(o: BenchOptions) -> Result<(), String> {
    if o.workers.is_empty() || o.workers.contains(&0) {
        return Err("--workers needs worker counts of at least 1".into());
    }
    let data_dir = crate::benches_dir().join("data");
    std::fs::create_dir_all(&data_dir).map_err(|e| e.to_string())?;
    // The workspace root is the parent of this crate (`benches/`).
    let root = crate::benches_dir().parent().map(Path::to_path_buf).unwrap_or_default();
    let source = crate::default_source(&root);
    eprintln!(
        "generating {} rows (seed {}, {} JSON parts) in {}",
        o.rows,
        o.seed,
        o.json_files,
        data_dir.display()
    );
    let data =
        crate::generate_parts(&source, o.rows, o.seed, &data_dir, true, o.json_files).map_err(|e| e.to_string())?;
    // A tenth of the rows: the large answers' memory compares the two.
    let tenth = crate::generate_parts(&source, (o.rows / 10).max(1), o.seed, &data_dir, true, o.json_files)
        .map_err(|e| e.to_string())?;
    let stream_sets = [
        (tenth.rows as u64, tenth.json_parts.clone()),
        (data.rows as u64, data.json_parts.clone()),
    ];
    if o.only_stream {
        let work = data_dir.join("work");
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let lines = stream::stream_peaks(&exe, &work, &stream_sets).await?;
        println!("{}", report::stream_section(&lines));
        return Ok(());
    }
    // A quarter of the rows in as many files: the memory-bound line compares the two.
    let quarter = crate::generate_parts(&source, (o.rows / 4).max(1), o.seed, &data_dir, true, o.json_files)
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
    let mut msq = run_msq(&work, &input).await?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    msq.stream = stream::stream_peaks(&exe, &work, &stream_sets).await?;
    let mut all = msq.measures.clone();
    let mut versions = Vec::new();
    if o.peers {
        let (measures, v) = run_peers(&o, &data, &work)?;
        all.extend(measures);
        versions = v;
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
    let scale_md = render_scale(&header, &all, &msq);
    println!("{scale_md}");
    // Each scale's latest document is kept; BENCHMARKS.md shows them all.
    let scales_dir = o.out.join("benches").join("results");
    std::fs::create_dir_all(&scales_dir).map_err(|e| e.to_string())?;
    std::fs::write(scales_dir.join(format!("rows-{}.md", header.rows)), &scale_md).map_err(|e| e.to_string())?;
    let md = compose(&scale_documents(&scales_dir)?);
    std::fs::write(o.out.join("BENCHMARKS.md"), &md).map_err(|e| e.to_string())?;
    std::fs::write(
        o.out.join("bench-results.json"),
        serde_json::to_string_pretty(&results_json(&header, &all, &msq)).unwrap_or_default() + "\n",
    )
    .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// The documents in `dir` named `rows-<N>.md`, with their rows.
fn scale_documents(dir: &Path) -> Result<Vec<(u64, String)>, String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let rows = name
            .strip_prefix("rows-")
            .and_then(|r| r.strip_suffix(".md"))
            .and_then(|r| r.parse().ok());
        if let Some(rows) = rows {
            out.push((rows, std::fs::read_to_string(&path).map_err(|e| e.to_string())?));
        }
    }
    Ok(out)
}

/// Runs the suite on DuckDB and DataFusion over the same files: their measures and versions.
fn run_peers(
    o: &BenchOptions,
    data: &crate::GeneratedData,
    work: &Path,
) -> Result<(Vec<Measure>, Vec<String>), String> {
    let (mut all, mut versions) = (Vec::new(), Vec::new());
    let setup = std::process::Command::new("bash")
        .arg(crate::setup_script())
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
            &crate::peer_script(),
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
    Ok((all, versions))
}

#[cfg(test)]
mod tests {
    use super::http::{http_latency, HttpLatency};
    use super::model::{FixedCost, MemoryBound, MsqResults, ProcessPeaks, RunFacts, ScaleRow, StreamPeak};
    use super::report::{render_markdown, results_json, targets, ReportHeader};
    use super::stats::{median, peer_of, quantile, Measure};

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

    #[test]
    fn markdown_has_every_section_in_order() {
        let m = |e: &str, n: &str, s: f64| Measure::from_times(e, n, 1000, 5 << 20, vec![s, s * 1.1, s * 0.9], 123.4);
        let all = vec![
            m("msq-rs", "insert_1_workers", 2.0),
            m("msq-rs", "insert_2_workers", 1.1),
            m("msq-rs", "replace_one_day", 0.5),
            m("msq-rs", "select_count", 0.02),
            m("msq-rs", "select_top_channels", 0.05),
            m("duckdb", "insert", 1.0),
            m("duckdb", "select_count", 0.01),
            m("duckdb", "insert_from_parquet", 0.3),
            m("datafusion", "select_top_channels", 0.04),
            m("datafusion", "insert_from_parquet", 0.2),
        ];
        let f = |w: f64| RunFacts {
            stages: 3,
            work_orders: 4,
            shuffle_bytes: 3 << 20,
            shuffle_frames: 17,
            read_rows: 1000,
            read_bytes: 7 << 20,
            spilled_files: 5,
            wall_s: w,
        };
        let mut msq = MsqResults {
            measures: all.iter().filter(|x| x.engine == "msq-rs").cloned().collect(),
            memory: Some(MemoryBound {
                workers: 1,
                input_bytes: 50 << 20,
                budget_bytes: 5 << 20,
                default: (all[0].clone(), f(2.0)),
                bounded: (all[1].clone(), f(2.5)),
                process_peaks: Some(ProcessPeaks {
                    idle_mb: 20.0,
                    default_mb: 300.0,
                    bounded_mb: 90.0,
                    bounded_part_mb: 80.0,
                    part_bytes: 12 << 20,
                }),
            }),
            scale: vec![
                ScaleRow {
                    measure: "insert".into(),
                    workers: 1,
                    facts: f(2.0),
                },
                ScaleRow {
                    measure: "insert".into(),
                    workers: 2,
                    facts: f(1.2),
                },
                ScaleRow {
                    measure: "select_top_channels".into(),
                    workers: 1,
                    facts: f(0.05),
                },
            ],
            http: vec![
                HttpLatency::from_times("poll", vec![3.0, 4.0, 9.0]),
                HttpLatency::from_times("wait", vec![2.0, 5.0]),
            ],
            stream: [(100, 80.0), (1000, 96.0)]
                .map(|(rows, peak_mb)| StreamPeak {
                    endpoint: "interactive".into(),
                    query: "SELECT *".into(),
                    rows,
                    answer_bytes: rows * 1000,
                    secs: 0.5,
                    idle_mb: 60.0,
                    peak_mb,
                })
                .to_vec(),
            fixed: Some(FixedCost {
                runs: 25,
                select_one_ms: 1.2,
                count_ms: 2.0,
            }),
        };
        let h = ReportHeader {
            command: "msq bench --rows 1000",
            machine: "2 cores (x), 4.0 GiB RAM, linux".into(),
            rows: 1000,
            days: 1,
            json_files: 2,
            json_bytes: 1 << 20,
            json_raw_bytes: 50 << 20,
            parquet_bytes: 2 << 20,
            runs: 3,
            peer_versions: vec!["duckdb 1.0".into(), "datafusion 40".into()],
        };
        let md = render_markdown(&h, &all, &msq);
        let mut at = 0;
        for section in [
            "# Benchmarks",
            "## Results",
            "Peers only",
            "## HTTP API",
            "## Memory stays bounded",
            "Whole `msq run` processes",
            "## Large SELECT answers",
            "## Scale",
            "## Fixed cost of a task",
            "## Targets",
        ] {
            at += md[at..]
                .find(section)
                .unwrap_or_else(|| panic!("{section} after byte {at}"));
        }
        assert!(md.contains("| insert | 2 | 3 | 4 | 3.0 | 17 | 1000 | 7.0 | 1.200 | 1.67× |"));
        let json = results_json(&h, &all, &msq);
        assert!(md.contains("| interactive | `SELECT *` | 1000 | 1.0 | 0.50 | 60 | 96 | 1.20× |"));
        assert_eq!(json["targets"].as_array().unwrap().len(), 7);
        assert_eq!(
            json["targets"][3]["result"],
            "medians of 25 whole tasks each: `SELECT 1` 1.20 ms, `COUNT(*)` 2.00 ms (+0.80 ms)"
        );
        assert_eq!(json["targets"][3]["met"], true);
        assert_eq!(json["targets"][4]["met"], true);
        assert_eq!(json["targets"][5]["met"], true, "90 MB ≤ 1.25 × 80 MB");
        assert_eq!(
            json["targets"][6]["result"],
            "interactive `SELECT *` 1000 rows: 96 MB, 1.20×"
        );
        assert_eq!(json["targets"][6]["met"], true);
        assert_eq!(
            json["targets"][2]["met"],
            serde_json::Value::Null,
            "no interactive line measured"
        );
        assert_eq!(json["stream"][1]["peak_mb"], 96.0);
        msq.memory.as_mut().unwrap().process_peaks = None;
        let t = targets(&all, &msq);
        assert!(t[5]
            .1
            .starts_with("peak RSS 123 MB with a 5 MB budget (5 spilled files)"));
        let h = ReportHeader {
            peer_versions: vec![],
            ..h
        };
        let md = render_markdown(&h, &all[..2], &MsqResults::default());
        assert!(md.contains("Peers: none (not run)") && !md.contains("## Scale") && !md.contains("## HTTP API"));
        // Several scales: 1,000,000 rows first, each other scale under its own title.
        let composed = super::report::compose(&[
            (10_000_000, "# Benchmarks\nten\n".into()),
            (1_000_000, "# Benchmarks\none\n".into()),
        ]);
        assert!(
            composed.starts_with("# Benchmarks\none\n\n# Benchmarks at 10000000 rows\nten\n"),
            "{composed}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn http_client_talks_to_the_api() {
        let dir = std::env::temp_dir().join(format!("msq-bench-http-{}", std::process::id()));
        let lat = http_latency(&dir, 3).await.unwrap();
        assert_eq!(lat.len(), 3);
        assert_eq!(lat[2].mode, "interactive POST /druid/v2/sql");
        assert!(lat
            .iter()
            .all(|l| l.runs == 3 && l.p50_ms > 0.0 && l.p99_ms >= l.p50_ms));
    }
}
