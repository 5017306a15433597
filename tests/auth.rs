//! Nobody gets in: every route of the public API and of the internal protocol (the
//! controller's endpoints for workers and a worker's own endpoints) under every kind of
//! credentials, on servers with the embedded, process and remote runners, with and without
//! `--auth-file` and a cluster secret; internal bodies past their limits are refused before
//! they are read; an injected `workerError` cannot fail a running task.

mod common;

use common::http::{parse_response, Resp};
use common::*;
use msq_controller::druid_api::Credentials;
use msq_controller::launcher::{Runner, RunnerKind};
use msq_controller::tasks::TaskManager;
use msq_controller::Overlord;
use msq_rows::rpc::ClusterAuth;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MSQ: &str = env!("CARGO_BIN_EXE_msq");
const USER: &str = "admin";
const PASSWORD: &str = "pa55word";
const SECRET: &str = "cluster-s3cret";

// ---------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------

struct Server {
    addr: String,
    /// The cluster secret workers use (given or generated), if the runner has one.
    secret: Option<String>,
    auth_file: bool,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

fn runner(kind: RunnerKind, dir: &Path, secret: Option<&str>) -> Runner {
    let mut r = Runner::embedded();
    r.kind = kind;
    r.auth = ClusterAuth::new(secret.map(str::to_string)).unwrap();
    r.worker_command = MSQ.into();
    r.tmp_dir = dir.join("tmp").join("workers");
    r
}

/// A server on a loopback port, as `msq server` builds it.
async fn start(kind: RunnerKind, auth_file: bool, secret: Option<&str>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut engine = Overlord::open_local(dir.path()).unwrap();
    engine.host = addr.clone();
    engine
        .use_runner(runner(kind, dir.path(), secret), Some(format!("http://{addr}")))
        .await
        .unwrap();
    let secret = engine.runner.auth.secret().map(|s| s.expose().to_string());
    let tasks = TaskManager::new(engine, 4).unwrap();
    let creds = auth_file.then(|| Credentials::parse(&format!("# users\n{USER}:{PASSWORD}\nother:x\n")).unwrap());
    let handle = tokio::spawn(msq_controller::druid_api::serve(tasks, listener, 1 << 20, creds));
    Server {
        addr,
        secret,
        auth_file,
        handle,
        _dir: dir,
    }
}

/// An `msq worker` process, registered with `controller` when given.
struct WorkerProcess {
    child: Child,
    addr: String,
    _tmp: tempfile::TempDir,
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_worker(controller: Option<&str>, secret: &str) -> WorkerProcess {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(MSQ);
    cmd.args(["worker", "--bind", "127.0.0.1:0", "--deep-storage"])
        .arg(tmp.path().join("segments"))
        .arg("--tmp-dir")
        .arg(tmp.path().join("tmp"))
        .env("MSQ_CLUSTER_SECRET", secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(c) = controller {
        cmd.arg("--controller-url").arg(format!("http://{c}"));
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("msq worker listening on ")
        .unwrap_or_else(|| panic!("worker did not start: {line}"))
        .to_string();
    WorkerProcess {
        child,
        addr: url.trim_start_matches("http://").to_string(),
        _tmp: tmp,
    }
}

// ---------------------------------------------------------------------------------------
// A plain HTTP/1.1 client
// ---------------------------------------------------------------------------------------

async fn request(addr: &str, method: &str, path: &str, auth: Option<&str>, body: Option<&str>) -> Resp {
    let mut headers = Vec::new();
    if let Some(a) = auth {
        headers.push(("Authorization", a));
    }
    if body.is_some_and(|b| !b.is_empty()) {
        headers.push(("Content-Type", "application/json"));
    }
    common::http::request(addr, method, path, &headers, body).await
}

/// Sends a `len`-byte body (declared with Content-Length, or chunked when `declared` is false)
/// while reading the answer; stops sending when the server answers or closes.
async fn send_big(addr: &str, path: &str, auth: Option<&str>, len: usize, declared: bool) -> Resp {
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = s.into_split();
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n");
    if let Some(a) = auth {
        head.push_str(&format!("Authorization: {a}\r\n"));
    }
    if declared {
        head.push_str(&format!("Content-Length: {len}\r\n\r\n"));
    } else {
        head.push_str("Transfer-Encoding: chunked\r\n\r\n");
    }
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        let chunk = vec![b'7'; 1 << 20];
        let mut sent = 0;
        while sent < len {
            let n = chunk.len().min(len - sent);
            if declared {
                wr.write_all(&chunk[..n]).await?;
            } else {
                wr.write_all(format!("{n:x}\r\n").as_bytes()).await?;
                wr.write_all(&chunk[..n]).await?;
                wr.write_all(b"\r\n").await?;
            }
            sent += n;
        }
        if !declared {
            wr.write_all(b"0\r\n\r\n").await?;
        }
        Ok::<_, std::io::Error>(wr)
    });
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    // The answer comes as soon as the server decides; the body may still be in flight.
    loop {
        match tokio::time::timeout(Duration::from_secs(30), rd.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                raw.extend_from_slice(&buf[..n]);
                if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
                    let want = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if raw.len() >= end + 4 + want {
                        break;
                    }
                }
            }
            Err(_) => panic!("no answer to a {len}-byte body on {path}"),
        }
    }
    writer.abort();
    parse_response(&raw)
}

