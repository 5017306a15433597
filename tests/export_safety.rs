//! Export safety ("nobody gets out"): hostile LOCAL export paths (`..`, absolute paths outside
//! the base directory, a symlink leading out), S3 prefixes outside the allow list and exports
//! with nothing configured all fail as statements with Druid's error code, never a panic,
//! and nothing appears outside the base directory. A cancelled export leaves no file;
//! concurrent exports never share a file name. S3 export against moto when
//! `MSQ_TEST_S3_ENDPOINT` is set (scripts/ci-services.sh). Also: a SELECT planned before a
//! REPLACE publishes reads the version it planned on; the REPLACE does not disturb it.

mod common;

use common::http::{get, post_json, start_server, wait_task_done};
use common::*;
use futures::TryStreamExt;
use msq_controller::export::ExportConfig;
use msq_controller::report::{LiveReport, ReportState};
use msq_controller::Overlord;
use object_store::{ObjectStore, ObjectStoreExt};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// An engine whose exports go inside `<tmp>/exports`, with the wikipedia sample loaded.
async fn engine_with_exports() -> (TestEngine, PathBuf) {
    let mut t = engine();
    let base = t.dir.path().join("exports");
    t.engine.export = ExportConfig {
        base_dir: Some(base.clone()),
        ..Default::default()
    };
    run_ok(&t.engine, &insert_wikipedia_sql("wikipedia"), json!({})).await;
    (t, base)
}

