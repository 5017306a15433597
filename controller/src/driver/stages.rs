//! Starting stages (the kernel picks workers and partitions; the driver resolves input
//! files, allocates segment ids and sends the work orders), where their output is, and
//! cleaning up stages nobody needs any more.

use super::Driver;
use crate::report::ReportState;
use datafusion::physical_plan::ExecutionPlan;
use msq_engine::counters::StageCounters;
use msq_engine::input::assign_splits;
use msq_engine::kernel::{ControllerStagePhase, WorkerWork};
use msq_engine::protocol::{InputStageLocation, WorkOrder, WorkerSettings};
use msq_engine::stage::{StageDefinition, StageProcessor};
use msq_engine::{MsqError, Result};
use msq_rows::exec::ExternalScanExec;
use msq_rows::input::ListSplits;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

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
        let settings = self.settings();
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
