//! Nothing a client sends takes the server down: every statement and request of issue 15
//! that used to overflow the stack, exhaust memory, hang or answer 500, against a real server
//! on an ephemeral loopback port, each with its exact outcome (HTTP status, Druid error, task
//! state and `errorCode`), and the server's health checked after each; then a seeded,
//! bounded fuzzer of nasty SQL and JSON bodies (`MSQ_FUZZ_CASES` cases, default 300;
//! `MSQ_FUZZ_SEED` to vary them).

mod common;

use common::http::{request_bytes, start_server, Resp, Server};
use common::*;
use msq_benches::prng::SplitMix64;
use msq_controller::Overlord;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// Every request must be answered within this.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

async fn start(dir: &Path) -> Server {
    let engine = Overlord::open_local(dir).unwrap();
    start_server(engine, 4, msq_controller::druid_api::DEFAULT_MAX_BODY_BYTES, None).await
}

/// One HTTP/1.1 exchange of raw bytes; the answer must come within [`RESPONSE_TIMEOUT`].
async fn exchange(addr: &str, method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> Resp {
    let headers: Vec<(&str, &str)> = content_type.map(|ct| ("Content-Type", ct)).into_iter().collect();
    tokio::time::timeout(RESPONSE_TIMEOUT, request_bytes(addr, method, path, &headers, body))
        .await
        .unwrap_or_else(|_| panic!("no answer to {method} {path} within {RESPONSE_TIMEOUT:?}"))
}

async fn get(addr: &str, path: &str) -> Resp {
    exchange(addr, "GET", path, None, b"").await
}

/// Submits a statement and waits (up to 60 s) for its task to end.
async fn submit(addr: &str, body: &Value) -> Resp {
    exchange(
        addr,
        "POST",
        "/druid/v2/sql/task?wait_for_completion=true&timeout=60s",
        Some("application/json"),
        body.to_string().as_bytes(),
    )
    .await
}

async fn assert_healthy(addr: &str) {
    let r = get(addr, "/status/health").await;
    assert_eq!((r.status, r.body.as_str()), (200, "true"), "health check failed");
}

/// The task's report `errorReport.error`.
async fn task_error(addr: &str, id: &str) -> Value {
    let r = get(addr, &format!("/druid/indexer/v1/task/{id}/reports")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["multiStageQuery"]["payload"]["status"]["errorReport"]["error"].clone()
}

/// What a request must come to.
#[derive(Debug)]
enum Expect {
    /// Refused at submission: HTTP 400 with this Druid `error` and a message containing this.
    Rejected(&'static str, &'static str),
    /// A task that fails with this `errorCode` and a message containing this.
    Failed(&'static str, &'static str),
    /// A task that succeeds.
    Succeeds,
}

/// Submits `sql` (with `context` and `parameters`) and checks the outcome; returns the task
/// id if one was created.
async fn check(addr: &str, what: &str, body: Value, expect: Expect) -> Option<String> {
    let started = Instant::now();
    let r = submit(addr, &body).await;
    assert!(r.status < 500, "{what}: {} {}", r.status, r.body);
    let outcome = match (&expect, r.status) {
        (Expect::Rejected(error, message), status) => {
            assert_eq!(status, 400, "{what}: expected a 400, got {}", r.body);
            let v = r.json();
            for k in ["error", "errorMessage", "errorClass", "host"] {
                assert!(v.get(k).is_some(), "{what}: {k} missing in {v}");
            }
            assert_eq!(v["error"], *error, "{what}: {v}");
            let m = v["errorMessage"].as_str().unwrap_or_default();
            assert!(m.contains(message), "{what}: [{m}] lacks [{message}]");
            None
        }
        (Expect::Failed(code, message), 200) => {
            let v = r.json();
            let id = v["taskId"].as_str().unwrap().to_string();
            assert_eq!(v["state"], "FAILED", "{what}: {v}");
            let e = task_error(addr, &id).await;
            assert_eq!(e["errorCode"], *code, "{what}: {e}");
            let m = e["errorMessage"].as_str().unwrap_or_default();
            assert!(m.contains(message), "{what}: [{m}] lacks [{message}]");
            let st = get(addr, &format!("/druid/indexer/v1/task/{id}/status")).await.json();
            assert_eq!(st["status"]["status"], "FAILED", "{what}: {st}");
            assert!(
                st["status"]["errorMsg"].as_str().unwrap_or_default().starts_with(code),
                "{what}: {st}"
            );
            Some(id)
        }
        (Expect::Succeeds, 200) => {
            let v = r.json();
            let id = v["taskId"].as_str().unwrap().to_string();
            if v["state"] != "SUCCESS" {
                panic!("{what}: {v} {}", task_error(addr, &id).await);
            }
            Some(id)
        }
        (_, _) => panic!("{what}: expected {expect:?}, got {} {}", r.status, r.body),
    };
    assert_healthy(addr).await;
    eprintln!("{what}: ok in {:?}", started.elapsed());
    outcome
}

fn q(sql: impl Into<String>) -> Value {
    json!({"query": sql.into()})
}

/// The rows of a SELECT task's report.
async fn results(addr: &str, id: &str) -> Vec<Value> {
    let r = get(addr, &format!("/druid/indexer/v1/task/{id}/reports")).await.json();
    r["multiStageQuery"]["payload"]["results"]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn chain(term: &str, op: &str, n: usize) -> String {
    vec![term; n].join(op)
}

fn wiki_extern() -> String {
    format!(
        r#"TABLE(EXTERN('{{"type":"local","files":["{}"]}}', '{{"type":"json"}}', '[{{"name":"page","type":"string"}}]'))"#,
        wiki_path()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_that_used_to_crash_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let a = s.addr.as_str();
    assert_healthy(a).await;
    let started = Instant::now();

    // 1. Deep SQL. Forty nested parentheses plan and run (on the planner's large stack).
    let id = check(
        a,
        "40 nested parentheses",
        q(format!("SELECT {}1{} AS x", "(".repeat(40), ")".repeat(40))),
        Expect::Succeeds,
    )
    .await
    .unwrap();
    assert_eq!(results(a, &id).await, vec![json!([1])]);
    // Past the parser's recursion limit: refused.
    check(
        a,
        "500 nested parentheses",
        q(format!("SELECT {}1{} AS x", "(".repeat(500), ")".repeat(500))),
        Expect::Rejected("Unsupported operation", "more than 200 levels deep"),
    )
    .await;
    // Long operator chains: refused past the depth limit, however they are spelled ...
    for (what, sql) in [
        ("2,000-term sum", format!("SELECT {} AS x", chain("1", "+", 2000))),
        (
            "5,000 ORs",
            format!("SELECT 1 AS x FROM (VALUES (1)) AS t(c) WHERE {}", {
                (0..5000).map(|i| format!("c = {i}")).collect::<Vec<_>>().join(" OR ")
            }),
        ),
        (
            "30,000-term AND chain",
            format!(
                "SELECT 1 AS x FROM (VALUES (1)) AS t(c) WHERE {}",
                chain("c = 1", " AND ", 30_000)
            ),
        ),
        (
            "20,000-term || chain",
            format!("SELECT {} AS x", chain("'a'", " || ", 20_000)),
        ),
    ] {
        check(
            a,
            what,
            q(sql),
            Expect::Rejected("Unsupported operation", "levels deep"),
        )
        .await;
    }
    // ... and evaluated by the workers when just below it.
    let id = check(
        a,
        "900-term sum over a column",
        q(format!(
            "SELECT {} AS x FROM (VALUES (1), (2)) AS t(c)",
            chain("c", " + ", 900)
        )),
        Expect::Succeeds,
    )
    .await
    .unwrap();
    let mut got = results(a, &id).await;
    got.sort_by_key(|v| v[0].as_i64());
    assert_eq!(got, vec![json!([900]), json!([1800])]);
    let id = check(
        a,
        "300 UNION ALLs",
        q(chain("SELECT 1 AS x", " UNION ALL ", 301)),
        Expect::Succeeds,
    )
    .await
    .unwrap();
    assert_eq!(results(a, &id).await.len(), 301);
    let list: Vec<String> = (0..100_000).map(|i| i.to_string()).collect();
    let id = check(
        a,
        "IN list of 100,000 numbers",
        q(format!(
            "SELECT c FROM (VALUES (5), (100001)) AS t(c) WHERE c IN ({})",
            list.join(", ")
        )),
        Expect::Succeeds,
    )
    .await
    .unwrap();
    assert_eq!(results(a, &id).await, vec![json!([5])]);

    // 2. A panic in a worker (DataFusion's LPAD with a negative length and a NULL fill
    //    overflows a capacity) fails that task with the panic message; the server goes on.
    check(
        a,
        "panic in a worker",
        q("SELECT LPAD(d, -1, NULL) AS x FROM (VALUES ('a')) AS t(d)"),
        Expect::Failed("UnknownError", "panicked: capacity overflow"),
    )
    .await;

    // The same panic while planning (the call is folded to a constant) fails the task too.
    check(
        a,
        "panic while planning",
        q("SELECT LPAD('', -1, NULL) AS x"),
        Expect::Failed("UnknownError", "Planning panicked: capacity overflow"),
    )
    .await;

    // 3. Memory: oversized values fail before they are built; absurd context values are refused.
    for (what, sql) in [
        ("REPEAT of 1e9", "SELECT REPEAT('x', 1000000000) AS x"),
        ("LPAD to 2e9", "SELECT LPAD('x', 2000000000, 'y') AS x"),
        (
            "REPEAT of 1e9 over a column",
            "SELECT REPEAT(c, 1000000000) AS x FROM (VALUES ('a'), ('b')) AS t(c)",
        ),
    ] {
        check(
            a,
            what,
            q(sql),
            Expect::Failed(
                "RowTooLarge",
                "cannot fit in a single frame (max frame size = 1,000,000)",
            ),
        )
        .await;
    }
    check(
        a,
        "STRING_FORMAT of width 2e9",
        q("SELECT STRING_FORMAT('%2000000000d', 1) AS x"),
        Expect::Failed(
            "InvalidInput",
            "Format width [2000000000] in [%2000000000d] is larger than a value may be",
        ),
    )
    .await;
    for (key, value) in [
        ("rowsPerFrame", json!(2147483648_i64)),
        ("rowsPerFrame", json!(0)),
        ("maxNumTasks", json!(1_i64 << 40)),
        ("rowsPerSegment", json!(-1)),
        ("workerMemoryBytes", json!(1_i64 << 62)),
        ("maxParseExceptions", json!(-7)),
        ("maxRowsInMemory", json!("lots")),
    ] {
        let what = format!("context {key} = {value}");
        check(
            a,
            &what,
            json!({"query": "SELECT 1 AS x", "context": {key: value}}),
            Expect::Rejected("Plan validation failed", key),
        )
        .await;
    }

    // 4. 300,000 columns: TooManyColumns before anything expensive.
    let t = Instant::now();
    check(
        a,
        "300,000 columns",
        q(format!("SELECT {}", vec!["1"; 300_000].join(", "))),
        Expect::Rejected(
            "Invalid input",
            "Too many output columns (requested = 300000, max = 2000)",
        ),
    )
    .await;
    assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());

    // 5. The user's mistakes are 400s.
    check(
        a,
        "TIMESTAMP parameter that is not a time",
        json!({"query": "SELECT ? AS t", "parameters": [{"type": "TIMESTAMP", "value": "not a time"}]}),
        Expect::Rejected(
            "Plan validation failed",
            "Illegal TIMESTAMP literal 'not a time': not in format 'yyyy-MM-dd HH:mm:ss'",
        ),
    )
    .await;
    check(
        a,
        "invalid regular expression",
        q(format!(
            "SELECT page FROM {} WHERE REGEXP_LIKE(page, '((')",
            wiki_extern()
        )),
        Expect::Rejected(
            "Plan validation failed",
            "Function [REGEXP_LIKE] has an invalid regular expression [((]",
        ),
    )
    .await;
    for max in ["18446744073709551615", "-1", "x"] {
        let r = get(a, &format!("/druid/indexer/v1/tasks?state=complete&max={max}")).await;
        assert_eq!(r.status, 400, "max={max}: {}", r.body);
        assert_eq!(r.json()["error"], "Invalid input");
        assert!(r.json()["errorMessage"].as_str().unwrap().contains("Invalid max"));
    }
    let r = get(a, "/druid/indexer/v1/tasks?state=complete&max=2147483647").await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A time in year 9999 is a valid Druid time: it is ingested and read back.
    check(
        a,
        "INSERT of TIMESTAMP '9999-12-31 23:59:59'",
        q("INSERT INTO far_future SELECT TIMESTAMP '9999-12-31 23:59:59' AS __time, 'x' AS v PARTITIONED BY DAY"),
        Expect::Succeeds,
    )
    .await;
    let id = check(
        a,
        "SELECT of year 9999",
        q("SELECT __time, v FROM far_future"),
        Expect::Succeeds,
    )
    .await
    .unwrap();
    assert_eq!(results(a, &id).await, vec![json!(["9999-12-31T23:59:59.000Z", "x"])]);

    eprintln!("all quoted statements in {:?}", started.elapsed());
    assert!(!s.handle.is_finished(), "the server stopped");
    s.handle.abort();
    assert_peak_memory_bounded();
}

// ---------------------------------------------------------------------------------------------
// Fuzzer

/// Pieces of nasty SQL.
const ATOMS: [&str; 26] = [
    "1",
    "-9223372036854775808",
    "9223372036854775807",
    "1e308",
    "0.0",
    "NULL",
    "'x'",
    "''",
    "'\u{0}'",
    "'ü€𝄞'",
    "'\u{202e}rtl'",
    "c",
    "\"c\"",
    "__time",
    "TIMESTAMP '2000-01-01 00:00:00'",
    "TIMESTAMP '0000-00-00'",
    "DATE '9999-12-31'",
    "CURRENT_TIMESTAMP",
    "ARRAY[1, 2]",
    "?",
    "'%s%s%s'",
    "'(('",
    "x'00ff'",
    "c",
    "d",
    "c",
];

const FUNCTIONS: [&str; 26] = [
    "REPEAT",
    "LPAD",
    "RPAD",
    "CONCAT",
    "UPPER",
    "SUBSTRING",
    "REPLACE",
    "REGEXP_LIKE",
    "REGEXP_EXTRACT",
    "TIME_PARSE",
    "TIME_FORMAT",
    "TIME_FLOOR",
    "TIME_SHIFT",
    "MILLIS_TO_TIMESTAMP",
    "STRING_FORMAT",
    "PARSE_LONG",
    "CAST",
    "COALESCE",
    "ABS",
    "ARRAY_REPEAT",
    "RANGE",
    "TIMESTAMPADD",
    "DATE_TRUNC",
    "LATEST",
    "COUNT",
    "APPROX_COUNT_DISTINCT",
];

const OPERATORS: [&str; 12] = [
    " + ", " - ", " * ", " / ", " % ", " || ", " AND ", " OR ", " = ", " < ", " LIKE ", " IS NOT ",
];

fn pick<'a>(r: &mut SplitMix64, xs: &[&'a str]) -> &'a str {
    xs[r.below(xs.len() as u64) as usize]
}

