//! One typed error for the whole engine, mapped to Druid MSQ error codes at the edges.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Result alias used across msq-rs.
pub type Result<T, E = MsqError> = std::result::Result<T, E>;

/// Every failure a statement can meet, with the Druid MSQ error code it reports as.
///
/// Variants carry the fields Druid's fault objects carry, so `to_fault` can render the
/// `errorReport.error` object of the task report exactly. Serde gives the form workers
/// send errors to the controller in (`{"type":"<Variant>","fields":...}`).
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "type", content = "fields")]
pub enum MsqError {
    /// The SQL text could not be parsed (HTTP 400, no task is created).
    #[error("{0}")]
    SqlParse(String),
    /// The statement parsed but is not valid (unknown table, bad clause, ...; HTTP 400).
    #[error("{0}")]
    Validation(String),
    /// The statement uses a feature that is not supported.
    #[error("{0}")]
    QueryNotSupported(String),
    /// A row had a null `__time`.
    #[error("Null timestamp (__time) encountered in row{}", .detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    InsertTimeNull { detail: Option<String> },
    /// An ingestion with time partitioning produced no rows.
    #[error(
        "No rows to insert for dataSource [{data_source}]. Set failOnEmptyInsert : false in the query context to allow empty inserts."
    )]
    InsertCannotBeEmpty { data_source: String },
    /// A row's `__time` fell outside the OVERWRITE WHERE interval of a REPLACE.
    #[error("Query generated time chunk [{interval}] out of bounds specified by replaceExistingTimeChunks")]
    InsertTimeOutOfBounds { interval: String },
    /// A row of external data could not be parsed.
    #[error("{message}")]
    CannotParseExternalData { message: String },
    /// More parse warnings than `maxParseExceptions` allowed.
    #[error("Too many warnings of type {root_error_code} generated (max = {max_warnings})")]
    TooManyWarnings {
        max_warnings: i64,
        root_error_code: String,
        root_error: Box<MsqError>,
    },
    /// Too many output partitions (segments).
    #[error("Too many partitions (max = {max_partitions}); try breaking your query up into smaller queries or using a larger target size")]
    TooManyPartitions { max_partitions: usize },
    /// Too many time chunks.
    #[error("Too many partition buckets (max = {max_buckets}); try breaking your query up into smaller queries or using a wider PARTITIONED BY")]
    TooManyBuckets { max_buckets: usize },
    /// A segment id could not be allocated (conflicting granularity or pending segments).
    #[error("Cannot allocate segment for dataSource [{data_source}], interval [{interval}]: {message}")]
    InsertCannotAllocateSegment {
        data_source: String,
        interval: String,
        message: String,
    },
    /// Another task took the time-chunk lock this ingestion needs to publish.
    #[error("Insert lock preempted while trying to ingest the data. This can occur if there are higher priority jobs like real-time ingestion running on same time chunks.")]
    InsertLockPreempted,
    /// Conflicting ingestions held the time chunks longer than `taskLockTimeout`.
    #[error("Timed out after [{timeout_ms}] ms waiting for a lock on dataSource [{data_source}], interval(s) [{intervals}] held by task(s) [{holders}]; retry later or raise taskLockTimeout")]
    LockTimeout {
        data_source: String,
        intervals: String,
        holders: String,
        timeout_ms: u64,
    },
    /// A stage has more columns than Druid allows.
    #[error("Too many output columns (requested = {num_columns}, max = {max_columns})")]
    TooManyColumns { num_columns: usize, max_columns: usize },
    /// A sort key has more columns than Druid allows.
    #[error("Too many cluster by columns present in stage [{stage}] (requested = {num_columns}, max = {max_columns})")]
    TooManyClusteredByColumns {
        num_columns: usize,
        max_columns: usize,
        stage: usize,
    },
    /// A worker would read more input files than Druid allows.
    #[error("Too many input files/segments [{num_input_files}] encountered. Maximum input files/segments per worker is set to [{max_input_files}]. Try breaking your query up into smaller queries, or increasing the number of workers to at least [{min_num_worker}] by setting maxNumTasks in your query context")]
    TooManyInputFiles {
        num_input_files: usize,
        max_input_files: usize,
        min_num_worker: usize,
    },
    /// A column's type cannot be stored in a segment.
    #[error("The column [{column_name}] has type [{column_type}], which cannot be written to a segment")]
    ColumnTypeNotSupported { column_name: String, column_type: String },
    /// A string value contains a null byte.
    #[error("Invalid null byte at source [{source_name}], rowNumber [{row_number}], column [{column}], value [{value}], position [{position}]. Consider sanitizing the input string column using REPLACE(\"{column}\", U&'\\0000', '') AS {column}")]
    InvalidNullByte {
        source_name: String,
        row_number: u64,
        column: String,
        value: String,
        position: usize,
    },
    /// A column name Druid reserves was used wrongly.
    #[error("Column [{column}] is a reserved column name")]
    ColumnNameRestricted { column: String },
    /// A stage would run on more workers than Druid allows (1,000).
    #[error("Too many workers (current = {workers}; max = {max_workers})")]
    TooManyWorkers { workers: usize, max_workers: usize },
    /// A worker's operators needed more memory than its budget (`workerMemoryBytes`).
    #[error(
        "Not enough memory: {message}. Raise workerMemoryBytes in the query context or make the query need less memory"
    )]
    NotEnoughMemory { message: String },
    /// A row does not fit in one frame (Druid's 1 MB `maxFrameSize`).
    #[error("Encountered row that cannot fit in a single frame (max frame size = {})", thousands(.max_frame_size))]
    RowTooLarge { max_frame_size: u64 },
    /// An input file could not be found or read.
    #[error("{message}")]
    InputSource { message: String },
    /// The statement was cancelled.
    #[error("Query canceled by user or by task shutdown.")]
    Canceled,
    /// A worker failed.
    #[error("Worker task failed: [{worker_task_id}]: {message}")]
    WorkerFailed { worker_task_id: String, message: String },
    /// A call to a worker (work order, shuffle fetch) failed for good.
    #[error("RPC call to task failed unrecoverably: [{worker_task_id}]: {message}")]
    WorkerRpcFailed { worker_task_id: String, message: String },
    /// A worker failed more often than fault tolerance relaunches one worker.
    #[error("Worker[{worker_number}] exceeded max relaunch count[{max_per_worker_relaunch}] for task[{task_id}]. Latest error: {root_error_message}")]
    TooManyAttemptsForWorker {
        max_per_worker_relaunch: u32,
        task_id: String,
        worker_number: usize,
        root_error_message: String,
    },
    /// Workers failed more often than fault tolerance relaunches in one job.
    #[error("Total relaunch attempt count[{current_relaunch_count}] exceeds max relaunch count[{max_relaunch_count}] for job. Last failed task id [{task_id}] with error [{root_error_message}]")]
    TooManyAttemptsForJob {
        max_relaunch_count: u32,
        current_relaunch_count: u32,
        task_id: String,
        root_error_message: String,
    },
    /// A task's spill files would pass its temporary storage limit (Druid's
    /// `NotEnoughTemporaryStorageFault`, against `tmpStorageBytesPerTask`; msq-rs's limit is
    /// `msq server --max-temp-storage`).
    #[error("Not enough temporary storage space for intermediate files. Requires at least {} bytes. (configured = {} bytes). Increase the limit by increasing tmpStorageBytesPerTask (msq server --max-temp-storage).", thousands(.suggested_minimum_storage), thousands(.configured_temporary_storage))]
    NotEnoughTemporaryStorage {
        suggested_minimum_storage: u64,
        configured_temporary_storage: u64,
    },
    /// A metadata store failure.
    #[error("metadata store error: {0}")]
    Metadata(String),
    /// An I/O failure (local disk, deep storage).
    #[error("I/O error: {0}")]
    Io(String),
    /// Anything else.
    #[error("{0}")]
    Unknown(String),
}

