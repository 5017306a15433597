//! Runs the table-driven SQL cases in `tests/sql/*.sqltest` (format described at the top of
//! each file) against one fresh data directory holding the wikipedia sample.

mod common;

use common::*;
use serde_json::{json, Value};

struct Case {
    name: String,
    context: Value,
    sql: String,
    expect: Expect,
}

enum Expect {
    Rows(Value),
    Written(u64),
    Error(String),
}

fn parse(text: &str) -> Vec<Case> {
    let testdata = testdata("").display().to_string();
    let testdata = testdata.trim_end_matches('/');
    let mut cases = Vec::new();
    for block in text.split("\n=== ").skip(1) {
        let mut lines = block.lines();
        let name = lines.next().unwrap().trim().to_string();
        let mut context = json!({});
        let mut sql = String::new();
        let mut in_sql = false;
        let mut expect = None;
        for line in lines {
            if let Some(c) = line.strip_prefix("context:") {
                context = serde_json::from_str(c.trim()).unwrap_or_else(|e| panic!("{name}: bad context: {e}"));
            } else if line.trim() == "sql:" {
                in_sql = true;
            } else if let Some(r) = line.strip_prefix("expect:") {
                expect = Some(Expect::Rows(
                    serde_json::from_str(r.trim()).unwrap_or_else(|e| panic!("{name}: {e}")),
                ));
                in_sql = false;
            } else if let Some(n) = line.strip_prefix("written:") {
                expect = Some(Expect::Written(n.trim().parse().unwrap()));
                in_sql = false;
            } else if let Some(code) = line.strip_prefix("error:") {
                expect = Some(Expect::Error(code.trim().to_string()));
                in_sql = false;
            } else if in_sql {
                sql.push_str(&line.replace("{testdata}", testdata));
                sql.push('\n');
            }
        }
        cases.push(Case {
            expect: expect.unwrap_or_else(|| panic!("case [{name}] has no expectation")),
            name,
            context,
            sql,
        });
    }
    cases
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_cases() {
    let t = engine();
    run_ok(&t.engine, &insert_wikipedia_sql("wikipedia"), json!({})).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut ran = 0;
    let mut failures = Vec::new();
    for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "sqltest")) {
        for case in parse(&std::fs::read_to_string(f).unwrap()) {
            ran += 1;
            let ctx = case.context.as_object().cloned().unwrap_or_default();
            let (_, res, _) = t.engine.run_statement(&case.sql, &ctx).await;
            let problem = match (&case.expect, res) {
                (Expect::Rows(want), Ok(o)) => {
                    let got = Value::Array(msq_controller::values::rows_json(
                        o.results.as_deref().unwrap_or_default(),
                        usize::MAX,
                    ));
                    (got != *want).then(|| format!("rows {got} != {want}"))
                }
                (Expect::Written(n), Ok(o)) => {
                    (o.rows_written != *n).then(|| format!("wrote {} != {n}", o.rows_written))
                }
                (Expect::Error(code), Ok(_)) => Some(format!("succeeded, expected {code}")),
                (Expect::Error(code), Err(e)) => {
                    (e.error_code() != code).then(|| format!("{}: {e} != {code}", e.error_code()))
                }
                (_, Err(e)) => Some(format!("failed: {}: {e}", e.error_code())),
            };
            if let Some(p) = problem {
                failures.push(format!(
                    "[{}] {}: {p}",
                    f.file_name().unwrap().to_string_lossy(),
                    case.name
                ));
            }
        }
    }
    assert!(ran >= 20, "only {ran} cases found");
    assert!(
        failures.is_empty(),
        "{} of {ran} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