fn big_number(r: &mut SplitMix64) -> String {
    match r.below(6) {
        0 => "1000000000".into(),
        1 => "-1".into(),
        2 => "2147483648".into(),
        3 => "99999999999999999999999".into(),
        4 => r.below(100).to_string(),
        _ => "0".into(),
    }
}

/// A random expression `depth` levels deep at most.
fn expr(r: &mut SplitMix64, depth: u32) -> String {
    if depth == 0 {
        return pick(r, &ATOMS).to_string();
    }
    match r.below(9) {
        0 | 1 => format!("{}{}{}", expr(r, depth - 1), pick(r, &OPERATORS), expr(r, depth - 1)),
        2 | 3 => {
            let f = pick(r, &FUNCTIONS);
            match f {
                "CAST" => format!(
                    "CAST({} AS {})",
                    expr(r, depth - 1),
                    pick(r, &["BIGINT", "VARCHAR", "TIMESTAMP", "DOUBLE", "DATE"])
                ),
                "REPEAT" | "LPAD" | "RPAD" | "ARRAY_REPEAT" => {
                    format!("{f}({}, {})", expr(r, depth - 1), big_number(r))
                }
                _ => {
                    let n = r.below(4);
                    let args: Vec<String> = (0..n).map(|_| expr(r, depth - 1)).collect();
                    format!("{f}({})", args.join(", "))
                }
            }
        }
        4 => format!("({})", expr(r, depth - 1)),
        5 => {
            // Chains past the depth limit are refused at once; below it some plan slowly in
            // debug builds (300 ARRAY `||` terms take 10 s), so accepted ones stay short.
            let n = [50, 150, 1500][r.below(3) as usize];
            let op = pick(r, &OPERATORS);
            format!("({})", chain(&expr(r, 0), op, n))
        }
        6 => {
            let n = [40, 150, 250][r.below(3) as usize];
            format!("{}{}{}", "(".repeat(n), expr(r, 0), ")".repeat(n))
        }
        7 => format!(
            "CASE WHEN {} THEN {} ELSE {} END",
            expr(r, depth - 1),
            expr(r, depth - 1),
            expr(r, depth - 1)
        ),
        _ => format!(
            "{} IN ({})",
            expr(r, 0),
            chain(&expr(r, 0), ", ", 1 + r.below(2000) as usize)
        ),
    }
}