impl MsqError {
    /// An `UnknownError` for a panic caught while `what` ran (planning, a task, a worker),
    /// carrying the panic message.
    pub fn from_panic(what: &str, payload: Box<dyn std::any::Any + Send>) -> MsqError {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_string());
        MsqError::Unknown(format!("{what} panicked: {message}"))
    }

    /// The Druid MSQ error code (`errorReport.error.errorCode`).
    pub fn error_code(&self) -> &'static str {
        match self {
            MsqError::SqlParse(_) | MsqError::Validation(_) => "InvalidInput",
            MsqError::QueryNotSupported(_) => "QueryNotSupported",
            MsqError::InsertTimeNull { .. } => "InsertTimeNull",
            MsqError::InsertCannotBeEmpty { .. } => "InsertCannotBeEmpty",
            MsqError::InsertTimeOutOfBounds { .. } => "InsertTimeOutOfBounds",
            MsqError::CannotParseExternalData { .. } => "CannotParseExternalData",
            MsqError::TooManyWarnings { .. } => "TooManyWarnings",
            MsqError::TooManyPartitions { .. } => "TooManyPartitions",
            MsqError::TooManyBuckets { .. } => "TooManyBuckets",
            MsqError::ColumnNameRestricted { .. } => "ColumnNameRestricted",
            MsqError::TooManyWorkers { .. } => "TooManyWorkers",
            MsqError::RowTooLarge { .. } => "RowTooLarge",
            MsqError::NotEnoughMemory { .. } => "NotEnoughMemory",
            MsqError::InsertCannotAllocateSegment { .. } => "InsertCannotAllocateSegment",
            MsqError::InsertLockPreempted => "InsertLockPreempted",
            MsqError::LockTimeout { .. } => "UnknownError",
            MsqError::TooManyColumns { .. } => "TooManyColumns",
            MsqError::TooManyClusteredByColumns { .. } => "TooManyClusteredByColumns",
            MsqError::TooManyInputFiles { .. } => "TooManyInputFiles",
            MsqError::ColumnTypeNotSupported { .. } => "ColumnTypeNotSupported",
            MsqError::InvalidNullByte { .. } => "InvalidNullByte",
            MsqError::InputSource { .. } => "UnknownError",
            MsqError::Canceled => "Canceled",
            MsqError::WorkerFailed { .. } => "WorkerFailed",
            MsqError::WorkerRpcFailed { .. } => "WorkerRpcFailed",
            MsqError::TooManyAttemptsForWorker { .. } => "TooManyAttemptsForWorker",
            MsqError::TooManyAttemptsForJob { .. } => "TooManyAttemptsForJob",
            // Druid's code for this fault keeps the `Fault` suffix (its docs list it without).
            MsqError::NotEnoughTemporaryStorage { .. } => "NotEnoughTemporaryStorageFault",
            MsqError::Metadata(_) | MsqError::Io(_) | MsqError::Unknown(_) => "UnknownError",
        }
    }

    /// Whether the error is the user's (bad SQL or bad input) rather than the system's.
    pub fn is_user_error(&self) -> bool {
        !matches!(
            self,
            MsqError::Metadata(_)
                | MsqError::Io(_)
                | MsqError::Unknown(_)
                | MsqError::WorkerFailed { .. }
                | MsqError::WorkerRpcFailed { .. }
                | MsqError::TooManyAttemptsForWorker { .. }
                | MsqError::TooManyAttemptsForJob { .. }
        )
    }

    /// The `errorReport.error` object of a Druid task report: `errorCode`, `errorMessage`
    /// and the code's own fields.
    pub fn to_fault(&self) -> Value {
        let mut m = Map::new();
        m.insert("errorCode".into(), json!(self.error_code()));
        for (key, value) in self.fault_fields() {
            m.insert(key.into(), value);
        }
        m.insert("errorMessage".into(), json!(self.to_string()));
        Value::Object(m)
    }

    /// The fields Druid's fault class for this error adds to `errorCode` and `errorMessage`.
    fn fault_fields(&self) -> Vec<(&'static str, Value)> {
        match self {
            MsqError::InsertCannotBeEmpty { data_source } => vec![("dataSource", json!(data_source))],
            MsqError::InsertTimeOutOfBounds { interval } => vec![("interval", json!(interval))],
            MsqError::TooManyWarnings {
                max_warnings,
                root_error_code,
                ..
            } => vec![
                ("maxWarnings", json!(max_warnings)),
                ("rootErrorCode", json!(root_error_code)),
            ],
            MsqError::TooManyPartitions { max_partitions } => vec![("maxPartitions", json!(max_partitions))],
            MsqError::TooManyBuckets { max_buckets } => vec![("maxBuckets", json!(max_buckets))],
            MsqError::TooManyWorkers { workers, max_workers } => {
                vec![("workers", json!(workers)), ("maxWorkers", json!(max_workers))]
            }
            MsqError::RowTooLarge { max_frame_size } => vec![("maxFrameSize", json!(max_frame_size))],
            MsqError::ColumnNameRestricted { column } => vec![("columnName", json!(column))],
            MsqError::WorkerFailed {
                worker_task_id,
                message,
            } => vec![("workerTaskId", json!(worker_task_id)), ("errorMsg", json!(message))],
            MsqError::WorkerRpcFailed { worker_task_id, .. } => vec![("workerTaskId", json!(worker_task_id))],
            MsqError::TooManyAttemptsForWorker {
                max_per_worker_relaunch,
                task_id,
                worker_number,
                root_error_message,
            } => vec![
                ("maxPerWorkerRelaunch", json!(max_per_worker_relaunch)),
                ("taskId", json!(task_id)),
                ("workerNumber", json!(worker_number)),
                ("rootErrorMessage", json!(root_error_message)),
            ],
            MsqError::TooManyAttemptsForJob {
                max_relaunch_count,
                current_relaunch_count,
                task_id,
                root_error_message,
            } => vec![
                ("maxRelaunchCount", json!(max_relaunch_count)),
                ("currentRelaunchCount", json!(current_relaunch_count)),
                ("taskId", json!(task_id)),
                ("rootErrorMessage", json!(root_error_message)),
            ],
            MsqError::InsertCannotAllocateSegment {
                data_source, interval, ..
            } => vec![("dataSource", json!(data_source)), ("interval", json!(interval))],
            MsqError::TooManyColumns {
                num_columns,
                max_columns,
            } => vec![("numColumns", json!(num_columns)), ("maxColumns", json!(max_columns))],
            MsqError::TooManyClusteredByColumns {
                num_columns,
                max_columns,
                stage,
            } => vec![
                ("numColumns", json!(num_columns)),
                ("maxColumns", json!(max_columns)),
                ("stage", json!(stage)),
            ],
            MsqError::TooManyInputFiles {
                num_input_files,
                max_input_files,
                min_num_worker,
            } => vec![
                ("numInputFiles", json!(num_input_files)),
                ("maxInputFiles", json!(max_input_files)),
                ("minNumWorker", json!(min_num_worker)),
            ],
            _ => self.input_and_resource_fault_fields(),
        }
    }

    /// [`MsqError::fault_fields`] of input and resource faults.
    fn input_and_resource_fault_fields(&self) -> Vec<(&'static str, Value)> {
        match self {
            MsqError::ColumnTypeNotSupported {
                column_name,
                column_type,
            } => vec![("columnName", json!(column_name)), ("columnType", json!(column_type))],
            MsqError::InvalidNullByte {
                source_name,
                row_number,
                column,
                value,
                position,
            } => vec![
                ("source", json!(source_name)),
                ("rowNumber", json!(row_number)),
                ("column", json!(column)),
                ("value", json!(value)),
                ("position", json!(position)),
            ],
            MsqError::NotEnoughTemporaryStorage {
                suggested_minimum_storage,
                configured_temporary_storage,
            } => vec![
                ("suggestedMinimumStorage", json!(suggested_minimum_storage)),
                ("configuredTemporaryStorage", json!(configured_temporary_storage)),
            ],
            MsqError::NotEnoughMemory { message }
            | MsqError::Unknown(message)
            | MsqError::Io(message)
            | MsqError::Metadata(message) => vec![("message", json!(message))],
            _ => vec![],
        }
    }

    /// The Druid HTTP error class for this error (`errorClass` in the HTTP error JSON).
    pub fn error_class(&self) -> &'static str {
        match self {
            MsqError::SqlParse(_) => "org.apache.calcite.sql.parser.SqlParseException",
            MsqError::Validation(_) => "org.apache.druid.error.DruidException",
            MsqError::QueryNotSupported(_) => "org.apache.druid.error.DruidException",
            _ => "org.apache.druid.msq.indexing.error.MSQException",
        }
    }
}

