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
    /// Unset means: INSERT fails (nothing to append is almost always a mistake), REPLACE
    /// succeeds and leaves tombstones over the OVERWRITE range.
    pub fail_on_empty_insert: Option<bool>,
    pub sql_query_id: Option<String>,
    /// `segmentSortOrder`: columns to sort segments by (default `__time` then CLUSTERED BY).
    pub segment_sort_order: Option<Vec<String>>,
    /// msq-rs: bytes a worker buffers before spilling (`workerMemoryBytes`, default 256 MiB).
    pub worker_memory_bytes: usize,
    /// msq-rs: rows per frame (`rowsPerFrame`, default 8192).
    pub rows_per_frame: usize,
}

impl Default for QueryContext {
    fn default() -> Self {
        QueryContext::parse(&Map::new()).expect("empty context is valid")
    }
}

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
        let int = |key: &str, default: i64, min: i64| -> Result<i64> {
            match raw.get(key) {
                None | Some(Value::Null) => Ok(default),
                Some(v) => match as_i64(v) {
                    Some(n) if n >= min => Ok(n),
                    _ => Err(MsqError::Validation(format!(
                        "Invalid value [{v}] for query context parameter [{key}]: expected an integer >= {min}"
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
        Ok(QueryContext {
            max_num_tasks: int("maxNumTasks", 2, 2)? as usize,
            rows_per_segment: int("rowsPerSegment", 3_000_000, 1)? as u64,
            max_rows_in_memory: int("maxRowsInMemory", 100_000, 1)? as u64,
            max_parse_exceptions: int("maxParseExceptions", 0, -1)?,
            finalize_aggregations: boolean("finalizeAggregations", true)?,
            fail_on_empty_insert: match raw.get("failOnEmptyInsert") {
                None | Some(Value::Null) => None,
                Some(_) => Some(boolean("failOnEmptyInsert", false)?),
            },
            sql_query_id: raw.get("sqlQueryId").and_then(|v| v.as_str()).map(str::to_string),
            segment_sort_order,
            worker_memory_bytes: int("workerMemoryBytes", 256 << 20, 1024)? as usize,
            rows_per_frame: int("rowsPerFrame", 8192, 1)? as usize,
            raw: raw.clone(),
        })
    }

    /// Number of worker tasks (`maxNumTasks - 1`).
    pub fn worker_count(&self) -> usize {
        self.max_num_tasks.saturating_sub(1).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        assert!(QueryContext::parse(bad.as_object().unwrap()).is_err());
    }
}
