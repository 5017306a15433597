//! Hostile ids and names against a real server on a loopback port: query ids, task ids in
//! URLs and datasource names never reach anything outside the data directory; valid unusual
//! names still work end to end. Also: a task past its temporary storage limit fails with
//! `NotEnoughTemporaryStorageFault` and leaves nothing under `tmp`, and the start-up sweep
//! removes what a killed server left there.

mod common;

use common::http::{start_server, wait_task_done, Resp, Server};
use common::*;
use msq_controller::Overlord;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

async fn start(data: &Path, max_temp_storage: Option<u64>) -> Server {
    let mut engine = Overlord::open_local(data).unwrap();
    if let Some(limit) = max_temp_storage {
        engine.max_temp_storage_bytes = limit;
    }
    start_server(engine, 4, 1 << 20, None).await
}

/// A request with a JSON body (the path goes on the wire exactly as given).
async fn request(addr: &str, method: &str, path: &str, body: Option<&str>) -> Resp {
    common::http::request(addr, method, path, &[("Content-Type", "application/json")], body).await
}

async fn submit(addr: &str, sql: &str, context: Value) -> Resp {
    let body = json!({"query": sql, "context": context}).to_string();
    request(addr, "POST", "/druid/v2/sql/task", Some(&body)).await
}

/// Percent-encodes everything but unreserved characters (for ids in URL paths).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every path under `root` except `skip`, with its size and modification time (not
/// following symlinks).
fn snapshot(root: &Path, skip: &Path) -> BTreeMap<PathBuf, (u64, SystemTime, bool)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p == skip {
                continue;
            }
            let m = std::fs::symlink_metadata(&p).unwrap();
            out.insert(p.clone(), (m.len(), m.modified().unwrap(), m.file_type().is_symlink()));
            if m.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

/// A victim tree beside the data directory, named as the attacks aim.
fn plant_victims(root: &Path) {
    for d in ["victim", "victim_q", "x", "victim/nested"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
        std::fs::write(root.join(d).join("precious.txt"), format!("do not delete {d}")).unwrap();
    }
}

fn inline_insert(target: &str) -> String {
    format!(
        r#"INSERT INTO {target}
SELECT TIME_PARSE(t) AS __time, v
FROM TABLE(EXTERN('{{"type":"inline","data":"{{\"t\":\"2024-01-01T00:00:00Z\",\"v\":\"a\"}}\n{{\"t\":\"2024-01-02T00:00:00Z\",\"v\":\"b\"}}"}}', '{{"type":"json"}}', '[{{"name":"t","type":"string"}},{{"name":"v","type":"string"}}]'))
PARTITIONED BY DAY"#
    )
}

fn inline_replace(target: &str) -> String {
    inline_insert(target)
        .replacen("INSERT INTO ", "REPLACE INTO ", 1)
        .replacen("\nSELECT", " OVERWRITE ALL\nSELECT", 1)
}

