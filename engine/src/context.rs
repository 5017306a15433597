//! The query context (`"context"` of a SQL task request), parsed into typed settings.

use crate::{MsqError, Result};
use serde_json::{Map, Value};

/// Typed view of the context keys msq-rs understands; the raw map keeps every key.
#[derive(Debug, Clone)]
pub struct QueryContext {
    pub raw: Map<String, Value>,
    /// `maxNumTasks`: controller plus workers (default 2, so one worker).
    pub max_num_tasks: usize,
    pub rows_per_segment: u64,
    pub max_rows_in_memory: u64,
    /// `maxParseExceptions` (default 0; -1 means unlimited).
    pub max_parse_exceptions: i64,
    pub finalize_aggregations: bool,
    /// `failOnEmptyInsert`: fail ingestion that produces no rows with `InsertCannotBeEmpty`.
    /// Unset means false, Druid's default since 29.0: an empty INSERT succeeds and publishes
    /// nothing, an empty REPLACE succeeds and leaves tombstones over the OVERWRITE range.
    pub fail_on_empty_insert: Option<bool>,
    pub sql_query_id: Option<String>,
    /// `segmentSortOrder`: columns to sort segments by (default `__time` then CLUSTERED BY).
    pub segment_sort_order: Option<Vec<String>>,
    /// Druid SQL and MSQ settings with a fixed set of values (see [`SqlSettings`]).
    pub sql: SqlSettings,
    /// msq-rs: bytes a worker buffers before spilling (`workerMemoryBytes`, default 256 MiB).
    pub worker_memory_bytes: usize,
    /// msq-rs: rows per frame (`rowsPerFrame`, default 8192).
    pub rows_per_frame: usize,
    /// `durableShuffleStorage`: stage outputs go to object storage (implied by fault tolerance).
    pub durable_shuffle_storage: bool,
    /// `faultTolerance`: relaunch failed workers and re-run their work from durable storage.
    pub fault_tolerance: bool,
    /// `taskLockTimeout`: how long an ingestion waits for conflicting tasks' time-chunk locks
    /// (milliseconds, Druid's default 300,000).
    pub task_lock_timeout_ms: u64,
}

impl Default for QueryContext {
    fn default() -> Self {
        QueryContext::parse(&Map::new()).expect("empty context is valid")
    }
}

