//! Where finished stage outputs live until consumers have read them, and how consumers read
//! a partition (merging sorted runs from every worker).

use super::run::Run;
use crate::merge::{merge_sorted_runs, BatchIter};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::SendableRecordBatchStream;
use msq_engine::sort::SortColumn;
use msq_engine::{MsqError, Result};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One worker's finished output of one stage.
#[derive(Debug, Clone)]
pub struct WorkerStageOutput {
    pub schema: SchemaRef,
    /// Sort order of every run, when the stage sorts.
    pub sort: Option<Vec<SortColumn>>,
    /// Runs per output partition.
    pub partitions: Vec<Vec<Run>>,
}

impl WorkerStageOutput {
    /// Rows per partition.
    pub fn partition_rows(&self) -> Vec<u64> {
        self.partitions
            .iter()
            .map(|runs| runs.iter().map(|r| r.rows()).sum())
            .collect()
    }
}

/// Reads stage output partitions, wherever they are stored. The in-process implementation
/// reads workers' memory and spill files; the multi-process one fetches over HTTP.
pub trait ShuffleFetcher: Send + Sync + std::fmt::Debug {
    /// A stream of partition `partition` of stage `stage`, merged across workers (sorted when
    /// the stage sorts). `batch_size` bounds merged frames.
    fn read_partition(&self, stage: usize, partition: usize, batch_size: usize) -> Result<SendableRecordBatchStream>;

    /// Number of output partitions of a completed stage.
    fn partition_count(&self, stage: usize) -> Result<usize>;
}

/// Takes a stage's output batches as its workers produce them (see
/// [`InProcessShuffle::open_live`]).
pub type LiveSender = tokio::sync::mpsc::Sender<RecordBatch>;

/// Stage outputs of one query held in this process.
#[derive(Debug, Default)]
pub struct InProcessShuffle {
    outputs: Mutex<BTreeMap<(usize, usize), Arc<WorkerStageOutput>>>,
    /// Stages whose output goes to a consumer as it is produced, instead of being stored.
    live: Mutex<BTreeMap<usize, LiveSender>>,
}

impl InProcessShuffle {
    /// An empty store.
    pub fn new() -> Arc<Self> {
        Arc::new(InProcessShuffle::default())
    }

    /// Makes stage `stage`'s output live: workers of this process that run it send their
    /// batches, in order, to the returned receiver (holding at most `capacity` of them)
    /// instead of storing them. The channel closes once [`Self::close_live`] was called and
    /// every worker has finished.
    pub fn open_live(&self, stage: usize, capacity: usize) -> tokio::sync::mpsc::Receiver<RecordBatch> {
        let (tx, rx) = tokio::sync::mpsc::channel(capacity.max(1));
        self.live_senders().insert(stage, tx);
        rx
    }

    /// Where a worker sends its output of `stage`, when the stage is live.
    pub fn live_sender(&self, stage: usize) -> Option<LiveSender> {
        self.live_senders().get(&stage).cloned()
    }

    /// No worker will start on `stage` any more: the live channel closes when the running
    /// ones finish.
    pub fn close_live(&self, stage: usize) {
        self.live_senders().remove(&stage);
    }

