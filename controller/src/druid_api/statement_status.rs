//! The statements API's view of a query task (Druid's `SqlStatementResult`): its state,
//! schema, result summary and pages, or error, built from the task record and its report.
//! Pure functions of stored JSON, so every shape is unit-tested here.

use crate::results::PageInfo;
use msq_engine::metadata::TaskRecord;
use serde_json::{json, Map, Value};

/// The context key holding the `resultFormat` of the submitting request (Druid's name).
pub const RESULT_FORMAT_KEY: &str = "__resultFormat";

/// Druid's `SqlStatementState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementState {
    Accepted,
    Running,
    Success,
    Failed,
}

impl StatementState {
    /// A task's state: a running task that has no workers yet is `ACCEPTED`.
    pub fn of(rec: &TaskRecord) -> Self {
        match rec.status.as_str() {
            "SUCCESS" => StatementState::Success,
            "FAILED" => StatementState::Failed,
            _ if matches!(rec.runner_status.as_str(), "WAITING" | "PENDING") => StatementState::Accepted,
            _ => StatementState::Running,
        }
    }

    /// Druid's name.
    pub fn name(self) -> &'static str {
        match self {
            StatementState::Accepted => "ACCEPTED",
            StatementState::Running => "RUNNING",
            StatementState::Success => "SUCCESS",
            StatementState::Failed => "FAILED",
        }
    }

    /// Still accepted or running.
    pub fn is_active(self) -> bool {
        matches!(self, StatementState::Accepted | StatementState::Running)
    }
}

/// Where a task's SELECT results went (`spec.destination.type` of its payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    TaskReport,
    DurableStorage,
    /// An INSERT or REPLACE.
    DataSource,
}

impl Destination {
    /// The destination recorded in a task's payload.
    pub fn of(rec: &TaskRecord) -> Self {
        match rec.payload.pointer("/spec/destination/type").and_then(Value::as_str) {
            Some("durableStorage") => Destination::DurableStorage,
            Some("taskReport") => Destination::TaskReport,
            _ => Destination::DataSource,
        }
    }
}

/// Whether the statements API knows this task (a query controller task).
pub fn is_statement_task(rec: &TaskRecord) -> bool {
    rec.task_type == "query_controller"
}

/// The `resultFormat` the statement was submitted with (`object` when none).
pub fn submitted_format(rec: &TaskRecord) -> Option<&str> {
    rec.payload
        .pointer(&format!("/sqlQueryContext/{RESULT_FORMAT_KEY}"))
        .and_then(Value::as_str)
}

/// A SELECT's columns `[{name, type, nativeType}]` from the payload (none for ingestion).
pub fn schema(rec: &TaskRecord) -> Option<Value> {
    if Destination::of(rec) == Destination::DataSource {
        return None;
    }
    let names = rec.payload.pointer("/spec/columnMappings")?.as_array()?;
    let sql = rec.payload.get("sqlTypeNames")?.as_array()?;
    let native = rec.payload.get("nativeTypeNames")?.as_array()?;
    if names.len() != sql.len() || names.len() != native.len() {
        return None;
    }
    let cols = names
        .iter()
        .zip(sql)
        .zip(native)
        .map(|((m, s), n)| json!({"name": m.get("outputColumn"), "type": s, "nativeType": n}))
        .collect();
    Some(Value::Array(cols))
}

/// `payload` of a report (`multiStageQuery.payload`).
fn report_payload(report: Option<&Value>) -> Option<&Value> {
    report?.pointer("/multiStageQuery/payload")
}

/// The pages a finished SELECT's results can be read as: the deep-storage pages, or one page
/// of the report's rows.
pub fn pages(rec: &TaskRecord, report: Option<&Value>) -> Vec<PageInfo> {
    let results = report_payload(report).and_then(|p| p.get("results"));
    match Destination::of(rec) {
        Destination::DurableStorage => results
            .and_then(|r| r.get("pages"))
            .and_then(|p| serde_json::from_value(p.clone()).ok())
            .unwrap_or_default(),
        Destination::TaskReport => {
            let rows = report_rows(report);
            let size = rows.iter().map(|r| r.to_string().len() as u64 + 1).sum();
            vec![PageInfo {
                id: 0,
                num_rows: rows.len() as u64,
                size_in_bytes: size,
            }]
        }
        Destination::DataSource => vec![],
    }
}

