//! Runs a plan fragment's partitions and writes their output through the shuffle writer.

use arrow::record_batch::RecordBatch;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::execution_plan::reset_plan_states;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionConfig;
use futures::StreamExt;
use msq_engine::counters::SharedCounters;
use msq_engine::kernel::WorkerStagePhase;
use msq_engine::protocol::{ControllerClient, WorkOrder, WorkerResult};
use msq_engine::stage::ShuffleSpec;
use msq_engine::{MsqError, Result};
use msq_rows::exec::ExecContext;
use msq_rows::shuffle::{LiveSender, ShuffleWriter, ShuffleWriterConfig, WorkerStageOutput};
use std::sync::Arc;
use tokio::sync::oneshot;

/// A task context for one worker's run of a fragment: its memory pool, spill directory and
/// the msq `ExecContext` the fragment's leaves need.
pub fn task_context(order: &WorkOrder, exec: Arc<ExecContext>) -> Result<Arc<TaskContext>> {
    // DataFusion creates a missing spill root with `create_dir`, which races between workers.
    std::fs::create_dir_all(&order.settings.spill_dir)?;
    let mut disk =
        DiskManagerBuilder::default().with_mode(DiskManagerMode::Directories(vec![order.settings.spill_dir.clone()]));
    // DataFusion's own spills (sorts, aggregations, joins) count against the task's limit too.
    if order.settings.max_temp_storage_bytes > 0 {
        disk = disk.with_max_temp_directory_size(order.settings.max_temp_storage_bytes);
    }
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(order.settings.memory_budget.max(16 << 20))))
        .with_disk_manager_builder(disk)
        .build_arc()?;
    let config = SessionConfig::new()
        .with_batch_size(order.settings.batch_size)
        .with_extension(exec);
    Ok(Arc::new(
        TaskContext::default().with_session_config(config).with_runtime(runtime),
    ))
}

/// Runs the fragment of `order`, returning the finished shuffle output. `boundaries` yields
/// the controller's partition boundaries for range shuffles. With `live`, the stage's batches
/// go there as they are produced (the query's result consumer) and nothing is stored.
pub async fn run_fragment(
    order: &WorkOrder,
    plan: Arc<dyn ExecutionPlan>,
    exec: Arc<ExecContext>,
    controller: Arc<dyn ControllerClient>,
    boundaries: oneshot::Receiver<msq_engine::keystats::RangePartitions>,
    phase: &mut WorkerStagePhase,
    live: Option<LiveSender>,
) -> Result<(WorkerStageOutput, WorkerResult)> {
    let limit = order.settings.max_temp_storage_bytes;
    run_fragment_inner(order, plan, exec, controller, boundaries, phase, live)
        .await
        .map_err(|e| msq_rows::scratch::from_datafusion_disk_limit(e, limit))
}

/// Where a fragment's batches go: the shuffle writer, or a live channel to the consumer.
enum OutputSink {
    Shuffle(Box<ShuffleWriter>),
    Live { tx: LiveSender, counters: SharedCounters },
}

impl OutputSink {
    /// Takes one batch; a live consumer that has gone away cancels the work order.
    async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        match self {
            OutputSink::Shuffle(w) => tokio::task::block_in_place(|| w.write(batch)),
            OutputSink::Live { tx, counters } => {
                if batch.num_rows() == 0 {
                    return Ok(());
                }
                let (rows, bytes) = (batch.num_rows() as u64, msq_engine::counters::frame_bytes(&batch));
                msq_engine::counters::update(counters, |c| c.output.add_frame(0, rows, bytes));
                tx.send(batch).await.map_err(|_| MsqError::Canceled)
            }
        }
    }
}