/// Accepted range of `rowsPerSegment` (a Java `int` in Druid).
pub const ROWS_PER_SEGMENT: (i64, i64) = (1, i32::MAX as i64);
/// Accepted range of `maxRowsInMemory` (a Java `int` in Druid).
pub const MAX_ROWS_IN_MEMORY: (i64, i64) = (1, i32::MAX as i64);
/// Druid's default `taskLockTimeout` (5 minutes).
pub const DEFAULT_TASK_LOCK_TIMEOUT_MS: i64 = 300_000;
/// Accepted range of `taskLockTimeout` in milliseconds.
pub const TASK_LOCK_TIMEOUT_MS: (i64, i64) = (0, i64::MAX);
/// Accepted range of `maxParseExceptions` (-1: unlimited).
pub const MAX_PARSE_EXCEPTIONS: (i64, i64) = (-1, i64::MAX);
/// Accepted range of `workerMemoryBytes`: 1 KiB to 1 TiB.
pub const WORKER_MEMORY_BYTES: (i64, i64) = (1024, 1 << 40);
/// Accepted range of `rowsPerFrame`: a frame is at most 1 MB in Druid, so more than a
/// million rows never fit one; larger values only make allocations fail.
pub const ROWS_PER_FRAME: (i64, i64) = (1, 1_000_000);
/// Accepted range of `rowsPerPage` (a Java `int` in Druid).
pub const ROWS_PER_PAGE: (i64, i64) = (1, i32::MAX as i64);
/// Largest `maxNumTasks` accepted (a Java `int` in Druid); more than Druid's 1,000 workers
/// fails with `TooManyWorkers` at planning.
pub const MAX_NUM_TASKS_LIMIT: i64 = i32::MAX as i64;

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl QueryContext {
    /// Parses a context map; bad values of known keys are errors naming the key.
    pub fn parse(raw: &Map<String, Value>) -> Result<Self> {
        let int = |key: &str, default: i64, (min, max): (i64, i64)| -> Result<i64> {
            match raw.get(key) {
                None | Some(Value::Null) => Ok(default),
                Some(v) => match as_i64(v) {
                    Some(n) if (min..=max).contains(&n) => Ok(n),
                    _ => Err(MsqError::Validation(format!(
                        "Invalid value [{v}] for query context parameter [{key}]: expected an integer between {min} and {max}"
                    ))),
                },
            }
        };
        let boolean = |key: &str, default: bool| -> Result<bool> {
            match raw.get(key) {
                None | Some(Value::Null) => Ok(default),
                Some(v) => as_bool(v).ok_or_else(|| {
                    MsqError::Validation(format!(
                        "Invalid value [{v}] for query context parameter [{key}]: expected true or false"
                    ))
                }),
            }
        };
        let segment_sort_order = match raw.get("segmentSortOrder") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()),
            Some(Value::String(s)) => Some(
                s.split(',')
                    .map(|c| c.trim().to_string())
                    .filter(|c| !c.is_empty())
                    .collect(),
            ),
            Some(v) => {
                return Err(MsqError::Validation(format!(
                    "Invalid value [{v}] for query context parameter [segmentSortOrder]"
                )))
            }
        };
        let sql = SqlSettings::parse(raw)?;
        Ok(QueryContext {
            max_num_tasks: sql.max_num_tasks,
            rows_per_segment: int("rowsPerSegment", 3_000_000, ROWS_PER_SEGMENT)? as u64,
            max_rows_in_memory: int("maxRowsInMemory", 100_000, MAX_ROWS_IN_MEMORY)? as u64,
            max_parse_exceptions: int("maxParseExceptions", 0, MAX_PARSE_EXCEPTIONS)?,
            finalize_aggregations: boolean("finalizeAggregations", true)?,
            fail_on_empty_insert: match raw.get("failOnEmptyInsert") {
                None | Some(Value::Null) => None,
                Some(_) => Some(boolean("failOnEmptyInsert", false)?),
            },
            // It names the task (`query-<id>`), its scratch directories and durable shuffle
            // files: Druid's id rules apply (see `ids`).
            sql_query_id: match raw.get("sqlQueryId").and_then(|v| v.as_str()) {
                Some(id) => {
                    crate::ids::validate_sql_query_id(id)?;
                    Some(id.to_string())
                }
                None => None,
            },
            segment_sort_order,
            sql,
            worker_memory_bytes: int("workerMemoryBytes", 256 << 20, WORKER_MEMORY_BYTES)? as usize,
            rows_per_frame: int("rowsPerFrame", 8192, ROWS_PER_FRAME)? as usize,
            durable_shuffle_storage: boolean("durableShuffleStorage", false)? || boolean("faultTolerance", false)?,
            fault_tolerance: boolean("faultTolerance", false)?,
            task_lock_timeout_ms: int("taskLockTimeout", DEFAULT_TASK_LOCK_TIMEOUT_MS, TASK_LOCK_TIMEOUT_MS)? as u64,
            raw: raw.clone(),
        })
    }

    /// Number of worker tasks (`maxNumTasks - 1`).
    pub fn worker_count(&self) -> usize {
        self.max_num_tasks.saturating_sub(1).max(1)
    }
}

/// `taskAssignment`: how many workers a stage gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskAssignment {
    /// As many workers as `maxNumTasks` allows (Druid's default).
    Max,
    /// As few workers as the input needs: 512 MiB (weighted) and 10,000 files per worker
    /// (`kernel::task_assignment`).
    Auto,
}