    fn live_senders(&self) -> std::sync::MutexGuard<'_, BTreeMap<usize, LiveSender>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores worker `worker`'s output of stage `stage`.
    pub fn put(&self, stage: usize, worker: usize, output: WorkerStageOutput) {
        self.lock().insert((stage, worker), Arc::new(output));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(usize, usize), Arc<WorkerStageOutput>>> {
        self.outputs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stage_outputs(&self, stage: usize) -> Vec<Arc<WorkerStageOutput>> {
        self.lock()
            .range((stage, 0)..(stage + 1, 0))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Runs of partition `partition` of stage `stage`, from every worker stored here.
    pub fn partition_runs(&self, stage: usize, partition: usize) -> Vec<Run> {
        self.stage_outputs(stage)
            .iter()
            .flat_map(|o| o.partitions.get(partition).cloned().unwrap_or_default())
            .collect()
    }

    /// One worker's output of a stage.
    pub fn get(&self, stage: usize, worker: usize) -> Option<Arc<WorkerStageOutput>> {
        self.lock().get(&(stage, worker)).cloned()
    }

    /// Drops a stage's outputs and deletes its spill files.
    pub fn remove_stage(&self, stage: usize) {
        let removed: Vec<Arc<WorkerStageOutput>> = {
            let mut g = self.lock();
            let keys: Vec<(usize, usize)> = g.range((stage, 0)..(stage + 1, 0)).map(|(k, _)| *k).collect();
            keys.into_iter().filter_map(|k| g.remove(&k)).collect()
        };
        Self::delete_spills(removed);
    }

    /// Drops one worker's output of a stage.
    pub fn remove_worker_stage(&self, stage: usize, worker: usize) {
        let removed: Vec<Arc<WorkerStageOutput>> = self.lock().remove(&(stage, worker)).into_iter().collect();
        Self::delete_spills(removed);
    }

    fn delete_spills(removed: Vec<Arc<WorkerStageOutput>>) {
        for out in removed {
            for runs in &out.partitions {
                for run in runs {
                    if let Run::Spilled { path, .. } = run {
                        let _ = std::fs::remove_file(path);
                    }
                }
            }
        }
    }

    /// Drops everything (query end).
    pub fn clear(&self) {
        self.live_senders().clear();
        let stages: Vec<usize> = self.lock().keys().map(|(s, _)| *s).collect();
        for s in stages {
            self.remove_stage(s);
        }
    }
}

impl Drop for InProcessShuffle {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Streams a set of runs (merged when sorted) on a blocking thread through a bounded channel.
pub fn stream_runs(
    schema: SchemaRef,
    runs: Vec<Run>,
    sort: Option<Vec<SortColumn>>,
    batch_size: usize,
) -> SendableRecordBatchStream {
    let (tx, rx) = tokio::sync::mpsc::channel::<datafusion::error::Result<RecordBatch>>(4);
    let schema2 = schema.clone();
    let produce = move || {
        let iter: Result<BatchIter> = (|| {
            match sort {
                Some(sort) if runs.len() > 1 => {
                    let iters = runs.iter().map(|r| r.iter()).collect::<Result<Vec<_>>>()?;
                    merge_sorted_runs(schema2, iters, &sort, batch_size)
                }
                // Unsorted: one run open at a time.
                _ => Ok(Box::new(runs.into_iter().flat_map(|r| match r.iter() {
                    Ok(iter) => iter,
                    Err(e) => Box::new(std::iter::once(Err(e))) as BatchIter,
                })) as BatchIter),
            }
        })();
        match iter {
            Ok(iter) => {
                for b in iter {
                    if tx.blocking_send(b.map_err(Into::into)).is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(e.into()));
            }
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            h.spawn_blocking(produce);
        }
        Err(_) => {
            std::thread::spawn(produce);
        }
    }
    receiver_stream(schema, rx)
}

/// A record-batch stream over the receiving end of a channel that a producer task fills.
pub fn receiver_stream(
    schema: SchemaRef,
    rx: tokio::sync::mpsc::Receiver<datafusion::error::Result<RecordBatch>>,
) -> SendableRecordBatchStream {
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    Box::pin(RecordBatchStreamAdapter::new(schema, stream))
}

impl ShuffleFetcher for InProcessShuffle {
    fn read_partition(&self, stage: usize, partition: usize, batch_size: usize) -> Result<SendableRecordBatchStream> {
        let outs = self.stage_outputs(stage);
        let first = outs
            .first()
            .ok_or_else(|| MsqError::Unknown(format!("no output stored for stage {stage}")))?;
        let schema = first.schema.clone();
        let sort = first.sort.clone();
        let runs: Vec<Run> = outs
            .iter()
            .flat_map(|o| o.partitions.get(partition).cloned().unwrap_or_default())
            .collect();
        Ok(stream_runs(schema, runs, sort, batch_size))
    }

    fn partition_count(&self, stage: usize) -> Result<usize> {
        Ok(self
            .stage_outputs(stage)
            .iter()
            .map(|o| o.partitions.len())
            .max()
            .unwrap_or(0))
    }
}
