//! Drives one query: starts stages as their inputs become ready, hands work orders to
//! workers, turns worker messages into kernel transitions, publishes segments or collects
//! results, and keeps the live report current. Decisions live in the pure `QueryKernel`.

use crate::publish::{allocate_segments, bucket_interval, chunk_out_of_bounds, finalize_shard_specs, tombstones};
use crate::report::{ErrorEntry, LiveReport, QueryStatus, ReportState, StageEntry, WorkerEntry};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::physical_plan::ExecutionPlan;
use futures::StreamExt;
use msq_engine::context::QueryContext;
use msq_engine::counters::StageCounters;
use msq_engine::exec::ExternalScanExec;
use msq_engine::granularity::{format_millis, Interval};
use msq_engine::input::assign_splits;
use msq_engine::kernel::query::KernelAction;
use msq_engine::kernel::{ControllerStagePhase, QueryKernel, StageShape};
use msq_engine::keystats::{KeyStatistics, RangePartitions};
use msq_engine::metadata::{MetadataStore, SegmentId, SegmentPublish, SegmentRecord};
use msq_engine::protocol::{ControllerClient, WorkOrder, WorkerClient, WorkerResult, WorkerSettings};
use msq_engine::shuffle::{InProcessShuffle, ShuffleFetcher};
use msq_engine::stage::{QueryDefinition, ShuffleSpec, StageDefinition, StageProcessor};
use msq_engine::{MsqError, Result};
use msq_sql::planner::PlannedStatement;
use msq_sql::statement::StatementKind;
use msq_worker::InProcessWorker;
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

/// A message from a worker.
#[derive(Debug)]
enum Event {
    KeyStats(usize, usize, KeyStatistics),
    DoneReading(usize, usize),
    Complete(usize, usize, WorkerResult),
    Error(usize, usize, MsqError),
    Counters(usize, usize, Box<StageCounters>),
}

/// `ControllerClient` that delivers worker messages to the driver's channel.
struct ChannelClient {
    tx: mpsc::UnboundedSender<Event>,
}

#[async_trait]
impl ControllerClient for ChannelClient {
    async fn post_key_statistics(&self, stage: usize, worker: usize, stats: KeyStatistics) -> Result<()> {
        self.send(Event::KeyStats(stage, worker, stats))
    }
    async fn post_done_reading(&self, stage: usize, worker: usize) -> Result<()> {
        self.send(Event::DoneReading(stage, worker))
    }
    async fn post_results_complete(&self, stage: usize, worker: usize, result: WorkerResult) -> Result<()> {
        self.send(Event::Complete(stage, worker, result))
    }
    async fn post_worker_error(&self, stage: usize, worker: usize, error: MsqError) -> Result<()> {
        self.send(Event::Error(stage, worker, error))
    }
    async fn post_counters(&self, stage: usize, worker: usize, counters: StageCounters) -> Result<()> {
        self.send(Event::Counters(stage, worker, Box::new(counters)))
    }
}

impl ChannelClient {
    fn send(&self, e: Event) -> Result<()> {
        self.tx
            .send(e)
            .map_err(|_| MsqError::Unknown("controller is gone".into()))
    }
}

/// The worker task id Druid uses: `<controllerId>-worker<N>_<attempt>`.
pub fn worker_task_id(task_id: &str, worker: usize) -> String {
    format!("{task_id}-worker{worker}_0")
}

/// A stage ready to send: its definition, partitions per worker, segments to write.
type StagePlan = (Arc<StageDefinition>, Vec<Vec<usize>>, Vec<(usize, SegmentId)>);

