//! Runs the table-driven SQL cases in `tests/sql/*.sqltest` against one fresh data directory
//! holding the wikipedia sample (table `wikipedia`). Files run in name order, cases in order.
//!
//! Case format:
//! ```text
//! # comment
//! === name
//! context: {"key": value}            (optional)
//! sql:
//! <statement lines; {testdata} is the testdata folder>
//! expect: [[row], ...]               exact rows, in order
//! expect_unordered: [[row], ...]     exact rows, in any order
//! written: N                         rows ingested by INSERT / REPLACE
//! error: Code                        the statement fails with this Druid error code
//! message: text                      (with error:) the message contains this text
//! segments: {"count": N, ...}        (with written:) the published segments: count (data
//!                                    segments), intervals (distinct time chunks), first / last
//!                                    (chunk intervals), shardSpec (every segment's type),
//!                                    report (status.segmentReport.shardSpec), rows (rows per
//!                                    segment, in segment order)
//! stages: ["scan:hash", ...]         the stages' processor:shuffle types (report order)
//! task: query-<id>                   the task id (e.g. from `sqlQueryId`)
//! exported: {"dir": "d", ...}         (export) the files under {export}/d: files (count), rows
//!                                    (CSV rows per file, header excluded), lines (every CSV
//!                                    line, files in order); named query-<task>-worker0-
//!                                    partition<N>.<ext> and listed by the manifest
//! ```
//! `{export}` in a statement is the export base directory the suite's server is given.

mod common;

use common::*;
use serde_json::{json, Value};

struct Case {
    name: String,
    context: Value,
    sql: String,
    expect: Expect,
    message: Option<String>,
    segments: Option<Value>,
    stages: Option<Vec<String>>,
    task: Option<String>,
    exported: Option<Value>,
}

enum Expect {
    Rows(Value),
    UnorderedRows(Value),
    Written(u64),
    Error(String),
}

/// The directive keys of a case (`key: value` lines).
const KEYS: [&str; 11] = [
    "context",
    "sql",
    "expect",
    "expect_unordered",
    "written",
    "error",
    "message",
    "segments",
    "stages",
    "task",
    "exported",
];

fn parse(text: &str) -> Vec<Case> {
    let testdata = testdata("").display().to_string();
    let testdata = testdata.trim_end_matches('/');
    let mut cases = Vec::new();
    // A leading newline lets a file start directly with its first case.
    for block in format!("\n{text}").split("\n=== ").skip(1) {
        let mut lines = block.lines();
        let name = lines.next().unwrap().trim().to_string();
        let json =
            |v: &str| -> Value { serde_json::from_str(v.trim()).unwrap_or_else(|e| panic!("[{name}]: {e}: {v}")) };
        let mut context = json!({});
        let mut sql = String::new();
        let mut in_sql = false;
        let mut expect = None;
        let mut message = None;
        let mut segments = None;
        let mut stages = None;
        let mut task = None;
        let mut exported = None;
        for line in lines {
            let directive = line.split_once(':').filter(|(k, _)| KEYS.contains(k));
            let Some((key, value)) = directive else {
                if in_sql {
                    sql.push_str(&line.replace("{testdata}", testdata));
                    sql.push('\n');
                } else if !(line.trim().is_empty() || line.starts_with('#')) {
                    panic!("[{name}]: unexpected line [{line}]");
                }
                continue;
            };
            in_sql = key == "sql";
            match key {
                "context" => context = json(value),
                "expect" => expect = Some(Expect::Rows(json(value))),
                "expect_unordered" => expect = Some(Expect::UnorderedRows(json(value))),
                "written" => expect = Some(Expect::Written(value.trim().parse().unwrap())),
                "error" => expect = Some(Expect::Error(value.trim().to_string())),
                "message" => message = Some(value.trim().to_string()),
                "task" => task = Some(value.trim().to_string()),
                "segments" => segments = Some(json(value)),
                "exported" => exported = Some(json(value)),
                "stages" => {
                    let list = json(value);
                    stages = Some(
                        list.as_array()
                            .unwrap()
                            .iter()
                            .map(|s| s.as_str().unwrap().to_string())
                            .collect(),
                    )
                }
                _ => {}
            }
        }
        cases.push(Case {
            expect: expect.unwrap_or_else(|| panic!("case [{name}] has no expectation")),
            name,
            context,
            sql,
            message,
            segments,
            stages,
            task,
            exported,
        });
    }
    cases
}

