//! The msq-rs side of the suite: INSERT, REPLACE and SELECT tasks on an embedded engine, with
//! the facts of each run read from its task report.

use super::*;

pub(crate) fn context(workers: usize, extra: &[(&str, Value)]) -> Map<String, Value> {
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
    pub(crate) fn from_report(r: &ReportState, wall_s: f64) -> Self {
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

    pub(crate) fn to_json(&self) -> Value {
        json!({"stages": self.stages, "work_orders": self.work_orders, "shuffle_bytes": self.shuffle_bytes,
               "shuffle_frames": self.shuffle_frames, "read_rows": self.read_rows, "read_bytes": self.read_bytes,
               "spilled_files": self.spilled_files, "wall_s": self.wall_s})
    }
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

/// A row of the scale table.
#[derive(Debug, Clone)]
pub struct ScaleRow {
    pub measure: String,
    pub workers: usize,
    pub facts: RunFacts,
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
    let insert = crate::sql::insert_sql_files(input.json_files);
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
                &crate::sql::insert_sql_files(input.quarter_files),
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
    let engine = Overlord::open_local(&dir).map_err(|e| e.to_string())?;
    let ctx = context(w0, &[]);
    let replace = crate::sql::replace_sql();
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
    for (name, sql) in crate::sql::SELECTS {
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
    let (_, top) = crate::sql::SELECTS
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
