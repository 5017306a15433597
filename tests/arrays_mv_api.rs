//! Arrays and multi-value strings over Druid's HTTP API on a loopback port: the SQL types
//! `INFORMATION_SCHEMA.COLUMNS` and the result headers report (arrays are `ARRAY`,
//! multi-value strings `VARCHAR`, as docs/querying/arrays.md says), and interactive SQL
//! (`POST /druid/v2/sql`) returning them. Expected rows come from testdata/arrays-mv.json,
//! read here with serde_json.

mod common;

use common::http::{post_json, start_server, wait_task_done};
use common::*;
use msq_controller::Overlord;
use serde_json::{json, Value};
use std::time::Duration;

/// The raw rows' `label` and `tags` (NULL for a missing, non-array or empty `tags`).
fn raw_tags() -> Vec<(String, Option<Vec<Value>>)> {
    let text = std::fs::read_to_string(testdata("arrays-mv.json")).unwrap();
    let mut rows: Vec<(String, Option<Vec<Value>>)> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let tags = v["tags"].as_array().cloned();
            (v["label"].as_str().unwrap().to_string(), tags)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

/// A multi-value row as Druid returns it: one value as itself, several as an array.
fn mv_json(tags: &Option<Vec<Value>>) -> Value {
    match tags.as_deref() {
        None | Some([]) => Value::Null,
        Some([one]) => one.clone(),
        Some(many) => Value::Array(many.to_vec()),
    }
}

async fn run_task(addr: &str, query: &str, context: Value) {
    let r = post_json(addr, "/druid/v2/sql/task", &json!({"query": query, "context": context})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["taskId"].as_str().unwrap().to_string();
    let st = wait_task_done(addr, &id, Duration::from_secs(300)).await;
    assert_eq!(st["status"]["status"], "SUCCESS", "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn array_and_multi_value_types_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_server(Overlord::open_local(dir.path()).unwrap(), 4, 1 << 20, None).await;
    let a = &s.addr;
    let file = testdata("arrays-mv.json").display().to_string();
    let insert = format!(
        "INSERT INTO arr_types SELECT TIME_PARSE(\"timestamp\") AS __time, label, tags AS tags_array, \
         ARRAY_TO_MV(tags) AS tags_mv, nums FROM TABLE(EXTERN('{{\"type\":\"local\",\"files\":[\"{file}\"]}}', \
         '{{\"type\":\"json\"}}', '[{{\"name\":\"timestamp\",\"type\":\"string\"}},{{\"name\":\"label\",\"type\":\"string\"}},\
         {{\"name\":\"tags\",\"type\":\"ARRAY<STRING>\"}},{{\"name\":\"nums\",\"type\":\"ARRAY<LONG>\"}}]')) PARTITIONED BY DAY"
    );
    run_task(a, &insert, json!({"maxNumTasks": 2})).await;

    // INFORMATION_SCHEMA: arrays are ARRAY, multi-value strings VARCHAR.
    let r = post_json(
        a,
        "/druid/v2/sql",
        &json!({"query": "SELECT COLUMN_NAME, DATA_TYPE FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'arr_types' ORDER BY ORDINAL_POSITION", "resultFormat": "array"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!([
            ["__time", "TIMESTAMP"],
            ["label", "VARCHAR"],
            ["tags_array", "ARRAY"],
            ["tags_mv", "VARCHAR"],
            ["nums", "ARRAY"]
        ])
    );

    // Interactive SQL: the header's types, and the values as Druid returns them.
    let r = post_json(
        a,
        "/druid/v2/sql",
        &json!({"query": "SELECT label, tags_mv, tags_array FROM arr_types ORDER BY label", "resultFormat": "array",
                "header": true, "sqlTypesHeader": true, "typesHeader": true}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    let rows = body.as_array().unwrap();
    assert_eq!(rows[0], json!(["label", "tags_mv", "tags_array"]));
    assert_eq!(rows[1], json!(["STRING", "STRING", "ARRAY<STRING>"]));
    assert_eq!(rows[2], json!(["VARCHAR", "VARCHAR", "ARRAY"]));
    let expected: Vec<Value> = raw_tags()
        .iter()
        .map(|(label, tags)| json!([label, mv_json(tags), tags.clone()]))
        .collect();
    assert_eq!(rows[3..].to_vec(), expected);

    // GROUP BY a multi-value string unnests it; the array column groups whole arrays.
    let r = post_json(
        a,
        "/druid/v2/sql",
        &json!({"query": "SELECT tags_mv, COUNT(*) FROM arr_types WHERE tags_mv IN ('a', 'b') GROUP BY 1 ORDER BY 2 DESC, 1", "resultFormat": "array"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut counts = std::collections::BTreeMap::<String, i64>::new();
    for (_, tags) in raw_tags() {
        let tags = tags.unwrap_or_default();
        if tags.iter().any(|t| t == "a" || t == "b") {
            for t in tags {
                *counts
                    .entry(t.as_str().map_or("null".into(), str::to_string))
                    .or_default() += 1;
            }
        }
    }
    let got: std::collections::BTreeMap<String, i64> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row[0].as_str().map_or("null".into(), str::to_string),
                row[1].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, counts);
}