/// A SQL identifier, double-quoted.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_ids_and_names_never_leave_the_data_dir() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    plant_victims(root.path());
    let before = snapshot(root.path(), &data);
    let s = start(&data, None).await;
    let a = &s.addr;

    // sqlQueryId: Druid's id rules, 400 and no task.
    let long = "q".repeat(5000);
    let bad_ids: Vec<(&str, String)> = vec![
        ("../x", "Value [../x] cannot start with '.'.".into()),
        (
            "x/../../../victim_q",
            "Value [x/../../../victim_q] cannot contain '/'.".into(),
        ),
        ("..", "Value [..] cannot start with '.'.".into()),
        (".hidden", "Value [.hidden] cannot start with '.'.".into()),
        (
            "a\0b",
            "Value [a\0b] contains illegal UTF8 character [#0] at position [1]".into(),
        ),
        (
            "tab\there",
            "Value [tab\there] contains illegal whitespace characters.  Only space is allowed.".into(),
        ),
        (
            "line\nbreak",
            "Value [line\nbreak] contains illegal whitespace characters.  Only space is allowed.".into(),
        ),
        (
            "smile😀",
            "Value [smile😀] contains illegal UTF8 character [#55357] at position [5]".into(),
        ),
        (
            long.as_str(),
            format!(
                "Value [{}...] is [5000] bytes long; the limit is [200] bytes.",
                "q".repeat(64)
            ),
        ),
        ("", "must not be null".into()),
    ];
    for (id, msg) in &bad_ids {
        let r = submit(a, "SELECT 1 AS one", json!({"sqlQueryId": id})).await;
        assert_eq!(r.status, 400, "{id:?}: {}", r.body);
        assert_eq!(
            r.message(),
            format!("Invalid value for field [sqlQueryId]: {msg}"),
            "{id:?}"
        );
    }
    let listed = request(a, "GET", "/druid/indexer/v1/tasks", None).await.json();
    assert_eq!(listed, json!([]), "no task was created");

    // Task ids in URLs: percent-encoded slashes and dots, NUL, raw dot segments. Nothing
    // matches a task, nothing becomes a path.
    for path in [
        "/druid/indexer/v1/task/..%2F..%2Fvictim/status",
        "/druid/indexer/v1/task/%2e%2e/status",
        "/druid/indexer/v1/task/%2E%2E%2F%2E%2E%2Fvictim_q/reports",
        "/druid/indexer/v1/task/query-x%2F..%2F..%2F..%2Fvictim_q/log",
        "/druid/indexer/v1/task/%00/segments",
        "/druid/indexer/v1/task/query-a%0Ab",
    ] {
        let r = request(a, "GET", path, None).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert!(
            r.message().starts_with("Cannot find any task with id: ["),
            "{path}: {}",
            r.body
        );
    }
    for path in [
        "/druid/indexer/v1/task/..%2F..%2Fvictim/shutdown",
        "/druid/indexer/v1/task/%2e%2e/shutdown",
        "/druid/indexer/v1/task/../shutdown",
    ] {
        assert_eq!(request(a, "POST", path, None).await.status, 404, "{path}");
    }
    // Raw dot segments are not normalised into another route either.
    assert_eq!(
        request(a, "GET", "/druid/indexer/v1/task/../status", None).await.status,
        404
    );

    // Datasource names in routes: 400 with Druid's messages.
    for (ds, msg) in [
        ("..%2F..%2Fvictim", "Value [../../victim] cannot start with '.'."),
        ("%2e%2e", "Value [..] cannot start with '.'."),
        ("a%2Fb", "Value [a/b] cannot contain '/'."),
        (
            "a%00b",
            "Value [a\0b] contains illegal UTF8 character [#0] at position [1]",
        ),
    ] {
        let r = request(
            a,
            "POST",
            &format!("/druid/indexer/v1/datasources/{ds}/shutdownAllTasks"),
            None,
        )
        .await;
        assert_eq!(r.status, 400, "{ds}: {}", r.body);
        assert_eq!(r.message(), format!("Invalid value for field [dataSource]: {msg}"));
        let r = request(a, "DELETE", &format!("/druid/indexer/v1/pendingSegments/{ds}"), None).await;
        assert_eq!(r.status, 400, "{ds}: {}", r.body);
        assert_eq!(r.message(), format!("Invalid value for field [dataSource]: {msg}"));
    }
    // Valid names that simply have nothing: Druid's ordinary answers.
    assert_eq!(
        request(
            a,
            "POST",
            "/druid/indexer/v1/datasources/nothing-here/shutdownAllTasks",
            None
        )
        .await
        .status,
        404
    );
    assert_eq!(
        request(a, "DELETE", "/druid/indexer/v1/pendingSegments/nothing-here", None)
            .await
            .json(),
        json!({"numDeleted": 0})
    );

    // INSERT/REPLACE targets.
    let long_ds = "d".repeat(300);
    let long_msg = format!(
        "Value [{}...] is [300] bytes long; the limit is [200] bytes.",
        "d".repeat(64)
    );
    let bad_targets: Vec<(&str, String)> = vec![
        (".", "Value [.] cannot start with '.'.".into()),
        ("..", "Value [..] cannot start with '.'.".into()),
        ("../victim", "Value [../victim] cannot start with '.'.".into()),
        ("a/b", "Value [a/b] cannot contain '/'.".into()),
        ("sys", "Value [sys] is reserved (the name of a SQL schema).".into()),
        (
            "INFORMATION_SCHEMA",
            "Value [INFORMATION_SCHEMA] is reserved (the name of a SQL schema).".into(),
        ),
        (
            "__time",
            "Value [__time] cannot start with '__' (reserved for system names).".into(),
        ),
        (
            "__query_select",
            "Value [__query_select] cannot start with '__' (reserved for system names).".into(),
        ),
        (
            "a\0b",
            "Value [a\0b] contains illegal UTF8 character [#0] at position [1]".into(),
        ),
        (
            "new\nline",
            "Value [new\nline] contains illegal whitespace characters.  Only space is allowed.".into(),
        ),
        (long_ds.as_str(), long_msg),
    ];
    for (ds, msg) in &bad_targets {
        for sql in [inline_insert(&quoted(ds)), inline_replace(&quoted(ds))] {
            let r = submit(a, &sql, json!({})).await;
            assert_eq!(r.status, 400, "{ds:?}: {}", r.body);
            assert_eq!(r.message(), format!("Invalid value for field [table]: {msg}"), "{ds:?}");
        }
    }
    // A schema-qualified target outside the druid schema is not a datasource.
    let r = submit(a, &inline_insert("sys.segments"), json!({})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    // FROM names that cannot be datasources are simply not found (no metadata lookup); a
    // system table is refused by the task engine, as Druid refuses it.
    for from in ["\"../victim\"", "\"a/b\""] {
        let r = submit(a, &format!("SELECT * FROM {from}"), json!({})).await;
        assert_eq!(r.status, 400, "{from}: {}", r.body);
        assert!(r.message().starts_with("Object '"), "{from}: {}", r.body);
    }
    let r = submit(a, "SELECT * FROM sys.segments", json!({})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.message(),
        "Cannot query table(s) [sys.segments] with SQL engine [msq-task]"
    );
    assert_eq!(
        request(a, "GET", "/druid/indexer/v1/tasks", None).await.json(),
        json!([]),
        "no task was created"
    );

    // Valid unusual names work end to end, inside the data directory.
    let names = ["wiki-2024_v1", "wikipédia-日本", "con", "with space", "%2e%2e"];
    for (n, ds) in names.iter().enumerate() {
        let qid = format!("unusual {n} ü-%2e%2e");
        let r = submit(a, &inline_insert(&quoted(ds)), json!({"sqlQueryId": qid})).await;
        assert_eq!(r.status, 200, "{ds}: {}", r.body);
        let id = r.json()["taskId"].as_str().unwrap().to_string();
        assert_eq!(id, format!("query-{qid}"));
        let st = wait_done(a, &id).await;
        assert_eq!(st["status"]["status"], "SUCCESS", "{ds}: {st}");
        let r = submit(a, &format!("SELECT COUNT(*) AS n FROM {}", quoted(ds)), json!({})).await;
        assert_eq!(r.status, 200, "{ds}: {}", r.body);
        let id = r.json()["taskId"].as_str().unwrap().to_string();
        assert_eq!(wait_done(a, &id).await["status"]["status"], "SUCCESS");
        let report = request(
            a,
            "GET",
            &format!("/druid/indexer/v1/task/{}/reports", encode(&id)),
            None,
        )
        .await
        .json();
        assert_eq!(
            report["multiStageQuery"]["payload"]["results"]["results"],
            json!([[2]]),
            "{ds}"
        );
        if ds.is_ascii() && !ds.contains('%') {
            // (Local deep storage percent-encodes `%` and non-ASCII characters in file names.)
            assert!(
                data.join("segments").join(ds).is_dir(),
                "{ds} lives in its own directory"
            );
        }
    }
    // Every task is done: nothing is left in tmp.
    let leftovers: Vec<_> = std::fs::read_dir(data.join("tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    s.handle.abort();
    let after = snapshot(root.path(), &data);
    assert_eq!(before, after, "nothing outside the data directory changed");
}

/// A query with a sorted shuffle over the wikipedia sample (39,244 rows) that spills.
fn spilling_select() -> String {
    format!(
        r#"SELECT page, "user", comment FROM TABLE(EXTERN('{{"type":"local","files":["{}"]}}', '{{"type":"json"}}', '[{{"name":"page","type":"string"}},{{"name":"user","type":"string"}},{{"name":"comment","type":"string"}}]')) ORDER BY page, "user""#,
        wiki_path()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn temporary_storage_limit_fails_the_task_and_leaves_nothing() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let limit = 256 << 10;
    let s = start(&data, Some(limit)).await;
    let a = &s.addr;
    let r = submit(
        a,
        &spilling_select(),
        json!({"workerMemoryBytes": 65536, "maxNumTasks": 3, "sqlQueryId": "spill-limit"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let st = wait_done(a, "query-spill-limit").await;
    assert_eq!(st["status"]["status"], "FAILED", "{st}");
    let report = request(a, "GET", "/druid/indexer/v1/task/query-spill-limit/reports", None)
        .await
        .json();
    let error = &report["multiStageQuery"]["payload"]["status"]["errorReport"]["error"];
    assert_eq!(error["errorCode"], "NotEnoughTemporaryStorageFault", "{report:#}");
    assert_eq!(error["configuredTemporaryStorage"], json!(limit));
    assert!(error["suggestedMinimumStorage"].as_u64().unwrap() > limit);
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("Not enough temporary storage space for intermediate files. Requires at least "),
        "{error}"
    );
    assert!(error["errorMessage"]
        .as_str()
        .unwrap()
        .contains("(configured = 262,144 bytes)"));
    let leftovers: Vec<_> = std::fs::read_dir(data.join("tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The same query within a generous limit succeeds, keeps only what the report shows
    // (3,000 rows, truncated, as Druid), and also cleans up.
    s.handle.abort();
    let s = start(&data, Some(1 << 30)).await;
    let r = submit(
        &s.addr,
        &spilling_select(),
        json!({"workerMemoryBytes": 65536, "maxNumTasks": 3, "sqlQueryId": "spill-ok-2"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let st = wait_done(&s.addr, "query-spill-ok-2").await;
    assert_eq!(st["status"]["status"], "SUCCESS", "{st}");
    let report = request(&s.addr, "GET", "/druid/indexer/v1/task/query-spill-ok-2/reports", None)
        .await
        .json();
    let results = &report["multiStageQuery"]["payload"]["results"];
    assert_eq!(results["results"].as_array().unwrap().len(), 3000);
    assert_eq!(results["resultsTruncated"], true);
    let leftovers: Vec<_> = std::fs::read_dir(data.join("tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    s.handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_sweep_removes_leftovers_only() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    plant_victims(root.path());
    let tmp = data.join("tmp");
    // What a killed server leaves: a marked task directory of a process that is gone, and an
    // unmarked task directory.
    std::fs::create_dir_all(tmp.join("query-killed/results")).unwrap();
    std::fs::write(tmp.join("query-killed").join(".msq-scratch"), "999999999").unwrap();
    std::fs::write(tmp.join("query-killed/query-killed-s0-w0-1.arrow"), [7u8; 4096]).unwrap();
    std::fs::create_dir_all(tmp.join("query-straggler")).unwrap();
    std::fs::write(tmp.join("query-straggler/x.arrow"), [7u8; 10]).unwrap();
    // What is not the sweep's: an unmarked directory of another name, a file, a symlink out.
    std::fs::create_dir_all(tmp.join("keep-me")).unwrap();
    std::fs::write(tmp.join("notes.txt"), "x").unwrap();
    std::os::unix::fs::symlink(root.path().join("victim"), tmp.join("query-link")).unwrap();
    let before = snapshot(root.path(), &data);

    let s = start(&data, None).await;
    assert!(!tmp.join("query-killed").exists());
    assert!(!tmp.join("query-straggler").exists());
    assert!(tmp.join("keep-me").is_dir());
    assert!(tmp.join("notes.txt").is_file());
    assert!(std::fs::symlink_metadata(tmp.join("query-link"))
        .unwrap()
        .file_type()
        .is_symlink());
    s.handle.abort();
    assert_eq!(
        before,
        snapshot(root.path(), &data),
        "the symlink's target is untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn worker_processes_apply_the_limit_and_clean_up() {
    let mut t = process_engine().await;
    let context = json!({"workerMemoryBytes": 65536, "maxNumTasks": 3});

    let (_, o, _) = run_ok(&t.engine, &spilling_select(), context.clone()).await;
    assert_eq!(o.results.unwrap().iter().map(|b| b.num_rows()).sum::<usize>(), 39_244);

    t.engine.max_temp_storage_bytes = 256 << 10;
    let (_, res, report) = t.engine.run_statement(&spilling_select(), &ctx(context)).await;
    let err = res.expect_err("past the limit");
    assert_eq!(err.error_code(), "NotEnoughTemporaryStorageFault", "{err}\n{report:#}");

    // The task's directory and every worker process's directory are gone.
    let tmp = t.dir.path().join("tmp");
    let mut left: Vec<PathBuf> = Vec::new();
    for e in std::fs::read_dir(&tmp).unwrap().flatten() {
        if e.file_name() == "workers" {
            left.extend(std::fs::read_dir(e.path()).unwrap().flatten().map(|e| e.path()));
        } else {
            left.push(e.path());
        }
    }
    assert!(left.is_empty(), "{left:?}");
}

async fn wait_done(addr: &str, id: &str) -> Value {
    wait_task_done(addr, &encode(id), Duration::from_secs(120)).await
}
