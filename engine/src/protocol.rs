//! The controller ↔ worker protocol, as traits that do not assume one process: in-process
//! implementations call directly, HTTP ones put the same messages on the wire.

use crate::counters::StageCounters;
use crate::keystats::{KeyStatistics, RangePartitions};
use crate::metadata::{SegmentId, SegmentRecord};
use crate::sort::SortColumn;
use crate::stage::StageDefinition;
use crate::{MsqError, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

pub mod headers;

/// Settings a worker applies to a work order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerSettings {
    /// The worker's memory budget (`workerMemoryBytes`): shuffle output buffered before
    /// spilling, and the stage's operators.
    pub memory_budget: usize,
    /// Shuffle output buffered before spilling when less than `memory_budget` (a streamed
    /// SELECT's final stage, `kernel::output_buffer_bytes`).
    #[serde(default)]
    pub output_budget: Option<usize>,
    pub batch_size: usize,
    pub max_parse_exceptions: i64,
    /// Local scratch directory (a worker in another process substitutes its own).
    pub spill_dir: PathBuf,
    /// `durableShuffleStorage`: stage outputs go to object storage under
    /// `shuffle/<queryId>/` instead of staying with the worker.
    #[serde(default)]
    pub durable_shuffle: bool,
    /// The task's temporary storage limit in bytes (0: none), applied to `spill_dir`.
    #[serde(default)]
    pub max_temp_storage_bytes: u64,
}

/// Where one worker's output of a finished stage can be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum OutputLocation {
    /// In the reading process's own shuffle store (embedded workers).
    Local,
    /// Served by a worker over HTTP at `<url>/druid/worker/v1/channels/<queryId>/<stage>/<partition>`
    /// (the `url` is the worker's base URL; `worker` its number in that stage).
    Http { url: String, worker: usize },
    /// Durable shuffle storage: partition `p` is the Arrow IPC file `<prefix>/partition_<p>.arrow`.
    Durable { prefix: String },
}

/// Where and how to read an input stage's output partitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputStageLocation {
    /// Schema of the stage's output.
    #[serde(with = "schema_serde")]
    pub schema: arrow::datatypes::SchemaRef,
    pub partition_count: usize,
    /// Sort order of every run, when the stage sorts (readers merge).
    pub sort: Option<Vec<SortColumn>>,
    /// One entry per worker that produced output for the stage.
    pub sources: Vec<OutputLocation>,
}

/// One segment a generation worker writes from its input partition `partition` (read once,
/// in order): the next `rows` rows of it, or all that are left when `rows` is `None`. A
/// partition of more than `rowsPerSegment` rows is split over several slots, so segment
/// sizes follow `rowsPerSegment` however coarse the key statistics were (Druid's partition
/// boost, without a boost column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentSlot {
    pub partition: usize,
    pub id: SegmentId,
    #[serde(default)]
    pub rows: Option<u64>,
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
    /// Segment generation: the segments the input partitions become, in partition order.
    pub segments: Vec<SegmentSlot>,
    pub settings: WorkerSettings,
    /// Where each input stage (by stage number) is read from.
    pub inputs: BTreeMap<usize, InputStageLocation>,
    /// Attempt number of this worker (0 first; fault tolerance relaunches count up).
    pub attempt: u32,
}

/// What a worker reports when its part of a stage is complete.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WorkerResult {
    /// Rows written to each output partition.
    pub partition_rows: Vec<u64>,
    /// Segments written (not yet published).
    pub segments: Vec<SegmentRecord>,
    /// Where the output can be read (`None` for segment generation).
    pub location: Option<OutputLocation>,
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
    /// The query ended: drop everything kept for it.
    async fn post_finish(&self) -> Result<()> {
        Ok(())
    }
}

/// Serde of an Arrow `SchemaRef` through arrow-schema's own serde.
mod schema_serde {
    use arrow::datatypes::{Schema, SchemaRef};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::sync::Arc;

    pub fn serialize<S: Serializer>(schema: &SchemaRef, s: S) -> Result<S::Ok, S::Error> {
        schema.as_ref().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SchemaRef, D::Error> {
        Ok(Arc::new(Schema::deserialize(d)?))
    }
}