/// A well-typed BIGINT expression over `c` (so that most statements plan and run).
fn num_expr(r: &mut SplitMix64, depth: u32) -> String {
    if depth == 0 {
        return pick(r, &["c", "1", "0", "-1", "9223372036854775807", "NULL", "2147483648"]).to_string();
    }
    match r.below(8) {
        0 | 1 => format!(
            "({}{}{})",
            num_expr(r, depth - 1),
            pick(r, &[" + ", " - ", " * ", " / ", " % "]),
            num_expr(r, depth - 1)
        ),
        2 => format!("LENGTH({})", str_expr(r, depth - 1)),
        3 => format!("ABS({})", num_expr(r, depth - 1)),
        4 => format!("COALESCE({}, {})", num_expr(r, depth - 1), num_expr(r, depth - 1)),
        5 => format!("PARSE_LONG({})", str_expr(r, depth - 1)),
        6 => format!("TIMESTAMP_TO_MILLIS(MILLIS_TO_TIMESTAMP({}))", num_expr(r, depth - 1)),
        _ => format!("CAST({} AS BIGINT)", str_expr(r, depth - 1)),
    }
}

/// A well-typed VARCHAR expression over `d`.
fn str_expr(r: &mut SplitMix64, depth: u32) -> String {
    if depth == 0 {
        return pick(r, &["d", "'x'", "''", "'ü€𝄞'", "'\u{0}'", "NULL", "'123'", "'(('"]).to_string();
    }
    match r.below(10) {
        0 => format!("REPEAT({}, {})", str_expr(r, depth - 1), big_number(r)),
        1 => format!(
            "LPAD({}, {}, {})",
            str_expr(r, depth - 1),
            big_number(r),
            str_expr(r, 0)
        ),
        2 => format!("CONCAT({}, {})", str_expr(r, depth - 1), str_expr(r, depth - 1)),
        3 => format!("({} || {})", str_expr(r, depth - 1), str_expr(r, depth - 1)),
        4 => format!("UPPER({})", str_expr(r, depth - 1)),
        5 => format!(
            "REPLACE({}, {}, {})",
            str_expr(r, depth - 1),
            str_expr(r, 0),
            str_expr(r, depth - 1)
        ),
        6 => format!("CAST({} AS VARCHAR)", num_expr(r, depth - 1)),
        7 => format!("REGEXP_EXTRACT({}, {})", str_expr(r, depth - 1), str_expr(r, 0)),
        8 => format!(
            "TIME_FORMAT(TIME_PARSE({}), {})",
            str_expr(r, depth - 1),
            str_expr(r, 0)
        ),
        _ => format!(
            "SUBSTRING({}, {}, {})",
            str_expr(r, depth - 1),
            num_expr(r, 0),
            num_expr(r, 0)
        ),
    }
}

