//! The task report (`multiStageQuery`), kept live while the query runs and rendered in
//! Druid's exact JSON shape.

use crate::values::rows_json;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use msq_engine::counters::StageCounters;
use msq_engine::granularity::format_millis;
use msq_engine::kernel::ControllerStagePhase;
use msq_engine::signature::{ColumnType, Signature};
use msq_engine::MsqError;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Most rows a SELECT puts in its report, as Druid's task-report destination.
pub const MAX_REPORT_ROWS: usize = 3_000;

/// Overall state of a query task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryStatus {
    Running,
    Success,
    Failed,
}

impl QueryStatus {
    /// Druid's status text.
    pub fn name(self) -> &'static str {
        match self {
            QueryStatus::Running => "RUNNING",
            QueryStatus::Success => "SUCCESS",
            QueryStatus::Failed => "FAILED",
        }
    }
}

/// One worker task of the query.
#[derive(Debug, Clone)]
pub struct WorkerEntry {
    /// Worker number; a relaunched worker has one entry per attempt.
    pub worker_number: usize,
    pub worker_id: String,
    pub status: QueryStatus,
    pub requested: Instant,
    pub started: Option<Instant>,
    pub finished: Option<Instant>,
}

/// One stage as the report shows it.
#[derive(Debug, Clone)]
pub struct StageEntry {
    pub definition: Value,
    pub phase: ControllerStagePhase,
    pub worker_count: Option<usize>,
    pub partition_count: Option<usize>,
    pub start_time: Option<i64>,
    pub started: Option<Instant>,
    pub finished: Option<Instant>,
    pub sort: bool,
}

/// The error that failed the query, with where it happened.
#[derive(Debug, Clone)]
pub struct ErrorEntry {
    pub error: MsqError,
    pub task_id: String,
    pub stage_number: Option<usize>,
}

/// Everything the report shows, updated as the query runs.
#[derive(Debug)]
pub struct ReportState {
    pub task_id: String,
    pub host: String,
    pub status: QueryStatus,
    pub start_time: i64,
    pub started: Instant,
    pub finished: Option<Instant>,
    pub workers: Vec<WorkerEntry>,
    pub stages: Vec<StageEntry>,
    pub counters: BTreeMap<usize, BTreeMap<usize, StageCounters>>,
    pub segment_report: Option<Value>,
    pub error: Option<ErrorEntry>,
    pub warnings: Vec<Value>,
    pub results: Option<(SchemaRef, Vec<RecordBatch>)>,
    /// The pages of results written to deep storage (`selectDestination: durableStorage`).
    pub result_pages: Option<Vec<crate::results::PageInfo>>,
}

/// A report shared between the driver and readers (HTTP, CLI).
pub type LiveReport = Arc<Mutex<ReportState>>;

impl ReportState {
    /// A fresh report for `task_id`.
    pub fn new(task_id: &str, host: &str) -> Self {
        ReportState {
            task_id: task_id.to_string(),
            host: host.to_string(),
            status: QueryStatus::Running,
            start_time: chrono::Utc::now().timestamp_millis(),
            started: Instant::now(),
            finished: None,
            workers: Vec::new(),
            stages: Vec::new(),
            counters: BTreeMap::new(),
            segment_report: None,
            error: None,
            warnings: Vec::new(),
            results: None,
            result_pages: None,
        }
    }

    /// Marks the report FAILED, keeping the first error it was given (the cause, not what
    /// followed from it): `error` of task `task_id` only when it holds none yet.
    pub fn fail(&mut self, task_id: &str, error: &MsqError) {
        self.status = QueryStatus::Failed;
        if self.error.is_none() {
            self.error = Some(ErrorEntry {
                error: error.clone(),
                task_id: task_id.to_string(),
                stage_number: None,
            });
        }
    }

    /// Locks a live report.
    pub fn lock(r: &LiveReport) -> std::sync::MutexGuard<'_, ReportState> {
        r.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn duration_ms(&self) -> i64 {
        let end = self.finished.unwrap_or_else(Instant::now);
        end.duration_since(self.started).as_millis() as i64
    }

    /// The report JSON, as `GET /druid/indexer/v1/task/{id}/reports` serves it.
    pub fn to_json(&self) -> Value {
        let now = Instant::now();
        let mut payload = Map::new();
        payload.insert("status".into(), self.status_json(now));
        payload.insert("stages".into(), self.stages_json(now));
        payload.insert("counters".into(), self.counters_json());
        if let Some(results) = self.results_json() {
            payload.insert("results".into(), results);
        }
        json!({
            "multiStageQuery": {
                "type": "multiStageQuery",
                "taskId": self.task_id,
                "payload": Value::Object(payload),
            }
        })
    }

