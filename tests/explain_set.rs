//! `EXPLAIN PLAN FOR` and `SET` statements through `POST /druid/v2/sql/task` (a real server on
//! an ephemeral loopback port) and `msq run`.

mod common;

use common::http::{get, request, start_server, Resp, Server};
use common::*;
use msq_controller::Overlord;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

async fn start(dir: &Path) -> Server {
    start_server(Overlord::open_local(dir).unwrap(), 4, 10 << 20, None).await
}

async fn post_sql(addr: &str, body: &Value) -> Resp {
    let headers = [("Content-Type", "application/json")];
    request(addr, "POST", "/druid/v2/sql/task", &headers, Some(&body.to_string())).await
}

async fn task_count(addr: &str) -> usize {
    let r = get(addr, "/druid/indexer/v1/tasks").await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json().as_array().unwrap().len()
}

/// The wikipedia ingestion of `examples/wikipedia.sql` (a REPLACE) as an INSERT, its input
/// directory made absolute.
fn wikipedia_insert() -> String {
    let script = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/wikipedia.sql")).unwrap();
    let replace = msq_sql::script::split_statements(&script).remove(0);
    let header = "REPLACE INTO wikipedia OVERWRITE ALL";
    assert!(replace.contains(header), "{replace}");
    let insert = replace.replacen(header, "INSERT INTO wikipedia", 1);
    let dir = testdata("").display().to_string();
    insert.replace(
        r#""baseDir":"testdata""#,
        &format!(r#""baseDir":"{}""#, dir.trim_end_matches('/')),
    )
}

const WIKIPEDIA_COLUMNS: [&str; 18] = [
    "__time",
    "channel",
    "page",
    "user",
    "namespace",
    "comment",
    "cityName",
    "countryName",
    "countryIsoCode",
    "isAnonymous",
    "isMinor",
    "isNew",
    "isRobot",
    "isUnpatrolled",
    "metroCode",
    "added",
    "deleted",
    "delta",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_of_the_wikipedia_insert_answers_the_plan_and_starts_no_task() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let sql = format!("EXPLAIN PLAN FOR\n{}", wikipedia_insert());
    let r = post_sql(
        &server.addr,
        &json!({"query": sql, "context": {"sqlQueryId": "explain-1"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("X-Druid-SQL-Query-Id"), Some("explain-1"));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let rows = r.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    let row = rows[0].as_object().unwrap();
    let keys: Vec<&str> = row.keys().map(String::as_str).collect();
    assert_eq!(keys, ["PLAN", "RESOURCES", "ATTRIBUTES"]);

    // ATTRIBUTES and RESOURCES: exactly Druid's texts for this statement.
    assert_eq!(
        row["ATTRIBUTES"],
        r#"{"statementType":"INSERT","targetDataSource":"wikipedia","partitionedBy":"HOUR","clusteredBy":["channel"]}"#
    );
    let attributes: Value = serde_json::from_str(row["ATTRIBUTES"].as_str().unwrap()).unwrap();
    assert_eq!(attributes["statementType"], "INSERT");
    assert_eq!(attributes["targetDataSource"], "wikipedia");
    assert_eq!(attributes["partitionedBy"], "HOUR");
    assert_eq!(attributes["clusteredBy"], json!(["channel"]));
    assert_eq!(attributes.get("replaceTimeChunks"), None);
    assert_eq!(
        row["RESOURCES"],
        r#"[{"name":"EXTERNAL","type":"EXTERNAL"},{"name":"wikipedia","type":"DATASOURCE"}]"#
    );

    // PLAN: this engine's stage DAG under the query id, the output signature and mappings.
    let plan: Value = serde_json::from_str(row["PLAN"].as_str().unwrap()).unwrap();
    let plan = plan.as_array().unwrap();
    assert_eq!(plan.len(), 1);
    let query = &plan[0]["query"];
    assert_eq!(query["queryType"], "msq");
    assert_eq!(query["queryId"], "explain-1");
    assert_eq!(query["context"], json!({"sqlQueryId": "explain-1"}));
    let stages = query["stages"].as_array().unwrap();
    assert!(stages.len() >= 2, "{stages:?}");
    assert_eq!(stages[0]["id"], "explain-1_0");
    assert_eq!(stages[0]["input"][0]["type"], "external");
    assert_eq!(stages[0]["input"][0]["inputSource"]["filter"], "wikiticker-*.json.gz");
    let last = stages.last().unwrap();
    assert_eq!(last["processor"]["type"], "segmentGenerator");
    assert_eq!(last["processor"]["dataSchema"]["dataSource"], "wikipedia");
    let shuffle = &stages[stages.len() - 2]["shuffleSpec"];
    assert_eq!(shuffle["type"], "targetSize");
    assert_eq!(
        shuffle["clusterBy"]["columns"],
        json!([{"columnName": "__bucket"}, {"columnName": "channel"}, {"columnName": "__time"}])
    );
    let names: Vec<&str> = plan[0]["signature"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, WIKIPEDIA_COLUMNS);
    assert_eq!(plan[0]["signature"][0], json!({"name": "__time", "type": "LONG"}));
    assert_eq!(plan[0]["signature"][1], json!({"name": "channel", "type": "STRING"}));
    assert_eq!(plan[0]["signature"][14], json!({"name": "metroCode", "type": "LONG"}));
    assert_eq!(
        plan[0]["columnMappings"][0],
        json!({"queryColumn": "__time", "outputColumn": "__time"})
    );
    assert_eq!(plan[0]["columnMappings"].as_array().unwrap().len(), 18);

    // Nothing ran: no task, no segments.
    assert_eq!(task_count(&server.addr).await, 0);
    assert_eq!(
        get(&server.addr, "/druid/indexer/v1/task/query-explain-1/status")
            .await
            .status,
        404
    );

    // The request's resultFormat and header options shape the answer.
    let r = post_sql(
        &server.addr,
        &json!({"query": "EXPLAIN PLAN FOR SELECT 1 AS one", "resultFormat": "array", "header": true}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("X-Druid-SQL-Header-Included"), Some("yes"));
    let rows = r.json();
    assert_eq!(rows[0], json!(["PLAN", "RESOURCES", "ATTRIBUTES"]));
    assert_eq!(rows[1][1], "[]");
    assert_eq!(rows[1][2], r#"{"statementType":"SELECT"}"#);
    assert_eq!(task_count(&server.addr).await, 0);
}

/// An inline-data SELECT (no files, no datasource).
const INLINE_SELECT: &str = r#"SELECT COUNT(*) AS n FROM TABLE(EXTERN('{"type":"inline","data":"{\"x\":1}\n{\"x\":2}\n"}', '{"type":"json"}', '[{"name":"x","type":"long"}]'))"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_statements_reach_the_task_context() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let sql = format!("SET maxNumTasks = 3;\nSET sqlQueryId = 'set-test';\nSET custom = TRUE;\n{INLINE_SELECT}");
    let r = post_sql(
        &server.addr,
        &json!({"query": sql, "context": {"maxNumTasks": 2, "other": "kept"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["taskId"], "query-set-test");
    let start = Instant::now();
    let status = loop {
        let r = get(&server.addr, "/druid/indexer/v1/task/query-set-test/status").await;
        assert_eq!(r.status, 200, "{}", r.body);
        let s = r.json()["status"]["status"].as_str().unwrap().to_string();
        if s != "RUNNING" {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "task did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status, "SUCCESS");
    let payload = get(&server.addr, "/druid/indexer/v1/task/query-set-test").await.json()["payload"].clone();
    // SET wins over the request's context; the rest of the context stays.
    assert_eq!(
        payload["sqlQueryContext"],
        json!({"maxNumTasks": 3, "other": "kept", "sqlQueryId": "set-test", "custom": true})
    );
    assert_eq!(payload["spec"]["tuningConfig"]["maxNumWorkers"], 2);
    assert_eq!(payload["sqlQuery"], sql);
    let report = get(&server.addr, "/druid/indexer/v1/task/query-set-test/reports")
        .await
        .json();
    let results = &report["multiStageQuery"]["payload"]["results"]["results"];
    assert_eq!(results, &json!([[2]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_set_and_explain_input_is_a_400_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let cases: [(&str, &str, &str); 8] = [
        (
            "SET maxNumTasks = 3;",
            "Plan validation failed",
            "Invalid sql statement list[SET maxNumTasks = 3;] - statement list must end with a statement that is not a SET",
        ),
        (
            "SET maxNumTasks = three; SELECT 1",
            "Plan validation failed",
            "Assigned value must be a literal for SET statement[SET maxNumTasks = three]",
        ),
        (
            "SET = 3; SELECT 1",
            "SQL parse failed",
            "Received an unexpected token [=] (line [1], column [5]), acceptable options: [<identifier>]",
        ),
        (
            "SET maxNumTasks = 3 SELECT 1",
            "SQL parse failed",
            "Received an unexpected token [SELECT] (line [1], column [21]), acceptable options: [\";\"]",
        ),
        (
            "SET maxNumTasks = 1; SELECT 1",
            "Plan validation failed",
            "MSQ context maxNumTasks [1] cannot be less than 2, since at least 1 controller and 1 worker is necessary",
        ),
        (
            "SET rowsPerSegment = 'many'; SELECT 1",
            "Plan validation failed",
            "Invalid value [\"many\"] for query context parameter [rowsPerSegment]: expected an integer between 1 and 2147483647",
        ),
        (
            "EXPLAIN SELECT 1",
            "SQL parse failed",
            "Received an unexpected token [SELECT] (line [1], column [9]), acceptable options: [\"PLAN\"]",
        ),
        (
            "EXPLAIN PLAN FOR UPDATE wikipedia SET x = 1",
            "SQL parse failed",
            "Received an unexpected token [UPDATE] (line [1], column [18]), acceptable options: [\"SELECT\", \"WITH\", \"INSERT\", \"REPLACE\"]",
        ),
    ];
    for (sql, error, message) in cases {
        let r = post_sql(&server.addr, &json!({"query": sql})).await;
        assert_eq!(r.status, 400, "{sql}: {}", r.body);
        assert_eq!(r.json()["error"], error, "{sql}: {}", r.body);
        assert_eq!(r.message(), message, "{sql}");
    }
    let r = post_sql(&server.addr, &json!({"query": "SELECT 1", "resultFormat": "xml"})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(task_count(&server.addr).await, 0);
}

#[test]
fn msq_run_prints_the_explain_row_and_applies_set() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!("SET maxNumTasks = 3;\nEXPLAIN PLAN FOR\n{};", wikipedia_insert());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_msq"))
        .args(["run", "--format", "json", "--data-dir"])
        .arg(dir.path().join("var"))
        .args(["--sql", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let row: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(
        row["ATTRIBUTES"],
        r#"{"statementType":"INSERT","targetDataSource":"wikipedia","partitionedBy":"HOUR","clusteredBy":["channel"]}"#
    );
    let plan: Value = serde_json::from_str(row["PLAN"].as_str().unwrap()).unwrap();
    assert_eq!(plan[0]["query"]["context"]["maxNumTasks"], 3);
    // Nothing was written.
    assert!(!dir.path().join("var/segments/wikipedia").exists());

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_msq"))
        .args(["run", "--data-dir"])
        .arg(dir.path().join("var"))
        .args(["--sql", "SELECT 1; SET maxNumTasks = 3;"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("statement list must end with a statement that is not a SET"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_sql_answers_explain_too() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let body = json!({
        "query": format!("SET maxNumTasks = 3;\nEXPLAIN PLAN FOR\n{}", wikipedia_insert()),
        "resultFormat": "objectLines",
        "context": {"sqlQueryId": "explain-2"},
    });
    let headers = [("Content-Type", "application/json")];
    let r = request(&server.addr, "POST", "/druid/v2/sql", &headers, Some(&body.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("X-Druid-SQL-Query-Id"), Some("explain-2"));
    assert!(r.body.ends_with("}\n\n"), "{:?}", r.body);
    let row: Value = serde_json::from_str(r.body.trim_end()).unwrap();
    assert_eq!(
        row["ATTRIBUTES"],
        r#"{"statementType":"INSERT","targetDataSource":"wikipedia","partitionedBy":"HOUR","clusteredBy":["channel"]}"#
    );
    assert_eq!(
        row["RESOURCES"],
        r#"[{"name":"EXTERNAL","type":"EXTERNAL"},{"name":"wikipedia","type":"DATASOURCE"}]"#
    );
    let plan: Value = serde_json::from_str(row["PLAN"].as_str().unwrap()).unwrap();
    assert_eq!(
        plan[0]["query"]["context"],
        json!({"sqlQueryId": "explain-2", "maxNumTasks": 3})
    );

    // A plain-text body, and bad input: 400.
    let text = [("Content-Type", "text/plain")];
    let r = request(
        &server.addr,
        "POST",
        "/druid/v2/sql",
        &text,
        Some("EXPLAIN PLAN FOR SELECT 1"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()[0]["ATTRIBUTES"], r#"{"statementType":"SELECT"}"#);
    let r = request(
        &server.addr,
        "POST",
        "/druid/v2/sql",
        &text,
        Some("SET maxNumTasks = 3;"),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(task_count(&server.addr).await, 0);
}
