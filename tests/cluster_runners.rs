//! The same queries on every task runner: embedded workers, `msq worker` child processes and
//! remote `msq worker` processes that registered with the controller, with and without
//! durable shuffle storage; a worker killed mid-query with and without fault tolerance; and
//! the cluster secret on worker endpoints.

mod common;

use common::*;
use msq_controller::launcher::{Runner, RunnerKind};
use msq_controller::Overlord;
use msq_rows::rpc::ClusterAuth;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MSQ: &str = env!("CARGO_BIN_EXE_msq");

fn runner(kind: RunnerKind, dir: &Path, secret: Option<&str>) -> Runner {
    let mut r = Runner::embedded();
    r.kind = kind;
    r.auth = ClusterAuth::new(secret.map(str::to_string)).unwrap();
    r.worker_command = MSQ.into();
    r.tmp_dir = dir.join("tmp").join("workers");
    r
}

async fn engine_with(kind: RunnerKind, secret: Option<&str>) -> TestEngine {
    let mut t = engine();
    let r = runner(kind, t.dir.path(), secret);
    t.engine.use_runner(r, None).await.unwrap();
    t
}

/// A `msq worker` process registered with `engine`'s controller endpoints.
struct RemoteWorker {
    child: Child,
    url: String,
}

impl Drop for RemoteWorker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_remote_worker(engine: &Overlord, secret: Option<&str>) -> RemoteWorker {
    let deep = engine.data_dir.join("segments");
    let tmp = tempfile::tempdir().unwrap().keep();
    let mut cmd = Command::new(MSQ);
    cmd.args(["worker", "--bind", "127.0.0.1:0", "--controller-url"])
        .arg(engine.controller_url.as_ref().unwrap())
        .arg("--deep-storage")
        .arg(&deep)
        .arg("--tmp-dir")
        .arg(&tmp)
        .env_remove("MSQ_CLUSTER_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(s) = secret {
        cmd.env("MSQ_CLUSTER_SECRET", s);
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("msq worker listening on ")
        .unwrap()
        .to_string();
    RemoteWorker { child, url }
}

async fn wait_registered(engine: &Overlord, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while engine.runner.registry.live().len() < n {
        assert!(Instant::now() < deadline, "workers did not register");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Queries whose answers must not depend on the runner.
const SUITE: [&str; 5] = [
    "SELECT channel, COUNT(*) AS cnt, SUM(added) FROM wikipedia GROUP BY channel ORDER BY cnt DESC, channel LIMIT 10",
    "SELECT COUNT(*), COUNT(DISTINCT \"user\"), SUM(delta), MIN(__time), MAX(__time) FROM wikipedia",
    "SELECT TIME_FLOOR(__time, 'PT1H') AS h, COUNT(*), SUM(added) FROM wikipedia GROUP BY 1 ORDER BY 1",
    "SELECT countryName, cityName, COUNT(*) AS c FROM wikipedia WHERE countryName IS NOT NULL GROUP BY 1, 2 ORDER BY c DESC, 1, 2 LIMIT 20",
    "SELECT page, \"user\", added FROM wikipedia WHERE added > 2000 ORDER BY added DESC, page, \"user\"",
];

/// Segments of a datasource as (interval, partition, rows).
fn segment_shape(e: &Overlord, ds: &str) -> Vec<(String, u32, u64)> {
    let mut v: Vec<(String, u32, u64)> = e
        .metadata
        .used_segments(ds, None)
        .unwrap()
        .into_iter()
        .filter(|s| !s.is_tombstone)
        .map(|s| (s.id.interval.to_iso(), s.id.partition_num, s.num_rows))
        .collect();
    v.sort();
    v
}

async fn run_suite(e: &Overlord, context: Value) -> (Vec<(String, u32, u64)>, Vec<Vec<Vec<Value>>>) {
    let (_, outcome, _) = run_ok(e, &insert_wikipedia_sql("wikipedia"), context.clone()).await;
    assert_eq!(outcome.rows_written, 39_244);
    let mut results = Vec::new();
    for q in SUITE {
        results.push(select(e, q, context.clone()).await);
    }
    (segment_shape(e, "wikipedia"), results)
}

fn independent_top_channels() -> Vec<Vec<Value>> {
    let mut agg: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for r in wiki_rows() {
        let e = agg.entry(r["channel"].as_str().unwrap().to_string()).or_default();
        e.0 += 1;
        e.1 += r["added"].as_i64().unwrap();
    }
    let mut v: Vec<(String, i64, i64)> = agg.into_iter().map(|(k, (c, s))| (k, c, s)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(10);
    v.into_iter()
        .map(|(c, n, s)| vec![json!(c), json!(n), json!(s)])
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_runner_gives_identical_results() {
    let base = engine();
    let expected = run_suite(&base.engine, json!({"maxNumTasks": 4})).await;
    assert_eq!(expected.1[0], independent_top_channels());
    assert_eq!(expected.1[1][0][0], json!(39_244));
    assert!(expected.0.len() >= 24, "hourly segments: {:?}", expected.0);

    for durable in [false, true] {
        let context = json!({"maxNumTasks": 4, "durableShuffleStorage": durable});
        let p = engine_with(RunnerKind::Process, None).await;
        let got = run_suite(&p.engine, context.clone()).await;
        assert_eq!(got, expected, "process runner, durableShuffleStorage={durable}");
        if durable {
            let shuffle = p.dir.path().join("segments").join("shuffle");
            assert!(shuffle.exists(), "stage outputs went to durable storage");
            assert_eq!(
                count_files(&shuffle),
                0,
                "durable shuffle files are deleted when queries end"
            );
        }

        // The remote runner requires a cluster secret (the process runner generates one).
        let r = engine_with(RunnerKind::Remote, Some("suite-secret")).await;
        let _w1 = start_remote_worker(&r.engine, Some("suite-secret"));
        let _w2 = start_remote_worker(&r.engine, Some("suite-secret"));
        wait_registered(&r.engine, 2).await;
        let got = run_suite(&r.engine, context).await;
        assert_eq!(got, expected, "remote runner, durableShuffleStorage={durable}");
    }
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| if e.path().is_dir() { count_files(&e.path()) } else { 1 })
                .sum()
        })
        .unwrap_or(0)
}

/// Child processes of this test process whose command line mentions `needle`.
fn children_matching(needle: &str) -> Vec<(u32, String)> {
    let me = std::process::id();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid: u32 = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        if ppid != me {
            continue;
        }
        let mut cmdline = String::new();
        if let Ok(mut f) = std::fs::File::open(format!("/proc/{pid}/cmdline")) {
            let _ = f.read_to_string(&mut cmdline);
        }
        let cmdline = cmdline.replace('\0', " ");
        if cmdline.contains(needle) {
            out.push((pid, cmdline));
        }
    }
    out
}

/// An INSERT over `copies` copies of the sample, slow enough to kill a worker during it.
fn big_insert_sql(dir: &Path, copies: usize) -> String {
    let src = wiki_path();
    let mut files = Vec::new();
    for i in 0..copies {
        let p = dir.join(format!("wiki-{i}.json.gz"));
        std::fs::copy(&src, &p).unwrap();
        files.push(format!("\"{}\"", p.display()));
    }
    format!(
        r#"INSERT INTO big
SELECT TIME_PARSE("time") AS __time, channel, page, "user", added
FROM TABLE(EXTERN('{{"type":"local","files":[{}]}}', '{{"type":"json"}}',
  '[{{"name":"time","type":"string"}},{{"name":"channel","type":"string"}},{{"name":"page","type":"string"}},{{"name":"user","type":"string"}},{{"name":"added","type":"long"}}]'))
PARTITIONED BY DAY
CLUSTERED BY page"#,
        files.join(",")
    )
}

/// Runs `sql` on `engine`, SIGKILLing worker 1's process once stage 0 has read some rows.
async fn run_and_kill_worker(
    engine: &Overlord,
    sql: &str,
    context: Value,
) -> (Result<msq_controller::QueryOutcome, msq_engine::MsqError>, Value) {
    let task = engine.prepare(sql, &ctx(context)).await.unwrap();
    engine.record_start(&task).unwrap();
    let report: msq_controller::report::LiveReport = std::sync::Arc::new(std::sync::Mutex::new(
        msq_controller::report::ReportState::new(&task.task_id, &engine.host),
    ));
    let (_cancel, cancel_rx) = tokio::sync::watch::channel(false);
    let needle = format!("{}-worker1_0", task.task_id);
    let killer = {
        let report = report.clone();
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                assert!(Instant::now() < deadline, "never got to kill a worker");
                let rows = {
                    let json = msq_controller::report::ReportState::lock(&report).to_json();
                    let c = &json["multiStageQuery"]["payload"]["counters"]["0"];
                    c.as_object()
                        .map(|workers| {
                            workers
                                .values()
                                .filter_map(|w| w["input0"]["rows"].as_array())
                                .flat_map(|a| a.iter().filter_map(|v| v.as_i64()))
                                .sum::<i64>()
                        })
                        .unwrap_or(0)
                };
                let victims = children_matching(&needle);
                if rows > 0 && !victims.is_empty() {
                    for (pid, _) in &victims {
                        Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
                    }
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let result = engine.run(&task, report.clone(), cancel_rx).await;
    killer.await.unwrap();
    let json = msq_controller::report::ReportState::lock(&report).to_json();
    (result, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_worker_is_relaunched_with_fault_tolerance_and_fails_cleanly_without() {
    let data = tempfile::tempdir().unwrap();
    let copies = 8;
    let sql = big_insert_sql(data.path(), copies);
    let expected_rows = 39_244 * copies as u64;

    // Fault tolerance: the query survives with identical results.
    let t = engine_with(RunnerKind::Process, None).await;
    let (result, report) =
        run_and_kill_worker(&t.engine, &sql, json!({"maxNumTasks": 4, "faultTolerance": true})).await;
    let outcome = result.unwrap_or_else(|e| panic!("{}: {e}\n{report:#}", e.error_code()));
    assert_eq!(outcome.rows_written, expected_rows);
    let workers = &report["multiStageQuery"]["payload"]["status"]["workers"];
    let attempts = workers["1"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "worker 1 was relaunched once: {workers:#}");
    assert_eq!(attempts[0]["state"], "FAILED");
    assert!(attempts[0]["workerId"].as_str().unwrap().ends_with("-worker1_0"));
    assert!(attempts[1]["workerId"].as_str().unwrap().ends_with("-worker1_1"));
    assert_eq!(attempts[1]["state"], "SUCCESS");
    let rows = select(
        &t.engine,
        "SELECT COUNT(*), SUM(added), COUNT(DISTINCT page) FROM big",
        json!({"maxNumTasks": 2}),
    )
    .await;
    let total_added: i64 = wiki_rows().iter().map(|r| r["added"].as_i64().unwrap()).sum();
    let pages: std::collections::BTreeSet<String> = wiki_rows()
        .iter()
        .map(|r| r["page"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        rows[0],
        vec![
            json!(expected_rows),
            json!(total_added * copies as i64),
            json!(pages.len())
        ]
    );

    // Without fault tolerance: the task fails and publishes nothing.
    let t = engine_with(RunnerKind::Process, None).await;
    let (result, report) = run_and_kill_worker(&t.engine, &sql, json!({"maxNumTasks": 4})).await;
    let err = result.expect_err("a killed worker fails the query without fault tolerance");
    assert!(
        matches!(err.error_code(), "WorkerFailed" | "WorkerRpcFailed"),
        "{}: {err}",
        err.error_code()
    );
    assert_eq!(
        report["multiStageQuery"]["payload"]["status"]["errorReport"]["error"]["errorCode"],
        json!(err.error_code())
    );
    assert!(t.engine.metadata.used_segments("big", None).unwrap().is_empty());
    assert!(t.engine.metadata.pending_segments("big").unwrap().is_empty());
}

/// A raw HTTP/1.1 request; returns the status code.
fn http_status(url: &str, method: &str, path: &str, auth: Option<&str>, body: &str) -> u16 {
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let auth = auth
        .map(|a| format!("Authorization: Bearer {a}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    resp.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn worker_endpoints_require_the_cluster_secret() {
    let t = engine_with(RunnerKind::Remote, Some("s3cret")).await;
    let w = start_remote_worker(&t.engine, Some("s3cret"));
    wait_registered(&t.engine, 1).await;
    // Anyone else is refused, by the worker and by the controller's worker endpoints.
    for auth in [None, Some("wrong")] {
        assert_eq!(
            http_status(&w.url, "POST", "/druid/worker/v1/workOrder", auth, "{}"),
            401
        );
        assert_eq!(
            http_status(&w.url, "GET", "/druid/worker/v1/channels/q/0/0/0", auth, ""),
            401
        );
        let c = t.engine.controller_url.clone().unwrap();
        assert_eq!(
            http_status(
                &c,
                "POST",
                "/druid/msq/v1/workers/register",
                auth,
                r#"{"url":"http://evil:1"}"#
            ),
            401
        );
        assert_eq!(
            http_status(&c, "POST", "/druid/msq/v1/controller/t/counters/0/0", auth, "{}"),
            401
        );
    }
    assert_eq!(t.engine.runner.registry.live(), vec![w.url.clone()]);
    // With the secret, queries run.
    let rows = select(
        &t.engine,
        &format!(
            "SELECT COUNT(*) FROM TABLE(EXTERN('{{\"type\":\"local\",\"files\":[\"{}\"]}}', '{{\"type\":\"json\"}}', '[{{\"name\":\"channel\",\"type\":\"string\"}}]'))",
            wiki_path()
        ),
        json!({"maxNumTasks": 3}),
    )
    .await;
    assert_eq!(rows, vec![vec![json!(39_244)]]);
}
