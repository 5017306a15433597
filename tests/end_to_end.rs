//! End-to-end tests on the real wikipedia sample: ingestion, queries,
//! REPLACE semantics, reports, errors and spilling.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_then_count_and_chunks() {
    let t = engine();
    let (_, outcome, report) = run_ok(&t.engine, &insert_wikipedia_sql("wikipedia"), json!({})).await;
    assert_eq!(outcome.rows_written, 39_244);
    let chunks: BTreeSet<_> = outcome.segments.iter().map(|s| s.id.interval).collect();
    assert_eq!(chunks.len(), 24, "one chunk per hour");
    let used = t.engine.metadata.used_segments("wikipedia", None).unwrap();
    assert_eq!(used.iter().map(|s| s.num_rows).sum::<u64>(), 39_244);
    assert_eq!(report["multiStageQuery"]["payload"]["status"]["status"], "SUCCESS");

    let rows = select(&t.engine, "SELECT COUNT(*) AS cnt FROM wikipedia", json!({})).await;
    assert_eq!(rows, vec![vec![json!(39_244)]]);
}

fn expected_top_channels() -> Vec<(String, i64, i64)> {
    let mut agg: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for r in wiki_rows() {
        let e = agg.entry(r["channel"].as_str().unwrap().to_string()).or_default();
        e.0 += 1;
        e.1 += r["added"].as_i64().unwrap();
    }
    let mut v: Vec<(String, i64, i64)> = agg.into_iter().map(|(k, (c, s))| (k, c, s)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    assert!(v[9].1 > v[10].1, "top 10 is unambiguous");
    v.truncate(10);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_by_matches_independent_computation_for_any_worker_count() {
    let t = engine();
    run_ok(&t.engine, &insert_wikipedia_sql("wikipedia"), json!({"maxNumTasks": 3})).await;
    let expected = expected_top_channels();
    assert_eq!(expected[0], ("#en.wikipedia".to_string(), 11_549, expected[0].2));
    for tasks in [2, 3, 5] {
        let rows = select(
            &t.engine,
            "SELECT channel, COUNT(*) AS cnt, SUM(added) FROM wikipedia GROUP BY channel ORDER BY cnt DESC LIMIT 10",
            json!({"maxNumTasks": tasks}),
        )
        .await;
        let got: Vec<(String, i64, i64)> = rows
            .iter()
            .map(|r| {
                (
                    r[0].as_str().unwrap().to_string(),
                    r[1].as_i64().unwrap(),
                    r[2].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, expected, "maxNumTasks={tasks}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_by_without_limit_is_globally_sorted_across_workers() {
    let t = engine();
    run_ok(&t.engine, &insert_wikipedia_sql("wikipedia"), json!({})).await;
    let rows = select(
        &t.engine,
        "SELECT page, COUNT(*) AS edits FROM wikipedia GROUP BY page ORDER BY edits DESC, page",
        json!({"maxNumTasks": 4}),
    )
    .await;
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for r in wiki_rows() {
        *counts.entry(r["page"].as_str().unwrap().to_string()).or_default() += 1;
    }
    assert_eq!(rows.len(), counts.len());
    let mut expected: Vec<(String, i64)> = counts.into_iter().collect();
    expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let got: Vec<(String, i64)> = rows
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_i64().unwrap()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(got[0], ("Wikipedia:Vandalismusmeldung".to_string(), 33));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_one_hour_then_all() {
    let t = engine();
    run_ok(&t.engine, &insert_wikipedia_sql("wikipedia"), json!({})).await;
    let before = t.engine.metadata.used_segments("wikipedia", None).unwrap();
    let hour1 = "2015-09-12T01:00:00.000Z/2015-09-12T02:00:00.000Z";
    let hour1_rows = wiki_rows()
        .iter()
        .filter(|r| r["time"].as_str().unwrap().starts_with("2015-09-12T01:"))
        .count() as i64;
    let en_hour1 = wiki_rows()
        .iter()
        .filter(|r| r["time"].as_str().unwrap().starts_with("2015-09-12T01:") && r["channel"] == "#en.wikipedia")
        .count() as i64;

    let replace = r#"REPLACE INTO wikipedia
OVERWRITE WHERE "__time" >= TIMESTAMP '2015-09-12 01:00:00' AND "__time" < TIMESTAMP '2015-09-12 02:00:00'
SELECT * FROM wikipedia
WHERE "__time" >= TIMESTAMP '2015-09-12 01:00:00' AND "__time" < TIMESTAMP '2015-09-12 02:00:00' AND channel = '#en.wikipedia'
PARTITIONED BY HOUR CLUSTERED BY channel"#;
    let (_, o, _) = run_ok(&t.engine, replace, json!({})).await;
    assert_eq!(o.rows_written as i64, en_hour1);

    let after = t.engine.metadata.used_segments("wikipedia", None).unwrap();
    let changed: BTreeSet<String> = after
        .iter()
        .filter(|s| !before.iter().any(|b| b.id == s.id))
        .map(|s| s.id.interval.to_iso())
        .collect();
    assert_eq!(
        changed,
        BTreeSet::from([hour1.to_string()]),
        "only hour 01 has new segments"
    );
    let rows = select(&t.engine, "SELECT COUNT(*) FROM wikipedia", json!({})).await;
    assert_eq!(rows[0][0], json!(39_244 - hour1_rows + en_hour1));
    let all = t.engine.metadata.all_segments("wikipedia").unwrap();
    let unused: Vec<_> = all.iter().filter(|s| !s.used).collect();
    assert!(
        !unused.is_empty() && unused.iter().all(|s| s.id.interval.to_iso() == hour1),
        "old hour-01 version kept, unused"
    );

    let replace_all = format!(
        r#"REPLACE INTO wikipedia OVERWRITE ALL
SELECT TIME_PARSE("time") AS __time, channel
FROM TABLE(EXTERN('{{"type":"local","files":["{}"]}}', '{{"type":"json"}}', '[{{"name":"time","type":"string"}},{{"name":"channel","type":"string"}}]'))
WHERE channel = '#de.wikipedia'
PARTITIONED BY DAY"#,
        wiki_path()
    );
    let (_, o, _) = run_ok(&t.engine, &replace_all, json!({})).await;
    assert_eq!(o.rows_written, 2_523);
    let rows = select(
        &t.engine,
        "SELECT COUNT(*), COUNT(DISTINCT channel) FROM wikipedia",
        json!({}),
    )
    .await;
    assert_eq!(rows[0], vec![json!(2_523), json!(1)]);
    let used = t.engine.metadata.used_segments("wikipedia", None).unwrap();
    assert!(used
        .iter()
        .all(|s| s.id.interval.to_iso() == "2015-09-12T00:00:00.000Z/2015-09-13T00:00:00.000Z"));
    let all = t.engine.metadata.all_segments("wikipedia").unwrap();
    assert!(all.len() > used.len(), "replaced versions stay recorded as unused");
}

fn counter_rows(c: &Value) -> i64 {
    c["rows"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_i64().unwrap()).sum())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_shape_and_counters_add_up() {
    let t = engine();
    let (task_id, _, report) = run_ok(&t.engine, &insert_wikipedia_sql("wikipedia"), json!({"maxNumTasks": 3})).await;
    let msq = &report["multiStageQuery"];
    assert_eq!(msq["type"], "multiStageQuery");
    assert_eq!(msq["taskId"], json!(task_id));
    let status = &msq["payload"]["status"];
    for f in [
        "status",
        "startTime",
        "durationMs",
        "workers",
        "pendingTasks",
        "runningTasks",
        "segmentReport",
    ] {
        assert!(status.get(f).is_some(), "status.{f} missing: {status:#}");
    }
    assert_eq!(
        status["workers"]["0"][0]["workerId"],
        json!(format!("{task_id}-worker0_0"))
    );
    for f in ["workerId", "state", "durationMs", "pendingMs"] {
        assert!(status["workers"]["0"][0].get(f).is_some());
    }
    let stages = msq["payload"]["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 2);
    for s in stages {
        for f in [
            "stageNumber",
            "definition",
            "phase",
            "workerCount",
            "partitionCount",
            "startTime",
            "duration",
        ] {
            assert!(s.get(f).is_some(), "stage.{f} missing: {s:#}");
        }
        for f in ["id", "input", "processor", "signature", "maxWorkerCount"] {
            assert!(s["definition"].get(f).is_some(), "definition.{f} missing");
        }
        assert_eq!(s["phase"], "FINISHED");
    }
    assert_eq!(stages[0]["definition"]["input"][0]["type"], "external");
    assert_eq!(stages[0]["definition"]["shuffleSpec"]["type"], "targetSize");
    assert_eq!(stages[0]["sort"], true);
    assert_eq!(stages[1]["definition"]["processor"]["type"], "segmentGenerator");
    assert_eq!(
        stages[1]["definition"]["input"][0],
        json!({"type": "stage", "stage": 0})
    );
    assert_eq!(stages[1]["partitionCount"].as_i64().unwrap(), 24);

    let counters = &msq["payload"]["counters"];
    let stage_sum = |stage: &str, ch: &str| -> i64 {
        counters[stage]
            .as_object()
            .unwrap()
            .values()
            .map(|w| counter_rows(&w[ch]))
            .sum()
    };
    assert_eq!(stage_sum("0", "input0"), 39_244);
    assert_eq!(stage_sum("0", "output"), 39_244);
    assert_eq!(stage_sum("0", "shuffle"), 39_244);
    assert_eq!(stage_sum("1", "input0"), 39_244, "stage 1 reads what stage 0 wrote");
    let w0 = &counters["0"]["0"];
    assert_eq!(w0["input0"]["files"], json!([1]));
    assert_eq!(w0["input0"]["totalFiles"], json!([1]));
    assert_eq!(w0["sortProgress"]["progressDigest"], json!(1.0));
    let persisted: i64 = counters["1"]
        .as_object()
        .unwrap()
        .values()
        .map(|w| w["segmentGenerationProgress"]["rowsPersisted"].as_i64().unwrap())
        .sum();
    assert_eq!(persisted, 39_244);

    // SELECT report: results section.
    let (_, _, report) = run_ok(
        &t.engine,
        "SELECT channel, COUNT(*) AS cnt FROM wikipedia GROUP BY channel ORDER BY cnt DESC LIMIT 3",
        json!({"maxNumTasks": 3}),
    )
    .await;
    let payload = &report["multiStageQuery"]["payload"];
    assert_eq!(
        payload["results"]["signature"],
        json!([{"name":"channel","type":"STRING"},{"name":"cnt","type":"LONG"}])
    );
    assert_eq!(payload["results"]["sqlTypeNames"], json!(["VARCHAR", "BIGINT"]));
    assert_eq!(
        payload["results"]["results"],
        json!([
            ["#en.wikipedia", 11549],
            ["#vi.wikipedia", 9747],
            ["#de.wikipedia", 2523]
        ])
    );
    assert_eq!(payload["results"]["resultsTruncated"], json!(false));
    let stages = payload["stages"].as_array().unwrap();
    for pair in stages.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let n = a["stageNumber"].as_i64().unwrap().to_string();
        let m = b["stageNumber"].as_i64().unwrap().to_string();
        let out: i64 = payload["counters"][&n]
            .as_object()
            .unwrap()
            .values()
            .map(|w| counter_rows(&w["shuffle"]))
            .sum();
        let inp: i64 = payload["counters"][&m]
            .as_object()
            .unwrap()
            .values()
            .map(|w| counter_rows(&w["input0"]))
            .sum();
        assert_eq!(out, inp, "stage {m} reads the rows stage {n} shuffled");
    }
    assert_eq!(stages[0]["definition"]["processor"]["type"], "groupByPreShuffle");
    assert_eq!(stages[1]["definition"]["processor"]["type"], "groupByPostShuffle");
}

async fn expect_error(e: &msq_controller::Overlord, sql: &str, context: Value) -> (msq_engine::MsqError, Value) {
    let (_, res, report) = e.run_statement(sql, &ctx(context)).await;
    match res {
        Ok(_) => panic!("expected failure for {sql}"),
        Err(err) => (err, report),
    }
}

fn extern_sql(file: &str, extra: &str) -> String {
    format!(
        r#"INSERT INTO bad
SELECT TIME_PARSE("timestamp") AS __time, page, added
FROM TABLE(EXTERN('{{"type":"local","files":["{file}"]}}', '{{"type":"json"}}', '[{{"name":"timestamp","type":"string"}},{{"name":"page","type":"string"}},{{"name":"added","type":"long"}}]'))
{extra}
PARTITIONED BY HOUR"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors_and_publishes_nothing() {
    let t = engine();
    let e = &t.engine;
    let (err, _) = expect_error(e, "INSERT INTO x SELEC 1 PARTITIONED BY DAY", json!({})).await;
    assert!(
        matches!(
            err,
            msq_engine::MsqError::SqlParse(_) | msq_engine::MsqError::Validation(_)
        ),
        "{err:?}"
    );
    let (err, _) = expect_error(e, "SELECT * FROM no_such_table", json!({})).await;
    assert!(err.to_string().contains("no_such_table"), "{err}");
    let (err, _) = expect_error(e, &extern_sql("/nonexistent/file.json", ""), json!({})).await;
    assert!(err.to_string().contains("/nonexistent/file.json"), "{err}");
    let two = testdata("wikipedia-sampled-2.json").display().to_string();
    let (err, report) = expect_error(
        e,
        &format!(
            r#"INSERT INTO bad SELECT TIME_PARSE("nope") AS __time, page
FROM TABLE(EXTERN('{{"type":"local","files":["{two}"]}}', '{{"type":"json"}}', '[{{"name":"nope","type":"string"}},{{"name":"page","type":"string"}}]'))
PARTITIONED BY DAY"#
        ),
        json!({}),
    )
    .await;
    assert_eq!(err.error_code(), "InsertTimeNull");
    assert_eq!(
        report["multiStageQuery"]["payload"]["status"]["errorReport"]["error"]["errorCode"],
        "InsertTimeNull"
    );
    let (err, report) = expect_error(
        e,
        &extern_sql(&two, "WHERE page = 'no such page'"),
        json!({"failOnEmptyInsert": true}),
    )
    .await;
    assert_eq!(err.error_code(), "InsertCannotBeEmpty");
    assert_eq!(
        report["multiStageQuery"]["payload"]["status"]["errorReport"]["error"]["errorMessage"],
        "No rows to insert for dataSource [bad]. Set failOnEmptyInsert : false in the query context to allow empty inserts."
    );
    // Without failOnEmptyInsert (false by default, as in Druid 29+) the same INSERT succeeds
    // and publishes nothing.
    let (_, empty, _) = run_ok(e, &extern_sql(&two, "WHERE page = 'no such page'"), json!({})).await;
    assert_eq!((empty.rows_written, empty.segments.len()), (0, 0));
    let (err, _) = expect_error(
        e,
        &format!("{} CLUSTERED BY page DESC", extern_sql(&two, "")),
        json!({}),
    )
    .await;
    assert!(err.to_string().contains("DESC"), "{err}");
    let unparsable = testdata("wikipedia-sampled-unparsable.json").display().to_string();
    let (err, report) = expect_error(e, &extern_sql(&unparsable, ""), json!({})).await;
    assert_eq!(err.error_code(), "TooManyWarnings");
    let er = &report["multiStageQuery"]["payload"]["status"]["errorReport"]["error"];
    assert_eq!(er["rootErrorCode"], "CannotParseExternalData");
    assert_eq!(er["maxWarnings"], 0);
    assert!(
        t.engine.metadata.used_segments("bad", None).unwrap().is_empty(),
        "nothing published"
    );
    assert!(
        t.engine.metadata.all_segments("bad").unwrap().is_empty(),
        "nothing recorded"
    );

    // With maxParseExceptions the good rows go in and the bad one is counted.
    let (_, o, report) = run_ok(e, &extern_sql(&unparsable, ""), json!({"maxParseExceptions": 1})).await;
    assert_eq!(o.rows_written, 2);
    let warnings: i64 = report["multiStageQuery"]["payload"]["counters"]["0"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|w| w["warnings"]["CannotParseExternalData"].as_i64())
        .sum();
    assert_eq!(warnings, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_memory_budget_spills_and_gives_identical_results() {
    let t = engine();
    run_ok(&t.engine, &insert_wikipedia_sql("big"), json!({})).await;
    let (_, o, report) = run_ok(
        &t.engine,
        &insert_wikipedia_sql("small"),
        json!({"workerMemoryBytes": 65536, "maxNumTasks": 3, "rowsPerFrame": 1000}),
    )
    .await;
    assert_eq!(o.rows_written, 39_244);
    let spilled: i64 = report["multiStageQuery"]["payload"]["counters"]["0"]
        .as_object()
        .unwrap()
        .values()
        .map(|w| w["sortProgress"]["levelToTotalBatches"]["0"].as_i64().unwrap_or(0))
        .sum();
    assert!(spilled > 10, "sorted runs were spilled: {spilled}");
    let q = |ds: &str| {
        format!(
            "SELECT channel, COUNT(*), SUM(delta), MIN(__time), MAX(page) FROM {ds} GROUP BY channel ORDER BY channel"
        )
    };
    let a = select(&t.engine, &q("big"), json!({})).await;
    let b = select(
        &t.engine,
        &q("small"),
        json!({"workerMemoryBytes": 65536, "maxNumTasks": 3, "rowsPerFrame": 1000}),
    )
    .await;
    assert_eq!(a, b);
    let big = t.engine.metadata.used_segments("big", None).unwrap();
    let small = t.engine.metadata.used_segments("small", None).unwrap();
    assert_eq!(big.len(), small.len());
    assert_eq!(
        big.iter().map(|s| s.num_rows).sum::<u64>(),
        small.iter().map(|s| s.num_rows).sum::<u64>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_per_segment_splits_chunks_by_cluster_key() {
    let t = engine();
    let (_, o, _) = run_ok(
        &t.engine,
        &insert_wikipedia_sql("wiki"),
        json!({"rowsPerSegment": 1000, "maxNumTasks": 3}),
    )
    .await;
    let data: Vec<_> = o.segments.iter().filter(|s| !s.is_tombstone).collect();
    assert!(data.len() > 24, "busy hours split into several segments");
    assert!(
        data.iter().all(|s| s.num_rows <= 1000),
        "{:?}",
        data.iter().map(|s| s.num_rows).collect::<Vec<_>>()
    );
    assert_eq!(data.iter().map(|s| s.num_rows).sum::<u64>(), 39_244);
    let rows = select(
        &t.engine,
        "SELECT COUNT(*) FROM wiki WHERE __time >= TIMESTAMP '2015-09-12 12:00:00'",
        json!({}),
    )
    .await;
    let expected = wiki_rows()
        .iter()
        .filter(|r| r["time"].as_str().unwrap() >= "2015-09-12T12:00:00")
        .count();
    assert_eq!(rows[0][0], json!(expected));
}

#[test]
fn cli_runs_insert_then_select_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let sql_file = dir.path().join("stmt.sql");
    std::fs::write(
        &sql_file,
        format!(
            "{};\nSELECT channel, COUNT(*) AS cnt FROM cli_wiki GROUP BY channel ORDER BY cnt DESC LIMIT 2;\n",
            insert_wikipedia_sql("cli_wiki")
        ),
    )
    .unwrap();
    let report = dir.path().join("report.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_msq"))
        .args(["run", "--data-dir"])
        .arg(dir.path().join("var"))
        .arg("-f")
        .arg(&sql_file)
        .args(["--format", "json", "--report"])
        .arg(&report)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("39244 rows written to dataSource [cli_wiki] in 24 segments"),
        "{stdout}"
    );
    assert!(
        stdout.contains(r##"{"channel":"#en.wikipedia","cnt":11549}"##),
        "{stdout}"
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["multiStageQuery"]["payload"]["status"]["status"], "SUCCESS");

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_msq"))
        .args(["run", "--data-dir"])
        .arg(dir.path().join("var"))
        .args(["--sql", "SELECT * FROM nowhere"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("nowhere"));
}

/// The README's first command, run twice from the repository root: the example REPLACEs, so
/// the second run finds the same 39,244 rows in 24 segments, not twice as many.
#[test]
fn the_readme_example_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let top = wiki_rows().iter().filter(|r| r["channel"] == "#en.wikipedia").count();
    for run in 1..=2 {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_msq"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["run", "--data-dir"])
            .arg(dir.path().join("var"))
            .args(["-f", "examples/wikipedia.sql", "--format", "json"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "run {run}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("39244 rows written to dataSource [wikipedia] in 24 segments"),
            "run {run}: {stdout}"
        );
        assert!(
            stdout.contains(&format!(r##"{{"channel":"#en.wikipedia","edits":{top},"##)),
            "run {run}: {stdout}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn druid_functions_rollup_and_extend() {
    let t = engine();
    run_ok(&t.engine, &insert_wikipedia_sql("wikipedia"), json!({})).await;
    let raw = wiki_rows();

    // APPROX_COUNT_DISTINCT is a HyperLogLog estimate; unaliased columns are named EXPR$n.
    let (_, o, report) = run_ok(
        &t.engine,
        r#"SELECT APPROX_COUNT_DISTINCT("user"), COUNT(DISTINCT "user") AS exact FROM wikipedia"#,
        json!({}),
    )
    .await;
    let exact = raw
        .iter()
        .map(|r| r["user"].as_str().unwrap())
        .collect::<BTreeSet<_>>()
        .len() as f64;
    let rows = msq_controller::values::rows_json(o.results.as_ref().unwrap(), 10);
    let approx = rows[0][0].as_f64().unwrap();
    assert_eq!(rows[0][1].as_f64().unwrap(), exact);
    assert!((approx - exact).abs() / exact < 0.03, "{approx} vs {exact}");
    assert_eq!(
        report["multiStageQuery"]["payload"]["results"]["signature"][0]["name"],
        "EXPR$0"
    );

    // LATEST/EARLIEST pick the value at the latest/earliest __time of each group.
    let rows = select(
        &t.engine,
        "SELECT channel, LATEST(page) AS last_page, EARLIEST(page, 1024) AS first_page FROM wikipedia WHERE channel IN ('#en.wikipedia', '#de.wikipedia') GROUP BY channel ORDER BY channel",
        json!({"maxNumTasks": 3}),
    )
    .await;
    for row in &rows {
        let ch = row[0].as_str().unwrap();
        let mine: Vec<_> = raw.iter().filter(|r| r["channel"] == ch).collect();
        let last = mine.iter().max_by_key(|r| r["time"].as_str().unwrap()).unwrap();
        let first = mine.iter().min_by_key(|r| r["time"].as_str().unwrap()).unwrap();
        assert_eq!(row[1], last["page"], "{ch}");
        assert_eq!(row[2], first["page"], "{ch}");
    }

    // Rollup ingestion: hourly counts and sums per channel.
    let (_, o, _) = run_ok(
        &t.engine,
        "INSERT INTO rollup SELECT TIME_FLOOR(__time, 'PT1H') AS __time, channel, COUNT(*) AS cnt, SUM(added) AS added, MAX(delta) AS max_delta FROM wikipedia GROUP BY 1, 2 PARTITIONED BY DAY CLUSTERED BY channel",
        json!({"maxNumTasks": 3}),
    )
    .await;
    let groups: BTreeSet<(String, String)> = raw
        .iter()
        .map(|r| {
            (
                r["time"].as_str().unwrap()[..13].to_string(),
                r["channel"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(o.rows_written as usize, groups.len());
    let rows = select(&t.engine, "SELECT SUM(cnt), SUM(added) FROM rollup", json!({})).await;
    let added: i64 = raw.iter().map(|r| r["added"].as_i64().unwrap()).sum();
    assert_eq!(rows[0], vec![json!(39_244), json!(added)]);

    // EXTEND instead of the signature argument.
    let two = testdata("wikipedia-sampled-2.json").display().to_string();
    let (_, o, _) = run_ok(
        &t.engine,
        &format!(
            r#"INSERT INTO extended SELECT TIME_PARSE("timestamp") AS __time, page, added
FROM TABLE(EXTERN('{{"type":"local","files":["{two}"]}}', '{{"type":"json"}}')) EXTEND ("timestamp" VARCHAR, page VARCHAR, added BIGINT)
PARTITIONED BY HOUR"#
        ),
        json!({}),
    )
    .await;
    assert_eq!(o.rows_written, 7);
    let hours: BTreeSet<_> = o.segments.iter().map(|s| s.id.interval).collect();
    assert_eq!(hours.len(), 2, "3 rows in hour 00 and 4 in hour 01");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn druid_error_codes_for_bad_ingestion() {
    let t = engine();
    let e = &t.engine;
    run_ok(e, &insert_wikipedia_sql("wikipedia"), json!({})).await;
    let code = |r: &(msq_engine::MsqError, Value)| r.0.error_code().to_string();

    let nul = r#"INSERT INTO nul SELECT TIME_PARSE(t) AS __time, s FROM TABLE(EXTERN('{"type":"inline","data":"{\"t\":\"2020-01-01\",\"s\":\"a\\u0000b\"}"}', '{"type":"json"}', '[{"name":"t","type":"string"},{"name":"s","type":"string"}]')) PARTITIONED BY DAY"#;
    assert_eq!(code(&expect_error(e, nul, json!({})).await), "InvalidNullByte");

    let restricted = "INSERT INTO r SELECT __time, channel AS __bucket FROM wikipedia PARTITIONED BY DAY";
    assert_eq!(
        code(&expect_error(e, restricted, json!({})).await),
        "ColumnNameRestricted"
    );

    let unsupported = "INSERT INTO r SELECT __time, named_struct('a', added) AS s FROM wikipedia PARTITIONED BY DAY";
    assert_eq!(
        code(&expect_error(e, unsupported, json!({})).await),
        "ColumnTypeNotSupported"
    );

    let out_of_bounds = r#"REPLACE INTO wikipedia OVERWRITE WHERE __time >= TIMESTAMP '2015-09-12 01:00:00' AND __time < TIMESTAMP '2015-09-12 02:00:00'
SELECT * FROM wikipedia WHERE __time < TIMESTAMP '2015-09-12 03:00:00' PARTITIONED BY HOUR"#;
    let (err, report) = expect_error(e, out_of_bounds, json!({})).await;
    assert_eq!(err.error_code(), "InsertTimeOutOfBounds");
    assert_eq!(
        report["multiStageQuery"]["payload"]["status"]["errorReport"]["error"]["interval"],
        "2015-09-12T00:00:00.000Z/2015-09-12T01:00:00.000Z"
    );

    let too_many_buckets = "INSERT INTO secs SELECT * FROM wikipedia PARTITIONED BY SECOND";
    assert_eq!(
        code(&expect_error(e, too_many_buckets, json!({})).await),
        "TooManyBuckets"
    );

    let finer_existing = "INSERT INTO wikipedia SELECT * FROM wikipedia PARTITIONED BY DAY";
    let (err, report) = expect_error(e, finer_existing, json!({})).await;
    assert_eq!(err.error_code(), "InsertCannotAllocateSegment");
    assert_eq!(
        report["multiStageQuery"]["payload"]["status"]["errorReport"]["error"]["dataSource"],
        "wikipedia"
    );

    // None of the failures left anything behind.
    let used = e.metadata.used_segments("wikipedia", None).unwrap();
    assert_eq!(used.len(), 24);
    assert_eq!(used.iter().map(|s| s.num_rows).sum::<u64>(), 39_244);
    for ds in ["nul", "r", "secs"] {
        assert!(e.metadata.all_segments(ds).unwrap().is_empty(), "{ds}");
    }
    assert!(e.metadata.pending_segments("wikipedia").unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scalar_subquery_on_several_workers() {
    let t = engine();
    run_ok(&t.engine, &insert_wikipedia_sql("wikipedia"), json!({"maxNumTasks": 3})).await;
    let rows = wiki_rows();
    let avg = rows.iter().map(|r| r["added"].as_i64().unwrap() as f64).sum::<f64>() / rows.len() as f64;
    let expected = rows
        .iter()
        .filter(|r| r["added"].as_i64().unwrap() as f64 > avg)
        .count();
    for tasks in [2, 3, 4] {
        let got = select(
            &t.engine,
            "SELECT COUNT(*) FROM wikipedia WHERE added > (SELECT AVG(added) FROM wikipedia)",
            json!({"maxNumTasks": tasks}),
        )
        .await;
        assert_eq!(got, vec![vec![json!(expected)]], "maxNumTasks={tasks}");
    }
}
