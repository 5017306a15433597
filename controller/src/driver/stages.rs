//! Starting stages (the kernel picks workers and partitions; the driver resolves input
//! files, allocates segment ids and sends the work orders), where their output is, and
//! cleaning up stages nobody needs any more.

use super::Driver;
use crate::launcher::RunnerKind;
use crate::report::ReportState;
use datafusion::physical_plan::ExecutionPlan;
use msq_engine::counters::StageCounters;
use msq_engine::input::assign_splits;
use msq_engine::kernel::{output_buffer_bytes, streams_live, ControllerStagePhase, WorkerWork};
use msq_engine::protocol::{InputStageLocation, WorkOrder, WorkerSettings};
use msq_engine::stage::{StageDefinition, StageProcessor};
use msq_engine::{MsqError, Result};
use msq_rows::exec::ExternalScanExec;
use msq_rows::input::ListSplits;
use msq_sql::statement::StatementKind;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Batches of a live final stage that may wait between its workers and the result sink.
const LIVE_BATCHES: usize = 4;

impl Driver<'_> {
    /// Starts stage `n`: resolves its input files or allocates its segments, asks the kernel
    /// which worker does what and sends the work orders.
    pub(super) async fn start_stage(&mut self, n: usize) -> Result<()> {
        let def = self.stage(n).clone();
        let (order_stage, allocated) = match &def.processor {
            StageProcessor::Plan { kind, plan } => {
                let plan = self.resolve_inputs(plan.clone()).await?;
                let mut resolved = (*def).clone();
                resolved.processor = StageProcessor::Plan { kind: *kind, plan };
                (Arc::new(resolved), vec![])
            }
            StageProcessor::SegmentGenerator(_) => (def.clone(), self.allocate(n).await?),
        };
        let work = self.kernel.start_stage(n, allocated)?;
        {
            let mut r = ReportState::lock(&self.report);
            let s = &mut r.stages[n];
            s.phase = ControllerStagePhase::ReadingInput;
            s.worker_count = Some(work.len());
            s.start_time = Some(chrono::Utc::now().timestamp_millis());
            s.started = Some(Instant::now());
            s.partition_count = self.kernel.partition_count(n);
        }
        if work.is_empty() {
            // Nothing to do (e.g. no segments to write): the stage is trivially complete.
            self.update_report_stage(n);
            return Ok(());
        }
        self.send_work_orders(n, order_stage, work).await
    }

    /// Sends each worker its part of stage `n`.
    async fn send_work_orders(&mut self, n: usize, stage: Arc<StageDefinition>, work: Vec<WorkerWork>) -> Result<()> {
        let worker_count = work.len();
        let settings = self.settings(n);
        self.open_live_results(n);
        let inputs: BTreeMap<usize, InputStageLocation> = stage
            .input_stages()
            .into_iter()
            .map(|i| (i, self.input_location(i)))
            .collect();
        for (w, work) in work.into_iter().enumerate() {
            let order = WorkOrder {
                query_id: self.query.query_id.clone(),
                stage: stage.clone(),
                worker_number: w,
                worker_count,
                partitions: work.partitions,
                segments: work.segments,
                settings: settings.clone(),
                inputs: inputs.clone(),
                attempt: self.kernel.attempt(w),
            };
            self.orders.insert((n, w), order.clone());
            self.work_orders += 1;
            if let Err(e) = self.slots[w].client.post_work_order(order).await {
                self.worker_failed(w, e).await?;
            }
        }
        Ok(())
    }

    /// Where to read stage `n`'s output.
    pub(super) fn input_location(&self, n: usize) -> InputStageLocation {
        let def = self.stage(n);
        InputStageLocation {
            schema: def.schema.clone(),
            partition_count: self.kernel.partition_count(n).unwrap_or(1),
            sort: def.shuffle.as_ref().and_then(|s| s.sort().map(|s| s.to_vec())),
            sources: self
                .locations
                .get(&n)
                .map(|m| m.values().cloned().collect())
                .unwrap_or_default(),
        }
    }

    /// When the kernel's rule says stage `n`'s rows go to the result sink as they are
    /// produced, opens the live channel its (in-process) workers send them to and starts
    /// forwarding it to the sink.
    fn open_live_results(&mut self, n: usize) {
        let Some(sink) = self.env.result_sink.clone() else {
            return;
        };
        let final_stage = n + 1 == self.query.stages.len();
        let select = matches!(self.planned.kind, StatementKind::Select);
        let in_process = self.env.runner.kind == RunnerKind::Embedded;
        if !streams_live(final_stage, select, self.stage(n).shuffle.as_ref(), in_process) {
            return;
        }
        let rows = self.shuffle.open_live(n, LIVE_BATCHES);
        let schema = self.planned.output_schema.clone();
        self.live = Some(tokio::spawn(super::outcome::forward_live(
            rows,
            sink,
            schema,
            self.cancel.clone(),
        )));
    }

    /// The settings of stage `n`'s work orders. A SELECT's final stage whose rows stream to a
    /// result sink buffers little of its output (the kernel's `output_buffer_bytes`).
    fn settings(&self, n: usize) -> WorkerSettings {
        let budget = self.ctx.worker_memory_bytes;
        let final_stage = n + 1 == self.query.stages.len();
        let streamed = self.env.result_sink.is_some() && matches!(self.planned.kind, StatementKind::Select);
        let output = output_buffer_bytes(budget, final_stage, streamed);
        WorkerSettings {
            memory_budget: budget,
            output_budget: (output < budget).then_some(output),
            batch_size: self.ctx.rows_per_frame,
            max_parse_exceptions: self.ctx.max_parse_exceptions,
            spill_dir: self.scratch_dir.clone(),
            durable_shuffle: self.ctx.durable_shuffle_storage,
            max_temp_storage_bytes: self.env.max_temp_storage_bytes,
        }
    }

    pub(super) fn update_report_stage(&self, n: usize) {
        let mut r = ReportState::lock(&self.report);
        let phase = self.kernel.phase(n);
        let s = &mut r.stages[n];
        s.phase = phase;
        s.partition_count = self.kernel.partition_count(n);
        if s.finished.is_none() && phase.is_success() {
            s.finished = Some(Instant::now());
        }
    }

    pub(super) fn set_counters(&self, stage: usize, worker: usize, c: StageCounters) {
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

    /// Finishes the stages whose results nobody needs any more (the kernel says which) and
    /// tells their workers to clean up.
    pub(super) async fn finish_unneeded(&mut self, final_consumed: bool) {
        for n in self.kernel.stages_to_finish(final_consumed) {
            if self.kernel.finish_stage(n).is_ok() {
                self.shuffle.remove_stage(n);
                for w in self.kernel.stage_workers(n) {
                    let _ = self.slots[w].client.post_cleanup_stage(n).await;
                }
                let mut r = ReportState::lock(&self.report);
                r.stages[n].phase = ControllerStagePhase::Finished;
                if r.stages[n].finished.is_none() {
                    r.stages[n].finished = Some(Instant::now());
                }
            }
        }
    }
}
