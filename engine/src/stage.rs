//! Stage definitions: what each stage of a query reads, runs and how it shuffles its output.

use crate::granularity::{Granularity, Interval};
use crate::input::{InputFormat, InputSource};
use crate::signature::{Signature, TIME_COLUMN};
use crate::sort::SortColumn;
use arrow::datatypes::SchemaRef;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::ExecutionPlan;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::fmt;
use std::sync::Arc;

/// Druid's default `rowsPerSegment`.
pub const DEFAULT_ROWS_PER_SEGMENT: u64 = 3_000_000;
/// Druid's default `maxRowsInMemory` for segment generation.
pub const DEFAULT_MAX_ROWS_IN_MEMORY: u64 = 100_000;
/// Druid's limit on output partitions of one stage (`TooManyPartitions`).
pub const MAX_PARTITIONS: usize = 25_000;
/// Druid's limit on time chunks of one ingestion (`TooManyBuckets`).
pub const MAX_BUCKETS: usize = 5_000;
/// Druid's limit on columns of one stage (`TooManyColumns`).
pub const MAX_COLUMNS: usize = 2_000;
/// Druid's limit on sort-key columns of one stage (`TooManyClusteredByColumns`).
pub const MAX_CLUSTERED_BY_COLUMNS: usize = 1_500;
/// Druid's limit on input files or segments per worker (`TooManyInputFiles`).
pub const MAX_INPUT_FILES_PER_WORKER: usize = 10_000;
/// Column names reserved for the engine's own use (`ColumnNameRestricted`).
pub const RESTRICTED_COLUMNS: [&str; 2] = ["__bucket", "__boost"];

/// A whole query: its id and its stages in dependency order (stage `n` reads only stages `< n`).
#[derive(Debug, Clone)]
pub struct QueryDefinition {
    pub query_id: String,
    pub stages: Vec<Arc<StageDefinition>>,
}

impl QueryDefinition {
    /// The last stage, whose output is the query's result (or whose segments are published).
    pub fn final_stage(&self) -> &Arc<StageDefinition> {
        self.stages.last().expect("a query has at least one stage")
    }

    /// Stage numbers that read stage `n`.
    pub fn consumers_of(&self, n: usize) -> Vec<usize> {
        self.stages
            .iter()
            .filter(|s| s.input_stages().contains(&n))
            .map(|s| s.stage_number)
            .collect()
    }
}

/// One stage of the DAG.
#[derive(Debug, Clone)]
pub struct StageDefinition {
    pub stage_number: usize,
    /// `<queryId>_<stageNumber>`.
    pub id: String,
    pub inputs: Vec<StageInput>,
    /// Indexes into `inputs` that every worker reads whole.
    pub broadcast: Vec<usize>,
    pub processor: StageProcessor,
    /// Output schema of the processor (empty for segment generation).
    pub schema: SchemaRef,
    /// How output is partitioned for the next stage; `None` when the stage writes no frames.
    pub shuffle: Option<ShuffleSpec>,
    pub max_worker_count: usize,
}

impl StageDefinition {
    /// Checks Druid's per-stage limits on columns and sort-key columns.
    pub fn check_limits(&self) -> crate::Result<()> {
        let n = self.schema.fields().len();
        if n > MAX_COLUMNS {
            return Err(crate::MsqError::TooManyColumns {
                num_columns: n,
                max_columns: MAX_COLUMNS,
            });
        }
        let keys = match &self.shuffle {
            Some(ShuffleSpec::Hash { keys, .. }) => keys.len(),
            Some(ShuffleSpec::SortedGather { sort }) => sort.len(),
            Some(ShuffleSpec::Range(r)) => r.sort.len().max(r.key.len()),
            _ => 0,
        };
        if keys > MAX_CLUSTERED_BY_COLUMNS {
            return Err(crate::MsqError::TooManyClusteredByColumns {
                num_columns: keys,
                max_columns: MAX_CLUSTERED_BY_COLUMNS,
                stage: self.stage_number,
            });
        }
        Ok(())
    }

    /// Stage numbers this stage reads.
    pub fn input_stages(&self) -> Vec<usize> {
        self.inputs
            .iter()
            .filter_map(|i| match i {
                StageInput::Stage { stage, .. } => Some(*stage),
                _ => None,
            })
            .collect()
    }

    /// Whether workers must send key statistics before the output can be partitioned.
    pub fn must_gather_statistics(&self) -> bool {
        matches!(self.shuffle, Some(ShuffleSpec::Range(_)))
    }

    /// Whether the stage sorts its output.
    pub fn sorts(&self) -> bool {
        matches!(
            self.shuffle,
            Some(ShuffleSpec::Range(_)) | Some(ShuffleSpec::SortedGather { .. })
        )
    }

