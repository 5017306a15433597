//! The web console end to end, in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`) driven by Selenium from Python (tests/console/run.py) against a real
//! `msq server` on a loopback port. From the Query view it runs the wikipedia INSERT (every
//! stage FINISHED with the raw file's row counts, the 24 hourly chunks written), the
//! top-channels SELECT (the grid's rows), pages through all 39,244 rows, cancels a long
//! INSERT (`Canceled`, nothing published); the Tasks view lists every task with its state and
//! opens reports; the Datasources view shows the 24 hourly segments; with the network cut the
//! unreachable banner shows. At a 1280x800 viewport nothing overflows, overlaps or is cut off,
//! and the browser logs no errors. With basic auth on, the console needs credentials and works
//! with them.
//!
//! Expected values come from the raw sample, read by the Python itself; here the exit code and
//! the number of checks are asserted. A screenshot per view goes to
//! `target/console-artifacts/` (paths printed).
//!
//! The browser comes from `MSQ_TEST_CHROMEDRIVER` and `MSQ_TEST_CHROMIUM`
//! (scripts/browser-test-env.sh), Selenium from `MSQ_TEST_PYTHON`, the venv
//! scripts/python-test-env.sh installs it into; both are set by `source scripts/ci-services.sh`.
//! Without them the tests print why and skip, as the S3 and Python client tests do.

mod common;

use common::http::{start_server, Server};
use common::*;
use msq_controller::druid_api::Credentials;
use msq_controller::Overlord;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The datasource the Query view's INSERT writes (and the other views read).
const DATASOURCE: &str = "wikipedia";
const USER: &str = "console";
const PASSWORD: &str = "s3cret:with colon";

/// Checks the scenarios report when all pass.
const VIEW_CHECKS: usize = 114;
const AUTH_CHECKS: usize = 14;

/// The venv's python and the browser, or `None` after printing why the test is skipped.
struct Browser {
    python: PathBuf,
    chromium: String,
    chromedriver: String,
}

fn browser() -> Option<Browser> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(python), Some(chromedriver)) = (var("MSQ_TEST_PYTHON"), var("MSQ_TEST_CHROMEDRIVER")) else {
        println!(
            "skipping console browser test: MSQ_TEST_PYTHON or MSQ_TEST_CHROMEDRIVER not set \
             (`source scripts/ci-services.sh` installs selenium into .ci/.venv and Debian's chromium \
             and chromium-driver, and sets them)"
        );
        return None;
    };
    let chromium = var("MSQ_TEST_CHROMIUM").unwrap_or_else(|| "/usr/bin/chromium".into());
    Some(Browser {
        python: python.into(),
        chromium,
        chromedriver,
    })
}

/// Where screenshots go: `<target dir>/console-artifacts/`, emptied first.
fn artifacts() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("console-artifacts")
}

/// Runs tests/console/run.py with `scenarios` against the server; asserts that it passed
/// with `checks` checks and prints its output and the screenshots it wrote.
async fn run_scenarios(b: &Browser, addr: &str, scenarios: &str, auth: bool, checks: usize) {
    let out_dir = artifacts().join(scenarios.replace(',', "-"));
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut cmd = Command::new(&b.python);
    cmd.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console"))
        .arg("run.py")
        .args(["--addr", addr, "--data", &wiki_path(), "--scenarios", scenarios])
        .args([
            "--datasource",
            DATASOURCE,
            "--insert-sql",
            &insert_wikipedia_sql(DATASOURCE),
        ])
        .args(["--chromium", &b.chromium, "--chromedriver", &b.chromedriver])
        .arg("--artifacts")
        .arg(&out_dir);
    if auth {
        cmd.args(["--user", USER, "--password", PASSWORD]);
    }
    cmd.env("PYTHONDONTWRITEBYTECODE", "1");
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("the venv's python runs"))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    let mut shots: Vec<PathBuf> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    shots.sort();
    for s in &shots {
        println!("screenshot: {}", s.display());
    }
    // The checks and any failed scenario with its reason are in the output printed above.
    assert!(
        out.status.success(),
        "tests/console/run.py {scenarios} failed ({}); failed scenarios:\n{}\n{stderr}",
        out.status,
        stdout
            .lines()
            .filter(|l| l.starts_with("console: FAILED "))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert_eq!(last, format!("console: all {checks} checks ok"), "{stderr}");
}

/// A server over a fresh local engine, with the test user when `auth`.
async fn server(dir: &Path, auth: bool) -> Server {
    let creds = auth.then(|| Credentials::parse(&format!("{USER}:{PASSWORD}\n")).unwrap());
    start_server(Overlord::open_local(dir).unwrap(), 4, 1 << 20, creds).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_views_end_to_end_in_chromium() {
    let Some(b) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), false).await;
    run_scenarios(
        &b,
        &s.addr,
        "insert,select,paging,cancel,tasks,datasources,unreachable",
        false,
        VIEW_CHECKS,
    )
    .await;
    s.handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_behind_basic_auth_in_chromium() {
    let Some(b) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), true).await;
    run_scenarios(&b, &s.addr, "auth", true, AUTH_CHECKS).await;
    s.handle.abort();
}
