//! The HTTP API against a real server on an ephemeral loopback port, driven by a plain
//! HTTP/1.1 client over TCP.

mod common;

use common::http::{get, post_json, request, start_server, wait_task_done, Server};
use common::*;
use msq_controller::druid_api::Credentials;
use msq_controller::Overlord;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

async fn start(dir: &Path, auth: Option<Credentials>, max_body: usize) -> Server {
    start_with_slots(dir, auth, max_body, 4).await
}

async fn start_with_slots(dir: &Path, auth: Option<Credentials>, max_body: usize, slots: usize) -> Server {
    start_server(Overlord::open_local(dir).unwrap(), slots, max_body, auth).await
}

async fn submit(addr: &str, sql: &str, context: Value) -> String {
    let r = post_json(addr, "/druid/v2/sql/task", &json!({"query": sql, "context": context})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["state"], "RUNNING");
    v["taskId"].as_str().unwrap().to_string()
}

fn docs_insert(ds: &str) -> String {
    // The ingestion example of Druid's SQL-based ingestion API docs, over the local file.
    let two = testdata("wikipedia-sampled-2.json").display().to_string();
    format!(
        r#"INSERT INTO {ds}
SELECT
  TIME_PARSE("timestamp") AS __time,
  *
FROM TABLE(
  EXTERN(
    '{{"type": "local", "files": ["{two}"]}}',
    '{{"type": "json"}}',
    '[{{"name": "added", "type": "long"}}, {{"name": "channel", "type": "string"}}, {{"name": "cityName", "type": "string"}}, {{"name": "comment", "type": "string"}}, {{"name": "commentLength", "type": "long"}}, {{"name": "countryIsoCode", "type": "string"}}, {{"name": "countryName", "type": "string"}}, {{"name": "deleted", "type": "long"}}, {{"name": "delta", "type": "long"}}, {{"name": "deltaBucket", "type": "string"}}, {{"name": "diffUrl", "type": "string"}}, {{"name": "flags", "type": "string"}}, {{"name": "isAnonymous", "type": "string"}}, {{"name": "isMinor", "type": "string"}}, {{"name": "isNew", "type": "string"}}, {{"name": "isRobot", "type": "string"}}, {{"name": "isUnpatrolled", "type": "string"}}, {{"name": "metroCode", "type": "string"}}, {{"name": "namespace", "type": "string"}}, {{"name": "page", "type": "string"}}, {{"name": "regionIsoCode", "type": "string"}}, {{"name": "regionName", "type": "string"}}, {{"name": "timestamp", "type": "string"}}, {{"name": "user", "type": "string"}}]'
  )
)
PARTITIONED BY DAY"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_over_http_and_read_every_task_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), None, 1 << 20).await;
    let a = &s.addr;
    assert_eq!(get(a, "/status/health").await.body, "true");

    let r = request(
        a,
        "POST",
        "/druid/v2/sql/task",
        &[("Content-Type", "application/json"), ("X-Opaque-Id", "my-ingest-1")],
        Some(&json!({"query": docs_insert("wikipedia_api"), "context": {"maxNumTasks": 3}}).to_string()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("X-Opaque-Id"), Some("my-ingest-1"));
    let id = r.json()["taskId"].as_str().unwrap().to_string();
    assert!(id.starts_with("query-"));

    let st = wait_done(a, &id).await;
    assert_eq!(st["task"], json!(id));
    let status = &st["status"];
    assert_eq!(status["status"], "SUCCESS", "{st:#}");
    for f in [
        "id",
        "groupId",
        "type",
        "createdTime",
        "queueInsertionTime",
        "statusCode",
        "status",
        "runnerStatusCode",
        "duration",
        "location",
        "dataSource",
        "errorMsg",
        "cancellable",
    ] {
        assert!(status.get(f).is_some(), "status.{f} missing");
    }
    assert_eq!(status["type"], "query_controller");
    assert_eq!(status["dataSource"], "wikipedia_api");
    assert_eq!(status["runnerStatusCode"], "NONE");
    assert_eq!(status["cancellable"], false);
    assert_eq!(status["opaqueId"], "my-ingest-1");
    assert!(status["duration"].as_i64().unwrap() >= 0);

    let rep = get(a, &format!("/druid/indexer/v1/task/{id}/reports")).await.json();
    let payload = &rep["multiStageQuery"]["payload"];
    assert_eq!(rep["multiStageQuery"]["taskId"], json!(id));
    assert_eq!(payload["status"]["status"], "SUCCESS");
    let rows: i64 = payload["counters"]["1"]
        .as_object()
        .unwrap()
        .values()
        .map(|w| w["segmentGenerationProgress"]["rowsPersisted"].as_i64().unwrap())
        .sum();
    assert_eq!(rows, 7);

    let p = get(a, &format!("/druid/indexer/v1/task/{id}")).await.json();
    assert_eq!(p["task"], json!(id));
    assert_eq!(p["payload"]["type"], "query_controller");
    assert!(p["payload"]["sqlQuery"]
        .as_str()
        .unwrap()
        .contains("INSERT INTO wikipedia_api"));
    assert_eq!(p["payload"]["sqlQueryContext"]["maxNumTasks"], 3);

    let log = get(a, &format!("/druid/indexer/v1/task/{id}/log")).await;
    assert_eq!(log.status, 200);
    assert!(log.body.contains("Published 1 segments with 7 rows"), "{}", log.body);
    let tail = get(a, &format!("/druid/indexer/v1/task/{id}/log?offset=-10")).await;
    assert_eq!(tail.body.len(), 10);

    let segs = get(a, &format!("/druid/indexer/v1/task/{id}/segments")).await.json();
    assert_eq!(segs.as_array().unwrap().len(), 1);
    assert_eq!(segs[0]["interval"], "2016-06-27T00:00:00.000Z/2016-06-28T00:00:00.000Z");

    // A SELECT over what was ingested, waiting for completion.
    let r = post_json(
        a,
        "/druid/v2/sql/task?wait_for_completion=true&timeout=60s",
        &json!({"query": "SELECT channel, COUNT(*) AS c FROM wikipedia_api WHERE page <> ? GROUP BY channel ORDER BY c DESC, channel",
                "parameters": [{"type": "VARCHAR", "value": "nothing"}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["state"], "SUCCESS");
    let sel = v["taskId"].as_str().unwrap();
    let rep = get(a, &format!("/druid/indexer/v1/task/{sel}/reports")).await.json();
    let results = &rep["multiStageQuery"]["payload"]["results"];
    let total: i64 = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[1].as_i64().unwrap())
        .sum();
    assert_eq!(total, 7);
    assert_eq!(results["sqlTypeNames"], json!(["VARCHAR", "BIGINT"]));

    // Lists and filters.
    let all = get(a, "/druid/indexer/v1/tasks").await.json();
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&id.as_str()) && ids.contains(&sel));
    assert!(
        ids.contains(&format!("{id}-worker0_0").as_str()),
        "worker tasks listed: {ids:?}"
    );
    let workers = get(a, "/druid/indexer/v1/tasks?type=query_worker").await.json();
    assert!(workers.as_array().unwrap().iter().all(|t| t["type"] == "query_worker"));
    assert_eq!(
        workers
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["groupId"] == json!(id))
            .count(),
        2,
        "maxNumTasks 3 means two workers"
    );
    let by_ds = get(
        a,
        "/druid/indexer/v1/tasks?datasource=wikipedia_api&type=query_controller",
    )
    .await
    .json();
    assert_eq!(by_ds.as_array().unwrap().len(), 1);
    let complete = get(a, "/druid/indexer/v1/tasks?state=complete&type=query_controller")
        .await
        .json();
    assert_eq!(complete.as_array().unwrap().len(), 2);
    let max1 = get(a, "/druid/indexer/v1/tasks?state=complete&max=1&type=query_controller")
        .await
        .json();
    assert_eq!(max1.as_array().unwrap().len(), 1);
    assert_eq!(max1[0]["id"], json!(sel), "newest first");
    assert_eq!(get(a, "/druid/indexer/v1/runningTasks").await.json(), json!([]));
    assert_eq!(get(a, "/druid/indexer/v1/waitingTasks").await.json(), json!([]));
    assert_eq!(get(a, "/druid/indexer/v1/pendingTasks").await.json(), json!([]));
    assert_eq!(
        get(a, "/druid/indexer/v1/completeTasks?type=query_controller")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let within = get(
        a,
        &format!("/druid/indexer/v1/tasks?createdTimeInterval={today}_{tomorrow}&type=query_controller"),
    )
    .await;
    assert_eq!(within.json().as_array().unwrap().len(), 2);
    let before = get(a, "/druid/indexer/v1/tasks?createdTimeInterval=2000-01-01_2000-01-02").await;
    assert_eq!(before.json(), json!([]));

    let bulk = post_json(a, "/druid/indexer/v1/taskStatus", &json!([id, "nope"]))
        .await
        .json();
    assert_eq!(bulk[&id]["status"], "SUCCESS");
    assert!(bulk.get("nope").is_none());
    let del = request(
        a,
        "DELETE",
        "/druid/indexer/v1/pendingSegments/wikipedia_api",
        &[],
        None,
    )
    .await;
    assert_eq!(del.json(), json!({"numDeleted": 0}));
    s.handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_paths_answer_like_druid() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), None, 4096).await;
    let a = &s.addr;
    let bad = post_json(
        a,
        "/druid/v2/sql/task",
        &json!({"query": "INSERT INTO x SELEC 1 PARTITIONED BY DAY"}),
    )
    .await;
    assert_eq!(bad.status, 400);
    let v = bad.json();
    for f in ["error", "errorMessage", "errorClass", "host"] {
        assert!(v.get(f).is_some(), "{f} missing: {v}");
    }
    assert_eq!(v["host"], json!(a));
    let missing = post_json(a, "/druid/v2/sql/task", &json!({"query": "SELECT * FROM nowhere"})).await;
    assert_eq!(missing.status, 400);
    assert!(missing.json()["errorMessage"].as_str().unwrap().contains("nowhere"));
    assert_eq!(
        get(a, "/druid/indexer/v1/tasks").await.json(),
        json!([]),
        "failed validation creates no task"
    );

    assert_eq!(get(a, "/druid/indexer/v1/task/query-nope/status").await.status, 404);
    assert_eq!(get(a, "/druid/indexer/v1/task/query-nope/reports").await.status, 404);
    assert_eq!(get(a, "/druid/indexer/v1/task/query-nope").await.status, 404);
    let st = get(a, "/druid/indexer/v1/tasks?state=sleeping").await;
    assert_eq!(st.status, 400);
    assert!(st.json()["errorMessage"].as_str().unwrap().contains("sleeping"));

    let big = json!({"query": format!("SELECT '{}'", "x".repeat(10_000))});
    assert_eq!(post_json(a, "/druid/v2/sql/task", &big).await.status, 413);
    let no_type = request(a, "POST", "/druid/v2/sql/task", &[], Some("{\"query\":\"SELECT 1\"}")).await;
    assert_eq!(no_type.status, 415);
    let not_json = request(
        a,
        "POST",
        "/druid/v2/sql/task",
        &[("Content-Type", "application/json")],
        Some("{nope"),
    )
    .await;
    assert_eq!(not_json.status, 400);
    assert!(not_json.json().get("errorMessage").is_some());
    let native = post_json(a, "/druid/indexer/v1/task", &json!({"type": "index_parallel"})).await;
    assert_eq!(native.status, 400);
    assert!(native.json()["errorMessage"]
        .as_str()
        .unwrap()
        .contains("/druid/v2/sql/task"));

    let id = submit(a, "SELECT 1 AS one", json!({})).await;
    wait_done(a, &id).await;
    assert_eq!(
        request(a, "POST", &format!("/druid/indexer/v1/task/{id}/shutdown"), &[], None)
            .await
            .status,
        404
    );
    assert_eq!(
        request(a, "POST", "/druid/indexer/v1/task/query-nope/shutdown", &[], None)
            .await
            .status,
        404
    );
    s.handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_submissions_finish_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), None, 1 << 20).await;
    let a = s.addr.clone();
    let mut handles = Vec::new();
    for i in 0..50 {
        let a = a.clone();
        handles.push(tokio::spawn(async move {
            let sql = if i % 5 == 0 {
                format!(
                    r#"INSERT INTO inline_{i} SELECT TIME_PARSE(t) AS __time, v FROM TABLE(EXTERN('{{"type":"inline","data":"{{\"t\":\"2020-01-01T00:00:00Z\",\"v\":{i}}}\n{{\"t\":\"2020-01-02T00:00:00Z\",\"v\":1}}"}}', '{{"type":"json"}}', '[{{"name":"t","type":"string"}},{{"name":"v","type":"long"}}]')) PARTITIONED BY DAY"#
                )
            } else {
                format!("SELECT {i} + 1 AS n")
            };
            let id = submit(&a, &sql, json!({})).await;
            (i, id)
        }));
    }
    let mut ids = Vec::new();
    for h in handles {
        ids.push(h.await.unwrap());
    }
    for (i, id) in &ids {
        let st = wait_done(&a, id).await;
        assert_eq!(st["status"]["status"], "SUCCESS", "submission {i}: {st}");
        if i % 5 != 0 {
            let rep = get(&a, &format!("/druid/indexer/v1/task/{id}/reports")).await.json();
            assert_eq!(
                rep["multiStageQuery"]["payload"]["results"]["results"],
                json!([[i + 1]])
            );
        }
    }
    s.handle.abort();

    // A task that was running when the server died, as the metadata store would hold it.
    let engine = Overlord::open_local(dir.path()).unwrap();
    let mut rec = engine.metadata.get_task(&ids[0].1).unwrap().unwrap();
    rec.id = "query-interrupted".into();
    rec.status = "RUNNING".into();
    rec.runner_status = "RUNNING".into();
    engine.metadata.insert_task(&rec).unwrap();
    drop(engine);

    let s2 = start(dir.path(), None, 1 << 20).await;
    let complete = get(&s2.addr, "/druid/indexer/v1/completeTasks?type=query_controller")
        .await
        .json();
    assert_eq!(complete.as_array().unwrap().len(), 51);
    let st = get(&s2.addr, "/druid/indexer/v1/task/query-interrupted/status")
        .await
        .json();
    assert_eq!(st["status"]["status"], "FAILED");
    assert!(st["status"]["errorMsg"].as_str().unwrap().contains("server stopped"));
    let rep = get(&s2.addr, &format!("/druid/indexer/v1/task/{}/reports", ids[1].1)).await;
    assert_eq!(rep.status, 200, "reports survive a restart");
    s2.handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cancels_a_long_insert_and_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_with_slots(&dir.path().join("var"), None, 1 << 20, 1).await;
    let a = &s.addr;
    let sql = long_insert_sql(dir.path());
    let id = submit(a, &sql, json!({"maxNumTasks": 2})).await;
    // Let it get going: the live report shows input being read.
    let start_t = Instant::now();
    loop {
        let rep = get(a, &format!("/druid/indexer/v1/task/{id}/reports")).await.json();
        let rows = rep["multiStageQuery"]["payload"]["counters"]["0"]["0"]["input0"]["rows"][0]
            .as_i64()
            .unwrap_or(0);
        if rows > 0 {
            break;
        }
        assert!(
            start_t.elapsed() < Duration::from_secs(60),
            "the insert never started reading"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let st = get(a, &format!("/druid/indexer/v1/task/{id}/status")).await.json();
    assert_eq!(st["status"]["status"], "RUNNING");
    assert_eq!(st["status"]["cancellable"], true);
    assert_eq!(st["status"]["duration"], -1);
    let running = get(a, "/druid/indexer/v1/runningTasks?type=query_controller")
        .await
        .json();
    assert_eq!(running.as_array().unwrap().len(), 1);
    let port: i64 = a.rsplit_once(':').unwrap().1.parse().unwrap();
    assert_eq!(
        running[0]["location"],
        json!({"host": "127.0.0.1", "port": port, "tlsPort": -1})
    );
    // With the one worker slot taken, the next task waits for it.
    let second = submit(a, "SELECT 2 AS two", json!({})).await;
    let waiting = get(a, "/druid/indexer/v1/waitingTasks").await.json();
    assert_eq!(waiting.as_array().unwrap().len(), 1, "{waiting}");
    assert_eq!(waiting[0]["id"], json!(second));
    assert_eq!(waiting[0]["runnerStatusCode"], "WAITING");
    let r = request(
        a,
        "POST",
        &format!("/druid/indexer/v1/task/{second}/shutdown"),
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"task": second}));
    let cancelled = wait_done(a, &second).await;
    assert_eq!(cancelled["status"]["status"], "FAILED");
    assert!(cancelled["status"]["errorMsg"].as_str().unwrap().contains("Canceled"));
    let third = submit(a, "SELECT 3 AS three", json!({})).await;
    let r = request(
        a,
        "POST",
        "/druid/indexer/v1/datasources/long_insert/shutdownAllTasks",
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"dataSource": "long_insert"}));
    let done = wait_done(a, &id).await;
    assert_eq!(
        wait_done(a, &third).await["status"]["status"],
        "SUCCESS",
        "a waiting task runs once the slot frees"
    );
    let again = request(a, "POST", &format!("/druid/indexer/v1/task/{id}/shutdown"), &[], None).await;
    assert_eq!(again.status, 404, "a finished task cannot be shut down");
    assert_eq!(done["status"]["status"], "FAILED");
    assert!(
        done["status"]["errorMsg"].as_str().unwrap().contains("Canceled"),
        "{done}"
    );
    let rep = get(a, &format!("/druid/indexer/v1/task/{id}/reports")).await.json();
    assert_eq!(
        rep["multiStageQuery"]["payload"]["status"]["errorReport"]["error"]["errorCode"],
        "Canceled"
    );
    let engine = Overlord::open_local(&dir.path().join("var")).unwrap();
    assert!(engine.metadata.used_segments("long_insert", None).unwrap().is_empty());
    assert!(engine.metadata.pending_segments("long_insert").unwrap().is_empty());
    s.handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_guards_everything_but_health() {
    let dir = tempfile::tempdir().unwrap();
    let creds = Credentials::parse("# users\nadmin:s3cret\n").unwrap();
    let s = start(dir.path(), Some(creds), 1 << 20).await;
    let a = &s.addr;
    assert_eq!(get(a, "/status/health").await.status, 200);
    let r = get(a, "/druid/indexer/v1/tasks").await;
    assert_eq!(r.status, 401);
    assert!(r.header("WWW-Authenticate").is_some());
    let wrong = request(
        a,
        "GET",
        "/druid/indexer/v1/tasks",
        &[("Authorization", "Basic YWRtaW46bm9wZQ==")],
        None,
    )
    .await;
    assert_eq!(wrong.status, 401);
    // admin:s3cret
    let ok = request(
        a,
        "GET",
        "/druid/indexer/v1/tasks",
        &[("Authorization", "Basic YWRtaW46czNjcmV0")],
        None,
    )
    .await;
    assert_eq!(ok.status, 200);
    let sub = request(
        a,
        "POST",
        "/druid/v2/sql/task",
        &[("Content-Type", "application/json")],
        Some(r#"{"query":"SELECT 1"}"#),
    )
    .await;
    assert_eq!(sub.status, 401);
    s.handle.abort();
}

async fn wait_done(addr: &str, id: &str) -> Value {
    wait_task_done(addr, id, Duration::from_secs(120)).await
}