/// A random statement over a two-row inline table `t(c, d)`.
fn statement(r: &mut SplitMix64) -> String {
    let n = 1 + r.below(3);
    let cols: Vec<String> = (0..n)
        .map(|i| {
            let e = match r.below(3) {
                0 => expr(r, 2),
                1 => num_expr(r, 3),
                _ => str_expr(r, 3),
            };
            format!("{e} AS e{i}")
        })
        .collect();
    let from = "FROM (VALUES (1, 'a'), (2, NULL)) AS t(c, d)";
    let mut sql = match r.below(8) {
        0 => format!("SELECT {} {from} WHERE {} > 0", cols.join(", "), num_expr(r, 2)),
        1 => format!("SELECT {} AS g, COUNT(*) AS n {from} GROUP BY 1", str_expr(r, 2)),
        2 => format!(
            "INSERT INTO fuzz_{} SELECT TIMESTAMP '2000-01-01 00:00:00' AS __time, {} {from} PARTITIONED BY {}",
            r.below(3),
            cols.join(", "),
            pick(r, &["DAY", "ALL", "HOUR", "'P1D'", "YEAR"])
        ),
        3 => format!(
            "SELECT {} AS u UNION ALL SELECT {} AS u",
            num_expr(r, 2),
            num_expr(r, 2)
        ),
        4 => format!("SELECT {} {from} ORDER BY 1 LIMIT {}", cols.join(", "), big_number(r)),
        _ => format!("SELECT {} {from}", cols.join(", ")),
    };
    // Mutations: truncate, splice garbage.
    match r.below(16) {
        0 => {
            let cut = r.below(sql.len() as u64 + 1) as usize;
            let cut = (0..=cut).rev().find(|&i| sql.is_char_boundary(i)).unwrap_or(0);
            sql.truncate(cut);
        }
        1 => {
            let at = r.below(sql.len() as u64 + 1) as usize;
            let at = (0..=at).rev().find(|&i| sql.is_char_boundary(i)).unwrap_or(0);
            sql.insert_str(
                at,
                pick(
                    r,
                    &[")", "(", "'", "\"", ";", " FROM ", "\u{0}", " PARTITIONED BY DAY "],
                ),
            );
        }
        _ => {}
    }
    sql
}