/// The rows a report holds (`payload.results.results`).
pub fn report_rows(report: Option<&Value>) -> &[Value] {
    report_payload(report)
        .and_then(|p| p.pointer("/results/results"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Rows an ingestion pushed into segments (its `segmentGenerationProgress` counters).
fn rows_pushed(report: Option<&Value>) -> u64 {
    let Some(counters) = report_payload(report)
        .and_then(|p| p.get("counters"))
        .and_then(Value::as_object)
    else {
        return 0;
    };
    counters
        .values()
        .filter_map(Value::as_object)
        .flat_map(|workers| workers.values())
        .filter_map(|w| w.pointer("/segmentGenerationProgress/rowsPushed"))
        .filter_map(Value::as_u64)
        .sum()
}

/// `result` of a finished statement.
fn result_info(rec: &TaskRecord, report: Option<&Value>) -> Value {
    let mut m = Map::new();
    let destination = Destination::of(rec);
    if destination == Destination::DataSource {
        m.insert("numTotalRows".into(), json!(rows_pushed(report)));
        m.insert("totalSizeInBytes".into(), json!(0));
    } else {
        let pages = pages(rec, report);
        m.insert(
            "numTotalRows".into(),
            json!(pages.iter().map(|p| p.num_rows).sum::<u64>()),
        );
        m.insert(
            "totalSizeInBytes".into(),
            json!(pages.iter().map(|p| p.size_in_bytes).sum::<u64>()),
        );
    }
    m.insert("resultFormat".into(), json!(submitted_format(rec).unwrap_or("object")));
    m.insert("dataSource".into(), json!(rec.data_source));
    if destination != Destination::DataSource {
        m.insert("sampleRecords".into(), Value::Array(report_rows(report).to_vec()));
        m.insert("pages".into(), json!(pages(rec, report)));
    }
    Value::Object(m)
}

/// `errorDetails` of a failed statement: Druid's error response made of the report's fault
/// (its other fields, as text, become the `context`).
fn error_details(rec: &TaskRecord, report: Option<&Value>) -> Value {
    let fault = report_payload(report)
        .and_then(|p| p.pointer("/status/errorReport/error"))
        .and_then(Value::as_object);
    let Some(fault) = fault else {
        return json!({
            "error": "druidException",
            "errorCode": "general",
            "persona": "DEVELOPER",
            "category": "UNCATEGORIZED",
            "errorMessage": rec.error_msg.clone().unwrap_or_default(),
            "context": {},
        });
    };
    let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    let context: Map<String, Value> = fault
        .iter()
        .filter(|(k, _)| *k != "errorCode" && *k != "errorMessage")
        .map(|(k, v)| (k.clone(), Value::String(text(v))))
        .collect();
    json!({
        "error": "druidException",
        "errorCode": fault.get("errorCode").map(text).unwrap_or_else(|| "unknown".into()),
        "persona": "USER",
        "category": "UNCATEGORIZED",
        "errorMessage": fault.get("errorMessage").map(text).or_else(|| rec.error_msg.clone()).unwrap_or_default(),
        "context": context,
    })
}

/// The status body of `GET /druid/v2/sql/statements/{id}` (and of the POST that submitted
/// it). `with_results` adds `result` once it succeeded; `detail` adds the report's
/// `stages`, `counters` and `warnings`.
pub fn status_body(rec: &TaskRecord, report: Option<&Value>, with_results: bool, detail: bool) -> Value {
    let state = StatementState::of(rec);
    let mut m = Map::new();
    m.insert("queryId".into(), json!(rec.id));
    m.insert("state".into(), json!(state.name()));
    m.insert("createdAt".into(), json!(rec.created_time));
    if state != StatementState::Failed {
        if let Some(schema) = schema(rec) {
            m.insert("schema".into(), schema);
        }
    }
    m.insert("durationMs".into(), json!(rec.duration_ms));
    match state {
        StatementState::Success if with_results => {
            m.insert("result".into(), result_info(rec, report));
        }
        StatementState::Failed => {
            m.insert("errorDetails".into(), error_details(rec, report));
        }
        _ => {}
    }
    if detail {
        let payload = report_payload(report);
        let get = |ptr: &str, default: Value| payload.and_then(|p| p.pointer(ptr)).cloned().unwrap_or(default);
        m.insert("stages".into(), get("/stages", json!([])));
        m.insert("counters".into(), get("/counters", json!({})));
        m.insert("warnings".into(), get("/status/warnings", json!([])));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(status: &str, runner: &str, destination: &str) -> TaskRecord {
        TaskRecord {
            id: "query-1".into(),
            group_id: "query-1".into(),
            task_type: "query_controller".into(),
            data_source: if destination == "dataSource" {
                "wiki"
            } else {
                "__query_select"
            }
            .into(),
            created_time: "2026-01-01T00:00:00.000Z".into(),
            queue_insertion_time: "2026-01-01T00:00:00.000Z".into(),
            status: status.into(),
            runner_status: runner.into(),
            duration_ms: if status == "RUNNING" { -1 } else { 42 },
            error_msg: None,
            location: json!({}),
            payload: json!({
                "spec": {"destination": {"type": destination},
                         "columnMappings": [{"queryColumn": "c", "outputColumn": "c"}, {"queryColumn": "n", "outputColumn": "n"}]},
                "sqlTypeNames": ["VARCHAR", "BIGINT"],
                "nativeTypeNames": ["STRING", "LONG"],
                "sqlQueryContext": {"__resultFormat": "arrayLines"},
            }),
            report: None,
            opaque_id: None,
        }
    }

    #[test]
    fn states_follow_the_task() {
        assert_eq!(
            StatementState::of(&task("RUNNING", "WAITING", "taskReport")),
            StatementState::Accepted
        );
        assert_eq!(
            StatementState::of(&task("RUNNING", "RUNNING", "taskReport")),
            StatementState::Running
        );
        assert_eq!(
            StatementState::of(&task("SUCCESS", "NONE", "taskReport")),
            StatementState::Success
        );
        assert_eq!(
            StatementState::of(&task("FAILED", "NONE", "taskReport")),
            StatementState::Failed
        );
    }

    #[test]
    fn accepted_statement_has_schema_and_no_result() {
        let body = status_body(&task("RUNNING", "WAITING", "durableStorage"), None, true, false);
        assert_eq!(
            body,
            json!({"queryId": "query-1", "state": "ACCEPTED", "createdAt": "2026-01-01T00:00:00.000Z",
                   "schema": [{"name": "c", "type": "VARCHAR", "nativeType": "STRING"},
                              {"name": "n", "type": "BIGINT", "nativeType": "LONG"}],
                   "durationMs": -1})
        );
    }

    #[test]
    fn durable_results_list_their_pages() {
        let report = json!({"multiStageQuery": {"payload": {"results": {
            "results": [["a", 1]],
            "pages": [{"id": 0, "numRows": 10, "sizeInBytes": 100}, {"id": 1, "numRows": 3, "sizeInBytes": 40}]}}}});
        let body = status_body(&task("SUCCESS", "NONE", "durableStorage"), Some(&report), true, false);
        assert_eq!(
            body["result"],
            json!({"numTotalRows": 13, "totalSizeInBytes": 140, "resultFormat": "arrayLines",
                   "dataSource": "__query_select", "sampleRecords": [["a", 1]],
                   "pages": [{"id": 0, "numRows": 10, "sizeInBytes": 100}, {"id": 1, "numRows": 3, "sizeInBytes": 40}]})
        );
    }

    #[test]
    fn report_results_are_one_page_and_ingestion_counts_pushed_rows() {
        let report = json!({"multiStageQuery": {"payload": {"results": {"results": [["a", 1], ["b", 2]]}}}});
        let p = pages(&task("SUCCESS", "NONE", "taskReport"), Some(&report));
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].id, p[0].num_rows), (0, 2));
        let ingest = json!({"multiStageQuery": {"payload": {"counters": {
            "1": {"0": {"segmentGenerationProgress": {"rowsPushed": 7}}, "1": {"segmentGenerationProgress": {"rowsPushed": 5}}}}}}});
        let body = status_body(&task("SUCCESS", "NONE", "dataSource"), Some(&ingest), true, true);
        assert!(body.get("schema").is_none());
        assert_eq!(
            body["result"],
            json!({"numTotalRows": 12, "totalSizeInBytes": 0, "resultFormat": "arrayLines", "dataSource": "wiki"})
        );
        assert_eq!(body["warnings"], json!([]));
    }

    #[test]
    fn failures_carry_the_fault() {
        let report = json!({"multiStageQuery": {"payload": {"status": {"errorReport": {
            "error": {"errorCode": "InsertCannotBeEmpty", "errorMessage": "No rows", "dataSource": "wiki"}}}}}});
        let body = status_body(&task("FAILED", "NONE", "taskReport"), Some(&report), true, false);
        assert!(body.get("schema").is_none());
        assert_eq!(
            body["errorDetails"],
            json!({"error": "druidException", "errorCode": "InsertCannotBeEmpty", "persona": "USER",
                   "category": "UNCATEGORIZED", "errorMessage": "No rows", "context": {"dataSource": "wiki"}})
        );
    }
}