/// `sqlJoinAlgorithm`: how joins run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinAlgorithm {
    /// Right-hand inputs are broadcast to every worker of the left input (default).
    Broadcast,
    /// Both inputs are hash-shuffled on the join key and merge-joined.
    SortMerge,
}

/// `arrayIngestMode`: how ARRAY values are stored by INSERT / REPLACE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrayIngestMode {
    /// ARRAY columns of any element type (msq-rs default: SQL-compliant).
    Array,
    /// Only VARCHAR arrays, stored as multi-value strings.
    Mvd,
    /// Storing any array is an error.
    None,
}

/// `selectDestination`: where SELECT results go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectDestination {
    TaskReport,
    DurableStorage,
}

/// The Druid SQL / MSQ context keys that take one of a fixed set of values, plus the SQL
/// connection settings (`sqlTimeZone`, `sqlCurrentTimestamp`), validated up front.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlSettings {
    /// `maxNumTasks` (or its alias `numTasks`), at least 2.
    pub max_num_tasks: usize,
    pub task_assignment: TaskAssignment,
    pub join_algorithm: JoinAlgorithm,
    pub array_ingest_mode: ArrayIngestMode,
    pub select_destination: SelectDestination,
    /// `groupByEnableMultiValueUnnesting` (default true).
    pub group_by_enable_multi_value_unnesting: bool,
    /// `useApproximateCountDistinct` (default true): COUNT(DISTINCT) is an HLL sketch in Druid.
    pub use_approximate_count_distinct: bool,
    /// `rowsPerPage` for `selectDestination: durableStorage` (default 100,000).
    pub rows_per_page: u64,
    /// `sqlTimeZone`, unvalidated text (the SQL layer parses zones).
    pub time_zone: Option<String>,
    /// `sqlCurrentTimestamp`: the statement's CURRENT_TIMESTAMP, as given.
    pub current_timestamp: Option<String>,
}

impl SqlSettings {
    /// Parses the keys from a context map; bad values are `InvalidInput` errors naming the key.
    pub fn parse(raw: &Map<String, Value>) -> Result<Self> {
        let r = ContextReader(raw);
        Ok(SqlSettings {
            max_num_tasks: r.max_num_tasks()?,
            task_assignment: match r.choice("taskAssignment", &["max", "auto"], false, "'max' or 'auto'")? {
                Some(1) => TaskAssignment::Auto,
                _ => TaskAssignment::Max,
            },
            join_algorithm: match r.choice(
                "sqlJoinAlgorithm",
                &["broadcast", "sortMerge"],
                true,
                "'broadcast' or 'sortMerge'",
            )? {
                Some(1) => JoinAlgorithm::SortMerge,
                _ => JoinAlgorithm::Broadcast,
            },
            array_ingest_mode: match r.choice(
                "arrayIngestMode",
                &["array", "mvd", "none"],
                false,
                "'array', 'mvd' or 'none'",
            )? {
                Some(1) => ArrayIngestMode::Mvd,
                Some(2) => ArrayIngestMode::None,
                _ => ArrayIngestMode::Array,
            },
            select_destination: match r.choice(
                "selectDestination",
                &["taskReport", "durableStorage"],
                false,
                "'taskReport' or 'durableStorage'",
            )? {
                Some(1) => SelectDestination::DurableStorage,
                _ => SelectDestination::TaskReport,
            },
            group_by_enable_multi_value_unnesting: r.flag("groupByEnableMultiValueUnnesting", true)?,
            use_approximate_count_distinct: r.flag("useApproximateCountDistinct", true)?,
            rows_per_page: r.rows_per_page()?,
            time_zone: r.text("sqlTimeZone")?,
            current_timestamp: r.text("sqlCurrentTimestamp")?,
        })
    }
}

/// Typed reads of context keys; a present but ill-typed value is an `InvalidInput` error
/// naming the key, a JSON `null` counts as absent.
struct ContextReader<'a>(&'a Map<String, Value>);

