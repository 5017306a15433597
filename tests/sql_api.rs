//! Interactive SQL (`POST /druid/v2/sql`, `DELETE /druid/v2/sql/{id}`) against a real server
//! on a loopback port: every `resultFormat` with Druid's header rows, byte for byte, over the
//! wikipedia sample, checked against counts computed from the raw file.

mod common;

use common::http::{request, start_server, Resp, Server};
use common::*;
use msq_controller::druid_api::Credentials;
use msq_controller::Overlord;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

const TOP_CHANNELS: &str = "SELECT channel, COUNT(*) AS edits, SUM(added) AS added FROM wikipedia \
                            GROUP BY channel ORDER BY edits DESC, channel LIMIT 5";

async fn start(dir: &Path, auth: Option<Credentials>) -> Server {
    start_server(Overlord::open_local(dir).unwrap(), 4, 1 << 20, auth).await
}

async fn sql(addr: &str, body: &Value) -> Resp {
    request(
        addr,
        "POST",
        "/druid/v2/sql",
        &[("Content-Type", "application/json")],
        Some(&body.to_string()),
    )
    .await
}

/// Ingests the whole wikipedia sample as `wikipedia` through the task endpoint.
async fn ingest(addr: &str) {
    let body = json!({"query": insert_wikipedia_sql("wikipedia"), "context": {"maxNumTasks": 2}});
    let r = request(
        addr,
        "POST",
        "/druid/v2/sql/task",
        &[("Content-Type", "application/json")],
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["taskId"].as_str().unwrap().to_string();
    let started = Instant::now();
    loop {
        let st = request(addr, "GET", &format!("/druid/indexer/v1/task/{id}/status"), &[], None).await;
        let status = st.json()["status"]["status"].as_str().unwrap().to_string();
        if status != "RUNNING" {
            assert_eq!(status, "SUCCESS", "{}", st.body);
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "ingestion did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The five busiest channels of the raw file: (channel, edits, added), ties by name.
fn top_channels() -> Vec<(String, i64, i64)> {
    let mut by: HashMap<String, (i64, i64)> = HashMap::new();
    for r in wiki_rows() {
        let e = by.entry(r["channel"].as_str().unwrap().to_string()).or_default();
        e.0 += 1;
        e.1 += r["added"].as_i64().unwrap_or(0);
    }
    let mut v: Vec<(String, i64, i64)> = by.into_iter().map(|(c, (n, a))| (c, n, a)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(5);
    v
}

/// The answer Druid gives for the top channels in `format` with every header row.
fn expected(format: &str, top: &[(String, i64, i64)]) -> String {
    let q = |s: &str| json!(s).to_string();
    let objects: Vec<String> = top
        .iter()
        .map(|(c, n, a)| format!(r#"{{"channel":{},"edits":{n},"added":{a}}}"#, q(c)))
        .collect();
    let arrays: Vec<String> = top.iter().map(|(c, n, a)| format!("[{},{n},{a}]", q(c))).collect();
    let object_header = r#"{"channel":{"type":"STRING","sqlType":"VARCHAR"},"edits":{"type":"LONG","sqlType":"BIGINT"},"added":{"type":"LONG","sqlType":"BIGINT"}}"#;
    let array_header = r#"["channel","edits","added"],["STRING","LONG","LONG"],["VARCHAR","BIGINT","BIGINT"]"#;
    match format {
        "object" => format!("[{object_header},{}]\n", objects.join(",")),
        "array" => format!("[{array_header},{}]\n", arrays.join(",")),
        "objectLines" => format!("{object_header}\n{}\n\n", objects.join("\n")),
        "arrayLines" => format!("{}\n{}\n\n", array_header.replace("],[", "]\n["), arrays.join("\n")),
        "csv" => {
            let rows: Vec<String> = top.iter().map(|(c, n, a)| format!("{c},{n},{a}\n")).collect();
            format!(
                "channel,edits,added\nSTRING,LONG,LONG\nVARCHAR,BIGINT,BIGINT\n{}\n",
                rows.concat()
            )
        }
        _ => unreachable!(),
    }
}

/// A Druid error body with `status`, never a 5xx.
fn assert_error(r: &Resp, status: u16) -> Value {
    assert_eq!(r.status, status, "{}", r.body);
    let v = r.json();
    for f in ["error", "errorMessage", "errorClass", "host"] {
        assert!(v.get(f).is_some(), "{f} missing: {}", r.body);
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_sql_answers_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), None).await;
    let a = &s.addr;
    ingest(a).await;
    let top = top_channels();
    assert_eq!(top[0].0, "#en.wikipedia");

    for (format, content_type) in [
        ("object", "application/json"),
        ("array", "application/json"),
        ("objectLines", "text/plain"),
        ("arrayLines", "text/plain"),
        ("csv", "text/csv"),
    ] {
        let id = format!("top-{format}");
        let r = sql(
            a,
            &json!({"query": TOP_CHANNELS, "resultFormat": format, "header": true, "typesHeader": true,
                    "sqlTypesHeader": true, "context": {"sqlQueryId": id}}),
        )
        .await;
        assert_eq!(r.status, 200, "{format}: {}", r.body);
        assert_eq!(r.body, expected(format, &top), "{format}");
        assert_eq!(r.header("X-Druid-SQL-Query-Id"), Some(id.as_str()));
        assert_eq!(r.header("X-Druid-SQL-Header-Included"), Some("yes"));
        assert_eq!(r.header("Content-Type"), Some(content_type));
    }

    // Defaults: `object`, no header, a generated query id.
    let r = sql(a, &json!({"query": TOP_CHANNELS})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("X-Druid-SQL-Header-Included").is_none());
    assert!(!r.header("X-Druid-SQL-Query-Id").unwrap_or_default().is_empty());
    let want: Vec<Value> = top
        .iter()
        .map(|(c, n, a)| json!({"channel": c, "edits": n, "added": a}))
        .collect();
    assert_eq!(r.json(), json!(want));

    // The query as plain text (and URL-encoded) answers `object`.
    for (content_type, body) in [
        ("text/plain", TOP_CHANNELS.to_string()),
        (
            "application/x-www-form-urlencoded",
            TOP_CHANNELS.replace(' ', "+").replace(',', "%2C").replace('*', "%2A"),
        ),
    ] {
        let r = request(
            a,
            "POST",
            "/druid/v2/sql",
            &[("Content-Type", content_type)],
            Some(&body),
        )
        .await;
        assert_eq!(r.status, 200, "{content_type}: {}", r.body);
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(r.json(), json!(want), "{content_type}");
    }

    // Parameters bind as on the task endpoint.
    let r = sql(
        a,
        &json!({"query": "SELECT COUNT(*) AS c FROM wikipedia WHERE channel = ?", "resultFormat": "array",
                "parameters": [{"type": "VARCHAR", "value": top[1].0}]}),
    )
    .await;
    assert_eq!(r.body, format!("[[{}]]\n", top[1].1));

    // Every row, far past the 3,000 a task report holds, streamed as lines.
    let r = sql(
        a,
        &json!({"query": "SELECT __time, channel, page, added FROM wikipedia", "resultFormat": "arrayLines"}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.body.ends_with("]\n\n"));
    let lines: Vec<Value> = r
        .body
        .trim_end()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let raw = wiki_rows();
    assert_eq!(lines.len(), raw.len());
    let added: i64 = lines.iter().map(|l| l[3].as_i64().unwrap()).sum();
    assert_eq!(added, raw.iter().map(|r| r["added"].as_i64().unwrap_or(0)).sum::<i64>());
    s.handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_sql_refuses_like_druid() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), None).await;
    let a = &s.addr;

    let r = request(a, "DELETE", "/druid/v2/sql/no-such-query", &[], None).await;
    assert_eq!(r.status, 404);

    let insert = sql(a, &json!({"query": insert_wikipedia_sql("wikipedia")})).await;
    let v = assert_error(&insert, 400);
    assert_eq!(
        v["errorMessage"],
        "INSERT operations are not supported by requested SQL engine [native], consider using MSQ."
    );
    let replace = sql(
        a,
        &json!({"query": "REPLACE INTO t OVERWRITE ALL SELECT * FROM u PARTITIONED BY ALL"}),
    )
    .await;
    assert_eq!(
        assert_error(&replace, 400)["errorMessage"],
        "REPLACE operations are not supported by the requested SQL engine [native].  Consider using MSQ."
    );
    // Nothing was recorded as a task.
    let tasks = request(a, "GET", "/druid/indexer/v1/tasks", &[], None).await;
    assert_eq!(tasks.json(), json!([]));

    let malformed = request(
        a,
        "POST",
        "/druid/v2/sql",
        &[("Content-Type", "application/json")],
        Some("{\"query\": "),
    )
    .await;
    assert_error(&malformed, 400);
    let no_query = sql(a, &json!({"resultFormat": "array"})).await;
    assert_error(&no_query, 400);
    let bad_format = sql(a, &json!({"query": "SELECT 1", "resultFormat": "xml"})).await;
    assert!(assert_error(&bad_format, 400)["errorMessage"]
        .as_str()
        .unwrap()
        .contains("\"xml\""));
    let bad_sql = sql(a, &json!({"query": "SELEC 1"})).await;
    assert_error(&bad_sql, 400);
    let unknown_table = sql(a, &json!({"query": "SELECT * FROM nowhere"})).await;
    assert!((400..500).contains(&unknown_table.status), "{}", unknown_table.body);
    let bad_context = sql(a, &json!({"query": "SELECT 1", "context": {"maxNumTasks": "many"}})).await;
    assert!((400..500).contains(&bad_context.status), "{}", bad_context.body);
    let xml = request(
        a,
        "POST",
        "/druid/v2/sql",
        &[("Content-Type", "application/xml")],
        Some("<q/>"),
    )
    .await;
    assert_error(&xml, 415);

    // A tiny query answers quickly (the engine's planning and in-process workers only).
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let r = sql(a, &json!({"query": "SELECT 1 + 1 AS two", "resultFormat": "array"})).await;
        best = best.min(t.elapsed());
        assert_eq!(r.body, "[[2]]\n");
    }
    eprintln!("tiny interactive query: {best:?}");
    assert!(best < Duration::from_secs(1), "{best:?}");
    s.handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_cancels_a_running_query() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), None).await;
    let a = s.addr.clone();
    ingest(&a).await;
    // Every edit joined with every edit of its channel: hundreds of millions of pairs.
    let slow = "SELECT COUNT(*) AS c, SUM(x.added + y.deleted) AS s FROM wikipedia x \
                JOIN wikipedia y ON x.channel = y.channel";
    let addr = a.clone();
    let running =
        tokio::spawn(async move { sql(&addr, &json!({"query": slow, "context": {"sqlQueryId": "slow-one"}})).await });
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = request(&a, "DELETE", "/druid/v2/sql/slow-one", &[], None).await;
        if r.status == 202 {
            break;
        }
        assert_eq!(r.status, 404);
        if running.is_finished() {
            let r = running.await.unwrap();
            panic!("the query ended before it was cancelled: {} {}", r.status, r.body);
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the query never showed up");
    }
    let r = tokio::time::timeout(Duration::from_secs(60), running)
        .await
        .unwrap()
        .unwrap();
    // Druid's answer to a cancelled query.
    assert_eq!(r.status, 500, "{}", r.body);
    assert_eq!(r.json()["error"], "Query cancelled");
    assert_eq!(
        r.json()["errorClass"],
        "org.apache.druid.query.QueryInterruptedException"
    );
    let gone = request(&a, "DELETE", "/druid/v2/sql/slow-one", &[], None).await;
    assert_eq!(gone.status, 404);
    s.handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_sql_needs_credentials_when_auth_is_on() {
    let dir = tempfile::tempdir().unwrap();
    let creds = Credentials::parse("admin:s3cret\n").unwrap();
    let s = start(dir.path(), Some(creds)).await;
    let a = &s.addr;
    let body = json!({"query": "SELECT 1 AS one"}).to_string();
    let json_type = ("Content-Type", "application/json");
    let none = request(a, "POST", "/druid/v2/sql", &[json_type], Some(&body)).await;
    assert_eq!(none.status, 401);
    let wrong = request(
        a,
        "POST",
        "/druid/v2/sql",
        &[json_type, ("Authorization", "Basic YWRtaW46bm9wZQ==")],
        Some(&body),
    )
    .await;
    assert_eq!(wrong.status, 401);
    let cancel = request(a, "DELETE", "/druid/v2/sql/x", &[], None).await;
    assert_eq!(cancel.status, 401);
    // admin:s3cret
    let ok = request(
        a,
        "POST",
        "/druid/v2/sql",
        &[json_type, ("Authorization", "Basic YWRtaW46czNjcmV0")],
        Some(&body),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json(), json!([{"one": 1}]));
    s.handle.abort();
}