// ---------------------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------------------

/// Standard base64 with padding (RFC 4648).
fn b64(input: &str) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.as_bytes().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn basic(user: &str, password: &str) -> String {
    b64(&format!("{user}:{password}"))
}

#[test]
fn base64_matches_the_rfc() {
    assert_eq!(b64("admin:s3cret"), "YWRtaW46czNjcmV0");
    assert_eq!(b64("a"), "YQ==");
    assert_eq!(b64("ab"), "YWI=");
}

/// Credentials a request can carry, and which of them each side accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cred {
    None,
    /// `Basic` with a wrong password.
    WrongBasic,
    /// `Basic` with an unknown user.
    UnknownUser,
    /// The right user: `Basic <b64>`.
    Basic,
    /// The right user: `basic <b64>`.
    BasicLower,
    /// The right user: `BASIC   <b64>` (several spaces).
    BasicUpperSpaces,
    /// The right user: `Basic\t<b64>`.
    BasicTab,
    /// `Basic` with the cluster secret as the user's password, or as the whole credentials.
    SecretAsBasic,
    SecretAsBasicPassword,
    /// `Bearer <wrong>`.
    WrongBearer,
    /// `Bearer <secret>`.
    Bearer,
    /// `bearer <secret>`.
    BearerLower,
    /// `BEARER  <secret>`.
    BearerUpper,
    /// `Bearer <user password>`.
    PasswordAsBearer,
    /// The secret without a scheme.
    BareSecret,
}

const ALL_CREDS: [Cred; 15] = [
    Cred::None,
    Cred::WrongBasic,
    Cred::UnknownUser,
    Cred::Basic,
    Cred::BasicLower,
    Cred::BasicUpperSpaces,
    Cred::BasicTab,
    Cred::SecretAsBasic,
    Cred::SecretAsBasicPassword,
    Cred::WrongBearer,
    Cred::Bearer,
    Cred::BearerLower,
    Cred::BearerUpper,
    Cred::PasswordAsBearer,
    Cred::BareSecret,
];

impl Cred {
    fn header(self, secret: &str) -> Option<String> {
        let user = basic(USER, PASSWORD);
        Some(match self {
            Cred::None => return None,
            Cred::WrongBasic => format!("Basic {}", basic(USER, "nope")),
            Cred::UnknownUser => format!("Basic {}", basic("mallory", PASSWORD)),
            Cred::Basic => format!("Basic {user}"),
            Cred::BasicLower => format!("basic {user}"),
            Cred::BasicUpperSpaces => format!("BASIC    {user}"),
            Cred::BasicTab => format!("Basic\t{user}"),
            Cred::SecretAsBasic => format!("Basic {}", b64(secret)),
            Cred::SecretAsBasicPassword => format!("Basic {}", basic(USER, secret)),
            Cred::WrongBearer => "Bearer not-the-secret".into(),
            Cred::Bearer => format!("Bearer {secret}"),
            Cred::BearerLower => format!("bearer {secret}"),
            Cred::BearerUpper => format!("BEARER  {secret}"),
            Cred::PasswordAsBearer => format!("Bearer {PASSWORD}"),
            Cred::BareSecret => secret.to_string(),
        })
    }

    /// Whether the public API lets these credentials in (with `--auth-file`).
    fn user_ok(self) -> bool {
        matches!(
            self,
            Cred::Basic | Cred::BasicLower | Cred::BasicUpperSpaces | Cred::BasicTab
        )
    }