impl ContextReader<'_> {
    fn bad(key: &str, v: &Value, expected: &str) -> MsqError {
        MsqError::Validation(format!(
            "Invalid value [{}] for query context parameter [{key}]: expected {expected}",
            v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
        ))
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// The index of the value among `options` (`exact`: case-sensitive).
    fn choice(&self, key: &str, options: &[&str], exact: bool, expected: &str) -> Result<Option<usize>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        let s = v.as_str().ok_or_else(|| Self::bad(key, v, expected))?.trim();
        options
            .iter()
            .position(|o| if exact { *o == s } else { o.eq_ignore_ascii_case(s) })
            .map(Some)
            .ok_or_else(|| Self::bad(key, v, expected))
    }

    fn flag(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => as_bool(v).ok_or_else(|| Self::bad(key, v, "true or false")),
        }
    }

    fn text(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(Self::bad(key, v, "a string")),
        }
    }

    /// `maxNumTasks` (or its older name `numTasks`): 2 by default, at least 2 (a controller
    /// and a worker), at most [`MAX_NUM_TASKS_LIMIT`].
    fn max_num_tasks(&self) -> Result<usize> {
        let key = if self.get("maxNumTasks").is_some() {
            "maxNumTasks"
        } else {
            "numTasks"
        };
        let Some(v) = self.get(key) else { return Ok(2) };
        let n = as_i64(v).ok_or_else(|| Self::bad(key, v, "an integer"))?;
        if n < 2 {
            return Err(MsqError::Validation(format!(
                "MSQ context maxNumTasks [{n}] cannot be less than 2, since at least 1 controller and 1 worker is necessary"
            )));
        }
        if n > MAX_NUM_TASKS_LIMIT {
            return Err(Self::bad(
                key,
                v,
                &format!("an integer between 2 and {MAX_NUM_TASKS_LIMIT}"),
            ));
        }
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// `rowsPerPage`: 100,000 by default, within [`ROWS_PER_PAGE`].
    fn rows_per_page(&self) -> Result<u64> {
        let Some(v) = self.get("rowsPerPage") else {
            return Ok(100_000);
        };
        let (min, max) = ROWS_PER_PAGE;
        as_i64(v)
            .filter(|n| (min..=max).contains(n))
            .map(|n| n as u64)
            .ok_or_else(|| Self::bad("rowsPerPage", v, &format!("an integer between {min} and {max}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn task_lock_timeout_defaults_to_druids_and_must_be_non_negative() {
        let parse = |v: Value| QueryContext::parse(v.as_object().unwrap());
        assert_eq!(parse(json!({})).unwrap().task_lock_timeout_ms, 300_000);
        assert_eq!(
            parse(json!({"taskLockTimeout": 1500})).unwrap().task_lock_timeout_ms,
            1500
        );
        assert_eq!(
            parse(json!({"taskLockTimeout": "20"})).unwrap().task_lock_timeout_ms,
            20
        );
        for bad in [json!(-1), json!("soon")] {
            let e = parse(json!({ "taskLockTimeout": bad })).unwrap_err();
            assert_eq!(e.error_code(), "InvalidInput");
            assert!(e.to_string().contains("taskLockTimeout"), "{e}");
        }
    }

    #[test]
    fn defaults_and_overrides() {
        let c = QueryContext::default();
        assert_eq!(c.worker_count(), 1);
        assert_eq!(c.rows_per_segment, 3_000_000);
        assert_eq!(c.max_parse_exceptions, 0);
        let raw = json!({"maxNumTasks": "5", "maxParseExceptions": -1, "custom": 1});
        let c = QueryContext::parse(raw.as_object().unwrap()).unwrap();
        assert_eq!(c.worker_count(), 4);
        assert_eq!(c.max_parse_exceptions, -1);
        assert_eq!(c.raw["custom"], json!(1));
        let bad = json!({"maxNumTasks": 1});
        let e = QueryContext::parse(bad.as_object().unwrap()).unwrap_err();
        assert_eq!(e.error_code(), "InvalidInput");
        assert_eq!(
            e.to_string(),
            "MSQ context maxNumTasks [1] cannot be less than 2, since at least 1 controller and 1 worker is necessary"
        );
    }

    #[test]
    fn values_out_of_range_are_invalid_input() {
        for (key, bad, good) in [
            ("rowsPerFrame", json!(2147483648_i64), json!(1_000_000)),
            ("rowsPerFrame", json!(0), json!(1)),
            ("rowsPerSegment", json!(0), json!(1)),
            ("rowsPerSegment", json!(1_i64 << 40), json!(i32::MAX)),
            ("maxRowsInMemory", json!(-5), json!(1)),
            ("maxParseExceptions", json!(-2), json!(-1)),
            ("workerMemoryBytes", json!(10), json!(1024)),
            ("workerMemoryBytes", json!(1_i64 << 50), json!(1_i64 << 40)),
            ("workerMemoryBytes", json!("lots"), json!("65536")),
        ] {
            let raw = json!({ key: bad });
            let e = QueryContext::parse(raw.as_object().unwrap()).unwrap_err();
            assert_eq!(e.error_code(), "InvalidInput", "{raw}");
            assert!(e.to_string().contains(key), "{e}");
            let raw = json!({ key: good });
            QueryContext::parse(raw.as_object().unwrap()).unwrap_or_else(|e| panic!("{raw}: {e}"));
        }
    }

    #[test]
    fn sql_settings() {
        let parse = |v: serde_json::Value| SqlSettings::parse(v.as_object().unwrap());
        let d = parse(json!({})).unwrap();
        assert_eq!(d.max_num_tasks, 2);
        assert_eq!(d.task_assignment, TaskAssignment::Max);
        assert_eq!(d.join_algorithm, JoinAlgorithm::Broadcast);
        assert_eq!(d.array_ingest_mode, ArrayIngestMode::Array);
        assert_eq!(d.select_destination, SelectDestination::TaskReport);
        assert!(d.group_by_enable_multi_value_unnesting);
        let s = parse(json!({
            "numTasks": 4, "taskAssignment": "AUTO", "sqlJoinAlgorithm": "sortMerge",
            "arrayIngestMode": "mvd", "selectDestination": "durableStorage",
            "groupByEnableMultiValueUnnesting": false, "sqlTimeZone": "America/Los_Angeles"
        }))
        .unwrap();
        assert_eq!(s.max_num_tasks, 4);
        assert_eq!(s.task_assignment, TaskAssignment::Auto);
        assert_eq!(s.join_algorithm, JoinAlgorithm::SortMerge);
        assert_eq!(s.array_ingest_mode, ArrayIngestMode::Mvd);
        assert_eq!(s.select_destination, SelectDestination::DurableStorage);
        assert!(!s.group_by_enable_multi_value_unnesting);
        assert_eq!(s.time_zone.as_deref(), Some("America/Los_Angeles"));
        // maxNumTasks wins over numTasks.
        assert_eq!(
            parse(json!({"numTasks": 9, "maxNumTasks": 3})).unwrap().max_num_tasks,
            3
        );
        for bad in [
            json!({"sqlJoinAlgorithm": "hash"}),
            json!({"sqlJoinAlgorithm": "sortmerge"}),
            json!({"taskAssignment": "min"}),
            json!({"arrayIngestMode": "list"}),
            json!({"selectDestination": "s3"}),
            json!({"groupByEnableMultiValueUnnesting": "maybe"}),
            json!({"maxNumTasks": "x"}),
            json!({"sqlTimeZone": 5}),
            json!({"maxNumTasks": 2147483648_i64}),
            json!({"rowsPerPage": 0}),
        ] {
            let e = parse(bad.clone()).unwrap_err();
            assert_eq!(e.error_code(), "InvalidInput", "{bad}");
        }
    }
}
