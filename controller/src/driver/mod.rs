//! Drives one query: starts stages as their inputs become ready, hands work orders to
//! workers, turns worker messages into kernel events, publishes segments or collects
//! results, and keeps the live report current. Every decision (which workers run what,
//! relaunches, boundaries, the ingestion rules) is the pure `QueryKernel`'s; the driver
//! only does the I/O it asks for.
//!
//! - [`stages`]: starting stages and sending work orders, cleaning up finished stages.
//! - [`messages`]: worker messages as kernel events.
//! - [`workers`]: launching, relaunching and stopping workers.
//! - [`locks`]: time-chunk locks and segment allocation.
//! - [`outcome`]: results, publishing, and settling success or failure.

mod locks;
mod messages;
mod outcome;
mod stages;
mod worker_dirs;
mod workers;

use crate::events::{Event, EventKind};
use crate::launcher::{LaunchContext, LaunchedWorker, Runner, RunnerKind};
use crate::report::{LiveReport, QueryStatus, ReportState, StageEntry, WorkerEntry};
use arrow::record_batch::RecordBatch;
use msq_engine::context::QueryContext;
use msq_engine::granularity::format_millis;
pub use msq_engine::ids::worker_task_id;
use msq_engine::kernel::{ControllerStagePhase, QueryKernel};
use msq_engine::metadata::{MetadataStore, SegmentRecord};
use msq_engine::protocol::{OutputLocation, WorkOrder};
use msq_engine::stage::{QueryDefinition, StageDefinition};
use msq_engine::{MsqError, Result};
use msq_rows::scratch::TaskScratch;
use msq_rows::shuffle::InProcessShuffle;
use msq_sql::planner::PlannedStatement;
use object_store::ObjectStore;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, watch};
use worker_dirs::WorkerDirs;

/// Services a query runs against.
#[derive(Clone)]
pub struct QueryEnv {
    pub metadata: Arc<dyn MetadataStore>,
    pub deep_storage: Arc<dyn ObjectStore>,
    pub spill_dir: PathBuf,
    /// Temporary storage per task in bytes (0: no limit): spill files past it fail the task
    /// with `NotEnoughTemporaryStorage`.
    pub max_temp_storage_bytes: u64,
    /// Most SELECT result rows the controller keeps (none: all). The server keeps one more
    /// than its report shows, so the report knows it was truncated.
    pub max_result_rows: Option<usize>,
    /// How workers are started.
    pub runner: Runner,
    /// Routes HTTP workers' messages to the driver.
    pub hub: Arc<crate::worker_protocol::ControllerHub>,
    /// Base URL of the controller endpoints, for HTTP workers.
    pub controller_url: Option<String>,
    /// Where a SELECT's rows go as they are read from the final stage (interactive queries,
    /// durable result pages), in order, instead of being collected: nothing is capped or
    /// kept, and the query waits while the receiver is full. A dropped receiver cancels the
    /// query. The final stage then holds little of its output (`kernel::streams_live`,
    /// `kernel::output_buffer_bytes`).
    pub result_sink: Option<ResultSink>,
}

/// Where a SELECT's rows are sent, batch by batch (see [`QueryEnv::result_sink`]).
pub type ResultSink = mpsc::Sender<RecordBatch>;

/// What a finished query produced.
#[derive(Debug, Default)]
pub struct QueryOutcome {
    /// SELECT results, in order.
    pub results: Option<Vec<RecordBatch>>,
    /// Segments published (tombstones included).
    pub segments: Vec<SegmentRecord>,
    pub rows_written: u64,
}

/// The state of one running query: the kernel (every decision) and what the I/O needs.
struct Driver<'a> {
    planned: &'a PlannedStatement,
    query: &'a QueryDefinition,
    ctx: &'a QueryContext,
    env: &'a QueryEnv,
    task_id: &'a str,
    report: LiveReport,
    kernel: QueryKernel,
    shuffle: Arc<InProcessShuffle>,
    launch: LaunchContext,
    /// The current attempt of each worker (attempt numbers are the kernel's).
    slots: Vec<LaunchedWorker>,
    /// Work orders sent, for re-sending to a relaunched worker.
    orders: BTreeMap<(usize, usize), WorkOrder>,
    /// Where each worker's output of each stage is.
    locations: BTreeMap<usize, BTreeMap<usize, OutputLocation>>,
    /// Worker messages handled (controller load).
    messages: u64,
    work_orders: u64,
    segments: Vec<SegmentRecord>,
    /// The task's scratch directory (spill files of embedded workers, staged results).
    scratch_dir: PathBuf,
    /// Version of new time chunks: the REPLACE lock's version, or the task's start time.
    version: String,
    /// Flips to true when the query is cancelled (checked while waiting for locks).
    cancel: watch::Receiver<bool>,
    /// `taskLockTimeout`.
    lock_timeout: std::time::Duration,
    /// Whether the metadata store has (or may have) time-chunk locks of this task.
    holds_locks: bool,
    /// Forwards a live final stage's rows to the result sink (`kernel::streams_live`).
    live: Option<tokio::task::JoinHandle<Result<()>>>,
}

