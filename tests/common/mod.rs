//! Helpers shared by the integration tests: a fresh engine per test and an independent
//! reading of the raw wikipedia sample.

#![allow(dead_code)]

pub mod http;
pub mod pg;
pub mod s3;

use flate2::read::GzDecoder;
use msq_controller::Overlord;
use serde_json::{Map, Value};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

pub fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name)
}

pub fn wiki_path() -> String {
    testdata("wikiticker-2015-09-12-sampled.json.gz").display().to_string()
}

/// The raw wikipedia rows, parsed with serde_json (not the engine's reader).
pub fn wiki_rows() -> Vec<Map<String, Value>> {
    let f = std::fs::File::open(wiki_path()).unwrap();
    BufReader::new(GzDecoder::new(f))
        .lines()
        .map(|l| l.unwrap())
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(&l).unwrap().as_object().unwrap().clone())
        .collect()
}

pub struct TestEngine {
    pub engine: Overlord,
    pub dir: tempfile::TempDir,
}

pub fn engine() -> TestEngine {
    let dir = tempfile::tempdir().unwrap();
    let engine = Overlord::open_local(dir.path()).unwrap();
    TestEngine { engine, dir }
}

/// A fresh engine whose workers are `msq worker` child processes (plans cross the wire).
pub async fn process_engine() -> TestEngine {
    use msq_controller::launcher::{Runner, RunnerKind};
    let mut t = engine();
    let mut r = Runner::embedded();
    r.kind = RunnerKind::Process;
    r.worker_command = env!("CARGO_BIN_EXE_msq").into();
    r.tmp_dir = t.dir.path().join("tmp").join("workers");
    t.engine.use_runner(r, None).await.unwrap();
    t
}

pub fn ctx(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// The INSERT of the whole sample, PARTITIONED BY HOUR CLUSTERED BY channel.
pub fn insert_wikipedia_sql(ds: &str) -> String {
    format!(
        r#"INSERT INTO {ds}
SELECT TIME_PARSE("time") AS __time, channel, page, "user", added, deleted, delta, cityName, countryName, isRobot, metroCode
FROM TABLE(EXTERN('{{"type":"local","files":["{path}"]}}', '{{"type":"json"}}',
  '[{{"name":"time","type":"string"}},{{"name":"channel","type":"string"}},{{"name":"page","type":"string"}},{{"name":"user","type":"string"}},{{"name":"added","type":"long"}},{{"name":"deleted","type":"long"}},{{"name":"delta","type":"long"}},{{"name":"cityName","type":"string"}},{{"name":"countryName","type":"string"}},{{"name":"isRobot","type":"string"}},{{"name":"metroCode","type":"long"}}]'))
PARTITIONED BY HOUR
CLUSTERED BY channel"#,
        path = wiki_path()
    )
}

/// Runs a statement that must succeed; returns (task id, outcome, report).
pub async fn run_ok(e: &Overlord, sql: &str, context: Value) -> (String, msq_controller::QueryOutcome, Value) {
    let (id, res, report) = e.run_statement(sql, &ctx(context)).await;
    match res {
        Ok(o) => (id.unwrap(), o, report),
        Err(err) => panic!(
            "statement failed: {}: {err}\n{sql}\nreport: {report:#}",
            err.error_code()
        ),
    }
}

/// Results of a SELECT as JSON rows.
pub async fn select(e: &Overlord, sql: &str, context: Value) -> Vec<Vec<Value>> {
    let (_, o, _) = run_ok(e, sql, context).await;
    msq_controller::values::rows_json(o.results.as_ref().unwrap(), usize::MAX)
        .into_iter()
        .map(|r| r.as_array().unwrap().clone())
        .collect()
}

/// An INSERT into `long_insert` that reads for a while: 30 copies of the wikipedia sample
/// (1,177,320 rows), written under `dir/input`.
pub fn long_insert_sql(dir: &std::path::Path) -> String {
    let input = dir.join("input");
    std::fs::create_dir_all(&input).unwrap();
    for i in 0..30 {
        std::fs::copy(wiki_path(), input.join(format!("wiki-{i:02}.json.gz"))).unwrap();
    }
    format!(
        r#"INSERT INTO long_insert SELECT TIME_PARSE("time") AS __time, channel, page, added
FROM TABLE(EXTERN('{{"type":"local","baseDir":"{}","filter":"*.json.gz"}}', '{{"type":"json"}}',
  '[{{"name":"time","type":"string"}},{{"name":"channel","type":"string"}},{{"name":"page","type":"string"}},{{"name":"added","type":"long"}}]'))
PARTITIONED BY HOUR CLUSTERED BY channel"#,
        input.display()
    )
}
