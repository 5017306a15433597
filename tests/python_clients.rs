//! Druid's own Python client, unchanged, against a real server on a loopback port: pydruid's
//! DB-API (tests/python/dbapi_test.py) and its SQLAlchemy dialect
//! (tests/python/sqlalchemy_test.py) over the wikipedia sample ingested as `wiki`, with basic
//! auth off and on. The scripts assert values computed from the raw file by Python itself;
//! here the exit code and the number of checks they report are asserted.
//!
//! The Python comes from `MSQ_TEST_PYTHON`, the venv scripts/ci-services.sh installs pinned
//! pydruid and SQLAlchemy into (scripts/python-test-env.sh); without it the tests print why
//! and skip, as the S3 tests do without their server.

mod common;

use common::http::{basic_auth, request, start_server, Resp, Server};
use common::*;
use msq_controller::druid_api::Credentials;
use msq_controller::Overlord;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const DATASOURCE: &str = "wiki";
const USER: &str = "analyst";
const PASSWORD: &str = "s3cret:with colon";
const WRONG_PASSWORD: &str = "not-the-password";

/// The venv's python, or `None` after printing why the test is skipped.
fn python() -> Option<PathBuf> {
    match std::env::var("MSQ_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            println!(
                "skipping Python client test: MSQ_TEST_PYTHON not set (`source scripts/ci-services.sh` installs \
                 pydruid and SQLAlchemy into .ci/.venv and sets it)"
            );
            None
        }
    }
}

/// A POST with a JSON body and, when given, an `Authorization` header.
async fn post(addr: &str, path: &str, body: &serde_json::Value, auth: Option<&str>) -> Resp {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = auth {
        headers.push(("Authorization", a));
    }
    request(addr, "POST", path, &headers, Some(&body.to_string())).await
}

/// Serves a fresh local engine (with the test user when `auth`) and ingests the whole
/// wikipedia sample as [`DATASOURCE`] through the task endpoint.
async fn server_with_wiki(dir: &Path, auth: bool) -> Server {
    let creds = auth.then(|| Credentials::parse(&format!("{USER}:{PASSWORD}\n")).unwrap());
    let s = start_server(Overlord::open_local(dir).unwrap(), 4, 1 << 20, creds).await;
    let header = auth.then(|| basic_auth(USER, PASSWORD));
    let body = json!({"query": insert_wikipedia_sql(DATASOURCE), "context": {"maxNumTasks": 2}});
    let r = post(&s.addr, "/druid/v2/sql/task", &body, header.as_deref()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["taskId"].as_str().unwrap().to_string();
    let status_path = format!("/druid/indexer/v1/task/{id}/status");
    let mut headers = Vec::new();
    if let Some(h) = &header {
        headers.push(("Authorization", h.as_str()));
    }
    for _ in 0..6000 {
        let st = request(&s.addr, "GET", &status_path, &headers, None).await;
        assert_eq!(st.status, 200, "{}", st.body);
        let state = st.json()["status"]["status"].as_str().unwrap().to_string();
        if state != "RUNNING" {
            assert_eq!(state, "SUCCESS", "{}", st.body);
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("ingesting {DATASOURCE} did not finish");
}

/// Runs `tests/python/<script>` against the server; returns its output.
async fn run_script(python: &Path, script: &str, addr: &str, auth: bool) -> Output {
    let (host, port) = addr.rsplit_once(':').unwrap();
    let mut cmd = Command::new(python);
    cmd.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python"))
        .arg(script)
        .args(["--host", host, "--port", port, "--datasource", DATASOURCE])
        .args(["--data", &wiki_path()]);
    if auth {
        cmd.args([
            "--user",
            USER,
            "--password",
            PASSWORD,
            "--wrong-password",
            WRONG_PASSWORD,
        ]);
    }
    // No bytecode caches in the source tree.
    cmd.env("PYTHONDONTWRITEBYTECODE", "1");
    tokio::task::spawn_blocking(move || cmd.output().expect("the venv's python runs"))
        .await
        .unwrap()
}

/// Asserts that `script` passed and reported `checks` checks.
async fn assert_script_passes(python: &Path, script: &str, addr: &str, auth: bool, suite: &str, checks: usize) {
    let out = run_script(python, script, addr, auth).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert_eq!(last, format!("{suite}: all {checks} checks ok"), "{stdout}\n{stderr}");
    println!("{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pydruid_dbapi_and_sqlalchemy_without_auth() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let s = server_with_wiki(dir.path(), false).await;
    assert_script_passes(&py, "dbapi_test.py", &s.addr, false, "dbapi", 13).await;
    assert_script_passes(&py, "sqlalchemy_test.py", &s.addr, false, "sqlalchemy", 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pydruid_dbapi_and_sqlalchemy_with_basic_auth() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let s = server_with_wiki(dir.path(), true).await;
    // The server itself refuses the wrong password with 401, whatever the client makes of it.
    let wrong = basic_auth(USER, WRONG_PASSWORD);
    let r = post(&s.addr, "/druid/v2/sql/", &json!({"query": "SELECT 1"}), Some(&wrong)).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_script_passes(&py, "dbapi_test.py", &s.addr, true, "dbapi", 15).await;
    assert_script_passes(&py, "sqlalchemy_test.py", &s.addr, true, "sqlalchemy", 11).await;
}

#[test]
fn basic_auth_is_rfc_base64() {
    assert_eq!(basic_auth("admin", "s3cret"), "Basic YWRtaW46czNjcmV0");
    assert_eq!(basic_auth("a", ""), "Basic YTo=");
    assert_eq!(basic_auth("ab", "c"), "Basic YWI6Yw==");
}