/// Runs a planned statement to completion (or failure), updating `report` as it goes.
/// `cancel` flips to true to cancel the query.
pub async fn run_query(
    planned: &PlannedStatement,
    ctx: &QueryContext,
    env: &QueryEnv,
    task_id: &str,
    report: LiveReport,
    cancel: watch::Receiver<bool>,
) -> Result<QueryOutcome> {
    // The task's scratch directory `<spill_dir>/<taskId>` and its temporary-storage account;
    // both guards remove what they cover when dropped at the end of this function, whatever
    // the outcome (after workers are released).
    let scratch = TaskScratch::acquire(&env.spill_dir, task_id, env.max_temp_storage_bytes);
    let _worker_dirs = WorkerDirs {
        base: (env.runner.kind == RunnerKind::Process).then(|| env.runner.tmp_dir.clone()),
        task_id,
        workers: ctx.worker_count(),
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _route = env.hub.register(task_id, tx.clone());
    let mut d = Driver::new(planned, ctx, env, task_id, report, tx, cancel.clone());
    d.scratch_dir = scratch.as_ref().map(|s| s.dir().to_path_buf()).unwrap_or_default();
    let result = match scratch.as_ref() {
        Ok(_) => d.run(&mut rx, cancel).await,
        Err(e) => Err(e.clone()),
    };
    tracing::info!(
        task_id,
        workers = d.slots.len(),
        stages = d.query.stages.len(),
        work_orders = d.work_orders,
        worker_messages = d.messages,
        relaunches = d.kernel.relaunches(),
        "query ended"
    );
    match result {
        Ok(outcome) => {
            d.succeeded().await;
            Ok(outcome)
        }
        Err(e) => Err(d.failed(e).await),
    }
}

impl<'a> Driver<'a> {
    /// A driver for `planned`, its report showing every worker requested and every stage NEW.
    fn new(
        planned: &'a PlannedStatement,
        ctx: &'a QueryContext,
        env: &'a QueryEnv,
        task_id: &'a str,
        report: LiveReport,
        events: mpsc::UnboundedSender<Event>,
        cancel: watch::Receiver<bool>,
    ) -> Self {
        let query = &planned.query;
        let shuffle = InProcessShuffle::new();
        let launch = LaunchContext {
            task_id: task_id.to_string(),
            query_id: query.query_id.clone(),
            events,
            shuffle: shuffle.clone(),
            deep_storage: env.deep_storage.clone(),
            controller_url: env.controller_url.clone(),
        };
        let d = Driver {
            planned,
            query,
            ctx,
            env,
            task_id,
            report,
            kernel: QueryKernel::for_query(query, ctx, task_id),
            shuffle,
            launch,
            slots: Vec::new(),
            orders: BTreeMap::new(),
            locations: BTreeMap::new(),
            messages: 0,
            work_orders: 0,
            segments: Vec::new(),
            scratch_dir: PathBuf::new(),
            version: format_millis(chrono::Utc::now().timestamp_millis()),
            cancel,
            lock_timeout: std::time::Duration::ZERO,
            holds_locks: false,
            live: None,
        };
        d.init_report();
        d
    }

    fn init_report(&self) {
        let mut r = ReportState::lock(&self.report);
        let now = Instant::now();
        r.workers = (0..self.ctx.worker_count())
            .map(|w| WorkerEntry {
                worker_number: w,
                worker_id: worker_task_id(self.task_id, w, 0),
                status: QueryStatus::Running,
                requested: now,
                started: None,
                finished: None,
            })
            .collect();
        r.stages = self
            .query
            .stages
            .iter()
            .map(|s| StageEntry {
                definition: s.to_report_json(&serde_json::Value::Object(self.ctx.raw.clone())),
                phase: ControllerStagePhase::New,
                worker_count: None,
                partition_count: None,
                start_time: None,
                started: None,
                finished: None,
                sort: s.sorts(),
            })
            .collect();
    }

    /// Locks what a REPLACE overwrites, launches the workers, starts stages as the kernel
    /// finds them ready and feeds it worker messages until the final stage's results are
    /// ready; then collects or publishes them.
    async fn run(
        &mut self,
        rx: &mut mpsc::UnboundedReceiver<Event>,
        mut cancel: watch::Receiver<bool>,
    ) -> Result<QueryOutcome> {
        self.lock_timeout = crate::locking::lock_timeout(self.ctx)?;
        self.lock_replaced_intervals().await?;
        self.launch_workers(self.ctx.worker_count()).await?;
        let last = self.query.stages.len() - 1;
        let mut renew = tokio::time::interval(crate::locking::RENEW_EVERY);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            for n in self.kernel.ready_to_start() {
                self.start_stage(n).await?;
            }
            self.finish_unneeded(false).await;
            if self.kernel.phase(last).is_success() {
                break;
            }
            tokio::select! {
                ev = rx.recv() => match ev {
                    Some(ev) => {
                        self.messages += 1;
                        self.handle(ev).await?
                    }
                    None => return Err(MsqError::Unknown("all workers are gone".into())),
                },
                changed = cancel.changed() => {
                    if changed.is_err() || *cancel.borrow() {
                        return Err(MsqError::Canceled);
                    }
                }
                _ = renew.tick() => self.renew_locks().await,
            }
        }
        // Drain counter snapshots that arrived with the last completion.
        while let Ok(ev) = rx.try_recv() {
            if let (EventKind::Counters(s, c), true) = (ev.kind, self.kernel.is_current(ev.worker, ev.attempt)) {
                self.set_counters(s, ev.worker, *c);
            }
        }
        let outcome = self.complete().await?;
        self.finish_unneeded(true).await;
        Ok(outcome)
    }

    fn stage(&self, n: usize) -> &Arc<StageDefinition> {
        &self.query.stages[n]
    }
}
