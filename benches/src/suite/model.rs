//! What the suite measured on the msq-rs side: the facts of a run from its task report, the
//! scale table's rows, the memory-bound comparison and the HTTP latencies, together.

use super::http::HttpLatency;
use super::stats::Measure;
use msq_controller::report::ReportState;
use serde_json::{json, Value};

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
    /// The server's peak memory answering large SELECTs.
    pub stream: Vec<StreamPeak>,
    /// The fixed cost of a task: `SELECT 1` against `SELECT COUNT(*)` over the datasource.
    pub fixed: Option<FixedCost>,
}

/// Medians of whole in-process tasks (planning, metadata, stages, workers), alternating
/// `SELECT 1` and `SELECT COUNT(*)` over the ingested datasource.
#[derive(Debug, Clone)]
pub struct FixedCost {
    pub runs: usize,
    pub select_one_ms: f64,
    pub count_ms: f64,
}

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
