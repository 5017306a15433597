//! One worker of one query: work orders run as tokio tasks; stage outputs stay in this
//! process's shuffle store (read in-process or served over HTTP) or go to durable shuffle
//! storage. The same type backs embedded workers and `msq worker` processes.

use crate::fragment::run_fragment;
use crate::segment_writer::generate_segments;
use async_trait::async_trait;
use futures::FutureExt;
use msq_engine::counters::{SharedCounters, StageCounters};
use msq_engine::kernel::WorkerStagePhase;
use msq_engine::keystats::RangePartitions;
use msq_engine::protocol::{ControllerClient, OutputLocation, WorkOrder, WorkerClient, WorkerResult};
use msq_engine::stage::StageProcessor;
use msq_engine::{MsqError, Result};
use msq_rows::exec::ExecContext;
use msq_rows::rpc::ClusterAuth;
use msq_rows::shuffle::located::{durable_partition_path, durable_prefix};
use msq_rows::shuffle::{InProcessShuffle, LocatedFetcher, ShuffleFetcher, WorkerStageOutput};
use object_store::ObjectStore;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Where a worker keeps outputs and how others reach them.
#[derive(Clone)]
pub struct WorkerEnv {
    /// Outputs kept by this process (shared by the embedded workers of one query).
    pub shuffle: Arc<InProcessShuffle>,
    pub deep_storage: Arc<dyn ObjectStore>,
    /// How other workers read this worker's kept outputs.
    pub location: OutputLocation,
    /// Credentials for reading other workers' channels.
    pub auth: ClusterAuth,
    /// Overrides the work order's scratch directory (workers in their own process: the
    /// query's directory under the process's `--tmp-dir`, already validated and created).
    pub spill_dir: Option<std::path::PathBuf>,
}

/// A worker task.
pub struct Worker {
    pub worker_number: usize,
    me: std::sync::Weak<Worker>,
    env: WorkerEnv,
    controller: Arc<dyn ControllerClient>,
    cancelled: Arc<AtomicBool>,
    boundaries: Mutex<HashMap<usize, oneshot::Sender<RangePartitions>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Worker {
    /// A worker numbered `worker_number` reporting to `controller`.
    pub fn new(worker_number: usize, env: WorkerEnv, controller: Arc<dyn ControllerClient>) -> Arc<Self> {
        Arc::new_cyclic(|me| Worker {
            worker_number,
            me: me.clone(),
            env,
            controller,
            cancelled: Arc::new(AtomicBool::new(false)),
            boundaries: Mutex::new(HashMap::new()),
            tasks: Mutex::new(Vec::new()),
        })
    }

    /// This worker's kept output of a stage (served to other workers).
    pub fn output(&self, stage: usize) -> Option<Arc<WorkerStageOutput>> {
        self.env.shuffle.get(stage, self.worker_number)
    }

    fn fetcher(&self, order: &WorkOrder) -> Arc<dyn ShuffleFetcher> {
        Arc::new(LocatedFetcher {
            query_id: order.query_id.clone(),
            inputs: order.inputs.clone(),
            local: self.env.shuffle.clone(),
            durable: Some(self.env.deep_storage.clone()),
            auth: self.env.auth.clone(),
            scratch: order.settings.spill_dir.join("fetch"),
        })
    }

    /// Keeps `output` here or writes it to durable storage; returns where it can be read.
    async fn store_output(&self, order: &WorkOrder, output: WorkerStageOutput) -> Result<OutputLocation> {
        let stage = order.stage.stage_number;
        if !order.settings.durable_shuffle {
            self.env.shuffle.put(stage, self.worker_number, output);
            return Ok(self.env.location.clone());
        }
        let prefix = durable_prefix(&order.query_id, stage, self.worker_number, order.attempt);
        let store = self.env.deep_storage.clone();
        let scratch = order.settings.spill_dir.join("upload");
        let batch_size = order.settings.batch_size;
        let prefix2 = prefix.clone();
        msq_engine::blocking(move || -> Result<()> {
            for (p, runs) in output.partitions.iter().enumerate() {
                let path = durable_partition_path(&prefix2, p);
                msq_rows::shuffle::run::upload_merged(
                    store.clone(),
                    &path,
                    &output.schema,
                    runs,
                    output.sort.as_deref(),
                    batch_size,
                    &scratch,
                )?;
                for r in runs {
                    if let msq_rows::shuffle::Run::Spilled { path, .. } = r {
                        let _ = std::fs::remove_file(path);
                    }
                }
            }
            Ok(())
        })
        .await?;
        Ok(OutputLocation::Durable { prefix })
    }

    async fn run(self: Arc<Self>, mut order: WorkOrder, boundaries: oneshot::Receiver<RangePartitions>) {
        if let Some(dir) = &self.env.spill_dir {
            order.settings.spill_dir = dir.clone();
        }
        let stage = order.stage.stage_number;
        let worker = order.worker_number;
        let counters: SharedCounters = Arc::new(Mutex::new(StageCounters::with_inputs(order.stage.inputs.len())));
        let exec = Arc::new(ExecContext {
            counters: counters.clone(),
            fetcher: self.fetcher(&order),
            deep_storage: self.env.deep_storage.clone(),
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
                        self.env.shuffle.live_sender(stage),
                    )
                    .await?;
                    let location = self.store_output(&order, output).await?;
                    Ok(WorkerResult {
                        location: Some(location),
                        ..result
                    })
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
                        segments,
                        ..Default::default()
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
impl WorkerClient for Worker {
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
        let (stage, controller) = (order.stage.stage_number, self.controller.clone());
        let worker = self.worker_number;
        let handle = tokio::spawn(async move {
            // A panic while running the work order fails the query with its message rather
            // than leaving the controller waiting for a worker that is gone.
            if let Err(payload) = AssertUnwindSafe(me.run(order, rx)).catch_unwind().await {
                let error = MsqError::from_panic("Worker", payload);
                tracing::error!("worker {worker}, stage {stage}: {error}");
                let _ = controller.post_worker_error(stage, worker, error).await;
            }
        });
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
        self.env.shuffle.remove_worker_stage(stage, self.worker_number);
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