    /// `payload.status`: the query's state, error, warnings, timing, workers and segments.
    fn status_json(&self, now: Instant) -> Value {
        let mut status = Map::new();
        status.insert("status".into(), json!(self.status.name()));
        if let Some(e) = &self.error {
            let mut er = Map::new();
            er.insert("taskId".into(), json!(e.task_id));
            er.insert("host".into(), json!(self.host));
            if let Some(s) = e.stage_number {
                er.insert("stageNumber".into(), json!(s));
            }
            er.insert("error".into(), e.error.to_fault());
            status.insert("errorReport".into(), Value::Object(er));
        }
        if !self.warnings.is_empty() {
            status.insert("warnings".into(), Value::Array(self.warnings.clone()));
        }
        status.insert("startTime".into(), json!(format_millis(self.start_time)));
        status.insert("durationMs".into(), json!(self.duration_ms()));
        status.insert("workers".into(), self.workers_json(now));
        let running_workers = self.workers.iter().filter(|w| w.status == QueryStatus::Running).count();
        status.insert("pendingTasks".into(), json!(0));
        let running = if self.status == QueryStatus::Running {
            running_workers + 1
        } else {
            0
        };
        status.insert("runningTasks".into(), json!(running));
        if let Some(s) = &self.segment_report {
            status.insert("segmentReport".into(), s.clone());
        }
        Value::Object(status)
    }

    /// `payload.status.workers`: the attempts of each worker number.
    fn workers_json(&self, now: Instant) -> Value {
        let mut workers = Map::new();
        for w in &self.workers {
            let end = w.finished.unwrap_or(now);
            let duration = if w.status == QueryStatus::Running {
                -1
            } else {
                end.duration_since(w.requested).as_millis() as i64
            };
            let pending = w
                .started
                .map(|s| s.duration_since(w.requested).as_millis() as i64)
                .unwrap_or(-1);
            let attempts = workers
                .entry(w.worker_number.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(a) = attempts {
                a.push(json!({"workerId": w.worker_id, "state": w.status.name(), "durationMs": duration, "pendingMs": pending}));
            }
        }
        Value::Object(workers)
    }

    /// `payload.stages`.
    fn stages_json(&self, now: Instant) -> Value {
        let stages = self
            .stages
            .iter()
            .enumerate()
            .map(|(n, s)| {
                let mut m = Map::new();
                m.insert("stageNumber".into(), json!(n));
                m.insert("definition".into(), s.definition.clone());
                if s.phase != ControllerStagePhase::New {
                    m.insert("phase".into(), json!(s.phase.name()));
                }
                if let Some(w) = s.worker_count {
                    m.insert("workerCount".into(), json!(w));
                }
                if let Some(p) = s.partition_count {
                    m.insert("partitionCount".into(), json!(p));
                }
                if let Some(t) = s.start_time {
                    m.insert("startTime".into(), json!(format_millis(t)));
                }
                if let Some(st) = s.started {
                    let end = s.finished.unwrap_or(now);
                    m.insert("duration".into(), json!(end.duration_since(st).as_millis() as i64));
                }
                if s.sort {
                    m.insert("sort".into(), json!(true));
                }
                Value::Object(m)
            })
            .collect();
        Value::Array(stages)
    }

    /// `payload.counters`: per stage, per worker.
    fn counters_json(&self) -> Value {
        let mut counters = Map::new();
        for (stage, workers) in &self.counters {
            let mut w = Map::new();
            for (worker, c) in workers {
                w.insert(worker.to_string(), c.to_report_json());
            }
            counters.insert(stage.to_string(), Value::Object(w));
        }
        Value::Object(counters)
    }

    /// `payload.results` of a SELECT: its signature, SQL types and first rows.
    fn results_json(&self) -> Option<Value> {
        let (schema, batches) = self.results.as_ref()?;
        let total: usize = batches.iter().map(|b| b.num_rows()).sum();
        let signature = Signature::from_schema(schema);
        let sql_types: Vec<&str> = schema
            .fields()
            .iter()
            .map(|f| ColumnType::sql_type_name_of(f))
            .collect();
        let mut results = json!({
            "signature": signature,
            "sqlTypeNames": sql_types,
            "results": rows_json(batches, MAX_REPORT_ROWS),
            "resultsTruncated": total > MAX_REPORT_ROWS,
        });
        if let Some(pages) = &self.result_pages {
            // msq-rs's addition: the pages in deep storage (Druid derives them from counters).
            results["pages"] = json!(pages);
        }
        Some(results)
    }
}
