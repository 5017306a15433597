//! A large SELECT streamed to a result sink (interactive SQL's path): an unordered answer
//! goes to the sink while the final stage produces it, nothing stored; a sorted one spills
//! beyond a small output buffer and is read back from the runs. The answer equals the rows
//! computed independently from the raw file, in storage order and under ORDER BY, with one
//! and two workers.

mod common;

use common::*;
use msq_controller::interactive;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// Copies of the wikipedia sample ingested: 235,464 rows.
const COPIES: usize = 6;

/// The INSERT of `COPIES` copies of the sample (the file listed that many times).
fn insert_copies_sql(ds: &str) -> String {
    let files = vec![format!("\"{}\"", wiki_path()); COPIES].join(",");
    format!(
        r#"INSERT INTO {ds}
SELECT TIME_PARSE("time") AS __time, channel, page, "user", comment, added, deleted
FROM TABLE(EXTERN('{{"type":"local","files":[{files}]}}', '{{"type":"json"}}',
  '[{{"name":"time","type":"string"}},{{"name":"channel","type":"string"}},{{"name":"page","type":"string"}},{{"name":"user","type":"string"}},{{"name":"comment","type":"string"}},{{"name":"added","type":"long"}},{{"name":"deleted","type":"long"}}]'))
PARTITIONED BY DAY
CLUSTERED BY channel"#
    )
}

/// One row as the SELECTs below return it: __time, channel, page, user, comment, added, deleted.
type Row = (String, String, String, String, String, i64, i64);

/// Every row of the raw file, `COPIES` times, parsed without the engine.
fn expected_rows() -> Vec<Row> {
    let s = |r: &serde_json::Map<String, Value>, k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let one: Vec<Row> = wiki_rows()
        .iter()
        .map(|r| {
            (
                s(r, "time"),
                s(r, "channel"),
                s(r, "page"),
                s(r, "user"),
                s(r, "comment"),
                r["added"].as_i64().unwrap(),
                r["deleted"].as_i64().unwrap(),
            )
        })
        .collect();
    (0..COPIES).flat_map(|_| one.clone()).collect()
}

fn row(v: &Value) -> Row {
    let s = |i: usize| v[i].as_str().unwrap_or("").to_string();
    (
        s(0),
        s(1),
        s(2),
        s(3),
        s(4),
        v[5].as_i64().unwrap(),
        v[6].as_i64().unwrap(),
    )
}

/// Spilled run files (`*.arrow`) under `dir`.
fn arrow_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => arrow_files(&e.path()),
            _ => usize::from(e.path().extension().is_some_and(|x| x == "arrow")),
        })
        .sum()
}

/// Runs `sql` as an interactive query with `context`; returns its rows in the order they
/// came and the spilled run files present when the first batch arrived (a sorted final
/// stage has finished by then; an unordered one sends its rows while it runs).
async fn stream(e: &TestEngine, sql: &str, context: Value) -> (Vec<Row>, usize) {
    let task = e.engine.prepare(sql, &ctx(context)).await.unwrap();
    let (_cancel, rx) = tokio::sync::watch::channel(false);
    let mut run = interactive::start(&e.engine, task, rx);
    let mut rows = Vec::new();
    let mut spilled = None;
    let mut batches = 0;
    while let Some(b) = run.rows.recv().await {
        spilled.get_or_insert_with(|| arrow_files(&e.dir.path().join("tmp")));
        batches += 1;
        let schema = b.schema();
        assert_eq!(schema.field(0).name(), "__time");
        rows.extend(msq_controller::values::rows_json(&[b], usize::MAX).iter().map(row));
    }
    run.outcome().await.unwrap();
    assert!(batches > 10, "the answer came in {batches} batches");
    (rows, spilled.unwrap_or(0))
}

const COLUMNS: &str = r#"SELECT __time, channel, page, "user", comment, added, deleted FROM wiki"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_answer_spills_and_streams_every_row() {
    let e = engine();
    run_ok(&e.engine, &insert_copies_sql("wiki"), json!({"maxNumTasks": 2})).await;
    let mut expected = expected_rows();
    assert_eq!(expected.len(), 235_464);
    expected.sort();

    // Storage order: every row once. An unordered final stage on in-process workers sends
    // its rows to the answer as it produces them (kernel::streams_live): nothing is stored,
    // whatever the budget or the number of workers.
    for context in [
        json!({"maxNumTasks": 2}),
        json!({"maxNumTasks": 3}),
        json!({"maxNumTasks": 3, "workerMemoryBytes": 4 << 20}),
    ] {
        let (mut rows, spilled) = stream(&e, COLUMNS, context.clone()).await;
        assert_eq!(spilled, 0, "{context}: the rows went live");
        rows.sort();
        assert!(rows == expected, "{context}: the streamed rows differ from the file's");
    }

    // ORDER BY page, user (ties in any order): the keys in order, and the same rows.
    let mut by_key: BTreeMap<(String, String), Vec<Row>> = BTreeMap::new();
    for r in &expected {
        by_key.entry((r.2.clone(), r.3.clone())).or_default().push(r.clone());
    }
    let keys: Vec<(String, String)> = by_key
        .iter()
        .flat_map(|(k, v)| std::iter::repeat_n(k.clone(), v.len()))
        .collect();
    // One worker on one core sorts in its fragment (one partition, in order) and sends its
    // rows live; on more cores it scans on several threads (planner::scan_partitions), as two
    // workers do. Several scan partitions range-partition a sorted final stage, which needs
    // all of its input first: with the default budget (256 MiB) it still buffers only 16 MiB
    // of the ~40 MB answer (kernel::output_buffer_bytes) and spills the rest; with a 4 MiB
    // budget, more runs.
    let one_worker_scans_in_parallel = msq_sql::planner::scan_partitions(1) > 1;
    for (context, spills) in [
        (json!({"maxNumTasks": 2}), one_worker_scans_in_parallel),
        (json!({"maxNumTasks": 3}), true),
        (json!({"maxNumTasks": 3, "workerMemoryBytes": 4 << 20}), true),
    ] {
        let sql = format!(r#"{COLUMNS} ORDER BY page, "user""#);
        let (rows, spilled) = stream(&e, &sql, context.clone()).await;
        assert_eq!(spilled >= 1, spills, "{context}: {spilled} spilled runs");
        let got: Vec<(String, String)> = rows.iter().map(|r| (r.2.clone(), r.3.clone())).collect();
        assert!(got == keys, "{context}: rows out of order");
        let mut rows = rows;
        rows.sort();
        assert!(rows == expected, "{context}: the ordered rows differ from the file's");
    }
}
