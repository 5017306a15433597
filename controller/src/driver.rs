//! Drives one query: starts stages as their inputs become ready, hands work orders to
//! workers, turns worker messages into kernel transitions, publishes segments or collects
//! results, and keeps the live report current. Decisions live in the pure `QueryKernel`.

use crate::events::{Event, EventKind};
use crate::launcher::{LaunchContext, LaunchedWorker, Runner, RunnerKind};
use crate::publish::{
    assign_ids, bucket_interval, chunk_out_of_bounds, chunk_requests, finalize_shard_specs, tombstones, ShardChoice,
};
use crate::report::{ErrorEntry, LiveReport, QueryStatus, ReportState, StageEntry, WorkerEntry};
use arrow::record_batch::RecordBatch;
use datafusion::physical_plan::ExecutionPlan;
use futures::StreamExt;
use msq_engine::context::QueryContext;
use msq_engine::counters::StageCounters;
use msq_engine::exec::ExternalScanExec;
use msq_engine::granularity::{format_millis, Interval};
pub use msq_engine::ids::worker_task_id;
use msq_engine::input::assign_splits;
use msq_engine::kernel::query::KernelAction;
use msq_engine::kernel::{ControllerStagePhase, QueryKernel, StageShape};
use msq_engine::keystats::RangePartitions;
use msq_engine::metadata::{AllocateRequest, LockType, MetadataStore, SegmentId, SegmentPublish, SegmentRecord};
use msq_engine::protocol::{InputStageLocation, OutputLocation, WorkOrder, WorkerClient, WorkerSettings};
use msq_engine::scratch::TaskScratch;
use msq_engine::shuffle::located::durable_query_prefix;
use msq_engine::shuffle::{InProcessShuffle, LocatedFetcher, ShuffleFetcher};
use msq_engine::stage::{QueryDefinition, ShuffleSpec, StageDefinition, StageProcessor};
use msq_engine::{MsqError, Result};
use msq_sql::planner::PlannedStatement;
use msq_sql::statement::StatementKind;
use object_store::{ObjectStore, ObjectStoreExt};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, watch};

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
    pub hub: Arc<crate::controller_api::ControllerHub>,
    /// Base URL of the controller endpoints, for HTTP workers.
    pub controller_url: Option<String>,
}

/// What a finished query produced.
#[derive(Debug, Default)]
pub struct QueryOutcome {
    /// SELECT results, in order.
    pub results: Option<Vec<RecordBatch>>,
    /// Segments published (tombstones included).
    pub segments: Vec<SegmentRecord>,
    pub rows_written: u64,
}

/// Druid's relaunch limits under fault tolerance.
pub const MAX_RELAUNCHES_PER_WORKER: u32 = 2;
pub const MAX_RELAUNCHES_PER_JOB: u32 = 100;

/// A stage ready to send: its definition, partitions per worker, segments to write.
type StagePlan = (Arc<StageDefinition>, Vec<Vec<usize>>, Vec<(usize, SegmentId)>);

/// One worker slot of the query: its current attempt.
struct Slot {
    launched: LaunchedWorker,
    attempt: u32,
}

impl Slot {
    fn client(&self) -> &Arc<dyn WorkerClient> {
        &self.launched.client
    }
}

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
    slots: Vec<Slot>,
    /// Workers running each stage (worker numbers).
    stage_workers: BTreeMap<usize, Vec<usize>>,
    /// Work orders sent, for re-sending to a relaunched worker.
    orders: BTreeMap<(usize, usize), WorkOrder>,
    /// Where each worker's output of each stage is.
    locations: BTreeMap<usize, BTreeMap<usize, OutputLocation>>,
    relaunches: u32,
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
}