/// `1000000` as `1,000,000` (Java's `%,d`).
fn thousands(n: &u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl From<std::io::Error> for MsqError {
    fn from(e: std::io::Error) -> Self {
        // Our own errors travel through writers as `io::Error::other(MsqError)`.
        if let Some(m) = e.get_ref().and_then(|i| i.downcast_ref::<MsqError>()) {
            return m.clone();
        }
        MsqError::Io(e.to_string())
    }
}

impl From<object_store::Error> for MsqError {
    fn from(e: object_store::Error) -> Self {
        MsqError::Io(e.to_string())
    }
}

impl From<parquet::errors::ParquetError> for MsqError {
    fn from(e: parquet::errors::ParquetError) -> Self {
        MsqError::Io(e.to_string())
    }
}

impl From<arrow::error::ArrowError> for MsqError {
    fn from(e: arrow::error::ArrowError) -> Self {
        match e {
            arrow::error::ArrowError::ExternalError(inner) => match inner.downcast::<MsqError>() {
                Ok(m) => *m,
                Err(other) => MsqError::Unknown(other.to_string()),
            },
            arrow::error::ArrowError::IoError(_, io) if msq_in_io(&io).is_some() => {
                msq_in_io(&io).unwrap_or_else(|| MsqError::Unknown(io.to_string()))
            }
            other => MsqError::Unknown(other.to_string()),
        }
    }
}

impl From<datafusion::error::DataFusionError> for MsqError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        use datafusion::error::DataFusionError as D;
        // Our own errors travel through DataFusion wrapped as external errors: unwrap them.
        if let Some(m) = find_msq_error(&e) {
            return m;
        }
        match e {
            D::SQL(p, _) => MsqError::SqlParse(p.to_string()),
            D::Plan(m) => MsqError::Validation(m),
            D::SchemaError(s, _) => MsqError::Validation(s.to_string()),
            D::NotImplemented(m) => MsqError::QueryNotSupported(m),
            D::ArrowError(a, _) => MsqError::from(*a),
            D::Context(_, inner) | D::Diagnostic(_, inner) => MsqError::from(*inner),
            D::Collection(mut errors) if !errors.is_empty() => MsqError::from(errors.remove(0)),
            D::Shared(inner) => match Arc::try_unwrap(inner) {
                Ok(e) => MsqError::from(e),
                Err(shared) => MsqError::Unknown(shared.to_string()),
            },
            D::ResourcesExhausted(m) => MsqError::NotEnoughMemory { message: m },
            other => MsqError::Unknown(other.to_string()),
        }
    }
}

