//! Concurrent ingestion over HTTP loses nothing: 20 INSERTs into one DAY chunk and 5
//! REPLACEs of overlapping intervals (one of them over the INSERTs' day), all submitted at
//! once to a real server, on SQLite and on PostgreSQL metadata. Afterwards the datasource
//! holds exactly what a serial run in publish order would leave (every successful task's
//! rows once, or overwritten by a later REPLACE), no task left files, pending segments or
//! locks behind, and SELECT works.

mod common;

use msq_controller::tasks::TaskManager;
use msq_controller::Overlord;
use msq_engine::granularity::{parse_instant, Interval};
use msq_engine::metadata::MetadataStore;
use msq_metadata::{PostgresMetadataStore, SqliteMetadataStore};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const DS: &str = "concurrent_wiki";
const INSERTS: usize = 20;
const REPLACES: usize = 5;
const DAY_MS: i64 = 86_400_000;

/// Day `n` of January 2024 at midnight UTC.
fn day(n: i64) -> i64 {
    parse_instant("2024-01-01").unwrap() + (n - 1) * DAY_MS
}

/// The OVERWRITE interval of REPLACE `k` (days, end exclusive): they overlap one another,
/// and the last one covers the INSERTs' day too.
fn replace_days(k: usize) -> (i64, i64) {
    [(2, 4), (3, 5), (2, 3), (3, 4), (1, 5)][k]
}

/// A JSON line per row: `rows` rows per day in `[from, to)`, tagged.
fn inline_rows(tag: &str, from: i64, to: i64, rows: usize) -> String {
    let mut out = Vec::new();
    for d in from..to {
        for r in 0..rows {
            out.push(json!({"ts": day(d) + (r as i64) * 60_000, "tag": tag, "n": r}).to_string());
        }
    }
    out.join("\n")
}

fn extern_of(data: &str) -> String {
    let source = json!({"type": "inline", "data": data}).to_string().replace('\'', "''");
    format!(
        "TABLE(EXTERN('{source}', '{{\"type\":\"json\"}}', '[{{\"name\":\"ts\",\"type\":\"long\"}},{{\"name\":\"tag\",\"type\":\"string\"}},{{\"name\":\"n\",\"type\":\"long\"}}]'))"
    )
}

fn insert_sql(k: usize) -> String {
    format!(
        "INSERT INTO {DS} SELECT MILLIS_TO_TIMESTAMP(ts) AS __time, tag, n FROM {} PARTITIONED BY DAY",
        extern_of(&inline_rows(&format!("i{k}"), 1, 2, 3))
    )
}

fn replace_sql(k: usize) -> String {
    let (a, b) = replace_days(k);
    let iso = |t: i64| msq_engine::granularity::format_millis(t);
    format!(
        "REPLACE INTO {DS} OVERWRITE WHERE __time >= TIMESTAMP '{}' AND __time < TIMESTAMP '{}' \
         SELECT MILLIS_TO_TIMESTAMP(ts) AS __time, tag, n FROM {} PARTITIONED BY DAY",
        iso(day(a)).replace('T', " ").trim_end_matches('Z'),
        iso(day(b)).replace('T', " ").trim_end_matches('Z'),
        extern_of(&inline_rows(&format!("r{k}"), a, b, 2))
    )
}

struct Server {
    base: String,
    engine: Overlord,
}

async fn start(dir: &Path, metadata: Arc<dyn MetadataStore>) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let deep = object_store::local::LocalFileSystem::new_with_prefix({
        std::fs::create_dir_all(dir.join("segments")).unwrap();
        dir.join("segments")
    })
    .unwrap();
    let mut engine = Overlord::open(dir, metadata, Arc::new(deep)).unwrap();
    engine.host = addr.clone();
    let tasks = TaskManager::new(engine.clone(), 4).unwrap();
    tokio::spawn(msq_controller::druid_api::serve(tasks, listener, 10 << 20, None));
    Server {
        base: format!("http://{addr}"),
        engine,
    }
}

