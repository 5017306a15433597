//! The controller ↔ worker protocol, as traits that do not assume one process: in-process
//! implementations call directly, HTTP ones put the same messages on the wire.

use crate::counters::StageCounters;
use crate::keystats::{KeyStatistics, RangePartitions};
use crate::metadata::{SegmentId, SegmentRecord};
use crate::stage::StageDefinition;
use crate::{MsqError, Result};
use async_trait::async_trait;
use std::path::PathBuf;
use std::sync::Arc;

/// Settings a worker applies to a work order.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Bytes of shuffle output buffered before spilling.
    pub memory_budget: usize,
    pub batch_size: usize,
    pub max_parse_exceptions: i64,
    pub spill_dir: PathBuf,
}

/// Work for one worker on one stage.
#[derive(Debug, Clone)]
pub struct WorkOrder {
    pub query_id: String,
    pub stage: Arc<StageDefinition>,
    pub worker_number: usize,
    pub worker_count: usize,
    /// Fragment partitions to run, or input partitions to turn into segments.
    pub partitions: Vec<usize>,
    /// Segment generation: the segment each input partition becomes.
    pub segments: Vec<(usize, SegmentId)>,
    pub settings: WorkerSettings,
}

/// What a worker reports when its part of a stage is complete.
#[derive(Debug, Clone, Default)]
pub struct WorkerResult {
    /// Rows written to each output partition.
    pub partition_rows: Vec<u64>,
    /// Segments written (not yet published).
    pub segments: Vec<SegmentRecord>,
}

/// Messages from workers to the controller (Druid's `ControllerClient`).
#[async_trait]
pub trait ControllerClient: Send + Sync {
    /// Key statistics of a range-shuffled stage's output.
    async fn post_key_statistics(&self, stage: usize, worker: usize, stats: KeyStatistics) -> Result<()>;
    /// The worker read all of its input.
    async fn post_done_reading(&self, stage: usize, worker: usize) -> Result<()>;
    /// The worker's output of the stage is complete.
    async fn post_results_complete(&self, stage: usize, worker: usize, result: WorkerResult) -> Result<()>;
    /// The worker failed.
    async fn post_worker_error(&self, stage: usize, worker: usize, error: MsqError) -> Result<()>;
    /// A snapshot of the worker's counters for the stage.
    async fn post_counters(&self, stage: usize, worker: usize, counters: StageCounters) -> Result<()>;
}

/// Messages from the controller to one worker (Druid's `WorkerClient`).
#[async_trait]
pub trait WorkerClient: Send + Sync {
    /// Starts work on a stage.
    async fn post_work_order(&self, order: WorkOrder) -> Result<()>;
    /// Partition boundaries for a range-shuffled stage.
    async fn post_result_partition_boundaries(&self, stage: usize, boundaries: RangePartitions) -> Result<()>;
    /// The stage's output is no longer needed.
    async fn post_cleanup_stage(&self, stage: usize) -> Result<()>;
    /// Stop all work of the query; returns once the worker's work has stopped.
    async fn post_cancel(&self) -> Result<()>;
}
