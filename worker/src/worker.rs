//! A worker living in the controller's process: work orders run as tokio tasks and stage
//! outputs go to the query's in-process shuffle store.

use crate::fragment::run_fragment;
use crate::segment_writer::generate_segments;
use async_trait::async_trait;
use msq_engine::counters::{SharedCounters, StageCounters};
use msq_engine::exec::ExecContext;
use msq_engine::kernel::WorkerStagePhase;
use msq_engine::keystats::RangePartitions;
use msq_engine::protocol::{ControllerClient, WorkOrder, WorkerClient, WorkerResult};
use msq_engine::shuffle::InProcessShuffle;
use msq_engine::stage::StageProcessor;
use msq_engine::{MsqError, Result};
use object_store::ObjectStore;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// An in-process worker task.
pub struct InProcessWorker {
    pub worker_number: usize,
    me: std::sync::Weak<InProcessWorker>,
    shuffle: Arc<InProcessShuffle>,
    deep_storage: Arc<dyn ObjectStore>,
    controller: Arc<dyn ControllerClient>,
    cancelled: Arc<AtomicBool>,
    boundaries: Mutex<HashMap<usize, oneshot::Sender<RangePartitions>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl InProcessWorker {
    /// A worker numbered `worker_number` writing to `shuffle` and reporting to `controller`.
    pub fn new(
        worker_number: usize,
        shuffle: Arc<InProcessShuffle>,
        deep_storage: Arc<dyn ObjectStore>,
        controller: Arc<dyn ControllerClient>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| InProcessWorker {
            worker_number,
            me: me.clone(),
            shuffle,
            deep_storage,
            controller,
            cancelled: Arc::new(AtomicBool::new(false)),
            boundaries: Mutex::new(HashMap::new()),
            tasks: Mutex::new(Vec::new()),
        })
    }

    async fn run(self: Arc<Self>, order: WorkOrder, boundaries: oneshot::Receiver<RangePartitions>) {
        let stage = order.stage.stage_number;
        let worker = order.worker_number;
        let counters: SharedCounters = Arc::new(Mutex::new(StageCounters::with_inputs(order.stage.inputs.len())));
        let exec = Arc::new(ExecContext {
            counters: counters.clone(),
            fetcher: self.shuffle.clone(),
            deep_storage: self.deep_storage.clone(),
            max_parse_exceptions: order.settings.max_parse_exceptions,
            parse_errors: AtomicU64::new(0),
            batch_size: order.settings.batch_size,
            cancelled: self.cancelled.clone(),
        });
        let ticker = {
            let controller = self.controller.clone();
            let counters = counters.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let snap = msq_engine::counters::update(&counters, |c| c.clone());
                    if controller.post_counters(stage, worker, snap).await.is_err() {
                        return;
                    }
                }
            })
        };
        let mut phase = WorkerStagePhase::New;
        let result: Result<WorkerResult> = async {
            phase.transition(WorkerStagePhase::ReadingInput)?;
            match &order.stage.processor {
                StageProcessor::Plan { plan, .. } => {
                    let (output, result) = run_fragment(
                        &order,
                        plan.clone(),
                        exec.clone(),
                        self.controller.clone(),
                        boundaries,
                        &mut phase,
                    )
                    .await?;
                    self.shuffle.put(stage, worker, output);
                    Ok(result)
                }
                StageProcessor::SegmentGenerator(spec) => {
                    let input = order
                        .stage
                        .input_stages()
                        .first()
                        .copied()
                        .ok_or_else(|| MsqError::Unknown("segment generation has no input stage".into()))?;
                    let segments = generate_segments(&order, spec, input, exec.clone()).await?;
                    Ok(WorkerResult {
                        partition_rows: vec![],
                        segments,
                    })
                }
            }
        }
        .await;
        ticker.abort();
        let snap = msq_engine::counters::update(&counters, |c| c.clone());
        let _ = self.controller.post_counters(stage, worker, snap).await;
        match result {
            Ok(r) => {
                let _ = phase.transition(WorkerStagePhase::ResultsComplete);
                let _ = self.controller.post_results_complete(stage, worker, r).await;
            }
            Err(e) => {
                let _ = phase.transition(WorkerStagePhase::Failed);
                let e = if self.cancelled.load(Ordering::Relaxed) {
                    MsqError::Canceled
                } else {
                    e
                };
                let _ = self.controller.post_worker_error(stage, worker, e).await;
            }
        }
    }
}

#[async_trait]
impl WorkerClient for InProcessWorker {
    async fn post_work_order(&self, order: WorkOrder) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.boundaries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(order.stage.stage_number, tx);
        let me = self
            .me
            .upgrade()
            .ok_or_else(|| MsqError::Unknown(format!("worker {} is shutting down", self.worker_number)))?;
        let handle = tokio::spawn(async move { me.run(order, rx).await });
        self.tasks.lock().unwrap_or_else(|p| p.into_inner()).push(handle);
        Ok(())
    }

    async fn post_result_partition_boundaries(&self, stage: usize, boundaries: RangePartitions) -> Result<()> {
        let tx = self.boundaries.lock().unwrap_or_else(|p| p.into_inner()).remove(&stage);
        match tx {
            Some(tx) => tx.send(boundaries).map_err(|_| {
                MsqError::Unknown(format!(
                    "worker {} is no longer waiting for stage {stage}",
                    self.worker_number
                ))
            }),
            None => Err(MsqError::Unknown(format!(
                "worker {} has no work order for stage {stage}",
                self.worker_number
            ))),
        }
    }

    async fn post_cleanup_stage(&self, stage: usize) -> Result<()> {
        self.shuffle.remove_stage(stage);
        Ok(())
    }

    async fn post_cancel(&self) -> Result<()> {
        self.cancelled.store(true, Ordering::SeqCst);
        self.boundaries.lock().unwrap_or_else(|p| p.into_inner()).clear();
        // Wait (bounded) for running work orders to notice, so nothing is written afterwards.
        let handles: Vec<JoinHandle<()>> = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for h in handles {
            let abort = h.abort_handle();
            if tokio::time::timeout(Duration::from_secs(10), h).await.is_err() {
                abort.abort();
            }
        }
        Ok(())
    }
}