struct Driver<'a> {
    planned: &'a PlannedStatement,
    query: &'a QueryDefinition,
    ctx: &'a QueryContext,
    env: &'a QueryEnv,
    task_id: &'a str,
    report: LiveReport,
    kernel: QueryKernel,
    shuffle: Arc<InProcessShuffle>,
    workers: Vec<Arc<InProcessWorker>>,
    /// Workers running each stage (worker numbers).
    stage_workers: BTreeMap<usize, Vec<usize>>,
    segments: Vec<SegmentRecord>,
    allocated: Vec<SegmentId>,
    version: String,
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
    let (tx, mut rx) = mpsc::unbounded_channel();
    let client: Arc<dyn ControllerClient> = Arc::new(ChannelClient { tx });
    let shuffle = InProcessShuffle::new();
    let workers: Vec<Arc<InProcessWorker>> = (0..worker_count)
        .map(|w| InProcessWorker::new(w, shuffle.clone(), env.deep_storage.clone(), client.clone()))
        .collect();
    {
        let mut r = ReportState::lock(&report);
        let now = Instant::now();
        r.workers = (0..worker_count)
            .map(|w| WorkerEntry {
                worker_id: worker_task_id(task_id, w),
                status: QueryStatus::Running,
                requested: now,
                started: Some(now),
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
        workers,
        stage_workers: BTreeMap::new(),
        segments: Vec::new(),
        allocated: Vec::new(),
        version: format_millis(chrono::Utc::now().timestamp_millis()),
    };

    let result: Result<QueryOutcome> = async {
        let last = query.stages.len() - 1;
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
                    Some(ev) => d.handle(ev).await?,
                    None => return Err(MsqError::Unknown("all workers are gone".into())),
                },
                changed = cancel.changed() => {
                    if changed.is_err() || *cancel.borrow() {
                        return Err(MsqError::Canceled);
                    }
                }
            }
        }
        // Drain counter snapshots that arrived with the last completion.
        while let Ok(ev) = rx.try_recv() {
            if let Event::Counters(s, w, c) = ev {
                d.set_counters(s, w, *c);
            }
        }
        let outcome = d.complete().await?;
        d.finish_unneeded(true).await;
        Ok(outcome)
    }
    .await;

    let _ = std::fs::remove_dir_all(env.spill_dir.join(task_id));
    match result {
        Ok(outcome) => {
            let mut r = ReportState::lock(&report);
            let now = Instant::now();
            for w in &mut r.workers {
                w.status = QueryStatus::Success;
                w.finished = Some(now);
            }
            r.status = QueryStatus::Success;
            r.finished = Some(now);
            Ok(outcome)
        }
        Err(e) => {
            for w in &d.workers {
                let _ = w.post_cancel().await;
            }
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
                w.status = QueryStatus::Failed;
                w.finished = Some(now);
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

    fn settings(&self) -> WorkerSettings {
        WorkerSettings {
            memory_budget: self.ctx.worker_memory_bytes,
            batch_size: self.ctx.rows_per_frame,
            max_parse_exceptions: self.ctx.max_parse_exceptions,
            spill_dir: self.env.spill_dir.join(self.task_id),
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
        let total_workers = self.workers.len();
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
                let existing = {
                    let md = self.env.metadata.clone();
                    let ds = spec.data_source.clone();
                    msq_engine::blocking(move || md.used_segments(&ds, None)).await?
                };
                let append = spec.replace.is_none();
                let ids = allocate_segments(
                    &spec.data_source,
                    &ranges,
                    spec.granularity,
                    &existing,
                    &self.version,
                    append,
                )?;
                self.allocated = ids.iter().map(|(_, id)| id.clone()).collect();
                if !self.allocated.is_empty() {
                    let md = self.env.metadata.clone();
                    let task = self.task_id.to_string();
                    let pending = self.allocated.clone();
                    msq_engine::blocking(move || md.insert_pending_segments(&task, &pending)).await?;
                }
                let wc = ids.len().min(total_workers);
                let mut assign = vec![Vec::new(); wc];
                for (k, (p, _)) in ids.iter().enumerate() {
                    assign[k % wc].push(*p);
                }
                (def.clone(), assign, ids)
            }
        };
        let wc = assignments.len();
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
            };
            self.workers[w].post_work_order(order).await?;
        }
        Ok(())
    }

    async fn handle(&mut self, ev: Event) -> Result<()> {
        match ev {
            Event::Counters(s, w, c) => self.set_counters(s, w, *c),
            Event::KeyStats(s, w, stats) => {
                if let KernelAction::SendBoundaries(b) = self.kernel.add_key_statistics(s, w, stats)? {
                    self.check_chunks(s, &b)?;
                    self.update_report_stage(s);
                    for w in self.stage_workers.get(&s).cloned().unwrap_or_default() {
                        self.workers[w].post_result_partition_boundaries(s, b.clone()).await?;
                    }
                }
                self.update_report_stage(s);
            }
            Event::DoneReading(s, w) => {
                self.kernel.worker_done_reading(s, w)?;
                self.update_report_stage(s);
            }
            Event::Complete(s, w, result) => {
                self.segments.extend(result.segments);
                let ready = self.kernel.worker_results_complete(s, w, &result.partition_rows)?;
                self.update_report_stage(s);
                if ready {
                    self.on_stage_ready(s)?;
                }
            }
            Event::Error(s, w, e) => {
                let mut r = ReportState::lock(&self.report);
                r.error = Some(ErrorEntry {
                    error: e.clone(),
                    task_id: worker_task_id(self.task_id, w),
                    stage_number: Some(s),
                });
                if let MsqError::TooManyWarnings { root_error, .. } = &e {
                    let host = r.host.clone();
                    r.warnings.push(serde_json::json!({
                        "taskId": worker_task_id(self.task_id, w),
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
                    let _ = self.workers[w].post_cleanup_stage(n).await;
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
                let mut batches = Vec::new();
                for p in 0..parts {
                    let mut stream = self.shuffle.read_partition(last, p, self.ctx.rows_per_frame)?;
                    while let Some(b) = stream.next().await {
                        let b = b.map_err(MsqError::from)?;
                        if b.num_rows() > 0 {
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
        finalize_shard_specs(&mut segments);
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
        };
        let md = self.env.metadata.clone();
        msq_engine::blocking(move || md.publish(&publish)).await?;
        let shard = if spec.cluster_by.is_empty() {
            serde_json::json!({"shardSpec": "NumberedShardSpec", "details": "Using NumberedShardSpec as no columns are supplied in the 'CLUSTERED BY' clause."})
        } else {
            serde_json::json!({"shardSpec": "DimensionRangeShardSpec", "details": format!("Using DimensionRangeShardSpec on {:?}.", spec.cluster_by)})
        };
        ReportState::lock(&self.report).segment_report = Some(shard);
        Ok(QueryOutcome {
            results: None,
            segments,
            rows_written,
        })
    }

    /// After a failure: delete written segment files and pending allocations.
    async fn cleanup_failed(&mut self) {
        let mut paths: BTreeSet<String> = self.segments.iter().map(|s| s.path.clone()).collect();
        for id in &self.allocated {
            paths.insert(msq_worker::segment_writer::segment_path(id));
        }
        for p in paths.into_iter().filter(|p| !p.is_empty()) {
            let _ = self
                .env
                .deep_storage
                .delete(&object_store::path::Path::from(p.as_str()))
                .await;
        }
        let md = self.env.metadata.clone();
        let task = self.task_id.to_string();
        let _ = tokio::task::spawn_blocking(move || md.delete_pending_segments_for_task(&task)).await;
        self.shuffle.clear();
    }
}