async fn run_fragment_inner(
    order: &WorkOrder,
    plan: Arc<dyn ExecutionPlan>,
    exec: Arc<ExecContext>,
    controller: Arc<dyn ControllerClient>,
    boundaries: oneshot::Receiver<msq_engine::keystats::RangePartitions>,
    phase: &mut WorkerStagePhase,
    live: Option<LiveSender>,
) -> Result<(WorkerStageOutput, WorkerResult)> {
    let stage = order.stage.stage_number;
    let worker = order.worker_number;
    let spec = order.stage.shuffle.clone().unwrap_or(ShuffleSpec::Mix);
    let ctx = task_context(order, exec.clone())?;
    // Partial aggregations on string keys group through view bits (same output, less hashing).
    let plan = msq_rows::exec::with_view_grouping(reset_plan_states(plan)?)?;
    let schema = plan.schema();
    let mut sink = match live {
        Some(tx) => OutputSink::Live {
            tx,
            counters: exec.counters.clone(),
        },
        None => {
            let config = ShuffleWriterConfig {
                memory_budget: order.settings.output_budget.unwrap_or(order.settings.memory_budget),
                spill_dir: order.settings.spill_dir.clone(),
                batch_size: order.settings.batch_size,
                max_retained_keys: 4096,
            };
            let prefix = format!("{}-s{}-w{}", order.query_id, stage, worker);
            OutputSink::Shuffle(Box::new(ShuffleWriter::new(
                spec,
                schema.clone(),
                config,
                exec.counters.clone(),
                prefix,
            )?))
        }
    };
    execute_partitions(order, &plan, &ctx, &exec, &mut sink).await?;
    let mut writer = match sink {
        OutputSink::Shuffle(w) => *w,
        OutputSink::Live { .. } => {
            let output = WorkerStageOutput {
                schema,
                sort: None,
                partitions: vec![Vec::new()],
            };
            let result = WorkerResult {
                partition_rows: vec![0],
                segments: vec![],
                location: Some(msq_engine::protocol::OutputLocation::Local),
            };
            return Ok((output, result));
        }
    };
    let stats = tokio::task::block_in_place(|| writer.finish_reading())?;
    if let Some(stats) = stats {
        phase.transition(WorkerStagePhase::PreshuffleWaitingForResultPartitionBoundaries)?;
        controller.post_key_statistics(stage, worker, stats).await?;
        let b = boundaries.await.map_err(|_| MsqError::Canceled)?;
        phase.transition(WorkerStagePhase::PreshuffleWritingOutput)?;
        tokio::task::block_in_place(|| writer.apply_boundaries(&b))?;
    } else if order.stage.sorts() {
        controller.post_done_reading(stage, worker).await?;
    }
    let output = tokio::task::block_in_place(|| writer.finish())?;
    let result = WorkerResult {
        partition_rows: output.partition_rows(),
        segments: vec![],
        location: Some(msq_engine::protocol::OutputLocation::Local),
    };
    Ok((output, result))
}

/// Runs the order's partitions of `plan` into `sink`: one in place, several concurrently
/// feeding the sink through a bounded channel.
async fn execute_partitions(
    order: &WorkOrder,
    plan: &Arc<dyn ExecutionPlan>,
    ctx: &Arc<TaskContext>,
    exec: &Arc<ExecContext>,
    sink: &mut OutputSink,
) -> Result<()> {
    if order.partitions.len() <= 1 {
        for p in &order.partitions {
            let mut stream = plan.execute(*p, ctx.clone())?;
            while let Some(batch) = stream.next().await {
                exec.check_cancelled()?;
                sink.write(batch.map_err(MsqError::from)?).await?;
            }
        }
        return Ok(());
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel(2 * order.partitions.len());
    let mut producers = Vec::new();
    for p in &order.partitions {
        let mut stream = plan.execute(*p, ctx.clone())?;
        let tx = tx.clone();
        producers.push(tokio::spawn(async move {
            while let Some(batch) = stream.next().await {
                let failed = batch.is_err();
                if tx.send(batch).await.is_err() || failed {
                    return;
                }
            }
        }));
    }
    drop(tx);
    let result: Result<()> = async {
        while let Some(batch) = rx.recv().await {
            exec.check_cancelled()?;
            sink.write(batch.map_err(MsqError::from)?).await?;
        }
        Ok(())
    }
    .await;
    if result.is_err() {
        for p in &producers {
            p.abort();
        }
    }
    result?;
    // A producer that panicked ended its partition early: fail rather than lose rows.
    for p in producers {
        if let Err(e) = p.await {
            if e.is_panic() {
                return Err(MsqError::from_panic("Worker", e.into_panic()));
            }
        }
    }
    Ok(())
}