    /// Whether internal endpoints let these credentials in.
    fn cluster_ok(self) -> bool {
        matches!(self, Cred::Bearer | Cred::BearerLower | Cred::BearerUpper)
    }
}

/// Which side of the API a route belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    /// `/status/health`: open.
    Open,
    Public,
    Internal,
}

struct Route {
    method: &'static str,
    path: String,
    body: Option<String>,
    side: Side,
    /// The status once past authentication.
    expect: u16,
}

fn route(method: &'static str, path: impl Into<String>, body: Option<&str>, side: Side, expect: u16) -> Route {
    Route {
        method,
        path: path.into(),
        body: body.map(str::to_string),
        side,
        expect,
    }
}

/// Every route of the public API (`controller/src/http.rs`), with the status each answers
/// with valid credentials: `task` is a finished task of the server.
fn public_routes(task: &str) -> Vec<Route> {
    use Side::*;
    let bad_sql = Some(r#"{"query":"SELEC 1"}"#);
    vec![
        route("GET", "/status/health", None, Open, 200),
        route("POST", "/druid/v2/sql/task", bad_sql, Public, 400),
        route("POST", "/druid/v2/sql/task/", bad_sql, Public, 400),
        route("POST", "/druid/indexer/v1/task", Some("{}"), Public, 400),
        route("GET", "/druid/indexer/v1/tasks", None, Public, 200),
        route("GET", "/druid/indexer/v1/tasks?state=complete&max=5", None, Public, 200),
        route("GET", "/druid/indexer/v1/completeTasks", None, Public, 200),
        route("GET", "/druid/indexer/v1/runningTasks", None, Public, 200),
        route("GET", "/druid/indexer/v1/waitingTasks", None, Public, 200),
        route("GET", "/druid/indexer/v1/pendingTasks", None, Public, 200),
        route("GET", format!("/druid/indexer/v1/task/{task}"), None, Public, 200),
        route(
            "GET",
            format!("/druid/indexer/v1/task/{task}/status"),
            None,
            Public,
            200,
        ),
        route(
            "GET",
            format!("/druid/indexer/v1/task/{task}/reports"),
            None,
            Public,
            200,
        ),
        route("GET", format!("/druid/indexer/v1/task/{task}/log"), None, Public, 200),
        route(
            "GET",
            format!("/druid/indexer/v1/task/{task}/segments"),
            None,
            Public,
            200,
        ),
        route("GET", "/druid/indexer/v1/task/query-nope/status", None, Public, 404),
        // Finished: nothing to shut down.
        route(
            "POST",
            format!("/druid/indexer/v1/task/{task}/shutdown"),
            None,
            Public,
            404,
        ),
        route(
            "POST",
            "/druid/indexer/v1/datasources/nothing/shutdownAllTasks",
            None,
            Public,
            404,
        ),
        route(
            "POST",
            "/druid/indexer/v1/taskStatus",
            Some(&format!("[\"{task}\"]")),
            Public,
            200,
        ),
        route("DELETE", "/druid/indexer/v1/pendingSegments/nothing", None, Public, 200),
        // The coordinator's datasource and metadata endpoints.
        route("GET", "/druid/coordinator/v1/datasources?simple", None, Public, 200),
        route("GET", "/druid/coordinator/v1/datasources/nothing", None, Public, 204),
        route(
            "GET",
            "/druid/coordinator/v1/datasources/nothing/segments",
            None,
            Public,
            204,
        ),
        route("DELETE", "/druid/coordinator/v1/datasources/nothing", None, Public, 200),
        route(
            "DELETE",
            "/druid/coordinator/v1/datasources/nothing/intervals/bogus",
            None,
            Public,
            400,
        ),
        route(
            "POST",
            "/druid/coordinator/v1/datasources/nothing/markUnused",
            Some(r#"{"interval":"2020-01-01/2020-01-02"}"#),
            Public,
            204,
        ),
        route(
            "GET",
            "/druid/coordinator/v1/metadata/datasources?full",
            None,
            Public,
            200,
        ),
        route(
            "GET",
            "/druid/coordinator/v1/metadata/datasources/nothing",
            None,
            Public,
            404,
        ),
        route(
            "POST",
            "/druid/indexer/v1/task",
            Some(r#"{"type":"kill","dataSource":"nothing","interval":"bogus"}"#),
            Public,
            400,
        ),
        // Interactive SQL and the statements API.
        route("POST", "/druid/v2/sql", bad_sql, Public, 400),
        route("POST", "/druid/v2/sql/", bad_sql, Public, 400),
        route("DELETE", "/druid/v2/sql/nope", None, Public, 404),
        route("POST", "/druid/v2/sql/statements", bad_sql, Public, 400),
        route("POST", "/druid/v2/sql/statements/", bad_sql, Public, 400),
        route("GET", "/druid/v2/sql/statements/enabled", None, Public, 200),
        route("GET", format!("/druid/v2/sql/statements/{task}"), None, Public, 200),
        route(
            "GET",
            format!("/druid/v2/sql/statements/{task}?detail=true"),
            None,
            Public,
            200,
        ),
        route(
            "GET",
            format!("/druid/v2/sql/statements/{task}/results"),
            None,
            Public,
            200,
        ),
        route("DELETE", format!("/druid/v2/sql/statements/{task}"), None, Public, 200),
        route("GET", "/druid/v2/sql/statements/query-nope/results", None, Public, 404),
        // A known path with the wrong method, and an unknown path, need credentials too.
        route("GET", "/druid/v2/sql/task", None, Public, 405),
        route("GET", "/druid/indexer/v1/unknown", None, Public, 404),
    ]
}

/// Every route of the controller's endpoints for workers (`controller/src/worker_protocol/endpoints.rs`),
/// with the status each answers past authentication (no task of that id is running).
fn controller_routes() -> Vec<Route> {
    use Side::*;
    let stats = serde_json::to_string(&msq_engine::keystats::KeyStatistics::new(32)).unwrap();
    let counters = serde_json::to_string(&msq_engine::counters::StageCounters::default()).unwrap();
    let result = serde_json::to_string(&msq_engine::protocol::WorkerResult::default()).unwrap();
    let base = "/druid/msq/v1/controller/query-none";
    vec![
        route("POST", format!("{base}/keyStatistics/0/0"), Some(&stats), Internal, 404),
        route(
            "POST",
            format!("{base}/doneReadingInput/0/0"),
            Some("{}"),
            Internal,
            404,
        ),
        route(
            "POST",
            format!("{base}/resultsComplete/0/0"),
            Some(&result),
            Internal,
            404,
        ),
        route(
            "POST",
            format!("{base}/workerError/0/0"),
            Some(r#"{"type":"Unknown","fields":"injected"}"#),
            Internal,
            404,
        ),
        route("POST", format!("{base}/counters/0/0"), Some(&counters), Internal, 404),
        route("POST", format!("{base}/counters/0/0"), Some("not json"), Internal, 400),
        route(
            "POST",
            "/druid/msq/v1/workers/register",
            Some(r#"{"url":"ftp://x"}"#),
            Internal,
            400,
        ),
        route("GET", "/druid/msq/v1/workers", None, Internal, 200),
        route("GET", "/druid/msq/v1/workers/register", None, Internal, 405),
    ]
}

/// Every route of a worker's endpoints (`worker/src/server.rs`).
fn worker_routes() -> Vec<Route> {
    use Side::*;
    let boundaries = serde_json::to_string(&msq_engine::keystats::RangePartitions::single()).unwrap();
    vec![
        route("GET", "/status/health", None, Open, 200),
        // Without the controller URL and task id headers.
        route("POST", "/druid/worker/v1/workOrder", Some("{}"), Internal, 400),
        route(
            "POST",
            "/druid/worker/v1/partitionBoundaries/q1/0/1",
            Some(&boundaries),
            Internal,
            404,
        ),
        route(
            "POST",
            "/druid/worker/v1/cleanupStage/q1/0/1",
            Some("{}"),
            Internal,
            202,
        ),
        route("POST", "/druid/worker/v1/cancel/q1/0", Some("{}"), Internal, 200),
        route("POST", "/druid/worker/v1/finish/q1/0", Some("{}"), Internal, 200),
        route("GET", "/druid/worker/v1/channels/q1/0/1/0", None, Internal, 404),
        route("GET", "/druid/worker/v1/workOrder", None, Internal, 405),
    ]
}

/// What a route answers to `cred` on a server: `internal_mounted` says whether the runner
/// serves the internal endpoints.
fn expected(r: &Route, cred: Cred, auth_file: bool, internal_mounted: bool) -> u16 {
    match r.side {
        Side::Open => r.expect,
        Side::Public if auth_file && !cred.user_ok() => 401,
        Side::Public => r.expect,
        Side::Internal if !internal_mounted => 404,
        Side::Internal if !cred.cluster_ok() => 401,
        Side::Internal => r.expect,
    }
}

/// Walks `routes` × every credential on `addr`; returns the number of requests made.
async fn walk(addr: &str, routes: &[Route], secret: &str, auth_file: bool, internal_mounted: bool) -> usize {
    let mut failures = Vec::new();
    let mut n = 0;
    for r in routes {
        for cred in ALL_CREDS {
            let header = cred.header(secret);
            let resp = request(addr, r.method, &r.path, header.as_deref(), r.body.as_deref()).await;
            n += 1;
            let want = expected(r, cred, auth_file, internal_mounted);
            if resp.status != want {
                failures.push(format!(
                    "{} {} with {cred:?}: {} (want {want}) {}",
                    r.method, r.path, resp.status, resp.body
                ));
                continue;
            }
            if resp.status == 401 {
                match r.side {
                    Side::Public => {
                        assert_eq!(resp.header("WWW-Authenticate"), Some("Basic realm=\"msq\""));
                        let v = resp.json();
                        for k in ["error", "errorMessage", "errorClass", "host"] {
                            assert!(v.get(k).is_some(), "Druid error shape: {v}");
                        }
                    }
                    _ => {
                        assert!(resp.header("WWW-Authenticate").unwrap().starts_with("Bearer"));
                        assert!(resp.json()["errorMessage"].as_str().unwrap().contains("cluster secret"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    n
}

fn user_header() -> String {
    format!("Basic {}", basic(USER, PASSWORD))
}

/// Submits `sql` with the right user credentials; returns the task id.
async fn submit(s: &Server, sql: &str, wait: bool) -> String {
    let body = json!({"query": sql, "context": {"maxNumTasks": 2}}).to_string();
    let path = if wait {
        "/druid/v2/sql/task?wait_for_completion=true&timeout=120s"
    } else {
        "/druid/v2/sql/task"
    };
    let r = request(&s.addr, "POST", path, Some(&user_header()), Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    if wait {
        assert_eq!(r.json()["state"], "SUCCESS", "{}", r.body);
    }
    r.json()["taskId"].as_str().unwrap().to_string()
}

async fn status(s: &Server, id: &str) -> Value {
    let r = request(
        &s.addr,
        "GET",
        &format!("/druid/indexer/v1/task/{id}/status"),
        Some(&user_header()),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["status"].clone()
}

async fn wait_done(s: &Server, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let st = status(s, id).await;
        if st["status"] != "RUNNING" {
            return st;
        }
        assert!(Instant::now() < deadline, "task {id} did not finish");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The public and controller matrix of a server whose runner has HTTP workers (a query runs
/// on them first: the secret reaches them).
async fn walk_server(s: &Server) -> usize {
    let task = submit(s, "SELECT 1 + 1", true).await;
    let secret = s.secret.clone().expect("HTTP workers have a secret");
    let mut n = walk(&s.addr, &public_routes(&task), &secret, s.auth_file, true).await;
    n += walk(&s.addr, &controller_routes(), &secret, s.auth_file, true).await;
    n
}

/// Tests share this lock; the memory measure takes it alone so no other test's queries move
/// the process's peak memory.
static MEMORY: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

// ---------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------

/// Embedded runner: the internal endpoints do not exist (404 whatever the credentials), with
/// or without a cluster secret; the public API follows `--auth-file`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_runner_serves_no_internal_endpoints() {
    let _shared = MEMORY.read().await;
    let mut n = 0;
    for (auth_file, secret) in [(false, None), (true, None), (false, Some(SECRET)), (true, Some(SECRET))] {
        let s = start(RunnerKind::Embedded, auth_file, secret).await;
        // The embedded runner keeps a given secret to itself: nothing is mounted.
        let task = submit(&s, "SELECT 1 + 1", true).await;
        n += walk(&s.addr, &public_routes(&task), SECRET, auth_file, false).await;
        n += walk(&s.addr, &controller_routes(), SECRET, auth_file, false).await;
    }
    eprintln!("embedded: {n} requests");
}

/// Process runner: a random secret is generated when none is given (and handed to the worker
/// processes, so queries run); the internal endpoints need it, never user credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn process_runner_generates_and_requires_a_secret() {
    let _shared = MEMORY.read().await;
    let generated = start(RunnerKind::Process, true, None).await;
    let secret = generated.secret.clone().expect("a generated secret");
    assert_eq!(secret.len(), 64, "32 random bytes as hex");
    let n = walk_server(&generated).await;
    let given = start(RunnerKind::Process, false, Some(SECRET)).await;
    assert_eq!(given.secret.as_deref(), Some(SECRET));
    let m = walk_server(&given).await;
    // With the secret, a registration is taken (the process runner does not use it).
    let r = request(
        &given.addr,
        "POST",
        "/druid/msq/v1/workers/register",
        Some(&format!("Bearer {SECRET}")),
        Some(r#"{"url":"http://127.0.0.1:9"}"#),
    )
    .await;
    assert_eq!(r.status, 200);
    let two = start(RunnerKind::Process, false, None).await;
    assert_ne!(two.secret, generated.secret, "each server generates its own");
    eprintln!("process: {} requests", n + m);
}

/// Remote runner: refuses to start without a secret; with one, a registered `msq worker`
/// runs queries, fake registrations are refused, and every worker endpoint needs the secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn remote_runner_requires_a_secret_everywhere() {
    let _shared = MEMORY.read().await;
    // No secret: the engine refuses the runner, `msq server` and `msq worker` refuse to start.
    let dir = tempfile::tempdir().unwrap();
    let mut engine = Overlord::open_local(dir.path()).unwrap();
    let err = engine
        .use_runner(
            runner(RunnerKind::Remote, dir.path(), None),
            Some("http://127.0.0.1:1".into()),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cluster secret"), "{err}");
    let out = Command::new(MSQ)
        .args(["server", "--runner", "remote", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("srv"))
        .env_remove("MSQ_CLUSTER_SECRET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--cluster-secret"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(MSQ)
        .args(["worker", "--bind", "127.0.0.1:0", "--tmp-dir"])
        .arg(dir.path().join("w"))
        .env_remove("MSQ_CLUSTER_SECRET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cluster secret"));

    let s = start(RunnerKind::Remote, true, Some(SECRET)).await;
    // A fake worker cannot register without the secret, and is never listed.
    for cred in ALL_CREDS.into_iter().filter(|c| !c.cluster_ok()) {
        let r = request(
            &s.addr,
            "POST",
            "/druid/msq/v1/workers/register",
            cred.header(SECRET).as_deref(),
            Some(r#"{"url":"http://evil.example:1"}"#),
        )
        .await;
        assert_eq!(r.status, 401, "{cred:?}");
    }
    let w = start_worker(Some(&s.addr), SECRET);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = request(
            &s.addr,
            "GET",
            "/druid/msq/v1/workers",
            Some(&format!("Bearer {SECRET}")),
            None,
        )
        .await;
        assert_eq!(r.status, 200);
        let live = r.json()["workers"].clone();
        assert!(!live.to_string().contains("evil"), "{live}");
        if live.as_array().is_some_and(|a| !a.is_empty()) {
            assert_eq!(live, json!([format!("http://{}", w.addr)]));
            break;
        }
        assert!(Instant::now() < deadline, "worker did not register");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut n = walk_server(&s).await;
    n += walk(&w.addr, &worker_routes(), SECRET, false, true).await;
    eprintln!("remote: {n} requests");
}

/// An unauthenticated `workerError` cannot fail another user's running INSERT: 401 on the
/// process runner's server (404 on the embedded one) and the task succeeds. With the secret,
/// the same message does fail a task (the endpoint is real, only the secret opens it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn injected_worker_error_cannot_fail_a_running_task() {
    let _shared = MEMORY.read().await;
    for kind in [RunnerKind::Embedded, RunnerKind::Process] {
        let s = start(kind.clone(), true, None).await;
        let secret = s.secret.clone();
        let id = submit(&s, &insert_wikipedia_sql("victim"), false).await;
        let inject = format!("/druid/msq/v1/controller/{id}/workerError/0/0");
        let body = r#"{"type":"Unknown","fields":"injected"}"#;
        let mut tries = 0;
        while status(&s, &id).await["status"] == "RUNNING" {
            for cred in ALL_CREDS.into_iter().filter(|c| !c.cluster_ok()) {
                // The user's own password, the wrong secret, nothing: all refused.
                let header = cred.header("not-the-secret");
                let r = request(&s.addr, "POST", &inject, header.as_deref(), Some(body)).await;
                let want = if kind == RunnerKind::Embedded { 404 } else { 401 };
                assert_eq!(r.status, want, "{kind:?} {cred:?}: {}", r.body);
                tries += 1;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(tries > 0, "the task was running while messages were injected");
        let done = wait_done(&s, &id).await;
        assert_eq!(done["status"], "SUCCESS", "{kind:?}: {done}");

        if let Some(secret) = secret {
            // The control: with the secret, the message reaches the running task's controller.
            let id = submit(&s, &insert_wikipedia_sql("control"), false).await;
            let inject = format!("/druid/msq/v1/controller/{id}/workerError/0/0");
            let mut accepted = false;
            while !accepted && status(&s, &id).await["status"] == "RUNNING" {
                let r = request(&s.addr, "POST", &inject, Some(&format!("Bearer {secret}")), Some(body)).await;
                accepted = r.status == 202;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert!(accepted, "the controller took the message while the task ran");
            let done = wait_done(&s, &id).await;
            assert_eq!(done["status"], "FAILED", "{done}");
            assert!(done["errorMsg"].as_str().unwrap().contains("injected"), "{done}");
        }
    }
}

/// Peak resident memory of a process (KiB).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Big bodies: refused with 401 without the secret and 413 with it, before they are read,
/// so three 200 MiB bodies at once leave the server's (and a worker's) memory where it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn big_internal_bodies_are_refused_unread() {
    const BIG: usize = 200 << 20;
    let _alone = MEMORY.write().await;
    let s = start(RunnerKind::Process, true, Some(SECRET)).await;
    let w = start_worker(None, SECRET);
    let bearer = format!("Bearer {SECRET}");
    let stats = "/druid/msq/v1/controller/query-x/keyStatistics/0/0";
    let before = peak_rss_kib(std::process::id());
    let worker_before = peak_rss_kib(w.child.id());
    for _ in 0..2 {
        let mut attacks = Vec::new();
        for auth in [None, Some(bearer.clone()), Some(user_header())] {
            let addr = s.addr.clone();
            attacks.push(tokio::spawn(async move {
                let r = send_big(&addr, stats, auth.as_deref(), BIG, true).await;
                (auth, r.status)
            }));
        }
        for a in attacks {
            let (auth, status) = a.await.unwrap();
            let want = if auth.as_deref() == Some(bearer.as_str()) {
                413
            } else {
                401
            };
            assert_eq!(status, want, "{auth:?}");
        }
    }
    // The public API: no credentials, no reading.
    let r = send_big(&s.addr, "/druid/v2/sql/task", None, BIG, true).await;
    assert_eq!(r.status, 401);
    // The worker's endpoints.
    for (auth, want) in [(None, 401), (Some(bearer.as_str()), 413)] {
        let r = send_big(&w.addr, "/druid/worker/v1/workOrder", auth, BIG, true).await;
        assert_eq!(r.status, want);
        let r = send_big(&w.addr, "/druid/worker/v1/partitionBoundaries/q/0/0", auth, BIG, true).await;
        assert_eq!(r.status, want);
    }
    let grown_mib = (peak_rss_kib(std::process::id()) - before) / 1024;
    let worker_grown_mib = (peak_rss_kib(w.child.id()) - worker_before) / 1024;
    eprintln!("peak memory growth: server {grown_mib} MiB, worker {worker_grown_mib} MiB");
    assert!(grown_mib < 32, "the server buffered refused bodies: +{grown_mib} MiB");
    assert!(
        worker_grown_mib < 32,
        "the worker buffered refused bodies: +{worker_grown_mib} MiB"
    );

    // Each message kind has its limit; bodies without a declared length are cut off there.
    let counters = "/druid/msq/v1/controller/query-x/counters/0/0";
    let r = send_big(&s.addr, counters, Some(&bearer), 9 << 20, true).await;
    assert_eq!(r.status, 413);
    assert!(r.body.contains("limit"), "{}", r.body);
    let r = send_big(&s.addr, counters, Some(&bearer), 9 << 20, false).await;
    assert_eq!(r.status, 413);
    let r = send_big(&s.addr, counters, None, 9 << 20, false).await;
    assert_eq!(r.status, 401);
    // Within the limits, the body is read (and is not a valid message: 400).
    let r = send_big(&s.addr, stats, Some(&bearer), 9 << 20, true).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = send_big(&s.addr, counters, Some(&bearer), 1 << 20, false).await;
    assert_eq!(r.status, 400, "{}", r.body);
}