/// Submits every statement at once; returns (tag, query id, final status JSON) per task.
async fn run_all(s: &Server, run: &str) -> Vec<(String, String, Value)> {
    let http = reqwest::Client::new();
    let mut statements: Vec<(String, String)> = (0..INSERTS).map(|k| (format!("i{k}"), insert_sql(k))).collect();
    statements.extend((0..REPLACES).map(|k| (format!("r{k}"), replace_sql(k))));
    let submits = statements.iter().map(|(tag, sql)| {
        let http = http.clone();
        let query_id = format!("{run}-{tag}");
        let body = json!({"query": sql, "context": {"sqlQueryId": query_id, "maxNumTasks": 2}});
        let url = format!("{}/druid/v2/sql/task", s.base);
        async move {
            let r = http
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
            assert_eq!(status, 200, "{v}");
            (tag.clone(), query_id, v["taskId"].as_str().unwrap().to_string())
        }
    });
    let submitted = futures::future::join_all(submits).await;
    let mut out = Vec::new();
    for (tag, query_id, task_id) in submitted {
        let url = format!("{}/druid/indexer/v1/task/{task_id}/status", s.base);
        let deadline = std::time::Instant::now() + Duration::from_secs(240);
        loop {
            let bytes = http.get(&url).send().await.unwrap().bytes().await.unwrap();
            let v: Value = serde_json::from_slice(&bytes).unwrap();
            let state = v["status"]["status"].as_str().unwrap_or("").to_string();
            if state == "SUCCESS" || state == "FAILED" {
                out.push((tag.clone(), query_id.clone(), v));
                break;
            }
            assert!(std::time::Instant::now() < deadline, "task {task_id} still {state}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    out
}

/// Rows per (day, tag) a serial run in publish order leaves: REPLACEs in version order
/// overwrite their days; an INSERT's rows stay unless a REPLACE of its day published later.
/// An INSERT publishes after a REPLACE exactly when its version is not below the REPLACE's
/// (it appended to that REPLACE's data, or started a newer version).
fn expected(versions: &BTreeMap<String, String>) -> BTreeMap<(i64, String), i64> {
    let mut events: Vec<(&str, bool, &str)> = versions
        .iter()
        .map(|(tag, v)| (v.as_str(), tag.starts_with('i'), tag.as_str()))
        .collect();
    // Equal versions: the REPLACE (false) first, then INSERTs appending to it.
    events.sort();
    let mut state: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for (_, is_insert, tag) in events {
        if is_insert {
            *state.entry((day(1), tag.to_string())).or_default() += 3;
        } else {
            let k: usize = tag[1..].parse().unwrap();
            let (a, b) = replace_days(k);
            state.retain(|(d, _), _| !(day(a)..day(b)).contains(d));
            for d in a..b {
                state.insert((day(d), tag.to_string()), 2);
            }
        }
    }
    state
}

async fn check(s: &Server, run: &str) {
    let results = run_all(s, run).await;
    let md = s.engine.metadata.clone();
    let segments = md.all_segments(DS).unwrap();
    // The version each successful task published, from its segments' paths (they name the query).
    let mut versions: BTreeMap<String, String> = BTreeMap::new();
    let mut failed = Vec::new();
    for (tag, query_id, status) in &results {
        let state = status["status"]["status"].as_str().unwrap();
        let mine: BTreeSet<&str> = segments
            .iter()
            .filter(|seg| seg.path.ends_with(&format!("_{query_id}.parquet")))
            .map(|seg| seg.id.version.as_str())
            .collect();
        if state == "SUCCESS" {
            assert_eq!(mine.len(), 1, "{tag}: one version per task, got {mine:?}");
            versions.insert(tag.clone(), mine.into_iter().next().unwrap().to_string());
        } else {
            assert!(mine.is_empty(), "failed task {tag} left segments {mine:?}");
            failed.push((tag.clone(), status["status"]["errorMsg"].clone()));
        }
    }
    // Nothing here conflicts for good: every task waits for its locks and succeeds.
    assert!(failed.is_empty(), "failed tasks: {failed:?}");

    // What SELECT sees equals the serial expectation, row counts per day and tag.
    let (_, outcome, _) = common::run_ok(
        &s.engine,
        &format!("SELECT TIMESTAMP_TO_MILLIS(TIME_FLOOR(__time, 'P1D')) AS d, tag, COUNT(*) AS c FROM {DS} GROUP BY 1, 2 ORDER BY 1, 2"),
        json!({}),
    )
    .await;
    let rows = msq_controller::values::rows_json(outcome.results.as_ref().unwrap(), usize::MAX);
    let got: BTreeMap<(i64, String), i64> = rows
        .iter()
        .map(|r| {
            (
                (r[0].as_i64().unwrap(), r[1].as_str().unwrap().to_string()),
                r[2].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected(&versions));
    let total: i64 = got.values().sum();
    assert!(total > 0);

    // Nothing left behind: no pending ids, no locks, and every file in deep storage is a
    // published segment's.
    assert!(md.pending_segments(DS).unwrap().is_empty());
    assert!(md.task_locks(DS).unwrap().is_empty());
    let published: BTreeSet<String> = segments.iter().map(|seg| seg.path.clone()).collect();
    let root = s.engine.data_dir.join("segments");
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p.strip_prefix(&root).unwrap().to_string_lossy().to_string());
            }
        }
    }
    for f in &files {
        assert!(published.contains(f), "stray file {f}");
    }
    // Each time chunk's visible data is of one version (nothing half published).
    let used = md.used_segments(DS, None).unwrap();
    let days: BTreeSet<Interval> = used.iter().map(|seg| seg.id.interval).collect();
    assert!(days.len() <= 4, "{days:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_ingestion_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let md = Arc::new(SqliteMetadataStore::open(&dir.path().join("metadata.db")).unwrap());
    let s = start(dir.path(), md).await;
    check(&s, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_ingestion_on_postgres() {
    let Some(pg) = common::pg::PgSchema::create() else {
        return; // skipped: no PostgreSQL
    };
    let url = pg.store_url();
    let md = tokio::task::spawn_blocking(move || PostgresMetadataStore::connect(&url).unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), Arc::new(md)).await;
    check(&s, "pg").await;
}

/// A server that was killed mid-ingestion leaves a RUNNING task with pending segments, a
/// lock and a half-written segment file; the next server start fails the task, drops its
/// pending ids and lock, and deletes only its unpublished files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_cleans_up_after_a_killed_ingestion() {
    use msq_engine::metadata::{AllocateOutcome, AllocateRequest, TaskRecord};
    let dir = tempfile::tempdir().unwrap();
    let engine = Overlord::open_local(dir.path()).unwrap();
    let md = engine.metadata.clone();
    let running = |id: &str| TaskRecord {
        id: id.into(),
        group_id: id.into(),
        task_type: "query_controller".into(),
        data_source: DS.into(),
        created_time: "2024-01-01T00:00:00.000Z".into(),
        queue_insertion_time: "2024-01-01T00:00:00.000Z".into(),
        status: "RUNNING".into(),
        runner_status: "RUNNING".into(),
        duration_ms: -1,
        error_msg: None,
        location: json!({"host": "localhost", "port": -1, "tlsPort": -1}),
        payload: json!({}),
        report: None,
        opaque_id: None,
    };
    md.insert_task(&running("query-dead")).unwrap();
    let chunk = Interval::new(day(1), day(2));
    let req = AllocateRequest {
        data_source: DS.into(),
        task_id: "query-dead".into(),
        chunks: vec![(chunk, 2)],
        version: "2024-06-01T00:00:00.000Z".into(),
        append: true,
        lock_expires_ms: i64::MAX / 2,
    };
    let AllocateOutcome::Allocated(ids) = md.allocate_segments(&req).unwrap() else {
        panic!("no conflict expected")
    };
    let root = dir.path().join("segments");
    let dead_file = root.join(ids[0].path("dead"));
    std::fs::create_dir_all(dead_file.parent().unwrap()).unwrap();
    std::fs::write(&dead_file, b"half a segment").unwrap();
    // A file of the same segment id written by another (live) query stays.
    let other_file = root.join(ids[0].path("alive"));
    std::fs::write(&other_file, b"someone else's").unwrap();
    assert_eq!(md.task_locks(DS).unwrap().len(), 1);

    let _tasks = TaskManager::new(engine.clone(), 2).unwrap();
    let t = md.get_task("query-dead").unwrap().unwrap();
    assert_eq!(t.status, "FAILED");
    assert!(md.pending_segments(DS).unwrap().is_empty());
    assert!(md.task_locks(DS).unwrap().is_empty());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while dead_file.exists() {
        assert!(std::time::Instant::now() < deadline, "abandoned file not deleted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(other_file.exists());
}
