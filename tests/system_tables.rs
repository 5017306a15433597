//! Druid's catalogue and system tables over interactive SQL (`POST /druid/v2/sql`) against
//! a real server on a loopback port: `INFORMATION_SCHEMA.SCHEMATA`, `TABLES`, `COLUMNS` (also
//! the exact queries pydruid's SQLAlchemy dialect sends), `sys.segments` (row counts checked
//! against the raw wikipedia file, overshadowing after a REPLACE), `sys.tasks`,
//! `sys.servers`; the task engine's refusal of system tables with Druid's message.

mod common;

use common::http::{post_json, start_server, wait_task_done, Resp};
use common::*;
use msq_controller::Overlord;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// `POST /druid/v2/sql` with `resultFormat: array`.
async fn sql(addr: &str, query: &str) -> Resp {
    post_json(addr, "/druid/v2/sql", &json!({"query": query, "resultFormat": "array"})).await
}

/// The rows of a query that must succeed.
async fn rows(addr: &str, query: &str) -> Value {
    let r = sql(addr, query).await;
    assert_eq!(r.status, 200, "{query}: {}", r.body);
    r.json()
}

/// Runs `query` through the task endpoint to SUCCESS; returns the task id.
async fn run_task(addr: &str, query: &str) -> String {
    let r = post_json(
        addr,
        "/druid/v2/sql/task",
        &json!({"query": query, "context": {"maxNumTasks": 2}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["taskId"].as_str().unwrap().to_string();
    let st = wait_task_done(addr, &id, Duration::from_secs(300)).await;
    assert_eq!(st["status"]["status"], "SUCCESS", "{st}");
    id
}

/// The hours of the raw file's rows (one segment each, PARTITIONED BY HOUR).
fn wiki_hours() -> usize {
    let hours: BTreeSet<String> = wiki_rows()
        .iter()
        .map(|r| r["time"].as_str().unwrap()[..13].to_string())
        .collect();
    hours.len()
}

/// The wikipedia columns as the INSERT writes them, with Druid's SQL types.
const WIKI_COLUMNS: [(&str, &str, i64); 11] = [
    ("__time", "TIMESTAMP", 93),
    ("channel", "VARCHAR", 12),
    ("page", "VARCHAR", 12),
    ("user", "VARCHAR", 12),
    ("added", "BIGINT", -5),
    ("deleted", "BIGINT", -5),
    ("delta", "BIGINT", -5),
    ("cityName", "VARCHAR", 12),
    ("countryName", "VARCHAR", 12),
    ("isRobot", "VARCHAR", 12),
    ("metroCode", "BIGINT", -5),
];

const SYSTEM_TABLES: [(&str, &str); 8] = [
    ("INFORMATION_SCHEMA", "COLUMNS"),
    ("INFORMATION_SCHEMA", "SCHEMATA"),
    ("INFORMATION_SCHEMA", "TABLES"),
    ("sys", "segments"),
    ("sys", "server_segments"),
    ("sys", "servers"),
    ("sys", "supervisors"),
    ("sys", "tasks"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_tables_describe_datasources_segments_tasks_and_this_node() {
    let dir = tempfile::tempdir().unwrap();
    let overlord = Overlord::open_local(dir.path()).unwrap();
    let metadata = overlord.metadata.clone();
    let s = start_server(overlord, 4, 1 << 20, None).await;
    let a = &s.addr;
    let task_a = run_task(a, &insert_wikipedia_sql("wiki_a")).await;
    let task_b = run_task(a, &insert_wikipedia_sql("wiki_b")).await;
    let n = wiki_rows().len() as i64;
    assert_eq!(n, 39244);

    catalogue(a).await;
    columns(a).await;
    pydruid_queries(a).await;
    segments(a, n).await;
    tasks_and_servers(a, &task_a, &task_b).await;
    refusals(a).await;
    overshadowed_after_replace(a, metadata.as_ref()).await;
}

async fn catalogue(a: &str) {
    let schemata = rows(
        a,
        "SELECT CATALOG_NAME, SCHEMA_NAME, SCHEMA_OWNER FROM INFORMATION_SCHEMA.SCHEMATA",
    )
    .await;
    assert_eq!(
        schemata,
        json!([
            ["druid", "druid", null],
            ["druid", "INFORMATION_SCHEMA", null],
            ["druid", "lookup", null],
            ["druid", "sys", null],
            ["druid", "view", null]
        ])
    );
    let mut expected = vec![
        json!(["druid", "druid", "wiki_a", "TABLE", "NO", "NO"]),
        json!(["druid", "druid", "wiki_b", "TABLE", "NO", "NO"]),
    ];
    for (schema, table) in SYSTEM_TABLES {
        expected.push(json!(["druid", schema, table, "SYSTEM_TABLE", "NO", "NO"]));
    }
    assert_eq!(
        rows(a, "SELECT * FROM INFORMATION_SCHEMA.TABLES").await,
        json!(expected)
    );
    // Filters and aggregates run over the tables like over any other.
    assert_eq!(
        rows(
            a,
            "SELECT TABLE_TYPE, COUNT(*) FROM INFORMATION_SCHEMA.TABLES GROUP BY TABLE_TYPE ORDER BY 1"
        )
        .await,
        json!([["SYSTEM_TABLE", 8], ["TABLE", 2]])
    );
    assert_eq!(
        rows(
            a,
            "SELECT TABLE_NAME FROM \"INFORMATION_SCHEMA\".\"TABLES\" WHERE TABLE_NAME = 'wiki_b'"
        )
        .await,
        json!([["wiki_b"]])
    );
}

async fn columns(a: &str) {
    let got = rows(
        a,
        "SELECT TABLE_SCHEMA, COLUMN_NAME, ORDINAL_POSITION, IS_NULLABLE, DATA_TYPE, JDBC_TYPE \
         FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'wiki_a' ORDER BY ORDINAL_POSITION",
    )
    .await;
    let expected: Vec<Value> = WIKI_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, (name, ty, jdbc))| {
            let nullable = if *name == "__time" { "NO" } else { "YES" };
            json!(["druid", name, i + 1, nullable, ty, jdbc])
        })
        .collect();
    assert_eq!(got, json!(expected));
    // Both datasources, and every system table's own columns.
    assert_eq!(
        rows(a, "SELECT TABLE_NAME, COUNT(*) FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = 'druid' GROUP BY 1 ORDER BY 1").await,
        json!([["wiki_a", 11], ["wiki_b", 11]])
    );
    assert_eq!(
        rows(a, "SELECT COLUMN_NAME, DATA_TYPE FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = 'sys' AND TABLE_NAME = 'segments' AND COLUMN_NAME IN ('num_rows', 'shard_spec')").await,
        json!([["num_rows", "BIGINT"], ["shard_spec", "VARCHAR"]])
    );
    assert_eq!(
        rows(
            a,
            "SELECT COUNT(*) FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'segments'"
        )
        .await,
        json!([[20]])
    );
}

/// The statements pydruid's SQLAlchemy dialect sends (`get_schema_names`, `has_table`,
/// `get_table_names`, `get_columns`), as it formats them.
async fn pydruid_queries(a: &str) {
    assert_eq!(
        rows(
            a,
            "SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'druid'"
        )
        .await,
        json!([["wiki_a"], ["wiki_b"]])
    );
    assert_eq!(
        rows(a, "SELECT SCHEMA_NAME FROM INFORMATION_SCHEMA.SCHEMATA").await,
        json!([["druid"], ["INFORMATION_SCHEMA"], ["lookup"], ["sys"], ["view"]])
    );
    let has = "\n            SELECT COUNT(*) > 0 AS exists_\n              FROM INFORMATION_SCHEMA.TABLES\n             WHERE TABLE_NAME = '{t}'\n        ";
    let r = post_json(a, "/druid/v2/sql", &json!({"query": has.replace("{t}", "wiki_a")})).await;
    assert_eq!(r.json(), json!([{"exists_": true}]), "{}", r.body);
    let r = post_json(a, "/druid/v2/sql", &json!({"query": has.replace("{t}", "nope")})).await;
    assert_eq!(r.json(), json!([{"exists_": false}]), "{}", r.body);
    let get_columns = "\n            SELECT COLUMN_NAME,\n                   DATA_TYPE,\n                   IS_NULLABLE,\n                   COLUMN_DEFAULT\n              FROM INFORMATION_SCHEMA.COLUMNS\n             WHERE TABLE_NAME = 'wiki_a'\n         AND TABLE_SCHEMA = 'druid'";
    let r = post_json(a, "/druid/v2/sql", &json!({"query": get_columns})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let expected: Vec<Value> = WIKI_COLUMNS
        .iter()
        .map(|(name, ty, _)| {
            let nullable = if *name == "__time" { "NO" } else { "YES" };
            json!({"COLUMN_NAME": name, "DATA_TYPE": ty, "IS_NULLABLE": nullable, "COLUMN_DEFAULT": ""})
        })
        .collect();
    assert_eq!(r.json(), json!(expected));
}

async fn segments(a: &str, n: i64) {
    let hours = wiki_hours() as i64;
    assert_eq!(hours, 24);
    let day = &wiki_rows()[0]["time"].as_str().unwrap()[..10].to_string();
    let first = format!("{day}T00:00:00.000Z");
    let next_day = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .unwrap()
        .succ_opt()
        .unwrap();
    let end = format!("{next_day}T00:00:00.000Z");
    assert_eq!(
        rows(a, "SELECT SUM(num_rows) FROM sys.segments WHERE datasource = 'wiki_a'").await,
        json!([[n]])
    );
    // The stage engine counts the same rows.
    assert_eq!(rows(a, "SELECT COUNT(*) FROM wiki_a").await, json!([[n]]));
    assert_eq!(
        rows(
            a,
            "SELECT datasource, COUNT(*), SUM(num_rows), SUM(is_published), SUM(is_available), SUM(is_active), \
             SUM(is_realtime), SUM(is_overshadowed), MIN(\"start\"), MAX(\"end\") \
             FROM sys.segments GROUP BY datasource ORDER BY datasource"
        )
        .await,
        json!([
            ["wiki_a", hours, n, hours, hours, hours, 0, 0, first, end],
            ["wiki_b", hours, n, hours, hours, hours, 0, 0, first, end]
        ])
    );
    // Each hour's segment holds that hour's rows of the raw file.
    let mut per_hour: std::collections::BTreeMap<String, i64> = Default::default();
    for r in wiki_rows() {
        *per_hour
            .entry(r["time"].as_str().unwrap()[..13].to_string())
            .or_default() += 1;
    }
    let expected: Vec<Value> = per_hour
        .iter()
        .map(|(h, c)| json!([format!("{h}:00:00.000Z"), c]))
        .collect();
    assert_eq!(
        rows(
            a,
            "SELECT \"start\", num_rows FROM sys.segments WHERE datasource = 'wiki_b' ORDER BY \"start\""
        )
        .await,
        json!(expected)
    );
    let one = rows(a, "SELECT segment_id, shard_spec, dimensions, metrics, size, replication_factor, num_replicas FROM sys.segments WHERE datasource = 'wiki_a' ORDER BY \"start\" LIMIT 1").await;
    let row = &one[0];
    let id_prefix = format!("wiki_a_{first}_{day}T01:00:00.000Z_");
    assert!(row[0].as_str().unwrap().starts_with(&id_prefix), "{row}");
    let shard: Value = serde_json::from_str(row[1].as_str().unwrap()).unwrap();
    assert!(shard["type"].is_string(), "{shard}");
    let dims: Vec<&str> = WIKI_COLUMNS[1..].iter().map(|c| c.0).collect();
    assert_eq!(row[2], json!(json!(dims).to_string()));
    assert_eq!((&row[3], &row[5], &row[6]), (&json!("[]"), &json!(1), &json!(1)));
    assert!(row[4].as_i64().unwrap() > 0);
}

async fn tasks_and_servers(a: &str, task_a: &str, task_b: &str) {
    assert_eq!(
        rows(
            a,
            "SELECT task_id, group_id, type, datasource, status, runner_status, error_msg FROM sys.tasks \
             WHERE datasource LIKE 'wiki%' ORDER BY datasource"
        )
        .await,
        json!([
            [task_a, task_a, "query_controller", "wiki_a", "SUCCESS", "NONE", null],
            [task_b, task_b, "query_controller", "wiki_b", "SUCCESS", "NONE", null]
        ])
    );
    let (host, port) = a.rsplit_once(':').unwrap();
    let port: i64 = port.parse().unwrap();
    assert_eq!(
        rows(a, &format!("SELECT location, host, plaintext_port, tls_port, duration >= 0 FROM sys.tasks WHERE task_id = '{task_a}'")).await,
        json!([[a, host, port, -1, true]])
    );
    assert_eq!(
        rows(a, "SELECT server, host, plaintext_port, tls_port, server_type, tier, curr_size, max_size, is_leader FROM sys.servers").await,
        json!([[a, host, port, -1, "BROKER", null, 0, 0, null]])
    );
    let started = rows(a, "SELECT start_time, version FROM sys.servers").await;
    let start = started[0][0].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(start).is_ok(), "{started}");
    assert_eq!(started[0][1], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        rows(a, "SELECT COUNT(*) FROM sys.server_segments ss JOIN sys.segments s ON ss.segment_id = s.segment_id WHERE s.datasource = 'wiki_a'").await,
        json!([[24]])
    );
    assert_eq!(rows(a, "SELECT * FROM sys.supervisors").await, json!([]));
    // SET statements and the context's sqlQueryId hold as for any interactive query; the
    // answer takes every format with its header rows.
    let body = json!({
        "query": "SET sqlQueryId = 'sys-1'; SELECT server_type FROM sys.servers",
        "resultFormat": "csv", "header": true, "typesHeader": true, "sqlTypesHeader": true
    });
    let r = post_json(a, "/druid/v2/sql", &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("X-Druid-SQL-Query-Id"), Some("sys-1"));
    assert_eq!(r.header("X-Druid-SQL-Header-Included"), Some("yes"));
    assert_eq!(r.body, "server_type\nSTRING\nVARCHAR\nBROKER\n\n");
}

/// A Druid error body with `status`.
fn error(r: &Resp, status: u16) -> String {
    assert_eq!(r.status, status, "{}", r.body);
    let v = r.json();
    for f in ["error", "errorMessage", "errorClass"] {
        assert!(v.get(f).is_some(), "{f} missing: {}", r.body);
    }
    r.message()
}

async fn refusals(a: &str) {
    for (query, tables) in [
        ("SELECT * FROM sys.segments", "sys.segments"),
        (
            "SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES",
            "INFORMATION_SCHEMA.TABLES",
        ),
        (
            "INSERT INTO x SELECT * FROM INFORMATION_SCHEMA.COLUMNS PARTITIONED BY ALL TIME",
            "INFORMATION_SCHEMA.COLUMNS",
        ),
    ] {
        for endpoint in ["/druid/v2/sql/task", "/druid/v2/sql/statements"] {
            let body = json!({"query": query, "context": {"executionMode": "ASYNC"}});
            let r = post_json(a, endpoint, &body).await;
            assert_eq!(
                error(&r, 400),
                format!("Cannot query table(s) [{tables}] with SQL engine [msq-task]"),
                "{endpoint}"
            );
        }
    }
    // Names are resolved case-sensitively, as Calcite resolves them in Druid.
    assert_eq!(
        error(&sql(a, "SELECT * FROM information_schema.tables").await, 400),
        "Object 'information_schema' not found; did you mean 'INFORMATION_SCHEMA'?"
    );
    assert_eq!(
        error(&sql(a, "SELECT * FROM sys.SEGMENTS").await, 400),
        "Object 'SEGMENTS' not found within 'sys'; did you mean 'segments'?"
    );
    // System tables and datasources are not read by one query.
    let m = error(
        &sql(
            a,
            "SELECT COUNT(*) FROM sys.segments s JOIN wiki_a w ON s.datasource = w.channel",
        )
        .await,
        400,
    );
    assert!(
        m.starts_with("Cannot query system table(s) [sys.segments] together with datasource(s) [wiki_a]"),
        "{m}"
    );
}

/// After a REPLACE the old segments are unused and leave `sys.segments`; marked used again
/// (as they are in Druid until its coordinator marks them unused), they show as published
/// and overshadowed, and not active.
async fn overshadowed_after_replace(a: &str, metadata: &dyn msq_engine::metadata::MetadataStore) {
    let old = rows(a, "SELECT segment_id FROM sys.segments WHERE datasource = 'wiki_b'").await;
    let old: Vec<String> = old
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap().to_string())
        .collect();
    run_task(
        a,
        "REPLACE INTO wiki_b OVERWRITE ALL SELECT * FROM wiki_b WHERE channel = '#en.wikipedia' PARTITIONED BY DAY",
    )
    .await;
    let en = wiki_rows().iter().filter(|r| r["channel"] == "#en.wikipedia").count() as i64;
    assert_eq!(
        rows(
            a,
            "SELECT COUNT(*), SUM(num_rows), SUM(is_overshadowed) FROM sys.segments WHERE datasource = 'wiki_b'"
        )
        .await,
        json!([[1, en, 0]])
    );
    assert_eq!(metadata.set_segments_used(&old, true).unwrap(), old.len());
    assert_eq!(
        rows(
            a,
            "SELECT is_published, is_overshadowed, is_active, COUNT(*), SUM(num_rows) FROM sys.segments \
             WHERE datasource = 'wiki_b' GROUP BY 1, 2, 3 ORDER BY 2"
        )
        .await,
        json!([[1, 0, 1, 1, en], [1, 1, 0, 24, 39244]])
    );
    // The stage engine reads only what is not overshadowed.
    assert_eq!(rows(a, "SELECT COUNT(*) FROM wiki_b").await, json!([[en]]));
}