/// Every file below `dir` (recursively), as paths relative to it.
fn files_below(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                todo.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn export_sql(destination: &str) -> String {
    format!("INSERT INTO EXTERN({destination}) AS CSV SELECT channel, COUNT(*) AS c FROM wikipedia GROUP BY 1")
}

/// The statement fails with `InvalidInput` and a message containing `needle`.
async fn refused(e: &Overlord, sql: &str, needle: &str) {
    let (_, res, _) = e.run_statement(sql, &ctx(json!({}))).await;
    let err = res.expect_err(sql);
    assert_eq!(err.error_code(), "InvalidInput", "{sql}: {err}");
    assert!(err.to_string().contains(needle), "{sql}: [{err}] lacks [{needle}]");
}

const OUTSIDE: &str = "must be within the path configured by runtime property `druid.export.storage.baseDir`";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_local_paths_are_refused_and_nothing_is_written_outside() {
    let (t, base) = engine_with_exports().await;
    let outside = t.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(&base).unwrap();
    std::os::unix::fs::symlink(&outside, base.join("link")).unwrap();
    let b = base.display();
    let hostile = [
        format!("{b}/../outside"),
        format!("{b}/a/../../outside"),
        "../outside".to_string(),
        "a/../../outside".to_string(),
        outside.join("x").display().to_string(),
        "/etc".to_string(),
        format!("{b}x/y"),
        // A symlink inside the base directory that leads out of it, and paths through it.
        format!("{b}/link"),
        format!("{b}/link/deeper/still"),
        "link/sub".to_string(),
    ];
    for p in &hostile {
        refused(&t.engine, &export_sql(&format!("LOCAL(exportPath => '{p}')")), OUTSIDE).await;
    }
    refused(&t.engine, &export_sql("LOCAL(exportPath => '')"), "Invalid exportPath").await;
    assert!(files_below(&outside).is_empty(), "{:?}", files_below(&outside));
    assert_eq!(files_below(&base), vec!["link".to_string()]);

    // A symlink that stays inside the base directory is fine.
    std::fs::create_dir_all(base.join("real")).unwrap();
    std::os::unix::fs::symlink(base.join("real"), base.join("alias")).unwrap();
    let (_, o, _) = run_ok(&t.engine, &export_sql("LOCAL(exportPath => 'alias/q')"), json!({})).await;
    assert_eq!(o.rows_written, channels());
    let written = files_below(&base.join("real/q"));
    assert_eq!(written.len(), 2, "{written:?}");
    assert!(written.iter().any(|f| f == "_symlink_format_manifest/manifest"));
    assert!(files_below(&outside).is_empty());
}

/// Distinct channels of the raw sample.
fn channels() -> u64 {
    let set: std::collections::BTreeSet<String> = wiki_rows()
        .iter()
        .map(|r| r["channel"].as_str().unwrap().to_string())
        .collect();
    set.len() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfigured_exports_are_refused_with_druids_messages() {
    let t = engine();
    run_ok(&t.engine, &insert_wikipedia_sql("wikipedia"), json!({})).await;
    refused(
        &t.engine,
        &export_sql("LOCAL(exportPath => '/tmp/x')"),
        "The runtime property `druid.export.storage.baseDir` must be configured for local export.",
    )
    .await;
    refused(
        &t.engine,
        &export_sql("S3(bucket => 'b', prefix => 'p')"),
        "None of the allowed prefixes matched the input path [s3://b/p]",
    )
    .await;
    // Over HTTP: a 400 with Druid's error body, no task.
    let s = start_server(t.engine.clone(), 2, 1 << 20, None).await;
    let r = post_json(
        &s.addr,
        "/druid/v2/sql/task",
        &json!({"query": export_sql("LOCAL(exportPath => '../../etc')")}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"], "Plan validation failed", "{}", r.body);
    assert!(r.message().contains("druid.export.storage.baseDir"), "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_prefixes_outside_the_allow_list_are_refused() {
    let mut t = engine();
    t.engine.export.allowed_s3_paths = vec!["s3://exports/team-a/".into()];
    run_ok(&t.engine, &insert_wikipedia_sql("wikipedia"), json!({})).await;
    for (bucket, prefix) in [
        ("exports", "team-b/x"),
        ("exports", "team-a/../team-b"),
        ("exports", "team-ab"),
        ("other", "team-a/x"),
        ("exports", ""),
    ] {
        refused(
            &t.engine,
            &export_sql(&format!("S3(bucket => '{bucket}', prefix => '{prefix}')")),
            "None of the allowed prefixes matched",
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_export_leaves_no_files() {
    let (t, base) = engine_with_exports().await;
    let long = long_insert_sql(t.dir.path());
    let select = long
        .replace(
            "INSERT INTO long_insert",
            &format!(
                "INSERT INTO EXTERN(LOCAL(exportPath => '{}/long')) AS CSV",
                base.display()
            ),
        )
        .replace("PARTITIONED BY HOUR CLUSTERED BY channel", "");
    let task = t
        .engine
        .prepare(&select, &ctx(json!({"rowsPerPage": 1000})))
        .await
        .unwrap();
    t.engine.record_start(&task).unwrap();
    let report: LiveReport = Arc::new(Mutex::new(ReportState::new(&task.task_id, "localhost")));
    let (cancel, rx) = tokio::sync::watch::channel(false);
    let e = t.engine.clone();
    let run = tokio::spawn(async move { e.run(&task, report, rx).await });
    // Cancel once the first file is there (the export is far from done by then).
    let dir = base.join("long");
    let mut seen = false;
    for _ in 0..12_000 {
        if files_below(&dir).iter().any(|f| f.ends_with(".csv")) {
            seen = true;
            break;
        }
        assert!(!run.is_finished(), "the export ended before any file appeared");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(seen, "no export file appeared");
    cancel.send(true).unwrap();
    let err = run.await.unwrap().expect_err("cancelled");
    assert_eq!(err.error_code(), "Canceled", "{err}");
    assert!(files_below(&dir).is_empty(), "{:?}", files_below(&dir));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_exports_never_share_a_file() {
    let (t, base) = engine_with_exports().await;
    let sql = format!(
        "SET rowsPerPage = 10; INSERT INTO EXTERN(LOCAL(exportPath => '{}/same')) AS CSV SELECT channel, COUNT(*) AS c FROM wikipedia GROUP BY 1",
        base.display()
    );
    let none = ctx(json!({}));
    let (a, b) = tokio::join!(t.engine.run_statement(&sql, &none), t.engine.run_statement(&sql, &none));
    let ok: Vec<String> = [a, b]
        .into_iter()
        .filter_map(|(id, res, _)| match res {
            Ok(o) => {
                assert_eq!(o.rows_written, channels());
                id
            }
            Err(e) => {
                // The second to look found the first one's files.
                assert!(e.to_string().contains("only allowed to an empty path"), "{e}");
                None
            }
        })
        .collect();
    assert!(!ok.is_empty());
    let files: Vec<String> = files_below(&base.join("same"))
        .into_iter()
        .filter(|f| f.ends_with(".csv"))
        .collect();
    // Each successful export's files carry its own task id; together they hold its rows.
    for id in &ok {
        let mine: Vec<&String> = files
            .iter()
            .filter(|f| f.starts_with(&format!("{id}-worker0-partition")))
            .collect();
        let rows: usize = mine
            .iter()
            .map(|f| {
                std::fs::read_to_string(base.join("same").join(f))
                    .unwrap()
                    .lines()
                    .count()
                    - 1
            })
            .sum();
        assert_eq!(rows as u64, channels(), "{id}: {mine:?}");
    }
    assert_eq!(
        files.len(),
        files.iter().collect::<std::collections::BTreeSet<_>>().len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_select_planned_before_a_replace_reads_the_version_it_planned_on() {
    let (t, _) = engine_with_exports().await;
    let all = wiki_rows().len() as i64;
    let en = wiki_rows().iter().filter(|r| r["channel"] == "#en.wikipedia").count() as i64;
    run_ok(
        &t.engine,
        "INSERT INTO wiki_v SELECT * FROM wikipedia PARTITIONED BY HOUR",
        json!({}),
    )
    .await;
    // Planned (its segments chosen) before the DELETE publishes, run after.
    let before = t
        .engine
        .prepare("SELECT COUNT(*) FROM wiki_v", &ctx(json!({})))
        .await
        .unwrap();
    let (_, o, _) = run_ok(
        &t.engine,
        "DELETE FROM wiki_v WHERE channel = '#en.wikipedia'",
        json!({}),
    )
    .await;
    assert_eq!(o.rows_written as i64, all - en);
    t.engine.record_start(&before).unwrap();
    let report: LiveReport = Arc::new(Mutex::new(ReportState::new(&before.task_id, "localhost")));
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let old = t.engine.run(&before, report, rx).await.unwrap();
    let old_rows = msq_controller::values::rows_json(old.results.as_deref().unwrap(), 10);
    assert_eq!(old_rows, vec![json!([all])]);
    assert_eq!(
        select(&t.engine, "SELECT COUNT(*) FROM wiki_v", json!({})).await,
        vec![vec![json!(all - en)]]
    );
}

/// Exports to S3 (moto): files under the allowed prefix with the manifest, read back equal;
/// a second export to the same prefix is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_export_against_moto() {
    let Ok(endpoint) = std::env::var("MSQ_TEST_S3_ENDPOINT") else {
        println!("skipping S3 export test: MSQ_TEST_S3_ENDPOINT not set (scripts/ci-services.sh starts one)");
        return;
    };
    let (bucket, store) = common::s3::new_bucket(&endpoint, "export").await;
    let settings = common::s3::moto_settings(&endpoint);
    let mut t = engine();
    t.engine.export.allowed_s3_paths = vec![format!("s3://{bucket}/exports/")];
    t.engine.export.s3_options = settings;
    run_ok(&t.engine, &insert_wikipedia_sql("wikipedia"), json!({})).await;
    let sql = format!(
        "SET rowsPerPage = 20; INSERT INTO EXTERN(S3(bucket => '{bucket}', prefix => 'exports/q1')) AS CSV SELECT channel, COUNT(*) AS c FROM wikipedia GROUP BY 1"
    );
    let (id, o, _) = run_ok(&t.engine, &sql, json!({})).await;
    assert_eq!(o.rows_written, channels());
    let mut keys: Vec<String> = store
        .list(None)
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    keys.sort();
    let n = channels().div_ceil(20) as usize;
    let mut want: Vec<String> = (0..n)
        .map(|k| format!("exports/q1/{id}-worker0-partition{k}.csv"))
        .collect();
    want.push("exports/q1/_symlink_format_manifest/manifest".into());
    want.sort();
    assert_eq!(keys, want);
    let manifest = store
        .get(&object_store::path::Path::from(
            "exports/q1/_symlink_format_manifest/manifest",
        ))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let listed: Vec<String> = String::from_utf8(manifest.to_vec())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(listed.len(), n);
    assert!(
        listed
            .iter()
            .all(|l| l.starts_with(&format!("s3://{bucket}/exports/q1/{id}-"))),
        "{listed:?}"
    );
    let (_, res, _) = t.engine.run_statement(&sql, &ctx(json!({}))).await;
    assert!(res.unwrap_err().to_string().contains("only allowed to an empty path"));
}

/// Through Druid's task API: the export runs as a `query_controller` task whose payload names
/// Druid's export destination; the report has no results and no segment report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_through_the_task_api() {
    let (t, base) = engine_with_exports().await;
    let s = start_server(t.engine.clone(), 2, 1 << 20, None).await;
    let sql = format!(
        "INSERT INTO EXTERN(LOCAL(exportPath => '{}/api')) AS CSV SELECT channel, COUNT(*) AS c FROM wikipedia GROUP BY 1",
        base.display()
    );
    let r = post_json(
        &s.addr,
        "/druid/v2/sql/task",
        &json!({"query": sql, "context": {"rowsPerPage": 20}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["taskId"].as_str().unwrap().to_string();
    let st = wait_task_done(&s.addr, &id, std::time::Duration::from_secs(120)).await;
    assert_eq!(st["status"]["status"], "SUCCESS", "{st:#}");
    let payload = get(&s.addr, &format!("/druid/indexer/v1/task/{id}")).await.json();
    assert_eq!(
        payload["payload"]["spec"]["destination"],
        json!({"type": "export", "exportStorageProvider": {"type": "local", "exportPath": format!("{}/api", base.display())}, "resultFormat": "csv"})
    );
    let report = get(&s.addr, &format!("/druid/indexer/v1/task/{id}/reports"))
        .await
        .json();
    let p = &report["multiStageQuery"]["payload"];
    assert_eq!(p["status"]["status"], "SUCCESS");
    assert!(
        p.get("results").is_none() && p["status"].get("segmentReport").is_none(),
        "{p:#}"
    );
    let csv: Vec<String> = files_below(&base.join("api"))
        .into_iter()
        .filter(|f| f.ends_with(".csv"))
        .collect();
    assert_eq!(csv.len() as u64, channels().div_ceil(20));
    assert!(
        csv.iter().all(|f| f.starts_with(&format!("{id}-worker0-partition"))),
        "{csv:?}"
    );
}