/// An `MsqError` carried inside an `io::Error` (see `scratch::Charged`).
fn msq_in_io(e: &std::io::Error) -> Option<MsqError> {
    e.get_ref().and_then(|i| i.downcast_ref::<MsqError>()).cloned()
}

/// Looks for an `MsqError` wrapped anywhere inside a DataFusion error chain.
fn find_msq_error(e: &datafusion::error::DataFusionError) -> Option<MsqError> {
    use datafusion::error::DataFusionError as D;
    match e {
        D::External(inner) => inner.downcast_ref::<MsqError>().cloned(),
        D::Shared(inner) => find_msq_error(inner),
        D::Context(_, inner) | D::Diagnostic(_, inner) => find_msq_error(inner),
        D::Collection(errors) => errors.iter().find_map(find_msq_error),
        D::ArrowError(a, _) => match a.as_ref() {
            arrow::error::ArrowError::ExternalError(inner) => inner.downcast_ref::<MsqError>().cloned(),
            arrow::error::ArrowError::IoError(_, io) => msq_in_io(io),
            _ => None,
        },
        D::IoError(io) => msq_in_io(io),
        _ => None,
    }
}

impl From<MsqError> for datafusion::error::DataFusionError {
    fn from(e: MsqError) -> Self {
        datafusion::error::DataFusionError::External(Box::new(e))
    }
}

impl From<serde_json::Error> for MsqError {
    fn from(e: serde_json::Error) -> Self {
        MsqError::Unknown(format!("JSON error: {e}"))
    }
}