    /// The `definition` object of the task report.
    pub fn to_report_json(&self, context: &Value) -> Value {
        let mut def = serde_json::Map::new();
        def.insert("id".into(), json!(self.id));
        def.insert(
            "input".into(),
            Value::Array(self.inputs.iter().map(|i| i.to_report_json()).collect()),
        );
        if !self.broadcast.is_empty() {
            def.insert("broadcast".into(), json!(self.broadcast));
        }
        def.insert("processor".into(), self.processor.to_report_json(&self.schema, context));
        def.insert("signature".into(), json!(Signature::from_schema(&self.schema)));
        if let Some(s) = &self.shuffle {
            def.insert("shuffleSpec".into(), s.to_report_json(&self.schema));
        }
        def.insert("maxWorkerCount".into(), json!(self.max_worker_count));
        if matches!(self.processor, StageProcessor::Plan { .. })
            && matches!(&self.shuffle, Some(ShuffleSpec::Range(r)) if r.bucket.is_some())
        {
            def.insert("shuffleCheckHasMultipleValues".into(), json!(true));
        }
        Value::Object(def)
    }
}

/// What a stage reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum StageInput {
    /// Files or inline data named by `EXTERN`.
    External {
        input_source: InputSource,
        input_format: InputFormat,
        signature: Signature,
    },
    /// Output partitions of an earlier stage.
    Stage { stage: usize },
    /// Used segments of a datasource.
    Table {
        data_source: String,
        intervals: Vec<Interval>,
    },
}

impl StageInput {
    fn to_report_json(&self) -> Value {
        match self {
            StageInput::External {
                input_source,
                input_format,
                signature,
            } => {
                json!({"type": "external", "inputSource": input_source, "inputFormat": input_format, "signature": signature.as_reported()})
            }
            StageInput::Stage { stage } => json!({"type": "stage", "stage": stage}),
            StageInput::Table { data_source, intervals } => json!({
                "type": "table",
                "dataSource": data_source,
                "intervals": intervals.iter().map(|i| i.to_iso()).collect::<Vec<_>>(),
            }),
        }
    }
}

/// Druid's processor names for plan fragments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ProcessorKind {
    Scan,
    GroupByPreShuffle,
    GroupByPostShuffle,
    OffsetLimit,
    SortMergeJoin,
    Window,
}

impl ProcessorKind {
    /// Druid's `processor.type`.
    pub fn name(&self) -> &'static str {
        match self {
            ProcessorKind::Scan => "scan",
            ProcessorKind::GroupByPreShuffle => "groupByPreShuffle",
            ProcessorKind::GroupByPostShuffle => "groupByPostShuffle",
            ProcessorKind::OffsetLimit => "offsetLimit",
            ProcessorKind::SortMergeJoin => "sortMergeJoin",
            ProcessorKind::Window => "window",
        }
    }
}

/// The work a stage's workers do.
#[derive(Clone)]
pub enum StageProcessor {
    /// A DataFusion plan fragment whose leaves read this stage's inputs. Partition `p` of the
    /// fragment runs on worker `p % workerCount`.
    Plan {
        kind: ProcessorKind,
        plan: Arc<dyn ExecutionPlan>,
    },
    /// Writes one segment per input partition.
    SegmentGenerator(SegmentGeneratorSpec),
}

impl fmt::Debug for StageProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StageProcessor::Plan { kind, plan } => {
                let text = datafusion::physical_plan::displayable(plan.as_ref())
                    .indent(false)
                    .to_string();
                write!(f, "Plan({}):\n{}", kind.name(), text)
            }
            StageProcessor::SegmentGenerator(s) => write!(f, "SegmentGenerator({s:?})"),
        }
    }
}

impl StageProcessor {
    fn to_report_json(&self, schema: &SchemaRef, context: &Value) -> Value {
        match self {
            StageProcessor::Plan { kind, plan } => {
                let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
                json!({
                    "type": kind.name(),
                    "query": {
                        "queryType": match kind { ProcessorKind::GroupByPreShuffle | ProcessorKind::GroupByPostShuffle => "groupBy", _ => "scan" },
                        "dataSource": {"type": "inputNumber", "inputNumber": 0},
                        "intervals": {"type": "intervals", "intervals": [crate::granularity::ETERNITY_TEXT]},
                        "columns": columns,
                        "context": context,
                        "granularity": {"type": "all"},
                        "plan": datafusion::physical_plan::displayable(plan.as_ref()).indent(true).to_string(),
                    }
                })
            }
            StageProcessor::SegmentGenerator(s) => s.to_report_json(),
        }
    }
}

/// What the `segmentGenerator` stage needs to write and publish segments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentGeneratorSpec {
    pub data_source: String,
    pub granularity: Granularity,
    /// Output columns (the query's columns, `__time` first when present).
    pub columns: Vec<String>,
    pub cluster_by: Vec<String>,
    /// Sort order inside each segment.
    pub sort_order: Vec<String>,
    pub rows_per_segment: u64,
    pub max_rows_in_memory: u64,
    /// `Some` for REPLACE: the OVERWRITE intervals (ETERNITY for OVERWRITE ALL).
    pub replace: Option<Vec<Interval>>,
    pub max_num_workers: usize,
}

