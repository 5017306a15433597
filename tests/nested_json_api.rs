//! Nested JSON columns over Druid's HTTP API on a loopback port, with the statements and
//! documented results of Druid's docs/querying/nested-columns.md: the SQL-based ingestion,
//! `INFORMATION_SCHEMA.COLUMNS` (`COMPLEX<json>`), the result headers (native
//! `COMPLEX<json>`, SQL `OTHER`; `RETURNING BIGINT` / `DECIMAL` as `LONG BIGINT` / `DOUBLE
//! DECIMAL`), the values as JSON (CSV: their text), and a user error (InvalidInput, 400).
//! Expected values come from testdata/nested_example.json, read here with serde_json.

mod common;

use common::http::{post_json, start_server, wait_task_done};
use common::*;
use msq_controller::Overlord;
use serde_json::{json, Value};
use std::time::Duration;

/// The raw rows of the docs' example, in file (= time) order.
fn raw_rows() -> Vec<Value> {
    let text = std::fs::read_to_string(testdata("nested_example.json")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn sql(addr: &str, body: Value) -> Value {
    let r = post_json(addr, "/druid/v2/sql", &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_columns_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_server(Overlord::open_local(dir.path()).unwrap(), 4, 1 << 20, None).await;
    let a = &s.addr;
    // nested-columns.md, "SQL-based ingestion" (the http source replaced by the local copy).
    let file = testdata("nested_example.json").display().to_string();
    let replace = format!(
        "REPLACE INTO nested_data_example OVERWRITE ALL SELECT TIME_PARSE(\"time\") as __time, product, department, \
         shipTo, details FROM (SELECT * FROM TABLE(EXTERN('{{\"type\":\"local\",\"files\":[\"{file}\"]}}', \
         '{{\"type\":\"json\"}}', '[{{\"name\":\"time\",\"type\":\"string\"}},{{\"name\":\"product\",\"type\":\"string\"}},\
         {{\"name\":\"department\",\"type\":\"string\"}},{{\"name\":\"shipTo\",\"type\":\"COMPLEX<json>\"}},\
         {{\"name\":\"details\",\"type\":\"COMPLEX<json>\"}}]'))) PARTITIONED BY ALL"
    );
    let r = post_json(
        a,
        "/druid/v2/sql/task",
        &json!({"query": replace, "context": {"maxNumTasks": 2}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["taskId"].as_str().unwrap().to_string();
    let st = wait_task_done(a, &id, Duration::from_secs(300)).await;
    assert_eq!(st["status"]["status"], "SUCCESS", "{st}");

    // "Display data types": the documented header rows and rows (any order: Druid lists that
    // table's columns alphabetically, this engine in ingestion order).
    let got = sql(
        a,
        json!({"query": "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'nested_data_example'",
               "resultFormat": "array", "header": true, "typesHeader": true, "sqlTypesHeader": true}),
    )
    .await;
    let got = got.as_array().unwrap();
    assert_eq!(
        got[..3],
        json!([
            ["TABLE_NAME", "COLUMN_NAME", "DATA_TYPE"],
            ["STRING", "STRING", "STRING"],
            ["VARCHAR", "VARCHAR", "VARCHAR"]
        ])
        .as_array()
        .unwrap()[..]
    );
    let mut rows: Vec<String> = got[3..].iter().map(|r| r.to_string()).collect();
    rows.sort();
    let mut want: Vec<String> = json!([
        ["nested_data_example", "__time", "TIMESTAMP"],
        ["nested_data_example", "department", "VARCHAR"],
        ["nested_data_example", "details", "COMPLEX<json>"],
        ["nested_data_example", "product", "VARCHAR"],
        ["nested_data_example", "shipTo", "COMPLEX<json>"]
    ])
    .as_array()
    .unwrap()
    .iter()
    .map(|r| r.to_string())
    .collect();
    want.sort();
    assert_eq!(rows, want);

    // "Retrieve JSON data": the documented header rows; values are the raw file's JSON.
    let got = sql(
        a,
        json!({"query": "SELECT __time, department, details, product, shipTo FROM nested_data_example ORDER BY __time",
               "resultFormat": "array", "header": true, "typesHeader": true, "sqlTypesHeader": true}),
    )
    .await;
    let got = got.as_array().unwrap();
    assert_eq!(
        got[1],
        json!(["LONG", "STRING", "COMPLEX<json>", "STRING", "COMPLEX<json>"])
    );
    assert_eq!(got[2], json!(["TIMESTAMP", "VARCHAR", "OTHER", "VARCHAR", "OTHER"]));
    let raw = raw_rows();
    assert_eq!(got.len(), 3 + raw.len());
    for (row, r) in got[3..].iter().zip(&raw) {
        assert_eq!(row[1], r["department"]);
        assert_eq!(row[2], r["details"]);
        assert_eq!(row[3], r["product"]);
        assert_eq!(row[4], r["shipTo"]);
    }

    // "Extract nested data elements as a suggested type": the documented header rows.
    let got = sql(
        a,
        json!({"query": "SELECT product, department, JSON_VALUE(shipTo, '$.address.country') as country, \
               JSON_VALUE(details, '$.price' RETURNING BIGINT) as price_int, JSON_VALUE(details, '$.price' RETURNING DECIMAL) as price_decimal, \
               JSON_VALUE(details, '$.price' RETURNING VARCHAR) as price_varchar FROM nested_data_example ORDER BY __time",
               "resultFormat": "array", "header": true, "typesHeader": true, "sqlTypesHeader": true}),
    )
    .await;
    let got = got.as_array().unwrap();
    assert_eq!(
        got[1],
        json!(["STRING", "STRING", "STRING", "LONG", "DOUBLE", "STRING"])
    );
    assert_eq!(
        got[2],
        json!(["VARCHAR", "VARCHAR", "VARCHAR", "BIGINT", "DECIMAL", "VARCHAR"])
    );
    for (row, r) in got[3..].iter().zip(&raw) {
        let price = r["details"]["price"].as_f64().unwrap();
        assert_eq!(row[2], r["shipTo"]["address"]["country"]);
        assert_eq!(row[3], json!(price as i64));
        assert_eq!(row[4].as_f64(), Some(price));
        assert_eq!(row[5], json!(format!("{price:.1}")));
    }

    // CSV: a COMPLEX<json> value is its JSON text.
    let r = post_json(
        a,
        "/druid/v2/sql",
        &json!({"query": "SELECT details FROM nested_data_example WHERE product = 'Sausages'", "resultFormat": "csv"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, "\"{\"\"price\"\":8.0}\"\n\n");

    // A user's invalid JSONPath: 400 with Druid's InvalidInput error.
    let r = post_json(
        a,
        "/druid/v2/sql",
        &json!({"query": "SELECT JSON_VALUE(shipTo, 'address') FROM nested_data_example"}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("JSONPath [address] is invalid, it must start with '$'"),
        "{}",
        r.body
    );
}

/// On `msq worker` processes (plans cross the wire, which must keep the COMPLEX<json> type of
/// JSON_QUERY / JSON_OBJECT results): an ingestion of transformed nested values on 3 workers,
/// then a query of them, equal to the raw file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_columns_on_worker_processes() {
    let t = process_engine().await;
    let file = testdata("nested_example.json").display().to_string();
    let sql = format!(
        "REPLACE INTO nj OVERWRITE ALL SELECT TIME_PARSE(\"time\") AS __time, product, JSON_QUERY(shipTo, '$.address') AS address, \
         JSON_OBJECT('p': product, 'd': details) AS pd FROM TABLE(EXTERN('{{\"type\":\"local\",\"files\":[\"{file}\"]}}', \
         '{{\"type\":\"json\"}}', '[{{\"name\":\"time\",\"type\":\"string\"}},{{\"name\":\"product\",\"type\":\"string\"}},\
         {{\"name\":\"shipTo\",\"type\":\"COMPLEX<json>\"}},{{\"name\":\"details\",\"type\":\"COMPLEX<json>\"}}]')) PARTITIONED BY DAY"
    );
    let (_, o, _) = run_ok(&t.engine, &sql, json!({"maxNumTasks": 3})).await;
    assert_eq!(o.rows_written, 5);
    for seg in &o.segments {
        let types = serde_json::to_value(&seg.signature).unwrap();
        assert_eq!(types[2], json!({"name": "address", "type": "COMPLEX<json>"}), "{types}");
        assert_eq!(types[3], json!({"name": "pd", "type": "COMPLEX<json>"}), "{types}");
    }
    let rows = select(
        &t.engine,
        "SELECT product, address, JSON_VALUE(pd, '$.d.price' RETURNING DOUBLE), pd FROM nj ORDER BY __time",
        json!({"maxNumTasks": 3}),
    )
    .await;
    let raw = raw_rows();
    assert_eq!(rows.len(), raw.len());
    for (row, r) in rows.iter().zip(&raw) {
        assert_eq!(row[0], r["product"]);
        assert_eq!(row[1], r["shipTo"]["address"]);
        assert_eq!(row[2].as_f64(), r["details"]["price"].as_f64());
        assert_eq!(row[3], json!({"p": r["product"], "d": r["details"]}));
    }
}