/// JSON equality where numbers compare by value (`5` equals `5.0`: Druid's docs print doubles
/// such as `SQRT(25)` without a fraction).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        _ => a == b,
    }
}

fn sorted(rows: &Value) -> Vec<String> {
    let mut v: Vec<String> = rows
        .as_array()
        .map(|a| a.iter().map(|r| r.to_string()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Checks the published segments against a `segments:` object; returns the first mismatch.
fn check_segments(want: &Value, o: &msq_controller::QueryOutcome, report: &Value) -> Option<String> {
    let data: Vec<_> = o.segments.iter().filter(|s| !s.is_tombstone).collect();
    let mut chunks: Vec<String> = data.iter().map(|s| s.id.interval.to_iso()).collect();
    chunks.dedup();
    let types: std::collections::BTreeSet<String> = data
        .iter()
        .map(|s| s.shard_spec["type"].as_str().unwrap_or("?").to_string())
        .collect();
    let got = json!({
        "count": data.len(),
        "intervals": chunks.len(),
        "first": chunks.first(),
        "last": chunks.last(),
        "shardSpec": if types.len() == 1 { json!(types.iter().next()) } else { json!(types) },
        "report": report["multiStageQuery"]["payload"]["status"]["segmentReport"]["shardSpec"],
        "rows": data.iter().map(|s| s.num_rows).collect::<Vec<_>>(),
    });
    for (k, v) in want.as_object().expect("segments: takes an object") {
        if got.get(k) != Some(v) {
            return Some(format!("segments.{k} {} != {v}", got.get(k).unwrap_or(&Value::Null)));
        }
    }
    None
}

/// Checks an export's files against an `exported:` object; returns the first mismatch.
fn check_exported(want: &Value, root: &std::path::Path, task_id: &str) -> Option<String> {
    let dir = root.join(want["dir"].as_str().unwrap_or("?")).canonicalize().ok()?;
    let stem = format!("{task_id}-worker0-partition");
    let mut files: Vec<(u64, String)> = Vec::new();
    for e in std::fs::read_dir(&dir).ok()?.flatten().filter(|e| e.path().is_file()) {
        let name = e.file_name().to_string_lossy().to_string();
        match name.strip_prefix(&stem).and_then(|r| r.split('.').next()?.parse().ok()) {
            Some(n) => files.push((n, name)),
            None => return Some(format!("unexpected file {name} (expected {stem}<N>.<ext>)")),
        }
    }
    files.sort();
    let manifest = std::fs::read_to_string(dir.join("_symlink_format_manifest/manifest")).unwrap_or_default();
    let listed: Vec<String> = files
        .iter()
        .map(|(_, n)| format!("file:{}/{n}", dir.display()))
        .collect();
    if manifest.lines().collect::<Vec<_>>() != listed {
        return Some(format!("manifest [{manifest}] != {listed:?}"));
    }
    let texts: Vec<String> = files
        .iter()
        .map(|(_, n)| std::fs::read_to_string(dir.join(n)).unwrap_or_default())
        .collect();
    let got = json!({
        "files": files.len(),
        "rows": texts.iter().map(|t| t.lines().count().saturating_sub(1)).collect::<Vec<_>>(),
        "lines": texts.iter().flat_map(|t| t.lines().map(str::to_string)).collect::<Vec<_>>(),
    });
    for (k, v) in want.as_object()?.iter().filter(|(k, _)| k.as_str() != "dir") {
        if got.get(k) != Some(v) {
            return Some(format!("exported.{k} {} != {v}", got.get(k).unwrap_or(&Value::Null)));
        }
    }
    None
}

/// The stages' `processor:shuffle` types from a report.
fn stage_types(report: &Value) -> Vec<String> {
    report["multiStageQuery"]["payload"]["stages"]
        .as_array()
        .map(|stages| {
            stages
                .iter()
                .map(|s| {
                    let d = &s["definition"];
                    format!(
                        "{}:{}",
                        d["processor"]["type"].as_str().unwrap_or("-"),
                        d["shuffleSpec"]["type"].as_str().unwrap_or("-")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_cases() {
    let mut t = engine();
    let export_root = t.dir.path().join("exports");
    t.engine.export.base_dir = Some(export_root.clone());
    run_ok(&t.engine, &insert_wikipedia_sql("wikipedia"), json!({})).await;
    // The lookups the cases use (`LOOKUP`, `lookup.<name>`): tests/sql/lookups_append.sqltest.
    msq_controller::lookups::load_lookups_file(t.engine.metadata.as_ref(), &testdata("lookups-wiki.json")).unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut ran = 0;
    let mut per_file = Vec::new();
    let mut failures = Vec::new();
    for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "sqltest")) {
        let file = f.file_name().unwrap().to_string_lossy().to_string();
        let cases = parse(&std::fs::read_to_string(f).unwrap());
        per_file.push(format!("{file}: {}", cases.len()));
        for case in cases {
            ran += 1;
            let ctx = case.context.as_object().cloned().unwrap_or_default();
            let sql = case.sql.replace("{export}", &export_root.display().to_string());
            let (task_id, res, report) = t.engine.run_statement(&sql, &ctx).await;
            let mut problem = match (&case.expect, &res) {
                (Expect::Rows(want), Ok(o)) => {
                    let got = Value::Array(msq_controller::values::rows_json(
                        o.results.as_deref().unwrap_or_default(),
                        usize::MAX,
                    ));
                    (!same(&got, want)).then(|| format!("rows {got} != {want}"))
                }
                (Expect::UnorderedRows(want), Ok(o)) => {
                    let got = Value::Array(msq_controller::values::rows_json(
                        o.results.as_deref().unwrap_or_default(),
                        usize::MAX,
                    ));
                    (sorted(&got) != sorted(want)).then(|| format!("rows (any order) {got} != {want}"))
                }
                (Expect::Written(n), Ok(o)) => {
                    (o.rows_written != *n).then(|| format!("wrote {} != {n}", o.rows_written))
                }
                (Expect::Error(code), Ok(_)) => Some(format!("succeeded, expected {code}")),
                (Expect::Error(code), Err(e)) => {
                    if e.error_code() != code {
                        Some(format!("{}: {e} != {code}", e.error_code()))
                    } else {
                        case.message
                            .as_ref()
                            .filter(|m| !e.to_string().contains(m.as_str()))
                            .map(|m| format!("message [{e}] does not contain [{m}]"))
                    }
                }
                (_, Err(e)) => Some(format!("failed: {}: {e}", e.error_code())),
            };
            if let (None, Some(want), Ok(o)) = (&problem, &case.segments, &res) {
                problem = check_segments(want, o, &report);
            }
            if let (None, Some(want)) = (&problem, &case.stages) {
                let got = stage_types(&report);
                problem = (&got != want).then(|| format!("stages {got:?} != {want:?}"));
            }
            if let (None, Some(want)) = (&problem, &case.task) {
                problem = (task_id.as_deref() != Some(want.as_str())).then(|| format!("task id {task_id:?} != {want}"));
            }
            if let (None, Some(want)) = (&problem, &case.exported) {
                problem = check_exported(want, &export_root, task_id.as_deref().unwrap_or("?"));
            }
            if let Some(p) = problem {
                failures.push(format!("[{file}] {}: {p}", case.name));
            }
        }
    }
    eprintln!("sql suite: {ran} cases ({})", per_file.join(", "));
    assert!(ran >= 20, "only {ran} cases found");
    assert!(
        failures.is_empty(),
        "{} of {ran} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
