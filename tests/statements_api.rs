//! Druid's SQL statements API (`/druid/v2/sql/statements`) against a real server on a
//! loopback port: the whole wikipedia sample through durable-storage pages in every
//! `resultFormat`, checked row for row against the raw file; report results as page 0;
//! ingestion; cancellation; and Druid's answers to bad ids, pages, formats and bodies.

mod common;

use common::http::{get, post_json, request, start_server, Resp, Server};
use common::*;
use msq_controller::Overlord;
use serde_json::{json, Map, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const ST: &str = "/druid/v2/sql/statements";
/// Columns compared with the raw file (`__time` aside: its text form is tested elsewhere).
const COLUMNS: [&str; 6] = ["channel", "page", "user", "added", "deleted", "delta"];

async fn start(dir: &Path, slots: usize) -> Server {
    start_server(Overlord::open_local(dir).unwrap(), slots, 1 << 20, None).await
}

async fn submit(addr: &str, query: &str, context: Value) -> Value {
    let r = post_json(addr, ST, &json!({"query": query, "context": context})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// Polls the statement until it leaves ACCEPTED/RUNNING; returns its final status.
async fn wait_done(addr: &str, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let st = get(addr, &format!("{ST}/{id}")).await;
        assert_eq!(st.status, 200, "{}", st.body);
        let body = st.json();
        if !matches!(body["state"].as_str(), Some("ACCEPTED" | "RUNNING")) {
            return body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "statement {id} never finished"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The compared columns of the raw rows, as JSON values (null where the file has none).
fn raw_rows() -> Vec<Vec<Value>> {
    let mut rows: Vec<Vec<Value>> = wiki_rows()
        .into_iter()
        .map(|r| {
            COLUMNS
                .iter()
                .map(|c| r.get(*c).cloned().unwrap_or(Value::Null))
                .collect()
        })
        .collect();
    rows.sort_by_key(|r| Value::Array(r.clone()).to_string());
    rows
}

/// Rows of an answer in `format` (no header rows), as arrays in column order.
fn parse_rows(format: &str, body: &str) -> Vec<Vec<Value>> {
    let as_array = |v: Value| -> Vec<Value> {
        match v {
            Value::Array(a) => a,
            Value::Object(o) => COLUMNS
                .iter()
                .map(|c| o.get(*c).cloned().unwrap_or(Value::Null))
                .collect(),
            other => panic!("not a row: {other}"),
        }
    };
    match format {
        "object" | "array" => {
            assert!(body.ends_with("]\n"), "{format} ends with a bracket and a line feed");
            let v: Value = serde_json::from_str(body).unwrap();
            v.as_array().unwrap().iter().cloned().map(as_array).collect()
        }
        "objectLines" | "arrayLines" => {
            assert!(
                body.ends_with("\n\n") || body == "\n",
                "{format} ends with an empty line"
            );
            body.lines()
                .filter(|l| !l.is_empty())
                .map(|l| as_array(serde_json::from_str(l).unwrap()))
                .collect()
        }
        "csv" => parse_csv(body)
            .into_iter()
            .map(|fields| {
                fields
                    .into_iter()
                    .enumerate()
                    .map(|(i, f)| match i {
                        3..=5 => json!(f.parse::<i64>().unwrap()),
                        _ => json!(f),
                    })
                    .collect()
            })
            .collect(),
        _ => unreachable!(),
    }
}

/// Records of a CSV text (quoted fields with doubled quotes; a final empty line ends it).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let (mut field, mut record) = (String::new(), Vec::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                let r = std::mem::take(&mut record);
                if !(r.len() == 1 && r[0].is_empty()) {
                    records.push(r);
                }
            }
            (false, c) => field.push(c),
        }
    }
    records
}

fn sorted(mut rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    rows.sort_by_key(|r| Value::Array(r.clone()).to_string());
    rows
}

async fn results(addr: &str, id: &str, query: &str) -> Resp {
    get(addr, &format!("{ST}/{id}/results{query}")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_sample_pages_through_durable_storage_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 4).await;
    let a = &s.addr;
    ingest_wikipedia(a, "wikipedia").await;

    let query = format!(
        "SELECT {} FROM wikipedia",
        COLUMNS.map(|c| format!("\"{c}\"")).join(", ")
    );
    let context = json!({"executionMode": "ASYNC", "selectDestination": "durableStorage", "rowsPerPage": 10000, "maxNumTasks": 3});
    let posted = submit(a, &query, context).await;
    let id = posted["queryId"].as_str().unwrap().to_string();
    assert!(id.starts_with("query-"), "{posted}");
    assert!(
        matches!(posted["state"].as_str(), Some("ACCEPTED" | "RUNNING")),
        "{posted}"
    );
    assert_eq!(
        posted["schema"][0],
        json!({"name": "channel", "type": "VARCHAR", "nativeType": "STRING"})
    );
    assert_eq!(
        posted["schema"][3],
        json!({"name": "added", "type": "BIGINT", "nativeType": "LONG"})
    );
    assert_eq!(posted["durationMs"], -1);

    let done = wait_done(a, &id).await;
    assert_eq!(done["state"], "SUCCESS", "{done}");
    assert!(done["durationMs"].as_i64().unwrap() >= 0);
    let expected = raw_rows();
    let result = &done["result"];
    assert_eq!(result["numTotalRows"], json!(expected.len()));
    assert_eq!(result["dataSource"], "__query_select");
    assert_eq!(result["resultFormat"], "object");
    let pages = result["pages"].as_array().unwrap().clone();
    let counts: Vec<u64> = pages.iter().map(|p| p["numRows"].as_u64().unwrap()).collect();
    assert_eq!(counts, vec![10000, 10000, 10000, expected.len() as u64 - 30000]);
    let ids: Vec<u64> = pages.iter().map(|p| p["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, vec![0, 1, 2, 3]);
    let total: u64 = pages.iter().map(|p| p["sizeInBytes"].as_u64().unwrap()).sum();
    assert_eq!(result["totalSizeInBytes"], json!(total));
    assert_eq!(result["sampleRecords"].as_array().unwrap().len(), 3000);
    let log = get(a, &format!("/druid/indexer/v1/task/{id}/log")).await.body;
    assert!(
        log.contains(&format!("Query returned {} rows", expected.len())),
        "{log}"
    );
    // The pages are files in deep storage under query-results/<taskId>/.
    let stored = dir.path().join("segments/query-results").join(&id);
    assert_eq!(std::fs::read_dir(&stored).unwrap().count(), 4);

    for format in ["object", "array", "objectLines", "arrayLines", "csv"] {
        let mut all = Vec::new();
        for (n, want) in counts.iter().enumerate() {
            let r = results(a, &id, &format!("?page={n}&resultFormat={format}")).await;
            assert_eq!(r.status, 200, "{format} page {n}: {}", r.body);
            let rows = parse_rows(format, &r.body);
            assert_eq!(rows.len() as u64, *want, "{format} page {n}");
            all.extend(rows);
        }
        assert_eq!(sorted(all), expected, "{format}: the pages together are the raw file");
    }
    // Without `page`: every page, in order, as the pages one after the other.
    let whole = results(a, &id, "?resultFormat=arrayLines").await;
    assert_eq!(whole.header("Content-Type"), Some("text/plain"));
    let mut by_page = Vec::new();
    for n in 0..4 {
        by_page.extend(parse_rows(
            "arrayLines",
            &results(a, &id, &format!("?page={n}&resultFormat=arrayLines"))
                .await
                .body,
        ));
    }
    assert_eq!(parse_rows("arrayLines", &whole.body), by_page);
    // The default format is the one submitted (object), with a download name when asked.
    let named = results(a, &id, "?page=3&filename=wiki%20page.json").await;
    assert_eq!(
        named.header("Content-Disposition"),
        Some("attachment; filename=\"wiki page.json\"")
    );
    assert_eq!(named.header("Content-Type"), Some("application/json"));
    assert!(named.body.starts_with("[{\"channel\":"), "{}", &named.body[..40]);

    // Bad pages, formats and file names: Druid's 400s.
    for (q, msg) in [
        ("?page=4", "Invalid page id [4] passed."),
        ("?page=-1", "Page cannot be negative. Please pass a positive number."),
        ("?page=x", "Page [x] is not a number. Please pass a page number."),
        ("?filename=a/b", "Filename contains invalid characters."),
        ("?filename=", "Filename cannot be empty."),
    ] {
        let r = results(a, &id, q).await;
        assert_eq!(r.status, 400, "{q}: {}", r.body);
        assert!(r.message().starts_with(msg), "{q}: {}", r.body);
    }
    let r = results(a, &id, "?resultFormat=xml").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.message().contains("\"xml\""), "{}", r.body);

    // Finished: DELETE is a no-op (200); the results stay readable.
    let del = request(a, "DELETE", &format!("{ST}/{id}"), &[], None).await;
    assert_eq!(del.status, 200);
    assert_eq!(results(a, &id, "?page=0").await.status, 200);

    // Past the retention the pages are gone, and the results endpoint says so.
    let store = s_store(dir.path());
    let deleted = msq_controller::results::retention::sweep(&store, Duration::ZERO).await;
    assert!(deleted >= 4, "{deleted}");
    let gone = results(a, &id, "?page=0").await;
    assert_eq!(gone.status, 404, "{}", gone.body);
    s.handle.abort();
}

/// The local deep storage of a server under `dir`.
fn s_store(dir: &Path) -> std::sync::Arc<dyn object_store::ObjectStore> {
    std::sync::Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir.join("segments")).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_results_ingestion_and_druids_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 4).await;
    let a = &s.addr;

    // An INSERT through the statements API: no schema, rows pushed as the total, no rows.
    let insert = post_json(
        a,
        ST,
        &json!({"query": insert_wikipedia_sql("wiki"), "context": {"executionMode": "ASYNC", "maxNumTasks": 2}}),
    )
    .await;
    assert_eq!(insert.status, 200, "{}", insert.body);
    let id = insert.json()["queryId"].as_str().unwrap().to_string();
    let done = wait_done(a, &id).await;
    assert_eq!(done["state"], "SUCCESS", "{done}");
    assert!(done.get("schema").is_none(), "{done}");
    assert_eq!(done["result"]["numTotalRows"], json!(wiki_rows().len()));
    assert_eq!(done["result"]["dataSource"], "wiki");
    assert!(done["result"].get("pages").is_none());
    let empty = results(a, &id, "").await;
    assert_eq!((empty.status, empty.body.as_str()), (200, ""));
    let detail = get(a, &format!("{ST}/{id}?detail=true")).await.json();
    let stages = detail["stages"].as_array().unwrap();
    assert!(!stages.is_empty(), "{detail}");
    assert!(stages.iter().all(|st| st["phase"] == "FINISHED"), "{detail}");
    assert!(detail["counters"]["0"]["0"]["input0"]["rows"].is_array(), "{detail}");
    assert_eq!(detail["warnings"], json!([]));

    // A SELECT to the task report: one page, 0, in the format it was submitted with.
    let top = "SELECT channel, COUNT(*) AS edits FROM wiki GROUP BY channel ORDER BY edits DESC, channel LIMIT 3";
    let r = post_json(
        a,
        ST,
        &json!({"query": top, "resultFormat": "array", "context": {"executionMode": "ASYNC"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let sid = r.json()["queryId"].as_str().unwrap().to_string();
    let done = wait_done(a, &sid).await;
    assert_eq!(done["state"], "SUCCESS", "{done}");
    assert_eq!(done["result"]["pages"][0]["numRows"], 3);
    assert_eq!(done["result"]["resultFormat"], "array");
    let mut counts: std::collections::HashMap<String, i64> = Default::default();
    for row in wiki_rows() {
        *counts.entry(row["channel"].as_str().unwrap().to_string()).or_default() += 1;
    }
    let mut want: Vec<(String, i64)> = counts.into_iter().collect();
    want.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    let want: Vec<Value> = want.iter().take(3).map(|(c, n)| json!([c, n])).collect();
    let page0 = results(a, &sid, "").await;
    assert_eq!(page0.status, 200);
    assert_eq!(page0.json(), Value::Array(want.clone()));
    assert_eq!(done["result"]["sampleRecords"], Value::Array(want));
    let r = results(a, &sid, "?page=1").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.message(), "Page number [1] is out of the range of results");

    // A failed statement: FAILED with Druid's errorDetails, and no results.
    let failing =
        "INSERT INTO nothing SELECT __time, channel FROM wiki WHERE channel = 'no such channel' PARTITIONED BY DAY";
    let failed = submit(a, failing, json!({"executionMode": "ASYNC", "failOnEmptyInsert": true})).await;
    let fid = failed["queryId"].as_str().unwrap().to_string();
    let f = wait_done(a, &fid).await;
    assert_eq!(f["state"], "FAILED", "{f}");
    assert_eq!(f["errorDetails"]["error"], "druidException", "{f}");
    assert_eq!(f["errorDetails"]["errorCode"], "InsertCannotBeEmpty", "{f}");
    assert_eq!(f["errorDetails"]["context"]["dataSource"], "nothing", "{f}");
    let r = results(a, &fid, "").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.message(),
        format!("Query[{fid}] failed. Check the status api for more details.")
    );

    // Bodies and contexts Druid refuses.
    for (body, msg) in [
        (
            json!({"query": "SELECT 1"}),
            "Execution mode is not provided to the sql statement api.",
        ),
        (
            json!({"query": "SELECT 1", "context": {"executionMode": "SYNC"}}),
            "The sql statement api currently does not support the provided execution mode [SYNC].",
        ),
        (
            json!({"query": "SELECT 1", "context": {"executionMode": "ASYNC", "__resultFormat": "csv"}}),
            "Query context parameter [__resultFormat] is not allowed",
        ),
        (
            json!({"query": "SELECT 1", "context": {"executionMode": "ASYNC", "selectDestination": "s3"}}),
            "selectDestination",
        ),
        (json!({"query": "SELEC 1", "context": {"executionMode": "ASYNC"}}), ""),
    ] {
        let r = post_json(a, ST, &body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(r.message().contains(msg), "{body}: {}", r.body);
    }
    let r = post_json(
        a,
        ST,
        &json!({"query": "SELECT 1", "resultFormat": "xml", "context": {"executionMode": "ASYNC"}}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = request(
        a,
        "POST",
        ST,
        &[("Content-Type", "application/json")],
        Some("{\"query\": "),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = request(a, "POST", ST, &[("Content-Type", "application/xml")], Some("<q/>")).await;
    assert_eq!(r.status, 415, "{}", r.body);
    // `SET` counts as the context.
    let r = post_json(a, ST, &json!({"query": "SET executionMode = 'ASYNC'; SELECT 1 AS one"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // EXPLAIN answers its plan row at once.
    let r = post_json(
        a,
        ST,
        &json!({"query": format!("EXPLAIN PLAN FOR {top}"), "context": {"executionMode": "ASYNC"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()[0]["PLAN"].is_string(), "{}", r.body);

    // Unknown or hostile ids: 404 from every endpoint, never a path outside the data dir.
    for bad in ["query-nope", "..", "..%2F..%2Fetc", "%2e%2e", "a%00b"] {
        for (method, path) in [
            ("GET", format!("{ST}/{bad}")),
            ("GET", format!("{ST}/{bad}/results")),
            ("DELETE", format!("{ST}/{bad}")),
        ] {
            let r = request(a, method, &path, &[], None).await;
            assert_eq!(r.status, 404, "{method} {path}: {}", r.body);
        }
    }
    let enabled = get(a, &format!("{ST}/enabled")).await;
    assert_eq!((enabled.status, enabled.json()), (200, json!({"enabled": true})));
    s.handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_cancels_a_running_statement_and_nothing_is_published() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("var"), 2).await;
    let a = &s.addr;
    let sql = long_insert_sql(dir.path());
    let posted = submit(a, &sql, json!({"executionMode": "ASYNC", "maxNumTasks": 2})).await;
    let id = posted["queryId"].as_str().unwrap().to_string();
    let del = request(a, "DELETE", &format!("{ST}/{id}"), &[], None).await;
    assert_eq!(del.status, 202, "{}", del.body);
    let done = wait_done(a, &id).await;
    assert_eq!(done["state"], "FAILED", "{done}");
    assert_eq!(done["errorDetails"]["errorCode"], "Canceled", "{done}");
    let ds = get(a, "/druid/coordinator/v1/datasources").await.json();
    assert_eq!(ds, json!([]), "a cancelled statement publishes nothing");
    let segments = dir.path().join("var/segments/long_insert");
    let files = walk(&segments);
    assert!(files.is_empty(), "{files:?}");
    s.handle.abort();
}

/// Every file under `dir` (none when it does not exist).
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

/// Ingests the whole wikipedia sample as `ds` through the statements API.
async fn ingest_wikipedia(addr: &str, ds: &str) {
    let mut ctx = Map::new();
    ctx.insert("executionMode".into(), json!("ASYNC"));
    ctx.insert("maxNumTasks".into(), json!(2));
    let posted = submit(addr, &insert_wikipedia_sql(ds), Value::Object(ctx)).await;
    let done = wait_done(addr, posted["queryId"].as_str().unwrap()).await;
    assert_eq!(done["state"], "SUCCESS", "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_get_druid_errors_never_5xx() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 2).await;
    let a = &s.addr;
    let deep_sql = format!("SELECT {}1{}", "(".repeat(20_000), ")".repeat(20_000));
    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let ctx = json!({"executionMode": "ASYNC"});
    let bodies: Vec<String> = vec![
        json!({"query": 5, "context": ctx}).to_string(),
        json!({"query": "SELECT 1", "context": "x"}).to_string(),
        json!({"query": "SELECT 1", "context": ctx, "parameters": "x"}).to_string(),
        json!({"query": "SELECT ?", "context": ctx, "parameters": [{"type": "VARCHAR", "value": {"a": 1}}]}).to_string(),
        json!({"query": "SELECT ?, ?", "context": ctx, "parameters": [{"type": "BIGINT", "value": 1}]}).to_string(),
        json!({"query": deep_sql, "context": ctx}).to_string(),
        json!({"query": "SELECT 1", "context": {"executionMode": "ASYNC", "selectDestination": "durableStorage", "rowsPerPage": -5}}).to_string(),
        json!({"query": "SELECT 1", "context": {"executionMode": "ASYNC", "sqlQueryId": "../../etc"}}).to_string(),
        json!({"query": "SELECT 1", "context": ctx, "header": "yes"}).to_string(),
        json!({"query": "SELECT 1", "context": ctx, "resultFormat": 7}).to_string(),
        json!({"query": "SELECT * FROM sys.segments", "context": ctx}).to_string(),
        json!({"query": "", "context": ctx}).to_string(),
        deep_json,
        "null".into(),
        "[]".into(),
    ];
    for path in ["/druid/v2/sql", ST] {
        for body in &bodies {
            let r = request(a, "POST", path, &[("Content-Type", "application/json")], Some(body)).await;
            let shown: String = body.chars().take(120).collect();
            // The statements API refuses a system table (task engine); interactive SQL reads it.
            if path == "/druid/v2/sql" && body.contains("sys.segments") {
                assert_eq!(r.status, 200, "{path} {shown}: {}", r.body);
                continue;
            }
            assert!(
                (400..500).contains(&r.status),
                "{path} {shown}: {} {}",
                r.status,
                r.body
            );
            assert!(
                r.json()["errorMessage"].is_string() || r.json()["error"].is_string(),
                "{path} {shown}: {}",
                r.body
            );
        }
        let r = common::http::request_bytes(
            a,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            b"{\"query\": \"\xff\xfe\"}",
        )
        .await;
        assert!(
            (400..500).contains(&r.status),
            "{path} non-UTF-8: {} {}",
            r.status,
            r.body
        );
    }
    let health = get(a, "/status/health").await;
    assert_eq!(health.status, 200, "the server still answers");
    let tasks = get(a, "/druid/indexer/v1/tasks").await.json();
    assert_eq!(tasks, json!([]), "no refused statement became a task");
    s.handle.abort();
}