/// Runs a planned statement to completion (or failure), updating `report` as it goes.
/// `cancel` flips to true to cancel the query.
pub async fn run_query(
    planned: &PlannedStatement,
    ctx: &QueryContext,
    env: &QueryEnv,
    task_id: &str,
    report: LiveReport,
    mut cancel: watch::Receiver<bool>,
) -> Result<QueryOutcome> {
    let query = &planned.query;
    let worker_count = ctx.worker_count();
    // The task's scratch directory `<spill_dir>/<taskId>` and its temporary-storage account;
    // both guards remove what they cover when dropped at the end of this function, whatever
    // the outcome (after workers are released).
    let scratch = TaskScratch::acquire(&env.spill_dir, task_id, env.max_temp_storage_bytes);
    let scratch_dir = scratch.as_ref().map(|s| s.dir().to_path_buf()).unwrap_or_default();
    let _worker_dirs = WorkerDirs {
        base: (env.runner.kind == RunnerKind::Process).then(|| env.runner.tmp_dir.clone()),
        task_id,
        workers: worker_count,
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _route = env.hub.register(task_id, tx.clone());
    let shuffle = InProcessShuffle::new();
    let launch = LaunchContext {
        task_id: task_id.to_string(),
        query_id: query.query_id.clone(),
        events: tx,
        shuffle: shuffle.clone(),
        deep_storage: env.deep_storage.clone(),
        controller_url: env.controller_url.clone(),
    };
    {
        let mut r = ReportState::lock(&report);
        let now = Instant::now();
        r.workers = (0..worker_count)
            .map(|w| WorkerEntry {
                worker_number: w,
                worker_id: worker_task_id(task_id, w, 0),
                status: QueryStatus::Running,
                requested: now,
                started: None,
                finished: None,
            })
            .collect();
        r.stages = query
            .stages
            .iter()
            .map(|s| StageEntry {
                definition: s.to_report_json(&serde_json::Value::Object(ctx.raw.clone())),
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
    let shapes = query
        .stages
        .iter()
        .map(|s| StageShape {
            inputs: s.input_stages(),
            worker_count: 0,
            range_target: match &s.shuffle {
                Some(ShuffleSpec::Range(r)) => Some(r.target),
                _ => None,
            },
            fixed_partitions: s.shuffle.as_ref().and_then(|sh| sh.fixed_partition_count()),
            sorts: s.sorts(),
        })
        .collect();
    let mut d = Driver {
        planned,
        query,
        ctx,
        env,
        task_id,
        report: report.clone(),
        kernel: QueryKernel::new(shapes),
        shuffle,
        launch,
        slots: Vec::new(),
        stage_workers: BTreeMap::new(),
        orders: BTreeMap::new(),
        locations: BTreeMap::new(),
        relaunches: 0,
        messages: 0,
        work_orders: 0,
        segments: Vec::new(),
        scratch_dir,
        version: format_millis(chrono::Utc::now().timestamp_millis()),
        cancel: cancel.clone(),
        lock_timeout: std::time::Duration::ZERO,
        holds_locks: false,
    };

    let result: Result<QueryOutcome> = async {
        scratch.as_ref().map_err(Clone::clone)?;
        d.lock_timeout = crate::locking::lock_timeout(ctx)?;
        d.lock_replaced_intervals().await?;
        d.launch_workers(worker_count).await?;
        let last = query.stages.len() - 1;
        let mut renew = tokio::time::interval(crate::locking::RENEW_EVERY);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            for n in d.kernel.ready_to_start() {
                d.start_stage(n).await?;
            }
            d.finish_unneeded(false).await;
            if d.kernel.phase(last).is_success() {
                break;
            }
            tokio::select! {
                ev = rx.recv() => match ev {
                    Some(ev) => {
                        d.messages += 1;
                        d.handle(ev).await?
                    }
                    None => return Err(MsqError::Unknown("all workers are gone".into())),
                },
                changed = cancel.changed() => {
                    if changed.is_err() || *cancel.borrow() {
                        return Err(MsqError::Canceled);
                    }
                }
                _ = renew.tick() => d.renew_locks().await,
            }
        }
        // Drain counter snapshots that arrived with the last completion.
        while let Ok(ev) = rx.try_recv() {
            if let (EventKind::Counters(s, c), true) = (ev.kind, d.is_current(ev.worker, ev.attempt)) {
                d.set_counters(s, ev.worker, *c);
            }
        }
        let outcome = d.complete().await?;
        d.finish_unneeded(true).await;
        Ok(outcome)
    }
    .await;

    tracing::info!(
        task_id,
        workers = d.slots.len(),
        stages = query.stages.len(),
        work_orders = d.work_orders,
        worker_messages = d.messages,
        relaunches = d.relaunches,
        "query ended"
    );
    match result {
        Ok(outcome) => {
            d.release_locks().await;
            d.release_workers().await;
            let mut r = ReportState::lock(&report);
            let now = Instant::now();
            for w in &mut r.workers {
                if w.status == QueryStatus::Running {
                    w.status = QueryStatus::Success;
                    w.finished = Some(now);
                }
            }
            r.status = QueryStatus::Success;
            r.finished = Some(now);
            Ok(outcome)
        }
        Err(e) => {
            for slot in &d.slots {
                let _ = slot.client().post_cancel().await;
            }
            d.release_workers().await;
            d.cleanup_failed().await;
            let now = Instant::now();
            let mut r = ReportState::lock(&report);
            d.kernel.fail_running();
            for (n, s) in r.stages.iter_mut().enumerate() {
                s.phase = d.kernel.phase(n);
                if s.started.is_some() && s.finished.is_none() {
                    s.finished = Some(now);
                }
            }
            for w in &mut r.workers {
                if w.status == QueryStatus::Running {
                    w.status = QueryStatus::Failed;
                    w.finished = Some(now);
                }
            }
            if r.error.is_none() {
                r.error = Some(ErrorEntry {
                    error: e.clone(),
                    task_id: task_id.to_string(),
                    stage_number: None,
                });
            }
            r.status = QueryStatus::Failed;
            r.finished = Some(now);
            Err(r.error.as_ref().map(|x| x.error.clone()).unwrap_or(e))
        }
    }
}

impl Driver<'_> {
    fn stage(&self, n: usize) -> &Arc<StageDefinition> {
        &self.query.stages[n]
    }

    fn worker_id(&self, w: usize) -> String {
        worker_task_id(self.task_id, w, self.slots.get(w).map_or(0, |s| s.attempt))
    }

    /// Whether a message comes from the current attempt of worker `w`.
    fn is_current(&self, w: usize, attempt: u32) -> bool {
        self.slots.get(w).is_some_and(|s| s.attempt == attempt)
    }

    /// Starts the query's workers (concurrently).
    async fn launch_workers(&mut self, count: usize) -> Result<()> {
        let runner = self.env.runner.clone();
        let launches = (0..count).map(|w| runner.launch(&self.launch, w, 0));
        let launched = futures::future::join_all(launches).await;
        let now = Instant::now();
        for (w, l) in launched.into_iter().enumerate() {
            match l {
                Ok(l) => {
                    self.slots.push(Slot {
                        launched: l,
                        attempt: 0,
                    });
                    let mut r = ReportState::lock(&self.report);
                    if let Some(e) = r.workers.iter_mut().find(|e| e.worker_number == w) {
                        e.started = Some(now);
                    }
                }
                Err(e) => {
                    for s in &mut self.slots {
                        s.launched.shutdown().await;
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Tells workers the query ended and stops them.
    async fn release_workers(&mut self) {
        for slot in &mut self.slots {
            let _ = slot.launched.client.post_finish().await;
            slot.launched.shutdown().await;
        }
        if self.ctx.durable_shuffle_storage {
            delete_prefix(&self.env.deep_storage, &durable_query_prefix(&self.query.query_id)).await;
        }
    }

    /// Worker `w` failed or stopped answering. With fault tolerance, starts a new attempt and
    /// re-sends the work it had not finished; otherwise fails the query.
    async fn worker_failed(&mut self, w: usize, failure: MsqError) -> Result<()> {
        let attempt = self.slots[w].attempt;
        let message = failure.to_string();
        if !self.ctx.fault_tolerance {
            return Err(failure);
        }
        if attempt >= MAX_RELAUNCHES_PER_WORKER {
            return Err(MsqError::TooManyAttemptsForWorker {
                max_per_worker_relaunch: MAX_RELAUNCHES_PER_WORKER,
                task_id: self.worker_id(w),
                worker_number: w,
                root_error_message: message,
            });
        }
        if self.relaunches >= MAX_RELAUNCHES_PER_JOB {
            return Err(MsqError::TooManyAttemptsForJob {
                max_relaunch_count: MAX_RELAUNCHES_PER_JOB,
                current_relaunch_count: self.relaunches + 1,
                task_id: self.worker_id(w),
                root_error_message: message,
            });
        }
        tracing::warn!("relaunching worker {} after: {message}", self.worker_id(w));
        self.relaunches += 1;
        self.slots[w].launched.shutdown().await;
        let next = attempt + 1;
        let now = Instant::now();
        {
            let mut r = ReportState::lock(&self.report);
            for e in r.workers.iter_mut().filter(|e| e.worker_number == w) {
                if e.status == QueryStatus::Running {
                    e.status = QueryStatus::Failed;
                    e.finished = Some(now);
                }
            }
            r.workers.push(WorkerEntry {
                worker_number: w,
                worker_id: worker_task_id(self.task_id, w, next),
                status: QueryStatus::Running,
                requested: now,
                started: None,
                finished: None,
            });
        }
        let launched = self.env.runner.launch(&self.launch, w, next).await?;
        self.slots[w] = Slot {
            launched,
            attempt: next,
        };
        {
            let mut r = ReportState::lock(&self.report);
            if let Some(e) = r.workers.iter_mut().rev().find(|e| e.worker_number == w) {
                e.started = Some(Instant::now());
            }
        }
        // Re-run the work the lost attempt had not finished.
        let unfinished: Vec<(usize, WorkOrder)> = self
            .orders
            .iter()
            .filter(|((stage, worker), _)| {
                *worker == w && self.kernel.phase(*stage).is_running() && !self.kernel.worker_complete(*stage, w)
            })
            .map(|((stage, _), o)| (*stage, o.clone()))
            .collect();
        for (stage, mut order) in unfinished {
            self.kernel.reset_worker(stage, w);
            order.attempt = next;
            self.orders.insert((stage, w), order.clone());
            self.slots[w].client().post_work_order(order).await?;
            if let Some(b) = self.kernel.stages[stage].partitions.clone() {
                if self
                    .stage(stage)
                    .shuffle
                    .as_ref()
                    .is_some_and(|s| matches!(s, ShuffleSpec::Range(_)))
                {
                    self.slots[w]
                        .client()
                        .post_result_partition_boundaries(stage, b)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Where to read stage `n`'s output.
    fn input_location(&self, n: usize) -> InputStageLocation {
        let def = self.stage(n);
        InputStageLocation {
            schema: def.schema.clone(),
            partition_count: self.kernel.stages[n].partition_count.unwrap_or(1),
            sort: def.shuffle.as_ref().and_then(|s| s.sort().map(|s| s.to_vec())),
            sources: self
                .locations
                .get(&n)
                .map(|m| m.values().cloned().collect())
                .unwrap_or_default(),
        }
    }

    fn settings(&self) -> WorkerSettings {
        WorkerSettings {
            memory_budget: self.ctx.worker_memory_bytes,
            batch_size: self.ctx.rows_per_frame,
            max_parse_exceptions: self.ctx.max_parse_exceptions,
            spill_dir: self.scratch_dir.clone(),
            durable_shuffle: self.ctx.durable_shuffle_storage,
            max_temp_storage_bytes: self.env.max_temp_storage_bytes,
        }
    }

    fn update_report_stage(&self, n: usize) {
        let mut r = ReportState::lock(&self.report);
        let phase = self.kernel.phase(n);
        let s = &mut r.stages[n];
        s.phase = phase;
        s.partition_count = self.kernel.stages[n].partition_count;
        if s.finished.is_none() && phase.is_success() {
            s.finished = Some(Instant::now());
        }
    }

    fn set_counters(&self, stage: usize, worker: usize, c: StageCounters) {
        let mut r = ReportState::lock(&self.report);
        r.counters.entry(stage).or_default().insert(worker, c);
    }

    /// Assigns input splits to external scans of a stage's fragment.
    async fn resolve_inputs(&self, plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
        if let Some(e) = plan.downcast_ref::<ExternalScanExec>() {
            let e = e.clone();
            let resolved = msq_engine::blocking(move || -> Result<ExternalScanExec> {
                let splits = e.source.splits()?;
                let total = splits.len();
                let max = msq_engine::stage::MAX_INPUT_FILES_PER_WORKER;
                let parts = assign_splits(splits, e.partitions, Some(max));
                if parts.iter().any(|p| p.len() > max) {
                    return Err(MsqError::TooManyInputFiles {
                        num_input_files: total,
                        max_input_files: max,
                        min_num_worker: total.div_ceil(max),
                    });
                }
                Ok(e.with_splits(parts))
            })
            .await?;
            return Ok(Arc::new(resolved));
        }
        let children: Vec<Arc<dyn ExecutionPlan>> = plan.children().into_iter().cloned().collect();
        if children.is_empty() {
            return Ok(plan);
        }
        let mut new_children = Vec::with_capacity(children.len());
        for c in children {
            new_children.push(Box::pin(self.resolve_inputs(c)).await?);
        }
        Ok(datafusion::physical_plan::execution_plan::replace_children_if_necessary(plan, new_children)?)
    }

    async fn start_stage(&mut self, n: usize) -> Result<()> {
        let def = self.stage(n).clone();
        let total_workers = self.slots.len();
        let (order_stage, assignments, segments): StagePlan = match &def.processor {
            StageProcessor::Plan { kind, plan } => {
                let partitions = plan.properties().output_partitioning().partition_count().max(1);
                let wc = partitions.min(total_workers).max(1);
                let mut assign = vec![Vec::new(); wc];
                for p in 0..partitions {
                    assign[p % wc].push(p);
                }
                let plan = self.resolve_inputs(plan.clone()).await?;
                let mut d2 = (*def).clone();
                d2.processor = StageProcessor::Plan { kind: *kind, plan };
                (Arc::new(d2), assign, vec![])
            }
            StageProcessor::SegmentGenerator(spec) => {
                let input = def.input_stages()[0];
                let ranges = self.kernel.stages[input]
                    .partitions
                    .clone()
                    .unwrap_or(RangePartitions { ranges: vec![] });
                let ids = self.allocate(spec, &ranges).await?;
                let wc = ids.len().min(total_workers);
                let mut assign = vec![Vec::new(); wc];
                for (k, (p, _)) in ids.iter().enumerate() {
                    assign[k % wc].push(*p);
                }
                (def.clone(), assign, ids)
            }
        };
        let total_workers = self.slots.len();
        let wc = assignments.len().min(total_workers);
        self.kernel.stages[n].shape.worker_count = wc;
        if matches!(def.processor, StageProcessor::SegmentGenerator(_)) {
            self.kernel.stages[n].partition_count = Some(segments.len());
        }
        self.kernel.start_stage(n)?;
        self.stage_workers.insert(n, (0..wc).collect());
        {
            let mut r = ReportState::lock(&self.report);
            let s = &mut r.stages[n];
            s.phase = ControllerStagePhase::ReadingInput;
            s.worker_count = Some(wc);
            s.start_time = Some(chrono::Utc::now().timestamp_millis());
            s.started = Some(Instant::now());
            s.partition_count = self.kernel.stages[n].partition_count;
        }
        if wc == 0 {
            // Nothing to do (e.g. no segments to write): the stage is trivially complete.
            self.kernel.stages[n].shape.worker_count = 0;
            self.kernel.worker_results_complete(n, usize::MAX, &[])?;
            self.update_report_stage(n);
            return Ok(());
        }
        let settings = self.settings();
        let inputs: BTreeMap<usize, InputStageLocation> = def
            .input_stages()
            .into_iter()
            .map(|i| (i, self.input_location(i)))
            .collect();
        for (w, parts) in assignments.into_iter().enumerate() {
            let segs: Vec<(usize, SegmentId)> = segments.iter().filter(|(p, _)| parts.contains(p)).cloned().collect();
            let order = WorkOrder {
                query_id: self.query.query_id.clone(),
                stage: order_stage.clone(),
                worker_number: w,
                worker_count: wc,
                partitions: parts,
                segments: segs,
                settings: settings.clone(),
                inputs: inputs.clone(),
                attempt: self.slots[w].attempt,
            };
            self.orders.insert((n, w), order.clone());
            self.work_orders += 1;
            if let Err(e) = self.slots[w].client().post_work_order(order).await {
                self.worker_failed(w, e).await?;
            }
        }
        Ok(())
    }

    async fn handle(&mut self, ev: Event) -> Result<()> {
        let Event {
            worker: w,
            attempt,
            kind,
        } = ev;
        if !self.is_current(w, attempt) {
            // A replaced attempt: whatever it says no longer counts.
            return Ok(());
        }
        match kind {
            EventKind::Counters(s, c) => self.set_counters(s, w, *c),
            EventKind::KeyStats(s, stats) => {
                if let KernelAction::SendBoundaries(b) = self.kernel.add_key_statistics(s, w, stats)? {
                    self.check_chunks(s, &b)?;
                    self.update_report_stage(s);
                    for w in self.stage_workers.get(&s).cloned().unwrap_or_default() {
                        if let Err(e) = self.slots[w]
                            .client()
                            .post_result_partition_boundaries(s, b.clone())
                            .await
                        {
                            self.worker_failed(w, e).await?;
                        }
                    }
                }
                self.update_report_stage(s);
            }
            EventKind::DoneReading(s) => {
                self.kernel.worker_done_reading(s, w)?;
                self.update_report_stage(s);
            }
            EventKind::Complete(s, result) => {
                if self.kernel.worker_complete(s, w) {
                    return Ok(());
                }
                self.segments.extend(result.segments);
                if let Some(loc) = result.location {
                    self.locations.entry(s).or_default().insert(w, loc);
                }
                let ready = self.kernel.worker_results_complete(s, w, &result.partition_rows)?;
                self.update_report_stage(s);
                if ready {
                    self.on_stage_ready(s)?;
                }
            }
            EventKind::Lost(message) => {
                let e = MsqError::WorkerFailed {
                    worker_task_id: self.worker_id(w),
                    message,
                };
                self.worker_failed(w, e).await?;
            }
            EventKind::Error(s, e) => {
                if self.ctx.fault_tolerance && !e.is_user_error() && !matches!(e, MsqError::Canceled) {
                    return self.worker_failed(w, e).await;
                }
                let mut r = ReportState::lock(&self.report);
                r.error = Some(ErrorEntry {
                    error: e.clone(),
                    task_id: worker_task_id(self.task_id, w, attempt),
                    stage_number: Some(s),
                });
                if let MsqError::TooManyWarnings { root_error, .. } = &e {
                    let host = r.host.clone();
                    r.warnings.push(serde_json::json!({
                        "taskId": worker_task_id(self.task_id, w, attempt),
                        "host": host,
                        "stageNumber": s,
                        "error": root_error.to_fault(),
                    }));
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Checks of the segment-generation input once its time chunks are known.
    fn check_chunks(&self, stage: usize, b: &RangePartitions) -> Result<()> {
        let Some(spec) = self.segment_spec_reading(stage) else {
            return Ok(());
        };
        if let Some(replace) = &spec.replace {
            let chunks: Vec<Interval> = b
                .ranges
                .iter()
                .map(|r| bucket_interval(spec.granularity, r.bucket))
                .collect();
            if let Some(c) = chunk_out_of_bounds(&chunks, replace) {
                return Err(MsqError::InsertTimeOutOfBounds { interval: c.to_iso() });
            }
        }
        Ok(())
    }

    fn segment_spec_reading(&self, stage: usize) -> Option<&msq_engine::stage::SegmentGeneratorSpec> {
        self.query.stages.iter().find_map(|s| match &s.processor {
            StageProcessor::SegmentGenerator(spec) if s.input_stages().contains(&stage) => Some(spec),
            _ => None,
        })
    }

    fn on_stage_ready(&mut self, s: usize) -> Result<()> {
        if let Some(spec) = self.segment_spec_reading(s) {
            let rows: u64 = self.kernel.stages[s].partition_rows.iter().sum();
            if rows == 0 {
                let fail = self.ctx.fail_on_empty_insert.unwrap_or(spec.replace.is_none());
                if fail {
                    return Err(MsqError::InsertCannotBeEmpty {
                        data_source: spec.data_source.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    async fn finish_unneeded(&mut self, final_consumed: bool) {
        for n in self.kernel.stages_to_finish(final_consumed) {
            if self.kernel.finish_stage(n).is_ok() {
                self.shuffle.remove_stage(n);
                for w in self.stage_workers.get(&n).cloned().unwrap_or_default() {
                    let _ = self.slots[w].client().post_cleanup_stage(n).await;
                }
                let mut r = ReportState::lock(&self.report);
                r.stages[n].phase = ControllerStagePhase::Finished;
                if r.stages[n].finished.is_none() {
                    r.stages[n].finished = Some(Instant::now());
                }
            }
        }
    }

    /// The final stage is ready: collect results or publish segments.
    async fn complete(&mut self) -> Result<QueryOutcome> {
        let last = self.query.stages.len() - 1;
        match self.planned.kind {
            StatementKind::Select => {
                let parts = self.kernel.stages[last].partition_count.unwrap_or(1);
                let fetcher = LocatedFetcher {
                    query_id: self.query.query_id.clone(),
                    inputs: BTreeMap::from([(last, self.input_location(last))]),
                    local: self.shuffle.clone(),
                    durable: Some(self.env.deep_storage.clone()),
                    auth: self.env.runner.auth.clone(),
                    scratch: self.scratch_dir.join("results"),
                };
                let mut batches = Vec::new();
                let mut kept = 0usize;
                'read: for p in 0..parts {
                    let mut stream = fetcher.read_partition(last, p, self.ctx.rows_per_frame)?;
                    while let Some(b) = stream.next().await {
                        let mut b = b.map_err(MsqError::from)?;
                        if let Some(cap) = self.env.max_result_rows {
                            // Past the cap nothing more is read (Druid truncates reports the same way).
                            if kept >= cap {
                                break 'read;
                            }
                            b = b.slice(0, b.num_rows().min(cap - kept));
                        }
                        if b.num_rows() > 0 {
                            kept += b.num_rows();
                            batches.push(b);
                        }
                    }
                }
                let schema = self.planned.output_schema.clone();
                // Results carry the statement's column names.
                let batches: Vec<RecordBatch> = batches
                    .into_iter()
                    .map(|b| RecordBatch::try_new(schema.clone(), b.columns().to_vec()).unwrap_or(b))
                    .collect();
                ReportState::lock(&self.report).results = Some((schema, batches.clone()));
                Ok(QueryOutcome {
                    results: Some(batches),
                    ..Default::default()
                })
            }
            StatementKind::Insert | StatementKind::Replace => self.publish().await,
        }
    }

    async fn publish(&mut self) -> Result<QueryOutcome> {
        let spec = match &self.stage(self.query.stages.len() - 1).processor {
            StageProcessor::SegmentGenerator(spec) => spec.clone(),
            _ => return Err(MsqError::Unknown("ingestion without a segment generator".into())),
        };
        let mut segments = std::mem::take(&mut self.segments);
        segments.sort_by_key(|a| (a.id.interval, a.id.partition_num));
        let last = self.query.stages.len() - 1;
        let schema = match self.stage(last).input_stages().first() {
            Some(i) => self.stage(*i).schema.clone(),
            None => self.stage(last).schema.clone(),
        };
        let choice = ShardChoice::decide(spec.replace.is_some(), &spec.cluster_by, &schema);
        finalize_shard_specs(&mut segments, &choice);
        if let Some(replace) = &spec.replace {
            let md = self.env.metadata.clone();
            let ds = spec.data_source.clone();
            let existing = msq_engine::blocking(move || md.used_segments(&ds, None)).await?;
            let new_chunks: BTreeSet<Interval> = segments.iter().map(|s| s.id.interval).collect();
            let mut ts = tombstones(
                &spec.data_source,
                &existing,
                replace,
                spec.granularity,
                &new_chunks,
                &self.version,
            )?;
            segments.append(&mut ts);
        }
        for s in &mut segments {
            s.used = true;
        }
        let rows_written: u64 = segments.iter().map(|s| s.num_rows).sum();
        let publish = SegmentPublish {
            data_source: spec.data_source.clone(),
            task_id: self.task_id.to_string(),
            segments: segments.clone(),
            replace: spec.replace.clone(),
            lock: Some(if spec.replace.is_some() {
                LockType::Exclusive
            } else {
                LockType::Shared
            }),
        };
        let md = self.env.metadata.clone();
        msq_engine::blocking(move || md.publish(&publish)).await?;
        ReportState::lock(&self.report).segment_report = Some(choice.report());
        Ok(QueryOutcome {
            results: None,
            segments,
            rows_written,
        })
    }

    /// After a failure: drop the task's pending segments and locks and delete the segment
    /// files it wrote and never published. Paths name the query, so nothing of another task
    /// is touched.
    async fn cleanup_failed(&mut self) {
        let md = self.env.metadata.clone();
        let task = self.task_id.to_string();
        match msq_engine::blocking(move || crate::recovery::forget_unpublished(md.as_ref(), &task)).await {
            Ok(files) => {
                crate::recovery::delete_files(self.env.deep_storage.clone(), files).await;
            }
            Err(e) => tracing::warn!(task_id = self.task_id, "cannot clean up after the failed task: {e}"),
        }
        self.holds_locks = false; // released above (and they lapse once the task has failed)
        self.shuffle.clear();
    }

    /// The segment-generation stage's spec, when the query ingests.
    fn ingestion_spec(&self) -> Option<msq_engine::stage::SegmentGeneratorSpec> {
        self.query.stages.iter().find_map(|s| match &s.processor {
            StageProcessor::SegmentGenerator(spec) => Some(spec.clone()),
            _ => None,
        })
    }

    /// A REPLACE holds an exclusive lock on its OVERWRITE intervals for its whole run (as
    /// Druid's controller does), waiting for conflicting ingestions; its segments get the
    /// lock's version.
    async fn lock_replaced_intervals(&mut self) -> Result<()> {
        let Some(spec) = self.ingestion_spec() else {
            return Ok(());
        };
        let Some(replace) = &spec.replace else {
            return Ok(());
        };
        self.holds_locks = true;
        self.version = crate::locking::lock_for_replace(
            &self.env.metadata,
            self.task_id,
            &spec.data_source,
            replace,
            &self.version,
            self.lock_timeout,
            &self.cancel,
        )
        .await?;
        Ok(())
    }

    /// Allocates the segment ids of the generation stage in one metadata transaction (an
    /// INSERT takes shared locks on its chunks there), recording them as pending.
    async fn allocate(
        &mut self,
        spec: &msq_engine::stage::SegmentGeneratorSpec,
        ranges: &RangePartitions,
    ) -> Result<Vec<(usize, SegmentId)>> {
        let req = AllocateRequest {
            data_source: spec.data_source.clone(),
            task_id: self.task_id.to_string(),
            chunks: chunk_requests(ranges, spec.granularity),
            version: self.version.clone(),
            append: spec.replace.is_none(),
            lock_expires_ms: 0,
        };
        self.holds_locks = true;
        let ids = crate::locking::allocate(&self.env.metadata, &req, self.lock_timeout, &self.cancel).await?;
        assign_ids(ranges, ids)
    }

    /// Extends this task's lock leases. A failure is only logged: a lease that lapses and is
    /// taken over fails the publish with `InsertLockPreempted`.
    async fn renew_locks(&self) {
        if !self.holds_locks {
            return;
        }
        let md = self.env.metadata.clone();
        let task = self.task_id.to_string();
        let until = crate::locking::lease_end();
        if let Err(e) = msq_engine::blocking(move || md.renew_locks(&task, until)).await {
            tracing::warn!(task_id = self.task_id, "cannot renew time-chunk locks: {e}");
        }
    }

    /// Releases this task's locks (best effort: they lapse anyway once it stops running).
    async fn release_locks(&mut self) {
        if !std::mem::take(&mut self.holds_locks) {
            return;
        }
        let md = self.env.metadata.clone();
        let task = self.task_id.to_string();
        if let Err(e) = msq_engine::blocking(move || md.release_locks(&task)).await {
            tracing::warn!(task_id = self.task_id, "cannot release time-chunk locks: {e}");
        }
    }
}

/// Removes the scratch directories of a task's worker processes (process runner:
/// `<tmp>/<workerTaskId>`, marked by the worker) when dropped.
struct WorkerDirs<'a> {
    base: Option<PathBuf>,
    task_id: &'a str,
    workers: usize,
}

impl Drop for WorkerDirs<'_> {
    fn drop(&mut self) {
        let Some(base) = &self.base else { return };
        for w in 0..self.workers {
            for attempt in 0..=MAX_RELAUNCHES_PER_WORKER {
                msq_engine::scratch::remove_marked(base, &worker_task_id(self.task_id, w, attempt));
            }
        }
    }
}

/// Deletes every object under `prefix` (best effort).
async fn delete_prefix(store: &Arc<dyn ObjectStore>, prefix: &str) {
    let prefix = object_store::path::Path::from(prefix);
    let mut listing = store.list(Some(&prefix));
    let mut paths = Vec::new();
    while let Some(Ok(meta)) = listing.next().await {
        paths.push(meta.location);
    }
    for p in paths {
        let _ = store.delete(&p).await;
    }
}
