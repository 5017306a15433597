//! The msq-rs side of the suite: INSERT, REPLACE and SELECT tasks on an embedded engine, with
//! the facts of each run read from its task report.

use super::http::http_latency;
use super::memory::{child_peak_rss_mb, dir_bytes, peak_rss_mb, reset_peak_rss};
use super::model::{FixedCost, MemoryBound, MsqResults, ProcessPeaks, RunFacts, ScaleRow};
use super::stats::Measure;
use msq_controller::report::{LiveReport, ReportState};
use msq_controller::Overlord;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub(crate) fn context(workers: usize, extra: &[(&str, Value)]) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("maxNumTasks".into(), json!(workers + 1));
    for (k, v) in extra {
        m.insert((*k).into(), v.clone());
    }
    m
}

/// Runs the INSERT `runs` times, each in a fresh data dir `<prefix>-<run>` under `work` (only
/// the first kept, when `keep_first`), checking it wrote `rows` rows; returns the times and
/// the facts of the last run.
pub(crate) async fn insert_runs(
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
        let engine = Overlord::open_local(&dir).map_err(|e| e.to_string())?;
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
pub(crate) async fn run_task(
    engine: &Overlord,
    sql: &str,
    ctx: &Map<String, Value>,
) -> Result<(f64, u64, RunFacts), String> {
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
    let insert = crate::sql::insert_sql_files(input.json_files);
    let default_insert = inserts_at_each_worker_count(work, input, &insert, &mut out).await?;
    out.memory = memory_bound(work, input, &insert, default_insert).await?;

    // The rest runs on the data of the first INSERT run.
    let dir = work.join(format!("msq-insert-w{}-0", input.workers[0]));
    let engine = Overlord::open_local(&dir).map_err(|e| e.to_string())?;
    out.measures.extend(replace_and_selects(&engine, &dir, input).await?);
    out.scale.extend(top_channels_scale(&engine, input).await?);
    out.fixed = Some(fixed_cost(&engine, input).await?);
    drop(engine);

    if input.http_runs > 0 {
        out.http = http_latency(&work.join("msq-http"), input.http_runs).await?;
        for h in &out.http {
            eprintln!("  http {}: p50 {:.1} ms, p99 {:.1} ms", h.mode, h.p50_ms, h.p99_ms);
        }
    }
    Ok(out)
}

/// The INSERT at each worker count: adds its measures and scale rows to `out`; returns the
/// measure and facts of the first worker count (the memory-bound line's default).
async fn inserts_at_each_worker_count(
    work: &Path,
    input: &MsqInput<'_>,
    insert: &str,
    out: &mut MsqResults,
) -> Result<Option<(Measure, RunFacts)>, String> {
    let (rows, runs) = (input.rows, input.runs.max(1));
    let mut default_insert: Option<(Measure, RunFacts)> = None;
    for &w in input.workers {
        reset_peak_rss();
        // The first run's data stays: REPLACE and the SELECTs run on it.
        let (times, last) = insert_runs(
            work,
            &format!("msq-insert-w{w}"),
            insert,
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
    Ok(default_insert)
}

/// The INSERT with a budget of a tenth of the input, at the first worker count, against
/// `default_insert`.
async fn memory_bound(
    work: &Path,
    input: &MsqInput<'_>,
    insert: &str,
    default_insert: Option<(Measure, RunFacts)>,
) -> Result<Option<MemoryBound>, String> {
    let (rows, runs) = (input.rows, input.runs.max(1));
    let w0 = input.workers[0];
    let budget = (input.json_raw_bytes / 10).max(1024);
    let bounded_ctx = context(w0, &[("workerMemoryBytes", json!(budget))]);
    reset_peak_rss();
    let (times, last) = insert_runs(work, "msq-insert-bounded", insert, &bounded_ctx, runs, rows, false).await?;
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
    let process_peaks = process_peaks(work, input, insert, &bounded_ctx);
    Ok(default_insert.map(|default| MemoryBound {
        workers: w0,
        input_bytes: input.json_raw_bytes,
        budget_bytes: budget,
        default,
        bounded: (bounded, last),
        process_peaks,
    }))
}

/// Peak memory of whole processes (the bench process keeps what earlier measures left in
/// its heap, so its own high-water mark overstates a single INSERT); `None` (and a note on
/// stderr) where they cannot be measured.
fn process_peaks(
    work: &Path,
    input: &MsqInput<'_>,
    insert: &str,
    bounded_ctx: &Map<String, Value>,
) -> Option<ProcessPeaks> {
    let w0 = input.workers[0];
    let peaks = (|| -> Result<ProcessPeaks, String> {
        Ok(ProcessPeaks {
            idle_mb: child_peak_rss_mb(work, "rss-idle", "SELECT 1", &Map::new())?,
            default_mb: child_peak_rss_mb(work, "rss-default", insert, &context(w0, &[]))?,
            bounded_mb: child_peak_rss_mb(work, "rss-bounded", insert, bounded_ctx)?,
            bounded_part_mb: child_peak_rss_mb(
                work,
                "rss-bounded-part",
                &crate::sql::insert_sql_files(input.quarter_files),
                bounded_ctx,
            )?,
            part_bytes: input.quarter_raw_bytes,
        })
    })();
    match peaks {
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
    }
}

/// REPLACE of one day, then each SELECT, `runs` times each at the first worker count, on
/// the data in `dir`.
async fn replace_and_selects(engine: &Overlord, dir: &Path, input: &MsqInput<'_>) -> Result<Vec<Measure>, String> {
    let (rows, runs) = (input.rows, input.runs.max(1));
    let ctx = context(input.workers[0], &[]);
    let replace = crate::sql::replace_sql();
    let mut times = Vec::new();
    reset_peak_rss();
    for _ in 0..runs {
        times.push(run_task(engine, &replace, &ctx).await?.0);
    }
    let seg_bytes = dir_bytes(&dir.join("segments"));
    let mut out = vec![Measure::from_times(
        "msq-rs",
        "replace_one_day",
        rows,
        seg_bytes,
        times,
        peak_rss_mb(),
    )];
    let seg_bytes = dir_bytes(&dir.join("segments"));
    for (name, sql) in crate::sql::SELECTS {
        let mut times = Vec::new();
        reset_peak_rss();
        for _ in 0..runs {
            times.push(run_task(engine, sql, &ctx).await?.0);
        }
        let m = Measure::from_times("msq-rs", name, rows, seg_bytes, times, peak_rss_mb());
        eprintln!("  {} {:.4} s", m.measure, m.median_s);
        out.push(m);
    }
    Ok(out)
}

/// Runs of each statement of [`fixed_cost`] (after 3 warm-up runs of each).
const FIXED_COST_RUNS: usize = 25;

/// `SELECT 1` and `SELECT COUNT(*)` over the datasource, alternating, [`FIXED_COST_RUNS`]
/// times each: what a task costs beyond its data, and what counting the segments adds.
async fn fixed_cost(engine: &Overlord, input: &MsqInput<'_>) -> Result<FixedCost, String> {
    let ctx = context(input.workers[0], &[]);
    let count = format!("SELECT COUNT(*) FROM {}", crate::sql::DATASOURCE);
    let (mut one, mut all) = (Vec::new(), Vec::new());
    for i in 0..FIXED_COST_RUNS + 3 {
        let a = run_task(engine, "SELECT 1", &ctx).await?.0;
        let b = run_task(engine, &count, &ctx).await?.0;
        if i >= 3 {
            one.push(a * 1000.0);
            all.push(b * 1000.0);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let f = FixedCost {
        runs: FIXED_COST_RUNS,
        select_one_ms: median(&mut one),
        count_ms: median(&mut all),
    };
    eprintln!(
        "  fixed cost: SELECT 1 {:.2} ms, COUNT(*) {:.2} ms",
        f.select_one_ms, f.count_ms
    );
    Ok(f)
}

/// Scale: the GROUP BY channel query at each worker count (the fastest of `runs`).
async fn top_channels_scale(engine: &Overlord, input: &MsqInput<'_>) -> Result<Vec<ScaleRow>, String> {
    let (_, top) = crate::sql::SELECTS
        .iter()
        .find(|(n, _)| *n == "select_top_channels")
        .copied()
        .ok_or("no select_top_channels")?;
    let mut out = Vec::new();
    for &w in input.workers {
        let ctx = context(w, &[]);
        let mut best: Option<RunFacts> = None;
        for _ in 0..input.runs.max(1) {
            let (_, _, f) = run_task(engine, top, &ctx).await?;
            if best.as_ref().is_none_or(|b| f.wall_s < b.wall_s) {
                best = Some(f);
            }
        }
        out.push(ScaleRow {
            measure: "select_top_channels".into(),
            workers: w,
            facts: best.unwrap_or_default(),
        });
    }
    Ok(out)
}