impl SegmentGeneratorSpec {
    fn to_report_json(&self) -> Value {
        let dims: Vec<Value> = self
            .columns
            .iter()
            .filter(|c| c.as_str() != TIME_COLUMN)
            .map(|c| json!({"type": "auto", "name": c}))
            .collect();
        let intervals: Vec<String> = match &self.replace {
            Some(iv) => iv.iter().map(|i| i.to_iso()).collect(),
            None => vec![crate::granularity::ETERNITY_TEXT.to_string()],
        };
        json!({
            "type": "segmentGenerator",
            "dataSchema": {
                "dataSource": self.data_source,
                "timestampSpec": {"column": TIME_COLUMN, "format": "millis", "missingValue": null},
                "dimensionsSpec": {"dimensions": dims, "dimensionExclusions": [TIME_COLUMN], "includeAllDimensions": false},
                "metricsSpec": [],
                "granularitySpec": {
                    "type": "arbitrary",
                    "segmentGranularity": self.granularity.name(),
                    "queryGranularity": {"type": "none"},
                    "rollup": false,
                    "intervals": intervals,
                },
                "transformSpec": {"filter": null, "transforms": []},
            },
            "columnMappings": self.columns.iter().map(|c| json!({"queryColumn": c, "outputColumn": c})).collect::<Vec<_>>(),
            "tuningConfig": {
                "maxNumWorkers": self.max_num_workers,
                "maxRowsInMemory": self.max_rows_in_memory,
                "rowsPerSegment": self.rows_per_segment,
            }
        })
    }
}

/// How a stage's output rows are split into partitions for its consumers.
#[derive(Debug, Clone)]
pub enum ShuffleSpec {
    /// Every row into one unsorted partition (Druid's `mix`).
    Mix,
    /// Rows hashed on `keys` into `partitions` partitions (Druid's `hash`).
    Hash {
        keys: Vec<Arc<dyn PhysicalExpr>>,
        key_names: Vec<String>,
        partitions: usize,
    },
    /// One partition made of sorted runs that readers merge (Druid's `maxCount` with one partition).
    SortedGather { sort: Vec<SortColumn> },
    /// Global range partitioning from key statistics (Druid's `targetSize` / `maxCount`).
    Range(RangeShuffle),
}

/// A range shuffle: rows sorted by `sort` inside each partition, split by key ranges of `key`
/// (within time buckets when `bucket` is set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeShuffle {
    pub sort: Vec<SortColumn>,
    pub key: Vec<SortColumn>,
    pub bucket: Option<TimeBucket>,
    pub target: PartitionTarget,
}

/// Time bucketing of a range shuffle: rows bucket by `granularity` of column `column`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimeBucket {
    pub column: usize,
    pub granularity: Granularity,
}

/// How many range partitions to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartitionTarget {
    /// About this many rows per partition (`rowsPerSegment`).
    RowsPerPartition(u64),
    /// Exactly this many partitions (fewer when there are fewer distinct keys).
    Count(usize),
}

impl ShuffleSpec {
    /// Number of partitions when known before the stage runs.
    pub fn fixed_partition_count(&self) -> Option<usize> {
        match self {
            ShuffleSpec::Mix | ShuffleSpec::SortedGather { .. } => Some(1),
            ShuffleSpec::Hash { partitions, .. } => Some(*partitions),
            ShuffleSpec::Range(_) => None,
        }
    }

    /// Sort order inside each output partition, if any.
    pub fn sort(&self) -> Option<&[SortColumn]> {
        match self {
            ShuffleSpec::SortedGather { sort } => Some(sort),
            ShuffleSpec::Range(r) => Some(&r.sort),
            _ => None,
        }
    }

    fn to_report_json(&self, schema: &SchemaRef) -> Value {
        let cols = |cols: &[SortColumn]| -> Vec<Value> {
            cols.iter()
                .map(|c| {
                    let name = schema.field(c.index).name();
                    if c.descending {
                        json!({"columnName": name, "order": "DESCENDING"})
                    } else {
                        json!({"columnName": name})
                    }
                })
                .collect()
        };
        match self {
            ShuffleSpec::Mix => json!({"type": "mix"}),
            ShuffleSpec::Hash {
                key_names, partitions, ..
            } => json!({
                "type": "hash",
                "clusterBy": {"columns": key_names.iter().map(|n| json!({"columnName": n})).collect::<Vec<_>>()},
                "partitions": partitions,
            }),
            ShuffleSpec::SortedGather { sort } => json!({
                "type": "maxCount",
                "clusterBy": {"columns": cols(sort)},
                "partitions": 1,
                "aggregate": false,
            }),
            ShuffleSpec::Range(r) => {
                let mut columns = Vec::new();
                if r.bucket.is_some() {
                    columns.push(json!({"columnName": "__bucket"}));
                }
                columns.extend(cols(&r.key));
                let mut cluster_by = json!({"columns": columns});
                if r.bucket.is_some() {
                    cluster_by["bucketByCount"] = json!(1);
                }
                match r.target {
                    PartitionTarget::RowsPerPartition(n) => {
                        json!({"type": "targetSize", "clusterBy": cluster_by, "targetSize": n})
                    }
                    PartitionTarget::Count(n) => {
                        json!({"type": "maxCount", "clusterBy": cluster_by, "partitions": n, "aggregate": false})
                    }
                }
            }
        }
    }
}
