//! The coordinator's datasource and metadata endpoints, marking segments unused and kill
//! tasks, against a real server on a loopback port: the 39,244 wikipedia rows in 24 hourly
//! segments, every answer checked against the metadata store and the files in deep storage.

mod common;

use common::http::{get, post_json, request, start_server, wait_task_done, Resp, Server};
use common::*;
use msq_controller::Overlord;
use msq_engine::metadata::{LockOutcome, LockRequest, LockType, MetadataStore, SegmentRecord, TaskRecord};
use msq_metadata::SqliteMetadataStore;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const DS: &str = "/druid/coordinator/v1/datasources";
const META: &str = "/druid/coordinator/v1/metadata/datasources";

async fn delete(addr: &str, path: &str) -> Resp {
    request(addr, "DELETE", path, &[], None).await
}

async fn submit_task(addr: &str, spec: Value) -> Resp {
    post_json(addr, "/druid/indexer/v1/task", &spec).await
}

async fn run_sql(addr: &str, sql: &str) -> String {
    let r = post_json(addr, "/druid/v2/sql/task", &json!({"query": sql})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["taskId"].as_str().unwrap().to_string();
    let st = wait_done(addr, &id).await;
    assert_eq!(st["status"]["status"], "SUCCESS", "{st:#}");
    id
}

async fn kill(addr: &str, spec: Value) -> (String, Value) {
    let r = post_json(addr, "/druid/indexer/v1/task", &spec).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["task"].as_str().unwrap().to_string();
    let st = wait_done(addr, &id).await;
    (id, st)
}

fn store(dir: &Path) -> SqliteMetadataStore {
    SqliteMetadataStore::open(&dir.join("metadata.db")).unwrap()
}

fn file_exists(dir: &Path, s: &SegmentRecord) -> bool {
    dir.join("segments").join(&s.path).is_file()
}

fn ids(segs: &[SegmentRecord]) -> Vec<String> {
    segs.iter().map(|s| s.id.to_string()).collect()
}

/// A Druid error body with a 400.
fn assert_bad_request(r: &Resp, needle: &str) {
    assert_eq!(r.status, 400, "{}", r.body);
    let v = r.json();
    for k in ["error", "errorMessage", "errorClass", "host"] {
        assert!(v.get(k).is_some(), "Druid error shape: {v}");
    }
    assert!(r.message().contains(needle), "{needle:?} not in {}", r.body);
}

fn tiny_insert() -> String {
    r#"INSERT INTO tiny SELECT TIME_PARSE(t) AS __time, v FROM TABLE(EXTERN('{"type":"inline","data":"{\"t\":\"2020-01-01T00:00:00Z\",\"v\":1}\n{\"t\":\"2020-01-02T00:00:00Z\",\"v\":2}"}', '{"type":"json"}', '[{"name":"t","type":"string"},{"name":"v","type":"long"}]')) PARTITIONED BY DAY"#.to_string()
}

async fn start(dir: &Path) -> Server {
    start_server(Overlord::open_local(dir).unwrap(), 4, 1 << 20, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_mark_unused_and_kill_wikipedia() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let a = &s.addr;
    let md = store(dir.path());

    // Nothing yet.
    assert_eq!(get(a, DS).await.json(), json!([]));
    assert_eq!(get(a, META).await.json(), json!([]));
    let r = get(a, &format!("{DS}/wikipedia")).await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    assert_eq!(get(a, &format!("{META}/wikipedia")).await.status, 404);

    run_sql(a, &insert_wikipedia_sql("wikipedia")).await;
    run_sql(a, &tiny_insert()).await;
    let used = md.used_segments("wikipedia", None).unwrap();
    assert_eq!(used.len(), 24);
    assert_eq!(used.iter().map(|s| s.num_rows).sum::<u64>(), 39_244);
    assert!(used.iter().all(|s| file_exists(dir.path(), s)));
    let size: u64 = used.iter().map(|s| s.size_bytes).sum();
    assert!(size > 0);

    // Names, simple and full views.
    assert_eq!(get(a, DS).await.json(), json!(["tiny", "wikipedia"]));
    let simple = json!({
        "tiers": {"_default_tier": {"segmentCount": 24, "size": size, "replicatedSize": size}},
        "segments": {"count": 24, "size": size, "replicatedSize": size,
                     "minTime": "2015-09-12T00:00:00.000Z", "maxTime": "2015-09-13T00:00:00.000Z"},
    });
    let list = get(a, &format!("{DS}?simple")).await.json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[1], json!({"name": "wikipedia", "properties": simple}));
    assert_eq!(list[0]["properties"]["segments"]["count"], 2);
    assert_eq!(get(a, &format!("{DS}/wikipedia")).await.json(), simple);
    let full = get(a, &format!("{DS}?full")).await.json();
    assert_eq!(full[1]["name"], "wikipedia");
    assert_eq!(full[1]["properties"], json!({}));
    let segs = full[1]["segments"].as_array().unwrap();
    let first = &segs[0];
    assert_eq!(first["dataSource"], "wikipedia");
    assert_eq!(first["interval"], "2015-09-12T00:00:00.000Z/2015-09-12T01:00:00.000Z");
    assert_eq!(first["identifier"], json!(used[0].id.to_string()));
    assert_eq!(first["version"], json!(used[0].id.version));
    assert_eq!(first["size"], json!(used[0].size_bytes));
    assert_eq!(first["shardSpec"], used[0].shard_spec);
    assert_eq!(first["loadSpec"], json!({"type": "parquet", "path": used[0].path}));
    assert_eq!(
        first["dimensions"],
        "channel,page,user,added,deleted,delta,cityName,countryName,isRobot,metroCode"
    );
    assert_eq!(first["metrics"], "");
    assert_eq!(get(a, &format!("{DS}/wikipedia?full")).await.json(), full[1]);

    // Segment listings equal the metadata.
    assert_eq!(
        get(a, &format!("{DS}/wikipedia/segments")).await.json(),
        json!(ids(&used))
    );
    let seg_full = get(a, &format!("{DS}/wikipedia/segments?full")).await.json();
    assert_eq!(&seg_full, &full[1]["segments"]);
    assert_eq!(
        get(a, &format!("{META}/wikipedia/segments")).await.json(),
        json!(ids(&used))
    );
    assert_eq!(
        get(a, &format!("{META}/wikipedia/segments?full")).await.json(),
        seg_full
    );
    let one = get(a, &format!("{DS}/wikipedia/segments/{}", used[5].id)).await.json();
    assert_eq!(one["metadata"], seg_full[5]);
    assert_eq!(one["servers"], json!([a]));
    assert_eq!(
        get(a, &format!("{META}/wikipedia/segments/{}", used[5].id))
            .await
            .json(),
        seg_full[5]
    );
    assert_eq!(get(a, META).await.json(), json!(["tiny", "wikipedia"]));
    let meta_full = get(a, &format!("{META}?full")).await.json();
    assert_eq!(meta_full[1]["segments"], seg_full);
    assert!(meta_full[1]["properties"]["created"].as_str().unwrap().ends_with('Z'));
    let meta_one = get(a, &format!("{META}/wikipedia")).await.json();
    assert_eq!(
        (meta_one["name"].clone(), meta_one["segments"].clone()),
        (json!("wikipedia"), seg_full.clone())
    );

    // Mark unused: three whole hours, then a range that only partly covers hour 3.
    let body = json!({"interval": "2015-09-12T00:00:00.000Z/2015-09-12T03:00:00.000Z"});
    let r = post_json(a, &format!("{DS}/wikipedia/markUnused"), &body).await;
    assert_eq!(r.json(), json!({"numChangedSegments": 3}));
    let body = json!({"interval": "2015-09-12T03:30:00Z/2015-09-12T06:00:00Z"});
    let r = post_json(a, &format!("{DS}/wikipedia/markUnused"), &body).await;
    assert_eq!(r.json(), json!({"numChangedSegments": 2}));
    let by_id =
        json!({"segmentIds": [used[23].id.to_string(), "other_2015-09-12T00:00:00.000Z_2015-09-13T00:00:00.000Z_v1"]});
    let r = post_json(a, &format!("{DS}/wikipedia/markUnused"), &by_id).await;
    assert_eq!(r.json(), json!({"numChangedSegments": 1}));
    let r = delete(a, &format!("{DS}/wikipedia/segments/{}", used[22].id)).await;
    assert_eq!(r.json(), json!({"segmentStateChanged": true}));
    let r = delete(a, &format!("{DS}/wikipedia/segments/{}", used[22].id)).await;
    assert_eq!(r.json(), json!({"segmentStateChanged": false}));
    let now_used = md.used_segments("wikipedia", None).unwrap();
    assert_eq!(now_used.len(), 17);
    let unused: Vec<usize> = vec![0, 1, 2, 4, 5, 22, 23];
    for (k, s) in used.iter().enumerate() {
        assert_eq!(now_used.iter().any(|u| u.id == s.id), !unused.contains(&k), "hour {k}");
        assert!(file_exists(dir.path(), s), "marking unused keeps files");
    }
    assert_eq!(
        get(a, &format!("{DS}/wikipedia/segments")).await.json(),
        json!(ids(&now_used))
    );
    assert_eq!(get(a, &format!("{DS}/wikipedia")).await.json()["segments"]["count"], 17);
    assert_eq!(
        get(a, &format!("{META}/wikipedia/segments/{}", used[0].id))
            .await
            .status,
        404
    );
    let r = get(a, &format!("{META}/wikipedia/segments/{}?includeUnused", used[0].id)).await;
    assert_eq!(r.json()["identifier"], json!(used[0].id.to_string()));

    // A kill of [00:00, 05:00) removes exactly the four unused segments in it, records and
    // files; hour 3 (used) stays.
    let spec = json!({"type": "kill", "dataSource": "wikipedia", "interval": "2015-09-12T00:00:00.000Z/2015-09-12T05:00:00.000Z"});
    let (kill_id, st) = kill(a, spec).await;
    assert_eq!(st["status"]["status"], "SUCCESS", "{st:#}");
    assert_eq!(st["status"]["type"], "kill");
    assert_eq!(st["status"]["dataSource"], "wikipedia");
    assert!(kill_id.starts_with("kill_wikipedia_"), "{kill_id}");
    let rep = get(a, &format!("/druid/indexer/v1/task/{kill_id}/reports"))
        .await
        .json();
    assert_eq!(
        rep,
        json!({"killUnusedSegments": {"type": "killUnusedSegments", "taskId": kill_id,
            "payload": {"numSegmentsKilled": 4, "numBatchesProcessed": 1, "numSegmentsMarkedAsUnused": 0}}})
    );
    let payload = get(a, &format!("/druid/indexer/v1/task/{kill_id}")).await.json();
    assert_eq!(payload["payload"]["type"], "kill");
    assert_eq!(
        payload["payload"]["interval"],
        "2015-09-12T00:00:00.000Z/2015-09-12T05:00:00.000Z"
    );
    let all = md.all_segments("wikipedia").unwrap();
    assert_eq!(all.len(), 20);
    for (k, s) in used.iter().enumerate() {
        let killed = [0, 1, 2, 4].contains(&k);
        assert_eq!(file_exists(dir.path(), s), !killed, "hour {k}");
        assert_eq!(all.iter().any(|x| x.id == s.id), !killed, "hour {k}");
    }
    assert_eq!(md.used_segments("wikipedia", None).unwrap(), now_used);
    assert!(
        md.task_locks("wikipedia").unwrap().is_empty(),
        "the kill released its lock"
    );

    // DELETE .../intervals/{interval} issues a kill task (an empty 200, as Druid).
    let r = delete(a, &format!("{DS}/wikipedia/intervals/2015-09-12_2015-09-13")).await;
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    let tasks = get(a, "/druid/indexer/v1/tasks?type=kill&datasource=wikipedia")
        .await
        .json();
    let api = tasks
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"].as_str().unwrap().starts_with("api-issued_kill_wikipedia_"))
        .unwrap_or_else(|| panic!("no api-issued kill in {tasks:#}"));
    let api_id = api["id"].as_str().unwrap().to_string();
    assert_eq!(wait_done(a, &api_id).await["status"]["status"], "SUCCESS");
    let rep = get(a, &format!("/druid/indexer/v1/task/{api_id}/reports")).await.json();
    assert_eq!(rep["killUnusedSegments"]["payload"]["numSegmentsKilled"], 3);
    let all = md.all_segments("wikipedia").unwrap();
    assert_eq!(all, now_used, "only used segments are left");
    assert!(now_used.iter().all(|s| file_exists(dir.path(), s)));
    let files = walk_files(&dir.path().join("segments").join("wikipedia"));
    assert_eq!(files, 17, "deep storage holds exactly the used segments' files");

    // The used segments still answer queries.
    let id = run_sql(a, "SELECT COUNT(*) AS c FROM wikipedia").await;
    let rep = get(a, &format!("/druid/indexer/v1/task/{id}/reports")).await.json();
    let rows: u64 = now_used.iter().map(|s| s.num_rows).sum();
    assert_eq!(rep["multiStageQuery"]["payload"]["results"]["results"], json!([[rows]]));

    // DELETE of a whole dataSource marks everything unused; 0 for an unknown one.
    assert_eq!(
        delete(a, &format!("{DS}/tiny")).await.json(),
        json!({"numChangedSegments": 2})
    );
    assert_eq!(
        delete(a, &format!("{DS}/nothing")).await.json(),
        json!({"numChangedSegments": 0})
    );
    assert_eq!(get(a, DS).await.json(), json!(["wikipedia"]));
    assert_eq!(get(a, META).await.json(), json!(["wikipedia"]));
    assert_eq!(
        get(a, &format!("{META}?includeUnused")).await.json(),
        json!(["tiny", "wikipedia"])
    );
    assert_eq!(
        get(a, &format!("{META}?includeDisabled")).await.json(),
        json!(["tiny", "wikipedia"])
    );
    assert_eq!(get(a, &format!("{DS}/tiny")).await.status, 204);
    assert_eq!(get(a, &format!("{DS}/tiny/segments")).await.status, 204);
    assert_eq!(get(a, &format!("{META}/tiny")).await.status, 404);
    assert_eq!(get(a, &format!("{META}/tiny/segments")).await.status, 404);
    let tiny_files = walk_files(&dir.path().join("segments").join("tiny"));
    assert_eq!(tiny_files, 2, "marking unused keeps files");
    let (_, st) = kill(
        a,
        json!({"type": "kill", "dataSource": "tiny", "interval": "1000-01-01/3000-01-01", "batchSize": 1}),
    )
    .await;
    assert_eq!(st["status"]["status"], "SUCCESS");
    assert_eq!(walk_files(&dir.path().join("segments").join("tiny")), 0);
    assert!(md.all_segments("tiny").unwrap().is_empty());
    assert_eq!(
        get(a, &format!("{META}?includeUnused")).await.json(),
        json!(["wikipedia"])
    );
}

fn walk_files(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.map(|e| e.unwrap().path())
        .map(|p| if p.is_dir() { walk_files(&p) } else { 1 })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_druid_errors_never_5xx() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let a = &s.addr;
    run_sql(a, &tiny_insert()).await;

    assert_bad_request(
        &delete(a, &format!("{DS}/tiny/intervals/bogus")).await,
        "Invalid interval [bogus]",
    );
    assert_bad_request(
        &delete(a, &format!("{DS}/tiny/intervals/2020-01-02_2020-01-01")).await,
        "must be greater",
    );
    assert_bad_request(&delete(a, &format!("{DS}/tiny?kill=true")).await, "interval");
    assert_bad_request(
        &submit_task(
            a,
            json!({"type": "kill", "dataSource": "tiny", "interval": "yesterday"}),
        )
        .await,
        "Invalid interval [yesterday]",
    );
    assert_bad_request(
        &submit_task(
            a,
            json!({"type": "kill", "dataSource": "../etc", "interval": "2020-01-01/2020-01-02"}),
        )
        .await,
        "cannot start with '.'",
    );
    assert_bad_request(
        &submit_task(a, json!({"type": "kill", "interval": "2020-01-01/2020-01-02"})).await,
        "dataSource",
    );
    assert_bad_request(
        &submit_task(
            a,
            json!({"type": "kill", "dataSource": "tiny", "interval": "2020-01-01/2020-01-02", "batchSize": 0}),
        )
        .await,
        "batchSize[0] must be a positive integer.",
    );
    assert_bad_request(
        &submit_task(
            a,
            json!({"type": "kill", "dataSource": "tiny", "interval": "2020-01-01/2020-01-02", "markAsUnused": true}),
        )
        .await,
        "markAsUnused",
    );
    assert_bad_request(
        &submit_task(a, json!({"type": "index_parallel"})).await,
        "not supported",
    );
    let (id, _) = kill(
        a,
        json!({"type": "kill", "id": "my-kill", "dataSource": "tiny", "interval": "2020-01-01/2020-01-02"}),
    )
    .await;
    assert_eq!(id, "my-kill");
    assert_bad_request(
        &submit_task(
            a,
            json!({"type": "kill", "id": "my-kill", "dataSource": "tiny", "interval": "2020-01-01/2020-01-02"}),
        )
        .await,
        "already exists",
    );
    let mark = format!("{DS}/tiny/markUnused");
    let bad_payload = "either interval or segmentIds";
    assert_bad_request(&post_json(a, &mark, &json!({})).await, bad_payload);
    assert_bad_request(&post_json(a, &mark, &json!({"segmentIds": []})).await, bad_payload);
    assert_bad_request(
        &post_json(
            a,
            &mark,
            &json!({"interval": "2020-01-01/2020-01-02", "segmentIds": ["x"]}),
        )
        .await,
        bad_payload,
    );
    assert_bad_request(
        &post_json(a, &mark, &json!({"interval": "nope"})).await,
        "Invalid interval [nope]",
    );
    let r = request(
        a,
        "POST",
        &mark,
        &[("Content-Type", "application/json")],
        Some("{not json"),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = post_json(
        a,
        &format!("{DS}/nothing/markUnused"),
        &json!({"interval": "2020-01-01/2020-01-02"}),
    )
    .await;
    assert_eq!(r.status, 204);
    let r = get(a, &format!("{META}/nothing/segments")).await;
    assert_eq!(r.status, 404);
    assert!(r.json()["errorMessage"].as_str().unwrap().contains("nothing"));
    // Odd names and paths: answers, never a server error.
    for (method, path) in [
        ("GET", format!("{DS}/%2E%2E")),
        ("GET", format!("{DS}/a%00b/segments?full")),
        ("GET", format!("{DS}/tiny/segments/not-a-segment")),
        ("DELETE", format!("{DS}/tiny/segments/not-a-segment")),
        ("DELETE", format!("{DS}/%2E%2E")),
        ("DELETE", format!("{DS}/a%09b/intervals/2020-01-01_2020-01-02")),
        ("DELETE", format!("{DS}/tiny/intervals/%2E%2E")),
        ("GET", format!("{META}/tiny/segments/x?includeUnused")),
        ("GET", format!("{META}?full&includeUnused")),
    ] {
        let r = request(a, method, &path, &[], None).await;
        assert!(r.status < 500, "{method} {path}: {} {}", r.status, r.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_waits_for_the_lock_of_a_running_ingestion() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let a = &s.addr;
    run_sql(a, &tiny_insert()).await;
    assert_eq!(
        delete(a, &format!("{DS}/tiny")).await.json(),
        json!({"numChangedSegments": 2})
    );
    let md = store(dir.path());
    // A running REPLACE holds the first day exclusively.
    let now = msq_engine::metadata::store::now_iso();
    md.insert_task(&TaskRecord {
        id: "query-replace".into(),
        group_id: "query-replace".into(),
        task_type: "query_controller".into(),
        data_source: "tiny".into(),
        created_time: now.clone(),
        queue_insertion_time: now,
        status: "RUNNING".into(),
        runner_status: "RUNNING".into(),
        duration_ms: -1,
        error_msg: None,
        location: json!({}),
        payload: json!({}),
        report: None,
        opaque_id: None,
    })
    .unwrap();
    let day1 = msq_engine::granularity::Interval::parse("2020-01-01/2020-01-02").unwrap();
    let lock = LockRequest {
        task_id: "query-replace".into(),
        data_source: "tiny".into(),
        intervals: vec![day1],
        lock_type: LockType::Exclusive,
        now_version: "v9".into(),
        expires_ms: i64::MAX / 2,
    };
    assert!(matches!(
        md.lock_intervals(&lock).unwrap(),
        LockOutcome::Acquired { .. }
    ));
    // Out of patience: the kill fails and deletes nothing.
    let spec = json!({"type": "kill", "dataSource": "tiny", "interval": "2020-01-01/2020-01-03", "context": {"taskLockTimeout": 300}});
    let (_, st) = kill(a, spec).await;
    assert_eq!(st["status"]["status"], "FAILED", "{st:#}");
    assert!(
        st["status"]["errorMsg"].as_str().unwrap().contains("query-replace"),
        "{st:#}"
    );
    assert_eq!(md.all_segments("tiny").unwrap().len(), 2);
    // Patient: it runs once the ingestion lets go.
    let spec = json!({"type": "kill", "dataSource": "tiny", "interval": "2020-01-01/2020-01-03"});
    let r = post_json(a, "/druid/indexer/v1/task", &spec).await;
    let id = r.json()["task"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        get(a, &format!("/druid/indexer/v1/task/{id}/status")).await.json()["status"]["runnerStatusCode"],
        "WAITING"
    );
    assert_eq!(md.all_segments("tiny").unwrap().len(), 2);
    md.release_locks("query-replace").unwrap();
    assert_eq!(wait_done(a, &id).await["status"]["status"], "SUCCESS");
    assert!(md.all_segments("tiny").unwrap().is_empty());
}

async fn wait_done(addr: &str, id: &str) -> Value {
    wait_task_done(addr, id, Duration::from_secs(180)).await
}