/// A random context.
fn context(r: &mut SplitMix64) -> Value {
    let keys = [
        "maxNumTasks",
        "rowsPerFrame",
        "rowsPerSegment",
        "workerMemoryBytes",
        "maxParseExceptions",
        "maxRowsInMemory",
        "sqlTimeZone",
        "finalizeAggregations",
        "sqlJoinAlgorithm",
        "rowsPerPage",
    ];
    let values = [
        json!(0),
        json!(-1),
        json!(2),
        json!(3),
        json!(2147483648_i64),
        json!(1e300),
        json!("x"),
        json!(true),
        json!(null),
        json!([1]),
        json!({"a": 1}),
        json!("America/Los_Angeles"),
    ];
    let mut m = serde_json::Map::new();
    if r.below(3) != 0 {
        return Value::Object(m);
    }
    for _ in 0..1 + r.below(2) {
        let k = keys[r.below(keys.len() as u64) as usize];
        let v = values[r.below(values.len() as u64) as usize].clone();
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

/// A random request body: a statement with context and parameters, or garbage.
fn body(r: &mut SplitMix64) -> Vec<u8> {
    let sql = statement(r);
    let mut v = json!({"query": sql, "context": context(r)});
    let placeholders = sql.matches('?').count() as u64;
    if placeholders > 0 || r.below(10) == 0 {
        let types = [
            "TIMESTAMP",
            "DATE",
            "VARCHAR",
            "BIGINT",
            "ARRAY",
            "nonsense",
            "VARCHAR",
            "BIGINT",
        ];
        let values = [
            json!("not a time"),
            json!(1),
            json!(null),
            json!([1]),
            json!("it's"),
            json!(1.5e300),
            json!("2000-01-01 00:00:00"),
            json!(7),
        ];
        let n = if r.below(4) == 0 { r.below(3) } else { placeholders };
        let params: Vec<Value> = (0..n)
            .map(|_| {
                json!({
                    "type": types[r.below(types.len() as u64) as usize],
                    "value": values[r.below(values.len() as u64) as usize].clone()
                })
            })
            .collect();
        v["parameters"] = Value::Array(params);
    }
    let text = v.to_string();
    match r.below(24) {
        0 => text.as_bytes()[..r.below(text.len() as u64) as usize].to_vec(),
        1 => b"{\"query\": 5}".to_vec(),
        2 => (0..r.below(200)).map(|_| r.below(256) as u8).collect(),
        3 => format!("[{text}]").into_bytes(),
        4 => b"{\"query\": \"SELECT 1\", \"context\": [], \"parameters\": {}}".to_vec(),
        _ => text.into_bytes(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzzed_statements_and_bodies_never_take_the_server_down() {
    let cases: u64 = std::env::var("MSQ_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let seed: u64 = std::env::var("MSQ_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let a = s.addr.as_str();
    let mut r = SplitMix64::new(seed);
    let started = Instant::now();
    let (mut rejected, mut succeeded, mut failed) = (0, 0, 0);
    for case in 0..cases {
        let body = body(&mut r);
        let shown = String::from_utf8_lossy(&body[..body.len().min(300)]).to_string();
        let content_type = if r.below(40) == 0 {
            "text/plain"
        } else {
            "application/json"
        };
        if std::env::var_os("MSQ_FUZZ_VERBOSE").is_some() {
            eprintln!("sending case {case}: {shown}");
        }
        let t = Instant::now();
        let resp = exchange(
            a,
            "POST",
            "/druid/v2/sql/task?wait_for_completion=true&timeout=10s",
            Some(content_type),
            &body,
        )
        .await;
        assert!(
            resp.status < 500,
            "case {case} (seed {seed}): {} {}\n{shown}",
            resp.status,
            resp.body
        );
        if resp.status == 200 {
            let v = resp.json();
            let id = v["taskId"].as_str().unwrap().to_string();
            match v["state"].as_str() {
                Some("SUCCESS") => succeeded += 1,
                Some("FAILED") => {
                    let e = task_error(a, &id).await;
                    assert!(e["errorCode"].is_string(), "case {case}: {e}\n{shown}");
                    if std::env::var_os("MSQ_FUZZ_VERBOSE").is_some() {
                        eprintln!("case {case} failed: {e}");
                    }
                    failed += 1;
                }
                other => panic!("case {case}: task still {other:?} after 10 s\n{shown}"),
            }
        } else {
            assert!(
                [400, 413, 415, 422].contains(&resp.status),
                "case {case}: {} {}\n{shown}",
                resp.status,
                resp.body
            );
            rejected += 1;
        }
        if std::env::var_os("MSQ_FUZZ_VERBOSE").is_some() {
            eprintln!(
                "case {case}: {} {}\n  {shown}",
                resp.status,
                &resp.body[..resp.body.len().min(200)]
            );
        }
        assert!(
            t.elapsed() < RESPONSE_TIMEOUT,
            "case {case} took {:?}\n{shown}",
            t.elapsed()
        );
        assert_healthy(a).await;
    }
    eprintln!(
        "{cases} fuzz cases (seed {seed}) in {:?}: {rejected} rejected, {succeeded} succeeded, {failed} failed",
        started.elapsed()
    );
    assert!(!s.handle.is_finished(), "the server stopped");
    s.handle.abort();
    assert_peak_memory_bounded();
}

/// The server runs inside this test process: its peak resident memory (`VmHWM`) must stay
/// far below what the hostile statements used to take (`REPEAT('x', 1000000000)` alone went
/// past 8 GiB), whatever else the process ran.
const MAX_PEAK_RSS_MIB: u64 = 2048;

fn assert_peak_memory_bounded() {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return; // not Linux
    };
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    eprintln!("peak RSS of the test process (server included): {} MiB", kib / 1024);
    assert!(kib / 1024 < MAX_PEAK_RSS_MIB, "peak RSS {} MiB", kib / 1024);
}
